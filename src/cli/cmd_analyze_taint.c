/* keel analyze LOG --taint PATH: which connection's bytes a process wrote
 * into PATH, by byte taint over a replay of the log (svc/taint/taint.h,
 * docs/analyze.md "Byte taint"). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/replay_observed.h"
#include "svc/taint/taint.h"

static void usage(FILE *out)
{
	fputs("usage: keel analyze LOG --taint PATH [options]\n"
	      "\n"
	      "Replay the secure log LOG (verified first: a tampered log is refused) with\n"
	      "byte taint on: the payload of every inbound TCP/UDP flow carries that flow's\n"
	      "label through every instruction, and each write(2) family call into PATH\n"
	      "says whose bytes it wrote.  Prints the flows whose bytes reached PATH (the\n"
	      "client port of each) and the writes that carried them.  Runs one\n"
	      "instruction at a time, without decoded blocks (docs/analyze.md).\n"
	      "\n"
	      "options:\n"
	      "  --taint PATH      the file to follow, as the guest names it (absolute)\n"
	      "  --json            the whole result as JSON on stdout\n"
	      "  --key FILE        the log's verify key (default: LOG/verify.key)\n"
	      "  --sign-pub FILE   also check the log's signatures with this public key\n"
	      "  --vmlinux FILE    guest kernel symbols and types from FILE (default: RAM)\n"
	      "  -h, --help        show this help\n",
	      out);
}

struct run {
	struct taint_options o;
	struct taint_svc *svc;
	bool json;
	int printed; /* -1: nothing to print (the replay failed early) */
};

static int start(void *opaque, struct machine *m, char *err, size_t errlen)
{
	struct run *r = opaque;
	r->svc = taint_start(m, &r->o, err, errlen);
	return r->svc ? 0 : -1;
}

static void stop(void *opaque, struct machine *m, int status)
{
	struct run *r = opaque;
	(void)m;
	if (status == 0) {
		json_t *res = taint_result(r->svc);
		if (r->json) {
			json_dumpf(res, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
			fputc('\n', stdout);
		} else {
			taint_print(stdout, res);
		}
		json_decref(res);
		r->printed = 1;
	}
	taint_stop(r->svc);
	r->svc = NULL;
}

int cmd_analyze_taint(int argc, char **argv)
{
	enum { OPT_TAINT = 256, OPT_JSON, OPT_KEY, OPT_PUB, OPT_VMLINUX };
	static const struct option longopts[] = {
		{"taint", required_argument, NULL, OPT_TAINT},
		{"json", no_argument, NULL, OPT_JSON},
		{"key", required_argument, NULL, OPT_KEY},
		{"sign-pub", required_argument, NULL, OPT_PUB},
		{"vmlinux", required_argument, NULL, OPT_VMLINUX},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct run r = {0};
	struct log_verify_options verify = {0};
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		case OPT_TAINT: r.o.path = optarg; break;
		case OPT_JSON: r.json = true; break;
		case OPT_KEY: verify.verify_key_path = optarg; break;
		case OPT_PUB: verify.sign_pub_path = optarg; break;
		case OPT_VMLINUX: r.o.vmlinux = optarg; break;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc || !r.o.path || r.o.path[0] != '/') {
		fprintf(stderr, "keel analyze: %s (try --help)\n",
			optind + 1 != argc ? "needs exactly one log directory"
					   : "--taint needs an absolute guest path");
		return 2;
	}
	struct replay_observer obs = {start, stop, &r};
	int status = replay_observed(argv[optind], &verify, &obs);
	if (status && r.printed)
		status = 0;
	return status;
}
