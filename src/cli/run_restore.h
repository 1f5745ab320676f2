/* keel run --restore: read a snapshot (decrypting a sealed one), open the
 * disk its DISK section names, then load it into the machine built with
 * that disk (docs/snapshot-format.md, "Using it"). */
#ifndef KEEL_CLI_RUN_RESTORE_H
#define KEEL_CLI_RUN_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;
struct machine_config;

/* What the command line says about the restore. */
struct restore_request {
	const char *restore; /* the snapshot file */
	int passphrase_fd; /* a sealed snapshot's passphrase; -1: ask on /dev/tty */
	uint64_t ram_bytes; /* -m: bounds how much of the file is read */
	const char *disk; /* --disk: only for a raw disk, with trust_disk */
	const char *overlay; /* --overlay NEW: resume on a copy of the frozen overlay */
	bool trust_disk;
	const char *prog; /* names the command in messages; NULL: "keel run" */
};

/* A snapshot file's bytes; a sealed one decrypted and authenticated. */
struct snapshot_bytes {
	uint8_t *p;
	size_t len;
	bool sealed; /* plaintext to wipe */
};

/* Each prints "keel run: FILE: reason" and returns -1 on failure, else 0. */
int restore_read(const struct restore_request *o, struct snapshot_bytes *s);
/* Set cfg->disk_image (an overlay frozen at the snapshot) or cfg->disk (a
 * raw image the user vouched for), or neither (no disk). */
int restore_disk(const struct restore_request *o, const struct snapshot_bytes *s,
		 struct machine_config *cfg);
int restore_load(struct machine *m, const struct restore_request *o,
		 const struct snapshot_bytes *s);
void restore_free(struct snapshot_bytes *s);

#endif
