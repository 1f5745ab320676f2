/* Which registers an instruction reads and writes (decode.h: struct
 * reg_use).  Derived from the same decode the interpreter runs, so a
 * compressed instruction reports its 32-bit twin's registers (C.LWSP reads
 * sp, C.JAL writes ra). */
#include <stdbool.h>
#include <string.h>

#include "cpu/decode.h"

/* funct5 of OP-FP (the F and D chapters' encoding tables) */
enum {
	F5_ADD = 0x00, F5_SUB = 0x01, F5_MUL = 0x02, F5_DIV = 0x03, F5_SGNJ = 0x04,
	F5_MINMAX = 0x05, F5_CVT_FF = 0x08, F5_SQRT = 0x0b, F5_CMP = 0x14, F5_CVT_IF = 0x18,
	F5_CVT_FI = 0x1a, F5_MV_X_CLASS = 0x1c, F5_MV_F = 0x1e,
};

static uint32_t bit(unsigned r) { return 1u << r; }

/* FMADD, FMSUB, FNMSUB, FNMADD and OP-FP. */
static void fp_use(uint32_t insn, struct reg_use *u)
{
	unsigned rd = rd_of(insn), rs1 = rs1_of(insn), rs2 = rs2_of(insn);
	if ((insn & 0x7f) != 0x53) { /* fused multiply-add: rs3 in bits 31:27 */
		u->f_read = bit(rs1) | bit(rs2) | bit(insn >> 27);
		u->f_written = bit(rd);
		return;
	}
	switch (insn >> 27) {
	case F5_ADD: case F5_SUB: case F5_MUL: case F5_DIV: case F5_SGNJ: case F5_MINMAX:
		u->f_read = bit(rs1) | bit(rs2);
		u->f_written = bit(rd);
		break;
	case F5_CVT_FF: case F5_SQRT:
		u->f_read = bit(rs1);
		u->f_written = bit(rd);
		break;
	case F5_CMP:
		u->f_read = bit(rs1) | bit(rs2);
		u->x_written = bit(rd);
		break;
	case F5_CVT_IF: case F5_MV_X_CLASS:
		u->f_read = bit(rs1);
		u->x_written = bit(rd);
		break;
	case F5_CVT_FI: case F5_MV_F:
		u->x_read = bit(rs1);
		u->f_written = bit(rd);
		break;
	default: /* illegal */
		break;
	}
}

/* CSR instructions read and write their CSR exactly when exec.c's
 * exec_csr does: CSRRW with rd = x0 does not read it, CSRRS/CSRRC with
 * rs1 (or uimm) = 0 do not write it.  SFENCE.VMA reads rs1 and rs2. */
static void system_use(uint32_t insn, struct reg_use *u)
{
	unsigned f3 = funct3_of(insn), rd = rd_of(insn), rs1 = rs1_of(insn);
	if (f3 == 0) {
		if (funct7_of(insn) == 0x09 && rd == 0)
			u->x_read = bit(rs1) | bit(rs2_of(insn));
		return;
	}
	if (f3 == 4)
		return; /* illegal */
	bool rw = (f3 & 3) == 1;
	u->csr = (int)(insn >> 20);
	u->csr_read = !rw || rd != 0;
	u->csr_written = rw || rs1 != 0;
	if (!(f3 & 4))
		u->x_read = bit(rs1);
	u->x_written = bit(rd);
}

/* The register-form bit-manipulation ops that read rs1 alone (an
 * immediate or a function code where rs2 would be). */
static bool one_source(enum op op)
{
	switch (op) {
	case OP_SLLI_UW: case OP_CLZ: case OP_CTZ: case OP_CPOP: case OP_CLZW: case OP_CTZW:
	case OP_CPOPW: case OP_SEXT_B: case OP_SEXT_H: case OP_ZEXT_H: case OP_RORI: case OP_RORIW:
	case OP_ORC_B: case OP_REV8: case OP_BCLRI: case OP_BEXTI: case OP_BINVI: case OP_BSETI:
		return true;
	default:
		return false;
	}
}

void decode_reg_use(const struct decoded_insn *d, struct reg_use *u)
{
	memset(u, 0, sizeof(*u));
	u->csr = -1;
	uint32_t rs1 = bit(d->rs1), rs2 = bit(d->rs2), rd = bit(d->rd);
	enum op op = (enum op)d->op;
	if (op == OP_LUI || op == OP_AUIPC || op == OP_JAL) {
		u->x_written = rd;
	} else if (op == OP_JALR || (op >= OP_LB && op <= OP_LWU) ||
		   (op >= OP_ADDI && op <= OP_SRAIW)) {
		u->x_read = rs1;
		u->x_written = rd;
	} else if ((op >= OP_BEQ && op <= OP_BGEU) || (op >= OP_SB && op <= OP_SD)) {
		u->x_read = rs1 | rs2;
	} else if (op >= OP_ADD && op <= OP_CZERO_NEZ) { /* RV64IM, Zba, Zbb, Zbc, Zbs, Zicond */
		u->x_read = one_source(op) ? rs1 : rs1 | rs2;
		u->x_written = rd;
	} else if (op == OP_FLW || op == OP_FLD || op == OP_FLH) {
		u->x_read = rs1;
		u->f_written = rd;
	} else if (op == OP_FSW || op == OP_FSD || op == OP_FSH) {
		u->x_read = rs1;
		u->f_read = rs2;
	} else if (op == OP_FP_ROUNDING || op == OP_FP) {
		fp_use(decoded_insn32(d), u);
	} else if (op == OP_AMO) {
		bool lr = (decoded_insn32(d) >> 27) == 0x02;
		u->x_read = lr ? rs1 : rs1 | rs2;
		u->x_written = rd;
	} else if (op == OP_SYSTEM) {
		system_use(decoded_insn32(d), u);
	}
	/* OP_ILLEGAL and OP_NOP (FENCE, FENCE.I, ALU ops into x0) use nothing */
	u->x_read &= ~1u;
	u->x_written &= ~1u;
}
