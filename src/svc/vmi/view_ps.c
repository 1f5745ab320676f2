/* Processes: the task list walked from init_task, a process's threads,
 * and the cross-view that checks the list against the PID allocator
 * (init_pid_ns's IDR), where a task unlinked from the list to hide it
 * still has its pid, and against the run queues, where it still waits
 * for the CPU whenever it is runnable. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "svc/vmi/vmi_int.h"

#define PF_EXITING 0x00000004u
#define PF_KTHREAD 0x00200000u
#define PIDTYPE_PID 0

long for_each_task(struct vmi *v, struct view_out *o, task_fn fn, void *opaque)
{
	uint64_t init = ksym(v, "init_task");
	if (!init) {
		note(o, "no init_task symbol");
		return -1;
	}
	uint64_t off = v->f[F_TASK_TASKS].off, head = init + off, next;
	long n = 0;
	if (kread(v, head, &next, 8)) {
		note(o, "init_task at 0x%" PRIx64 " is not readable", init);
		return -1;
	}
	struct seen_set seen = {0};
	while (next != head) {
		if (n >= VMI_MAX_TASKS) {
			note(o, "the task list did not end after %d tasks: cut short", VMI_MAX_TASKS);
			break;
		}
		uint64_t task = next - off;
		if (seen_before(&seen, task)) {
			note(o, "the task list comes back to 0x%" PRIx64 " without passing init_task "
				"(a cycle): cut short",
			     task);
			break;
		}
		if (kread(v, next, &next, 8)) {
			note(o, "the task list is broken at 0x%" PRIx64 ": cut short", task + off);
			break;
		}
		n++;
		if (fn(v, task, opaque))
			break;
	}
	seen_free(&seen);
	return n;
}

void task_identity(const struct vmi *v, uint64_t task, json_t *row)
{
	uint64_t pid = 0, tgid = 0;
	char comm[17] = "";
	kfield(v, task, F_TASK_PID, &pid);
	kfield(v, task, F_TASK_TGID, &tgid);
	uint32_t clen = v->f[F_TASK_COMM].size < 16 ? v->f[F_TASK_COMM].size : 16;
	if (kread(v, task + v->f[F_TASK_COMM].off, comm, clen))
		comm[0] = 0;
	comm[16] = 0;
	json_object_set_new(row, "pid", json_integer((int32_t)pid));
	json_object_set_new(row, "tgid", json_integer((int32_t)tgid));
	json_object_set_new(row, "comm", gstr(comm));
}

struct find_ctx {
	long pid;
	uint64_t task;
};

static int find_fn(struct vmi *v, uint64_t task, void *opaque)
{
	struct find_ctx *c = opaque;
	uint64_t tgid;
	if (kfield(v, task, F_TASK_TGID, &tgid) == 0 && (int32_t)tgid == c->pid) {
		c->task = task;
		return 1;
	}
	return 0;
}

uint64_t find_task(struct vmi *v, long pid)
{
	struct find_ctx c = {pid, 0};
	struct view_out o = {.notes = json_array()};
	for_each_task(v, &o, find_fn, &c);
	json_decref(o.notes);
	return c.task;
}

uint64_t find_task_arg(struct vmi *v, const char *arg, long *pid, char *err, size_t errlen)
{
	char *end;
	*pid = strtol(arg, &end, 10);
	if (*end || *pid <= 0 || *pid > 0x7fffffff) {
		snprintf(err, errlen, "'%s' is not a pid", arg);
		return 0;
	}
	uint64_t task = find_task(v, *pid);
	if (!task)
		snprintf(err, errlen, "no process %ld in the task list", *pid);
	return task;
}

/* The letter ps shows, as fs/proc/array.c computes it. */
static char state_letter(uint64_t state, uint64_t exit_state)
{
	static const char letters[] = "RSDTtXZPI";
	const uint64_t task_idle = 0x402, task_report = 0x7f;
	if (state == task_idle)
		return 'I';
	uint64_t s = (state | exit_state) & task_report;
	int idx = 0;
	while (s) {
		idx++;
		s >>= 1;
	}
	return idx < 9 ? letters[idx] : '?';
}

static json_t *hex(uint64_t x)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%" PRIx64, x);
	return json_string(buf);
}

static int ps_fn(struct vmi *v, uint64_t task, void *opaque)
{
	struct view_out *o = opaque;
	json_t *row = json_object();
	task_identity(v, task, row);
	uint64_t parent = kptr(v, task, F_TASK_REAL_PARENT), ppid = 0, flags = 0, st = 0, ex = 0;
	if (parent && kfield(v, parent, F_TASK_TGID, &ppid))
		note(o, "a parent task is unreadable");
	uint64_t cred = kptr(v, task, F_TASK_CRED), uid = 0, gid = 0;
	if (!cred || kfield(v, cred, F_CRED_UID, &uid) || kfield(v, cred, F_CRED_GID, &gid))
		note(o, "a task's credentials are unreadable");
	kfield(v, task, F_TASK_FLAGS, &flags);
	kfield(v, task, F_TASK_STATE, &st);
	kfield(v, task, F_TASK_EXIT_STATE, &ex);
	uint64_t start = 0;
	kfield(v, task, F_TASK_START_TIME, &start);
	json_object_set_new(row, "ppid", json_integer((int32_t)ppid));
	json_object_set_new(row, "uid", json_integer((uint32_t)uid));
	json_object_set_new(row, "gid", json_integer((uint32_t)gid));
	char state[2] = {state_letter(st, ex), 0};
	json_object_set_new(row, "state", json_string(state));
	json_object_set_new(row, "kthread", json_boolean(flags & PF_KTHREAD));
	/* in do_exit: from exit_mm on, a task has no mm (so no exe and no
	 * page table) while ps still shows it R until it becomes a zombie */
	json_object_set_new(row, "exiting", json_boolean(flags & PF_EXITING));
	uint64_t threads;
	json_object_set_new(row, "threads",
			    kfield(v, kptr(v, task, F_TASK_SIGNAL), F_SIGNAL_NR_THREADS, &threads)
				    ? json_null()
				    : json_integer((int32_t)threads));
	json_object_set_new(row, "start_ns", json_integer((json_int_t)start));
	uint64_t mm = kptr(v, task, F_TASK_MM);
	json_t *exe = json_null(), *pgd = json_null();
	if (mm) {
		uint64_t file = kptr(v, mm, F_MM_EXE_FILE), pgd_va = kptr(v, mm, F_MM_PGD), pa;
		char path[VMI_MAX_PATH];
		if (file && file_path(v, file, path, sizeof(path)) >= 0)
			exe = gstr(path);
		if (pgd_va && kphys(v, pgd_va, &pa) == 0)
			pgd = hex(pa);
		else
			note(o, "a process's page table is not mapped");
	}
	json_object_set_new(row, "exe", exe);
	json_object_set_new(row, "pgd_pa", pgd);
	json_array_append_new(o->rows, row);
	return 0;
}

int view_ps(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen)
{
	if (for_each_task(v, o, ps_fn, o) < 0) {
		snprintf(err, errlen, "%s", json_string_value(json_array_get(o->notes, 0)));
		return -1;
	}
	return 0;
}

/* ---- cross-view ---- */

struct pidset {
	int32_t *pid;
	uint64_t *task; /* the task each was reached through (0: not kept) */
	size_t n, cap;
};

static void pidset_add_task(struct pidset *s, int32_t pid, uint64_t task)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		int32_t *p = realloc(s->pid, cap * sizeof(*p));
		if (!p)
			return;
		s->pid = p;
		uint64_t *t = realloc(s->task, cap * sizeof(*t));
		if (!t)
			return;
		s->task = t;
		s->cap = cap;
	}
	s->task[s->n] = task;
	s->pid[s->n++] = pid;
}

static void pidset_add(struct pidset *s, int32_t pid)
{
	pidset_add_task(s, pid, 0);
}

static void pidset_free(struct pidset *s)
{
	free(s->pid);
	free(s->task);
}

static bool pidset_has(const struct pidset *s, int32_t pid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->pid[i] == pid)
			return true;
	return false;
}

struct xwalk {
	struct vmi *v;
	struct view_out *o;
	struct pidset leaders; /* processes the IDR reaches */
	struct pidset runq; /* processes with a thread on a run queue */
	struct seen_set nodes; /* the IDR's nodes passed */
	long visited;
};

/* A struct pid from the IDR: the process its PIDTYPE_PID task leads. */
static void idr_pid(struct xwalk *w, uint64_t pid)
{
	struct vmi *v = w->v;
	uint64_t first, tid = 0, tgid = 0;
	uint64_t links = v->f[F_TASK_PID_LINKS].off;
	/* pid->tasks[PIDTYPE_PID].first: an hlist_head is one pointer */
	if (kread(v, pid + v->f[F_PID_TASKS].off + 8 * PIDTYPE_PID, &first, 8)) {
		note(w->o, "a struct pid from the IDR is unreadable");
		return;
	}
	if (!first)
		return; /* a pid that outlives its task (a pidfd, a session id) */
	uint64_t task = first - links;
	if (kfield(v, task, F_TASK_PID, &tid) || kfield(v, task, F_TASK_TGID, &tgid)) {
		note(w->o, "a task reached from the IDR is unreadable");
		return;
	}
	if (tid == tgid)
		pidset_add_task(&w->leaders, (int32_t)tgid, task);
}

/* pid_max can be at most PID_MAX_LIMIT, 2^22 (include/linux/threads.h),
 * so the PID IDR's XArray indexes at most 22 bits: with 64-slot nodes
 * (6 bits each) a node is at depth 0 to 3, with 16-slot ones
 * (CONFIG_BASE_SMALL) at 0 to 5.  A node deeper than that, or one reached
 * twice, is not part of a tree the kernel built. */
#define PID_INDEX_BITS 22

static int xa_max_depth(uint32_t slots)
{
	int bits = 0;
	while ((1u << bits) < slots)
		bits++;
	return bits ? (PID_INDEX_BITS + bits - 1) / bits - 1 : 0;
}

/* An XArray entry: a node (internal, tagged 2) or a leaf pointer. */
static void xa_walk(struct xwalk *w, uint64_t entry, int depth)
{
	if (!entry || w->visited++ > VMI_MAX_LIST * 4) {
		if (entry)
			note(w->o, "the PID IDR has too many entries (a cycle?): cut short");
		return;
	}
	if ((entry & 3) != 2) {
		if (!(entry & 1)) /* odd: a value entry, not a pointer */
			idr_pid(w, entry);
		return;
	}
	if (entry <= 4096)
		return; /* retry or sibling entries */
	const struct field *slots = &w->v->f[F_XANODE_SLOTS];
	uint32_t n = slots->nelem ? slots->nelem : 64;
	if (depth > xa_max_depth(n)) {
		note(w->o, "the PID IDR is deeper than 2^%d pids need: cut short", PID_INDEX_BITS);
		return;
	}
	uint64_t node = entry - 2;
	if (seen_before(&w->nodes, node)) {
		note(w->o, "the PID IDR reaches node 0x%" PRIx64 " twice: cut short", node);
		return;
	}
	uint64_t buf[256];
	if (n > 256 || kread(w->v, node + slots->off, buf, n * 8)) {
		note(w->o, "an IDR node is unreadable");
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		xa_walk(w, buf[i], depth + 1);
}

/* ---- run queues ---- */

#define MAX_CPUS 256
#define MAX_GROUP_DEPTH 16 /* nested task groups (cgroups) */

/* A sched_entity: a task's (its leader's tgid into w->runq) or, with
 * group scheduling, a group's, whose own cfs_rq is walked in turn. */
static void rq_cfs(struct xwalk *w, uint64_t cfs_rq, int depth);

static void rq_entity(struct xwalk *w, uint64_t se, int depth)
{
	struct vmi *v = w->v;
	uint64_t my_q = v->f[F_SE_MY_Q].ok ? kptr(v, se, F_SE_MY_Q) : 0, tgid;
	if (my_q) {
		rq_cfs(w, my_q, depth + 1);
		return;
	}
	uint64_t task = se - v->f[F_TASK_SE].off;
	if (kfield(v, task, F_TASK_TGID, &tgid)) {
		note(w->o, "a task on a run queue is unreadable");
		return;
	}
	if ((int32_t)tgid > 0 && !pidset_has(&w->runq, (int32_t)tgid))
		pidset_add_task(&w->runq, (int32_t)tgid, task);
}

/* The entities queued on a cfs_rq (its red-black tree, in order) and the
 * one running, which the fair class keeps out of the tree. */
static void rq_cfs(struct xwalk *w, uint64_t cfs_rq, int depth)
{
	struct vmi *v = w->v;
	if (depth > MAX_GROUP_DEPTH) {
		note(w->o, "task groups nested deeper than %d: cut short", MAX_GROUP_DEPTH);
		return;
	}
	uint64_t stack[64], node = kptr(v, cfs_rq + v->f[F_CFSRQ_TIMELINE].off, F_RBROOT_NODE);
	int sp = 0;
	while (node || sp) {
		while (node) {
			if (sp == 64 || w->visited++ > VMI_MAX_LIST) {
				note(w->o, "a run queue's tree is not a red-black tree: cut short");
				return;
			}
			stack[sp++] = node;
			node = kptr(v, node, F_RB_LEFT);
		}
		node = stack[--sp];
		rq_entity(w, node - v->f[F_SE_RUN_NODE].off, depth);
		node = kptr(v, node, F_RB_RIGHT);
	}
	uint64_t curr = v->f[F_CFSRQ_CURR].ok ? kptr(v, cfs_rq, F_CFSRQ_CURR) : 0;
	if (curr)
		rq_entity(w, curr, depth);
}

/* Every CPU's rq (the per-CPU variable runqueues: its link address plus
 * __per_cpu_offset[cpu] on SMP kernels): the task running there and the
 * fair class's queue.  Returns false (with a note) when the kernel's
 * types or symbols do not allow it. */
static bool walk_runqueues(struct xwalk *w)
{
	struct vmi *v = w->v;
	static const enum field_id need[] = {F_RQ_CFS, F_RQ_CURR, F_CFSRQ_TIMELINE, F_TASK_SE,
					     F_SE_RUN_NODE, F_RBROOT_NODE, F_RB_LEFT, F_RB_RIGHT};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!v->f[need[i]].ok) {
			note(w->o, "run queues not read: this kernel's BTF lacks a scheduler field");
			return false;
		}
	uint64_t rq0, offs = 0, ncpu = 1;
	if (ksyms_lookup(&v->syms, "runqueues", &rq0)) {
		note(w->o, "run queues not read: no runqueues symbol");
		return false;
	}
	uint64_t nr_sym;
	bool smp = ksyms_lookup(&v->syms, "__per_cpu_offset", &offs) == 0;
	if (smp) {
		uint32_t n = 1;
		if (ksyms_lookup(&v->syms, "nr_cpu_ids", &nr_sym) == 0 && kread(v, nr_sym, &n, 4) == 0)
			ncpu = n;
		if (ncpu == 0 || ncpu > MAX_CPUS) {
			note(w->o, "run queues not read: nr_cpu_ids is %" PRIu64, ncpu);
			return false;
		}
	}
	for (uint64_t cpu = 0; cpu < ncpu; cpu++) {
		uint64_t off = 0;
		if (smp && kread(v, offs + 8 * cpu, &off, 8)) {
			note(w->o, "__per_cpu_offset is unreadable");
			return false;
		}
		uint64_t rq = rq0 + off, curr = kptr(v, rq, F_RQ_CURR), tgid;
		if (curr && kfield(v, curr, F_TASK_TGID, &tgid) == 0 && (int32_t)tgid > 0 &&
		    !pidset_has(&w->runq, (int32_t)tgid))
			pidset_add_task(&w->runq, (int32_t)tgid, curr);
		rq_cfs(w, rq + v->f[F_RQ_CFS].off, 0);
	}
	return true;
}

/* A task of process pid as the IDR or a run queue reached it, or 0. */
static uint64_t idr_task(const struct xwalk *w, int32_t pid)
{
	const struct pidset *sets[] = {&w->leaders, &w->runq};
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < sets[k]->n; i++)
			if (sets[k]->pid[i] == pid && sets[k]->task[i])
				return sets[k]->task[i];
	return 0;
}

/* A task that has exited and been released, but is still its CPU's
 * current task until its last schedule(): the kernel takes it off the
 * task list and out of the IDR first (release_task), so for a moment the
 * run queue alone has it.  Its exit_state says so (EXIT_DEAD, or
 * EXIT_ZOMBIE just before); a live task hidden by a rootkit has none,
 * and a rootkit that wrote one there would have its process ignored by
 * wait, ptrace and the scheduler's own exit paths. */
static bool task_dead(struct vmi *v, uint64_t task)
{
	uint64_t exit_state = 0;
	return task && kfield(v, task, F_TASK_EXIT_STATE, &exit_state) == 0 &&
	       (uint32_t)exit_state != 0;
}

struct list_ctx {
	struct pidset pids;
	json_t *comm; /* pid -> comm */
};

static int list_fn(struct vmi *v, uint64_t task, void *opaque)
{
	struct list_ctx *c = opaque;
	json_t *row = json_object();
	task_identity(v, task, row);
	int32_t pid = (int32_t)json_integer_value(json_object_get(row, "tgid"));
	pidset_add(&c->pids, pid);
	char key[16];
	snprintf(key, sizeof(key), "%d", pid);
	json_object_set(c->comm, key, json_object_get(row, "comm"));
	json_decref(row);
	return 0;
}

static int cmp_pid(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

int view_crossview(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen)
{
	uint64_t ns = ksym(v, "init_pid_ns");
	if (!ns) {
		snprintf(err, errlen, "no init_pid_ns symbol");
		return -1;
	}
	struct list_ctx lc = {.comm = json_object()};
	for_each_task(v, o, list_fn, &lc);
	struct xwalk w = {.v = v, .o = o};
	uint64_t head;
	uint64_t at = ns + v->f[F_PIDNS_IDR].off + v->f[F_IDR_RT].off + v->f[F_XA_HEAD].off;
	if (kread(v, at, &head, 8))
		note(o, "init_pid_ns's IDR is unreadable");
	else
		xa_walk(&w, head, 0);
	seen_free(&w.nodes);
	w.visited = 0;
	bool have_rq = walk_runqueues(&w);
	/* every pid any source has, in order */
	struct pidset all = {0};
	for (size_t i = 0; i < lc.pids.n; i++)
		pidset_add(&all, lc.pids.pid[i]);
	for (size_t i = 0; i < w.leaders.n; i++)
		pidset_add(&all, w.leaders.pid[i]);
	for (size_t i = 0; i < w.runq.n; i++)
		pidset_add(&all, w.runq.pid[i]);
	if (all.n)
		qsort(all.pid, all.n, sizeof(*all.pid), cmp_pid);
	json_t *hidden = json_array(), *unlisted = json_array();
	for (size_t i = 0; i < all.n; i++) {
		int32_t pid = all.pid[i];
		if (i && pid == all.pid[i - 1])
			continue;
		bool in_list = pidset_has(&lc.pids, pid), in_idr = pidset_has(&w.leaders, pid);
		bool in_rq = pidset_has(&w.runq, pid);
		char key[16];
		snprintf(key, sizeof(key), "%d", pid);
		json_t *comm = json_object_get(lc.comm, key);
		if (!comm && (in_idr || in_rq)) {
			uint64_t t = idr_task(&w, pid);
			struct vmi_task vt;
			if (t && vmi_task_read(v, t, &vt) == 0)
				json_object_set_new(lc.comm, key, gstr(vt.comm));
			comm = json_object_get(lc.comm, key);
		}
		bool dead = !in_list && !in_idr && in_rq && task_dead(v, idr_task(&w, pid));
		json_array_append_new(o->rows, json_pack("{s:i,s:O,s:b,s:b,s:o,s:b}", "pid", pid,
							 "comm", comm ? comm : json_null(),
							 "task_list", in_list, "pid_idr", in_idr,
							 "run_queue",
							 have_rq ? json_boolean(in_rq) : json_null(),
							 "dead", dead));
		if ((in_idr || in_rq) && !in_list && !dead)
			json_array_append_new(hidden, json_integer(pid));
		if (in_list && !in_idr)
			json_array_append_new(unlisted, json_integer(pid));
	}
	json_object_set_new(o->extra, "hidden", hidden);
	json_object_set_new(o->extra, "not_in_idr", unlisted);
	json_object_set_new(o->extra, "run_queues", json_boolean(have_rq));
	json_object_set_new(o->extra, "consistent",
			    json_boolean(!json_array_size(hidden) && !json_array_size(unlisted)));
	pidset_free(&w.runq);
	pidset_free(&lc.pids);
	pidset_free(&w.leaders);
	pidset_free(&all);
	json_decref(lc.comm);
	return 0;
}

/* ---- threads ---- */

/* Process pid's threads: its signal_struct's thread_head, a list through
 * each task's thread_node (the leader first, as /proc/PID/task lists). */
int view_threads(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen)
{
	long pid;
	uint64_t task = find_task_arg(v, arg, &pid, err, errlen);
	if (!task)
		return -1;
	uint64_t sig = v->f[F_TASK_SIGNAL].ok ? kptr(v, task, F_TASK_SIGNAL) : 0;
	if (!sig) {
		snprintf(err, errlen, "process %ld's signal_struct is unreadable", pid);
		return -1;
	}
	json_t *who = json_object();
	task_identity(v, task, who);
	json_object_set_new(o->extra, "process", who);
	uint64_t off = v->f[F_TASK_THREAD_NODE].off, head = sig + v->f[F_SIGNAL_THREAD_HEAD].off;
	uint64_t next;
	if (kread(v, head, &next, 8)) {
		note(o, "the thread list head is unreadable");
		return 0;
	}
	for (long n = 0; next != head; n++) {
		if (n >= VMI_MAX_TASKS) {
			note(o, "the thread list did not end after %d threads (a cycle?): cut short",
			     VMI_MAX_TASKS);
			break;
		}
		uint64_t t = next - off, st = 0, ex = 0;
		if (kread(v, next, &next, 8)) {
			note(o, "the thread list is broken: cut short");
			break;
		}
		json_t *row = json_object();
		task_identity(v, t, row);
		kfield(v, t, F_TASK_STATE, &st);
		kfield(v, t, F_TASK_EXIT_STATE, &ex);
		char state[2] = {state_letter(st, ex), 0};
		json_object_set_new(row, "state", json_string(state));
		json_array_append_new(o->rows, row);
	}
	return 0;
}
