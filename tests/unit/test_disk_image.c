/* The disk backend: raw images, the append-only overlay (partial blocks,
 * rewrites, a torn tail, reopening, the frozen prefix a snapshot names)
 * and a forked clone's private writes, with a real fork(). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dev/disk_image.h"

#define BASE_BLOCKS 16
#define BASE_SIZE (BASE_BLOCKS * 4096 + 512) /* a partial last block */

struct files {
	char dir[64];
	char base[128], overlay[128], copy[128];
};

static uint8_t base_byte(uint64_t off)
{
	return (uint8_t)(off * 31 + (off >> 12) + 7);
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static int files_setup(void **state)
{
	struct files *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/keel-disk-XXXXXX");
	if (!f || !mkdtemp(f->dir))
		return -1;
	snprintf(f->base, sizeof(f->base), "%s/base.img", f->dir);
	snprintf(f->overlay, sizeof(f->overlay), "%s/disk.kov", f->dir);
	snprintf(f->copy, sizeof(f->copy), "%s/copy.kov", f->dir);
	uint8_t *b = malloc(BASE_SIZE);
	for (uint64_t i = 0; i < BASE_SIZE; i++)
		b[i] = base_byte(i);
	write_file(f->base, b, BASE_SIZE);
	free(b);
	*state = f;
	return 0;
}

static int files_teardown(void **state)
{
	struct files *f = *state;
	unlink(f->base);
	unlink(f->overlay);
	unlink(f->copy);
	rmdir(f->dir);
	free(f);
	return 0;
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static struct disk_image *open_spec(const char *fmt, ...)
{
	char spec[512], err[512] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(spec, sizeof(spec), fmt, ap);
	va_end(ap);
	struct disk_image *d = NULL;
	if (disk_image_open_spec(&d, spec, err, sizeof(err))) {
		print_error("open %s: %s\n", spec, err);
		fail();
	}
	return d;
}

/* The expected contents: the base, with the test's writes applied. */
struct model {
	uint8_t bytes[BASE_SIZE];
};

static void model_init(struct model *m)
{
	for (uint64_t i = 0; i < BASE_SIZE; i++)
		m->bytes[i] = base_byte(i);
}

static void write_both(struct disk_image *d, struct model *m, uint64_t off, size_t len, uint8_t seed)
{
	uint8_t *p = malloc(len);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 3);
	assert_int_equal(disk_image_write(d, off, p, len), 0);
	memcpy(m->bytes + off, p, len);
	free(p);
}

static void assert_disk_is(struct disk_image *d, const struct model *m)
{
	static uint8_t got[BASE_SIZE];
	assert_int_equal(disk_image_size(d), BASE_SIZE);
	assert_int_equal(disk_image_read(d, 0, got, BASE_SIZE), 0);
	assert_memory_equal(got, m->bytes, BASE_SIZE);
	/* and piecewise, across block edges */
	uint8_t piece[700];
	for (uint64_t off = 0; off + sizeof(piece) <= BASE_SIZE; off += 4001) {
		assert_int_equal(disk_image_read(d, off, piece, sizeof(piece)), 0);
		assert_memory_equal(piece, m->bytes + off, sizeof(piece));
	}
}

static void assert_base_untouched(const struct files *f)
{
	static uint8_t b[BASE_SIZE];
	int fd = open(f->base, O_RDONLY);
	assert_int_equal(read(fd, b, BASE_SIZE), BASE_SIZE);
	close(fd);
	for (uint64_t i = 0; i < BASE_SIZE; i++)
		if (b[i] != base_byte(i))
			fail_msg("base byte %llu changed", (unsigned long long)i);
}

/* Whole blocks, sectors inside a block, a write across blocks, rewrites,
 * the partial last block; reads see the newest data, the base is never
 * written, and each written block costs one appended record. */
static void test_overlay_read_write(void **state)
{
	struct files *f = *state;
	struct model m;
	model_init(&m);
	struct disk_image *d = open_spec("%s,overlay=%s", f->base, f->overlay);
	assert_int_equal(file_size(f->overlay), OVERLAY_HEADER_BYTES);
	assert_disk_is(d, &m);

	write_both(d, &m, 2 * 4096, 4096, 1); /* one whole block */
	assert_int_equal(file_size(f->overlay), OVERLAY_HEADER_BYTES + OVERLAY_RECORD_BYTES);
	write_both(d, &m, 5 * 4096 + 1024, 512, 2); /* one sector: read-modify-write */
	write_both(d, &m, 7 * 4096 - 512, 1536, 3); /* straddles blocks 6 and 7 */
	write_both(d, &m, 2 * 4096 + 512, 512, 4); /* rewrite part of block 2 */
	write_both(d, &m, BASE_SIZE - 512, 512, 5); /* the partial last block */
	write_both(d, &m, 0, 10 * 4096, 6); /* a batch of whole blocks */
	assert_int_equal(file_size(f->overlay),
			 OVERLAY_HEADER_BYTES + (1 + 1 + 2 + 1 + 1 + 10) * OVERLAY_RECORD_BYTES);
	assert_disk_is(d, &m);
	assert_int_equal(disk_image_flush(d), 0);
	uint64_t records, blocks;
	disk_image_counts(d, &records, &blocks);
	assert_int_equal(records, 16);
	assert_int_equal(blocks, 11); /* 0..9 and the last */
	disk_image_close(d);
	assert_base_untouched(f);

	/* Reopened by the overlay alone (base from its header), and by both;
	 * never by two writers at once. */
	d = open_spec("%s", f->overlay);
	struct disk_image *second = NULL;
	char err[512] = "";
	assert_int_equal(disk_image_open_spec(&second, f->overlay, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "in use by another keel"));
	assert_disk_is(d, &m);
	disk_image_close(d);
	d = open_spec("%s,overlay=%s", f->base, f->overlay);
	assert_disk_is(d, &m);
	write_both(d, &m, 3 * 4096, 4096, 7);
	disk_image_close(d);
	d = open_spec("%s", f->overlay);
	assert_disk_is(d, &m);
	disk_image_close(d);
}

static void test_out_of_range(void **state)
{
	struct files *f = *state;
	struct disk_image *d = open_spec("%s,overlay=%s", f->base, f->overlay);
	uint8_t buf[1024] = {0};
	errno = 0;
	assert_int_equal(disk_image_read(d, BASE_SIZE - 512, buf, 1024), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(disk_image_write(d, UINT64_MAX - 100, buf, 512), -1);
	assert_int_equal(disk_image_write(d, BASE_SIZE, buf, 1), -1);
	assert_int_equal(file_size(f->overlay), OVERLAY_HEADER_BYTES);
	disk_image_close(d);
}

/* A crash mid-append leaves part of a record: reopening drops it (with a
 * note), keeps every intact record, and appends cleanly after them. */
static void test_torn_tail(void **state)
{
	struct files *f = *state;
	struct model m;
	model_init(&m);
	struct disk_image *d = open_spec("%s,overlay=%s", f->base, f->overlay);
	write_both(d, &m, 4096, 4096, 10);
	write_both(d, &m, 8192, 512, 11);
	uint64_t good = file_size(f->overlay);
	struct model before_torn = m;
	write_both(d, &m, 4096, 4096, 12); /* this one will be torn */
	disk_image_close(d);
	assert_int_equal(truncate(f->overlay, (off_t)(good + 1000)), 0);

	d = open_spec("%s", f->overlay);
	assert_non_null(strstr(disk_image_note(d), "dropped 1000 bytes"));
	assert_int_equal(file_size(f->overlay), good);
	assert_disk_is(d, &before_torn);
	m = before_torn;
	write_both(d, &m, 12 * 4096, 4096, 13);
	disk_image_close(d);

	/* A flipped byte in the last record is caught by its checksum too. */
	int fd = open(f->overlay, O_RDWR);
	uint8_t x;
	uint64_t at = file_size(f->overlay) - 5;
	assert_int_equal(pread(fd, &x, 1, (off_t)at), 1);
	x ^= 0x40;
	assert_int_equal(pwrite(fd, &x, 1, (off_t)at), 1);
	close(fd);
	d = open_spec("%s", f->overlay);
	assert_string_not_equal(disk_image_note(d), "");
	assert_disk_is(d, &before_torn);
	disk_image_close(d);
	d = open_spec("%s", f->overlay); /* the tail was cut off: nothing more to drop */
	assert_string_equal(disk_image_note(d), "");
	disk_image_close(d);
}

static void expect_open_error(const char *spec, const char *want)
{
	struct disk_image *d = NULL;
	char err[1024] = "";
	assert_int_equal(disk_image_open_spec(&d, spec, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("opening %s: error '%s' lacks '%s'", spec, err, want);
}

/* The overlay refuses a base other than its own, a changed base, a
 * corrupt header; raw options that make no sense are refused. */
static void test_refusals(void **state)
{
	struct files *f = *state;
	char spec[512];
	disk_image_close(open_spec("%s,overlay=%s", f->base, f->overlay));
	/* another base of the same size */
	char other[160];
	snprintf(other, sizeof(other), "%s/other.img", f->dir);
	uint8_t *z = calloc(1, BASE_SIZE);
	write_file(other, z, BASE_SIZE);
	snprintf(spec, sizeof(spec), "%s,overlay=%s", other, f->overlay);
	expect_open_error(spec, "has changed since the overlay was made");
	write_file(other, z, 4096);
	expect_open_error(spec, "the overlay was made over");
	unlink(other);
	free(z);
	/* the base itself changed */
	int fd = open(f->base, O_RDWR);
	assert_int_equal(pwrite(fd, "X", 1, 100), 1);
	expect_open_error(f->overlay, "base.img has changed");
	uint8_t orig = base_byte(100);
	assert_int_equal(pwrite(fd, &orig, 1, 100), 1);
	close(fd);
	/* a corrupt header */
	fd = open(f->overlay, O_RDWR);
	assert_int_equal(pwrite(fd, "\xff", 1, 20), 1);
	close(fd);
	expect_open_error(f->overlay, "header is corrupt");
	snprintf(spec, sizeof(spec), "%s,overlay=%s,readonly", f->base, f->overlay);
	expect_open_error(spec, "cannot be read-only");
	snprintf(spec, sizeof(spec), ",overlay=%s", f->overlay);
	expect_open_error(spec, "needs both paths");
	expect_open_error("/nonexistent/keel.kov", "No such file");
}

/* Raw images are written in place; read-only ones refuse writes. */
static void test_raw(void **state)
{
	struct files *f = *state;
	struct model m;
	model_init(&m);
	struct disk_image *d = open_spec("%s", f->base);
	write_both(d, &m, 4096 + 512, 512, 20);
	assert_disk_is(d, &m);
	assert_int_equal(disk_image_fork_private(d), -1);
	disk_image_close(d);
	d = open_spec("%s,readonly", f->base);
	assert_disk_is(d, &m);
	errno = 0;
	assert_int_equal(disk_image_write(d, 0, m.bytes, 512), -1);
	assert_int_equal(errno, EROFS);
	struct disk_identity id;
	disk_image_identity(d, &id);
	assert_int_equal(id.kind, DISK_RAW);
	assert_true(id.readonly);
	disk_image_close(d);
}

/* The prefix a snapshot names stays that disk: reopened in place when the
 * overlay has not moved on, refused when it has, unless copied. */
static void test_frozen_prefix(void **state)
{
	struct files *f = *state;
	struct model m;
	model_init(&m);
	char err[1024] = "";
	struct disk_image *d = open_spec("%s,overlay=%s", f->base, f->overlay);
	write_both(d, &m, 4096, 8192, 30);
	struct disk_identity id;
	assert_int_equal(disk_image_freeze(d, &id, err, sizeof(err)), 0);
	assert_int_equal(id.kind, DISK_OVERLAY);
	assert_int_equal(id.overlay_len, file_size(f->overlay));
	assert_int_equal(id.size, BASE_SIZE);
	assert_non_null(strstr(id.base_path, "base.img"));
	struct model at_snapshot = m;
	disk_image_close(d);

	/* Not moved on: continue in place. */
	assert_int_equal(disk_image_open_frozen(&d, &id, NULL, err, sizeof(err)), 0);
	assert_disk_is(d, &at_snapshot);
	write_both(d, &m, 4096, 4096, 31); /* the VM writes on */
	disk_image_close(d);
	uint64_t grown = file_size(f->overlay);
	assert_true(grown > id.overlay_len);

	assert_int_equal(disk_image_open_frozen(&d, &id, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "has grown since the snapshot"));
	assert_non_null(strstr(err, "--overlay"));
	assert_int_equal(disk_image_open_frozen(&d, &id, f->copy, err, sizeof(err)), 0);
	assert_disk_is(d, &at_snapshot);
	assert_int_equal(file_size(f->copy), id.overlay_len);
	assert_int_equal(file_size(f->overlay), grown); /* the original is untouched */
	disk_image_close(d);
	/* the copy exists now: never overwritten */
	assert_int_equal(disk_image_open_frozen(&d, &id, f->copy, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already exists"));

	/* Shorter than L, or corrupt inside L: refused. */
	assert_int_equal(truncate(f->copy, (off_t)(id.overlay_len - 1)), 0);
	struct disk_identity short_id = id;
	snprintf(short_id.path, sizeof(short_id.path), "%s", f->copy);
	assert_int_equal(disk_image_open_frozen(&d, &short_id, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "shorter than"));
	assert_int_equal(truncate(f->copy, (off_t)id.overlay_len), 0); /* zero-filled tail */
	assert_int_equal(disk_image_open_frozen(&d, &short_id, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "corrupt record"));

	/* A raw identity is not a frozen disk. */
	struct disk_identity raw = id;
	raw.kind = DISK_RAW;
	assert_int_equal(disk_image_open_frozen(&d, &raw, NULL, err, sizeof(err)), -1);
}

static void read_block(struct disk_image *d, uint64_t b, uint8_t *out)
{
	if (disk_image_read(d, b * 4096, out, 4096) != 0)
		_exit(10);
}

static bool block_is(struct disk_image *d, uint64_t b, const struct model *m)
{
	uint8_t got[4096];
	read_block(d, b, got);
	return memcmp(got, m->bytes + b * 4096, 4096) == 0;
}

/* The child of a real fork(): its writes stay in its memory, and its
 * reads see the disk as of the fork while the parent appends. */
static int clone_child(struct disk_image *d, const struct model *at_fork, const char *overlay,
		       int go_fd)
{
	char c;
	if (disk_image_fork_private(d) != 0)
		return 1;
	if (read(go_fd, &c, 1) != 1) /* the parent has written on */
		return 2;
	if (!block_is(d, 3, at_fork) || !block_is(d, 5, at_fork) || !block_is(d, 9, at_fork))
		return 3;
	struct model mine = *at_fork;
	uint64_t size_before = file_size(overlay);
	uint8_t buf[4096];
	memset(buf, 0xc1, sizeof(buf));
	if (disk_image_write(d, 3 * 4096 + 512, buf, 512) || disk_image_write(d, 9 * 4096, buf, 4096))
		return 4;
	memcpy(mine.bytes + 3 * 4096 + 512, buf, 512);
	memcpy(mine.bytes + 9 * 4096, buf, 4096);
	if (!block_is(d, 3, &mine) || !block_is(d, 9, &mine) || !block_is(d, 5, &mine))
		return 5;
	if (disk_image_flush(d) != 0 || file_size(overlay) != size_before)
		return 6;
	char err[256];
	struct disk_identity id;
	if (disk_image_freeze(d, &id, err, sizeof(err)) == 0) /* private writes: not in a file */
		return 7;
	return 0;
}

static void test_fork_private(void **state)
{
	struct files *f = *state;
	struct model m;
	model_init(&m);
	struct disk_image *d = open_spec("%s,overlay=%s", f->base, f->overlay);
	write_both(d, &m, 3 * 4096, 4096, 40);
	struct model at_fork = m;
	int go[2];
	assert_int_equal(pipe(go), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		_exit(clone_child(d, &at_fork, f->overlay, go[0]));
	}
	close(go[0]);
	/* The parent writes on: a new copy of block 3, new blocks 5 and 9. */
	write_both(d, &m, 3 * 4096, 4096, 41);
	write_both(d, &m, 5 * 4096, 4096, 42);
	write_both(d, &m, 9 * 4096 + 1024, 512, 43);
	assert_int_equal(write(go[1], "g", 1), 1);
	close(go[1]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* None of the child's writes reached the parent or the file. */
	assert_disk_is(d, &m);
	disk_image_close(d);
	d = open_spec("%s", f->overlay);
	assert_disk_is(d, &m);
	disk_image_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_overlay_read_write, files_setup, files_teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, files_setup, files_teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, files_setup, files_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, files_setup, files_teardown),
		cmocka_unit_test_setup_teardown(test_raw, files_setup, files_teardown),
		cmocka_unit_test_setup_teardown(test_frozen_prefix, files_setup, files_teardown),
		cmocka_unit_test_setup_teardown(test_fork_private, files_setup, files_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
