/* Shared declarations for the bare-metal CPU benchmark.
 *
 * The same kernel sources build two ways: freestanding for RV64 (crt0.S +
 * htif.c, the thing emulators run) and hosted for the build machine
 * (host.c), which is how the expected checksums were computed and can be
 * re-checked without trusting any emulator.  So kernels use only plain C
 * and the few helpers below, and every floating-point result they depend
 * on is correctly rounded by IEEE 754 (+, -, *, /, sqrt, explicit fma;
 * contraction is off), which makes checksums bit-identical on both. */
#ifndef KEEL_BENCH_CPU_BENCH_H
#define KEEL_BENCH_CPU_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* --- platform (htif.c on the target, host.c on the build machine) --- */
void out_char(char c);
uint64_t read_instret(void); /* 0 on the host */
uint64_t read_cycle(void); /* 0 on the host */

/* --- print.c --- */
void out_str(const char *s);
void out_u64(uint64_t v); /* decimal */
void out_hex(uint64_t v); /* 0x + 16 digits */

/* --- main.c --- */
int bench_main(void);

/* --- kernels: each does a fixed amount of work and returns a checksum --- */
uint64_t kernel_sha256(void);
uint64_t kernel_bytecode(void);
uint64_t kernel_chase(void);
uint64_t kernel_stream(void);
uint64_t kernel_lcg_branch(void);
uint64_t kernel_sort(void);
uint64_t kernel_matmul(void);
uint64_t kernel_nbody(void);

/* Knuth's MMIX LCG.  Its low bits are weak, so callers take high bits. */
static inline uint64_t lcg_next(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return *state;
}

/* Order-sensitive mixing of a value into a running checksum. */
static inline uint64_t mix(uint64_t sum, uint64_t v)
{
	sum ^= v;
	sum *= 0x100000001b3ULL; /* FNV-1a 64-bit prime */
	return sum ^ (sum >> 29);
}

static inline uint64_t double_bits(double d)
{
	union {
		double d;
		uint64_t u;
	} pun = { .d = d };
	return pun.u;
}

#endif
