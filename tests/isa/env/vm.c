/* Page-table building for the virtual-memory tests. */
#include "vm.h"

#define POOL_PAGES 64

static uint8_t pool[POOL_PAGES][4096] __attribute__((aligned(4096)));
static unsigned pool_used;

void *page_alloc(void)
{
	if (pool_used == POOL_PAGES)
		fail_now();
	void *p = pool[pool_used++];
	memset(p, 0, 4096);
	return p;
}

void page_pool_reset(void)
{
	pool_used = 0;
}

static unsigned vpn(uint64_t va, int level)
{
	return (va >> (12 + 9 * level)) & 511;
}

static volatile uint64_t *walk(struct vm *vm, uint64_t va, int level, int create)
{
	volatile uint64_t *table = vm->root;
	for (int l = vm->levels - 1; l > level; l--) {
		volatile uint64_t *e = &table[vpn(va, l)];
		if (!(*e & PTE_V)) {
			if (!create)
				return 0;
			*e = pte((uint64_t)page_alloc(), PTE_V);
		}
		if (*e & (PTE_R | PTE_W | PTE_X))
			return 0; /* a leaf above the wanted level */
		table = (volatile uint64_t *)((*e >> PTE_PPN_SHIFT) << 12);
	}
	return &table[vpn(va, level)];
}

volatile uint64_t *vm_map(struct vm *vm, uint64_t va, uint64_t pa, int level, uint64_t flags)
{
	volatile uint64_t *e = walk(vm, va, level, 1);
	if (!e)
		fail_now();
	*e = pte(pa, flags);
	return e;
}

volatile uint64_t *vm_pte(struct vm *vm, uint64_t va, int level)
{
	return walk(vm, va, level, 0);
}

void vm_init(struct vm *vm, uint64_t mode)
{
	vm->mode = mode;
	vm->levels = mode == SATP_MODE_SV48 ? 4 : 3;
	vm->root = page_alloc();
	vm_map(vm, IMAGE_BASE, IMAGE_BASE, 2, RWX_AD | PTE_G);
	vm_map(vm, IMAGE_BASE + U_ALIAS_OFFSET, IMAGE_BASE, 2, RWX_AD | PTE_U);
}

void vm_enable(struct vm *vm)
{
	csr_write(satp, (vm->mode << SATP_MODE_SHIFT) | ((uint64_t)vm->root >> 12));
	sfence_vma();
	probe_u_offset = U_ALIAS_OFFSET;
}

void vm_disable(void)
{
	csr_write(satp, 0);
	sfence_vma();
	probe_u_offset = 0;
}
