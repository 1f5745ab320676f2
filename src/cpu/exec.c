/* The interpreter's hot loop.
 *
 * Shape (after TinyEMU): fetch straight from a host pointer into the current
 * code page, decode with one switch, and do loads and stores through the
 * soft-TLB whose entries hold a host addend.  The instruction budget is a
 * local counter; h->icount is brought up to date only when we leave the
 * loop or call out to code that may read it (CSRs, MMIO, traps).
 *
 * Each instruction's semantics are written out plainly, Spike style.
 * Compressed instructions are expanded to their 32-bit twins first and
 * then take the same path.
 */
#include <string.h>

#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "machine/bus.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- instruction fields ---- */

static inline unsigned rd_of(uint32_t i) { return (i >> 7) & 31; }
static inline unsigned rs1_of(uint32_t i) { return (i >> 15) & 31; }
static inline unsigned rs2_of(uint32_t i) { return (i >> 20) & 31; }
static inline unsigned funct3_of(uint32_t i) { return (i >> 12) & 7; }
static inline unsigned funct7_of(uint32_t i) { return i >> 25; }
static inline int64_t imm_i(uint32_t i) { return (int32_t)i >> 20; }
/* The immediates are assembled as unsigned bit fields and then
 * sign-extended from bit 31 in one step. */
static inline int64_t imm_s(uint32_t i)
{
	return (int32_t)((i & 0xfe000000) | ((i >> 7) & 0x1f) << 20) >> 20;
}
static inline int64_t imm_b(uint32_t i)
{
	uint32_t v = (i & 0x80000000) | ((i & 0x80) << 23) | ((i >> 1) & 0x3f000000) |
		     ((i << 12) & 0x00f00000);
	return (int32_t)v >> 19;
}
static inline int64_t imm_u(uint32_t i) { return (int32_t)(i & 0xfffff000); }
static inline int64_t imm_j(uint32_t i)
{
	uint32_t v = (i & 0x80000000) | ((i & 0xff000) << 11) | ((i & 0x100000) << 2) |
		     ((i >> 9) & 0x3ff000);
	return (int32_t)v >> 11;
}

static inline uint64_t sext32(uint64_t v) { return (uint64_t)(int64_t)(int32_t)v; }

/* ---- memory fast paths ----
 * A TLB hit compares the page tag against the address with its low bits
 * kept up to the access size, so a misaligned access misses and takes the
 * slow path, which emulates it. */

static inline uint64_t tag_of(uint64_t va, unsigned size)
{
	return va & ~(uint64_t)(0xfff & ~(size - 1));
}

static inline int load(struct hart *h, uint64_t va, unsigned size, uint64_t *val)
{
	const struct tlb_entry *e = &h->data_tlb->read[(va >> 12) % TLB_ENTRIES];
	if (likely(e->tag == tag_of(va, size))) {
		const void *p = (const void *)(uintptr_t)(va + e->addend);
		switch (size) {
		case 1: *val = *(const uint8_t *)p; break;
		case 2: *val = *(const uint16_t *)p; break;
		case 4: *val = *(const uint32_t *)p; break;
		default: *val = *(const uint64_t *)p; break;
		}
		return 0;
	}
	fpu_host_env(h); /* the slow path may reach a device */
	return mmu_load_slow(h, va, size, val);
}

static inline int store(struct hart *h, uint64_t va, unsigned size, uint64_t val)
{
	const struct tlb_entry *e = &h->data_tlb->write[(va >> 12) % TLB_ENTRIES];
	if (likely(e->tag == tag_of(va, size))) {
		void *p = (void *)(uintptr_t)(va + e->addend);
		switch (size) {
		case 1: *(uint8_t *)p = (uint8_t)val; break;
		case 2: *(uint16_t *)p = (uint16_t)val; break;
		case 4: *(uint32_t *)p = (uint32_t)val; break;
		default: *(uint64_t *)p = val; break;
		}
		return 0;
	}
	fpu_host_env(h);
	return mmu_store_slow(h, va, size, val);
}

/* ---- M extension ---- */

static uint64_t mulh(int64_t a, int64_t b) { return (uint64_t)(((__int128)a * b) >> 64); }
static uint64_t mulhu(uint64_t a, uint64_t b)
{
	return (uint64_t)(((unsigned __int128)a * b) >> 64);
}
static uint64_t mulhsu(int64_t a, uint64_t b)
{
	return (uint64_t)(((__int128)a * (__int128)(unsigned __int128)b) >> 64);
}

static uint64_t div64(int64_t a, int64_t b)
{
	if (b == 0)
		return UINT64_MAX;
	if (a == INT64_MIN && b == -1)
		return (uint64_t)a;
	return (uint64_t)(a / b);
}
static uint64_t divu64(uint64_t a, uint64_t b) { return b ? a / b : UINT64_MAX; }
static uint64_t rem64(int64_t a, int64_t b)
{
	if (b == 0)
		return (uint64_t)a;
	if (a == INT64_MIN && b == -1)
		return 0;
	return (uint64_t)(a % b);
}
static uint64_t remu64(uint64_t a, uint64_t b) { return b ? a % b : a; }
static uint64_t div32(int32_t a, int32_t b)
{
	if (b == 0)
		return UINT64_MAX;
	if (a == INT32_MIN && b == -1)
		return sext32((uint32_t)a);
	return sext32((uint32_t)(a / b));
}
static uint64_t divu32(uint32_t a, uint32_t b) { return sext32(b ? a / b : UINT32_MAX); }
static uint64_t rem32(int32_t a, int32_t b)
{
	if (b == 0)
		return sext32((uint32_t)a);
	if (a == INT32_MIN && b == -1)
		return 0;
	return sext32((uint32_t)(a % b));
}
static uint64_t remu32(uint32_t a, uint32_t b) { return sext32(b ? a % b : a); }

/* OP and OP-32 (funct7 0, 0x20 and 1 for M).  Returns false if illegal. */
static bool exec_op(uint32_t insn, uint64_t a, uint64_t b, uint64_t *r)
{
	unsigned f3 = funct3_of(insn), f7 = funct7_of(insn);
	if (f7 == 1) {
		switch (f3) {
		case 0: *r = a * b; return true;
		case 1: *r = mulh((int64_t)a, (int64_t)b); return true;
		case 2: *r = mulhsu((int64_t)a, b); return true;
		case 3: *r = mulhu(a, b); return true;
		case 4: *r = div64((int64_t)a, (int64_t)b); return true;
		case 5: *r = divu64(a, b); return true;
		case 6: *r = rem64((int64_t)a, (int64_t)b); return true;
		default: *r = remu64(a, b); return true;
		}
	}
	if (f7 == 0x20) {
		switch (f3) {
		case 0: *r = a - b; return true;
		case 5: *r = (uint64_t)((int64_t)a >> (b & 63)); return true;
		default: return false;
		}
	}
	if (f7 != 0)
		return false;
	switch (f3) {
	case 0: *r = a + b; return true;
	case 1: *r = a << (b & 63); return true;
	case 2: *r = (int64_t)a < (int64_t)b; return true;
	case 3: *r = a < b; return true;
	case 4: *r = a ^ b; return true;
	case 5: *r = a >> (b & 63); return true;
	case 6: *r = a | b; return true;
	default: *r = a & b; return true;
	}
}

static bool exec_op32(uint32_t insn, uint64_t a, uint64_t b, uint64_t *r)
{
	unsigned f3 = funct3_of(insn), f7 = funct7_of(insn);
	uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b;
	if (f7 == 1) {
		switch (f3) {
		case 0: *r = sext32(a32 * b32); return true;
		case 4: *r = div32((int32_t)a32, (int32_t)b32); return true;
		case 5: *r = divu32(a32, b32); return true;
		case 6: *r = rem32((int32_t)a32, (int32_t)b32); return true;
		case 7: *r = remu32(a32, b32); return true;
		default: return false;
		}
	}
	if (f7 == 0x20) {
		switch (f3) {
		case 0: *r = sext32(a32 - b32); return true;
		case 5: *r = sext32((uint32_t)((int32_t)a32 >> (b & 31))); return true;
		default: return false;
		}
	}
	if (f7 != 0)
		return false;
	switch (f3) {
	case 0: *r = sext32(a32 + b32); return true;
	case 1: *r = sext32(a32 << (b & 31)); return true;
	case 5: *r = sext32(a32 >> (b & 31)); return true;
	default: return false;
	}
}

static bool exec_op_imm(uint32_t insn, uint64_t a, uint64_t *r)
{
	int64_t imm = imm_i(insn);
	unsigned shamt = (insn >> 20) & 63;
	switch (funct3_of(insn)) {
	case 0: *r = a + (uint64_t)imm; return true;
	case 1:
		if ((insn >> 26) != 0)
			return false;
		*r = a << shamt;
		return true;
	case 2: *r = (int64_t)a < imm; return true;
	case 3: *r = a < (uint64_t)imm; return true;
	case 4: *r = a ^ (uint64_t)imm; return true;
	case 5:
		if ((insn >> 26) == 0)
			*r = a >> shamt;
		else if ((insn >> 26) == 0x10)
			*r = (uint64_t)((int64_t)a >> shamt);
		else
			return false;
		return true;
	case 6: *r = a | (uint64_t)imm; return true;
	default: *r = a & (uint64_t)imm; return true;
	}
}

static bool exec_op_imm32(uint32_t insn, uint64_t a, uint64_t *r)
{
	uint32_t a32 = (uint32_t)a;
	unsigned shamt = (insn >> 20) & 31;
	switch (funct3_of(insn)) {
	case 0: *r = sext32(a32 + (uint32_t)imm_i(insn)); return true;
	case 1:
		if (funct7_of(insn) != 0)
			return false;
		*r = sext32(a32 << shamt);
		return true;
	case 5:
		if (funct7_of(insn) == 0)
			*r = sext32(a32 >> shamt);
		else if (funct7_of(insn) == 0x20)
			*r = sext32((uint32_t)((int32_t)a32 >> shamt));
		else
			return false;
		return true;
	default: return false;
	}
}

static bool branch_taken(uint32_t insn, uint64_t a, uint64_t b, bool *illegal)
{
	*illegal = false;
	switch (funct3_of(insn)) {
	case 0: return a == b;
	case 1: return a != b;
	case 4: return (int64_t)a < (int64_t)b;
	case 5: return (int64_t)a >= (int64_t)b;
	case 6: return a < b;
	case 7: return a >= b;
	default: *illegal = true; return false;
	}
}

/* ---- A extension ---- */

enum { AMO_ADD = 0x00, AMO_SWAP = 0x01, AMO_LR = 0x02, AMO_SC = 0x03, AMO_XOR = 0x04,
       AMO_OR = 0x08, AMO_AND = 0x0c, AMO_MIN = 0x10, AMO_MAX = 0x14, AMO_MINU = 0x18,
       AMO_MAXU = 0x1c };

static bool amo_compute(unsigned op, unsigned size, uint64_t old, uint64_t src, uint64_t *out)
{
	if (size == 4) {
		old = sext32(old);
		src = sext32(src);
	}
	switch (op) {
	case AMO_ADD: *out = old + src; break;
	case AMO_SWAP: *out = src; break;
	case AMO_XOR: *out = old ^ src; break;
	case AMO_OR: *out = old | src; break;
	case AMO_AND: *out = old & src; break;
	case AMO_MIN: *out = (int64_t)old < (int64_t)src ? old : src; break;
	case AMO_MAX: *out = (int64_t)old > (int64_t)src ? old : src; break;
	case AMO_MINU: *out = old < src ? old : src; break;
	case AMO_MAXU: *out = old > src ? old : src; break;
	default: return false;
	}
	return true;
}

static int raise_exc(struct hart *h, uint64_t cause, uint64_t tval)
{
	h->exc_cause = cause;
	h->exc_tval = tval;
	return -1;
}

/* Returns 1 for an illegal encoding, -1 for a raised exception, 0 done.
 * Atomics work on the translated physical address, so any fault during the
 * read-modify-write is reported as a store/AMO fault, as the spec says.
 * LR/SC reservation rule (deterministic, single hart): LR records the
 * physical address; SC succeeds iff the reservation is for the same
 * physical address; SC and every trap entry clear it. */
static int exec_amo(struct hart *h, uint32_t insn)
{
	unsigned f3 = funct3_of(insn), op = insn >> 27;
	if (f3 != 2 && f3 != 3)
		return 1;
	unsigned size = f3 == 2 ? 4 : 8;
	uint64_t va = h->x[rs1_of(insn)], src = h->x[rs2_of(insn)];
	int priv = mmu_data_priv(h);
	uint64_t pa, old, result;
	if (op == AMO_LR) {
		if (rs2_of(insn) != 0)
			return 1;
		if (va & (size - 1))
			return raise_exc(h, EXC_LOAD_MISALIGNED, va);
		if (mmu_translate(h, va, size, ACCESS_READ, priv, &pa))
			return -1;
		if (bus_read(h->bus, pa, size, &old))
			return raise_exc(h, EXC_LOAD_ACCESS, va);
		h->reservation = pa;
		h->x[rd_of(insn)] = size == 4 ? sext32(old) : old;
		return 0;
	}
	if (op != AMO_SC && !amo_compute(op, size, 0, 0, &result))
		return 1;
	if (va & (size - 1))
		return raise_exc(h, EXC_STORE_MISALIGNED, va);
	if (mmu_translate(h, va, size, ACCESS_WRITE, priv, &pa))
		return -1;
	if (op == AMO_SC) {
		bool ok = h->reservation == pa;
		h->reservation = UINT64_MAX;
		if (ok && bus_write(h->bus, pa, size, src))
			return raise_exc(h, EXC_STORE_ACCESS, va);
		h->x[rd_of(insn)] = !ok;
		return 0;
	}
	if (!pmp_allows(h, pa, size, ACCESS_READ, priv) || bus_read(h->bus, pa, size, &old))
		return raise_exc(h, EXC_STORE_ACCESS, va);
	amo_compute(op, size, old, src, &result);
	if (bus_write(h->bus, pa, size, result))
		return raise_exc(h, EXC_STORE_ACCESS, va);
	h->x[rd_of(insn)] = size == 4 ? sext32(old) : old;
	return 0;
}

/* ---- SYSTEM ---- */

/* What the loop must do after a SYSTEM instruction.  SYS_READ is a CSR
 * read with no write: nothing the fetch pointer depends on changed. */
enum sys_result { SYS_NEXT, SYS_READ, SYS_JUMPED, SYS_EXCEPTION, SYS_WFI };

static enum sys_result illegal(struct hart *h, uint32_t insn)
{
	h->exc_cause = EXC_ILLEGAL_INSN;
	h->exc_tval = insn;
	return SYS_EXCEPTION;
}

static enum sys_result exec_csr(struct hart *h, uint32_t insn)
{
	unsigned f3 = funct3_of(insn), rd = rd_of(insn), rs1 = rs1_of(insn);
	uint32_t csr = insn >> 20;
	uint64_t operand = (f3 & 4) ? rs1 : h->x[rs1];
	unsigned op = f3 & 3; /* 1 = RW, 2 = RS, 3 = RC */
	bool do_read = op != 1 || rd != 0;
	bool do_write = op == 1 || rs1 != 0;
	uint64_t old = 0;
	if (do_read && csr_read(h, csr, &old))
		return illegal(h, insn);
	if (do_write) {
		uint64_t base = csr_rmw_base(h, csr, old);
		uint64_t val = op == 1 ? operand : op == 2 ? base | operand : base & ~operand;
		if (csr_write(h, csr, val))
			return illegal(h, insn);
	}
	h->x[rd] = old;
	return do_write ? SYS_NEXT : SYS_READ;
}

static enum sys_result exec_mret(struct hart *h, uint32_t insn)
{
	if (h->priv != PRIV_M)
		return illegal(h, insn);
	uint64_t s = h->mstatus;
	uint8_t mpp = (uint8_t)((s & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
	s = (s & ~MSTATUS_MIE) | ((s & MSTATUS_MPIE) ? MSTATUS_MIE : 0);
	s |= MSTATUS_MPIE;
	s &= ~MSTATUS_MPP; /* U, the least-privileged mode */
	if (mpp != PRIV_M)
		s &= ~MSTATUS_MPRV;
	h->mstatus = s;
	h->priv = mpp;
	h->pc = h->mepc;
	h->reservation = UINT64_MAX;
	hart_update_mode(h);
	return SYS_JUMPED;
}

static enum sys_result exec_sret(struct hart *h, uint32_t insn)
{
	if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TSR)))
		return illegal(h, insn);
	uint64_t s = h->mstatus;
	uint8_t spp = (s & MSTATUS_SPP) ? PRIV_S : PRIV_U;
	s = (s & ~MSTATUS_SIE) | ((s & MSTATUS_SPIE) ? MSTATUS_SIE : 0);
	s |= MSTATUS_SPIE;
	s &= ~MSTATUS_SPP;
	s &= ~MSTATUS_MPRV; /* the new mode is never M */
	h->mstatus = s;
	h->priv = spp;
	h->pc = h->sepc;
	h->reservation = UINT64_MAX;
	hart_update_mode(h);
	return SYS_JUMPED;
}

static enum sys_result exec_system(struct hart *h, uint32_t insn)
{
	if (funct3_of(insn) != 0) {
		if (funct3_of(insn) == 4)
			return illegal(h, insn);
		return exec_csr(h, insn);
	}
	if (rd_of(insn) != 0)
		return illegal(h, insn);
	if (funct7_of(insn) == 0x09) { /* SFENCE.VMA */
		if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TVM)))
			return illegal(h, insn);
		hart_flush_tlb(h);
		return SYS_NEXT;
	}
	if (rs1_of(insn) != 0)
		return illegal(h, insn);
	switch (insn >> 20) {
	case 0x000: /* ECALL */
		h->exc_cause = EXC_ECALL_U + h->priv;
		h->exc_tval = 0;
		return SYS_EXCEPTION;
	case 0x001: /* EBREAK */
		h->exc_cause = EXC_BREAKPOINT;
		h->exc_tval = h->pc;
		return SYS_EXCEPTION;
	case 0x302: return exec_mret(h, insn);
	case 0x102: return exec_sret(h, insn);
	case 0x105: /* WFI */
		if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TW)))
			return illegal(h, insn);
		return ((h->mip | h->mip_hw) & h->mie) ? SYS_NEXT : SYS_WFI;
	default:
		return illegal(h, insn);
	}
}

/* ---- FP loads, stores and dispatch ---- */

static bool fp_enabled(const struct hart *h) { return (h->mstatus & MSTATUS_FS) != 0; }

static void mark_fp_dirty(struct hart *h) { h->mstatus |= MSTATUS_FS; }

/* ---- the loop ---- */

uint64_t hart_run(struct hart *h, uint64_t budget)
{
	uint64_t start = h->icount;
	uint64_t left = budget; /* steps left: an instruction, or a trap taken */
	uint64_t traps = 0; /* steps that trapped and so retired nothing */
	uint64_t fetch_page = TLB_INVALID; /* virtual page we fetch from directly */
	uintptr_t fetch_addend = 0;
	uint32_t insn = 0, raw = 0;

	h->slice_end = false;
	/* WFI ends when an interrupt is pending in mie, whatever the global
	 * enables and mideleg say (privileged spec, WFI); it is taken only if
	 * enabled.  Linux idles with SIE clear and relies on this. */
	if ((h->mip | h->mip_hw) & h->mie)
		h->wfi = false;
	hart_take_interrupt(h);
	if (h->wfi)
		return 0;

	while (likely(left)) {
		uint64_t pc = h->pc;
		h->x[0] = 0;
		if (likely((pc & ~0xfffULL) == fetch_page && (pc & 0xfff) <= 0xffc)) {
			memcpy(&insn, (const void *)(uintptr_t)(pc + fetch_addend), 4);
		} else {
			fetch_page = TLB_INVALID;
			fpu_host_env(h);
			h->icount = start + (budget - left) - traps;
			if (mmu_fetch_slow(h, pc, &insn, &fetch_page, &fetch_addend))
				goto exception_uncounted;
		}
		left--;
		uint64_t next_pc = pc + 4;
		raw = insn;
		if ((insn & 3) != 3) {
			raw = insn & 0xffff;
			insn = rvc_table[raw];
			if (!insn)
				goto illegal_insn;
			next_pc = pc + 2;
		}
		uint64_t *x = h->x;
		unsigned rd = rd_of(insn);
		uint64_t a = x[rs1_of(insn)], b = x[rs2_of(insn)], v;

		switch (insn & 0x7f) {
		case 0x37: /* LUI */
			x[rd] = (uint64_t)imm_u(insn);
			break;
		case 0x17: /* AUIPC */
			x[rd] = pc + (uint64_t)imm_u(insn);
			break;
		case 0x6f: /* JAL */
			x[rd] = next_pc;
			next_pc = pc + (uint64_t)imm_j(insn);
			break;
		case 0x67: /* JALR */
			if (funct3_of(insn) != 0)
				goto illegal_insn;
			x[rd] = next_pc;
			next_pc = (a + (uint64_t)imm_i(insn)) & ~1ULL;
			break;
		case 0x63: { /* BRANCH */
			bool bad;
			if (branch_taken(insn, a, b, &bad))
				next_pc = pc + (uint64_t)imm_b(insn);
			if (bad)
				goto illegal_insn;
			break;
		}
		case 0x03: { /* LOAD */
			uint64_t va = a + (uint64_t)imm_i(insn);
			unsigned f3 = funct3_of(insn);
			if (f3 == 7)
				goto illegal_insn;
			unsigned size = 1u << (f3 & 3);
			h->icount = start + (budget - left) - traps - 1; /* before this one */
			if (unlikely(load(h, va, size, &v)))
				goto exception;
			switch (f3) {
			case 0: v = (uint64_t)(int64_t)(int8_t)v; break;
			case 1: v = (uint64_t)(int64_t)(int16_t)v; break;
			case 2: v = sext32(v); break;
			default: break;
			}
			x[rd] = v;
			break;
		}
		case 0x23: { /* STORE */
			unsigned f3 = funct3_of(insn);
			if (f3 > 3)
				goto illegal_insn;
			h->icount = start + (budget - left) - traps - 1; /* before this one */
			if (unlikely(store(h, a + (uint64_t)imm_s(insn), 1u << f3, b)))
				goto exception;
			if (unlikely(h->slice_end)) { /* an MMIO side effect wants the slice to end */
				h->pc = next_pc;
				goto out;
			}
			break;
		}
		case 0x13: /* OP-IMM */
			if (!exec_op_imm(insn, a, &v))
				goto illegal_insn;
			x[rd] = v;
			break;
		case 0x1b: /* OP-IMM-32 */
			if (!exec_op_imm32(insn, a, &v))
				goto illegal_insn;
			x[rd] = v;
			break;
		case 0x33: /* OP */
			if (!exec_op(insn, a, b, &v))
				goto illegal_insn;
			x[rd] = v;
			break;
		case 0x3b: /* OP-32 */
			if (!exec_op32(insn, a, b, &v))
				goto illegal_insn;
			x[rd] = v;
			break;
		case 0x0f: /* MISC-MEM: FENCE, FENCE.I (no decode cache: nothing to do) */
			if (funct3_of(insn) > 1)
				goto illegal_insn;
			break;
		case 0x2f: { /* AMO */
			fpu_host_env(h);
			h->icount = start + (budget - left) - traps - 1; /* before this one */
			int rc = exec_amo(h, insn);
			if (rc > 0)
				goto illegal_insn;
			if (rc < 0)
				goto exception;
			break;
		}
		case 0x73: { /* SYSTEM */
			fpu_host_env(h); /* fflags may be read */
			h->icount = start + (budget - left) - traps - 1; /* before this one */
			h->pc = pc;
			enum sys_result r = exec_system(h, insn);
			if (r == SYS_EXCEPTION)
				goto exception;
			if (r == SYS_READ) { /* e.g. rdtime in a delay loop: stay on the fast path */
				h->pc = next_pc;
				continue;
			}
			fetch_page = TLB_INVALID; /* priv, satp or mappings may have changed */
			if (r == SYS_JUMPED)
				goto check_interrupts;
			h->pc = next_pc;
			if (r == SYS_WFI) {
				h->wfi = true;
				goto out;
			}
			goto check_interrupts;
		}
		case 0x07: { /* LOAD-FP */
			unsigned f3 = funct3_of(insn);
			if (!fp_enabled(h) || (f3 != 2 && f3 != 3))
				goto illegal_insn;
			h->icount = start + (budget - left) - traps - 1; /* before this one */
			if (unlikely(load(h, a + (uint64_t)imm_i(insn), f3 == 2 ? 4 : 8, &v)))
				goto exception;
			h->f[rd] = f3 == 2 ? v | 0xffffffff00000000ULL : v;
			mark_fp_dirty(h);
			break;
		}
		case 0x27: { /* STORE-FP */
			unsigned f3 = funct3_of(insn);
			if (!fp_enabled(h) || (f3 != 2 && f3 != 3))
				goto illegal_insn;
			h->icount = start + (budget - left) - traps - 1; /* before this one */
			if (unlikely(store(h, a + (uint64_t)imm_s(insn), f3 == 2 ? 4 : 8,
					   h->f[rs2_of(insn)])))
				goto exception;
			break;
		}
		case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53: /* FP arithmetic */
			if (!fp_enabled(h) || fpu_execute(h, insn))
				goto illegal_insn;
			mark_fp_dirty(h);
			break;
		default:
			goto illegal_insn;
		}
		h->pc = next_pc;
		continue;

	illegal_insn:
		/* xtval gets the instruction as fetched: 16 bits for RVC */
		h->exc_cause = EXC_ILLEGAL_INSN;
		h->exc_tval = raw;
		goto exception;
	exception_uncounted:
		left--; /* the fetch failed before this step was counted */
	exception:
		traps++; /* a trapping instruction does not retire */
		h->pc = pc;
		hart_trap(h, h->exc_cause, h->exc_tval, false);
		fetch_page = TLB_INVALID;
		if (h->slice_end)
			break;
		continue;
	check_interrupts:
		h->icount = start + (budget - left) - traps;
		if (hart_take_interrupt(h))
			fetch_page = TLB_INVALID;
		if (h->slice_end)
			break;
		continue;
	}
out:
	fpu_host_env(h);
	h->x[0] = 0; /* the last instruction may have written it */
	h->icount = start + (budget - left) - traps;
	return budget - left;
}
