/* RV64I control transfer: the six conditional branches (taken and not
 * taken, forward and backward, signed and unsigned edge values), jal and
 * jalr link values, jalr clearing bit 0 of the target, jalr with rd == rs1,
 * long jumps, and fetch of 4-byte instructions at 2-byte alignment and
 * across a page boundary. */
#include "test.h"

/* Branch must be taken, forwards and then backwards. */
	.macro TAKEN n, op, v1, v2
	CASE \n
	li a1, \v1
	li a2, \v2
	\op a1, a2, .Lfwd\@
	j fail
.Lfwd\@:
	j .Lback_from\@
.Lback_to\@:
	j .Ldone\@
.Lback_from\@:
	\op a1, a2, .Lback_to\@
	j fail
.Ldone\@:
	.endm

/* Branch must fall through, both directions. */
	.macro NOT_TAKEN n, op, v1, v2
	CASE \n
	li a1, \v1
	li a2, \v2
	\op a1, a2, .Lbad\@
	j .Lnext\@
.Lbad\@:
	j fail
.Lnext\@:
	\op a1, a2, .Lbad\@
	.endm

	TEST_BEGIN

	TAKEN 2, beq, 0, 0
	TAKEN 3, beq, -1, -1
	TAKEN 4, beq, 0x8000000000000000, 0x8000000000000000
	NOT_TAKEN 5, beq, 0, 1
	NOT_TAKEN 6, beq, 0x100000000, 0
	NOT_TAKEN 7, beq, -1, 0x7fffffffffffffff

	TAKEN 10, bne, 0, 1
	TAKEN 11, bne, 0x100000000, 0
	TAKEN 12, bne, -1, 0xffffffff
	NOT_TAKEN 13, bne, 0, 0
	NOT_TAKEN 14, bne, -7, -7

	TAKEN 20, blt, 0, 1
	TAKEN 21, blt, -1, 0
	TAKEN 22, blt, 0x8000000000000000, 0x7fffffffffffffff
	TAKEN 23, blt, -2, -1
	NOT_TAKEN 24, blt, 0, 0
	NOT_TAKEN 25, blt, 1, 0
	NOT_TAKEN 26, blt, 0, -1
	NOT_TAKEN 27, blt, 0x7fffffffffffffff, 0x8000000000000000

	TAKEN 30, bge, 0, 0
	TAKEN 31, bge, 1, 0
	TAKEN 32, bge, 0, -1
	TAKEN 33, bge, 0x7fffffffffffffff, 0x8000000000000000
	NOT_TAKEN 34, bge, -1, 0
	NOT_TAKEN 35, bge, 0x8000000000000000, 0x7fffffffffffffff
	NOT_TAKEN 36, bge, -2, -1

	TAKEN 40, bltu, 0, 1
	TAKEN 41, bltu, 0, -1
	TAKEN 42, bltu, 0x7fffffffffffffff, 0x8000000000000000
	TAKEN 43, bltu, 0xfffffffffffffffe, 0xffffffffffffffff
	NOT_TAKEN 44, bltu, 0, 0
	NOT_TAKEN 45, bltu, -1, 0
	NOT_TAKEN 46, bltu, 0x8000000000000000, 0x7fffffffffffffff

	TAKEN 50, bgeu, 0, 0
	TAKEN 51, bgeu, -1, 0
	TAKEN 52, bgeu, 0x8000000000000000, 0x7fffffffffffffff
	TAKEN 53, bgeu, -1, -1
	NOT_TAKEN 54, bgeu, 0, 1
	NOT_TAKEN 55, bgeu, 0, -1
	NOT_TAKEN 56, bgeu, 0x7fffffffffffffff, 0x8000000000000000

	/* branches comparing a register with itself and with x0 */
	CASE 60
	li a1, 5
	beq a1, a1, 1f
	j fail
1:	bne a1, a1, fail_far
	blt a1, a1, fail_far
	bltu x0, x0, fail_far
	bge x0, a1, fail_far
	bgeu a1, x0, 2f
	j fail
2:

	/* Link values and targets are checked with 4-byte encodings only. */
	.option push
	.option norvc

	/* jal: rd = pc + 4, for ra, another register, and x0 */
	CASE 70
	jal ra, 1f
70:	j fail
1:	CHECK_ADDR ra, 70b
	CASE 71
	jal t1, 1f
71:	j fail
1:	CHECK_ADDR t1, 71b
	CASE 72
	jal x0, 1f
	j fail
1:	CHECK x0, 0

	/* jal backwards */
	CASE 73
	j 2f
1:	j 3f
2:	jal a3, 1b
73:	j fail
3:	CHECK_ADDR a3, 73b

	/* jalr: target rs1 + imm, link pc + 4 */
	CASE 80
	la a1, 1f
	jalr ra, 0(a1)
80:	j fail
1:	CHECK_ADDR ra, 80b
	CASE 81
	la a1, 1f - 8
	jalr t0, 8(a1)
81:	j fail
1:	CHECK_ADDR t0, 81b
	CASE 82
	la a1, 1f + 2044
	jalr t0, -2044(a1)
82:	j fail
1:	CHECK_ADDR t0, 82b

	/* jalr clears bit 0 of the sum: an odd target never traps */
	CASE 83
	la a1, 1f
	addi a1, a1, 1
	jalr ra, 0(a1)
83:	j fail
1:	CHECK_ADDR ra, 83b
	CASE 84
	la a1, 1f
	jalr ra, 1(a1)
84:	j fail
1:	CHECK_ADDR ra, 84b
	CASE 85
	la a1, 1f + 2
	jalr ra, -1(a1)	/* sum 1f + 1, cleared to 1f */
85:	j fail
	j fail
1:	CHECK_ADDR ra, 85b

	/* jalr with rd == rs1: the target is taken from the old value */
	CASE 86
	la a2, 1f
	jalr a2, 0(a2)
86:	j fail
1:	CHECK_ADDR a2, 86b
	CASE 87
	la a2, 1f
	jalr a2, 1(a2)
87:	j fail
1:	CHECK_ADDR a2, 87b

	/* jalr x0 (plain jump) and jalr with rs1 = x0 is an absolute jump
	 * to a sign-extended 12-bit address: not testable at 0x80000000, so
	 * only the x0 destination here */
	CASE 88
	la a1, 1f
	jalr x0, 0(a1)
	j fail
1:	CHECK x0, 0

	/* 4-byte instructions at addresses that are 2 mod 4 */
	CASE 90
	li a0, 0
	la a1, 2f
	jalr ra, 0(a1)
	j 3f
	.align 2
	.half 0x0001	/* c.nop */
2:	addi a0, a0, 7	/* starts at 2 mod 4 */
	ret
3:	CHECK a0, 7
	la a1, 2b
	andi a1, a1, 3
	CHECK a1, 2

	/* a 4-byte instruction straddling a 4 KiB page boundary */
	CASE 91
	li a0, 0
	la a1, straddle
	jalr ra, 0(a1)
	CHECK a0, 0x123
	la a1, straddle + 6	/* end of the straddling addi */
	slli a1, a1, 52
	CHECK a1, 0

	/* long jumps: jal over 68 KiB and back, branches near their limit */
	CASE 92
	jal ra, far_target
92:	CHECK a0, 0x5a
	CASE 93
	li a1, 1
	bnez a1, 1f
	.skip 4000
	j fail
1:	beqz a1, fail_far
	.option pop

	TEST_END

	.option push
	.option norvc
	/* filler so that far_target is beyond the reach of 16-bit offsets */
	.skip 0x11000
far_target:
	li a0, 0x5a
	ret

fail_far:
	j fail

	.balign 4096
	.skip 4096 - 6
straddle:
	addi a0, a0, 0x23
	addi a0, a0, 0x100	/* crosses into the next page */
	ret
	.option pop
