/* The tight loop: a multiply-add recurrence and an accumulator, about six
 * instructions per iteration with no memory traffic, so the time per
 * instruction is the emulator's dispatch cost alone.  guest-bench reports
 * keel's MIPS on this workload. */
#include "kbench.h"

uint64_t workload_loop(uint64_t millions)
{
	uint64_t x = 1, y = 0, n = millions * 1000000;

	for (uint64_t i = 0; i < n; i++) {
		x = x * 0x5851f42d4c957f2dULL + i;
		y += x >> 33;
	}
	return x ^ y << 1;
}
