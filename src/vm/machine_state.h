/* The machine's own snapshot sections (docs/snapshot-format.md).  The
 * devices' sections are beside each device; vm/snapshot.c puts them all in
 * order.  Every load
 * reads untrusted input: a bad value is an error recorded in the reader,
 * never a crash. */
#ifndef KEEL_VM_MACHINE_STATE_H
#define KEEL_VM_MACHINE_STATE_H

#include <stdbool.h>
#include <stddef.h>

struct disk_identity;
struct machine;
struct state_reader;
struct state_writer;

/* Bump when the fields of the section change. */
#define CONF_STATE_VERSION 1u
#define MACH_STATE_VERSION 1u
#define MROM_STATE_VERSION 1u
#define BOOT_STATE_VERSION 1u
#define RAM_STATE_VERSION 1u
/* RAM's other version: RAM is the BOOT section's image, named by its
 * BLAKE2b-256 (written only while m->ram_is_boot_image holds). */
#define RAM_BOOT_STATE_VERSION 2u

/* CONF: the configuration a snapshot needs (board, RAM, which devices).
 * Check refuses a file made for another configuration. */
void machine_conf_save(const struct machine *m, struct state_writer *w);
int machine_conf_check(const struct machine *m, struct state_reader *r);

/* MACH: exited, exit code, resets so far. */
void machine_run_state_save(const struct machine *m, struct state_writer *w);
int machine_run_state_load(struct machine *m, struct state_reader *r);

/* MROM: the reset ROM (virt board); a guest that reboots after a restore
 * runs it again. */
void machine_rom_save(const struct machine *m, struct state_writer *w);
int machine_rom_load(struct machine *m, struct state_reader *r);

/* BOOT: the boot image, as captured. */
void machine_boot_save(const struct machine *m, struct state_writer *w);
int machine_boot_load(struct machine *m, struct state_reader *r);

/* RAM: a bitmap of non-zero pages, then those pages as one zstd frame
 * (`checksum`: with zstd's content checksum, see ram_state_save).
 * Save returns 0, or -1 with a reason; load leaves decoded code stale
 * either way (bus_ram_rewritten). */
int machine_ram_save(const struct machine *m, struct state_writer *w, bool checksum, char *err,
		     size_t errlen);
int machine_ram_load(struct machine *m, struct state_reader *r);
/* RAM version 2: the boot image's hash.  Load checks it against the
 * machine's boot image (the BOOT section the file has just loaded) and
 * puts that image into RAM. */
void machine_ram_boot_save(struct machine *m, struct state_writer *w);
int machine_ram_boot_load(struct machine *m, struct state_reader *r);

/* The attached disk's identity (kind DISK_NONE without one). */
void machine_disk_identity(const struct machine *m, struct disk_identity *id);

#endif
