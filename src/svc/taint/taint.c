/* Byte taint over a replay (taint.h): network flows as sources, writes to
 * one file as the sink.  The propagation itself is the machine's
 * (vm/taps_taint.c); this names the labels and reads the answer. */
#include "svc/taint/taint.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "svc/vmi/vmi.h"
#include "svc/vmi/vmi_events.h"
#include "vm/taps.h"

/* asm-generic/unistd.h, which riscv64 uses */
enum { NR_WRITE = 64, NR_WRITEV = 66, NR_PWRITE64 = 67, NR_PWRITEV = 69, NR_PWRITEV2 = 287 };

#define MAX_LABELS 32 /* a label set is a 32-bit mask */
#define MAX_IOV 64 /* iovecs of one writev looked at */
#define TEXT_MAX 240 /* bytes of a write shown in the result */
#define PATH_MAX_LEN 4096

struct flow {
	uint8_t proto; /* 6 TCP, 17 UDP */
	uint8_t src[4], dst[4];
	uint16_t sport, dport;
	uint64_t first_icount, payload_bytes;
};

struct taint_svc {
	struct machine *m;
	char *path;
	struct vmi_events *ev; /* finds the kernel (attach on first need) */
	int trap_id, event_id;
	bool on; /* the machine's taint is on (from the first labelled frame) */
	uint64_t on_icount;
	char why_off[128]; /* why it could not be turned on, or "" */
	struct tap_trap_ops ops;
	struct flow flows[MAX_LABELS];
	unsigned nflows;
	bool shared_last; /* more flows than labels: the last label is shared */
	uint64_t bytes_by_label[MAX_LABELS];
	uint64_t first_by_label[MAX_LABELS]; /* icount of the first write carrying it */
	json_t *writes;
	uint64_t bytes_written, bytes_labelled;
	unsigned long unresolved; /* writes whose descriptor could not be read */
};

/* ---- sources: frames ---- */

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static unsigned flow_label(struct taint_svc *s, const struct flow *f, uint64_t icount)
{
	for (unsigned i = 0; i < s->nflows; i++) {
		const struct flow *g = &s->flows[i];
		if (g->proto == f->proto && g->sport == f->sport && g->dport == f->dport &&
		    !memcmp(g->src, f->src, 4) && !memcmp(g->dst, f->dst, 4))
			return i;
	}
	if (s->nflows == MAX_LABELS) {
		s->shared_last = true;
		return MAX_LABELS - 1;
	}
	s->flows[s->nflows] = *f;
	s->flows[s->nflows].first_icount = icount;
	return s->nflows++;
}

/* An IPv4 TCP or UDP frame's payload gets its flow's label; anything else
 * (ARP, headers, other protocols) arrives clean.  The frame is the
 * guest's input as logged: every length is checked against len. */
static uint32_t on_frame(void *opaque, const uint8_t *frame, size_t len, size_t *payload_off)
{
	struct taint_svc *s = opaque;
	if (len < 14 + 20 || be16(frame + 12) != 0x0800)
		return 0;
	const uint8_t *ip = frame + 14;
	size_t ihl = (size_t)(ip[0] & 15) * 4, total = be16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || 14 + total > len)
		return 0;
	struct flow f = {.proto = ip[9]};
	memcpy(f.src, ip + 12, 4);
	memcpy(f.dst, ip + 16, 4);
	const uint8_t *l4 = ip + ihl;
	size_t l4len = total - ihl, hdr;
	if (f.proto == 6 && l4len >= 20)
		hdr = (size_t)(l4[12] >> 4) * 4;
	else if (f.proto == 17 && l4len >= 8)
		hdr = 8;
	else
		return 0;
	if (hdr < 8 || hdr >= l4len) /* no payload (a bare ACK, SYN, FIN) */
		return 0;
	f.sport = be16(l4);
	f.dport = be16(l4 + 2);
	unsigned label = flow_label(s, &f, taps_icount(s->m));
	s->flows[label].payload_bytes += l4len - hdr;
	*payload_off = 14 + ihl + hdr;
	/* Ethernet padding past the IP datagram stays clean */
	return 1u << label;
}

/* Nothing before the first frame with a payload can carry a label, so
 * taint (one instruction at a time) is turned on there, and the boot
 * before it replays at full speed.  The frame itself is labelled right
 * after this observer returns (taps.h, taps_taint_net_source). */
static void on_event(void *opaque, uint64_t icount, enum event_kind kind, const void *payload,
		     size_t len)
{
	struct taint_svc *s = opaque;
	size_t off;
	if (s->on || kind != EV_NET_FRAME || s->why_off[0])
		return;
	struct taint_svc probe = {.m = s->m}; /* classify without counting */
	if (!on_frame(&probe, payload, len, &off))
		return;
	if (taps_taint_enable(s->m)) {
		snprintf(s->why_off, sizeof(s->why_off), "byte taint could not be turned on at "
			 "icount %" PRIu64 " (memory, or observers taken)", icount);
		return;
	}
	taps_taint_net_source(s->m, on_frame, s);
	s->on = true;
	s->on_icount = icount;
}

/* ---- the sink: writes to PATH ---- */

static bool is_write(uint64_t nr)
{
	return nr == NR_WRITE || nr == NR_PWRITE64 || nr == NR_WRITEV || nr == NR_PWRITEV ||
	       nr == NR_PWRITEV2;
}

struct write_acc {
	uint64_t bytes, labelled;
	uint32_t labels;
	uint64_t per_label[MAX_LABELS];
	char text[TEXT_MAX + 1];
	size_t ntext;
};

/* Account for len bytes of the user buffer at va. */
static void account(struct taint_svc *s, struct write_acc *a, uint64_t satp, uint64_t va,
		    uint64_t len)
{
	struct memview mv;
	taps_memview(s->m, &mv);
	uint32_t per[512];
	uint8_t bytes[512];
	while (len) {
		uint64_t n = 512 - (va & 511);
		if (n > len)
			n = len;
		uint64_t pa;
		if (memview_translate(&mv, satp, va, &pa, NULL) != MV_OK)
			break; /* unmapped: the kernel would have failed the write there */
		taps_taint_query(s->m, pa, n, per);
		memview_read_phys(&mv, pa, bytes, n);
		for (uint64_t i = 0; i < n; i++) {
			a->bytes++;
			if (per[i])
				a->labelled++;
			a->labels |= per[i];
			for (unsigned l = 0; l < MAX_LABELS; l++)
				if (per[i] & (1u << l))
					a->per_label[l]++;
			if (a->ntext < TEXT_MAX)
				a->text[a->ntext++] = (char)bytes[i];
		}
		va += n;
		len -= n;
	}
}

/* The user buffers of a writev that wrote `total` bytes. */
static void account_iov(struct taint_svc *s, struct write_acc *a, uint64_t satp, uint64_t iov,
			uint64_t cnt, uint64_t total)
{
	struct memview mv;
	taps_memview(s->m, &mv);
	for (uint64_t i = 0; i < cnt && i < MAX_IOV && total; i++) {
		uint64_t v[2];
		if (memview_read_virt(&mv, satp, iov + 16 * i, v, 16) != 16)
			break;
		uint64_t n = v[1] < total ? v[1] : total;
		account(s, a, satp, v[0], n);
		total -= n;
	}
}

static json_t *text_json(const struct write_acc *a)
{
	char buf[4 * TEXT_MAX + 1];
	size_t o = 0;
	for (size_t i = 0; i < a->ntext; i++) {
		unsigned char c = (unsigned char)a->text[i];
		if (c >= 32 && c < 127 && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, c == '\n' ? "\\n" : "\\x%02x",
					      c);
	}
	buf[o] = 0;
	return json_string(buf);
}

static void record_write(struct taint_svc *s, const struct tap_trap_return *r, struct vmi *v,
			 uint64_t task, const struct write_acc *a)
{
	struct vmi_task vt = {0};
	vmi_task_read(v, task, &vt);
	for (char *c = vt.comm; *c; c++) /* the guest's bytes: keep the JSON valid */
		if (*c < 32 || *c > 126)
			*c = '?';
	json_t *labels = json_array();
	for (unsigned l = 0; l < MAX_LABELS; l++) {
		if (!(a->labels & (1u << l)))
			continue;
		json_array_append_new(labels, json_integer(l));
		s->bytes_by_label[l] += a->per_label[l];
		if (!s->first_by_label[l])
			s->first_by_label[l] = r->icount;
	}
	json_array_append_new(
		s->writes,
		json_pack("{s:I,s:i,s:s,s:I,s:I,s:I,s:o,s:o}", "icount", (json_int_t)r->icount,
			  "pid", vt.tgid, "comm", vt.comm, "fd", (json_int_t)r->args[0], "bytes",
			  (json_int_t)a->bytes, "labelled", (json_int_t)a->labelled, "labels",
			  labels, "text", text_json(a)));
	s->bytes_written += a->bytes;
	s->bytes_labelled += a->labelled;
}

/* At the return of a write that wrote something: the bytes it took from
 * the user's buffer are still there, as is the descriptor. */
static void on_return(void *opaque, const struct tap_trap_return *r)
{
	struct taint_svc *s = opaque;
	if (!r->syscall || !is_write(r->nr) || (int64_t)r->ret <= 0)
		return;
	struct vmi *v = vmi_events_vmi(s->ev, r->icount, r->satp);
	uint64_t task = taps_sscratch(s->m); /* Linux/riscv keeps current there in U-mode */
	if (!v || !task)
		return;
	char path[PATH_MAX_LEN];
	if (vmi_task_fd_path(v, task, (int)r->args[0], path, sizeof(path))) {
		s->unresolved++;
		return;
	}
	if (strcmp(path, s->path))
		return;
	struct write_acc a = {0};
	if (r->nr == NR_WRITE || r->nr == NR_PWRITE64)
		account(s, &a, r->satp, r->args[1], r->ret);
	else
		account_iov(s, &a, r->satp, r->args[1], r->args[2], r->ret);
	record_write(s, r, v, task, &a);
}

/* The events themselves are not wanted: only the kernel they find. */
static void ignore_event(void *opaque, json_t *event, struct vmi *v)
{
}

struct taint_svc *taint_start(struct machine *m, const struct taint_options *o, char *err,
			      size_t errlen)
{
	if (!o->path || o->path[0] != '/') {
		snprintf(err, errlen, "the file to follow must be an absolute path");
		return NULL;
	}
	struct taint_svc *s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(o->path)) || !(s->writes = json_array())) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	s->m = m;
	s->trap_id = s->event_id = -1;
	struct vmi_options vo = {.vmlinux = o->vmlinux};
	s->ev = vmi_events_start_sink(m, ignore_event, NULL, &vo, err, errlen);
	if (!s->ev)
		goto fail;
	s->event_id = taps_event_subscribe(m, on_event, s);
	if (s->event_id < 0) {
		snprintf(err, errlen, "no event observer slot left");
		goto fail;
	}
	s->ops = (struct tap_trap_ops){NULL, on_return};
	s->trap_id = taps_trap_subscribe(m, &s->ops, s);
	if (s->trap_id < 0) {
		snprintf(err, errlen, "no trap observer slot left");
		goto fail;
	}
	return s;
fail:
	taint_stop(s);
	return NULL;
}

void taint_stop(struct taint_svc *s)
{
	if (!s)
		return;
	if (s->m) {
		if (s->trap_id >= 0)
			taps_trap_unsubscribe(s->m, s->trap_id);
		if (s->event_id >= 0)
			taps_event_unsubscribe(s->m, s->event_id);
		if (s->on)
			taps_taint_disable(s->m);
	}
	if (s->ev)
		vmi_events_stop(s->ev);
	json_decref(s->writes);
	free(s->path);
	free(s);
}

/* ---- the answer ---- */

static void addr(char *buf, size_t max, const uint8_t ip[4], uint16_t port)
{
	snprintf(buf, max, "%u.%u.%u.%u:%u", ip[0], ip[1], ip[2], ip[3], port);
}

static json_t *flow_json(const struct taint_svc *s, unsigned l)
{
	const struct flow *f = &s->flows[l];
	char src[32], dst[32];
	addr(src, sizeof(src), f->src, f->sport);
	addr(dst, sizeof(dst), f->dst, f->dport);
	/* Inbound frames: the sender is the peer.  The guest serves a
	 * connection it did not open, so the sender's port is the client's. */
	return json_pack("{s:i,s:s,s:s,s:s,s:i,s:i,s:I,s:I,s:b}", "label", l, "proto",
			 f->proto == 6 ? "tcp" : "udp", "src", src, "dst", dst, "client_port",
			 f->sport, "server_port", f->dport, "first_icount",
			 (json_int_t)f->first_icount, "payload_bytes", (json_int_t)f->payload_bytes,
			 "shared", s->shared_last && l == MAX_LABELS - 1);
}

static int by_bytes(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "bytes"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "bytes"));
	return x < y ? 1 : x > y ? -1 : 0;
}

json_t *taint_result(const struct taint_svc *s)
{
	json_t *flows = json_array(), *notes = json_array();
	json_t *answer[MAX_LABELS];
	size_t nanswer = 0;
	for (unsigned l = 0; l < s->nflows; l++) {
		json_array_append_new(flows, flow_json(s, l));
		if (!s->bytes_by_label[l])
			continue;
		json_t *a = flow_json(s, l);
		json_object_del(a, "payload_bytes");
		json_object_set_new(a, "bytes", json_integer((json_int_t)s->bytes_by_label[l]));
		json_object_set_new(a, "first_icount",
				    json_integer((json_int_t)s->first_by_label[l]));
		answer[nanswer++] = a;
	}
	qsort(answer, nanswer, sizeof(answer[0]), by_bytes);
	json_t *ans = json_array();
	for (size_t i = 0; i < nanswer; i++)
		json_array_append_new(ans, answer[i]);
	if (s->shared_last)
		json_array_append_new(notes, json_sprintf("more than %d flows: label %d is shared "
							  "by the later ones",
							  MAX_LABELS, MAX_LABELS - 1));
	if (s->why_off[0])
		json_array_append_new(notes, json_string(s->why_off));
	if (s->unresolved)
		json_array_append_new(notes, json_sprintf("%lu writes to descriptors whose file "
							  "could not be read were not looked at",
							  s->unresolved));
	return json_pack("{s:s,s:O,s:o,s:o,s:I,s:I,s:o,s:o}", "path", s->path, "writes",
			 s->writes, "connections", flows, "answer", ans, "bytes_written",
			 (json_int_t)s->bytes_written, "bytes_labelled",
			 (json_int_t)s->bytes_labelled, "taint_from_icount",
			 s->on ? json_integer((json_int_t)s->on_icount) : json_null(), "notes", notes);
}

void taint_print(FILE *out, const json_t *r)
{
	const char *path = json_string_value(json_object_get(r, "path"));
	json_t *writes = json_object_get(r, "writes"), *ans = json_object_get(r, "answer");
	json_int_t total = json_integer_value(json_object_get(r, "bytes_written"));
	json_int_t labelled = json_integer_value(json_object_get(r, "bytes_labelled"));
	fprintf(out, "%s: %zu writes, %" JSON_INTEGER_FORMAT " bytes, %" JSON_INTEGER_FORMAT
		     " of them from the network\n",
		path, json_array_size(writes), total, labelled);
	size_t i;
	json_t *a;
	json_array_foreach(ans, i, a) {
		fprintf(out, "  %" JSON_INTEGER_FORMAT " bytes from %s %s -> %s (client port %"
			     JSON_INTEGER_FORMAT "), first written at icount %" JSON_INTEGER_FORMAT
			     "\n",
			json_integer_value(json_object_get(a, "bytes")),
			json_string_value(json_object_get(a, "proto")),
			json_string_value(json_object_get(a, "src")),
			json_string_value(json_object_get(a, "dst")),
			json_integer_value(json_object_get(a, "client_port")),
			json_integer_value(json_object_get(a, "first_icount")));
	}
	json_array_foreach(writes, i, a) {
		if (!json_integer_value(json_object_get(a, "labelled")))
			continue;
		fprintf(out, "  write at icount %" JSON_INTEGER_FORMAT " by pid %" JSON_INTEGER_FORMAT
			     " (%s): \"%s\"\n",
			json_integer_value(json_object_get(a, "icount")),
			json_integer_value(json_object_get(a, "pid")),
			json_string_value(json_object_get(a, "comm")),
			json_string_value(json_object_get(a, "text")));
	}
	json_t *n;
	json_array_foreach(json_object_get(r, "notes"), i, n)
		fprintf(out, "  note: %s\n", json_string_value(n));
}
