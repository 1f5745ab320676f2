/* What a trial clone watches besides the intrusion-detection policies:
 * every program the guest runs while it handles the tried input, and
 * every uid change (rules "uid").  The
 * clone exists only for the trial, so anything exec'd there that is not on
 * the rules' exec_allow list is the input's doing (docs/shield.md).  Runs
 * inside the clone; alerts go out as JSON lines in the intrusion
 * detector's format, to the pipe the shield reads. */
#ifndef KEEL_SVC_SHIELD_WATCH_H
#define KEEL_SVC_SHIELD_WATCH_H

#include <stdio.h>

#include "svc/shield/rules.h"

struct machine;
struct shield_watch;

struct vmi;

/* Watch m; `rules` must outlive the watch; `vmi` is the kernel already
 * found (borrowed), or NULL.  NULL with a reason in err. */
struct shield_watch *shield_watch_start(struct machine *m, const struct shield_rules *rules,
					struct vmi *vmi, FILE *out, char *err, size_t errlen);
void shield_watch_stop(struct shield_watch *w);

#endif
