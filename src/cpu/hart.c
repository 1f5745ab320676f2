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

#define PAGE_MASK (~4095ULL)
#define SATP_ASID(satp) (((satp) >> 44) & 0xffff)

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
	t->super_lo = UINT64_MAX;
	t->super_hi = 0;
}

static void flush_space(struct tlb_space *s)
{
	for (int i = 0; i < 3; i++)
		flush(&s->tlbs[i]);
}

/* Drop va's page from t: its one slot per access type, or the whole table
 * when va may lie in a superpage it entered 4 KiB at a time. */
static void flush_page(struct tlb *t, uint64_t va)
{
	if (va >= t->super_lo && va <= t->super_hi) {
		flush(t);
		return;
	}
	unsigned index = (unsigned)((va >> 12) % TLB_ENTRIES);
	for (int type = ACCESS_READ; type <= ACCESS_EXEC; type++) {
		struct tlb_entry *e = &tlb_table(t, (enum access_type)type)[index];
		if (e->tag == (va & PAGE_MASK))
			e->tag = TLB_INVALID;
	}
}

/* Forget every global walk (hart.h, struct global_walk). */
static void flush_global(struct hart *h)
{
	h->global_gen++;
	h->global_super_lo = UINT64_MAX;
	h->global_super_hi = 0;
}

/* Forget the global walk of va's page, or all of them when va may lie in
 * a superpage one came from. */
static void flush_global_page(struct hart *h, uint64_t va)
{
	if (va >= h->global_super_lo && va <= h->global_super_hi) {
		flush_global(h);
		return;
	}
	struct global_walk *g = &h->global_walks[(va >> 12) % GLOBAL_WALKS];
	if (g->tag == (va & PAGE_MASK))
		g->gen = 0;
}

/* The TLBs that may hold entries: M's and every space's in use. */
static size_t live_tlbs(struct hart *h, struct tlb **out)
{
	size_t n = 0;
	out[n++] = &h->tlb_m;
	for (int i = 0; i < TLB_SPACES; i++)
		if (h->spaces[i].satp != TLB_SPACE_FREE)
			for (int k = 0; k < 3; k++)
				out[n++] = &h->spaces[i].tlbs[k];
	return n;
}

size_t hart_live_tlbs(const struct hart *h, const struct tlb **out)
{
	/* live_tlbs only takes addresses: reading them changes nothing */
	return live_tlbs((struct hart *)h, (struct tlb **)out);
}

void hart_flush_tlb(struct hart *h)
{
	struct tlb *t[HART_MAX_TLBS];
	size_t n = live_tlbs(h, t);
	for (size_t i = 0; i < n; i++)
		flush(t[i]);
	flush_global(h);
}

void hart_flush_translations(struct hart *h)
{
	for (int i = 0; i < TLB_SPACES; i++)
		if (h->spaces[i].satp != TLB_SPACE_FREE)
			flush_space(&h->spaces[i]);
	flush_global(h);
}

void hart_sfence_vma(struct hart *h, bool one_va, uint64_t va, bool one_asid, uint64_t asid)
{
	/* Spaces are keyed by the whole satp, so a space holds one ASID's
	 * translations, global mappings included: dropping them with the
	 * ASID's own is more than the fence must do, which is allowed.  A
	 * space of another ASID keeps its copies of global mappings, which
	 * the fence need not drop either.  Nor need the ASID form drop the
	 * global walks every space shares; the form for every ASID does. */
	if (!one_asid) {
		if (one_va)
			flush_global_page(h, va);
		else
			flush_global(h);
	}
	for (int i = 0; i < TLB_SPACES; i++) {
		struct tlb_space *s = &h->spaces[i];
		if (s->satp == TLB_SPACE_FREE || (one_asid && SATP_ASID(s->satp) != (asid & 0xffff)))
			continue;
		for (int k = 0; k < 3; k++) {
			if (one_va)
				flush_page(&s->tlbs[k], va);
			else
				flush(&s->tlbs[k]);
		}
	}
}

void hart_switch_space(struct hart *h)
{
	struct tlb_space *pick = NULL;
	for (int i = 0; i < TLB_SPACES && !pick; i++)
		if (h->spaces[i].satp == h->satp)
			pick = &h->spaces[i];
	if (!pick) {
		pick = &h->spaces[0];
		for (int i = 1; i < TLB_SPACES; i++)
			if (h->spaces[i].used < pick->used) /* a free one has 0 */
				pick = &h->spaces[i];
		flush_space(pick);
		pick->satp = h->satp;
	}
	pick->used = ++h->tlb_clock;
	h->space = pick;
	hart_update_mode(h);
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
	h->data_tlb = h->effect_hook ? &h->tlb_none : hart_tlb(h, mmu_data_priv(h), ACCESS_READ);
	h->fetch_tlb = hart_tlb(h, h->priv, ACCESS_EXEC);
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
	struct block_stats block_stats = h->block_stats; /* counts, not state */
	struct jit *jit = h->jit; /* likewise */
	const struct hart_trap_hook *hook = h->trap_hook; /* a service's, not state */
	const struct hart_effect_hook *effect_hook = h->effect_hook; /* likewise */
	bool clone_keeps_cache = h->clone_keeps_cache; /* how the two above fork */
	memset(h, 0, sizeof(*h));
	h->clone_keeps_cache = clone_keeps_cache;
	h->blocks = blocks;
	h->block_stats = block_stats;
	h->jit = jit;
	h->trap_hook = hook;
	h->effect_hook = effect_hook;
	/* All zero, not yet invalid: each table is emptied in full when it is
	 * first used (a space when hart_switch_space picks it). */
	h->tlb_m.nfilled = h->tlb_none.nfilled = TLB_FILL_LOG + 1;
	for (int i = 0; i < TLB_SPACES; i++) {
		h->spaces[i].satp = TLB_SPACE_FREE;
		for (int k = 0; k < 3; k++)
			h->spaces[i].tlbs[k].nfilled = TLB_FILL_LOG + 1;
	}
	flush_global(h); /* generation 1: the zeroed entries are invalid */
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
	flush(&h->tlb_m);
	flush(&h->tlb_none);
	hart_switch_space(h); /* for satp 0 */
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

/* What a fork-clone (host/clone.c) gets of the caches: an empty block
 * table (MADV_WIPEONFORK) and code cache, or the parent's table
 * copy-on-write and a copy of its code cache (hart_set_clone_cache). */
static void fork_advice(struct hart *h)
{
	if (h->blocks)
		madvise(h->blocks, BLOCK_TABLE_BYTES,
			h->clone_keeps_cache ? MADV_KEEPONFORK : MADV_WIPEONFORK);
	if (h->jit)
		jit_set_fork(h->jit, h->clone_keeps_cache);
}

void hart_set_clone_cache(struct hart *h, bool inherit)
{
	h->clone_keeps_cache = inherit;
	fork_advice(h);
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
	h->blocks = table;
	fork_advice(h);
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
	fork_advice(h);
	if (blocks && hart_set_block_cache(h, true))
		rc = -1;
	return rc;
}

int hart_jit_perfmap(struct hart *h)
{
	return h->jit ? jit_perfmap_open(h->jit) : 0;
}

int hart_after_fork(struct hart *h)
{
	return h->jit ? jit_after_fork(h->jit) : 0;
}

const struct block_stats *hart_block_stats(const struct hart *h)
{
	return h->blocks ? &h->block_stats : NULL;
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

/* Drop t's write entries that reach host_page, or all of them when it is
 * NULL.  A table that logged all its fills looks only at those. */
static void drop_write_entries(struct tlb *t, const void *host_page)
{
	bool logged = t->nfilled <= TLB_FILL_LOG;
	unsigned n = logged ? t->nfilled : TLB_ENTRIES;
	for (unsigned i = 0; i < n; i++) {
		if (logged && t->filled[i] >> 12 != ACCESS_WRITE)
			continue;
		struct tlb_entry *e = &t->write[logged ? t->filled[i] & 0xfff : i];
		if (e->tag != TLB_INVALID &&
		    (!host_page || e->tag + e->addend == (uintptr_t)host_page))
			e->tag = TLB_INVALID;
	}
}

void hart_drop_write_entries(struct hart *h)
{
	struct tlb *t[HART_MAX_TLBS];
	size_t n = live_tlbs(h, t);
	for (size_t i = 0; i < n; i++)
		drop_write_entries(t[i], NULL);
}

void hart_protect_code_page(struct hart *h, const void *host_page)
{
	struct tlb *t[HART_MAX_TLBS];
	size_t n = live_tlbs(h, t);
	for (size_t i = 0; i < n; i++)
		drop_write_entries(t[i], host_page);
}

uint64_t hart_mtime(const struct hart *h)
{
	return h->clock ? vclock_mtime(h->clock, h->icount) : 0;
}
