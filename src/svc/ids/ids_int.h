/* The detector's internals shared by src/svc/ids/: the parsed policy,
 * the process table and the network flows. */
#ifndef KEEL_SVC_IDS_IDS_INT_H
#define KEEL_SVC_IDS_IDS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "lib/glob_list.h"
#include "svc/ids/ids.h"
#include "vm/taps.h"

/* ---- the policy (policy.c) ---- */

enum ids_module {
	M_LIE_DETECTOR, M_SYSTEM_FILES, M_KERNEL_INTEGRITY, M_RAW_SOCKETS, M_SHADOW_BURST,
	M_CPU_NO_PERSON, M_NETWORK, M_SERVICE_SHELL, M_PROCESS_FLOOD, M_COUNT
};
extern const char *const ids_module_names[M_COUNT];

enum ids_response { R_ALERT, R_PAUSE, R_SNAPSHOT, R_KILL, R_CLONE };
extern const char *const ids_response_names[];

struct ids_policy {
	char *path;
	char *output; /* "-": stdout, "stderr", else a file; NULL: stderr */
	char *snapshot_dir;
	bool on[M_COUNT];
	enum ids_response response[M_COUNT];
	double every_s[M_COUNT]; /* the polled modules: lie, kernel, raw (promisc), flood */
	struct glob_list write_paths; /* system_files: globs */
	bool disk_writes; /* system_files: also map disk writes to paths (diskwatch.c) */
	double explain_s; /* system_files: a write-open explains disk writes this long */
	bool kernel_text; /* kernel_integrity: hash .text too */
	/* kernel_integrity: the baseline follows the kernel until it has
	 * been quiet for this many instructions or guest seconds */
	double settle_insns, settle_s;
	struct glob_list raw_allow; /* raw_sockets: comms allowed packet/raw sockets */
	struct glob_list secret_paths; /* shadow_burst: globs read before a burst */
	/* shadow_burst: programs (their executable's resolved path, globs)
	 * whose reads and bursts are authentication's own work */
	struct glob_list shadow_exempt;
	double shadow_within_s;
	unsigned shadow_burst_s, cpu_burst_s; /* busy seconds in a row */
	double busy_mips[M_COUNT]; /* instructions per guest second that count as busy */
	double grace_s; /* cpu_no_person: a person's input this close before a burst */
	struct glob_list listen_allow; /* network: ports, as strings ("80", "*") */
	struct glob_list connect_allow; /* network: "a.b.c.d:port" globs */
	uint64_t max_out_bytes; /* network: per flow */
	struct glob_list shells; /* service_shell */
	uint32_t flood_descendants; /* process_flood: live descendants of one process */
	uint32_t flood_new; /* process_flood: new live processes since the last check */
};


/* ---- processes (procs.c) ---- */

#define IDS_MAX_PROCS 4096
#define IDS_MAX_BOUND 8

struct ids_proc {
	bool used;
	int32_t pid, ppid; /* thread-group ids */
	char comm[17];
	char exe[256]; /* as the last exec named it */
	uint32_t uid;
	bool service; /* listened or accepted */
	uint64_t credit_ns; /* last time a person's input reached it (console, inbound) */
	uint64_t secret_ns; /* last read of a secret file (by it or a child) */
	/* CPU: instructions in the current guest second, and the run of busy ones */
	uint64_t sec, insns;
	unsigned run;
	uint64_t burst_start_ns;
	bool burst_alerted[M_COUNT];
	struct {
		int32_t fd;
		uint16_t port;
	} bound[IDS_MAX_BOUND];
};

struct ids_procs {
	struct ids_proc p[IDS_MAX_PROCS];
};

/* Is exe (a process's executable as the kernel resolved it; "" when
 * unknown) one that shadow_burst leaves alone?  Never when unknown. */
bool ids_policy_exempt(const struct ids_policy *p, const char *exe);

/* The process pid, made (with parent ppid, inheriting its credit) if new;
 * NULL only when the table is full of live processes. */
struct ids_proc *procs_get(struct ids_procs *t, int32_t pid, int32_t ppid);
struct ids_proc *procs_find(struct ids_procs *t, int32_t pid);
void procs_remove(struct ids_procs *t, int32_t pid);

/* ---- network flows (netflow.c) ---- */

#define IDS_MAX_FLOWS 256

struct ids_flow {
	bool used;
	uint8_t proto; /* 6 TCP, 17 UDP */
	uint32_t guest_ip, remote_ip; /* host order */
	uint16_t guest_port, remote_port;
	bool inbound; /* the remote side opened it (its SYN) */
	uint64_t bytes_in, bytes_out; /* payload; out from the remote's ACKs */
	uint32_t ack_base, ack_max;
	bool ack_known, alerted;
	uint64_t first_icount, last_icount;
};

/* What one inbound frame says, after defensive parsing. */
struct ids_frame {
	uint8_t proto;
	uint32_t src, dst;
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint32_t ack;
	uint32_t payload;
};

/* Parse an Ethernet frame: 0, or -1 when it is not IPv4 TCP/UDP or is
 * malformed (truncated headers, bad lengths). */
int frame_parse(const uint8_t *f, size_t len, struct ids_frame *out);

struct ids_flows {
	struct ids_flow f[IDS_MAX_FLOWS];
	unsigned next_evict;
};

/* Account the frame to its flow; returns the flow (new ones marked), or
 * NULL for frames that open nothing (a TCP segment of an unknown flow
 * that is not a SYN is taken up all the same). */
struct ids_flow *flows_account(struct ids_flows *t, const struct ids_frame *fr, uint64_t icount,
			       bool *is_new);

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* ---- the detector (ids.c: glue, alerts, responses; detect.c: signals) ---- */

struct vmi;
struct vmi_events;

#define IDS_MAX_RESPONSES 16

/* The largest values the thresholds were compared with, for tuning them
 * against benign work (the summary line at the end, docs/ids.md). */
struct ids_peaks {
	uint32_t processes; /* live user processes at a process_flood check */
	uint32_t descendants; /* live descendants of one process, init aside */
	uint32_t new_procs; /* new processes at one check */
	unsigned busy_run_s; /* a process's busy guest seconds in a row */
	unsigned unattended_run_s; /* ... in a burst that began grace_s after its person */
	uint64_t flow_out_bytes; /* bytes out of one flow */
};

struct ids {
	struct machine *m;
	struct ids_policy *p;
	int owner; /* the process that started it (a fork-clone has a copy) */
	struct ids_options o;
	FILE *out;
	bool own_out;
	struct vmi_events *ev;
	int trap_id, event_id;
	struct tap_trap_ops ops;
	bool user_seen; /* a system call from U-mode: the kernel can be found */
	bool kernel_found; /* introspection found it (else only frames and disk writes are watched) */
	uint64_t last_sample_icount;
	uint64_t last_console_ns;
	uint64_t next_check_ns[M_COUNT];
	json_t *kernel_baseline; /* range -> sha256, " modules" -> {name: true} */
	/* kernel_integrity's baseline follows the boot until nothing changed
	 * for settle_s (detect.c, check_kernel); what it took in meanwhile */
	bool kernel_checked, kernel_settled;
	uint64_t kernel_quiet_icount, kernel_quiet_ns; /* the last change (or first check) */
	json_t *kernel_absorbed; /* range -> changes, "modules" -> [names] */
	json_t *hidden_alerted; /* pid (as a string) -> true */
	json_t *promisc_alerted; /* iface -> true */
	unsigned long alerts;
	struct ids_peaks peaks;
	/* shadow_burst's exempt programs: secret reads and bursts let pass
	 * (the summary line: the exemption is seen at work) */
	unsigned long exempt_reads, exempt_bursts;
	struct ids_todo {
		enum ids_response r;
		int32_t pid;
		unsigned long alert;
		unsigned tries;
	} todo[IDS_MAX_RESPONSES];
	unsigned ntodo;
	struct ids_procs procs;
	struct ids_flows flows;
	/* disk writes mapped to paths (diskwatch.c) */
	struct ext4map *map;
	int disk_id;
	bool map_stale; /* a write hit the blocks the map was read from */
	uint64_t map_built_ns;
	json_t *explained; /* path -> guest ns of the last write-open keel saw */
	json_t *disk_alerted; /* path -> guest ns of its last disk-write alert */
	/* process_flood (flood.c): the live user processes at the last check,
	 * sorted, and what was alerted (pid -> true; " new": a flood of new ones) */
	int32_t *flood_pids;
	uint32_t flood_npids;
	bool flood_checked;
	json_t *flood_alerted;
	int32_t raw_writer; /* the last process that opened a disk device for writing */
	uint64_t raw_writer_ns;
	char raw_dev[64];
};

/* The kernel, when it can be found yet (NULL before the first system call). */
struct vmi *ids_vmi(struct ids *d, uint64_t icount, uint64_t satp);
/* Write an alert for module m about process pid (0: none; task: its
 * task_struct if known, else 0) with the evidence (taken). */
void ids_alert(struct ids *d, enum ids_module m, uint64_t icount, int32_t pid, uint64_t task,
	       json_t *evidence);

/* Write j (taken) as one line of the alerts file. */
void ids_write_line(struct ids *d, json_t *j);

/* Disk writes (diskwatch.c): map the disk's file system and watch its
 * writes (0, or -1 with a reason: then nothing is subscribed); stop; and
 * a successful openat of path by pid, which explains later writes to its
 * blocks. */
int diskwatch_start(struct ids *d, char *err, size_t errlen);
void diskwatch_stop(struct ids *d);
void diskwatch_opened(struct ids *d, const char *path, int32_t pid, bool write);

/* process_flood (flood.c): a poll of the task list. */
void flood_check(struct ids *d, struct vmi *v, uint64_t icount);
void flood_free(struct ids *d);

/* shadow_burst's two halves, apart from introspection so that they can
 * be tested alone: p, running exe, read a secret file at guest time now
 * (marks it and its parent unless exe is exempt); and is p, busy since
 * p->burst_start_ns and running exe, a cracker (a secret read within_s
 * before its burst, and exe not exempt)?  The latter forgets an exempt
 * process's read, so that its later bursts cost nothing. */
void detect_secret_read(struct ids *d, struct ids_proc *p, const char *exe, uint64_t now);
bool detect_shadow_suspect(struct ids *d, struct ids_proc *p, const char *exe);

void detect_vmi_event(void *opaque, json_t *e, struct vmi *v);
void detect_trap(void *opaque, const struct tap_trap *t);
void detect_return(void *opaque, const struct tap_trap_return *r);
void detect_event(void *opaque, uint64_t icount, enum event_kind kind, const void *payload,
		  size_t len);

#endif
