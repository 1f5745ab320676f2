/* The copy-on-write overlay file (docs/disk-overlay.md): a header naming
 * the base image, then an append-only sequence of block records.
 *
 * This file knows the bytes on disk and nothing else: encoding and
 * checking the header and records, scanning a file's records, hashing a
 * base.  The block device built on it is disk_image.h.
 *
 * Records are never rewritten: a newer copy of a block is appended after
 * the older one, and the last valid copy wins.  So "the overlay as of
 * length L" is a frozen disk that no later append can change, which is
 * what snapshots and forked clones rely on. */
#ifndef KEEL_DEV_DISK_OVERLAY_H
#define KEEL_DEV_DISK_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OVERLAY_MAGIC "KEELOVL\0"
#define OVERLAY_MAGIC_BYTES 8
#define OVERLAY_VERSION 1u
#define OVERLAY_BLOCK 4096u
#define OVERLAY_HEADER_BYTES 4096u
#define OVERLAY_HASH_BYTES 32
#define OVERLAY_RECORD_MAGIC "KREC"
#define OVERLAY_RECORD_HEADER 48u /* magic, reserved u32, u64 block, 32-byte checksum */
#define OVERLAY_RECORD_BYTES (OVERLAY_RECORD_HEADER + OVERLAY_BLOCK)
/* The two base paths share what is left of the header after the fixed
 * fields and before the header checksum. */
#define OVERLAY_PATHS_OFFSET 72u
#define OVERLAY_HEADER_SUM_OFFSET (OVERLAY_HEADER_BYTES - OVERLAY_HASH_BYTES)
#define OVERLAY_PATHS_MAX (OVERLAY_HEADER_SUM_OFFSET - OVERLAY_PATHS_OFFSET)

struct overlay_header {
	uint64_t virtual_size; /* bytes the guest sees; equals base_size in version 1 */
	uint64_t base_size;
	uint8_t base_hash[OVERLAY_HASH_BYTES]; /* BLAKE2b-256 of the base's bytes */
	char base_given[OVERLAY_PATHS_MAX + 1]; /* as on the command line */
	char base_abs[OVERLAY_PATHS_MAX + 1]; /* resolved when the overlay was made */
};

/* Fill `out` (OVERLAY_HEADER_BYTES).  Returns 0, or -1 if the two paths
 * do not fit (with a reason in err). */
int overlay_header_encode(const struct overlay_header *h, uint8_t *out, char *err, size_t errlen);

/* Check and decode a header read from a file.  Returns 0, or -1 with a
 * reason (not an overlay, another version, corrupt) in err. */
int overlay_header_decode(const uint8_t *in, struct overlay_header *h, char *err, size_t errlen);

/* Whether `fd` starts with the overlay magic. */
bool overlay_is_overlay(int fd);

/* One record for `block` holding `data` (OVERLAY_BLOCK bytes) into `out`
 * (OVERLAY_RECORD_BYTES). */
void overlay_record_encode(uint8_t *out, uint64_t block, const uint8_t *data);

/* Whether `rec` is an intact record for a block below `nblocks`; sets
 * *block. */
bool overlay_record_valid(const uint8_t *rec, uint64_t nblocks, uint64_t *block);

/* Walk the records from OVERLAY_HEADER_BYTES to `end`, calling
 * `found(opaque, block, record offset)` for each intact one in file order.
 * Stops at the first record that is short or fails its check; *valid_end
 * is where the intact records end (== end when all are intact).  Returns
 * 0, or -1 on a read error (with a reason in err). */
int overlay_scan(int fd, uint64_t end, uint64_t nblocks,
		 void (*found)(void *opaque, uint64_t block, uint64_t offset), void *opaque,
		 uint64_t *valid_end, char *err, size_t errlen);

/* BLAKE2b-256 of the first `size` bytes of `fd`, from the cache of
 * base_hash_cache.h when `use_cache` and it has one.  Returns 0, or -1
 * with a reason (a read error, or the file is shorter) in err. */
int overlay_hash_base(int fd, uint64_t size, bool use_cache, uint8_t out[OVERLAY_HASH_BYTES],
		      char *err, size_t errlen);

/* 64 lowercase hex digits and a NUL. */
void overlay_hash_hex(const uint8_t hash[OVERLAY_HASH_BYTES], char out[2 * OVERLAY_HASH_BYTES + 1]);

#endif
