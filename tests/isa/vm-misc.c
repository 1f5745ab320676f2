/* Virtual memory, the rest: megapages, gigapages and (Sv48) terapages,
 * including misaligned superpages (a page fault); non-canonical virtual
 * addresses; A and D set by hardware on access (keel's choice; the spec
 * also allows raising a page fault instead, so spike-like hardware may
 * differ); sfence.vma making a changed PTE visible, from M and from S;
 * satp ignoring writes with an unsupported mode; MPRV translating M-mode
 * loads and stores as MPP, with SUM and MXR; a 4-byte instruction whose
 * second half lies on an unmapped page (tval = that page, epc = the
 * instruction); page faults delegated to S with stval.
 *
 * QEMU 7.2 implements Sv57, so the satp cases 31 and 34 fail there. */
#include "vm.h"

#define BIG_PA 0x80600000ULL /* 2 MiB-aligned RAM the image does not use */

static uint64_t satp_of(struct vm *vm)
{
	return (vm->mode << SATP_MODE_SHIFT) | ((uint64_t)vm->root >> 12);
}

static void poke(uint64_t pa, uint64_t v)
{
	*(volatile uint64_t *)pa = v;
}

static void expect_load(long priv, uint64_t va, uint64_t value)
{
	check_no_trap(probe_ld(priv, va));
	CHECK_EQ(probe_value, value);
}

static void superpages(uint64_t mode, uint64_t c)
{
	struct vm vm;
	vm_init(&vm, mode);
	poke(BIG_PA + 0x12340, 0x5151);
	poke(BIG_PA + 0x1ffff8, 0x5252);
	/* 2 MiB page */
	vm_map(&vm, 0x40200000, BIG_PA, 1, RWX_AD);
	/* 2 MiB page whose PPN[0] is not zero */
	vm_map(&vm, 0x40400000, BIG_PA + 0x1000, 1, RWX_AD);
	/* 1 GiB page at VA 4 GiB -> PA 2 GiB */
	vm_map(&vm, 0x100000000, 0x80000000, 2, RWX_AD);
	/* 1 GiB page whose PPN[1] is not zero */
	vm_map(&vm, 0x140000000, 0x80200000, 2, RWX_AD);
	if (mode == SATP_MODE_SV48) {
		/* 512 GiB page at VA 512 GiB -> PA 0, and a misaligned one */
		vm_map(&vm, 0x8000000000, 0, 3, RWX_AD);
		vm_map(&vm, 0x10000000000, 0x40000000, 3, RWX_AD);
	}
	vm_enable(&vm);

	set_case(c + 1);
	expect_load(PRIV_S, 0x40200000 + 0x12340, 0x5151);
	expect_load(PRIV_S, 0x40200000 + 0x1ffff8, 0x5252);
	check_no_trap(probe_sd(PRIV_S, 0x40200000 + 0x100, 0x77));
	CHECK_EQ(*(volatile uint64_t *)(BIG_PA + 0x100), 0x77);
	set_case(c + 2);
	check_fault(probe_ld(PRIV_S, 0x40400000 + 0x10), CAUSE_LOAD_PAGE_FAULT, 0x40400000 + 0x10);
	check_fault(probe_sd(PRIV_S, 0x40400000, 0), CAUSE_STORE_PAGE_FAULT, 0x40400000);
	check_fault(probe_exec(PRIV_S, 0x40400000), CAUSE_FETCH_PAGE_FAULT, 0x40400000);
	set_case(c + 3);
	expect_load(PRIV_S, 0x100000000 + 0x00612340, 0x5151);
	check_fault(probe_ld(PRIV_S, 0x140000008), CAUSE_LOAD_PAGE_FAULT, 0x140000008);
	if (mode == SATP_MODE_SV48) {
		set_case(c + 4);
		expect_load(PRIV_S, 0x8000000000 + BIG_PA + 0x12340, 0x5151);
		check_fault(probe_ld(PRIV_S, 0x10000000000 + 0x80), CAUSE_LOAD_PAGE_FAULT,
			    0x10000000000 + 0x80);
	}
	vm_disable();
}

static void canonical(void)
{
	struct vm vm;
	vm_init(&vm, SATP_MODE_SV39);
	/* the top gigabyte of the Sv39 space: a negative canonical address */
	vm_map(&vm, 0xffffffffc0000000, 0x80000000, 2, RWX_AD);
	vm_enable(&vm);
	poke(BIG_PA + 0x40, 0x6161);
	set_case(10);
	expect_load(PRIV_S, 0xffffffffc0000000 + (BIG_PA - 0x80000000) + 0x40, 0x6161);
	/* bits 63..39 must all equal bit 38 */
	set_case(11);
	check_fault(probe_ld(PRIV_S, 0x0000004000000000), CAUSE_LOAD_PAGE_FAULT, 0x0000004000000000);
	check_fault(probe_ld(PRIV_S, 0x00000000c0000000 | (1ULL << 39)), CAUSE_LOAD_PAGE_FAULT,
		    0x00000000c0000000 | (1ULL << 39));
	check_fault(probe_sd(PRIV_S, 0xffffff8000000000, 0), CAUSE_STORE_PAGE_FAULT,
		    0xffffff8000000000);
	check_fault(probe_exec(PRIV_S, 0x8000000000 + 0x80000000), CAUSE_FETCH_PAGE_FAULT,
		    0x8000000000 + 0x80000000);
	vm_disable();
	/* Sv48: bits 63..48 must equal bit 47; bit 39 is an ordinary bit */
	vm_init(&vm, SATP_MODE_SV48);
	vm_map(&vm, 0x8000000000 + 0x80000000, 0x80000000, 2, RWX_AD);
	vm_enable(&vm);
	set_case(12);
	expect_load(PRIV_S, 0x8000000000 + BIG_PA + 0x40, 0x6161);
	check_fault(probe_ld(PRIV_S, 0x0000800000000000), CAUSE_LOAD_PAGE_FAULT, 0x0000800000000000);
	vm_disable();
}

static void accessed_dirty(uint64_t mode, uint64_t c)
{
	struct vm vm;
	vm_init(&vm, mode);
	uint64_t *pa = page_alloc();
	uint64_t *pb = page_alloc();
	uint64_t *px = page_alloc();
	uint64_t *pc = page_alloc();
	*(uint32_t *)((uint8_t *)px + 0x40) = 0x00000073; /* ecall */
	fence_i();
	volatile uint64_t *ea = vm_map(&vm, 0x40000000, (uint64_t)pa, 0, PTE_V | PTE_R | PTE_W);
	volatile uint64_t *eb = vm_map(&vm, 0x40001000, (uint64_t)pb, 0, PTE_V | PTE_R | PTE_W | PTE_A);
	volatile uint64_t *ex = vm_map(&vm, 0x40002000, (uint64_t)px, 0, PTE_V | PTE_X);
	volatile uint64_t *ec = vm_map(&vm, 0x40003000, (uint64_t)pc, 0, PTE_V | PTE_R | PTE_W);
	volatile uint64_t *em = vm_map(&vm, 0x40200000, BIG_PA, 1, PTE_V | PTE_R | PTE_W);
	vm_enable(&vm);

	/* a load sets A only */
	set_case(c + 1);
	check_no_trap(probe_ld(PRIV_S, 0x40000008));
	CHECK_EQ(*ea & (PTE_A | PTE_D), PTE_A);
	/* a store sets D (and A) */
	set_case(c + 2);
	check_no_trap(probe_sd(PRIV_S, 0x40000010, 5));
	CHECK_EQ(*ea & (PTE_A | PTE_D), PTE_A | PTE_D);
	CHECK_EQ(pa[2], 5);
	/* a store to an accessed, clean page sets D */
	set_case(c + 3);
	check_no_trap(probe_sd(PRIV_S, 0x40001000, 6));
	CHECK_EQ(*eb & (PTE_A | PTE_D), PTE_A | PTE_D);
	/* a fetch sets A */
	set_case(c + 4);
	check_no_trap(probe_exec(PRIV_S, 0x40002040));
	CHECK_EQ(*ex & (PTE_A | PTE_D), PTE_A);
	/* an access that faults sets nothing (U on an S page; a store to a
	 * page without W) */
	set_case(c + 5);
	check_fault(probe_ld(PRIV_U, 0x40003000), CAUSE_LOAD_PAGE_FAULT, 0x40003000);
	CHECK_EQ(*ec & (PTE_A | PTE_D), 0);
	check_fault(probe_sd(PRIV_S, 0x40002040, 0), CAUSE_STORE_PAGE_FAULT, 0x40002040);
	CHECK_EQ(*ex & (PTE_A | PTE_D), PTE_A);
	/* an AMO sets A and D */
	set_case(c + 6);
	check_no_trap(probe(PRIV_S, stub_amoadd_d, 0x40003008, 2));
	CHECK_EQ(*ec & (PTE_A | PTE_D), PTE_A | PTE_D);
	CHECK_EQ(pc[1], 2);
	/* superpage PTEs too */
	set_case(c + 7);
	check_no_trap(probe_ld(PRIV_S, 0x40200000 + 0x3000));
	CHECK_EQ(*em & (PTE_A | PTE_D), PTE_A);
	check_no_trap(probe_sd(PRIV_S, 0x40200000 + 0x3000, 1));
	CHECK_EQ(*em & (PTE_A | PTE_D), PTE_A | PTE_D);
	/* the non-leaf PTEs stay untouched: A/D there are reserved */
	set_case(c + 8);
	volatile uint64_t *l1 = vm_pte(&vm, 0x40000000, 1);
	CHECK_EQ(*l1 & (PTE_A | PTE_D), 0);
	/* clearing A again (and fencing) makes the next access set it again */
	set_case(c + 9);
	*ea &= ~(uint64_t)(PTE_A | PTE_D);
	sfence_vma();
	check_no_trap(probe_ld(PRIV_S, 0x40000000));
	CHECK_EQ(*ea & (PTE_A | PTE_D), PTE_A);
	vm_disable();
}

/* sfence.vma, then ecall: run in S from the identity-mapped image */
static const uint32_t s_sfence_code[] __attribute__((aligned(4))) = {
	0x12000073, /* sfence.vma zero, zero */
	0x00000073, /* ecall */
};

static void fences(uint64_t mode, uint64_t c)
{
	struct vm vm;
	vm_init(&vm, mode);
	uint64_t *p1 = page_alloc(), *p2 = page_alloc(), *p3 = page_alloc(), *p4 = page_alloc();
	p1[0] = 1, p2[0] = 2, p3[0] = 3, p4[0] = 4;
	volatile uint64_t *e = vm_map(&vm, 0x40000000, (uint64_t)p1, 0, RWX_AD);
	vm_enable(&vm);
	set_case(c + 1);
	expect_load(PRIV_S, 0x40000000, 1);
	/* remap; after a global sfence.vma the new PTE is used */
	*e = pte((uint64_t)p2, RWX_AD);
	sfence_vma();
	expect_load(PRIV_S, 0x40000000, 2);
	/* an address-specific fence */
	set_case(c + 2);
	*e = pte((uint64_t)p3, RWX_AD);
	__asm__ volatile("sfence.vma %0, zero" ::"r"(0x40000000ULL) : "memory");
	expect_load(PRIV_S, 0x40000000, 3);
	/* S fences for itself */
	set_case(c + 3);
	*e = pte((uint64_t)p4, RWX_AD);
	check_no_trap(probe_exec(PRIV_S, (uint64_t)s_sfence_code));
	expect_load(PRIV_S, 0x40000000, 4);
	/* invalidating a page */
	set_case(c + 4);
	*e = 0;
	sfence_vma();
	check_fault(probe_ld(PRIV_S, 0x40000000), CAUSE_LOAD_PAGE_FAULT, 0x40000000);
	/* a new satp value: a different address space, without sfence
	 * needed for the root change itself... but the spec wants one,
	 * and vm_enable does it */
	set_case(c + 5);
	struct vm other;
	vm_init(&other, mode);
	vm_map(&other, 0x40000000, (uint64_t)p1, 0, RWX_AD);
	vm_enable(&other);
	expect_load(PRIV_S, 0x40000000, 1);
	vm_enable(&vm);
	check_fault(probe_ld(PRIV_S, 0x40000000), CAUSE_LOAD_PAGE_FAULT, 0x40000000);
	vm_disable();
}

/* csrw satp, a1; sfence.vma; ecall: run in S */
static const uint32_t s_satp_code[] __attribute__((aligned(4))) = {
	0x18059073, /* csrw satp, a1 */
	0x12000073, /* sfence.vma zero, zero */
	0x00000073, /* ecall */
};

static void satp_modes(void)
{
	struct vm vm;
	vm_init(&vm, SATP_MODE_SV39);
	set_case(30);
	uint64_t good = satp_of(&vm);
	csr_write(satp, good);
	CHECK_EQ(csr_read(satp) >> SATP_MODE_SHIFT, SATP_MODE_SV39);
	CHECK_EQ(csr_read(satp) & ((1ULL << 44) - 1), (uint64_t)vm.root >> 12);
	/* unsupported modes: the whole write is ignored */
	set_case(31);
	csr_write(satp, ((uint64_t)SATP_MODE_SV57 << SATP_MODE_SHIFT) | 0x12345);
	CHECK_EQ(csr_read(satp), good);
	csr_write(satp, (1ULL << SATP_MODE_SHIFT) | 0x12345);
	CHECK_EQ(csr_read(satp), good);
	csr_write(satp, (15ULL << SATP_MODE_SHIFT));
	CHECK_EQ(csr_read(satp), good);
	/* Sv48 is supported */
	set_case(32);
	csr_write(satp, ((uint64_t)SATP_MODE_SV48 << SATP_MODE_SHIFT) | ((uint64_t)vm.root >> 12));
	CHECK_EQ(csr_read(satp) >> SATP_MODE_SHIFT, SATP_MODE_SV48);
	/* and Bare */
	set_case(33);
	csr_write(satp, 0);
	CHECK_EQ(csr_read(satp), 0);
	sfence_vma();
	/* S can write satp too (TVM = 0), with the same rule */
	set_case(34);
	probe_u_offset = 0;
	check_no_trap(probe(PRIV_S, (const char *)s_satp_code,
			    ((uint64_t)SATP_MODE_SV57 << SATP_MODE_SHIFT) | 0x123, 0));
	CHECK_EQ(csr_read(satp), 0);
	/* (the identity map keeps S's code in place after the switch) */
	check_no_trap(probe(PRIV_S, (const char *)s_satp_code, good, 0));
	CHECK_EQ(csr_read(satp), good);
	vm_disable();
}

static void mprv(uint64_t mode, uint64_t c)
{
	struct vm vm;
	vm_init(&vm, mode);
	uint64_t *ps = page_alloc(), *pu = page_alloc(), *px = page_alloc();
	ps[0] = 0x51, pu[0] = 0x52, px[0] = 0x53;
	vm_map(&vm, 0x40000000, (uint64_t)ps, 0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
	vm_map(&vm, 0x40001000, (uint64_t)pu, 0, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D);
	vm_map(&vm, 0x40002000, (uint64_t)px, 0, PTE_V | PTE_X | PTE_A);
	vm_enable(&vm);
	/* M with MPRV and MPP = S: translated as S */
	set_case(c + 1);
	check_no_trap(probe_mprv_ld(PRIV_S, 0x40000000));
	CHECK_EQ(probe_value, 0x51);
	check_no_trap(probe_mprv_sd(PRIV_S, 0x40000008, 0x99));
	CHECK_EQ(ps[1], 0x99);
	/* ...with S's rules: U page needs SUM */
	set_case(c + 2);
	check_fault(probe_mprv_ld(PRIV_S, 0x40001000), CAUSE_LOAD_PAGE_FAULT, 0x40001000);
	csr_set(mstatus, MSTATUS_SUM);
	check_no_trap(probe_mprv_ld(PRIV_S, 0x40001000));
	CHECK_EQ(probe_value, 0x52);
	csr_clear(mstatus, MSTATUS_SUM);
	/* MPP = U: U's rules */
	set_case(c + 3);
	check_no_trap(probe_mprv_ld(PRIV_U, 0x40001000));
	check_fault(probe_mprv_ld(PRIV_U, 0x40000000), CAUSE_LOAD_PAGE_FAULT, 0x40000000);
	check_fault(probe_mprv_sd(PRIV_U, 0x40000000, 1), CAUSE_STORE_PAGE_FAULT, 0x40000000);
	/* MXR with MPRV */
	set_case(c + 4);
	check_fault(probe_mprv_ld(PRIV_S, 0x40002000), CAUSE_LOAD_PAGE_FAULT, 0x40002000);
	csr_set(mstatus, MSTATUS_MXR);
	check_no_trap(probe_mprv_ld(PRIV_S, 0x40002000));
	CHECK_EQ(probe_value, 0x53);
	csr_clear(mstatus, MSTATUS_MXR);
	/* MPP = M: no translation even with MPRV */
	set_case(c + 5);
	check_no_trap(probe_mprv_ld(PRIV_M, (uint64_t)ps));
	CHECK_EQ(probe_value, 0x51);
	vm_disable();
}

static void fetch_across_pages(uint64_t mode, uint64_t c)
{
	struct vm vm;
	vm_init(&vm, mode);
	uint8_t *p1 = page_alloc(), *p2 = page_alloc();
	/* addi a0, a0, 1 = 0x00150513, split over the page boundary, then
	 * ecall on the second page */
	*(uint16_t *)(p1 + 4094) = 0x0513;
	*(uint16_t *)(p2 + 0) = 0x0015;
	*(uint32_t *)(p2 + 2) = 0x00000073;
	fence_i();
	vm_map(&vm, 0x40000000, (uint64_t)p1, 0, PTE_V | PTE_X | PTE_A);
	vm_enable(&vm);
	set_case(c + 1);
	CHECK_EQ(probe_exec(PRIV_S, 0x40000000 + 4094), CAUSE_FETCH_PAGE_FAULT);
	CHECK_EQ(trap_m.epc, 0x40000000 + 4094);
	CHECK_EQ(trap_m.tval, 0x40001000);
	/* a misaligned load across the same boundary faults too (tval =
	 * its start or the first byte of the unmapped page) */
	set_case(c + 3);
	uint64_t *pd = page_alloc();
	vm_map(&vm, 0x40010000, (uint64_t)pd, 0, RWX_AD);
	sfence_vma();
	CHECK_EQ(probe_ld(PRIV_S, 0x40010000 + 4092), CAUSE_LOAD_PAGE_FAULT);
	if (trap_m.tval != 0x40011000)
		CHECK_EQ(trap_m.tval, 0x40010000 + 4092);
	CHECK_EQ(probe_sd(PRIV_S, 0x40010000 + 4090, 0), CAUSE_STORE_PAGE_FAULT);
	if (trap_m.tval != 0x40011000)
		CHECK_EQ(trap_m.tval, 0x40010000 + 4090);
	/* ...and works once the next page is there (emulated) */
	set_case(c + 4);
	uint64_t *pe = page_alloc();
	vm_map(&vm, 0x40011000, (uint64_t)pe, 0, RWX_AD);
	sfence_vma();
	pd[511] = 0x1122334455667788;
	pe[0] = 0x99aabbccddeeff00;
	check_no_trap(probe_ld(PRIV_S, 0x40010000 + 4092));
	CHECK_EQ(probe_value, 0xddeeff0011223344);

	/* map the second page: now it runs */
	set_case(c + 2);
	vm_map(&vm, 0x40001000, (uint64_t)p2, 0, PTE_V | PTE_X | PTE_A);
	sfence_vma();
	check_no_trap(probe_exec(PRIV_S, 0x40000000 + 4094));
	vm_disable();
	(void)c;
}

static void delegated(uint64_t mode, uint64_t c)
{
	struct vm vm;
	vm_init(&vm, mode);
	uint64_t *p = page_alloc();
	vm_map(&vm, 0x40000000, (uint64_t)p, 0, PTE_V | PTE_R | PTE_A);
	vm_enable(&vm);
	csr_write(medeleg, (1 << CAUSE_LOAD_PAGE_FAULT) | (1 << CAUSE_STORE_PAGE_FAULT) |
				   (1 << CAUSE_FETCH_PAGE_FAULT));
	uint64_t m_count = trap_m.count;
	/* U store to a read-only S page: to S, which resumes in S at an
	 * ecall stub, which comes back to M */
	set_case(c + 1);
	trap_s.mode = TRAP_RESUME;
	trap_s.resume = (uint64_t)stub_nop;
	CHECK_EQ(probe_sd(PRIV_U, 0x40000010, 1), CAUSE_ECALL_S);
	CHECK_EQ(trap_s.cause, CAUSE_STORE_PAGE_FAULT);
	CHECK_EQ(trap_s.tval, 0x40000010);
	CHECK_EQ(trap_s.epc, (uint64_t)stub_sd + U_ALIAS_OFFSET);
	CHECK_EQ(trap_s.priv, PRIV_U);
	CHECK_EQ(trap_m.count, m_count + 1);
	/* S fetching from a page without X: the S handler's ecall looks
	 * like the probe's own (both from S), so count the S traps */
	set_case(c + 2);
	uint64_t s_count = trap_s.count;
	trap_s.mode = TRAP_RESUME;
	trap_s.resume = (uint64_t)stub_nop;
	CHECK_EQ(probe_exec(PRIV_S, 0x40000000), NO_TRAP);
	CHECK_EQ(trap_s.count, s_count + 1);
	CHECK_EQ(trap_s.cause, CAUSE_FETCH_PAGE_FAULT);
	CHECK_EQ(trap_s.tval, 0x40000000);
	CHECK_EQ(trap_s.priv, PRIV_S);
	csr_write(medeleg, 0);
	vm_disable();
}

int test_main(void)
{
	page_pool_reset();
	superpages(SATP_MODE_SV39, 100);
	page_pool_reset();
	superpages(SATP_MODE_SV48, 110);
	page_pool_reset();
	canonical();
	page_pool_reset();
	satp_modes();
	page_pool_reset();
	accessed_dirty(SATP_MODE_SV39, 200);
	page_pool_reset();
	accessed_dirty(SATP_MODE_SV48, 210);
	page_pool_reset();
	fences(SATP_MODE_SV39, 300);
	page_pool_reset();
	fences(SATP_MODE_SV48, 310);
	page_pool_reset();
	mprv(SATP_MODE_SV39, 400);
	page_pool_reset();
	mprv(SATP_MODE_SV48, 410);
	page_pool_reset();
	fetch_across_pages(SATP_MODE_SV39, 500);
	page_pool_reset();
	fetch_across_pages(SATP_MODE_SV48, 510);
	page_pool_reset();
	delegated(SATP_MODE_SV39, 600);
	return 0;
}
