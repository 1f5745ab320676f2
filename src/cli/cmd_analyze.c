/* keel analyze: replay a secure log with the analysis observers on, then
 * answer questions about it (src/svc/analyze/, docs/analyze.md). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/replay_cli.h"
#include "svc/analyze/analyze.h"
#include "svc/ids/ids.h"
#include "svc/log/log_reader.h"
#include "vm/machine.h"
#include "vm/taps.h"

enum { EXIT_DIVERGED = 3, EXIT_USAGE = 4 };

#define D3_PATH "/usr/share/javascript/d3/d3.min.js"

static void analyze_usage(FILE *out)
{
	fputs("usage: keel analyze LOG [--why PATH [--at ICOUNT]] [--json] [--html OUT.html]\n"
	      "       keel analyze LOG --taint PATH [--json]   (byte taint: 'keel analyze --taint\n"
	      "                                                 x --help')\n"
	      "\n"
	      "Replay the log recorded by 'keel record --log LOG' (verified first, as 'keel\n"
	      "replay' does: a tampered log is refused before any analysis) while following\n"
	      "the guest's processes, files, pipes and connections, then answer from what was\n"
	      "seen.  The answer is the same on every run of the same log.\n"
	      "\n"
	      "options:\n"
	      "  --why PATH       which connections and processes can have caused the last\n"
	      "                   write of PATH (a guest path): BackTracker's backward\n"
	      "                   dependency graph, pruned by time order\n"
	      "  --at ICOUNT      with --why: the last write at or before ICOUNT instead\n"
	      "  --json           print the answer as JSON, with its graph (without --why:\n"
	      "                   the whole dependency graph)\n"
	      "  --html FILE      write a timeline page (processes over guest time,\n"
	      "                   connections, file writes, alerts, the --why answer\n"
	      "                   highlighted); d3 from " D3_PATH "\n"
	      "                   (Debian libjs-d3) is inlined into it\n"
	      "  --ids POLICY     run the intrusion detector over the replay (docs/ids.md):\n"
	      "                   its alerts go on the timeline\n"
	      "  --key FILE       the verify key (default: LOG/verify.key, with a warning)\n"
	      "  --sign-pub FILE  also check the seals' Ed25519 signatures\n"
	      "  --vmlinux FILE   kernel symbols and BTF from FILE (default: from guest RAM)\n"
	      "  -h, --help       show this help\n"
	      "\n"
	      "Exit status: 0 answered, 1 error (bad or tampered log, no such write),\n"
	      "3 the replay diverged from the log, 4 usage error.\n",
	      out);
}

struct analyze_options {
	const char *dir;
	struct log_verify_options verify;
	const char *why, *html, *ids, *vmlinux;
	uint64_t at;
	bool json;
};

static int parse_analyze_options(int argc, char **argv, struct analyze_options *o)
{
	enum { OPT_WHY = 256, OPT_AT, OPT_JSON, OPT_HTML, OPT_IDS, OPT_KEY, OPT_PUB, OPT_VMLINUX };
	static const struct option longopts[] = {
		{"why", required_argument, NULL, OPT_WHY},
		{"at", required_argument, NULL, OPT_AT},
		{"json", no_argument, NULL, OPT_JSON},
		{"html", required_argument, NULL, OPT_HTML},
		{"ids", required_argument, NULL, OPT_IDS},
		{"key", required_argument, NULL, OPT_KEY},
		{"sign-pub", required_argument, NULL, OPT_PUB},
		{"vmlinux", required_argument, NULL, OPT_VMLINUX},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	memset(o, 0, sizeof(*o));
	optind = 1;
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': analyze_usage(stdout); return 1;
		case OPT_WHY: o->why = optarg; break;
		case OPT_JSON: o->json = true; break;
		case OPT_HTML: o->html = optarg; break;
		case OPT_IDS: o->ids = optarg; break;
		case OPT_KEY: o->verify.verify_key_path = optarg; break;
		case OPT_PUB: o->verify.sign_pub_path = optarg; break;
		case OPT_VMLINUX: o->vmlinux = optarg; break;
		case OPT_AT:
			errno = 0;
			o->at = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg || !o->at) {
				fprintf(stderr, "keel analyze: bad --at '%s'\n", optarg);
				return -1;
			}
			break;
		default: analyze_usage(stderr); return -1;
		}
	}
	if (optind + 1 != argc || (o->at && !o->why)) {
		fprintf(stderr, "keel analyze: %s (try --help)\n",
			optind + 1 != argc ? "needs exactly one log directory" : "--at needs --why");
		return -1;
	}
	if (o->why && o->why[0] != '/') {
		fprintf(stderr, "keel analyze: --why '%s': a guest path starts with /\n", o->why);
		return -1;
	}
	o->dir = argv[optind];
	return 0;
}

static double seconds_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The detector's alerts, written by ids to a file of ours, onto the
 * timeline. */
static void read_alerts(struct analyze *a, FILE *f)
{
	char line[65536];
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		json_t *j = json_loads(line, 0, NULL);
		if (j && json_object_get(j, "policy"))
			analyze_add_alert(a, j);
		json_decref(j);
	}
}

/* The observers that ride one replay of the log.  The graph's collector
 * is always on; the detector with --ids.  Another analysis over the same
 * replay (byte taint, --taint) is started in riders_start beside them,
 * stopped in riders_stop, and adds its part of the answer in answer(). */
struct riders {
	struct analyze *a;
	struct ids *ids;
	FILE *alerts;
	char alerts_path[64];
};

static int riders_start(struct riders *r, struct machine *m, const struct analyze_options *o)
{
	char err[1024];
	struct vmi_options vo = {.vmlinux = o->vmlinux};
	if (!(r->a = analyze_start(m, &vo, err, sizeof(err)))) {
		fprintf(stderr, "keel analyze: %s\n", err);
		return -1;
	}
	if (!o->ids)
		return 0;
	snprintf(r->alerts_path, sizeof(r->alerts_path), "/tmp/keel-analyze-alerts-XXXXXX");
	int fd = mkstemp(r->alerts_path);
	if (fd < 0 || !(r->alerts = fdopen(fd, "r"))) {
		fprintf(stderr, "keel analyze: %s: %s\n", r->alerts_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		r->alerts_path[0] = 0;
		return -1;
	}
	struct ids_policy *p = ids_policy_load(o->ids, err, sizeof(err));
	struct ids_options io = {.out = r->alerts_path, .responses = false};
	if (!p || !(r->ids = ids_start(m, p, &io, err, sizeof(err)))) {
		fprintf(stderr, "keel analyze: --ids %s\n", err);
		return -1;
	}
	return 0;
}

static void riders_stop(struct riders *r)
{
	analyze_stop(r->a);
	if (r->ids) {
		ids_stop(r->ids);
		r->ids = NULL;
		read_alerts(r->a, r->alerts);
	}
	if (r->alerts)
		fclose(r->alerts);
	if (r->alerts_path[0])
		unlink(r->alerts_path);
	r->alerts = NULL;
	r->alerts_path[0] = 0;
}

/* Replay the whole verified log with the riders on.  0, or the exit
 * status. */
static int collect(const struct analyze_options *o, const struct session *s, struct riders *rd)
{
	char err[PATH_MAX + 1024] = "";
	struct machine *m = replay_machine_open(s, s->checkpoint, false, false, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "keel analyze: %s\n", err);
		return 1;
	}
	struct log_source src;
	if (log_source_open(&src, o->dir, s->verified_records)) {
		machine_free(m);
		free(m);
		return 1;
	}
	struct replayer r;
	replayer_init(&r, m, (struct replay_source){log_source_next, &src});
	int status = 1;
	double t0 = seconds_now();
	if (riders_start(rd, m, o) == 0) {
		enum replay_result res = replayer_skip_to(&r, s->start_index, err, sizeof(err))
						 ? REPLAY_ERROR
						 : replayer_run(&r, err, sizeof(err));
		riders_stop(rd);
		if (res == REPLAY_END) {
			status = 0;
			fprintf(stderr, "keel analyze: replayed %" PRIu64 " records to icount %" PRIu64
					" in %.2f s\n",
				r.records, taps_icount(m), seconds_now() - t0);
		} else if (res == REPLAY_DIVERGED) {
			fprintf(stderr, "keel analyze: the replay DIVERGED from the log: %s\n", r.why);
			status = EXIT_DIVERGED;
		} else {
			fprintf(stderr, "keel analyze: %s: %s\n", o->dir, err);
		}
	} else {
		riders_stop(rd);
	}
	replayer_free(&r);
	log_reader_close(src.reader);
	machine_free(m);
	free(m);
	return status;
}

static int print_json(const json_t *j)
{
	if (!j || json_dumpf(j, stdout, JSON_INDENT(1) | JSON_SORT_KEYS))
		return 1;
	putchar('\n');
	return 0;
}

/* Answer what was asked from what the riders collected. */
static int answer(const struct analyze_options *o, struct riders *rd)
{
	char err[1024];
	json_t *ans = NULL;
	int status = 0;
	if (o->why) {
		if (!(ans = analyze_why(rd->a, o->why, o->at, err, sizeof(err)))) {
			fprintf(stderr, "keel analyze: --why %s\n", err);
			return 1;
		}
		if (o->json)
			status = print_json(ans);
		else
			analyze_print_why(stdout, ans);
	} else if (o->json) {
		json_t *g = analyze_graph(rd->a);
		status = print_json(g);
		json_decref(g);
	}
	if (o->html && analyze_write_html(rd->a, ans, D3_PATH, o->html, err, sizeof(err))) {
		fprintf(stderr, "keel analyze: --html %s\n", err);
		status = 1;
	}
	json_decref(ans);
	return status;
}

int cmd_analyze(int argc, char **argv)
{
	/* Byte taint is its own replay (one step at a time, blocks off):
	 * src/cli/cmd_analyze_taint.c. */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--taint") || !strncmp(argv[i], "--taint=", 8))
			return cmd_analyze_taint(argc, argv);
	struct analyze_options o;
	int rc = parse_analyze_options(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : EXIT_USAGE;
	if (o.html && access(D3_PATH, R_OK)) {
		fprintf(stderr, "keel analyze: --html needs %s (Debian package libjs-d3): %s\n",
			D3_PATH, strerror(errno));
		return 1;
	}
	struct session s = {0};
	if (verify_for_replay("keel analyze", o.dir, &o.verify, &s) || read_session(&s, o.dir))
		return 1;
	struct riders rd = {0};
	rc = collect(&o, &s, &rd);
	if (rc == 0)
		rc = answer(&o, &rd);
	analyze_free(rd.a);
	return rc;
}
