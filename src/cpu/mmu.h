/* Address translation, PMP and the slow paths of memory access.  The fast
 * paths (TLB hits) are inlined in exec.c; everything here runs on a miss. */
#ifndef KEEL_CPU_MMU_H
#define KEEL_CPU_MMU_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/hart.h"

/* Privilege that data accesses use: MPP when MPRV is set in M-mode. */
int mmu_data_priv(const struct hart *h);

/* Translate `va` for `type` at privilege `priv`, updating A/D bits and
 * checking PMP on the final physical address for `size` bytes.  Returns 0,
 * or -1 with h->exc_cause/exc_tval set. */
int mmu_translate(struct hart *h, uint64_t va, unsigned size, enum access_type type, int priv,
		  uint64_t *pa);

/* The host address of an aligned access at va when the TLB the fast path
 * would use (hart_tlb, whatever an observer did to data_tlb) holds va's
 * page for `type`, with its physical address in *pa (pa may be NULL:
 * finding it costs a search of the bus); else NULL.  A write
 * entry also allows reading (PTE W needs R, PMP W needs R), and its page
 * may be written without telling anyone (docs/cpu.md, the TLB write-entry
 * rule). */
uint8_t *mmu_tlb_hit(struct hart *h, uint64_t va, enum access_type type, int priv, uint64_t *pa);

/* mmu_translate, then enter the page in the TLB where it may be (the
 * access is about to happen: for a write, bus_ram_page counts it as the
 * page's first).  *host is the host address of pa, or NULL when the
 * access must go through the bus. */
int mmu_translate_fill(struct hart *h, uint64_t va, unsigned size, enum access_type type,
		       int priv, uint64_t *pa, uint8_t **host);

/* Slow paths for loads and stores of 1, 2, 4 or 8 bytes, misaligned included
 * (emulated, not trapped).  Fill the TLB where the page allows it.  Loads
 * return the zero-extended value.  Return 0, or -1 with the exception set. */
int mmu_load_slow(struct hart *h, uint64_t va, unsigned size, uint64_t *val);
int mmu_store_slow(struct hart *h, uint64_t va, unsigned size, uint64_t val);

/* Instruction fetch slow path: fetch the (possibly compressed, possibly
 * page-crossing) instruction at `pc`.  When the page is cacheable RAM, sets
 * page_va and addend so the interpreter can fetch from it directly; otherwise
 * leaves them untouched.  Returns 0, or -1 with the exception set. */
int mmu_fetch_slow(struct hart *h, uint64_t pc, uint32_t *insn, uint64_t *page_va,
		   uintptr_t *addend);

/* Tell the effect hook (hart.h), if any, that the instruction running
 * accessed `size` bytes at va/pa; `value` is truncated to them.  The call
 * is out of line: a slow path unobserved carries one test for it. */
void mmu_note_access_slow(struct hart *h, uint64_t va, uint64_t pa, unsigned size,
			  uint64_t value, bool write);
static inline void mmu_note_access(struct hart *h, uint64_t va, uint64_t pa, unsigned size,
				   uint64_t value, bool write)
{
	if (h->effect_hook)
		mmu_note_access_slow(h, va, pa, size, value, write);
}

/* Re-derive pmp_active and the decoded ranges after pmpcfg/pmpaddr
 * change (or a restore). */
void pmp_update(struct hart *h);

/* PMP check for [pa, pa+size) at privilege `priv`.  Returns true if allowed.
 * Remembers the decision's window in h (hart.h, pmp_win_lo). */
bool pmp_allows(struct hart *h, uint64_t pa, uint64_t size, enum access_type type, int priv);

#endif
