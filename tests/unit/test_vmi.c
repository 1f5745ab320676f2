/* Introspection (src/svc/vmi/) on a bare memory view: a fake kernel built
 * here in a buffer — kallsyms tables laid out as scripts/kallsyms.c lays
 * them, a BTF blob made with libbpf's writer, an Sv39 table, a task list —
 * and then made hostile: lists that cycle, pointers into MMIO, page tables
 * that loop, dentries that are their own grandparents, strings without a
 * terminator, corrupt kallsyms and BTF.  Every view must end with a
 * result marked truncated or a clear error; none may crash or hang. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <bpf/btf.h>

#include "svc/vmi/vmi_int.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (8u << 20)
#define KVA_LINK 0xffffffff80000000ull /* where the kernel is linked */
/* Where the fake kernel runs: its link address, or slid as a KASLR
 * kernel is (test_kaslr_slide; the test's own, not keel's, state). */
static uint64_t kva_base = KVA_LINK;
#define KVA_BASE kva_base
#define KVA(off) (KVA_BASE + (off))

/* Where the fake kernel keeps things (offsets into RAM). */
#define O_PGD 0x1000u
#define O_PMD 0x8000u /* a slid kernel's second-level table */
#define O_KALLSYMS 0x10000u
#define O_BTF 0x40000u
#define O_INIT 0x100000u
#define O_TASK(i) (0x101000u + 0x1000u * (i))
#define O_CRED 0x110000u
#define O_MM 0x120000u
#define O_FILE 0x130000u
#define O_MOUNT 0x131000u
#define O_DENTRY(i) (0x132000u + 0x100u * (i))
#define O_STR 0x140000u
#define O_PIDNS 0x150000u
#define O_XANODE 0x151000u
#define O_PID(i) (0x152000u + 0x100u * (i))
/* only in the full fake kernel (fake_full) */
#define O_NET 0x160000u
#define O_NETDEV 0x161000u
#define O_MODS 0x162000u
#define O_NSPROXY 0x163000u
#define O_MNTNS 0x163100u
#define O_FSTYPE 0x163200u
#define O_FILES 0x164000u
#define O_FDT 0x164100u
#define O_FDARR 0x164200u
#define O_SOCKFILE 0x164300u
#define O_SOCKDENTRY 0x164400u
#define O_SOCKSB 0x164500u
#define O_INODE 0x164600u
#define O_SOCKET 0x164700u
#define O_SK(i) (0x164800u + 0x100u * (i))
#define O_HASHINFO 0x165000u
#define O_LHASH 0x165100u
#define O_EHASH 0x165200u
#define O_RQ 0x166000u
#define O_KSET 0x167000u /* module_kset's kset; the variable at O_KSET + 0x100 */
#define O_MKOBJ 0x167200u

/* Field offsets of the fake kernel's structures (the BTF says them). */
enum {
	T_TASKS = 0, T_PID = 16, T_ANON = 20, T_COMM = 24, T_PARENT = 40, T_CRED = 48, T_MM = 56,
	T_STATE = 64, T_START = 72, T_FLAGS = 80, T_EXIT_BITS = 84 * 8 + 3, T_PID_LINKS = 96,
	T_FILES = 160, T_NSPROXY = 168, T_SIGNAL = 176, T_SE = 192, T_SIZE = 256,
	/* struct pid: tasks[3] (hlist_head) at 8, numbers[] (upid: nr, ns) at 40;
	 * xa_node: shift at 0, slots[64] at 40; pid_namespace: idr at 0, whose
	 * xarray's xa_head is at 8 */
	PID_TASKS = 8, PID_NUMBERS = 40, XA_SLOTS = 40, IDR_HEAD = 8,
};

struct fake {
	bool full; /* every view's fields, not just ps's and crossview's */
	uint8_t *ram;
	struct memview mv;
	uint64_t btf_len;
};

static void put64(struct fake *f, uint64_t off, uint64_t v) { memcpy(f->ram + off, &v, 8); }
static void put32(struct fake *f, uint64_t off, uint32_t v) { memcpy(f->ram + off, &v, 4); }
static void put16(struct fake *f, uint64_t off, uint16_t v) { memcpy(f->ram + off, &v, 2); }

static uint64_t al8(uint64_t x) { return (x + 7) & ~7ull; }

struct sym {
	const char *name;
	uint64_t addr;
};

static int sym_by_addr(const void *a, const void *b)
{
	uint64_t x = ((const struct sym *)a)->addr, y = ((const struct sym *)b)->addr;
	return (x > y) - (x < y);
}

/* kallsyms tables at O_KALLSYMS, sorted by address as scripts/kallsyms
 * sorts them: every non-NUL byte is its own token.  new_order: Linux
 * 6.4's layout (the offsets and relative base after the token index)
 * instead of the older one (before num_syms). */
static void put_kallsyms_order(struct fake *f, const struct sym *in, uint32_t n, bool new_order)
{
	struct sym s[64];
	memcpy(s, in, n * sizeof(*s));
	qsort(s, n, sizeof(*s), sym_by_addr);
	uint64_t rb = s[0].addr;
	uint64_t p = O_KALLSYMS, offs = p;
	if (!new_order) {
		for (uint32_t i = 0; i < n; i++)
			put32(f, offs + 4 * i, (uint32_t)(s[i].addr - rb));
		p = al8(p + 4 * n);
		put64(f, p, rb);
		p += 8;
	}
	put32(f, p, n);
	uint64_t names = p + 8, q = names;
	for (uint32_t i = 0; i < n; i++) {
		size_t len = strlen(s[i].name) + 1;
		f->ram[q++] = (uint8_t)len;
		f->ram[q++] = 'D';
		memcpy(f->ram + q, s[i].name, len - 1);
		q += len - 1;
	}
	q = al8(q);
	put32(f, q, 0); /* one marker: fewer than 256 symbols */
	uint64_t tt = al8(q + 4), t = tt;
	uint16_t idx[256];
	for (int i = 0; i < 256; i++) {
		idx[i] = (uint16_t)(t - tt);
		if (i == 0) {
			memcpy(f->ram + t, "@@", 3);
			t += 3;
		} else {
			f->ram[t++] = (uint8_t)i;
			f->ram[t++] = 0;
		}
	}
	uint64_t ti = al8(t);
	for (int i = 0; i < 256; i++)
		put16(f, ti + 2 * i, idx[i]);
	if (new_order) {
		offs = al8(ti + 512);
		for (uint32_t i = 0; i < n; i++)
			put32(f, offs + 4 * i, (uint32_t)(s[i].addr - rb));
		put64(f, al8(offs + 4 * n), rb);
	}
}

static void put_kallsyms(struct fake *f, const struct sym *s, uint32_t n)
{
	put_kallsyms_order(f, s, n, false);
}

/* The structures only the full fake kernel has: files, sockets and the
 * TCP tables, mounts, interfaces, modules.  t: the base types. */
static void put_btf_full(struct btf *b, const int *t)
{
	int i32 = t[0], u32 = t[1], u64 = t[2], ptr = t[4], lh = t[5], hnode = t[6], u16 = t[7];
	int u8 = t[8], name56 = t[9], name16 = t[10];
	btf__add_struct(b, "inode", 8);
	btf__add_field(b, "i_ino", u64, 0, 0);
	btf__add_struct(b, "file_system_type", 8);
	btf__add_field(b, "name", ptr, 0, 0);
	btf__add_struct(b, "files_struct", 8);
	btf__add_field(b, "fdt", ptr, 0, 0);
	btf__add_struct(b, "fdtable", 16);
	btf__add_field(b, "max_fds", u32, 0, 0);
	btf__add_field(b, "fd", ptr, 64, 0);
	btf__add_struct(b, "socket", 16);
	btf__add_field(b, "type", u16, 0, 0);
	btf__add_field(b, "sk", ptr, 64, 0);
	int common = btf__add_struct(b, "sock_common", 32);
	btf__add_field(b, "skc_daddr", u32, 0, 0);
	btf__add_field(b, "skc_rcv_saddr", u32, 32, 0);
	btf__add_field(b, "skc_dport", u16, 64, 0);
	btf__add_field(b, "skc_num", u16, 80, 0);
	btf__add_field(b, "skc_family", u16, 96, 0);
	btf__add_field(b, "skc_state", u8, 112, 0);
	btf__add_field(b, "skc_nulls_node", hnode, 128, 0);
	btf__add_struct(b, "sock", 40);
	btf__add_field(b, "__sk_common", common, 0, 0);
	btf__add_field(b, "sk_protocol", u16, 32 * 8, 0);
	btf__add_struct(b, "nsproxy", 16);
	btf__add_field(b, "mnt_ns", ptr, 64, 0);
	btf__add_struct(b, "mnt_namespace", 32);
	btf__add_field(b, "list", lh, 128, 0);
	btf__add_struct(b, "net", 32);
	btf__add_field(b, "dev_base_head", lh, 0, 0);
	btf__add_struct(b, "net_device", 64);
	btf__add_field(b, "dev_list", lh, 0, 0);
	btf__add_field(b, "name", name16, 128, 0);
	btf__add_field(b, "ifindex", i32, 256, 0);
	btf__add_field(b, "flags", u32, 288, 0);
	btf__add_field(b, "mtu", u32, 320, 0);
	btf__add_field(b, "addr_len", u8, 352, 0);
	btf__add_field(b, "dev_addr", ptr, 384, 0);
	btf__add_struct(b, "module", 96);
	btf__add_field(b, "list", lh, 0, 0);
	btf__add_field(b, "name", name56, 128, 0);
	btf__add_field(b, "state", u32, 72 * 8, 0);
	btf__add_struct(b, "signal_struct", 8);
	btf__add_field(b, "nr_threads", i32, 0, 0);
	/* one CPU's run queue: rq.curr, rq.cfs.tasks_timeline.rb_root.rb_node */
	int root = btf__add_struct(b, "rb_root", 8);
	btf__add_field(b, "rb_node", ptr, 0, 0);
	int cached = btf__add_struct(b, "rb_root_cached", 16);
	btf__add_field(b, "rb_root", root, 0, 0);
	btf__add_field(b, "rb_leftmost", ptr, 64, 0);
	int cfs = btf__add_struct(b, "cfs_rq", 24);
	btf__add_field(b, "tasks_timeline", cached, 0, 0);
	btf__add_field(b, "curr", ptr, 128, 0);
	btf__add_struct(b, "rq", 64);
	btf__add_field(b, "curr", ptr, 0, 0);
	btf__add_field(b, "cfs", cfs, 64, 0);
	/* /sys/module: module_kset's list of module_kobjects */
	btf__add_struct(b, "kset", 16);
	btf__add_field(b, "list", lh, 0, 0);
	int kobj = btf__add_struct(b, "kobject", 32);
	btf__add_field(b, "name", ptr, 0, 0);
	btf__add_field(b, "entry", lh, 64, 0);
	btf__add_struct(b, "module_kobject", 48);
	btf__add_field(b, "kobj", kobj, 0, 0);
	btf__add_field(b, "mod", ptr, 32 * 8, 0);
	btf__add_struct(b, "inet_hashinfo", 32);
	btf__add_field(b, "ehash", ptr, 0, 0);
	btf__add_field(b, "ehash_mask", u32, 64, 0);
	btf__add_field(b, "lhash2", ptr, 128, 0);
	btf__add_field(b, "lhash2_mask", u32, 192, 0);
	btf__add_struct(b, "inet_ehash_bucket", 8);
	btf__add_field(b, "chain", ptr, 0, 0);
	btf__add_struct(b, "inet_listen_hashbucket", 16);
	btf__add_field(b, "nulls_head", ptr, 64, 0);
	int sun_path = btf__add_array(b, i32, t[3], 108);
	int sun = btf__add_struct(b, "sockaddr_un", 110);
	btf__add_field(b, "sun_family", u16, 0, 0);
	btf__add_field(b, "sun_path", sun_path, 16, 0);
	int names = btf__add_array(b, i32, sun, 0);
	btf__add_struct(b, "unix_address", 8);
	btf__add_field(b, "refcnt", u32, 0, 0);
	btf__add_field(b, "len", i32, 32, 0);
	btf__add_field(b, "name", names, 64, 0);
	btf__add_struct(b, "unix_sock", 48);
	btf__add_field(b, "addr", ptr, 40 * 8, 0);
}

/* BTF of the fake kernel's structures, at O_BTF. */
static void put_btf(struct fake *f)
{
	struct btf *b = btf__new_empty();
	int i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	int u32 = btf__add_int(b, "unsigned int", 4, 0);
	int u64 = btf__add_int(b, "long long unsigned int", 8, 0);
	int chr = btf__add_int(b, "char", 1, BTF_INT_CHAR);
	int u16 = btf__add_int(b, "short unsigned int", 2, 0);
	int u8 = btf__add_int(b, "unsigned char", 1, 0);
	int name56 = btf__add_array(b, i32, chr, 56);
	int ptr = btf__add_ptr(b, 0);
	int comm = btf__add_array(b, i32, chr, 16);
	int lh = btf__add_struct(b, "list_head", 16);
	btf__add_field(b, "next", ptr, 0, 0);
	btf__add_field(b, "prev", ptr, 64, 0);
	int hnode = btf__add_struct(b, "hlist_node", 16);
	btf__add_field(b, "next", ptr, 0, 0);
	btf__add_field(b, "pprev", ptr, 64, 0);
	int links = btf__add_array(b, i32, hnode, 3);
	int anon = btf__add_struct(b, NULL, 4); /* an anonymous member holds tgid */
	btf__add_field(b, "tgid", i32, 0, 0);
	int rbnode = 0, se = 0;
	if (f->full) { /* the scheduler's: a task's entity is a tree node */
		rbnode = btf__add_struct(b, "rb_node", 24);
		btf__add_field(b, "__rb_parent_color", u64, 0, 0);
		btf__add_field(b, "rb_right", ptr, 64, 0);
		btf__add_field(b, "rb_left", ptr, 128, 0);
		se = btf__add_struct(b, "sched_entity", 32);
		btf__add_field(b, "run_node", rbnode, 0, 0);
	}
	btf__add_struct(b, "task_struct", T_SIZE);
	btf__add_field(b, "tasks", lh, T_TASKS * 8, 0);
	btf__add_field(b, "pid", i32, T_PID * 8, 0);
	btf__add_field(b, NULL, anon, T_ANON * 8, 0);
	btf__add_field(b, "comm", comm, T_COMM * 8, 0);
	btf__add_field(b, "real_parent", ptr, T_PARENT * 8, 0);
	btf__add_field(b, "cred", ptr, T_CRED * 8, 0);
	btf__add_field(b, "mm", ptr, T_MM * 8, 0);
	btf__add_field(b, "__state", u32, T_STATE * 8, 0);
	btf__add_field(b, "start_time", u64, T_START * 8, 0);
	btf__add_field(b, "flags", u32, T_FLAGS * 8, 0);
	btf__add_field(b, "exit_state", u32, T_EXIT_BITS, 7); /* a bitfield */
	btf__add_field(b, "pid_links", links, T_PID_LINKS * 8, 0);
	if (f->full) {
		btf__add_field(b, "files", ptr, T_FILES * 8, 0);
		btf__add_field(b, "nsproxy", ptr, T_NSPROXY * 8, 0);
		btf__add_field(b, "signal", ptr, T_SIGNAL * 8, 0);
		btf__add_field(b, "se", se, T_SE * 8, 0);
	}
	int upid = btf__add_struct(b, "upid", 16);
	btf__add_field(b, "nr", i32, 0, 0);
	btf__add_field(b, "ns", ptr, 64, 0);
	int heads = btf__add_array(b, i32, ptr, 3);
	int numbers = btf__add_array(b, i32, upid, 0); /* a flexible array */
	btf__add_struct(b, "pid", PID_NUMBERS);
	btf__add_field(b, "tasks", heads, PID_TASKS * 8, 0);
	btf__add_field(b, "numbers", numbers, PID_NUMBERS * 8, 0);
	int slots = btf__add_array(b, i32, ptr, 64);
	btf__add_struct(b, "xa_node", XA_SLOTS + 64 * 8);
	btf__add_field(b, "shift", chr, 0, 0);
	btf__add_field(b, "slots", slots, XA_SLOTS * 8, 0);
	int xarray = btf__add_struct(b, "xarray", 16);
	btf__add_field(b, "xa_head", ptr, IDR_HEAD * 8, 0);
	int idr = btf__add_struct(b, "idr", 24);
	btf__add_field(b, "idr_rt", xarray, 0, 0);
	btf__add_struct(b, "pid_namespace", 64);
	btf__add_field(b, "idr", idr, 0, 0);
	btf__add_struct(b, "cred", 16);
	btf__add_field(b, "uid", u32, 4 * 8, 0);
	btf__add_field(b, "gid", u32, 8 * 8, 0);
	btf__add_struct(b, "mm_struct", 16);
	btf__add_field(b, "pgd", ptr, 0, 0);
	btf__add_field(b, "exe_file", ptr, 64, 0);
	int path = btf__add_struct(b, "path", 16);
	btf__add_field(b, "mnt", ptr, 0, 0);
	btf__add_field(b, "dentry", ptr, 64, 0);
	btf__add_struct(b, "file", 64);
	btf__add_field(b, "f_path", path, 0, 0);
	if (f->full) {
		btf__add_field(b, "f_flags", u32, 32 * 8, 0);
		btf__add_field(b, "f_pos", u64, 40 * 8, 0);
		btf__add_field(b, "f_inode", ptr, 48 * 8, 0);
		btf__add_field(b, "private_data", ptr, 56 * 8, 0);
	}
	int qstr = btf__add_struct(b, "qstr", 16);
	btf__add_field(b, "len", u32, 4 * 8, 0);
	btf__add_field(b, "name", ptr, 64, 0);
	btf__add_struct(b, "dentry", 40);
	btf__add_field(b, "d_parent", ptr, 0, 0);
	btf__add_field(b, "d_name", qstr, 64, 0);
	btf__add_field(b, "d_sb", ptr, 192, 0);
	if (f->full)
		btf__add_field(b, "d_inode", ptr, 32 * 8, 0);
	btf__add_struct(b, "super_block", 16);
	btf__add_field(b, "s_magic", u64, 0, 0);
	if (f->full)
		btf__add_field(b, "s_type", ptr, 64, 0);
	int vfsmount = btf__add_struct(b, "vfsmount", 16);
	btf__add_field(b, "mnt_root", ptr, 0, 0);
	btf__add_field(b, "mnt_sb", ptr, 64, 0);
	btf__add_struct(b, "mount", 48);
	btf__add_field(b, "mnt_parent", ptr, 0, 0);
	btf__add_field(b, "mnt_mountpoint", ptr, 64, 0);
	btf__add_field(b, "mnt", vfsmount, 128, 0);
	if (f->full) {
		btf__add_field(b, "mnt_list", lh, 32 * 8, 0);
		btf__add_field(b, "mnt_devname", ptr, 48 * 8, 0);
		put_btf_full(b, (int[]){i32, u32, u64, chr, ptr, lh, hnode, u16, u8, name56, comm,
				     rbnode});
	}
	__u32 len;
	const void *raw = btf__raw_data(b, &len);
	assert_non_null(raw);
	memcpy(f->ram + O_BTF, raw, len);
	f->btf_len = len;
	btf__free(b);
}

static void put_task(struct fake *f, uint64_t o, int pid, const char *comm, uint64_t next,
		     uint64_t parent)
{
	put64(f, o + T_TASKS, KVA(next) + T_TASKS);
	put32(f, o + T_PID, (uint32_t)pid);
	put32(f, o + T_ANON, (uint32_t)pid);
	strncpy((char *)f->ram + o + T_COMM, comm, 16);
	put64(f, o + T_PARENT, KVA(parent));
	put64(f, o + T_CRED, KVA(O_CRED));
	put32(f, o + T_STATE, 1); /* sleeping */
	put64(f, o + T_START, 1000u * (unsigned)pid);
}

/* A dentry: its name at O_STR + 0x40*i. */
static void put_dentry(struct fake *f, int i, int parent, const char *name)
{
	uint64_t o = O_DENTRY(i), s = O_STR + 0x40u * i;
	put64(f, o, KVA(O_DENTRY(parent)));
	put32(f, o + 8 + 4, (uint32_t)strlen(name));
	put64(f, o + 16, KVA(s));
	put64(f, o + 24, KVA(O_STR + 0x1000)); /* the super_block: magic 0 */
	strcpy((char *)f->ram + s, name);
}

static void fake_fill_full(struct fake *f);

static struct fake *fake_make(bool full)
{
	struct fake *f = calloc(1, sizeof(*f));
	f->full = full;
	f->ram = calloc(1, RAM_SIZE);
	f->mv = (struct memview){.ram = f->ram, .base = RAM_BASE, .size = RAM_SIZE};
	/* Sv39: one gigapage maps KVA_BASE to RAM_BASE; a slid kernel (2 MiB
	 * steps, as Linux/riscv's KASLR moves it) gets 2 MiB pages instead */
	if (KVA_BASE == KVA_LINK) {
		put64(f, O_PGD + 8 * 0x1fe, (RAM_BASE >> 12) << 10 | 0xcf);
	} else {
		put64(f, O_PGD + 8 * ((KVA_BASE >> 30) & 0x1ff), ((RAM_BASE + O_PMD) >> 12) << 10 | 1);
		for (uint64_t pa = 0; pa < RAM_SIZE; pa += 2u << 20)
			put64(f, O_PMD + 8 * (((KVA_BASE + pa) >> 21) & 0x1ff),
			      ((RAM_BASE + pa) >> 12) << 10 | 0xcf);
	}
	put_btf(f);
	const struct sym syms[] = {
		{"_start", KVA(0)},
		{"swapper_pg_dir", KVA(O_PGD)},
		{"__start_BTF", KVA(O_BTF)},
		{"__stop_BTF", KVA(O_BTF + f->btf_len)},
		{"init_task", KVA(O_INIT)},
		{"init_pid_ns", KVA(O_PIDNS)},
		{"init_net", KVA(O_NET)},
		{"modules", KVA(O_MODS)},
		{"tcp_hashinfo", KVA(O_HASHINFO)},
		{"_stext", KVA(0x2000)},
		{"_etext", KVA(0x3000)},
		{"__start_rodata", KVA(0x3000)},
		{"__start___jump_table", KVA(0x3100)},
		{"__stop___jump_table", KVA(0x3120)},
		{"sys_call_table", KVA(0x3800)},
		{"__end_rodata", KVA(0x4000)},
		{"runqueues", KVA(O_RQ)},
		{"module_kset", KVA(O_KSET + 0x100)},
	};
	put_kallsyms(f, syms, full ? 18 : 6);
	put_task(f, O_INIT, 0, "swapper", O_TASK(0), O_INIT);
	put_task(f, O_TASK(0), 1, "init", O_TASK(1), O_INIT);
	put_task(f, O_TASK(1), 2, "kthreadd", O_TASK(2), O_INIT);
	put_task(f, O_TASK(2), 42, "sh", O_INIT, O_TASK(0));
	/* the PID IDR: one XArray node holding pids 1, 2 and 42 */
	put64(f, O_PIDNS + IDR_HEAD, KVA(O_XANODE) | 2);
	const int pids[] = {1, 2, 42};
	for (int i = 0; i < 3; i++) {
		put64(f, O_XANODE + XA_SLOTS + 8 * (uint64_t)i, KVA(O_PID(i)));
		put64(f, O_PID(i) + PID_TASKS, KVA(O_TASK(i)) + T_PID_LINKS);
		put32(f, O_PID(i) + PID_NUMBERS, (uint32_t)pids[i]);
	}
	put16(f, O_TASK(2) + 84, 32 << 3); /* exit_state EXIT_ZOMBIE, in its bitfield */
	put32(f, O_TASK(2) + T_FLAGS, 0x4); /* PF_EXITING, as a zombie has it; no mm */
	put32(f, O_CRED + 4, 1000);
	put32(f, O_CRED + 8, 100);
	/* init has an address space and runs /bin/sh */
	put64(f, O_TASK(0) + T_MM, KVA(O_MM));
	put64(f, O_MM, KVA(O_PGD));
	put64(f, O_MM + 8, KVA(O_FILE));
	put64(f, O_FILE, KVA(O_MOUNT) + 16);
	put64(f, O_FILE + 8, KVA(O_DENTRY(2)));
	put64(f, O_MOUNT, KVA(O_MOUNT)); /* its own parent: the root mount */
	put64(f, O_MOUNT + 16, KVA(O_DENTRY(0)));
	put_dentry(f, 0, 0, "/");
	put_dentry(f, 1, 0, "bin");
	put_dentry(f, 2, 1, "sh");
	if (full)
		fake_fill_full(f);
	return f;
}

static struct fake *fake_kernel(void)
{
	return fake_make(false);
}

/* A circular list of one entry: head <-> the link at `link`. */
static void put_list1(struct fake *f, uint64_t head, uint64_t link)
{
	put64(f, head, KVA(link));
	put64(f, head + 8, KVA(link));
	put64(f, link, KVA(head));
	put64(f, link + 8, KVA(head));
}

/* A sock: family AF_INET, TCP, 10.0.2.15:port, state. */
static void put_sock(struct fake *f, uint64_t o, unsigned port, unsigned state)
{
	put32(f, o + 4, 0x0f02000a); /* 10.0.2.15 as the kernel keeps it */
	put16(f, o + 10, (uint16_t)port);
	put16(f, o + 12, 2);
	f->ram[o + 14] = (uint8_t)state;
	put16(f, o + 32, 6);
	put64(f, o + 16, 1); /* skc_nulls_node.next: the end of a chain */
}

static void fake_fill_full(struct fake *f)
{
	/* init (pid 1): fds 0 (/bin/sh, pos 5) and 2 (a listening socket) */
	put64(f, O_TASK(0) + T_FILES, KVA(O_FILES));
	put64(f, O_FILES, KVA(O_FDT));
	put32(f, O_FDT, 4);
	put64(f, O_FDT + 8, KVA(O_FDARR));
	put64(f, O_FDARR, KVA(O_FILE));
	put64(f, O_FDARR + 16, KVA(O_SOCKFILE));
	put64(f, O_FILE + 40, 5);
	put32(f, O_FILE + 32, 0100000);
	put64(f, O_SOCKFILE, KVA(O_MOUNT) + 16);
	put64(f, O_SOCKFILE + 8, KVA(O_SOCKDENTRY));
	put64(f, O_SOCKFILE + 56, KVA(O_SOCKET));
	put64(f, O_SOCKDENTRY + 24, KVA(O_SOCKSB));
	put64(f, O_SOCKDENTRY + 32, KVA(O_INODE));
	put64(f, O_SOCKSB, SOCKFS_MAGIC);
	put64(f, O_INODE, 777);
	put16(f, O_SOCKET, 1);
	put64(f, O_SOCKET + 8, KVA(O_SK(0)));
	put_sock(f, O_SK(0), 80, 10);
	put_sock(f, O_SK(1), 22, 6); /* time-wait: in the tables only */
	/* fd 3: a UNIX socket bound to /run/sock */
	put64(f, O_FDARR + 24, KVA(O_SOCKFILE + 0x40));
	memcpy(f->ram + O_SOCKFILE + 0x40, f->ram + O_SOCKFILE, 56);
	put64(f, O_SOCKFILE + 0x40 + 56, KVA(O_SOCKET + 0x40));
	put16(f, O_SOCKET + 0x40, 1);
	put64(f, O_SOCKET + 0x40 + 8, KVA(O_SK(2)));
	put16(f, O_SK(2) + 12, 1);
	put64(f, O_SK(2) + 40, KVA(O_SK(2) + 0x80));
	put32(f, O_SK(2) + 0x80 + 4, 2 + 9);
	put16(f, O_SK(2) + 0x80 + 8, 1);
	memcpy(f->ram + O_SK(2) + 0x80 + 10, "/run/sock", 9);
	/* the TCP tables: one listening bucket, one established bucket */
	put64(f, O_HASHINFO, KVA(O_EHASH));
	put64(f, O_HASHINFO + 16, KVA(O_LHASH));
	put64(f, O_LHASH + 8, KVA(O_SK(0)) + 16);
	put64(f, O_EHASH, KVA(O_SK(1)) + 16);
	/* mounts: the root mount in init's namespace */
	put64(f, O_INIT + T_NSPROXY, KVA(O_NSPROXY));
	put64(f, O_NSPROXY + 8, KVA(O_MNTNS));
	put_list1(f, O_MNTNS + 16, O_MOUNT + 32);
	put64(f, O_MOUNT + 48, KVA(O_STR + 0x800));
	strcpy((char *)f->ram + O_STR + 0x800, "rootfs");
	put64(f, O_MOUNT + 24, KVA(O_STR + 0x1000)); /* mnt.mnt_sb */
	put64(f, O_STR + 0x1000 + 8, KVA(O_FSTYPE));
	put64(f, O_FSTYPE, KVA(O_STR + 0x808));
	strcpy((char *)f->ram + O_STR + 0x808, "ramfs");
	/* one promiscuous interface, one module */
	put_list1(f, O_NET, O_NETDEV);
	strcpy((char *)f->ram + O_NETDEV + 16, "eth0");
	put32(f, O_NETDEV + 32, 2);
	put32(f, O_NETDEV + 36, 0x141); /* UP, RUNNING, PROMISC */
	put32(f, O_NETDEV + 40, 1500);
	f->ram[O_NETDEV + 44] = 6;
	put64(f, O_NETDEV + 48, KVA(O_STR + 0x810));
	memcpy(f->ram + O_STR + 0x810, "\x52\x54\x00\x12\x34\x56", 6);
	put_list1(f, O_MODS, O_MODS + 0x100);
	strcpy((char *)f->ram + O_MODS + 0x100 + 16, "evil");
	put64(f, O_KSET + 0x100, KVA(O_KSET));
	put_list1(f, O_KSET, O_MKOBJ + 8);
	put64(f, O_MKOBJ + 32, KVA(O_MODS + 0x100));
	memset(f->ram + 0x2000, 0x13, 0x2000); /* "code" and "rodata" */
	/* the run queue: sh running, kthreadd queued (the tree's one node) */
	put64(f, O_RQ, KVA(O_TASK(2)));
	put64(f, O_RQ + 8, KVA(O_TASK(1)) + T_SE);
}

static void fake_free(struct fake *f)
{
	free(f->ram);
	free(f);
}

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
	put64(f, O_TASK(1) + T_TASKS, KVA(O_INIT) + T_TASKS);
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
		put64(f, O_XANODE + XA_SLOTS + 8 * (uint64_t)i, KVA(O_XANODE) | 2);
	json_t *res = view_of(f, "crossview");
	assert_non_null(res);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	json_decref(res);
	put64(f, O_PIDNS + IDR_HEAD, (KVA_BASE - (1u << 30) + 0x10000000) | 2);
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
	put64(f, O_TASK(2) + T_TASKS, KVA(O_TASK(1)) + T_TASKS);
	json_t *res = ps_of(f);
	assert_non_null(res);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	assert_int_equal(json_array_size(json_object_get(res, "rows")), VMI_MAX_TASKS);
	json_decref(res);
	fake_free(f);
}

/* A next pointer into MMIO (a gigapage over 0..1 GiB) or unmapped space. */
static void test_pointer_into_mmio(void **state)
{
	struct fake *f = fake_kernel();
	put64(f, O_PGD + 8 * 0x1fd, 0xcfull); /* KVA_BASE - 1 GiB -> PA 0 */
	put64(f, O_TASK(1) + T_TASKS, KVA_BASE - (1u << 30) + 0x10000000); /* the UART */
	json_t *res = ps_of(f);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	assert_int_equal(json_array_size(json_object_get(res, "rows")), 2);
	json_decref(res);
	put64(f, O_TASK(1) + T_TASKS, 0x0000123400000000ull); /* not canonical */
	res = ps_of(f);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	json_decref(res);
	/* a credentials pointer outside RAM: a note, the row still there */
	put64(f, O_TASK(1) + T_TASKS, KVA(O_TASK(2)));
	put64(f, O_TASK(0) + T_CRED, KVA(RAM_SIZE + 4096));
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
	put64(f, O_DENTRY(1), KVA(O_DENTRY(2)));
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
	assert_int_equal(kstr(v, KVA(RAM_SIZE - 100), buf, sizeof(buf)), 1);
	assert_int_equal(strlen(buf), 63);
	char big[512];
	assert_int_equal(kstr(v, KVA(RAM_SIZE - 100), big, sizeof(big)), 1);
	assert_int_equal(strlen(big), 100);
	assert_int_equal(kstr(v, KVA(RAM_SIZE), big, sizeof(big)), -1);
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

/* Every view on a kernel that has all their fields. */
/* Linux 6.4 moved the offsets and relative base after the token index
 * (Debian's 6.12 has them there): found all the same. */
static void test_kallsyms_new_order(void **state)
{
	struct fake *f = fake_kernel();
	memset(f->ram + O_KALLSYMS, 0, 0x2000);
	const struct sym syms[] = {
		{"_start", KVA(0)},
		{"swapper_pg_dir", KVA(O_PGD)},
		{"__start_BTF", KVA(O_BTF)},
		{"__stop_BTF", KVA(O_BTF + f->btf_len)},
		{"init_task", KVA(O_INIT)},
		{"init_pid_ns", KVA(O_PIDNS)},
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
	put64(f, O_TASK(0) + T_TASKS, KVA(O_TASK(2)) + T_TASKS);
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
	put64(f, O_TASK(1) + T_SE + 16, KVA(O_TASK(1)) + T_SE);
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
	uint64_t task = KVA(O_TASK(0));
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
	put64(f, O_SK(1) + 16, KVA(O_SK(1)) + 16); /* a chain that is its own next */
	put32(f, O_HASHINFO + 8, 0xffffffffu); /* and a huge established table */
	res = full_view(f, "net", NULL);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	json_decref(res);
	put_list1(f, O_NET, O_NETDEV);
	put64(f, O_NETDEV, KVA(O_NETDEV)); /* a device list that loops */
	res = full_view(f, "ifaces", NULL);
	assert_true(json_is_true(json_object_get(res, "truncated")));
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
	kva_base = KVA_LINK + 0x1a400000; /* 420 MiB up, a 2 MiB multiple */
	struct fake *f = fake_make(true);
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
	kva_base = KVA_LINK;
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
				put64(f, o, KVA((x >> 8) % RAM_SIZE) & ~7ull);
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
		cmocka_unit_test(test_task_fd),
		cmocka_unit_test(test_not_utf8),
		cmocka_unit_test(test_idr_loop),
		cmocka_unit_test(test_kallsyms_new_order),
		cmocka_unit_test(test_crossview_runqueue),
		cmocka_unit_test(test_kaslr_slide),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
