/* Control and status registers: the CSR instructions' read/modify/write
 * semantics, identity CSRs (misa = RV64IMAFDC+S+U, mhartid = 0), read-only
 * CSRs (writing is illegal, reading with rs1 = x0 is not), privilege
 * checks on CSR numbers, the counters and their mcounteren/scounteren
 * gating from S and U, mcountinhibit, sstatus as a view of mstatus, sie/sip
 * as views of mie/mip masked by mideleg, the WARL masks of mideleg and
 * medeleg, and xepc bit 0.
 *
 * Several cases assert the spec (and keel) where QEMU 7.2 differs: QEMU's
 * spike board has no time CSR, its instret is not an exact instruction
 * count (case 51), mideleg also takes VS/LCOFI bits, medeleg[11] is
 * writable, xepc keeps bit 0 and mstatus.MPP accepts 2. */
#include "test.h"

	TEST_BEGIN

	/* ---- CSR instruction semantics, on mscratch (restored after) ---- */
	CASE 2
	csrr s0, mscratch
	li a1, 0x00ff00ff00ff00ff
	csrrw a0, mscratch, a1
	CHECK_REG a0, s0
	li a2, 0x0f0f
	csrrs a0, mscratch, a2
	CHECK a0, 0x00ff00ff00ff00ff
	CHECK_CSR mscratch, 0x00ff00ff00ff0fff
	li a2, 0xf0
	csrrc a0, mscratch, a2
	CHECK a0, 0x00ff00ff00ff0fff
	CHECK_CSR mscratch, 0x00ff00ff00ff0f0f
	csrrwi a0, mscratch, 0x15
	CHECK a0, 0x00ff00ff00ff0f0f
	csrrsi a0, mscratch, 0x0a
	CHECK a0, 0x15
	csrrci a0, mscratch, 0x11
	CHECK a0, 0x1f
	CHECK_CSR mscratch, 0x0e
	/* rd == rs1 */
	li a3, 0x77
	csrrw a3, mscratch, a3
	CHECK a3, 0x0e
	CHECK_CSR mscratch, 0x77
	csrw mscratch, s0

	/* ---- identity ---- */
	CASE 10
	CHECK_CSR misa, MISA_RV64GC_SU
	CHECK_CSR mhartid, 0
	csrr a0, mvendorid
	csrr a0, marchid
	csrr a0, mimpid
	/* mstatus.SXL and UXL say 64 bits */
	csrr a0, mstatus
	li a1, MSTATUS_SXL | MSTATUS_UXL
	and a0, a0, a1
	CHECK a0, 0xa00000000

	/* ---- read-only CSRs ---- */
	CASE 20
	csrrs a0, mhartid, x0	/* reading is fine */
	csrrsi a0, mhartid, 0
	csrrc a0, mhartid, x0
	csrrci a0, mhartid, 0
	csrr a0, cycle
	TEST_ILLEGAL 21, csrw mhartid, zero
	TEST_ILLEGAL 22, csrrwi a0, mhartid, 0	/* csrrw always writes */
	li a1, 1
	TEST_ILLEGAL 23, csrrs a0, mhartid, a1
	TEST_ILLEGAL 24, csrrci a0, mvendorid, 1
	TEST_ILLEGAL 25, csrw cycle, zero	/* user counters are read-only */
	TEST_ILLEGAL 26, csrw instret, a1
	TEST_ILLEGAL 27, csrw time, a1

	/* ---- privilege of CSR numbers ---- */
	TEST_ILLEGAL_IN PRIV_S, 30, csrr a0, mhartid
	TEST_ILLEGAL_IN PRIV_S, 31, csrr a0, mepc
	TEST_ILLEGAL_IN PRIV_S, 32, csrw mscratch, zero
	TEST_ILLEGAL_IN PRIV_S, 33, csrr a0, misa
	TEST_ILLEGAL_IN PRIV_S, 34, csrr a0, mcycle
	TEST_ILLEGAL_IN PRIV_U, 35, csrr a0, sscratch
	TEST_ILLEGAL_IN PRIV_U, 36, csrr a0, sstatus
	TEST_ILLEGAL_IN PRIV_U, 37, csrr a0, mstatus
	TEST_ILLEGAL_IN PRIV_U, 38, csrr a0, satp
	TEST_LEGAL_IN PRIV_S, 39, csrr a0, sstatus
	TEST_LEGAL_IN PRIV_S, 40, csrr a0, sepc
	TEST_LEGAL_IN PRIV_S, 41, csrr a0, stvec
	TEST_LEGAL_IN PRIV_S, 42, csrr a0, satp
	CASE 43
	/* S can use sscratch (restored: the environment keeps its S frame
	 * pointer there) */
	csrr s0, sscratch
	EXPECT_TRAP 1f
	GOTO_PRIV PRIV_S, 2f
2:	li a1, 0x5a
	csrrw a0, sscratch, a1
	csrr a2, sscratch
	ecall
1:	CHECK_REG a0, s0
	CHECK a2, 0x5a
	csrw sscratch, s0

	/* ---- counters ---- */
	CASE 50
	csrr a0, mcycle
	csrr a1, cycle
	csrr a2, minstret
	csrr a3, instret
	csrr a4, time
	bltu a1, a0, fail	/* monotonic */
	bltu a3, a2, fail
	/* instret and cycle advance over a loop of 1000 iterations; so
	 * does time (keel derives it from the instruction count) */
	li a5, 1000
1:	addi a5, a5, -1
	bnez a5, 1b
	csrr a5, minstret
	sub a5, a5, a2
	li a6, 2000
	bltu a5, a6, fail
	csrr a5, mcycle
	bleu a5, a0, fail
	csrr a5, time
	bleu a5, a4, fail
	CASE 51
	/* minstret is writable; then keeps counting from the new value */
	li a0, 0x100000
	csrw minstret, a0
	csrr a1, minstret
	sub a1, a1, a0
	li a2, 10
	bgeu a1, a2, fail
	CASE 52
	/* mcountinhibit.IR stops minstret, if the bit is implemented (the
	 * register is WARL; keel may hardwire it to zero) */
	csrwi CSR_MCOUNTINHIBIT, 4
	csrr a0, CSR_MCOUNTINHIBIT
	beqz a0, 2f
	csrr a0, minstret
	nop
	nop
	csrr a1, minstret
	CHECK_REG a1, a0
	csrwi CSR_MCOUNTINHIBIT, 0
	nop
	csrr a1, minstret
	bleu a1, a0, fail
2:

	/* gating from S: mcounteren */
	CASE 60
	csrwi mcounteren, 0
	csrwi scounteren, 0
	TEST_ILLEGAL_IN PRIV_S, 61, csrr a0, cycle
	TEST_ILLEGAL_IN PRIV_S, 62, csrr a0, time
	TEST_ILLEGAL_IN PRIV_S, 63, csrr a0, instret
	TEST_ILLEGAL_IN PRIV_U, 64, csrr a0, cycle
	csrwi mcounteren, 1	/* CY only */
	CHECK_CSR mcounteren, 1
	TEST_LEGAL_IN PRIV_S, 65, csrr a0, cycle
	TEST_ILLEGAL_IN PRIV_S, 66, csrr a0, time
	TEST_ILLEGAL_IN PRIV_S, 67, csrr a0, instret
	csrwi mcounteren, 7
	TEST_LEGAL_IN PRIV_S, 68, csrr a0, time
	TEST_LEGAL_IN PRIV_S, 69, csrr a0, instret
	/* gating from U: both mcounteren and scounteren */
	TEST_ILLEGAL_IN PRIV_U, 70, csrr a0, cycle
	TEST_ILLEGAL_IN PRIV_U, 71, csrr a0, time
	csrwi scounteren, 2	/* TM only */
	CHECK_CSR scounteren, 2
	TEST_LEGAL_IN PRIV_U, 72, csrr a0, time
	TEST_ILLEGAL_IN PRIV_U, 73, csrr a0, instret
	csrwi scounteren, 7
	TEST_LEGAL_IN PRIV_U, 74, csrr a0, instret
	TEST_LEGAL_IN PRIV_U, 75, csrr a0, cycle
	csrwi mcounteren, 5	/* TM cleared in M's mask: U loses it too */
	TEST_ILLEGAL_IN PRIV_U, 76, csrr a0, time
	TEST_LEGAL_IN PRIV_U, 77, csrr a0, cycle
	/* scounteren is an S CSR: S may write it, U may not read it */
	TEST_LEGAL_IN PRIV_S, 78, csrwi scounteren, 0
	TEST_ILLEGAL_IN PRIV_U, 79, csrr a0, scounteren
	csrwi mcounteren, 0
	csrwi scounteren, 0

	/* ---- sstatus is a window on mstatus ---- */
	CASE 80
	csrr a0, mstatus
	csrr a1, sstatus
	li a2, SSTATUS_MASK
	and a0, a0, a2
	CHECK_REG a1, a0
	CASE 81
	/* writing sstatus changes the S fields of mstatus only */
	csrr s0, mstatus
	li a0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_MPRV | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
	csrc mstatus, a0	/* MPP = U now */
	li a0, MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR
	csrs sstatus, a0
	li a0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPRV | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR | MSTATUS_MPP
	csrs sstatus, a0	/* none of these are visible through sstatus */
	csrr a1, mstatus
	and a2, a1, a0
	CHECK a2, 0
	li a0, MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR
	and a2, a1, a0
	CHECK_REG a2, a0
	CASE 82
	/* and mstatus writes show in sstatus */
	li a0, MSTATUS_SPP | MSTATUS_SUM
	csrc mstatus, a0
	csrr a1, sstatus
	and a2, a1, a0
	CHECK a2, 0
	li a0, MSTATUS_SPIE | MSTATUS_MXR
	csrc sstatus, a0
	csrw mstatus, s0

	/* ---- mideleg / medeleg WARL masks ---- */
	CASE 90
	li a0, -1
	csrw mideleg, a0
	CHECK_CSR mideleg, MIP_SSIP | MIP_STIP | MIP_SEIP
	csrw mideleg, zero
	CASE 91
	li a0, -1
	csrw medeleg, a0
	csrr a1, medeleg
	li a2, 1 << CAUSE_ECALL_M	/* M-mode ecall never delegates */
	and a3, a1, a2
	CHECK a3, 0
	li a2, (1 << CAUSE_ILLEGAL) | (1 << CAUSE_BREAKPOINT) | (1 << CAUSE_ECALL_U) | (1 << CAUSE_LOAD_PAGE_FAULT) | (1 << CAUSE_STORE_PAGE_FAULT) | (1 << CAUSE_FETCH_PAGE_FAULT)
	and a3, a1, a2
	CHECK_REG a3, a2
	csrw medeleg, zero

	/* ---- sie and sip: views of mie and mip through mideleg ---- */
	CASE 100
	csrw mie, zero
	li a0, -1
	csrw sie, a0	/* nothing delegated: nothing writable */
	CHECK_CSR sie, 0
	CHECK_CSR mie, 0
	CASE 101
	li a0, MIP_SSIP | MIP_STIP | MIP_SEIP
	csrw mideleg, a0
	li a0, -1
	csrw sie, a0
	CHECK_CSR sie, MIP_SSIP | MIP_STIP | MIP_SEIP
	CHECK_CSR mie, MIP_SSIP | MIP_STIP | MIP_SEIP
	li a0, MIP_STIP
	csrc mie, a0
	CHECK_CSR sie, MIP_SSIP | MIP_SEIP
	CASE 102
	li a0, MIP_SSIP
	csrw mideleg, a0	/* only SSIP delegated now */
	CHECK_CSR sie, MIP_SSIP
	csrw mie, zero
	CASE 103
	/* mip.SSIP from M shows in sip when delegated; sip.SSIP is
	 * writable; STIP/SEIP are not writable through sip */
	csrsi mip, MIP_SSIP
	CHECK_CSR sip, MIP_SSIP
	csrci sip, MIP_SSIP
	csrr a0, mip
	andi a0, a0, MIP_SSIP
	CHECK a0, 0
	li a0, MIP_STIP | MIP_SEIP
	csrw mideleg, a0
	csrs sip, a0
	csrr a0, mip
	andi a0, a0, MIP_STIP | MIP_SEIP
	CHECK a0, 0
	/* with SSIP not delegated, sip.SSIP reads 0 even when pending */
	csrsi mip, MIP_SSIP
	csrr a0, sip
	andi a0, a0, MIP_SSIP
	CHECK a0, 0
	/* and M can set STIP/SEIP in mip, seen in sip when delegated */
	li a0, MIP_STIP | MIP_SEIP
	csrs mip, a0
	CHECK_CSR sip, MIP_STIP | MIP_SEIP
	li a0, MIP_SSIP | MIP_STIP | MIP_SEIP
	csrc mip, a0
	CHECK_CSR sip, 0
	csrw mideleg, zero

	/* ---- xepc never holds an odd address ---- */
	CASE 110
	li a0, 0x80001233
	csrw mepc, a0
	CHECK_CSR mepc, 0x80001232
	csrw sepc, a0
	CHECK_CSR sepc, 0x80001232

	/* ---- mstatus.MPP is WARL: the reserved value 2 does not stick ---- */
	CASE 111
	csrr s0, mstatus
	li a0, MSTATUS_MPP
	csrc mstatus, a0
	li a0, 0x1000	/* MPP = 2 */
	csrs mstatus, a0
	csrr a1, mstatus
	li a0, MSTATUS_MPP
	and a1, a1, a0
	li a2, 0x1000
	beq a1, a2, fail
	csrw mstatus, s0

	TEST_END
