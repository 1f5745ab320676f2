/* The device side of the event boundary (vm/events.h).  Devices sit below
 * vm/ and never include it: a device that needs a host input is handed
 * one of these, and the board (vm/machine.c) fills it in with the
 * boundary's functions, which choose the source and let observers see
 * every byte. */
#ifndef KEEL_DEV_BOUNDARY_H
#define KEEL_DEV_BOUNDARY_H

#include <stddef.h>

/* Entropy for the guest: fill `buf`, return 0, or -1 if none could be had. */
struct entropy_source {
	int (*fill)(void *opaque, void *buf, size_t len);
	void *opaque;
};

/* Told of each input a device has just taken from the host (a network
 * frame), in order, so it crosses the boundary where it entered. */
struct input_note {
	void (*taken)(void *opaque, const void *payload, size_t len);
	void *opaque;
};

#endif
