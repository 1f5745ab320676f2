/* Encrypted snapshots (sealed_snapshot.h).
 *
 * A sealed snapshot loaded with the right passphrase restores the exact
 * state (same digest).  Anything else — a wrong passphrase, any altered
 * byte, a truncated or extended file — is refused, and the machine it was
 * loaded into is left exactly as it was (same digest as before). */
#include "harness.h"
#include "test_files.h"

#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm/sealed_snapshot.h"
#include "vm/snapshot.h"
#include "vm/state_digest.h"

#define PASS "correct horse battery staple"
#define NOISE_BASE (DATA_BASE + 0x10000)
#define NOISE_BYTES (300u * 1024u) /* incompressible: several chunks */
#define HEADER_END (SEALED_PREFIX_BYTES + 24) /* prefix + secretstream header */
#define CHUNK_ON_DISK (SEALED_CHUNK_BYTES + 17) /* + secretstream ABYTES */

struct fixture {
	char dir[64];
	char path[128]; /* the sealed snapshot */
	char bad[128]; /* altered copies */
	struct machine *src; /* the saved machine */
	uint8_t *file; /* the sealed file's bytes */
	size_t file_len;
};

/* A machine with a few registers, a loop that ran, and incompressible RAM. */
static struct machine *busy_machine(void)
{
	struct machine *m = new_machine(BOARD_BARE, RAM_SIZE);
	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, S0, DATA_BASE);
	uint64_t loop = c.pc;
	emit(&c, addi(A0, A0, 3));
	emit(&c, sd(A0, S0, 0));
	emit(&c, jal(ZERO, (int32_t)(loop - c.pc)));
	m->hart.pc = CODE_BASE;
	randombytes_buf(m->ram + (NOISE_BASE - DRAM_BASE), NOISE_BYTES);
	machine_run(m, 5003);
	assert_true(m->hart.x[A0] > 0);
	return m;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx || sodium_init() < 0)
		return -1;
	strcpy(fx->dir, "/tmp/keel-sealed-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/snap.sealed", fx->dir);
	snprintf(fx->bad, sizeof(fx->bad), "%s/bad.sealed", fx->dir);
	fx->src = busy_machine();
	char err[512] = "";
	if (sealed_snapshot_save(fx->src, fx->path, PASS, strlen(PASS), err, sizeof(err))) {
		fprintf(stderr, "sealed_snapshot_save: %s\n", err);
		return -1;
	}
	fx->file = read_all(fx->path, &fx->file_len);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	unlink(fx->path);
	unlink(fx->bad);
	rmdir(fx->dir);
	free_machine(fx->src);
	free(fx->file);
	free(fx);
	return 0;
}

/* Load `path` into a machine in a known, different state; the load must
 * be refused and that state left as it was.  Returns the error. */
static void assert_refused(const char *path, const char *pass, const char *what)
{
	struct machine *m = new_machine(BOARD_BARE, RAM_SIZE);
	m->hart.x[A5] = 0x5eed;
	m->ram[123] = 0x42;
	uint8_t before[STATE_DIGEST_BYTES], after[STATE_DIGEST_BYTES];
	assert_int_equal(state_digest(m, before), 0);
	char err[512] = "";
	int rc = sealed_snapshot_load(m, path, pass, strlen(pass), err, sizeof(err));
	if (rc == 0) {
		print_error("%s: the load was accepted\n", what);
		fail();
	}
	assert_true(err[0] != '\0');
	assert_int_equal(state_digest(m, after), 0);
	if (memcmp(before, after, sizeof(before)) != 0) {
		print_error("%s: refused (%s) but the machine changed\n", what, err);
		fail();
	}
	free_machine(m);
}

static void test_right_passphrase_restores_state(void **state)
{
	struct fixture *fx = *state;
	assert_true(sealed_snapshot_is_sealed(fx->path));
	assert_memory_equal(fx->file, SEALED_MAGIC, SEALED_MAGIC_BYTES);
	/* More than two chunks, so "first" and "last" below differ. */
	assert_true(fx->file_len > HEADER_END + 2 * CHUNK_ON_DISK);

	struct machine *m = new_machine(BOARD_BARE, RAM_SIZE);
	char err[512] = "";
	if (sealed_snapshot_load(m, fx->path, PASS, strlen(PASS), err, sizeof(err))) {
		print_error("sealed_snapshot_load: %s\n", err);
		fail();
	}
	char ha[STATE_DIGEST_HEX], hb[STATE_DIGEST_HEX];
	assert_int_equal(state_digest_hex(fx->src, ha), 0);
	assert_int_equal(state_digest_hex(m, hb), 0);
	assert_string_equal(ha, hb);
	assert_memory_equal(m->ram, fx->src->ram, RAM_SIZE);
	free_machine(m);
}

/* The noise in RAM appears verbatim in a plain snapshot (zstd stores
 * incompressible blocks raw) but nowhere in the sealed file, and no
 * PATH.tmp is left behind. */
static void test_no_plaintext_on_disk(void **state)
{
	struct fixture *fx = *state;
	const uint8_t *marker = fx->src->ram + (NOISE_BASE - DRAM_BASE) + 4096;
	size_t plain_len = 0;
	uint8_t *plain = save_snap(fx->src, &plain_len);
	assert_non_null(memmem(plain, plain_len, marker, 64));
	assert_null(memmem(fx->file, fx->file_len, marker, 64));
	free(plain);

	char tmp[160];
	struct stat st;
	snprintf(tmp, sizeof(tmp), "%s.tmp", fx->path);
	assert_int_not_equal(stat(tmp, &st), 0);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 077, 0); /* not readable by others */
}

static void test_wrong_passphrase_refused(void **state)
{
	struct fixture *fx = *state;
	assert_refused(fx->path, PASS "!", "a longer passphrase");
	assert_refused(fx->path, "correct horse battery stapl", "a shorter passphrase");
	assert_refused(fx->path, "Correct horse battery staple", "a one-letter change");
}

static void assert_flip_refused(struct fixture *fx, size_t off)
{
	char what[64];
	snprintf(what, sizeof(what), "byte %zu of %zu flipped", off, fx->file_len);
	assert_true(off < fx->file_len);
	fx->file[off] ^= 0x01;
	write_all(fx->bad, fx->file, fx->file_len);
	fx->file[off] ^= 0x01;
	assert_refused(fx->bad, PASS, what);
}

static void test_every_flipped_byte_refused(void **state)
{
	struct fixture *fx = *state;
	/* Every byte of magic, version, KDF parameters, salt, stream header. */
	for (size_t off = 0; off < HEADER_END; off++)
		assert_flip_refused(fx, off);
	/* The first chunk: its tag byte, its body, its MAC. */
	const size_t first[] = {0, 1, 2, 1000, SEALED_CHUNK_BYTES - 1, SEALED_CHUNK_BYTES,
				CHUNK_ON_DISK - 1};
	for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++)
		assert_flip_refused(fx, HEADER_END + first[i]);
	/* A middle chunk and the last (shorter) one. */
	assert_flip_refused(fx, HEADER_END + CHUNK_ON_DISK + 5);
	size_t last_start = HEADER_END + (fx->file_len - HEADER_END - 1) / CHUNK_ON_DISK *
						 CHUNK_ON_DISK;
	assert_flip_refused(fx, last_start);
	assert_flip_refused(fx, last_start + 1);
	assert_flip_refused(fx, fx->file_len - 17);
	assert_flip_refused(fx, fx->file_len - 1);
}

static void assert_truncation_refused(struct fixture *fx, size_t len)
{
	char what[64];
	snprintf(what, sizeof(what), "truncated to %zu of %zu bytes", len, fx->file_len);
	write_all(fx->bad, fx->file, len);
	assert_refused(fx->bad, PASS, what);
}

static void test_truncation_refused(void **state)
{
	struct fixture *fx = *state;
	const size_t lens[] = {0, 5, SEALED_PREFIX_BYTES - 1, SEALED_PREFIX_BYTES,
			       HEADER_END - 1, HEADER_END, HEADER_END + 16,
			       HEADER_END + CHUNK_ON_DISK, /* a chunk boundary: no FINAL */
			       HEADER_END + 2 * CHUNK_ON_DISK, fx->file_len - 17,
			       fx->file_len - 1};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		assert_truncation_refused(fx, lens[i]);

	/* A byte after the FINAL chunk is refused too. */
	fx->file[fx->file_len] = 0;
	write_all(fx->bad, fx->file, fx->file_len + 1);
	assert_refused(fx->bad, PASS, "one byte appended");
}

static void test_plain_snapshot_is_not_sealed(void **state)
{
	struct fixture *fx = *state;
	size_t plain_len = 0;
	uint8_t *plain = save_snap(fx->src, &plain_len);
	write_all(fx->bad, plain, plain_len);
	free(plain);
	assert_false(sealed_snapshot_is_sealed(fx->bad));
	assert_false(sealed_snapshot_is_sealed("/nonexistent/keel-sealed"));
	assert_refused(fx->bad, PASS, "a plain snapshot");
	assert_refused("/nonexistent/keel-sealed", PASS, "a missing file");
}

static void test_empty_passphrase_not_saved(void **state)
{
	struct fixture *fx = *state;
	char err[512] = "";
	assert_int_equal(sealed_snapshot_save(fx->src, fx->bad, "", 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty"));
}

/* Two saves of the same state differ (fresh salt and stream nonce). */
static void test_fresh_salt_each_save(void **state)
{
	struct fixture *fx = *state;
	char err[512] = "";
	assert_int_equal(sealed_snapshot_save(fx->src, fx->bad, PASS, strlen(PASS), err,
					      sizeof(err)),
			 0);
	size_t len;
	uint8_t *again = read_all(fx->bad, &len);
	assert_int_equal(len, fx->file_len);
	assert_memory_equal(again, fx->file, 28); /* magic, version, KDF parameters */
	assert_memory_not_equal(again + 28, fx->file + 28, 16 + 24); /* salt, header */
	free(again);
}

static void test_read_passphrase_from_fd(void **state)
{
	(void)state;
	int p[2];
	char buf[64], err[256] = "";
	size_t len = 0;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "pw with spaces\r\nnext line", 25), 25);
	assert_int_equal(sealed_read_passphrase(p[0], "", buf, sizeof(buf), &len, err, sizeof(err)),
			 0);
	assert_string_equal(buf, "pw with spaces");
	assert_int_equal(len, 14);
	close(p[1]);
	/* "next line" ends at EOF without a newline: still a passphrase. */
	assert_int_equal(sealed_read_passphrase(p[0], "", buf, sizeof(buf), &len, err, sizeof(err)),
			 0);
	assert_string_equal(buf, "next line");
	/* Now EOF at once: empty, refused. */
	assert_int_equal(sealed_read_passphrase(p[0], "", buf, sizeof(buf), &len, err, sizeof(err)),
			 -1);
	close(p[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_right_passphrase_restores_state),
		cmocka_unit_test(test_no_plaintext_on_disk),
		cmocka_unit_test(test_wrong_passphrase_refused),
		cmocka_unit_test(test_every_flipped_byte_refused),
		cmocka_unit_test(test_truncation_refused),
		cmocka_unit_test(test_plain_snapshot_is_not_sealed),
		cmocka_unit_test(test_empty_passphrase_not_saved),
		cmocka_unit_test(test_fresh_salt_each_save),
		cmocka_unit_test(test_read_passphrase_from_fd),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
