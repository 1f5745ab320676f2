/* Entry of the hostile guest: M-mode straight from the virt board's reset
 * vector.  The trap handler skips the faulting instruction (the program
 * has no compressed instructions, so that is always 4 bytes) and counts
 * it, so the program may touch any register it likes. */
	.section .text.start
	.globl _start
_start:
	la sp, stack_top
	la t0, trap
	csrw mtvec, t0
	call main
1:	j 1b

	.align 4
trap:
	addi sp, sp, -16
	sd t0, 0(sp)
	sd t1, 8(sp)
	csrr t0, mepc
	addi t0, t0, 4
	csrw mepc, t0
	la t0, traps
	ld t1, 0(t0)
	addi t1, t1, 1
	sd t1, 0(t0)
	ld t0, 0(sp)
	ld t1, 8(sp)
	addi sp, sp, 16
	mret

	.bss
	.align 4
	.space 16384
stack_top:
