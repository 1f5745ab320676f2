/* The state digest: see docs/snapshot-format.md, "State digest", which is
 * the definition; this file must match it byte for byte. */
#include "vm/state_digest.h"

#include <sodium.h>
#include <string.h>

#include "lib/state_io.h"
#include "vm/machine.h"
#include "vm/ram_page.h"
#include "vm/snapshot.h"
#include "vm/taps.h"

#define DIGEST_DOMAIN "keel state digest v2"

static void put_le64(uint8_t p[8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Zero pages are skipped, and each other page is hashed with its index,
 * so the cost follows the memory the guest has touched rather than the
 * RAM size (a booted 256 MiB guest has a few tens of MiB in use). */
static void ram_hash_nonzero_pages(const struct machine *m, uint8_t out[STATE_DIGEST_BYTES])
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
	ram_hash_nonzero_pages(m, ram_hash);

	crypto_generichash_state st;
	uint8_t len[8];
	crypto_generichash_init(&st, NULL, 0, STATE_DIGEST_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)DIGEST_DOMAIN, sizeof(DIGEST_DOMAIN));
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
