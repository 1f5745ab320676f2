/* The state digest: see docs/snapshot-format.md, "State digest", which is
 * the definition; this file must match it byte for byte. */
#include "vm/state_digest.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
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

static uint64_t ram_pages(const struct machine *m) { return m->ram_size / RAM_PAGE_SIZE; }
static uint64_t ram_groups(const struct machine *m)
{
	return (ram_pages(m) + STATE_DIGEST_GROUP_PAGES - 1) / STATE_DIGEST_GROUP_PAGES;
}

/* The page-hash cache: allocated with a dirty reader of its own on the
 * first version 3 or 4 digest.  false: no memory, hash without it. */
static bool cache_ready(struct machine *m)
{
	struct digest_cache *c = &m->digest;
	if (c->reader)
		return true;
	uint64_t pages = ram_pages(m), words = (pages + 63) / 64, groups = ram_groups(m);
	c->page_hash = malloc(pages * sizeof(*c->page_hash));
	c->known = calloc(words, sizeof(uint64_t));
	c->nonzero = calloc(words, sizeof(uint64_t));
	c->written = calloc(words, sizeof(uint64_t));
	c->group_hash = malloc(groups * sizeof(*c->group_hash));
	c->group_known = calloc((groups + 63) / 64, sizeof(uint64_t));
	/* One SHA-256 context, fetched once: per page, OpenSSL's one-shot
	 * SHA256() would look the algorithm up again each time. */
	c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	c->sha_ctx = EVP_MD_CTX_new();
	int reader = c->page_hash && c->known && c->nonzero && c->written && c->group_hash &&
			     c->group_known && c->sha256 && c->sha_ctx
		? ram_dirty_open(m)
		: -1;
	if (reader < 0) {
		state_digest_forget(m);
		return false;
	}
	c->reader = reader + 1;
	return true;
}

/* Pages written since the last digest lose their hashes, and so do the
 * groups they are in; so does everything if the cache holds another
 * version's page hashes. */
static void cache_forget_written(struct machine *m, unsigned version)
{
	struct digest_cache *c = &m->digest;
	uint64_t pages = ram_pages(m), words = (pages + 63) / 64, groups = ram_groups(m);
	if (ram_dirty_fetch(m, c->reader - 1, c->written, words * 64) < 0 ||
	    c->cached_version != version) {
		/* a fetch cannot fail on an open reader; be safe */
		memset(c->known, 0, words * sizeof(uint64_t));
		memset(c->group_known, 0, (groups + 63) / 64 * sizeof(uint64_t));
		c->cached_version = version;
		return;
	}
	_Static_assert(STATE_DIGEST_GROUP_PAGES == 64, "a group is one word of page bits");
	for (uint64_t w = 0; w < words; w++) {
		c->known[w] &= ~c->written[w];
		if (c->written[w])
			set_bit(c->group_known, w, false);
	}
}

/* H_page: BLAKE2b-256 up to version 3, SHA-256 from version 4, which
 * hashes twice as fast where the CPU has SHA instructions (OpenSSL uses
 * them; libsodium's SHA-256 does not), and page hashing is most of a
 * recording digest's cost (docs/snapshot-format.md, "State digest"). */
static void page_hash(struct machine *m, unsigned version, bool cached, const uint8_t *page,
		      uint8_t out[32])
{
	struct digest_cache *c = &m->digest;
	unsigned len = 32;
	if (version < 4)
		crypto_generichash(out, 32, page, RAM_PAGE_SIZE, NULL, 0);
	else if (!cached || !EVP_DigestInit_ex(c->sha_ctx, c->sha256, NULL) ||
		 !EVP_DigestUpdate(c->sha_ctx, page, RAM_PAGE_SIZE) ||
		 !EVP_DigestFinal_ex(c->sha_ctx, out, &len))
		SHA256(page, RAM_PAGE_SIZE, out); /* the same value, more slowly */
}

/* Page i's hash into out (32 bytes); false if the page is all zero. */
static bool page_entry(struct machine *m, unsigned version, bool cached, uint64_t i,
		       uint8_t out[32])
{
	struct digest_cache *c = &m->digest;
	if (cached && bit(c->known, i)) {
		memcpy(out, c->page_hash[i], 32);
		return bit(c->nonzero, i);
	}
	const uint8_t *page = m->ram + i * RAM_PAGE_SIZE;
	bool nonzero = !ram_page_is_zero(page);
	if (nonzero)
		page_hash(m, version, cached, page, out);
	if (cached) {
		set_bit(c->known, i, true);
		set_bit(c->nonzero, i, nonzero);
		if (nonzero) /* a zero page's hash is never read */
			memcpy(c->page_hash[i], out, 32);
	}
	return nonzero;
}

/* An entry's hash into out; false if the entry is left out (all zero). */
typedef bool entry_fn(struct machine *m, unsigned version, bool cached, uint64_t k,
		      uint8_t out[32]);

/* H( le64(k) || entry(k) ) for k in [first, end) whose entry is not left
 * out: every level of the RAM hash has this shape.  Returns whether any
 * entry went in. */
static bool hash_entries(struct machine *m, unsigned version, bool cached, uint64_t first,
			 uint64_t end, entry_fn *entry, uint8_t out[32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	uint8_t e[8 + 32];
	bool any = false;
	for (uint64_t k = first; k < end; k++) {
		if (!entry(m, version, cached, k, e + 8))
			continue;
		put_le64(e, k);
		crypto_generichash_update(&st, e, sizeof(e));
		any = true;
	}
	crypto_generichash_final(&st, out, 32);
	return any;
}

/* Version 4, one group: H(le64(i) || H_page(i)) over its pages that are
 * not all zero, into out; false if every page of it is zero. */
static bool group_entry(struct machine *m, unsigned version, bool cached, uint64_t g,
			uint8_t out[32])
{
	struct digest_cache *c = &m->digest;
	if (cached && bit(c->group_known, g)) {
		memcpy(out, c->group_hash[g], 32);
		return c->nonzero[g] != 0;
	}
	uint64_t first = g * STATE_DIGEST_GROUP_PAGES, end = first + STATE_DIGEST_GROUP_PAGES;
	bool any = hash_entries(m, version, cached, first, end < ram_pages(m) ? end : ram_pages(m),
				page_entry, out);
	if (cached) {
		set_bit(c->group_known, g, true);
		memcpy(c->group_hash[g], out, 32);
	}
	return any;
}

/* Version 4 takes the boot image (the BOOT section's bytes after its
 * length; none on the bare board, which has no BOOT section) by its hash,
 * kept until the image is replaced. */
void state_digest_boot_hash(struct machine *m, uint8_t out[32])
{
	struct digest_cache *c = &m->digest;
	if (!c->boot_known) {
		bool virt = m->cfg.board == BOARD_VIRT;
		crypto_generichash(c->boot_hash, 32, virt ? m->boot_image : NULL,
				   virt ? m->boot_image_len : 0, NULL, 0);
		c->boot_known = true;
	}
	memcpy(out, c->boot_hash, 32);
}

unsigned state_digest_version(const struct machine *m)
{
	return m->digest.version ? m->digest.version : STATE_DIGEST_VERSION;
}

int state_digest_set_version(struct machine *m, unsigned version)
{
	if (version < 2 || version > STATE_DIGEST_VERSION)
		return -1;
	m->digest.version = version;
	return 0;
}

void state_digest_boot_image_changed(struct machine *m) { m->digest.boot_known = false; }

void state_digest_forget(struct machine *m)
{
	struct digest_cache *c = &m->digest;
	if (c->reader)
		ram_dirty_close(m, c->reader - 1);
	free(c->page_hash);
	free(c->known);
	free(c->nonzero);
	free(c->written);
	free(c->group_hash);
	free(c->group_known);
	EVP_MD_CTX_free(c->sha_ctx);
	EVP_MD_free(c->sha256);
	unsigned version = c->version;
	memset(c, 0, sizeof(*c));
	c->version = version;
}

/* The RAM part of the digest, by version. */
static void ram_hash(struct machine *m, unsigned version, uint8_t out[STATE_DIGEST_BYTES])
{
	if (version == 2) {
		ram_hash_v2(m, out);
		return;
	}
	bool cached = cache_ready(m);
	if (cached)
		cache_forget_written(m, version);
	if (version == 3) /* H(le64(i) || H_page(i)) over the nonzero pages, one stream */
		hash_entries(m, 3, cached, 0, ram_pages(m), page_entry, out);
	else /* H(le64(g) || H_group(g)) over the groups with a nonzero page:
	      * with the cache, only the groups written since are hashed again */
		hash_entries(m, 4, cached, 0, ram_groups(m), group_entry, out);
}

int state_digest(struct machine *m, uint8_t out[STATE_DIGEST_BYTES])
{
	memset(out, 0, STATE_DIGEST_BYTES);
	taps_postcopy_complete(m); /* a digest is of all of RAM (taps.h, 5b) */
	unsigned version = state_digest_version(m);
	/* crypto_generichash needs no sodium_init(): it uses no randomness
	 * and its implementation choice does not change its output. */
	struct state_writer w;
	sw_init(&w);
	if (version >= 4)
		snapshot_encode_state_except_boot(m, &w);
	else
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

	uint8_t ram[STATE_DIGEST_BYTES];
	ram_hash(m, version, ram);
	char domain[32];
	int domain_len = snprintf(domain, sizeof(domain), "keel state digest v%u", version) + 1;

	crypto_generichash_state st;
	uint8_t len[8];
	crypto_generichash_init(&st, NULL, 0, STATE_DIGEST_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)domain, (size_t)domain_len);
	put_le64(len, w.len);
	crypto_generichash_update(&st, len, sizeof(len));
	crypto_generichash_update(&st, w.buf, w.len);
	if (version >= 4) {
		uint8_t boot[32];
		state_digest_boot_hash(m, boot);
		put_le64(len, m->cfg.board == BOARD_VIRT ? m->boot_image_len : 0);
		crypto_generichash_update(&st, len, sizeof(len));
		crypto_generichash_update(&st, boot, sizeof(boot));
	}
	put_le64(len, disk.len);
	crypto_generichash_update(&st, len, sizeof(len));
	crypto_generichash_update(&st, disk.buf, disk.len);
	put_le64(len, m->ram_size);
	crypto_generichash_update(&st, len, sizeof(len));
	crypto_generichash_update(&st, ram, sizeof(ram));
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
