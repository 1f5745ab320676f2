/* The SiFive test device ("sifive,test0", used as a syscon): the guest
 * powers off or resets the machine by writing to it. */
#ifndef KEEL_DEV_SYSCON_H
#define KEEL_DEV_SYSCON_H

#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"

#define SYSCON_SIZE 0x1000

enum syscon_request { SYSCON_NONE = 0, SYSCON_POWEROFF, SYSCON_RESET };

struct hart;

struct syscon {
	enum syscon_request request;
	int exit_code; /* for a poweroff: 0 for PASS, the code for FAIL */
	struct hart *hart; /* to end the slice when a request arrives */
};

void syscon_init(struct syscon *s, struct hart *hart);
extern const struct mmio_ops syscon_mmio_ops;

/* Snapshot section SYSC: see "Section codecs" in lib/state_io.h. */
struct state_reader;
struct state_writer;
#define SYSCON_STATE_VERSION 1u
void syscon_save(const struct syscon *s, struct state_writer *w);
int syscon_load(struct syscon *s, struct state_reader *r);

#endif
