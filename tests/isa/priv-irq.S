/* Interrupts, driven by the software-writable pending bits (SSIP, STIP and
 * SEIP are writable in mip from M; the M-level bits are not): mcause with
 * the interrupt bit, mepc = the next instruction to run, global enables
 * per privilege (M-level interrupts are always on below M, S-level ones
 * never in M), delegation through mideleg to S, vectored mtvec/stvec
 * (slot = cause), the priority order SEI > SSI > STI, interrupts to M
 * before interrupts to S, interrupts taken right after an xRET, and Sstc
 * (stimecmp) where menvcfg.STCE is implemented.
 *
 * The environment's handler disables each interrupt (in mie/sie) as it
 * takes it and logs its cause number in irq_log.
 *
 * QEMU 7.2 takes SSI before SEI when both go to M (cases 40-41), against
 * the priority order of the privileged spec. */
#include "test.h"

/* irq_log[i] == cause */
	.macro CHECK_IRQ_LOG i, cause
	la t5, irq_log
	ld t5, (\i * 8)(t5)
	li t6, \cause
	beq t5, t6, .Lok\@
	j fail_check
.Lok\@:
	.endm

	.macro CLEAR_IRQ_LOG
	la t5, irq_log_len
	sd zero, 0(t5)
	.endm

	TEST_BEGIN

	.option push
	.option norvc

	/* ---- which mip bits M can write ---- */
	CASE 2
	csrw mie, zero
	li a0, -1
	csrw mip, a0
	csrr a1, mip
	andi a2, a1, MIP_SSIP | MIP_STIP | MIP_SEIP
	CHECK a2, MIP_SSIP | MIP_STIP | MIP_SEIP
	li a3, MIP_MSIP | MIP_MEIP
	and a2, a1, a3
	CHECK a2, 0
	csrw mip, zero
	csrr a1, mip
	andi a2, a1, MIP_SSIP | MIP_STIP | MIP_SEIP
	CHECK a2, 0
	/* mie: all six standard bits are writable */
	CASE 3
	li a0, -1
	csrw mie, a0
	csrr a1, mie
	li a2, 0xaaa
	and a1, a1, a2
	CHECK a1, 0xaaa
	csrw mie, zero

	/* ---- an interrupt taken in M ---- */
	CASE 10
	CLEAR_IRQ_LOG
	csrsi mip, MIP_SSIP
	csrsi mie, MIP_SSIP
	nop			/* MIE = 0: nothing happens */
	LOAD_VAR a0, irq_log_len
	CHECK a0, 0
	csrsi mstatus, MSTATUS_MIE
10:	nop			/* taken before this instruction */
	csrci mstatus, MSTATUS_MIE
	LOAD_VAR a0, irq_log_len
	CHECK a0, 1
	CHECK_IRQ_LOG 0, IRQ_S_SOFT
	GET_TRAP a0, m, TL_CAUSE
	CHECK a0, INTR_CAUSE(IRQ_S_SOFT)
	CHECK_MEPC 10b
	CHECK_MTVAL 0
	GET_TRAP a0, m, TL_STATUS	/* MPIE = 1 (MIE was 1), MPP = M */
	andi a1, a0, MSTATUS_MIE | MSTATUS_MPIE
	CHECK a1, MSTATUS_MPIE
	csrci mip, MIP_SSIP

	/* ---- below M, M-level interrupts ignore mstatus.MIE ---- */
	CASE 11
	CLEAR_IRQ_LOG
	csrci mstatus, MSTATUS_MIE
	csrsi mip, MIP_SSIP
	csrsi mie, MIP_SSIP
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 11f
11:	ecall			/* the interrupt comes first */
1:	CHECK_MCAUSE CAUSE_ECALL_U
	LOAD_VAR a0, irq_log_len
	CHECK a0, 1
	CHECK_IRQ_LOG 0, IRQ_S_SOFT
	/* ...and the interrupt came from U, with mepc = 11b: the handler
	 * returned there and the ecall ran */
	CHECK_MEPC 11b
	csrci mip, MIP_SSIP

	/* ---- delegated to S ---- */
	CASE 20
	CLEAR_IRQ_LOG
	li a0, MIP_SSIP
	csrw mideleg, a0
	csrsi mip, MIP_SSIP
	csrsi mie, MIP_SSIP
	csrsi mstatus, MSTATUS_MIE
	nop			/* in M, S-level interrupts are off */
	LOAD_VAR a0, irq_log_len
	CHECK a0, 0
	csrci mstatus, MSTATUS_MIE
	CASE 21
	/* in S with SIE = 0: not taken; SIE = 1: taken to S */
	csrci mstatus, MSTATUS_SIE
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_S, 2f
2:	nop
	LOAD_VAR a0, irq_log_len
	bnez a0, fail
	csrsi sstatus, MSTATUS_SIE
21:	nop
	ecall
1:	CHECK_MCAUSE CAUSE_ECALL_S
	LOAD_VAR a0, irq_log_len
	CHECK a0, 1
	GET_TRAP a0, s, TL_CAUSE
	CHECK a0, INTR_CAUSE(IRQ_S_SOFT)
	CHECK_SEPC 21b
	GET_TRAP a0, s, TL_PRIV
	CHECK a0, PRIV_S
	GET_TRAP a0, s, TL_STATUS	/* SPIE = 1, SIE = 0 */
	andi a0, a0, MSTATUS_SIE | MSTATUS_SPIE
	CHECK a0, MSTATUS_SPIE
	CASE 22
	/* in U, S-level interrupts are on whatever SIE says */
	CLEAR_IRQ_LOG
	csrci mstatus, MSTATUS_SIE
	csrsi mie, MIP_SSIP	/* the handler disabled it */
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 22f
22:	ecall
1:	LOAD_VAR a0, irq_log_len
	CHECK a0, 1
	CHECK_SEPC 22b
	GET_TRAP a0, s, TL_PRIV
	CHECK a0, PRIV_U
	csrci mip, MIP_SSIP
	csrw mideleg, zero

	/* ---- vectored mtvec: interrupt k enters at BASE + 4k ---- */
	CASE 30
	CLEAR_IRQ_LOG
	la a0, trap_vector_m
	ori a0, a0, 1
	csrw mtvec, a0
	li a0, MIP_SEIP
	csrs mip, a0
	csrs mie, a0
	csrsi mstatus, MSTATUS_MIE
	nop
	csrci mstatus, MSTATUS_MIE
	GET_TRAP a0, m, TL_SLOT
	CHECK a0, IRQ_S_EXT
	CASE 31
	li a0, MIP_STIP
	csrs mip, a0
	csrs mie, a0
	csrsi mstatus, MSTATUS_MIE
	nop
	csrci mstatus, MSTATUS_MIE
	GET_TRAP a0, m, TL_SLOT
	CHECK a0, IRQ_S_TIMER
	CASE 32
	csrsi mie, MIP_SSIP
	csrsi mip, MIP_SSIP
	csrsi mstatus, MSTATUS_MIE
	nop
	csrci mstatus, MSTATUS_MIE
	GET_TRAP a0, m, TL_SLOT
	CHECK a0, IRQ_S_SOFT
	/* exceptions still enter at BASE */
	CASE 33
	EXPECT_TRAP 1f
	ebreak
1:	GET_TRAP a0, m, TL_SLOT
	CHECK a0, -1
	li a0, MIP_SSIP | MIP_STIP | MIP_SEIP
	csrc mip, a0
	la a0, trap_entry_m
	csrw mtvec, a0

	/* ---- vectored stvec for a delegated interrupt ---- */
	CASE 34
	la a0, trap_vector_s
	ori a0, a0, 1
	csrw stvec, a0
	li a0, MIP_STIP
	csrw mideleg, a0
	csrs mie, a0
	csrs mip, a0
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 2f
2:	ecall
1:	GET_TRAP a0, s, TL_CAUSE
	CHECK a0, INTR_CAUSE(IRQ_S_TIMER)
	GET_TRAP a0, s, TL_SLOT
	CHECK a0, IRQ_S_TIMER
	li a0, MIP_STIP
	csrc mip, a0
	csrw mideleg, zero
	la a0, trap_entry_s
	csrw stvec, a0

	/* ---- priority: SEI, then SSI, then STI ---- */
	CASE 40
	CLEAR_IRQ_LOG
	li a0, MIP_SSIP | MIP_STIP | MIP_SEIP
	csrs mip, a0
	csrs mie, a0
	csrsi mstatus, MSTATUS_MIE
	nop
	nop
	nop
	csrci mstatus, MSTATUS_MIE
	LOAD_VAR a0, irq_log_len
	CHECK a0, 3
	CHECK_IRQ_LOG 0, IRQ_S_EXT
	CHECK_IRQ_LOG 1, IRQ_S_SOFT
	CHECK_IRQ_LOG 2, IRQ_S_TIMER
	/* the same order among interrupts delegated to S */
	CASE 41
	CLEAR_IRQ_LOG
	li a0, MIP_SSIP | MIP_STIP | MIP_SEIP
	csrw mideleg, a0
	csrs mie, a0	/* mip bits are still set */
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 2f
2:	ecall
1:	LOAD_VAR a0, irq_log_len
	CHECK a0, 3
	CHECK_IRQ_LOG 0, IRQ_S_EXT
	CHECK_IRQ_LOG 1, IRQ_S_SOFT
	CHECK_IRQ_LOG 2, IRQ_S_TIMER
	/* an interrupt to M goes before any interrupt to S, even one of
	 * higher priority: STI stays with M, SEI is delegated */
	CASE 42
	CLEAR_IRQ_LOG
	li a0, MIP_SEIP
	csrw mideleg, a0
	li a0, MIP_STIP | MIP_SEIP
	csrs mie, a0
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 2f
2:	ecall
1:	LOAD_VAR a0, irq_log_len
	CHECK a0, 2
	CHECK_IRQ_LOG 0, IRQ_S_TIMER
	CHECK_IRQ_LOG 1, IRQ_S_EXT
	li a0, MIP_SSIP | MIP_STIP | MIP_SEIP
	csrc mip, a0
	csrw mideleg, zero

	/* ---- an interrupt becomes enabled by mret: taken at its target
	 * before the first instruction there ---- */
	CASE 50
	CLEAR_IRQ_LOG
	csrci mstatus, MSTATUS_MIE	/* (the resume from case 42 set it) */
	csrsi mip, MIP_SSIP
	csrsi mie, MIP_SSIP
	li a0, MSTATUS_MPIE | MSTATUS_MPP_M
	csrs mstatus, a0
	la a0, 50f
	csrw mepc, a0
	mret
50:	nop
	csrci mstatus, MSTATUS_MIE
	LOAD_VAR a0, irq_log_len
	CHECK a0, 1
	CHECK_MEPC 50b
	csrci mip, MIP_SSIP

	/* ---- Sstc: STIP follows time >= stimecmp when menvcfg.STCE = 1
	 * (skipped where STCE is not implemented) ---- */
	CASE 60
	li a0, 1
	slli a0, a0, 63
	csrs CSR_MENVCFG, a0
	csrr a1, CSR_MENVCFG
	and a1, a1, a0
	beqz a1, 9f
	li a0, -1
	csrw CSR_STIMECMP, a0
	csrr a1, mip
	andi a1, a1, MIP_STIP
	CHECK a1, 0
	csrw CSR_STIMECMP, zero
	csrr a1, mip
	andi a1, a1, MIP_STIP
	CHECK a1, MIP_STIP
	/* STIP is not writable by software then */
	li a0, MIP_STIP
	csrc mip, a0
	csrr a1, mip
	andi a1, a1, MIP_STIP
	CHECK a1, MIP_STIP
	li a0, -1
	csrw CSR_STIMECMP, a0
	li a0, 1
	slli a0, a0, 63
	csrc CSR_MENVCFG, a0
9:
	.option pop
	TEST_END
