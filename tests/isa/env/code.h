/* Code the JIT tests (jit-smc, jit-link, jit-far) write into RAM and then
 * run: a few instruction encoders and the store that puts words at a
 * physical address followed by FENCE.I, as the spec asks before running
 * code that was written as data. */
#ifndef KEEL_ISA_CODE_H
#define KEEL_ISA_CODE_H

#include "ctest.h"

/* addi rd, rs1, imm */
static inline uint32_t addi(unsigned rd, unsigned rs1, int32_t imm)
{
	return ((uint32_t)imm << 20) | rs1 << 15 | rd << 7 | 0x13;
}

/* jal x0, off */
static inline uint32_t jump(int32_t off)
{
	uint32_t i = (uint32_t)off;
	return ((i >> 20) & 1) << 31 | ((i >> 1) & 0x3ff) << 21 | ((i >> 11) & 1) << 20 |
	       ((i >> 12) & 0xff) << 12 | 0x6f;
}

static inline void put(uint64_t pa, const uint32_t *words, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		((volatile uint32_t *)pa)[i] = words[i];
	fence_i();
}

#endif
