/* Typed, length-prefixed sections over a byte buffer (see state_io.h). */
#include "lib/state_io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *state_tag_name(uint32_t tag, char buf[5])
{
	for (int i = 0; i < 4; i++) {
		uint8_t c = (uint8_t)(tag >> (8 * i));
		buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[4] = '\0';
	return buf;
}

/* --- writer ------------------------------------------------------------- */

void sw_init(struct state_writer *w)
{
	memset(w, 0, sizeof(*w));
	w->section_start = SIZE_MAX;
}

void sw_free(struct state_writer *w)
{
	free(w->buf);
	sw_init(w);
}

void sw_reset(struct state_writer *w)
{
	w->len = 0;
	w->section_start = SIZE_MAX;
}

uint8_t *sw_reserve(struct state_writer *w, size_t n)
{
	if (w->oom)
		return NULL;
	/* No buffer yet even for n == 0: the pointer returned is buf + len,
	 * and NULL + 0 is undefined (an empty AHEAD message first, found by
	 * fuzz_migrate under UBSan). */
	if (n > w->cap - w->len || !w->buf) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap - w->len < n) {
			if (cap > SIZE_MAX / 2) {
				w->oom = true;
				return NULL;
			}
			cap *= 2;
		}
		uint8_t *nb = realloc(w->buf, cap);
		if (!nb) {
			w->oom = true;
			return NULL;
		}
		w->buf = nb;
		w->cap = cap;
	}
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void sw_put_le(struct state_writer *w, uint64_t v, unsigned n)
{
	uint8_t *p = sw_reserve(w, n);
	if (p)
		put_le(p, v, n);
}

void sw_put_u8(struct state_writer *w, uint8_t v) { sw_put_le(w, v, 1); }
void sw_put_u16(struct state_writer *w, uint16_t v) { sw_put_le(w, v, 2); }
void sw_put_u32(struct state_writer *w, uint32_t v) { sw_put_le(w, v, 4); }
void sw_put_u64(struct state_writer *w, uint64_t v) { sw_put_le(w, v, 8); }

void sw_put_bytes(struct state_writer *w, const void *src, size_t n)
{
	uint8_t *p = sw_reserve(w, n);
	if (p && n)
		memcpy(p, src, n);
}

void sw_file_header(struct state_writer *w, uint32_t version, uint32_t flags)
{
	sw_put_bytes(w, STATE_MAGIC, STATE_MAGIC_LEN);
	sw_put_u32(w, version);
	sw_put_u32(w, flags);
}

void sw_begin_section(struct state_writer *w, uint32_t tag, uint32_t version, uint32_t flags)
{
	if (w->section_start != SIZE_MAX)
		abort(); /* keel bug: sections do not nest */
	w->section_start = w->len;
	sw_put_u32(w, tag);
	sw_put_u32(w, version);
	sw_put_u32(w, flags);
	sw_put_u64(w, 0); /* patched by sw_end_section */
}

void sw_end_section(struct state_writer *w)
{
	if (w->section_start == SIZE_MAX)
		abort(); /* keel bug: no open section */
	if (!w->oom) {
		size_t body = w->section_start + STATE_SECTION_HEADER_LEN;
		put_le(w->buf + body - 8, w->len - body, 8);
	}
	w->section_start = SIZE_MAX;
}

int sw_flush(struct state_writer *w, FILE *out, char *err, size_t errlen)
{
	if (w->oom) {
		snprintf(err, errlen, "snapshot: out of memory while encoding");
		return -1;
	}
	if (w->len && fwrite(w->buf, 1, w->len, out) != w->len) {
		snprintf(err, errlen, "snapshot: write failed: %s", strerror(errno));
		return -1;
	}
	w->len = 0;
	return 0;
}

/* --- reader ------------------------------------------------------------- */

void sr_init(struct state_reader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->pos = 0;
	r->err[0] = '\0';
}

bool sr_failed(const struct state_reader *r)
{
	return r->err[0] != '\0';
}

int sr_fail(struct state_reader *r, const char *fmt, ...)
{
	if (!sr_failed(r)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->err, sizeof(r->err), fmt, ap);
		va_end(ap);
		if (!r->err[0])
			snprintf(r->err, sizeof(r->err), "error");
	}
	return -1;
}

size_t sr_remaining(const struct state_reader *r)
{
	return r->len - r->pos;
}

const uint8_t *sr_take(struct state_reader *r, size_t n)
{
	if (sr_failed(r))
		return NULL;
	if (n > sr_remaining(r)) {
		sr_fail(r, "truncated: need %zu bytes at offset %zu, %zu left", n, r->pos,
			sr_remaining(r));
		return NULL;
	}
	const uint8_t *p = r->p + r->pos;
	r->pos += n;
	return p;
}

static uint64_t sr_le(struct state_reader *r, unsigned n)
{
	const uint8_t *p = sr_take(r, n);
	uint64_t v = 0;
	if (!p)
		return 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint8_t sr_u8(struct state_reader *r) { return (uint8_t)sr_le(r, 1); }
uint16_t sr_u16(struct state_reader *r) { return (uint16_t)sr_le(r, 2); }
uint32_t sr_u32(struct state_reader *r) { return (uint32_t)sr_le(r, 4); }
uint64_t sr_u64(struct state_reader *r) { return sr_le(r, 8); }

bool sr_bool(struct state_reader *r)
{
	uint8_t v = sr_u8(r);
	if (v > 1)
		sr_fail(r, "boolean field at offset %zu holds %u", r->pos - 1, v);
	return v == 1;
}

int sr_bytes(struct state_reader *r, void *dst, size_t n)
{
	const uint8_t *p = sr_take(r, n);
	if (!p) {
		memset(dst, 0, n);
		return -1;
	}
	memcpy(dst, p, n);
	return 0;
}

int sr_file_header(struct state_reader *r, uint32_t *version, uint32_t *flags)
{
	if (sr_remaining(r) < STATE_FILE_HEADER_LEN)
		return sr_fail(r, "not a keel snapshot (%zu bytes, shorter than the header)",
			       sr_remaining(r));
	const uint8_t *magic = sr_take(r, STATE_MAGIC_LEN);
	if (memcmp(magic, STATE_MAGIC, STATE_MAGIC_LEN))
		return sr_fail(r, "not a keel snapshot (bad magic)");
	*version = sr_u32(r);
	*flags = sr_u32(r);
	return sr_failed(r) ? -1 : 0;
}

int sr_next_section(struct state_reader *r, struct state_section *s)
{
	if (sr_failed(r))
		return -1;
	if (sr_remaining(r) == 0)
		return 0;
	size_t at = r->pos;
	if (sr_remaining(r) < STATE_SECTION_HEADER_LEN)
		return sr_fail(r, "truncated section header at offset %zu", at);
	s->tag = sr_u32(r);
	s->version = sr_u32(r);
	s->flags = sr_u32(r);
	uint64_t len = sr_u64(r);
	if (len > sr_remaining(r)) {
		char name[5];
		return sr_fail(r,
			       "section '%s' at offset %zu claims %llu bytes but only %zu remain "
			       "(truncated or corrupt)",
			       state_tag_name(s->tag, name), at, (unsigned long long)len,
			       sr_remaining(r));
	}
	sr_init(&s->body, r->p + r->pos, (size_t)len);
	r->pos += (size_t)len;
	return 1;
}

int sr_end_section(struct state_section *s)
{
	char name[5];
	if (sr_failed(&s->body))
		return -1;
	if (sr_remaining(&s->body))
		return sr_fail(&s->body, "section '%s': %zu unexpected trailing bytes",
			       state_tag_name(s->tag, name), sr_remaining(&s->body));
	return 0;
}

int state_read_file(FILE *in, size_t max, uint8_t **bufp, size_t *lenp, char *err, size_t errlen)
{
	size_t cap = 1 << 16, len = 0;
	uint8_t *buf = malloc(cap);
	if (!buf)
		goto oom;
	for (;;) {
		if (len == cap) {
			if (cap >= max) {
				free(buf);
				snprintf(err, errlen, "snapshot larger than %zu bytes", max);
				return -1;
			}
			size_t ncap = cap * 2 < max ? cap * 2 : max;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb)
				goto oom;
			buf = nb;
			cap = ncap;
		}
		size_t n = fread(buf + len, 1, cap - len, in);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(in)) {
		free(buf);
		snprintf(err, errlen, "snapshot: read failed: %s", strerror(errno));
		return -1;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
oom:
	free(buf);
	snprintf(err, errlen, "snapshot: out of memory while reading");
	return -1;
}
