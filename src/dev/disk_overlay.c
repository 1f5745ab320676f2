/* The overlay file's bytes.  See disk_overlay.h and docs/disk-overlay.md,
 * which lists the same fields in the same order: change them together. */
#include "dev/disk_overlay.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev/base_hash_cache.h"

#define SCAN_CHUNK_RECORDS 64 /* records read per pread while scanning */

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* BLAKE2b-256 as RFC 7693 (libsodium's generichash, unkeyed), which needs
 * no sodium_init(). */
static void hash(uint8_t out[OVERLAY_HASH_BYTES], const uint8_t *a, size_t alen, const uint8_t *b,
		 size_t blen)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, OVERLAY_HASH_BYTES);
	crypto_generichash_update(&st, a, alen);
	if (blen)
		crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, out, OVERLAY_HASH_BYTES);
}

int overlay_header_encode(const struct overlay_header *h, uint8_t *out, char *err, size_t errlen)
{
	size_t given = strlen(h->base_given), abs = strlen(h->base_abs);
	if (given + abs > OVERLAY_PATHS_MAX) {
		snprintf(err, errlen, "%s: base path too long for the overlay header", h->base_abs);
		return -1;
	}
	memset(out, 0, OVERLAY_HEADER_BYTES);
	memcpy(out, OVERLAY_MAGIC, OVERLAY_MAGIC_BYTES);
	put_le(out + 8, OVERLAY_VERSION, 4);
	put_le(out + 12, OVERLAY_BLOCK, 4);
	put_le(out + 16, h->virtual_size, 8);
	put_le(out + 24, h->base_size, 8);
	memcpy(out + 32, h->base_hash, OVERLAY_HASH_BYTES);
	put_le(out + 64, given, 4);
	put_le(out + 68, abs, 4);
	memcpy(out + OVERLAY_PATHS_OFFSET, h->base_given, given);
	memcpy(out + OVERLAY_PATHS_OFFSET + given, h->base_abs, abs);
	hash(out + OVERLAY_HEADER_SUM_OFFSET, out, OVERLAY_HEADER_SUM_OFFSET, NULL, 0);
	return 0;
}

int overlay_header_decode(const uint8_t *in, struct overlay_header *h, char *err, size_t errlen)
{
	uint8_t sum[OVERLAY_HASH_BYTES];
	memset(h, 0, sizeof(*h));
	if (memcmp(in, OVERLAY_MAGIC, OVERLAY_MAGIC_BYTES) != 0) {
		snprintf(err, errlen, "not a keel disk overlay (bad magic)");
		return -1;
	}
	uint32_t version = (uint32_t)get_le(in + 8, 4), block = (uint32_t)get_le(in + 12, 4);
	if (version != OVERLAY_VERSION) {
		snprintf(err, errlen, "overlay version %u; this keel reads version %u", version,
			 OVERLAY_VERSION);
		return -1;
	}
	hash(sum, in, OVERLAY_HEADER_SUM_OFFSET, NULL, 0);
	if (memcmp(sum, in + OVERLAY_HEADER_SUM_OFFSET, OVERLAY_HASH_BYTES) != 0) {
		snprintf(err, errlen, "overlay header is corrupt (checksum mismatch)");
		return -1;
	}
	h->virtual_size = get_le(in + 16, 8);
	h->base_size = get_le(in + 24, 8);
	memcpy(h->base_hash, in + 32, OVERLAY_HASH_BYTES);
	uint64_t given = get_le(in + 64, 4), abs = get_le(in + 68, 4);
	/* The checksum only proves the header is as written, not that a
	 * (hostile) writer wrote sane values. */
	if (block != OVERLAY_BLOCK || given + abs > OVERLAY_PATHS_MAX ||
	    h->virtual_size != h->base_size || h->virtual_size == 0 ||
	    h->virtual_size > (UINT64_MAX >> 1)) {
		snprintf(err, errlen, "overlay header has impossible values");
		return -1;
	}
	memcpy(h->base_given, in + OVERLAY_PATHS_OFFSET, given);
	memcpy(h->base_abs, in + OVERLAY_PATHS_OFFSET + given, abs);
	if (strlen(h->base_given) != given || strlen(h->base_abs) != abs) {
		snprintf(err, errlen, "overlay header has a NUL inside a base path");
		return -1;
	}
	return 0;
}

bool overlay_is_overlay(int fd)
{
	char magic[OVERLAY_MAGIC_BYTES];
	return pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
	       memcmp(magic, OVERLAY_MAGIC, OVERLAY_MAGIC_BYTES) == 0;
}

/* The checksum covers the record's first 16 bytes and its data, so a
 * record moved to another block index, or torn anywhere, fails. */
static void record_sum(uint8_t out[OVERLAY_HASH_BYTES], const uint8_t *rec)
{
	hash(out, rec, 16, rec + OVERLAY_RECORD_HEADER, OVERLAY_BLOCK);
}

void overlay_record_encode(uint8_t *out, uint64_t block, const uint8_t *data)
{
	memcpy(out, OVERLAY_RECORD_MAGIC, 4);
	put_le(out + 4, 0, 4);
	put_le(out + 8, block, 8);
	if (data != out + OVERLAY_RECORD_HEADER)
		memcpy(out + OVERLAY_RECORD_HEADER, data, OVERLAY_BLOCK);
	record_sum(out + 16, out);
}

bool overlay_record_valid(const uint8_t *rec, uint64_t nblocks, uint64_t *block)
{
	uint8_t sum[OVERLAY_HASH_BYTES];
	if (memcmp(rec, OVERLAY_RECORD_MAGIC, 4) != 0 || get_le(rec + 4, 4) != 0)
		return false;
	*block = get_le(rec + 8, 8);
	if (*block >= nblocks)
		return false;
	record_sum(sum, rec);
	return memcmp(sum, rec + 16, OVERLAY_HASH_BYTES) == 0;
}

/* pread all of `len` unless the file ends first; returns bytes read or -1. */
static ssize_t pread_full(int fd, uint8_t *p, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fd, p + done, len - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int overlay_scan(int fd, uint64_t end, uint64_t nblocks,
		 void (*found)(void *opaque, uint64_t block, uint64_t offset), void *opaque,
		 uint64_t *valid_end, char *err, size_t errlen)
{
	size_t cap = SCAN_CHUNK_RECORDS * (size_t)OVERLAY_RECORD_BYTES;
	uint8_t *buf = malloc(cap);
	if (!buf) {
		snprintf(err, errlen, "out of memory scanning the overlay");
		return -1;
	}
	uint64_t off = OVERLAY_HEADER_BYTES;
	int rc = 0;
	while (off < end) {
		size_t want = end - off < cap ? (size_t)(end - off) : cap;
		ssize_t got = pread_full(fd, buf, want, off);
		if (got < 0) {
			snprintf(err, errlen, "read error at offset %llu: %s", (unsigned long long)off,
				 strerror(errno));
			rc = -1;
			break;
		}
		size_t pos = 0;
		uint64_t block;
		while (pos + OVERLAY_RECORD_BYTES <= (size_t)got &&
		       overlay_record_valid(buf + pos, nblocks, &block)) {
			found(opaque, block, off + pos);
			pos += OVERLAY_RECORD_BYTES;
		}
		off += pos;
		if (pos < want) /* a bad or short record: the valid part ends here */
			break;
	}
	free(buf);
	*valid_end = off < end ? off : end;
	return rc;
}

int overlay_hash_base(int fd, uint64_t size, bool use_cache, uint8_t out[OVERLAY_HASH_BYTES],
		      char *err, size_t errlen)
{
	if (use_cache && base_hash_cache_get(fd, size, out))
		return 0;
	enum { CHUNK = 1 << 20 };
	uint8_t *buf = malloc(CHUNK);
	if (!buf) {
		snprintf(err, errlen, "out of memory hashing the base");
		return -1;
	}
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, OVERLAY_HASH_BYTES);
	uint64_t off = 0;
	int rc = 0;
	while (off < size) {
		size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		ssize_t got = pread_full(fd, buf, want, off);
		if (got != (ssize_t)want) {
			snprintf(err, errlen, "%s at offset %llu",
				 got < 0 ? strerror(errno) : "the file ends early",
				 (unsigned long long)(off + (got > 0 ? (uint64_t)got : 0)));
			rc = -1;
			break;
		}
		crypto_generichash_update(&st, buf, want);
		off += want;
	}
	crypto_generichash_final(&st, out, OVERLAY_HASH_BYTES);
	free(buf);
	if (rc == 0)
		base_hash_cache_put(fd, size, out);
	return rc;
}

void overlay_hash_hex(const uint8_t hash_[OVERLAY_HASH_BYTES], char out[2 * OVERLAY_HASH_BYTES + 1])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < OVERLAY_HASH_BYTES; i++) {
		out[2 * i] = hex[hash_[i] >> 4];
		out[2 * i + 1] = hex[hash_[i] & 15];
	}
	out[2 * OVERLAY_HASH_BYTES] = '\0';
}
