/* The memory-effect observer (vm/taps.h section 6, vm/taps_effect.c):
 * small programs run through machine_run with a subscriber, and each
 * instruction's report is checked field by field against what the
 * unprivileged spec says the instruction reads and writes.
 *
 * Also: observing changes nothing (a program run observed and unobserved
 * ends in the same state digest), and the hart gets its decoded blocks
 * back when the last subscriber leaves.
 */
#include "cpu/decode.h"
#include "harness.h"
#include "vm/state_digest.h"
#include "vm/taps.h"

#define MAX_SEEN 256
#define X(r) (1u << (r))
#define FRAME(n) (DATA_BASE + (uint64_t)(n) * 0x1000)
#define CLINT_MTIMECMP (VIRT_CLINT_BASE + 0x4000)

struct seen {
	struct tap_insn_effect e[MAX_SEEN];
	unsigned n;
};

static void record(void *opaque, const struct tap_insn_effect *e)
{
	struct seen *s = opaque;
	assert_true(s->n < MAX_SEEN);
	s->e[s->n++] = *e;
}

/* FP loads and stores (the harness encodes the integer ones). */
static uint32_t flw(unsigned rd, unsigned rs1, int32_t imm) { return enc_i(imm, rs1, 2, rd, 0x07); }
static uint32_t fld(unsigned rd, unsigned rs1, int32_t imm) { return enc_i(imm, rs1, 3, rd, 0x07); }
static uint32_t fsw(unsigned rs2, unsigned rs1, int32_t imm) { return enc_s(imm, rs2, rs1, 2, 0x27); }
static uint32_t fsd(unsigned rs2, unsigned rs1, int32_t imm) { return enc_s(imm, rs2, rs1, 3, 0x27); }
/* fadd.d rd, rs1, rs2 (rm = dynamic) */
static uint32_t fadd_d(unsigned rd, unsigned rs1, unsigned rs2)
{
	return enc_r(0x01, rs2, rs1, 7, rd, 0x53);
}

/* Compressed: c.lw a1, 4(a0) and c.sd a1, 8(a0) (checked against the
 * expansion below, so a wrong constant fails loudly). */
#define C_LW_A1_4_A0 0x414c
#define C_SD_A1_8_A0 0xe50c

/* Subscribe s, run `steps` steps from pc, and unsubscribe. */
static void observe_run(struct machine *m, struct seen *s, uint64_t pc, uint64_t steps)
{
	memset(s, 0, sizeof(*s));
	int id = taps_effect_subscribe(m, record, s);
	assert_true(id >= 0);
	m->hart.pc = pc;
	assert_int_equal(machine_run(m, steps), STOP_BUDGET);
	taps_effect_unsubscribe(m, id);
}

static void assert_access(const struct tap_mem_access *a, uint64_t va, uint64_t pa,
			  unsigned size, uint64_t value, bool write)
{
	assert_int_equal(a->va, va);
	assert_int_equal(a->pa, pa);
	assert_int_equal(a->size, size);
	assert_int_equal(a->value, value);
	assert_int_equal(a->write, write);
}

/* One access, and these registers. */
static void assert_one(const struct tap_insn_effect *e, uint32_t x_read, uint32_t x_written,
		       uint64_t va, uint64_t pa, unsigned size, uint64_t value, bool write)
{
	assert_false(e->trapped);
	assert_int_equal(e->x_read, x_read);
	assert_int_equal(e->x_written, x_written);
	assert_int_equal(e->f_read, 0);
	assert_int_equal(e->f_written, 0);
	assert_int_equal(e->csr, -1);
	assert_int_equal(e->naccess, 1);
	assert_access(&e->access[0], va, pa, size, value, write);
}

/* ---- integer loads and stores ---- */

static void test_loads(void **state)
{
	struct machine *m = *state;
	poke64(m, DATA_BASE, 0x8877665544332211ULL);
	poke64(m, DATA_BASE + 8, 0xf0debc9a78563412ULL);
	struct code c = code_at(m, CODE_BASE);
	emit(&c, lb(T0, A0, 7)); /* 0x88 */
	emit(&c, lh(T1, A0, 6)); /* 0x8877 */
	emit(&c, lw(T2, A0, 4)); /* 0x88776655 */
	emit(&c, ld(S0, A0, 8));
	emit(&c, lbu(S1, A0, 15)); /* 0xf0 */
	emit(&c, lhu(A2, A0, 14)); /* 0xf0de */
	emit(&c, lwu(A3, A0, 12)); /* 0xf0debc9a */
	emit_halt(&c);
	m->hart.x[A0] = DATA_BASE;
	struct seen s;
	observe_run(m, &s, CODE_BASE, 7);
	assert_int_equal(s.n, 7);
	/* the value is the bytes read, before sign extension */
	assert_one(&s.e[0], X(A0), X(T0), DATA_BASE + 7, DATA_BASE + 7, 1, 0x88, false);
	assert_one(&s.e[1], X(A0), X(T1), DATA_BASE + 6, DATA_BASE + 6, 2, 0x8877, false);
	assert_one(&s.e[2], X(A0), X(T2), DATA_BASE + 4, DATA_BASE + 4, 4, 0x88776655, false);
	assert_one(&s.e[3], X(A0), X(S0), DATA_BASE + 8, DATA_BASE + 8, 8, 0xf0debc9a78563412ULL,
		   false);
	assert_one(&s.e[4], X(A0), X(S1), DATA_BASE + 15, DATA_BASE + 15, 1, 0xf0, false);
	assert_one(&s.e[5], X(A0), X(A2), DATA_BASE + 14, DATA_BASE + 14, 2, 0xf0de, false);
	assert_one(&s.e[6], X(A0), X(A3), DATA_BASE + 12, DATA_BASE + 12, 4, 0xf0debc9a, false);
	for (unsigned i = 0; i < 7; i++) {
		assert_int_equal(s.e[i].icount, i);
		assert_int_equal(s.e[i].pc, CODE_BASE + 4 * i);
		assert_int_equal(s.e[i].priv, PRIV_M);
		assert_int_equal(s.e[i].insn, peek(m, CODE_BASE + 4 * i, 4));
	}
	/* and the loads did their work */
	assert_int_equal(m->hart.x[T0], 0xffffffffffffff88ULL);
	assert_int_equal(m->hart.x[A3], 0xf0debc9aULL);
}

static void test_stores(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, sb(T0, A0, 0));
	emit(&c, sh(T0, A0, 2));
	emit(&c, sw(T0, A0, 4));
	emit(&c, sd(T0, A0, 8));
	emit(&c, sd(ZERO, A0, 16)); /* x0 is no data: only a0 is read */
	emit_halt(&c);
	m->hart.x[A0] = DATA_BASE;
	m->hart.x[T0] = 0x0123456789abcdefULL;
	struct seen s;
	observe_run(m, &s, CODE_BASE, 5);
	assert_int_equal(s.n, 5);
	assert_one(&s.e[0], X(A0) | X(T0), 0, DATA_BASE, DATA_BASE, 1, 0xef, true);
	assert_one(&s.e[1], X(A0) | X(T0), 0, DATA_BASE + 2, DATA_BASE + 2, 2, 0xcdef, true);
	assert_one(&s.e[2], X(A0) | X(T0), 0, DATA_BASE + 4, DATA_BASE + 4, 4, 0x89abcdef, true);
	assert_one(&s.e[3], X(A0) | X(T0), 0, DATA_BASE + 8, DATA_BASE + 8, 8,
		   0x0123456789abcdefULL, true);
	assert_one(&s.e[4], X(A0), 0, DATA_BASE + 16, DATA_BASE + 16, 8, 0, true);
	assert_int_equal(peek(m, DATA_BASE + 4, 4), 0x89abcdef);
}

/* A load into x0 still reads memory (a device register may care), but
 * writes no register. */
static void test_load_to_x0(void **state)
{
	struct machine *m = *state;
	poke64(m, DATA_BASE, 0x1122334455667788ULL);
	struct code c = code_at(m, CODE_BASE);
	emit(&c, ld(ZERO, A0, 0));
	emit_halt(&c);
	m->hart.x[A0] = DATA_BASE;
	struct seen s;
	observe_run(m, &s, CODE_BASE, 1);
	assert_int_equal(s.n, 1);
	assert_one(&s.e[0], X(A0), 0, DATA_BASE, DATA_BASE, 8, 0x1122334455667788ULL, false);
	assert_int_equal(m->hart.x[0], 0);
}

/* A device register: the bus path, not the TLB's. */
static void test_mmio(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, sd(T0, A0, 0));
	emit(&c, ld(T1, A0, 0));
	emit_halt(&c);
	m->hart.x[A0] = CLINT_MTIMECMP;
	m->hart.x[T0] = 0x123456789ULL;
	struct seen s;
	observe_run(m, &s, CODE_BASE, 2);
	assert_int_equal(s.n, 2);
	assert_one(&s.e[0], X(A0) | X(T0), 0, CLINT_MTIMECMP, CLINT_MTIMECMP, 8, 0x123456789ULL,
		   true);
	assert_one(&s.e[1], X(A0), X(T1), CLINT_MTIMECMP, CLINT_MTIMECMP, 8, 0x123456789ULL,
		   false);
}

/* ---- misaligned ---- */

static void test_misaligned_one_page(void **state)
{
	struct machine *m = *state;
	poke64(m, DATA_BASE + 8, 0x0807060504030201ULL);
	struct code c = code_at(m, CODE_BASE);
	emit(&c, lw(T0, A0, 9)); /* bytes 02 03 04 05 */
	emit(&c, sd(T1, A0, 3));
	emit_halt(&c);
	m->hart.x[A0] = DATA_BASE;
	m->hart.x[T1] = 0xa1a2a3a4a5a6a7a8ULL;
	struct seen s;
	observe_run(m, &s, CODE_BASE, 2);
	assert_int_equal(s.n, 2);
	assert_one(&s.e[0], X(A0), X(T0), DATA_BASE + 9, DATA_BASE + 9, 4, 0x05040302, false);
	assert_one(&s.e[1], X(A0) | X(T1), 0, DATA_BASE + 3, DATA_BASE + 3, 8,
		   0xa1a2a3a4a5a6a7a8ULL, true);
	assert_int_equal(peek64(m, DATA_BASE + 3), 0xa1a2a3a4a5a6a7a8ULL);
}

/* S-mode, Sv39: two virtual pages next to each other on physical frames
 * that are not.  A word across them is two accesses, one per frame. */
#define VA 0x10000000ULL
static void paging_on(struct machine *m, struct pt *pt)
{
	pt_init(pt, m, 3);
	pt_map(pt, CODE_BASE, CODE_BASE, 0, PTE_R | PTE_X | PTE_A);
	pt_map(pt, VA, FRAME(2), 0, PTE_R | PTE_W); /* A and D clear: the walk sets them */
	pt_map(pt, VA + 0x1000, FRAME(5), 0, PTE_R | PTE_W | PTE_A | PTE_D);
	pt_activate(pt);
	set_priv(m, PRIV_S);
}

static void test_misaligned_across_frames(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	paging_on(m, &pt);
	poke(m, FRAME(5), 0x4433, 2);
	struct code c = code_at(m, CODE_BASE);
	emit(&c, sw(T0, A0, 0x7fe)); /* VA+0xffe..VA+0x1001 */
	emit(&c, lw(T1, A0, 0x7fe));
	emit(&c, lh(T2, A0, 0x7f0)); /* the first frame again, now in the TLB */
	emit_halt(&c);
	m->hart.x[A0] = VA + 0x800;
	m->hart.x[T0] = 0xddccbbaa;
	struct seen s;
	observe_run(m, &s, CODE_BASE, 3);
	assert_int_equal(s.n, 3);
	/* no page-table reads or A/D writes among them */
	assert_int_equal(s.e[0].naccess, 2);
	assert_access(&s.e[0].access[0], VA + 0xffe, FRAME(2) + 0xffe, 2, 0xbbaa, true);
	assert_access(&s.e[0].access[1], VA + 0x1000, FRAME(5), 2, 0xddcc, true);
	assert_int_equal(s.e[1].naccess, 2);
	assert_access(&s.e[1].access[0], VA + 0xffe, FRAME(2) + 0xffe, 2, 0xbbaa, false);
	assert_access(&s.e[1].access[1], VA + 0x1000, FRAME(5), 2, 0xddcc, false);
	assert_int_equal(m->hart.x[T1], 0xffffffffddccbbaaULL);
	assert_one(&s.e[2], X(A0), X(T2), VA + 0xff0, FRAME(2) + 0xff0, 2, 0, false);
	assert_int_equal(m->hart.x[T2], 0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(s.e[i].priv, PRIV_S);
	/* the walk set A and D as it does unobserved */
	uint64_t pte = peek64(m, pt_slot(&pt, VA, 0));
	assert_int_equal(pte & (PTE_A | PTE_D), PTE_A | PTE_D);
}

/* A stale TLB entry is what the hart uses, observed or not (the PTE
 * changed without SFENCE.VMA): the report gives the frame actually read. */
static void test_tlb_hit_reports_frame_used(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	paging_on(m, &pt);
	poke64(m, FRAME(2), 0x2222);
	poke64(m, FRAME(7), 0x7777);
	struct code c = code_at(m, CODE_BASE);
	emit(&c, ld(T0, A0, 0));
	emit_halt(&c);
	m->hart.x[A0] = VA;
	struct seen s;
	observe_run(m, &s, CODE_BASE, 1);
	assert_one(&s.e[0], X(A0), X(T0), VA, FRAME(2), 8, 0x2222, false);
	poke64(m, pt_slot(&pt, VA, 0), pte_make(FRAME(7), PTE_V | PTE_R | PTE_W | PTE_A | PTE_D));
	observe_run(m, &s, CODE_BASE, 1);
	assert_one(&s.e[0], X(A0), X(T0), VA, FRAME(2), 8, 0x2222, false);
	assert_int_equal(m->hart.x[T0], 0x2222);
	/* after SFENCE.VMA the new frame */
	hart_flush_translations(&m->hart);
	observe_run(m, &s, CODE_BASE, 1);
	assert_one(&s.e[0], X(A0), X(T0), VA, FRAME(7), 8, 0x7777, false);
}

/* ---- FP loads and stores ---- */

static void test_fp(void **state)
{
	struct machine *m = *state;
	set_mstatus_bits(m, MSTATUS_FS, 0);
	poke(m, DATA_BASE, 0x3f800000, 4); /* 1.0f */
	poke64(m, DATA_BASE + 8, 0x4000000000000000ULL); /* 2.0 */
	struct code c = code_at(m, CODE_BASE);
	emit(&c, flw(1, A0, 0));
	emit(&c, fld(2, A0, 8));
	emit(&c, fadd_d(3, 2, 2));
	emit(&c, fsd(3, A0, 16));
	emit(&c, fsw(1, A0, 24));
	emit_halt(&c);
	m->hart.x[A0] = DATA_BASE;
	struct seen s;
	observe_run(m, &s, CODE_BASE, 5);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.e[0].x_read, X(A0));
	assert_int_equal(s.e[0].f_written, X(1));
	assert_int_equal(s.e[0].x_written | s.e[0].f_read, 0);
	assert_int_equal(s.e[0].naccess, 1);
	assert_access(&s.e[0].access[0], DATA_BASE, DATA_BASE, 4, 0x3f800000, false);
	assert_int_equal(s.e[1].f_written, X(2));
	assert_access(&s.e[1].access[0], DATA_BASE + 8, DATA_BASE + 8, 8, 0x4000000000000000ULL,
		      false);
	/* arithmetic: registers only */
	assert_int_equal(s.e[2].naccess, 0);
	assert_int_equal(s.e[2].f_read, X(2));
	assert_int_equal(s.e[2].f_written, X(3));
	assert_int_equal(s.e[2].x_read | s.e[2].x_written, 0);
	assert_int_equal(s.e[3].x_read, X(A0));
	assert_int_equal(s.e[3].f_read, X(3));
	assert_int_equal(s.e[3].f_written | s.e[3].x_written, 0);
	assert_access(&s.e[3].access[0], DATA_BASE + 16, DATA_BASE + 16, 8, 0x4010000000000000ULL,
		      true); /* 4.0 */
	assert_int_equal(s.e[4].f_read, X(1));
	assert_access(&s.e[4].access[0], DATA_BASE + 24, DATA_BASE + 24, 4, 0x3f800000, true);
}

/* ---- atomics ---- */

static void test_amo(void **state)
{
	struct machine *m = *state;
	poke64(m, DATA_BASE, 40);
	poke(m, DATA_BASE + 8, 0xfffffffe, 4);
	struct code c = code_at(m, CODE_BASE);
	emit(&c, amo(AMO_ADD, 3, T0, A0, A1)); /* amoadd.d t0, a1, (a0) */
	emit(&c, amo(AMO_ADD, 2, T1, A2, A1)); /* amoadd.w t1, a1, (a2) */
	emit_halt(&c);
	m->hart.x[A0] = DATA_BASE;
	m->hart.x[A1] = 2;
	m->hart.x[A2] = DATA_BASE + 8;
	struct seen s;
	observe_run(m, &s, CODE_BASE, 2);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.e[0].x_read, X(A0) | X(A1));
	assert_int_equal(s.e[0].x_written, X(T0));
	assert_int_equal(s.e[0].naccess, 2);
	assert_access(&s.e[0].access[0], DATA_BASE, DATA_BASE, 8, 40, false);
	assert_access(&s.e[0].access[1], DATA_BASE, DATA_BASE, 8, 42, true);
	/* .w: 0xfffffffe + 2 wraps to 0 in the 4 bytes written */
	assert_access(&s.e[1].access[0], DATA_BASE + 8, DATA_BASE + 8, 4, 0xfffffffe, false);
	assert_access(&s.e[1].access[1], DATA_BASE + 8, DATA_BASE + 8, 4, 0, true);
	assert_int_equal(m->hart.x[T1], 0xfffffffffffffffeULL);
}

static void test_lr_sc(void **state)
{
	struct machine *m = *state;
	poke64(m, DATA_BASE, 7);
	struct code c = code_at(m, CODE_BASE);
	emit(&c, lr_d(T0, A0));
	emit(&c, sc_d(T1, A0, A1)); /* succeeds: t1 = 0 */
	emit(&c, sc_d(T2, A0, A2)); /* no reservation: fails, t2 = 1, nothing written */
	emit_halt(&c);
	m->hart.x[A0] = DATA_BASE;
	m->hart.x[A1] = 99;
	m->hart.x[A2] = 1234;
	struct seen s;
	observe_run(m, &s, CODE_BASE, 3);
	assert_int_equal(s.n, 3);
	assert_one(&s.e[0], X(A0), X(T0), DATA_BASE, DATA_BASE, 8, 7, false);
	assert_one(&s.e[1], X(A0) | X(A1), X(T1), DATA_BASE, DATA_BASE, 8, 99, true);
	assert_false(s.e[2].trapped);
	assert_int_equal(s.e[2].x_read, X(A0) | X(A2));
	assert_int_equal(s.e[2].x_written, X(T2));
	assert_int_equal(s.e[2].naccess, 0);
	assert_int_equal(m->hart.x[T1], 0);
	assert_int_equal(m->hart.x[T2], 1);
	assert_int_equal(peek64(m, DATA_BASE), 99);
}

/* ---- CSRs ---- */

static void test_csr(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, csrrw(T0, CSR_MSCRATCH, T1)); /* reads and writes */
	emit(&c, csrr(T2, CSR_MSCRATCH)); /* csrrs t2, mscratch, x0: no write */
	emit(&c, csrw(CSR_MSCRATCH, T2)); /* csrrw x0: no read */
	emit(&c, csrrsi(A0, CSR_MSCRATCH, 4)); /* immediate: no register read */
	emit_halt(&c);
	m->hart.x[T1] = 5;
	struct seen s;
	observe_run(m, &s, CODE_BASE, 4);
	assert_int_equal(s.n, 4);
	static const struct {
		uint32_t xr, xw;
		bool r, w;
	} want[4] = {{X(T1), X(T0), true, true}, {0, X(T2), true, false},
		     {X(T2), 0, false, true}, {0, X(A0), true, true}};
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(s.e[i].csr, CSR_MSCRATCH);
		assert_int_equal(s.e[i].x_read, want[i].xr);
		assert_int_equal(s.e[i].x_written, want[i].xw);
		assert_int_equal(s.e[i].csr_read, want[i].r);
		assert_int_equal(s.e[i].csr_written, want[i].w);
		assert_int_equal(s.e[i].naccess, 0);
	}
	assert_int_equal(m->hart.mscratch, 5 | 4);
}

/* ---- compressed ---- */

static void test_compressed(void **state)
{
	struct machine *m = *state;
	assert_int_equal(rvc_expand(C_LW_A1_4_A0), lw(A1, A0, 4));
	assert_int_equal(rvc_expand(C_SD_A1_8_A0), sd(A1, A0, 8));
	poke(m, DATA_BASE + 4, 0x80000001, 4);
	struct code c = code_at(m, CODE_BASE);
	emit16(&c, C_LW_A1_4_A0);
	emit16(&c, C_SD_A1_8_A0);
	emit_halt(&c);
	m->hart.x[A0] = DATA_BASE;
	struct seen s;
	observe_run(m, &s, CODE_BASE, 2);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.e[0].pc, CODE_BASE);
	assert_int_equal(s.e[0].insn, C_LW_A1_4_A0);
	assert_one(&s.e[0], X(A0), X(A1), DATA_BASE + 4, DATA_BASE + 4, 4, 0x80000001, false);
	assert_int_equal(s.e[1].pc, CODE_BASE + 2);
	assert_int_equal(s.e[1].insn, C_SD_A1_8_A0);
	assert_one(&s.e[1], X(A0) | X(A1), 0, DATA_BASE + 8, DATA_BASE + 8, 8,
		   0xffffffff80000001ULL, true);
}

/* ---- traps ---- */

static void test_faulting_load(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, addi(T0, ZERO, 1));
	emit(&c, ld(T1, A0, 0)); /* nothing at address 0x10: access fault */
	m->hart.x[A0] = 0x10;
	struct seen s;
	observe_run(m, &s, CODE_BASE, 3);
	assert_int_equal(s.n, 3);
	assert_false(s.e[0].trapped);
	assert_int_equal(s.e[0].x_written, X(T0));
	assert_int_equal(s.e[0].naccess, 0);
	/* the load trapped: no access, nothing written; it does not retire */
	assert_true(s.e[1].trapped);
	assert_int_equal(s.e[1].icount, 1);
	assert_int_equal(s.e[1].pc, CODE_BASE + 4);
	assert_int_equal(s.e[1].x_read, X(A0));
	assert_int_equal(s.e[1].x_written, 0);
	assert_int_equal(s.e[1].naccess, 0);
	/* the handler's first instruction comes next, at the same icount */
	assert_false(s.e[2].trapped);
	assert_int_equal(s.e[2].icount, 1);
	assert_int_equal(s.e[2].pc, MTRAP_BASE);
	assert_mtrap(m, EXC_LOAD_ACCESS, CODE_BASE + 4, 0x10);
}

/* A store page fault, and an AMO whose page allows reads only. */
static void test_faulting_store_and_amo(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	paging_on(m, &pt);
	pt_map(&pt, VA, FRAME(2), 0, PTE_R | PTE_A); /* read-only */
	hart_flush_tlb(&m->hart);
	struct code c = code_at(m, CODE_BASE);
	emit(&c, sd(T0, A0, 0));
	m->hart.x[A0] = VA;
	struct seen s;
	observe_run(m, &s, CODE_BASE, 1);
	assert_int_equal(s.n, 1);
	assert_true(s.e[0].trapped);
	assert_int_equal(s.e[0].naccess, 0);
	assert_int_equal(s.e[0].priv, PRIV_S);
	assert_mtrap(m, EXC_STORE_PAGE_FAULT, CODE_BASE, VA);

	set_priv(m, PRIV_S);
	poke(m, CODE_BASE, amo(AMO_SWAP, 3, T1, A0, T0), 4);
	observe_run(m, &s, CODE_BASE, 1);
	assert_int_equal(s.n, 1);
	assert_true(s.e[0].trapped);
	assert_int_equal(s.e[0].naccess, 0);
	assert_int_equal(s.e[0].x_written, 0);
	assert_mtrap(m, EXC_STORE_PAGE_FAULT, CODE_BASE, VA);
}

/* A fetch that faults decodes nothing: pc from the trap, insn 0. */
static void test_fetch_fault(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, jalr(ZERO, A0, 0));
	m->hart.x[A0] = 0x20;
	struct seen s;
	observe_run(m, &s, CODE_BASE, 2);
	assert_int_equal(s.n, 2);
	assert_false(s.e[0].trapped);
	assert_int_equal(s.e[0].x_read, X(A0));
	assert_true(s.e[1].trapped);
	assert_int_equal(s.e[1].pc, 0x20);
	assert_int_equal(s.e[1].insn, 0);
	assert_int_equal(s.e[1].priv, PRIV_M);
	assert_int_equal(s.e[1].x_read, 0);
	assert_mtrap(m, EXC_INSN_ACCESS, 0x20, 0x20);
}

/* An illegal instruction reads nothing either. */
static void test_illegal(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, flw(1, A0, 0)); /* mstatus.FS is off */
	struct seen s;
	observe_run(m, &s, CODE_BASE, 1);
	assert_true(s.e[0].trapped);
	assert_int_equal(s.e[0].insn, flw(1, A0, 0));
	assert_int_equal(s.e[0].x_read, 0);
	assert_int_equal(s.e[0].f_written, 0);
	assert_int_equal(s.e[0].naccess, 0);
	assert_mtrap(m, EXC_ILLEGAL_INSN, CODE_BASE, flw(1, A0, 0));
	/* a CSR it may not touch: named, neither read nor written */
	set_priv(m, PRIV_U);
	poke(m, CODE_BASE, csrrw(T0, CSR_MSCRATCH, T1), 4);
	observe_run(m, &s, CODE_BASE, 1);
	assert_true(s.e[0].trapped);
	assert_int_equal(s.e[0].priv, PRIV_U);
	assert_int_equal(s.e[0].csr, CSR_MSCRATCH);
	assert_false(s.e[0].csr_read);
	assert_false(s.e[0].csr_written);
	assert_int_equal(s.e[0].x_read | s.e[0].x_written, 0);
}

/* ---- registers of the instructions the programs above do not run ---- */

static void test_reg_use(void **state)
{
	(void)state;
	/* c.jalr a0 and c.lwsp a0, 4(sp), checked against their expansion */
	assert_int_equal(rvc_expand(0x9502), jalr(RA, A0, 0));
	assert_int_equal(rvc_expand(0x4512), lw(A0, SP, 4));
	const struct {
		uint32_t insn;
		uint32_t xr, xw, fr, fw;
	} cases[] = {
		{(4u << 27) | (1u << 25) | (3u << 20) | (2u << 15) | (7u << 12) | (1u << 7) | 0x43,
		 0, 0, X(2) | X(3) | X(4), X(1)}, /* fmadd.d f1, f2, f3, f4 */
		{enc_r(0x51, 2, 1, 2, T0, 0x53), 0, X(T0), X(1) | X(2), 0}, /* feq.d t0, f1, f2 */
		{enc_r(0x69, 2, T1, 7, 3, 0x53), X(T1), 0, 0, X(3)}, /* fcvt.d.l f3, t1 */
		{enc_r(0x71, 0, 4, 0, T2, 0x53), 0, X(T2), X(4), 0}, /* fmv.x.d t2, f4 */
		{enc_r(0x2d, 0, 5, 7, 6, 0x53), 0, 0, X(5), X(6)}, /* fsqrt.d f6, f5 */
		{jal(RA, 8), 0, X(RA), 0, 0},
		{jalr(ZERO, RA, 0), X(RA), 0, 0, 0}, /* ret */
		{beq(A0, A1, 8), X(A0) | X(A1), 0, 0, 0},
		{lui(T0, 1), 0, X(T0), 0, 0},
		{addi(ZERO, T0, 1), 0, 0, 0, 0}, /* a HINT: does nothing */
		{fence(), 0, 0, 0, 0},
		{sfence_vma(A0, A1), X(A0) | X(A1), 0, 0, 0},
		{ecall(), 0, 0, 0, 0},
		{0x9502, X(A0), X(RA), 0, 0}, /* c.jalr a0 */
		{0x4512, X(SP), X(A0), 0, 0}, /* c.lwsp a0, 4(sp) */
		/* bit manipulation: the JIT writes back the registers these say
		 * are written (it lost rev8's and sh1add's once) */
		{enc_r(0x10, A2, A1, 2, A0, 0x33), X(A1) | X(A2), X(A0), 0, 0}, /* sh1add a0, a1, a2 */
		{0x6b80d713, X(1), X(14), 0, 0}, /* rev8 a4, ra */
		{enc_r(0x30, 2, A1, 1, A0, 0x1b), X(A1), X(A0), 0, 0}, /* cpopw a0, a1 */
		{enc_r(0x07, A2, A1, 5, A0, 0x33), X(A1) | X(A2), X(A0), 0, 0}, /* czero.eqz a0, a1, a2 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct decoded_insn d;
		struct reg_use u;
		decode_insn(cases[i].insn, &d);
		decode_reg_use(&d, &u);
		assert_int_equal(u.x_read, cases[i].xr);
		assert_int_equal(u.x_written, cases[i].xw);
		assert_int_equal(u.f_read, cases[i].fr);
		assert_int_equal(u.f_written, cases[i].fw);
		assert_int_equal(u.csr, -1);
	}
}

/* ---- the observer changes nothing ---- */

/* A loop over an array under Sv39 in S-mode that loads, stores
 * (misaligned too), swaps with an AMO, counts with LR/SC and touches a
 * CSR; it writes its own next instruction (self-modifying code, which
 * decoded blocks must notice) and takes an illegal-instruction trap that
 * the M handler skips. */
static void load_workload(struct machine *m)
{
	struct pt pt;
	pt_init(&pt, m, 3);
	for (uint64_t p = CODE_BASE; p < CODE_BASE + 0x10000; p += 0x1000)
		pt_map(&pt, p, p, 0, PTE_R | PTE_W | PTE_X); /* A/D set by the walks */
	for (int f = 0; f < 8; f++)
		pt_map(&pt, VA + 0x1000 * (uint64_t)f, FRAME(7 - f), 0, PTE_R | PTE_W);
	pt_activate(&pt);
	set_priv(m, PRIV_S);
	struct code c = code_at(m, SKIP_BASE); /* as vm_setup's (harness.h) */
	emit(&c, csrr(T6, CSR_MEPC));
	emit(&c, addi(T6, T6, 4));
	emit(&c, csrw(CSR_MEPC, T6));
	emit(&c, mret());
	m->hart.mtvec = SKIP_BASE;
	set_mstatus_bits(m, MSTATUS_FS, 0);
	c = code_at(m, CODE_BASE);
	emit_li(&c, A0, VA);
	emit(&c, addi(A1, ZERO, 0)); /* i */
	emit_li(&c, A2, 2000); /* iterations */
	emit_li(&c, A3, CODE_BASE + 0x800); /* the patched instruction */
	uint64_t loop = c.pc;
	emit(&c, shift_imm(0, 1, T0, A1, 3)); /* t0 = i * 8 */
	emit(&c, op(0, 7, T0, T0, A4)); /* and t0, t0, a4 (a4 = mask) */
	emit(&c, add(T0, T0, A0));
	emit(&c, ld(T1, T0, 0));
	emit(&c, add(T1, T1, A1));
	emit(&c, sd(T1, T0, 0));
	emit(&c, sw(T1, T0, 3)); /* misaligned, sometimes across frames */
	emit(&c, amo(AMO_SWAP, 3, T2, A0, T1));
	emit(&c, lr_d(T3, A0));
	emit(&c, addi(T3, T3, 1));
	emit(&c, sc_d(T4, A0, T3));
	emit(&c, csrrw(T5, CSR_SSCRATCH, T1));
	emit(&c, fld(1, T0, 0));
	emit(&c, fsd(1, T0, 8));
	emit(&c, 0); /* illegal: the M handler skips it */
	emit(&c, addi(A1, A1, 1));
	emit(&c, jal(RA, (int32_t)(CODE_BASE + 0x800 - c.pc)));
	emit(&c, blt(A1, A2, (int32_t)(loop - c.pc)));
	emit_halt(&c);
	/* at +0x800: rewrite itself to `addi a5, a5, 1` on the first pass */
	struct code p = code_at(m, CODE_BASE + 0x800);
	emit(&p, addi(A5, A5, 100));
	emit(&p, sw(A6, A3, 0));
	emit(&p, jalr(ZERO, RA, 0));
	m->hart.x[A4] = 0x7ff8; /* 8 frames' worth of doublewords, some near frame ends */
	m->hart.x[A6] = addi(A5, A5, 1);
	m->hart.pc = CODE_BASE;
}

static void assert_same_state(struct machine *a, struct machine *b)
{
	uint8_t da[STATE_DIGEST_BYTES], db[STATE_DIGEST_BYTES];
	assert_int_equal(a->hart.icount, b->hart.icount);
	assert_int_equal(a->hart.pc, b->hart.pc);
	assert_int_equal(state_digest(a, da), 0);
	assert_int_equal(state_digest(b, db), 0);
	assert_memory_equal(da, db, sizeof(da));
}

static void test_observing_changes_nothing(void **state)
{
	(void)state;
	struct machine *plain = new_machine(BOARD_BARE, RAM_SIZE);
	struct machine *seen = new_machine(BOARD_BARE, RAM_SIZE);
	load_workload(plain);
	load_workload(seen);
	struct seen *s = calloc(1, sizeof(*s));
	/* observed for the first half, in slices that end anywhere */
	int id = taps_effect_subscribe(seen, record, s);
	assert_true(id >= 0);
	const uint64_t half = 30000;
	for (uint64_t n = 0, k; n < half; n += k) {
		k = half - n < 77 ? half - n : 77;
		s->n = 0;
		assert_int_equal(machine_run(seen, k), STOP_BUDGET);
		assert_int_equal(s->n, k);
	}
	assert_null(seen->hart.blocks);
	assert_int_equal(machine_run(plain, half), STOP_BUDGET);
	assert_same_state(plain, seen);
	assert_true(plain->hart.x[A5] > 100); /* the patch took */
	assert_true(plain->hart.x[A1] > 500 && plain->hart.x[A1] < 2000);
	/* then without: the two go on alike, seen with its blocks again */
	taps_effect_unsubscribe(seen, id);
	assert_null(seen->hart.effect_hook);
	assert_non_null(seen->hart.blocks);
	assert_int_equal(machine_run(plain, 40000), STOP_BUDGET);
	assert_int_equal(machine_run(seen, 40000), STOP_BUDGET);
	assert_same_state(plain, seen);
	assert_int_equal(plain->hart.x[A1], 2000); /* the loop ended */
	free(s);
	free_machine(plain);
	free_machine(seen);
}

/* ---- subscribers ---- */

static void test_subscribers(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, addi(T0, T0, 1));
	emit(&c, jal(ZERO, -4));
	struct seen *s = calloc(TAPS_MAX_SUBSCRIBERS, sizeof(*s));
	int ids[TAPS_MAX_SUBSCRIBERS];
	for (int i = 0; i < TAPS_MAX_SUBSCRIBERS; i++)
		assert_int_equal(ids[i] = taps_effect_subscribe(m, record, &s[i]), i);
	assert_int_equal(taps_effect_subscribe(m, record, s), -1);
	m->hart.pc = CODE_BASE;
	assert_int_equal(machine_run(m, 10), STOP_BUDGET);
	for (int i = 0; i < TAPS_MAX_SUBSCRIBERS; i++)
		assert_int_equal(s[i].n, 10);
	/* a slot given back is taken again; the others keep theirs */
	taps_effect_unsubscribe(m, ids[3]);
	assert_int_equal(taps_effect_subscribe(m, record, &s[3]), 3);
	for (int i = 0; i < TAPS_MAX_SUBSCRIBERS; i++)
		taps_effect_unsubscribe(m, ids[i]);
	assert_null(m->hart.effect_hook);
	assert_non_null(m->hart.blocks);
	assert_ptr_equal(m->hart.data_tlb, &m->hart.tlb_m);
	assert_int_equal(machine_run(m, 10), STOP_BUDGET);
	for (int i = 0; i < TAPS_MAX_SUBSCRIBERS; i++)
		assert_int_equal(s[i].n, 10);
	free(s);
}

/* A subscriber that leaves during its own call sees no more. */
static void leave_after_three(void *opaque, const struct tap_insn_effect *e)
{
	struct machine *m = opaque;
	(void)e;
	if (++m->hart.x[S2] == 3)
		taps_effect_unsubscribe(m, 0);
}

static void test_unsubscribe_in_callback(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, addi(T0, T0, 1));
	emit(&c, jal(ZERO, -4));
	assert_int_equal(taps_effect_subscribe(m, leave_after_three, m), 0);
	m->hart.pc = CODE_BASE;
	assert_int_equal(machine_run(m, 20), STOP_BUDGET);
	assert_int_equal(m->hart.x[S2], 3);
	assert_int_equal(m->hart.icount, 20);
	assert_null(m->hart.effect_hook);
}

/* A fork-clone forgets its parent's subscribers (taps_reset): the hart
 * stops observing and gets its blocks back. */
static void test_reset_stops_observing(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, addi(T0, T0, 1));
	emit(&c, jal(ZERO, -4));
	struct seen *s = calloc(1, sizeof(*s));
	assert_int_equal(taps_effect_subscribe(m, record, s), 0);
	m->hart.pc = CODE_BASE;
	assert_int_equal(machine_run(m, 5), STOP_BUDGET);
	assert_non_null(m->hart.effect_hook);
	assert_null(m->hart.blocks);
	assert_ptr_equal(m->hart.data_tlb, &m->hart.tlb_none);
	taps_reset(m);
	assert_null(m->hart.effect_hook);
	assert_non_null(m->hart.blocks);
	assert_ptr_equal(m->hart.data_tlb, &m->hart.tlb_m);
	assert_int_equal(machine_run(m, 5), STOP_BUDGET);
	assert_int_equal(s->n, 5);
	assert_int_equal(m->hart.x[T0], 5);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		VM_TEST(test_loads),
		VM_TEST(test_stores),
		VM_TEST(test_load_to_x0),
		VM_TEST(test_mmio),
		VM_TEST(test_misaligned_one_page),
		VM_TEST(test_misaligned_across_frames),
		VM_TEST(test_tlb_hit_reports_frame_used),
		VM_TEST(test_fp),
		VM_TEST(test_amo),
		VM_TEST(test_lr_sc),
		VM_TEST(test_csr),
		VM_TEST(test_compressed),
		VM_TEST(test_faulting_load),
		VM_TEST(test_faulting_store_and_amo),
		VM_TEST(test_fetch_fault),
		VM_TEST(test_illegal),
		cmocka_unit_test(test_reg_use),
		cmocka_unit_test(test_observing_changes_nothing),
		VM_TEST(test_subscribers),
		VM_TEST(test_unsubscribe_in_callback),
		VM_TEST(test_reset_stops_observing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
