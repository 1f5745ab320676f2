/* Boot image loading for the virt board.
 *
 * Layout in DRAM (base 0x8000_0000):
 *   +0        firmware (OpenSBI fw_dynamic)
 *   +2 MiB    kernel
 *   middle    initrd (at RAM/2, or just above the kernel if that is higher)
 *   top-2MiB  device tree
 */
#include "board/boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "board/elf_load.h"
#include "board/fdt.h"
#include "board/virt.h"
#include "bus/bus.h"

#define FDT_MAX 0x10000
#define FW_DYNAMIC_MAGIC 0x4942534fULL /* "OSBI" */
#define FW_DYNAMIC_VERSION 2
#define NEXT_MODE_S 1
#define RISCV_IMAGE_MAGIC2 0x05435352u /* "RSC\x05" at offset 0x38 */
/* Exactly what the hart implements (docs/cpu.md), in canonical order: the
 * device tree's riscv,isa and, split up, riscv,isa-extensions. */
#define ISA_STRING                                                                 \
	"rv64imafdc_zicbom_zicbop_zicboz_zicntr_zicond_zicsr_zifencei_zihintpause" \
	"_zfh_zfhmin_zba_zbb_zbc_zbs_zkt_sstc_svinval_svnapot_svpbmt"

static int fail(char *err, size_t errlen, const char *path, const char *why)
{
	snprintf(err, errlen, "%s: %s", path, why);
	return -1;
}

/* Read a whole file into guest RAM at `gpa`.  *size gets its length. */
static int load_raw(const struct boot_target *m, const char *path, uint64_t gpa, uint64_t limit,
		    uint64_t *size, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, path, "not a regular file");
	}
	uint64_t len = (uint64_t)st.st_size;
	uint8_t *dst = bus_ram_ptr(m->bus, gpa, len, true);
	if (len == 0 || len > limit || !dst) {
		close(fd);
		return fail(err, errlen, path, len == 0 ? "empty file" : "does not fit in guest RAM");
	}
	uint64_t done = 0;
	while (done < len) {
		ssize_t n = read(fd, dst + done, len - done);
		if (n <= 0) {
			close(fd);
			return fail(err, errlen, path, n < 0 ? strerror(errno) : "short read");
		}
		done += (uint64_t)n;
	}
	close(fd);
	*size = len;
	return 0;
}

static bool is_elf(const char *path)
{
	uint8_t magic[4] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool yes = read(fd, magic, 4) == 4 && !memcmp(magic, "\177ELF", 4);
	close(fd);
	return yes;
}

static int load_kernel(const struct boot_target *m, const char *path, uint64_t *entry, uint64_t *end,
		       char *err, size_t errlen)
{
	if (is_elf(path)) {
		struct elf_image img;
		if (elf_load(m->bus, path, &img, err, errlen))
			return -1;
		*entry = img.entry;
		*end = img.highest;
		return 0;
	}
	uint64_t base = VIRT_DRAM_BASE + VIRT_KERNEL_OFFSET, size;
	if (load_raw(m, path, base, m->ram_size / 2, &size, err, errlen))
		return -1;
	uint32_t magic2;
	uint64_t image_size;
	const uint8_t *hdr = bus_ram_ptr(m->bus, base, 64, false);
	memcpy(&magic2, hdr + 0x38, 4);
	memcpy(&image_size, hdr + 0x10, 8);
	if (size < 64 || magic2 != RISCV_IMAGE_MAGIC2)
		return fail(err, errlen, path, "not a RISC-V Linux Image (bad magic) nor an ELF");
	*entry = base;
	*end = base + (image_size > size ? image_size : size);
	return 0;
}

/* The reset ROM, as QEMU's: six instructions, then the firmware address,
 * the dtb address and struct fw_dynamic_info. */
static const uint32_t reset_code[] = {
	0x00000297, /* auipc t0, 0          */
	0x02828613, /* addi  a2, t0, 40     */
	0xf1402573, /* csrr  a0, mhartid    */
	0x0202b583, /* ld    a1, 32(t0)     */
	0x0182b283, /* ld    t0, 24(t0)     */
	0x00028067, /* jr    t0             */
};
#define ROM_DTB_ADDR_OFFSET (sizeof(reset_code) + 8)

static void write_reset_rom(const struct boot_target *m, uint64_t fw_addr, uint64_t dtb_addr,
			    uint64_t kernel_entry)
{
	const uint64_t data[] = {
		fw_addr, dtb_addr,
		/* fw_dynamic_info: magic, version, next_addr, next_mode, options, boot_hart */
		FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION, kernel_entry, NEXT_MODE_S, 0, 0,
	};
	memset(m->rom, 0, VIRT_MROM_SIZE);
	memcpy(m->rom, reset_code, sizeof(reset_code));
	memcpy(m->rom + sizeof(reset_code), data, sizeof(data));
}

int boot_load(const struct boot_target *m, const struct boot_config *cfg,
	      const uint8_t *rng_seed, char *err, size_t errlen)
{
	uint64_t fw_size, kernel_entry, kernel_end;
	if (load_raw(m, cfg->firmware, VIRT_DRAM_BASE, VIRT_KERNEL_OFFSET, &fw_size, err, errlen))
		return -1;
	if (load_kernel(m, cfg->kernel, &kernel_entry, &kernel_end, err, errlen))
		return -1;

	struct fdt_config fc = {
		.ram_size = m->ram_size,
		.bootargs = cfg->append,
		.isa = ISA_STRING,
		.virtio_slots = VIRT_VIRTIO_SLOTS,
		.rng_seed = rng_seed,
		.rng_seed_len = rng_seed ? FDT_RNG_SEED_LEN : 0,
	};
	uint64_t dtb_addr = (VIRT_DRAM_BASE + m->ram_size - FDT_MAX) & ~0x1fffffULL;
	if (cfg->initrd) {
		uint64_t start = VIRT_DRAM_BASE + m->ram_size / 2;
		if (start < ((kernel_end + 0x1fffff) & ~0x1fffffULL))
			start = (kernel_end + 0x1fffff) & ~0x1fffffULL;
		uint64_t size;
		if (start >= dtb_addr ||
		    load_raw(m, cfg->initrd, start, dtb_addr - start, &size, err, errlen))
			return start >= dtb_addr ? fail(err, errlen, cfg->initrd, "no room in guest RAM")
						 : -1;
		fc.initrd_start = start;
		fc.initrd_end = start + size;
	}
	uint8_t *dtb = bus_ram_ptr(m->bus, dtb_addr, FDT_MAX, true);
	if (!dtb || fdt_build(&fc, dtb, FDT_MAX) < 0)
		return fail(err, errlen, "device tree", "does not fit");
	write_reset_rom(m, VIRT_DRAM_BASE, dtb_addr, kernel_entry);
	return 0;
}

int boot_reseed(const struct boot_target *t, const uint8_t *seed)
{
	uint64_t dtb_addr;
	memcpy(&dtb_addr, t->rom + ROM_DTB_ADDR_OFFSET, sizeof(dtb_addr));
	uint8_t *dtb = bus_ram_ptr(t->bus, dtb_addr, FDT_MAX, true);
	return dtb ? fdt_set_rng_seed(dtb, seed) : -1;
}
