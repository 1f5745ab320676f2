/* The shield's decisions that need no guest (src/svc/shield/rules.c):
 * HTTP/1.1 framing of requests and replies (lengths, chunked bodies,
 * lying or partial headers), which connections and requests are tried,
 * and rules files refused with their reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "svc/shield/rules.h"

static size_t req_len(const char *s)
{
	return shield_http_request_len((const uint8_t *)s, strlen(s));
}

static void test_request_framing(void **state)
{
	(void)state;
	assert_int_equal(req_len("GET / HTTP/1.1\r\nHost: x\r\n"), 0); /* headers not done */
	assert_int_equal(req_len("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 27);
	/* a pipelined second request is not part of the first */
	assert_int_equal(req_len("GET / HTTP/1.1\r\n\r\nGET /a HTTP/1.1\r\n\r\n"), 18);
	const char *post = "POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello";
	assert_int_equal(req_len(post), strlen(post));
	assert_int_equal(shield_http_request_len((const uint8_t *)post, strlen(post) - 1), 0);
	assert_int_equal(req_len("POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\nhello"), (size_t)-1);
	assert_int_equal(req_len("POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"),
			 (size_t)-1);
	const char *chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			      "5\r\nhello\r\n0\r\n\r\n";
	assert_int_equal(req_len(chunked), strlen(chunked));
	assert_int_equal(shield_http_request_len((const uint8_t *)chunked, strlen(chunked) - 2), 0);
	assert_int_equal(req_len("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
			 (size_t)-1);
}

static bool done(const char *s)
{
	return shield_http_reply_done((const uint8_t *)s, strlen(s));
}

static void test_reply_framing(void **state)
{
	(void)state;
	assert_true(done("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"));
	assert_false(done("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi"));
	assert_true(done("HTTP/1.1 204 No Content\r\n\r\n"));
	assert_false(done("HTTP/1.0 200 OK\r\n\r\nuntil the end")); /* ends at EOF */
	assert_false(done("garbage\r\n\r\n"));
	assert_true(done("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"));
}

static struct shield_rules *load_text(const char *text, char *err, size_t errlen)
{
	char path[] = "/tmp/keel-shield-rulesXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct shield_rules *r = shield_rules_load(path, err, errlen);
	unlink(path);
	return r;
}

static void test_picks(void **state)
{
	(void)state;
	char err[512];
	struct shield_rules *r = load_text(
		"{\"try\": {\"from\": [\"10.*\"], \"payload\": [\"*;*\", \"*..*\"], \"sample\": 0.25,"
		" \"detector\": {\"max_bytes\": 100, \"nonprintable\": true}}, \"ports\": [8080]}",
		err, sizeof(err));
	assert_non_null(r);
	const char *why = NULL;
	assert_true(shield_pick_conn(r, "10.1.2.3", 0.9, &why));
	assert_string_equal(why, "from");
	assert_true(shield_pick_conn(r, "127.0.0.1", 0.1, &why));
	assert_string_equal(why, "sample");
	assert_false(shield_pick_conn(r, "127.0.0.1", 0.5, &why));
	const uint8_t ok[] = "GET /a HTTP/1.1\r\n\r\n", semi[] = "GET /a;id HTTP/1.1\r\n\r\n";
	const uint8_t bin[] = {'G', 'E', 'T', ' ', 0x90, 0x90, 0};
	assert_false(shield_pick_request(r, ok, sizeof(ok) - 1, &why));
	assert_true(shield_pick_request(r, semi, sizeof(semi) - 1, &why));
	assert_string_equal(why, "payload");
	assert_true(shield_pick_request(r, bin, 6, &why));
	assert_string_equal(why, "detector");
	uint8_t big[200];
	memset(big, 'a', sizeof(big));
	assert_true(shield_pick_request(r, big, sizeof(big), &why));
	assert_true(shield_port_shielded(r, 8080));
	assert_false(shield_port_shielded(r, 8081));
	shield_rules_free(r);
}

static void test_bad_rules(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"[]", "must be a JSON object"},
		{"{\"tries\": {}}", "tries: unknown key"},
		{"{\"try\": {\"sample\": 2}}", "try.sample must be"},
		{"{\"try\": {\"detector\": {\"max\": 1}}}", "try.detector.max: unknown key"},
		{"{\"protocol\": \"ftp\"}", "protocol must be"},
		{"{\"on_timeout\": \"maybe\"}", "on_timeout must be"},
		{"{\"verdict_ms\": 100, \"settle_ms\": 200}", "settle_ms must be less"},
		{"{\"ports\": [0]}", "ports[0] must be"},
		{"{\"exec_allow\": [1]}", "exec_allow[0] is not a string"},
		{"{\"uid\": \"some\"}", "uid must be"},
		{"{\"uid\": 0}", "uid must be"},
		{"{\"settle_until_idle\": 1}", "settle_until_idle must be"},
		{"{\"snapshot_dir\": []}", "snapshot_dir must be a string"},
		{"{\"a\": 1, \"a\": 2}", "duplicate"},
		{"{", "1:"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "";
		assert_null(load_text(cases[i].text, err, sizeof(err)));
		if (!strstr(err, cases[i].want))
			fail_msg("%s: got '%s', want '%s'", cases[i].text, err, cases[i].want);
	}
}

/* The defaults of the newer keys, and each uid mode read back. */
static void test_uid_and_settle(void **state)
{
	(void)state;
	char err[512] = "";
	struct shield_rules *r = load_text("{}", err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(r->uid, SHIELD_UID_GAIN);
	assert_true(r->settle_until_idle);
	assert_null(r->snapshot_dir);
	shield_rules_free(r);
	static const struct {
		const char *text;
		enum shield_uid uid;
	} modes[] = {{"{\"uid\": \"any\"}", SHIELD_UID_ANY},
		     {"{\"uid\": \"off\"}", SHIELD_UID_OFF},
		     {"{\"uid\": \"gain\"}", SHIELD_UID_GAIN}};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		r = load_text(modes[i].text, err, sizeof(err));
		assert_non_null(r);
		assert_int_equal(r->uid, modes[i].uid);
		shield_rules_free(r);
	}
	r = load_text("{\"settle_until_idle\": false, \"snapshot_dir\": \"/var/keel\"}", err,
		      sizeof(err));
	assert_non_null(r);
	assert_false(r->settle_until_idle);
	assert_string_equal(r->snapshot_dir, "/var/keel");
	json_t *j = shield_rules_json(r);
	assert_string_equal(json_string_value(json_object_get(j, "snapshot_dir")), "/var/keel");
	assert_string_equal(json_string_value(json_object_get(j, "uid")), "gain");
	json_decref(j);
	shield_rules_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_framing),
		cmocka_unit_test(test_reply_framing),
		cmocka_unit_test(test_picks),
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_uid_and_settle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
