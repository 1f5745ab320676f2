/* Code that is rewritten after it has run, often enough that keel's JIT
 * has translated it (run with --jit on --jit-threshold 0, and without):
 * every run must execute the bytes memory holds at that moment.
 *
 *  - a hot loop in a page mapped twice, executable at one virtual address
 *    and writable at another: its immediate is rewritten through the
 *    writable alias between runs (with FENCE.I, as the spec asks), and
 *    every run's sum must use the new immediate;
 *  - a loop that rewrites its own next iteration's instruction through the
 *    alias while it runs: the first iteration adds 1, all later ones 2;
 *  - the same loop at its physical address in M-mode, rewritten directly.
 */
#include "code.h"
#include "vm.h"

#define CODE_PA 0x80700000ULL /* RAM the image does not use */
#define CODE_X 0x40000000ULL /* CODE_PA, executable */
#define CODE_W 0x40001000ULL /* CODE_PA, writable */

enum { A0 = 10, A1 = 11, A2 = 12, A3 = 13 };

static uint32_t bne_back(unsigned rs1, int32_t off)
{
	uint32_t i = (uint32_t)off;
	return ((i >> 12) & 1) << 31 | ((i >> 5) & 0x3f) << 25 | rs1 << 15 | 1 << 12 |
	       ((i >> 1) & 0xf) << 8 | ((i >> 11) & 1) << 7 | 0x63;
}

/* a0 = 0; loop a1 times: a0 += K (the word at +4); ecall */
static void put_sum_loop(uint64_t pa, int32_t k)
{
	const uint32_t code[] = {addi(A0, 0, 0), addi(A0, A0, k), addi(A1, A1, -1),
				 bne_back(A1, -8), 0x00000073};
	put(pa, code, 5);
}

/* a0 = 0; loop a1 times: a0 += 1 (the word at +4), then store a2 at a3
 * (that word, through the alias); ecall */
static void put_self_rewriting_loop(uint64_t pa)
{
	const uint32_t code[] = {addi(A0, 0, 0), addi(A0, A0, 1), 0x00c6a023 /* sw a2, 0(a3) */,
				 addi(A1, A1, -1), bne_back(A1, -12), 0x00000073};
	put(pa, code, 6);
}

static void run_sum(long priv, uint64_t at, uint64_t n, uint64_t expected)
{
	CHECK_EQ(probe_run(priv, (const void *)at, n, 0, 0), ecall_cause(priv));
	CHECK_EQ(probe_value, expected);
}

static void through_alias(void)
{
	struct vm vm;
	vm_init(&vm, SATP_MODE_SV39);
	vm_map(&vm, CODE_X, CODE_PA, 0, PTE_V | PTE_R | PTE_X | PTE_A);
	vm_map(&vm, CODE_W, CODE_PA, 0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
	put_sum_loop(CODE_PA, 1);
	vm_enable(&vm);
	for (int32_t k = 1; k <= 40; k++) {
		set_case((uint64_t)k);
		run_sum(PRIV_S, CODE_X, 100, 100 * (uint64_t)k);
		check_no_trap(probe(PRIV_S, stub_sw, CODE_W + 4, addi(A0, A0, k + 1)));
		fence_i();
	}
	set_case(50);
	put_self_rewriting_loop(CODE_PA);
	for (int r = 0; r < 10; r++) {
		check_no_trap(probe(PRIV_S, stub_sw, CODE_W + 4, addi(A0, A0, 1)));
		fence_i();
		CHECK_EQ(probe_run(PRIV_S, (const void *)CODE_X, 100, addi(A0, A0, 2), CODE_W + 4),
			 CAUSE_ECALL_S);
		CHECK_EQ(probe_value, 1 + 2 * 99);
	}
	vm_disable();
	page_pool_reset();
}

static void in_place(void)
{
	for (int32_t k = 1; k <= 20; k++) {
		set_case(60 + (uint64_t)k);
		put_sum_loop(CODE_PA, k);
		run_sum(PRIV_M, CODE_PA, 200, 200 * (uint64_t)k);
	}
}

int test_main(void)
{
	through_alias();
	in_place();
	return 0;
}
