/* Recording.  See recorder.h. */
#include "svc/record/recorder.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "svc/log/log_record.h"
#include "svc/log/log_writer.h"
#include "vm/snapshot.h"
#include "vm/taps.h"
#include "vm/state_digest.h"

/* A record that cannot be logged ends the recording: a VM that goes on
 * running unrecorded would make the log silently incomplete. */
static void fail(struct recorder *r, const char *what)
{
	if (r->failed)
		return;
	r->failed = true;
	snprintf(r->err, sizeof(r->err), "%s: %s", what, log_writer_error(r->log));
	fprintf(stderr, "keel: recording stopped: %s\n", r->err);
	taps_request_exit(r->m, 1);
}

/* Seal if the log's interval passed.  Called on every event and at every
 * checkpoint stop; an idle guest still crosses the boundary at each timer
 * tick (EV_IDLE_SKIP), so seals keep coming while it waits. */
static void tick(struct recorder *r)
{
	if (!r->failed && log_writer_tick(r->log))
		fail(r, "sealing");
}

static void on_event(void *opaque, uint64_t icount, enum event_kind kind, const void *payload,
		     size_t len)
{
	struct recorder *r = opaque;
	if (r->failed)
		return;
	if (log_writer_append(r->log, icount, (uint16_t)kind, payload, (uint32_t)len))
		fail(r, "appending an event");
	else
		tick(r);
}

/* This thread's CPU time: the machine runs on it, host I/O does not. */
static double thread_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int log_digest(struct recorder *r)
{
	uint8_t d[STATE_DIGEST_BYTES];
	double t0 = thread_cpu_s();
	int rc = state_digest(r->m, d);
	r->digest_cpu_s += thread_cpu_s() - t0;
	if (rc ||
	    log_writer_append(r->log, taps_icount(r->m), LOG_REC_DIGEST, d, sizeof(d))) {
		fail(r, "logging a checkpoint digest");
		return -1;
	}
	r->digests++;
	return 0;
}

static int save_checkpoint(struct recorder *r, const char *dir, char *err, size_t errlen)
{
	char name[64], path[4096];
	snprintf(name, sizeof(name), "checkpoint-%" PRIu64 ".snap", taps_icount(r->m));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	/* The file's hash comes from writing it: reading 100 MiB back to
	 * hash it again cost a Debian recording 0.17 s of CPU. */
	uint8_t hash[SNAPSHOT_SUM_BYTES];
	if (snapshot_save_file_hashed(r->m, path, hash, err, errlen))
		return -1;
	if (log_writer_add_snapshot_hashed(r->log, taps_icount(r->m), name, hash)) {
		snprintf(err, errlen, "%s: %s", path, log_writer_error(r->log));
		return -1;
	}
	return 0;
}

static bool at_checkpoint(void *opaque, struct machine *m, uint64_t icount);

int recorder_start(struct recorder *r, struct machine *m, const struct recorder_options *o,
		   char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->m = m;
	r->subscription = -1;
	r->every = o->checkpoint_every;
	struct log_writer_options lo = {
		.dir = o->dir,
		.seal_key_path = o->seal_key,
		.sign_key_path = o->sign_key,
		.seal_interval_ms = o->seal_interval_ms,
		.seal_bytes = o->seal_bytes,
	};
	if (log_writer_open(&r->log, &lo, err, errlen))
		return -1;
	const char *warning = log_writer_warning(r->log);
	if (warning)
		fprintf(stderr, "keel record: %s\n", warning);
	uint64_t icount = taps_icount(m);
	uint64_t epoch = taps_rtc_epoch_ns(m);
	int rc_checkpoint;
	const char *json = o->session_json ? o->session_json : "{}";
	if (log_writer_append(r->log, icount, LOG_REC_SESSION_START, json, (uint32_t)strlen(json)) ||
	    log_writer_append(r->log, icount, LOG_REC_RTC_EPOCH, &epoch, 8)) {
		snprintf(err, errlen, "%s: %s", o->dir, log_writer_error(r->log));
		goto fail;
	}
	double t0 = thread_cpu_s();
	rc_checkpoint = save_checkpoint(r, o->dir, err, errlen);
	r->checkpoint_cpu_s = thread_cpu_s() - t0;
	if (rc_checkpoint)
		goto fail;
	if (log_digest(r)) {
		snprintf(err, errlen, "%s", r->err);
		goto fail;
	}
	r->subscription = taps_event_subscribe(m, on_event, r);
	if (r->subscription < 0) {
		snprintf(err, errlen, "the machine has no room for another event subscriber");
		goto fail;
	}
	if (r->every && taps_stop_at(m, icount + r->every, at_checkpoint, r)) {
		snprintf(err, errlen, "the machine has no room for another stop point");
		goto fail;
	}
	return 0;
fail:
	taps_event_unsubscribe(m, r->subscription);
	log_writer_free(r->log);
	r->log = NULL;
	return -1;
}

/* A stop point every `every` instructions: log the state digest there
 * and set the next one.  A failure has ended the run (fail). */
static bool at_checkpoint(void *opaque, struct machine *m, uint64_t icount)
{
	struct recorder *r = opaque;
	if (r->failed)
		return false;
	log_digest(r);
	tick(r);
	if (!r->failed && taps_stop_at(m, icount + r->every, at_checkpoint, r))
		fail(r, "setting the next checkpoint");
	return false;
}

int recorder_finish(struct recorder *r, const char *reason, char *err, size_t errlen)
{
	struct machine *m = r->m;
	taps_event_unsubscribe(m, r->subscription);
	taps_stop_cancel(m, r);
	if (!r->failed) {
		char json[256];
		int n = snprintf(json, sizeof(json), "{\"reason\":\"%s\",\"icount\":%" PRIu64 "}",
				 reason, taps_icount(m));
		if (log_digest(r) == 0 &&
		    log_writer_append(r->log, taps_icount(m), LOG_REC_SESSION_END, json, (uint32_t)n))
			fail(r, "logging the session end");
	}
	bool ok = !r->failed;
	if (log_writer_close(r->log, err, errlen))
		ok = false;
	else if (!ok)
		snprintf(err, errlen, "%s", r->err);
	r->log = NULL;
	return ok ? 0 : -1;
}
