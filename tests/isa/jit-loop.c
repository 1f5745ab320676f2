/* A block that loops to its own start stays inside its translation while
 * the steps left cover another pass (docs/cpu.md, "Loops and chaining").
 * This loop runs on registers the JIT's fixed mapping keeps in memory, and
 * leaves its translation by every path there is; whatever the JIT keeps in
 * host registers inside the loop, every exit must leave the registers as
 * the code it goes to expects them.  (It was written for an experiment that
 * gave such a loop its own register mapping, measured and not kept: the
 * mapping is the likely way to speed such loops up, and this is its test.)
 * Run with --jit on --jit-threshold 0 (every block translated at its first
 * entry), with the default tiers and with --no-decode-cache; each must
 * give what the C model (model below) gives.
 *
 * The kernel's loop is one block of 29 instructions (the most a block
 * holds), the back-edge last, using seventeen registers the fixed mapping
 * keeps in memory (s2-s11, t4, t5, a6, a7, t0, t2, t6) and none of the
 * fixed ones; a0-a5, t1 and t3 hold values across the loop that the
 * checksum after it reads, as it reads every register the loop wrote.  It
 * leaves by falling out of the back-edge (to a translated block, or, in
 * k_csr, to a CSR read the JIT leaves to the interpreter), by a branch out
 * of the middle, and through TLB misses (a load striding a page per pass),
 * which resume the interpreter inside the loop. */
#include <stdbool.h>

#include "ctest.h"

#define DATA 0x80800000ULL /* RAM the image does not use: 2 MiB of it */

#define SETUP                                                                                   \
	"mv s10,a0\nmv s11,a1\nmv s8,a2\nmv t6,a3\nli s2,1\nli s3,2\nli s4,3\nli s5,4\nli s6,5\n"  \
	"li s7,6\nli t4,7\nli t5,8\nli a6,9\nli a7,10\nli s9,0\nli t0,0\nli t2,0\nli a4,0x1234\n"  \
	"li a5,0x5678\nli t1,0x9abc\nli t3,0xdef0\nj 1f\n"
/* 29 instructions from 1: to the back-edge */
#define LOOP                                                                                    \
	".balign 128\n1:\n.option push\n.option norvc\n"                                            \
	"ld s9,0(s8)\nadd s2,s2,s9\nadd s8,s8,t6\nadd s3,s3,s2\nxor s4,s4,s3\nadd s5,s5,s4\n"      \
	"xor s6,s6,s5\nadd s7,s7,s6\nxor t4,t4,s7\nadd t5,t5,t4\nxor a6,a6,t5\nadd a7,a7,a6\n"     \
	"slli t0,a7,3\nxor s2,s2,t0\nbeq s10,s11,2f\nsrli t2,s3,5\nadd s4,s4,t2\nadd s3,s3,s10\n"  \
	"xor s5,s5,s10\nadd s6,s6,s7\nxor s7,s7,s8\nadd t4,t4,s2\nxor t5,t5,s3\nadd a6,a6,s4\n"    \
	"xor a7,a7,s5\nadd s2,s2,s6\naddi s10,s10,-1\nadd s9,s9,t5\nbnez s10,1b\n.option pop\n"
/* a0 = a0 * 31 + r over every register the loop or SETUP wrote */
#define MIX(r) "mul a0,a0,s0\nadd a0,a0," r "\n"
#define SUM                                                                                     \
	"2:\nli s0,31\n" MIX("a1") MIX("a2") MIX("a3") MIX("a4") MIX("a5") MIX("t1") MIX("t3")     \
	MIX("s2") MIX("s3") MIX("s4") MIX("s5") MIX("s6") MIX("s7") MIX("s8") MIX("s9")            \
	MIX("s10") MIX("s11") MIX("t0") MIX("t2") MIX("t4") MIX("t5") MIX("t6") MIX("a6")          \
	MIX("a7")
/* after falling out of the loop: one instruction, then the sum */
#define KERNEL(name, after)                                                                     \
	__asm__(".text\n.balign 4\n.globl " #name "\n" #name ":\n" ASM_SAVE_S SETUP             \
		LOOP after SUM ASM_RESTORE_S_RET);                                              \
	uint64_t name(uint64_t n, uint64_t exit_at, uint64_t p, uint64_t stride)

KERNEL(k_plain, "addi t0,t0,7\n");
KERNEL(k_csr, "csrr t0,mhartid\n"); /* hart 0 */

/* The kernel in C */
static uint64_t model(uint64_t n, uint64_t exit_at, uint64_t p, uint64_t stride, bool csr)
{
	uint64_t s2 = 1, s3 = 2, s4 = 3, s5 = 4, s6 = 5, s7 = 6, t4 = 7, t5 = 8, a6 = 9, a7 = 10;
	uint64_t s8 = p, s9 = 0, s10 = n, s11 = exit_at, t0 = 0, t2 = 0, t6 = stride;
	uint64_t a1 = exit_at, a2 = p, a3 = stride, a4 = 0x1234, a5 = 0x5678, t1 = 0x9abc,
		 t3 = 0xdef0;
	for (;;) {
		s9 = *(volatile uint64_t *)s8;
		s2 += s9, s8 += t6, s3 += s2, s4 ^= s3, s5 += s4, s6 ^= s5, s7 += s6, t4 ^= s7;
		t5 += t4, a6 ^= t5, a7 += a6, t0 = a7 << 3, s2 ^= t0;
		if (s10 == s11)
			goto sum;
		t2 = s3 >> 5, s4 += t2, s3 += s10, s5 ^= s10, s6 += s7, s7 ^= s8, t4 += s2;
		t5 ^= s3, a6 += s4, a7 ^= s5, s2 += s6, s10 -= 1, s9 += t5;
		if (!s10)
			break;
	}
	t0 = csr ? 0 : t0 + 7;
sum:;
	const uint64_t r[] = {a1, a2, a3, a4, a5, t1, t3, s2, s3, s4, s5, s6, s7, s8, s9,
			      s10, s11, t0, t2, t4, t5, t6, a6, a7};
	uint64_t a0 = n;
	for (unsigned k = 0; k < sizeof(r) / sizeof(r[0]); k++)
		a0 = a0 * 31 + r[k];
	return a0;
}

static void check(uint64_t case_no, uint64_t n, uint64_t exit_at, uint64_t p, uint64_t stride)
{
	set_case(case_no);
	CHECK_EQ(k_plain(n, exit_at, p, stride), model(n, exit_at, p, stride, false));
	set_case(case_no + 1);
	CHECK_EQ(k_csr(n, exit_at, p, stride), model(n, exit_at, p, stride, true));
}

int test_main(void)
{
	volatile uint64_t *data = (volatile uint64_t *)DATA;
	for (uint64_t k = 0; k < 2 * 1024 * 1024 / 8; k += 64)
		data[k] = k * 0x9e3779b97f4a7c15ull;
	for (uint64_t rep = 0; rep < 8; rep++) {
		check(10, 40 + rep, ~0ull, DATA, 8); /* falls out */
		check(20, 40, 17 + rep, DATA, 16); /* branches out */
		check(30, 3, ~0ull, DATA, 8); /* falls out soon */
		/* a page a pass: a miss each pass on a new base */
		check(40, 60, ~0ull, DATA + rep * 0x40000, 4096);
		check(50, 60, 30, DATA + 0x100000 + rep * 0x8000, 4096 - 64);
	}
	return 0;
}
