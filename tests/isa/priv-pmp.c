/* Physical memory protection: S/U accesses that match no entry fail
 * (load/store/fetch access faults 5/7/1 with tval = the address), TOR,
 * NA4 and NAPOT regions with their R/W/X bits, the lowest-numbered match
 * wins, an access that only partly matches an entry fails, M-mode ignores
 * unlocked entries and obeys locked ones, MPRV makes M's loads and stores
 * obey the entries as U would, and the address register's WARL width.
 *
 * Layout: entry 3 gives RWX over the first MiB of RAM (the image: code,
 * data, stacks), so that the probes can run in U; the test regions are
 * above it, in RAM the image does not use.  crt.S's catch-all entry 15 is
 * turned off for the whole test.
 *
 * QEMU 7.2 keeps all 64 bits of pmpaddr (case 2); the spec has bits
 * 63..54 read as zero on RV64. */
#include "ctest.h"

#define IMAGE_BASE 0x80000000ULL
#define REGION 0x80200000ULL /* a 4 KiB page for the region tests */
#define UNMATCHED 0x80400000ULL /* matches no entry */
#define LOCKED_PAGE 0x80300000ULL

static uint64_t cfg0; /* shadow of pmpcfg0 (entries 0..7) */

static void set_pmpaddr(int i, uint64_t v)
{
	switch (i) {
	case 0: csr_write(pmpaddr0, v); break;
	case 1: csr_write(pmpaddr1, v); break;
	case 2: csr_write(pmpaddr2, v); break;
	case 3: csr_write(pmpaddr3, v); break;
	default: fail_now();
	}
}

/* Entry i (0..3): address register and configuration byte. */
static void pmp_set(int i, uint64_t addr_reg, uint8_t cfg)
{
	set_pmpaddr(i, addr_reg);
	cfg0 = (cfg0 & ~(0xffULL << (8 * i))) | ((uint64_t)cfg << (8 * i));
	csr_write(pmpcfg0, cfg0);
	/* PMP changes need an sfence.vma to be seen by later accesses
	 * (priv. spec 3.7.2) */
	sfence_vma();
}

/* pmpaddr value for a NAPOT region of `size` bytes (power of two >= 8) */
static uint64_t napot(uint64_t base, uint64_t size)
{
	return (base >> 2) | ((size >> 3) - 1);
}

static void put_ecall(uint64_t addr)
{
	*(volatile uint32_t *)addr = 0x00000073; /* ecall */
	fence_i();
}

static long ld_at(long priv, uint64_t addr) { return probe(priv, stub_ld, addr, 0); }
static long lw_at(long priv, uint64_t addr) { return probe(priv, stub_lw, addr, 0); }
static long sd_at(long priv, uint64_t addr) { return probe(priv, stub_sd, addr, 0x1234); }

int test_main(void)
{
	/* the WARL width of pmpaddr: bits 53..0 (physical addresses of 56
	 * bits, 4-byte grain) */
	set_case(2);
	csr_write(pmpaddr0, -1);
	CHECK_EQ(csr_read(pmpaddr0), 0x003fffffffffffffULL);
	csr_write(pmpaddr0, 0);

	set_case(3);
	put_ecall(REGION);
	put_ecall(UNMATCHED);
	pmp_set(3, napot(IMAGE_BASE, 1 << 20), PMP_NAPOT | PMP_R | PMP_W | PMP_X);
	csr_write(pmpcfg2, 0); /* entry 15 (catch-all) off */
	sfence_vma();

	/* nothing matches: S and U fail, M succeeds */
	set_case(4);
	check_fault(ld_at(PRIV_U, UNMATCHED), CAUSE_LOAD_ACCESS, UNMATCHED);
	check_fault(sd_at(PRIV_U, UNMATCHED + 8), CAUSE_STORE_ACCESS, UNMATCHED + 8);
	check_fault(probe_exec(PRIV_U, UNMATCHED), CAUSE_FETCH_ACCESS, UNMATCHED);
	check_fault(ld_at(PRIV_S, UNMATCHED), CAUSE_LOAD_ACCESS, UNMATCHED);
	check_fault(sd_at(PRIV_S, UNMATCHED), CAUSE_STORE_ACCESS, UNMATCHED);
	check_fault(probe_exec(PRIV_S, UNMATCHED), CAUSE_FETCH_ACCESS, UNMATCHED);
	set_case(5);
	*(volatile uint64_t *)(UNMATCHED + 16) = 0x55;
	CHECK_EQ(*(volatile uint64_t *)(UNMATCHED + 16), 0x55);
	check_no_trap(probe_exec(PRIV_M, UNMATCHED));

	/* TOR: [REGION, REGION + 4 KiB) read-only */
	set_case(10);
	pmp_set(0, REGION >> 2, PMP_OFF);
	pmp_set(1, (REGION + 4096) >> 2, PMP_TOR | PMP_R);
	*(volatile uint64_t *)(REGION + 64) = 0xfeed;
	check_no_trap(ld_at(PRIV_U, REGION + 64));
	CHECK_EQ(probe_value, 0xfeed);
	check_no_trap(ld_at(PRIV_S, REGION + 4088));
	check_fault(sd_at(PRIV_U, REGION + 64), CAUSE_STORE_ACCESS, REGION + 64);
	check_fault(sd_at(PRIV_S, REGION), CAUSE_STORE_ACCESS, REGION);
	check_fault(probe_exec(PRIV_U, REGION), CAUSE_FETCH_ACCESS, REGION);
	CHECK_EQ(*(volatile uint64_t *)(REGION + 64), 0xfeed);
	/* just past the top: no match */
	check_fault(ld_at(PRIV_U, REGION + 4096), CAUSE_LOAD_ACCESS, REGION + 4096);
	/* just below the bottom (top of a 1 MiB gap above entry 3) */
	check_fault(ld_at(PRIV_U, REGION - 8), CAUSE_LOAD_ACCESS, REGION - 8);
	/* M ignores unlocked entries */
	set_case(11);
	*(volatile uint64_t *)(REGION + 64) = 0xbeef;
	CHECK_EQ(*(volatile uint64_t *)(REGION + 64), 0xbeef);

	/* a misaligned load across the top of the region: the upper part
	 * matches nothing, so it faults; tval is the start of the access
	 * or of the portion that faulted (both allowed) */
	set_case(12);
	CHECK_EQ(ld_at(PRIV_U, REGION + 4092), CAUSE_LOAD_ACCESS);
	if (trap_m.tval != REGION + 4096)
		CHECK_EQ(trap_m.tval, REGION + 4092);

	/* TOR with X: executable, and now W */
	set_case(13);
	pmp_set(1, (REGION + 4096) >> 2, PMP_TOR | PMP_R | PMP_W | PMP_X);
	check_no_trap(probe_exec(PRIV_U, REGION));
	check_no_trap(sd_at(PRIV_U, REGION + 128));
	CHECK_EQ(*(volatile uint64_t *)(REGION + 128), 0x1234);
	pmp_set(1, 0, PMP_OFF);

	/* NAPOT: 4 KiB, read/write, no execute */
	set_case(20);
	pmp_set(0, napot(REGION, 4096), PMP_NAPOT | PMP_R | PMP_W);
	check_no_trap(sd_at(PRIV_U, REGION + 256));
	check_no_trap(ld_at(PRIV_S, REGION + 256));
	CHECK_EQ(probe_value, 0x1234);
	check_fault(probe_exec(PRIV_U, REGION), CAUSE_FETCH_ACCESS, REGION);
	check_fault(ld_at(PRIV_U, REGION + 4096), CAUSE_LOAD_ACCESS, REGION + 4096);
	/* NAPOT of 8 bytes: pmpaddr ends in a single 0 bit */
	set_case(21);
	pmp_set(0, napot(REGION + 8, 8), PMP_NAPOT | PMP_R);
	CHECK_EQ(csr_read(pmpaddr0), (REGION + 8) >> 2);
	check_no_trap(ld_at(PRIV_U, REGION + 8));
	check_fault(ld_at(PRIV_U, REGION), CAUSE_LOAD_ACCESS, REGION);
	check_fault(ld_at(PRIV_U, REGION + 16), CAUSE_LOAD_ACCESS, REGION + 16);

	/* NA4: one 4-byte word */
	set_case(30);
	pmp_set(0, (REGION + 8) >> 2, PMP_NA4 | PMP_R);
	check_no_trap(lw_at(PRIV_U, REGION + 8));
	check_fault(lw_at(PRIV_U, REGION + 12), CAUSE_LOAD_ACCESS, REGION + 12);
	/* a doubleword only half inside the word: fails */
	check_fault(ld_at(PRIV_U, REGION + 8), CAUSE_LOAD_ACCESS, REGION + 8);
	check_fault(probe(PRIV_U, stub_sw, REGION + 8, 1), CAUSE_STORE_ACCESS, REGION + 8);

	/* the lowest-numbered matching entry decides */
	set_case(40);
	pmp_set(0, napot(REGION, 4096), PMP_NAPOT | PMP_R); /* read-only ... */
	pmp_set(1, napot(REGION, 8192), PMP_NAPOT | PMP_R | PMP_W); /* ... wins over RW */
	check_fault(sd_at(PRIV_U, REGION + 8), CAUSE_STORE_ACCESS, REGION + 8);
	check_no_trap(sd_at(PRIV_U, REGION + 4096 + 8)); /* only entry 1 */
	pmp_set(0, napot(REGION, 4096), PMP_NAPOT | PMP_R | PMP_W);
	pmp_set(1, napot(REGION, 8192), PMP_NAPOT);	/* no permissions */
	check_no_trap(sd_at(PRIV_U, REGION + 8));
	check_fault(ld_at(PRIV_U, REGION + 4096), CAUSE_LOAD_ACCESS, REGION + 4096);
	pmp_set(1, 0, PMP_OFF);

	/* MPRV: M's loads and stores are checked as MPP's privilege */
	set_case(50);
	pmp_set(0, napot(REGION, 4096), PMP_NAPOT | PMP_R);
	check_no_trap(probe_mprv_ld(PRIV_U, REGION + 8));
	check_fault(probe_mprv_sd(PRIV_U, REGION + 8, 7), CAUSE_STORE_ACCESS, REGION + 8);
	check_fault(probe_mprv_ld(PRIV_S, UNMATCHED), CAUSE_LOAD_ACCESS, UNMATCHED);
	check_no_trap(probe_mprv_sd(PRIV_M, REGION + 8, 7)); /* MPP = M: M rules */
	pmp_set(0, 0, PMP_OFF);

	/* Locked entries bind M too, and cannot be changed.  This comes last:
	 * only a reset unlocks them. */
	set_case(60);
	*(volatile uint64_t *)LOCKED_PAGE = 0x77;
	pmp_set(2, napot(LOCKED_PAGE, 4096), PMP_NAPOT | PMP_R | PMP_L);
	CHECK_EQ(*(volatile uint64_t *)LOCKED_PAGE, 0x77); /* M may read */
	check_fault(probe_run(PRIV_M, stub_sd, LOCKED_PAGE, 1, 0), CAUSE_STORE_ACCESS, LOCKED_PAGE);
	check_fault(probe_run(PRIV_M, stub_jump, LOCKED_PAGE, 0, 0), CAUSE_FETCH_ACCESS, LOCKED_PAGE);
	CHECK_EQ(*(volatile uint64_t *)LOCKED_PAGE, 0x77);
	check_fault(ld_at(PRIV_U, LOCKED_PAGE + 4096), CAUSE_LOAD_ACCESS, LOCKED_PAGE + 4096);
	check_no_trap(ld_at(PRIV_U, LOCKED_PAGE)); /* U: readable too */
	set_case(61);
	/* writes to a locked entry are ignored */
	set_pmpaddr(2, 0);
	CHECK_EQ(csr_read(pmpaddr2), napot(LOCKED_PAGE, 4096));
	csr_write(pmpcfg0, cfg0 & ~(0xffULL << 16));
	CHECK_EQ((csr_read(pmpcfg0) >> 16) & 0xff, PMP_NAPOT | PMP_R | PMP_L);
	/* M accesses that match no locked entry still succeed */
	set_case(62);
	*(volatile uint64_t *)(UNMATCHED + 24) = 0x99;
	CHECK_EQ(*(volatile uint64_t *)(UNMATCHED + 24), 0x99);

	/* leave the catch-all on again (the exit path does not need it,
	 * but a later failure report is clearer with it) */
	csr_write(pmpcfg2, (uint64_t)(PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 56);
	return 0;
}
