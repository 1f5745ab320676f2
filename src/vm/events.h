/* The event boundary: the one module through which everything
 * nondeterministic enters the machine (design notes §3).
 *
 * Devices never read host state.  They ask this module for entropy and the
 * RTC epoch, and receive console input and network frames from it at
 * instruction-count positions the run loop chooses (slice boundaries).
 * Recording (a later service) hooks `record` to log every crossing as
 * (icount, kind, payload); replay feeds the log back through the same
 * functions. */
#ifndef KEEL_VM_EVENTS_H
#define KEEL_VM_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum event_kind {
	EV_CONSOLE_INPUT = 1, /* bytes typed on the console */
	EV_NET_FRAME = 2, /* an Ethernet frame from the network backend */
	EV_ENTROPY = 3, /* bytes handed to the guest's RNG device */
	EV_RTC_EPOCH = 4, /* the wall-clock epoch at boot (ns since 1970) */
	EV_TIME_ADJUST = 5, /* a jump of virtual time */
	/* The idle hart's virtual time jumped to the next timer deadline.
	 * The jump itself is a pure function of state, but *when* it happens
	 * relative to input that arrives at the same icount is the host's
	 * choice, so it is a marker in the event stream (no payload). */
	EV_IDLE_SKIP = 6,
};

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
	/* Called for every event that crosses the boundary (may be NULL). */
	void (*record)(void *opaque, uint64_t icount, enum event_kind kind, const void *payload,
		       size_t len);
	void *record_opaque;
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

/* Fill `buf` with entropy for the guest.  Returns 0 or -1. */
int events_entropy(struct event_boundary *eb, void *buf, size_t len);

/* Note that an input event (console bytes, a frame) is being delivered to
 * the machine now.  Call it exactly where the payload enters a device. */
void events_deliver(struct event_boundary *eb, enum event_kind kind, const void *payload,
		    size_t len);


/* Snapshot section EVNT (docs/snapshot-format.md).  Save writes the
 * fields in the documented order; load reads them back, refusing values
 * the boundary cannot hold.  Change the two and the document together, and
 * bump the version. */
struct state_reader;
struct state_writer;
#define EVENTS_STATE_VERSION 1u
void events_save(const struct event_boundary *eb, struct state_writer *w);
int events_load(struct event_boundary *eb, struct state_reader *r);

#endif
