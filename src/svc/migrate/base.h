/* Moving an overlay's base image the destination lacks (base.c;
 * docs/migrate.md, "The disk"). */
#ifndef KEEL_SVC_MIGRATE_BASE_H
#define KEEL_SVC_MIGRATE_BASE_H

#include <stddef.h>
#include <stdint.h>

#include "dev/disk_overlay.h"
#include "lib/state_io.h"
#include "svc/migrate/channel.h"

/* The BASE of a --disk BASE,overlay=NEW spec into `base`; -1 if the spec
 * names no base that way. */
int mig_base_spec_path(const char *spec, char *base, size_t len);

/* The destination: a temporary file beside `path`, filled by BASE
 * messages in order, hashed as it goes; at BASE_END kept as `path` only
 * if its hash is `want` (and nothing appeared at `path` meanwhile).  Each
 * returns 0, or -1 with a reason; free removes what was not kept. */
struct mig_base_recv;
struct mig_base_recv *mig_base_recv_start(const char *path, char *err, size_t errlen);
int mig_base_recv_chunk(struct mig_base_recv *b, const uint8_t *p, size_t len, char *err,
			size_t errlen);
int mig_base_recv_finish(struct mig_base_recv *b, const uint8_t *p, size_t len,
			 const uint8_t want[OVERLAY_HASH_BYTES], char *err, size_t errlen);
void mig_base_recv_free(struct mig_base_recv *b);

/* The source: the base file, one BASE message (4 MiB before zstd) per
 * call, then BASE_END: 0 (more to send), 1 (BASE_END sent), -1 with a
 * reason. */
struct mig_base_send;
struct mig_base_send *mig_base_send_start(const char *path, char *err, size_t errlen);
int mig_base_send_chunk(struct mig_base_send *b, struct mig_channel *ch, struct state_writer *w,
			char *err, size_t errlen);
uint64_t mig_base_send_bytes(const struct mig_base_send *b);
void mig_base_send_free(struct mig_base_send *b);

#endif
