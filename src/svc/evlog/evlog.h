/* The event log: every input that crosses the event boundary, written as
 * one JSON line each (`keel run --events-out FILE`).  A plain-text view of
 * what the secure log holds, for scripts and for people; it is neither
 * sealed nor replayable (docs/taps.md, "Example service").
 *
 *   {"icount":123,"kind":"console","len":3,"hash":"<BLAKE2b-128 hex>"}
 */
#ifndef KEEL_SVC_EVLOG_EVLOG_H
#define KEEL_SVC_EVLOG_EVLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct machine;

struct event_log {
	struct machine *m;
	FILE *out;
	int subscription;
	uint64_t events;
	pid_t pid; /* the process that opened it (not a fork-clone) */
};

/* Open `path` (truncated) and subscribe.  Returns 0, or -1 with
 * "PATH: why" in err. */
int event_log_open(struct event_log *l, struct machine *m, const char *path, char *err,
		   size_t errlen);
/* Unsubscribe and close.  Returns 0, or -1 if the file could not be
 * written completely (with the reason in err). */
int event_log_close(struct event_log *l, char *err, size_t errlen);

#endif
