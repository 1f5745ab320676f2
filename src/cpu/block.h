/* Decoded blocks: the interpreter's unit of dispatch.
 *
 * A block is a run of straight-line instructions inside one 4 KiB page,
 * decoded once into `struct block_insn` entries that hold the address of
 * their handler, so executing one is `goto *d->run` and the next is d + 1.
 * It ends after the first jump, AMO, SYSTEM, CBO or illegal instruction, at the
 * page's end, or at BLOCK_MAX_INSNS, and is followed by an end entry that
 * carries on at the next pc.  A conditional branch leaves the block only
 * when taken.
 *
 * Blocks are keyed by the *host address* of their first byte: that names
 * the physical memory the bytes came from, whatever virtual address or
 * privilege reaches it, so blocks survive satp writes, SFENCE.VMA and
 * context switches, and two mappings of one page share them.
 *
 * A block is never invalidated one by one.  It records the code
 * generation of its page (bus/bus.h) and is used only while the page
 * still has that generation.  Building a block makes the generation odd
 * and drops the hart's TLB write entries for the page; no new ones are
 * made while it is odd, so every later write to the page (a guest store,
 * device DMA, a loader or debugger, a restore) goes through the bus,
 * which moves the generation on.  The block being run ends after any
 * store that missed the TLB, so the next instruction is decoded from the
 * new bytes: execution always follows memory exactly as a fetch of every
 * instruction would, whatever the block boundaries, which is what keeps
 * runs deterministic across restores.
 * See docs/cpu.md.
 */
#ifndef KEEL_CPU_BLOCK_H
#define KEEL_CPU_BLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/decode.h"

#define BLOCK_MAX_INSNS 29 /* a block is then 512 bytes: see struct block */
#define BLOCK_MAX_BYTES 128 /* so pcoff fits in a byte */
#define BLOCK_TABLE_SIZE 32768 /* blocks per hart, direct-mapped */

/* One decoded instruction.  `run` is its handler in hart_run.  Fields as
 * struct decoded_insn, except: JAL and JALR keep the instruction length in
 * rs2; OP_FP, OP_AMO, OP_SYSTEM and OP_CBO keep the 32-bit instruction (compressed
 * ones expanded) in imm; integer loads, JAL and JALR whose rd is x0 have
 * rd X_SINK instead, so their handlers need not re-zero x0; integer loads
 * keep their op in rs2 and stores their size in rd (with BLOCK_STORE_FP
 * for FSH, FSW and FSD), for the miss paths that all loads or stores share. */
#define X_SINK 32
#define BLOCK_STORE_SIZE 0x0f
#define BLOCK_STORE_FP 0x80
struct block_insn {
	const void *run;
	int32_t imm;
	uint8_t rd, rs1, rs2;
	uint8_t pcoff; /* bytes from the block's first instruction */
}; /* 16 bytes */

struct block {
	uintptr_t hpc; /* host address of the first byte; 0 for none */
	uint64_t gen; /* the page's code generation it was decoded at */
	uint16_t n; /* instructions, not counting the end entry */
	uint16_t bytes; /* their length; the end entry's pcoff */
	/* For the JIT (cpu/jit.h): entries while it was not yet translated,
	 * and the op of insn[0]'s own handler (a pair's, if fused), which the
	 * JIT's handlers take the place of */
	uint16_t uses;
	uint8_t op0;
	/* The new blocks find_block (exec.c, victim) gave the other slot
	 * of its pair since it was built, or translated, or op_jit_run
	 * last entered it */
	uint8_t idle;
	struct block_insn insn[BLOCK_MAX_INSNS + 1];
	const void *jit; /* its translation (cpu/jit.h), or NULL */
} __attribute__((aligned(512))); /* a power of two: the table index is a shift,
				    and a block's header shares a cache line
				    with its first instructions */
_Static_assert(sizeof(struct block) == 512, "struct block is not 512 bytes");
_Static_assert(OP_COUNT + 2 <= 256, "op0 and the JIT's two handlers fit a byte");

#define BLOCK_TABLE_BYTES (BLOCK_TABLE_SIZE * sizeof(struct block))

/* The table is two-way: a block sits in one of a pair of slots, i and
 * i ^ BLOCK_WAY_BIT, whichever find_block (exec.c) chose.  Lookups look
 * first in block_index's, bits 1-15 of the host address (instructions are
 * 2-byte aligned), so the blocks of any 64 KiB of code never share a
 * first slot.  Its partner is the first slot of the address 32 KiB away:
 * neighbours, which run together (a loop's head at X and the block at
 * X + 2 its back branch enters), are never in one pair, and two blocks
 * that share a first slot still have a slot each.  With pairs i and i ^ 1
 * the blocks at X and X + 2 filled one pair, and in kbench compress a
 * third at X - 0x220000 evicted one of them at every turn of the loop,
 * which then never ran long enough to be translated.  Direct-mapped,
 * Linux's fork and exec ran through more code than the table kept: one
 * rebuild every 800 instructions, many of translated blocks.  jit.c
 * (chain_to_rax) emits the same computation. */
#define BLOCK_WAY_BIT (BLOCK_TABLE_SIZE / 2)

/* A block kept (translated, or nearer the JIT's threshold) while this
 * many new blocks took the other slot of its pair, and in that time not
 * entered from the interpreter if translated, gives its own slot to the
 * next one (exec.c, victim; docs/cpu.md, "Replacement"). */
#define BLOCK_IDLE_MAX 16

static inline size_t block_index(uintptr_t hpc)
{
	return (hpc >> 1) % BLOCK_TABLE_SIZE;
}

/* The slot for a block starting at host address hpc that lookups look in
 * first. */
static inline struct block *block_slot(struct block *table, uintptr_t hpc)
{
	return &table[block_index(hpc)];
}

/* The other slot of b's pair. */
static inline struct block *block_partner(struct block *table, struct block *b)
{
	return &table[(size_t)(b - table) ^ BLOCK_WAY_BIT];
}

/* The slot that holds the block at hpc, or block_slot's when neither
 * does. */
static inline struct block *block_find(struct block *table, uintptr_t hpc)
{
	struct block *b = block_slot(table, hpc);
	struct block *p = block_partner(table, b);
	return b->hpc != hpc && p->hpc == hpc ? p : b;
}

/* Decode the block starting at host address hpc, `room` bytes before the
 * end of its page, into b.  `handlers` maps each enum op (and
 * OP_BLOCK_END) to its handler.  Returns false when not even the first
 * instruction fits in the page (it crosses into the next one). */
bool block_build(struct block *b, uintptr_t hpc, unsigned room, const void *const *handlers);

/* The first m instructions of block b (0 < m < b->n) as a block of their
 * own, written into head, for when fewer steps are left than b has (a
 * slice or a timer deadline ends inside it).  Its entries are b's, but
 * the first runs its own handler (b->op0: the JIT's take its place in b)
 * and the last is decoded again from memory (b is current, so memory
 * holds its bytes) in case it is the first of a fused pair, whose handler
 * would run the next one too.  Returns head. */
const struct block *block_head(struct block *head, const struct block *b, unsigned m,
			       const void *const *handlers);

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
