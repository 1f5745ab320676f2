/* See restore.h. */
#include "vm/restore.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/disk_image.h"
#include "lib/state_io.h"
#include "vm/machine.h"
#include "vm/sealed_snapshot.h"
#include "vm/snapshot.h"

void snapshot_bytes_free(struct snapshot_bytes *s)
{
	if (s->sealed)
		sealed_plaintext_free(s->p, s->len);
	else
		free(s->p);
	*s = (struct snapshot_bytes){0};
}

/* RAM and the boot image, each at most zstd's bound of RAM, and the small
 * sections. */
static uint64_t max_snapshot_bytes(uint64_t ram_size)
{
	return 2 * ram_size + SNAPSHOT_MAX_OVERHEAD;
}

static int read_sealed(const char *path, uint64_t ram_size, const struct restore_request *rq,
		       struct snapshot_bytes *s, char *err, size_t errlen)
{
	if (!rq->passphrase) {
		snprintf(err, errlen, "an encrypted snapshot, and no passphrase to open it");
		return -1;
	}
	char pass[SEALED_MAX_PASSPHRASE + 1];
	size_t passlen;
	int rc = rq->passphrase(rq->passphrase_opaque, path, pass, sizeof(pass), &passlen, err,
				errlen);
	if (rc == 0)
		rc = sealed_snapshot_decrypt(path, pass, passlen, max_snapshot_bytes(ram_size),
					     &s->p, &s->len, err, errlen);
	sodium_memzero(pass, sizeof(pass));
	s->sealed = rc == 0;
	return rc;
}

int snapshot_bytes_read(const char *path, uint64_t ram_size, const struct restore_request *rq,
			struct snapshot_bytes *out, char *err, size_t errlen)
{
	*out = (struct snapshot_bytes){0};
	if (sealed_snapshot_is_sealed(path))
		return read_sealed(path, ram_size, rq, out, err, errlen);
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	int rc = state_read_file(f, max_snapshot_bytes(ram_size), &out->p, &out->len, err, errlen);
	fclose(f);
	return rc;
}

/* Resume: the snapshot's overlay, frozen where it was, or a raw image
 * only if the user vouches for it. */
static int resume_disk(const struct disk_identity *id, const struct restore_request *rq,
		       struct machine_config *cfg, char *err, size_t errlen)
{
	if (id->kind == DISK_NONE && (rq->disk_given || rq->raw_disk || rq->overlay)) {
		snprintf(err, errlen, "the saved VM had no disk; drop --disk/--overlay");
		return -1;
	}
	if (id->kind == DISK_RAW) {
		if (!rq->raw_disk || rq->overlay) {
			snprintf(err, errlen,
				 "the saved VM's disk was the raw image %s, written in place, so the "
				 "snapshot does not hold its contents; if that image is unchanged since, "
				 "resume with --disk PATH --trust-disk (a disk with an overlay, --disk "
				 "BASE,overlay=FILE, needs no trust)", id->path);
			return -1;
		}
		cfg->disk = rq->raw_disk;
	}
	if (id->kind == DISK_OVERLAY) {
		if (rq->disk_given || rq->raw_disk) {
			snprintf(err, errlen, "the snapshot names its disk (%s); drop --disk, or "
					      "give --overlay NEW to resume on a copy", id->path);
			return -1;
		}
		return disk_image_open_frozen(&cfg->disk_image, id, rq->overlay, err, errlen);
	}
	return 0;
}

/* Replay: the overlay frozen at the checkpoint with private writes, or a
 * read-only raw image. */
static int replay_disk(const struct disk_identity *id, struct machine_config *cfg, char *err,
		       size_t errlen)
{
	if (id->kind == DISK_OVERLAY)
		return disk_image_open_replay(&cfg->disk_image, id, err, errlen);
	if (disk_identity_in_place(id)) {
		snprintf(err, errlen, "%s: a writable raw disk was not captured", id->path);
		return -1;
	}
	if (id->kind == DISK_RAW)
		return disk_image_open_raw(&cfg->disk_image, id->path, true, err, errlen);
	return 0;
}

static int open_disk(const void *snap, size_t len, const struct restore_request *rq,
		     struct machine_config *cfg, char *err, size_t errlen)
{
	struct disk_identity id;
	cfg->disk = NULL;
	cfg->disk_image = NULL;
	if (snapshot_peek_disk(snap, len, &id, err, errlen))
		return -1;
	return rq->disk_mode == RESTORE_DISK_REPLAY ? replay_disk(&id, cfg, err, errlen)
						    : resume_disk(&id, rq, cfg, err, errlen);
}

struct machine *machine_restore(const struct machine_config *config, const void *snap, size_t len,
				const struct restore_request *rq, char *err, size_t errlen)
{
	struct machine_config cfg = *config;
	if (open_disk(snap, len, rq, &cfg, err, errlen)) {
		disk_image_close(cfg.disk_image);
		return NULL;
	}
	struct machine *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		disk_image_close(cfg.disk_image);
		return NULL;
	}
	/* machine_init owns the disk once called, even when it fails. */
	if (machine_init(m, &cfg, err, errlen)) {
		free(m);
		return NULL;
	}
	if (snapshot_load_buffer(m, snap, len, err, errlen)) {
		machine_free(m);
		free(m);
		return NULL;
	}
	if (rq->rtc_epoch_ns && rq->rtc_epoch_ns != m->events.rtc_epoch_ns) {
		snprintf(err, errlen, "the saved VM's RTC epoch is %llu s, not %llu s; drop "
				      "--rtc-epoch (the RTC's time is in the snapshot)",
			 (unsigned long long)(m->events.rtc_epoch_ns / 1000000000ULL),
			 (unsigned long long)(rq->rtc_epoch_ns / 1000000000ULL));
		machine_free(m);
		free(m);
		return NULL;
	}
	if (rq->reseed)
		events_seed_entropy(&m->events, rq->entropy_seed);
	return m;
}

struct machine *machine_restore_file(const struct machine_config *cfg, const char *path,
				     const struct restore_request *rq, char *err, size_t errlen)
{
	struct snapshot_bytes s;
	char why[PATH_MAX + 512];
	struct machine *m = NULL;
	if (snapshot_bytes_read(path, cfg->ram_size, rq, &s, why, sizeof(why)) == 0)
		m = machine_restore(cfg, s.p, s.len, rq, why, sizeof(why));
	snapshot_bytes_free(&s);
	if (!m)
		snprintf(err, errlen, "%s: %s", path, why);
	return m;
}
