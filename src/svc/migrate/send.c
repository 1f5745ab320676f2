/* The sending side of a migration: pre-copy in rounds between slices,
 * then stop-and-copy and the handover, or post-copy (postcopy_send.c).
 * See migrate.h and docs/migrate.md.
 *
 * Which pages to send again: the pages taps' dirty tracking reports
 * written since the last round.  Without it (taps_dirty_enable fails, or
 * another service already consumes the tracker, whose fetches would hide
 * pages from us), a shadow copy of RAM as last sent: a page is sent when
 * it differs from its shadow, which is exact but costs a compare of all
 * RAM per round. */
#include "svc/migrate/migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "svc/migrate/base.h"
#include "svc/migrate/source.h"
#include "svc/migrate/stream.h"
#include "vm/ram_page.h"
#include "vm/snapshot.h"
#include "vm/taps.h"

#define MAX_ROUNDS 30
#define STATE_PART (4u << 20) /* the state travels in parts of this size */
#define START_TIMEOUT_MS 10000u /* more than a destination gives a stranger */

static int send_ahead(struct mig_source *s, char *err, size_t errlen);
static int setup_tracking(struct mig_source *s, char *err, size_t errlen);

double mig_src_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int mig_parse_uri(const char *uri, char *host, size_t hostlen, char *port, size_t portlen,
		  char *err, size_t errlen)
{
	const char *colon = strncmp(uri, "tcp:", 4) ? NULL : strrchr(uri + 4, ':');
	size_t hl = colon ? (size_t)(colon - (uri + 4)) : 0;
	const char *p = colon ? colon + 1 : "";
	char *end;
	long v = strtol(p, &end, 10);
	if (!colon || !*p || *end || v < 1 || v > 65535 || hl >= hostlen || strlen(p) >= portlen) {
		snprintf(err, errlen, "'%s': expected tcp:HOST:PORT", uri);
		return -1;
	}
	/* [::1]:PORT: the brackets are only there to delimit the address. */
	if (hl >= 2 && uri[4] == '[' && colon[-1] == ']')
		snprintf(host, hostlen, "%.*s", (int)hl - 2, uri + 5);
	else
		snprintf(host, hostlen, "%.*s", (int)hl, uri + 4);
	snprintf(port, portlen, "%s", p);
	return 0;
}

/* Connect within timeout_ms; -1 with a reason. */
static int connect_tcp(const struct mig_request *r, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
	int gai = getaddrinfo(r->host, r->port, &hints, &ai);
	if (gai) {
		snprintf(err, errlen, "%s:%s: %s", r->host, r->port, gai_strerror(gai));
		return -1;
	}
	int fd = -1, why = 0;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int rc = connect(fd, a->ai_addr, a->ai_addrlen);
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		socklen_t len = sizeof(why);
		if (rc && errno == EINPROGRESS && poll(&pfd, 1, (int)START_TIMEOUT_MS) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &why, &len) == 0 && why == 0)
			rc = 0;
		else if (rc)
			why = errno == EINPROGRESS ? (why ? why : ETIMEDOUT) : errno;
		if (rc) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s:%s: %s (is 'keel run --incoming' "
				      "waiting there?)",
			 r->host, r->port, strerror(why ? why : ECONNREFUSED));
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	/* The VM waits while this request is served: a destination that
	 * does not answer the handshake at once (busy with another source)
	 * is given less time than a running migration's peer. */
	chan_set_timeout(fd, r->timeout_ms < START_TIMEOUT_MS ? r->timeout_ms : START_TIMEOUT_MS);
	return fd;
}

/* The overlay's records move as they are; a raw disk written in place
 * has no frozen state to move.  Opens the overlay for reading. */
static int check_disk(struct mig_source *s, struct mig_conf *c, char *err, size_t errlen)
{
	taps_disk_identity(s->m, &c->disk);
	if (c->disk.kind == DISK_RAW && !c->disk.readonly) {
		snprintf(err, errlen, "%s is a raw disk written in place, which cannot move while "
				      "the VM runs: use an overlay (--disk %s,overlay=FILE.kov) or "
				      ",readonly",
			 c->disk.path, c->disk.path);
		return -1;
	}
	if (c->disk.kind != DISK_OVERLAY)
		return 0;
	s->ov_fd = open(c->disk.path, O_RDONLY | O_CLOEXEC);
	if (s->ov_fd < 0) {
		snprintf(err, errlen, "%s: %s", c->disk.path, strerror(errno));
		return -1;
	}
	s->disk_sent = OVERLAY_HEADER_BYTES;
	return 0;
}

/* Round 1: every page is a candidate. */
static void all_pending(struct mig_source *s)
{
	memset(s->pending, 0xff, (s->npages + 63) / 64 * 8);
	if (s->npages % 64)
		s->pending[s->npages / 64] = (1ULL << (s->npages % 64)) - 1;
	s->cursor = 0;
}

static int setup_tracking(struct mig_source *s, char *err, size_t errlen)
{
	s->pending = calloc((s->npages + 63) / 64, 8);
	if (!s->pending)
		goto oom;
	all_pending(s);
	/* The tracker has one consumer (each fetch clears the bits): if a
	 * service already tracks, its fetches would hide pages from us. */
	s->tracking = !taps_dirty_enabled(s->m) && taps_dirty_enable(s->m) == 0;
	if (s->tracking)
		return 0;
	/* Anonymous memory reads as zero until written: like the fresh
	 * machine on the other side, and costs nothing for pages never sent. */
	s->shadow_len = (size_t)s->npages * MIG_PAGE;
	s->shadow = mmap(NULL, s->shadow_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	if (s->shadow != MAP_FAILED)
		return 0;
	s->shadow = NULL;
oom:
	snprintf(err, errlen, "out of memory for the migration's page sets");
	return -1;
}

static int send_conf(struct mig_source *s, struct mig_conf *c)
{
	struct memview mv;
	taps_memview(s->m, &mv);
	c->version = MIG_STREAM_VERSION;
	c->ram_base = mv.base;
	c->ram_size = mv.size;
	c->icount = taps_icount(s->m);
	sw_reset(&s->w);
	mig_conf_encode(&s->w, c);
	return chan_send(&s->ch, MIG_CONF, s->w.buf, s->w.len, false);
}

/* ACCEPT, or NEED_BASE: the destination lacks the overlay's base, which
 * then goes out first, in steps (base.c). */
static int await_accept(struct mig_source *s, const struct mig_conf *c, char *err, size_t errlen)
{
	uint8_t type;
	const uint8_t *body;
	size_t len;
	if (chan_recv(&s->ch, &type, &body, &len) < 0) {
		snprintf(err, errlen, "waiting for the destination's ACCEPT: %s", s->ch.err);
		return -1;
	}
	if (type == MIG_NEED_BASE && c->disk.kind == DISK_OVERLAY) {
		s->base = mig_base_send_start(c->disk.base_path, err, errlen);
		return s->base ? 0 : -1;
	}
	if (type == MIG_ERROR) {
		snprintf(err, errlen, "the destination refused: %.*s", (int)(len < 400 ? len : 400),
			 (const char *)body);
		return -1;
	}
	if (type != MIG_ACCEPT) {
		snprintf(err, errlen, "the destination sent %s, expected ACCEPT", mig_msg_name(type));
		return -1;
	}
	return 0;
}

/* The destination has accepted: what never changes goes ahead, and the
 * rounds begin. */
static int begin_precopy(struct mig_source *s, char *err, size_t errlen)
{
	if (send_ahead(s, err, errlen) || setup_tracking(s, err, errlen))
		return -1;
	s->st.dirty_tracking = s->tracking;
	s->t_round = s->t_report = mig_src_now_s();
	return 0;
}

/* One step of sending the base; the VM runs between steps.  Once it is
 * all there, the destination builds its machine and accepts. */
static enum mig_status base_step(struct mig_source *s, char *err, size_t errlen)
{
	double t0 = mig_src_now_s();
	if (s->req.throttle_ms) {
		if (t0 < s->next_send)
			return MIG_CONTINUE;
		s->next_send = t0 + s->req.throttle_ms / 1e3;
	}
	int rc;
	do
		rc = mig_base_send_chunk(s->base, &s->ch, &s->w, err, errlen);
	while (rc == 0 && !s->req.throttle_ms && (mig_src_now_s() - t0) * 1e3 < STEP_MS);
	s->st.base_bytes = mig_base_send_bytes(s->base);
	s->st.bytes = s->ch.bytes_out + s->ch.bytes_in;
	if (rc < 0)
		return MIG_FAILED;
	if (rc == 1) {
		mig_base_send_free(s->base);
		s->base = NULL;
		if (mig_src_expect(s, MIG_ACCEPT, err, errlen) || begin_precopy(s, err, errlen))
			return MIG_FAILED;
		return MIG_PROGRESS;
	}
	if ((mig_src_now_s() - s->t_report) * 1e3 < PROGRESS_MS)
		return MIG_CONTINUE;
	s->t_report = mig_src_now_s();
	return MIG_PROGRESS;
}

struct mig_source *mig_source_start(struct machine *m, const struct mig_request *r, char *err,
				    size_t errlen)
{
	struct mig_source *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	struct memview mv;
	struct mig_conf conf = {0};
	taps_memview(m, &mv);
	s->m = m;
	s->req = *r;
	s->fd = s->ov_fd = -1;
	s->npages = mv.size / MIG_PAGE;
	sw_init(&s->w);
	s->t_start = s->t_round = s->t_report = mig_src_now_s();
	if (check_disk(s, &conf, err, errlen) || (s->fd = connect_tcp(r, err, errlen)) < 0)
		goto fail;
	if (chan_handshake(&s->ch, s->fd, r->key, true) || send_conf(s, &conf)) {
		snprintf(err, errlen, "%s", s->ch.err);
		goto fail;
	}
	if (await_accept(s, &conf, err, errlen))
		goto fail;
	chan_set_timeout(s->fd, r->timeout_ms);
	if (!s->base && begin_precopy(s, err, errlen))
		goto fail;
	return s;
fail:
	mig_source_free(s);
	return NULL;
}

/* ---- pages ---- */

static bool page_wanted(struct mig_source *s, const struct memview *mv, uint64_t i)
{
	const uint8_t *p = mv->ram + i * MIG_PAGE;
	if (!s->tracking)
		return memcmp(p, s->shadow + i * MIG_PAGE, MIG_PAGE) != 0;
	/* Round 1 sends what is not zero; later rounds every dirty page. */
	return s->st.rounds > 0 || !ram_page_is_zero(p);
}

/* Collect up to MIG_BATCH_PAGES candidates from the cursor on. */
static size_t collect(struct mig_source *s, uint32_t *pages)
{
	struct memview mv;
	taps_memview(s->m, &mv);
	double t0 = mig_src_now_s();
	size_t n = 0;
	while (n < MIG_BATCH_PAGES && s->cursor < s->npages) {
		uint64_t i = s->cursor, word = s->pending[i / 64] >> (i % 64);
		if (!word) { /* skip the rest of an empty word */
			s->cursor = (i / 64 + 1) * 64;
			continue;
		}
		i += (uint64_t)__builtin_ctzll(word);
		if (i >= s->npages)
			break;
		s->cursor = i + 1;
		if (page_wanted(s, &mv, i))
			pages[n++] = (uint32_t)i;
	}
	if (s->cursor > s->npages)
		s->cursor = s->npages;
	s->scan_s += mig_src_now_s() - t0;
	return n;
}

int mig_src_send_pages(struct mig_source *s, const uint32_t *pages, size_t n, char *err,
		      size_t errlen)
{
	unsigned zero = 0;
	sw_reset(&s->w);
	if (mig_ram_encode(&s->w, s->m, pages, n, &zero, err, errlen))
		return -1;
	if (chan_send(&s->ch, MIG_RAM, s->w.buf, s->w.len, false)) {
		snprintf(err, errlen, "%s", s->ch.err);
		return -1;
	}
	if (s->shadow) {
		struct memview mv;
		taps_memview(s->m, &mv);
		for (size_t i = 0; i < n; i++)
			memcpy(s->shadow + (uint64_t)pages[i] * MIG_PAGE,
			       mv.ram + (uint64_t)pages[i] * MIG_PAGE, MIG_PAGE);
	}
	s->st.pages_sent += n;
	s->st.zero_pages += zero;
	s->round_pages += n;
	return 0;
}

/* ---- the disk ---- */

/* Send the overlay's records from disk_sent up to `end`, at most
 * `max_batches` messages (0: all). */
static int send_disk(struct mig_source *s, uint64_t end, unsigned max_batches, char *err,
		     size_t errlen)
{
	uint8_t *buf = NULL;
	int rc = 0;
	for (unsigned b = 0; s->disk_sent < end && (!max_batches || b < max_batches); b++) {
		uint64_t len = end - s->disk_sent, cap = (uint64_t)MIG_DISK_RECORDS * OVERLAY_RECORD_BYTES;
		len = len < cap ? len : cap;
		len -= len % OVERLAY_RECORD_BYTES;
		if (!buf && !(buf = malloc((size_t)cap))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		ssize_t got = pread(s->ov_fd, buf, (size_t)len, (off_t)s->disk_sent);
		if (len == 0 || got != (ssize_t)len) {
			snprintf(err, errlen, "reading the overlay at %llu: %s",
				 (unsigned long long)s->disk_sent,
				 got < 0 ? strerror(errno) : "short read (not whole records)");
			rc = -1;
			break;
		}
		sw_reset(&s->w);
		if (mig_disk_encode(&s->w, s->disk_sent, buf, (size_t)len, err, errlen)) {
			rc = -1;
			break;
		}
		if (chan_send(&s->ch, MIG_DISK, s->w.buf, s->w.len, false)) {
			snprintf(err, errlen, "%s", s->ch.err);
			rc = -1;
			break;
		}
		s->disk_sent += len;
		s->st.disk_bytes += len;
	}
	free(buf);
	return rc;
}

static uint64_t disk_end(const struct mig_source *s)
{
	struct disk_identity id;
	taps_disk_identity(s->m, &id);
	return s->ov_fd >= 0 ? id.overlay_len : 0;
}

/* ---- rounds ---- */

static double rate(const struct mig_source *s)
{
	return s->send_s > 0 ? (double)s->st.pages_sent / s->send_s : 0;
}

static void update_estimates(struct mig_source *s, uint64_t left)
{
	double r = rate(s);
	s->st.pages_pending = left;
	s->st.pages_per_s = r;
	s->st.est_downtime_ms =
		(r > 0 ? (double)left / r * 1e3 : 0) + (s->tracking ? 0 : s->round_scan_s * 1e3);
}

/* A round ended: count it, and start the next one.  Returns true when
 * the rest fits the budget (or rounds stop shrinking): time to stop. */
static bool end_round(struct mig_source *s)
{
	double t = mig_src_now_s();
	s->st.rounds++;
	s->st.pages_last_round = s->round_pages;
	s->st.dirty_pages_per_s = t > s->t_round ? (double)s->round_pages / (t - s->t_round) : 0;
	s->round_scan_s = s->scan_s;
	uint64_t left = s->round_pages; /* without tracking: the best guess */
	if (s->tracking) {
		long n = taps_dirty_fetch(s->m, s->pending, (size_t)s->npages);
		left = n > 0 ? (uint64_t)n : 0;
		s->cursor = 0;
	} else {
		all_pending(s);
	}
	update_estimates(s, left);
	bool shrinking = s->st.rounds < 3 || s->round_pages < s->prev_round_pages;
	s->prev_round_pages = s->round_pages;
	s->round_pages = 0;
	s->scan_s = 0;
	s->t_round = t;
	return s->st.rounds > 1 && (s->st.est_downtime_ms <= s->req.downtime_ms || !shrinking ||
				    s->st.rounds >= MAX_ROUNDS);
}

/* ---- sections sent ahead ---- */

/* The sections that do not change while the VM runs (mig_section_ahead:
 * the boot image, which only a restore or a boot replaces), now. */
static int send_ahead(struct mig_source *s, char *err, size_t errlen)
{
	struct state_writer all, ahead;
	sw_init(&all);
	sw_init(&ahead);
	snapshot_encode_state(s->m, &all);
	int rc = mig_split_sections(all.buf, all.len, &ahead, NULL);
	if (rc)
		snprintf(err, errlen, "out of memory encoding the state");
	for (size_t off = 0; rc == 0 && off < ahead.len; off += STATE_PART) {
		size_t part = ahead.len - off < STATE_PART ? ahead.len - off : STATE_PART;
		if (chan_send(&s->ch, MIG_AHEAD, ahead.buf + off, part, false)) {
			snprintf(err, errlen, "%s", s->ch.err);
			rc = -1;
		}
	}
	sw_free(&all);
	sw_free(&ahead);
	return rc;
}

/* ---- the stop-and-copy and the handover ---- */

int mig_src_expect(struct mig_source *s, uint8_t want, char *err, size_t errlen)
{
	uint8_t type;
	const uint8_t *body;
	size_t len;
	if (chan_recv(&s->ch, &type, &body, &len) < 0) {
		snprintf(err, errlen, "waiting for the destination's %s: %s", mig_msg_name(want),
			 s->ch.err);
		return -1;
	}
	if (type == MIG_ERROR) {
		snprintf(err, errlen, "the destination refused: %.*s", (int)(len < 400 ? len : 400),
			 (const char *)body);
		return -1;
	}
	if (type != want) {
		snprintf(err, errlen, "the destination sent %s, expected %s", mig_msg_name(type),
			 mig_msg_name(want));
		return -1;
	}
	return 0;
}

/* The devices, CPU and disk at the stop. */
int mig_src_send_state(struct mig_source *s, char *err, size_t errlen)
{
	/* The state freezes the disk (a flush) and names its final length:
	 * the records up to there go first. */
	struct state_writer st;
	sw_init(&st);
	int rc = snapshot_save_without_ram(s->m, &st, false, err, errlen);
	if (rc == 0)
		rc = send_disk(s, disk_end(s), 0, err, errlen);
	for (size_t off = 0; rc == 0 && off < st.len; off += STATE_PART) {
		size_t part = st.len - off < STATE_PART ? st.len - off : STATE_PART;
		if (chan_send(&s->ch, MIG_STATE, st.buf + off, part, false)) {
			snprintf(err, errlen, "%s", s->ch.err);
			rc = -1;
		}
	}
	sw_free(&st);
	return rc;
}

int mig_src_send_end(struct mig_source *s, char *err, size_t errlen)
{
	if (chan_send(&s->ch, MIG_END, NULL, 0, false)) {
		snprintf(err, errlen, "%s", s->ch.err);
		return -1;
	}
	return 0;
}

void mig_trace(const char *side, const char *event)
{
	if (getenv("KEEL_MIGRATE_TRACE"))
		fprintf(stderr, "keel: migrate-trace %s %s %.6f\n", side, event, mig_src_now_s());
}

static int send_rest(struct mig_source *s, char *err, size_t errlen)
{
	uint32_t pages[MIG_BATCH_PAGES];
	size_t n;
	while ((n = collect(s, pages)) > 0)
		if (mig_src_send_pages(s, pages, n, err, errlen))
			return -1;
	double t = mig_src_now_s();
	s->st.stop_pages_ms = (t - s->t_stop) * 1e3;
	mig_trace("source", "pages-sent");
	if (mig_src_send_state(s, err, errlen) || mig_src_send_end(s, err, errlen))
		return -1;
	s->st.stop_state_ms = (mig_src_now_s() - t) * 1e3;
	mig_trace("source", "end-sent");
	return 0;
}

int mig_src_handover(struct mig_source *s, bool final, char *err, size_t errlen)
{
	double t = mig_src_now_s();
	if (mig_src_expect(s, MIG_READY, err, errlen))
		return -1;
	double t_ready = mig_src_now_s();
	s->st.stop_ready_ms = (t_ready - t) * 1e3;
	mig_trace("source", "ready-received");
	if (chan_send(&s->ch, MIG_GO, NULL, 0, final)) {
		snprintf(err, errlen, "sending GO: %s; the VM stays paused here: resume it "
				      "only if the destination is not running it",
			 s->ch.err);
		return 1;
	}
	if (mig_src_expect(s, MIG_RUNNING, err, errlen)) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, "; the VM stays paused here: resume it only if the "
					      "destination is not running it");
		return 1;
	}
	mig_trace("source", "running-received");
	s->st.stop_running_ms = (mig_src_now_s() - t_ready) * 1e3;
	return 0;
}

static enum mig_status stop_and_copy(struct mig_source *s, char *err, size_t errlen)
{
	s->t_stop = mig_src_now_s();
	mig_trace("source", "stop");
	s->st.icount = taps_icount(s->m);
	if (send_rest(s, err, errlen))
		return MIG_FAILED;
	int rc = mig_src_handover(s, true, err, errlen);
	if (rc)
		return rc < 0 ? MIG_FAILED : MIG_UNCONFIRMED;
	double t = mig_src_now_s();
	s->st.downtime_ms = (t - s->t_stop) * 1e3;
	s->st.total_ms = (t - s->t_start) * 1e3;
	s->st.bytes = s->ch.bytes_out + s->ch.bytes_in;
	return MIG_DONE;
}
/* The migration is over, one way or another: tracking costs the VM a
 * little on every first write to a page, so it goes. */
static enum mig_status finish(struct mig_source *s, enum mig_status st)
{
	if (st != MIG_CONTINUE && st != MIG_PROGRESS && st != MIG_HANDED_OVER && s->tracking) {
		taps_dirty_disable(s->m);
		s->tracking = false;
	}
	return st;
}

/* ---- catching up before the stop ---- */

/* When it is time to stop, the destination may still be taking what was
 * sent (decompressing and writing the last round's pages, loading the
 * sections sent ahead), and all of that would fall inside the downtime.
 * SYNC asks it to answer once it has; the VM runs on meanwhile, and what
 * it writes goes with the stop. */
static enum mig_status start_sync(struct mig_source *s, bool pc, bool progress, char *err,
				  size_t errlen)
{
	if (pc && mig_pc_presend(s, err, errlen))
		return finish(s, MIG_FAILED);
	if (chan_send(&s->ch, MIG_SYNC, NULL, 0, false)) {
		snprintf(err, errlen, "%s", s->ch.err);
		return finish(s, MIG_FAILED);
	}
	mig_trace("source", "sync-sent");
	s->syncing = true;
	s->sync_pc = pc;
	s->t_sync = mig_src_now_s();
	return progress ? MIG_PROGRESS : MIG_CONTINUE;
}

/* The pages written since the last round ended join its dirty set. */
static int add_dirty(struct mig_source *s, char *err, size_t errlen)
{
	uint64_t words = (s->npages + 63) / 64;
	uint64_t *more = calloc(words, 8);
	if (!more || taps_dirty_fetch(s->m, more, s->npages) < 0) {
		free(more);
		snprintf(err, errlen, "out of memory for the migration's page sets");
		return -1;
	}
	for (uint64_t w = 0; w < words; w++)
		s->pending[w] |= more[w];
	free(more);
	return 0;
}

/* SYNCED come: stop.  Until then the VM runs on (MIG_CONTINUE); a
 * destination silent for timeout_ms fails the migration, the VM running
 * on here. */
static enum mig_status stop_after_sync(struct mig_source *s, char *err, size_t errlen)
{
	struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
	if (poll(&pfd, 1, 0) <= 0) {
		if ((mig_src_now_s() - s->t_sync) * 1e3 <= s->req.timeout_ms)
			return MIG_CONTINUE;
		snprintf(err, errlen, "the destination did not catch up within %u ms",
			 s->req.timeout_ms);
		return finish(s, MIG_FAILED);
	}
	if (mig_src_expect(s, MIG_SYNCED, err, errlen))
		return finish(s, MIG_FAILED);
	mig_trace("source", "synced");
	s->syncing = false;
	if (s->sync_pc)
		return finish(s, mig_pc_start(s, err, errlen));
	if (s->tracking && add_dirty(s, err, errlen))
		return finish(s, MIG_FAILED);
	return finish(s, stop_and_copy(s, err, errlen));
}

enum mig_status mig_source_step(struct mig_source *s, char *err, size_t errlen)
{
	uint32_t pages[MIG_BATCH_PAGES];
	double t0 = mig_src_now_s();
	err[0] = '\0';
	if (s->pc)
		return mig_pc_step(s, err, errlen);
	if (s->base)
		return base_step(s, err, errlen);
	if (s->syncing)
		return stop_after_sync(s, err, errlen);
	if (s->req.postcopy == MIG_POSTCOPY_NOW)
		return mig_pc_scan_step(s) ? start_sync(s, true, false, err, errlen) : MIG_CONTINUE;
	bool stop = false, progress = false;
	/* A throttled link carries one batch per throttle_ms, and the VM runs
	 * on meanwhile; the time counts as sending, so the rate is the link's. */
	double budget = s->req.throttle_ms ? 0 : STEP_MS / 1e3;
	if (s->req.throttle_ms) {
		if (t0 < s->next_send)
			return MIG_CONTINUE;
		s->next_send = t0 + s->req.throttle_ms / 1e3;
		s->send_s += s->req.throttle_ms / 1e3;
	}
	do {
		size_t n = collect(s, pages);
		if (n && mig_src_send_pages(s, pages, n, err, errlen))
			return finish(s, MIG_FAILED);
		if (s->cursor >= s->npages) {
			if (chan_send(&s->ch, MIG_ROUND, NULL, 0, false)) {
				snprintf(err, errlen, "%s", s->ch.err);
				return finish(s, MIG_FAILED);
			}
			stop = end_round(s);
			progress = true;
			break;
		}
	} while (mig_src_now_s() - t0 < budget);
	if (s->ov_fd >= 0 && send_disk(s, disk_end(s), 1, err, errlen))
		return finish(s, MIG_FAILED);
	s->send_s += mig_src_now_s() - t0;
	s->st.bytes = s->ch.bytes_out + s->ch.bytes_in;
	if (stop) /* into post-copy when pre-copy does not converge */
		return start_sync(s, s->req.postcopy == MIG_POSTCOPY_AUTO &&
					     s->st.est_downtime_ms > s->req.downtime_ms,
				  true, err, errlen);
	if (!progress && (mig_src_now_s() - s->t_report) * 1e3 >= PROGRESS_MS) {
		update_estimates(s, s->st.pages_pending);
		progress = true;
	}
	if (progress)
		s->t_report = mig_src_now_s();
	return progress ? MIG_PROGRESS : MIG_CONTINUE;
}

void mig_source_stats(const struct mig_source *s, struct mig_stats *out)
{
	*out = s->st;
}

int mig_source_fd(const struct mig_source *s)
{
	return s->fd;
}

short mig_source_events(const struct mig_source *s)
{
	return s->pc ? mig_pc_events(s) : s->syncing ? POLLIN : POLLOUT;
}

int mig_source_timeout_ms(const struct mig_source *s)
{
	return s->pc ? mig_pc_timeout_ms(s) : -1;
}

bool mig_source_handed_over(const struct mig_source *s)
{
	return s->pc;
}

void mig_source_free(struct mig_source *s)
{
	if (!s)
		return;
	if (s->tracking)
		taps_dirty_disable(s->m);
	chan_free(&s->ch);
	if (s->fd >= 0)
		close(s->fd);
	if (s->ov_fd >= 0)
		close(s->ov_fd);
	if (s->shadow)
		munmap(s->shadow, s->shadow_len);
	free(s->pending);
	free(s->pc_left);
	mig_base_send_free(s->base);
	sw_free(&s->w);
	sodium_memzero(s->req.key, sizeof(s->req.key));
	free(s);
}
