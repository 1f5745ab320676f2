/* Time travel.  See timetravel.h. */
#include "svc/replay/timetravel.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/snapshot.h"
#include "vm/taps.h"

static void fail(struct timetravel *tt, const char *what, const char *detail)
{
	tt->failed = true;
	snprintf(tt->why, sizeof(tt->why), "%s: %s", what, detail);
}

/* The machine's state now, into *sn.  0 or -1 (tt->why). */
static int save_snapshot(struct timetravel *tt, struct timetravel_snapshot *sn)
{
	char *buf = NULL, err[256] = "out of memory";
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = f ? snapshot_save(tt->m, f, err, sizeof(err)) : -1;
	if (f)
		fclose(f);
	if (rc) {
		free(buf);
		fail(tt, "keeping a snapshot", err);
		return -1;
	}
	*sn = (struct timetravel_snapshot){(uint8_t *)buf, len, taps_icount(tt->m)};
	return 0;
}

static int keep_snapshot(struct timetravel *tt)
{
	if (tt->nsnaps == TIMETRAVEL_MAX_SNAPSHOTS)
		return 0; /* enough: later points just replay further */
	if (save_snapshot(tt, &tt->snaps[tt->nsnaps]))
		return -1;
	tt->nsnaps++;
	return 0;
}

static void drop_replay(struct timetravel *tt)
{
	if (tt->have_replayer) {
		replayer_free(&tt->r);
		tt->ops->source_close(tt->opaque, &tt->src);
		tt->have_replayer = false;
	}
	if (tt->m)
		tt->ops->machine_dispose(tt->opaque, tt->m);
	tt->m = NULL;
}

/* A machine from snapshot sn (snaps[0]: the start), with a replayer
 * positioned at its icount (or, for the start, just after the record it
 * was taken at). */
static int start_from(struct timetravel *tt, const struct timetravel_snapshot *sn)
{
	drop_replay(tt);
	char err[512] = "";
	tt->m = tt->ops->machine_at(tt->opaque, sn->buf, sn->len);
	if (!tt->m) {
		fail(tt, "restoring a snapshot", "see above");
		return -1;
	}
	if (tt->ops->source_open(tt->opaque, &tt->src)) {
		fail(tt, "reading the log", "see above");
		return -1;
	}
	replayer_init(&tt->r, tt->m, tt->src);
	tt->have_replayer = true;
	tt->ended = false;
	int rc = sn == &tt->snaps[0] ? replayer_skip_to(&tt->r, tt->start_index, err, sizeof(err))
			: replayer_skip_before(&tt->r, sn->icount, err, sizeof(err));
	if (rc) {
		fail(tt, "positioning the log", err);
		return -1;
	}
	return 0;
}

int timetravel_open(struct timetravel *tt, const struct timetravel_ops *ops, void *opaque,
		    const void *start, size_t len, uint64_t start_index, uint64_t interval)
{
	memset(tt, 0, sizeof(*tt));
	tt->ops = ops;
	tt->opaque = opaque;
	tt->interval = interval ? interval : 1;
	tt->snaps = calloc(TIMETRAVEL_MAX_SNAPSHOTS, sizeof(*tt->snaps));
	uint8_t *copy = malloc(len ? len : 1);
	if (!tt->snaps || !copy) {
		free(copy);
		fail(tt, "time travel", "out of memory");
		return -1;
	}
	memcpy(copy, start, len);
	tt->snaps[0] = (struct timetravel_snapshot){copy, len, 0};
	tt->nsnaps = 1;
	tt->start_index = start_index;
	if (start_from(tt, &tt->snaps[0]))
		return -1;
	tt->snaps[0].icount = taps_icount(tt->m);
	return 0;
}

void timetravel_close(struct timetravel *tt)
{
	drop_replay(tt);
	for (size_t i = 0; i < tt->nsnaps; i++)
		free(tt->snaps[i].buf);
	free(tt->near.buf);
	tt->near.buf = NULL;
	free(tt->snaps);
	tt->snaps = NULL;
	tt->nsnaps = 0;
}

uint64_t timetravel_start_icount(const struct timetravel *tt)
{
	return tt->snaps[0].icount;
}

int timetravel_forward(struct timetravel *tt, uint64_t steps)
{
	if (tt->failed)
		return -1;
	uint64_t target = taps_icount(tt->m) + steps;
	while (!tt->ended && taps_icount(tt->m) < target) {
		uint64_t last = tt->snaps[tt->nsnaps - 1].icount;
		uint64_t next_snap = last + tt->interval;
		bool snap_due = next_snap > taps_icount(tt->m) && next_snap < target;
		tt->r.until = snap_due ? next_snap : target;
		char err[512] = "";
		enum replay_result res = replayer_run(&tt->r, err, sizeof(err));
		if (res == REPLAY_END) {
			tt->ended = true;
		} else if (res == REPLAY_DIVERGED) {
			fail(tt, "the replay diverged", tt->r.why);
			return -1;
		} else if (res == REPLAY_ERROR) {
			fail(tt, "reading the log", err);
			return -1;
		} else if (snap_due && taps_icount(tt->m) == next_snap && keep_snapshot(tt)) {
			return -1;
		}
	}
	return 0;
}

/* How far before a backward move's target the near snapshot is kept. */
static uint64_t near_distance(const struct timetravel *tt)
{
	return tt->interval / 32 > 1000 ? tt->interval / 32 : 1000;
}

/* On the way to icount, far from the snapshot the machine started at:
 * keep the near snapshot a little before it (replacing the last one). */
static int keep_near(struct timetravel *tt, uint64_t icount)
{
	uint64_t at = icount - near_distance(tt);
	if (timetravel_forward(tt, at - taps_icount(tt->m)))
		return -1;
	if (taps_icount(tt->m) != at || tt->ended)
		return 0; /* the log ended first: nothing worth keeping */
	struct timetravel_snapshot sn;
	if (save_snapshot(tt, &sn))
		return -1;
	free(tt->near.buf);
	tt->near = sn;
	return 0;
}

int timetravel_seek(struct timetravel *tt, uint64_t icount)
{
	if (tt->failed)
		return -1;
	int outside = 0;
	if (icount < tt->snaps[0].icount) {
		icount = tt->snaps[0].icount;
		outside = 1;
	}
	uint64_t now = taps_icount(tt->m);
	if (icount < now) {
		size_t i = tt->nsnaps - 1;
		while (i > 0 && tt->snaps[i].icount > icount)
			i--;
		const struct timetravel_snapshot *from = &tt->snaps[i];
		if (tt->near.buf && tt->near.icount <= icount && tt->near.icount > from->icount)
			from = &tt->near;
		if (start_from(tt, from))
			return -1;
		tt->restores++;
		now = taps_icount(tt->m);
		if (icount - now > 2 * near_distance(tt) && keep_near(tt, icount))
			return -1;
		now = taps_icount(tt->m);
	}
	if (icount > now && timetravel_forward(tt, icount - now))
		return -1;
	return outside || taps_icount(tt->m) != icount ? 1 : 0;
}
