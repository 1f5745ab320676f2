/* Reading the secure log back (docs/log-format.md): records in order, for
 * replay and `keel log show`.  The reader checks the hash chain and the
 * structure as it goes but not the seals; replay should first run
 * log_verify() (log_verify.h) and stop at its verified position. */
#ifndef KEEL_SVC_LOG_LOG_READER_H
#define KEEL_SVC_LOG_LOG_READER_H

#include <stddef.h>
#include <stdint.h>

#include "svc/log/log_record.h"

/* A place in the log, as verify reports it. */
struct log_position {
	char segment[32]; /* file name in DIR, e.g. "seg-000000.klog" */
	uint64_t offset; /* byte offset of the entry in that file */
	uint64_t entry; /* the entry's sequence number (blocks and seals) */
	uint64_t record; /* index of the record (for an entry: its first one) */
	uint64_t icount; /* that record's icount (else the last one before) */
};

struct log_record {
	uint64_t icount;
	uint16_t type; /* enum log_record_type */
	uint32_t len;
	const uint8_t *payload; /* valid until the next log_reader_next() */
	uint64_t wall_ns; /* host time its block was written */
	struct log_position pos; /* pos.record is this record's index */
};

struct log_reader;

int log_reader_open(struct log_reader **r, const char *dir, char *err, size_t errlen);
/* 1 = a record, 0 = the end (or a torn, unsealed tail: see
 * log_reader_note), -1 = the log is broken here (log_reader_error). */
int log_reader_next(struct log_reader *r, struct log_record *rec);
const char *log_reader_error(const struct log_reader *r);
/* After 0: why the log ended ("" for a clean end of the files). */
const char *log_reader_note(const struct log_reader *r);
void log_reader_close(struct log_reader *r);

#endif
