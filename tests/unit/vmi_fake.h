/* A fake Linux/riscv kernel in a buffer, for introspection's tests
 * (tests/unit/test_vmi.c) and its fuzz target (tests/fuzz/fuzz_vmi.c):
 * kallsyms tables laid out as scripts/kallsyms.c lays them, a BTF blob
 * made with libbpf's writer, an Sv39 table, a task list, the PID IDR,
 * and (the full kernel) files, sockets, TCP tables, mounts, an
 * interface, a module and a run queue.  Header only: each user is one
 * translation unit. */
#ifndef KEEL_TESTS_UNIT_VMI_FAKE_H
#define KEEL_TESTS_UNIT_VMI_FAKE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "svc/vmi/vmi_int.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (8u << 20)
#define KVA_LINK 0xffffffff80000000ull /* where the kernel is linked */
/* The kernel virtual address of RAM offset off in fake f. */
#define KVA(f, off) ((f)->kva + (off))

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
	/* Where the fake kernel runs: its link address, or slid as a KASLR
	 * kernel is (test_kaslr_slide) */
	uint64_t kva;
	bool full; /* every view's fields, not just ps's and crossview's */
	uint8_t *ram;
	struct memview mv;
	uint64_t btf_len;
};

static inline void put64(struct fake *f, uint64_t off, uint64_t v) { memcpy(f->ram + off, &v, 8); }
static inline void put32(struct fake *f, uint64_t off, uint32_t v) { memcpy(f->ram + off, &v, 4); }
static inline void put16(struct fake *f, uint64_t off, uint16_t v) { memcpy(f->ram + off, &v, 2); }

static inline uint64_t al8(uint64_t x) { return (x + 7) & ~7ull; }

struct sym {
	const char *name;
	uint64_t addr;
};

static inline int sym_by_addr(const void *a, const void *b)
{
	uint64_t x = ((const struct sym *)a)->addr, y = ((const struct sym *)b)->addr;
	return (x > y) - (x < y);
}

/* kallsyms tables at O_KALLSYMS, sorted by address as scripts/kallsyms
 * sorts them: every non-NUL byte is its own token.  new_order: Linux
 * 6.4's layout (the offsets and relative base after the token index)
 * instead of the older one (before num_syms). */
static inline void put_kallsyms_order(struct fake *f, const struct sym *in, uint32_t n, bool new_order)
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

static inline void put_kallsyms(struct fake *f, const struct sym *s, uint32_t n)
{
	put_kallsyms_order(f, s, n, false);
}

/* The structures only the full fake kernel has: files, sockets and the
 * TCP tables, mounts, interfaces, modules.  t: the base types. */
static inline void put_btf_full(struct btf *b, const int *t)
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
static inline void put_btf(struct fake *f)
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
	if (!raw)
		abort(); /* libbpf could not write the fixture's BTF */
	memcpy(f->ram + O_BTF, raw, len);
	f->btf_len = len;
	btf__free(b);
}

static inline void put_task(struct fake *f, uint64_t o, int pid, const char *comm, uint64_t next,
		     uint64_t parent)
{
	put64(f, o + T_TASKS, KVA(f, next) + T_TASKS);
	put32(f, o + T_PID, (uint32_t)pid);
	put32(f, o + T_ANON, (uint32_t)pid);
	strncpy((char *)f->ram + o + T_COMM, comm, 16);
	put64(f, o + T_PARENT, KVA(f, parent));
	put64(f, o + T_CRED, KVA(f, O_CRED));
	put32(f, o + T_STATE, 1); /* sleeping */
	put64(f, o + T_START, 1000u * (unsigned)pid);
}

/* A dentry: its name at O_STR + 0x40*i. */
static inline void put_dentry(struct fake *f, int i, int parent, const char *name)
{
	uint64_t o = O_DENTRY(i), s = O_STR + 0x40u * i;
	put64(f, o, KVA(f, O_DENTRY(parent)));
	put32(f, o + 8 + 4, (uint32_t)strlen(name));
	put64(f, o + 16, KVA(f, s));
	put64(f, o + 24, KVA(f, O_STR + 0x1000)); /* the super_block: magic 0 */
	strcpy((char *)f->ram + s, name);
}

static inline void fake_fill_full(struct fake *f);

static inline struct fake *fake_make_at(bool full, uint64_t kva)
{
	struct fake *f = calloc(1, sizeof(*f));
	if (!f || !(f->ram = calloc(1, RAM_SIZE)))
		abort();
	f->kva = kva;
	f->full = full;
	f->mv = (struct memview){.ram = f->ram, .base = RAM_BASE, .size = RAM_SIZE};
	/* Sv39: one gigapage maps f->kva to RAM_BASE; a slid kernel (2 MiB
	 * steps, as Linux/riscv's KASLR moves it) gets 2 MiB pages instead */
	if (f->kva == KVA_LINK) {
		put64(f, O_PGD + 8 * 0x1fe, (RAM_BASE >> 12) << 10 | 0xcf);
	} else {
		put64(f, O_PGD + 8 * ((f->kva >> 30) & 0x1ff), ((RAM_BASE + O_PMD) >> 12) << 10 | 1);
		for (uint64_t pa = 0; pa < RAM_SIZE; pa += 2u << 20)
			put64(f, O_PMD + 8 * (((f->kva + pa) >> 21) & 0x1ff),
			      ((RAM_BASE + pa) >> 12) << 10 | 0xcf);
	}
	put_btf(f);
	const struct sym syms[] = {
		{"_start", KVA(f, 0)},
		{"swapper_pg_dir", KVA(f, O_PGD)},
		{"__start_BTF", KVA(f, O_BTF)},
		{"__stop_BTF", KVA(f, O_BTF + f->btf_len)},
		{"init_task", KVA(f, O_INIT)},
		{"init_pid_ns", KVA(f, O_PIDNS)},
		{"init_net", KVA(f, O_NET)},
		{"modules", KVA(f, O_MODS)},
		{"tcp_hashinfo", KVA(f, O_HASHINFO)},
		{"_stext", KVA(f, 0x2000)},
		{"_etext", KVA(f, 0x3000)},
		{"__start_rodata", KVA(f, 0x3000)},
		{"__start___jump_table", KVA(f, 0x3100)},
		{"__stop___jump_table", KVA(f, 0x3120)},
		{"sys_call_table", KVA(f, 0x3800)},
		{"__end_rodata", KVA(f, 0x4000)},
		{"runqueues", KVA(f, O_RQ)},
		{"module_kset", KVA(f, O_KSET + 0x100)},
	};
	put_kallsyms(f, syms, full ? 18 : 6);
	put_task(f, O_INIT, 0, "swapper", O_TASK(0), O_INIT);
	put_task(f, O_TASK(0), 1, "init", O_TASK(1), O_INIT);
	put_task(f, O_TASK(1), 2, "kthreadd", O_TASK(2), O_INIT);
	put_task(f, O_TASK(2), 42, "sh", O_INIT, O_TASK(0));
	/* the PID IDR: one XArray node holding pids 1, 2 and 42 */
	put64(f, O_PIDNS + IDR_HEAD, KVA(f, O_XANODE) | 2);
	const int pids[] = {1, 2, 42};
	for (int i = 0; i < 3; i++) {
		put64(f, O_XANODE + XA_SLOTS + 8 * (uint64_t)i, KVA(f, O_PID(i)));
		put64(f, O_PID(i) + PID_TASKS, KVA(f, O_TASK(i)) + T_PID_LINKS);
		put32(f, O_PID(i) + PID_NUMBERS, (uint32_t)pids[i]);
	}
	put16(f, O_TASK(2) + 84, 32 << 3); /* exit_state EXIT_ZOMBIE, in its bitfield */
	put32(f, O_TASK(2) + T_FLAGS, 0x4); /* PF_EXITING, as a zombie has it; no mm */
	put32(f, O_CRED + 4, 1000);
	put32(f, O_CRED + 8, 100);
	/* init has an address space and runs /bin/sh */
	put64(f, O_TASK(0) + T_MM, KVA(f, O_MM));
	put64(f, O_MM, KVA(f, O_PGD));
	put64(f, O_MM + 8, KVA(f, O_FILE));
	put64(f, O_FILE, KVA(f, O_MOUNT) + 16);
	put64(f, O_FILE + 8, KVA(f, O_DENTRY(2)));
	put64(f, O_MOUNT, KVA(f, O_MOUNT)); /* its own parent: the root mount */
	put64(f, O_MOUNT + 16, KVA(f, O_DENTRY(0)));
	put_dentry(f, 0, 0, "/");
	put_dentry(f, 1, 0, "bin");
	put_dentry(f, 2, 1, "sh");
	if (full)
		fake_fill_full(f);
	return f;
}

static inline struct fake *fake_make(bool full)
{
	return fake_make_at(full, KVA_LINK);
}

static inline struct fake *fake_kernel(void)
{
	return fake_make(false);
}

/* A circular list of one entry: head <-> the link at `link`. */
static inline void put_list1(struct fake *f, uint64_t head, uint64_t link)
{
	put64(f, head, KVA(f, link));
	put64(f, head + 8, KVA(f, link));
	put64(f, link, KVA(f, head));
	put64(f, link + 8, KVA(f, head));
}

/* A sock: family AF_INET, TCP, 10.0.2.15:port, state. */
static inline void put_sock(struct fake *f, uint64_t o, unsigned port, unsigned state)
{
	put32(f, o + 4, 0x0f02000a); /* 10.0.2.15 as the kernel keeps it */
	put16(f, o + 10, (uint16_t)port);
	put16(f, o + 12, 2);
	f->ram[o + 14] = (uint8_t)state;
	put16(f, o + 32, 6);
	put64(f, o + 16, 1); /* skc_nulls_node.next: the end of a chain */
}

static inline void fake_fill_full(struct fake *f)
{
	/* init (pid 1): fds 0 (/bin/sh, pos 5) and 2 (a listening socket) */
	put64(f, O_TASK(0) + T_FILES, KVA(f, O_FILES));
	put64(f, O_FILES, KVA(f, O_FDT));
	put32(f, O_FDT, 4);
	put64(f, O_FDT + 8, KVA(f, O_FDARR));
	put64(f, O_FDARR, KVA(f, O_FILE));
	put64(f, O_FDARR + 16, KVA(f, O_SOCKFILE));
	put64(f, O_FILE + 40, 5);
	put32(f, O_FILE + 32, 0100000);
	put64(f, O_SOCKFILE, KVA(f, O_MOUNT) + 16);
	put64(f, O_SOCKFILE + 8, KVA(f, O_SOCKDENTRY));
	put64(f, O_SOCKFILE + 56, KVA(f, O_SOCKET));
	put64(f, O_SOCKDENTRY + 24, KVA(f, O_SOCKSB));
	put64(f, O_SOCKDENTRY + 32, KVA(f, O_INODE));
	put64(f, O_SOCKSB, SOCKFS_MAGIC);
	put64(f, O_INODE, 777);
	put16(f, O_SOCKET, 1);
	put64(f, O_SOCKET + 8, KVA(f, O_SK(0)));
	put_sock(f, O_SK(0), 80, 10);
	put_sock(f, O_SK(1), 22, 6); /* time-wait: in the tables only */
	/* fd 3: a UNIX socket bound to /run/sock */
	put64(f, O_FDARR + 24, KVA(f, O_SOCKFILE + 0x40));
	memcpy(f->ram + O_SOCKFILE + 0x40, f->ram + O_SOCKFILE, 56);
	put64(f, O_SOCKFILE + 0x40 + 56, KVA(f, O_SOCKET + 0x40));
	put16(f, O_SOCKET + 0x40, 1);
	put64(f, O_SOCKET + 0x40 + 8, KVA(f, O_SK(2)));
	put16(f, O_SK(2) + 12, 1);
	put64(f, O_SK(2) + 40, KVA(f, O_SK(2) + 0x80));
	put32(f, O_SK(2) + 0x80 + 4, 2 + 9);
	put16(f, O_SK(2) + 0x80 + 8, 1);
	memcpy(f->ram + O_SK(2) + 0x80 + 10, "/run/sock", 9);
	/* the TCP tables: one listening bucket, one established bucket */
	put64(f, O_HASHINFO, KVA(f, O_EHASH));
	put64(f, O_HASHINFO + 16, KVA(f, O_LHASH));
	put64(f, O_LHASH + 8, KVA(f, O_SK(0)) + 16);
	put64(f, O_EHASH, KVA(f, O_SK(1)) + 16);
	/* mounts: the root mount in init's namespace */
	put64(f, O_INIT + T_NSPROXY, KVA(f, O_NSPROXY));
	put64(f, O_NSPROXY + 8, KVA(f, O_MNTNS));
	put_list1(f, O_MNTNS + 16, O_MOUNT + 32);
	put64(f, O_MOUNT + 48, KVA(f, O_STR + 0x800));
	strcpy((char *)f->ram + O_STR + 0x800, "rootfs");
	put64(f, O_MOUNT + 24, KVA(f, O_STR + 0x1000)); /* mnt.mnt_sb */
	put64(f, O_STR + 0x1000 + 8, KVA(f, O_FSTYPE));
	put64(f, O_FSTYPE, KVA(f, O_STR + 0x808));
	strcpy((char *)f->ram + O_STR + 0x808, "ramfs");
	/* one promiscuous interface, one module */
	put_list1(f, O_NET, O_NETDEV);
	strcpy((char *)f->ram + O_NETDEV + 16, "eth0");
	put32(f, O_NETDEV + 32, 2);
	put32(f, O_NETDEV + 36, 0x141); /* UP, RUNNING, PROMISC */
	put32(f, O_NETDEV + 40, 1500);
	f->ram[O_NETDEV + 44] = 6;
	put64(f, O_NETDEV + 48, KVA(f, O_STR + 0x810));
	memcpy(f->ram + O_STR + 0x810, "\x52\x54\x00\x12\x34\x56", 6);
	put_list1(f, O_MODS, O_MODS + 0x100);
	strcpy((char *)f->ram + O_MODS + 0x100 + 16, "evil");
	put64(f, O_KSET + 0x100, KVA(f, O_KSET));
	put_list1(f, O_KSET, O_MKOBJ + 8);
	put64(f, O_MKOBJ + 32, KVA(f, O_MODS + 0x100));
	memset(f->ram + 0x2000, 0x13, 0x2000); /* "code" and "rodata" */
	/* the run queue: sh running, kthreadd queued (the tree's one node) */
	put64(f, O_RQ, KVA(f, O_TASK(2)));
	put64(f, O_RQ + 8, KVA(f, O_TASK(1)) + T_SE);
}

static inline void fake_free(struct fake *f)
{
	free(f->ram);
	free(f);
}

#endif
