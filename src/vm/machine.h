/* A virtual machine: everything one VM owns.  There is no global mutable
 * state outside this struct, so two machines can live in one process
 * (clones need that).
 *
 * machine_run() is the deterministic core: it runs the hart in slices that
 * end exactly at timer deadlines and never looks at the host.  Host input
 * and pacing against wall time live in src/host/host_loop.c. */
#ifndef KEEL_VM_MACHINE_H
#define KEEL_VM_MACHINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "board/boot.h"
#include "board/virt.h"
#include "bus/bus.h"
#include "cpu/hart.h"
#include "dev/clint.h"
#include "dev/htif.h"
#include "dev/net_slirp.h"
#include "dev/plic.h"
#include "dev/rtc_goldfish.h"
#include "dev/syscon.h"
#include "dev/uart16550.h"
#include "dev/virtio_blk.h"
#include "dev/virtio_console.h"
#include "dev/virtio_net.h"
#include "dev/virtio_rng.h"
#include "lib/vclock.h"
#include "vm/events.h"
#include "vm/ram_dirty.h"
#include "vm/state_digest.h"
#include "vm/taps_state.h"

#define DRAM_BASE VIRT_DRAM_BASE

enum stop_reason {
	STOP_NONE = 0,
	STOP_BUDGET, /* the instruction budget ran out */
	STOP_EXIT, /* the guest powered off (HTIF exit, syscon) */
	STOP_MAX_INSNS, /* --max-insns reached */
	STOP_IDLE, /* WFI with nothing pending; a timer deadline exists */
	STOP_WFI_IDLE, /* WFI and nothing on this machine can ever wake it */
	STOP_TRAP_LOOP, /* a whole slice of traps and no retired instruction */
	STOP_AT, /* a stop point (taps_stop_at) asked to return here */
};

enum board_kind {
	BOARD_BARE, /* RAM, CLINT and HTIF: for bare-metal test programs */
	BOARD_VIRT, /* the QEMU-virt-compatible board */
};

struct machine_config {
	enum board_kind board;
	uint64_t ram_size;
	/* Entropy and RTC epoch: see events_init(). */
	bool entropy_seeded;
	uint64_t entropy_seed;
	uint64_t rtc_epoch_ns; /* 0: the host's clock, once at start */
	/* Skip idle time inside machine_run (no host pacing): tests, traces,
	 * the gdb stub and replay want this. */
	bool idle_skip;
	/* virt board devices: a --disk argument (disk_image_open_spec) and a
	 * --net argument "user[,hostfwd=...]" or "none" (NULL: no such
	 * device).  "none" is a virtio-net with nothing behind it: what it
	 * sends is dropped and frames arrive only through machine_net_input
	 * (replay). */
	const char *disk;
	/* Or a disk already open (a restore opens the one its snapshot
	 * names); machine_init takes it over, even when it fails. */
	struct disk_image *disk_image;
	const char *net;
	/* Decode every instruction where it runs instead of through the
	 * hart's decode cache (keel run --no-decode-cache): same results,
	 * slower; the determinism tests compare the two. */
	bool no_decode_cache;
	/* Translate hot decoded blocks to x86-64 (keel run --jit on, cpu/jit.h)
	 * after jit_threshold entries each (0: at the first).  A cache like
	 * the blocks: same results, never in a snapshot or a log. */
	bool jit;
	unsigned jit_threshold;
	/* Name translations for perf in /tmp/perf-<pid>.map (--jit-perfmap):
	 * host profiling only, nothing the guest sees. */
	bool jit_perfmap;
	/* A fork-clone starts with a copy of the decoded blocks and
	 * translations rather than empty caches (keel run --jit-clone-cache
	 * inherit; hart_set_clone_cache). */
	bool clone_keeps_cache;
	/* Console input goes to virtio-console (hvc0) instead of the UART. */
	bool console_input_virtio;
	/* Where console output goes (UART, HTIF, virtio-console). */
	void (*console_write)(void *opaque, const uint8_t *buf, size_t len);
	void *console_opaque;
};

struct machine {
	struct machine_config cfg;
	struct hart hart;
	struct bus bus;
	struct vclock clock;
	struct event_boundary events;
	uint8_t *ram;
	uint64_t ram_base, ram_size;
	uint8_t rom[VIRT_MROM_SIZE];
	struct htif htif;
	struct clint clint;
	struct plic plic;
	struct uart16550 uart;
	struct syscon syscon;
	struct rtc_goldfish rtc;
	/* virtio slots: 0 blk, 1 net, 2 rng, 3 console, the rest empty */
	struct virtio_blk blk;
	struct virtio_net net;
	struct net_slirp slirp;
	struct virtio_rng rng;
	struct virtio_console vcon;
	struct virtio_mmio empty_slots[VIRT_VIRTIO_SLOTS];
	bool has_blk, has_net;
	/* virtio-net's frames go to `slirp` (false with has_net: --net none,
	 * or a clone given no network, whose device drops what the guest
	 * sends). */
	bool has_slirp;
	uint64_t max_insns; /* 0 = unbounded */
	/* Services' subscribers and stop points (vm/taps.h).  A stop point
	 * is a pause, not an end, unlike max_insns: services that act at
	 * exact instruction counts (recording checkpoints, replay) add them. */
	struct taps_state taps;
	/* RAM pages written, shared out to several readers (vm/ram_dirty.h);
	 * taps_dirty_reader is the taps' own reader + 1, 0 while off. */
	struct ram_dirty dirty;
	int taps_dirty_reader;
	/* Page hashes the state digest keeps between calls (state_digest.c). */
	struct digest_cache digest;
	uint64_t reset_pc;
	bool exited;
	int exit_code;
	unsigned resets; /* guest-requested resets so far */
	/* Post-copy (vm/postcopy.c): the RAM pages not here yet. */
	struct {
		uint64_t *missing; /* NULL: every page is here */
		uint64_t left;
		struct taps_postcopy_ops ops;
	} postcopy;
	/* RAM right after boot, encoded as a snapshot RAM section (see
	 * machine_capture_boot_image); NULL if none was captured. */
	uint8_t *boot_image;
	size_t boot_image_len;
	/* RAM holds exactly the boot image: set when it is captured (or a
	 * snapshot's RAM is loaded as it), cleared by anything that may write
	 * RAM after: running (machine_run), a RAM load, a reset, a host
	 * write (taps_write_phys), console or network input (devices write
	 * it into guest buffers), a post-copy page, a new image.  A snapshot
	 * then stores RAM as a reference to its BOOT section instead of a
	 * second copy (docs/snapshot-format.md, RAM version 2): the first
	 * checkpoint of a recording of a fresh boot. */
	bool ram_is_boot_image;
};

/* Allocate RAM and wire the board.  Returns 0, or -1 with a one-line
 * reason ("FILE: why") in err. */
int machine_init(struct machine *m, const struct machine_config *cfg, char *err, size_t errlen);
void machine_free(struct machine *m);

/* A guest-requested reset (syscon): RAM back to zero (or the boot image),
 * hart and devices to their reset state; virtual time keeps running.
 * Returns 0, or -1 if the boot image cannot be restored. */
int machine_reset(struct machine *m);
/* The devices' half of machine_reset: CLINT, PLIC, UART, syscon, RTC and
 * every virtio slot to their reset state; RAM and the hart's registers
 * are left alone.  The board fuzz targets' per-input reset uses it (with
 * only the RAM the input wrote cleared), since the full reset's RAM and
 * hart work is most of an input's cost there. */
void machine_reset_devices(struct machine *m);

/* Load the guest into a fresh machine.  Virt board: firmware, kernel,
 * initrd and device tree (board/boot.h), then keep RAM as the boot
 * image a reset restores.  Bare board: an ELF, started at its entry with
 * HTIF at its tohost/fromhost.  Return 0, or -1 with "FILE: reason". */
int machine_load_boot_files(struct machine *m, const struct boot_config *bc, char *err,
			    size_t errlen);
int machine_load_elf(struct machine *m, const char *path, char *err, size_t errlen);

/* Keep RAM as it is now (just after the boot files were loaded) as the
 * machine's boot image: a guest-requested reset restores it instead of
 * re-reading files, and snapshots carry it (section BOOT). */
int machine_capture_boot_image(struct machine *m, char *err, size_t errlen);
/* Replace the boot image (freed with the machine): the one way it
 * changes, so that the state digest's hash of it follows. */
void machine_set_boot_image(struct machine *m, uint8_t *image, size_t len);
/* Put the boot image into RAM (every other page zero). */
int machine_restore_boot_image(struct machine *m, char *err, size_t errlen);

/* Point HTIF at the guest's tohost/fromhost (from the ELF's symbols). */
void machine_set_htif(struct machine *m, uint64_t tohost, uint64_t fromhost);
/* Watch stores to the page of m->htif.tohost (after a restore set it). */
void machine_watch_tohost(struct machine *m);

/* Virtual time in nanoseconds (what slirp's clock reads). */
uint64_t machine_now_ns(const struct machine *m);

/* A forked clone's network (docs/clone.md): drop the slirp stack it
 * shares with its parent (net_slirp_abandon) and give virtio-net a backend
 * that drops every frame.  The device and its guest-visible state stay. */
void machine_net_detach(struct machine *m);
/* Then, optionally, a slirp stack of its own with `opts`' forwards.
 * Returns 0, or -1 with a message in err (e.g. a host port taken). */
int machine_net_attach_user(struct machine *m, const struct net_user_opts *opts, char *err,
			    size_t errlen);

/* Hand waiting network frames to the guest (a slice boundary). */
void machine_deliver_net(struct machine *m);

/* Offer console bytes to the guest's console device (UART or
 * virtio-console).  Returns how many it took; only those cross the event
 * boundary. */
size_t machine_console_input(struct machine *m, const uint8_t *buf, size_t len);

/* Hand one Ethernet frame to virtio-net now (replay).  Returns 0, or -1
 * if the device has no receive buffer posted or no such device exists. */
int machine_net_input(struct machine *m, const uint8_t *frame, size_t len);

/* Run up to `budget` steps (0: until something stops it).  Returns why it
 * stopped.  A step is a retired instruction or a trap taken by one (which
 * retires nothing), so a budget of steps can run out just after a trap, at
 * an instruction count that was also reached before it: a point replay
 * cannot tell apart from that one.  For single-stepping and tests. */
enum stop_reason machine_run(struct machine *m, uint64_t budget);

/* Run until `insns` more instructions have retired (0: until something
 * stops it).  It returns, as every other stop does (deadlines, stop
 * points, WFI), at the moment the instruction count first reaches where it
 * stopped, before any trap taken there: exactly where replay, which stops
 * at instruction counts, stops too.  So host input delivered between two
 * calls (host/host_loop.c) replays exactly.  Traps on the way cost
 * nothing. */
enum stop_reason machine_run_insns(struct machine *m, uint64_t insns);

/* The hart waits in WFI with nothing pending: only time or input can wake
 * it.  False again once input delivered after the stop raised an
 * interrupt. */
bool machine_hart_waiting(const struct machine *m);

/* The hart is idle in WFI: jump virtual time to the next timer deadline.
 * The jump is a function of state, but when it happens relative to input
 * at the same instruction count is the caller's choice, so it crosses the
 * event boundary as an EV_IDLE_SKIP marker.  Returns false if no timer is
 * armed. */
bool machine_skip_to_deadline(struct machine *m);

/* Advance virtual time by `ticks` (an adjustment made because of the host,
 * e.g. input arrived while idle).  Crosses the event boundary. */
void machine_adjust_time(struct machine *m, uint64_t ticks);

#endif
