/* Taps: the one narrow interface through which services (src/svc/) see
 * and steer a machine.  docs/taps.md says what each call promises.
 *
 * This header includes nothing from src/cpu/ or src/dev/ and never will:
 * a service that needs something the machine has and this header lacks
 * adds a tap here instead of reaching in.
 *
 *  - event observers: every input that crosses the event boundary;
 *  - stop points: the run loop stops (or calls back) at exact icounts;
 *  - trap observers: every trap the hart takes, and its return;
 *  - the memory view: guest RAM read and written without side effects,
 *    translated by a walk of a page table the caller names;
 *  - registers: a snapshot of the hart's user-visible state;
 *  - dirty pages: every write to RAM, page by page;
 *  - memory effects: each instruction's reads and writes, for analysis.
 *
 * Every call is made between slices (never from inside the hart's run)
 * unless it says otherwise; callbacks are made from inside machine_run at
 * the exact instruction count they report. */
#ifndef KEEL_VM_TAPS_H
#define KEEL_VM_TAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/event_kind.h"

struct machine;

/* ---- the machine's position ---- */

/* Retired instructions so far. */
uint64_t taps_icount(const struct machine *m);
/* Virtual time: mtime ticks (10 MHz) and nanoseconds. */
uint64_t taps_mtime(const struct machine *m);
uint64_t taps_now_ns(const struct machine *m);
/* The guest's wall-clock epoch at boot (ns since 1970; the RTC's base). */
uint64_t taps_rtc_epoch_ns(const struct machine *m);

/* End the run: machine_run returns STOP_EXIT at its next slice boundary
 * and the VM exits with `code` (a service that cannot go on, such as a
 * recording whose log cannot be written). */
void taps_request_exit(struct machine *m, int code);

/* ---- 1. event observers ---- */

/* Called for every event that crosses the event boundary, in order, with
 * the icount at which it entered.  `payload` is valid during the call. */
typedef void (*tap_event_fn)(void *opaque, uint64_t icount, enum event_kind kind,
			     const void *payload, size_t len);

#define TAPS_MAX_SUBSCRIBERS 8

/* Returns a subscription id (>= 0), or -1 when TAPS_MAX_SUBSCRIBERS are
 * taken.  Subscribers are called in the order they subscribed. */
int taps_event_subscribe(struct machine *m, tap_event_fn fn, void *opaque);
void taps_event_unsubscribe(struct machine *m, int id);
/* Drop every event subscriber (a fork-clone starts with none). */
void taps_event_clear(struct machine *m);

/* Replay: entropy the guest asks for comes from fn (the logged bytes)
 * instead of being drawn; fn returns 0, or -1 when the log has no such
 * request there (a divergence).  fn NULL: drawn again. */
void taps_set_entropy_source(struct machine *m, int (*fn)(void *opaque, void *buf, size_t len),
			     void *opaque);

/* ---- 2. stop points ---- */

/* Called by machine_run when the machine's icount reaches the stop
 * point, exactly, between slices.  Return true to make machine_run return
 * STOP_AT to its caller, false to run on.  `fn` may add stop points. */
typedef bool (*tap_stop_fn)(void *opaque, struct machine *m, uint64_t icount);

#define TAPS_MAX_STOPS 64

/* Stop at `icount` (one shot: the point is gone once reached).  With fn
 * NULL, machine_run just returns STOP_AT there.  A point at or before the
 * current icount fires on the next machine_run, before any instruction.
 * Returns 0, or -1 when TAPS_MAX_STOPS are pending. */
int taps_stop_at(struct machine *m, uint64_t icount, tap_stop_fn fn, void *opaque);
/* Remove every pending point that `opaque` added (any icount). */
void taps_stop_cancel(struct machine *m, void *opaque);
/* The earliest pending stop point, or UINT64_MAX. */
uint64_t taps_next_stop(const struct machine *m);

/* ---- 3. trap observers ---- */

/* A trap the hart took: an exception or an interrupt. */
struct tap_trap {
	uint64_t icount; /* instructions retired before it (the trapping one does not retire) */
	uint64_t cause; /* exception code or interrupt number, without the interrupt bit */
	bool interrupt;
	uint8_t from_priv, to_priv; /* 0 U, 1 S, 3 M */
	uint64_t pc; /* of the trapping instruction (xepc) */
	uint64_t tval;
	uint64_t satp; /* the address space it came from */
	/* An environment call from U-mode (cause 8): a7 and a0..a5. */
	bool syscall;
	uint64_t nr;
	uint64_t args[6];
};

/* A return from a trap handler to a lower privilege (SRET or MRET). */
struct tap_trap_return {
	uint64_t icount; /* instructions retired before the xRET */
	uint8_t from_priv, to_priv;
	uint64_t pc; /* where it returns to */
	uint64_t satp;
	/* The return to U-mode of a syscall whose entry was seen (matched by
	 * address space, user stack pointer and return address): its number,
	 * arguments and result (a0). */
	bool syscall;
	uint64_t nr;
	uint64_t args[6];
	uint64_t ret;
};

struct tap_trap_ops {
	void (*trap)(void *opaque, const struct tap_trap *t); /* may be NULL */
	void (*trap_return)(void *opaque, const struct tap_trap_return *r); /* may be NULL */
};

/* Returns a subscription id (>= 0) or -1.  `ops` must outlive it. */
int taps_trap_subscribe(struct machine *m, const struct tap_trap_ops *ops, void *opaque);
void taps_trap_unsubscribe(struct machine *m, int id);

/* ---- 4. the memory view ---- */

/* Guest RAM as the view sees it: the host memory behind one region of
 * physical addresses.  A view of a machine is only valid until the next
 * machine_run (RAM does not move, but a view is cheap to take again). */
struct memview {
	const uint8_t *ram;
	uint64_t base, size;
	/* The boot ROM, read-only (NULL: none).  Reads see it like RAM. */
	const uint8_t *rom;
	uint64_t rom_base, rom_size;
};

void taps_memview(const struct machine *m, struct memview *mv);

enum memview_status {
	MV_OK = 0,
	MV_NOT_RAM = -1, /* the physical address is outside RAM (MMIO, ROM, nothing) */
	MV_FAULT = -2, /* the page-table walk found no valid mapping */
	MV_BAD_SATP = -3, /* a satp mode the view does not walk */
};

/* Read [pa, pa+len) of RAM (or ROM).  All or nothing: MV_NOT_RAM unless
 * every byte is in one of them (MMIO is never touched). */
int memview_read_phys(const struct memview *mv, uint64_t pa, void *buf, size_t len);

/* Translate `va` by walking the Sv39/Sv48 table that `satp` names (Bare:
 * va is pa), without TLBs, A/D updates or permission checks.  *page_size
 * (may be NULL) gets the size of the leaf's page: 4 KiB, 2 MiB, 1 GiB or
 * 512 GiB. */
int memview_translate(const struct memview *mv, uint64_t satp, uint64_t va, uint64_t *pa,
		      uint64_t *page_size);

/* Call piece(ctx, pa, offset, n) for each page-bounded piece of
 * [va, va+len) in satp's address space, in order, until a piece does not
 * translate or piece() returns nonzero.  Returns the bytes done: the one
 * walk behind memview_read_virt() and taps_write_virt(). */
size_t memview_each_piece(const struct memview *mv, uint64_t satp, uint64_t va, size_t len,
			  int (*piece)(void *ctx, uint64_t pa, size_t offset, size_t n), void *ctx);

/* Read len bytes at va in satp's address space.  Returns how many bytes
 * were read before the first one that does not translate to RAM. */
size_t memview_read_virt(const struct memview *mv, uint64_t satp, uint64_t va, void *buf,
			 size_t len);

/* The satp the hart's own data accesses use now: 0 (Bare) in M-mode,
 * where nothing is translated, else its satp.  What a debugger that
 * shows "the current address space" passes to the calls above. */
uint64_t taps_current_satp(const struct machine *m);

/* The hart's sscratch: where Linux/riscv keeps `current` (the running
 * task_struct) while the hart is in U-mode.  One load, for observers that
 * need only that on every system call (taps_regs copies the whole file). */
uint64_t taps_sscratch(const struct machine *m);

/* Writes go through the machine, so that decoded code and dirty tracking
 * see them.  Same results as the reads. */
int taps_write_phys(struct machine *m, uint64_t pa, const void *buf, size_t len);
size_t taps_write_virt(struct machine *m, uint64_t satp, uint64_t va, const void *buf,
		       size_t len);

/* ---- registers ---- */

struct tap_regs {
	uint64_t pc;
	uint64_t x[32];
	uint64_t f[32];
	uint8_t priv; /* 0 U, 1 S, 3 M */
	uint8_t fflags, frm; /* fcsr's two fields, whatever mstatus.FS says */
	uint64_t satp, sstatus, mstatus;
	uint64_t sepc, scause, stval, stvec, sscratch;
	uint64_t mepc, mcause, mtval, mtvec;
	uint64_t icount;
	bool wfi; /* waiting for an interrupt */
};

void taps_regs(const struct machine *m, struct tap_regs *r);

/* The data access the instruction at pc would make if it ran now: its
 * virtual address (rs1 + offset), size, and whether it reads, writes or
 * both (an AMO; SC counts as a write, cbo.zero as a 64-byte write), decoded
 * without running it.  For debuggers' watchpoints, which stop before the
 * access.  Returns 0, 1 if the instruction makes no data access, -1 if pc
 * does not translate to memory the view can read. */
struct tap_next_access {
	uint64_t va;
	unsigned size;
	bool read, write;
};
int taps_next_access(const struct machine *m, struct tap_next_access *a);

/* Debuggers: change the hart's state between slices.  A CSR is read and
 * written with its side effects on the hart's own caches (a satp write
 * flushes the TLB) but without privilege checks.  Return 0 or -1 (no such
 * register, or a value the hart cannot hold). */
int taps_set_pc(struct machine *m, uint64_t pc);
int taps_set_xreg(struct machine *m, unsigned n, uint64_t val);
int taps_set_freg(struct machine *m, unsigned n, uint64_t val);
int taps_set_priv(struct machine *m, unsigned priv);
int taps_set_fcsr(struct machine *m, unsigned fflags, unsigned frm);
int taps_csr_read(struct machine *m, unsigned csr, uint64_t *val);
int taps_csr_write(struct machine *m, unsigned csr, uint64_t val);

/* ---- 5. dirty pages ---- */

/* Track every write to guest RAM, page by page (4 KiB), until disabled:
 * TLB store hits, slow-path stores, AMOs, page-table A/D updates, device
 * DMA, loaders and debuggers; a snapshot restore or reset marks every
 * page.  A page is reported when something wrote it, even bytes equal to
 * those it held, and a device buffer handed to a device for writing (a
 * virtio receive buffer) counts as written whole; a page never written is
 * never reported.  Enabling starts with every page clean; enabling again
 * changes nothing.  One consumer among the taps' users: a fetch clears
 * the bits for every service (the state digest's page cache reads its own
 * copy, vm/ram_dirty.h, and is not disturbed).
 * Tracking is not machine state: snapshots never hold it and a fork-clone
 * starts with it off.  Costs a slow-path store per page per round while
 * on, nothing while off.  Returns 0 or -1 (no memory). */
int taps_dirty_enable(struct machine *m);
void taps_dirty_disable(struct machine *m);
bool taps_dirty_enabled(const struct machine *m);
/* Copy the set of pages written since enable or the last fetch into
 * bitmap (bit i of word i / 64: the page at RAM base + i * 4096; nbits
 * must cover RAM, and bits past its end are cleared) and clear it.
 * Returns the number of pages set, or -1 if not enabled or the bitmap is
 * too small. */
long taps_dirty_fetch(struct machine *m, uint64_t *bitmap, size_t nbits);

/* ---- 5b. post-copy: pages that are not here yet ---- */

/* A migrating VM may start to run before all of its RAM has arrived
 * (docs/migrate.md, "Post-copy").  The service that brings the pages
 * marks the missing ones; from then on the first access of any kind to
 * a missing page (the hart's loads, stores, fetches and page-table
 * walks, device DMA) waits, inside that access, until the service has
 * put the page in place.  The guest cannot tell: the page holds what
 * it would have held, and the access completes as it would have.
 * Readers of all of RAM (taps_memview, snapshots, state digests,
 * clones, resets, restores) first bring in every page still missing. */
#define TAPS_POSTCOPY_ALL UINT64_MAX
struct taps_postcopy_ops {
	/* Bring the page (its index from the RAM base; TAPS_POSTCOPY_ALL:
	 * every missing page) in with taps_postcopy_fill, and others that
	 * come meanwhile.  0, or -1 with a reason: the page cannot come. */
	int (*fetch)(void *opaque, uint64_t page, char *why, size_t whylen);
	/* A page cannot come, so the VM cannot go on: say so and end the
	 * process.  Must not return. */
	void (*lost)(void *opaque, const char *why);
	void *opaque;
};
/* Start: the pages whose bit is set in `missing` (nbits covering RAM)
 * are not here.  Called between slices, before the VM runs on.  0, or -1
 * (no memory, or post-copy already under way). */
int taps_postcopy_begin(struct machine *m, const uint64_t *missing, size_t nbits,
			const struct taps_postcopy_ops *ops);
/* Put a page that arrived in place: 1 if it was missing, 0 if it was
 * here already (left as it is), -1 for an index past RAM.  Between
 * slices or from inside fetch. */
int taps_postcopy_fill(struct machine *m, uint64_t page, const void *data);
bool taps_postcopy_missing(const struct machine *m, uint64_t page);
/* Pages still missing (0: post-copy is over, or never began). */
uint64_t taps_postcopy_left(const struct machine *m);
/* Bring every missing page in now (a fetch of TAPS_POSTCOPY_ALL). */
void taps_postcopy_complete(struct machine *m);
/* Set bit i of `bitmap` (nbits covering RAM) for each RAM page the
 * hart's TLBs reach now: the pages it used last, which a migration sends
 * before the VM runs on elsewhere.  Returns how many bits were set. */
long taps_recent_pages(const struct machine *m, uint64_t *bitmap, size_t nbits);
/* Forget the missing set (their contents no longer matter: the machine
 * is being freed). */
void taps_postcopy_abandon(struct machine *m);

/* ---- 6. memory effects ---- */

/* One memory access an instruction made: `size` bytes at virtual address
 * va, physical pa.  A misaligned access is one access, unless it crosses
 * into a page that is not physically next to the first: then it is two,
 * one per page, in address order. */
struct tap_mem_access {
	uint64_t va, pa;
	uint64_t value; /* the bytes read or written, little-endian, zero-extended */
	uint8_t size;
	bool write;
};

/* An AMO reads and then writes; a misaligned access may be two. */
#define TAP_MAX_ACCESSES 4

/* What one instruction did, reported after it retired (or trapped).
 * Accesses are the instruction's own loads and stores (AMOs, LR/SC and FP
 * loads and stores included), in program order; page-table walks and
 * instruction fetches are not reported.  Registers are those the encoding
 * names (a compressed instruction's 32-bit twin's), x0 never.  A trapped
 * instruction wrote nothing: it reports no access and no register or CSR
 * written, and x_read/f_read as its encoding names them (an illegal one,
 * none; a fetch that faulted, insn 0 and none). */
struct tap_insn_effect {
	uint64_t icount; /* retired before it */
	uint64_t pc;
	uint32_t insn; /* the raw encoding; compressed ones in the low 16 bits */
	uint8_t priv; /* it ran at: 0 U, 1 S, 3 M */
	bool trapped; /* it raised an exception and did not retire */
	uint32_t x_read, x_written; /* bit n: integer register xn */
	uint32_t f_read, f_written; /* bit n: fn */
	int32_t csr; /* the CSR a CSR instruction names, or -1 */
	bool csr_read, csr_written; /* CSRRW rd=x0 does not read; CSRRS/C rs1=x0 do not write */
	unsigned naccess;
	struct tap_mem_access access[TAP_MAX_ACCESSES];
};

/* Called after every instruction, in order, from inside machine_run.
 * `e` is valid during the call.  It may unsubscribe (itself or others)
 * and call taps_request_exit. */
typedef void (*tap_effect_fn)(void *opaque, const struct tap_insn_effect *e);

/* Observe every instruction's effects.  Exact, not fast: while a
 * subscriber exists machine_run runs the hart one instruction at a time
 * without its decoded blocks, and every data access takes the slow path
 * (about 12x slower; docs/taps.md, "Memory effects").  Execution is the same as
 * without it: the same instructions, state and digests.  Interrupts are
 * not instructions and are not reported (trap observers see them).  The
 * first instruction reported is the next one machine_run executes.
 * Returns an id (>= 0) or -1 when TAPS_MAX_SUBSCRIBERS are taken. */
int taps_effect_subscribe(struct machine *m, tap_effect_fn fn, void *opaque);
void taps_effect_unsubscribe(struct machine *m, int id);

/* ---- 7. the disk ---- */

struct disk_identity;

/* The disk as it is now (kind DISK_NONE: none attached), without a flush:
 * an overlay's current length, base hash and path (dev/disk_image.h). */
void taps_disk_identity(const struct machine *m, struct disk_identity *id);

/* Write to the disk as the guest would: an overlay appends whole-block
 * records (migration replays the source's records this way).  Returns 0,
 * or -1 with errno (no disk: ENODEV). */
int taps_disk_write(struct machine *m, uint64_t off, const void *buf, size_t len);

/* Read the disk as the guest sees it now (an overlay's newest copy of
 * each block, else its base).  Returns 0, or -1 with errno (no disk:
 * ENODEV; out of range: EINVAL). */
int taps_disk_read(struct machine *m, uint64_t off, void *buf, size_t len);
/* The disk's size in bytes (0: no disk). */
uint64_t taps_disk_size(const struct machine *m);

/* Called after each write the guest's driver made reached the disk
 * (virtio-blk OUT: [off, off+len) in bytes), from inside machine_run at
 * the icount of the store that notified the device, so a replay sees the
 * same writes at the same icounts.  Writes made through taps_disk_write
 * are not reported.  The callback may read the disk (taps_disk_read) but
 * must not change the machine. */
typedef void (*tap_disk_write_fn)(void *opaque, uint64_t icount, uint64_t off, uint64_t len);
/* Returns an id (>= 0), or -1 when TAPS_MAX_SUBSCRIBERS are taken. */
int taps_disk_subscribe(struct machine *m, tap_disk_write_fn fn, void *opaque);
void taps_disk_unsubscribe(struct machine *m, int id);

/* ---- 8. byte taint ---- */

/* Which sources' bytes each byte of RAM holds, carried through every
 * instruction (docs/taps.md, "Byte taint").  A label set is a 32-bit
 * mask: bit i is the service's label i.  Enabling subscribes a memory-
 * effect observer (section 6: one step at a time, no decoded blocks) and
 * starts with everything clean; the rules are explicit data flow only
 * (loads and stores carry labels, ALU results take the union of their
 * sources, addresses and branches carry none; registers are tracked whole,
 * RAM byte by byte).  Writes that no instruction makes (device DMA,
 * cbo.zero, debuggers) leave clean bytes.  Not machine state: never saved,
 * a fork-clone starts without it.  Returns 0 or -1 (no memory, or no
 * effect subscriber slot). */
int taps_taint_enable(struct machine *m);
void taps_taint_disable(struct machine *m);
bool taps_taint_enabled(const struct machine *m);

/* Give [pa, pa+len) of RAM the label set `labels` (0: clean), replacing
 * what they had.  -1 if taint is off or the range is not all RAM. */
int taps_taint_label(struct machine *m, uint64_t pa, uint64_t len, uint32_t labels);
/* The union of the label sets of [pa, pa+len), and each byte's in
 * per_byte[len] (may be NULL).  Bytes outside RAM, or taint off: clean. */
uint32_t taps_taint_query(const struct machine *m, uint64_t pa, uint64_t len,
			  uint32_t *per_byte);
/* The registers' sets (x0: always clean); the setters are for tests. */
uint32_t taps_taint_xreg(const struct machine *m, unsigned n);
uint32_t taps_taint_freg(const struct machine *m, unsigned n);
int taps_taint_set_xreg(struct machine *m, unsigned n, uint32_t labels);
int taps_taint_set_freg(struct machine *m, unsigned n, uint32_t labels);

/* The network source: each frame virtio-net delivers to the guest (the
 * Ethernet frame, after its event observers: an observer of EV_NET_FRAME
 * may enable taint and set this for the very frame it sees) is shown to fn,
 * which returns
 * the labels of its bytes from *payload_off on (set it; the bytes before
 * it, headers, stay clean).  Called from inside machine_run, at the frame's
 * icount, after the device wrote the frame into the guest's buffer.  NULL
 * fn: frames arrive clean. */
typedef uint32_t (*tap_taint_net_fn)(void *opaque, const uint8_t *frame, size_t len,
				     size_t *payload_off);
void taps_taint_net_source(struct machine *m, tap_taint_net_fn fn, void *opaque);

#endif
