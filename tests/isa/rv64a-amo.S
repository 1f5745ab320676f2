/* RV64A atomic memory operations: all nine AMOs in .w and .d form, with
 * every aq/rl combination; rd receives the old value (sign-extended for
 * .w), memory the result, neighbouring bytes stay untouched; rd == rs2 and
 * rd == x0; misaligned AMOs raise store/AMO address-misaligned (cause 6)
 * even though keel emulates misaligned plain loads and stores; an AMO to
 * an address with no memory raises a store/AMO access fault (cause 7).
 *
 * QEMU 7.2 reports load causes (4, 5) for both faulting AMO cases, against
 * the spec (AMOs raise store/AMO exceptions); cases 90-93 and 95 fail
 * there. */
#include "test.h"

/* 32-bit AMO on the low word of amo_data; the high word is a sentinel. */
	.macro TEST_AMO_W n, op, init, src, old, new
	CASE \n
	la a1, amo_data
	li a2, 0x5a5a5a5a00000000 | \init
	sd a2, 0(a1)
	li a3, \src
	\op a0, a3, (a1)
	CHECK a0, \old
	ld a4, 0(a1)
	CHECK a4, 0x5a5a5a5a00000000 | \new
	.endm

	.macro TEST_AMO_D n, op, init, src, old, new
	CASE \n
	la a1, amo_data
	li a2, \init
	sd a2, 0(a1)
	li a3, \src
	\op a0, a3, (a1)
	CHECK a0, \old
	ld a4, 0(a1)
	CHECK a4, \new
	ld a4, 8(a1)
	CHECK a4, 0x5a5a5a5a5a5a5a5a
	.endm

	TEST_BEGIN

	la a1, amo_data
	li a2, 0x5a5a5a5a5a5a5a5a
	sd a2, 8(a1)

	/* amoswap.w */
	TEST_AMO_W 2, amoswap.w, 0x89abcdef, 0x76543210, 0xffffffff89abcdef, 0x76543210
	TEST_AMO_W 3, amoswap.w.aq, 0xffffffff, 0x1, 0xffffffffffffffff, 0x1
	TEST_AMO_W 4, amoswap.w.rl, 0x80000000, 0x7fffffff, 0xffffffff80000000, 0x7fffffff
	TEST_AMO_W 5, amoswap.w.aqrl, 0x5, 0x3, 0x5, 0x3

	/* amoadd.w */
	TEST_AMO_W 6, amoadd.w, 0x89abcdef, 0x76543210, 0xffffffff89abcdef, 0xffffffff
	TEST_AMO_W 7, amoadd.w.aq, 0xffffffff, 0x1, 0xffffffffffffffff, 0x0
	TEST_AMO_W 8, amoadd.w.rl, 0x80000000, 0x7fffffff, 0xffffffff80000000, 0xffffffff
	TEST_AMO_W 9, amoadd.w.aqrl, 0x5, 0x3, 0x5, 0x8

	/* amoxor.w */
	TEST_AMO_W 10, amoxor.w, 0x89abcdef, 0x76543210, 0xffffffff89abcdef, 0xffffffff
	TEST_AMO_W 11, amoxor.w.aq, 0xffffffff, 0x1, 0xffffffffffffffff, 0xfffffffe
	TEST_AMO_W 12, amoxor.w.rl, 0x80000000, 0x7fffffff, 0xffffffff80000000, 0xffffffff
	TEST_AMO_W 13, amoxor.w.aqrl, 0x5, 0x3, 0x5, 0x6

	/* amoand.w */
	TEST_AMO_W 14, amoand.w, 0x89abcdef, 0x76543210, 0xffffffff89abcdef, 0x0
	TEST_AMO_W 15, amoand.w.aq, 0xffffffff, 0x1, 0xffffffffffffffff, 0x1
	TEST_AMO_W 16, amoand.w.rl, 0x80000000, 0x7fffffff, 0xffffffff80000000, 0x0
	TEST_AMO_W 17, amoand.w.aqrl, 0x5, 0x3, 0x5, 0x1

	/* amoor.w */
	TEST_AMO_W 18, amoor.w, 0x89abcdef, 0x76543210, 0xffffffff89abcdef, 0xffffffff
	TEST_AMO_W 19, amoor.w.aq, 0xffffffff, 0x1, 0xffffffffffffffff, 0xffffffff
	TEST_AMO_W 20, amoor.w.rl, 0x80000000, 0x7fffffff, 0xffffffff80000000, 0xffffffff
	TEST_AMO_W 21, amoor.w.aqrl, 0x5, 0x3, 0x5, 0x7

	/* amomin.w */
	TEST_AMO_W 22, amomin.w, 0x89abcdef, 0x76543210, 0xffffffff89abcdef, 0x89abcdef
	TEST_AMO_W 23, amomin.w.aq, 0xffffffff, 0x1, 0xffffffffffffffff, 0xffffffff
	TEST_AMO_W 24, amomin.w.rl, 0x80000000, 0x7fffffff, 0xffffffff80000000, 0x80000000
	TEST_AMO_W 25, amomin.w.aqrl, 0x5, 0x3, 0x5, 0x3

	/* amomax.w */
	TEST_AMO_W 26, amomax.w, 0x89abcdef, 0x76543210, 0xffffffff89abcdef, 0x76543210
	TEST_AMO_W 27, amomax.w.aq, 0xffffffff, 0x1, 0xffffffffffffffff, 0x1
	TEST_AMO_W 28, amomax.w.rl, 0x80000000, 0x7fffffff, 0xffffffff80000000, 0x7fffffff
	TEST_AMO_W 29, amomax.w.aqrl, 0x5, 0x3, 0x5, 0x5

	/* amominu.w */
	TEST_AMO_W 30, amominu.w, 0x89abcdef, 0x76543210, 0xffffffff89abcdef, 0x76543210
	TEST_AMO_W 31, amominu.w.aq, 0xffffffff, 0x1, 0xffffffffffffffff, 0x1
	TEST_AMO_W 32, amominu.w.rl, 0x80000000, 0x7fffffff, 0xffffffff80000000, 0x7fffffff
	TEST_AMO_W 33, amominu.w.aqrl, 0x5, 0x3, 0x5, 0x3

	/* amomaxu.w */
	TEST_AMO_W 34, amomaxu.w, 0x89abcdef, 0x76543210, 0xffffffff89abcdef, 0x89abcdef
	TEST_AMO_W 35, amomaxu.w.aq, 0xffffffff, 0x1, 0xffffffffffffffff, 0xffffffff
	TEST_AMO_W 36, amomaxu.w.rl, 0x80000000, 0x7fffffff, 0xffffffff80000000, 0x80000000
	TEST_AMO_W 37, amomaxu.w.aqrl, 0x5, 0x3, 0x5, 0x5

	/* amoswap.d */
	TEST_AMO_D 38, amoswap.d, 0x123456789abcdef, 0xfedcba9876543210, 0x123456789abcdef, 0xfedcba9876543210
	TEST_AMO_D 39, amoswap.d.aq, 0xffffffffffffffff, 0x1, 0xffffffffffffffff, 0x1
	TEST_AMO_D 40, amoswap.d.rl, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff
	TEST_AMO_D 41, amoswap.d.aqrl, 0x5, 0x3, 0x5, 0x3

	/* amoadd.d */
	TEST_AMO_D 42, amoadd.d, 0x123456789abcdef, 0xfedcba9876543210, 0x123456789abcdef, 0xffffffffffffffff
	TEST_AMO_D 43, amoadd.d.aq, 0xffffffffffffffff, 0x1, 0xffffffffffffffff, 0x0
	TEST_AMO_D 44, amoadd.d.rl, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffffff
	TEST_AMO_D 45, amoadd.d.aqrl, 0x5, 0x3, 0x5, 0x8

	/* amoxor.d */
	TEST_AMO_D 46, amoxor.d, 0x123456789abcdef, 0xfedcba9876543210, 0x123456789abcdef, 0xffffffffffffffff
	TEST_AMO_D 47, amoxor.d.aq, 0xffffffffffffffff, 0x1, 0xffffffffffffffff, 0xfffffffffffffffe
	TEST_AMO_D 48, amoxor.d.rl, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffffff
	TEST_AMO_D 49, amoxor.d.aqrl, 0x5, 0x3, 0x5, 0x6

	/* amoand.d */
	TEST_AMO_D 50, amoand.d, 0x123456789abcdef, 0xfedcba9876543210, 0x123456789abcdef, 0x0
	TEST_AMO_D 51, amoand.d.aq, 0xffffffffffffffff, 0x1, 0xffffffffffffffff, 0x1
	TEST_AMO_D 52, amoand.d.rl, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x0
	TEST_AMO_D 53, amoand.d.aqrl, 0x5, 0x3, 0x5, 0x1

	/* amoor.d */
	TEST_AMO_D 54, amoor.d, 0x123456789abcdef, 0xfedcba9876543210, 0x123456789abcdef, 0xffffffffffffffff
	TEST_AMO_D 55, amoor.d.aq, 0xffffffffffffffff, 0x1, 0xffffffffffffffff, 0xffffffffffffffff
	TEST_AMO_D 56, amoor.d.rl, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffffff
	TEST_AMO_D 57, amoor.d.aqrl, 0x5, 0x3, 0x5, 0x7

	/* amomin.d */
	TEST_AMO_D 58, amomin.d, 0x123456789abcdef, 0xfedcba9876543210, 0x123456789abcdef, 0xfedcba9876543210
	TEST_AMO_D 59, amomin.d.aq, 0xffffffffffffffff, 0x1, 0xffffffffffffffff, 0xffffffffffffffff
	TEST_AMO_D 60, amomin.d.rl, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x8000000000000000
	TEST_AMO_D 61, amomin.d.aqrl, 0x5, 0x3, 0x5, 0x3

	/* amomax.d */
	TEST_AMO_D 62, amomax.d, 0x123456789abcdef, 0xfedcba9876543210, 0x123456789abcdef, 0x123456789abcdef
	TEST_AMO_D 63, amomax.d.aq, 0xffffffffffffffff, 0x1, 0xffffffffffffffff, 0x1
	TEST_AMO_D 64, amomax.d.rl, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff
	TEST_AMO_D 65, amomax.d.aqrl, 0x5, 0x3, 0x5, 0x5

	/* amominu.d */
	TEST_AMO_D 66, amominu.d, 0x123456789abcdef, 0xfedcba9876543210, 0x123456789abcdef, 0x123456789abcdef
	TEST_AMO_D 67, amominu.d.aq, 0xffffffffffffffff, 0x1, 0xffffffffffffffff, 0x1
	TEST_AMO_D 68, amominu.d.rl, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff
	TEST_AMO_D 69, amominu.d.aqrl, 0x5, 0x3, 0x5, 0x3

	/* amomaxu.d */
	TEST_AMO_D 70, amomaxu.d, 0x123456789abcdef, 0xfedcba9876543210, 0x123456789abcdef, 0xfedcba9876543210
	TEST_AMO_D 71, amomaxu.d.aq, 0xffffffffffffffff, 0x1, 0xffffffffffffffff, 0xffffffffffffffff
	TEST_AMO_D 72, amomaxu.d.rl, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x8000000000000000
	TEST_AMO_D 73, amomaxu.d.aqrl, 0x5, 0x3, 0x5, 0x5

	/* rd == rs2: the old value lands in the register that supplied the
	 * operand, after the operand was read */
	CASE 80
	la a1, amo_data
	li a2, 100
	sd a2, 0(a1)
	li a3, 7
	amoswap.d a3, a3, (a1)
	CHECK a3, 100
	ld a4, 0(a1)
	CHECK a4, 7
	CASE 81
	li a3, 5
	amoadd.w a3, a3, (a1)
	CHECK a3, 7
	ld a4, 0(a1)
	CHECK a4, 12

	/* rd == x0: memory still updated */
	CASE 82
	li a3, 30
	amoadd.d x0, a3, (a1)
	CHECK x0, 0
	ld a4, 0(a1)
	CHECK a4, 42

	/* the .w forms act on the addressed word, including the upper one */
	CASE 83
	li a2, 0x0000000100000002
	sd a2, 0(a1)
	li a3, -1
	addi a5, a1, 4
	amoadd.w a0, a3, (a5)
	CHECK a0, 1
	ld a4, 0(a1)
	CHECK a4, 0x0000000000000002
	CASE 84
	amoadd.w a0, a3, (a5)
	CHECK a0, 0
	ld a4, 0(a1)
	CHECK a4, 0xffffffff00000002

	/* misaligned AMOs trap with cause 6 and tval = the address, and do
	 * not write memory */
	.option push
	.option norvc
	CASE 90
	la a1, amo_data
	sd zero, 0(a1)
	sd zero, 8(a1)
	addi a1, a1, 2
	li a3, 1
	EXPECT_TRAP 1f
90:	amoadd.w a0, a3, (a1)
	j fail
1:	CHECK_MCAUSE CAUSE_STORE_MISALIGNED
	CHECK_MTVAL_REG a1
	CHECK_MEPC 90b
	CASE 91
	la a1, amo_data + 4
	EXPECT_TRAP 1f
91:	amoswap.d a0, a3, (a1)
	j fail
1:	CHECK_MCAUSE CAUSE_STORE_MISALIGNED
	CHECK_MTVAL_REG a1
	CHECK_MEPC 91b
	CASE 92
	la a1, amo_data + 1
	EXPECT_TRAP 1f
	amomaxu.d.aqrl a0, a3, (a1)
	j fail
1:	CHECK_MCAUSE CAUSE_STORE_MISALIGNED
	CHECK_MTVAL_REG a1
	CASE 93
	la a1, amo_data + 7
	EXPECT_TRAP 1f
	amoor.w a0, a3, (a1)
	j fail
1:	CHECK_MCAUSE CAUSE_STORE_MISALIGNED
	CHECK_MTVAL_REG a1
	CASE 94
	la a1, amo_data
	ld a0, 0(a1)
	CHECK a0, 0
	ld a0, 8(a1)
	CHECK a0, 0

	/* an AMO where there is no memory: store/AMO access fault */
	CASE 95
	li a1, 0x8
	EXPECT_TRAP 1f
	amoadd.d a0, a3, (a1)
	j fail
1:	CHECK_MCAUSE CAUSE_STORE_ACCESS
	CHECK_MTVAL 0x8
	.option pop

	TEST_END

	.data
	.balign 16
amo_data:
	.skip 16
