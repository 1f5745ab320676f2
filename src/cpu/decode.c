/* Raw instruction bits to an enum op with its register numbers and
 * immediate.  Every legality rule of the base ISA lives here, so the
 * interpreter's handlers only compute.  (AMO, SYSTEM and FP arithmetic are
 * decoded further by the functions that execute them.) */
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
static const uint8_t op_ops[8] = {OP_ADD, OP_SLL, OP_SLT, OP_SLTU, OP_XOR, OP_SRL, OP_OR, OP_AND};
static const uint8_t mul_ops[8] = {OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU,
				   OP_DIV, OP_DIVU, OP_REM, OP_REMU};
static const uint8_t op32_ops[8] = {OP_ADDW, OP_SLLW, OP_ILLEGAL, OP_ILLEGAL,
				    OP_ILLEGAL, OP_SRLW, OP_ILLEGAL, OP_ILLEGAL};
static const uint8_t mul32_ops[8] = {OP_MULW, OP_ILLEGAL, OP_ILLEGAL, OP_ILLEGAL,
				     OP_DIVW, OP_DIVUW, OP_REMW, OP_REMUW};

static enum op decode_op_imm(uint32_t insn)
{
	unsigned f3 = funct3_of(insn), top6 = insn >> 26;
	if (f3 == 1)
		return top6 == 0 ? OP_SLLI : OP_ILLEGAL;
	if (f3 == 5)
		return top6 == 0 ? OP_SRLI : top6 == 0x10 ? OP_SRAI : OP_ILLEGAL;
	return op_imm_ops[f3];
}

static enum op decode_op_imm32(uint32_t insn)
{
	unsigned f3 = funct3_of(insn), f7 = funct7_of(insn);
	switch (f3) {
	case 0: return OP_ADDIW;
	case 1: return f7 == 0 ? OP_SLLIW : OP_ILLEGAL;
	case 5: return f7 == 0 ? OP_SRLIW : f7 == 0x20 ? OP_SRAIW : OP_ILLEGAL;
	default: return OP_ILLEGAL;
	}
}

/* OP and OP-32: funct7 0 (base), 1 (M extension), 0x20 (SUB and SRA). */
static enum op decode_reg_reg(uint32_t insn, const uint8_t base[8], const uint8_t mul[8],
			      enum op sub, enum op sra)
{
	unsigned f3 = funct3_of(insn), f7 = funct7_of(insn);
	if (f7 == 1)
		return mul[f3];
	if (f7 == 0x20)
		return f3 == 0 ? sub : f3 == 5 ? sra : OP_ILLEGAL;
	return f7 == 0 ? base[f3] : OP_ILLEGAL;
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
	case 0x33: return decode_reg_reg(insn, op_ops, mul_ops, OP_SUB, OP_SRA);
	case 0x3b: return decode_reg_reg(insn, op32_ops, mul32_ops, OP_SUBW, OP_SRAW);
	case 0x0f: return f3 <= 1 ? OP_NOP : OP_ILLEGAL; /* FENCE, FENCE.I */
	case 0x2f: return OP_AMO;
	case 0x73: return OP_SYSTEM;
	case 0x07: return f3 == 2 ? OP_FLW : f3 == 3 ? OP_FLD : OP_ILLEGAL;
	case 0x27: *imm = (int32_t)imm_s(insn); return f3 == 2 ? OP_FSW : f3 == 3 ? OP_FSD : OP_ILLEGAL;
	case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:
		return fpu_pack_arith(insn, imm) ? OP_FP_ROUNDING : OP_FP;
	default: return OP_ILLEGAL;
	}
}

/* Operations whose only effect is writing rd: with rd = x0 they do
 * nothing at all (loads, jumps and the rest still have effects). */
static bool only_writes_rd(enum op op)
{
	return (op >= OP_LUI && op <= OP_AUIPC) || (op >= OP_ADDI && op <= OP_REMUW);
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
	if (only_writes_rd(op) && rd_of(insn) == 0)
		op = OP_NOP;
	d->imm = imm;
	d->op = (uint8_t)op;
	d->rd = (uint8_t)rd_of(insn);
	d->rs1 = (uint8_t)rs1_of(insn);
	d->rs2 = (uint8_t)rs2_of(insn);
}
