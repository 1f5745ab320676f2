/* Decoding and execution of the integer, M, A, C and SYSTEM instructions
 * (src/cpu/exec.c), driven through hart_run() on a bare-metal machine.
 *
 * Expected values are worked out from the unprivileged spec by hand
 * (RV64I, M, A, C chapters); the ones that are easy to get wrong carry the
 * arithmetic in a comment.  Keel-specific choices the spec leaves open
 * (docs/cpu.md) are labelled "keel:" where a test relies on them.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "cpu/block.h"
#include "cpu/jit.h"
#include "harness.h"
#include "vm/taps.h"

/* ---- the encoders themselves ---- */

/* Words produced by GNU as 2.40 (riscv64-linux-gnu, -march=rv64gc,
 * .option norvc) for the source in the comment, pasted in once. */
static void test_encoders_match_gnu_as(void **state)
{
	(void)state;
	assert_int_equal(lui(T0, 0xfffff), 0xfffff2b7);          /* lui t0,0xfffff */
	assert_int_equal(jal(RA, 0xffffe), 0x7ffff0ef);          /* jal ra,.+0xffffe */
	assert_int_equal(jal(ZERO, -0x100000), 0x8000006f);      /* jal zero,.-0x100000 */
	assert_int_equal(jalr(RA, T1, -2048), 0x800300e7);       /* jalr ra,-2048(t1) */
	assert_int_equal(beq(T0, T1, 4094), 0x7e628fe3);         /* beq t0,t1,.+4094 */
	assert_int_equal(bne(A0, A1, -4096), 0x80b51063);        /* bne a0,a1,.-4096 */
	assert_int_equal(bge(T0, T1, -2), 0xfe62dfe3);           /* bge t0,t1,.-2 */
	assert_int_equal(sd(T1, A0, -2048), 0x80653023);         /* sd t1,-2048(a0) */
	assert_int_equal(sh(T1, A0, -33), 0xfc651fa3);           /* sh t1,-33(a0) */
	assert_int_equal(shift_imm(0x10, 5, T0, T1, 63), 0x43f35293); /* srai t0,t1,63 */
	assert_int_equal(op32(1, 7, T0, T1, T2), 0x027372bb);    /* remuw t0,t1,t2 */
	assert_int_equal(csrrwi(T0, CSR_MINSTRET, 31), 0xb02fd2f3); /* csrrwi t0,minstret,31 */
	assert_int_equal(sc_w(T0, A1, A0), 0x18a5a2af);          /* sc.w t0,a0,(a1) */
	assert_int_equal(amo(AMO_MAXU, 3, T0, A0, A1), 0xe0b532af); /* amomaxu.d t0,a1,(a0) */
	assert_int_equal(sfence_vma(A0, A1), 0x12b50073);        /* sfence.vma a0,a1 */
}

/* emit_li is used by many tests; check it against values that exercise
 * each of its paths. */
static void test_emit_li(void **state)
{
	struct machine *m = *state;
	static const uint64_t values[] = {
		0, 1, 2047, (uint64_t)-2048, 0x7ffff800, 0x80000000, 0xffffffff,
		0xffffffff80000000, 0x123456789abcdef0, 0x8000000000000000,
		0x7fffffffffffffff, 0xffffffffffffffff, DRAM_BASE + 0x1ffd,
	};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct code c = code_at(m, CODE_BASE);
		emit_li(&c, A0, values[i]);
		uint64_t halt = emit_halt(&c);
		run_from(m, CODE_BASE, 64);
		assert_int_equal(m->hart.pc, halt);
		assert_int_equal(m->hart.x[A0], values[i]);
	}
}

/* ---- immediates ---- */

static void test_imm_i_extremes(void **state)
{
	struct machine *m = *state;
	m->hart.x[T1] = 5;
	exec1(m, addi(T0, T1, -2048));
	assert_int_equal(m->hart.x[T0], (uint64_t)(5 - 2048));
	exec1(m, addi(T0, T1, 2047));
	assert_int_equal(m->hart.x[T0], 5 + 2047);
	exec1(m, addi(T0, ZERO, -1));
	assert_int_equal(m->hart.x[T0], UINT64_MAX);
	/* Load offsets are I-immediates too. */
	m->hart.x[A0] = DATA_BASE + 0x1000;
	poke(m, DATA_BASE + 0x800, 0x11, 1);
	poke(m, DATA_BASE + 0x17ff, 0x22, 1);
	exec1(m, lbu(T0, A0, -2048));
	assert_int_equal(m->hart.x[T0], 0x11);
	exec1(m, lbu(T0, A0, 2047));
	assert_int_equal(m->hart.x[T0], 0x22);
}

static void test_imm_s_extremes(void **state)
{
	struct machine *m = *state;
	m->hart.x[A0] = DATA_BASE + 0x1000;
	m->hart.x[T1] = 0xa5;
	exec1(m, sb(T1, A0, -2048));
	exec1(m, sb(T1, A0, 2047));
	exec1(m, sb(T1, A0, -1));
	exec1(m, sb(T1, A0, 31)); /* imm[4:0] only */
	exec1(m, sb(T1, A0, 32)); /* imm[11:5] only */
	assert_int_equal(peek(m, DATA_BASE + 0x800, 1), 0xa5);
	assert_int_equal(peek(m, DATA_BASE + 0x17ff, 1), 0xa5);
	assert_int_equal(peek(m, DATA_BASE + 0xfff, 1), 0xa5);
	assert_int_equal(peek(m, DATA_BASE + 0x101f, 1), 0xa5);
	assert_int_equal(peek(m, DATA_BASE + 0x1020, 1), 0xa5);
	assert_int_equal(peek(m, DATA_BASE + 0x1000, 1), 0); /* nothing at offset 0 */
}

static void test_imm_u(void **state)
{
	struct machine *m = *state;
	exec1(m, lui(T0, 0xfffff));
	assert_int_equal(m->hart.x[T0], 0xfffffffffffff000);
	exec1(m, lui(T0, 0x80000)); /* bit 31 set: sign-extends on RV64 */
	assert_int_equal(m->hart.x[T0], 0xffffffff80000000);
	exec1(m, lui(T0, 0x7ffff));
	assert_int_equal(m->hart.x[T0], 0x7ffff000);
	exec1(m, auipc(T0, 0x80000)); /* pc - 2^31 */
	assert_int_equal(m->hart.x[T0], CODE_BASE - 0x80000000ULL);
	exec1(m, auipc(T0, 1));
	assert_int_equal(m->hart.x[T0], CODE_BASE + 0x1000);
}

/* Execute one branch at `at` and return where it went. */
static uint64_t branch_target(struct machine *m, uint64_t at, uint32_t insn)
{
	poke(m, at, insn, 4);
	m->hart.pc = at;
	assert_int_equal(run(m, 1), 1);
	return m->hart.pc;
}

static void test_imm_b_extremes(void **state)
{
	struct machine *m = *state;
	uint64_t at = CODE_BASE + 0x2000;
	m->hart.x[T0] = m->hart.x[T1] = 7;
	assert_int_equal(branch_target(m, at, beq(T0, T1, 4094)), at + 4094);
	assert_int_equal(branch_target(m, at, beq(T0, T1, -4096)), at - 4096);
	assert_int_equal(branch_target(m, at, beq(T0, T1, 2048)), at + 2048); /* imm[11] */
	assert_int_equal(branch_target(m, at, beq(T0, T1, 2)), at + 2);
	assert_int_equal(branch_target(m, at, beq(T0, T1, 0x7e0)), at + 0x7e0); /* imm[10:5] */
	assert_int_equal(branch_target(m, at, beq(T0, T1, 0x1e)), at + 0x1e); /* imm[4:1] */
	assert_int_equal(branch_target(m, at, bne(T0, T1, -4096)), at + 4);
}

static void test_imm_j_extremes(void **state)
{
	struct machine *m = *state;
	uint64_t at = CODE_BASE + 0x100000;
	assert_int_equal(branch_target(m, at, jal(RA, 0xffffe)), at + 0xffffe);
	assert_int_equal(m->hart.x[RA], at + 4);
	assert_int_equal(branch_target(m, at, jal(RA, -0x100000)), at - 0x100000);
	assert_int_equal(branch_target(m, at, jal(RA, 0x800)), at + 0x800); /* imm[11] */
	assert_int_equal(branch_target(m, at, jal(RA, 0xff000)), at + 0xff000); /* imm[19:12] */
	assert_int_equal(branch_target(m, at, jal(RA, 0x7fe)), at + 0x7fe); /* imm[10:1] */
}

static void test_jalr(void **state)
{
	struct machine *m = *state;
	m->hart.x[T1] = DATA_BASE + 0x801;
	/* target = (rs1 + imm) & ~1 */
	assert_int_equal(branch_target(m, CODE_BASE, jalr(RA, T1, -2048)), DATA_BASE);
	assert_int_equal(m->hart.x[RA], CODE_BASE + 4);
	assert_int_equal(branch_target(m, CODE_BASE, jalr(RA, T1, 2047)), DATA_BASE + 0x1000);
	/* rd == rs1: the target uses the old value */
	m->hart.x[T1] = DATA_BASE;
	assert_int_equal(branch_target(m, CODE_BASE, jalr(T1, T1, 8)), DATA_BASE + 8);
	assert_int_equal(m->hart.x[T1], CODE_BASE + 4);
}

/* A short loop run end to end: a backward branch taken 9 times. */
static void test_backward_branch_loop(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, addi(T0, ZERO, 10));
	emit(&c, addi(T1, ZERO, 0));
	emit(&c, addi(T1, T1, 3));  /* loop: */
	emit(&c, addi(T0, T0, -1));
	emit(&c, bne(T0, ZERO, -8));
	uint64_t halt = emit_halt(&c);
	run_from(m, CODE_BASE, 2 + 3 * 10);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[T1], 30);
}

struct branch_case {
	const char *name;
	unsigned funct3;
	uint64_t a, b;
	bool taken;
};

static void test_branch_conditions(void **state)
{
	struct machine *m = *state;
	static const struct branch_case cases[] = {
		{"beq equal", 0, 5, 5, true},      {"beq differ", 0, 5, 6, false},
		{"bne equal", 1, 5, 5, false},     {"bne differ", 1, 5, 6, true},
		{"blt -1<1", 4, UINT64_MAX, 1, true}, {"blt 1<-1", 4, 1, UINT64_MAX, false},
		{"blt equal", 4, 3, 3, false},     {"bge equal", 5, 3, 3, true},
		{"bge -1>=1", 5, UINT64_MAX, 1, false}, {"bge 1>=-1", 5, 1, UINT64_MAX, true},
		{"bltu -1<1", 6, UINT64_MAX, 1, false}, {"bltu 1<-1", 6, 1, UINT64_MAX, true},
		{"bgeu -1>=1", 7, UINT64_MAX, 1, true}, {"bgeu equal", 7, 9, 9, true},
		{"bgeu 1>=-1", 7, 1, UINT64_MAX, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct branch_case *k = &cases[i];
		m->hart.x[T0] = k->a;
		m->hart.x[T1] = k->b;
		uint64_t to = branch_target(m, CODE_BASE, enc_b(64, T1, T0, k->funct3));
		if (to != CODE_BASE + (k->taken ? 64 : 4))
			fail_msg("%s: pc 0x%llx", k->name, (unsigned long long)to);
	}
	/* funct3 2 and 3 are not branches */
	m->hart.mtvec = MTRAP_BASE;
	uint32_t bad = enc_b(64, T1, T0, 2);
	poke(m, CODE_BASE, bad, 4);
	run_from(m, CODE_BASE, 1);
	assert_mtrap(m, EXC_ILLEGAL_INSN, CODE_BASE, bad);
}

/* ---- ALU ---- */

struct alu_case {
	const char *name;
	uint32_t insn; /* computes t0 from t1 and t2 */
	uint64_t a, b, want;
};

static void check_alu(struct machine *m, const struct alu_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct alu_case *k = &cases[i];
		m->hart.x[T0] = 0x5555555555555555;
		m->hart.x[T1] = k->a;
		m->hart.x[T2] = k->b;
		exec1(m, k->insn);
		if (m->hart.x[T0] != k->want)
			fail_msg("%s(0x%llx, 0x%llx) = 0x%llx, want 0x%llx", k->name,
				 (unsigned long long)k->a, (unsigned long long)k->b,
				 (unsigned long long)m->hart.x[T0], (unsigned long long)k->want);
		assert_int_equal(m->hart.pc, CODE_BASE + 4);
	}
}

#define N_CASES(a) (sizeof(a) / sizeof((a)[0]))
#define RR(f7, f3) op(f7, f3, T0, T1, T2)
#define RR32(f7, f3) op32(f7, f3, T0, T1, T2)

static void test_alu_register(void **state)
{
	static const uint64_t MIN = 0x8000000000000000, MAX = 0x7fffffffffffffff;
	static const uint64_t P = 0xff00ff00ff00ff00, Q = 0x0ff00ff00ff00ff0;
	const struct alu_case cases[] = {
		{"add", RR(0, 0), MAX, 1, MIN},
		{"add", RR(0, 0), UINT64_MAX, 1, 0},
		{"sub", RR(0x20, 0), 0, 1, UINT64_MAX},
		{"sub", RR(0x20, 0), MIN, 1, MAX},
		{"sll", RR(0, 1), 1, 63, MIN},
		{"sll by 65 uses 1", RR(0, 1), 1, 65, 2},
		{"sll by ...c0 uses 0", RR(0, 1), 1, 0xffffffffffffffc0, 1},
		{"slt", RR(0, 2), UINT64_MAX, 1, 1},
		{"slt", RR(0, 2), 1, UINT64_MAX, 0},
		{"slt equal", RR(0, 2), 4, 4, 0},
		{"sltu", RR(0, 3), UINT64_MAX, 1, 0},
		{"sltu", RR(0, 3), 1, UINT64_MAX, 1},
		{"xor", RR(0, 4), P, Q, 0xf0f0f0f0f0f0f0f0},
		{"srl", RR(0, 5), MIN, 63, 1},
		{"srl by 68 uses 4", RR(0, 5), MIN, 68, 0x0800000000000000},
		{"sra", RR(0x20, 5), MIN, 63, UINT64_MAX},
		{"sra by 68 uses 4", RR(0x20, 5), MIN, 68, 0xf800000000000000},
		{"sra positive", RR(0x20, 5), MAX, 62, 1},
		{"or", RR(0, 6), P, Q, 0xfff0fff0fff0fff0},
		{"and", RR(0, 7), P, Q, 0x0f000f000f000f00},
		{"addw overflow", RR32(0, 0), 0x7fffffff, 1, 0xffffffff80000000},
		{"addw ignores upper", RR32(0, 0), 0xffffffff00000001, 0x0000000100000002, 3},
		{"subw", RR32(0x20, 0), 0, 1, UINT64_MAX},
		{"subw positive", RR32(0x20, 0), 0x80000000, 1, 0x7fffffff},
		{"sllw", RR32(0, 1), 1, 31, 0xffffffff80000000},
		{"sllw by 33 uses 1", RR32(0, 1), 1, 33, 2},
		{"sllw drops upper", RR32(0, 1), 0xffffffff00000001, 4, 0x10},
		{"srlw", RR32(0, 5), 0x80000000, 31, 1},
		{"srlw by 0 sign-extends", RR32(0, 5), 0x0000000080000000, 0, 0xffffffff80000000},
		{"srlw by 32 uses 0", RR32(0, 5), 0x80000000, 32, 0xffffffff80000000},
		{"srlw ignores upper", RR32(0, 5), 0xffffffff80000000, 1, 0x40000000},
		{"sraw", RR32(0x20, 5), 0x80000000, 31, UINT64_MAX},
		{"sraw by 35 uses 3", RR32(0x20, 5), 0x80000000, 35, 0xfffffffff0000000},
		{"sraw positive", RR32(0x20, 5), 0xffffffff7fffffff, 4, 0x07ffffff},
	};
	check_alu(*state, cases, N_CASES(cases));
}

#define RI(f3, imm) enc_i(imm, T1, f3, T0, OPC_OP_IMM)
#define RI32(f3, imm) enc_i(imm, T1, f3, T0, OPC_OP_IMM_32)
#define SHI(f6, f3, sh) shift_imm(f6, f3, T0, T1, sh)
#define SHIW(f7, f3, sh) enc_i((f7) << 5 | (sh), T1, f3, T0, OPC_OP_IMM_32)

static void test_alu_immediate(void **state)
{
	const struct alu_case cases[] = {
		{"addi", RI(0, -2048), 5, 0, 0xfffffffffffff805},
		{"slti", RI(2, 0), UINT64_MAX, 0, 1},
		{"slti", RI(2, -1), 0, 0, 0},
		{"slti -2049<-2048", RI(2, -2048), (uint64_t)-2049, 0, 1},
		{"sltiu seqz", RI(3, 1), 0, 0, 1},
		{"sltiu seqz", RI(3, 1), 5, 0, 0},
		{"sltiu imm -1 is 2^64-1", RI(3, -1), 0xfffffffffffffffe, 0, 1},
		{"xori not", RI(4, -1), 0x1234, 0, 0xffffffffffffedcb},
		{"ori", RI(6, -2048), 0x7ff, 0, UINT64_MAX},
		{"andi", RI(7, -2048), UINT64_MAX, 0, 0xfffffffffffff800},
		{"andi", RI(7, 2047), UINT64_MAX, 0, 0x7ff},
		{"slli 63", SHI(0, 1, 63), 3, 0, 0x8000000000000000},
		{"slli 0", SHI(0, 1, 0), 0x1234, 0, 0x1234},
		{"srli 63", SHI(0, 5, 63), UINT64_MAX, 0, 1},
		{"srli 32", SHI(0, 5, 32), 0xabcdef0012345678, 0, 0xabcdef00},
		{"srai 63", SHI(0x10, 5, 63), 0x8000000000000000, 0, UINT64_MAX},
		{"srai 4", SHI(0x10, 5, 4), 0x8000000000000000, 0, 0xf800000000000000},
		{"addiw overflow", RI32(0, 1), 0x7fffffff, 0, 0xffffffff80000000},
		{"sext.w", RI32(0, 0), 0x00000000ffffffff, 0, UINT64_MAX},
		{"addiw ignores upper", RI32(0, -1), 0x1234567800000000, 0, UINT64_MAX},
		{"slliw 31", SHIW(0, 1, 31), 1, 0, 0xffffffff80000000},
		{"srliw 0", SHIW(0, 5, 0), 0x80000000, 0, 0xffffffff80000000},
		{"srliw 31", SHIW(0, 5, 31), 0xffffffff80000000, 0, 1},
		{"sraiw 31", SHIW(0x20, 5, 31), 0x80000000, 0, UINT64_MAX},
		{"sraiw 4", SHIW(0x20, 5, 4), 0x80000000, 0, 0xfffffffff8000000},
	};
	check_alu(*state, cases, N_CASES(cases));
}

/* Shift encodings with stray funct bits, and OP funct7 values that are not
 * defined, are illegal. */
static void test_alu_illegal_encodings(void **state)
{
	struct machine *m = *state;
	const uint32_t bad[] = {
		SHIW(1, 1, 0),         /* slliw with shamt[5] set */
		SHIW(0x21, 5, 1),      /* sraiw with a stray funct7 bit */
		SHI(0x01, 1, 3),       /* slli with funct6 = 1 */
		SHI(0x11, 5, 3),       /* srai with funct6 = 0x11 */
		RR(0x20, 1),           /* "sub" form of sll */
		RR(0x02, 0),           /* funct7 = 2 */
		RR32(1, 1),            /* mulhw does not exist */
		RR32(0, 2),            /* slt has no W form */
		RI32(2, 0),            /* slti has no W form */
		0xffffffff,
	};
	for (size_t i = 0; i < N_CASES(bad); i++) {
		poke(m, CODE_BASE, bad[i], 4);
		m->hart.x[T0] = 77;
		run_from(m, CODE_BASE, 1);
		assert_mtrap(m, EXC_ILLEGAL_INSN, CODE_BASE, bad[i]);
		assert_int_equal(m->hart.x[T0], 77);
	}
}

static void test_mul_div(void **state)
{
	static const uint64_t MIN = 0x8000000000000000, M1 = UINT64_MAX;
	const struct alu_case cases[] = {
		{"mul", RR(1, 0), M1, M1, 1},
		{"mul", RR(1, 0), 0x100000000, 0x100000000, 0},
		{"mul", RR(1, 0), 0x123456789, 0x1000, 0x123456789000},
		{"mulh (-1)(-1)", RR(1, 1), M1, M1, 0},
		{"mulh min*min = 2^126", RR(1, 1), MIN, MIN, 0x4000000000000000},
		{"mulh -1*1", RR(1, 1), M1, 1, M1},
		{"mulhsu -1*(2^64-1)", RR(1, 2), M1, M1, M1},
		{"mulhsu 2*(2^64-1)", RR(1, 2), 2, M1, 1},
		{"mulhu", RR(1, 3), M1, M1, 0xfffffffffffffffe},
		{"mulhu", RR(1, 3), 1ULL << 32, 1ULL << 32, 1},
		{"div truncates", RR(1, 4), (uint64_t)-7, 2, (uint64_t)-3},
		{"div", RR(1, 4), 7, (uint64_t)-2, (uint64_t)-3},
		{"div by zero", RR(1, 4), 7, 0, M1},
		{"div overflow", RR(1, 4), MIN, M1, MIN},
		{"divu", RR(1, 5), M1, 2, 0x7fffffffffffffff},
		{"divu by zero", RR(1, 5), 7, 0, M1},
		{"rem", RR(1, 6), (uint64_t)-7, 2, M1},
		{"rem", RR(1, 6), 7, (uint64_t)-2, 1},
		{"rem by zero", RR(1, 6), (uint64_t)-7, 0, (uint64_t)-7},
		{"rem overflow", RR(1, 6), MIN, M1, 0},
		{"remu", RR(1, 7), M1, 10, 5},
		{"remu by zero", RR(1, 7), M1, 0, M1},
		{"mulw", RR32(1, 0), 0x7fffffff, 2, 0xfffffffffffffffe},
		{"mulw ignores upper", RR32(1, 0), 0xabcd000000000003, 0x1234000000000005, 15},
		{"divw", RR32(1, 4), 0x00000001fffffff9, 2, (uint64_t)-3},
		{"divw by zero", RR32(1, 4), 5, 0xffffffff00000000, M1},
		{"divw overflow", RR32(1, 4), 0x80000000, M1, 0xffffffff80000000},
		{"divuw", RR32(1, 5), 0xffffffff, 2, 0x7fffffff},
		{"divuw sign-extends", RR32(1, 5), 0x80000000, 1, 0xffffffff80000000},
		{"divuw by zero", RR32(1, 5), 5, 0, M1},
		{"remw", RR32(1, 6), 0xfffffff9, 2, M1},
		{"remw by zero", RR32(1, 6), 0x0000000080000000, 0, 0xffffffff80000000},
		{"remw overflow", RR32(1, 6), 0x80000000, M1, 0},
		{"remuw", RR32(1, 7), 7, 3, 1},
		{"remuw is unsigned", RR32(1, 7), 0xffffffff, 10, 5},
		{"remuw by zero", RR32(1, 7), 0x80000001, 0, 0xffffffff80000001},
	};
	check_alu(*state, cases, N_CASES(cases));
}

/* ---- loads and stores ---- */

static void test_load_extension(void **state)
{
	struct machine *m = *state;
	poke64(m, DATA_BASE, 0x8081828384858687);
	poke64(m, DATA_BASE + 8, 0x7071727374757677);
	m->hart.x[A0] = DATA_BASE;
	const struct {
		uint32_t insn;
		uint64_t want;
	} cases[] = {
		{lb(T0, A0, 0), 0xffffffffffffff87}, {lbu(T0, A0, 0), 0x87},
		{lh(T0, A0, 0), 0xffffffffffff8687}, {lhu(T0, A0, 0), 0x8687},
		{lw(T0, A0, 0), 0xffffffff84858687}, {lwu(T0, A0, 0), 0x84858687},
		{ld(T0, A0, 0), 0x8081828384858687}, {lb(T0, A0, 8), 0x77},
		{lh(T0, A0, 8), 0x7677},             {lw(T0, A0, 8), 0x74757677},
		{lb(T0, A0, 7), 0xffffffffffffff80}, {lhu(T0, A0, 6), 0x8081},
	};
	for (size_t i = 0; i < N_CASES(cases); i++) {
		exec1(m, cases[i].insn);
		assert_int_equal(m->hart.x[T0], cases[i].want);
	}
	/* funct3 7 is not a load */
	poke(m, CODE_BASE, load(7, T0, A0, 0), 4);
	run_from(m, CODE_BASE, 1);
	assert_mtrap(m, EXC_ILLEGAL_INSN, CODE_BASE, load(7, T0, A0, 0));
}

static void test_store_widths(void **state)
{
	struct machine *m = *state;
	m->hart.x[A0] = DATA_BASE;
	m->hart.x[T1] = 0x1122334455667788;
	for (unsigned f3 = 0; f3 < 4; f3++) {
		poke64(m, DATA_BASE, 0xaaaaaaaaaaaaaaaa);
		poke64(m, DATA_BASE + 8, 0xaaaaaaaaaaaaaaaa);
		exec1(m, store(f3, T1, A0, 0));
		unsigned bytes = 1u << f3;
		uint64_t keep = bytes == 8 ? 0 : ~0ULL << (8 * bytes);
		assert_int_equal(peek64(m, DATA_BASE),
				 (0xaaaaaaaaaaaaaaaa & keep) | (0x1122334455667788 & ~keep));
		assert_int_equal(peek64(m, DATA_BASE + 8), 0xaaaaaaaaaaaaaaaa);
	}
	poke(m, CODE_BASE, store(4, T1, A0, 0), 4);
	run_from(m, CODE_BASE, 1);
	assert_mtrap(m, EXC_ILLEGAL_INSN, CODE_BASE, store(4, T1, A0, 0));
}

/* keel: misaligned loads and stores are emulated, not trapped. */
static void test_misaligned_in_page(void **state)
{
	struct machine *m = *state;
	for (unsigned i = 0; i < 16; i++)
		poke(m, DATA_BASE + i, 0x80 + i, 1);
	m->hart.x[A0] = DATA_BASE;
	exec1(m, lw(T0, A0, 1));
	assert_int_equal(m->hart.x[T0], 0xffffffff84838281);
	exec1(m, lwu(T0, A0, 1));
	assert_int_equal(m->hart.x[T0], 0x84838281);
	exec1(m, ld(T0, A0, 3));
	assert_int_equal(m->hart.x[T0], 0x8a89888786858483);
	exec1(m, lh(T0, A0, 7));
	assert_int_equal(m->hart.x[T0], 0xffffffffffff8887);
	m->hart.x[T1] = 0x0102030405060708;
	exec1(m, sd(T1, A0, 5));
	/* bytes 5..12 = 08 07 06 05 04 03 02 01 */
	assert_int_equal(peek64(m, DATA_BASE), 0x0607088483828180);
	assert_int_equal(peek64(m, DATA_BASE + 8), 0x8f8e8d0102030405);
	exec1(m, sh(T1, A0, 15));
	assert_int_equal(peek(m, DATA_BASE + 15, 2), 0x0708);
	assert_int_equal(m->hart.mcause, 0); /* no trap was taken */
}

/* Crossing a 4 KiB boundary in bare mode (physically contiguous). */
static void test_misaligned_page_crossing_bare(void **state)
{
	struct machine *m = *state;
	uint64_t edge = DATA_BASE + 0x1000;
	poke64(m, edge - 4, 0x1122334455667788);
	m->hart.x[A0] = edge;
	exec1(m, ld(T0, A0, -3));
	assert_int_equal(m->hart.x[T0], 0x0011223344556677);
	m->hart.x[T1] = 0xa1a2a3a4a5a6a7a8;
	exec1(m, sd(T1, A0, -1));
	assert_int_equal(peek(m, edge - 1, 1), 0xa8);
	assert_int_equal(peek(m, edge, 4), 0xa4a5a6a7);
	assert_int_equal(peek(m, edge + 4, 3), 0xa1a2a3);
	/* and a fast-path load of the same data afterwards still agrees */
	exec1(m, ld(T0, A0, 0));
	assert_int_equal(m->hart.x[T0], 0x00a1a2a3a4a5a6a7);
}

/* Crossing into a virtual page that maps a physically distant frame: the
 * bytes must come from both frames, not from the contiguous physical
 * neighbour. */
static void test_misaligned_page_crossing_mapped(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	pt_init(&pt, m, 3);
	uint64_t va = 0x40000000;
	uint64_t frame0 = DATA_BASE + 0x5000, frame1 = DATA_BASE + 0x2000;
	pt_map(&pt, CODE_BASE, CODE_BASE, 0, PTE_R | PTE_X | PTE_A);
	pt_map(&pt, va, frame0, 0, PTE_R | PTE_W | PTE_A | PTE_D);
	pt_map(&pt, va + 0x1000, frame1, 0, PTE_R | PTE_W | PTE_A | PTE_D);
	pt_activate(&pt);
	set_priv(m, PRIV_S);
	poke(m, frame0 + 0xffe, 0x2211, 2);
	poke(m, frame1, 0x66554433, 4);
	poke(m, frame0 + 0x1000, 0xeeeeeeee, 4); /* the physical neighbour: must not be read */
	m->hart.x[A0] = va + 0xffe;
	exec1(m, lw(T0, A0, 0));
	assert_int_equal(m->hart.x[T0], 0x44332211);
	exec1(m, ld(T0, A0, 0));
	assert_int_equal(m->hart.x[T0], 0x0000665544332211);
	m->hart.x[T1] = 0x0807060504030201;
	exec1(m, sd(T1, A0, -3)); /* va+0xffb .. va+0x1002 */
	assert_int_equal(peek(m, frame0 + 0xffb, 5), 0x0504030201);
	assert_int_equal(peek(m, frame1, 3), 0x080706);
	assert_int_equal(peek(m, frame0 + 0x1000, 4), 0xeeeeeeee);

	/* Second page unmapped: the store faults and writes nothing.
	 * keel: stval is the first address of the faulting page. */
	uint64_t hole = 0x40100000;
	pt_map(&pt, hole - 0x1000, frame0, 0, PTE_R | PTE_W | PTE_A | PTE_D);
	hart_flush_tlb(&m->hart);
	poke64(m, frame0 + 0xff8, 0);
	m->hart.x[A0] = hole - 2;
	m->hart.medeleg = 1u << EXC_STORE_PAGE_FAULT | 1u << EXC_LOAD_PAGE_FAULT;
	poke(m, CODE_BASE, sw(T1, A0, 0), 4);
	run_from(m, CODE_BASE, 1);
	assert_strap(m, EXC_STORE_PAGE_FAULT, CODE_BASE, hole);
	assert_int_equal(peek64(m, frame0 + 0xff8), 0);
	set_priv(m, PRIV_S);
	m->hart.x[T0] = 99;
	poke(m, CODE_BASE, lw(T0, A0, 0), 4);
	run_from(m, CODE_BASE, 1);
	assert_strap(m, EXC_LOAD_PAGE_FAULT, CODE_BASE, hole);
	assert_int_equal(m->hart.x[T0], 99);
}

/* ---- x0 ---- */

/* Every kind of instruction that writes rd, aimed at x0; later reads of
 * x0 must still see zero. */
static void test_x0_stays_zero(void **state)
{
	struct machine *m = *state;
	poke64(m, DATA_BASE, 0x1234);
	poke64(m, DATA_BASE + 8, 0xffff);
	m->hart.mscratch = 0x77;
	m->hart.x[T0] = m->hart.x[T1] = m->hart.x[T2] = 0xdead;
	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, A0, DATA_BASE);
	emit(&c, ld(ZERO, A0, 0));
	emit(&c, addi(T0, ZERO, 0));
	emit(&c, addi(ZERO, ZERO, 5));
	emit(&c, lui(ZERO, 0x12345));
	emit(&c, auipc(ZERO, 1));
	emit(&c, jal(ZERO, 4));
	emit(&c, csrr(ZERO, CSR_MSCRATCH));
	emit(&c, amo(AMO_ADD, 3, ZERO, A0, A0));
	emit(&c, lr_d(ZERO, A0));
	emit(&c, op(1, 0, ZERO, A0, A0)); /* mul */
	emit(&c, add(T1, ZERO, ZERO));
	emit(&c, sd(ZERO, A0, 8));
	emit(&c, op(0, 6, T2, ZERO, ZERO)); /* or t2, x0, x0 */
	uint64_t halt = emit_halt(&c);
	run_from(m, CODE_BASE, 100);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[T0], 0);
	assert_int_equal(m->hart.x[T1], 0);
	assert_int_equal(m->hart.x[T2], 0);
	assert_int_equal(peek64(m, DATA_BASE + 8), 0);
}

/* ---- compressed ---- */

/* Words from GNU as (-march=rv64gc, .option rvc). */
#define C_LI_A0_M1 0x557d       /* c.li a0,-1 */
#define C_ADDIW_A0_1 0x2505     /* c.addiw a0,1 */
#define C_LUI_A1_FFFE1 0x7585   /* c.lui a1,0xfffe1 */
#define C_ADDI_T0_M32 0x1281    /* c.addi t0,-32 */
#define C_ADDI_T0_31 0x02fd     /* c.addi t0,31 */
#define C_JALR_T1 0x9302        /* c.jalr t1 */
#define C_EBREAK 0x9002         /* c.ebreak */
#define C_BEQZ_A0_4 0xc111      /* c.beqz a0,.+4 */
#define C_BNEZ_A0_4 0xe111      /* c.bnez a0,.+4 */
#define C_J_4 0xa011            /* c.j .+4 */
#define C_J_M2048 0xb001        /* c.j .-2048 */
#define C_ADD_A2_A1 0x962e      /* c.add a2,a1 */
#define C_SDSP_A0_504 0xffaa    /* c.sdsp a0,504(sp) */
#define C_LDSP_A3_8 0x66a2      /* c.ldsp a3,8(sp) */
#define C_FLD_FS0_A5 0x2380     /* c.fld fs0,0(a5) */

/* A mixed 16/32-bit stream, 32-bit instructions at 2-mod-4 addresses,
 * compressed jumps and branches. */
static void test_compressed_stream(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	m->hart.x[A2] = 5;
	emit16(&c, C_LI_A0_M1);                      /* +0  a0 = -1 */
	emit16(&c, C_ADDIW_A0_1);                    /* +2  a0 = 0 */
	emit16(&c, C_LUI_A1_FFFE1);                  /* +4  a1 = sext(0xfffe1000) */
	emit(&c, addi(T0, ZERO, 100));               /* +6  32-bit at pc % 4 == 2 */
	emit16(&c, C_ADDI_T0_M32);                   /* +10 t0 = 68 */
	emit16(&c, C_ADDI_T0_31);                    /* +12 t0 = 99 */
	emit(&c, auipc(T1, 0));                      /* +14 t1 = base + 14 */
	emit(&c, addi(T1, T1, 14));                  /* +18 t1 = base + 28 */
	uint64_t jalr_at = emit16(&c, C_JALR_T1);    /* +22 ra = base + 24 */
	emit16(&c, C_EBREAK);                        /* +24 skipped */
	emit16(&c, C_EBREAK);                        /* +26 skipped */
	emit16(&c, C_BEQZ_A0_4);                     /* +28 taken */
	emit16(&c, C_EBREAK);                        /* +30 skipped */
	emit16(&c, C_BNEZ_A0_4);                     /* +32 not taken */
	emit16(&c, C_J_4);                           /* +34 */
	emit16(&c, C_EBREAK);                        /* +36 skipped */
	emit16(&c, C_ADD_A2_A1);                     /* +38 a2 += a1 */
	uint64_t halt = emit_halt(&c);               /* +40 */
	assert_int_equal(jalr_at, CODE_BASE + 22);
	m->hart.pc = CODE_BASE;
	assert_int_equal(run(m, 13), 13);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.icount, 13);
	assert_int_equal(m->hart.x[A0], 0);
	assert_int_equal(m->hart.x[A1], 0xfffffffffffe1000);
	assert_int_equal(m->hart.x[T0], 99);
	assert_int_equal(m->hart.x[RA], CODE_BASE + 24); /* link = pc + 2 */
	assert_int_equal(m->hart.x[A2], 5 + 0xfffffffffffe1000);
	assert_int_equal(m->hart.mcause, 0);
}

/* ---- the block cache (docs/cpu.md): code that changes runs as changed ---- */

/* A guest store over an instruction that has already run (and so sits in
 * a decoded block) takes effect the next time it runs, with or without
 * FENCE.I: a block is used only while memory holds the bytes it was
 * decoded from. */
static void test_store_over_cached_instruction(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, T1, addi(A0, A0, 100));
	emit(&c, addi(A1, ZERO, 2));
	uint64_t loop = emit(&c, auipc(T0, 0));      /* t0 = loop */
	emit(&c, addi(A0, A0, 1));                   /* loop+4: patched below */
	emit(&c, addi(A1, A1, -1));
	emit(&c, beq(A1, ZERO, 12));
	emit(&c, sw(T1, T0, 4));                     /* patch loop+4 */
	emit(&c, jal(ZERO, -20));
	uint64_t halt = emit_halt(&c);
	run_from(m, CODE_BASE, 200);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(loop + 24, halt);
	assert_int_equal(m->hart.x[A0], 1 + 100);
}

/* The store patches the instruction right after itself, in the block
 * being run, which ran (and was decoded) on the previous iteration: the
 * block ends after the store. */
static void test_store_into_next_instruction(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, T1, addi(A0, A0, 1));
	emit_li(&c, T2, addi(A0, A0, 100));
	emit(&c, addi(A1, ZERO, 2));
	emit(&c, auipc(T0, 0));                      /* t0 = here */
	emit(&c, sw(T1, T0, 8));                     /* patch the next instruction */
	emit(&c, addi(A0, A0, 1));
	emit(&c, addi(T1, T2, 0));                   /* second time round: +100 */
	emit(&c, addi(A1, A1, -1));
	emit(&c, bne(A1, ZERO, -16));
	uint64_t halt = emit_halt(&c);
	run_from(m, CODE_BASE, 200);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[A0], 1 + 100);
}

/* Device DMA (bus_ram_ptr for writing, what virtio uses), a snapshot
 * restore or a debugger write change code between slices; the next slice
 * runs the new code. */
static void test_dma_into_cached_code(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, addi(A0, A0, 1));
	uint64_t halt = emit_halt(&c);
	run_from(m, CODE_BASE, 10);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[A0], 1);

	uint32_t patched = addi(A0, A0, 7);
	uint8_t *host = bus_ram_ptr(&m->bus, CODE_BASE, 4, true);
	assert_non_null(host);
	memcpy(host, &patched, 4);
	run_from(m, CODE_BASE, 10);
	assert_int_equal(m->hart.x[A0], 1 + 7);

	patched = addi(A0, A0, 30);
	assert_int_equal(taps_write_virt(m, taps_current_satp(m), CODE_BASE, &patched, 4), 4);
	run_from(m, CODE_BASE, 10);
	assert_int_equal(m->hart.x[A0], 1 + 7 + 30);
}

/* Rewriting a compressed instruction (or only the instruction after it,
 * which shares the fetched word) runs exactly what memory holds. */
static void test_patch_compressed(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit16(&c, C_ADDI_T0_31);
	emit16(&c, C_ADDI_T0_31);
	uint64_t halt = emit_halt(&c);
	run_from(m, CODE_BASE, 10);
	assert_int_equal(m->hart.x[T0], 62);
	poke(m, CODE_BASE + 2, C_ADDI_T0_M32, 2); /* the second one only */
	run_from(m, CODE_BASE, 10);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[T0], 62 + 31 - 32);
	poke(m, CODE_BASE, addi(T0, T0, 1000), 4); /* one 32-bit over both */
	run_from(m, CODE_BASE, 10);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[T0], 61 + 1000);
}

/* Two blocks that share a slot of the block table alternate. */
static void test_cache_slot_aliasing(void **state)
{
	struct machine *m = *state;
	uint64_t far = CODE_BASE + 2 * BLOCK_TABLE_SIZE; /* same slot as CODE_BASE */
	struct code c = code_at(m, CODE_BASE);
	emit(&c, addi(A0, A0, 1));
	emit(&c, addi(A1, A1, -1));
	emit(&c, beq(A1, ZERO, 8));
	emit(&c, jal(ZERO, (int32_t)(far - c.pc)));
	uint64_t halt = emit_halt(&c);
	c = code_at(m, far);
	emit(&c, addi(A0, A0, 100));
	emit(&c, jal(ZERO, (int32_t)(CODE_BASE - c.pc)));
	m->hart.x[A1] = 3;
	run_from(m, CODE_BASE, 100);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[A0], 3 * 1 + 2 * 100);
}

/* A loop's head at X and the block at X + 2 its back branch enters, and a
 * third block whose first slot is X's, all stay in the table: neighbours
 * land in different pairs (block.h, block_index).  When the pair was
 * slots i and i ^ 1, the third evicted one of the two at every turn and
 * none of them stayed long enough to be translated (compress in
 * bench/workloads). */
static void test_cache_neighbours_keep_their_slots(void **state)
{
	struct machine *m = *state;
	uint64_t x = CODE_BASE + 0x100; /* X's slot is even: pair i, i ^ 1 was X + 2's */
	uint64_t far = x + 2 * BLOCK_TABLE_SIZE; /* first slot X's */
	struct code c = code_at(m, x);
	emit16(&c, C_ADDI_T0_31);
	emit(&c, addi(A0, A0, 1)); /* X + 2: the inner loop */
	emit(&c, addi(A1, A1, -1));
	emit(&c, bne(A1, ZERO, -8));
	emit(&c, addi(A2, A2, -1));
	emit(&c, beq(A2, ZERO, 8));
	emit(&c, jal(ZERO, (int32_t)(far - c.pc)));
	uint64_t halt = emit_halt(&c);
	c = code_at(m, far);
	emit(&c, addi(A3, A3, 1));
	emit(&c, addi(A1, ZERO, 3));
	emit(&c, jal(ZERO, (int32_t)(x - c.pc)));
	m->hart.x[A1] = 3;
	m->hart.x[A2] = 50;
	run_from(m, x, 16 * 50);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[T0], 31 * 50);
	assert_int_equal(m->hart.x[A0], 3 * 50);
	assert_int_equal(m->hart.x[A3], 49);
	const struct block_stats *bs = hart_block_stats(&m->hart);
	assert_non_null(bs);
	assert_int_equal(bs->evicted, 0);
	assert_in_range(bs->built, 4, 5); /* X, X + 2, far, the halt (and its own loop) */
	/* With the JIT, the translations' own lookups (jit.c, chain_to_rax)
	 * find far in its partner slot: X's jump there returns to the
	 * interpreter only before far is translated. */
	const struct jit_stats *js = hart_jit_stats(&m->hart);
	if (js)
		assert_in_range(js->exits[JIT_EXIT_OTHER_PAGE], 0, 2);
}

/* A block built where both slots of its pair are empty takes the first,
 * where every lookup (the interpreter's dispatch, the JIT's) looks first:
 * it took the partner, and each lookup of it compared twice. */
static void test_new_block_takes_first_slot(void **state)
{
	struct machine *m = *state;
	uint64_t x = CODE_BASE + 0x3100;
	struct code c = code_at(m, x);
	emit(&c, addi(A0, A0, 7));
	emit(&c, jal(ZERO, 8));
	emit(&c, addi(A0, A0, 100)); /* jumped over: another block */
	uint64_t halt = emit_halt(&c);
	run_from(m, x, 100);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[A0], 7);
	uintptr_t hpc = (uintptr_t)bus_ram_ptr(&m->bus, x, 4, false);
	assert_true(hpc != 0);
	struct block *first = block_slot(m->hart.blocks, hpc);
	assert_true(first->hpc == hpc);
	assert_true(block_partner(m->hart.blocks, first)->hpc != hpc);
}

/* A translated block that is no longer run gives its slot up
 * (docs/cpu.md, "Replacement"): S runs until it is translated, then B,
 * whose first slot is S's, and C, whose first slot is S's partner, take
 * turns.  When a translated block kept its slot for good, B and C took
 * the other slot from each other at every turn (200 evictions), rebuilt
 * each time and never translated. */
static void test_idle_translation_gives_way(void **state)
{
	struct machine *m = *state;
	assert_int_equal(hart_set_jit(&m->hart, true, 4), 0);
	uint64_t s = CODE_BASE + 0x20100;
	uint64_t b = s + 2 * BLOCK_TABLE_SIZE; /* first slot S's */
	uint64_t partner = b + BLOCK_TABLE_SIZE; /* first slot S's partner */
	struct code c = code_at(m, s + 0x400);
	uint64_t start = c.pc;
	uint64_t loop1 = emit(&c, jal(RA, (int32_t)(s - c.pc)));
	emit(&c, addi(A2, A2, -1));
	emit(&c, bne(A2, ZERO, (int32_t)(loop1 - c.pc)));
	uint64_t loop2 = emit(&c, jal(RA, (int32_t)(b - c.pc)));
	emit(&c, jal(RA, (int32_t)(partner - c.pc)));
	emit(&c, addi(A1, A1, -1));
	emit(&c, bne(A1, ZERO, (int32_t)(loop2 - c.pc)));
	uint64_t halt = emit_halt(&c);
	const uint64_t callee[] = {s, b, partner};
	for (unsigned k = 0; k < 3; k++) {
		c = code_at(m, callee[k]);
		emit(&c, addi(A3 + k, A3 + k, 1));
		emit(&c, jalr(ZERO, RA, 0));
	}
	m->hart.x[A2] = 10;
	m->hart.x[A1] = 100;
	run_from(m, start, 100000);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[A3], 10);
	assert_int_equal(m->hart.x[A4], 100);
	assert_int_equal(m->hart.x[A5], 100);
	const struct block_stats *bs = hart_block_stats(&m->hart);
	assert_non_null(bs);
	/* B and C evict each other BLOCK_IDLE_MAX times, then S goes */
	assert_int_equal(bs->evicted_jit, 1);
	assert_int_equal(bs->evicted, BLOCK_IDLE_MAX + 1);
}

/* With the cache off (keel run --no-decode-cache) nothing is cached and the
 * results are the same. */
static void test_decode_cache_off(void **state)
{
	struct machine *m = *state;
	hart_set_block_cache(&m->hart, false);
	test_store_over_cached_instruction(state);
	m->hart.x[T0] = 0;
	test_patch_compressed(state);
	assert_null(m->hart.blocks);
}

static void test_compressed_jump_backward_and_stack(void **state)
{
	struct machine *m = *state;
	uint64_t at = CODE_BASE + 0x1000;
	poke(m, at, C_J_M2048, 2);
	m->hart.pc = at;
	assert_int_equal(run(m, 1), 1);
	assert_int_equal(m->hart.pc, at - 2048);

	m->hart.x[SP] = DATA_BASE;
	m->hart.x[A0] = 0x0123456789abcdef;
	poke64(m, DATA_BASE + 8, 0xfedcba9876543210);
	struct code c = code_at(m, CODE_BASE);
	emit16(&c, C_SDSP_A0_504);
	emit16(&c, C_LDSP_A3_8);
	run_from(m, CODE_BASE, 2);
	assert_int_equal(m->hart.pc, CODE_BASE + 4);
	assert_int_equal(peek64(m, DATA_BASE + 504), 0x0123456789abcdef);
	assert_int_equal(m->hart.x[A3], 0xfedcba9876543210);
}

/* A 32-bit instruction whose second half is on the next page. */
static void test_fetch_across_page_bare(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE + 0xffc);
	emit16(&c, C_ADDI_T0_31);
	emit(&c, addi(T1, ZERO, 123)); /* 0xffe .. 0x1001 */
	uint64_t halt = emit_halt(&c);
	m->hart.x[T0] = 0;
	run_from(m, CODE_BASE + 0xffc, 2);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[T0], 31);
	assert_int_equal(m->hart.x[T1], 123);
}

/* keel: the fast fetch path's "no page open" value is a page above every
 * physical address (NO_FETCH_PAGE in exec.c).  Fetching there, whether the
 * slice starts there or jumps there, is an instruction access fault like
 * any other address with nothing behind it, never an illegal instruction. */
static void test_fetch_where_nothing_is(void **state)
{
	struct machine *m = *state;
	static const uint64_t targets[] = {0x4000000000000000ULL, 0x4000000000000ffcULL,
					    0x4000000000001000ULL, 0xfffffffffffff000ULL, 0x1000ULL};
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		uint64_t t = targets[i];
		m->hart.icount = 0;
		run_from(m, t, 1); /* nothing fetched yet */
		assert_mtrap(m, EXC_INSN_ACCESS, t, t);
		assert_int_equal(m->hart.icount, 0);

		struct code c = code_at(m, CODE_BASE);
		emit_li(&c, T0, t);
		uint64_t retired = (emit(&c, jalr(ZERO, T0, 0)) - CODE_BASE) / 4 + 1;
		m->hart.icount = 0;
		run_from(m, CODE_BASE, retired + 1); /* straight from an open page */
		assert_mtrap(m, EXC_INSN_ACCESS, t, t);
		assert_int_equal(m->hart.icount, retired);
	}
}

/* What the above relies on: the bus maps nothing at or above 2^56. */
static void test_bus_refuses_beyond_physical_space(void **state)
{
	(void)state;
	static uint8_t page[4096];
	struct bus b;
	bus_init(&b);
	assert_int_equal(bus_add_ram(&b, "high", 0x4000000000000000ULL, 4096, page, true), -1);
	assert_int_equal(bus_add_ram(&b, "edge", (1ULL << 56) - 2048, 4096, page, true), -1);
	assert_int_equal(bus_add_ram(&b, "top", (1ULL << 56) - 4096, 4096, page, true), 0);
	bus_free(&b);
}

/* ---- illegal instructions, ECALL, EBREAK ---- */

static void test_illegal_32bit_tval(void **state)
{
	struct machine *m = *state;
	const uint32_t bad[] = {
		0xffffffff,
		0x0000007f,           /* opcode 0x7f */
		enc_i(3, 0, 2, 0, OPC_MISC_MEM), /* MISC-MEM funct3 2 (CBO), imm 3: reserved */
		enc_i(0, 0, 3, 0, OPC_MISC_MEM), /* MISC-MEM funct3 3 */
		jalr(RA, T0, 0) | 1 << 12, /* JALR funct3 1 */
		csrr(T0, 0x7c0),      /* a CSR keel does not have */
		0x00200073,           /* SYSTEM funct3 0, imm 2 (uret is gone) */
	};
	for (size_t i = 0; i < N_CASES(bad); i++) {
		poke(m, CODE_BASE, bad[i], 4);
		m->hart.x[T0] = 0x42;
		m->hart.x[RA] = 0x43;
		uint64_t icount = m->hart.icount;
		run_from(m, CODE_BASE, 1);
		assert_mtrap(m, EXC_ILLEGAL_INSN, CODE_BASE, bad[i]);
		assert_int_equal(m->hart.x[T0], 0x42);
		assert_int_equal(m->hart.x[RA], 0x43);
		assert_int_equal(m->hart.icount, icount);
	}
}

/* xtval holds only the 16 bits of a compressed instruction, never the
 * halfword that follows it. */
static void test_illegal_16bit_tval(void **state)
{
	struct machine *m = *state;
	const uint16_t bad[] = {
		0x0000,          /* all zero: defined illegal */
		0x0004,          /* c.addi4spn with nzuimm 0 */
		0x9c41,          /* reserved quadrant-1 ALU encoding */
		0x2001,          /* c.addiw rd=0 */
		C_FLD_FS0_A5,    /* legal RVC, but mstatus.FS is Off */
	};
	assert_int_equal(m->hart.mstatus & MSTATUS_FS, 0);
	for (size_t i = 0; i < N_CASES(bad); i++) {
		poke(m, CODE_BASE, bad[i], 2);
		poke(m, CODE_BASE + 2, 0xffff, 2);
		run_from(m, CODE_BASE, 1);
		assert_mtrap(m, EXC_ILLEGAL_INSN, CODE_BASE, bad[i]);
	}
	/* The same 16 bits at a 2-mod-4 address, second half on the next page. */
	poke(m, CODE_BASE + 0xffe, 0x0004, 2);
	poke(m, CODE_BASE + 0x1000, 0xffff, 2);
	run_from(m, CODE_BASE + 0xffe, 1);
	assert_mtrap(m, EXC_ILLEGAL_INSN, CODE_BASE + 0xffe, 0x0004);
}

static void test_ecall_cause_by_privilege(void **state)
{
	struct machine *m = *state;
	const struct {
		int priv;
		uint64_t cause;
	} cases[] = {{PRIV_U, EXC_ECALL_U}, {PRIV_S, EXC_ECALL_S}, {PRIV_M, EXC_ECALL_M}};
	poke(m, CODE_BASE, ecall(), 4);
	for (size_t i = 0; i < N_CASES(cases); i++) {
		set_priv(m, cases[i].priv);
		m->hart.mtval = 0x5a5a;
		uint64_t icount = m->hart.icount;
		run_from(m, CODE_BASE, 1);
		assert_mtrap(m, cases[i].cause, CODE_BASE, 0);
		assert_int_equal((m->hart.mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT,
				 cases[i].priv);
		assert_int_equal(m->hart.icount, icount); /* ECALL does not retire */
	}
}

/* Delegated ECALLs go to S; an ECALL from M never does. */
static void test_ecall_delegation(void **state)
{
	struct machine *m = *state;
	poke(m, CODE_BASE, ecall(), 4);
	m->hart.medeleg = 1u << EXC_ECALL_U | 1u << EXC_ECALL_S;
	set_priv(m, PRIV_U);
	run_from(m, CODE_BASE, 1);
	assert_strap(m, EXC_ECALL_U, CODE_BASE, 0);
	assert_int_equal(m->hart.mstatus & MSTATUS_SPP, 0);
	run_from(m, CODE_BASE, 1); /* now from S */
	assert_strap(m, EXC_ECALL_S, CODE_BASE, 0);
	assert_int_equal(m->hart.mstatus & MSTATUS_SPP, MSTATUS_SPP);
	assert_int_equal(csr_write_debug(&m->hart, CSR_MEDELEG, ~0ULL), 0);
	set_priv(m, PRIV_M);
	run_from(m, CODE_BASE, 1);
	assert_mtrap(m, EXC_ECALL_M, CODE_BASE, 0);
}

/* EBREAK: cause 3, epc = its own pc.  keel: xtval = pc (the spec allows
 * pc or 0). */
static void test_ebreak(void **state)
{
	struct machine *m = *state;
	poke(m, CODE_BASE + 8, ebreak(), 4);
	run_from(m, CODE_BASE + 8, 1);
	assert_mtrap(m, EXC_BREAKPOINT, CODE_BASE + 8, CODE_BASE + 8);
	assert_int_equal(m->hart.icount, 0);
	poke(m, CODE_BASE + 2, C_EBREAK, 2);
	run_from(m, CODE_BASE + 2, 1);
	assert_mtrap(m, EXC_BREAKPOINT, CODE_BASE + 2, CODE_BASE + 2);
}

static void test_fence_is_a_nop(void **state)
{
	struct machine *m = *state;
	exec1(m, fence());
	assert_int_equal(m->hart.pc, CODE_BASE + 4);
	exec1(m, 0x0000100f); /* fence.i */
	assert_int_equal(m->hart.pc, CODE_BASE + 4);
	assert_int_equal(m->hart.mcause, 0);
}

/* ---- RVA22: the B extensions, Zicond, cache-block operations ---- */

/* One program of the new ALU ops, with the results worked out from the
 * Bit-Manipulation spec (rol by 48 moves bit 63 to 47 and bit 0 to 48;
 * clmulh of x^63+1 squared is x^126+1, bit 62 of the high half; ...). */
static void bitmanip_program(struct machine *m)
{
	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, A0, 0x00000000fffffff0);
	emit_li(&c, A1, 0x8000000000000001);
	emit(&c, op(0x10, 6, T0, A0, A1));                  /* sh3add t0, a0, a1 */
	emit(&c, op32(0x04, 0, T1, A1, A0));                /* add.uw t1, a1, a0 */
	emit(&c, enc_i(0x600, A1, 1, T2, OPC_OP_IMM));      /* clz t2, a1 */
	emit(&c, enc_i(0x601, A0, 1, S0, OPC_OP_IMM));      /* ctz s0, a0 */
	emit(&c, enc_i(0x602, A0, 1, S1, OPC_OP_IMM_32));   /* cpopw s1, a0 */
	emit(&c, enc_i(0x6b8, A1, 5, A2, OPC_OP_IMM));      /* rev8 a2, a1 */
	emit(&c, enc_i(0x287, A0, 5, A3, OPC_OP_IMM));      /* orc.b a3, a0 */
	emit(&c, op(0x30, 1, A4, A1, A0));                  /* rol a4, a1, a0 */
	emit(&c, op(0x05, 3, A5, A1, A1));                  /* clmulh a5, a1, a1 */
	emit(&c, enc_i(0x280 | 40, A0, 1, A6, OPC_OP_IMM)); /* bseti a6, a0, 40 */
	emit(&c, op(0x07, 7, A7, A1, A0));                  /* czero.nez a7, a1, a0 */
	emit(&c, op(0x05, 6, S2, A1, A0));                  /* max s2, a1, a0 */
	emit(&c, op32(0x30, 5, S3, A1, A0));                /* rorw s3, a1, a0 */
	uint64_t halt = emit_halt(&c);
	run_from(m, CODE_BASE, 100);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[T0], 0x80000007ffffff81);
	assert_int_equal(m->hart.x[T1], 0xfffffff1);
	assert_int_equal(m->hart.x[T2], 0);
	assert_int_equal(m->hart.x[S0], 4);
	assert_int_equal(m->hart.x[S1], 28);
	assert_int_equal(m->hart.x[A2], 0x0100000000000080);
	assert_int_equal(m->hart.x[A3], 0xffffffff);
	assert_int_equal(m->hart.x[A4], 0x0001800000000000);
	assert_int_equal(m->hart.x[A5], 0x4000000000000000);
	assert_int_equal(m->hart.x[A6], 0x100fffffff0);
	assert_int_equal(m->hart.x[A7], 0);
	assert_int_equal(m->hart.x[S2], 0xfffffff0);
	assert_int_equal(m->hart.x[S3], 0x10000);
}

/* The same in decoded blocks and with the block cache off. */
static void test_bitmanip_both_paths(void **state)
{
	struct machine *m = *state;
	bitmanip_program(m);
	hart_set_block_cache(&m->hart, false);
	memset(m->hart.x, 0, sizeof(m->hart.x));
	bitmanip_program(m);
	assert_null(m->hart.blocks);
}

/* cbo.zero over code that has been decoded: the next fetch sees the zeros
 * (an illegal instruction), as a store there would. */
static void test_cbo_zero_over_decoded_code(void **state)
{
	struct machine *m = *state;
	uint64_t target = CODE_BASE + 0x40;
	struct code t = code_at(m, target);
	emit(&t, addi(T0, ZERO, 7));
	uint64_t halt = emit_halt(&t);
	run_from(m, target, 10); /* decoded now */
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[T0], 7);
	m->hart.x[T0] = 0;
	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, A0, target + 12); /* any byte of the block */
	emit(&c, enc_i(4, A0, 2, 0, OPC_MISC_MEM)); /* cbo.zero (a0) */
	while (c.pc < target)
		emit(&c, addi(ZERO, ZERO, 0));
	run_from(m, CODE_BASE, 100);
	assert_mtrap(m, EXC_ILLEGAL_INSN, target, 0);
	assert_int_equal(m->hart.x[T0], 0);
	for (uint64_t a = target; a < target + 64; a += 8)
		assert_int_equal(peek(m, a, 8), 0);
}

/* ---- A extension ---- */

struct amo_case {
	const char *name;
	unsigned funct5, funct3;
	uint64_t mem, src, want_mem, want_rd;
};

static void test_amo_ops(void **state)
{
	struct machine *m = *state;
	static const uint64_t N2 = 0xfffffffffffffffe; /* -2 */
	/* .w: the source's upper half is ignored, the loaded word is
	 * sign-extended, and only 4 bytes of memory change. */
	static const uint64_t W = 0x80000000, SRC_W = 0x0000000500000001;
	const struct amo_case cases[] = {
		{"amoadd.d", AMO_ADD, 3, N2, 3, 1, N2},
		{"amoswap.d", AMO_SWAP, 3, N2, 3, 3, N2},
		{"amoxor.d", AMO_XOR, 3, N2, 3, 0xfffffffffffffffd, N2},
		{"amoor.d", AMO_OR, 3, N2, 3, UINT64_MAX, N2},
		{"amoand.d", AMO_AND, 3, N2, 3, 2, N2},
		{"amomin.d", AMO_MIN, 3, N2, 3, N2, N2},
		{"amomax.d", AMO_MAX, 3, N2, 3, 3, N2},
		{"amominu.d", AMO_MINU, 3, N2, 3, 3, N2},
		{"amomaxu.d", AMO_MAXU, 3, N2, 3, N2, N2},
		{"amoadd.w", AMO_ADD, 2, W, SRC_W, 0x80000001, 0xffffffff80000000},
		{"amoswap.w", AMO_SWAP, 2, W, SRC_W, 1, 0xffffffff80000000},
		{"amoxor.w", AMO_XOR, 2, W, SRC_W, 0x80000001, 0xffffffff80000000},
		{"amoor.w", AMO_OR, 2, W, SRC_W, 0x80000001, 0xffffffff80000000},
		{"amoand.w", AMO_AND, 2, W, SRC_W, 0, 0xffffffff80000000},
		{"amomin.w", AMO_MIN, 2, W, SRC_W, W, 0xffffffff80000000},
		{"amomax.w", AMO_MAX, 2, W, SRC_W, 1, 0xffffffff80000000},
		{"amominu.w", AMO_MINU, 2, W, SRC_W, 1, 0xffffffff80000000},
		{"amomaxu.w", AMO_MAXU, 2, W, SRC_W, W, 0xffffffff80000000},
		{"amoadd.w wraps", AMO_ADD, 2, 0x7fffffff, 1, 0x80000000, 0x7fffffff},
	};
	m->hart.x[A0] = DATA_BASE;
	for (size_t i = 0; i < N_CASES(cases); i++) {
		const struct amo_case *k = &cases[i];
		poke64(m, DATA_BASE, 0xcafebabecafebabe);
		poke(m, DATA_BASE, k->mem, k->funct3 == 2 ? 4 : 8);
		m->hart.x[A1] = k->src;
		exec1(m, amo(k->funct5, k->funct3, T0, A0, A1));
		uint64_t mem = peek64(m, DATA_BASE);
		if (k->funct3 == 2) {
			assert_int_equal(mem >> 32, 0xcafebabe);
			mem &= 0xffffffff;
		}
		if (mem != k->want_mem || m->hart.x[T0] != k->want_rd)
			fail_msg("%s: mem 0x%llx rd 0x%llx", k->name, (unsigned long long)mem,
				 (unsigned long long)m->hart.x[T0]);
	}
}

/* keel: AMOs and LR/SC raise address-misaligned rather than emulate. */
static void test_amo_misaligned(void **state)
{
	struct machine *m = *state;
	m->hart.x[A0] = DATA_BASE + 4;
	const struct {
		uint32_t insn;
		uint64_t cause;
	} cases[] = {
		{amo(AMO_ADD, 3, T0, A0, A1), EXC_STORE_MISALIGNED},
		{sc_d(T0, A0, A1), EXC_STORE_MISALIGNED},
		{lr_d(T0, A0), EXC_LOAD_MISALIGNED},
	};
	for (size_t i = 0; i < N_CASES(cases); i++) {
		poke(m, CODE_BASE, cases[i].insn, 4);
		m->hart.x[T0] = 0x99;
		run_from(m, CODE_BASE, 1);
		assert_mtrap(m, cases[i].cause, CODE_BASE, DATA_BASE + 4);
		assert_int_equal(m->hart.x[T0], 0x99);
	}
	m->hart.x[A0] = DATA_BASE + 2;
	poke(m, CODE_BASE, amo(AMO_SWAP, 2, T0, A0, A1), 4);
	run_from(m, CODE_BASE, 1);
	assert_mtrap(m, EXC_STORE_MISALIGNED, CODE_BASE, DATA_BASE + 2);
}

static void test_sc_without_reservation_fails(void **state)
{
	struct machine *m = *state;
	poke64(m, DATA_BASE, 0x1111);
	m->hart.x[A0] = DATA_BASE;
	m->hart.x[A1] = 0x2222;
	exec1(m, sc_d(T0, A0, A1));
	assert_int_not_equal(m->hart.x[T0], 0);
	assert_int_equal(peek64(m, DATA_BASE), 0x1111);
}

static void test_lr_sc_pair(void **state)
{
	struct machine *m = *state;
	poke64(m, DATA_BASE, 0x80000000);
	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, A0, DATA_BASE);
	emit(&c, addi(A1, ZERO, 0x222));
	emit(&c, lr_w(T0, A0));       /* sign-extends */
	emit(&c, sc_w(T1, A0, A1));   /* succeeds */
	emit(&c, addi(A1, ZERO, 0x333));
	emit(&c, sc_w(T2, A0, A1));   /* reservation consumed: fails */
	uint64_t halt = emit_halt(&c);
	m->hart.x[T1] = m->hart.x[T2] = 0x77;
	run_from(m, CODE_BASE, 100);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[T0], 0xffffffff80000000);
	assert_int_equal(m->hart.x[T1], 0);
	assert_int_not_equal(m->hart.x[T2], 0);
	assert_int_equal(peek64(m, DATA_BASE), 0x222);
}

/* keel: the reservation covers exactly the LR's address. */
static void test_sc_other_address_fails(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, A0, DATA_BASE);
	emit(&c, addi(A2, A0, 64));
	emit(&c, addi(A1, ZERO, 5));
	emit(&c, lr_d(T0, A0));
	emit(&c, sc_d(T1, A2, A1));
	uint64_t halt = emit_halt(&c);
	run_from(m, CODE_BASE, 100);
	assert_int_equal(m->hart.pc, halt);
	assert_int_not_equal(m->hart.x[T1], 0);
	assert_int_equal(peek64(m, DATA_BASE + 64), 0);
}

/* A trap between LR and SC clears the reservation.  The SC runs in the
 * trap handler itself, so no xRET is involved. */
static void test_trap_clears_reservation(void **state)
{
	struct machine *m = *state;
	uint64_t handler = CODE_BASE + 0x400;
	struct code h = code_at(m, handler);
	emit(&h, sc_d(T1, A0, A1));
	uint64_t handler_halt = emit_halt(&h);
	m->hart.mtvec = handler;

	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, A0, DATA_BASE);
	emit(&c, addi(A1, ZERO, 9));
	emit(&c, lr_d(T0, A0));
	uint64_t ecall_at = emit(&c, ecall());
	run_from(m, CODE_BASE, 100);
	assert_int_equal(m->hart.pc, handler_halt);
	assert_int_equal(m->hart.mepc, ecall_at);
	assert_int_not_equal(m->hart.x[T1], 0);
	assert_int_equal(peek64(m, DATA_BASE), 0);

	/* Control: the same handler code right after an LR succeeds. */
	c = code_at(m, CODE_BASE);
	emit_li(&c, A0, DATA_BASE);
	emit(&c, addi(A1, ZERO, 9));
	emit(&c, lr_d(T0, A0));
	emit(&c, jal(ZERO, (int32_t)(handler - c.pc)));
	run_from(m, CODE_BASE, 100);
	assert_int_equal(m->hart.pc, handler_halt);
	assert_int_equal(m->hart.x[T1], 0);
	assert_int_equal(peek64(m, DATA_BASE), 9);
}

/* ---- instruction counting ---- */

static void test_icount_budget_exact(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	for (int i = 0; i < 20; i++)
		emit(&c, addi(T0, T0, 1));
	emit_halt(&c);
	m->hart.pc = CODE_BASE;
	assert_int_equal(run(m, 7), 7);
	assert_int_equal(m->hart.icount, 7);
	assert_int_equal(m->hart.x[T0], 7);
	assert_int_equal(m->hart.pc, CODE_BASE + 28);
	assert_int_equal(run(m, 3), 3);
	assert_int_equal(m->hart.icount, 10);
	assert_int_equal(m->hart.x[T0], 10);
	assert_int_equal(run(m, 0), 0);
	assert_int_equal(m->hart.icount, 10);
	assert_int_equal(m->hart.pc, CODE_BASE + 40);
}

/* A budget that ends inside a block (a slice's or a timer deadline's end)
 * runs the block's first instructions as a block of their own (block.c,
 * block_head): ADDI pairs are fused, so every odd budget cuts a pair in
 * two, and with the JIT the block's first entry is its translation's.
 * Nothing is built for the pcs it stops between: one instruction at a
 * time, each step built a block at the next pc (11 built, not 1). */
static void test_budget_ends_inside_block(void **state)
{
	struct machine *m = *state;
	enum { N = 11 };
	struct code c = code_at(m, CODE_BASE);
	for (int i = 0; i < N; i++)
		emit(&c, addi(A0 + i % 6, A0 + i % 6, 1 << i));
	uint64_t halt = emit_halt(&c);
	run_from(m, CODE_BASE, N + 1); /* the whole block once: translated, with the JIT */
	assert_int_equal(m->hart.pc, halt);
	const struct block_stats *bs = hart_block_stats(&m->hart);
	assert_non_null(bs);
	uint64_t built = bs->built;
	for (unsigned k = 1; k <= N; k++) {
		for (int r = 0; r < 6; r++)
			m->hart.x[A0 + r] = 0;
		uint64_t icount = m->hart.icount;
		run_from(m, CODE_BASE, k);
		assert_int_equal(m->hart.icount, icount + k);
		assert_int_equal(m->hart.pc, CODE_BASE + 4 * k);
		for (int r = 0; r < 6; r++) {
			uint64_t want = 0;
			for (unsigned i = r; i < k; i += 6)
				want += 1u << i;
			assert_int_equal(m->hart.x[A0 + r], want);
		}
	}
	assert_int_equal(bs->built, built);
}

/* keel (docs/cpu.md): a step is a retired instruction or a trap; hart_run
 * consumes exactly `budget` steps, and icount counts only the retired
 * ones. */
static void test_icount_trap_not_counted(void **state)
{
	struct machine *m = *state;
	m->hart.mtvec = SKIP_BASE;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, addi(T0, T0, 1));
	emit(&c, 0xffffffff);
	emit(&c, addi(T0, T0, 1));
	emit(&c, ecall());
	uint64_t last = emit(&c, addi(T0, T0, 1));
	uint64_t halt = emit_halt(&c);
	/* 5 program instructions, 2 traps, 2 x 4 handler instructions */
	m->hart.pc = CODE_BASE;
	assert_int_equal(run(m, 12), 12);
	assert_int_equal(m->hart.pc, last);
	assert_int_equal(m->hart.icount, 10);
	assert_int_equal(m->hart.x[T0], 2);
	assert_int_equal(run(m, 1), 1);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.icount, 11);
	assert_int_equal(m->hart.x[T0], 3);
}

/* minstret/instret read the number of instructions retired before the
 * reading one; trapping instructions are not among them. */
static void test_minstret_counts_retired(void **state)
{
	struct machine *m = *state;
	m->hart.mtvec = SKIP_BASE;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, nop());
	emit(&c, nop());
	emit(&c, nop());
	emit(&c, csrr(T1, CSR_MINSTRET)); /* 3 before it */
	emit(&c, csrr(T2, CSR_INSTRET));  /* 4 */
	emit(&c, ecall());                /* not retired; the handler's 4 are */
	emit(&c, csrr(T3, CSR_MINSTRET)); /* 3 + 2 + 4 = 9 */
	emit(&c, csrr(T4, CSR_MCYCLE));   /* keel: cycle counts instructions: 10 */
	uint64_t halt = emit_halt(&c);
	run_from(m, CODE_BASE, 13);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[T1], 3);
	assert_int_equal(m->hart.x[T2], 4);
	assert_int_equal(m->hart.x[T3], 9);
	assert_int_equal(m->hart.x[T4], 10);
}

/* Faulting fetches and loads do not retire either. */
static void test_faults_not_counted(void **state)
{
	struct machine *m = *state;
	/* A handler whose first instruction shows whether it ran: the fault
	 * is one step of the budget, so with a budget of 3 it must not. */
	uint64_t handler = CODE_BASE + 0x400;
	struct code h = code_at(m, handler);
	emit(&h, addi(T2, T2, 1));
	emit_halt(&h);
	m->hart.mtvec = handler;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, lui(T1, 1));
	emit(&c, jalr(ZERO, T1, 0)); /* to 0x1000: nothing there */
	m->hart.pc = CODE_BASE;
	assert_int_equal(run(m, 3), 3);
	assert_int_equal(m->hart.pc, handler);
	assert_int_equal(m->hart.mcause, EXC_INSN_ACCESS);
	assert_int_equal(m->hart.mepc, 0x1000);
	assert_int_equal(m->hart.mtval, 0x1000);
	assert_int_equal(m->hart.x[T2], 0);
	assert_int_equal(m->hart.icount, 2);
	m->hart.mtvec = MTRAP_BASE;

	c = code_at(m, CODE_BASE);
	emit(&c, addi(T0, ZERO, 5));
	emit(&c, ld(T0, ZERO, 16)); /* address 16: nothing there */
	m->hart.pc = CODE_BASE;
	assert_int_equal(run(m, 2), 2);
	assert_mtrap(m, EXC_LOAD_ACCESS, CODE_BASE + 4, 16);
	assert_int_equal(m->hart.x[T0], 5);
	assert_int_equal(m->hart.icount, 3);

	poke(m, CODE_BASE, sd(T0, ZERO, 24), 4);
	run_from(m, CODE_BASE, 1);
	assert_mtrap(m, EXC_STORE_ACCESS, CODE_BASE, 24);
	assert_int_equal(m->hart.icount, 3);
}

/* machine_run honours its budget too (it slices hart_run). */
static void test_machine_run_budget(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, addi(T0, T0, 1));
	emit(&c, jal(ZERO, -4));
	m->hart.pc = CODE_BASE;
	assert_int_equal(machine_run(m, 1001), STOP_BUDGET);
	assert_int_equal(m->hart.icount, 1001);
	assert_int_equal(m->hart.x[T0], 501);
}

/* ---- fork-clones (host/clone.c) and the caches ---- */

#define FORK_LOOP (CODE_BASE + 0x3000) /* runs before the fork */
#define FORK_NEW (CODE_BASE + 0x5000) /* written after it, differently on each side */

/* a0 += step five times, then park */
static uint64_t fork_loop(struct machine *m, int32_t step)
{
	struct code c = code_at(m, FORK_LOOP);
	emit(&c, addi(A1, ZERO, 5));
	emit(&c, addi(A0, A0, step));
	emit(&c, addi(A1, A1, -1));
	emit(&c, bne(A1, ZERO, -8));
	return emit_halt(&c);
}

/* a0 = value, then park */
static uint64_t fork_new(struct machine *m, int32_t value)
{
	struct code c = code_at(m, FORK_NEW);
	emit(&c, addi(A0, ZERO, value));
	return emit_halt(&c);
}

/* Run from pc to the halt at `halt`; a0, or ~0 when it stopped elsewhere. */
static uint64_t fork_run(struct machine *m, uint64_t pc, uint64_t halt)
{
	m->hart.x[A0] = 0;
	run_from(m, pc, 40);
	return m->hart.pc == halt ? m->hart.x[A0] : ~0ull;
}

/* The child's side, in plain checks (cmocka's are the parent's): the
 * number of the first one that failed, or 0. */
static int fork_child(struct machine *m, bool inherit, int go_fd)
{
	if (hart_after_fork(&m->hart))
		return 1;
	char go;
	if (read(go_fd, &go, 1) != 1) /* the parent has translated its FORK_NEW */
		return 2;
	uint64_t built = m->hart.block_stats.built;
	const struct jit_stats *js = hart_jit_stats(&m->hart);
	uint64_t translated = js ? js->blocks : 0;
	if (fork_run(m, FORK_LOOP, FORK_LOOP + 16) != 15)
		return 3;
	/* Inherited, the loop's blocks (and translations) are there already. */
	if ((m->hart.block_stats.built == built) != inherit)
		return 4;
	if (js && (js->blocks == translated) != inherit)
		return 5;
	/* Code of the child's own where the parent has put other code since
	 * the fork: with the JIT, translated where the parent's was, each
	 * side in its own code cache. */
	uint64_t halt = fork_new(m, 22);
	if (fork_run(m, FORK_NEW, halt) != 22)
		return 6;
	/* Code the parent translated, rewritten: the child's copy of the
	 * translation goes, the parent's must not. */
	if (fork_run(m, FORK_LOOP, fork_loop(m, 7)) != 35)
		return 7;
	return 0;
}

/* A clone's caches are its own whether it starts empty or with the
 * parent's (hart_set_clone_cache): it computes the same as the parent
 * would, and what either side translates or rewrites after the fork
 * never reaches the other's code. */
static void fork_case(struct machine *m, bool inherit)
{
	hart_set_clone_cache(&m->hart, inherit);
	uint64_t halt = fork_loop(m, 3);
	assert_int_equal(fork_run(m, FORK_LOOP, halt), 15);
	int go[2];
	assert_int_equal(pipe(go), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		_exit(fork_child(m, inherit, go[0]));
	}
	close(go[0]);
	uint64_t new_halt = fork_new(m, 11);
	assert_int_equal(fork_run(m, FORK_NEW, new_halt), 11);
	assert_int_equal(write(go[1], "g", 1), 1);
	close(go[1]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The parent runs its own bytes, translated or not. */
	assert_int_equal(fork_run(m, FORK_NEW, new_halt), 11);
	assert_int_equal(fork_run(m, FORK_LOOP, halt), 15);
}

static void test_fork_empty_caches(void **state) { fork_case(*state, false); }

static void test_fork_inherited_caches(void **state) { fork_case(*state, true); }

/* The same machine with the JIT translating every block at its first
 * entry (docs/cpu.md, "The JIT"): every test must pass the same way. */
static int vm_setup_jit(void **state)
{
	if (vm_setup(state))
		return -1;
	struct machine *m = *state;
	return hart_set_jit(&m->hart, true, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encoders_match_gnu_as),
		VM_TEST(test_emit_li),
		VM_TEST(test_imm_i_extremes),
		VM_TEST(test_imm_s_extremes),
		VM_TEST(test_imm_u),
		VM_TEST(test_imm_b_extremes),
		VM_TEST(test_imm_j_extremes),
		VM_TEST(test_jalr),
		VM_TEST(test_backward_branch_loop),
		VM_TEST(test_branch_conditions),
		VM_TEST(test_alu_register),
		VM_TEST(test_alu_immediate),
		VM_TEST(test_alu_illegal_encodings),
		VM_TEST(test_mul_div),
		VM_TEST(test_load_extension),
		VM_TEST(test_store_widths),
		VM_TEST(test_misaligned_in_page),
		VM_TEST(test_misaligned_page_crossing_bare),
		VM_TEST(test_misaligned_page_crossing_mapped),
		VM_TEST(test_x0_stays_zero),
		VM_TEST(test_compressed_stream),
		VM_TEST(test_compressed_jump_backward_and_stack),
		VM_TEST(test_store_over_cached_instruction),
		VM_TEST(test_store_into_next_instruction),
		VM_TEST(test_dma_into_cached_code),
		VM_TEST(test_patch_compressed),
		VM_TEST(test_cache_slot_aliasing),
		VM_TEST(test_cache_neighbours_keep_their_slots),
		VM_TEST(test_new_block_takes_first_slot),
		VM_TEST(test_idle_translation_gives_way),
		VM_TEST(test_decode_cache_off),
		VM_TEST(test_fetch_across_page_bare),
		VM_TEST(test_fetch_where_nothing_is),
		cmocka_unit_test(test_bus_refuses_beyond_physical_space),
		VM_TEST(test_illegal_32bit_tval),
		VM_TEST(test_illegal_16bit_tval),
		VM_TEST(test_ecall_cause_by_privilege),
		VM_TEST(test_ecall_delegation),
		VM_TEST(test_ebreak),
		VM_TEST(test_fence_is_a_nop),
		VM_TEST(test_bitmanip_both_paths),
		VM_TEST(test_cbo_zero_over_decoded_code),
		VM_TEST(test_amo_ops),
		VM_TEST(test_amo_misaligned),
		VM_TEST(test_sc_without_reservation_fails),
		VM_TEST(test_lr_sc_pair),
		VM_TEST(test_sc_other_address_fails),
		VM_TEST(test_trap_clears_reservation),
		VM_TEST(test_icount_budget_exact),
		VM_TEST(test_budget_ends_inside_block),
		VM_TEST(test_icount_trap_not_counted),
		VM_TEST(test_minstret_counts_retired),
		VM_TEST(test_faults_not_counted),
		VM_TEST(test_machine_run_budget),
		VM_TEST(test_fork_empty_caches),
		VM_TEST(test_fork_inherited_caches),
	};
	enum { N = sizeof(tests) / sizeof(tests[0]) };
	struct CMUnitTest jit_tests[N];
	for (size_t i = 0; i < N; i++) {
		jit_tests[i] = tests[i];
		if (jit_tests[i].setup_func == vm_setup)
			jit_tests[i].setup_func = vm_setup_jit;
	}
	int failed = cmocka_run_group_tests_name("exec", tests, NULL, NULL);
	return failed + cmocka_run_group_tests_name("exec with the JIT", jit_tests, NULL, NULL);
}
