/* The state digest: see docs/snapshot-format.md, "State digest", which is
 * the definition; this file must match it byte for byte. */
#include "vm/state_digest.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/state_io.h"
#include "vm/machine.h"
#include "vm/ram_dirty.h"
#include "vm/ram_page.h"
#include "vm/snapshot.h"
#include "vm/taps.h"


static void put_le64(uint8_t p[8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Version 2: zero pages are skipped, and each other page is hashed with
 * its index, so the cost follows the memory the guest has touched rather
 * than the RAM size (a booted 256 MiB guest has a few tens of MiB in use).
 * Still the whole of that memory at every digest, which is what version 3
 * mends; kept for replaying logs recorded with it. */
static void ram_hash_v2(const struct machine *m, uint8_t out[STATE_DIGEST_BYTES])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, STATE_DIGEST_BYTES);
	uint8_t index[8];
	for (uint64_t i = 0; i < m->ram_size / RAM_PAGE_SIZE; i++) {
		const uint8_t *page = m->ram + i * RAM_PAGE_SIZE;
		if (ram_page_is_zero(page))
			continue;
		put_le64(index, i);
		crypto_generichash_update(&st, index, sizeof(index));
		crypto_generichash_update(&st, page, RAM_PAGE_SIZE);
	}
	crypto_generichash_final(&st, out, STATE_DIGEST_BYTES);
}

static bool bit(const uint64_t *map, uint64_t i) { return map[i / 64] >> (i % 64) & 1; }
static void set_bit(uint64_t *map, uint64_t i, bool on)
{
	if (on)
		map[i / 64] |= 1ULL << (i % 64);
	else
		map[i / 64] &= ~(1ULL << (i % 64));
}

/* The page-hash cache: allocated with a dirty reader of its own on the
 * first version 3 digest.  false: no memory, hash without it. */
static bool cache_ready(struct machine *m)
{
	struct digest_cache *c = &m->digest;
	if (c->reader)
		return true;
	uint64_t pages = m->ram_size / RAM_PAGE_SIZE, words = (pages + 63) / 64;
	c->page_hash = malloc(pages * sizeof(*c->page_hash));
	c->known = calloc(words, sizeof(uint64_t));
	c->nonzero = calloc(words, sizeof(uint64_t));
	c->written = calloc(words, sizeof(uint64_t));
	int reader = c->page_hash && c->known && c->nonzero && c->written ? ram_dirty_open(m) : -1;
	if (reader < 0) {
		state_digest_forget(m);
		return false;
	}
	c->reader = reader + 1;
	return true;
}

/* Pages written since the last digest lose their hashes. */
static void cache_forget_written(struct machine *m)
{
	struct digest_cache *c = &m->digest;
	uint64_t pages = m->ram_size / RAM_PAGE_SIZE, words = (pages + 63) / 64;
	if (ram_dirty_fetch(m, c->reader - 1, c->written, words * 64) < 0) {
		memset(c->known, 0, words * sizeof(uint64_t)); /* cannot happen; be safe */
		return;
	}
	for (uint64_t w = 0; w < words; w++)
		c->known[w] &= ~c->written[w];
}

/* Version 3: H(le64(i) || BLAKE2b-256(page i)) over the pages that are
 * not all zero.  With the cache, only pages written since the last digest
 * are read again. */
static void ram_hash_v3(struct machine *m, uint8_t out[STATE_DIGEST_BYTES])
{
	struct digest_cache *c = &m->digest;
	bool cached = cache_ready(m);
	if (cached)
		cache_forget_written(m);
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, STATE_DIGEST_BYTES);
	uint8_t entry[8 + 32];
	for (uint64_t i = 0; i < m->ram_size / RAM_PAGE_SIZE; i++) {
		const uint8_t *page = m->ram + i * RAM_PAGE_SIZE;
		bool nonzero;
		if (cached && bit(c->known, i)) {
			nonzero = bit(c->nonzero, i);
			memcpy(entry + 8, c->page_hash[i], 32);
		} else {
			nonzero = !ram_page_is_zero(page);
			if (nonzero)
				crypto_generichash(entry + 8, 32, page, RAM_PAGE_SIZE, NULL, 0);
			if (cached) {
				set_bit(c->known, i, true);
				set_bit(c->nonzero, i, nonzero);
				memcpy(c->page_hash[i], entry + 8, 32);
			}
		}
		if (!nonzero)
			continue;
		put_le64(entry, i);
		crypto_generichash_update(&st, entry, sizeof(entry));
	}
	crypto_generichash_final(&st, out, STATE_DIGEST_BYTES);
}

unsigned state_digest_version(const struct machine *m)
{
	return m->digest.version ? m->digest.version : STATE_DIGEST_VERSION;
}

int state_digest_set_version(struct machine *m, unsigned version)
{
	if (version != 2 && version != 3)
		return -1;
	m->digest.version = version;
	return 0;
}

void state_digest_forget(struct machine *m)
{
	struct digest_cache *c = &m->digest;
	if (c->reader)
		ram_dirty_close(m, c->reader - 1);
	free(c->page_hash);
	free(c->known);
	free(c->nonzero);
	free(c->written);
	unsigned version = c->version;
	memset(c, 0, sizeof(*c));
	c->version = version;
}

int state_digest(struct machine *m, uint8_t out[STATE_DIGEST_BYTES])
{
	memset(out, 0, STATE_DIGEST_BYTES);
	taps_postcopy_complete(m); /* a digest is of all of RAM (taps.h, 5b) */
	/* crypto_generichash needs no sodium_init(): it uses no randomness
	 * and its implementation choice does not change its output. */
	struct state_writer w;
	sw_init(&w);
	snapshot_encode_state(m, &w);
	if (w.oom) {
		sw_free(&w);
		return -1;
	}

	struct state_writer disk;
	sw_init(&disk);
	snapshot_encode_disk_identity(m, &disk);
	if (disk.oom) {
		sw_free(&w);
		sw_free(&disk);
		return -1;
	}

	uint8_t ram_hash[STATE_DIGEST_BYTES];
	unsigned version = state_digest_version(m);
	if (version == 2)
		ram_hash_v2(m, ram_hash);
	else
		ram_hash_v3(m, ram_hash);
	char domain[32];
	int domain_len = snprintf(domain, sizeof(domain), "keel state digest v%u", version) + 1;

	crypto_generichash_state st;
	uint8_t len[8];
	crypto_generichash_init(&st, NULL, 0, STATE_DIGEST_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)domain, (size_t)domain_len);
	put_le64(len, w.len);
	crypto_generichash_update(&st, len, sizeof(len));
	crypto_generichash_update(&st, w.buf, w.len);
	put_le64(len, disk.len);
	crypto_generichash_update(&st, len, sizeof(len));
	crypto_generichash_update(&st, disk.buf, disk.len);
	put_le64(len, m->ram_size);
	crypto_generichash_update(&st, len, sizeof(len));
	crypto_generichash_update(&st, ram_hash, sizeof(ram_hash));
	crypto_generichash_final(&st, out, STATE_DIGEST_BYTES);
	sw_free(&w);
	sw_free(&disk);
	return 0;
}

int state_digest_hex(struct machine *m, char out[STATE_DIGEST_HEX])
{
	uint8_t d[STATE_DIGEST_BYTES];
	int rc = state_digest(m, d);
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < STATE_DIGEST_BYTES; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * STATE_DIGEST_BYTES] = '\0';
	return rc;
}
