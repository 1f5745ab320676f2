/* Introspection (src/svc/vmi/) on a bare memory view: a fake kernel built
 * in a buffer (vmi_fake.h: kallsyms tables, BTF, an Sv39 table, a task
 * list) and then made hostile: lists that cycle, pointers into MMIO, page
 * tables that loop, dentries that are their own grandparents, strings
 * without a terminator, corrupt kallsyms and BTF.  Every view must end with a
 * result marked truncated or a clear error; none may crash or hang. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmi_fake.h"

static struct vmi *attach(struct fake *f, char *err, size_t errlen)
{
	struct vmi_options o = {0};
	return vmi_attach(&f->mv, &o, err, errlen);
}

static json_t *row_of(json_t *res, int pid)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(res, "rows"), i, r)
		if (json_integer_value(json_object_get(r, "pid")) == pid)
			return r;
	return NULL;
}

static void test_attach_and_ps(void **state)
{
	struct fake *f = fake_kernel();
	char err[512] = "";
	struct vmi *v = attach(f, err, sizeof(err));
	assert_non_null(v);
	assert_int_equal(v->satp, (8ull << 60) | ((RAM_BASE + O_PGD) >> 12));
	json_t *res = vmi_view(v, "ps", NULL, err, sizeof(err));
	assert_non_null(res);
	assert_int_equal(json_array_size(json_object_get(res, "rows")), 3);
	assert_false(json_is_true(json_object_get(res, "truncated")));
	json_t *sh = row_of(res, 42), *init = row_of(res, 1);
	assert_non_null(sh);
	assert_non_null(init);
	assert_string_equal(json_string_value(json_object_get(sh, "comm")), "sh");
	assert_int_equal(json_integer_value(json_object_get(sh, "tgid")), 42);
	assert_int_equal(json_integer_value(json_object_get(sh, "ppid")), 1);
	assert_int_equal(json_integer_value(json_object_get(sh, "uid")), 1000);
	assert_int_equal(json_integer_value(json_object_get(sh, "gid")), 100);
	assert_string_equal(json_string_value(json_object_get(sh, "state")), "Z");
	assert_string_equal(json_string_value(json_object_get(init, "state")), "S");
	assert_string_equal(json_string_value(json_object_get(init, "exe")), "/bin/sh");
	assert_string_equal(json_string_value(json_object_get(init, "pgd_pa")), "0x80001000");
	/* a task past exit_mm says so: no image, and why */
	assert_true(json_is_true(json_object_get(sh, "exiting")));
	assert_false(json_is_true(json_object_get(init, "exiting")));
	assert_true(json_is_null(json_object_get(sh, "exe")));
	assert_true(json_is_null(json_object_get(sh, "pgd_pa")));
	json_decref(res);
	vmi_free(v);
	fake_free(f);
}

/* Views whose fields the fake kernel lacks are refused, naming them. */
static void test_missing_fields_refuse_views(void **state)
{
	struct fake *f = fake_kernel();
	char err[512] = "";
	struct vmi *v = attach(f, err, sizeof(err));
	assert_non_null(v);
	assert_null(vmi_view(v, "files", "1", err, sizeof(err)));
	assert_non_null(strstr(err, "task_struct.files"));
	assert_null(vmi_view(v, "net", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "sock.__sk_common.skc_family"));
	assert_null(vmi_view(v, "modules", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "CONFIG_MODULES"));
	/* mounts takes either kernel's pair of fields: the message names both */
	assert_null(vmi_view(v, "mounts", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "mnt_namespace.list"));
	assert_non_null(strstr(err, "mnt_namespace.mounts"));
	assert_null(vmi_view(v, "threads", "1", err, sizeof(err)));
	assert_non_null(strstr(err, "signal_struct.thread_head"));
	assert_null(vmi_view(v, "nosuch", NULL, err, sizeof(err)));
	json_t *info = vmi_info(v);
	assert_true(json_array_size(json_object_get(info, "missing_fields")) > 10);
	json_decref(info);
	vmi_free(v);
	fake_free(f);
}

static json_t *view_of(struct fake *f, const char *view)
{
	char err[512] = "";
	struct vmi *v = attach(f, err, sizeof(err));
	assert_non_null(v);
	json_t *res = vmi_view(v, view, NULL, err, sizeof(err));
	vmi_free(v);
	return res;
}

static json_t *ps_of(struct fake *f)
{
	return view_of(f, "ps");
}

static void test_crossview(void **state)
{
	struct fake *f = fake_kernel();
	json_t *res = view_of(f, "crossview");
	assert_non_null(res);
	assert_true(json_is_true(json_object_get(res, "consistent")));
	assert_int_equal(json_array_size(json_object_get(res, "rows")), 3);
	json_decref(res);
	/* unlink pid 42 from the task list, as a rootkit would: the IDR has it */
	put64(f, O_TASK(1) + T_TASKS, KVA(f, O_INIT) + T_TASKS);
	res = view_of(f, "crossview");
	assert_false(json_is_true(json_object_get(res, "consistent")));
	json_t *hidden = json_object_get(res, "hidden");
	assert_int_equal(json_array_size(hidden), 1);
	assert_int_equal(json_integer_value(json_array_get(hidden, 0)), 42);
	json_decref(res);
	res = ps_of(f);
	assert_int_equal(json_array_size(json_object_get(res, "rows")), 2);
	json_decref(res);
	fake_free(f);
}

/* An XArray node whose slots point back at itself, or into MMIO. */
static void test_idr_loop(void **state)
{
	struct fake *f = fake_kernel();
	for (int i = 0; i < 64; i++)
		put64(f, O_XANODE + XA_SLOTS + 8 * (uint64_t)i, KVA(f, O_XANODE) | 2);
	json_t *res = view_of(f, "crossview");
	assert_non_null(res);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	json_decref(res);
	/* one unused slot back to the node: pids 1, 2 and 42 are still read,
	 * and the node is walked once, not until the entry count runs out */
	fake_free(f);
	f = fake_kernel();
	put64(f, O_XANODE + XA_SLOTS + 8 * 63, KVA(f, O_XANODE) | 2);
	res = view_of(f, "crossview");
	assert_true(json_is_true(json_object_get(res, "truncated")));
	assert_true(json_is_true(json_object_get(res, "consistent")));
	assert_int_equal(json_array_size(json_object_get(res, "rows")), 3);
	assert_non_null(strstr(json_string_value(json_array_get(json_object_get(res, "notes"), 0)),
			       "reaches node"));
	json_decref(res);
	put64(f, O_PIDNS + IDR_HEAD, (f->kva - (1u << 30) + 0x10000000) | 2);
	put64(f, O_PGD + 8 * 0x1fd, 0xcfull);
	res = view_of(f, "crossview");
	assert_true(json_is_true(json_object_get(res, "truncated")));
	json_decref(res);
	fake_free(f);
}

/* A list that loops without coming back to init_task ends, truncated. */
static void test_task_list_cycle(void **state)
{
	struct fake *f = fake_kernel();
	put64(f, O_TASK(2) + T_TASKS, KVA(f, O_TASK(1)) + T_TASKS);
	json_t *res = ps_of(f);
	assert_non_null(res);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	/* each task once: the walk ends where the list comes back to kthreadd */
	assert_int_equal(json_array_size(json_object_get(res, "rows")), 3);
	assert_non_null(strstr(json_string_value(json_array_get(json_object_get(res, "notes"), 0)),
			       "(a cycle): cut short"));
	json_decref(res);
	fake_free(f);
}

/* A next pointer into MMIO (a gigapage over 0..1 GiB) or unmapped space. */
static void test_pointer_into_mmio(void **state)
{
	struct fake *f = fake_kernel();
	put64(f, O_PGD + 8 * 0x1fd, 0xcfull); /* the kernel's base - 1 GiB -> PA 0 */
	put64(f, O_TASK(1) + T_TASKS, f->kva - (1u << 30) + 0x10000000); /* the UART */
	json_t *res = ps_of(f);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	assert_int_equal(json_array_size(json_object_get(res, "rows")), 2);
	json_decref(res);
	put64(f, O_TASK(1) + T_TASKS, 0x0000123400000000ull); /* not canonical */
	res = ps_of(f);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	json_decref(res);
	/* a credentials pointer outside RAM: a note, the row still there */
	put64(f, O_TASK(1) + T_TASKS, KVA(f, O_TASK(2)));
	put64(f, O_TASK(0) + T_CRED, KVA(f, RAM_SIZE + 4096));
	res = ps_of(f);
	assert_int_equal(json_array_size(json_object_get(res, "rows")), 3);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	json_decref(res);
	fake_free(f);
}

/* A page table whose entries point back at itself: no leaf, no hang. */
static void test_page_table_loop(void **state)
{
	struct fake *f = fake_kernel();
	uint64_t self = ((RAM_BASE + O_PGD) >> 12) << 10 | 1; /* valid, not a leaf */
	for (int i = 0; i < 512; i++)
		put64(f, O_PGD + 8 * i, self);
	char err[512] = "";
	assert_null(attach(f, err, sizeof(err)));
	assert_non_null(strstr(err, "no page table maps the kernel"));
	fake_free(f);
}

/* A dentry that is its own grandparent: the path is cut, marked "...". */
static void test_dentry_cycle(void **state)
{
	struct fake *f = fake_kernel();
	put64(f, O_DENTRY(1), KVA(f, O_DENTRY(2)));
	json_t *res = ps_of(f);
	const char *exe = json_string_value(json_object_get(row_of(res, 1), "exe"));
	assert_non_null(exe);
	assert_memory_equal(exe, "...", 3);
	assert_true(strlen(exe) < VMI_MAX_PATH);
	json_decref(res);
	fake_free(f);
}

/* Strings that run into the end of RAM or an unmapped page. */
static void test_unterminated_string(void **state)
{
	struct fake *f = fake_kernel();
	char err[512] = "";
	struct vmi *v = attach(f, err, sizeof(err));
	assert_non_null(v);
	memset(f->ram + RAM_SIZE - 100, 'A', 100);
	char buf[64];
	assert_int_equal(kstr(v, KVA(f, RAM_SIZE - 100), buf, sizeof(buf)), 1);
	assert_int_equal(strlen(buf), 63);
	char big[512];
	assert_int_equal(kstr(v, KVA(f, RAM_SIZE - 100), big, sizeof(big)), 1);
	assert_int_equal(strlen(big), 100);
	assert_int_equal(kstr(v, KVA(f, RAM_SIZE), big, sizeof(big)), -1);
	assert_int_equal(big[0], 0);
	/* a qstr claiming 4 GiB of name */
	put32(f, O_DENTRY(2) + 12, 0xffffffffu);
	json_t *res = vmi_view(v, "ps", NULL, err, sizeof(err));
	assert_non_null(res);
	json_decref(res);
	vmi_free(v);
	fake_free(f);
}

/* Names that are not UTF-8 still give valid JSON. */
static void test_not_utf8(void **state)
{
	struct fake *f = fake_kernel();
	memcpy(f->ram + O_TASK(2) + T_COMM, "\xff\xfe" "ab\xc3", 6);
	strcpy((char *)f->ram + O_STR + 0x40 * 2, "s\x80h");
	put32(f, O_DENTRY(2) + 12, 3); /* d_name.len */
	json_t *res = ps_of(f);
	assert_string_equal(json_string_value(json_object_get(row_of(res, 42), "comm")), "??ab?");
	assert_string_equal(json_string_value(json_object_get(row_of(res, 1), "exe")), "/bin/s?h");
	char *text = json_dumps(res, 0);
	json_error_t jerr;
	json_t *back = json_loads(text, 0, &jerr);
	assert_non_null(back);
	json_decref(back);
	free(text);
	json_decref(res);
	fake_free(f);
}

static json_t *full_view(struct fake *f, const char *view, const char *arg)
{
	char err[512] = "";
	struct vmi *v = attach(f, err, sizeof(err));
	assert_non_null(v);
	json_t *res = vmi_view(v, view, arg, err, sizeof(err));
	if (!res)
		fail_msg("view %s: %s", view, err);
	vmi_free(v);
	return res;
}

static const char *row_str(json_t *res, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(json_object_get(res, "rows"), i), key));
}

/* Linux 6.4 moved the offsets and relative base after the token index
 * (Debian's 6.12 has them there): found all the same. */
static void test_kallsyms_new_order(void **state)
{
	struct fake *f = fake_kernel();
	memset(f->ram + O_KALLSYMS, 0, 0x2000);
	const struct sym syms[] = {
		{"_start", KVA(f, 0)},
		{"swapper_pg_dir", KVA(f, O_PGD)},
		{"__start_BTF", KVA(f, O_BTF)},
		{"__stop_BTF", KVA(f, O_BTF + f->btf_len)},
		{"init_task", KVA(f, O_INIT)},
		{"init_pid_ns", KVA(f, O_PIDNS)},
	};
	put_kallsyms_order(f, syms, 6, true);
	json_t *res = ps_of(f);
	assert_non_null(res);
	assert_string_equal(json_string_value(json_object_get(row_of(res, 42), "comm")), "sh");
	json_decref(res);
	fake_free(f);
}

/* The run queues, the cross-view's third source: a hidden process still
 * waiting for the CPU is found there; a run-queue tree that loops is cut
 * short with a note. */
static void test_crossview_runqueue(void **state)
{
	struct fake *f = fake_make(true);
	json_t *res = full_view(f, "crossview", NULL);
	assert_true(json_is_true(json_object_get(res, "run_queues")));
	assert_true(json_is_true(json_object_get(res, "consistent")));
	assert_true(json_is_true(json_object_get(row_of(res, 2), "run_queue")));
	assert_true(json_is_true(json_object_get(row_of(res, 42), "run_queue")));
	assert_false(json_is_true(json_object_get(row_of(res, 1), "run_queue")));
	json_decref(res);
	/* unlink kthreadd from the task list and take it out of the IDR: only
	 * the run queue still has it, and names it */
	put64(f, O_TASK(0) + T_TASKS, KVA(f, O_TASK(2)) + T_TASKS);
	put64(f, O_XANODE + XA_SLOTS + 8, 0);
	res = full_view(f, "crossview", NULL);
	json_t *hidden = json_object_get(res, "hidden");
	assert_int_equal(json_array_size(hidden), 1);
	assert_int_equal(json_integer_value(json_array_get(hidden, 0)), 2);
	assert_string_equal(json_string_value(json_object_get(row_of(res, 2), "comm")), "kthreadd");
	assert_false(json_is_true(json_object_get(row_of(res, 2), "pid_idr")));
	assert_false(json_is_true(json_object_get(row_of(res, 2), "dead")));
	json_decref(res);
	/* the same task released by its own exit (EXIT_DEAD) while still on
	 * its run queue: dead, not hidden */
	put16(f, O_TASK(1) + 84, 16 << 3);
	res = full_view(f, "crossview", NULL);
	assert_int_equal(json_array_size(json_object_get(res, "hidden")), 0);
	assert_true(json_is_true(json_object_get(row_of(res, 2), "dead")));
	json_decref(res);
	put16(f, O_TASK(1) + 84, 0);
	/* a node that is its own left child */
	put64(f, O_TASK(1) + T_SE + 16, KVA(f, O_TASK(1)) + T_SE);
	res = full_view(f, "crossview", NULL);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	json_decref(res);
	fake_free(f);
}


/* The kernel's own static-key flips leave the text hash alone; anything
 * else at a flip site changes it.  Two jump-table entries (s32 code, s32
 * target, long key, each relative to its field): a nop at text 0x2200
 * that may become a jal to 0x2300, and a jal at 0x2400 back to 0x2280
 * that may become a nop; the jal encodings are the assembler's. */
static void jump_sites(struct fake *f, const char *clean)
{
	put32(f, 0x3100, (uint32_t)(0x2200 - 0x3100));
	put32(f, 0x3104, (uint32_t)(0x2300 - 0x3104));
	put32(f, 0x3110, (uint32_t)(0x2400 - 0x3110));
	put32(f, 0x3114, (uint32_t)(0x2280 - 0x3114));
	const struct {
		uint32_t a, b;
	} cases[] = {
		{0x00000013, 0x00000013}, /* both keys off: the reference */
		{0x1000006f, 0x00000013}, /* the kernel's flips: the same hash */
		{0x00000013, 0xe81ff06f},
		{0x1000006f, 0xe81ff06f},
		{0x2000006f, 0x00000013}, /* a jal to elsewhere: foreign */
		{0x00000013, 0x00100013}, /* another instruction: foreign */
	};
	char off[65];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put32(f, 0x2200, cases[i].a);
		put32(f, 0x2400, cases[i].b);
		json_t *res = full_view(f, "integrity", NULL);
		json_t *text = json_array_get(json_object_get(res, "rows"), 0);
		assert_int_equal(json_integer_value(json_object_get(text, "jump_sites")), 2);
		const char *h = json_string_value(json_object_get(res, "kernel_sha256"));
		if (i == 0)
			snprintf(off, sizeof(off), "%s", h);
		else if (i < 4)
			assert_string_equal(h, off);
		else
			assert_string_not_equal(h, off);
		assert_string_not_equal(h, clean); /* the table itself is rodata */
		json_decref(res);
	}
}

/* Every view on a kernel that has all their fields. */
static void test_all_views(void **state)
{
	struct fake *f = fake_make(true);
	json_t *res = full_view(f, "files", "1");
	assert_int_equal(json_array_size(json_object_get(res, "rows")), 3);
	assert_string_equal(row_str(res, 0, "path"), "/bin/sh");
	assert_string_equal(row_str(res, 1, "path"), "socket:[777]");
	json_decref(res);
	res = full_view(f, "net", NULL);
	assert_int_equal(json_array_size(json_object_get(res, "rows")), 3);
	assert_string_equal(row_str(res, 0, "local"), "10.0.2.15:80");
	assert_string_equal(row_str(res, 0, "state"), "LISTEN");
	assert_string_equal(row_str(res, 0, "comm"), "init");
	assert_string_equal(row_str(res, 1, "proto"), "unix-stream");
	assert_string_equal(row_str(res, 1, "local"), "/run/sock");
	assert_string_equal(row_str(res, 2, "state"), "TIME_WAIT"); /* from the tables */
	assert_null(row_str(res, 2, "comm"));
	assert_int_equal(json_integer_value(json_object_get(res, "unowned")), 1);
	json_decref(res);
	/* the TIME_WAIT sock's chain comes back to itself: listed once */
	put64(f, O_SK(1) + 16, KVA(f, O_SK(1)) + 16);
	res = full_view(f, "net", NULL);
	assert_int_equal(json_array_size(json_object_get(res, "rows")), 3);
	assert_int_equal(json_integer_value(json_object_get(res, "unowned")), 1);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	json_decref(res);
	put64(f, O_SK(1) + 16, 1);
	/* a table that claims 2^32 buckets: no more than a sixteenth of RAM
	 * is read (Linux's own bound), a page at a time */
	put32(f, O_HASHINFO + 8, 0xffffffffu);
	res = full_view(f, "net", NULL);
	assert_string_equal(row_str(res, 2, "state"), "TIME_WAIT");
	char claim[96];
	snprintf(claim, sizeof(claim), "claims 4294967296 buckets: only %u read", RAM_SIZE / 16 / 8);
	assert_non_null(strstr(json_string_value(json_array_get(json_object_get(res, "notes"), 0)),
			       claim));
	json_decref(res);
	put32(f, O_HASHINFO + 8, 0);
	res = full_view(f, "mounts", NULL);
	assert_string_equal(row_str(res, 0, "device"), "rootfs");
	assert_string_equal(row_str(res, 0, "mountpoint"), "/");
	assert_string_equal(row_str(res, 0, "type"), "ramfs");
	json_decref(res);
	res = full_view(f, "ifaces", NULL);
	assert_string_equal(row_str(res, 0, "name"), "eth0");
	assert_string_equal(row_str(res, 0, "addr"), "52:54:00:12:34:56");
	assert_true(json_is_true(json_object_get(json_array_get(json_object_get(res, "rows"), 0),
						 "promisc")));
	json_decref(res);
	res = full_view(f, "modules", NULL);
	assert_string_equal(row_str(res, 0, "name"), "evil");
	assert_int_equal(json_array_size(json_object_get(res, "hidden")), 0);
	assert_true(json_is_true(json_object_get(json_array_get(json_object_get(res, "rows"), 0),
						 "sysfs")));
	json_decref(res);
	/* off the module list, as a rootkit takes itself: /sys/module has it */
	put_list1(f, O_MODS, O_MODS);
	res = full_view(f, "modules", NULL);
	assert_string_equal(row_str(res, 0, "name"), "evil");
	assert_false(json_is_true(json_object_get(json_array_get(json_object_get(res, "rows"), 0),
						  "module_list")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(res, "hidden"), 0)),
			    "evil");
	json_decref(res);
	/* a module whose link points at itself: listed once, cut short */
	put_list1(f, O_MODS, O_MODS + 0x100);
	put64(f, O_MODS + 0x100, KVA(f, O_MODS + 0x100));
	res = full_view(f, "modules", NULL);
	assert_int_equal(json_array_size(json_object_get(res, "rows")), 1);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	assert_non_null(strstr(json_string_value(json_array_get(json_object_get(res, "notes"), 0)),
			       "(a cycle): cut short"));
	json_decref(res);
	res = full_view(f, "integrity", NULL);
	assert_int_equal(json_array_size(json_object_get(res, "rows")), 3);
	const char *h = json_string_value(json_object_get(res, "kernel_sha256"));
	assert_non_null(h);
	char before[65];
	snprintf(before, sizeof(before), "%s", h);
	json_decref(res);
	f->ram[0x2100] ^= 1; /* patch the "text" */
	res = full_view(f, "integrity", NULL);
	assert_string_not_equal(json_string_value(json_object_get(res, "kernel_sha256")), before);
	json_decref(res);
	f->ram[0x2100] ^= 1;
	jump_sites(f, before);
	fake_free(f);
}

/* One descriptor at a time (svc/vmi/fd.c), as replay analysis resolves
 * each read and write: a file, a TCP socket with its endpoints, a UNIX
 * socket, an empty slot and slots past the table. */
static void test_task_fd(void **state)
{
	struct fake *f = fake_make(true);
	char err[512] = "";
	struct vmi *v = attach(f, err, sizeof(err));
	assert_non_null(v);
	struct vmi_fd fd;
	uint64_t task = KVA(f, O_TASK(0));
	assert_int_equal(vmi_task_fd(v, task, 0, &fd), 0);
	assert_int_equal(fd.kind, VMI_FD_FILE);
	assert_string_equal(fd.path, "/bin/sh");
	assert_int_equal(vmi_task_fd(v, task, 2, &fd), 0);
	assert_int_equal(fd.kind, VMI_FD_SOCKET);
	assert_string_equal(fd.path, "socket:[777]");
	assert_int_equal(fd.ino, 777);
	assert_string_equal(fd.proto, "tcp");
	assert_string_equal(fd.local, "10.0.2.15:80");
	assert_int_equal(vmi_task_fd(v, task, 3, &fd), 0);
	assert_string_equal(fd.proto, "unix-stream");
	assert_string_equal(fd.local, "");
	assert_int_equal(vmi_task_fd(v, task, 1, &fd), -1); /* an empty slot */
	assert_int_equal(vmi_task_fd(v, task, 4, &fd), -1); /* past max_fds */
	assert_int_equal(vmi_task_fd(v, task, UINT64_MAX, &fd), -1);
	put32(f, O_FDT, 0xffffffffu); /* a table that lies about its size */
	assert_int_equal(vmi_task_fd(v, task, 1u << 30, &fd), -1);
	assert_int_equal(vmi_task_fd(v, 0, 0, &fd), -1); /* no task */
	vmi_free(v);
	fake_free(f);
}

/* Hostile descriptor tables and TCP chains end, with a note. */
static void test_hostile_files_and_sockets(void **state)
{
	struct fake *f = fake_make(true);
	put32(f, O_FDT, 0xffffffffu); /* 4 billion descriptors, the array 32 KiB */
	json_t *res = full_view(f, "files", "1");
	assert_true(json_is_true(json_object_get(res, "truncated")));
	json_decref(res);
	put32(f, O_FDT, 4);
	put64(f, O_SK(1) + 16, KVA(f, O_SK(1)) + 16); /* a chain that is its own next */
	put32(f, O_HASHINFO + 8, 0xffffffffu); /* and a huge established table */
	res = full_view(f, "net", NULL);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	json_decref(res);
	put_list1(f, O_NET, O_NETDEV);
	put64(f, O_NETDEV, KVA(f, O_NETDEV)); /* a device list that loops */
	res = full_view(f, "ifaces", NULL);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	json_decref(res);
	fake_free(f);
}

/* 128 processes sharing one descriptor table that claims 2^31 slots:
 * each bound alone holds (32768 tasks, 65536 slots a table), but
 * together they allowed 2^31 reads; the view's own budget cuts it short.
 * (Found by fuzz_vmi, with a task list that cycled through init.) */
static void test_fd_slots_in_all(void **state)
{
	struct fake *f = fake_make(true);
	const uint64_t first = 0x400000; /* free RAM: T_SIZE bytes a task */
	put64(f, O_TASK(2) + T_TASKS, KVA(f, first) + T_TASKS);
	for (int i = 0; i < 128; i++) {
		uint64_t o = first + (uint64_t)i * T_SIZE;
		put_task(f, o, 100 + i, "many", i < 127 ? o + T_SIZE : O_INIT, O_TASK(0));
		put64(f, o + T_FILES, KVA(f, O_FILES));
	}
	put32(f, O_FDT, 0x7fffffffu);
	json_t *res = full_view(f, "net", NULL);
	assert_non_null(res);
	bool budget = false;
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(res, "notes"), i, n)
		budget |= strstr(json_string_value(n), "slots in all are not read") != NULL;
	assert_true(budget);
	json_decref(res);
	fake_free(f);
}

static void test_corrupt_kallsyms(void **state)
{
	struct fake *f = fake_kernel();
	/* break the chain from the tables to the token table */
	uint64_t p = al8(O_KALLSYMS + 4 * 5); /* kallsyms_relative_base */
	put32(f, p + 8, 7); /* kallsyms_num_syms: 7, not 5 */
	char err[512] = "";
	assert_null(attach(f, err, sizeof(err)));
	assert_non_null(strstr(err, "kallsyms"));
	fake_free(f);
}

static void test_corrupt_btf(void **state)
{
	struct fake *f = fake_kernel();
	memset(f->ram + O_BTF + 24, 0xff, 64);
	char err[512] = "";
	struct vmi *v = attach(f, err, sizeof(err));
	if (v) { /* libbpf may accept what is left: then every view must still end */
		json_t *res = vmi_view(v, "ps", NULL, err, sizeof(err));
		json_decref(res);
		vmi_free(v);
	} else {
		assert_non_null(strstr(err, "BTF"));
	}
	put32(f, O_BTF, 0); /* no magic at all */
	assert_null(attach(f, err, sizeof(err)));
	assert_non_null(strstr(err, "BTF"));
	fake_free(f);
}

/* A kernel slid from its link address, as CONFIG_RANDOMIZE_BASE does:
 * the kallsyms in RAM are the running kernel's, the image is placed by
 * the page table that maps it, and every view reads as at the link
 * address.  (Neither guest kernel randomises: see docs/vmi.md.) */
static void test_kaslr_slide(void **state)
{
	struct fake *f = fake_make_at(true, KVA_LINK + 0x1a400000); /* 420 MiB up, 2 MiB steps */
	char err[512] = "";
	struct vmi *v = attach(f, err, sizeof(err));
	assert_non_null(v);
	json_t *info = vmi_info(v);
	assert_string_equal(json_string_value(json_object_get(info, "kernel_va")),
			    "0xffffffff9a400000");
	assert_string_equal(json_string_value(json_object_get(info, "kernel_pa")), "0x80000000");
	json_decref(info);
	json_t *res = vmi_view(v, "ps", NULL, err, sizeof(err));
	assert_int_equal(json_array_size(json_object_get(res, "rows")), 3);
	json_t *init = row_of(res, 1);
	assert_string_equal(json_string_value(json_object_get(init, "exe")), "/bin/sh");
	assert_string_equal(json_string_value(json_object_get(init, "pgd_pa")), "0x80001000");
	json_decref(res);
	res = vmi_view(v, "crossview", NULL, err, sizeof(err));
	assert_true(json_is_true(json_object_get(res, "consistent")));
	json_decref(res);
	res = vmi_view(v, "net", NULL, err, sizeof(err));
	assert_string_equal(row_str(res, 0, "local"), "10.0.2.15:80");
	json_decref(res);
	vmi_free(v);
	fake_free(f);
}

/* Random bytes over every structure, every view: whatever comes out, it ends. */
static void test_random_tasks(void **state)
{
	uint64_t x = 88172645463325252ull;
	for (int round = 0; round < 25; round++) {
		struct fake *f = fake_make(true);
		for (uint64_t o = O_INIT; o < O_EHASH + 0x100; o += 8) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if ((x & 7) == 0) /* sometimes a plausible pointer */
				put64(f, o, KVA(f, (x >> 8) % RAM_SIZE) & ~7ull);
			else if ((x & 7) == 1)
				put64(f, o, x);
		}
		char err[512];
		struct vmi *v = attach(f, err, sizeof(err));
		assert_non_null(v);
		for (const char *const *name = vmi_view_names; *name; name++) {
			json_t *res = vmi_view(v, *name, "1", err, sizeof(err));
			json_decref(res); /* a result or an error: either way it ended */
		}
		vmi_free(v);
		fake_free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attach_and_ps),
		cmocka_unit_test(test_missing_fields_refuse_views),
		cmocka_unit_test(test_task_list_cycle),
		cmocka_unit_test(test_pointer_into_mmio),
		cmocka_unit_test(test_page_table_loop),
		cmocka_unit_test(test_dentry_cycle),
		cmocka_unit_test(test_unterminated_string),
		cmocka_unit_test(test_corrupt_kallsyms),
		cmocka_unit_test(test_corrupt_btf),
		cmocka_unit_test(test_random_tasks),
		cmocka_unit_test(test_crossview),
		cmocka_unit_test(test_all_views),
		cmocka_unit_test(test_hostile_files_and_sockets),
		cmocka_unit_test(test_fd_slots_in_all),
		cmocka_unit_test(test_task_fd),
		cmocka_unit_test(test_not_utf8),
		cmocka_unit_test(test_idr_loop),
		cmocka_unit_test(test_kallsyms_new_order),
		cmocka_unit_test(test_crossview_runqueue),
		cmocka_unit_test(test_kaslr_slide),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
