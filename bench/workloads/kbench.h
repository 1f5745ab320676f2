/* The guest workloads of bench/guest-bench (see bench/README.md).
 *
 * One static Linux program, `kbench`, with a subcommand per workload.
 * Every workload does fixed, deterministic work scaled by one number and
 * returns a checksum of its result, so a wrong emulator shows up as a
 * wrong checksum instead of a fast time.  The CPU kernels shared with the
 * bare-metal benchmark come from bench/cpu/ (declared in bench.h). */
#ifndef KEEL_BENCH_KBENCH_H
#define KEEL_BENCH_KBENCH_H

#include <stdint.h>

/* compress.c: LZ77-compress and expand N rounds of generated text. */
uint64_t workload_compress(uint64_t rounds);

/* loop.c: the tight loop, N million iterations of a few ALU ops. */
uint64_t workload_loop(uint64_t millions);

/* system.c: process and IPC workloads. */
uint64_t workload_spawn(uint64_t count); /* fork + exec of kbench itself */
uint64_t workload_pipe(uint64_t round_trips); /* ping-pong between two processes */
uint64_t workload_shell(uint64_t iterations); /* a /bin/sh arithmetic loop */

/* The subcommand workload_spawn execs: exit with status CODE. */
#define KBENCH_EXIT_CMD "exit-with"

#endif
