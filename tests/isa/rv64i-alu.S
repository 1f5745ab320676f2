/* RV64I integer computation: every register-register and register-
 * immediate ALU instruction including the W forms, shift amounts at and
 * beyond the operand width (only the low 6 bits, or 5 for W, count), sign
 * extension of W results, x0 as destination, lui and auipc. */
#include "test.h"

	TEST_BEGIN

	/* add */
	TEST_RR 2, add, 0x0, 0x0, 0x0
	TEST_RR 3, add, 0x2, 0x1, 0x1
	TEST_RR 4, add, 0xa, 0x3, 0x7
	TEST_RR 5, add, 0x8000000000000000, 0x7fffffffffffffff, 0x1
	TEST_RR 6, add, 0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffffff
	TEST_RR 7, add, 0x0, 0xffffffffffffffff, 0x1
	TEST_RR 8, add, 0x100000000, 0xffffffff, 0x1

	/* sub */
	TEST_RR 9, sub, 0x0, 0x0, 0x0
	TEST_RR 10, sub, 0x0, 0x1, 0x1
	TEST_RR 11, sub, 0xfffffffffffffffc, 0x3, 0x7
	TEST_RR 12, sub, 0x7fffffffffffffff, 0x8000000000000000, 0x1
	TEST_RR 13, sub, 0xffffffffffffffff, 0x0, 0x1
	TEST_RR 14, sub, 0x0, 0xffffffffffffffff, 0xffffffffffffffff

	/* sll */
	TEST_RR 15, sll, 0x1, 0x1, 0x0
	TEST_RR 16, sll, 0x2, 0x1, 0x1
	TEST_RR 17, sll, 0x8000000000000000, 0x1, 0x3f
	TEST_RR 18, sll, 0x1, 0x1, 0x40
	TEST_RR 19, sll, 0xffffffff80000000, 0xffffffffffffffff, 0x1f
	TEST_RR 20, sll, 0x42424242, 0x21212121, 0x41
	TEST_RR 21, sll, 0x8000000000000000, 0x8000000000000001, 0x7f

	/* srl */
	TEST_RR 22, srl, 0x8000000000000000, 0x8000000000000000, 0x0
	TEST_RR 23, srl, 0x4000000000000000, 0x8000000000000000, 0x1
	TEST_RR 24, srl, 0x1, 0x8000000000000000, 0x3f
	TEST_RR 25, srl, 0x8000000000000000, 0x8000000000000000, 0x40
	TEST_RR 26, srl, 0xffffffff, 0xffffffffffffffff, 0x20
	TEST_RR 27, srl, 0x10909090, 0x21212121, 0x41

	/* sra */
	TEST_RR 28, sra, 0x8000000000000000, 0x8000000000000000, 0x0
	TEST_RR 29, sra, 0xc000000000000000, 0x8000000000000000, 0x1
	TEST_RR 30, sra, 0xffffffffffffffff, 0x8000000000000000, 0x3f
	TEST_RR 31, sra, 0x8000000000000000, 0x8000000000000000, 0x40
	TEST_RR 32, sra, 0x1, 0x7fffffffffffffff, 0x3e
	TEST_RR 33, sra, 0xffffffffffffffff, 0xffffffffffffffff, 0x7f

	/* slt */
	TEST_RR 34, slt, 0x0, 0x0, 0x0
	TEST_RR 35, slt, 0x1, 0x0, 0x1
	TEST_RR 36, slt, 0x0, 0x1, 0x0
	TEST_RR 37, slt, 0x1, 0xffffffffffffffff, 0x0
	TEST_RR 38, slt, 0x0, 0x0, 0xffffffffffffffff
	TEST_RR 39, slt, 0x1, 0x8000000000000000, 0x7fffffffffffffff
	TEST_RR 40, slt, 0x0, 0x7fffffffffffffff, 0x8000000000000000

	/* sltu */
	TEST_RR 41, sltu, 0x0, 0x0, 0x0
	TEST_RR 42, sltu, 0x1, 0x0, 0x1
	TEST_RR 43, sltu, 0x0, 0x1, 0x0
	TEST_RR 44, sltu, 0x0, 0xffffffffffffffff, 0x0
	TEST_RR 45, sltu, 0x1, 0x0, 0xffffffffffffffff
	TEST_RR 46, sltu, 0x0, 0x8000000000000000, 0x7fffffffffffffff

	/* xor */
	TEST_RR 47, xor, 0xf00ff00ff00ff00f, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f
	TEST_RR 48, xor, 0x0, 0xffffffffffffffff, 0xffffffffffffffff
	TEST_RR 49, xor, 0xffffffffffffffff, 0x0, 0xffffffffffffffff

	/* or */
	TEST_RR 50, or, 0xff0fff0fff0fff0f, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f
	TEST_RR 51, or, 0x0, 0x0, 0x0
	TEST_RR 52, or, 0xffffffffffffffff, 0x0, 0xffffffffffffffff

	/* and */
	TEST_RR 53, and, 0xf000f000f000f00, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f
	TEST_RR 54, and, 0x12345678, 0xffffffffffffffff, 0x12345678
	TEST_RR 55, and, 0x0, 0x0, 0xffffffffffffffff

	/* addw */
	TEST_RR 56, addw, 0x0, 0x0, 0x0
	TEST_RR 57, addw, 0x2, 0x1, 0x1
	TEST_RR 58, addw, 0xffffffff80000000, 0x7fffffff, 0x1
	TEST_RR 59, addw, 0x0, 0xffffffff, 0x1
	TEST_RR 60, addw, 0xffffffff9abcdef0, 0x123456789abcdef0, 0x0
	TEST_RR 61, addw, 0x0, 0x80000000, 0x80000000
	TEST_RR 62, addw, 0xfffffffffffffffe, 0xffffffffffffffff, 0xffffffffffffffff

	/* subw */
	TEST_RR 63, subw, 0x0, 0x0, 0x0
	TEST_RR 64, subw, 0x7fffffff, 0x80000000, 0x1
	TEST_RR 65, subw, 0xffffffffffffffff, 0x0, 0x1
	TEST_RR 66, subw, 0xffffffffffffffff, 0x100000000, 0x1
	TEST_RR 67, subw, 0x2, 0xffffffff00000005, 0x3

	/* sllw */
	TEST_RR 68, sllw, 0x1, 0x1, 0x0
	TEST_RR 69, sllw, 0xffffffff80000000, 0x1, 0x1f
	TEST_RR 70, sllw, 0x1, 0x1, 0x20
	TEST_RR 71, sllw, 0xfffffffffffffffe, 0xffffffff, 0x1
	TEST_RR 72, sllw, 0x2468acf0, 0x12345678, 0x21
	TEST_RR 73, sllw, 0x10, 0xffffffff00000001, 0x4

	/* srlw */
	TEST_RR 74, srlw, 0xffffffff80000000, 0x80000000, 0x0
	TEST_RR 75, srlw, 0x40000000, 0x80000000, 0x1
	TEST_RR 76, srlw, 0x1, 0x80000000, 0x1f
	TEST_RR 77, srlw, 0xffffffff80000000, 0x80000000, 0x20
	TEST_RR 78, srlw, 0x8000000, 0xffffffff80000000, 0x4
	TEST_RR 79, srlw, 0x7fffffff, 0xffffffffffffffff, 0x21

	/* sraw */
	TEST_RR 80, sraw, 0xffffffff80000000, 0x80000000, 0x0
	TEST_RR 81, sraw, 0xffffffffc0000000, 0x80000000, 0x1
	TEST_RR 82, sraw, 0xffffffffffffffff, 0x80000000, 0x1f
	TEST_RR 83, sraw, 0xffffffff80000000, 0x80000000, 0x20
	TEST_RR 84, sraw, 0x1, 0x7fffffff, 0x1e
	TEST_RR 85, sraw, 0x7ffffff, 0xffffffff7fffffff, 0x4
	TEST_RR 86, sraw, 0xffffffffffffffff, 0x180000000, 0x3f

	/* addi */
	TEST_RI 87, addi, 0x0, 0x0, 0
	TEST_RI 88, addi, 0x2, 0x1, 1
	TEST_RI 89, addi, 0xa, 0x3, 7
	TEST_RI 90, addi, 0xfffffffffffff800, 0x0, -2048
	TEST_RI 91, addi, 0x7ff, 0x0, 2047
	TEST_RI 92, addi, 0x8000000000000000, 0x7fffffffffffffff, 1
	TEST_RI 93, addi, 0x0, 0xffffffffffffffff, 1
	TEST_RI 94, addi, 0x100000000, 0xffffffff, 1

	/* slti */
	TEST_RI 95, slti, 0x0, 0x0, 0
	TEST_RI 96, slti, 0x1, 0x0, 1
	TEST_RI 97, slti, 0x0, 0x1, 0
	TEST_RI 98, slti, 0x1, 0xffffffffffffffff, 0
	TEST_RI 99, slti, 0x0, 0x0, -1
	TEST_RI 100, slti, 0x1, 0x8000000000000000, 2047
	TEST_RI 101, slti, 0x0, 0x7fffffffffffffff, -2048

	/* sltiu */
	TEST_RI 102, sltiu, 0x0, 0x0, 0
	TEST_RI 103, sltiu, 0x1, 0x0, 1
	TEST_RI 104, sltiu, 0x0, 0x1, 0
	TEST_RI 105, sltiu, 0x0, 0xffffffffffffffff, 0
	TEST_RI 106, sltiu, 0x1, 0x0, -1
	TEST_RI 107, sltiu, 0x1, 0x1, -1
	TEST_RI 108, sltiu, 0x1, 0xfffffffffffffffe, -1

	/* xori */
	TEST_RI 109, xori, 0xff00ff00ff00ff0f, 0xff00ff00ff00ff00, 15
	TEST_RI 110, xori, 0xff00ff00ff00ff, 0xff00ff00ff00ff00, -1
	TEST_RI 111, xori, 0xfffffffffffff800, 0x0, -2048

	/* ori */
	TEST_RI 112, ori, 0xff00ff00ff00ff0f, 0xff00ff00ff00ff00, 15
	TEST_RI 113, ori, 0xffffffffffffffff, 0x0, -1
	TEST_RI 114, ori, 0x80000000000007ff, 0x8000000000000000, 2047

	/* andi */
	TEST_RI 115, andi, 0x0, 0xff00ff00ff00ff00, 255
	TEST_RI 116, andi, 0xffffffffffffffff, 0xffffffffffffffff, -1
	TEST_RI 117, andi, 0xfffffffffffff800, 0xffffffffffffffff, -2048
	TEST_RI 118, andi, 0x0, 0x12345678, 0

	/* slli */
	TEST_RI 119, slli, 0x1, 0x1, 0
	TEST_RI 120, slli, 0x2, 0x1, 1
	TEST_RI 121, slli, 0x8000000000000000, 0x1, 63
	TEST_RI 122, slli, 0xffffffff80000000, 0xffffffffffffffff, 31
	TEST_RI 123, slli, 0x2121212100000000, 0x21212121, 32

	/* srli */
	TEST_RI 124, srli, 0x8000000000000000, 0x8000000000000000, 0
	TEST_RI 125, srli, 0x4000000000000000, 0x8000000000000000, 1
	TEST_RI 126, srli, 0x1, 0x8000000000000000, 63
	TEST_RI 127, srli, 0xffffffff, 0xffffffffffffffff, 32

	/* srai */
	TEST_RI 128, srai, 0x8000000000000000, 0x8000000000000000, 0
	TEST_RI 129, srai, 0xc000000000000000, 0x8000000000000000, 1
	TEST_RI 130, srai, 0xffffffffffffffff, 0x8000000000000000, 63
	TEST_RI 131, srai, 0x1, 0x7fffffffffffffff, 62
	TEST_RI 132, srai, 0xffffffffffffffff, 0xffffffffffffffff, 33

	/* addiw */
	TEST_RI 133, addiw, 0x0, 0x0, 0
	TEST_RI 134, addiw, 0x2, 0x1, 1
	TEST_RI 135, addiw, 0xffffffff80000000, 0x7fffffff, 1
	TEST_RI 136, addiw, 0x0, 0xffffffff, 1
	TEST_RI 137, addiw, 0xffffffff9abcdef0, 0x123456789abcdef0, 0
	TEST_RI 138, addiw, 0xfffffffffffff800, 0x0, -2048
	TEST_RI 139, addiw, 0x7fffffff, 0x80000000, -1

	/* slliw */
	TEST_RI 140, slliw, 0x1, 0x1, 0
	TEST_RI 141, slliw, 0xffffffff80000000, 0x1, 31
	TEST_RI 142, slliw, 0xfffffffffffffffe, 0xffffffff, 1
	TEST_RI 143, slliw, 0x23456780, 0x12345678, 4
	TEST_RI 144, slliw, 0x40000000, 0xffffffff00000001, 30

	/* srliw */
	TEST_RI 145, srliw, 0xffffffff80000000, 0x80000000, 0
	TEST_RI 146, srliw, 0x40000000, 0x80000000, 1
	TEST_RI 147, srliw, 0x1, 0x80000000, 31
	TEST_RI 148, srliw, 0x8000000, 0xffffffff80000000, 4
	TEST_RI 149, srliw, 0xffffffffffffffff, 0xffffffffffffffff, 0

	/* sraiw */
	TEST_RI 150, sraiw, 0xffffffff80000000, 0x80000000, 0
	TEST_RI 151, sraiw, 0xffffffffc0000000, 0x80000000, 1
	TEST_RI 152, sraiw, 0xffffffffffffffff, 0x80000000, 31
	TEST_RI 153, sraiw, 0x1, 0x7fffffff, 30
	TEST_RI 154, sraiw, 0x7ffffff, 0xffffffff7fffffff, 4
	TEST_RI 155, sraiw, 0xffffffff80000000, 0x180000000, 0

	/* both operands from one register */
	TEST_RR_SAME 200, sub, 0, 0x123456789
	TEST_RR_SAME 201, add, 0x2468acf12, 0x123456789
	TEST_RR_SAME 202, sltu, 0, 7
	TEST_RR_SAME 203, xor, 0, -1
	TEST_RR_SAME 204, sll, 0xa0, 5
	TEST_RR_SAME 205, sra, 0xfffffffffffffff8, 0xfffffffffffff808

	/* lui: a 20-bit immediate into bits 31..12, sign-extended to 64 */
	CASE 210
	lui a0, 0x7ffff
	CHECK a0, 0x7ffff000
	CASE 211
	lui a0, 0x80000
	CHECK a0, 0xffffffff80000000
	CASE 212
	lui a0, 0xfffff
	CHECK a0, 0xfffffffffffff000
	CASE 213
	lui a0, 0
	CHECK a0, 0
	CASE 214
	lui x0, 0x12345
	CHECK x0, 0

	/* auipc: pc of the auipc itself plus the shifted immediate */
	CASE 220
1:	auipc a0, 0
	CHECK_ADDR a0, 1b
	CASE 221
2:	auipc a0, 1
	la a1, 2b
	sub a0, a0, a1
	CHECK a0, 0x1000
	CASE 222
3:	auipc a0, 0x80000
	la a1, 3b
	sub a0, a0, a1
	CHECK a0, 0xffffffff80000000
	CASE 223
4:	auipc a0, 0x7ffff
	la a1, 4b
	sub a0, a0, a1
	CHECK a0, 0x7ffff000

	/* writes to x0 are discarded, reads of x0 give zero */
	CASE 230
	addi x0, x0, 5
	li a1, -1
	or x0, a1, a1
	add a0, x0, x0
	CHECK a0, 0
	CHECK x0, 0
	CASE 231
	slli x0, a1, 3
	addiw x0, a1, 1
	sub a0, x0, a1
	CHECK a0, 1

	/* a chain of dependent operations on all 31 registers */
	CASE 240
	li x1, 1
	addi x2, x1, 1
	addi x4, x2, 1
	addi x5, x4, 1
	addi x6, x5, 1
	addi x7, x6, 1
	addi x8, x7, 1
	addi x9, x8, 1
	addi x10, x9, 1
	addi x11, x10, 1
	addi x12, x11, 1
	addi x13, x12, 1
	addi x14, x13, 1
	addi x15, x14, 1
	addi x16, x15, 1
	addi x17, x16, 1
	addi x18, x17, 1
	addi x19, x18, 1
	addi x20, x19, 1
	addi x21, x20, 1
	addi x22, x21, 1
	addi x23, x22, 1
	addi x24, x23, 1
	addi x25, x24, 1
	addi x26, x25, 1
	addi x27, x26, 1
	addi x28, x27, 1
	addi x29, x28, 1
	CHECK x29, 28
	add x30, x1, x2
	add x30, x30, x4
	add x30, x30, x5
	add x30, x30, x10
	add x30, x30, x20
	add x30, x30, x29
	/* 1+2+3+4+9+19+28 */
	CHECK x30, 66
	la sp, main_stack_top

	TEST_END
