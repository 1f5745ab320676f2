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
	/* /chosen/rng-seed, as QEMU's virt board gives it: entropy Linux
	 * credits at once, so its CRNG is ready before userspace starts. */
	const uint8_t *rng_seed;
	size_t rng_seed_len;
};

#define FDT_RNG_SEED_LEN 32

/* Overwrite /chosen/rng-seed of the blob at fdt (a reboot's fresh seed).
 * Returns 0, or -1 if the blob has no seed of that length. */
int fdt_set_rng_seed(void *fdt, const uint8_t seed[FDT_RNG_SEED_LEN]);

/* Build the blob into buf.  Returns its size, or -1 if it does not fit. */
int fdt_build(const struct fdt_config *cfg, void *buf, size_t bufsize);

#endif
