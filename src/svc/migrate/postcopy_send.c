/* The source's side of a post-copy (docs/migrate.md, "Post-copy"): at the
 * stop, find the pages the destination lacks, send the state and the
 * hart's working set, and hand over with the rest missing; then, paused,
 * answer the destination's page requests and push everything else,
 * going on from the last page asked for, until the destination has all
 * of RAM.  The destination's side is postcopy.c. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc/migrate/source.h"
#include "svc/migrate/stream.h"
#include "vm/ram_page.h"
#include "vm/taps.h"

#define PC_PUSH_PAGES 64 /* a pushed batch: small, so a request waits little behind it */
#define PC_INFLIGHT 4 /* pushed messages the destination has not taken yet, at most */
#define PC_WINDOW 16 /* pages sent with a requested one: the next ones, often touched next */
#define PC_WORKING_SET 1024 /* pages sent before the VM runs there (one batch) */

static bool bit(const uint64_t *b, uint64_t i) { return b[i / 64] >> (i % 64) & 1; }

/* Which pages the destination lacks, now that the VM has stopped: with
 * tracking, those written since they were sent and those this round has
 * not reached (in round 1, only if they are not zero: the destination's
 * fresh RAM is; mig_pc_scan_step may have found the zero ones already);
 * without, those that differ from what was sent. */
static int find_missing(struct mig_source *s, char *err, size_t errlen)
{
	uint64_t words = (s->npages + 63) / 64;
	uint64_t *dirty = calloc(words, 8);
	s->pc_left = calloc(words, 8);
	if (!dirty || !s->pc_left || (s->tracking && taps_dirty_fetch(s->m, dirty, s->npages) < 0)) {
		free(dirty);
		snprintf(err, errlen, "out of memory for the migration's page sets");
		return -1;
	}
	struct memview mv;
	taps_memview(s->m, &mv);
	for (uint64_t i = 0; i < s->npages; i++) {
		const uint8_t *p = mv.ram + i * MIG_PAGE;
		bool miss;
		if (!s->tracking)
			miss = memcmp(p, s->shadow + i * MIG_PAGE, MIG_PAGE) != 0;
		else
			miss = bit(dirty, i) || (i >= s->cursor && bit(s->pending, i) &&
						 (s->st.rounds > 0 || s->pc_scan >= s->npages ||
						  !ram_page_is_zero(p)));
		if (miss) {
			s->pc_left[i / 64] |= 1ULL << (i % 64);
			s->st.pc_missing++;
		}
	}
	free(dirty);
	return 0;
}

bool mig_pc_scan_step(struct mig_source *s)
{
	/* Without tracking the stop compares all of RAM with the shadow
	 * anyway; with it, reading all of RAM there would be most of the
	 * downtime.  A page found zero here and written later is in the
	 * dirty set at the stop. */
	if (!s->tracking || s->st.rounds > 0)
		return true;
	struct memview mv;
	taps_memview(s->m, &mv);
	double t0 = mig_src_now_s();
	while (s->pc_scan < s->npages && (mig_src_now_s() - t0) * 1e3 < STEP_MS) {
		uint64_t end = s->pc_scan + 1024 < s->npages ? s->pc_scan + 1024 : s->npages;
		for (; s->pc_scan < end; s->pc_scan++)
			if (ram_page_is_zero(mv.ram + s->pc_scan * MIG_PAGE))
				s->pending[s->pc_scan / 64] &= ~(1ULL << (s->pc_scan % 64));
	}
	return s->pc_scan >= s->npages;
}

/* Send up to `max` pages of pc_left from `from` on (wrapping), and
 * forget them.  Returns how many, or -1. */
static long send_left(struct mig_source *s, uint64_t from, size_t max, bool wrap, char *err,
		      size_t errlen)
{
	uint32_t pages[MIG_BATCH_PAGES];
	size_t n = 0;
	uint64_t i = from, seen = 0, span = wrap ? s->npages : s->npages - from;
	for (; n < max && seen < span && s->st.pc_missing > s->st.pc_pages + n; seen++, i++) {
		if (i >= s->npages)
			i = 0;
		if (bit(s->pc_left, i))
			pages[n++] = (uint32_t)i;
	}
	if (!n)
		return 0;
	/* A RAM message wants its pages in ascending order. */
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0 && pages[b - 1] > pages[b]; b--) {
			uint32_t t = pages[b];
			pages[b] = pages[b - 1];
			pages[b - 1] = t;
		}
	if (mig_src_send_pages(s, pages, n, err, errlen))
		return -1;
	for (size_t k = 0; k < n; k++)
		s->pc_left[pages[k] / 64] &= ~(1ULL << (pages[k] % 64));
	s->st.pc_pages += n;
	s->pc_cursor = i % s->npages;
	if (s->pc_inflight++ == 0)
		s->pc_heard = mig_src_now_s(); /* the wait for its acknowledgement starts */
	return (long)n;
}

/* The pages the hart's TLBs reach (its working set just before the
 * stop) go with the state, so the VM's first steps there do not wait. */
static int send_working_set(struct mig_source *s, char *err, size_t errlen)
{
	uint64_t words = (s->npages + 63) / 64;
	uint64_t *ws = calloc(words, 8);
	uint32_t pages[MIG_BATCH_PAGES];
	size_t n = 0;
	if (!ws) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	taps_recent_pages(s->m, ws, s->npages);
	for (uint64_t i = 0; i < s->npages && n < PC_WORKING_SET; i++)
		if (bit(ws, i) && bit(s->pc_left, i))
			pages[n++] = (uint32_t)i;
	free(ws);
	if (n && mig_src_send_pages(s, pages, n, err, errlen))
		return -1;
	for (size_t k = 0; k < n; k++)
		s->pc_left[pages[k] / 64] &= ~(1ULL << (pages[k] % 64));
	s->st.pc_missing -= n;
	return 0;
}

int mig_pc_presend(struct mig_source *s, char *err, size_t errlen)
{
	uint64_t words = (s->npages + 63) / 64;
	uint64_t *ws = calloc(words, 8), *dirty = calloc(words, 8);
	uint32_t pages[MIG_BATCH_PAGES];
	size_t n = 0;
	int rc = -1;
	if (!ws || !dirty)
		goto out;
	/* Written since the last look: still lacking there (a page found
	 * zero before is pending again); what is sent now and written after
	 * is in the dirty set at the stop. */
	if (s->tracking) {
		if (taps_dirty_fetch(s->m, dirty, s->npages) < 0)
			goto out;
		for (uint64_t w = 0; w < words; w++)
			s->pending[w] |= dirty[w];
	}
	taps_recent_pages(s->m, ws, s->npages);
	for (uint64_t i = 0; i < s->npages && n < PC_WORKING_SET && n < MIG_BATCH_PAGES; i++)
		if (bit(ws, i) && (!s->tracking || bit(s->pending, i)))
			pages[n++] = (uint32_t)i;
	if (n && mig_src_send_pages(s, pages, n, err, errlen)) {
		rc = -2;
		goto out;
	}
	if (s->tracking)
		for (size_t k = 0; k < n; k++)
			s->pending[pages[k] / 64] &= ~(1ULL << (pages[k] % 64));
	rc = 0;
out:
	if (rc == -1)
		snprintf(err, errlen, "out of memory for the migration's page sets");
	free(ws);
	free(dirty);
	return rc ? -1 : 0;
}

/* Stop, send the state, the working set and the list of what is still
 * missing, and hand over: the VM runs on the destination from here. */
enum mig_status mig_pc_start(struct mig_source *s, char *err, size_t errlen)
{
	s->t_stop = mig_src_now_s();
	mig_trace("source", "stop");
	s->st.icount = taps_icount(s->m);
	s->st.postcopy = true;
	if (find_missing(s, err, errlen))
		return MIG_FAILED;
	double t = mig_src_now_s();
	s->st.stop_pages_ms = (t - s->t_stop) * 1e3; /* finding them: none is sent */
	if (mig_src_send_state(s, err, errlen) || send_working_set(s, err, errlen))
		return MIG_FAILED;
	sw_reset(&s->w);
	mig_bitmap_encode(&s->w, s->pc_left, s->npages);
	if (chan_send(&s->ch, MIG_POSTCOPY, s->w.buf, s->w.len, false)) {
		snprintf(err, errlen, "%s", s->ch.err);
		return MIG_FAILED;
	}
	if (mig_src_send_end(s, err, errlen))
		return MIG_FAILED;
	s->st.stop_state_ms = (mig_src_now_s() - t) * 1e3;
	mig_trace("source", "end-sent");
	int rc = mig_src_handover(s, false, err, errlen);
	if (rc)
		return rc < 0 ? MIG_FAILED : MIG_UNCONFIRMED;
	t = mig_src_now_s();
	s->st.downtime_ms = (t - s->t_stop) * 1e3;
	s->pc = true;
	s->pc_heard = t;
	s->st.bytes = s->ch.bytes_out + s->ch.bytes_in;
	return MIG_HANDED_OVER;
}

/* After the handover, a failure leaves the VM nowhere running: the
 * destination stops when a page cannot come. */
static enum mig_status pc_failed(struct mig_source *s, const char *why, char *err, size_t errlen)
{
	snprintf(err, errlen, "post-copy failed after the handover: %s; %llu pages had not "
			      "reached the destination, which cannot run without them and stops; "
			      "this copy stays paused as it was at the handover (icount %llu): "
			      "'keel ctl resume' runs it here",
		 why, (unsigned long long)(s->st.pc_missing - s->st.pc_pages),
		 (unsigned long long)s->st.icount);
	return MIG_UNCONFIRMED;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* May a push go now?  Only with fewer than PC_INFLIGHT RAM messages not
 * yet taken there: a request then waits behind at most those, not behind
 * megabytes queued in the sockets.  A rush (the destination drains all
 * of it) ignores both the window and the throttle. */
static bool can_push(const struct mig_source *s, double now)
{
	return !s->pc_done_sent && s->st.pc_pages < s->st.pc_missing &&
	       (s->pc_rush || (s->pc_inflight < PC_INFLIGHT &&
			       (!s->req.throttle_ms || now >= s->next_send)));
}

/* Waiting on the destination: for acknowledgements, or for COMPLETE. */
static bool owed(const struct mig_source *s)
{
	return s->pc_done_sent || s->pc_inflight > 0;
}

/* The destination's COMPLETE: its figures, and the end. */
static enum mig_status complete(struct mig_source *s, const uint8_t *body, size_t len, char *err,
				size_t errlen)
{
	struct mig_pc_figures f;
	if (mig_pc_figures_decode(body, len, &f))
		return pc_failed(s, "a bad COMPLETE", err, errlen);
	double t = mig_src_now_s();
	s->st.pc_faults = f.faults;
	s->st.pc_fault_pages = f.pages;
	s->st.pc_slowest_fault_ms = (double)f.slowest_fault_us / 1e3;
	s->st.pc_fault_wait_ms = (double)f.fault_wait_us / 1e3;
	s->st.pc_ms = (t - s->t_stop) * 1e3 - s->st.downtime_ms;
	s->st.total_ms = (t - s->t_start) * 1e3;
	s->st.bytes = s->ch.bytes_out + s->ch.bytes_in;
	return MIG_DONE;
}

static enum mig_status unconfirmed(struct mig_source *s, const char *why, char *err,
				   size_t errlen)
{
	snprintf(err, errlen, "every page was sent, but the destination did not confirm (%s); "
			      "the VM stays paused here: resume it only if the destination is "
			      "not running it",
		 why);
	(void)s;
	return MIG_UNCONFIRMED;
}

/* Take every message that has arrived, without waiting: requests are
 * answered at once, each with its page and the next few still missing
 * (the push goes on from there), ahead of any push.  MIG_CONTINUE, or
 * MIG_DONE at COMPLETE, or a failure with err set. */
static enum mig_status take_messages(struct mig_source *s, char *err, size_t errlen)
{
	struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
	char why[600];
	while (poll(&pfd, 1, 0) > 0) {
		uint8_t type;
		const uint8_t *body;
		size_t len;
		if (chan_recv(&s->ch, &type, &body, &len) < 0)
			return s->pc_done_sent ? unconfirmed(s, s->ch.err, err, errlen)
					       : pc_failed(s, s->ch.err, err, errlen);
		s->pc_heard = mig_src_now_s();
		if (type == MIG_ERROR) {
			snprintf(why, sizeof(why), "the destination gave up: %.*s",
				 (int)(len < 400 ? len : 400), (const char *)body);
			return pc_failed(s, why, err, errlen);
		}
		if (type == MIG_COMPLETE && s->pc_done_sent)
			return complete(s, body, len, err, errlen);
		if (type == MIG_PC_ACK && len == 0 && s->pc_inflight > 0) {
			s->pc_inflight--;
			continue;
		}
		if (type != MIG_PAGE_REQ || len != 4 ||
		    (get_u32(body) >= s->npages && get_u32(body) != MIG_PAGE_REQ_ALL)) {
			snprintf(why, sizeof(why), "the destination sent a bad %s",
				 mig_msg_name(type));
			return pc_failed(s, why, err, errlen);
		}
		/* Requests that crossed PC_DONE on the way are answered by it. */
		if (s->pc_done_sent)
			continue;
		if (get_u32(body) == MIG_PAGE_REQ_ALL) {
			s->pc_rush = true;
			continue;
		}
		uint64_t page = get_u32(body);
		s->st.pc_requests++;
		/* Sent already (in flight): it arrives without us. */
		if (bit(s->pc_left, page) && send_left(s, page, PC_WINDOW, false, why, sizeof(why)) < 0)
			return pc_failed(s, why, err, errlen);
	}
	return MIG_CONTINUE;
}

enum mig_status mig_pc_step(struct mig_source *s, char *err, size_t errlen)
{
	char why[600];
	double t0 = mig_src_now_s();
	enum mig_status st = take_messages(s, err, errlen);
	if (st != MIG_CONTINUE)
		return st;
	/* Pushes, each after the requests that came meanwhile; rushed: full
	 * batches until the step's time is up. */
	for (double now = t0; can_push(s, now); now = mig_src_now_s()) {
		if (s->pc_rush && (now - t0) * 1e3 >= STEP_MS)
			break;
		if (s->req.throttle_ms && !s->pc_rush)
			s->next_send = now + s->req.throttle_ms / 1e3;
		long n = send_left(s, s->pc_cursor, s->pc_rush ? MIG_BATCH_PAGES : PC_PUSH_PAGES,
				   true, why, sizeof(why));
		if (n < 0)
			return pc_failed(s, why, err, errlen);
		if (n == 0)
			break;
		if ((st = take_messages(s, err, errlen)) != MIG_CONTINUE)
			return st;
	}
	s->st.bytes = s->ch.bytes_out + s->ch.bytes_in;
	if (s->st.pc_pages >= s->st.pc_missing && !s->pc_done_sent) {
		if (chan_send(&s->ch, MIG_PC_DONE, NULL, 0, true))
			return pc_failed(s, s->ch.err, err, errlen);
		s->pc_done_sent = true;
		s->pc_heard = mig_src_now_s();
	}
	/* A destination that owes an answer and stays silent is gone. */
	if (owed(s) && !can_push(s, mig_src_now_s()) &&
	    (mig_src_now_s() - s->pc_heard) * 1e3 > s->req.timeout_ms) {
		snprintf(why, sizeof(why), "the destination went silent for %u ms",
			 s->req.timeout_ms);
		return s->pc_done_sent ? unconfirmed(s, why, err, errlen)
				       : pc_failed(s, why, err, errlen);
	}
	if ((mig_src_now_s() - s->t_report) * 1e3 < PROGRESS_MS || s->pc_done_sent)
		return MIG_CONTINUE;
	s->t_report = mig_src_now_s();
	return MIG_PROGRESS;
}

short mig_pc_events(const struct mig_source *s)
{
	return can_push(s, mig_src_now_s()) ? POLLIN | POLLOUT : POLLIN;
}

int mig_pc_timeout_ms(const struct mig_source *s)
{
	double now = mig_src_now_s(), due = -1;
	if (!s->pc_done_sent && s->st.pc_pages < s->st.pc_missing && s->req.throttle_ms &&
	    !s->pc_rush && s->pc_inflight < PC_INFLIGHT)
		due = s->next_send;
	if (owed(s)) {
		double silent = s->pc_heard + s->req.timeout_ms / 1e3;
		due = due < 0 || silent < due ? silent : due;
	}
	/* Progress lines go on while the VM waits for nothing. */
	if (!s->pc_done_sent) {
		double report = s->t_report + PROGRESS_MS / 1e3;
		due = due < 0 || report < due ? report : due;
	}
	if (due < 0)
		return -1;
	return due <= now ? 0 : (int)((due - now) * 1e3) + 1;
}
