/* The disk backend.  See disk_image.h; the overlay's bytes are
 * disk_overlay.c's business. */
#include "dev/disk_image.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/state_io.h"

#define WRITE_BATCH 32 /* records appended per pwrite */

/* A clone's private blocks: open addressing, block index -> 4 KiB copy. */
struct private_blocks {
	uint64_t *keys; /* UINT64_MAX: empty */
	uint8_t **data;
	size_t cap, count; /* cap is a power of two */
};

struct disk_image {
	enum disk_kind kind;
	bool readonly;
	bool private_mode; /* after disk_image_fork_private */
	/* Opened by disk_image_open_replay: the private writes replay the
	 * records the recording appended past the frozen prefix, so the
	 * disk's identity may be frozen (snapshotted) as that longer prefix. */
	bool replaying;
	/* Hash the base afresh rather than trust the cache (base_hash_cache.h):
	 * keel disk's inspections, whose job is checking. */
	bool fresh_base_hash;
	/* Private mode: the bytes the private writes would have appended
	 * (one record per block written), so the disk's identity, which the
	 * state digest covers, grows exactly as the original's did. */
	uint64_t private_len;
	uint64_t size, nblocks;
	int base_fd; /* raw: the image; overlay: the base, read-only */
	int ov_fd; /* overlay only, else -1 */
	uint64_t ov_len; /* where the next record goes: the end of the intact ones */
	uint64_t records; /* intact records seen or written */
	uint64_t *map; /* block -> record offset in the overlay; 0: not there */
	struct private_blocks priv;
	uint8_t base_hash[OVERLAY_HASH_BYTES];
	uint8_t *batch; /* WRITE_BATCH records being assembled */
	uint64_t batch_blocks[WRITE_BATCH]; /* their block indices */
	char base_path[PATH_MAX], path[PATH_MAX];
	char note[PATH_MAX + 128]; /* something the user should hear about, or "" */
};

static struct disk_image *image_new(void)
{
	struct disk_image *d = calloc(1, sizeof(*d));
	if (d)
		d->base_fd = d->ov_fd = -1;
	return d;
}

void disk_image_close(struct disk_image *d)
{
	if (!d)
		return;
	if (d->base_fd >= 0)
		close(d->base_fd);
	if (d->ov_fd >= 0)
		close(d->ov_fd);
	for (size_t i = 0; i < d->priv.cap; i++)
		free(d->priv.data[i]);
	free(d->priv.keys);
	free(d->priv.data);
	free(d->map);
	free(d->batch);
	free(d);
}

static int fail(char *err, size_t errlen, const char *path, const char *why)
{
	snprintf(err, errlen, "%s: %s", path, why);
	return -1;
}

/* Open a regular file or block device and find its size. */
static int open_sized(const char *path, int flags, int *fd_out, uint64_t *size, char *err,
		      size_t errlen)
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, path, strerror(errno));
	struct stat st;
	const char *why = NULL;
	off_t end = -1;
	if (fstat(fd, &st) != 0)
		why = strerror(errno);
	else if (S_ISDIR(st.st_mode))
		why = "is a directory";
	else if ((end = lseek(fd, 0, SEEK_END)) < 0) /* works for block devices too */
		why = strerror(errno);
	if (why) {
		close(fd);
		return fail(err, errlen, path, why);
	}
	*fd_out = fd;
	*size = (uint64_t)end;
	return 0;
}

static void absolute(const char *path, char out[PATH_MAX])
{
	if (!realpath(path, out))
		snprintf(out, PATH_MAX, "%s", path);
}

int disk_image_open_raw(struct disk_image **out, const char *path, bool readonly, char *err,
			size_t errlen)
{
	struct disk_image *d = image_new();
	if (!d)
		return fail(err, errlen, path, "out of memory");
	d->kind = DISK_RAW;
	d->readonly = readonly;
	if (open_sized(path, readonly ? O_RDONLY : O_RDWR, &d->base_fd, &d->size, err, errlen)) {
		disk_image_close(d);
		return -1;
	}
	absolute(path, d->path);
	*out = d;
	return 0;
}

/* --- I/O helpers -------------------------------------------------------- */

static int pread_all(int fd, uint8_t *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO; /* the file shrank under us */
			return -1;
		}
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t r = pwrite(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static bool in_range(const struct disk_image *d, uint64_t off, size_t len)
{
	return off <= d->size && len <= d->size - off;
}

/* --- private blocks (clones) -------------------------------------------- */

static size_t slot_of(const struct private_blocks *p, uint64_t block)
{
	size_t i = (size_t)(block * 0x9e3779b97f4a7c15ULL) & (p->cap - 1);
	while (p->keys[i] != UINT64_MAX && p->keys[i] != block)
		i = (i + 1) & (p->cap - 1);
	return i;
}

static uint8_t *private_find(const struct private_blocks *p, uint64_t block)
{
	if (!p->cap)
		return NULL;
	size_t i = slot_of(p, block);
	return p->keys[i] == block ? p->data[i] : NULL;
}

static int private_grow(struct private_blocks *p)
{
	struct private_blocks n = {0};
	n.cap = p->cap ? p->cap * 2 : 64;
	n.keys = malloc(n.cap * sizeof(*n.keys));
	n.data = calloc(n.cap, sizeof(*n.data));
	if (!n.keys || !n.data) {
		free(n.keys);
		free(n.data);
		return -1;
	}
	memset(n.keys, 0xff, n.cap * sizeof(*n.keys));
	for (size_t i = 0; i < p->cap; i++) {
		if (p->keys[i] == UINT64_MAX)
			continue;
		size_t j = slot_of(&n, p->keys[i]);
		n.keys[j] = p->keys[i];
		n.data[j] = p->data[i];
	}
	n.count = p->count;
	free(p->keys);
	free(p->data);
	*p = n;
	return 0;
}

/* A new private block (contents undefined), or NULL when out of memory. */
static uint8_t *private_add(struct private_blocks *p, uint64_t block)
{
	if ((p->count + 1) * 2 > p->cap && private_grow(p))
		return NULL;
	uint8_t *data = malloc(OVERLAY_BLOCK);
	if (!data)
		return NULL;
	size_t i = slot_of(p, block);
	p->keys[i] = block;
	p->data[i] = data;
	p->count++;
	return data;
}

/* --- reading ------------------------------------------------------------ */

/* Base bytes [off, off+n), zeros past the base's end (its last block may
 * be partial). */
static int read_base(struct disk_image *d, uint64_t off, uint8_t *buf, size_t n)
{
	size_t have = off >= d->size ? 0 : (d->size - off < n ? (size_t)(d->size - off) : n);
	memset(buf + have, 0, n - have);
	return have ? pread_all(d->base_fd, buf, have, off) : 0;
}

/* Where block b's current contents are: private memory, an overlay
 * record, or (neither) the base. */
static bool block_in_base(const struct disk_image *d, uint64_t b)
{
	return d->map[b] == 0 && !(d->private_mode && private_find(&d->priv, b));
}

static int read_block_part(struct disk_image *d, uint64_t b, size_t in, uint8_t *buf, size_t n)
{
	const uint8_t *priv = d->private_mode ? private_find(&d->priv, b) : NULL;
	if (priv) {
		memcpy(buf, priv + in, n);
		return 0;
	}
	if (d->map[b])
		return pread_all(d->ov_fd, buf, n, d->map[b] + OVERLAY_RECORD_HEADER + in);
	return read_base(d, b * OVERLAY_BLOCK + in, buf, n);
}

static int read_overlaid(struct disk_image *d, uint64_t off, uint8_t *buf, size_t len)
{
	while (len > 0) {
		uint64_t b = off / OVERLAY_BLOCK;
		size_t in = (size_t)(off % OVERLAY_BLOCK);
		size_t n = OVERLAY_BLOCK - in < len ? OVERLAY_BLOCK - in : len;
		if (block_in_base(d, b)) {
			/* One pread for a run of blocks that all come from the base. */
			while (n < len && block_in_base(d, (off + n) / OVERLAY_BLOCK))
				n += len - n < OVERLAY_BLOCK ? len - n : OVERLAY_BLOCK;
			if (read_base(d, off, buf, n))
				return -1;
		} else if (read_block_part(d, b, in, buf, n)) {
			return -1;
		}
		off += n;
		buf += n;
		len -= n;
	}
	return 0;
}

int disk_image_read(struct disk_image *d, uint64_t off, void *buf, size_t len)
{
	if (!in_range(d, off, len)) {
		errno = EINVAL;
		return -1;
	}
	if (d->kind == DISK_RAW)
		return pread_all(d->base_fd, buf, len, off);
	return read_overlaid(d, off, buf, len);
}

/* --- writing ------------------------------------------------------------ */

/* Append the batch's `n` records; only once they are in the file does the
 * map point at them. */
static int append_batch(struct disk_image *d, size_t n)
{
	if (n == 0)
		return 0;
	size_t bytes = n * OVERLAY_RECORD_BYTES;
	if (pwrite_all(d->ov_fd, d->batch, bytes, d->ov_len)) {
		int e = errno;
		/* Leave no half record behind for the next append to follow. */
		if (ftruncate(d->ov_fd, (off_t)d->ov_len) != 0) {
			/* the next append overwrites it anyway */
		}
		errno = e;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		d->map[d->batch_blocks[i]] = d->ov_len + i * OVERLAY_RECORD_BYTES;
	d->ov_len += bytes;
	d->records += n;
	return 0;
}

static int write_private(struct disk_image *d, uint64_t b, size_t in, const uint8_t *buf,
			 size_t n)
{
	uint8_t *p = private_find(&d->priv, b);
	if (!p) {
		uint8_t old[OVERLAY_BLOCK];
		if (n < OVERLAY_BLOCK && read_block_part(d, b, 0, old, OVERLAY_BLOCK))
			return -1;
		if (!(p = private_add(&d->priv, b))) {
			errno = ENOMEM;
			return -1;
		}
		if (n < OVERLAY_BLOCK)
			memcpy(p, old, OVERLAY_BLOCK);
	}
	memcpy(p + in, buf, n);
	d->private_len += OVERLAY_RECORD_BYTES;
	return 0;
}

static int write_overlaid(struct disk_image *d, uint64_t off, const uint8_t *buf, size_t len)
{
	size_t queued = 0;
	while (len > 0) {
		uint64_t b = off / OVERLAY_BLOCK;
		size_t in = (size_t)(off % OVERLAY_BLOCK);
		size_t n = OVERLAY_BLOCK - in < len ? OVERLAY_BLOCK - in : len;
		if (d->private_mode) {
			if (write_private(d, b, in, buf, n))
				return -1;
		} else {
			uint8_t *rec = d->batch + queued * OVERLAY_RECORD_BYTES;
			uint8_t *data = rec + OVERLAY_RECORD_HEADER;
			/* A partial block keeps the rest of its current contents.  No
			 * block repeats within one call, so the batch never holds it. */
			if (n < OVERLAY_BLOCK && read_block_part(d, b, 0, data, OVERLAY_BLOCK))
				return -1;
			memcpy(data + in, buf, n);
			overlay_record_encode(rec, b, data);
			d->batch_blocks[queued] = b;
			if (++queued == WRITE_BATCH) {
				if (append_batch(d, queued))
					return -1;
				queued = 0;
			}
		}
		off += n;
		buf += n;
		len -= n;
	}
	return append_batch(d, queued);
}

int disk_image_write(struct disk_image *d, uint64_t off, const void *buf, size_t len)
{
	if (d->readonly) {
		errno = EROFS;
		return -1;
	}
	if (!in_range(d, off, len)) {
		errno = EINVAL;
		return -1;
	}
	if (d->kind == DISK_RAW)
		return pwrite_all(d->base_fd, buf, len, off);
	return write_overlaid(d, off, buf, len);
}

int disk_image_flush(struct disk_image *d)
{
	if (d->private_mode || d->readonly)
		return 0;
	return fdatasync(d->kind == DISK_RAW ? d->base_fd : d->ov_fd);
}

/* --- overlays: create, open ---------------------------------------------- */

static int write_new_file(const char *path, const uint8_t *p, size_t n, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(err, errlen, path, errno == EEXIST ? "already exists" : strerror(errno));
	if (pwrite_all(fd, p, n, 0) || fsync(fd)) {
		fail(err, errlen, path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

int disk_image_create(const char *overlay, const char *base, char *err, size_t errlen)
{
	struct overlay_header h = {0};
	int fd;
	if (open_sized(base, O_RDONLY, &fd, &h.base_size, err, errlen))
		return -1;
	char why[256];
	int rc = -1;
	if (h.base_size == 0)
		fail(err, errlen, base, "the base image is empty");
	else if (overlay_hash_base(fd, h.base_size, true, h.base_hash, why, sizeof(why)))
		fail(err, errlen, base, why);
	else
		rc = 0;
	close(fd);
	if (rc)
		return -1;
	h.virtual_size = h.base_size;
	char abs[PATH_MAX];
	absolute(base, abs);
	if (strlen(base) + strlen(abs) > OVERLAY_PATHS_MAX)
		return fail(err, errlen, base, "path too long for the overlay header");
	strcpy(h.base_given, base);
	strcpy(h.base_abs, abs);
	uint8_t hdr[OVERLAY_HEADER_BYTES];
	if (overlay_header_encode(&h, hdr, err, errlen))
		return -1;
	return write_new_file(overlay, hdr, sizeof(hdr), err, errlen);
}

static int read_header(int fd, const char *path, struct overlay_header *h, char *err,
		       size_t errlen)
{
	uint8_t hdr[OVERLAY_HEADER_BYTES];
	char why[256];
	if (pread_all(fd, hdr, sizeof(hdr), 0))
		return fail(err, errlen, path, "not a keel disk overlay (shorter than its header)");
	if (overlay_header_decode(hdr, h, why, sizeof(why)))
		return fail(err, errlen, path, why);
	return 0;
}

/* The base a header names: its absolute path, else the path as given
 * (relative to the overlay's directory), whichever exists. */
static void resolve_base(const char *overlay, const struct overlay_header *h, char out[PATH_MAX])
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", overlay);
	if (access(h->base_abs, F_OK) == 0)
		snprintf(out, PATH_MAX, "%s", h->base_abs);
	else if (h->base_given[0] == '/')
		snprintf(out, PATH_MAX, "%s", h->base_given);
	else /* both moved together, say */
		snprintf(out, PATH_MAX, "%s/%s", dirname(dir), h->base_given);
}

/* Open the base and prove it is the one the overlay was made over. */
static int open_base(struct disk_image *d, const char *overlay, const char *base,
		     const struct overlay_header *h, char *err, size_t errlen)
{
	char path[PATH_MAX];
	if (base)
		snprintf(path, sizeof(path), "%s", base);
	else
		resolve_base(overlay, h, path);
	uint64_t size;
	char why[PATH_MAX + 160];
	if (open_sized(path, O_RDONLY, &d->base_fd, &size, why, sizeof(why))) {
		snprintf(err, errlen, "%s: base image %s", overlay, why);
		return -1;
	}
	if (size != h->base_size) {
		snprintf(err, errlen, "%s: base image %s is %llu bytes, the overlay was made over %llu",
			 overlay, path, (unsigned long long)size, (unsigned long long)h->base_size);
		return -1;
	}
	if (overlay_hash_base(d->base_fd, size, !d->fresh_base_hash, d->base_hash, why,
			      sizeof(why))) {
		snprintf(err, errlen, "%s: base image %s: %s", overlay, path, why);
		return -1;
	}
	if (memcmp(d->base_hash, h->base_hash, OVERLAY_HASH_BYTES) != 0) {
		snprintf(err, errlen,
			 "%s: base image %s has changed since the overlay was made over it "
			 "(its BLAKE2b-256 differs)", overlay, path);
		return -1;
	}
	absolute(path, d->base_path);
	return 0;
}

static void map_record(void *opaque, uint64_t block, uint64_t offset)
{
	struct disk_image *d = opaque;
	d->map[block] = offset;
	d->records++;
}

/* Build the map from the records up to `end`.  With `strict` every byte
 * up to `end` must be intact records (a snapshot's frozen prefix);
 * otherwise a torn tail is cut off and noted. */
static int load_records(struct disk_image *d, uint64_t end, bool strict, char *err, size_t errlen)
{
	char why[256];
	uint64_t valid;
	if (end < OVERLAY_HEADER_BYTES)
		end = OVERLAY_HEADER_BYTES;
	if (overlay_scan(d->ov_fd, end, d->nblocks, map_record, d, &valid, why, sizeof(why)))
		return fail(err, errlen, d->path, why);
	d->ov_len = valid;
	if (valid == end)
		return 0;
	if (strict) {
		snprintf(err, errlen, "%s: corrupt record at offset %llu, inside the %llu bytes the "
				      "snapshot needs", d->path, (unsigned long long)valid,
			 (unsigned long long)end);
		return -1;
	}
	snprintf(d->note, sizeof(d->note),
		 "%s: dropped %llu bytes of torn or corrupt records at offset %llu "
		 "(a crash while writing?)", d->path, (unsigned long long)(end - valid),
		 (unsigned long long)valid);
	if (!d->readonly && ftruncate(d->ov_fd, (off_t)valid) != 0)
		return fail(err, errlen, d->path, strerror(errno));
	return 0;
}

/* Open an existing overlay; `len` is the length to load (strictly), or
 * UINT64_MAX for all of it (dropping a torn tail).  A read-only open
 * changes nothing in the file. */
static int open_existing(struct disk_image **out, const char *overlay, const char *base,
			 uint64_t len, bool readonly, bool fresh_hash, char *err, size_t errlen)
{
	struct disk_image *d = image_new();
	if (!d)
		return fail(err, errlen, overlay, "out of memory");
	d->kind = DISK_OVERLAY;
	d->readonly = readonly;
	d->fresh_base_hash = fresh_hash;
	uint64_t file_len;
	struct overlay_header h;
	int rc = open_sized(overlay, readonly ? O_RDONLY : O_RDWR, &d->ov_fd, &file_len, err, errlen);
	/* Two writers would append over each other's records (a restore while
	 * the saved VM still runs, say).  The lock belongs to the open file,
	 * so a fork()ed clone shares it. */
	if (rc == 0 && !readonly && flock(d->ov_fd, LOCK_EX | LOCK_NB) != 0)
		rc = fail(err, errlen, overlay, errno == EWOULDBLOCK ? "in use by another keel"
								     : strerror(errno));
	if (rc == 0)
		rc = read_header(d->ov_fd, overlay, &h, err, errlen);
	if (rc == 0) {
		absolute(overlay, d->path);
		rc = open_base(d, overlay, base, &h, err, errlen);
	}
	if (rc == 0) {
		d->size = h.virtual_size;
		d->nblocks = (d->size + OVERLAY_BLOCK - 1) / OVERLAY_BLOCK;
		/* calloc'ed: a big, mostly unwritten disk leaves most of the map
		 * as untouched (uncommitted) zero pages. */
		d->map = calloc(d->nblocks, sizeof(*d->map));
		d->batch = malloc(WRITE_BATCH * (size_t)OVERLAY_RECORD_BYTES);
		if (!d->map || !d->batch)
			rc = fail(err, errlen, overlay, "out of memory");
	}
	if (rc == 0)
		rc = load_records(d, len == UINT64_MAX ? file_len : len, len != UINT64_MAX, err, errlen);
	if (rc) {
		disk_image_close(d);
		return -1;
	}
	*out = d;
	return 0;
}

int disk_image_open_overlay(struct disk_image **out, const char *overlay, const char *base,
			    char *err, size_t errlen)
{
	if (base && access(overlay, F_OK) != 0 && errno == ENOENT &&
	    disk_image_create(overlay, base, err, errlen))
		return -1;
	return open_existing(out, overlay, base, UINT64_MAX, false, false, err, errlen);
}

int disk_image_open_overlay_readonly(struct disk_image **out, const char *overlay, char *err,
				     size_t errlen)
{
	return open_existing(out, overlay, NULL, UINT64_MAX, true, true, err, errlen);
}

/* --- snapshots and clones ------------------------------------------------ */

/* Copy the first `len` bytes of `src` into the new file `dst`. */
static int copy_prefix(const char *src, const char *dst, uint64_t len, char *err, size_t errlen)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return fail(err, errlen, src, strerror(errno));
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		close(in);
		return fail(err, errlen, dst, errno == EEXIST ? "already exists" : strerror(errno));
	}
	loff_t from = 0, to = 0;
	int rc = 0;
	while (rc == 0 && (uint64_t)from < len) {
		ssize_t n = copy_file_range(in, &from, out, &to, (size_t)(len - (uint64_t)from), 0);
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
			/* No kernel copy here: do it by hand. */
			uint8_t buf[1 << 16];
			size_t k = len - (uint64_t)from < sizeof(buf) ? (size_t)(len - (uint64_t)from) : sizeof(buf);
			if (pread_all(in, buf, k, (uint64_t)from) || pwrite_all(out, buf, k, (uint64_t)to))
				rc = fail(err, errlen, dst, strerror(errno));
			from += (loff_t)k;
			to += (loff_t)k;
		} else if (n <= 0) {
			rc = fail(err, errlen, dst, n == 0 ? "the source ended early" : strerror(errno));
		}
	}
	if (rc == 0 && fsync(out) != 0)
		rc = fail(err, errlen, dst, strerror(errno));
	close(in);
	close(out);
	if (rc)
		unlink(dst);
	return rc;
}

int disk_image_open_frozen(struct disk_image **out, const struct disk_identity *id,
			   const char *new_overlay, char *err, size_t errlen)
{
	if (id->kind != DISK_OVERLAY)
		return fail(err, errlen, id->path, "a raw disk's contents are not in the snapshot");
	struct stat st;
	if (stat(id->path, &st) != 0)
		return fail(err, errlen, id->path, strerror(errno));
	uint64_t have = (uint64_t)st.st_size, want = id->overlay_len;
	if (have < want) {
		snprintf(err, errlen, "%s: %llu bytes, shorter than the %llu the snapshot needs "
				      "(truncated, or replaced?)", id->path,
			 (unsigned long long)have, (unsigned long long)want);
		return -1;
	}
	if (have > want && !new_overlay) {
		snprintf(err, errlen,
			 "%s: has grown since the snapshot (%llu bytes, the snapshot has %llu): the "
			 "saved VM wrote on; resume on a copy of the disk as it was with "
			 "--overlay NEW", id->path, (unsigned long long)have, (unsigned long long)want);
		return -1;
	}
	const char *path = id->path;
	if (new_overlay) {
		if (copy_prefix(id->path, new_overlay, want, err, errlen))
			return -1;
		path = new_overlay;
	}
	struct disk_image *d = NULL;
	int rc = open_existing(&d, path, NULL, want, false, false, err, errlen);
	if (rc == 0 && (memcmp(d->base_hash, id->base_hash, OVERLAY_HASH_BYTES) != 0 ||
			d->size != id->size))
		rc = fail(err, errlen, path, "is over another base image than the snapshot's");
	if (rc) {
		disk_image_close(d);
		if (new_overlay)
			unlink(new_overlay); /* ours, just made: leave nothing half-done */
		return -1;
	}
	*out = d;
	return 0;
}

void disk_image_identity(const struct disk_image *d, struct disk_identity *id)
{
	memset(id, 0, sizeof(*id));
	id->kind = d->kind;
	id->readonly = d->readonly;
	id->size = d->size;
	if (d->kind == DISK_OVERLAY) {
		memcpy(id->base_hash, d->base_hash, OVERLAY_HASH_BYTES);
		id->overlay_len = d->ov_len + d->private_len;
		snprintf(id->base_path, sizeof(id->base_path), "%s", d->base_path);
	}
	snprintf(id->path, sizeof(id->path), "%s", d->path);
}

int disk_image_freeze(struct disk_image *d, struct disk_identity *id, char *err, size_t errlen)
{
	if (d->private_mode && d->priv.count && !d->replaying)
		return fail(err, errlen, d->path,
			    "a clone's private disk writes are in memory and cannot be snapshotted");
	if (disk_image_flush(d) != 0)
		return fail(err, errlen, d->path, strerror(errno));
	disk_image_identity(d, id);
	return 0;
}

int disk_image_open_replay(struct disk_image **out, const struct disk_identity *id, char *err,
			   size_t errlen)
{
	if (id->kind != DISK_OVERLAY)
		return fail(err, errlen, id->path, "replay needs the recorded disk's overlay");
	struct disk_image *d = NULL;
	if (open_existing(&d, id->path, NULL, id->overlay_len, true, false, err, errlen))
		return -1;
	if (memcmp(d->base_hash, id->base_hash, OVERLAY_HASH_BYTES) != 0 || d->size != id->size) {
		disk_image_close(d);
		return fail(err, errlen, id->path, "is over another base image than the recording's");
	}
	d->readonly = id->readonly;
	d->private_mode = d->replaying = true;
	*out = d;
	return 0;
}

void disk_image_fds(const struct disk_image *d, int fds[2])
{
	fds[0] = d->base_fd;
	fds[1] = d->ov_fd;
}

bool disk_identity_in_place(const struct disk_identity *id)
{
	return id->kind == DISK_RAW && !id->readonly;
}

int disk_image_fork_private(struct disk_image *d)
{
	struct disk_identity id;
	disk_image_identity(d, &id);
	if (disk_identity_in_place(&id)) {
		errno = EINVAL;
		return -1;
	}
	d->private_mode = true;
	return 0;
}

/* --- the rest ------------------------------------------------------------ */

uint64_t disk_image_size(const struct disk_image *d)
{
	return d->size;
}

bool disk_image_readonly(const struct disk_image *d)
{
	return d->readonly;
}

void disk_image_counts(const struct disk_image *d, uint64_t *records, uint64_t *blocks)
{
	*records = d->records;
	*blocks = 0;
	for (uint64_t b = 0; d->map && b < d->nblocks; b++)
		*blocks += d->map[b] != 0;
}

const char *disk_image_note(const struct disk_image *d)
{
	return d->note;
}

static bool strip_suffix(char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	if (n <= m || strcmp(s + n - m, suffix) != 0)
		return false;
	s[n - m] = '\0';
	return true;
}

int disk_image_open_spec(struct disk_image **out, const char *spec, char *err, size_t errlen)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s", spec) >= (int)sizeof(path))
		return fail(err, errlen, "--disk", "path too long");
	bool readonly = strip_suffix(path, ",readonly") || strip_suffix(path, ",ro");
	/* The last ",overlay=": the base's path may contain one, the
	 * overlay's may not. */
	char *ov = NULL;
	for (char *at = strstr(path, ",overlay="); at; at = strstr(at + 1, ",overlay="))
		ov = at;
	if (ov) {
		*ov = '\0';
		ov += strlen(",overlay=");
		if (readonly)
			return fail(err, errlen, "--disk", "an overlay cannot be read-only (attach the "
							  "base with ,readonly instead)");
		if (!path[0] || !ov[0])
			return fail(err, errlen, "--disk", "BASE,overlay=PATH needs both paths");
		return disk_image_open_overlay(out, ov, path, err, errlen);
	}
	if (path[0] == '\0')
		return fail(err, errlen, "--disk", "missing image path");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool is_overlay = fd >= 0 && overlay_is_overlay(fd);
	if (fd >= 0)
		close(fd);
	if (is_overlay && readonly)
		return fail(err, errlen, path, "an overlay cannot be read-only");
	return is_overlay ? disk_image_open_overlay(out, path, NULL, err, errlen)
			  : disk_image_open_raw(out, path, readonly, err, errlen);
}

/* --- State: the DISK section -------------------------------------------- */

static void put_string(struct state_writer *w, const char *s)
{
	sw_put_u32(w, (uint32_t)strlen(s));
	sw_put_bytes(w, s, strlen(s));
}

static void get_string(struct state_reader *r, char *out, size_t cap)
{
	uint32_t n = sr_u32(r);
	if (!sr_failed(r) && n >= cap) {
		sr_fail(r, "DISK: a %u-byte path", n);
		n = 0;
	}
	sr_bytes(r, out, n);
	out[n] = '\0';
	if (!sr_failed(r) && strlen(out) != n)
		sr_fail(r, "DISK: a path with a NUL inside");
}

void disk_identity_save_digest(const struct disk_identity *id, struct state_writer *w)
{
	sw_put_u8(w, (uint8_t)id->kind);
	sw_put_u8(w, id->readonly);
	sw_put_u64(w, id->size);
	sw_put_bytes(w, id->base_hash, sizeof(id->base_hash));
	sw_put_u64(w, id->overlay_len);
}

void disk_identity_save(const struct disk_identity *id, struct state_writer *w)
{
	disk_identity_save_digest(id, w);
	put_string(w, id->base_path);
	put_string(w, id->path);
}

int disk_identity_load(struct disk_identity *id, struct state_reader *r)
{
	memset(id, 0, sizeof(*id));
	uint8_t kind = sr_u8(r);
	id->readonly = sr_bool(r);
	id->size = sr_u64(r);
	sr_bytes(r, id->base_hash, sizeof(id->base_hash));
	id->overlay_len = sr_u64(r);
	get_string(r, id->base_path, sizeof(id->base_path));
	get_string(r, id->path, sizeof(id->path));
	if (!sr_failed(r) && kind > DISK_OVERLAY)
		return sr_fail(r, "DISK: unknown kind %u", kind);
	id->kind = (enum disk_kind)kind;
	return sr_failed(r) ? -1 : 0;
}

int disk_identity_check(const struct disk_identity *want, const struct disk_identity *have,
			struct state_reader *r)
{
	if ((want->kind == DISK_NONE) != (have->kind == DISK_NONE))
		return sr_fail(r, "DISK: the file %s, this machine %s",
			       want->kind ? "has a disk" : "has no disk",
			       have->kind ? "has one" : "has none");
	if (want->kind != DISK_OVERLAY)
		return 0;
	if (have->kind != DISK_OVERLAY ||
	    memcmp(want->base_hash, have->base_hash, sizeof(want->base_hash)) != 0 ||
	    want->overlay_len != have->overlay_len || want->size != have->size)
		return sr_fail(r, "DISK: the attached disk is not %s as of %llu bytes (over %s)",
			       want->path, (unsigned long long)want->overlay_len, want->base_path);
	return 0;
}
