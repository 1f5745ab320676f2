/* The data access the next instruction would make (taps.h,
 * taps_next_access): decoded from memory without running it, for
 * debuggers whose watchpoints stop before the access. */
#include "cpu/decode.h"
#include "vm/machine.h"
#include "vm/taps.h"

enum { AMO_LR = 0x02, AMO_SC = 0x03, CBO_ZERO = 4 };

/* The instruction at pc as the hart would fetch it now (its satp unless
 * in M-mode; a 32-bit one may straddle two pages). */
static int fetch(const struct machine *m, uint32_t *word)
{
	const struct hart *h = &m->hart;
	struct memview mv;
	taps_memview(m, &mv);
	uint64_t satp = h->priv == PRIV_M ? 0 : h->satp, pa;
	uint16_t half[2];
	for (int i = 0; i < 2; i++) {
		if (memview_translate(&mv, satp, h->pc + 2 * (uint64_t)i, &pa, NULL) != MV_OK ||
		    memview_read_phys(&mv, pa, &half[i], 2) != MV_OK)
			return -1;
		if (i == 0 && (half[0] & 3) != 3) {
			*word = half[0];
			return 0;
		}
	}
	*word = (uint32_t)half[0] | (uint32_t)half[1] << 16;
	return 0;
}

static unsigned size_of(enum op op)
{
	switch (op) {
	case OP_LB: case OP_LBU: case OP_SB: return 1;
	case OP_LH: case OP_LHU: case OP_SH: case OP_FLH: case OP_FSH: return 2;
	case OP_LW: case OP_LWU: case OP_SW: case OP_FLW: case OP_FSW: return 4;
	default: return 8; /* LD, SD, FLD, FSD */
	}
}

int taps_next_access(const struct machine *m, struct tap_next_access *a)
{
	uint32_t word;
	if (fetch(m, &word))
		return -1;
	struct decoded_insn d;
	decode_insn(word, &d);
	enum op op = (enum op)d.op;
	uint64_t base = m->hart.x[d.rs1];
	*a = (struct tap_next_access){0};
	if ((op >= OP_LB && op <= OP_LWU) || op == OP_FLW || op == OP_FLD || op == OP_FLH) {
		*a = (struct tap_next_access){base + (uint64_t)(int64_t)d.imm, size_of(op), true, false};
	} else if ((op >= OP_SB && op <= OP_SD) || op == OP_FSW || op == OP_FSD || op == OP_FSH) {
		*a = (struct tap_next_access){base + (uint64_t)(int64_t)d.imm, size_of(op), false, true};
	} else if (op == OP_AMO) {
		uint32_t insn = decoded_insn32(&d);
		unsigned f5 = insn >> 27;
		*a = (struct tap_next_access){base, funct3_of(insn) == 2 ? 4 : 8, f5 != AMO_SC,
					      f5 != AMO_LR};
	} else if (op == OP_CBO && (decoded_insn32(&d) >> 20) == CBO_ZERO) {
		*a = (struct tap_next_access){base & ~(uint64_t)(CBO_BLOCK_SIZE - 1), CBO_BLOCK_SIZE,
					      false, true};
	} else {
		return 1;
	}
	return 0;
}
