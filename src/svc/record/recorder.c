/* Recording.  See recorder.h. */
#include "svc/record/recorder.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "svc/log/log_record.h"
#include "svc/log/log_writer.h"
#include "vm/machine.h"
#include "vm/snapshot.h"
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
	r->m->exited = true;
	r->m->exit_code = 1;
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

static int log_digest(struct recorder *r)
{
	uint8_t d[STATE_DIGEST_BYTES];
	if (state_digest(r->m, d) ||
	    log_writer_append(r->log, r->m->hart.icount, LOG_REC_DIGEST, d, sizeof(d))) {
		fail(r, "logging a checkpoint digest");
		return -1;
	}
	r->digests++;
	return 0;
}

static int save_checkpoint(struct recorder *r, const char *dir, char *err, size_t errlen)
{
	char name[64], path[4096];
	snprintf(name, sizeof(name), "checkpoint-%" PRIu64 ".snap", r->m->hart.icount);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (snapshot_save_file(r->m, path, err, errlen))
		return -1;
	if (log_writer_add_snapshot(r->log, r->m->hart.icount, name)) {
		snprintf(err, errlen, "%s: %s", path, log_writer_error(r->log));
		return -1;
	}
	return 0;
}

int recorder_start(struct recorder *r, struct machine *m, const struct recorder_options *o,
		   char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->m = m;
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
	uint64_t icount = m->hart.icount;
	const char *json = o->session_json ? o->session_json : "{}";
	if (log_writer_append(r->log, icount, LOG_REC_SESSION_START, json, (uint32_t)strlen(json)) ||
	    log_writer_append(r->log, icount, LOG_REC_RTC_EPOCH, &m->events.rtc_epoch_ns, 8)) {
		snprintf(err, errlen, "%s: %s", o->dir, log_writer_error(r->log));
		goto fail;
	}
	if (save_checkpoint(r, o->dir, err, errlen))
		goto fail;
	if (log_digest(r)) {
		snprintf(err, errlen, "%s", r->err);
		goto fail;
	}
	m->events.record = on_event;
	m->events.record_opaque = r;
	if (r->every) {
		r->next_checkpoint = icount + r->every;
		m->stop_at = r->next_checkpoint;
	}
	return 0;
fail:
	log_writer_free(r->log);
	r->log = NULL;
	return -1;
}

int recorder_at_stop(void *opaque, struct machine *m)
{
	struct recorder *r = opaque;
	if (r->every && m->hart.icount >= r->next_checkpoint) {
		log_digest(r);
		r->next_checkpoint = m->hart.icount + r->every;
	}
	m->stop_at = r->every ? r->next_checkpoint : 0;
	tick(r);
	return r->failed ? -1 : 0;
}

int recorder_finish(struct recorder *r, const char *reason, char *err, size_t errlen)
{
	struct machine *m = r->m;
	m->events.record = NULL;
	m->stop_at = 0;
	if (!r->failed) {
		char json[256];
		int n = snprintf(json, sizeof(json), "{\"reason\":\"%s\",\"icount\":%" PRIu64 "}",
				 reason, m->hart.icount);
		if (log_digest(r) == 0 &&
		    log_writer_append(r->log, m->hart.icount, LOG_REC_SESSION_END, json, (uint32_t)n))
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
