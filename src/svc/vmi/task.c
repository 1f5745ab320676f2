/* Tasks one at a time, for services that follow processes (the intrusion
 * detector): identity, executable and ancestry of a task_struct, each a
 * handful of bounded reads through the memory view. */
#include <string.h>

#include "svc/vmi/vmi_int.h"

#define PF_KTHREAD 0x00200000u

int vmi_task_read(const struct vmi *v, uint64_t task, struct vmi_task *t)
{
	uint64_t pid, tgid, ppid = 0, uid = 0, flags = 0;
	memset(t, 0, sizeof(*t));
	if (!task || kfield(v, task, F_TASK_PID, &pid) || kfield(v, task, F_TASK_TGID, &tgid))
		return -1;
	uint64_t parent = kptr(v, task, F_TASK_REAL_PARENT);
	if (parent)
		kfield(v, parent, F_TASK_TGID, &ppid);
	uint64_t cred = kptr(v, task, F_TASK_CRED);
	if (cred)
		kfield(v, cred, F_CRED_UID, &uid);
	kfield(v, task, F_TASK_FLAGS, &flags);
	uint32_t clen = v->f[F_TASK_COMM].size < 16 ? v->f[F_TASK_COMM].size : 16;
	if (kread(v, task + v->f[F_TASK_COMM].off, t->comm, clen))
		t->comm[0] = 0;
	t->comm[16] = 0;
	t->task = task;
	t->pid = (int32_t)pid;
	t->tgid = (int32_t)tgid;
	t->ppid = (int32_t)ppid;
	t->uid = (uint32_t)uid;
	t->kthread = flags & PF_KTHREAD;
	return 0;
}

int vmi_task_creds(const struct vmi *v, uint64_t task, struct vmi_creds *c)
{
	uint64_t pid, tgid, uid, euid;
	uint64_t cred = kptr(v, task, F_TASK_CRED);
	if (!cred || kfield(v, task, F_TASK_PID, &pid) || kfield(v, task, F_TASK_TGID, &tgid) ||
	    kfield(v, cred, F_CRED_UID, &uid))
		return -1;
	if (kfield(v, cred, F_CRED_EUID, &euid))
		euid = uid;
	*c = (struct vmi_creds){.pid = (int32_t)pid, .tgid = (int32_t)tgid, .uid = (uint32_t)uid,
				.euid = (uint32_t)euid};
	return 0;
}

uint64_t vmi_task_find(struct vmi *v, long pid)
{
	return find_task(v, pid);
}

struct list_ctx {
	struct vmi_task *out;
	long n, max;
};

static int list_fn(struct vmi *v, uint64_t task, void *opaque)
{
	struct list_ctx *c = opaque;
	if (c->n >= c->max)
		return 1;
	if (vmi_task_read(v, task, &c->out[c->n]) == 0)
		c->n++;
	return 0;
}

long vmi_task_list(struct vmi *v, struct vmi_task *out, long max)
{
	struct list_ctx c = {out, 0, max};
	struct view_out o = {0};
	long rc = for_each_task(v, &o, list_fn, &c);
	json_decref(o.notes);
	return rc < 0 ? -1 : c.n;
}

int vmi_task_exe(const struct vmi *v, uint64_t task, char *buf, size_t max)
{
	uint64_t mm = kptr(v, task, F_TASK_MM);
	uint64_t file = mm ? kptr(v, mm, F_MM_EXE_FILE) : 0;
	buf[0] = 0;
	return file && file_path(v, file, buf, max) >= 0 ? 0 : -1;
}

int vmi_task_fd_path(const struct vmi *v, uint64_t task, int fd, char *buf, size_t max)
{
	uint64_t files = kptr(v, task, F_TASK_FILES), nfds = 0, file = 0;
	uint64_t fdt = files ? kptr(v, files, F_FILES_FDT) : 0;
	uint64_t arr = fdt ? kptr(v, fdt, F_FDT_FD) : 0;
	buf[0] = 0;
	if (fd < 0 || !arr || kfield(v, fdt, F_FDT_MAX_FDS, &nfds) || (uint64_t)fd >= nfds ||
	    kread(v, arr + 8 * (uint64_t)fd, &file, 8) || !file)
		return -1;
	return file_path(v, file, buf, max) >= 0 ? 0 : -1;
}

json_t *vmi_task_chain(const struct vmi *v, uint64_t task, int max)
{
	json_t *chain = json_array();
	char exe[VMI_MAX_PATH];
	for (int i = 0; i < max && task; i++) {
		struct vmi_task t;
		if (vmi_task_read(v, task, &t))
			break;
		json_t *row = json_pack("{s:i,s:o,s:i}", "pid", t.tgid, "comm", gstr(t.comm), "uid",
					(int)t.uid);
		if (vmi_task_exe(v, task, exe, sizeof(exe)) == 0)
			json_object_set_new(row, "exe", gstr(exe));
		json_array_append_new(chain, row);
		if (t.tgid <= 1)
			break;
		task = kptr(v, task, F_TASK_REAL_PARENT);
	}
	return chain;
}
