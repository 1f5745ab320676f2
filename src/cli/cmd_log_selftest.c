/* keel log selftest-write (hidden, for tests/integration/test_log_cli.py):
 * write a small synthetic log with every kind of record, a checkpoint
 * file, several seals, and either a clean close or an unsealed tail. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_log.h"
#include "svc/log/log_writer.h"

#define CHECKPOINT_NAME "checkpoint-1.snap"

struct selftest {
	struct log_writer_options o;
	unsigned records, seal_every;
	bool no_close;
};

/* An IPv4/UDP frame 10.0.2.15:5353 -> 10.0.2.3:53 (headers only). */
static void udp_frame(uint8_t f[42])
{
	static const uint8_t head[42] = {
		0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00,
		0x45, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x40, 0x00, 0x40, 17, 0, 0, 10, 0, 2, 15, 10, 0,
		2, 3, 0x14, 0xe9, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00,
	};
	memcpy(f, head, sizeof(head));
}

static int write_checkpoint(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, CHECKPOINT_NAME);
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	for (int i = 0; i < 4096; i++)
		fputc(i * 7 & 0xff, f);
	return fclose(f);
}

/* Record i of the synthetic stream, at icount 1000 * (i + 1). */
static int append_one(struct log_writer *w, unsigned i)
{
	uint64_t icount = 1000ull * (i + 1);
	uint8_t buf[64];
	switch (i % 4) {
	case 0:
		return log_writer_append(w, icount, LOG_REC_CONSOLE_INPUT, "echo hi\n", 8);
	case 1:
		udp_frame(buf);
		return log_writer_append(w, icount, LOG_REC_NET_FRAME, buf, 42);
	case 2:
		for (int k = 0; k < 16; k++)
			buf[k] = (uint8_t)(i * 31 + k);
		return log_writer_append(w, icount, LOG_REC_ENTROPY, buf, 16);
	default:
		memset(buf, (int)i, 32);
		return log_writer_append(w, icount, LOG_REC_DIGEST, buf, 32);
	}
}

static int write_log(struct log_writer *w, const struct selftest *t)
{
	static const char start[] = "{\"keel\":\"0.1.0\",\"selftest\":true}";
	static const char end[] = "{\"reason\":\"selftest\"}";
	uint8_t epoch[8] = {0, 0, 0x5e, 0x1c, 0x3d, 0x9a, 0x7a, 0x18};
	if (log_writer_append(w, 0, LOG_REC_SESSION_START, start, sizeof(start) - 1) ||
	    log_writer_append(w, 0, LOG_REC_RTC_EPOCH, epoch, sizeof(epoch)))
		return -1;
	for (unsigned i = 0; i < t->records; i++) {
		if (append_one(w, i))
			return -1;
		if (i == t->records / 2 && log_writer_add_snapshot(w, 1000ull * (i + 1),
								   CHECKPOINT_NAME))
			return -1;
		if (t->seal_every && (i + 1) % t->seal_every == 0 && log_writer_seal(w))
			return -1;
	}
	if (t->no_close) /* three more records, written but never sealed */
		return append_one(w, 0) || append_one(w, 1) || append_one(w, 2) ||
		       log_writer_flush(w);
	return log_writer_append(w, 1000ull * (t->records + 1), LOG_REC_SESSION_END, end,
				 sizeof(end) - 1);
}

static int parse_selftest(int argc, char **argv, struct selftest *t)
{
	enum { OPT_SEAL = 256, OPT_SIGN, OPT_RECORDS, OPT_SEAL_EVERY, OPT_NO_CLOSE };
	static const struct option longopts[] = {
		{"seal-key", required_argument, NULL, OPT_SEAL},
		{"sign-key", required_argument, NULL, OPT_SIGN},
		{"records", required_argument, NULL, OPT_RECORDS},
		{"seal-every", required_argument, NULL, OPT_SEAL_EVERY},
		{"no-close", no_argument, NULL, OPT_NO_CLOSE},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			puts("usage: keel log selftest-write DIR [--seal-key F] [--sign-key F]\n"
			     "         [--records N] [--seal-every N] [--no-close]\n"
			     "Test-only: write a small synthetic log into the new directory DIR.");
			return 1;
		case OPT_SEAL: t->o.seal_key_path = optarg; break;
		case OPT_SIGN: t->o.sign_key_path = optarg; break;
		case OPT_RECORDS: t->records = (unsigned)strtoul(optarg, NULL, 10); break;
		case OPT_SEAL_EVERY: t->seal_every = (unsigned)strtoul(optarg, NULL, 10); break;
		case OPT_NO_CLOSE: t->no_close = true; break;
		default: return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "keel log selftest-write: needs one new directory\n");
		return -1;
	}
	t->o.dir = argv[optind];
	return 0;
}

int cmd_log_selftest_write(int argc, char **argv)
{
	struct selftest t = {.records = 20, .seal_every = 8,
			     .o = {.seal_interval_ms = LOG_NEVER, .seal_bytes = LOG_NEVER}};
	int prc = parse_selftest(argc, argv, &t);
	if (prc)
		return prc > 0 ? 0 : LOG_EXIT_USAGE;
	struct log_writer *w;
	char err[1024];
	if (log_writer_open(&w, &t.o, err, sizeof(err))) {
		fprintf(stderr, "keel log selftest-write: %s\n", err);
		return 1;
	}
	if (log_writer_warning(w))
		fprintf(stderr, "keel log selftest-write: warning: %s\n", log_writer_warning(w));
	if (write_checkpoint(t.o.dir) || write_log(w, &t)) {
		fprintf(stderr, "keel log selftest-write: %s\n", log_writer_error(w));
		log_writer_free(w);
		return 1;
	}
	uint64_t records = log_writer_records(w), seals = log_writer_seals(w);
	if (t.no_close) {
		log_writer_free(w);
	} else if (log_writer_close(w, err, sizeof(err))) {
		fprintf(stderr, "keel log selftest-write: %s\n", err);
		return 1;
	} else {
		seals++;
	}
	printf("%s: %llu records, %llu seals%s\n", t.o.dir, (unsigned long long)records,
	       (unsigned long long)seals, t.no_close ? ", unsealed tail" : ", closed");
	return 0;
}
