/* Dirty-page tracking (vm/taps.h section 5, docs/taps.md "Dirty pages").
 *
 * The oracle is RAM itself: every page is copied (bare-metal tests) or
 * hashed (the Linux boot) before a round, and the pages whose bytes
 * differ afterwards must all be in the fetched bitmap.  A page written
 * with the bytes it already held may be reported; the bare-metal test
 * writes one such page on purpose and requires it reported, and requires
 * every other reported page to have changed, so its bitmap must equal an
 * exact expected set.
 *
 * The guest program writes through every path a write to RAM can take:
 * a TLB store hit, a misaligned store across two pages (emulated byte by
 * byte on the slow path), an FP store, an AMO, an LR/SC pair (and an SC
 * that fails, which writes nothing), page-table A and D updates by the
 * Sv39 walker, device DMA through bus_ram_ptr, and the taps' own writes.
 */
#include "harness.h"

#include <unistd.h>

#include "vm/state_digest.h"
#include "vm/taps.h"

#define PG(n) (DATA_BASE + (uint64_t)(n) * 0x1000)
#define P_HIT PG(0) /* stored to before tracking starts: later stores hit */
#define P_MIS_A PG(1) /* a misaligned sd crosses from here ... */
#define P_MIS_B PG(2) /* ... into here */
#define P_AMO PG(3)
#define P_LRSC PG(4)
#define P_SCFAIL PG(5) /* an SC without a reservation: no write */
#define P_READ PG(6) /* only loaded from */
#define P_SAME PG(7) /* stored to with the bytes it holds */
#define P_FP PG(8)
#define P_DMA PG(9)
#define P_TAPS PG(10) /* taps_write_phys */
#define P_TAPSV PG(11) /* taps_write_virt, through VA_W */
#define P_ADLOAD PG(12) /* loaded through VA_A: its PTE gets A */
#define P_ADSTORE PG(13) /* stored through VA_D: its PTE gets D */
#define P_NEW PG(14) /* first written in round two */
#define P_BYTE PG(15) /* an sb */

#define VA_A 0x10000000ULL /* leaf table T_A (no A bit) */
#define VA_W 0x10001000ULL /* same leaf table, A and D set */
#define VA_D 0x10200000ULL /* leaf table T_D (A, no D) */

#define NPAGES (RAM_SIZE / 4096)
#define WORDS ((NPAGES + 63) / 64)

#define M_PROG CODE_BASE
#define S_PROG (CODE_BASE + 0x800)
#define WARM_PROG (CODE_BASE + 0xc00)
#define ROUND2_PROG (CODE_BASE + 0x1000)
#define ROUND2_S_PROG (CODE_BASE + 0x1400)

static uint64_t page_index(uint64_t pa) { return (pa - DRAM_BASE) / 4096; }

static bool bit(const uint64_t *b, uint64_t i) { return (b[i / 64] >> (i % 64)) & 1; }

static void set_bit(uint64_t *b, uint64_t i) { b[i / 64] |= 1ULL << (i % 64); }

static uint8_t *copy_ram(struct machine *m)
{
	uint8_t *c = malloc(m->ram_size);
	assert_non_null(c);
	memcpy(c, m->ram, m->ram_size);
	return c;
}

/* The pages whose bytes differ from `before`. */
static void changed_pages(struct machine *m, const uint8_t *before, uint64_t *out)
{
	memset(out, 0, WORDS * 8);
	for (uint64_t i = 0; i < NPAGES; i++)
		if (memcmp(before + i * 4096, m->ram + i * 4096, 4096))
			set_bit(out, i);
}

/* The fetched bitmap must be exactly `expected`; name the first page that
 * is not. */
static void assert_bitmap(const uint64_t *got, const uint64_t *expected)
{
	for (uint64_t i = 0; i < NPAGES; i++)
		if (bit(got, i) != bit(expected, i))
			fail_msg("page 0x%llx: %s", (unsigned long long)(DRAM_BASE + i * 4096),
				 bit(got, i) ? "reported dirty but unchanged"
					     : "changed but not reported");
}

static void run_to_ebreak(struct machine *m, uint64_t pc)
{
	run_from(m, pc, 500);
	assert_int_equal(m->hart.pc, MTRAP_BASE);
	assert_int_equal(m->hart.mcause, EXC_BREAKPOINT);
}

static uint32_t fsd(unsigned rs2, unsigned rs1, int32_t imm)
{
	return enc_s(imm, rs2, rs1, 3, 0x27);
}

static uint32_t amoadd_d(unsigned rd, unsigned rs1, unsigned rs2)
{
	return amo(AMO_ADD, 3, rd, rs1, rs2);
}

/* A store to va at privilege `priv` would hit the TLB. */
static bool has_write_entry(struct machine *m, int priv, uint64_t va)
{
	const struct tlb_entry *e = &hart_tlb(&m->hart, priv, ACCESS_WRITE)->write[(va >> 12) % TLB_ENTRIES];
	return e->tag == va;
}

static void write_programs(struct machine *m)
{
	struct code c = code_at(m, WARM_PROG);
	emit_li(&c, A0, P_HIT);
	emit(&c, addi(T1, ZERO, 1));
	emit(&c, sd(T1, A0, 0));
	emit(&c, ebreak());

	c = code_at(m, M_PROG);
	emit_li(&c, A0, P_HIT);
	emit(&c, addi(T1, ZERO, 2));
	emit(&c, sd(T1, A0, 0)); /* a hit unless enabling dropped the entry */
	emit(&c, sd(T1, A0, 8));
	emit_li(&c, A0, P_MIS_B - 4);
	emit_li(&c, T1, 0x1122334455667788ULL);
	emit(&c, sd(T1, A0, 0));
	emit_li(&c, A0, P_AMO);
	emit(&c, addi(T1, ZERO, 5));
	emit(&c, amoadd_d(T2, A0, T1));
	emit_li(&c, A0, P_LRSC);
	emit(&c, lr_d(T2, A0));
	emit(&c, sc_d(T3, A0, T1));
	emit_li(&c, A0, P_SCFAIL);
	emit(&c, sc_d(T4, A0, T1)); /* the SC above cleared the reservation */
	emit_li(&c, A0, P_READ);
	emit(&c, ld(T2, A0, 0));
	emit_li(&c, A0, P_SAME);
	emit(&c, ld(T2, A0, 0));
	emit(&c, sd(T2, A0, 0));
	emit_li(&c, A0, P_FP);
	emit(&c, fsd(0, A0, 16));
	emit_li(&c, A0, P_BYTE);
	emit(&c, sb(T1, A0, 0x7ff));
	emit(&c, ebreak());

	c = code_at(m, S_PROG);
	emit_li(&c, A0, VA_A);
	emit(&c, ld(T2, A0, 0)); /* sets A in T_A */
	emit_li(&c, A0, VA_D);
	emit(&c, addi(T1, ZERO, 7));
	emit(&c, sd(T1, A0, 0)); /* sets D in T_D */
	emit(&c, ebreak());

	c = code_at(m, ROUND2_PROG);
	emit_li(&c, A0, P_HIT);
	emit(&c, addi(T1, ZERO, 3));
	emit(&c, sd(T1, A0, 0)); /* a hit unless the fetch dropped the entry */
	emit_li(&c, A0, P_NEW);
	emit(&c, sd(T1, A0, 0));
	emit(&c, ebreak());

	c = code_at(m, ROUND2_S_PROG);
	emit_li(&c, A0, VA_D);
	emit(&c, addi(T1, ZERO, 9));
	emit(&c, sd(T1, A0, 0)); /* a hit unless the fetch dropped the entry */
	emit(&c, ebreak());
}

/* The page tables: code identity-mapped, VA_A and VA_W in one leaf table,
 * VA_D in another.  Returns the satp value; translation stays off (M). */
static uint64_t build_tables(struct machine *m, uint64_t *t_a, uint64_t *t_d)
{
	struct pt pt;
	pt_init(&pt, m, 3);
	pt_map(&pt, CODE_BASE, CODE_BASE, 0, PTE_R | PTE_X | PTE_A);
	pt_map(&pt, CODE_BASE + 0x1000, CODE_BASE + 0x1000, 0, PTE_R | PTE_X | PTE_A);
	*t_a = pt_map(&pt, VA_A, P_ADLOAD, 0, PTE_R | PTE_W) & ~0xfffULL;
	pt_map(&pt, VA_W, P_TAPSV, 0, PTE_R | PTE_W | PTE_A | PTE_D);
	*t_d = pt_map(&pt, VA_D, P_ADSTORE, 0, PTE_R | PTE_W | PTE_A) & ~0xfffULL;
	assert_true(*t_a != *t_d);
	return pt_satp(&pt);
}

static void test_every_write_path(void **state)
{
	struct machine *m = *state;
	uint64_t t_a, t_d;
	uint64_t satp = build_tables(m, &t_a, &t_d);
	write_programs(m);
	poke64(m, P_READ, 0x5151);
	poke64(m, P_SAME, 0x7777);
	poke64(m, P_ADLOAD, 0x4141);
	m->hart.f[0] = 0x400921fb54442d18ULL; /* pi */
	set_mstatus_bits(m, MSTATUS_FS, 0);

	/* Before tracking: a store leaves a write entry for P_HIT. */
	run_to_ebreak(m, WARM_PROG);
	assert_true(has_write_entry(m, PRIV_M, P_HIT));

	assert_int_equal(taps_dirty_enable(m), 0);
	assert_false(has_write_entry(m, PRIV_M, P_HIT));
	uint8_t *before = copy_ram(m);

	/* Round one: the M-mode stores, then S-mode under Sv39, then the
	 * writers from outside the hart. */
	run_to_ebreak(m, M_PROG);
	assert_int_equal(m->hart.x[T3], 0); /* the SC succeeded */
	assert_int_equal(m->hart.x[T4], 1); /* this one failed */
	assert_int_equal(csr_write_debug(&m->hart, CSR_SATP, satp), 0);
	set_priv(m, PRIV_S);
	run_to_ebreak(m, S_PROG);
	assert_int_equal(m->hart.x[T2], 0x4141);
	uint8_t *dma = bus_ram_ptr(&m->bus, P_DMA + 100, 200, true);
	assert_non_null(dma);
	memset(dma, 0xd3, 200);
	const char msg[] = "written by a debugger";
	assert_int_equal(taps_write_phys(m, P_TAPS + 8, msg, sizeof(msg)), MV_OK);
	assert_int_equal(taps_write_virt(m, satp, VA_W + 64, msg, sizeof(msg)), sizeof(msg));

	/* Entries the fetch must drop: round one's stores made them. */
	assert_true(has_write_entry(m, PRIV_M, P_HIT));
	assert_true(has_write_entry(m, PRIV_S, VA_D));

	uint64_t got[WORDS], expected[WORDS];
	changed_pages(m, before, expected);
	set_bit(expected, page_index(P_SAME)); /* written, unchanged: reported */
	long n = taps_dirty_fetch(m, got, NPAGES);
	assert_bitmap(got, expected);
	/* The test did exercise each path: these changed, those did not. */
	const uint64_t written[] = {P_HIT, P_MIS_A, P_MIS_B, P_AMO, P_LRSC, P_SAME, P_FP, P_BYTE,
				    t_a, t_d, P_ADSTORE, P_DMA, P_TAPS, P_TAPSV};
	for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++)
		if (!bit(got, page_index(written[i])))
			fail_msg("page 0x%llx not reported", (unsigned long long)written[i]);
	assert_int_equal(n, sizeof(written) / sizeof(written[0]));
	assert_false(bit(got, page_index(P_SCFAIL)));
	assert_false(bit(got, page_index(P_READ)));
	assert_false(bit(got, page_index(P_ADLOAD)));
	assert_false(bit(got, page_index(CODE_BASE)));

	/* Round two: the write entries made in round one are gone after the
	 * fetch, so the stores that would hit them are seen again. */
	assert_false(has_write_entry(m, PRIV_M, P_HIT));
	assert_false(has_write_entry(m, PRIV_S, VA_D));
	memcpy(before, m->ram, m->ram_size);
	set_priv(m, PRIV_M);
	run_to_ebreak(m, ROUND2_PROG);
	set_priv(m, PRIV_S);
	run_to_ebreak(m, ROUND2_S_PROG);
	changed_pages(m, before, expected);
	assert_int_equal(taps_dirty_fetch(m, got, NPAGES), 3);
	assert_bitmap(got, expected);
	assert_true(bit(got, page_index(P_HIT)));
	assert_true(bit(got, page_index(P_NEW)));
	assert_true(bit(got, page_index(P_ADSTORE)));

	/* Nothing written since: an empty round. */
	assert_int_equal(taps_dirty_fetch(m, got, NPAGES), 0);
	free(before);
}

/* Stores that hit the TLB in decoded blocks, many per page: each page is
 * reported once the round it is written, and the rounds after it only
 * when written again. */
static void test_store_loop_rounds(void **state)
{
	struct machine *m = *state;
	/* for (a0 = DATA; a0 < DATA + 64 pages; a0 += 8) *a0 = a0 + round */
	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, A0, DATA_BASE);
	emit_li(&c, A1, DATA_BASE + 64 * 4096);
	emit(&c, add(T1, A0, A2));
	emit(&c, sd(T1, A0, 0));
	emit(&c, addi(A0, A0, 8));
	emit(&c, bltu(A0, A1, -12));
	emit(&c, ebreak());
	assert_int_equal(taps_dirty_enable(m), 0);
	uint64_t got[WORDS], expected[WORDS];
	taps_dirty_fetch(m, got, NPAGES);
	uint8_t *before = copy_ram(m);
	for (uint64_t round = 1; round <= 3; round++) {
		m->hart.x[A2] = round;
		run_from(m, CODE_BASE, 64 * 512 * 4 + 100);
		assert_int_equal(m->hart.pc, MTRAP_BASE);
		changed_pages(m, before, expected);
		assert_int_equal(taps_dirty_fetch(m, got, NPAGES), 64);
		assert_bitmap(got, expected);
		memcpy(before, m->ram, m->ram_size);
	}
	free(before);
}

static void test_api_edges(void **state)
{
	struct machine *m = *state;
	uint64_t got[WORDS];
	assert_false(taps_dirty_enabled(m));
	assert_int_equal(taps_dirty_fetch(m, got, NPAGES), -1);
	assert_int_equal(taps_dirty_enable(m), 0);
	assert_true(taps_dirty_enabled(m));
	assert_int_equal(taps_dirty_enable(m), 0); /* again: no change */
	assert_int_equal(taps_dirty_fetch(m, got, NPAGES - 1), -1);
	poke64(m, DATA_BASE, 1);
	/* bits past the end of RAM are cleared, even in a larger bitmap */
	uint64_t big[WORDS + 2];
	memset(big, 0xff, sizeof(big));
	assert_int_equal(taps_dirty_fetch(m, big, NPAGES + 128), 1);
	assert_true(bit(big, page_index(DATA_BASE)));
	assert_int_equal(big[WORDS], 0);
	assert_int_equal(big[WORDS + 1], 0);
	taps_dirty_disable(m);
	assert_false(taps_dirty_enabled(m));
	assert_int_equal(taps_dirty_fetch(m, got, NPAGES), -1);
	/* A fork-clone's reset stops it too. */
	assert_int_equal(taps_dirty_enable(m), 0);
	taps_reset(m);
	assert_false(taps_dirty_enabled(m));
}

/* A restore rewrites RAM behind the bus's back: every page is dirty. */
static void test_restore_marks_all(void **state)
{
	struct machine *a = *state;
	poke64(a, DATA_BASE, 42);
	size_t len;
	uint8_t *snap = save_snap(a, &len);
	struct machine *b = new_machine(BOARD_BARE, RAM_SIZE);
	assert_int_equal(taps_dirty_enable(b), 0);
	char err[256] = "";
	assert_int_equal(snapshot_load_buffer(b, snap, len, err, sizeof(err)), 0);
	uint64_t got[WORDS];
	assert_int_equal(taps_dirty_fetch(b, got, NPAGES), NPAGES);
	free(snap);
	free_machine(b);
}

/* ---- a booting Linux guest ---- */

static uint64_t page_hash(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)(const void *)p;
	uint64_t h = 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < 512; i++)
		h = (h ^ q[i]) * 0x100000001b3ULL + i;
	return h;
}

static void hash_pages(const struct machine *m, uint64_t *h)
{
	for (uint64_t i = 0; i < m->ram_size / 4096; i++)
		h[i] = page_hash(m->ram + i * 4096);
}

/* The console's last bytes, to see how far the guest got. */
struct console_tail {
	char buf[4096];
	size_t len;
};

static void console_keep(void *opaque, const uint8_t *buf, size_t len)
{
	struct console_tail *t = opaque;
	for (size_t i = 0; i < len; i++) {
		if (t->len == sizeof(t->buf) - 1) {
			memmove(t->buf, t->buf + 2048, t->len - 2048);
			t->len -= 2048;
		}
		t->buf[t->len++] = (char)buf[i];
		t->buf[t->len] = '\0';
	}
}

#define LINUX_RAM (128ULL << 20)
#define LINUX_ROUND 10000000ULL
#define LINUX_ROUNDS 60

static struct machine *boot_linux(const char *dir, const char *overlay, struct console_tail *con)
{
	char disk[4096], kernel[4096], initrd[4096], err[512] = "";
	snprintf(disk, sizeof(disk), "%s/rootfs.ext4,overlay=%s", dir, overlay);
	snprintf(kernel, sizeof(kernel), "%s/Image", dir);
	snprintf(initrd, sizeof(initrd), "%s/initramfs.cpio.gz", dir);
	struct machine *m = calloc(1, sizeof(*m));
	assert_non_null(m);
	const struct machine_config cfg = {
		.board = BOARD_VIRT,
		.ram_size = LINUX_RAM,
		.entropy_seeded = true,
		.rtc_epoch_ns = 1,
		.idle_skip = true,
		.disk = disk,
		.net = "none",
		.console_write = console_keep,
		.console_opaque = con,
	};
	if (machine_init(m, &cfg, err, sizeof(err)))
		fail_msg("machine_init: %s", err);
	const struct boot_config bc = {"/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin",
				       kernel, initrd, "console=ttyS0 keel.net=off keel.poweroff"};
	if (machine_load_boot_files(m, &bc, err, sizeof(err)))
		fail_msg("machine_load_boot_files: %s", err);
	return m;
}

/* Boot the default guest (when KEEL_GUEST_DIR names it: `make test`)
 * with tracking on, in rounds: every page whose bytes changed in a round
 * is in that round's bitmap.  The guest writes through every path here
 * (its page tables' A/D bits, virtio-blk DMA, AMOs, user and kernel
 * stores), and tracking changes nothing it sees: the same boot without
 * tracking ends in the same state digest. */
static void test_linux_boot(void **state)
{
	(void)state;
	const char *dir = getenv("KEEL_GUEST_DIR");
	if (!dir || !*dir)
		skip();
	char tmpl[] = "/tmp/keel-test-dirty-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	char ov_a[64], ov_b[64];
	snprintf(ov_a, sizeof(ov_a), "%s/a.kov", tmpl);
	snprintf(ov_b, sizeof(ov_b), "%s/b.kov", tmpl);
	struct console_tail con = {.len = 0}, con_plain = {.len = 0};
	struct machine *m = boot_linux(dir, ov_a, &con);
	uint64_t npages = LINUX_RAM / 4096, words = npages / 64;
	uint64_t *before = malloc(npages * 8), *after = malloc(npages * 8);
	uint64_t *got = malloc(words * 8);
	assert_true(before && after && got);
	assert_int_equal(taps_dirty_enable(m), 0);
	hash_pages(m, before);
	uint64_t reported = 0, changed = 0;
	for (int round = 0; round < LINUX_ROUNDS && !m->exited; round++) {
		machine_run(m, LINUX_ROUND);
		hash_pages(m, after);
		long n = taps_dirty_fetch(m, got, npages);
		assert_true(n >= 0);
		reported += (uint64_t)n;
		for (uint64_t i = 0; i < npages; i++) {
			if (before[i] == after[i])
				continue;
			changed++;
			if (!bit(got, i))
				fail_msg("round %d: page 0x%llx changed but not reported", round,
					 (unsigned long long)(DRAM_BASE + i * 4096));
		}
		uint64_t *t = before;
		before = after;
		after = t;
	}
	/* It booted from its disk to the end and powered off, writing a lot;
	 * over-reporting stays modest. */
	if (!m->exited || !strstr(con.buf, "init on the disk root") ||
	    !strstr(con.buf, "keel-guest: ready"))
		fail_msg("the guest did not finish booting; its console ends:\n%s", con.buf);
	assert_true(changed > 1000);
	assert_true(reported < changed + changed / 2);
	print_message("linux: %llu instructions, %llu page changes, %llu reported\n",
		      (unsigned long long)m->hart.icount, (unsigned long long)changed,
		      (unsigned long long)reported);

	struct machine *plain = boot_linux(dir, ov_b, &con_plain);
	while (plain->hart.icount < m->hart.icount && !plain->exited)
		machine_run(plain, m->hart.icount - plain->hart.icount);
	assert_int_equal(plain->hart.icount, m->hart.icount);
	char da[STATE_DIGEST_HEX], db[STATE_DIGEST_HEX];
	assert_int_equal(state_digest_hex(m, da), 0);
	assert_int_equal(state_digest_hex(plain, db), 0);
	assert_string_equal(da, db);

	free(before);
	free(after);
	free(got);
	free_machine(m);
	free_machine(plain);
	unlink(ov_a);
	unlink(ov_b);
	rmdir(tmpl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		VM_TEST(test_every_write_path),
		VM_TEST(test_store_loop_rounds),
		VM_TEST(test_api_edges),
		VM_TEST(test_restore_marks_all),
		cmocka_unit_test(test_linux_boot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
