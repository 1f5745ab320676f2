/* The event boundary: the one module through which everything
 * nondeterministic enters the machine (docs/design.md §3).
 *
 * Devices never read host state.  They ask this module for entropy and the
 * RTC epoch, and receive console input and network frames from it at
 * instruction-count positions the run loop chooses (slice boundaries).
 * Any number of observers see every crossing as (icount, kind, payload):
 * the recorder logs them; replay feeds the log back through the same
 * functions. */
#ifndef KEEL_VM_EVENTS_H
#define KEEL_VM_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/event_kind.h"

#define EVENT_MAX_OBSERVERS 8

struct event_boundary {
	/* Entropy: a seeded deterministic stream when `seeded`, else the
	 * host's getrandom(). */
	bool seeded;
	uint64_t seed;
	uint64_t stream_pos; /* bytes drawn so far from the seeded stream */
	/* The RTC epoch, fixed at boot. */
	uint64_t rtc_epoch_ns;
	/* Where the current instruction count comes from, for recording. */
	const uint64_t *icount;
	/* Every event that crosses the boundary goes to each observer, in
	 * the order they subscribed (vm/taps.h: taps_event_subscribe); an
	 * empty slot has fn NULL.  The recorder is one of them. */
	struct event_observer {
		void (*fn)(void *opaque, uint64_t icount, enum event_kind kind, const void *payload,
			   size_t len);
		void *opaque;
	} observers[EVENT_MAX_OBSERVERS];
	unsigned nobservers; /* slots in use up to here */
	/* Replay: entropy the guest asks for comes from here (the logged
	 * bytes) instead of being drawn; returns 0, or -1 if the log has no
	 * such request at this point (a divergence).  NULL when live. */
	int (*replay_entropy)(void *opaque, void *buf, size_t len);
	void *replay_opaque;
};

/* `fixed_epoch_ns` = 0 takes the host's real-time clock (once, here). */
void events_init(struct event_boundary *eb, const uint64_t *icount, bool seeded, uint64_t seed,
		 uint64_t fixed_epoch_ns);

/* From now on entropy comes from the host's getrandom(), even if it was
 * seeded: a clone must not draw the same "random" bytes as its parent. */
void events_use_host_entropy(struct event_boundary *eb);

/* From now on entropy comes from the stream seeded with `seed`: where it
 * left off if it already came from that stream, else from its start.
 * keel run --restore S --entropy-seed N, so that two restores of one
 * snapshot with one seed draw the same bytes.  The change is state
 * (section EVNT), so a snapshot or a recording's first checkpoint taken
 * after it holds it. */
void events_seed_entropy(struct event_boundary *eb, uint64_t seed);

/* Fill `buf` with entropy for the guest.  Returns 0 or -1. */
int events_entropy(struct event_boundary *eb, void *buf, size_t len);

/* Add an observer; returns its slot (>= 0) or -1 when all are taken. */
int events_observe(struct event_boundary *eb,
		   void (*fn)(void *opaque, uint64_t icount, enum event_kind kind,
			      const void *payload, size_t len),
		   void *opaque);
/* Remove the observer in `slot` (events_observe's result); -1 is ignored. */
void events_unobserve(struct event_boundary *eb, int slot);
/* Remove every observer (a fork-clone's boundary starts with none). */
void events_unobserve_all(struct event_boundary *eb);

/* Note that an input event (console bytes, a frame) is being delivered to
 * the machine now.  Call it exactly where the payload enters a device. */
void events_deliver(struct event_boundary *eb, enum event_kind kind, const void *payload,
		    size_t len);

/* Snapshot section EVNT: see "Section codecs" in lib/state_io.h. */
struct state_reader;
struct state_writer;
#define EVENTS_STATE_VERSION 1u
void events_save(const struct event_boundary *eb, struct state_writer *w);
int events_load(struct event_boundary *eb, struct state_reader *r);

#endif
