/* Raw instruction bits to an enum op with its register numbers and
 * immediate.  Every encoding rule of the base ISA and the B extensions
 * lives here, so the interpreter's handlers only compute.  (AMO, SYSTEM,
 * FP arithmetic and the cache-block operations are decoded further by the
 * functions that execute them.) */
#include "cpu/decode.h"

#include <string.h>

static const uint8_t branch_ops[8] = {OP_BEQ, OP_BNE, OP_ILLEGAL, OP_ILLEGAL,
				      OP_BLT, OP_BGE, OP_BLTU, OP_BGEU};
static const uint8_t load_ops[8] = {OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU,
				    OP_ILLEGAL};
static const uint8_t store_ops[8] = {OP_SB, OP_SH, OP_SW, OP_SD, OP_ILLEGAL, OP_ILLEGAL,
				     OP_ILLEGAL, OP_ILLEGAL};
static const uint8_t op_imm_ops[8] = {OP_ADDI, OP_SLLI, OP_SLTI, OP_SLTIU,
				      OP_XORI, OP_SRLI, OP_ORI, OP_ANDI};
/* OP by funct7 (rows) and funct3: the base ISA, M, and the B extensions'
 * register forms (Zba, Zbb, Zbc, Zbs) and Zicond. */
struct op_row {
	uint8_t funct7;
	uint8_t ops[8]; /* by funct3; 0 (OP_ILLEGAL) where nothing is defined */
};
static const struct op_row op_rows[] = {
	{0x00, {OP_ADD, OP_SLL, OP_SLT, OP_SLTU, OP_XOR, OP_SRL, OP_OR, OP_AND}},
	{0x01, {OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU, OP_DIV, OP_DIVU, OP_REM, OP_REMU}},
	{0x20, {OP_SUB, 0, 0, 0, OP_XNOR, OP_SRA, OP_ORN, OP_ANDN}},
	{0x10, {0, 0, OP_SH1ADD, 0, OP_SH2ADD, 0, OP_SH3ADD, 0}},
	{0x05, {0, OP_CLMUL, OP_CLMULR, OP_CLMULH, OP_MIN, OP_MINU, OP_MAX, OP_MAXU}},
	{0x30, {0, OP_ROL, 0, 0, 0, OP_ROR, 0, 0}},
	{0x24, {0, OP_BCLR, 0, 0, 0, OP_BEXT, 0, 0}},
	{0x34, {0, OP_BINV, 0, 0, 0, 0, 0, 0}},
	{0x14, {0, OP_BSET, 0, 0, 0, 0, 0, 0}},
	{0x07, {0, 0, 0, 0, 0, OP_CZERO_EQZ, 0, OP_CZERO_NEZ}},
};
/* OP-32 likewise (zext.h is the rs2 = 0 case of funct7 4, funct3 4). */
static const struct op_row op32_rows[] = {
	{0x00, {OP_ADDW, OP_SLLW, 0, 0, 0, OP_SRLW, 0, 0}},
	{0x01, {OP_MULW, 0, 0, 0, OP_DIVW, OP_DIVUW, OP_REMW, OP_REMUW}},
	{0x20, {OP_SUBW, 0, 0, 0, 0, OP_SRAW, 0, 0}},
	{0x04, {OP_ADD_UW, 0, 0, 0, OP_ZEXT_H, 0, 0, 0}},
	{0x10, {0, 0, OP_SH1ADD_UW, 0, OP_SH2ADD_UW, 0, OP_SH3ADD_UW, 0}},
	{0x30, {0, OP_ROLW, 0, 0, 0, OP_RORW, 0, 0}},
};

/* OP-IMM funct3 1 and 5: the shifts, and the Zbb/Zbs forms that share
 * their encoding space, told apart by imm[11:6] or the whole imm[11:0]. */
static enum op decode_op_imm_shift(uint32_t insn)
{
	unsigned top6 = insn >> 26, imm12 = insn >> 20;
	if (funct3_of(insn) == 1) {
		switch (imm12) {
		case 0x600: return OP_CLZ;
		case 0x601: return OP_CTZ;
		case 0x602: return OP_CPOP;
		case 0x604: return OP_SEXT_B;
		case 0x605: return OP_SEXT_H;
		default: break;
		}
		switch (top6) {
		case 0x00: return OP_SLLI;
		case 0x12: return OP_BCLRI;
		case 0x1a: return OP_BINVI;
		case 0x0a: return OP_BSETI;
		default: return OP_ILLEGAL;
		}
	}
	if (imm12 == 0x287)
		return OP_ORC_B;
	if (imm12 == 0x6b8)
		return OP_REV8;
	switch (top6) {
	case 0x00: return OP_SRLI;
	case 0x10: return OP_SRAI;
	case 0x18: return OP_RORI;
	case 0x12: return OP_BEXTI;
	default: return OP_ILLEGAL;
	}
}

static enum op decode_op_imm(uint32_t insn)
{
	unsigned f3 = funct3_of(insn);
	if (f3 == 1 || f3 == 5)
		return decode_op_imm_shift(insn);
	return op_imm_ops[f3];
}

static enum op decode_op_imm32(uint32_t insn)
{
	unsigned f3 = funct3_of(insn), f7 = funct7_of(insn), imm12 = insn >> 20;
	switch (f3) {
	case 0: return OP_ADDIW;
	case 1:
		if (f7 == 0)
			return OP_SLLIW;
		if (insn >> 26 == 0x02)
			return OP_SLLI_UW; /* a 6-bit shift amount */
		return imm12 == 0x600 ? OP_CLZW : imm12 == 0x601 ? OP_CTZW
			: imm12 == 0x602 ? OP_CPOPW : OP_ILLEGAL;
	case 5: return f7 == 0 ? OP_SRLIW : f7 == 0x20 ? OP_SRAIW : f7 == 0x30 ? OP_RORIW
			: OP_ILLEGAL;
	default: return OP_ILLEGAL;
	}
}

/* OP and OP-32: the row for funct7, then funct3. */
static enum op decode_rows(const struct op_row *rows, size_t n, uint32_t insn)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].funct7 == funct7_of(insn))
			return (enum op)rows[i].ops[funct3_of(insn)];
	return OP_ILLEGAL;
}

static enum op decode_op(uint32_t insn)
{
	return decode_rows(op_rows, sizeof(op_rows) / sizeof(op_rows[0]), insn);
}

static enum op decode_op32(uint32_t insn)
{
	if (funct7_of(insn) == 0x04 && funct3_of(insn) == 4 && rs2_of(insn) != 0)
		return OP_ILLEGAL; /* packw (Zbkb), not implemented; rs2 = 0 is zext.h */
	return decode_rows(op32_rows, sizeof(op32_rows) / sizeof(op32_rows[0]), insn);
}

/* MISC-MEM: FENCE (PAUSE, Zihintpause, is one), FENCE.I, and the
 * cache-block operations: cbo.inval (imm 0), clean (1), flush (2), zero (4). */
static enum op decode_misc_mem(uint32_t insn)
{
	unsigned f3 = funct3_of(insn), imm12 = insn >> 20;
	if (f3 <= 1)
		return OP_NOP;
	if (f3 == 2 && rd_of(insn) == 0 && (imm12 <= 2 || imm12 == 4))
		return OP_CBO;
	return OP_ILLEGAL;
}

/* The operation and immediate of a 32-bit instruction. */
static enum op decode_32(uint32_t insn, int32_t *imm)
{
	unsigned f3 = funct3_of(insn);
	*imm = (int32_t)imm_i(insn);
	switch (insn & 0x7f) {
	case 0x37: *imm = (int32_t)imm_u(insn); return OP_LUI;
	case 0x17: *imm = (int32_t)imm_u(insn); return OP_AUIPC;
	case 0x6f: *imm = (int32_t)imm_j(insn); return OP_JAL;
	case 0x67: return f3 == 0 ? OP_JALR : OP_ILLEGAL;
	case 0x63: *imm = (int32_t)imm_b(insn); return branch_ops[f3];
	case 0x03: return load_ops[f3];
	case 0x23: *imm = (int32_t)imm_s(insn); return store_ops[f3];
	case 0x13: return decode_op_imm(insn);
	case 0x1b: return decode_op_imm32(insn);
	case 0x33: return decode_op(insn);
	case 0x3b: return decode_op32(insn);
	case 0x0f: return decode_misc_mem(insn);
	case 0x2f: return OP_AMO;
	case 0x73: return OP_SYSTEM;
	case 0x07: return f3 == 1 ? OP_FLH : f3 == 2 ? OP_FLW : f3 == 3 ? OP_FLD : OP_ILLEGAL;
	case 0x27:
		*imm = (int32_t)imm_s(insn);
		return f3 == 1 ? OP_FSH : f3 == 2 ? OP_FSW : f3 == 3 ? OP_FSD : OP_ILLEGAL;
	case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:
		return fpu_pack_arith(insn, imm) ? OP_FP_ROUNDING : OP_FP;
	default: return OP_ILLEGAL;
	}
}

void decode_insn(uint32_t word, struct decoded_insn *d)
{
	bool compressed = (word & 3) != 3;
	memset(d, 0, sizeof(*d));
	d->word = word;
	d->len = compressed ? 2 : 4;
	uint32_t insn = compressed ? rvc_table[word & 0xffff] : word;
	if (!insn)
		return; /* OP_ILLEGAL */
	int32_t imm;
	enum op op = decode_32(insn, &imm);
	if (op == OP_ILLEGAL)
		return;
	if (decode_only_writes_rd(op) && rd_of(insn) == 0)
		op = OP_NOP;
	d->imm = imm;
	d->op = (uint8_t)op;
	d->rd = (uint8_t)rd_of(insn);
	d->rs1 = (uint8_t)rs1_of(insn);
	d->rs2 = (uint8_t)rs2_of(insn);
}
