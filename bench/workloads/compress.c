/* The compression loop: generate text-like input, compress it with an
 * LZ77 coder (hash chains, greedy matching, LZSS-style flag bytes) and
 * expand it again.  Byte loads and compares, hashing, short data-dependent
 * loops and unpredictable branches: what gzip-like code does.  The
 * round trip is checked, so a broken emulator cannot pass by producing
 * garbage quickly. */
#include <string.h>

#include "bench.h"
#include "kbench.h"

#define TEXT_BYTES (256u * 1024)
#define WINDOW (1u << 15) /* match offsets fit 15 bits */
#define HASH_BITS 12
#define MIN_MATCH 4
#define MAX_MATCH (MIN_MATCH + 254) /* the length byte holds len - MIN_MATCH */
#define MAX_CHAIN 16 /* candidates tried per position */
#define EXPAND_FAILED ((size_t)-1)

static uint8_t text[TEXT_BYTES], unpacked[TEXT_BYTES];
static uint8_t packed[TEXT_BYTES + TEXT_BYTES / 8 + 16]; /* all literals + flag bytes */
/* Positions + 1, so 0 means "none". */
static uint32_t head[1u << HASH_BITS], prev[WINDOW];

static const char *const words[] = {
	"the", "virtual", "machine", "monitor", "runs", "a", "guest", "kernel", "under",
	"emulation", "and", "logs", "every", "event", "so", "replay", "is", "exact", "when",
	"an", "intrusion", "happens", "clone", "it", "then", "judge", "input", "by", "what",
	"does", "next", "of",
};

/* Words from a fixed vocabulary with occasional numbers: compresses about
 * 3:1, with matches of all lengths. */
static void make_text(uint64_t seed)
{
	size_t n = 0;

	while (n < TEXT_BYTES) {
		uint64_t r = lcg_next(&seed);
		char number[8];
		const char *w = words[(r >> 32) % (sizeof words / sizeof words[0])];

		if ((r >> 60) == 0) {
			uint32_t v = (uint32_t)(r >> 36) % 100000;
			int len = 0;
			do {
				number[len++] = (char)('0' + v % 10);
				v /= 10;
			} while (v);
			number[len] = '\0';
			w = number;
		}
		while (*w && n < TEXT_BYTES)
			text[n++] = (uint8_t)*w++;
		if (n < TEXT_BYTES)
			text[n++] = ((r >> 40) & 15) == 0 ? '\n' : ' ';
	}
}

static uint32_t hash4(const uint8_t *p)
{
	uint32_t v = p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return (v * 2654435761u) >> (32 - HASH_BITS);
}

static void insert(const uint8_t *in, size_t pos)
{
	uint32_t h = hash4(in + pos);

	prev[pos & (WINDOW - 1)] = head[h];
	head[h] = (uint32_t)pos + 1;
}

/* The longest earlier match for position i within the window; its offset
 * goes to *offset.  Chains run towards older positions, so the first one
 * outside the window ends the search (its slot may have been reused). */
static size_t longest_match(const uint8_t *in, size_t n, size_t i, size_t *offset)
{
	size_t limit = n - i < MAX_MATCH ? n - i : MAX_MATCH, best = 0;
	uint32_t cand = head[hash4(in + i)];

	for (int depth = 0; cand && depth < MAX_CHAIN; depth++) {
		size_t c = cand - 1, len = 0;

		if (i - c >= WINDOW)
			break;
		while (len < limit && in[c + len] == in[i + len])
			len++;
		if (len > best) {
			best = len;
			*offset = i - c;
			if (len == limit)
				break;
		}
		cand = prev[c & (WINDOW - 1)];
	}
	return best;
}

/* Output: a flag byte before every 8 tokens (bit set: match), a literal
 * is one byte, a match is offset (2 bytes, little-endian) + length byte. */
static size_t lz_compress(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t o = 0, flags_at = 0, i = 0;
	unsigned bit = 8;

	memset(head, 0, sizeof head);
	while (i < n) {
		size_t len = 0, offset = 0;

		if (bit == 8) {
			flags_at = o++;
			out[flags_at] = 0;
			bit = 0;
		}
		if (i + MIN_MATCH <= n) {
			len = longest_match(in, n, i, &offset);
			insert(in, i);
		}
		if (len >= MIN_MATCH) {
			out[flags_at] |= (uint8_t)(1u << bit);
			out[o++] = (uint8_t)offset;
			out[o++] = (uint8_t)(offset >> 8);
			out[o++] = (uint8_t)(len - MIN_MATCH);
			for (size_t k = i + 1; k < i + len && k + MIN_MATCH <= n; k++)
				insert(in, k);
			i += len;
		} else {
			out[o++] = in[i++];
		}
		bit++;
	}
	return o;
}

/* EXPAND_FAILED on malformed input instead of reading or writing outside
 * the buffers. */
static size_t lz_expand(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t i = 0, o = 0;

	while (i < n) {
		unsigned flags = in[i++];

		for (unsigned bit = 0; bit < 8 && i < n; bit++) {
			if (!(flags >> bit & 1)) {
				if (o >= cap)
					return EXPAND_FAILED;
				out[o++] = in[i++];
				continue;
			}
			if (n - i < 3)
				return EXPAND_FAILED;
			size_t offset = in[i] | (size_t)in[i + 1] << 8, len = in[i + 2] + (size_t)MIN_MATCH;
			i += 3;
			if (offset == 0 || offset > o || len > cap - o)
				return EXPAND_FAILED;
			for (size_t k = 0; k < len; k++, o++)
				out[o] = out[o - offset];
		}
	}
	return o;
}

uint64_t workload_compress(uint64_t rounds)
{
	uint64_t sum = 0;

	for (uint64_t round = 0; round < rounds; round++) {
		make_text(round + 1);
		size_t packed_len = lz_compress(text, TEXT_BYTES, packed);
		size_t unpacked_len = lz_expand(packed, packed_len, unpacked, sizeof unpacked);
		int same = unpacked_len == TEXT_BYTES && memcmp(text, unpacked, TEXT_BYTES) == 0;

		sum = mix(sum, packed_len);
		sum = mix(sum, same ? 1 : 0xbad);
		for (size_t i = 0; i < packed_len; i++)
			sum = mix(sum, packed[i]);
	}
	return sum;
}
