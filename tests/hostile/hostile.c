/* The hostile guest (issue 18): a bare-metal program, run as the virt
 * board's firmware, that behaves like a compromised kernel.
 *
 * Phase 1 hammers every MMIO window (UART, PLIC, CLINT, RTC, the eight
 * virtio-mmio slots) with reads and writes of random sizes, offsets and
 * values; ring addresses written to virtio registers point into a scratch
 * area half the time, so queues really come up and devices DMA.
 * Phase 2 drives each virtio device (blk, net, rng, console) with random
 * descriptor chains: random addresses (in RAM, past it, anywhere), huge
 * lengths, random flags and next indices, avail indices that jump.
 * Phase 3 checks that the devices report protocol errors as the spec says
 * (§2.1.2: DEVICE_NEEDS_RESET plus a configuration-change interrupt) for
 * a looping chain, a next index out of range, an avail index that jumps
 * past the queue and an indirect table of a bad length.
 *
 * Everything is a pure function of the seed, and keel is deterministic,
 * so the run is the same every time.  keel must stay up throughout; the
 * program powers off with PASS (0x5555 to the syscon) and a summary on the
 * UART, or FAIL with the number of the check that failed. */
#include <stdint.h>

#define UART 0x10000000ul
#define PLIC 0x0c000000ul
#define CLINT 0x02000000ul
#define RTC 0x00101000ul
#define SYSCON 0x00100000ul
#define VIRTIO 0x10001000ul
#define SLOT(n) (VIRTIO + (n) * 0x1000ul)

#define SCRATCH 0x80100000ul /* rings and buffers; the program is below */
#define BUFS (SCRATCH + 0x80000ul)

#define OPS_RANDOM_MMIO 400000u
#define OPS_PER_DEVICE 20000u

/* virtio-mmio registers (virtio 1.2 §4.2.2) */
enum {
	DEVICE_ID = 0x008, DRIVER_FEATURES = 0x020, DRIVER_FEATURES_SEL = 0x024,
	QUEUE_SEL = 0x030, QUEUE_NUM = 0x038, QUEUE_READY = 0x044, QUEUE_NOTIFY = 0x050,
	INTERRUPT_STATUS = 0x060, INTERRUPT_ACK = 0x064, STATUS = 0x070, QUEUE_DESC = 0x080,
	QUEUE_DRIVER = 0x090, QUEUE_DEVICE = 0x0a0,
};
#define NEEDS_RESET 64u
#define F_NEXT 1u
#define F_WRITE 2u
#define F_INDIRECT 4u

uint64_t traps; /* counted by the trap handler in start.S */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t ops, device_failures;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void wr(uint64_t addr, unsigned size, uint64_t v)
{
	switch (size) {
	case 1: *(volatile uint8_t *)addr = (uint8_t)v; break;
	case 2: *(volatile uint16_t *)addr = (uint16_t)v; break;
	case 4: *(volatile uint32_t *)addr = (uint32_t)v; break;
	default: *(volatile uint64_t *)addr = v; break;
	}
}

static uint64_t rd(uint64_t addr, unsigned size)
{
	switch (size) {
	case 1: return *(volatile uint8_t *)addr;
	case 2: return *(volatile uint16_t *)addr;
	case 4: return *(volatile uint32_t *)addr;
	default: return *(volatile uint64_t *)addr;
	}
}

static void reg_w(unsigned slot, unsigned off, uint32_t v) { wr(SLOT(slot) + off, 4, v); }
static uint32_t reg_r(unsigned slot, unsigned off) { return (uint32_t)rd(SLOT(slot) + off, 4); }

static void put_str(const char *s)
{
	while (*s)
		wr(UART, 1, (uint8_t)*s++);
}

static void put_dec(uint64_t v)
{
	char buf[24];
	int i = 0;
	do
		buf[i++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (i)
		wr(UART, 1, (uint8_t)buf[--i]);
}

static void power_off(unsigned fail_code)
{
	wr(SYSCON, 4, fail_code ? 0x3333u | fail_code << 16 : 0x5555u);
	for (;;)
		;
}

/* ---- phase 1: every register, random everything ------------------------- */

static void random_mmio(void)
{
	static const struct {
		uint64_t base, size;
	} win[] = {
		{UART, 0x100}, {PLIC, 0x600000}, {CLINT, 0x10000}, {RTC, 0x1000}, {VIRTIO, 0x8000},
	};
	for (unsigned i = 0; i < OPS_RANDOM_MMIO; i++, ops++) {
		uint64_t r = rnd();
		unsigned w = (unsigned)(r % 5), size = 1u << ((r >> 8) % 4);
		uint64_t off = rnd() % win[w].size;
		if (w == 1 && (r & 0x10000)) /* the PLIC's registers are sparse: aim */
			off = (r & 0x20000 ? 0x200000 + (rnd() % 0x3000) : rnd() % 0x3000);
		off &= ~(uint64_t)(size - 1);
		uint64_t v = rnd();
		/* Ring addresses into scratch half the time, so queues come up. */
		if (w == 4 && (r & 0x40000))
			v = SCRATCH + (v & 0x7fff0);
		if (r & 0x80000)
			wr(win[w].base + off, size, v);
		else
			rd(win[w].base + off, size);
	}
}

/* ---- phase 2: malformed rings --------------------------------------------- */

struct queue {
	uint64_t desc, avail, used;
	uint16_t num, avail_idx;
};

/* Reset, negotiate VERSION_1 and INDIRECT_DESC, both queues of size
 * `num` in the slot's scratch area, DRIVER_OK.  Returns 0 or -1. */
static int bring_up(unsigned slot, struct queue q[2], uint16_t num)
{
	reg_w(slot, STATUS, 0);
	reg_w(slot, STATUS, 1 | 2);
	reg_w(slot, DRIVER_FEATURES_SEL, 1);
	reg_w(slot, DRIVER_FEATURES, 1); /* VERSION_1 */
	reg_w(slot, DRIVER_FEATURES_SEL, 0);
	reg_w(slot, DRIVER_FEATURES, 1u << 28); /* INDIRECT_DESC */
	reg_w(slot, STATUS, 1 | 2 | 8);
	if (!(reg_r(slot, STATUS) & 8))
		return -1;
	for (unsigned i = 0; i < 2; i++) {
		uint64_t base = SCRATCH + slot * 0x10000ul + i * 0x8000ul;
		q[i] = (struct queue){base, base + 0x2000, base + 0x3000, num, 0};
		for (uint64_t a = base; a < base + 0x4000; a += 8)
			*(volatile uint64_t *)a = 0;
		reg_w(slot, QUEUE_SEL, i);
		reg_w(slot, QUEUE_NUM, num);
		reg_w(slot, QUEUE_DESC, (uint32_t)q[i].desc);
		reg_w(slot, QUEUE_DESC + 4, (uint32_t)(q[i].desc >> 32));
		reg_w(slot, QUEUE_DRIVER, (uint32_t)q[i].avail);
		reg_w(slot, QUEUE_DRIVER + 4, (uint32_t)(q[i].avail >> 32));
		reg_w(slot, QUEUE_DEVICE, (uint32_t)q[i].used);
		reg_w(slot, QUEUE_DEVICE + 4, (uint32_t)(q[i].used >> 32));
		reg_w(slot, QUEUE_READY, 1);
	}
	reg_w(slot, STATUS, 1 | 2 | 8 | 4);
	return 0;
}

static void put_desc(const struct queue *q, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	volatile uint8_t *d = (volatile uint8_t *)(q->desc + 16ul * (i % q->num));
	*(volatile uint64_t *)d = addr;
	*(volatile uint32_t *)(d + 8) = len;
	*(volatile uint16_t *)(d + 12) = flags;
	*(volatile uint16_t *)(d + 14) = next;
}

static void publish(unsigned slot, unsigned qi, struct queue *q, uint16_t head, uint16_t step)
{
	*(volatile uint16_t *)(q->avail + 4 + 2 * (q->avail_idx % q->num)) = head;
	q->avail_idx = (uint16_t)(q->avail_idx + step);
	*(volatile uint16_t *)(q->avail + 2) = q->avail_idx;
	reg_w(slot, QUEUE_NOTIFY, qi);
}

static uint64_t random_addr(void)
{
	uint64_t r = rnd();
	switch (r % 8) {
	case 0: return rnd(); /* anywhere */
	case 1: return 0x80000000ul + (64ul << 20) - (r >> 56); /* straddling RAM's end */
	case 2: return SLOT(0) + (r >> 52); /* a device's registers */
	case 3: return 0x1000 + (r >> 52); /* ROM */
	default: return BUFS + ((r >> 16) % 0x70000);
	}
}

static uint32_t random_len(void)
{
	uint64_t r = rnd();
	return r & 1 ? (uint32_t)(r >> 32) : (uint32_t)((r >> 8) % 4097);
}

static void random_chains(unsigned slot)
{
	struct queue q[2];
	if (bring_up(slot, q, 1u << (rnd() % 9)))
		power_off(10 + slot);
	for (unsigned i = 0; i < OPS_PER_DEVICE; i++, ops++) {
		unsigned qi = rnd() & 1;
		unsigned n = 1 + (unsigned)(rnd() % 4);
		for (unsigned k = 0; k < n; k++) {
			uint64_t r = rnd();
			uint16_t next = (uint16_t)(r & 0x100000 ? r >> 48 : (r >> 48) % q[qi].num);
			put_desc(&q[qi], (unsigned)(r >> 24), random_addr(), random_len(),
				 (uint16_t)(r & 7), next);
		}
		uint64_t r = rnd();
		uint16_t head = (uint16_t)(r & 0x100 ? r >> 48 : (r >> 48) % q[qi].num);
		publish(slot, qi, &q[qi], head, r & 0x200 ? (uint16_t)(r >> 32) : 1);
		reg_w(slot, INTERRUPT_ACK, reg_r(slot, INTERRUPT_STATUS));
		if (reg_r(slot, STATUS) & NEEDS_RESET) {
			device_failures++;
			if (bring_up(slot, q, 1u << (rnd() % 9)))
				power_off(20 + slot);
		}
	}
	reg_w(slot, STATUS, 0);
}

/* ---- phase 3: errors the device must report --------------------------- */

/* The queue a notify makes the device pop: blk and rng serve queue 0; net
 * and console transmit on queue 1 (their queue 0 waits for the host). */
static unsigned tx_queue(unsigned slot)
{
	uint32_t id = reg_r(slot, DEVICE_ID);
	return id == 1 || id == 3;
}

static int reported_broken(unsigned slot)
{
	return (reg_r(slot, STATUS) & NEEDS_RESET) && (reg_r(slot, INTERRUPT_STATUS) & 2);
}

static void expect_failure(unsigned slot, unsigned check)
{
	struct queue q[2];
	if (bring_up(slot, q, 8))
		power_off(30 + slot);
	unsigned qi = tx_queue(slot);
	struct queue *t = &q[qi];
	uint16_t flags = qi == 0 && reg_r(slot, DEVICE_ID) != 2 ? F_WRITE : 0;
	switch (check) {
	case 0: /* a loop */
		put_desc(t, 0, BUFS, 16, flags | F_NEXT, 1);
		put_desc(t, 1, BUFS, 16, flags | F_NEXT, 0);
		publish(slot, qi, t, 0, 1);
		break;
	case 1: /* next out of range */
		put_desc(t, 0, BUFS, 16, flags | F_NEXT, 200);
		publish(slot, qi, t, 0, 1);
		break;
	case 2: /* the avail index jumps past the queue */
		put_desc(t, 0, BUFS, 16, flags, 0);
		publish(slot, qi, t, 0, 9);
		break;
	default: /* an indirect table whose length is not a multiple of 16 */
		put_desc(t, 0, BUFS + 0x1000, 15, F_INDIRECT, 0);
		publish(slot, qi, t, 0, 1);
		break;
	}
	if (!reported_broken(slot))
		power_off(40 + slot * 4 + check);
	reg_w(slot, STATUS, 0);
	if (reg_r(slot, STATUS) != 0 || reg_r(slot, INTERRUPT_STATUS) != 0)
		power_off(60 + slot);
}

int main(void)
{
	random_mmio();
	for (unsigned slot = 0; slot < 4; slot++)
		if (reg_r(slot, DEVICE_ID))
			random_chains(slot);
	for (unsigned slot = 0; slot < 4; slot++)
		if (reg_r(slot, DEVICE_ID))
			for (unsigned check = 0; check < 4; check++)
				expect_failure(slot, check);
	/* The UART may be in any state after phase 1: 8N1, no DLAB, no FIFO
	 * tricks, so the summary comes out. */
	wr(UART + 3, 1, 3);
	wr(UART + 1, 1, 0);
	wr(UART + 4, 1, 0); /* no loopback */
	put_str("\nhostile: done ops=");
	put_dec(ops);
	put_str(" device-resets=");
	put_dec(device_failures);
	put_str(" traps=");
	put_dec(traps);
	put_str("\n");
	power_off(0);
	return 0;
}
