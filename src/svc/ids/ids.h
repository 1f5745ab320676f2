/* Intrusion detection from below: Livewire-style policies over the taps
 * and introspection (docs/ids.md).  The detector subscribes to the trap
 * hook (system calls, timer interrupts), the event boundary (console
 * input, network frames) and reads the guest kernel through the memory
 * view; every signal it uses is one replay reproduces, so a replay with
 * the same policy gives the same alerts at the same instruction counts. */
#ifndef KEEL_SVC_IDS_IDS_H
#define KEEL_SVC_IDS_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct machine;
struct ids;
struct ids_policy;
struct vmi;

/* Parse and check the whole policy file (docs/ids.md).  NULL with
 * "FILE:LINE:COLUMN: why" (or "FILE: policies.NAME: why") in err. */
struct ids_policy *ids_policy_load(const char *path, char *err, size_t errlen);
void ids_policy_free(struct ids_policy *p);
/* Whether a response changes the guest (kill): a recording could not
 * replay past it, since the log holds inputs, not the detector's acts. */
bool ids_policy_changes_guest(const struct ids_policy *p);
/* Whether a module responds with a fork-clone (which needs a control
 * socket to serve the clone on). */
bool ids_policy_clones(const struct ids_policy *p);

struct ids_options {
	const char *out; /* alerts file, "-" stdout; NULL: the policy's "output" (default stderr) */
	/* An open stream instead (a fork-clone's pipe to the shield, say),
	 * which the caller keeps and closes; overrides out. */
	FILE *out_stream;
	/* The guest kernel already found (borrowed; NULL: found at the
	 * first system call), as svc/vmi/vmi.h's vmi_options.attached. */
	struct vmi *vmi;
	/* The kernel has booted already (a trial clone of a running VM):
	 * kernel_integrity's first check is its baseline, and no line says
	 * so, instead of following the kernel until it settles (docs/ids.md,
	 * "The kernel's baseline"). */
	bool kernel_booted;
	/* Carry out the responses (pause, snapshot, kill).  Off in a replay,
	 * which must not change the machine it is checking. */
	bool responses;
	/* "pause": called between slices.  NULL: the run ends (exit status 3). */
	void (*pause)(void *opaque);
	void *pause_opaque;
	/* "clone": have the host fork a clone of the VM, paused, its control
	 * socket at sock and its console output in console, for a person to
	 * inspect (docs/clone.md).  Called between slices; returns 0 when the
	 * clone is under way (the outcome comes to ids_clone_done), or -1 with
	 * a reason.  NULL: no clones (the response line says so). */
	int (*clone)(void *opaque, struct ids *d, unsigned long alert, const char *sock,
		     const char *console, char *err, size_t errlen);
	void *clone_opaque;
};

/* Watch m under the policy (which the detector takes over, even on
 * failure).  NULL with a reason in err; nothing is subscribed then. */
struct ids *ids_start(struct machine *m, struct ids_policy *p, const struct ids_options *o,
		      char *err, size_t errlen);
/* How a clone asked for through ids_options.clone went: its pid and
 * where it parted from this VM, or err (NULL when it runs). */
void ids_clone_done(struct ids *d, unsigned long alert, int pid, const char *sock,
		    uint64_t icount, const char *err);
/* Unsubscribe, close the alerts file; returns the number of alerts. */
unsigned long ids_stop(struct ids *d);

#endif
