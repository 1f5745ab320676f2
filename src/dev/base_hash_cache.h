/* A cache of base-image hashes across keel processes.
 *
 * Every overlay open checks its base by BLAKE2b-256 of the whole base
 * (about 1.5 s per GiB), which dominated restore and clone start-up.  The
 * hash of a file is remembered in $XDG_CACHE_HOME/keel/base-hash/ (else
 * ~/.cache/keel/base-hash/), under a name made of what the kernel changes
 * whenever the file's bytes may have changed: device, inode, size,
 * modification time and change time (a user can set mtime, not ctime).
 * A file changed in the last few seconds is not cached (its timestamps
 * might not move on its next change).  A miss, or no usable cache
 * directory, just means hashing again. */
#ifndef KEEL_DEV_BASE_HASH_CACHE_H
#define KEEL_DEV_BASE_HASH_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#define BASE_HASH_BYTES 32

/* True, with the hash in `out`, if the file open on `fd` (of `size`
 * bytes) has a cached hash. */
bool base_hash_cache_get(int fd, uint64_t size, uint8_t out[BASE_HASH_BYTES]);
/* Remember `hash` for the file open on `fd`.  Failures are ignored. */
void base_hash_cache_put(int fd, uint64_t size, const uint8_t hash[BASE_HASH_BYTES]);

#endif
