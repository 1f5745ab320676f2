/* keel log show: a human-readable (or JSON) listing of a secure log: one
 * line per record with a short payload preview, totals per record type,
 * the log's duration and rate, and the verify status. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cmd_log.h"
#include "svc/log/log_reader.h"
#include "svc/log/log_verify.h"

#define PREVIEW_MAX 96
#define MAX_TYPES 64

struct type_total {
	uint16_t type;
	uint64_t count, bytes;
};

struct show {
	bool json;
	uint64_t limit, listed;
	struct type_total totals[MAX_TYPES];
	int ntypes;
	uint64_t records, payload_bytes;
	json_t *list;
};

static void show_usage(FILE *out)
{
	fputs("usage: keel log show DIR [--json] [--limit N] [--key FILE] [--sign-pub FILE]\n"
	      "\n"
	      "List the records of the log in DIR (icount, type, length, a short preview of\n"
	      "the payload), then the totals per record type, the log's wall-clock duration\n"
	      "and bytes per hour, and its verify status in one line ('keel log verify').\n"
	      "\n"
	      "options:\n"
	      "  --json           print everything as one JSON object\n"
	      "  --limit N        list at most N records (totals still cover all of them)\n"
	      "  --key FILE       verify key for the status line (as 'keel log verify')\n"
	      "  --sign-pub FILE  check seal signatures too\n"
	      "  -h, --help       show this help\n"
	      "\n"
	      "Exit status: as 'keel log verify' (0 valid, 1 tampered or unreadable, 2\n"
	      "unsealed or unclosed, 3 seals not checked, 4 usage error).\n",
	      out);
}

/* Printable ASCII as is, the rest escaped, cut at the preview size. */
static void escape_text(char *out, size_t cap, const uint8_t *p, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 8 < cap; i++) {
		uint8_t c = p[i];
		if (c == '\n')
			o += (size_t)snprintf(out + o, cap - o, "\\n");
		else if (c == '\r')
			o += (size_t)snprintf(out + o, cap - o, "\\r");
		else if (c < 0x20 || c > 0x7e || c == '\\')
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	if (o + 8 >= cap)
		snprintf(out + o, cap - o, "...");
}

static void hex_prefix(char *out, size_t cap, const uint8_t *p, size_t len, size_t max)
{
	size_t o = 0;
	for (size_t i = 0; i < len && i < max && o + 3 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02x", p[i]);
	snprintf(out + o, cap - o, "%s", len > max ? "..." : "");
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Ethernet frame: length, ethertype, and for IP the protocol and ports. */
static void preview_frame(char *out, size_t cap, const uint8_t *p, size_t len)
{
	if (len < 14) {
		snprintf(out, cap, "short frame");
		return;
	}
	uint16_t type = be16(p + 12);
	const uint8_t *ip = p + 14;
	size_t iplen = len - 14, l4 = 0;
	unsigned proto = 256;
	if (type == 0x0800 && iplen >= 20 && (ip[0] >> 4) == 4) {
		proto = ip[9];
		l4 = 4u * (ip[0] & 0xf);
	} else if (type == 0x86dd && iplen >= 40) {
		proto = ip[6];
		l4 = 40;
	}
	int n = snprintf(out, cap, "ethertype 0x%04x", type);
	if (proto == 256)
		return;
	const char *name = proto == 6 ? "tcp" : proto == 17 ? "udp" : proto == 1 ? "icmp" : NULL;
	if (name)
		n += snprintf(out + n, cap - (size_t)n, " %s", name);
	else
		n += snprintf(out + n, cap - (size_t)n, " ip-proto %u", proto);
	if ((proto == 6 || proto == 17) && l4 >= 20 && iplen >= l4 + 4)
		snprintf(out + n, cap - (size_t)n, " %u -> %u", be16(ip + l4), be16(ip + l4 + 2));
}

static void preview(char *out, size_t cap, const struct log_record *r)
{
	const uint8_t *p = r->payload;
	out[0] = '\0';
	switch (r->type) {
	case LOG_REC_CONSOLE_INPUT:
	case LOG_REC_API:
	case LOG_REC_SESSION_START:
	case LOG_REC_SESSION_END:
		escape_text(out, cap, p, r->len);
		return;
	case LOG_REC_NET_FRAME:
		preview_frame(out, cap, p, r->len);
		return;
	case LOG_REC_IDLE_SKIP:
		return;
	case LOG_REC_RTC_EPOCH:
		if (r->len == 8) {
			uint64_t ns = 0;
			for (int i = 7; i >= 0; i--)
				ns = ns << 8 | p[i];
			time_t t = (time_t)(ns / 1000000000u);
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
			return;
		}
		break;
	case LOG_REC_SNAPSHOT:
		if (r->len > 32) {
			char hash[24];
			hex_prefix(hash, sizeof(hash), p, 32, 8);
			snprintf(out, cap, "%.*s blake2b %s", (int)(r->len - 32), (const char *)p + 32,
				 hash);
			return;
		}
		break;
	default:
		break;
	}
	hex_prefix(out, cap, p, r->len, 16);
}

static void count(struct show *s, const struct log_record *r)
{
	s->records++;
	s->payload_bytes += r->len;
	int i = 0;
	while (i < s->ntypes && s->totals[i].type != r->type)
		i++;
	if (i == s->ntypes) {
		if (s->ntypes == MAX_TYPES)
			i = MAX_TYPES - 1; /* a hostile log with many types: lump the rest */
		else
			s->totals[s->ntypes++] = (struct type_total){.type = r->type};
	}
	s->totals[i].count++;
	s->totals[i].bytes += r->len;
}

static void list_record(struct show *s, const struct log_record *r)
{
	char pv[PREVIEW_MAX];
	preview(pv, sizeof(pv), r);
	if (s->json) {
		json_array_append_new(s->list, json_pack("{s:I,s:I,s:i,s:s,s:I,s:s}", "record",
							 (json_int_t)r->pos.record, "icount",
							 (json_int_t)r->icount, "type", r->type,
							 "type_name", log_record_type_name(r->type),
							 "len", (json_int_t)r->len, "preview", pv));
		return;
	}
	printf("%16" PRIu64 "  %-13s %7u  %s\n", r->icount, log_record_type_name(r->type), r->len,
	       pv);
}

/* Read every record; list the first `limit`.  Returns 0 (with `note`
 * saying why reading stopped early, if it did), or -1 if there is no log
 * to read (`note` says why). */
static int read_records(struct show *s, const char *dir, char *err, size_t errlen)
{
	struct log_reader *r;
	if (log_reader_open(&r, dir, err, errlen))
		return -1;
	if (!s->json)
		printf("%16s  %-13s %7s  %s\n", "icount", "type", "length", "preview");
	struct log_record rec;
	int rc;
	while ((rc = log_reader_next(r, &rec)) == 1) {
		count(s, &rec);
		if (s->listed < s->limit) {
			list_record(s, &rec);
			s->listed++;
		}
	}
	if (rc < 0)
		snprintf(err, errlen, "reading stopped: %s", log_reader_error(r));
	else if (log_reader_note(r)[0])
		snprintf(err, errlen, "reading stopped: %s", log_reader_note(r));
	log_reader_close(r);
	return 0;
}

static double hours(const struct log_verify_report *rep)
{
	if (!rep->first_wall_ns || rep->last_wall_ns <= rep->first_wall_ns)
		return 0;
	return (double)(rep->last_wall_ns - rep->first_wall_ns) / 3.6e12;
}

static void print_summary(const struct show *s, const struct log_verify_report *rep,
			  const char *note)
{
	if (s->listed < s->records)
		printf("... %" PRIu64 " more records (--limit)\n", s->records - s->listed);
	if (note[0])
		printf("%s\n", note);
	printf("\ntotals per type:\n");
	for (int i = 0; i < s->ntypes; i++)
		printf("  %-13s %10" PRIu64 " records %12" PRIu64 " bytes\n",
		       log_record_type_name(s->totals[i].type), s->totals[i].count,
		       s->totals[i].bytes);
	double h = hours(rep);
	unsigned long secs = (unsigned long)(h * 3600);
	printf("log: %" PRIu64 " records, %" PRIu64 " payload bytes, %" PRIu64 " bytes on disk "
	       "over %luh%02lum%02lus", s->records, s->payload_bytes, rep->log_bytes, secs / 3600,
	       secs / 60 % 60, secs % 60);
	if (h > 0)
		printf(" (%.0f bytes/hour)", (double)rep->log_bytes / h);
	printf("\nverify: %s: %s\n", log_status_name(rep->status), rep->reason);
}

static void print_json(struct show *s, const struct log_verify_report *rep, const char *note)
{
	json_t *totals = json_object();
	for (int i = 0; i < s->ntypes; i++)
		json_object_set_new(totals, log_record_type_name(s->totals[i].type),
				    json_pack("{s:i,s:I,s:I}", "type", s->totals[i].type, "count",
					      (json_int_t)s->totals[i].count, "bytes",
					      (json_int_t)s->totals[i].bytes));
	double h = hours(rep);
	json_t *j = json_pack("{s:o,s:o,s:I,s:I,s:I,s:f,s:o,s:o}", "records", s->list, "totals",
			      totals, "total_records", (json_int_t)s->records, "payload_bytes",
			      (json_int_t)s->payload_bytes, "log_bytes", (json_int_t)rep->log_bytes,
			      "duration_s", h * 3600, "bytes_per_hour",
			      h > 0 ? json_real((double)rep->log_bytes / h) : json_null(), "verify",
			      log_report_json(rep));
	if (j && note[0])
		json_object_set_new(j, "note", json_string(note));
	char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	if (text)
		puts(text);
	free(text);
	json_decref(j);
}

static int parse_show(int argc, char **argv, struct show *s, struct log_verify_options *o)
{
	enum { OPT_JSON = 256, OPT_LIMIT, OPT_KEY, OPT_PUB };
	static const struct option longopts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"limit", required_argument, NULL, OPT_LIMIT},
		{"key", required_argument, NULL, OPT_KEY},
		{"sign-pub", required_argument, NULL, OPT_PUB},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': show_usage(stdout); return 1;
		case OPT_JSON: s->json = true; break;
		case OPT_KEY: o->verify_key_path = optarg; break;
		case OPT_PUB: o->sign_pub_path = optarg; break;
		case OPT_LIMIT:
			s->limit = strtoull(optarg, &end, 10);
			if (*end || end == optarg || optarg[0] == '-') {
				fprintf(stderr, "keel log show: --limit wants a count, not '%s'\n", optarg);
				return -1;
			}
			break;
		default: return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "keel log show: needs exactly one log directory (try --help)\n");
		return -1;
	}
	return 0;
}

int cmd_log_show(int argc, char **argv)
{
	struct show s = {.limit = UINT64_MAX};
	struct log_verify_options o = {0};
	int prc = parse_show(argc, argv, &s, &o);
	if (prc)
		return prc > 0 ? 0 : LOG_EXIT_USAGE;
	const char *dir = argv[optind];
	struct log_verify_report rep;
	if (log_verify(dir, &o, &rep)) {
		fprintf(stderr, "keel log show: %s\n", rep.reason);
		return 1;
	}
	log_warn_keys("keel log show", dir, &rep);
	s.list = json_array();
	char note[1024] = "";
	if (read_records(&s, dir, note, sizeof(note))) {
		fprintf(stderr, "keel log show: %s\n", note);
		json_decref(s.list);
		return 1;
	}
	if (s.json)
		print_json(&s, &rep, note);
	else {
		print_summary(&s, &rep, note);
		json_decref(s.list);
	}
	return log_verify_exit_code(&rep);
}
