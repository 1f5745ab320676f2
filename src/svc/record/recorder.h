/* Recording: the secure-logging service (docs/design.md §3–§4).
 *
 * The recorder sits on the event boundary: every event that crosses it
 * (console input, network frames, entropy, time adjustments, idle skips)
 * is appended to the secure log as (icount, type, payload).  It also
 * writes the first checkpoint (a snapshot the log names by hash) and, every
 * `checkpoint_every` instructions, the machine's state digest, which
 * replay checks.  It never touches CPU internals: it uses the taps (an
 * event subscriber and a stop point per checkpoint) and the state API. */
#ifndef KEEL_SVC_RECORD_RECORDER_H
#define KEEL_SVC_RECORD_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;
struct log_writer;

struct recorder_options {
	const char *dir; /* the log directory (created; must hold no log) */
	const char *seal_key; /* from `keel log keygen`; NULL: generated */
	const char *sign_key; /* Ed25519 secret key file, or NULL */
	uint64_t checkpoint_every; /* instructions between digests; 0: none */
	uint64_t seal_interval_ms, seal_bytes; /* 0: the log's defaults */
	const char *session_json; /* LOG_REC_SESSION_START payload (NUL-terminated) */
};

struct recorder {
	struct machine *m;
	struct log_writer *log;
	uint64_t every;
	int subscription; /* its event subscriber (taps_event_subscribe) */
	uint64_t digests;
	/* CPU seconds the recorder's own heavy steps took (the first
	 * checkpoint, the digests): what it adds to a run, measured in a way
	 * that another process's load moves little. */
	double checkpoint_cpu_s, digest_cpu_s;
	bool failed;
	char err[512];
};

/* Open the log, save the first checkpoint (DIR/checkpoint-ICOUNT.snap),
 * log its hash and digest, and hook the machine's event boundary.  Returns
 * 0, or -1 with a message. */
int recorder_start(struct recorder *r, struct machine *m, const struct recorder_options *o,
		   char *err, size_t errlen);

/* Log the final digest and a session-end record (`reason`), seal and
 * close.  Returns 0, or -1 with a message (also if recording failed
 * earlier: then the log ends at its last good seal). */
int recorder_finish(struct recorder *r, const char *reason, char *err, size_t errlen);

#endif
