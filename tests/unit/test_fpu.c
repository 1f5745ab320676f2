/* Unit tests for the F/D execution unit (src/cpu/fpu.c).
 *
 * Each test builds a hart on the stack, loads operands, encodes one
 * instruction and checks the destination register and fflags.  Expected
 * values come from the RISC-V spec, from the cases the public riscv-tests
 * rv64uf/rv64ud suites check, and (for the random sweeps) from independent
 * references: the host's own IEEE arithmetic for the four host rounding
 * modes, and exact wider arithmetic for RMM.
 */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "cpu/fpu_internal.h"
#include "cpu/hart.h"

#define NX FFLAG_NX
#define UF FFLAG_UF
#define OF FFLAG_OF
#define DZ FFLAG_DZ
#define NV FFLAG_NV

#define S 0 /* fmt field */
#define D 1
#define DYN 7

#define BOX 0xffffffff00000000ULL
#define QNAN_S 0x7fc00000U
#define SNAN_S 0x7f800001U
#define INF_S 0x7f800000U
#define QNAN_D 0x7ff8000000000000ULL
#define SNAN_D 0x7ff0000000000001ULL
#define INF_D 0x7ff0000000000000ULL

/* OP-FP funct5 values */
enum {
	ADD = 0x00,
	SUB = 0x01,
	MUL = 0x02,
	DIV = 0x03,
	SGNJ = 0x04,
	MINMAX = 0x05,
	CVT_FF = 0x08,
	SQRT = 0x0b,
	CMP = 0x14,
	CVT_IF = 0x18,
	CVT_FI = 0x1a,
	MVX_CLASS = 0x1c,
	MVF = 0x1e,
};

enum { FMADD = 0x43, FMSUB = 0x47, FNMSUB = 0x4b, FNMADD = 0x4f };
enum { CVT_W = 0, CVT_WU = 1, CVT_L = 2, CVT_LU = 3 };

static uint32_t r_type(unsigned funct5, unsigned fmt, unsigned rs2, unsigned rs1, unsigned funct3,
		       unsigned rd)
{
	return funct5 << 27 | fmt << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | 0x53;
}

static uint32_t r4_type(unsigned opcode, unsigned rs3, unsigned fmt, unsigned rs2, unsigned rs1,
			unsigned rm, unsigned rd)
{
	return rs3 << 27 | fmt << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | opcode;
}

static uint32_t fs(float v)
{
	uint32_t b;
	memcpy(&b, &v, sizeof b);
	return b;
}

static uint64_t fd(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof b);
	return b;
}

static float sf(uint32_t b)
{
	float v;
	memcpy(&v, &b, sizeof v);
	return v;
}

static double df(uint64_t b)
{
	double v;
	memcpy(&v, &b, sizeof v);
	return v;
}

/* Register contents for an operand of format fmt: singles are NaN-boxed. */
static uint64_t reg(unsigned fmt, uint64_t bits)
{
	return fmt == S ? BOX | (uint32_t)bits : bits;
}

struct result {
	int rc;
	uint64_t v; /* destination register (unboxed for single results) */
	unsigned flags;
};

/* fpu_execute, then back to the host's FP environment, which makes
 * h->fflags exact (the interpreter does this before anything reads them). */
static int run_fp(struct hart *h, uint32_t insn)
{
	int rc = fpu_execute(h, insn);
	fpu_host_env(h);
	return rc;
}

/* Run insn on a fresh hart with f1..f3 = fa, fb, fc (raw register contents),
 * x1 = xa, frm as given.  rd is register 4 of the file the caller reads. */
static struct hart *fresh(struct hart *h, uint64_t fa, uint64_t fb, uint64_t fc, uint64_t xa,
			  unsigned frm)
{
	/* the architectural state only: the TLBs and decode cache behind it
	 * are large and fpu_execute never touches them */
	memset(h, 0, offsetof(struct hart, tlb_m));
	h->f[1] = fa;
	h->f[2] = fb;
	h->f[3] = fc;
	h->x[1] = xa;
	h->frm = (uint8_t)frm;
	return h;
}

/* Result in f4 of format fmt; a single result must come back NaN-boxed. */
static struct result f_result(struct hart *h, int rc, unsigned fmt)
{
	struct result r = { rc, h->f[4], h->fflags };
	if (rc == 0 && fmt == S) {
		assert_int_equal(h->f[4] >> 32, 0xffffffffU);
		r.v = (uint32_t)h->f[4];
	}
	return r;
}

/* Two-operand (or one, for SQRT) OP-FP arithmetic with frm = RNE. */
static struct result fop(unsigned funct5, unsigned fmt, unsigned rm, uint64_t a, uint64_t b)
{
	struct hart h;
	fresh(&h, reg(fmt, a), reg(fmt, b), 0, 0, RM_RNE);
	return f_result(&h, run_fp(&h, r_type(funct5, fmt, funct5 == SQRT ? 0 : 2, 1, rm, 4)),
			fmt);
}

static struct result fused(unsigned opcode, unsigned fmt, unsigned rm, uint64_t a, uint64_t b,
			  uint64_t c)
{
	struct hart h;
	fresh(&h, reg(fmt, a), reg(fmt, b), reg(fmt, c), 0, RM_RNE);
	return f_result(&h, run_fp(&h, r4_type(opcode, 3, fmt, 2, 1, rm, 4)), fmt);
}

/* An OP-FP instruction with an integer destination (x4). */
static struct result xop(unsigned funct5, unsigned fmt, unsigned rs2, unsigned funct3, uint64_t a,
			 uint64_t b)
{
	struct hart h;
	fresh(&h, reg(fmt, a), reg(fmt, b), 0, 0, RM_RNE);
	int rc = run_fp(&h, r_type(funct5, fmt, rs2, 1, funct3, 4));
	return (struct result){ rc, h.x[4], h.fflags };
}

static struct result fcvt_to_int(unsigned fmt, unsigned type, unsigned rm, uint64_t a)
{
	return xop(CVT_IF, fmt, type, rm, a, 0);
}

static struct result fcvt_from_int(unsigned fmt, unsigned type, unsigned rm, uint64_t x)
{
	struct hart h;
	fresh(&h, 0, 0, 0, x, RM_RNE);
	return f_result(&h, run_fp(&h, r_type(CVT_FI, fmt, type, 1, rm, 4)), fmt);
}

/* FCVT.S.D (to = S) or FCVT.D.S (to = D). */
static struct result fcvt_ff(unsigned to, unsigned rm, uint64_t a)
{
	struct hart h;
	unsigned from = to == S ? D : S;
	fresh(&h, reg(from, a), 0, 0, 0, RM_RNE);
	return f_result(&h, run_fp(&h, r_type(CVT_FF, to, from, 1, rm, 4)), to);
}

/* For table-driven loops: say which entry is wrong; the CHECK after it
 * then fails. */
static void check_entry(struct result r, uint64_t value, unsigned flags, const char *table,
			size_t i, unsigned sub)
{
	if (r.rc != 0 || r.v != value || r.flags != flags)
		print_error("%s[%zu] (%u): rc %d, %#llx flags %#x; want %#llx flags %#x\n", table, i,
			    sub, r.rc, (unsigned long long)r.v, r.flags, (unsigned long long)value,
			    flags);
}

#define CHECK(res, value, fl)                                                                     \
	do {                                                                                       \
		struct result r_ = (res);                                                          \
		assert_int_equal(r_.rc, 0);                                                        \
		assert_int_equal(r_.v, (uint64_t)(value));                                         \
		assert_int_equal(r_.flags, (unsigned)(fl));                                        \
	} while (0)

/* ------------------------------------------------------------------ */
/* The cases of riscv-tests rv64uf / rv64ud (frm = RNE, rm = DYN)      */

struct arith_case {
	unsigned op; /* funct5 or, for fused ops, the opcode */
	unsigned flags;
	double result, a, b, c;
};

static const struct arith_case riscv_tests_arith[] = {
	{ ADD, 0, 3.5, 2.5, 1.0, 0 },
	{ ADD, NX, -1234, -1235.1, 1.1, 0 },
	{ SUB, 0, 1.5, 2.5, 1.0, 0 },
	{ SUB, NX, -1234, -1235.1, -1.1, 0 },
	{ MUL, 0, 2.5, 2.5, 1.0, 0 },
	{ MUL, NX, 1358.61, -1235.1, -1.1, 0 },
	{ MUL, NX, 3.14159265e-8, 3.14159265, 0.00000001, 0 },
	{ DIV, NX, 1.1557273520668288, 3.14159265, 2.71828182, 0 },
	{ DIV, NX, -0.9991093838555584, -1234, 1235.1, 0 },
	{ DIV, 0, 3.14159265, 3.14159265, 1.0, 0 },
	{ SQRT, NX, 1.7724538498928541, 3.14159265, 0, 0 },
	{ SQRT, 0, 100, 10000, 0, 0 },
	{ SQRT, NX, 13.076696830622021, 171.0, 0, 0 },
	{ FMADD, 0, 3.5, 1.0, 2.5, 1.0 },
	{ FMADD, 0, -12.0, 2.0, -5.0, -2.0 },
	{ FNMADD, 0, -3.5, 1.0, 2.5, 1.0 },
	{ FNMADD, 0, 12.0, 2.0, -5.0, -2.0 },
	{ FMSUB, 0, 1.5, 1.0, 2.5, 1.0 },
	{ FMSUB, NX, 1234, -1.0, -1235.1, 1.1 },
	{ FMSUB, 0, -8.0, 2.0, -5.0, -2.0 },
	{ FNMSUB, 0, -1.5, 1.0, 2.5, 1.0 },
	{ FNMSUB, NX, -1234, -1.0, -1235.1, 1.1 },
	{ FNMSUB, 0, 8.0, 2.0, -5.0, -2.0 },
	{ MINMAX, 0, 1.0, 2.5, 1.0, 0 },
	{ MINMAX, 0, -1235.1, -1235.1, 1.1, 0 },
	{ MINMAX, 0, -1235.1, 1.1, -1235.1, 0 },
	{ MINMAX, 0, -1235.1, NAN, -1235.1, 0 },
	{ MINMAX, 0, 0.00000001, 3.14159265, 0.00000001, 0 },
	{ MINMAX, 0, -2.0, -1.0, -2.0, 0 },
	{ MINMAX, 0, -0.0, -0.0, 0.0, 0 },
	{ MINMAX, 0, -0.0, 0.0, -0.0, 0 },
};

static const struct arith_case riscv_tests_max[] = {
	{ MINMAX, 0, 2.5, 2.5, 1.0, 0 },
	{ MINMAX, 0, 1.1, -1235.1, 1.1, 0 },
	{ MINMAX, 0, 1.1, 1.1, -1235.1, 0 },
	{ MINMAX, 0, -1235.1, NAN, -1235.1, 0 },
	{ MINMAX, 0, 3.14159265, 3.14159265, 0.00000001, 0 },
	{ MINMAX, 0, -1.0, -1.0, -2.0, 0 },
	{ MINMAX, 0, 0.0, -0.0, 0.0, 0 },
	{ MINMAX, 0, 0.0, 0.0, -0.0, 0 },
};

static struct result run_case(const struct arith_case *c, unsigned fmt, unsigned funct3)
{
	uint64_t a = fmt == S ? fs((float)c->a) : fd(c->a);
	uint64_t b = fmt == S ? fs((float)c->b) : fd(c->b);
	uint64_t x = fmt == S ? fs((float)c->c) : fd(c->c);

	if (c->op >= FMADD)
		return fused(c->op, fmt, funct3, a, b, x);
	return fop(c->op, fmt, funct3, a, b);
}

static void test_riscv_tests_arith_d(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof riscv_tests_arith / sizeof riscv_tests_arith[0]; i++) {
		const struct arith_case *c = &riscv_tests_arith[i];
		CHECK(run_case(c, D, c->op == MINMAX ? 0 : DYN), fd(c->result), c->flags);
	}
	for (size_t i = 0; i < sizeof riscv_tests_max / sizeof riscv_tests_max[0]; i++)
		CHECK(run_case(&riscv_tests_max[i], D, 1), fd(riscv_tests_max[i].result), 0);
	/* cases whose double results are spelled differently from the single ones */
	CHECK(fop(ADD, D, DYN, fd(3.14159265), fd(0.00000001)), fd(3.14159266), NX);
	CHECK(fop(SUB, D, DYN, fd(3.14159265), fd(0.00000001)), fd(3.1415926400000001), NX);
	CHECK(fused(FMADD, D, DYN, fd(-1.0), fd(-1235.1), fd(1.1)), fd(1236.1999999999999), NX);
	CHECK(fused(FNMADD, D, DYN, fd(-1.0), fd(-1235.1), fd(1.1)), fd(-1236.1999999999999), NX);
	CHECK(fop(SQRT, D, DYN, fd(1.60795e-7), 0), fd(0.00040099251863345283320230749702), NX);
	CHECK(fop(SQRT, D, DYN, fd(-1.0), 0), QNAN_D, NV);
	CHECK(fop(SUB, D, DYN, INF_D, INF_D), QNAN_D, NV);
	CHECK(fop(MINMAX, D, 1, SNAN_D, fd(1.0)), fd(1.0), NV);
	CHECK(fop(MINMAX, D, 1, 0x7fffffffffffffff, 0x7fffffffffffffff), QNAN_D, 0);
}

static void test_riscv_tests_arith_s(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof riscv_tests_arith / sizeof riscv_tests_arith[0]; i++) {
		const struct arith_case *c = &riscv_tests_arith[i];
		if (c->result == -1234 && c->op == ADD)
			continue; /* single variants below */
		CHECK(run_case(c, S, c->op == MINMAX ? 0 : DYN), fs((float)c->result), c->flags);
	}
	for (size_t i = 0; i < sizeof riscv_tests_max / sizeof riscv_tests_max[0]; i++)
		CHECK(run_case(&riscv_tests_max[i], S, 1), fs((float)riscv_tests_max[i].result), 0);
	CHECK(fop(ADD, S, DYN, fs(-1235.1f), fs(1.1f)), fs(-1234.0f), NX);
	CHECK(fop(ADD, S, DYN, fs(3.14159265f), fs(0.00000001f)), fs(3.14159265f), NX);
	CHECK(fop(SUB, S, DYN, fs(3.14159265f), fs(0.00000001f)), fs(3.14159265f), NX);
	CHECK(fop(MUL, S, DYN, fs(3.14159265f), fs(0.00000001f)), fs(3.14159265e-8f), NX);
	CHECK(fop(SQRT, S, DYN, fs(171.0f), 0), fs(13.076696f), NX);
	CHECK(fop(SQRT, S, DYN, fs(-1.0f), 0), QNAN_S, NV);
	CHECK(fused(FMADD, S, DYN, fs(-1.0f), fs(-1235.1f), fs(1.1f)), fs(1236.2f), NX);
	CHECK(fused(FNMADD, S, DYN, fs(-1.0f), fs(-1235.1f), fs(1.1f)), fs(-1236.2f), NX);
	CHECK(fop(SUB, S, DYN, INF_S, INF_S), QNAN_S, NV);
	CHECK(fop(MINMAX, S, 1, SNAN_S, 0x3f800000), 0x3f800000, NV);
	CHECK(fop(MINMAX, S, 1, 0x7fffffff, 0x7fffffff), QNAN_S, 0);
}

static void test_riscv_tests_fcmp(void **state)
{
	(void)state;
	for (unsigned fmt = S; fmt <= D; fmt++) {
		uint64_t m136 = fmt == S ? fs(-1.36f) : fd(-1.36);
		uint64_t m137 = fmt == S ? fs(-1.37f) : fd(-1.37);
		uint64_t qnan = fmt == S ? QNAN_S : QNAN_D, snan = fmt == S ? SNAN_S : SNAN_D;

		CHECK(xop(CMP, fmt, 2, 2, m136, m136), 1, 0); /* feq */
		CHECK(xop(CMP, fmt, 2, 0, m136, m136), 1, 0); /* fle */
		CHECK(xop(CMP, fmt, 2, 1, m136, m136), 0, 0); /* flt */
		CHECK(xop(CMP, fmt, 2, 2, m137, m136), 0, 0);
		CHECK(xop(CMP, fmt, 2, 0, m137, m136), 1, 0);
		CHECK(xop(CMP, fmt, 2, 1, m137, m136), 1, 0);
		/* only sNaN makes feq signal; any NaN makes flt/fle signal */
		CHECK(xop(CMP, fmt, 2, 2, qnan, 0), 0, 0);
		CHECK(xop(CMP, fmt, 2, 2, qnan, qnan), 0, 0);
		CHECK(xop(CMP, fmt, 2, 2, snan, 0), 0, NV);
		CHECK(xop(CMP, fmt, 2, 2, 0, snan), 0, NV);
		for (unsigned f3 = 0; f3 <= 1; f3++) {
			CHECK(xop(CMP, fmt, 2, f3, qnan, 0), 0, NV);
			CHECK(xop(CMP, fmt, 2, f3, qnan, qnan), 0, NV);
			CHECK(xop(CMP, fmt, 2, f3, snan, 0), 0, NV);
			CHECK(xop(CMP, fmt, 2, f3, 0, qnan), 0, NV);
		}
	}
}

static void test_riscv_tests_recoding(void **state)
{
	(void)state;
	/* infinities and zeroes produced by arithmetic compare equal to
	 * loaded ones */
	struct result r = fop(MUL, S, DYN, fs(3.0f), fs(-INFINITY));
	CHECK(r, fs(-INFINITY), 0);
	CHECK(xop(CMP, S, 2, 2, fs(-INFINITY), r.v), 1, 0);
	CHECK(xop(CMP, S, 2, 0, fs(-INFINITY), r.v), 1, 0);
	CHECK(xop(CMP, S, 2, 1, fs(-INFINITY), r.v), 0, 0);
	CHECK(xop(CMP, D, 2, 2, fd(-0.0), 0), 1, 0);
	CHECK(xop(CMP, D, 2, 0, fd(-0.0), 0), 1, 0);
	CHECK(xop(CMP, D, 2, 1, fd(-0.0), 0), 0, 0);
	/* converting a small double to a single subnormal drops the extra
	 * precision: 1221 * (float)2.3860049081905093e-40 */
	r = fcvt_ff(S, DYN, fd(2.3860049081905093e-40));
	CHECK(r, 0x0002991f, 0); /* exactly 170271 * 2^-149 */
	CHECK(fop(MUL, S, DYN, fs(1221.0f), r.v), fs(2.9133121e-37f), NX);
}

static void test_riscv_tests_fcvt(void **state)
{
	(void)state;
	CHECK(fcvt_from_int(S, CVT_W, DYN, 2), fs(2.0f), 0);
	CHECK(fcvt_from_int(S, CVT_W, DYN, (uint64_t)-2), fs(-2.0f), 0);
	CHECK(fcvt_from_int(S, CVT_WU, DYN, 2), fs(2.0f), 0);
	CHECK(fcvt_from_int(S, CVT_WU, DYN, (uint64_t)-2), fs(4.2949673e9f), NX);
	CHECK(fcvt_from_int(S, CVT_L, DYN, (uint64_t)-2), fs(-2.0f), 0);
	CHECK(fcvt_from_int(S, CVT_LU, DYN, 2), fs(2.0f), 0);
	CHECK(fcvt_from_int(S, CVT_LU, DYN, (uint64_t)-2), fs(1.8446744e19f), NX);
	CHECK(fcvt_from_int(D, CVT_W, DYN, (uint64_t)-2), fd(-2.0), 0);
	CHECK(fcvt_from_int(D, CVT_WU, DYN, (uint64_t)-2), fd(4294967294.0), 0);
	CHECK(fcvt_from_int(D, CVT_L, DYN, (uint64_t)-2), fd(-2.0), 0);
	CHECK(fcvt_from_int(D, CVT_LU, DYN, (uint64_t)-2), fd(1.8446744073709552e19), NX);
	CHECK(fcvt_ff(S, DYN, fd(-1.5)), fs(-1.5f), 0);
	CHECK(fcvt_ff(D, DYN, fs(-1.5f)), fd(-1.5), 0);
	/* a NaN through fcvt.s.d and back becomes the canonical NaN */
	struct result r = fcvt_ff(S, DYN, 0x7ffcffffffff8004);
	CHECK(r, QNAN_S, 0);
	CHECK(fcvt_ff(D, DYN, r.v), QNAN_D, 0);
}

struct fcvt_w_case {
	unsigned type, flags;
	uint64_t result;
	double in;
};

static const struct fcvt_w_case riscv_tests_fcvt_w[] = {
	{ CVT_W, NX, (uint64_t)-1, -1.1 },
	{ CVT_W, 0, (uint64_t)-1, -1.0 },
	{ CVT_W, NX, 0, -0.9 },
	{ CVT_W, NX, 0, 0.9 },
	{ CVT_W, 0, 1, 1.0 },
	{ CVT_W, NX, 1, 1.1 },
	{ CVT_W, NV, 0xffffffff80000000, -3e9 },
	{ CVT_W, NV, 0x7fffffff, 3e9 },
	{ CVT_WU, NV, 0, -3.0 },
	{ CVT_WU, NV, 0, -1.0 },
	{ CVT_WU, NX, 0, -0.9 },
	{ CVT_WU, NX, 0, 0.9 },
	{ CVT_WU, 0, 1, 1.0 },
	{ CVT_WU, NX, 1, 1.1 },
	{ CVT_WU, NV, 0, -3e9 },
	{ CVT_WU, 0, 0xffffffffb2d05e00, 3e9 },
	{ CVT_L, NX, (uint64_t)-1, -1.1 },
	{ CVT_L, 0, (uint64_t)-1, -1.0 },
	{ CVT_L, NX, 0, -0.9 },
	{ CVT_L, NX, 0, 0.9 },
	{ CVT_L, 0, 1, 1.0 },
	{ CVT_L, NX, 1, 1.1 },
	{ CVT_LU, NV, 0, -3.0 },
	{ CVT_LU, NV, 0, -1.0 },
	{ CVT_LU, NX, 0, -0.9 },
	{ CVT_LU, NX, 0, 0.9 },
	{ CVT_LU, 0, 1, 1.0 },
	{ CVT_LU, NX, 1, 1.1 },
	{ CVT_LU, NV, 0, -3e9 },
};

static void test_riscv_tests_fcvt_w(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof riscv_tests_fcvt_w / sizeof riscv_tests_fcvt_w[0]; i++) {
		const struct fcvt_w_case *c = &riscv_tests_fcvt_w[i];
		CHECK(fcvt_to_int(D, c->type, RM_RTZ, fd(c->in)), c->result, c->flags);
		CHECK(fcvt_to_int(S, c->type, RM_RTZ, fs((float)c->in)), c->result, c->flags);
	}
	/* double-only cases */
	CHECK(fcvt_to_int(D, CVT_L, RM_RTZ, fd(-3e9)), (uint64_t)-3000000000LL, 0);
	CHECK(fcvt_to_int(D, CVT_L, RM_RTZ, fd(3e9)), 3000000000ULL, 0);
	CHECK(fcvt_to_int(D, CVT_L, RM_RTZ, fd(-3e19)), 0x8000000000000000, NV);
	CHECK(fcvt_to_int(D, CVT_L, RM_RTZ, fd(3e19)), 0x7fffffffffffffff, NV);
	CHECK(fcvt_to_int(D, CVT_LU, RM_RTZ, fd(3e9)), 3000000000ULL, 0);
	/* NaN with the sign set and infinities, through DYN */
	static const uint64_t special_d[] = { 0xffffffffffffffff, 0x7fffffffffffffff,
					      0xfff0000000000000, INF_D };
	static const uint32_t special_s[] = { 0xffffffff, 0x7fffffff, 0xff800000, INF_S };
	static const uint64_t want[4][4] = {
		/* W, WU, L, LU */
		{ 0x7fffffff, UINT64_MAX, 0x7fffffffffffffff, UINT64_MAX },
		{ 0x7fffffff, UINT64_MAX, 0x7fffffffffffffff, UINT64_MAX },
		{ 0xffffffff80000000, 0, 0x8000000000000000, 0 },
		{ 0x7fffffff, UINT64_MAX, 0x7fffffffffffffff, UINT64_MAX },
	};
	for (unsigned v = 0; v < 4; v++) {
		for (unsigned t = 0; t < 4; t++) {
			CHECK(fcvt_to_int(D, t, DYN, special_d[v]), want[v][t], NV);
			CHECK(fcvt_to_int(S, t, DYN, special_s[v]), want[v][t], NV);
		}
	}
}

static void test_riscv_tests_move(void **state)
{
	(void)state;
	struct hart h;
	for (unsigned f3 = 0; f3 < 3; f3++) {
		for (unsigned s1 = 0; s1 < 2; s1++) {
			for (unsigned s2 = 0; s2 < 2; s2++) {
				unsigned sign = f3 == 0 ? s2 : f3 == 1 ? !s2 : s1 ^ s2;
				uint64_t a = (uint64_t)s1 << 31 | 0x12345678;
				CHECK(fop(SGNJ, S, f3, a, (uint64_t)-(int64_t)s2),
				      (uint64_t)sign << 31 | 0x12345678, 0);
				uint64_t ad = (uint64_t)s1 << 63 | 0x123456789abcdef0;
				CHECK(fop(SGNJ, D, f3, ad, (uint64_t)-(int64_t)s2),
				      (uint64_t)sign << 63 | 0x123456789abcdef0, 0);
			}
		}
	}
	/* fsgnj.s on registers written as doubles: improperly boxed operands
	 * read as the canonical NaN (rs1, rs2 raw register contents) */
	static const struct {
		uint64_t rs1, rs2, rd;
	} sp[] = {
		{ 0x7ffffffe12345678, 0, QNAN_S },
		{ 0xfffffffe12345678, 0, QNAN_S },
		{ 0x7fffffff12345678, 0, QNAN_S },
		{ 0xffffffff12345678, 0, 0x12345678 },
		{ 0x7ffffffe12345678, 0x80000000, QNAN_S },
		{ 0xffffffff12345678, 0x80000000, 0x12345678 },
		{ 0x7ffffffe12345678, 0xffffffff80000000, 0xffc00000 },
		{ 0xfffffffe12345678, 0xffffffff80000000, 0xffc00000 },
		{ 0xffffffff12345678, 0xffffffff80000000, 0x92345678 },
		{ 0xffffffff12345678, 0x7fffffff80000000, 0x12345678 },
	};
	for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++) {
		fresh(&h, sp[i].rs1, sp[i].rs2, 0, 0, 0);
		assert_int_equal(run_fp(&h, r_type(SGNJ, S, 2, 1, 0, 4)), 0);
		assert_int_equal(h.f[4], BOX | sp[i].rd);
	}
	/* fsgnj.d moves all 64 bits whatever they hold */
	fresh(&h, 0x7fffffff11111111, 0xffffffff11111111, 0, 0, 0);
	assert_int_equal(run_fp(&h, r_type(SGNJ, D, 2, 1, 0, 4)), 0);
	assert_int_equal(h.f[4], 0xffffffff11111111);
	fresh(&h, 0xffffffff11111111, 0x0000000000000000, 0, 0, 0);
	assert_int_equal(run_fp(&h, r_type(SGNJ, D, 2, 1, 0, 4)), 0);
	assert_int_equal(h.f[4], 0x7fffffff11111111);
	assert_int_equal(h.fflags, 0);
}

/* ------------------------------------------------------------------ */
/* Rounding modes                                                       */

struct rm_case {
	unsigned op, fmt;
	uint64_t a, b, c;
	uint64_t want[5]; /* RNE RTZ RDN RUP RMM */
	unsigned flags;
};

static const struct rm_case rm_cases[] = {
	/* 1 + 2^-24 is halfway between 1 and 1+2^-23: RNE picks the even 1,
	 * RMM rounds away */
	{ ADD, S, 0x3f800000, 0x33800000, 0,
	  { 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800001, 0x3f800001 }, NX },
	{ ADD, S, 0xbf800000, 0xb3800000, 0,
	  { 0xbf800000, 0xbf800000, 0xbf800001, 0xbf800000, 0xbf800001 }, NX },
	/* 1 + 3*2^-24: a tie where even is the larger neighbour */
	{ ADD, S, 0x3f800001, 0x33800000, 0,
	  { 0x3f800002, 0x3f800001, 0x3f800001, 0x3f800002, 0x3f800002 }, NX },
	/* 1 + 2^-25: below half */
	{ ADD, S, 0x3f800000, 0x33000000, 0,
	  { 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800001, 0x3f800000 }, NX },
	{ SUB, D, 0x3ff0000000000000, 0xbca0000000000000, 0,
	  { 0x3ff0000000000000, 0x3ff0000000000000, 0x3ff0000000000000, 0x3ff0000000000001,
	    0x3ff0000000000001 },
	  NX },
	/* exact: every mode agrees, no flags */
	{ ADD, D, 0x3ff8000000000000, 0x3ff8000000000000, 0,
	  { 0x4008000000000000, 0x4008000000000000, 0x4008000000000000, 0x4008000000000000,
	    0x4008000000000000 },
	  0 },
	/* (1+2^-12)^2 = 1 + 2^-11 + 2^-24: a tie */
	{ MUL, S, 0x3f800800, 0x3f800800, 0,
	  { 0x3f801000, 0x3f801000, 0x3f801000, 0x3f801001, 0x3f801001 }, NX },
	{ MUL, S, 0xbf800800, 0x3f800800, 0,
	  { 0xbf801000, 0xbf801000, 0xbf801001, 0xbf801000, 0xbf801001 }, NX },
	/* (1+2^-26)(1+2^-27) = 1 + 2^-26 + 2^-27 + 2^-53: a tie */
	{ MUL, D, 0x3ff0000004000000, 0x3ff0000002000000, 0,
	  { 0x3ff0000006000000, 0x3ff0000006000000, 0x3ff0000006000000, 0x3ff0000006000001,
	    0x3ff0000006000001 },
	  NX },
	/* 1/3 */
	{ DIV, S, 0x3f800000, 0x40400000, 0,
	  { 0x3eaaaaab, 0x3eaaaaaa, 0x3eaaaaaa, 0x3eaaaaab, 0x3eaaaaab }, NX },
	{ DIV, D, 0xbff0000000000000, 0x4008000000000000, 0,
	  { 0xbfd5555555555555, 0xbfd5555555555555, 0xbfd5555555555556, 0xbfd5555555555555,
	    0xbfd5555555555555 },
	  NX },
	/* 5*2^-149 / 2: a tie in the subnormal range, where division can tie */
	{ DIV, S, 0x00000005, 0x40000000, 0,
	  { 0x00000002, 0x00000002, 0x00000002, 0x00000003, 0x00000003 }, UF | NX },
	/* sqrt never ties, so RMM agrees with RNE */
	{ SQRT, S, 0x40000000, 0, 0, { 0x3fb504f3, 0x3fb504f3, 0x3fb504f3, 0x3fb504f4, 0x3fb504f3 }, NX },
	{ SQRT, D, 0x4000000000000000, 0, 0,
	  { 0x3ff6a09e667f3bcd, 0x3ff6a09e667f3bcc, 0x3ff6a09e667f3bcc, 0x3ff6a09e667f3bcd,
	    0x3ff6a09e667f3bcd },
	  NX },
	/* fused: (1+2^-12)^2 - 2^-11 = 1 + 2^-24 exactly, a tie */
	{ FMADD, S, 0x3f800800, 0x3f800800, 0xba000000,
	  { 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800001, 0x3f800001 }, NX },
	/* -(1*1) - 2^-24 under FNMADD */
	{ FNMADD, S, 0x3f800000, 0x3f800000, 0x33800000,
	  { 0xbf800000, 0xbf800000, 0xbf800001, 0xbf800000, 0xbf800001 }, NX },
	{ FMSUB, D, 0x3ff0000000000000, 0x3ff0000000000000, 0xbca0000000000000,
	  { 0x3ff0000000000000, 0x3ff0000000000000, 0x3ff0000000000000, 0x3ff0000000000001,
	    0x3ff0000000000001 },
	  NX },
	/* only a fused multiply-add sees the 2^-24: rounding a*b first gives 0 */
	{ FMADD, S, 0x3f800800, 0x3f800800, 0xbf801000,
	  { 0x33800000, 0x33800000, 0x33800000, 0x33800000, 0x33800000 }, 0 },
	/* overflow: RNE/RMM go to infinity, RTZ to the largest finite,
	 * directed modes depending on the sign */
	{ MUL, S, 0x7f000000, 0x40000000, 0,
	  { INF_S, 0x7f7fffff, 0x7f7fffff, INF_S, INF_S }, OF | NX },
	{ MUL, D, 0xffe0000000000000, 0x4000000000000000, 0,
	  { 0xfff0000000000000, 0xffefffffffffffff, 0xfff0000000000000, 0xffefffffffffffff,
	    0xfff0000000000000 },
	  OF | NX },
	/* underflow to zero or the smallest subnormal */
	{ MUL, S, 0x00000001, 0x3e800000, 0, { 0, 0, 0, 1, 0 }, UF | NX },
	{ MUL, D, 0x8000000000000001, 0x3fe0000000000000, 0,
	  { 0x8000000000000000, 0x8000000000000000, 0x8000000000000001, 0x8000000000000000,
	    0x8000000000000001 },
	  UF | NX },
};

static struct result run_rm_case(const struct rm_case *c, unsigned rm)
{
	if (c->op >= FMADD)
		return fused(c->op, c->fmt, rm, c->a, c->b, c->c);
	return fop(c->op, c->fmt, rm, c->a, c->b);
}

static void test_rounding_modes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rm_cases / sizeof rm_cases[0]; i++) {
		for (unsigned rm = RM_RNE; rm <= RM_RMM; rm++) {
			struct result r = run_rm_case(&rm_cases[i], rm);
			check_entry(r, rm_cases[i].want[rm], rm_cases[i].flags, "rm_cases", i, rm);
			CHECK(r, rm_cases[i].want[rm], rm_cases[i].flags);
		}
	}
}

/* Exact cancellation gives +0, or -0 when rounding down. */
static void test_signed_zero_results(void **state)
{
	(void)state;
	for (unsigned rm = RM_RNE; rm <= RM_RMM; rm++) {
		uint64_t zero_s = rm == RM_RDN ? 0x80000000 : 0;
		uint64_t zero_d = rm == RM_RDN ? 0x8000000000000000 : 0;
		CHECK(fop(SUB, S, rm, fs(1.5f), fs(1.5f)), zero_s, 0);
		CHECK(fop(ADD, D, rm, fd(-2.0), fd(2.0)), zero_d, 0);
		CHECK(fop(ADD, D, rm, fd(0.0), fd(-0.0)), zero_d, 0);
		CHECK(fop(ADD, D, rm, fd(-0.0), fd(-0.0)), fd(-0.0), 0);
		CHECK(fused(FMADD, S, rm, fs(2.0f), fs(3.0f), fs(-6.0f)), zero_s, 0);
		CHECK(fused(FMADD, D, rm, fd(0.0), fd(3.0), fd(-0.0)), zero_d, 0);
		CHECK(fused(FMADD, D, rm, fd(-0.0), fd(3.0), fd(-0.0)), fd(-0.0), 0);
		/* -(a*b) - c with a*b = +0 and c = +0 is -0 in every mode */
		CHECK(fused(FNMADD, D, rm, fd(0.0), fd(3.0), fd(0.0)), fd(-0.0), 0);
		CHECK(fused(FNMSUB, S, rm, fs(0.0f), fs(3.0f), fs(0.0f)), zero_s, 0);
		CHECK(fop(SQRT, D, rm, fd(-0.0), 0), fd(-0.0), 0);
		CHECK(fop(MUL, S, rm, fs(-0.0f), fs(5.0f)), 0x80000000, 0);
		/* x + 0 is x exactly */
		CHECK(fused(FMADD, D, rm, fd(0.0), fd(3.0), fd(1.1)), fd(1.1), 0);
	}
}

static void test_dynamic_rounding_mode(void **state)
{
	(void)state;
	struct hart h;
	uint32_t add_dyn = r_type(ADD, S, 2, 1, DYN, 4);

	for (unsigned frm = RM_RNE; frm <= RM_RMM; frm++) {
		fresh(&h, BOX | 0x3f800000, BOX | 0x33800000, 0, 0, frm);
		assert_int_equal(run_fp(&h, add_dyn), 0);
		assert_int_equal(h.f[4], BOX | rm_cases[0].want[frm]);
		assert_int_equal(h.fflags, NX);
	}
	/* a static rm overrides frm */
	fresh(&h, BOX | 0x3f800000, BOX | 0x33800000, 0, 0, RM_RUP);
	assert_int_equal(run_fp(&h, r_type(ADD, S, 2, 1, RM_RNE, 4)), 0);
	assert_int_equal(h.f[4], BOX | 0x3f800000);
	/* fflags accrue */
	fresh(&h, BOX | 0x3f800000, BOX | 0x33800000, 0, 0, RM_RNE);
	h.fflags = NV;
	assert_int_equal(run_fp(&h, add_dyn), 0);
	assert_int_equal(h.fflags, NV | NX);
}

/* RISC-V detects tininess after rounding: a product just below 2^-126 that
 * rounds up to 2^-126 raises NX but not UF.  SSE must agree. */
static void test_tininess_after_rounding(void **state)
{
	(void)state;
	/* (1+2^-23) * (2^-126 - 2^-149) = 2^-126 (1 - 2^-46) */
	CHECK(fop(MUL, S, RM_RNE, 0x3f800001, 0x007fffff), 0x00800000, NX);
	CHECK(fop(MUL, S, RM_RUP, 0x3f800001, 0x007fffff), 0x00800000, NX);
	CHECK(fop(MUL, S, RM_RMM, 0x3f800001, 0x007fffff), 0x00800000, NX);
	CHECK(fop(MUL, S, RM_RTZ, 0x3f800001, 0x007fffff), 0x007fffff, UF | NX);
	CHECK(fop(MUL, S, RM_RDN, 0x3f800001, 0x007fffff), 0x007fffff, UF | NX);
	CHECK(fop(MUL, D, RM_RNE, 0x3ff0000000000001, 0x000fffffffffffff), 0x0010000000000000, NX);
	CHECK(fop(MUL, D, RM_RMM, 0x3ff0000000000001, 0x000fffffffffffff), 0x0010000000000000, NX);
	CHECK(fop(MUL, D, RM_RTZ, 0x3ff0000000000001, 0x000fffffffffffff), 0x000fffffffffffff,
	      UF | NX);
	/* same through fcvt.s.d: 2^-126 (1 - 2^-25) is a tie at full precision
	 * that rounds up to 2^-126 */
	uint64_t just_below = fd(ldexp(1.0 - ldexp(1.0, -25), -126));
	CHECK(fcvt_ff(S, RM_RNE, just_below), 0x00800000, NX);
	CHECK(fcvt_ff(S, RM_RTZ, just_below), 0x007fffff, UF | NX);
	/* 2^-126 (1 - 2^-24) needs 24 bits: tiny after rounding too */
	CHECK(fcvt_ff(S, RM_RNE, fd(ldexp(1.0 - ldexp(1.0, -24), -126))), 0x00800000, UF | NX);
	/* an exact subnormal result is tiny but raises nothing */
	CHECK(fop(MUL, S, RM_RNE, 0x00800000, fs(0.5f)), 0x00400000, 0);
	CHECK(fop(DIV, D, RM_RNE, 0x0010000000000000, fd(4.0)), 0x0004000000000000, 0);
	/* fma whose unrounded result sits just below 2^-1022 */
	CHECK(fused(FMADD, D, RM_RNE, 0x3ff0000000000001, 0x000fffffffffffff, 0), 0x0010000000000000,
	      NX);
}

/* ------------------------------------------------------------------ */
/* NaNs                                                                 */

static void test_nan_boxing(void **state)
{
	(void)state;
	struct hart h;

	/* an unboxed single reads as the canonical (quiet) NaN */
	static const uint64_t bad_boxes[] = { 0x000000003f800000, 0xfffffffe3f800000,
					      0x7fffffff3f800000, 0x3ff0000000000000 };
	for (size_t i = 0; i < sizeof bad_boxes / sizeof bad_boxes[0]; i++) {
		fresh(&h, bad_boxes[i], BOX | 0x3f800000, 0, 0, 0);
		assert_int_equal(run_fp(&h, r_type(ADD, S, 2, 1, RM_RNE, 4)), 0);
		assert_int_equal(h.f[4], BOX | QNAN_S);
		assert_int_equal(h.fflags, 0);
		/* fclass sees a quiet NaN */
		assert_int_equal(run_fp(&h, r_type(MVX_CLASS, S, 0, 1, 1, 5)), 0);
		assert_int_equal(h.x[5], 1 << 9);
		/* feq is quiet on it, flt signals */
		assert_int_equal(run_fp(&h, r_type(CMP, S, 2, 1, 2, 5)), 0);
		assert_int_equal(h.x[5], 0);
		assert_int_equal(h.fflags, 0);
		assert_int_equal(run_fp(&h, r_type(CMP, S, 1, 2, 1, 5)), 0);
		assert_int_equal(h.fflags, NV);
		/* fcvt.d.s of it is the canonical double NaN, quietly */
		h.fflags = 0;
		assert_int_equal(run_fp(&h, r_type(CVT_FF, D, 0, 1, RM_RNE, 6)), 0);
		assert_int_equal(h.f[6], QNAN_D);
		assert_int_equal(h.fflags, 0);
		/* min/max return the other operand */
		assert_int_equal(run_fp(&h, r_type(MINMAX, S, 2, 1, 0, 7)), 0);
		assert_int_equal(h.f[7], BOX | 0x3f800000);
		/* fmv.x.w moves the raw low bits anyway, sign-extended */
		assert_int_equal(run_fp(&h, r_type(MVX_CLASS, S, 0, 1, 0, 5)), 0);
		assert_int_equal(h.x[5], (uint64_t)(int64_t)(int32_t)(uint32_t)bad_boxes[i]);
	}
	/* fmv.w.x boxes, fmv.x.w sign-extends, fmv.d.x/fmv.x.d move 64 bits */
	fresh(&h, 0, 0, 0, 0x123456789abcdef0, 0);
	assert_int_equal(run_fp(&h, r_type(MVF, S, 0, 1, 0, 4)), 0);
	assert_int_equal(h.f[4], BOX | 0x9abcdef0);
	assert_int_equal(run_fp(&h, r_type(MVX_CLASS, S, 0, 4, 0, 5)), 0);
	assert_int_equal(h.x[5], 0xffffffff9abcdef0);
	assert_int_equal(run_fp(&h, r_type(MVF, D, 0, 1, 0, 6)), 0);
	assert_int_equal(h.f[6], 0x123456789abcdef0);
	assert_int_equal(run_fp(&h, r_type(MVX_CLASS, D, 0, 6, 0, 7)), 0);
	assert_int_equal(h.x[7], 0x123456789abcdef0);
	h.x[1] = 0x7ff0000000000001; /* a signalling NaN moves untouched */
	assert_int_equal(run_fp(&h, r_type(MVF, D, 0, 1, 0, 6)), 0);
	assert_int_equal(h.f[6], 0x7ff0000000000001);
	h.x[1] = 0x000000007f800001;
	assert_int_equal(run_fp(&h, r_type(MVF, S, 0, 1, 0, 6)), 0);
	assert_int_equal(h.f[6], BOX | 0x7f800001);
	assert_int_equal(run_fp(&h, r_type(MVX_CLASS, S, 0, 6, 0, 5)), 0);
	assert_int_equal(h.x[5], 0x7f800001);
	assert_int_equal(h.fflags, 0);
	/* every single-precision result is boxed, including from conversions */
	CHECK(fcvt_from_int(S, CVT_L, RM_RNE, 7), fs(7.0f), 0);
	CHECK(fcvt_ff(S, RM_RNE, fd(0.25)), fs(0.25f), 0);
}

static void test_canonical_nan_and_signalling(void **state)
{
	(void)state;
	/* any NaN result is the canonical NaN; sNaN operands raise NV */
	CHECK(fop(ADD, S, RM_RNE, SNAN_S, fs(1.0f)), QNAN_S, NV);
	CHECK(fop(ADD, S, RM_RNE, fs(1.0f), 0xff812345), QNAN_S, NV);
	CHECK(fop(ADD, S, RM_RNE, 0x7fc12345, fs(1.0f)), QNAN_S, 0);
	CHECK(fop(MUL, S, RM_RNE, 0xffc00000, fs(1.0f)), QNAN_S, 0);
	CHECK(fop(MUL, S, RM_RMM, 0xffc00001, SNAN_S), QNAN_S, NV);
	CHECK(fop(MUL, D, RM_RNE, SNAN_D, fd(2.0)), QNAN_D, NV);
	CHECK(fop(DIV, D, RM_RNE, 0xfff8000000001234, fd(2.0)), QNAN_D, 0);
	CHECK(fop(SQRT, D, RM_RNE, SNAN_D, 0), QNAN_D, NV);
	CHECK(fop(SQRT, S, RM_RMM, 0xffc00000, 0), QNAN_S, 0);
	/* invalid operations */
	CHECK(fop(SUB, D, RM_RNE, INF_D, INF_D), QNAN_D, NV);
	CHECK(fop(ADD, S, RM_RMM, INF_S, 0xff800000), QNAN_S, NV);
	CHECK(fop(MUL, S, RM_RNE, INF_S, 0x80000000), QNAN_S, NV);
	CHECK(fop(DIV, D, RM_RNE, 0, 0x8000000000000000), QNAN_D, NV);
	CHECK(fop(DIV, S, RM_RMM, INF_S, INF_S), QNAN_S, NV);
	CHECK(fop(SQRT, S, RM_RNE, fs(-2.0f), 0), QNAN_S, NV);
	CHECK(fop(SQRT, D, RM_RNE, 0xfff0000000000000, 0), QNAN_D, NV);
	CHECK(fop(SQRT, D, RM_RMM, fd(-1e-300), 0), QNAN_D, NV);
	/* division by zero; inf / 0 is an exact inf */
	CHECK(fop(DIV, S, RM_RNE, fs(1.0f), 0x80000000), 0xff800000, DZ);
	CHECK(fop(DIV, D, RM_RMM, fd(-3.0), 0x8000000000000000), INF_D, DZ);
	CHECK(fop(DIV, D, RM_RNE, INF_D, 0), INF_D, 0);
	CHECK(fop(DIV, S, RM_RNE, fs(1.0f), INF_S), 0, 0);
	CHECK(fop(SQRT, D, RM_RNE, INF_D, 0), INF_D, 0);
	/* FMA: inf*0 is invalid even with a quiet-NaN addend */
	for (unsigned rm = RM_RNE; rm <= RM_RMM; rm++) {
		CHECK(fused(FMADD, S, rm, INF_S, 0, QNAN_S), QNAN_S, NV);
		CHECK(fused(FMADD, D, rm, 0x8000000000000000, INF_D, QNAN_D), QNAN_D, NV);
		CHECK(fused(FNMSUB, D, rm, 0, 0xfff0000000000000, 0x7ff8000000000123), QNAN_D, NV);
		CHECK(fused(FMADD, D, rm, INF_D, 0, fd(1.0)), QNAN_D, NV);
		CHECK(fused(FMADD, S, rm, fs(2.0f), fs(3.0f), QNAN_S), QNAN_S, 0);
		CHECK(fused(FMADD, S, rm, QNAN_S, 0, INF_S), QNAN_S, 0);
		CHECK(fused(FMADD, S, rm, fs(2.0f), fs(3.0f), SNAN_S), QNAN_S, NV);
		CHECK(fused(FMSUB, D, rm, INF_D, fd(1.0), INF_D), QNAN_D, NV);
		CHECK(fused(FMADD, D, rm, INF_D, fd(-1.0), INF_D), QNAN_D, NV);
		CHECK(fused(FMADD, D, rm, INF_D, fd(1.0), INF_D), INF_D, 0);
		CHECK(fused(FNMADD, S, rm, INF_S, fs(1.0f), fs(5.0f)), 0xff800000, 0);
		CHECK(fused(FMADD, S, rm, fs(1.0f), fs(5.0f), 0xff800000), 0xff800000, 0);
	}
	/* conversions */
	CHECK(fcvt_ff(S, RM_RNE, SNAN_D), QNAN_S, NV);
	CHECK(fcvt_ff(S, RM_RMM, SNAN_D), QNAN_S, NV);
	CHECK(fcvt_ff(S, RM_RNE, 0xfff8000000000000), QNAN_S, 0);
	CHECK(fcvt_ff(D, RM_RNE, SNAN_S), QNAN_D, NV);
	CHECK(fcvt_ff(D, RM_RMM, 0xffc00000), QNAN_D, 0);
}

static void test_min_max(void **state)
{
	(void)state;
	for (unsigned fmt = S; fmt <= D; fmt++) {
		uint64_t pz = 0, nz = fmt == S ? 0x80000000 : 0x8000000000000000;
		uint64_t one = fmt == S ? fs(1.0f) : fd(1.0), m2 = fmt == S ? fs(-2.0f) : fd(-2.0);
		uint64_t qnan = fmt == S ? QNAN_S : QNAN_D, snan = fmt == S ? SNAN_S : SNAN_D;
		uint64_t neg_qnan = fmt == S ? 0xffc12345 : 0xfff8000000012345;
		uint64_t inf = fmt == S ? INF_S : INF_D, ninf = inf | nz;

		/* -0 < +0 in both argument orders */
		CHECK(fop(MINMAX, fmt, 0, pz, nz), nz, 0);
		CHECK(fop(MINMAX, fmt, 0, nz, pz), nz, 0);
		CHECK(fop(MINMAX, fmt, 1, pz, nz), pz, 0);
		CHECK(fop(MINMAX, fmt, 1, nz, pz), pz, 0);
		CHECK(fop(MINMAX, fmt, 0, one, m2), m2, 0);
		CHECK(fop(MINMAX, fmt, 1, one, m2), one, 0);
		CHECK(fop(MINMAX, fmt, 0, ninf, m2), ninf, 0);
		CHECK(fop(MINMAX, fmt, 1, inf, m2), inf, 0);
		/* one NaN: the other operand; both: canonical; sNaN: NV */
		CHECK(fop(MINMAX, fmt, 0, neg_qnan, m2), m2, 0);
		CHECK(fop(MINMAX, fmt, 1, m2, qnan), m2, 0);
		CHECK(fop(MINMAX, fmt, 0, snan, one), one, NV);
		CHECK(fop(MINMAX, fmt, 1, one, snan), one, NV);
		CHECK(fop(MINMAX, fmt, 0, neg_qnan, neg_qnan), qnan, 0);
		CHECK(fop(MINMAX, fmt, 1, snan, qnan), qnan, NV);
		CHECK(fop(MINMAX, fmt, 0, snan, snan), qnan, NV);
	}
}

static void test_compare(void **state)
{
	(void)state;
	for (unsigned fmt = S; fmt <= D; fmt++) {
		uint64_t nz = fmt == S ? 0x80000000 : 0x8000000000000000;
		uint64_t one = fmt == S ? fs(1.0f) : fd(1.0), m2 = fmt == S ? fs(-2.0f) : fd(-2.0);
		uint64_t inf = fmt == S ? INF_S : INF_D;
		uint64_t tiny = 1, ntiny = nz | 1; /* subnormals */

		/* feq, flt, fle of (a, b): {eq, lt, le} */
		static const unsigned EQ = 2, LT = 1, LE = 0;
		const struct {
			uint64_t a, b;
			unsigned eq, lt, le;
		} c[] = {
			{ 0, nz, 1, 0, 1 },      { nz, 0, 1, 0, 1 },       { m2, one, 0, 1, 1 },
			{ one, m2, 0, 0, 0 },    { one, one, 1, 0, 1 },    { ntiny, tiny, 0, 1, 1 },
			{ tiny, 0, 0, 0, 0 },    { nz | inf, m2, 0, 1, 1 }, { inf, inf, 1, 0, 1 },
			{ m2, m2 ^ nz, 0, 1, 1 }, { nz | one, nz | m2, 0, 0, 0 },
		};
		for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
			CHECK(xop(CMP, fmt, 2, EQ, c[i].a, c[i].b), c[i].eq, 0);
			CHECK(xop(CMP, fmt, 2, LT, c[i].a, c[i].b), c[i].lt, 0);
			CHECK(xop(CMP, fmt, 2, LE, c[i].a, c[i].b), c[i].le, 0);
		}
	}
	/* rd = x0 is never written, but the flags still accrue */
	struct hart h;
	fresh(&h, BOX | QNAN_S, BOX | QNAN_S, 0, 0, 0);
	assert_int_equal(run_fp(&h, r_type(CMP, S, 2, 1, 1, 0)), 0);
	assert_int_equal(h.x[0], 0);
	assert_int_equal(h.fflags, NV);
	fresh(&h, BOX | fs(1.0f), BOX | fs(1.0f), 0, 0, 0);
	assert_int_equal(run_fp(&h, r_type(CMP, S, 2, 1, 2, 0)), 0);
	assert_int_equal(h.x[0], 0);
}

static void test_fclass(void **state)
{
	(void)state;
	static const uint32_t s[10] = { 0xff800000, 0xbf800000, 0x807fffff, 0x80000000, 0x00000000,
					0x007fffff, 0x3f800000, 0x7f800000, 0x7f800001, 0x7fc00000 };
	static const uint64_t d[10] = { 0xfff0000000000000, 0xbff0000000000000, 0x800fffffffffffff,
					0x8000000000000000, 0x0000000000000000, 0x0000000000000001,
					0x0010000000000000, 0x7ff0000000000000, 0x7ff7ffffffffffff,
					0x7ff8000000000000 };
	for (unsigned i = 0; i < 10; i++) {
		CHECK(xop(MVX_CLASS, S, 0, 1, s[i], 0), 1u << i, 0);
		CHECK(xop(MVX_CLASS, D, 0, 1, d[i], 0), 1u << i, 0);
	}
	/* sign of NaNs does not matter; the largest finite values are normal */
	CHECK(xop(MVX_CLASS, S, 0, 1, 0xff800001, 0), 1 << 8, 0);
	CHECK(xop(MVX_CLASS, D, 0, 1, 0xfff8000000000000, 0), 1 << 9, 0);
	CHECK(xop(MVX_CLASS, S, 0, 1, 0xff7fffff, 0), 1 << 1, 0);
	CHECK(xop(MVX_CLASS, D, 0, 1, 0x7fefffffffffffff, 0), 1 << 6, 0);
}

/* ------------------------------------------------------------------ */
/* Conversions                                                          */

struct sat_case {
	double in;
	uint64_t want[4]; /* W WU L LU, as they land in x registers */
	unsigned flags[4];
	bool single_exact; /* the input is also exactly a float */
};

static void test_fcvt_saturation(void **state)
{
	(void)state;
	const double two31 = 2147483648.0, two63 = 9223372036854775808.0;
	const uint64_t all = UINT64_MAX, min_w = 0xffffffff80000000, min_l = 0x8000000000000000;
	const struct sat_case c[] = {
		{ -0.0, { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, true },
		{ NAN, { 0x7fffffff, all, INT64_MAX, all }, { NV, NV, NV, NV }, true },
		{ -NAN, { 0x7fffffff, all, INT64_MAX, all }, { NV, NV, NV, NV }, true },
		{ INFINITY, { 0x7fffffff, all, INT64_MAX, all }, { NV, NV, NV, NV }, true },
		{ -INFINITY, { min_w, 0, min_l, 0 }, { NV, NV, NV, NV }, true },
		{ two31, { 0x7fffffff, min_w, 0x80000000, 0x80000000 }, { NV, 0, 0, 0 }, true },
		{ -two31, { min_w, 0, (uint64_t)-0x80000000LL, 0 }, { 0, NV, 0, NV }, true },
		{ two31 - 1, { 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff }, { 0, 0, 0, 0 }, false },
		{ -two31 - 1, { min_w, 0, (uint64_t)-0x80000001LL, 0 }, { NV, NV, 0, NV }, false },
		{ 4294967295.0, { 0x7fffffff, all, 0xffffffff, 0xffffffff }, { NV, 0, 0, 0 }, false },
		{ 4294967296.0, { 0x7fffffff, all, 0x100000000, 0x100000000 }, { NV, NV, 0, 0 }, true },
		{ two63, { 0x7fffffff, all, INT64_MAX, min_l }, { NV, NV, NV, 0 }, true },
		{ -two63, { min_w, 0, min_l, 0 }, { NV, NV, 0, NV }, true },
		{ 2 * two63, { 0x7fffffff, all, INT64_MAX, all }, { NV, NV, NV, NV }, true },
		{ 1e300, { 0x7fffffff, all, INT64_MAX, all }, { NV, NV, NV, NV }, false },
		{ -1.0, { all, 0, all, 0 }, { 0, NV, 0, NV }, true },
		{ -0.5, { 0, 0, 0, 0 }, { NX, NX, NX, NX }, true },
		{ 1e-300, { 0, 0, 0, 0 }, { NX, NX, NX, NX }, false },
		{ 0x1p-149, { 0, 0, 0, 0 }, { NX, NX, NX, NX }, true },
		{ 123456789.0, { 123456789, 123456789, 123456789, 123456789 }, { 0, 0, 0, 0 }, false },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		for (unsigned t = 0; t < 4; t++) {
			struct result r = fcvt_to_int(D, t, RM_RTZ, fd(c[i].in));
			check_entry(r, c[i].want[t], c[i].flags[t], "saturation", i, t);
			CHECK(r, c[i].want[t], c[i].flags[t]);
			if (c[i].single_exact)
				CHECK(fcvt_to_int(S, t, RM_RTZ, fs((float)c[i].in)), c[i].want[t],
				      c[i].flags[t]);
		}
	}
	/* the largest in-range values of each type, from the largest floats
	 * below the bound */
	CHECK(fcvt_to_int(S, CVT_W, RM_RNE, fs(2147483520.0f)), 2147483520, 0);
	CHECK(fcvt_to_int(S, CVT_L, RM_RNE, fs(9223371487098961920.0f)), 9223371487098961920ULL, 0);
	CHECK(fcvt_to_int(D, CVT_LU, RM_RNE, fd(18446744073709549568.0)), 18446744073709549568ULL,
	      0);
	/* whether a value fits is decided after rounding */
	CHECK(fcvt_to_int(D, CVT_W, RM_RNE, fd(2147483647.5)), 0x7fffffff, NV);
	CHECK(fcvt_to_int(D, CVT_W, RM_RTZ, fd(2147483647.5)), 0x7fffffff, NX);
	CHECK(fcvt_to_int(D, CVT_W, RM_RUP, fd(-2147483648.5)), min_w, NX);
	CHECK(fcvt_to_int(D, CVT_W, RM_RDN, fd(-2147483648.5)), min_w, NV);
	CHECK(fcvt_to_int(D, CVT_WU, RM_RNE, fd(-0.5)), 0, NX);
	CHECK(fcvt_to_int(D, CVT_WU, RM_RMM, fd(-0.5)), 0, NV);
	CHECK(fcvt_to_int(S, CVT_LU, RM_RDN, fs(-0.25f)), 0, NV);
	CHECK(fcvt_to_int(S, CVT_LU, RM_RUP, fs(-0.75f)), 0, NX);
	CHECK(fcvt_to_int(D, CVT_WU, RM_RNE, fd(4294967295.5)), all, NV);
	CHECK(fcvt_to_int(D, CVT_WU, RM_RDN, fd(4294967295.5)), all, NX);
	/* rd = x0 keeps zero but flags still accrue */
	struct hart h;
	fresh(&h, QNAN_D, 0, 0, 0, 0);
	assert_int_equal(run_fp(&h, r_type(CVT_IF, D, CVT_W, 1, RM_RNE, 0)), 0);
	assert_int_equal(h.x[0], 0);
	assert_int_equal(h.fflags, NV);
}

static void test_fcvt_to_int_rounding(void **state)
{
	(void)state;
	static const struct {
		double in;
		int64_t want[5]; /* RNE RTZ RDN RUP RMM */
	} c[] = {
		{ 2.5, { 2, 2, 2, 3, 3 } },       { -2.5, { -2, -2, -3, -2, -3 } },
		{ 3.5, { 4, 3, 3, 4, 4 } },       { 0.5, { 0, 0, 0, 1, 1 } },
		{ -0.5, { 0, 0, -1, 0, -1 } },     { 2.1, { 2, 2, 2, 3, 2 } },
		{ -2.1, { -2, -2, -3, -2, -2 } },  { 2.9, { 3, 2, 2, 3, 3 } },
		{ 0x1p-1074, { 0, 0, 0, 1, 0 } }, { -0x1p-1074, { 0, 0, -1, 0, 0 } },
		{ 4503599627370495.5, { 4503599627370496, 4503599627370495, 4503599627370495,
					4503599627370496, 4503599627370496 } },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		for (unsigned rm = RM_RNE; rm <= RM_RMM; rm++) {
			CHECK(fcvt_to_int(D, CVT_L, rm, fd(c[i].in)), (uint64_t)c[i].want[rm], NX);
			if (fabs(c[i].in) < 1e9)
				CHECK(fcvt_to_int(D, CVT_W, rm, fd(c[i].in)), (uint64_t)c[i].want[rm],
				      NX);
			if (fabs(c[i].in) < 1e6 && fabs(c[i].in) > 1e-30)
				CHECK(fcvt_to_int(S, CVT_L, rm, fs((float)c[i].in)),
				      (uint64_t)c[i].want[rm], NX);
		}
	}
}

static void test_fcvt_from_int_rounding(void **state)
{
	(void)state;
	/* 2^24 + 1 is a tie between 2^24 and 2^24 + 2 */
	static const uint32_t tie_s[5] = { 0x4b800000, 0x4b800000, 0x4b800000, 0x4b800001, 0x4b800001 };
	/* 2^24 + 3 is a tie whose even neighbour is the larger one */
	static const uint32_t tie3_s[5] = { 0x4b800002, 0x4b800001, 0x4b800001, 0x4b800002, 0x4b800002 };
	for (unsigned rm = RM_RNE; rm <= RM_RMM; rm++) {
		CHECK(fcvt_from_int(S, CVT_W, rm, 16777217), tie_s[rm], NX);
		CHECK(fcvt_from_int(S, CVT_L, rm, 16777219), tie3_s[rm], NX);
		CHECK(fcvt_from_int(S, CVT_WU, rm, 16777217), tie_s[rm], NX);
		/* negative: RDN and RUP swap */
		uint32_t neg = tie_s[rm == RM_RDN ? RM_RUP : rm == RM_RUP ? RM_RDN : rm];
		CHECK(fcvt_from_int(S, CVT_W, rm, (uint64_t)-16777217), 0x80000000 | neg, NX);
		/* 2^53 + 1 */
		uint64_t want_d = rm == RM_RUP || rm == RM_RMM ? 0x4340000000000001 : 0x4340000000000000;
		CHECK(fcvt_from_int(D, CVT_L, rm, (1ULL << 53) + 1), want_d, NX);
		CHECK(fcvt_from_int(D, CVT_LU, rm, (1ULL << 53) + 1), want_d, NX);
		/* exact conversions raise nothing */
		CHECK(fcvt_from_int(D, CVT_W, rm, 0x80000000), fd(-2147483648.0), 0);
		CHECK(fcvt_from_int(D, CVT_L, rm, 0x8000000000000000), fd(-9223372036854775808.0), 0);
		CHECK(fcvt_from_int(D, CVT_WU, rm, 0xffffffffffffffff), fd(4294967295.0), 0);
		CHECK(fcvt_from_int(S, CVT_L, rm, 0), 0, 0);
		CHECK(fcvt_from_int(D, CVT_LU, rm, 0), 0, 0);
	}
	/* UINT64_MAX: RNE rounds up to 2^64, RTZ down */
	CHECK(fcvt_from_int(D, CVT_LU, RM_RNE, UINT64_MAX), fd(18446744073709551616.0), NX);
	CHECK(fcvt_from_int(D, CVT_LU, RM_RTZ, UINT64_MAX), fd(18446744073709549568.0), NX);
	CHECK(fcvt_from_int(S, CVT_LU, RM_RTZ, UINT64_MAX), fs(18446742974197923840.0f), NX);
	/* the W forms ignore the upper half of the source */
	CHECK(fcvt_from_int(D, CVT_W, RM_RNE, 0x1234567800000005), fd(5.0), 0);
	CHECK(fcvt_from_int(D, CVT_WU, RM_RNE, 0x12345678ffffffff), fd(4294967295.0), 0);
}

static void test_fcvt_float_float(void **state)
{
	(void)state;
	/* overflow: infinity or the largest single depending on the mode */
	static const uint64_t ovf[5] = { INF_S, 0x7f7fffff, 0x7f7fffff, INF_S, INF_S };
	static const uint64_t novf[5] = { 0xff800000, 0xff7fffff, 0xff800000, 0xff7fffff, 0xff800000 };
	for (unsigned rm = RM_RNE; rm <= RM_RMM; rm++) {
		CHECK(fcvt_ff(S, rm, fd(1e39)), ovf[rm], OF | NX);
		CHECK(fcvt_ff(S, rm, fd(-1e300)), novf[rm], OF | NX);
		CHECK(fcvt_ff(S, rm, INF_D), INF_S, 0);
		CHECK(fcvt_ff(S, rm, fd(-0.0)), 0x80000000, 0);
		/* exact subnormal: no flags */
		CHECK(fcvt_ff(S, rm, fd(0x1p-149)), 1, 0);
		CHECK(fcvt_ff(S, rm, fd(-0x1.8p-140)), 0x80000300, 0);
		/* widening is always exact */
		CHECK(fcvt_ff(D, rm, 0x00000001), fd(0x1p-149), 0);
		CHECK(fcvt_ff(D, rm, 0xff7fffff), fd(-FLT_MAX), 0);
		CHECK(fcvt_ff(D, rm, 0xff800000), 0xfff0000000000000, 0);
	}
	/* the largest single that does not overflow, and the first that does */
	CHECK(fcvt_ff(S, RM_RNE, fd(0x1.fffffefffffffp127)), 0x7f7fffff, NX);
	CHECK(fcvt_ff(S, RM_RNE, fd(0x1.ffffffp127)), INF_S, OF | NX);
	CHECK(fcvt_ff(S, RM_RTZ, fd(0x1.ffffffp127)), 0x7f7fffff, NX);
	CHECK(fcvt_ff(S, RM_RMM, fd(0x1.fffffefffffffp127)), 0x7f7fffff, NX);
	CHECK(fcvt_ff(S, RM_RMM, fd(0x1.ffffffp127)), INF_S, OF | NX);
	/* underflow to zero and to subnormals */
	static const uint64_t unf[5] = { 0, 0, 0, 1, 0 };
	for (unsigned rm = RM_RNE; rm <= RM_RMM; rm++) {
		CHECK(fcvt_ff(S, rm, fd(1e-46)), unf[rm], UF | NX);
		CHECK(fcvt_ff(S, rm, fd(1e-300)), unf[rm], UF | NX);
	}
	CHECK(fcvt_ff(S, RM_RNE, fd(1e-40)), 0x000116c2, UF | NX);
	/* RMM tie: 1 + 2^-24 */
	CHECK(fcvt_ff(S, RM_RNE, fd(1.0 + 0x1p-24)), 0x3f800000, NX);
	CHECK(fcvt_ff(S, RM_RMM, fd(1.0 + 0x1p-24)), 0x3f800001, NX);
	CHECK(fcvt_ff(S, RM_RMM, fd(-1.0 - 0x1p-24)), 0xbf800001, NX);
	/* subnormal tie: 1.5 * 2^-149 */
	CHECK(fcvt_ff(S, RM_RNE, fd(0x1.8p-149)), 2, UF | NX);
	CHECK(fcvt_ff(S, RM_RMM, fd(0x1.8p-149)), 2, UF | NX);
	CHECK(fcvt_ff(S, RM_RNE, fd(0x1.4p-148)), 2, UF | NX); /* 2.5 * 2^-149 */
	CHECK(fcvt_ff(S, RM_RMM, fd(0x1.4p-148)), 3, UF | NX);
	CHECK(fcvt_ff(S, RM_RMM, fd(0x1p-150)), 1, UF | NX);
	CHECK(fcvt_ff(S, RM_RNE, fd(0x1p-150)), 0, UF | NX);
}

/* ------------------------------------------------------------------ */
/* Illegal encodings                                                    */

static void expect_illegal(uint32_t insn, unsigned frm)
{
	struct hart h;
	fresh(&h, BOX | fs(1.0f), BOX | fs(2.0f), BOX | fs(3.0f), 5, frm);
	h.f[4] = 0x1234;
	h.x[4] = 0x5678;
	assert_int_equal(run_fp(&h, insn), -1);
	/* nothing changed */
	assert_int_equal(h.f[4], 0x1234);
	assert_int_equal(h.x[4], 0x5678);
	assert_int_equal(h.fflags, 0);
}

static void test_illegal(void **state)
{
	(void)state;
	for (unsigned fmt = S; fmt <= D; fmt++) {
		/* reserved static rounding modes */
		for (unsigned rm = 5; rm <= 6; rm++) {
			expect_illegal(r_type(ADD, fmt, 2, 1, rm, 4), 0);
			expect_illegal(r_type(SQRT, fmt, 0, 1, rm, 4), 0);
			expect_illegal(r_type(CVT_IF, fmt, CVT_W, 1, rm, 4), 0);
			expect_illegal(r_type(CVT_FI, fmt, CVT_L, 1, rm, 4), 0);
			expect_illegal(r_type(CVT_FF, fmt, !fmt, 1, rm, 4), 0);
			expect_illegal(r4_type(FMADD, 3, fmt, 2, 1, rm, 4), 0);
		}
		/* DYN with an invalid frm */
		for (unsigned frm = 5; frm <= 7; frm++) {
			expect_illegal(r_type(MUL, fmt, 2, 1, DYN, 4), frm);
			expect_illegal(r_type(CVT_IF, fmt, CVT_LU, 1, DYN, 4), frm);
			expect_illegal(r_type(CVT_FI, fmt, CVT_WU, 1, DYN, 4), frm);
			expect_illegal(r4_type(FNMADD, 3, fmt, 2, 1, DYN, 4), frm);
			/* ops without a rounding mode do not care about frm */
			struct hart h;
			fresh(&h, BOX | fs(1.0f), BOX | fs(2.0f), 0, 0, frm);
			assert_int_equal(run_fp(&h, r_type(MINMAX, fmt, 2, 1, 0, 4)), 0);
		}
		/* bad rs2 / funct3 fields */
		expect_illegal(r_type(SQRT, fmt, 1, 1, RM_RNE, 4), 0);
		expect_illegal(r_type(CVT_IF, fmt, 4, 1, RM_RNE, 4), 0);
		expect_illegal(r_type(CVT_FI, fmt, 5, 1, RM_RNE, 4), 0);
		expect_illegal(r_type(CVT_FF, fmt, fmt, 1, RM_RNE, 4), 0); /* to itself */
		expect_illegal(r_type(CVT_FF, fmt, 3, 1, RM_RNE, 4), 0);   /* from quad */
		expect_illegal(r_type(SGNJ, fmt, 2, 1, 3, 4), 0);
		expect_illegal(r_type(MINMAX, fmt, 2, 1, 2, 4), 0);
		expect_illegal(r_type(CMP, fmt, 2, 1, 3, 4), 0);
		expect_illegal(r_type(MVX_CLASS, fmt, 0, 1, 2, 4), 0);
		expect_illegal(r_type(MVX_CLASS, fmt, 1, 1, 1, 4), 0);
		expect_illegal(r_type(MVX_CLASS, fmt, 1, 1, 0, 4), 0);
		expect_illegal(r_type(MVF, fmt, 0, 1, 1, 4), 0);
		expect_illegal(r_type(MVF, fmt, 1, 1, 0, 4), 0);
		expect_illegal(r_type(0x06, fmt, 2, 1, 0, 4), 0);
		expect_illegal(r_type(0x1f, fmt, 0, 1, 0, 4), 0);
	}
	/* the quad format is not implemented (half is: Zfh) */
	expect_illegal(r_type(ADD, 3, 2, 1, RM_RNE, 4), 0);
	expect_illegal(r_type(MVF, 3, 0, 1, 0, 4), 0);
	expect_illegal(r4_type(FMSUB, 3, 3, 2, 1, RM_RNE, 4), 0);
	expect_illegal(r_type(CVT_FF, 2, 2, 1, RM_RNE, 4), 0); /* half to itself */
	/* not an FP opcode at all */
	expect_illegal(0x00000013, 0);
}

/* ------------------------------------------------------------------ */
/* The host floating-point environment is left as it was                */

/* The rounding mode SSE arithmetic uses right now (fegetround reads the
 * x87 control word, which keel never touches). */
static int sse_round(void)
{
#if defined(__x86_64__)
	static const int from_rc[4] = { FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO };
	return from_rc[(_mm_getcsr() >> 13) & 3];
#else
	return fegetround();
#endif
}

static void test_host_environment_preserved(void **state)
{
	(void)state;
	feclearexcept(FE_ALL_EXCEPT);
	for (unsigned rm = RM_RNE; rm <= RM_RMM; rm++) {
		fop(DIV, D, rm, fd(1.0), fd(3.0));
		fused(FMADD, S, rm, fs(1e30f), fs(1e30f), fs(1.0f));
		fop(DIV, S, rm, fs(1.0f), 0);
		fcvt_ff(S, rm, fd(1e-300));
		assert_int_equal(sse_round(), FE_TONEAREST);
	}
	assert_int_equal(fetestexcept(FE_ALL_EXCEPT), 0);

	/* a host running upward stays upward, and guest RNE is still RNE */
	assert_int_equal(fesetround(FE_UPWARD), 0);
	CHECK(fop(ADD, S, RM_RNE, 0x3f800000, 0x33800000), 0x3f800000, NX);
	CHECK(fop(DIV, D, RM_RTZ, fd(1.0), fd(3.0)), 0x3fd5555555555555, NX);
	assert_int_equal(sse_round(), FE_UPWARD);
	assert_int_equal(fesetround(FE_TONEAREST), 0);
}

/* Between FP instructions the guest's rounding mode stays in the host FPU
 * and its flags accrue there; fpu_host_env folds them into fflags and gives
 * the host its environment (rounding mode and sticky flags) back. */
static void test_guest_env_kept_between_ops(void **state)
{
	(void)state;
	struct hart h;
	fresh(&h, BOX | 0x3f800000, BOX | 0x33800000, BOX | 0, 0, RM_RNE);
	assert_int_equal(fesetround(FE_UPWARD), 0);
	feclearexcept(FE_ALL_EXCEPT);
	feraiseexcept(FE_OVERFLOW);

	assert_int_equal(fpu_execute(&h, r_type(ADD, S, 2, 1, RM_RTZ, 4)), 0); /* NX */
#if defined(__x86_64__) && !defined(KEEL_FPU_SOFT_ONLY)
	assert_int_equal(sse_round(), FE_TOWARDZERO);
	assert_int_equal(h.fflags, 0); /* not folded yet */
#endif
	assert_int_equal(fpu_execute(&h, r_type(DIV, S, 3, 1, RM_RDN, 5)), 0); /* DZ */
#if defined(__x86_64__) && !defined(KEEL_FPU_SOFT_ONLY)
	assert_int_equal(sse_round(), FE_DOWNWARD);
#endif
	assert_int_equal(fpu_execute(&h, r_type(ADD, S, 3, 1, RM_RMM, 6)), 0); /* soft, exact */
	fpu_host_env(&h);
	assert_int_equal(h.fflags, NX | DZ);
	assert_int_equal(h.f[4], BOX | 0x3f800000);
	assert_int_equal(h.f[5], BOX | INF_S);
	assert_int_equal(sse_round(), FE_UPWARD);
	assert_int_equal(fetestexcept(FE_ALL_EXCEPT), FE_OVERFLOW);
	fpu_host_env(&h); /* idempotent */
	assert_int_equal(sse_round(), FE_UPWARD);

	/* flags accrued before a mode switch survive it */
	h.fflags = 0;
	assert_int_equal(fpu_execute(&h, r_type(DIV, S, 3, 1, RM_RNE, 5)), 0);
	assert_int_equal(fpu_execute(&h, r_type(ADD, S, 2, 1, RM_RUP, 4)), 0);
	fpu_host_env(&h);
	assert_int_equal(h.fflags, NX | DZ);
	feclearexcept(FE_ALL_EXCEPT);
	assert_int_equal(fesetround(FE_TONEAREST), 0);
}

/* ------------------------------------------------------------------ */
/* Random sweeps                                                        */

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* An operand biased towards the awkward parts of the format: zeroes,
 * subnormals, the extremes of the exponent range, infinities, NaNs,
 * significands with few or many bits set. */
static uint64_t random_operand(uint64_t *s, unsigned fmt)
{
	unsigned mant = fmt == S ? 23 : 52, ebits = fmt == S ? 8 : 11;
	uint64_t r = next_random(s), emax = (1ULL << ebits) - 1;
	uint64_t sign = (r & 1) << (mant + ebits), exp, frac;

	switch ((r >> 1) & 15) {
	case 0:
		exp = 0; /* zero or subnormal */
		break;
	case 1:
		exp = emax; /* inf or NaN */
		break;
	case 2:
		exp = 1 + (r >> 8) % 3;
		break;
	case 3:
		exp = emax - 1 - (r >> 8) % 3;
		break;
	case 4:
	case 5:
	case 6:
		exp = (emax >> 1) + (r >> 8) % 5 - 2; /* around 1.0 */
		break;
	default:
		exp = (r >> 8) % (emax + 1);
		break;
	}
	uint64_t m = next_random(s);
	switch ((r >> 5) & 7) {
	case 0:
		frac = 0;
		break;
	case 1:
		frac = m >> (64 - 3); /* few low bits */
		break;
	case 2:
		frac = (m >> (64 - 4)) << (mant - 4); /* few high bits */
		break;
	case 3:
		frac = ~0ULL >> (m % 8); /* all ones, mostly */
		break;
	default:
		frac = m;
		break;
	}
	frac &= (1ULL << mant) - 1;
	return sign | exp << mant | frac;
}

static struct result exec_arith(unsigned op, unsigned fmt, unsigned rm, uint64_t a, uint64_t b,
				uint64_t c)
{
	static const unsigned funct5[] = { ADD, SUB, MUL, DIV, SQRT };
	if (op == FPU_FMA)
		return fused(FMADD, fmt, rm, a, b, c);
	return fop(funct5[op], fmt, rm, a, b);
}

/* Operands for op that make the result interesting: besides independent
 * random operands, near-cancelling sums and FMAs whose addend nearly
 * cancels the product. */
static void random_operands(uint64_t *s, unsigned op, unsigned fmt, uint64_t v[3])
{
	for (int i = 0; i < 3; i++)
		v[i] = random_operand(s, fmt);
	unsigned pick = next_random(s) % 4;
	uint64_t sign = fmt == S ? 0x80000000 : 0x8000000000000000;
	uint64_t all = fmt == S ? 0xffffffff : UINT64_MAX;
	if (pick == 0 && (op == FPU_ADD || op == FPU_SUB)) {
		/* b close to -a (or a for SUB) */
		v[1] = ((v[0] + next_random(s) % 5 - 2) & all) ^ (op == FPU_ADD ? sign : 0);
	} else if (pick == 0 && op == FPU_FMA) {
		uint8_t fl = 0;
		uint64_t p = fpu_soft_arith((enum fpu_fmt)fmt, FPU_MUL, v[0], v[1], 0, RM_RNE, &fl);
		v[2] = ((p + next_random(s) % 5 - 2) & all) ^ sign;
	} else if (pick == 1 && op != FPU_SQRT) {
		/* nearby exponents make ties and carries likely */
		unsigned mant = fmt == S ? 23 : 52;
		uint64_t emask = fmt == S ? 0xff : 0x7ff;
		uint64_t e0 = (v[0] >> mant) & emask, k = next_random(s) % 30;
		uint64_t e1 = e0 > k ? e0 - k : 0;
		v[1] = (v[1] & ~(emask << mant)) | e1 << mant;
	}
}

/* The host-FPU fast path against the exact software path, for every
 * operation and host rounding mode.  (On a build without the host path
 * both sides are the software path and this only checks determinism.) */
static void test_host_matches_soft(void **state)
{
	(void)state;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	for (unsigned fmt = S; fmt <= D; fmt++) {
		for (unsigned op = FPU_ADD; op <= FPU_FMA; op++) {
			for (int i = 0; i < 40000; i++) {
				uint64_t v[3];
				random_operands(&seed, op, fmt, v);
				unsigned rm = next_random(&seed) % 4;
				uint8_t flags = 0;
				uint64_t want = fpu_soft_arith((enum fpu_fmt)fmt, (enum fpu_arith)op, v[0],
							       v[1], v[2], (int)rm, &flags);
				struct result got = exec_arith(op, fmt, rm, v[0], v[1], v[2]);
				if (got.v != want || got.flags != flags)
					print_error("fmt %u op %u rm %u: %#llx %#llx %#llx\n", fmt, op,
						    rm, (unsigned long long)v[0],
						    (unsigned long long)v[1], (unsigned long long)v[2]);
				CHECK(got, want, flags);
			}
		}
	}
	for (unsigned to = S; to <= D; to++) {
		for (int i = 0; i < 40000; i++) {
			uint64_t a = random_operand(&seed, !to);
			unsigned rm = next_random(&seed) % 4;
			uint8_t flags = 0;
			uint64_t want = fpu_soft_convert((enum fpu_fmt)to, (enum fpu_fmt)!to, a,
							 (int)rm, &flags);
			CHECK(fcvt_ff(to, rm, a), want, flags);
		}
	}
}

static const int host_round[4] = { FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD };

/* Integer conversions against the host C library under each rounding
 * mode (the conversion itself is software, so this is independent). */
static void test_int_conversions_match_host(void **state)
{
	(void)state;
	uint64_t seed = 12345;
	for (int i = 0; i < 100000; i++) {
		unsigned rm = next_random(&seed) % 5;
		uint64_t r = next_random(&seed);
		double in = ldexp((double)(int64_t)next_random(&seed), (int)(r % 80) - 80);
		if (r & (1 << 10))
			in = rint(in) + (r & (1 << 11) ? 0.5 : 0);
		volatile double vin = in;
		double want;
		if (rm == RM_RMM) {
			want = round(vin);
		} else {
			fesetround(host_round[rm]);
			want = nearbyint(vin);
			fesetround(FE_TONEAREST);
		}
		unsigned nx = want != in ? NX : 0;
		if (fabs(want) < 9.2e18)
			CHECK(fcvt_to_int(D, CVT_L, rm, fd(in)), (uint64_t)(int64_t)want, nx);
		if (fabs(want) < 2.1e9)
			CHECK(fcvt_to_int(D, CVT_W, rm, fd(in)), (uint64_t)(int64_t)want, nx);
		if (want >= 0 && want < 1.8e19)
			CHECK(fcvt_to_int(D, CVT_LU, rm, fd(in)), (uint64_t)want, nx);
		if (want >= 0 && want < 4.2e9)
			CHECK(fcvt_to_int(D, CVT_WU, rm, fd(in)),
			      (uint64_t)(int64_t)(int32_t)(uint32_t)want, nx);

		/* integer to float, host modes only */
		if (rm == RM_RMM)
			continue;
		int64_t x = (int64_t)next_random(&seed) >> (r % 64);
		volatile int64_t vx = x;
		volatile uint64_t vux = (uint64_t)x;
		fesetround(host_round[rm]);
		feclearexcept(FE_ALL_EXCEPT);
		volatile double dl = (double)vx;
		int dl_nx = fetestexcept(FE_INEXACT);
		feclearexcept(FE_ALL_EXCEPT);
		volatile float sl = (float)vx;
		int sl_nx = fetestexcept(FE_INEXACT);
		feclearexcept(FE_ALL_EXCEPT);
		volatile double dlu = (double)vux;
		int dlu_nx = fetestexcept(FE_INEXACT);
		fesetround(FE_TONEAREST);
		CHECK(fcvt_from_int(D, CVT_L, rm, (uint64_t)x), fd(dl), dl_nx ? NX : 0);
		CHECK(fcvt_from_int(S, CVT_L, rm, (uint64_t)x), fs(sl), sl_nx ? NX : 0);
		/* the C conversion of uint64_t is not reliably exact outside RNE */
		if (rm == RM_RNE)
			CHECK(fcvt_from_int(D, CVT_LU, rm, (uint64_t)x), fd(dlu), dlu_nx ? NX : 0);
	}
	fesetround(FE_TONEAREST);
}

/* The neighbour of the nonzero float r one ulp further from zero. */
static double away_s(float r)
{
	return nextafterf(r, r < 0 ? -INFINITY : INFINITY);
}

/* RMM against exact arithmetic: single products, and single sums with
 * nearby exponents, are exact in double.  The RMM result must be the RTZ
 * result, or its outward neighbour when the exact value is at least
 * halfway there. */
static void test_rmm_against_exact_singles(void **state)
{
	(void)state;
	uint64_t seed = 777;
	unsigned ties = 0;
	for (int i = 0; i < 200000; i++) {
		uint64_t r = next_random(&seed);
		/* 24-bit significands with random low zeros, exponent near 0 */
		float a = ldexpf((float)(next_random(&seed) >> 40 >> (r % 12)), (int)(r >> 8) % 16 - 30);
		float b = ldexpf((float)(next_random(&seed) >> 40 >> (r >> 4) % 12),
				 (int)(r >> 16) % 16 - 30);
		if (r & (1ULL << 30))
			b = -b;
		bool mul = r & (1ULL << 31);
		double exact = mul ? (double)a * b : (double)a + b;
		if (exact == 0)
			continue;
		struct result z = fop(mul ? MUL : ADD, S, RM_RTZ, fs(a), fs(b));
		struct result m = fop(mul ? MUL : ADD, S, RM_RMM, fs(a), fs(b));
		float lo = sf((uint32_t)z.v);
		double hi = away_s(lo);
		double dist_lo = fabs(exact - lo), dist_hi = fabs(hi - exact);
		uint64_t want = (z.flags & NX) && dist_hi <= dist_lo ? fs((float)hi) : z.v;
		ties += (z.flags & NX) && dist_hi == dist_lo;
		CHECK(m, want, z.flags);
	}
	assert_true(ties > 100); /* the sweep did exercise ties */
}

#ifdef __SIZEOF_FLOAT128__
/* Same for doubles, with binary128 holding the exact product or sum. */
static void test_rmm_against_exact_doubles(void **state)
{
	(void)state;
	uint64_t seed = 4242;
	unsigned ties = 0;
	for (int i = 0; i < 100000; i++) {
		uint64_t r = next_random(&seed);
		double a = ldexp((double)(next_random(&seed) >> 11 >> (r % 24)), (int)(r >> 8) % 24 - 60);
		double b = ldexp((double)(next_random(&seed) >> 11 >> (r >> 5) % 24),
				 (int)(r >> 16) % 24 - 60);
		if (r & (1ULL << 30))
			b = -b;
		bool mul = r & (1ULL << 31);
		__float128 exact = mul ? (__float128)a * b : (__float128)a + b;
		if (exact == 0)
			continue;
		struct result z = fop(mul ? MUL : ADD, D, RM_RTZ, fd(a), fd(b));
		struct result m = fop(mul ? MUL : ADD, D, RM_RMM, fd(a), fd(b));
		double lo = df(z.v), hi = nextafter(lo, lo < 0 ? -INFINITY : INFINITY);
		__float128 dist_lo = exact - lo, dist_hi = hi - exact;
		if (dist_lo < 0)
			dist_lo = -dist_lo;
		if (dist_hi < 0)
			dist_hi = -dist_hi;
		uint64_t want = (z.flags & NX) && dist_hi <= dist_lo ? fd(hi) : z.v;
		ties += (z.flags & NX) && dist_hi == dist_lo;
		CHECK(m, want, z.flags);
	}
	assert_true(ties > 100);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_riscv_tests_arith_s),
		cmocka_unit_test(test_riscv_tests_arith_d),
		cmocka_unit_test(test_riscv_tests_fcmp),
		cmocka_unit_test(test_riscv_tests_recoding),
		cmocka_unit_test(test_riscv_tests_fcvt),
		cmocka_unit_test(test_riscv_tests_fcvt_w),
		cmocka_unit_test(test_riscv_tests_move),
		cmocka_unit_test(test_rounding_modes),
		cmocka_unit_test(test_signed_zero_results),
		cmocka_unit_test(test_dynamic_rounding_mode),
		cmocka_unit_test(test_tininess_after_rounding),
		cmocka_unit_test(test_nan_boxing),
		cmocka_unit_test(test_canonical_nan_and_signalling),
		cmocka_unit_test(test_min_max),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_fclass),
		cmocka_unit_test(test_fcvt_saturation),
		cmocka_unit_test(test_fcvt_to_int_rounding),
		cmocka_unit_test(test_fcvt_from_int_rounding),
		cmocka_unit_test(test_fcvt_float_float),
		cmocka_unit_test(test_illegal),
		cmocka_unit_test(test_host_environment_preserved),
		cmocka_unit_test(test_guest_env_kept_between_ops),
		cmocka_unit_test(test_host_matches_soft),
		cmocka_unit_test(test_int_conversions_match_host),
		cmocka_unit_test(test_rmm_against_exact_singles),
#ifdef __SIZEOF_FLOAT128__
		cmocka_unit_test(test_rmm_against_exact_doubles),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
