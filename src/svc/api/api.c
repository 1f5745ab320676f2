/* See api.h and docs/api.md.
 *
 * Every socket is non-blocking.  A client's bytes collect in its input
 * buffer until a newline completes a request; replies that the socket does
 * not take at once wait in its output buffer and go out on later polls.
 * Nothing a client sends (or fails to send) can stall the VM or crash it:
 * the worst outcome is an error reply and a closed connection. */
#include "svc/api/api.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "svc/migrate/migrate.h"
#include "svc/vmi/vmi.h"
#include "vm/machine.h"
#include "vm/sealed_snapshot.h"
#include "vm/snapshot.h"
#include "vm/state_digest.h"
#include "vm/taps.h"

static void client_reset(struct api_client *c)
{
	c->fd = -1;
	c->in = NULL;
	c->in_len = 0;
	c->out = NULL;
	c->out_len = 0;
}

static void client_drop(struct api_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->in) /* a half-sent request may hold a suspend passphrase */
		sodium_memzero(c->in, c->in_len);
	free(c->in);
	free(c->out);
	client_reset(c);
}

static int fill_addr(struct sockaddr_un *addr, const char *path, char *err, size_t errlen)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (!*path || strlen(path) >= sizeof(addr->sun_path)) {
		snprintf(err, errlen, "%s: socket path empty or longer than %zu bytes", path,
			 sizeof(addr->sun_path) - 1);
		return -1;
	}
	strcpy(addr->sun_path, path);
	return 0;
}

/* An existing file at `path`: remove it if it is a socket nobody accepts
 * on (left by a keel that died); refuse anything else. */
static int clear_stale(const struct sockaddr_un *addr, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(addr->sun_path, &st) != 0)
		return 0; /* nothing there */
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket", addr->sun_path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", addr->sun_path, strerror(errno));
		return -1;
	}
	int rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	int why = errno;
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "%s: another server is listening there", addr->sun_path);
		return -1;
	}
	if (why != ECONNREFUSED) {
		snprintf(err, errlen, "%s: cannot tell whether it is in use: %s", addr->sun_path,
			 strerror(why));
		return -1;
	}
	if (unlink(addr->sun_path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "%s: removing the stale socket: %s", addr->sun_path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* The socket's directory must be the user's alone: in a directory others
 * can write, one of them could replace the socket file by their own and
 * collect what clients send (passphrases, for "suspend"). */
static int check_private_dir(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	struct stat st;
	if (stat(dir, &st) != 0) {
		snprintf(err, errlen, "%s: directory %s: %s", path, dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(err, errlen,
			 "%s: the directory %s is not private (owner uid %u, mode %04o): put the "
			 "socket in a directory only you can write, such as $XDG_RUNTIME_DIR",
			 path, dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* Bind with mode 0600 from the start: no moment when others may connect. */
static int bind_private(int fd, const struct sockaddr_un *addr)
{
	mode_t old = umask(0177);
	int rc = bind(fd, (const struct sockaddr *)addr, sizeof(*addr));
	umask(old);
	return rc;
}

int api_server_open(struct api_server *s, const char *path, uid_t peer_uid, char *err,
		    size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->listen_fd = -1;
	s->clone_client = -1;
	s->migrate_client = -1;
	s->peer_uid = peer_uid;
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		client_reset(&s->clients[i]);
	struct sockaddr_un addr;
	if (fill_addr(&addr, path, err, errlen) || check_private_dir(path, err, errlen) ||
	    clear_stale(&addr, err, errlen))
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", path, strerror(errno));
		return -1;
	}
	if (bind_private(fd, &addr) != 0 || listen(fd, 8) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	s->listen_fd = fd;
	strcpy(s->path, path);
	return 0;
}

/* Write what the socket takes now.  Returns -1 if the client is gone. */
static int client_flush(struct api_client *c)
{
	size_t done = 0;
	while (done < c->out_len) {
		ssize_t n = send(c->fd, c->out + done, c->out_len - done,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	if (done) { /* c->out may be NULL when nothing was queued */
		memmove(c->out, c->out + done, c->out_len - done);
		c->out_len -= done;
	}
	return 0;
}

/* Forget a migration: an unfinished one is abandoned (its destination
 * sees the stream cut and discards what it got). */
static void drop_migration(struct api_server *s)
{
	mig_source_free(s->migration);
	s->migration = NULL;
	json_decref(s->migrate_id);
	s->migrate_id = NULL;
	s->migrate_client = -1;
	s->migrate_new = false;
}

void api_server_close(struct api_server *s)
{
	for (int i = 0; i < API_MAX_CLIENTS; i++) {
		struct api_client *c = &s->clients[i];
		if (c->fd >= 0)
			client_flush(c); /* e.g. the reply to "quit" */
		client_drop(c);
	}
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->path);
	}
	s->listen_fd = -1;
	json_decref(s->clone_id);
	s->clone_id = NULL;
	s->clone_client = -1;
	vmi_free(s->vmi);
	s->vmi = NULL;
	drop_migration(s);
}

void api_server_abandon(struct api_server *s)
{
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		client_drop(&s->clients[i]); /* the parent answers them */
	if (s->listen_fd >= 0)
		close(s->listen_fd); /* the file is the parent's: keep it */
	s->listen_fd = -1;
	json_decref(s->clone_id);
	s->clone_id = NULL;
	s->clone_client = -1;
	vmi_free(s->vmi);
	s->vmi = NULL;
	drop_migration(s); /* the parent's, if one is under way: the clone drops its copy */
}

int api_server_fds(struct api_server *s, struct pollfd *out, int max)
{
	int n = 0;
	if (s->listen_fd < 0 || max < 1)
		return 0;
	out[n++] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
	for (int i = 0; i < API_MAX_CLIENTS && n < max; i++) {
		const struct api_client *c = &s->clients[i];
		if (c->fd < 0)
			continue;
		short ev = POLLIN;
		if (c->out_len)
			ev |= POLLOUT;
		out[n++] = (struct pollfd){.fd = c->fd, .events = ev};
	}
	if (s->migration && n < max)
		out[n++] = (struct pollfd){.fd = mig_source_fd(s->migration),
					   .events = mig_source_events(s->migration)};
	return n;
}

int api_server_timeout_ms(const struct api_server *s)
{
	return s->migration ? mig_source_timeout_ms(s->migration) : -1;
}

/* Queue `reply` (consumed) as one line.  Returns -1 if the client must be
 * dropped (out of memory, or it lets replies pile up). */
static int client_queue(struct api_client *c, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	if (!text)
		return -1;
	size_t len = strlen(text);
	if (c->out_len + len + 1 > API_MAX_PENDING_OUT) {
		free(text);
		return -1;
	}
	char *grown = realloc(c->out, c->out_len + len + 1);
	if (!grown) {
		free(text);
		return -1;
	}
	memcpy(grown + c->out_len, text, len);
	grown[c->out_len + len] = '\n';
	c->out = grown;
	c->out_len += len + 1;
	free(text);
	return client_flush(c);
}

static json_t *reply_error(json_t *id, const char *message)
{
	return json_pack("{s:O?,s:b,s:s}", "id", id, "ok", 0, "error", message);
}

static json_t *reply_ok(json_t *id)
{
	return json_pack("{s:O?,s:b}", "id", id, "ok", 1);
}

/* A request arguments other than id and cmd: only the ones `cmd` takes. */
static const char *check_args(json_t *req, const char *const *allowed, char *err, size_t errlen)
{
	const char *key;
	json_t *value;
	json_object_foreach(req, key, value) {
		if (!strcmp(key, "id") || !strcmp(key, "cmd"))
			continue;
		bool known = false;
		for (const char *const *a = allowed; *a; a++)
			known |= !strcmp(key, *a);
		if (!known) {
			snprintf(err, errlen, "unknown argument '%s'", key);
			return err;
		}
	}
	return NULL;
}

static json_t *do_status(json_t *id, struct machine *m, const struct api_actions *a)
{
	char hex[STATE_DIGEST_HEX];
	if (state_digest_hex(m, hex))
		return reply_error(id, "state digest: out of memory");
	uint64_t mtime = taps_mtime(m);
	return json_pack("{s:O?,s:b,s:s,s:I,s:I,s:s}", "id", id, "ok", 1, "state",
			 a->paused ? "paused" : "running", "icount", (json_int_t)taps_icount(m),
			 "mtime", (json_int_t)mtime, "digest", hex);
}

static json_t *do_snapshot(json_t *id, struct machine *m, const char *path)
{
	char err[4096 + 512] = "";
	if (snapshot_save_file(m, path, err, sizeof(err)))
		return reply_error(id, err);
	return json_pack("{s:O?,s:b,s:s}", "id", id, "ok", 1, "path", path);
}

/* Save an encrypted snapshot, then stop keel (exit 0).  The passphrase
 * is wiped from the request once used; if the save fails keel runs on. */
static json_t *do_suspend(json_t *id, struct machine *m, struct api_actions *a, json_t *req)
{
	char err[4096 + 512] = "";
	json_t *path = json_object_get(req, "path");
	json_t *pass = json_object_get(req, "passphrase");
	if (!path || !pass)
		return reply_error(id, "suspend needs \"path\" and \"passphrase\"");
	if (!json_is_string(path) || !json_is_string(pass))
		return reply_error(id, "\"path\" and \"passphrase\" must be strings");
	if (!*json_string_value(path))
		return reply_error(id, "\"path\" is empty");
	char *pw = (char *)json_string_value(pass);
	size_t pwlen = json_string_length(pass);
	int rc = pwlen ? sealed_snapshot_save(m, json_string_value(path), pw, pwlen, err,
					      sizeof(err))
		       : (snprintf(err, sizeof(err), "\"passphrase\" is empty"), -1);
	sodium_memzero(pw, pwlen);
	if (rc)
		return reply_error(id, err);
	a->quit_requested = true;
	return json_pack("{s:O?,s:b,s:s}", "id", id, "ok", 1, "path", json_string_value(path));
}

/* An optional string argument: NULL if absent; sets *bad (with a reply)
 * if present but not a non-empty string. */
static const char *opt_string(json_t *req, const char *key, json_t *id, json_t **bad)
{
	json_t *v = json_object_get(req, key);
	if (!v)
		return NULL;
	if (!json_is_string(v) || !*json_string_value(v)) {
		char msg[96];
		snprintf(msg, sizeof(msg), "\"%s\" must be a non-empty string", key);
		*bad = reply_error(id, msg);
		return NULL;
	}
	return json_string_value(v);
}

/* "net": "none" or "user[,hostfwd=...][,ipv6=off]" for the clone. */
static json_t *parse_clone_net(json_t *id, const struct machine *m, const char *net,
			       struct clone_request *r)
{
	char err[512], msg[600];
	r->net_user = net && strcmp(net, "none");
	if (!r->net_user)
		return NULL;
	if (net_user_parse(net, &r->net, err, sizeof(err))) {
		const char *why = strncmp(err, "--net: ", 7) ? err : err + 7;
		snprintf(msg, sizeof(msg), "\"net\": %s", why);
		return reply_error(id, msg);
	}
	if (!m->has_net)
		return reply_error(id, "\"net\": this VM has no network device (keel run --net)");
	if (r->net.have_mac)
		return reply_error(id, "\"net\": a clone keeps its parent's MAC address; no mac=");
	return NULL;
}

/* Validate a "clone" request into a->clone.  NULL: the host loop will
 * clone and the reply comes later (api_server_clone_done). */
static json_t *do_clone(struct api_server *s, json_t *id, struct machine *m,
			struct api_actions *a, json_t *req)
{
	struct clone_request *r = &a->clone;
	json_t *bad = NULL;
	memset(r, 0, sizeof(*r));
	r->keep_fd = -1;
	r->console_fd = -1;
	const char *sock = opt_string(req, "sock", id, &bad);
	const char *net = opt_string(req, "net", id, &bad);
	const char *console = opt_string(req, "console", id, &bad);
	const char *entropy = opt_string(req, "entropy", id, &bad);
	if (bad)
		return bad;
	if (!sock)
		return reply_error(id, "clone needs \"sock\" (the clone's control socket)");
	if (strlen(sock) >= sizeof(r->sock))
		return reply_error(id, "\"sock\" is longer than 107 bytes");
	if (!strcmp(sock, s->path))
		return reply_error(id, "\"sock\" is this VM's own socket");
	if (console && strlen(console) >= sizeof(r->console))
		return reply_error(id, "\"console\" is too long");
	if (entropy && strcmp(entropy, "fresh") && strcmp(entropy, "inherit"))
		return reply_error(id, "\"entropy\" must be \"fresh\" or \"inherit\"");
	if ((bad = parse_clone_net(id, m, net, r)))
		return bad;
	strcpy(r->sock, sock);
	strcpy(r->console, console ? console : "");
	r->inherit_entropy = entropy && !strcmp(entropy, "inherit");
	s->clone_id = id ? json_incref(id) : NULL;
	a->clone_pending = true;
	return NULL;
}

void api_server_clone_done(struct api_server *s, const struct clone_result *r, bool ok,
			   const char *sock)
{
	json_t *id = s->clone_id;
	int who = s->clone_client;
	s->clone_id = NULL;
	s->clone_client = -1;
	json_t *reply = ok ? json_pack("{s:O?,s:b,s:i,s:s,s:I,s:f,s:f}", "id", id, "ok", 1, "pid",
				       r->pid, "sock", sock, "icount", (json_int_t)r->icount,
				       "fork_us", r->fork_us, "ready_us", r->ready_us)
			   : reply_error(id, r->err);
	json_decref(id);
	if (who < 0 || s->clients[who].fd < 0) {
		json_decref(reply); /* the client left meanwhile */
		return;
	}
	if (!reply || client_queue(&s->clients[who], reply))
		client_drop(&s->clients[who]);
}

/* An optional non-negative integer argument (at most `max`). */
static int opt_uint(json_t *req, const char *key, unsigned max, unsigned *out, json_t *id,
		    json_t **bad)
{
	json_t *v = json_object_get(req, key);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
		char msg[96];
		snprintf(msg, sizeof(msg), "\"%s\" must be an integer from 0 to %u", key, max);
		*bad = reply_error(id, msg);
		return -1;
	}
	*out = (unsigned)json_integer_value(v);
	return 0;
}

/* The migrate request's arguments into r; NULL, or an error reply. */
static json_t *parse_migrate(json_t *id, json_t *req, struct mig_request *r)
{
	char err[600];
	json_t *bad = NULL;
	const char *uri = opt_string(req, "uri", id, &bad);
	const char *key = opt_string(req, "key", id, &bad);
	const char *postcopy = opt_string(req, "postcopy", id, &bad);
	json_t *keep = json_object_get(req, "keep");
	r->downtime_ms = MIG_DEFAULT_DOWNTIME_MS;
	r->timeout_ms = MIG_DEFAULT_TIMEOUT_MS;
	opt_uint(req, "downtime_ms", 600000, &r->downtime_ms, id, &bad);
	opt_uint(req, "timeout_ms", 3600000, &r->timeout_ms, id, &bad);
	opt_uint(req, "throttle_ms", 1000, &r->throttle_ms, id, &bad);
	if (bad)
		return bad;
	if (!uri || !key)
		return reply_error(id, "migrate needs \"uri\" (tcp:HOST:PORT) and \"key\" (a key file)");
	if (keep && !json_is_boolean(keep))
		return reply_error(id, "\"keep\" must be true or false");
	r->postcopy = !postcopy || !strcmp(postcopy, "auto") ? MIG_POSTCOPY_AUTO
		      : !strcmp(postcopy, "never")		 ? MIG_POSTCOPY_NEVER
		      : !strcmp(postcopy, "now")		 ? MIG_POSTCOPY_NOW
								 : (enum mig_postcopy_mode)-1;
	if ((int)r->postcopy < 0)
		return reply_error(id, "\"postcopy\" must be \"auto\", \"never\" or \"now\"");
	r->keep = json_is_true(keep);
	if (mig_parse_uri(uri, r->host, sizeof(r->host), r->port, sizeof(r->port), err,
			  sizeof(err)) ||
	    mig_key_load(key, r->key, err, sizeof(err)))
		return reply_error(id, err);
	if (r->timeout_ms == 0)
		r->timeout_ms = MIG_DEFAULT_TIMEOUT_MS;
	return NULL;
}

/* Start a migration.  NULL: under way, the reply comes at its end. */
static json_t *do_migrate(struct api_server *s, json_t *id, struct machine *m, json_t *req)
{
	char err[1024];
	struct mig_request r = {0};
	if (s->migration)
		return reply_error(id, "a migration is already under way");
	json_t *bad = parse_migrate(id, req, &r);
	if (bad) {
		sodium_memzero(r.key, sizeof(r.key));
		return bad;
	}
	s->migration = mig_source_start(m, &r, err, sizeof(err));
	sodium_memzero(r.key, sizeof(r.key));
	if (!s->migration)
		return reply_error(id, err);
	s->migrate_keep = r.keep;
	s->migrate_id = id ? json_incref(id) : NULL;
	s->migrate_new = true;
	return NULL;
}

/* The downtime's parts (the source's view), once the VM has stopped. */
static void add_handover(json_t *fig, const struct mig_stats *st)
{
	json_object_set_new(fig, "handover",
			    json_pack("{s:f,s:f,s:f,s:f}", "pages_ms", st->stop_pages_ms,
				      "state_ms", st->stop_state_ms, "ready_ms", st->stop_ready_ms,
				      "running_ms", st->stop_running_ms));
}

static json_t *stats_json(const struct mig_stats *st)
{
	json_t *o = json_pack("{s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:b}", "rounds", st->rounds,
			 "pages_sent", (json_int_t)st->pages_sent, "zero_pages",
			 (json_int_t)st->zero_pages, "pages_last_round",
			 (json_int_t)st->pages_last_round, "pages_pending",
			 (json_int_t)st->pages_pending, "disk_bytes", (json_int_t)st->disk_bytes,
			 "bytes", (json_int_t)st->bytes, "dirty_pages_per_s", st->dirty_pages_per_s,
			 "pages_per_s", st->pages_per_s, "est_downtime_ms", st->est_downtime_ms,
			 "dirty_tracking", st->dirty_tracking);
	if (o && st->base_bytes)
		json_object_set_new(o, "base_bytes", json_integer((json_int_t)st->base_bytes));
	if (o && st->postcopy)
		json_object_set_new(o, "postcopy",
				    json_pack("{s:I,s:I,s:I}", "missing", (json_int_t)st->pc_missing,
					      "sent", (json_int_t)st->pc_pages, "requests",
					      (json_int_t)st->pc_requests));
	return o;
}

static void migrate_tell(struct api_server *s, json_t *line)
{
	int who = s->migrate_client;
	if (!line || who < 0 || s->clients[who].fd < 0) {
		json_decref(line);
		return;
	}
	if (client_queue(&s->clients[who], line))
		client_drop(&s->clients[who]);
}

/* One step of the migration; its reports go to the client that asked. */
static void step_migration(struct api_server *s, struct api_actions *a)
{
	char err[1024];
	enum mig_status st = mig_source_step(s->migration, err, sizeof(err));
	struct mig_stats stats;
	mig_source_stats(s->migration, &stats);
	json_t *line = NULL, *fig = stats_json(&stats);
	if (st == MIG_CONTINUE) {
		json_decref(fig);
		return;
	}
	if (st == MIG_PROGRESS || st == MIG_HANDED_OVER) {
		/* Handed over: the VM runs there; this copy waits, paused,
		 * serving the pages the destination still lacks. */
		if (st == MIG_HANDED_OVER) {
			a->paused = true;
			json_object_set_new(fig, "handed_over", json_true());
			json_object_set_new(fig, "downtime_ms", json_real(stats.downtime_ms));
			json_object_set_new(fig, "icount", json_integer((json_int_t)stats.icount));
			add_handover(fig, &stats);
		}
		line = json_pack("{s:O?,s:o}", "id", s->migrate_id, "progress", fig);
	} else if (st == MIG_DONE) {
		json_object_set_new(fig, "downtime_ms", json_real(stats.downtime_ms));
		json_object_set_new(fig, "total_ms", json_real(stats.total_ms));
		json_object_set_new(fig, "icount", json_integer((json_int_t)stats.icount));
		add_handover(fig, &stats);
		json_t *pc = json_object_get(fig, "postcopy");
		if (pc) {
			json_object_set_new(pc, "faults", json_integer((json_int_t)stats.pc_faults));
			json_object_set_new(pc, "pages_after_start",
					    json_integer((json_int_t)stats.pc_fault_pages));
			json_object_set_new(pc, "slowest_fault_ms",
					    json_real(stats.pc_slowest_fault_ms));
			json_object_set_new(pc, "fault_wait_ms", json_real(stats.pc_fault_wait_ms));
			json_object_set_new(pc, "ms", json_real(stats.pc_ms));
		}
		line = json_pack("{s:O?,s:b,s:o}", "id", s->migrate_id, "ok", 1, "migrated", fig);
		a->quit_requested = !s->migrate_keep;
		a->paused = s->migrate_keep;
	} else {
		line = json_pack("{s:O?,s:b,s:s,s:o}", "id", s->migrate_id, "ok", 0, "error", err,
				 "progress", fig);
		a->paused |= st == MIG_UNCONFIRMED;
	}
	migrate_tell(s, line);
	if (st != MIG_PROGRESS && st != MIG_HANDED_OVER)
		drop_migration(s);
}

/* "input": type `data` on the console, all of it or nothing. */
static json_t *do_input(json_t *id, struct api_actions *a, json_t *req)
{
	json_t *data = json_object_get(req, "data");
	if (!data)
		return reply_error(id, "input needs \"data\"");
	if (!json_is_string(data))
		return reply_error(id, "\"data\" must be a string");
	if (!a->console_input)
		return reply_error(id, "this VM has no console to type into");
	size_t len = json_string_length(data), room = a->console_room(a->console_opaque);
	if (len > room) {
		char msg[128];
		snprintf(msg, sizeof(msg), "the console input queue has room for %zu bytes, not %zu",
			 room, len);
		return reply_error(id, msg);
	}
	a->console_input(a->console_opaque, (const uint8_t *)json_string_value(data), len);
	return json_pack("{s:O?,s:b,s:I}", "id", id, "ok", 1, "bytes", (json_int_t)len);
}

static json_t *do_shield(json_t *id, struct api_actions *a, json_t *req)
{
	json_t *what = json_object_get(req, "what");
	if (what && !json_is_string(what))
		return reply_error(id, "\"what\" must be a string");
	char err[256] = "this VM runs without --shield";
	json_t *res = a->shield ? a->shield(a->shield_opaque, what ? json_string_value(what) : "status",
					    err, sizeof(err))
				: NULL;
	if (!res)
		return reply_error(id, err);
	return json_pack("{s:O?,s:b,s:o}", "id", id, "ok", 1, "result", res);
}

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Introspect the guest kernel (docs/vmi.md).  Requests are served between
 * slices, so the guest stands still for exactly the time this takes,
 * which the reply reports. */
static json_t *do_inspect(struct api_server *s, json_t *id, struct machine *m, json_t *req)
{
	json_t *bad = NULL;
	const char *view = opt_string(req, "view", id, &bad);
	const char *arg = bad ? NULL : opt_string(req, "arg", id, &bad);
	const char *vmlinux = bad ? NULL : opt_string(req, "vmlinux", id, &bad);
	if (bad)
		return bad;
	if (!view)
		return reply_error(id, "inspect needs \"view\"");
	double t0 = mono_ms();
	struct memview mv;
	struct tap_regs regs;
	taps_memview(m, &mv);
	taps_regs(m, &regs);
	char err[1024];
	bool reuse = s->vmi && !vmlinux && vmi_check(s->vmi, &mv);
	if (!reuse) {
		vmi_free(s->vmi);
		struct vmi_options o = {.vmlinux = vmlinux, .satp = regs.satp};
		s->vmi = vmi_attach(&mv, &o, err, sizeof(err));
		if (!s->vmi)
			return reply_error(id, err);
	}
	json_t *res = !strcmp(view, "info") ? vmi_info(s->vmi)
					     : vmi_view(s->vmi, view, arg, err, sizeof(err));
	if (vmlinux) { /* keep only what RAM alone gives */
		vmi_free(s->vmi);
		s->vmi = NULL;
	}
	if (!res)
		return reply_error(id, err);
	return json_pack("{s:O?,s:b,s:o,s:b,s:f}", "id", id, "ok", 1, "result", res, "attached",
			 !reuse, "paused_ms", mono_ms() - t0);
}

static json_t *dispatch(struct api_server *s, json_t *req, json_t *id, struct machine *m,
			struct api_actions *a)
{
	static const char *const no_args[] = {NULL};
	static const char *const path_arg[] = {"path", NULL};
	static const char *const suspend_args[] = {"path", "passphrase", NULL};
	static const char *const clone_args[] = {"sock", "net", "console", "entropy", NULL};
	static const char *const input_args[] = {"data", NULL};
	static const char *const migrate_args[] = {"uri", "key", "downtime_ms", "postcopy", "keep",
						   "timeout_ms", "throttle_ms", NULL};
	static const char *const inspect_args[] = {"view", "arg", "vmlinux", NULL};
	static const char *const shield_args[] = {"what", NULL};
	char err[256];
	json_t *cmdv = json_object_get(req, "cmd");
	if (!cmdv)
		return reply_error(id, "missing \"cmd\"");
	if (!json_is_string(cmdv))
		return reply_error(id, "\"cmd\" must be a string");
	const char *cmd = json_string_value(cmdv);
	bool snapshot = !strcmp(cmd, "snapshot");
	bool suspend = !strcmp(cmd, "suspend");
	bool clone = !strcmp(cmd, "clone");
	bool input = !strcmp(cmd, "input");
	bool migrate = !strcmp(cmd, "migrate");
	bool inspect = !strcmp(cmd, "inspect");
	bool shield = !strcmp(cmd, "shield");
	bool known = snapshot || suspend || clone || input || migrate || inspect || shield ||
		     !strcmp(cmd, "status") || !strcmp(cmd, "pause") || !strcmp(cmd, "resume") ||
		     !strcmp(cmd, "quit");
	if (!known) {
		snprintf(err, sizeof(err), "unknown cmd '%.64s'", cmd);
		return reply_error(id, err);
	}
	const char *const *allowed = suspend ? suspend_args : snapshot ? path_arg
				   : clone ? clone_args : input ? input_args
				   : migrate ? migrate_args : inspect ? inspect_args
				   : shield ? shield_args : no_args;
	if (check_args(req, allowed, err, sizeof(err)))
		return reply_error(id, err);
	/* During post-copy the VM runs on the destination, which needs this
	 * copy's pages: nothing may run, duplicate or end it. */
	if ((clone || suspend || !strcmp(cmd, "resume") || !strcmp(cmd, "quit")) && s->migration &&
	    mig_source_handed_over(s->migration))
		return reply_error(id, "the VM runs on the migration's destination now; this copy "
				       "serves the pages it still lacks (post-copy) until it has all");
	if (clone)
		return do_clone(s, id, m, a, req);
	if (input)
		return do_input(id, a, req);
	if (shield)
		return do_shield(id, a, req);
	if (migrate)
		return do_migrate(s, id, m, req);
	if (inspect)
		return do_inspect(s, id, m, req);
	if (suspend)
		return do_suspend(id, m, a, req);
	if (snapshot) {
		json_t *path = json_object_get(req, "path");
		if (!path)
			return reply_error(id, "snapshot needs \"path\"");
		if (!json_is_string(path))
			return reply_error(id, "\"path\" must be a string");
		return do_snapshot(id, m, json_string_value(path));
	}
	if (!strcmp(cmd, "status"))
		return do_status(id, m, a);
	if (!strcmp(cmd, "pause"))
		a->paused = true;
	else if (!strcmp(cmd, "resume"))
		a->paused = false;
	else
		a->quit_requested = true;
	return reply_ok(id);
}

/* One request line (no newline) to its reply; NULL for a clone, whose
 * reply comes later. */
static json_t *serve_line(struct api_server *s, const char *line, size_t len,
			  struct machine *m, struct api_actions *a)
{
	json_error_t jerr;
	json_t *req = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		char msg[300];
		snprintf(msg, sizeof(msg), "invalid JSON: %s (column %d)", jerr.text, jerr.column);
		return reply_error(NULL, msg);
	}
	if (!json_is_object(req)) {
		json_decref(req);
		return reply_error(NULL, "a request must be a JSON object");
	}
	json_t *reply = dispatch(s, req, json_object_get(req, "id"), m, a);
	json_decref(req);
	if (a->clone_pending || s->migrate_new)
		return reply;
	return reply ? reply : reply_error(NULL, "out of memory");
}

static bool blank(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

/* Stop serving: after "quit" the rest would be served by a VM that is
 * gone; after "clone" it must wait until the clone exists, so replies
 * stay in order and later requests see the VM after the clone. */
static bool must_stop(const struct api_actions *a)
{
	return a->quit_requested || a->clone_pending;
}

/* Serve the complete lines in client i's buffer.  Returns -1 to drop it. */
static int serve_lines(struct api_server *s, int i, struct machine *m, struct api_actions *a)
{
	struct api_client *c = &s->clients[i];
	size_t start = 0;
	while (!must_stop(a)) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);
		if (!nl)
			break;
		const char *line = c->in + start;
		size_t len = (size_t)(nl - line);
		start += len + 1;
		if (blank(line, len))
			continue;
		json_t *reply = serve_line(s, line, len, m, a);
		if (!reply && a->clone_pending) {
			s->clone_client = i;
		} else if (!reply && s->migrate_new) {
			s->migrate_client = i;
			s->migrate_new = false;
		} else if (client_queue(c, reply))
			return -1;
	}
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	/* Served lines may have held a passphrase (suspend): leave no copy. */
	sodium_memzero(c->in + c->in_len, start);
	/* (Lines left whole by a stop are served on the next poll.) */
	if (c->in_len > API_MAX_LINE && !memchr(c->in, '\n', c->in_len)) {
		char msg[96];
		snprintf(msg, sizeof(msg), "request longer than %u bytes; closing", API_MAX_LINE);
		client_queue(c, reply_error(NULL, msg));
		client_flush(c);
		return -1;
	}
	return 0;
}

/* Read what has arrived.  Returns -1 to drop the client (it hung up, maybe
 * in the middle of a request, which is then simply forgotten). */
static int client_read(struct api_server *s, int i, struct machine *m, struct api_actions *a)
{
	struct api_client *c = &s->clients[i];
	while (!must_stop(a)) {
		/* One byte beyond the limit is how an oversized line shows. */
		size_t room = API_MAX_LINE + 1 - c->in_len;
		ssize_t n = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		c->in_len += (size_t)n;
		if (serve_lines(s, i, m, a))
			return -1;
	}
	return 0;
}

static void refuse(int fd, const char *why)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "{\"id\":null,\"ok\":false,\"error\":\"%s\"}\n", why);
	ssize_t ignored = send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)ignored;
	close(fd);
}

/* The socket file's mode keeps others out; this holds even if someone
 * with CAP_DAC_OVERRIDE, or a file descriptor passed on, gets through. */
static bool peer_allowed(const struct api_server *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred))
		return false;
	return cred.uid == geteuid() || (s->peer_uid != (uid_t)-1 && cred.uid == s->peer_uid);
}

/* Each new client is served at once, before the next accept: one that
 * connected, sent and hung up frees its slot before a later connection
 * is counted against the limit. */
static void accept_clients(struct api_server *s, struct machine *m, struct api_actions *a)
{
	while (!must_stop(a)) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or a transient error: try on the next poll */
		if (!peer_allowed(s, fd)) {
			refuse(fd, "permission denied: another user's process (SO_PEERCRED)");
			continue;
		}
		struct api_client *slot = NULL;
		for (int i = 0; i < API_MAX_CLIENTS && !slot; i++)
			if (s->clients[i].fd < 0)
				slot = &s->clients[i];
		char *in = slot ? malloc(API_MAX_LINE + 1) : NULL;
		if (!in) {
			refuse(fd, "too many clients; try again later");
			continue;
		}
		slot->fd = fd;
		slot->in = in;
		if (client_read(s, (int)(slot - s->clients), m, a)) {
			client_drop(slot);
			if (s->migrate_client == (int)(slot - s->clients))
				s->migrate_client = -1;
		}
	}
}

void api_server_poll(struct api_server *s, struct machine *m, struct api_actions *a)
{
	if (s->listen_fd < 0)
		return;
	if (s->migration)
		step_migration(s, a);
	/* Lines left unserved by an earlier stop (a clone) go first. */
	for (int i = 0; i < API_MAX_CLIENTS && !must_stop(a); i++) {
		struct api_client *c = &s->clients[i];
		if (c->fd < 0)
			continue;
		if (client_flush(c) || serve_lines(s, i, m, a) || client_read(s, i, m, a)) {
			client_drop(c);
			if (s->migrate_client == i) /* the slot may be someone else's next */
				s->migrate_client = -1;
		}
	}
	accept_clients(s, m, a);
}
