/* The analysis graph without a guest (src/svc/analyze/): events made up
 * by hand, then --why.  The attacker's connection is found through a
 * process and through a pipe; a benign connection and a cron job that
 * wrote a file an ancestor read only after the fork are pruned by time
 * order; --at before the write finds none; the log's frames are counted
 * per direction, and hostile frames are never read past their end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "svc/analyze/analyze_int.h"

static struct analyze *fresh(void)
{
	struct analyze *a = calloc(1, sizeof(*a));
	assert_non_null(a);
	a->trap_id = a->event_id = -1;
	a->d.alerts = json_array();
	return a;
}

static uint32_t proc(struct analyze *a, int32_t tgid, uint32_t parent, uint64_t fork,
		     const char *comm)
{
	struct an_proc *p = an_push(&a->d.procs, sizeof(*p));
	assert_non_null(p);
	*p = (struct an_proc){.tgid = tgid, .parent = parent, .first = fork, .fork_icount = fork,
			      .forked = parent != AN_NONE, .exe = AN_NONE};
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	return (uint32_t)a->d.procs.n - 1;
}

static uint32_t conn(struct analyze *a, const char *from, const char *to)
{
	char name[128];
	snprintf(name, sizeof(name), "tcp %s>%s", from, to);
	uint32_t o = an_obj_intern(&a->d.objs, OBJ_CONN, name);
	struct an_obj *ob = an_obj(&a->d.objs, o);
	snprintf(ob->from, sizeof(ob->from), "%s", from);
	snprintf(ob->to, sizeof(ob->to), "%s", to);
	ob->accepted = true;
	return o;
}

static void ev(struct analyze *a, enum an_kind k, uint32_t p, uint32_t o, uint64_t t)
{
	struct an_event *e = an_push(&a->d.ev, sizeof(*e));
	assert_non_null(e);
	*e = (struct an_event){.icount = t, .last = t, .kind = k, .proc = p, .obj = o, .num = 10,
			       .count = 1};
}

static bool has_pid(const json_t *nodes, int pid)
{
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n)
		if (json_integer_value(json_object_get(n, "pid")) == pid)
			return true;
	return false;
}

static void test_why(void **state)
{
	(void)state;
	struct analyze *a = fresh();
	uint32_t init = proc(a, 1, AN_NONE, 1, "init");
	uint32_t sh = proc(a, 10, init, 20, "sh");
	uint32_t httpd = proc(a, 5, init, 30, "httpd");
	uint32_t cron = proc(a, 11, sh, 100, "sh");
	uint32_t nc = proc(a, 12, sh, 200, "nc");
	uint32_t cat = proc(a, 13, sh, 600, "cat");
	uint32_t evil = conn(a, "10.0.2.2:5000", "10.0.2.15:4444");
	uint32_t web = conn(a, "10.0.2.2:6000", "10.0.2.15:80");
	uint32_t passwd = an_obj_intern(&a->d.objs, OBJ_FILE, "/etc/passwd");
	uint32_t status = an_obj_intern(&a->d.objs, OBJ_FILE, "/root/status");
	uint32_t shadow = an_obj_intern(&a->d.objs, OBJ_FILE, "/etc/shadow");
	uint32_t pipe = an_obj_intern(&a->d.objs, OBJ_PIPE, "pipe:[7]");
	uint32_t tty = an_obj_intern(&a->d.objs, OBJ_CONSOLE, "/dev/console");
	ev(a, AN_READ, sh, tty, 50);
	ev(a, AN_WRITE, cron, status, 150);
	ev(a, AN_READ, httpd, web, 220);
	ev(a, AN_WRITE, cron, status, 250);
	ev(a, AN_READ, sh, status, 300); /* after nc was forked: pruned */
	ev(a, AN_ACCEPT, nc, evil, 400);
	ev(a, AN_READ, nc, evil, 410);
	ev(a, AN_WRITE, nc, passwd, 420);
	ev(a, AN_WRITE, httpd, status, 430); /* after everything that matters */
	ev(a, AN_WRITE, nc, pipe, 610);
	ev(a, AN_READ, cat, pipe, 620);
	ev(a, AN_WRITE, cat, shadow, 630);

	char err[256];
	json_t *ans = analyze_why(a, "/etc/passwd", 0, err, sizeof(err));
	assert_non_null(ans);
	json_t *conns = json_object_get(ans, "connections");
	assert_int_equal(json_array_size(conns), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(conns, 0), "client_port")),
			 5000);
	json_t *chain = json_object_get(ans, "chain");
	assert_int_equal(json_array_size(chain), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(chain, 0), "pid")), 12);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(chain, 2), "pid")), 1);
	json_t *g = json_object_get(ans, "graph");
	assert_false(has_pid(json_object_get(g, "nodes"), 11)); /* cron */
	assert_false(has_pid(json_object_get(g, "nodes"), 5)); /* httpd */
	assert_true(json_integer_value(json_object_get(g, "pruned_edges")) > 0);
	assert_int_equal(json_array_size(json_object_get(ans, "other_sources")), 1); /* console */
	json_decref(ans);

	/* through a pipe and a second process */
	ans = analyze_why(a, "/etc/shadow", 0, err, sizeof(err));
	assert_non_null(ans);
	conns = json_object_get(ans, "connections");
	assert_int_equal(json_array_size(conns), 1);
	json_t *flow = json_object_get(json_array_get(conns, 0), "flow");
	assert_int_equal(json_array_size(flow), 4); /* connection, nc, pipe, cat */
	json_decref(ans);

	/* before the write there is none; an unknown path is refused */
	assert_null(analyze_why(a, "/etc/passwd", 419, err, sizeof(err)));
	assert_non_null(strstr(err, "not written at or before icount 419"));
	assert_null(analyze_why(a, "/nowhere", 0, err, sizeof(err)));
	/* the cron file, asked about at 200: only the cron job and its ancestors */
	ans = analyze_why(a, "/root/status", 200, err, sizeof(err));
	assert_non_null(ans);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(ans, "write"), "pid")),
			 11);
	assert_int_equal(json_array_size(json_object_get(ans, "connections")), 0);
	json_decref(ans);
	analyze_free(a);
}

static size_t tcp_frame(uint8_t *f, unsigned sport, unsigned payload)
{
	memset(f, 0, 14 + 40 + payload);
	f[12] = 0x08;
	uint8_t *ip = f + 14, *tcp = ip + 20;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((40 + payload) >> 8);
	ip[3] = (uint8_t)(40 + payload);
	ip[9] = 6;
	memcpy(ip + 12, (uint8_t[]){10, 0, 2, 2, 10, 0, 2, 15}, 8);
	tcp[0] = (uint8_t)(sport >> 8);
	tcp[1] = (uint8_t)sport;
	tcp[3] = 80;
	tcp[12] = 5 << 4;
	return 14 + 40 + payload;
}

static void test_frames(void **state)
{
	(void)state;
	struct analyze *a = fresh();
	uint8_t f[2048];
	size_t n = tcp_frame(f, 6000, 100);
	an_frame(&a->d, 10, 1000, f, n);
	an_frame(&a->d, 20, 2000, f, tcp_frame(f, 6000, 0));
	uint32_t o = an_obj_find(&a->d.objs, "tcp 10.0.2.2:6000>10.0.2.15:80");
	assert_int_not_equal(o, AN_NONE);
	assert_int_equal(an_obj(&a->d.objs, o)->frames, 2);
	assert_int_equal(an_obj(&a->d.objs, o)->frame_bytes, 100);
	/* lies about lengths: counted as frames, never read past the end */
	n = tcp_frame(f, 7000, 10);
	an_frame(&a->d, 30, 3000, f, n - 1); /* IP total length beyond the frame */
	f[14 + 20 + 12] = 15 << 4; /* TCP header longer than the packet */
	an_frame(&a->d, 40, 4000, f, n);
	assert_int_equal(an_obj_find(&a->d.objs, "tcp 10.0.2.2:7000>10.0.2.15:80"), AN_NONE);
	srand(1);
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)rand() % 120;
		uint8_t *buf = malloc(len ? len : 1);
		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rand();
		if (len > 14) {
			buf[12] = 8, buf[13] = 0;
			buf[14] = (uint8_t)(0x40 | (buf[14] & 15));
		}
		an_frame(&a->d, 50, 5000, buf, len);
		free(buf);
	}
	assert_int_equal(a->d.frames, 4 + 20000);
	analyze_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_why),
		cmocka_unit_test(test_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
