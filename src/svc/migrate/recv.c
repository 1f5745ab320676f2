/* The receiving side of a migration.  See migrate.h and docs/migrate.md.
 *
 * Each connection gets a fresh machine: a source that fails half-way
 * (a cut link, a forged chunk) leaves nothing behind but a message, and
 * the overlay it was filling is cut back to empty for the next one. */
#include "svc/migrate/migrate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "svc/migrate/base.h"
#include "svc/migrate/stream.h"
#include "vm/machine.h"
#include "vm/snapshot.h"
#include "vm/taps.h"

#define HANDSHAKE_TIMEOUT_MS 5000u

static int listen_tcp(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE},
			*ai;
	int gai = getaddrinfo(*host ? host : NULL, port, &hints, &ai);
	if (gai) {
		snprintf(err, errlen, "--incoming %s:%s: %s", host, port, gai_strerror(gai));
		return -1;
	}
	int fd = -1, why = 0, one = 1;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 4) == 0)
			break;
		why = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		snprintf(err, errlen, "--incoming %s:%s: %s", host, port, strerror(why));
	return fd;
}

/* One source's attempt, from the handshake to the handover. */
struct attempt {
	int fd;
	struct mig_channel ch;
	struct machine *m;
	uint64_t empty_overlay; /* the overlay was this long (its header) before */
	uint8_t *state;
	size_t state_len, state_max;
	struct state_writer ahead; /* sections sent ahead (MIG_AHEAD) */
	bool ahead_loaded; /* into the machine, at the first message after them */
	uint64_t pages;
	unsigned rounds;
	uint64_t *missing; /* post-copy: the pages still on the source (POSTCOPY) */
	struct mig_postcopy *pc;
	char why[600];
};

static int refuse(struct attempt *a, const char *why)
{
	snprintf(a->why, sizeof(a->why), "%s", why);
	chan_send(&a->ch, MIG_ERROR, why, strlen(why), true);
	return -1;
}

/* Take the base the source sends (NEED_BASE was sent): BASE messages,
 * then BASE_END; kept only if it hashes to the VM's base. */
static int take_base(struct attempt *a, const char *path, const struct mig_conf *c)
{
	char why[512];
	struct mig_base_recv *b = mig_base_recv_start(path, why, sizeof(why));
	if (!b)
		return refuse(a, why);
	int rc = 1;
	while (rc > 0) {
		uint8_t type;
		const uint8_t *body;
		size_t len;
		if (chan_recv(&a->ch, &type, &body, &len) < 0) {
			rc = -1;
		} else if (type == MIG_BASE) {
			if (mig_base_recv_chunk(b, body, len, why, sizeof(why)))
				rc = refuse(a, why);
		} else if (type == MIG_BASE_END) {
			rc = mig_base_recv_finish(b, body, len, c->disk.base_hash, why, sizeof(why))
				     ? refuse(a, why)
				     : 0;
		} else if (type == MIG_ERROR) {
			snprintf(a->why, sizeof(a->why), "the source gave up: %.*s",
				 (int)(len < 400 ? len : 400), (const char *)body);
			rc = -1;
		} else {
			snprintf(why, sizeof(why), "unexpected %s while the base moves",
				 mig_msg_name(type));
			rc = refuse(a, why);
		}
	}
	mig_base_recv_free(b);
	return rc;
}

/* An overlay whose base this keel was given does not exist yet: ask the
 * source for it.  (Any other problem with the disk is machine_init's to
 * report.) */
static int fetch_base(struct attempt *a, const struct machine_config *cfg,
		      const struct mig_conf *c)
{
	char base[4096];
	struct stat st;
	if (c->disk.kind != DISK_OVERLAY || mig_base_spec_path(cfg->disk, base, sizeof(base)) ||
	    stat(base, &st) == 0 || errno != ENOENT)
		return 0;
	fprintf(stderr, "keel run: %s does not exist: the source sends the VM's base image\n",
		base);
	if (chan_send(&a->ch, MIG_NEED_BASE, NULL, 0, false) || take_base(a, base, c))
		return -1;
	fprintf(stderr, "keel run: %s arrived and hashes to the VM's base\n", base);
	return 0;
}

static int build_machine(struct attempt *a, const struct machine_config *cfg,
			 const uint8_t *body, size_t len)
{
	struct mig_conf conf;
	char why[512];
	if (mig_conf_decode(body, len, &conf, why, sizeof(why)))
		return refuse(a, why);
	if (fetch_base(a, cfg, &conf))
		return -1;
	a->m = calloc(1, sizeof(*a->m));
	if (!a->m || machine_init(a->m, cfg, why, sizeof(why))) {
		if (!a->m)
			snprintf(why, sizeof(why), "out of memory");
		free(a->m); /* machine_init frees what it made when it fails */
		a->m = NULL;
		return refuse(a, why);
	}
	struct disk_identity id;
	taps_disk_identity(a->m, &id);
	a->empty_overlay = id.kind == DISK_OVERLAY && id.overlay_len == OVERLAY_HEADER_BYTES
				   ? OVERLAY_HEADER_BYTES
				   : 0;
	if (mig_conf_check(&conf, a->m, why, sizeof(why)))
		return refuse(a, why);
	a->state_max = (size_t)conf.ram_size + SNAPSHOT_MAX_OVERHEAD;
	return chan_send(&a->ch, MIG_ACCEPT, NULL, 0, false) ? -1 : 0;
}

static int add_state(struct attempt *a, const uint8_t *p, size_t len)
{
	if (len > a->state_max - a->state_len)
		return refuse(a, "the device state is larger than any snapshot of this machine");
	uint8_t *grown = realloc(a->state, a->state_len + len);
	if (!grown)
		return refuse(a, "out of memory");
	memcpy(grown + a->state_len, p, len);
	a->state = grown;
	a->state_len += len;
	return 0;
}

/* The sections sent ahead (the boot image: megabytes) go into the
 * machine as soon as they are all here, so that loading the state at the
 * stop, inside the downtime, has only the small sections left.  A later
 * copy in the state at the stop wins. */
static int load_ahead(struct attempt *a)
{
	char why[512];
	if (a->ahead.oom)
		return refuse(a, "out of memory for the sections sent ahead");
	if (snapshot_load_boot(a->m, a->ahead.buf, a->ahead.len, why, sizeof(why)))
		return refuse(a, why);
	a->ahead_loaded = true;
	sw_free(&a->ahead);
	sw_init(&a->ahead);
	return 0;
}

/* Pages, records and state until END; then load the state. */
static int take_stream(struct attempt *a)
{
	char why[512];
	for (;;) {
		uint8_t type;
		const uint8_t *body;
		size_t len;
		uint64_t end;
		long n;
		if (chan_recv(&a->ch, &type, &body, &len) < 0)
			return -1;
		if (type != MIG_AHEAD && a->ahead.len && !a->ahead_loaded && load_ahead(a))
			return -1;
		switch (type) {
		case MIG_RAM:
			if ((n = mig_ram_apply(a->m, body, len, why, sizeof(why))) < 0)
				return refuse(a, why);
			a->pages += (uint64_t)n;
			break;
		case MIG_DISK:
			if (mig_disk_apply(a->m, body, len, &end, why, sizeof(why)))
				return refuse(a, why);
			break;
		case MIG_ROUND: a->rounds++; break;
		case MIG_SYNC:
			mig_trace("destination", "sync-received");
			if (chan_send(&a->ch, MIG_SYNCED, NULL, 0, false))
				return -1;
			break;
		case MIG_POSTCOPY: {
			struct memview mv;
			taps_memview(a->m, &mv);
			if (a->missing)
				return refuse(a, "a second POSTCOPY message");
			if (mig_bitmap_decode(body, len, mv.size / MIG_PAGE, &a->missing, why,
					      sizeof(why)))
				return refuse(a, why);
			break;
		}
		case MIG_STATE:
			if (add_state(a, body, len))
				return -1;
			break;
		case MIG_AHEAD:
			if (a->ahead_loaded)
				return refuse(a, "sections sent ahead after the pages began");
			if (len > a->state_max - a->ahead.len)
				return refuse(a, "the sections sent ahead are too large");
			sw_put_bytes(&a->ahead, body, len);
			break;
		case MIG_END:
			mig_trace("destination", "end-received");
			if (snapshot_load_without_ram(a->m, a->state, a->state_len, !a->ahead_loaded,
						      why, sizeof(why)))
				return refuse(a, why);
			mig_trace("destination", "state-loaded");
			return chan_send(&a->ch, MIG_READY, NULL, 0, false);
		case MIG_ERROR:
			snprintf(a->why, sizeof(a->why), "the source gave up: %.*s",
				 (int)(len < 400 ? len : 400), (const char *)body);
			return -1;
		default:
			snprintf(why, sizeof(why), "unexpected %s message", mig_msg_name(type));
			return refuse(a, why);
		}
	}
}

static int run_attempt(struct attempt *a, const uint8_t *key, const struct machine_config *cfg,
		       unsigned timeout_ms)
{
	uint8_t type;
	const uint8_t *body;
	size_t len;
	/* Whoever connects gets little time to prove the key: a stranger that
	 * says nothing must not hold the only seat for long. */
	chan_set_timeout(a->fd, timeout_ms < HANDSHAKE_TIMEOUT_MS ? timeout_ms : HANDSHAKE_TIMEOUT_MS);
	if (chan_handshake(&a->ch, a->fd, key, false))
		return -1;
	chan_set_timeout(a->fd, timeout_ms);
	if (chan_recv(&a->ch, &type, &body, &len) < 0)
		return -1;
	if (type != MIG_CONF)
		return refuse(a, "the stream does not start with CONF");
	if (build_machine(a, cfg, body, len) || take_stream(a))
		return -1;
	/* Until GO the source still owns the VM: nothing here has run. */
	if (chan_recv(&a->ch, &type, &body, &len) < 0)
		return -1;
	if (type != MIG_GO)
		return refuse(a, "expected GO");
	mig_trace("destination", "go-received");
	if (a->missing) {
		/* Post-copy: the connection stays, for the pages still missing. */
		char why[512];
		if (chan_send(&a->ch, MIG_RUNNING, NULL, 0, false))
			return -1;
		a->pc = mig_postcopy_start(a->m, a->fd, &a->ch, a->missing, why, sizeof(why));
		if (!a->pc)
			return refuse(a, why);
		a->fd = -1;
		return 0;
	}
	if (chan_send(&a->ch, MIG_RUNNING, NULL, 0, true))
		fprintf(stderr, "keel run: the source did not hear that the VM runs here (%s); it "
				"stays paused there\n",
			a->ch.err);
	return 0;
}

/* A failed attempt leaves no trace: its machine goes, and the overlay
 * it was filling is cut back to the empty one it was. */
static void discard(struct attempt *a)
{
	if (a->m) {
		struct disk_identity id;
		taps_disk_identity(a->m, &id);
		machine_free(a->m);
		free(a->m);
		if (a->empty_overlay && truncate(id.path, (off_t)a->empty_overlay) != 0)
			fprintf(stderr, "keel run: %s: cannot cut back to empty: %s\n", id.path,
				strerror(errno));
	}
	a->m = NULL;
}

static void peer_name(int fd, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		snprintf(out, len, "%s:%s", host, serv);
	else
		snprintf(out, len, "a peer");
}

int mig_receive_conn(int fd, const uint8_t key[MIG_KEY_BYTES], const struct machine_config *cfg,
		     unsigned timeout_ms, struct machine **out, struct mig_postcopy **pc_out,
		     char *what, size_t whatlen)
{
	struct attempt a = {.fd = fd};
	sw_init(&a.ahead);
	int rc = run_attempt(&a, key, cfg, timeout_ms);
	if (rc == 0) {
		if (a.pc)
			snprintf(what, whatlen, "%llu pages in %u rounds; post-copy: runs with %llu "
						"pages still to come",
				 (unsigned long long)a.pages, a.rounds,
				 (unsigned long long)taps_postcopy_left(a.m));
		else
			snprintf(what, whatlen, "%llu pages in %u rounds, %.1f MB on the wire",
				 (unsigned long long)a.pages, a.rounds,
				 (double)(a.ch.bytes_in + a.ch.bytes_out) / 1e6);
		*out = a.m;
		*pc_out = a.pc;
	} else {
		snprintf(what, whatlen, "%s", a.why[0] ? a.why : a.ch.err);
		discard(&a);
	}
	chan_free(&a.ch);
	free(a.state);
	free(a.missing);
	sw_free(&a.ahead);
	if (a.fd >= 0)
		close(a.fd);
	return rc;
}

int mig_receive(const char *uri, const uint8_t key[MIG_KEY_BYTES],
		const struct machine_config *cfg, unsigned timeout_ms, struct machine **out,
		struct mig_postcopy **pc_out, char *err, size_t errlen)
{
	char host[256], port[16];
	if (mig_parse_uri(uri, host, sizeof(host), port, sizeof(port), err, errlen))
		return -1;
	int lfd = listen_tcp(host, port, err, errlen);
	if (lfd < 0)
		return -1;
	fprintf(stderr, "keel run: waiting for a migration on %s\n", uri);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			snprintf(err, errlen, "--incoming %s: accept: %s", uri, strerror(errno));
			close(lfd);
			return -1;
		}
		char peer[NI_MAXHOST + NI_MAXSERV + 2], what[700];
		peer_name(fd, peer, sizeof(peer));
		if (mig_receive_conn(fd, key, cfg, timeout_ms, out, pc_out, what, sizeof(what)) == 0) {
			fprintf(stderr, "keel run: migrated in from %s: %s\n", peer, what);
			close(lfd);
			return 0;
		}
		fprintf(stderr, "keel run: migration from %s refused: %s; waiting for another\n", peer,
			what);
	}
}
