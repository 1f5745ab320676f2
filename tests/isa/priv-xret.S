/* Returning from traps and the mstatus trap-virtualisation bits: mret and
 * sret update MIE/SIE from xPIE, set xPIE, drop xPP to U and switch to the
 * old xPP; mret to a lower privilege clears MPRV; sret from S obeys TSR;
 * wfi obeys TW in S and is illegal in U; satp and sfence.vma obey TVM in S
 * (M is never affected).
 *
 * QEMU 7.2 does not clear MPRV on an mret to a lower privilege (case 7),
 * which privileged spec 1.12 requires. */
#include "test.h"

/* a0 = mstatus field `mask` (already shifted) */
	.macro MSTATUS_FIELD reg, mask
	csrr \reg, mstatus
	li t5, \mask
	and \reg, \reg, t5
	.endm

	TEST_BEGIN

	.option push
	.option norvc

	/* ---- mret M -> M: MIE = MPIE, MPIE = 1, MPP = U ---- */
	CASE 2
	li a0, MSTATUS_MIE
	csrc mstatus, a0
	li a0, MSTATUS_MPIE | MSTATUS_MPP_M
	csrs mstatus, a0
	la a0, 1f
	csrw mepc, a0
	mret
	j fail
1:	MSTATUS_FIELD a0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP
	CHECK a0, MSTATUS_MIE | MSTATUS_MPIE	/* MPP = U = 0 */
	CASE 3
	li a0, MSTATUS_MPIE
	csrc mstatus, a0	/* MPIE = 0, MIE = 1 */
	li a0, MSTATUS_MPP_M
	csrs mstatus, a0
	la a0, 1f
	csrw mepc, a0
	mret
	j fail
1:	MSTATUS_FIELD a0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP
	CHECK a0, MSTATUS_MPIE

	/* ---- mret to S and to U: the new privilege is what MPP said ---- */
	CASE 4
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_S, 2f
2:	csrr a0, sstatus	/* legal in S */
	csrr a0, mstatus	/* illegal in S */
	j fail
1:	CHECK_MCAUSE CAUSE_ILLEGAL
	GET_TRAP a0, m, TL_PRIV
	CHECK a0, PRIV_S
	CASE 5
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 2f
2:	csrr a0, sstatus	/* illegal in U */
	j fail
1:	CHECK_MCAUSE CAUSE_ILLEGAL
	GET_TRAP a0, m, TL_PRIV
	CHECK a0, PRIV_U
	/* mret to S sets MIE from MPIE: seen as MPIE of the next trap */
	CASE 6
	li a0, MSTATUS_MPIE
	csrs mstatus, a0
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_S, 2f
2:	ecall
1:	GET_TRAP a0, m, TL_STATUS
	andi a0, a0, MSTATUS_MPIE
	CHECK a0, MSTATUS_MPIE
	li a0, MSTATUS_MIE
	csrc mstatus, a0

	/* ---- mret to a lower privilege clears MPRV ---- */
	CASE 7
	li a0, MSTATUS_MPRV
	csrs mstatus, a0	/* MPP is U here: loads/stores act as U
				   (bare, and PMP entry 15 allows U) */
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 2f
2:	ecall
1:	GET_TRAP a0, m, TL_STATUS
	li a1, MSTATUS_MPRV
	and a0, a0, a1
	CHECK a0, 0
	CASE 8
	/* ...but not an mret that stays in M */
	li a0, MSTATUS_MPRV | MSTATUS_MPP_M
	csrs mstatus, a0
	la a0, 1f
	csrw mepc, a0
	mret
1:	MSTATUS_FIELD a0, MSTATUS_MPRV
	CHECK a0, MSTATUS_MPRV
	li a0, MSTATUS_MPRV
	csrc mstatus, a0

	/* ---- sret ---- */
	/* in S: SPP = S, SPIE = 1 -> stays in S, SIE = 1, SPIE = 1, SPP = U */
	CASE 10
	csrw sie, zero
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_S, 2f
2:	li a0, MSTATUS_SIE
	csrc sstatus, a0
	li a0, MSTATUS_SPP | MSTATUS_SPIE
	csrs sstatus, a0
	la a0, 3f
	csrw sepc, a0
	sret
	j fail
3:	csrr a1, sstatus	/* still S: legal */
	ecall
1:	CHECK_MCAUSE CAUSE_ECALL_S
	andi a0, a1, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP
	CHECK a0, MSTATUS_SIE | MSTATUS_SPIE
	/* SPIE = 0 gives SIE = 0 */
	CASE 11
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_S, 2f
2:	li a0, MSTATUS_SPIE
	csrc sstatus, a0
	li a0, MSTATUS_SPP | MSTATUS_SIE
	csrs sstatus, a0
	la a0, 3f
	csrw sepc, a0
	sret
	j fail
3:	csrr a1, sstatus
	ecall
1:	andi a0, a1, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP
	CHECK a0, MSTATUS_SPIE
	/* S -> U */
	CASE 12
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_S, 2f
2:	li a0, MSTATUS_SPP
	csrc sstatus, a0
	la a0, 3f
	csrw sepc, a0
	sret
	j fail
3:	ecall
1:	CHECK_MCAUSE CAUSE_ECALL_U
	/* sret in M is legal and returns to SPP */
	CASE 13
	li a0, MSTATUS_SPP
	csrs mstatus, a0
	EXPECT_TRAP 1f
	la a0, 2f
	csrw sepc, a0
	sret
	j fail
2:	ecall
1:	CHECK_MCAUSE CAUSE_ECALL_S
	MSTATUS_FIELD a0, MSTATUS_SPP
	CHECK a0, 0

	/* ---- TSR ---- */
	CASE 20
	li a0, MSTATUS_TSR
	csrs mstatus, a0
	li a0, MSTATUS_SPP
	csrs mstatus, a0
	TEST_ILLEGAL_IN PRIV_S, 21, sret
	CASE 22
	/* M is not affected */
	li a0, MSTATUS_SPP
	csrs mstatus, a0
	EXPECT_TRAP 1f
	la a0, 2f
	csrw sepc, a0
	sret
2:	ecall
1:	CHECK_MCAUSE CAUSE_ECALL_S
	li a0, MSTATUS_TSR
	csrc mstatus, a0
	TEST_LEGAL_IN PRIV_S, 23, csrr a0, sepc

	/* ---- TW and wfi ----
	 * wfi only completes here because an enabled interrupt is already
	 * pending but not taken (SSIP delegated to S, sstatus.SIE = 0, or
	 * in M with mstatus.MIE = 0); it must then act as a no-op. */
	CASE 30
	li a0, MIP_SSIP
	csrw mideleg, a0
	csrw mie, a0
	csrs mip, a0
	li a0, MSTATUS_SIE | MSTATUS_MIE
	csrc mstatus, a0
	wfi			/* in M */
	TEST_LEGAL_IN PRIV_S, 31, wfi
	li a0, MSTATUS_TW
	csrs mstatus, a0
	TEST_ILLEGAL_IN PRIV_S, 32, wfi
	CASE 33
	wfi			/* TW does not apply to M */
	/* In U, the delegated SSIP would be taken at once (S interrupts
	 * are always enabled below S), so clear it first: wfi in U is
	 * illegal whatever TW says. */
	csrw mie, zero
	li a0, MIP_SSIP
	csrc mip, a0
	csrw mideleg, zero
	TEST_ILLEGAL_IN PRIV_U, 34, wfi
	li a0, MSTATUS_TW
	csrc mstatus, a0
	TEST_ILLEGAL_IN PRIV_U, 35, wfi
	CASE 36
	/* no interrupt was taken on the way */
	GET_TRAP a0, s, TL_COUNT
	CHECK a0, 0
	LOAD_VAR a0, irq_log_len
	CHECK a0, 0

	/* ---- TVM ---- */
	CASE 40
	li a0, MSTATUS_TVM
	csrs mstatus, a0
	TEST_ILLEGAL_IN PRIV_S, 41, csrr a0, satp
	TEST_ILLEGAL_IN PRIV_S, 42, csrw satp, zero
	TEST_ILLEGAL_IN PRIV_S, 43, sfence.vma
	TEST_ILLEGAL_IN PRIV_S, 44, sfence.vma a0, zero
	CASE 45
	csrr a0, satp		/* M is not affected */
	sfence.vma
	li a0, MSTATUS_TVM
	csrc mstatus, a0
	TEST_LEGAL_IN PRIV_S, 46, csrr a0, satp
	TEST_LEGAL_IN PRIV_S, 47, sfence.vma
	TEST_LEGAL_IN PRIV_S, 48, csrw satp, zero
	.option pop

	TEST_END
