/* RV64A load-reserved/store-conditional: success, failure of a second SC
 * (the first consumed the reservation), SC with no reservation, SC to
 * another address, reservation cleared by taking a trap, lr.w sign
 * extension and sc.w width, aq/rl forms, rd aliasing, a LR/SC retry loop,
 * and misaligned LR (load address-misaligned, cause 4) and SC
 * (store/AMO address-misaligned, cause 6).
 *
 * keel clears the reservation on every trap entry and xRET; the spec lets
 * xRET keep it, so other implementations may differ in cases 9 and 12.  QEMU 7.2
 * lets a misaligned SC without a matching reservation fail quietly
 * instead of trapping, so cases 22-23 fail there. */
#include "test.h"

	TEST_BEGIN

	/* An SC with no LR before it anywhere must fail and not write. */
	CASE 2
	la a1, lr_data
	li a2, 0x1111
	sd a2, 0(a1)
	li a3, 0x2222
	sc.d a0, a3, (a1)
	beqz a0, fail
	ld a4, 0(a1)
	CHECK a4, 0x1111

	/* LR then SC to the same address succeeds (rd = 0) and writes. */
	CASE 3
	lr.d a0, (a1)
	CHECK a0, 0x1111
	li a3, 0x3333
	sc.d a5, a3, (a1)
	CHECK a5, 0
	ld a4, 0(a1)
	CHECK a4, 0x3333

	/* A second SC fails: the first one used up the reservation. */
	CASE 4
	li a3, 0x4444
	sc.d a5, a3, (a1)
	beqz a5, fail
	ld a4, 0(a1)
	CHECK a4, 0x3333

	/* SC to a different address than the LR fails and writes nothing;
	 * and it still ends the reservation. */
	CASE 5
	la a2, lr_other
	sd zero, 0(a2)
	lr.d a0, (a1)
	li a3, 0x5555
	sc.d a5, a3, (a2)
	beqz a5, fail
	ld a4, 0(a2)
	CHECK a4, 0
	sc.d a5, a3, (a1)
	beqz a5, fail
	ld a4, 0(a1)
	CHECK a4, 0x3333

	/* lr.w sign-extends; sc.w writes only 32 bits. */
	CASE 6
	li a2, 0x12345678deadbeef
	sd a2, 0(a1)
	lr.w a0, (a1)
	CHECK a0, 0xffffffffdeadbeef
	li a3, 0xaaaaaaaa00c0ffee
	sc.w a5, a3, (a1)
	CHECK a5, 0
	ld a4, 0(a1)
	CHECK a4, 0x1234567800c0ffee
	/* the upper word, on its own */
	addi a2, a1, 4
	lr.w a0, (a2)
	CHECK a0, 0x12345678
	li a3, -1
	sc.w a5, a3, (a2)
	CHECK a5, 0
	ld a4, 0(a1)
	CHECK a4, 0xffffffff00c0ffee

	/* the aq/rl forms behave alike */
	CASE 7
	sd zero, 0(a1)
	lr.d.aq a0, (a1)
	li a3, 1
	sc.d.rl a5, a3, (a1)
	CHECK a5, 0
	lr.d.aqrl a0, (a1)
	CHECK a0, 1
	li a3, 2
	sc.d.aqrl a5, a3, (a1)
	CHECK a5, 0
	lr.w.aqrl a0, (a1)
	CHECK a0, 2
	li a3, 3
	sc.w.aq a5, a3, (a1)
	CHECK a5, 0
	lr.w.rl a0, (a1)
	li a3, 4
	sc.w.rl a5, a3, (a1)
	CHECK a5, 0
	ld a4, 0(a1)
	CHECK a4, 4

	/* rd == rs2: the stored value is the old register, then rd = 0 */
	CASE 8
	lr.d a0, (a1)
	li a3, 0x77
	sc.d a3, a3, (a1)
	CHECK a3, 0
	ld a4, 0(a1)
	CHECK a4, 0x77

	/* A trap between LR and SC clears the reservation (keel's choice:
	 * trap entry and xRET both clear it). */
	CASE 9
	TRAP_MODE m, TRAP_SKIP
	lr.d a0, (a1)
	ebreak		/* trap to M and straight back */
	TRAP_MODE m, TRAP_FATAL
	li a3, 0x99
	sc.d a5, a3, (a1)
	beqz a5, fail
	ld a4, 0(a1)
	CHECK a4, 0x77

	/* A LR/SC loop: atomic increment, 50 times */
	CASE 10
	sd zero, 0(a1)
	li s0, 50
1:	lr.d a0, (a1)
	addi a0, a0, 3
	sc.d a5, a0, (a1)
	bnez a5, 1b
	addi s0, s0, -1
	bnez s0, 1b
	ld a4, 0(a1)
	CHECK a4, 150

	/* a successful LR/SC on the .w form after a .d one failed */
	CASE 11
	sc.w a5, a0, (a1)
	beqz a5, fail
	lr.w a0, (a1)
	sc.w a5, a0, (a1)
	CHECK a5, 0

	/* An xRET on its own (no trap) clears it too: mret from M to M */
	CASE 12
	lr.d a0, (a1)
	li a2, MSTATUS_MPP_M
	csrs mstatus, a2
	la a2, 1f
	csrw mepc, a2
	mret
1:	sc.d a5, a0, (a1)
	beqz a5, fail

	/* Misaligned LR: load address-misaligned with tval = address. */
	.option push
	.option norvc
	CASE 20
	addi a2, a1, 4
	EXPECT_TRAP 1f
20:	lr.d a0, (a2)
	j fail
1:	CHECK_MCAUSE CAUSE_LOAD_MISALIGNED
	CHECK_MTVAL_REG a2
	CHECK_MEPC 20b
	CASE 21
	addi a2, a1, 2
	EXPECT_TRAP 1f
	lr.w a0, (a2)
	j fail
1:	CHECK_MCAUSE CAUSE_LOAD_MISALIGNED
	CHECK_MTVAL_REG a2

	/* Misaligned SC: store/AMO address-misaligned, memory unchanged (an
	 * LR on the aligned word first, so the SC could otherwise succeed) */
	CASE 22
	sd zero, 0(a1)
	lr.d a0, (a1)
	addi a2, a1, 1
	li a3, -1
	EXPECT_TRAP 1f
22:	sc.d a5, a3, (a2)
	j fail
1:	CHECK_MCAUSE CAUSE_STORE_MISALIGNED
	CHECK_MTVAL_REG a2
	CHECK_MEPC 22b
	ld a4, 0(a1)
	CHECK a4, 0
	ld a4, 8(a1)
	CHECK a4, 0
	CASE 23
	lr.w a0, (a1)
	addi a2, a1, 6
	EXPECT_TRAP 1f
	sc.w a5, a3, (a2)
	j fail
1:	CHECK_MCAUSE CAUSE_STORE_MISALIGNED
	CHECK_MTVAL_REG a2
	ld a4, 0(a1)
	CHECK a4, 0

	/* LR where there is no memory: load access fault */
	CASE 24
	li a2, 0x10
	EXPECT_TRAP 1f
	lr.d a0, (a2)
	j fail
1:	CHECK_MCAUSE CAUSE_LOAD_ACCESS
	CHECK_MTVAL 0x10
	.option pop

	TEST_END

	.data
	.balign 64
lr_data:
	.skip 16
	.balign 64
lr_other:
	.skip 8
