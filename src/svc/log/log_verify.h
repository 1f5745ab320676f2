/* Verifying a secure log (docs/log-format.md "Verification"): the hash
 * chain, every seal's epoch, totals, MAC and signature, and the hash of
 * every checkpoint file the log references. */
#ifndef KEEL_SVC_LOG_LOG_VERIFY_H
#define KEEL_SVC_LOG_LOG_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "svc/log/log_reader.h"

enum log_status {
	LOG_STATUS_VALID, /* sealed to the end, closed cleanly */
	LOG_STATUS_UNSEALED_TAIL, /* valid up to the last seal; then unsealed entries */
	LOG_STATUS_NO_CLOSE, /* valid up to the last seal, which is not the close */
	LOG_STATUS_TAMPERED, /* or unreadable: see bad and reason */
};

struct log_verify_options {
	const char *verify_key_path; /* NULL: DIR/verify.key if present */
	const char *sign_pub_path; /* NULL: signatures are not checked */
	bool no_dir_key; /* never fall back to DIR/verify.key */
};

struct log_verify_report {
	enum log_status status;
	char reason[768];
	/* Status other than VALID: the first bad or unsealed entry (or record,
	 * for a checkpoint).  NO_CLOSE: the end of the log. */
	struct log_position bad;
	/* The end of the verified part: verified.record records (all with
	 * index < verified.record) up to icount verified.icount are covered by
	 * the last good seal, which sits at verified.segment/offset. */
	struct log_position verified;
	bool seals_checked; /* a verification key was used */
	bool key_from_dir; /* ...and it was DIR/verify.key: not tamper-evident */
	bool signatures_checked;
	uint64_t seals; /* good seals */
	uint64_t records; /* all records read, sealed or not */
	uint64_t log_bytes; /* entry bytes read */
	uint64_t first_wall_ns, last_wall_ns; /* log creation, last entry read */
};

/* Fills `rep`.  Returns 0 when the log could be judged (rep->status says
 * how), -1 when verification could not run (no log, unreadable key file;
 * rep->reason says why, status is TAMPERED). */
int log_verify(const char *dir, const struct log_verify_options *o, struct log_verify_report *rep);

/* `keel log verify`'s exit status for a report: 0 valid, 1 tampered or
 * unreadable, 2 unsealed tail or no close, 3 chain intact but seals not
 * checked (no key). */
int log_verify_exit_code(const struct log_verify_report *rep);
const char *log_status_name(enum log_status s);

#endif
