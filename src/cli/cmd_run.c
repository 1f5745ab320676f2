/* keel run: load a guest and run it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/default_guest.h"
#include "cli/jit_options.h"
#include "cpu/jit.h"
#include "dev/disk_image.h"
#include "host/fatal_signal.h"
#include "host/host_loop.h"
#include "host/shield.h"
#include "host/sandbox.h"
#include "svc/api/api.h"
#include "svc/dirty/dirty_rounds.h"
#include "svc/evlog/evlog.h"
#include "svc/gdb/gdbstub.h"
#include "svc/migrate/migrate.h"
#include "svc/ids/ids.h"
#include "svc/record/recorder.h"
#include "svc/trace/trace.h"
#include "svc/vmi/vmi_events.h"
#include "vm/machine.h"
#include "vm/machine_state.h"
#include "vm/restore.h"
#include "vm/sealed_snapshot.h"
#include "vm/snapshot.h"
#include "vm/state_digest.h"
#include "vm/taps.h"

#define DEFAULT_RAM_MIB 256
#define DEFAULT_FIRMWARE "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
#define DEFAULT_APPEND "console=ttyS0"
/* --jit-clone-cache: what a fork-clone starts with (docs/cpu.md, "A
 * cache, never state", says why this one) */
#define CLONE_CACHE_DEFAULT "empty"

struct run_options {
	const char *bios;
	const char *kernel;
	const char *initrd;
	const char *append;
	const char *disk;
	const char *net;
	const char *trace;
	const char *api_sock; /* --api-sock PATH */
	uid_t api_allow_uid; /* --api-allow-uid UID; (uid_t)-1: keel's own uid only */
	const char *vmi_events; /* --vmi-events FILE */
	const char *ids, *ids_out; /* --ids POLICY, --ids-out FILE */
	const char *shield_rules; /* --shield RULES */
	struct shield *shield; /* its front, made before the machine */
	const char *restore; /* snapshot to resume instead of booting */
	const char *incoming; /* --incoming tcp:HOST:PORT: receive a migrating VM */
	const char *key; /* --key FILE: the migration key */
	const char *overlay; /* --overlay NEW: resume on a copy of the snapshot's overlay */
	bool trust_disk; /* --trust-disk: resume on a raw --disk the snapshot did not capture */
	int passphrase_fd; /* --passphrase-fd N; -1: ask on /dev/tty */
	const char *snapshot_path; /* --snapshot-at N:FILE */
	uint64_t snapshot_at;
	bool digest;
	const char *events_out; /* --events-out FILE */
	uint64_t track_dirty_ms; /* --track-dirty MS; 0: off */
	uint64_t ram_bytes;
	uint64_t max_insns;
	int gdb_port;
	bool stats;
	bool no_decode_cache;
	bool jit; /* --jit on|off */
	unsigned jit_threshold;
	bool jit_perfmap; /* --jit-perfmap */
	bool clone_keeps_cache; /* --jit-clone-cache inherit */
	bool no_sandbox; /* --no-sandbox: no seccomp filter */
	bool sandboxed; /* the filter is on already (--incoming: before the stream) */
	bool idle_sleep;
	bool time_catch_up; /* --time-catch-up on|off */
	bool entropy_seeded;
	uint64_t entropy_seed;
	uint64_t rtc_epoch_ns;
	const char *guest_name; /* --guest NAME */
	struct default_guest guest; /* filled when no kernel is given */
	/* keel record: the secure log (docs/log-format.md) */
	bool record;
	const char *log_dir;
	const char *seal_key, *sign_key;
	uint64_t checkpoint_every;
	uint64_t seal_interval_ms;
	unsigned digest_version; /* --digest-version; 0: STATE_DIGEST_VERSION */
};

#define DEFAULT_CHECKPOINT_EVERY 500000000ULL

static void record_usage(FILE *out)
{
	fputs("usage: keel record --log DIR [record options] [keel run options]\n"
	      "\n"
	      "Boot (or --restore) a guest exactly like 'keel run', and record every\n"
	      "nondeterministic input that reaches it into a tamper-evident secure log in\n"
	      "DIR (docs/log-format.md), so that 'keel replay DIR' can re-execute the\n"
	      "whole machine instruction for instruction.\n"
	      "\n"
	      "record options:\n"
	      "  --log DIR            the log directory (created; must not hold a log)\n"
	      "  --checkpoint-every N a state digest every N instructions (default 500M;\n"
	      "                       0: only at the start and the end)\n"
	      "  --seal-key FILE      the seal key from 'keel log keygen'; it is ratcheted\n"
	      "                       in place at every seal.  Default: a new key, with its\n"
	      "                       verification key in DIR/verify.key (move it offline)\n"
	      "  --sign-key FILE      also sign every seal with this Ed25519 key\n"
	      "  --seal-interval SECONDS  seal at least this often (default: the log's)\n"
	      "  --digest-version N   log state digests of an older definition (2 or 3;\n"
	      "                       default the newest, 4; docs/snapshot-format.md):\n"
	      "                       for comparing their cost and testing old logs\n"
	      "\n"
	      "A writable disk must be an overlay (--disk BASE,overlay=FILE.kov; the default\n"
	      "guest's is one): the first checkpoint freezes it, and replay reads that\n"
	      "prefix.  A raw disk must be ,readonly.  See 'keel run --help' for the rest.\n",
	      out);
}

static void run_usage(FILE *out)
{
	fputs("usage: keel run [options]\n"
	      "\n"
	      "Boot a guest.  With no --kernel, boots the default guest built by\n"
	      "guest/build (Linux + busybox initramfs + ext4 root disk).  Flags follow\n"
	      "QEMU's where the concept is the same.\n"
	      "\n"
	      "guest:\n"
	      "  --guest NAME         boot a guest guest/build made, by flavor: default\n"
	      "                       (the one used with no --kernel) or e.g. debian\n"
	      "                       (guest/build --debian); see docs/guest.md\n"
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
	      "  --disk PATH[,readonly]  a raw disk image as virtio-blk (/dev/vda), written\n"
	      "                       in place; the default guest uses an overlay over its\n"
	      "                       root disk unless --disk none\n"
	      "  --disk BASE,overlay=FILE  BASE read-only under the copy-on-write overlay\n"
	      "                       FILE (made if missing; see 'keel disk --help')\n"
	      "  --disk FILE.kov      an overlay, over the base its header names\n"
	      "  --net user[,hostfwd=tcp:[HOSTIP]:HOSTPORT-[GUESTIP]:GUESTPORT]...[,ipv6=off]\n"
	      "                       user-mode networking (libslirp): DHCP, DNS, NAT to the\n"
	      "                       host, and forwards from host ports into the guest\n"
	      "  --net none           a network card with nothing behind it (frames sent\n"
	      "                       are dropped, none arrive)\n"
	      "\n"
	      "time and entropy (both cross the event boundary):\n"
	      "  --idle-sleep on|off  while the guest idles, sleep so guest time keeps pace\n"
	      "                       with wall time (on, default) or skip idle time (off)\n"
	      "  --time-catch-up on|off  with --idle-sleep on: when a busy guest's clock\n"
	      "                       falls 20 ms behind wall time, move it to now (on,\n"
	      "                       default); off lets a busy guest's clock run at\n"
	      "                       instructions / 1000M, behind wall time (keel runs\n"
	      "                       slower than that), until the guest next idles\n"
	      "  --entropy-seed N     feed the guest's RNG from a reproducible stream seeded\n"
	      "                       with N instead of the host's getrandom()\n"
	      "  --rtc-epoch SECONDS  the RTC's time at boot (default: the host's clock)\n"
	      "\n"
	      "state (docs/snapshot-format.md):\n"
	      "  --restore FILE       resume the snapshot FILE instead of booting; give the\n"
	      "                       same -m, --bios none and --net as the saved VM (and\n"
	      "                       its --rtc-epoch, if any); an overlay disk is reopened\n"
	      "                       from the snapshot; --entropy-seed N switches the\n"
	      "                       guest's entropy to N's stream (kept where it was if\n"
	      "                       it already drew from it); --kernel, --initrd and\n"
	      "                       --bios FILE are refused\n"
	      "  --overlay NEW        with --restore: resume on NEW, a copy of the overlay as\n"
	      "                       it was at the snapshot (needed once the saved VM has\n"
	      "                       written on)\n"
	      "  --trust-disk         with --restore of a VM whose disk was a raw image (not\n"
	      "                       captured by the snapshot): resume on --disk PATH anyway\n"
	      "  --passphrase-fd N    read an encrypted snapshot's passphrase from fd N (one\n"
	      "                       line) instead of asking on the terminal\n"
	      "  --snapshot-at N:FILE save a snapshot when the instruction count reaches N,\n"
	      "                       then keep running\n"
	      "  --digest             print the state digest and instruction count at exit\n"
	      "\n"
	      "migration (docs/migrate.md):\n"
	      "  --incoming tcp:HOST:PORT  wait there for a VM that 'keel ctl migrate' sends,\n"
	      "                       then run it; give the same -m and --net as the source\n"
	      "                       (forwards are this keel's own) and, for an overlay\n"
	      "                       disk, --disk BASE,overlay=NEW over the same base\n"
	      "  --key FILE           with --incoming: the key both sides hold ('keel migrate\n"
	      "                       keygen FILE')\n"
	      "\n"
	      "services:\n"
	      "  --events-out FILE    write every input that crosses the event boundary to\n"
	      "                       FILE, one JSON line each (docs/taps.md)\n"
	      "  --ids POLICY         intrusion detection from below under the policy file\n"
	      "                       POLICY (JSON; docs/ids.md): alerts as JSON lines\n"
	      "  --ids-out FILE       the alerts go to FILE ('-': stdout) instead of the\n"
	      "                       policy's \"output\" (default stderr)\n"
	      "  --shield RULES       intrusion prevention on a clone (docs/shield.md): the\n"
	      "                       --net forwards RULES names are tried request by request\n"
	      "                       on a fork-clone first; only clean ones reach this VM\n"
	      "  --track-dirty MS     track dirty pages and fetch-and-clear them every MS\n"
	      "                       ms of busy virtual time (MS million instructions), as\n"
	      "                       a migration would; --stats prints the rounds\n"
	      "\n"
	      "debugging:\n"
	      "  --max-insns N        stop with an error (exit 124) after N instructions\n"
	      "  --trace FILE         one line per instruction (see docs/trace.md)\n"
	      "  --vmi-events FILE    the guest's exec, fork, exit, open, connect and accept\n"
	      "                       calls as JSON lines, with pid, comm and resolved paths\n"
	      "                       (docs/vmi.md; '-' for stderr)\n"
	      "  --gdb PORT           wait for gdb (gdb-multiarch) on 127.0.0.1:PORT\n"
	      "  --stats              print how long loading (or --restore) took, and the\n"
	      "                       instruction count, seconds and MIPS at exit\n"
	      "  --no-decode-cache    decode and run every instruction on its own (slower;\n"
	      "                       for checking that decoded blocks change nothing)\n"
	      JIT_OPTIONS_HELP
	      "  --jit-clone-cache empty|inherit  what a fork-clone (a control-socket\n"
	      "                       clone, a --shield trial) starts with: empty caches, or\n"
	      "                       a copy of this VM's decoded blocks and translations\n"
	      "                       (default: " CLONE_CACHE_DEFAULT "); results are the same either way\n"
	      "  --no-sandbox         run without the seccomp filter that otherwise allows\n"
	      "                       only the system calls a running VM needs (docs/sandbox.md)\n"
	      "  --api-sock PATH      serve the JSON control API on a Unix socket at PATH\n"
	      "                       (see 'keel ctl --help' and docs/api.md): a socket of\n"
	      "                       mode 0600 in a directory only you can write\n"
	      "  --api-allow-uid UID  also serve this user's processes (default: only\n"
	      "                       processes of keel's own uid, checked by SO_PEERCRED)\n"
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
	OPT_BIOS = 256, OPT_GUEST, OPT_KERNEL, OPT_INITRD, OPT_APPEND, OPT_MAX_INSNS, OPT_TRACE, OPT_GDB,
	OPT_STATS, OPT_IDLE_SLEEP, OPT_ENTROPY_SEED, OPT_RTC_EPOCH, OPT_DISK, OPT_NET,
	OPT_RESTORE, OPT_SNAPSHOT_AT, OPT_DIGEST, OPT_NO_SANDBOX, OPT_API_ALLOW_UID, OPT_API_SOCK,
	OPT_VMI_EVENTS, OPT_IDS, OPT_IDS_OUT, OPT_PASSPHRASE_FD, OPT_OVERLAY, OPT_TRUST_DISK,
	OPT_NO_DECODE_CACHE, OPT_JIT, OPT_JIT_THRESHOLD, OPT_JIT_PERFMAP, OPT_JIT_CLONE_CACHE,
	OPT_EVENTS_OUT, OPT_TRACK_DIRTY, OPT_INCOMING, OPT_KEY,
	OPT_TIME_CATCH_UP, OPT_SHIELD, OPT_LOG, OPT_CHECKPOINT_EVERY, OPT_SEAL_KEY, OPT_SIGN_KEY,
	OPT_SEAL_INTERVAL, OPT_DIGEST_VERSION,
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

/* Options only `keel record` takes. */
static int parse_record_option(int c, const char *arg, struct run_options *o)
{
	uint64_t v;
	if (!o->record && c >= OPT_LOG && c <= OPT_DIGEST_VERSION) {
		fprintf(stderr, "keel run: that option belongs to 'keel record'\n");
		return -1;
	}
	switch (c) {
	case OPT_LOG: o->log_dir = arg; return 0;
	case OPT_SEAL_KEY: o->seal_key = arg; return 0;
	case OPT_SIGN_KEY: o->sign_key = arg; return 0;
	case OPT_CHECKPOINT_EVERY:
		return parse_u64(arg, &o->checkpoint_every) ? bad("--checkpoint-every", arg) : 0;
	case OPT_SEAL_INTERVAL:
		if (parse_u64(arg, &v) || v == 0 || v > UINT64_MAX / 1000)
			return bad("--seal-interval", arg);
		o->seal_interval_ms = v * 1000;
		return 0;
	case OPT_DIGEST_VERSION:
		if (parse_u64(arg, &v) || v < 2 || v > STATE_DIGEST_VERSION)
			return bad("--digest-version", arg);
		o->digest_version = (unsigned)v;
		return 0;
	default:
		(o->record ? record_usage : run_usage)(stderr);
		return -1;
	}
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
	case OPT_GUEST: o->guest_name = arg; return 0;
	case OPT_DISK: o->disk = arg; return 0;
	case OPT_RESTORE: o->restore = arg; return 0;
	case OPT_OVERLAY: o->overlay = arg; return 0;
	case OPT_TRUST_DISK: o->trust_disk = true; return 0;
	case OPT_PASSPHRASE_FD:
		if (parse_u64(arg, &v) || v > INT_MAX)
			return bad("--passphrase-fd", arg);
		o->passphrase_fd = (int)v;
		return 0;
	case OPT_DIGEST: o->digest = true; return 0;
	case OPT_NO_SANDBOX: o->no_sandbox = true; return 0;
	case OPT_API_ALLOW_UID:
		if (parse_u64(arg, &v) || v >= (uid_t)-1)
			return bad("--api-allow-uid", arg);
		o->api_allow_uid = (uid_t)v;
		return 0;
	case OPT_EVENTS_OUT: o->events_out = arg; return 0;
	case OPT_TRACK_DIRTY:
		if (parse_u64(arg, &o->track_dirty_ms) || !o->track_dirty_ms ||
		    o->track_dirty_ms > 1000000000)
			return bad("--track-dirty (milliseconds)", arg);
		return 0;
	case OPT_SNAPSHOT_AT:
		return parse_snapshot_at(arg, o) ? bad("--snapshot-at (N:FILE)", arg) : 0;
	case OPT_NET: o->net = arg; return 0;
	case OPT_TRACE: o->trace = arg; return 0;
	case OPT_STATS: o->stats = true; return 0;
	case OPT_NO_DECODE_CACHE: o->no_decode_cache = true; return 0;
	case OPT_JIT_PERFMAP: o->jit_perfmap = true; return 0;
	case OPT_JIT:
	case OPT_JIT_THRESHOLD:
		return jit_option("keel run", c == OPT_JIT_THRESHOLD, arg, &o->jit, &o->jit_threshold);
	case OPT_JIT_CLONE_CACHE:
		if (strcmp(arg, "empty") && strcmp(arg, "inherit"))
			return bad("--jit-clone-cache (empty or inherit)", arg);
		o->clone_keeps_cache = !strcmp(arg, "inherit");
		return 0;
	case OPT_API_SOCK: o->api_sock = arg; return 0;
	case OPT_INCOMING: o->incoming = arg; return 0;
	case OPT_KEY: o->key = arg; return 0;
	case OPT_VMI_EVENTS: o->vmi_events = arg; return 0;
	case OPT_IDS: o->ids = arg; return 0;
	case OPT_IDS_OUT: o->ids_out = arg; return 0;
	case OPT_SHIELD: o->shield_rules = arg; return 0;
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
	case OPT_TIME_CATCH_UP:
		if (strcmp(arg, "on") && strcmp(arg, "off"))
			return bad("--time-catch-up (on or off)", arg);
		o->time_catch_up = !strcmp(arg, "on");
		return 0;
	case OPT_ENTROPY_SEED:
		o->entropy_seeded = true;
		return parse_u64(arg, &o->entropy_seed) ? bad("--entropy-seed", arg) : 0;
	case OPT_RTC_EPOCH:
		if (parse_u64(arg, &v) || v == 0 || v > UINT64_MAX / 1000000000ULL)
			return bad("--rtc-epoch", arg);
		o->rtc_epoch_ns = v * 1000000000ULL;
		return 0;
	default: return parse_record_option(c, arg, o);
	}
}

static bool bare_metal(const struct run_options *o)
{
	return o->bios && !strcmp(o->bios, "none");
}

/* What recording cannot capture is refused up front, so no log is ever
 * made that replay could not follow. */
static int check_record_options(const struct run_options *o)
{
	const char *why = NULL;
	if (!o->log_dir)
		why = "needs --log DIR";
	else if (bare_metal(o) || o->trace || o->gdb_port)
		why = "needs the virt board, without --trace or --gdb";
	if (why)
		fprintf(stderr, "keel record: %s\n", why);
	return why ? -1 : 0;
}

/* With --restore, every option either takes effect or is refused; none
 * is silently ignored.
 * - Must match the saved VM, else refused: -m, --bios none and --net's
 *   presence (the snapshot's CONF section), --rtc-epoch (the RTC's time is
 *   guest state; machine_restore compares), --snapshot-at N (not before
 *   the snapshot's instruction count; run_or_record).
 * - Choose the disk and open the file: --disk with --trust-disk,
 *   --overlay, --passphrase-fd.
 * - Change guest-visible state through the event boundary, so a snapshot
 *   or recording taken after holds it: --entropy-seed (events_seed_entropy).
 * - Act on the host side as after a boot: --append's console= (which
 *   console device gets input), --net's forwards, --idle-sleep,
 *   --time-catch-up (their time adjustments cross the boundary),
 *   --max-insns, --digest, --trace, --gdb, --stats, --no-decode-cache,
 *   --events-out, --api-sock and the record options.
 * - Refused here: what only a boot reads (the firmware, kernel and initrd
 *   are in the saved RAM). */
static int check_restore_options(const struct run_options *o)
{
	const char *opt = o->kernel ? "--kernel" : o->initrd ? "--initrd"
		: (o->bios && strcmp(o->bios, "none")) ? "--bios FILE" : NULL;
	if (!opt)
		return 0;
	fprintf(stderr, "keel run: --restore resumes a saved VM; it takes no %s (the firmware, "
			"kernel and initrd are in the saved RAM)\n", opt);
	return -1;
}

static int parse_options(int argc, char **argv, struct run_options *o, bool record)
{
	static const struct option longopts[] = {
		{"bios", required_argument, NULL, OPT_BIOS},
		{"kernel", required_argument, NULL, OPT_KERNEL},
		{"initrd", required_argument, NULL, OPT_INITRD},
		{"append", required_argument, NULL, OPT_APPEND},
		{"guest", required_argument, NULL, OPT_GUEST},
		{"disk", required_argument, NULL, OPT_DISK},
		{"net", required_argument, NULL, OPT_NET},
		{"max-insns", required_argument, NULL, OPT_MAX_INSNS},
		{"trace", required_argument, NULL, OPT_TRACE},
		{"gdb", required_argument, NULL, OPT_GDB},
		{"stats", no_argument, NULL, OPT_STATS},
		{"no-decode-cache", no_argument, NULL, OPT_NO_DECODE_CACHE},
		{"jit", required_argument, NULL, OPT_JIT},
		{"jit-threshold", required_argument, NULL, OPT_JIT_THRESHOLD},
		{"jit-perfmap", no_argument, NULL, OPT_JIT_PERFMAP},
		{"jit-clone-cache", required_argument, NULL, OPT_JIT_CLONE_CACHE},
		{"api-sock", required_argument, NULL, OPT_API_SOCK},
		{"vmi-events", required_argument, NULL, OPT_VMI_EVENTS},
		{"ids", required_argument, NULL, OPT_IDS},
		{"ids-out", required_argument, NULL, OPT_IDS_OUT},
		{"shield", required_argument, NULL, OPT_SHIELD},
		{"idle-sleep", required_argument, NULL, OPT_IDLE_SLEEP},
		{"time-catch-up", required_argument, NULL, OPT_TIME_CATCH_UP},
		{"entropy-seed", required_argument, NULL, OPT_ENTROPY_SEED},
		{"rtc-epoch", required_argument, NULL, OPT_RTC_EPOCH},
		{"restore", required_argument, NULL, OPT_RESTORE},
		{"incoming", required_argument, NULL, OPT_INCOMING},
		{"key", required_argument, NULL, OPT_KEY},
		{"passphrase-fd", required_argument, NULL, OPT_PASSPHRASE_FD},
		{"overlay", required_argument, NULL, OPT_OVERLAY},
		{"trust-disk", no_argument, NULL, OPT_TRUST_DISK},
		{"snapshot-at", required_argument, NULL, OPT_SNAPSHOT_AT},
		{"digest", no_argument, NULL, OPT_DIGEST},
		{"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
		{"api-allow-uid", required_argument, NULL, OPT_API_ALLOW_UID},
		{"events-out", required_argument, NULL, OPT_EVENTS_OUT},
		{"track-dirty", required_argument, NULL, OPT_TRACK_DIRTY},
		{"log", required_argument, NULL, OPT_LOG},
		{"checkpoint-every", required_argument, NULL, OPT_CHECKPOINT_EVERY},
		{"seal-key", required_argument, NULL, OPT_SEAL_KEY},
		{"sign-key", required_argument, NULL, OPT_SIGN_KEY},
		{"seal-interval", required_argument, NULL, OPT_SEAL_INTERVAL},
		{"digest-version", required_argument, NULL, OPT_DIGEST_VERSION},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->record = record;
	o->checkpoint_every = DEFAULT_CHECKPOINT_EVERY;
	o->idle_sleep = true;
	o->time_catch_up = true;
	o->jit = JIT_DEFAULT_ON;
	o->jit_threshold = JIT_DEFAULT_THRESHOLD;
	o->clone_keeps_cache = !strcmp(CLONE_CACHE_DEFAULT, "inherit");
	o->passphrase_fd = -1;
	o->api_allow_uid = (uid_t)-1;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "hm:", longopts, NULL)) != -1) {
		if (c == 'h') {
			(record ? record_usage : run_usage)(stdout);
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
	if ((o->passphrase_fd >= 0 || o->overlay || o->trust_disk) && !o->restore) {
		fprintf(stderr, "keel run: --passphrase-fd, --overlay and --trust-disk only apply "
				"to --restore\n");
		return -1;
	}
	if (!o->incoming != !o->key) {
		fprintf(stderr, "keel run: --incoming and --key FILE go together\n");
		return -1;
	}
	if (o->incoming && (o->restore || o->kernel || o->initrd || bare_metal(o) || o->gdb_port ||
			    o->trace || o->record)) {
		fprintf(stderr, "keel run: --incoming receives a running VM: no --restore, --kernel, "
				"--initrd, --bios none, --gdb, --trace or record\n");
		return -1;
	}
	if (o->restore && check_restore_options(o))
		return -1;
	if (bare_metal(o) && !o->kernel && !o->restore) {
		fprintf(stderr, "keel run: --bios none needs --kernel ELF\n");
		return -1;
	}
	if (o->guest_name && (o->kernel || o->restore || o->incoming)) {
		fprintf(stderr, "keel run: --guest names a whole guest; it takes no --kernel, "
				"--restore or --incoming\n");
		return -1;
	}
	if (!o->kernel && !o->restore && !o->incoming) {
		if (default_guest_find(&o->guest, o->guest_name))
			return -1;
		o->kernel = o->guest.kernel;
		if (!o->initrd)
			o->initrd = o->guest.initrd;
	}
	if (o->shield_rules && (bare_metal(o) || o->trace || o->gdb_port)) {
		fprintf(stderr, "keel run: --shield needs the virt board, without --trace or --gdb\n");
		return -1;
	}
	if (o->api_sock && (bare_metal(o) || o->trace || o->gdb_port)) {
		fprintf(stderr, "keel run: --api-sock needs the virt board, without --trace or --gdb\n");
		return -1;
	}
	if (o->track_dirty_ms && o->gdb_port) {
		fprintf(stderr, "keel run: --track-dirty does not run under --gdb\n");
		return -1;
	}
	if (o->disk && !strcmp(o->disk, "none"))
		o->disk = NULL;
	else if (!o->disk && o->guest.disk[0]) /* the guest has a root disk */
		o->disk = o->guest.disk;
	if (!o->bios)
		o->bios = DEFAULT_FIRMWARE;
	if (!o->append && o->guest.append[0])
		o->append = o->guest.append;
	if (!o->append)
		o->append = DEFAULT_APPEND;
	return record ? check_record_options(o) : 0;
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
	const struct boot_config bc = {o->bios, o->kernel, o->initrd, o->append};
	int rc = m->cfg.board == BOARD_BARE ? machine_load_elf(m, o->kernel, err, sizeof(err))
					    : machine_load_boot_files(m, &bc, err, sizeof(err));
	if (rc)
		fprintf(stderr, "keel run: %s\n", err);
	return rc;
}

static int save_snapshot(struct machine *m, const char *path)
{
	char err[PATH_MAX + 512];
	int rc = snapshot_save_file(m, path, err, sizeof(err));
	if (rc)
		fprintf(stderr, "keel run: snapshot %s\n", err);
	return rc;
}

/* Set-up is over (files open, sockets listening, the log started): from
 * here on only what the run loop, the services and clones need.  The
 * KEEL_TEST_FORBIDDEN_SYSCALL environment variable makes keel break the
 * rules right after, so that the tests can see a forbidden call stopped. */
static int enter_sandbox(const struct run_options *o)
{
	if (o->no_sandbox || o->sandboxed)
		return 0;
	char err[256];
	if (sandbox_enter(err, sizeof(err))) {
		fprintf(stderr, "keel run: %s (--no-sandbox runs without it)\n", err);
		return -1;
	}
	if (getenv("KEEL_TEST_FORBIDDEN_SYSCALL")) {
		char *const argv[] = {"/bin/true", NULL};
		execve(argv[0], argv, environ);
	}
	return 0;
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
	bool pending = o->snapshot_path && taps_icount(m) <= o->snapshot_at &&
		       (!limit || o->snapshot_at < limit);
	/* The stop point's owner is the options: nothing else adds one with
	 * that opaque. */
	if (pending && taps_stop_at(m, o->snapshot_at, NULL, (void *)o))
		return STOP_NONE;
	for (;;) {
		enum stop_reason why = run_slices(m, loop);
		if (why != STOP_AT)
			return why;
		if (!pending || taps_icount(m) != o->snapshot_at)
			continue; /* not ours */
		pending = false;
		/* A fork-clone reaches N too; the file is its parent's to write. */
		bool clone = loop && loop->is_clone;
		if (!clone && save_snapshot(m, o->snapshot_path))
			return STOP_NONE;
	}
}

/* What replay needs to rebuild this machine (LOG_REC_SESSION_START). */
static char *session_json(const struct machine *m, const struct run_options *o)
{
	json_t *j = json_pack("{s:s, s:I, s:s?, s:b, s:b, s:I, s:s?, s:s?, s:i}", "keel", KEEL_VERSION,
			      "ram_size", (json_int_t)m->ram_size, "disk", o->disk, "net",
			      m->has_net, "console_virtio", m->cfg.console_input_virtio,
			      "checkpoint_every", (json_int_t)o->checkpoint_every, "kernel",
			      o->kernel, "restore", o->restore, "digest", (int)state_digest_version(m));
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

/* The first checkpoint must capture the disk: an overlay (frozen by its
 * length) or a read-only image, never a raw image written in place. */
static bool disk_recordable(const struct machine *m)
{
	struct disk_identity id;
	machine_disk_identity(m, &id);
	if (!disk_identity_in_place(&id))
		return true;
	fprintf(stderr, "keel record: %s is a raw disk written in place, which the log cannot "
			"capture: use an overlay (--disk %s,overlay=FILE.kov) or ,readonly\n",
		id.path, id.path);
	return false;
}

static int start_recording(struct recorder *rec, struct machine *m, const struct run_options *o)
{
	rec->log = NULL;
	if (!disk_recordable(m))
		return -1;
	if (o->digest_version)
		state_digest_set_version(m, o->digest_version); /* checked when parsed */
	char err[1024], *json = session_json(m, o);
	struct recorder_options ro = {
		.dir = o->log_dir,
		.seal_key = o->seal_key,
		.sign_key = o->sign_key,
		.checkpoint_every = o->checkpoint_every,
		.seal_interval_ms = o->seal_interval_ms,
		.session_json = json,
	};
	int rc = json ? recorder_start(rec, m, &ro, err, sizeof(err)) : -1;
	free(json);
	if (rc) {
		rec->log = NULL;
		fprintf(stderr, "keel record: %s\n", json ? err : "out of memory");
		return -1;
	}
	fprintf(stderr, "keel record: logging to %s (checkpoint every %" PRIu64 " instructions)\n",
		o->log_dir, o->checkpoint_every);
	return 0;
}

static enum stop_reason finish_recording(struct recorder *rec, enum stop_reason why)
{
	static const char *names[] = {
		[STOP_EXIT] = "exit", [STOP_MAX_INSNS] = "max-insns",
		[STOP_WFI_IDLE] = "wfi-idle", [STOP_TRAP_LOOP] = "trap-loop",
	};
	const char *reason = why < sizeof(names) / sizeof(names[0]) && names[why] ? names[why] : "stopped";
	char err[1024];
	if (recorder_finish(rec, reason, err, sizeof(err))) {
		fprintf(stderr, "keel record: %s\n", err);
		return STOP_NONE;
	}
	fprintf(stderr, "keel record: %" PRIu64 " checkpoints, log closed (CPU: first checkpoint "
			"%.2f s, digests %.2f s)\n", rec->digests, rec->checkpoint_cpu_s,
		rec->digest_cpu_s);
	return why;
}

static enum stop_reason run_guest_loop(struct machine *m, const struct run_options *o,
				       struct host_loop **loop_out, struct mig_postcopy *pc)
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
		return enter_sandbox(o) ? STOP_NONE : run_with_snapshot(m, o, NULL);
	struct api_server api;
	if (o->api_sock) {
		char err[512];
		if (api_server_open(&api, o->api_sock, o->api_allow_uid, err, sizeof(err))) {
			fprintf(stderr, "keel run: --api-sock %s\n", err);
			return STOP_NONE;
		}
	}
	struct host_loop loop;
	host_loop_init(&loop, m, o->idle_sleep);
	*loop_out = &loop;
	loop.catch_up = o->idle_sleep && o->time_catch_up;
	loop.api = o->api_sock ? &api : NULL;
	loop.shield = o->shield;
	if (pc) { /* the pages still on the source come between slices */
		loop.svc_poll = mig_postcopy_poll;
		loop.svc_opaque = pc;
		loop.svc_fd = mig_postcopy_fd(pc);
		mig_postcopy_on_lost(pc, fatal_exit);
	}
	m->cfg.console_write = host_loop_console_write;
	m->cfg.console_opaque = &loop;
	struct recorder rec;
	enum stop_reason why = STOP_NONE;
	if ((!o->record || start_recording(&rec, m, o) == 0) && enter_sandbox(o) == 0) {
		if (o->incoming)
			mig_trace("destination", "first-slice");
		why = run_with_snapshot(m, o, &loop);
	}
	/* A clone (src/host/clone.c) returns here too: the log is the parent's,
	 * and its descriptors are gone, so the clone leaves it alone. */
	if (o->record && rec.log && !loop.is_clone)
		why = finish_recording(&rec, why);
	if (o->stats)
		fprintf(stderr, "keel: stats: host slices=%" PRIu64 " polls=%" PRIu64 "\n",
			loop.slices, loop.polls);
	host_loop_close(&loop);
	*loop_out = NULL;
	if (o->api_sock)
		api_server_close(&api);
	return why;
}

/* The detector's "pause": with a control socket the VM waits paused for
 * 'keel ctl' (inspect, snapshot, resume); without one the run ends. */
struct ids_pause {
	struct machine *m;
	struct host_loop *loop;
};

static void ids_pause(void *opaque)
{
	struct ids_pause *p = opaque;
	if (p->loop && p->loop->api) {
		p->loop->actions.paused = true;
		fprintf(stderr, "keel: paused by the intrusion detector ('keel ctl resume' goes on)\n");
	} else {
		fprintf(stderr, "keel: stopped by the intrusion detector (response pause, no --api-sock)\n");
		taps_request_exit(p->m, 3);
	}
}

/* The detector's "clone": the host loop forks a paused clone at its next
 * turn, as for the control socket's "clone" but with no client to reply
 * to; the outcome goes back to the detector's response line. */
struct ids_clone {
	struct ids *d;
	unsigned long alert;
	char sock[108];
};

static void ids_clone_result(void *opaque, const struct clone_result *r, bool ok)
{
	struct ids_clone *c = opaque;
	ids_clone_done(c->d, c->alert, r->pid, c->sock, r->icount, ok ? NULL : r->err);
	free(c);
}

static int ids_clone(void *opaque, struct ids *d, unsigned long alert, const char *sock,
		     const char *console, char *err, size_t errlen)
{
	struct ids_pause *p = opaque;
	struct api_actions *a = p->loop ? &p->loop->actions : NULL;
	struct ids_clone *c = NULL;
	if (!a || !p->loop->api)
		snprintf(err, errlen, "no control socket (--api-sock) to serve a clone on");
	else if (a->clone_pending)
		snprintf(err, errlen, "another clone is being made");
	else if (strlen(sock) >= sizeof(a->clone.sock) || strlen(console) >= sizeof(a->clone.console))
		snprintf(err, errlen, "%s: path too long", sock);
	else if (!(c = calloc(1, sizeof(*c))))
		snprintf(err, errlen, "out of memory");
	if (!c)
		return -1;
	*c = (struct ids_clone){d, alert, ""};
	snprintf(c->sock, sizeof(c->sock), "%s", sock);
	memset(&a->clone, 0, sizeof(a->clone));
	snprintf(a->clone.sock, sizeof(a->clone.sock), "%s", sock);
	snprintf(a->clone.console, sizeof(a->clone.console), "%s", console);
	a->clone_pending = true;
	a->clone_paused = true;
	a->clone_done = ids_clone_result;
	a->clone_done_opaque = c;
	return 0;
}

/* The detector under --ids, or NULL (with *failed set on an error). */
static struct ids *open_ids(struct machine *m, const struct run_options *o,
			    struct ids_pause *pause, bool *failed)
{
	char err[1024];
	struct ids_policy *p = ids_policy_load(o->ids, err, sizeof(err));
	if (p && o->record && ids_policy_changes_guest(p)) {
		snprintf(err, sizeof(err), "%s: response kill changes the guest outside the log, "
			 "so the recording could not be replayed: not with keel record", o->ids);
		ids_policy_free(p);
		p = NULL;
	}
	if (p && !o->api_sock && ids_policy_clones(p)) {
		snprintf(err, sizeof(err), "%s: response clone needs --api-sock (the clone is served "
			 "on a control socket of its own)", o->ids);
		ids_policy_free(p);
		p = NULL;
	}
	struct ids_options io = {.out = o->ids_out, .responses = true, .pause = ids_pause,
				 .pause_opaque = pause, .clone = ids_clone, .clone_opaque = pause};
	struct ids *d = p ? ids_start(m, p, &io, err, sizeof(err)) : NULL;
	if (!d) {
		fprintf(stderr, "keel %s: --ids %s\n", o->record ? "record" : "run", err);
		*failed = true;
	}
	return d;
}

/* The guest's system calls as JSON lines (--vmi-events), or NULL. */
static struct vmi_events *open_vmi_events(struct machine *m, const char *path, FILE **out,
					  bool *failed)
{
	char err[512];
	struct vmi_options vo = {0};
	struct vmi_events *ev = NULL;
	*out = strcmp(path, "-") ? fopen(path, "w") : stderr;
	if (!*out || !(ev = vmi_events_start(m, *out, &vo, err, sizeof(err)))) {
		fprintf(stderr, "keel run: --vmi-events %s: %s\n", path, *out ? err : strerror(errno));
		if (*out && *out != stderr)
			fclose(*out);
		*failed = true;
	}
	return ev;
}

/* The services that watch the run (--events-out, --track-dirty, --vmi-events)
 * around it. */
static enum stop_reason run_guest(struct machine *m, const struct run_options *o,
				   struct mig_postcopy *pc)
{
	struct event_log evlog = {0};
	struct dirty_rounds dirty = {0};
	char err[512];
	if (o->events_out && event_log_open(&evlog, m, o->events_out, err, sizeof(err))) {
		fprintf(stderr, "keel run: --events-out %s\n", err);
		return STOP_NONE;
	}
	if (o->track_dirty_ms && dirty_rounds_start(&dirty, m, o->track_dirty_ms, err, sizeof(err))) {
		fprintf(stderr, "keel run: --track-dirty: %s\n", err);
		event_log_close(&evlog, err, sizeof(err));
		return STOP_NONE;
	}
	bool failed = false;
	FILE *ev_out = NULL;
	struct vmi_events *ev = o->vmi_events ? open_vmi_events(m, o->vmi_events, &ev_out, &failed)
					      : NULL;
	struct ids_pause pause = {m, NULL};
	struct ids *ids = o->ids && !failed ? open_ids(m, o, &pause, &failed) : NULL;
	enum stop_reason why = failed ? STOP_NONE : run_guest_loop(m, o, &pause.loop, pc);
	ids_stop(ids);
	if (o->track_dirty_ms && o->stats)
		fprintf(stderr, "keel: stats: dirty rounds=%" PRIu64 " pages=%" PRIu64 " max=%" PRIu64 "\n",
			dirty.rounds, dirty.pages, dirty.max_pages);
	dirty_rounds_stop(&dirty);
	if (ev) {
		vmi_events_stop(ev);
		if (ev_out != stderr)
			fclose(ev_out);
	}
	if (event_log_close(&evlog, err, sizeof(err))) {
		fprintf(stderr, "keel run: --events-out %s: %s\n", o->events_out, err);
		why = STOP_NONE;
	}
	return why;
}

/* A sealed snapshot's passphrase: from --passphrase-fd, else asked for on
 * the terminal. */
static int ask_passphrase(void *opaque, const char *path, char *buf, size_t cap, size_t *len,
			  char *err, size_t errlen)
{
	const struct run_options *o = opaque;
	char prompt[PATH_MAX + 32];
	snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", path);
	return sealed_read_passphrase(o->passphrase_fd, prompt, buf, cap, len, err, errlen);
}

/* --restore: the machine the snapshot saved (vm/restore.h). */
static struct machine *restore_guest(const struct run_options *o, const struct machine_config *cfg)
{
	const struct restore_request rq = {
		.disk_mode = RESTORE_DISK_RESUME,
		.overlay = o->overlay,
		.raw_disk = o->trust_disk ? o->disk : NULL,
		.disk_given = o->disk != NULL,
		.reseed = o->entropy_seeded,
		.entropy_seed = o->entropy_seed,
		.rtc_epoch_ns = o->rtc_epoch_ns,
		.passphrase = ask_passphrase,
		.passphrase_opaque = (void *)o,
	};
	char err[PATH_MAX + 1024];
	struct machine *m = machine_restore_file(cfg, o->restore, &rq, err, sizeof(err));
	if (!m)
		fprintf(stderr, "keel run: %s\n", err);
	return m;
}

/* A new machine with the guest's files loaded. */
static struct machine *boot_guest(const struct run_options *o, const struct machine_config *cfg)
{
	char err[PATH_MAX + 512] = "out of memory";
	struct machine *m = calloc(1, sizeof(*m));
	/* machine_init owns the disk once called, even when it fails. */
	if (!m || machine_init(m, cfg, err, sizeof(err))) {
		fprintf(stderr, "keel run: %s\n", err);
		free(m);
		return NULL;
	}
	if (load_guest(m, o) == 0)
		return m;
	machine_free(m);
	free(m);
	return NULL;
}

static int run_incoming(const struct run_options *o, const struct machine_config *cfg);
static int run_machine(struct machine *m, const struct run_options *o, struct mig_postcopy *pc);

static int run_configured(struct run_options *o, bool record);

static int run_or_record(int argc, char **argv, bool record)
{
	struct run_options o;
	int rc = parse_options(argc, argv, &o, record);
	if (rc)
		return rc > 0 ? 0 : 1;
	char *shield_net = NULL;
	if (o.shield_rules) {
		char err[2048] = "";
		o.shield = shield_open(o.shield_rules, o.net, &shield_net, err, sizeof(err));
		if (!o.shield) {
			fprintf(stderr, "keel %s: %s\n", record ? "record" : "run", err);
			return 1;
		}
		o.net = shield_net;
	}
	rc = run_configured(&o, record);
	shield_close(o.shield); /* nothing in a clone: the front is its parent's */
	free(shield_net);
	return rc;
}

static int run_configured(struct run_options *o_, bool record)
{
	struct run_options o = *o_;
	int rc;
	struct machine_config cfg = {
		.board = bare_metal(&o) ? BOARD_BARE : BOARD_VIRT,
		.ram_size = o.ram_bytes,
		.entropy_seeded = o.entropy_seeded,
		.entropy_seed = o.entropy_seed,
		.rtc_epoch_ns = o.rtc_epoch_ns,
		/* Debugging runs step the machine; they cannot pace it. */
		.idle_skip = !o.idle_sleep || o.trace || o.gdb_port,
		.no_decode_cache = o.no_decode_cache,
		.jit = o.jit,
		.jit_threshold = o.jit_threshold,
		.jit_perfmap = o.jit_perfmap,
		.clone_keeps_cache = o.clone_keeps_cache,
		.console_write = stdout_write,
		.disk = o.disk,
		.net = o.net,
		.console_input_virtio = strstr(o.append, "console=hvc") != NULL,
	};
	if (o.incoming)
		return run_incoming(&o, &cfg);
	double t_load = now_seconds();
	struct machine *m = o.restore ? restore_guest(&o, &cfg) : boot_guest(&o, &cfg);
	if (!m)
		return 1;
	if (m->has_blk && disk_image_note(m->blk.disk)[0])
		fprintf(stderr, "keel run: %s\n", disk_image_note(m->blk.disk));
	rc = 0;
	if (o.restore && o.snapshot_path && o.snapshot_at < taps_icount(m)) {
		fprintf(stderr, "keel run: --snapshot-at %" PRIu64 " is before the snapshot's "
				"instruction count %" PRIu64 "\n", o.snapshot_at, taps_icount(m));
		rc = -1;
	}
	if (o.snapshot_path && o.max_insns && o.snapshot_at >= o.max_insns) {
		/* The run would end first and the snapshot never be written. */
		fprintf(stderr, "keel run: --snapshot-at %" PRIu64 " is not before --max-insns' end "
				"at instruction count %" PRIu64 "\n", o.snapshot_at, o.max_insns);
		rc = -1;
	}
	if (rc == 0 && o.stats)
		fprintf(stderr, "keel: stats: %s in %.1f ms\n", o.restore ? "restored" : "loaded",
			(now_seconds() - t_load) * 1e3);
	return rc == 0 ? run_machine(m, &o, NULL) : (machine_free(m), free(m), 1);
}

/* keel run --incoming: wait for a migrating VM, then run it like any
 * other; its console, socket and forwards are this keel's.  The stream
 * comes from the network and is parsed (decrypted, decompressed, decoded
 * into a machine) under the seccomp filter: the key is read first, and
 * everything the receiving needs (a listening socket, the disk, a base
 * image that arrives) is allowed by it.  The debugging runs (--gdb,
 * --trace) go without it, as they do anyway. */
static int run_incoming(const struct run_options *o_, const struct machine_config *cfg)
{
	struct run_options in = *o_;
	const struct run_options *o = &in;
	uint8_t key[MIG_KEY_BYTES];
	char err[PATH_MAX + 512];
	struct machine *m = NULL;
	struct mig_postcopy *pc = NULL;
	int rc = mig_key_load(o->key, key, err, sizeof(err));
	if (rc == 0 && !o->gdb_port && !o->trace) {
		if (enter_sandbox(o)) {
			sodium_memzero(key, sizeof(key));
			return 1;
		}
		in.sandboxed = true;
	}
	if (rc == 0)
		rc = mig_receive(o->incoming, key, cfg, MIG_DEFAULT_TIMEOUT_MS, &m, &pc, err,
				 sizeof(err));
	sodium_memzero(key, sizeof(key));
	if (rc) {
		fprintf(stderr, "keel run: %s\n", err);
		return 1;
	}
	return run_machine(m, o, pc);
}

/* Run a loaded (booted, restored or received) machine to its end; frees
 * it, and ends a post-copy still under way (pc: NULL if none). */
static int run_machine(struct machine *m, const struct run_options *o, struct mig_postcopy *pc)
{
	m->max_insns = o->max_insns;
	int status;
	double t0 = now_seconds();
	if (o->gdb_port)
		status = gdbstub_serve(m, o->gdb_port) ? 1 : (m->exited ? exit_status(m, STOP_EXIT) : 0);
	else
		status = exit_status(m, run_guest(m, o, pc));
	if (o->digest) {
		char hex[65];
		state_digest_hex(m, hex);
		fprintf(stderr, "keel: digest=%s icount=%" PRIu64 "\n", hex, m->hart.icount);
	}
	if (o->stats) {
		double secs = now_seconds() - t0;
		fprintf(stderr, "keel: stats: icount=%" PRIu64 " seconds=%.3f mips=%.1f\n",
			m->hart.icount, secs, secs > 0 ? (double)m->hart.icount / secs / 1e6 : 0.0);
		const struct block_stats *bs = hart_block_stats(&m->hart);
		if (bs)
			fprintf(stderr, "keel: stats: blocks built=%" PRIu64 " stale=%" PRIu64
					" evicted=%" PRIu64 " evicted_jit=%" PRIu64 "\n",
				bs->built, bs->stale, bs->evicted, bs->evicted_jit);
		const struct jit_stats *js = hart_jit_stats(&m->hart);
		if (js)
			fprintf(stderr, "keel: stats: jit blocks=%" PRIu64 " code_bytes=%" PRIu64
					" translate_ms=%.1f flushes=%" PRIu64 "\n",
				js->blocks, js->code_bytes, (double)js->translate_ns / 1e6, js->flushes);
		if (js)
			fprintf(stderr, "keel: stats: jit exits jalr=%" PRIu64
					" same_page=%" PRIu64 " other_page=%" PRIu64
					" untranslated=%" PRIu64 " miss=%" PRIu64 " link=%" PRIu64
					" link_far=%" PRIu64 "\n",
				js->exits[JIT_EXIT_JALR], js->exits[JIT_EXIT_SAME_PAGE],
				js->exits[JIT_EXIT_OTHER_PAGE], js->exits[JIT_EXIT_UNTRANSLATED],
				js->exits[JIT_EXIT_MISS], js->exits[JIT_EXIT_LINK],
				js->exits[JIT_EXIT_LINK_FAR]);
	}
	mig_postcopy_close(pc, "the VM stopped on the destination");
	machine_free(m);
	free(m);
	return status;
}

int cmd_run(int argc, char **argv)
{
	return run_or_record(argc, argv, false);
}

int cmd_record(int argc, char **argv)
{
	return run_or_record(argc, argv, true);
}
