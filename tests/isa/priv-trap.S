/* Synchronous exceptions and what a trap does to the machine state:
 * ecall from U, S and M (causes 8, 9, 11), ebreak (3), illegal
 * instructions of many kinds with mtval = the instruction bits and mepc =
 * its address, xRET and privileged instructions from too low a privilege,
 * access faults on loads, stores and fetches where there is no memory
 * (5, 7, 1; mtval = the address), and the mstatus updates on trap entry
 * (MPP = previous privilege, MPIE = old MIE, MIE = 0). */
#include "test.h"

/* The last trap to M came from privilege `p`. */
	.macro CHECK_FROM p
	GET_TRAP a0, m, TL_PRIV
	CHECK a0, \p
	.endm

	TEST_BEGIN

	.option push
	.option norvc

	/* ---- ecall ---- */
	CASE 2
	EXPECT_TRAP 1f
2:	ecall
	j fail
1:	CHECK_MCAUSE CAUSE_ECALL_M
	CHECK_MEPC 2b
	CHECK_MTVAL 0
	CHECK_FROM PRIV_M

	CASE 3
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_S, 3f
3:	ecall
	j fail
1:	CHECK_MCAUSE CAUSE_ECALL_S
	CHECK_MEPC 3b
	CHECK_MTVAL 0
	CHECK_FROM PRIV_S

	CASE 4
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 4f
4:	ecall
	j fail
1:	CHECK_MCAUSE CAUSE_ECALL_U
	CHECK_MEPC 4b
	CHECK_MTVAL 0
	CHECK_FROM PRIV_U

	/* registers survive a round trip through the trap handler */
	CASE 5
	li s2, 0x1234
	li a7, -5
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 5f
5:	addi s2, s2, 1
	ecall
1:	CHECK s2, 0x1235
	CHECK a7, -5

	/* ---- ebreak ---- */
	CASE 10
	EXPECT_TRAP 1f
10:	ebreak
	j fail
1:	CHECK_MCAUSE CAUSE_BREAKPOINT
	CHECK_MEPC 10b
	GET_TRAP a0, m, TL_TVAL	/* 0 or the breakpoint's address */
	beqz a0, 2f
	CHECK_ADDR a0, 10b
2:
	CASE 11
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 11f
11:	ebreak
	j fail
1:	CHECK_MCAUSE CAUSE_BREAKPOINT
	CHECK_MEPC 11b
	CHECK_FROM PRIV_U

	/* ---- trap entry updates mstatus ---- */
	CASE 20
	li a0, MSTATUS_MIE
	csrs mstatus, a0	/* mie is 0: no interrupt can be taken */
	li a0, MSTATUS_MPIE
	csrc mstatus, a0
	EXPECT_TRAP 1f
	ecall
1:	GET_TRAP a0, m, TL_STATUS	/* mstatus as the handler saw it */
	andi a1, a0, MSTATUS_MIE
	CHECK a1, 0
	andi a1, a0, MSTATUS_MPIE
	CHECK a1, MSTATUS_MPIE
	li a2, MSTATUS_MPP
	and a1, a0, a2
	CHECK a1, MSTATUS_MPP_M
	/* the handler's mret (to M) restored MIE from MPIE */
	csrr a0, mstatus
	andi a1, a0, MSTATUS_MIE
	CHECK a1, MSTATUS_MIE
	li a0, MSTATUS_MIE
	csrc mstatus, a0
	CASE 21
	/* from U: MPP = 0 */
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_U, 2f
2:	ecall
1:	GET_TRAP a0, m, TL_STATUS
	li a2, MSTATUS_MPP
	and a1, a0, a2
	CHECK a1, 0
	/* from S: MPP = 1 */
	CASE 22
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_S, 2f
2:	ecall
1:	GET_TRAP a0, m, TL_STATUS
	li a2, MSTATUS_MPP
	and a1, a0, a2
	CHECK a1, MSTATUS_MPP_S

	/* ---- illegal instructions (mtval = encoding) ---- */
	TEST_ILLEGAL 30, .word 0x0000000b	/* custom-0 opcode */
	TEST_ILLEGAL 31, .word 0xfe000033	/* OP with funct7 = 0x7f */
	TEST_ILLEGAL 32, .word 0x00007003	/* LOAD funct3 = 7 */
	TEST_ILLEGAL 33, .word 0x00004023	/* STORE funct3 = 4 */
	TEST_ILLEGAL 34, .word 0x0205951b	/* slliw a0, a1, 32: shamt[5] set */
	TEST_ILLEGAL 35, .word 0x22000073	/* hfence.vvma: no H extension */
	TEST_ILLEGAL 36, .word 0x0000705b	/* custom-2, funct3=7 */
	TEST_ILLEGAL 37, .word 0x00002063	/* BRANCH funct3 = 2 */
	TEST_ILLEGAL 38, .word 0x00001067	/* JALR funct3 = 1 */
	TEST_ILLEGAL 39, .word 0x0000507b	/* custom-3 */
	TEST_ILLEGAL 40, .word 0x600025f3	/* csrr a1, hstatus (0x600): no such CSR */
	.option pop

	/* the same from U and S */
	TEST_ILLEGAL_IN PRIV_U, 50, .word 0x0000000b
	TEST_ILLEGAL_IN PRIV_S, 51, .word 0xfe000033
	TEST_ILLEGAL_IN PRIV_U, 52, .half 0x0000
	TEST_ILLEGAL_IN PRIV_S, 53, .half 0x6501	/* reserved c.lui a0, 0 */

	/* privileged instructions from too low a privilege */
	TEST_ILLEGAL_IN PRIV_U, 60, mret
	TEST_ILLEGAL_IN PRIV_S, 61, mret
	TEST_ILLEGAL_IN PRIV_U, 62, sret
	TEST_ILLEGAL_IN PRIV_U, 63, sfence.vma
	TEST_ILLEGAL_IN PRIV_U, 64, wfi
	TEST_ILLEGAL_IN PRIV_U, 65, csrr a0, sstatus
	TEST_ILLEGAL_IN PRIV_S, 66, csrr a0, mstatus

	/* ---- access faults: nothing at physical address 0x8 ---- */
	.option push
	.option norvc
	CASE 70
	li a1, 0x8
	EXPECT_TRAP 1f
70:	ld a0, 0(a1)
	j fail
1:	CHECK_MCAUSE CAUSE_LOAD_ACCESS
	CHECK_MEPC 70b
	CHECK_MTVAL 0x8
	CASE 71
	EXPECT_TRAP 1f
71:	sw a0, 4(a1)
	j fail
1:	CHECK_MCAUSE CAUSE_STORE_ACCESS
	CHECK_MEPC 71b
	CHECK_MTVAL 0xc
	CASE 72
	EXPECT_TRAP 1f
72:	lbu a0, 8(a1)
	j fail
1:	CHECK_MCAUSE CAUSE_LOAD_ACCESS
	CHECK_MTVAL 0x10
	/* fetch: mepc and mtval are the target */
	CASE 73
	EXPECT_TRAP 1f
	jalr ra, 0(a1)
73:	j fail
1:	CHECK_MCAUSE CAUSE_FETCH_ACCESS
	CHECK_MTVAL 0x8
	GET_TRAP a0, m, TL_EPC
	CHECK a0, 0x8
	CHECK_ADDR ra, 73b
	/* a load into x0 is still performed, so it still faults */
	CASE 75
	EXPECT_TRAP 1f
75:	ld x0, 0(a1)
	j fail
1:	CHECK_MCAUSE CAUSE_LOAD_ACCESS
	CHECK_MEPC 75b
	CHECK_MTVAL 0x8
	/* the end of RAM (128 MiB from 0x80000000): the last doubleword is
	 * there, the next byte is not; a misaligned load across the end
	 * faults (tval = its start or the first missing byte) */
	CASE 76
	li a2, 0x88000000
	ld a0, -8(a2)
	EXPECT_TRAP 1f
	lb a0, 0(a2)
	j fail
1:	CHECK_MCAUSE CAUSE_LOAD_ACCESS
	CHECK_MTVAL 0x88000000
	CASE 77
	addi a3, a2, -4
	EXPECT_TRAP 1f
	ld a0, 0(a3)
	j fail
1:	CHECK_MCAUSE CAUSE_LOAD_ACCESS
	GET_TRAP a0, m, TL_TVAL
	beq a0, a2, 2f
	CHECK_REG a0, a3
2:
	/* the same from S */
	CASE 74
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_S, 2f
2:	sd a0, 0(a1)
	j fail
1:	CHECK_MCAUSE CAUSE_STORE_ACCESS
	CHECK_MTVAL 0x8
	CHECK_FROM PRIV_S
	.option pop

	TEST_END
