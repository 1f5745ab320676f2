/* Walking a log directory's entries in chain order (log_walk.h).
 *
 * Everything here is read from files an attacker may have edited: every
 * length is bounded before it is used, and every inconsistency becomes a
 * LOG_WALK_BAD with the position and a reason, never a crash. */
#include "svc/log/log_walk.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* seg-NNNNNN.klog exactly; its number goes to *index. */
static bool segment_index(const char *name, uint32_t *index)
{
	if (strlen(name) != 15 || strncmp(name, "seg-", 4) || strcmp(name + 10, ".klog"))
		return false;
	uint32_t v = 0;
	for (int i = 4; i < 10; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(name[i] - '0');
	}
	*index = v;
	return true;
}

static int find_last_segment(struct log_walk *w, char *err, size_t errlen)
{
	DIR *d = opendir(w->dir);
	if (!d) {
		snprintf(err, errlen, "%s: %s", w->dir, strerror(errno));
		return -1;
	}
	bool any = false;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		uint32_t index;
		if (segment_index(e->d_name, &index) && (!any || index > w->last_segment)) {
			w->last_segment = index;
			any = true;
		}
	}
	closedir(d);
	if (!any) {
		snprintf(err, errlen, "%s: no log here (no seg-000000.klog)", w->dir);
		return -1;
	}
	return 0;
}

static void set_pos(const struct log_walk *w, struct log_position *p, uint64_t offset)
{
	log_segment_name(p->segment, w->seg);
	p->offset = offset;
	p->entry = w->next_seq;
	p->record = w->records;
	p->icount = w->icount;
}

/* Stop at the current read position with `result` and a reason. */
static int stop(struct log_walk *w, int result, const char *fmt, ...)
{
	set_pos(w, &w->bad, w->off);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->reason, sizeof(w->reason), fmt, ap);
	va_end(ap);
	return result;
}

/* A short read at the end of the last segment is a crash's torn tail;
 * anywhere else the log was cut. */
static int short_read(struct log_walk *w, const char *what)
{
	if (w->seg == w->last_segment)
		return stop(w, LOG_WALK_TORN, "the last segment ends inside %s (a crash while "
			    "writing, or truncation)", what);
	return stop(w, LOG_WALK_BAD, "the segment ends inside %s, and later segments follow",
		    what);
}

static int open_segment(struct log_walk *w, uint32_t index)
{
	char name[LOG_SEG_NAME_MAX], path[sizeof(w->dir) + LOG_SEG_NAME_MAX];
	log_segment_name(name, index);
	snprintf(path, sizeof(path), "%s/%s", w->dir, name);
	if (w->f)
		fclose(w->f);
	w->seg = index;
	w->off = 0;
	w->f = fopen(path, "rb");
	if (!w->f)
		return stop(w, LOG_WALK_BAD, "%s: %s (segments missing)", name, strerror(errno));
	uint8_t h[LOG_SEG_HEADER_BYTES];
	if (fread(h, 1, sizeof(h), w->f) != sizeof(h))
		return short_read(w, "its segment header");
	if (memcmp(h, LOG_SEG_MAGIC, 8) || log_get_le(h + 8, 4) != LOG_VERSION)
		return stop(w, LOG_WALK_BAD, "%s is no keel log segment of version %u", name,
			    LOG_VERSION);
	if (log_get_le(h + 12, 4) != index || log_get_le(h + 16, 8) != w->next_seq)
		return stop(w, LOG_WALK_BAD, "%s's header says segment %u starting at entry %llu; "
			    "expected segment %u at entry %llu", name, (unsigned)log_get_le(h + 12, 4),
			    (unsigned long long)log_get_le(h + 16, 8), index,
			    (unsigned long long)w->next_seq);
	if (index == 0)
		w->created_ns = log_get_le(h + 24, 8);
	w->off = LOG_SEG_HEADER_BYTES;
	return LOG_WALK_ENTRY;
}

int log_walk_open(struct log_walk *w, const char *dir, char *err, size_t errlen)
{
	*w = (struct log_walk){0};
	if (strlen(dir) >= sizeof(w->dir)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	if (find_last_segment(w, err, errlen))
		return -1;
	w->dctx = ZSTD_createDCtx();
	if (!w->dctx) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void log_walk_close(struct log_walk *w)
{
	if (w->f)
		fclose(w->f);
	ZSTD_freeDCtx(w->dctx);
	free(w->buf);
	free(w->raw);
	*w = (struct log_walk){0};
}

static int grow(uint8_t **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	uint8_t *n = realloc(*p, need);
	if (!n)
		return -1;
	*p = n;
	*cap = need;
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* A power loss can leave a zero-filled tail; it is a torn tail too. */
static bool rest_is_zero(FILE *f)
{
	uint8_t buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (!all_zero(buf, n))
			return false;
	return true;
}

/* Read the next entry's header into w->buf.  LOG_WALK_ENTRY, END or a stop. */
static int read_header(struct log_walk *w)
{
	for (;;) {
		size_t n = fread(w->buf, 1, LOG_ENTRY_HEADER_BYTES, w->f);
		if (n == LOG_ENTRY_HEADER_BYTES)
			return LOG_WALK_ENTRY;
		if (n != 0)
			return all_zero(w->buf, n) && w->seg == w->last_segment
				       ? stop(w, LOG_WALK_TORN, "zero-filled tail (a power loss?)")
				       : short_read(w, "an entry header");
		if (w->seg == w->last_segment)
			return LOG_WALK_END;
		int rc = open_segment(w, w->seg + 1);
		if (rc != LOG_WALK_ENTRY)
			return rc;
	}
}

/* Check the header just read against the chain. */
static int check_header(struct log_walk *w)
{
	char why[256];
	if (all_zero(w->buf, LOG_ENTRY_HEADER_BYTES) && w->seg == w->last_segment &&
	    rest_is_zero(w->f))
		return stop(w, LOG_WALK_TORN, "zero-filled tail (a power loss?)");
	if (log_entry_header_decode(w->buf, &w->h, why, sizeof(why)))
		return stop(w, LOG_WALK_BAD, "%s", why);
	if (w->h.seq != w->next_seq)
		return stop(w, LOG_WALK_BAD, "entry %llu found where entry %llu belongs (%s)",
			    (unsigned long long)w->h.seq, (unsigned long long)w->next_seq,
			    w->h.seq > w->next_seq
				    ? "entries deleted or reordered"
				    : "entries reordered or repeated, or a new chain spliced in");
	if (memcmp(w->h.prev, w->prev, LOG_HASH_BYTES) != 0) {
		w->chain_break = true;
		return stop(w, LOG_WALK_BAD, "the hash chain breaks: entry %llu does not match "
			    "the hash entry %llu records of it (altered or replaced)",
			    (unsigned long long)w->next_seq - 1, (unsigned long long)w->next_seq);
	}
	if (w->h.kind == LOG_ENTRY_BLOCK && w->h.first_record != w->records)
		return stop(w, LOG_WALK_BAD, "block claims to start at record %llu; %llu records "
			    "precede it", (unsigned long long)w->h.first_record,
			    (unsigned long long)w->records);
	return LOG_WALK_ENTRY;
}

/* Decompress the current block and check each record against its header. */
static int check_block(struct log_walk *w)
{
	if (grow(&w->raw, &w->raw_cap, w->h.raw_len ? w->h.raw_len : 1))
		return stop(w, LOG_WALK_BAD, "out of memory for a %u-byte block", w->h.raw_len);
	size_t n = ZSTD_decompressDCtx(w->dctx, w->raw, w->h.raw_len, w->body, w->h.body_len);
	if (ZSTD_isError(n) || n != w->h.raw_len)
		return stop(w, LOG_WALK_BAD, "block does not decompress to its %u bytes (%s)",
			    w->h.raw_len, ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong length");
	size_t at = 0;
	uint64_t last = 0;
	for (uint32_t i = 0; i < w->h.record_count; i++) {
		if (w->h.raw_len - at < LOG_RECORD_HEADER_BYTES)
			return stop(w, LOG_WALK_BAD, "block's record %u is cut off", i);
		uint64_t icount = log_get_le(w->raw + at, 8);
		uint32_t len = (uint32_t)log_get_le(w->raw + at + 10, 4);
		at += LOG_RECORD_HEADER_BYTES;
		if (len > LOG_MAX_PAYLOAD || len > w->h.raw_len - at)
			return stop(w, LOG_WALK_BAD, "block's record %u has an impossible length", i);
		if (icount < w->h.first_icount || icount > w->h.last_icount)
			return stop(w, LOG_WALK_BAD, "block's record %u is outside the block's "
				    "icount range", i);
		at += len;
		last = icount;
	}
	if (at != w->h.raw_len)
		return stop(w, LOG_WALK_BAD, "block has bytes after its %u records",
			    w->h.record_count);
	w->records += w->h.record_count;
	w->icount = last;
	return LOG_WALK_ENTRY;
}

int log_walk_next(struct log_walk *w)
{
	if (!w->f) {
		int rc = open_segment(w, 0);
		if (rc != LOG_WALK_ENTRY)
			return rc;
	}
	if (grow(&w->buf, &w->cap, LOG_ENTRY_HEADER_BYTES + LOG_SEAL_BODY_BYTES))
		return stop(w, LOG_WALK_BAD, "out of memory");
	int rc = read_header(w);
	if (rc == LOG_WALK_ENTRY)
		rc = check_header(w);
	if (rc != LOG_WALK_ENTRY)
		return rc;
	struct log_position here;
	set_pos(w, &here, w->off);
	if (grow(&w->buf, &w->cap, LOG_ENTRY_HEADER_BYTES + (size_t)w->h.body_len))
		return stop(w, LOG_WALK_BAD, "out of memory for a %u-byte entry", w->h.body_len);
	w->header = w->buf;
	w->body = w->buf + LOG_ENTRY_HEADER_BYTES;
	if (fread(w->buf + LOG_ENTRY_HEADER_BYTES, 1, w->h.body_len, w->f) != w->h.body_len)
		return short_read(w, "an entry");
	if (w->h.kind == LOG_ENTRY_BLOCK && (rc = check_block(w)) != LOG_WALK_ENTRY)
		return rc;
	w->pos = here;
	if (w->h.kind == LOG_ENTRY_BLOCK)
		w->pos.icount = w->h.first_icount;
	log_chain_hash(w->prev, w->header, w->body, w->h.body_len);
	w->next_seq++;
	size_t len = LOG_ENTRY_HEADER_BYTES + w->h.body_len;
	w->off += len;
	w->log_bytes += len;
	return LOG_WALK_ENTRY;
}

int log_walk_record(const struct log_walk *w, size_t *cursor, struct log_record *rec)
{
	if (w->h.kind != LOG_ENTRY_BLOCK || *cursor >= w->h.raw_len)
		return 0;
	const uint8_t *p = w->raw + *cursor;
	rec->icount = log_get_le(p, 8);
	rec->type = (uint16_t)log_get_le(p + 8, 2);
	rec->len = (uint32_t)log_get_le(p + 10, 4);
	rec->payload = p + LOG_RECORD_HEADER_BYTES;
	rec->wall_ns = w->h.wall_ns;
	if (*cursor == 0)
		rec->pos = w->pos;
	else
		rec->pos.record++;
	rec->pos.icount = rec->icount;
	*cursor += LOG_RECORD_HEADER_BYTES + rec->len;
	return 1;
}
