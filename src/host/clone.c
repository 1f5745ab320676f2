/* Fork-clone.  See clone.h and docs/clone.md.
 *
 * fork() gives the clone a copy-on-write copy of everything: guest RAM,
 * device state, the host loop.  What must not be shared is the parent's
 * host side, so the clone drops it before it runs a single instruction:
 * the control socket's connections (closed, the socket file left to the
 * parent), the slirp stack and its host sockets (closed, never shut down,
 * so the parent's connections live on), the terminal (never touched: no
 * raw mode changes, no restore on exit) and every other descriptor
 * except the disk image.  It then takes up its own: console output to a
 * file and its control socket (both opened by the parent before the fork,
 * so a bad path fails without a fork and the clone has less to do), its
 * own network, fresh entropy.
 *
 * The clone reports over a pipe: one zero byte once it runs, or a message
 * saying why it could not set itself up (then it exits). */
#include "host/clone.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dev/disk_image.h"
#include "vm/machine.h"
#include "vm/machine_state.h"
#include "vm/taps.h"

/* How long the parent waits for a clone to report; its set-up is a few
 * syscalls, so anything near this is a hung clone. */
#define CLONE_READY_TIMEOUT_MS 30000

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Close every descriptor except `keep`: whatever the parent had open
 * (slirp's sockets included, which only libslirp knows) stays the
 * parent's.  close() on a forked socket never touches the connection. */
static void close_all_but(int *keep, unsigned n)
{
	qsort(keep, n, sizeof(*keep), cmp_int);
	unsigned from = 0;
	for (unsigned i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < from)
			continue;
		if ((unsigned)keep[i] > from)
			close_range(from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	close_range(from, ~0u, 0);
}

/* stdin from /dev/null, stdout and stderr (the console and keel's own
 * messages, as on a terminal) to `console_fd`. */
static int redirect_stdio(int console_fd, char *err, size_t errlen)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(console_fd, STDOUT_FILENO) < 0 ||
	    dup2(console_fd, STDERR_FILENO) < 0) {
		snprintf(err, errlen, "console: %s", strerror(errno));
		return -1;
	}
	close(null);
	if (console_fd > STDERR_FILENO)
		close(console_fd);
	return 0;
}

/* Drop the parent's host side; keep the machine exactly as it is and
 * the descriptors the clone was handed. */
static int leave_parent(struct machine *m, struct api_server *parent_api, int console_fd,
			int ready_fd, int api_fd, int extra_fd, char *err, size_t errlen)
{
	setsid(); /* out of the parent's terminal session: no SIGINT/SIGHUP from it */
	if (parent_api)
		api_server_abandon(parent_api);
	if (m->has_net)
		machine_net_detach(m);
	/* A recording is the parent's: its log files are among the descriptors
	 * closed below, and the clone's inputs are not the parent's.  The
	 * clone runs unrecorded, with no checkpoint stops and no service's
	 * subscribers: they are the parent's. */
	taps_reset(m);
	/* From here on the clone's disk writes stay in its own memory; the
	 * parent only appends past what the clone's map points at. */
	int disk_fds[2] = {-1, -1};
	if (m->has_blk) {
		disk_image_fork_private(m->blk.disk);
		disk_image_fds(m->blk.disk, disk_fds);
	}
	int keep[] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, console_fd, ready_fd, api_fd,
		      disk_fds[0], disk_fds[1], extra_fd};
	close_all_but(keep, sizeof(keep) / sizeof(keep[0]));
	return redirect_stdio(console_fd, err, errlen);
}

/* The clone's own host side. */
static int build_own(struct machine *m, struct api_server *own_api, const struct clone_request *r,
		     const struct api_server *api, char *err, size_t errlen)
{
	if (own_api)
		*own_api = *api;
	if (hart_after_fork(&m->hart)) {
		snprintf(err, errlen, "cannot map the JIT's code cache (%s)",
			 m->hart.clone_keeps_cache ? "a copy of the parent's" : "an empty one");
		return -1;
	}
	if (r->net_user && machine_net_attach_user(m, &r->net, err, errlen))
		return -1;
	if (!r->inherit_entropy)
		events_use_host_entropy(&m->events);
	return 0;
}

/* The child side of clone_vm(): returns 0 running, or never. */
static int become_clone(struct machine *m, struct api_server *parent_api,
			const struct clone_request *r, const struct api_server *api, int console_fd,
			int ready_fd)
{
	char err[768] = "";
	if (leave_parent(m, parent_api, console_fd, ready_fd, api->listen_fd, r->keep_fd, err,
			 sizeof(err)) ||
	    build_own(m, parent_api, r, api, err, sizeof(err))) {
		/* Never an empty report: a lone zero byte means "running". */
		const char *why = err[0] ? err : "set-up failed";
		ssize_t ignored = write(ready_fd, why, strlen(why));
		(void)ignored;
		/* No exit handlers: stdio buffers and atexit work are the parent's. */
		_exit(1);
	}
	const char ok = 0;
	ssize_t ignored = write(ready_fd, &ok, 1);
	(void)ignored;
	close(ready_fd);
	return 0;
}

/* Wait for the clone's report.  Returns 0 when it runs, else -1 with the
 * reason in out->err and the clone gone. */
static int await_clone(int ready_fd, pid_t pid, struct clone_result *out)
{
	char msg[512];
	size_t len = 0;
	struct pollfd pfd = {.fd = ready_fd, .events = POLLIN};
	while (len < sizeof(msg) - 1) {
		int rc = poll(&pfd, 1, CLONE_READY_TIMEOUT_MS);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			break; /* timed out */
		ssize_t n = read(ready_fd, msg + len, sizeof(msg) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EOF: the message is complete */
		if (len == 0 && msg[0] == 0)
			return 0; /* "running" */
		len += (size_t)n;
	}
	msg[len] = '\0';
	snprintf(out->err, sizeof(out->err), "clone: %s",
		 len ? msg : "the clone did not start (no report within 30 s, or it died)");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* The disk decides whether a clone can exist: the two VMs must never
 * write one image. */
static int check_disk(const struct machine *m, struct clone_result *out)
{
	struct disk_identity id;
	machine_disk_identity(m, &id);
	if (!disk_identity_in_place(&id))
		return 0; /* none, shared read-only, or an overlay made private in the child */
	snprintf(out->err, sizeof(out->err),
		 "clone needs a read-only disk or a disk overlay (%.512s is a raw image the parent "
		 "writes in place)", id.path);
	return -1;
}

static int open_console(const struct clone_request *r, struct clone_result *out)
{
	if (r->console_fd >= 0) {
		int fd = fcntl(r->console_fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			snprintf(out->err, sizeof(out->err), "console: %s", strerror(errno));
		return fd;
	}
	const char *path = r->console[0] ? r->console : "/dev/null";
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		snprintf(out->err, sizeof(out->err), "%.600s: %s", path, strerror(errno));
	return fd;
}

/* What the clone is handed: its console file, its control socket (bound
 * here), and the pipe it reports on.  Returns 0, or -1 with out->err. */
static int open_handover(const struct api_server *parent_api, const struct clone_request *r,
			 int *console_fd, struct api_server *api, int ready[2],
			 struct clone_result *out)
{
	if ((*console_fd = open_console(r, out)) < 0)
		return -1;
	/* The clone answers the same users as its parent. */
	uid_t peer = parent_api ? parent_api->peer_uid : (uid_t)-1;
	if (api_server_open(api, r->sock, peer, out->err, sizeof(out->err))) {
		close(*console_fd);
		return -1;
	}
	if (pipe2(ready, O_CLOEXEC)) {
		snprintf(out->err, sizeof(out->err), "clone: pipe: %s", strerror(errno));
		api_server_close(api);
		close(*console_fd);
		return -1;
	}
	return 0;
}

int clone_vm(struct machine *m, struct api_server *parent_api, const struct clone_request *r,
	     struct clone_result *out)
{
	memset(out, 0, sizeof(*out));
	out->icount = taps_icount(m);
	int console_fd, ready[2];
	struct api_server api;
	if (check_disk(m, out) || open_handover(parent_api, r, &console_fd, &api, ready, out))
		return -1;
	/* Both would own the page stream of a post-copy: the pages come
	 * first, so that each has all of RAM. */
	taps_postcopy_complete(m);
	/* Nothing buffered may be written twice, once by each process (the
	 * caller flushed its own buffers). */
	fflush(NULL);
	double t0 = now_us();
	pid_t pid = fork();
	double t1 = now_us();
	if (pid == 0) {
		close(ready[0]);
		return become_clone(m, parent_api, r, &api, console_fd, ready[1]);
	}
	close(ready[1]);
	close(console_fd);
	int rc = -1;
	if (pid < 0)
		snprintf(out->err, sizeof(out->err), "clone: fork: %s", strerror(errno));
	else
		rc = await_clone(ready[0], pid, out);
	close(ready[0]);
	if (rc)
		api_server_close(&api); /* no clone: remove its socket file */
	else
		api_server_abandon(&api); /* the clone's now */
	out->pid = pid;
	out->fork_us = t1 - t0;
	out->ready_us = now_us() - t0;
	return rc ? -1 : 1;
}

unsigned clone_reap(void)
{
	unsigned n = 0;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		n++;
	return n;
}
