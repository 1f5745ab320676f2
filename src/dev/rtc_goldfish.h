/* The goldfish RTC ("google,goldfish-rtc", as on QEMU virt).  Its time is
 * the boot epoch (taken once, through the event boundary) plus virtual
 * time; the host clock is never read here. */
#ifndef KEEL_DEV_RTC_GOLDFISH_H
#define KEEL_DEV_RTC_GOLDFISH_H

#include <stdint.h>

#include "bus/bus.h"

#define RTC_SIZE 0x1000

struct hart;

struct rtc_goldfish {
	int64_t offset_ns; /* epoch plus any time the guest set */
	uint32_t time_high_latch; /* high half latched by reading TIME_LOW */
	uint32_t irq_enabled;
	uint64_t alarm_ns;
	const struct hart *hart; /* whose clock (hart_mtime) the RTC reads */
};

void rtc_init(struct rtc_goldfish *r, uint64_t epoch_ns, const struct hart *hart);
extern const struct mmio_ops rtc_mmio_ops;

/* Snapshot section RTC: see "Section codecs" in lib/state_io.h. */
struct state_reader;
struct state_writer;
#define RTC_STATE_VERSION 1u
void rtc_save(const struct rtc_goldfish *t, struct state_writer *w);
int rtc_load(struct rtc_goldfish *t, struct state_reader *r);

#endif
