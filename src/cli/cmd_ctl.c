/* keel ctl: send one request to a running keel's control socket (started
 * with `keel run --api-sock PATH`) and print the reply.  docs/api.md. */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/inspect_cli.h"
#include "vm/sealed_snapshot.h"

/* A snapshot of a large guest takes a while; anything slower is a hang. */
#define CTL_TIMEOUT_MS 120000
#define CTL_MAX_REPLY (1u << 20)

enum { CTL_OK = 0, CTL_REFUSED = 1, CTL_NO_CONNECTION = 2 };

static void ctl_usage(FILE *out)
{
	fputs("usage: keel ctl --sock PATH [--compact] COMMAND [ARG...]\n"
	      "\n"
	      "Send one request to the control socket of a keel started with\n"
	      "'keel run --api-sock PATH' and print the JSON reply (docs/api.md).\n"
	      "\n"
	      "commands:\n"
	      "  status           state (running/paused), icount, mtime, state digest\n"
	      "  pause            stop running the guest (the socket keeps answering)\n"
	      "  resume           run it again\n"
	      "  snapshot FILE    save a snapshot to FILE (relative to this directory)\n"
	      "  suspend --encrypt FILE [--passphrase-fd N]\n"
	      "                   save an encrypted snapshot to FILE, then stop keel (it\n"
	      "                   exits 0); the passphrase is read from fd N (one line)\n"
	      "                   or asked for on the terminal, never taken from argv.\n"
	      "                   Resume with 'keel run --restore FILE'\n"
	      "  clone --sock NEW [--net none|user[,hostfwd=...]] [--console FILE]\n"
	      "        [--entropy fresh|inherit]\n"
	      "                   fork a copy-on-write clone of the VM: a new keel process\n"
	      "                   serving the API on NEW; no network (default) or its own\n"
	      "                   slirp with its own forwards; console output to FILE\n"
	      "                   (default /dev/null); fresh entropy unless 'inherit'.\n"
	      "                   Prints the clone's pid (docs/clone.md)\n"
	      "  inspect VIEW [ARG] [--json] [--vmlinux FILE]\n"
	      "                   introspect the guest kernel (views as in 'keel inspect\n"
	      "                   --help'): a table, or the result as JSON; the guest\n"
	      "                   stands still while it is read, for the time printed\n"
	      "  input TEXT       type TEXT on the guest's console; end a command line\n"
	      "                   with a real newline, e.g. $'ls\\n' in bash\n"
	      "  migrate tcp:HOST:PORT --key FILE [--downtime MS]\n"
	      "        [--postcopy auto|never|now] [--keep] [--json]\n"
	      "                   move the running VM, live, to a 'keel run --incoming\n"
	      "                   tcp:HOST:PORT --key FILE' (docs/migrate.md): pre-copy\n"
	      "                   rounds until what is left fits --downtime (default 50\n"
	      "                   ms), then the handover.  When the rounds stop\n"
	      "                   shrinking (--postcopy auto, the default), or at once\n"
	      "                   (now): post-copy, the VM runs on the destination with\n"
	      "                   pages missing, fetched on demand while the rest\n"
	      "                   follow (never: stop and copy whatever is left).\n"
	      "                   Progress on stderr; then one line with the figures\n"
	      "                   (the JSON reply with --json).  The source quits once\n"
	      "                   the destination has all of the VM (--keep: stays,\n"
	      "                   paused); on a failure before the handover it runs on\n"
	      "  shield status|rules|verdicts\n"
	      "                   the intrusion-prevention front of 'keel run --shield'\n"
	      "                   (docs/shield.md): counters (tried, clean, blocked,\n"
	      "                   passed...), the rules in force, the latest verdicts\n"
	      "  quit             stop keel (it exits 0)\n"
	      "  raw JSON         send JSON as the request line, as is\n"
	      "\n"
	      "options:\n"
	      "  --sock PATH      the control socket (required)\n"
	      "  --compact        print the reply on one line\n"
	      "  -h, --help       show this help\n"
	      "\n"
	      "Exit status: 0 when the reply says ok, 1 when it reports an error, 2 when\n"
	      "there is no usable reply (no server, connection lost, timeout) or on a\n"
	      "usage error.\n",
	      out);
}

/* Snapshot paths are opened by the server, whose working directory may
 * differ: make a relative one absolute here. */
static char *absolute_path(const char *path)
{
	if (path[0] == '/')
		return strdup(path);
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	size_t len = strlen(cwd) + strlen(path) + 2;
	char *abs = malloc(len);
	if (abs)
		snprintf(abs, len, "%s/%s", cwd, path);
	return abs;
}

/* suspend --encrypt FILE [--passphrase-fd N]: the request line, whose
 * passphrase the caller wipes; or NULL with a message printed. */
static char *build_suspend(int argc, char **argv)
{
	const char *file = NULL;
	int fd = -1;
	bool ok = argc % 2 == 1 && argc <= 5; /* option-value pairs */
	for (int i = 1; ok && i < argc; i += 2) {
		char *end;
		if (!strcmp(argv[i], "--encrypt")) {
			file = argv[i + 1];
			continue;
		}
		long v = strtol(argv[i + 1], &end, 10);
		if (strcmp(argv[i], "--passphrase-fd") || *end || end == argv[i + 1] || v < 0 ||
		    v > INT_MAX)
			ok = false;
		fd = (int)v;
	}
	if (!ok || !file) {
		fprintf(stderr, "keel ctl: usage: suspend --encrypt FILE [--passphrase-fd N]\n");
		return NULL;
	}
	char pass[SEALED_MAX_PASSPHRASE + 1], err[512], prompt[4096 + 32];
	size_t passlen;
	snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", file);
	if (sealed_read_passphrase(fd, prompt, pass, sizeof(pass), &passlen, err, sizeof(err))) {
		fprintf(stderr, "keel ctl: %s\n", err);
		return NULL;
	}
	char *abs = absolute_path(file);
	json_t *req = abs ? json_pack("{s:i,s:s,s:s,s:s#}", "id", 1, "cmd", "suspend", "path", abs,
				      "passphrase", pass, passlen)
			  : NULL;
	sodium_memzero(pass, sizeof(pass));
	free(abs);
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (req) {
		json_t *p = json_object_get(req, "passphrase");
		sodium_memzero((char *)json_string_value(p), json_string_length(p));
		json_decref(req);
	}
	if (!text)
		fprintf(stderr, "keel ctl: %s: cannot build the request\n", file);
	return text;
}

/* clone --sock NEW [--net SPEC] [--console FILE] [--entropy fresh|inherit]:
 * the request line, or NULL with a message printed. */
static char *build_clone(int argc, char **argv)
{
	static const char *const keys[][2] = {
		{"--sock", "sock"}, {"--net", "net"}, {"--console", "console"}, {"--entropy", "entropy"},
	};
	json_t *req = json_pack("{s:i,s:s}", "id", 1, "cmd", "clone");
	bool ok = req && argc % 2 == 1;
	for (int i = 1; ok && i < argc; i += 2) {
		const char *key = NULL;
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (!strcmp(argv[i], keys[k][0]))
				key = keys[k][1];
		/* Paths are opened by the server: make them absolute here. */
		bool path = key && (!strcmp(key, "sock") || !strcmp(key, "console"));
		char *value = path ? absolute_path(argv[i + 1]) : strdup(argv[i + 1]);
		ok = key && value && !json_object_get(req, key) &&
		     !json_object_set_new(req, key, json_string(value));
		free(value);
	}
	ok = ok && json_object_get(req, "sock");
	char *text = ok ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text)
		fprintf(stderr, "keel ctl: usage: clone --sock NEW [--net none|user[,...]] "
				"[--console FILE] [--entropy fresh|inherit]\n");
	return text;
}

/* migrate URI --key FILE [--downtime MS] [--postcopy P] [--keep] [--json]
 * [--throttle MS]: the request line, or NULL with a message printed. */
static char *build_migrate(int argc, char **argv, bool *json_out)
{
	json_t *req = json_pack("{s:i,s:s}", "id", 1, "cmd", "migrate");
	bool ok = req && argc >= 2 && argv[1][0] != '-';
	if (ok)
		json_object_set_new(req, "uri", json_string(argv[1]));
	for (int i = 2; ok && i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		long v = val ? strtol(val, &end, 10) : -1;
		bool num = val && *val && !*end && v >= 0 && v <= INT_MAX;
		if (!strcmp(opt, "--keep")) {
			json_object_set_new(req, "keep", json_true());
		} else if (!strcmp(opt, "--json")) {
			*json_out = true;
		} else if (!strcmp(opt, "--key") && val) {
			char *abs = absolute_path(val);
			ok = abs && !json_object_set_new(req, "key", json_string(abs));
			free(abs);
			i++;
		} else if (!strcmp(opt, "--postcopy") && val) {
			json_object_set_new(req, "postcopy", json_string(val));
			i++;
		} else if ((!strcmp(opt, "--downtime") || !strcmp(opt, "--throttle")) && num) {
			json_object_set_new(req, opt[2] == 'd' ? "downtime_ms" : "throttle_ms",
					    json_integer(v));
			i++;
		} else {
			ok = false;
		}
	}
	ok = ok && json_object_get(req, "key");
	char *text = ok ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text)
		fprintf(stderr, "keel ctl: usage: migrate tcp:HOST:PORT --key FILE [--downtime MS] "
				"[--postcopy auto|never|now] [--keep] [--json]\n");
	return text;
}

/* How a reply is printed: the reply as JSON, or an inspect result. */
enum reply_form { FORM_REPLY, FORM_TABLE, FORM_RESULT_JSON };

/* inspect VIEW [ARG] [--json] [--vmlinux FILE]: the request line, or NULL
 * with a message printed. */
static char *build_inspect(int argc, char **argv, enum reply_form *form)
{
	struct inspect_args a;
	if (inspect_parse(argc, argv, &a) || a.npos < 1 || a.npos > 2) {
		fprintf(stderr, "keel ctl: usage: inspect VIEW [ARG] [--json] [--vmlinux FILE]\n");
		return NULL;
	}
	*form = a.json ? FORM_RESULT_JSON : FORM_TABLE;
	json_t *req = json_pack("{s:i,s:s,s:s}", "id", 1, "cmd", "inspect", "view", a.pos[0]);
	if (req && a.npos > 1)
		json_object_set_new(req, "arg", json_string(a.pos[1]));
	if (req && a.o.vmlinux) {
		char *abs = absolute_path(a.o.vmlinux);
		json_object_set_new(req, "vmlinux", json_string(abs ? abs : a.o.vmlinux));
		free(abs);
	}
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	return text;
}

/* shield [status|rules|verdicts] */
static char *build_shield(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "status";
	if (argc > 2 || (strcmp(what, "status") && strcmp(what, "rules") && strcmp(what, "verdicts"))) {
		fprintf(stderr, "keel ctl: usage: shield status|rules|verdicts\n");
		return NULL;
	}
	json_t *req = json_pack("{s:i,s:s,s:s}", "id", 1, "cmd", "shield", "what", what);
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	return text;
}

/* The request line for COMMAND [ARG] (malloc'd, no newline), or NULL with
 * a message printed. */
static char *build_request(int argc, char **argv, enum reply_form *form)
{
	const char *cmd = argv[0];
	if (!strcmp(cmd, "inspect"))
		return build_inspect(argc, argv, form);
	if (!strcmp(cmd, "suspend"))
		return build_suspend(argc, argv);
	if (!strcmp(cmd, "clone"))
		return build_clone(argc, argv);
	if (!strcmp(cmd, "shield"))
		return build_shield(argc, argv);
	bool needs_arg = !strcmp(cmd, "snapshot") || !strcmp(cmd, "raw") || !strcmp(cmd, "input");
	bool known = needs_arg || !strcmp(cmd, "status") || !strcmp(cmd, "pause") ||
		     !strcmp(cmd, "resume") || !strcmp(cmd, "quit");
	if (!known) {
		fprintf(stderr, "keel ctl: unknown command '%s' (try 'keel ctl --help')\n", cmd);
		return NULL;
	}
	if (argc != (needs_arg ? 2 : 1)) {
		fprintf(stderr, "keel ctl: '%s' takes %s\n", cmd,
			needs_arg ? "exactly one argument" : "no arguments");
		return NULL;
	}
	if (!strcmp(cmd, "raw"))
		return strdup(argv[1]);
	json_t *req = json_pack("{s:i,s:s}", "id", 1, "cmd", cmd);
	if (req && !strcmp(cmd, "input") && json_object_set_new(req, "data", json_string(argv[1]))) {
		fprintf(stderr, "keel ctl: input: TEXT must be UTF-8\n");
		json_decref(req);
		return NULL;
	}
	if (req && !strcmp(cmd, "snapshot")) {
		char *abs = absolute_path(argv[1]);
		if (!abs || json_object_set_new(req, "path", json_string(abs))) {
			fprintf(stderr, "keel ctl: %s: cannot make the path absolute\n", argv[1]);
			free(abs);
			json_decref(req);
			return NULL;
		}
		free(abs);
	}
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	return text;
}

static int connect_to(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "keel ctl: %s: socket path too long\n", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		return fd;
	fprintf(stderr, "keel ctl: cannot connect to %s: %s (is 'keel run --api-sock %s' running?)\n",
		path, strerror(errno), path);
	if (fd >= 0)
		close(fd);
	return -1;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read one reply line into buf (NUL-terminated, newline dropped), which
 * already holds *have bytes; those after the line stay in buf after the
 * NUL and *have counts them with the line (see drop_line).  Returns the
 * line's length, or -1 with a message printed. */
static long read_reply(int fd, const char *path, char *buf, size_t cap, size_t *have)
{
	size_t len = *have;
	long long deadline = now_ms() + CTL_TIMEOUT_MS;
	for (;;) {
		char *nl = memchr(buf, '\n', len);
		if (nl) {
			*nl = '\0';
			*have = len;
			return nl - buf;
		}
		long long left = deadline - now_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (left <= 0 || len + 1 >= cap) {
			fprintf(stderr, "keel ctl: %s: %s\n", path,
				left <= 0 ? "no reply (timed out)" : "reply too long");
			return -1;
		}
		int rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			continue; /* the deadline check above reports it */
		ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "keel ctl: %s: connection closed before a reply%s%s\n", path,
				n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			return -1;
		}
		len += (size_t)n;
	}
}

static int print_reply(const char *line, size_t len, bool compact, const char *path,
		       enum reply_form form)
{
	json_error_t jerr;
	json_t *reply = json_loadb(line, len, 0, &jerr);
	if (!json_is_object(reply)) {
		fprintf(stderr, "keel ctl: %s: the reply is not a JSON object: %s\n", path, line);
		json_decref(reply);
		return CTL_NO_CONNECTION;
	}
	json_t *result = json_object_get(reply, "result");
	if (form != FORM_REPLY && json_is_object(result)) {
		if (form == FORM_TABLE && json_object_get(result, "rows"))
			vmi_print_table(stdout, result);
		else
			inspect_print(result, true);
		fprintf(stderr, "keel ctl: the guest stood still %.2f ms for this\n",
			json_real_value(json_object_get(reply, "paused_ms")));
	} else if (form != FORM_REPLY && !json_is_true(json_object_get(reply, "ok"))) {
		fprintf(stderr, "keel ctl: inspect: %s\n",
			json_string_value(json_object_get(reply, "error")));
	} else {
		char *text = json_dumps(reply, compact ? JSON_COMPACT : JSON_INDENT(2));
		if (text)
			puts(text);
		free(text);
	}
	int status = json_is_true(json_object_get(reply, "ok")) ? CTL_OK : CTL_REFUSED;
	json_decref(reply);
	return status;
}

static int exchange(const char *path, const char *request, bool compact, enum reply_form form)
{
	int fd = connect_to(path);
	if (fd < 0)
		return CTL_NO_CONNECTION;
	char *buf = malloc(CTL_MAX_REPLY);
	int status = CTL_NO_CONNECTION;
	long len = -1;
	if (!buf)
		fprintf(stderr, "keel ctl: out of memory\n");
	else if (send_all(fd, request, strlen(request)) || send_all(fd, "\n", 1))
		fprintf(stderr, "keel ctl: %s: sending the request: %s\n", path, strerror(errno));
	else
		len = read_reply(fd, path, buf, CTL_MAX_REPLY, &(size_t){0});
	if (len >= 0)
		status = print_reply(buf, (size_t)len, compact, path, form);
	free(buf);
	close(fd);
	return status;
}

/* Forget the line read_reply returned (length `line`). */
static void drop_line(char *buf, size_t *have, long line)
{
	memmove(buf, buf + line + 1, *have - (size_t)line - 1);
	*have -= (size_t)line + 1;
}

static double num(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static void show_progress(json_t *p, bool tty)
{
	json_t *pc = json_object_get(p, "postcopy");
	if (num(p, "base_bytes") > 0 && num(p, "rounds") == 0 && num(p, "pages_sent") == 0) {
		fprintf(stderr, "%sthe destination lacks the base image: %.1f MB sent%s",
			tty ? "\r\033[K" : "", num(p, "base_bytes") / 1e6, tty ? "" : "\n");
		return;
	}
	if (json_is_object(pc)) {
		fprintf(stderr, "%spost-copy: the VM runs on the destination (downtime %.1f ms); "
				"%.0f of %.0f missing pages sent, %.0f requests%s",
			tty ? "\r\033[K" : "", num(p, "downtime_ms"), num(pc, "sent"),
			num(pc, "missing"), num(pc, "requests"), tty ? "" : "\n");
		return;
	}
	fprintf(stderr, "%sround %d: %.0f pages sent (%.0f zero), %.0f left, %.0f dirty pages/s, "
			"%.0f pages/s, est. downtime %.1f ms%s",
		tty ? "\r\033[K" : "", (int)num(p, "rounds"), num(p, "pages_sent"),
		num(p, "zero_pages"), num(p, "pages_pending"), num(p, "dirty_pages_per_s"),
		num(p, "pages_per_s"), num(p, "est_downtime_ms"), tty ? "" : "\n");
}

static int show_result(json_t *reply, bool json, bool compact, bool tty)
{
	if (tty)
		fputs("\n", stderr);
	json_t *fig = json_object_get(reply, "migrated");
	bool ok = json_is_true(json_object_get(reply, "ok"));
	if (json) {
		char *text = json_dumps(reply, compact ? JSON_COMPACT : JSON_INDENT(2));
		if (text)
			puts(text);
		free(text);
	} else if (ok) {
		printf("migrated: %d rounds, %.0f pages (%.0f zero), %.1f MB of disk records, "
		       "%.1f MB on the wire; downtime %.1f ms, total %.0f ms, stopped at icount "
		       "%.0f\n",
		       (int)num(fig, "rounds"), num(fig, "pages_sent"), num(fig, "zero_pages"),
		       num(fig, "disk_bytes") / 1e6, num(fig, "bytes") / 1e6, num(fig, "downtime_ms"),
		       num(fig, "total_ms"), num(fig, "icount"));
		json_t *pc = json_object_get(fig, "postcopy");
		if (json_is_object(pc))
			printf("post-copy: %.0f pages were missing when the VM started there; %.0f "
			       "faults waited for a page (the slowest %.1f ms, %.1f ms in all); "
			       "%.0f ms until all of RAM was there\n",
			       num(pc, "missing"), num(pc, "faults"), num(pc, "slowest_fault_ms"),
			       num(pc, "fault_wait_ms"), num(pc, "ms"));
	}
	if (!ok)
		fprintf(stderr, "keel ctl: migrate: %s\n",
			json_string_value(json_object_get(reply, "error")) ?: "failed");
	return ok ? CTL_OK : CTL_REFUSED;
}

/* migrate: progress lines until the reply that says ok or not. */
static int migrate_exchange(const char *path, const char *request, bool json, bool compact)
{
	int fd = connect_to(path);
	if (fd < 0)
		return CTL_NO_CONNECTION;
	char *buf = malloc(CTL_MAX_REPLY);
	size_t have = 0;
	int status = CTL_NO_CONNECTION;
	bool tty = isatty(STDERR_FILENO);
	if (!buf || send_all(fd, request, strlen(request)) || send_all(fd, "\n", 1))
		fprintf(stderr, "keel ctl: %s: sending the request failed\n", path);
	for (long len; buf && (len = read_reply(fd, path, buf, CTL_MAX_REPLY, &have)) >= 0;) {
		json_t *line = json_loadb(buf, (size_t)len, 0, NULL);
		drop_line(buf, &have, len);
		json_t *p = json_object_get(line, "progress");
		if (json_is_object(line) && !json_object_get(line, "ok") && json_is_object(p)) {
			show_progress(p, tty);
			json_decref(line);
			continue;
		}
		if (json_is_object(line))
			status = show_result(line, json, compact, tty);
		else
			fprintf(stderr, "keel ctl: %s: the reply is not a JSON object\n", path);
		json_decref(line);
		break;
	}
	free(buf);
	close(fd);
	return status;
}

int cmd_ctl(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"sock", required_argument, NULL, 's'},
		{"compact", no_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *sock = NULL;
	bool compact = false;
	int c;
	optind = 1;
	/* "+": stop at the command, so raw JSON starting with '-' is no option. */
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (c == 'h') {
			ctl_usage(stdout);
			return 0;
		}
		if (c == 's')
			sock = optarg;
		else if (c == 'c')
			compact = true;
		else
			return CTL_NO_CONNECTION; /* getopt printed why */
	}
	if (!sock || optind >= argc) {
		fprintf(stderr, "keel ctl: %s (try 'keel ctl --help')\n",
			!sock ? "--sock PATH is required" : "no command given");
		return CTL_NO_CONNECTION;
	}
	bool migrate = !strcmp(argv[optind], "migrate"), json = false;
	enum reply_form form = FORM_REPLY;
	char *request = migrate ? build_migrate(argc - optind, argv + optind, &json)
				: build_request(argc - optind, argv + optind, &form);
	if (!request)
		return CTL_NO_CONNECTION;
	int status = migrate ? migrate_exchange(sock, request, json, compact)
			     : exchange(sock, request, compact, form);
	sodium_memzero(request, strlen(request)); /* suspend's holds a passphrase */
	free(request);
	return status;
}
