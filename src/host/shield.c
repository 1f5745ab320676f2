/* The shield's front.  See shield.h and docs/shield.md.
 *
 * One connection, from the client's side:
 *
 *   accepted on the shielded port (the host side of the forward)
 *     -> its bytes gather until one request is framed (HTTP/1.1: headers
 *        and body; raw: a burst followed by a pause)
 *     -> tried (the rules pick it) or passed: a tried request goes to the
 *        connection's trial clone, forked at its first tried request,
 *        whose reply is collected and which is then watched a little
 *        longer (settle_ms); any alert, a clone that dies, a service that
 *        closes without answering or a crash on its console is an attack
 *     -> clean: the bytes go to the real VM through its private forward;
 *        attack: the client gets a reset and the clone is killed.
 *   What the real VM answers is relayed to the client as it comes, so
 *   keep-alive and pipelined requests work; the next request waits for
 *   its own verdict.
 *
 * Everything here is host I/O; the guest sees only what the front writes
 * into the real VM's forward, which slirp turns into frames at the event
 * boundary. */
#include "host/shield.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dev/net_slirp.h"
#include "host/clone.h"
#include "host/host_loop.h"
#include "svc/ids/ids.h"
#include "svc/shield/rules.h"
#include "svc/shield/watch.h"
#include "svc/vmi/vmi.h"
#include "vm/taps.h"

#define MAX_REQUEST (64u * 1024u) /* a request that does not fit is refused */
#define MAX_RELAY (256u * 1024u) /* real VM -> client bytes in flight */
#define MAX_REPLY (64u * 1024u) /* the clone's reply kept for judging */
#define MAX_ALERTS (64u * 1024u)
#define RAW_QUIET_MS 10 /* raw protocol: a burst ends after this pause */
/* A trial clone's line on its alert pipe each time its guest goes idle
 * (never JSON, so never taken for an alert). */
#define IDLE_MARK "idle\n"
#define VERDICT_RING 128
#define CONSOLE_TAIL 8192
#define MAX_KEEPERS 8 /* blocked clones being saved at once */
#define KEEP_TIMEOUT_MS 60000 /* a clone that has not saved itself by then is killed */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

enum conn_state { C_GATHER, C_TRIAL, C_SETTLE };

/* The connection's clone, forked at its first tried request. */
struct trial {
	int pid; /* 0: none yet */
	int alerts_fd; /* its alert lines (IDS and exec_allow), read end */
	int sfd; /* a connection to its copy of the service; -1: none */
	struct buf out; /* the request, not yet written to it */
	struct buf reply;
	bool reply_eof, dead;
	struct buf alerts;
	unsigned long idles; /* idle marks read from the alert pipe */
	/* Its console, read as it comes from a pipe: the tail, how much of it
	 * was scanned, and the lines that say something crashed. */
	int console_fd;
	struct buf console;
	size_t scanned;
	json_t *crash;
	bool kernel_crash; /* one of them is the kernel's (panic, oops, BUG) */
	char sock[NET_UNIX_PATH_MAX], ctl[NET_UNIX_PATH_MAX];
	double fork_ms;
};

#define NO_TRIAL ((struct trial){.alerts_fd = -1, .sfd = -1, .console_fd = -1})

struct conn {
	bool used;
	unsigned long id;
	unsigned fwd;
	int cfd, rfd;
	char peer[64];
	struct buf in, to_real, to_client;
	bool client_eof, real_eof, real_shut, real_pending;
	bool tried; /* the whole connection is tried ("all", "from", "sample") */
	const char *why_conn, *why;
	size_t req_len; /* the request being judged (0: none yet) */
	enum conn_state st;
	double t_accept, t_last, t_start, t_reply, t_settle, deadline;
	unsigned requests;
	unsigned long idles_at_reply; /* t.idles when the reply was complete */
	struct trial t;
};

/* A blocked trial's clone being saved for forensics ("snapshot_dir"):
 * asked through its own control socket to pause and write a snapshot,
 * killed once it has answered (or at the deadline). */
struct keeper {
	int pid; /* 0: a free slot */
	int fd; /* the clone's control socket */
	/* Its console and alert pipe, held open but not read (it is paused):
	 * a write into a closed pipe would kill it with SIGPIPE. */
	int console_fd, alerts_fd;
	struct buf reply;
	unsigned long conn;
	double deadline;
	char path[PATH_MAX], ctl[NET_UNIX_PATH_MAX];
};

struct front {
	int lfd;
	struct net_hostfwd fwd; /* the forward as given on --net */
	char real_sock[NET_UNIX_PATH_MAX];
};

struct counters {
	unsigned long connections, requests, tried, clean, blocked, passed, timeouts, refused,
		no_request, clones;
};

struct pmap {
	short conn; /* -1: a listener */
	unsigned char kind; /* which descriptor */
	unsigned char front;
};

enum { K_CLIENT, K_REAL, K_CLONE, K_ALERTS, K_CONSOLE, K_KEEP /* conn: a keeper's index */ };

struct shield {
	struct shield_rules *rules;
	struct ids_policy *ids; /* each trial clone's detector; NULL: none */
	/* The guest kernel, found once in this VM and handed to every trial
	 * clone (whose memory is this VM's at the fork), so no clone spends
	 * a tenth of a second finding it again.  NULL until found. */
	struct vmi *vmi;
	double vmi_next_try;
	char dir[64];
	bool ipv6;
	struct front fronts[NET_USER_MAX_HOSTFWD];
	unsigned nfronts;
	struct conn conns[SHIELD_MAX_CONNS];
	struct keeper keepers[MAX_KEEPERS];
	unsigned long next_id, next_trial;
	unsigned live_clones;
	FILE *alerts, *verdicts;
	bool own_alerts;
	json_t *ring[VERDICT_RING];
	unsigned ring_next;
	unsigned long ring_total;
	struct counters c;
	double trial_ms_sum, trial_ms_max;
	struct pmap pmap[SHIELD_MAX_FDS];
	unsigned npmap;
	bool in_clone; /* this process is a trial clone: the shield is the parent's */
	int owner; /* the process the front belongs to (clones of it have others) */
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static double wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- buffers ---- */

static int buf_add(struct buf *b, const void *p, size_t n, size_t max)
{
	if (b->len + n > max)
		return -1;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *q = realloc(b->p, cap);
		if (!q)
			return -1;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static void buf_drop(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	*b = (struct buf){0};
}

/* Read what is there into b (up to max).  1: got bytes, 0: nothing now,
 * -1: end of stream or error. */
static int read_into(int fd, struct buf *b, size_t max)
{
	uint8_t tmp[16384];
	size_t room = max - b->len;
	if (room == 0)
		return 0;
	ssize_t n = read(fd, tmp, room < sizeof(tmp) ? room : sizeof(tmp)); /* non-blocking fds */
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	buf_add(b, tmp, (size_t)n, max);
	return 1;
}

/* Write what it can of b.  0, or -1 when the peer is gone. */
static int flush_to(int fd, struct buf *b)
{
	while (b->len) {
		ssize_t n = send(fd, b->p, b->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		buf_drop(b, (size_t)n);
	}
	return 0;
}

static int connect_unix(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1; /* EAGAIN (slirp's backlog is full): the caller tries again */
}

/* ---- set-up ---- */

static int listen_front(struct front *f, char *err, size_t errlen)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = f->fwd.host_addr,
				.sin_port = htons(f->fwd.host_port)};
	int one = 1;
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->lfd < 0 || setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(f->lfd, 128)) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &f->fwd.host_addr, ip, sizeof(ip));
		snprintf(err, errlen, "--shield: tcp:%s:%u: cannot listen (%s)", ip, f->fwd.host_port,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* The --net option with each shielded forward turned into a private one. */
static char *rewrite_net(struct shield *sh, const struct net_user_opts *o)
{
	size_t cap = 64 + NET_USER_MAX_HOSTFWD * (NET_UNIX_PATH_MAX + 64);
	char *s = calloc(1, cap);
	if (!s)
		return NULL;
	strcpy(s, "user");
	unsigned k = 0;
	for (unsigned i = 0; i < o->nfwd; i++) {
		const struct net_hostfwd *f = &o->fwd[i];
		char host[INET_ADDRSTRLEN], guest[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &f->host_addr, host, sizeof(host));
		inet_ntop(AF_INET, &f->guest_addr, guest, sizeof(guest));
		bool ours = k < sh->nfronts && !memcmp(&sh->fronts[k].fwd, f, sizeof(*f));
		size_t n = strlen(s);
		if (ours || f->unix_path[0])
			snprintf(s + n, cap - n, ",hostfwd=unix:%s-%s:%u",
				 ours ? sh->fronts[k++].real_sock : f->unix_path, guest, f->guest_port);
		else
			snprintf(s + n, cap - n, ",hostfwd=%s:%s:%u-%s:%u", f->udp ? "udp" : "tcp", host,
				 f->host_port, guest, f->guest_port);
	}
	if (!o->ipv6)
		strcat(s, ",ipv6=off");
	if (o->have_mac) {
		size_t n = strlen(s);
		snprintf(s + n, cap - n, ",mac=%02x:%02x:%02x:%02x:%02x:%02x", o->mac[0], o->mac[1],
			 o->mac[2], o->mac[3], o->mac[4], o->mac[5]);
	}
	return s;
}

static int open_outputs(struct shield *sh, char *err, size_t errlen)
{
	const char *a = sh->rules->alerts;
	if (!a || !strcmp(a, "stderr")) {
		sh->alerts = stderr;
	} else if (!strcmp(a, "-")) {
		sh->alerts = stdout;
	} else if (!(sh->alerts = fopen(a, "w"))) {
		snprintf(err, errlen, "--shield: alerts %s: %s", a, strerror(errno));
		return -1;
	} else {
		sh->own_alerts = true;
	}
	if (sh->rules->verdicts && !(sh->verdicts = fopen(sh->rules->verdicts, "w"))) {
		snprintf(err, errlen, "--shield: verdicts %s: %s", sh->rules->verdicts,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static int pick_fronts(struct shield *sh, const struct net_user_opts *o, char *err, size_t errlen)
{
	for (unsigned i = 0; i < o->nfwd; i++) {
		const struct net_hostfwd *f = &o->fwd[i];
		if (f->udp || f->unix_path[0] || !shield_port_shielded(sh->rules, f->host_port))
			continue;
		struct front *fr = &sh->fronts[sh->nfronts];
		fr->fwd = *f;
		fr->lfd = -1;
		snprintf(fr->real_sock, sizeof(fr->real_sock), "%s/real%u.sock", sh->dir, sh->nfronts);
		sh->nfronts++;
		if (listen_front(fr, err, errlen))
			return -1;
	}
	for (unsigned i = 0; i < sh->rules->nports; i++) {
		bool found = false;
		for (unsigned k = 0; k < sh->nfronts; k++)
			found |= sh->fronts[k].fwd.host_port == sh->rules->ports[i];
		if (!found) {
			snprintf(err, errlen, "--shield: %s: port %u is not a TCP hostfwd of --net",
				 sh->rules->path, sh->rules->ports[i]);
			return -1;
		}
	}
	if (!sh->nfronts) {
		snprintf(err, errlen, "--shield needs --net user with a TCP hostfwd to shield");
		return -1;
	}
	return 0;
}

struct shield *shield_open(const char *rules_path, const char *net, char **new_net, char *err,
			   size_t errlen)
{
	struct net_user_opts o;
	if (!net || !strcmp(net, "none")) {
		snprintf(err, errlen, "--shield needs --net user with a TCP hostfwd to shield");
		return NULL;
	}
	if (net_user_parse(net, &o, err, errlen))
		return NULL;
	struct shield *sh = calloc(1, sizeof(*sh));
	if (!sh) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	char why[1024];
	sh->rules = shield_rules_load(rules_path, why, sizeof(why));
	if (!sh->rules) {
		snprintf(err, errlen, "--shield %s", why);
		free(sh);
		return NULL;
	}
	sh->ipv6 = o.ipv6;
	if (sh->rules->ids && !(sh->ids = ids_policy_load(sh->rules->ids, why, sizeof(why)))) {
		snprintf(err, errlen, "--shield: ids %s", why);
		shield_close(sh);
		return NULL;
	}
	/* A path without '-' or ',' (the --net syntax), 0700 by mkdtemp. */
	snprintf(sh->dir, sizeof(sh->dir), "/tmp/keelshield.XXXXXX");
	if (!mkdtemp(sh->dir)) {
		snprintf(err, errlen, "--shield: mkdtemp /tmp: %s", strerror(errno));
		sh->dir[0] = '\0';
		shield_close(sh);
		return NULL;
	}
	if (pick_fronts(sh, &o, err, errlen) || open_outputs(sh, err, errlen) ||
	    !(*new_net = rewrite_net(sh, &o))) {
		if (!err[0])
			snprintf(err, errlen, "out of memory");
		shield_close(sh);
		return NULL;
	}
	for (unsigned i = 0; i < SHIELD_MAX_CONNS; i++)
		sh->conns[i].cfd = sh->conns[i].rfd = -1;
	sh->owner = getpid();
	return sh;
}

/* ---- trial clones ---- */

static void trial_end(struct shield *sh, struct trial *t)
{
	if (t->pid > 0) {
		/* The host loop reaps it (it counts it among its clones). */
		kill(t->pid, SIGKILL);
		sh->live_clones--;
	}
	if (t->alerts_fd >= 0)
		close(t->alerts_fd);
	if (t->console_fd >= 0)
		close(t->console_fd);
	if (t->sock[0]) { /* the sockets the clone was given */
		unlink(t->sock);
		unlink(t->ctl);
	}
	if (t->sfd >= 0)
		close(t->sfd);
	buf_free(&t->out);
	buf_free(&t->reply);
	buf_free(&t->alerts);
	buf_free(&t->console);
	json_decref(t->crash);
	*t = NO_TRIAL;
}

/* In a trial clone, at each idle: the front's settle ends at the first
 * one after the reply (settle_until_idle). */
static void trial_idle(void *opaque)
{
	FILE *out = opaque;
	fputs(IDLE_MARK, out);
	fflush(out);
}

/* In the new clone: watch it, then run as a clone.  Nothing of the front
 * is ours: its descriptors are closed (clone.c), its memory the parent's. */
static void become_trial(struct shield *sh, struct host_loop *l, int alert_fd, int parent)
{
	struct machine *m = l->m;
	sh->in_clone = true;
	/* A trial clone dies with the front that forked it: never a leak. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* ...and never of the front closing its end of the service's
	 * connection or a pipe: a clone kept for its snapshot runs on a
	 * moment after its trial, and its slirp writes to what is closed. */
	signal(SIGPIPE, SIG_IGN);
	if (getppid() != parent)
		_exit(1);
	FILE *out = fdopen(alert_fd, "w");
	char err[512];
	if (!out)
		_exit(1);
	if (sh->ids) {
		/* every line is an alert to the front; the boot is the parent's */
		struct ids_options io = {.out_stream = out, .vmi = sh->vmi, .kernel_booted = true};
		/* The clone's copy of the policy is the detector's from here on. */
		if (!ids_start(m, sh->ids, &io, err, sizeof(err))) {
			fprintf(out, "{\"policy\":\"shield\",\"evidence\":{\"what\":\"ids failed\"}}\n");
			_exit(1);
		}
	}
	if (!shield_watch_start(m, sh->rules, sh->vmi, out, err, sizeof(err)))
		_exit(1);
	if (sh->rules->settle_until_idle) {
		l->idle_hook = trial_idle;
		l->idle_opaque = out;
	}
}

/* Find the guest kernel before the first fork (again after a reboot moved
 * it); a failure is retried a second later, and the clones attach
 * themselves meanwhile. */
static void find_kernel(struct shield *sh, struct machine *m)
{
	struct memview mv;
	taps_memview(m, &mv);
	if (sh->vmi && vmi_check(sh->vmi, &mv))
		return;
	vmi_free(sh->vmi);
	sh->vmi = NULL;
	if (now_ms() < sh->vmi_next_try)
		return;
	char err[256];
	struct vmi_options o = {0};
	sh->vmi = vmi_attach(&mv, &o, err, sizeof(err));
	if (!sh->vmi)
		sh->vmi_next_try = now_ms() + 1000;
}

/* Fork the connection's trial clone.  1: this is the clone; 0: forked (or
 * failed: t->dead, an error verdict follows). */
static int trial_fork(struct shield *sh, struct host_loop *l, struct conn *c)
{
	struct trial *t = &c->t;
	unsigned long n = ++sh->next_trial;
	snprintf(t->sock, sizeof(t->sock), "%s/t%lu.sock", sh->dir, n);
	snprintf(t->ctl, sizeof(t->ctl), "%s/t%lu.ctl", sh->dir, n);
	int p[2], con[2];
	if (pipe2(p, O_CLOEXEC)) {
		t->dead = true;
		return 0;
	}
	if (pipe2(con, O_CLOEXEC)) {
		close(p[0]);
		close(p[1]);
		t->dead = true;
		return 0;
	}
	struct clone_request r = {.net_user = true, .keep_fd = p[1], .console_fd = con[1]};
	snprintf(r.sock, sizeof(r.sock), "%s", t->ctl);
	r.net.ipv6 = sh->ipv6;
	r.net.nfwd = 1;
	r.net.fwd[0] = sh->fronts[c->fwd].fwd;
	snprintf(r.net.fwd[0].unix_path, sizeof(r.net.fwd[0].unix_path), "%s", t->sock);
	struct clone_result res;
	int parent = getpid();
	find_kernel(sh, l->m);
	host_loop_flush(l);
	double t0 = now_ms();
	int rc = clone_vm(l->m, l->api, &r, &res);
	if (rc == 0) {
		close(p[0]); /* con[]: closed by the clone already */
		become_trial(sh, l, p[1], parent);
		return 1;
	}
	close(p[1]);
	close(con[1]);
	t->alerts_fd = p[0];
	t->console_fd = con[0];
	fcntl(con[0], F_SETFL, O_NONBLOCK);
	t->fork_ms = now_ms() - t0;
	if (rc < 0) {
		fprintf(stderr, "keel: shield: %s\n", res.err);
		t->dead = true;
		return 0;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	t->pid = res.pid;
	l->clones++;
	sh->live_clones++;
	sh->c.clones++;
	return 0;
}

/* Bytes as a JSON string, non-printable ones as dots. */
static json_t *printable(const uint8_t *b, size_t n, size_t max)
{
	char *s = malloc((n < max ? n : max) + 1);
	if (!s)
		return json_null();
	size_t k = 0;
	for (; k < n && k < max; k++)
		s[k] = b[k] >= 0x20 && b[k] < 0x7f ? (char)b[k] : '.';
	s[k] = '\0';
	json_t *j = json_string(s);
	free(s);
	return j ? j : json_null();
}

/* ---- forensic snapshots of blocked clones ---- */

static void keeper_free(struct shield *sh, struct keeper *k)
{
	kill(k->pid, SIGKILL); /* the host loop reaps it */
	sh->live_clones--;
	close(k->fd);
	if (k->console_fd >= 0)
		close(k->console_fd);
	if (k->alerts_fd >= 0)
		close(k->alerts_fd);
	unlink(k->ctl);
	buf_free(&k->reply);
	*k = (struct keeper){0};
}

/* Ask the clone of a blocked trial to pause and save itself; the keeper
 * takes the clone over from the trial.  The snapshot's path, or NULL
 * when it cannot be kept (no slot, its socket refused: it is killed
 * with its trial as usual). */
static const char *keep_clone(struct shield *sh, struct conn *c)
{
	struct trial *t = &c->t;
	struct keeper *k = NULL;
	for (unsigned i = 0; i < MAX_KEEPERS && !k; i++)
		if (!sh->keepers[i].pid)
			k = &sh->keepers[i];
	if (!k || t->pid <= 0 || t->dead)
		return NULL;
	int fd = connect_unix(t->ctl);
	if (fd < 0)
		return NULL;
	*k = (struct keeper){.pid = t->pid, .fd = fd, .console_fd = -1, .alerts_fd = -1,
			     .conn = c->id,
			     .deadline = now_ms() + KEEP_TIMEOUT_MS};
	snprintf(k->ctl, sizeof(k->ctl), "%s", t->ctl);
	snprintf(k->path, sizeof(k->path), "%s/shield-c%lu-r%u-%d.keel", sh->rules->snapshot_dir,
		 c->id, c->requests, t->pid);
	/* Paused first, so the snapshot is the clone as the verdict found it
	 * (give or take the slice it was in). */
	json_t *snap = json_pack("{s:s,s:s}", "cmd", "snapshot", "path", k->path);
	char *line = snap ? json_dumps(snap, JSON_COMPACT) : NULL;
	json_decref(snap);
	struct buf req = {0};
	static const char pause[] = "{\"cmd\":\"pause\"}\n";
	if (!line || buf_add(&req, pause, strlen(pause), 4096) ||
	    buf_add(&req, line, strlen(line), 4096) || buf_add(&req, "\n", 1, 4096) ||
	    flush_to(fd, &req) < 0 || req.len) { /* a fresh socket takes a few hundred bytes */
		free(line);
		buf_free(&req);
		close(fd);
		*k = (struct keeper){0};
		return NULL;
	}
	free(line);
	buf_free(&req);
	k->console_fd = t->console_fd;
	k->alerts_fd = t->alerts_fd;
	t->console_fd = t->alerts_fd = -1;
	t->pid = 0; /* the keeper's now: not killed with the trial */
	return k->path;
}

/* The clone has answered both requests (or gone, or run out of time):
 * say how its snapshot went, then kill it. */
static void keeper_step(struct shield *sh, struct keeper *k, bool eof)
{
	const uint8_t *second = memchr(k->reply.p, '\n', k->reply.len);
	const uint8_t *end = NULL;
	if (second)
		end = memchr(second + 1, '\n', k->reply.len - (size_t)(second + 1 - k->reply.p));
	if (!end && !eof && now_ms() < k->deadline)
		return;
	json_t *r = end ? json_loadb((const char *)second + 1, (size_t)(end - second - 1), 0, NULL)
			: NULL;
	const char *error = NULL;
	if (!end)
		error = eof ? "the clone closed its control socket" : "no answer within 60 s";
	else if (!json_is_true(json_object_get(r, "ok")))
		error = json_string_value(json_object_get(r, "error"));
	if (end && !error && !json_is_true(json_object_get(r, "ok")))
		error = "the snapshot failed";
	json_t *line = json_pack("{s:f,s:s,s:s,s:I,s:i,s:s}", "host_ns", wall_ns(), "policy",
				 "shield", "response", "snapshot", "conn", (json_int_t)k->conn,
				 "clone_pid", k->pid, "file", k->path);
	if (line && error) {
		json_object_set_new(line, "error", json_string(error));
		/* keel's own last words in the clone (its stderr is the console) */
		struct buf con = {0};
		while (k->console_fd >= 0 && read_into(k->console_fd, &con, 1u << 20) > 0)
			;
		size_t from = con.len > 400 ? con.len - 400 : 0;
		json_object_set_new(line, "console_tail", printable(con.p + from, con.len - from, 400));
		buf_free(&con);
	}
	if (line && json_dumpf(line, sh->alerts, JSON_COMPACT) == 0)
		fputc('\n', sh->alerts);
	fflush(sh->alerts);
	json_decref(line);
	json_decref(r);
	keeper_free(sh, k);
}

static void keeper_read(struct shield *sh, struct keeper *k)
{
	if (read_into(k->fd, &k->reply, 4096) < 0)
		keeper_step(sh, k, true);
}

/* ---- verdicts ---- */


/* New console output of the clone: the lines that say something crashed
 * (a process killed by a signal, the kernel's panic, oops or BUG) are
 * kept as evidence, and the trial ends at once. */
static void console_scan(struct trial *t)
{
	static const char *const marks[] = {"Kernel panic", "Oops", "BUG:", "unhandled signal",
					    "segfault", NULL};
	if (!t->crash)
		t->crash = json_array();
	for (;;) {
		uint8_t *nl = memchr(t->console.p + t->scanned, '\n', t->console.len - t->scanned);
		if (!nl)
			break;
		size_t start = t->scanned, len = (size_t)(nl - t->console.p) - start;
		t->scanned += len + 1;
		char line[301];
		size_t n = len < 300 ? len : 300;
		memcpy(line, t->console.p + start, n);
		line[n] = '\0';
		for (int i = 0; marks[i]; i++)
			if (memmem(t->console.p + start, len, marks[i], strlen(marks[i]))) {
				json_array_append_new(t->crash, printable((uint8_t *)line, n, 300));
				t->kernel_crash |= i < 3;
				break;
			}
	}
	if (t->console.len >= CONSOLE_TAIL) { /* keep an unfinished line, drop the rest */
		size_t drop = t->scanned < t->console.len ? t->scanned : t->console.len;
		if (drop == 0)
			drop = t->console.len; /* a line longer than the tail: its start is lost */
		buf_drop(&t->console, drop);
		t->scanned -= drop < t->scanned ? drop : t->scanned;
	}
}

static void console_read(struct trial *t)
{
	if (read_into(t->console_fd, &t->console, CONSOLE_TAIL) < 0) {
		close(t->console_fd); /* the clone is gone: its alert pipe says so too */
		t->console_fd = -1;
	}
	console_scan(t);
}

/* The crash lines seen so far (a new reference). */
static json_t *console_evidence(const struct trial *t)
{
	return t->crash ? json_copy(t->crash) : json_array();
}

/* The clone's alert lines, parsed (a line that is not JSON is kept as text). */
static json_t *clone_alerts(const struct trial *t)
{
	json_t *arr = json_array();
	size_t start = 0;
	for (size_t i = 0; i < t->alerts.len; i++) {
		if (t->alerts.p[i] != '\n')
			continue;
		json_t *j = json_loadb((const char *)t->alerts.p + start, i - start, 0, NULL);
		json_array_append_new(arr, j ? j : printable(t->alerts.p + start, i - start, 500));
		start = i + 1;
	}
	return arr;
}

static void remember(struct shield *sh, json_t *v)
{
	if (sh->verdicts) {
		if (json_dumpf(v, sh->verdicts, JSON_COMPACT) == 0)
			fputc('\n', sh->verdicts);
		fflush(sh->verdicts);
	}
	json_decref(sh->ring[sh->ring_next]);
	sh->ring[sh->ring_next] = v;
	sh->ring_next = (sh->ring_next + 1) % VERDICT_RING;
	sh->ring_total++;
}

static json_t *verdict_json(struct shield *sh, struct conn *c, const char *verdict,
			    const char *reason)
{
	double t = now_ms();
	bool tried = c->why != NULL;
	return json_pack("{s:I,s:I,s:i,s:s,s:s?,s:s,s:s,s:I,s:i,s:f,s:f,s:f,s:f}", "conn",
			 (json_int_t)c->id, "request", (json_int_t)c->requests, "port",
			 sh->fronts[c->fwd].fwd.host_port, "peer", c->peer, "tried", c->why,
			 "verdict", verdict, "reason", reason, "bytes", (json_int_t)c->req_len,
			 "clone_pid", c->t.pid, "fork_ms", c->t.fork_ms, "reply_ms",
			 tried && c->t_reply > c->t_start ? c->t_reply - c->t_start : -1.0, "trial_ms",
			 tried ? t - c->t_start : 0.0, "host_ns", wall_ns());
}

static void close_conn(struct shield *sh, struct conn *c, bool reset)
{
	if (c->cfd >= 0) {
		if (reset) {
			struct linger lg = {1, 0}; /* close sends RST */
			setsockopt(c->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(c->cfd);
	}
	if (c->rfd >= 0)
		close(c->rfd);
	trial_end(sh, &c->t);
	buf_free(&c->in);
	buf_free(&c->to_real);
	buf_free(&c->to_client);
	*c = (struct conn){.cfd = -1, .rfd = -1, .t = NO_TRIAL};
}

static void attack(struct shield *sh, struct conn *c, const char *verdict, const char *reason)
{
	sh->c.blocked++;
	json_t *v = verdict_json(sh, c, verdict, reason);
	json_t *ev = clone_alerts(&c->t);
	json_t *policies = json_array();
	size_t i;
	json_t *a;
	json_array_foreach(ev, i, a) {
		json_t *p = json_object_get(a, "policy");
		if (p)
			json_array_append(policies, p);
	}
	int pid = c->t.pid;
	const char *snap = sh->rules->snapshot_dir ? keep_clone(sh, c) : NULL;
	json_t *alert = json_pack("{s:f,s:s,s:s,s:I,s:i,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:i,s:s?}",
				  "host_ns", wall_ns(), "policy", "shield", "response", "reset",
				  "conn", (json_int_t)c->id, "port", sh->fronts[c->fwd].fwd.host_port,
				  "peer", c->peer, "verdict", verdict, "reason", reason, "policies",
				  policies, "evidence", ev, "console", console_evidence(&c->t),
				  "request", printable(c->in.p, c->req_len, 1024), "clone_pid", pid,
				  "snapshot", snap);
	if (alert) {
		if (json_dumpf(alert, sh->alerts, JSON_COMPACT) == 0)
			fputc('\n', sh->alerts);
		fflush(sh->alerts);
		json_object_set(v, "alert", alert);
		json_decref(alert);
	}
	remember(sh, v);
	close_conn(sh, c, true);
}

static void trial_done(struct shield *sh, struct conn *c)
{
	double ms = now_ms() - c->t_start;
	sh->trial_ms_sum += ms;
	if (ms > sh->trial_ms_max)
		sh->trial_ms_max = ms;
}

/* The request passes to the real VM (clean, or not tried). */
static void release(struct shield *sh, struct conn *c)
{
	if (buf_add(&c->to_real, c->in.p, c->req_len, MAX_REQUEST + MAX_RELAY) == 0)
		buf_drop(&c->in, c->req_len);
	c->req_len = 0;
	c->st = C_GATHER;
	c->t_last = now_ms();
	if (c->rfd < 0 && !c->real_eof)
		c->real_pending = true; /* connected in pump_real */
}

static void clean(struct shield *sh, struct conn *c, const char *verdict, const char *reason)
{
	sh->c.clean++;
	remember(sh, verdict_json(sh, c, verdict, reason));
	release(sh, c);
}

/* ---- one connection's steps ---- */

static void start_trial(struct shield *sh, struct conn *c)
{
	struct trial *t = &c->t;
	sh->c.tried++;
	c->st = C_TRIAL;
	c->t_start = now_ms();
	c->deadline = c->t_start + sh->rules->verdict_ms;
	t->reply.len = 0;
	t->out.len = 0;
	buf_add(&t->out, c->in.p, c->req_len, MAX_REQUEST);
	if (t->reply_eof && t->sfd >= 0) { /* the service closed after its last reply */
		close(t->sfd);
		t->sfd = -1;
	}
	t->reply_eof = false;
}

/* A request is framed in c->in: how long, 0 if not yet. */
static size_t frame(struct shield *sh, struct conn *c, bool *refuse)
{
	*refuse = false;
	if (!c->in.len)
		return 0;
	if (!sh->rules->http) {
		if (c->client_eof || now_ms() - c->t_last >= RAW_QUIET_MS || c->in.len == MAX_REQUEST)
			return c->in.len;
		return 0;
	}
	size_t n = shield_http_request_len(c->in.p, c->in.len);
	if (n == (size_t)-1 || (n == 0 && c->in.len == MAX_REQUEST))
		*refuse = true;
	else if (n == 0 && c->client_eof)
		n = c->in.len; /* what a closing client sent: judged as it is */
	return n;
}

/* Whether requests must be framed one by one, or may stream through. */
static bool judges_requests(const struct shield *sh, const struct conn *c)
{
	const struct shield_rules *r = sh->rules;
	return c->tried || r->payload.n || r->det_max_bytes || r->det_nonprintable;
}

static void gather(struct shield *sh, struct conn *c)
{
	if (!judges_requests(sh, c)) {
		if (c->in.len) {
			c->req_len = c->in.len;
			sh->c.passed++;
			release(sh, c);
		}
		return;
	}
	bool refuse;
	size_t n = frame(sh, c, &refuse);
	if (refuse) {
		sh->c.refused++;
		c->req_len = c->in.len;
		remember(sh, verdict_json(sh, c, "refused", "the request cannot be framed "
						"(too large, or a bad length)"));
		close_conn(sh, c, true);
		return;
	}
	if (!n)
		return;
	c->req_len = n;
	c->requests++;
	sh->c.requests++;
	const char *why = c->why_conn;
	if (c->tried || shield_pick_request(sh->rules, c->in.p, n, &why)) {
		c->why = why;
		if (sh->live_clones < sh->rules->max_trials || c->t.pid > 0)
			start_trial(sh, c);
		else
			c->requests--, sh->c.requests--; /* waits for a free clone slot */
		return;
	}
	c->why = NULL;
	sh->c.passed++;
	release(sh, c);
}

static bool reply_complete(struct shield *sh, const struct trial *t, double now, double t_reply)
{
	if (t->reply_eof)
		return true;
	if (!t->reply.len)
		return false;
	if (sh->rules->http)
		return shield_http_reply_done(t->reply.p, t->reply.len);
	return now - t_reply >= RAW_QUIET_MS;
}

/* The idle marks among the clone's alert lines: counted and taken out. */
static void take_idle_marks(struct trial *t)
{
	size_t in = 0, out = 0, mark = strlen(IDLE_MARK);
	while (in < t->alerts.len) {
		uint8_t *nl = memchr(t->alerts.p + in, '\n', t->alerts.len - in);
		size_t len = nl ? (size_t)(nl - t->alerts.p) - in + 1 : t->alerts.len - in;
		if (nl && len == mark && !memcmp(t->alerts.p + in, IDLE_MARK, mark)) {
			t->idles++;
		} else {
			memmove(t->alerts.p + out, t->alerts.p + in, len);
			out += len;
		}
		in += len;
	}
	t->alerts.len = out;
}

/* What is left is the start of an idle mark still on its way. */
static bool is_idle_prefix(const struct buf *b)
{
	return b->len < strlen(IDLE_MARK) && !memcmp(b->p, IDLE_MARK, b->len);
}

/* 1: it became a clone. */
static int trial_step(struct shield *sh, struct host_loop *l, struct conn *c)
{
	struct trial *t = &c->t;
	if (!t->pid && !t->dead && trial_fork(sh, l, c))
		return 1;
	if (t->pid && t->sfd < 0 && !t->dead)
		t->sfd = connect_unix(t->sock);
	if (t->sfd >= 0 && flush_to(t->sfd, &t->out) < 0)
		t->reply_eof = true;
	double now = now_ms();
	if (t->dead && !t->pid) {
		trial_done(sh, c);
		attack(sh, c, "error", "the trial clone could not be made");
	} else if (t->dead) {
		trial_done(sh, c);
		attack(sh, c, "attack", "the clone stopped (guest panic, poweroff or crash)");
	} else if (t->alerts.len && !is_idle_prefix(&t->alerts)) {
		trial_done(sh, c);
		attack(sh, c, "attack", "the clone raised alerts");
	} else if (json_array_size(t->crash)) {
		trial_done(sh, c);
		attack(sh, c, "crash", t->kernel_crash ? "the clone's kernel crashed (its console)"
						       : "a process crashed in the clone (its console)");
	} else if (c->st == C_TRIAL && reply_complete(sh, t, now, c->t_reply)) {
		c->st = C_SETTLE;
		c->t_settle = now + sh->rules->settle_ms;
		c->idles_at_reply = t->idles;
	} else if (c->st == C_SETTLE &&
		   (now >= c->t_settle ||
		    (sh->rules->settle_until_idle && t->idles > c->idles_at_reply))) {
		trial_done(sh, c);
		if (!t->reply.len)
			attack(sh, c, "attack", "the service closed the connection without answering");
		else
			clean(sh, c, "clean", "answered, no alerts");
	} else if (now >= c->deadline) {
		sh->c.timeouts++;
		if (sh->rules->timeout_blocks) {
			trial_done(sh, c);
			attack(sh, c, "timeout", "no answer within verdict_ms");
		} else {
			trial_done(sh, c);
			clean(sh, c, "timeout", "no answer within verdict_ms; on_timeout pass");
		}
	}
	return 0;
}

/* Bytes between the front and the real VM; closes when both ends are done. */
static void pump_real(struct shield *sh, struct conn *c)
{
	if (c->real_pending && c->rfd < 0) {
		c->rfd = connect_unix(sh->fronts[c->fwd].real_sock);
		if (c->rfd >= 0)
			c->real_pending = false;
	}
	if (c->rfd >= 0 && flush_to(c->rfd, &c->to_real) < 0)
		c->real_eof = true;
	if (c->cfd >= 0 && flush_to(c->cfd, &c->to_client) < 0) {
		close_conn(sh, c, false); /* the client is gone */
		return;
	}
	bool judged_all = c->client_eof && !c->in.len && c->st == C_GATHER && !c->to_real.len;
	if (judged_all && c->rfd >= 0 && !c->real_shut) {
		shutdown(c->rfd, SHUT_WR); /* the client's half-close, passed on */
		c->real_shut = true;
	}
	bool real_done = c->real_eof || (c->rfd < 0 && !c->real_pending);
	if (real_done && !c->to_client.len && (judged_all || c->real_eof) && c->st == C_GATHER)
		close_conn(sh, c, false);
}

static void idle_check(struct shield *sh, struct conn *c)
{
	double now = now_ms();
	if (c->st == C_GATHER && c->in.len && !c->req_len && now - c->t_last >= sh->rules->idle_ms) {
		sh->c.refused++; /* half a request, then nothing */
		remember(sh, verdict_json(sh, c, "refused", "an incomplete request stalled for idle_ms"));
		close_conn(sh, c, true);
		return;
	}
	if (c->st != C_GATHER || c->in.len || c->to_client.len || c->to_real.len)
		return;
	double limit = c->requests ? sh->rules->idle_ms : sh->rules->verdict_ms;
	if (now - c->t_last < limit)
		return;
	if (!c->requests) {
		sh->c.no_request++;
		remember(sh, verdict_json(sh, c, "no_request", "nothing to judge within verdict_ms"));
	}
	close_conn(sh, c, false);
}

static int conn_step(struct shield *sh, struct host_loop *l, struct conn *c)
{
	if (c->st == C_GATHER)
		gather(sh, c);
	if (!c->used)
		return 0;
	if (c->st != C_GATHER) {
		if (trial_step(sh, l, c))
			return 1;
		if (!c->used)
			return 0;
		if (c->st == C_GATHER)
			gather(sh, c); /* a pipelined request right behind */
		if (!c->used)
			return 0;
	}
	pump_real(sh, c);
	if (c->used)
		idle_check(sh, c);
	return 0;
}

/* ---- descriptors ---- */

static void accept_on(struct shield *sh, unsigned f)
{
	for (;;) {
		struct conn *c = NULL;
		for (unsigned i = 0; i < SHIELD_MAX_CONNS && !c; i++)
			if (!sh->conns[i].used)
				c = &sh->conns[i];
		if (!c)
			return; /* full: the rest wait in the backlog */
		struct sockaddr_in a;
		socklen_t al = sizeof(a);
		int fd = accept4(sh->fronts[f].lfd, (struct sockaddr *)&a, &al,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		*c = (struct conn){.used = true, .id = ++sh->next_id, .fwd = f, .cfd = fd, .rfd = -1,
				   .t = NO_TRIAL};
		char ip[INET_ADDRSTRLEN] = "?";
		inet_ntop(AF_INET, &a.sin_addr, ip, sizeof(ip));
		snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, ntohs(a.sin_port));
		c->t_accept = c->t_last = now_ms();
		/* Host randomness for the sample: the guest never sees it. */
		c->tried = shield_pick_conn(sh->rules, ip, (double)random() / ((double)RAND_MAX + 1),
					    &c->why_conn);
		sh->c.connections++;
	}
}

static void on_ready(struct shield *sh, struct conn *c, unsigned kind, short rev)
{
	int r;
	switch (kind) {
	case K_CLIENT:
		r = read_into(c->cfd, &c->in, MAX_REQUEST);
		if (r > 0)
			c->t_last = now_ms();
		if (r < 0 || (rev & (POLLHUP | POLLERR) && r == 0))
			c->client_eof = true;
		break;
	case K_REAL:
		if (read_into(c->rfd, &c->to_client, MAX_RELAY) < 0)
			c->real_eof = true;
		break;
	case K_CLONE:
		r = read_into(c->t.sfd, &c->t.reply, MAX_REPLY);
		if (r > 0)
			c->t_reply = now_ms();
		if (r < 0)
			c->t.reply_eof = true;
		break;
	case K_ALERTS:
		if (read_into(c->t.alerts_fd, &c->t.alerts, MAX_ALERTS) < 0)
			c->t.dead = true; /* every writer is gone: the clone died */
		take_idle_marks(&c->t);
		break;
	case K_CONSOLE:
		console_read(&c->t);
		break;
	}
}

static void add_fd(struct shield *sh, struct pollfd *pfd, unsigned *n, int fd, short ev,
		   short conn, unsigned kind)
{
	pfd[*n] = (struct pollfd){.fd = fd, .events = ev};
	sh->pmap[*n] = (struct pmap){.conn = conn, .kind = (unsigned char)kind,
				     .front = (unsigned char)(conn < 0 ? kind : 0)};
	(*n)++;
}

unsigned shield_pollfds(struct shield *sh, struct pollfd *pfd, unsigned max)
{
	unsigned n = 0;
	if (max < SHIELD_MAX_FDS)
		return 0;
	bool room = false;
	for (unsigned i = 0; i < SHIELD_MAX_CONNS; i++)
		room |= !sh->conns[i].used;
	for (unsigned f = 0; room && f < sh->nfronts; f++)
		add_fd(sh, pfd, &n, sh->fronts[f].lfd, POLLIN, -1, f);
	for (unsigned i = 0; i < SHIELD_MAX_CONNS; i++) {
		struct conn *c = &sh->conns[i];
		if (!c->used)
			continue;
		short cev = (short)((!c->client_eof && c->in.len < MAX_REQUEST ? POLLIN : 0) |
				    (c->to_client.len ? POLLOUT : 0));
		if (cev)
			add_fd(sh, pfd, &n, c->cfd, cev, (short)i, K_CLIENT);
		if (c->rfd >= 0)
			add_fd(sh, pfd, &n, c->rfd,
			       (short)((c->real_eof || c->to_client.len >= MAX_RELAY ? 0 : POLLIN) |
				       (c->to_real.len ? POLLOUT : 0)), (short)i, K_REAL);
		if (c->t.sfd >= 0 && !c->t.reply_eof)
			add_fd(sh, pfd, &n, c->t.sfd, (short)(POLLIN | (c->t.out.len ? POLLOUT : 0)),
			       (short)i, K_CLONE);
		if (c->t.alerts_fd >= 0 && !c->t.dead)
			add_fd(sh, pfd, &n, c->t.alerts_fd, POLLIN, (short)i, K_ALERTS);
		if (c->t.console_fd >= 0)
			add_fd(sh, pfd, &n, c->t.console_fd, POLLIN, (short)i, K_CONSOLE);
	}
	for (unsigned i = 0; i < MAX_KEEPERS; i++)
		if (sh->keepers[i].pid)
			add_fd(sh, pfd, &n, sh->keepers[i].fd, POLLIN, (short)i, K_KEEP);
	sh->npmap = n;
	return n;
}

static double conn_next(const struct shield *sh, const struct conn *c)
{
	if (c->st == C_TRIAL)
		return c->t.sfd < 0 || c->t.out.len ? now_ms() + 1 : c->deadline;
	if (c->st == C_SETTLE)
		return c->t_settle;
	if (c->req_len)
		return now_ms() + 5; /* waiting for a clone slot */
	if (c->in.len && !sh->rules->http)
		return c->t_last + RAW_QUIET_MS;
	if (c->in.len)
		return c->t_last + sh->rules->idle_ms;
	if (c->real_pending || c->to_real.len)
		return now_ms() + 1; /* slirp's backlog was full */
	return c->t_last + (c->requests ? sh->rules->idle_ms : sh->rules->verdict_ms);
}

int shield_timeout_ms(const struct shield *sh)
{
	double next = -1, now = now_ms();
	for (unsigned i = 0; i < SHIELD_MAX_CONNS; i++) {
		const struct conn *c = &sh->conns[i];
		if (!c->used)
			continue;
		double t = conn_next(sh, c);
		if (next < 0 || t < next)
			next = t;
	}
	for (unsigned i = 0; i < MAX_KEEPERS; i++)
		if (sh->keepers[i].pid && (next < 0 || sh->keepers[i].deadline < next))
			next = sh->keepers[i].deadline;
	if (next < 0)
		return -1;
	return next <= now ? 0 : (int)(next - now) + 1;
}

int shield_step(struct shield *sh, struct host_loop *l, const struct pollfd *pfd, unsigned n)
{
	for (unsigned i = 0; pfd && i < n && i < sh->npmap; i++) {
		if (!pfd[i].revents)
			continue;
		const struct pmap *p = &sh->pmap[i];
		if (p->conn < 0)
			accept_on(sh, p->front);
		else if (p->kind == K_KEEP)
			keeper_read(sh, &sh->keepers[p->conn]);
		else if (sh->conns[p->conn].used)
			on_ready(sh, &sh->conns[p->conn], p->kind, pfd[i].revents);
	}
	if (pfd)
		sh->npmap = 0;
	for (unsigned i = 0; i < MAX_KEEPERS; i++)
		if (sh->keepers[i].pid)
			keeper_step(sh, &sh->keepers[i], false);
	for (unsigned i = 0; i < SHIELD_MAX_CONNS; i++)
		if (sh->conns[i].used && conn_step(sh, l, &sh->conns[i]))
			return 1;
	return 0;
}

/* ---- control ---- */

static json_t *status_json(const struct shield *sh)
{
	const struct counters *c = &sh->c;
	unsigned open = 0;
	for (unsigned i = 0; i < SHIELD_MAX_CONNS; i++)
		open += sh->conns[i].used;
	json_t *ports = json_array();
	for (unsigned f = 0; f < sh->nfronts; f++)
		json_array_append_new(ports, json_integer(sh->fronts[f].fwd.host_port));
	unsigned long judged = c->clean + c->blocked;
	return json_pack("{s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:i,s:f,s:f}", "ports",
			 ports, "connections", (json_int_t)c->connections, "requests",
			 (json_int_t)c->requests, "tried", (json_int_t)c->tried, "clean",
			 (json_int_t)c->clean, "blocked", (json_int_t)c->blocked, "passed",
			 (json_int_t)c->passed, "timeouts", (json_int_t)c->timeouts, "refused",
			 (json_int_t)c->refused, "no_request", (json_int_t)c->no_request,
			 "clones_forked", (json_int_t)c->clones, "clones_live", sh->live_clones,
			 "open_connections", open, "trial_ms_mean",
			 judged ? sh->trial_ms_sum / (double)judged : 0.0, "trial_ms_max",
			 sh->trial_ms_max);
}

json_t *shield_ctl(struct shield *sh, const char *what, char *err, size_t errlen)
{
	if (!strcmp(what, "status"))
		return status_json(sh);
	if (!strcmp(what, "rules"))
		return shield_rules_json(sh->rules);
	if (!strcmp(what, "verdicts")) {
		json_t *arr = json_array();
		unsigned n = sh->ring_total < VERDICT_RING ? (unsigned)sh->ring_total : VERDICT_RING;
		for (unsigned k = 0; k < n; k++) {
			unsigned i = (sh->ring_next + VERDICT_RING - n + k) % VERDICT_RING;
			json_array_append(arr, sh->ring[i]);
		}
		return json_pack("{s:I,s:o}", "total", (json_int_t)sh->ring_total, "verdicts", arr);
	}
	snprintf(err, errlen, "shield: unknown '%.32s' (status, rules, verdicts)", what);
	return NULL;
}

void shield_close(struct shield *sh)
{
	if (!sh || sh->in_clone || (sh->owner && getpid() != sh->owner))
		return;
	for (unsigned i = 0; i < SHIELD_MAX_CONNS; i++)
		if (sh->conns[i].used)
			close_conn(sh, &sh->conns[i], false);
	for (unsigned i = 0; i < MAX_KEEPERS; i++)
		if (sh->keepers[i].pid)
			keeper_free(sh, &sh->keepers[i]); /* unsaved: keel is going */
	for (unsigned f = 0; f < sh->nfronts; f++) {
		if (sh->fronts[f].lfd >= 0)
			close(sh->fronts[f].lfd);
		unlink(sh->fronts[f].real_sock);
	}
	if (sh->dir[0])
		unlinkat(AT_FDCWD, sh->dir, AT_REMOVEDIR);
	for (unsigned i = 0; i < VERDICT_RING; i++)
		json_decref(sh->ring[i]);
	if (sh->own_alerts)
		fclose(sh->alerts);
	if (sh->verdicts)
		fclose(sh->verdicts);
	ids_policy_free(sh->ids);
	vmi_free(sh->vmi);
	shield_rules_free(sh->rules);
	free(sh);
}
