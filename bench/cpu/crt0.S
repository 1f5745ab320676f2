/* Start-up code for the bare-metal CPU benchmark: one hart, M-mode,
 * no firmware underneath.
 *
 * Enters at 0x80000000 with nothing set up: sets gp/sp, clears .bss,
 * turns the FPU on (mstatus.FS starts Off, and the FP kernels would
 * otherwise trap), installs a trap vector that reports and exits, calls
 * bench_main() and hands its return value to HTIF as the exit code. */

	.section .text.init, "ax", @progbits
	.globl _start
_start:
	.option push
	.option norelax
	la	gp, __global_pointer$
	.option pop
	la	sp, __stack_top

	/* mstatus.FS = Initial (01); the first FP write makes it Dirty */
	li	t0, (1 << 13)
	csrs	mstatus, t0
	csrwi	fcsr, 0

	la	t0, trap_entry
	csrw	mtvec, t0

	la	t0, __bss_start
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:
	call	bench_main
	call	htif_exit
3:	j	3b

/* Any trap is a bug (ours or the emulator's): report cause, pc and tval,
 * then exit non-zero.  mtvec is direct mode, so this must be 4-aligned. */
	.balign 4
trap_entry:
	csrr	a0, mcause
	csrr	a1, mepc
	csrr	a2, mtval
	la	sp, __stack_top
	call	bench_trap
4:	j	4b

/* The HTIF mailbox.  QEMU's spike board and keel find these by symbol
 * name (QEMU also insists on the
 * symbols' size being 8); the section is page-aligned and page-sized (see link.ld). */
	.section .tohost, "aw", @progbits
	.balign 8
	.globl tohost
	.type tohost, @object
	.size tohost, 8
tohost:
	.dword 0
	.globl fromhost
	.type fromhost, @object
	.size fromhost, 8
fromhost:
	.dword 0
