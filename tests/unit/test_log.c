/* The secure log (src/svc/log, docs/log-format.md).
 *
 * Every test writes a synthetic log with the real writer, in a fixed
 * layout, so the entry numbers below are known:
 *
 *   entry 0 block  records  0..3      entry 5 seal 1  (16 records)
 *   entry 1 block  records  4..7      entry 6 block   records 16..20
 *   entry 2 seal 0 (8 records)                        (record 18 names the checkpoint)
 *   entry 3 block  records  8..11     entry 7 seal 2  (21 records)
 *   entry 4 block  records 12..15     entry 8 block   record 21 (session end)
 *                                     entry 9 seal 3, the close
 *
 * Each tamper case alters the files as an attacker would and asserts the
 * status and the exact first bad position verify reports.  Each test
 * function is its own meson test (tests/meson.build lists them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include "test_files.h"

#include "svc/log/log_format.h"
#include "svc/log/log_keys.h"
#include "svc/log/log_reader.h"
#include "svc/log/log_verify.h"
#include "svc/log/log_writer.h"

#define SEG0 "seg-000000.klog"
#define RECORDS 22
#define SNAPSHOT_RECORD 18
#define CHECKPOINT "cp-1.snap"
#define SEAL_ENTRY_BYTES (LOG_ENTRY_HEADER_BYTES + LOG_SEAL_BODY_BYTES)

struct fixture {
	char dir[64]; /* keys live here */
	char log[96]; /* the log directory */
	char seal_key[128], verify_key[128], sign_key[128], sign_pub[128];
	char seg[160]; /* LOG/seg-000000.klog */
	uint8_t key0[LOG_KEY_BYTES];
};

/* Where each entry of a segment file is. */
struct entry_map {
	size_t n;
	size_t off[64], len[64];
	uint16_t kind[64];
};

static uint64_t icount_of(unsigned i)
{
	return 100u * (i + 1);
}

static uint16_t type_of(unsigned i)
{
	static const uint16_t types[] = {LOG_REC_CONSOLE_INPUT, LOG_REC_NET_FRAME,
					 LOG_REC_ENTROPY, LOG_REC_DIGEST};
	return types[i % 4];
}

/* Record i's payload: "record i" and i more bytes. */
static uint32_t payload_of(unsigned i, char buf[64])
{
	int n = snprintf(buf, 64, "record %u", i);
	memset(buf + n, 'a' + (int)(i % 26), i);
	return (uint32_t)n + i;
}

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static void append_file(const char *path, const void *buf, size_t len)
{
	write_mode(path, "ab", buf, len);
}

static struct entry_map map_entries(const uint8_t *seg, size_t len)
{
	struct entry_map m = {0};
	size_t off = LOG_SEG_HEADER_BYTES;
	while (off + LOG_ENTRY_HEADER_BYTES <= len && m.n < 64) {
		struct log_entry_header h;
		char why[256];
		assert_int_equal(log_entry_header_decode(seg + off, &h, why, sizeof(why)), 0);
		m.off[m.n] = off;
		m.len[m.n] = LOG_ENTRY_HEADER_BYTES + h.body_len;
		m.kind[m.n] = h.kind;
		off += m.len[m.n++];
	}
	assert_int_equal(off, len);
	return m;
}

static struct entry_map map_segment(const struct fixture *fx)
{
	size_t len;
	uint8_t *seg = read_all(fx->seg, &len);
	struct entry_map m = map_entries(seg, len);
	free(seg);
	return m;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx || sodium_init() < 0)
		return -1;
	strcpy(fx->dir, "/tmp/keel-log-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	path_in(fx->log, sizeof(fx->log), fx->dir, "log");
	path_in(fx->seal_key, sizeof(fx->seal_key), fx->dir, "seal.key");
	path_in(fx->verify_key, sizeof(fx->verify_key), fx->dir, "verify.key");
	path_in(fx->sign_key, sizeof(fx->sign_key), fx->dir, "sign.key");
	path_in(fx->sign_pub, sizeof(fx->sign_pub), fx->dir, "sign.pub");
	path_in(fx->seg, sizeof(fx->seg), fx->log, SEG0);
	char err[512];
	if (log_keygen(fx->seal_key, fx->verify_key, fx->sign_key, fx->sign_pub, err,
		       sizeof(err)) ||
	    log_verify_key_load(fx->verify_key, fx->key0, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static struct log_writer *open_writer(const struct fixture *fx, uint64_t segment_bytes)
{
	const struct log_writer_options o = {
		.dir = fx->log,
		.seal_key_path = fx->seal_key,
		.sign_key_path = fx->sign_key,
		.seal_interval_ms = LOG_NEVER,
		.seal_bytes = LOG_NEVER,
		.segment_bytes = segment_bytes,
	};
	struct log_writer *w;
	char err[512] = "";
	if (log_writer_open(&w, &o, err, sizeof(err))) {
		print_error("log_writer_open: %s\n", err);
		fail();
	}
	return w;
}

static void append_record(struct log_writer *w, unsigned i)
{
	char buf[64];
	assert_int_equal(log_writer_append(w, icount_of(i), type_of(i), buf, payload_of(i, buf)), 0);
}

/* Records [from, to) as one block. */
static void append_block(struct log_writer *w, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++)
		append_record(w, i);
	assert_int_equal(log_writer_flush(w), 0);
}

/* Entries 0..7 of the layout in the header comment. */
static struct log_writer *write_sealed_part(const struct fixture *fx, uint64_t segment_bytes)
{
	struct log_writer *w = open_writer(fx, segment_bytes);
	char cp[160];
	path_in(cp, sizeof(cp), fx->log, CHECKPOINT);
	write_all(cp, "checkpoint bytes", 16);
	append_block(w, 0, 4);
	append_block(w, 4, 8);
	assert_int_equal(log_writer_seal(w), 0);
	append_block(w, 8, 12);
	append_block(w, 12, 16);
	assert_int_equal(log_writer_seal(w), 0);
	append_record(w, 16);
	append_record(w, 17);
	assert_int_equal(log_writer_add_snapshot(w, icount_of(SNAPSHOT_RECORD), CHECKPOINT), 0);
	append_record(w, 19);
	append_record(w, 20);
	assert_int_equal(log_writer_seal(w), 0);
	return w;
}

static void write_log(const struct fixture *fx, uint64_t segment_bytes)
{
	struct log_writer *w = write_sealed_part(fx, segment_bytes);
	append_record(w, 21);
	char err[512] = "";
	if (log_writer_close(w, err, sizeof(err))) {
		print_error("log_writer_close: %s\n", err);
		fail();
	}
}

static struct log_verify_report verify_with(const struct fixture *fx, bool signatures)
{
	const struct log_verify_options o = {
		.verify_key_path = fx->verify_key,
		.sign_pub_path = signatures ? fx->sign_pub : NULL,
	};
	struct log_verify_report rep;
	if (log_verify(fx->log, &o, &rep)) {
		print_error("log_verify could not run: %s\n", rep.reason);
		fail();
	}
	return rep;
}

static struct log_verify_report verify(const struct fixture *fx)
{
	return verify_with(fx, true);
}

/* status, and the first bad position: segment, offset, entry, record. */
static void assert_bad(const struct log_verify_report *rep, enum log_status status,
		       size_t offset, uint64_t entry, uint64_t record, const char *reason_part)
{
	if (rep->status != status || rep->bad.offset != offset || rep->bad.entry != entry ||
	    rep->bad.record != record || !strstr(rep->reason, reason_part)) {
		print_error("got %s at %s offset %llu entry %llu record %llu: %s\n"
			    "want %s at offset %zu entry %llu record %llu, reason with '%s'\n",
			    log_status_name(rep->status), rep->bad.segment,
			    (unsigned long long)rep->bad.offset, (unsigned long long)rep->bad.entry,
			    (unsigned long long)rep->bad.record, rep->reason, log_status_name(status),
			    offset, (unsigned long long)entry, (unsigned long long)record,
			    reason_part);
		fail();
	}
	assert_string_equal(rep->bad.segment, SEG0);
}

/* The verified part ends at seal `seals - 1`, covering `records`. */
static void assert_verified(const struct log_verify_report *rep, uint64_t seals, uint64_t records)
{
	assert_int_equal(rep->seals, seals);
	assert_int_equal(rep->verified.record, records);
	assert_int_equal(rep->verified.icount, records ? icount_of((unsigned)records - 1) : 0);
}

/* The reader hands out records 0..RECORDS-1 of the layout, in order. */
static void assert_reads_all(const struct fixture *fx)
{
	struct log_reader *r;
	struct log_record rec;
	char err[512] = "";
	unsigned n = 0;
	assert_int_equal(log_reader_open(&r, fx->log, err, sizeof(err)), 0);
	while (log_reader_next(r, &rec) == 1) {
		assert_int_equal(rec.pos.record, n);
		assert_int_equal(rec.icount, icount_of(n++));
	}
	log_reader_close(r);
	assert_int_equal(n, RECORDS);
}

static void flip_byte(const struct fixture *fx, size_t offset)
{
	size_t len;
	uint8_t *seg = read_all(fx->seg, &len);
	assert_true(offset < len);
	seg[offset] ^= 0x20;
	write_all(fx->seg, seg, len);
	free(seg);
}

/* ------------------------------------------------------------------ */

static void test_round_trip(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 0);
	struct log_reader *r;
	char err[512] = "";
	assert_int_equal(log_reader_open(&r, fx->log, err, sizeof(err)), 0);
	struct log_record rec;
	for (unsigned i = 0; i < RECORDS; i++) {
		assert_int_equal(log_reader_next(r, &rec), 1);
		assert_int_equal(rec.pos.record, i);
		assert_int_equal(rec.icount, icount_of(i));
		if (i == SNAPSHOT_RECORD) {
			assert_int_equal(rec.type, LOG_REC_SNAPSHOT);
			assert_int_equal(rec.len, LOG_SNAPSHOT_HASH_BYTES + strlen(CHECKPOINT));
			assert_memory_equal(rec.payload + LOG_SNAPSHOT_HASH_BYTES, CHECKPOINT,
					    strlen(CHECKPOINT));
			continue;
		}
		char want[64];
		assert_int_equal(rec.type, type_of(i));
		assert_int_equal(rec.len, payload_of(i, want));
		assert_memory_equal(rec.payload, want, rec.len);
	}
	assert_int_equal(log_reader_next(r, &rec), 0);
	assert_string_equal(log_reader_note(r), "");
	log_reader_close(r);

	struct log_verify_report rep = verify(fx);
	assert_int_equal(rep.status, LOG_STATUS_VALID);
	assert_true(rep.seals_checked && rep.signatures_checked && !rep.key_from_dir);
	assert_verified(&rep, 4, RECORDS);
	assert_int_equal(log_verify_exit_code(&rep), 0);
	struct entry_map m = map_segment(fx);
	assert_int_equal(m.n, 10);
	assert_int_equal(rep.verified.offset, m.off[9]);
}

static void test_ratchet(void **state)
{
	struct fixture *fx = *state;
	struct log_writer *w = open_writer(fx, 0);
	uint8_t key[LOG_KEY_BYTES], want[LOG_KEY_BYTES];
	uint64_t epoch;
	char err[512] = "", hex0[2 * LOG_KEY_BYTES + 1];
	sodium_bin2hex(hex0, sizeof(hex0), fx->key0, LOG_KEY_BYTES);
	for (unsigned seal = 1; seal <= 3; seal++) {
		append_record(w, seal);
		assert_int_equal(log_writer_seal(w), 0);
		/* The file holds key_seal now, and key_0's hex is gone from it. */
		assert_int_equal(log_seal_key_load(fx->seal_key, &epoch, key, err, sizeof(err)), 0);
		assert_int_equal(epoch, seal);
		log_key_at_epoch(fx->key0, seal, want);
		assert_memory_equal(key, want, LOG_KEY_BYTES);
		size_t len;
		char *text = (char *)read_all(fx->seal_key, &len);
		text[len] = '\0';
		assert_null(strstr(text, hex0));
		free(text);
	}
	/* Nothing new: no seal, no ratchet. */
	assert_int_equal(log_writer_seal(w), 0);
	assert_int_equal(log_writer_seals(w), 3);
	log_writer_free(w);
	struct stat st;
	assert_int_equal(stat(fx->seal_key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* A key that has sealed a log cannot start another. */
	char other[160];
	path_in(other, sizeof(other), fx->dir, "other");
	const struct log_writer_options o = {.dir = other, .seal_key_path = fx->seal_key};
	assert_int_equal(log_writer_open(&w, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "epoch 3"));
	/* Nor can a directory that holds a log take a second one. */
	const struct log_writer_options same = {.dir = fx->log};
	assert_int_equal(log_writer_open(&w, &same, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already holds a log"));
}

static void test_ratchet_is_one_way_and_distinct(void **state)
{
	struct fixture *fx = *state;
	uint8_t k1[LOG_KEY_BYTES], k2[LOG_KEY_BYTES], k[LOG_KEY_BYTES];
	log_key_at_epoch(fx->key0, 1, k1);
	log_key_at_epoch(fx->key0, 2, k2);
	assert_memory_not_equal(k1, fx->key0, LOG_KEY_BYTES);
	assert_memory_not_equal(k1, k2, LOG_KEY_BYTES);
	memcpy(k, k1, LOG_KEY_BYTES);
	log_key_ratchet(k);
	assert_memory_equal(k, k2, LOG_KEY_BYTES);
}

/* A byte of a sealed block's compressed data flipped: zstd's checksum
 * or the chain catches it at that block. */
static void test_tamper_edited_record(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 0);
	struct entry_map m = map_segment(fx);
	flip_byte(fx, m.off[4] + LOG_ENTRY_HEADER_BYTES + (m.len[4] - LOG_ENTRY_HEADER_BYTES) / 2);
	struct log_verify_report rep = verify(fx);
	assert_bad(&rep, LOG_STATUS_TAMPERED, m.off[4], 4, 12, "");
	assert_verified(&rep, 1, 8);
	assert_int_equal(log_verify_exit_code(&rep), 1);
}

/* Replace block `entry` by a well-formed block whose records differ (one
 * dropped, or the first one's text edited): it decompresses, so only the
 * chain shows the change. */
static void rewrite_block(const struct fixture *fx, size_t entry, unsigned drop_record,
			  const char *edit)
{
	struct entry_map m = map_segment(fx);
	size_t len;
	uint8_t *seg = read_all(fx->seg, &len);
	struct log_entry_header h;
	char why[256];
	assert_int_equal(log_entry_header_decode(seg + m.off[entry], &h, why, sizeof(why)), 0);
	uint8_t raw[4096], out[LOG_ENTRY_HEADER_BYTES + 8192];
	size_t rawlen = 0;
	for (unsigned i = (unsigned)h.first_record; i < h.first_record + h.record_count; i++) {
		char buf[64];
		uint32_t n = payload_of(i, buf);
		if (i == drop_record)
			continue;
		if (edit && i == h.first_record)
			memcpy(buf, edit, strlen(edit));
		log_put_le(raw + rawlen, icount_of(i), 8);
		log_put_le(raw + rawlen + 8, type_of(i), 2);
		log_put_le(raw + rawlen + 10, n, 4);
		memcpy(raw + rawlen + LOG_RECORD_HEADER_BYTES, buf, n);
		rawlen += LOG_RECORD_HEADER_BYTES + n;
	}
	size_t z = ZSTD_compress(out + LOG_ENTRY_HEADER_BYTES, 8192, raw, rawlen, 3);
	assert_false(ZSTD_isError(z));
	h.body_len = (uint32_t)z;
	h.raw_len = (uint32_t)rawlen;
	if (drop_record != UINT32_MAX)
		h.record_count--;
	log_entry_header_encode(out, &h);
	FILE *f = fopen(fx->seg, "wb");
	assert_non_null(f);
	fwrite(seg, 1, m.off[entry], f);
	fwrite(out, 1, LOG_ENTRY_HEADER_BYTES + z, f);
	fwrite(seg + m.off[entry] + m.len[entry], 1, len - m.off[entry] - m.len[entry], f);
	fclose(f);
	free(seg);
}

static void test_tamper_edited_record_recompressed(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 0);
	struct entry_map m = map_segment(fx);
	rewrite_block(fx, 3, UINT32_MAX, "RECORD");
	struct log_verify_report rep = verify(fx);
	assert_bad(&rep, LOG_STATUS_TAMPERED, m.off[3], 3, 8, "hash chain breaks");
	assert_verified(&rep, 1, 8);
}

static void test_tamper_deleted_record(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 0);
	struct entry_map m = map_segment(fx);
	rewrite_block(fx, 3, 9, NULL);
	struct log_verify_report rep = verify(fx);
	/* The shortened block is blamed, not the (genuine) block after it. */
	assert_bad(&rep, LOG_STATUS_TAMPERED, m.off[3], 3, 8, "hash chain breaks");
	assert_verified(&rep, 1, 8);
}

/* Cut entries [from, to) out of the segment. */
static void cut_entries(const struct fixture *fx, size_t from, size_t to)
{
	struct entry_map m = map_segment(fx);
	size_t len;
	uint8_t *seg = read_all(fx->seg, &len);
	size_t a = m.off[from], b = to < m.n ? m.off[to] : len;
	memmove(seg + a, seg + b, len - b);
	write_all(fx->seg, seg, len - (b - a));
	free(seg);
}

static void test_tamper_deleted_block(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 0);
	struct entry_map m = map_segment(fx);
	cut_entries(fx, 3, 4);
	struct log_verify_report rep = verify(fx);
	assert_bad(&rep, LOG_STATUS_TAMPERED, m.off[3], 3, 8, "entries deleted");
}

static void test_tamper_reordered_blocks(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 0);
	struct entry_map m = map_segment(fx);
	size_t len;
	uint8_t *seg = read_all(fx->seg, &len), *copy = malloc(len);
	memcpy(copy, seg, len);
	/* Entries 3 and 4 swap places. */
	memcpy(seg + m.off[3], copy + m.off[4], m.len[4]);
	memcpy(seg + m.off[3] + m.len[4], copy + m.off[3], m.len[3]);
	write_all(fx->seg, seg, len);
	free(seg);
	free(copy);
	struct log_verify_report rep = verify(fx);
	assert_bad(&rep, LOG_STATUS_TAMPERED, m.off[3], 3, 8, "reordered");
}

static void truncate_to(const struct fixture *fx, size_t len)
{
	assert_int_equal(truncate(fx->seg, (off_t)len), 0);
}

/* Cut right after seal 1: what is left verifies, but it is not the whole
 * log, and verify says so instead of VALID. */
static void test_tamper_truncated_at_seal(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 0);
	struct entry_map m = map_segment(fx);
	truncate_to(fx, m.off[6]);
	struct log_verify_report rep = verify(fx);
	assert_bad(&rep, LOG_STATUS_NO_CLOSE, m.off[6], 6, 16, "not the close seal");
	assert_verified(&rep, 2, 16);
	assert_int_equal(log_verify_exit_code(&rep), 2);
}

static void test_tamper_truncated_mid_block(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 0);
	struct entry_map m = map_segment(fx);
	truncate_to(fx, m.off[6] + m.len[6] / 2);
	struct log_verify_report rep = verify(fx);
	assert_bad(&rep, LOG_STATUS_UNSEALED_TAIL, m.off[6], 6, 16, "ends inside an entry");
	assert_verified(&rep, 2, 16);
	assert_int_equal(log_verify_exit_code(&rep), 2);
}

/* An attacker who continues a log: the chain state after the entries
 * that are left, from which a well-formed next block and seal follow. */
struct forger {
	const char *seg;
	uint64_t seq, records, log_bytes, icount;
	uint8_t prev[LOG_HASH_BYTES];
};

static struct forger forger_at_end(const struct fixture *fx)
{
	struct forger f = {.seg = fx->seg};
	size_t len;
	uint8_t *seg = read_all(fx->seg, &len);
	struct entry_map m = map_entries(seg, len);
	for (size_t i = 0; i < m.n; i++) {
		const uint8_t *e = seg + m.off[i];
		struct log_entry_header h;
		char why[256];
		assert_int_equal(log_entry_header_decode(e, &h, why, sizeof(why)), 0);
		if (h.kind == LOG_ENTRY_BLOCK) {
			f.records += h.record_count;
			f.icount = h.last_icount;
		}
		log_chain_hash(f.prev, e, e + LOG_ENTRY_HEADER_BYTES, m.len[i] - LOG_ENTRY_HEADER_BYTES);
		f.log_bytes += m.len[i];
		f.seq++;
	}
	free(seg);
	return f;
}

static void forge_entry(struct forger *f, const uint8_t *entry, size_t len)
{
	append_file(f->seg, entry, len);
	log_chain_hash(f->prev, entry, entry + LOG_ENTRY_HEADER_BYTES, len - LOG_ENTRY_HEADER_BYTES);
	f->seq++;
	f->log_bytes += len;
}

/* A block holding one record of the attacker's choice. */
static void forge_block(struct forger *f, uint64_t icount, const char *text)
{
	uint8_t raw[256], entry[LOG_ENTRY_HEADER_BYTES + 512];
	uint32_t n = (uint32_t)strlen(text);
	log_put_le(raw, icount, 8);
	log_put_le(raw + 8, LOG_REC_CONSOLE_INPUT, 2);
	log_put_le(raw + 10, n, 4);
	memcpy(raw + LOG_RECORD_HEADER_BYTES, text, n);
	size_t z = ZSTD_compress(entry + LOG_ENTRY_HEADER_BYTES, 512, raw,
				 LOG_RECORD_HEADER_BYTES + n, 3);
	assert_false(ZSTD_isError(z));
	struct log_entry_header h = {
		.kind = LOG_ENTRY_BLOCK, .seq = f->seq, .wall_ns = 1, .body_len = (uint32_t)z,
		.raw_len = LOG_RECORD_HEADER_BYTES + n, .record_count = 1,
		.first_record = f->records, .first_icount = icount, .last_icount = icount,
	};
	memcpy(h.prev, f->prev, LOG_HASH_BYTES);
	log_entry_header_encode(entry, &h);
	f->records++;
	f->icount = icount;
	forge_entry(f, entry, LOG_ENTRY_HEADER_BYTES + z);
}

/* A seal claiming `epoch`, MACed with key_{key_epoch}; totals correct. */
static size_t forge_seal(struct forger *f, const struct fixture *fx, uint64_t epoch,
			 uint64_t key_epoch, uint16_t flags)
{
	uint8_t key[LOG_KEY_BYTES], entry[SEAL_ENTRY_BYTES];
	log_key_at_epoch(fx->key0, key_epoch, key);
	const struct log_seal_body v = {.epoch = epoch, .records = f->records,
					.log_bytes = f->log_bytes, .icount = f->icount};
	log_seal_build(entry, f->seq, f->prev, 2, flags, &v, key, NULL);
	size_t at = (size_t)f->log_bytes + LOG_SEG_HEADER_BYTES;
	forge_entry(f, entry, sizeof(entry));
	return at;
}

/* Cut the log after seal 1 (entry 5), then add what an attacker would:
 * maybe a block of his own, and a close seal claiming `epoch`, MACed with
 * key_{key_epoch} (he holds key_5 after taking the host at epoch 5), with
 * correct totals.  Verify must reject that seal, for `reason`. */
static void reseal_after_seal1(const struct fixture *fx, bool add_block, uint64_t epoch,
			       uint64_t key_epoch, const char *reason)
{
	write_log(fx, 0);
	struct entry_map m = map_segment(fx);
	truncate_to(fx, m.off[6]);
	struct forger f = forger_at_end(fx);
	if (add_block)
		forge_block(&f, 99999, "rm -rf /evidence\n");
	size_t seal_at = forge_seal(&f, fx, epoch, key_epoch, LOG_SEAL_CLOSE);
	struct log_verify_report rep = verify_with(fx, false);
	assert_bad(&rep, LOG_STATUS_TAMPERED, seal_at, add_block ? 7 : 6, add_block ? 17 : 16,
		   reason);
	assert_verified(&rep, 2, 16);
}

/* Truncate, keep appending, seal with the key of a later epoch. */
static void test_tamper_truncate_and_continue_later_key(void **state)
{
	reseal_after_seal1(*state, true, 2, 5, "MAC does not verify");
}

/* Cut after seal 1 and splice in a whole new log made by a fresh writer
 * with a fresh key: its chain starts at entry 0. */
static void test_tamper_truncate_and_continue_fresh_chain(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 0);
	struct entry_map m = map_segment(fx);
	truncate_to(fx, m.off[6]);
	char other[160];
	path_in(other, sizeof(other), fx->dir, "fresh");
	const struct log_writer_options o = {.dir = other};
	struct log_writer *w;
	char err[512] = "", seg[200];
	assert_int_equal(log_writer_open(&w, &o, err, sizeof(err)), 0);
	assert_non_null(log_writer_warning(w));
	append_block(w, 16, 20);
	assert_int_equal(log_writer_close(w, err, sizeof(err)), 0);
	path_in(seg, sizeof(seg), other, SEG0);
	size_t len;
	uint8_t *fresh = read_all(seg, &len);
	append_file(fx->seg, fresh + LOG_SEG_HEADER_BYTES, len - LOG_SEG_HEADER_BYTES);
	free(fresh);
	struct log_verify_report rep = verify(fx);
	assert_bad(&rep, LOG_STATUS_TAMPERED, m.off[6], 6, 16, "entry 0 found where entry 6");
	assert_verified(&rep, 2, 16);
}

/* Strip everything after seal 1 and reseal with key_5, claiming epoch 5
 * honestly (the MAC is right for epoch 5): epochs must be consecutive. */
static void test_tamper_strip_and_reseal_later_epoch(void **state)
{
	reseal_after_seal1(*state, false, 5, 5, "claims epoch 5 where seal 2");
}

/* The same, but the forged seal claims epoch 2 with key_5's MAC. */
static void test_tamper_strip_and_reseal_wrong_key(void **state)
{
	reseal_after_seal1(*state, false, 2, 5, "MAC does not verify");
}

/* systemd CVE-2023-31438 class: entries appended after the last seal
 * must never count as verified. */
static void test_tamper_unsealed_tail(void **state)
{
	struct fixture *fx = *state;
	struct log_writer *w = write_sealed_part(fx, 0);
	append_block(w, 21, 22);
	log_writer_free(w); /* no seal: the tail stays unsealed */
	struct entry_map m = map_segment(fx);
	assert_int_equal(m.n, 9);
	struct log_verify_report rep = verify(fx);
	assert_bad(&rep, LOG_STATUS_UNSEALED_TAIL, m.off[8], 8, 21, "1 records in 1 entries");
	assert_verified(&rep, 3, 21);
	assert_int_equal(log_verify_exit_code(&rep), 2);

	/* The reader still hands out the tail; replay stops at verified. */
	assert_reads_all(fx);
}

/* A block appended after the close seal, chained correctly. */
static void test_tamper_entry_after_close(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 0);
	struct forger f = forger_at_end(fx);
	size_t at = (size_t)f.log_bytes + LOG_SEG_HEADER_BYTES;
	forge_block(&f, 99999, "late\n");
	struct log_verify_report rep = verify(fx);
	assert_bad(&rep, LOG_STATUS_TAMPERED, at, 10, RECORDS, "after the close seal");
	assert_verified(&rep, 4, RECORDS);
}

/* The checkpoint file replaced by another: verify rehashes it. */
static void test_tamper_swapped_checkpoint(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 0);
	struct entry_map m = map_segment(fx);
	char cp[160];
	path_in(cp, sizeof(cp), fx->log, CHECKPOINT);
	write_all(cp, "another snapshot", 16);
	struct log_verify_report rep = verify(fx);
	assert_bad(&rep, LOG_STATUS_TAMPERED, m.off[6], 6, SNAPSHOT_RECORD, "cp-1.snap does not match");
	assert_int_equal(rep.bad.icount, icount_of(SNAPSHOT_RECORD));
	assert_verified(&rep, 2, 16);

	unlink(cp);
	rep = verify(fx);
	assert_bad(&rep, LOG_STATUS_TAMPERED, m.off[6], 6, SNAPSHOT_RECORD, "No such file");
}

/* A flipped bit in seal 1's signature (not covered by its MAC). */
static void test_tamper_bad_signature(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 0);
	struct entry_map m = map_segment(fx);
	flip_byte(fx, m.off[5] + LOG_ENTRY_HEADER_BYTES + 64 + 10);
	struct log_verify_report rep = verify(fx);
	assert_bad(&rep, LOG_STATUS_TAMPERED, m.off[5], 5, 16, "signature does not verify");
	assert_verified(&rep, 1, 8);
}

static void test_wrong_sign_pub(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 0);
	char seal[160], verify_key[160], sign[160], pub[160], err[512] = "";
	path_in(seal, sizeof(seal), fx->dir, "2.seal");
	path_in(verify_key, sizeof(verify_key), fx->dir, "2.verify");
	path_in(sign, sizeof(sign), fx->dir, "2.sign");
	path_in(pub, sizeof(pub), fx->dir, "2.pub");
	assert_int_equal(log_keygen(seal, verify_key, sign, pub, err, sizeof(err)), 0);
	struct log_verify_options o = {.verify_key_path = fx->verify_key, .sign_pub_path = pub};
	struct log_verify_report rep;
	assert_int_equal(log_verify(fx->log, &o, &rep), 0);
	struct entry_map m = map_segment(fx);
	assert_bad(&rep, LOG_STATUS_TAMPERED, m.off[2], 2, 8, "signature does not verify");
	/* With the other log's verify key, seal 0's MAC fails. */
	o = (struct log_verify_options){.verify_key_path = verify_key};
	assert_int_equal(log_verify(fx->log, &o, &rep), 0);
	assert_bad(&rep, LOG_STATUS_TAMPERED, m.off[2], 2, 8, "MAC does not verify");
	assert_verified(&rep, 0, 0);
}

static void test_no_key_checks_chain_only(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 0);
	const struct log_verify_options o = {.no_dir_key = true};
	struct log_verify_report rep;
	assert_int_equal(log_verify(fx->log, &o, &rep), 0);
	assert_int_equal(rep.status, LOG_STATUS_VALID);
	assert_false(rep.seals_checked);
	assert_int_equal(log_verify_exit_code(&rep), 3);
}

/* Without a seal key the writer makes one and leaves key_0 in DIR;
 * verify falls back to it and says so. */
static void test_generated_key_in_dir(void **state)
{
	struct fixture *fx = *state;
	const struct log_writer_options o = {.dir = fx->log};
	struct log_writer *w;
	char err[512] = "";
	assert_int_equal(log_writer_open(&w, &o, err, sizeof(err)), 0);
	assert_non_null(strstr(log_writer_warning(w), "verify.key"));
	append_block(w, 0, 3);
	assert_int_equal(log_writer_close(w, err, sizeof(err)), 0);
	struct log_verify_report rep;
	assert_int_equal(log_verify(fx->log, NULL, &rep), 0);
	assert_int_equal(rep.status, LOG_STATUS_VALID);
	assert_true(rep.seals_checked && rep.key_from_dir);
	assert_verified(&rep, 1, 3);
}

static void test_segments(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 600);
	char seg2[160];
	path_in(seg2, sizeof(seg2), fx->log, "seg-000002.klog");
	assert_int_equal(access(seg2, F_OK), 0);
	struct log_verify_report rep = verify(fx);
	assert_int_equal(rep.status, LOG_STATUS_VALID);
	assert_verified(&rep, 4, RECORDS);
	assert_reads_all(fx);

	/* A whole segment deleted from the middle. */
	char seg1[160];
	path_in(seg1, sizeof(seg1), fx->log, "seg-000001.klog");
	assert_int_equal(unlink(seg1), 0);
	rep = verify(fx);
	assert_int_equal(rep.status, LOG_STATUS_TAMPERED);
	assert_string_equal(rep.bad.segment, "seg-000001.klog");
	assert_non_null(strstr(rep.reason, "segments missing"));
}

/* kill -9 of a writer between seals: everything up to the last seal
 * verifies, the rest is an unsealed tail. */
static void test_crash_kill9(void **state)
{
	struct fixture *fx = *state;
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct log_writer *w = write_sealed_part(fx, 0);
		for (unsigned i = 0; i < 200; i++)
			append_record(w, 21); /* some of it flushed to disk, some not */
		assert_int_equal(log_writer_flush(w), 0);
		append_record(w, 21);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	char c;
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status));
	struct log_verify_report rep = verify(fx);
	assert_int_equal(rep.status, LOG_STATUS_UNSEALED_TAIL);
	assert_verified(&rep, 3, 21);
	assert_int_equal(rep.bad.entry, 8);
	assert_int_equal(rep.records, 221);
	/* A torn last entry (the write was cut short) is a tail too. */
	struct entry_map m = map_segment(fx);
	truncate_to(fx, m.off[8] + 50);
	rep = verify(fx);
	assert_bad(&rep, LOG_STATUS_UNSEALED_TAIL, m.off[8], 8, 21, "ends inside an entry header");
	/* And so is a power loss's zero-filled tail. */
	uint8_t zeros[300] = {0};
	truncate_to(fx, m.off[8]);
	append_file(fx->seg, zeros, sizeof(zeros));
	rep = verify(fx);
	assert_bad(&rep, LOG_STATUS_UNSEALED_TAIL, m.off[8], 8, 21, "zero-filled");
}

/* Random garbage in place of a log, and every truncation of a real one:
 * never a crash, never VALID. */
static void test_hostile_files(void **state)
{
	struct fixture *fx = *state;
	write_log(fx, 0);
	size_t len;
	uint8_t *seg = read_all(fx->seg, &len);
	for (size_t cut = 0; cut < len; cut += 7) {
		write_all(fx->seg, seg, cut);
		struct log_verify_report rep = verify(fx);
		assert_int_not_equal(rep.status, LOG_STATUS_VALID);
	}
	for (int round = 0; round < 200; round++) {
		uint8_t *junk = malloc(len);
		memcpy(junk, seg, len);
		for (int k = 0; k < 4; k++)
			/* Past the segment header, whose creation time is display-only. */
			junk[LOG_SEG_HEADER_BYTES +
			     randombytes_uniform((uint32_t)(len - LOG_SEG_HEADER_BYTES))] ^=
				(uint8_t)(1 + randombytes_uniform(255));
		write_all(fx->seg, junk, len);
		struct log_verify_report rep = verify(fx);
		assert_int_not_equal(rep.status, LOG_STATUS_VALID);
		free(junk);
	}
	free(seg);
}

static void test_record_type_names(void **state)
{
	(void)state;
	assert_string_equal(log_record_type_name(LOG_REC_CONSOLE_INPUT), "console");
	assert_string_equal(log_record_type_name(LOG_REC_SNAPSHOT), "snapshot");
	assert_string_equal(log_record_type_name(LOG_REC_SESSION_END), "session-end");
	assert_string_equal(log_record_type_name(999), "unknown");
	assert_int_equal(LOG_REC_NET_FRAME, EV_NET_FRAME);
	assert_int_equal(LOG_REC_TIME_ADJUST, EV_TIME_ADJUST);
}

#define LOG_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* `test_log NAME` runs only the test NAME: tests/meson.build makes each
 * test here its own meson test (keep its list in step with this one). */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		LOG_TEST(test_round_trip),
		LOG_TEST(test_ratchet),
		LOG_TEST(test_ratchet_is_one_way_and_distinct),
		LOG_TEST(test_tamper_edited_record),
		LOG_TEST(test_tamper_edited_record_recompressed),
		LOG_TEST(test_tamper_deleted_record),
		LOG_TEST(test_tamper_deleted_block),
		LOG_TEST(test_tamper_reordered_blocks),
		LOG_TEST(test_tamper_truncated_at_seal),
		LOG_TEST(test_tamper_truncated_mid_block),
		LOG_TEST(test_tamper_truncate_and_continue_later_key),
		LOG_TEST(test_tamper_truncate_and_continue_fresh_chain),
		LOG_TEST(test_tamper_strip_and_reseal_later_epoch),
		LOG_TEST(test_tamper_strip_and_reseal_wrong_key),
		LOG_TEST(test_tamper_unsealed_tail),
		LOG_TEST(test_tamper_entry_after_close),
		LOG_TEST(test_tamper_swapped_checkpoint),
		LOG_TEST(test_tamper_bad_signature),
		LOG_TEST(test_wrong_sign_pub),
		LOG_TEST(test_no_key_checks_chain_only),
		LOG_TEST(test_generated_key_in_dir),
		LOG_TEST(test_segments),
		LOG_TEST(test_crash_kill9),
		LOG_TEST(test_hostile_files),
		cmocka_unit_test(test_record_type_names),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
