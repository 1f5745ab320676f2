/* Replay: re-execute a recorded machine, injecting each logged event at
 * the instruction count where it crossed the event boundary (docs/design.md
 * §3), and check the recorded state digests on the way.
 *
 * The replayer drives a machine already restored from the recording's
 * first checkpoint and configured for replay (idle_skip off, network
 * "none").  It reads records from a source (the log, or memory in tests)
 * and, for each one:
 *   - pushed events (console input, network frames, time adjustments, idle
 *     skips) are applied when the machine reaches their icount, exactly as
 *     the host loop applied them live;
 *   - pulled events (entropy) are handed to the device that asks for them,
 *     in order, and must be asked for at the same icount with the same
 *     length;
 *   - a digest record is compared with the replayed machine's digest.
 * Anything that does not fit (an idle guest before the next event, a
 * device that cannot take an input, a digest that differs) is a
 * divergence: replay stops and says where. */
#ifndef KEEL_SVC_REPLAY_H
#define KEEL_SVC_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/state_digest.h"

struct machine;

struct replay_record {
	uint64_t icount;
	uint16_t type; /* enum event_kind, or a LOG_REC_* type */
	uint32_t len;
	const uint8_t *payload; /* valid until the next call of next() */
};

/* Where records come from.  next(): 1 = a record, 0 = the end, -1 = an
 * error (message in err). */
struct replay_source {
	int (*next)(void *opaque, struct replay_record *rec, char *err, size_t errlen);
	void *opaque;
};

enum replay_result {
	REPLAY_END, /* every record replayed (and every digest matched) */
	REPLAY_UNTIL, /* stopped at the requested icount */
	REPLAY_DIVERGED, /* the machine did something the log did not */
	REPLAY_ERROR, /* the source failed */
};

struct replayer {
	struct machine *m;
	struct replay_source src;
	/* The next pushed record, copied out of the source. */
	bool have_next, source_done;
	struct replay_record next;
	uint8_t *next_buf;
	size_t next_cap;
	/* Entropy records read ahead of `next`, not yet asked for, in log
	 * order: pulls[pull_head .. pull_end).  A busy guest may read its RNG
	 * many times between two pushed records (at most a checkpoint
	 * interval apart), so the queue grows as needed. */
	struct replay_record *pulls;
	size_t pull_head, pull_end, pull_cap;
	/* Options. */
	uint64_t until; /* 0: to the end */
	uint64_t perturb_at; /* test-only: flip bit 0 of x[perturb_reg] here */
	unsigned perturb_reg; /* 0: no perturbation */
	/* Progress and outcome. */
	uint64_t records, digests_checked;
	uint64_t last_good_icount; /* icount of the last matching digest */
	uint64_t last_good_index; /* its record number (0-based) */
	uint64_t bad_icount; /* the first digest that differed */
	bool diverged;
	char why[512];
	/* Called after each matching digest (e.g. to keep a snapshot there for
	 * --bisect); may be NULL. */
	void (*on_good_digest)(void *opaque, struct machine *m, uint64_t record_index);
	void *on_good_opaque;
};

void replayer_init(struct replayer *r, struct machine *m, struct replay_source src);
void replayer_free(struct replayer *r);

/* Skip records up to and including record number `index` (0-based) without
 * applying them: to resume from a checkpoint taken at that record. */
int replayer_skip_to(struct replayer *r, uint64_t index, char *err, size_t errlen);

/* Skip every record with an icount below `icount` without applying it:
 * to go on from a snapshot taken there (keel replay --until N --snapshot,
 * which stops before the records at N). */
int replayer_skip_before(struct replayer *r, uint64_t icount, char *err, size_t errlen);

enum replay_result replayer_run(struct replayer *r, char *err, size_t errlen);

#endif
