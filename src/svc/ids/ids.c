/* The detector's frame: subscriptions, alerts as JSON lines, and the
 * responses (pause, snapshot, kill), which run at a stop point between
 * slices because a trap or event callback must not change the machine. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "svc/ids/ids_int.h"
#include "svc/vmi/vmi_events.h"
#include "vm/snapshot.h"

#define KILL_RETRY_INSNS 100000u
#define KILL_MAX_TRIES 5000u
#define KILL_SCAN_PAGES 4096 /* 8 MiB either side of the pc */ /* 500M instructions for the process to be caught in U-mode */

struct vmi *ids_vmi(struct ids *d, uint64_t icount, uint64_t satp)
{
	struct vmi *v = d->user_seen ? vmi_events_vmi(d->ev, icount, satp) : NULL;
	d->kernel_found |= v != NULL;
	return v;
}

/* The chain from the detector's own table, for a process the kernel no
 * longer has. */
static json_t *table_chain(struct ids *d, int32_t pid)
{
	json_t *chain = json_array();
	for (int i = 0; i < 16 && pid > 0; i++) {
		struct ids_proc *p = procs_find(&d->procs, pid);
		if (!p)
			break;
		json_array_append_new(chain, json_pack("{s:i,s:s,s:i,s:s}", "pid", p->pid, "comm",
						       p->comm, "uid", (int)p->uid, "exe", p->exe));
		pid = p->ppid;
	}
	return chain;
}

static bool respond_at_stop(void *opaque, struct machine *m, uint64_t icount);

void ids_alert(struct ids *d, enum ids_module m, uint64_t icount, int32_t pid, uint64_t task,
	       json_t *evidence)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	json_t *j = json_pack("{s:I,s:I,s:I,s:s,s:s,s:i}", "icount", (json_int_t)icount, "guest_ns",
			      (json_int_t)taps_now_ns(d->m), "host_ns",
			      (json_int_t)((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec), "policy",
			      ids_module_names[m], "response", ids_response_names[d->p->response[m]],
			      "pid", pid);
	struct vmi *v = pid > 0 ? ids_vmi(d, icount, taps_current_satp(d->m)) : NULL;
	if (v && !task)
		task = vmi_task_find(v, pid);
	json_t *chain = v && task ? vmi_task_chain(v, task, 16) : NULL;
	if (!chain || !json_array_size(chain)) {
		json_decref(chain);
		chain = table_chain(d, pid);
	}
	json_t *first = json_array_get(chain, 0);
	json_object_set(j, "comm", first ? json_object_get(first, "comm") : json_null());
	json_object_set_new(j, "chain", chain);
	json_object_set_new(j, "evidence", evidence ? evidence : json_object());
	ids_write_line(d, j);
	d->alerts++;
	enum ids_response r = d->p->response[m];
	if (r == R_ALERT || !d->o.responses || d->ntodo >= IDS_MAX_RESPONSES)
		return;
	d->todo[d->ntodo++] = (struct ids_todo){r, pid, d->alerts, 0};
	/* at or before now: the next slice boundary */
	taps_stop_at(d->m, taps_icount(d->m), respond_at_stop, d);
}

void ids_write_line(struct ids *d, json_t *j)
{
	if (j && json_dumpf(j, d->out, JSON_COMPACT) == 0)
		fputc('\n', d->out);
	fflush(d->out);
	json_decref(j);
}

static void response_line(struct ids *d, unsigned long alert, const char *what, json_t *more)
{
	json_t *j = json_pack("{s:I,s:s,s:I}", "icount", (json_int_t)taps_icount(d->m), "response",
			      what, "alert", (json_int_t)alert);
	if (more)
		json_object_update_new(j, more);
	ids_write_line(d, j);
}

static void snapshot(struct ids *d, unsigned long alert)
{
	char path[PATH_MAX], err[PATH_MAX + 256];
	snprintf(path, sizeof(path), "%s/ids-%" PRIu64 ".snap",
		 d->p->snapshot_dir ? d->p->snapshot_dir : ".", taps_icount(d->m));
	if (snapshot_save_file(d->m, path, err, sizeof(err)))
		response_line(d, alert, "snapshot", json_pack("{s:s}", "error", err));
	else
		response_line(d, alert, "snapshot", json_pack("{s:s}", "file", path));
}

/* A paused fork-clone of the VM as it is at the alert, for a person to
 * inspect through its own control socket (keel ctl --sock SOCK inspect
 * ps, snapshot FILE) while this VM runs on. */
static void forensic_clone(struct ids *d, unsigned long alert)
{
	char sock[PATH_MAX], console[PATH_MAX], err[512] = "no control socket to serve a clone on";
	const char *dir = d->p->snapshot_dir ? d->p->snapshot_dir : ".";
	uint64_t icount = taps_icount(d->m);
	snprintf(sock, sizeof(sock), "%s/ids-clone-%" PRIu64 ".sock", dir, icount);
	snprintf(console, sizeof(console), "%s/ids-clone-%" PRIu64 ".console", dir, icount);
	if (strlen(sock) >= 108) /* sockaddr_un's sun_path */
		snprintf(err, sizeof(err), "%.400s: longer than a socket path may be", sock);
	else if (d->o.clone && !d->o.clone(d->o.clone_opaque, d, alert, sock, console, err,
					    sizeof(err)))
		return; /* ids_clone_done writes the line */
	response_line(d, alert, "clone", json_pack("{s:s}", "error", err));
}

void ids_clone_done(struct ids *d, unsigned long alert, int pid, const char *sock,
		    uint64_t icount, const char *err)
{
	if (err)
		response_line(d, alert, "clone", json_pack("{s:s}", "error", err));
	else
		response_line(d, alert, "clone", json_pack("{s:i,s:s,s:I}", "pid", pid, "sock", sock,
							  "clone_icount", (json_int_t)icount));
}

/* Kill from below: when the process is caught running in U-mode, point
 * its pc at an ecall instruction of its own text with a7 = exit_group and
 * a0 = 137, so it exits as if by its own call (docs/ids.md).  Returns
 * true when done or given up. */
static bool try_kill(struct ids *d, int32_t pid, unsigned long alert, unsigned tries)
{
	struct tap_regs r;
	taps_regs(d->m, &r);
	struct vmi *v = ids_vmi(d, r.icount, r.satp);
	struct vmi_task t;
	if (!v || pid <= 0 || !vmi_task_find(v, pid)) {
		response_line(d, alert, "kill", json_pack("{s:s}", "error", "no such process"));
		return true;
	}
	if (r.priv != 0 || vmi_task_read(v, r.sscratch, &t) || t.tgid != pid) {
		if (tries < KILL_MAX_TRIES)
			return false;
		response_line(d, alert, "kill", json_pack("{s:s}", "error",
							 "never caught running in user mode"));
		return true;
	}
	struct memview mv;
	taps_memview(d->m, &mv);
	uint8_t page[4096];
	/* the pc's page, then the ones around it, nearest first (a static
	 * binary's system-call wrappers may lie megabytes from its loop) */
	for (int64_t k = 0; k < KILL_SCAN_PAGES; k++) {
		int64_t step = (k & 1) ? -(k + 1) / 2 : k / 2;
		uint64_t base = (r.pc & ~4095ull) + (uint64_t)(step * 4096);
		if (memview_read_virt(&mv, r.satp, base, page, sizeof(page)) != sizeof(page))
			continue;
		for (unsigned off = 0; off + 4 <= sizeof(page); off += 2) {
			if (page[off] != 0x73 || page[off + 1] || page[off + 2] || page[off + 3])
				continue;
			taps_set_xreg(d->m, 17, 94); /* a7: exit_group */
			taps_set_xreg(d->m, 10, 137); /* a0: 128 + SIGKILL, as a shell shows it */
			taps_set_pc(d->m, base + off);
			response_line(d, alert, "kill", json_pack("{s:i}", "pid", pid));
			return true;
		}
	}
	response_line(d, alert, "kill", json_pack("{s:s}", "error", "no ecall in its text"));
	return true;
}

static bool respond_at_stop(void *opaque, struct machine *m, uint64_t icount)
{
	struct ids *d = opaque;
	unsigned kept = 0;
	bool stop = false;
	for (unsigned i = 0; i < d->ntodo; i++) {
		struct ids_todo *t = &d->todo[i];
		if (t->r == R_SNAPSHOT) {
			snapshot(d, t->alert);
		} else if (t->r == R_PAUSE) {
			response_line(d, t->alert, "pause", NULL);
			if (d->o.pause)
				d->o.pause(d->o.pause_opaque);
			else
				taps_request_exit(m, 3);
		} else if (t->r == R_CLONE) {
			forensic_clone(d, t->alert);
		} else if (t->r == R_KILL && !try_kill(d, t->pid, t->alert, ++t->tries)) {
			d->todo[kept++] = *t;
		}
	}
	d->ntodo = kept;
	if (kept)
		taps_stop_at(m, icount + KILL_RETRY_INSNS, respond_at_stop, d);
	return stop;
}

static FILE *open_out(const char *path, bool *own, char *err, size_t errlen)
{
	*own = false;
	if (!path || !strcmp(path, "stderr"))
		return stderr;
	if (!strcmp(path, "-"))
		return stdout;
	FILE *f = fopen(path, "w");
	if (!f)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	*own = f != NULL;
	return f;
}

struct ids *ids_start(struct machine *m, struct ids_policy *p, const struct ids_options *o,
		      char *err, size_t errlen)
{
	struct ids *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		ids_policy_free(p);
		return NULL;
	}
	d->m = m;
	d->p = p;
	d->owner = getpid();
	d->o = *o;
	d->trap_id = d->event_id = d->disk_id = -1;
	d->kernel_baseline = json_object();
	d->kernel_absorbed = json_object();
	d->hidden_alerted = json_object();
	d->promisc_alerted = json_object();
	if (o->out_stream)
		d->out = o->out_stream;
	else
		d->out = open_out(o->out ? o->out : p->output, &d->own_out, err, errlen);
	struct vmi_options vo = {.attached = o->vmi};
	if (d->out)
		d->ev = vmi_events_start_sink(m, detect_vmi_event, d, &vo, err, errlen);
	d->ops = (struct tap_trap_ops){detect_trap, detect_return};
	if (d->ev && (d->trap_id = taps_trap_subscribe(m, &d->ops, d)) < 0)
		snprintf(err, errlen, "no trap subscription left");
	if (d->trap_id >= 0 && (d->event_id = taps_event_subscribe(m, detect_event, d)) < 0)
		snprintf(err, errlen, "no event subscription left");
	if (d->event_id < 0) {
		ids_stop(d);
		return NULL;
	}
	char why[256];
	if (p->on[M_SYSTEM_FILES] && p->disk_writes && taps_disk_size(m) &&
	    diskwatch_start(d, why, sizeof(why)))
		fprintf(stderr, "keel: ids: writes to the disk are not mapped to files: %s\n", why);
	return d;
}

/* The last line: how many alerts, over how long, and the largest values
 * the thresholds met (docs/ids.md, "The summary"). */
static void summary(struct ids *d)
{
	const struct ids_peaks *k = &d->peaks;
	json_t *j = json_pack(
		"{s:{s:I,s:b,s:I,s:I,s:{s:i,s:i,s:i,s:i,s:i,s:I},s:{s:I,s:I}}}", "summary", "alerts",
		(json_int_t)d->alerts, "kernel_found", d->kernel_found, "icount", (json_int_t)taps_icount(d->m), "guest_ns",
		(json_int_t)taps_now_ns(d->m), "peaks", "processes", (int)k->processes, "descendants",
		(int)k->descendants, "new_processes", (int)k->new_procs, "busy_run_s",
		(int)k->busy_run_s, "unattended_run_s", (int)k->unattended_run_s, "flow_out_bytes",
		(json_int_t)k->flow_out_bytes, "shadow_exempt", "reads", (json_int_t)d->exempt_reads,
		"bursts", (json_int_t)d->exempt_bursts);
	ids_write_line(d, j);
}

unsigned long ids_stop(struct ids *d)
{
	if (!d)
		return 0;
	unsigned long n = d->alerts;
	/* not in a fork-clone of the VM, whose detector is its parent's copy
	 * and shares the parent's alerts file (it watches nothing: a clone
	 * starts with no subscriptions) */
	if (d->out && d->event_id >= 0 && getpid() == d->owner)
		summary(d);
	taps_stop_cancel(d->m, d);
	diskwatch_stop(d);
	flood_free(d);
	if (d->event_id >= 0)
		taps_event_unsubscribe(d->m, d->event_id);
	if (d->trap_id >= 0)
		taps_trap_unsubscribe(d->m, d->trap_id);
	vmi_events_stop(d->ev);
	if (d->out)
		fflush(d->out);
	if (d->own_out)
		fclose(d->out);
	json_decref(d->kernel_baseline);
	json_decref(d->kernel_absorbed);
	json_decref(d->hidden_alerted);
	json_decref(d->promisc_alerted);
	ids_policy_free(d->p);
	free(d);
	return n;
}
