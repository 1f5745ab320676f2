/* The writer of the secure log (docs/design.md §4, docs/log-format.md).
 *
 * Called from keel's single-threaded core on every event, so an append
 * only copies the record into the current block; a full block (~64 KiB)
 * is compressed and written with write(2).  Seals come every
 * seal_interval_ms of wall time (checked in append and tick), every
 * seal_bytes of log, on log_writer_seal(), and at close; each seal is
 * fsync'ed, and the seal key is ratcheted on disk before the seal is
 * written, so no key that could forge it survives.
 *
 * After any failure the writer refuses further work; log_writer_error()
 * says why. */
#ifndef KEEL_SVC_LOG_LOG_WRITER_H
#define KEEL_SVC_LOG_LOG_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "svc/log/log_record.h"

/* Defaults for the option fields left 0. */
#define LOG_DEFAULT_SEAL_INTERVAL_MS 10000u
#define LOG_DEFAULT_SEAL_BYTES (16u << 20)
#define LOG_DEFAULT_SEGMENT_BYTES (64u << 20)
/* An interval or byte count that never triggers a seal. */
#define LOG_NEVER UINT64_MAX

/* The name of the verify-key file the writer leaves in DIR when it had to
 * make its own key. */
#define LOG_DIR_VERIFY_KEY "verify.key"

struct log_writer_options {
	const char *dir; /* created if missing; must not hold a log yet */
	/* The seal-key file from `keel log keygen` (at epoch 0).  NULL: the
	 * writer makes a key, writes DIR/verify.key and sets a warning. */
	const char *seal_key_path;
	const char *sign_key_path; /* Ed25519 secret key file, or NULL */
	uint64_t seal_interval_ms;
	uint64_t seal_bytes;
	uint64_t segment_bytes;
};

struct log_writer;

int log_writer_open(struct log_writer **w, const struct log_writer_options *o, char *err,
		    size_t errlen);
/* A warning the caller should show (the key was generated and sits in
 * DIR), or NULL. */
const char *log_writer_warning(const struct log_writer *w);
/* Why the last call failed. */
const char *log_writer_error(const struct log_writer *w);

/* Returns 0 or -1.  `len` at most LOG_MAX_PAYLOAD. */
int log_writer_append(struct log_writer *w, uint64_t icount, uint16_t type, const void *payload,
		      uint32_t len);
/* Hash DIR/name_in_dir and append a LOG_REC_SNAPSHOT record naming it.
 * The name must be relative, without "." or ".." components. */
int log_writer_add_snapshot(struct log_writer *w, uint64_t icount, const char *name_in_dir);
/* The same with the file's BLAKE2b-256 already known (the recorder has
 * it from writing the file: snapshot_save_file_hashed). */
int log_writer_add_snapshot_hashed(struct log_writer *w, uint64_t icount, const char *name_in_dir,
				   const uint8_t hash[32]);
/* Write out the current block now (no seal, no fsync). */
int log_writer_flush(struct log_writer *w);
/* Seal if the interval has passed and something was logged since. */
int log_writer_tick(struct log_writer *w);
/* Seal now (flushing the current block) if anything was logged since the
 * last seal. */
int log_writer_seal(struct log_writer *w);
/* Final seal marked as the close, then free.  Returns 0 or -1 (the writer
 * is freed either way; the message goes to `err`). */
int log_writer_close(struct log_writer *w, char *err, size_t errlen);
/* Free without sealing: what is not sealed stays an unsealed tail, as
 * after a crash.  For error paths and tests. */
void log_writer_free(struct log_writer *w);

/* Totals, for progress output. */
uint64_t log_writer_records(const struct log_writer *w);
uint64_t log_writer_seals(const struct log_writer *w);

#endif
