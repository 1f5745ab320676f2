/* The guest's process, file and network events as JSON lines, from the
 * trap hook (docs/vmi.md, "Events"). */
#ifndef KEEL_SVC_VMI_VMI_EVENTS_H
#define KEEL_SVC_VMI_VMI_EVENTS_H

#include <stdio.h>

#include "svc/vmi/vmi.h"

struct machine;
struct vmi_events;

/* Subscribe to m's traps and write one JSON line per event to out (which
 * the caller closes after vmi_events_stop).  The kernel is found at the
 * first system call from U-mode.  NULL with a reason in err. */
struct vmi_events *vmi_events_start(struct machine *m, FILE *out, const struct vmi_options *o,
				    char *err, size_t errlen);
/* The same events handed to sink as JSON objects (borrowed: valid during
 * the call) with the attached vmi (NULL on an "error" event), instead of
 * written.  The sink runs inside a trap callback: read-only taps only. */
typedef void (*vmi_event_sink)(void *opaque, json_t *event, struct vmi *v);
struct vmi_events *vmi_events_start_sink(struct machine *m, vmi_event_sink sink, void *opaque,
					 const struct vmi_options *o, char *err, size_t errlen);
/* The kernel as found (attached on first need, as for the events; NULL
 * until the kernel can be found).  satp: the address space of the trap
 * the caller is in. */
struct vmi *vmi_events_vmi(struct vmi_events *e, uint64_t icount, uint64_t satp);

/* Unsubscribe and flush; returns how many events were written. */
unsigned long vmi_events_stop(struct vmi_events *e);

#endif
