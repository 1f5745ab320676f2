/* The host side of a running VM: the terminal, pacing against wall time,
 * and handing host input to the machine at slice boundaries.  Everything
 * host-dependent lives here, outside the deterministic core. */
#ifndef KEEL_HOST_HOST_LOOP_H
#define KEEL_HOST_HOST_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "svc/api/api.h"
#include "vm/machine.h"

#define HOST_OUT_BUF 4096
#define HOST_IN_BUF 4096

struct host_loop {
	struct machine *m;
	int in_fd, out_fd;
	bool in_open; /* stdin not yet at EOF */
	bool tty; /* stdin is a terminal, put in raw mode */
	struct termios saved_termios;
	bool escape; /* the previous byte was Ctrl-a */
	bool quit; /* the user typed Ctrl-a x */
	bool sleep_when_idle; /* pace guest time against wall time */
	bool catch_up; /* ...and move a busy guest's lagging clock to now */
	uint8_t out[HOST_OUT_BUF];
	size_t out_len;
	uint8_t in[HOST_IN_BUF]; /* typed, not yet accepted by the guest */
	size_t in_len;
	double wall_origin; /* host seconds when virtual time was mtime_origin */
	double last_poll; /* host seconds at the last poll after a slice */
	uint64_t slices, polls; /* slices run, and polls after them (--stats) */
	uint64_t mtime_origin;
	/* The control socket (NULL: none), served between slices. */
	struct api_server *api;
	struct api_actions actions;
	/* A service with a connection of its own, served between slices when
	 * svc_fd is readable (post-copy's page stream): svc_poll returns
	 * false when it is done.  NULL: none. */
	bool (*svc_poll)(void *opaque);
	void *svc_opaque;
	int svc_fd;
	/* Fork-clones (src/host/clone.c): this process is one, and how many
	 * of its own clones have not been reaped yet. */
	bool is_clone;
	unsigned clones;
	/* The intrusion-prevention front (src/host/shield.c, NULL: none),
	 * polled with the console and stepped after each poll. */
	struct shield *shield;
	/* Called each time the guest goes idle (its hart waits), after what
	 * it sent in its last slice has gone out (NULL: none): a trial clone
	 * tells its front that the guest has settled. */
	void (*idle_hook)(void *opaque);
	void *idle_opaque;
};

/* Whether the loop polls the host's descriptors after a slice that ended
 * with `why` at host seconds `wall` (wall_seconds' clock); if so, notes it
 * as the last poll.  A busy guest's slices (STOP_BUDGET) poll only every
 * 200 us when nothing but the console and the control socket is watched
 * (host_loop.c says why). */
bool host_loop_poll_due(struct host_loop *l, enum stop_reason why, double wall);

/* Set up the console on stdin/stdout.  `m->cfg.console_write` must be
 * host_loop_console_write with this loop as opaque. */
void host_loop_init(struct host_loop *l, struct machine *m, bool sleep_when_idle);
void host_loop_console_write(void *opaque, const uint8_t *buf, size_t len);

/* Run the machine until it exits, the user quits, max_insns or a stop
 * point that asks to return (taps_stop_at with no callback).  Returns the
 * machine's stop reason (STOP_EXIT also for a user quit, with exit code
 * 0); after STOP_AT it may be called again to run on. */
enum stop_reason host_loop_run(struct host_loop *l);

/* Write out buffered console output (before a fork, say). */
void host_loop_flush(struct host_loop *l);

/* Restore the terminal (never in a clone: the terminal is the parent's). */
void host_loop_close(struct host_loop *l);

#endif
