/* What keel replay shares with the commands that replay a log for
 * another purpose (keel analyze): the log's verification, its first
 * records, the record source and the replay machine's configuration. */
#ifndef KEEL_CLI_REPLAY_CLI_H
#define KEEL_CLI_REPLAY_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svc/log/log_verify.h"
#include "svc/replay/replay.h"
#include "vm/machine.h"
#include "vm/restore.h"

/* The first records of a log: how to rebuild the machine. */
struct session {
	struct machine_config cfg; /* the disk comes from the checkpoint's DISK section */
	char checkpoint[4096]; /* path of the first checkpoint */
	uint64_t start_index; /* record number of the first digest */
	uint64_t verified_records; /* replay stops before this record */
	unsigned digest_version; /* the state digest the recorder logged */
};

/* The record source: the log, cut at the end of its verified part. */
struct log_source {
	struct log_reader *reader;
	uint64_t limit;
	uint64_t read;
};

int log_source_next(void *opaque, struct replay_record *rec, char *err, size_t errlen);
/* Open the log at dir; -1 with the reason on stderr. */
int log_source_open(struct log_source *s, const char *dir, uint64_t limit);

/* Verify the log first (a tampered one is refused, with the reason on
 * stderr after "who: "; an unsealed tail is cut off) and fill
 * s->verified_records. */
int verify_for_replay(const char *who, const char *dir, const struct log_verify_options *vo, struct session *s);
/* The session record and first checkpoint; -1 with the reason on stderr. */
int read_session(struct session *s, const char *dir);

/* How a replay machine is built (the session's configuration, never the
 * host's clock) and how its checkpoint's disk is opened. */
struct machine_config replay_config(const struct session *s, bool console, bool no_decode_cache);
extern const struct restore_request replay_restore;
/* A replay machine restored from the snapshot file at path (the log's
 * checkpoint), with the state digest the log was recorded with.  NULL
 * with the reason in err. */
struct machine *replay_machine_open(const struct session *s, const char *path, bool console,
				    bool no_decode_cache, char *err, size_t errlen);

#endif
