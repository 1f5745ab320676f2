/* Post-copy's missing pages (taps.h, section 5b; docs/migrate.md).
 *
 * The bus keeps the bitmap (bus/bus.h, "Missing pages") and calls
 * fault() before any access reaches a missing page; fault() asks the
 * service for it and returns once it is here.  The hart is inside an
 * access at that moment, so the wait is invisible to the guest: the
 * access then completes exactly as if the page had been here all along,
 * and since the page's contents are fixed (the source stopped the VM
 * before the destination ran it) nothing the guest computes depends on
 * when a page arrives.  That is why neither a recording nor a replay
 * needs to know about post-copy: a page's arrival is not an input. */
#include <stdlib.h>
#include <string.h>

#include "vm/machine.h"
#include "vm/taps.h"

#define PAGE 4096u

static uint64_t npages(const struct machine *m) { return m->ram_size / PAGE; }

bool taps_postcopy_missing(const struct machine *m, uint64_t page)
{
	return m->postcopy.missing && page < npages(m) &&
	       (m->postcopy.missing[page / 64] >> (page % 64) & 1);
}

uint64_t taps_postcopy_left(const struct machine *m)
{
	return m->postcopy.missing ? m->postcopy.left : 0;
}

static void end(struct machine *m)
{
	bus_missing_stop(&m->bus);
	free(m->postcopy.missing);
	m->postcopy.missing = NULL;
	m->postcopy.left = 0;
}

/* The service could not bring a page: the VM cannot continue. */
static void lost(struct machine *m, const char *why)
{
	m->postcopy.ops.lost(m->postcopy.ops.opaque, why);
	abort(); /* lost() must not return: the access has nothing to read */
}

static void fault(void *opaque, uint64_t page_pa)
{
	struct machine *m = opaque;
	uint64_t page = (page_pa - m->ram_base) / PAGE;
	char why[512] = "the page did not come";
	if (m->postcopy.ops.fetch(m->postcopy.ops.opaque, page, why, sizeof(why)) ||
	    taps_postcopy_missing(m, page))
		lost(m, why);
}

int taps_postcopy_begin(struct machine *m, const uint64_t *missing, size_t nbits,
			const struct taps_postcopy_ops *ops)
{
	uint64_t n = npages(m), words = (n + 63) / 64;
	if (m->postcopy.missing || nbits < n)
		return -1;
	uint64_t *bits = calloc(words, sizeof(*bits));
	if (!bits)
		return -1;
	memcpy(bits, missing, words * sizeof(*bits));
	if (n % 64)
		bits[words - 1] &= (1ULL << (n % 64)) - 1;
	uint64_t left = 0;
	for (uint64_t w = 0; w < words; w++)
		left += (uint64_t)__builtin_popcountll(bits[w]);
	if (!left) {
		free(bits);
		return 0;
	}
	if (bus_missing_start(&m->bus, m->ram_base, bits, fault, m)) {
		free(bits);
		return -1;
	}
	m->postcopy.missing = bits;
	m->postcopy.left = left;
	m->postcopy.ops = *ops;
	/* No TLB entry or decoded block may reach a missing page: the state
	 * load that came before flushed them, and this makes sure. */
	hart_flush_tlb(&m->hart);
	return 0;
}

int taps_postcopy_fill(struct machine *m, uint64_t page, const void *data)
{
	if (page >= npages(m))
		return -1;
	if (!taps_postcopy_missing(m, page))
		return 0;
	/* Clear the bit first: then the bus lets the write through without
	 * asking for the page again.  A write through the bus, so that the
	 * dirty pages' readers (the state digest's page cache, a migration
	 * out of here) hear that the page changed. */
	m->postcopy.missing[page / 64] &= ~(1ULL << (page % 64));
	uint8_t *host = bus_ram_ptr(&m->bus, m->ram_base + page * PAGE, PAGE, true);
	m->ram_is_boot_image = false;
	if (host)
		memcpy(host, data, PAGE);
	if (--m->postcopy.left == 0)
		end(m);
	return 1;
}

void taps_postcopy_complete(struct machine *m)
{
	if (!m->postcopy.missing)
		return;
	char why[512] = "the pages did not come";
	if (m->postcopy.ops.fetch(m->postcopy.ops.opaque, TAPS_POSTCOPY_ALL, why, sizeof(why)) ||
	    m->postcopy.missing)
		lost(m, why);
}

void taps_postcopy_abandon(struct machine *m)
{
	if (m->postcopy.missing)
		end(m);
}

long taps_recent_pages(const struct machine *m, uint64_t *bitmap, size_t nbits)
{
	long set = 0;
	if (nbits < npages(m))
		return -1;
	const struct tlb *tlbs[HART_MAX_TLBS];
	size_t ntlbs = hart_live_tlbs(&m->hart, tlbs);
	for (size_t t = 0; t < ntlbs; t++) {
		const struct tlb *tlb = tlbs[t];
		const struct tlb_entry *tables[] = {tlb->read, tlb->write, tlb->exec};
		for (unsigned k = 0; k < 3; k++)
			for (unsigned i = 0; i < TLB_ENTRIES; i++) {
				const struct tlb_entry *e = &tables[k][i];
				uint64_t pa;
				if (e->tag == TLB_INVALID ||
				    !bus_host_to_pa(&m->bus, (const void *)(e->tag + e->addend), &pa) ||
				    pa < m->ram_base || pa - m->ram_base >= m->ram_size)
					continue;
				uint64_t page = (pa - m->ram_base) / PAGE;
				if (!(bitmap[page / 64] >> (page % 64) & 1))
					set++;
				bitmap[page / 64] |= 1ULL << (page % 64);
			}
	}
	return set;
}
