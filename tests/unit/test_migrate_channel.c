/* The migration channel (svc/migrate/channel.c): the handshake and the
 * chunks each way, and each way a stream is refused: a wrong key, an
 * edited chunk, an edited length, a replayed stream, a stream cut short.
 *
 * The two ends run in two processes (fork) over a socketpair; a relay in
 * the test process sits between them where the test needs to see or
 * change the bytes. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "svc/migrate/channel.h"

static const uint8_t KEY_A[MIG_KEY_BYTES] = {1, 2, 3};
static const uint8_t KEY_B[MIG_KEY_BYTES] = {1, 2, 4};

/* What an end saw, reported to the test through a pipe. */
struct outcome {
	int rc; /* 0: every step worked */
	unsigned messages; /* received (the destination) */
	char err[256];
};

static void report(int fd, const struct outcome *o)
{
	ssize_t n = write(fd, o, sizeof(*o));
	(void)n;
}

/* The source: handshake, `count` messages of `size` bytes, the last one
 * final unless `cut` (then it just closes). */
static void source(int fd, int out, const uint8_t *key, unsigned count, size_t size, bool cut)
{
	struct mig_channel c;
	struct outcome o = {0};
	uint8_t *body = calloc(1, size + 1);
	o.rc = chan_handshake(&c, fd, key, true);
	for (unsigned i = 0; o.rc == 0 && i < count; i++) {
		memset(body, (int)i, size);
		o.rc = chan_send(&c, (uint8_t)(1 + i % 5), body, size, !cut && i + 1 == count);
	}
	snprintf(o.err, sizeof(o.err), "%s", c.err);
	chan_free(&c);
	free(body);
	report(out, &o);
	close(fd);
	_exit(0);
}

/* The destination: handshake, then messages until the final one, each
 * checked against what source() sends. */
static void destination(int fd, int out, const uint8_t *key)
{
	struct mig_channel c;
	struct outcome o = {0};
	o.rc = chan_handshake(&c, fd, key, false);
	while (o.rc == 0 && !c.rx_final) {
		uint8_t type;
		const uint8_t *body;
		size_t len;
		if (chan_recv(&c, &type, &body, &len) < 0) {
			o.rc = -1;
			break;
		}
		unsigned i = o.messages++;
		if (type != 1 + i % 5 || (len && body[len - 1] != (uint8_t)i)) {
			snprintf(c.err, sizeof(c.err), "message %u is not what was sent", i);
			o.rc = -1;
		}
	}
	snprintf(o.err, sizeof(o.err), "%s", c.err);
	chan_free(&c);
	report(out, &o);
	close(fd);
	_exit(0);
}

struct end {
	pid_t pid;
	int result; /* pipe: the outcome */
	int sock; /* the test's side of the socketpair */
};

static struct end start(bool is_source, const uint8_t *key, unsigned count, size_t size,
			bool cut)
{
	int sp[2], pp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	assert_int_equal(pipe(pp), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sp[1]);
		close(pp[0]);
		chan_set_timeout(sp[0], 5000);
		if (is_source)
			source(sp[0], pp[1], key, count, size, cut);
		destination(sp[0], pp[1], key);
	}
	close(sp[0]);
	close(pp[1]);
	return (struct end){pid, pp[0], sp[1]};
}

static struct outcome finish(struct end *e)
{
	struct outcome o;
	memset(&o, 0, sizeof(o));
	o.rc = -99;
	if (e->sock >= 0)
		close(e->sock);
	ssize_t n = read(e->result, &o, sizeof(o));
	assert_int_equal(n, (ssize_t)sizeof(o));
	close(e->result);
	waitpid(e->pid, NULL, 0);
	return o;
}

/* What the relay does to the bytes going from the source to the
 * destination: `byte` >= 0 flips that byte of the stream. */
struct relay {
	long flip; /* offset in the source's stream, -1: none */
	uint8_t *record; /* keep a copy of the source's bytes (NULL: no) */
	size_t recorded, cap;
};

/* Move bytes both ways until both ends hang up. */
static void relay(struct end *src, struct end *dst, struct relay *r)
{
	size_t from_src = 0;
	int a = src->sock, b = dst->sock;
	while (a >= 0 || b >= 0) {
		struct pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
		if (poll(p, 2, 10000) <= 0)
			break;
		uint8_t buf[65536];
		for (int k = 0; k < 2; k++) {
			if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			int from = k ? b : a, to = k ? a : b;
			ssize_t n = read(from, buf, sizeof(buf));
			if (n <= 0) {
				if (to >= 0)
					shutdown(to, SHUT_WR);
				close(from);
				*(k ? &b : &a) = -1;
				continue;
			}
			if (!k) {
				if (r->flip >= (long)from_src && r->flip < (long)from_src + n)
					buf[r->flip - (long)from_src] ^= 0x20;
				if (r->record && r->recorded + (size_t)n <= r->cap) {
					memcpy(r->record + r->recorded, buf, (size_t)n);
					r->recorded += (size_t)n;
				}
				from_src += (size_t)n;
			}
			if (to >= 0 && send(to, buf, (size_t)n, MSG_NOSIGNAL) != n) {
				close(to);
				*(k ? &a : &b) = -1;
			}
		}
	}
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	src->sock = dst->sock = -1;
}

static void run_pair(const uint8_t *ks, const uint8_t *kd, unsigned count, size_t size, bool cut,
		     struct relay *r, struct outcome *os, struct outcome *od)
{
	struct end s = start(true, ks, count, size, cut);
	struct end d = start(false, kd, 0, 0, false);
	relay(&s, &d, r);
	*os = finish(&s);
	*od = finish(&d);
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct relay r = {.flip = -1};
	struct outcome s, d;
	/* Big messages too: several reads per chunk. */
	run_pair(KEY_A, KEY_A, 12, 300000, false, &r, &s, &d);
	assert_int_equal(s.rc, 0);
	assert_int_equal(d.rc, 0);
	assert_int_equal(d.messages, 12);
}

static void test_wrong_key(void **state)
{
	(void)state;
	struct relay r = {.flip = -1};
	struct outcome s, d;
	run_pair(KEY_A, KEY_B, 3, 100, false, &r, &s, &d);
	assert_int_equal(s.rc, -1);
	assert_int_equal(d.rc, -1);
	assert_non_null(strstr(s.err, "the destination does not hold this key"));
	assert_non_null(strstr(d.err, "the source does not hold this key"));
	assert_int_equal(d.messages, 0);
}

/* The handshake is 44 + 44 bytes of greetings, a 24-byte header and a
 * 21-byte proof each way; the source's first message starts after its
 * greeting, header and proof: 44 + 24 + 21 = 89. */
#define SOURCE_FIRST_MESSAGE 89

static void test_flipped_byte(void **state)
{
	(void)state;
	long where[] = {SOURCE_FIRST_MESSAGE + 2, SOURCE_FIRST_MESSAGE + 4 + 7,
			SOURCE_FIRST_MESSAGE + 150, 50};
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		struct relay r = {.flip = where[i]};
		struct outcome s, d;
		run_pair(KEY_A, KEY_A, 3, 100, false, &r, &s, &d);
		assert_int_equal(d.rc, -1);
		/* A longer length waits for bytes that never come: the end of
		 * the stream then reads as a cut. */
		bool said = strstr(d.err, "failed authentication") || strstr(d.err, "claims") ||
			    strstr(d.err, "authentication failed") || strstr(d.err, "cut short");
		if (!said)
			fprintf(stderr, "flip at %ld: %s\n", where[i], d.err);
		assert_true(said);
		assert_true(d.messages < 3);
	}
}

static void test_cut_short(void **state)
{
	(void)state;
	struct relay r = {.flip = -1};
	struct outcome s, d;
	run_pair(KEY_A, KEY_A, 3, 100, true, &r, &s, &d);
	assert_int_equal(s.rc, 0);
	assert_int_equal(d.rc, -1);
	assert_int_equal(d.messages, 3);
	assert_non_null(strstr(d.err, "cut short"));
}

/* Play a recorded source stream to a fresh destination: its new nonce
 * makes new session keys, so the first chunk fails. */
static void test_replay(void **state)
{
	(void)state;
	struct relay r = {.flip = -1, .cap = 1 << 20};
	r.record = malloc(r.cap);
	struct outcome s, d;
	run_pair(KEY_A, KEY_A, 4, 1000, false, &r, &s, &d);
	assert_int_equal(d.rc, 0);
	assert_true(r.recorded > SOURCE_FIRST_MESSAGE);

	struct end d2 = start(false, KEY_A, 0, 0, false);
	/* The destination may hang up before it has all of it. */
	ssize_t n = send(d2.sock, r.record, r.recorded, MSG_NOSIGNAL);
	assert_true(n > SOURCE_FIRST_MESSAGE || n < 0);
	shutdown(d2.sock, SHUT_WR);
	uint8_t sink[4096];
	while (read(d2.sock, sink, sizeof(sink)) > 0)
		;
	struct outcome o = finish(&d2);
	assert_int_equal(o.rc, -1);
	assert_int_equal(o.messages, 0);
	assert_non_null(strstr(o.err, "authentication failed"));
	free(r.record);
}

static void test_key_files(void **state)
{
	(void)state;
	char dir[] = "/tmp/keel-migkey-XXXXXX", path[64], err[512];
	uint8_t k1[MIG_KEY_BYTES], k2[MIG_KEY_BYTES];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k", dir);
	assert_int_equal(mig_key_generate(path, err, sizeof(err)), 0);
	assert_int_equal(mig_key_generate(path, err, sizeof(err)), -1); /* never overwritten */
	assert_int_equal(mig_key_load(path, k1, err, sizeof(err)), 0);
	assert_int_equal(mig_key_load(path, k2, err, sizeof(err)), 0);
	assert_memory_equal(k1, k2, MIG_KEY_BYTES);
	chmod(path, 0644);
	assert_int_equal(mig_key_load(path, k1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "readable by others"));
	chmod(path, 0600);
	FILE *f = fopen(path, "w");
	fputs("not hex\n", f);
	fclose(f);
	assert_int_equal(mig_key_load(path, k1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a migration key"));
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	/* An end that hangs up early must fail a write, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),   cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_flipped_byte), cmocka_unit_test(test_cut_short),
		cmocka_unit_test(test_replay),      cmocka_unit_test(test_key_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
