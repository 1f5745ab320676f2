/* Writes the seed corpora of tests/fuzz/corpus/ (`make fuzz-seeds`): for
 * each target a few inputs that reach deep into the code, made with keel's
 * own writers so they stay valid when a format changes.  The fuzzers and
 * `make test` start from these plus whatever crash inputs were added by
 * hand (those are named crash-* and never regenerated).
 *
 * Usage: make_seeds CORPUS_DIR */
#include <sys/stat.h>

#include "dev/disk_image.h"
#include "dev/virtio.h"
#include "dev/virtio_blk.h"
#include "fuzz_common.h"
#include "svc/log/log_keys.h"
#include "svc/log/log_writer.h"
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
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	return system(cmd) == 0 ? 0 : 1;
}
