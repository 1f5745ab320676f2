/* The block backend behind virtio-blk: a raw image file, or a read-only
 * base image under a copy-on-write overlay (docs/disk-overlay.md).
 *
 * Raw: reads and writes go to the file in place.
 * Overlay: the base is opened read-only and never written; every write
 * appends whole 4 KiB blocks to the overlay (a partial block is read,
 * patched and appended), and reads take the newest copy of each block from
 * the overlay, else the base.  Because the overlay is only ever appended
 * to, its first L bytes are a frozen disk: a snapshot records L, and a
 * forked clone keeps reading that prefix while its parent appends.
 *
 * The disk never trusts the guest (callers check ranges, and so does this
 * code) nor the files (a hostile or torn overlay is an error or a dropped
 * tail, never a crash). */
#ifndef KEEL_DEV_DISK_IMAGE_H
#define KEEL_DEV_DISK_IMAGE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/disk_overlay.h"

enum disk_kind {
	DISK_NONE = 0, /* no disk attached */
	DISK_RAW = 1, /* a raw file written in place: its contents are not captured */
	DISK_OVERLAY = 2, /* base + append-only overlay: frozen by its length */
};

/* What a snapshot records about the disk (its DISK section). */
struct disk_identity {
	enum disk_kind kind;
	bool readonly;
	uint64_t size; /* bytes the guest sees */
	uint8_t base_hash[OVERLAY_HASH_BYTES]; /* overlay: BLAKE2b-256 of the base; raw: zero */
	uint64_t overlay_len; /* overlay: L, its length at the snapshot; raw: 0 */
	char base_path[PATH_MAX]; /* overlay: the base, absolute; raw: "" */
	char path[PATH_MAX]; /* the overlay (or raw image), absolute */
};

struct disk_image;

/* Open from a --disk argument:
 *   PATH[,readonly]     a raw image, or an overlay if PATH is one (by its
 *                       magic; the base comes from its header)
 *   BASE,overlay=PATH   BASE under the overlay PATH, which is created if
 *                       missing and otherwise must have been made over BASE
 * Only trailing options are recognised, so paths may contain commas.
 * Returns 0 with *out, or -1 with "FILE: reason" in err. */
int disk_image_open_spec(struct disk_image **out, const char *spec, char *err, size_t errlen);

int disk_image_open_raw(struct disk_image **out, const char *path, bool readonly, char *err,
			size_t errlen);

/* `base` NULL: the one the overlay's header names.  Otherwise the overlay
 * is created over `base` when it does not exist.  A torn record at the end
 * (a crash mid-write) is dropped, with a message on stderr. */
int disk_image_open_overlay(struct disk_image **out, const char *overlay, const char *base,
			    char *err, size_t errlen);

/* Open an overlay (base from its header) for reading only: the file is
 * not changed, not even to cut off a torn tail (for keel disk convert). */
int disk_image_open_overlay_readonly(struct disk_image **out, const char *overlay, char *err,
				     size_t errlen);

/* Reopen the disk a snapshot recorded.  The overlay must be exactly
 * id->overlay_len bytes long and intact, over the same base; if it has
 * grown (the saved VM wrote on) that is an error unless `new_overlay` is
 * given, in which case the first overlay_len bytes are copied there and
 * the copy is used (the old overlay is not touched).  Raw identities are
 * refused: their contents were not captured. */
int disk_image_open_frozen(struct disk_image **out, const struct disk_identity *id,
			   const char *new_overlay, char *err, size_t errlen);

/* Replay: the overlay as of the recording's checkpoint (its first
 * id->overlay_len bytes), read through a read-only descriptor and without
 * the lock (the recording may still run), with the guest's writes kept in
 * private memory.  The guest sees the disk as the recording did.  A
 * snapshot of it names the overlay at a longer prefix: the records the
 * recording appended are exactly the writes replay repeats. */
int disk_image_open_replay(struct disk_image **out, const struct disk_identity *id, char *err,
			   size_t errlen);

/* Make an empty overlay over `base` (refused if `overlay` exists). */
int disk_image_create(const char *overlay, const char *base, char *err, size_t errlen);

void disk_image_close(struct disk_image *d);

uint64_t disk_image_size(const struct disk_image *d);
bool disk_image_readonly(const struct disk_image *d);

/* Guest I/O on [off, off+len).  Return 0, or -1 with errno set (EINVAL
 * out of range, EROFS read-only, or the host's error). */
int disk_image_read(struct disk_image *d, uint64_t off, void *buf, size_t len);
int disk_image_write(struct disk_image *d, uint64_t off, const void *buf, size_t len);
/* Make completed writes durable (fdatasync). */
int disk_image_flush(struct disk_image *d);

/* The identity as of now (no flush). */
void disk_image_identity(const struct disk_image *d, struct disk_identity *id);

/* A raw image opened writable: the guest's writes change it in place, so
 * no snapshot, log or clone can hold its contents.  Recording, cloning
 * and replay refuse such a disk; a restore wants the user to vouch for it
 * (--trust-disk). */
bool disk_identity_in_place(const struct disk_identity *id);

/* Snapshot section DISK (docs/snapshot-format.md): which disk, frozen
 * where, not its contents.  Change these and the document together, and
 * bump the version. */
struct state_reader;
struct state_writer;
#define DISK_STATE_VERSION 1u
void disk_identity_save(const struct disk_identity *id, struct state_writer *w);
/* The fields the state digest covers: the identity without the host paths
 * the disk happens to live at. */
void disk_identity_save_digest(const struct disk_identity *id, struct state_writer *w);
int disk_identity_load(struct disk_identity *id, struct state_reader *r);
/* Is `have` (the attached disk; kind DISK_NONE for none) the disk `want`
 * froze?  Returns 0, or -1 with the reason recorded in `r`.  A raw disk's
 * contents were never captured; whoever attached one took that risk
 * (keel run --trust-disk), so only its size is checked (by virtio-blk). */
int disk_identity_check(const struct disk_identity *want, const struct disk_identity *have,
			struct state_reader *r);

/* Flush and return the identity a snapshot should record.  Fails (with a
 * reason) if the disk's state is not in a file: a clone's private writes. */
int disk_image_freeze(struct disk_image *d, struct disk_identity *id, char *err, size_t errlen);

/* Call in a fork()ed child (a clone of the running VM).  From then on the
 * child's writes go to private memory, never to the shared files, and its
 * reads see the disk as it was at the fork: the parent only appends past
 * the records the child's map points at.  Returns 0, or -1 (errno EINVAL)
 * for a writable raw disk, which the parent rewrites in place. */
int disk_image_fork_private(struct disk_image *d);

/* The host descriptors the disk reads and writes (-1 where unused): a
 * fork()ed clone must keep them open when it closes the parent's. */
void disk_image_fds(const struct disk_image *d, int fds[2]);

/* Statistics for `keel disk info`: records scanned, distinct blocks in
 * the overlay. */
/* A warning from opening (a torn tail was dropped), or "". */
const char *disk_image_note(const struct disk_image *d);

void disk_image_counts(const struct disk_image *d, uint64_t *records, uint64_t *blocks);

#endif
