/* User-mode networking through libslirp, laid out like QEMU's "-netdev
 * user": guest network 10.0.2.0/24, host/gateway 10.0.2.2, DNS 10.0.2.3,
 * DHCP handing out 10.0.2.15 onwards; IPv6 fec0::/64 (host fec0::2, DNS
 * fec0::3) unless ipv6=off.
 *
 * How it meets the run loop and the event boundary:
 *
 *  - Guest -> network: virtio-net's transmit calls the backend returned by
 *    net_slirp_backend(), which feeds slirp_input() synchronously.
 *  - Network -> guest: frames slirp emits (replies to the guest's own
 *    packets, data arriving on host sockets, timer-driven packets) are
 *    queued in a bounded FIFO here and never reach the device directly.
 *    At slice boundaries the run loop calls net_slirp_deliver(), which
 *    moves as many as the guest has buffers for into virtio-net and tells
 *    the board of each, which sends it across the event boundary
 *    (EV_NET_FRAME).  A full FIFO drops the
 *    newest frame (TCP retransmits; counted in `frames_dropped`).
 *  - Host sockets: net_slirp_poll() runs one slirp poll round.  Call it
 *    with timeout 0 at slice boundaries and with the idle budget while the
 *    guest waits in WFI.
 *  - Time: slirp's clock is the machine's VIRTUAL clock (the `now_ns`
 *    callback), so TCP timers advance with guest time.  slirp's own timers
 *    are kept here; the run loop asks net_slirp_next_deadline() and calls
 *    net_slirp_timers_run() when virtual time reaches it.
 *
 * Everything slirp does is host-dependent and therefore not replayable;
 * that is fine because its only effect on the guest is the frames that
 * cross the event boundary, which replay re-injects without any slirp. */
#ifndef KEEL_DEV_NET_SLIRP_H
#define KEEL_DEV_NET_SLIRP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/boundary.h"
#include "dev/virtio_net.h"

#define NET_USER_MAX_HOSTFWD 16
#define NET_SLIRP_FIFO_FRAMES 256

/* hostfwd=[tcp|udp]:[HOSTIP]:HOSTPORT-[GUESTIP]:GUESTPORT.  An empty HOSTIP
 * is 127.0.0.1 (QEMU binds every interface; we do not expose a guest to
 * the network by default), an empty GUESTIP is 10.0.2.15.
 * hostfwd=unix:PATH-[GUESTIP]:GUESTPORT listens on a UNIX socket instead
 * (TCP to the guest): the shield's private way in (docs/shield.md), which
 * only keel's user can reach when PATH is in a private directory. */
#define NET_UNIX_PATH_MAX 108 /* sun_path */
struct net_hostfwd {
	bool udp;
	struct in_addr host_addr, guest_addr;
	uint16_t host_port, guest_port;
	char unix_path[NET_UNIX_PATH_MAX]; /* "" : a TCP/UDP host port */
};

/* The parsed --net option. */
struct net_user_opts {
	unsigned nfwd;
	struct net_hostfwd fwd[NET_USER_MAX_HOSTFWD];
	bool ipv6; /* default on */
	bool have_mac; /* mac=xx:xx:xx:xx:xx:xx given (for virtio_net_init) */
	uint8_t mac[6];
};

/* Parse "user[,hostfwd=...][,ipv6=on|off][,mac=...]".  Returns 0, or -1
 * with a message naming the offending part in `err`. */
int net_user_parse(const char *spec, struct net_user_opts *o, char *err, size_t errlen);

struct net_slirp_frame {
	uint8_t *data;
	size_t len;
};

struct net_slirp_timer; /* private */
struct pollfd;
struct Slirp;

struct net_slirp {
	struct Slirp *slirp;
	uint64_t (*now_ns)(void *opaque); /* virtual time */
	void *clock_opaque;
	struct net_slirp_timer *timers;
	/* poll set, rebuilt each round */
	struct pollfd *pfd;
	unsigned npfd, pfd_cap;
	/* frames for the guest */
	struct net_slirp_frame fifo[NET_SLIRP_FIFO_FRAMES];
	unsigned fifo_head, fifo_count;
	uint64_t frames_dropped, guest_errors;
};

/* Start the stack and its host forwards.  Returns 0, or -1 with a message
 * in `err` (e.g. a forward whose host port is taken). */
int net_slirp_init(struct net_slirp *s, const struct net_user_opts *o,
		   uint64_t (*now_ns)(void *opaque), void *clock_opaque, char *err, size_t errlen);
void net_slirp_free(struct net_slirp *s);

/* Forget the stack without calling into libslirp: for a forked clone,
 * whose copy of the stack shares its host sockets with the parent's.
 * slirp_cleanup() could shut connections down under the parent, so the
 * clone frees only our own bookkeeping, leaks the Slirp object (a
 * copy-on-write page it never touches again) and leaves closing the
 * inherited descriptors to its caller.  (An ASan build's clone therefore
 * ends with a LeakSanitizer report of libslirp's objects: expected.) */
void net_slirp_abandon(struct net_slirp *s);

/* The transmit side for virtio_net_init(). */
struct net_backend net_slirp_backend(struct net_slirp *s);

/* One poll round: wait up to `timeout_ms` (0: just look; negative: no
 * limit; slirp may ask for less) for host socket activity and let slirp
 * handle it, which also runs its TCP timers.  Returns the number of ready
 * descriptors, or -1 if poll() failed (EINTR included; just call again). */
int net_slirp_poll(struct net_slirp *s, int timeout_ms);

/* The same, also waiting on the caller's descriptors (the console's stdin,
 * say) in the same poll(), so an idle host loop wakes for either.  Their
 * revents are filled in.  Frames that arrive while the guest idles should
 * move virtual time to "now" (EV_TIME_ADJUST) before they are delivered,
 * as console input does. */
int net_slirp_poll_with(struct net_slirp *s, struct pollfd *extra, unsigned nextra,
			int timeout_ms);

/* Virtual time (ns) of the earliest armed slirp timer, or UINT64_MAX. */
uint64_t net_slirp_next_deadline(const struct net_slirp *s);

/* Fire every timer due at `now_ns`. */
void net_slirp_timers_run(struct net_slirp *s, uint64_t now_ns);

/* The oldest queued frame for the guest, if any; and drop it. */
bool net_slirp_peek(const struct net_slirp *s, const uint8_t **frame, size_t *len);
void net_slirp_pop(struct net_slirp *s);

/* Move queued frames into `dev` while it has buffers, telling `note` of
 * each (the board sends it across the event boundary as EV_NET_FRAME;
 * NULL in tests).  Returns the number of frames taken off the FIFO. */
unsigned net_slirp_deliver(struct net_slirp *s, struct virtio_net *dev,
			   const struct input_note *note);

#endif
