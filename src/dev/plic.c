/* SiFive PLIC.  Register map (offsets):
 *   0x000000 + 4*src   priority
 *   0x001000           pending bits (read-only)
 *   0x002000 + 0x80*c  enable bits of context c
 *   0x200000 + 0x1000*c  threshold, +4 claim/complete
 * The gateway follows QEMU: a source is pending while its line is high and
 * it is not in service; completing re-arms it if the line is still high. */
#include "dev/plic.h"

#include <string.h>

#include "cpu/hart.h"
#include "lib/state_io.h"

#define PRIORITY_MASK 7u

static bool bit(const uint32_t *words, unsigned n) { return (words[n / 32] >> (n % 32)) & 1; }

static void set_bit(uint32_t *words, unsigned n, bool v)
{
	if (v)
		words[n / 32] |= 1u << (n % 32);
	else
		words[n / 32] &= ~(1u << (n % 32));
}

/* The best source context c could claim now, or 0.  Only sources both
 * pending and enabled compete, so walk the set bits of their AND a word at
 * a time (plic_update runs on every line change); lowest source first, so
 * a tie goes to the lowest number. */
static unsigned best_source(const struct plic *p, unsigned c)
{
	unsigned best = 0;
	uint32_t best_prio = p->threshold[c];
	for (unsigned w = 0; w < PLIC_SOURCES / 32; w++) {
		uint32_t live = p->pending[w] & p->enable[c][w];
		while (live) {
			unsigned s = 32 * w + (unsigned)__builtin_ctz(live);
			live &= live - 1;
			if (s != 0 && p->priority[s] > best_prio) {
				best = s;
				best_prio = p->priority[s];
			}
		}
	}
	return best;
}

void plic_update(struct plic *p)
{
	static const uint64_t context_irq[PLIC_CONTEXTS] = {1ULL << IRQ_MEI, 1ULL << IRQ_SEI};
	for (unsigned c = 0; c < PLIC_CONTEXTS; c++) {
		bool want = best_source(p, c) != 0;
		bool have = (p->hart->mip_hw & context_irq[c]) != 0;
		if (want != have)
			hart_set_pending(p->hart, context_irq[c], want);
	}
}

void plic_init(struct plic *p, struct hart *hart)
{
	memset(p, 0, sizeof(*p));
	p->hart = hart;
}

void plic_set_line(void *opaque, unsigned source, bool level)
{
	struct plic *p = opaque;
	if (source == 0 || source >= PLIC_SOURCES)
		return;
	set_bit(p->level, source, level);
	if (!bit(p->claimed, source))
		set_bit(p->pending, source, level);
	plic_update(p);
}

static uint32_t claim(struct plic *p, unsigned c)
{
	unsigned s = best_source(p, c);
	if (s) {
		set_bit(p->pending, s, false);
		set_bit(p->claimed, s, true);
		plic_update(p);
	}
	return s;
}

static void complete(struct plic *p, unsigned c, uint32_t s)
{
	if (s == 0 || s >= PLIC_SOURCES || !bit(p->enable[c], s) || !bit(p->claimed, s))
		return; /* the spec says such a completion is ignored */
	set_bit(p->claimed, s, false);
	if (bit(p->level, s))
		set_bit(p->pending, s, true);
	plic_update(p);
}

static int plic_read(void *opaque, uint64_t off, unsigned size, uint64_t *val)
{
	struct plic *p = opaque;
	*val = 0;
	if (size != 4)
		return 0; /* only 32-bit accesses mean anything; others read 0 */
	if (off < 4 * PLIC_SOURCES) {
		*val = p->priority[off / 4];
	} else if (off >= 0x1000 && off < 0x1000 + PLIC_SOURCES / 8) {
		*val = p->pending[(off - 0x1000) / 4];
	} else if (off >= 0x2000 && off < 0x2000 + 0x80 * PLIC_CONTEXTS) {
		unsigned c = (unsigned)(off - 0x2000) / 0x80, w = (unsigned)(off - 0x2000) % 0x80 / 4;
		if (w < PLIC_SOURCES / 32)
			*val = p->enable[c][w];
	} else if (off >= 0x200000 && off < 0x200000 + 0x1000 * PLIC_CONTEXTS) {
		unsigned c = (unsigned)(off - 0x200000) / 0x1000, reg = (unsigned)(off % 0x1000);
		if (reg == 0)
			*val = p->threshold[c];
		else if (reg == 4)
			*val = claim(p, c);
	}
	return 0;
}

static int plic_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct plic *p = opaque;
	if (size != 4)
		return 0;
	uint32_t v = (uint32_t)val;
	if (off < 4 * PLIC_SOURCES) {
		if (off >= 4)
			p->priority[off / 4] = v & PRIORITY_MASK;
	} else if (off >= 0x2000 && off < 0x2000 + 0x80 * PLIC_CONTEXTS) {
		unsigned c = (unsigned)(off - 0x2000) / 0x80, w = (unsigned)(off - 0x2000) % 0x80 / 4;
		if (w < PLIC_SOURCES / 32)
			p->enable[c][w] = w == 0 ? v & ~1u : v; /* source 0 does not exist */
	} else if (off >= 0x200000 && off < 0x200000 + 0x1000 * PLIC_CONTEXTS) {
		unsigned c = (unsigned)(off - 0x200000) / 0x1000, reg = (unsigned)(off % 0x1000);
		if (reg == 0)
			p->threshold[c] = v & PRIORITY_MASK;
		else if (reg == 4)
			complete(p, c, v);
	}
	plic_update(p);
	return 0;
}

const struct mmio_ops plic_mmio_ops = {.read = plic_read, .write = plic_write};

/* --- State -------------------------------------------------------------- */

#define PLIC_WORDS (PLIC_SOURCES / 32)

static void put_words(struct state_writer *w, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sw_put_u32(w, v[i]);
}

static void get_words(struct state_reader *r, uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = sr_u32(r);
}

void plic_save(const struct plic *p, struct state_writer *w)
{
	sw_put_u32(w, PLIC_SOURCES);
	sw_put_u32(w, PLIC_CONTEXTS);
	put_words(w, p->priority, PLIC_SOURCES);
	put_words(w, p->pending, PLIC_WORDS);
	put_words(w, p->claimed, PLIC_WORDS);
	put_words(w, p->level, PLIC_WORDS);
	for (int c = 0; c < PLIC_CONTEXTS; c++)
		put_words(w, p->enable[c], PLIC_WORDS);
	put_words(w, p->threshold, PLIC_CONTEXTS);
}

/* The hart's interrupt lines are not updated here: the caller runs
 * plic_update() once every section is in. */
int plic_load(struct plic *p, struct state_reader *r)
{
	uint32_t sources = sr_u32(r), contexts = sr_u32(r);
	if (!sr_failed(r) && (sources != PLIC_SOURCES || contexts != PLIC_CONTEXTS))
		return sr_fail(r, "PLIC: %u sources/%u contexts, expected %u/%u", sources, contexts,
			       PLIC_SOURCES, PLIC_CONTEXTS);
	get_words(r, p->priority, PLIC_SOURCES);
	get_words(r, p->pending, PLIC_WORDS);
	get_words(r, p->claimed, PLIC_WORDS);
	get_words(r, p->level, PLIC_WORDS);
	for (int c = 0; c < PLIC_CONTEXTS; c++)
		get_words(r, p->enable[c], PLIC_WORDS);
	get_words(r, p->threshold, PLIC_CONTEXTS);
	return sr_failed(r) ? -1 : 0;
}
