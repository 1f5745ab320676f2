/* Byte taint (taps.h section 8): which sources' bytes each byte of RAM and
 * each register holds, carried instruction by instruction.
 *
 * The engine is one more memory-effect subscriber (vm/taps_effect.c): the
 * hart runs one step at a time without decoded blocks, and after each
 * instruction this looks at the decoded instruction and the accesses it
 * made and moves labels the way the data moved.  Nothing here runs while
 * taint is off, and the hot loop has no test of its own for it.
 *
 * Shadow state: one label set (a 32-bit mask) per register and per byte of
 * RAM.  RAM's shadow is kept in 4 KiB-page pieces allocated when a label
 * first lands in the page, so the clean majority of RAM costs a NULL
 * pointer per page.  A register has one set for all its bytes: a load of
 * 8 bytes of which one is labelled labels the whole register, and a store
 * of it labels the 8 bytes (over-approximate, never under).
 *
 * The rules follow explicit data flow only (docs/analyze.md, "Byte
 * taint"): a load's destination gets the loaded bytes' labels (not the
 * address register's), a store's bytes get the data register's labels,
 * an ALU result gets the union of its sources, and anything computed from
 * no register (LUI, AUIPC, JAL's link, CSR reads) is clean.  Branches move
 * no labels.  Writes that do not come from an instruction (device DMA,
 * cbo.zero, the loaders and debuggers) clear what they overwrite through
 * the bus's write hook; a network source then labels the frame it
 * delivered. */
#include <stdlib.h>
#include <string.h>

#include "cpu/decode.h"
#include "vm/machine.h"
#include "vm/taps.h"

#define PAGE 4096u

struct taint {
	struct machine *m;
	uint32_t x[32], f[32];
	uint32_t **pages; /* one per RAM page; NULL: every byte clean */
	uint64_t base, npages;
	int effect_id;
	tap_taint_net_fn net_fn;
	void *net_opaque;
};

/* ---- shadow memory ---- */

/* The shadow of pa, or NULL (outside RAM; or clean when !make). */
static uint32_t *shadow(struct taint *t, uint64_t pa, bool make)
{
	uint64_t off = pa - t->base, page = off / PAGE;
	if (pa < t->base || page >= t->npages)
		return NULL;
	if (!t->pages[page]) {
		if (!make)
			return NULL;
		t->pages[page] = calloc(PAGE, sizeof(uint32_t));
		if (!t->pages[page]) /* no memory: the label is lost */
			return NULL;
	}
	return &t->pages[page][off % PAGE];
}

static uint32_t mem_get(struct taint *t, uint64_t pa, uint64_t len, uint32_t *per_byte)
{
	uint32_t all = 0;
	for (uint64_t i = 0; i < len; i++) {
		const uint32_t *s = shadow(t, pa + i, false);
		uint32_t l = s ? *s : 0;
		if (per_byte)
			per_byte[i] = l;
		all |= l;
	}
	return all;
}

static void mem_set(struct taint *t, uint64_t pa, uint64_t len, uint32_t labels)
{
	for (uint64_t i = 0; i < len; i++) {
		uint32_t *s = shadow(t, pa + i, labels != 0);
		if (s)
			*s = labels;
	}
}

/* The union of the labels of the accesses of one direction. */
static uint32_t accessed(struct taint *t, const struct tap_insn_effect *e, bool write)
{
	uint32_t all = 0;
	for (unsigned i = 0; i < e->naccess; i++)
		if (e->access[i].write == write)
			all |= mem_get(t, e->access[i].pa, e->access[i].size, NULL);
	return all;
}

static void store(struct taint *t, const struct tap_insn_effect *e, uint32_t labels)
{
	for (unsigned i = 0; i < e->naccess; i++)
		if (e->access[i].write)
			mem_set(t, e->access[i].pa, e->access[i].size, labels);
}

/* ---- propagation ---- */

enum { AMO_SWAP = 0x01, AMO_LR = 0x02, AMO_SC = 0x03 };

static void step_amo(struct taint *t, const struct tap_insn_effect *e,
		     const struct decoded_insn *d)
{
	unsigned f5 = decoded_insn32(d) >> 27;
	uint32_t old = accessed(t, e, false);
	if (f5 == AMO_SC) {
		store(t, e, t->x[d->rs2]); /* nothing when it failed */
		t->x[d->rd] = 0; /* 0 or 1: says only whether it stored */
		return;
	}
	if (f5 != AMO_LR) /* the new value: rs2, or rs2 combined with the old */
		store(t, e, f5 == AMO_SWAP ? t->x[d->rs2] : t->x[d->rs2] | old);
	t->x[d->rd] = old;
}

/* The union of the sets of the registers in mask (a few bits at most). */
static uint32_t regs_union(const uint32_t *sets, uint32_t mask)
{
	uint32_t all = 0;
	for (; mask; mask &= mask - 1)
		all |= sets[__builtin_ctz(mask)];
	return all;
}

static void regs_set(uint32_t *sets, uint32_t mask, uint32_t labels)
{
	for (; mask; mask &= mask - 1)
		sets[__builtin_ctz(mask)] = labels;
}

/* Everything else: the destination gets the union of the sources. */
static void step_alu(struct taint *t, const struct decoded_insn *d)
{
	struct reg_use u;
	decode_reg_use(d, &u);
	uint32_t from = regs_union(t->x, u.x_read) | regs_union(t->f, u.f_read);
	/* x ^ x and x - x are 0 whatever x held: the zeroing idiom */
	enum op op = (enum op)d->op;
	if ((op == OP_XOR || op == OP_SUB || op == OP_SUBW) && d->rs1 == d->rs2)
		from = 0;
	if (u.csr >= 0) /* CSRs are not tracked: what a CSR instruction reads is clean */
		from = 0;
	regs_set(t->x, u.x_written, from); /* never x0: reg_use leaves it out */
	regs_set(t->f, u.f_written, from);
}

static void step(struct taint *t, const struct tap_insn_effect *e, const struct decoded_insn *d)
{
	enum op op = (enum op)d->op;
	if (op >= OP_LB && op <= OP_LWU)
		t->x[d->rd] = accessed(t, e, false);
	else if (op == OP_FLW || op == OP_FLD || op == OP_FLH)
		t->f[d->rd] = accessed(t, e, false);
	else if (op >= OP_SB && op <= OP_SD)
		store(t, e, t->x[d->rs2]);
	else if (op == OP_FSW || op == OP_FSD || op == OP_FSH)
		store(t, e, t->f[d->rs2]);
	else if (op == OP_AMO)
		step_amo(t, e, d);
	else if (op == OP_JALR) /* the link is an address, not data */
		t->x[d->rd] = 0;
	else
		step_alu(t, d);
	t->x[0] = 0;
}

static void on_effect(void *opaque, const struct tap_insn_effect *e)
{
	struct taint *t = opaque;
	/* A trapped instruction wrote nothing; an undecoded one did nothing. */
	if (e->trapped || !t->m->taps.effect_decoded)
		return;
	step(t, e, &t->m->taps.effect_insn);
}

/* The bus's write hook: a write not made by an instruction (DMA, cbo.zero,
 * loaders, debuggers) leaves clean bytes.  An instruction's own stores do
 * not come this way, except cbo.zero's, which are zeros. */
static void on_ram_write(void *opaque, uint64_t pa, uint64_t len)
{
	struct taint *t = opaque;
	mem_set(t, pa, len, 0);
}

/* ---- the interface ---- */

int taps_taint_enable(struct machine *m)
{
	if (m->taps.taint)
		return 0;
	struct taint *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	t->m = m;
	t->base = m->ram_base;
	t->npages = (m->ram_size + PAGE - 1) / PAGE;
	t->pages = calloc(t->npages ? t->npages : 1, sizeof(*t->pages));
	t->effect_id = t->pages ? taps_effect_subscribe(m, on_effect, t) : -1;
	if (t->effect_id < 0) {
		free(t->pages);
		free(t);
		return -1;
	}
	m->taps.taint = t;
	m->bus.ram_write_hook = on_ram_write;
	m->bus.ram_write_opaque = t;
	return 0;
}

void taps_taint_disable(struct machine *m)
{
	struct taint *t = m->taps.taint;
	if (!t)
		return;
	m->bus.ram_write_hook = NULL;
	m->bus.ram_write_opaque = NULL;
	taps_effect_unsubscribe(m, t->effect_id);
	for (uint64_t i = 0; i < t->npages; i++)
		free(t->pages[i]);
	free(t->pages);
	free(t);
	m->taps.taint = NULL;
}

bool taps_taint_enabled(const struct machine *m)
{
	return m->taps.taint != NULL;
}

int taps_taint_label(struct machine *m, uint64_t pa, uint64_t len, uint32_t labels)
{
	struct taint *t = m->taps.taint;
	if (!t || pa < t->base || len > t->npages * PAGE || pa - t->base > t->npages * PAGE - len)
		return -1;
	mem_set(t, pa, len, labels);
	return 0;
}

uint32_t taps_taint_query(const struct machine *m, uint64_t pa, uint64_t len, uint32_t *per_byte)
{
	struct taint *t = m->taps.taint;
	if (!t) {
		if (per_byte)
			memset(per_byte, 0, len * sizeof(*per_byte));
		return 0;
	}
	return mem_get(t, pa, len, per_byte);
}

uint32_t taps_taint_xreg(const struct machine *m, unsigned n)
{
	const struct taint *t = m->taps.taint;
	return t && n < 32 ? t->x[n] : 0;
}

uint32_t taps_taint_freg(const struct machine *m, unsigned n)
{
	const struct taint *t = m->taps.taint;
	return t && n < 32 ? t->f[n] : 0;
}

int taps_taint_set_xreg(struct machine *m, unsigned n, uint32_t labels)
{
	struct taint *t = m->taps.taint;
	if (!t || n >= 32)
		return -1;
	t->x[n] = n ? labels : 0;
	return 0;
}

int taps_taint_set_freg(struct machine *m, unsigned n, uint32_t labels)
{
	struct taint *t = m->taps.taint;
	if (!t || n >= 32)
		return -1;
	t->f[n] = labels;
	return 0;
}

void taps_taint_net_source(struct machine *m, tap_taint_net_fn fn, void *opaque)
{
	struct taint *t = m->taps.taint;
	if (t) {
		t->net_fn = fn;
		t->net_opaque = opaque;
	}
}

/* Label [off, off + len) of the frame that virtio-net just wrote after its
 * header into the chain `r`'s device-writable segments. */
static void label_chain(struct taint *t, const struct virtq_req *r, uint64_t off, uint64_t len,
			uint32_t labels)
{
	uint64_t pos = 0; /* offset in the writable bytes */
	for (unsigned i = 0; i < r->nseg && len; i++) {
		const struct virtq_seg *s = &r->seg[i];
		if (!s->writable)
			continue;
		uint64_t end = pos + s->len;
		if (end > off) {
			uint64_t skip = off - pos, n = s->len - skip;
			if (n > len)
				n = len;
			mem_set(t, s->gpa + skip, n, labels);
			off += n;
			len -= n;
		}
		pos = end;
	}
}

void taps_taint_net_rx(struct machine *m, const uint8_t *frame, size_t len)
{
	struct taint *t = m->taps.taint;
	if (!t || !t->net_fn)
		return;
	size_t payload = len;
	uint32_t labels = t->net_fn(t->net_opaque, frame, len, &payload);
	if (labels && payload < len)
		label_chain(t, &m->net.req, VIRTIO_NET_HDR_LEN + payload, len - payload, labels);
}
