/* Following the guest as it runs: the trap hook reports every system call
 * from U-mode and its return; this turns exec, fork/clone, exit, openat,
 * connect and accept into JSON lines with the process (pid, comm) and
 * resolved paths and addresses (docs/vmi.md, "Events").
 *
 * The current task is in sscratch at both ends: Linux/riscv keeps the
 * kernel's tp (current) there while in U-mode.  What the call names (a
 * path, an address) is read from user memory at entry, through the
 * address space the trap came from; what it made (a descriptor) is
 * resolved through the task's file table at return. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "svc/vmi/vmi_events.h"
#include "svc/vmi/vmi_int.h"

/* asm-generic/unistd.h, which riscv64 uses */
enum {
	NR_OPENAT = 56, NR_EXIT = 93, NR_EXIT_GROUP = 94, NR_CONNECT = 203, NR_ACCEPT = 202,
	NR_CLONE = 220, NR_EXECVE = 221, NR_ACCEPT4 = 242, NR_EXECVEAT = 281, NR_CLONE3 = 435,
};

#define PENDING 64
#define RETRY_ATTACH_INSNS 200000000ull /* how long to wait before trying again */

struct pending {
	uint64_t task, nr;
	uint64_t pid; /* a task_struct freed mid-call may come back as another task */
	char what[256]; /* the path or address the call named */
};

struct vmi_events {
	struct machine *m;
	FILE *out; /* NULL: events go to sink */
	vmi_event_sink sink;
	void *sink_opaque;
	struct vmi_options o;
	struct vmi *v;
	uint64_t next_attach; /* icount before which attach is not tried again */
	int trap_id;
	struct tap_trap_ops ops;
	struct pending pend[PENDING];
	/* bit i: pend[i] is in use.  A server blocked in accept keeps one
	 * for good, and every return to U-mode looks its task up: the
	 * slots in use, not all of them. */
	uint64_t used;
	unsigned long events;
};

static bool interesting(uint64_t nr)
{
	switch (nr) {
	case NR_OPENAT: case NR_EXIT: case NR_EXIT_GROUP: case NR_CONNECT: case NR_ACCEPT:
	case NR_CLONE: case NR_EXECVE: case NR_ACCEPT4: case NR_EXECVEAT: case NR_CLONE3:
		return true;
	}
	return false;
}

/* The vmi, attached on first need (the kernel must have booted). */
static struct vmi *vmi_of(struct vmi_events *e, uint64_t icount, uint64_t satp)
{
	struct memview mv;
	taps_memview(e->m, &mv);
	if (e->v) {
		vmi_set_memview(e->v, &mv);
		return e->v;
	}
	if (icount < e->next_attach)
		return NULL;
	char err[512];
	struct vmi_options o = e->o;
	o.satp = satp;
	e->v = vmi_attach(&mv, &o, err, sizeof(err));
	if (!e->v) {
		e->next_attach = icount + RETRY_ATTACH_INSNS;
		json_t *j = json_pack("{s:I,s:s,s:s}", "icount", (json_int_t)icount, "event",
				      "error", "error", err);
		if (e->sink)
			e->sink(e->sink_opaque, j, NULL);
		else if (json_dumpf(j, e->out, JSON_COMPACT) == 0)
			fputc('\n', e->out);
		json_decref(j);
	}
	return e->v;
}

/* A NUL-terminated string in user memory (at most max-1 bytes). */
static void user_str(const struct vmi *v, uint64_t satp, uint64_t va, char *buf, size_t max)
{
	size_t got = 0;
	buf[0] = 0;
	while (got + 1 < max) {
		size_t n = 64 - ((va + got) & 63); /* small steps: stop soon after the NUL */
		if (n > max - 1 - got)
			n = max - 1 - got;
		size_t r = memview_read_virt(&v->mv, satp, va + got, buf + got, n);
		buf[got + r] = 0;
		if (r < n || memchr(buf + got, 0, r))
			return;
		got += r;
	}
	buf[max - 1] = 0;
}

/* A struct sockaddr in user memory, as "a.b.c.d:port" (or its family). */
static void user_sockaddr(const struct vmi *v, uint64_t satp, uint64_t va, uint64_t len,
			  char *buf, size_t max)
{
	uint8_t sa[16] = {0};
	if (len < 2 || memview_read_virt(&v->mv, satp, va, sa, len < 16 ? len : 16) < 2) {
		snprintf(buf, max, "?");
		return;
	}
	unsigned family = sa[0] | sa[1] << 8;
	if (family == 2 && len >= 8)
		snprintf(buf, max, "%u.%u.%u.%u:%u", sa[4], sa[5], sa[6], sa[7], sa[2] << 8 | sa[3]);
	else if (family == 1)
		snprintf(buf, max, "unix");
	else
		snprintf(buf, max, "family %u", family);
}

static struct pending *pending_for(struct vmi_events *e, uint64_t task, bool make)
{
	_Static_assert(PENDING == 64, "one bit per slot in a uint64_t");
	for (uint64_t u = e->used; u; u &= u - 1)
		if (e->pend[__builtin_ctzll(u)].task == task)
			return &e->pend[__builtin_ctzll(u)];
	if (!make)
		return NULL;
	/* the lowest free slot; with none (more blocked calls than slots)
	 * reuse one */
	unsigned i = ~e->used ? (unsigned)__builtin_ctzll(~e->used) : (unsigned)(task % PENDING);
	e->used |= 1ull << i;
	e->pend[i] = (struct pending){.task = task};
	return &e->pend[i];
}

/* On every return to U-mode while a call is pending: one load, not the
 * register file taps_regs would copy. */
static uint64_t current_task(struct vmi_events *e)
{
	return taps_sscratch(e->m);
}

/* Start a JSON line with the process's identity. */
static json_t *event(struct vmi *v, uint64_t icount, const char *name, uint64_t task)
{
	json_t *j = json_pack("{s:I,s:s}", "icount", (json_int_t)icount, "event", name);
	task_identity(v, task, j);
	return j;
}

static void emit(struct vmi_events *e, json_t *j)
{
	if (e->sink) {
		e->sink(e->sink_opaque, j, e->v);
	} else {
		if (json_dumpf(j, e->out, JSON_COMPACT) == 0)
			fputc('\n', e->out);
		fflush(e->out); /* a reader follows the file as the guest runs */
	}
	json_decref(j);
	e->events++;
}

static void on_trap(void *opaque, const struct tap_trap *t)
{
	struct vmi_events *e = opaque;
	if (!t->syscall || !interesting(t->nr))
		return;
	struct vmi *v = vmi_of(e, t->icount, t->satp);
	uint64_t task = current_task(e);
	if (!v || !task)
		return;
	if (t->nr == NR_EXIT || t->nr == NR_EXIT_GROUP) { /* no return to see */
		json_t *j = event(v, t->icount, "exit", task);
		json_object_set_new(j, "code", json_integer((int)t->args[0]));
		json_object_set_new(j, "group", json_boolean(t->nr == NR_EXIT_GROUP));
		emit(e, j);
		return;
	}
	struct pending *p = pending_for(e, task, true);
	p->nr = t->nr;
	kfield(v, task, F_TASK_PID, &p->pid);
	if (t->nr == NR_EXECVE || t->nr == NR_OPENAT)
		user_str(v, t->satp, t->args[t->nr == NR_EXECVE ? 0 : 1], p->what, sizeof(p->what));
	else if (t->nr == NR_EXECVEAT)
		user_str(v, t->satp, t->args[1], p->what, sizeof(p->what));
	else if (t->nr == NR_CONNECT)
		user_sockaddr(v, t->satp, t->args[1], t->args[2], p->what, sizeof(p->what));
}

static void set_result(json_t *j, uint64_t ret, const char *key)
{
	int64_t r = (int64_t)ret;
	if (r < 0 && r >= -4095)
		json_object_set_new(j, "errno", json_integer(-r));
	else
		json_object_set_new(j, key, json_integer(r));
}

static void on_return(void *opaque, const struct tap_trap_return *r)
{
	struct vmi_events *e = opaque;
	if (r->to_priv != 0 || !e->v || !e->used)
		return;
	uint64_t task = current_task(e);
	struct pending *p = pending_for(e, task, false);
	if (!p)
		return;
	struct vmi *v = vmi_of(e, r->icount, r->satp);
	bool exec = p->nr == NR_EXECVE || p->nr == NR_EXECVEAT;
	/* A successful exec returns into a new image the hook cannot match
	 * to the call; a matched return is another call's (or exec's error). */
	if (!r->syscall && !exec)
		return;
	e->used &= ~(1ull << (p - e->pend));
	uint64_t pid = 0;
	kfield(v, task, F_TASK_PID, &pid);
	if ((r->syscall && r->nr != p->nr) || pid != p->pid)
		return;
	json_t *j = NULL;
	char path[VMI_MAX_PATH];
	if (exec) {
		j = event(v, r->icount, "exec", task);
		json_object_set_new(j, "path", gstr(p->what));
		if (r->syscall)
			set_result(j, r->ret, "ret");
	} else if (p->nr == NR_CLONE || p->nr == NR_CLONE3) {
		if (r->ret == 0)
			return; /* the child's side */
		j = event(v, r->icount, "fork", task);
		set_result(j, r->ret, "child");
		if (p->nr == NR_CLONE)
			json_object_set_new(j, "flags", json_integer((json_int_t)r->args[0]));
	} else if (p->nr == NR_OPENAT) {
		j = event(v, r->icount, "open", task);
		json_object_set_new(j, "name", gstr(p->what));
		json_object_set_new(j, "flags", json_integer((json_int_t)r->args[2]));
		set_result(j, r->ret, "fd");
		uint64_t file = (int64_t)r->ret >= 0 ? task_fd_file(v, task, r->ret) : 0;
		if (file && file_path(v, file, path, sizeof(path)) >= 0)
			json_object_set_new(j, "path", gstr(path));
	} else if (p->nr == NR_CONNECT) {
		j = event(v, r->icount, "connect", task);
		json_object_set_new(j, "fd", json_integer((json_int_t)r->args[0]));
		json_object_set_new(j, "addr", gstr(p->what));
		set_result(j, r->ret, "ret");
	} else if (p->nr == NR_ACCEPT || p->nr == NR_ACCEPT4) {
		j = event(v, r->icount, "accept", task);
		json_object_set_new(j, "listen_fd", json_integer((json_int_t)r->args[0]));
		set_result(j, r->ret, "fd");
		if ((int64_t)r->ret >= 0 && r->args[1])
			user_sockaddr(v, r->satp, r->args[1], 16, path, sizeof(path)),
				json_object_set_new(j, "peer", gstr(path));
	}
	if (j)
		emit(e, j);
}

struct vmi_events *vmi_events_start(struct machine *m, FILE *out, const struct vmi_options *o,
				    char *err, size_t errlen)
{
	struct vmi_events *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->m = m;
	e->out = out;
	e->o = *o;
	e->v = o->attached;
	e->ops = (struct tap_trap_ops){on_trap, on_return};
	e->trap_id = taps_trap_subscribe(m, &e->ops, e);
	if (e->trap_id < 0) {
		snprintf(err, errlen, "no trap subscription left");
		free(e);
		return NULL;
	}
	return e;
}

struct vmi_events *vmi_events_start_sink(struct machine *m, vmi_event_sink sink, void *opaque,
					 const struct vmi_options *o, char *err, size_t errlen)
{
	struct vmi_events *e = vmi_events_start(m, NULL, o, err, errlen);
	if (e) {
		e->sink = sink;
		e->sink_opaque = opaque;
	}
	return e;
}

struct vmi *vmi_events_vmi(struct vmi_events *e, uint64_t icount, uint64_t satp)
{
	return vmi_of(e, icount, satp);
}

unsigned long vmi_events_stop(struct vmi_events *e)
{
	if (!e)
		return 0;
	unsigned long n = e->events;
	taps_trap_unsubscribe(e->m, e->trap_id);
	if (e->out)
		fflush(e->out);
	if (e->v != e->o.attached)
		vmi_free(e->v);
	free(e);
	return n;
}
