/* Memory group: a dependent pointer chase through a random single-cycle
 * permutation (every load misses whatever caches the emulator has: host
 * caches and soft-TLB alike) and STREAM-style sequential copy/scale/add/
 * triad over arrays much larger than a soft-TLB's reach. */
#include "bench.h"

/* ---- pointer chase ---- */

#define CHASE_ENTRIES (1u << 20) /* 4 MiB of uint32 indices */
/* not a multiple of the cycle length, so where the chase stops matters */
#define CHASE_STEPS ((5u << 20) + 12345)

static uint32_t chase_next[CHASE_ENTRIES];

/* Uniform in [0, bound) without a division: high half of a 32x32 product. */
static inline uint32_t below(uint64_t *seed, uint32_t bound)
{
	return (uint32_t)(((lcg_next(seed) >> 32) * bound) >> 32);
}

uint64_t kernel_chase(void)
{
	uint64_t seed = 42, sum = 0;
	uint32_t p = 0;

	for (uint32_t i = 0; i < CHASE_ENTRIES; i++)
		chase_next[i] = i;
	/* Sattolo's algorithm: the result is one cycle through every entry,
	 * so the chase never settles into a short, cache-resident loop. */
	for (uint32_t i = CHASE_ENTRIES - 1; i > 0; i--) {
		uint32_t j = below(&seed, i);
		uint32_t t = chase_next[i];
		chase_next[i] = chase_next[j];
		chase_next[j] = t;
	}
	for (uint32_t s = 0; s < CHASE_STEPS; s++) {
		p = chase_next[p];
		sum = sum * 31 + p; /* order-sensitive: a wrong permutation shows */
	}
	return sum ^ (uint64_t)p << 40;
}

/* ---- streaming ---- */

#define STREAM_ELEMS (128u * 1024) /* 1 MiB per array */
#define STREAM_PASSES 14

static uint64_t stream_a[STREAM_ELEMS], stream_b[STREAM_ELEMS], stream_c[STREAM_ELEMS];

uint64_t kernel_stream(void)
{
	const uint64_t k = 3;
	uint64_t sum = 0;

	for (uint32_t i = 0; i < STREAM_ELEMS; i++) {
		stream_a[i] = i;
		stream_b[i] = 2 * (uint64_t)i + 1;
		stream_c[i] = 0;
	}
	/* Values wrap around 2^64; that is fine, they only feed the checksum. */
	for (int pass = 0; pass < STREAM_PASSES; pass++) {
		for (uint32_t i = 0; i < STREAM_ELEMS; i++)
			stream_c[i] = stream_a[i];
		for (uint32_t i = 0; i < STREAM_ELEMS; i++)
			stream_b[i] = k * stream_c[i];
		for (uint32_t i = 0; i < STREAM_ELEMS; i++)
			stream_c[i] = stream_a[i] + stream_b[i];
		for (uint32_t i = 0; i < STREAM_ELEMS; i++)
			stream_a[i] = stream_b[i] + k * stream_c[i] + (uint64_t)pass;
	}
	for (uint32_t i = 0; i < STREAM_ELEMS; i++)
		sum = mix(sum, stream_a[i] ^ stream_b[i] << 1 ^ stream_c[i] << 2);
	return sum;
}
