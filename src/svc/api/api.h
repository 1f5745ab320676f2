/* The control socket: a JSON API over a Unix stream socket (docs/api.md).
 *
 * Newline-delimited JSON requests ({"id":..., "cmd":..., args}) get one
 * reply line each.  The server never blocks: the host loop hands it the
 * listening and client sockets for its poll() and calls api_server_poll()
 * only between machine_run() slices, so a request never sees (or changes)
 * a machine in the middle of a slice.  What a request asks of the host loop
 * itself (pause, quit, clone, console input) comes back through struct
 * api_actions. */
#ifndef KEEL_SVC_API_API_H
#define KEEL_SVC_API_API_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "dev/net_slirp.h"

struct machine;
struct mig_source;
struct vmi;

/* A "clone" request, validated (docs/clone.md); the host loop carries it
 * out with clone_vm() (host/clone.h) and reports back with
 * api_server_clone_done(). */
struct clone_request {
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* the clone's API socket */
	char console[PATH_MAX]; /* its console output; "" is /dev/null */
	/* Its console output into this descriptor instead (-1: console): the
	 * shield reads a trial clone's console from a pipe as it comes. */
	int console_fd;
	bool net_user; /* false: no network (frames are dropped) */
	struct net_user_opts net; /* with net_user: its own forwards */
	bool inherit_entropy; /* keep the parent's entropy source (tests) */
	/* One more descriptor the clone keeps open (-1: none): the shield's
	 * pipe for a trial clone's alerts (src/host/shield.c). */
	int keep_fd;
};

struct clone_result {
	int pid; /* the clone's process id */
	uint64_t icount; /* where parent and clone part ways */
	double fork_us; /* the fork() call alone */
	double ready_us; /* from fork() until the clone said it is running */
	char err[768]; /* when clone_vm() fails */
};

#define API_MAX_CLIENTS 8
/* The longest request line, newline excluded.  Longer: an error reply and
 * the connection is closed (its framing can no longer be trusted). */
#define API_MAX_LINE (64u * 1024u)
/* Replies a client does not read pile up to this much, then it is dropped. */
#define API_MAX_PENDING_OUT (1u << 20)

struct api_client {
	int fd; /* -1: slot free */
	char *in; /* API_MAX_LINE + 1 bytes while connected */
	size_t in_len;
	char *out; /* reply bytes not yet written */
	size_t out_len;
};

struct api_server {
	int listen_fd; /* -1: not open */
	/* Who may talk to it (SO_PEERCRED): keel's own effective uid, and
	 * this one too unless it is (uid_t)-1 (keel run --api-allow-uid). */
	uid_t peer_uid;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct api_client clients[API_MAX_CLIENTS];
	/* A "clone" waiting for the host loop: whose it is, and its id. */
	int clone_client; /* index into clients, -1: none */
	struct json_t *clone_id;
	/* A "migrate" under way (svc/migrate), stepped between slices by
	 * api_server_poll; its progress and result go to the client that
	 * asked (migrate_client, -1: gone). */
	struct mig_source *migration;
	bool migrate_keep;
	bool migrate_new; /* set by the request, until the client is known */
	int migrate_client;
	struct json_t *migrate_id;
	/* "inspect": the guest kernel as last found (symbols, BTF), kept
	 * while it stays where it was. */
	struct vmi *vmi;
};

/* The host loop's side of the requests: it reads and obeys these. */
struct api_actions {
	bool paused; /* do not run the machine; keep polling the API */
	bool quit_requested; /* stop the VM (exit status 0) */
	/* "clone": a validated request.  The server serves nothing more until
	 * the host loop has run clone_vm() and called api_server_clone_done(). */
	bool clone_pending;
	struct clone_request clone;
	/* A clone a service asked for (the intrusion detector's "clone"
	 * response), not a client: it starts paused when clone_paused, and
	 * clone_done hears how it went instead of a client's reply. */
	bool clone_paused;
	void (*clone_done)(void *opaque, const struct clone_result *r, bool ok);
	void *clone_done_opaque;
	/* "input": queue console bytes; returns how many fit (the host loop
	 * sets this; NULL: no console to type into). */
	size_t (*console_input)(void *opaque, const uint8_t *buf, size_t len);
	size_t (*console_room)(void *opaque);
	void *console_opaque;
	/* "shield": the intrusion-prevention front's status, rules or
	 * verdicts (docs/shield.md); NULL with a reason when there is none. */
	struct json_t *(*shield)(void *opaque, const char *what, char *err, size_t errlen);
	void *shield_opaque;
};

/* Listen on `path`, a socket file of mode 0600 in a directory that only
 * keel's user can write (owned by it, no group or other write bit: a
 * shared directory such as /tmp is refused, since anyone could swap the
 * socket file there).  Clients whose peer credentials show another uid
 * than keel's effective one and `peer_uid` are refused at connect.  A
 * stale socket file (nothing accepts on it) is replaced; a live server or
 * a file that is not a socket is an error.  Returns 0, or -1 with
 * "PATH: why" in err. */
int api_server_open(struct api_server *s, const char *path, uid_t peer_uid, char *err,
		    size_t errlen);

/* Flush what replies it can (never blocks), close every socket and remove
 * the socket file. */
void api_server_close(struct api_server *s);

/* In a forked clone: close the parent's listening and client sockets
 * without removing its socket file or answering anyone, and free what the
 * server holds.  The server is closed afterwards (reopen it with
 * api_server_open). */
void api_server_abandon(struct api_server *s);

/* The pending clone is done (`pid` > 0) or failed (`r->err`): reply to
 * the client that asked, if it is still there. */
void api_server_clone_done(struct api_server *s, const struct clone_result *r, bool ok,
			   const char *sock);

/* The most pollfds api_server_fds fills: the listener, the clients and
 * a migration's socket. */
#define API_MAX_FDS (1 + API_MAX_CLIENTS + 1)

/* Fill `out` with up to `max` pollfds (the listening socket first, then
 * the clients, then a migration's socket, which asks for POLLOUT when it
 * has more to send now, so a waiting host loop wakes at once); returns
 * how many. */
int api_server_fds(struct api_server *s, struct pollfd *out, int max);
/* The longest a host loop waiting on those fds may sleep before the next
 * api_server_poll is due anyway, in ms (-1: no limit): a migration's
 * throttled push or its peer's timeout. */
int api_server_timeout_ms(const struct api_server *s);

/* Accept connections, read what has arrived and serve every complete
 * request, writing what replies the sockets take; take a migration one
 * step further (its last step stops the VM and hands it over before it
 * returns).  Call only at a slice boundary. */
void api_server_poll(struct api_server *s, struct machine *m, struct api_actions *a);

#endif
