/* Sv39/Sv48 translation, PMP, and the memory slow paths.
 *
 * Decisions worth knowing (see docs/cpu.md):
 *  - A and D are set by hardware during the walk (no page fault for them).
 *  - Misaligned loads and stores are emulated, byte by byte after both
 *    pages are translated, so a fault on the second page reports that
 *    page's first address in xtval and nothing is written.
 *  - The TLB only holds 4 KiB RAM pages whose PMP permission is uniform;
 *    superpages are entered 4 KiB at a time.
 */
#include "cpu/mmu.h"

#include <string.h>

#include "bus/bus.h"

#define PAGE_SIZE 4096ULL
#define PAGE_MASK (~(PAGE_SIZE - 1))

#define PTE_V (1ULL << 0)
#define PTE_R (1ULL << 1)
#define PTE_W (1ULL << 2)
#define PTE_X (1ULL << 3)
#define PTE_U (1ULL << 4)
#define PTE_G (1ULL << 5)
#define PTE_A (1ULL << 6)
#define PTE_D (1ULL << 7)
#define PTE_PPN_SHIFT 10
#define PTE_PPN_MASK ((1ULL << 44) - 1)
#define PTE_RESERVED (0x7fULL << 54) /* bits 60:54 */
#define PTE_PBMT (3ULL << 61) /* Svpbmt: 0 PMA, 1 NC, 2 IO, 3 reserved */
#define PTE_N (1ULL << 63) /* Svnapot */
#define NAPOT_64K_PPN 0x8 /* ppn[3:0] of a 64 KiB NAPOT leaf: the only size defined */

#define SATP_MODE_BARE 0
#define SATP_MODE_SV39 8
#define SATP_MODE_SV48 9

#define PMP_R 0x01
#define PMP_W 0x02
#define PMP_X 0x04
#define PMP_A 0x18
#define PMP_L 0x80
#define PMP_A_OFF 0
#define PMP_A_TOR 1
#define PMP_A_NA4 2
#define PMP_A_NAPOT 3

static const uint8_t page_fault_cause[3] = {EXC_LOAD_PAGE_FAULT, EXC_STORE_PAGE_FAULT,
					    EXC_INSN_PAGE_FAULT};
static const uint8_t access_fault_cause[3] = {EXC_LOAD_ACCESS, EXC_STORE_ACCESS,
					      EXC_INSN_ACCESS};

static int raise(struct hart *h, uint64_t cause, uint64_t tval)
{
	h->exc_cause = cause;
	h->exc_tval = tval;
	return -1;
}

int mmu_data_priv(const struct hart *h)
{
	if (h->priv == PRIV_M && (h->mstatus & MSTATUS_MPRV))
		return (int)((h->mstatus >> MSTATUS_MPP_SHIFT) & 3);
	return h->priv;
}

/* ---- PMP ---- */

/* The address range [*lo, *hi) that entry i matches; false if it is off. */
static bool pmp_range(const struct hart *h, int i, uint64_t *lo, uint64_t *hi)
{
	uint8_t a = (h->pmpcfg[i] & PMP_A) >> 3;
	uint64_t addr = h->pmpaddr[i];
	switch (a) {
	case PMP_A_TOR:
		*lo = i ? h->pmpaddr[i - 1] << 2 : 0;
		*hi = addr << 2;
		return true;
	case PMP_A_NA4:
		*lo = addr << 2;
		*hi = *lo + 4;
		return true;
	case PMP_A_NAPOT: {
		uint64_t ones = addr ^ (addr + 1); /* trailing ones plus the first zero */
		*lo = (addr & ~ones) << 2;
		*hi = *lo + ((ones + 1) << 2);
		if (*hi == 0) /* the all-ones case covers the whole space */
			*hi = UINT64_MAX;
		return true;
	}
	default:
		return false;
	}
}

void pmp_update(struct hart *h)
{
	h->pmp_active = false;
	h->pmp_nused = 0;
	h->pmp_win_lo = 1;
	h->pmp_win_hi = 0;
	for (int i = 0; i < PMP_ENTRIES; i++) {
		h->pmp_lo[i] = 1;
		h->pmp_hi[i] = 0;
		if (pmp_range(h, i, &h->pmp_lo[i], &h->pmp_hi[i]))
			h->pmp_active = true;
		if (h->pmp_lo[i] < h->pmp_hi[i])
			h->pmp_used[h->pmp_nused++] = (uint8_t)i;
	}
}

/* The decision of the entry with config `cfg` that matched the whole
 * access, or of no entry when cfg is -1. */
static bool pmp_decide(int cfg, enum access_type type, int priv)
{
	static const uint8_t need[3] = {PMP_R, PMP_W, PMP_X};
	if (cfg < 0)
		return priv == PRIV_M;
	if (priv == PRIV_M && !(cfg & PMP_L))
		return true;
	return (cfg & need[type]) != 0;
}

/* Remember [lo, hi), less the entries before used[k] (all of them miss
 * [pa, end), so each lies wholly below pa or at or above end), as the
 * window in which the entry used[k] (none when k == nused) decides. */
static void pmp_remember(struct hart *h, unsigned k, uint64_t lo, uint64_t hi, int cfg,
			 uint64_t pa)
{
	for (unsigned j = 0; j < k; j++) {
		unsigned e = h->pmp_used[j];
		if (h->pmp_hi[e] <= pa) {
			if (h->pmp_hi[e] > lo)
				lo = h->pmp_hi[e];
		} else if (h->pmp_lo[e] < hi) {
			hi = h->pmp_lo[e];
		}
	}
	h->pmp_win_lo = lo;
	h->pmp_win_hi = hi;
	h->pmp_win_cfg = cfg;
}

static bool pmp_allows_slow(struct hart *h, uint64_t pa, uint64_t end, enum access_type type,
			    int priv)
{
	bool wraps = end <= pa; /* never remembered: a window ends at or below UINT64_MAX */
	for (unsigned k = 0; k < h->pmp_nused; k++) {
		unsigned i = h->pmp_used[k];
		uint64_t lo = h->pmp_lo[i], hi = h->pmp_hi[i];
		if (end <= lo || pa >= hi)
			continue; /* no byte matches */
		if (pa < lo || end > hi)
			return false; /* a partial match fails the access */
		if (!wraps)
			pmp_remember(h, k, lo, hi, h->pmpcfg[i], pa);
		return pmp_decide(h->pmpcfg[i], type, priv);
	}
	if (!wraps)
		pmp_remember(h, h->pmp_nused, 0, UINT64_MAX, -1, pa);
	return pmp_decide(-1, type, priv);
}

bool pmp_allows(struct hart *h, uint64_t pa, uint64_t size, enum access_type type, int priv)
{
	if (!h->pmp_active)
		return true;
	uint64_t end = pa + size;
	if (pa >= h->pmp_win_lo && end <= h->pmp_win_hi && end > pa)
		return pmp_decide(h->pmp_win_cfg, type, priv);
	return pmp_allows_slow(h, pa, end, type, priv);
}

/* ---- page-table walk ---- */

static bool leaf_permits(const struct hart *h, uint64_t pte, enum access_type type, int priv)
{
	if (pte & PTE_U) {
		if (priv == PRIV_S && (type == ACCESS_EXEC || !(h->mstatus & MSTATUS_SUM)))
			return false;
	} else if (priv == PRIV_U) {
		return false;
	}
	switch (type) {
	case ACCESS_READ:
		return (pte & PTE_R) || ((h->mstatus & MSTATUS_MXR) && (pte & PTE_X));
	case ACCESS_WRITE:
		return (pte & PTE_W) != 0;
	default:
		return (pte & PTE_X) != 0;
	}
}

/* The PTE bits above the PPN: N (Svnapot) anywhere, PBMT (Svpbmt) when
 * menvcfg.PBMTE allows it and not the reserved value 3.  The memory types
 * change nothing here (keel's memory is coherent and unordered accesses do
 * not exist in an interpreter), so they are checked and otherwise ignored. */
static bool pte_bits_valid(const struct hart *h, uint64_t pte)
{
	if (pte & PTE_RESERVED)
		return false;
	uint64_t pbmt = pte & PTE_PBMT;
	if (!pbmt)
		return true;
	return (h->menvcfg & ENVCFG_PBMTE) && pbmt != PTE_PBMT;
}

/* Walk the page table.  `update` = false makes it side-effect free (for
 * debuggers) and skips permission checks.  *page_bytes is the size of the
 * page the leaf maps (a superpage's or a NAPOT page's). */
static int walk(struct hart *h, uint64_t va, enum access_type type, int priv, bool update,
		uint64_t *pa, uint64_t *page_bytes, uint64_t *leaf)
{
	unsigned mode = (unsigned)(h->satp >> 60);
	int levels = mode == SATP_MODE_SV48 ? 4 : 3;
	unsigned va_bits = 12 + 9 * (unsigned)levels;
	int64_t sext = (int64_t)(va << (64 - va_bits)) >> (64 - va_bits);
	if ((uint64_t)sext != va)
		return raise(h, page_fault_cause[type], va);

	uint64_t table = (h->satp & PTE_PPN_MASK) << 12;
	for (int level = levels - 1; level >= 0; level--) {
		uint64_t vpn = (va >> (12 + 9 * level)) & 0x1ff;
		uint64_t pte_addr = table + vpn * 8;
		uint64_t pte;
		if ((update && !pmp_allows(h, pte_addr, 8, ACCESS_READ, PRIV_S)) ||
		    bus_read(h->bus, pte_addr, 8, &pte))
			return raise(h, access_fault_cause[type], va);
		if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)) || !pte_bits_valid(h, pte))
			return raise(h, page_fault_cause[type], va);
		uint64_t ppn = (pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK;
		if (!(pte & (PTE_R | PTE_X))) { /* pointer to the next level */
			if (pte & (PTE_A | PTE_D | PTE_U | PTE_N | PTE_PBMT))
				return raise(h, page_fault_cause[type], va);
			table = ppn << 12;
			continue;
		}
		uint64_t super_mask = (1ULL << (9 * level)) - 1; /* in pages */
		if (ppn & super_mask)
			return raise(h, page_fault_cause[type], va); /* misaligned superpage */
		if (pte & PTE_N) { /* a 64 KiB page: ppn[3:0] come from the va */
			if (level != 0 || (ppn & 0xf) != NAPOT_64K_PPN)
				return raise(h, page_fault_cause[type], va);
			ppn = (ppn & ~0xfULL) | ((va >> 12) & 0xf);
		}
		if (update) {
			if (!leaf_permits(h, pte, type, priv))
				return raise(h, page_fault_cause[type], va);
			uint64_t want = PTE_A | (type == ACCESS_WRITE ? PTE_D : 0);
			if ((pte & want) != want) {
				if (!pmp_allows(h, pte_addr, 8, ACCESS_WRITE, PRIV_S) ||
				    bus_write(h->bus, pte_addr, 8, pte | want))
					return raise(h, access_fault_cause[type], va);
				pte |= want;
			}
			*leaf = pte;
		}
		uint64_t offset_mask = (PAGE_SIZE << (9 * level)) - 1;
		*pa = ((ppn << 12) & ~offset_mask) | (va & offset_mask);
		*page_bytes = (pte & PTE_N) ? 16 * PAGE_SIZE : offset_mask + 1;
		return 0;
	}
	return raise(h, page_fault_cause[type], va); /* no leaf at level 0 */
}

static bool translation_on(const struct hart *h, int priv)
{
	unsigned mode = (unsigned)(h->satp >> 60);
	return priv != PRIV_M && mode != SATP_MODE_BARE;
}

/* Widen [*lo, *hi], the virtual range of the superpages a TLB or the
 * global walks took entries from, to the page of page_bytes holding va
 * when that is a superpage: an SFENCE.VMA of any address in it must drop
 * the entry, which is kept under its 4 KiB page only. */
static void widen_super(uint64_t *lo, uint64_t *hi, uint64_t va, uint64_t page_bytes)
{
	if (page_bytes <= PAGE_SIZE)
		return;
	uint64_t first = va & ~(page_bytes - 1), last = first + (page_bytes - 1);
	if (first < *lo)
		*lo = first;
	if (last > *hi)
		*hi = last;
}

/* The global walk of va's page (hart.h, struct global_walk) when there is
 * one and its leaf allows the access without a change to A or D: then
 * *pa and *page_bytes are what walking again would give, unless the guest
 * changed a global mapping without the SFENCE.VMA the spec asks for. */
static bool global_hit(struct hart *h, uint64_t va, enum access_type type, int priv,
		       uint64_t *pa, uint64_t *page_bytes)
{
	const struct global_walk *g = &h->global_walks[(va >> 12) % GLOBAL_WALKS];
	if (g->gen != h->global_gen || g->tag != (va & PAGE_MASK) || g->mode != h->satp >> 60)
		return false;
	uint64_t want = PTE_A | (type == ACCESS_WRITE ? PTE_D : 0);
	if ((g->pte & want) != want || !leaf_permits(h, g->pte, type, priv))
		return false; /* the walk sets the bit or raises the fault */
	*pa = g->pa | (va & ~PAGE_MASK);
	*page_bytes = g->page_bytes;
	return true;
}

static void global_remember(struct hart *h, uint64_t va, uint64_t leaf, uint64_t pa,
			    uint64_t page_bytes)
{
	struct global_walk *g = &h->global_walks[(va >> 12) % GLOBAL_WALKS];
	g->tag = va & PAGE_MASK;
	g->pte = leaf;
	g->pa = pa & PAGE_MASK;
	g->page_bytes = page_bytes;
	g->gen = h->global_gen;
	g->mode = h->satp >> 60;
	widen_super(&h->global_super_lo, &h->global_super_hi, va, page_bytes);
}

static int translate(struct hart *h, uint64_t va, unsigned size, enum access_type type, int priv,
		     uint64_t *pa, uint64_t *page_bytes)
{
	*page_bytes = PAGE_SIZE;
	if (translation_on(h, priv)) {
		if (!global_hit(h, va, type, priv, pa, page_bytes)) {
			uint64_t leaf;
			if (walk(h, va, type, priv, true, pa, page_bytes, &leaf))
				return -1;
			if (leaf & PTE_G)
				global_remember(h, va, leaf, *pa, *page_bytes);
		}
	} else {
		*pa = va;
	}
	if (!pmp_allows(h, *pa, size, type, priv))
		return raise(h, access_fault_cause[type], va);
	return 0;
}

int mmu_translate(struct hart *h, uint64_t va, unsigned size, enum access_type type, int priv,
		  uint64_t *pa)
{
	uint64_t page_bytes;
	return translate(h, va, size, type, priv, pa, &page_bytes);
}

int hart_translate_debug(struct hart *h, uint64_t vaddr, uint64_t *paddr)
{
	uint64_t saved_cause = h->exc_cause, saved_tval = h->exc_tval;
	int rc = 0;
	uint64_t page_bytes;
	if (translation_on(h, h->priv))
		rc = walk(h, vaddr, ACCESS_READ, h->priv, false, paddr, &page_bytes, NULL);
	else
		*paddr = vaddr;
	h->exc_cause = saved_cause;
	h->exc_tval = saved_tval;
	return rc;
}

/* ---- TLB fill ---- */

static struct tlb_entry *tlb_slot(struct tlb *t, enum access_type type, uint64_t va)
{
	return &tlb_table(t, type)[(va >> 12) % TLB_ENTRIES];
}

/* Enter va's page (in a page of page_bytes, from the walk) into the table
 * the fast path uses (hart_tlb) if it is plain RAM with uniform permission; returns the
 * host pointer for `pa`, or NULL when the access must stay on the slow
 * path (MMIO, ROM writes, the watched page, fine-grained PMP, and writes
 * to a page with decoded blocks: bus.h, code generations).  Called for a
 * write only on the way to a store into the page, which bus_ram_page
 * counts as the page's first write for dirty tracking (bus.h, dirty
 * pages): later stores hit the entry and need not be seen. */
static uint8_t *tlb_fill(struct hart *h, uint64_t va, uint64_t pa, uint64_t page_bytes,
			 enum access_type type, int priv)
{
	uint64_t page_pa = pa & PAGE_MASK;
	bool write = type == ACCESS_WRITE;
	uint64_t *code_gen;
	uint8_t *host = bus_ram_page(h->bus, page_pa, write, &code_gen);
	if (!host)
		return NULL;
	if (write && page_pa == h->bus->watch_page)
		return NULL;
	if (!pmp_allows(h, page_pa, PAGE_SIZE, type, priv))
		return NULL;
	struct tlb *t = hart_tlb(h, priv, type);
	widen_super(&t->super_lo, &t->super_hi, va, page_bytes);
	unsigned index = (unsigned)((va >> 12) % TLB_ENTRIES);
	struct tlb_entry *e = &tlb_table(t, type)[index];
	if (type == ACCESS_EXEC)
		t->exec_gen[index] = code_gen;
	e->tag = va & PAGE_MASK;
	e->addend = (uintptr_t)host - (uintptr_t)(va & PAGE_MASK);
	hart_note_tlb_fill(t, type, index);
	return host + (pa - page_pa);
}

/* ---- loads and stores ---- */

__attribute__((cold)) void mmu_note_access_slow(struct hart *h, uint64_t va, uint64_t pa,
						 unsigned size, uint64_t value, bool write)
{
	if (size < 8)
		value &= (1ULL << (8 * size)) - 1;
	h->effect_hook->access(h->effect_hook->opaque, va, pa, size, value, write);
}

uint8_t *mmu_tlb_hit(struct hart *h, uint64_t va, enum access_type type, int priv, uint64_t *pa)
{
	const struct tlb_entry *e = tlb_slot(hart_tlb(h, priv, type), type, va);
	if (e->tag != (va & PAGE_MASK))
		return NULL;
	uint8_t *host = (uint8_t *)(uintptr_t)(va + e->addend);
	return !pa || bus_host_to_pa(h->bus, host, pa) ? host : NULL;
}

int mmu_translate_fill(struct hart *h, uint64_t va, unsigned size, enum access_type type,
		       int priv, uint64_t *pa, uint8_t **host)
{
	uint64_t page_bytes;
	if (translate(h, va, size, type, priv, pa, &page_bytes))
		return -1;
	*host = tlb_fill(h, va, *pa, page_bytes, type, priv);
	return 0;
}

static int access_aligned(struct hart *h, uint64_t va, unsigned size, enum access_type type,
			  uint64_t *val)
{
	int priv = mmu_data_priv(h);
	uint64_t pa;
	/* While an effect hook observes, data_tlb always misses (hart.h): do
	 * here what a hit in the real TLB would have done on the fast path,
	 * so that observing changes no walk. */
	uint8_t *host = h->effect_hook ? mmu_tlb_hit(h, va, type, priv, &pa) : NULL;
	if (!host && mmu_translate_fill(h, va, size, type, priv, &pa, &host))
		return -1;
	if (host) {
		if (type == ACCESS_WRITE)
			memcpy(host, val, size);
		else {
			*val = 0;
			memcpy(val, host, size);
		}
	} else if (type == ACCESS_WRITE ? bus_write(h->bus, pa, size, *val)
					: bus_read(h->bus, pa, size, val)) {
		return raise(h, access_fault_cause[type], va);
	}
	mmu_note_access(h, va, pa, size, *val, type == ACCESS_WRITE);
	return 0;
}

/* Report a misaligned access: one access when its bytes are contiguous in
 * physical memory, else one for each page's part. */
static void note_misaligned(struct hart *h, uint64_t va, unsigned size, uint64_t pa_first,
			    uint64_t pa_last, uint64_t val, bool write)
{
	if (!h->effect_hook)
		return;
	if (pa_last - pa_first == size - 1) {
		mmu_note_access(h, va, pa_first, size, val, write);
		return;
	}
	unsigned first = (unsigned)(PAGE_SIZE - (va & (PAGE_SIZE - 1)));
	unsigned second = size - first;
	mmu_note_access(h, va, pa_first, first, val, write);
	mmu_note_access(h, va + first, pa_last - (second - 1), second, val >> (8 * first), write);
}

/* Physical address of byte `b_va` of a misaligned access whose first byte
 * maps to pa_first and last byte to pa_last (the two may be on different
 * pages). */
static uint64_t byte_pa(uint64_t va, uint64_t last, uint64_t pa_first, uint64_t pa_last,
			uint64_t b_va)
{
	if ((b_va & PAGE_MASK) == (va & PAGE_MASK))
		return pa_first + (b_va - va);
	return pa_last - (last - b_va);
}

/* Misaligned: translate the first and last byte (both pages when it
 * crosses), then move bytes.  Nothing is written unless every byte can be. */
static int access_misaligned(struct hart *h, uint64_t va, unsigned size, enum access_type type,
			     uint64_t *val)
{
	int priv = mmu_data_priv(h);
	uint64_t last = va + size - 1;
	uint64_t pa_first, pa_last;
	if (mmu_translate(h, va, 1, type, priv, &pa_first))
		return -1;
	uint64_t second_page = last & PAGE_MASK;
	if ((va & PAGE_MASK) == second_page)
		pa_last = pa_first + (size - 1);
	else if (mmu_translate(h, second_page, 1, type, priv, &pa_last))
		return -1;
	else
		pa_last += last - second_page;
	uint8_t bytes[8];
	if (type == ACCESS_WRITE)
		memcpy(bytes, val, size);
	for (unsigned i = 0; i < size; i++) { /* check (and read) every byte first */
		uint64_t pa = byte_pa(va, last, pa_first, pa_last, va + i);
		uint64_t byte = bytes[i];
		if (!pmp_allows(h, pa, 1, type, priv) ||
		    (type != ACCESS_WRITE && bus_read(h->bus, pa, 1, &byte)))
			return raise(h, access_fault_cause[type], va + i);
		bytes[i] = (uint8_t)byte;
	}
	if (type != ACCESS_WRITE) {
		*val = 0;
		memcpy(val, bytes, size);
	} else {
		for (unsigned i = 0; i < size; i++)
			if (bus_write(h->bus, byte_pa(va, last, pa_first, pa_last, va + i), 1,
				      bytes[i]))
				return raise(h, access_fault_cause[type], va + i);
	}
	note_misaligned(h, va, size, pa_first, pa_last, *val, type == ACCESS_WRITE);
	return 0;
}

int mmu_load_slow(struct hart *h, uint64_t va, unsigned size, uint64_t *val)
{
	if (va & (size - 1))
		return access_misaligned(h, va, size, ACCESS_READ, val);
	return access_aligned(h, va, size, ACCESS_READ, val);
}

int mmu_store_slow(struct hart *h, uint64_t va, unsigned size, uint64_t val)
{
	if (va & (size - 1))
		return access_misaligned(h, va, size, ACCESS_WRITE, &val);
	return access_aligned(h, va, size, ACCESS_WRITE, &val);
}

/* ---- instruction fetch ---- */

static int fetch_half(struct hart *h, uint64_t va, uint64_t *half, uint64_t *page_va,
		      uintptr_t *addend)
{
	/* The interpreter's fetch pointer was dropped (a new page, a trap, an
	 * xRET); the exec TLB usually still knows the page. */
	const struct tlb_entry *e = tlb_slot(h->fetch_tlb, ACCESS_EXEC, va);
	if (e->tag == (va & PAGE_MASK)) {
		uint16_t v;
		memcpy(&v, (const void *)(uintptr_t)(va + e->addend), 2);
		*half = v;
		if (page_va) {
			*page_va = va & PAGE_MASK;
			*addend = e->addend;
		}
		return 0;
	}
	uint64_t pa, page_bytes;
	if (translate(h, va, 2, ACCESS_EXEC, h->priv, &pa, &page_bytes))
		return -1;
	uint8_t *host = tlb_fill(h, va, pa, page_bytes, ACCESS_EXEC, h->priv);
	if (host) {
		uint16_t v;
		memcpy(&v, host, 2);
		*half = v;
		if (page_va) {
			*page_va = va & PAGE_MASK;
			*addend = (uintptr_t)host - (uintptr_t)va;
		}
		return 0;
	}
	if (bus_read(h->bus, pa, 2, half))
		return raise(h, EXC_INSN_ACCESS, va);
	return 0;
}

int mmu_fetch_slow(struct hart *h, uint64_t pc, uint32_t *insn, uint64_t *page_va,
		   uintptr_t *addend)
{
	uint64_t lo, hi;
	if (fetch_half(h, pc, &lo, page_va, addend))
		return -1;
	if ((lo & 3) != 3) {
		*insn = (uint32_t)lo;
		return 0;
	}
	/* Only the second half's own page is entered for a crossing fetch. */
	bool crosses = ((pc + 2) & PAGE_MASK) != (pc & PAGE_MASK);
	if (fetch_half(h, pc + 2, &hi, crosses ? NULL : page_va, addend))
		return -1;
	*insn = (uint32_t)(lo | (hi << 16));
	return 0;
}
