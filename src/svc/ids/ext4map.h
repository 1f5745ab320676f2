/* Which file a disk block belongs to: a map from the blocks of an ext4
 * file system (at offset 0 of the disk) to the paths of the regular files
 * that match a set of globs, read with libext2fs (docs/ids.md, "Disk
 * writes").
 *
 * The file system is the guest's and so hostile: every count the walk
 * makes (directories, files, extents, blocks read, depth, path length) is
 * bounded by ext4map_limits, a directory is walked once however many
 * names lead to it, and a bad structure ends the walk of that file or
 * directory (or the build, with a reason), never the host.  The disk is
 * read only through the caller's function, so tests and fuzzers feed a
 * crafted image from memory. */
#ifndef KEEL_SVC_IDS_EXT4MAP_H
#define KEEL_SVC_IDS_EXT4MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Read len bytes at byte offset off of the disk: 0, or -1. */
typedef int (*ext4map_read_fn)(void *opaque, uint64_t off, void *buf, size_t len);

struct ext4map_limits {
	uint32_t max_files; /* regular files mapped */
	uint32_t max_ranges; /* block ranges kept, all files together */
	uint32_t max_dirs; /* directories walked */
	uint32_t max_depth; /* directory nesting */
	uint64_t max_reads; /* file-system blocks read by one build */
};

#define EXT4MAP_DEFAULT_LIMITS ((struct ext4map_limits){65536, 1u << 20, 65536, 64, 1u << 20})

/* What a block is to the map. */
enum ext4map_kind {
	EXT4MAP_DATA, /* a mapped file's contents */
	EXT4MAP_META, /* where the map came from: a walked directory's blocks, a
		       * mapped file's extent-tree blocks and its inode's
		       * inode-table block; a write there may change the map */
};

struct ext4map;

/* Walk the file system on a disk of disk_size bytes and map the regular
 * files whose path (from the root, "/etc/passwd") matches one of the
 * fnmatch(3) globs (flags 0: `*` matches `/` too).  Only the directories
 * that could lead to a match are walked.  NULL with a reason in err (not
 * ext4, unreadable, a limit reached before the root was read). */
struct ext4map *ext4map_build(ext4map_read_fn read, void *opaque, uint64_t disk_size,
			      const char *const *globs, size_t nglobs,
			      const struct ext4map_limits *lim, char *err, size_t errlen);
void ext4map_free(struct ext4map *x);

/* The file-system block size, and how many files and ranges were mapped;
 * *truncated says a limit cut the walk short (the map is partial). */
void ext4map_stats(const struct ext4map *x, uint32_t *block_size, uint32_t *files,
		   uint32_t *ranges, bool *truncated);

/* Call fn for each mapped range that the disk bytes [off, off+len)
 * overlap (each range once, in block order), with the file's path (NULL
 * for metadata that is no file's), its inode and the first overlapping
 * block.  Stops early when fn returns false.  Returns how many were
 * reported. */
typedef bool (*ext4map_hit_fn)(void *opaque, enum ext4map_kind kind, const char *path,
			       uint32_t ino, uint64_t block);
unsigned ext4map_hits(const struct ext4map *x, uint64_t off, uint64_t len, ext4map_hit_fn fn,
		      void *opaque);

/* The path the map has for a block (a data block of a mapped file), or
 * NULL. */
const char *ext4map_path_of(const struct ext4map *x, uint64_t block);

#endif
