/* Hart reset, trap entry and interrupt selection. */
#include "cpu/hart.h"

#include <string.h>
#include <sys/mman.h>

#include "cpu/block.h"
#include "cpu/jit.h"
#include "cpu/mmu.h"
#include "lib/vclock.h"

#define MISA_RV64 (2ULL << 62)
#define MISA_EXT(c) (1ULL << ((c) - 'A'))

static void flush(struct tlb *t)
{
	if (t->nfilled <= TLB_FILL_LOG) {
		for (unsigned i = 0; i < t->nfilled; i++) {
			enum access_type type = t->filled[i] >> 12;
			tlb_table(t, type)[t->filled[i] & 0xfff].tag = TLB_INVALID;
		}
	} else {
		/* TLB_INVALID is all ones, so a byte fill sets every tag
		 * invalid; the addend of an invalid entry is never used. */
		memset(t->read, 0xff, sizeof(t->read));
		memset(t->write, 0xff, sizeof(t->write));
		memset(t->exec, 0xff, sizeof(t->exec));
	}
	t->nfilled = 0;
}

void hart_flush_tlb(struct hart *h)
{
	for (size_t p = 0; p < sizeof(h->tlbs) / sizeof(h->tlbs[0]); p++)
		flush(&h->tlbs[p]);
}

void hart_flush_translations(struct hart *h)
{
	flush(&h->tlbs[PRIV_U]);
	flush(&h->tlbs[PRIV_S]);
}

void hart_note_tlb_fill(struct tlb *t, enum access_type type, unsigned index)
{
	if (t->nfilled < TLB_FILL_LOG)
		t->filled[t->nfilled] = (uint16_t)(type << 12 | index);
	if (t->nfilled <= TLB_FILL_LOG)
		t->nfilled++;
}

void hart_update_mode(struct hart *h)
{
	/* Observed, every data access misses and takes a slow path, which
	 * reports it (struct hart_effect_hook). */
	h->data_tlb = &h->tlbs[h->effect_hook ? TLB_NO_PRIV : mmu_data_priv(h)];
	h->fetch_tlb = &h->tlbs[h->priv];
}

void hart_set_effect_hook(struct hart *h, const struct hart_effect_hook *hook)
{
	h->effect_hook = hook;
	hart_update_mode(h);
}

void hart_init(struct hart *h, struct bus *bus, const struct vclock *clock, uint64_t hartid,
	       uint64_t reset_pc)
{
	struct block *blocks = h->blocks; /* derived from memory alone: still valid */
	struct jit *jit = h->jit; /* likewise */
	const struct hart_trap_hook *hook = h->trap_hook; /* a service's, not state */
	const struct hart_effect_hook *effect_hook = h->effect_hook; /* likewise */
	memset(h, 0, sizeof(*h));
	h->blocks = blocks;
	h->jit = jit;
	h->trap_hook = hook;
	h->effect_hook = effect_hook;
	for (size_t p = 0; p < sizeof(h->tlbs) / sizeof(h->tlbs[0]); p++)
		h->tlbs[p].nfilled = TLB_FILL_LOG + 1; /* all zero: not yet invalid */
	h->bus = bus;
	h->clock = clock;
	h->mhartid = hartid;
	h->pc = reset_pc;
	h->priv = PRIV_M;
	h->misa = MISA_RV64 | MISA_EXT('I') | MISA_EXT('M') | MISA_EXT('A') | MISA_EXT('F') |
		  MISA_EXT('D') | MISA_EXT('C') | MISA_EXT('S') | MISA_EXT('U');
	h->mstatus = (2ULL << 32) | (2ULL << 34); /* UXL = SXL = 64-bit */
	h->reservation = UINT64_MAX;
	h->stimecmp = UINT64_MAX; /* so enabling Sstc does not fire a stale timer */
	hart_flush_tlb(h);
	hart_update_mode(h);
}

void hart_set_pending(struct hart *h, uint64_t mask, bool level)
{
	if (level)
		h->mip_hw |= mask;
	else
		h->mip_hw &= ~mask;
	h->slice_end = true;
}

/* Priority order from the privileged spec: MEI, MSI, MTI, SEI, SSI, STI. */
static const int irq_priority[] = {IRQ_MEI, IRQ_MSI, IRQ_MTI, IRQ_SEI, IRQ_SSI, IRQ_STI};

static int highest(uint64_t bits)
{
	for (unsigned i = 0; i < sizeof(irq_priority) / sizeof(irq_priority[0]); i++)
		if (bits & (1ULL << irq_priority[i]))
			return irq_priority[i];
	return -1;
}

int hart_pending_interrupt(const struct hart *h)
{
	uint64_t pending = (h->mip | h->mip_hw) & h->mie;
	if (!pending)
		return -1;
	uint64_t to_m = pending & ~h->mideleg;
	bool m_enabled = h->priv < PRIV_M || (h->mstatus & MSTATUS_MIE);
	if (to_m && m_enabled)
		return highest(to_m);
	uint64_t to_s = pending & h->mideleg;
	bool s_enabled = h->priv < PRIV_S || (h->priv == PRIV_S && (h->mstatus & MSTATUS_SIE));
	if (to_s && s_enabled)
		return highest(to_s);
	return -1;
}

bool hart_take_interrupt(struct hart *h)
{
	int irq = hart_pending_interrupt(h);
	if (irq < 0)
		return false;
	h->wfi = false;
	hart_trap(h, (uint64_t)irq, 0, true);
	return true;
}

static uint64_t vector_target(uint64_t tvec, uint64_t cause, bool interrupt)
{
	uint64_t base = tvec & ~3ULL;
	if ((tvec & 3) == 1 && interrupt)
		return base + 4 * cause;
	return base;
}

void hart_trap(struct hart *h, uint64_t cause, uint64_t tval, bool interrupt)
{
	uint64_t deleg = interrupt ? h->mideleg : h->medeleg;
	uint64_t mcause = cause | (interrupt ? 1ULL << 63 : 0);
	unsigned from_priv = h->priv;
	h->reservation = UINT64_MAX;
	if (h->priv <= PRIV_S && cause < 64 && (deleg >> cause) & 1) {
		h->sepc = h->pc;
		h->scause = mcause;
		h->stval = tval;
		uint64_t s = h->mstatus;
		s = (s & ~MSTATUS_SPIE) | ((s & MSTATUS_SIE) ? MSTATUS_SPIE : 0);
		s = (s & ~MSTATUS_SPP) | (h->priv == PRIV_S ? MSTATUS_SPP : 0);
		s &= ~MSTATUS_SIE;
		h->mstatus = s;
		h->priv = PRIV_S;
		h->pc = vector_target(h->stvec, cause, interrupt);
	} else {
		h->mepc = h->pc;
		h->mcause = mcause;
		h->mtval = tval;
		uint64_t s = h->mstatus;
		s = (s & ~MSTATUS_MPIE) | ((s & MSTATUS_MIE) ? MSTATUS_MPIE : 0);
		s = (s & ~MSTATUS_MPP) | ((uint64_t)h->priv << MSTATUS_MPP_SHIFT);
		s &= ~MSTATUS_MIE;
		h->mstatus = s;
		h->priv = PRIV_M;
		h->pc = vector_target(h->mtvec, cause, interrupt);
	}
	hart_update_mode(h);
	if (h->trap_hook && h->trap_hook->trap) {
		/* The hook is a service's host code, which may compute in
		 * floating point: give the host its own rounding mode and keep
		 * its flags out of the guest's (fpu_host_env).  Interrupts and
		 * most exceptions reach here from hart_run without that. */
		fpu_host_env(h);
		h->trap_hook->trap(h->trap_hook->opaque, h, cause, tval, interrupt, from_priv);
	}
}

static void free_blocks(struct hart *h)
{
	if (h->blocks)
		munmap(h->blocks, BLOCK_TABLE_BYTES);
	h->blocks = NULL;
}

int hart_set_block_cache(struct hart *h, bool on)
{
	if (!on) {
		free_blocks(h);
		return 0;
	}
	if (h->blocks)
		return 0;
	/* Anonymous memory reads as zero (no block) and is only committed
	 * where blocks are built.  Huge pages: lookups land all over the
	 * table, and with 4 KiB pages they cost host TLB misses.  Not
	 * MAP_NORESERVE, unlike guest RAM: mappings with different flags
	 * are never merged, so the guest RAM stays a mapping of its own size
	 * in /proc/PID/smaps, where tools (bench/state-bench) look for it. */
	void *table = mmap(NULL, BLOCK_TABLE_BYTES, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (table == MAP_FAILED)
		return -1;
	madvise(table, BLOCK_TABLE_BYTES, MADV_HUGEPAGE);
	/* A fork-clone (host/clone.c) starts with an empty table: blocks are
	 * only a cache, and sharing the table copy-on-write would make both
	 * sides copy 2 MiB for their first block built in each huge page. */
	madvise(table, BLOCK_TABLE_BYTES, MADV_WIPEONFORK);
	h->blocks = table;
	if (h->jit) /* no block refers to a translation now */
		jit_reset(h->jit);
	return 0;
}

int hart_set_jit(struct hart *h, bool on, unsigned threshold)
{
	/* A block built with the JIT on or off starts with a different
	 * handler (exec.c, rebuild): start again from an empty table. */
	bool blocks = h->blocks != NULL;
	free_blocks(h);
	jit_free(h->jit);
	h->jit = NULL;
	int rc = 0;
	if (on && !(h->jit = jit_new(threshold)))
		rc = -1;
	if (blocks && hart_set_block_cache(h, true))
		rc = -1;
	return rc;
}

int hart_after_fork(struct hart *h)
{
	return h->jit ? jit_after_fork(h->jit) : 0;
}

const struct jit_stats *hart_jit_stats(const struct hart *h)
{
	return h->jit ? &h->jit->stats : NULL;
}

void hart_free(struct hart *h)
{
	free_blocks(h);
	jit_free(h->jit);
	h->jit = NULL;
}

void hart_drop_write_entries(struct hart *h)
{
	/* The fill log (struct tlb) may still name these entries; clearing
	 * them again on the next flush is harmless. */
	for (size_t p = 0; p < sizeof(h->tlbs) / sizeof(h->tlbs[0]); p++)
		memset(h->tlbs[p].write, 0xff, sizeof(h->tlbs[p].write));
}

void hart_protect_code_page(struct hart *h, const void *host_page)
{
	for (size_t p = 0; p < sizeof(h->tlbs) / sizeof(h->tlbs[0]); p++) {
		struct tlb_entry *w = h->tlbs[p].write;
		for (size_t i = 0; i < TLB_ENTRIES; i++)
			if (w[i].tag != TLB_INVALID && w[i].tag + w[i].addend == (uintptr_t)host_page)
				w[i].tag = TLB_INVALID;
	}
}

uint64_t hart_mtime(const struct hart *h)
{
	return h->clock ? vclock_mtime(h->clock, h->icount) : 0;
}
