/* The memory view's reads and its page-table walk: a debug MMU kept apart
 * from the hart's (cpu/mmu.c), as Spike keeps one.  It reads RAM only,
 * through a plain pointer: no MMIO device is ever called, no TLB filled,
 * no A/D bit set, and nothing about the running hart is consulted, so it
 * works the same on a running, paused, restored-but-never-run or
 * replaying machine.  Everything it reads is the guest's and may be
 * hostile: every address is range-checked and the walk is bounded by the
 * number of levels. */
#include <stdbool.h>
#include <string.h>

#include "vm/taps.h"

#define PTE_V (1ULL << 0)
#define PTE_R (1ULL << 1)
#define PTE_W (1ULL << 2)
#define PTE_X (1ULL << 3)
#define PTE_A (1ULL << 6)
#define PTE_D (1ULL << 7)
#define PTE_U (1ULL << 4)
#define PTE_N (1ULL << 63) /* Svnapot */
#define PTE_PPN_SHIFT 10
#define PTE_PPN_MASK ((1ULL << 44) - 1)

#define SATP_MODE_BARE 0
#define SATP_MODE_SV39 8
#define SATP_MODE_SV48 9

/* [pa, pa+len) inside [base, base+size)?  Written so that no sum can
 * wrap: pa and len come from the guest. */
static bool inside(uint64_t pa, size_t len, uint64_t base, uint64_t size)
{
	return pa >= base && pa - base < size && len <= size - (pa - base);
}

int memview_read_phys(const struct memview *mv, uint64_t pa, void *buf, size_t len)
{
	if (len == 0)
		return MV_OK;
	if (mv->ram && inside(pa, len, mv->base, mv->size))
		memcpy(buf, mv->ram + (pa - mv->base), len);
	else if (mv->rom && inside(pa, len, mv->rom_base, mv->rom_size))
		memcpy(buf, mv->rom + (pa - mv->rom_base), len);
	else
		return MV_NOT_RAM;
	return MV_OK;
}

int memview_translate(const struct memview *mv, uint64_t satp, uint64_t va, uint64_t *pa,
		      uint64_t *page_size)
{
	unsigned mode = (unsigned)(satp >> 60);
	if (mode == SATP_MODE_BARE) {
		*pa = va;
		if (page_size)
			*page_size = 4096;
		return MV_OK;
	}
	if (mode != SATP_MODE_SV39 && mode != SATP_MODE_SV48)
		return MV_BAD_SATP;
	int levels = mode == SATP_MODE_SV48 ? 4 : 3;
	unsigned va_bits = 12 + 9 * (unsigned)levels;
	int64_t sext = (int64_t)(va << (64 - va_bits)) >> (64 - va_bits);
	if ((uint64_t)sext != va)
		return MV_FAULT; /* not a canonical address */
	uint64_t table = (satp & PTE_PPN_MASK) << 12;
	for (int level = levels - 1; level >= 0; level--) {
		uint64_t pte;
		uint64_t pte_addr = table + ((va >> (12 + 9 * level)) & 0x1ff) * 8;
		if (memview_read_phys(mv, pte_addr, &pte, 8))
			return MV_FAULT; /* a table outside RAM: the hart would fault too */
		if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)))
			return MV_FAULT;
		uint64_t ppn = (pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK;
		if (!(pte & (PTE_R | PTE_X))) { /* a pointer to the next level */
			table = ppn << 12;
			continue;
		}
		uint64_t super_mask = (1ULL << (9 * level)) - 1; /* in pages */
		if (ppn & super_mask)
			return MV_FAULT; /* a misaligned superpage */
		uint64_t size = 4096ULL << (9 * level);
		if (level == 0 && (pte & PTE_N)) {
			/* Svnapot: the low four PPN bits 1000 mark a 64 KiB page */
			if ((ppn & 0xf) != 0x8)
				return MV_FAULT;
			ppn &= ~0xfULL;
			size = 64 * 1024;
		}
		*pa = ((ppn << 12) & ~(size - 1)) | (va & (size - 1));
		if (page_size)
			*page_size = size;
		return MV_OK;
	}
	return MV_FAULT; /* no leaf at level 0 */
}

size_t memview_each_piece(const struct memview *mv, uint64_t satp, uint64_t va, size_t len,
			  int (*piece)(void *ctx, uint64_t pa, size_t offset, size_t n), void *ctx)
{
	size_t done = 0;
	while (done < len) {
		uint64_t pa;
		if (memview_translate(mv, satp, va + done, &pa, NULL))
			break;
		size_t chunk = 4096 - ((va + done) & 4095);
		if (chunk > len - done)
			chunk = len - done;
		if (piece(ctx, pa, done, chunk))
			break;
		done += chunk;
	}
	return done;
}

struct read_ctx {
	const struct memview *mv;
	uint8_t *buf;
};

static int read_piece(void *ctx, uint64_t pa, size_t offset, size_t n)
{
	struct read_ctx *r = ctx;
	return memview_read_phys(r->mv, pa, r->buf + offset, n);
}

size_t memview_read_virt(const struct memview *mv, uint64_t satp, uint64_t va, void *buf,
			 size_t len)
{
	struct read_ctx r = {mv, buf};
	return memview_each_piece(mv, satp, va, len, read_piece, &r);
}
