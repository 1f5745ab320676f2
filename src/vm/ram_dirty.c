/* Dirty pages shared out to several readers: see vm/ram_dirty.h.
 * The bus's bits are moved into every open reader's set whenever any
 * reader fetches (share_out), so each reader sees every write since its
 * own last fetch, exactly as if it were the only one. */
#include "vm/ram_dirty.h"

#include <stdlib.h>
#include <string.h>

#include "vm/machine.h"

static bool any_open(const struct ram_dirty *d)
{
	for (int i = 0; i < RAM_DIRTY_READERS; i++)
		if (d->since[i])
			return true;
	return false;
}

/* Clearing the bus's bits means the hart must give up its write entries,
 * so that the next store to each page reaches the bus again. */
static int share_out(struct machine *m)
{
	struct ram_dirty *d = &m->dirty;
	if (bus_dirty_collect(&m->bus, m->ram_base, d->scratch, d->words * 64) < 0)
		return -1;
	hart_drop_write_entries(&m->hart);
	for (int i = 0; i < RAM_DIRTY_READERS; i++)
		if (d->since[i])
			for (uint64_t w = 0; w < d->words; w++)
				d->since[i][w] |= d->scratch[w];
	return 0;
}

int ram_dirty_open(struct machine *m)
{
	struct ram_dirty *d = &m->dirty;
	int slot = -1;
	for (int i = 0; i < RAM_DIRTY_READERS && slot < 0; i++)
		if (!d->since[i])
			slot = i;
	if (slot < 0)
		return -1;
	d->words = (m->ram_size / 4096 + 63) / 64;
	if (!d->scratch && !(d->scratch = calloc(d->words, sizeof(uint64_t))))
		return -1;
	uint64_t *since = calloc(d->words, sizeof(uint64_t));
	if (!since)
		return -1;
	if (!any_open(d)) {
		if (bus_dirty_start(&m->bus)) {
			free(since);
			return -1;
		}
		hart_drop_write_entries(&m->hart);
	} else if (share_out(m)) { /* what the others have not fetched yet stays theirs */
		free(since);
		return -1;
	}
	d->since[slot] = since;
	return slot;
}

bool ram_dirty_is_open(const struct machine *m, int reader)
{
	return reader >= 0 && reader < RAM_DIRTY_READERS && m->dirty.since[reader];
}

long ram_dirty_fetch(struct machine *m, int reader, uint64_t *out, size_t nbits)
{
	struct ram_dirty *d = &m->dirty;
	if (!ram_dirty_is_open(m, reader) || nbits < m->ram_size / 4096 || share_out(m))
		return -1;
	long set = 0;
	for (uint64_t w = 0; w < d->words; w++) {
		out[w] = d->since[reader][w];
		d->since[reader][w] = 0;
		set += __builtin_popcountll(out[w]);
	}
	memset(out + d->words, 0, ((nbits + 63) / 64 - d->words) * sizeof(uint64_t));
	return set;
}

void ram_dirty_close(struct machine *m, int reader)
{
	struct ram_dirty *d = &m->dirty;
	if (!ram_dirty_is_open(m, reader))
		return;
	free(d->since[reader]);
	d->since[reader] = NULL;
	if (!any_open(d)) {
		/* Write entries are allowed again for every page; the ones the
		 * hart lacks it makes on the next store. */
		bus_dirty_stop(&m->bus);
	}
}

void ram_dirty_free(struct machine *m)
{
	for (int i = 0; i < RAM_DIRTY_READERS; i++)
		ram_dirty_close(m, i);
	free(m->dirty.scratch);
	m->dirty.scratch = NULL;
}
