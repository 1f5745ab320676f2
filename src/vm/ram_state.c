/* Guest RAM as a snapshot section (docs/snapshot-format.md, RAM): a bitmap
 * of the non-zero pages, then those pages as one zstd frame.  The boot
 * image (machine.c) is the same encoding. */
#include "vm/ram_state.h"

#include <string.h>
#include <sys/mman.h>
#include <zstd.h>

#include "bus/bus.h"
#include "lib/state_io.h"
#include "vm/ram_page.h"

#define PAGE_SIZE RAM_PAGE_SIZE
#define ZSTD_LEVEL 1 /* speed over ratio: snapshots are taken on the hot path of clone/migrate */

int ram_state_save(const uint8_t *ram, uint64_t size, bool checksum, struct state_writer *w,
		   char *err, size_t errlen)
{
	uint64_t npages = size / PAGE_SIZE;
	size_t bitmap_len = (size_t)((npages + 7) / 8);
	sw_put_u32(w, PAGE_SIZE);
	sw_put_u64(w, npages);
	uint8_t *bitmap = sw_reserve(w, bitmap_len);
	if (!bitmap)
		goto oom;
	memset(bitmap, 0, bitmap_len);
	uint64_t nonzero = 0;
	for (uint64_t i = 0; i < npages; i++) {
		if (!ram_page_is_zero(ram + i * PAGE_SIZE)) {
			bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
			nonzero++;
		}
	}
	sw_put_u64(w, nonzero);
	size_t len_at = w->len;
	sw_put_u64(w, 0); /* compressed length, patched below */

	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	if (!cctx)
		goto oom;
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, checksum);
	ZSTD_CCtx_setPledgedSrcSize(cctx, nonzero * PAGE_SIZE);
	size_t start = w->len, chunk = ZSTD_CStreamOutSize();
	int rc = 0;
	/* Re-derive the bitmap's pages (w->buf may move as it grows). */
	for (uint64_t i = 0; i <= npages && rc == 0; i++) {
		bool last = i == npages;
		if (!last && !(w->buf[len_at - bitmap_len - 8 + i / 8] & (1u << (i % 8))))
			continue;
		ZSTD_inBuffer in = {last ? NULL : ram + i * PAGE_SIZE, last ? 0 : PAGE_SIZE, 0};
		ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
		for (;;) {
			size_t before = w->len;
			uint8_t *out = sw_reserve(w, chunk);
			if (!out) {
				rc = -1;
				break;
			}
			ZSTD_outBuffer ob = {out, chunk, 0};
			size_t left = ZSTD_compressStream2(cctx, &ob, &in, mode);
			w->len = before + ob.pos;
			if (ZSTD_isError(left)) {
				snprintf(err, errlen, "snapshot: zstd: %s", ZSTD_getErrorName(left));
				rc = -2;
				break;
			}
			if (last ? left == 0 : in.pos == in.size)
				break;
		}
	}
	ZSTD_freeCCtx(cctx);
	if (rc == -1)
		goto oom;
	if (rc)
		return -1;
	uint64_t clen = w->len - start;
	for (int i = 0; i < 8; i++)
		w->buf[len_at + i] = (uint8_t)(clen >> (8 * i));
	return 0;
oom:
	snprintf(err, errlen, "snapshot: out of memory compressing RAM");
	return -1;
}

/* Pages [from, to) are not in the snapshot: they read as zero.  Dropping
 * them (guest RAM is anonymous memory) zeroes them without touching them;
 * reading each to see whether it is already zero would fault in, and with
 * transparent huge pages clear, memory a fresh machine never used. */
static void zero_absent(uint8_t *ram, uint64_t from, uint64_t to)
{
	if (to > from)
		madvise(ram + from * PAGE_SIZE, (to - from) * PAGE_SIZE, MADV_DONTNEED);
}

static int read_ram(struct state_reader *r, uint8_t *ram, uint64_t size);

/* RAM is written directly, not through the bus, so decoded code goes
 * stale here whether the read succeeds or not. */
int ram_state_load(uint8_t *ram, uint64_t size, struct bus *bus, struct state_reader *r)
{
	int rc = read_ram(r, ram, size);
	bus_ram_rewritten(bus);
	return rc;
}

static int read_ram(struct state_reader *r, uint8_t *ram, uint64_t size)
{
	uint32_t page = sr_u32(r);
	uint64_t npages = sr_u64(r);
	if (sr_failed(r))
		return -1;
	if (page != PAGE_SIZE || npages != size / PAGE_SIZE)
		return sr_fail(r, "RAM: %llu pages of %u bytes, this machine has %llu of %u",
			       (unsigned long long)npages, page,
			       (unsigned long long)(size / PAGE_SIZE), PAGE_SIZE);
	size_t bitmap_len = (size_t)((npages + 7) / 8);
	const uint8_t *bitmap = sr_take(r, bitmap_len);
	uint64_t nonzero = sr_u64(r), clen = sr_u64(r);
	if (sr_failed(r))
		return -1;
	uint64_t counted = 0;
	for (uint64_t i = 0; i < npages; i++)
		counted += (bitmap[i / 8] >> (i % 8)) & 1;
	if (counted != nonzero)
		return sr_fail(r, "RAM: bitmap marks %llu pages, header says %llu",
			       (unsigned long long)counted, (unsigned long long)nonzero);
	if (npages % 8 && bitmap[bitmap_len - 1] >> (npages % 8))
		return sr_fail(r, "RAM: bitmap marks pages past the end of RAM");
	const uint8_t *comp = sr_take(r, clen);
	if (!comp)
		return -1;

	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	if (!dctx)
		return sr_fail(r, "RAM: out of memory");
	ZSTD_inBuffer in = {comp, (size_t)clen, 0};
	int rc = 0;
	size_t ret = 1; /* zstd's "more to come" hint; 0 once the frame is complete */
	uint64_t zero_from = 0; /* the run of absent pages that ends before page i */
	for (uint64_t i = 0; i < npages && rc == 0; i++) {
		uint8_t *dst = ram + i * PAGE_SIZE;
		if (!((bitmap[i / 8] >> (i % 8)) & 1))
			continue;
		zero_absent(ram, zero_from, i);
		zero_from = i + 1;
		ZSTD_outBuffer out = {dst, PAGE_SIZE, 0};
		while (out.pos < out.size) {
			ret = ZSTD_decompressStream(dctx, &out, &in);
			if (ZSTD_isError(ret)) {
				rc = sr_fail(r, "RAM: corrupt compressed data (%s)",
					     ZSTD_getErrorName(ret));
				break;
			}
			if (out.pos < out.size && in.pos == in.size) {
				rc = sr_fail(r, "RAM: compressed data ends early (page %llu)",
					     (unsigned long long)i);
				break;
			}
		}
	}
	if (rc == 0)
		zero_absent(ram, zero_from, npages);
	if (rc == 0) {
		/* The frame must end exactly here: no trailing data and a
		 * complete frame (checksum/epilogue consumed). */
		uint8_t extra;
		ZSTD_outBuffer out = {&extra, 1, 0};
		if (ret != 0) /* the frame's end (and an empty frame) still to read */
			ret = ZSTD_decompressStream(dctx, &out, &in);
		if (ZSTD_isError(ret) || ret != 0 || out.pos != 0 || in.pos != in.size)
			rc = sr_fail(r, "RAM: compressed data longer than the pages it describes");
	}
	ZSTD_freeDCtx(dctx);
	return rc;
}

