/* The detector's pieces that need no guest (src/svc/ids/): frames parsed
 * defensively (every header length checked against the frame, random
 * bytes never read past the end), flow accounting (who opened it, bytes
 * out from the remote's ACKs), the process table's deletion keeping every
 * other entry findable, and policy files refused with their reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "svc/ids/ids_int.h"

/* An Ethernet + IPv4 + TCP frame from remote to guest. */
static size_t tcp_frame(uint8_t *f, uint8_t flags, uint32_t ack, unsigned payload)
{
	memset(f, 0, 14 + 20 + 20 + payload);
	f[12] = 0x08;
	uint8_t *ip = f + 14, *tcp = ip + 20;
	ip[0] = 0x45;
	unsigned total = 20 + 20 + payload;
	ip[2] = (uint8_t)(total >> 8);
	ip[3] = (uint8_t)total;
	ip[9] = 6;
	memcpy(ip + 12, (uint8_t[]){10, 0, 2, 2}, 4);
	memcpy(ip + 16, (uint8_t[]){10, 0, 2, 15}, 4);
	tcp[0] = 0x1f; tcp[1] = 0x90; /* 8080 */
	tcp[2] = 0x00; tcp[3] = 0x50; /* 80 */
	tcp[8] = (uint8_t)(ack >> 24); tcp[9] = (uint8_t)(ack >> 16);
	tcp[10] = (uint8_t)(ack >> 8); tcp[11] = (uint8_t)ack;
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	return 14 + total;
}

static void test_frame_parse(void **state)
{
	(void)state;
	uint8_t f[2048];
	struct ids_frame fr;
	size_t len = tcp_frame(f, TCP_SYN, 0, 10);
	assert_int_equal(frame_parse(f, len, &fr), 0);
	assert_int_equal(fr.proto, 6);
	assert_int_equal(fr.sport, 8080);
	assert_int_equal(fr.dport, 80);
	assert_int_equal(fr.src, 0x0a000202);
	assert_int_equal(fr.payload, 10);
	/* every truncation is refused, never read past */
	for (size_t n = 0; n < len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, f, n);
		assert_int_equal(frame_parse(copy, n, &fr), -1);
		free(copy);
	}
	/* lying lengths */
	f[14] = 0x44; /* IHL 16 bytes */
	assert_int_equal(frame_parse(f, len, &fr), -1);
	f[14] = 0x4f; /* IHL 60: past the TCP header's room */
	assert_int_equal(frame_parse(f, len, &fr), -1);
	f[14] = 0x45;
	f[14 + 20 + 12] = 15 << 4; /* data offset 60 > segment */
	assert_int_equal(frame_parse(f, len, &fr), -1);
	f[14 + 20 + 12] = 5 << 4;
	f[14 + 6] = 0x00; f[14 + 7] = 0x08; /* a later fragment */
	assert_int_equal(frame_parse(f, len, &fr), -1);
	/* random bytes: no crash (ASan checks the reads) */
	srand(7);
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)rand() % 200;
		uint8_t *r = malloc(n ? n : 1);
		for (size_t k = 0; k < n; k++)
			r[k] = (uint8_t)rand();
		if (n > 14 && (i & 1)) {
			r[12] = 0x08; r[13] = 0;
			r[14] = (uint8_t)(0x40 | (r[14] & 15));
		}
		frame_parse(r, n, &fr);
		free(r);
	}
}

static void test_flows(void **state)
{
	(void)state;
	struct ids_flows *t = calloc(1, sizeof(*t));
	uint8_t f[2048];
	struct ids_frame fr;
	bool is_new;
	/* the guest connects out: the remote's SYN-ACK opens the flow */
	assert_int_equal(frame_parse(f, tcp_frame(f, TCP_SYN | TCP_ACK, 1001, 0), &fr), 0);
	struct ids_flow *fl = flows_account(t, &fr, 1, &is_new);
	assert_true(is_new);
	assert_false(fl->inbound);
	/* the remote acknowledges 5000 bytes, then sends 300 */
	frame_parse(f, tcp_frame(f, TCP_ACK, 6001, 0), &fr);
	fl = flows_account(t, &fr, 2, &is_new);
	assert_false(is_new);
	frame_parse(f, tcp_frame(f, TCP_ACK, 6001, 300), &fr);
	fl = flows_account(t, &fr, 3, &is_new);
	assert_int_equal(fl->bytes_out, 5000);
	assert_int_equal(fl->bytes_in, 300);
	/* an old ACK does not count backwards */
	frame_parse(f, tcp_frame(f, TCP_ACK, 2001, 0), &fr);
	fl = flows_account(t, &fr, 4, &is_new);
	assert_int_equal(fl->bytes_out, 5000);
	/* a bare SYN from outside: inbound; more flows than slots: no overflow */
	frame_parse(f, tcp_frame(f, TCP_SYN, 0, 0), &fr);
	for (int i = 0; i < 3 * IDS_MAX_FLOWS; i++) {
		fr.sport = (uint16_t)(1000 + i);
		fl = flows_account(t, &fr, 5, &is_new);
		assert_true(is_new && fl->inbound);
	}
	free(t);
}

static void test_procs(void **state)
{
	(void)state;
	struct ids_procs *t = calloc(1, sizeof(*t));
	/* pids that collide, then deletions in the middle of their run */
	for (int32_t pid = 1; pid <= 3000; pid++)
		assert_non_null(procs_get(t, pid, pid - 1));
	for (int32_t pid = 2; pid <= 3000; pid += 3)
		procs_remove(t, pid);
	for (int32_t pid = 1; pid <= 3000; pid++) {
		struct ids_proc *p = procs_find(t, pid);
		if ((pid - 2) % 3 == 0)
			assert_null(p);
		else
			assert_true(p && p->pid == pid && p->ppid == pid - 1);
	}
	/* a child inherits its parent's credit */
	procs_find(t, 1)->credit_ns = 42;
	assert_int_equal(procs_get(t, 5000, 1)->credit_ns, 42);
	/* full: NULL, not an overflow */
	for (int32_t pid = 10000; pid < 10000 + IDS_MAX_PROCS; pid++)
		procs_get(t, pid, 0);
	assert_null(procs_get(t, 99999, 0));
	free(t);
}

static char *write_tmp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/test_ids_%d.json", (int)getpid());
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void refused(const char *text, const char *want)
{
	char err[512] = "";
	char *path = write_tmp(text);
	struct ids_policy *p = ids_policy_load(path, err, sizeof(err));
	unlink(path);
	if (p || !strstr(err, want))
		fail_msg("policy %s: got %s, want an error with '%s'", text, p ? "accepted" : err, want);
}

static void test_policy(void **state)
{
	(void)state;
	refused("{\"policies\": {\n\"system_files\": {},\n}}", ":3:1: ");
	refused("{\"policies\": {\"nosuch\": {}}}", "policies.nosuch: unknown policy");
	refused("{\"policies\": {\"network\": {\"listen\": []}}}", "listen: unknown key");
	refused("{\"policies\": {\"network\": {\"response\": \"explode\"}}}", "response must be");
	refused("{\"policies\": {\"cpu_no_person\": {\"burst_s\": 0}}}", "burst_s must be");
	refused("{\"policies\": {\"system_files\": {\"paths\": [1.5]}}}", "paths: element 0");
	refused("{\"policies\": {\"kernel_integrity\": {\"response\": \"kill\"}}}", "names no process");
	refused("{\"policies\": {}, \"policies\": {}}", "duplicate");
	refused("{\"polices\": {}}", "polices: unknown key");
	refused("[]", "must be a JSON object");
	char err[512];
	char *path = write_tmp("{\"policies\": {\"system_files\": {\"paths\": [\"/etc/*\"]},"
			       " \"network\": {\"listen_allow\": [22, \"80\"], \"response\": \"kill\"}}}");
	struct ids_policy *p = ids_policy_load(path, err, sizeof(err));
	unlink(path);
	assert_non_null(p);
	assert_true(p->on[M_SYSTEM_FILES] && p->on[M_NETWORK] && !p->on[M_CPU_NO_PERSON]);
	assert_true(glob_list_match(&p->write_paths, "/etc/x/y"));
	assert_false(glob_list_match(&p->write_paths, "/bin/sh"));
	assert_true(glob_list_match(&p->listen_allow, "22") && glob_list_match(&p->listen_allow, "80"));
	assert_true(ids_policy_changes_guest(p));
	assert_false(ids_policy_clones(p));
	assert_true(p->disk_writes); /* system_files watches the disk unless told not to */
	ids_policy_free(p);

	refused("{\"policies\": {\"system_files\": {\"disk\": 1}}}", "disk must be true or false");
	refused("{\"policies\": {\"process_flood\": {\"max_descendants\": 1}}}",
		"max_descendants must be");
	refused("{\"policies\": {\"process_flood\": {\"max_kids\": 9}}}", "max_kids: unknown key");
	refused("{\"policies\": {\"kernel_integrity\": {\"settle_s\": -1}}}", "settle_s must be");
	refused("{\"policies\": {\"kernel_integrity\": {\"settle_insns\": \"1G\"}}}",
		"settle_insns must be");
	refused("{\"policies\": {\"lie_detector\": {\"settle_s\": 5}}}", "settle_s: unknown key");
	/* kernel_integrity's text survives modules parsed after it */
	path = write_tmp("{\"policies\": {\"kernel_integrity\": {\"text\": true},"
			 " \"system_files\": {\"disk\": false, \"explain_s\": 30},"
			 " \"process_flood\": {\"max_new\": 64, \"response\": \"clone\"}}}");
	p = ids_policy_load(path, err, sizeof(err));
	unlink(path);
	assert_non_null(p);
	assert_true(p->kernel_text);
	assert_true(p->settle_s == 600 && p->settle_insns == 6e9); /* a boot's churn is absorbed */
	assert_false(p->disk_writes);
	assert_true(p->explain_s == 30);
	assert_int_equal(p->flood_new, 64);
	assert_int_equal(p->flood_descendants, 256);
	assert_true(ids_policy_clones(p) && !ids_policy_changes_guest(p));
	ids_policy_free(p);
}

/* shadow_burst's exemption of authentication programs: by the resolved
 * executable, busybox never by default, nothing inherited by a child
 * that has exec'd a program of its own. */
static void test_shadow_exempt(void **state)
{
	(void)state;
	refused("{\"policies\": {\"shadow_burst\": {\"exempt\": \"/usr/sbin/sshd\"}}}",
		"exempt: must be an array");
	refused("{\"policies\": {\"shadow_burst\": {\"exempts\": []}}}", "exempts: unknown key");
	refused("{\"policies\": {\"raw_sockets\": {\"exempt\": []}}}", "exempt: unknown key");
	char err[512];
	char *path = write_tmp("{\"policies\": {\"shadow_burst\": {}}}");
	struct ids_policy *pol = ids_policy_load(path, err, sizeof(err));
	unlink(path);
	assert_non_null(pol);
	assert_true(ids_policy_exempt(pol, "/usr/lib/openssh/sshd-session"));
	assert_true(ids_policy_exempt(pol, "/usr/sbin/sshd"));
	assert_true(ids_policy_exempt(pol, "/usr/sbin/unix_chkpwd"));
	assert_true(ids_policy_exempt(pol, "/usr/bin/login"));
	assert_false(ids_policy_exempt(pol, "/bin/busybox")); /* every applet of the default guest */
	assert_false(ids_policy_exempt(pol, "/usr/bin/bash"));
	assert_false(ids_policy_exempt(pol, "/tmp/sshd-session")); /* a path, not a name */
	assert_false(ids_policy_exempt(pol, "")); /* unknown: judged */

	struct ids *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	d->p = pol;
	const uint64_t s = 1000000000ull;
	/* sshd (50) -> sshd-session (100) reads /etc/shadow through PAM, then
	 * its key exchange keeps it busy: neither it nor sshd holds a secret */
	procs_get(&d->procs, 50, 1);
	struct ids_proc *sess = procs_get(&d->procs, 100, 50);
	detect_secret_read(d, sess, "/usr/lib/openssh/sshd-session", 10 * s);
	assert_int_equal(sess->secret_ns, 0);
	assert_int_equal(procs_find(&d->procs, 50)->secret_ns, 0);
	sess->burst_start_ns = 11 * s;
	assert_false(detect_shadow_suspect(d, sess, "/usr/lib/openssh/sshd-session"));
	/* the root shell it started after the login is bash, not sshd-session:
	 * it reads /etc/shadow and burns CPU, a cracker like any other */
	struct ids_proc *sh = procs_get(&d->procs, 101, 100);
	detect_secret_read(d, sh, "/usr/bin/bash", 20 * s);
	assert_int_equal(sh->secret_ns, 20 * s);
	sh->burst_start_ns = 21 * s;
	assert_true(detect_shadow_suspect(d, sh, "/usr/bin/bash"));
	/* the read marked sshd-session too (the reader's parent), yet its own
	 * burst is authentication's work, and the mark is forgotten */
	assert_int_equal(sess->secret_ns, 20 * s);
	sess->burst_start_ns = 21 * s;
	assert_false(detect_shadow_suspect(d, sess, "/usr/lib/openssh/sshd-session"));
	assert_int_equal(sess->secret_ns, 0);
	assert_int_equal(d->exempt_reads, 1);
	assert_int_equal(d->exempt_bursts, 1);
	/* the default guest's cracker: a busybox shell loop whose busybox cat
	 * reads; the loop is suspect, within within_s of the read only */
	struct ids_proc *loop = procs_get(&d->procs, 200, 1);
	struct ids_proc *cat = procs_get(&d->procs, 201, 200);
	detect_secret_read(d, cat, "/bin/busybox", 30 * s);
	loop->burst_start_ns = 31 * s;
	assert_true(detect_shadow_suspect(d, loop, "/bin/busybox"));
	loop->burst_start_ns = 30 * s + (uint64_t)(pol->shadow_within_s * (double)s) + 1;
	assert_false(detect_shadow_suspect(d, loop, "/bin/busybox"));
	/* an unknown executable is not exempt */
	struct ids_proc *who = procs_get(&d->procs, 300, 1);
	detect_secret_read(d, who, "", 40 * s);
	who->burst_start_ns = 41 * s;
	assert_true(detect_shadow_suspect(d, who, ""));
	free(d);
	ids_policy_free(pol);

	/* a policy's own list replaces the defaults */
	path = write_tmp("{\"policies\": {\"shadow_burst\": {\"exempt\": [\"/opt/auth/*\"]}}}");
	pol = ids_policy_load(path, err, sizeof(err));
	unlink(path);
	assert_non_null(pol);
	assert_true(ids_policy_exempt(pol, "/opt/auth/check"));
	assert_false(ids_policy_exempt(pol, "/usr/sbin/sshd"));
	ids_policy_free(pol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_parse),
		cmocka_unit_test(test_flows),
		cmocka_unit_test(test_procs),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_shadow_exempt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
