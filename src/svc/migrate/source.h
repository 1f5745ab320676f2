/* Inside the sending side of a migration (send.c, postcopy_send.c): the
 * source's state and the steps both files use.  Not for other users:
 * migrate.h is the interface. */
#ifndef KEEL_SVC_MIGRATE_SOURCE_H
#define KEEL_SVC_MIGRATE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svc/migrate/migrate.h"

#define STEP_MS 5.0 /* migration work per step before the VM (or the loop) runs again */
#define PROGRESS_MS 250.0

struct mig_source {
	struct machine *m;
	struct mig_request req;
	int fd;
	struct mig_channel ch;
	uint64_t npages;
	uint64_t *pending; /* bit i: page i is a candidate this round */
	uint64_t cursor; /* the next page this round looks at */
	bool tracking; /* taps' dirty pages; else `shadow` */
	uint8_t *shadow; /* RAM as the destination has it (no tracking) */
	size_t shadow_len;
	int ov_fd; /* the overlay, read-only, or -1 */
	uint64_t disk_sent; /* overlay bytes the destination has (header excluded) */
	struct state_writer w;
	struct mig_stats st;
	uint64_t round_pages, prev_round_pages;
	double t_start, t_round, t_report, send_s, scan_s, round_scan_s;
	double next_send; /* with a throttle: no batch before this */
	struct mig_base_send *base; /* the base the destination lacks, going out */
	/* SYNC sent: the VM runs on until the destination has caught up
	 * (SYNCED), then stops; `sync_pc`: into post-copy */
	bool syncing, sync_pc;
	double t_sync;
	/* post-copy: the VM runs on the destination, which lacks pc_left */
	bool pc;
	bool pc_done_sent; /* PC_DONE: every page of pc_left went */
	bool pc_rush; /* the destination waits for all of it: no throttle */
	uint64_t pc_scan; /* --postcopy now: pages checked for zero before the stop */
	uint64_t *pc_left; /* missing there and not sent since the handover */
	uint64_t pc_cursor; /* the next page to push */
	unsigned pc_inflight; /* RAM messages sent since the handover, not yet acknowledged */
	double pc_heard; /* when the destination last sent something (or we began to wait) */
	double t_stop;
};

double mig_src_now_s(void);
/* The pages (ascending) as one RAM message, counted in the figures. */
int mig_src_send_pages(struct mig_source *s, const uint32_t *pages, size_t n, char *err,
		       size_t errlen);
/* The devices, CPU and disk at the stop (STATE, after the last DISK). */
int mig_src_send_state(struct mig_source *s, char *err, size_t errlen);
int mig_src_send_end(struct mig_source *s, char *err, size_t errlen);
/* After END: READY, then GO (`final` unless post-copy keeps the link),
 * then RUNNING.  0; -1 (before GO: the VM may resume here); 1 (GO went
 * out: unconfirmed, the VM stays paused).  err says why. */
int mig_src_handover(struct mig_source *s, bool final, char *err, size_t errlen);
/* Receive the destination's `want`; an ERROR or anything else fails. */
int mig_src_expect(struct mig_source *s, uint8_t want, char *err, size_t errlen);

/* Post-copy (postcopy_send.c): stop, send the state, the working set and
 * what is missing, and hand over (MIG_HANDED_OVER); then serve requests
 * and push the rest, a step at a time, until MIG_DONE. */
enum mig_status mig_pc_start(struct mig_source *s, char *err, size_t errlen);
/* Just before a post-copy's stop, while the VM runs: the hart's working
 * set as ordinary pages, so the stop itself sends only those of them
 * written since.  0, or -1 with err. */
int mig_pc_presend(struct mig_source *s, char *err, size_t errlen);
/* --postcopy now, before the stop: a step of finding the pages that are
 * not zero (the VM runs between steps).  true when done. */
bool mig_pc_scan_step(struct mig_source *s);
enum mig_status mig_pc_step(struct mig_source *s, char *err, size_t errlen);
/* Post-copy: what the host loop waits for before stepping again (the
 * source is paused meanwhile): POLLIN always, POLLOUT when a push may go
 * now; and the longest wait in ms (-1: none) before a throttled push is
 * due or a silent destination counts as gone. */
short mig_pc_events(const struct mig_source *s);
int mig_pc_timeout_ms(const struct mig_source *s);

#endif
