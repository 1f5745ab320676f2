/* The kinds of input that cross the event boundary (vm/events.h), in a
 * header of their own so that services see them without the boundary's
 * internals.  The values are stored in secure logs: never renumber. */
#ifndef KEEL_VM_EVENT_KIND_H
#define KEEL_VM_EVENT_KIND_H

enum event_kind {
	EV_CONSOLE_INPUT = 1, /* bytes typed on the console */
	EV_NET_FRAME = 2, /* an Ethernet frame from the network backend */
	EV_ENTROPY = 3, /* bytes handed to the guest's RNG device */
	EV_RTC_EPOCH = 4, /* the wall-clock epoch at boot (ns since 1970) */
	EV_TIME_ADJUST = 5, /* a jump of virtual time */
	/* The idle hart's virtual time jumped to the next timer deadline.
	 * The jump itself is a pure function of state, but *when* it happens
	 * relative to input that arrives at the same icount is the host's
	 * choice, so it is a marker in the event stream (no payload). */
	EV_IDLE_SKIP = 6,
};

#endif
