/* goldfish RTC registers: 0x00 TIME_LOW, 0x04 TIME_HIGH, 0x08 ALARM_LOW,
 * 0x0c ALARM_HIGH, 0x10 IRQ_ENABLED, 0x14 CLEAR_ALARM, 0x18 ALARM_STATUS,
 * 0x1c CLEAR_INTERRUPT.  Alarms are stored but never fire (Linux does not
 * need them to keep time). */
#include "dev/rtc_goldfish.h"

#include <string.h>

#include "cpu/hart.h"
#include "lib/state_io.h"
#include "lib/vclock.h"

void rtc_init(struct rtc_goldfish *r, uint64_t epoch_ns, const struct hart *hart)
{
	memset(r, 0, sizeof(*r));
	r->offset_ns = (int64_t)epoch_ns;
	r->hart = hart;
}

static uint64_t virtual_ns(const struct rtc_goldfish *r)
{
	return hart_mtime(r->hart) * VCLOCK_NS_PER_TICK;
}

static uint64_t now_ns(const struct rtc_goldfish *r)
{
	return virtual_ns(r) + (uint64_t)r->offset_ns;
}

static int rtc_read(void *opaque, uint64_t off, unsigned size, uint64_t *val)
{
	struct rtc_goldfish *r = opaque;
	switch (off) {
	case 0x00: {
		uint64_t t = now_ns(r);
		r->time_high_latch = (uint32_t)(t >> 32);
		*val = (uint32_t)t;
		break;
	}
	case 0x04: *val = r->time_high_latch; break;
	case 0x08: *val = (uint32_t)r->alarm_ns; break;
	case 0x0c: *val = (uint32_t)(r->alarm_ns >> 32); break;
	case 0x10: *val = r->irq_enabled; break;
	default: *val = 0; break;
	}
	return 0;
}

static int rtc_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct rtc_goldfish *r = opaque;
	uint64_t t = now_ns(r);
	switch (off) {
	case 0x00: /* set time: low half, keeping the high half */
		t = (t & ~0xffffffffULL) | (uint32_t)val;
		r->offset_ns = (int64_t)(t - virtual_ns(r));
		break;
	case 0x04:
		t = (t & 0xffffffffULL) | (val << 32);
		r->offset_ns = (int64_t)(t - virtual_ns(r));
		break;
	case 0x08: r->alarm_ns = (r->alarm_ns & ~0xffffffffULL) | (uint32_t)val; break;
	case 0x0c: r->alarm_ns = (r->alarm_ns & 0xffffffffULL) | (val << 32); break;
	case 0x10: r->irq_enabled = (uint32_t)val & 1; break;
	default: break;
	}
	return 0;
}

const struct mmio_ops rtc_mmio_ops = {.read = rtc_read, .write = rtc_write};

/* --- State -------------------------------------------------------------- */

void rtc_save(const struct rtc_goldfish *t, struct state_writer *w)
{
	sw_put_u64(w, (uint64_t)t->offset_ns);
	sw_put_u32(w, t->time_high_latch);
	sw_put_u64(w, t->alarm_ns);
	sw_put_u32(w, t->irq_enabled);
}

int rtc_load(struct rtc_goldfish *t, struct state_reader *r)
{
	t->offset_ns = (int64_t)sr_u64(r);
	t->time_high_latch = sr_u32(r);
	t->alarm_ns = sr_u64(r);
	t->irq_enabled = sr_u32(r);
	return sr_failed(r) ? -1 : 0;
}
