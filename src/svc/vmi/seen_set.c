/* The kernel objects one walk has passed, as an open-addressed set of
 * addresses.  Every walk over guest memory that could go round in a
 * circle (a task list, a list_head list, the nodes of an XArray) asks it
 * before it goes on: a list whose links come back to an entry it has
 * passed, or a tree whose node is reached twice, is not a list or a tree
 * the kernel made, and the walk stops there instead of going round until
 * its count runs out (65536 or more rounds of reads per hostile pointer,
 * which made one fuzz input of the vmi target cost tens of milliseconds).
 *
 * Keys are stored as address + 1, so that 0 marks an empty slot.  The set
 * starts small and doubles when half full, so a walk pays for the objects
 * it passes (a lookup by pid that stops after tens of tasks), not for the
 * longest walk there may be. */
#include <stdlib.h>

#include "svc/vmi/vmi_int.h"

/* The slot holding key, or the empty one where it goes. */
static uint64_t *seen_slot(uint64_t *slot, size_t cap, uint64_t key)
{
	size_t i = (size_t)((key >> 3) * 0x9e3779b97f4a7c15ull >> 40) & (cap - 1);
	while (slot[i] && slot[i] != key)
		i = (i + 1) & (cap - 1);
	return &slot[i];
}

static bool seen_grow(struct seen_set *s)
{
	size_t cap = s->cap ? 2 * s->cap : 64;
	uint64_t *slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return false;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slot[i])
			*seen_slot(slot, cap, s->slot[i]) = s->slot[i];
	free(s->slot);
	s->slot = slot, s->cap = cap;
	return true;
}

bool seen_before(struct seen_set *s, uint64_t addr)
{
	uint64_t key = addr + 1;
	if (!key)
		return false;
	if (2 * (s->n + 1) > s->cap && !seen_grow(s))
		return false; /* out of memory: each walk's own count still bounds it */
	uint64_t *at = seen_slot(s->slot, s->cap, key);
	if (*at)
		return true;
	*at = key;
	s->n++;
	return false;
}

bool seen_has(const struct seen_set *s, uint64_t addr)
{
	return s->cap && addr + 1 && *seen_slot(s->slot, s->cap, addr + 1);
}

void seen_free(struct seen_set *s)
{
	free(s->slot);
	*s = (struct seen_set){0};
}
