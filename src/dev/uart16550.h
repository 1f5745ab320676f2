/* A 16550A UART (ns16550a, as on QEMU virt): the boot console.
 * Transmit is immediate (THR is always empty); received bytes wait in a
 * FIFO that the run loop fills from the event boundary. */
#ifndef KEEL_DEV_UART16550_H
#define KEEL_DEV_UART16550_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "dev/irq.h"

#define UART_SIZE 0x100
#define UART_RX_FIFO 256 /* deeper than a real 16550 so pasted input is not lost */

struct uart16550 {
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thre_pending; /* a transmit-empty interrupt is owed */
	uint8_t rx[UART_RX_FIFO];
	unsigned rx_head, rx_count;
	struct irq_line irq;
	void (*write)(void *opaque, const uint8_t *buf, size_t len);
	void *write_opaque;
};

void uart_init(struct uart16550 *u, struct irq_line irq,
	       void (*write)(void *opaque, const uint8_t *buf, size_t len), void *write_opaque);
extern const struct mmio_ops uart_mmio_ops;
/* Queue received bytes; returns how many fit. */
size_t uart_receive(struct uart16550 *u, const uint8_t *buf, size_t len);
/* Free space in the receive FIFO. */
size_t uart_rx_space(const struct uart16550 *u);

/* Snapshot section UART: see "Section codecs" in lib/state_io.h. */
struct state_reader;
struct state_writer;
#define UART_STATE_VERSION 1u
void uart_save(const struct uart16550 *u, struct state_writer *w);
int uart_load(struct uart16550 *u, struct state_reader *r);

#endif
