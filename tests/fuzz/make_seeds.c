/* Writes the seed corpora of tests/fuzz/corpus/ (`make fuzz-seeds`): for
 * each target a few inputs that reach deep into the code, made with keel's
 * own writers so they stay valid when a format changes.  The fuzzers and
 * `make test` start from these plus whatever crash inputs were added by
 * hand (those are named crash-* and never regenerated).
 *
 * Usage: make_seeds CORPUS_DIR */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "dev/disk_image.h"
#include "dev/virtio.h"
#include "dev/virtio_blk.h"
#include "fuzz_common.h"
#include "fuzz_vmi.h"
#include "svc/log/log_keys.h"
#include "svc/log/log_writer.h"
#include "svc/migrate/migrate.h"
#include "svc/migrate/stream.h"
#include "vm/sealed_snapshot.h"
#include "vm/snapshot.h"

#include <sodium.h>

static const char *corpus;

static void seed_path(char *out, size_t cap, const char *target, const char *name)
{
	snprintf(out, cap, "%s/%s", corpus, target);
	mkdir(out, 0755);
	snprintf(out, cap, "%s/%s/%s", corpus, target, name);
}

static void put_seed(const char *target, const char *name, const void *data, size_t len)
{
	char path[512];
	seed_path(path, sizeof(path), target, name);
	fuzz_write_file(path, data, len);
}

static void copy_seed(const char *target, const char *name, const char *from)
{
	FILE *f = fopen(from, "rb");
	if (!f)
		fuzz_die(from, "cannot read");
	static uint8_t buf[8 << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	put_seed(target, name, buf, n);
}

/* ---- op streams for fuzz_board.c (keep in step with its decoder) -------- */

struct ops {
	uint8_t b[4096];
	size_t n;
};

static void emit(struct ops *o, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		o->b[o->n++] = (uint8_t)(v >> (8 * i));
}

enum { OP_WRITE, OP_READ, OP_ANY, OP_RAW, OP_DESC, OP_DESC_AT, OP_PUBLISH, OP_BRING_UP, OP_HOST };

static void bring_up(struct ops *o, unsigned log2_num)
{
	emit(o, OP_BRING_UP, 1);
	emit(o, 1, 1); /* every feature offered */
	emit(o, log2_num, 1);
	emit(o, log2_num, 1);
}

/* A descriptor whose buffer is at DRAM + off (len < 64 KiB). */
static void desc_fields(struct ops *o, uint16_t off, uint16_t len, uint8_t flags, uint16_t next)
{
	emit(o, 0, 1), emit(o, off, 2);
	emit(o, 1, 1), emit(o, len, 2);
	emit(o, flags, 1), emit(o, next, 2);
}

static void desc(struct ops *o, unsigned q, unsigned i, uint16_t off, uint16_t len, uint8_t flags,
		 uint16_t next)
{
	emit(o, OP_DESC, 1), emit(o, q, 1), emit(o, i, 1);
	desc_fields(o, off, len, flags, next);
}

static void desc_at(struct ops *o, uint16_t at, uint16_t off, uint16_t len, uint8_t flags,
		    uint16_t next)
{
	emit(o, OP_DESC_AT, 1), emit(o, at, 2);
	desc_fields(o, off, len, flags, next);
}

static void raw(struct ops *o, uint16_t off, const void *p, uint8_t len)
{
	emit(o, OP_RAW, 1), emit(o, off, 2), emit(o, len, 1);
	for (unsigned i = 0; i < len; i++)
		emit(o, ((const uint8_t *)p)[i], 1);
}

static void publish(struct ops *o, unsigned q, uint16_t head)
{
	emit(o, OP_PUBLISH, 1), emit(o, q, 1), emit(o, head, 2), emit(o, 0, 1);
}

static void host(struct ops *o, uint16_t len, uint8_t fill)
{
	emit(o, OP_HOST, 1), emit(o, len, 2), emit(o, fill, 1);
}

#define W VIRTQ_DESC_F_WRITE
#define N VIRTQ_DESC_F_NEXT
#define I VIRTQ_DESC_F_INDIRECT
#define BUF 0x8000 /* buffers, above both queues' rings */

static void board_seeds(const char *target, unsigned q)
{
	struct ops o = {0};
	/* 1: a well-formed request: header, data, status. */
	bring_up(&o, 3);
	uint8_t hdr[16] = {0}; /* blk: IN, sector 0; others: just bytes */
	raw(&o, BUF, hdr, sizeof(hdr));
	bool blk = !strcmp(target, "virtio_blk");
	desc(&o, q, 0, BUF, 16, blk ? N : W | N, 1);
	desc(&o, q, 1, BUF + 0x100, 512, W | N, 2);
	desc(&o, q, 2, BUF + 0x400, 1, W, 0);
	publish(&o, q, 0);
	if (!blk)
		host(&o, 60, 0x42);
	put_seed(target, "seed-request", o.b, o.n);

	/* 2: a chain that loops back on itself. */
	o.n = 0;
	bring_up(&o, 2);
	desc(&o, q, 0, BUF, 16, N, 1);
	desc(&o, q, 1, BUF, 16, N, 0);
	publish(&o, q, 0);
	put_seed(target, "seed-loop", o.b, o.n);

	/* 3: an indirect table of three descriptors. */
	o.n = 0;
	bring_up(&o, 3);
	raw(&o, BUF, hdr, sizeof(hdr));
	desc(&o, q, 0, 0x9000, 48, I, 0);
	desc_at(&o, 0x9000, BUF, 16, blk ? N : W | N, 1);
	desc_at(&o, 0x9010, BUF + 0x100, 4096, W | N, 2);
	desc_at(&o, 0x9020, BUF + 0x400, 1, W, 0);
	publish(&o, q, 0);
	put_seed(target, "seed-indirect", o.b, o.n);

	/* 4: the other queue (net and console receive on 0, send on 1). */
	o.n = 0;
	bring_up(&o, 4);
	desc(&o, q ^ 1, 0, BUF, 2048, W, 0);
	publish(&o, q ^ 1, 0);
	desc(&o, q, 0, BUF + 0x1000, 100, 0, 0);
	publish(&o, q, 0);
	host(&o, 1500, 0x17);
	put_seed(target, "seed-both-queues", o.b, o.n);
}

static void platform_seed(void)
{
	struct ops o = {0};
	/* op 0: window, offset mode (odd: one byte), offset, size, write, value */
	static const struct {
		uint8_t w, off, size_log2, write;
		uint64_t val;
	} acc[] = {
		{0, 3, 0, 1, 0x80}, {0, 0, 0, 1, 1}, {0, 1, 0, 1, 0}, {0, 3, 0, 1, 3},
		{0, 1, 0, 1, 0x0f}, {0, 0, 0, 1, 'A'}, {0, 5, 0, 0, 0}, {0, 2, 0, 0, 0},
		{1, 4 * 10, 2, 1, 7}, {2, 0, 2, 1, 1}, {3, 0, 2, 0, 0}, {3, 4, 2, 0, 0},
		{3, 0x10, 2, 1, 1}, {4, 0, 2, 1, 0x3333},
	};
	for (size_t i = 0; i < sizeof(acc) / sizeof(acc[0]); i++) {
		emit(&o, 0, 1), emit(&o, acc[i].w, 1), emit(&o, 1, 1), emit(&o, acc[i].off, 1);
		emit(&o, acc[i].size_log2, 1), emit(&o, acc[i].write, 1), emit(&o, acc[i].val, 8);
	}
	/* PLIC enable (context 1 at 0x2080) and claim (0x201004): long offsets */
	emit(&o, 0, 1), emit(&o, 1, 1), emit(&o, 0, 1), emit(&o, 0x2080, 4);
	emit(&o, 2, 1), emit(&o, 1, 1), emit(&o, 0xffffffff, 8);
	emit(&o, 3, 1), emit(&o, 5, 1), emit(&o, 'x', 1), emit(&o, 'y', 1), emit(&o, '\n', 1),
		emit(&o, 'z', 1), emit(&o, 0, 1);
	emit(&o, 4, 1), emit(&o, 1000000, 4);
	emit(&o, 5, 1), emit(&o, 10, 1), emit(&o, 1, 1);
	emit(&o, 0, 1), emit(&o, 1, 1), emit(&o, 0, 1), emit(&o, 0x201004, 4);
	emit(&o, 2, 1), emit(&o, 0, 1), emit(&o, 0, 8);
	put_seed("platform", "seed-registers", o.b, o.n);
}

/* ---- files --------------------------------------------------------------- */

/* The same snapshot as a keel before the integrity check wrote it: no SUM
 * section, header flags 0 (the legacy path, with its warning). */
static void old_format_seed(const char *path)
{
	FILE *f = fopen(path, "rb");
	static uint8_t buf[8 << 20];
	size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	size_t trailer = STATE_SECTION_HEADER_LEN + SNAPSHOT_SUM_BYTES;
	if (n < STATE_FILE_HEADER_LEN + trailer)
		fuzz_die(path, "too short for a snapshot");
	buf[12] = 0;
	put_seed("snapshot", "seed-old-format", buf, n - trailer);
}

static void snapshot_seeds(const char *scratch)
{
	struct machine m;
	struct machine_config cfg = fuzz_machine_config();
	char err[4096], path[512];
	if (machine_init(&m, &cfg, err, sizeof(err)))
		fuzz_die("machine_init", err);
	/* Something in RAM and in a device, so more sections carry data. */
	memcpy(m.ram, "\x73\x00\x50\x10", 4); /* wfi */
	bus_write(&m.bus, VIRT_UART_BASE + 1, 1, 1);
	snprintf(path, sizeof(path), "%s/snap", scratch);
	if (snapshot_save_file(&m, path, err, sizeof(err)))
		fuzz_die("snapshot_save_file", err);
	copy_seed("snapshot", "seed-fresh", path);
	old_format_seed(path);
	snprintf(path, sizeof(path), "%s/sealed", scratch);
	if (sealed_snapshot_save_kdf(&m, path, FUZZ_PASSPHRASE, strlen(FUZZ_PASSPHRASE),
				     crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN, err,
				     sizeof(err)))
		fuzz_die("sealed_snapshot_save_kdf", err);
	copy_seed("sealed_snapshot", "seed-fresh", path);
	machine_free(&m);
}

static void log_seed(const char *scratch)
{
	char dir[512], key[512], err[512];
	snprintf(dir, sizeof(dir), "%s/log", scratch);
	snprintf(key, sizeof(key), "%s/seal.key", scratch);
	uint8_t key0[LOG_KEY_BYTES];
	fuzz_log_key0(key0, sizeof(key0));
	if (log_seal_key_store(key, 0, key0, err, sizeof(err)))
		fuzz_die(key, err);
	const struct log_writer_options o = {.dir = dir, .seal_key_path = key,
					     .seal_interval_ms = LOG_NEVER, .seal_bytes = LOG_NEVER,
					     .segment_bytes = LOG_NEVER};
	struct log_writer *w;
	if (log_writer_open(&w, &o, err, sizeof(err)))
		fuzz_die("log_writer_open", err);
	uint64_t epoch = 1700000000ull * 1000000000ull;
	log_writer_append(w, 0, LOG_REC_SESSION_START, "{\"keel\":\"fuzz\"}", 15);
	log_writer_append(w, 0, LOG_REC_RTC_EPOCH, &epoch, sizeof(epoch));
	log_writer_append(w, 10, LOG_REC_CONSOLE_INPUT, "ls\n", 3);
	log_writer_append(w, 20, LOG_REC_ENTROPY, "0123456789abcdef", 16);
	log_writer_flush(w);
	log_writer_seal(w);
	log_writer_append(w, 30, LOG_REC_IDLE_SKIP, NULL, 0);
	log_writer_append(w, 40, LOG_REC_API, "{\"cmd\":\"status\"}", 16);
	uint8_t digest[32] = {1, 2, 3};
	log_writer_append(w, 50, LOG_REC_DIGEST, digest, sizeof(digest));
	log_writer_flush(w);
	log_writer_seal(w);
	log_writer_append(w, 60, LOG_REC_SESSION_END, "{\"exit\":0}", 10);
	if (log_writer_close(w, err, sizeof(err)))
		fuzz_die("log_writer_close", err);
	char seg[600];
	snprintf(seg, sizeof(seg), "%s/seg-000000.klog", dir);
	copy_seed("log_verify", "seed-sealed-log", seg);
}

static void overlay_seed(const char *scratch)
{
	char base[512], ov[512], err[8192];
	snprintf(base, sizeof(base), "%s/base.img", scratch);
	snprintf(ov, sizeof(ov), "%s/overlay", scratch);
	fuzz_make_base(base);
	struct disk_image *d;
	if (disk_image_open_overlay(&d, ov, base, err, sizeof(err)))
		fuzz_die("disk_image_open_overlay", err);
	static uint8_t block[OVERLAY_BLOCK];
	memset(block, 0x11, sizeof(block));
	disk_image_write(d, 0, block, sizeof(block));
	disk_image_write(d, 5 * OVERLAY_BLOCK + 100, block, 1000);
	disk_image_write(d, 0, block, 10); /* block 0 again: a later record wins */
	disk_image_flush(d);
	disk_image_close(d);
	copy_seed("overlay", "seed-three-records", ov);
}

/* ---- a migration stream for fuzz_migrate.c ------------------------------ */

/* The destination's half of a real migration, recording what the source
 * sends in fuzz_migrate's input format (fuzz_common.h) and answering as
 * recv.c and postcopy.c do, without applying anything. */
struct recorder {
	int lfd;
	bool need_base; /* answer CONF with NEED_BASE */
	uint8_t *rec;
	size_t len, cap;
	size_t cut[64]; /* where each message begins, for the truncations */
	unsigned nmsg;
};

static void record(struct recorder *r, uint8_t type, bool final, const uint8_t *body, size_t len)
{
	if (r->len + FUZZ_MIG_HEADER + len > r->cap) {
		r->cap = 2 * (r->len + FUZZ_MIG_HEADER + len);
		r->rec = realloc(r->rec, r->cap);
		if (!r->rec)
			fuzz_die("make_seeds", "out of memory");
	}
	if (r->nmsg < sizeof(r->cut) / sizeof(r->cut[0]))
		r->cut[r->nmsg++] = r->len;
	uint8_t *h = r->rec + r->len;
	h[0] = type, h[1] = final ? FUZZ_MIG_FINAL : 0;
	h[2] = (uint8_t)len, h[3] = (uint8_t)(len >> 8), h[4] = (uint8_t)(len >> 16);
	memcpy(h + FUZZ_MIG_HEADER, body, len);
	r->len += FUZZ_MIG_HEADER + len;
}

static void *record_destination(void *arg)
{
	struct recorder *r = arg;
	uint8_t key[MIG_KEY_BYTES];
	fuzz_mig_key(key, sizeof(key));
	struct mig_channel ch;
	int fd = accept(r->lfd, NULL, NULL);
	if (fd < 0 || chan_handshake(&ch, fd, key, false))
		fuzz_die("record_destination", "handshake failed");
	bool postcopy = false, handed_over = false, done = false;
	while (!done) {
		uint8_t type, reply = 0, figures[32] = {0};
		const uint8_t *body;
		size_t len;
		if (chan_recv(&ch, &type, &body, &len) < 0)
			fuzz_die("record_destination", ch.err);
		record(r, type, ch.rx_final, body, len);
		bool final = false;
		size_t reply_len = 0;
		switch (type) {
		case MIG_CONF: reply = r->need_base ? MIG_NEED_BASE : MIG_ACCEPT; break;
		case MIG_BASE_END: reply = MIG_ACCEPT; break;
		case MIG_SYNC: reply = MIG_SYNCED; break;
		case MIG_POSTCOPY: postcopy = true; break;
		case MIG_END: reply = MIG_READY; break;
		case MIG_GO:
			reply = MIG_RUNNING, final = !postcopy, done = !postcopy;
			handed_over = true;
			break;
		case MIG_RAM: reply = handed_over ? MIG_PC_ACK : 0; break;
		case MIG_PC_DONE:
			reply = MIG_COMPLETE, final = done = true, reply_len = sizeof(figures);
			break;
		case MIG_ERROR: done = true; break;
		}
		if (reply && chan_send(&ch, reply, figures, reply_len, final))
			fuzz_die("record_destination", ch.err);
	}
	chan_free(&ch);
	close(fd);
	return NULL;
}

/* Migrate a small machine (some RAM written, an overlay with records)
 * into a recorder; r->rec is the stream. */
static void record_migration(struct recorder *r, const char *scratch, enum mig_postcopy_mode pc)
{
	char base[512], ov[512], spec[1100], err[8192];
	snprintf(base, sizeof(base), "%s/mig-base.img", scratch);
	snprintf(ov, sizeof(ov), "%s/mig-src.kov", scratch);
	snprintf(spec, sizeof(spec), "%s,overlay=%s", base, ov);
	fuzz_make_base(base);
	unlink(ov);
	struct disk_image *d;
	if (disk_image_open_overlay(&d, ov, base, err, sizeof(err)))
		fuzz_die("disk_image_open_overlay", err);
	static uint8_t block[OVERLAY_BLOCK];
	memset(block, 0x5c, sizeof(block));
	disk_image_write(d, 3 * OVERLAY_BLOCK, block, sizeof(block));
	disk_image_flush(d);
	disk_image_close(d);

	struct machine m;
	struct machine_config cfg = fuzz_machine_config();
	cfg.disk = spec;
	if (machine_init(&m, &cfg, err, sizeof(err)))
		fuzz_die("machine_init", err);
	memcpy(m.ram, "\x73\x00\x50\x10", 4); /* wfi */
	for (size_t i = 0; i < 4096; i++) /* a page zstd compresses, one it cannot */
		m.ram[0x3000 + i] = (uint8_t)(i / 64), m.ram[0x5000 + i] = (uint8_t)(i * 2654435761u >> 13);

	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	r->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(r->lfd, 1) || getsockname(r->lfd, (struct sockaddr *)&sa, &sl))
		fuzz_die("record_migration", "cannot listen on 127.0.0.1");
	pthread_t t;
	if (pthread_create(&t, NULL, record_destination, r))
		fuzz_die("pthread_create", "cannot start a thread");
	struct mig_request req = {.downtime_ms = 1000, .timeout_ms = 10000, .postcopy = pc};
	snprintf(req.host, sizeof(req.host), "127.0.0.1");
	snprintf(req.port, sizeof(req.port), "%u", (unsigned)ntohs(sa.sin_port));
	fuzz_mig_key(req.key, sizeof(req.key));
	struct mig_source *s = mig_source_start(&m, &req, err, sizeof(err));
	if (!s)
		fuzz_die("mig_source_start", err);
	enum mig_status st;
	do
		st = mig_source_step(s, err, sizeof(err));
	while (st == MIG_CONTINUE || st == MIG_PROGRESS || st == MIG_HANDED_OVER);
	if (st != MIG_DONE)
		fuzz_die("mig_source_step", err);
	pthread_join(t, NULL);
	mig_source_free(s);
	close(r->lfd);
	machine_free(&m);
}

static void put_stream(const char *name, uint8_t first, const uint8_t *p, size_t len)
{
	uint8_t *seed = malloc(len + 1);
	if (!seed)
		fuzz_die("make_seeds", "out of memory");
	seed[0] = first;
	memcpy(seed + 1, p, len);
	put_seed("migrate", name, seed, len + 1);
	free(seed);
}

static void migrate_seeds(const char *scratch)
{
	struct recorder r = {0};
	record_migration(&r, scratch, MIG_POSTCOPY_NEVER);
	put_stream("seed-precopy", 0, r.rec, r.len);
	/* cut short: after CONF, in the middle of the first RAM message, and
	 * just before END and before GO */
	static const struct {
		const char *name;
		uint8_t type;
		bool half; /* cut in the middle of that message, not before it */
	} cuts[] = {{"seed-cut-conf", MIG_AHEAD, false}, {"seed-cut-ram", MIG_RAM, true},
		    {"seed-cut-end", MIG_END, false}, {"seed-cut-go", MIG_GO, false}};
	for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
		unsigned i = 0;
		while (i < r.nmsg && r.rec[r.cut[i]] != cuts[c].type)
			i++;
		if (i == r.nmsg)
			fuzz_die("make_seeds", "the recorded migration lacks a message to cut at");
		size_t end = i + 1 < r.nmsg ? r.cut[i + 1] : r.len;
		put_stream(cuts[c].name, 0, r.rec, cuts[c].half ? (r.cut[i] + end) / 2 : r.cut[i]);
	}
	free(r.rec);

	r = (struct recorder){0};
	record_migration(&r, scratch, MIG_POSTCOPY_NOW);
	put_stream("seed-postcopy", 0, r.rec, r.len);
	free(r.rec);

	r = (struct recorder){.need_base = true};
	record_migration(&r, scratch, MIG_POSTCOPY_NEVER);
	put_stream("seed-base", FUZZ_MIG_NO_BASE, r.rec, r.len);
	free(r.rec);
}

/* ---- stores into the fake kernel for fuzz_vmi.c (fuzz_vmi.h) ----------- */

static void vmi_place(struct ops *o, uint32_t region, uint32_t off)
{
	emit(o, vmi_region_at(region), 1), emit(o, off, 2);
}

static void vmi_ptr(struct ops *o, uint32_t at, uint32_t off, uint32_t to, uint32_t to_off)
{
	emit(o, VMI_PTR, 1), vmi_place(o, at, off), vmi_place(o, to, to_off);
}

static void vmi_val(struct ops *o, uint32_t at, uint32_t off, uint8_t which)
{
	emit(o, VMI_VAL, 1), vmi_place(o, at, off), emit(o, which, 1);
}

static void vmi_u32(struct ops *o, uint32_t at, uint32_t off, uint32_t v)
{
	emit(o, VMI_U32, 1), vmi_place(o, at, off), emit(o, v, 4);
}

static void vmi_raw(struct ops *o, uint32_t at, uint32_t off, const void *p, uint8_t len)
{
	emit(o, VMI_RAW, 1), vmi_place(o, at, off), emit(o, len, 1);
	for (unsigned i = 0; i < len; i++)
		emit(o, ((const uint8_t *)p)[i], 1);
}

static void vmi_seed(const char *name, struct ops *o)
{
	put_seed("vmi", name, o->b, o->n);
	o->n = 0;
}

static void vmi_seeds(void)
{
	struct ops o = {0};
	struct fake f = {.kva = KVA_LINK}; /* for KVA() only */
	emit(&o, 1, 1), emit(&o, 0, 1); /* attach afresh, pid 1 */
	vmi_seed("seed-clean", &o);
	emit(&o, 0, 1), emit(&o, 1, 1); /* the start-up attach, pid 42 */
	vmi_seed("seed-views-42", &o);
	/* the task list cycles without init; a rootkit's unlinked task */
	emit(&o, 0, 2);
	vmi_ptr(&o, O_TASK(2), T_TASKS, O_TASK(1), T_TASKS);
	vmi_ptr(&o, O_TASK(0), T_TASKS, O_TASK(2), T_TASKS);
	vmi_seed("seed-task-cycle", &o);
	/* a gigapage over MMIO and a task list into the UART */
	emit(&o, 0, 2);
	vmi_val(&o, O_PGD, 8 * 0x1fd, 10);
	vmi_val(&o, O_TASK(1), T_TASKS, 4);
	vmi_val(&o, O_TASK(0), T_CRED, 3);
	vmi_seed("seed-mmio", &o);
	/* the root table's kernel entry points back at the root */
	emit(&o, 1, 0);
	vmi_val(&o, O_PGD, 8 * 0x1fe, 11);
	vmi_seed("seed-page-table-loop", &o);
	/* dentries their own grandparents; names unterminated and too long */
	emit(&o, 0, 0);
	vmi_ptr(&o, O_DENTRY(0), 0x100, O_DENTRY(0), 0x200);
	vmi_u32(&o, O_DENTRY(0), 0x200 + 12, 0xffffffffu);
	vmi_raw(&o, O_TASK(1), T_COMM, "AAAAAAAAAAAAAAAAAAAA", 20);
	vmi_raw(&o, O_STR, 0x800, "\xff\xfe not utf-8 \xc0", 14);
	vmi_seed("seed-dentry-cycle", &o);
	/* sockets: a chain its own next, a huge fd table, a device list loop */
	emit(&o, 0, 0);
	vmi_ptr(&o, O_SK(0), 0x100 + 16, O_SK(0), 0x100 + 16);
	vmi_u32(&o, O_FDT, 0, 0x7fffffff);
	vmi_ptr(&o, O_NETDEV, 0, O_NETDEV, 0);
	vmi_ptr(&o, O_MODS, 0x100, O_MODS, 0x100);
	vmi_u32(&o, O_HASHINFO, 8, 0xffffffffu);
	vmi_seed("seed-sockets", &o);
	/* the PID IDR: an XArray node whose slots hold itself */
	emit(&o, 0, 2);
	uint64_t node = KVA(&f, O_XANODE) | 2;
	for (unsigned i = 0; i < 4; i++)
		vmi_raw(&o, O_XANODE, XA_SLOTS + 8 * i, &node, 8);
	vmi_u32(&o, O_XANODE, 0, 0x3f);
	vmi_seed("seed-idr-loop", &o);
	/* mounts and the run queue: a mount its own list neighbour, a tree
	 * node its own child */
	emit(&o, 0, 0);
	vmi_ptr(&o, O_MOUNT, 32, O_MOUNT, 32);
	vmi_ptr(&o, O_TASK(1), T_SE + 16, O_TASK(1), T_SE);
	vmi_ptr(&o, O_KSET, 0, O_KSET, 0);
	vmi_seed("seed-mounts-runqueue", &o);
	/* a fresh attach over corrupt kallsyms and BTF */
	emit(&o, 1, 0);
	vmi_raw(&o, O_KALLSYMS, 0x40, "\xff\xff\xff\xff\x00\x01\x02\x03", 8);
	vmi_u32(&o, O_BTF, 8, 0xfffffff0u);
	vmi_seed("seed-corrupt-symbols", &o);
}

static void api_seeds(void)
{
	static const char *const seeds[] = {
		"{\"id\":1,\"cmd\":\"status\"}\n",
		"{\"id\":\"a\",\"cmd\":\"pause\"}\n{\"id\":2,\"cmd\":\"resume\"}\n",
		"{\"id\":3,\"cmd\":\"input\",\"data\":\"ls\\n\"}\n",
		"{\"id\":4,\"cmd\":\"clone\",\"sock\":\"/nonexistent/c.sock\","
		"\"net\":\"user,hostfwd=tcp:127.0.0.1:1-:80\",\"entropy\":\"fresh\"}\n"
		"{\"cmd\":\"status\"}\n",
		"{\"id\":5,\"cmd\":\"quit\"}\n{\"id\":6,\"cmd\":\"status\"}\n",
		"{\"id\":7,\"cmd\":\"nope\",\"extra\":[1,2,{}]}\n[1]\n\n  \nnot json\n{\"cmd\":5}\n",
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "seed-%zu", i);
		put_seed("api", name, seeds[i], strlen(seeds[i]));
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
		return 2;
	}
	corpus = argv[1];
	mkdir(corpus, 0755);
	const char *scratch = fuzz_scratch_dir();
	board_seeds("virtio_blk", 0);
	board_seeds("virtio_net", 1);
	board_seeds("virtio_console", 1);
	board_seeds("virtio_rng", 0);
	platform_seed();
	snapshot_seeds(scratch);
	log_seed(scratch);
	overlay_seed(scratch);
	api_seeds();
	migrate_seeds(scratch);
	vmi_seeds();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	return system(cmd) == 0 ? 0 : 1;
}
