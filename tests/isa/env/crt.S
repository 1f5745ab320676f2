/* Start-up code and trap entry/exit for keel's ISA tests.
 *
 * _start runs in M-mode straight out of reset.  It records the reset value
 * of mstatus, installs the M-mode trap entry, opens memory to S/U through
 * the lowest-priority PMP entry, turns the FPU on and calls test_main().
 * test_main returning 0 means pass; any other value n fails with n.
 *
 * The trap entries save every register into a frame (mscratch/sscratch
 * point at it), call env_trap() in env.c, and restore the frame, which
 * env_trap may have edited (epc, status).  See README.md for the modes. */
#include "encoding.h"

	.section .text.init, "ax"
	.option push
	.option norvc
	.globl _start
_start:
	/* Every register but x0 starts from a known zero. */
	li x1, 0
	li x2, 0
	li x3, 0
	li x4, 0
	li x5, 0
	li x6, 0
	li x7, 0
	li x8, 0
	li x9, 0
	li x10, 0
	li x11, 0
	li x12, 0
	li x13, 0
	li x14, 0
	li x15, 0
	li x16, 0
	li x17, 0
	li x18, 0
	li x19, 0
	li x20, 0
	li x21, 0
	li x22, 0
	li x23, 0
	li x24, 0
	li x25, 0
	li x26, 0
	li x27, 0
	li x28, 0
	li x29, 0
	li x30, 0
	li x31, 0

	csrr t0, mstatus
	la t1, env_reset_mstatus
	sd t0, 0(t1)

	la t0, trap_entry_m
	csrw mtvec, t0
	la t0, m_frame
	csrw mscratch, t0
	la t0, s_frame
	csrw sscratch, t0
	la t0, trap_entry_s
	csrw stvec, t0

	/* Catch-all PMP entry 15: NAPOT over everything, RWX.  Entries 0..14
	 * stay free for the PMP tests and take priority over this one. */
	li t0, -1
	csrw pmpaddr15, t0
	li t0, (PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 56
	csrw pmpcfg2, t0

	li t0, MSTATUS_FS_INITIAL
	csrs mstatus, t0
	csrw fcsr, zero

	la sp, main_stack_top
	call test_main
	/* a0 = 0: pass; otherwise a0 is the failing case number. */
	beqz a0, pass
	mv gp, a0
	j fail
	.option pop

/* ---- the ways out ----
 * They all end at env_exit_ecall, which the trap handler recognises and
 * turns into a report from M-mode, so they work from any privilege level
 * and with any memory mapping.  a0 = kind, a1/a2 = got/expected. */
	.text
	.globl pass, fail, fail_check, env_exit_ecall
pass:
	li a0, 0
	j env_exit
fail:
	li a0, 1
	j env_exit
/* CHECK jumps here with t5 = value found, t6 = value expected. */
fail_check:
	li a0, 2
	mv a1, t5
	mv a2, t6
env_exit:
env_exit_ecall:
	ecall
	/* ecall did not trap: report that directly from whatever mode this is. */
	la sp, main_stack_top
	li a0, 3
	mv a3, gp
	call env_finish

/* ---- trap entry: M-mode ---- */
	.macro SAVE_FRAME
	sd x1, 1*8(sp)
	sd x3, 3*8(sp)
	sd x4, 4*8(sp)
	sd x6, 6*8(sp)
	sd x7, 7*8(sp)
	sd x8, 8*8(sp)
	sd x9, 9*8(sp)
	sd x10, 10*8(sp)
	sd x11, 11*8(sp)
	sd x12, 12*8(sp)
	sd x13, 13*8(sp)
	sd x14, 14*8(sp)
	sd x15, 15*8(sp)
	sd x16, 16*8(sp)
	sd x17, 17*8(sp)
	sd x18, 18*8(sp)
	sd x19, 19*8(sp)
	sd x20, 20*8(sp)
	sd x21, 21*8(sp)
	sd x22, 22*8(sp)
	sd x23, 23*8(sp)
	sd x24, 24*8(sp)
	sd x25, 25*8(sp)
	sd x26, 26*8(sp)
	sd x27, 27*8(sp)
	sd x28, 28*8(sp)
	sd x29, 29*8(sp)
	sd x30, 30*8(sp)
	sd x31, 31*8(sp)
	.endm

	.macro RESTORE_FRAME
	ld x1, 1*8(sp)
	ld x3, 3*8(sp)
	ld x4, 4*8(sp)
	ld x5, 5*8(sp)
	ld x6, 6*8(sp)
	ld x7, 7*8(sp)
	ld x8, 8*8(sp)
	ld x9, 9*8(sp)
	ld x10, 10*8(sp)
	ld x11, 11*8(sp)
	ld x12, 12*8(sp)
	ld x13, 13*8(sp)
	ld x14, 14*8(sp)
	ld x15, 15*8(sp)
	ld x16, 16*8(sp)
	ld x17, 17*8(sp)
	ld x18, 18*8(sp)
	ld x19, 19*8(sp)
	ld x20, 20*8(sp)
	ld x21, 21*8(sp)
	ld x22, 22*8(sp)
	ld x23, 23*8(sp)
	ld x24, 24*8(sp)
	ld x25, 25*8(sp)
	ld x26, 26*8(sp)
	ld x27, 27*8(sp)
	ld x28, 28*8(sp)
	ld x29, 29*8(sp)
	ld x30, 30*8(sp)
	ld x31, 31*8(sp)
	.endm

	/* \x = m or s.  Entered with sp = frame, the interrupted sp in
	 * \x\()scratch and t0 (already saved) = vector slot or -1. */
	.macro TRAP_BODY x, level
	sd t0, FRAME_SLOT(sp)
	SAVE_FRAME
	csrr t0, \x\()scratch
	sd t0, 2*8(sp)
	csrw \x\()scratch, sp
	csrr t0, \x\()cause
	sd t0, FRAME_CAUSE(sp)
	csrr t0, \x\()epc
	sd t0, FRAME_EPC(sp)
	csrr t0, \x\()tval
	sd t0, FRAME_TVAL(sp)
	csrr t0, \x\()status
	sd t0, FRAME_STATUS(sp)
	mv a0, sp
	li a1, \level
	call env_trap
	ld t0, FRAME_EPC(sp)
	csrw \x\()epc, t0
	ld t0, FRAME_STATUS(sp)
	csrw \x\()status, t0
	RESTORE_FRAME
	ld sp, 2*8(sp)
	\x\()ret
	.endm

	.align 2
	.globl trap_entry_m
trap_entry_m:
	csrrw sp, mscratch, sp
	sd t0, 5*8(sp)
	li t0, -1
trap_body_m:
	TRAP_BODY m, PRIV_M

	.align 2
	.globl trap_entry_s
trap_entry_s:
	csrrw sp, sscratch, sp
	sd t0, 5*8(sp)
	li t0, -1
trap_body_s:
	TRAP_BODY s, PRIV_S

/* Vector tables for xtvec MODE=1.  Slot k (interrupt cause k) records k in
 * the frame so a test can see which slot was used.  The slots must stay
 * 4-byte jumps, hence norvc. */
	.macro VECTOR_TABLE x
	.option push
	.option norvc
	.align 8
	.globl trap_vector_\x
trap_vector_\x:
	j trap_entry_\x
	.irp k, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	j vec_\x\()_\k
	.endr
	.irp k, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
vec_\x\()_\k:
	csrrw sp, \x\()scratch, sp
	sd t0, 5*8(sp)
	li t0, \k
	j trap_body_\x
	.endr
	.option pop
	.endm

	VECTOR_TABLE m
	VECTOR_TABLE s

/* ---- probes: run a short stub at another privilege level ----
 * long probe_run(long priv, void *stub, uint64_t a1, uint64_t a2, uint64_t a3)
 * enters `stub` at `priv` (through mret, so translation and permissions
 * are those of that mode) with a1..a3 set, and returns to the caller when
 * the stub traps to M, normally through its final ecall.  Returns the
 * trap cause; the stub's a0 is left in probe_value.  M-mode only. */
	.globl probe_run
probe_run:
	la t0, probe_ctx
	sd ra, 0(t0)
	sd sp, 8(t0)
	sd s0, 16(t0)
	sd s1, 24(t0)
	sd s2, 32(t0)
	sd s3, 40(t0)
	sd s4, 48(t0)
	sd s5, 56(t0)
	sd s6, 64(t0)
	sd s7, 72(t0)
	sd s8, 80(t0)
	sd s9, 88(t0)
	sd s10, 96(t0)
	sd s11, 104(t0)
	la t0, trap_m
	li t1, TRAP_RESUME
	sd t1, TL_MODE(t0)
	la t1, probe_back
	sd t1, TL_RESUME(t0)
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	slli a0, a0, 11
	csrs mstatus, a0
	csrw mepc, a1
	mv a1, a2
	mv a2, a3
	mv a3, a4
	mret
probe_back:
	li t0, MSTATUS_MPRV
	csrc mstatus, t0
	la t0, probe_value
	sd a0, 0(t0)
	la t0, probe_ctx
	ld ra, 0(t0)
	ld sp, 8(t0)
	ld s0, 16(t0)
	ld s1, 24(t0)
	ld s2, 32(t0)
	ld s3, 40(t0)
	ld s4, 48(t0)
	ld s5, 56(t0)
	ld s6, 64(t0)
	ld s7, 72(t0)
	ld s8, 80(t0)
	ld s9, 88(t0)
	ld s10, 96(t0)
	ld s11, 104(t0)
	la t0, trap_m
	ld a0, TL_CAUSE(t0)
	ret

/* The stubs: a1 = address, a2 = value to store.  Each ends in ecall. */
	.macro STUB name, insn:vararg
	.globl \name
	.align 2
\name:
	\insn
	ecall
	.endm
	STUB stub_lb, lb a0, 0(a1)
	STUB stub_lbu, lbu a0, 0(a1)
	STUB stub_lh, lh a0, 0(a1)
	STUB stub_lw, lw a0, 0(a1)
	STUB stub_ld, ld a0, 0(a1)
	STUB stub_sb, sb a2, 0(a1)
	STUB stub_sw, sw a2, 0(a1)
	STUB stub_sd, sd a2, 0(a1)
	STUB stub_amoadd_d, amoadd.d a0, a2, (a1)
	STUB stub_lr_d, lr.d a0, (a1)
	STUB stub_nop, nop
	/* exec: jump to a1; the code there must end with an ecall */
	STUB stub_jump, jalr a1
	/* Run in M-mode: with MPRV=1, loads/stores act as the privilege
	 * in a3 (already shifted into the MPP field). */
	.globl stub_mprv_ld, stub_mprv_sd
	.align 2
stub_mprv_ld:
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	csrs mstatus, a3
	li t0, MSTATUS_MPRV
	csrs mstatus, t0
	ld a0, 0(a1)
	csrc mstatus, t0
	ecall
	.align 2
stub_mprv_sd:
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	csrs mstatus, a3
	li t0, MSTATUS_MPRV
	csrs mstatus, t0
	sd a2, 0(a1)
	csrc mstatus, t0
	ecall

	.bss
	.align 4
	.globl probe_value
probe_ctx:
	.skip 14 * 8
probe_value:
	.skip 8
	.align 4
	.skip 8192
	.globl main_stack_top
main_stack_top:
	.skip 8192
m_frame:
	.skip FRAME_SIZE
	.skip 8192
s_frame:
	.skip FRAME_SIZE

	.data
	.globl env_reset_mstatus
env_reset_mstatus:
	.dword 0

	.section .tohost, "aw", @progbits
	.align 6
	.globl tohost
	.type tohost, @object
	.size tohost, 8
tohost:
	.dword 0
	.align 6
	.globl fromhost
	.type fromhost, @object
	.size fromhost, 8
fromhost:
	.dword 0
