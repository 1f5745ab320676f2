/* Memory effects (taps.h, section 6): each instruction's registers and
 * memory accesses, for analyses of a replay (taint tracking).
 *
 * Exact, not fast.  While anyone subscribes, machine_run calls
 * taps_effect_run instead of hart_run, which runs the hart one step at a
 * time without decoded blocks, so every instruction is decoded where it
 * runs and the hart's effect hook (cpu/hart.h) sees it, and every data
 * access takes a slow path that reports it.  None of this changes what
 * the guest sees: running one step at a time only adds slice boundaries,
 * which are invisible (replay stops at arbitrary icounts too), and the slow
 * paths consult the same TLB entries the fast paths would.
 * docs/memory-effects.md. */
#include <string.h>

#include "cpu/decode.h"
#include "vm/machine.h"
#include "vm/taps.h"

static void on_insn(void *opaque, const struct hart *h, uint64_t pc,
		    const struct decoded_insn *d)
{
	struct taps_state *t = opaque;
	struct tap_insn_effect *e = &t->effect;
	struct reg_use u;
	decode_reg_use(d, &u);
	e->pc = pc;
	e->insn = d->len == 2 ? d->word & 0xffff : d->word;
	e->priv = h->priv;
	e->x_read = u.x_read;
	e->x_written = u.x_written;
	e->f_read = u.f_read;
	e->f_written = u.f_written;
	e->csr = u.csr;
	e->csr_read = u.csr_read;
	e->csr_written = u.csr_written;
	e->naccess = 0;
	t->effect_insn = *d;
	t->effect_decoded = true;
}

static void on_access(void *opaque, uint64_t va, uint64_t pa, unsigned size, uint64_t value,
		      bool write)
{
	struct taps_state *t = opaque;
	struct tap_insn_effect *e = &t->effect;
	/* at most two per instruction (an AMO; a misaligned access split at
	 * a page), so this never drops one */
	if (e->naccess < TAP_MAX_ACCESSES)
		e->access[e->naccess++] = (struct tap_mem_access){va, pa, value, (uint8_t)size, write};
}

static void start(struct machine *m)
{
	struct taps_state *t = &m->taps;
	if (m->hart.effect_hook)
		return;
	/* Only between hart_run calls: the running one would keep using the
	 * block table this frees. */
	hart_set_block_cache(&m->hart, false);
	t->effect_hook = (struct hart_effect_hook){on_insn, on_access, t};
	hart_set_effect_hook(&m->hart, &t->effect_hook);
}

void taps_effect_stop(struct machine *m)
{
	if (!m->hart.effect_hook)
		return;
	hart_set_effect_hook(&m->hart, NULL);
	/* Blocks are only a cache: if the table cannot be had, the hart runs
	 * on without it, as it just did. */
	(void)hart_set_block_cache(&m->hart, !m->cfg.no_decode_cache);
}

/* The step that started at `icount` is over: complete its effect. */
static void finish(struct machine *m, uint64_t icount)
{
	struct taps_state *t = &m->taps;
	const struct hart *h = &m->hart;
	struct tap_insn_effect *e = &t->effect;
	e->icount = icount;
	e->trapped = h->icount == icount;
	if (!e->trapped)
		return;
	if (!t->effect_decoded) {
		/* The fetch faulted before anything was decoded: the trap
		 * says where, and from which privilege. */
		bool to_m = h->priv == PRIV_M;
		e->pc = to_m ? h->mepc : h->sepc;
		e->priv = (uint8_t)(to_m ? (h->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT
					 : (h->mstatus & MSTATUS_SPP) ? PRIV_S : PRIV_U);
	}
	if (h->exc_cause == EXC_ILLEGAL_INSN) /* read nothing either (the cause is still there) */
		e->x_read = e->f_read = 0;
	e->x_written = e->f_written = 0;
	e->csr_read = e->csr_written = false;
	e->naccess = 0;
}

static void report(struct taps_state *t)
{
	/* A subscriber may unsubscribe during the call: neffects is re-read. */
	for (unsigned i = 0; i < t->neffects; i++)
		if (t->effects[i].fn)
			t->effects[i].fn(t->effects[i].opaque, &t->effect);
}

uint64_t taps_effect_run(struct machine *m, uint64_t budget)
{
	struct taps_state *t = &m->taps;
	struct hart *h = &m->hart;
	uint64_t done = 0;
	while (done < budget && t->neffects) {
		start(m); /* again: a subscriber may have left and come back */
		uint64_t icount = h->icount;
		memset(&t->effect, 0, sizeof(t->effect));
		t->effect.csr = -1;
		t->effect_decoded = false;
		uint64_t steps = hart_run(h, 1);
		if (!steps)
			break; /* waiting in WFI */
		done += steps;
		finish(m, icount);
		report(t);
		/* what would have ended hart_run's slice ends this one */
		if (h->slice_end || h->wfi || m->exited)
			break;
	}
	return done;
}

int taps_effect_subscribe(struct machine *m, tap_effect_fn fn, void *opaque)
{
	struct taps_state *t = &m->taps;
	unsigned slot = 0;
	while (slot < t->neffects && t->effects[slot].fn)
		slot++;
	if (slot >= TAPS_MAX_SUBSCRIBERS || !fn)
		return -1;
	/* The hart starts observing in taps_effect_run, between steps: this
	 * may be called from inside a run (an event observer). */
	t->effects[slot].fn = fn;
	t->effects[slot].opaque = opaque;
	if (slot == t->neffects)
		t->neffects++;
	return (int)slot;
}

void taps_effect_unsubscribe(struct machine *m, int id)
{
	struct taps_state *t = &m->taps;
	if (id < 0 || (unsigned)id >= t->neffects)
		return;
	t->effects[id].fn = NULL;
	t->effects[id].opaque = NULL;
	while (t->neffects > 0 && !t->effects[t->neffects - 1].fn)
		t->neffects--;
	/* Safe even from inside a run: the hart just goes on without the
	 * hook, and the table a running hart_run never had is not its. */
	if (!t->neffects)
		taps_effect_stop(m);
}
