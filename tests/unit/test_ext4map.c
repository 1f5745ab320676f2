/* The detector's disk-block-to-path map (src/svc/ids/ext4map.c) on
 * crafted ext4 images: mke2fs -d builds one from a directory tree, and
 * debugfs, an independent reader, says where each file's blocks are.
 * Then hostile ones: a directory hard-linked into itself, every limit hit,
 * not a file system, reads failing, and the metadata blocks overwritten
 * with random bytes (never a crash, leak or hang: make test-asan runs
 * this too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "svc/ids/ext4map.h"
#include "test_files.h"

#define IMG_BYTES (8u << 20)

static const char *const globs[] = {"/etc/passwd", "/etc/shadow", "/bin/*", "/usr/lib/*"};
#define NGLOBS (sizeof(globs) / sizeof(globs[0]))

struct disk {
	uint8_t *bytes;
	size_t len;
	unsigned reads;
	int fail_after; /* -1: never */
};

static int read_mem(void *opaque, uint64_t off, void *buf, size_t len)
{
	struct disk *d = opaque;
	if (d->fail_after >= 0 && d->reads >= (unsigned)d->fail_after)
		return -1;
	d->reads++;
	if (off > d->len || len > d->len - off)
		return -1;
	memcpy(buf, d->bytes + off, len);
	return 0;
}

static char tmpdir[64];

static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "failed (%d): %s\n", rc, cmd);
	assert_int_equal(rc, 0);
}

static void put(const char *rel, size_t len, unsigned seed)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/tree/%s", tmpdir, rel);
	uint8_t *b = malloc(len ? len : 1);
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
	write_all(path, b, len);
	free(b);
}

/* The tree and its image: protected files of one and of many blocks,
 * one deep under /bin, a hard link to /etc/passwd, and files that are
 * not protected. */
static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/keel-ext4map-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	sh("mkdir -p %s/tree/etc %s/tree/bin/sub/deep %s/tree/usr/lib %s/tree/var/log", tmpdir,
	   tmpdir, tmpdir, tmpdir);
	put("etc/passwd", 300, 1);
	put("etc/shadow", 200, 2);
	put("etc/hosts", 100, 3);
	put("bin/busybox", 300 * 1024, 4);
	put("bin/sub/deep/tool", 9000, 5);
	put("usr/lib/libc.so", 70 * 1024, 6);
	put("var/log/messages", 50 * 1024, 7);
	sh("ln %s/tree/etc/passwd %s/tree/bin/passwd-link", tmpdir, tmpdir);
	sh("E2FSPROGS_FAKE_TIME=1700000000 /sbin/mke2fs -q -F -t ext4 -b 4096 -U "
	   "6b65656c-0000-0000-0000-000000000001 -E hash_seed=6b65656c-0000-0000-0000-000000000002 "
	   "-d %s/tree %s/img 8M >/dev/null",
	   tmpdir, tmpdir);
	return 0;
}

static int teardown(void **state)
{
	sh("rm -rf %s", tmpdir);
	return 0;
}

static struct disk load(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/img", tmpdir);
	struct disk d = {0};
	d.bytes = read_all(path, &d.len);
	d.fail_after = -1;
	assert_int_equal(d.len, IMG_BYTES);
	return d;
}

/* debugfs's list of a file's data blocks ("blocks PATH"). */
static size_t debugfs_blocks(const char *img, const char *path, uint64_t *out, size_t max)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "/sbin/debugfs -R 'blocks %s' %s 2>/dev/null", path, img);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = 0;
	unsigned long long b;
	while (n < max && fscanf(p, "%llu", &b) == 1)
		out[n++] = b;
	pclose(p);
	return n;
}

static struct ext4map *build(struct disk *d, const struct ext4map_limits *lim, char *err)
{
	return ext4map_build(read_mem, d, d->len, globs, NGLOBS, lim, err, 256);
}

struct hits {
	unsigned data, meta;
	char paths[8][64];
	unsigned npaths;
};

static bool collect(void *opaque, enum ext4map_kind kind, const char *path, uint32_t ino,
		    uint64_t block)
{
	struct hits *h = opaque;
	if (kind == EXT4MAP_META) {
		h->meta++;
		return true;
	}
	h->data++;
	if (h->npaths < 8)
		snprintf(h->paths[h->npaths++], 64, "%s", path);
	return true;
}

static void test_map_matches_debugfs(void **state)
{
	struct disk d = load();
	char err[256], img[128];
	snprintf(img, sizeof(img), "%s/img", tmpdir);
	struct ext4map *x = build(&d, NULL, err);
	assert_non_null(x);
	uint32_t bs, files, ranges;
	bool truncated;
	ext4map_stats(x, &bs, &files, &ranges, &truncated);
	assert_int_equal(bs, 4096);
	/* passwd (its hard link once), shadow, busybox, tool, libc.so */
	assert_int_equal(files, 5);
	assert_false(truncated);
	struct {
		const char *path;
		const char *want; /* NULL: not mapped */
	} cases[] = {
		{"/etc/passwd", "passwd"},          {"/bin/passwd-link", "passwd"},
		{"/etc/shadow", "/etc/shadow"},     {"/bin/busybox", "/bin/busybox"},
		{"/bin/sub/deep/tool", "/bin/sub/deep/tool"}, {"/usr/lib/libc.so", "/usr/lib/libc.so"},
		{"/etc/hosts", NULL},               {"/var/log/messages", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t blocks[128];
		size_t n = debugfs_blocks(img, cases[i].path, blocks, 128);
		assert_true(n > 0);
		for (size_t k = 0; k < n; k++) {
			const char *got = ext4map_path_of(x, blocks[k]);
			/* a hard link is mapped under the name the walk met first */
			if (cases[i].want && !strcmp(cases[i].want, "passwd"))
				assert_true(got && (!strcmp(got, "/etc/passwd") ||
						    !strcmp(got, "/bin/passwd-link")));
			else if (cases[i].want)
				assert_string_equal(got ? got : "(none)", cases[i].want);
			else
				assert_null(got);
		}
		if (!strcmp(cases[i].path, "/bin/busybox"))
			assert_int_equal(n, 75); /* 300 KiB */
	}
	/* one write over the last block of passwd and the first of shadow
	 * (if they are neighbours) or two writes: both named, once each */
	uint64_t pb[4], sb[4];
	assert_int_equal(debugfs_blocks(img, "/etc/passwd", pb, 4), 1);
	assert_int_equal(debugfs_blocks(img, "/etc/shadow", sb, 4), 1);
	uint64_t lo = pb[0] < sb[0] ? pb[0] : sb[0], hi = pb[0] < sb[0] ? sb[0] : pb[0];
	struct hits h = {0};
	ext4map_hits(x, lo * 4096, (hi - lo + 1) * 4096, collect, &h);
	assert_true(h.data >= 2);
	bool saw_p = false, saw_s = false;
	for (unsigned i = 0; i < h.npaths; i++) {
		saw_p |= !strcmp(h.paths[i], "/etc/passwd") || !strcmp(h.paths[i], "/bin/passwd-link");
		saw_s |= !strcmp(h.paths[i], "/etc/shadow");
	}
	assert_true(saw_p && saw_s);
	/* a 512-byte write inside busybox's 10th block */
	uint64_t bb[128];
	debugfs_blocks(img, "/bin/busybox", bb, 128);
	memset(&h, 0, sizeof(h));
	assert_int_equal(ext4map_hits(x, bb[9] * 4096 + 1024, 512, collect, &h), 1);
	assert_string_equal(h.paths[0], "/bin/busybox");
	/* the root directory's block is where the map came from */
	uint64_t rb[4];
	assert_true(debugfs_blocks(img, "/", rb, 4) >= 1);
	memset(&h, 0, sizeof(h));
	ext4map_hits(x, rb[0] * 4096, 4096, collect, &h);
	assert_int_equal(h.data, 0);
	assert_true(h.meta >= 1);
	/* /var's directory was never walked: no glob leads there */
	uint64_t vb[4];
	assert_true(debugfs_blocks(img, "/var/log", vb, 4) >= 1);
	memset(&h, 0, sizeof(h));
	ext4map_hits(x, vb[0] * 4096, 4096, collect, &h);
	assert_int_equal(h.data + h.meta, 0);
	/* nothing past the end, nothing for an empty write */
	assert_int_equal(ext4map_hits(x, IMG_BYTES - 4096, 4096, collect, &h), 0);
	assert_int_equal(ext4map_hits(x, 0, 0, collect, &h), 0);
	ext4map_free(x);
	free(d.bytes);
}

/* A directory hard-linked into its own subtree: walked once, and the
 * build ends. */
static void test_directory_loop(void **state)
{
	char img[128];
	snprintf(img, sizeof(img), "%s/loop.img", tmpdir);
	sh("cp %s/img %s && /sbin/debugfs -w -R 'link /bin /bin/sub/deep/up' %s >/dev/null 2>&1",
	   tmpdir, img, img);
	struct disk d = {0};
	d.bytes = read_all(img, &d.len);
	d.fail_after = -1;
	char err[256];
	struct ext4map *x = build(&d, NULL, err);
	assert_non_null(x);
	uint32_t bs, files, ranges;
	bool truncated;
	ext4map_stats(x, &bs, &files, &ranges, &truncated);
	assert_int_equal(files, 5);
	ext4map_free(x);
	free(d.bytes);
}

static void test_limits(void **state)
{
	struct disk d = load();
	char err[256];
	struct ext4map_limits lim = EXT4MAP_DEFAULT_LIMITS;
	uint32_t bs, files, ranges;
	bool truncated;

	lim.max_files = 2;
	struct ext4map *x = build(&d, &lim, err);
	assert_non_null(x);
	ext4map_stats(x, &bs, &files, &ranges, &truncated);
	assert_int_equal(files, 2);
	assert_true(truncated);
	ext4map_free(x);

	lim = EXT4MAP_DEFAULT_LIMITS;
	lim.max_ranges = 3;
	x = build(&d, &lim, err);
	assert_non_null(x);
	ext4map_stats(x, &bs, &files, &ranges, &truncated);
	assert_true(ranges <= 3 && truncated);
	ext4map_free(x);

	lim = EXT4MAP_DEFAULT_LIMITS;
	lim.max_depth = 2; /* "/", /etc, /bin, /usr: not /bin/sub or /usr/lib */
	x = build(&d, &lim, err);
	assert_non_null(x);
	ext4map_stats(x, &bs, &files, &ranges, &truncated);
	assert_true(truncated);
	assert_int_equal(files, 3); /* passwd (and its link), shadow, busybox */
	ext4map_free(x);

	lim = EXT4MAP_DEFAULT_LIMITS;
	lim.max_dirs = 1;
	x = build(&d, &lim, err);
	assert_non_null(x);
	ext4map_stats(x, &bs, &files, &ranges, &truncated);
	assert_true(truncated);
	assert_int_equal(files, 0); /* the root has no protected file of its own */
	ext4map_free(x);

	/* a read budget too small for the superblock and descriptors */
	lim = EXT4MAP_DEFAULT_LIMITS;
	lim.max_reads = 1;
	x = build(&d, &lim, err);
	assert_null(x);
	assert_non_null(strstr(err, "read limit"));

	/* enough to open, not to walk */
	lim.max_reads = 8;
	x = build(&d, &lim, err);
	if (x) {
		ext4map_stats(x, &bs, &files, &ranges, &truncated);
		assert_true(truncated);
		ext4map_free(x);
	}
	free(d.bytes);
}

static void test_not_a_file_system(void **state)
{
	char err[256];
	struct disk d = {calloc(1, 1 << 20), 1 << 20, 0, -1};
	assert_null(build(&d, NULL, err));
	assert_non_null(strstr(err, "not an ext4"));
	free(d.bytes);

	/* reads that fail part way, and an image cut short */
	d = load();
	for (int k = 0; k < 40; k++) {
		d.reads = 0;
		d.fail_after = k;
		ext4map_free(build(&d, NULL, err));
	}
	d.fail_after = -1;
	d.len = 64 * 1024;
	ext4map_free(build(&d, NULL, err));
	free(d.bytes);
}

/* Random bytes over the metadata (superblock, group descriptors, inode
 * tables, directories and extent blocks are in the first few hundred
 * KiB of the image): any result but a crash or a hang. */
static void test_corrupt_metadata(void **state)
{
	struct disk clean = load();
	uint8_t *bytes = malloc(clean.len);
	uint32_t rng = 12345;
	for (int round = 0; round < 300; round++) {
		memcpy(bytes, clean.bytes, clean.len);
		int flips = 1 + round % 64;
		for (int i = 0; i < flips; i++) {
			rng = rng * 1103515245u + 12345u;
			size_t off = (rng >> 8) % (512 * 1024);
			rng = rng * 1103515245u + 12345u;
			bytes[off] = (uint8_t)(rng >> 16);
		}
		struct disk d = {bytes, clean.len, 0, -1};
		char err[256];
		struct ext4map *x = build(&d, NULL, err);
		if (x) {
			struct hits h = {0};
			ext4map_hits(x, 0, clean.len, collect, &h);
			ext4map_free(x);
		}
	}
	free(bytes);
	free(clean.bytes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_matches_debugfs),
		cmocka_unit_test(test_directory_loop),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_not_a_file_system),
		cmocka_unit_test(test_corrupt_metadata),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
