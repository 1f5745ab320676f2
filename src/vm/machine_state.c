/* The machine's own snapshot sections (docs/snapshot-format.md): CONF,
 * MACH, MROM, BOOT and RAM.  Each device's section is beside the device;
 * vm/snapshot.c puts them in order. */
#include "vm/machine_state.h"

#include <stdlib.h>
#include <string.h>

#include "lib/state_io.h"
#include "vm/machine.h"
#include "vm/ram_state.h"
#include "vm/state_digest.h"

/* --- CONF: the configuration the snapshot needs ------------------------- */

void machine_conf_save(const struct machine *m, struct state_writer *w)
{
	sw_put_u32(w, (uint32_t)m->cfg.board);
	sw_put_u64(w, m->ram_base);
	sw_put_u64(w, m->ram_size);
	sw_put_u8(w, m->has_blk);
	sw_put_u8(w, m->has_net);
}

static const char *board_name(uint32_t board)
{
	return board == BOARD_BARE ? "bare" : board == BOARD_VIRT ? "virt" : "unknown";
}

int machine_conf_check(const struct machine *m, struct state_reader *r)
{
	uint32_t board = sr_u32(r);
	uint64_t ram_base = sr_u64(r), ram_size = sr_u64(r);
	bool has_blk = sr_bool(r), has_net = sr_bool(r);
	if (sr_failed(r))
		return -1;
	if (board != (uint32_t)m->cfg.board)
		return sr_fail(r, "the file is of a %s board, this machine is a %s board",
			       board_name(board), board_name((uint32_t)m->cfg.board));
	if (ram_base != m->ram_base || ram_size != m->ram_size)
		return sr_fail(r,
			       "the file has %llu MiB of RAM at 0x%llx, this machine %llu MiB at 0x%llx",
			       (unsigned long long)(ram_size >> 20), (unsigned long long)ram_base,
			       (unsigned long long)(m->ram_size >> 20),
			       (unsigned long long)m->ram_base);
	if (has_blk != m->has_blk)
		return sr_fail(r, "the file %s, this machine %s", has_blk ? "has a disk" : "has no disk",
			       m->has_blk ? "has one" : "has none");
	if (has_net != m->has_net)
		return sr_fail(r, "the file %s, this machine %s",
			       has_net ? "has a network device" : "has no network device",
			       m->has_net ? "has one" : "has none");
	return 0;
}

/* --- MACH: machine-level run state -------------------------------------- */

void machine_run_state_save(const struct machine *m, struct state_writer *w)
{
	sw_put_u8(w, m->exited);
	sw_put_u32(w, (uint32_t)m->exit_code);
	sw_put_u32(w, m->resets);
}

int machine_run_state_load(struct machine *m, struct state_reader *r)
{
	m->exited = sr_bool(r);
	m->exit_code = (int)sr_u32(r);
	m->resets = sr_u32(r);
	return sr_failed(r) ? -1 : 0;
}

/* --- MROM: the reset ROM, which holds the boot addresses -------------- */

void machine_rom_save(const struct machine *m, struct state_writer *w)
{
	sw_put_bytes(w, m->rom, sizeof(m->rom));
}

int machine_rom_load(struct machine *m, struct state_reader *r)
{
	return sr_bytes(r, m->rom, sizeof(m->rom));
}

/* --- RAM (vm/ram_state.c) ---------------------------------------------- */

int machine_ram_save(const struct machine *m, struct state_writer *w, bool checksum, char *err,
		     size_t errlen)
{
	if (m->postcopy.missing) /* all of RAM, not what has arrived (taps.h, 5b) */
		taps_postcopy_complete((struct machine *)m);
	return ram_state_save(m->ram, m->ram_size, checksum, w, err, errlen);
}

int machine_ram_load(struct machine *m, struct state_reader *r)
{
	taps_postcopy_complete(m); /* no late page may overwrite what loads here */
	m->ram_is_boot_image = false;
	return ram_state_load(m->ram, m->ram_size, &m->bus, r);
}

/* RAM that is the boot image (a fresh boot's first checkpoint) goes by
 * the image's hash: the file holds the image once, in BOOT, and the save
 * compresses nothing.  The hash is the one version 4 digests keep, so a
 * recording's first digest does not hash the image again. */
void machine_ram_boot_save(struct machine *m, struct state_writer *w)
{
	uint8_t hash[32];
	state_digest_boot_hash(m, hash);
	sw_put_bytes(w, hash, sizeof(hash));
}

int machine_ram_boot_load(struct machine *m, struct state_reader *r)
{
	uint8_t want[32], have[32];
	sr_bytes(r, want, sizeof(want));
	if (sr_failed(r))
		return -1;
	if (!m->boot_image_len)
		return sr_fail(r, "RAM: it is the boot image, but the snapshot has no BOOT "
				  "section before it");
	state_digest_boot_hash(m, have);
	if (memcmp(want, have, sizeof(want)) != 0)
		return sr_fail(r, "RAM: it is the boot image with another BLAKE2b-256 than the "
				  "BOOT section's");
	taps_postcopy_complete(m); /* no late page may overwrite what loads here */
	char err[256];
	if (machine_restore_boot_image(m, err, sizeof(err)))
		return sr_fail(r, "RAM: %s", err);
	m->ram_is_boot_image = true;
	return 0;
}

/* --- BOOT: the RAM image a reboot starts from -------------------------- */

void machine_boot_save(const struct machine *m, struct state_writer *w)
{
	sw_put_u64(w, m->boot_image_len);
	sw_put_bytes(w, m->boot_image, m->boot_image_len);
}

/* Only the length is checked here: checking the image in full would take
 * a dry decode into a RAM-sized scratch buffer.  A corrupt image is
 * reported (and the machine stops) when the guest reboots. */
int machine_boot_load(struct machine *m, struct state_reader *r)
{
	uint64_t len = sr_u64(r);
	if (sr_failed(r))
		return -1;
	if (len > sr_remaining(r))
		return sr_fail(r, "BOOT: image of %llu bytes, section has %zu",
			       (unsigned long long)len, sr_remaining(r));
	uint8_t *copy = len ? malloc((size_t)len) : NULL;
	if (len && !copy)
		return sr_fail(r, "BOOT: out of memory");
	if (len)
		sr_bytes(r, copy, (size_t)len);
	machine_set_boot_image(m, copy, (size_t)len);
	return 0;
}

/* --- The attached disk ------------------------------------------------- */

void machine_disk_identity(const struct machine *m, struct disk_identity *id)
{
	if (m->has_blk)
		disk_image_identity(m->blk.disk, id);
	else
		memset(id, 0, sizeof(*id));
}
