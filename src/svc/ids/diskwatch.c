/* The system_files module seen from below: writes that reach the disk,
 * mapped back to the paths of the protected files whose blocks they
 * overwrite (docs/ids.md, "Disk writes").  A write to /etc/passwd through
 * openat is seen at the call; this catches the writes keel saw no call
 * for: through the raw block device (dd to /dev/vda), a mapping written
 * back later, a kernel module's own I/O.
 *
 * The map (ext4map.h) is read from the disk as the guest sees it when the
 * detector starts, and read again when a write lands on the blocks it was
 * read from (a directory on the way, an inode, an extent tree), at most
 * once a guest second, before the next write is looked up.  Both happen
 * inside disk-write callbacks, at icounts a replay reproduces, from a disk
 * the replay has in the same state: the same alerts. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "svc/ids/ext4map.h"
#include "svc/ids/ids_int.h"
#include "svc/vmi/vmi.h"

#define NS 1000000000ull
#define REBUILD_NS NS /* at most one rebuild a guest second */
#define MAX_PATHS_KEPT 4096 /* explained and alerted paths remembered */
#define MAX_FILES_A_WRITE 8 /* alerts one write may raise */

static const char *const block_devices[] = {"/dev/vd*", "/dev/sd*", "/dev/hd*", "/dev/xvd*",
					    "/dev/nvme*", "/dev/mmcblk*", "/dev/dm-*",
					    "/dev/mapper/*", "/dev/disk/*", "/dev/loop*"};

static int read_disk(void *opaque, uint64_t off, void *buf, size_t len)
{
	return taps_disk_read(opaque, off, buf, len);
}

static struct ext4map *build(struct ids *d, char *err, size_t errlen)
{
	return ext4map_build(read_disk, d->m, taps_disk_size(d->m),
			     (const char *const *)d->p->write_paths.v, d->p->write_paths.n, NULL,
			     err, errlen);
}

/* A path and a guest time, remembered (bounded: forgotten all at once
 * when full; the windows they serve are short). */
static void remember(json_t *set, const char *path, uint64_t ns)
{
	if (json_object_size(set) >= MAX_PATHS_KEPT)
		json_object_clear(set);
	json_object_set_new(set, path, json_integer((json_int_t)ns));
}

static bool within(json_t *set, const char *path, uint64_t now, uint64_t window)
{
	json_t *v = json_object_get(set, path);
	return v && now - (uint64_t)json_integer_value(v) <= window;
}

void diskwatch_opened(struct ids *d, const char *path, int32_t pid, bool write)
{
	if (!d->map || !write)
		return;
	uint64_t now = taps_now_ns(d->m);
	if (glob_list_match(&d->p->write_paths, path))
		remember(d->explained, path, now);
	for (size_t i = 0; i < sizeof(block_devices) / sizeof(block_devices[0]); i++)
		if (fnmatch(block_devices[i], path, 0) == 0) {
			d->raw_writer = pid;
			d->raw_writer_ns = now;
			snprintf(d->raw_dev, sizeof(d->raw_dev), "%s", path);
			return;
		}
}

struct hit_ctx {
	struct ids *d;
	uint64_t icount, off, len;
	bool meta;
	const char *done[MAX_FILES_A_WRITE];
	unsigned ndone;
};

/* Who wrote: the process running when the driver was told (dd writing
 * /dev/vda with O_DIRECT, a sync), unless that is a kernel thread (the
 * flusher writing back someone's pages): then the last process that
 * opened a disk device for writing, if recent. */
static int32_t writer(struct ids *d, uint64_t icount, uint64_t now, json_t *ev, uint64_t *task)
{
	struct tap_regs r;
	taps_regs(d->m, &r);
	struct vmi *v = ids_vmi(d, icount, r.satp);
	struct vmi_task t;
	*task = 0;
	if (v && !vmi_task_read(v, r.priv == 0 ? r.sscratch : r.x[4], &t)) {
		json_object_set_new(ev, "writer", json_string(t.comm));
		if (!t.kthread && t.tgid > 0) {
			*task = t.task;
			return t.tgid;
		}
	}
	if (d->raw_writer > 0 && now - d->raw_writer_ns <= (uint64_t)(d->p->explain_s * NS)) {
		json_object_set_new(ev, "device", json_string(d->raw_dev));
		return d->raw_writer;
	}
	return 0;
}

static bool on_hit(void *opaque, enum ext4map_kind kind, const char *path, uint32_t ino,
		   uint64_t block)
{
	struct hit_ctx *c = opaque;
	struct ids *d = c->d;
	if (kind == EXT4MAP_META || !path) {
		c->meta = true;
		return true;
	}
	for (unsigned i = 0; i < c->ndone; i++)
		if (c->done[i] == path)
			return true; /* this file's next range in the same write */
	if (c->ndone == MAX_FILES_A_WRITE)
		return false;
	c->done[c->ndone++] = path;
	uint64_t now = taps_now_ns(d->m), window = (uint64_t)(d->p->explain_s * NS);
	/* written through a call keel saw (its alert was that call's), or
	 * alerted from below already: one alert per file per window */
	if (within(d->explained, path, now, window) || within(d->disk_alerted, path, now, window))
		return true;
	remember(d->disk_alerted, path, now);
	json_t *ev = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I}", "via", "disk", "path", path, "inode",
			       (json_int_t)ino, "block", (json_int_t)block, "offset",
			       (json_int_t)c->off, "len", (json_int_t)c->len);
	uint64_t task;
	int32_t pid = writer(d, c->icount, now, ev, &task);
	ids_alert(d, M_SYSTEM_FILES, c->icount, pid, task, ev);
	return true;
}

static void on_write(void *opaque, uint64_t icount, uint64_t off, uint64_t len)
{
	struct ids *d = opaque;
	uint64_t now = taps_now_ns(d->m);
	if (d->map_stale && now - d->map_built_ns >= REBUILD_NS) {
		char err[256];
		struct ext4map *x = build(d, err, sizeof(err));
		if (x) { /* else the guest broke its file system: keep the old map */
			ext4map_free(d->map);
			d->map = x;
		}
		d->map_built_ns = now;
		d->map_stale = false;
	}
	struct hit_ctx c = {d, icount, off, len, false, {0}, 0};
	ext4map_hits(d->map, off, len, on_hit, &c);
	if (c.meta)
		d->map_stale = true;
}

int diskwatch_start(struct ids *d, char *err, size_t errlen)
{
	d->disk_id = -1;
	if (!taps_disk_size(d->m)) {
		snprintf(err, errlen, "no disk");
		return -1;
	}
	if (!(d->map = build(d, err, errlen)))
		return -1;
	d->map_built_ns = taps_now_ns(d->m);
	d->explained = json_object();
	d->disk_alerted = json_object();
	if ((d->disk_id = taps_disk_subscribe(d->m, on_write, d)) < 0) {
		snprintf(err, errlen, "no disk subscription left");
		diskwatch_stop(d);
		return -1;
	}
	return 0;
}

void diskwatch_stop(struct ids *d)
{
	if (d->disk_id >= 0)
		taps_disk_unsubscribe(d->m, d->disk_id);
	d->disk_id = -1;
	ext4map_free(d->map);
	d->map = NULL;
	json_decref(d->explained);
	json_decref(d->disk_alerted);
	d->explained = d->disk_alerted = NULL;
}
