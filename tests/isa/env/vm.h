/* Page-table building for the virtual-memory tests (Sv39 and Sv48). */
#ifndef KEEL_ISA_VM_H
#define KEEL_ISA_VM_H

#include "ctest.h"

#define PAGE_SIZE 4096ULL
#define IMAGE_BASE 0x80000000ULL
/* U-mode sees the image a second time, at IMAGE_BASE + U_ALIAS_OFFSET */
#define U_ALIAS_OFFSET 0x40000000ULL

struct vm {
	uint64_t *root;
	int levels; /* 3 for Sv39, 4 for Sv48 */
	uint64_t mode; /* SATP_MODE_SV39 or SATP_MODE_SV48 */
};

/* A zeroed, page-aligned 4 KiB page from a static pool (fails the test
 * when the pool runs out). */
void *page_alloc(void);
/* Give every page back (only with translation off). */
void page_pool_reset(void);

/* Start a fresh address space of the given mode (page tables from the
 * pool).  It maps the image 1:1 with a 1 GiB page (RWX, A, D, not U) for
 * S-mode code, and again at +U_ALIAS_OFFSET with U set for U-mode code. */
void vm_init(struct vm *vm, uint64_t mode);

/* Map va -> pa at `level` (0: 4 KiB, 1: 2 MiB, 2: 1 GiB, 3: 512 GiB) with
 * the PTE flag bits `flags` (V is not implied).  Builds missing
 * intermediate tables.  Returns the leaf PTE. */
volatile uint64_t *vm_map(struct vm *vm, uint64_t va, uint64_t pa, int level, uint64_t flags);

/* The PTE that maps va at `level`, or NULL if the walk does not get there. */
volatile uint64_t *vm_pte(struct vm *vm, uint64_t va, int level);

/* A raw PTE value. */
static inline uint64_t pte(uint64_t pa, uint64_t flags)
{
	return ((pa >> 12) << PTE_PPN_SHIFT) | flags;
}

/* satp = mode | root; sfence.vma; probes for U use the alias. */
void vm_enable(struct vm *vm);
void vm_disable(void);

#define RWX_AD (PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)

#endif
