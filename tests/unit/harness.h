/* Shared helpers for the hart unit tests (test_exec, test_csr, test_mmu).
 *
 * Each test gets a fresh struct machine (bare-metal board, RAM at
 * DRAM_BASE), writes instruction words into RAM with the small encoders
 * below, points the hart at them and runs it with hart_run().  Results are
 * read straight out of struct hart and guest RAM.
 *
 * Fixed guest layout (physical):
 *   CODE_BASE   program text
 *   MTRAP_BASE  M-mode trap vector: `j .`, so a trap parks the hart there
 *   STRAP_BASE  S-mode trap vector: `j .`
 *   SKIP_BASE   optional M handler: mepc += 4; mret (clobbers t6)
 *   DATA_BASE   scratch data
 *   PT_BASE     page tables built by struct pt
 *
 * The encoders were checked against GNU as (see test_exec's
 * test_encoders_match_gnu_as), so a failure elsewhere is about keel.
 */
#ifndef KEEL_TESTS_UNIT_HARNESS_H
#define KEEL_TESTS_UNIT_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "vm/machine.h"
#include "vm/snapshot.h"

#define RAM_SIZE (8ULL << 20)
#define CODE_BASE DRAM_BASE
#define MTRAP_BASE (DRAM_BASE + 0x8000)
#define STRAP_BASE (DRAM_BASE + 0x8100)
#define SKIP_BASE (DRAM_BASE + 0x8200)
#define DATA_BASE (DRAM_BASE + 0x10000)
#define PT_BASE (DRAM_BASE + 0x100000)
#define PT_SIZE 0x100000ULL

/* Integer registers by ABI name. */
enum reg {
	ZERO = 0, RA = 1, SP = 2, GP = 3, TP = 4, T0 = 5, T1 = 6, T2 = 7, S0 = 8, S1 = 9,
	A0 = 10, A1 = 11, A2 = 12, A3 = 13, A4 = 14, A5 = 15, A6 = 16, A7 = 17,
	S2 = 18, S3 = 19, T3 = 28, T4 = 29, T5 = 30, T6 = 31,
};

/* CSR numbers used by the tests (csr.c keeps its own enum private). */
enum csr_num {
	CSR_FFLAGS = 0x001, CSR_FRM = 0x002, CSR_FCSR = 0x003,
	CSR_CYCLE = 0xc00, CSR_TIME = 0xc01, CSR_INSTRET = 0xc02,
	CSR_SSTATUS = 0x100, CSR_SIE = 0x104, CSR_STVEC = 0x105, CSR_SCOUNTEREN = 0x106,
	CSR_SSCRATCH = 0x140, CSR_SEPC = 0x141, CSR_SCAUSE = 0x142, CSR_STVAL = 0x143,
	CSR_SIP = 0x144, CSR_SATP = 0x180,
	CSR_MSTATUS = 0x300, CSR_MISA = 0x301, CSR_MEDELEG = 0x302, CSR_MIDELEG = 0x303,
	CSR_MIE = 0x304, CSR_MTVEC = 0x305, CSR_MCOUNTEREN = 0x306, CSR_MSCRATCH = 0x340,
	CSR_MEPC = 0x341, CSR_MCAUSE = 0x342, CSR_MTVAL = 0x343, CSR_MIP = 0x344,
	CSR_PMPCFG0 = 0x3a0, CSR_PMPCFG2 = 0x3a2, CSR_PMPADDR0 = 0x3b0,
	CSR_MCYCLE = 0xb00, CSR_MINSTRET = 0xb02, CSR_MHARTID = 0xf14,
};

#define MCAUSE_INTERRUPT (1ULL << 63)

/* ---------------------------------------------------------------------
 * Instruction encoders.  Immediates are the architectural values (byte
 * offsets for branches and jumps); the encoder scatters the bits.
 * ------------------------------------------------------------------- */

static inline uint32_t enc_r(unsigned funct7, unsigned rs2, unsigned rs1, unsigned funct3,
			     unsigned rd, unsigned opcode)
{
	return funct7 << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode;
}

static inline uint32_t enc_i(int32_t imm, unsigned rs1, unsigned funct3, unsigned rd,
			     unsigned opcode)
{
	return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode;
}

static inline uint32_t enc_s(int32_t imm, unsigned rs2, unsigned rs1, unsigned funct3,
			     unsigned opcode)
{
	uint32_t u = (uint32_t)imm;
	return ((u >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | (u & 0x1f) << 7 |
	       opcode;
}

static inline uint32_t enc_b(int32_t offset, unsigned rs2, unsigned rs1, unsigned funct3)
{
	uint32_t u = (uint32_t)offset;
	return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 |
	       funct3 << 12 | ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}

/* `upper` is the 20-bit field (lui rd, upper). */
static inline uint32_t enc_u(uint32_t upper, unsigned rd, unsigned opcode)
{
	return (upper & 0xfffff) << 12 | rd << 7 | opcode;
}

static inline uint32_t enc_j(int32_t offset, unsigned rd)
{
	uint32_t u = (uint32_t)offset;
	return ((u >> 20) & 1) << 31 | ((u >> 1) & 0x3ff) << 21 | ((u >> 11) & 1) << 20 |
	       ((u >> 12) & 0xff) << 12 | rd << 7 | 0x6f;
}

enum opcode {
	OPC_LOAD = 0x03, OPC_MISC_MEM = 0x0f, OPC_OP_IMM = 0x13, OPC_AUIPC = 0x17,
	OPC_OP_IMM_32 = 0x1b, OPC_STORE = 0x23, OPC_AMO = 0x2f, OPC_OP = 0x33, OPC_LUI = 0x37,
	OPC_OP_32 = 0x3b, OPC_JALR = 0x67, OPC_JAL = 0x6f, OPC_SYSTEM = 0x73,
};

static inline uint32_t lui(unsigned rd, uint32_t upper) { return enc_u(upper, rd, OPC_LUI); }
static inline uint32_t auipc(unsigned rd, uint32_t upper) { return enc_u(upper, rd, OPC_AUIPC); }
static inline uint32_t jal(unsigned rd, int32_t off) { return enc_j(off, rd); }
static inline uint32_t jalr(unsigned rd, unsigned rs1, int32_t imm)
{
	return enc_i(imm, rs1, 0, rd, OPC_JALR);
}
static inline uint32_t beq(unsigned a, unsigned b, int32_t off) { return enc_b(off, b, a, 0); }
static inline uint32_t bne(unsigned a, unsigned b, int32_t off) { return enc_b(off, b, a, 1); }
static inline uint32_t blt(unsigned a, unsigned b, int32_t off) { return enc_b(off, b, a, 4); }
static inline uint32_t bge(unsigned a, unsigned b, int32_t off) { return enc_b(off, b, a, 5); }
static inline uint32_t bltu(unsigned a, unsigned b, int32_t off) { return enc_b(off, b, a, 6); }
static inline uint32_t bgeu(unsigned a, unsigned b, int32_t off) { return enc_b(off, b, a, 7); }

/* Loads: funct3 0 lb, 1 lh, 2 lw, 3 ld, 4 lbu, 5 lhu, 6 lwu. */
static inline uint32_t load(unsigned funct3, unsigned rd, unsigned rs1, int32_t imm)
{
	return enc_i(imm, rs1, funct3, rd, OPC_LOAD);
}
static inline uint32_t lb(unsigned rd, unsigned rs1, int32_t imm) { return load(0, rd, rs1, imm); }
static inline uint32_t lh(unsigned rd, unsigned rs1, int32_t imm) { return load(1, rd, rs1, imm); }
static inline uint32_t lw(unsigned rd, unsigned rs1, int32_t imm) { return load(2, rd, rs1, imm); }
static inline uint32_t ld(unsigned rd, unsigned rs1, int32_t imm) { return load(3, rd, rs1, imm); }
static inline uint32_t lbu(unsigned rd, unsigned rs1, int32_t imm) { return load(4, rd, rs1, imm); }
static inline uint32_t lhu(unsigned rd, unsigned rs1, int32_t imm) { return load(5, rd, rs1, imm); }
static inline uint32_t lwu(unsigned rd, unsigned rs1, int32_t imm) { return load(6, rd, rs1, imm); }
/* Stores: funct3 0 sb, 1 sh, 2 sw, 3 sd. */
static inline uint32_t store(unsigned funct3, unsigned rs2, unsigned rs1, int32_t imm)
{
	return enc_s(imm, rs2, rs1, funct3, OPC_STORE);
}
static inline uint32_t sb(unsigned rs2, unsigned rs1, int32_t imm) { return store(0, rs2, rs1, imm); }
static inline uint32_t sh(unsigned rs2, unsigned rs1, int32_t imm) { return store(1, rs2, rs1, imm); }
static inline uint32_t sw(unsigned rs2, unsigned rs1, int32_t imm) { return store(2, rs2, rs1, imm); }
static inline uint32_t sd(unsigned rs2, unsigned rs1, int32_t imm) { return store(3, rs2, rs1, imm); }

static inline uint32_t addi(unsigned rd, unsigned rs1, int32_t imm)
{
	return enc_i(imm, rs1, 0, rd, OPC_OP_IMM);
}
static inline uint32_t addiw(unsigned rd, unsigned rs1, int32_t imm)
{
	return enc_i(imm, rs1, 0, rd, OPC_OP_IMM_32);
}
static inline uint32_t nop(void) { return addi(ZERO, ZERO, 0); }

/* Register-register ops by (funct7, funct3), for OP and OP-32. */
static inline uint32_t op(unsigned funct7, unsigned funct3, unsigned rd, unsigned rs1, unsigned rs2)
{
	return enc_r(funct7, rs2, rs1, funct3, rd, OPC_OP);
}
static inline uint32_t op32(unsigned funct7, unsigned funct3, unsigned rd, unsigned rs1,
			    unsigned rs2)
{
	return enc_r(funct7, rs2, rs1, funct3, rd, OPC_OP_32);
}
static inline uint32_t add(unsigned rd, unsigned rs1, unsigned rs2) { return op(0, 0, rd, rs1, rs2); }

/* Shift-immediate: `funct6` is 0 (logical) or 0x10 (arithmetic). */
static inline uint32_t shift_imm(unsigned funct6, unsigned funct3, unsigned rd, unsigned rs1,
				 unsigned shamt)
{
	return (funct6 << 26) | enc_i((int32_t)shamt, rs1, funct3, rd, OPC_OP_IMM);
}

static inline uint32_t fence(void) { return 0x0ff0000f; }
static inline uint32_t ecall(void) { return 0x00000073; }
static inline uint32_t ebreak(void) { return 0x00100073; }
static inline uint32_t mret(void) { return 0x30200073; }
static inline uint32_t sret(void) { return 0x10200073; }
static inline uint32_t wfi(void) { return 0x10500073; }
static inline uint32_t sfence_vma(unsigned rs1, unsigned rs2)
{
	return enc_r(0x09, rs2, rs1, 0, 0, OPC_SYSTEM);
}

/* CSR instructions; for the immediate forms `rs1` is the 5-bit uimm. */
static inline uint32_t csrrw(unsigned rd, unsigned csr, unsigned rs1)
{
	return enc_i((int32_t)csr, rs1, 1, rd, OPC_SYSTEM);
}
static inline uint32_t csrrs(unsigned rd, unsigned csr, unsigned rs1)
{
	return enc_i((int32_t)csr, rs1, 2, rd, OPC_SYSTEM);
}
static inline uint32_t csrrc(unsigned rd, unsigned csr, unsigned rs1)
{
	return enc_i((int32_t)csr, rs1, 3, rd, OPC_SYSTEM);
}
static inline uint32_t csrrwi(unsigned rd, unsigned csr, unsigned uimm)
{
	return enc_i((int32_t)csr, uimm, 5, rd, OPC_SYSTEM);
}
static inline uint32_t csrrsi(unsigned rd, unsigned csr, unsigned uimm)
{
	return enc_i((int32_t)csr, uimm, 6, rd, OPC_SYSTEM);
}
static inline uint32_t csrr(unsigned rd, unsigned csr) { return csrrs(rd, csr, ZERO); }
static inline uint32_t csrw(unsigned csr, unsigned rs1) { return csrrw(ZERO, csr, rs1); }

/* A extension.  `funct5` is the operation, `funct3` 2 (.w) or 3 (.d). */
enum amo_op {
	AMO_ADD = 0x00, AMO_SWAP = 0x01, AMO_LR = 0x02, AMO_SC = 0x03, AMO_XOR = 0x04,
	AMO_OR = 0x08, AMO_AND = 0x0c, AMO_MIN = 0x10, AMO_MAX = 0x14, AMO_MINU = 0x18,
	AMO_MAXU = 0x1c,
};
static inline uint32_t amo(unsigned funct5, unsigned funct3, unsigned rd, unsigned rs1,
			   unsigned rs2)
{
	return enc_r(funct5 << 2, rs2, rs1, funct3, rd, OPC_AMO);
}
static inline uint32_t lr_d(unsigned rd, unsigned rs1) { return amo(AMO_LR, 3, rd, rs1, 0); }
static inline uint32_t sc_d(unsigned rd, unsigned rs1, unsigned rs2)
{
	return amo(AMO_SC, 3, rd, rs1, rs2);
}
static inline uint32_t lr_w(unsigned rd, unsigned rs1) { return amo(AMO_LR, 2, rd, rs1, 0); }
static inline uint32_t sc_w(unsigned rd, unsigned rs1, unsigned rs2)
{
	return amo(AMO_SC, 2, rd, rs1, rs2);
}

/* ---------------------------------------------------------------------
 * Guest memory
 * ------------------------------------------------------------------- */

/* Through the bus, as a device would, so that the code this writes runs
 * as written (a write through m->ram would leave decoded blocks stale). */
static inline uint8_t *ram_at(struct machine *m, uint64_t pa, size_t len)
{
	assert_true(pa >= DRAM_BASE && pa - DRAM_BASE + len <= m->ram_size);
	return bus_ram_ptr(&m->bus, pa, len, true);
}

static inline void poke(struct machine *m, uint64_t pa, uint64_t val, unsigned size)
{
	memcpy(ram_at(m, pa, size), &val, size); /* little-endian host */
}

static inline uint64_t peek(struct machine *m, uint64_t pa, unsigned size)
{
	uint64_t v = 0;
	memcpy(&v, ram_at(m, pa, size), size);
	return v;
}

static inline void poke64(struct machine *m, uint64_t pa, uint64_t v) { poke(m, pa, v, 8); }
static inline uint64_t peek64(struct machine *m, uint64_t pa) { return peek(m, pa, 8); }

/* A cursor that writes instructions into guest RAM. */
struct code {
	struct machine *m;
	uint64_t pc;
};

static inline struct code code_at(struct machine *m, uint64_t pa)
{
	return (struct code){m, pa};
}

/* Returns the address the instruction was placed at. */
static inline uint64_t emit(struct code *c, uint32_t insn)
{
	uint64_t at = c->pc;
	poke(c->m, at, insn, 4);
	c->pc += 4;
	return at;
}

static inline uint64_t emit16(struct code *c, uint16_t insn)
{
	uint64_t at = c->pc;
	poke(c->m, at, insn, 2);
	c->pc += 2;
	return at;
}

/* `j .`: parks the hart.  Returns its address. */
static inline uint64_t emit_halt(struct code *c) { return emit(c, jal(ZERO, 0)); }

/* Load an arbitrary 64-bit constant into rd using only rd
 * (lui/addiw, then slli/addi in 11-bit chunks). */
static inline void emit_li(struct code *c, unsigned rd, uint64_t v)
{
	int64_t s = (int64_t)v;
	if (s >= INT32_MIN && s <= INT32_MAX) {
		int32_t lo = (int32_t)((uint32_t)s << 20) >> 20;
		uint32_t hi = (uint32_t)((s - lo) >> 12) & 0xfffff;
		if (hi) {
			emit(c, lui(rd, hi));
			emit(c, addiw(rd, rd, lo));
		} else {
			emit(c, addi(rd, ZERO, lo));
		}
		return;
	}
	/* Top part first, then shift in the low 33 bits in three chunks. */
	emit_li(c, rd, (uint64_t)(s >> 33));
	for (int shift = 22; shift >= 0; shift -= 11) {
		emit(c, shift_imm(0, 1, rd, rd, 11));
		emit(c, addi(rd, rd, (int32_t)((v >> shift) & 0x7ff)));
	}
}

/* ---------------------------------------------------------------------
 * Machine setup and running
 * ------------------------------------------------------------------- */

static inline int vm_setup(void **state)
{
	struct machine *m = calloc(1, sizeof(*m));
	const struct machine_config cfg = {
		.board = BOARD_BARE,
		.ram_size = RAM_SIZE,
		.entropy_seeded = true,
		.rtc_epoch_ns = 1,
		.idle_skip = true,
	};
	char err[256] = "";
	if (!m || machine_init(m, &cfg, err, sizeof(err))) {
		print_error("machine_init: %s\n", err);
		free(m);
		return -1;
	}
	struct code c = code_at(m, MTRAP_BASE);
	emit_halt(&c);
	c = code_at(m, STRAP_BASE);
	emit_halt(&c);
	c = code_at(m, SKIP_BASE);
	emit(&c, csrr(T6, CSR_MEPC));
	emit(&c, addi(T6, T6, 4));
	emit(&c, csrw(CSR_MEPC, T6));
	emit(&c, mret());
	m->hart.mtvec = MTRAP_BASE;
	m->hart.stvec = STRAP_BASE;
	*state = m;
	return 0;
}

static inline int vm_teardown(void **state)
{
	struct machine *m = *state;
	machine_free(m);
	free(m);
	return 0;
}

#define VM_TEST(f) cmocka_unit_test_setup_teardown(f, vm_setup, vm_teardown)

/* Switch privilege directly (tests set up state; xRET is tested on its own). */
/* A machine of its own (not the harness's fixed layout), with the
 * deterministic inputs pinned, for tests that compare two machines. */
/* With a disk: a --disk argument, or one already open (see struct
 * machine_config). */
static inline struct machine *new_machine_from(const struct machine_config *cfg)
{
	struct machine *m = calloc(1, sizeof(*m));
	char err[256] = "";
	assert_non_null(m);
	if (machine_init(m, cfg, err, sizeof(err))) {
		print_error("machine_init: %s\n", err);
		fail();
	}
	return m;
}

static inline struct machine *new_machine_with_disk(enum board_kind board, uint64_t ram_size,
						     const char *disk, struct disk_image *image)
{
	const struct machine_config cfg = {
		.board = board,
		.ram_size = ram_size,
		.entropy_seeded = true,
		.rtc_epoch_ns = 1,
		.idle_skip = true,
		.disk = disk,
		.disk_image = image,
	};
	return new_machine_from(&cfg);
}

static inline struct machine *new_machine(enum board_kind board, uint64_t ram_size)
{
	return new_machine_with_disk(board, ram_size, NULL, NULL);
}

static inline void free_machine(struct machine *m)
{
	machine_free(m);
	free(m);
}

/* Save `m` into a malloc'ed buffer. */
static inline uint8_t *save_snap(struct machine *m, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	char err[256] = "";
	assert_non_null(f);
	if (snapshot_save(m, f, err, sizeof(err))) {
		print_error("snapshot_save: %s\n", err);
		fail();
	}
	fclose(f);
	return (uint8_t *)buf;
}

static inline void set_priv(struct machine *m, int priv)
{
	m->hart.priv = (uint8_t)priv;
	hart_update_mode(&m->hart);
}

static inline void set_mstatus_bits(struct machine *m, uint64_t set, uint64_t clear)
{
	m->hart.mstatus = (m->hart.mstatus & ~clear) | set;
	hart_update_mode(&m->hart);
	hart_flush_tlb(&m->hart);
}

static inline uint64_t run(struct machine *m, uint64_t budget)
{
	return hart_run(&m->hart, budget);
}

/* Run from `pc` until the hart parks at one of the `j .` loops (or the
 * budget runs out; the caller then checks where it is). */
static inline void run_from(struct machine *m, uint64_t pc, uint64_t budget)
{
	m->hart.pc = pc;
	hart_run(&m->hart, budget);
}

/* Place one instruction at CODE_BASE and execute exactly it. */
static inline void exec1(struct machine *m, uint32_t insn)
{
	poke(m, CODE_BASE, insn, 4);
	m->hart.pc = CODE_BASE;
	assert_int_equal(hart_run(&m->hart, 1), 1);
}

/* The hart took an M-mode trap and is parked in the M vector. */
static inline void assert_mtrap(struct machine *m, uint64_t cause, uint64_t epc, uint64_t tval)
{
	assert_int_equal(m->hart.priv, PRIV_M);
	assert_int_equal(m->hart.pc, MTRAP_BASE);
	assert_int_equal(m->hart.mcause, cause);
	assert_int_equal(m->hart.mepc, epc);
	assert_int_equal(m->hart.mtval, tval);
}

static inline void assert_strap(struct machine *m, uint64_t cause, uint64_t epc, uint64_t tval)
{
	assert_int_equal(m->hart.priv, PRIV_S);
	assert_int_equal(m->hart.pc, STRAP_BASE);
	assert_int_equal(m->hart.scause, cause);
	assert_int_equal(m->hart.sepc, epc);
	assert_int_equal(m->hart.stval, tval);
}

/* ---------------------------------------------------------------------
 * Page tables
 * ------------------------------------------------------------------- */

#define PTE_V (1ULL << 0)
#define PTE_R (1ULL << 1)
#define PTE_W (1ULL << 2)
#define PTE_X (1ULL << 3)
#define PTE_U (1ULL << 4)
#define PTE_G (1ULL << 5)
#define PTE_A (1ULL << 6)
#define PTE_D (1ULL << 7)
#define PTE_RWX (PTE_R | PTE_W | PTE_X)

#define SATP_SV39 (8ULL << 60)
#define SATP_SV48 (9ULL << 60)

/* Page tables built in guest RAM from a bump allocator at PT_BASE. */
struct pt {
	struct machine *m;
	int levels; /* 3 for Sv39, 4 for Sv48 */
	uint64_t root;
	uint64_t next;
};

static inline uint64_t pt_alloc(struct pt *pt)
{
	uint64_t page = pt->next;
	assert_true(page + 4096 <= PT_BASE + PT_SIZE);
	pt->next += 4096;
	memset(ram_at(pt->m, page, 4096), 0, 4096);
	return page;
}

static inline void pt_init(struct pt *pt, struct machine *m, int levels)
{
	pt->m = m;
	pt->levels = levels;
	pt->next = PT_BASE;
	pt->root = pt_alloc(pt);
}

static inline uint64_t pt_satp(const struct pt *pt)
{
	return (pt->levels == 4 ? SATP_SV48 : SATP_SV39) | (pt->root >> 12);
}

static inline uint64_t pte_make(uint64_t pa, uint64_t flags) { return (pa >> 12) << 10 | flags; }

/* Physical address of the PTE for `va` at `level` (0 = 4 KiB leaf level),
 * creating pointer PTEs above it as needed. */
static inline uint64_t pt_slot(struct pt *pt, uint64_t va, int level)
{
	uint64_t table = pt->root;
	for (int l = pt->levels - 1;; l--) {
		uint64_t slot = table + ((va >> (12 + 9 * l)) & 0x1ff) * 8;
		if (l == level)
			return slot;
		uint64_t pte = peek64(pt->m, slot);
		if (!(pte & PTE_V)) {
			pte = pte_make(pt_alloc(pt), PTE_V);
			poke64(pt->m, slot, pte);
		}
		assert_true((pte & PTE_RWX) == 0); /* a test bug: mapping under a leaf */
		table = (pte >> 10) << 12;
	}
}

/* Map one page of size 4 KiB << (9 * level) at va -> pa; returns the PTE's
 * physical address so a test can inspect or change it. */
static inline uint64_t pt_map(struct pt *pt, uint64_t va, uint64_t pa, int level, uint64_t flags)
{
	uint64_t slot = pt_slot(pt, va, level);
	poke64(pt->m, slot, pte_make(pa, flags | PTE_V));
	return slot;
}

/* Turn translation on with this table. */
static inline void pt_activate(struct pt *pt)
{
	assert_int_equal(csr_write_debug(&pt->m->hart, CSR_SATP, pt_satp(pt)), 0);
	assert_int_equal(pt->m->hart.satp, pt_satp(pt));
}

#endif
