/* HTIF, the Berkeley host-target interface used by riscv-tests and
 * riscv-pk: the guest writes a command to the `tohost` doubleword and the
 * host answers in `fromhost`.
 *
 * Commands understood (device<<56 | cmd<<48 | payload):
 *   dev 0 cmd 0, payload odd:  exit with status payload>>1
 *   dev 0 cmd 0, payload even: pointer to a magic_mem syscall block; only
 *                              SYS_write (64) to fd 1/2 is served
 *   dev 1 cmd 1:               putchar(payload & 0xff)
 * Anything else is ignored (and acknowledged) so a guest cannot crash
 * keel through it. */
#ifndef KEEL_DEV_HTIF_H
#define KEEL_DEV_HTIF_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

struct bus;

struct htif {
	uint64_t tohost, fromhost; /* physical addresses, or 0 when absent */
	FILE *console; /* where guest output goes, unless `write` is set */
	void (*write)(void *opaque, const uint8_t *buf, size_t len);
	void *write_opaque;
	bool exited;
	int exit_code;
	struct bus *bus;
};

void htif_init(struct htif *h, struct bus *bus, uint64_t tohost, uint64_t fromhost, FILE *console);
/* Called after the guest stored to the tohost page. */
void htif_poll(struct htif *h);

/* Snapshot section HTIF: see "Section codecs" in lib/state_io.h. */
struct state_reader;
struct state_writer;
#define HTIF_STATE_VERSION 1u
void htif_save(const struct htif *h, struct state_writer *w);
/* Sets tohost/fromhost too: the board re-arms its watch on the tohost
 * page afterwards (machine_set_htif does both). */
int htif_load(struct htif *h, struct state_reader *r);

#endif
