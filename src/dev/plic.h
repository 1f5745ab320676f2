/* The platform-level interrupt controller (SiFive PLIC as on QEMU virt):
 * 95 level-triggered sources, priorities 0..7, one M and one S context per
 * hart. */
#ifndef KEEL_DEV_PLIC_H
#define KEEL_DEV_PLIC_H

#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"

#define PLIC_SOURCES 96 /* source 0 does not exist */
#define PLIC_CONTEXTS 2 /* hart 0: M-mode, S-mode */
#define PLIC_SIZE 0x600000

struct hart;

struct plic {
	uint32_t priority[PLIC_SOURCES];
	uint32_t pending[PLIC_SOURCES / 32];
	uint32_t claimed[PLIC_SOURCES / 32]; /* in service: claimed, not completed */
	uint32_t level[PLIC_SOURCES / 32]; /* current input line levels */
	uint32_t enable[PLIC_CONTEXTS][PLIC_SOURCES / 32];
	uint32_t threshold[PLIC_CONTEXTS];
	struct hart *hart;
};

void plic_init(struct plic *p, struct hart *hart);
extern const struct mmio_ops plic_mmio_ops;
/* irq_line callback: `opaque` is the plic. */
void plic_set_line(void *opaque, unsigned source, bool level);
/* Re-drive MEIP/SEIP from the current state (after a restore). */
void plic_update(struct plic *p);

/* Snapshot section PLIC: see "Section codecs" in lib/state_io.h. */
struct state_reader;
struct state_writer;
#define PLIC_STATE_VERSION 1u
void plic_save(const struct plic *p, struct state_writer *w);
int plic_load(struct plic *p, struct state_reader *r);

#endif
