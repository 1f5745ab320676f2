/* Intrusion prevention on a clone (docs/shield.md): the front on the
 * shielded forwards.  It accepts the connections a --net hostfwd would
 * have taken, tries flagged requests on a fork-clone of the running VM
 * (private network, watched by the intrusion detector and the exec
 * allowlist), and hands a request to the real VM only on a clean verdict.
 *
 * It lives in the host I/O layer: what reaches the real VM goes through
 * its slirp stack (a private UNIX-socket forward), so every byte crosses
 * the event boundary as a network frame at an instruction count the core
 * chooses, like any other.  The host loop polls its descriptors with its
 * own and steps it between slices, where the machine is quiescent and a
 * fork-clone can be taken. */
#ifndef KEEL_HOST_SHIELD_H
#define KEEL_HOST_SHIELD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct host_loop;
struct pollfd;
struct shield;

#define SHIELD_MAX_CONNS 64
/* Listeners (one per forward), blocked clones being saved (8), and per
 * connection the client, the real VM, the clone's service, the clone's
 * alert pipe and its console. */
#define SHIELD_MAX_FDS (16 + 8 + 5 * SHIELD_MAX_CONNS)

/* Read the rules (and the intrusion-detection policy they name), make the
 * private directory, listen on the shielded forwards of `net` (the --net
 * option) and return in *new_net the option the machine is to be built
 * with: those forwards replaced by private UNIX-socket ones.  NULL with
 * "why" in err, nothing left behind. */
struct shield *shield_open(const char *rules_path, const char *net, char **new_net, char *err,
			   size_t errlen);

/* Kill the trial clones, close every connection, remove the directory.
 * Never in a clone of the VM: the shield is its parent's. */
void shield_close(struct shield *sh);

/* Fill up to `max` pollfds; returns how many. */
unsigned shield_pollfds(struct shield *sh, struct pollfd *pfd, unsigned max);
/* Milliseconds until the next trial deadline or timer (-1: none). */
int shield_timeout_ms(const struct shield *sh);

/* After a poll over what shield_pollfds filled (pfd NULL: nothing was
 * polled, timers only): move bytes, run trials, give verdicts.  Returns 1
 * in a new trial clone, which must become a clone (host_loop) and never
 * step the shield again; else 0. */
int shield_step(struct shield *sh, struct host_loop *l, const struct pollfd *pfd, unsigned n);

/* 'keel ctl shield status|rules|verdicts': the JSON result, or NULL with
 * the reason in err. */
json_t *shield_ctl(struct shield *sh, const char *what, char *err, size_t errlen);

#endif
