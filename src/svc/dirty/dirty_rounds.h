/* Dirty-page rounds (`keel run --track-dirty MS`): dirty-page tracking on
 * (vm/taps.h, section 5) and a fetch-and-clear every MS milliseconds of
 * virtual time, as a pre-copy migration loop makes them, counting what
 * each round found.  It copies nothing: it shows what tracking costs
 * (bench/taps-bench) and how much a guest writes per interval. */
#ifndef KEEL_SVC_DIRTY_DIRTY_ROUNDS_H
#define KEEL_SVC_DIRTY_DIRTY_ROUNDS_H

#include <stddef.h>
#include <stdint.h>

struct machine;

struct dirty_rounds {
	struct machine *m;
	uint64_t every; /* instructions between fetches */
	uint64_t *bitmap;
	size_t nbits;
	uint64_t rounds, pages, max_pages; /* fetches, pages they found, the most in one */
};

/* Start tracking and the rounds.  Returns 0, or -1 with the reason in
 * err. */
int dirty_rounds_start(struct dirty_rounds *d, struct machine *m, uint64_t ms, char *err,
		       size_t errlen);
/* Stop both (a no-op for one never started). */
void dirty_rounds_stop(struct dirty_rounds *d);

#endif
