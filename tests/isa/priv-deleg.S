/* Exception delegation: medeleg sends exceptions from U and S to the S
 * handler (scause, sepc, stval, sstatus.SPP/SPIE/SIE set as for M), never
 * exceptions raised in M; undelegated ones still go to M; xtvec in vectored
 * mode sends exceptions to BASE; stval holds the faulting instruction or
 * address like mtval.
 *
 * QEMU 7.2 reports a misaligned AMO as a load fault (case 21 fails there). */
#include "test.h"

	TEST_BEGIN

	.option push
	.option norvc

	/* ---- ecall from U delegated to S ---- */
	CASE 2
	li a0, 1 << CAUSE_ECALL_U
	csrw medeleg, a0
	GET_TRAP s0, m, TL_COUNT
	li a0, MSTATUS_SIE
	csrs mstatus, a0	/* SIE = 1 before the trap (sie = 0: safe) */
	li a0, MSTATUS_SPIE | MSTATUS_SPP
	csrc mstatus, a0
	EXPECT_TRAP 9f		/* the final ecall from S, to M */
	S_EXPECT_TRAP 1f	/* the delegated one, resumed in S */
	GOTO_PRIV PRIV_U, 2f
2:	ecall
	j fail
1:	csrr a1, scause		/* (sepc now holds the resume address) */
	csrr a3, stval
	ecall			/* S -> M */
9:	CHECK_MCAUSE CAUSE_ECALL_S
	/* the M handler saw only the final ecall */
	GET_TRAP a0, m, TL_COUNT
	sub a0, a0, s0
	CHECK a0, 1
	CHECK a1, CAUSE_ECALL_U
	CHECK a3, 0
	GET_TRAP a4, s, TL_STATUS	/* sstatus as the S handler saw it */
	andi a0, a4, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE
	CHECK a0, MSTATUS_SPIE	/* from U, SIE was 1, now 0 */
	CHECK_SCAUSE CAUSE_ECALL_U
	CHECK_SEPC 2b
	GET_TRAP a0, s, TL_PRIV
	CHECK a0, PRIV_U

	/* ---- illegal instruction from S, delegated: stval = encoding ---- */
	CASE 3
	li a0, (1 << CAUSE_ILLEGAL) | (1 << CAUSE_BREAKPOINT)
	csrw medeleg, a0
	li a0, MSTATUS_SIE | MSTATUS_SPIE
	csrc mstatus, a0
	EXPECT_TRAP 9f
	S_EXPECT_TRAP 1f
	GOTO_PRIV PRIV_S, 2f
2:	.word 0x0000000b
	j fail
1:	csrr a1, scause
	csrr a3, stval
	ecall
9:	CHECK a1, CAUSE_ILLEGAL
	CHECK a3, 0x0000000b
	GET_TRAP a4, s, TL_STATUS
	andi a0, a4, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE
	CHECK a0, MSTATUS_SPP	/* from S, with SIE 0 */
	CHECK_SEPC 2b
	/* the same with a compressed instruction: stval has the 16 bits */
	CASE 4
	EXPECT_TRAP 9f
	S_EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 2f
2:	.half 0x6501		/* reserved c.lui a0, 0 */
	j fail
1:	csrr a3, stval
	ecall
9:	CHECK_SCAUSE CAUSE_ILLEGAL
	CHECK a3, 0x6501
	CHECK_SEPC 2b
	/* breakpoint from U, delegated */
	CASE 5
	EXPECT_TRAP 9f
	S_EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 2f
2:	ebreak
	j fail
1:	ecall
9:	CHECK_SCAUSE CAUSE_BREAKPOINT
	CHECK_SEPC 2b

	/* ---- exceptions in M are never delegated ---- */
	CASE 10
	GET_TRAP s0, s, TL_COUNT
	TEST_ILLEGAL 11, .word 0x0000000b
	CASE 12
	EXPECT_TRAP 1f
	ebreak
	j fail
1:	CHECK_MCAUSE CAUSE_BREAKPOINT
	GET_TRAP a0, s, TL_COUNT
	CHECK_REG a0, s0

	/* ---- an undelegated cause still goes to M ---- */
	CASE 13
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 2f
2:	ecall			/* medeleg has only illegal, breakpoint */
	j fail
1:	CHECK_MCAUSE CAUSE_ECALL_U
	GET_TRAP a0, s, TL_COUNT
	CHECK_REG a0, s0

	/* ---- faults delegated: stval = the address ---- */
	CASE 20
	li a0, (1 << CAUSE_LOAD_ACCESS) | (1 << CAUSE_STORE_MISALIGNED) | (1 << CAUSE_FETCH_ACCESS)
	csrw medeleg, a0
	li a1, 0x10
	EXPECT_TRAP 9f
	S_EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 2f
2:	ld a0, 0(a1)
	j fail
1:	csrr a3, stval
	ecall
9:	CHECK_SCAUSE CAUSE_LOAD_ACCESS
	CHECK_SEPC 2b
	CHECK a3, 0x10
	CASE 21
	la a1, scratch + 2
	EXPECT_TRAP 9f
	S_EXPECT_TRAP 1f
	GOTO_PRIV PRIV_S, 2f
2:	amoswap.w a0, a0, (a1)
	j fail
1:	csrr a3, stval
	ecall
9:	CHECK_SCAUSE CAUSE_STORE_MISALIGNED
	CHECK_SEPC 2b
	CHECK_REG a3, a1
	CASE 22
	li a1, 0x10
	EXPECT_TRAP 9f
	S_EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 2f
2:	jalr a1
	j fail
1:	csrr a3, stval
	ecall
9:	CHECK_SCAUSE CAUSE_FETCH_ACCESS
	GET_TRAP a2, s, TL_EPC
	CHECK a2, 0x10
	CHECK a3, 0x10

	/* ---- vectored xtvec: exceptions use BASE ---- */
	CASE 30
	la a0, trap_vector_s
	ori a0, a0, 1
	csrw stvec, a0
	csrr a1, stvec
	CHECK_REG a1, a0
	li a0, 1 << CAUSE_ECALL_U
	csrw medeleg, a0
	EXPECT_TRAP 9f
	S_EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 2f
2:	ecall
	j fail
1:	ecall
9:	CHECK_SCAUSE CAUSE_ECALL_U
	GET_TRAP a0, s, TL_SLOT
	CHECK a0, -1		/* came through BASE, not a slot */
	la a0, trap_entry_s
	csrw stvec, a0
	CASE 31
	la a0, trap_vector_m
	ori a0, a0, 1
	csrw mtvec, a0
	EXPECT_TRAP 1f
	ecall
1:	CHECK_MCAUSE CAUSE_ECALL_M
	GET_TRAP a0, m, TL_SLOT
	CHECK a0, -1
	la a0, trap_entry_m
	csrw mtvec, a0

	/* ---- ecall from S delegated (where medeleg[9] is writable) ---- */
	CASE 40
	li a0, 1 << CAUSE_ECALL_S
	csrw medeleg, a0
	csrr a0, medeleg
	beqz a0, 3f
	EXPECT_TRAP 9f
	S_EXPECT_TRAP 1f
	GOTO_PRIV PRIV_S, 2f
2:	ecall
	j fail
1:	csrw medeleg, zero	/* S can't: this traps to M, illegal */
	j fail
9:	CHECK_MCAUSE CAUSE_ILLEGAL
	CHECK_SCAUSE CAUSE_ECALL_S
	CHECK_SEPC 2b
3:	csrw medeleg, zero

	.option pop
	TEST_END

	.data
	.balign 8
scratch:
	.skip 16
