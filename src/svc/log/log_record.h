/* Record types of the secure log (docs/log-format.md "Record types"),
 * shared by the log library, the recorder and the replayer.
 *
 * A record is (icount, type, payload).  Types 1..5 are exactly the event
 * kinds that cross the event boundary (vm/events.h), so the recorder logs
 * an event as its kind.  The library looks inside only LOG_REC_SNAPSHOT
 * (verify rehashes the file it names); every other payload is opaque. */
#ifndef KEEL_SVC_LOG_LOG_RECORD_H
#define KEEL_SVC_LOG_LOG_RECORD_H

#include <stdint.h>

#include "vm/events.h"

enum log_record_type {
	LOG_REC_CONSOLE_INPUT = EV_CONSOLE_INPUT, /* bytes typed on the console */
	LOG_REC_NET_FRAME = EV_NET_FRAME, /* an Ethernet frame for the guest */
	LOG_REC_ENTROPY = EV_ENTROPY, /* bytes handed to the guest's RNG */
	LOG_REC_RTC_EPOCH = EV_RTC_EPOCH, /* u64 ns since 1970, the boot epoch */
	LOG_REC_TIME_ADJUST = EV_TIME_ADJUST, /* a logged jump of virtual time */
	LOG_REC_IDLE_SKIP = 6, /* no payload */
	LOG_REC_API = 16, /* JSON text of a state-changing API command */
	LOG_REC_DIGEST = 32, /* 32-byte state digest at this icount */
	LOG_REC_SNAPSHOT = 33, /* 32-byte BLAKE2b-256 of a file + its name in DIR */
	LOG_REC_SESSION_START = 48, /* JSON: keel version, options, wall time */
	LOG_REC_SESSION_END = 49, /* JSON: exit reason, final icount */
};

/* Bytes of the hash that starts a LOG_REC_SNAPSHOT payload. */
#define LOG_SNAPSHOT_HASH_BYTES 32

/* A short lowercase name ("console", "net", ...); "unknown" for a type
 * this keel does not define. */
const char *log_record_type_name(uint16_t type);

#endif
