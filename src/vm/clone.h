/* Fork-clone of a running VM (docs/clone.md): a copy-on-write copy of the
 * whole machine in a new keel process with its own control socket, its
 * own network (none, or a slirp stack of its own) and, unless asked
 * otherwise, fresh entropy.  The parent runs on unaffected.
 *
 * The control socket validates a "clone" request into a clone_request;
 * the host loop carries it out between slices with clone_vm(), where the
 * machine is quiescent. */
#ifndef KEEL_VM_CLONE_H
#define KEEL_VM_CLONE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "dev/net_slirp.h"

struct host_loop;

struct clone_request {
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* the clone's API socket */
	char console[PATH_MAX]; /* its console output; "" is /dev/null */
	bool net_user; /* false: no network (frames are dropped) */
	struct net_user_opts net; /* with net_user: its own forwards */
	bool inherit_entropy; /* keep the parent's entropy source (tests) */
};

struct clone_result {
	int pid; /* the clone's process id */
	uint64_t icount; /* where parent and clone part ways */
	double fork_us; /* the fork() call alone */
	double ready_us; /* from fork() until the clone said it is running */
	char err[768]; /* when clone_vm() fails */
};

/* Fork the VM of `l`.  In the parent: returns 1 with `out` filled, or -1
 * with out->err ("why") and no clone left behind.  In the clone: returns
 * 0 once it has its own host side (socket bound, network, console), and
 * the caller runs its host loop on; a clone that cannot set itself up
 * reports why to the parent and exits. */
int clone_vm(struct host_loop *l, const struct clone_request *r, struct clone_result *out);

/* Collect clones that have exited (no zombies).  Returns how many. */
unsigned clone_reap(void);

#endif
