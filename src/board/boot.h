/* Putting firmware, kernel, initrd and device tree into a fresh virt
 * board, QEMU style: the reset ROM at 0x1000 (where the hart starts) jumps
 * to the firmware with a0 = hartid, a1 = dtb, a2 = fw_dynamic_info. */
#ifndef KEEL_BOARD_BOOT_H
#define KEEL_BOARD_BOOT_H

#include <stddef.h>
#include <stdint.h>

struct bus;

/* What booting writes into. */
struct boot_target {
	struct bus *bus; /* RAM at VIRT_DRAM_BASE */
	uint64_t ram_size;
	uint8_t *rom; /* the reset ROM, VIRT_MROM_SIZE bytes */
};

struct boot_config {
	const char *firmware; /* OpenSBI fw_dynamic.bin (raw binary) */
	const char *kernel; /* RISC-V Linux Image, or an ELF */
	const char *initrd; /* may be NULL */
	const char *append; /* kernel command line, may be NULL */
};

/* Load everything and write the reset ROM.  rng_seed: FDT_RNG_SEED_LEN
 * bytes for the device tree's /chosen/rng-seed (the caller takes them from
 * the event boundary), or NULL for none.  On failure returns -1 and
 * writes "FILE: reason" to err. */
int boot_load(const struct boot_target *t, const struct boot_config *cfg,
	      const uint8_t *rng_seed, char *err, size_t errlen);

/* After a reset has put the boot images back: write `seed` (FDT_RNG_SEED_LEN
 * bytes) into the device tree's /chosen/rng-seed, so a rebooted kernel does
 * not credit the bytes it already used.  Returns 0, or -1 if there is no
 * device tree with a seed where the reset ROM points. */
int boot_reseed(const struct boot_target *t, const uint8_t *seed);

#endif
