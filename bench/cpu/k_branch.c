/* Branch group: conditional branches on random bits (nothing for a host
 * branch predictor to learn about the guest's control flow) and a
 * quicksort, whose compares are data-dependent too. */
#include "bench.h"

/* ---- random branches ---- */

#define LCG_BRANCH_ITERS (3u << 20)

uint64_t kernel_lcg_branch(void)
{
	uint64_t seed = 7, a = 1, b = 2, c = 3, d = 4;

	for (uint32_t i = 0; i < LCG_BRANCH_ITERS; i++) {
		uint64_t x = lcg_next(&seed);

		/* Arms update different variables with different operations so
		 * the compiler keeps real branches instead of selects. */
		if (x >> 63)
			a += x >> 40;
		else
			b ^= x >> 20;
		if ((x >> 62) & 1)
			c = c * 5 + 1;
		else
			d += c;
		switch ((x >> 57) & 7) {
		case 0:
			a ^= b;
			break;
		case 1:
			b += c >> 3;
			break;
		case 2:
			c ^= d << 1;
			break;
		case 3:
			d -= a;
			break;
		case 4:
			a = a * 3 + d;
			break;
		case 5:
			if ((x >> 50) & 1)
				b = ~b;
			break;
		default:
			break;
		}
	}
	return mix(mix(mix(mix(0, a), b), c), d);
}

/* ---- quicksort ---- */

#define SORT_ELEMS (64u * 1024)
#define SORT_ROUNDS 6

static uint32_t sort_buf[SORT_ELEMS];

static void insertion_sort(uint32_t *v, long n)
{
	for (long i = 1; i < n; i++) {
		uint32_t x = v[i];
		long j = i - 1;

		while (j >= 0 && v[j] > x) {
			v[j + 1] = v[j];
			j--;
		}
		v[j + 1] = x;
	}
}

/* Hoare partition around a median of three; recurse into the smaller side
 * and loop on the larger so the stack stays O(log n). */
static void quicksort(uint32_t *v, long n)
{
	while (n > 16) {
		uint32_t lo = v[0], mid = v[n / 2], hi = v[n - 1];
		uint32_t pivot = lo < mid ? (mid < hi ? mid : (lo < hi ? hi : lo))
					  : (lo < hi ? lo : (mid < hi ? hi : mid));
		long i = -1, j = n;

		for (;;) {
			do
				i++;
			while (v[i] < pivot);
			do
				j--;
			while (v[j] > pivot);
			if (i >= j)
				break;
			uint32_t t = v[i];
			v[i] = v[j];
			v[j] = t;
		}
		long left = j + 1;
		if (left < n - left) {
			quicksort(v, left);
			v += left;
			n -= left;
		} else {
			quicksort(v + left, n - left);
			n = left;
		}
	}
	insertion_sort(v, n);
}

uint64_t kernel_sort(void)
{
	uint64_t seed = 99, sum = 0;

	for (int round = 0; round < SORT_ROUNDS; round++) {
		for (uint32_t i = 0; i < SORT_ELEMS; i++)
			sort_buf[i] = (uint32_t)(lcg_next(&seed) >> 32);
		quicksort(sort_buf, SORT_ELEMS);
		uint64_t unsorted = 0;
		for (uint32_t i = 1; i < SORT_ELEMS; i++)
			unsorted += sort_buf[i - 1] > sort_buf[i];
		sum = mix(sum, unsorted);
		for (uint32_t i = 0; i < SORT_ELEMS; i += 997)
			sum = mix(sum, sort_buf[i]);
	}
	return sum;
}
