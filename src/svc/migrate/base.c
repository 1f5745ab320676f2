/* Moving an overlay's base image (docs/migrate.md, "The disk"): when the
 * destination has no file at the base path it was given, the source
 * sends the base, and the destination keeps it only if it hashes to the
 * base the VM's overlay was made over (BLAKE2b-256, CONF's base_hash).
 *
 * The source sends it a few milliseconds at a time between slices
 * (mig_base_send_step), so the VM runs on meanwhile; pre-copy starts
 * once the destination has the base and has built its machine. */
#include "svc/migrate/base.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "svc/migrate/stream.h"

#define BASE_CHUNK (4u << 20) /* bytes of base in one BASE message */

/* ---- the destination ---- */

int mig_base_spec_path(const char *spec, char *base, size_t len)
{
	const char *ov = spec ? strstr(spec, ",overlay=") : NULL;
	/* Only a trailing option counts (paths may hold commas). */
	while (ov && strstr(ov + 1, ",overlay="))
		ov = strstr(ov + 1, ",overlay=");
	if (!ov || (size_t)(ov - spec) >= len)
		return -1;
	snprintf(base, len, "%.*s", (int)(ov - spec), spec);
	return 0;
}

struct mig_base_recv {
	int fd;
	char path[4096], tmp[4200];
	uint64_t got;
	crypto_generichash_state hash;
	uint8_t *buf;
};

struct mig_base_recv *mig_base_recv_start(const char *path, char *err, size_t errlen)
{
	struct mig_base_recv *b = calloc(1, sizeof(*b));
	if (!b || !(b->buf = malloc(BASE_CHUNK))) {
		free(b);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(b->path, sizeof(b->path), "%s", path);
	snprintf(b->tmp, sizeof(b->tmp), "%s.part-%ld", path, (long)getpid());
	b->fd = open(b->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (b->fd < 0) {
		snprintf(err, errlen, "%s: %s", b->tmp, strerror(errno));
		free(b->buf);
		free(b);
		return NULL;
	}
	crypto_generichash_init(&b->hash, NULL, 0, OVERLAY_HASH_BYTES);
	return b;
}

int mig_base_recv_chunk(struct mig_base_recv *b, const uint8_t *p, size_t len, char *err,
			size_t errlen)
{
	struct state_reader r;
	sr_init(&r, p, len);
	uint64_t off = sr_u64(&r), raw = sr_u64(&r);
	if (sr_failed(&r) || raw == 0 || raw > BASE_CHUNK || off != b->got) {
		snprintf(err, errlen, "BASE: a chunk of %llu bytes at %llu, expected one at %llu",
			 (unsigned long long)raw, (unsigned long long)off,
			 (unsigned long long)b->got);
		return -1;
	}
	size_t n = ZSTD_decompress(b->buf, (size_t)raw, p + r.pos, sr_remaining(&r));
	if (ZSTD_isError(n) || n != raw) {
		snprintf(err, errlen, "BASE: a chunk does not decode to %llu bytes",
			 (unsigned long long)raw);
		return -1;
	}
	for (size_t done = 0; done < n;) {
		ssize_t w = write(b->fd, b->buf + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "%s: %s", b->tmp, w < 0 ? strerror(errno) : "short write");
			return -1;
		}
		done += (size_t)w;
	}
	crypto_generichash_update(&b->hash, b->buf, n);
	b->got += n;
	return 0;
}

int mig_base_recv_finish(struct mig_base_recv *b, const uint8_t *p, size_t len,
			 const uint8_t want[OVERLAY_HASH_BYTES], char *err, size_t errlen)
{
	struct state_reader r;
	uint8_t have[OVERLAY_HASH_BYTES];
	char hex[2 * OVERLAY_HASH_BYTES + 1];
	sr_init(&r, p, len);
	uint64_t size = sr_u64(&r);
	if (sr_failed(&r) || sr_remaining(&r) || size != b->got) {
		snprintf(err, errlen, "BASE_END: %llu bytes announced, %llu came",
			 (unsigned long long)size, (unsigned long long)b->got);
		return -1;
	}
	crypto_generichash_final(&b->hash, have, sizeof(have));
	if (sodium_memcmp(have, want, sizeof(have))) {
		overlay_hash_hex(have, hex);
		snprintf(err, errlen, "the base image sent hashes to %.16s..., not to the VM's base: "
				      "refused", hex);
		return -1;
	}
	if (fsync(b->fd) || close(b->fd)) {
		snprintf(err, errlen, "%s: %s", b->tmp, strerror(errno));
		b->fd = -1;
		return -1;
	}
	b->fd = -1;
	/* link, not rename: a base someone put there meanwhile is kept. */
	if (link(b->tmp, b->path)) {
		snprintf(err, errlen, "%s: %s", b->path, strerror(errno));
		return -1;
	}
	unlink(b->tmp);
	b->tmp[0] = '\0';
	return 0;
}

void mig_base_recv_free(struct mig_base_recv *b)
{
	if (!b)
		return;
	if (b->fd >= 0)
		close(b->fd);
	if (b->tmp[0])
		unlink(b->tmp);
	free(b->buf);
	free(b);
}

/* ---- the source ---- */

struct mig_base_send {
	int fd;
	uint64_t size, sent;
	uint8_t *buf;
};

struct mig_base_send *mig_base_send_start(const char *path, char *err, size_t errlen)
{
	struct mig_base_send *b = calloc(1, sizeof(*b));
	struct stat st;
	if (!b || !(b->buf = malloc(BASE_CHUNK))) {
		free(b);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (b->fd < 0 || fstat(b->fd, &st)) {
		snprintf(err, errlen, "the destination lacks the base image, and %s: %s", path,
			 strerror(errno));
		mig_base_send_free(b);
		return NULL;
	}
	b->size = (uint64_t)st.st_size;
	return b;
}

int mig_base_send_chunk(struct mig_base_send *b, struct mig_channel *ch, struct state_writer *w,
			char *err, size_t errlen)
{
	if (b->sent >= b->size) {
		sw_reset(w);
		sw_put_u64(w, b->size);
		if (chan_send(ch, MIG_BASE_END, w->buf, w->len, false)) {
			snprintf(err, errlen, "%s", ch->err);
			return -1;
		}
		return 1;
	}
	size_t n = b->size - b->sent < BASE_CHUNK ? (size_t)(b->size - b->sent) : BASE_CHUNK;
	ssize_t got = pread(b->fd, b->buf, n, (off_t)b->sent);
	if (got != (ssize_t)n) {
		snprintf(err, errlen, "reading the base image at %llu: %s",
			 (unsigned long long)b->sent, got < 0 ? strerror(errno) : "it shrank");
		return -1;
	}
	sw_reset(w);
	if (mig_disk_encode(w, b->sent, b->buf, n, err, errlen))
		return -1;
	if (chan_send(ch, MIG_BASE, w->buf, w->len, false)) {
		snprintf(err, errlen, "%s", ch->err);
		return -1;
	}
	b->sent += n;
	return 0;
}

uint64_t mig_base_send_bytes(const struct mig_base_send *b)
{
	return b ? b->sent : 0;
}

void mig_base_send_free(struct mig_base_send *b)
{
	if (!b)
		return;
	if (b->fd >= 0)
		close(b->fd);
	free(b->buf);
	free(b);
}
