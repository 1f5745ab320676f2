/* Walking the entries of a log directory in chain order (internal to
 * src/svc/log): segment headers, entry headers, sequence numbers, the hash
 * chain, and the structure of each block's records.  Seals are handed up
 * unchecked; log_verify checks them. */
#ifndef KEEL_SVC_LOG_LOG_WALK_H
#define KEEL_SVC_LOG_LOG_WALK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "svc/log/log_format.h"
#include "svc/log/log_reader.h"

enum log_walk_result {
	LOG_WALK_ENTRY = 1, /* w->h, w->header, w->body (and w->raw) hold the entry */
	LOG_WALK_END = 0, /* clean end of the last segment */
	LOG_WALK_BAD = -1, /* the log is inconsistent at w->bad: w->reason */
	LOG_WALK_TORN = -2, /* an incomplete entry ends the last segment (crash) */
};

struct log_walk {
	char dir[4096];
	uint32_t last_segment; /* highest seg-N.klog present */
	FILE *f;
	uint32_t seg;
	uint64_t off; /* of the next entry in this segment */

	/* The chain so far. */
	uint64_t next_seq;
	uint8_t prev[LOG_HASH_BYTES];
	uint64_t records; /* records in the entries walked */
	uint64_t icount; /* of the last record walked (0 before any) */
	uint64_t log_bytes; /* entry bytes walked */
	uint64_t created_ns; /* of segment 0, for display */

	/* The current entry. */
	struct log_entry_header h;
	uint8_t *buf; /* header + body */
	size_t cap;
	const uint8_t *header, *body;
	uint8_t *raw; /* a block's records, decompressed */
	size_t raw_cap;
	struct log_position pos; /* of the current entry (the last one walked) */

	/* After LOG_WALK_BAD or LOG_WALK_TORN. */
	struct log_position bad;
	/* bad is entry k+1, whose record of entry k's hash does not match
	 * entry k (still at pos): one of the two was altered. */
	bool chain_break;
	char reason[512];

	void *dctx;
};

int log_walk_open(struct log_walk *w, const char *dir, char *err, size_t errlen);
int log_walk_next(struct log_walk *w);
void log_walk_close(struct log_walk *w);

/* The records of the current block, one by one from *cursor (start at 0):
 * 1 = a record, 0 = no more.  The block's structure was checked. */
int log_walk_record(const struct log_walk *w, size_t *cursor, struct log_record *rec);

#endif
