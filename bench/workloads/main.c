/* kbench: the guest workloads of bench/guest-bench, one per subcommand.
 *
 *   kbench NAME N      run workload NAME at size N, print one result line
 *   kbench list        the workloads and what N counts
 *
 * The result line is what guest-bench parses:
 *   kbench NAME n=N checksum=0x<16 hex digits> guest_s=<seconds> insns=<count>
 * guest_s is CLOCK_MONOTONIC around the work, i.e. the guest's own clock
 * (virtual time under keel: see bench/README.md).  insns is the hart's
 * instret counter around the work: instructions retired by the whole
 * machine (kernel and other processes too), which under keel is its own
 * instruction count; on the host build, which has no instret, it is
 * left out.  The same source builds
 * natively on the host (guest-bench --host-check), which is how the
 * expected checksums were computed without trusting any emulator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "kbench.h"

struct workload {
	const char *name;
	const char *what_n_counts;
	/* One of the two: a fixed bench/cpu kernel run N times, or a
	 * workload that takes N itself. */
	uint64_t (*kernel)(void);
	uint64_t (*sized)(uint64_t n);
};

static const struct workload workloads[] = {
	{ "sort", "quicksorts of 6 x 64 Ki keys (bench/cpu)", kernel_sort, NULL },
	{ "sha256", "SHA-256 runs over 640 KiB (bench/cpu)", kernel_sha256, NULL },
	{ "bytecode", "bytecode-VM Collatz runs (bench/cpu)", kernel_bytecode, NULL },
	{ "compress", "LZ77 round trips of 256 KiB", NULL, workload_compress },
	{ "loop", "million tight-loop iterations", NULL, workload_loop },
	{ "chase", "pointer chases of 5 Mi steps over 4 MiB (bench/cpu)", kernel_chase, NULL },
	{ "stream", "STREAM runs over 3 x 1 MiB (bench/cpu)", kernel_stream, NULL },
	{ "matmul", "96x96 matrix multiply runs (bench/cpu)", kernel_matmul, NULL },
	{ "nbody", "n-body runs of 125000 steps (bench/cpu)", kernel_nbody, NULL },
	{ "spawn", "fork + exec + wait of kbench", NULL, workload_spawn },
	{ "pipe", "pipe round trips between two processes", NULL, workload_pipe },
	{ "shell", "iterations of a /bin/sh arithmetic loop", NULL, workload_shell },
};

#define N_WORKLOADS (sizeof workloads / sizeof workloads[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: kbench NAME N    run workload NAME at size N\n"
		   "       kbench list      the workloads\n"
		   "prints: kbench NAME n=N checksum=0x... guest_s=SECONDS [insns=COUNT]\n");
}

static void list(void)
{
	for (size_t i = 0; i < N_WORKLOADS; i++)
		printf("%-9s N = %s\n", workloads[i].name, workloads[i].what_n_counts);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* OpenSBI lets user mode read instret (scounteren.IR); under QEMU without
 * -icount it counts host cycles instead, which guest-bench ignores. */
#if defined(__riscv)
static uint64_t instret(void)
{
	uint64_t n;

	__asm__ volatile("rdinstret %0" : "=r"(n));
	return n;
}
#endif

static uint64_t run(const struct workload *w, uint64_t n)
{
	uint64_t sum = 0;

	if (w->sized)
		return w->sized(n);
	/* Each kernel call redoes its own set-up from fixed seeds, so every
	 * call returns the same value; folding keeps each one counted. */
	for (uint64_t i = 0; i < n; i++)
		sum = mix(sum, w->kernel());
	return sum;
}

/* A positive decimal number, all of the string. */
static int parse_count(const char *s, uint64_t *n)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	*n = strtoull(s, &end, 10);
	return *end || *n == 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t n;

	if (argc == 3 && strcmp(argv[1], KBENCH_EXIT_CMD) == 0)
		return atoi(argv[2]);
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		list();
		return 0;
	}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		list();
		return 0;
	}
	if (argc != 3) {
		usage(stderr);
		return 2;
	}
	if (parse_count(argv[2], &n)) {
		fprintf(stderr, "kbench: N must be a positive integer, not '%s'\n", argv[2]);
		return 2;
	}
	for (size_t i = 0; i < N_WORKLOADS; i++) {
		if (strcmp(argv[1], workloads[i].name) != 0)
			continue;
#if defined(__riscv)
		uint64_t i0 = instret();
#endif
		double t0 = now();
		uint64_t sum = run(&workloads[i], n);
		double t1 = now();
		printf("kbench %s n=%llu checksum=0x%016llx guest_s=%.6f", workloads[i].name,
		       (unsigned long long)n, (unsigned long long)sum, t1 - t0);
#if defined(__riscv)
		printf(" insns=%llu", (unsigned long long)(instret() - i0));
#endif
		printf("\n");
		return 0;
	}
	fprintf(stderr, "kbench: no workload '%s' (kbench list)\n", argv[1]);
	return 2;
}
