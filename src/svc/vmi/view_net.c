/* Sockets, from two sides: the ones processes hold (each descriptor's
 * file on sockfs, its struct socket, its struct sock), and every TCP
 * socket in the kernel's own hash tables (listening and established,
 * time-wait and half-open ones included), as /proc/net/tcp lists them.  A
 * socket in the tables that no visible descriptor holds is listed without
 * an owner: normal for time-wait and half-open ones, suspicious for a
 * listening or established one (its process hidden from the task list). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "svc/vmi/vmi_int.h"

#define AF_UNIX_ 1
#define AF_INET_ 2
#define AF_INET6_ 10
#define AF_NETLINK_ 16
#define MAX_BUCKETS (1u << 22)

static const char *tcp_state(uint64_t s)
{
	static const char *const names[] = {"?", "ESTABLISHED", "SYN_SENT", "SYN_RECV",
					    "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE",
					    "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
					    "NEW_SYN_RECV"};
	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static const char *proto_name(uint64_t family, uint64_t type, uint64_t proto)
{
	if (family == AF_UNIX_)
		return type == 1 ? "unix-stream" : type == 2 ? "unix-dgram" : "unix";
	if (family == AF_NETLINK_)
		return "netlink";
	if (family != AF_INET_ && family != AF_INET6_)
		return "other";
	bool v6 = family == AF_INET6_;
	if (proto == 6)
		return v6 ? "tcp6" : "tcp";
	if (proto == 17)
		return v6 ? "udp6" : "udp";
	if (proto == 1 || proto == 58)
		return v6 ? "icmp6" : "icmp";
	return type == 3 ? "raw" : "other";
}

static void ipv4(char *buf, size_t len, uint64_t be32, uint64_t port)
{
	snprintf(buf, len, "%u.%u.%u.%u:%u", (unsigned)(be32 & 0xff), (unsigned)(be32 >> 8 & 0xff),
		 (unsigned)(be32 >> 16 & 0xff), (unsigned)(be32 >> 24 & 0xff), (unsigned)port);
}

/* "[addr]:port", the address as 16 bytes at va in the usual short form
 * ("[::1]:22", "[::ffff:10.0.2.15]:80"); "" when unreadable. */
static void ipv6(const struct vmi *v, uint64_t va, uint64_t port, char *buf, size_t len)
{
	uint8_t a[16];
	char text[INET6_ADDRSTRLEN];
	buf[0] = 0;
	if (kread(v, va, a, 16) == 0 && inet_ntop(AF_INET6, a, text, sizeof(text)))
		snprintf(buf, len, "[%s]:%u", text, (unsigned)port);
}

/* The sock_common fields every socket has (time-wait ones included). */
static void sock_common_row(struct vmi *v, uint64_t sk, const char *proto, json_t *row)
{
	uint64_t family = 0, state = 0;
	kfield(v, sk, F_SK_FAMILY, &family);
	kfield(v, sk, F_SK_STATE, &state);
	json_object_set_new(row, "proto", json_string(proto));
	char local[64] = "", remote[64] = "";
	if (family == AF_INET6_ && v->f[F_SK_V6_RCV_SADDR].ok && v->f[F_SK_V6_DADDR].ok) {
		uint64_t lp = 0, rp = 0;
		kfield(v, sk, F_SK_NUM, &lp);
		kfield(v, sk, F_SK_DPORT, &rp);
		ipv6(v, sk + v->f[F_SK_V6_RCV_SADDR].off, lp, local, sizeof(local));
		ipv6(v, sk + v->f[F_SK_V6_DADDR].off, (rp >> 8 | rp << 8) & 0xffff, remote,
		     sizeof(remote));
	} else if (family == AF_INET_) {
		uint64_t la = 0, lp = 0, ra = 0, rp = 0;
		kfield(v, sk, F_SK_RCV_SADDR, &la);
		kfield(v, sk, F_SK_NUM, &lp);
		kfield(v, sk, F_SK_DADDR, &ra);
		kfield(v, sk, F_SK_DPORT, &rp);
		ipv4(local, sizeof(local), la, lp);
		ipv4(remote, sizeof(remote), ra, (rp >> 8 | rp << 8) & 0xffff);
	}
	json_object_set_new(row, "local", local[0] ? json_string(local) : json_null());
	json_object_set_new(row, "remote", remote[0] ? json_string(remote) : json_null());
	json_object_set_new(row, "state", json_string(!strncmp(proto, "tcp", 3) ? tcp_state(state)
										 : "-"));
}

int socket_endpoints(const struct vmi *v, uint64_t file, char *proto, size_t plen, char *local,
		     char *remote, size_t alen)
{
	uint64_t sock = kptr(v, file, F_FILE_PRIVATE), sk = kptr(v, sock, F_SOCKET_SK);
	uint64_t family = 0, type = 0, pr = 0;
	local[0] = remote[0] = 0;
	if (!sk || kfield(v, sk, F_SK_FAMILY, &family))
		return -1;
	kfield(v, sock, F_SOCKET_TYPE, &type);
	kfield(v, sk, F_SK_PROTOCOL, &pr);
	snprintf(proto, plen, "%s", proto_name(family, type, pr));
	if (family == AF_INET_) {
		uint64_t la = 0, lp = 0, ra = 0, rp = 0;
		kfield(v, sk, F_SK_RCV_SADDR, &la);
		kfield(v, sk, F_SK_NUM, &lp);
		kfield(v, sk, F_SK_DADDR, &ra);
		kfield(v, sk, F_SK_DPORT, &rp);
		ipv4(local, alen, la, lp);
		ipv4(remote, alen, ra, (rp >> 8 | rp << 8) & 0xffff);
	}
	return 0;
}

/* A UNIX socket's bound name (unix_sock.addr: a struct sockaddr_un of
 * len bytes), "@name" for an abstract one; "" when unbound. */
static void unix_name(struct vmi *v, uint64_t sk, char *buf, size_t max)
{
	uint64_t addr = kptr(v, sk, F_UNIX_ADDR), len = 0;
	char sun[2 + 108 + 1] = "";
	buf[0] = 0;
	if (!addr || kfield(v, addr, F_UNIXADDR_LEN, &len) || len <= 2)
		return;
	if (len > sizeof(sun) - 1)
		len = sizeof(sun) - 1;
	if (kread(v, addr + v->f[F_UNIXADDR_NAME].off, sun, len))
		return;
	sun[len] = 0;
	snprintf(buf, max, "%s%s", sun[2] ? "" : "@", sun[2] ? sun + 2 : sun + 3);
}

struct net_ctx {
	struct view_out *o;
	struct seen_set held; /* the socks descriptors hold */
	struct seen_set chained; /* the socks the TCP tables' chains passed */
	long unowned;
};

static void socket_row(struct vmi *v, uint64_t task, int fd, uint64_t file, void *opaque)
{
	struct net_ctx *c = opaque;
	uint64_t dentry = kptr(v, file + v->f[F_FILE_PATH].off, F_PATH_DENTRY), magic = 0, ino = 0;
	if (kfield(v, kptr(v, dentry, F_DENTRY_SB), F_SB_MAGIC, &magic) || magic != SOCKFS_MAGIC)
		return;
	kfield(v, kptr(v, dentry, F_DENTRY_INODE), F_INODE_INO, &ino);
	uint64_t sock = kptr(v, file, F_FILE_PRIVATE), sk = kptr(v, sock, F_SOCKET_SK);
	uint64_t family = 0, type = 0, proto = 0;
	if (!sk || kfield(v, sk, F_SK_FAMILY, &family)) {
		note(c->o, "a socket is unreadable");
		return;
	}
	seen_before(&c->held, sk);
	kfield(v, sock, F_SOCKET_TYPE, &type);
	kfield(v, sk, F_SK_PROTOCOL, &proto);
	json_t *row = json_object();
	task_identity(v, task, row);
	json_object_set_new(row, "fd", json_integer(fd));
	json_object_set_new(row, "inode", json_integer((json_int_t)ino));
	sock_common_row(v, sk, proto_name(family, type, proto), row);
	char name[112];
	if (family == AF_UNIX_ && (unix_name(v, sk, name, sizeof(name)), name[0]))
		json_object_set_new(row, "local", gstr(name));
	json_array_append_new(c->o->rows, row);
}

/* A TCP socket from the tables: listed if no descriptor held it. */
static void table_sock(struct vmi *v, struct net_ctx *c, uint64_t sk)
{
	if (seen_has(&c->held, sk))
		return;
	uint64_t family = 0;
	kfield(v, sk, F_SK_FAMILY, &family);
	json_t *row = json_pack("{s:n,s:n,s:n,s:n,s:n}", "pid", "tgid", "comm", "fd", "inode");
	sock_common_row(v, sk, family == AF_INET6_ ? "tcp6" : "tcp", row);
	json_array_append_new(c->o->rows, row);
	c->unowned++;
}

/* One hash chain (an hlist_nulls: it ends at a pointer with bit 0 set). */
static void walk_chain(struct vmi *v, struct net_ctx *c, uint64_t first, long *budget)
{
	uint64_t link = v->f[F_SK_NULLS_NODE].off;
	for (uint64_t p = first; p && !(p & 1); (*budget)--) {
		if (*budget <= 0) {
			note(c->o, "the TCP tables hold more than %d sockets (a cycle?): cut short",
			     VMI_MAX_LIST);
			return;
		}
		if (seen_before(&c->chained, p)) {
			note(c->o, "a TCP hash chain comes back to 0x%" PRIx64 " (a cycle): cut short",
			     p);
			return;
		}
		table_sock(v, c, p - link);
		if (kread(v, p, &p, 8)) {
			note(c->o, "a TCP hash chain is broken: cut short");
			return;
		}
	}
}

/* The 8 bytes at va, read through a copy of the 4 KiB page that holds
 * them: a table of millions of buckets is read a page at a time, not a
 * bucket at a time (the walk of a hostile 4 Mi-bucket table took 88% of
 * the fuzz target's time).  A page that cannot be read whole, or a value
 * across two pages, is read on its own, so each value is what kread
 * would give. */
struct page_cursor {
	uint64_t page; /* the va of the page in buf, or 1: none */
	uint8_t buf[4096];
};

static int cursor_read64(const struct vmi *v, struct page_cursor *pc, uint64_t va, uint64_t *out)
{
	uint64_t page = va & ~4095ull;
	if ((va & 4095) > 4096 - 8)
		return kread(v, va, out, 8);
	if (pc->page != page) {
		pc->page = 1;
		if (kread(v, page, pc->buf, sizeof(pc->buf)))
			return kread(v, va, out, 8);
		pc->page = page;
	}
	memcpy(out, pc->buf + (va & 4095), 8);
	return 0;
}

/* Every bucket of one table: base, mask, bucket size, the chain's offset. */
static void walk_table(struct vmi *v, struct net_ctx *c, uint64_t base, uint64_t mask,
		       uint32_t size, uint32_t head_off, long *budget)
{
	if (!base)
		return;
	/* Linux's alloc_large_system_hash never gives a table more than a
	 * sixteenth of memory, so a table claiming more is not the kernel's,
	 * and its walk is cut to that (and to MAX_BUCKETS). */
	uint64_t most = v->mv.size / 16 / (size ? size : 1);
	most = most < MAX_BUCKETS ? most : MAX_BUCKETS;
	if (mask >= most) {
		note(c->o, "a TCP hash table claims %" PRIu64 " buckets: only %" PRIu64 " read",
		     mask + 1, most);
		if (!most)
			return;
		mask = most - 1;
	}
	struct page_cursor *pc = malloc(sizeof(*pc));
	if (!pc) {
		note(c->o, "out of memory: a TCP hash table is not walked");
		return;
	}
	pc->page = 1;
	for (uint64_t i = 0; i <= mask && *budget > 0; i++) {
		uint64_t first;
		if (cursor_read64(v, pc, base + i * size + head_off, &first)) {
			note(c->o, "a TCP hash table is unreadable: cut short");
			break;
		}
		walk_chain(v, c, first, budget);
	}
	free(pc);
}

static void tcp_tables(struct vmi *v, struct net_ctx *c)
{
	static const enum field_id need[] = {F_HI_EHASH, F_HI_EHASH_MASK, F_HI_LHASH2,
					     F_HI_LHASH2_MASK, F_EHB_CHAIN, F_LHB_HEAD,
					     F_SK_NULLS_NODE};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!v->f[need[i]].ok || !v->tsize[TY_EHASH_BUCKET] || !v->tsize[TY_LISTEN_BUCKET]) {
			note(c->o, "the kernel's TCP tables are not walked: its BTF lacks "
				   "inet_hashinfo's fields");
			return;
		}
	uint64_t hi = 0, net = ksym(v, "init_net");
	if (net && v->f[F_NET_TCP_HASHINFO].ok)
		hi = kptr(v, net, F_NET_TCP_HASHINFO); /* per-namespace tables (6.1 on) */
	if (!hi)
		hi = ksym(v, "tcp_hashinfo");
	uint64_t emask = 0, lmask = 0;
	if (!hi || kfield(v, hi, F_HI_EHASH_MASK, &emask) || kfield(v, hi, F_HI_LHASH2_MASK, &lmask)) {
		note(c->o, "the kernel's TCP tables are not found (no tcp_hashinfo)");
		return;
	}
	long budget = VMI_MAX_LIST;
	walk_table(v, c, kptr(v, hi, F_HI_LHASH2), lmask, v->tsize[TY_LISTEN_BUCKET],
		   v->f[F_LHB_HEAD].off, &budget);
	walk_table(v, c, kptr(v, hi, F_HI_EHASH), emask, v->tsize[TY_EHASH_BUCKET],
		   v->f[F_EHB_CHAIN].off, &budget);
}

static int net_task(struct vmi *v, uint64_t task, void *opaque)
{
	struct net_ctx *c = opaque;
	for_each_fd(v, c->o, task, socket_row, c);
	return 0;
}

int view_net(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen)
{
	struct net_ctx c = {.o = o};
	if (for_each_task(v, o, net_task, &c) < 0) {
		snprintf(err, errlen, "%s", json_string_value(json_array_get(o->notes, 0)));
		seen_free(&c.held);
		return -1;
	}
	tcp_tables(v, &c);
	json_object_set_new(o->extra, "unowned", json_integer(c.unowned));
	seen_free(&c.held);
	seen_free(&c.chained);
	return 0;
}
