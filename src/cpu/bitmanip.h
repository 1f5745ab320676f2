/* The bit-manipulation extensions' (Zbb, Zbc) operations that are more
 * than one C operator, for the interpreter's handlers (exec.c).  Each is
 * written from its definition in the RISC-V Bit-Manipulation ISA
 * extensions spec (v1.0.0); the results do not depend on the data's timing
 * (Zkt): none branches on the operands' values. */
#ifndef KEEL_CPU_BITMANIP_H
#define KEEL_CPU_BITMANIP_H

#include <stdint.h>

/* clz, ctz, cpop and their W forms; a zero operand gives the width. */
static inline uint64_t bm_clz64(uint64_t v) { return v ? (uint64_t)__builtin_clzll(v) : 64; }
static inline uint64_t bm_ctz64(uint64_t v) { return v ? (uint64_t)__builtin_ctzll(v) : 64; }
static inline uint64_t bm_clz32(uint32_t v) { return v ? (uint64_t)__builtin_clz(v) : 32; }
static inline uint64_t bm_ctz32(uint32_t v) { return v ? (uint64_t)__builtin_ctz(v) : 32; }
static inline uint64_t bm_cpop(uint64_t v) { return (uint64_t)__builtin_popcountll(v); }

static inline uint64_t bm_rol64(uint64_t v, unsigned sh)
{
	sh &= 63;
	return (v << sh) | (v >> ((64 - sh) & 63));
}
static inline uint64_t bm_ror64(uint64_t v, unsigned sh)
{
	sh &= 63;
	return (v >> sh) | (v << ((64 - sh) & 63));
}
/* The W rotates rotate the low word and sign-extend the result. */
static inline uint64_t bm_rol32(uint64_t v, unsigned sh)
{
	uint32_t w = (uint32_t)v;
	sh &= 31;
	return (uint64_t)(int64_t)(int32_t)((w << sh) | (w >> ((32 - sh) & 31)));
}
static inline uint64_t bm_ror32(uint64_t v, unsigned sh)
{
	uint32_t w = (uint32_t)v;
	sh &= 31;
	return (uint64_t)(int64_t)(int32_t)((w >> sh) | (w << ((32 - sh) & 31)));
}

/* orc.b: each byte becomes 0xff if any of its bits is set, else 0. */
static inline uint64_t bm_orc_b(uint64_t v)
{
	/* a byte's bits folded into its low bit, then spread over the byte */
	v |= v >> 4;
	v |= v >> 2;
	v |= v >> 1;
	return (v & 0x0101010101010101ULL) * 0xff;
}

/* The 128-bit carry-less product of a and b: the low half in *lo. */
static inline uint64_t bm_clmul_wide(uint64_t a, uint64_t b, uint64_t *lo)
{
	uint64_t l = 0, hi = 0;
	for (unsigned i = 0; i < 64; i++) {
		uint64_t take = -((b >> i) & 1); /* all ones when bit i of b is set */
		l ^= (a << i) & take;
		hi ^= (i ? a >> (64 - i) : 0) & take;
	}
	*lo = l;
	return hi;
}
/* clmul: bits 63:0 of the product; clmulh: 127:64; clmulr: 126:63. */
static inline uint64_t bm_clmul(uint64_t a, uint64_t b)
{
	uint64_t lo;
	bm_clmul_wide(a, b, &lo);
	return lo;
}
static inline uint64_t bm_clmulh(uint64_t a, uint64_t b)
{
	uint64_t lo;
	return bm_clmul_wide(a, b, &lo);
}
static inline uint64_t bm_clmulr(uint64_t a, uint64_t b)
{
	uint64_t lo, hi = bm_clmul_wide(a, b, &lo);
	return (hi << 1) | (lo >> 63);
}

#endif
