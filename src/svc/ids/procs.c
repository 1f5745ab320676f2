/* The detector's process table: what it has learnt about each guest
 * process (thread group) from the events, keyed by pid in an open-addressed
 * table.  Bounded: a guest with more live processes than slots has its
 * newest ones untracked, never an overflow. */
#include <string.h>

#include "svc/ids/ids_int.h"

static unsigned slot_of(int32_t pid)
{
	return (uint32_t)pid * 2654435761u % IDS_MAX_PROCS;
}

struct ids_proc *procs_find(struct ids_procs *t, int32_t pid)
{
	unsigned i = slot_of(pid);
	for (unsigned n = 0; n < IDS_MAX_PROCS && t->p[i].used; n++, i = (i + 1) % IDS_MAX_PROCS)
		if (t->p[i].pid == pid)
			return &t->p[i];
	return NULL;
}

struct ids_proc *procs_get(struct ids_procs *t, int32_t pid, int32_t ppid)
{
	struct ids_proc *p = procs_find(t, pid);
	if (p)
		return p;
	unsigned i = slot_of(pid);
	for (unsigned n = 0; n < IDS_MAX_PROCS; n++, i = (i + 1) % IDS_MAX_PROCS) {
		if (t->p[i].used)
			continue;
		p = &t->p[i];
		memset(p, 0, sizeof(*p));
		p->used = true;
		p->pid = pid;
		p->ppid = ppid;
		struct ids_proc *parent = ppid > 0 ? procs_find(t, ppid) : NULL;
		if (parent) { /* a child carries what started its parent */
			p->credit_ns = parent->credit_ns;
			p->uid = parent->uid;
			memcpy(p->comm, parent->comm, sizeof(p->comm));
			memcpy(p->exe, parent->exe, sizeof(p->exe));
		}
		for (int b = 0; b < IDS_MAX_BOUND; b++)
			p->bound[b].fd = -1;
		return p;
	}
	return NULL;
}

/* Linear probing's deletion: move later entries of the same run back so
 * that no lookup stops early at the hole. */
void procs_remove(struct ids_procs *t, int32_t pid)
{
	struct ids_proc *p = procs_find(t, pid);
	if (!p)
		return;
	unsigned hole = (unsigned)(p - t->p);
	t->p[hole].used = false;
	for (unsigned i = (hole + 1) % IDS_MAX_PROCS; t->p[i].used; i = (i + 1) % IDS_MAX_PROCS) {
		unsigned home = slot_of(t->p[i].pid);
		/* i may move to hole unless its home lies cyclically in (hole, i] */
		bool stays = hole < i ? (home > hole && home <= i) : (home > hole || home <= i);
		if (stays)
			continue;
		t->p[hole] = t->p[i];
		t->p[i].used = false;
		hole = i;
	}
}
