/* The state digest (docs/design.md §3, docs/snapshot-format.md "State
 * digest"): a BLAKE2b-256 over the machine's architectural state, the test
 * oracle for replay, snapshot/restore and migration.  Two machines in the
 * same architectural state have the same digest, whatever their caches
 * (TLBs, fetch pointers, the page hashes below) or host pointers hold. */
#ifndef KEEL_VM_STATE_DIGEST_H
#define KEEL_VM_STATE_DIGEST_H

#include <stdint.h>

struct machine;

#define STATE_DIGEST_BYTES 32
#define STATE_DIGEST_HEX (2 * STATE_DIGEST_BYTES + 1)

/* Version 3 hashes each RAM page on its own, so a digest rehashes only
 * the pages written since the last one; version 2 (logs recorded before
 * it) hashed all of RAM in one stream.  The definitions are in
 * docs/snapshot-format.md. */
#define STATE_DIGEST_VERSION 3

/* What a machine keeps between digests: a hash per RAM page, trusted
 * while the page is unwritten (a reader of vm/ram_dirty.h says which
 * were written).  A cache, never state: a fork-clone inherits a correct
 * one, and a machine without one (no memory) hashes every page. */
struct digest_cache {
	unsigned version;	  /* 0 until set: STATE_DIGEST_VERSION */
	uint8_t (*page_hash)[32]; /* one per RAM page, valid where `known` */
	uint64_t *known;	  /* bit i: page_hash[i] and nonzero bit i hold */
	uint64_t *nonzero;	  /* bit i: page i was not all zero */
	uint64_t *written;	  /* scratch for the reader's fetch */
	int reader;		  /* ram_dirty reader + 1; 0: no cache */
};

/* Returns 0, or -1 if memory for the encoding could not be had (out is
 * then all zero). */
int state_digest(struct machine *m, uint8_t out[STATE_DIGEST_BYTES]);
/* The digest as 64 lowercase hex digits and a NUL. */
int state_digest_hex(struct machine *m, char out[STATE_DIGEST_HEX]);
/* Which definition this machine's digests follow from now on (2 or 3);
 * replay sets the one its log was recorded with.  Returns 0, or -1 for a
 * version this build does not know. */
int state_digest_set_version(struct machine *m, unsigned version);
unsigned state_digest_version(const struct machine *m);
/* Drop the page hashes and their dirty reader (machine_free). */
void state_digest_forget(struct machine *m);

#endif
