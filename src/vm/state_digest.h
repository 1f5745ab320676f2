/* The state digest (docs/design.md §3, docs/snapshot-format.md "State
 * digest"): a BLAKE2b-256 over the machine's architectural state, the test
 * oracle for replay, snapshot/restore and migration.  Two machines in the
 * same architectural state have the same digest, whatever their caches
 * (TLBs, fetch pointers) or host pointers hold. */
#ifndef KEEL_VM_STATE_DIGEST_H
#define KEEL_VM_STATE_DIGEST_H

#include <stdint.h>

struct machine;

#define STATE_DIGEST_BYTES 32
#define STATE_DIGEST_HEX (2 * STATE_DIGEST_BYTES + 1)

/* Returns 0, or -1 if memory for the encoding could not be had (out is
 * then all zero). */
int state_digest(struct machine *m, uint8_t out[STATE_DIGEST_BYTES]);
/* The digest as 64 lowercase hex digits and a NUL. */
int state_digest_hex(struct machine *m, char out[STATE_DIGEST_HEX]);

#endif
