/* Live migration of a running VM to another keel (docs/migrate.md).
 *
 * The sending side is a service the control socket starts ("migrate")
 * and steps between slices: each step sends a few milliseconds' worth of
 * pre-copy and returns, so the VM runs on between steps.  Once the pages
 * left fit the downtime budget at the measured rate, one last step stops
 * the VM (it simply does not return to the host loop), sends the rest and
 * the device and CPU state, and hands over: the VM runs on the
 * destination, and the source quits (or stays paused with `keep`).  Any
 * failure before the handover leaves the source running as before.
 *
 * The receiving side (mig_receive) waits for a source, checks it, and
 * fills a fresh machine; `keel run --incoming` then runs it. */
#ifndef KEEL_SVC_MIGRATE_MIGRATE_H
#define KEEL_SVC_MIGRATE_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svc/migrate/channel.h"
#include "lib/state_io.h"

struct machine;
struct machine_config;

#define MIG_DEFAULT_DOWNTIME_MS 50
#define MIG_DEFAULT_TIMEOUT_MS 30000

enum mig_postcopy_mode {
	MIG_POSTCOPY_AUTO, /* when pre-copy rounds stop shrinking (the default) */
	MIG_POSTCOPY_NEVER, /* pre-copy only: stop and copy whatever is left */
	MIG_POSTCOPY_NOW, /* no pre-copy rounds: the VM moves with its working set */
};

struct mig_request {
	char host[256], port[16]; /* from tcp:HOST:PORT */
	uint8_t key[MIG_KEY_BYTES];
	unsigned downtime_ms; /* the budget for the stop-and-copy */
	bool keep; /* stay paused after the handover instead of quitting */
	unsigned timeout_ms; /* a silent peer is a cut link after this */
	/* Tests: sleep this long after each step, so that a VM dirties
	 * faster than the link carries (0: no throttle). */
	unsigned throttle_ms;
	enum mig_postcopy_mode postcopy;
};

/* What a migration reports, during and at the end. */
struct mig_stats {
	unsigned rounds;
	uint64_t pages_sent, zero_pages, pages_last_round, pages_pending;
	uint64_t disk_bytes; /* overlay records sent */
	uint64_t base_bytes; /* of the overlay's base, when the destination lacked it */
	uint64_t bytes; /* on the wire */
	double dirty_pages_per_s; /* in the last complete round */
	double pages_per_s; /* the measured rate: pages over the time spent sending */
	double est_downtime_ms;
	double total_ms, downtime_ms; /* at the end: start to RUNNING, stop to RUNNING */
	/* The downtime's parts, as the source sees them: the last pages, the
	 * state (encoded and sent, with END), END to READY (the destination
	 * loads the state), GO to RUNNING. */
	double stop_pages_ms, stop_state_ms, stop_ready_ms, stop_running_ms;
	uint64_t icount; /* where the source stopped */
	bool dirty_tracking; /* taps' dirty pages (else: compared with what was sent) */
	/* post-copy: the pages the destination lacked when it started to run,
	 * those sent after (on demand or pushed), the requests served, and
	 * what the destination measured (at the end) */
	bool postcopy;
	uint64_t pc_missing, pc_pages, pc_requests;
	uint64_t pc_faults, pc_fault_pages; /* the destination's count */
	double pc_slowest_fault_ms, pc_fault_wait_ms, pc_ms;
};

enum mig_status {
	MIG_CONTINUE, /* call mig_source_step again after a slice */
	MIG_PROGRESS, /* likewise, and a round just completed: report stats */
	MIG_HANDED_OVER, /* post-copy: the VM runs on the destination, which lacks pages:
			  * stay paused and call mig_source_step again */
	MIG_DONE, /* handed over: the VM runs on the destination */
	MIG_FAILED, /* err says why; the VM runs on here as before */
	MIG_UNCONFIRMED, /* GO was sent but RUNNING never came: stay paused */
};

struct mig_source;

/* Parse "tcp:HOST:PORT" into r.  0 or -1 with a reason. */
int mig_parse_uri(const char *uri, char *host, size_t hostlen, char *port, size_t portlen,
		  char *err, size_t errlen);

/* Connect, authenticate and describe the VM; refused here (with the
 * reason in err) for a raw disk written in place.  Returns NULL on
 * failure. */
struct mig_source *mig_source_start(struct machine *m, const struct mig_request *r, char *err,
				    size_t errlen);
enum mig_status mig_source_step(struct mig_source *s, char *err, size_t errlen);
void mig_source_stats(const struct mig_source *s, struct mig_stats *out);
/* The socket, for the host loop's poll: step again when it is ready
 * for mig_source_events. */
int mig_source_fd(const struct mig_source *s);
short mig_source_events(const struct mig_source *s);
/* How long the host loop may wait for those events before stepping again
 * anyway, in ms (-1: as long as it likes).  The paused source of a
 * post-copy blocks in that wait rather than spinning. */
int mig_source_timeout_ms(const struct mig_source *s);
/* The VM runs on the destination (post-copy under way): this copy must
 * not resume. */
bool mig_source_handed_over(const struct mig_source *s);
/* Close the connection (an unfinished migration is abandoned: the
 * destination sees the stream cut) and free everything. */
void mig_source_free(struct mig_source *s);

/* The destination: listen on tcp:HOST:PORT and receive one VM into a
 * machine built from `cfg` (the same options the VM ran with).  A
 * source that fails (wrong key, a forged stream, a cut link, another
 * machine shape) is reported on stderr and the next one awaited; a
 * successful one returns 0 with *out set, the VM ready to run.  -1 for a
 * fatal error (the address, memory). */
struct mig_postcopy;
int mig_receive(const char *uri, const uint8_t key[MIG_KEY_BYTES],
		const struct machine_config *cfg, unsigned timeout_ms, struct machine **out,
		struct mig_postcopy **pc_out, char *err, size_t errlen);
/* One source's attempt on a connected socket `fd` (which it takes: closed
 * on return, or kept by *pc_out): the handshake, CONF, the pages and the
 * state, the handover.  0 with *out (and *pc_out) set as mig_receive sets
 * them and `what` the figures ("N pages in R rounds, ..."); -1 with the
 * reason in `what`, and nothing left behind (no machine; the overlay cut
 * back to empty). */
int mig_receive_conn(int fd, const uint8_t key[MIG_KEY_BYTES], const struct machine_config *cfg,
		     unsigned timeout_ms, struct machine **out, struct mig_postcopy **pc_out,
		     char *what, size_t whatlen);

/* The destination's side of a post-copy (postcopy.c): *pc_out from
 * mig_receive, NULL when every page came before the VM ran.  It owns the
 * connection to the source.  The host loop serves it between slices
 * (mig_postcopy_poll when mig_postcopy_fd is readable); a fault inside
 * the VM fetches its page directly.  When a page cannot come (the source
 * died, the link was cut, a forged chunk), the VM cannot go on:
 * `on_lost` (set by the caller; it restores the terminal and exits) is
 * called after the reason is printed.  It must not return. */
/* (recv.c) After GO: the VM may run with the pages in `missing` still on
 * the source; the connection (fd and channel) moves into the result. */
struct mig_postcopy *mig_postcopy_start(struct machine *m, int fd, struct mig_channel *ch,
					const uint64_t *missing, char *err, size_t errlen);
void mig_postcopy_on_lost(struct mig_postcopy *pc, void (*fn)(int status));
int mig_postcopy_fd(const struct mig_postcopy *pc);
/* Take what has arrived.  false once post-copy is over (stop polling). */
bool mig_postcopy_poll(void *pc);
/* The VM stops here: a post-copy still under way is ended (the source
 * hears why), and pc freed. */
void mig_postcopy_close(struct mig_postcopy *pc, const char *why);

/* KEEL_MIGRATE_TRACE set: print "keel: migrate-trace SIDE EVENT SECONDS"
 * (CLOCK_MONOTONIC, so both keels on one host share the clock) on
 * stderr, for measuring where the downtime goes (docs/migrate.md). */
void mig_trace(const char *side, const char *event);

#endif
