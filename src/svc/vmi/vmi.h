/* Introspection: the guest kernel's processes, files, sockets, mounts,
 * interfaces and integrity, read from below through the memory view
 * (docs/vmi.md).  Nothing is entered by hand: symbols come from the
 * guest's own kallsyms tables in RAM (or System.map / vmlinux when given),
 * types and field offsets from BTF (the kernel's own, in RAM, or the
 * vmlinux file's), and the kernel's page table is found and checked.
 *
 * Everything read is the guest's and may be hostile: every walk is
 * bounded, every pointer is read through the view (never dereferenced on
 * the host), and a view that cannot finish returns what it has with a
 * "truncated" note or an error. */
#ifndef KEEL_SVC_VMI_VMI_H
#define KEEL_SVC_VMI_VMI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "vm/taps.h"

struct vmi;

struct vmi_options {
	const char *vmlinux; /* symbols and BTF from this ELF file (NULL: from RAM) */
	const char *system_map; /* symbols from this System.map (NULL: kallsyms in RAM) */
	/* A satp whose table maps the kernel (the hart's, when it has paging
	 * on); 0: find swapper_pg_dir and check it. */
	uint64_t satp;
	/* For an event stream (vmi_events.h): start from this kernel, already
	 * attached (borrowed: the caller frees it after the stream stops),
	 * instead of attaching at the first system call.  A fork-clone handed
	 * its parent's attached vmi skips the attach (about 0.1 s). */
	struct vmi *attached;
};

/* Find the kernel in the view's memory.  Returns NULL with a reason in
 * err.  The view's RAM must stay where it is while the vmi is used (a
 * machine's does; take a fresh memview after each run anyway with
 * vmi_set_memview). */
struct vmi *vmi_attach(const struct memview *mv, const struct vmi_options *o, char *err,
		       size_t errlen);
void vmi_set_memview(struct vmi *v, const struct memview *mv);
/* Take mv as the view and say whether the kernel is still where attach
 * found it (its page table still maps the image there): false after a
 * reboot into another kernel, say; attach again then. */
bool vmi_check(struct vmi *v, const struct memview *mv);
void vmi_free(struct vmi *v);

/* What attach found, as JSON: kernel base, page table, symbol and BTF
 * sources, the fields it lacks and the views they disable. */
json_t *vmi_info(const struct vmi *v);

/* The views: "ps", "files" (arg: a pid), "net", "modules", "mounts",
 * "ifaces", "integrity", "crossview".  Returns a JSON object
 * {"view": NAME, "rows": [...], ...} (new reference) or NULL with a
 * reason in err (unknown view, a field the kernel lacks, no such pid). */
json_t *vmi_view(struct vmi *v, const char *view, const char *arg, char *err, size_t errlen);

/* The names of the views, NULL-terminated. */
extern const char *const vmi_view_names[];

/* One task as services that follow processes need it (svc/vmi/task.c). */
struct vmi_task {
	uint64_t task; /* its task_struct's kernel address */
	int32_t pid, tgid, ppid; /* ppid: the real parent's tgid */
	uint32_t uid;
	bool kthread;
	char comm[17];
};

/* Read the task_struct at `task`: 0, or -1 when it is unreadable. */
int vmi_task_read(const struct vmi *v, uint64_t task, struct vmi_task *t);
/* A task's pid and uids, in four reads: cheap enough for a check at every
 * system call (the shield's uid watch).  0, or -1 when unreadable. */
struct vmi_creds {
	int32_t pid, tgid;
	uint32_t uid, euid;
};
int vmi_task_creds(const struct vmi *v, uint64_t task, struct vmi_creds *c);
/* The task_struct of the process whose tgid is pid, or 0 (a walk of the
 * task list: for alerts, not per event). */
uint64_t vmi_task_find(struct vmi *v, long pid);
/* The processes on the task list (thread-group leaders, kernel threads
 * included: see .kthread), at most max of them, in list order.  Returns
 * how many were read into out, or -1 (no task list). */
long vmi_task_list(struct vmi *v, struct vmi_task *out, long max);
/* The path of the task's executable (mm->exe_file), or -1. */
int vmi_task_exe(const struct vmi *v, uint64_t task, char *buf, size_t max);
/* The path of the task's open descriptor fd (as the files view names it),
 * or -1: no such descriptor, or unreadable. */
int vmi_task_fd_path(const struct vmi *v, uint64_t task, int fd, char *buf, size_t max);
/* The process and its ancestors up to init, as
 * [{"pid":..,"comm":..,"uid":..,"exe":..}, ...] (at most max, newest first). */
json_t *vmi_task_chain(const struct vmi *v, uint64_t task, int max);

/* What a task's descriptor refers to (svc/vmi/fd.c): for services that
 * follow reads and writes to the files and connections behind them. */
enum vmi_fd_kind { VMI_FD_FILE, VMI_FD_PIPE, VMI_FD_SOCKET, VMI_FD_OTHER };
struct vmi_fd {
	enum vmi_fd_kind kind;
	uint64_t file; /* the struct file's kernel address */
	uint64_t ino;
	char path[512]; /* "/etc/passwd", "pipe:[12]", "socket:[34]", "anon_inode:[eventfd]" */
	char proto[16]; /* sockets: "tcp", "udp", "unix-stream", ... */
	char local[48], remote[48]; /* IPv4 sockets: "a.b.c.d:port"; else "" */
};
/* Resolve descriptor fd of the task: 0, or -1 when it is not open (or
 * its file is unreadable). */
int vmi_task_fd(const struct vmi *v, uint64_t task, uint64_t fd, struct vmi_fd *out);

/* Print a view's result as an aligned table (its notes after). */
void vmi_print_table(FILE *out, const json_t *result);

#endif
