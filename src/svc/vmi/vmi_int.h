/* Introspection internals shared by the files of src/svc/vmi/: the
 * symbol table, the field table looked up in BTF, and bounded reads of
 * kernel memory.  Nothing here is exported beyond vmi.h. */
#ifndef KEEL_SVC_VMI_VMI_INT_H
#define KEEL_SVC_VMI_VMI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "svc/vmi/vmi.h"

/* Bounds on every walk of guest data: a list that has not ended by then
 * is reported as cut short (a cycle, or a kernel far larger than any we
 * run). */
#define VMI_MAX_TASKS 32768
#define VMI_MAX_FDS 65536
/* Descriptor slots one view reads in all (for_each_fd, every task's table
 * together): the two bounds above multiply, and tasks sharing a table
 * that claims VMI_MAX_FDS slots could make the net view read 2^31 slots
 * (44 s in the fuzz build, keel stalled meanwhile).  4 Mi slots is 32 MiB
 * of reads, far more than a small VM's tables hold. */
#define VMI_MAX_FD_SLOTS (1u << 22)
#define VMI_MAX_LIST 65536
#define VMI_MAX_PATH 4096
#define VMI_MAX_DEPTH 256 /* path components */
#define VMI_MAX_BTF (64u << 20)

/* ---- symbols (ksyms.c) ---- */

struct ksym {
	uint64_t addr;
	char type; /* the nm letter; '?' when the source has none */
	char *name;
};

struct ksyms {
	struct ksym *by_name; /* sorted by name */
	struct ksym *by_addr; /* the same symbols sorted by address */
	size_t n;
	char source[64]; /* "kallsyms in RAM at 0x...", "System.map", "vmlinux" */
};

/* Find and decode the kallsyms tables in physical memory. */
int ksyms_from_ram(struct ksyms *ks, const struct memview *mv, char *err, size_t errlen);
int ksyms_from_system_map(struct ksyms *ks, const char *path, char *err, size_t errlen);
int ksyms_from_elf(struct ksyms *ks, const char *path, char *err, size_t errlen);
void ksyms_free(struct ksyms *ks);
/* 0 and *addr, or -1 when the kernel has no such symbol. */
int ksyms_lookup(const struct ksyms *ks, const char *name, uint64_t *addr);
/* The address of the first symbol above addr (a symbol's extent), or 0. */
uint64_t ksyms_next_addr(const struct ksyms *ks, uint64_t addr);

/* ---- views a field is needed by ---- */

enum {
	V_PS = 1u << 0,
	V_FILES = 1u << 1,
	V_NET = 1u << 2,
	V_MODULES = 1u << 3,
	V_MOUNTS = 1u << 4,
	V_IFACES = 1u << 5,
	V_INTEGRITY = 1u << 6,
	V_CROSS = 1u << 7,
	V_EVENTS = 1u << 8,
	V_THREADS = 1u << 9,
};

/* ---- fields (ktypes.c) ---- */

enum field_id {
	F_TASK_TASKS, F_TASK_PID, F_TASK_TGID, F_TASK_REAL_PARENT, F_TASK_CRED, F_TASK_COMM,
	F_TASK_MM, F_TASK_STATE, F_TASK_START_TIME, F_TASK_FLAGS, F_TASK_FILES, F_TASK_NSPROXY,
	F_TASK_PID_LINKS, F_TASK_EXIT_STATE, F_TASK_SIGNAL, F_SIGNAL_NR_THREADS,
	F_CRED_UID, F_CRED_GID, F_CRED_EUID,
	F_MM_PGD, F_MM_EXE_FILE,
	F_FILE_PATH, F_FILE_FLAGS, F_FILE_POS, F_FILE_PRIVATE, F_FILE_INODE,
	F_PATH_MNT, F_PATH_DENTRY,
	F_DENTRY_PARENT, F_DENTRY_NAME, F_DENTRY_INODE, F_DENTRY_SB,
	F_QSTR_LEN, F_QSTR_NAME,
	F_INODE_INO,
	F_SB_MAGIC, F_SB_TYPE, F_FSTYPE_NAME,
	F_VFSMOUNT_ROOT, F_VFSMOUNT_SB,
	F_MOUNT_MNT, F_MOUNT_PARENT, F_MOUNT_MOUNTPOINT, F_MOUNT_LIST, F_MOUNT_DEVNAME,
	F_FILES_FDT, F_FDT_MAX_FDS, F_FDT_FD,
	F_SOCKET_SK, F_SOCKET_TYPE,
	F_SK_FAMILY, F_SK_STATE, F_SK_NUM, F_SK_DPORT, F_SK_RCV_SADDR, F_SK_DADDR, F_SK_PROTOCOL,
	F_NSPROXY_MNT_NS, F_MNTNS_LIST,
	F_NET_DEV_BASE, F_NETDEV_LIST, F_NETDEV_NAME, F_NETDEV_IFINDEX, F_NETDEV_FLAGS,
	F_NETDEV_MTU, F_NETDEV_ADDR, F_NETDEV_ADDR_LEN,
	F_PID_NUMBERS, F_PID_TASKS, F_UPID_NR, F_PIDNS_IDR, F_IDR_RT, F_XA_HEAD, F_XANODE_SHIFT,
	F_XANODE_SLOTS,
	F_MODULE_LIST, F_MODULE_NAME, F_MODULE_STATE,
	F_NET_TCP_HASHINFO, F_HI_EHASH, F_HI_EHASH_MASK, F_HI_LHASH2, F_HI_LHASH2_MASK,
	F_EHB_CHAIN, F_LHB_HEAD, F_SK_NULLS_NODE,
	F_UNIX_ADDR, F_UNIXADDR_LEN, F_UNIXADDR_NAME,
	F_MNTNS_MOUNTS, F_MOUNT_NODE, F_RBROOT_NODE, F_RB_LEFT, F_RB_RIGHT,
	F_RQ_CFS, F_RQ_CURR, F_CFSRQ_TIMELINE, F_CFSRQ_CURR, F_TASK_SE, F_SE_RUN_NODE, F_SE_MY_Q,
	F_SIGNAL_THREAD_HEAD, F_TASK_THREAD_NODE,
	F_SK_V6_RCV_SADDR, F_SK_V6_DADDR,
	F_KSET_LIST, F_KOBJ_ENTRY, F_MKOBJ_KOBJ, F_MKOBJ_MOD,
	F_COUNT
};

/* Structures whose size a walk needs (array strides). */
enum type_id { TY_EHASH_BUCKET, TY_LISTEN_BUCKET, TY_COUNT };

struct field {
	bool ok;
	uint32_t off; /* bytes from the start of the outermost struct */
	uint32_t size; /* bytes (for a bitfield: of its storage unit) */
	uint8_t bit_off, bit_size; /* a bitfield's position in its unit; bit_size 0: not one */
	uint32_t nelem; /* an array's element count, else 0 */
};

struct vmi {
	struct memview mv;
	uint64_t satp; /* the kernel's page table, as a satp value */
	uint64_t kimage_va, kimage_pa; /* the kernel image's start */
	char pgd_source[96];
	struct ksyms syms;
	struct btf *btf;
	char btf_source[96];
	struct field f[F_COUNT];
	uint32_t tsize[TY_COUNT]; /* 0: not in the BTF */
	unsigned refused; /* views some missing field needs */
	uint64_t fd_slots_left; /* of VMI_MAX_FD_SLOTS, in the view under way */
	json_t *missing; /* [{"field":..., "views":[...]}] */
	double attach_ms, btf_ms;
};

/* Look every field up in the BTF; record what is missing. */
void ktypes_resolve(struct vmi *v);
/* The BTF: from the ELF file, or from __start_BTF.. in kernel memory. */
int ktypes_load(struct vmi *v, const char *vmlinux, char *err, size_t errlen);
/* Names of the views in a mask, as a JSON array. */
json_t *views_of_mask(unsigned mask);

/* ---- kernel memory (kread.c) ---- */

/* All of [va, va+len) through the kernel's page table, or -1. */
int kread(const struct vmi *v, uint64_t va, void *buf, size_t len);
/* A field of the object at base, zero-extended (bitfields extracted). */
int kfield(const struct vmi *v, uint64_t base, enum field_id f, uint64_t *out);
/* A pointer-sized field. */
uint64_t kptr(const struct vmi *v, uint64_t base, enum field_id f);
/* A NUL-terminated string of at most max-1 bytes at va.  Returns 0 (whole
 * string), 1 (cut short at max-1 bytes: no terminator) or -1 (unreadable).
 * buf always ends up terminated. */
int kstr(const struct vmi *v, uint64_t va, char *buf, size_t max);
/* A JSON string of guest bytes: what is not UTF-8 becomes '?'. */
json_t *gstr(const char *s);
/* The address of the kernel symbol, or 0 with a message in err. */
uint64_t ksym(const struct vmi *v, const char *name);
/* The physical address behind a kernel virtual one, or -1. */
int kphys(const struct vmi *v, uint64_t va, uint64_t *pa);

/* A view's result under construction: rows and notes (cut-short walks,
 * unreadable objects). */
struct view_out {
	json_t *rows;
	json_t *notes;
	json_t *extra; /* more top-level keys of the result */
};
void note(struct view_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- shared walks ---- */

/* The addresses one walk has passed (seen_set.c): seen_before(s, a) is
 * true when a was passed already, and records it otherwise; seen_has
 * only looks.  A zeroed struct is an empty set; seen_free releases it. */
struct seen_set {
	uint64_t *slot;
	size_t cap, n; /* cap: a power of two */
};
bool seen_before(struct seen_set *s, uint64_t addr);
bool seen_has(const struct seen_set *s, uint64_t addr);
void seen_free(struct seen_set *s);

/* Call fn for each task on the task list (every thread-group leader but
 * init_task), at most VMI_MAX_TASKS; returns how many, or -1. */
typedef int (*task_fn)(struct vmi *v, uint64_t task, void *opaque);
long for_each_task(struct vmi *v, struct view_out *o, task_fn fn, void *opaque);
/* The path of (mnt, dentry) walked up through the mounts to the root of
 * the mount tree, in the kernel's own form for sockets and pipes
 * ("socket:[1234]").  Returns 0, or 1 when cut short (marked "..."). */
int kpath(const struct vmi *v, uint64_t vfsmnt, uint64_t dentry, char *buf, size_t max);
int file_path(const struct vmi *v, uint64_t file, char *buf, size_t max);
/* The struct file behind descriptor fd of the task, or 0. */
uint64_t task_fd_file(const struct vmi *v, uint64_t task, uint64_t fd);
/* A socket file's protocol name ("tcp", "unix-stream", ...) and, for
 * IPv4, its endpoints as "a.b.c.d:port" ("" otherwise).  -1 when the
 * file's socket is unreadable. */
int socket_endpoints(const struct vmi *v, uint64_t file, char *proto, size_t plen, char *local,
		     char *remote, size_t alen);
/* Call fn for each open file of the task; -1 if its table is unreadable. */
typedef void (*fd_fn)(struct vmi *v, uint64_t task, int fd, uint64_t file, void *opaque);
int for_each_fd(struct vmi *v, struct view_out *o, uint64_t task, fd_fn fn, void *opaque);
/* The task whose pid is `pid`, or 0. */
uint64_t find_task(struct vmi *v, long pid);
/* The task a view's PID argument names, its pid in *pid; 0 with err set
 * when the argument is not a pid or no process has it. */
uint64_t find_task_arg(struct vmi *v, const char *arg, long *pid, char *err, size_t errlen);
/* Task fields every view reports. */
void task_identity(const struct vmi *v, uint64_t task, json_t *row);

/* The views: fill o, or return -1 with a reason. */
typedef int (*view_fn)(struct vmi *v, struct view_out *o, const char *arg, char *err,
		       size_t errlen);
int view_ps(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen);
int view_files(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen);
int view_net(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen);
int view_crossview(struct vmi *v, struct view_out *o, const char *arg, char *err,
		   size_t errlen);
int view_mounts(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen);
int view_ifaces(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen);
int view_modules(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen);
int view_integrity(struct vmi *v, struct view_out *o, const char *arg, char *err,
		   size_t errlen);
int view_threads(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen);

/* Magic numbers of the pseudo file systems whose names the kernel makes
 * up (include/uapi/linux/magic.h). */
#define SOCKFS_MAGIC 0x534F434Bu
#define PIPEFS_MAGIC 0x50495045u
#define ANON_INODE_FS_MAGIC 0x09041934u

#endif
