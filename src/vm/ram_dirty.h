/* Pages of guest RAM written since each reader last asked, for several
 * readers at once.  The bus keeps one set of dirty bits (bus/bus.h,
 * "Dirty pages"), which a collect clears; this splits it so that one
 * reader's fetch does not steal another's pages.  Readers today: the
 * taps' dirty tracking (vm/taps.h, section 5) and the state digest's
 * page-hash cache (vm/state_digest.c).  None of it is machine state. */
#ifndef KEEL_VM_RAM_DIRTY_H
#define KEEL_VM_RAM_DIRTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAM_DIRTY_READERS 4

struct ram_dirty {
	/* per reader: pages written since its last fetch; NULL = free slot */
	uint64_t *since[RAM_DIRTY_READERS];
	uint64_t *scratch; /* the bus's bits while they are shared out */
	uint64_t words;	   /* of each bitmap: RAM pages / 64, rounded up */
};

struct machine;

/* A new reader, which starts with every page clean; the first one turns
 * the bus's tracking on.  Returns the reader (>= 0) or -1 (no memory, or
 * RAM_DIRTY_READERS in use). */
int ram_dirty_open(struct machine *m);
/* Copy reader's pages into out (nbits must cover RAM; bits past its end
 * are cleared) and clear them.  Returns the number set, or -1 if the
 * reader is not open or out is too small. */
long ram_dirty_fetch(struct machine *m, int reader, uint64_t *out, size_t nbits);
/* The last reader to close turns the bus's tracking off. */
void ram_dirty_close(struct machine *m, int reader);
bool ram_dirty_is_open(const struct machine *m, int reader);
/* Every reader closed and the memory freed (machine_free). */
void ram_dirty_free(struct machine *m);

#endif
