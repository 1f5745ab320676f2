/* The migration stream's messages (svc/migrate/stream.c): RAM batches
 * and overlay records move from one machine to another exactly, and a
 * batch that lies (pages out of range, counts that do not add up, a
 * corrupt frame, a record that does not continue the overlay) is refused
 * before anything is written. */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <zstd.h>

#include "svc/migrate/stream.h"
#include "vm/taps.h"

#define PAGES (RAM_SIZE / MIG_PAGE)

static uint8_t *page(struct machine *m, uint32_t i)
{
	return m->ram + (uint64_t)i * MIG_PAGE;
}

static void fill(struct machine *m, uint32_t i, uint8_t seed)
{
	for (unsigned k = 0; k < MIG_PAGE; k++)
		page(m, i)[k] = (uint8_t)(seed + k * 7);
}

static long move(struct machine *from, struct machine *to, const uint32_t *pages, size_t n,
		 unsigned *zero)
{
	struct state_writer w;
	char err[256];
	sw_init(&w);
	assert_int_equal(mig_ram_encode(&w, from, pages, n, zero, err, sizeof(err)), 0);
	long got = mig_ram_apply(to, w.buf, w.len, err, sizeof(err));
	sw_free(&w);
	return got;
}

static void test_ram_moves(void **state)
{
	(void)state;
	struct machine *a = new_machine(BOARD_BARE, RAM_SIZE), *b = new_machine(BOARD_BARE, RAM_SIZE);
	uint32_t pages[] = {0, 1, 2, 5, 6, 7, 100, PAGES - 1};
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		if (pages[i] != 2 && pages[i] != 6)
			fill(a, pages[i], (uint8_t)i);
	fill(b, 2, 9); /* the destination's stale copy of a page now zero */
	unsigned zero = 0;
	assert_int_equal(move(a, b, pages, 8, &zero), 8);
	assert_int_equal(zero, 2);
	assert_memory_equal(a->ram, b->ram, RAM_SIZE);
	machine_free(a);
	machine_free(b);
	free(a);
	free(b);
}

/* A hand-made batch: runs, then `data` pages of zstd'd zeros (or junk). */
static size_t batch(uint8_t *out, uint32_t first, uint32_t count, uint32_t declared, bool junk)
{
	struct state_writer w;
	sw_init(&w);
	sw_put_u32(&w, 1);
	sw_put_u32(&w, first);
	sw_put_u32(&w, count);
	sw_put_u8(&w, 0);
	sw_put_u32(&w, declared);
	static uint8_t raw[4 * MIG_PAGE];
	uint8_t comp[1024];
	size_t n = count < 4 ? count : 4;
	size_t clen = ZSTD_compress(comp, sizeof(comp), raw, n * MIG_PAGE, 1);
	if (junk)
		memset(comp + 4, 0xa5, clen - 4);
	sw_put_bytes(&w, comp, clen);
	memcpy(out, w.buf, w.len);
	size_t len = w.len;
	sw_free(&w);
	return len;
}

static void test_ram_lies_refused(void **state)
{
	(void)state;
	struct machine *m = new_machine(BOARD_BARE, RAM_SIZE);
	uint8_t msg[4096];
	char err[256];
	fill(m, PAGES - 1, 3);
	uint8_t before[MIG_PAGE];
	memcpy(before, page(m, PAGES - 1), MIG_PAGE);
	struct {
		uint32_t first, count, declared;
		bool junk;
		const char *says;
	} cases[] = {
		{PAGES - 1, 2, 2, false, "out of range"},
		{PAGES, 1, 1, false, "out of range"},
		{0, 0, 0, false, "out of range"},
		{PAGES - 1, 1, 2, false, "the batch says"},
		{PAGES - 1, 1, 1, true, "do not decode"},
		{PAGES - 4, 4, 4, false, NULL}, /* fine: the control case */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = batch(msg, cases[i].first, cases[i].count, cases[i].declared,
				   cases[i].junk);
		long got = mig_ram_apply(m, msg, len, err, sizeof(err));
		if (!cases[i].says) {
			assert_int_equal(got, 4);
			continue;
		}
		assert_int_equal(got, -1);
		assert_non_null(strstr(err, cases[i].says));
		assert_memory_equal(page(m, PAGES - 1), before, MIG_PAGE);
	}
	/* Every prefix of a good batch is refused too. */
	size_t len = batch(msg, 10, 2, 2, false);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(mig_ram_apply(m, msg, cut, err, sizeof(err)), -1);
	machine_free(m);
	free(m);
}

static void test_conf(void **state)
{
	(void)state;
	struct machine *m = new_machine(BOARD_BARE, RAM_SIZE);
	struct mig_conf c = {.version = MIG_STREAM_VERSION, .ram_base = m->ram_base,
			     .ram_size = m->ram_size, .icount = 77}, d;
	struct state_writer w;
	char err[256];
	sw_init(&w);
	mig_conf_encode(&w, &c);
	assert_int_equal(mig_conf_decode(w.buf, w.len, &d, err, sizeof(err)), 0);
	assert_int_equal(d.icount, 77);
	assert_int_equal(mig_conf_check(&d, m, err, sizeof(err)), 0);
	d.ram_size *= 2;
	assert_int_equal(mig_conf_check(&d, m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "-m must match"));
	d.ram_size = m->ram_size;
	d.disk.kind = DISK_OVERLAY;
	assert_int_equal(mig_conf_check(&d, m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "overlay=NEW.kov"));
	assert_int_equal(mig_conf_decode(w.buf, w.len - 1, &d, err, sizeof(err)), -1);
	w.buf[0] = 9; /* another stream version */
	assert_int_equal(mig_conf_decode(w.buf, w.len, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "stream version 9"));
	sw_free(&w);
	machine_free(m);
	free(m);
}

/* Two overlays over one base: records written on one and moved as they
 * are in its file make the other the same file, byte for byte. */
static void test_disk_records(void **state)
{
	(void)state;
	char dir[] = "/tmp/keel-migstream-XXXXXX", base[64], src[64], dst[64], spec[160];
	assert_non_null(mkdtemp(dir));
	snprintf(base, sizeof(base), "%s/base", dir);
	snprintf(src, sizeof(src), "%s/src.kov", dir);
	snprintf(dst, sizeof(dst), "%s/dst.kov", dir);
	FILE *f = fopen(base, "w");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 64 * 4096), 0);
	fclose(f);
	snprintf(spec, sizeof(spec), "%s,overlay=%s", base, src);
	struct machine *a = new_machine_with_disk(BOARD_VIRT, RAM_SIZE, spec, NULL);
	snprintf(spec, sizeof(spec), "%s,overlay=%s", base, dst);
	struct machine *b = new_machine_with_disk(BOARD_VIRT, RAM_SIZE, spec, NULL);
	uint8_t block[3 * 4096];
	memset(block, 0x5a, sizeof(block));
	assert_int_equal(taps_disk_write(a, 4096 * 7, block, sizeof(block)), 0);
	assert_int_equal(taps_disk_write(a, 100, block, 50), 0); /* a partial block */
	struct disk_identity ia, ib;
	taps_disk_identity(a, &ia);
	size_t len = (size_t)(ia.overlay_len - OVERLAY_HEADER_BYTES);
	uint8_t *rec = malloc(len);
	int fd = open(src, O_RDONLY);
	assert_int_equal(pread(fd, rec, len, OVERLAY_HEADER_BYTES), (ssize_t)len);
	close(fd);
	struct state_writer w;
	char err[256];
	uint64_t end;
	sw_init(&w);
	/* At the wrong offset: refused. */
	assert_int_equal(mig_disk_encode(&w, OVERLAY_HEADER_BYTES + 4144, rec, len, err, 256), 0);
	assert_int_equal(mig_disk_apply(b, w.buf, w.len, &end, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "the overlay ends at"));
	/* A record edited: refused. */
	sw_reset(&w);
	rec[60] ^= 1;
	assert_int_equal(mig_disk_encode(&w, OVERLAY_HEADER_BYTES, rec, len, err, 256), 0);
	assert_int_equal(mig_disk_apply(b, w.buf, w.len, &end, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "corrupt"));
	rec[60] ^= 1;
	sw_reset(&w);
	assert_int_equal(mig_disk_encode(&w, OVERLAY_HEADER_BYTES, rec, len, err, 256), 0);
	assert_int_equal(mig_disk_apply(b, w.buf, w.len, &end, err, sizeof(err)), 0);
	taps_disk_identity(b, &ib);
	assert_int_equal(ib.overlay_len, ia.overlay_len);
	assert_int_equal(end, ia.overlay_len);
	uint8_t *mine = malloc(len);
	fd = open(dst, O_RDONLY);
	assert_int_equal(pread(fd, mine, len, OVERLAY_HEADER_BYTES), (ssize_t)len);
	close(fd);
	assert_memory_equal(mine, rec, len);
	sw_free(&w);
	free(rec);
	free(mine);
	machine_free(a);
	machine_free(b);
	free(a);
	free(b);
	unlink(base);
	unlink(src);
	unlink(dst);
	rmdir(dir);
}

/* The state splits into what goes ahead (BOOT) and the rest; the two
 * joined load, the rest alone does not. */
static void test_sections_ahead(void **state)
{
	(void)state;
	struct machine *a = new_machine(BOARD_VIRT, RAM_SIZE), *b = new_machine(BOARD_VIRT, RAM_SIZE);
	char err[256];
	fill(a, 3, 1);
	assert_int_equal(machine_capture_boot_image(a, err, sizeof(err)), 0);
	struct state_writer full, ahead, rest;
	sw_init(&full);
	sw_init(&ahead);
	sw_init(&rest);
	assert_int_equal(snapshot_save_without_ram(a, &full, true, err, sizeof(err)), 0);
	sw_put_bytes(&rest, full.buf, STATE_FILE_HEADER_LEN);
	assert_int_equal(mig_split_sections(full.buf + STATE_FILE_HEADER_LEN,
					    full.len - STATE_FILE_HEADER_LEN, &ahead, &rest), 0);
	assert_true(ahead.len > a->boot_image_len);
	assert_int_equal(ahead.len + rest.len, full.len);
	/* What a migration sends at the stop is the rest, exactly. */
	struct state_writer stop;
	sw_init(&stop);
	assert_int_equal(snapshot_save_without_ram(a, &stop, false, err, sizeof(err)), 0);
	assert_int_equal(stop.len, rest.len);
	assert_memory_equal(stop.buf, rest.buf, rest.len);
	sw_free(&stop);
	assert_int_equal(snapshot_load_without_ram(b, rest.buf, rest.len, true, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "BOOT"));
	/* The destination loads what came ahead early, then the rest alone. */
	assert_int_equal(snapshot_load_boot(b, ahead.buf, ahead.len, err, sizeof(err)), 0);
	assert_int_equal(b->boot_image_len, a->boot_image_len);
	assert_memory_equal(b->boot_image, a->boot_image, a->boot_image_len);
	assert_int_equal(snapshot_load_without_ram(b, rest.buf, rest.len, false, err, sizeof(err)),
			 0);
	assert_int_equal(snapshot_load_boot(b, rest.buf + STATE_FILE_HEADER_LEN,
					    rest.len - STATE_FILE_HEADER_LEN, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "only BOOT"));
	size_t rest_len = rest.len;
	sw_put_bytes(&rest, ahead.buf, ahead.len);
	assert_int_equal(snapshot_load_without_ram(b, rest.buf, rest.len, true, err, sizeof(err)), 0);
	assert_int_equal(b->boot_image_len, a->boot_image_len);
	assert_memory_equal(b->boot_image, a->boot_image, a->boot_image_len);
	sw_put_bytes(&rest, ahead.buf, ahead.len);
	assert_int_equal(snapshot_load_without_ram(b, rest.buf, rest.len, true, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "twice"));
	/* Junk is not sections. */
	assert_int_equal(mig_split_sections(rest.buf + STATE_FILE_HEADER_LEN + 3, rest_len, NULL,
					    NULL), -1);
	sw_free(&full);
	sw_free(&ahead);
	sw_free(&rest);
	machine_free(a);
	machine_free(b);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ram_moves),
		cmocka_unit_test(test_ram_lies_refused),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_disk_records),
		cmocka_unit_test(test_sections_ahead),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
