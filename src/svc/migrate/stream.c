/* See stream.h and docs/migrate.md.  Every message from the peer is
 * untrusted even after the channel authenticated it (a peer that holds
 * the key may still be broken): lengths, page numbers and records are
 * checked before anything is written. */
#include "svc/migrate/stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "vm/ram_page.h"
#include "vm/taps.h"

#define ZSTD_LEVEL 1 /* the link is fast; the VM waits on the compressor */

const char *mig_msg_name(uint8_t type)
{
	static const char *const names[] = {
		[MIG_CONF] = "CONF", [MIG_RAM] = "RAM", [MIG_DISK] = "DISK",
		[MIG_ROUND] = "ROUND", [MIG_STATE] = "STATE", [MIG_END] = "END",
		[MIG_READY] = "READY", [MIG_GO] = "GO", [MIG_RUNNING] = "RUNNING",
		[MIG_ERROR] = "ERROR", [MIG_ACCEPT] = "ACCEPT", [MIG_AHEAD] = "AHEAD",
		[MIG_POSTCOPY] = "POSTCOPY", [MIG_PAGE_REQ] = "PAGE_REQ", [MIG_PC_DONE] = "PC_DONE",
		[MIG_COMPLETE] = "COMPLETE", [MIG_NEED_BASE] = "NEED_BASE", [MIG_BASE] = "BASE",
		[MIG_BASE_END] = "BASE_END", [MIG_PC_ACK] = "PC_ACK",
		[MIG_SYNC] = "SYNC", [MIG_SYNCED] = "SYNCED",
	};
	return type < sizeof(names) / sizeof(names[0]) && names[type] ? names[type] : "unknown";
}

/* ---- CONF ---- */

void mig_conf_encode(struct state_writer *w, const struct mig_conf *c)
{
	sw_put_u32(w, c->version);
	sw_put_u64(w, c->ram_base);
	sw_put_u64(w, c->ram_size);
	sw_put_u8(w, c->has_net);
	sw_put_u8(w, (uint8_t)c->disk.kind);
	sw_put_u8(w, c->disk.readonly);
	sw_put_u64(w, c->disk.size);
	sw_put_bytes(w, c->disk.base_hash, sizeof(c->disk.base_hash));
	sw_put_u64(w, c->icount);
}

int mig_conf_decode(const uint8_t *p, size_t len, struct mig_conf *c, char *err, size_t errlen)
{
	struct state_reader r;
	sr_init(&r, p, len);
	memset(c, 0, sizeof(*c));
	c->version = sr_u32(&r);
	if (!sr_failed(&r) && c->version != MIG_STREAM_VERSION) {
		snprintf(err, errlen, "the source sends stream version %u, this keel reads %u",
			 c->version, MIG_STREAM_VERSION);
		return -1;
	}
	c->ram_base = sr_u64(&r);
	c->ram_size = sr_u64(&r);
	c->has_net = sr_bool(&r);
	uint8_t kind = sr_u8(&r);
	c->disk.readonly = sr_bool(&r);
	c->disk.size = sr_u64(&r);
	sr_bytes(&r, c->disk.base_hash, sizeof(c->disk.base_hash));
	c->icount = sr_u64(&r);
	if (!sr_failed(&r) && (kind > DISK_OVERLAY || sr_remaining(&r)))
		sr_fail(&r, "CONF: unknown disk kind or trailing bytes");
	c->disk.kind = (enum disk_kind)kind;
	if (!sr_failed(&r))
		return 0;
	snprintf(err, errlen, "bad CONF message: %s", r.err);
	return -1;
}

static const char *kind_name(enum disk_kind k)
{
	return k == DISK_NONE ? "no disk" : k == DISK_RAW ? "a raw disk" : "an overlay disk";
}

int mig_conf_check(const struct mig_conf *c, const struct machine *m, char *err, size_t errlen)
{
	struct memview mv;
	struct disk_identity have;
	taps_memview(m, &mv);
	taps_disk_identity(m, &have);
	if (c->ram_base != mv.base || c->ram_size != mv.size) {
		snprintf(err, errlen, "the VM has %llu MiB of RAM, this keel was started with %llu MiB "
				      "(-m must match)",
			 (unsigned long long)(c->ram_size >> 20), (unsigned long long)(mv.size >> 20));
		return -1;
	}
	if (c->disk.kind != have.kind) {
		snprintf(err, errlen, "the VM has %s, this keel %s (give --disk %s)",
			 kind_name(c->disk.kind), kind_name(have.kind),
			 c->disk.kind == DISK_OVERLAY ? "BASE,overlay=NEW.kov"
			 : c->disk.kind == DISK_RAW ? "IMAGE,readonly" : "none");
		return -1;
	}
	if (c->disk.size != have.size) {
		snprintf(err, errlen, "the VM's disk has %llu bytes, this keel's %s %llu",
			 (unsigned long long)c->disk.size, have.path, (unsigned long long)have.size);
		return -1;
	}
	if (have.kind == DISK_OVERLAY &&
	    memcmp(c->disk.base_hash, have.base_hash, sizeof(have.base_hash))) {
		char want[2 * OVERLAY_HASH_BYTES + 1];
		overlay_hash_hex(c->disk.base_hash, want);
		snprintf(err, errlen, "this keel's base image %s is not the VM's (BLAKE2b %.16s...)",
			 have.base_path, want);
		return -1;
	}
	if (have.kind == DISK_OVERLAY && have.overlay_len != OVERLAY_HEADER_BYTES) {
		snprintf(err, errlen, "this keel's overlay %s already holds records: give a new file",
			 have.path);
		return -1;
	}
	if (have.kind == DISK_RAW && (!have.readonly || !c->disk.readonly)) {
		snprintf(err, errlen, "a raw disk can only move read-only on both sides");
		return -1;
	}
	return 0;
}

/* ---- sections sent ahead ---- */

bool mig_section_ahead(uint32_t tag)
{
	return tag == STATE_TAG('B', 'O', 'O', 'T');
}

int mig_split_sections(const uint8_t *p, size_t len, struct state_writer *ahead,
		       struct state_writer *rest)
{
	struct state_reader r;
	struct state_section sec;
	int rc;
	sr_init(&r, p, len);
	while ((rc = sr_next_section(&r, &sec)) == 1) {
		const uint8_t *start = sec.body.p - STATE_SECTION_HEADER_LEN;
		size_t n = STATE_SECTION_HEADER_LEN + sec.body.len;
		struct state_writer *to = mig_section_ahead(sec.tag) ? ahead : rest;
		if (to)
			sw_put_bytes(to, start, n);
	}
	return rc < 0 || (ahead && ahead->oom) || (rest && rest->oom) ? -1 : 0;
}

/* ---- RAM ---- */

/* Runs of consecutive pages that are all zero or all data. */
static size_t count_runs(const struct memview *mv, const uint32_t *pages, size_t n, bool *zero)
{
	size_t runs = 0;
	for (size_t i = 0; i < n; i++) {
		zero[i] = ram_page_is_zero(mv->ram + (uint64_t)pages[i] * MIG_PAGE);
		runs += i == 0 || pages[i] != pages[i - 1] + 1 || zero[i] != zero[i - 1];
	}
	return runs;
}

static int compress_pages(struct state_writer *w, const struct memview *mv,
			  const uint32_t *pages, const bool *zero, size_t n, size_t data,
			  char *err, size_t errlen)
{
	uint8_t *raw = malloc(data ? data * MIG_PAGE : 1);
	size_t bound = ZSTD_compressBound(data * MIG_PAGE);
	uint8_t *out = raw ? sw_reserve(w, bound) : NULL;
	if (!out) {
		free(raw);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!zero[i])
			memcpy(raw + MIG_PAGE * k++, mv->ram + (uint64_t)pages[i] * MIG_PAGE, MIG_PAGE);
	size_t before = w->len - bound;
	size_t clen = ZSTD_compress(out, bound, raw, data * MIG_PAGE, ZSTD_LEVEL);
	free(raw);
	if (ZSTD_isError(clen)) {
		snprintf(err, errlen, "zstd: %s", ZSTD_getErrorName(clen));
		return -1;
	}
	w->len = before + clen;
	return 0;
}

int mig_ram_encode(struct state_writer *w, const struct machine *m, const uint32_t *pages,
		   size_t n, unsigned *zero_pages, char *err, size_t errlen)
{
	struct memview mv;
	taps_memview(m, &mv);
	bool zero[MIG_BATCH_PAGES];
	if (n > MIG_BATCH_PAGES) {
		snprintf(err, errlen, "RAM batch of %zu pages", n);
		return -1;
	}
	size_t runs = count_runs(&mv, pages, n, zero), data = 0;
	sw_put_u32(w, (uint32_t)runs);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && pages[j] == pages[j - 1] + 1 && zero[j] == zero[i])
			j++;
		sw_put_u32(w, pages[i]);
		sw_put_u32(w, (uint32_t)(j - i));
		sw_put_u8(w, zero[i]);
		if (!zero[i])
			data += j - i;
		i = j;
	}
	*zero_pages = (unsigned)(n - data);
	sw_put_u32(w, (uint32_t)data);
	return compress_pages(w, &mv, pages, zero, n, data, err, errlen);
}

struct ram_run {
	uint32_t first, count;
	bool zero;
};

/* Decode and check the run list; *data: how many pages carry data. */
static int read_runs(struct state_reader *r, uint64_t npages, struct ram_run *runs,
		     uint32_t *nruns, uint32_t *data)
{
	uint32_t n = sr_u32(r), total = 0;
	*data = 0;
	if (!sr_failed(r) && n > MIG_BATCH_PAGES)
		return sr_fail(r, "RAM: %u runs in one batch", n);
	for (uint32_t i = 0; i < n && !sr_failed(r); i++) {
		runs[i].first = sr_u32(r);
		runs[i].count = sr_u32(r);
		runs[i].zero = sr_bool(r);
		if (sr_failed(r))
			break;
		if (runs[i].count == 0 || runs[i].count > MIG_BATCH_PAGES - total ||
		    runs[i].first >= npages || runs[i].count > npages - runs[i].first)
			return sr_fail(r, "RAM: a run of %u pages at page %u is out of range",
				       runs[i].count, runs[i].first);
		total += runs[i].count;
		if (!runs[i].zero)
			*data += runs[i].count;
	}
	uint32_t declared = sr_u32(r);
	if (!sr_failed(r) && declared != *data)
		return sr_fail(r, "RAM: runs hold %u data pages, the batch says %u", *data, declared);
	*nruns = n;
	return sr_failed(r) ? -1 : 0;
}

long mig_ram_decode(uint64_t npages, const uint8_t *p, size_t len, mig_page_fn put, void *opaque,
		    char *err, size_t errlen)
{
	static const uint8_t zero_page[MIG_PAGE];
	struct ram_run *runs = malloc(sizeof(*runs) * MIG_BATCH_PAGES);
	uint8_t *raw = NULL;
	struct state_reader r;
	sr_init(&r, p, len);
	uint32_t nruns = 0, data = 0;
	long pages = -1;
	if (!runs) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (read_runs(&r, npages, runs, &nruns, &data)) {
		snprintf(err, errlen, "%s", r.err);
		goto out;
	}
	/* As many pages as the batch carries data for, not the 4 MiB a full
	 * batch may: most messages carry a few pages, or only zero runs. */
	if (!(raw = malloc(data ? (size_t)data * MIG_PAGE : 1))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	size_t clen = sr_remaining(&r);
	size_t got = ZSTD_decompress(raw, (size_t)data * MIG_PAGE, p + r.pos, clen);
	if (ZSTD_isError(got) || got != (size_t)data * MIG_PAGE) {
		snprintf(err, errlen, "RAM: compressed pages do not decode to %u pages (%s)", data,
			 ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong length");
		goto out;
	}
	size_t k = 0;
	pages = 0;
	for (uint32_t i = 0; i < nruns; i++) {
		for (uint32_t j = 0; j < runs[i].count; j++)
			put(opaque, runs[i].first + j, runs[i].zero ? zero_page : raw + MIG_PAGE * k++);
		pages += runs[i].count;
	}
out:
	free(runs);
	free(raw);
	return pages;
}

static void put_phys(void *opaque, uint64_t page, const uint8_t *data)
{
	struct machine *m = opaque;
	struct memview mv;
	taps_memview(m, &mv);
	taps_write_phys(m, mv.base + page * MIG_PAGE, data, MIG_PAGE);
}

long mig_ram_apply(struct machine *m, const uint8_t *p, size_t len, char *err, size_t errlen)
{
	struct memview mv;
	taps_memview(m, &mv);
	return mig_ram_decode(mv.size / MIG_PAGE, p, len, put_phys, m, err, errlen);
}

/* ---- POSTCOPY, COMPLETE ---- */

void mig_bitmap_encode(struct state_writer *w, const uint64_t *bits, uint64_t npages)
{
	sw_put_u64(w, npages);
	for (uint64_t i = 0; i < (npages + 63) / 64; i++)
		sw_put_u64(w, bits[i]);
}

int mig_bitmap_decode(const uint8_t *p, size_t len, uint64_t npages, uint64_t **out, char *err,
		      size_t errlen)
{
	struct state_reader r;
	sr_init(&r, p, len);
	uint64_t n = sr_u64(&r), words = (npages + 63) / 64;
	*out = NULL;
	if (sr_failed(&r) || n != npages || sr_remaining(&r) != words * 8) {
		snprintf(err, errlen, "POSTCOPY: a bitmap of %llu pages in %zu bytes, RAM has %llu",
			 (unsigned long long)n, len, (unsigned long long)npages);
		return -1;
	}
	uint64_t *bits = malloc(words ? words * 8 : 8);
	if (!bits) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (uint64_t i = 0; i < words; i++)
		bits[i] = sr_u64(&r);
	if (npages % 64 && bits[words - 1] >> (npages % 64)) {
		free(bits);
		snprintf(err, errlen, "POSTCOPY: pages past the end of RAM");
		return -1;
	}
	*out = bits;
	return 0;
}

void mig_pc_figures_encode(struct state_writer *w, const struct mig_pc_figures *f)
{
	sw_put_u64(w, f->faults);
	sw_put_u64(w, f->pages);
	sw_put_u64(w, f->slowest_fault_us);
	sw_put_u64(w, f->fault_wait_us);
}

int mig_pc_figures_decode(const uint8_t *p, size_t len, struct mig_pc_figures *f)
{
	struct state_reader r;
	sr_init(&r, p, len);
	f->faults = sr_u64(&r);
	f->pages = sr_u64(&r);
	f->slowest_fault_us = sr_u64(&r);
	f->fault_wait_us = sr_u64(&r);
	return sr_failed(&r) || sr_remaining(&r) ? -1 : 0;
}

/* ---- DISK ---- */

int mig_disk_encode(struct state_writer *w, uint64_t off, const uint8_t *records, size_t len,
		    char *err, size_t errlen)
{
	sw_put_u64(w, off);
	sw_put_u64(w, len);
	size_t bound = ZSTD_compressBound(len);
	uint8_t *out = sw_reserve(w, bound);
	if (!out) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t before = w->len - bound;
	size_t clen = ZSTD_compress(out, bound, records, len, ZSTD_LEVEL);
	if (ZSTD_isError(clen)) {
		snprintf(err, errlen, "zstd: %s", ZSTD_getErrorName(clen));
		return -1;
	}
	w->len = before + clen;
	return 0;
}

static int write_records(struct machine *m, const uint8_t *rec, size_t n, uint64_t size,
			 char *err, size_t errlen)
{
	uint64_t nblocks = (size + OVERLAY_BLOCK - 1) / OVERLAY_BLOCK;
	for (size_t i = 0; i < n; i++, rec += OVERLAY_RECORD_BYTES) {
		uint64_t block, off;
		if (!overlay_record_valid(rec, nblocks, &block)) {
			snprintf(err, errlen, "DISK: record %zu of the batch is corrupt", i);
			return -1;
		}
		off = block * OVERLAY_BLOCK;
		/* The base's last block may be partial: the guest never wrote
		 * past the end, so the record's tail is zeros either way. */
		size_t len = size - off < OVERLAY_BLOCK ? (size_t)(size - off) : OVERLAY_BLOCK;
		if (taps_disk_write(m, off, rec + OVERLAY_RECORD_HEADER, len)) {
			snprintf(err, errlen, "DISK: writing block %llu: %s", (unsigned long long)block,
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}

int mig_disk_apply(struct machine *m, const uint8_t *p, size_t len, uint64_t *end_out, char *err,
		   size_t errlen)
{
	struct state_reader r;
	struct disk_identity have;
	sr_init(&r, p, len);
	uint64_t off = sr_u64(&r), raw = sr_u64(&r);
	taps_disk_identity(m, &have);
	if (sr_failed(&r) || have.kind != DISK_OVERLAY || raw % OVERLAY_RECORD_BYTES ||
	    raw > (uint64_t)MIG_DISK_RECORDS * OVERLAY_RECORD_BYTES) {
		snprintf(err, errlen, "DISK: a bad batch header (or this keel has no overlay)");
		return -1;
	}
	if (off != have.overlay_len) {
		snprintf(err, errlen, "DISK: records for offset %llu, the overlay ends at %llu",
			 (unsigned long long)off, (unsigned long long)have.overlay_len);
		return -1;
	}
	uint8_t *buf = malloc(raw ? (size_t)raw : 1);
	size_t got = buf ? ZSTD_decompress(buf, (size_t)raw, p + r.pos, sr_remaining(&r)) : 0;
	int rc = -1;
	if (!buf)
		snprintf(err, errlen, "out of memory");
	else if (ZSTD_isError(got) || got != raw)
		snprintf(err, errlen, "DISK: compressed records do not decode to %llu bytes",
			 (unsigned long long)raw);
	else
		rc = write_records(m, buf, (size_t)(raw / OVERLAY_RECORD_BYTES), have.size, err,
				   errlen);
	free(buf);
	*end_out = off + raw;
	return rc;
}
