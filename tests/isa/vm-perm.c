/* Virtual memory, permissions: under Sv39 and then Sv48, page faults
 * (fetch 12, load 13, store/AMO 15) with tval = the virtual address for
 * each of: V = 0, R/W/X missing, W without R (reserved), U pages from S
 * (allowed for loads/stores only with SUM, never for fetch), S pages from
 * U, MXR making execute-only pages readable, a non-leaf PTE at the last
 * level, and reserved PTE bits 63..54.  Allowed accesses must reach the
 * mapped physical page. */
#include "vm.h"

#define VA_BASE 0x40000000ULL /* test pages: 4 KiB mappings from here */

static uint64_t va_of(int n)
{
	return VA_BASE + (uint64_t)n * PAGE_SIZE;
}

/* one test page: physical page with a known doubleword and an ecall at
 * offset 0x100 (for fetch probes) */
static uint64_t new_data_page(uint64_t tag)
{
	uint64_t *p = page_alloc();
	p[0] = tag;
	p[1] = ~tag;
	*(uint32_t *)((uint8_t *)p + 0x100) = 0x00000073; /* ecall */
	fence_i();
	return (uint64_t)p;
}

static void expect_load_ok(long priv, uint64_t va, uint64_t value)
{
	check_no_trap(probe_ld(priv, va));
	CHECK_EQ(probe_value, value);
}

static void suite(uint64_t mode, uint64_t case_base)
{
	struct vm vm;
	vm_init(&vm, mode);
	uint64_t ad = PTE_A | PTE_D;

	uint64_t p_rw = new_data_page(0x1111);
	uint64_t p_r = new_data_page(0x2222);
	uint64_t p_x = new_data_page(0x3333);
	uint64_t p_u = new_data_page(0x4444);
	uint64_t p_inv = new_data_page(0x5555);
	uint64_t p_wo = new_data_page(0x6666);
	uint64_t p_rx = new_data_page(0x7777);
	uint64_t p_rsv = new_data_page(0x8888);

	vm_map(&vm, va_of(0), p_rw, 0, PTE_V | PTE_R | PTE_W | ad);
	vm_map(&vm, va_of(1), p_r, 0, PTE_V | PTE_R | ad);
	vm_map(&vm, va_of(2), p_x, 0, PTE_V | PTE_X | ad);
	vm_map(&vm, va_of(3), p_u, 0, PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | ad);
	vm_map(&vm, va_of(4), p_inv, 0, PTE_R | PTE_W | PTE_X | ad); /* V = 0 */
	vm_map(&vm, va_of(5), p_wo, 0, PTE_V | PTE_W | ad); /* W without R */
	vm_map(&vm, va_of(6), p_rx, 0, PTE_V | PTE_R | PTE_X | ad);
	/* a pointer (no R/W/X) where a leaf must be: at level 0 */
	vm_map(&vm, va_of(7), p_rw, 0, PTE_V);
	/* reserved bit 60 set */
	vm_map(&vm, va_of(8), p_rsv, 0, PTE_V | PTE_R | PTE_W | ad | (1ULL << 60));
	/* 9 is never mapped (the L0 table entry is zero) */
	uint64_t p_ux = new_data_page(0x9999);
	vm_map(&vm, va_of(10), p_ux, 0, PTE_V | PTE_X | PTE_U | ad);
	vm_enable(&vm);

	/* readable/writable page: S reaches the physical page */
	set_case(case_base + 1);
	expect_load_ok(PRIV_S, va_of(0), 0x1111);
	check_no_trap(probe_sd(PRIV_S, va_of(0) + 8, 0xabcd));
	CHECK_EQ(((volatile uint64_t *)p_rw)[1], 0xabcd);
	check_fault(probe_exec(PRIV_S, va_of(0) + 0x100), CAUSE_FETCH_PAGE_FAULT, va_of(0) + 0x100);

	/* read-only */
	set_case(case_base + 2);
	expect_load_ok(PRIV_S, va_of(1), 0x2222);
	check_fault(probe_sd(PRIV_S, va_of(1) + 16, 1), CAUSE_STORE_PAGE_FAULT, va_of(1) + 16);
	check_fault(probe(PRIV_S, stub_amoadd_d, va_of(1), 1), CAUSE_STORE_PAGE_FAULT, va_of(1));
	CHECK_EQ(((volatile uint64_t *)p_r)[2], 0);

	/* execute-only: fetch yes, load no (unless MXR), store no */
	set_case(case_base + 3);
	check_no_trap(probe_exec(PRIV_S, va_of(2) + 0x100));
	check_fault(probe_ld(PRIV_S, va_of(2) + 8), CAUSE_LOAD_PAGE_FAULT, va_of(2) + 8);
	check_fault(probe_sd(PRIV_S, va_of(2), 0xdead), CAUSE_STORE_PAGE_FAULT, va_of(2));
	csr_set(mstatus, MSTATUS_MXR);
	expect_load_ok(PRIV_S, va_of(2) + 8, ~0x3333ULL);
	check_fault(probe_sd(PRIV_S, va_of(2), 0xdead), CAUSE_STORE_PAGE_FAULT, va_of(2));
	csr_clear(mstatus, MSTATUS_MXR);
	check_fault(probe_ld(PRIV_S, va_of(2)), CAUSE_LOAD_PAGE_FAULT, va_of(2));

	/* R+X page: both */
	set_case(case_base + 4);
	expect_load_ok(PRIV_S, va_of(6), 0x7777);
	check_no_trap(probe_exec(PRIV_S, va_of(6) + 0x100));
	check_fault(probe_sd(PRIV_S, va_of(6), 0xdead), CAUSE_STORE_PAGE_FAULT, va_of(6));

	/* U page: U may do everything */
	set_case(case_base + 5);
	expect_load_ok(PRIV_U, va_of(3), 0x4444);
	check_no_trap(probe_sd(PRIV_U, va_of(3) + 24, 0x77));
	check_no_trap(probe_exec(PRIV_U, va_of(3) + 0x100));
	/* S on a U page: loads/stores only with SUM, fetch never */
	set_case(case_base + 6);
	check_fault(probe_ld(PRIV_S, va_of(3)), CAUSE_LOAD_PAGE_FAULT, va_of(3));
	check_fault(probe_sd(PRIV_S, va_of(3), 0xdead), CAUSE_STORE_PAGE_FAULT, va_of(3));
	check_fault(probe_exec(PRIV_S, va_of(3) + 0x100), CAUSE_FETCH_PAGE_FAULT, va_of(3) + 0x100);
	csr_set(mstatus, MSTATUS_SUM);
	expect_load_ok(PRIV_S, va_of(3), 0x4444);
	check_no_trap(probe_sd(PRIV_S, va_of(3) + 32, 0x88));
	check_fault(probe_exec(PRIV_S, va_of(3) + 0x100), CAUSE_FETCH_PAGE_FAULT, va_of(3) + 0x100);
	csr_clear(mstatus, MSTATUS_SUM);
	CHECK_EQ(((volatile uint64_t *)p_u)[3], 0x77);
	CHECK_EQ(((volatile uint64_t *)p_u)[4], 0x88);
	/* U on S pages: nothing (SUM does not matter) */
	set_case(case_base + 7);
	check_fault(probe_ld(PRIV_U, va_of(0)), CAUSE_LOAD_PAGE_FAULT, va_of(0));
	check_fault(probe_sd(PRIV_U, va_of(0), 0xdead), CAUSE_STORE_PAGE_FAULT, va_of(0));
	check_fault(probe_exec(PRIV_U, va_of(6) + 0x100), CAUSE_FETCH_PAGE_FAULT, va_of(6) + 0x100);
	csr_set(mstatus, MSTATUS_SUM);
	check_fault(probe_ld(PRIV_U, va_of(0)), CAUSE_LOAD_PAGE_FAULT, va_of(0));
	csr_clear(mstatus, MSTATUS_SUM);
	/* MXR applies to U too: an execute-only U page becomes readable */
	set_case(case_base + 15);
	check_no_trap(probe_exec(PRIV_U, va_of(10) + 0x100));
	check_fault(probe_ld(PRIV_U, va_of(10)), CAUSE_LOAD_PAGE_FAULT, va_of(10));
	csr_set(mstatus, MSTATUS_MXR);
	expect_load_ok(PRIV_U, va_of(10), 0x9999);
	csr_clear(mstatus, MSTATUS_MXR);

	/* invalid: V = 0 */
	set_case(case_base + 8);
	check_fault(probe_ld(PRIV_S, va_of(4)), CAUSE_LOAD_PAGE_FAULT, va_of(4));
	check_fault(probe_sd(PRIV_S, va_of(4) + 8, 0xdead), CAUSE_STORE_PAGE_FAULT, va_of(4) + 8);
	check_fault(probe_exec(PRIV_S, va_of(4) + 0x100), CAUSE_FETCH_PAGE_FAULT, va_of(4) + 0x100);
	/* W without R is reserved: every access faults */
	set_case(case_base + 9);
	check_fault(probe_ld(PRIV_S, va_of(5)), CAUSE_LOAD_PAGE_FAULT, va_of(5));
	check_fault(probe_sd(PRIV_S, va_of(5), 0xdead), CAUSE_STORE_PAGE_FAULT, va_of(5));
	CHECK_EQ(((volatile uint64_t *)p_wo)[0], 0x6666);
	/* non-leaf at the last level */
	set_case(case_base + 10);
	check_fault(probe_ld(PRIV_S, va_of(7)), CAUSE_LOAD_PAGE_FAULT, va_of(7));
	check_fault(probe_sd(PRIV_S, va_of(7), 0xdead), CAUSE_STORE_PAGE_FAULT, va_of(7));
	/* reserved PTE bits set */
	set_case(case_base + 11);
	check_fault(probe_ld(PRIV_S, va_of(8)), CAUSE_LOAD_PAGE_FAULT, va_of(8));
	/* nothing mapped */
	set_case(case_base + 12);
	check_fault(probe_ld(PRIV_U, va_of(9) + 0x7f8), CAUSE_LOAD_PAGE_FAULT, va_of(9) + 0x7f8);
	check_fault(probe_exec(PRIV_S, va_of(9)), CAUSE_FETCH_PAGE_FAULT, va_of(9));
	/* M is not translated (MPRV clear): the VA is just an address with
	 * nothing there */
	set_case(case_base + 13);
	CHECK_EQ(probe_ld(PRIV_M, va_of(0)), CAUSE_LOAD_ACCESS);

	/* faulting accesses did not write anything */
	set_case(case_base + 14);
	CHECK_EQ(((volatile uint64_t *)p_r)[2], 0);
	CHECK_EQ(((volatile uint64_t *)p_x)[0], 0x3333);
	CHECK_EQ(((volatile uint64_t *)p_inv)[1], ~0x5555ULL);

	vm_disable();
}

int test_main(void)
{
	suite(SATP_MODE_SV39, 100);
	page_pool_reset();
	suite(SATP_MODE_SV48, 200);
	return 0;
}
