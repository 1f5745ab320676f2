/* Types: every structure field introspection reads, looked up by name in
 * the kernel's BTF at attach time (libbpf's btf API) — the kernel's own
 * BTF in RAM (__start_BTF..__stop_BTF, a kernel built with
 * CONFIG_DEBUG_INFO_BTF) or a vmlinux file's .BTF.  No offset is written
 * down here: a kernel that lacks a field gets a message naming it, and
 * the views that need it are refused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "svc/vmi/vmi_int.h"

/* Each field: its structure, its path inside it (dots step into embedded
 * structures, anonymous ones are searched; "a|b": either name, for
 * fields renamed between kernels) and the views that need it. */
static const struct {
	const char *type, *path;
	unsigned views;
} specs[F_COUNT] = {
	[F_TASK_TASKS] = {"task_struct", "tasks", V_PS | V_FILES | V_NET | V_CROSS | V_MOUNTS},
	[F_TASK_PID] = {"task_struct", "pid", V_PS | V_FILES | V_NET | V_CROSS | V_EVENTS},
	[F_TASK_TGID] = {"task_struct", "tgid", V_PS | V_FILES | V_NET | V_CROSS | V_EVENTS},
	[F_TASK_REAL_PARENT] = {"task_struct", "real_parent", V_PS},
	[F_TASK_CRED] = {"task_struct", "cred", V_PS},
	[F_TASK_COMM] = {"task_struct", "comm", V_PS | V_FILES | V_NET | V_CROSS | V_EVENTS},
	[F_TASK_MM] = {"task_struct", "mm", V_PS},
	[F_TASK_STATE] = {"task_struct", "__state|state", V_PS},
	[F_TASK_START_TIME] = {"task_struct", "start_time", V_PS},
	[F_TASK_FLAGS] = {"task_struct", "flags", V_PS},
	[F_TASK_FILES] = {"task_struct", "files", V_FILES | V_NET | V_EVENTS},
	[F_TASK_NSPROXY] = {"task_struct", "nsproxy", V_MOUNTS},
	[F_TASK_PID_LINKS] = {"task_struct", "pid_links", V_CROSS},
	[F_TASK_EXIT_STATE] = {"task_struct", "exit_state", V_PS},
	/* optional: ps shows no thread count without them */
	[F_TASK_SIGNAL] = {"task_struct", "signal", 0},
	[F_SIGNAL_NR_THREADS] = {"signal_struct", "nr_threads", 0},
	[F_CRED_UID] = {"cred", "uid", V_PS},
	[F_CRED_GID] = {"cred", "gid", V_PS},
	/* optional: vmi_task_creds reports the real uid as effective without it */
	[F_CRED_EUID] = {"cred", "euid", 0},
	[F_MM_PGD] = {"mm_struct", "pgd", V_PS},
	[F_MM_EXE_FILE] = {"mm_struct", "exe_file", 0},
	[F_FILE_PATH] = {"file", "f_path", V_FILES | V_NET},
	[F_FILE_FLAGS] = {"file", "f_flags", V_FILES},
	[F_FILE_POS] = {"file", "f_pos", V_FILES},
	[F_FILE_PRIVATE] = {"file", "private_data", V_NET},
	[F_FILE_INODE] = {"file", "f_inode", V_FILES},
	[F_PATH_MNT] = {"path", "mnt", V_FILES | V_NET | V_MOUNTS},
	[F_PATH_DENTRY] = {"path", "dentry", V_FILES | V_NET | V_MOUNTS},
	[F_DENTRY_PARENT] = {"dentry", "d_parent", V_FILES | V_MOUNTS},
	[F_DENTRY_NAME] = {"dentry", "d_name", V_FILES | V_MOUNTS},
	[F_DENTRY_INODE] = {"dentry", "d_inode", V_FILES | V_NET},
	[F_DENTRY_SB] = {"dentry", "d_sb", V_FILES | V_NET},
	[F_QSTR_LEN] = {"qstr", "len", V_FILES | V_MOUNTS},
	[F_QSTR_NAME] = {"qstr", "name", V_FILES | V_MOUNTS},
	[F_INODE_INO] = {"inode", "i_ino", V_FILES | V_NET},
	[F_SB_MAGIC] = {"super_block", "s_magic", V_FILES | V_NET},
	[F_SB_TYPE] = {"super_block", "s_type", V_MOUNTS},
	[F_FSTYPE_NAME] = {"file_system_type", "name", V_MOUNTS},
	[F_VFSMOUNT_ROOT] = {"vfsmount", "mnt_root", V_FILES | V_MOUNTS},
	[F_VFSMOUNT_SB] = {"vfsmount", "mnt_sb", V_MOUNTS},
	[F_MOUNT_MNT] = {"mount", "mnt", V_FILES | V_MOUNTS},
	[F_MOUNT_PARENT] = {"mount", "mnt_parent", V_FILES | V_MOUNTS},
	[F_MOUNT_MOUNTPOINT] = {"mount", "mnt_mountpoint", V_FILES | V_MOUNTS},
	/* the namespace's mounts: a list up to Linux 6.7, a red-black tree
	 * ordered by mount id from 6.8; view_mounts takes either pair */
	[F_MOUNT_LIST] = {"mount", "mnt_list", 0},
	[F_MOUNT_DEVNAME] = {"mount", "mnt_devname", V_MOUNTS},
	[F_FILES_FDT] = {"files_struct", "fdt", V_FILES | V_NET | V_EVENTS},
	[F_FDT_MAX_FDS] = {"fdtable", "max_fds", V_FILES | V_NET | V_EVENTS},
	[F_FDT_FD] = {"fdtable", "fd", V_FILES | V_NET | V_EVENTS},
	[F_SOCKET_SK] = {"socket", "sk", V_NET},
	[F_SOCKET_TYPE] = {"socket", "type", V_NET},
	[F_SK_FAMILY] = {"sock", "__sk_common.skc_family", V_NET},
	[F_SK_STATE] = {"sock", "__sk_common.skc_state", V_NET},
	[F_SK_NUM] = {"sock", "__sk_common.skc_num", V_NET},
	[F_SK_DPORT] = {"sock", "__sk_common.skc_dport", V_NET},
	[F_SK_RCV_SADDR] = {"sock", "__sk_common.skc_rcv_saddr", V_NET},
	[F_SK_DADDR] = {"sock", "__sk_common.skc_daddr", V_NET},
	[F_SK_PROTOCOL] = {"sock", "sk_protocol", V_NET},
	[F_NSPROXY_MNT_NS] = {"nsproxy", "mnt_ns", V_MOUNTS},
	[F_MNTNS_LIST] = {"mnt_namespace", "list", 0},
	[F_NET_DEV_BASE] = {"net", "dev_base_head", V_IFACES},
	[F_NETDEV_LIST] = {"net_device", "dev_list", V_IFACES},
	[F_NETDEV_NAME] = {"net_device", "name", V_IFACES},
	[F_NETDEV_IFINDEX] = {"net_device", "ifindex", V_IFACES},
	[F_NETDEV_FLAGS] = {"net_device", "flags", V_IFACES},
	[F_NETDEV_MTU] = {"net_device", "mtu", V_IFACES},
	[F_NETDEV_ADDR] = {"net_device", "dev_addr", V_IFACES},
	[F_NETDEV_ADDR_LEN] = {"net_device", "addr_len", V_IFACES},
	[F_PID_NUMBERS] = {"pid", "numbers", V_CROSS},
	[F_PID_TASKS] = {"pid", "tasks", V_CROSS},
	[F_UPID_NR] = {"upid", "nr", V_CROSS},
	[F_PIDNS_IDR] = {"pid_namespace", "idr", V_CROSS},
	[F_IDR_RT] = {"idr", "idr_rt", V_CROSS},
	[F_XA_HEAD] = {"xarray", "xa_head", V_CROSS},
	[F_XANODE_SHIFT] = {"xa_node", "shift", V_CROSS},
	[F_XANODE_SLOTS] = {"xa_node", "slots", V_CROSS},
	[F_MODULE_LIST] = {"module", "list", V_MODULES},
	[F_MODULE_NAME] = {"module", "name", V_MODULES},
	[F_MODULE_STATE] = {"module", "state", V_MODULES},
	/* optional: without them net lists only the sockets descriptors hold */
	[F_NET_TCP_HASHINFO] = {"net", "ipv4.tcp_death_row.hashinfo", 0},
	[F_HI_EHASH] = {"inet_hashinfo", "ehash", 0},
	[F_HI_EHASH_MASK] = {"inet_hashinfo", "ehash_mask", 0},
	[F_HI_LHASH2] = {"inet_hashinfo", "lhash2", 0},
	[F_HI_LHASH2_MASK] = {"inet_hashinfo", "lhash2_mask", 0},
	[F_EHB_CHAIN] = {"inet_ehash_bucket", "chain", 0},
	[F_LHB_HEAD] = {"inet_listen_hashbucket", "nulls_head", 0},
	[F_SK_NULLS_NODE] = {"sock", "__sk_common.skc_nulls_node", 0},
	/* optional: UNIX sockets' paths */
	[F_UNIX_ADDR] = {"unix_sock", "addr", 0},
	[F_UNIXADDR_LEN] = {"unix_address", "len", 0},
	[F_UNIXADDR_NAME] = {"unix_address", "name", 0},
	[F_MNTNS_MOUNTS] = {"mnt_namespace", "mounts", 0},
	[F_MOUNT_NODE] = {"mount", "mnt_node", 0},
	[F_RBROOT_NODE] = {"rb_root", "rb_node", 0},
	[F_RB_LEFT] = {"rb_node", "rb_left", 0},
	[F_RB_RIGHT] = {"rb_node", "rb_right", 0},
	/* optional: the run queues, the cross-view's third source (the fair
	 * class's tree of each CPU's rq, recursing into group entities) */
	[F_RQ_CFS] = {"rq", "cfs", 0},
	[F_RQ_CURR] = {"rq", "curr", 0},
	[F_CFSRQ_TIMELINE] = {"cfs_rq", "tasks_timeline.rb_root", 0},
	[F_CFSRQ_CURR] = {"cfs_rq", "curr", 0},
	[F_TASK_SE] = {"task_struct", "se", 0},
	[F_SE_RUN_NODE] = {"sched_entity", "run_node", 0},
	[F_SE_MY_Q] = {"sched_entity", "my_q", 0}, /* CONFIG_FAIR_GROUP_SCHED */
	/* a process's threads: signal->thread_head, each task's thread_node */
	[F_SIGNAL_THREAD_HEAD] = {"signal_struct", "thread_head", V_THREADS},
	[F_TASK_THREAD_NODE] = {"task_struct", "thread_node", V_THREADS},
	/* optional: IPv6 addresses (CONFIG_IPV6) */
	[F_SK_V6_RCV_SADDR] = {"sock", "__sk_common.skc_v6_rcv_saddr", 0},
	[F_SK_V6_DADDR] = {"sock", "__sk_common.skc_v6_daddr", 0},
	/* optional: /sys/module's side of the modules view (module_kset's
	 * kobjects, each a module_kobject pointing at its module) */
	[F_KSET_LIST] = {"kset", "list", 0},
	[F_KOBJ_ENTRY] = {"kobject", "entry", 0},
	[F_MKOBJ_KOBJ] = {"module_kobject", "kobj", 0},
	[F_MKOBJ_MOD] = {"module_kobject", "mod", 0},
};

static const char *const type_names[TY_COUNT] = {
	[TY_EHASH_BUCKET] = "inet_ehash_bucket",
	[TY_LISTEN_BUCKET] = "inet_listen_hashbucket",
};

static const char *const view_bit_names[] = {"ps", "files", "net", "modules", "mounts",
					     "ifaces", "integrity", "crossview", "events", "threads"};

json_t *views_of_mask(unsigned mask)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < sizeof(view_bit_names) / sizeof(view_bit_names[0]); i++)
		if (mask & (1u << i))
			json_array_append_new(a, json_string(view_bit_names[i]));
	return a;
}

/* A member called name in the struct/union id, searching anonymous
 * members too; its bit offset is added to *bits. */
static const struct btf_member *find_member(const struct btf *btf, __u32 id, const char *name,
					    __u32 *bits, const struct btf_type **owner, int depth)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	if (!t || !btf_is_composite(t) || depth > 8)
		return NULL;
	const struct btf_member *m = btf_members(t);
	for (__u16 i = 0; i < btf_vlen(t); i++, m++) {
		const char *mn = btf__name_by_offset(btf, m->name_off);
		__u32 off = btf_member_bit_offset(t, i);
		if (mn && *mn && !strcmp(mn, name)) {
			*bits += off;
			*owner = t;
			return m;
		}
		if (mn && *mn)
			continue;
		__u32 sub = off;
		int r = btf__resolve_type(btf, m->type);
		if (r < 0)
			continue;
		const struct btf_member *found =
			find_member(btf, (__u32)r, name, &sub, owner, depth + 1);
		if (found) {
			*bits += sub;
			return found;
		}
	}
	return NULL;
}

/* One step of a path: "a|b" tries each name. */
static const struct btf_member *find_step(const struct btf *btf, __u32 id, char *step,
					  __u32 *bits, const struct btf_type **owner)
{
	for (char *save = NULL, *alt = strtok_r(step, "|", &save); alt;
	     alt = strtok_r(NULL, "|", &save)) {
		__u32 b = 0;
		const struct btf_member *m = find_member(btf, id, alt, &b, owner, 0);
		if (m) {
			*bits += b;
			return m;
		}
	}
	return NULL;
}

static int resolve_one(const struct btf *btf, const char *type, const char *path, struct field *f)
{
	__s32 id = btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT);
	if (id < 0)
		id = btf__find_by_name_kind(btf, type, BTF_KIND_UNION);
	if (id < 0)
		return -1;
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	__u32 bits = 0, cur = (__u32)id;
	const struct btf_member *m = NULL;
	const struct btf_type *owner = NULL;
	char *save = NULL;
	for (char *step = strtok_r(buf, ".", &save); step; step = strtok_r(NULL, ".", &save)) {
		if (m) {
			int r = btf__resolve_type(btf, m->type);
			if (r < 0)
				return -1;
			cur = (__u32)r;
		}
		/* a nested strtok_r in find_step works on its own copy */
		char alt[64];
		snprintf(alt, sizeof(alt), "%s", step);
		m = find_step(btf, cur, alt, &bits, &owner);
		if (!m)
			return -1;
	}
	if (!m)
		return -1;
	__u32 bf = btf_kflag(owner) ? BTF_MEMBER_BITFIELD_SIZE(m->offset) : 0;
	int r = btf__resolve_type(btf, m->type);
	__s64 size = btf__resolve_size(btf, m->type);
	const struct btf_type *t = r < 0 ? NULL : btf__type_by_id(btf, (__u32)r);
	/* a flexible array member (numbers[] of struct pid) has size 0 */
	if (!t || size < 0 || (size == 0 && !btf_is_array(t)) || size > (1 << 20) || bf > 56)
		return -1;
	*f = (struct field){.ok = true, .off = bits / 8, .size = (uint32_t)size};
	if (btf_is_array(t))
		f->nelem = btf_array(t)->nelems;
	if (bf) {
		f->bit_off = (uint8_t)(bits % 8);
		f->bit_size = (uint8_t)bf;
		f->size = (f->bit_off + bf + 7) / 8;
	}
	return 0;
}

void ktypes_resolve(struct vmi *v)
{
	v->missing = json_array();
	v->refused = 0;
	for (int i = 0; i < TY_COUNT; i++) {
		__s32 id = btf__find_by_name_kind(v->btf, type_names[i], BTF_KIND_STRUCT);
		__s64 size = id < 0 ? 0 : btf__resolve_size(v->btf, (__u32)id);
		v->tsize[i] = size > 0 && size < (1 << 20) ? (uint32_t)size : 0;
	}
	for (int i = 0; i < F_COUNT; i++) {
		if (resolve_one(v->btf, specs[i].type, specs[i].path, &v->f[i]) == 0)
			continue;
		v->f[i] = (struct field){0};
		v->refused |= specs[i].views;
		char name[160];
		snprintf(name, sizeof(name), "%s.%s", specs[i].type, specs[i].path);
		json_array_append_new(v->missing, json_pack("{s:s,s:o}", "field", name, "views",
							      views_of_mask(specs[i].views)));
	}
	/* mounts needs one of two pairs (a list up to 6.7, a tree from 6.8) */
	const struct field *f = v->f;
	if (!(f[F_MNTNS_LIST].ok && f[F_MOUNT_LIST].ok) &&
	    !(f[F_MNTNS_MOUNTS].ok && f[F_MOUNT_NODE].ok && f[F_RBROOT_NODE].ok &&
	      f[F_RB_LEFT].ok && f[F_RB_RIGHT].ok)) {
		v->refused |= V_MOUNTS;
		json_array_append_new(v->missing,
				      json_pack("{s:s,s:o}", "field",
						"mnt_namespace.list with mount.mnt_list (Linux up to "
						"6.7) or mnt_namespace.mounts with mount.mnt_node (6.8 on)",
						"views", views_of_mask(V_MOUNTS)));
	}
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int btf_from_ram(struct vmi *v, char *err, size_t errlen)
{
	uint64_t start, stop;
	if (ksyms_lookup(&v->syms, "__start_BTF", &start) ||
	    ksyms_lookup(&v->syms, "__stop_BTF", &stop)) {
		snprintf(err, errlen, "the kernel has no BTF in memory (no __start_BTF symbol: "
				      "built without CONFIG_DEBUG_INFO_BTF): give --vmlinux FILE with BTF");
		return -1;
	}
	if (stop <= start || stop - start > VMI_MAX_BTF) {
		snprintf(err, errlen, "__start_BTF..__stop_BTF is %s", stop <= start ? "empty" : "too large");
		return -1;
	}
	void *buf = malloc(stop - start);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (kread(v, start, buf, stop - start)) {
		free(buf);
		snprintf(err, errlen, "the kernel's BTF at 0x%llx is not readable",
			 (unsigned long long)start);
		return -1;
	}
	libbpf_print_fn_t old = libbpf_set_print(NULL);
	v->btf = btf__new(buf, (__u32)(stop - start));
	long e = libbpf_get_error(v->btf);
	libbpf_set_print(old);
	free(buf);
	if (e) {
		char why[128];
		libbpf_strerror((int)e, why, sizeof(why));
		v->btf = NULL;
		snprintf(err, errlen, "the kernel's BTF in memory does not parse (%s)", why);
		return -1;
	}
	snprintf(v->btf_source, sizeof(v->btf_source), "kernel memory (%llu bytes)",
		 (unsigned long long)(stop - start));
	return 0;
}

int ktypes_load(struct vmi *v, const char *vmlinux, char *err, size_t errlen)
{
	double t0 = now_ms();
	if (vmlinux) {
		/* libbpf reports through its print callback as well: keep to ours */
		libbpf_print_fn_t old = libbpf_set_print(NULL);
		v->btf = btf__parse_elf(vmlinux, NULL);
		long e = libbpf_get_error(v->btf);
		libbpf_set_print(old);
		if (e) {
			char why[128];
			libbpf_strerror((int)e, why, sizeof(why));
			v->btf = NULL;
			snprintf(err, errlen, "%s: no usable .BTF section (%s)", vmlinux, why);
			return -1;
		}
		snprintf(v->btf_source, sizeof(v->btf_source), "%s", vmlinux);
	} else if (btf_from_ram(v, err, errlen)) {
		return -1;
	}
	v->btf_ms = now_ms() - t0;
	ktypes_resolve(v);
	return 0;
}
