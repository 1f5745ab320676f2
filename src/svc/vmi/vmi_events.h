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
/* Unsubscribe and flush; returns how many events were written. */
unsigned long vmi_events_stop(struct vmi_events *e);

#endif
