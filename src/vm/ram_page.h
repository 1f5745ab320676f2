/* Guest RAM seen as 4 KiB pages: the unit snapshots and the state digest
 * skip when it is all zero. */
#ifndef KEEL_VM_RAM_PAGE_H
#define KEEL_VM_RAM_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAM_PAGE_SIZE 4096u

/* `p` must be 8-byte aligned (guest RAM is page-aligned).  An OR over the
 * page rather than an early exit: the compiler vectorises it, and most
 * pages a caller asks about are zero. */
static inline bool ram_page_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)(const void *)p;
	uint64_t acc = 0;
	for (size_t i = 0; i < RAM_PAGE_SIZE / 8; i++)
		acc |= q[i];
	return acc == 0;
}

#endif
