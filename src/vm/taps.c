/* Taps: event observers, stop points, trap observers, registers and
 * writes through the machine.  See taps.h and docs/taps.md.  The memory
 * view's reads are in memview.c, dirty pages in taps_dirty.c and memory
 * effects in taps_effect.c. */
#include "vm/taps.h"

#include <errno.h>
#include <string.h>

#include "dev/disk_image.h"
#include "vm/machine.h"

uint64_t taps_icount(const struct machine *m)
{
	return m->hart.icount;
}

uint64_t taps_mtime(const struct machine *m)
{
	return hart_mtime(&m->hart);
}

uint64_t taps_now_ns(const struct machine *m)
{
	return machine_now_ns(m);
}

uint64_t taps_rtc_epoch_ns(const struct machine *m)
{
	return m->events.rtc_epoch_ns;
}

void taps_request_exit(struct machine *m, int code)
{
	m->exited = true;
	m->exit_code = code;
	m->hart.slice_end = true;
}

void taps_reset(struct machine *m)
{
	taps_taint_disable(m);
	taps_effect_stop(m);
	memset(&m->taps, 0, sizeof(m->taps));
	events_unobserve_all(&m->events);
	m->hart.trap_hook = NULL;
	m->blk.on_write = NULL;
	taps_dirty_disable(m);
}

/* ---- event observers ---- */

int taps_event_subscribe(struct machine *m, tap_event_fn fn, void *opaque)
{
	return events_observe(&m->events, fn, opaque);
}

void taps_event_unsubscribe(struct machine *m, int id)
{
	events_unobserve(&m->events, id);
}

void taps_event_clear(struct machine *m)
{
	events_unobserve_all(&m->events);
}

void taps_set_entropy_source(struct machine *m, int (*fn)(void *opaque, void *buf, size_t len),
			     void *opaque)
{
	m->events.replay_entropy = fn;
	m->events.replay_opaque = opaque;
}

/* ---- stop points ---- */

int taps_stop_at(struct machine *m, uint64_t icount, tap_stop_fn fn, void *opaque)
{
	struct taps_state *t = &m->taps;
	if (t->nstops >= TAPS_MAX_STOPS)
		return -1;
	unsigned i = t->nstops;
	while (i > 0 && t->stops[i - 1].icount > icount) {
		t->stops[i] = t->stops[i - 1];
		i--;
	}
	t->stops[i] = (struct tap_stop_point){icount, fn, opaque};
	t->nstops++;
	return 0;
}

void taps_stop_cancel(struct machine *m, void *opaque)
{
	struct taps_state *t = &m->taps;
	unsigned kept = 0;
	for (unsigned i = 0; i < t->nstops; i++)
		if (t->stops[i].opaque != opaque)
			t->stops[kept++] = t->stops[i];
	t->nstops = kept;
}

uint64_t taps_next_stop(const struct machine *m)
{
	return m->taps.nstops ? m->taps.stops[0].icount : UINT64_MAX;
}

bool taps_fire_stops(struct machine *m)
{
	struct taps_state *t = &m->taps;
	uint64_t now = m->hart.icount;
	/* Take the due points out first: a callback may add points, and one
	 * it adds at or before now fires on the next pass, not in this one. */
	struct tap_stop_point due[TAPS_MAX_STOPS];
	unsigned n = 0;
	while (n < t->nstops && t->stops[n].icount <= now)
		n++;
	memcpy(due, t->stops, n * sizeof(due[0]));
	memmove(t->stops, t->stops + n, (t->nstops - n) * sizeof(t->stops[0]));
	t->nstops -= n;
	bool stop = false;
	for (unsigned i = 0; i < n; i++)
		if (!due[i].fn || due[i].fn(due[i].opaque, m, now))
			stop = true;
	return stop;
}

/* ---- trap observers ---- */

static unsigned pending_bucket(uint64_t satp, uint64_t sp, uint64_t ret_pc)
{
	uint64_t h = (satp ^ sp ^ ret_pc * 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull;
	return (unsigned)(h >> 58); /* 0..63: TAPS_PENDING_SYSCALLS buckets */
}

static struct tap_pending_syscall *find_pending(struct taps_state *t, uint64_t satp, uint64_t sp,
						uint64_t ret_pc)
{
	for (uint64_t in = t->pending_in[pending_bucket(satp, sp, ret_pc)]; in; in &= in - 1) {
		struct tap_pending_syscall *p = &t->pending[__builtin_ctzll(in)];
		if (p->satp == satp && p->sp == sp && p->ret_pc == ret_pc)
			return p;
	}
	return NULL;
}

static void pending_drop(struct taps_state *t, struct tap_pending_syscall *p)
{
	unsigned i = (unsigned)(p - t->pending);
	if (!(t->pending_used & 1ull << i))
		return;
	t->pending_used &= ~(1ull << i);
	t->pending_in[pending_bucket(p->satp, p->sp, p->ret_pc)] &= ~(1ull << i);
}

/* Calls of Linux's RISC-V ABI (asm-generic/unistd.h) that never come
 * back to the instruction after their ecall: exit and exit_group end the
 * thread, rt_sigreturn resumes the interrupted context.  Remembering them
 * would only fill the table with entries no return ever takes away. */
static bool never_returns(uint64_t nr)
{
	return nr == 93 || nr == 94 || nr == 139; /* exit, exit_group, rt_sigreturn */
}

/* The slot to overwrite when every slot is used.  A successful execve
 * returns into a new image (a new satp) that no entry matches, while a
 * failed one returns at once: an execve still pending is almost surely
 * stale, so it goes before anything else.  Otherwise slots go round, so
 * a call blocked for long (a server's accept) outlives at least 63 other
 * stale entries. */
static struct tap_pending_syscall *pending_victim(struct taps_state *t)
{
	for (uint64_t u = t->pending_used; u; u &= u - 1) {
		struct tap_pending_syscall *p = &t->pending[__builtin_ctzll(u)];
		if (p->nr == 221 || p->nr == 281) /* execve, execveat */
			return p;
	}
	struct tap_pending_syscall *p = &t->pending[t->pending_next];
	t->pending_next = (t->pending_next + 1) % TAPS_PENDING_SYSCALLS;
	return p;
}

/* A syscall entered: remember it until its return.  A thread has one
 * syscall at a time, so an older entry with the same name is stale (its
 * return was never seen: a successful execve) and is replaced; when
 * every slot is used, pending_victim chooses. */
static void note_syscall(struct taps_state *t, const struct tap_trap *tr, uint64_t sp)
{
	_Static_assert(TAPS_PENDING_SYSCALLS == 64, "one bit per slot in a uint64_t");
	if (never_returns(tr->nr))
		return;
	struct tap_pending_syscall *p = find_pending(t, tr->satp, sp, tr->pc + 4);
	if (!p && ~t->pending_used)
		p = &t->pending[__builtin_ctzll(~t->pending_used)];
	if (!p)
		p = pending_victim(t);
	pending_drop(t, p);
	*p = (struct tap_pending_syscall){tr->satp, sp, tr->pc + 4, tr->nr, {0}};
	memcpy(p->args, tr->args, sizeof(p->args));
	unsigned i = (unsigned)(p - t->pending);
	t->pending_used |= 1ull << i;
	t->pending_in[pending_bucket(p->satp, p->sp, p->ret_pc)] |= 1ull << i;
}

static void on_hart_trap(void *opaque, const struct hart *h, uint64_t cause, uint64_t tval,
			 bool interrupt, unsigned from_priv)
{
	struct machine *m = opaque;
	struct taps_state *t = &m->taps;
	bool to_s = h->priv == PRIV_S;
	struct tap_trap tr = {
		.icount = h->icount,
		.cause = cause,
		.interrupt = interrupt,
		.from_priv = (uint8_t)from_priv,
		.to_priv = h->priv,
		.pc = to_s ? h->sepc : h->mepc,
		.tval = tval,
		.satp = h->satp,
	};
	if (!interrupt && cause == EXC_ECALL_U) {
		tr.syscall = true;
		tr.nr = h->x[17];
		memcpy(tr.args, &h->x[10], sizeof(tr.args));
		note_syscall(t, &tr, h->x[2]);
	}
	for (unsigned i = 0; i < t->ntraps; i++)
		if (t->traps[i].ops && t->traps[i].ops->trap)
			t->traps[i].ops->trap(t->traps[i].opaque, &tr);
}

static void on_hart_xret(void *opaque, const struct hart *h, unsigned from_priv)
{
	struct machine *m = opaque;
	struct taps_state *t = &m->taps;
	struct tap_trap_return r = {
		.icount = h->icount,
		.from_priv = (uint8_t)from_priv,
		.to_priv = h->priv,
		.pc = h->pc,
		.satp = h->satp,
	};
	if (h->priv == PRIV_U) {
		struct tap_pending_syscall *p = find_pending(t, h->satp, h->x[2], h->pc);
		if (p) {
			r.syscall = true;
			r.nr = p->nr;
			memcpy(r.args, p->args, sizeof(r.args));
			r.ret = h->x[10];
			pending_drop(t, p);
		}
	}
	for (unsigned i = 0; i < t->ntraps; i++)
		if (t->traps[i].ops && t->traps[i].ops->trap_return)
			t->traps[i].ops->trap_return(t->traps[i].opaque, &r);
}

int taps_trap_subscribe(struct machine *m, const struct tap_trap_ops *ops, void *opaque)
{
	struct taps_state *t = &m->taps;
	unsigned slot = t->ntraps;
	while (slot > 0 && !t->traps[slot - 1].ops)
		slot--;
	if (slot >= TAPS_MAX_SUBSCRIBERS || !ops)
		return -1;
	t->traps[slot].ops = ops;
	t->traps[slot].opaque = opaque;
	t->ntraps = slot + 1;
	t->hook = (struct hart_trap_hook){on_hart_trap, on_hart_xret, m};
	m->hart.trap_hook = &t->hook;
	return (int)slot;
}

void taps_trap_unsubscribe(struct machine *m, int id)
{
	struct taps_state *t = &m->taps;
	if (id < 0 || (unsigned)id >= t->ntraps)
		return;
	t->traps[id].ops = NULL;
	t->traps[id].opaque = NULL;
	while (t->ntraps > 0 && !t->traps[t->ntraps - 1].ops)
		t->ntraps--;
	if (!t->ntraps) {
		/* No one listens: the hart pays nothing for traps again. */
		m->hart.trap_hook = NULL;
		memset(t->pending, 0, sizeof(t->pending));
		t->pending_used = 0;
		memset(t->pending_in, 0, sizeof(t->pending_in));
	}
}

/* ---- the memory view, writes ---- */

void taps_memview(const struct machine *m, struct memview *mv)
{
	/* A view is of all of RAM: during post-copy, the missing pages come
	 * first.  That changes nothing the guest can see (taps.h, 5b), which
	 * is why a const machine may do it. */
	if (m->postcopy.missing)
		taps_postcopy_complete((struct machine *)m);
	mv->ram = m->ram;
	mv->base = m->ram_base;
	mv->size = m->ram_size;
	bool has_rom = m->cfg.board == BOARD_VIRT;
	mv->rom = has_rom ? m->rom : NULL;
	mv->rom_base = has_rom ? VIRT_MROM_BASE : 0;
	mv->rom_size = has_rom ? VIRT_MROM_SIZE : 0;
}

uint64_t taps_current_satp(const struct machine *m)
{
	return m->hart.priv == PRIV_M ? 0 : m->hart.satp;
}

uint64_t taps_sscratch(const struct machine *m)
{
	return m->hart.sscratch;
}

int taps_write_phys(struct machine *m, uint64_t pa, const void *buf, size_t len)
{
	if (len == 0)
		return MV_OK;
	if (pa < m->ram_base || pa - m->ram_base >= m->ram_size ||
	    len > m->ram_size - (pa - m->ram_base))
		return MV_NOT_RAM; /* writes reach RAM only, never the ROM */
	/* bus_ram_ptr for writing is the write: decoded blocks of the pages
	 * go stale and dirty tracking sees them. */
	uint8_t *host = bus_ram_ptr(&m->bus, pa, len, true);
	if (!host)
		return MV_NOT_RAM;
	m->ram_is_boot_image = false;
	memcpy(host, buf, len);
	return MV_OK;
}

struct write_ctx {
	struct machine *m;
	const uint8_t *buf;
};

static int write_piece(void *ctx, uint64_t pa, size_t offset, size_t n)
{
	struct write_ctx *w = ctx;
	return taps_write_phys(w->m, pa, w->buf + offset, n);
}

size_t taps_write_virt(struct machine *m, uint64_t satp, uint64_t va, const void *buf,
		       size_t len)
{
	struct memview mv;
	taps_memview(m, &mv);
	struct write_ctx w = {m, buf};
	return memview_each_piece(&mv, satp, va, len, write_piece, &w);
}

/* ---- registers ---- */

void taps_regs(const struct machine *m, struct tap_regs *r)
{
	const struct hart *h = &m->hart;
	memset(r, 0, sizeof(*r));
	r->pc = h->pc;
	memcpy(r->x, h->x, sizeof(r->x));
	r->x[0] = 0;
	memcpy(r->f, h->f, sizeof(r->f));
	r->priv = h->priv;
	r->fflags = h->fflags;
	r->frm = h->frm;
	r->satp = h->satp;
	r->mstatus = h->mstatus;
	uint64_t sstatus = 0;
	csr_read_debug((struct hart *)h, 0x100, &sstatus);
	r->sstatus = sstatus;
	r->sepc = h->sepc;
	r->scause = h->scause;
	r->stval = h->stval;
	r->stvec = h->stvec;
	r->sscratch = h->sscratch;
	r->mepc = h->mepc;
	r->mcause = h->mcause;
	r->mtval = h->mtval;
	r->mtvec = h->mtvec;
	r->icount = h->icount;
	r->wfi = h->wfi;
}

int taps_set_pc(struct machine *m, uint64_t pc)
{
	m->hart.pc = pc;
	return 0;
}

int taps_set_xreg(struct machine *m, unsigned n, uint64_t val)
{
	if (n >= 32)
		return -1;
	if (n)
		m->hart.x[n] = val;
	return 0;
}

int taps_set_freg(struct machine *m, unsigned n, uint64_t val)
{
	if (n >= 32)
		return -1;
	m->hart.f[n] = val;
	return 0;
}

int taps_set_priv(struct machine *m, unsigned priv)
{
	if (priv != PRIV_U && priv != PRIV_S && priv != PRIV_M)
		return -1;
	m->hart.priv = (uint8_t)priv;
	hart_update_mode(&m->hart);
	return 0;
}

int taps_set_fcsr(struct machine *m, unsigned fflags, unsigned frm)
{
	if (fflags > 0x1f || frm > 7)
		return -1;
	m->hart.fflags = (uint8_t)fflags;
	m->hart.frm = (uint8_t)frm;
	return 0;
}

int taps_csr_read(struct machine *m, unsigned csr, uint64_t *val)
{
	return csr_read_debug(&m->hart, csr, val);
}

int taps_csr_write(struct machine *m, unsigned csr, uint64_t val)
{
	return csr_write_debug(&m->hart, csr, val);
}

/* ---- the disk ---- */

void taps_disk_identity(const struct machine *m, struct disk_identity *id)
{
	if (m->has_blk)
		disk_image_identity(m->blk.disk, id);
	else
		memset(id, 0, sizeof(*id));
}

int taps_disk_write(struct machine *m, uint64_t off, const void *buf, size_t len)
{
	if (!m->has_blk) {
		errno = ENODEV;
		return -1;
	}
	return disk_image_write(m->blk.disk, off, buf, len);
}

int taps_disk_read(struct machine *m, uint64_t off, void *buf, size_t len)
{
	if (!m->has_blk) {
		errno = ENODEV;
		return -1;
	}
	return disk_image_read(m->blk.disk, off, buf, len);
}

uint64_t taps_disk_size(const struct machine *m)
{
	return m->has_blk ? disk_image_size(m->blk.disk) : 0;
}

static void on_disk_write(void *opaque, uint64_t off, uint64_t len)
{
	struct machine *m = opaque;
	struct taps_state *t = &m->taps;
	for (unsigned i = 0; i < t->ndisk; i++)
		if (t->disk[i].fn)
			t->disk[i].fn(t->disk[i].opaque, m->hart.icount, off, len);
}

int taps_disk_subscribe(struct machine *m, tap_disk_write_fn fn, void *opaque)
{
	struct taps_state *t = &m->taps;
	unsigned slot = t->ndisk;
	while (slot > 0 && !t->disk[slot - 1].fn)
		slot--;
	if (slot >= TAPS_MAX_SUBSCRIBERS || !fn)
		return -1;
	t->disk[slot].fn = fn;
	t->disk[slot].opaque = opaque;
	t->ndisk = slot + 1;
	m->blk.on_write = on_disk_write;
	m->blk.on_write_opaque = m;
	return (int)slot;
}

void taps_disk_unsubscribe(struct machine *m, int id)
{
	struct taps_state *t = &m->taps;
	if (id < 0 || (unsigned)id >= t->ndisk)
		return;
	t->disk[id].fn = NULL;
	t->disk[id].opaque = NULL;
	while (t->ndisk > 0 && !t->disk[t->ndisk - 1].fn)
		t->ndisk--;
	if (!t->ndisk)
		m->blk.on_write = NULL;
}
