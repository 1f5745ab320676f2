/* Decoded blocks: the interpreter's unit of dispatch.
 *
 * A block is a run of straight-line instructions inside one 4 KiB page,
 * decoded once into `struct block_insn` entries that hold the address of
 * their handler, so executing one is `goto *d->run` and the next is d + 1.
 * It ends after the first jump, branch, AMO, SYSTEM or illegal
 * instruction, at the page's end, or at BLOCK_MAX_INSNS, and is followed
 * by an end entry that carries on at the next pc.
 *
 * Blocks are keyed by the *host address* of their first byte: that names
 * the physical memory the bytes came from, whatever virtual address or
 * privilege reaches it, so blocks survive satp writes, SFENCE.VMA and
 * context switches, and two mappings of one page share them.
 *
 * A block is never invalidated.  Instead it keeps a copy of the bytes it
 * was decoded from and is used only when memory still holds exactly them
 * (block_current, checked on every entry), so stores, device DMA, snapshot
 * restore, reset and debugger writes need no hook.  A store into the block
 * being executed ends it right after the store (exec.c), so the next
 * instruction is decoded from the new bytes: execution always follows
 * memory exactly as a fetch of every instruction would, whatever the block
 * boundaries, which is what keeps runs deterministic across restores.
 * See docs/cpu.md.
 */
#ifndef KEEL_CPU_BLOCK_H
#define KEEL_CPU_BLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/decode.h"

#define BLOCK_MAX_INSNS 32
#define BLOCK_MAX_BYTES 128 /* so pcoff fits in a byte */
#define BLOCK_TABLE_SIZE 8192 /* blocks per hart, direct-mapped */

/* One decoded instruction.  `run` is its handler in hart_run.  Fields as
 * struct decoded_insn, except: JAL and JALR keep the instruction length in
 * rs2; OP_FP, OP_AMO and OP_SYSTEM keep the 32-bit instruction (compressed
 * ones expanded) in imm. */
struct block_insn {
	const void *run;
	int32_t imm;
	uint8_t rd, rs1, rs2;
	uint8_t pcoff; /* bytes from the block's first instruction */
}; /* 16 bytes */

struct block {
	uintptr_t hpc; /* host address of the first byte; 0 for none */
	uint16_t n; /* instructions, not counting the end entry */
	uint16_t bytes; /* their length; the end entry's pcoff */
	uint8_t src[BLOCK_MAX_BYTES + 2]; /* the bytes they were decoded from (+2: see raw_insn) */
	struct block_insn insn[BLOCK_MAX_INSNS + 1];
};

/* Does memory still hold the bytes b was decoded from?  Compared eight
 * bytes at a time; the last compare overlaps the one before it rather than
 * read past the block, which may end at the end of RAM. */
static inline bool block_current(const struct block *b)
{
	const uint8_t *mem = (const uint8_t *)b->hpc;
	unsigned n = b->bytes;
	uint64_t x, y;
	if (n < 8) {
		uint16_t p, q;
		for (unsigned i = 0; i < n; i += 2) {
			memcpy(&p, mem + i, 2);
			memcpy(&q, b->src + i, 2);
			if (p != q)
				return false;
		}
		return true;
	}
	for (unsigned i = 0; i + 8 < n; i += 8) {
		memcpy(&x, mem + i, 8);
		memcpy(&y, b->src + i, 8);
		if (x != y)
			return false;
	}
	memcpy(&x, mem + n - 8, 8);
	memcpy(&y, b->src + n - 8, 8);
	return x == y;
}

/* The table slot for a block starting at host address hpc. */
static inline struct block *block_slot(struct block *table, uintptr_t hpc)
{
	return &table[(hpc >> 1) % BLOCK_TABLE_SIZE];
}

/* Decode the block starting at host address hpc, `room` bytes before the
 * end of its page, into b.  `handlers` maps each enum op (and
 * OP_BLOCK_END) to its handler.  Returns false when not even the first
 * instruction fits in the page (it crosses into the next one). */
bool block_build(struct block *b, uintptr_t hpc, unsigned room, const void *const *handlers);

/* Turn one decoded instruction into a block entry (see struct block_insn). */
void block_insn_from(struct block_insn *e, const struct decoded_insn *d,
		     const void *const *handlers);

/* The entry after the last instruction: carry on at pcoff. */
static inline void block_end_entry(struct block_insn *e, unsigned pcoff,
				   const void *const *handlers)
{
	memset(e, 0, sizeof(*e));
	e->run = handlers[OP_BLOCK_END];
	e->pcoff = (uint8_t)pcoff;
}

#endif
