/* Collecting a replay's events: the introspection event stream (exec,
 * fork, exit, open, connect, accept; svc/vmi/events.c), this file's own
 * trap observer for the calls that move data (read, write and their
 * relatives, each descriptor resolved to the file, pipe or connection
 * behind it through the task's file table) and for uid changes, and the
 * event boundary for the log's network frames and console input.
 *
 * Everything is read at the exact instruction count the replay reports,
 * so two replays of one log collect the same events. */
#include <stdlib.h>
#include <string.h>

#include "svc/analyze/analyze_int.h"
#include "svc/vmi/vmi_events.h"
#include "vm/taps.h"

const char *const an_kind_names[AN_KINDS] = {"exec", "fork", "exit", "open", "connect",
					     "accept", "read", "write", "uid"};

/* asm-generic/unistd.h, which riscv64 uses */
enum {
	NR_READ = 63, NR_WRITE = 64, NR_READV = 65, NR_WRITEV = 66, NR_PREAD64 = 67,
	NR_PWRITE64 = 68, NR_PREADV = 69, NR_PWRITEV = 70, NR_SENDFILE = 71, NR_SPLICE = 76,
	NR_SETREGID = 143, NR_SETGID = 144, NR_SETREUID = 145, NR_SETUID = 146,
	NR_SETRESUID = 147, NR_SETRESGID = 149, NR_SETFSUID = 151, NR_SENDTO = 206,
	NR_RECVFROM = 207, NR_SENDMSG = 211, NR_RECVMSG = 212, NR_COPY_FILE_RANGE = 285,
	NR_PREADV2 = 286, NR_PWRITEV2 = 287,
};

#define CLONE_THREAD 0x10000
#define O_ACCMODE_ 3
#define O_TRUNC_ 01000
#define MAX_TGID (1u << 22) /* PID_MAX_LIMIT */

static uint64_t current_task(struct analyze *a)
{
	return taps_sscratch(a->m); /* Linux/riscv keeps current there in U-mode */
}

static uint32_t new_proc(struct analyze_data *d, const struct vmi_task *t, uint64_t icount,
			 uint64_t ns)
{
	struct an_proc *p = an_push(&d->procs, sizeof(*p));
	if (!p)
		return AN_NONE;
	uint32_t i = (uint32_t)d->procs.n - 1;
	*p = (struct an_proc){.tgid = t->tgid, .ppid = t->ppid, .parent = AN_NONE, .first = icount,
			      .fork_icount = icount, .first_ns = ns, .uid = t->uid,
			      .uid0 = t->uid, .exe = AN_NONE};
	memcpy(p->comm, t->comm, sizeof(p->comm));
	if (t->ppid > 0 && (uint32_t)t->ppid < d->ntgid && d->by_tgid[t->ppid])
		p->parent = d->by_tgid[t->ppid] - 1;
	d->by_tgid[t->tgid] = i + 1;
	return i;
}

/* Room in the tgid index for tgid; false for a tgid no kernel uses. */
static bool tgid_room(struct analyze_data *d, int32_t tgid)
{
	if (tgid <= 0 || (uint32_t)tgid >= MAX_TGID)
		return false;
	if ((uint32_t)tgid < d->ntgid)
		return true;
	size_t n = d->ntgid ? d->ntgid : 1024;
	while (n <= (uint32_t)tgid)
		n *= 2;
	uint32_t *p = realloc(d->by_tgid, n * sizeof(*p));
	if (!p)
		return false;
	memset(p + d->ntgid, 0, (n - d->ntgid) * sizeof(*p));
	d->by_tgid = p;
	d->ntgid = n;
	return true;
}

/* The live node of tgid, or AN_NONE. */
static uint32_t live_proc(struct analyze_data *d, int32_t tgid)
{
	uint32_t i = d->by_tgid[tgid];
	return i && !an_proc(d, i - 1)->exited ? i - 1 : AN_NONE;
}

/* A process first seen running (no fork of it was seen): its ancestors,
 * read from the task list, join the graph as running processes too, so
 * that its chain reaches init even when the recording began from a
 * snapshot, after they made their last call of interest. */
static void link_ancestors(struct analyze_data *d, struct vmi *v, uint32_t p, uint64_t icount,
			   uint64_t ns)
{
	for (int depth = 0; v && depth < 64; depth++) {
		int32_t tgid = an_proc(d, p)->tgid, ppid = an_proc(d, p)->ppid;
		if (an_proc(d, p)->parent != AN_NONE || ppid <= 0 || ppid == tgid)
			return;
		struct vmi_task t;
		uint64_t task = vmi_task_find(v, ppid);
		if (!task || vmi_task_read(v, task, &t) || t.tgid != ppid || !tgid_room(d, ppid))
			return;
		uint32_t q = live_proc(d, ppid);
		if (q == AN_NONE)
			q = new_proc(d, &t, icount, ns);
		if (q == AN_NONE)
			return;
		an_proc(d, p)->parent = q; /* new_proc may have moved the array */
		p = q;
	}
}

/* The process node of task t now: the current one of its tgid, or a new
 * one (a process running when the analysis began, or a child seen before
 * its parent's fork returned). */
static uint32_t proc_of(struct analyze_data *d, struct vmi *v, const struct vmi_task *t,
			uint64_t icount, uint64_t ns)
{
	if (!tgid_room(d, t->tgid))
		return AN_NONE;
	uint32_t i = live_proc(d, t->tgid);
	if (i != AN_NONE) {
		memcpy(an_proc(d, i)->comm, t->comm, sizeof(t->comm));
		return i;
	}
	i = new_proc(d, t, icount, ns);
	if (i != AN_NONE)
		link_ancestors(d, v, i, icount, ns);
	return i;
}

static struct an_event *add_event(struct analyze *a, enum an_kind kind, uint32_t proc,
				  uint32_t obj, int64_t num, uint64_t icount)
{
	struct an_event *e = an_push(&a->d.ev, sizeof(*e));
	if (!e) {
		a->d.dropped++;
		return NULL;
	}
	*e = (struct an_event){.icount = icount, .last = icount, .ns = taps_now_ns(a->m),
			       .kind = kind, .proc = proc, .obj = obj, .num = num, .count = 1};
	if (!a->d.first_icount)
		a->d.first_icount = icount;
	a->d.last_icount = icount;
	a->d.last_ns = e->ns;
	return e;
}

static bool console_path(const char *p)
{
	return !strcmp(p, "/dev/console") || !strncmp(p, "/dev/tty", 8) ||
	       !strncmp(p, "/dev/hvc", 8) || !strncmp(p, "/dev/pts/", 9);
}

static enum an_obj_kind path_kind(const char *p)
{
	if (console_path(p))
		return OBJ_CONSOLE;
	if (!strncmp(p, "/dev/", 5))
		return OBJ_DEVICE;
	return p[0] == '/' ? OBJ_FILE : OBJ_OTHER;
}

/* The object behind descriptor fd of task: for a connection, the
 * direction data takes (into the socket when reading, out when writing). */
static uint32_t fd_object(struct analyze *a, struct vmi *v, uint64_t task, uint64_t fd,
			  bool reading, bool *accepted)
{
	struct vmi_fd f;
	if (vmi_task_fd(v, task, fd, &f))
		return AN_NONE;
	char name[sizeof(f.path) + 32];
	enum an_obj_kind kind;
	const char *from = f.remote, *to = f.local;
	if (!reading)
		from = f.local, to = f.remote;
	if (f.kind == VMI_FD_SOCKET && f.local[0] && f.remote[0] &&
	    (!strcmp(f.proto, "tcp") || !strcmp(f.proto, "udp"))) {
		snprintf(name, sizeof(name), "%s %s>%s", f.proto, from, to);
		kind = OBJ_CONN;
	} else if (f.kind == VMI_FD_SOCKET) {
		snprintf(name, sizeof(name), "%s %s", f.proto, f.path);
		kind = OBJ_PIPE; /* a socket without addresses: both ends one channel */
	} else {
		snprintf(name, sizeof(name), "%s", f.path);
		kind = f.kind == VMI_FD_PIPE ? OBJ_PIPE : f.kind == VMI_FD_FILE ? path_kind(f.path)
										  : OBJ_OTHER;
	}
	uint32_t o = an_obj_intern(&a->d.objs, kind, name);
	if (o != AN_NONE && kind == OBJ_CONN) {
		struct an_obj *ob = an_obj(&a->d.objs, o);
		snprintf(ob->from, sizeof(ob->from), "%s", from);
		snprintf(ob->to, sizeof(ob->to), "%s", to);
		if (accepted && *accepted)
			ob->accepted = true;
	}
	return o;
}

/* A read or write of n bytes: merged into the process's previous read
 * (or write) when that was of the same object (a shell reads its terminal
 * a byte at a time, echoing each).  A read is never merged across a
 * moment the process's data can leave it (a write to a file, pipe or
 * connection, a fork): there the walk may start, and its threshold must
 * see which reads came before. */
static void data_event(struct analyze *a, enum an_kind kind, uint32_t proc, uint32_t obj,
		       int64_t n, uint64_t icount)
{
	struct analyze_data *d = &a->d;
	if (obj == AN_NONE || n <= 0)
		return;
	struct an_proc *p = an_proc(d, proc);
	uint32_t *last = kind == AN_READ ? &p->last_read : &p->last_write;
	if (*last) {
		struct an_event *e = an_ev(d, *last - 1);
		if (e->obj == obj) {
			e->last = icount;
			e->num += n;
			e->count++;
			d->last_icount = icount;
			return;
		}
	}
	if (add_event(a, kind, proc, obj, n, icount))
		*last = (uint32_t)d->ev.n;
	if (kind == AN_WRITE && an_obj_carries(an_obj(&d->objs, obj)))
		an_proc(d, proc)->last_read = 0;
}

static void uid_check(struct analyze *a, uint32_t proc, const struct vmi_task *t,
		      uint64_t icount)
{
	struct an_proc *p = an_proc(&a->d, proc);
	if (p->uid != t->uid) {
		p->uid = t->uid;
		add_event(a, AN_UID, proc, AN_NONE, t->uid, icount);
	}
}

static void on_return(void *opaque, const struct tap_trap_return *r)
{
	struct analyze *a = opaque;
	if (r->to_priv != 0 || !r->syscall || (int64_t)r->ret < 0)
		return;
	uint64_t in = UINT64_MAX, out = UINT64_MAX;
	bool uid = false;
	switch (r->nr) {
	case NR_READ: case NR_READV: case NR_PREAD64: case NR_PREADV: case NR_PREADV2:
	case NR_RECVFROM: case NR_RECVMSG:
		in = r->args[0];
		break;
	case NR_WRITE: case NR_WRITEV: case NR_PWRITE64: case NR_PWRITEV: case NR_PWRITEV2:
	case NR_SENDTO: case NR_SENDMSG:
		out = r->args[0];
		break;
	case NR_SENDFILE:
		out = r->args[0], in = r->args[1];
		break;
	case NR_SPLICE: case NR_COPY_FILE_RANGE:
		in = r->args[0], out = r->args[2];
		break;
	case NR_SETREGID: case NR_SETGID: case NR_SETREUID: case NR_SETUID: case NR_SETRESUID:
	case NR_SETRESGID: case NR_SETFSUID:
		uid = true;
		break;
	default:
		return;
	}
	struct vmi *v = vmi_events_vmi(a->vev, r->icount, r->satp);
	uint64_t task = current_task(a);
	struct vmi_task t;
	if (!v || vmi_task_read(v, task, &t))
		return;
	uint32_t p = proc_of(&a->d, v, &t, r->icount, taps_now_ns(a->m));
	if (p == AN_NONE)
		return;
	if (uid) {
		uid_check(a, p, &t, r->icount);
		return;
	}
	if (in != UINT64_MAX)
		data_event(a, AN_READ, p, fd_object(a, v, task, in, true, NULL), (int64_t)r->ret,
			   r->icount);
	if (out != UINT64_MAX)
		data_event(a, AN_WRITE, p, fd_object(a, v, task, out, false, NULL),
			   (int64_t)r->ret, r->icount);
}

static void on_fork(struct analyze *a, uint32_t parent, json_t *ev, uint64_t icount)
{
	struct analyze_data *d = &a->d;
	json_int_t child = json_integer_value(json_object_get(ev, "child"));
	json_int_t flags = json_integer_value(json_object_get(ev, "flags"));
	if (child <= 0 || child >= MAX_TGID || (flags & CLONE_THREAD))
		return;
	struct an_proc *pp = an_proc(d, parent);
	struct vmi_task t = {.tgid = (int32_t)child, .ppid = pp->tgid, .uid = pp->uid};
	memcpy(t.comm, pp->comm, sizeof(t.comm));
	if (!tgid_room(d, t.tgid))
		return;
	uint32_t c = d->by_tgid[child] ? d->by_tgid[child] - 1 : AN_NONE;
	/* The child may have run (and been seen) before its parent's return. */
	if (c == AN_NONE || an_proc(d, c)->exited || an_proc(d, c)->forked)
		c = new_proc(d, &t, icount, taps_now_ns(a->m));
	if (c == AN_NONE)
		return;
	struct an_proc *cp = an_proc(d, c);
	cp->forked = true;
	cp->parent = parent;
	cp->ppid = an_proc(d, parent)->tgid;
	if (icount < cp->fork_icount)
		cp->fork_icount = icount;
	an_proc(d, parent)->last_read = 0; /* see data_event */
	add_event(a, AN_FORK, parent, AN_NONE, child, icount);
}

static bool failed(json_t *ev)
{
	return json_object_get(ev, "errno") != NULL;
}

/* The introspection event stream: one event per call, at its return (exit
 * at its entry). */
static void on_vmi_event(void *opaque, json_t *ev, struct vmi *v)
{
	struct analyze *a = opaque;
	const char *name = json_string_value(json_object_get(ev, "event"));
	uint64_t icount = (uint64_t)json_integer_value(json_object_get(ev, "icount"));
	uint64_t task = current_task(a);
	struct vmi_task t;
	if (!v || !name || failed(ev) || vmi_task_read(v, task, &t))
		return;
	struct analyze_data *d = &a->d;
	uint32_t p = proc_of(d, v, &t, icount, taps_now_ns(a->m));
	if (p == AN_NONE)
		return;
	int64_t fd = json_integer_value(json_object_get(ev, "fd"));
	if (!strcmp(name, "exec")) {
		char exe[512];
		if (vmi_task_exe(v, task, exe, sizeof(exe)))
			snprintf(exe, sizeof(exe), "%s", json_string_value(json_object_get(ev, "path")));
		uint32_t o = an_obj_intern(&d->objs, path_kind(exe), exe);
		struct an_proc *pr = an_proc(d, p);
		pr->exec_icount = icount;
		pr->exe = o;
		add_event(a, AN_EXEC, p, o, 0, icount);
		uid_check(a, p, &t, icount); /* a set-user-ID program */
	} else if (!strcmp(name, "fork")) {
		on_fork(a, p, ev, icount);
	} else if (!strcmp(name, "exit")) {
		if (!json_is_true(json_object_get(ev, "group")) && t.pid != t.tgid)
			return; /* one thread of many */
		struct an_proc *pr = an_proc(d, p);
		pr->exited = true;
		pr->end = icount;
		pr->end_ns = taps_now_ns(a->m);
		add_event(a, AN_EXIT, p, AN_NONE, json_integer_value(json_object_get(ev, "code")),
			  icount);
	} else if (!strcmp(name, "open")) {
		const char *path = json_string_value(json_object_get(ev, "path"));
		if (!path)
			path = json_string_value(json_object_get(ev, "name"));
		uint32_t o = path ? an_obj_intern(&d->objs, path_kind(path), path) : AN_NONE;
		add_event(a, AN_OPEN, p, o, json_integer_value(json_object_get(ev, "flags")), icount);
	} else if (!strcmp(name, "connect") || !strcmp(name, "accept")) {
		bool accepted = name[0] == 'a';
		if (accepted ? !json_object_get(ev, "fd") : json_integer_value(json_object_get(ev, "ret")))
			return;
		if (!accepted)
			fd = json_integer_value(json_object_get(ev, "fd"));
		uint32_t o = fd_object(a, v, task, (uint64_t)fd, true, &accepted);
		add_event(a, accepted ? AN_ACCEPT : AN_CONNECT, p, o, fd, icount);
	}
}

/* The event boundary: the log's frames, console input, and the jumps of
 * guest time (an idle guest's skip to its next timer, a time adjustment;
 * both delivered once time has jumped). */
static void on_input(void *opaque, uint64_t icount, enum event_kind kind, const void *payload,
		     size_t len)
{
	struct analyze *a = opaque;
	if (kind == EV_NET_FRAME)
		an_frame(&a->d, icount, taps_now_ns(a->m), payload, len);
	else if (kind == EV_CONSOLE_INPUT)
		a->d.console_bytes += len;
	else if (kind == EV_IDLE_SKIP || kind == EV_TIME_ADJUST) {
		struct an_sample *s = an_push(&a->d.jumps, sizeof(*s));
		if (s)
			*s = (struct an_sample){icount, taps_now_ns(a->m)};
	}
}

struct analyze *analyze_start(struct machine *m, const struct vmi_options *o, char *err,
			      size_t errlen)
{
	struct analyze *a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->m = m;
	a->trap_id = a->event_id = -1;
	a->d.alerts = json_array();
	a->ops = (struct tap_trap_ops){NULL, on_return};
	a->vev = vmi_events_start_sink(m, on_vmi_event, a, o, err, errlen);
	if (!a->vev || (a->trap_id = taps_trap_subscribe(m, &a->ops, a)) < 0 ||
	    (a->event_id = taps_event_subscribe(m, on_input, a)) < 0) {
		if (a->vev)
			snprintf(err, errlen, "no trap or event subscription left");
		analyze_free(a);
		return NULL;
	}
	return a;
}

void analyze_stop(struct analyze *a)
{
	if (!a || !a->m)
		return;
	if (a->trap_id >= 0)
		taps_trap_unsubscribe(a->m, a->trap_id);
	if (a->event_id >= 0)
		taps_event_unsubscribe(a->m, a->event_id);
	vmi_events_stop(a->vev);
	a->vev = NULL;
	a->m = NULL;
}

void analyze_free(struct analyze *a)
{
	if (!a)
		return;
	analyze_stop(a);
	for (size_t i = 0; i < a->d.objs.v.n; i++)
		free(an_obj(&a->d.objs, (uint32_t)i)->name);
	free(a->d.objs.v.p);
	free(a->d.objs.slot);
	free(a->d.ev.p);
	free(a->d.jumps.p);
	free(a->d.procs.p);
	free(a->d.by_tgid);
	json_decref(a->d.alerts);
	free(a);
}

void analyze_add_alert(struct analyze *a, const json_t *alert)
{
	json_t *copy = json_deep_copy(alert);
	json_object_del(copy, "host_ns"); /* the host's clock: not the same twice */
	json_array_append_new(a->d.alerts, copy);
}
