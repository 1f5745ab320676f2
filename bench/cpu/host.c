/* Hosted platform: runs the kernels natively so their checksums can be
 * (re)computed and checked without any emulator in the loop.  Built and
 * run by `bench/cpu-bench --host-check`. */
#include <stdio.h>

#include "bench.h"

void out_char(char c)
{
	putchar(c);
}

uint64_t read_instret(void)
{
	return 0;
}

uint64_t read_cycle(void)
{
	return 0;
}

int main(void)
{
	return bench_main();
}
