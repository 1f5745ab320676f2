/* Replay.  See replay.h. */
#include "svc/replay/replay.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc/log/log_record.h"
#include "vm/machine.h"
#include "vm/taps.h"

static bool is_pulled(uint16_t type)
{
	return type == LOG_REC_ENTROPY;
}

static void diverge(struct replayer *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void diverge(struct replayer *r, const char *fmt, ...)
{
	if (r->diverged)
		return; /* keep the first reason */
	r->diverged = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

static int copy_payload(uint8_t **buf, size_t *cap, const struct replay_record *rec)
{
	if (rec->len > *cap) {
		uint8_t *p = realloc(*buf, rec->len);
		if (!p)
			return -1;
		*buf = p;
		*cap = rec->len;
	}
	if (rec->len)
		memcpy(*buf, rec->payload, rec->len);
	return 0;
}

/* The device asked for entropy: hand it the oldest logged request. */
static int pull_entropy(void *opaque, void *buf, size_t len)
{
	struct replayer *r = opaque;
	uint64_t icount = taps_icount(r->m);
	if (r->pull_head == r->pull_end) {
		diverge(r, "the guest asked for %zu bytes of entropy at icount %" PRIu64
			   ", the log has no such request there", len, icount);
		return -1;
	}
	struct replay_record *p = &r->pulls[r->pull_head];
	if (p->icount != icount || p->len != len) {
		diverge(r, "the guest asked for %zu bytes of entropy at icount %" PRIu64
			   "; the log has %u bytes at icount %" PRIu64, len, icount, p->len,
			p->icount);
		return -1;
	}
	memcpy(buf, p->payload, len);
	free((void *)p->payload);
	r->pull_head++;
	return 0;
}

void replayer_init(struct replayer *r, struct machine *m, struct replay_source src)
{
	memset(r, 0, sizeof(*r));
	r->m = m;
	r->src = src;
	taps_set_entropy_source(m, pull_entropy, r);
}

/* Drop the queued entropy records logged before `icount` (all of them
 * with UINT64_MAX): used before the point replay starts from. */
static void drop_pulls_before(struct replayer *r, uint64_t icount)
{
	for (; r->pull_head < r->pull_end && r->pulls[r->pull_head].icount < icount;
	     r->pull_head++)
		free((void *)r->pulls[r->pull_head].payload);
}

void replayer_free(struct replayer *r)
{
	drop_pulls_before(r, UINT64_MAX);
	free(r->pulls);
	r->pulls = NULL;
	free(r->next_buf);
	r->next_buf = NULL;
	taps_set_entropy_source(r->m, NULL, NULL);
}

/* Queue a pulled record (its payload copied). */
static int queue_pull(struct replayer *r, const struct replay_record *rec, char *err,
		      size_t errlen)
{
	if (r->pull_head == r->pull_end)
		r->pull_head = r->pull_end = 0;
	if (r->pull_end == r->pull_cap) {
		size_t cap = r->pull_cap ? 2 * r->pull_cap : 64;
		struct replay_record *p = realloc(r->pulls, cap * sizeof(*p));
		if (!p)
			goto oom;
		r->pulls = p;
		r->pull_cap = cap;
	}
	uint8_t *copy = malloc(rec->len ? rec->len : 1);
	if (!copy)
		goto oom;
	memcpy(copy, rec->payload, rec->len);
	r->pulls[r->pull_end] = *rec;
	r->pulls[r->pull_end].payload = copy;
	r->pull_end++;
	return 0;
oom:
	snprintf(err, errlen, "out of memory queueing entropy records");
	return -1;
}

/* Read up to the next pushed record, queueing pulled ones on the way.
 * Returns 1, 0 at the end, -1 on a source error. */
static int read_next(struct replayer *r, char *err, size_t errlen)
{
	while (!r->have_next && !r->source_done) {
		struct replay_record rec;
		int rc = r->src.next(r->src.opaque, &rec, err, errlen);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			r->source_done = true;
			break;
		}
		r->records++;
		if (is_pulled(rec.type)) {
			if (queue_pull(r, &rec, err, errlen))
				return -1;
			continue;
		}
		if (copy_payload(&r->next_buf, &r->next_cap, &rec)) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		r->next = rec;
		r->next.payload = r->next_buf;
		r->have_next = true;
	}
	return r->have_next;
}

/* Checkpoints are digest records, which are pushed, so reading stops
 * exactly at record `index`; the entropy before it was used before it. */
int replayer_skip_to(struct replayer *r, uint64_t index, char *err, size_t errlen)
{
	while (r->records <= index) {
		r->have_next = false;
		int rc = read_next(r, err, errlen);
		drop_pulls_before(r, UINT64_MAX);
		if (rc <= 0) {
			if (rc == 0)
				snprintf(err, errlen, "the log ends before record %" PRIu64, index);
			return -1;
		}
	}
	r->have_next = false;
	return 0;
}

int replayer_skip_before(struct replayer *r, uint64_t icount, char *err, size_t errlen)
{
	for (;;) {
		int rc = read_next(r, err, errlen);
		if (rc < 0)
			return -1;
		drop_pulls_before(r, icount);
		if (rc == 0 || r->next.icount >= icount)
			return 0;
		r->have_next = false;
	}
}

static const char *stop_name(enum stop_reason why)
{
	switch (why) {
	case STOP_EXIT: return "the guest powered off";
	case STOP_IDLE: return "the guest went idle";
	case STOP_WFI_IDLE: return "the guest waits for an interrupt that cannot come";
	case STOP_TRAP_LOOP: return "the hart is stuck in a trap loop";
	case STOP_MAX_INSNS: return "the instruction limit was reached";
	default: return "the machine stopped";
	}
}

/* Run the machine to exactly `target`.  Returns false on a divergence. */
static bool run_to(struct replayer *r, uint64_t target)
{
	struct machine *m = r->m;
	while (taps_icount(m) < target && !r->diverged) {
		taps_stop_at(m, target, NULL, r);
		enum stop_reason why = machine_run(m, 0);
		taps_stop_cancel(m, r); /* gone if reached; not if it stopped early */
		/* Idle exactly at the target is where the live run stopped too. */
		if (why == STOP_AT || r->diverged || taps_icount(m) >= target)
			continue;
		diverge(r, "%s at icount %" PRIu64 ", but the log's next event is at icount %" PRIu64,
			stop_name(why), taps_icount(m), target);
	}
	return !r->diverged;
}

static void check_digest(struct replayer *r, const struct replay_record *rec)
{
	uint8_t d[STATE_DIGEST_BYTES];
	if (rec->len != STATE_DIGEST_BYTES) {
		diverge(r, "digest record at icount %" PRIu64 " has %u bytes", rec->icount, rec->len);
		return;
	}
	state_digest(r->m, d);
	if (memcmp(d, rec->payload, sizeof(d))) {
		r->bad_icount = rec->icount;
		diverge(r, "state digest differs at the checkpoint at icount %" PRIu64
			   " (last match: icount %" PRIu64 ")", rec->icount, r->last_good_icount);
		return;
	}
	r->digests_checked++;
	r->last_good_icount = rec->icount;
	r->last_good_index = r->records - 1;
	if (r->on_good_digest)
		r->on_good_digest(r->on_good_opaque, r->m, r->last_good_index);
}

static uint64_t payload_u64(const struct replay_record *rec)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8 && i < rec->len; i++)
		v |= (uint64_t)rec->payload[i] << (8 * i);
	return v;
}

/* Apply a pushed record at its icount, as the host loop did live. */
static void apply(struct replayer *r, const struct replay_record *rec)
{
	struct machine *m = r->m;
	switch (rec->type) {
	case LOG_REC_CONSOLE_INPUT:
		if (machine_console_input(m, rec->payload, rec->len) != rec->len)
			diverge(r, "the console could not take %u logged bytes at icount %" PRIu64,
				rec->len, rec->icount);
		break;
	case LOG_REC_NET_FRAME:
		if (machine_net_input(m, rec->payload, rec->len))
			diverge(r, "the network card could not take a logged frame at icount %" PRIu64,
				rec->icount);
		break;
	case LOG_REC_TIME_ADJUST:
		if (rec->len != 8)
			diverge(r, "time adjustment at icount %" PRIu64 " has %u bytes", rec->icount,
				rec->len);
		else
			machine_adjust_time(m, payload_u64(rec));
		break;
	case LOG_REC_IDLE_SKIP:
		if (!machine_skip_to_deadline(m))
			diverge(r, "the log skips idle time at icount %" PRIu64
				   " but no timer is armed", rec->icount);
		break;
	case LOG_REC_DIGEST:
		check_digest(r, rec);
		break;
	default:
		/* Session markers, snapshot references, API commands that
		 * changed nothing the guest sees, the RTC epoch (restored with
		 * the checkpoint): nothing to do. */
		break;
	}
}

enum replay_result replayer_run(struct replayer *r, char *err, size_t errlen)
{
	struct machine *m = r->m;
	for (;;) {
		int rc = read_next(r, err, errlen);
		if (rc < 0)
			return REPLAY_ERROR;
		uint64_t target = rc ? r->next.icount : taps_icount(m);
		if (target < taps_icount(m)) {
			diverge(r, "the log's next event is at icount %" PRIu64
				   ", the machine is already at %" PRIu64, target, taps_icount(m));
			return REPLAY_DIVERGED;
		}
		bool until_first = r->until && r->until <= target;
		uint64_t stop = until_first ? r->until : target;
		if (r->perturb_reg && r->perturb_at >= taps_icount(m) && r->perturb_at <= stop) {
			if (!run_to(r, r->perturb_at))
				return REPLAY_DIVERGED;
			struct tap_regs regs;
			taps_regs(m, &regs);
			taps_set_xreg(m, r->perturb_reg, regs.x[r->perturb_reg] ^ 1);
			r->perturb_reg = 0;
		}
		if (until_first)
			return run_to(r, r->until) ? REPLAY_UNTIL : REPLAY_DIVERGED;
		if (!run_to(r, target))
			return REPLAY_DIVERGED;
		/* (At the end of a log cut short, e.g. by a crash, entropy may
		 * be logged that the machine was about to use.) */
		if (rc && r->pull_head < r->pull_end) {
			diverge(r, "the log has %u bytes of entropy at icount %" PRIu64
				   " that the guest never asked for", r->pulls[r->pull_head].len,
				r->pulls[r->pull_head].icount);
			return REPLAY_DIVERGED;
		}
		if (!rc)
			return REPLAY_END;
		apply(r, &r->next);
		r->have_next = false;
		if (r->diverged)
			return REPLAY_DIVERGED;
	}
}
