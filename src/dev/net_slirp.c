/* libslirp backend.  See net_slirp.h. */
#include "dev/net_slirp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/un.h>

#include <slirp/libslirp.h>

/* A slirp timer.  libslirp creates them either with a callback
 * (timer_new) or with an id it wants back through slirp_handle_timer()
 * (timer_new_opaque, config version 4); we support both. */
struct net_slirp_timer {
	struct net_slirp_timer *next;
	SlirpTimerCb cb; /* NULL: an id timer */
	SlirpTimerId id;
	void *cb_opaque;
	uint64_t expire_ns; /* UINT64_MAX: disarmed */
};

/* ---- option parsing ---------------------------------------------------- */

static int parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned v = 0;
	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* "[IP]:PORT" of length n; an empty IP takes `dflt`. */
static int parse_endpoint(const char *s, size_t n, const char *dflt, struct in_addr *addr,
			  uint16_t *port)
{
	const char *colon = memchr(s, ':', n);
	char ip[INET_ADDRSTRLEN];
	if (!colon)
		return -1;
	size_t iplen = (size_t)(colon - s);
	if (iplen >= sizeof(ip))
		return -1;
	memcpy(ip, s, iplen);
	ip[iplen] = '\0';
	if (inet_pton(AF_INET, iplen ? ip : dflt, addr) != 1)
		return -1;
	return parse_port(colon + 1, n - iplen - 1, port);
}

/* unix:PATH-[GUESTIP]:GUESTPORT; PATH is absolute and has no '-' or ','. */
static int parse_unix_hostfwd(const char *v, size_t n, struct net_hostfwd *f)
{
	const char *path = v + 5, *end = v + n;
	const char *dash = memchr(path, '-', (size_t)(end - path));
	size_t plen = dash ? (size_t)(dash - path) : 0;
	if (!dash || plen < 2 || path[0] != '/' || plen >= sizeof(f->unix_path))
		return -1;
	memcpy(f->unix_path, path, plen);
	f->unix_path[plen] = '\0';
	inet_pton(AF_INET, "127.0.0.1", &f->host_addr);
	return parse_endpoint(dash + 1, (size_t)(end - dash - 1), "10.0.2.15", &f->guest_addr,
			      &f->guest_port);
}

static int parse_hostfwd(const char *v, size_t n, struct net_hostfwd *f)
{
	const char *colon = memchr(v, ':', n);
	if (!colon)
		return -1;
	size_t plen = (size_t)(colon - v);
	if (plen == 4 && strncmp(v, "unix", 4) == 0)
		return parse_unix_hostfwd(v, n, f);
	if (plen == 3 && strncmp(v, "udp", 3) == 0)
		f->udp = true;
	else if (plen == 0 || (plen == 3 && strncmp(v, "tcp", 3) == 0))
		f->udp = false;
	else
		return -1;
	const char *host = colon + 1, *end = v + n;
	const char *dash = memchr(host, '-', (size_t)(end - host));
	if (!dash)
		return -1;
	if (parse_endpoint(host, (size_t)(dash - host), "127.0.0.1", &f->host_addr,
			   &f->host_port) < 0)
		return -1;
	return parse_endpoint(dash + 1, (size_t)(end - dash - 1), "10.0.2.15", &f->guest_addr,
			      &f->guest_port);
}

static int parse_option(const char *opt, size_t n, struct net_user_opts *o, char *err,
			size_t errlen)
{
	const char *eq = memchr(opt, '=', n);
	size_t klen = eq ? (size_t)(eq - opt) : n;
	const char *v = eq ? eq + 1 : opt + n;
	size_t vlen = eq ? n - klen - 1 : 0;

	if (klen == 7 && strncmp(opt, "hostfwd", 7) == 0) {
		if (o->nfwd == NET_USER_MAX_HOSTFWD) {
			snprintf(err, errlen, "--net: more than %d hostfwd options", NET_USER_MAX_HOSTFWD);
			return -1;
		}
		if (parse_hostfwd(v, vlen, &o->fwd[o->nfwd]) < 0) {
			snprintf(err, errlen,
				 "--net: bad hostfwd '%.*s' (want [tcp|udp]:[HOSTIP]:HOSTPORT-[GUESTIP]:GUESTPORT "
				 "or unix:/PATH-[GUESTIP]:GUESTPORT, ports 1-65535)",
				 (int)vlen, v);
			return -1;
		}
		o->nfwd++;
		return 0;
	}
	if (klen == 4 && strncmp(opt, "ipv6", 4) == 0) {
		if (vlen == 2 && strncmp(v, "on", 2) == 0)
			o->ipv6 = true;
		else if (vlen == 3 && strncmp(v, "off", 3) == 0)
			o->ipv6 = false;
		else {
			snprintf(err, errlen, "--net: ipv6 must be 'on' or 'off', got '%.*s'", (int)vlen, v);
			return -1;
		}
		return 0;
	}
	if (klen == 3 && strncmp(opt, "mac", 3) == 0) {
		char mac[18];
		if (vlen != 17 || (memcpy(mac, v, 17), mac[17] = '\0', virtio_net_parse_mac(mac, o->mac) < 0)) {
			snprintf(err, errlen, "--net: bad mac '%.*s' (want xx:xx:xx:xx:xx:xx)", (int)vlen, v);
			return -1;
		}
		o->have_mac = true;
		return 0;
	}
	snprintf(err, errlen, "--net: unknown option '%.*s' (known: hostfwd, ipv6, mac)", (int)klen, opt);
	return -1;
}

int net_user_parse(const char *spec, struct net_user_opts *o, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->ipv6 = true;
	size_t n = strcspn(spec, ",");
	if (n != 4 || strncmp(spec, "user", 4) != 0) {
		snprintf(err, errlen, "--net: only 'user' networking is supported, got '%.*s'", (int)n, spec);
		return -1;
	}
	for (const char *p = spec + n; *p == ',';) {
		p++;
		n = strcspn(p, ",");
		if (n == 0) {
			snprintf(err, errlen, "--net: empty option in '%s'", spec);
			return -1;
		}
		if (parse_option(p, n, o, err, errlen) < 0)
			return -1;
		p += n;
	}
	return 0;
}

/* ---- slirp callbacks --------------------------------------------------- */

static void fifo_push(struct net_slirp *s, const void *buf, size_t len)
{
	if (s->fifo_count == NET_SLIRP_FIFO_FRAMES || len == 0 || len > VIRTIO_NET_MAX_FRAME) {
		s->frames_dropped++;
		return;
	}
	uint8_t *copy = malloc(len);
	if (!copy) {
		s->frames_dropped++;
		return;
	}
	memcpy(copy, buf, len);
	struct net_slirp_frame *f = &s->fifo[(s->fifo_head + s->fifo_count) % NET_SLIRP_FIFO_FRAMES];
	f->data = copy;
	f->len = len;
	s->fifo_count++;
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	fifo_push(opaque, buf, len);
	return (ssize_t)len; /* a drop is not an I/O error to slirp */
}

static void cb_guest_error(const char *msg, void *opaque)
{
	/* The guest can trigger these at will; count, do not print. */
	((struct net_slirp *)opaque)->guest_errors++;
}

static int64_t cb_clock_get_ns(void *opaque)
{
	struct net_slirp *s = opaque;
	return (int64_t)s->now_ns(s->clock_opaque);
}

static struct net_slirp_timer *timer_add(struct net_slirp *s)
{
	struct net_slirp_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL; /* slirp does not check; it will crash on its own NULL */
	t->expire_ns = UINT64_MAX;
	t->next = s->timers;
	s->timers = t;
	return t;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct net_slirp_timer *t = timer_add(opaque);
	if (t) {
		t->cb = cb;
		t->cb_opaque = cb_opaque;
	}
	return t;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct net_slirp_timer *t = timer_add(opaque);
	if (t) {
		t->id = id;
		t->cb_opaque = cb_opaque;
	}
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct net_slirp *s = opaque;
	for (struct net_slirp_timer **pp = &s->timers; *pp; pp = &(*pp)->next) {
		if (*pp == timer) {
			*pp = (*pp)->next;
			free(timer);
			return;
		}
	}
}

/* `expire_ms` is on slirp's clock, i.e. virtual milliseconds. */
static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct net_slirp_timer *t = timer;
	t->expire_ns = expire_ms <= 0 ? 0 : (uint64_t)expire_ms * 1000000ULL;
}

/* We rebuild the poll set every round, so there is nothing to track. */
static void cb_register_poll_fd(int fd, void *opaque)
{
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
}

static void cb_notify(void *opaque)
{
}

static const SlirpCb slirp_callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_new = cb_timer_new,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
	.timer_new_opaque = cb_timer_new_opaque,
};

/* ---- setup ------------------------------------------------------------- */

static void ip4(struct in_addr *a, const char *s)
{
	inet_pton(AF_INET, s, a);
}

static void ip6(struct in6_addr *a, const char *s)
{
	inet_pton(AF_INET6, s, a);
}

/* A forward from a UNIX socket (libslirp 4.7's hostxfwd), to TCP in the
 * guest.  An existing file at the path is an error (never removed here);
 * the caller picks a path in a directory only keel's user can reach. */
static int add_unix_forward(struct net_slirp *s, const struct net_hostfwd *f, char *err,
			    size_t errlen)
{
	struct sockaddr_un h = {.sun_family = AF_UNIX};
	struct sockaddr_in g = {.sin_family = AF_INET, .sin_addr = f->guest_addr,
				.sin_port = htons(f->guest_port)};
	snprintf(h.sun_path, sizeof(h.sun_path), "%s", f->unix_path);
	errno = 0;
	if (slirp_add_hostxfwd(s->slirp, (struct sockaddr *)&h, sizeof(h), (struct sockaddr *)&g,
			       sizeof(g), 0) < 0) {
		snprintf(err, errlen, "--net: hostfwd unix:%s: cannot listen (%s)", f->unix_path,
			 errno ? strerror(errno) : "unknown error");
		return -1;
	}
	return 0;
}

static int add_forwards(struct net_slirp *s, const struct net_user_opts *o, char *err,
			size_t errlen)
{
	for (unsigned i = 0; i < o->nfwd; i++) {
		const struct net_hostfwd *f = &o->fwd[i];
		if (f->unix_path[0]) {
			if (add_unix_forward(s, f, err, errlen))
				return -1;
			continue;
		}
		errno = 0;
		if (slirp_add_hostfwd(s->slirp, f->udp, f->host_addr, f->host_port, f->guest_addr,
				      f->guest_port) < 0) {
			char host[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &f->host_addr, host, sizeof(host));
			snprintf(err, errlen, "--net: hostfwd %s:%s:%u: cannot listen (%s)",
				 f->udp ? "udp" : "tcp", host, f->host_port,
				 errno ? strerror(errno) : "port in use?");
			return -1;
		}
	}
	return 0;
}

int net_slirp_init(struct net_slirp *s, const struct net_user_opts *o,
		   uint64_t (*now_ns)(void *opaque), void *clock_opaque, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->now_ns = now_ns;
	s->clock_opaque = clock_opaque;

	SlirpConfig cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = 4;
	cfg.in_enabled = true;
	ip4(&cfg.vnetwork, "10.0.2.0");
	ip4(&cfg.vnetmask, "255.255.255.0");
	ip4(&cfg.vhost, "10.0.2.2");
	ip4(&cfg.vdhcp_start, "10.0.2.15");
	ip4(&cfg.vnameserver, "10.0.2.3");
	cfg.in6_enabled = o->ipv6;
	ip6(&cfg.vprefix_addr6, "fec0::");
	cfg.vprefix_len = 64;
	ip6(&cfg.vhost6, "fec0::2");
	ip6(&cfg.vnameserver6, "fec0::3");

	s->slirp = slirp_new(&cfg, &slirp_callbacks, s);
	if (!s->slirp) {
		snprintf(err, errlen, "--net: libslirp failed to start");
		net_slirp_free(s);
		return -1;
	}
	if (add_forwards(s, o, err, errlen) < 0) {
		net_slirp_free(s);
		return -1;
	}
	return 0;
}

void net_slirp_free(struct net_slirp *s)
{
	if (s->slirp)
		slirp_cleanup(s->slirp); /* frees its timers through cb_timer_free */
	s->slirp = NULL;
	while (s->timers)
		cb_timer_free(s->timers, s);
	while (s->fifo_count)
		net_slirp_pop(s);
	free(s->pfd);
	s->pfd = NULL;
	s->npfd = s->pfd_cap = 0;
}

void net_slirp_abandon(struct net_slirp *s)
{
	s->slirp = NULL; /* never called again */
	net_slirp_free(s);
}

/* ---- transmit ---------------------------------------------------------- */

static int backend_send(void *opaque, const uint8_t *frame, size_t len)
{
	struct net_slirp *s = opaque;
	if (len > VIRTIO_NET_MAX_FRAME)
		return -1;
	slirp_input(s->slirp, frame, (int)len);
	return 0;
}

struct net_backend net_slirp_backend(struct net_slirp *s)
{
	return (struct net_backend){ .send = backend_send, .opaque = s };
}

/* ---- polling ----------------------------------------------------------- */

static int cb_get_revents(int idx, void *opaque)
{
	const struct net_slirp *s = opaque;
	if (idx < 0 || (unsigned)idx >= s->npfd)
		return 0;
	short r = s->pfd[idx].revents;
	return ((r & POLLIN) ? SLIRP_POLL_IN : 0) | ((r & POLLOUT) ? SLIRP_POLL_OUT : 0) |
	       ((r & POLLPRI) ? SLIRP_POLL_PRI : 0) | ((r & POLLERR) ? SLIRP_POLL_ERR : 0) |
	       ((r & POLLHUP) ? SLIRP_POLL_HUP : 0);
}

static int append_pollfd(struct net_slirp *s, int fd, short events)
{
	if (s->npfd == s->pfd_cap) {
		unsigned cap = s->pfd_cap ? 2 * s->pfd_cap : 16;
		struct pollfd *p = realloc(s->pfd, cap * sizeof(*p));
		if (!p)
			return -1;
		s->pfd = p;
		s->pfd_cap = cap;
	}
	s->pfd[s->npfd] = (struct pollfd){ .fd = fd, .events = events };
	return (int)s->npfd++;
}

static int cb_add_poll(int fd, int events, void *opaque)
{
	short ev = (short)(((events & SLIRP_POLL_IN) ? POLLIN : 0) |
			   ((events & SLIRP_POLL_OUT) ? POLLOUT : 0) |
			   ((events & SLIRP_POLL_PRI) ? POLLPRI : 0));
	/* On allocation failure slirp gets -1 and sees no events for the fd. */
	return append_pollfd(opaque, fd, ev);
}

int net_slirp_poll_with(struct net_slirp *s, struct pollfd *extra, unsigned nextra, int timeout_ms)
{
	uint32_t timeout = timeout_ms < 0 ? UINT32_MAX : (uint32_t)timeout_ms;
	s->npfd = 0;
	slirp_pollfds_fill(s->slirp, &timeout, cb_add_poll, s);
	unsigned nslirp = s->npfd;
	for (unsigned i = 0; i < nextra; i++) {
		extra[i].revents = 0;
		if (append_pollfd(s, extra[i].fd, extra[i].events) < 0)
			return -1;
	}
	int wait = timeout > INT32_MAX ? -1 : (int)timeout;
	int n = 0;
	if (s->npfd > 0 || wait != 0)
		n = poll(s->pfd, s->npfd, wait);
	for (unsigned i = 0; i < nextra && n > 0; i++)
		extra[i].revents = s->pfd[nslirp + i].revents;
	s->npfd = nslirp; /* slirp only sees its own */
	slirp_pollfds_poll(s->slirp, n < 0, cb_get_revents, s);
	return n;
}

int net_slirp_poll(struct net_slirp *s, int timeout_ms)
{
	return net_slirp_poll_with(s, NULL, 0, timeout_ms);
}

/* ---- timers ------------------------------------------------------------ */

uint64_t net_slirp_next_deadline(const struct net_slirp *s)
{
	uint64_t next = UINT64_MAX;
	for (const struct net_slirp_timer *t = s->timers; t; t = t->next)
		if (t->expire_ns < next)
			next = t->expire_ns;
	return next;
}

void net_slirp_timers_run(struct net_slirp *s, uint64_t now_ns)
{
	/* A callback may re-arm or free timers, so rescan after each one. */
	for (;;) {
		struct net_slirp_timer *due = NULL;
		for (struct net_slirp_timer *t = s->timers; t; t = t->next)
			if (t->expire_ns <= now_ns && (!due || t->expire_ns < due->expire_ns))
				due = t;
		if (!due)
			return;
		due->expire_ns = UINT64_MAX;
		if (due->cb)
			due->cb(due->cb_opaque);
		else
			slirp_handle_timer(s->slirp, due->id, due->cb_opaque);
	}
}

/* ---- receive ----------------------------------------------------------- */

bool net_slirp_peek(const struct net_slirp *s, const uint8_t **frame, size_t *len)
{
	if (s->fifo_count == 0)
		return false;
	const struct net_slirp_frame *f = &s->fifo[s->fifo_head];
	*frame = f->data;
	*len = f->len;
	return true;
}

void net_slirp_pop(struct net_slirp *s)
{
	if (s->fifo_count == 0)
		return;
	free(s->fifo[s->fifo_head].data);
	s->fifo[s->fifo_head].data = NULL;
	s->fifo_head = (s->fifo_head + 1) % NET_SLIRP_FIFO_FRAMES;
	s->fifo_count--;
}

unsigned net_slirp_deliver(struct net_slirp *s, struct virtio_net *dev,
			   const struct input_note *note)
{
	const uint8_t *frame;
	size_t len;
	unsigned taken = 0;
	while (net_slirp_peek(s, &frame, &len) && virtio_net_can_receive(dev)) {
		if (virtio_net_receive(dev, frame, len) < 0)
			break;
		if (note)
			note->taken(note->opaque, frame, len);
		net_slirp_pop(s);
		taken++;
	}
	return taken;
}
