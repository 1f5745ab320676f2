/* The secure-log writer (log_writer.h, docs/log-format.md). */
#include "svc/log/log_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "svc/log/log_format.h"
#include "svc/log/log_keys.h"

/* Records gather in a block of about this size before it is compressed. */
#define BLOCK_TARGET_BYTES (64u << 10)
#define ZSTD_LEVEL 3

/* Secret material, in sodium_malloc'ed memory (guard pages, wiped on free). */
struct writer_secrets {
	uint8_t key[LOG_KEY_BYTES]; /* key_epoch */
	uint8_t sign_sk[LOG_SIGN_SECRET_BYTES];
};

struct log_writer {
	char dir[PATH_MAX];
	char *seal_key_path; /* NULL: the key lives only in memory */
	struct writer_secrets *secrets;
	bool signing;
	uint64_t epoch; /* of the next seal */
	uint64_t seal_interval_ms, seal_bytes, segment_bytes;

	int seg_fd;
	uint32_t seg_index;
	uint64_t seg_bytes;

	uint64_t seq; /* of the next entry */
	uint8_t prev[LOG_HASH_BYTES];
	uint64_t records, log_bytes, last_icount;

	/* The block being filled. */
	uint8_t *block;
	size_t block_len, block_cap;
	uint32_t block_records;
	uint64_t block_first_icount, block_last_icount; /* min and max */
	/* Compression output, with room for the entry header in front. */
	uint8_t *out;
	size_t out_cap;
	ZSTD_CCtx *cctx;

	uint64_t seq_at_seal, bytes_at_seal, last_seal_ms, seals;
	bool failed;
	char error[512];
	char warning[PATH_MAX + 512];
};

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int fail(struct log_writer *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->error, sizeof(w->error), fmt, ap);
	va_end(ap);
	w->failed = true;
	return -1;
}

/* Start segment `index`.  The previous one is synced and closed first: a
 * power loss may then tear only the last segment, which verify reads as
 * a torn tail rather than as a log cut in the middle. */
static int open_segment(struct log_writer *w, uint32_t index)
{
	if (w->seg_fd >= 0) {
		int rc = fsync(w->seg_fd);
		rc |= close(w->seg_fd);
		w->seg_fd = -1;
		if (rc)
			return fail(w, "%s: syncing the previous segment: %s", w->dir,
				    strerror(errno));
	}
	char name[LOG_SEG_NAME_MAX], path[PATH_MAX + LOG_SEG_NAME_MAX];
	log_segment_name(name, index);
	snprintf(path, sizeof(path), "%s/%s", w->dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(w, "%s: %s", path, strerror(errno));
	uint8_t header[LOG_SEG_HEADER_BYTES];
	log_segment_header_encode(header, index, w->seq, now_ns(CLOCK_REALTIME));
	if (log_write_all(fd, header, sizeof(header)) || log_sync_dir(w->dir)) {
		int saved = errno;
		close(fd);
		return fail(w, "%s: %s", path, strerror(saved));
	}
	w->seg_fd = fd;
	w->seg_index = index;
	w->seg_bytes = LOG_SEG_HEADER_BYTES;
	return 0;
}

/* Append one complete entry to the current segment (starting a new one
 * first when this one is full) and advance the chain. */
static int write_entry(struct log_writer *w, const uint8_t *entry, size_t len)
{
	if (w->seg_bytes >= w->segment_bytes && open_segment(w, w->seg_index + 1))
		return -1;
	if (log_write_all(w->seg_fd, entry, len))
		return fail(w, "%s: writing the log: %s", w->dir, strerror(errno));
	log_chain_hash(w->prev, entry, entry + LOG_ENTRY_HEADER_BYTES, len - LOG_ENTRY_HEADER_BYTES);
	w->seq++;
	w->seg_bytes += len;
	w->log_bytes += len;
	return 0;
}

int log_writer_flush(struct log_writer *w)
{
	if (w->failed)
		return -1;
	if (w->block_records == 0)
		return 0;
	size_t bound = LOG_ENTRY_HEADER_BYTES + ZSTD_compressBound(w->block_len);
	if (bound > w->out_cap) {
		uint8_t *p = realloc(w->out, bound);
		if (!p)
			return fail(w, "%s: out of memory", w->dir);
		w->out = p;
		w->out_cap = bound;
	}
	size_t zlen = ZSTD_compress2(w->cctx, w->out + LOG_ENTRY_HEADER_BYTES,
				     w->out_cap - LOG_ENTRY_HEADER_BYTES, w->block, w->block_len);
	if (ZSTD_isError(zlen))
		return fail(w, "%s: compressing a block: %s", w->dir, ZSTD_getErrorName(zlen));
	struct log_entry_header h = {
		.kind = LOG_ENTRY_BLOCK,
		.seq = w->seq,
		.wall_ns = now_ns(CLOCK_REALTIME),
		.body_len = (uint32_t)zlen,
		.raw_len = (uint32_t)w->block_len,
		.record_count = w->block_records,
		.first_record = w->records - w->block_records,
		.first_icount = w->block_first_icount,
		.last_icount = w->block_last_icount,
	};
	memcpy(h.prev, w->prev, LOG_HASH_BYTES);
	log_entry_header_encode(w->out, &h);
	if (write_entry(w, w->out, LOG_ENTRY_HEADER_BYTES + zlen))
		return -1;
	w->block_len = 0;
	w->block_records = 0;
	return 0;
}

static bool unsealed_work(const struct log_writer *w)
{
	return w->block_records || w->seq != w->seq_at_seal;
}

/* Flush, then seal: MAC with key_epoch, ratchet the key (on disk first),
 * write the seal and fsync. */
static int seal(struct log_writer *w, uint16_t flags)
{
	if (log_writer_flush(w))
		return -1;
	uint8_t entry[LOG_ENTRY_HEADER_BYTES + LOG_SEAL_BODY_BYTES];
	const struct log_seal_body values = {
		.epoch = w->epoch,
		.records = w->records,
		.log_bytes = w->log_bytes,
		.icount = w->last_icount,
	};
	log_seal_build(entry, w->seq, w->prev, now_ns(CLOCK_REALTIME), flags, &values,
		       w->secrets->key, w->signing ? w->secrets->sign_sk : NULL);
	log_key_ratchet(w->secrets->key);
	char why[512];
	if (w->seal_key_path &&
	    log_seal_key_store(w->seal_key_path, w->epoch + 1, w->secrets->key, why, sizeof(why)))
		return fail(w, "%s", why);
	if (write_entry(w, entry, sizeof(entry)))
		return -1;
	if (fsync(w->seg_fd))
		return fail(w, "%s: fsync: %s", w->dir, strerror(errno));
	w->epoch++;
	w->seals++;
	w->seq_at_seal = w->seq;
	w->bytes_at_seal = w->log_bytes;
	w->last_seal_ms = now_ns(CLOCK_MONOTONIC) / 1000000u;
	return 0;
}

int log_writer_seal(struct log_writer *w)
{
	if (w->failed)
		return -1;
	return unsealed_work(w) ? seal(w, 0) : 0;
}

int log_writer_tick(struct log_writer *w)
{
	if (w->failed)
		return -1;
	if (!unsealed_work(w))
		return 0;
	uint64_t now_ms = now_ns(CLOCK_MONOTONIC) / 1000000u;
	bool due_time = w->seal_interval_ms != LOG_NEVER &&
			now_ms - w->last_seal_ms >= w->seal_interval_ms;
	bool due_bytes = w->seal_bytes != LOG_NEVER &&
			 w->log_bytes + w->block_len - w->bytes_at_seal >= w->seal_bytes;
	return due_time || due_bytes ? seal(w, 0) : 0;
}

static int block_reserve(struct log_writer *w, size_t need)
{
	if (w->block_len + need <= w->block_cap)
		return 0;
	size_t cap = w->block_cap ? w->block_cap : BLOCK_TARGET_BYTES + 4096;
	while (cap < w->block_len + need)
		cap *= 2;
	uint8_t *p = realloc(w->block, cap);
	if (!p)
		return fail(w, "%s: out of memory", w->dir);
	w->block = p;
	w->block_cap = cap;
	return 0;
}

int log_writer_append(struct log_writer *w, uint64_t icount, uint16_t type, const void *payload,
		      uint32_t len)
{
	if (w->failed)
		return -1;
	if (len > LOG_MAX_PAYLOAD) {
		/* The caller's mistake, not the log's: the writer stays usable. */
		snprintf(w->error, sizeof(w->error), "a %u-byte record is larger than the log's "
			 "limit of %u bytes", len, LOG_MAX_PAYLOAD);
		return -1;
	}
	size_t need = LOG_RECORD_HEADER_BYTES + len;
	if (w->block_records && w->block_len + need > BLOCK_TARGET_BYTES && log_writer_flush(w))
		return -1;
	if (block_reserve(w, need))
		return -1;
	uint8_t *p = w->block + w->block_len;
	log_put_le(p, icount, 8);
	log_put_le(p + 8, type, 2);
	log_put_le(p + 10, len, 4);
	if (len)
		memcpy(p + LOG_RECORD_HEADER_BYTES, payload, len);
	w->block_len += need;
	/* The header's icount range must hold every record, whatever order
	 * the caller used. */
	if (w->block_records++ == 0 || icount < w->block_first_icount)
		w->block_first_icount = icount;
	if (w->block_records == 1 || icount > w->block_last_icount)
		w->block_last_icount = icount;
	w->last_icount = icount;
	w->records++;
	return log_writer_tick(w);
}

static bool snapshot_name_ok(struct log_writer *w, const char *name, size_t len)
{
	if (log_snapshot_name_ok(name, len))
		return true;
	snprintf(w->error, sizeof(w->error), "%s: a snapshot name must be relative to the "
		 "log directory, printable, without '.' or '..'", name);
	return false;
}

int log_writer_add_snapshot(struct log_writer *w, uint64_t icount, const char *name_in_dir)
{
	size_t len = strlen(name_in_dir);
	if (w->failed || !snapshot_name_ok(w, name_in_dir, len))
		return -1;
	uint8_t hash[LOG_SNAPSHOT_HASH_BYTES];
	char why[512];
	if (log_hash_file(w->dir, name_in_dir, len, hash, why, sizeof(why))) {
		snprintf(w->error, sizeof(w->error), "%s", why);
		return -1;
	}
	return log_writer_add_snapshot_hashed(w, icount, name_in_dir, hash);
}

int log_writer_add_snapshot_hashed(struct log_writer *w, uint64_t icount, const char *name_in_dir,
				   const uint8_t hash[LOG_SNAPSHOT_HASH_BYTES])
{
	size_t len = strlen(name_in_dir);
	if (w->failed || !snapshot_name_ok(w, name_in_dir, len))
		return -1;
	uint8_t payload[LOG_SNAPSHOT_HASH_BYTES + 256];
	memcpy(payload, hash, LOG_SNAPSHOT_HASH_BYTES);
	memcpy(payload + LOG_SNAPSHOT_HASH_BYTES, name_in_dir, len);
	return log_writer_append(w, icount, LOG_REC_SNAPSHOT, payload,
				 (uint32_t)(LOG_SNAPSHOT_HASH_BYTES + len));
}

static int load_or_make_key(struct log_writer *w, const struct log_writer_options *o)
{
	char why[512];
	if (o->seal_key_path) {
		if (log_seal_key_load(o->seal_key_path, &w->epoch, w->secrets->key, why, sizeof(why)))
			return fail(w, "%s", why);
		if (w->epoch != 0)
			return fail(w, "%s: this seal key is at epoch %llu, so it has sealed another "
				    "log already; make a new one with 'keel log keygen'",
				    o->seal_key_path, (unsigned long long)w->epoch);
		w->seal_key_path = strdup(o->seal_key_path);
		return w->seal_key_path ? 0 : fail(w, "out of memory");
	}
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/%s", w->dir, LOG_DIR_VERIFY_KEY);
	randombytes_buf(w->secrets->key, LOG_KEY_BYTES);
	if (log_verify_key_create(path, w->secrets->key, why, sizeof(why)))
		return fail(w, "%s", why);
	snprintf(w->warning, sizeof(w->warning),
		 "no seal key given: the log's verification key is %s; the log is tamper-evident "
		 "only once that file is moved offline (use 'keel log keygen' to avoid this)", path);
	return 0;
}

static int load_sign_key(struct log_writer *w, const char *path)
{
	char why[512];
	if (!path)
		return 0;
	if (log_sign_key_load(path, w->secrets->sign_sk, why, sizeof(why)))
		return fail(w, "%s", why);
	w->signing = true;
	return 0;
}

/* DIR exists (made here if need be) and holds no log yet. */
static int prepare_dir(struct log_writer *w, const char *dir)
{
	if (strlen(dir) >= sizeof(w->dir))
		return fail(w, "%s: path too long", dir);
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return fail(w, "%s: %s", dir, strerror(errno));
	char path[PATH_MAX + LOG_SEG_NAME_MAX], name[LOG_SEG_NAME_MAX];
	log_segment_name(name, 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (access(path, F_OK) == 0)
		return fail(w, "%s: already holds a log; record into a new directory", dir);
	return 0;
}

static int writer_setup(struct log_writer *w, const struct log_writer_options *o)
{
	if (sodium_init() < 0)
		return fail(w, "libsodium could not be initialised");
	w->secrets = sodium_malloc(sizeof(*w->secrets));
	w->cctx = ZSTD_createCCtx();
	if (!w->secrets || !w->cctx)
		return fail(w, "out of memory");
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
	/* A flipped bit in a block is then reported at that block. */
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
	w->seal_interval_ms = o->seal_interval_ms ? o->seal_interval_ms : LOG_DEFAULT_SEAL_INTERVAL_MS;
	w->seal_bytes = o->seal_bytes ? o->seal_bytes : LOG_DEFAULT_SEAL_BYTES;
	w->segment_bytes = o->segment_bytes ? o->segment_bytes : LOG_DEFAULT_SEGMENT_BYTES;
	w->last_seal_ms = now_ns(CLOCK_MONOTONIC) / 1000000u;
	if (!o->dir)
		return fail(w, "no log directory given");
	if (prepare_dir(w, o->dir) || load_or_make_key(w, o) || load_sign_key(w, o->sign_key_path))
		return -1;
	return open_segment(w, 0);
}

int log_writer_open(struct log_writer **out, const struct log_writer_options *o, char *err,
		    size_t errlen)
{
	*out = NULL;
	struct log_writer *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	w->seg_fd = -1;
	if (writer_setup(w, o)) {
		snprintf(err, errlen, "%s", w->error);
		log_writer_free(w);
		return -1;
	}
	*out = w;
	return 0;
}

const char *log_writer_warning(const struct log_writer *w)
{
	return w->warning[0] ? w->warning : NULL;
}

const char *log_writer_error(const struct log_writer *w)
{
	return w->error;
}

uint64_t log_writer_records(const struct log_writer *w)
{
	return w->records;
}

uint64_t log_writer_seals(const struct log_writer *w)
{
	return w->seals;
}

int log_writer_close(struct log_writer *w, char *err, size_t errlen)
{
	int rc = w->failed ? -1 : seal(w, LOG_SEAL_CLOSE);
	if (rc == 0 && close(w->seg_fd)) {
		fail(w, "%s: %s", w->dir, strerror(errno));
		rc = -1;
	}
	w->seg_fd = -1;
	if (rc)
		snprintf(err, errlen, "%s", w->error);
	log_writer_free(w);
	return rc;
}

void log_writer_free(struct log_writer *w)
{
	if (!w)
		return;
	if (w->seg_fd >= 0)
		close(w->seg_fd);
	sodium_free(w->secrets); /* wipes */
	ZSTD_freeCCtx(w->cctx);
	if (w->block)
		sodium_memzero(w->block, w->block_cap);
	free(w->block);
	free(w->out);
	free(w->seal_key_path);
	free(w);
}
