/* A linked exit whose target block leaves the block table (run with
 * --jit on --jit-threshold 0, and without).
 *
 * The JIT links a static exit to its target's translation once (jit.c,
 * chain) and jumps there with no lookup after.  When the target's slot is
 * rebuilt for another block, the link must not run the old translation:
 * that translation resumes the interpreter at an entry of "its" block,
 * named by the slot, which now holds the other block (jit_kill).
 *
 * Block A links to block B in the same page.  Blocks C and D sit 64 KiB
 * and 128 KiB after B, which puts all three in one pair of table slots
 * (the index is hpc / 2 mod 32768).  C is built first (the partner
 * slot), then B (the first), A links to B, and D then takes B's slot
 * (exec.c, find_block keeps C: both are translated).  B's translation
 * resumes the interpreter at its entry 4 (a CSR read); had it run after
 * that, the interpreter would have gone on at D's entry 4, which adds
 * 2000.
 */
#include "code.h"
#include "vm.h"

#define A_PA 0x80700000ULL /* RAM the image does not use */
#define B_PA (A_PA + 0x100)
#define C_PA (B_PA + 0x10000)
#define D_PA (B_PA + 0x20000)

enum { A0 = 10 };

#define CSRR_T0_MSCRATCH 0x340022f3u /* the JIT leaves CSRs to the interpreter */
#define ECALL 0x00000073u

static void run(uint64_t case_no, uint64_t pa, uint64_t expected)
{
	set_case(case_no);
	CHECK_EQ(probe_run(PRIV_M, (const void *)pa, 0, 0, 0), ecall_cause(PRIV_M));
	CHECK_EQ(probe_value, expected);
}

int test_main(void)
{
	/* a0 = 3, then B */
	const uint32_t a[] = {addi(A0, 0, 0), addi(A0, A0, 1), addi(A0, A0, 1), addi(A0, A0, 1),
			      jump((int32_t)(B_PA - (A_PA + 16)))};
	/* a0 += 40, a CSR read, a0 += 100 */
	const uint32_t b[] = {addi(A0, A0, 10), addi(A0, A0, 10), addi(A0, A0, 10),
			      addi(A0, A0, 10), CSRR_T0_MSCRATCH, addi(A0, A0, 100), ECALL};
	/* a0 = 3000, a CSR read, a0 += 2000 */
	const uint32_t c[] = {addi(A0, 0, 0), addi(A0, A0, 1000), addi(A0, A0, 1000),
			      addi(A0, A0, 1000), CSRR_T0_MSCRATCH, addi(A0, A0, 2000), ECALL};
	/* a0 = 3000, += 2000 twice: where B has its CSR read, D adds */
	const uint32_t d[] = {addi(A0, 0, 0), addi(A0, A0, 1000), addi(A0, A0, 1000),
			      addi(A0, A0, 1000), addi(A0, A0, 2000), addi(A0, A0, 2000), ECALL};
	put(A_PA, a, 5);
	put(B_PA, b, 7);
	put(C_PA, c, 7);
	put(D_PA, d, 7);
	run(1, C_PA, 5000);
	for (uint64_t k = 0; k < 4; k++) /* B built, then A's exit linked to it */
		run(2 + k, A_PA, 143);
	run(10, D_PA, 7000); /* D takes B's slot */
	for (uint64_t k = 0; k < 4; k++)
		run(11 + k, A_PA, 143);
	run(20, C_PA, 5000);
	run(21, D_PA, 7000);
	return 0;
}
