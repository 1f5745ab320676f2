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

struct mig_request {
	char host[256], port[16]; /* from tcp:HOST:PORT */
	uint8_t key[MIG_KEY_BYTES];
	unsigned downtime_ms; /* the budget for the stop-and-copy */
	bool keep; /* stay paused after the handover instead of quitting */
	unsigned timeout_ms; /* a silent peer is a cut link after this */
	/* Tests: sleep this long after each step, so that a VM dirties
	 * faster than the link carries (0: no throttle). */
	unsigned throttle_ms;
};

/* What a migration reports, during and at the end. */
struct mig_stats {
	unsigned rounds;
	uint64_t pages_sent, zero_pages, pages_last_round, pages_pending;
	uint64_t disk_bytes; /* overlay records sent */
	uint64_t bytes; /* on the wire */
	double dirty_pages_per_s; /* in the last complete round */
	double pages_per_s; /* the measured rate: pages over the time spent sending */
	double est_downtime_ms;
	double total_ms, downtime_ms; /* at the end: start to RUNNING, stop to RUNNING */
	uint64_t icount; /* where the source stopped */
	bool dirty_tracking; /* taps' dirty pages (else: compared with what was sent) */
};

enum mig_status {
	MIG_CONTINUE, /* call mig_source_step again after a slice */
	MIG_PROGRESS, /* likewise, and a round just completed: report stats */
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
/* The socket, for the host loop's poll (writable: step again). */
int mig_source_fd(const struct mig_source *s);
/* Close the connection (an unfinished migration is abandoned: the
 * destination sees the stream cut) and free everything. */
void mig_source_free(struct mig_source *s);

/* The destination: listen on tcp:HOST:PORT and receive one VM into a
 * machine built from `cfg` (the same options the VM ran with).  A
 * source that fails (wrong key, a forged stream, a cut link, another
 * machine shape) is reported on stderr and the next one awaited; a
 * successful one returns 0 with *out set, the VM ready to run.  -1 for a
 * fatal error (the address, memory). */
int mig_receive(const char *uri, const uint8_t key[MIG_KEY_BYTES],
		const struct machine_config *cfg, unsigned timeout_ms, struct machine **out,
		char *err, size_t errlen);

#endif
