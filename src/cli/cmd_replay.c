/* keel replay: re-execute a recorded log (src/svc/replay/replay.h). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/inspect_cli.h"
#include "cli/replay_observed.h"
#include "cli/jit_options.h"
#include "cli/replay_cli.h"
#include "svc/log/log_reader.h"
#include "svc/log/log_record.h"
#include "svc/log/log_verify.h"
#include "svc/gdb/gdbstub.h"
#include "svc/replay/replay.h"
#include "svc/ids/ids.h"
#include "svc/replay/timetravel.h"
#include "svc/vmi/vmi_events.h"
#include "vm/machine.h"
#include "vm/restore.h"
#include "vm/snapshot.h"
#include "vm/state_digest.h"
#include "vm/taps.h"

enum { EXIT_DIVERGED = 3, EXIT_USAGE = 4 };

static void replay_usage(FILE *out)
{
	fputs("usage: keel replay DIR [options]\n"
	      "\n"
	      "Re-execute the machine recorded by 'keel record --log DIR': restore its first\n"
	      "checkpoint, inject every logged event at its instruction count, with no live\n"
	      "input and no network, and check every checkpoint digest.  The guest's console\n"
	      "output is written to stdout exactly as it was.  Idle time is skipped.\n"
	      "\n"
	      "The log is verified first (as 'keel log verify'): a tampered log is refused;\n"
	      "a log with an unsealed tail (e.g. after a crash) is replayed up to its last\n"
	      "seal.\n"
	      "\n"
	      "options:\n"
	      "  --key FILE           the verify key (default: DIR/verify.key, with a warning)\n"
	      "  --sign-pub FILE      also check the seals' Ed25519 signatures\n"
	      "  --until ICOUNT       stop when the instruction count reaches ICOUNT\n"
	      "  --snapshot FILE      with --until: save a snapshot there ('keel run --restore')\n"
	      "  --from FILE          start from FILE, a snapshot that 'keel replay --until N\n"
	      "                       --snapshot FILE' saved from this log, instead of the\n"
	      "                       first checkpoint; the log's later digests still apply\n"
	      "  --inspect 'VIEW [ARG]'\n"
	      "                       with --until: introspect the guest kernel there (views\n"
	      "                       as in 'keel inspect --help'; best with --quiet)\n"
	      "  --json               --inspect prints JSON instead of a table\n"
	      "  --vmi-events FILE    the replayed guest's exec, fork, exit, open, connect and\n"
	      "                       accept calls as JSON lines (as 'keel run --vmi-events')\n"
	      "  --ids POLICY         run the intrusion detector over the replay (docs/ids.md):\n"
	      "                       the same alerts at the same instruction counts as the\n"
	      "                       recorded run; responses other than alert are not taken\n"
	      "  --ids-out FILE       the alerts go to FILE ('-': stdout; default: the\n"
	      "                       policy's \"output\", else stderr)\n"
	      "  --vmlinux FILE       --inspect takes BTF (and symbols) from FILE\n"
	      "  --bisect             on a divergence, find the first instruction at which the\n"
	      "                       replay differs from a reference replay (see docs/replay.md)\n"
	      "  --quiet              do not print the guest's console output\n"
	      "  --gdb PORT           serve gdb-multiarch on 127.0.0.1:PORT instead of running:\n"
	      "                       the recording can be stepped and continued forward and\n"
	      "                       backward (reverse-stepi, reverse-continue, ...)\n"
	      "  --gdb-snapshot-every N  with --gdb: keep a snapshot in memory every N\n"
	      "                       instructions (default 20000000); backward moves replay\n"
	      "                       from the nearest one\n"
	      "  --no-decode-cache    replay with the plainest interpreter, every instruction\n"
	      "                       decoded where it runs (as 'keel run'): a recording made\n"
	      "                       with decoded blocks must still match every digest\n"
	      JIT_OPTIONS_HELP
	      "  --effects-count      diagnostic: observe every instruction's memory effects\n"
	      "                       (docs/taps.md; about 12x slower) and print their\n"
	      "                       counts and a hash of them as one JSON line on stderr\n"
	      "  --debug-perturb ICOUNT:REG\n"
	      "                       test only: flip bit 0 of register xREG at ICOUNT, to\n"
	      "                       check that divergences are caught\n"
	      "  -h, --help           show this help\n"
	      "\n"
	      "Exit status: 0 replayed to the end with every digest equal, 1 error (bad\n"
	      "log, tampered, unreadable checkpoint), 3 diverged, 4 usage error.\n",
	      out);
}

struct replay_options {
	const char *dir;
	struct log_verify_options verify;
	uint64_t until;
	const char *snapshot;
	const char *from;
	const char *inspect, *vmlinux; /* --inspect 'VIEW [ARG]' at --until */
	const char *vmi_events; /* --vmi-events FILE */
	const char *ids, *ids_out; /* --ids POLICY, --ids-out FILE */
	bool inspect_json;
	bool bisect, quiet;
	bool no_decode_cache;
	bool jit; /* --jit on|off */
	unsigned jit_threshold;
	bool jit_perfmap; /* --jit-perfmap */
	bool effects_count;
	uint64_t perturb_at;
	unsigned perturb_reg;
	int gdb_port; /* -1: no --gdb */
	uint64_t gdb_every;
	const struct replay_observer *observer; /* replay_observed's */
};

int log_source_next(void *opaque, struct replay_record *rec, char *err, size_t errlen)
{
	struct log_source *s = opaque;
	if (s->read >= s->limit)
		return 0;
	struct log_record lr;
	int rc = log_reader_next(s->reader, &lr);
	if (rc < 0)
		snprintf(err, errlen, "%s", log_reader_error(s->reader));
	if (rc <= 0)
		return rc;
	s->read++;
	*rec = (struct replay_record){lr.icount, lr.type, lr.len, lr.payload};
	return 1;
}

int log_source_open(struct log_source *s, const char *dir, uint64_t limit)
{
	char err[512];
	memset(s, 0, sizeof(*s));
	s->limit = limit;
	if (log_reader_open(&s->reader, dir, err, sizeof(err))) {
		fprintf(stderr, "keel replay: %s\n", err);
		return -1;
	}
	return 0;
}

/* --- reading the session --- */

static int parse_session_json(struct session *s, const struct replay_record *rec)
{
	json_error_t je;
	json_t *j = json_loadb((const char *)rec->payload, rec->len, 0, &je);
	json_int_t ram = 0, digest = 2; /* logs before "digest" was written used v2 */
	int net = 0, vcon = 0;
	if (!j || json_unpack(j, "{s:I, s:b, s:b, s?I}", "ram_size", &ram, "net", &net,
			      "console_virtio", &vcon, "digest", &digest)) {
		json_decref(j);
		return -1;
	}
	s->cfg.ram_size = (uint64_t)ram;
	s->cfg.net = net ? "none" : NULL;
	s->cfg.console_input_virtio = vcon;
	s->digest_version = (unsigned)digest;
	json_decref(j);
	if (digest < 2 || digest > STATE_DIGEST_VERSION) {
		fprintf(stderr, "keel replay: the log's state digests are version %lld, which this "
				"keel does not compute\n", (long long)digest);
		return -1;
	}
	return 0;
}

int read_session(struct session *s, const char *dir)
{
	struct log_source src;
	if (log_source_open(&src, dir, s->verified_records))
		return -1;
	struct replay_record rec;
	char err[512] = "the log ends before its first checkpoint";
	bool have_conf = false, have_snap = false;
	int rc;
	while ((rc = log_source_next(&src, &rec, err, sizeof(err))) == 1) {
		if (rec.type == LOG_REC_SESSION_START && !have_conf) {
			if (parse_session_json(s, &rec)) {
				snprintf(err, sizeof(err), "the session record is not keel's JSON");
				rc = -1;
				break;
			}
			have_conf = true;
		} else if (rec.type == LOG_REC_SNAPSHOT && !have_snap &&
			   rec.len > LOG_SNAPSHOT_HASH_BYTES) {
			int n = (int)(rec.len - LOG_SNAPSHOT_HASH_BYTES);
			snprintf(s->checkpoint, sizeof(s->checkpoint), "%s/%.*s", dir, n,
				 (const char *)rec.payload + LOG_SNAPSHOT_HASH_BYTES);
			have_snap = true;
		} else if (rec.type == LOG_REC_DIGEST) {
			s->start_index = src.read - 1;
			break;
		}
	}
	log_reader_close(src.reader);
	if (rc == 1 && have_conf && have_snap)
		return 0;
	if (rc == 1 && (!have_conf || !have_snap))
		snprintf(err, sizeof(err), "no %s before the first digest",
			 have_conf ? "checkpoint" : "session record");
	fprintf(stderr, "keel replay: %s: %s\n", dir, err);
	return -1;
}

/* --- machines --- */

static void console_stdout(void *opaque, const uint8_t *buf, size_t len)
{
	fwrite(buf, 1, len, stdout);
}

static void console_discard(void *opaque, const uint8_t *buf, size_t len)
{
}

/* How a replay machine is built: the session's configuration, never the
 * host's clock.  With no_decode_cache it runs the plainest interpreter (no
 * decoded blocks): the reference machine of --bisect does, so that a
 * divergence an optimisation causes shows up against it, and so does
 * --no-decode-cache. */
struct machine_config replay_config(const struct session *s, bool console,
					   bool no_decode_cache)
{
	struct machine_config cfg = s->cfg;
	cfg.no_decode_cache = no_decode_cache;
	cfg.board = BOARD_VIRT;
	cfg.idle_skip = false; /* idle skips come from the log */
	cfg.rtc_epoch_ns = 1; /* restored from the checkpoint; never the host's */
	cfg.console_write = console ? console_stdout : console_discard;
	return cfg;
}

/* The checkpoint's disk is opened for replay: an overlay frozen at the
 * checkpoint with private writes, or a read-only raw image. */
const struct restore_request replay_restore = {.disk_mode = RESTORE_DISK_REPLAY};

/* A machine in the state of the checkpoint whose bytes are `snap`. */
static struct machine *machine_at(const struct session *s, bool console, const void *snap,
				  size_t len, bool no_decode_cache)
{
	struct machine_config cfg = replay_config(s, console, no_decode_cache);
	char err[PATH_MAX + 512];
	struct machine *m = machine_restore(&cfg, snap, len, &replay_restore, err, sizeof(err));
	if (!m)
		fprintf(stderr, "keel replay: checkpoint: %s\n", err);
	else
		state_digest_set_version(m, s->digest_version);
	return m;
}

struct machine *replay_machine_open(const struct session *s, const char *path, bool console,
				    bool no_decode_cache, char *err, size_t errlen)
{
	struct machine_config cfg = replay_config(s, console, no_decode_cache);
	struct machine *m = machine_restore_file(&cfg, path, &replay_restore, err, errlen);
	if (m)
		state_digest_set_version(m, s->digest_version);
	return m;
}

static void machine_dispose(struct machine *m)
{
	if (m) {
		machine_free(m);
		free(m);
	}
}

/* --- --effects-count: what a memory-effect observer saw --- */

/* Totals over every instruction reported, and a hash of every report in
 * order, so that two replays can be compared without storing them. */
struct effect_counts {
	uint64_t insns, trapped, reads, writes, bytes_read, bytes_written;
	uint64_t x_read, x_written, f_read, f_written, csr_read, csr_written;
	uint64_t hash; /* of every field of every report, in order (hash_u64) */
};

/* A word at a time (byte-wise FNV-1a made the replay 4x slower): not
 * cryptographic, only to tell two sequences of reports apart. */
static void hash_u64(uint64_t *h, uint64_t v)
{
	*h = (*h ^ v) * 0x9e3779b97f4a7c15ULL;
	*h ^= *h >> 29;
}

static void count_effect(void *opaque, const struct tap_insn_effect *e)
{
	struct effect_counts *c = opaque;
	c->insns++;
	c->trapped += e->trapped;
	c->x_read += (uint64_t)__builtin_popcount(e->x_read);
	c->x_written += (uint64_t)__builtin_popcount(e->x_written);
	c->f_read += (uint64_t)__builtin_popcount(e->f_read);
	c->f_written += (uint64_t)__builtin_popcount(e->f_written);
	c->csr_read += e->csr_read;
	c->csr_written += e->csr_written;
	uint64_t fields[] = {e->icount, e->pc, e->insn, e->priv, e->trapped,
			     e->x_read, e->x_written, e->f_read, e->f_written,
			     (uint64_t)(int64_t)e->csr, e->csr_read, e->csr_written, e->naccess};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		hash_u64(&c->hash, fields[i]);
	for (unsigned i = 0; i < e->naccess; i++) {
		const struct tap_mem_access *a = &e->access[i];
		if (a->write) {
			c->writes++;
			c->bytes_written += a->size;
		} else {
			c->reads++;
			c->bytes_read += a->size;
		}
		uint64_t acc[] = {a->va, a->pa, a->value, a->size, a->write};
		for (size_t j = 0; j < sizeof(acc) / sizeof(acc[0]); j++)
			hash_u64(&c->hash, acc[j]);
	}
}

static void print_effect_counts(const struct effect_counts *c)
{
	char hash[17];
	snprintf(hash, sizeof(hash), "%016" PRIx64, c->hash);
	json_t *j = json_pack("{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}}",
			      "effects", "instructions", (json_int_t)c->insns, "trapped",
			      (json_int_t)c->trapped, "reads", (json_int_t)c->reads, "writes",
			      (json_int_t)c->writes, "bytes_read", (json_int_t)c->bytes_read,
			      "bytes_written", (json_int_t)c->bytes_written, "x_read",
			      (json_int_t)c->x_read, "x_written", (json_int_t)c->x_written, "f_read",
			      (json_int_t)c->f_read, "f_written", (json_int_t)c->f_written, "csr_read",
			      (json_int_t)c->csr_read, "csr_written", (json_int_t)c->csr_written,
			      "hash", hash);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (text)
		fprintf(stderr, "%s\n", text);
	free(text);
	json_decref(j);
}

/* --- the last good checkpoint, kept for --bisect --- */

struct good_point {
	char *buf;
	size_t len;
	uint64_t index, icount;
};

static void keep_good(void *opaque, struct machine *m, uint64_t index)
{
	struct good_point *g = opaque;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char err[256];
	if (!f)
		return;
	int rc = snapshot_save(m, f, err, sizeof(err));
	fclose(f);
	if (rc) {
		free(buf);
		return;
	}
	free(g->buf);
	*g = (struct good_point){buf, len, index, m->hart.icount};
}

/* Replay from the good point to `until`, with or without the test
 * perturbation; the digest there goes to `out`.  Returns 0, or -1 if that
 * replay could not be run. */
static int digest_at(const struct session *s, const struct replay_options *o,
		     const struct good_point *g, uint64_t until, bool perturb,
		     uint8_t out[STATE_DIGEST_BYTES])
{
	struct machine *m = machine_at(s, false, g->buf, g->len, !perturb);
	struct log_source src;
	if (!m || log_source_open(&src, o->dir, s->verified_records)) {
		machine_dispose(m);
		return -1;
	}
	struct replayer r;
	replayer_init(&r, m, (struct replay_source){log_source_next, &src});
	char err[512];
	int rc = replayer_skip_to(&r, g->index, err, sizeof(err));
	if (rc == 0) {
		r.until = until;
		if (perturb && o->perturb_reg && o->perturb_at >= g->icount) {
			r.perturb_at = o->perturb_at;
			r.perturb_reg = o->perturb_reg;
		}
		/* A divergence on the way still leaves a state to compare. */
		rc = replayer_run(&r, err, sizeof(err)) == REPLAY_ERROR ? -1 : 0;
	}
	if (rc)
		fprintf(stderr, "keel replay: bisect: %s\n", err);
	else
		state_digest(m, out);
	replayer_free(&r);
	log_reader_close(src.reader);
	machine_dispose(m);
	return rc;
}

/* The first icount in (good, bad] where the replay as asked differs from
 * the reference replay (without the test perturbation, and without the
 * decoded blocks). */
static int bisect(const struct session *s, const struct replay_options *o,
		  const struct good_point *g, uint64_t bad)
{
	uint64_t lo = g->icount, hi = bad;
	fprintf(stderr, "keel replay: bisecting between icount %" PRIu64 " and %" PRIu64 "\n", lo,
		hi);
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		uint8_t a[STATE_DIGEST_BYTES], b[STATE_DIGEST_BYTES];
		if (digest_at(s, o, g, mid, true, a) || digest_at(s, o, g, mid, false, b))
			return -1;
		bool same = !memcmp(a, b, sizeof(a));
		fprintf(stderr, "keel replay: bisect: icount %" PRIu64 ": %s\n", mid,
			same ? "same" : "differs");
		if (same)
			lo = mid;
		else
			hi = mid;
	}
	uint8_t a[STATE_DIGEST_BYTES], b[STATE_DIGEST_BYTES];
	if (digest_at(s, o, g, hi, true, a) || digest_at(s, o, g, hi, false, b))
		return -1;
	if (!memcmp(a, b, sizeof(a))) {
		fprintf(stderr, "keel replay: bisect: this replay and the reference agree up to icount "
				"%" PRIu64 ": the divergence is not caused by this replay's options\n",
			hi);
		return -1;
	}
	fprintf(stderr, "keel replay: first divergent instruction: icount %" PRIu64
			" (state equal at %" PRIu64 ", different at %" PRIu64 ")\n",
		hi, hi - 1, hi);
	printf("first-divergence icount=%" PRIu64 "\n", hi);
	return 0;
}

/* --- the command --- */

static int parse_perturb(const char *arg, struct replay_options *o)
{
	char *end;
	errno = 0;
	unsigned long long at = strtoull(arg, &end, 0);
	if (errno || end == arg || *end != ':')
		return -1;
	unsigned long reg = strtoul(end + 1, &end, 0);
	if (*end || reg == 0 || reg > 31)
		return -1;
	o->perturb_at = at;
	o->perturb_reg = (unsigned)reg;
	return 0;
}

static int parse_replay_options(int argc, char **argv, struct replay_options *o)
{
	enum { OPT_KEY = 256, OPT_PUB, OPT_UNTIL, OPT_SNAPSHOT, OPT_BISECT, OPT_QUIET, OPT_PERTURB,
	       OPT_FROM, OPT_NO_DECODE_CACHE, OPT_JIT, OPT_JIT_THRESHOLD, OPT_JIT_PERFMAP, OPT_EFFECTS_COUNT, OPT_GDB, OPT_GDB_EVERY,
	       OPT_INSPECT, OPT_JSON, OPT_VMLINUX, OPT_VMI_EVENTS, OPT_IDS, OPT_IDS_OUT };
	static const struct option longopts[] = {
		{"key", required_argument, NULL, OPT_KEY},
		{"sign-pub", required_argument, NULL, OPT_PUB},
		{"until", required_argument, NULL, OPT_UNTIL},
		{"snapshot", required_argument, NULL, OPT_SNAPSHOT},
		{"from", required_argument, NULL, OPT_FROM},
		{"bisect", no_argument, NULL, OPT_BISECT},
		{"quiet", no_argument, NULL, OPT_QUIET},
		{"no-decode-cache", no_argument, NULL, OPT_NO_DECODE_CACHE},
		{"jit", required_argument, NULL, OPT_JIT},
		{"jit-threshold", required_argument, NULL, OPT_JIT_THRESHOLD},
		{"jit-perfmap", no_argument, NULL, OPT_JIT_PERFMAP},
		{"effects-count", no_argument, NULL, OPT_EFFECTS_COUNT},
		{"debug-perturb", required_argument, NULL, OPT_PERTURB},
		{"inspect", required_argument, NULL, OPT_INSPECT},
		{"json", no_argument, NULL, OPT_JSON},
		{"vmlinux", required_argument, NULL, OPT_VMLINUX},
		{"vmi-events", required_argument, NULL, OPT_VMI_EVENTS},
		{"ids", required_argument, NULL, OPT_IDS},
		{"ids-out", required_argument, NULL, OPT_IDS_OUT},
		{"gdb", required_argument, NULL, OPT_GDB},
		{"gdb-snapshot-every", required_argument, NULL, OPT_GDB_EVERY},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	memset(o, 0, sizeof(*o));
	o->gdb_port = -1;
	o->gdb_every = 20000000;
	o->jit = JIT_DEFAULT_ON;
	o->jit_threshold = JIT_DEFAULT_THRESHOLD;
	optind = 1;
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': replay_usage(stdout); return 1;
		case OPT_KEY: o->verify.verify_key_path = optarg; break;
		case OPT_PUB: o->verify.sign_pub_path = optarg; break;
		case OPT_SNAPSHOT: o->snapshot = optarg; break;
		case OPT_FROM: o->from = optarg; break;
		case OPT_BISECT: o->bisect = true; break;
		case OPT_QUIET: o->quiet = true; break;
		case OPT_NO_DECODE_CACHE: o->no_decode_cache = true; break;
		case OPT_JIT_PERFMAP: o->jit_perfmap = true; break;
		case OPT_JIT:
		case OPT_JIT_THRESHOLD:
			if (jit_option("keel replay", c == OPT_JIT_THRESHOLD, optarg, &o->jit,
				       &o->jit_threshold))
				return -1;
			break;
		case OPT_INSPECT: o->inspect = optarg; break;
		case OPT_JSON: o->inspect_json = true; break;
		case OPT_VMLINUX: o->vmlinux = optarg; break;
		case OPT_VMI_EVENTS: o->vmi_events = optarg; break;
		case OPT_IDS: o->ids = optarg; break;
		case OPT_IDS_OUT: o->ids_out = optarg; break;
		case OPT_EFFECTS_COUNT: o->effects_count = true; break;
		case OPT_UNTIL:
			errno = 0;
			o->until = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg || !o->until) {
				fprintf(stderr, "keel replay: bad --until '%s'\n", optarg);
				return -1;
			}
			break;
		case OPT_GDB:
		case OPT_GDB_EVERY: {
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 0);
			bool port = c == OPT_GDB;
			if (errno || *end || end == optarg || (port ? v > 65535 : v == 0)) {
				fprintf(stderr, "keel replay: bad --%s '%s'\n",
					port ? "gdb" : "gdb-snapshot-every", optarg);
				return -1;
			}
			if (port)
				o->gdb_port = (int)v;
			else
				o->gdb_every = v;
			break;
		}
		case OPT_PERTURB:
			if (parse_perturb(optarg, o)) {
				fprintf(stderr, "keel replay: bad --debug-perturb '%s' (ICOUNT:REG, REG 1..31)\n",
					optarg);
				return -1;
			}
			break;
		default: replay_usage(stderr); return -1;
		}
	}
	if (o->gdb_port >= 0 && (o->until || o->from || o->bisect || o->perturb_reg ||
				 o->vmi_events || o->ids)) {
		fprintf(stderr, "keel replay: --gdb moves through the whole recording; it takes "
				"no --until, --from, --bisect, --debug-perturb, --vmi-events or --ids\n");
		return -1;
	}
	if (optind + 1 != argc || ((o->snapshot || o->inspect) && !o->until)) {
		fprintf(stderr, "keel replay: %s (try --help)\n",
			optind + 1 != argc ? "needs exactly one log directory"
					   : "--snapshot and --inspect need --until");
		return -1;
	}
	o->dir = argv[optind];
	return 0;
}

/* Verify first: a tampered log is never replayed; an unsealed or unclosed
 * one is replayed up to its last seal. */
int verify_for_replay(const char *who, const char *dir, const struct log_verify_options *vo,
		      struct session *s)
{
	struct log_verify_report rep;
	if (log_verify(dir, vo, &rep)) {
		/* No verdict (no log there, an unreadable key): saying TAMPERED
		 * would send a person looking for an attacker. */
		fprintf(stderr, "%s: %s: cannot verify the log: %s\n", who, dir, rep.reason);
		return -1;
	}
	if (rep.status == LOG_STATUS_TAMPERED) {
		fprintf(stderr, "%s: %s: %s: %s (segment %s, offset %" PRIu64 ", record %" PRIu64
				")\n",
			who, dir, log_status_name(rep.status), rep.reason, rep.bad.segment,
			rep.bad.offset, rep.bad.record);
		return -1;
	}
	if (!rep.seals_checked)
		fprintf(stderr, "%s: warning: no verify key, seals not checked\n", who);
	else if (rep.key_from_dir)
		fprintf(stderr, "%s: warning: verified with %s/verify.key, which is not "
				"tamper-evident while it sits next to the log\n", who, dir);
	s->verified_records = rep.seals_checked ? rep.verified.record : rep.records;
	if (rep.status != LOG_STATUS_VALID)
		fprintf(stderr, "%s: %s: %s; replaying the %" PRIu64
				" sealed records (up to icount %" PRIu64 ")\n",
			who, dir, log_status_name(rep.status), s->verified_records, rep.verified.icount);
	return 0;
}

static int save_until_snapshot(struct machine *m, const char *path)
{
	char err[PATH_MAX + 512];
	int rc = snapshot_save_file(m, path, err, sizeof(err));
	if (rc)
		fprintf(stderr, "keel replay: %s\n", err);
	return rc;
}

/* --inspect 'VIEW [ARG]' on the machine where --until stopped it. */
static int inspect_at_until(struct machine *m, const struct replay_options *o)
{
	char view[64], arg[64] = "";
	if (sscanf(o->inspect, "%63s %63s", view, arg) < 1) {
		fprintf(stderr, "keel replay: --inspect needs a view\n");
		return 1;
	}
	struct memview mv;
	struct tap_regs regs;
	taps_memview(m, &mv);
	taps_regs(m, &regs);
	struct vmi_options vo = {.vmlinux = o->vmlinux, .satp = regs.satp};
	char err[512];
	struct vmi *v = vmi_attach(&mv, &vo, err, sizeof(err));
	if (!v) {
		fprintf(stderr, "keel replay: --inspect: %s\n", err);
		return 1;
	}
	fflush(stdout);
	int rc = inspect_run(v, view, arg[0] ? arg : NULL, o->inspect_json);
	vmi_free(v);
	return rc;
}

static double seconds_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int report(struct replayer *r, enum replay_result res, const char *err, double secs,
		  const struct replay_options *o)
{
	uint64_t icount = r->m->hart.icount;
	fflush(stdout);
	switch (res) {
	case REPLAY_END:
		fprintf(stderr, "keel replay: done: %" PRIu64 " records, %" PRIu64
				" checkpoints matched, icount %" PRIu64 ", %.2f s (state digest v%u)\n",
			r->records, r->digests_checked, icount, secs, state_digest_version(r->m));
		return 0;
	case REPLAY_UNTIL:
		fprintf(stderr, "keel replay: stopped at icount %" PRIu64 " (--until), %" PRIu64
				" checkpoints matched\n", icount, r->digests_checked);
		if (o->snapshot && save_until_snapshot(r->m, o->snapshot))
			return 1;
		return o->inspect ? inspect_at_until(r->m, o) : 0;
	case REPLAY_DIVERGED:
		fprintf(stderr, "keel replay: DIVERGED: %s\n", r->why);
		return EXIT_DIVERGED;
	default:
		fprintf(stderr, "keel replay: %s: %s\n", o->dir, err);
		return 1;
	}
}

static int replay_log(const struct replay_options *o, struct session *s)
{
	char err[PATH_MAX + 1024] = "";
	const char *start = o->from ? o->from : s->checkpoint;
	struct machine *m = replay_machine_open(s, start, !o->quiet, o->no_decode_cache, err,
						sizeof(err));
	if (!m) {
		fprintf(stderr, "keel replay: %s\n", err);
		return 1;
	}
	struct log_source src;
	if (!m || log_source_open(&src, o->dir, s->verified_records)) {
		machine_dispose(m);
		return 1;
	}
	struct replayer r;
	struct good_point good = {0};
	replayer_init(&r, m, (struct replay_source){log_source_next, &src});
	r.until = o->until;
	r.perturb_at = o->perturb_at;
	r.perturb_reg = o->perturb_reg;
	struct effect_counts counts = {.hash = 0xcbf29ce484222325ULL};
	if (o->effects_count && taps_effect_subscribe(m, count_effect, &counts) < 0) {
		fprintf(stderr, "keel replay: cannot observe memory effects\n");
		replayer_free(&r);
		log_reader_close(src.reader);
		machine_dispose(m);
		return 1;
	}
	if (o->bisect) {
		r.on_good_digest = keep_good;
		r.on_good_opaque = &good;
	}
	/* Observers only: the replay's machine is not changed by them. */
	struct vmi_events *ev = NULL;
	FILE *ev_out = NULL;
	if (o->vmi_events) {
		struct vmi_options vo = {.vmlinux = o->vmlinux};
		ev_out = strcmp(o->vmi_events, "-") ? fopen(o->vmi_events, "w") : stderr;
		if (!ev_out || !(ev = vmi_events_start(m, ev_out, &vo, err, sizeof(err)))) {
			fprintf(stderr, "keel replay: --vmi-events %s: %s\n", o->vmi_events,
				ev_out ? err : strerror(errno));
			if (ev_out && ev_out != stderr)
				fclose(ev_out);
			replayer_free(&r);
			log_reader_close(src.reader);
			machine_dispose(m);
			return 1;
		}
	}
	struct ids *ids = NULL;
	if (o->ids) {
		struct ids_policy *p = ids_policy_load(o->ids, err, sizeof(err));
		struct ids_options io = {.out = o->ids_out, .responses = false};
		if (!p || !(ids = ids_start(m, p, &io, err, sizeof(err)))) {
			fprintf(stderr, "keel replay: --ids %s\n", err);
			vmi_events_stop(ev);
			if (ev_out && ev_out != stderr)
				fclose(ev_out);
			replayer_free(&r);
			log_reader_close(src.reader);
			machine_dispose(m);
			return 1;
		}
	}
	if (o->observer && o->observer->start(o->observer->opaque, m, err, sizeof(err))) {
		fprintf(stderr, "keel: %s\n", err);
		ids_stop(ids);
		vmi_events_stop(ev);
		if (ev_out && ev_out != stderr)
			fclose(ev_out);
		replayer_free(&r);
		log_reader_close(src.reader);
		machine_dispose(m);
		return 1;
	}
	double t0 = seconds_now();
	int skip = o->from ? replayer_skip_before(&r, m->hart.icount, err, sizeof(err))
			   : replayer_skip_to(&r, s->start_index, err, sizeof(err));
	enum replay_result res = skip ? REPLAY_ERROR : replayer_run(&r, err, sizeof(err));
	int status = report(&r, res, err, seconds_now() - t0, o);
	if (o->effects_count)
		print_effect_counts(&counts);
	if (res == REPLAY_DIVERGED && o->bisect) {
		/* The upper bound: the differing digest, or where the machine
		 * stopped following the log. */
		uint64_t bad = r.bad_icount ? r.bad_icount : m->hart.icount;
		if (!good.buf || bad <= good.icount)
			fprintf(stderr, "keel replay: --bisect needs a divergence after a "
					"matching checkpoint\n");
		else if (bisect(s, o, &good, bad))
			status = 1;
	}
	if (o->observer)
		o->observer->stop(o->observer->opaque, m, status);
	ids_stop(ids);
	vmi_events_stop(ev);
	if (ev_out && ev_out != stderr)
		fclose(ev_out);
	free(good.buf);
	replayer_free(&r);
	log_reader_close(src.reader);
	machine_dispose(m);
	return status;
}

/* --- --gdb: a debugger over the recording, both ways --- */

struct gdb_replay {
	const struct replay_options *o;
	const struct session *s;
	struct timetravel tt;
	struct log_source src;
};

static struct machine *tt_machine_at(void *opaque, const void *buf, size_t len)
{
	struct gdb_replay *g = opaque;
	return machine_at(g->s, false, buf, len, g->o->no_decode_cache);
}

static void tt_machine_dispose(void *opaque, struct machine *m)
{
	(void)opaque;
	machine_dispose(m);
}

static int tt_source_open(void *opaque, struct replay_source *src)
{
	struct gdb_replay *g = opaque;
	if (log_source_open(&g->src, g->o->dir, g->s->verified_records))
		return -1;
	*src = (struct replay_source){log_source_next, &g->src};
	return 0;
}

static void tt_source_close(void *opaque, struct replay_source *src)
{
	struct gdb_replay *g = opaque;
	(void)src;
	log_reader_close(g->src.reader);
	g->src.reader = NULL;
}

static const struct timetravel_ops tt_ops = {tt_machine_at, tt_machine_dispose, tt_source_open,
					     tt_source_close};

static struct machine *gdb_machine(void *opaque)
{
	return ((struct gdb_replay *)opaque)->tt.m;
}

static enum stop_reason gdb_run(void *opaque, uint64_t steps)
{
	struct gdb_replay *g = opaque;
	if (timetravel_forward(&g->tt, steps)) {
		fprintf(stderr, "keel replay: %s\n", g->tt.why);
		return STOP_TRAP_LOOP; /* gdb sees a stop it cannot continue from */
	}
	return g->tt.ended ? STOP_AT : STOP_BUDGET;
}

static bool gdb_at_end(void *opaque)
{
	return ((struct gdb_replay *)opaque)->tt.ended;
}

static int gdb_seek(void *opaque, uint64_t icount)
{
	struct gdb_replay *g = opaque;
	int rc = timetravel_seek(&g->tt, icount);
	if (rc < 0)
		fprintf(stderr, "keel replay: %s\n", g->tt.why);
	return rc == 0 ? 0 : -1;
}

static uint64_t gdb_history_start(void *opaque)
{
	return timetravel_start_icount(&((struct gdb_replay *)opaque)->tt);
}

static int replay_gdb(const struct replay_options *o, struct session *s)
{
	struct snapshot_bytes snap = {0};
	char err[PATH_MAX + 512] = "";
	if (snapshot_bytes_read(s->checkpoint, s->cfg.ram_size, &replay_restore, &snap, err,
				sizeof(err))) {
		fprintf(stderr, "keel replay: %s: %s\n", s->checkpoint, err);
		return 1;
	}
	struct gdb_replay g = {.o = o, .s = s};
	int rc = timetravel_open(&g.tt, &tt_ops, &g, snap.p, snap.len, s->start_index, o->gdb_every);
	snapshot_bytes_free(&snap);
	if (rc) {
		fprintf(stderr, "keel replay: %s\n", g.tt.why);
		timetravel_close(&g.tt);
		return 1;
	}
	const struct gdb_target t = {
		.machine = gdb_machine,
		.run = gdb_run,
		.at_history_end = gdb_at_end,
		.seek = gdb_seek,
		.history_start = gdb_history_start,
		.opaque = &g,
	};
	rc = gdbstub_serve_target(&t, o->gdb_port);
	fprintf(stderr, "keel replay: gdb session over: icount %" PRIu64 ", %zu snapshots kept, "
			"%" PRIu64 " backward moves\n",
		taps_icount(g.tt.m), g.tt.nsnaps, g.tt.restores);
	timetravel_close(&g.tt);
	return rc ? 1 : 0;
}

int cmd_replay(int argc, char **argv)
{
	struct replay_options o;
	int rc = parse_replay_options(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : EXIT_USAGE;
	struct session s = {0};
	if (verify_for_replay("keel replay", o.dir, &o.verify, &s) || read_session(&s, o.dir))
		return 1;
	/* how this replay runs, not what was recorded: the JIT is a cache */
	s.cfg.jit = o.jit;
	s.cfg.jit_threshold = o.jit_threshold;
	s.cfg.jit_perfmap = o.jit_perfmap;
	return o.gdb_port >= 0 ? replay_gdb(&o, &s) : replay_log(&o, &s);
}

int replay_observed(const char *dir, const struct log_verify_options *verify,
		    const struct replay_observer *obs)
{
	struct replay_options o = {.dir = dir, .quiet = true, .no_decode_cache = true,
				   .gdb_port = -1, .observer = obs};
	if (verify)
		o.verify = *verify;
	struct session s = {0};
	if (verify_for_replay("keel analyze --taint", dir, &o.verify, &s) || read_session(&s, dir))
		return 1;
	return replay_log(&o, &s);
}
