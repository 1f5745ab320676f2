/* The detector's signals and the policies over them.
 *
 *  - process, file and socket events from introspection's trap-hook
 *    stream (svc/vmi/events.c): exec, fork, exit, open, connect, accept;
 *  - more system calls at their return: socket, bind, listen, ioctl,
 *    set*uid, and reads of the console;
 *  - CPU per process: at each supervisor timer interrupt the instructions
 *    retired since the previous one go to the task that was running;
 *  - console input and network frames from the event boundary;
 *  - the kernel's own state (interfaces, integrity hashes, cross-view),
 *    polled at timer interrupts every few guest seconds.
 *
 * Everything here is a function of the machine's state at an exact icount
 * (never host time), so a replay sees the same. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "svc/ids/ids_int.h"
#include "svc/vmi/vmi.h"

/* asm-generic/unistd.h, which riscv64 uses */
enum {
	NR_IOCTL = 29, NR_READ = 63, NR_SETUID = 146, NR_SETREUID = 145, NR_SETRESUID = 147,
	NR_SOCKET = 198, NR_BIND = 200, NR_LISTEN = 201,
};
#define SIOCSIFFLAGS 0x8914
#define AF_INET 2
#define AF_INET6 10
#define AF_PACKET 17
#define SOCK_RAW 3
#define CLONE_THREAD 0x10000
#define IRQ_S_TIMER 5
#define NS 1000000000ull

static const char *sget(json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));
	return s ? s : "";
}

static int64_t iget(json_t *j, const char *k, int64_t dflt)
{
	json_t *v = json_object_get(j, k);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* The table's entry for a process an event names; new ones get their
 * parent from the kernel. */
static struct ids_proc *proc_of(struct ids *d, struct vmi *v, int32_t pid, const char *comm)
{
	struct ids_proc *p = procs_find(&d->procs, pid);
	if (!p) {
		struct vmi_task t = {0};
		uint64_t task = v ? vmi_task_find(v, pid) : 0;
		if (task)
			vmi_task_read(v, task, &t);
		p = procs_get(&d->procs, pid, t.ppid);
		if (p && task) {
			p->uid = t.uid;
			snprintf(p->comm, sizeof(p->comm), "%s", t.comm);
		}
	}
	if (p && comm && comm[0])
		snprintf(p->comm, sizeof(p->comm), "%s", comm);
	return p;
}

/* The executable of process pid as the kernel resolved it (its
 * mm->exe_file: what runs, whatever path or name the exec gave or the
 * process gave itself since), or "" when unknown.  A walk of the task
 * list: for the rare events (a secret read, a burst after one). */
static void proc_exe(struct vmi *v, int32_t pid, char *buf, size_t max)
{
	uint64_t task = v ? vmi_task_find(v, pid) : 0;
	if (!task || vmi_task_exe(v, task, buf, max))
		buf[0] = 0;
}

/* ---- introspection's events ---- */

static void on_open(struct ids *d, struct vmi *v, struct ids_proc *p, json_t *e,
		    uint64_t icount)
{
	if (iget(e, "fd", -1) < 0)
		return;
	const char *path = json_object_get(e, "path") ? sget(e, "path") : sget(e, "name");
	int64_t flags = iget(e, "flags", 0);
	int acc = (int)(flags & 3);
	bool write = acc == 1 || acc == 2 || (flags & (01000 | 02000)); /* O_TRUNC, O_APPEND */
	diskwatch_opened(d, path, p->pid, write);
	if (d->p->on[M_SYSTEM_FILES] && write && glob_list_match(&d->p->write_paths, path))
		ids_alert(d, M_SYSTEM_FILES, icount, p->pid, 0,
			  json_pack("{s:s,s:I,s:I}", "path", path, "flags", (json_int_t)flags, "fd",
				    (json_int_t)iget(e, "fd", -1)));
	if ((acc == 0 || acc == 2) && glob_list_match(&d->p->secret_paths, path)) {
		char exe[256];
		proc_exe(v, p->pid, exe, sizeof(exe));
		detect_secret_read(d, p, exe, taps_now_ns(d->m));
	}
}

void detect_secret_read(struct ids *d, struct ids_proc *p, const char *exe, uint64_t now)
{
	/* An authentication program keeps what it read: it answers yes or
	 * no, so neither it nor the process that started it holds a hash. */
	if (ids_policy_exempt(d->p, exe)) {
		d->exempt_reads++;
		return;
	}
	/* the reader and the process that started it: a script's loop
	 * runs in the shell, the read in its child */
	p->secret_ns = now;
	struct ids_proc *parent = procs_find(&d->procs, p->ppid);
	if (parent)
		parent->secret_ns = now;
}

static void on_exec(struct ids *d, struct ids_proc *p, json_t *e, uint64_t icount)
{
	if (json_object_get(e, "errno"))
		return;
	const char *path = sget(e, "path");
	snprintf(p->exe, sizeof(p->exe), "%s", path);
	p->secret_ns = 0; /* a new program: what the old one read is not its */
	struct ids_proc *parent = procs_find(&d->procs, p->ppid);
	bool service = p->service || (parent && parent->service);
	if (d->p->on[M_SERVICE_SHELL] && service && glob_list_match(&d->p->shells, path))
		ids_alert(d, M_SERVICE_SHELL, icount, p->pid, 0,
			  json_pack("{s:s,s:i,s:s}", "shell", path, "service_pid",
				    p->service ? p->pid : parent->pid, "service_comm",
				    p->service ? p->comm : parent->comm));
}

void detect_vmi_event(void *opaque, json_t *e, struct vmi *v)
{
	struct ids *d = opaque;
	const char *ev = sget(e, "event");
	uint64_t icount = (uint64_t)iget(e, "icount", 0);
	int32_t tgid = (int32_t)iget(e, "tgid", 0);
	if (!v || tgid <= 0)
		return;
	if (!strcmp(ev, "exit")) {
		if (json_is_true(json_object_get(e, "group")) || iget(e, "pid", 0) == tgid)
			procs_remove(&d->procs, tgid);
		return;
	}
	struct ids_proc *p = proc_of(d, v, tgid, sget(e, "comm"));
	if (!p)
		return;
	if (!strcmp(ev, "fork")) {
		int64_t child = iget(e, "child", -1);
		if (child > 0 && !(iget(e, "flags", 0) & CLONE_THREAD) &&
		    !procs_find(&d->procs, (int32_t)child))
			procs_get(&d->procs, (int32_t)child, tgid);
	} else if (!strcmp(ev, "exec")) {
		on_exec(d, p, e, icount);
	} else if (!strcmp(ev, "open")) {
		on_open(d, v, p, e, icount);
	} else if (!strcmp(ev, "accept") && iget(e, "fd", -1) >= 0) {
		p->service = true;
		p->credit_ns = taps_now_ns(d->m); /* an inbound connection is a person too */
	} else if (!strcmp(ev, "connect") && d->p->on[M_NETWORK]) {
		const char *addr = sget(e, "addr");
		int64_t ret = iget(e, "ret", 0);
		bool ok = json_object_get(e, "ret") ? ret == 0 : iget(e, "errno", 0) == 115;
		/* IPv4 only ("a.b.c.d:port"); UNIX sockets are local, and so is
		 * 0.0.0.0 (Linux connects it to this host) */
		if (ok && strchr(addr, '.') && strncmp(addr, "0.0.0.0:", 8) &&
		    !glob_list_match(&d->p->connect_allow, addr))
			ids_alert(d, M_NETWORK, icount, p->pid, 0,
				  json_pack("{s:s,s:s}", "what", "connect not allowed", "addr", addr));
	}
}

/* ---- system calls at their return ---- */

static uint64_t current_task(struct ids *d, bool user)
{
	struct tap_regs r;
	taps_regs(d->m, &r);
	/* Linux/riscv: current is in sscratch while in U-mode, in tp in S-mode */
	return user ? r.sscratch : r.x[4];
}

static void check_promisc(struct ids *d, struct vmi *v, uint64_t icount, int32_t pid,
			  uint64_t task);

static void on_socket_call(struct ids *d, struct vmi *v, const struct tap_trap_return *r,
			   struct ids_proc *p, uint64_t task)
{
	if (r->nr == NR_SOCKET && d->p->on[M_RAW_SOCKETS]) {
		unsigned family = (unsigned)r->args[0], type = (unsigned)r->args[1] & 0xf;
		/* raw IP or whole frames; netlink's SOCK_RAW is how ip(8) talks to the kernel */
		bool raw = family == AF_PACKET ||
			   ((family == AF_INET || family == AF_INET6) && type == SOCK_RAW);
		if (raw &&
		    !glob_list_match(&d->p->raw_allow, p->comm))
			ids_alert(d, M_RAW_SOCKETS, r->icount, p->pid, task,
				  json_pack("{s:s,s:i,s:i,s:I}", "what", family == AF_PACKET ?
					    "packet socket" : "raw socket", "family", family,
					    "type", type, "fd", (json_int_t)r->ret));
	} else if (r->nr == NR_BIND && r->args[2] >= 4) {
		struct memview mv;
		uint8_t sa[4];
		taps_memview(d->m, &mv);
		/* sin_port and sin6_port are both at offset 2 */
		if (memview_read_virt(&mv, r->satp, r->args[1], sa, 4) == 4 &&
		    ((sa[0] | sa[1] << 8) == AF_INET || (sa[0] | sa[1] << 8) == AF_INET6)) {
			for (int i = 0; i < IDS_MAX_BOUND; i++) /* the fd's slot, else the oldest */
				if (p->bound[i].fd == (int32_t)r->args[0] || i == IDS_MAX_BOUND - 1) {
					memmove(&p->bound[1], &p->bound[0], (size_t)i * sizeof(p->bound[0]));
					p->bound[0].fd = (int32_t)r->args[0];
					p->bound[0].port = (uint16_t)(sa[2] << 8 | sa[3]);
					break;
				}
		}
	} else if (r->nr == NR_LISTEN) {
		p->service = true;
		int port = -1;
		for (int i = 0; i < IDS_MAX_BOUND; i++)
			if (p->bound[i].fd == (int32_t)r->args[0])
				port = p->bound[i].port;
		char ps[16];
		snprintf(ps, sizeof(ps), "%d", port);
		/* a socket whose bind was not seen is not judged: a UNIX socket
		 * (systemd's, journald's), one bound before the detector started */
		if (d->p->on[M_NETWORK] && port >= 0 && !glob_list_match(&d->p->listen_allow, ps))
			ids_alert(d, M_NETWORK, r->icount, p->pid, task,
				  json_pack("{s:s,s:i,s:I}", "what", "listener not allowed", "port",
					    port, "fd", (json_int_t)r->args[0]));
	} else if (r->nr == NR_IOCTL && r->args[1] == SIOCSIFFLAGS && d->p->on[M_RAW_SOCKETS]) {
		check_promisc(d, v, r->icount, p->pid, task);
	}
}

static bool wanted_return(struct ids *d, const struct tap_trap_return *r, uint64_t now)
{
	switch (r->nr) {
	case NR_SOCKET: case NR_BIND: case NR_LISTEN: case NR_SETUID: case NR_SETREUID:
	case NR_SETRESUID:
		return true;
	case NR_IOCTL:
		return r->args[1] == SIOCSIFFLAGS;
	case NR_READ: /* the console's reader, just after someone typed */
		return r->args[0] == 0 && d->last_console_ns &&
		       now - d->last_console_ns <= (uint64_t)(d->p->grace_s * NS);
	}
	return false;
}

void detect_return(void *opaque, const struct tap_trap_return *r)
{
	struct ids *d = opaque;
	if (!r->syscall || r->to_priv != 0 || (int64_t)r->ret < 0)
		return;
	uint64_t now = taps_now_ns(d->m);
	if (!wanted_return(d, r, now))
		return;
	struct vmi *v = ids_vmi(d, r->icount, r->satp);
	uint64_t task = current_task(d, true);
	struct vmi_task t;
	if (!v || vmi_task_read(v, task, &t))
		return;
	struct ids_proc *p = proc_of(d, v, t.tgid, t.comm);
	if (!p)
		return;
	if (r->nr == NR_READ) {
		p->credit_ns = now;
		return;
	}
	if (r->nr == NR_SETUID || r->nr == NR_SETREUID || r->nr == NR_SETRESUID) {
		p->uid = t.uid;
		return;
	}
	on_socket_call(d, v, r, p, task);
}

/* ---- CPU ---- */

/* init, and the helpers the kernel starts itself (modprobe for a module
 * it wants, under a kworker): boot and hotplug work no person starts, and
 * no intruder's. */
static bool kernels_own(struct ids *d, struct vmi *v, struct ids_proc *p)
{
	if (p->pid <= 1)
		return true;
	/* the kernel's ancestry: kworkers are not in the detector's table */
	uint64_t task = v ? vmi_task_find(v, p->pid) : 0;
	json_t *chain = task ? vmi_task_chain(v, task, 16) : NULL, *row;
	size_t i;
	bool own = false;
	json_array_foreach(chain, i, row)
		own |= json_integer_value(json_object_get(row, "pid")) == 2;
	json_decref(chain);
	return own;
}

/* p, or a child it started, read a secret within_s before its burst
 * began (detect_secret_read marks the reader's parent too). */
static bool secret_recent(const struct ids *d, const struct ids_proc *p)
{
	return p->secret_ns &&
	       p->secret_ns + (uint64_t)(d->p->shadow_within_s * NS) >= p->burst_start_ns;
}

static void burst_check(struct ids *d, struct vmi *v, struct ids_proc *p, enum ids_module m,
			uint64_t icount)
{
	bool shadow = m == M_SHADOW_BURST;
	unsigned need = shadow ? d->p->shadow_burst_s : d->p->cpu_burst_s;
	if (p->burst_alerted[m] || p->run < need)
		return;
	json_t *ev = NULL;
	if (shadow) {
		char exe[256];
		if (secret_recent(d, p)) /* the walk behind exe only then */
			proc_exe(v, p->pid, exe, sizeof(exe));
		if (secret_recent(d, p) && detect_shadow_suspect(d, p, exe))
			ev = json_pack("{s:I,s:I,s:I}", "secret_read_ns", (json_int_t)p->secret_ns,
				       "burst_start_ns", (json_int_t)p->burst_start_ns, "busy_s",
				       (json_int_t)p->run);
	} else if (p->burst_start_ns > p->credit_ns + (uint64_t)(d->p->grace_s * NS) &&
		   !kernels_own(d, v, p)) {
		ev = json_pack("{s:I,s:I,s:I}", "last_person_ns", (json_int_t)p->credit_ns,
			       "burst_start_ns", (json_int_t)p->burst_start_ns, "busy_s",
			       (json_int_t)p->run);
	}
	if (ev) {
		p->burst_alerted[m] = true;
		ids_alert(d, m, icount, p->pid, 0, ev);
	}
}

bool detect_shadow_suspect(struct ids *d, struct ids_proc *p, const char *exe)
{
	if (!secret_recent(d, p))
		return false;
	/* An authentication program that started a reader (sshd-session
	 * running `cat /etc/shadow` for a remote user) relays what it read,
	 * encrypted: busy, and no cracker.  Judged by what it runs now: a
	 * shell it started has exec'd a program of its own. */
	if (ids_policy_exempt(d->p, exe)) {
		d->exempt_bursts++;
		p->secret_ns = 0;
		return false;
	}
	return true;
}

/* A guest second of the process's ended: was it busy, and for how long
 * in a row now?  One run for both modules, at the lower threshold. */
static void close_second(struct ids *d, struct vmi *v, struct ids_proc *p, uint64_t sec,
			 uint64_t icount)
{
	double mips = 1e12;
	if (d->p->on[M_SHADOW_BURST])
		mips = d->p->busy_mips[M_SHADOW_BURST];
	if (d->p->on[M_CPU_NO_PERSON] && d->p->busy_mips[M_CPU_NO_PERSON] < mips)
		mips = d->p->busy_mips[M_CPU_NO_PERSON];
	if ((double)p->insns >= mips * 1e6) {
		if (!p->run)
			p->burst_start_ns = p->sec * NS;
		p->run++;
		if (p->run > d->peaks.busy_run_s)
			d->peaks.busy_run_s = p->run;
		if (p->burst_start_ns > p->credit_ns + (uint64_t)(d->p->grace_s * NS) &&
		    p->run > d->peaks.unattended_run_s)
			d->peaks.unattended_run_s = p->run;
		if (d->p->on[M_SHADOW_BURST])
			burst_check(d, v, p, M_SHADOW_BURST, icount);
		if (d->p->on[M_CPU_NO_PERSON])
			burst_check(d, v, p, M_CPU_NO_PERSON, icount);
	} else {
		p->run = 0;
	}
	if (sec != p->sec + 1) /* seconds with no sample at all: idle */
		p->run = 0;
	if (!p->run)
		p->burst_alerted[M_SHADOW_BURST] = p->burst_alerted[M_CPU_NO_PERSON] = false;
	p->sec = sec;
	p->insns = 0;
}

static void cpu_sample(struct ids *d, struct vmi *v, const struct tap_trap *t, uint64_t now)
{
	uint64_t delta = t->icount - d->last_sample_icount;
	d->last_sample_icount = t->icount;
	if (!d->p->on[M_SHADOW_BURST] && !d->p->on[M_CPU_NO_PERSON])
		return;
	struct vmi_task task;
	if (vmi_task_read(v, current_task(d, t->from_priv == 0), &task) || task.kthread ||
	    task.tgid <= 0)
		return; /* idle, or a kernel thread */
	struct ids_proc *p = proc_of(d, v, task.tgid, task.comm);
	if (!p)
		return;
	/* Work that goes on from a person's input stays theirs: while an
	 * attended process runs, it and the processes waiting on it (the
	 * shell running `tar && gzip && gunzip`) keep their credit fresh.
	 * A process that was idle for longer than grace_s has lost it. */
	uint64_t grace = (uint64_t)(d->p->grace_s * NS);
	if (p->credit_ns && now - p->credit_ns <= grace)
		for (struct ids_proc *q = p; q && q->credit_ns < now;
		     q = q->ppid > 0 && q->ppid != q->pid ? procs_find(&d->procs, q->ppid) : NULL)
			q->credit_ns = now;
	uint64_t sec = now / NS;
	if (p->sec != sec)
		close_second(d, v, p, sec, t->icount);
	p->insns += delta;
}

/* ---- the kernel's state, polled ---- */

static void check_promisc(struct ids *d, struct vmi *v, uint64_t icount, int32_t pid,
			  uint64_t task)
{
	char err[256];
	json_t *res = vmi_view(v, "ifaces", NULL, err, sizeof(err));
	json_t *row;
	size_t i;
	json_array_foreach(res ? json_object_get(res, "rows") : NULL, i, row) {
		const char *name = sget(row, "name");
		bool on = json_is_true(json_object_get(row, "promisc"));
		bool seen = json_object_get(d->promisc_alerted, name) != NULL;
		if (on && !seen) {
			json_object_set_new(d->promisc_alerted, name, json_true());
			ids_alert(d, M_RAW_SOCKETS, icount, pid, task,
				  json_pack("{s:s,s:s,s:O}", "what", "promiscuous interface", "iface",
					    name, "flags", json_object_get(row, "flags")));
		} else if (!on && seen) {
			json_object_del(d->promisc_alerted, name);
		}
	}
	json_decref(res);
}

/* A change kernel_integrity found: an alert once the baseline has
 * settled; before that, taken into the baseline and counted. */
static void kernel_change(struct ids *d, uint64_t icount, const char *what, json_t *evidence)
{
	if (d->kernel_settled) {
		ids_alert(d, M_KERNEL_INTEGRITY, icount, 0, 0, evidence);
		return;
	}
	json_t *a = d->kernel_absorbed;
	if (!strcmp(what, "modules")) {
		if (!json_object_get(a, "modules"))
			json_object_set_new(a, "modules", json_array());
		json_array_append(json_object_get(a, "modules"), json_object_get(evidence, "module"));
	} else {
		json_int_t n = json_integer_value(json_object_get(a, what));
		json_object_set_new(a, what, json_integer(n + 1));
	}
	json_decref(evidence);
}

/* The boot is over for kernel_integrity when a check finds the kernel as
 * it was settle_insns instructions or settle_s guest seconds ago: a
 * kernel that loads modules on demand and patches itself while it boots
 * (Debian's) has stopped.  Instructions measure the boot's work whatever
 * the host's load (guest time runs ahead of them on a loaded host); guest
 * seconds bound the wait on a guest that idles.  One line says when, and
 * what was taken in (docs/ids.md, "The kernel's baseline").  A fixed
 * kernel (no loadable modules, no static keys: the default guest's) has
 * nothing to settle: its first check is the baseline. */
static void kernel_settle(struct ids *d, uint64_t icount, uint64_t now, bool changed,
			  bool fixed)
{
	if (d->kernel_settled)
		return;
	bool first = !d->kernel_checked;
	d->kernel_checked = true;
	if (first && (fixed || d->o.kernel_booted || !d->p->settle_insns || !d->p->settle_s)) {
		d->kernel_settled = true; /* the first check is the baseline: nothing to say */
		return;
	}
	if (changed || first) {
		d->kernel_quiet_icount = icount;
		d->kernel_quiet_ns = now;
	}
	if (icount - d->kernel_quiet_icount < (uint64_t)d->p->settle_insns &&
	    now - d->kernel_quiet_ns < (uint64_t)(d->p->settle_s * NS))
		return;
	d->kernel_settled = true;
	ids_write_line(d, json_pack("{s:s,s:I,s:I,s:O}", "baseline", "kernel_integrity", "icount",
				    (json_int_t)icount, "guest_ns", (json_int_t)now, "absorbed",
				    d->kernel_absorbed));
}

static void check_kernel(struct ids *d, struct vmi *v, uint64_t icount, uint64_t now)
{
	char err[256];
	bool changed = false, patchable = false;
	json_t *res = vmi_view(v, "integrity", NULL, err, sizeof(err)), *row;
	size_t i;
	json_array_foreach(res ? json_object_get(res, "rows") : NULL, i, row) {
		const char *range = sget(row, "range"), *sha = sget(row, "sha256");
		patchable |= json_integer_value(json_object_get(row, "jump_sites")) > 0;
		if (!strcmp(range, "text") && !d->p->kernel_text)
			continue;
		const char *base = json_string_value(json_object_get(d->kernel_baseline, range));
		if (base && strcmp(base, sha)) {
			changed = true;
			kernel_change(d, icount, range,
				      json_pack("{s:s,s:s,s:s}", "range", range, "baseline", base,
						"now", sha));
		}
		json_object_set_new(d->kernel_baseline, range, json_string(sha));
	}
	json_decref(res);
	res = vmi_view(v, "modules", NULL, err, sizeof(err)); /* refused without CONFIG_MODULES */
	json_t *known = json_object_get(d->kernel_baseline, " modules");
	json_t *now_mods = json_object();
	json_array_foreach(res ? json_object_get(res, "rows") : NULL, i, row) {
		const char *name = sget(row, "name");
		json_object_set_new(now_mods, name, json_true());
		if (known && !json_object_get(known, name)) {
			changed = true;
			kernel_change(d, icount, "modules",
				      json_pack("{s:s,s:s}", "what", "module loaded", "module", name));
		}
	}
	changed |= known && json_object_size(known) != json_object_size(now_mods);
	json_object_set_new(d->kernel_baseline, " modules", now_mods);
	/* no loadable modules, no static keys: nothing changes it once it runs */
	bool fixed = !res && !patchable;
	json_decref(res);
	kernel_settle(d, icount, now, changed, fixed);
}

/* The cross-view's row for pid: which of the kernel's sources reach it. */
static json_t *crossview_row(json_t *res, json_int_t pid)
{
	size_t i;
	json_t *row;
	json_array_foreach(json_object_get(res, "rows"), i, row)
		if (json_integer_value(json_object_get(row, "pid")) == pid)
			return row;
	return NULL;
}

/* A hidden process is missing from the task list but reached through the
 * PID table, a run queue, or both: the alert says which. */
static json_t *hidden_evidence(json_t *row)
{
	bool idr = json_is_true(json_object_get(row, "pid_idr"));
	bool rq = json_is_true(json_object_get(row, "run_queue"));
	const char *what = idr && rq ? "in the PID table and on a run queue, not in the task list"
			   : idr     ? "in the PID table, not in the task list"
				     : "on a run queue, not in the task list";
	return json_pack("{s:s,s:b,s:O?,s:O?}", "what", what, "pid_table", idr, "run_queue",
			 json_object_get(row, "run_queue"), "comm", json_object_get(row, "comm"));
}

static void check_hidden(struct ids *d, struct vmi *v, uint64_t icount)
{
	char err[256];
	json_t *res = vmi_view(v, "crossview", NULL, err, sizeof(err)), *pid;
	size_t i;
	json_array_foreach(res ? json_object_get(res, "hidden") : NULL, i, pid) {
		char key[24];
		snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, json_integer_value(pid));
		if (json_object_get(d->hidden_alerted, key))
			continue;
		json_object_set_new(d->hidden_alerted, key, json_true());
		/* The kernel's lists no longer lead to its task: the chain is
		 * what the detector's table learnt of it, if anything. */
		ids_alert(d, M_LIE_DETECTOR, icount, (int32_t)json_integer_value(pid), 0,
			  hidden_evidence(crossview_row(res, json_integer_value(pid))));
	}
	json_decref(res);
}

static void poll_kernel(struct ids *d, struct vmi *v, uint64_t icount, uint64_t now)
{
	static const enum ids_module polled[] = {M_LIE_DETECTOR, M_KERNEL_INTEGRITY, M_RAW_SOCKETS,
						 M_PROCESS_FLOOD};
	for (size_t i = 0; i < sizeof(polled) / sizeof(polled[0]); i++) {
		enum ids_module m = polled[i];
		if (!d->p->on[m] || now < d->next_check_ns[m])
			continue;
		d->next_check_ns[m] = now + (uint64_t)(d->p->every_s[m] * NS);
		if (m == M_LIE_DETECTOR)
			check_hidden(d, v, icount);
		else if (m == M_KERNEL_INTEGRITY)
			check_kernel(d, v, icount, now);
		else if (m == M_PROCESS_FLOOD)
			flood_check(d, v, icount);
		else
			check_promisc(d, v, icount, 0, 0);
	}
}

void detect_trap(void *opaque, const struct tap_trap *t)
{
	struct ids *d = opaque;
	if (t->syscall) {
		d->user_seen = true;
		return;
	}
	if (!t->interrupt || t->cause != IRQ_S_TIMER || t->to_priv != 1 || !d->user_seen)
		return;
	struct vmi *v = ids_vmi(d, t->icount, t->satp);
	if (!v)
		return;
	uint64_t now = taps_now_ns(d->m);
	poll_kernel(d, v, t->icount, now);
	cpu_sample(d, v, t, now);
}

/* ---- the event boundary ---- */

void detect_event(void *opaque, uint64_t icount, enum event_kind kind, const void *payload,
		  size_t len)
{
	struct ids *d = opaque;
	if (kind == EV_CONSOLE_INPUT) {
		d->last_console_ns = taps_now_ns(d->m);
		return;
	}
	struct ids_frame fr;
	if (kind != EV_NET_FRAME || frame_parse(payload, len, &fr))
		return;
	bool is_new;
	struct ids_flow *f = flows_account(&d->flows, &fr, icount, &is_new);
	if (f->bytes_out > d->peaks.flow_out_bytes)
		d->peaks.flow_out_bytes = f->bytes_out;
	if (!d->p->on[M_NETWORK] || f->alerted || f->bytes_out <= d->p->max_out_bytes)
		return;
	f->alerted = true;
	char guest[32], remote[32];
	snprintf(guest, sizeof(guest), "%u.%u.%u.%u:%u", f->guest_ip >> 24, f->guest_ip >> 16 & 255,
		 f->guest_ip >> 8 & 255, f->guest_ip & 255, f->guest_port);
	snprintf(remote, sizeof(remote), "%u.%u.%u.%u:%u", f->remote_ip >> 24,
		 f->remote_ip >> 16 & 255, f->remote_ip >> 8 & 255, f->remote_ip & 255,
		 f->remote_port);
	ids_alert(d, M_NETWORK, icount, 0, 0,
		  json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "what", "outbound burst", "guest", guest,
			    "remote", remote, "opened_by", f->inbound ? "remote" : "guest",
			    "bytes_out", (json_int_t)f->bytes_out, "bytes_in",
			    (json_int_t)f->bytes_in));
}
