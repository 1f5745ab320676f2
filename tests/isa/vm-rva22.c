/* The RVA22 privileged additions: menvcfg/senvcfg (CBIE, CBCFE, CBZE,
 * PBMTE), the cache-block operations (Zicbom, Zicboz) with their enables
 * per privilege, what cbo.zero writes and the faults CBOs raise (always
 * store faults), Svnapot 64 KiB pages and the reserved NAPOT encodings,
 * Svpbmt's PBMT field (reserved unless menvcfg.PBMTE, value 3 always
 * reserved, never in a non-leaf PTE), and Svinval's instructions.
 *
 * keel's choices where the spec leaves one (docs/cpu.md): the cache block
 * is 64 bytes; a CBO's xtval is rs1 for clean/flush/inval and the block's
 * first byte for zero (as Spike); a CBO on anything but RAM is a store
 * access fault. */
#include "vm.h"

/* csr_read/csr_write take the CSR by name or number: menvcfg 0x30a, senvcfg 0x10a */

#define ENVCFG_FIOM 0x1ULL
#define ENVCFG_CBIE (3ULL << 4)
#define ENVCFG_CBCFE (1ULL << 6)
#define ENVCFG_CBZE (1ULL << 7)
#define ENVCFG_PBMTE (1ULL << 62)
#define ENVCFG_STCE (1ULL << 63)
#define PTE_PBMT_NC (1ULL << 61)
#define PTE_PBMT_IO (2ULL << 61)
#define PTE_N (1ULL << 63)

#define DATA_PA 0x80600000ULL /* RAM the image does not use */
#define UART_PA 0x10000000ULL /* MMIO */

/* Probe stubs (a1 = address), each ending in ecall like crt.S's.  The
 * encodings are spelled out: binutils 2.40 knows the CBOs only with
 * -march, and Svinval not at all. */
__asm__(".pushsection .text\n"
	".align 2\n stub_cbo_inval: .word 0x0005a00f\n ecall\n"
	".align 2\n stub_cbo_clean: .word 0x0015a00f\n ecall\n"
	".align 2\n stub_cbo_flush: .word 0x0025a00f\n ecall\n"
	".align 2\n stub_cbo_zero: .word 0x0045a00f\n ecall\n"
	".align 2\n stub_sinval_vma: .word 0x16000073\n ecall\n"
	".align 2\n stub_sfence_w_inval: .word 0x18000073\n ecall\n"
	".align 2\n stub_sfence_inval_ir: .word 0x18100073\n ecall\n"
	".popsection\n");
extern const char stub_cbo_inval[], stub_cbo_clean[], stub_cbo_flush[], stub_cbo_zero[];
extern const char stub_sinval_vma[], stub_sfence_w_inval[], stub_sfence_inval_ir[];

static uint8_t buf[256] __attribute__((aligned(64)));

static void expect_load_s(uint64_t va, uint64_t value)
{
	check_no_trap(probe_ld(PRIV_S, va));
	CHECK_EQ(probe_value, value);
}

static void envcfg_warl(void)
{
	set_case(1);
	csr_write(0x30a, ~0ULL);
	CHECK_EQ(csr_read(0x30a), ENVCFG_FIOM | ENVCFG_CBIE | ENVCFG_CBCFE | ENVCFG_CBZE |
					  ENVCFG_PBMTE | ENVCFG_STCE);
	set_case(2);
	csr_write(0x30a, 2ULL << 4); /* CBIE = 10: reserved, reads 00 */
	CHECK_EQ(csr_read(0x30a), 0);
	csr_write(0x30a, 1ULL << 4);
	CHECK_EQ(csr_read(0x30a), 1ULL << 4);
	set_case(3);
	csr_write(0x10a, ~0ULL);
	CHECK_EQ(csr_read(0x10a), ENVCFG_FIOM | ENVCFG_CBIE | ENVCFG_CBCFE | ENVCFG_CBZE);
	csr_write(0x10a, 0);
	csr_write(0x30a, 0);
}

/* Each CBO with its enable, at each privilege: M always; S when menvcfg
 * allows; U when both do. */
static void cbo_enables(void)
{
	static const struct {
		const char *stub;
		uint64_t bits;
	} ops[] = {
		{stub_cbo_inval, 3ULL << 4}, {stub_cbo_inval, 1ULL << 4},
		{stub_cbo_clean, ENVCFG_CBCFE}, {stub_cbo_flush, ENVCFG_CBCFE},
		{stub_cbo_zero, ENVCFG_CBZE},
	};
	uint64_t addr = (uint64_t)buf;
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		uint64_t c = 10 + 10 * i;
		set_case(c);
		csr_write(0x30a, 0);
		csr_write(0x10a, 0);
		check_no_trap(probe(PRIV_M, ops[i].stub, addr, 0));
		set_case(c + 1);
		check_fault(probe(PRIV_S, ops[i].stub, addr, 0), CAUSE_ILLEGAL,
			    *(const uint32_t *)ops[i].stub);
		set_case(c + 2);
		check_fault(probe(PRIV_U, ops[i].stub, addr, 0), CAUSE_ILLEGAL,
			    *(const uint32_t *)ops[i].stub);
		set_case(c + 3);
		csr_write(0x30a, ops[i].bits);
		check_no_trap(probe(PRIV_S, ops[i].stub, addr, 0));
		check_fault(probe(PRIV_U, ops[i].stub, addr, 0), CAUSE_ILLEGAL,
			    *(const uint32_t *)ops[i].stub);
		set_case(c + 4);
		csr_write(0x10a, ops[i].bits);
		check_no_trap(probe(PRIV_U, ops[i].stub, addr, 0));
		set_case(c + 5); /* senvcfg alone does not enable S or U */
		csr_write(0x30a, 0);
		check_fault(probe(PRIV_S, ops[i].stub, addr, 0), CAUSE_ILLEGAL,
			    *(const uint32_t *)ops[i].stub);
	}
	csr_write(0x30a, 0);
	csr_write(0x10a, 0);
}

/* cbo.zero zeroes the whole 64-byte block around the address, nothing else. */
static void cbo_zero_block(void)
{
	set_case(70);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i + 1);
	check_no_trap(probe(PRIV_M, stub_cbo_zero, (uint64_t)buf + 64 + 37, 0));
	for (unsigned i = 0; i < sizeof(buf); i++)
		CHECK_EQ(buf[i], i >= 64 && i < 128 ? 0 : (uint8_t)(i + 1));
	set_case(71); /* clean, flush and inval leave memory as it is */
	check_no_trap(probe(PRIV_M, stub_cbo_clean, (uint64_t)buf + 3, 0));
	check_no_trap(probe(PRIV_M, stub_cbo_flush, (uint64_t)buf + 3, 0));
	check_no_trap(probe(PRIV_M, stub_cbo_inval, (uint64_t)buf + 3, 0));
	CHECK_EQ(buf[3], 4);
	set_case(72); /* not RAM: a store access fault */
	check_fault(probe(PRIV_M, stub_cbo_zero, UART_PA + 8, 0), CAUSE_STORE_ACCESS, UART_PA);
	check_fault(probe(PRIV_M, stub_cbo_clean, UART_PA + 8, 0), CAUSE_STORE_ACCESS,
		    UART_PA + 8);
}

/* CBOs under translation report store page faults. */
static void cbo_faults(uint64_t mode)
{
	struct vm vm;
	vm_init(&vm, mode);
	vm_map(&vm, 0x40000000, DATA_PA, 0, PTE_V | PTE_R | PTE_A | PTE_D); /* read-only */
	vm_map(&vm, 0x40001000, DATA_PA + 0x1000, 0, RWX_AD);
	vm_enable(&vm);
	csr_write(0x30a, ENVCFG_CBIE | ENVCFG_CBCFE | ENVCFG_CBZE);
	set_case(80);
	check_fault(probe(PRIV_S, stub_cbo_zero, 0x40000010, 0), CAUSE_STORE_PAGE_FAULT,
		    0x40000000);
	set_case(81); /* readable is enough for clean/flush/inval */
	check_no_trap(probe(PRIV_S, stub_cbo_clean, 0x40000010, 0));
	check_no_trap(probe(PRIV_S, stub_cbo_inval, 0x40000010, 0));
	set_case(82); /* unmapped: a store page fault with tval = rs1 */
	check_fault(probe(PRIV_S, stub_cbo_flush, 0x40002010, 0), CAUSE_STORE_PAGE_FAULT,
		    0x40002010);
	check_fault(probe(PRIV_S, stub_cbo_zero, 0x40002010, 0), CAUSE_STORE_PAGE_FAULT,
		    0x40002000);
	set_case(83);
	*(volatile uint64_t *)(DATA_PA + 0x1040) = 0x77;
	check_no_trap(probe(PRIV_S, stub_cbo_zero, 0x40001040, 0));
	CHECK_EQ(*(volatile uint64_t *)(DATA_PA + 0x1040), 0);
	vm_disable();
	page_pool_reset();
	csr_write(0x30a, 0);
}

/* Svnapot: a level-0 leaf with N set and ppn[3:0] = 1000 maps 64 KiB; the
 * low four bits of the PPN come from the virtual address. */
static void napot(uint64_t mode)
{
	struct vm vm;
	uint64_t base = DATA_PA + 0x10000; /* 64 KiB aligned */
	for (unsigned i = 0; i < 16; i++)
		*(volatile uint64_t *)(base + i * PAGE_SIZE + 8) = 0x1000 + i;
	vm_init(&vm, mode);
	/* all 16 PTEs of the range, as the spec asks software to write them */
	for (unsigned i = 0; i < 16; i++)
		*vm_map(&vm, 0x40010000 + i * PAGE_SIZE, base, 0, RWX_AD) |= PTE_N | (8ULL << 10);
	/* one PTE, read for an address of another page of the range */
	*vm_map(&vm, 0x40030000, base, 0, RWX_AD) |= PTE_N | (8ULL << 10);
	vm_enable(&vm);
	set_case(90);
	for (unsigned i = 0; i < 16; i++)
		expect_load_s(0x40010000 + i * PAGE_SIZE + 8, 0x1000 + i);
	set_case(91); /* the PTE of page 0 of a range, found for page 5 */
	expect_load_s(0x40030008, 0x1000);
	vm_disable();
	vm_map(&vm, 0x40035000, base, 0, RWX_AD);
	*vm_pte(&vm, 0x40035000, 0) = *vm_pte(&vm, 0x40030000, 0);
	vm_enable(&vm);
	expect_load_s(0x40035008, 0x1005);
	set_case(92); /* ppn[3:0] = 0100: a reserved NAPOT size */
	vm_disable();
	*vm_map(&vm, 0x40040000, base, 0, RWX_AD) |= PTE_N | (4ULL << 10);
	/* N in a 2 MiB leaf, and in a pointer to the next level */
	*vm_map(&vm, 0x40200000, 0x80200000, 1, RWX_AD) |= PTE_N;
	vm_map(&vm, 0x40400000, base, 0, RWX_AD);
	*vm_pte(&vm, 0x40400000, 1) |= PTE_N;
	vm_enable(&vm);
	check_fault(probe_ld(PRIV_S, 0x40040000), CAUSE_LOAD_PAGE_FAULT, 0x40040000);
	set_case(93);
	check_fault(probe_ld(PRIV_S, 0x40200000), CAUSE_LOAD_PAGE_FAULT, 0x40200000);
	set_case(94);
	check_fault(probe_ld(PRIV_S, 0x40400000), CAUSE_LOAD_PAGE_FAULT, 0x40400000);
	vm_disable();
	page_pool_reset();
}

/* Svpbmt: the memory types are accepted (and change nothing) only with
 * menvcfg.PBMTE; 3 is reserved; non-leaf PTEs must have PBMT = 0.  Bits
 * 60:54 stay reserved. */
static void pbmt(uint64_t mode)
{
	struct vm vm;
	*(volatile uint64_t *)(DATA_PA + 8) = 0xabc;
	vm_init(&vm, mode);
	*vm_map(&vm, 0x40000000, DATA_PA, 0, RWX_AD) |= PTE_PBMT_NC;
	*vm_map(&vm, 0x40001000, DATA_PA, 0, RWX_AD) |= PTE_PBMT_IO;
	*vm_map(&vm, 0x40002000, DATA_PA, 0, RWX_AD) |= 3ULL << 61;
	*vm_map(&vm, 0x40003000, DATA_PA, 0, RWX_AD) |= 1ULL << 60;
	vm_map(&vm, 0x40400000, DATA_PA, 0, RWX_AD);
	*vm_pte(&vm, 0x40400000, 1) |= PTE_PBMT_NC;
	vm_enable(&vm);
	set_case(100);
	check_fault(probe_ld(PRIV_S, 0x40000008), CAUSE_LOAD_PAGE_FAULT, 0x40000008);
	set_case(101);
	csr_write(0x30a, ENVCFG_PBMTE);
	expect_load_s(0x40000008, 0xabc);
	expect_load_s(0x40001008, 0xabc);
	set_case(102);
	check_fault(probe_ld(PRIV_S, 0x40002008), CAUSE_LOAD_PAGE_FAULT, 0x40002008);
	check_fault(probe_ld(PRIV_S, 0x40003008), CAUSE_LOAD_PAGE_FAULT, 0x40003008);
	check_fault(probe_ld(PRIV_S, 0x40400008), CAUSE_LOAD_PAGE_FAULT, 0x40400008);
	set_case(103); /* clearing PBMTE again takes effect at once */
	csr_write(0x30a, 0);
	check_fault(probe_ld(PRIV_S, 0x40001008), CAUSE_LOAD_PAGE_FAULT, 0x40001008);
	vm_disable();
	page_pool_reset();
}

/* Svinval: sinval.vma follows sfence.vma's rules (TVM); the two fences
 * need S. */
static void svinval(void)
{
	set_case(110);
	check_no_trap(probe(PRIV_S, stub_sinval_vma, 0, 0));
	check_no_trap(probe(PRIV_S, stub_sfence_w_inval, 0, 0));
	check_no_trap(probe(PRIV_S, stub_sfence_inval_ir, 0, 0));
	check_no_trap(probe(PRIV_M, stub_sinval_vma, 0, 0));
	set_case(111);
	check_fault(probe(PRIV_U, stub_sinval_vma, 0, 0), CAUSE_ILLEGAL, 0x16000073);
	check_fault(probe(PRIV_U, stub_sfence_w_inval, 0, 0), CAUSE_ILLEGAL, 0x18000073);
	check_fault(probe(PRIV_U, stub_sfence_inval_ir, 0, 0), CAUSE_ILLEGAL, 0x18100073);
	set_case(112);
	csr_set(mstatus, 1ULL << 20); /* TVM */
	check_fault(probe(PRIV_S, stub_sinval_vma, 0, 0), CAUSE_ILLEGAL, 0x16000073);
	check_no_trap(probe(PRIV_S, stub_sfence_w_inval, 0, 0));
	csr_clear(mstatus, 1ULL << 20);
}

int test_main(void)
{
	envcfg_warl();
	cbo_enables();
	cbo_zero_block();
	cbo_faults(SATP_MODE_SV39);
	napot(SATP_MODE_SV39);
	napot(SATP_MODE_SV48);
	pbmt(SATP_MODE_SV39);
	svinval();
	return 0;
}
