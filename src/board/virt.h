/* The QEMU-virt-compatible board: memory map and interrupt numbers
 * (docs/design.md §2). */
#ifndef KEEL_BOARD_VIRT_H
#define KEEL_BOARD_VIRT_H

#define VIRT_MROM_BASE 0x1000ULL
#define VIRT_MROM_SIZE 0xf000ULL
#define VIRT_TEST_BASE 0x100000ULL
#define VIRT_RTC_BASE 0x101000ULL
#define VIRT_CLINT_BASE 0x2000000ULL
#define VIRT_PLIC_BASE 0xc000000ULL
#define VIRT_UART_BASE 0x10000000ULL
#define VIRT_VIRTIO_BASE 0x10001000ULL
#define VIRT_VIRTIO_STRIDE 0x1000ULL
#define VIRT_VIRTIO_SLOTS 8
#define VIRT_DRAM_BASE 0x80000000ULL

#define VIRT_IRQ_VIRTIO_FIRST 1 /* slot n uses source 1 + n */
#define VIRT_IRQ_UART 10
#define VIRT_IRQ_RTC 11

#define VIRT_KERNEL_OFFSET 0x200000ULL /* the kernel loads at DRAM + 2 MiB */

#endif
