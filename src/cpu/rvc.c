/* RVC: expand a 16-bit compressed instruction (RV64GC, "C" chapter of the
 * unprivileged ISA) into the 32-bit instruction it stands for, so the
 * interpreter executes both with the same code.
 *
 * Every legal compressed instruction maps to exactly one base-ISA
 * instruction; we build that word field by field.  HINT encodings (C.NOP
 * with a non-zero immediate, rd = x0 forms, shift-by-zero, ...) are legal
 * and expand to the base-ISA instruction the spec names, which is itself a
 * hint or no-op.  Reserved encodings return 0, which is never a valid 32-bit
 * instruction, so the caller can raise an illegal-instruction exception.
 *
 * Quadrant 3 (low bits 11) is not a compressed instruction; we return 0 for
 * it too rather than trusting the caller.
 */
#include "cpu/hart.h"

/* Base-ISA major opcodes used by the expansions. */
enum {
	OPC_LOAD = 0x03,
	OPC_LOAD_FP = 0x07,
	OPC_OP_IMM = 0x13,
	OPC_OP_IMM_32 = 0x1b,
	OPC_STORE = 0x23,
	OPC_STORE_FP = 0x27,
	OPC_OP = 0x33,
	OPC_LUI = 0x37,
	OPC_OP_32 = 0x3b,
	OPC_BRANCH = 0x63,
	OPC_JALR = 0x67,
	OPC_JAL = 0x6f,
};

#define INSN_EBREAK 0x00100073u

enum { REG_ZERO = 0, REG_RA = 1, REG_SP = 2 };

/* Bits hi..lo of insn, right-aligned. */
static inline uint32_t bits(uint32_t insn, unsigned hi, unsigned lo)
{
	return (insn >> lo) & ((1u << (hi - lo + 1)) - 1);
}

/* Bit `from` of insn moved to position `to`. */
static inline uint32_t bit_to(uint32_t insn, unsigned from, unsigned to)
{
	return ((insn >> from) & 1u) << to;
}

/* Sign-extend the low `width` bits of v. */
static inline int32_t sext(uint32_t v, unsigned width)
{
	uint32_t sign = 1u << (width - 1);
	return (int32_t)((v ^ sign) - sign);
}

/* The 3-bit register fields (rs1', rs2', rd') name x8..x15 / f8..f15. */
static inline uint32_t creg(uint32_t field)
{
	return field + 8;
}

/* ---- 32-bit instruction formats ---- */

static inline uint32_t enc_r(uint32_t opcode, uint32_t funct3, uint32_t funct7, uint32_t rd,
			     uint32_t rs1, uint32_t rs2)
{
	return funct7 << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode;
}

static inline uint32_t enc_i(uint32_t opcode, uint32_t funct3, uint32_t rd, uint32_t rs1,
			     int32_t imm)
{
	return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode;
}

static inline uint32_t enc_s(uint32_t opcode, uint32_t funct3, uint32_t rs1, uint32_t rs2,
			     int32_t imm)
{
	uint32_t u = (uint32_t)imm;
	return bits(u, 11, 5) << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | bits(u, 4, 0) << 7 |
	       opcode;
}

static inline uint32_t enc_b(uint32_t funct3, uint32_t rs1, uint32_t rs2, int32_t imm)
{
	uint32_t u = (uint32_t)imm;
	return bit_to(u, 12, 31) | bits(u, 10, 5) << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 |
	       bits(u, 4, 1) << 8 | bit_to(u, 11, 7) | OPC_BRANCH;
}

/* imm is the full 32-bit value whose bits 31..12 go into the instruction. */
static inline uint32_t enc_u(uint32_t opcode, uint32_t rd, int32_t imm)
{
	return ((uint32_t)imm & 0xfffff000u) | rd << 7 | opcode;
}

static inline uint32_t enc_j(uint32_t rd, int32_t imm)
{
	uint32_t u = (uint32_t)imm;
	return bit_to(u, 20, 31) | bits(u, 10, 1) << 21 | bit_to(u, 11, 20) | bits(u, 19, 12) << 12 |
	       rd << 7 | OPC_JAL;
}

/* ---- compressed immediate layouts (names follow the spec's formats) ---- */

/* CI: imm[5] = insn[12], imm[4:0] = insn[6:2], sign-extended. */
static inline int32_t ci_imm(uint32_t insn)
{
	return sext(bit_to(insn, 12, 5) | bits(insn, 6, 2), 6);
}

/* Shift amount for C.SLLI/C.SRLI/C.SRAI: same bits as ci_imm, unsigned. */
static inline uint32_t ci_shamt(uint32_t insn)
{
	return bit_to(insn, 12, 5) | bits(insn, 6, 2);
}

/* C.LW / C.SW offset: uimm[5:3] = insn[12:10], uimm[2] = insn[6], uimm[6] = insn[5]. */
static inline int32_t cl_word_offset(uint32_t insn)
{
	return (int32_t)(bits(insn, 12, 10) << 3 | bit_to(insn, 6, 2) | bit_to(insn, 5, 6));
}

/* C.LD / C.SD / C.FLD / C.FSD offset: uimm[5:3] = insn[12:10], uimm[7:6] = insn[6:5]. */
static inline int32_t cl_double_offset(uint32_t insn)
{
	return (int32_t)(bits(insn, 12, 10) << 3 | bits(insn, 6, 5) << 6);
}

/* C.LWSP: uimm[5] = insn[12], uimm[4:2] = insn[6:4], uimm[7:6] = insn[3:2]. */
static inline int32_t ci_lwsp_offset(uint32_t insn)
{
	return (int32_t)(bit_to(insn, 12, 5) | bits(insn, 6, 4) << 2 | bits(insn, 3, 2) << 6);
}

/* C.LDSP / C.FLDSP: uimm[5] = insn[12], uimm[4:3] = insn[6:5], uimm[8:6] = insn[4:2]. */
static inline int32_t ci_ldsp_offset(uint32_t insn)
{
	return (int32_t)(bit_to(insn, 12, 5) | bits(insn, 6, 5) << 3 | bits(insn, 4, 2) << 6);
}

/* C.SWSP: uimm[5:2] = insn[12:9], uimm[7:6] = insn[8:7]. */
static inline int32_t css_swsp_offset(uint32_t insn)
{
	return (int32_t)(bits(insn, 12, 9) << 2 | bits(insn, 8, 7) << 6);
}

/* C.SDSP / C.FSDSP: uimm[5:3] = insn[12:10], uimm[8:6] = insn[9:7]. */
static inline int32_t css_sdsp_offset(uint32_t insn)
{
	return (int32_t)(bits(insn, 12, 10) << 3 | bits(insn, 9, 7) << 6);
}

/* C.ADDI4SPN: nzuimm[5:4] = insn[12:11], nzuimm[9:6] = insn[10:7],
 * nzuimm[2] = insn[6], nzuimm[3] = insn[5]. */
static inline int32_t ciw_addi4spn_imm(uint32_t insn)
{
	return (int32_t)(bits(insn, 12, 11) << 4 | bits(insn, 10, 7) << 6 | bit_to(insn, 6, 2) |
			 bit_to(insn, 5, 3));
}

/* C.ADDI16SP: nzimm[9] = insn[12], nzimm[4] = insn[6], nzimm[6] = insn[5],
 * nzimm[8:7] = insn[4:3], nzimm[5] = insn[2], sign-extended. */
static inline int32_t ci_addi16sp_imm(uint32_t insn)
{
	return sext(bit_to(insn, 12, 9) | bit_to(insn, 6, 4) | bit_to(insn, 5, 6) |
			    bits(insn, 4, 3) << 7 | bit_to(insn, 2, 5),
		    10);
}

/* C.J: offset[11|4|9:8|10|6|7|3:1|5] = insn[12|11|10:9|8|7|6|5:3|2]. */
static inline int32_t cj_offset(uint32_t insn)
{
	return sext(bit_to(insn, 12, 11) | bit_to(insn, 11, 4) | bits(insn, 10, 9) << 8 |
			    bit_to(insn, 8, 10) | bit_to(insn, 7, 6) | bit_to(insn, 6, 7) |
			    bits(insn, 5, 3) << 1 | bit_to(insn, 2, 5),
		    12);
}

/* C.BEQZ/C.BNEZ: offset[8|4:3] = insn[12:10], offset[7:6|2:1|5] = insn[6:2]. */
static inline int32_t cb_offset(uint32_t insn)
{
	return sext(bit_to(insn, 12, 8) | bits(insn, 11, 10) << 3 | bits(insn, 6, 5) << 6 |
			    bits(insn, 4, 3) << 1 | bit_to(insn, 2, 5),
		    9);
}

/* ---- quadrants ---- */

static uint32_t expand_q0(uint32_t insn)
{
	uint32_t rd_p = creg(bits(insn, 4, 2)); /* rd' or rs2' */
	uint32_t rs1_p = creg(bits(insn, 9, 7));

	switch (bits(insn, 15, 13)) {
	case 0: { /* C.ADDI4SPN; nzuimm = 0 (this includes insn = 0) is reserved */
		int32_t imm = ciw_addi4spn_imm(insn);
		if (imm == 0)
			return 0;
		return enc_i(OPC_OP_IMM, 0, rd_p, REG_SP, imm);
	}
	case 1: /* C.FLD */
		return enc_i(OPC_LOAD_FP, 3, rd_p, rs1_p, cl_double_offset(insn));
	case 2: /* C.LW */
		return enc_i(OPC_LOAD, 2, rd_p, rs1_p, cl_word_offset(insn));
	case 3: /* C.LD */
		return enc_i(OPC_LOAD, 3, rd_p, rs1_p, cl_double_offset(insn));
	case 5: /* C.FSD */
		return enc_s(OPC_STORE_FP, 3, rs1_p, rd_p, cl_double_offset(insn));
	case 6: /* C.SW */
		return enc_s(OPC_STORE, 2, rs1_p, rd_p, cl_word_offset(insn));
	case 7: /* C.SD */
		return enc_s(OPC_STORE, 3, rs1_p, rd_p, cl_double_offset(insn));
	default: /* 4 is reserved (Zcb without Zcb) */
		return 0;
	}
}

/* Quadrant 1, funct3 = 100: shifts, ANDI and the register-register ALU ops,
 * all on rd' = rs1'. */
static uint32_t expand_q1_alu(uint32_t insn)
{
	uint32_t rd_p = creg(bits(insn, 9, 7));
	uint32_t rs2_p = creg(bits(insn, 4, 2));

	switch (bits(insn, 11, 10)) {
	case 0: /* C.SRLI (shamt = 0 is a hint) */
		return enc_i(OPC_OP_IMM, 5, rd_p, rd_p, (int32_t)ci_shamt(insn));
	case 1: /* C.SRAI */
		return enc_i(OPC_OP_IMM, 5, rd_p, rd_p, (int32_t)(0x400 | ci_shamt(insn)));
	case 2: /* C.ANDI */
		return enc_i(OPC_OP_IMM, 7, rd_p, rd_p, ci_imm(insn));
	}

	/* funct2 = 11: insn[12] picks 64-bit vs word ops, insn[6:5] the op. */
	if (bits(insn, 12, 12) == 0) {
		switch (bits(insn, 6, 5)) {
		case 0: /* C.SUB */
			return enc_r(OPC_OP, 0, 0x20, rd_p, rd_p, rs2_p);
		case 1: /* C.XOR */
			return enc_r(OPC_OP, 4, 0, rd_p, rd_p, rs2_p);
		case 2: /* C.OR */
			return enc_r(OPC_OP, 6, 0, rd_p, rd_p, rs2_p);
		default: /* C.AND */
			return enc_r(OPC_OP, 7, 0, rd_p, rd_p, rs2_p);
		}
	}
	switch (bits(insn, 6, 5)) {
	case 0: /* C.SUBW */
		return enc_r(OPC_OP_32, 0, 0x20, rd_p, rd_p, rs2_p);
	case 1: /* C.ADDW */
		return enc_r(OPC_OP_32, 0, 0, rd_p, rd_p, rs2_p);
	default: /* reserved */
		return 0;
	}
}

static uint32_t expand_q1(uint32_t insn)
{
	uint32_t rd = bits(insn, 11, 7);
	uint32_t rs1_p = creg(bits(insn, 9, 7));

	switch (bits(insn, 15, 13)) {
	case 0: /* C.ADDI, C.NOP (rd = 0); rd = 0 with imm != 0 and imm = 0 are hints */
		return enc_i(OPC_OP_IMM, 0, rd, rd, ci_imm(insn));
	case 1: /* C.ADDIW; rd = 0 is reserved */
		if (rd == 0)
			return 0;
		return enc_i(OPC_OP_IMM_32, 0, rd, rd, ci_imm(insn));
	case 2: /* C.LI; rd = 0 is a hint */
		return enc_i(OPC_OP_IMM, 0, rd, REG_ZERO, ci_imm(insn));
	case 3: {
		if (rd == REG_SP) { /* C.ADDI16SP; nzimm = 0 is reserved */
			int32_t imm = ci_addi16sp_imm(insn);
			if (imm == 0)
				return 0;
			return enc_i(OPC_OP_IMM, 0, REG_SP, REG_SP, imm);
		}
		/* C.LUI; nzimm = 0 is reserved, rd = 0 is a hint */
		int32_t imm = ci_imm(insn);
		if (imm == 0)
			return 0;
		return enc_u(OPC_LUI, rd, (int32_t)((uint32_t)imm << 12));
	}
	case 4:
		return expand_q1_alu(insn);
	case 5: /* C.J */
		return enc_j(REG_ZERO, cj_offset(insn));
	case 6: /* C.BEQZ */
		return enc_b(0, rs1_p, REG_ZERO, cb_offset(insn));
	default: /* C.BNEZ */
		return enc_b(1, rs1_p, REG_ZERO, cb_offset(insn));
	}
}

/* Quadrant 2, funct3 = 100: C.JR, C.MV, C.EBREAK, C.JALR, C.ADD. */
static uint32_t expand_q2_jr_mv_add(uint32_t insn)
{
	uint32_t rd = bits(insn, 11, 7); /* also rs1 */
	uint32_t rs2 = bits(insn, 6, 2);

	if (bits(insn, 12, 12) == 0) {
		if (rs2 != 0) /* C.MV; rd = 0 is a hint */
			return enc_r(OPC_OP, 0, 0, rd, REG_ZERO, rs2);
		if (rd == 0) /* C.JR with rs1 = 0 is reserved */
			return 0;
		return enc_i(OPC_JALR, 0, REG_ZERO, rd, 0); /* C.JR */
	}
	if (rs2 != 0) /* C.ADD; rd = 0 is a hint */
		return enc_r(OPC_OP, 0, 0, rd, rd, rs2);
	if (rd == 0)
		return INSN_EBREAK; /* C.EBREAK */
	return enc_i(OPC_JALR, 0, REG_RA, rd, 0); /* C.JALR */
}

static uint32_t expand_q2(uint32_t insn)
{
	uint32_t rd = bits(insn, 11, 7);
	uint32_t rs2 = bits(insn, 6, 2);

	switch (bits(insn, 15, 13)) {
	case 0: /* C.SLLI; rd = 0 and shamt = 0 are hints */
		return enc_i(OPC_OP_IMM, 1, rd, rd, (int32_t)ci_shamt(insn));
	case 1: /* C.FLDSP (f0 is a fine destination) */
		return enc_i(OPC_LOAD_FP, 3, rd, REG_SP, ci_ldsp_offset(insn));
	case 2: /* C.LWSP; rd = 0 is reserved */
		if (rd == 0)
			return 0;
		return enc_i(OPC_LOAD, 2, rd, REG_SP, ci_lwsp_offset(insn));
	case 3: /* C.LDSP; rd = 0 is reserved */
		if (rd == 0)
			return 0;
		return enc_i(OPC_LOAD, 3, rd, REG_SP, ci_ldsp_offset(insn));
	case 4:
		return expand_q2_jr_mv_add(insn);
	case 5: /* C.FSDSP */
		return enc_s(OPC_STORE_FP, 3, REG_SP, rs2, css_sdsp_offset(insn));
	case 6: /* C.SWSP */
		return enc_s(OPC_STORE, 2, REG_SP, rs2, css_swsp_offset(insn));
	default: /* C.SDSP */
		return enc_s(OPC_STORE, 3, REG_SP, rs2, css_sdsp_offset(insn));
	}
}

uint32_t rvc_expand(uint16_t insn)
{
	switch (insn & 3) {
	case 0:
		return expand_q0(insn);
	case 1:
		return expand_q1(insn);
	case 2:
		return expand_q2(insn);
	default: /* not a compressed instruction */
		return 0;
	}
}
