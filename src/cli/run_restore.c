/* See run_restore.h. */
#include "cli/run_restore.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/disk_image.h"
#include "vm/machine.h"
#include "vm/sealed_snapshot.h"
#include "vm/snapshot.h"
#include "vm/state_io.h"

void restore_free(struct snapshot_bytes *s)
{
	if (s->sealed)
		sealed_plaintext_free(s->p, s->len);
	else
		free(s->p);
	*s = (struct snapshot_bytes){0};
}

static int read_sealed(const struct restore_request *o, struct snapshot_bytes *s, char *err,
		       size_t errlen)
{
	char prompt[4096 + 32], pass[SEALED_MAX_PASSPHRASE + 1];
	size_t passlen;
	snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", o->restore);
	int rc = sealed_read_passphrase(o->passphrase_fd, prompt, pass, sizeof(pass), &passlen, err,
					errlen);
	if (rc == 0)
		rc = sealed_snapshot_decrypt(o->restore, pass, passlen,
					     o->ram_bytes + SNAPSHOT_MAX_OVERHEAD, &s->p, &s->len,
					     err, errlen);
	sodium_memzero(pass, sizeof(pass));
	s->sealed = rc == 0;
	return rc;
}

int restore_read(const struct restore_request *o, struct snapshot_bytes *s)
{
	char err[512];
	int rc;
	*s = (struct snapshot_bytes){0};
	if (sealed_snapshot_is_sealed(o->restore)) {
		rc = read_sealed(o, s, err, sizeof(err));
	} else {
		FILE *f = fopen(o->restore, "rb");
		/* RAM, zstd's worst-case expansion of it, and the small sections. */
		size_t max = o->ram_bytes + o->ram_bytes / 128 + SNAPSHOT_MAX_OVERHEAD;
		if (!f)
			snprintf(err, sizeof(err), "%s", strerror(errno));
		rc = f ? state_read_file(f, max, &s->p, &s->len, err, sizeof(err)) : -1;
		if (f)
			fclose(f);
	}
	if (rc)
		fprintf(stderr, "%s: %s: %s\n", o->prog ? o->prog : "keel run", o->restore, err);
	return rc;
}

/* The disk the snapshot names: its overlay, frozen at the snapshot, or a
 * raw image only if the user vouches for it. */
int restore_disk(const struct restore_request *o, const struct snapshot_bytes *s,
			struct machine_config *cfg)
{
	char err[PATH_MAX + 512];
	struct disk_identity id;
	if (snapshot_peek_disk(s->p, s->len, &id, err, sizeof(err)))
		goto fail;
	if (id.kind == DISK_NONE && (o->disk || o->overlay)) {
		snprintf(err, sizeof(err), "the saved VM had no disk; drop --disk/--overlay");
		goto fail;
	}
	if (id.kind == DISK_RAW) {
		if (!o->disk || !o->trust_disk || o->overlay) {
			snprintf(err, sizeof(err),
				 "the saved VM's disk was the raw image %s, written in place, so the "
				 "snapshot does not hold its contents; if that image is unchanged since, "
				 "resume with --disk PATH --trust-disk (a disk with an overlay, --disk "
				 "BASE,overlay=FILE, needs no trust)", id.path);
			goto fail;
		}
		cfg->disk = o->disk;
	}
	if (id.kind == DISK_OVERLAY) {
		if (o->disk) {
			snprintf(err, sizeof(err), "the snapshot names its disk (%s); drop --disk, or "
						   "give --overlay NEW to resume on a copy", id.path);
			goto fail;
		}
		if (disk_image_open_frozen(&cfg->disk_image, &id, o->overlay, err, sizeof(err)))
			goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "%s: %s: %s\n", o->prog ? o->prog : "keel run", o->restore, err);
	return -1;
}

int restore_load(struct machine *m, const struct restore_request *o, const struct snapshot_bytes *s)
{
	char err[512];
	if (snapshot_load_buffer(m, s->p, s->len, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "%s: %s: %s\n", o->prog ? o->prog : "keel run", o->restore, err);
	return -1;
}

