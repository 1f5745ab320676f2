/* A small x86-64 encoder: the handful of instruction forms the JIT
 * (cpu/jit.c, cpu/jit_fp.c) emits, and nothing else.  Memory operands are
 * [base + disp] (x86_op) or [base + index + disp] (x86_op_index). */
#ifndef KEEL_CPU_X86_H
#define KEEL_CPU_X86_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum x86_reg { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

/* Condition codes (the low nibble of Jcc, SETcc, CMOVcc). */
enum x86_cc { CC_B = 2, CC_AE = 3, CC_E = 4, CC_NE = 5, CC_BE = 6, CC_A = 7, CC_L = 0xc,
	      CC_GE = 0xd, CC_LE = 0xe, CC_G = 0xf };

/* The buffer being written.  Writing past `end` sets `full` and writes
 * nothing: the caller checks once at the end. */
struct x86 {
	uint8_t *p, *start, *end;
	bool full;
};

static inline void x86_bytes(struct x86 *a, const void *b, size_t n)
{
	if ((size_t)(a->end - a->p) < n) {
		a->full = true;
		return;
	}
	memcpy(a->p, b, n);
	a->p += n;
}

static inline void x86_u8(struct x86 *a, uint8_t v) { x86_bytes(a, &v, 1); }
static inline void x86_u32(struct x86 *a, uint32_t v) { x86_bytes(a, &v, 4); }

/* Operand size and prefix flags of x86_op. */
#define X86_W 1 /* 64-bit operand (REX.W) */
#define X86_16 2 /* 16-bit operand, or SSE's 66 prefix (0x66) */
#define X86_F2 4 /* SSE's F2 prefix (scalar double) */
#define X86_F3 8 /* SSE's F3 prefix (scalar single) */

/* The bytes an instruction with a ModRM byte starts with: [66|F2|F3]
 * [REX] opcode.  The REX prefix carries bit 3 of reg (R), of a SIB's
 * index (X) and of the base or rm register (B); it is left out when it
 * would say nothing.  An opcode above 0xff is two bytes (0x0f xx), above
 * 0xffff three (0x0f 0x3a xx). */
static inline void x86_head(struct x86 *a, unsigned flags, unsigned opcode, int reg, int index,
			    int rm)
{
	if (flags & X86_16)
		x86_u8(a, 0x66);
	if (flags & (X86_F2 | X86_F3))
		x86_u8(a, (flags & X86_F2) ? 0xf2 : 0xf3);
	uint8_t rex = (uint8_t)(0x40 | ((flags & X86_W) ? 8 : 0) | ((reg & 8) ? 4 : 0) |
				((index & 8) ? 2 : 0) | ((rm & 8) ? 1 : 0));
	if (rex != 0x40)
		x86_u8(a, rex);
	if (opcode > 0xffff)
		x86_u8(a, (uint8_t)(opcode >> 16));
	if (opcode > 0xff)
		x86_u8(a, (uint8_t)(opcode >> 8));
	x86_u8(a, (uint8_t)opcode);
}

/* ModRM's mod for a memory operand [base + disp]: no displacement, 8 or
 * 32 bits.  Base RBP or R13 always takes one (mod 0 there means
 * RIP-relative, or no base with a SIB). */
static inline unsigned x86_mod(int base, int32_t disp)
{
	return disp == 0 && (base & 7) != 5 ? 0 : (disp >= -128 && disp < 128) ? 1 : 2;
}

/* The displacement mod says follows ModRM (and SIB). */
static inline void x86_disp(struct x86 *a, unsigned mod, int32_t disp)
{
	if (mod == 1)
		x86_u8(a, (uint8_t)disp);
	else if (mod == 2)
		x86_u32(a, (uint32_t)disp);
}

/* One instruction [66|F2|F3] [REX] opcode ModRM [SIB] [disp]: `reg` is the
 * ModRM reg field (a register, an XMM register or an opcode extension
 * /n); `rm` is a register, or with mem the base of [rm + disp].
 * Immediates, if any, follow from the caller.  Base RSP or R12 takes a
 * SIB byte (no index). */
static inline void x86_op(struct x86 *a, unsigned flags, unsigned opcode, int reg, int rm,
			  bool mem, int32_t disp)
{
	x86_head(a, flags, opcode, reg, 0, rm);
	unsigned mod = mem ? x86_mod(rm, disp) : 3;
	x86_u8(a, (uint8_t)(mod << 6 | (reg & 7) << 3 | (rm & 7)));
	if (mem && (rm & 7) == 4)
		x86_u8(a, 0x24); /* SIB: base only */
	x86_disp(a, mod, disp);
}

/* The same with the memory operand [base + index + disp] (index not
 * RSP), through a SIB byte. */
static inline void x86_op_index(struct x86 *a, unsigned flags, unsigned opcode, int reg,
				int base, int index, int32_t disp)
{
	x86_head(a, flags, opcode, reg, index, base);
	unsigned mod = x86_mod(base, disp);
	x86_u8(a, (uint8_t)(mod << 6 | (reg & 7) << 3 | 4));
	x86_u8(a, (uint8_t)((index & 7) << 3 | (base & 7)));
	x86_disp(a, mod, disp);
}

/* RORX dst, src, count (BMI2): a rotate that leaves src and the flags
 * alone, 64-bit. */
static inline void x86_rorx(struct x86 *a, int dst, int src, uint8_t count)
{
	uint8_t v[] = {0xc4, (uint8_t)(((dst & 8) ? 0 : 0x80) | 0x40 | ((src & 8) ? 0 : 0x20) | 3),
		       0xfb, 0xf0, (uint8_t)(0xc0 | (dst & 7) << 3 | (src & 7)), count};
	x86_bytes(a, v, sizeof(v));
}

/* VFMADD231SS/SD (FMA3, VEX.66.0F38 B9 /r): xmm c += xmm a * xmm b with
 * one rounding; W1 is the double form. */
static inline void x86_fma231(struct x86 *a, bool dbl, int c, int ma, int mb)
{
	uint8_t v[5] = { 0xc4,
			 (uint8_t)(((c & 8) ? 0 : 0x80) | 0x40 | ((mb & 8) ? 0 : 0x20) | 0x02),
			 (uint8_t)((dbl ? 0x80 : 0) | (~ma & 15) << 3 | 0x01), 0xb9,
			 (uint8_t)(0xc0 | (c & 7) << 3 | (mb & 7)) };
	x86_bytes(a, v, sizeof v);
}

/* mov reg, imm64 (REX.W B8+r) */
static inline void x86_mov_imm64(struct x86 *a, int reg, uint64_t v)
{
	x86_u8(a, (uint8_t)(0x48 | (reg >> 3)));
	x86_u8(a, (uint8_t)(0xb8 + (reg & 7)));
	x86_bytes(a, &v, 8);
}

/* PUSH and POP of a 64-bit register, in their short forms (0x50 + r,
 * 0x58 + r): the ModRM forms are valid too, but some decoders (valgrind)
 * know only these. */
static inline void x86_push(struct x86 *a, int reg, bool pop)
{
	if (reg & 8)
		x86_u8(a, 0x41);
	x86_u8(a, (uint8_t)((pop ? 0x58 : 0x50) + (reg & 7)));
}

/* lea dst, [index * 2^scale] (scale 1 to 3; no base: a zero disp32) */
static inline void x86_lea_scaled(struct x86 *a, int dst, int index, unsigned scale)
{
	x86_u8(a, (uint8_t)(0x48 | ((dst & 8) ? 4 : 0) | ((index & 8) ? 2 : 0)));
	x86_u8(a, 0x8d);
	x86_u8(a, (uint8_t)((dst & 7) << 3 | 4)); /* mod 0, rm 100: SIB */
	x86_u8(a, (uint8_t)(scale << 6 | (index & 7) << 3 | 5)); /* base 101: disp32 */
	x86_u32(a, 0);
}

/* A jump whose 32-bit displacement is set later by x86_land: returns
 * where it is.  cc < 0: unconditional. */
static inline uint8_t *x86_jump(struct x86 *a, int cc)
{
	if (cc < 0) {
		x86_u8(a, 0xe9);
	} else {
		x86_u8(a, 0x0f);
		x86_u8(a, (uint8_t)(0x80 | cc));
	}
	uint8_t *at = a->p;
	x86_u32(a, 0);
	return at;
}

/* Point the jump whose displacement is at `at` to `to`. */
static inline void x86_land(struct x86 *a, uint8_t *at, const uint8_t *to)
{
	if (a->full)
		return;
	int32_t rel = (int32_t)(to - (at + 4));
	memcpy(at, &rel, 4);
}

#endif
