/* Build a machine in the state a snapshot saved: the one restore sequence
 * (keel run --restore, keel replay, and migration next).
 *
 * A snapshot names its disk (section DISK) but a machine needs its disk
 * to be built, so the sequence is: read the file (decrypting a sealed
 * one), find the DISK section, open that disk the way the caller asks,
 * build the machine with it, load every section.  Then the changes the
 * caller asked for are made through the event boundary, so a recording
 * that starts here holds them (docs/snapshot-format.md, "Using it"). */
#ifndef KEEL_VM_RESTORE_H
#define KEEL_VM_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;
struct machine_config;

enum restore_disk_mode {
	/* Resume: the overlay reopened where the snapshot froze it and
	 * written on (or first copied to `overlay`); a raw image only the
	 * one in `raw_disk`, which the user vouches for. */
	RESTORE_DISK_RESUME,
	/* Replay: the overlay as frozen, the guest's writes kept in private
	 * memory; a raw image only if it was read-only. */
	RESTORE_DISK_REPLAY,
};

struct restore_request {
	enum restore_disk_mode disk_mode;
	const char *overlay; /* resume: continue on NEW, a copy of the frozen overlay */
	const char *raw_disk; /* resume: the raw image to resume on (--disk with --trust-disk) */
	/* Resume: a disk the user named that this snapshot cannot take
	 * (--disk without a raw disk to trust): refused with a reason. */
	bool disk_given;
	/* From now on the guest's entropy comes from the stream seeded with
	 * `entropy_seed`, whatever the snapshot's was (events_seed_entropy). */
	bool reseed;
	uint64_t entropy_seed;
	/* Not 0: the RTC epoch the caller expects; a snapshot with another
	 * is refused (the RTC's time is guest state, not an option). */
	uint64_t rtc_epoch_ns;
	/* A sealed snapshot's passphrase: fill `buf` (cap bytes) and *len,
	 * return 0, or -1 with a reason.  NULL: sealed files are refused. */
	int (*passphrase)(void *opaque, const char *path, char *buf, size_t cap, size_t *len,
			  char *err, size_t errlen);
	void *passphrase_opaque;
};

/* A snapshot's bytes in memory; a sealed one's plaintext is wiped when
 * freed. */
struct snapshot_bytes {
	uint8_t *p;
	size_t len;
	bool sealed;
};

/* Read `path` (at most what a snapshot of `ram_size` bytes of RAM can
 * take), decrypting it if it is sealed.  Returns 0, or -1 with a reason. */
int snapshot_bytes_read(const char *path, uint64_t ram_size, const struct restore_request *rq,
			struct snapshot_bytes *out, char *err, size_t errlen);
void snapshot_bytes_free(struct snapshot_bytes *s);

/* A new machine (calloc'ed; machine_free and free it) configured as
 * `cfg` says, with the disk the snapshot names, in the state of the
 * snapshot `snap`.  NULL with a reason in err. */
struct machine *machine_restore(const struct machine_config *cfg, const void *snap, size_t len,
				const struct restore_request *rq, char *err, size_t errlen);

/* The same from a file (snapshot_bytes_read, then machine_restore). */
struct machine *machine_restore_file(const struct machine_config *cfg, const char *path,
				     const struct restore_request *rq, char *err, size_t errlen);

#endif
