/* A load or store from the same register as the last access in its
 * block tries that access's TLB entry first (keel's JIT, tlb_lookup in
 * src/cpu/jit.c): right when both are in one page; when they are not, the
 * entry is computed after all (emit_fix), or the access misses and the
 * interpreter takes it.  Run with --jit on --jit-threshold 0 (every block
 * translated at its first entry) and without.  Each kernel, one block,
 * reads and writes around a page boundary and inside one page, its base
 * in a register the JIT keeps in a host register (a1) and in one it keeps
 * in memory (t3), in S-mode with two virtual pages mapped to physical
 * pages that are not neighbours: an access that kept the other page's
 * entry would read the page between them, which holds other values. */
#include "vm.h"

#define DATA_VA 0x40000000ULL /* two pages: PAGE_A, then PAGE_C */
#define PAGE_A 0x80700000ULL /* RAM the image does not use */
#define PAGE_B 0x80701000ULL /* between them, mapped nowhere */
#define PAGE_C 0x80702000ULL

/* p in a1: p[2] = p[-1] + p[1]; a0 = p[-2] + p[2]; ecall (one block) */
#define KERNEL(name, base, setup)                                                        \
	__asm__(".text\n.balign 4\n.globl " #name "\n" #name ":\n" setup                    \
		"ld a2,-8(" base ")\nld a3,8(" base ")\nadd a2,a2,a3\nsd a2,16(" base ")\n" \
		"ld a4,-16(" base ")\nld a5,16(" base ")\nadd a0,a4,a5\necall\n");         \
	void name(void)

KERNEL(k_host, "a1", "");
KERNEL(k_mem, "t3", "mv t3,a1\n");

static uint64_t *word(uint64_t va) /* its physical address */
{
	return (uint64_t *)(va < DATA_VA + PAGE_SIZE ? PAGE_A + (va - DATA_VA)
						     : PAGE_C + (va - DATA_VA - PAGE_SIZE));
}

static void check(void (*k)(void), uint64_t at, uint64_t case_no)
{
	for (uint64_t n = 0; n < 40; n++) {
		set_case(case_no);
		uint64_t *pages[] = {(uint64_t *)PAGE_A, (uint64_t *)PAGE_B, (uint64_t *)PAGE_C};
		for (unsigned p = 0; p < 3; p++)
			for (unsigned j = 0; j < 512; j++)
				pages[p][j] = (p * 512 + j) * 0x9e3779b97f4a7c15ull + n;
		uint64_t sum = *word(at - 8) + *word(at + 8);
		uint64_t expected = *word(at - 16) + sum;
		CHECK_EQ(probe_run(PRIV_S, (const void *)k, at, 0, 0), ecall_cause(PRIV_S));
		CHECK_EQ(probe_value, expected);
		CHECK_EQ(*word(at + 16), sum);
	}
}

int test_main(void)
{
	struct vm vm;
	vm_init(&vm, SATP_MODE_SV39);
	vm_map(&vm, DATA_VA, PAGE_A, 0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
	vm_map(&vm, DATA_VA + PAGE_SIZE, PAGE_C, 0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
	vm_enable(&vm);
	/* -16 and -8 in the first page, 8 and 16 in the next */
	check(k_host, DATA_VA + PAGE_SIZE, 1);
	check(k_mem, DATA_VA + PAGE_SIZE, 2);
	/* the boundary between 8 and 16 */
	check(k_host, DATA_VA + PAGE_SIZE - 8, 3);
	check(k_mem, DATA_VA + PAGE_SIZE - 8, 4);
	/* all in one page */
	check(k_host, DATA_VA + 0x400, 5);
	check(k_mem, DATA_VA + PAGE_SIZE + 0x800, 6);
	vm_disable();
	return 0;
}
