/* Benchmark driver: runs the kernels of the selected groups, reports each
 * one's instruction and cycle counts, and checks each checksum against the
 * value computed natively on the host (see host.c).
 *
 * BENCH_GROUPS (a bit mask of enum group) picks the groups at build time,
 * so each group gets its own ELF and its own wall-clock measurement.
 *
 * Output, one line per kernel, meant for both people and cpu-bench:
 *   kernel int.sha256 insns=N cycles=N checksum=0x... ok
 *   total insns=N cycles=N     (since reset, so start-up code is included)
 *   PASS            (or FAIL; the exit code is then non-zero) */
#include "bench.h"

enum group {
	GROUP_INT = 1,
	GROUP_MEM = 2,
	GROUP_BRANCH = 4,
	GROUP_FP = 8,
};

#ifndef BENCH_GROUPS
#define BENCH_GROUPS (GROUP_INT | GROUP_MEM | GROUP_BRANCH | GROUP_FP)
#endif

static const char *const group_names[] = { "int", "mem", "branch", "fp" };

struct kernel {
	const char *name;
	uint64_t (*run)(void); /* NULL when not built in */
	uint64_t expected;
};

/* Kernels outside BENCH_GROUPS get no function pointer, so the linker's
 * --gc-sections drops their code and buffers: a group's ELF then neither
 * loads nor zeroes (in crt0) the other groups' megabytes. */
#define IF_SELECTED(group, fn) (((BENCH_GROUPS) & (group)) ? (fn) : NULL)

/* Expected checksums, computed by the host build (cpu-bench --host-check
 * prints the actual values; update these when a kernel changes). */
static const struct kernel kernels[] = {
	{ "int.sha256", IF_SELECTED(GROUP_INT, kernel_sha256), 0xf8a8925fefcdec7bULL },
	{ "int.bytecode", IF_SELECTED(GROUP_INT, kernel_bytecode), 0x439bac3f8003c952ULL },
	{ "mem.chase", IF_SELECTED(GROUP_MEM, kernel_chase), 0xdf32ad4f37f57d02ULL },
	{ "mem.stream", IF_SELECTED(GROUP_MEM, kernel_stream), 0x214d3092185baad3ULL },
	{ "branch.lcg", IF_SELECTED(GROUP_BRANCH, kernel_lcg_branch), 0x7c2d5dab48aff0faULL },
	{ "branch.sort", IF_SELECTED(GROUP_BRANCH, kernel_sort), 0x81c41f437cd10059ULL },
	{ "fp.matmul", IF_SELECTED(GROUP_FP, kernel_matmul), 0x98beee75a9e25cc6ULL },
	{ "fp.nbody", IF_SELECTED(GROUP_FP, kernel_nbody), 0xeb5d7839b1c9c115ULL },
};

static int run_kernel(const struct kernel *k)
{
	uint64_t insn0 = read_instret(), cycle0 = read_cycle();
	uint64_t sum = k->run();
	uint64_t insns = read_instret() - insn0, cycles = read_cycle() - cycle0;
	int ok = sum == k->expected;

	out_str("kernel ");
	out_str(k->name);
	out_str(" insns=");
	out_u64(insns);
	out_str(" cycles=");
	out_u64(cycles);
	out_str(" checksum=");
	out_hex(sum);
	if (ok) {
		out_str(" ok\n");
	} else {
		out_str(" expected=");
		out_hex(k->expected);
		out_str(" MISMATCH\n");
	}
	return ok;
}

int bench_main(void)
{
	int failures = 0;

	out_str("keel cpu bench:");
	for (unsigned g = 0; g < sizeof group_names / sizeof group_names[0]; g++)
		if ((BENCH_GROUPS) & (1u << g)) {
			out_char(' ');
			out_str(group_names[g]);
		}
	out_char('\n');
	for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
		if (kernels[i].run)
			failures += !run_kernel(&kernels[i]);
	/* Counted from reset rather than from bench_main, so the total is
	 * comparable with an emulator's own instruction count. */
	out_str("total insns=");
	out_u64(read_instret());
	out_str(" cycles=");
	out_u64(read_cycle());
	out_char('\n');
	if (failures) {
		out_str("FAIL ");
		out_u64((uint64_t)failures);
		out_str(" kernel(s)\n");
		return 1;
	}
	out_str("PASS\n");
	return 0;
}
