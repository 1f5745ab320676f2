/* keel run: load a guest and run it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "machine/elf_load.h"
#include "svc/gdb/gdbstub.h"
#include "svc/trace/trace.h"
#include "vm/machine.h"

#define DEFAULT_RAM_MIB 128

struct run_options {
	const char *bios;
	const char *kernel;
	const char *trace;
	uint64_t ram_bytes;
	uint64_t max_insns;
	int gdb_port;
	bool stats;
};

static void run_usage(FILE *out)
{
	fputs("usage: keel run [options]\n"
	      "\n"
	      "Boot a guest.  Flags follow QEMU's where the concept is the same.\n"
	      "\n"
	      "  --bios none          no firmware: start at the kernel ELF's entry in M-mode\n"
	      "                       (bare-metal programs such as the RISC-V ISA tests)\n"
	      "  --kernel FILE        RV64 ELF executable, loaded at its physical addresses;\n"
	      "                       its tohost/fromhost symbols enable HTIF (exit, console)\n"
	      "  -m SIZE              guest RAM, in MiB or with a K/M/G suffix (default 128M)\n"
	      "  --max-insns N        stop with an error (exit 124) after N instructions\n"
	      "  --trace FILE         write one line per instruction: icount, privilege, pc,\n"
	      "                       instruction, registers written (see docs/trace.md)\n"
	      "  --gdb PORT           wait for gdb (gdb-multiarch) on 127.0.0.1:PORT\n"
	      "  --stats              print instruction count, seconds and MIPS at exit\n"
	      "  -h, --help           show this help\n"
	      "\n"
	      "Exit status: the guest's HTIF exit code (0 = pass; a non-zero code whose\n"
	      "low 8 bits are zero exits 255), 124 when --max-insns is reached, 125 when\n"
	      "the hart waits forever in WFI, 1 for a usage or load error.\n",
	      out);
}

static int parse_size(const char *s, uint64_t *bytes)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || v == 0)
		return -1;
	uint64_t unit = 1ULL << 20;
	if (*end == 'K' || *end == 'k')
		unit = 1ULL << 10, end++;
	else if (*end == 'M' || *end == 'm')
		end++;
	else if (*end == 'G' || *end == 'g')
		unit = 1ULL << 30, end++;
	if (*end || v > (1ULL << 40) / unit)
		return -1;
	*bytes = v * unit;
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

enum { OPT_BIOS = 256, OPT_KERNEL, OPT_MAX_INSNS, OPT_TRACE, OPT_GDB, OPT_STATS };

static int parse_options(int argc, char **argv, struct run_options *o)
{
	static const struct option longopts[] = {
		{"bios", required_argument, NULL, OPT_BIOS},
		{"kernel", required_argument, NULL, OPT_KERNEL},
		{"max-insns", required_argument, NULL, OPT_MAX_INSNS},
		{"trace", required_argument, NULL, OPT_TRACE},
		{"gdb", required_argument, NULL, OPT_GDB},
		{"stats", no_argument, NULL, OPT_STATS},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->ram_bytes = (uint64_t)DEFAULT_RAM_MIB << 20;
	optind = 1;
	int c;
	uint64_t port;
	while ((c = getopt_long(argc, argv, "hm:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': run_usage(stdout); return 1;
		case 'm':
			if (parse_size(optarg, &o->ram_bytes)) {
				fprintf(stderr, "keel run: bad memory size '%s'\n", optarg);
				return -1;
			}
			break;
		case OPT_BIOS: o->bios = optarg; break;
		case OPT_KERNEL: o->kernel = optarg; break;
		case OPT_TRACE: o->trace = optarg; break;
		case OPT_STATS: o->stats = true; break;
		case OPT_MAX_INSNS:
			if (parse_u64(optarg, &o->max_insns) || o->max_insns == 0) {
				fprintf(stderr, "keel run: bad --max-insns '%s'\n", optarg);
				return -1;
			}
			break;
		case OPT_GDB:
			if (parse_u64(optarg, &port) || port == 0 || port > 65535) {
				fprintf(stderr, "keel run: bad --gdb port '%s'\n", optarg);
				return -1;
			}
			o->gdb_port = (int)port;
			break;
		default: run_usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "keel run: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!o->bios || strcmp(o->bios, "none") != 0) {
		fprintf(stderr, "keel run: only '--bios none' with '--kernel ELF' is supported so far\n");
		return -1;
	}
	if (!o->kernel) {
		fprintf(stderr, "keel run: --bios none needs --kernel ELF\n");
		return -1;
	}
	return 0;
}

static int exit_status(const struct machine *m, enum stop_reason why)
{
	switch (why) {
	case STOP_EXIT:
		if (m->exit_code != 0 && (m->exit_code & 0xff) == 0)
			return 255; /* never let a failure wrap around to 0 */
		return m->exit_code & 0xff;
	case STOP_MAX_INSNS:
		fprintf(stderr, "keel: stopped after --max-insns %" PRIu64 " instructions (pc=0x%" PRIx64 ")\n",
			m->max_insns, m->hart.pc);
		return 124;
	case STOP_WFI_IDLE:
		fprintf(stderr, "keel: hart waits in WFI and nothing can wake it (pc=0x%" PRIx64 ")\n",
			m->hart.pc);
		return 125;
	default:
		return 1;
	}
}

static double now_seconds(void)
{
	/* Host time for the --stats report only; never seen by the guest. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static enum stop_reason run_guest(struct machine *m, const struct run_options *o)
{
	if (!o->trace)
		return machine_run(m, 0);
	FILE *out = fopen(o->trace, "w");
	if (!out) {
		fprintf(stderr, "keel run: %s: %s\n", o->trace, strerror(errno));
		return STOP_NONE;
	}
	enum stop_reason why = trace_run(m, out);
	fclose(out);
	return why;
}

int cmd_run(int argc, char **argv)
{
	struct run_options o;
	int rc = parse_options(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : 1;
	struct machine *m = calloc(1, sizeof(*m));
	if (!m || machine_init(m, o.ram_bytes)) {
		fprintf(stderr, "keel run: cannot allocate %" PRIu64 " MiB of guest RAM\n",
			o.ram_bytes >> 20);
		free(m);
		return 1;
	}
	struct elf_image img;
	char err[512];
	if (elf_load(&m->bus, o.kernel, &img, err, sizeof(err))) {
		fprintf(stderr, "keel run: %s\n", err);
		machine_free(m);
		free(m);
		return 1;
	}
	machine_set_htif(m, img.tohost, img.fromhost);
	m->hart.pc = img.entry;
	m->max_insns = o.max_insns;

	double t0 = now_seconds();
	int status;
	if (o.gdb_port) {
		status = gdbstub_serve(m, o.gdb_port) ? 1 : (m->exited ? exit_status(m, STOP_EXIT) : 0);
	} else {
		enum stop_reason why = run_guest(m, &o);
		status = exit_status(m, why);
	}
	if (o.stats) {
		double secs = now_seconds() - t0;
		fprintf(stderr, "keel: stats: icount=%" PRIu64 " seconds=%.3f mips=%.1f\n",
			m->hart.icount, secs, secs > 0 ? (double)m->hart.icount / secs / 1e6 : 0.0);
	}
	machine_free(m);
	free(m);
	return status;
}
