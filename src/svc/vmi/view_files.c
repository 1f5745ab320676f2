/* Open files: each process's descriptor table, paths rebuilt by walking
 * dentries up to their mount's root and on through the mounts (as d_path
 * does). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "svc/vmi/vmi_int.h"

/* A dentry's name (d_name: a qstr, not necessarily terminated). */
static int dentry_name(const struct vmi *v, uint64_t dentry, char *buf, size_t max)
{
	uint64_t q = dentry + v->f[F_DENTRY_NAME].off, len, name;
	if (kfield(v, q, F_QSTR_LEN, &len) || kfield(v, q, F_QSTR_NAME, &name))
		return -1;
	if (len >= max)
		len = max - 1;
	if (kread(v, name, buf, len))
		return -1;
	buf[len] = 0;
	/* a name with a NUL inside is cut there, as the kernel would print it */
	return 0;
}

/* Prepend "/name" to the path being built backwards at buf[*pos..]. */
static bool prepend(char *buf, size_t *pos, const char *name)
{
	size_t n = strlen(name);
	if (n + 1 > *pos)
		return false;
	*pos -= n;
	memcpy(buf + *pos, name, n);
	buf[--*pos] = '/';
	return true;
}

int kpath(const struct vmi *v, uint64_t vfsmnt, uint64_t dentry, char *buf, size_t max)
{
	char tmp[VMI_MAX_PATH];
	size_t pos = sizeof(tmp) - 1;
	tmp[pos] = 0;
	uint64_t mount = vfsmnt - v->f[F_MOUNT_MNT].off;
	int cut = 1;
	for (int steps = 0; steps < 2 * VMI_MAX_DEPTH; steps++) {
		uint64_t root = kptr(v, vfsmnt, F_VFSMOUNT_ROOT);
		if (dentry == root) {
			uint64_t parent = kptr(v, mount, F_MOUNT_PARENT);
			if (!parent || parent == mount) {
				cut = 0;
				break;
			}
			dentry = kptr(v, mount, F_MOUNT_MOUNTPOINT);
			mount = parent;
			vfsmnt = mount + v->f[F_MOUNT_MNT].off;
			continue;
		}
		uint64_t up = kptr(v, dentry, F_DENTRY_PARENT);
		char name[256];
		if (!up || dentry_name(v, dentry, name, sizeof(name)))
			break;
		if (up == dentry) { /* a file system's root, not reached through a mount */
			cut = 0;
			break;
		}
		if (!prepend(tmp, &pos, name))
			break;
		dentry = up;
	}
	if (cut && pos >= 3)
		memcpy(tmp + (pos -= 3), "...", 3);
	snprintf(buf, max, "%s", tmp[pos] ? tmp + pos : "/");
	return cut;
}

int file_path(const struct vmi *v, uint64_t file, char *buf, size_t max)
{
	uint64_t p = file + v->f[F_FILE_PATH].off;
	uint64_t mnt = kptr(v, p, F_PATH_MNT), dentry = kptr(v, p, F_PATH_DENTRY);
	uint64_t sb = kptr(v, dentry, F_DENTRY_SB), magic = 0, ino = 0;
	if (!mnt || !dentry || !sb || kfield(v, sb, F_SB_MAGIC, &magic)) {
		snprintf(buf, max, "?");
		return -1;
	}
	kfield(v, kptr(v, dentry, F_DENTRY_INODE), F_INODE_INO, &ino);
	char name[256];
	/* the names these file systems' d_dname makes up */
	if (magic == SOCKFS_MAGIC || magic == PIPEFS_MAGIC) {
		snprintf(buf, max, "%s:[%" PRIu64 "]", magic == SOCKFS_MAGIC ? "socket" : "pipe", ino);
		return 0;
	}
	if (magic == ANON_INODE_FS_MAGIC) {
		if (dentry_name(v, dentry, name, sizeof(name)))
			snprintf(name, sizeof(name), "?");
		snprintf(buf, max, "anon_inode:%s", name);
		return 0;
	}
	return kpath(v, mnt, dentry, buf, max);
}

int for_each_fd(struct vmi *v, struct view_out *o, uint64_t task, fd_fn fn, void *opaque)
{
	uint64_t files = kptr(v, task, F_TASK_FILES), max = 0;
	if (!files)
		return 0; /* a kernel thread, or an exiting task */
	uint64_t fdt = kptr(v, files, F_FILES_FDT), arr = kptr(v, fdt, F_FDT_FD);
	if (!fdt || !arr || kfield(v, fdt, F_FDT_MAX_FDS, &max)) {
		note(o, "a descriptor table is unreadable");
		return -1;
	}
	if (max > VMI_MAX_FDS) {
		note(o, "a descriptor table claims %" PRIu64 " slots: only %d read", max, VMI_MAX_FDS);
		max = VMI_MAX_FDS;
	}
	if (max > v->fd_slots_left) {
		note(o, "descriptor tables past %u slots in all are not read: cut short",
		     VMI_MAX_FD_SLOTS);
		max = v->fd_slots_left;
	}
	v->fd_slots_left -= max;
	uint64_t chunk[512];
	for (uint64_t base = 0; base < max; base += 512) {
		uint64_t n = max - base < 512 ? max - base : 512;
		if (kread(v, arr + base * 8, chunk, n * 8)) {
			note(o, "a descriptor array is unreadable: cut short");
			return -1;
		}
		for (uint64_t i = 0; i < n; i++)
			if (chunk[i])
				fn(v, task, (int)(base + i), chunk[i], opaque);
	}
	return 0;
}

static void file_row(struct vmi *v, uint64_t task, int fd, uint64_t file, void *opaque)
{
	struct view_out *o = opaque;
	char path[VMI_MAX_PATH];
	uint64_t flags = 0, pos = 0;
	if (file_path(v, file, path, sizeof(path)) < 0)
		note(o, "a file's path is unreadable");
	kfield(v, file, F_FILE_FLAGS, &flags);
	kfield(v, file, F_FILE_POS, &pos);
	static const char *const acc[] = {"r", "w", "rw", "?"};
	char fl[16];
	snprintf(fl, sizeof(fl), "0%" PRIo64, flags);
	json_array_append_new(o->rows, json_pack("{s:i,s:o,s:s,s:s,s:I}", "fd", fd, "path", gstr(path),
						 "mode", acc[flags & 3], "flags", fl, "pos",
						 (json_int_t)pos));
}

int view_files(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen)
{
	long pid;
	uint64_t task = find_task_arg(v, arg, &pid, err, errlen);
	if (!task)
		return -1;
	json_t *who = json_object();
	task_identity(v, task, who);
	json_object_set_new(o->extra, "process", who);
	for_each_fd(v, o, task, file_row, o);
	return 0;
}
