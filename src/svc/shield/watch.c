/* See watch.h.  The exec events come from introspection's event stream
 * (svc/vmi/events.c), which sees an exec at its first return to the new
 * program.
 *
 * uid changes are seen at system calls: at each call's entry and return
 * the calling task's uid and euid are read (four reads through the view)
 * and compared with what that task had the last time.  A task's first
 * sighting is always a call's entry (fork's child returns into its new
 * address space unmatched), before any call of its own could change its
 * uids, so its baseline is what it inherited.  This sees the set*uid
 * calls, an exec of a setuid program (at the next call) and a kernel
 * exploit that rewrites or replaces the task's cred (at the return of the
 * call that ran it) alike. */
#include "svc/shield/watch.h"

#include <stdlib.h>
#include <string.h>

#include "svc/vmi/vmi.h"

#include "svc/vmi/vmi_events.h"
#include "vm/taps.h"

#define UID_SLOTS 1024 /* tasks followed (open addressing; more are not followed) */

struct uid_slot {
	uint64_t task; /* 0: free */
	int32_t pid;
	uint32_t uid, euid;
};

struct shield_watch {
	struct machine *m;
	const struct glob_list *allow;
	enum shield_uid uid_mode;
	FILE *out;
	struct vmi_events *ev;
	int trap_sub;
	unsigned long alerts;
	struct uid_slot uids[UID_SLOTS];
};

static void emit(struct shield_watch *w, json_t *a)
{
	if (!a)
		return;
	if (json_dumpf(a, w->out, JSON_COMPACT) == 0)
		fputc('\n', w->out);
	fflush(w->out);
	json_decref(a);
	w->alerts++;
}

static void on_event(void *opaque, json_t *e, struct vmi *v)
{
	struct shield_watch *w = opaque;
	const char *kind = json_string_value(json_object_get(e, "event"));
	const char *path = json_string_value(json_object_get(e, "path"));
	if (!v || !kind || strcmp(kind, "exec") || !path || json_object_get(e, "errno") ||
	    glob_list_match(w->allow, path))
		return;
	json_t *pid = json_object_get(e, "tgid");
	json_t *comm = json_object_get(e, "comm");
	json_t *a = json_pack("{s:O,s:I,s:s,s:s,s:O,s:O,s:{s:s,s:s}}", "icount",
			      json_object_get(e, "icount"), "guest_ns",
			      (json_int_t)taps_now_ns(w->m), "policy", "exec_allow", "response",
			      "alert", "pid", pid ? pid : json_null(), "comm",
			      comm ? comm : json_null(), "evidence", "what",
			      "exec of a program not on exec_allow", "path", path);
	emit(w, a);
}

/* ---- uid changes ---- */

/* The task's slot: its own (same address and pid), else a free one
 * (a task_struct reused by a new task starts afresh).  NULL: full. */
static struct uid_slot *uid_slot(struct shield_watch *w, uint64_t task, int32_t pid)
{
	unsigned h = (unsigned)((task >> 6) * 0x9e3779b1u) % UID_SLOTS;
	for (unsigned i = 0; i < UID_SLOTS; i++) {
		struct uid_slot *s = &w->uids[(h + i) % UID_SLOTS];
		if (!s->task || s->task == task) {
			if (s->task && s->pid != pid)
				s->task = 0;
			return s;
		}
	}
	return NULL;
}

static bool uid_alerts(enum shield_uid mode, uint32_t old, uint32_t now)
{
	return old != now && (mode == SHIELD_UID_ANY || now == 0);
}

static void uid_check(struct shield_watch *w, uint64_t icount, uint64_t satp, bool entry,
		      uint64_t nr)
{
	uint64_t task = taps_sscratch(w->m); /* Linux/riscv: current, in U-mode */
	struct vmi *v = vmi_events_vmi(w->ev, icount, satp);
	struct vmi_creds c;
	if (!v || !task || vmi_task_creds(v, task, &c))
		return;
	struct uid_slot *s = uid_slot(w, task, c.pid);
	if (!s)
		return;
	if (!s->task) {
		if (entry) /* a first sighting at a return is a task whose entry was not seen */
			*s = (struct uid_slot){.task = task, .pid = c.pid, .uid = c.uid, .euid = c.euid};
		return;
	}
	if (uid_alerts(w->uid_mode, s->uid, c.uid) || uid_alerts(w->uid_mode, s->euid, c.euid)) {
		struct vmi_task t;
		const char *comm = vmi_task_read(v, task, &t) == 0 ? t.comm : "";
		emit(w, json_pack("{s:I,s:I,s:s,s:s,s:i,s:s,s:{s:s,s:i,s:i,s:i,s:i,s:i,s:I,s:s}}",
				  "icount", (json_int_t)icount, "guest_ns",
				  (json_int_t)taps_now_ns(w->m), "policy", "uid", "response", "alert",
				  "pid", c.tgid, "comm", comm, "evidence", "what",
				  c.uid == 0 || c.euid == 0 ? "a process gained uid 0"
							    : "a process changed its uid",
				  "tid", c.pid, "uid_before", s->uid, "euid_before", s->euid,
				  "uid", c.uid, "euid", c.euid, "syscall", (json_int_t)nr, "at",
				  entry ? "entry" : "return"));
	}
	s->uid = c.uid;
	s->euid = c.euid;
}

static void on_trap(void *opaque, const struct tap_trap *t)
{
	if (t->syscall)
		uid_check(opaque, t->icount, t->satp, true, t->nr);
}

static void on_trap_return(void *opaque, const struct tap_trap_return *r)
{
	if (r->syscall && r->to_priv == 0)
		uid_check(opaque, r->icount, r->satp, false, r->nr);
}

static const struct tap_trap_ops uid_ops = {.trap = on_trap, .trap_return = on_trap_return};

struct shield_watch *shield_watch_start(struct machine *m, const struct shield_rules *rules,
					struct vmi *vmi, FILE *out, char *err, size_t errlen)
{
	struct shield_watch *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*w = (struct shield_watch){.m = m, .allow = &rules->exec_allow, .uid_mode = rules->uid,
				   .out = out, .trap_sub = -1};
	struct vmi_options vo = {.attached = vmi};
	w->ev = vmi_events_start_sink(m, on_event, w, &vo, err, errlen);
	if (!w->ev) {
		free(w);
		return NULL;
	}
	if (w->uid_mode != SHIELD_UID_OFF && (w->trap_sub = taps_trap_subscribe(m, &uid_ops, w)) < 0) {
		snprintf(err, errlen, "no trap subscription left for the uid watch");
		shield_watch_stop(w);
		return NULL;
	}
	return w;
}

void shield_watch_stop(struct shield_watch *w)
{
	if (!w)
		return;
	if (w->trap_sub >= 0)
		taps_trap_unsubscribe(w->m, w->trap_sub);
	vmi_events_stop(w->ev);
	free(w);
}
