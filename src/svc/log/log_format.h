/* The on-disk layout of the secure log (docs/log-format.md): segment
 * headers, chained entries (blocks of records, seals), the chain hash and
 * the seal MAC.  Internal to src/svc/log and its tests; the recorder uses
 * log_writer.h and log_reader.h instead.
 *
 * Every integer is little-endian and encoded field by field. */
#ifndef KEEL_SVC_LOG_LOG_FORMAT_H
#define KEEL_SVC_LOG_LOG_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_HASH_BYTES 32
#define LOG_KEY_BYTES 32
#define LOG_SIGN_SECRET_BYTES 64 /* libsodium's Ed25519 secret key (seed + public) */
#define LOG_SIGN_PUBLIC_BYTES 32
#define LOG_SIGNATURE_BYTES 64

#define LOG_VERSION 1
#define LOG_SEG_MAGIC "KEELLOGS"
#define LOG_SEG_HEADER_BYTES 32
#define LOG_SEG_NAME_FMT "seg-%06u.klog"
#define LOG_SEG_NAME_MAX 32

#define LOG_ENTRY_MAGIC "KLGE"
#define LOG_ENTRY_HEADER_BYTES 96
#define LOG_RECORD_HEADER_BYTES 14 /* u64 icount, u16 type, u32 len */
#define LOG_SEAL_BODY_BYTES 128
#define LOG_SEAL_MACED_BODY_BYTES 32 /* epoch, records, log bytes, icount */

/* Bounds a reader enforces before it allocates anything. */
#define LOG_MAX_PAYLOAD (16u << 20)
#define LOG_MAX_RAW (32u << 20)
#define LOG_MAX_BODY (33u << 20)

enum log_entry_kind { LOG_ENTRY_BLOCK = 1, LOG_ENTRY_SEAL = 2 };

/* Seal flags. */
#define LOG_SEAL_CLOSE 1u /* the writer closed the log here; nothing may follow */
#define LOG_SEAL_SIGNED 2u /* the seal carries an Ed25519 signature */

struct log_entry_header {
	uint16_t kind;
	uint16_t flags;
	uint64_t seq; /* entry number, from 0, across all segments */
	uint8_t prev[LOG_HASH_BYTES]; /* chain hash of entry seq-1 (zero for 0) */
	uint64_t wall_ns; /* host wall clock when the entry was written */
	uint32_t body_len;
	/* Blocks only (zero in seals): */
	uint32_t raw_len; /* bytes of records after decompression */
	uint32_t record_count;
	uint64_t first_record; /* index of the block's first record in the log */
	uint64_t first_icount, last_icount;
};

struct log_seal_body {
	uint64_t epoch; /* i for the i-th seal, from 0 */
	uint64_t records; /* records in the log before this seal */
	uint64_t log_bytes; /* entry bytes (headers + bodies) before this seal */
	uint64_t icount; /* icount of the last record before it */
	uint8_t mac[LOG_HASH_BYTES];
	uint8_t sig[LOG_SIGNATURE_BYTES];
};

void log_put_le(uint8_t *p, uint64_t v, int bytes);
uint64_t log_get_le(const uint8_t *p, int bytes);

void log_segment_name(char out[LOG_SEG_NAME_MAX], uint32_t index);
/* `created_ns` (host wall clock) is for display only: the chain does not
 * cover segment headers, whose other fields the verifier recomputes. */
void log_segment_header_encode(uint8_t out[LOG_SEG_HEADER_BYTES], uint32_t index,
			       uint64_t first_seq, uint64_t created_ns);

void log_entry_header_encode(uint8_t out[LOG_ENTRY_HEADER_BYTES], const struct log_entry_header *h);
/* Returns 0, or -1 with `why` set when the bytes are no entry header
 * (magic, kind, reserved fields, bounds). */
int log_entry_header_decode(const uint8_t in[LOG_ENTRY_HEADER_BYTES], struct log_entry_header *h,
			    char *why, size_t whylen);

/* h = BLAKE2b-256(header || body); the header holds the previous hash. */
void log_chain_hash(uint8_t out[LOG_HASH_BYTES], const uint8_t *header, const uint8_t *body,
		    size_t body_len);

void log_seal_body_encode(uint8_t out[LOG_SEAL_BODY_BYTES], const struct log_seal_body *s);
void log_seal_body_decode(const uint8_t in[LOG_SEAL_BODY_BYTES], struct log_seal_body *s);

/* The bytes a seal's MAC and signature cover: its entry header and the
 * first LOG_SEAL_MACED_BODY_BYTES of its body. */
void log_seal_mac(uint8_t out[LOG_HASH_BYTES], const uint8_t key[LOG_KEY_BYTES],
		  const uint8_t header[LOG_ENTRY_HEADER_BYTES], const uint8_t body[LOG_SEAL_BODY_BYTES]);
void log_seal_sign(uint8_t sig[LOG_SIGNATURE_BYTES], const uint8_t sk[LOG_SIGN_SECRET_BYTES],
		   const uint8_t header[LOG_ENTRY_HEADER_BYTES], const uint8_t body[LOG_SEAL_BODY_BYTES]);
bool log_seal_signature_ok(const uint8_t sig[LOG_SIGNATURE_BYTES],
			   const uint8_t pk[LOG_SIGN_PUBLIC_BYTES],
			   const uint8_t header[LOG_ENTRY_HEADER_BYTES],
			   const uint8_t body[LOG_SEAL_BODY_BYTES]);

/* A complete seal entry (header + body) for these values, MACed with `key`
 * and signed with `sign_sk` when it is not NULL.  The writer uses it, and
 * the tamper tests use it to forge seals with the wrong keys. */
void log_seal_build(uint8_t out[LOG_ENTRY_HEADER_BYTES + LOG_SEAL_BODY_BYTES], uint64_t seq,
		    const uint8_t prev[LOG_HASH_BYTES], uint64_t wall_ns, uint16_t flags,
		    const struct log_seal_body *values, const uint8_t key[LOG_KEY_BYTES],
		    const uint8_t *sign_sk);

/* write(2) all of `buf`, retrying short writes.  0, or -1 with errno. */
int log_write_all(int fd, const void *buf, size_t len);
/* fsync a directory, so a file created or renamed in it survives a crash. */
int log_sync_dir(const char *dir);

/* The snapshot name rule shared by writer and verifier: relative, no "..",
 * no empty component, printable, at most 255 bytes. */
bool log_snapshot_name_ok(const char *name, size_t len);
/* BLAKE2b-256 of the file DIR/name.  Returns 0, or -1 with `why` set. */
int log_hash_file(const char *dir, const char *name, size_t name_len,
		  uint8_t out[LOG_HASH_BYTES], char *why, size_t whylen);

#endif
