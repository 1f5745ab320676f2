/* RV64I loads and stores: every width, sign and zero extension, positive
 * and negative offsets, little-endian byte order, loads into x0 and with
 * rd == rs1, and misaligned accesses of every width.
 *
 * keel emulates misaligned loads and stores (byte by byte, not atomic)
 * instead of raising address-misaligned exceptions, also when the access
 * crosses a page boundary; these tests assert that choice.  The spec also
 * allows trapping, so real hardware (or spike) may differ; QEMU 7.2
 * emulates them too. */
#include "test.h"

	.macro TEST_LOAD n, op, result, base, off
	CASE \n
	la a1, \base
	\op a0, \off(a1)
	CHECK a0, \result
	.endm

/* Fill 16 bytes at base with 0xa5, store `value` at base+off, and check
 * both doublewords (so neighbouring bytes must be untouched). */
	.macro TEST_STORE n, op, value, base, off, dw0, dw1
	CASE \n
	la a1, \base
	li a2, 0xa5a5a5a5a5a5a5a5
	sd a2, 0(a1)
	sd a2, 8(a1)
	li a2, \value
	\op a2, \off(a1)
	ld a3, 0(a1)
	CHECK a3, \dw0
	ld a3, 8(a1)
	CHECK a3, \dw1
	.endm

	TEST_BEGIN

	/* lb */
	TEST_LOAD 2, lb, 0x1, ldata, 0
	TEST_LOAD 3, lb, 0xffffffffffffff82, ldata, 1
	TEST_LOAD 4, lb, 0x3, ldata, 2
	TEST_LOAD 5, lb, 0xffffffffffffff84, ldata, 3
	TEST_LOAD 6, lb, 0x75, ldata, 4
	TEST_LOAD 7, lb, 0xfffffffffffffff6, ldata, 5
	TEST_LOAD 8, lb, 0x7, ldata, 6
	TEST_LOAD 9, lb, 0xffffffffffffff88, ldata, 7
	TEST_LOAD 10, lb, 0xffffffffffffff99, ldata, 8
	TEST_LOAD 11, lb, 0x2a, ldata, 9
	TEST_LOAD 12, lb, 0xffffffffffffffbb, ldata, 10
	TEST_LOAD 13, lb, 0x4c, ldata, 11
	TEST_LOAD 14, lb, 0xffffffffffffffdd, ldata, 12
	TEST_LOAD 15, lb, 0x6e, ldata, 13
	TEST_LOAD 16, lb, 0xffffffffffffffff, ldata, 14
	TEST_LOAD 17, lb, 0x10, ldata, 15
	/* lbu */
	TEST_LOAD 18, lbu, 0x1, ldata, 0
	TEST_LOAD 19, lbu, 0x82, ldata, 1
	TEST_LOAD 20, lbu, 0x3, ldata, 2
	TEST_LOAD 21, lbu, 0x84, ldata, 3
	TEST_LOAD 22, lbu, 0x75, ldata, 4
	TEST_LOAD 23, lbu, 0xf6, ldata, 5
	TEST_LOAD 24, lbu, 0x7, ldata, 6
	TEST_LOAD 25, lbu, 0x88, ldata, 7
	TEST_LOAD 26, lbu, 0x99, ldata, 8
	TEST_LOAD 27, lbu, 0x2a, ldata, 9
	TEST_LOAD 28, lbu, 0xbb, ldata, 10
	TEST_LOAD 29, lbu, 0x4c, ldata, 11
	TEST_LOAD 30, lbu, 0xdd, ldata, 12
	TEST_LOAD 31, lbu, 0x6e, ldata, 13
	TEST_LOAD 32, lbu, 0xff, ldata, 14
	TEST_LOAD 33, lbu, 0x10, ldata, 15
	/* lh */
	TEST_LOAD 34, lh, 0xffffffffffff8201, ldata, 0
	TEST_LOAD 35, lh, 0xffffffffffff8403, ldata, 2
	TEST_LOAD 36, lh, 0xfffffffffffff675, ldata, 4
	TEST_LOAD 37, lh, 0xffffffffffff8807, ldata, 6
	TEST_LOAD 38, lh, 0x2a99, ldata, 8
	TEST_LOAD 39, lh, 0x4cbb, ldata, 10
	TEST_LOAD 40, lh, 0x6edd, ldata, 12
	TEST_LOAD 41, lh, 0x10ff, ldata, 14
	/* lhu */
	TEST_LOAD 42, lhu, 0x8201, ldata, 0
	TEST_LOAD 43, lhu, 0x8403, ldata, 2
	TEST_LOAD 44, lhu, 0xf675, ldata, 4
	TEST_LOAD 45, lhu, 0x8807, ldata, 6
	TEST_LOAD 46, lhu, 0x2a99, ldata, 8
	TEST_LOAD 47, lhu, 0x4cbb, ldata, 10
	TEST_LOAD 48, lhu, 0x6edd, ldata, 12
	TEST_LOAD 49, lhu, 0x10ff, ldata, 14
	/* lw */
	TEST_LOAD 50, lw, 0xffffffff84038201, ldata, 0
	TEST_LOAD 51, lw, 0xffffffff8807f675, ldata, 4
	TEST_LOAD 52, lw, 0x4cbb2a99, ldata, 8
	TEST_LOAD 53, lw, 0x10ff6edd, ldata, 12
	/* lwu */
	TEST_LOAD 54, lwu, 0x84038201, ldata, 0
	TEST_LOAD 55, lwu, 0x8807f675, ldata, 4
	TEST_LOAD 56, lwu, 0x4cbb2a99, ldata, 8
	TEST_LOAD 57, lwu, 0x10ff6edd, ldata, 12
	/* ld */
	TEST_LOAD 58, ld, 0x8807f67584038201, ldata, 0
	TEST_LOAD 59, ld, 0x10ff6edd4cbb2a99, ldata, 8

	/* misaligned loads: keel emulates them (no trap) */
	TEST_LOAD 60, lh, 0xffffffffffffbb2a, ldata, 9
	TEST_LOAD 61, lhu, 0xbb2a, ldata, 9
	TEST_LOAD 62, lw, 0xffffffffdd4cbb2a, ldata, 9
	TEST_LOAD 63, lw, 0x6edd4cbb, ldata, 10
	TEST_LOAD 64, lw, 0xffffffffff6edd4c, ldata, 11
	TEST_LOAD 65, lwu, 0xdd4cbb2a, ldata, 9
	TEST_LOAD 66, lwu, 0x6edd4cbb, ldata, 10
	TEST_LOAD 67, lwu, 0xff6edd4c, ldata, 11
	TEST_LOAD 68, ld, 0xa110ff6edd4cbb2a, ldata, 9
	TEST_LOAD 69, ld, 0x32a110ff6edd4cbb, ldata, 10
	TEST_LOAD 70, ld, 0xc332a110ff6edd4c, ldata, 11
	TEST_LOAD 71, ld, 0x54c332a110ff6edd, ldata, 12
	TEST_LOAD 72, ld, 0xe554c332a110ff6e, ldata, 13
	TEST_LOAD 73, ld, 0x76e554c332a110ff, ldata, 14
	TEST_LOAD 74, ld, 0x8776e554c332a110, ldata, 15

	/* negative and maximal offsets */
	CASE 80
	la a1, ldata + 2048
	lbu a0, -2048(a1)
	CHECK a0, 0x01
	la a1, ldata - 2047
	lbu a0, 2047(a1)
	CHECK a0, 0x01
	la a1, ldata + 8
	ld a0, -8(a1)
	CHECK a0, 0x8807f67584038201

	/* rd == rs1: the address is used before the register is written */
	CASE 81
	la a0, ldata
	ld a0, 0(a0)
	CHECK a0, 0x8807f67584038201

	/* a load into x0 leaves it zero */
	CASE 82
	la a1, ldata
	ld x0, 0(a1)
	lw x0, 4(a1)
	CHECK x0, 0

	/* stores of each width */
	TEST_STORE 100, sb, 0xdead0000005c, sdata, 0, 0xa5a5a5a5a5a5a55c, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 101, sb, 0xdead0000005c, sdata, 1, 0xa5a5a5a5a5a55ca5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 102, sb, 0xdead0000005c, sdata, 2, 0xa5a5a5a5a55ca5a5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 103, sb, 0xdead0000005c, sdata, 3, 0xa5a5a5a55ca5a5a5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 104, sb, 0xdead0000005c, sdata, 4, 0xa5a5a55ca5a5a5a5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 105, sb, 0xdead0000005c, sdata, 5, 0xa5a55ca5a5a5a5a5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 106, sb, 0xdead0000005c, sdata, 6, 0xa55ca5a5a5a5a5a5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 107, sb, 0xdead0000005c, sdata, 7, 0x5ca5a5a5a5a5a5a5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 108, sb, 0xdead0000005c, sdata, 8, 0xa5a5a5a5a5a5a5a5, 0xa5a5a5a5a5a5a55c
	TEST_STORE 109, sh, 0xdead0000beef, sdata, 0, 0xa5a5a5a5a5a5beef, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 110, sh, 0xdead0000beef, sdata, 2, 0xa5a5a5a5beefa5a5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 111, sh, 0xdead0000beef, sdata, 4, 0xa5a5beefa5a5a5a5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 112, sh, 0xdead0000beef, sdata, 6, 0xbeefa5a5a5a5a5a5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 113, sh, 0xdead0000beef, sdata, 8, 0xa5a5a5a5a5a5a5a5, 0xa5a5a5a5a5a5beef
	TEST_STORE 114, sw, 0xdead87654321, sdata, 0, 0xa5a5a5a587654321, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 115, sw, 0xdead87654321, sdata, 4, 0x87654321a5a5a5a5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 116, sw, 0xdead87654321, sdata, 8, 0xa5a5a5a5a5a5a5a5, 0xa5a5a5a587654321
	TEST_STORE 117, sd, 0x123456789abcdef, sdata, 0, 0x123456789abcdef, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 118, sd, 0x123456789abcdef, sdata, 8, 0xa5a5a5a5a5a5a5a5, 0x123456789abcdef

	/* misaligned stores */
	TEST_STORE 119, sh, 0xbeef, sdata, 1, 0xa5a5a5a5a5beefa5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 120, sh, 0xbeef, sdata, 3, 0xa5a5a5beefa5a5a5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 121, sh, 0xbeef, sdata, 5, 0xa5beefa5a5a5a5a5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 122, sh, 0xbeef, sdata, 7, 0xefa5a5a5a5a5a5a5, 0xa5a5a5a5a5a5a5be
	TEST_STORE 123, sh, 0xbeef, sdata, 9, 0xa5a5a5a5a5a5a5a5, 0xa5a5a5a5a5beefa5
	TEST_STORE 124, sh, 0xbeef, sdata, 11, 0xa5a5a5a5a5a5a5a5, 0xa5a5a5beefa5a5a5
	TEST_STORE 125, sh, 0xbeef, sdata, 13, 0xa5a5a5a5a5a5a5a5, 0xa5beefa5a5a5a5a5
	TEST_STORE 126, sw, 0x87654321, sdata, 1, 0xa5a5a587654321a5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 127, sw, 0x87654321, sdata, 2, 0xa5a587654321a5a5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 128, sw, 0x87654321, sdata, 3, 0xa587654321a5a5a5, 0xa5a5a5a5a5a5a5a5
	TEST_STORE 129, sw, 0x87654321, sdata, 5, 0x654321a5a5a5a5a5, 0xa5a5a5a5a5a5a587
	TEST_STORE 130, sw, 0x87654321, sdata, 6, 0x4321a5a5a5a5a5a5, 0xa5a5a5a5a5a58765
	TEST_STORE 131, sw, 0x87654321, sdata, 7, 0x21a5a5a5a5a5a5a5, 0xa5a5a5a5a5876543
	TEST_STORE 132, sw, 0x87654321, sdata, 9, 0xa5a5a5a5a5a5a5a5, 0xa5a5a587654321a5
	TEST_STORE 133, sd, 0x123456789abcdef, sdata, 1, 0x23456789abcdefa5, 0xa5a5a5a5a5a5a501
	TEST_STORE 134, sd, 0x123456789abcdef, sdata, 2, 0x456789abcdefa5a5, 0xa5a5a5a5a5a50123
	TEST_STORE 135, sd, 0x123456789abcdef, sdata, 3, 0x6789abcdefa5a5a5, 0xa5a5a5a5a5012345
	TEST_STORE 136, sd, 0x123456789abcdef, sdata, 4, 0x89abcdefa5a5a5a5, 0xa5a5a5a501234567
	TEST_STORE 137, sd, 0x123456789abcdef, sdata, 5, 0xabcdefa5a5a5a5a5, 0xa5a5a50123456789
	TEST_STORE 138, sd, 0x123456789abcdef, sdata, 6, 0xcdefa5a5a5a5a5a5, 0xa5a50123456789ab
	TEST_STORE 139, sd, 0x123456789abcdef, sdata, 7, 0xefa5a5a5a5a5a5a5, 0xa50123456789abcd

	/* misaligned stores that cross a page boundary (sdata_x is 8 bytes before it) */
	TEST_STORE 140, sh, 0xbeef, sdata_x, 7, 0xefa5a5a5a5a5a5a5, 0xa5a5a5a5a5a5a5be
	TEST_STORE 141, sw, 0x87654321, sdata_x, 5, 0x654321a5a5a5a5a5, 0xa5a5a5a5a5a5a587
	TEST_STORE 142, sw, 0x87654321, sdata_x, 6, 0x4321a5a5a5a5a5a5, 0xa5a5a5a5a5a58765
	TEST_STORE 143, sw, 0x87654321, sdata_x, 7, 0x21a5a5a5a5a5a5a5, 0xa5a5a5a5a5876543
	TEST_STORE 144, sd, 0x123456789abcdef, sdata_x, 1, 0x23456789abcdefa5, 0xa5a5a5a5a5a5a501
	TEST_STORE 145, sd, 0x123456789abcdef, sdata_x, 2, 0x456789abcdefa5a5, 0xa5a5a5a5a5a50123
	TEST_STORE 146, sd, 0x123456789abcdef, sdata_x, 3, 0x6789abcdefa5a5a5, 0xa5a5a5a5a5012345
	TEST_STORE 147, sd, 0x123456789abcdef, sdata_x, 4, 0x89abcdefa5a5a5a5, 0xa5a5a5a501234567
	TEST_STORE 148, sd, 0x123456789abcdef, sdata_x, 5, 0xabcdefa5a5a5a5a5, 0xa5a5a50123456789
	TEST_STORE 149, sd, 0x123456789abcdef, sdata_x, 6, 0xcdefa5a5a5a5a5a5, 0xa5a50123456789ab
	TEST_STORE 150, sd, 0x123456789abcdef, sdata_x, 7, 0xefa5a5a5a5a5a5a5, 0xa50123456789abcd

	/* store then load back through other widths */
	CASE 145
	la a1, sdata
	li a2, 0x1122334455667788
	sd a2, 0(a1)
	lbu a0, 0(a1)
	CHECK a0, 0x88
	lhu a0, 6(a1)
	CHECK a0, 0x1122
	lw a0, 2(a1)
	CHECK a0, 0x33445566
	sb zero, 7(a1)
	ld a0, 0(a1)
	CHECK a0, 0x0022334455667788
	sh a2, 1(a1)
	ld a0, 0(a1)
	CHECK a0, 0x0022334455778888

	/* misaligned loads that cross a page boundary */
	CASE 159
	la a1, ldata
	la a2, sdata_x
	ld a3, 0(a1)
	sd a3, 0(a2)
	ld a3, 8(a1)
	sd a3, 8(a2)
	TEST_LOAD 160, lh, 0xffffffffffff9988, sdata_x, 7
	TEST_LOAD 161, lhu, 0x9988, sdata_x, 7
	TEST_LOAD 162, lw, 0xffffffff998807f6, sdata_x, 5
	TEST_LOAD 163, lw, 0x2a998807, sdata_x, 6
	TEST_LOAD 164, lw, 0xffffffffbb2a9988, sdata_x, 7
	TEST_LOAD 165, lwu, 0x998807f6, sdata_x, 5
	TEST_LOAD 166, lwu, 0x2a998807, sdata_x, 6
	TEST_LOAD 167, lwu, 0xbb2a9988, sdata_x, 7
	TEST_LOAD 168, ld, 0x998807f675840382, sdata_x, 1
	TEST_LOAD 169, ld, 0x2a998807f6758403, sdata_x, 2
	TEST_LOAD 170, ld, 0xbb2a998807f67584, sdata_x, 3
	TEST_LOAD 171, ld, 0x4cbb2a998807f675, sdata_x, 4
	TEST_LOAD 172, ld, 0xdd4cbb2a998807f6, sdata_x, 5
	TEST_LOAD 173, ld, 0x6edd4cbb2a998807, sdata_x, 6
	TEST_LOAD 174, ld, 0xff6edd4cbb2a9988, sdata_x, 7

	TEST_END

	.data
	.balign 8
ldata:
	.byte 0x01, 0x82, 0x03, 0x84, 0x75, 0xf6, 0x07, 0x88
	.byte 0x99, 0x2a, 0xbb, 0x4c, 0xdd, 0x6e, 0xff, 0x10
	.byte 0xa1, 0x32, 0xc3, 0x54, 0xe5, 0x76, 0x87, 0x98
	.balign 8
sdata:
	.skip 16

	/* sdata_x is the last 8 bytes of one page and the first 8 of the next */
	.balign 4096
	.skip 4096 - 8
sdata_x:
	.skip 16
