/* 16550A.  Registers (reg-shift 0):
 *   0 RBR/THR (DLL when DLAB)   1 IER (DLM when DLAB)   2 IIR/FCR
 *   3 LCR   4 MCR   5 LSR   6 MSR   7 SCR */
#include "dev/uart16550.h"

#include <string.h>

#include "lib/state_io.h"

#define LCR_DLAB 0x80
#define IER_RDI 0x01 /* received data available */
#define IER_THRI 0x02 /* transmit holding register empty */
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO_ON 0xc0
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_LOOP 0x10

void uart_init(struct uart16550 *u, struct irq_line irq,
	       void (*write)(void *opaque, const uint8_t *buf, size_t len), void *write_opaque)
{
	memset(u, 0, sizeof(*u));
	u->irq = irq;
	u->write = write;
	u->write_opaque = write_opaque;
}

static uint8_t pending_iir(const struct uart16550 *u)
{
	if ((u->ier & IER_RDI) && u->rx_count)
		return IIR_RDI;
	if ((u->ier & IER_THRI) && u->thre_pending)
		return IIR_THRI;
	return IIR_NONE;
}

static void update_irq(struct uart16550 *u)
{
	irq_set(&u->irq, pending_iir(u) != IIR_NONE);
}

size_t uart_rx_space(const struct uart16550 *u) { return UART_RX_FIFO - u->rx_count; }

size_t uart_receive(struct uart16550 *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;
	while (n < len && u->rx_count < UART_RX_FIFO) {
		u->rx[(u->rx_head + u->rx_count) % UART_RX_FIFO] = buf[n++];
		u->rx_count++;
	}
	update_irq(u);
	return n;
}

static uint8_t pop_rx(struct uart16550 *u)
{
	if (!u->rx_count)
		return 0;
	uint8_t c = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_RX_FIFO;
	u->rx_count--;
	return c;
}

static uint8_t read_reg(struct uart16550 *u, unsigned reg)
{
	bool dlab = u->lcr & LCR_DLAB;
	switch (reg) {
	case 0: return dlab ? u->dll : pop_rx(u);
	case 1: return dlab ? u->dlm : u->ier;
	case 2: {
		uint8_t iir = pending_iir(u);
		if (iir == IIR_THRI)
			u->thre_pending = false; /* reading IIR acknowledges THRE */
		return iir | ((u->fcr & 1) ? IIR_FIFO_ON : 0);
	}
	case 3: return u->lcr;
	case 4: return u->mcr;
	case 5: return LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);
	case 6: return (u->mcr & MCR_LOOP) ? 0 : 0xb0; /* DCD, DSR, CTS */
	default: return u->scr;
	}
}

static void write_reg(struct uart16550 *u, unsigned reg, uint8_t v)
{
	bool dlab = u->lcr & LCR_DLAB;
	switch (reg) {
	case 0:
		if (dlab) {
			u->dll = v;
		} else if (u->mcr & MCR_LOOP) {
			uart_receive(u, &v, 1);
		} else {
			if (u->write)
				u->write(u->write_opaque, &v, 1);
			u->thre_pending = true; /* sent at once, so THR is empty again */
		}
		break;
	case 1:
		if (dlab) {
			u->dlm = v;
		} else {
			if ((v & IER_THRI) && !(u->ier & IER_THRI))
				u->thre_pending = true;
			u->ier = v & 0x0f;
		}
		break;
	case 2:
		u->fcr = v & 0xc9;
		if (v & 0x02) { /* clear the receive FIFO */
			u->rx_head = 0;
			u->rx_count = 0;
		}
		break;
	case 3: u->lcr = v; break;
	case 4: u->mcr = v & 0x1f; break;
	case 7: u->scr = v; break;
	default: break; /* LSR and MSR are read-only */
	}
}

static int uart_read(void *opaque, uint64_t off, unsigned size, uint64_t *val)
{
	struct uart16550 *u = opaque;
	*val = off < 8 ? read_reg(u, (unsigned)off) : 0;
	update_irq(u);
	return 0;
}

static int uart_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct uart16550 *u = opaque;
	if (off < 8)
		write_reg(u, (unsigned)off, (uint8_t)val);
	update_irq(u);
	return 0;
}

const struct mmio_ops uart_mmio_ops = {.read = uart_read, .write = uart_write};

/* --- State: registers, then the receive FIFO in arrival order ---------- */

void uart_save(const struct uart16550 *u, struct state_writer *w)
{
	sw_put_u8(w, u->ier);
	sw_put_u8(w, u->lcr);
	sw_put_u8(w, u->mcr);
	sw_put_u8(w, u->scr);
	sw_put_u8(w, u->dll);
	sw_put_u8(w, u->dlm);
	sw_put_u8(w, u->fcr);
	sw_put_u8(w, u->thre_pending);
	/* The ring position is an implementation detail: save the bytes in
	 * order so equal FIFO contents encode (and digest) equally. */
	sw_put_u32(w, u->rx_count);
	for (unsigned i = 0; i < u->rx_count; i++)
		sw_put_u8(w, u->rx[(u->rx_head + i) % UART_RX_FIFO]);
}

int uart_load(struct uart16550 *u, struct state_reader *r)
{
	u->ier = sr_u8(r);
	u->lcr = sr_u8(r);
	u->mcr = sr_u8(r);
	u->scr = sr_u8(r);
	u->dll = sr_u8(r);
	u->dlm = sr_u8(r);
	u->fcr = sr_u8(r);
	u->thre_pending = sr_bool(r);
	uint32_t count = sr_u32(r);
	if (!sr_failed(r) && count > UART_RX_FIFO)
		return sr_fail(r, "UART: %u bytes in a %u-byte FIFO", count, UART_RX_FIFO);
	u->rx_head = 0;
	u->rx_count = count;
	sr_bytes(r, u->rx, count);
	return sr_failed(r) ? -1 : 0;
}
