/* The block-to-path map of ext4map.h, built with libext2fs over an I/O
 * manager that reads through the caller's function.
 *
 * libext2fs is what e2fsck runs on broken file systems (and is fuzzed
 * upstream), so it checks the structures it parses; what it does not
 * bound is how much a well-formed but hostile file system makes a walker
 * do: a million files, extents or directories, a directory hard-linked
 * into itself, paths nested without end.  Those bounds are here. */
#include "svc/ids/ext4map.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

#define MAP_PATH_MAX 4096
#define MANAGER_PREFIX "keel-ext4map:"
/* extents or blocks visited per range allowed: enough for any real file
 * system, a bound for a tree whose leaves all merge into one range */
#define STEP_FACTOR 4

struct range {
	uint64_t start;
	uint32_t len;
	uint32_t file; /* index into files, or UINT32_MAX for metadata that is no file's */
	uint8_t kind;
};

struct file {
	uint32_t ino;
	char *path;
};

struct ext4map {
	uint32_t block_size;
	struct range *r;
	uint64_t *max_end; /* max_end[i]: the largest start + len of r[0..i] */
	uint32_t nr, cap_r;
	struct file *f;
	uint32_t nf, cap_f;
	bool truncated;
};

/* ---- the I/O manager: blocks from the caller's read function ---- */

struct io_priv {
	ext4map_read_fn read;
	void *opaque;
	uint64_t disk_size;
	uint64_t reads, max_reads;
	bool over_budget;
};

static errcode_t io_open(const char *name, int flags, io_channel *channel);

static errcode_t io_close(io_channel ch)
{
	if (--ch->refcount > 0)
		return 0;
	free(ch->name);
	free(ch);
	return 0;
}

static errcode_t io_set_blksize(io_channel ch, int blksize)
{
	if (blksize < 512 || blksize > 65536)
		return EXT2_ET_INVALID_ARGUMENT;
	ch->block_size = blksize;
	return 0;
}

static errcode_t io_read64(io_channel ch, unsigned long long block, int count, void *data)
{
	struct io_priv *p = ch->private_data;
	/* count < 0: -count bytes (libext2fs's convention) */
	uint64_t len = count < 0 ? (uint64_t)-(int64_t)count : (uint64_t)count * (uint64_t)ch->block_size;
	uint64_t bs = (uint64_t)ch->block_size;
	if (len > (64u << 20) || block > p->disk_size / bs)
		return EXT2_ET_SHORT_READ;
	uint64_t off = block * bs;
	if (len > p->disk_size - off)
		return EXT2_ET_SHORT_READ;
	uint64_t blocks = (len + bs - 1) / bs;
	if (p->reads + blocks > p->max_reads) {
		p->over_budget = true;
		return EXT2_ET_SHORT_READ;
	}
	p->reads += blocks;
	return p->read(p->opaque, off, data, (size_t)len) ? EXT2_ET_SHORT_READ : 0;
}

static errcode_t io_read(io_channel ch, unsigned long block, int count, void *data)
{
	return io_read64(ch, block, count, data);
}

static errcode_t io_write(io_channel ch, unsigned long block, int count, const void *data)
{
	return EXT2_ET_RO_FILSYS; /* the map never writes the guest's disk */
}

static errcode_t io_write64(io_channel ch, unsigned long long block, int count, const void *data)
{
	return EXT2_ET_RO_FILSYS;
}

static errcode_t io_flush(io_channel ch)
{
	return 0;
}

static struct struct_io_manager manager = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "keel ext4map",
	.open = io_open,
	.close = io_close,
	.set_blksize = io_set_blksize,
	.read_blk = io_read,
	.write_blk = io_write,
	.flush = io_flush,
	.read_blk64 = io_read64,
	.write_blk64 = io_write64,
};

/* The channel's private data travels in its name: libext2fs passes only
 * a name to open, and there is no global to keep it in. */
static errcode_t io_open(const char *name, int flags, io_channel *channel)
{
	void *p = NULL;
	if (!name || strncmp(name, MANAGER_PREFIX, strlen(MANAGER_PREFIX)) ||
	    sscanf(name + strlen(MANAGER_PREFIX), "%p", &p) != 1 || !p)
		return EXT2_ET_BAD_DEVICE_NAME;
	if (flags & IO_FLAG_RW)
		return EXT2_ET_RO_FILSYS;
	io_channel ch = calloc(1, sizeof(*ch));
	if (!ch || !(ch->name = strdup(name))) {
		free(ch);
		return EXT2_ET_NO_MEMORY;
	}
	ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	ch->manager = &manager;
	ch->block_size = 1024;
	ch->refcount = 1;
	ch->private_data = p;
	*channel = ch;
	return 0;
}

/* ---- the map ---- */

static int add_range(struct ext4map *x, const struct ext4map_limits *lim, uint64_t start,
		     uint64_t len, uint32_t file, enum ext4map_kind kind)
{
	while (len) {
		uint32_t n = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
		struct range *last = x->nr ? &x->r[x->nr - 1] : NULL;
		/* a file's next extent often follows its last */
		if (last && last->file == file && last->kind == kind &&
		    last->start + last->len == start && (uint64_t)last->len + n <= UINT32_MAX) {
			last->len += n;
		} else {
			if (x->nr >= lim->max_ranges) {
				x->truncated = true;
				return -1;
			}
			if (x->nr == x->cap_r) {
				uint32_t cap = x->cap_r ? x->cap_r * 2 : 256;
				struct range *r = realloc(x->r, cap * sizeof(*r));
				if (!r)
					return -1;
				x->r = r;
				x->cap_r = cap;
			}
			x->r[x->nr++] = (struct range){start, n, file, (uint8_t)kind};
		}
		start += n;
		len -= n;
	}
	return 0;
}

/* A set of inode numbers (open addressing; 0 is never an inode). */
struct inoset {
	uint32_t *v;
	uint32_t cap, n;
};

/* Add ino; false if it was there already (or no memory). */
static bool inoset_add(struct inoset *s, uint32_t ino)
{
	if (2 * (s->n + 1) > s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 1024;
		uint32_t *v = calloc(cap, sizeof(*v));
		if (!v)
			return false;
		for (uint32_t i = 0; i < s->cap; i++)
			for (uint32_t h = s->v[i] * 2654435761u & (cap - 1); s->v[i]; h = (h + 1) & (cap - 1))
				if (!v[h]) {
					v[h] = s->v[i];
					break;
				}
		free(s->v);
		s->v = v;
		s->cap = cap;
	}
	uint32_t h = ino * 2654435761u & (s->cap - 1);
	for (; s->v[h]; h = (h + 1) & (s->cap - 1))
		if (s->v[h] == ino)
			return false;
	s->v[h] = ino;
	s->n++;
	return true;
}

struct walk {
	ext2_filsys fs;
	struct ext4map *x;
	const struct ext4map_limits *lim;
	const char *const *globs;
	size_t nglobs;
	struct inoset dirs, files;
	uint32_t ndirs;
	uint64_t steps; /* extents and blocks visited: contiguous ones merge into one range */
	bool stop; /* out of memory or a limit that ends the whole walk */
};

/* Could a glob match this directory's path or something under it?  The
 * glob's literal head (before its first wildcard) and the directory's
 * path with a slash must agree as far as the shorter goes. */
static bool want_dir(const struct walk *w, const char *dir)
{
	size_t dl = strlen(dir);
	for (size_t i = 0; i < w->nglobs; i++) {
		const char *g = w->globs[i];
		size_t lit = strcspn(g, "*?[\\");
		size_t n = lit < dl ? lit : dl;
		if (strncmp(g, dir, n))
			continue;
		if (lit <= dl || g[dl] == '/' || dl == 1) /* dir "/": everything is under it */
			return true;
	}
	return false;
}

static bool want_file(const struct walk *w, const char *path)
{
	for (size_t i = 0; i < w->nglobs; i++)
		if (fnmatch(w->globs[i], path, 0) == 0)
			return true;
	return false;
}

/* The inode's inode-table block: where a change to its size, mode or
 * mapping lands (when the journal is checkpointed). */
static void add_inode_block(struct walk *w, uint32_t ino)
{
	ext2_filsys fs = w->fs;
	uint32_t ipg = fs->super->s_inodes_per_group;
	if (!ipg || ino == 0 || ino > fs->super->s_inodes_count)
		return;
	dgrp_t g = (ino - 1) / ipg;
	if (g >= fs->group_desc_count)
		return;
	uint64_t byte = (uint64_t)((ino - 1) % ipg) * EXT2_INODE_SIZE(fs->super);
	blk64_t b = ext2fs_inode_table_loc(fs, g) + byte / fs->blocksize;
	if (add_range(w->x, w->lim, b, 1, UINT32_MAX, EXT4MAP_META))
		w->stop = true;
}

struct blocks_ctx {
	struct walk *w;
	uint32_t file;
	enum ext4map_kind data_kind;
};

/* Old-style (indirect) files: block by block. */
static int block_cb(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt, blk64_t ref_blk,
		    int ref_offset, void *priv)
{
	struct blocks_ctx *c = priv;
	if (++c->w->steps > STEP_FACTOR * (uint64_t)c->w->lim->max_ranges) {
		c->w->x->truncated = c->w->stop = true;
		return BLOCK_ABORT;
	}
	enum ext4map_kind kind = blockcnt < 0 ? EXT4MAP_META : c->data_kind;
	if (*blocknr >= ext2fs_blocks_count(fs->super))
		return 0;
	if (add_range(c->w->x, c->w->lim, *blocknr, 1, kind == EXT4MAP_DATA ? c->file : UINT32_MAX,
		      kind)) {
		c->w->stop = true;
		return BLOCK_ABORT;
	}
	return 0;
}

/* Map the inode's blocks: its data as data_kind (a file's contents, or a
 * directory's, which are metadata) and its mapping blocks as metadata. */
static void add_blocks(struct walk *w, uint32_t ino, struct ext2_inode *inode, uint32_t file,
		       enum ext4map_kind data_kind)
{
	ext2_filsys fs = w->fs;
	if (!ext2fs_inode_has_valid_blocks2(fs, inode) || (inode->i_flags & EXT4_INLINE_DATA_FL))
		return;
	uint32_t owner = data_kind == EXT4MAP_DATA ? file : UINT32_MAX;
	if (!(inode->i_flags & EXT4_EXTENTS_FL)) {
		struct blocks_ctx c = {w, file, data_kind};
		ext2fs_block_iterate3(fs, ino, BLOCK_FLAG_READ_ONLY, NULL, block_cb, &c);
		return;
	}
	ext2_extent_handle_t h;
	if (ext2fs_extent_open2(fs, ino, inode, &h))
		return;
	struct ext2fs_extent e;
	uint64_t nblocks = ext2fs_blocks_count(fs->super);
	/* Every step visits a node entry; a tree of depth <= 5 with ~340
	 * entries a node can still be huge, so the ranges' limit bounds it. */
	for (int op = EXT2_EXTENT_ROOT; !w->stop && !ext2fs_extent_get(h, op, &e);
	     op = EXT2_EXTENT_NEXT) {
		if (++w->steps > STEP_FACTOR * (uint64_t)w->lim->max_ranges) {
			w->x->truncated = w->stop = true;
			break;
		}
		if (e.e_flags & EXT2_EXTENT_FLAGS_SECOND_VISIT)
			continue;
		bool leaf = e.e_flags & EXT2_EXTENT_FLAGS_LEAF;
		uint64_t len = leaf ? e.e_len : 1;
		if (e.e_pblk >= nblocks || len > nblocks - e.e_pblk)
			continue; /* points off the disk: nothing there to watch */
		if (add_range(w->x, w->lim, e.e_pblk, len, leaf ? owner : UINT32_MAX,
			      leaf ? data_kind : EXT4MAP_META))
			w->stop = true;
	}
	ext2fs_extent_free(h);
}

static void walk_dir(struct walk *w, uint32_t dir, const char *path, uint32_t depth);

struct dir_ctx {
	struct walk *w;
	const char *path;
	uint32_t depth;
	/* subdirectories to walk once this one's blocks are read */
	struct {
		uint32_t ino;
		char *path;
	} *sub;
	size_t nsub, cap;
};

static int dir_cb(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset, int blocksize,
		  char *buf, void *priv)
{
	struct dir_ctx *c = priv;
	struct walk *w = c->w;
	if (w->stop)
		return DIRENT_ABORT;
	int nl = ext2fs_dirent_name_len(de);
	if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE || nl <= 0 || !de->inode ||
	    (nl == 1 && de->name[0] == '.') || (nl == 2 && !memcmp(de->name, "..", 2)) ||
	    memchr(de->name, '/', (size_t)nl) || memchr(de->name, 0, (size_t)nl))
		return 0;
	char path[MAP_PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%.*s", strcmp(c->path, "/") ? c->path : "", nl,
			 de->name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return 0; /* too long to name: not mapped */
	struct ext2_inode inode;
	if (de->inode > w->fs->super->s_inodes_count ||
	    ext2fs_read_inode(w->fs, de->inode, &inode))
		return 0;
	if (LINUX_S_ISDIR(inode.i_mode)) {
		if (c->depth + 1 >= w->lim->max_depth || !want_dir(w, path)) {
			if (c->depth + 1 >= w->lim->max_depth)
				w->x->truncated = true;
			return 0;
		}
		if (c->nsub == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 16;
			void *s = realloc(c->sub, cap * sizeof(*c->sub));
			if (!s) {
				w->stop = true;
				return DIRENT_ABORT;
			}
			c->sub = s;
			c->cap = cap;
		}
		c->sub[c->nsub].ino = de->inode;
		if (!(c->sub[c->nsub].path = strdup(path))) {
			w->stop = true;
			return DIRENT_ABORT;
		}
		c->nsub++;
		return 0;
	}
	if (!LINUX_S_ISREG(inode.i_mode) || !want_file(w, path) || !inoset_add(&w->files, de->inode))
		return 0; /* a hard link mapped under its first name already */
	struct ext4map *x = w->x;
	if (x->nf >= w->lim->max_files) {
		x->truncated = true;
		w->stop = true;
		return DIRENT_ABORT;
	}
	if (x->nf == x->cap_f) {
		uint32_t cap = x->cap_f ? x->cap_f * 2 : 64;
		struct file *f = realloc(x->f, cap * sizeof(*f));
		if (!f) {
			w->stop = true;
			return DIRENT_ABORT;
		}
		x->f = f;
		x->cap_f = cap;
	}
	if (!(x->f[x->nf].path = strdup(path))) {
		w->stop = true;
		return DIRENT_ABORT;
	}
	x->f[x->nf].ino = de->inode;
	uint32_t file = x->nf++;
	add_inode_block(w, de->inode);
	add_blocks(w, de->inode, &inode, file, EXT4MAP_DATA);
	return w->stop ? DIRENT_ABORT : 0;
}

static void walk_dir(struct walk *w, uint32_t dir, const char *path, uint32_t depth)
{
	if (w->stop || !inoset_add(&w->dirs, dir))
		return; /* seen (a loop through a hard-linked directory) */
	if (++w->ndirs > w->lim->max_dirs) {
		w->x->truncated = true;
		w->stop = true;
		return;
	}
	struct ext2_inode inode;
	if (ext2fs_read_inode(w->fs, dir, &inode))
		return;
	/* a new entry in it, or its blocks moving, can change the map */
	add_inode_block(w, dir);
	add_blocks(w, dir, &inode, UINT32_MAX, EXT4MAP_META);
	struct dir_ctx c = {w, path, depth, NULL, 0, 0};
	ext2fs_dir_iterate2(w->fs, dir, 0, NULL, dir_cb, &c);
	for (size_t i = 0; i < c.nsub; i++) {
		walk_dir(w, c.sub[i].ino, c.sub[i].path, depth + 1);
		free(c.sub[i].path);
	}
	free(c.sub);
}

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

struct ext4map *ext4map_build(ext4map_read_fn read, void *opaque, uint64_t disk_size,
			      const char *const *globs, size_t nglobs,
			      const struct ext4map_limits *lim, char *err, size_t errlen)
{
	struct ext4map_limits dflt = EXT4MAP_DEFAULT_LIMITS;
	if (!lim)
		lim = &dflt;
	struct io_priv io = {read, opaque, disk_size, 0, lim->max_reads, false};
	char name[64];
	snprintf(name, sizeof(name), MANAGER_PREFIX "%p", (void *)&io);
	ext2_filsys fs = NULL;
	errcode_t rc = ext2fs_open2(name, NULL,
				    EXT2_FLAG_64BITS | EXT2_FLAG_IGNORE_CSUM_ERRORS |
					    EXT2_FLAG_SKIP_MMP,
				    0, 0, &manager, &fs);
	if (rc) {
		snprintf(err, errlen, "not an ext4 file system at the disk's start (%s)",
			 io.over_budget ? "read limit reached" : error_message(rc));
		return NULL;
	}
	struct ext4map *x = calloc(1, sizeof(*x));
	if (!x) {
		ext2fs_close_free(&fs);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	x->block_size = fs->blocksize;
	struct walk w = {fs, x, lim, globs, nglobs, {0}, {0}, 0, 0, false};
	walk_dir(&w, EXT2_ROOT_INO, "/", 0);
	free(w.dirs.v);
	free(w.files.v);
	ext2fs_close_free(&fs);
	if (io.over_budget)
		x->truncated = true;
	if (x->nr)
		qsort(x->r, x->nr, sizeof(*x->r), cmp_range);
	x->max_end = malloc((x->nr ? x->nr : 1) * sizeof(*x->max_end));
	if (!x->max_end) {
		ext4map_free(x);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (uint32_t i = 0; i < x->nr; i++) {
		uint64_t end = x->r[i].start + x->r[i].len;
		x->max_end[i] = i && x->max_end[i - 1] > end ? x->max_end[i - 1] : end;
	}
	return x;
}

void ext4map_free(struct ext4map *x)
{
	if (!x)
		return;
	for (uint32_t i = 0; i < x->nf; i++)
		free(x->f[i].path);
	free(x->f);
	free(x->r);
	free(x->max_end);
	free(x);
}

void ext4map_stats(const struct ext4map *x, uint32_t *block_size, uint32_t *files,
		   uint32_t *ranges, bool *truncated)
{
	*block_size = x->block_size;
	*files = x->nf;
	*ranges = x->nr;
	*truncated = x->truncated;
}

/* The first range that starts after block b (ranges are sorted by start). */
static uint32_t upper(const struct ext4map *x, uint64_t b)
{
	uint32_t lo = 0, hi = x->nr;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (x->r[mid].start <= b)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

unsigned ext4map_hits(const struct ext4map *x, uint64_t off, uint64_t len, ext4map_hit_fn fn,
		      void *opaque)
{
	if (!len || !x->nr)
		return 0;
	uint64_t b0 = off / x->block_size, b1 = (off + len - 1) / x->block_size;
	/* ranges that start at or before b1 and end after b0: walk back from
	 * the last that starts <= b1 while some earlier one may still reach b0 */
	uint32_t end = upper(x, b1), first = end;
	while (first > 0 && x->max_end[first - 1] > b0)
		first--;
	unsigned n = 0;
	for (uint32_t i = first; i < end; i++) {
		const struct range *r = &x->r[i];
		if (r->start + r->len <= b0)
			continue;
		n++;
		const char *path = r->file < x->nf ? x->f[r->file].path : NULL;
		uint32_t ino = r->file < x->nf ? x->f[r->file].ino : 0;
		if (!fn(opaque, (enum ext4map_kind)r->kind, path, ino, r->start > b0 ? r->start : b0))
			break;
	}
	return n;
}

static bool first_data(void *opaque, enum ext4map_kind kind, const char *path, uint32_t ino,
		       uint64_t block)
{
	if (kind != EXT4MAP_DATA || !path)
		return true;
	*(const char **)opaque = path;
	return false;
}

const char *ext4map_path_of(const struct ext4map *x, uint64_t block)
{
	const char *path = NULL;
	if (x->block_size)
		ext4map_hits(x, block * x->block_size, x->block_size, first_data, &path);
	return path;
}
