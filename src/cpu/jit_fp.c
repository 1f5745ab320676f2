/* The JIT's FP instructions (jit_fp.h): the F and D arithmetic fpu.c runs
 * on the host's SSE unit, done with the same SSE instruction under the
 * same MXCSR, and most of the rest of OP-FP, which fpu.c computes in
 * software, done in integer code (or SSE that raises nothing) with the
 * same results and fflags.
 *
 * Exactness is by construction: every check that can send the
 * instruction back to the interpreter (FP off, a rounding mode that is
 * reserved or that x86 lacks, a NaN operand of FMIN/FMAX and the
 * comparisons, a conversion that would round or saturate) comes before
 * any effect, so
 * the interpreter then runs the whole instruction as if the translation
 * had never started it.  MXCSR is handled as fpu.c's guest_env does: the
 * guest's rounding mode is loaded once and its flags accrue there until
 * the interpreter's fpu_host_env folds them into fflags; only the SSE
 * arithmetic itself touches MXCSR (no UCOMIS*, which would set DE).
 * docs/cpu.md, "The JIT", lists what is translated. */
#include "cpu/jit_fp.h"

#include <stddef.h>

#include "cpu/fpu_internal.h"
#include "cpu/hart.h"

#define R_X RDI /* h (h->x is at its start), as in jit.c; RAX, RCX, R8 and XMM0-2 are scratch */

#if defined(__x86_64__) && !defined(KEEL_FPU_SOFT_ONLY)
#define HOST_SSE 1 /* fpu.c's FPU_HOST_SSE: its arithmetic runs on SSE */
#else
#define HOST_SSE 0
#endif

_Static_assert(offsetof(struct hart, fpenv_rm) == offsetof(struct hart, fpenv_guest) + 1 &&
		       sizeof(bool) == 1,
	       "one 16-bit compare reads fpenv_guest and fpenv_rm");

#define HART(field) ((int32_t)offsetof(struct hart, field))

/* One instruction being emitted. */
struct ctx {
	struct jit_fp *s;
	struct x86 *a;
	const int8_t *host;
	uint8_t **resume;
	unsigned *n;
	bool dbl; /* the format is D, else S */
};

static int32_t f_off(unsigned r) { return HART(f) + (int32_t)(8 * r); }

/* A jump on cc to the interpreter, at this instruction's entry. */
static void out(struct ctx *c, int cc) { c->resume[(*c->n)++] = x86_jump(c->a, cc); }

static void mov_imm32(struct x86 *a, int reg, uint32_t v)
{
	x86_op(a, 0, 0xc7, 0, reg, false, 0);
	x86_u32(a, v);
}

/* reg = x[r] (64 bits with X86_W, else the low 32 zero-extended) */
static void get_x(const struct ctx *c, unsigned flags, int reg, unsigned r)
{
	if (c->host[r] >= 0)
		x86_op(c->a, flags, 0x8b, reg, c->host[r], false, 0);
	else
		x86_op(c->a, flags, 0x8b, reg, R_X, true, (int32_t)(8 * r));
}

/* x[r] = RAX; x0 is never written */
static void set_x(const struct ctx *c, unsigned r)
{
	if (!r)
		return;
	if (c->host[r] >= 0)
		x86_op(c->a, X86_W, 0x89, RAX, c->host[r], false, 0);
	else
		x86_op(c->a, X86_W, 0x89, RAX, R_X, true, (int32_t)(8 * r));
}

/* The width of the format's operations: X86_W for D */
static unsigned w(const struct ctx *c) { return c->dbl ? X86_W : 0; }

/* The sign bit's number in the format */
static unsigned sign_at(const struct ctx *c) { return c->dbl ? 63 : 31; }

/* reg = f[r] as fpu.c's read_f gives it: a single not NaN-boxed reads as
 * the canonical NaN (tmp is clobbered) */
static void get_f(const struct ctx *c, int reg, int tmp, unsigned r)
{
	struct x86 *a = c->a;
	if (c->dbl) {
		x86_op(a, X86_W, 0x8b, reg, R_X, true, f_off(r));
		return;
	}
	x86_op(a, 0, 0x8b, reg, R_X, true, f_off(r));
	mov_imm32(a, tmp, 0x7fc00000);
	x86_op(a, 0, 0x83, 7, R_X, true, f_off(r) + 4); /* cmp dword [upper half], -1 */
	x86_u8(a, 0xff);
	x86_op(a, 0, 0x0f45, reg, tmp, false, 0); /* cmovne */
}

/* f[r] = RAX as fpu.c's write_f does: a single NaN-boxed */
static void set_f(const struct ctx *c, unsigned r)
{
	struct x86 *a = c->a;
	x86_op(a, w(c), 0x89, RAX, R_X, true, f_off(r));
	if (!c->dbl) {
		x86_op(a, 0, 0xc7, 0, R_X, true, f_off(r) + 4);
		x86_u32(a, ~0u);
	}
}

/* mstatus.FS off: the interpreter raises the illegal instruction */
static void need_fs(struct ctx *c)
{
	if (c->s->fs_on)
		return;
	x86_op(c->a, X86_W, 0xf7, 0, R_X, true, HART(mstatus)); /* test mstatus, FS */
	x86_u32(c->a, (uint32_t)MSTATUS_FS);
	out(c, CC_E);
	c->s->fs_on = true;
}

/* After the instruction's effects, as exec.c's mark_fp_dirty */
static void mark_dirty(struct ctx *c)
{
	if (c->s->dirty)
		return;
	x86_op(c->a, X86_W, 0x81, 1, R_X, true, HART(mstatus)); /* or mstatus, FS */
	x86_u32(c->a, (uint32_t)MSTATUS_FS);
	c->s->dirty = true;
}

/* MXCSR for RISC-V modes RNE, RTZ, RDN, RUP, 16 bits each (fpu.c's
 * mxcsr_for_rm: every exception masked, rounding control in bits 14:13) */
#define MXCSR_TABLE 0x5f803f807f801f80ull

/* Give MXCSR the guest's environment for rounding mode rm (RM_RNE..RM_RUP,
 * or RM_DYN: frm's, which resumes the interpreter when it is RMM or
 * reserved), as fpu.c's guest_env: nothing when it already holds it; else
 * from the host's (saved in fpenv_host_mxcsr) with no flags, or from
 * another mode's keeping the guest's flags. */
static void need_env(struct ctx *c, unsigned rm)
{
	struct x86 *a = c->a;
	uint8_t want = rm == RM_DYN ? JIT_FP_DYN : (uint8_t)(1 + rm);
	if (c->s->env == want)
		return;
	uint8_t *ready;
	if (rm == RM_DYN) {
		/* loaded already: then frm is RNE..RUP (fpenv_rm is one) */
		x86_op(a, 0, 0x0fb6, RCX, R_X, true, HART(frm)); /* movzx ecx, frm */
		x86_op(a, 0, 0x8b, RAX, RCX, false, 0); /* ax = guest, rm = frm */
		x86_op(a, 0, 0xc1, 4, RAX, false, 0);
		x86_u8(a, 8);
		x86_op(a, 0, 0x83, 1, RAX, false, 0);
		x86_u8(a, 1);
		x86_op(a, X86_16, 0x3b, RAX, R_X, true, HART(fpenv_guest));
		ready = x86_jump(a, CC_E);
		x86_op(a, 0, 0x83, 7, RCX, false, 0); /* cmp ecx, RM_RUP */
		x86_u8(a, RM_RUP);
		out(c, CC_A);
		x86_mov_imm64(a, RAX, MXCSR_TABLE);
		x86_op(a, 0, 0xc1, 4, RCX, false, 0); /* shl ecx, 4 */
		x86_u8(a, 4);
		x86_op(a, X86_W, 0xd3, 5, RAX, false, 0); /* shr rax, cl */
		x86_op(a, 0, 0x0fb7, RAX, RAX, false, 0); /* movzx eax, ax */
	} else {
		x86_op(a, X86_16, 0x81, 7, R_X, true, HART(fpenv_guest)); /* cmp word, imm16 */
		x86_u8(a, 1);
		x86_u8(a, (uint8_t)rm);
		ready = x86_jump(a, CC_E);
		mov_imm32(a, RAX, (uint32_t)(MXCSR_TABLE >> (16 * rm)) & 0xffff);
	}
	x86_push(a, RAX, false); /* [rsp] = the new MXCSR */
	x86_op(a, 0, 0x80, 7, R_X, true, HART(fpenv_guest)); /* cmp byte, 0 */
	x86_u8(a, 0);
	uint8_t *guest = x86_jump(a, CC_NE);
	x86_op(a, 0, 0x0fae, 3, R_X, true, HART(fpenv_host_mxcsr)); /* stmxcsr */
	x86_op(a, 0, 0xc6, 0, R_X, true, HART(fpenv_guest));
	x86_u8(a, 1);
	uint8_t *load = x86_jump(a, -1);
	x86_land(a, guest, a->p);
	x86_op(a, 0, 0x0fae, 3, RSP, true, 4); /* stmxcsr [rsp + 4] */
	x86_op(a, 0, 0x8b, RCX, RSP, true, 4);
	x86_op(a, 0, 0x83, 4, RCX, false, 0); /* and ecx, the flags */
	x86_u8(a, 0x3f);
	x86_op(a, 0, 0x09, RCX, RSP, true, 0); /* or [rsp], ecx */
	x86_land(a, load, a->p);
	x86_op(a, 0, 0x0fae, 2, RSP, true, 0); /* ldmxcsr [rsp] */
	x86_push(a, RAX, true);
	if (rm == RM_DYN) {
		x86_op(a, 0, 0x0fb6, RCX, R_X, true, HART(frm));
		x86_op(a, 0, 0x88, RCX, R_X, true, HART(fpenv_rm)); /* mov fpenv_rm, cl */
	} else {
		x86_op(a, 0, 0xc6, 0, R_X, true, HART(fpenv_rm));
		x86_u8(a, (uint8_t)rm);
	}
	x86_land(a, ready, a->p);
	c->s->env = want;
}

/* The canonical NaN, and a NaN's least encoding shifted left by one (the
 * sign shifted out), of the format */
static uint64_t canonical_nan(const struct ctx *c) { return c->dbl ? 0x7ff8000000000000ull : 0x7fc00000; }
static uint64_t inf_x2(const struct ctx *c) { return c->dbl ? 0xffe0000000000000ull : 0xff000000; }

/* RAX = XMM register x's value, flags set for "above" when it is a NaN:
 * RCX = RAX << 1 compared with inf << 1 (R8 holds that for D) */
static void result_nan_test(const struct ctx *c, int x)
{
	struct x86 *a = c->a;
	x86_op(a, X86_16 | w(c), 0x0f7e, x, RAX, false, 0); /* movq/movd rax, xmm */
	x86_op(a, w(c), 0x8b, RCX, RAX, false, 0);
	x86_op(a, w(c), 0x03, RCX, RCX, false, 0);
	if (c->dbl) {
		x86_mov_imm64(a, R8, inf_x2(c));
		x86_op(a, X86_W, 0x3b, RCX, R8, false, 0);
	} else {
		x86_op(a, 0, 0x81, 7, RCX, false, 0);
		x86_u32(a, (uint32_t)inf_x2(c));
	}
}

/* f[rd] = XMM register x, a NaN made canonical as fpu.c's arith and
 * convert do */
static void set_f_canonical(const struct ctx *c, int x, unsigned rd)
{
	result_nan_test(c, x);
	if (c->dbl)
		x86_mov_imm64(c->a, R8, canonical_nan(c)); /* mov leaves the flags */
	else
		mov_imm32(c->a, R8, (uint32_t)canonical_nan(c));
	x86_op(c->a, w(c), 0x0f47, RAX, R8, false, 0); /* cmova */
	set_f(c, rd);
}

/* The same for an FMA's result in XMM2, whose operands a and b are in
 * XMM0 and XMM1: a NaN result with a*b = inf*0 also raises NV, which
 * RISC-V wants even with a quiet-NaN addend (fpu.c's fma_inf_times_zero) */
static void set_f_fma(const struct ctx *c, unsigned rd)
{
	struct x86 *a = c->a;
	unsigned fw = w(c);
	result_nan_test(c, 2);
	uint8_t *number = x86_jump(a, CC_BE);
	x86_op(a, X86_16 | fw, 0x0f7e, 0, RCX, false, 0); /* rcx = a, r8 = b, signs shifted out */
	x86_op(a, X86_16 | fw, 0x0f7e, 1, R8, false, 0);
	x86_op(a, fw, 0x03, RCX, RCX, false, 0);
	x86_op(a, fw, 0x03, R8, R8, false, 0);
	if (c->dbl)
		x86_mov_imm64(a, RAX, inf_x2(c));
	else
		mov_imm32(a, RAX, (uint32_t)inf_x2(c));
	x86_op(a, fw, 0x85, RCX, RCX, false, 0);
	uint8_t *a_zero = x86_jump(a, CC_E); /* then b must be inf */
	x86_op(a, fw, 0x85, R8, R8, false, 0);
	uint8_t *neither = x86_jump(a, CC_NE);
	x86_op(a, fw, 0x8b, R8, RCX, false, 0); /* b is zero: a must be inf */
	x86_land(a, a_zero, a->p);
	x86_op(a, fw, 0x3b, R8, RAX, false, 0);
	uint8_t *no_inf = x86_jump(a, CC_NE);
	x86_op(a, 0, 0x80, 1, R_X, true, HART(fflags)); /* or byte fflags, NV */
	x86_u8(a, FFLAG_NV);
	x86_land(a, neither, a->p);
	x86_land(a, no_inf, a->p);
	if (c->dbl)
		x86_mov_imm64(a, RAX, canonical_nan(c));
	else
		mov_imm32(a, RAX, (uint32_t)canonical_nan(c));
	x86_land(a, number, a->p);
	set_f(c, rd);
}

/* XMM register x = f[r] as read_f gives it, its sign flipped if `negate` */
static void get_xmm(const struct ctx *c, int x, unsigned r, bool negate)
{
	struct x86 *a = c->a;
	if (c->dbl && !negate) { /* movq xmm, [f + 8r] */
		x86_op(a, X86_F3, 0x0f7e, x, R_X, true, f_off(r));
		return;
	}
	get_f(c, RAX, RCX, r);
	if (negate) {
		x86_op(a, w(c), 0x0fba, 7, RAX, false, 0); /* btc rax, sign */
		x86_u8(a, (uint8_t)sign_at(c));
	}
	x86_op(a, X86_16 | w(c), 0x0f6e, x, RAX, false, 0); /* movq/movd xmm, rax */
}

/* The rounding arithmetic (OP_FP_ROUNDING): fpu.c's arith on the host */
static bool rounding(struct ctx *c, uint32_t insn)
{
	static const uint8_t sse[32] = {
		[F5_ADD] = 0x58, [F5_SUB] = 0x5c, [F5_MUL] = 0x59, [F5_DIV] = 0x5e, [F5_SQRT] = 0x51,
	};
	unsigned opcode = insn & 0x7f, rm = funct3_of(insn);
	bool fma = opcode != OPC_OP_FP;
	if (!HOST_SSE || rm == RM_RMM || (rm > RM_RMM && rm != RM_DYN))
		return false; /* RMM is fpu.c's software path; 5 and 6 are illegal */
	if (fma && !__builtin_cpu_supports("fma"))
		return false; /* so is FMA without FMA3 */
	struct x86 *a = c->a;
	need_fs(c);
	need_env(c, rm);
	get_xmm(c, 0, rs1_of(insn), opcode == OPC_FNMSUB || opcode == OPC_FNMADD);
	if (fma) {
		get_xmm(c, 1, rs2_of(insn), false);
		get_xmm(c, 2, insn >> 27, opcode == OPC_FMSUB || opcode == OPC_FNMADD);
		x86_fma231(a, c->dbl, 2, 0, 1);
		set_f_fma(c, rd_of(insn));
	} else {
		unsigned op = sse[insn >> 27];
		if (op != 0x51)
			get_xmm(c, 1, rs2_of(insn), false);
		x86_op(a, c->dbl ? X86_F2 : X86_F3, 0x0f00 | op, 0, op == 0x51 ? 0 : 1, false, 0);
		set_f_canonical(c, 0, rd_of(insn));
	}
	mark_dirty(c);
	return true;
}

/* FCVT.S.D and FCVT.D.S: fpu.c's convert on the host */
static bool convert_ff(struct ctx *c, uint32_t insn)
{
	unsigned rm = funct3_of(insn), from = rs2_of(insn);
	if (!HOST_SSE || rm == RM_RMM || (rm > RM_RMM && rm != RM_DYN) || from > FPU_D ||
	    from == (c->dbl ? FPU_D : FPU_S))
		return false;
	need_fs(c);
	need_env(c, rm);
	c->dbl = !c->dbl; /* read in the source format */
	get_xmm(c, 0, rs1_of(insn), false);
	c->dbl = !c->dbl;
	x86_op(c->a, c->dbl ? X86_F3 : X86_F2, 0x0f5a, 0, 0, false, 0); /* cvtss2sd, cvtsd2ss */
	set_f_canonical(c, 0, rd_of(insn));
	mark_dirty(c);
	return true;
}

/* FCVT.S/D.W/WU/L/LU, which fpu.c's int_to_float does in software: here
 * CVTSI2SS/SD of values it converts exactly (no flags, the same result
 * in every rounding mode); a value that would round resumes. */
static bool convert_fi(struct ctx *c, uint32_t insn)
{
	unsigned rm = funct3_of(insn), type = rs2_of(insn);
	unsigned bits = c->dbl ? 53 : 24;
	if (type > 3 || (rm > RM_RMM && rm != RM_DYN))
		return false;
	struct x86 *a = c->a;
	need_fs(c);
	if (rm == RM_DYN) { /* a reserved frm is illegal */
		x86_op(a, 0, 0x80, 7, R_X, true, HART(frm));
		x86_u8(a, RM_RMM);
		out(c, CC_A);
	}
	get_x(c, type >= 2 ? X86_W : 0, RAX, rs1_of(insn));
	if (type == 0)
		x86_op(a, X86_W, 0x63, RAX, RAX, false, 0); /* movsxd: W is signed */
	if (type >= 2 || bits < 32) { /* the value must fit the significand */
		x86_op(a, X86_W, 0x8b, RCX, RAX, false, 0);
		x86_op(a, X86_W, 0xc1, type & 1 ? 5 : 7, RCX, false, 0); /* shr or sar */
		x86_u8(a, (uint8_t)bits);
		if (!(type & 1)) { /* signed: 0 or -1 left, so -2^bits <= v < 2^bits */
			x86_op(a, X86_W, 0x83, 0, RCX, false, 0);
			x86_u8(a, 1);
			x86_op(a, X86_W, 0x83, 7, RCX, false, 0);
			x86_u8(a, 1);
			out(c, CC_A);
		} else {
			out(c, CC_NE);
		}
	}
	x86_op(a, (c->dbl ? X86_F2 : X86_F3) | X86_W, 0x0f2a, 0, RAX, false, 0); /* cvtsi2sd/ss */
	x86_op(a, X86_16 | w(c), 0x0f7e, 0, RAX, false, 0);
	set_f(c, rd_of(insn));
	mark_dirty(c);
	return true;
}

/* FSGNJ, FSGNJN, FSGNJX (fpu.c's sign_inject), FMV/FNEG/FABS when rs1 is
 * rs2 */
static bool sign_inject(struct ctx *c, uint32_t insn)
{
	unsigned f3 = funct3_of(insn), rs1 = rs1_of(insn), rs2 = rs2_of(insn);
	if (f3 > 2)
		return false;
	struct x86 *a = c->a;
	unsigned fw = w(c);
	uint8_t s = (uint8_t)sign_at(c);
	need_fs(c);
	get_f(c, RAX, R8, rs1);
	if (rs1 == rs2) { /* a, -a, |a| */
		if (f3) {
			x86_op(a, fw, 0x0fba, f3 == 1 ? 7 : 6, RAX, false, 0); /* btc, btr */
			x86_u8(a, s);
		}
	} else {
		get_f(c, RCX, R8, rs2);
		if (f3 == 1)
			x86_op(a, fw, 0xf7, 2, RCX, false, 0); /* not */
		x86_op(a, fw, 0xc1, 5, RCX, false, 0); /* rcx = the sign alone */
		x86_u8(a, s);
		x86_op(a, fw, 0xc1, 4, RCX, false, 0);
		x86_u8(a, s);
		if (f3 != 2) {
			x86_op(a, fw, 0x0fba, 6, RAX, false, 0); /* btr */
			x86_u8(a, s);
		}
		x86_op(a, fw, f3 == 2 ? 0x33 : 0x0b, RAX, RCX, false, 0); /* xor, or */
	}
	set_f(c, rd_of(insn));
	mark_dirty(c);
	return true;
}

/* A NaN operand (or a single not NaN-boxed, which reads as one) resumes:
 * FMIN/FMAX, the comparisons and the conversions to integers then have
 * their own rules and flags */
static void no_nan(struct ctx *c, unsigned r)
{
	struct x86 *a = c->a;
	if (!c->dbl) {
		x86_op(a, 0, 0x83, 7, R_X, true, f_off(r) + 4);
		x86_u8(a, 0xff);
		out(c, CC_NE);
	}
	x86_op(a, w(c), 0x8b, R8, R_X, true, f_off(r));
	x86_op(a, w(c), 0x03, R8, R8, false, 0);
	if (c->dbl) {
		x86_op(a, X86_W, 0x3b, R8, RAX, false, 0); /* RAX = inf << 1 */
	} else {
		x86_op(a, 0, 0x81, 7, R8, false, 0);
		x86_u32(a, (uint32_t)inf_x2(c));
	}
	out(c, CC_A);
}

/* reg = f[r] (no NaN: checked) as an integer that orders the values as
 * numbers: min_max's total_key (-0 below +0) when `total`, else with -0
 * equal to +0 (compare's order) */
static void key(struct ctx *c, int reg, unsigned r, bool total)
{
	struct x86 *a = c->a;
	unsigned fw = w(c);
	uint8_t s = (uint8_t)sign_at(c);
	x86_op(a, fw, 0x8b, reg, R_X, true, f_off(r));
	x86_op(a, fw, 0x8b, R8, reg, false, 0);
	x86_op(a, fw, 0xc1, 7, R8, false, 0); /* sar: all ones when negative */
	x86_u8(a, s);
	if (total) { /* negative: ~magnitude = v ^ (all ones but the sign) */
		x86_op(a, fw, 0xc1, 5, R8, false, 0);
		x86_u8(a, 1);
		x86_op(a, fw, 0x33, reg, R8, false, 0);
	} else { /* negative: -magnitude */
		x86_op(a, fw, 0x0fba, 6, reg, false, 0);
		x86_u8(a, s);
		x86_op(a, fw, 0x33, reg, R8, false, 0);
		x86_op(a, fw, 0x2b, reg, R8, false, 0);
	}
}

/* FMIN, FMAX (funct5 5) and FLE, FLT, FEQ (funct5 0x14) of non-NaNs:
 * fpu.c's min_max and compare raise no flag for them */
static bool min_max_compare(struct ctx *c, uint32_t insn, bool cmp)
{
	unsigned f3 = funct3_of(insn), rs1 = rs1_of(insn), rs2 = rs2_of(insn);
	if (f3 > (cmp ? 2u : 1u))
		return false;
	struct x86 *a = c->a;
	unsigned fw = w(c);
	need_fs(c);
	if (c->dbl)
		x86_mov_imm64(a, RAX, inf_x2(c));
	no_nan(c, rs1);
	no_nan(c, rs2);
	key(c, RAX, rs1, !cmp);
	key(c, RCX, rs2, !cmp);
	x86_op(a, fw, 0x3b, RAX, RCX, false, 0);
	if (cmp) {
		static const uint8_t cc[3] = { CC_LE, CC_L, CC_E };
		x86_op(a, 0, 0x0f90 | cc[f3], 0, RAX, false, 0); /* setcc al */
		x86_op(a, 0, 0x0fb6, RAX, RAX, false, 0);
		set_x(c, rd_of(insn));
	} else { /* FMIN: a if a < b else b; FMAX: b if a < b else a */
		x86_op(a, fw, 0x8b, RAX, R_X, true, f_off(f3 ? rs1 : rs2)); /* mov keeps flags */
		x86_op(a, fw, 0x0f4c, RAX, R_X, true, f_off(f3 ? rs2 : rs1)); /* cmovl */
		set_f(c, rd_of(insn));
	}
	mark_dirty(c);
	return true;
}

/* FCVT.W/WU/L/LU.S/D with a rounding mode but RMM, which fpu.c's
 * float_to_int does in software: ROUNDSS/SD to an integral value in
 * that mode with the precision exception suppressed (it raises nothing
 * else but for a signalling NaN, and no denormal flag), then CVTTSS/SD2SI
 * of that exact value; NX into fflags when rounding changed the value.
 * A static mode is ROUNDSD's immediate; the dynamic one is frm's, which
 * ROUNDSD takes from MXCSR's rounding control once need_env has loaded
 * it (resuming first when frm is RMM or reserved, as for the
 * arithmetic).  A NaN, an infinity or a result out of the type's range
 * resumes before any effect (fpu.c saturates and raises NV). */
static bool convert_if(struct ctx *c, uint32_t insn)
{
	/* ROUNDSD's for RNE, RTZ, RDN, RUP; 4: MXCSR's; 8: no precision exception */
	static const uint8_t mode[4] = { 0, 3, 1, 2 };
	unsigned rm = funct3_of(insn), type = rs2_of(insn), rs1 = rs1_of(insn), fw = w(c);
	if ((rm > RM_RUP && !(rm == RM_DYN && HOST_SSE)) || type > 3 ||
	    !__builtin_cpu_supports("sse4.1"))
		return false;
	struct x86 *a = c->a;
	need_fs(c);
	if (rm == RM_DYN)
		need_env(c, rm);
	if (c->dbl)
		x86_mov_imm64(a, RAX, inf_x2(c));
	no_nan(c, rs1);
	get_xmm(c, 0, rs1, false);
	x86_op(a, X86_16, c->dbl ? 0x0f3a0b : 0x0f3a0a, 1, 0, false, 0); /* roundsd/ss xmm1, xmm0 */
	x86_u8(a, (uint8_t)((rm == RM_DYN ? 4 : mode[rm]) | 8));
	/* |xmm1| < 2^63 (not infinite), or resume */
	x86_op(a, X86_16 | fw, 0x0f7e, 1, RCX, false, 0);
	x86_op(a, fw, 0x03, RCX, RCX, false, 0);
	if (c->dbl) {
		x86_mov_imm64(a, RAX, 0x43e0000000000000ull << 1);
		x86_op(a, X86_W, 0x3b, RCX, RAX, false, 0);
	} else {
		x86_op(a, 0, 0x81, 7, RCX, false, 0);
		x86_u32(a, 0x5f000000u << 1);
	}
	out(c, CC_AE);
	x86_op(a, (c->dbl ? X86_F2 : X86_F3) | X86_W, 0x0f2c, RAX, 1, false, 0); /* cvttsd2si rax */
	if (type == 0 || type == 1) { /* W: the int32 range; WU: the uint32 one */
		x86_op(a, type ? 0 : X86_W, type ? 0x8b : 0x63, RCX, RAX, false, 0);
		x86_op(a, X86_W, 0x3b, RCX, RAX, false, 0);
		out(c, CC_NE);
		x86_op(a, X86_W, 0x63, RAX, RAX, false, 0); /* sign-extended from bit 31 */
	} else if (type == 3) { /* LU: not negative (-0 is 0) */
		x86_op(a, X86_W, 0x85, RAX, RAX, false, 0);
		out(c, 8); /* js */
	}
	x86_op(a, X86_16 | fw, 0x0f7e, 0, RCX, false, 0); /* NX when rounding changed it */
	x86_op(a, X86_16 | fw, 0x0f7e, 1, R8, false, 0);
	x86_op(a, fw, 0x3b, RCX, R8, false, 0);
	uint8_t *exact = x86_jump(a, CC_E);
	x86_op(a, 0, 0x80, 1, R_X, true, HART(fflags));
	x86_u8(a, FFLAG_NX);
	x86_land(a, exact, a->p);
	set_x(c, rd_of(insn));
	mark_dirty(c);
	return true;
}

/* FCLASS (fpu.c's classify): from the exponent and the significand of
 * f[rs1] (read as read_f does) k = 0 zero, 1 subnormal, 2 normal, 3
 * infinite; the class bit is 4 + k, or 3 - k when negative; a NaN's is 8
 * or 9 by its quiet bit */
static bool classify(struct ctx *c, uint32_t insn)
{
	if (rs2_of(insn))
		return false;
	struct x86 *a = c->a;
	unsigned fw = w(c), mant = c->dbl ? 52 : 23, top = c->dbl ? 0x7ff : 0xff;
	need_fs(c);
	get_f(c, RAX, RCX, rs1_of(insn));
	x86_op(a, fw, 0x8b, RCX, RAX, false, 0);
	x86_op(a, fw, 0x03, RCX, RCX, false, 0); /* rcx = the magnitude << 1 */
	x86_op(a, fw, 0x8b, R8, RCX, false, 0);
	x86_op(a, fw, 0xc1, 5, R8, false, 0); /* r8 = the exponent */
	x86_u8(a, (uint8_t)(mant + 1));
	x86_op(a, 0, 0x81, 7, R8, false, 0);
	x86_u32(a, top);
	uint8_t *special = x86_jump(a, CC_E);
	x86_op(a, 0, 0x85, R8, R8, false, 0);
	mov_imm32(a, R8, 2); /* normal; mov keeps the flags */
	uint8_t *normal = x86_jump(a, CC_NE);
	x86_op(a, fw, 0x85, RCX, RCX, false, 0);
	mov_imm32(a, R8, 0);
	uint8_t *zero = x86_jump(a, CC_E);
	mov_imm32(a, R8, 1);
	uint8_t *sub = x86_jump(a, -1);
	x86_land(a, special, a->p); /* infinite or NaN: the significand left */
	x86_op(a, fw, 0xc1, 4, RCX, false, 0);
	x86_u8(a, (uint8_t)(c->dbl ? 11 : 8));
	mov_imm32(a, R8, 3);
	uint8_t *inf = x86_jump(a, CC_E);
	mov_imm32(a, RAX, 1u << 8);
	uint8_t *snan = x86_jump(a, 9); /* jns: the quiet bit clear */
	mov_imm32(a, RAX, 1u << 9);
	uint8_t *nan = x86_jump(a, -1);
	x86_land(a, normal, a->p);
	x86_land(a, zero, a->p);
	x86_land(a, sub, a->p);
	x86_land(a, inf, a->p);
	x86_op(a, 0, 0x8d, RCX, R8, true, 4); /* ecx = 4 + k */
	x86_op(a, 0, 0xf7, 3, R8, false, 0); /* r8d = 3 - k */
	x86_op(a, 0, 0x83, 0, R8, false, 0);
	x86_u8(a, 3);
	x86_op(a, fw, 0x85, RAX, RAX, false, 0);
	x86_op(a, 0, 0x0f48, RCX, R8, false, 0); /* cmovs: negative */
	mov_imm32(a, RAX, 1);
	x86_op(a, 0, 0xd3, 4, RAX, false, 0); /* shl eax, cl */
	x86_land(a, snan, a->p);
	x86_land(a, nan, a->p);
	set_x(c, rd_of(insn));
	mark_dirty(c);
	return true;
}

/* FMV.X.W/D (raw bits, W sign-extended) and FMV.W/D.X (a single boxed) */
static bool move(struct ctx *c, uint32_t insn, bool to_f)
{
	if (rs2_of(insn) || funct3_of(insn))
		return false; /* FCLASS and reserved encodings */
	struct x86 *a = c->a;
	need_fs(c);
	if (to_f) {
		get_x(c, w(c), RAX, rs1_of(insn));
		set_f(c, rd_of(insn));
	} else {
		x86_op(a, X86_W, c->dbl ? 0x8b : 0x63, RAX, R_X, true, f_off(rs1_of(insn)));
		set_x(c, rd_of(insn));
	}
	mark_dirty(c);
	return true;
}

bool jit_fp_emit(struct jit_fp *s, struct x86 *a, const int8_t *host,
		 const struct decoded_insn *d, uint8_t **resume, unsigned *n)
{
	uint32_t insn = decoded_insn32(d);
	unsigned fmt = funct7_of(insn) & 3;
	struct ctx c = { s, a, host, resume, n, fmt == FPU_D };
	*n = 0;
	if (fmt > FPU_D) /* Zfh (fpu.c's software path) and Q */
		return false;
	if (d->op == OP_FP_ROUNDING)
		return rounding(&c, insn);
	if (d->op != OP_FP || (insn & 0x7f) != OPC_OP_FP)
		return false;
	switch (insn >> 27) {
	case F5_SGNJ: return sign_inject(&c, insn);
	case F5_MINMAX: return min_max_compare(&c, insn, false);
	case F5_CMP: return min_max_compare(&c, insn, true);
	case F5_CVT_FF: return convert_ff(&c, insn);
	case F5_CVT_FI: return convert_fi(&c, insn);
	case F5_CVT_IF: return convert_if(&c, insn);
	case F5_MV_X_CLASS: return funct3_of(insn) == 1 ? classify(&c, insn) : move(&c, insn, false);
	case F5_MV_F: return move(&c, insn, true);
	default: return false;
	}
}

/* The rounding mode instruction d loads into MXCSR (its rm field), or -1.
 * A conversion to an integer loads one only when it is dynamic: a static
 * mode is ROUNDSD's immediate. */
static int env_of(const struct decoded_insn *d)
{
	uint32_t insn = decoded_insn32(d);
	if (d->op == OP_FP_ROUNDING || (d->op == OP_FP && insn >> 27 == F5_CVT_FF))
		return (int)funct3_of(insn);
	if (d->op == OP_FP && insn >> 27 == F5_CVT_IF && funct3_of(insn) == RM_DYN)
		return RM_DYN;
	return -1;
}

void jit_fp_preamble(struct jit_fp *s, struct x86 *a, const struct decoded_insn *d, unsigned n,
		     uint8_t **resume, unsigned *nresume)
{
	struct ctx c = { s, a, NULL, resume, nresume, false };
	bool fp = false, one_rm = true;
	int rm = -1;
	*nresume = 0;
	for (unsigned i = 0; i < n; i++) {
		int r = env_of(&d[i]);
		fp |= (d[i].op >= OP_FLW && d[i].op <= OP_FSH) || d[i].op == OP_FP ||
		      d[i].op == OP_FP_ROUNDING;
		if (r >= 0 && rm >= 0 && r != rm)
			one_rm = false;
		if (r >= 0)
			rm = r;
	}
	if (fp)
		need_fs(&c);
	if (rm >= 0 && one_rm)
		need_env(&c, (unsigned)rm);
}
