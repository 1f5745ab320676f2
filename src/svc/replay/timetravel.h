/* Time travel over a recording: a replay that can be moved to any
 * instruction count, backward as well as forward (docs/replay.md,
 * "Reverse debugging").
 *
 * Going forward it replays the log and keeps a snapshot in memory every
 * `interval` instructions.  Going back to icount N it starts a new
 * machine from the last snapshot at or before N and replays the log from
 * there to exactly N.  Replay is exact, so the state reached is the state
 * the recording had at N, whichever way it was reached.  A replaying
 * machine's disk writes are the recording's own overlay records, so a
 * snapshot of it names the overlay at a longer prefix and brings the disk
 * back too (dev/disk_image.h, disk_image_open_replay). */
#ifndef KEEL_SVC_REPLAY_TIMETRAVEL_H
#define KEEL_SVC_REPLAY_TIMETRAVEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svc/replay/replay.h"

struct machine;

/* How to make what a replay needs; the caller knows the log and the
 * session (cli/cmd_replay.c). */
struct timetravel_ops {
	/* A machine in the state of the snapshot in buf (NULL on failure,
	 * with the reason on stderr). */
	struct machine *(*machine_at)(void *opaque, const void *buf, size_t len);
	void (*machine_dispose)(void *opaque, struct machine *m);
	/* The log's records from its start; 0 or -1. */
	int (*source_open)(void *opaque, struct replay_source *src);
	void (*source_close)(void *opaque, struct replay_source *src);
};

struct timetravel_snapshot {
	uint8_t *buf;
	size_t len;
	uint64_t icount;
};

#define TIMETRAVEL_MAX_SNAPSHOTS 4096

struct timetravel {
	const struct timetravel_ops *ops;
	void *opaque;
	uint64_t interval; /* instructions between kept snapshots */
	struct timetravel_snapshot *snaps; /* by icount, ascending; [0] is the start */
	size_t nsnaps;
	/* One more, kept a little before the target of the last long backward
	 * move, so that the next moves back (reverse-stepi after
	 * reverse-stepi) replay from there instead of a whole interval; buf
	 * NULL: none. */
	struct timetravel_snapshot near;
	uint64_t start_index; /* the log record snaps[0] was taken at */
	struct machine *m; /* the machine now */
	struct replayer r;
	struct replay_source src;
	bool have_replayer;
	bool ended; /* the last move reached the end of the log */
	bool failed; /* a divergence or an error: see why */
	char why[1024];
	uint64_t restores; /* backward moves that started a machine from a snapshot */
};

/* Start at the beginning of the recording: `start` is the first
 * checkpoint's bytes (copied), `start_index` the record it was taken at
 * (replayer_skip_to).  Returns 0, or -1 with the reason in tt->why. */
int timetravel_open(struct timetravel *tt, const struct timetravel_ops *ops, void *opaque,
		    const void *start, size_t len, uint64_t start_index, uint64_t interval);
void timetravel_close(struct timetravel *tt);

/* Forward by up to `steps` instructions (to the log's end at most).
 * Returns 0, or -1 when the replay diverged or failed (tt->why). */
int timetravel_forward(struct timetravel *tt, uint64_t steps);

/* To exactly `icount`, either way; one before the start goes to the
 * start.  Returns 0, 1 if icount was before the start or past the end
 * (the machine is then there), or -1 on a failure (tt->why). */
int timetravel_seek(struct timetravel *tt, uint64_t icount);

uint64_t timetravel_start_icount(const struct timetravel *tt);

#endif
