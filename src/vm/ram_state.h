/* Guest RAM as a snapshot section: a bitmap of non-zero pages, then those
 * pages as one zstd frame (docs/snapshot-format.md, RAM).  It knows the
 * RAM and nothing else of the machine, so the machine's boot image and
 * the snapshot's RAM section both use it. */
#ifndef KEEL_VM_RAM_STATE_H
#define KEEL_VM_RAM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;
struct state_reader;
struct state_writer;

/* Encode `size` bytes of RAM.  `checksum`: zstd's content checksum on the
 * frame, so the decoder itself catches a flipped bit in the compressed
 * pages (snapshots); the boot image goes without, because state digests
 * hash it and must not change under recordings made before the checksum
 * existed.  Returns 0, or -1 with a reason. */
int ram_state_save(const uint8_t *ram, uint64_t size, bool checksum, struct state_writer *w,
		   char *err, size_t errlen);
/* Decode into RAM; the size must match.  Pages absent from the encoding
 * read as zero.  RAM is written directly, not through `bus`, so decoded
 * code is made stale (bus_ram_rewritten) whether this succeeds or not. */
int ram_state_load(uint8_t *ram, uint64_t size, struct bus *bus, struct state_reader *r);

#endif
