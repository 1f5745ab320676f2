/* Memory ordering and instruction-fetch coherence: every fence form
 * executes (as a no-op on a single hart), and self-modifying code made
 * visible with fence.i: rewriting a routine that has already run (and
 * been decoded, maybe cached), rewriting code just ahead of the pc, and
 * patching 16-bit instructions. */
#include "test.h"

/* Copy `len` bytes from template `src` to `dst` (halfword at a time, so
 * that 2-byte alignment suffices). */
	.macro COPY_CODE dst, src, len
	la a4, \src
	la a5, \dst
	li a6, \len
.Lcopy\@:
	lh a7, 0(a4)
	sh a7, 0(a5)
	addi a4, a4, 2
	addi a5, a5, 2
	addi a6, a6, -2
	bnez a6, .Lcopy\@
	.endm

	TEST_BEGIN

	CASE 2
	fence
	fence rw, rw
	fence r, r
	fence w, w
	fence iorw, iorw
	fence i, o
	fence.tso
	.word 0x0100000f	/* pause (Zihintpause): fence w,0, a hint */
	.word 0x0000000f	/* fence 0,0: also a hint */
	fence.i

	/* Run code from RAM, then rewrite it and run it again. */
	CASE 3
	COPY_CODE code_buf, tmpl_one, 12
	fence.i
	la a1, code_buf
	jalr ra, 0(a1)
	CHECK a0, 1

	/* run it often enough for any decode cache to hold it */
	CASE 4
	li s0, 200
1:	la a1, code_buf
	jalr ra, 0(a1)
	CHECK a0, 1
	addi s0, s0, -1
	bnez s0, 1b

	CASE 5
	COPY_CODE code_buf, tmpl_two, 12
	fence.i
	la a1, code_buf
	jalr ra, 0(a1)
	CHECK a0, 2

	/* only the first instruction changes (1 -> 3), the +1 stays */
	CASE 6
	COPY_CODE code_buf, tmpl_three, 4
	fence.i
	la a1, code_buf
	jalr ra, 0(a1)
	CHECK a0, 4

	/* patch 16-bit instructions in the middle of a routine */
	CASE 7
	COPY_CODE code_buf, tmpl_c, 6
	fence.i
	la a1, code_buf
	jalr ra, 0(a1)
	CHECK a0, 0x11
	COPY_CODE code_buf + 2, tmpl_c_patch, 2
	fence.i
	la a1, code_buf
	jalr ra, 0(a1)
	CHECK a0, 0x1f

	/* rewrite the instruction just after the fence.i in the text we are
	 * executing (the text is in RAM and writable in M-mode) */
	CASE 8
	.option push
	.option norvc
	la a1, patch_site
	la a2, tmpl_three
	lw a2, 0(a2)	/* addi a0, zero, 3 */
	li a0, 0
	sw a2, 0(a1)
	fence.i
patch_site:
	addi a0, zero, 99
	CHECK a0, 3
	.option pop

	/* rewrite a routine halfway through a loop that calls it: 50 calls
	 * return 1, the next 50 return 2 */
	CASE 9
	COPY_CODE code_buf, tmpl_one, 12
	fence.i
	li s0, 0	/* iteration */
	li s1, 0	/* sum */
1:	li a0, 50
	bne s0, a0, 2f
	COPY_CODE code_buf, tmpl_two, 12
	fence.i
2:	la a1, code_buf
	jalr ra, 0(a1)
	add s1, s1, a0
	addi s0, s0, 1
	li a0, 100
	bne s0, a0, 1b
	CHECK s1, 150

	TEST_END

	/* Instruction templates, assembled into a data section and copied to
	 * code_buf at run time. */
	.section .rodata
	.balign 4
	.option push
	.option norvc
tmpl_one:
	addi a0, zero, 1
	addi a0, a0, 0
	ret
tmpl_one_end:
tmpl_two:
	addi a0, zero, 1
	addi a0, a0, 1
	ret
tmpl_two_end:
tmpl_three:
	addi a0, zero, 3
tmpl_three_end:
	.option pop
	.option push
	.option rvc
tmpl_c:
	c.li a0, 0x10
	c.addi a0, 1
	c.jr ra
tmpl_c_end:
tmpl_c_patch:
	c.addi a0, 15
	.option pop

	.data
	.balign 64
code_buf:
	.skip 64
