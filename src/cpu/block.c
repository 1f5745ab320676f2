/* Building decoded blocks (see block.h). */
#include "cpu/block.h"

/* Instructions after which a block ends: jumps, instructions that may
 * change what later ones mean or touch memory through paths that bypass
 * the store check (SYSTEM, AMO, CBO), and illegal ones.  A conditional branch
 * does not end it: not taken, the block runs on. */
static bool ends_block(enum op op)
{
	return op == OP_JAL || op == OP_JALR || op == OP_AMO || op == OP_SYSTEM ||
	       op == OP_CBO || op == OP_ILLEGAL;
}

void block_insn_from(struct block_insn *e, const struct decoded_insn *d,
		     const void *const *handlers)
{
	e->run = handlers[d->op];
	e->imm = d->imm;
	e->rd = d->rd;
	e->rs1 = d->rs1;
	e->rs2 = d->rs2;
	e->pcoff = 0;
	if (e->rd == 0 && ((d->op >= OP_LB && d->op <= OP_LWU) || d->op == OP_JAL ||
			   d->op == OP_JALR))
		e->rd = X_SINK;
	switch (d->op) {
	case OP_LB: case OP_LH: case OP_LW: case OP_LD: case OP_LBU: case OP_LHU: case OP_LWU:
		e->rs2 = d->op;
		break;
	case OP_SB: e->rd = 1; break;
	case OP_SH: e->rd = 2; break;
	case OP_SW: e->rd = 4; break;
	case OP_SD: e->rd = 8; break;
	case OP_FSH: e->rd = 2 | BLOCK_STORE_FP; break;
	case OP_FSW: e->rd = 4 | BLOCK_STORE_FP; break;
	case OP_FSD: e->rd = 8 | BLOCK_STORE_FP; break;
	case OP_JAL:
	case OP_JALR: e->rs2 = d->len; break;
	case OP_FP:
	case OP_AMO:
	case OP_CBO:
	case OP_SYSTEM: e->imm = (int32_t)decoded_insn32(d); break;
	default: break;
	}
}

/* The handler that runs an entry of op `first` and the one of op `second`
 * after it as one, or OP_COUNT if there is none: ADDI, ADDIW or ADD and a
 * branch (the end of most counted loops), and the pairs decode.h lists.
 * It saves a dispatch and changes nothing else: a block's instructions
 * are counted when it is entered, and when the first of a pair of loads
 * or stores takes the slow path, the second runs from its own entry,
 * which keeps its own handler. */
static enum op fused(enum op first, enum op second)
{
	static const struct {
		uint8_t first, second, pair;
	} pairs[] = {
		{OP_LD, OP_LD, OP_LD_LD}, {OP_SD, OP_SD, OP_SD_SD}, {OP_LW, OP_LW, OP_LW_LW},
		{OP_ADD, OP_ADD, OP_ADD_ADD}, {OP_ADDI, OP_ADDI, OP_ADDI_ADDI},
		{OP_ADDIW, OP_ADDIW, OP_ADDIW_ADDIW}, {OP_ADDI, OP_ADD, OP_ADDI_ADD},
		{OP_SLLI, OP_SRLI, OP_SLLI_SRLI}, {OP_OR, OP_OR, OP_OR_OR},
		{OP_SRLIW, OP_SLLIW, OP_SRLIW_SLLIW}, {OP_SLLIW, OP_SRLIW, OP_SLLIW_SRLIW},
		{OP_ADDW, OP_XOR, OP_ADDW_XOR}, {OP_ADDI, OP_JAL, OP_ADDI_JAL},
		{OP_ADD, OP_JAL, OP_ADD_JAL},
	};
	if (second >= OP_BEQ && second <= OP_BGEU) {
		if (first == OP_ADDI)
			return OP_ADDI_BEQ + (second - OP_BEQ);
		if (first == OP_ADDIW)
			return OP_ADDIW_BEQ + (second - OP_BEQ);
		if (first == OP_ADD)
			return OP_ADD_BEQ + (second - OP_BEQ);
		return OP_COUNT;
	}
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (pairs[i].first == first && pairs[i].second == second)
			return (enum op)pairs[i].pair;
	return OP_COUNT;
}

bool block_build(struct block *b, uintptr_t hpc, unsigned room, const void *const *handlers)
{
	enum op prev = OP_COUNT; /* the previous entry's op, if it is not in a pair */
	const uint8_t *mem = (const uint8_t *)hpc;
	unsigned off = 0, n = 0;
	struct decoded_insn d;
	while (n < BLOCK_MAX_INSNS && off + 2 <= room) {
		unsigned len = insn_len_at(mem + off);
		if (off + len > room || off + len > BLOCK_MAX_BYTES)
			break;
		decode_insn(insn_at(mem + off), &d);
		block_insn_from(&b->insn[n], &d, handlers);
		b->insn[n].pcoff = (uint8_t)off;
		enum op pair = n ? fused(prev, (enum op)d.op) : OP_COUNT;
		if (pair != OP_COUNT)
			b->insn[n - 1].run = handlers[pair];
		if (n == 0 || (n == 1 && pair != OP_COUNT))
			b->op0 = (uint8_t)(n ? pair : d.op);
		prev = pair == OP_COUNT ? (enum op)d.op : OP_COUNT;
		off += len;
		n++;
		if (ends_block((enum op)d.op))
			break;
	}
	if (!n) {
		b->hpc = 0;
		return false;
	}
	b->hpc = hpc;
	b->uses = 0;
	b->idle = 0;
	b->jit = NULL;
	b->n = (uint16_t)n;
	b->bytes = (uint16_t)off;
	block_end_entry(&b->insn[n], off, handlers);
	return true;
}

const struct block *block_head(struct block *head, const struct block *b, unsigned m,
			       const void *const *handlers)
{
	head->hpc = b->hpc;
	head->gen = b->gen;
	head->n = (uint16_t)m;
	head->bytes = b->insn[m].pcoff;
	head->uses = 0;
	head->op0 = b->op0;
	head->idle = 0;
	head->jit = NULL;
	memcpy(head->insn, b->insn, m * sizeof(b->insn[0]));
	head->insn[0].run = handlers[b->op0];
	struct decoded_insn d;
	decode_insn(insn_at((const uint8_t *)b->hpc + b->insn[m - 1].pcoff), &d);
	block_insn_from(&head->insn[m - 1], &d, handlers);
	head->insn[m - 1].pcoff = b->insn[m - 1].pcoff;
	block_end_entry(&head->insn[m], b->insn[m].pcoff, handlers);
	return head;
}
