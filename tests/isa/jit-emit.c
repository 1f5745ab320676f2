/* Forward branches, loops and ALU forms of keel's JIT (src/cpu/jit.c,
 * docs/cpu.md "The JIT"):
 * - a forward conditional branch jumps out of line when taken (its exit,
 *   a link site, and every site's lookup are emitted after the block's
 *   code) and falls through when not; the exit gives back the block's
 *   unrun instructions, so the instruction count after the loop is exact
 *   only if each path's steps are;
 * - ADD of two registers the JIT keeps in host registers is one LEA, into
 *   a register kept in memory (t5) or in a host register (a4);
 * - an ALU operation on a register kept in memory whose value RAX holds
 *   (add t6, a2, a5; add t6, t6, t5) works in RAX and stores it.
 * - JALR takes its target straight from rs1's host register unless the
 *   link overwrites it first (jalr a1, 8(a1) copies it).
 * - a block that loops to its start, its only load from the register it
 *   steps (a0), tries the entry the last pass left in RCX; RCX is masked
 *   to an entry's offset on the way in and, after a shift by a register
 *   (which takes the count in RCX), on the way round, so the huge count
 *   here never names an entry (without either mask keel reads outside
 *   its TLB).  The loop walks across pages, where the tried entry is the
 *   wrong one.
 * - slli rd, rs1, 32 then srli rd, rd, k is one 32-bit move (and a shift
 *   by k - 32), from and into host registers and memory, also with ALU
 *   operations on other registers between them (gcc interleaves two
 *   pairs); not when one between reads rd, nor across a load (whose miss,
 *   resuming the interpreter there, would show it rd's final value: a
 *   load from a page not touched before misses).
 * - LUI then ADDI[W] of the same register is one move of the sum when
 *   that fits a sign-extended 32-bit immediate (and two when it does
 *   not), AUIPC then ADDI one pc computation (LA).
 * Run with --jit on --jit-threshold 0 (every block translated at its first
 * entry) and with the default tiers; each must give what the C model
 * gives: the sum and minstret's count of the kernel's instructions. */
#include "ctest.h"

struct result {
	uint64_t sum, steps;
};

/* a0 = n, a1 = p, a2 and a3 constants.  Per byte of p: the low two bits
 * zero skip to 2 (13 instructions), else bit 2 set skips to 3 (15), else
 * all of it (17).  The kernel is not compressed, so the model counts
 * instructions as written. */
__asm__(".text\n.balign 4\n.globl k_fwd\nk_fwd:\n.option push\n.option norvc\n"
	"csrr a7, minstret\n"
	"li t6, 0\nli a6, 0\nli a5, 0\n"
	"1:\n"
	"lbu t4, 0(a1)\n"
	"add t5, a2, a3\n" /* LEA into a register in memory */
	"add a4, a2, a5\n" /* LEA into a host register */
	"add t6, a2, a5\n" /* t6 in RAX... */
	"add t6, t6, t5\n" /* ...taken from there */
	"xor a6, a6, t6\n"
	"add a6, a6, a4\n"
	"andi t2, t4, 3\n"
	"beqz t2, 2f\n"
	"addi a5, a5, 7\n"
	"andi t2, t4, 4\n"
	"bnez t2, 3f\n"
	"addi a6, a6, 1\n"
	"2:\n"
	"addi a5, a5, 3\n"
	"3:\n"
	"addi a1, a1, 1\n"
	"addi a0, a0, -1\n"
	"bnez a0, 1b\n"
	"csrr t0, minstret\n"
	"sub a1, t0, a7\n"
	"slli a0, a5, 32\n"
	"xor a0, a0, a6\n"
	"xor a0, a0, t6\n"
	"ret\n"
	".option pop\n");
struct result k_fwd(uint64_t n, const uint8_t *p, uint64_t q, uint64_t r);

static struct result model(uint64_t n, const uint8_t *p, uint64_t q, uint64_t r)
{
	uint64_t t6 = 0, a6 = 0, a5 = 0, steps = 4; /* the first csrr and the three li */
	for (; n; n--, p++) {
		uint64_t t5 = q + r, a4 = q + a5;
		t6 = q + a5 + t5;
		a6 = (a6 ^ t6) + a4;
		steps += 9 + 3;
		if (!(*p & 3)) {
			a5 += 3;
			steps += 1;
			continue;
		}
		a5 += 7;
		steps += 3;
		if (*p & 4)
			continue;
		a6 += 1;
		a5 += 3;
		steps += 2;
	}
	return (struct result){(a5 << 32) ^ a6 ^ t6, steps};
}

/* a0 = n: n times through a jump table of four cases picked by the low
 * bits of a counter, each case reached by jr a5 (a host register) and
 * returning to the loop by jalr a1, 8(a1) (rd = rs1, a host register, the
 * link written after the target was taken from it).  Returns the sum of
 * what the cases added and the last link. */
__asm__(".text\n.balign 4\n.globl k_jalr\nk_jalr:\n.option push\n.option norvc\n"
	"li a2, 0\nli a3, 0\n"
	"1:\n"
	"andi a4, a3, 3\n"
	"slli a4, a4, 4\n"
	"la a5, 3f\n"
	"add a5, a5, a4\n"
	"auipc a1, 0\n" /* a1 = here; jalr a1, 8(a1) comes back to 2 */
	"jr a5\n"
	"2:\n"
	"addi a3, a3, 1\n"
	"bne a3, a0, 1b\n"
	"sub a0, a1, a5\n" /* the link less the last case's address */
	"slli a0, a0, 32\n"
	"add a0, a0, a2\n"
	"ret\n"
	".balign 16\n"
	"3:\naddi a2, a2, 1\njalr a1, 8(a1)\nnop\nnop\n"
	"addi a2, a2, 10\njalr a1, 8(a1)\nnop\nnop\n"
	"addi a2, a2, 100\njalr a1, 8(a1)\nnop\nnop\n"
	"addi a2, a2, 1000\njalr a1, 8(a1)\nnop\nnop\n"
	".option pop\n");
uint64_t k_jalr(uint64_t n);

static uint64_t model_jalr(uint64_t n)
{
	static const uint64_t add[] = {1, 10, 100, 1000};
	uint64_t sum = 0, last = 0;
	for (uint64_t k = 0; k < n; k++) {
		sum += add[k & 3];
		last = k & 3;
	}
	/* the link is the jalr's address + 4: case start + 8; a5 the case */
	(void)last;
	return ((uint64_t)8 << 32) + sum;
}

/* a0 = p (words), a1 = n, a2 = a shift count whose low six bits are
 * zero and whose low word is large; returns the sum of the n words. */
__asm__(".text\n.balign 4\n.globl k_scan\nk_scan:\n.option push\n.option norvc\n"
	"li t4, 0\nli t5, 1\n"
	"sll t5, t5, a2\n" /* RCX = a2 on the way into the loop */
	"j 1f\n"
	".balign 64\n"
	"1:\n"
	"lw t2, 0(a0)\n"
	"add t4, t4, t2\n"
	"sll t5, t5, a2\n" /* and on the way round */
	"addi a0, a0, 4\n"
	"addi a1, a1, -1\n"
	"bnez a1, 1b\n"
	"add a0, t4, t5\n"
	"ret\n"
	".option pop\n");
uint64_t k_scan(const int32_t *p, uint64_t n, uint64_t count);

/* a0 = x, a1 = a word on a page not read before: zero-extensions of x,
 * each pair one translation where it may be, their results mixed into a0 */
__asm__(".text\n.balign 4\n.globl k_zext\nk_zext:\n.option push\n.option norvc\n"
	"slli a6, a0, 32\nslli a7, a0, 32\naddw t2, a0, 3\n" /* two pairs interleaved */
	"srli a6, a6, 32\nsrli a7, a7, 36\n"
	"slli t0, a0, 32\nadd t1, t0, a0\nsrli t0, t0, 32\n" /* t0 read between */
	"slli t3, a0, 32\nlw t4, 0(a1)\nsrli t3, t3, 32\n" /* a load between */
	"xor a6, a6, t2\nslli a6, a6, 1\nxor a6, a6, a7\nslli a6, a6, 1\nxor a6, a6, t1\n"
	"slli a6, a6, 1\nxor a6, a6, t0\nslli a6, a6, 1\nxor a6, a6, t3\nadd a6, a6, t4\n"
	/* LUI and its ADDIW with the SRLI of another pair between */
	"slli a4, a0, 32\nlui a5, 0x12345\nsrli a4, a4, 32\naddiw a5, a5, 0x678\n"
	"slli a6, a6, 1\nxor a6, a6, a4\nslli a6, a6, 1\nxor a6, a6, a5\n"
	"mv a3, a0\nslli a3, a3, 32\nsrli a3, a3, 32\n" /* in place, a host register */
	"slli a4, a0, 32\nsrli a4, a4, 34\n" /* from one host register into another */
	"mv t4, a0\nslli t5, t4, 32\nsrli t5, t5, 40\n" /* memory to memory */
	"slli t6, a0, 32\nsrli t6, t6, 63\n" /* a host register into memory */
	"slli a5, t4, 32\nsrli a5, a5, 33\n" /* memory into a host register */
	"slli a0, a0, 32\nsrli a0, a0, 31\n" /* not a pair: k < 32 */
	"xor a0, a0, a3\nslli a0, a0, 1\nxor a0, a0, a4\nslli a0, a0, 1\nxor a0, a0, t5\n"
	"slli a0, a0, 1\nxor a0, a0, t6\nslli a0, a0, 1\nxor a0, a0, a5\n"
	"slli a0, a0, 1\nxor a0, a0, a6\n"
	"ret\n"
	".option pop\n");
uint64_t k_zext(uint64_t x, const uint32_t *fresh);

static uint64_t model_zext(uint64_t x)
{
	uint64_t lo = x & 0xffffffffu, r = (x << 32) >> 31;
	uint64_t m = lo ^ (uint64_t)(int64_t)(int32_t)(uint32_t)(x + 3);
	m = (m << 1) ^ (lo >> 4);
	m = (m << 1) ^ ((x << 32) + x);
	m = (m << 1) ^ lo;
	m = (m << 1) ^ lo; /* + the word read, 0 */
	m = (m << 1) ^ lo;
	m = (m << 1) ^ 0x12345678;
	r = ((r ^ lo) << 1) ^ (lo >> 2);
	r = (r << 1) ^ (lo >> 8);
	r = (r << 1) ^ (lo >> 31);
	r = (r << 1) ^ (lo >> 1);
	return (r << 1) ^ m;
}

/* never written, nor read but by k_zext, a page each call: .bss is not
 * cleared (env/crt.S), RAM starts zero */
static uint32_t fresh[64][1024];

/* Returns the XOR of constants built by LUI and ADDI[W], each result
 * shifted apart; *pcs = LA of k_here into a host register (a5) and into
 * memory (t5), at offsets from it */
__asm__(".text\n.balign 4\n.globl k_consts\nk_consts:\n.option push\n.option norvc\n"
	"k_here:\n"
	"lui a4, 0x12345\naddiw a4, a4, 0x678\n" /* 0x12345678 */
	"lui t6, 0x80000\naddiw t6, t6, -1\n" /* wraps: 0x7fffffff */
	"lui a3, 0x7ffff\naddi a3, a3, 0x7ff\n" /* 0x7ffff7ff */
	"lui a2, 0x80000\naddi a2, a2, -1\n" /* 0xffffffff7fffffff: no imm32 */
	"lui a1, 0xfffff\naddi a1, a1, -2048\n" /* -6144 */
	"lui t4, 0x1\naddi t3, t4, 5\n" /* not a pair: rd != rs1 */
	"auipc a5, 0\naddi a5, a5, 0\n" /* k_here + 48 */
	"auipc t5, 0\naddi t5, t5, -32\n" /* k_here + 56 - 32 */
	"sd a5, 0(a0)\nsd t5, 8(a0)\n"
	"mv a0, a4\nslli a0, a0, 1\nxor a0, a0, t6\nslli a0, a0, 1\nxor a0, a0, a3\n"
	"slli a0, a0, 1\nxor a0, a0, a2\nslli a0, a0, 1\nxor a0, a0, a1\n"
	"slli a0, a0, 1\nxor a0, a0, t3\n"
	"ret\n"
	".option pop\n");
uint64_t k_consts(uint64_t pcs[2]);
extern const char k_here[];

static uint64_t shl1(uint64_t x) { return x << 1; }

static int32_t words[3 * 1024];
static uint8_t bytes[4096];

int test_main(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (unsigned k = 0; k < sizeof(bytes); k++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		bytes[k] = (uint8_t)x;
	}
	/* short runs first (sites not yet linked), then long ones (linked;
	 * the loop runs inside its translation), from several offsets */
	static const uint64_t lengths[] = {1, 2, 3, 5, 8, 40, 1000, 4000};
	for (unsigned rep = 0; rep < 3; rep++) {
		for (unsigned k = 0; k < sizeof(lengths) / sizeof(lengths[0]); k++) {
			const uint8_t *p = bytes + (rep * 7 + k) % 64;
			uint64_t q = 0x1234567 * (k + 1), r = 0x89abcdef00ull + rep;
			struct result got = k_fwd(lengths[k], p, q, r);
			struct result want = model(lengths[k], p, q, r);
			set_case(10 + k);
			CHECK_EQ(got.sum, want.sum);
			set_case(20 + k);
			CHECK_EQ(got.steps, want.steps);
		}
	}
	for (unsigned k = 0; k < sizeof(words) / sizeof(words[0]); k++)
		words[k] = (int32_t)(k * 0x9e3779b1u);
	for (uint64_t n = 1; n < 3 * 1024; n = n * 3 + 1) {
		for (uint64_t at = 0; at + n <= 3 * 1024; at += 1000) {
			int64_t sum = 1;
			for (uint64_t k = 0; k < n; k++)
				sum += words[at + k];
			set_case(40);
			CHECK_EQ(k_scan(words + at, n, 0x7fff0000ull), (uint64_t)sum);
		}
	}
	for (uint64_t k = 0; k < 64; k++) {
		uint64_t x = 0x9e3779b97f4a7c15ull * (k + 1) ^ (k << 31);
		set_case(50);
		CHECK_EQ(k_zext(x, fresh[k]), model_zext(x));
	}
	for (unsigned k = 0; k < 40; k++) {
		uint64_t pcs[2];
		uint64_t want = shl1(0x12345678) ^ 0x7fffffff;
		want = shl1(want) ^ 0x7ffff7ff;
		want = shl1(want) ^ 0xffffffff7fffffffull;
		want = shl1(want) ^ (uint64_t)-6144;
		want = shl1(want) ^ 0x1005;
		set_case(60);
		CHECK_EQ(k_consts(pcs), want);
		set_case(61);
		CHECK_EQ(pcs[0], (uint64_t)k_here + 48);
		set_case(62);
		CHECK_EQ(pcs[1], (uint64_t)k_here + 56 - 32);
	}
	for (uint64_t n = 1; n < 300; n += 37) {
		set_case(30);
		CHECK_EQ(k_jalr(n), model_jalr(n));
	}
	return 0;
}
