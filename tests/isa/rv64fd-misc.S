/* RV64F/D beyond arithmetic: FP loads and stores (also misaligned, which
 * keel emulates), fmv between register files, NaN-boxing of singles
 * (results are boxed; an improperly boxed input reads as the canonical
 * NaN, except for the transfers fsw/fmv.x.w), fcvt.s.d/fcvt.d.s, the
 * fcsr/frm/fflags CSRs and their pseudo-instructions, accrual of flags,
 * dynamic rounding through frm, illegal rounding modes, and mstatus.FS:
 * reset value Off, FP instructions and FP CSRs illegal while Off (mtval =
 * the instruction), writes to FP state making FS Dirty and SD set. */
#include "test.h"

/* single from double: fcvt.s.d with a static rounding mode */
	.macro TEST_S_FROM_D n, flags, result, a, rm
	CASE \n
	FP_LOAD_D ft0, \a
	FP_RUN fcvt.s.d ft3, ft0, \rm
	fmv.x.d a0, ft3
	li t0, 0xffffffff00000000 | \result
	CHECK_REG a0, t0
	CHECK a1, \flags
	.endm

/* double from single (always exact) */
	.macro TEST_D_FROM_S n, flags, result, a
	CASE \n
	FP_LOAD_S ft0, \a
	FP_RUN fcvt.d.s ft3, ft0
	fmv.x.d a0, ft3
	CHECK a0, \result
	CHECK a1, \flags
	.endm

	TEST_BEGIN

	/* FS was Off at reset (crt.S turned it on before calling us) */
	CASE 2
	LOAD_VAR a0, env_reset_mstatus
	li a1, MSTATUS_FS
	and a0, a0, a1
	CHECK a0, 0

	/* ---- loads and stores ---- */
	CASE 3
	la a1, fdata
	fld ft0, 0(a1)
	fmv.x.d a0, ft0
	CHECK a0, 0x400921fb54442d18
	fld ft1, 8(a1)
	fmv.x.d a0, ft1
	CHECK a0, 0xfff0000000000001	/* a signalling NaN loads unchanged */
	fsd ft0, 16(a1)
	ld a0, 16(a1)
	CHECK a0, 0x400921fb54442d18
	fsd ft1, 24(a1)
	ld a0, 24(a1)
	CHECK a0, 0xfff0000000000001

	/* flw NaN-boxes; fsw writes exactly 32 bits */
	CASE 4
	flw ft2, 32(a1)
	fmv.x.d a0, ft2
	CHECK a0, 0xffffffff7f800001
	li a2, -1
	sd a2, 40(a1)
	fsw ft2, 40(a1)
	ld a0, 40(a1)
	CHECK a0, 0xffffffff7f800001
	flw ft2, 36(a1)		/* upper word of the pair: 0x40490fdb */
	fsw ft2, 44(a1)
	ld a0, 40(a1)
	CHECK a0, 0x40490fdb7f800001

	/* negative offsets */
	CASE 5
	addi a2, a1, 64
	fld ft3, -64(a2)
	fmv.x.d a0, ft3
	CHECK a0, 0x400921fb54442d18
	fsd ft3, -8(a2)
	ld a0, 56(a1)
	CHECK a0, 0x400921fb54442d18

	/* misaligned FP loads and stores are emulated like integer ones */
	CASE 6
	li a2, 0x1122334455667788
	sd a2, 48(a1)
	sd zero, 56(a1)
	fld ft4, 49(a1)
	fmv.x.d a0, ft4
	CHECK a0, 0x0011223344556677
	flw ft4, 50(a1)
	fmv.x.d a0, ft4
	CHECK a0, 0xffffffff33445566
	li a2, 0xa1b2c3d4e5f60718
	fmv.d.x ft5, a2
	fsd ft5, 51(a1)
	ld a0, 48(a1)
	CHECK a0, 0xd4e5f60718667788
	ld a0, 56(a1)
	CHECK a0, 0x0000000000a1b2c3
	sd zero, 64(a1)
	fsw ft5, 61(a1)		/* crosses into the next doubleword */
	ld a0, 56(a1)
	CHECK a0, 0xf607180000a1b2c3
	ld a0, 64(a1)
	CHECK a0, 0xe5

	/* across a page boundary */
	CASE 7
	la a1, fpage_end
	li a2, 0x0102030405060708
	sd a2, -8(a1)
	li a2, 0x1112131415161718
	sd a2, 0(a1)
	fld ft4, -3(a1)
	fmv.x.d a0, ft4
	CHECK a0, 0x1415161718010203
	flw ft4, -2(a1)
	fmv.x.d a0, ft4
	CHECK a0, 0xffffffff17180102
	fsd ft4, -5(a1)
	ld a0, -8(a1)
	CHECK a0, 0xff17180102060708
	ld a0, 0(a1)
	CHECK a0, 0x1112131415ffffff

	/* ---- moves between register files ---- */
	CASE 10
	li a2, 0x123456789abcdef0
	fmv.d.x ft0, a2
	fmv.x.d a0, ft0
	CHECK a0, 0x123456789abcdef0
	/* fmv.w.x takes the low 32 bits and boxes them */
	fmv.w.x ft1, a2
	fmv.x.d a0, ft1
	CHECK a0, 0xffffffff9abcdef0
	/* fmv.x.w sign-extends bit 31 */
	fmv.x.w a0, ft1
	CHECK a0, 0xffffffff9abcdef0
	li a2, 0x7fc00001
	fmv.w.x ft1, a2
	fmv.x.w a0, ft1
	CHECK a0, 0x7fc00001
	/* moves keep NaN payloads and raise nothing */
	CASE 11
	csrw fflags, zero
	li a2, 0x7ff0000000000123
	fmv.d.x ft2, a2
	fmv.x.d a0, ft2
	CHECK a0, 0x7ff0000000000123
	csrr a0, fflags
	CHECK a0, 0
	/* moves to x0 */
	fmv.x.d x0, ft2
	CHECK x0, 0

	/* the destination may be a source */
	CASE 12
	FP_LOAD_D ft0, 0x4008000000000000	/* 3.0 */
	fadd.d ft0, ft0, ft0
	fmul.d ft0, ft0, ft0
	fmv.x.d a0, ft0
	CHECK a0, 0x4042000000000000	/* 36.0 */
	FP_LOAD_D ft1, 0x3ff0000000000000
	fmadd.d ft1, ft1, ft0, ft1	/* 1 * 36 + 1 */
	fmv.x.d a0, ft1
	CHECK a0, 0x4042800000000000	/* 37.0 */
	fsgnjn.d ft1, ft1, ft1	/* fneg */
	fmv.x.d a0, ft1
	CHECK a0, 0xc042800000000000

	/* ---- NaN boxing ---- */
	/* ft0: a double whose upper half is not all ones, so as a single it
	 * is not properly boxed and must read as the canonical NaN */
	CASE 20
	li a2, 0x000000003f800000
	fmv.d.x ft0, a2
	li a2, 0xffffffff3f800000	/* 1.0f, boxed */
	fmv.d.x ft1, a2
	FP_RUN fadd.s ft3, ft0, ft1
	fmv.x.d a0, ft3
	CHECK a0, 0xffffffff7fc00000
	CHECK a1, 0	/* canonical NaN is quiet: no NV */
	CASE 21
	FP_RUN fmin.s ft3, ft0, ft1
	fmv.x.d a0, ft3
	CHECK a0, 0xffffffff3f800000
	CHECK a1, 0
	CASE 22
	li a2, 0xffffffffbf800000	/* -1.0f */
	fmv.d.x ft2, a2
	fsgnj.s ft3, ft0, ft2
	fmv.x.d a0, ft3
	CHECK a0, 0xffffffffffc00000
	fsgnjx.s ft3, ft2, ft0	/* sign of the canonical NaN is + */
	fmv.x.d a0, ft3
	CHECK a0, 0xffffffffbf800000
	CASE 23
	fclass.s a0, ft0
	CHECK a0, 0x200
	CASE 24
	FP_RUN feq.s a0, ft0, ft0
	CHECK a0, 0
	CHECK a1, 0
	CASE 25
	FP_RUN fcvt.d.s ft3, ft0
	fmv.x.d a0, ft3
	CHECK a0, 0x7ff8000000000000
	CHECK a1, 0
	CASE 26
	FP_RUN fcvt.w.s a0, ft0, rtz
	CHECK a0, 0x7fffffff
	CHECK a1, FF_NV
	/* almost boxed is still not boxed */
	CASE 27
	li a2, 0xfffffffe3f800000
	fmv.d.x ft0, a2
	fclass.s a0, ft0
	CHECK a0, 0x200
	/* the transfers do not check: fmv.x.w and fsw move the low bits */
	CASE 28
	li a2, 0x12345678c0000000
	fmv.d.x ft0, a2
	fmv.x.w a0, ft0
	CHECK a0, 0xffffffffc0000000
	la a1, fdata
	fsw ft0, 40(a1)
	lwu a0, 40(a1)
	CHECK a0, 0xc0000000
	/* a single-precision fmadd writes a boxed result */
	CASE 29
	li a2, 0xffffffff40000000	/* 2.0f */
	fmv.d.x ft1, a2
	fmadd.s ft3, ft1, ft1, ft1
	fmv.x.d a0, ft3
	CHECK a0, 0xffffffff40c00000

	/* ---- fcvt between precisions ---- */
	TEST_S_FROM_D 100, FF_NX, 0x3dcccccd, 0x3fb999999999999a, rne	/* 0.1 rne */
	TEST_S_FROM_D 101, FF_NX, 0x3dcccccc, 0x3fb999999999999a, rtz	/* 0.1 rtz */
	TEST_S_FROM_D 102, FF_NX, 0x3dcccccc, 0x3fb999999999999a, rdn	/* 0.1 rdn */
	TEST_S_FROM_D 103, FF_NX, 0x3dcccccd, 0x3fb999999999999a, rup	/* 0.1 rup */
	TEST_S_FROM_D 104, FF_NX, 0x3dcccccd, 0x3fb999999999999a, rmm	/* 0.1 rmm */
	TEST_S_FROM_D 105, FF_NX, 0xbdcccccd, 0xbfb999999999999a, rne	/* -0.1 rne */
	TEST_S_FROM_D 106, FF_NX, 0xbdcccccc, 0xbfb999999999999a, rtz	/* -0.1 rtz */
	TEST_S_FROM_D 107, FF_NX, 0xbdcccccd, 0xbfb999999999999a, rdn	/* -0.1 rdn */
	TEST_S_FROM_D 108, FF_NX, 0xbdcccccc, 0xbfb999999999999a, rup	/* -0.1 rup */
	TEST_S_FROM_D 109, FF_NX, 0xbdcccccd, 0xbfb999999999999a, rmm	/* -0.1 rmm */
	TEST_S_FROM_D 110, FF_OF|FF_NX, 0x7f800000, 0x48078287f49c4a1d, rne	/* 1e39 rne */
	TEST_S_FROM_D 111, FF_OF|FF_NX, 0x7f7fffff, 0x48078287f49c4a1d, rtz	/* 1e39 rtz */
	TEST_S_FROM_D 112, FF_OF|FF_NX, 0x7f7fffff, 0x48078287f49c4a1d, rdn	/* 1e39 rdn */
	TEST_S_FROM_D 113, FF_OF|FF_NX, 0x7f800000, 0x48078287f49c4a1d, rup	/* 1e39 rup */
	TEST_S_FROM_D 114, FF_OF|FF_NX, 0x7f800000, 0x48078287f49c4a1d, rmm	/* 1e39 rmm */
	TEST_S_FROM_D 115, FF_OF|FF_NX, 0xff800000, 0xc8078287f49c4a1d, rne	/* -1e39 rne */
	TEST_S_FROM_D 116, FF_OF|FF_NX, 0xff7fffff, 0xc8078287f49c4a1d, rtz	/* -1e39 rtz */
	TEST_S_FROM_D 117, FF_OF|FF_NX, 0xff800000, 0xc8078287f49c4a1d, rdn	/* -1e39 rdn */
	TEST_S_FROM_D 118, FF_OF|FF_NX, 0xff7fffff, 0xc8078287f49c4a1d, rup	/* -1e39 rup */
	TEST_S_FROM_D 119, FF_OF|FF_NX, 0xff800000, 0xc8078287f49c4a1d, rmm	/* -1e39 rmm */
	TEST_S_FROM_D 120, FF_UF|FF_NX, 0x0, 0x366244ce242c5561, rne	/* 1e-46 rne */
	TEST_S_FROM_D 121, FF_UF|FF_NX, 0x0, 0x366244ce242c5561, rtz	/* 1e-46 rtz */
	TEST_S_FROM_D 122, FF_UF|FF_NX, 0x0, 0x366244ce242c5561, rdn	/* 1e-46 rdn */
	TEST_S_FROM_D 123, FF_UF|FF_NX, 0x1, 0x366244ce242c5561, rup	/* 1e-46 rup */
	TEST_S_FROM_D 124, FF_UF|FF_NX, 0x0, 0x366244ce242c5561, rmm	/* 1e-46 rmm */
	TEST_S_FROM_D 125, 0, 0x3fc00000, 0x3ff8000000000000, rne	/* 1.5 rne */
	TEST_S_FROM_D 126, 0, 0x80000000, 0x8000000000000000, rne	/* -0 rne */
	TEST_S_FROM_D 127, 0, 0x7f800000, 0x7ff0000000000000, rne	/* inf rne */
	TEST_S_FROM_D 128, 0, 0x7fc00000, 0x7ff800000000dead, rne	/* qnan+payload rne */
	TEST_S_FROM_D 129, FF_NV, 0x7fc00000, 0x7ff0000000000001, rne	/* snan rne */
	TEST_S_FROM_D 130, 0, 0x1, 0x36a0000000000000, rne	/* 2^-149 rne */
	TEST_S_FROM_D 131, FF_UF|FF_NX, 0x0, 0x3690000000000000, rne	/* 2^-150 rne */
	TEST_S_FROM_D 132, FF_UF|FF_NX, 0x0, 0x3690000000000000, rtz	/* 2^-150 rtz */
	TEST_S_FROM_D 133, FF_UF|FF_NX, 0x0, 0x3690000000000000, rdn	/* 2^-150 rdn */
	TEST_S_FROM_D 134, FF_UF|FF_NX, 0x1, 0x3690000000000000, rup	/* 2^-150 rup */
	TEST_S_FROM_D 135, FF_UF|FF_NX, 0x1, 0x3690000000000000, rmm	/* 2^-150 rmm */
	TEST_S_FROM_D 136, FF_OF|FF_NX, 0x7f800000, 0x47f0000000000000, rne	/* max single + half ulp rne */
	TEST_S_FROM_D 137, FF_OF|FF_NX, 0x7f7fffff, 0x47f0000000000000, rtz	/* max single + half ulp rtz */
	TEST_S_FROM_D 138, FF_OF|FF_NX, 0x7f7fffff, 0x47f0000000000000, rdn	/* max single + half ulp rdn */
	TEST_S_FROM_D 139, FF_OF|FF_NX, 0x7f800000, 0x47f0000000000000, rup	/* max single + half ulp rup */
	TEST_S_FROM_D 140, FF_OF|FF_NX, 0x7f800000, 0x47f0000000000000, rmm	/* max single + half ulp rmm */
	TEST_D_FROM_S 140, 0, 0x3ff8000000000000, 0x3fc00000	/* 1.5 */
	TEST_D_FROM_S 141, 0, 0x8000000000000000, 0x80000000	/* -0 */
	TEST_D_FROM_S 142, 0, 0x36a0000000000000, 0x1	/* minsub */
	TEST_D_FROM_S 143, 0, 0xc7efffffe0000000, 0xff7fffff	/* -max */
	TEST_D_FROM_S 144, 0, 0x7ff0000000000000, 0x7f800000	/* inf */
	TEST_D_FROM_S 145, 0, 0x7ff8000000000000, 0x7fc01234	/* qnan+payload */
	TEST_D_FROM_S 146, FF_NV, 0x7ff8000000000000, 0x7f800001	/* snan */
	TEST_D_FROM_S 147, FF_NV, 0x7ff8000000000000, 0xff800001	/* -snan */

	/* ---- fcsr, frm, fflags ---- */
	CASE 200
	csrw fcsr, zero
	CHECK_CSR fcsr, 0
	li a2, 0xff
	csrw fcsr, a2
	CHECK_CSR fcsr, 0xff
	CHECK_CSR frm, 7
	CHECK_CSR fflags, 0x1f
	/* bits above 7 are not writable */
	li a2, -1
	csrw fcsr, a2
	CHECK_CSR fcsr, 0xff
	CASE 201
	csrw fflags, zero
	CHECK_CSR fcsr, 0xe0
	li a2, 0xfffffff1
	csrw frm, a2
	CHECK_CSR frm, 1
	CHECK_CSR fcsr, 0x20
	csrw fflags, 0x1f
	CHECK_CSR fcsr, 0x3f
	csrw frm, zero
	CHECK_CSR fcsr, 0x1f
	CASE 202
	/* the pseudo-instructions: swap returns the old value */
	li a2, 3
	fsrm a0, a2
	CHECK a0, 0
	frrm a0
	CHECK a0, 3
	fsflags a0, zero
	CHECK a0, 0x1f
	frflags a0
	CHECK a0, 0
	fsrmi a0, 4
	CHECK a0, 3
	fsflagsi a0, FF_NX | FF_DZ
	CHECK a0, 0
	frcsr a0
	CHECK a0, 0x89
	fscsr a0, zero
	CHECK a0, 0x89
	CHECK_CSR fcsr, 0
	CASE 203
	/* csrs/csrc on fflags */
	csrsi fflags, FF_OF
	csrsi fflags, FF_UF
	csrci fflags, FF_OF
	CHECK_CSR fflags, FF_UF

	/* flags accrue: later operations only add bits */
	CASE 210
	csrw fflags, zero
	FP_LOAD_D ft0, 0x3ff0000000000000	/* 1.0 */
	FP_LOAD_D ft1, 0x0000000000000000	/* 0.0 */
	FP_LOAD_D ft2, 0x4008000000000000	/* 3.0 */
	fdiv.d ft3, ft0, ft1	/* DZ */
	fdiv.d ft3, ft0, ft2	/* NX */
	fadd.d ft3, ft0, ft0	/* exact: adds nothing */
	CHECK_CSR fflags, FF_DZ | FF_NX

	/* dynamic rounding follows frm */
	CASE 211
	csrwi frm, RM_RTZ
	fdiv.d ft3, ft0, ft2, dyn
	fmv.x.d a0, ft3
	CHECK a0, 0x3fd5555555555555
	csrwi frm, RM_RUP
	fdiv.d ft3, ft0, ft2
	fmv.x.d a0, ft3
	CHECK a0, 0x3fd5555555555556
	csrwi frm, RM_RDN
	FP_LOAD_D ft4, 0xbff0000000000000	/* -1.0 */
	fdiv.d ft3, ft4, ft2
	fmv.x.d a0, ft3
	CHECK a0, 0xbfd5555555555556
	CASE 212
	/* RMM through frm: 1 + 2^-53 is a tie, rounds away from zero */
	csrwi frm, RM_RMM
	FP_LOAD_D ft5, 0x3ca0000000000000	/* 2^-53 */
	fadd.d ft3, ft0, ft5
	fmv.x.d a0, ft3
	CHECK a0, 0x3ff0000000000001
	csrwi frm, RM_RNE
	fadd.d ft3, ft0, ft5
	fmv.x.d a0, ft3
	CHECK a0, 0x3ff0000000000000
	/* a static mode overrides frm */
	csrwi frm, RM_RUP
	fadd.d ft3, ft0, ft5, rtz
	fmv.x.d a0, ft3
	CHECK a0, 0x3ff0000000000000
	/* dyn conversion to integer */
	CASE 213
	FP_LOAD_D ft6, 0x4004000000000000	/* 2.5 */
	csrwi frm, RM_RMM
	fcvt.l.d a0, ft6
	CHECK a0, 3
	csrwi frm, RM_RNE
	fcvt.l.d a0, ft6, dyn
	CHECK a0, 2
	csrwi frm, RM_RDN
	FP_LOAD_D ft6, 0xc004000000000000	/* -2.5 */
	fcvt.w.d a0, ft6, dyn
	CHECK a0, -3

	/* reserved rounding modes: illegal instruction, with mtval = the
	 * instruction; fflags and the destination untouched */
	.option push
	.option norvc
	csrwi frm, RM_RNE
	csrw fflags, zero
	FP_LOAD_D ft3, 0x1234
	TEST_ILLEGAL 220, .word 0x021051d3	/* fadd.d ft3, ft0, ft1 with rm=5 */
	TEST_ILLEGAL 221, .word 0x021061d3	/* rm=6 */
	TEST_ILLEGAL 222, .word 0x5a0051d3	/* fsqrt.d ft3, ft0 with rm=5 */
	TEST_ILLEGAL 223, .word 0xc2006553	/* fcvt.w.d a0, ft0 with rm=6 */
	CASE 224
	fmv.x.d a0, ft3
	CHECK a0, 0x1234
	CHECK_CSR fflags, 0
	/* invalid frm makes dynamic-rounding instructions illegal... */
	csrwi frm, 5
	TEST_ILLEGAL 225, fadd.d ft3, ft0, ft1, dyn
	csrwi frm, 6
	TEST_ILLEGAL 226, fmul.s ft3, ft0, ft1
	csrwi frm, 7
	TEST_ILLEGAL 227, fmadd.d ft3, ft0, ft1, ft2
	TEST_ILLEGAL 228, fcvt.s.d ft3, ft0
	TEST_ILLEGAL 229, fcvt.l.d a0, ft0
	/* ...but not those with a static mode or no rounding at all */
	CASE 230
	fadd.d ft3, ft0, ft1, rne
	fsgnj.d ft3, ft0, ft1
	fmin.d ft3, ft0, ft1
	feq.d a0, ft0, ft1
	fclass.d a0, ft0
	fmv.x.d a0, ft0
	fld ft3, 0(sp)
	CHECK_CSR frm, 7
	csrwi frm, RM_RNE
	.option pop

	/* ---- mstatus.FS ---- */
	/* writing FP state makes FS Dirty and sets SD */
	CASE 240
	li a2, MSTATUS_FS
	csrc mstatus, a2
	li a2, MSTATUS_FS_CLEAN
	csrs mstatus, a2
	csrr a0, mstatus
	bltz a0, fail		/* SD clear while Clean */
	fadd.d ft3, ft0, ft0
	csrr a0, mstatus
	li a2, MSTATUS_FS
	and a1, a0, a2
	CHECK a1, MSTATUS_FS_DIRTY
	bgez a0, fail		/* SD set */
	CASE 241
	li a2, MSTATUS_FS
	csrc mstatus, a2
	li a2, MSTATUS_FS_INITIAL
	csrs mstatus, a2
	csrwi fflags, FF_NX
	csrr a0, mstatus
	li a2, MSTATUS_FS
	and a0, a0, a2
	CHECK a0, MSTATUS_FS_DIRTY
	CASE 242
	li a2, MSTATUS_FS
	csrc mstatus, a2
	li a2, MSTATUS_FS_CLEAN
	csrs mstatus, a2
	la a1, fdata
	fld ft7, 0(a1)
	csrr a0, mstatus
	li a2, MSTATUS_FS
	and a0, a0, a2
	CHECK a0, MSTATUS_FS_DIRTY

	/* FS = Off: every FP instruction and FP CSR access is illegal, with
	 * mtval = the instruction, and FP state is not changed */
	CASE 250
	li a2, 0x4000000000000000
	fmv.d.x fs0, a2
	csrwi fflags, FF_NX
	li a2, MSTATUS_FS
	csrc mstatus, a2
	csrr a0, mstatus
	bltz a0, fail		/* SD clear with FS Off */
	la a1, fdata
	.option push
	.option norvc
	TEST_ILLEGAL 251, fadd.d fs0, fs0, fs0
	TEST_ILLEGAL 252, fadd.s ft0, ft1, ft2
	TEST_ILLEGAL 253, fmadd.d fs0, fs0, fs0, fs0
	TEST_ILLEGAL 254, fld fs0, 0(a1)
	TEST_ILLEGAL 255, fsd fs0, 16(a1)
	TEST_ILLEGAL 256, flw fs0, 0(a1)
	TEST_ILLEGAL 257, fsw fs0, 16(a1)
	TEST_ILLEGAL 258, fmv.x.d a0, fs0
	TEST_ILLEGAL 259, fmv.d.x fs0, a2
	TEST_ILLEGAL 260, fmv.w.x fs0, a2
	TEST_ILLEGAL 261, fcvt.d.l fs0, a2
	TEST_ILLEGAL 262, fcvt.l.d a0, fs0
	TEST_ILLEGAL 263, feq.d a0, fs0, fs0
	TEST_ILLEGAL 264, fclass.s a0, fs0
	TEST_ILLEGAL 265, fsgnj.d fs0, fs0, fs0
	TEST_ILLEGAL 266, csrr a0, fcsr
	TEST_ILLEGAL 267, csrr a0, fflags
	TEST_ILLEGAL 268, csrwi frm, 1
	TEST_ILLEGAL 269, csrw fcsr, zero
	.option pop
	.option push
	.option rvc
	TEST_ILLEGAL 270, c.fld fs0, 0(a1)
	TEST_ILLEGAL 271, c.fsd fs0, 16(a1)
	TEST_ILLEGAL 272, c.fldsp fs0, 0(sp)
	TEST_ILLEGAL 273, c.fsdsp fs0, 0(sp)
	.option pop
	/* turning it back on: nothing changed meanwhile.  (Reading FP state
	 * may leave FS Clean or make it Dirty: the spec allows imprecise,
	 * conservative dirty tracking.) */
	CASE 274
	li a2, MSTATUS_FS_CLEAN
	csrs mstatus, a2
	csrr a0, mstatus
	li a2, MSTATUS_FS
	and a0, a0, a2
	CHECK a0, MSTATUS_FS_CLEAN
	fmv.x.d a0, fs0
	CHECK a0, 0x4000000000000000
	CHECK_CSR fflags, FF_NX

	TEST_END

	.data
	.balign 8
fdata:
	.dword 0x400921fb54442d18	/* pi */
	.dword 0xfff0000000000001	/* a signalling NaN */
	.dword 0, 0
	.word 0x7f800001, 0x40490fdb	/* single sNaN, single pi */
	.dword 0
	.dword 0, 0, 0, 0

	.balign 4096
	.skip 4096 - 8
	.dword 0
fpage_end:		/* a page boundary */
	.dword 0
