/* Post-copy's missing pages (vm/postcopy.c, bus/bus.h "Missing pages";
 * docs/taps.md "Missing pages").
 *
 * The oracle is a run with all of RAM present: the same program, run on
 * a machine whose code and data pages are missing and come through the
 * fetch callback, must end with the same registers and RAM, and must
 * have asked for exactly the pages it touched.  Whole-RAM readers bring
 * in the rest; a page that cannot come calls lost() (here it jumps out
 * of the run, where keel would exit); the base image of an overlay moves
 * only when it hashes to the base the VM was made over. */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "svc/migrate/base.h"
#include "svc/migrate/stream.h"
#include "vm/taps.h"

#define NPAGES (RAM_SIZE / 4096)
#define WORDS ((NPAGES + 63) / 64)
#define PG(pa) (((pa) - DRAM_BASE) / 4096)

struct source {
	struct machine *m;
	const uint8_t *ram; /* what the source has */
	uint64_t asked[64];
	unsigned nasked, alls;
	bool fail;
	jmp_buf lost;
};

static int fetch(void *opaque, uint64_t page, char *why, size_t whylen)
{
	struct source *s = opaque;
	if (s->fail) {
		snprintf(why, whylen, "the source is gone");
		return -1;
	}
	if (page == TAPS_POSTCOPY_ALL) {
		s->alls++;
		for (uint64_t i = 0; i < NPAGES; i++)
			taps_postcopy_fill(s->m, i, s->ram + i * 4096);
		return 0;
	}
	if (s->nasked < 64)
		s->asked[s->nasked++] = page;
	return taps_postcopy_fill(s->m, page, s->ram + page * 4096) == 1 ? 0 : -1;
}

static void lost(void *opaque, const char *why)
{
	struct source *s = opaque;
	(void)why;
	longjmp(s->lost, 1);
}

/* Loads from DATA_BASE, stores to DATA_BASE + 2 pages, a misaligned load
 * across two further pages, then halts. */
static void program(struct machine *m)
{
	struct code c = code_at(m, CODE_BASE);
	emit_li(&c, T0, DATA_BASE);
	emit(&c, ld(T1, T0, 8));
	emit_li(&c, T2, DATA_BASE + 2 * 4096);
	emit(&c, sd(T1, T2, 16));
	emit_li(&c, T3, DATA_BASE + 5 * 4096 - 4);
	emit(&c, ld(T4, T3, 0));
	emit_halt(&c);
	poke64(m, DATA_BASE + 8, 0x1122334455667788ULL);
	poke64(m, DATA_BASE + 5 * 4096 - 4, 0xaabbccdd99887766ULL);
}

static bool asked_for(const struct source *s, uint64_t page)
{
	for (unsigned i = 0; i < s->nasked; i++)
		if (s->asked[i] == page)
			return true;
	return false;
}

static void test_faults_fetch_exactly(void **state)
{
	struct machine *ref = *state;
	struct machine *m = new_machine(BOARD_BARE, RAM_SIZE);
	program(ref);
	m->hart.mtvec = ref->hart.mtvec;
	memcpy(m->ram, ref->ram, RAM_SIZE);
	uint8_t *src = malloc(RAM_SIZE);
	assert_non_null(src);
	memcpy(src, ref->ram, RAM_SIZE);
	run_from(ref, CODE_BASE, 100);

	/* Everything the program touches, and one page it does not, is
	 * missing; RAM here holds garbage there, which must never be read. */
	uint64_t missing[WORDS] = {0};
	const uint64_t pages[] = {PG(CODE_BASE), PG(DATA_BASE), PG(DATA_BASE) + 2,
				  PG(DATA_BASE) + 4, PG(DATA_BASE) + 5, PG(DATA_BASE) + 9};
	for (unsigned i = 0; i < 6; i++) {
		missing[pages[i] / 64] |= 1ULL << (pages[i] % 64);
		memset(m->ram + pages[i] * 4096, 0xee, 4096);
	}
	struct source s = {.m = m, .ram = src};
	struct taps_postcopy_ops ops = {.fetch = fetch, .lost = lost, .opaque = &s};
	assert_int_equal(taps_postcopy_begin(m, missing, NPAGES, &ops), 0);
	assert_int_equal(taps_postcopy_left(m), 6);
	run_from(m, CODE_BASE, 100);
	assert_int_equal(m->hart.x[T1], ref->hart.x[T1]);
	assert_int_equal(m->hart.x[T4], ref->hart.x[T4]);
	assert_int_equal(m->hart.pc, ref->hart.pc);
	assert_int_equal(s.nasked, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_true(asked_for(&s, pages[i]));
	assert_true(taps_postcopy_missing(m, pages[5]));
	/* A whole-RAM reader brings the rest in; then RAM is the reference's. */
	struct memview mv;
	taps_memview(m, &mv);
	assert_int_equal(s.alls, 1);
	assert_int_equal(taps_postcopy_left(m), 0);
	assert_memory_equal(m->ram, ref->ram, RAM_SIZE);
	free(src);
	free_machine(m);
}

/* A late copy of a page the VM has written since is not applied. */
static void test_fill_keeps_written_pages(void **state)
{
	struct machine *m = *state;
	uint64_t missing[WORDS] = {0};
	uint8_t page[4096];
	memset(page, 0x42, sizeof(page));
	missing[PG(DATA_BASE) / 64] = 3ULL << (PG(DATA_BASE) % 64);
	struct source s = {.m = m, .ram = calloc(1, RAM_SIZE)};
	struct taps_postcopy_ops ops = {.fetch = fetch, .lost = lost, .opaque = &s};
	assert_int_equal(taps_postcopy_begin(m, missing, NPAGES, &ops), 0);
	uint64_t v = 0;
	assert_int_equal(bus_write(&m->bus, DATA_BASE + 8, 8, 77), 0); /* faults it in */
	assert_int_equal(taps_postcopy_fill(m, PG(DATA_BASE), page), 0);
	assert_int_equal(bus_read(&m->bus, DATA_BASE + 8, 8, &v), 0);
	assert_int_equal(v, 77);
	assert_int_equal(taps_postcopy_fill(m, PG(DATA_BASE) + 1, page), 1);
	assert_int_equal(taps_postcopy_left(m), 0);
	assert_int_equal(taps_postcopy_fill(m, NPAGES, page), -1);
	free((void *)s.ram);
}

/* A page that cannot come: lost() is called, never the access. */
static void test_lost(void **state)
{
	struct machine *m = *state;
	uint64_t missing[WORDS] = {0};
	missing[PG(DATA_BASE) / 64] = 1ULL << (PG(DATA_BASE) % 64);
	struct source s = {.m = m, .fail = true};
	struct taps_postcopy_ops ops = {.fetch = fetch, .lost = lost, .opaque = &s};
	assert_int_equal(taps_postcopy_begin(m, missing, NPAGES, &ops), 0);
	volatile bool jumped = false;
	if (setjmp(s.lost) == 0) {
		uint64_t v;
		bus_read(&m->bus, DATA_BASE, 8, &v);
	} else {
		jumped = true;
	}
	assert_true(jumped);
	assert_true(taps_postcopy_missing(m, PG(DATA_BASE)));
	taps_postcopy_abandon(m);
	assert_int_equal(taps_postcopy_left(m), 0);
}

/* The base arrives whole and verified, or not at all. */
static void send_base(struct mig_base_recv *b, const uint8_t *data, size_t len, size_t chunk)
{
	struct state_writer w;
	char err[256];
	sw_init(&w);
	for (size_t off = 0; off < len; off += chunk) {
		sw_reset(&w);
		size_t n = len - off < chunk ? len - off : chunk;
		assert_int_equal(mig_disk_encode(&w, off, data + off, n, err, sizeof(err)), 0);
		assert_int_equal(mig_base_recv_chunk(b, w.buf, w.len, err, sizeof(err)), 0);
	}
	sw_free(&w);
}

static void test_base_verified(void **state)
{
	(void)state;
	char dir[] = "/tmp/keel-postcopy-XXXXXX", path[80], err[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/base.img", dir);
	size_t len = 3 * 4096 + 100;
	uint8_t *data = malloc(len), hash[OVERLAY_HASH_BYTES], end[8];
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 13 + i / 4096);
	int fd;
	crypto_generichash(hash, sizeof(hash), data, len, NULL, 0);
	for (int i = 0; i < 8; i++)
		end[i] = (uint8_t)((uint64_t)len >> (8 * i));
	/* A wrong hash: refused, nothing left behind. */
	struct mig_base_recv *b = mig_base_recv_start(path, err, sizeof(err));
	assert_non_null(b);
	send_base(b, data, len, 4096);
	hash[0] ^= 1;
	assert_int_equal(mig_base_recv_finish(b, end, 8, hash, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not to the VM's base"));
	mig_base_recv_free(b);
	hash[0] ^= 1;
	struct stat st;
	assert_int_equal(stat(path, &st), -1);
	/* A chunk out of order: refused. */
	b = mig_base_recv_start(path, err, sizeof(err));
	struct state_writer w;
	sw_init(&w);
	assert_int_equal(mig_disk_encode(&w, 4096, data, 4096, err, sizeof(err)), 0);
	assert_int_equal(mig_base_recv_chunk(b, w.buf, w.len, err, sizeof(err)), -1);
	sw_free(&w);
	mig_base_recv_free(b);
	/* Right: kept, byte for byte. */
	b = mig_base_recv_start(path, err, sizeof(err));
	send_base(b, data, len, 5000);
	assert_int_equal(mig_base_recv_finish(b, end, 8, hash, err, sizeof(err)), 0);
	mig_base_recv_free(b);
	uint8_t *back = malloc(len);
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, back, len), (ssize_t)len);
	close(fd);
	assert_memory_equal(back, data, len);
	unlink(path);
	assert_int_equal(rmdir(dir), 0); /* no partial file left */
	free(back);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		VM_TEST(test_faults_fetch_exactly),
		VM_TEST(test_fill_keeps_written_pages),
		VM_TEST(test_lost),
		cmocka_unit_test(test_base_verified),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
