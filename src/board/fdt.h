/* Device-tree generation from the actual machine configuration. */
#ifndef KEEL_BOARD_FDT_H
#define KEEL_BOARD_FDT_H

#include <stddef.h>
#include <stdint.h>

struct fdt_config {
	uint64_t ram_size;
	const char *bootargs;
	uint64_t initrd_start, initrd_end; /* 0, 0: no initrd */
	const char *isa; /* e.g. "rv64imafdc_zicsr_zifencei_sstc": riscv,isa and,
			   split up, riscv,isa-extensions */
	unsigned virtio_slots;
};

/* Build the blob into buf.  Returns its size, or -1 if it does not fit. */
int fdt_build(const struct fdt_config *cfg, void *buf, size_t bufsize);

#endif
