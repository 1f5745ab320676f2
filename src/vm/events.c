/* The event boundary.  See events.h. */
#include "vm/events.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lib/state_io.h"

void events_init(struct event_boundary *eb, const uint64_t *icount, bool seeded, uint64_t seed,
		 uint64_t fixed_epoch_ns)
{
	memset(eb, 0, sizeof(*eb));
	eb->icount = icount;
	eb->seeded = seeded;
	eb->seed = seed;
	if (fixed_epoch_ns) {
		eb->rtc_epoch_ns = fixed_epoch_ns;
	} else {
		/* The one place the host's wall clock enters the machine. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		eb->rtc_epoch_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	}
	events_deliver(eb, EV_RTC_EPOCH, &eb->rtc_epoch_ns, sizeof(eb->rtc_epoch_ns));
}

/* splitmix64 of (seed, position): a reproducible stream for tests that
 * need two runs to see the same "entropy".  Not for secrets. */
static uint64_t seeded_word(uint64_t seed, uint64_t index)
{
	uint64_t z = seed + (index + 1) * 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void seeded_fill(struct event_boundary *eb, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++, eb->stream_pos++) {
		uint64_t w = seeded_word(eb->seed, eb->stream_pos / 8);
		buf[i] = (uint8_t)(w >> (8 * (eb->stream_pos % 8)));
	}
}

void events_use_host_entropy(struct event_boundary *eb)
{
	eb->seeded = false;
}

void events_seed_entropy(struct event_boundary *eb, uint64_t seed)
{
	if (eb->seeded && eb->seed == seed)
		return;
	eb->seeded = true;
	eb->seed = seed;
	eb->stream_pos = 0;
}

int events_entropy(struct event_boundary *eb, void *buf, size_t len)
{
	if (eb->replay_entropy) {
		if (eb->replay_entropy(eb->replay_opaque, buf, len))
			return -1;
	} else if (eb->seeded) {
		seeded_fill(eb, buf, len);
	} else {
		size_t done = 0;
		while (done < len) {
			ssize_t n = getrandom((uint8_t *)buf + done, len - done, 0);
			if (n <= 0)
				return -1;
			done += (size_t)n;
		}
	}
	events_deliver(eb, EV_ENTROPY, buf, len);
	return 0;
}

void events_deliver(struct event_boundary *eb, enum event_kind kind, const void *payload,
		    size_t len)
{
	uint64_t icount = eb->icount ? *eb->icount : 0;
	for (unsigned i = 0; i < eb->nobservers; i++)
		if (eb->observers[i].fn)
			eb->observers[i].fn(eb->observers[i].opaque, icount, kind, payload, len);
}

int events_observe(struct event_boundary *eb,
		   void (*fn)(void *opaque, uint64_t icount, enum event_kind kind,
			      const void *payload, size_t len),
		   void *opaque)
{
	/* A freed slot is not reused while later ones are taken: observers
	 * keep the order in which they subscribed. */
	unsigned slot = eb->nobservers;
	while (slot > 0 && !eb->observers[slot - 1].fn)
		slot--;
	if (slot >= EVENT_MAX_OBSERVERS || !fn)
		return -1;
	eb->observers[slot].fn = fn;
	eb->observers[slot].opaque = opaque;
	eb->nobservers = slot + 1;
	return (int)slot;
}

void events_unobserve(struct event_boundary *eb, int slot)
{
	if (slot < 0 || (unsigned)slot >= eb->nobservers)
		return;
	eb->observers[slot].fn = NULL;
	eb->observers[slot].opaque = NULL;
	while (eb->nobservers > 0 && !eb->observers[eb->nobservers - 1].fn)
		eb->nobservers--;
}

void events_unobserve_all(struct event_boundary *eb)
{
	memset(eb->observers, 0, sizeof(eb->observers));
	eb->nobservers = 0;
}

/* --- State: the entropy stream's position and the RTC's epoch ---------- */

void events_save(const struct event_boundary *eb, struct state_writer *w)
{
	sw_put_u8(w, eb->seeded);
	sw_put_u64(w, eb->seed);
	sw_put_u64(w, eb->stream_pos);
	sw_put_u64(w, eb->rtc_epoch_ns);
}

int events_load(struct event_boundary *eb, struct state_reader *r)
{
	eb->seeded = sr_bool(r);
	eb->seed = sr_u64(r);
	eb->stream_pos = sr_u64(r);
	eb->rtc_epoch_ns = sr_u64(r);
	return sr_failed(r) ? -1 : 0;
}
