/* The device tree, written with libfdt's sequential-write API.  The node
 * layout follows QEMU's hw/riscv/virt.c so that OpenSBI and Linux find
 * what they expect. */
#include "board/fdt.h"

#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "board/virt.h"
#include "cpu/hart.h"
#include "dev/clint.h"
#include "dev/plic.h"
#include "dev/rtc_goldfish.h"
#include "dev/syscon.h"
#include "dev/uart16550.h"
#include "lib/vclock.h"

enum { PHANDLE_CPU_INTC = 1, PHANDLE_PLIC = 2, PHANDLE_TEST = 3 };

/* reg = <hi(base) lo(base) hi(size) lo(size)> with #address/#size-cells 2 */
static int prop_reg(void *fdt, uint64_t base, uint64_t size)
{
	fdt32_t cells[4] = {cpu_to_fdt32(base >> 32), cpu_to_fdt32((uint32_t)base),
			    cpu_to_fdt32(size >> 32), cpu_to_fdt32((uint32_t)size)};
	return fdt_property(fdt, "reg", cells, sizeof(cells));
}

/* riscv,isa-base and riscv,isa-extensions (the newer binding Linux 6.5+
 * prefers) from an ISA string "rv64<letters>_<name>_<name>...": each
 * letter after "rv64" and each name becomes one string of the list. */
static int prop_isa_extensions(void *fdt, const char *isa)
{
	char list[512];
	size_t n = 0;
	const char *p = isa + 4; /* after "rv64" */
	for (; *p && *p != '_' && n + 2 <= sizeof(list); p++) {
		list[n++] = *p;
		list[n++] = '\0';
	}
	while (*p == '_') {
		const char *name = ++p;
		size_t len = strcspn(name, "_");
		if (n + len + 1 > sizeof(list))
			return -1;
		memcpy(list + n, name, len);
		n += len;
		list[n++] = '\0';
		p = name + len;
	}
	int rc = fdt_property_string(fdt, "riscv,isa-base", "rv64i");
	return rc | fdt_property(fdt, "riscv,isa-extensions", list, (int)n);
}

static int add_cpus(void *fdt, const struct fdt_config *cfg)
{
	int rc = 0;
	rc |= fdt_begin_node(fdt, "cpus");
	rc |= fdt_property_u32(fdt, "#address-cells", 1);
	rc |= fdt_property_u32(fdt, "#size-cells", 0);
	rc |= fdt_property_u32(fdt, "timebase-frequency", (uint32_t)VCLOCK_TIMEBASE_HZ);
	rc |= fdt_begin_node(fdt, "cpu@0");
	rc |= fdt_property_string(fdt, "device_type", "cpu");
	rc |= fdt_property_u32(fdt, "reg", 0);
	rc |= fdt_property_string(fdt, "status", "okay");
	rc |= fdt_property_string(fdt, "compatible", "riscv");
	rc |= fdt_property_string(fdt, "riscv,isa", cfg->isa);
	rc |= prop_isa_extensions(fdt, cfg->isa);
	rc |= fdt_property_u32(fdt, "riscv,cbom-block-size", CBO_BLOCK_SIZE);
	rc |= fdt_property_u32(fdt, "riscv,cbop-block-size", CBO_BLOCK_SIZE);
	rc |= fdt_property_u32(fdt, "riscv,cboz-block-size", CBO_BLOCK_SIZE);
	rc |= fdt_property_string(fdt, "mmu-type", "riscv,sv48");
	rc |= fdt_begin_node(fdt, "interrupt-controller");
	rc |= fdt_property_u32(fdt, "#interrupt-cells", 1);
	rc |= fdt_property(fdt, "interrupt-controller", NULL, 0);
	rc |= fdt_property_string(fdt, "compatible", "riscv,cpu-intc");
	rc |= fdt_property_u32(fdt, "phandle", PHANDLE_CPU_INTC);
	rc |= fdt_end_node(fdt); /* interrupt-controller */
	rc |= fdt_end_node(fdt); /* cpu@0 */
	rc |= fdt_end_node(fdt); /* cpus */
	return rc;
}

static int add_interrupt_controllers(void *fdt)
{
	int rc = 0;
	char name[64];
	snprintf(name, sizeof(name), "clint@%llx", VIRT_CLINT_BASE);
	rc |= fdt_begin_node(fdt, name);
	static const char clint_compat[] = "sifive,clint0\0riscv,clint0";
	rc |= fdt_property(fdt, "compatible", clint_compat, sizeof(clint_compat));
	rc |= prop_reg(fdt, VIRT_CLINT_BASE, CLINT_SIZE);
	fdt32_t clint_irqs[4] = {cpu_to_fdt32(PHANDLE_CPU_INTC), cpu_to_fdt32(3),
				 cpu_to_fdt32(PHANDLE_CPU_INTC), cpu_to_fdt32(7)};
	rc |= fdt_property(fdt, "interrupts-extended", clint_irqs, sizeof(clint_irqs));
	rc |= fdt_end_node(fdt);

	snprintf(name, sizeof(name), "plic@%llx", VIRT_PLIC_BASE);
	rc |= fdt_begin_node(fdt, name);
	static const char plic_compat[] = "sifive,plic-1.0.0\0riscv,plic0";
	rc |= fdt_property(fdt, "compatible", plic_compat, sizeof(plic_compat));
	rc |= prop_reg(fdt, VIRT_PLIC_BASE, PLIC_SIZE);
	rc |= fdt_property_u32(fdt, "#address-cells", 0);
	rc |= fdt_property_u32(fdt, "#interrupt-cells", 1);
	rc |= fdt_property(fdt, "interrupt-controller", NULL, 0);
	rc |= fdt_property_u32(fdt, "riscv,ndev", PLIC_SOURCES - 1);
	fdt32_t plic_irqs[4] = {cpu_to_fdt32(PHANDLE_CPU_INTC), cpu_to_fdt32(11),
				cpu_to_fdt32(PHANDLE_CPU_INTC), cpu_to_fdt32(9)};
	rc |= fdt_property(fdt, "interrupts-extended", plic_irqs, sizeof(plic_irqs));
	rc |= fdt_property_u32(fdt, "phandle", PHANDLE_PLIC);
	rc |= fdt_end_node(fdt);
	return rc;
}

static int add_device(void *fdt, const char *prefix, uint64_t base, uint64_t size,
		      const char *compat, size_t compat_len, int irq)
{
	char name[64];
	snprintf(name, sizeof(name), "%s@%llx", prefix, (unsigned long long)base);
	int rc = fdt_begin_node(fdt, name);
	rc |= fdt_property(fdt, "compatible", compat, (int)compat_len);
	rc |= prop_reg(fdt, base, size);
	if (irq >= 0) {
		rc |= fdt_property_u32(fdt, "interrupt-parent", PHANDLE_PLIC);
		rc |= fdt_property_u32(fdt, "interrupts", (uint32_t)irq);
	}
	return rc;
}

/* A syscon-poweroff/syscon-reboot node: Linux writes `value` to the test
 * device to act. */
static int add_syscon_action(void *fdt, const char *name, const char *compat, uint32_t value)
{
	int rc = fdt_begin_node(fdt, name);
	rc |= fdt_property_string(fdt, "compatible", compat);
	rc |= fdt_property_u32(fdt, "regmap", PHANDLE_TEST);
	rc |= fdt_property_u32(fdt, "offset", 0);
	rc |= fdt_property_u32(fdt, "value", value);
	rc |= fdt_end_node(fdt);
	return rc;
}

static int add_syscon_actions(void *fdt)
{
	return add_syscon_action(fdt, "poweroff", "syscon-poweroff", 0x5555) |
	       add_syscon_action(fdt, "reboot", "syscon-reboot", 0x7777);
}

static int add_soc(void *fdt, const struct fdt_config *cfg)
{
	int rc = fdt_begin_node(fdt, "soc");
	rc |= fdt_property_u32(fdt, "#address-cells", 2);
	rc |= fdt_property_u32(fdt, "#size-cells", 2);
	rc |= fdt_property_string(fdt, "compatible", "simple-bus");
	rc |= fdt_property(fdt, "ranges", NULL, 0);
	rc |= add_interrupt_controllers(fdt);

	static const char test_compat[] = "sifive,test1\0sifive,test0\0syscon";
	rc |= add_device(fdt, "test", VIRT_TEST_BASE, SYSCON_SIZE, test_compat, sizeof(test_compat), -1);
	rc |= fdt_property_u32(fdt, "phandle", PHANDLE_TEST);
	rc |= fdt_end_node(fdt);
	rc |= add_syscon_actions(fdt);

	static const char rtc_compat[] = "google,goldfish-rtc";
	rc |= add_device(fdt, "rtc", VIRT_RTC_BASE, RTC_SIZE, rtc_compat, sizeof(rtc_compat), VIRT_IRQ_RTC);
	rc |= fdt_end_node(fdt);

	static const char uart_compat[] = "ns16550a";
	rc |= add_device(fdt, "serial", VIRT_UART_BASE, UART_SIZE, uart_compat, sizeof(uart_compat), VIRT_IRQ_UART);
	rc |= fdt_property_u32(fdt, "clock-frequency", 3686400);
	rc |= fdt_end_node(fdt);

	/* Highest slot first, as QEMU does, so Linux names the first slot's
	 * disk vda. */
	static const char virtio_compat[] = "virtio,mmio";
	for (int n = (int)cfg->virtio_slots - 1; n >= 0; n--) {
		rc |= add_device(fdt, "virtio_mmio", VIRT_VIRTIO_BASE + (uint64_t)n * VIRT_VIRTIO_STRIDE,
				 VIRT_VIRTIO_STRIDE, virtio_compat, sizeof(virtio_compat),
				 VIRT_IRQ_VIRTIO_FIRST + n);
		rc |= fdt_end_node(fdt);
	}
	rc |= fdt_end_node(fdt); /* soc */
	return rc;
}

static int add_chosen_and_memory(void *fdt, const struct fdt_config *cfg)
{
	int rc = fdt_begin_node(fdt, "chosen");
	if (cfg->bootargs)
		rc |= fdt_property_string(fdt, "bootargs", cfg->bootargs);
	char path[64];
	snprintf(path, sizeof(path), "/soc/serial@%llx", VIRT_UART_BASE);
	rc |= fdt_property_string(fdt, "stdout-path", path);
	if (cfg->initrd_end > cfg->initrd_start) {
		rc |= fdt_property_u64(fdt, "linux,initrd-start", cfg->initrd_start);
		rc |= fdt_property_u64(fdt, "linux,initrd-end", cfg->initrd_end);
	}
	if (cfg->rng_seed_len)
		rc |= fdt_property(fdt, "rng-seed", cfg->rng_seed, (int)cfg->rng_seed_len);
	rc |= fdt_end_node(fdt);

	char name[64];
	snprintf(name, sizeof(name), "memory@%llx", VIRT_DRAM_BASE);
	rc |= fdt_begin_node(fdt, name);
	rc |= fdt_property_string(fdt, "device_type", "memory");
	rc |= prop_reg(fdt, VIRT_DRAM_BASE, cfg->ram_size);
	rc |= fdt_end_node(fdt);
	return rc;
}

int fdt_build(const struct fdt_config *cfg, void *buf, size_t bufsize)
{
	void *fdt = buf;
	int rc = fdt_create(fdt, (int)bufsize);
	rc |= fdt_finish_reservemap(fdt);
	rc |= fdt_begin_node(fdt, "");
	rc |= fdt_property_u32(fdt, "#address-cells", 2);
	rc |= fdt_property_u32(fdt, "#size-cells", 2);
	rc |= fdt_property_string(fdt, "compatible", "riscv-virtio");
	rc |= fdt_property_string(fdt, "model", "keel,virt");
	rc |= add_chosen_and_memory(fdt, cfg);
	rc |= add_cpus(fdt, cfg);
	rc |= add_soc(fdt, cfg);
	rc |= fdt_end_node(fdt);
	rc |= fdt_finish(fdt);
	if (rc)
		return -1;
	return (int)fdt_totalsize(fdt);
}

int fdt_set_rng_seed(void *fdt, const uint8_t seed[FDT_RNG_SEED_LEN])
{
	int node = fdt_path_offset(fdt, "/chosen");
	if (node < 0)
		return -1;
	return fdt_setprop_inplace(fdt, node, "rng-seed", seed, FDT_RNG_SEED_LEN) ? -1 : 0;
}
