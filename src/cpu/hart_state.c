/* The hart's snapshot section.  See hart_save() in hart.h. */
#include "cpu/hart.h"

#include "cpu/mmu.h"
#include "lib/state_io.h"

void hart_save(const struct hart *h, struct state_writer *w)
{
	for (int i = 0; i < 32; i++)
		sw_put_u64(w, h->x[i]);
	for (int i = 0; i < 32; i++)
		sw_put_u64(w, h->f[i]);
	sw_put_u64(w, h->pc);
	sw_put_u8(w, h->priv);
	sw_put_u8(w, h->fflags);
	sw_put_u8(w, h->frm);
	sw_put_u8(w, h->wfi);
	sw_put_u64(w, h->icount);
	sw_put_u64(w, h->mstatus);
	sw_put_u64(w, h->misa);
	sw_put_u64(w, h->medeleg);
	sw_put_u64(w, h->mideleg);
	sw_put_u64(w, h->mie);
	sw_put_u64(w, h->mip);
	sw_put_u64(w, h->mip_hw);
	sw_put_u64(w, h->mtvec);
	sw_put_u64(w, h->mepc);
	sw_put_u64(w, h->mcause);
	sw_put_u64(w, h->mtval);
	sw_put_u64(w, h->mscratch);
	sw_put_u64(w, h->stvec);
	sw_put_u64(w, h->sepc);
	sw_put_u64(w, h->scause);
	sw_put_u64(w, h->stval);
	sw_put_u64(w, h->sscratch);
	sw_put_u64(w, h->satp);
	sw_put_u32(w, h->mcounteren);
	sw_put_u32(w, h->scounteren);
	sw_put_u32(w, h->mcountinhibit);
	sw_put_u64(w, h->menvcfg);
	sw_put_u64(w, h->senvcfg);
	sw_put_u64(w, h->mhartid);
	sw_put_u64(w, h->stimecmp);
	sw_put_u64(w, (uint64_t)h->mcycle_offset);
	sw_put_u64(w, (uint64_t)h->minstret_offset);
	sw_put_bytes(w, h->pmpcfg, PMP_ENTRIES);
	for (int i = 0; i < PMP_ENTRIES; i++)
		sw_put_u64(w, h->pmpaddr[i]);
	sw_put_u64(w, h->reservation);
}

static void get_fields(struct hart *h, struct state_reader *r)
{
	for (int i = 0; i < 32; i++)
		h->x[i] = sr_u64(r);
	for (int i = 0; i < 32; i++)
		h->f[i] = sr_u64(r);
	h->pc = sr_u64(r);
	h->priv = sr_u8(r);
	h->fflags = sr_u8(r);
	h->frm = sr_u8(r);
	h->wfi = sr_bool(r);
	h->icount = sr_u64(r);
	h->mstatus = sr_u64(r);
	h->misa = sr_u64(r);
	h->medeleg = sr_u64(r);
	h->mideleg = sr_u64(r);
	h->mie = sr_u64(r);
	h->mip = sr_u64(r);
	h->mip_hw = sr_u64(r);
	h->mtvec = sr_u64(r);
	h->mepc = sr_u64(r);
	h->mcause = sr_u64(r);
	h->mtval = sr_u64(r);
	h->mscratch = sr_u64(r);
	h->stvec = sr_u64(r);
	h->sepc = sr_u64(r);
	h->scause = sr_u64(r);
	h->stval = sr_u64(r);
	h->sscratch = sr_u64(r);
	h->satp = sr_u64(r);
	h->mcounteren = sr_u32(r);
	h->scounteren = sr_u32(r);
	h->mcountinhibit = sr_u32(r);
	h->menvcfg = sr_u64(r);
	h->senvcfg = sr_u64(r);
	h->mhartid = sr_u64(r);
	h->stimecmp = sr_u64(r);
	h->mcycle_offset = (int64_t)sr_u64(r);
	h->minstret_offset = (int64_t)sr_u64(r);
	sr_bytes(r, h->pmpcfg, PMP_ENTRIES);
	for (int i = 0; i < PMP_ENTRIES; i++)
		h->pmpaddr[i] = sr_u64(r);
	h->reservation = sr_u64(r);
}

int hart_load(struct hart *h, struct state_reader *r)
{
	get_fields(h, r);
	if (sr_failed(r))
		return -1;
	/* Values the interpreter assumes can never occur. */
	if (h->priv != PRIV_U && h->priv != PRIV_S && h->priv != PRIV_M)
		return sr_fail(r, "CPU: invalid privilege level %u", h->priv);
	if (h->fflags > 0x1f || h->frm > 7)
		return sr_fail(r, "CPU: invalid fflags/frm");
	unsigned mode = (unsigned)(h->satp >> 60);
	if (mode != 0 && mode != 8 && mode != 9)
		return sr_fail(r, "CPU: invalid satp 0x%llx", (unsigned long long)h->satp);
	/* Caches and derived state: rebuilt from what was restored, never
	 * saved. */
	h->slice_end = false;
	pmp_update(h);
	hart_flush_tlb(h);
	hart_switch_space(h); /* which also re-derives the TLB pointers */
	return 0;
}
