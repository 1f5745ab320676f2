/* The state digest (docs/design.md §3, docs/snapshot-format.md "State
 * digest"): a BLAKE2b-256 over the machine's architectural state, the test
 * oracle for replay, snapshot/restore and migration.  Two machines in the
 * same architectural state have the same digest, whatever their caches
 * (TLBs, fetch pointers, the page hashes below) or host pointers hold. */
#ifndef KEEL_VM_STATE_DIGEST_H
#define KEEL_VM_STATE_DIGEST_H

#include <stdbool.h>
#include <stdint.h>

struct machine;
struct evp_md_st;     /* OpenSSL's EVP_MD */
struct evp_md_ctx_st; /* and EVP_MD_CTX */

#define STATE_DIGEST_BYTES 32
#define STATE_DIGEST_HEX (2 * STATE_DIGEST_BYTES + 1)

/* Version 4 (docs/snapshot-format.md, "State digest") is what this keel
 * records with: a hash per RAM page under a hash per group of 64 pages,
 * so that a digest rehashes only the pages written since the last one and
 * only their groups; and the boot image (section BOOT, tens of MiB on a
 * distribution guest) enters by its hash, which is kept while the image
 * is unchanged.  Version 3 hashed the pages' entries in one flat stream
 * and the boot image in full each time; version 2 hashed all of RAM in
 * one stream.  Both are kept for replaying logs recorded with them. */
#define STATE_DIGEST_VERSION 4
#define STATE_DIGEST_GROUP_PAGES 64 /* pages under one group hash (v4) */

/* What a machine keeps between digests: a hash per RAM page, trusted
 * while the page is unwritten (a reader of vm/ram_dirty.h says which
 * were written), and per group of pages, trusted while none of its pages
 * was; and the boot image's hash.  A cache, never state: a fork-clone
 * inherits a correct one, and a machine without one (no memory) hashes
 * every page. */
struct digest_cache {
	unsigned version;	  /* 0 until set: STATE_DIGEST_VERSION */
	unsigned cached_version;  /* whose page hashes page_hash holds */
	uint8_t (*page_hash)[32]; /* one per RAM page, valid where `known` */
	uint64_t *known;	  /* bit i: page_hash[i] and nonzero bit i hold */
	uint64_t *nonzero;	  /* bit i: page i was not all zero */
	uint64_t *written;	  /* scratch for the reader's fetch */
	/* Version 4: one per group of STATE_DIGEST_GROUP_PAGES pages, valid
	 * where every page of the group is `known` and group_known is set. */
	uint8_t (*group_hash)[32];
	uint64_t *group_known;
	int reader;		  /* ram_dirty reader + 1; 0: no cache */
	struct evp_md_st *sha256; /* for version 4's page hashes */
	struct evp_md_ctx_st *sha_ctx;
	/* BLAKE2b-256 of m->boot_image, valid while boot_known is set
	 * (state_digest_boot_image_changed clears it). */
	uint8_t boot_hash[32];
	bool boot_known;
};

/* Returns 0, or -1 if memory for the encoding could not be had (out is
 * then all zero). */
int state_digest(struct machine *m, uint8_t out[STATE_DIGEST_BYTES]);
/* The digest as 64 lowercase hex digits and a NUL. */
int state_digest_hex(struct machine *m, char out[STATE_DIGEST_HEX]);
/* Which definition this machine's digests follow from now on (2, 3 or 4);
 * replay sets the one its log was recorded with.  Returns 0, or -1 for a
 * version this build does not know. */
int state_digest_set_version(struct machine *m, unsigned version);
unsigned state_digest_version(const struct machine *m);
/* BLAKE2b-256 of the boot image (of nothing on the bare board), hashed
 * once and kept until the image is replaced: version 4 digests take it,
 * and a snapshot's RAM section can name the image by it. */
void state_digest_boot_hash(struct machine *m, uint8_t out[32]);
/* The machine's boot image was replaced (machine_set_boot_image): its
 * cached hash no longer holds. */
void state_digest_boot_image_changed(struct machine *m);
/* Drop the page hashes and their dirty reader (machine_free). */
void state_digest_forget(struct machine *m);

#endif
