/* Fork-clone of a running VM (docs/clone.md): a copy-on-write copy of the
 * whole machine in a new keel process with its own control socket, its
 * own network (none, or a slirp stack of its own) and, unless asked
 * otherwise, fresh entropy.  The parent runs on unaffected.
 *
 * The control socket validates a "clone" request into a clone_request;
 * the host loop carries it out between slices with clone_vm(), where the
 * machine is quiescent. */
#ifndef KEEL_HOST_CLONE_H
#define KEEL_HOST_CLONE_H

#include "svc/api/api.h"

struct machine;

/* Fork the VM `m`, whose control socket is `api` (NULL: none).  Flush
 * buffered output first: nothing may be written twice, once by each
 * process.  In the parent: returns 1 with `out` filled, or -1 with
 * out->err ("why") and no clone left behind.  In the clone: returns 0
 * once it has its own host side (socket bound into *api, network,
 * console, every other descriptor of the parent's closed), and the caller
 * drops its own hold on the parent's terminal and runs on; a clone that
 * cannot set itself up reports why to the parent and exits. */
int clone_vm(struct machine *m, struct api_server *api, const struct clone_request *r,
	     struct clone_result *out);

/* Collect clones that have exited (no zombies).  Returns how many. */
unsigned clone_reap(void);

#endif
