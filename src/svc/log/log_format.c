/* Encoding of segment headers, entries and seals (log_format.h,
 * docs/log-format.md). */
#include "svc/log/log_format.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void log_put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t log_get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void log_segment_name(char out[LOG_SEG_NAME_MAX], uint32_t index)
{
	snprintf(out, LOG_SEG_NAME_MAX, LOG_SEG_NAME_FMT, index);
}

void log_segment_header_encode(uint8_t out[LOG_SEG_HEADER_BYTES], uint32_t index,
			       uint64_t first_seq, uint64_t created_ns)
{
	memcpy(out, LOG_SEG_MAGIC, 8);
	log_put_le(out + 8, LOG_VERSION, 4);
	log_put_le(out + 12, index, 4);
	log_put_le(out + 16, first_seq, 8);
	log_put_le(out + 24, created_ns, 8);
}

void log_entry_header_encode(uint8_t out[LOG_ENTRY_HEADER_BYTES], const struct log_entry_header *h)
{
	memcpy(out, LOG_ENTRY_MAGIC, 4);
	log_put_le(out + 4, h->kind, 2);
	log_put_le(out + 6, h->flags, 2);
	log_put_le(out + 8, h->seq, 8);
	memcpy(out + 16, h->prev, LOG_HASH_BYTES);
	log_put_le(out + 48, h->wall_ns, 8);
	log_put_le(out + 56, h->body_len, 4);
	log_put_le(out + 60, h->raw_len, 4);
	log_put_le(out + 64, h->record_count, 4);
	log_put_le(out + 68, 0, 4);
	log_put_le(out + 72, h->first_record, 8);
	log_put_le(out + 80, h->first_icount, 8);
	log_put_le(out + 88, h->last_icount, 8);
}

static int block_fields_ok(const struct log_entry_header *h, char *why, size_t whylen)
{
	if (h->body_len == 0 || h->body_len > LOG_MAX_BODY || h->raw_len > LOG_MAX_RAW ||
	    h->flags != 0) {
		snprintf(why, whylen, "block header has impossible lengths or flags");
		return -1;
	}
	if ((uint64_t)h->record_count * LOG_RECORD_HEADER_BYTES > h->raw_len ||
	    h->record_count == 0 || h->first_icount > h->last_icount) {
		snprintf(why, whylen, "block header has impossible record count or icounts");
		return -1;
	}
	return 0;
}

static int seal_fields_ok(const struct log_entry_header *h, char *why, size_t whylen)
{
	if (h->body_len != LOG_SEAL_BODY_BYTES || h->raw_len || h->record_count ||
	    h->first_record || h->first_icount || h->last_icount ||
	    (h->flags & ~(LOG_SEAL_CLOSE | LOG_SEAL_SIGNED))) {
		snprintf(why, whylen, "seal header has impossible fields");
		return -1;
	}
	return 0;
}

int log_entry_header_decode(const uint8_t in[LOG_ENTRY_HEADER_BYTES], struct log_entry_header *h,
			    char *why, size_t whylen)
{
	if (memcmp(in, LOG_ENTRY_MAGIC, 4) != 0) {
		snprintf(why, whylen, "no entry here (bad magic)");
		return -1;
	}
	*h = (struct log_entry_header){
		.kind = (uint16_t)log_get_le(in + 4, 2),
		.flags = (uint16_t)log_get_le(in + 6, 2),
		.seq = log_get_le(in + 8, 8),
		.wall_ns = log_get_le(in + 48, 8),
		.body_len = (uint32_t)log_get_le(in + 56, 4),
		.raw_len = (uint32_t)log_get_le(in + 60, 4),
		.record_count = (uint32_t)log_get_le(in + 64, 4),
		.first_record = log_get_le(in + 72, 8),
		.first_icount = log_get_le(in + 80, 8),
		.last_icount = log_get_le(in + 88, 8),
	};
	memcpy(h->prev, in + 16, LOG_HASH_BYTES);
	if (log_get_le(in + 68, 4) != 0) {
		snprintf(why, whylen, "entry header has a non-zero reserved field");
		return -1;
	}
	if (h->kind == LOG_ENTRY_BLOCK)
		return block_fields_ok(h, why, whylen);
	if (h->kind == LOG_ENTRY_SEAL)
		return seal_fields_ok(h, why, whylen);
	snprintf(why, whylen, "unknown entry kind %u", h->kind);
	return -1;
}

void log_chain_hash(uint8_t out[LOG_HASH_BYTES], const uint8_t *header, const uint8_t *body,
		    size_t body_len)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, LOG_HASH_BYTES);
	crypto_generichash_update(&st, header, LOG_ENTRY_HEADER_BYTES);
	crypto_generichash_update(&st, body, body_len);
	crypto_generichash_final(&st, out, LOG_HASH_BYTES);
}

void log_seal_body_encode(uint8_t out[LOG_SEAL_BODY_BYTES], const struct log_seal_body *s)
{
	log_put_le(out, s->epoch, 8);
	log_put_le(out + 8, s->records, 8);
	log_put_le(out + 16, s->log_bytes, 8);
	log_put_le(out + 24, s->icount, 8);
	memcpy(out + 32, s->mac, LOG_HASH_BYTES);
	memcpy(out + 64, s->sig, LOG_SIGNATURE_BYTES);
}

void log_seal_body_decode(const uint8_t in[LOG_SEAL_BODY_BYTES], struct log_seal_body *s)
{
	s->epoch = log_get_le(in, 8);
	s->records = log_get_le(in + 8, 8);
	s->log_bytes = log_get_le(in + 16, 8);
	s->icount = log_get_le(in + 24, 8);
	memcpy(s->mac, in + 32, LOG_HASH_BYTES);
	memcpy(s->sig, in + 64, LOG_SIGNATURE_BYTES);
}

/* The signed message: header || maced body part (a fixed 128 bytes). */
static void sealed_message(uint8_t msg[LOG_ENTRY_HEADER_BYTES + LOG_SEAL_MACED_BODY_BYTES],
			   const uint8_t *header, const uint8_t *body)
{
	memcpy(msg, header, LOG_ENTRY_HEADER_BYTES);
	memcpy(msg + LOG_ENTRY_HEADER_BYTES, body, LOG_SEAL_MACED_BODY_BYTES);
}

void log_seal_mac(uint8_t out[LOG_HASH_BYTES], const uint8_t key[LOG_KEY_BYTES],
		  const uint8_t header[LOG_ENTRY_HEADER_BYTES], const uint8_t body[LOG_SEAL_BODY_BYTES])
{
	uint8_t msg[LOG_ENTRY_HEADER_BYTES + LOG_SEAL_MACED_BODY_BYTES];
	sealed_message(msg, header, body);
	crypto_generichash(out, LOG_HASH_BYTES, msg, sizeof(msg), key, LOG_KEY_BYTES);
}

void log_seal_sign(uint8_t sig[LOG_SIGNATURE_BYTES], const uint8_t sk[LOG_SIGN_SECRET_BYTES],
		   const uint8_t header[LOG_ENTRY_HEADER_BYTES], const uint8_t body[LOG_SEAL_BODY_BYTES])
{
	uint8_t msg[LOG_ENTRY_HEADER_BYTES + LOG_SEAL_MACED_BODY_BYTES];
	sealed_message(msg, header, body);
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
}

bool log_seal_signature_ok(const uint8_t sig[LOG_SIGNATURE_BYTES],
			   const uint8_t pk[LOG_SIGN_PUBLIC_BYTES],
			   const uint8_t header[LOG_ENTRY_HEADER_BYTES],
			   const uint8_t body[LOG_SEAL_BODY_BYTES])
{
	uint8_t msg[LOG_ENTRY_HEADER_BYTES + LOG_SEAL_MACED_BODY_BYTES];
	sealed_message(msg, header, body);
	return crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) == 0;
}

void log_seal_build(uint8_t out[LOG_ENTRY_HEADER_BYTES + LOG_SEAL_BODY_BYTES], uint64_t seq,
		    const uint8_t prev[LOG_HASH_BYTES], uint64_t wall_ns, uint16_t flags,
		    const struct log_seal_body *values, const uint8_t key[LOG_KEY_BYTES],
		    const uint8_t *sign_sk)
{
	struct log_entry_header h = {
		.kind = LOG_ENTRY_SEAL,
		.flags = (uint16_t)(flags | (sign_sk ? LOG_SEAL_SIGNED : 0)),
		.seq = seq,
		.wall_ns = wall_ns,
		.body_len = LOG_SEAL_BODY_BYTES,
	};
	memcpy(h.prev, prev, LOG_HASH_BYTES);
	struct log_seal_body s = *values;
	memset(s.mac, 0, sizeof(s.mac));
	memset(s.sig, 0, sizeof(s.sig));
	uint8_t *header = out, *body = out + LOG_ENTRY_HEADER_BYTES;
	log_entry_header_encode(header, &h);
	log_seal_body_encode(body, &s);
	log_seal_mac(s.mac, key, header, body);
	if (sign_sk)
		log_seal_sign(s.sig, sign_sk, header, body);
	log_seal_body_encode(body, &s);
}

int log_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int log_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

bool log_snapshot_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > 255 || name[0] == '/')
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && (name[i] < 0x21 || name[i] > 0x7e))
			return false;
		if (i < len && name[i] != '/')
			continue;
		size_t n = i - start;
		if (n == 0 || (n == 2 && !memcmp(name + start, "..", 2)) ||
		    (n == 1 && name[start] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

int log_hash_file(const char *dir, const char *name, size_t name_len,
		  uint8_t out[LOG_HASH_BYTES], char *why, size_t whylen)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%.*s", dir, (int)name_len, name) >=
	    sizeof(path)) {
		snprintf(why, whylen, "%s: path too long", dir);
		return -1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, LOG_HASH_BYTES);
	uint8_t buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, whylen, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		crypto_generichash_update(&st, buf, (size_t)n);
	}
	close(fd);
	crypto_generichash_final(&st, out, LOG_HASH_BYTES);
	return 0;
}
