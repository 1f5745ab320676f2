/* Save and restore a whole machine in the sectioned format of
 * docs/snapshot-format.md.  This file only puts the sections in order and
 * checks that each appears once: each section's encoder and decoder are
 * beside what it saves (uart_save/uart_load in dev/uart16550.c, ...) and
 * write the fields in the order the document lists them. */
#include "vm/snapshot.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "dev/disk_image.h"
#include "lib/state_io.h"
#include "vm/machine.h"
#include "vm/machine_state.h"

#define TAG_CONF STATE_TAG('C', 'O', 'N', 'F')
#define TAG_MACH STATE_TAG('M', 'A', 'C', 'H')
#define TAG_CPU STATE_TAG('C', 'P', 'U', ' ')
#define TAG_CLOCK STATE_TAG('C', 'L', 'K', ' ')
#define TAG_CLINT STATE_TAG('C', 'L', 'N', 'T')
#define TAG_PLIC STATE_TAG('P', 'L', 'I', 'C')
#define TAG_UART STATE_TAG('U', 'A', 'R', 'T')
#define TAG_SYSCON STATE_TAG('S', 'Y', 'S', 'C')
#define TAG_MROM STATE_TAG('M', 'R', 'O', 'M')
#define TAG_RTC STATE_TAG('R', 'T', 'C', ' ')
#define TAG_HTIF STATE_TAG('H', 'T', 'I', 'F')
#define TAG_EVENTS STATE_TAG('E', 'V', 'N', 'T')
#define TAG_DISK STATE_TAG('D', 'I', 'S', 'K')
#define TAG_RAM STATE_TAG('R', 'A', 'M', ' ')
#define TAG_BOOT STATE_TAG('B', 'O', 'O', 'T')
#define TAG_SUM STATE_TAG('S', 'U', 'M', ' ')
#define SUM_STATE_VERSION 1u /* the integrity section (see verify_sum) */
#define TAG_VIRTIO(n) STATE_TAG('V', 'I', 'O', '0' + (n))

/* The transport in slot n, as machine.c wires it. */
static struct virtio_mmio *virtio_slot(struct machine *m, unsigned n)
{
	switch (n) {
	case 0: return m->has_blk ? &m->blk.vmio : &m->empty_slots[0];
	case 1: return m->has_net ? &m->net.vmio : &m->empty_slots[1];
	case 2: return &m->rng.vmio;
	case 3: return &m->vcon.vmio;
	default: return &m->empty_slots[n];
	}
}

/* HTIF's addresses come back with the section; the board's watch on the
 * tohost page follows them. */
static int load_htif(struct machine *m, struct state_reader *r)
{
	if (htif_load(&m->htif, r))
		return -1;
	machine_watch_tohost(m);
	return 0;
}

/* The attached disk must be the one the snapshot froze. */
static int load_disk(struct machine *m, struct state_reader *r)
{
	struct disk_identity want, have;
	if (disk_identity_load(&want, r))
		return -1;
	machine_disk_identity(m, &have);
	return disk_identity_check(&want, &have, r);
}

void snapshot_encode_disk_identity(struct machine *m, struct state_writer *w)
{
	struct disk_identity id;
	machine_disk_identity(m, &id);
	disk_identity_save_digest(&id, w);
}

/* --- The whole machine -------------------------------------------------- */

/* `boot`: with the BOOT section (a migration sends it ahead). */
static void encode_state(struct machine *m, struct state_writer *w, bool boot)
{
	bool virt = m->cfg.board == BOARD_VIRT;
#define SECTION(tag, version, save)                   \
	do {                                          \
		sw_begin_section(w, tag, version, 0); \
		save;                                 \
		sw_end_section(w);                    \
	} while (0)
	SECTION(TAG_CONF, CONF_STATE_VERSION, machine_conf_save(m, w));
	SECTION(TAG_MACH, MACH_STATE_VERSION, machine_run_state_save(m, w));
	SECTION(TAG_CPU, CPU_STATE_VERSION, hart_save(&m->hart, w));
	SECTION(TAG_CLOCK, CLOCK_STATE_VERSION, vclock_save(&m->clock, w));
	SECTION(TAG_CLINT, CLINT_STATE_VERSION, clint_save(&m->clint, w));
	SECTION(TAG_HTIF, HTIF_STATE_VERSION, htif_save(&m->htif, w));
	SECTION(TAG_EVENTS, EVENTS_STATE_VERSION, events_save(&m->events, w));
	if (virt) {
		SECTION(TAG_PLIC, PLIC_STATE_VERSION, plic_save(&m->plic, w));
		SECTION(TAG_UART, UART_STATE_VERSION, uart_save(&m->uart, w));
		SECTION(TAG_SYSCON, SYSCON_STATE_VERSION, syscon_save(&m->syscon, w));
		SECTION(TAG_RTC, RTC_STATE_VERSION, rtc_save(&m->rtc, w));
		SECTION(TAG_MROM, MROM_STATE_VERSION, machine_rom_save(m, w));
		/* What a reboot loads into RAM: part of the machine, so a
		 * restored or replayed VM reboots without the original files. */
		if (boot)
			SECTION(TAG_BOOT, BOOT_STATE_VERSION, machine_boot_save(m, w));
		for (unsigned n = 0; n < VIRT_VIRTIO_SLOTS; n++)
			SECTION(TAG_VIRTIO(n), VIRTIO_STATE_VERSION,
				virtio_mmio_save(virtio_slot(m, n), w));
	}
#undef SECTION
}

void snapshot_encode_state(struct machine *m, struct state_writer *w)
{
	encode_state(m, w, true);
}

void snapshot_encode_state_except_boot(struct machine *m, struct state_writer *w)
{
	encode_state(m, w, false);
}

/* Write out what is buffered, hashing it on the way. */
static int sum_flush(struct state_writer *w, crypto_generichash_state *sum, FILE *out, char *err,
		     size_t errlen)
{
	if (!w->oom)
		crypto_generichash_update(sum, w->buf, w->len);
	return sw_flush(w, out, err, errlen);
}

/* The file header (with `flags`), every section but RAM, and DISK. */
static int save_head(struct machine *m, struct state_writer *w, bool boot, uint32_t flags,
		     char *err, size_t errlen)
{
	/* The overlay's length is the disk's state: flush it first, so the
	 * prefix the snapshot names is on stable storage before the
	 * snapshot is. */
	struct disk_identity disk;
	memset(&disk, 0, sizeof(disk));
	char why[PATH_MAX + 128];
	if (m->has_blk && disk_image_freeze(m->blk.disk, &disk, why, sizeof(why))) {
		snprintf(err, errlen, "snapshot: disk %s", why);
		return -1;
	}
	sw_file_header(w, SNAPSHOT_FORMAT_VERSION, flags);
	encode_state(m, w, boot);
	sw_begin_section(w, TAG_DISK, DISK_STATE_VERSION, 0);
	disk_identity_save(&disk, w);
	sw_end_section(w);
	if (w->oom) {
		snprintf(err, errlen, "snapshot: out of memory");
		return -1;
	}
	return 0;
}

int snapshot_save_without_ram(struct machine *m, struct state_writer *w, bool boot, char *err,
			      size_t errlen)
{
	return save_head(m, w, boot, 0, err, errlen);
}

int snapshot_save(struct machine *m, FILE *out, char *err, size_t errlen)
{
	return snapshot_save_hashed(m, out, NULL, err, errlen);
}

/* RAM goes as a reference to BOOT (RAM version 2) when it is the boot
 * image, which this file carries in its BOOT section. */
static bool ram_is_boot(const struct machine *m)
{
	return m->ram_is_boot_image && m->cfg.board == BOARD_VIRT && m->boot_image_len;
}

int snapshot_save_hashed(struct machine *m, FILE *out, uint8_t file_hash[SNAPSHOT_SUM_BYTES],
			 char *err, size_t errlen)
{
	struct state_writer w;
	crypto_generichash_state sum;
	crypto_generichash_init(&sum, NULL, 0, SNAPSHOT_SUM_BYTES);
	sw_init(&w);
	int rc = save_head(m, &w, true, SNAPSHOT_FLAG_SUM, err, errlen);
	if (rc == 0)
		rc = sum_flush(&w, &sum, out, err, errlen);
	if (rc == 0 && ram_is_boot(m)) {
		sw_begin_section(&w, TAG_RAM, RAM_BOOT_STATE_VERSION, 0);
		machine_ram_boot_save(m, &w);
		sw_end_section(&w);
	} else if (rc == 0) {
		sw_begin_section(&w, TAG_RAM, RAM_STATE_VERSION, 0);
		rc = machine_ram_save(m, &w, true, err, errlen);
		sw_end_section(&w);
	}
	if (rc == 0)
		rc = sum_flush(&w, &sum, out, err, errlen);
	if (rc == 0) {
		/* Last: the hash of every byte before this section.  The
		 * whole file's hash goes on from the same state. */
		uint8_t digest[SNAPSHOT_SUM_BYTES];
		crypto_generichash_state whole = sum;
		crypto_generichash_final(&sum, digest, sizeof(digest));
		sw_begin_section(&w, TAG_SUM, SUM_STATE_VERSION, 0);
		sw_put_bytes(&w, digest, sizeof(digest));
		sw_end_section(&w);
		if (file_hash) {
			crypto_generichash_update(&whole, w.buf, w.len);
			crypto_generichash_final(&whole, file_hash, SNAPSHOT_SUM_BYTES);
		}
		rc = sw_flush(&w, out, err, errlen);
	}
	if (rc == 0 && fflush(out)) {
		snprintf(err, errlen, "snapshot: write failed");
		rc = -1;
	}
	sw_free(&w);
	return rc;
}

int snapshot_save_file(struct machine *m, const char *path, char *err, size_t errlen)
{
	return snapshot_save_file_hashed(m, path, NULL, err, errlen);
}

int snapshot_save_file_hashed(struct machine *m, const char *path,
			      uint8_t file_hash[SNAPSHOT_SUM_BYTES], char *err, size_t errlen)
{
	char tmp[PATH_MAX], why[512] = "";
	if (!*path || (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "'%.64s': %s", path, *path ? "path too long" : "empty path");
		return -1;
	}
	FILE *out = fopen(tmp, "wb");
	if (!out) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	int rc = snapshot_save_hashed(m, out, file_hash, why, sizeof(why));
	if (fclose(out) != 0 && rc == 0) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		rc = -1;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		rc = -1;
	}
	if (rc != 0) {
		unlink(tmp);
		snprintf(err, errlen, "%s: %s", path, why);
	}
	return rc;
}

/* What the loader knows: which sections, and whether this board needs
 * them. */
enum { SEC_CONF, SEC_MACH, SEC_CPU, SEC_CLOCK, SEC_CLINT, SEC_HTIF, SEC_EVENTS, SEC_PLIC,
       SEC_UART, SEC_SYSCON, SEC_RTC, SEC_MROM, SEC_BOOT, SEC_VIRTIO0,
       SEC_DISK = SEC_VIRTIO0 + VIRT_VIRTIO_SLOTS, SEC_RAM, SEC_COUNT };

static uint32_t section_tag(int i)
{
	static const uint32_t tags[] = {
		[SEC_CONF] = TAG_CONF, [SEC_MACH] = TAG_MACH, [SEC_CPU] = TAG_CPU,
		[SEC_CLOCK] = TAG_CLOCK, [SEC_CLINT] = TAG_CLINT, [SEC_HTIF] = TAG_HTIF,
		[SEC_EVENTS] = TAG_EVENTS, [SEC_PLIC] = TAG_PLIC, [SEC_UART] = TAG_UART,
		[SEC_SYSCON] = TAG_SYSCON, [SEC_RTC] = TAG_RTC, [SEC_MROM] = TAG_MROM,
		[SEC_BOOT] = TAG_BOOT, [SEC_DISK] = TAG_DISK, [SEC_RAM] = TAG_RAM,
	};
	return (i >= SEC_VIRTIO0 && i < SEC_DISK) ? TAG_VIRTIO(i - SEC_VIRTIO0) : tags[i];
}

/* The version this keel writes and reads, each owner's own. */
static uint32_t section_version(int i)
{
	static const uint32_t versions[] = {
		[SEC_CONF] = CONF_STATE_VERSION, [SEC_MACH] = MACH_STATE_VERSION,
		[SEC_CPU] = CPU_STATE_VERSION, [SEC_CLOCK] = CLOCK_STATE_VERSION,
		[SEC_CLINT] = CLINT_STATE_VERSION, [SEC_HTIF] = HTIF_STATE_VERSION,
		[SEC_EVENTS] = EVENTS_STATE_VERSION, [SEC_PLIC] = PLIC_STATE_VERSION,
		[SEC_UART] = UART_STATE_VERSION, [SEC_SYSCON] = SYSCON_STATE_VERSION,
		[SEC_RTC] = RTC_STATE_VERSION, [SEC_MROM] = MROM_STATE_VERSION,
		[SEC_BOOT] = BOOT_STATE_VERSION, [SEC_DISK] = DISK_STATE_VERSION,
		[SEC_RAM] = RAM_STATE_VERSION,
	};
	return (i >= SEC_VIRTIO0 && i < SEC_DISK) ? VIRTIO_STATE_VERSION : versions[i];
}

static int section_index(uint32_t tag)
{
	for (int i = 0; i < SEC_COUNT; i++)
		if (section_tag(i) == tag)
			return i;
	return -1;
}

static bool section_needed(const struct machine *m, int i, bool ram)
{
	if (i == SEC_RAM)
		return ram;
	return m->cfg.board == BOARD_VIRT || i < SEC_PLIC || i >= SEC_DISK;
}

static int decode_section(struct machine *m, int i, struct state_reader *r)
{
	switch (i) {
	case SEC_CONF: return machine_conf_check(m, r);
	case SEC_MACH: return machine_run_state_load(m, r);
	case SEC_CPU: return hart_load(&m->hart, r);
	case SEC_CLOCK: return vclock_load(&m->clock, r);
	case SEC_CLINT: return clint_load(&m->clint, r);
	case SEC_HTIF: return load_htif(m, r);
	case SEC_EVENTS: return events_load(&m->events, r);
	case SEC_PLIC: return plic_load(&m->plic, r);
	case SEC_UART: return uart_load(&m->uart, r);
	case SEC_SYSCON: return syscon_load(&m->syscon, r);
	case SEC_RTC: return rtc_load(&m->rtc, r);
	case SEC_MROM: return machine_rom_load(m, r);
	case SEC_BOOT: return machine_boot_load(m, r);
	case SEC_DISK: return load_disk(m, r);
	case SEC_RAM: return machine_ram_load(m, r);
	default: {
		unsigned n = (unsigned)(i - SEC_VIRTIO0);
		return virtio_mmio_load(virtio_slot(m, n), r, n);
	}
	}
}

/* `ram`: the file must have a RAM section (false: it must not, and RAM
 * is left as it is).  `boot`: it must have BOOT (false: it may, and the
 * machine's boot image is otherwise left as it is). */
static int load_sections(struct machine *m, struct state_reader *r, bool ram, bool boot)
{
	uint32_t version, flags;
	if (sr_file_header(r, &version, &flags))
		return -1;
	if (version != SNAPSHOT_FORMAT_VERSION)
		return sr_fail(r, "format version %u; this keel reads version %u", version,
			       SNAPSHOT_FORMAT_VERSION);
	bool seen[SEC_COUNT] = {false};
	struct state_section s;
	int rc;
	char name[5];
	while ((rc = sr_next_section(r, &s)) == 1) {
		state_tag_name(s.tag, name);
		int i = section_index(s.tag);
		if (i < 0 || !section_needed(m, i, ram)) {
			if (s.flags & STATE_SECTION_OPTIONAL)
				continue;
			return sr_fail(r, "unknown section '%s' (not marked optional)", name);
		}
		if (!seen[SEC_CONF] && i != SEC_CONF)
			return sr_fail(r, "section '%s' before CONF", name);
		if (seen[i])
			return sr_fail(r, "section '%s' appears twice", name);
		seen[i] = true;
		bool ram_boot = i == SEC_RAM && s.version == RAM_BOOT_STATE_VERSION;
		if (s.version != section_version(i) && !ram_boot)
			return sr_fail(r, "section '%s' version %u; this keel reads version %u", name,
				       s.version, section_version(i));
		if (ram_boot)
			machine_ram_boot_load(m, &s.body);
		else
			decode_section(m, i, &s.body);
		if (sr_end_section(&s))
			return sr_fail(r, "%s", s.body.err);
	}
	if (rc < 0)
		return -1;
	for (int i = 0; i < SEC_COUNT; i++) {
		if (!seen[i] && section_needed(m, i, ram) && (boot || i != SEC_BOOT))
			return sr_fail(r, "missing section '%s' (truncated?)",
				       state_tag_name(section_tag(i), name));
	}
	/* The hart rebuilt its own caches in hart_load; the PLIC's output
	 * lines follow the state of both. */
	if (m->cfg.board == BOARD_VIRT)
		plic_update(&m->plic);
	return 0;
}

/* The integrity check (docs/snapshot-format.md "Integrity"): with the
 * header's SUM flag, the file must end in a SUM section holding the
 * BLAKE2b-256 of every byte before it; *body_len is then the length
 * without it.  A file without the flag (written before the check
 * existed) is accepted, with a warning if `warn_old`; any other flag is
 * refused.
 * Nothing is decoded here, so a corrupt file is refused before it can
 * touch a machine. */
static int verify_sum(struct state_reader *r, size_t *body_len, bool warn_old)
{
	const uint8_t *p = r->p;
	uint32_t version, flags;
	*body_len = r->len;
	if (sr_file_header(r, &version, &flags))
		return -1;
	r->pos = 0;
	if (flags & ~SNAPSHOT_FLAG_SUM)
		return sr_fail(r, "unknown header flags 0x%x (a newer keel's file, or corrupt)", flags);
	if (!(flags & SNAPSHOT_FLAG_SUM)) {
		if (warn_old)
				fprintf(stderr, "keel: warning: snapshot written by an older keel, without an "
					"integrity check: corruption in it would go unnoticed\n");
		return 0;
	}
	const size_t trailer = STATE_SECTION_HEADER_LEN + SNAPSHOT_SUM_BYTES;
	if (r->len < STATE_FILE_HEADER_LEN + trailer)
		return sr_fail(r, "truncated: no integrity section at the end");
	struct state_reader t;
	sr_init(&t, p + r->len - trailer, trailer);
	uint32_t tag = sr_u32(&t), sver = sr_u32(&t), sflags = sr_u32(&t);
	uint64_t slen = sr_u64(&t);
	if (tag != TAG_SUM || sver != SUM_STATE_VERSION || sflags != 0 || slen != SNAPSHOT_SUM_BYTES)
		return sr_fail(r, "truncated or corrupt: the file does not end in its integrity "
				  "section 'SUM '");
	uint8_t want[SNAPSHOT_SUM_BYTES];
	crypto_generichash(want, sizeof(want), p, r->len - trailer, NULL, 0);
	if (sodium_memcmp(want, sr_take(&t, SNAPSHOT_SUM_BYTES), sizeof(want)) != 0)
		return sr_fail(r, "corrupt: the BLAKE2b-256 of its %zu bytes does not match the "
				  "one it carries", r->len - trailer);
	*body_len = r->len - trailer;
	return 0;
}

int snapshot_load_buffer(struct machine *m, const void *buf, size_t len, char *err,
			 size_t errlen)
{
	struct state_reader r;
	size_t body;
	sr_init(&r, buf, len);
	if (verify_sum(&r, &body, true) == 0) {
		sr_init(&r, buf, body);
		if (load_sections(m, &r, true, true) == 0)
			return 0;
	}
	snprintf(err, errlen, "snapshot: %s", r.err);
	return -1;
}

/* A migration's state (svc/migrate): written by snapshot_save_without_ram
 * into a stream that the channel authenticates chunk by chunk, so it
 * carries no SUM section of its own. */
int snapshot_load_without_ram(struct machine *m, const void *buf, size_t len, bool boot,
			      char *err, size_t errlen)
{
	struct state_reader r;
	sr_init(&r, buf, len);
	if (load_sections(m, &r, false, boot) == 0)
		return 0;
	snprintf(err, errlen, "snapshot: %s", r.err);
	return -1;
}

int snapshot_load_boot(struct machine *m, const void *buf, size_t len, char *err, size_t errlen)
{
	struct state_reader r;
	struct state_section s;
	bool seen = false;
	int rc;
	char name[5];
	sr_init(&r, buf, len);
	while ((rc = sr_next_section(&r, &s)) == 1) {
		state_tag_name(s.tag, name);
		if (s.tag != TAG_BOOT || !section_needed(m, SEC_BOOT, false))
			rc = sr_fail(&r, "section '%s' where only BOOT may be", name);
		else if (seen)
			rc = sr_fail(&r, "section '%s' appears twice", name);
		else if (s.version != BOOT_STATE_VERSION)
			rc = sr_fail(&r, "section '%s' version %u; this keel reads version %u", name,
				     s.version, BOOT_STATE_VERSION);
		else if (machine_boot_load(m, &s.body) || sr_end_section(&s))
			rc = sr_fail(&r, "%s", s.body.err);
		if (rc < 0)
			break;
		seen = true;
	}
	if (rc == 0)
		return 0;
	snprintf(err, errlen, "snapshot: %s", r.err);
	return -1;
}

int snapshot_load(struct machine *m, FILE *in, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	/* RAM, zstd's worst-case expansion of it, and the small sections. */
	size_t max = m->ram_size + m->ram_size / 128 + SNAPSHOT_MAX_OVERHEAD;
	if (state_read_file(in, max, &buf, &len, err, errlen))
		return -1;
	int rc = snapshot_load_buffer(m, buf, len, err, errlen);
	free(buf);
	return rc;
}

int snapshot_peek_conf(const void *buf, size_t len, struct snapshot_conf *c, char *err,
		       size_t errlen)
{
	struct state_reader r;
	struct state_section s;
	uint32_t version, flags;
	int rc = 0;
	sr_init(&r, buf, len);
	if (sr_file_header(&r, &version, &flags) == 0 && version != SNAPSHOT_FORMAT_VERSION)
		sr_fail(&r, "format version %u; this keel reads version %u", version,
			SNAPSHOT_FORMAT_VERSION);
	if (!sr_failed(&r) && (rc = sr_next_section(&r, &s)) == 1) {
		if (s.tag != TAG_CONF || s.version != CONF_STATE_VERSION)
			sr_fail(&r, "the first section is not CONF version %u", CONF_STATE_VERSION);
		c->board = sr_u32(&s.body);
		c->ram_base = sr_u64(&s.body);
		c->ram_size = sr_u64(&s.body);
		c->has_blk = sr_bool(&s.body);
		c->has_net = sr_bool(&s.body);
		if (!sr_failed(&r) && sr_end_section(&s))
			sr_fail(&r, "%s", s.body.err);
	}
	if (!sr_failed(&r) && rc == 0)
		sr_fail(&r, "no CONF section");
	if (!sr_failed(&r))
		return 0;
	snprintf(err, errlen, "snapshot: %s", r.err);
	return -1;
}

int snapshot_peek_disk(const void *buf, size_t len, struct disk_identity *id, char *err,
		       size_t errlen)
{
	struct state_reader r;
	struct state_section s;
	uint32_t version, flags;
	int rc;
	size_t body;
	sr_init(&r, buf, len);
	if (verify_sum(&r, &body, false) == 0) /* the load that follows warns */
		sr_init(&r, buf, body);
	if (!sr_failed(&r) && sr_file_header(&r, &version, &flags) == 0 &&
	    version != SNAPSHOT_FORMAT_VERSION)
		sr_fail(&r, "format version %u; this keel reads version %u", version,
			SNAPSHOT_FORMAT_VERSION);
	while (!sr_failed(&r) && (rc = sr_next_section(&r, &s)) == 1) {
		if (s.tag != TAG_DISK)
			continue;
		if (s.version != DISK_STATE_VERSION)
			sr_fail(&r, "section 'DISK' version %u; this keel reads version %u", s.version,
				DISK_STATE_VERSION);
		else if (disk_identity_load(id, &s.body) || sr_end_section(&s))
			sr_fail(&r, "%s", s.body.err);
		break;
	}
	if (!sr_failed(&r) && rc == 0)
		sr_fail(&r, "no DISK section (a snapshot from an older keel?)");
	if (!sr_failed(&r))
		return 0;
	snprintf(err, errlen, "snapshot: %s", r.err);
	return -1;
}
