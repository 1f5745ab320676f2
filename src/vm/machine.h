/* A virtual machine: everything one VM owns.  There is no global mutable
 * state outside this struct, so two machines can live in one process
 * (clones need that). */
#ifndef KEEL_VM_MACHINE_H
#define KEEL_VM_MACHINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cpu/hart.h"
#include "machine/bus.h"
#include "machine/htif.h"
#include "vm/vclock.h"

#define DRAM_BASE 0x80000000ULL

enum stop_reason {
	STOP_NONE = 0,
	STOP_BUDGET, /* the slice's instruction budget ran out */
	STOP_EXIT, /* the guest asked to exit (HTIF tohost, syscon poweroff) */
	STOP_MAX_INSNS, /* --max-insns reached */
	STOP_WFI_IDLE, /* WFI with no possible wake-up source */
};

struct machine {
	struct hart hart;
	struct bus bus;
	struct vclock clock;
	uint8_t *ram;
	uint64_t ram_base, ram_size;
	struct htif htif;
	uint64_t max_insns; /* 0 = unbounded */
	bool exited;
	int exit_code;
};

/* Allocate RAM and wire the board.  Returns 0 or -1 (errno set). */
int machine_init(struct machine *m, uint64_t ram_size);
void machine_free(struct machine *m);

/* Point HTIF at the guest's tohost/fromhost (from the ELF's symbols). */
void machine_set_htif(struct machine *m, uint64_t tohost, uint64_t fromhost);

/* Run up to `budget` instructions (the whole run when budget is 0),
 * honouring max_insns.  Returns why it stopped. */
enum stop_reason machine_run(struct machine *m, uint64_t budget);

/* Read/write guest memory by virtual address through the current
 * translation (no side effects), for debuggers.  Return bytes done. */
size_t machine_read_virt(struct machine *m, uint64_t va, void *buf, size_t len);
size_t machine_write_virt(struct machine *m, uint64_t va, const void *buf, size_t len);

#endif
