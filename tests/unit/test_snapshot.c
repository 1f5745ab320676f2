/* Snapshot save/load and the state digest.
 *
 * The digest is the oracle: a machine restored from a snapshot must have
 * the digest of the one saved, and must stay in lockstep with it when
 * both run on.  Broken input (truncated, corrupt, foreign) must be refused
 * with a message, never crash (run this under ASan/UBSan too). */
#include "harness.h"
#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dev/disk_image.h"
#include "test_files.h"
#include "vm/machine_state.h"
#include "vm/snapshot.h"
#include "vm/state_digest.h"
#include "vm/taps.h"

#define CLINT_MTIMECMP (VIRT_CLINT_BASE + 0x4000)
#define TIMER_HANDLER (DRAM_BASE + 0x9000)
#define TIMER_STEP 37 /* mtime ticks between timer interrupts */

/* A program that keeps changing registers, memory, CSRs, the LR/SC
 * reservation, and takes a timer interrupt every TIMER_STEP ticks, so
 * that any state the snapshot forgets shows up as a diverging digest. */
static void load_program(struct machine *m)
{
	struct code c = code_at(m, TIMER_HANDLER);
	emit_li(&c, T5, CLINT_MTIMECMP);
	emit(&c, ld(T6, T5, 0));
	emit(&c, addi(T6, T6, TIMER_STEP));
	emit(&c, sd(T6, T5, 0));
	emit(&c, addi(S1, S1, 1)); /* interrupts taken */
	emit(&c, mret());

	c = code_at(m, CODE_BASE);
	emit_li(&c, T0, TIMER_HANDLER);
	emit(&c, csrw(CSR_MTVEC, T0));
	emit_li(&c, T0, 1ULL << IRQ_MTI);
	emit(&c, csrw(CSR_MIE, T0));
	emit_li(&c, T5, CLINT_MTIMECMP);
	emit(&c, addi(T6, ZERO, TIMER_STEP));
	emit(&c, sd(T6, T5, 0));
	emit(&c, csrrsi(ZERO, CSR_MSTATUS, MSTATUS_MIE));
	emit_li(&c, A0, 0x1234567);  /* x */
	emit_li(&c, A1, 6364136223846793005ULL); /* LCG multiplier */
	emit_li(&c, S0, DATA_BASE);
	uint64_t loop = c.pc;
	emit(&c, op(1, 0, A0, A0, A1)); /* mul a0, a0, a1 */
	emit(&c, addi(A0, A0, 1442));
	emit(&c, enc_i(0x7f8, A0, 7, A2, OPC_OP_IMM)); /* andi a2, a0, 0x7f8 */
	emit(&c, add(A2, A2, S0));
	emit(&c, sd(A0, A2, 0));
	emit(&c, lr_d(A3, A2));
	emit(&c, csrw(CSR_MSCRATCH, A0));
	emit(&c, addi(A4, A4, 1));
	emit(&c, jal(ZERO, (int32_t)(loop - c.pc)));
	m->hart.pc = CODE_BASE;
}

static void digest_of(struct machine *m, uint8_t d[STATE_DIGEST_BYTES])
{
	assert_int_equal(state_digest(m, d), 0);
}

static void assert_same_digest(struct machine *a, struct machine *b)
{
	char ha[STATE_DIGEST_HEX], hb[STATE_DIGEST_HEX];
	assert_int_equal(state_digest_hex(a, ha), 0);
	assert_int_equal(state_digest_hex(b, hb), 0);
	assert_string_equal(ha, hb);
}

/* Load through a FILE, as the CLI will.  Returns 0 or -1 with err. */
static int load_snap(struct machine *m, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	static const uint8_t empty;
	FILE *f = fmemopen((void *)(len ? buf : &empty), len ? len : 1, "rb");
	assert_non_null(f);
	if (!len)
		fgetc(f); /* fmemopen wants size > 0: consume the dummy byte */
	int rc = snapshot_load(m, f, err, errlen);
	fclose(f);
	return rc;
}

/* A new bare machine restored from a snapshot of `a`. */
static struct machine *restored_from(struct machine *a)
{
	size_t len;
	uint8_t *buf = save_snap(a, &len);
	struct machine *b = new_machine(BOARD_BARE, RAM_SIZE);
	char err[256] = "";
	if (load_snap(b, buf, len, err, sizeof(err))) {
		print_error("snapshot_load: %s\n", err);
		fail();
	}
	free(buf);
	return b;
}

static struct machine *running_machine(uint64_t steps)
{
	struct machine *m = new_machine(BOARD_BARE, RAM_SIZE);
	load_program(m);
	machine_run(m, steps);
	return m;
}

static void test_restore_matches_and_stays_in_lockstep(void **state)
{
	(void)state;
	struct machine *a = running_machine(10007);
	assert_true(a->hart.x[S1] > 0); /* timer interrupts were taken */
	uint8_t before[STATE_DIGEST_BYTES], after[STATE_DIGEST_BYTES];
	digest_of(a, before);

	struct machine *b = restored_from(a);
	assert_same_digest(a, b);
	assert_int_equal(b->hart.icount, a->hart.icount);
	assert_int_equal(b->hart.pc, a->hart.pc);
	assert_memory_equal(b->ram, a->ram, RAM_SIZE);

	/* Run both on: they must not diverge. */
	uint64_t interrupts = a->hart.x[S1];
	machine_run(a, 20011);
	machine_run(b, 20011);
	assert_true(a->hart.x[S1] > interrupts);
	digest_of(a, after);
	assert_memory_not_equal(before, after, sizeof(before));
	assert_same_digest(a, b);

	/* The digest sees a one-bit difference in a register or RAM. */
	b->hart.x[A4] ^= 1;
	uint8_t db[STATE_DIGEST_BYTES];
	digest_of(b, db);
	assert_memory_not_equal(after, db, sizeof(db));
	b->hart.x[A4] ^= 1;
	/* Through the machine, as every writer of guest RAM goes: a poke at
	 * b->ram would bypass the dirty bits the digest's page cache trusts
	 * (test_digest_cache_follows_writes). */
	uint8_t flipped = b->ram[RAM_SIZE - 1] ^ 0x80;
	assert_int_equal(taps_write_phys(b, DRAM_BASE + RAM_SIZE - 1, &flipped, 1), 0);
	digest_of(b, db);
	assert_memory_not_equal(after, db, sizeof(db));

	free_machine(a);
	free_machine(b);
}

/* Guest time runs at the rate its snapshot was taken at: a snapshot from
 * before the nominal rate changed (10 instructions per tick then, 100
 * now) goes on at 10, so its timer interrupts come at the instruction
 * counts they would have come at in the VM that saved it. */
static void test_clock_rate_travels_with_snapshot(void **state)
{
	(void)state;
	struct machine *a = new_machine(BOARD_BARE, RAM_SIZE);
	assert_int_not_equal(a->clock.insns_per_tick, 10);
	a->clock.insns_per_tick = 10;
	load_program(a);
	machine_run(a, 10007);
	struct machine *b = restored_from(a);
	assert_int_equal(b->clock.insns_per_tick, 10);
	uint64_t interrupts = b->hart.x[S1];
	machine_run(a, 20011);
	machine_run(b, 20011);
	assert_same_digest(a, b);
	/* One timer interrupt per TIMER_STEP ticks of 10 instructions (less
	 * the handler's own), not per TIMER_STEP x the default rate. */
	assert_true(b->hart.x[S1] - interrupts >= 20011 / (TIMER_STEP * 10) - 1);
	free_machine(a);
	free_machine(b);
}

/* Every architectural hart field survives, not just the ones the program
 * above happens to touch. */
#define CPU_FIELDS(X)                                                                       \
	X(pc) X(icount) X(mstatus) X(misa) X(medeleg) X(mideleg) X(mie) X(mip) X(mip_hw)    \
	X(mtvec) X(mepc) X(mcause) X(mtval) X(mscratch) X(stvec) X(sepc) X(scause) X(stval) \
	X(sscratch) X(mcounteren) X(scounteren) X(mcountinhibit) X(menvcfg) X(senvcfg)      \
	X(mhartid) X(stimecmp) X(mcycle_offset) X(minstret_offset) X(reservation)

static void test_every_cpu_field_restored(void **state)
{
	(void)state;
	struct machine *a = new_machine(BOARD_BARE, RAM_SIZE);
	struct hart *h = &a->hart;
	uint64_t v = 0x1000;
#define SET(f) h->f = (__typeof__(h->f))(v += 0x111);
	CPU_FIELDS(SET)
#undef SET
	for (int i = 0; i < 32; i++) {
		h->x[i] = 0xa000 + (uint64_t)i;
		h->f[i] = 0xf000 + (uint64_t)i;
	}
	for (int i = 0; i < PMP_ENTRIES; i++) {
		h->pmpcfg[i] = (uint8_t)(0x08 + i); /* TOR with varied permissions */
		h->pmpaddr[i] = 0x20000000 + (uint64_t)i * 0x100;
	}
	h->satp = SATP_SV39 | 0x123;
	h->priv = PRIV_S;
	h->fflags = 0x15;
	h->frm = 3;
	h->wfi = true;
	struct machine *b = restored_from(a);
	struct hart *g = &b->hart;
#define CHECK(f) assert_int_equal((uint64_t)g->f, (uint64_t)h->f);
	CPU_FIELDS(CHECK)
	CHECK(satp) CHECK(priv) CHECK(fflags) CHECK(frm) CHECK(wfi)
#undef CHECK
	assert_memory_equal(g->x, h->x, 32 * sizeof(h->x[0]));
	assert_memory_equal(g->f, h->f, sizeof(h->f));
	assert_memory_equal(g->pmpcfg, h->pmpcfg, sizeof(h->pmpcfg));
	assert_memory_equal(g->pmpaddr, h->pmpaddr, sizeof(h->pmpaddr));
	assert_true(g->pmp_active); /* derived state rebuilt by pmp_update */
	assert_same_digest(a, b);
	free_machine(a);
	free_machine(b);
}

static void test_digest_ignores_caches(void **state)
{
	(void)state;
	struct machine *a = running_machine(5000);
	uint8_t d1[STATE_DIGEST_BYTES], d2[STATE_DIGEST_BYTES];
	digest_of(a, d1);
	hart_flush_tlb(&a->hart);
	a->hart.slice_end = !a->hart.slice_end;
	a->hart.exc_cause = 0x5a5a;
	digest_of(a, d2);
	assert_memory_equal(d1, d2, sizeof(d1));
	free_machine(a);
}

/* The version 3 digest keeps a hash per page between calls and rehashes
 * only pages written since.  After every kind of write the cached digest
 * must equal one computed from nothing, also while another reader of the
 * dirty pages (the taps' tracking) fetches and clears its own bits. */
static void assert_cache_fresh(struct machine *m)
{
	uint8_t cached[STATE_DIGEST_BYTES], fresh[STATE_DIGEST_BYTES];
	digest_of(m, cached);
	state_digest_forget(m);
	digest_of(m, fresh);
	assert_memory_equal(cached, fresh, sizeof(cached));
}

static void test_digest_cache_follows_writes(void **state)
{
	(void)state;
	struct machine *a = running_machine(5000);
	uint8_t d0[STATE_DIGEST_BYTES], d1[STATE_DIGEST_BYTES];
	digest_of(a, d0); /* fills the cache */
	assert_int_equal(taps_dirty_enable(a), 0);
	uint64_t bits[RAM_SIZE / 4096 / 64 + 1];
	machine_run(a, 20011); /* the hart's own stores */
	assert_true(taps_dirty_fetch(a, bits, sizeof(bits) * 8) > 0);
	assert_cache_fresh(a);

	uint8_t page[4096];
	memset(page, 0x5a, sizeof(page));
	assert_int_equal(taps_write_phys(a, DRAM_BASE + RAM_SIZE - 8192, page, sizeof(page)), 0);
	taps_dirty_fetch(a, bits, sizeof(bits) * 8); /* the taps reader takes its bits */
	digest_of(a, d1);
	assert_memory_not_equal(d0, d1, sizeof(d0));
	assert_cache_fresh(a);

	memset(page, 0, sizeof(page)); /* a page written back to zero leaves the digest */
	assert_int_equal(taps_write_phys(a, DRAM_BASE + RAM_SIZE - 8192, page, sizeof(page)), 0);
	assert_cache_fresh(a);

	/* A load rewrites all of RAM behind the hart. */
	struct machine *b = running_machine(3000);
	size_t len;
	uint8_t *buf = save_snap(b, &len);
	char err[256] = "";
	digest_of(a, d1);
	assert_int_equal(load_snap(a, buf, len, err, sizeof(err)), 0);
	assert_same_digest(a, b);
	assert_cache_fresh(a);
	taps_dirty_disable(a);
	machine_run(a, 7001); /* tracking still on for the cache alone */
	assert_cache_fresh(a);
	free(buf);
	free_machine(a);
	free_machine(b);
}

/* Version 4 takes the boot image by a hash it keeps between digests:
 * replacing the image (captured after loading, or brought by a snapshot's
 * BOOT section) must change the digest exactly as a fresh one would. */
static void test_digest_follows_boot_image(void **state)
{
	(void)state;
	struct machine *a = new_machine(BOARD_VIRT, RAM_SIZE);
	assert_int_equal(state_digest_version(a), 4);
	uint8_t d0[STATE_DIGEST_BYTES], d1[STATE_DIGEST_BYTES], d2[STATE_DIGEST_BYTES];
	digest_of(a, d0);
	uint8_t *image = malloc(100);
	assert_non_null(image);
	memset(image, 1, 100);
	machine_set_boot_image(a, image, 100);
	digest_of(a, d1);
	assert_memory_not_equal(d0, d1, sizeof(d0));
	assert_cache_fresh(a);
	image = malloc(100);
	assert_non_null(image);
	memset(image, 1, 100);
	image[99] = 2; /* one byte of the image */
	machine_set_boot_image(a, image, 100);
	digest_of(a, d2);
	assert_memory_not_equal(d1, d2, sizeof(d1));
	assert_cache_fresh(a);

	/* A load replaces the image with the snapshot's (none here). */
	struct machine *b = new_machine(BOARD_VIRT, RAM_SIZE);
	size_t len;
	uint8_t *buf = save_snap(b, &len);
	char err[256] = "";
	assert_int_equal(load_snap(a, buf, len, err, sizeof(err)), 0);
	assert_same_digest(a, b);
	assert_cache_fresh(a);
	free(buf);
	free_machine(a);
	free_machine(b);
}

/* Versions 3 and 4 both keep page hashes, of different functions: a
 * machine asked for one after the other (replay sets the log's) must
 * not reuse the other's. */
static void test_digest_versions_do_not_share_pages(void **state)
{
	(void)state;
	struct machine *a = running_machine(5000);
	uint8_t v3[STATE_DIGEST_BYTES], v4[STATE_DIGEST_BYTES];
	assert_int_equal(state_digest_set_version(a, 3), 0);
	digest_of(a, v3);
	assert_cache_fresh(a);
	assert_int_equal(state_digest_set_version(a, 4), 0);
	digest_of(a, v4);
	assert_memory_not_equal(v3, v4, sizeof(v3));
	assert_cache_fresh(a);
	machine_run(a, 7001);
	assert_int_equal(state_digest_set_version(a, 3), 0);
	assert_cache_fresh(a);
	assert_int_equal(state_digest_set_version(a, 4), 0);
	assert_cache_fresh(a);
	free_machine(a);
}

/* Save/load overwrites whatever the target held, including RAM pages the
 * snapshot records as zero. */
static void test_load_clears_stale_ram(void **state)
{
	(void)state;
	struct machine *a = running_machine(1000);
	size_t len;
	uint8_t *buf = save_snap(a, &len);
	struct machine *b = new_machine(BOARD_BARE, RAM_SIZE);
	memset(b->ram + RAM_SIZE / 2, 0xee, 3 * 4096);
	b->hart.x[7] = 99;
	char err[256] = "";
	assert_int_equal(load_snap(b, buf, len, err, sizeof(err)), 0);
	assert_same_digest(a, b);
	free(buf);
	free_machine(a);
	free_machine(b);
}

static void test_virt_board_round_trip(void **state)
{
	(void)state;
	struct machine *a = new_machine(BOARD_VIRT, RAM_SIZE);
	/* Device state a fresh machine would not have. */
	a->uart.scr = 0x42;
	a->uart.ier = 1;
	uint8_t in[3] = {'a', 'b', 'c'};
	uart_receive(&a->uart, in, sizeof(in));
	a->plic.priority[5] = 3;
	a->plic.enable[1][0] = 0x22;
	a->rtc.offset_ns = 123456789;
	a->rng.vmio.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	a->vcon.vmio.queues[1].num = 16;
	a->events.stream_pos = 77;
	a->clock.base = 1000;
	size_t len;
	uint8_t *buf = save_snap(a, &len);
	struct machine *b = new_machine(BOARD_VIRT, RAM_SIZE);
	uint8_t fresh[STATE_DIGEST_BYTES], got[STATE_DIGEST_BYTES];
	digest_of(b, fresh);
	char err[256] = "";
	if (load_snap(b, buf, len, err, sizeof(err))) {
		print_error("snapshot_load: %s\n", err);
		fail();
	}
	digest_of(b, got);
	assert_memory_not_equal(fresh, got, sizeof(got));
	assert_same_digest(a, b);
	assert_int_equal(b->uart.scr, 0x42);
	assert_int_equal(b->uart.rx_count, 3);
	assert_int_equal(b->plic.priority[5], 3);
	assert_int_equal(b->rtc.offset_ns, 123456789);
	assert_int_equal(b->vcon.vmio.queues[1].num, 16);
	assert_int_equal(b->events.stream_pos, 77);

	/* A bare machine cannot take a virt snapshot. */
	struct machine *c = new_machine(BOARD_BARE, RAM_SIZE);
	assert_int_equal(load_snap(c, buf, len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "board"));
	free(buf);
	free_machine(a);
	free_machine(b);
	free_machine(c);
}

/* --- the disk: named by the snapshot, frozen at the overlay's length ---- */

/* The snapshot names the overlay and its length L; a restore onto a copy
 * of that prefix is the saved machine (digest and disk), the overlay the
 * saved VM wrote on is refused, and the digest moves with the disk. */
static void test_disk_overlay_round_trip(void **state)
{
	(void)state;
	char dir[] = "/tmp/keel-snapdisk-XXXXXX", base[64], ov[64], copy[64], spec[160];
	assert_non_null(mkdtemp(dir));
	snprintf(base, sizeof(base), "%s/base.img", dir);
	snprintf(ov, sizeof(ov), "%s/a.kov", dir);
	snprintf(copy, sizeof(copy), "%s/b.kov", dir);
	uint8_t pattern[4096], blk[4096], back[4096];
	for (unsigned i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 1);
	FILE *f = fopen(base, "wb");
	for (int i = 0; i < 16; i++)
		assert_int_equal(fwrite(pattern, sizeof(pattern), 1, f), 1);
	fclose(f);
	snprintf(spec, sizeof(spec), "%s,overlay=%s", base, ov);

	struct machine *a = new_machine_with_disk(BOARD_VIRT, RAM_SIZE, spec, NULL);
	memset(blk, 0x5a, sizeof(blk));
	assert_int_equal(disk_image_write(a->blk.disk, 8192, blk, sizeof(blk)), 0);
	size_t len;
	uint8_t *buf = save_snap(a, &len);
	uint8_t at_save[STATE_DIGEST_BYTES], now[STATE_DIGEST_BYTES];
	digest_of(a, at_save);
	struct disk_identity id;
	char err[512] = "";
	assert_int_equal(snapshot_peek_disk(buf, len, &id, err, sizeof(err)), 0);
	assert_int_equal(id.kind, DISK_OVERLAY);
	assert_int_equal(id.overlay_len, OVERLAY_HEADER_BYTES + OVERLAY_RECORD_BYTES);
	assert_non_null(strstr(id.path, "a.kov"));
	assert_int_equal(disk_image_write(a->blk.disk, 0, blk, sizeof(blk)), 0); /* writes on */
	digest_of(a, now);
	assert_memory_not_equal(at_save, now, sizeof(now));

	struct disk_image *img;
	assert_int_equal(disk_image_open_frozen(&img, &id, copy, err, sizeof(err)), 0);
	struct machine *b = new_machine_with_disk(BOARD_VIRT, RAM_SIZE, NULL, img);
	if (load_snap(b, buf, len, err, sizeof(err))) {
		print_error("snapshot_load: %s\n", err);
		fail();
	}
	digest_of(b, now);
	assert_memory_equal(at_save, now, sizeof(now));
	assert_int_equal(disk_image_read(b->blk.disk, 8192, back, sizeof(back)), 0);
	assert_memory_equal(back, blk, sizeof(back));
	assert_int_equal(disk_image_read(b->blk.disk, 0, back, sizeof(back)), 0);
	assert_memory_equal(back, pattern, sizeof(back)); /* not a's later write */

	free_machine(a); /* it holds the overlay's lock */
	struct machine *c = new_machine_with_disk(BOARD_VIRT, RAM_SIZE, ov, NULL); /* the overlay a wrote on */
	assert_int_equal(load_snap(c, buf, len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "DISK: the attached disk is not"));
	free(buf);
	free_machine(b);
	free_machine(c);
	unlink(base);
	unlink(ov);
	unlink(copy);
	rmdir(dir);
}

/* --- a snapshot saved by an older keel still loads ---------------------- */

/* tests/data/virt-v1.snap was written by `test_snapshot --write-fixture
 * tests/data` (write_fixture below) before the section codecs moved beside
 * their devices; virt-v1.digest is the state digest it printed then.  The
 * machine it describes: the virt board with a raw disk of FIXTURE_DISK
 * bytes and a network card with nothing behind it, every device in a
 * state a fresh machine would not have, the timer program of
 * load_program() run for FIXTURE_STEPS.  Loading it must give that digest,
 * and encoding the loaded machine must give the file's bytes again: the
 * format did not change. */
#define FIXTURE_DISK (64u << 10)
#define FIXTURE_STEPS 20011

static struct machine *fixture_machine(const char *disk_path)
{
	const struct machine_config cfg = {
		.board = BOARD_VIRT,
		.ram_size = RAM_SIZE,
		.entropy_seeded = true,
		.entropy_seed = 42,
		.rtc_epoch_ns = 1,
		.idle_skip = true,
		.disk = disk_path,
		.net = "none",
	};
	return new_machine_from(&cfg);
}

/* A zeroed raw disk image of FIXTURE_DISK bytes in a temporary file. */
static void make_fixture_disk(char path[64])
{
	snprintf(path, 64, "/tmp/keel-fixture-disk-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, FIXTURE_DISK), 0);
	close(fd);
}

static const char *fixture_dir(void)
{
	const char *d = getenv("KEEL_TEST_DATA");
	return d ? d : "tests/data";
}

static int write_fixture(const char *dir)
{
	char disk[64], path[512], hex[STATE_DIGEST_HEX];
	make_fixture_disk(disk);
	struct machine *m = fixture_machine(disk);
	load_program(m);
	char err[256] = "";
	if (machine_capture_boot_image(m, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	machine_run(m, FIXTURE_STEPS);
	m->uart.scr = 0x42;
	m->uart.ier = 1;
	uint8_t in[3] = {'a', 'b', 'c'};
	uart_receive(&m->uart, in, sizeof(in));
	m->plic.priority[5] = 3;
	m->plic.enable[1][0] = 0x22;
	m->rtc.offset_ns = 123456789;
	m->rtc.alarm_ns = 987654321;
	m->syscon.exit_code = 7;
	m->rng.vmio.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	m->vcon.vmio.queues[1].num = 16;
	m->blk.vmio.driver_features = 0x1234;
	m->net.vmio.config_generation = 5;
	m->events.stream_pos = 77;
	snprintf(path, sizeof(path), "%s/virt-v1.snap", dir);
	int rc = snapshot_save_file(m, path, err, sizeof(err));
	if (rc == 0)
		rc = state_digest_hex(m, hex);
	snprintf(path, sizeof(path), "%s/virt-v1.digest", dir);
	FILE *f = rc == 0 ? fopen(path, "w") : NULL;
	if (f) {
		fprintf(f, "%s\n", hex);
		rc = fclose(f);
	}
	if (rc || !f)
		fprintf(stderr, "write_fixture: %s\n", *err ? err : path);
	free_machine(m);
	unlink(disk);
	return rc || !f;
}

static void test_old_snapshot_loads(void **state)
{
	(void)state;
	char disk[64], path[512], want[STATE_DIGEST_HEX + 1] = "", got[STATE_DIGEST_HEX];
	snprintf(path, sizeof(path), "%s/virt-v1.digest", fixture_dir());
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(want, sizeof(want), f));
	fclose(f);
	want[strcspn(want, "\n")] = '\0';
	snprintf(path, sizeof(path), "%s/virt-v1.snap", fixture_dir());
	size_t len;
	uint8_t *buf = read_all(path, &len);

	make_fixture_disk(disk);
	struct machine *m = fixture_machine(disk);
	char err[256] = "";
	if (load_snap(m, buf, len, err, sizeof(err))) {
		print_error("snapshot_load %s: %s\n", path, err);
		fail();
	}
	/* The digest file was written with version 2; versions 3 and 4 of
	 * the same machine are pinned by virt-v1.digest-v3 and -v4, so that no
	 * definition changes by accident (docs/snapshot-format.md, "State
	 * digest"). */
	assert_int_equal(state_digest_set_version(m, 2), 0);
	assert_int_equal(state_digest_hex(m, got), 0);
	assert_string_equal(got, want);
	snprintf(path, sizeof(path), "%s/virt-v1.digest-v3", fixture_dir());
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(want, sizeof(want), f));
	fclose(f);
	want[strcspn(want, "\n")] = '\0';
	assert_int_equal(state_digest_set_version(m, 3), 0);
	assert_int_equal(state_digest_hex(m, got), 0);
	assert_string_equal(got, want);
	snprintf(path, sizeof(path), "%s/virt-v1.digest-v4", fixture_dir());
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(want, sizeof(want), f));
	fclose(f);
	want[strcspn(want, "\n")] = '\0';
	assert_int_equal(state_digest_set_version(m, 4), 0);
	assert_int_equal(state_digest_hex(m, got), 0);
	assert_string_equal(got, want);
	assert_int_equal(state_digest_set_version(m, 5), -1);
	assert_int_equal(m->uart.rx_count, 3);
	assert_int_equal(m->rtc.alarm_ns, 987654321);
	assert_int_equal(m->blk.vmio.driver_features, 0x1234);

	/* Every section before DISK, encoded again, is the file's bytes. */
	struct state_writer w;
	sw_init(&w);
	snapshot_encode_state(m, &w);
	assert_false(w.oom);
	assert_true(STATE_FILE_HEADER_LEN + w.len <= len);
	assert_memory_equal(w.buf, buf + STATE_FILE_HEADER_LEN, w.len);
	assert_memory_equal(buf + STATE_FILE_HEADER_LEN + w.len, "DISK", 4);
	sw_free(&w);

	/* And it runs on. */
	uint64_t icount = m->hart.icount;
	machine_run(m, 1000);
	assert_true(m->hart.icount > icount);
	free(buf);
	free_machine(m);
	unlink(disk);
}

/* --- refusing bad input ------------------------------------------------- */

struct fixture {
	struct machine *a, *b;
	uint8_t *buf;
	size_t len;
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->a = running_machine(3000);
	f->b = new_machine(BOARD_BARE, RAM_SIZE);
	f->buf = save_snap(f->a, &f->len);
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	free(f->buf);
	free_machine(f->a);
	free_machine(f->b);
	free(f);
	return 0;
}

static void expect_refused(struct fixture *f, const uint8_t *buf, size_t len, const char *why)
{
	char err[256] = "";
	assert_int_equal(load_snap(f->b, buf, len, err, sizeof(err)), -1);
	if (why && !strstr(err, why)) {
		print_error("error \"%s\" does not mention \"%s\"\n", err, why);
		fail();
	}
	assert_true(strlen(err) > 0);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Offset of the section header with `tag` (a 4-char string). */
static size_t find_section(const struct fixture *f, const char *tag)
{
	size_t off = STATE_FILE_HEADER_LEN;
	while (off + STATE_SECTION_HEADER_LEN <= f->len) {
		if (!memcmp(f->buf + off, tag, 4))
			return off;
		uint64_t len = rd32(f->buf + off + 12) | (uint64_t)rd32(f->buf + off + 16) << 32;
		off += STATE_SECTION_HEADER_LEN + len;
	}
	fail_msg("no section %s", tag);
	return 0;
}

#define SUM_TRAILER (STATE_SECTION_HEADER_LEN + SNAPSHOT_SUM_BYTES)

/* After an edit made on purpose: recompute the integrity section, so the
 * decoder behind it gets to see the edit. */
static void reseal(uint8_t *buf, size_t len)
{
	crypto_generichash(buf + len - SNAPSHOT_SUM_BYTES, SNAPSHOT_SUM_BYTES, buf,
			   len - SUM_TRAILER, NULL, 0);
}

/* The file as a keel without the integrity check wrote it: header flags
 * 0, no SUM section.  Returns its length (the copy is in `out`). */
static size_t unsealed(const struct fixture *f, uint8_t *out)
{
	memcpy(out, f->buf, f->len - SUM_TRAILER);
	out[12] = 0;
	return f->len - SUM_TRAILER;
}

/* A virt machine with a program in RAM, kept as its boot image. */
static struct machine *booted_machine(void)
{
	struct machine *m = new_machine(BOARD_VIRT, RAM_SIZE);
	load_program(m);
	char err[256] = "";
	if (machine_capture_boot_image(m, err, sizeof(err))) {
		print_error("capture: %s\n", err);
		fail();
	}
	return m;
}

static uint32_t ram_version(const uint8_t *buf, size_t len)
{
	const struct fixture f = {.buf = (uint8_t *)buf, .len = len};
	return rd32(buf + find_section(&f, "RAM ") + 4);
}

/* RAM that is the boot image (a fresh boot's first checkpoint) goes as
 * the image's hash (RAM version 2), not as a second copy of it; it
 * restores the same machine; anything that may write RAM ends it; and a
 * hash that does not name the file's BOOT image is refused. */
static void test_boot_ram_by_reference(void **state)
{
	(void)state;
	struct machine *a = booted_machine();
	size_t len, full_len;
	uint8_t *buf = save_snap(a, &len);
	assert_int_equal(ram_version(buf, len), 2);
	a->ram_is_boot_image = false; /* the same machine, RAM saved in full */
	uint8_t *full = save_snap(a, &full_len);
	assert_int_equal(ram_version(full, full_len), 1);
	assert_true(len + 32 < full_len);

	struct machine *b = new_machine(BOARD_VIRT, RAM_SIZE);
	char err[256] = "";
	if (load_snap(b, buf, len, err, sizeof(err))) {
		print_error("snapshot_load: %s\n", err);
		fail();
	}
	assert_same_digest(a, b);
	assert_memory_equal(a->ram, b->ram, RAM_SIZE);
	assert_true(b->ram_is_boot_image);
	/* And it runs on like the original. */
	machine_run(a, 5000);
	machine_run(b, 5000);
	assert_same_digest(a, b);
	free(full);

	/* Run, written from the host, or loaded from a full RAM section:
	 * RAM is no longer known to be the image. */
	uint8_t *after = save_snap(a, &full_len);
	assert_int_equal(ram_version(after, full_len), 1);
	free(after);
	struct machine *c = booted_machine();
	assert_int_equal(taps_write_phys(c, DRAM_BASE + 0x20000, "x", 1), MV_OK);
	after = save_snap(c, &full_len);
	assert_int_equal(ram_version(after, full_len), 1);
	free(after);

	/* The hash must be the BOOT section's image. */
	const struct fixture f = {.buf = buf, .len = len};
	size_t ram = find_section(&f, "RAM ");
	buf[ram + STATE_SECTION_HEADER_LEN] ^= 1;
	reseal(buf, len);
	struct machine *d = new_machine(BOARD_VIRT, RAM_SIZE);
	assert_int_equal(load_snap(d, buf, len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "BLAKE2b-256 than the BOOT section's"));
	free(buf);
	free_machine(a);
	free_machine(b);
	free_machine(c);
	free_machine(d);
}

static void test_truncated_refused(void **state)
{
	struct fixture *f = *state;
	/* Every proper prefix: header, section boundaries, mid-RAM. */
	for (size_t n = 0; n < f->len; n++)
		expect_refused(f, f->buf, n, NULL);
	expect_refused(f, f->buf, 5, "not a keel snapshot");
	expect_refused(f, f->buf, STATE_FILE_HEADER_LEN, "truncated");
	expect_refused(f, f->buf, f->len - 1, "integrity section");
	expect_refused(f, f->buf, find_section(f, "RAM "), "truncated");
	/* An old file has no trailer: its decoder catches truncations. */
	uint8_t *old = malloc(f->len);
	size_t len = unsealed(f, old);
	for (size_t n = 0; n < len; n++)
		expect_refused(f, old, n, NULL);
	expect_refused(f, old, STATE_FILE_HEADER_LEN, "missing section 'CONF'");
	expect_refused(f, old, len - 1, "RAM");
	expect_refused(f, old, find_section(f, "RAM "), "missing section 'RAM '");
	free(old);
	/* The whole thing still loads. */
	char err[256];
	assert_int_equal(load_snap(f->b, f->buf, f->len, err, sizeof(err)), 0);
	assert_same_digest(f->a, f->b);
}

/* A snapshot written before the integrity check still loads (with a
 * warning on stderr); a flag this keel does not know is refused. */
static void test_old_format_still_loads(void **state)
{
	struct fixture *f = *state;
	uint8_t *old = malloc(f->len);
	size_t len = unsealed(f, old);
	char err[256] = "";
	assert_int_equal(load_snap(f->b, old, len, err, sizeof(err)), 0);
	assert_same_digest(f->a, f->b);
	/* The SUM flag without the section, the section without the flag. */
	old[12] = SNAPSHOT_FLAG_SUM;
	expect_refused(f, old, len, "integrity section");
	memcpy(old, f->buf, f->len);
	old[12] = 0;
	expect_refused(f, old, f->len, "unknown section 'SUM '");
	old[12] = 2;
	expect_refused(f, old, f->len, "unknown header flags");
	free(old);
}

/* Any single flipped bit is refused with a one-line reason: a bit in every
 * section (its header and its payload), in the file header and at random
 * places in the compressed RAM. */
static void test_bit_flips_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t *copy = malloc(f->len);
	unsigned flips = 0, sections = 0, seed = 12345;
	for (size_t off = STATE_FILE_HEADER_LEN; off + STATE_SECTION_HEADER_LEN <= f->len;) {
		uint64_t len = rd32(f->buf + off + 12) | (uint64_t)rd32(f->buf + off + 16) << 32;
		size_t end = off + STATE_SECTION_HEADER_LEN + (size_t)len;
		bool ram = !memcmp(f->buf + off, "RAM ", 4);
		/* the tag, the length, the first and last payload bytes, and
		 * (in RAM) 200 random places */
		size_t at[204] = {off, off + 12, off + STATE_SECTION_HEADER_LEN, end - 1};
		unsigned n = 4;
		for (unsigned i = 0; ram && i < 200; i++) {
			seed = seed * 1103515245u + 12345u;
			at[n++] = off + STATE_SECTION_HEADER_LEN + (seed >> 8) % len;
		}
		for (unsigned i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			memcpy(copy, f->buf, f->len);
			copy[at[i]] ^= (uint8_t)(1u << ((seed >> 16) % 8));
			char err[256] = "";
			assert_int_equal(load_snap(f->b, copy, f->len, err, sizeof(err)), -1);
			assert_non_null(strstr(err, "snapshot: "));
			assert_null(strchr(err, '\n'));
			flips++;
		}
		off = end;
		sections++;
	}
	for (size_t i = 0; i < STATE_FILE_HEADER_LEN; i++) {
		memcpy(copy, f->buf, f->len);
		copy[i] ^= 0x10;
		expect_refused(f, copy, f->len, NULL);
	}
	/* CONF ... RAM and SUM on the bare board, every one visited */
	assert_true(sections >= 10);
	assert_int_equal(flips, sections * 4 + 200);
	/* The decoder's own net behind the hash: zstd's content checksum
	 * catches a flip in the compressed pages of a resealed file. */
	memcpy(copy, f->buf, f->len);
	copy[f->len - SUM_TRAILER - 6] ^= 0x04;
	reseal(copy, f->len);
	expect_refused(f, copy, f->len, "RAM");
	free(copy);
}

static void test_corrupt_length_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t *copy = malloc(f->len);
	size_t cpu = find_section(f, "CPU ");
	memcpy(copy, f->buf, f->len);
	copy[cpu + 12 + 5] ^= 0x01; /* bit 40 of the length */
	expect_refused(f, copy, f->len, "BLAKE2b");
	reseal(copy, f->len);
	expect_refused(f, copy, f->len, "claims");
	/* A length one byte short leaves CPU short and misaligns the rest. */
	memcpy(copy, f->buf, f->len);
	copy[cpu + 12] -= 1;
	reseal(copy, f->len);
	expect_refused(f, copy, f->len, NULL);
	/* Last byte of the RAM section's compressed data. */
	memcpy(copy, f->buf, f->len);
	copy[f->len - SUM_TRAILER - 1] ^= 0xff;
	reseal(copy, f->len);
	expect_refused(f, copy, f->len, "RAM");
	free(copy);
}

static void test_wrong_version_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t *copy = malloc(f->len);
	memcpy(copy, f->buf, f->len);
	copy[8] = 2; /* format version */
	reseal(copy, f->len);
	expect_refused(f, copy, f->len, "format version 2");
	memcpy(copy, f->buf, f->len);
	copy[0] = 'X';
	expect_refused(f, copy, f->len, "bad magic");
	memcpy(copy, f->buf, f->len);
	copy[find_section(f, "CPU ") + 4] = 9; /* section version */
	reseal(copy, f->len);
	expect_refused(f, copy, f->len, "'CPU ' version 9");
	free(copy);
}

static void test_wrong_ram_size_refused(void **state)
{
	struct fixture *f = *state;
	struct machine *c = new_machine(BOARD_BARE, 2 * RAM_SIZE);
	char err[256] = "";
	assert_int_equal(load_snap(c, f->buf, f->len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "MiB of RAM"));
	free_machine(c);
}

/* An extra section after CONF: refused unless flagged optional. */
static void test_unknown_section(void **state)
{
	struct fixture *f = *state;
	size_t cpu = find_section(f, "CPU ");
	size_t extra = STATE_SECTION_HEADER_LEN + 3;
	uint8_t *copy = calloc(1, f->len + extra);
	memcpy(copy, f->buf, cpu);
	uint8_t hdr[STATE_SECTION_HEADER_LEN + 3] = {'Z', 'Z', 'Z', 'Z', 1, 0, 0, 0, 0, 0, 0, 0,
						     3, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c'};
	memcpy(copy + cpu, hdr, extra);
	memcpy(copy + cpu + extra, f->buf + cpu, f->len - cpu);
	reseal(copy, f->len + extra);
	expect_refused(f, copy, f->len + extra, "unknown section 'ZZZZ'");
	copy[cpu + 8] = STATE_SECTION_OPTIONAL;
	reseal(copy, f->len + extra);
	char err[256] = "";
	assert_int_equal(load_snap(f->b, copy, f->len + extra, err, sizeof(err)), 0);
	assert_same_digest(f->a, f->b);
	free(copy);
}

/* Flip every byte before the RAM payload in turn, resealed so that the
 * decoder sees it: each load fails cleanly or succeeds; nothing crashes
 * (the sanitizer run is the real check). */
static void test_byte_flips_never_crash(void **state)
{
	struct fixture *f = *state;
	uint8_t *copy = malloc(f->len);
	size_t limit = find_section(f, "RAM ") + STATE_SECTION_HEADER_LEN + 64;
	unsigned refused = 0;
	for (size_t i = 0; i < limit && i < f->len; i++) {
		memcpy(copy, f->buf, f->len);
		copy[i] ^= 0xa5;
		reseal(copy, f->len);
		char err[256] = "";
		if (load_snap(f->b, copy, f->len, err, sizeof(err)))
			refused++;
		else
			assert_string_equal(err, "");
	}
	assert_true(refused > 0);
	free(copy);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--write-fixture"))
		return write_fixture(argv[2]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restore_matches_and_stays_in_lockstep),
		cmocka_unit_test(test_clock_rate_travels_with_snapshot),
		cmocka_unit_test(test_every_cpu_field_restored),
		cmocka_unit_test(test_digest_ignores_caches),
		cmocka_unit_test(test_digest_cache_follows_writes),
		cmocka_unit_test(test_digest_follows_boot_image),
		cmocka_unit_test(test_digest_versions_do_not_share_pages),
		cmocka_unit_test(test_load_clears_stale_ram),
		cmocka_unit_test(test_virt_board_round_trip),
		cmocka_unit_test(test_disk_overlay_round_trip),
		cmocka_unit_test(test_old_snapshot_loads),
		cmocka_unit_test(test_boot_ram_by_reference),
		cmocka_unit_test_setup_teardown(test_truncated_refused, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_length_refused, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_version_refused, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_ram_size_refused, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_section, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_byte_flips_never_crash, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_old_format_still_loads, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_bit_flips_refused, fixture_setup,
						fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
