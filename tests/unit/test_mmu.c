/* Sv39/Sv48 translation (src/cpu/mmu.c) seen through executed loads,
 * stores and fetches in S and U mode.
 *
 * Page tables are built in guest RAM by struct pt (harness.h).  S-mode code
 * runs from CODE_BASE and U-mode code from UCODE_BASE, both identity-mapped;
 * faults are not delegated, so they land in the M vector (untranslated)
 * where mcause/mepc/mtval are checked.  Expected behaviour is the
 * privileged spec's "Virtual Address Translation Process" (Sv39/Sv48
 * sections); keel's documented choices (docs/cpu.md) are marked "keel:".
 */
#include "harness.h"

#define FRAME(n) (DATA_BASE + (uint64_t)(n) * 0x1000)
#define UCODE_BASE (CODE_BASE + 0x1000)
#define VA_4K 0x10000000ULL
#define RW_AD (PTE_R | PTE_W | PTE_A | PTE_D)
#define URW_AD (RW_AD | PTE_U)

static uint64_t code_for(int priv) { return priv == PRIV_U ? UCODE_BASE : CODE_BASE; }

/* Page tables with the two code pages mapped; translation on. */
static void mmu_on(struct machine *m, struct pt *pt, int levels)
{
	pt_init(pt, m, levels);
	pt_map(pt, CODE_BASE, CODE_BASE, 0, PTE_R | PTE_X | PTE_A);
	pt_map(pt, UCODE_BASE, UCODE_BASE, 0, PTE_R | PTE_X | PTE_A | PTE_U);
	pt_activate(pt);
}

/* Change a mapping and drop cached translations, as software would with
 * SFENCE.VMA (that instruction has its own test). */
static void remap(struct machine *m, struct pt *pt, uint64_t va, uint64_t pa, int level,
		  uint64_t flags)
{
	pt_map(pt, va, pa, level, flags);
	hart_flush_tlb(&m->hart);
}

/* Run the one instruction in `priv`.  True if it completed, false if it
 * trapped to M. */
static bool exec_in(struct machine *m, int priv, uint32_t insn)
{
	poke(m, code_for(priv), insn, 4);
	set_priv(m, priv);
	m->hart.pc = code_for(priv);
	m->hart.mcause = 0;
	m->hart.mtval = 0;
	assert_int_equal(run(m, 1), 1);
	return m->hart.pc != MTRAP_BASE;
}

static bool load_at(struct machine *m, int priv, uint64_t va, uint64_t *val)
{
	m->hart.x[A0] = va;
	m->hart.x[T0] = 0xdeadbeef;
	bool ok = exec_in(m, priv, ld(T0, A0, 0));
	*val = m->hart.x[T0];
	return ok;
}

static bool store_at(struct machine *m, int priv, uint64_t va, uint64_t val)
{
	m->hart.x[A0] = va;
	m->hart.x[T1] = val;
	return exec_in(m, priv, sd(T1, A0, 0));
}

static uint64_t must_load(struct machine *m, int priv, uint64_t va)
{
	uint64_t v;
	if (!load_at(m, priv, va, &v))
		fail_msg("load 0x%llx in priv %d faulted: cause %llu", (unsigned long long)va, priv,
			 (unsigned long long)m->hart.mcause);
	return v;
}

static void must_store(struct machine *m, int priv, uint64_t va, uint64_t val)
{
	if (!store_at(m, priv, va, val))
		fail_msg("store 0x%llx in priv %d faulted: cause %llu", (unsigned long long)va,
			 priv, (unsigned long long)m->hart.mcause);
}

static void load_faults(struct machine *m, int priv, uint64_t va)
{
	uint64_t v;
	assert_false(load_at(m, priv, va, &v));
	assert_mtrap(m, EXC_LOAD_PAGE_FAULT, code_for(priv), va);
	assert_int_equal(v, 0xdeadbeef);
	assert_int_equal((m->hart.mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT, priv);
}

static void store_faults(struct machine *m, int priv, uint64_t va)
{
	assert_false(store_at(m, priv, va, 0x5555));
	assert_mtrap(m, EXC_STORE_PAGE_FAULT, code_for(priv), va);
}

/* Jump to `va` in `priv` and execute one instruction there: true if the
 * fetch worked. */
static bool fetch_at(struct machine *m, int priv, uint64_t va)
{
	m->hart.x[A0] = va;
	if (!exec_in(m, priv, jalr(ZERO, A0, 0)))
		fail_msg("the jump itself trapped");
	assert_int_equal(m->hart.pc, va);
	m->hart.mcause = 0;
	run(m, 1);
	return m->hart.pc != MTRAP_BASE;
}

static void fetch_faults(struct machine *m, int priv, uint64_t va)
{
	assert_false(fetch_at(m, priv, va));
	assert_mtrap(m, EXC_INSN_PAGE_FAULT, va, va);
}

/* ---- translation of each page size ---- */

static void test_sv39_4k_pages(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	pt_map(&pt, VA_4K, FRAME(3), 0, RW_AD);
	pt_map(&pt, VA_4K + 0x1000, FRAME(1), 0, RW_AD);
	poke64(m, FRAME(3) + 0x18, 0x3333);
	poke64(m, FRAME(1) + 0xff8, 0x1111);
	assert_int_equal(must_load(m, PRIV_S, VA_4K + 0x18), 0x3333);
	assert_int_equal(must_load(m, PRIV_S, VA_4K + 0x1ff8), 0x1111);
	must_store(m, PRIV_S, VA_4K + 0x20, 0xabcd);
	assert_int_equal(peek64(m, FRAME(3) + 0x20), 0xabcd);
	load_faults(m, PRIV_S, VA_4K + 0x2000); /* nothing mapped */
	load_faults(m, PRIV_S, VA_4K - 8);
	store_faults(m, PRIV_S, VA_4K + 0x2000);
	/* M-mode ignores satp */
	poke64(m, DATA_BASE + 0x40, 0x4040);
	assert_int_equal(must_load(m, PRIV_M, DATA_BASE + 0x40), 0x4040);
}

static void test_sv39_megapage(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	uint64_t va = 0x40200000, pa = DRAM_BASE + 0x200000;
	pt_map(&pt, va, pa, 1, RW_AD);
	poke64(m, pa + 0x12348, 0x22);
	assert_int_equal(must_load(m, PRIV_S, va + 0x12348), 0x22);
	must_store(m, PRIV_S, va + 0x1ffff8, 0x77);
	assert_int_equal(peek64(m, pa + 0x1ffff8), 0x77);
	load_faults(m, PRIV_S, va + 0x200000);
	load_faults(m, PRIV_S, va - 8);
}

static void test_sv39_gigapage(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	uint64_t va = 0x40000000;
	pt_map(&pt, va, DRAM_BASE, 2, RW_AD);
	poke64(m, DATA_BASE + 0x48, 0x4848);
	assert_int_equal(must_load(m, PRIV_S, va + (DATA_BASE - DRAM_BASE) + 0x48), 0x4848);
	must_store(m, PRIV_S, va + RAM_SIZE - 8, 0x99);
	assert_int_equal(peek64(m, DRAM_BASE + RAM_SIZE - 8), 0x99);
	load_faults(m, PRIV_S, va - 8);
	load_faults(m, PRIV_S, va + 0x80000000); /* root index 3 */
}

/* The top half of the Sv39 space (bit 38 set, sign-extended). */
static void test_sv39_high_half(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	uint64_t va = 0xffffffc000001000;
	pt_map(&pt, va, FRAME(7), 0, RW_AD);
	poke64(m, FRAME(7) + 8, 0x7777);
	assert_int_equal(must_load(m, PRIV_S, va + 8), 0x7777);
}

static void test_sv48_page_sizes(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 4);
	const struct {
		uint64_t va, pa;
		int level;
	} maps[] = {
		{VA_4K, FRAME(2), 0},
		{0x40200000, DRAM_BASE + 0x200000, 1},
		{0xc0000000, DRAM_BASE, 2},
		{0x8000000000, 0, 3},            /* a 512 GiB page: VA = 2^39 + PA */
		{0xffff800000003000, FRAME(4), 0}, /* top half */
	};
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		pt_map(&pt, maps[i].va, maps[i].pa, maps[i].level, RW_AD);
	poke64(m, FRAME(2) + 0x10, 0x2222);
	poke64(m, DRAM_BASE + 0x200000 + 0x1238, 0x1238);
	poke64(m, DATA_BASE + 0x88, 0x8888);
	poke64(m, FRAME(4) + 0x20, 0x4444);
	assert_int_equal(must_load(m, PRIV_S, VA_4K + 0x10), 0x2222);
	assert_int_equal(must_load(m, PRIV_S, 0x40200000 + 0x1238), 0x1238);
	assert_int_equal(must_load(m, PRIV_S, 0xc0000000 + (DATA_BASE - DRAM_BASE) + 0x88), 0x8888);
	assert_int_equal(must_load(m, PRIV_S, 0x8000000000 + DATA_BASE + 0x88), 0x8888);
	assert_int_equal(must_load(m, PRIV_S, 0xffff800000003020), 0x4444);
	must_store(m, PRIV_S, 0x8000000000 + DATA_BASE + 0x90, 0x9090);
	assert_int_equal(peek64(m, DATA_BASE + 0x90), 0x9090);
	/* canonical for Sv48 but not Sv39 (bit 39 set): fine here */
	load_faults(m, PRIV_S, 0x0000800000000000); /* bit 47 set, not extended */
	load_faults(m, PRIV_S, 0xffff000000000000);
	load_faults(m, PRIV_S, 0x0001000000000000);
}

/* ---- page faults ---- */

static void test_non_canonical(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	/* Map index 256 of the root, which a VA whose bits 63:39 are not a
	 * copy of bit 38 would hit if those bits were ignored. */
	pt_map(&pt, 0xffffffc000000000, DRAM_BASE, 2, RW_AD | PTE_X);
	pt_map(&pt, VA_4K, FRAME(1), 0, RW_AD | PTE_X);
	const uint64_t bad[] = {0x0000004000000000, 0x0000008000000000 | VA_4K,
				0x8000000000000000 | VA_4K, 0x7fffffc000000000};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		load_faults(m, PRIV_S, bad[i]);
		store_faults(m, PRIV_S, bad[i]);
		fetch_faults(m, PRIV_S, bad[i]);
	}
}

static void test_invalid_pte(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	pt_map(&pt, VA_4K, FRAME(1), 0, RW_AD | PTE_X);
	uint64_t slot = pt_slot(&pt, VA_4K, 0);
	poke64(m, slot, peek64(m, slot) & ~PTE_V); /* everything else still set */
	load_faults(m, PRIV_S, VA_4K);
	store_faults(m, PRIV_S, VA_4K);
	fetch_faults(m, PRIV_S, VA_4K);
	/* an invalid pointer PTE one level up */
	pt_map(&pt, 0x40000000, FRAME(1), 0, RW_AD);
	uint64_t l1 = pt_slot(&pt, 0x40000000, 1);
	poke64(m, l1, peek64(m, l1) & ~PTE_V);
	load_faults(m, PRIV_S, 0x40000000);
}

/* R=0 W=1 is reserved: a page fault for every access type. */
static void test_write_without_read(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	pt_map(&pt, VA_4K, FRAME(1), 0, PTE_W | PTE_A | PTE_D);
	pt_map(&pt, VA_4K + 0x1000, FRAME(2), 0, PTE_W | PTE_X | PTE_A | PTE_D);
	load_faults(m, PRIV_S, VA_4K);
	store_faults(m, PRIV_S, VA_4K);
	store_faults(m, PRIV_S, VA_4K + 0x1000);
	fetch_faults(m, PRIV_S, VA_4K + 0x1000);
	assert_int_equal(peek64(m, FRAME(1)), 0);
}

static void test_read_only_page(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	pt_map(&pt, VA_4K, FRAME(1), 0, PTE_R | PTE_A | PTE_D);
	poke64(m, FRAME(1), 0x11);
	assert_int_equal(must_load(m, PRIV_S, VA_4K), 0x11);
	store_faults(m, PRIV_S, VA_4K);
	assert_int_equal(peek64(m, FRAME(1)), 0x11);
	/* An AMO needs write permission and reports a store fault. */
	m->hart.x[A0] = VA_4K;
	assert_false(exec_in(m, PRIV_S, amo(AMO_ADD, 3, T0, A0, A1)));
	assert_mtrap(m, EXC_STORE_PAGE_FAULT, CODE_BASE, VA_4K);
}

static void test_user_page_from_supervisor(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	pt_map(&pt, VA_4K, FRAME(1), 0, URW_AD | PTE_X);
	poke64(m, FRAME(1), 0x0013); /* nop */
	assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x13);
	load_faults(m, PRIV_S, VA_4K);
	store_faults(m, PRIV_S, VA_4K);
	set_mstatus_bits(m, MSTATUS_SUM, 0);
	assert_int_equal(must_load(m, PRIV_S, VA_4K), 0x13);
	must_store(m, PRIV_S, VA_4K + 8, 0x88);
	assert_int_equal(peek64(m, FRAME(1) + 8), 0x88);
	/* SUM never allows S to execute user code */
	fetch_faults(m, PRIV_S, VA_4K);
	assert_true(fetch_at(m, PRIV_U, VA_4K));
}

static void test_supervisor_page_from_user(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	pt_map(&pt, VA_4K, FRAME(1), 0, RW_AD | PTE_X);
	poke64(m, FRAME(1), 0x0013);
	assert_int_equal(must_load(m, PRIV_S, VA_4K), 0x13);
	load_faults(m, PRIV_U, VA_4K);
	store_faults(m, PRIV_U, VA_4K);
	fetch_faults(m, PRIV_U, VA_4K);
	assert_true(fetch_at(m, PRIV_S, VA_4K));
}

static void test_exec_needs_x(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	pt_map(&pt, VA_4K, FRAME(1), 0, RW_AD);
	pt_map(&pt, VA_4K + 0x1000, FRAME(2), 0, PTE_X | PTE_A);
	poke64(m, FRAME(1), 0x0013);
	poke64(m, FRAME(2), 0x0013);
	fetch_faults(m, PRIV_S, VA_4K);
	assert_true(fetch_at(m, PRIV_S, VA_4K + 0x1000)); /* execute-only */
}

/* MXR makes execute-only pages readable, not writable, and changing it
 * takes effect at once (no SFENCE.VMA needed). */
static void test_mxr(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	pt_map(&pt, VA_4K, FRAME(1), 0, PTE_X | PTE_A | PTE_D);
	pt_map(&pt, VA_4K + 0x1000, FRAME(2), 0, PTE_X | PTE_A | PTE_D | PTE_U);
	poke64(m, FRAME(1), 0x5151);
	load_faults(m, PRIV_S, VA_4K);

	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, A0, VA_4K);
	emit(&c, lui(T1, MSTATUS_MXR >> 12));
	emit(&c, csrrs(ZERO, CSR_SSTATUS, T1));
	emit(&c, ld(T2, A0, 0));
	emit(&c, sd(T2, A0, 0)); /* still not writable */
	set_priv(m, PRIV_S);
	run_from(m, CODE_BASE, 64);
	uint64_t sd_at = c.pc - 4;
	assert_mtrap(m, EXC_STORE_PAGE_FAULT, sd_at, VA_4K);
	assert_int_equal(m->hart.x[T2], 0x5151);

	c = code_at(m, CODE_BASE);
	emit_li(&c, A0, VA_4K);
	emit(&c, ld(T2, A0, 0)); /* MXR still set: fine, and now cached */
	emit(&c, lui(T1, MSTATUS_MXR >> 12));
	emit(&c, csrrc(ZERO, CSR_SSTATUS, T1));
	uint64_t ld_at = emit(&c, ld(T3, A0, 0));
	set_priv(m, PRIV_S);
	m->hart.x[T3] = 0x33;
	run_from(m, CODE_BASE, 64);
	assert_mtrap(m, EXC_LOAD_PAGE_FAULT, ld_at, VA_4K);
	assert_int_equal(m->hart.x[T3], 0x33);

	/* MXR does not override the U/SUM rules */
	set_mstatus_bits(m, MSTATUS_MXR, MSTATUS_SUM);
	load_faults(m, PRIV_S, VA_4K + 0x1000);
	set_mstatus_bits(m, MSTATUS_SUM, 0);
	assert_int_equal(must_load(m, PRIV_S, VA_4K + 0x1000), 0);
	assert_int_equal(must_load(m, PRIV_U, VA_4K + 0x1000), 0);
}

/* SUM cleared by an instruction: the next access must fault even though
 * the translation was just used. */
static void test_sum_change_takes_effect(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	pt_map(&pt, VA_4K, FRAME(1), 0, URW_AD);
	poke64(m, FRAME(1), 0x1111);
	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, A0, VA_4K);
	emit(&c, lui(T1, MSTATUS_SUM >> 12));
	emit(&c, csrrs(ZERO, CSR_SSTATUS, T1));
	emit(&c, ld(T2, A0, 0));
	emit(&c, sd(T2, A0, 8));
	emit(&c, csrrc(ZERO, CSR_SSTATUS, T1));
	uint64_t ld_at = emit(&c, ld(T3, A0, 0));
	set_priv(m, PRIV_S);
	run_from(m, CODE_BASE, 64);
	assert_mtrap(m, EXC_LOAD_PAGE_FAULT, ld_at, VA_4K);
	assert_int_equal(m->hart.x[T2], 0x1111);
	assert_int_equal(peek64(m, FRAME(1) + 8), 0x1111);
}

static void test_misaligned_superpage(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	pt_map(&pt, 0x40200000, DRAM_BASE + 0x1000, 1, RW_AD | PTE_X);  /* PPN[0] != 0 */
	pt_map(&pt, 0xc0000000, DRAM_BASE + 0x200000, 2, RW_AD | PTE_X); /* PPN[1] != 0 */
	const uint64_t vas[] = {0x40200000, 0x40200000 + 0x1000, 0xc0000000};
	for (size_t i = 0; i < sizeof(vas) / sizeof(vas[0]); i++) {
		load_faults(m, PRIV_S, vas[i]);
		store_faults(m, PRIV_S, vas[i]);
		fetch_faults(m, PRIV_S, vas[i]);
	}
}

/* A pointer PTE at level 0 has nowhere to go. */
static void test_pointer_at_last_level(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	uint64_t slot = pt_slot(&pt, VA_4K, 0);
	poke64(m, slot, pte_make(FRAME(1), PTE_V));
	load_faults(m, PRIV_S, VA_4K);
}

/* Bits 63:54 of a PTE are reserved without Svnapot/Svpbmt: a page fault. */
static void test_reserved_pte_bits(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	const int bits[] = {54, 61, 62, 63};
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		remap(m, &pt, VA_4K, FRAME(1), 0, RW_AD);
		assert_int_equal(must_load(m, PRIV_S, VA_4K), 0);
		uint64_t slot = pt_slot(&pt, VA_4K, 0);
		poke64(m, slot, peek64(m, slot) | 1ULL << bits[i]);
		hart_flush_tlb(&m->hart);
		load_faults(m, PRIV_S, VA_4K);
	}
}

/* A PTE that cannot be read is an access fault for the original access
 * type, not a page fault. */
static void test_pte_access_fault(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	uint64_t root_slot = pt.root + ((VA_4K >> 30) & 0x1ff) * 8;
	poke64(m, root_slot, pte_make(0x1000000, PTE_V)); /* next level: no memory there */
	uint64_t v;
	assert_false(load_at(m, PRIV_S, VA_4K, &v));
	assert_mtrap(m, EXC_LOAD_ACCESS, CODE_BASE, VA_4K);
	assert_false(store_at(m, PRIV_S, VA_4K, 1));
	assert_mtrap(m, EXC_STORE_ACCESS, CODE_BASE, VA_4K);
	assert_false(fetch_at(m, PRIV_S, VA_4K));
	assert_mtrap(m, EXC_INSN_ACCESS, VA_4K, VA_4K);
}

/* ---- A and D ---- */

static void test_accessed_dirty(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	uint64_t p = pt_map(&pt, VA_4K, FRAME(1), 0, PTE_R | PTE_W);
	uint64_t q = pt_map(&pt, VA_4K + 0x1000, FRAME(2), 0, PTE_R | PTE_X);
	uint64_t r = pt_map(&pt, VA_4K + 0x2000, FRAME(3), 0, PTE_R);
	uint64_t big = pt_map(&pt, 0x40200000, DRAM_BASE + 0x200000, 1, PTE_R | PTE_W);
	uint64_t root_before = peek64(m, pt.root);
	poke64(m, FRAME(2), 0x0013);

	must_load(m, PRIV_S, VA_4K);
	assert_int_equal(peek64(m, p) & (PTE_A | PTE_D), PTE_A);
	must_store(m, PRIV_S, VA_4K + 8, 1);
	assert_int_equal(peek64(m, p) & (PTE_A | PTE_D), PTE_A | PTE_D);

	assert_true(fetch_at(m, PRIV_S, VA_4K + 0x1000));
	assert_int_equal(peek64(m, q) & (PTE_A | PTE_D), PTE_A);

	/* a faulting store sets neither bit */
	store_faults(m, PRIV_S, VA_4K + 0x2000);
	assert_int_equal(peek64(m, r) & (PTE_A | PTE_D), 0);

	/* superpage leaf: a store sets both at once */
	must_store(m, PRIV_S, 0x40200000 + 0x5000, 2);
	assert_int_equal(peek64(m, big) & (PTE_A | PTE_D), PTE_A | PTE_D);

	/* pointer PTEs are never touched */
	assert_int_equal(peek64(m, pt.root), root_before);
	uint64_t l1 = pt_slot(&pt, VA_4K, 1);
	assert_int_equal(peek64(m, l1) & (PTE_A | PTE_D), 0);
}

/* A store after a load of the same page must still set D even though
 * the load already cached the page. */
static void test_dirty_after_cached_read(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	uint64_t p = pt_map(&pt, VA_4K, FRAME(1), 0, PTE_R | PTE_W | PTE_A);
	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, A0, VA_4K);
	emit(&c, ld(T0, A0, 0));
	emit(&c, ld(T0, A0, 8));
	emit(&c, sd(T0, A0, 16));
	uint64_t halt = emit_halt(&c);
	set_priv(m, PRIV_S);
	run_from(m, CODE_BASE, 64);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(peek64(m, p) & (PTE_A | PTE_D), PTE_A | PTE_D);
}

/* ---- MPRV ---- */

static void test_mprv(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	/* DATA_BASE as a virtual address maps elsewhere, so a translated and
	 * an untranslated load of it differ. */
	pt_map(&pt, DATA_BASE, FRAME(8), 0, RW_AD);
	pt_map(&pt, VA_4K, FRAME(9), 0, URW_AD);
	poke64(m, DATA_BASE, 0xaaaa);
	poke64(m, FRAME(8), 0x8888);
	poke64(m, FRAME(9), 0x9999);

	/* Each load leaves the page cached for its mode, so a stale choice of
	 * cache after an MPRV change would show. */
	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, A0, DATA_BASE);
	emit(&c, ld(T4, A0, 0));                /* physical */
	emit_li(&c, T1, MSTATUS_MPRV | 1ULL << MSTATUS_MPP_SHIFT);
	emit(&c, csrrs(ZERO, CSR_MSTATUS, T1)); /* MPRV, MPP = S */
	emit(&c, ld(T2, A0, 0));                /* translated */
	emit(&c, sd(T2, A0, 8));                /* translated */
	emit(&c, lui(T1, MSTATUS_MPRV >> 12));
	emit(&c, csrrc(ZERO, CSR_MSTATUS, T1));
	emit(&c, ld(T3, A0, 0));                /* physical again */
	uint64_t halt = emit_halt(&c);
	set_priv(m, PRIV_M);
	run_from(m, CODE_BASE, 64);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[T4], 0xaaaa);
	assert_int_equal(m->hart.x[T2], 0x8888);
	assert_int_equal(m->hart.x[T3], 0xaaaa);
	assert_int_equal(peek64(m, FRAME(8) + 8), 0x8888);
	assert_int_equal(peek64(m, DATA_BASE + 8), 0);

	/* MPP = S: S rules, so a U page needs SUM */
	set_mstatus_bits(m, MSTATUS_MPRV | 1ULL << MSTATUS_MPP_SHIFT, MSTATUS_MPP | MSTATUS_SUM);
	uint64_t v;
	assert_false(load_at(m, PRIV_M, VA_4K, &v));
	assert_mtrap(m, EXC_LOAD_PAGE_FAULT, CODE_BASE, VA_4K);
	/* MPP = U: the U page works, the S page does not */
	set_mstatus_bits(m, MSTATUS_MPRV, MSTATUS_MPP);
	assert_int_equal(must_load(m, PRIV_M, VA_4K), 0x9999);
	assert_false(load_at(m, PRIV_M, DATA_BASE, &v));
	assert_mtrap(m, EXC_LOAD_PAGE_FAULT, CODE_BASE, DATA_BASE);
	/* MPP = M: no translation */
	set_mstatus_bits(m, MSTATUS_MPRV | MSTATUS_MPP, 0);
	assert_int_equal(must_load(m, PRIV_M, DATA_BASE), 0xaaaa);
}

/* ---- SFENCE.VMA ---- */

static void test_sfence_vma(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	uint64_t slot = pt_map(&pt, VA_4K, FRAME(1), 0, RW_AD);
	poke64(m, FRAME(1), 0x1111);
	poke64(m, FRAME(2), 0x2222);
	assert_int_equal(must_load(m, PRIV_S, VA_4K), 0x1111);
	must_store(m, PRIV_S, VA_4K + 8, 0x11);

	poke64(m, slot, pte_make(FRAME(2), RW_AD | PTE_V));
	assert_true(exec_in(m, PRIV_S, sfence_vma(ZERO, ZERO)));
	assert_int_equal(must_load(m, PRIV_S, VA_4K), 0x2222);
	must_store(m, PRIV_S, VA_4K + 8, 0x22);
	assert_int_equal(peek64(m, FRAME(2) + 8), 0x22);
	assert_int_equal(peek64(m, FRAME(1) + 8), 0x11);

	/* the address-specific form, after the write permission went away */
	poke64(m, slot, pte_make(FRAME(2), PTE_R | PTE_A | PTE_V));
	m->hart.x[A0] = VA_4K;
	assert_true(exec_in(m, PRIV_S, sfence_vma(A0, ZERO)));
	store_faults(m, PRIV_S, VA_4K + 8);
	assert_int_equal(must_load(m, PRIV_S, VA_4K), 0x2222);

	/* and after the page went away altogether */
	poke64(m, slot, 0);
	m->hart.x[A0] = VA_4K;
	assert_true(exec_in(m, PRIV_S, sfence_vma(A0, ZERO)));
	load_faults(m, PRIV_S, VA_4K);
}

/* U-mode has a TLB of its own; SFENCE.VMA from S drops it too, while
 * M-mode's untranslated entries may stay.  Writing satp with the value it
 * has flushes nothing (the spec asks for SFENCE.VMA). */
static void test_sfence_vma_user_tlb(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	uint64_t slot = pt_map(&pt, VA_4K, FRAME(1), 0, RW_AD | PTE_U);
	poke64(m, FRAME(1), 0x1111);
	poke64(m, FRAME(2), 0x2222);
	assert_int_equal(must_load(m, PRIV_M, FRAME(1)), 0x1111);
	assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x1111);
	poke64(m, slot, pte_make(FRAME(2), RW_AD | PTE_U | PTE_V));
	assert_true(exec_in(m, PRIV_S, sfence_vma(ZERO, ZERO)));
	assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x2222);
	assert_int_equal(must_load(m, PRIV_M, FRAME(1)), 0x1111);

	poke64(m, slot, pte_make(FRAME(1), RW_AD | PTE_U | PTE_V));
	m->hart.x[T1] = m->hart.satp;
	assert_true(exec_in(m, PRIV_S, csrw(CSR_SATP, T1)));
	assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x2222); /* keel: still cached */
	assert_true(exec_in(m, PRIV_S, sfence_vma(ZERO, ZERO)));
	assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x1111);
}

/* A satp write switches address spaces without an SFENCE. */
static void test_satp_switch(void **state)
{
	struct machine *m = *state;
	struct pt a, b;
	mmu_on(m, &a, 3);
	pt_map(&a, VA_4K, FRAME(1), 0, RW_AD);
	b = a;
	b.root = pt_alloc(&b);
	a.next = b.next; /* share the allocator */
	pt_map(&b, CODE_BASE, CODE_BASE, 0, PTE_R | PTE_X | PTE_A);
	pt_map(&b, VA_4K, FRAME(2), 0, RW_AD);
	poke64(m, FRAME(1), 0x1111);
	poke64(m, FRAME(2), 0x2222);
	assert_int_equal(must_load(m, PRIV_S, VA_4K), 0x1111);
	m->hart.x[T1] = pt_satp(&b);
	assert_true(exec_in(m, PRIV_S, csrw(CSR_SATP, T1)));
	assert_int_equal(must_load(m, PRIV_S, VA_4K), 0x2222);
}

/* ---- ASIDs ---- */

/* n page tables that share the code mappings, each mapping VA_4K to
 * FRAME(10 + i) (holding 0x100 + i), all with the same allocator. */
static void spaces(struct machine *m, struct pt *pt, int n)
{
	for (int i = 0; i < n; i++) {
		if (i == 0) {
			pt_init(&pt[0], m, 3);
		} else {
			pt[i] = pt[i - 1];
			pt[i].root = pt_alloc(&pt[i]);
		}
		pt_map(&pt[i], CODE_BASE, CODE_BASE, 0, PTE_R | PTE_X | PTE_A);
		pt_map(&pt[i], UCODE_BASE, UCODE_BASE, 0, PTE_R | PTE_X | PTE_A | PTE_U);
		pt_map(&pt[i], VA_4K, FRAME(10 + i), 0, URW_AD);
		poke64(m, FRAME(10 + i), 0x100 + (uint64_t)i);
		if (i + 1 < n)
			pt[i + 1].next = pt[i].next;
	}
}

/* Set or clear sstatus.SUM from S-mode, as Linux's user copies do (a
 * CSR instruction: set_mstatus_bits would flush the TLB as well). */
static void sum(struct machine *m, bool on)
{
	m->hart.x[T1] = MSTATUS_SUM;
	assert_true(exec_in(m, PRIV_S, on ? csrrs(ZERO, CSR_SSTATUS, T1)
					 : csrrc(ZERO, CSR_SSTATUS, T1)));
}

/* Switch to pt's table with ASID asid, from S-mode, as Linux does. */
static void switch_to(struct machine *m, const struct pt *pt, uint64_t asid)
{
	m->hart.x[T1] = pt_satp(pt) | asid << 44;
	assert_true(exec_in(m, PRIV_S, csrw(CSR_SATP, T1)));
	assert_int_equal(m->hart.satp, pt_satp(pt) | asid << 44);
}

/* The translations of an address space survive a switch away and back;
 * SFENCE.VMA with an ASID drops only that ASID's, with an address only
 * that page's, and with rs2 = x0 every ASID's. */
static void test_asid_entries_survive_switches(void **state)
{
	struct machine *m = *state;
	struct pt pt[2];
	spaces(m, pt, 2);
	uint64_t slot_a = pt_slot(&pt[0], VA_4K, 0);
	switch_to(m, &pt[0], 1);
	assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x100);
	switch_to(m, &pt[1], 2);
	assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x101);

	/* A's mapping changes while B runs: A's entry is stale until a fence
	 * for A (keel keeps it: a TLB may) */
	poke64(m, slot_a, pte_make(FRAME(20), URW_AD | PTE_V));
	poke64(m, FRAME(20), 0x2020);
	m->hart.x[A1] = 2;
	assert_true(exec_in(m, PRIV_S, sfence_vma(ZERO, A1))); /* B's: not A's */
	switch_to(m, &pt[0], 1);
	assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x100);
	m->hart.x[A0] = VA_4K + 0x1000; /* keel: another page of A is not this one */
	m->hart.x[A1] = 1;
	assert_true(exec_in(m, PRIV_S, sfence_vma(A0, A1)));
	assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x100);
	m->hart.x[A0] = VA_4K + 0x10; /* this page, by any address in it */
	assert_true(exec_in(m, PRIV_S, sfence_vma(A0, A1)));
	assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x2020);

	/* an address with rs2 = x0 reaches every ASID, also from another */
	poke64(m, slot_a, pte_make(FRAME(21), URW_AD | PTE_V));
	poke64(m, FRAME(21), 0x2121);
	switch_to(m, &pt[1], 2);
	m->hart.x[A0] = VA_4K;
	assert_true(exec_in(m, PRIV_S, sfence_vma(A0, ZERO)));
	switch_to(m, &pt[0], 1);
	assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x2121);

	/* the ASID form drops every page of the ASID, and only the low 16
	 * bits of rs2 count */
	poke64(m, slot_a, pte_make(FRAME(22), URW_AD | PTE_V));
	poke64(m, FRAME(22), 0x2222);
	m->hart.x[A1] = 1 | 1ULL << 16;
	assert_true(exec_in(m, PRIV_S, sfence_vma(ZERO, A1)));
	assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x2222);
	switch_to(m, &pt[1], 2);
	assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x101);
}

/* keel: a walk that ends at a global leaf serves every address space
 * until SFENCE.VMA for every ASID (of its page, or of all), as the spec
 * lets a TLB keep global mappings; the ASID form keeps it.  Two spaces
 * that map one global page differently (software's error) show it. */
static void test_global_walks_shared(void **state)
{
	struct machine *m = *state;
	struct pt pt[2];
	spaces(m, pt, 2);
	uint64_t va = VA_4K + 0x100000, mega = VA_4K + 0x200000;
	pt_map(&pt[0], va, FRAME(1), 0, RW_AD | PTE_G);
	pt_map(&pt[1], va, FRAME(2), 0, RW_AD | PTE_G);
	pt_map(&pt[0], mega, 0x80200000, 1, RW_AD | PTE_G);
	pt_map(&pt[1], mega, 0x80400000, 1, RW_AD | PTE_G);
	poke64(m, FRAME(1), 0x1111);
	poke64(m, FRAME(2), 0x2222);
	poke64(m, 0x80200000 + 0x3000, 0x3333);
	poke64(m, 0x80400000 + 0x3000, 0x4444);
	switch_to(m, &pt[0], 1);
	assert_int_equal(must_load(m, PRIV_S, va), 0x1111);
	assert_int_equal(must_load(m, PRIV_S, mega + 0x3000), 0x3333);
	assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x100);
	switch_to(m, &pt[1], 2);
	assert_int_equal(must_load(m, PRIV_S, va), 0x1111); /* A's walk */
	assert_int_equal(must_load(m, PRIV_S, mega + 0x3000), 0x3333);
	assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x101); /* not global */
	/* B's own TLB now holds A's translation; the ASID form drops that
	 * copy but not the global walk */
	m->hart.x[A1] = 2;
	assert_true(exec_in(m, PRIV_S, sfence_vma(ZERO, A1)));
	assert_int_equal(must_load(m, PRIV_S, va), 0x1111);
	/* the form for every ASID drops it: the page's, or a superpage's by
	 * any address in it */
	m->hart.x[A0] = va;
	assert_true(exec_in(m, PRIV_S, sfence_vma(A0, ZERO)));
	assert_int_equal(must_load(m, PRIV_S, va), 0x2222);
	assert_int_equal(must_load(m, PRIV_S, mega + 0x3000), 0x3333);
	m->hart.x[A0] = mega + 0x1f0000;
	assert_true(exec_in(m, PRIV_S, sfence_vma(A0, ZERO)));
	assert_int_equal(must_load(m, PRIV_S, mega + 0x3000), 0x4444);
	/* a write needs D: a leaf walked without it is walked again */
	pt_map(&pt[0], va + 0x1000, FRAME(3), 0, PTE_R | PTE_W | PTE_A | PTE_G);
	switch_to(m, &pt[0], 1);
	assert_int_equal(must_load(m, PRIV_S, va + 0x1000), 0);
	must_store(m, PRIV_S, va + 0x1000, 0x5555);
	assert_true(peek64(m, pt_slot(&pt[0], va + 0x1000, 0)) & PTE_D);
	assert_int_equal(peek64(m, FRAME(3)), 0x5555);
}

/* More address spaces than keel keeps TLBs for: each still sees its own
 * mapping every time round. */
static void test_many_address_spaces(void **state)
{
	struct machine *m = *state;
	enum { N = TLB_SPACES + 3 };
	struct pt pt[N];
	spaces(m, pt, N);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < N; i++) {
			switch_to(m, &pt[i], (uint64_t)i + 1);
			assert_int_equal(must_load(m, PRIV_U, VA_4K), 0x100 + (uint64_t)i);
			must_store(m, PRIV_U, VA_4K + 8, (uint64_t)round);
			sum(m, true);
			assert_int_equal(must_load(m, PRIV_S, VA_4K + 8), (uint64_t)round);
			sum(m, false);
		}
}

/* A superpage is entered 4 KiB at a time: SFENCE.VMA of one address in it
 * must drop every piece of it. */
static void test_sfence_vma_superpage(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	uint64_t va = 0x40200000, pa = DRAM_BASE + 0x200000, pa2 = DRAM_BASE + 0x400000;
	uint64_t slot = pt_map(&pt, va, pa, 1, RW_AD);
	poke64(m, pa + 0x5000, 0x55);
	poke64(m, pa2 + 0x5000, 0x66);
	assert_int_equal(must_load(m, PRIV_S, va + 0x5000), 0x55);
	poke64(m, slot, pte_make(pa2, RW_AD | PTE_V));
	m->hart.x[A0] = va + 0x1000;
	assert_true(exec_in(m, PRIV_S, sfence_vma(A0, ZERO)));
	assert_int_equal(must_load(m, PRIV_S, va + 0x5000), 0x66);
}

/* SUM set, S-mode reaches a user page; cleared, it faults; set again, it
 * reaches it again, and a fence taken while SUM was clear also dropped the
 * entry S-mode had made with SUM set. */
static void test_sum_toggles(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	uint64_t slot = pt_map(&pt, VA_4K, FRAME(1), 0, URW_AD);
	poke64(m, FRAME(1), 0x1111);
	poke64(m, FRAME(2), 0x2222);
	sum(m, true);
	assert_int_equal(must_load(m, PRIV_S, VA_4K), 0x1111);
	sum(m, false);
	load_faults(m, PRIV_S, VA_4K);
	sum(m, true);
	assert_int_equal(must_load(m, PRIV_S, VA_4K), 0x1111);
	sum(m, false);
	poke64(m, slot, pte_make(FRAME(2), URW_AD | PTE_V));
	assert_true(exec_in(m, PRIV_S, sfence_vma(ZERO, ZERO)));
	sum(m, true);
	assert_int_equal(must_load(m, PRIV_S, VA_4K), 0x2222);
}

/* AMOs and LR/SC use the TLB: a read entry lets LR read but no AMO or SC
 * write, and a mapping changed and fenced is seen by the next AMO. */
static void test_amo_through_tlb(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	uint64_t slot = pt_map(&pt, VA_4K, FRAME(1), 0, PTE_R | PTE_A);
	poke64(m, FRAME(1), 40);
	poke64(m, FRAME(2), 100);
	m->hart.x[A0] = VA_4K;
	m->hart.x[A1] = 2;
	assert_int_equal(must_load(m, PRIV_S, VA_4K), 40); /* a read entry */
	assert_true(exec_in(m, PRIV_S, lr_d(T0, A0)));
	assert_int_equal(m->hart.x[T0], 40);
	assert_false(exec_in(m, PRIV_S, sc_d(T0, A0, A1)));
	assert_mtrap(m, EXC_STORE_PAGE_FAULT, CODE_BASE, VA_4K);
	assert_false(exec_in(m, PRIV_S, amo(AMO_ADD, 3, T0, A0, A1)));
	assert_mtrap(m, EXC_STORE_PAGE_FAULT, CODE_BASE, VA_4K);
	assert_int_equal(peek64(m, FRAME(1)), 40);

	poke64(m, slot, pte_make(FRAME(1), RW_AD | PTE_V));
	assert_true(exec_in(m, PRIV_S, sfence_vma(ZERO, ZERO)));
	m->hart.x[A0] = VA_4K;
	assert_true(exec_in(m, PRIV_S, amo(AMO_ADD, 3, T0, A0, A1))); /* fills */
	assert_true(exec_in(m, PRIV_S, amo(AMO_ADD, 3, T0, A0, A1))); /* hits */
	assert_int_equal(m->hart.x[T0], 42);
	assert_int_equal(peek64(m, FRAME(1)), 44);
	assert_true(exec_in(m, PRIV_S, lr_d(T0, A0)));
	assert_true(exec_in(m, PRIV_S, sc_d(T1, A0, A1)));
	assert_int_equal(m->hart.x[T1], 0);
	assert_int_equal(peek64(m, FRAME(1)), 2);

	poke64(m, slot, pte_make(FRAME(2), RW_AD | PTE_V));
	assert_true(exec_in(m, PRIV_S, sfence_vma(ZERO, ZERO)));
	m->hart.x[A0] = VA_4K;
	assert_true(exec_in(m, PRIV_S, amo(AMO_ADD, 3, T0, A0, A1)));
	assert_int_equal(m->hart.x[T0], 100);
	assert_int_equal(peek64(m, FRAME(2)), 102);
	assert_int_equal(peek64(m, FRAME(1)), 2);
}

/* ---- fetch across pages ---- */

static void test_fetch_across_pages(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	uint64_t va = VA_4K;
	pt_map(&pt, va, FRAME(5), 0, PTE_R | PTE_X | PTE_A);
	pt_map(&pt, va + 0x1000, FRAME(2), 0, PTE_R | PTE_X | PTE_A);
	uint32_t insn = addi(T0, ZERO, 42);
	poke(m, FRAME(5) + 0xffe, insn & 0xffff, 2);
	poke(m, FRAME(2), insn >> 16, 2);
	poke(m, FRAME(5) + 0x1000, 0xffff, 2); /* physical neighbour: must not be used */
	m->hart.x[T0] = 0;
	assert_true(fetch_at(m, PRIV_S, va + 0xffe));
	assert_int_equal(m->hart.x[T0], 42);
	assert_int_equal(m->hart.pc, va + 0x1002);

	/* Second page unmapped: epc is the instruction, tval the faulting
	 * half (the spec requires the portion that faulted). */
	remap(m, &pt, va + 0x1000, FRAME(2), 0, PTE_R | PTE_A); /* not executable */
	assert_false(fetch_at(m, PRIV_S, va + 0xffe));
	assert_mtrap(m, EXC_INSN_PAGE_FAULT, va + 0xffe, va + 0x1000);
	/* A compressed instruction in the last halfword does not touch the
	 * next page. */
	poke(m, FRAME(5) + 0xffe, 0x0001, 2); /* c.nop */
	assert_true(fetch_at(m, PRIV_S, va + 0xffe));
	assert_int_equal(m->hart.pc, va + 0x1000);
}

/* ---- hart_translate_debug ---- */

/* keel (docs/cpu.md, code generations): a page mapped twice, writable at
 * one address and executable at another.  The store through the writable
 * alias before any code ran there leaves a TLB write entry; decoding the
 * code must drop it, or the later store would patch memory behind the
 * decoded block's back and the old instruction would run again. */
static void test_store_through_alias_to_decoded_code(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	uint64_t data_va = VA_4K, code_va = VA_4K + 0x1000;
	pt_map(&pt, data_va, FRAME(1), 0, RW_AD);
	pt_map(&pt, code_va, FRAME(1), 0, PTE_R | PTE_X | PTE_A);
	poke(m, FRAME(1) + 4, jalr(ZERO, RA, 0), 4);
	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, S0, data_va);
	emit_li(&c, S1, code_va);
	emit_li(&c, T1, addi(A0, A0, 1));
	emit_li(&c, T2, addi(A0, A0, 100));
	emit(&c, sw(T1, S0, 0)); /* the TLB now maps data_va for writing */
	emit(&c, jalr(RA, S1, 0)); /* decodes and runs a0 += 1 */
	emit(&c, sw(T2, S0, 0));
	emit(&c, jalr(RA, S1, 0)); /* must run a0 += 100 */
	uint64_t halt = emit_halt(&c);
	set_priv(m, PRIV_S);
	m->hart.x[A0] = 0;
	run_from(m, CODE_BASE, 200);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[A0], 1 + 100);
}

static void test_translate_debug(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	mmu_on(m, &pt, 3);
	uint64_t p = pt_map(&pt, VA_4K, FRAME(3), 0, PTE_R | PTE_W);
	uint64_t big = pt_map(&pt, 0x40200000, DRAM_BASE + 0x200000, 1, PTE_R);
	set_priv(m, PRIV_S);
	uint64_t pte_before = peek64(m, p), big_before = peek64(m, big);
	m->hart.exc_cause = 77;
	m->hart.exc_tval = 88;
	uint64_t pa = 0;
	assert_int_equal(hart_translate_debug(&m->hart, VA_4K + 0x123, &pa), 0);
	assert_int_equal(pa, FRAME(3) + 0x123);
	assert_int_equal(hart_translate_debug(&m->hart, 0x40200000 + 0x54321, &pa), 0);
	assert_int_equal(pa, DRAM_BASE + 0x200000 + 0x54321);
	assert_int_equal(hart_translate_debug(&m->hart, VA_4K + 0x5000, &pa), -1);
	assert_int_equal(hart_translate_debug(&m->hart, 0x0000004000000000, &pa), -1);
	assert_int_equal(peek64(m, p), pte_before); /* no A/D */
	assert_int_equal(peek64(m, big), big_before);
	assert_int_equal(m->hart.exc_cause, 77);
	assert_int_equal(m->hart.exc_tval, 88);
	assert_int_equal(m->hart.pc, CODE_BASE);
	assert_int_equal(m->hart.priv, PRIV_S);

	/* keel (hart.h): no TLB fill either, so a PTE changed afterwards is
	 * what the next real access sees. */
	poke64(m, p, pte_make(FRAME(4), RW_AD | PTE_V));
	poke64(m, FRAME(4) + 0x120, 0x4444);
	assert_int_equal(must_load(m, PRIV_S, VA_4K + 0x120), 0x4444);

	/* Bare: identity */
	m->hart.satp = 0;
	hart_flush_tlb(&m->hart);
	assert_int_equal(hart_translate_debug(&m->hart, 0x1234, &pa), 0);
	assert_int_equal(pa, 0x1234);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		VM_TEST(test_sv39_4k_pages),
		VM_TEST(test_sv39_megapage),
		VM_TEST(test_sv39_gigapage),
		VM_TEST(test_sv39_high_half),
		VM_TEST(test_sv48_page_sizes),
		VM_TEST(test_non_canonical),
		VM_TEST(test_invalid_pte),
		VM_TEST(test_write_without_read),
		VM_TEST(test_read_only_page),
		VM_TEST(test_user_page_from_supervisor),
		VM_TEST(test_supervisor_page_from_user),
		VM_TEST(test_exec_needs_x),
		VM_TEST(test_mxr),
		VM_TEST(test_sum_change_takes_effect),
		VM_TEST(test_misaligned_superpage),
		VM_TEST(test_pointer_at_last_level),
		VM_TEST(test_reserved_pte_bits),
		VM_TEST(test_pte_access_fault),
		VM_TEST(test_accessed_dirty),
		VM_TEST(test_dirty_after_cached_read),
		VM_TEST(test_mprv),
		VM_TEST(test_sfence_vma),
		VM_TEST(test_sfence_vma_user_tlb),
		VM_TEST(test_satp_switch),
		VM_TEST(test_asid_entries_survive_switches),
		VM_TEST(test_many_address_spaces),
		VM_TEST(test_global_walks_shared),
		VM_TEST(test_sfence_vma_superpage),
		VM_TEST(test_sum_toggles),
		VM_TEST(test_amo_through_tlb),
		VM_TEST(test_fetch_across_pages),
		VM_TEST(test_translate_debug),
		VM_TEST(test_store_through_alias_to_decoded_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
