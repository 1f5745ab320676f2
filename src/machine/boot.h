/* Putting firmware, kernel, initrd and device tree into a fresh virt
 * machine, QEMU style: the reset ROM at 0x1000 jumps to the firmware with
 * a0 = hartid, a1 = dtb, a2 = fw_dynamic_info. */
#ifndef KEEL_MACHINE_BOOT_H
#define KEEL_MACHINE_BOOT_H

#include <stddef.h>
#include <stdint.h>

struct machine;

struct boot_config {
	const char *firmware; /* OpenSBI fw_dynamic.bin (raw binary) */
	const char *kernel; /* RISC-V Linux Image, or an ELF */
	const char *initrd; /* may be NULL */
	const char *append; /* kernel command line, may be NULL */
};

/* Load everything and set the hart at the reset ROM.  On failure returns
 * -1 and writes "FILE: reason" to err. */
int boot_load(struct machine *m, const struct boot_config *cfg, char *err, size_t errlen);

/* After a reset has put the boot images back: give the device tree's
 * /chosen/rng-seed fresh entropy, so a rebooted kernel does not credit the
 * bytes it already used.  Returns 0, or -1 (no device tree there). */
int boot_reseed(struct machine *m);

#endif
