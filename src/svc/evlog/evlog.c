/* The event log.  See evlog.h.  It is also the smallest service built on
 * the taps, and docs/taps.md shows it as the example. */
#include "svc/evlog/evlog.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "svc/log/log_record.h"
#include "vm/taps.h"

#define HASH_BYTES 16

static void on_event(void *opaque, uint64_t icount, enum event_kind kind, const void *payload,
		     size_t len)
{
	struct event_log *l = opaque;
	uint8_t h[HASH_BYTES];
	char hex[2 * HASH_BYTES + 1];
	crypto_generichash(h, sizeof(h), payload, len, NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	fprintf(l->out, "{\"icount\":%" PRIu64 ",\"kind\":\"%s\",\"len\":%zu,\"hash\":\"%s\"}\n",
		icount, log_record_type_name((uint16_t)kind), len, hex);
	l->events++;
}

int event_log_open(struct event_log *l, struct machine *m, const char *path, char *err,
		   size_t errlen)
{
	memset(l, 0, sizeof(*l));
	l->m = m;
	l->out = fopen(path, "w");
	if (!l->out) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Whole lines only: a fork-clone is made between slices, so nothing
	 * of ours is ever buffered when it forks. */
	setvbuf(l->out, NULL, _IOLBF, 0);
	l->pid = getpid();
	l->subscription = taps_event_subscribe(m, on_event, l);
	if (l->subscription < 0) {
		snprintf(err, errlen, "%s: the machine has no room for another event subscriber", path);
		fclose(l->out);
		l->out = NULL;
		return -1;
	}
	return 0;
}

int event_log_close(struct event_log *l, char *err, size_t errlen)
{
	/* A fork-clone returns through its parent's code with its parent's
	 * event log, whose descriptor it has closed (host/clone.c): the file
	 * is not its to close. */
	if (!l->out || l->pid != getpid())
		return 0;
	taps_event_unsubscribe(l->m, l->subscription);
	bool bad = ferror(l->out) != 0;
	if (fclose(l->out))
		bad = true;
	l->out = NULL;
	if (bad) {
		snprintf(err, errlen, "the event log could not be written completely");
		return -1;
	}
	return 0;
}
