/* Instruction decode: raw instruction bits to an operation and its fields.
 *
 * The interpreter decodes a run of instructions at once into a block
 * (cpu/block.h) and reuses it for as long as memory holds the same bytes.
 */
#ifndef KEEL_CPU_DECODE_H
#define KEEL_CPU_DECODE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/hart.h"

/* One value per distinct behaviour the loop implements.  OP_ILLEGAL is 0
 * so that an all-zero cache entry is the correct decode of the word 0 (an
 * illegal compressed instruction) but for its len, which the loop does not
 * read for an illegal instruction. */
enum op {
	OP_ILLEGAL = 0,
	OP_NOP, /* FENCE, FENCE.I, and ALU ops whose rd is x0 */
	OP_LUI, OP_AUIPC, OP_JAL, OP_JALR,
	OP_BEQ, OP_BNE, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU,
	OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU,
	OP_SB, OP_SH, OP_SW, OP_SD,
	OP_ADDI, OP_SLTI, OP_SLTIU, OP_XORI, OP_ORI, OP_ANDI, OP_SLLI, OP_SRLI, OP_SRAI,
	OP_ADDIW, OP_SLLIW, OP_SRLIW, OP_SRAIW,
	OP_ADD, OP_SUB, OP_SLL, OP_SLT, OP_SLTU, OP_XOR, OP_SRL, OP_SRA, OP_OR, OP_AND,
	OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU, OP_DIV, OP_DIVU, OP_REM, OP_REMU,
	OP_ADDW, OP_SUBW, OP_SLLW, OP_SRLW, OP_SRAW,
	OP_MULW, OP_DIVW, OP_DIVUW, OP_REMW, OP_REMUW,
	/* Zba */
	OP_ADD_UW, OP_SH1ADD, OP_SH2ADD, OP_SH3ADD, OP_SH1ADD_UW, OP_SH2ADD_UW, OP_SH3ADD_UW,
	OP_SLLI_UW,
	/* Zbb */
	OP_ANDN, OP_ORN, OP_XNOR, OP_CLZ, OP_CTZ, OP_CPOP, OP_CLZW, OP_CTZW, OP_CPOPW,
	OP_MAX, OP_MAXU, OP_MIN, OP_MINU, OP_SEXT_B, OP_SEXT_H, OP_ZEXT_H,
	OP_ROL, OP_ROR, OP_RORI, OP_ROLW, OP_RORW, OP_RORIW, OP_ORC_B, OP_REV8,
	/* Zbc */
	OP_CLMUL, OP_CLMULR, OP_CLMULH,
	/* Zbs */
	OP_BCLR, OP_BCLRI, OP_BEXT, OP_BEXTI, OP_BINV, OP_BINVI, OP_BSET, OP_BSETI,
	/* Zicond */
	OP_CZERO_EQZ, OP_CZERO_NEZ,
	OP_FLW, OP_FLD, OP_FSW, OP_FSD, OP_FLH, OP_FSH,
	OP_FP_ROUNDING, /* fpu_execute_packed(imm): see fpu_pack_arith */
	OP_FP, /* the rest of OP-FP: fpu_execute(insn) */
	OP_AMO, /* exec_amo(insn) */
	OP_SYSTEM, /* exec_system(insn) */
	OP_CBO, /* Zicbom, Zicboz: exec_cbo(insn) */
	OP_BLOCK_END, /* not an instruction: the entry after a block's last (cpu/block.h) */
	/* Not instructions either: an ADDI, ADDIW or ADD entry followed in its
	 * block by a conditional branch runs both (cpu/block.c), in this order
	 * of branches: BEQ, BNE, BLT, BGE, BLTU, BGEU; so does ADDI or ADD
	 * followed by JAL. */
	OP_ADDI_BEQ, OP_ADDI_BNE, OP_ADDI_BLT, OP_ADDI_BGE, OP_ADDI_BLTU, OP_ADDI_BGEU,
	OP_ADDIW_BEQ, OP_ADDIW_BNE, OP_ADDIW_BLT, OP_ADDIW_BGE, OP_ADDIW_BLTU, OP_ADDIW_BGEU,
	OP_ADD_BEQ, OP_ADD_BNE, OP_ADD_BLT, OP_ADD_BGE, OP_ADD_BLTU, OP_ADD_BGEU,
	OP_ADDI_JAL, OP_ADD_JAL,
	/* ... and the pairs most frequent in the guest benchmarks' hot code
	 * (register saves and restores, sign extensions, address sums, the
	 * rotates and mixing of 32-bit hashes) */
	OP_LD_LD, OP_SD_SD, OP_LW_LW, OP_ADD_ADD, OP_ADDI_ADDI, OP_ADDIW_ADDIW, OP_ADDI_ADD,
	OP_SLLI_SRLI, OP_OR_OR, OP_SRLIW_SLLIW, OP_SLLIW_SRLIW, OP_ADDW_XOR,
	OP_COUNT
};

/* Instruction fields. */
static inline unsigned rd_of(uint32_t i) { return (i >> 7) & 31; }
static inline unsigned rs1_of(uint32_t i) { return (i >> 15) & 31; }
static inline unsigned rs2_of(uint32_t i) { return (i >> 20) & 31; }
static inline unsigned funct3_of(uint32_t i) { return (i >> 12) & 7; }
static inline unsigned funct7_of(uint32_t i) { return i >> 25; }
static inline int64_t imm_i(uint32_t i) { return (int32_t)i >> 20; }
/* The immediates are assembled as unsigned bit fields and then
 * sign-extended from bit 31 in one step. */
static inline int64_t imm_s(uint32_t i)
{
	return (int32_t)((i & 0xfe000000) | ((i >> 7) & 0x1f) << 20) >> 20;
}
static inline int64_t imm_b(uint32_t i)
{
	uint32_t v = (i & 0x80000000) | ((i & 0x80) << 23) | ((i >> 1) & 0x3f000000) |
		     ((i << 12) & 0x00f00000);
	return (int32_t)v >> 19;
}
static inline int64_t imm_u(uint32_t i) { return (int32_t)(i & 0xfffff000); }
static inline int64_t imm_j(uint32_t i)
{
	uint32_t v = (i & 0x80000000) | ((i & 0xff000) << 11) | ((i & 0x100000) << 2) |
		     ((i >> 9) & 0x3ff000);
	return (int32_t)v >> 11;
}

/* The 32-bit form of d's instruction (compressed ones expanded), for the
 * ops whose execution decodes further (OP_FP, OP_AMO, OP_SYSTEM, OP_CBO). */
static inline uint32_t decoded_insn32(const struct decoded_insn *d)
{
	return (d->word & 3) == 3 ? d->word : rvc_table[d->word & 0xffff];
}

/* Operations whose only effect is writing rd: with rd = x0 they do
 * nothing at all (loads, jumps and the rest still have effects). */
static inline bool decode_only_writes_rd(enum op op)
{
	return (op >= OP_LUI && op <= OP_AUIPC) || (op >= OP_ADDI && op <= OP_CZERO_NEZ);
}

/* The length of the instruction at host address p: 2 for a compressed
 * one (bits 1:0 != 3), else 4.  Reads its first two bytes. */
static inline unsigned insn_len_at(const uint8_t *p)
{
	uint16_t lo;
	memcpy(&lo, p, 2);
	return (lo & 3) == 3 ? 4 : 2;
}

/* The bits of the instruction at host address p, as decode_insn takes
 * them: 16 for a compressed one, else 32, which the caller has made sure
 * are all there to read (insn_len_at, within the page). */
static inline uint32_t insn_at(const uint8_t *p)
{
	uint16_t lo, hi;
	memcpy(&lo, p, 2);
	if ((lo & 3) != 3)
		return lo;
	memcpy(&hi, p + 2, 2);
	return lo | (uint32_t)hi << 16;
}

/* Fill d for the instruction in the low bits of `word` (the low 16 bits
 * alone when bits 1:0 != 3, a compressed instruction).  d->word = word. */
void decode_insn(uint32_t word, struct decoded_insn *d);

/* The registers an instruction names as its sources and destination, and
 * the CSR a CSR instruction accesses: what analyses ask of an instruction
 * (vm/taps_effect.c).  x0 never appears: reading it yields no data and
 * writing it changes nothing.  Implicit effects are not included: fflags
 * and mstatus.FS written by FP instructions, the trap CSRs. */
struct reg_use {
	uint32_t x_read, x_written; /* bit n: xn */
	uint32_t f_read, f_written; /* bit n: fn */
	int csr; /* the CSR a CSR instruction names, or -1 */
	bool csr_read, csr_written; /* whether it reads / writes it (as exec.c does) */
};

/* Fill u for the instruction d (decode_insn's, compressed ones expanded).
 * An illegal encoding, a FENCE or an instruction that only writes x0 uses
 * nothing.  Lives in reg_use.c. */
void decode_reg_use(const struct decoded_insn *d, struct reg_use *u);

#endif
