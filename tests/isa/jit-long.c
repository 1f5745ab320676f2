/* A translation runs on past its block's end into the straight-line code
 * after it in the page (docs/cpu.md, "The JIT", "Longer translations"), so
 * a loop longer than a block is one translation that loops in itself.
 * This loop is 48 instructions (a block holds 29), and everything that
 * leaves a translation to the interpreter happens in the part past the
 * first block, its tail, where the pc to go on at is no entry of the
 * block: a TLB miss (a load striding a page per pass), an MMIO store and
 * load (the CLINT's mtimecmp, as scratch: no timer interrupt is enabled)
 * behind a branch inside the tail, a load that faults (skipped by the trap
 * handler), and, in k_smc, a store that rewrites an instruction later in
 * the tail on every pass.  Each kernel must give what the C model gives,
 * run with --jit on --jit-threshold 0, with the default tiers and with
 * --no-decode-cache.  And minstret must count exactly what ran: the steps
 * a translation takes at its entry (its block's and its tail's) and gives
 * back at every exit are what the interpreter's icount, and so minstret,
 * timer deadlines and stop points, are made of. */
#include <stdbool.h>

#include "ctest.h"

#define DATA 0x80800000ULL /* RAM the image does not use: 2 MiB of it */
#define MTIMECMP 0x2004000ULL /* the CLINT's, hart 0 */
#define BAD_BIT 40 /* DATA with this bit set is no memory: a load faults */

/* a0 passes, a1 the strided pointer, a2 its stride, a3 a pointer to
 * RAM, a4 the pass (by the count left) whose load at a3 faults, a5
 * MTIMECMP, a6 the pass that stores to and loads from it.  s0 is the
 * rewritten instruction's address, s1 its encoding with imm 0. */
#define SETUP                                                                                   \
	"mv s10,a0\nmv s8,a1\nmv t6,a2\nmv s11,a6\nli s2,1\nli s3,2\nli s4,3\nli s5,4\nli s6,5\n"  \
	"li s7,6\nli t4,7\nli t5,8\nli a6,9\nli a7,10\nli s9,0\nli t0,0\nli t2,0\nla s0,4f\n"      \
	"li s1,0x000c8c93\nj 1f\n" /* addi s9,s9,0 */
/* 48 instructions from 1 to the back-edge, in one page: the first 29 the
 * block at 1, the rest its translation's tail */
#define LOOP(rewrite)                                                                           \
	".balign 4096\n1:\n.option push\n.option norvc\n"                                           \
	"ld s9,0(s8)\nadd s2,s2,s9\nadd s8,s8,t6\nadd s3,s3,s2\nxor s4,s4,s3\nadd s5,s5,s4\n"      \
	"xor s6,s6,s5\nadd s7,s7,s6\nxor t4,t4,s7\nadd t5,t5,t4\nxor a6,a6,t5\nadd a7,a7,a6\n"     \
	"slli t0,a7,3\nxor s2,s2,t0\nsrli t2,s3,5\nadd s4,s4,t2\nadd s3,s3,s10\nxor s5,s5,s10\n"   \
	"add s6,s6,s7\nxor s7,s7,s8\nadd t4,t4,s2\nxor t5,t5,s3\nadd a6,a6,s4\nxor a7,a7,s5\n"     \
	"add s2,s2,s6\nadd s9,s9,t5\nslli t0,s9,7\nxor s3,s3,t0\nadd s4,s4,a7\n"                   \
	/* 29: the tail */                                                                      \
	"ld t2,8(s8)\nadd s5,s5,t2\nbne s10,s11,3f\nsd s2,0(a5)\nld t2,0(a5)\nadd s6,s6,t2\n3:\n"  \
	"sub t0,s10,a4\nseqz t0,t0\nslli t0,t0,40\nadd t0,t0,a3\nld t2,0(t0)\nadd s7,s7,t2\n"       \
	rewrite "4:\naddi s9,s9,0\nxor t4,t4,s5\nadd t5,t5,s6\nxor a6,a6,s7\naddi s10,s10,-1\n"   \
	"bnez s10,1b\n.option pop\n"
/* k_smc: before 4, imm = (count left) % 64, written into the instruction
 * at 4 through a store that the translation cannot make (its page holds
 * code): the interpreter makes it, and what runs next is the new word */
#define REWRITE "andi t0,s10,63\nslli t0,t0,20\nor t0,t0,s1\nsw t0,0(s0)\n"
#define NO_REWRITE "nop\nnop\nnop\nnop\n"
/* a0 = a0 * 31 + r over every register the loop or SETUP wrote */
#define MIX(r) "mul a0,a0,s0\nadd a0,a0," r "\n"
#define SUM                                                                                     \
	"addi t0,t0,7\nli s0,31\n" MIX("a1") MIX("a2") MIX("a3") MIX("a4") MIX("a5") MIX("s2")     \
	MIX("s3") MIX("s4") MIX("s5") MIX("s6") MIX("s7") MIX("s8") MIX("s9") MIX("s10")          \
	MIX("s11") MIX("t0") MIX("t2") MIX("t4") MIX("t5") MIX("t6") MIX("a6") MIX("a7")
#define KERNEL(name, rewrite)                                                                   \
	__asm__(".text\n.balign 4\n.globl " #name "\n" #name ":\n" ASM_SAVE_S SETUP             \
		LOOP(rewrite) SUM ASM_RESTORE_S_RET);                                           \
	uint64_t name(uint64_t n, uint64_t p, uint64_t stride, uint64_t ram, uint64_t trap_at,    \
		      uint64_t mmio, uint64_t mmio_at)

KERNEL(k_plain, NO_REWRITE);
KERNEL(k_smc, REWRITE);

/* The kernels in C */
static uint64_t model(uint64_t n, uint64_t p, uint64_t stride, uint64_t ram, uint64_t trap_at,
		      uint64_t mmio_at, bool smc)
{
	uint64_t s2 = 1, s3 = 2, s4 = 3, s5 = 4, s6 = 5, s7 = 6, t4 = 7, t5 = 8, a6 = 9, a7 = 10;
	uint64_t s8 = p, s9 = 0, s10 = n, t0 = 0, t2 = 0, t6 = stride, mtimecmp = 0;
	do {
		s9 = *(volatile uint64_t *)s8;
		s2 += s9, s8 += t6, s3 += s2, s4 ^= s3, s5 += s4, s6 ^= s5, s7 += s6, t4 ^= s7;
		t5 += t4, a6 ^= t5, a7 += a6, t0 = a7 << 3, s2 ^= t0, t2 = s3 >> 5, s4 += t2;
		s3 += s10, s5 ^= s10, s6 += s7, s7 ^= s8, t4 += s2, t5 ^= s3, a6 += s4, a7 ^= s5;
		s2 += s6, s9 += t5, t0 = s9 << 7, s3 ^= t0, s4 += a7;
		t2 = *(volatile uint64_t *)(s8 + 8), s5 += t2;
		if (s10 == mmio_at)
			mtimecmp = s2, t2 = mtimecmp, s6 += t2;
		t0 = (uint64_t)(s10 == trap_at) << BAD_BIT;
		t0 += ram;
		if (s10 != trap_at) /* else the load faults and is skipped */
			t2 = *(volatile uint64_t *)t0;
		s7 += t2;
		if (smc)
			t0 = (s10 & 63) << 20 | 0x000c8c93, s9 += s10 & 63;
		t4 ^= s5, t5 += s6, a6 ^= s7, s10 -= 1;
	} while (s10);
	t0 += 7;
	const uint64_t r[] = {p, stride, ram, trap_at, MTIMECMP, s2, s3, s4, s5, s6, s7,
			      s8, s9, s10, mmio_at, t0, t2, t4, t5, t6, a6, a7};
	uint64_t a0 = n;
	for (unsigned k = 0; k < sizeof(r) / sizeof(r[0]); k++)
		a0 = a0 * 31 + r[k];
	return a0;
}

static void check(uint64_t case_no, uint64_t n, uint64_t p, uint64_t stride, uint64_t trap_at,
		  uint64_t mmio_at)
{
	uint64_t traps = trap_m.count;
	set_case(case_no);
	CHECK_EQ(k_plain(n, p, stride, DATA, trap_at, MTIMECMP, mmio_at),
		 model(n, p, stride, DATA, trap_at, mmio_at, false));
	set_case(case_no + 1);
	CHECK_EQ(k_smc(n, p, stride, DATA, trap_at, MTIMECMP, mmio_at),
		 model(n, p, stride, DATA, trap_at, mmio_at, true));
	set_case(case_no + 2); /* each faulting load trapped, as a load access fault */
	CHECK_EQ(trap_m.count - traps, trap_at && trap_at <= n ? 2 : 0);
	if (trap_m.count != traps)
		CHECK_EQ(trap_m.cause, CAUSE_LOAD_ACCESS);
}

/* minstret across k_plain */
static __attribute__((noinline)) uint64_t retired(uint64_t n, uint64_t p, uint64_t stride,
						  uint64_t trap_at, uint64_t mmio_at)
{
	uint64_t before = csr_read(minstret);
	k_plain(n, p, stride, DATA, trap_at, MTIMECMP, mmio_at);
	return csr_read(minstret) - before;
}

int test_main(void)
{
	volatile uint64_t *data = (volatile uint64_t *)DATA;
	for (uint64_t k = 0; k < 2 * 1024 * 1024 / 8; k += 1)
		data[k] = k * 0x9e3779b97f4a7c15ull;
	trap_m.mode = TRAP_SKIP;
	for (uint64_t rep = 0; rep < 6; rep++) {
		check(10, 40 + rep, DATA, 8, 0, 0); /* none */
		/* a page a pass: a miss in the tail each pass on a new base */
		check(20, 60, DATA + rep * 0x40000, 4096, 0, 0);
		check(30, 50, DATA, 8, 0, 17 + rep); /* MMIO on one pass */
		check(40, 50, DATA, 8, 9 + rep, 0); /* a fault on one pass */
		check(50, 60, DATA + 0x100000 + rep * 0x8000, 4096 - 64, 5 + rep, 30 - rep);
	}
	/* 48 instructions a pass (51 with MMIO), counted exactly: the
	 * overhead around the loop, the trap handler's and the MMIO pass's
	 * are the same in both runs.  The first run strides over pages not
	 * touched yet: a TLB miss in the tail on every pass. */
	set_case(60);
	CHECK_EQ(retired(70, DATA, 8, 0, 0) - retired(20, DATA, 8, 0, 0), 50 * 48);
	set_case(61);
	uint64_t p = DATA + 0x180000;
	CHECK_EQ(retired(70, p, 4096, 9, 12) - retired(20, p, 4096, 9, 12), 50 * 48);
	return 0;
}
