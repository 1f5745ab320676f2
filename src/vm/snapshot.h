/* Save and restore a whole machine (docs/snapshot-format.md).
 *
 * snapshot_load() expects a machine freshly made by machine_init() with the
 * same configuration (board, RAM size, disk and network present) and
 * refuses anything else with a clear message.  The input is untrusted: a
 * truncated, corrupt or foreign file is an error, never a crash.  If load
 * fails after the header and CONF checks passed, the machine may be half
 * restored: discard it (machine_free). */
#ifndef KEEL_VM_SNAPSHOT_H
#define KEEL_VM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/state_io.h"

struct machine;
struct disk_identity;

#define SNAPSHOT_FORMAT_VERSION 1u
/* File header flag: the file ends in a SUM section, the BLAKE2b-256 of
 * every byte before it (docs/snapshot-format.md "Integrity"). */
#define SNAPSHOT_FLAG_SUM 1u
#define SNAPSHOT_SUM_BYTES 32
/* Refuse snapshots larger than RAM plus this much (compressed RAM never
 * grows by more than zstd's bound, and the device state is small). */
#define SNAPSHOT_MAX_OVERHEAD (64u << 20)

int snapshot_save(struct machine *m, FILE *out, char *err, size_t errlen);

/* Save to `path` through PATH.tmp and a rename, so `path` is either absent,
 * the old file or a complete snapshot.  Errors say "FILE: reason". */
int snapshot_save_file(struct machine *m, const char *path, char *err, size_t errlen);
/* The same, also giving the BLAKE2b-256 of the whole file as written (the
 * hash a log names a checkpoint by, docs/log-format.md) from the stream
 * the SUM section is hashed from, so nobody reads the file back for it. */
int snapshot_save_hashed(struct machine *m, FILE *out, uint8_t file_hash[SNAPSHOT_SUM_BYTES],
			 char *err, size_t errlen);
int snapshot_save_file_hashed(struct machine *m, const char *path,
			      uint8_t file_hash[SNAPSHOT_SUM_BYTES], char *err, size_t errlen);
int snapshot_load(struct machine *m, FILE *in, char *err, size_t errlen);

/* The same, over a buffer already in memory. */
int snapshot_load_buffer(struct machine *m, const void *buf, size_t len, char *err,
			 size_t errlen);

/* Migration (docs/migrate.md): a snapshot without its RAM section, for a
 * machine whose RAM moves page by page on its own.  Saving appends the
 * file header and every other section (DISK included, after a flush) to
 * `w`, BOOT only if `boot` (the boot image never changes while a machine
 * runs, so a migration sends it ahead); loading expects no RAM section
 * and leaves RAM as it is, and BOOT only if `boot`. */
int snapshot_save_without_ram(struct machine *m, struct state_writer *w, bool boot, char *err,
			      size_t errlen);
int snapshot_load_without_ram(struct machine *m, const void *buf, size_t len, bool boot,
			      char *err, size_t errlen);
/* The BOOT section alone (sections without a file header, as a
 * migration sends ahead), loaded long before the rest: the state at the
 * stop is then loaded with `boot` false, and the stop stays short. */
int snapshot_load_boot(struct machine *m, const void *buf, size_t len, char *err, size_t errlen);

/* Append every section except DISK and RAM, in file order, to `w` (no
 * file header).  State digests before version 4 hash exactly these bytes. */
void snapshot_encode_state(struct machine *m, struct state_writer *w);
/* The same without BOOT, which the digest (version 4) takes by its hash
 * instead: the boot image does not change while a machine runs, and is
 * tens of MiB on a distribution guest. */
void snapshot_encode_state_except_boot(struct machine *m, struct state_writer *w);

/* The DISK section's identity fields (no paths) as the state digest
 * hashes them. */
void snapshot_encode_disk_identity(struct machine *m, struct state_writer *w);

/* Find the DISK section of a snapshot in memory, before any machine
 * exists: the caller must open that disk to build the machine.  Returns
 * 0, or -1 with a reason. */
int snapshot_peek_disk(const void *buf, size_t len, struct disk_identity *id, char *err,
		       size_t errlen);

/* A snapshot's CONF section, before any machine exists: the machine to
 * build for it (keel inspect reads a snapshot without running it). */
struct snapshot_conf {
	uint32_t board; /* enum board_kind */
	uint64_t ram_base, ram_size;
	bool has_blk, has_net;
};
int snapshot_peek_conf(const void *buf, size_t len, struct snapshot_conf *c, char *err,
		       size_t errlen);

#endif
