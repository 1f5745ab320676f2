/* The machine's own snapshot sections (docs/snapshot-format.md): CONF,
 * MACH, MROM, BOOT and RAM.  Each device's section is beside the device;
 * vm/snapshot.c puts them in order. */
#include "vm/machine_state.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zstd.h>

#include "lib/state_io.h"
#include "vm/machine.h"
#include "vm/ram_page.h"

#define PAGE_SIZE RAM_PAGE_SIZE
#define ZSTD_LEVEL 1 /* speed over ratio: snapshots are taken on the hot path of clone/migrate */

/* --- CONF: the configuration the snapshot needs ------------------------- */

void machine_conf_save(const struct machine *m, struct state_writer *w)
{
	sw_put_u32(w, (uint32_t)m->cfg.board);
	sw_put_u64(w, m->ram_base);
	sw_put_u64(w, m->ram_size);
	sw_put_u8(w, m->has_blk);
	sw_put_u8(w, m->has_net);
}

static const char *board_name(uint32_t board)
{
	return board == BOARD_BARE ? "bare" : board == BOARD_VIRT ? "virt" : "unknown";
}

int machine_conf_check(const struct machine *m, struct state_reader *r)
{
	uint32_t board = sr_u32(r);
	uint64_t ram_base = sr_u64(r), ram_size = sr_u64(r);
	bool has_blk = sr_bool(r), has_net = sr_bool(r);
	if (sr_failed(r))
		return -1;
	if (board != (uint32_t)m->cfg.board)
		return sr_fail(r, "the file is of a %s board, this machine is a %s board",
			       board_name(board), board_name((uint32_t)m->cfg.board));
	if (ram_base != m->ram_base || ram_size != m->ram_size)
		return sr_fail(r,
			       "the file has %llu MiB of RAM at 0x%llx, this machine %llu MiB at 0x%llx",
			       (unsigned long long)(ram_size >> 20), (unsigned long long)ram_base,
			       (unsigned long long)(m->ram_size >> 20),
			       (unsigned long long)m->ram_base);
	if (has_blk != m->has_blk)
		return sr_fail(r, "the file %s, this machine %s", has_blk ? "has a disk" : "has no disk",
			       m->has_blk ? "has one" : "has none");
	if (has_net != m->has_net)
		return sr_fail(r, "the file %s, this machine %s",
			       has_net ? "has a network device" : "has no network device",
			       m->has_net ? "has one" : "has none");
	return 0;
}

/* --- MACH: machine-level run state -------------------------------------- */

void machine_run_state_save(const struct machine *m, struct state_writer *w)
{
	sw_put_u8(w, m->exited);
	sw_put_u32(w, (uint32_t)m->exit_code);
	sw_put_u32(w, m->resets);
}

int machine_run_state_load(struct machine *m, struct state_reader *r)
{
	m->exited = sr_bool(r);
	m->exit_code = (int)sr_u32(r);
	m->resets = sr_u32(r);
	return sr_failed(r) ? -1 : 0;
}

/* --- MROM: the reset ROM, which holds the boot addresses -------------- */

void machine_rom_save(const struct machine *m, struct state_writer *w)
{
	sw_put_bytes(w, m->rom, sizeof(m->rom));
}

int machine_rom_load(struct machine *m, struct state_reader *r)
{
	return sr_bytes(r, m->rom, sizeof(m->rom));
}

/* --- RAM: a bitmap of non-zero pages, then those pages as one zstd frame  */

int machine_ram_save(const struct machine *m, struct state_writer *w, char *err, size_t errlen)
{
	uint64_t npages = m->ram_size / PAGE_SIZE;
	size_t bitmap_len = (size_t)((npages + 7) / 8);
	sw_put_u32(w, PAGE_SIZE);
	sw_put_u64(w, npages);
	uint8_t *bitmap = sw_reserve(w, bitmap_len);
	if (!bitmap)
		goto oom;
	memset(bitmap, 0, bitmap_len);
	uint64_t nonzero = 0;
	for (uint64_t i = 0; i < npages; i++) {
		if (!ram_page_is_zero(m->ram + i * PAGE_SIZE)) {
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
	ZSTD_CCtx_setPledgedSrcSize(cctx, nonzero * PAGE_SIZE);
	size_t start = w->len, chunk = ZSTD_CStreamOutSize();
	int rc = 0;
	/* Re-derive the bitmap's pages (w->buf may move as it grows). */
	for (uint64_t i = 0; i <= npages && rc == 0; i++) {
		bool last = i == npages;
		if (!last && !(w->buf[len_at - bitmap_len - 8 + i / 8] & (1u << (i % 8))))
			continue;
		ZSTD_inBuffer in = {last ? NULL : m->ram + i * PAGE_SIZE, last ? 0 : PAGE_SIZE, 0};
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
static void zero_absent(struct machine *m, uint64_t from, uint64_t to)
{
	if (to > from)
		madvise(m->ram + from * PAGE_SIZE, (to - from) * PAGE_SIZE, MADV_DONTNEED);
}

static int read_ram(struct state_reader *r, struct machine *m);

/* RAM is written directly, not through the bus, so decoded code goes
 * stale here whether the read succeeds or not. */
int machine_ram_load(struct machine *m, struct state_reader *r)
{
	int rc = read_ram(r, m);
	bus_ram_rewritten(&m->bus);
	return rc;
}

static int read_ram(struct state_reader *r, struct machine *m)
{
	uint32_t page = sr_u32(r);
	uint64_t npages = sr_u64(r);
	if (sr_failed(r))
		return -1;
	if (page != PAGE_SIZE || npages != m->ram_size / PAGE_SIZE)
		return sr_fail(r, "RAM: %llu pages of %u bytes, this machine has %llu of %u",
			       (unsigned long long)npages, page,
			       (unsigned long long)(m->ram_size / PAGE_SIZE), PAGE_SIZE);
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
		uint8_t *dst = m->ram + i * PAGE_SIZE;
		if (!((bitmap[i / 8] >> (i % 8)) & 1))
			continue;
		zero_absent(m, zero_from, i);
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
		zero_absent(m, zero_from, npages);
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

/* --- BOOT: the RAM image a reboot starts from -------------------------- */

/* The image is the RAM section's encoding of RAM as it was right after the
 * boot files were loaded: compressed once, kept in memory, copied into
 * every snapshot as it is. */
int machine_capture_boot_image(struct machine *m, char *err, size_t errlen)
{
	struct state_writer w;
	sw_init(&w);
	if (machine_ram_save(m, &w, err, errlen) || w.oom) {
		if (w.oom)
			snprintf(err, errlen, "boot image: out of memory");
		sw_free(&w);
		return -1;
	}
	free(m->boot_image);
	m->boot_image = w.buf;
	m->boot_image_len = w.len;
	return 0;
}

int machine_restore_boot_image(struct machine *m, char *err, size_t errlen)
{
	struct state_reader r;
	sr_init(&r, m->boot_image, m->boot_image_len);
	if (machine_ram_load(m, &r) == 0 && sr_remaining(&r) == 0)
		return 0;
	snprintf(err, errlen, "boot image: %s", sr_failed(&r) ? r.err : "trailing bytes");
	return -1;
}

void machine_boot_save(const struct machine *m, struct state_writer *w)
{
	sw_put_u64(w, m->boot_image_len);
	sw_put_bytes(w, m->boot_image, m->boot_image_len);
}

/* Only the length is checked here: checking the image in full would take
 * a dry decode into a RAM-sized scratch buffer.  A corrupt image is
 * reported (and the machine stops) when the guest reboots. */
int machine_boot_load(struct machine *m, struct state_reader *r)
{
	uint64_t len = sr_u64(r);
	if (sr_failed(r))
		return -1;
	if (len > sr_remaining(r))
		return sr_fail(r, "BOOT: image of %llu bytes, section has %zu",
			       (unsigned long long)len, sr_remaining(r));
	uint8_t *copy = len ? malloc((size_t)len) : NULL;
	if (len && !copy)
		return sr_fail(r, "BOOT: out of memory");
	if (len)
		sr_bytes(r, copy, (size_t)len);
	free(m->boot_image);
	m->boot_image = copy;
	m->boot_image_len = (size_t)len;
	return 0;
}

/* --- The attached disk ------------------------------------------------- */

void machine_disk_identity(const struct machine *m, struct disk_identity *id)
{
	if (m->has_blk)
		disk_image_identity(m->blk.disk, id);
	else
		memset(id, 0, sizeof(*id));
}
