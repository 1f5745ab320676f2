/* The exact software floating-point core behind fpu.c, exposed so that the
 * unit tests can compare the host-FPU fast path against it, and the
 * encodings fpu.c and the JIT's FP translator (jit_fp.c) both decode.
 * Nothing outside those and their tests should need this header.
 *
 * Values are raw IEEE 754 encodings: a single occupies the low 32 bits with
 * the upper 32 bits zero, a half the low 16 (no NaN-boxing here).  Results follow the RISC-V
 * rules (canonical NaN, tininess after rounding, NV for inf*0+qNaN); flags
 * are ORed into *flags using the FFLAG_* bits of hart.h.
 */
#ifndef KEEL_CPU_FPU_INTERNAL_H
#define KEEL_CPU_FPU_INTERNAL_H

#include <stdint.h>

/* The instructions' fmt field: single, double, half (Zfh). */
enum fpu_fmt { FPU_S = 0, FPU_D = 1, FPU_H = 2 };

enum fpu_arith { FPU_ADD, FPU_SUB, FPU_MUL, FPU_DIV, FPU_SQRT, FPU_FMA };

/* Major opcodes of the FP arithmetic */
#define OPC_FMADD 0x43
#define OPC_FMSUB 0x47
#define OPC_FNMSUB 0x4b
#define OPC_FNMADD 0x4f
#define OPC_OP_FP 0x53

/* funct5 values of OP-FP */
enum {
	F5_ADD = 0x00,
	F5_SUB = 0x01,
	F5_MUL = 0x02,
	F5_DIV = 0x03,
	F5_SGNJ = 0x04,
	F5_MINMAX = 0x05,
	F5_CVT_FF = 0x08,
	F5_SQRT = 0x0b,
	F5_CMP = 0x14,
	F5_CVT_IF = 0x18, /* float to integer */
	F5_CVT_FI = 0x1a, /* integer to float */
	F5_MV_X_CLASS = 0x1c,
	F5_MV_F = 0x1e,
};

/* a op b (FPU_SQRT ignores b; FPU_FMA computes a*b+c with one rounding).
 * rm is a resolved rounding mode, RM_RNE..RM_RMM. */
uint64_t fpu_soft_arith(enum fpu_fmt fmt, enum fpu_arith op, uint64_t a, uint64_t b, uint64_t c,
			int rm, uint8_t *flags);

/* Convert a value of format `from` to `to` (FCVT.S.D, FCVT.H.S, ...). */
uint64_t fpu_soft_convert(enum fpu_fmt to, enum fpu_fmt from, uint64_t a, int rm, uint8_t *flags);

#endif
