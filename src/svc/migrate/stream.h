/* The migration stream's messages (docs/migrate.md, "Stream format"):
 * what travels inside the channel's chunks, one message per chunk.  This
 * file encodes and decodes them; send.c and recv.c decide when. */
#ifndef KEEL_SVC_MIGRATE_STREAM_H
#define KEEL_SVC_MIGRATE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/disk_image.h"
#include "lib/state_io.h"

struct machine;

#define MIG_STREAM_VERSION 2u
#define MIG_PAGE 4096u
/* Pages in one RAM message: 4 MiB before compression, so a message fits
 * in one chunk even when zstd cannot compress it. */
#define MIG_BATCH_PAGES 1024u
/* Overlay records in one DISK message (about 4 MiB). */
#define MIG_DISK_RECORDS 1000u

enum mig_msg {
	/* 0 is the channel's own key proof */
	MIG_CONF = 1, /* source: the machine's shape */
	MIG_RAM = 2, /* source: a batch of pages */
	MIG_DISK = 3, /* source: overlay records, in file order */
	MIG_ROUND = 4, /* source: a pre-copy round is complete */
	MIG_STATE = 5, /* source: devices and CPU (a snapshot without RAM) */
	MIG_END = 6, /* source: nothing more before the handover */
	MIG_READY = 7, /* destination: everything loaded; waiting for GO */
	MIG_GO = 8, /* source (final): the VM is yours */
	MIG_RUNNING = 9, /* destination (final): it runs here now */
	MIG_ERROR = 10, /* either side (final): a reason, then the end */
	MIG_ACCEPT = 11, /* destination: CONF fits, send the pages */
	MIG_AHEAD = 12, /* source: whole state sections that do not change, sent early */
	/* post-copy (docs/migrate.md, "Post-copy") */
	MIG_POSTCOPY = 13, /* source, before END: the pages the destination lacks */
	MIG_PAGE_REQ = 14, /* destination: the VM waits for this page (or all) */
	MIG_PC_DONE = 15, /* source (final): every missing page was sent */
	MIG_COMPLETE = 16, /* destination (final): all of RAM is here; its figures */
	/* an overlay's base the destination lacks (base.c) */
	MIG_NEED_BASE = 17, /* destination, instead of ACCEPT: send the base */
	MIG_BASE = 18, /* source: u64 offset, u64 bytes, zstd frame (as DISK) */
	MIG_BASE_END = 19, /* source: u64 the base's size; then ACCEPT or ERROR */
	MIG_PC_ACK = 20, /* destination, post-copy: one more RAM message taken */
	MIG_SYNC = 21, /* source: about to stop the VM; answer once all before is taken */
	MIG_SYNCED = 22, /* destination: everything before SYNC is in the machine */
};

/* PAGE_REQ for every page still missing: send them now, unthrottled. */
#define MIG_PAGE_REQ_ALL UINT32_MAX

const char *mig_msg_name(uint8_t type);

/* MIG_CONF: what the destination checks before it takes a single page. */
struct mig_conf {
	uint32_t version; /* MIG_STREAM_VERSION */
	uint64_t ram_base, ram_size;
	bool has_net;
	struct disk_identity disk; /* kind, readonly, size, base_hash (no paths) */
	uint64_t icount; /* where the source was when it started */
};

void mig_conf_encode(struct state_writer *w, const struct mig_conf *c);
int mig_conf_decode(const uint8_t *p, size_t len, struct mig_conf *c, char *err, size_t errlen);
/* Whether the destination machine `m` can take the VM `c` describes;
 * -1 with a reason if not. */
int mig_conf_check(const struct mig_conf *c, const struct machine *m, char *err, size_t errlen);

/* The sections of a snapshot that never change while a machine runs
 * (BOOT: the image a reboot loads), sent ahead so the stop-and-copy does
 * not carry them. */
bool mig_section_ahead(uint32_t tag);

/* Split `len` bytes of sections (no file header) into the sections sent
 * ahead (appended to `ahead`) and the rest (appended to `rest`; NULL:
 * dropped).  0, or -1 if the sections do not parse. */
int mig_split_sections(const uint8_t *p, size_t len, struct state_writer *ahead,
		       struct state_writer *rest);

/* MIG_RAM: the pages `pages[0..n)` (ascending page indices, n <=
 * MIG_BATCH_PAGES) of `m`'s RAM as they are now.  Zero pages travel as
 * runs without data; the rest as one zstd frame.  *zero counts them. */
int mig_ram_encode(struct state_writer *w, const struct machine *m, const uint32_t *pages,
		   size_t n, unsigned *zero, char *err, size_t errlen);
/* Check a RAM message against `m`'s RAM and write its pages there.
 * Returns the number of pages, or -1 with a reason. */
long mig_ram_apply(struct machine *m, const uint8_t *p, size_t len, char *err, size_t errlen);
/* The same, but each page goes to put(opaque, page index, 4096 bytes),
 * for a RAM of `npages` pages. */
typedef void (*mig_page_fn)(void *opaque, uint64_t page, const uint8_t *data);
long mig_ram_decode(uint64_t npages, const uint8_t *p, size_t len, mig_page_fn put, void *opaque,
		    char *err, size_t errlen);

/* MIG_POSTCOPY: a bitmap of `npages` bits (bit i of word i / 64: page
 * i), as u64 npages, then the words.  Decode checks the count against
 * the destination's RAM and that no bit lies past it; *out is malloc'd. */
void mig_bitmap_encode(struct state_writer *w, const uint64_t *bits, uint64_t npages);
int mig_bitmap_decode(const uint8_t *p, size_t len, uint64_t npages, uint64_t **out, char *err,
		      size_t errlen);

/* MIG_COMPLETE's body: what the destination saw of post-copy. */
struct mig_pc_figures {
	uint64_t faults; /* accesses that waited for a page */
	uint64_t pages; /* pages that arrived after the VM ran on */
	uint64_t slowest_fault_us;
	uint64_t fault_wait_us; /* all waits together */
};
void mig_pc_figures_encode(struct state_writer *w, const struct mig_pc_figures *f);
int mig_pc_figures_decode(const uint8_t *p, size_t len, struct mig_pc_figures *f);

/* MIG_DISK: `len` bytes of overlay records (whole records) that start
 * at file offset `off`, zstd-compressed. */
int mig_disk_encode(struct state_writer *w, uint64_t off, const uint8_t *records, size_t len,
		    char *err, size_t errlen);
/* Check each record (checksum, block in range) and that they continue
 * the destination's overlay at its current end, then write each block
 * through the disk, which appends the identical record.  *end_out: the
 * source's offset after them.  0 or -1 with a reason. */
int mig_disk_apply(struct machine *m, const uint8_t *p, size_t len, uint64_t *end_out, char *err,
		   size_t errlen);

#endif
