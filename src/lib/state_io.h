/* Typed, length-prefixed sections over a byte buffer: the wire layer of
 * the snapshot format (docs/snapshot-format.md).
 *
 * Everything is encoded explicitly little-endian, field by field, so the
 * format does not depend on the host's byte order or on struct padding.
 *
 * The writer appends to a growable memory buffer; the caller moves the
 * bytes to a FILE (or a hash) when it likes.  The reader walks a buffer
 * that is untrusted: every length is checked against what remains, and
 * the first problem is remembered as an error string ("sticky error"), so
 * decoders can read a run of fields and check once at the end.
 *
 * Section codecs.  Each section of a snapshot is encoded and decoded
 * beside what it saves, as a pair X_save(const T *, struct state_writer *)
 * and X_load(T *, struct state_reader *) with an X_STATE_VERSION (e.g.
 * uart_save in dev/uart16550.c); vm/snapshot.c only puts them in order.
 * Save writes the fields in the order docs/snapshot-format.md lists them;
 * load reads them back and refuses values the owner cannot hold, with a
 * message naming the section.  Change the pair and the document together
 * and bump the version. */
#ifndef KEEL_LIB_STATE_IO_H
#define KEEL_LIB_STATE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define STATE_MAGIC "KEELSNAP"
#define STATE_MAGIC_LEN 8
#define STATE_FILE_HEADER_LEN 16 /* magic, u32 version, u32 flags */
#define STATE_SECTION_HEADER_LEN 20 /* u32 tag, u32 version, u32 flags, u64 length */

#define STATE_SECTION_OPTIONAL 1u /* flags bit 0: a reader may skip it if unknown */

/* A section tag is four ASCII characters, stored in file order. */
#define STATE_TAG(a, b, c, d)                                                            \
	((uint32_t)(uint8_t)(a) | (uint32_t)(uint8_t)(b) << 8 | (uint32_t)(uint8_t)(c) << 16 | \
	 (uint32_t)(uint8_t)(d) << 24)

/* "CPU " etc. for messages; `buf` must hold 5 bytes. */
const char *state_tag_name(uint32_t tag, char buf[5]);

struct state_writer {
	uint8_t *buf;
	size_t len, cap;
	bool oom; /* an allocation failed; everything after it was dropped */
	size_t section_start; /* offset of the open section's header, or SIZE_MAX */
};

void sw_init(struct state_writer *w);
void sw_free(struct state_writer *w);
/* Drop the contents, keep the allocation. */
void sw_reset(struct state_writer *w);

void sw_put_u8(struct state_writer *w, uint8_t v);
void sw_put_u16(struct state_writer *w, uint16_t v);
void sw_put_u32(struct state_writer *w, uint32_t v);
void sw_put_u64(struct state_writer *w, uint64_t v);
void sw_put_bytes(struct state_writer *w, const void *p, size_t n);
/* Reserve `n` bytes at the end and return them for the caller to fill
 * (NULL if out of memory).  Valid until the next put. */
uint8_t *sw_reserve(struct state_writer *w, size_t n);

void sw_file_header(struct state_writer *w, uint32_t version, uint32_t flags);
/* Open a section; its length is filled in by sw_end_section().  Sections
 * do not nest. */
void sw_begin_section(struct state_writer *w, uint32_t tag, uint32_t version, uint32_t flags);
void sw_end_section(struct state_writer *w);

/* Write the buffer out and empty it.  Returns 0, or -1 with a reason. */
int sw_flush(struct state_writer *w, FILE *out, char *err, size_t errlen);

struct state_reader {
	const uint8_t *p;
	size_t len, pos;
	char err[160]; /* first error, "" while none */
};

void sr_init(struct state_reader *r, const void *p, size_t len);
bool sr_failed(const struct state_reader *r);
/* Record an error (only the first one is kept).  Returns -1. */
int sr_fail(struct state_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t sr_remaining(const struct state_reader *r);

/* Each returns 0 (and records an error) when the input is short. */
uint8_t sr_u8(struct state_reader *r);
uint16_t sr_u16(struct state_reader *r);
uint32_t sr_u32(struct state_reader *r);
uint64_t sr_u64(struct state_reader *r);
bool sr_bool(struct state_reader *r); /* a u8 that must be 0 or 1 */
/* Copy `n` bytes out (zero-filled on error).  Returns 0 or -1. */
int sr_bytes(struct state_reader *r, void *dst, size_t n);
/* Point at the next `n` bytes and step over them (NULL on error). */
const uint8_t *sr_take(struct state_reader *r, size_t n);

/* Check the magic and return the format version and flags.  0 or -1. */
int sr_file_header(struct state_reader *r, uint32_t *version, uint32_t *flags);

struct state_section {
	uint32_t tag, version, flags;
	struct state_reader body; /* a reader over exactly the payload */
};

/* The next section: 1 with `s` filled, 0 at a clean end of input, -1 if
 * the header is truncated or its length runs past the input. */
int sr_next_section(struct state_reader *r, struct state_section *s);

/* A decoder finished with a section body: fails the body's reader if it
 * failed or if bytes are left over (a newer writer's extra fields must
 * come with a new section version, not be silently ignored). */
int sr_end_section(struct state_section *s);

/* Read a whole stream into memory (at most `max` bytes).  Returns 0 with
 * *buf (malloc'ed) and *len, or -1 with a reason. */
int state_read_file(FILE *in, size_t max, uint8_t **buf, size_t *len, char *err, size_t errlen);

#endif
