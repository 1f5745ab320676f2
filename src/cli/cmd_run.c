/* keel run: load a guest and run it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/default_guest.h"
#include "machine/boot.h"
#include "machine/elf_load.h"
#include "svc/api/api.h"
#include "svc/gdb/gdbstub.h"
#include "svc/trace/trace.h"
#include "vm/host_loop.h"
#include "vm/machine.h"
#include "vm/sealed_snapshot.h"
#include "vm/snapshot.h"
#include "vm/state_digest.h"

#define DEFAULT_RAM_MIB 256
#define DEFAULT_FIRMWARE "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
#define DEFAULT_APPEND "console=ttyS0"

struct run_options {
	const char *bios;
	const char *kernel;
	const char *initrd;
	const char *append;
	const char *disk;
	const char *net;
	const char *trace;
	const char *api_sock; /* --api-sock PATH */
	const char *restore; /* snapshot to resume instead of booting */
	int passphrase_fd; /* --passphrase-fd N; -1: ask on /dev/tty */
	const char *snapshot_path; /* --snapshot-at N:FILE */
	uint64_t snapshot_at;
	bool digest;
	uint64_t ram_bytes;
	uint64_t max_insns;
	int gdb_port;
	bool stats;
	bool no_decode_cache;
	bool idle_sleep;
	bool entropy_seeded;
	uint64_t entropy_seed;
	uint64_t rtc_epoch_ns;
	struct default_guest guest; /* filled when no kernel is given */
};

static void run_usage(FILE *out)
{
	fputs("usage: keel run [options]\n"
	      "\n"
	      "Boot a guest.  With no --kernel, boots the default guest built by\n"
	      "guest/build (Linux + busybox initramfs + ext4 root disk).  Flags follow\n"
	      "QEMU's where the concept is the same.\n"
	      "\n"
	      "guest:\n"
	      "  --bios FILE|none     firmware (default: Debian's OpenSBI fw_dynamic.bin);\n"
	      "                       'none' runs --kernel as a bare-metal ELF in M-mode\n"
	      "                       (e.g. the RISC-V ISA tests), with HTIF via tohost\n"
	      "  --kernel FILE        Linux Image (or ELF) to boot; with --bios none, an ELF\n"
	      "  --initrd FILE        initial ramdisk\n"
	      "  --append ARGS        kernel command line (default '" DEFAULT_APPEND "')\n"
	      "  -m SIZE              guest RAM, MiB or with a K/M/G suffix (default 256M;\n"
	      "                       128M with --bios none)\n"
	      "\n"
	      "devices (virtio-mmio; virtio-rng and virtio-console are always present):\n"
	      "  --disk PATH[,readonly]  a raw disk image as virtio-blk (/dev/vda); the\n"
	      "                       default guest uses its root disk unless --disk none\n"
	      "  --net user[,hostfwd=tcp:[HOSTIP]:HOSTPORT-[GUESTIP]:GUESTPORT]...[,ipv6=off]\n"
	      "                       user-mode networking (libslirp): DHCP, DNS, NAT to the\n"
	      "                       host, and forwards from host ports into the guest\n"
	      "\n"
	      "time and entropy (both cross the event boundary):\n"
	      "  --idle-sleep on|off  while the guest idles, sleep so guest time keeps pace\n"
	      "                       with wall time (on, default) or skip idle time (off)\n"
	      "  --entropy-seed N     feed the guest's RNG from a reproducible stream seeded\n"
	      "                       with N instead of the host's getrandom()\n"
	      "  --rtc-epoch SECONDS  the RTC's time at boot (default: the host's clock)\n"
	      "\n"
	      "state (docs/snapshot-format.md):\n"
	      "  --restore FILE       resume the snapshot FILE instead of booting; give the\n"
	      "                       same -m, --bios none, --disk and --net as the saved VM\n"
	      "  --passphrase-fd N    read an encrypted snapshot's passphrase from fd N (one\n"
	      "                       line) instead of asking on the terminal\n"
	      "  --snapshot-at N:FILE save a snapshot when the instruction count reaches N,\n"
	      "                       then keep running\n"
	      "  --digest             print the state digest and instruction count at exit\n"
	      "\n"
	      "debugging:\n"
	      "  --max-insns N        stop with an error (exit 124) after N instructions\n"
	      "  --trace FILE         one line per instruction (see docs/trace.md)\n"
	      "  --gdb PORT           wait for gdb (gdb-multiarch) on 127.0.0.1:PORT\n"
	      "  --stats              print instruction count, seconds and MIPS at exit\n"
	      "  --no-decode-cache    decode every instruction each time it runs (slower;\n"
	      "                       for checking that the cache changes nothing)\n"
	      "  --api-sock PATH      serve the JSON control API on a Unix socket at PATH\n"
	      "                       (see 'keel ctl --help' and docs/api.md)\n"
	      "  -h, --help           show this help\n"
	      "\n"
	      "console: the UART is on the terminal in raw mode; Ctrl-a x quits and\n"
	      "Ctrl-a Ctrl-a sends Ctrl-a.  When stdin is not a terminal it is read as is.\n"
	      "\n"
	      "Exit status: the guest's exit code (poweroff: 0; HTIF: the code written to\n"
	      "tohost, a non-zero code whose low 8 bits are zero exits 255), 124 when\n"
	      "--max-insns is reached, 125 when the hart waits forever in WFI, 126 when\n"
	      "it is stuck taking traps without executing anything, 1 for a usage or\n"
	      "load error.\n",
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
	if (errno || end == s || *end || *s == '-')
		return -1;
	*out = v;
	return 0;
}

enum {
	OPT_BIOS = 256, OPT_KERNEL, OPT_INITRD, OPT_APPEND, OPT_MAX_INSNS, OPT_TRACE, OPT_GDB,
	OPT_STATS, OPT_IDLE_SLEEP, OPT_ENTROPY_SEED, OPT_RTC_EPOCH, OPT_DISK, OPT_NET,
	OPT_RESTORE, OPT_SNAPSHOT_AT, OPT_DIGEST, OPT_API_SOCK, OPT_PASSPHRASE_FD,
	OPT_NO_DECODE_CACHE,
};

/* "N:FILE" */
static int parse_snapshot_at(const char *arg, struct run_options *o)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(arg, &end, 0);
	if (errno || end == arg || *end != ':' || !end[1] || *arg == '-')
		return -1;
	o->snapshot_at = n;
	o->snapshot_path = end + 1;
	return 0;
}

static int bad(const char *what, const char *value)
{
	fprintf(stderr, "keel run: bad %s '%s'\n", what, value);
	return -1;
}

static int parse_one(int c, const char *arg, struct run_options *o)
{
	uint64_t v;
	switch (c) {
	case 'm': return parse_size(arg, &o->ram_bytes) ? bad("memory size", arg) : 0;
	case OPT_BIOS: o->bios = arg; return 0;
	case OPT_KERNEL: o->kernel = arg; return 0;
	case OPT_INITRD: o->initrd = arg; return 0;
	case OPT_APPEND: o->append = arg; return 0;
	case OPT_DISK: o->disk = arg; return 0;
	case OPT_RESTORE: o->restore = arg; return 0;
	case OPT_PASSPHRASE_FD:
		if (parse_u64(arg, &v) || v > INT_MAX)
			return bad("--passphrase-fd", arg);
		o->passphrase_fd = (int)v;
		return 0;
	case OPT_DIGEST: o->digest = true; return 0;
	case OPT_SNAPSHOT_AT:
		return parse_snapshot_at(arg, o) ? bad("--snapshot-at (N:FILE)", arg) : 0;
	case OPT_NET: o->net = arg; return 0;
	case OPT_TRACE: o->trace = arg; return 0;
	case OPT_STATS: o->stats = true; return 0;
	case OPT_NO_DECODE_CACHE: o->no_decode_cache = true; return 0;
	case OPT_API_SOCK: o->api_sock = arg; return 0;
	case OPT_MAX_INSNS:
		return parse_u64(arg, &o->max_insns) || !o->max_insns ? bad("--max-insns", arg) : 0;
	case OPT_GDB:
		if (parse_u64(arg, &v) || v == 0 || v > 65535)
			return bad("--gdb port", arg);
		o->gdb_port = (int)v;
		return 0;
	case OPT_IDLE_SLEEP:
		if (strcmp(arg, "on") && strcmp(arg, "off"))
			return bad("--idle-sleep (on or off)", arg);
		o->idle_sleep = !strcmp(arg, "on");
		return 0;
	case OPT_ENTROPY_SEED:
		o->entropy_seeded = true;
		return parse_u64(arg, &o->entropy_seed) ? bad("--entropy-seed", arg) : 0;
	case OPT_RTC_EPOCH:
		if (parse_u64(arg, &v) || v == 0 || v > UINT64_MAX / 1000000000ULL)
			return bad("--rtc-epoch", arg);
		o->rtc_epoch_ns = v * 1000000000ULL;
		return 0;
	default: run_usage(stderr); return -1;
	}
}

static bool bare_metal(const struct run_options *o)
{
	return o->bios && !strcmp(o->bios, "none");
}

static int parse_options(int argc, char **argv, struct run_options *o)
{
	static const struct option longopts[] = {
		{"bios", required_argument, NULL, OPT_BIOS},
		{"kernel", required_argument, NULL, OPT_KERNEL},
		{"initrd", required_argument, NULL, OPT_INITRD},
		{"append", required_argument, NULL, OPT_APPEND},
		{"disk", required_argument, NULL, OPT_DISK},
		{"net", required_argument, NULL, OPT_NET},
		{"max-insns", required_argument, NULL, OPT_MAX_INSNS},
		{"trace", required_argument, NULL, OPT_TRACE},
		{"gdb", required_argument, NULL, OPT_GDB},
		{"stats", no_argument, NULL, OPT_STATS},
		{"no-decode-cache", no_argument, NULL, OPT_NO_DECODE_CACHE},
		{"api-sock", required_argument, NULL, OPT_API_SOCK},
		{"idle-sleep", required_argument, NULL, OPT_IDLE_SLEEP},
		{"entropy-seed", required_argument, NULL, OPT_ENTROPY_SEED},
		{"rtc-epoch", required_argument, NULL, OPT_RTC_EPOCH},
		{"restore", required_argument, NULL, OPT_RESTORE},
		{"passphrase-fd", required_argument, NULL, OPT_PASSPHRASE_FD},
		{"snapshot-at", required_argument, NULL, OPT_SNAPSHOT_AT},
		{"digest", no_argument, NULL, OPT_DIGEST},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->idle_sleep = true;
	o->passphrase_fd = -1;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "hm:", longopts, NULL)) != -1) {
		if (c == 'h') {
			run_usage(stdout);
			return 1;
		}
		if (parse_one(c, optarg, o))
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "keel run: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!o->ram_bytes)
		o->ram_bytes = (uint64_t)(bare_metal(o) ? 128 : DEFAULT_RAM_MIB) << 20;
	if (o->passphrase_fd >= 0 && !o->restore) {
		fprintf(stderr, "keel run: --passphrase-fd only applies to --restore\n");
		return -1;
	}
	if (o->restore && o->kernel) {
		fprintf(stderr, "keel run: --restore resumes a saved VM; it takes no --kernel\n");
		return -1;
	}
	if (bare_metal(o) && !o->kernel && !o->restore) {
		fprintf(stderr, "keel run: --bios none needs --kernel ELF\n");
		return -1;
	}
	if (!o->kernel && !o->restore) {
		if (default_guest_find(&o->guest))
			return -1;
		o->kernel = o->guest.kernel;
		if (!o->initrd)
			o->initrd = o->guest.initrd;
	}
	if (o->api_sock && (bare_metal(o) || o->trace || o->gdb_port)) {
		fprintf(stderr, "keel run: --api-sock needs the virt board, without --trace or --gdb\n");
		return -1;
	}
	if (o->disk && !strcmp(o->disk, "none"))
		o->disk = NULL;
	else if (!o->disk && o->guest.dir[0])
		o->disk = o->guest.disk;
	if (!o->bios)
		o->bios = DEFAULT_FIRMWARE;
	if (!o->append)
		o->append = DEFAULT_APPEND;
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
	case STOP_TRAP_LOOP:
		fprintf(stderr, "keel: the guest is stuck in a trap loop (pc=0x%" PRIx64
				", mcause=0x%" PRIx64 ", mtval=0x%" PRIx64 "): bad firmware or kernel?\n",
			m->hart.pc, m->hart.mcause, m->hart.mtval);
		return 126;
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

static void stdout_write(void *opaque, const uint8_t *buf, size_t len)
{
	fwrite(buf, 1, len, stdout);
	fflush(stdout);
}

static int load_guest(struct machine *m, const struct run_options *o)
{
	char err[512];
	if (m->cfg.board == BOARD_BARE) {
		struct elf_image img;
		if (elf_load(&m->bus, o->kernel, &img, err, sizeof(err)))
			goto fail;
		machine_set_htif(m, img.tohost, img.fromhost);
		m->hart.pc = img.entry;
		return 0;
	}
	struct boot_config bc = {o->bios, o->kernel, o->initrd, o->append};
	if (boot_load(m, &bc, err, sizeof(err)))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "keel run: %s\n", err);
	return -1;
}

static int reload_on_reset(struct machine *m, void *opaque)
{
	return load_guest(m, opaque);
}

static int save_snapshot(struct machine *m, const char *path)
{
	char tmp[4096], err[512];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	int rc = f ? snapshot_save(m, f, err, sizeof(err)) : -1;
	if (!f)
		snprintf(err, sizeof(err), "%s", strerror(errno));
	if (f && fclose(f) && rc == 0) {
		snprintf(err, sizeof(err), "%s", strerror(errno));
		rc = -1;
	}
	if (rc == 0 && rename(tmp, path)) {
		snprintf(err, sizeof(err), "%s", strerror(errno));
		rc = -1;
	}
	if (rc) {
		unlink(tmp);
		fprintf(stderr, "keel run: snapshot %s: %s\n", path, err);
	}
	return rc;
}

/* Run with the plain loop (bare board) or the host loop (virt board). */
static enum stop_reason run_slices(struct machine *m, struct host_loop *loop)
{
	return loop ? host_loop_run(loop) : machine_run(m, 0);
}

/* Run to the end, stopping once at exactly --snapshot-at N to save. */
static enum stop_reason run_with_snapshot(struct machine *m, const struct run_options *o,
					  struct host_loop *loop)
{
	uint64_t limit = m->max_insns;
	bool pending = o->snapshot_path && m->hart.icount <= o->snapshot_at &&
		       (!limit || o->snapshot_at < limit);
	if (pending)
		m->max_insns = o->snapshot_at;
	enum stop_reason why = STOP_MAX_INSNS;
	if (!pending || m->hart.icount < o->snapshot_at)
		why = run_slices(m, loop);
	if (!pending || why != STOP_MAX_INSNS)
		return why;
	m->max_insns = limit;
	if (save_snapshot(m, o->snapshot_path))
		return STOP_NONE;
	return run_slices(m, loop);
}

static enum stop_reason run_guest(struct machine *m, const struct run_options *o)
{
	if (o->trace) {
		FILE *out = fopen(o->trace, "w");
		if (!out) {
			fprintf(stderr, "keel run: %s: %s\n", o->trace, strerror(errno));
			return STOP_NONE;
		}
		enum stop_reason why = trace_run(m, out);
		fclose(out);
		return why;
	}
	if (m->cfg.board == BOARD_BARE)
		return run_with_snapshot(m, o, NULL);
	struct api_server api;
	if (o->api_sock) {
		char err[512];
		if (api_server_open(&api, o->api_sock, err, sizeof(err))) {
			fprintf(stderr, "keel run: --api-sock %s\n", err);
			return STOP_NONE;
		}
	}
	struct host_loop loop;
	host_loop_init(&loop, m, o->idle_sleep);
	loop.api = o->api_sock ? &api : NULL;
	m->cfg.console_write = host_loop_console_write;
	m->cfg.console_opaque = &loop;
	enum stop_reason why = run_with_snapshot(m, o, &loop);
	host_loop_close(&loop);
	if (o->api_sock)
		api_server_close(&api);
	return why;
}

/* An encrypted snapshot: every byte is authenticated before anything is
 * loaded, so a wrong passphrase leaves the machine untouched. */
static int restore_sealed(struct machine *m, const char *path, int passphrase_fd)
{
	char err[512], prompt[4096 + 32], pass[SEALED_MAX_PASSPHRASE + 1];
	size_t passlen;
	snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", path);
	int rc = sealed_read_passphrase(passphrase_fd, prompt, pass, sizeof(pass), &passlen, err,
					sizeof(err));
	if (rc == 0)
		rc = sealed_snapshot_load(m, path, pass, passlen, err, sizeof(err));
	sodium_memzero(pass, sizeof(pass));
	if (rc)
		fprintf(stderr, "keel run: %s: %s\n", path, err);
	return rc;
}

static int restore_guest(struct machine *m, const char *path, int passphrase_fd)
{
	if (sealed_snapshot_is_sealed(path))
		return restore_sealed(m, path, passphrase_fd);
	char err[512];
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "keel run: %s: %s\n", path, strerror(errno));
		return -1;
	}
	int rc = snapshot_load(m, f, err, sizeof(err));
	fclose(f);
	if (rc)
		fprintf(stderr, "keel run: %s: %s\n", path, err);
	return rc;
}

int cmd_run(int argc, char **argv)
{
	struct run_options o;
	int rc = parse_options(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : 1;
	struct machine_config cfg = {
		.board = bare_metal(&o) ? BOARD_BARE : BOARD_VIRT,
		.ram_size = o.ram_bytes,
		.entropy_seeded = o.entropy_seeded,
		.entropy_seed = o.entropy_seed,
		.rtc_epoch_ns = o.rtc_epoch_ns,
		/* Debugging runs step the machine; they cannot pace it. */
		.idle_skip = !o.idle_sleep || o.trace || o.gdb_port,
		.no_decode_cache = o.no_decode_cache,
		.console_write = stdout_write,
		.disk = o.disk,
		.net = o.net,
		.console_input_virtio = strstr(o.append, "console=hvc") != NULL,
	};
	char err[512] = "out of memory";
	struct machine *m = calloc(1, sizeof(*m));
	if (!m || machine_init(m, &cfg, err, sizeof(err))) {
		fprintf(stderr, "keel run: %s\n", err);
		free(m);
		return 1;
	}
	m->max_insns = o.max_insns;
	m->on_reset = reload_on_reset;
	m->on_reset_opaque = &o;
	int status = 1;
	if ((o.restore ? restore_guest(m, o.restore, o.passphrase_fd) : load_guest(m, &o)) == 0) {
		double t0 = now_seconds();
		if (o.gdb_port)
			status = gdbstub_serve(m, o.gdb_port) ? 1 : (m->exited ? exit_status(m, STOP_EXIT) : 0);
		else
			status = exit_status(m, run_guest(m, &o));
		if (o.digest) {
			char hex[65];
			state_digest_hex(m, hex);
			fprintf(stderr, "keel: digest=%s icount=%" PRIu64 "\n", hex, m->hart.icount);
		}
		if (o.stats) {
			double secs = now_seconds() - t0;
			fprintf(stderr, "keel: stats: icount=%" PRIu64 " seconds=%.3f mips=%.1f\n",
				m->hart.icount, secs, secs > 0 ? (double)m->hart.icount / secs / 1e6 : 0.0);
		}
	}
	machine_free(m);
	free(m);
	return status;
}
