/* See host_loop.h.
 *
 * Console input crosses the event boundary here: bytes read from the host
 * wait in l->in until a slice boundary, then enter the UART in one
 * events_deliver() call.  While the hart idles in WFI we sleep until the
 * wall-clock time that matches the next timer deadline; input that arrives
 * earlier advances virtual time to "now" with a logged adjustment. */
#include "host/host_loop.h"

#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host/clone.h"
#include "host/fatal_signal.h"
#include "host/shield.h"

#define CTRL_A 0x01
#define SLICE_INSNS (1u << 16)

static double wall_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Pair this moment of wall time with the current mtime: after start-up, a
 * pause or a fork, the machine's clock goes on from here, not from the
 * wall time that passed meanwhile. */
static void restart_pacing(struct host_loop *l)
{
	l->wall_origin = wall_seconds();
	l->mtime_origin = hart_mtime(&l->m->hart);
}

/* The mtime that wall time had reached at host seconds `wall`, or now. */
static uint64_t mtime_at(const struct host_loop *l, double wall)
{
	return l->mtime_origin + (uint64_t)((wall - l->wall_origin) * VCLOCK_TIMEBASE_HZ);
}

static uint64_t wall_mtime(const struct host_loop *l)
{
	return mtime_at(l, wall_seconds());
}

static uint64_t mtime_now(const struct host_loop *l)
{
	return hart_mtime(&l->m->hart);
}

static size_t console_room(void *opaque)
{
	const struct host_loop *l = opaque;
	return HOST_IN_BUF - l->in_len;
}

/* Bytes typed through the control socket ("input"): queued like keys,
 * so they cross the event boundary in deliver_input() as keys do. */
static size_t queue_console_input(void *opaque, const uint8_t *buf, size_t len)
{
	struct host_loop *l = opaque;
	size_t n = len < console_room(l) ? len : console_room(l);
	memcpy(l->in + l->in_len, buf, n);
	l->in_len += n;
	return n;
}

/* The control socket's "shield". */
static json_t *ctl_shield(void *opaque, const char *what, char *err, size_t errlen)
{
	struct host_loop *l = opaque;
	if (!l->shield) {
		snprintf(err, errlen, "this VM runs without --shield");
		return NULL;
	}
	return shield_ctl(l->shield, what, err, errlen);
}

void host_loop_init(struct host_loop *l, struct machine *m, bool sleep_when_idle)
{
	memset(l, 0, sizeof(*l));
	l->m = m;
	l->in_fd = STDIN_FILENO;
	l->out_fd = STDOUT_FILENO;
	l->in_open = true;
	l->sleep_when_idle = sleep_when_idle;
	l->catch_up = sleep_when_idle;
	l->tty = isatty(l->in_fd) && tcgetattr(l->in_fd, &l->saved_termios) == 0;
	if (l->tty) {
		struct termios raw = l->saved_termios;
		cfmakeraw(&raw);
		raw.c_oflag |= OPOST | ONLCR; /* keep our own messages readable */
		/* Before the switch: a signal in between still finds the mode. */
		fatal_signal_guard_tty(l->in_fd, &l->saved_termios);
		tcsetattr(l->in_fd, TCSANOW, &raw);
	}
	restart_pacing(l);
	l->actions.console_input = queue_console_input;
	l->actions.console_room = console_room;
	l->actions.console_opaque = l;
	l->actions.shield = ctl_shield;
	l->actions.shield_opaque = l;
}

static void flush_out(struct host_loop *l)
{
	size_t done = 0;
	while (done < l->out_len) {
		ssize_t n = write(l->out_fd, l->out + done, l->out_len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* output gone: drop it rather than stall the guest */
		done += (size_t)n;
	}
	l->out_len = 0;
}

void host_loop_console_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct host_loop *l = opaque;
	while (len) {
		size_t n = HOST_OUT_BUF - l->out_len < len ? HOST_OUT_BUF - l->out_len : len;
		memcpy(l->out + l->out_len, buf, n);
		l->out_len += n;
		buf += n;
		len -= n;
		if (l->out_len == HOST_OUT_BUF)
			flush_out(l);
	}
}

/* Ctrl-a x quits, Ctrl-a Ctrl-a sends one Ctrl-a (QEMU's keys).  Only on
 * a terminal: piped input passes through untouched. */
static void take_byte(struct host_loop *l, uint8_t c)
{
	if (l->tty) {
		if (l->escape) {
			l->escape = false;
			if (c == 'x') {
				l->quit = true;
				return;
			}
			if (c != CTRL_A)
				return;
		} else if (c == CTRL_A) {
			l->escape = true;
			return;
		}
	}
	if (l->in_len < HOST_IN_BUF)
		l->in[l->in_len++] = c;
}

static void read_input(struct host_loop *l)
{
	uint8_t buf[512];
	size_t room = HOST_IN_BUF - l->in_len;
	if (!l->in_open || room == 0)
		return;
	ssize_t n = read(l->in_fd, buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		l->in_open = false;
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		take_byte(l, buf[i]);
}

/* The console, a service's descriptor and the control socket; then the
 * shield's connections. */
#define HOST_BASE_FDS (2 + API_MAX_FDS)
#define HOST_POLLFDS (HOST_BASE_FDS + SHIELD_MAX_FDS)

/* The console (pfd[0], skipped with fd -1 unless `console`) and the
 * control socket's listener and clients.  Returns how many entries. */
static unsigned host_pollfds(const struct host_loop *l, struct pollfd *pfd, bool console)
{
	pfd[0] = (struct pollfd){.fd = console ? l->in_fd : -1, .events = POLLIN};
	unsigned n = 1;
	if (l->svc_poll)
		pfd[n++] = (struct pollfd){.fd = l->svc_fd, .events = POLLIN};
	if (l->api)
		n += (unsigned)api_server_fds(l->api, pfd + n, HOST_BASE_FDS - n);
	return n;
}

/* The clone's side of becoming one, shared by the control socket's
 * clones and the shield's trial clones. */
static void become_clone(struct host_loop *l);
static void restart_pacing(struct host_loop *l);

/* Step the shield after a poll; in a new trial clone, become the clone. */
static void step_shield(struct host_loop *l, const struct pollfd *pfd, unsigned n)
{
	if (l->shield && shield_step(l->shield, l, pfd, n)) {
		become_clone(l);
		restart_pacing(l);
	}
}

/* Wait up to timeout_ms (-1: forever) for host input on the console,
 * the control socket, the shield's connections or the network backend's
 * sockets; true if something came. */
static bool wait_input(struct host_loop *l, int timeout_ms)
{
	struct pollfd pfd[HOST_POLLFDS];
	unsigned n = host_pollfds(l, pfd, l->in_open), ns = 0;
	if (l->shield) {
		ns = shield_pollfds(l->shield, pfd + n, SHIELD_MAX_FDS);
		int st = shield_timeout_ms(l->shield);
		if (st >= 0 && (timeout_ms < 0 || st < timeout_ms))
			timeout_ms = st;
	}
	int rc;
	if (l->m->has_slirp)
		rc = net_slirp_poll_with(&l->m->slirp, pfd, n + ns, timeout_ms);
	else
		rc = poll(pfd, n + ns, timeout_ms);
	if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
		read_input(l);
	if (l->shield)
		step_shield(l, rc > 0 ? pfd + n : NULL, ns);
	return rc > 0;
}

/* Paused by the control socket: the machine stands still; wait for API
 * requests and console keys (Ctrl-a x still quits).  Wall-time pacing
 * restarts from here on resume, so the pause is not "caught up". */
static void wait_paused(struct host_loop *l)
{
	flush_out(l);
	struct pollfd pfd[HOST_POLLFDS];
	unsigned n = host_pollfds(l, pfd, l->in_open && l->in_len < HOST_IN_BUF);
	int timeout = l->api ? api_server_timeout_ms(l->api) : -1;
	if (poll(pfd, n, timeout) > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
		read_input(l);
	restart_pacing(l);
}

/* The next moment (mtime) something inside the machine is due: a timer
 * interrupt or a network backend timer. */
static uint64_t next_deadline(const struct host_loop *l)
{
	const struct machine *m = l->m;
	uint64_t when = timers_next_mtime(&m->clint);
	if (m->has_slirp) {
		uint64_t ns = net_slirp_next_deadline(&m->slirp);
		uint64_t ticks = ns / VCLOCK_NS_PER_TICK;
		if (ns != UINT64_MAX && ticks < when)
			when = ticks;
	}
	return when;
}

/* Hand waiting input to the guest's console at this slice boundary.  Only
 * the bytes the device takes cross the event boundary. */
static void deliver_input(struct host_loop *l)
{
	struct machine *m = l->m;
	if (!l->in_len || m->cfg.board != BOARD_VIRT)
		return;
	size_t n = machine_console_input(m, l->in, l->in_len);
	if (!n)
		return;
	memmove(l->in, l->in + n, l->in_len - n);
	l->in_len -= n;
}

static int ms_until(double wall_target)
{
	double ms = (wall_target - wall_seconds()) * 1000.0;
	if (ms <= 0)
		return 0;
	return ms > 1e6 ? 1000000 : (int)ms + 1;
}

/* Jump virtual time to `deadline` (an mtime): the machine's own timers
 * are deterministic; a backend timer earlier than them is an adjustment
 * caused by the host and crosses the event boundary. */
static void skip_to(struct machine *m, uint64_t deadline)
{
	uint64_t cur = hart_mtime(&m->hart);
	if (deadline == timers_next_mtime(&m->clint))
		machine_skip_to_deadline(m);
	else if (deadline > cur)
		machine_adjust_time(m, deadline - cur);
	machine_deliver_net(m);
}

/* The host woke the idle machine before its next deadline: move virtual
 * time to "now" by wall time (a logged adjustment), never past it. */
static void advance_to_wall(struct host_loop *l, uint64_t deadline)
{
	uint64_t now = wall_mtime(l);
	uint64_t cur = mtime_now(l);
	if (now > deadline)
		now = deadline;
	if (l->sleep_when_idle && now > cur)
		machine_adjust_time(l->m, now - cur);
}

/* A wait that ran its full course ends past its deadline's wall time
 * (ms_until rounds up); one that ended more than this before it was cut
 * short. */
#define EARLY_WAKE_TICKS (VCLOCK_TIMEBASE_HZ / 1000) /* 1 ms */

/* The hart waits for an interrupt: sleep until the wall time that matches
 * the next deadline, or until input arrives. */
static enum stop_reason idle(struct host_loop *l)
{
	struct machine *m = l->m;
	flush_out(l);
	uint64_t deadline = next_deadline(l);
	if (!l->sleep_when_idle && deadline != UINT64_MAX && !l->in_len) {
		skip_to(m, deadline);
		return STOP_NONE;
	}
	int timeout = -1;
	if (deadline != UINT64_MAX && l->sleep_when_idle) {
		double target = l->wall_origin +
				(double)(deadline - l->mtime_origin) / VCLOCK_TIMEBASE_HZ;
		timeout = ms_until(target);
	} else if (deadline != UINT64_MAX) {
		timeout = 0;
	}
	/* Nothing can ever wake it, unless input may still come: the console,
	 * the network or the control socket's "input". */
	if (timeout == -1 && !l->in_open && !l->in_len && !m->has_slirp && !l->api)
		return STOP_WFI_IDLE;
	size_t had = l->in_len;
	if (wait_input(l, timeout) || had) {
		/* Input woke us before the deadline: move time to "now". */
		advance_to_wall(l, deadline);
		deliver_input(l);
		machine_deliver_net(m);
		return STOP_NONE;
	}
	if (l->sleep_when_idle && wall_mtime(l) + EARLY_WAKE_TICKS < deadline) {
		/* libslirp shortened the wait to run its own TCP timers (every
		 * 500 ms while any socket exists, 2 ms for a delayed ACK), which
		 * read virtual time: move time to "now" for them.  Skipping to
		 * the deadline instead put an idle guest's clock a whole idle
		 * period ahead of wall time at every such wake: seconds, with
		 * Linux's tickless idle, and then its timers fired early and
		 * its next busy stretch was slept off as lost wall time. */
		advance_to_wall(l, deadline);
		machine_deliver_net(m);
		return STOP_NONE;
	}
	if (deadline != UINT64_MAX)
		skip_to(m, deadline);
	return STOP_NONE;
}

void host_loop_flush(struct host_loop *l)
{
	flush_out(l);
}

/* A busy guest's clock runs at the nominal rate (INSNS_PER_TICK in
 * machine.c), which is above the interpreter's real speed, so it falls
 * behind wall time (translated code can run ahead of it: docs/board.md,
 * "Time").  When it is more than this far behind, virtual
 * time moves to "now" with a logged adjustment (docs/design.md §3), so the
 * guest's clock keeps pace with the user's.  The lag a guest can see is
 * bounded by this; the price is about 40 adjustments per busy second
 * (with the interpreter at a fifth of the nominal rate, the lag grows
 * 16 ms in every 20), some 7 bytes each in the compressed log: about
 * 1 MB per busy hour, against 0.3 MB/h for an idle guest and 4-20 MB/h
 * under HTTP load (bench/record-bench). */
#define CATCH_UP_TICKS (VCLOCK_TIMEBASE_HZ / 50) /* 20 ms */

static void catch_up(struct host_loop *l, double wall)
{
	if (!l->sleep_when_idle || !l->catch_up)
		return;
	uint64_t now = mtime_at(l, wall);
	uint64_t cur = mtime_now(l);
	if (now > cur + CATCH_UP_TICKS)
		machine_adjust_time(l->m, now - cur);
}

/* Whether to poll the host's descriptors after a slice that ended at host
 * seconds `wall` (host_loop.h).  A guest running flat out ends a slice every 15-65 us
 * (SLICE_INSNS at 1-4 G instructions a second with the JIT), and a poll()
 * of the console costs 0.3-0.5 us through the seccomp filter: about 1.5%
 * of kbench sha256's time in the Linux guest (docs/cpu.md).  With only the
 * console and the control socket to watch, a busy guest's loop looks every
 * POLL_GAP_S instead, so a key typed then waits at most that much longer
 * for its slice boundary (when it lands is the host's timing either way,
 * and a recording logs it).  Slirp's timers and packets and the shield's
 * trials keep a poll after every slice. */
#define POLL_GAP_S 200e-6

bool host_loop_poll_due(struct host_loop *l, enum stop_reason why, double wall)
{
	if (why == STOP_BUDGET && !l->m->has_slirp && !l->shield &&
	    wall - l->last_poll < POLL_GAP_S)
		return false;
	l->last_poll = wall;
	return true;
}

/* The parent's terminal is not a clone's: no raw mode to undo, no Ctrl-a,
 * and keys typed but not yet delivered belong to the parent. */
static void become_clone(struct host_loop *l)
{
	l->tty = false;
	l->escape = false;
	l->in_open = false;
	l->in_len = 0;
	l->quit = false;
	l->clones = 0; /* the parent's clones are not our children */
	l->is_clone = true;
	l->shield = NULL; /* the front is the parent's; its descriptors are closed */
}

/* Carry out the control socket's "clone".  The clone returns from here
 * into its own host loop, with its own socket. */
static void serve_clone(struct host_loop *l)
{
	struct clone_result r;
	l->actions.clone_pending = false;
	host_loop_flush(l);
	int rc = clone_vm(l->m, l->api, &l->actions.clone, &r);
	void (*done)(void *, const struct clone_result *, bool) = l->actions.clone_done;
	bool paused = l->actions.clone_paused;
	l->actions.clone_done = NULL;
	l->actions.clone_paused = false;
	if (rc == 0) { /* the clone: pacing restarts here, as after a pause */
		become_clone(l);
		if (paused) /* kept as it was for whoever inspects it */
			l->actions.paused = true;
		restart_pacing(l);
		return;
	}
	if (rc > 0)
		l->clones++;
	if (done)
		done(l->actions.clone_done_opaque, &r, rc > 0);
	else
		api_server_clone_done(l->api, &r, rc > 0, l->actions.clone.sock);
}

enum stop_reason host_loop_run(struct host_loop *l)
{
	struct machine *m = l->m;
	for (;;) {
		if (l->clones)
			l->clones -= clone_reap();
		if (l->svc_poll && !l->svc_poll(l->svc_opaque))
			l->svc_poll = NULL;
		if (l->api) {
			api_server_poll(l->api, m, &l->actions);
			if (l->actions.clone_pending) {
				serve_clone(l);
				continue; /* serve what waited behind it */
			}
			l->quit |= l->actions.quit_requested;
			if (l->actions.paused && !l->quit) {
				wait_paused(l);
				continue;
			}
		}
		if (l->quit) {
			flush_out(l);
			m->exited = true;
			m->exit_code = 0;
			return STOP_EXIT;
		}
		/* Not machine_run's steps: input comes in between, and must
		 * come where replay stops (machine.h). */
		enum stop_reason why = machine_run_insns(m, SLICE_INSNS);
		flush_out(l);
		if (why == STOP_EXIT || why == STOP_MAX_INSNS || why == STOP_WFI_IDLE ||
		    why == STOP_TRAP_LOOP || why == STOP_AT) {
			flush_out(l);
			return why;
		}
		double wall = wall_seconds();
		catch_up(l, wall);
		l->slices++;
		bool polled = host_loop_poll_due(l, why, wall);
		l->polls += polled;
		if ((polled && wait_input(l, 0)) || l->in_len)
			deliver_input(l);
		machine_deliver_net(m);
		if (l->quit) {
			flush_out(l);
			m->exited = true;
			m->exit_code = 0;
			return STOP_EXIT;
		}
		/* Input just delivered may have raised an interrupt: then the
		 * hart runs on at once, instead of the host sleeping until the
		 * next deadline or more input, with a frame in the guest's ring. */
		if (why == STOP_IDLE && machine_hart_waiting(m)) {
			if (l->idle_hook)
				l->idle_hook(l->idle_opaque);
			why = idle(l);
			if (why == STOP_WFI_IDLE)
				return why;
		}
	}
}

void host_loop_close(struct host_loop *l)
{
	flush_out(l);
	if (l->tty && !l->is_clone) {
		tcsetattr(l->in_fd, TCSANOW, &l->saved_termios);
		fatal_signal_release_tty();
	}
}
