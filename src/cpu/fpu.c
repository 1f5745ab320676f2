/* RISC-V F, D and Zfh extensions: the OP-FP opcode and the four fused
 * multiply-add opcodes, for single (S), double (D) and half (H) precision.
 *
 * Rounding arithmetic has two implementations:
 *
 *  - The fast path runs the operation on the host's SSE unit with MXCSR set
 *    to the instruction's rounding mode and reads the IEEE flags back from
 *    MXCSR.  SSE detects tininess after rounding and raises underflow only
 *    when the result is also inexact, which is exactly the RISC-V rule, so
 *    the five flags map one to one.  Only the result's NaN-ness needs fixing
 *    up (RISC-V always returns the canonical NaN).
 *
 *  - The exact software path (integer significands with a sticky bit,
 *    rounded once by round_pack) covers what the host cannot do: RMM, which
 *    x86 has no rounding-control setting for, FMA on hosts without FMA3,
 *    every half-precision operation (SSE has no half arithmetic), and
 *    non-x86 hosts altogether.  The unit tests also use it as the
 *    reference for the fast path.
 *
 * Everything else (sign injection, min/max, compares, classify, moves,
 * float-to-integer conversion) is plain bit manipulation.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/fpu_internal.h"
#include "cpu/hart.h"

#if defined(__x86_64__) && !defined(KEEL_FPU_SOFT_ONLY)
#define FPU_HOST_SSE 1
#else
#define FPU_HOST_SSE 0
#endif

typedef unsigned __int128 u128;

/* ------------------------------------------------------------------ */
/* Formats                                                              */

struct fmt {
	int mant_bits; /* stored fraction bits */
	int bias;
	int sign_shift;
	uint64_t exp_all_ones; /* exponent field of inf/NaN, unshifted */
	uint64_t canonical_nan;
};

static const struct fmt fmt_s = { 23, 127, 31, 0xff, 0x7fc00000 };
static const struct fmt fmt_d = { 52, 1023, 63, 0x7ff, 0x7ff8000000000000 };
static const struct fmt fmt_h = { 10, 15, 15, 0x1f, 0x7e00 };

static const struct fmt *fmt_of(enum fpu_fmt fmt)
{
	return fmt == FPU_D ? &fmt_d : fmt == FPU_H ? &fmt_h : &fmt_s;
}

static int precision(const struct fmt *f)
{
	return f->mant_bits + 1;
}

static int emin(const struct fmt *f)
{
	return 1 - f->bias;
}

static int emax(const struct fmt *f)
{
	return f->bias;
}

static uint64_t sign_bit(const struct fmt *f)
{
	return 1ULL << f->sign_shift;
}

static uint64_t mant_mask(const struct fmt *f)
{
	return (1ULL << f->mant_bits) - 1;
}

static uint64_t make_inf(const struct fmt *f, bool sign)
{
	return ((uint64_t)sign << f->sign_shift) | (f->exp_all_ones << f->mant_bits);
}

static uint64_t make_zero(const struct fmt *f, bool sign)
{
	return (uint64_t)sign << f->sign_shift;
}

static uint64_t max_finite(const struct fmt *f, bool sign)
{
	return ((uint64_t)sign << f->sign_shift) | ((f->exp_all_ones - 1) << f->mant_bits) |
	       mant_mask(f);
}

enum kind { K_ZERO, K_FINITE, K_INF, K_QNAN, K_SNAN };

/* A decoded operand.  For K_FINITE the value is (-1)^sign * sig * 2^exp,
 * sig != 0 (subnormals simply have a smaller sig). */
struct unpacked {
	enum kind kind;
	bool sign;
	int exp;
	uint64_t sig;
};

static struct unpacked unpack(const struct fmt *f, uint64_t bits)
{
	struct unpacked u = { .sign = (bits >> f->sign_shift) & 1 };
	uint64_t frac = bits & mant_mask(f);
	uint64_t biased = (bits >> f->mant_bits) & f->exp_all_ones;

	if (biased == f->exp_all_ones) {
		if (frac == 0)
			u.kind = K_INF;
		else
			u.kind = (frac >> (f->mant_bits - 1)) & 1 ? K_QNAN : K_SNAN;
	} else if (biased == 0) {
		u.kind = frac ? K_FINITE : K_ZERO;
		u.sig = frac;
		u.exp = emin(f) - f->mant_bits;
	} else {
		u.kind = K_FINITE;
		u.sig = frac | (1ULL << f->mant_bits);
		u.exp = (int)biased - f->bias - f->mant_bits;
	}
	return u;
}

static bool is_nan(const struct unpacked *u)
{
	return u->kind == K_QNAN || u->kind == K_SNAN;
}

/* The result of an operation with a NaN operand: always the canonical NaN,
 * with NV if any operand was signalling. */
static uint64_t nan_result(const struct fmt *f, bool any_snan, uint8_t *flags)
{
	if (any_snan)
		*flags |= FFLAG_NV;
	return f->canonical_nan;
}

static uint64_t invalid(const struct fmt *f, uint8_t *flags)
{
	*flags |= FFLAG_NV;
	return f->canonical_nan;
}

static int msb64(uint64_t v)
{
	return 63 - __builtin_clzll(v);
}

/* ------------------------------------------------------------------ */
/* Rounding                                                             */

/* How the bits discarded by rounding compare with half an ulp. */
enum half_cmp { BELOW_HALF = -1, AT_HALF = 0, ABOVE_HALF = 1 };

struct split {
	uint64_t kept; /* sig >> shift */
	enum half_cmp half;
	bool inexact;
};

/* Split sig into the part above bit `shift` and a comparison of the rest
 * with half of 2^shift.  shift >= 1. */
static struct split split_at(uint64_t sig, int shift)
{
	struct split s;
	uint64_t rem, half;

	if (shift > 64) {
		/* sig < 2^64 <= half */
		s.kept = 0;
		s.half = BELOW_HALF;
		s.inexact = sig != 0;
		return s;
	}
	if (shift == 64) {
		s.kept = 0;
		rem = sig;
	} else {
		s.kept = sig >> shift;
		rem = sig & ((1ULL << shift) - 1);
	}
	half = 1ULL << (shift - 1);
	s.half = rem < half ? BELOW_HALF : rem > half ? ABOVE_HALF : AT_HALF;
	s.inexact = rem != 0;
	return s;
}

/* Whether rounding the magnitude adds one ulp to the kept part. */
static bool round_up(int rm, bool sign, const struct split *s)
{
	switch (rm) {
	case RM_RNE:
		return s->half == ABOVE_HALF || (s->half == AT_HALF && (s->kept & 1));
	case RM_RDN:
		return s->inexact && sign;
	case RM_RUP:
		return s->inexact && !sign;
	case RM_RMM:
		return s->half != BELOW_HALF;
	default: /* RM_RTZ */
		return false;
	}
}

static uint64_t overflow_result(const struct fmt *f, bool sign, int rm, uint8_t *flags)
{
	bool to_inf = rm == RM_RNE || rm == RM_RMM || (rm == RM_RUP && !sign) ||
		      (rm == RM_RDN && sign);

	*flags |= FFLAG_OF | FFLAG_NX;
	return to_inf ? make_inf(f, sign) : max_finite(f, sign);
}

/* RISC-V detects tininess after rounding: a result just below 2^emin is not
 * tiny if rounding it to full precision with an unbounded exponent would
 * carry it up to 2^emin.  `sig` is normalised (bit 63 set) and its value lies
 * in [2^top, 2^(top+1)). */
static bool tiny_after_rounding(const struct fmt *f, bool sign, int top, uint64_t sig, int rm)
{
	if (top >= emin(f))
		return false;
	if (top < emin(f) - 1)
		return true;
	struct split s = split_at(sig, 64 - precision(f));
	uint64_t rounded = s.kept + round_up(rm, sign, &s);
	return rounded >> precision(f) == 0;
}

/* Round (-1)^sign * sig * 2^exp (sig != 0) to format f.  Bit 0 of sig may
 * be a "jammed" sticky bit standing for nonzero bits below it; that is exact
 * as long as it lies at least two bits below the result's last bit, which
 * holds whenever sig has more than precision + 2 significant bits (every
 * caller that jams keeps 62 or more). */
static uint64_t round_pack(const struct fmt *f, bool sign, int exp, uint64_t sig, int rm,
			   uint8_t *flags)
{
	int p = precision(f);
	int lead = __builtin_clzll(sig);

	sig <<= lead;
	exp -= lead;
	int top = exp + 63;
	/* weight of the result's last bit: fixed once the result is subnormal */
	int lsb = (top < emin(f) ? emin(f) : top) - (p - 1);
	struct split s = split_at(sig, lsb - exp);
	uint64_t q = s.kept + round_up(rm, sign, &s);

	if (q >> p) {
		q >>= 1;
		lsb++;
	}
	if (s.inexact) {
		*flags |= FFLAG_NX;
		if (tiny_after_rounding(f, sign, top, sig, rm))
			*flags |= FFLAG_UF;
	}
	uint64_t sign_field = (uint64_t)sign << f->sign_shift;
	if (q >> (p - 1) == 0)
		return sign_field | q; /* subnormal or zero */
	if (lsb + p - 1 > emax(f))
		return overflow_result(f, sign, rm, flags);
	return sign_field | ((uint64_t)(lsb + p - 1 + f->bias) << f->mant_bits) | (q & mant_mask(f));
}

/* Exact zero result of an addition with operands of opposite sign. */
static uint64_t cancelled_zero(const struct fmt *f, int rm)
{
	return make_zero(f, rm == RM_RDN);
}

/* Shift sig right by `shift` (any sign), ORing lost bits into bit 0. */
static uint64_t shift_jam64(uint64_t sig, int shift)
{
	if (shift <= 0)
		return sig << -shift;
	if (shift >= 64)
		return sig != 0;
	return (sig >> shift) | ((sig & ((1ULL << shift) - 1)) != 0);
}

static u128 shift_jam128(u128 sig, int shift)
{
	if (shift <= 0)
		return sig << -shift;
	if (shift >= 128)
		return sig != 0;
	return (sig >> shift) | ((sig & (((u128)1 << shift) - 1)) != 0);
}

/* Reduce a 128-bit significand to 64 bits with a jammed sticky bit. */
static uint64_t narrow_jam(u128 sig, int *exp)
{
	uint64_t hi = (uint64_t)(sig >> 64);

	if (hi == 0)
		return (uint64_t)sig;
	int shift = 64 - __builtin_clzll(hi);
	*exp += shift;
	return (uint64_t)shift_jam128(sig, shift);
}

/* ------------------------------------------------------------------ */
/* Software arithmetic                                                  */

static uint64_t soft_add(const struct fmt *f, uint64_t a, uint64_t b, int rm, uint8_t *flags)
{
	struct unpacked x = unpack(f, a), y = unpack(f, b);

	if (is_nan(&x) || is_nan(&y))
		return nan_result(f, x.kind == K_SNAN || y.kind == K_SNAN, flags);
	if (x.kind == K_INF || y.kind == K_INF) {
		if (x.kind == K_INF && y.kind == K_INF && x.sign != y.sign)
			return invalid(f, flags);
		return x.kind == K_INF ? a : b;
	}
	if (x.kind == K_ZERO && y.kind == K_ZERO)
		return x.sign == y.sign ? a : cancelled_zero(f, rm);
	if (x.kind == K_ZERO)
		return b;
	if (y.kind == K_ZERO)
		return a;

	if ((a & ~sign_bit(f)) < (b & ~sign_bit(f))) {
		struct unpacked t = x;
		x = y;
		y = t;
	}
	/* |x| >= |y|: put x's leading bit at 62 (room for a carry) and align y
	 * to it; y can only lose bits if it is far smaller, and then x's low
	 * bits are zero so the jammed subtraction stays exact. */
	int shift = 62 - msb64(x.sig);
	uint64_t mx = x.sig << shift;
	int exp = x.exp - shift;
	uint64_t my = shift_jam64(y.sig, exp - y.exp);
	uint64_t sum = x.sign == y.sign ? mx + my : mx - my;

	if (sum == 0)
		return cancelled_zero(f, rm);
	return round_pack(f, x.sign, exp, sum, rm, flags);
}

static uint64_t soft_mul(const struct fmt *f, uint64_t a, uint64_t b, int rm, uint8_t *flags)
{
	struct unpacked x = unpack(f, a), y = unpack(f, b);
	bool sign = x.sign != y.sign;

	if (is_nan(&x) || is_nan(&y))
		return nan_result(f, x.kind == K_SNAN || y.kind == K_SNAN, flags);
	if ((x.kind == K_INF && y.kind == K_ZERO) || (x.kind == K_ZERO && y.kind == K_INF))
		return invalid(f, flags);
	if (x.kind == K_INF || y.kind == K_INF)
		return make_inf(f, sign);
	if (x.kind == K_ZERO || y.kind == K_ZERO)
		return make_zero(f, sign);

	int exp = x.exp + y.exp;
	uint64_t prod = narrow_jam((u128)x.sig * y.sig, &exp);
	return round_pack(f, sign, exp, prod, rm, flags);
}

static uint64_t soft_div(const struct fmt *f, uint64_t a, uint64_t b, int rm, uint8_t *flags)
{
	struct unpacked x = unpack(f, a), y = unpack(f, b);
	bool sign = x.sign != y.sign;

	if (is_nan(&x) || is_nan(&y))
		return nan_result(f, x.kind == K_SNAN || y.kind == K_SNAN, flags);
	if ((x.kind == K_INF && y.kind == K_INF) || (x.kind == K_ZERO && y.kind == K_ZERO))
		return invalid(f, flags);
	if (x.kind == K_INF || y.kind == K_ZERO) {
		if (x.kind == K_FINITE)
			*flags |= FFLAG_DZ;
		return make_inf(f, sign);
	}
	if (x.kind == K_ZERO || y.kind == K_INF)
		return make_zero(f, sign);

	/* dividend's leading bit at 126, divisor's at 63: the quotient has 63
	 * or 64 significant bits and the remainder tells whether it is exact */
	int sx = 62 - msb64(x.sig), sy = 63 - msb64(y.sig);
	u128 num = (u128)(x.sig << sx) << 64;
	uint64_t den = y.sig << sy;
	uint64_t quot = (uint64_t)(num / den);
	bool exact = num % den == 0;
	int exp = (x.exp - sx) - (y.exp - sy) - 64;

	return round_pack(f, sign, exp, quot | !exact, rm, flags);
}

/* floor(sqrt(m)), digit by digit. */
static uint64_t isqrt128(u128 m, bool *exact)
{
	u128 rem = m, root = 0, bit = (u128)1 << 126;

	while (bit > rem)
		bit >>= 2;
	while (bit) {
		if (rem >= root + bit) {
			rem -= root + bit;
			root = (root >> 1) + bit;
		} else {
			root >>= 1;
		}
		bit >>= 2;
	}
	*exact = rem == 0;
	return (uint64_t)root;
}

static uint64_t soft_sqrt(const struct fmt *f, uint64_t a, int rm, uint8_t *flags)
{
	struct unpacked x = unpack(f, a);

	if (is_nan(&x))
		return nan_result(f, x.kind == K_SNAN, flags);
	if (x.kind == K_ZERO)
		return a; /* sqrt(-0) = -0 */
	if (x.sign)
		return invalid(f, flags);
	if (x.kind == K_INF)
		return a;

	/* scale so the radicand has 125 or 126 bits and an even exponent */
	int shift = 124 - msb64(x.sig);
	if ((x.exp - shift) & 1)
		shift++;
	bool exact;
	uint64_t root = isqrt128((u128)x.sig << shift, &exact);
	return round_pack(f, false, (x.exp - shift) / 2, root | !exact, rm, flags);
}

/* (-1)^sign * sig * 2^exp with a 128-bit significand. */
struct wide {
	bool sign;
	int exp;
	u128 sig;
};

static int msb128(u128 v)
{
	uint64_t hi = (uint64_t)(v >> 64);
	return hi ? 64 + msb64(hi) : msb64((uint64_t)v);
}

/* Exact sum of two nonzero wide values, rounded once. */
static uint64_t add_wide_round(const struct fmt *f, struct wide x, struct wide y, int rm,
			       uint8_t *flags)
{
	if (x.exp + msb128(x.sig) < y.exp + msb128(y.sig)) {
		struct wide t = x;
		x = y;
		y = t;
	}
	/* x has the higher leading bit; put it at 125 (room for a carry) and
	 * align y, jamming whatever falls off the bottom.  Both inputs have at
	 * most 106 significant bits, so x itself never loses any. */
	int shift = 125 - msb128(x.sig);
	u128 mx = x.sig << shift;
	int exp = x.exp - shift;
	u128 my = shift_jam128(y.sig, exp - y.exp);
	bool sign = x.sign;
	u128 sum;

	if (x.sign == y.sign) {
		sum = mx + my;
	} else if (mx >= my) {
		sum = mx - my;
	} else {
		sum = my - mx; /* only when both leading bits coincide: no jam */
		sign = y.sign;
	}
	if (sum == 0)
		return cancelled_zero(f, rm);
	uint64_t narrow = narrow_jam(sum, &exp);
	return round_pack(f, sign, exp, narrow, rm, flags);
}

static uint64_t soft_fma(const struct fmt *f, uint64_t a, uint64_t b, uint64_t c, int rm,
			 uint8_t *flags)
{
	struct unpacked x = unpack(f, a), y = unpack(f, b), z = unpack(f, c);
	bool inf_times_zero = (x.kind == K_INF && y.kind == K_ZERO) ||
			      (x.kind == K_ZERO && y.kind == K_INF);
	bool psign = x.sign != y.sign;

	/* RISC-V requires NV for inf*0 even when the addend is a quiet NaN */
	if (inf_times_zero)
		return invalid(f, flags);
	if (is_nan(&x) || is_nan(&y) || is_nan(&z))
		return nan_result(f, x.kind == K_SNAN || y.kind == K_SNAN || z.kind == K_SNAN, flags);
	if (x.kind == K_INF || y.kind == K_INF) {
		if (z.kind == K_INF && z.sign != psign)
			return invalid(f, flags);
		return make_inf(f, psign);
	}
	if (z.kind == K_INF)
		return c;
	if (x.kind == K_ZERO || y.kind == K_ZERO) {
		if (z.kind != K_ZERO)
			return c;
		return psign == z.sign ? c : cancelled_zero(f, rm);
	}

	struct wide prod = { psign, x.exp + y.exp, (u128)x.sig * y.sig };
	if (z.kind == K_ZERO) {
		uint64_t narrow = narrow_jam(prod.sig, &prod.exp);
		return round_pack(f, psign, prod.exp, narrow, rm, flags);
	}
	struct wide addend = { z.sign, z.exp, z.sig };
	return add_wide_round(f, prod, addend, rm, flags);
}

static uint64_t soft_convert(const struct fmt *to, const struct fmt *from, uint64_t a, int rm,
			     uint8_t *flags)
{
	struct unpacked x = unpack(from, a);

	switch (x.kind) {
	case K_QNAN:
	case K_SNAN:
		return nan_result(to, x.kind == K_SNAN, flags);
	case K_INF:
		return make_inf(to, x.sign);
	case K_ZERO:
		return make_zero(to, x.sign);
	default:
		return round_pack(to, x.sign, x.exp, x.sig, rm, flags);
	}
}

static uint64_t soft_arith(const struct fmt *f, enum fpu_arith op, uint64_t a, uint64_t b,
			   uint64_t c, int rm, uint8_t *flags)
{
	switch (op) {
	case FPU_ADD:
		return soft_add(f, a, b, rm, flags);
	case FPU_SUB:
		return soft_add(f, a, b ^ sign_bit(f), rm, flags);
	case FPU_MUL:
		return soft_mul(f, a, b, rm, flags);
	case FPU_DIV:
		return soft_div(f, a, b, rm, flags);
	case FPU_SQRT:
		return soft_sqrt(f, a, rm, flags);
	default:
		return soft_fma(f, a, b, c, rm, flags);
	}
}

uint64_t fpu_soft_arith(enum fpu_fmt fmt, enum fpu_arith op, uint64_t a, uint64_t b, uint64_t c,
			int rm, uint8_t *flags)
{
	return soft_arith(fmt_of(fmt), op, a, b, c, rm, flags);
}

uint64_t fpu_soft_convert(enum fpu_fmt to, enum fpu_fmt from, uint64_t a, int rm, uint8_t *flags)
{
	return soft_convert(fmt_of(to), fmt_of(from), a, rm, flags);
}

/* ------------------------------------------------------------------ */
/* Host SSE arithmetic                                                  */

#if FPU_HOST_SSE

/* MXCSR with every exception masked, FTZ/DAZ off and the rounding-control
 * field (bits 14:13) for each RISC-V mode RNE, RTZ, RDN, RUP. */
static const uint32_t mxcsr_for_rm[4] = { 0x1f80, 0x7f80, 0x3f80, 0x5f80 };
#define MXCSR_FLAGS 0x3fu

/* The guest's environment stays in MXCSR from the first FP operation of a
 * slice until fpu_host_env(): loading MXCSR costs far more than the
 * arithmetic, so it is done only when the rounding mode changes.  Flags
 * accrue in MXCSR meanwhile and are folded into h->fflags on the way out. */
static uint32_t mxcsr_get(void)
{
	uint32_t m;
	__asm__ volatile("stmxcsr %0" : "=m"(m));
	return m;
}

static void mxcsr_set(uint32_t m)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(m));
}

static uint8_t fflags_from_mxcsr(uint32_t m);

static void guest_env_enter(struct hart *h, int rm)
{
	if (!h->fpenv_guest) {
		h->fpenv_host_mxcsr = mxcsr_get();
		mxcsr_set(mxcsr_for_rm[rm]);
		h->fpenv_guest = true;
	} else {
		mxcsr_set((mxcsr_get() & MXCSR_FLAGS) | mxcsr_for_rm[rm]);
	}
	h->fpenv_rm = (uint8_t)rm;
}

static inline void guest_env(struct hart *h, int rm)
{
	if (!h->fpenv_guest || h->fpenv_rm != rm)
		guest_env_enter(h, rm);
}

void fpu_host_env_slow(struct hart *h)
{
	h->fflags |= fflags_from_mxcsr(mxcsr_get());
	mxcsr_set(h->fpenv_host_mxcsr);
	h->fpenv_guest = false;
}

/* Each host_* executes a single SSE instruction under the MXCSR that
 * guest_env() loaded.  One volatile asm statement each, so the compiler can
 * neither constant-fold the arithmetic nor move it across the ldmxcsr. */
static float host_add_s(float a, float b)
{
	__asm__ volatile("addss %[b], %[a]" : [a] "+x"(a) : [b] "x"(b));
	return a;
}

static float host_sub_s(float a, float b)
{
	__asm__ volatile("subss %[b], %[a]" : [a] "+x"(a) : [b] "x"(b));
	return a;
}

static float host_mul_s(float a, float b)
{
	__asm__ volatile("mulss %[b], %[a]" : [a] "+x"(a) : [b] "x"(b));
	return a;
}

static float host_div_s(float a, float b)
{
	__asm__ volatile("divss %[b], %[a]" : [a] "+x"(a) : [b] "x"(b));
	return a;
}

static float host_sqrt_s(float a)
{
	__asm__ volatile("sqrtss %[a], %[a]" : [a] "+x"(a));
	return a;
}

/* c + a*b, one rounding (FMA3) */
static float host_fma_s(float a, float b, float c)
{
	__asm__ volatile("vfmadd231ss %[b], %[a], %[c]" : [c] "+x"(c) : [a] "x"(a), [b] "x"(b));
	return c;
}

static double host_add_d(double a, double b)
{
	__asm__ volatile("addsd %[b], %[a]" : [a] "+x"(a) : [b] "x"(b));
	return a;
}

static double host_sub_d(double a, double b)
{
	__asm__ volatile("subsd %[b], %[a]" : [a] "+x"(a) : [b] "x"(b));
	return a;
}

static double host_mul_d(double a, double b)
{
	__asm__ volatile("mulsd %[b], %[a]" : [a] "+x"(a) : [b] "x"(b));
	return a;
}

static double host_div_d(double a, double b)
{
	__asm__ volatile("divsd %[b], %[a]" : [a] "+x"(a) : [b] "x"(b));
	return a;
}

static double host_sqrt_d(double a)
{
	__asm__ volatile("sqrtsd %[a], %[a]" : [a] "+x"(a));
	return a;
}

static double host_fma_d(double a, double b, double c)
{
	__asm__ volatile("vfmadd231sd %[b], %[a], %[c]" : [c] "+x"(c) : [a] "x"(a), [b] "x"(b));
	return c;
}

static float host_cvt_s_d(double a)
{
	float r;
	__asm__ volatile("cvtsd2ss %[a], %[r]" : [r] "=x"(r) : [a] "x"(a));
	return r;
}

static double host_cvt_d_s(float a)
{
	double r;
	__asm__ volatile("cvtss2sd %[a], %[r]" : [r] "=x"(r) : [a] "x"(a));
	return r;
}

/* MXCSR status bits 0..5 are IE DE ZE OE UE PE; the denormal-operand flag
 * DE has no RISC-V counterpart. */
static uint8_t fflags_from_mxcsr(uint32_t m)
{
	return (m & 0x01 ? FFLAG_NV : 0) | (m & 0x04 ? FFLAG_DZ : 0) | (m & 0x08 ? FFLAG_OF : 0) |
	       (m & 0x10 ? FFLAG_UF : 0) | (m & 0x20 ? FFLAG_NX : 0);
}

static float f32_from(uint64_t bits)
{
	uint32_t b = (uint32_t)bits;
	float v;
	memcpy(&v, &b, sizeof v);
	return v;
}

static uint64_t f32_bits(float v)
{
	uint32_t b;
	memcpy(&b, &v, sizeof b);
	return b;
}

static double f64_from(uint64_t bits)
{
	double v;
	memcpy(&v, &bits, sizeof v);
	return v;
}

static uint64_t f64_bits(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof b);
	return b;
}

static uint64_t host_arith_s(enum fpu_arith op, uint64_t a, uint64_t b, uint64_t c)
{
	float x = f32_from(a), y = f32_from(b);

	switch (op) {
	case FPU_ADD:
		return f32_bits(host_add_s(x, y));
	case FPU_SUB:
		return f32_bits(host_sub_s(x, y));
	case FPU_MUL:
		return f32_bits(host_mul_s(x, y));
	case FPU_DIV:
		return f32_bits(host_div_s(x, y));
	case FPU_SQRT:
		return f32_bits(host_sqrt_s(x));
	default:
		return f32_bits(host_fma_s(x, y, f32_from(c)));
	}
}

static uint64_t host_arith_d(enum fpu_arith op, uint64_t a, uint64_t b, uint64_t c)
{
	double x = f64_from(a), y = f64_from(b);

	switch (op) {
	case FPU_ADD:
		return f64_bits(host_add_d(x, y));
	case FPU_SUB:
		return f64_bits(host_sub_d(x, y));
	case FPU_MUL:
		return f64_bits(host_mul_d(x, y));
	case FPU_DIV:
		return f64_bits(host_div_d(x, y));
	case FPU_SQRT:
		return f64_bits(host_sqrt_d(x));
	default:
		return f64_bits(host_fma_d(x, y, f64_from(c)));
	}
}

static bool is_nan_bits(const struct fmt *f, uint64_t bits)
{
	return (bits & ~sign_bit(f)) > (f->exp_all_ones << f->mant_bits);
}

/* inf*0 in an FMA: RISC-V wants NV even with a quiet-NaN addend, which
 * IEEE leaves to the implementation. */
static bool fma_inf_times_zero(const struct fmt *f, uint64_t a, uint64_t b)
{
	uint64_t inf = f->exp_all_ones << f->mant_bits;
	uint64_t ma = a & ~sign_bit(f), mb = b & ~sign_bit(f);
	return (ma == inf && mb == 0) || (ma == 0 && mb == inf);
}

static bool host_can(enum fpu_fmt fmt, enum fpu_arith op, int rm)
{
	if (rm == RM_RMM || fmt == FPU_H)
		return false;
	return op != FPU_FMA || __builtin_cpu_supports("fma");
}

static uint64_t arith(struct hart *h, enum fpu_fmt fmt, enum fpu_arith op, uint64_t a,
		      uint64_t b, uint64_t c, int rm, uint8_t *flags)
{
	const struct fmt *f = fmt_of(fmt);

	if (!host_can(fmt, op, rm))
		return soft_arith(f, op, a, b, c, rm, flags);

	guest_env(h, rm); /* the flags accrue in MXCSR */
	uint64_t r = fmt == FPU_D ? host_arith_d(op, a, b, c) : host_arith_s(op, a, b, c);

	if (!is_nan_bits(f, r))
		return r;
	if (op == FPU_FMA && fma_inf_times_zero(f, a, b))
		*flags |= FFLAG_NV;
	return f->canonical_nan;
}

static uint64_t convert(struct hart *h, enum fpu_fmt to, enum fpu_fmt from, uint64_t a, int rm,
		       uint8_t *flags)
{
	const struct fmt *f = fmt_of(to);

	if (rm == RM_RMM || to == FPU_H || from == FPU_H)
		return fpu_soft_convert(to, from, a, rm, flags);

	guest_env(h, rm);
	uint64_t r = to == FPU_S ? f32_bits(host_cvt_s_d(f64_from(a)))
				 : f64_bits(host_cvt_d_s(f32_from(a)));

	return is_nan_bits(f, r) ? f->canonical_nan : r;
}

#else /* !FPU_HOST_SSE */

static uint64_t arith(struct hart *h, enum fpu_fmt fmt, enum fpu_arith op, uint64_t a,
		      uint64_t b, uint64_t c, int rm, uint8_t *flags)
{
	return soft_arith(fmt_of(fmt), op, a, b, c, rm, flags);
}

static uint64_t convert(struct hart *h, enum fpu_fmt to, enum fpu_fmt from, uint64_t a, int rm,
		       uint8_t *flags)
{
	return fpu_soft_convert(to, from, a, rm, flags);
}

void fpu_host_env_slow(struct hart *h)
{
	h->fpenv_guest = false; /* never set without the host path */
}

#endif

/* ------------------------------------------------------------------ */
/* Integer conversions                                                  */

enum int_type { INT_W = 0, INT_WU = 1, INT_L = 2, INT_LU = 3 };

static uint64_t int_max(enum int_type t)
{
	static const uint64_t max[4] = { INT32_MAX, UINT32_MAX, INT64_MAX, UINT64_MAX };
	return max[t];
}

static bool int_signed(enum int_type t)
{
	return t == INT_W || t == INT_L;
}

/* The saturated result of an invalid conversion, before sign extension. */
static uint64_t int_saturate(enum int_type t, bool negative)
{
	if (!negative)
		return int_max(t);
	return int_signed(t) ? int_max(t) + 1 : 0; /* 2^31 / 2^63 is the minimum */
}

/* W and WU results live in x registers sign-extended from bit 31. */
static uint64_t int_result(enum int_type t, uint64_t v)
{
	if (t == INT_W || t == INT_WU)
		return (uint64_t)(int64_t)(int32_t)(uint32_t)v;
	return v;
}

/* Round the magnitude of a finite value to an integer.  Returns false if it
 * does not fit in 64 bits. */
static bool round_to_integer(const struct unpacked *x, int rm, uint64_t *mag, bool *inexact)
{
	if (x->exp >= 0) {
		*inexact = false;
		if (x->exp > 63 - msb64(x->sig))
			return false;
		*mag = x->sig << x->exp;
		return true;
	}
	struct split s = split_at(x->sig, -x->exp);
	*mag = s.kept + round_up(rm, x->sign, &s);
	*inexact = s.inexact;
	return true;
}

static uint64_t float_to_int(const struct fmt *f, uint64_t a, enum int_type t, int rm,
			     uint8_t *flags)
{
	struct unpacked x = unpack(f, a);
	uint64_t mag = 0;
	bool inexact = false, fits;

	switch (x.kind) {
	case K_QNAN:
	case K_SNAN:
		*flags |= FFLAG_NV;
		return int_result(t, int_max(t));
	case K_INF:
		fits = false;
		break;
	case K_ZERO:
		return 0;
	default:
		fits = round_to_integer(&x, rm, &mag, &inexact);
		break;
	}
	if (fits)
		fits = x.sign ? mag <= int_saturate(t, true) : mag <= int_max(t);
	if (!fits) {
		*flags |= FFLAG_NV;
		return int_result(t, int_saturate(t, x.sign));
	}
	if (inexact)
		*flags |= FFLAG_NX;
	return int_result(t, x.sign ? -mag : mag);
}

static uint64_t int_to_float(const struct fmt *f, uint64_t v, enum int_type t, int rm,
			     uint8_t *flags)
{
	bool negative = false;

	switch (t) {
	case INT_W:
		v = (uint64_t)(int64_t)(int32_t)(uint32_t)v;
		/* fall through */
	case INT_L:
		negative = (int64_t)v < 0;
		if (negative)
			v = -v;
		break;
	case INT_WU:
		v = (uint32_t)v;
		break;
	default:
		break;
	}
	if (v == 0)
		return make_zero(f, false);
	return round_pack(f, negative, 0, v, rm, flags);
}

/* ------------------------------------------------------------------ */
/* Non-arithmetic operations                                            */

/* An integer that orders finite values and infinities like the reals, with
 * -0 just below +0 (the order FMIN/FMAX want). */
static int64_t total_key(const struct fmt *f, uint64_t bits)
{
	int64_t mag = (int64_t)(bits & ~sign_bit(f));
	return bits & sign_bit(f) ? -mag - 1 : mag;
}

static uint64_t min_max(const struct fmt *f, uint64_t a, uint64_t b, bool want_max,
			uint8_t *flags)
{
	struct unpacked x = unpack(f, a), y = unpack(f, b);

	if (x.kind == K_SNAN || y.kind == K_SNAN)
		*flags |= FFLAG_NV;
	if (is_nan(&x) && is_nan(&y))
		return f->canonical_nan;
	if (is_nan(&x))
		return b;
	if (is_nan(&y))
		return a;
	bool a_smaller = total_key(f, a) < total_key(f, b);
	return a_smaller != want_max ? a : b;
}

enum cmp_op { CMP_LE = 0, CMP_LT = 1, CMP_EQ = 2 };

static uint64_t compare(const struct fmt *f, uint64_t a, uint64_t b, enum cmp_op op,
			uint8_t *flags)
{
	struct unpacked x = unpack(f, a), y = unpack(f, b);

	if (is_nan(&x) || is_nan(&y)) {
		/* FEQ is a quiet comparison, FLT/FLE signalling ones */
		if (op != CMP_EQ || x.kind == K_SNAN || y.kind == K_SNAN)
			*flags |= FFLAG_NV;
		return 0;
	}
	int64_t ka = total_key(f, a), kb = total_key(f, b);
	if (x.kind == K_ZERO && y.kind == K_ZERO)
		ka = kb = 0; /* -0 == +0 */
	switch (op) {
	case CMP_EQ:
		return ka == kb;
	case CMP_LT:
		return ka < kb;
	default:
		return ka <= kb;
	}
}

static uint64_t classify(const struct fmt *f, uint64_t bits)
{
	struct unpacked x = unpack(f, bits);

	switch (x.kind) {
	case K_INF:
		return x.sign ? 1 << 0 : 1 << 7;
	case K_ZERO:
		return x.sign ? 1 << 3 : 1 << 4;
	case K_SNAN:
		return 1 << 8;
	case K_QNAN:
		return 1 << 9;
	default:
		if (x.sig >> f->mant_bits)
			return x.sign ? 1 << 1 : 1 << 6;
		return x.sign ? 1 << 2 : 1 << 5;
	}
}

static uint64_t sign_inject(const struct fmt *f, uint64_t a, uint64_t b, unsigned funct3)
{
	uint64_t s = sign_bit(f);

	switch (funct3) {
	case 0: /* FSGNJ */
		return (a & ~s) | (b & s);
	case 1: /* FSGNJN */
		return (a & ~s) | (~b & s);
	default: /* FSGNJX */
		return a ^ (b & s);
	}
}

/* ------------------------------------------------------------------ */
/* Instruction decode                                                   */

struct fp_insn {
	unsigned rd, rs1, rs2, rs3, funct3, funct5;
	enum fpu_fmt fmt;
};

static struct fp_insn decode(uint32_t insn)
{
	struct fp_insn d = {
		.rd = (insn >> 7) & 31,
		.funct3 = (insn >> 12) & 7,
		.rs1 = (insn >> 15) & 31,
		.rs2 = (insn >> 20) & 31,
		.fmt = (enum fpu_fmt)((insn >> 25) & 3),
		.rs3 = insn >> 27,
		.funct5 = insn >> 27,
	};
	return d;
}

/* The effective rounding mode, or -1 if reserved (which makes the
 * instruction illegal). */
static int resolve_rm(const struct hart *h, unsigned rm)
{
	if (rm == RM_DYN)
		rm = h->frm;
	return rm <= RM_RMM ? (int)rm : -1;
}

/* A single or half must be NaN-boxed (all ones above it); anything else
 * reads as the canonical NaN. */
static uint64_t read_f(const struct hart *h, unsigned r, enum fpu_fmt fmt)
{
	uint64_t v = h->f[r];

	switch (fmt) {
	case FPU_D: return v;
	case FPU_H: return v >> 16 == 0xffffffffffffULL ? (uint16_t)v : fmt_h.canonical_nan;
	default: return v >> 32 == 0xffffffff ? (uint32_t)v : fmt_s.canonical_nan;
	}
}

static void write_f(struct hart *h, unsigned r, enum fpu_fmt fmt, uint64_t v)
{
	switch (fmt) {
	case FPU_D: h->f[r] = v; break;
	case FPU_H: h->f[r] = v | 0xffffffffffff0000ULL; break;
	default: h->f[r] = v | 0xffffffff00000000ULL; break;
	}
}

static void write_x(struct hart *h, unsigned r, uint64_t v)
{
	if (r != 0)
		h->x[r] = v;
}

/* The rounding arithmetic (OP-FP add, sub, mul, div, sqrt and the fused
 * multiply-adds) packed into one int by fpu_pack_arith, so that the
 * interpreter's decode cache can keep it: bits 2:0 enum fpu_arith, 4:3 the
 * format (enum fpu_fmt), 7:5 the rounding-mode field, 12:8 rs3, 13 negate
 * the product, 14 negate the addend. */
#define PACK_FMT_SHIFT 3
#define PACK_RM_SHIFT 5
#define PACK_RS3_SHIFT 8
#define PACK_NEG_PRODUCT (1u << 13)
#define PACK_NEG_ADDEND (1u << 14)

static const uint8_t arith_of_funct5[32] = {
	[F5_ADD] = FPU_ADD, [F5_SUB] = FPU_SUB, [F5_MUL] = FPU_MUL, [F5_DIV] = FPU_DIV,
	[F5_SQRT] = FPU_SQRT,
};

bool fpu_pack_arith(uint32_t insn, int32_t *packed)
{
	struct fp_insn d = decode(insn);
	unsigned opcode = insn & 0x7f, p;

	if (d.fmt > FPU_H)
		return false;
	p = (unsigned)d.fmt << PACK_FMT_SHIFT | d.funct3 << PACK_RM_SHIFT;
	if (opcode == OPC_OP_FP) {
		bool rounding = d.funct5 <= F5_DIV || d.funct5 == F5_SQRT;
		if (!rounding || (d.funct5 == F5_SQRT && d.rs2 != 0))
			return false;
		p |= arith_of_funct5[d.funct5];
	} else if (opcode == OPC_FMADD || opcode == OPC_FMSUB || opcode == OPC_FNMSUB ||
		   opcode == OPC_FNMADD) {
		/* -(a*b) is computed as (-a)*b and -c by flipping the sign bit:
		 * both exact, so the single rounding of the whole expression is
		 * kept. */
		p |= FPU_FMA | d.rs3 << PACK_RS3_SHIFT;
		if (opcode == OPC_FNMSUB || opcode == OPC_FNMADD)
			p |= PACK_NEG_PRODUCT;
		if (opcode == OPC_FMSUB || opcode == OPC_FNMADD)
			p |= PACK_NEG_ADDEND;
	} else {
		return false;
	}
	*packed = (int32_t)p;
	return true;
}

int fpu_execute_packed(struct hart *h, int32_t packed, unsigned rd, unsigned rs1, unsigned rs2)
{
	unsigned p = (unsigned)packed;
	enum fpu_arith op = (enum fpu_arith)(p & 7);
	enum fpu_fmt fmt = (enum fpu_fmt)((p >> PACK_FMT_SHIFT) & 3);
	int rm = resolve_rm(h, (p >> PACK_RM_SHIFT) & 7);
	uint8_t flags = 0;

	if (rm < 0)
		return -1;
	const struct fmt *f = fmt_of(fmt);
	uint64_t a = read_f(h, rs1, fmt), b = read_f(h, rs2, fmt), c = 0;
	if (op == FPU_FMA) {
		c = read_f(h, (p >> PACK_RS3_SHIFT) & 31, fmt);
		if (p & PACK_NEG_PRODUCT)
			a ^= sign_bit(f);
		if (p & PACK_NEG_ADDEND)
			c ^= sign_bit(f);
	}
	write_f(h, rd, fmt, arith(h, fmt, op, a, b, c, rm, &flags));
	h->fflags |= flags;
	return 0;
}

/* OP-FP rounding arithmetic and the fused multiply-adds. */
static int exec_rounding(struct hart *h, uint32_t insn)
{
	struct fp_insn d = decode(insn);
	int32_t packed;
	if (!fpu_pack_arith(insn, &packed))
		return -1;
	return fpu_execute_packed(h, packed, d.rd, d.rs1, d.rs2);
}

/* FSGNJ*, FMIN/FMAX, FEQ/FLT/FLE: funct3 selects the operation. */
static int exec_two_operand(struct hart *h, const struct fp_insn *d)
{
	const struct fmt *f = fmt_of(d->fmt);
	uint64_t a = read_f(h, d->rs1, d->fmt), b = read_f(h, d->rs2, d->fmt);
	uint8_t flags = 0;

	switch (d->funct5) {
	case F5_SGNJ:
		if (d->funct3 > 2)
			return -1;
		write_f(h, d->rd, d->fmt, sign_inject(f, a, b, d->funct3));
		return 0;
	case F5_MINMAX:
		if (d->funct3 > 1)
			return -1;
		write_f(h, d->rd, d->fmt, min_max(f, a, b, d->funct3 == 1, &flags));
		break;
	default: /* F5_CMP */
		if (d->funct3 > 2)
			return -1;
		write_x(h, d->rd, compare(f, a, b, (enum cmp_op)d->funct3, &flags));
		break;
	}
	h->fflags |= flags;
	return 0;
}

static int exec_convert(struct hart *h, const struct fp_insn *d)
{
	int rm = resolve_rm(h, d->funct3);
	const struct fmt *f = fmt_of(d->fmt);
	uint8_t flags = 0;

	if (rm < 0)
		return -1;
	switch (d->funct5) {
	case F5_CVT_FF: {
		/* rs2 is the source format: FCVT.S.D has rs2 = 1, FCVT.D.H 2 */
		enum fpu_fmt from = (enum fpu_fmt)d->rs2;
		if (d->rs2 > FPU_H || from == d->fmt)
			return -1;
		write_f(h, d->rd, d->fmt,
			convert(h, d->fmt, from, read_f(h, d->rs1, from), rm, &flags));
		break;
	}
	case F5_CVT_IF:
		if (d->rs2 > INT_LU)
			return -1;
		write_x(h, d->rd,
			float_to_int(f, read_f(h, d->rs1, d->fmt), (enum int_type)d->rs2, rm, &flags));
		break;
	default: /* F5_CVT_FI */
		if (d->rs2 > INT_LU)
			return -1;
		write_f(h, d->rd, d->fmt,
			int_to_float(f, h->x[d->rs1], (enum int_type)d->rs2, rm, &flags));
		break;
	}
	h->fflags |= flags;
	return 0;
}

/* The low `bits` of v sign-extended, for FMV.X.W and FMV.X.H. */
static uint64_t sext_bits(uint64_t v, unsigned bits)
{
	return (uint64_t)((int64_t)(v << (64 - bits)) >> (64 - bits));
}

/* FMV.X.H/W/D and FCLASS (funct5 0x1c), FMV.H/W/D.X (funct5 0x1e). */
static int exec_move_class(struct hart *h, const struct fp_insn *d)
{
	unsigned bits = d->fmt == FPU_D ? 64 : d->fmt == FPU_H ? 16 : 32;

	if (d->rs2 != 0)
		return -1;
	if (d->funct5 == F5_MV_F) {
		if (d->funct3 != 0)
			return -1;
		uint64_t v = h->x[d->rs1];
		write_f(h, d->rd, d->fmt, bits == 64 ? v : v & ((1ULL << bits) - 1));
		return 0;
	}
	switch (d->funct3) {
	case 0: /* FMV.X.*: raw bits, no unboxing; W and H sign-extend */
		write_x(h, d->rd, bits == 64 ? h->f[d->rs1] : sext_bits(h->f[d->rs1], bits));
		return 0;
	case 1:
		write_x(h, d->rd, classify(fmt_of(d->fmt), read_f(h, d->rs1, d->fmt)));
		return 0;
	default:
		return -1;
	}
}

static int exec_op_fp(struct hart *h, uint32_t insn)
{
	struct fp_insn d = decode(insn);

	if (d.fmt > FPU_H) /* Q */
		return -1;
	switch (d.funct5) {
	case F5_ADD:
	case F5_SUB:
	case F5_MUL:
	case F5_DIV:
	case F5_SQRT:
		return exec_rounding(h, insn);
	case F5_SGNJ:
	case F5_MINMAX:
	case F5_CMP:
		return exec_two_operand(h, &d);
	case F5_CVT_FF:
	case F5_CVT_IF:
	case F5_CVT_FI:
		return exec_convert(h, &d);
	case F5_MV_X_CLASS:
	case F5_MV_F:
		return exec_move_class(h, &d);
	default:
		return -1;
	}
}

int fpu_execute(struct hart *h, uint32_t insn)
{
	switch (insn & 0x7f) {
	case OPC_OP_FP:
		return exec_op_fp(h, insn);
	case OPC_FMADD:
	case OPC_FMSUB:
	case OPC_FNMSUB:
	case OPC_FNMADD:
		return exec_rounding(h, insn);
	default:
		return -1;
	}
}
