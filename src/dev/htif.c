/* HTIF tohost/fromhost.  See htif.h for the commands served. */
#include "dev/htif.h"

#include <string.h>

#include "bus/bus.h"
#include "lib/state_io.h"

#define SYS_WRITE 64

void htif_init(struct htif *h, struct bus *bus, uint64_t tohost, uint64_t fromhost, FILE *console)
{
	memset(h, 0, sizeof(*h));
	h->bus = bus;
	h->tohost = tohost;
	h->fromhost = fromhost;
	h->console = console;
}

static void htif_output(struct htif *h, const uint8_t *buf, size_t len)
{
	if (h->write) {
		h->write(h->write_opaque, buf, len);
	} else if (h->console) {
		fwrite(buf, 1, len, h->console);
		fflush(h->console);
	}
}

static void reply(struct htif *h, uint64_t value)
{
	bus_write(h->bus, h->tohost, 8, 0);
	if (h->fromhost)
		bus_write(h->bus, h->fromhost, 8, value);
}

/* riscv-pk's magic_mem block: eight doublewords, [0] = syscall number,
 * [1..] = arguments; the result goes back into [0]. */
static int64_t serve_syscall(struct htif *h, uint64_t block)
{
	uint64_t args[4];
	for (int i = 0; i < 4; i++)
		if (bus_read(h->bus, block + 8 * i, 8, &args[i]))
			return -14; /* EFAULT */
	if (args[0] != SYS_WRITE || (args[1] != 1 && args[1] != 2))
		return -38; /* ENOSYS */
	const uint8_t *buf = bus_ram_ptr(h->bus, args[2], args[3], false);
	if (!buf)
		return -14;
	htif_output(h, buf, args[3]);
	return (int64_t)args[3];
}

void htif_poll(struct htif *h)
{
	uint64_t cmd;
	if (!h->tohost || bus_read(h->bus, h->tohost, 8, &cmd) || cmd == 0)
		return;
	uint64_t device = cmd >> 56, code = (cmd >> 48) & 0xff, payload = cmd & ((1ULL << 48) - 1);
	if (device == 0 && code == 0) {
		if (payload & 1) {
			h->exited = true;
			h->exit_code = (int)((payload >> 1) & 0x7fffffff);
			return;
		}
		int64_t ret = serve_syscall(h, payload);
		bus_write(h->bus, payload, 8, (uint64_t)ret);
		reply(h, 1);
		return;
	}
	if (device == 1 && code == 1) {
		uint8_t c = (uint8_t)payload;
		htif_output(h, &c, 1);
	}
	reply(h, (device << 56) | (code << 48));
}

/* --- State -------------------------------------------------------------- */

void htif_save(const struct htif *h, struct state_writer *w)
{
	sw_put_u64(w, h->tohost);
	sw_put_u64(w, h->fromhost);
	sw_put_u8(w, h->exited);
	sw_put_u32(w, (uint32_t)h->exit_code);
}

int htif_load(struct htif *h, struct state_reader *r)
{
	uint64_t tohost = sr_u64(r), fromhost = sr_u64(r);
	bool exited = sr_bool(r);
	int exit_code = (int)sr_u32(r);
	if (sr_failed(r))
		return -1;
	h->tohost = tohost;
	h->fromhost = fromhost;
	h->exited = exited;
	h->exit_code = exit_code;
	return 0;
}
