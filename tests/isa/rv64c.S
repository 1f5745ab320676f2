/* RV64C: every compressed instruction, written with explicit c.*
 * mnemonics under .option rvc so each really is 16 bits, checked for its
 * result: loads and stores (integer and double, sp-relative and not),
 * immediates with their sign extension and scaling, the ALU forms, jumps
 * and branches both ways with the link value of c.jalr (pc + 2), c.ebreak
 * (breakpoint, mepc = its address), HINT encodings that must execute as
 * no-ops, and reserved encodings that must raise illegal instruction with
 * mtval holding the 16 bits. */
#include "test.h"

	.option rvc

	TEST_BEGIN

	la sp, cbuf		/* sp-relative forms work on cbuf */

	/* ---- quadrant 0 ---- */
	CASE 2
	c.addi4spn a0, sp, 4
	addi a1, sp, 4
	CHECK_REG a0, a1
	c.addi4spn s1, sp, 1020
	addi a1, sp, 1020
	CHECK_REG s1, a1

	CASE 3
	li a1, 0x1122334455667788
	sd a1, 8(sp)
	li a1, 0xfedcba9876543210
	sd a1, 16(sp)
	mv s0, sp
	c.ld a0, 8(s0)
	CHECK a0, 0x1122334455667788
	c.lw a2, 16(s0)
	CHECK a2, 0x76543210
	c.lw a3, 20(s0)
	CHECK a3, 0xfffffffffedcba98	/* sign-extended */
	addi s1, sp, -8
	c.ld a4, 16(s1)		/* base + 16 = sp + 8 */
	CHECK a4, 0x1122334455667788
	CASE 4
	li a5, 0x0badf00d0badf00d
	c.sd a5, 24(s0)
	ld a0, 24(sp)
	CHECK a0, 0x0badf00d0badf00d
	li a5, 0xcafe
	c.sw a5, 28(s0)
	ld a0, 24(sp)
	CHECK a0, 0x0000cafe0badf00d
	c.ld a0, 248(s0)	/* the largest c.ld offset */
	ld a1, 248(sp)
	CHECK_REG a0, a1
	CASE 5
	c.fld fa0, 8(s0)
	fmv.x.d a0, fa0
	CHECK a0, 0x1122334455667788
	c.fsd fa0, 32(s0)
	ld a0, 32(sp)
	CHECK a0, 0x1122334455667788

	/* ---- quadrant 1 ---- */
	CASE 10
	li a0, 5
	c.nop
	c.addi a0, 7
	CHECK a0, 12
	c.addi a0, -32
	CHECK a0, -20
	c.addi a0, 31
	CHECK a0, 11
	CASE 11
	li a0, 0x7fffffff
	c.addiw a0, 1
	CHECK a0, 0xffffffff80000000
	li a0, 0x100000005
	c.addiw a0, 0		/* sext.w */
	CHECK a0, 5
	li a0, 0
	c.addiw a0, -1
	CHECK a0, -1
	CASE 12
	c.li a0, -32
	CHECK a0, -32
	c.li a1, 31
	CHECK a1, 31
	c.li t3, 0
	CHECK t3, 0
	CASE 13
	mv t0, sp
	c.addi16sp sp, 496
	sub a0, sp, t0
	CHECK a0, 496
	c.addi16sp sp, -512
	sub a0, sp, t0
	CHECK a0, -16
	c.addi16sp sp, 16
	CHECK_REG sp, t0
	CASE 14
	c.lui a0, 1
	CHECK a0, 0x1000
	c.lui a0, 0x1f
	CHECK a0, 0x1f000
	c.lui t4, 0xfffe0	/* the negative end: -0x20000 */
	CHECK t4, 0xfffffffffffe0000
	c.lui a1, 0xfffff
	CHECK a1, 0xfffffffffffff000
	CASE 15
	li a0, 0x8000000000000001
	c.srli a0, 1
	CHECK a0, 0x4000000000000000
	li a0, 0x8000000000000001
	c.srli a0, 63
	CHECK a0, 1
	li a0, 0x8000000000000010
	c.srai a0, 4
	CHECK a0, 0xf800000000000001
	li a0, 0x8000000000000010
	c.srai a0, 63
	CHECK a0, -1
	li a0, 0x8000000000000010
	c.srli a0, 32
	CHECK a0, 0x80000000
	CASE 16
	li a0, 0xff
	c.andi a0, 0x1a
	CHECK a0, 0x1a
	li a0, -1
	c.andi a0, -32
	CHECK a0, 0xffffffffffffffe0
	CASE 17
	li s0, 100
	li s1, 58
	c.sub s0, s1
	CHECK s0, 42
	li a0, 0xff00
	li a1, 0x0ff0
	c.xor a0, a1
	CHECK a0, 0xf0f0
	li a0, 0xff00
	c.or a0, a1
	CHECK a0, 0xfff0
	li a0, 0xff00
	c.and a0, a1
	CHECK a0, 0x0f00
	CASE 18
	li a2, 0x80000000
	li a3, 1
	c.subw a2, a3
	CHECK a2, 0x7fffffff
	li a2, 0x7fffffff
	c.addw a2, a3
	CHECK a2, 0xffffffff80000000
	li a2, 0xffffffff00000003
	li a3, 0x0000000700000004
	c.addw a2, a3
	CHECK a2, 7
	c.subw a3, a3
	CHECK a3, 0

	/* c.j, forward and back */
	CASE 20
	c.j 2f
1:	c.j 3f
	j fail
2:	c.j 1b
	j fail
3:
	/* c.beqz / c.bnez, both directions, taken and not */
	CASE 21
	li a0, 0
	li a1, 1
	c.beqz a0, 1f
	j fail
1:	c.bnez a0, fail_near
	c.bnez a1, 2f
	j fail
2:	c.beqz a1, fail_near
	j 4f
3:	j 5f
4:	c.beqz a0, 3b
	j fail
5:	li a2, 0x100000000	/* bnez tests all 64 bits */
	c.beqz a2, fail_near
	CASE 22
	li a4, -1
	c.bnez a4, 1f
fail_near:
	j fail
1:

	/* ---- quadrant 2 ---- */
	CASE 30
	li a0, 1
	c.slli a0, 63
	CHECK a0, 0x8000000000000000
	li a0, 0x123
	c.slli a0, 32
	CHECK a0, 0x12300000000
	CASE 31
	li a1, 0x8877665544332211
	sd a1, 40(sp)
	c.ldsp a0, 40(sp)
	CHECK a0, 0x8877665544332211
	c.lwsp a0, 44(sp)
	CHECK a0, 0xffffffff88776655
	c.lwsp a0, 40(sp)
	CHECK a0, 0x44332211
	c.fldsp ft0, 40(sp)
	fmv.x.d a0, ft0
	CHECK a0, 0x8877665544332211
	CASE 32
	li a1, 0x0102030405060708
	c.sdsp a1, 48(sp)
	ld a0, 48(sp)
	CHECK a0, 0x0102030405060708
	li a1, -1
	c.swsp a1, 52(sp)
	ld a0, 48(sp)
	CHECK a0, 0xffffffff05060708
	c.fsdsp ft0, 56(sp)
	ld a0, 56(sp)
	CHECK a0, 0x8877665544332211
	c.sdsp a1, 504(sp)	/* largest c.sdsp offset */
	ld a0, 504(sp)
	CHECK a0, -1
	c.ldsp a2, 504(sp)
	CHECK a2, -1
	CASE 33
	li a1, 77
	c.mv a0, a1
	CHECK a0, 77
	c.mv t6, a1
	li a0, 3
	c.add a0, a1
	CHECK a0, 80
	c.add a0, a0
	CHECK a0, 160

	/* c.jr and c.jalr; c.jalr links pc + 2 */
	CASE 34
	la a1, 1f
	c.jr a1
	j fail
1:	la a1, 2f
	c.jalr a1
34:	j 3f
2:	CHECK_ADDR ra, 34b
	c.jr ra
	j fail
3:
	/* c.jalr with the target in ra itself: target is the old ra */
	CASE 35
	la ra, 1f
	c.jalr ra
35:	j fail
1:	CHECK_ADDR ra, 35b
	/* c.jr / c.jalr clear bit 0 of the target like jalr */
	CASE 36
	la a1, 1f + 1
	c.jalr a1
36:	j fail
1:	CHECK_ADDR ra, 36b

	/* c.ebreak: breakpoint exception at its own address; the trap
	 * handler steps over it by its length (2) */
	CASE 40
	EXPECT_TRAP 2f
40:	c.ebreak
	j fail
2:	CHECK_MCAUSE CAUSE_BREAKPOINT
	CHECK_MEPC 40b
	/* mtval is 0 or the address of the breakpoint */
	GET_TRAP a0, m, TL_TVAL
	beqz a0, 3f
	CHECK_ADDR a0, 40b
3:	CASE 41
	TRAP_MODE m, TRAP_SKIP
	li a0, 0
	c.ebreak
	c.addi a0, 1
	c.ebreak
	c.addi a0, 1
	TRAP_MODE m, TRAP_FATAL
	CHECK a0, 2

	/* HINTs: legal encodings that do nothing */
	CASE 50
	li a0, 9
	li t0, 0
	.half 0x0005		/* c.nop with imm 1 */
	.half 0x0501		/* c.addi a0, 0 */
	.half 0x4015		/* c.li x0, 5 */
	.half 0x6001 | (0 << 7) | (1 << 2) /* c.lui x0, 1 */
	.half 0x852e & ~(0x1f << 7)	/* c.mv x0, a1 */
	.half 0x952e & ~(0x1f << 7)	/* c.add x0, a1 */
	.half 0x0002 | (0 << 7) | (3 << 2) /* c.slli x0, 3 */
	.half 0x0002 | (10 << 7)	/* c.slli a0, 0 (a HINT on RV64) */
	CHECK a0, 9
	CHECK x0, 0

	/* reserved encodings: illegal instruction, mtval = the 16 bits */
	.option push
	.option norvc
	TEST_ILLEGAL 60, .half 0x0000		/* all zeros */
	TEST_ILLEGAL 61, .half 0x0010		/* c.addi4spn a2, sp, 0 */
	TEST_ILLEGAL 62, .half 0x6101		/* c.addi16sp sp, 0 */
	TEST_ILLEGAL 63, .half 0x6501		/* c.lui a0, 0 */
	TEST_ILLEGAL 64, .half 0x8002		/* c.jr x0 */
	TEST_ILLEGAL 65, .half 0x4002		/* c.lwsp x0, 0(sp) */
	TEST_ILLEGAL 66, .half 0x6002		/* c.ldsp x0, 0(sp) */
	TEST_ILLEGAL 67, .half 0x2001		/* c.addiw x0, 0 */
	TEST_ILLEGAL 68, .half 0x9c41		/* c.subw-space reserved (funct2=10, bit12=1) */
	.option pop

	la sp, main_stack_top
	TEST_END

	.data
	.balign 16
cbuf:
	.skip 1024
