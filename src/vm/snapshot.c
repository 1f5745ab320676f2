/* Save and restore a whole machine in the sectioned format of
 * docs/snapshot-format.md.  Each section has one encoder and one decoder,
 * written field by field in the same order; the document lists the same
 * fields, so change all three together and bump the section's version. */
#include "vm/snapshot.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sodium.h>
#include <zstd.h>

#include "cpu/mmu.h"
#include "dev/disk_image.h"
#include "vm/machine.h"
#include "vm/ram_page.h"

#define PAGE_SIZE RAM_PAGE_SIZE
#define ZSTD_LEVEL 1 /* speed over ratio: snapshots are taken on the hot path of clone/migrate */

#define TAG_CONF STATE_TAG('C', 'O', 'N', 'F')
#define TAG_MACH STATE_TAG('M', 'A', 'C', 'H')
#define TAG_CPU STATE_TAG('C', 'P', 'U', ' ')
#define TAG_CLOCK STATE_TAG('C', 'L', 'K', ' ')
#define TAG_CLINT STATE_TAG('C', 'L', 'N', 'T')
#define TAG_PLIC STATE_TAG('P', 'L', 'I', 'C')
#define TAG_UART STATE_TAG('U', 'A', 'R', 'T')
#define TAG_SYSCON STATE_TAG('S', 'Y', 'S', 'C')
#define TAG_MROM STATE_TAG('M', 'R', 'O', 'M')
#define TAG_RTC STATE_TAG('R', 'T', 'C', ' ')
#define TAG_HTIF STATE_TAG('H', 'T', 'I', 'F')
#define TAG_EVENTS STATE_TAG('E', 'V', 'N', 'T')
#define TAG_DISK STATE_TAG('D', 'I', 'S', 'K')
#define TAG_RAM STATE_TAG('R', 'A', 'M', ' ')
#define TAG_BOOT STATE_TAG('B', 'O', 'O', 'T')
#define TAG_SUM STATE_TAG('S', 'U', 'M', ' ')
#define TAG_VIRTIO(n) STATE_TAG('V', 'I', 'O', '0' + (n))

/* --- CONF: the configuration the snapshot needs ------------------------- */

static void put_conf(struct state_writer *w, const struct machine *m)
{
	sw_put_u32(w, (uint32_t)m->cfg.board);
	sw_put_u64(w, m->ram_base);
	sw_put_u64(w, m->ram_size);
	sw_put_u8(w, m->has_blk);
	sw_put_u8(w, m->has_net);
}

static const char *board_name(uint32_t board)
{
	return board == BOARD_BARE ? "bare" : board == BOARD_VIRT ? "virt" : "unknown";
}

static int get_conf(struct state_reader *r, const struct machine *m)
{
	uint32_t board = sr_u32(r);
	uint64_t ram_base = sr_u64(r), ram_size = sr_u64(r);
	bool has_blk = sr_bool(r), has_net = sr_bool(r);
	if (sr_failed(r))
		return -1;
	if (board != (uint32_t)m->cfg.board)
		return sr_fail(r, "the file is of a %s board, this machine is a %s board",
			       board_name(board), board_name((uint32_t)m->cfg.board));
	if (ram_base != m->ram_base || ram_size != m->ram_size)
		return sr_fail(r,
			       "the file has %llu MiB of RAM at 0x%llx, this machine %llu MiB at 0x%llx",
			       (unsigned long long)(ram_size >> 20), (unsigned long long)ram_base,
			       (unsigned long long)(m->ram_size >> 20),
			       (unsigned long long)m->ram_base);
	if (has_blk != m->has_blk)
		return sr_fail(r, "the file %s, this machine %s", has_blk ? "has a disk" : "has no disk",
			       m->has_blk ? "has one" : "has none");
	if (has_net != m->has_net)
		return sr_fail(r, "the file %s, this machine %s",
			       has_net ? "has a network device" : "has no network device",
			       m->has_net ? "has one" : "has none");
	return 0;
}

/* --- MACH: machine-level run state -------------------------------------- */

static void put_mach(struct state_writer *w, const struct machine *m)
{
	sw_put_u8(w, m->exited);
	sw_put_u32(w, (uint32_t)m->exit_code);
	sw_put_u32(w, m->resets);
}

static int get_mach(struct state_reader *r, struct machine *m)
{
	m->exited = sr_bool(r);
	m->exit_code = (int)sr_u32(r);
	m->resets = sr_u32(r);
	return sr_failed(r) ? -1 : 0;
}

/* --- CPU ---------------------------------------------------------------- */

static void put_cpu(struct state_writer *w, const struct hart *h)
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

static int get_cpu(struct state_reader *r, struct hart *h)
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
	if (sr_failed(r))
		return -1;
	/* Values the interpreter assumes can never occur. */
	if (h->priv != PRIV_U && h->priv != PRIV_S && h->priv != PRIV_M)
		return sr_fail(r, "CPU: invalid privilege level %u", h->priv);
	if (h->fflags > 0x1f || h->frm > 7)
		return sr_fail(r, "CPU: invalid fflags/frm");
	unsigned mode = (unsigned)(h->satp >> 60);
	if ((mode != 0 && mode != 8 && mode != 9) || (h->satp & 0x0ffff00000000000ULL))
		return sr_fail(r, "CPU: invalid satp 0x%llx", (unsigned long long)h->satp);
	return 0;
}

/* --- CLOCK, CLINT ------------------------------------------------------- */

static void put_clock(struct state_writer *w, const struct vclock *c)
{
	sw_put_u64(w, c->base);
	sw_put_u64(w, c->insns_per_tick);
}

static int get_clock(struct state_reader *r, struct vclock *c)
{
	c->base = sr_u64(r);
	c->insns_per_tick = sr_u64(r);
	if (!sr_failed(r) && c->insns_per_tick == 0)
		return sr_fail(r, "CLOCK: insns_per_tick is 0");
	return sr_failed(r) ? -1 : 0;
}

static void put_clint(struct state_writer *w, const struct clint *c)
{
	sw_put_u64(w, c->mtimecmp);
	sw_put_u32(w, c->msip);
}

static int get_clint(struct state_reader *r, struct clint *c)
{
	c->mtimecmp = sr_u64(r);
	c->msip = sr_u32(r);
	return sr_failed(r) ? -1 : 0;
}

/* --- PLIC --------------------------------------------------------------- */

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

#define PLIC_WORDS (PLIC_SOURCES / 32)

static void put_plic(struct state_writer *w, const struct plic *p)
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

static int get_plic(struct state_reader *r, struct plic *p)
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

/* --- UART: registers, then the receive FIFO in arrival order ------------ */

static void put_uart(struct state_writer *w, const struct uart16550 *u)
{
	sw_put_u8(w, u->ier);
	sw_put_u8(w, u->lcr);
	sw_put_u8(w, u->mcr);
	sw_put_u8(w, u->scr);
	sw_put_u8(w, u->dll);
	sw_put_u8(w, u->dlm);
	sw_put_u8(w, u->fcr);
	sw_put_u8(w, u->thre_pending);
	/* The ring position is an implementation detail: save the bytes in
	 * order so equal FIFO contents encode (and digest) equally. */
	sw_put_u32(w, u->rx_count);
	for (unsigned i = 0; i < u->rx_count; i++)
		sw_put_u8(w, u->rx[(u->rx_head + i) % UART_RX_FIFO]);
}

static int get_uart(struct state_reader *r, struct uart16550 *u)
{
	u->ier = sr_u8(r);
	u->lcr = sr_u8(r);
	u->mcr = sr_u8(r);
	u->scr = sr_u8(r);
	u->dll = sr_u8(r);
	u->dlm = sr_u8(r);
	u->fcr = sr_u8(r);
	u->thre_pending = sr_bool(r);
	uint32_t count = sr_u32(r);
	if (!sr_failed(r) && count > UART_RX_FIFO)
		return sr_fail(r, "UART: %u bytes in a %u-byte FIFO", count, UART_RX_FIFO);
	u->rx_head = 0;
	u->rx_count = count;
	sr_bytes(r, u->rx, count);
	return sr_failed(r) ? -1 : 0;
}

/* --- SYSCON, RTC, HTIF, EVENTS ------------------------------------------ */

static void put_syscon(struct state_writer *w, const struct syscon *s)
{
	sw_put_u32(w, (uint32_t)s->request);
	sw_put_u32(w, (uint32_t)s->exit_code);
}

static int get_syscon(struct state_reader *r, struct syscon *s)
{
	uint32_t req = sr_u32(r);
	s->exit_code = (int)sr_u32(r);
	if (!sr_failed(r) && req > SYSCON_RESET)
		return sr_fail(r, "SYSCON: invalid request %u", req);
	s->request = (enum syscon_request)req;
	return sr_failed(r) ? -1 : 0;
}

static void put_rtc(struct state_writer *w, const struct rtc_goldfish *t)
{
	sw_put_u64(w, (uint64_t)t->offset_ns);
	sw_put_u32(w, t->time_high_latch);
	sw_put_u64(w, t->alarm_ns);
	sw_put_u32(w, t->irq_enabled);
}

static int get_rtc(struct state_reader *r, struct rtc_goldfish *t)
{
	t->offset_ns = (int64_t)sr_u64(r);
	t->time_high_latch = sr_u32(r);
	t->alarm_ns = sr_u64(r);
	t->irq_enabled = sr_u32(r);
	return sr_failed(r) ? -1 : 0;
}

static void put_htif(struct state_writer *w, const struct htif *h)
{
	sw_put_u64(w, h->tohost);
	sw_put_u64(w, h->fromhost);
	sw_put_u8(w, h->exited);
	sw_put_u32(w, (uint32_t)h->exit_code);
}

static int get_htif(struct state_reader *r, struct machine *m)
{
	uint64_t tohost = sr_u64(r), fromhost = sr_u64(r);
	bool exited = sr_bool(r);
	int exit_code = (int)sr_u32(r);
	if (sr_failed(r))
		return -1;
	/* machine_set_htif also re-arms the watch on the tohost page. */
	machine_set_htif(m, tohost, fromhost);
	m->htif.exited = exited;
	m->htif.exit_code = exit_code;
	return 0;
}

static void put_events(struct state_writer *w, const struct event_boundary *e)
{
	sw_put_u8(w, e->seeded);
	sw_put_u64(w, e->seed);
	sw_put_u64(w, e->stream_pos);
	sw_put_u64(w, e->rtc_epoch_ns);
}

static int get_events(struct state_reader *r, struct event_boundary *e)
{
	e->seeded = sr_bool(r);
	e->seed = sr_u64(r);
	e->stream_pos = sr_u64(r);
	e->rtc_epoch_ns = sr_u64(r);
	return sr_failed(r) ? -1 : 0;
}

/* --- VIRTIO: one section per slot --------------------------------------- */

/* The transport in slot n, as machine.c wires it. */
static struct virtio_mmio *virtio_slot(struct machine *m, unsigned n)
{
	switch (n) {
	case 0: return m->has_blk ? &m->blk.vmio : &m->empty_slots[0];
	case 1: return m->has_net ? &m->net.vmio : &m->empty_slots[1];
	case 2: return &m->rng.vmio;
	case 3: return &m->vcon.vmio;
	default: return &m->empty_slots[n];
	}
}

static void put_virtq(struct state_writer *w, const struct virtq *q)
{
	sw_put_u16(w, q->num_max);
	sw_put_u16(w, q->num);
	sw_put_u8(w, q->ready);
	sw_put_u64(w, q->desc);
	sw_put_u64(w, q->avail);
	sw_put_u64(w, q->used);
	sw_put_u16(w, q->last_avail);
	sw_put_u16(w, q->used_idx);
}

static int get_virtq(struct state_reader *r, struct virtq *q, const struct bus *bus)
{
	uint16_t num_max = sr_u16(r);
	if (!sr_failed(r) && num_max != q->num_max)
		return sr_fail(r, "VIRTIO: queue size limit %u, this device offers %u", num_max,
			       q->num_max);
	q->num = sr_u16(r);
	q->ready = sr_bool(r);
	q->desc = sr_u64(r);
	q->avail = sr_u64(r);
	q->used = sr_u64(r);
	q->last_avail = sr_u16(r);
	q->used_idx = sr_u16(r);
	if (sr_failed(r))
		return -1;
	/* The same check QueueReady makes: a ready queue's rings are sane. */
	const char *why = q->ready ? virtq_check_layout(bus, q) : NULL;
	if (why)
		return sr_fail(r, "VIRTIO: ready queue with a bad layout: %s", why);
	return 0;
}

static void put_virtio(struct state_writer *w, struct machine *m, unsigned n)
{
	const struct virtio_mmio *t = virtio_slot(m, n);
	sw_put_u32(w, t->d.device_id);
	sw_put_u64(w, t->driver_features);
	sw_put_u32(w, t->device_features_sel);
	sw_put_u32(w, t->driver_features_sel);
	sw_put_u32(w, t->queue_sel);
	sw_put_u32(w, t->status);
	sw_put_u32(w, t->interrupt_status);
	sw_put_u32(w, t->config_generation);
	sw_put_u32(w, VIRTIO_MAX_QUEUES);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		put_virtq(w, &t->queues[i]);
	/* Device-specific state.  The host side (image fd, slirp) is not
	 * guest state and is not saved. */
	if (t->d.device_id == VIRTIO_ID_BLOCK) {
		sw_put_u8(w, m->blk.readonly);
		sw_put_u64(w, m->blk.capacity);
		sw_put_bytes(w, m->blk.config, sizeof(m->blk.config));
	} else if (t->d.device_id == VIRTIO_ID_NET) {
		sw_put_bytes(w, m->net.config, sizeof(m->net.config));
	}
}

static int get_virtio(struct state_reader *r, struct machine *m, unsigned n)
{
	struct virtio_mmio *t = virtio_slot(m, n);
	uint32_t id = sr_u32(r);
	if (!sr_failed(r) && id != t->d.device_id)
		return sr_fail(r, "VIRTIO slot %u: the file has device %u, this machine %u", n, id,
			       t->d.device_id);
	t->driver_features = sr_u64(r);
	t->device_features_sel = sr_u32(r);
	t->driver_features_sel = sr_u32(r);
	t->queue_sel = sr_u32(r);
	t->status = sr_u32(r);
	t->interrupt_status = sr_u32(r);
	t->config_generation = sr_u32(r);
	uint32_t nq = sr_u32(r);
	if (!sr_failed(r) && nq != VIRTIO_MAX_QUEUES)
		return sr_fail(r, "VIRTIO slot %u: %u queues, expected %u", n, nq, VIRTIO_MAX_QUEUES);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES && !sr_failed(r); i++)
		get_virtq(r, &t->queues[i], &m->bus);
	/* `fault` is a host-side diagnostic (a pointer to a literal). */
	t->fault = (t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) ? "needed reset at snapshot" : NULL;
	if (id == VIRTIO_ID_BLOCK) {
		bool ro = sr_bool(r);
		uint64_t capacity = sr_u64(r);
		if (!sr_failed(r) && (ro != m->blk.readonly || capacity != m->blk.capacity))
			return sr_fail(r,
				       "VIRTIO disk: the file has %llu sectors%s, this disk %llu%s",
				       (unsigned long long)capacity, ro ? " (read-only)" : "",
				       (unsigned long long)m->blk.capacity,
				       m->blk.readonly ? " (read-only)" : "");
		sr_bytes(r, m->blk.config, sizeof(m->blk.config));
	} else if (id == VIRTIO_ID_NET) {
		sr_bytes(r, m->net.config, sizeof(m->net.config));
	}
	return sr_failed(r) ? -1 : 0;
}

/* --- DISK: which disk, frozen where (not its contents) ------------------ */

static void put_string(struct state_writer *w, const char *s)
{
	sw_put_u32(w, (uint32_t)strlen(s));
	sw_put_bytes(w, s, strlen(s));
}

static void get_string(struct state_reader *r, char *out, size_t cap)
{
	uint32_t n = sr_u32(r);
	if (!sr_failed(r) && n >= cap) {
		sr_fail(r, "DISK: a %u-byte path", n);
		n = 0;
	}
	sr_bytes(r, out, n);
	out[n] = '\0';
	if (!sr_failed(r) && strlen(out) != n)
		sr_fail(r, "DISK: a path with a NUL inside");
}

/* The fields the state digest covers: the disk's identity without the
 * host paths it happens to live at. */
static void put_disk_identity(struct state_writer *w, const struct disk_identity *id)
{
	sw_put_u8(w, (uint8_t)id->kind);
	sw_put_u8(w, id->readonly);
	sw_put_u64(w, id->size);
	sw_put_bytes(w, id->base_hash, sizeof(id->base_hash));
	sw_put_u64(w, id->overlay_len);
}

static void put_disk(struct state_writer *w, const struct disk_identity *id)
{
	put_disk_identity(w, id);
	put_string(w, id->base_path);
	put_string(w, id->path);
}

static int get_disk_identity(struct state_reader *r, struct disk_identity *id)
{
	memset(id, 0, sizeof(*id));
	uint8_t kind = sr_u8(r);
	id->readonly = sr_bool(r);
	id->size = sr_u64(r);
	sr_bytes(r, id->base_hash, sizeof(id->base_hash));
	id->overlay_len = sr_u64(r);
	get_string(r, id->base_path, sizeof(id->base_path));
	get_string(r, id->path, sizeof(id->path));
	if (!sr_failed(r) && kind > DISK_OVERLAY)
		return sr_fail(r, "DISK: unknown kind %u", kind);
	id->kind = (enum disk_kind)kind;
	return sr_failed(r) ? -1 : 0;
}

static void machine_disk_identity(const struct machine *m, struct disk_identity *id)
{
	if (m->has_blk)
		disk_image_identity(m->blk.disk, id);
	else
		memset(id, 0, sizeof(*id));
}

/* The attached disk must be the one the snapshot froze.  A raw disk's
 * contents were never captured; whoever attached one took that risk
 * (keel run --trust-disk), so only its size is checked (VIO0). */
static int get_disk(struct state_reader *r, const struct machine *m)
{
	struct disk_identity want, have;
	if (get_disk_identity(r, &want))
		return -1;
	machine_disk_identity(m, &have);
	if ((want.kind == DISK_NONE) != (have.kind == DISK_NONE))
		return sr_fail(r, "DISK: the file %s, this machine %s",
			       want.kind ? "has a disk" : "has no disk", have.kind ? "has one" : "has none");
	if (want.kind != DISK_OVERLAY)
		return 0;
	if (have.kind != DISK_OVERLAY ||
	    memcmp(want.base_hash, have.base_hash, sizeof(want.base_hash)) != 0 ||
	    want.overlay_len != have.overlay_len || want.size != have.size)
		return sr_fail(r, "DISK: the attached disk is not %s as of %llu bytes (over %s)",
			       want.path, (unsigned long long)want.overlay_len, want.base_path);
	return 0;
}

void snapshot_encode_disk_identity(struct machine *m, struct state_writer *w)
{
	struct disk_identity id;
	machine_disk_identity(m, &id);
	put_disk_identity(w, &id);
}

/* --- RAM: a bitmap of non-zero pages, then those pages as one zstd frame  */

/* `checksum`: zstd's content checksum on the frame, so a flipped bit in
 * the compressed pages is caught by the decoder itself.  The boot image
 * goes without: it is hashed into state digests, which must not change
 * under recordings made before the checksum existed. */
static int put_ram(struct state_writer *w, const struct machine *m, bool checksum, char *err,
		   size_t errlen)
{
	uint64_t npages = m->ram_size / PAGE_SIZE;
	size_t bitmap_len = (size_t)((npages + 7) / 8);
	sw_put_u32(w, PAGE_SIZE);
	sw_put_u64(w, npages);
	uint8_t *bitmap = sw_reserve(w, bitmap_len);
	if (!bitmap)
		goto oom;
	memset(bitmap, 0, bitmap_len);
	uint64_t nonzero = 0;
	for (uint64_t i = 0; i < npages; i++) {
		if (!ram_page_is_zero(m->ram + i * PAGE_SIZE)) {
			bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
			nonzero++;
		}
	}
	sw_put_u64(w, nonzero);
	size_t len_at = w->len;
	sw_put_u64(w, 0); /* compressed length, patched below */

	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	if (!cctx)
		goto oom;
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, checksum);
	ZSTD_CCtx_setPledgedSrcSize(cctx, nonzero * PAGE_SIZE);
	size_t start = w->len, chunk = ZSTD_CStreamOutSize();
	int rc = 0;
	/* Re-derive the bitmap's pages (w->buf may move as it grows). */
	for (uint64_t i = 0; i <= npages && rc == 0; i++) {
		bool last = i == npages;
		if (!last && !(w->buf[len_at - bitmap_len - 8 + i / 8] & (1u << (i % 8))))
			continue;
		ZSTD_inBuffer in = {last ? NULL : m->ram + i * PAGE_SIZE, last ? 0 : PAGE_SIZE, 0};
		ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
		for (;;) {
			size_t before = w->len;
			uint8_t *out = sw_reserve(w, chunk);
			if (!out) {
				rc = -1;
				break;
			}
			ZSTD_outBuffer ob = {out, chunk, 0};
			size_t left = ZSTD_compressStream2(cctx, &ob, &in, mode);
			w->len = before + ob.pos;
			if (ZSTD_isError(left)) {
				snprintf(err, errlen, "snapshot: zstd: %s", ZSTD_getErrorName(left));
				rc = -2;
				break;
			}
			if (last ? left == 0 : in.pos == in.size)
				break;
		}
	}
	ZSTD_freeCCtx(cctx);
	if (rc == -1)
		goto oom;
	if (rc)
		return -1;
	uint64_t clen = w->len - start;
	for (int i = 0; i < 8; i++)
		w->buf[len_at + i] = (uint8_t)(clen >> (8 * i));
	return 0;
oom:
	snprintf(err, errlen, "snapshot: out of memory compressing RAM");
	return -1;
}

/* Pages [from, to) are not in the snapshot: they read as zero.  Dropping
 * them (guest RAM is anonymous memory) zeroes them without touching them;
 * reading each to see whether it is already zero would fault in, and with
 * transparent huge pages clear, memory a fresh machine never used. */
static void zero_absent(struct machine *m, uint64_t from, uint64_t to)
{
	if (to > from)
		madvise(m->ram + from * PAGE_SIZE, (to - from) * PAGE_SIZE, MADV_DONTNEED);
}

static int read_ram(struct state_reader *r, struct machine *m);

/* RAM is written directly, not through the bus, so decoded code goes
 * stale here whether the read succeeds or not. */
static int get_ram(struct state_reader *r, struct machine *m)
{
	int rc = read_ram(r, m);
	bus_ram_rewritten(&m->bus);
	return rc;
}

static int read_ram(struct state_reader *r, struct machine *m)
{
	uint32_t page = sr_u32(r);
	uint64_t npages = sr_u64(r);
	if (sr_failed(r))
		return -1;
	if (page != PAGE_SIZE || npages != m->ram_size / PAGE_SIZE)
		return sr_fail(r, "RAM: %llu pages of %u bytes, this machine has %llu of %u",
			       (unsigned long long)npages, page,
			       (unsigned long long)(m->ram_size / PAGE_SIZE), PAGE_SIZE);
	size_t bitmap_len = (size_t)((npages + 7) / 8);
	const uint8_t *bitmap = sr_take(r, bitmap_len);
	uint64_t nonzero = sr_u64(r), clen = sr_u64(r);
	if (sr_failed(r))
		return -1;
	uint64_t counted = 0;
	for (uint64_t i = 0; i < npages; i++)
		counted += (bitmap[i / 8] >> (i % 8)) & 1;
	if (counted != nonzero)
		return sr_fail(r, "RAM: bitmap marks %llu pages, header says %llu",
			       (unsigned long long)counted, (unsigned long long)nonzero);
	if (npages % 8 && bitmap[bitmap_len - 1] >> (npages % 8))
		return sr_fail(r, "RAM: bitmap marks pages past the end of RAM");
	const uint8_t *comp = sr_take(r, clen);
	if (!comp)
		return -1;

	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	if (!dctx)
		return sr_fail(r, "RAM: out of memory");
	ZSTD_inBuffer in = {comp, (size_t)clen, 0};
	int rc = 0;
	size_t ret = 1; /* zstd's "more to come" hint; 0 once the frame is complete */
	uint64_t zero_from = 0; /* the run of absent pages that ends before page i */
	for (uint64_t i = 0; i < npages && rc == 0; i++) {
		uint8_t *dst = m->ram + i * PAGE_SIZE;
		if (!((bitmap[i / 8] >> (i % 8)) & 1))
			continue;
		zero_absent(m, zero_from, i);
		zero_from = i + 1;
		ZSTD_outBuffer out = {dst, PAGE_SIZE, 0};
		while (out.pos < out.size) {
			ret = ZSTD_decompressStream(dctx, &out, &in);
			if (ZSTD_isError(ret)) {
				rc = sr_fail(r, "RAM: corrupt compressed data (%s)",
					     ZSTD_getErrorName(ret));
				break;
			}
			if (out.pos < out.size && in.pos == in.size) {
				rc = sr_fail(r, "RAM: compressed data ends early (page %llu)",
					     (unsigned long long)i);
				break;
			}
		}
	}
	if (rc == 0)
		zero_absent(m, zero_from, npages);
	if (rc == 0) {
		/* The frame must end exactly here: no trailing data and a
		 * complete frame (checksum/epilogue consumed). */
		uint8_t extra;
		ZSTD_outBuffer out = {&extra, 1, 0};
		if (ret != 0) /* the frame's end (and an empty frame) still to read */
			ret = ZSTD_decompressStream(dctx, &out, &in);
		if (ZSTD_isError(ret) || ret != 0 || out.pos != 0 || in.pos != in.size)
			rc = sr_fail(r, "RAM: compressed data longer than the pages it describes");
	}
	ZSTD_freeDCtx(dctx);
	return rc;
}

/* --- BOOT: the RAM image a reboot starts from -------------------------- */

/* The image is the RAM section's encoding of RAM as it was right after the
 * boot files were loaded: compressed once, kept in memory, copied into
 * every snapshot as it is. */
int snapshot_capture_boot_image(struct machine *m, char *err, size_t errlen)
{
	struct state_writer w;
	sw_init(&w);
	if (put_ram(&w, m, false, err, errlen) || w.oom) {
		if (w.oom)
			snprintf(err, errlen, "boot image: out of memory");
		sw_free(&w);
		return -1;
	}
	free(m->boot_image);
	m->boot_image = w.buf;
	m->boot_image_len = w.len;
	return 0;
}

int snapshot_restore_boot_image(struct machine *m, char *err, size_t errlen)
{
	struct state_reader r;
	sr_init(&r, m->boot_image, m->boot_image_len);
	if (get_ram(&r, m) == 0 && sr_remaining(&r) == 0)
		return 0;
	snprintf(err, errlen, "boot image: %s", sr_failed(&r) ? r.err : "trailing bytes");
	return -1;
}

static void put_boot(struct state_writer *w, const struct machine *m)
{
	sw_put_u64(w, m->boot_image_len);
	sw_put_bytes(w, m->boot_image, m->boot_image_len);
}

/* Only the length is checked here: checking the image in full would take
 * a dry decode into a RAM-sized scratch buffer.  A corrupt image is
 * reported (and the machine stops) when the guest reboots. */
static int get_boot(struct state_reader *r, struct machine *m)
{
	uint64_t len = sr_u64(r);
	if (sr_failed(r))
		return -1;
	if (len > sr_remaining(r))
		return sr_fail(r, "BOOT: image of %llu bytes, section has %zu",
			       (unsigned long long)len, sr_remaining(r));
	uint8_t *copy = len ? malloc((size_t)len) : NULL;
	if (len && !copy)
		return sr_fail(r, "BOOT: out of memory");
	if (len)
		sr_bytes(r, copy, (size_t)len);
	free(m->boot_image);
	m->boot_image = copy;
	m->boot_image_len = (size_t)len;
	return 0;
}

/* --- The whole machine -------------------------------------------------- */

#define SECTION_VERSION 1u /* every section is at version 1 so far */

void snapshot_encode_state(struct machine *m, struct state_writer *w)
{
	bool virt = m->cfg.board == BOARD_VIRT;
#define SECTION(tag, put)                                     \
	do {                                                  \
		sw_begin_section(w, tag, SECTION_VERSION, 0); \
		put;                                          \
		sw_end_section(w);                            \
	} while (0)
	SECTION(TAG_CONF, put_conf(w, m));
	SECTION(TAG_MACH, put_mach(w, m));
	SECTION(TAG_CPU, put_cpu(w, &m->hart));
	SECTION(TAG_CLOCK, put_clock(w, &m->clock));
	SECTION(TAG_CLINT, put_clint(w, &m->clint));
	SECTION(TAG_HTIF, put_htif(w, &m->htif));
	SECTION(TAG_EVENTS, put_events(w, &m->events));
	if (virt) {
		SECTION(TAG_PLIC, put_plic(w, &m->plic));
		SECTION(TAG_UART, put_uart(w, &m->uart));
		SECTION(TAG_SYSCON, put_syscon(w, &m->syscon));
		SECTION(TAG_RTC, put_rtc(w, &m->rtc));
		/* The reset ROM holds the boot addresses; a guest that reboots
		 * after a restore runs it again. */
		SECTION(TAG_MROM, sw_put_bytes(w, m->rom, sizeof(m->rom)));
		/* What a reboot loads into RAM: part of the machine, so a
		 * restored or replayed VM reboots without the original files. */
		SECTION(TAG_BOOT, put_boot(w, m));
		for (unsigned n = 0; n < VIRT_VIRTIO_SLOTS; n++)
			SECTION(TAG_VIRTIO(n), put_virtio(w, m, n));
	}
#undef SECTION
}

/* Write out what is buffered, hashing it on the way. */
static int sum_flush(struct state_writer *w, crypto_generichash_state *sum, FILE *out, char *err,
		     size_t errlen)
{
	if (!w->oom)
		crypto_generichash_update(sum, w->buf, w->len);
	return sw_flush(w, out, err, errlen);
}

int snapshot_save(struct machine *m, FILE *out, char *err, size_t errlen)
{
	/* The overlay's length is the disk's state: flush it first, so the
	 * prefix the snapshot names is on stable storage before the
	 * snapshot is. */
	struct disk_identity disk;
	memset(&disk, 0, sizeof(disk));
	char why[PATH_MAX + 128];
	if (m->has_blk && disk_image_freeze(m->blk.disk, &disk, why, sizeof(why))) {
		snprintf(err, errlen, "snapshot: disk %s", why);
		return -1;
	}
	struct state_writer w;
	crypto_generichash_state sum;
	crypto_generichash_init(&sum, NULL, 0, SNAPSHOT_SUM_BYTES);
	sw_init(&w);
	sw_file_header(&w, SNAPSHOT_FORMAT_VERSION, SNAPSHOT_FLAG_SUM);
	snapshot_encode_state(m, &w);
	sw_begin_section(&w, TAG_DISK, SECTION_VERSION, 0);
	put_disk(&w, &disk);
	sw_end_section(&w);
	int rc = sum_flush(&w, &sum, out, err, errlen);
	if (rc == 0) {
		sw_begin_section(&w, TAG_RAM, SECTION_VERSION, 0);
		rc = put_ram(&w, m, true, err, errlen);
		sw_end_section(&w);
	}
	if (rc == 0)
		rc = sum_flush(&w, &sum, out, err, errlen);
	if (rc == 0) {
		/* Last: the hash of every byte before this section. */
		uint8_t digest[SNAPSHOT_SUM_BYTES];
		crypto_generichash_final(&sum, digest, sizeof(digest));
		sw_begin_section(&w, TAG_SUM, SECTION_VERSION, 0);
		sw_put_bytes(&w, digest, sizeof(digest));
		sw_end_section(&w);
		rc = sw_flush(&w, out, err, errlen);
	}
	if (rc == 0 && fflush(out)) {
		snprintf(err, errlen, "snapshot: write failed");
		rc = -1;
	}
	sw_free(&w);
	return rc;
}

int snapshot_save_file(struct machine *m, const char *path, char *err, size_t errlen)
{
	char tmp[PATH_MAX], why[512] = "";
	if (!*path || (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "'%.64s': %s", path, *path ? "path too long" : "empty path");
		return -1;
	}
	FILE *out = fopen(tmp, "wb");
	if (!out) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	int rc = snapshot_save(m, out, why, sizeof(why));
	if (fclose(out) != 0 && rc == 0) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		rc = -1;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		rc = -1;
	}
	if (rc != 0) {
		unlink(tmp);
		snprintf(err, errlen, "%s: %s", path, why);
	}
	return rc;
}

/* What the loader knows: which sections, and whether this board needs
 * them. */
enum { SEC_CONF, SEC_MACH, SEC_CPU, SEC_CLOCK, SEC_CLINT, SEC_HTIF, SEC_EVENTS, SEC_PLIC,
       SEC_UART, SEC_SYSCON, SEC_RTC, SEC_MROM, SEC_BOOT, SEC_VIRTIO0,
       SEC_DISK = SEC_VIRTIO0 + VIRT_VIRTIO_SLOTS, SEC_RAM, SEC_COUNT };

static uint32_t section_tag(int i)
{
	static const uint32_t tags[] = {
		[SEC_CONF] = TAG_CONF, [SEC_MACH] = TAG_MACH, [SEC_CPU] = TAG_CPU,
		[SEC_CLOCK] = TAG_CLOCK, [SEC_CLINT] = TAG_CLINT, [SEC_HTIF] = TAG_HTIF,
		[SEC_EVENTS] = TAG_EVENTS, [SEC_PLIC] = TAG_PLIC, [SEC_UART] = TAG_UART,
		[SEC_SYSCON] = TAG_SYSCON, [SEC_RTC] = TAG_RTC, [SEC_MROM] = TAG_MROM,
		[SEC_BOOT] = TAG_BOOT, [SEC_DISK] = TAG_DISK, [SEC_RAM] = TAG_RAM,
	};
	return (i >= SEC_VIRTIO0 && i < SEC_DISK) ? TAG_VIRTIO(i - SEC_VIRTIO0) : tags[i];
}

static int section_index(uint32_t tag)
{
	for (int i = 0; i < SEC_COUNT; i++)
		if (section_tag(i) == tag)
			return i;
	return -1;
}

static bool section_needed(const struct machine *m, int i)
{
	return m->cfg.board == BOARD_VIRT || i < SEC_PLIC || i >= SEC_DISK;
}

static int decode_section(struct machine *m, int i, struct state_reader *r)
{
	switch (i) {
	case SEC_MACH: return get_mach(r, m);
	case SEC_CPU: return get_cpu(r, &m->hart);
	case SEC_CLOCK: return get_clock(r, &m->clock);
	case SEC_CLINT: return get_clint(r, &m->clint);
	case SEC_HTIF: return get_htif(r, m);
	case SEC_EVENTS: return get_events(r, &m->events);
	case SEC_PLIC: return get_plic(r, &m->plic);
	case SEC_UART: return get_uart(r, &m->uart);
	case SEC_SYSCON: return get_syscon(r, &m->syscon);
	case SEC_RTC: return get_rtc(r, &m->rtc);
	case SEC_MROM: return sr_bytes(r, m->rom, sizeof(m->rom));
	case SEC_BOOT: return get_boot(r, m);
	case SEC_DISK: return get_disk(r, m);
	case SEC_RAM: return get_ram(r, m);
	default: return get_virtio(r, m, (unsigned)(i - SEC_VIRTIO0));
	}
}

/* Caches and derived state: rebuilt from what was restored, never saved. */
static void rebuild_derived(struct machine *m)
{
	struct hart *h = &m->hart;
	h->slice_end = false;
	pmp_update(h);
	hart_update_mode(h);
	hart_flush_tlb(h);
	if (m->cfg.board == BOARD_VIRT)
		plic_update(&m->plic);
}

static int load_sections(struct machine *m, struct state_reader *r)
{
	uint32_t version, flags;
	if (sr_file_header(r, &version, &flags))
		return -1;
	if (version != SNAPSHOT_FORMAT_VERSION)
		return sr_fail(r, "format version %u; this keel reads version %u", version,
			       SNAPSHOT_FORMAT_VERSION);
	bool seen[SEC_COUNT] = {false};
	struct state_section s;
	int rc;
	char name[5];
	while ((rc = sr_next_section(r, &s)) == 1) {
		state_tag_name(s.tag, name);
		int i = section_index(s.tag);
		if (i < 0 || !section_needed(m, i)) {
			if (s.flags & STATE_SECTION_OPTIONAL)
				continue;
			return sr_fail(r, "unknown section '%s' (not marked optional)", name);
		}
		if (!seen[SEC_CONF] && i != SEC_CONF)
			return sr_fail(r, "section '%s' before CONF", name);
		if (seen[i])
			return sr_fail(r, "section '%s' appears twice", name);
		seen[i] = true;
		if (s.version != SECTION_VERSION)
			return sr_fail(r, "section '%s' version %u; this keel reads version %u", name,
				       s.version, SECTION_VERSION);
		if (i == SEC_CONF)
			get_conf(&s.body, m);
		else
			decode_section(m, i, &s.body);
		if (sr_end_section(&s))
			return sr_fail(r, "%s", s.body.err);
	}
	if (rc < 0)
		return -1;
	for (int i = 0; i < SEC_COUNT; i++) {
		if (!seen[i] && section_needed(m, i))
			return sr_fail(r, "missing section '%s' (truncated?)",
				       state_tag_name(section_tag(i), name));
	}
	rebuild_derived(m);
	return 0;
}

/* The integrity check (docs/snapshot-format.md "Integrity"): with the
 * header's SUM flag, the file must end in a SUM section holding the
 * BLAKE2b-256 of every byte before it; *body_len is then the length
 * without it.  A file without the flag (written before the check
 * existed) is accepted, with a warning if `warn_old`; any other flag is
 * refused.
 * Nothing is decoded here, so a corrupt file is refused before it can
 * touch a machine. */
static int verify_sum(struct state_reader *r, size_t *body_len, bool warn_old)
{
	const uint8_t *p = r->p;
	uint32_t version, flags;
	*body_len = r->len;
	if (sr_file_header(r, &version, &flags))
		return -1;
	r->pos = 0;
	if (flags & ~SNAPSHOT_FLAG_SUM)
		return sr_fail(r, "unknown header flags 0x%x (a newer keel's file, or corrupt)", flags);
	if (!(flags & SNAPSHOT_FLAG_SUM)) {
		if (warn_old)
				fprintf(stderr, "keel: warning: snapshot written by an older keel, without an "
					"integrity check: corruption in it would go unnoticed\n");
		return 0;
	}
	const size_t trailer = STATE_SECTION_HEADER_LEN + SNAPSHOT_SUM_BYTES;
	if (r->len < STATE_FILE_HEADER_LEN + trailer)
		return sr_fail(r, "truncated: no integrity section at the end");
	struct state_reader t;
	sr_init(&t, p + r->len - trailer, trailer);
	uint32_t tag = sr_u32(&t), sver = sr_u32(&t), sflags = sr_u32(&t);
	uint64_t slen = sr_u64(&t);
	if (tag != TAG_SUM || sver != SECTION_VERSION || sflags != 0 || slen != SNAPSHOT_SUM_BYTES)
		return sr_fail(r, "truncated or corrupt: the file does not end in its integrity "
				  "section 'SUM '");
	uint8_t want[SNAPSHOT_SUM_BYTES];
	crypto_generichash(want, sizeof(want), p, r->len - trailer, NULL, 0);
	if (sodium_memcmp(want, sr_take(&t, SNAPSHOT_SUM_BYTES), sizeof(want)) != 0)
		return sr_fail(r, "corrupt: the BLAKE2b-256 of its %zu bytes does not match the "
				  "one it carries", r->len - trailer);
	*body_len = r->len - trailer;
	return 0;
}

int snapshot_load_buffer(struct machine *m, const void *buf, size_t len, char *err,
			 size_t errlen)
{
	struct state_reader r;
	size_t body;
	sr_init(&r, buf, len);
	if (verify_sum(&r, &body, true) == 0) {
		sr_init(&r, buf, body);
		if (load_sections(m, &r) == 0)
			return 0;
	}
	snprintf(err, errlen, "snapshot: %s", r.err);
	return -1;
}

int snapshot_load(struct machine *m, FILE *in, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	/* RAM, zstd's worst-case expansion of it, and the small sections. */
	size_t max = m->ram_size + m->ram_size / 128 + SNAPSHOT_MAX_OVERHEAD;
	if (state_read_file(in, max, &buf, &len, err, errlen))
		return -1;
	int rc = snapshot_load_buffer(m, buf, len, err, errlen);
	free(buf);
	return rc;
}

int snapshot_peek_disk(const void *buf, size_t len, struct disk_identity *id, char *err,
		       size_t errlen)
{
	struct state_reader r;
	struct state_section s;
	uint32_t version, flags;
	int rc;
	size_t body;
	sr_init(&r, buf, len);
	if (verify_sum(&r, &body, false) == 0) /* the load that follows warns */
		sr_init(&r, buf, body);
	if (!sr_failed(&r) && sr_file_header(&r, &version, &flags) == 0 &&
	    version != SNAPSHOT_FORMAT_VERSION)
		sr_fail(&r, "format version %u; this keel reads version %u", version,
			SNAPSHOT_FORMAT_VERSION);
	while (!sr_failed(&r) && (rc = sr_next_section(&r, &s)) == 1) {
		if (s.tag != TAG_DISK)
			continue;
		if (s.version != SECTION_VERSION)
			sr_fail(&r, "section 'DISK' version %u; this keel reads version %u", s.version,
				SECTION_VERSION);
		else if (get_disk_identity(&s.body, id) || sr_end_section(&s))
			sr_fail(&r, "%s", s.body.err);
		break;
	}
	if (!sr_failed(&r) && rc == 0)
		sr_fail(&r, "no DISK section (a snapshot from an older keel?)");
	if (!sr_failed(&r))
		return 0;
	snprintf(err, errlen, "snapshot: %s", r.err);
	return -1;
}
