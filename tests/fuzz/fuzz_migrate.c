/* The receiving side of a live migration (mig_receive_conn, recv.c, and
 * after a post-copy handover postcopy.c; docs/migrate.md): the input is
 * what a source holding the key sends, as plaintext messages
 * (fuzz_common.h: type, flags, length, body), and the harness is that
 * source.  A thread runs the real channel's handshake over a socketpair
 * and sends each message as one authenticated chunk, so everything from
 * chan_recv on runs as it does in `keel run --incoming`: CONF checked
 * against a small machine (fuzz_machine_config, with an overlay disk over
 * a fixed base), RAM pages through zstd, overlay records, the state at
 * END, the base image when the first byte says the destination lacks
 * it, SYNC, the handover, and post-copy's pushed pages until PC_DONE.
 *
 * Each input gets a fresh machine and overlay, as each source does; a
 * migration that succeeds is run for 1000 steps.  A refusal is the
 * expected outcome for nearly every input; a crash, a sanitizer report or
 * a hang is a bug. */
#include <pthread.h>
#include <setjmp.h>
#include <sys/socket.h>

#include "fuzz_common.h"
#include "svc/migrate/migrate.h"

#define TIMEOUT_MS 5000u

static char base[256], no_base[256], overlay[256], spec[600], spec_no_base[600];

/* A post-copy that loses its source calls on_lost, which must not
 * return, and takes no context: this is where it goes back to. */
static jmp_buf lost_jump;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	const char *dir = fuzz_scratch_dir();
	snprintf(base, sizeof(base), "%s/base.img", dir);
	snprintf(no_base, sizeof(no_base), "%s/absent.img", dir);
	snprintf(overlay, sizeof(overlay), "%s/moved.kov", dir);
	snprintf(spec, sizeof(spec), "%s,overlay=%s", base, overlay);
	snprintf(spec_no_base, sizeof(spec_no_base), "%s,overlay=%s", no_base, overlay);
	fuzz_make_base(base);
	return 0;
}

struct source {
	int fd;
	const uint8_t *p;
	size_t left;
};

/* Read and drop what the destination answers, so that it never waits
 * for room to write while the source waits for room too. */
static void *drain(void *arg)
{
	const int *fd = arg;
	char buf[4096];
	while (recv(*fd, buf, sizeof(buf), 0) > 0)
		;
	return NULL;
}

static void *source(void *arg)
{
	struct source *s = arg;
	struct mig_channel ch;
	uint8_t key[MIG_KEY_BYTES];
	fuzz_mig_key(key, sizeof(key));
	if (chan_handshake(&ch, s->fd, key, true) == 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, drain, &s->fd))
			fuzz_die("pthread_create", "cannot start a thread");
		while (s->left >= FUZZ_MIG_HEADER) {
			const uint8_t *h = s->p;
			size_t len = h[2] | (size_t)h[3] << 8 | (size_t)h[4] << 16;
			s->p += FUZZ_MIG_HEADER, s->left -= FUZZ_MIG_HEADER;
			len = len < s->left ? len : s->left;
			if (chan_send(&ch, h[0], s->p, len, h[1] & FUZZ_MIG_FINAL))
				break; /* the destination hung up */
			s->p += len, s->left -= len;
		}
		shutdown(s->fd, SHUT_WR);
		pthread_join(t, NULL);
	}
	shutdown(s->fd, SHUT_WR);
	chan_free(&ch);
	return NULL;
}

static void on_lost(int status)
{
	(void)status;
	longjmp(lost_jump, 1);
}

/* After a post-copy handover: take the pushed pages until the source says
 * it is done, or the stream fails (lost: the VM could not continue). */
static bool postcopy(struct mig_postcopy *pc)
{
	mig_postcopy_on_lost(pc, on_lost);
	if (setjmp(lost_jump))
		return false;
	while (mig_postcopy_poll(pc))
		;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool lacks_base = data[0] & FUZZ_MIG_NO_BASE;
	struct machine_config cfg = fuzz_machine_config();
	cfg.disk = lacks_base ? spec_no_base : spec;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		fuzz_die("socketpair", "cannot make one");
	struct source s = {sv[1], data + 1, size - 1};
	pthread_t t;
	if (pthread_create(&t, NULL, source, &s))
		fuzz_die("pthread_create", "cannot start a thread");
	uint8_t key[MIG_KEY_BYTES];
	fuzz_mig_key(key, sizeof(key));
	struct machine *m = NULL;
	struct mig_postcopy *pc = NULL;
	char what[1024];
	if (mig_receive_conn(sv[0], key, &cfg, TIMEOUT_MS, &m, &pc, what, sizeof(what)) == 0) {
		bool whole = !pc || postcopy(pc);
		mig_postcopy_close(pc, "the fuzz input ended");
		if (whole)
			machine_run(m, 1000); /* a VM that moved must also run */
		machine_free(m);
		free(m);
	}
	pthread_join(t, NULL);
	close(sv[1]);
	unlink(overlay);
	if (lacks_base)
		unlink(no_base);
	return 0;
}
