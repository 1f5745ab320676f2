/* Descriptors resolved one at a time, for services that follow reads and
 * writes: the task's file table entry, then what the file is (a path, a
 * pipe, a socket with its endpoints), each a handful of bounded reads. */
#include <inttypes.h>
#include <string.h>

#include "svc/vmi/vmi_int.h"

uint64_t task_fd_file(const struct vmi *v, uint64_t task, uint64_t fd)
{
	uint64_t fdt = kptr(v, kptr(v, task, F_TASK_FILES), F_FILES_FDT), max = 0, file = 0;
	if (!fdt || kfield(v, fdt, F_FDT_MAX_FDS, &max) || fd >= max)
		return 0;
	uint64_t arr = kptr(v, fdt, F_FDT_FD);
	return arr && kread(v, arr + 8 * fd, &file, 8) == 0 ? file : 0;
}

int vmi_task_fd(const struct vmi *v, uint64_t task, uint64_t fd, struct vmi_fd *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t file = task_fd_file(v, task, fd);
	if (!file || file_path(v, file, out->path, sizeof(out->path)) < 0)
		return -1;
	out->file = file;
	uint64_t dentry = kptr(v, file + v->f[F_FILE_PATH].off, F_PATH_DENTRY);
	kfield(v, kptr(v, dentry, F_DENTRY_INODE), F_INODE_INO, &out->ino);
	if (!strncmp(out->path, "socket:[", 8)) {
		out->kind = VMI_FD_SOCKET;
		socket_endpoints(v, file, out->proto, sizeof(out->proto), out->local, out->remote,
				 sizeof(out->local));
	} else if (!strncmp(out->path, "pipe:[", 6)) {
		out->kind = VMI_FD_PIPE;
	} else {
		out->kind = out->path[0] == '/' ? VMI_FD_FILE : VMI_FD_OTHER;
	}
	return 0;
}
