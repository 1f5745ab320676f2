/* vulnsrv: a DELIBERATELY VULNERABLE HTTP/1.1 server for keel's tests of
 * intrusion prevention on a clone (docs/shield.md).  Never run it
 * anywhere but in a test guest.
 *
 * Build (the tests do this at test time, tests/integration/vulnsrv.py):
 *   riscv64-linux-gnu-gcc -O1 -static -fno-stack-protector -U_FORTIFY_SOURCE \
 *       -o vulnsrv tests/guest/vulnsrv.c
 * and append it to the default guest's initramfs as /bin/vulnsrv.
 * Run in the guest: vulnsrv [PORT] &   (default port 8000)
 *
 * One process per connection (fork), which drops to uid 1000 for the
 * connection but keeps root as its saved uid (setresuid(1000, 1000, 0)),
 * and serves keep-alive requests in turn:
 *   GET /              "hello from vulnsrv"
 *   GET /echo?msg=M    runs `echo M` through /bin/sh (popen) and returns its
 *                      output: a COMMAND INJECTION (M=x;touch%20/tmp/p)
 *   GET /hello?name=N  "hello N", built in a 64-byte stack buffer with no
 *                      bounds check: a STACK BUFFER OVERFLOW (a long N
 *                      overwrites the saved return address; the handler
 *                      dies of SIGSEGV)
 *   GET /admin?key=K   switches back to root (setresuid(0, 0, 0)) when K is
 *                      the admin key; the check compares only strlen(K)
 *                      bytes, so an EMPTY KEY PASSES: a PRIVILEGE
 *                      ESCALATION (the handler runs on as uid 0)
 *   GET /cache?mb=N    fills a cache of N MiB, N unchecked: a MEMORY
 *                      EXHAUSTION (a guest set to panic_on_oom panics)
 *   GET /sleep?ms=N    answers after N milliseconds
 *   GET /count         how many requests the log holds
 * Every request line is appended to /tmp/vulnsrv.log (opened by the
 * server as root) before it is handled, so a test can see which requests
 * ever reached this server. */
#define _GNU_SOURCE /* memmem, strcasestr */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOG "/tmp/vulnsrv.log"
#define ADMIN_KEY "s3cret-admin-key"
#define USER 1000

static int log_fd = -1;

static void reply(int fd, int status, const char *body, int keep)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "Connection: %s\r\n\r\n",
			 status, status == 200 ? "OK" : "Not Found", strlen(body),
			 keep ? "keep-alive" : "close");
	if (write(fd, head, (size_t)n) < 0 || write(fd, body, strlen(body)) < 0)
		exit(0);
}

static int hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* %XX and '+' decoded in place. */
static void url_decode(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '%' && hex(s[1]) >= 0 && hex(s[2]) >= 0) {
			*o++ = (char)(hex(s[1]) * 16 + hex(s[2]));
			s += 2;
		} else {
			*o++ = *s == '+' ? ' ' : *s;
		}
	}
	*o = '\0';
}

static void log_line(const char *line)
{
	char l[8200];
	int n = snprintf(l, sizeof(l), "%s\n", line);
	if (write(log_fd, l, (size_t)n < sizeof(l) ? (size_t)n : sizeof(l) - 1) < 0)
		perror("vulnsrv: log");
}

static void echo(int fd, const char *msg, int keep)
{
	char cmd[1200], out[4096];
	snprintf(cmd, sizeof(cmd), "echo %s", msg); /* the injection: msg goes to the shell */
	FILE *p = popen(cmd, "r");
	size_t n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
	if (p)
		pclose(p);
	out[n] = '\0';
	reply(fd, 200, out, keep);
}

/* The overflow: name is copied into buf with no bounds check. */
__attribute__((noinline)) static void hello(int fd, const char *name, int keep)
{
	char buf[64];
	strcpy(buf, "hello ");
	strcat(buf, name);
	strcat(buf, "\n");
	reply(fd, 200, buf, keep);
}

/* The escalation: strncmp over the length of the key given. */
static void admin(int fd, const char *key, int keep)
{
	char body[64];
	if (strncmp(key, ADMIN_KEY, strlen(key)) || setresuid(0, 0, 0)) {
		reply(fd, 404, "no\n", keep);
		return;
	}
	snprintf(body, sizeof(body), "admin: uid %d\n", (int)getuid());
	reply(fd, 200, body, keep);
}

/* The exhaustion: the size comes from the request, unbounded. */
static void cache(int fd, const char *mb, int keep)
{
	size_t n = (size_t)atol(mb) << 20;
	char *p = malloc(n ? n : 1);
	if (!p) {
		reply(fd, 404, "no memory\n", keep);
		return;
	}
	for (size_t i = 0; i < n; i += 4096) /* every page, as a real fill would */
		((volatile char *)p)[i] = 1;
	reply(fd, 200, "cached\n", keep);
	free(p);
}

static int count(void)
{
	FILE *f = fopen(LOG, "r");
	int n = 0, c;
	while (f && (c = fgetc(f)) != EOF)
		n += c == '\n';
	if (f)
		fclose(f);
	return n;
}

static void handle(int fd, char *path, int keep)
{
	char *q = strchr(path, '?');
	char *arg = q ? strchr(q, '=') : NULL;
	if (q)
		*q = '\0';
	if (arg)
		url_decode(++arg);
	char body[64];
	if (!strcmp(path, "/")) {
		reply(fd, 200, "hello from vulnsrv\n", keep);
	} else if (!strcmp(path, "/echo") && arg) {
		echo(fd, arg, keep);
	} else if (!strcmp(path, "/hello") && arg) {
		hello(fd, arg, keep);
	} else if (!strcmp(path, "/admin") && arg) {
		admin(fd, arg, keep);
	} else if (!strcmp(path, "/cache") && arg) {
		cache(fd, arg, keep);
	} else if (!strcmp(path, "/sleep") && arg) {
		long ms = atol(arg);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
		reply(fd, 200, "slept\n", keep);
	} else if (!strcmp(path, "/count")) {
		snprintf(body, sizeof(body), "%d\n", count());
		reply(fd, 200, body, keep);
	} else {
		reply(fd, 404, "not found\n", keep);
	}
}

/* Requests on one connection until it closes or asks to. */
static void serve(int fd)
{
	static char buf[8192];
	size_t len = 0;
	for (;;) {
		char *end;
		while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
			if (len == sizeof(buf) - 1)
				return;
			ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
			if (n <= 0)
				return;
			len += (size_t)n;
		}
		*end = '\0';
		size_t used = (size_t)(end + 4 - buf);
		char *eol = strstr(buf, "\r\n");
		if (eol)
			*eol = '\0';
		log_line(buf);
		int keep = strstr(buf, "HTTP/1.1") && !(eol && strcasestr(eol + 2, "connection: close"));
		char *path = strchr(buf, ' ');
		char *sp = path ? strchr(path + 1, ' ') : NULL;
		if (!path || !sp) {
			reply(fd, 404, "bad request\n", 0);
			return;
		}
		*sp = '\0';
		handle(fd, path + 1, keep);
		if (!keep)
			return;
		memmove(buf, buf + used, len - used);
		len -= used;
	}
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8000, one = 1;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 16)) {
		perror("vulnsrv");
		return 1;
	}
	log_fd = open(LOG, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		perror("vulnsrv: " LOG);
		return 1;
	}
	signal(SIGCHLD, SIG_IGN); /* no zombies */
	printf("vulnsrv: listening on %d\n", port);
	fflush(stdout);
	for (;;) {
		int fd = accept(s, NULL, NULL);
		if (fd < 0)
			continue;
		if (fork() == 0) {
			close(s);
			/* Root's privileges are not needed to serve, but kept
			 * (the saved uid) "for later": the bug /admin uses. */
			if (setresuid(USER, USER, 0))
				_exit(1);
			serve(fd);
			_exit(0);
		}
		close(fd);
	}
}
