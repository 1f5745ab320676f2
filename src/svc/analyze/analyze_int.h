/* Replay analysis internals shared by the files of src/svc/analyze/: the
 * collected events, the processes and objects they name. */
#ifndef KEEL_SVC_ANALYZE_ANALYZE_INT_H
#define KEEL_SVC_ANALYZE_ANALYZE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "svc/analyze/analyze.h"

enum an_kind { AN_EXEC, AN_FORK, AN_EXIT, AN_OPEN, AN_CONNECT, AN_ACCEPT, AN_READ, AN_WRITE,
	       AN_UID, AN_KINDS };
extern const char *const an_kind_names[AN_KINDS];

#define AN_NONE UINT32_MAX

/* One thing a process did.  Consecutive reads (or writes) of one object
 * by one process are one event from icount to last, `count` calls. */
struct an_event {
	uint64_t icount, last;
	uint64_t ns; /* guest time at icount */
	enum an_kind kind;
	uint32_t proc; /* the process node */
	uint32_t obj; /* the object read, written, opened or exec'd; AN_NONE */
	int64_t num; /* bytes (read, write), child tgid (fork), code (exit), fd, new uid */
	uint32_t count;
};

/* A process from its fork (or first sight) to its exit; a pid used again
 * is a new process. */
struct an_proc {
	int32_t tgid, ppid;
	uint32_t parent; /* the process that forked it, AN_NONE if not seen */
	uint64_t first, fork_icount, exec_icount, end; /* end: exit, 0 if it did not */
	uint64_t first_ns, end_ns;
	uint32_t uid, uid0; /* uid now, and when first seen */
	uint32_t exe; /* object of its last exec, AN_NONE */
	uint32_t last_read, last_write; /* its latest such event's index + 1, 0: none */
	char comm[17];
	bool forked, exited;
};

enum an_obj_kind { OBJ_FILE, OBJ_PIPE, OBJ_CONN, OBJ_CONSOLE, OBJ_DEVICE, OBJ_OTHER };

/* A file, pipe, connection direction or device: something data flows
 * through.  A TCP or UDP connection is two objects, one per direction,
 * named by where the data goes: "tcp FROM>TO". */
struct an_obj {
	enum an_obj_kind kind;
	char *name;
	char from[48], to[48]; /* connections */
	bool accepted; /* a guest process accepted it: FROM is the client */
	uint64_t frames, frame_bytes, first_frame, last_frame; /* from the log */
	uint64_t first_frame_ns, last_frame_ns;
};

struct an_buf {
	void *p;
	size_t n, cap;
};
/* Room for one more element of size sz; NULL when out of memory. */
void *an_push(struct an_buf *b, size_t sz);

/* Interned objects: the same name gives the same index. */
struct an_objs {
	struct an_buf v; /* struct an_obj */
	uint32_t *slot; /* open addressing: index + 1, 0 empty */
	size_t nslot;
};
uint32_t an_obj_intern(struct an_objs *o, enum an_obj_kind kind, const char *name);
uint32_t an_obj_find(const struct an_objs *o, const char *name);
static inline struct an_obj *an_obj(const struct an_objs *o, uint32_t i)
{
	return (struct an_obj *)o->v.p + i;
}

/* A point of guest time: for the timeline's CPU lane. */
struct an_sample {
	uint64_t icount, ns;
};

struct analyze_data {
	struct an_buf ev; /* struct an_event, in icount order */
	struct an_buf procs; /* struct an_proc */
	struct an_objs objs;
	uint32_t *by_tgid; /* tgid -> process index + 1 (0: none yet) */
	size_t ntgid;
	json_t *alerts;
	struct an_buf jumps; /* struct an_sample: where guest time jumped */
	uint64_t console_bytes, frames, first_icount, last_icount, last_ns;
	unsigned long dropped; /* events lost for want of memory */
};

static inline struct an_event *an_ev(const struct analyze_data *d, size_t i)
{
	return (struct an_event *)d->ev.p + i;
}
static inline struct an_proc *an_proc(const struct analyze_data *d, uint32_t i)
{
	return (struct an_proc *)d->procs.p + i;
}

/* The timeline page's script (timeline.js, embedded at build time). */
extern const char analyze_timeline_js[];

/* The analyzer as collect.c builds it; the other files read `d`. */
struct analyze {
	struct analyze_data d;
	struct machine *m;
	struct vmi_events *vev;
	int trap_id, event_id;
	struct tap_trap_ops ops;
};

/* What a process (or object) is called in answers: "pid 12 (sh)". */
json_t *an_proc_json(const struct analyze_data *d, uint32_t p);
json_t *an_obj_json(const struct analyze_data *d, uint32_t o);
/* Objects whose writes later readers see: files, pipes, connections. */
bool an_obj_carries(const struct an_obj *o);

/* The network frames of the log: TCP and UDP payload bytes per
 * direction, counted on the object "proto FROM>TO" (netframes.c). */
void an_frame(struct analyze_data *d, uint64_t icount, uint64_t ns, const uint8_t *frame,
	      size_t len);

#endif
