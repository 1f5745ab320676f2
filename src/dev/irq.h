/* An interrupt line from a device to the interrupt controller.  Devices
 * hold one of these and never know which controller is behind it. */
#ifndef KEEL_DEV_IRQ_H
#define KEEL_DEV_IRQ_H

#include <stdbool.h>

struct irq_line {
	void (*set)(void *opaque, unsigned source, bool level);
	void *opaque;
	unsigned source;
};

static inline void irq_set(const struct irq_line *l, bool level)
{
	if (l->set)
		l->set(l->opaque, l->source, level);
}

#endif
