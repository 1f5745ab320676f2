/* keel log: keys, verification and listing of secure logs
 * (docs/log-format.md).  `keel log show` lives in cmd_log_show.c. */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd_log.h"
#include "svc/log/log_keys.h"
#include "svc/log/log_verify.h"

static void log_usage(FILE *out)
{
	fputs("usage: keel log COMMAND [options]\n"
	      "\n"
	      "The secure log that 'keel record' writes (docs/log-format.md).\n"
	      "\n"
	      "commands:\n"
	      "  keygen   make the keys for one log ('keel log keygen --help')\n"
	      "  verify   check a log's chain, seals and checkpoints ('keel log verify --help')\n"
	      "  show     list a log's records, totals and rate ('keel log show --help')\n"
	      "\n"
	      "Exit status 4 means a usage error in every command.\n",
	      out);
}

static void keygen_usage(FILE *out)
{
	fputs("usage: keel log keygen --seal-key FILE --verify-key FILE\n"
	      "                       [--sign-key FILE --sign-pub FILE]\n"
	      "\n"
	      "Make the keys for one secure log.  --seal-key gets key_0 at epoch 0 for the\n"
	      "recorder (mode 0600); keel ratchets it at every seal and wipes the old key,\n"
	      "so it can seal exactly one log.  --verify-key gets the same key_0 for the\n"
	      "auditor: move it offline, it is what makes the log tamper-evident.\n"
	      "--sign-key/--sign-pub add an Ed25519 pair: the recorder signs every seal\n"
	      "with the secret key, 'keel log verify --sign-pub' checks the signatures.\n"
	      "Existing files are never overwritten.\n"
	      "\n"
	      "Exit status: 0 done, 1 failed, 4 usage error.\n",
	      out);
}

static int cmd_keygen(int argc, char **argv)
{
	enum { OPT_SEAL = 256, OPT_VERIFY, OPT_SIGN, OPT_PUB };
	static const struct option longopts[] = {
		{"seal-key", required_argument, NULL, OPT_SEAL},
		{"verify-key", required_argument, NULL, OPT_VERIFY},
		{"sign-key", required_argument, NULL, OPT_SIGN},
		{"sign-pub", required_argument, NULL, OPT_PUB},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *seal = NULL, *verify = NULL, *sign = NULL, *pub = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': keygen_usage(stdout); return 0;
		case OPT_SEAL: seal = optarg; break;
		case OPT_VERIFY: verify = optarg; break;
		case OPT_SIGN: sign = optarg; break;
		case OPT_PUB: pub = optarg; break;
		default: return LOG_EXIT_USAGE;
		}
	}
	if (!seal || !verify || !sign != !pub || optind < argc) {
		fprintf(stderr, "keel log keygen: needs --seal-key and --verify-key, and --sign-key "
				"with --sign-pub (try --help)\n");
		return LOG_EXIT_USAGE;
	}
	char err[1024];
	if (log_keygen(seal, verify, sign, pub, err, sizeof(err))) {
		fprintf(stderr, "keel log keygen: %s\n", err);
		return 1;
	}
	printf("seal key (for the recorder): %s\nverify key (keep it offline): %s\n", seal, verify);
	if (sign)
		printf("signing key (for the recorder): %s\npublic key (for verify): %s\n", sign, pub);
	return 0;
}

static void verify_usage(FILE *out)
{
	fputs("usage: keel log verify DIR [--key FILE] [--sign-pub FILE] [--json]\n"
	      "\n"
	      "Check the log in DIR: the hash chain, that seal i carries epoch i and a MAC\n"
	      "under key_i (derived from the verify key), the Ed25519 signatures, the totals,\n"
	      "and every checkpoint file the log references.  Reports VALID, UNSEALED_TAIL,\n"
	      "NO_CLOSE or TAMPERED, the first bad position (segment file, byte offset,\n"
	      "entry, record, icount) and how far the log is verified.\n"
	      "\n"
	      "options:\n"
	      "  --key FILE       the verify key from 'keel log keygen' (default: DIR/verify.key\n"
	      "                   if the recorder made one, with a warning)\n"
	      "  --sign-pub FILE  also require a good Ed25519 signature on every seal\n"
	      "  --json           print the report as JSON\n"
	      "  -h, --help       show this help\n"
	      "\n"
	      "Exit status: 0 valid (sealed to the end, closed cleanly), 1 tampered or\n"
	      "unreadable, 2 valid only up to the last seal (unsealed tail, or no close),\n"
	      "3 the chain is intact but no key was given so seals were not checked,\n"
	      "4 usage error.\n",
	      out);
}

void log_print_position(FILE *out, const char *label, const struct log_position *p)
{
	fprintf(out, "%s: %s offset %llu, entry %llu, record %llu, icount %llu\n", label,
		p->segment, (unsigned long long)p->offset, (unsigned long long)p->entry,
		(unsigned long long)p->record, (unsigned long long)p->icount);
}

json_t *log_position_json(const struct log_position *p)
{
	return json_pack("{s:s,s:I,s:I,s:I,s:I}", "segment", p->segment, "offset",
			 (json_int_t)p->offset, "entry", (json_int_t)p->entry, "record",
			 (json_int_t)p->record, "icount", (json_int_t)p->icount);
}

json_t *log_report_json(const struct log_verify_report *rep)
{
	json_t *j = json_pack("{s:s,s:s,s:b,s:b,s:b,s:I,s:I,s:o}", "status",
			      log_status_name(rep->status), "reason", rep->reason, "seals_checked",
			      rep->seals_checked, "key_from_dir", rep->key_from_dir,
			      "signatures_checked", rep->signatures_checked, "seals",
			      (json_int_t)rep->seals, "records", (json_int_t)rep->records,
			      "verified", log_position_json(&rep->verified));
	if (j && rep->status != LOG_STATUS_VALID && rep->bad.segment[0])
		json_object_set_new(j, "bad", log_position_json(&rep->bad));
	return j;
}

void log_warn_keys(const char *prog, const char *dir, const struct log_verify_report *rep)
{
	if (rep->key_from_dir)
		fprintf(stderr, "%s: warning: verified with %s/verify.key, which sits next to the "
			"log: whoever could change the log could change that key too\n", prog, dir);
	else if (!rep->seals_checked && rep->status != LOG_STATUS_TAMPERED)
		fprintf(stderr, "%s: warning: no verify key (--key): only the hash chain was "
			"checked, not the seals\n", prog);
}

static void print_report(const char *dir, const struct log_verify_report *rep)
{
	printf("%s: %s: %s\n", dir, log_status_name(rep->status), rep->reason);
	if (rep->status != LOG_STATUS_VALID && rep->bad.segment[0])
		log_print_position(stdout, rep->status == LOG_STATUS_TAMPERED ? "first bad"
					   : rep->status == LOG_STATUS_NO_CLOSE ? "ends at"
					   : "first unsealed", &rep->bad);
	printf("verified: %llu records up to icount %llu by %llu seals%s",
	       (unsigned long long)rep->verified.record, (unsigned long long)rep->verified.icount,
	       (unsigned long long)rep->seals, rep->seals_checked ? "" : " (MACs NOT checked)");
	if (rep->seals)
		printf(" (last seal at %s offset %llu)", rep->verified.segment,
		       (unsigned long long)rep->verified.offset);
	printf("; %llu records read\n", (unsigned long long)rep->records);
}

static int cmd_verify(int argc, char **argv)
{
	enum { OPT_KEY = 256, OPT_PUB, OPT_JSON };
	static const struct option longopts[] = {
		{"key", required_argument, NULL, OPT_KEY},
		{"sign-pub", required_argument, NULL, OPT_PUB},
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct log_verify_options o = {0};
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': verify_usage(stdout); return 0;
		case OPT_KEY: o.verify_key_path = optarg; break;
		case OPT_PUB: o.sign_pub_path = optarg; break;
		case OPT_JSON: json = true; break;
		default: return LOG_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "keel log verify: needs exactly one log directory (try --help)\n");
		return LOG_EXIT_USAGE;
	}
	const char *dir = argv[optind];
	struct log_verify_report rep;
	if (log_verify(dir, &o, &rep)) {
		fprintf(stderr, "keel log verify: %s\n", rep.reason);
		return 1;
	}
	log_warn_keys("keel log verify", dir, &rep);
	if (json) {
		json_t *j = log_report_json(&rep);
		char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
		if (text)
			puts(text);
		free(text);
		json_decref(j);
	} else {
		print_report(dir, &rep);
	}
	return log_verify_exit_code(&rep);
}

int cmd_log(int argc, char **argv)
{
	if (argc < 2) {
		log_usage(stderr);
		return LOG_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		log_usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "keygen"))
		return cmd_keygen(argc - 1, argv + 1);
	if (!strcmp(cmd, "verify"))
		return cmd_verify(argc - 1, argv + 1);
	if (!strcmp(cmd, "show"))
		return cmd_log_show(argc - 1, argv + 1);
	if (!strcmp(cmd, "selftest-write"))
		return cmd_log_selftest_write(argc - 1, argv + 1);
	fprintf(stderr, "keel log: unknown command '%s' (try 'keel log --help')\n", cmd);
	return LOG_EXIT_USAGE;
}
