/* process_flood: a fork bomb, or any explosion of processes (docs/ids.md).
 *
 * Each check reads the kernel's task list (not the detector's own table:
 * a process killed by a signal makes no exit call, so the table cannot
 * count the living) and alerts when
 *  - one process other than init has max_descendants live descendants
 *    (`:(){ :|:& };:`, a loop that starts sleepers): the alert names the
 *    root of the explosion rather than the shell above it (explosion());
 *  - max_new more live processes exist than at the previous check that
 *    were not there then (a flood that double-forks to hang its processes
 *    on init, which no subtree but init's counts).
 * One flood raises one alert: see in_open_incident(). */
#include <stdlib.h>
#include <string.h>

#include "svc/ids/ids_int.h"
#include "svc/vmi/vmi.h"

#define FLOOD_MAX_TASKS 8192 /* read per check; a flood past it is one already */
#define FLOOD_MAX_DEPTH 64 /* ancestors walked (the guest's parents may loop) */

static int cmp_task(const void *a, const void *b)
{
	const struct vmi_task *x = a, *y = b;
	return (x->tgid > y->tgid) - (x->tgid < y->tgid);
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

static long find(const struct vmi_task *t, long n, int32_t pid)
{
	long lo = 0, hi = n;
	while (lo < hi) {
		long mid = lo + (hi - lo) / 2;
		if (t[mid].tgid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && t[lo].tgid == pid ? lo : -1;
}

static void pid_key(char *key, size_t len, int32_t pid)
{
	snprintf(key, len, "%d", (int)pid);
}

/* Where the explosion is, below the lowest process that crossed the
 * threshold (top): down through the child that holds most of its
 * descendants (a shell running the bomb, the bomb's root), stopping
 * where they split (a bomb's two halves) or lie in no one child (a loop
 * starting sleepers). */
static long explosion(const struct vmi_task *t, long n, const uint32_t *desc, long top)
{
	long i = top;
	for (int depth = 0; depth < FLOOD_MAX_DEPTH; depth++) {
		long best = -1;
		for (long k = 0; k < n; k++)
			if (t[k].ppid == t[i].tgid && k != i && (best < 0 || desc[k] > desc[best]))
				best = k;
		if (best < 0 || ((uint64_t)desc[best] + 1) * 4 < (uint64_t)desc[i] * 3)
			break;
		i = best;
	}
	return i;
}

/* One flood, one alert.  An alert opens an incident over the explosion's
 * scope: its root's parent (the shell or bomb root above it), or the root
 * itself when that parent is init.  A bomb's second half, and its root
 * once the first half's sleepers have died, lie in that scope and are the
 * same flood, as are the new processes it keeps making (check_new()).
 * The incident closes when its scope has fewer than half the threshold of
 * live descendants, so a second flood later alerts again. */
static int32_t scope_of(const struct vmi_task *t, long i)
{
	return t[i].ppid > 1 ? t[i].ppid : t[i].tgid;
}

static bool in_open_incident(struct ids *d, const struct vmi_task *t, long n, long i)
{
	int32_t q = t[i].tgid;
	for (int depth = 0; depth < FLOOD_MAX_DEPTH && q > 1; depth++) {
		char key[16];
		pid_key(key, sizeof(key), q);
		if (json_object_get(d->flood_alerted, key))
			return true;
		long j = find(t, n, q);
		if (j < 0)
			break;
		q = t[j].ppid;
	}
	return false;
}

/* Explosions: where the lowest processes with max_descendants live
 * descendants have them. */
static void check_descendants(struct ids *d, const struct vmi_task *t, long n, uint64_t icount)
{
	uint32_t *desc = calloc((size_t)n + 1, sizeof(*desc));
	bool *big_child = calloc((size_t)n + 1, sizeof(*big_child));
	if (!desc || !big_child)
		goto out;
	for (long i = 0; i < n; i++) {
		int32_t q = t[i].ppid;
		for (int depth = 0; depth < FLOOD_MAX_DEPTH && q > 0; depth++) {
			long j = find(t, n, q);
			if (j < 0 || j == i)
				break;
			desc[j]++;
			q = t[j].ppid;
		}
	}
	uint32_t limit = d->p->flood_descendants;
	for (long i = 0; i < n; i++)
		if (t[i].tgid > 1 && desc[i] > d->peaks.descendants)
			d->peaks.descendants = desc[i];
	for (long i = 0; i < n; i++) {
		long j = desc[i] >= limit ? find(t, n, t[i].ppid) : -1;
		if (j >= 0)
			big_child[j] = true;
	}
	/* close the incidents whose scope fell below half (or is gone) */
	json_t *kept = json_object();
	for (long i = 0; i < n; i++) {
		char key[16];
		pid_key(key, sizeof(key), t[i].tgid);
		if (json_object_get(d->flood_alerted, key) && desc[i] >= limit / 2)
			json_object_set_new(kept, key, json_true());
	}
	json_t *new_seen = json_object_get(d->flood_alerted, " new");
	if (new_seen)
		json_object_set(kept, " new", new_seen);
	json_decref(d->flood_alerted);
	d->flood_alerted = kept;
	for (long top = 0; top < n; top++) {
		if (desc[top] < limit || big_child[top] || t[top].tgid <= 1)
			continue;
		long i = explosion(t, n, desc, top);
		if (in_open_incident(d, t, n, i))
			continue;
		char key[16];
		pid_key(key, sizeof(key), scope_of(t, i));
		json_object_set_new(d->flood_alerted, key, json_true());
		/* descendants: the count that crossed the threshold (at top);
		 * the root named below it may hold fewer (a quarter may lie in
		 * top's other children) */
		ids_alert(d, M_PROCESS_FLOOD, icount, t[i].tgid, t[i].task,
			  json_pack("{s:s,s:I,s:i,s:I,s:I,s:I}", "what", "descendants",
				    "descendants", (json_int_t)desc[top], "crossed_at", t[top].tgid,
				    "root_descendants", (json_int_t)desc[i], "max_descendants",
				    (json_int_t)limit, "processes", (json_int_t)n));
	}
out:
	free(desc);
	free(big_child);
}

/* New processes since the last check, and the parent most of them have. */
static void check_new(struct ids *d, const struct vmi_task *t, long n, uint64_t icount)
{
	int32_t *ppids = malloc(((size_t)n + 1) * sizeof(*ppids));
	if (!ppids)
		return;
	long nnew = 0;
	bool incidents = json_object_size(d->flood_alerted) >
			 (json_object_get(d->flood_alerted, " new") ? 1u : 0u);
	for (long i = 0; i < n; i++)
		if ((!d->flood_npids || !bsearch(&t[i].tgid, d->flood_pids, d->flood_npids,
						 sizeof(int32_t), cmp_i32)) &&
		    !(incidents && in_open_incident(d, t, n, i)))
			ppids[nnew++] = t[i].ppid;
	if (d->flood_checked && (uint64_t)nnew > d->peaks.new_procs)
		d->peaks.new_procs = (uint32_t)nnew;
	bool seen = json_object_get(d->flood_alerted, " new") != NULL;
	if (seen && (uint64_t)nnew < d->p->flood_new / 2)
		json_object_del(d->flood_alerted, " new");
	if (d->flood_checked && !seen && (uint64_t)nnew >= d->p->flood_new) {
		qsort(ppids, (size_t)nnew, sizeof(*ppids), cmp_i32);
		int32_t top = 0;
		long best = 0;
		for (long i = 0, run = 0; i < nnew; i++) {
			run = i && ppids[i] == ppids[i - 1] ? run + 1 : 1;
			if (run > best) {
				best = run;
				top = ppids[i];
			}
		}
		json_object_set_new(d->flood_alerted, " new", json_true());
		long ti = find(t, n, top);
		/* orphans hung on init name no culprit: pid 0, their parent in the evidence */
		ids_alert(d, M_PROCESS_FLOOD, icount, top > 1 ? top : 0,
			  top > 1 && ti >= 0 ? t[ti].task : 0,
			  json_pack("{s:s,s:I,s:I,s:I,s:i,s:I}", "what", "new processes", "new",
				    (json_int_t)nnew, "max_new", (json_int_t)d->p->flood_new,
				    "processes", (json_int_t)n, "parent", top, "children_of_parent",
				    (json_int_t)best));
	}
	free(ppids);
}

void flood_check(struct ids *d, struct vmi *v, uint64_t icount)
{
	struct vmi_task *t = malloc(FLOOD_MAX_TASKS * sizeof(*t));
	long n = t ? vmi_task_list(v, t, FLOOD_MAX_TASKS) : -1;
	if (n < 0) {
		free(t);
		return;
	}
	long users = 0;
	for (long i = 0; i < n; i++)
		if (!t[i].kthread && t[i].tgid > 0)
			t[users++] = t[i];
	n = users;
	if ((uint64_t)n > d->peaks.processes)
		d->peaks.processes = (uint32_t)n;
	qsort(t, (size_t)n, sizeof(*t), cmp_task);
	if (!d->flood_alerted)
		d->flood_alerted = json_object();
	check_descendants(d, t, n, icount);
	check_new(d, t, n, icount);
	int32_t *pids = realloc(d->flood_pids, ((size_t)n + 1) * sizeof(*pids));
	if (pids) {
		for (long i = 0; i < n; i++)
			pids[i] = t[i].tgid; /* sorted already */
		d->flood_pids = pids;
		d->flood_npids = (uint32_t)n;
		d->flood_checked = true;
	}
	free(t);
}

void flood_free(struct ids *d)
{
	free(d->flood_pids);
	d->flood_pids = NULL;
	json_decref(d->flood_alerted);
	d->flood_alerted = NULL;
}
