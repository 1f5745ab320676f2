/* Linked JALRs and exits to another page whose target changes under them
 * (run with --jit on --jit-threshold 0, and without).
 *
 * The JIT links a JALR to the first target it chains to, and a static
 * exit to another page to its target, behind a guard (jit.c, far_site and
 * jit_link_far): the target pc is the one linked, the exec TLB
 * still maps its page to the same host page, and that page's code
 * generation is still the target's.  Each case here runs a caller until
 * its site is linked, changes what the target pc means, and runs it again:
 *  - the target's code rewritten in place (its page's generation moves);
 *  - the target's virtual page mapped to another physical page (a PTE
 *    changed, SFENCE.VMA);
 *  - another address space (satp) in which the target's virtual page is
 *    another physical page, and back;
 *  - the caller's page mapped at a second virtual address, whose static
 *    exit to the next page reaches another physical page.
 * Without the guard the old translation would run: the old sum.  The
 * JALR's second target goes through the lookup, which must see the same
 * changes.
 */
#include "code.h"
#include "vm.h"

#define CALLER_PA 0x80700000ULL /* RAM the image does not use */
#define TARGET_PA 0x80702000ULL /* another page */
#define OTHER_PA 0x80704000ULL /* the target's second physical page */
/* the target's first physical page in S-mode: fresh, so that its code
 * generation is OTHER_PA's when the remap takes effect (each had blocks
 * built once), and only the addend guard tells them apart */
#define FRESH_PA 0x80706000ULL
#define CALLER_VA 0x40000000ULL /* CALLER_PA */
#define TARGET_VA 0x40002000ULL /* TARGET_PA or OTHER_PA */

enum { A0 = 10, A1 = 11 };

#define JR_A1 0x00058067u /* jalr x0, 0(a1) */
#define ECALL 0x00000073u

/* a0 = 3, then to a1 (at +0), or to the target page's +0x100 (at +0x40) */
static void put_callers(void)
{
	const uint32_t jr[] = {addi(A0, 0, 1), addi(A0, A0, 1), addi(A0, A0, 1), JR_A1};
	const uint32_t jal[] = {addi(A0, 0, 1), addi(A0, A0, 1), addi(A0, A0, 1),
				jump((int32_t)(TARGET_VA + 0x100 - (CALLER_VA + 0x4c)))};
	put(CALLER_PA, jr, 4);
	put(CALLER_PA + 0x40, jal, 4);
}

/* at pa and pa + 0x100: a0 += 4k; ecall */
static void put_target(uint64_t pa, int32_t k)
{
	const uint32_t code[] = {addi(A0, A0, k), addi(A0, A0, k), addi(A0, A0, k),
				 addi(A0, A0, k), ECALL};
	put(pa, code, 5);
	put(pa + 0x100, code, 5);
}

/* Run both callers a few times (the sites link), expecting a0 = 3 + 4k;
 * the JALR's target alternates between the target page's +0 and +0x100,
 * so its site is linked to the first and the other goes through the
 * lookup behind it (jit.c, chain_to_rax) every time. */
static void run(long priv, uint64_t caller, uint64_t target, uint64_t case_no, int32_t k)
{
	for (uint64_t r = 0; r < 4; r++) {
		set_case(case_no + r);
		CHECK_EQ(probe_run(priv, (const void *)caller, target, 0, 0), ecall_cause(priv));
		CHECK_EQ(probe_value, 3 + 4 * (uint64_t)k);
		set_case(case_no + 4 + r);
		CHECK_EQ(probe_run(priv, (const void *)(caller + 0x40), 0, 0, 0), ecall_cause(priv));
		CHECK_EQ(probe_value, 3 + 4 * (uint64_t)k);
		set_case(case_no + 8 + r);
		CHECK_EQ(probe_run(priv, (const void *)caller, target + 0x100, 0, 0),
			 ecall_cause(priv));
		CHECK_EQ(probe_value, 3 + 4 * (uint64_t)k);
	}
}

/* Physical addresses, M-mode: the target rewritten in place. */
static void rewritten(void)
{
	put_callers();
	put_target(TARGET_PA, 10);
	run(PRIV_M, CALLER_PA, TARGET_PA, 100, 10);
	put_target(TARGET_PA, 100);
	run(PRIV_M, CALLER_PA, TARGET_PA, 200, 100);
}

/* S-mode: the target's page mapped elsewhere, then another satp. */
static void remapped(void)
{
	put_target(FRESH_PA, 10);
	put_target(OTHER_PA, 1000);
	struct vm vm, other;
	vm_init(&vm, SATP_MODE_SV39);
	vm_map(&vm, CALLER_VA, CALLER_PA, 0, PTE_V | PTE_R | PTE_X | PTE_A);
	volatile uint64_t *leaf = vm_map(&vm, TARGET_VA, FRESH_PA, 0, PTE_V | PTE_R | PTE_X | PTE_A);
	vm_init(&other, SATP_MODE_SV39);
	vm_map(&other, CALLER_VA, CALLER_PA, 0, PTE_V | PTE_R | PTE_X | PTE_A);
	vm_map(&other, TARGET_VA, OTHER_PA, 0, PTE_V | PTE_R | PTE_X | PTE_A);
	vm_enable(&vm);
	run(PRIV_S, CALLER_VA, TARGET_VA, 300, 10);
	*leaf = pte(OTHER_PA, PTE_V | PTE_R | PTE_X | PTE_A);
	vm_enable(&vm); /* SFENCE.VMA */
	run(PRIV_S, CALLER_VA, TARGET_VA, 400, 1000);
	*leaf = pte(FRESH_PA, PTE_V | PTE_R | PTE_X | PTE_A);
	vm_enable(&vm);
	run(PRIV_S, CALLER_VA, TARGET_VA, 500, 10);
	vm_enable(&other);
	run(PRIV_S, CALLER_VA, TARGET_VA, 600, 1000);
	vm_enable(&vm);
	run(PRIV_S, CALLER_VA, TARGET_VA, 700, 10);
	vm_disable();
	page_pool_reset();
}

#define ALIAS_VA 0x40100000ULL /* CALLER_PA again; its target page OTHER_PA */

/* S-mode: the same caller at two virtual addresses, each exiting to its
 * own next-but-one page */
static void aliased(void)
{
	put_callers();
	put_target(FRESH_PA, 10);
	put_target(OTHER_PA, 1000);
	struct vm vm;
	vm_init(&vm, SATP_MODE_SV39);
	vm_map(&vm, CALLER_VA, CALLER_PA, 0, PTE_V | PTE_R | PTE_X | PTE_A);
	vm_map(&vm, TARGET_VA, FRESH_PA, 0, PTE_V | PTE_R | PTE_X | PTE_A);
	vm_map(&vm, ALIAS_VA, CALLER_PA, 0, PTE_V | PTE_R | PTE_X | PTE_A);
	vm_map(&vm, ALIAS_VA + (TARGET_VA - CALLER_VA), OTHER_PA, 0, PTE_V | PTE_R | PTE_X | PTE_A);
	vm_enable(&vm);
	run(PRIV_S, CALLER_VA, TARGET_VA, 800, 10);
	run(PRIV_S, ALIAS_VA, ALIAS_VA + (TARGET_VA - CALLER_VA), 900, 1000);
	vm_disable();
	page_pool_reset();
}

int test_main(void)
{
	aliased();
	rewritten();
	remapped();
	return 0;
}
