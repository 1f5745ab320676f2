/* What keel's seccomp filter adds to one system call: the nanoseconds a
 * cheap allowed call (getppid) takes before and after sandbox_enter()
 * installs the very filter keel runs under (src/host/sandbox.c, compiled
 * in by bench/sandbox-cost).  The best of several rounds each, so that a
 * busy host moves the figure as little as it can.
 *
 *   seccomp-cost [CALLS]      prints "before_ns=B after_ns=A" */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "host/sandbox.h"

static double best_ns_per_call(long calls)
{
	double best = 1e18;
	for (int round = 0; round < 7; round++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (long i = 0; i < calls; i++)
			syscall(SYS_getppid); /* not glibc's cached wrapper: a real call */
		clock_gettime(CLOCK_MONOTONIC, &b);
		double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / calls;
		best = ns < best ? ns : best;
	}
	return best;
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : 200000;
	if (calls < 1) {
		fprintf(stderr, "usage: seccomp-cost [CALLS]\n");
		return 2;
	}
	double before = best_ns_per_call(calls);
	char err[256];
	if (sandbox_enter(err, sizeof(err))) {
		fprintf(stderr, "seccomp-cost: %s\n", err);
		return 1;
	}
	double after = best_ns_per_call(calls);
	printf("before_ns=%.1f after_ns=%.1f\n", before, after);
	return 0;
}
