/* The destination's side of a post-copy (migrate.h; docs/migrate.md,
 * "Post-copy").  The VM runs here while some of its pages are still on
 * the source.  Two ways in for a page, both on the one channel:
 *
 *  - on demand: the VM touches a missing page; vm/postcopy.c calls
 *    fetch() from inside that access, which asks the source for the page
 *    (PAGE_REQ) and takes messages until it is here.  The hart waits;
 *    nothing else runs meanwhile, since the core is single-threaded.
 *  - pushed: the source sends every other missing page by itself, and
 *    the host loop takes them between slices (mig_postcopy_poll).
 *
 * A page that is already here when its copy arrives (a fault brought it)
 * is left alone: the source's copy is the same, the source having
 * stopped the VM before it ran here, and the VM here may have written it
 * since. */
#include "svc/migrate/migrate.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "svc/migrate/stream.h"
#include "vm/taps.h"

#define POLL_BUDGET_MS 5.0 /* pushed pages taken per poll before the VM runs on */

struct mig_postcopy {
	struct machine *m;
	int fd;
	struct mig_channel ch;
	uint64_t npages;
	bool source_done; /* PC_DONE came: nothing more will */
	bool over; /* COMPLETE sent (or the connection given up) */
	struct mig_pc_figures fig;
	double t_start;
	void (*on_lost)(int status);
	struct state_writer w;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void put_page(void *opaque, uint64_t page, const uint8_t *data)
{
	struct mig_postcopy *pc = opaque;
	if (taps_postcopy_fill(pc->m, page, data) == 1)
		pc->fig.pages++;
}

/* All of RAM is here and the source said it is done: tell it, with the
 * figures, and close. */
static int finish(struct mig_postcopy *pc, char *why, size_t whylen)
{
	pc->over = true;
	sw_reset(&pc->w);
	mig_pc_figures_encode(&pc->w, &pc->fig);
	int rc = chan_send(&pc->ch, MIG_COMPLETE, pc->w.buf, pc->w.len, true);
	if (rc)
		snprintf(why, whylen, "%s", pc->ch.err);
	else
		fprintf(stderr, "keel run: post-copy complete after %.0f ms: %llu pages arrived "
				"while the VM ran, %llu on demand (the slowest waited %.1f ms)\n",
			(now_s() - pc->t_start) * 1e3, (unsigned long long)pc->fig.pages,
			(unsigned long long)pc->fig.faults, (double)pc->fig.slowest_fault_us / 1e3);
	return rc;
}

/* Take one message from the source.  0, or -1 with why. */
static int take_one(struct mig_postcopy *pc, char *why, size_t whylen)
{
	uint8_t type;
	const uint8_t *body;
	size_t len;
	if (chan_recv(&pc->ch, &type, &body, &len) < 0) {
		snprintf(why, whylen, "the link to the source failed: %s", pc->ch.err);
		return -1;
	}
	switch (type) {
	case MIG_RAM:
		if (mig_ram_decode(pc->npages, body, len, put_page, pc, why, whylen) < 0)
			return -1;
		/* The source keeps only a few messages in flight, so that a
		 * request overtakes the push: this one is taken. */
		if (chan_send(&pc->ch, MIG_PC_ACK, NULL, 0, false)) {
			snprintf(why, whylen, "the link to the source failed: %s", pc->ch.err);
			return -1;
		}
		return 0;
	case MIG_PC_DONE:
		pc->source_done = true;
		if (taps_postcopy_left(pc->m) == 0)
			return finish(pc, why, whylen);
		snprintf(why, whylen, "the source ended post-copy with %llu pages never sent",
			 (unsigned long long)taps_postcopy_left(pc->m));
		return -1;
	case MIG_ERROR:
		snprintf(why, whylen, "the source gave up: %.*s", (int)(len < 400 ? len : 400),
			 (const char *)body);
		return -1;
	default:
		snprintf(why, whylen, "the source sent %s during post-copy", mig_msg_name(type));
		return -1;
	}
}

static int fetch(void *opaque, uint64_t page, char *why, size_t whylen)
{
	struct mig_postcopy *pc = opaque;
	if (pc->over) {
		snprintf(why, whylen, "post-copy is over, yet a page is missing");
		return -1;
	}
	/* Everything (a whole-RAM reader waits): the source is asked to send
	 * the rest at once rather than at the push's pace. */
	uint32_t want = page == TAPS_POSTCOPY_ALL ? MIG_PAGE_REQ_ALL : (uint32_t)page;
	uint8_t req[4] = {(uint8_t)want, (uint8_t)(want >> 8), (uint8_t)(want >> 16),
			  (uint8_t)(want >> 24)};
	if (page == TAPS_POSTCOPY_ALL) {
		if (!pc->source_done && chan_send(&pc->ch, MIG_PAGE_REQ, req, sizeof(req), false)) {
			snprintf(why, whylen, "asking the source for every page: %s", pc->ch.err);
			return -1;
		}
		while (taps_postcopy_left(pc->m) || !pc->source_done)
			if (take_one(pc, why, whylen))
				return -1;
		return 0;
	}
	double t0 = now_s();
	if (chan_send(&pc->ch, MIG_PAGE_REQ, req, sizeof(req), false)) {
		snprintf(why, whylen, "asking the source for page %llu: %s",
			 (unsigned long long)page, pc->ch.err);
		return -1;
	}
	while (taps_postcopy_missing(pc->m, page))
		if (take_one(pc, why, whylen))
			return -1;
	uint64_t us = (uint64_t)((now_s() - t0) * 1e6);
	pc->fig.faults++;
	pc->fig.fault_wait_us += us;
	if (us > pc->fig.slowest_fault_us)
		pc->fig.slowest_fault_us = us;
	return 0;
}

static void lost(void *opaque, const char *why)
{
	struct mig_postcopy *pc = opaque;
	fprintf(stderr, "keel run: post-copy failed: %s.\nkeel run: the VM cannot continue "
			"here without the %llu pages still on the source: it stops at icount "
			"%llu; the source keeps its copy as it was at the handover\n",
		why, (unsigned long long)taps_postcopy_left(pc->m),
		(unsigned long long)taps_icount(pc->m));
	if (pc->on_lost)
		pc->on_lost(1);
	exit(1);
}

struct mig_postcopy *mig_postcopy_start(struct machine *m, int fd, struct mig_channel *ch,
					const uint64_t *missing, char *err, size_t errlen)
{
	struct mig_postcopy *pc = calloc(1, sizeof(*pc));
	struct memview mv;
	if (!pc) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	taps_memview(m, &mv);
	pc->m = m;
	pc->fd = fd;
	pc->ch = *ch; /* the channel moves here: the attempt forgets it */
	memset(ch, 0, sizeof(*ch));
	pc->npages = mv.size / MIG_PAGE;
	pc->t_start = now_s();
	sw_init(&pc->w);
	struct taps_postcopy_ops ops = {.fetch = fetch, .lost = lost, .opaque = pc};
	if (taps_postcopy_begin(m, missing, (size_t)pc->npages, &ops)) {
		snprintf(err, errlen, "out of memory for the missing pages");
		*ch = pc->ch;
		sw_free(&pc->w);
		free(pc);
		return NULL;
	}
	return pc;
}

void mig_postcopy_on_lost(struct mig_postcopy *pc, void (*fn)(int status))
{
	pc->on_lost = fn;
}

int mig_postcopy_fd(const struct mig_postcopy *pc)
{
	return pc->over ? -1 : pc->fd;
}

bool mig_postcopy_poll(void *opaque)
{
	struct mig_postcopy *pc = opaque;
	char why[512];
	double t0 = now_s();
	struct pollfd pfd = {.fd = pc->fd, .events = POLLIN};
	while (!pc->over && (now_s() - t0) * 1e3 < POLL_BUDGET_MS && poll(&pfd, 1, 0) > 0)
		if (take_one(pc, why, sizeof(why)))
			lost(pc, why);
	return !pc->over;
}

void mig_postcopy_close(struct mig_postcopy *pc, const char *why)
{
	if (!pc)
		return;
	if (!pc->over && taps_postcopy_left(pc->m) == 0 && !pc->source_done) {
		/* Every page came, but PC_DONE has not been read yet. */
		char e[512];
		while (!pc->over && take_one(pc, e, sizeof(e)) == 0)
			;
	}
	if (!pc->over) {
		chan_send(&pc->ch, MIG_ERROR, why, strlen(why), true);
		fprintf(stderr, "keel run: post-copy ended before all pages came (%llu missing): "
				"%s\n",
			(unsigned long long)taps_postcopy_left(pc->m), why);
		taps_postcopy_abandon(pc->m);
	}
	chan_free(&pc->ch);
	close(pc->fd);
	sw_free(&pc->w);
	free(pc);
}
