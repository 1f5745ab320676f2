/* See watch.h.  The exec events come from introspection's event stream
 * (svc/vmi/events.c), which sees an exec at its first return to the new
 * program. */
#include "svc/shield/watch.h"

#include <stdlib.h>
#include <string.h>

#include "svc/vmi/vmi_events.h"
#include "vm/taps.h"

struct shield_watch {
	struct machine *m;
	const struct glob_list *allow;
	FILE *out;
	struct vmi_events *ev;
	unsigned long alerts;
};

static void on_event(void *opaque, json_t *e, struct vmi *v)
{
	struct shield_watch *w = opaque;
	const char *kind = json_string_value(json_object_get(e, "event"));
	const char *path = json_string_value(json_object_get(e, "path"));
	if (!v || !kind || strcmp(kind, "exec") || !path || json_object_get(e, "errno") ||
	    glob_list_match(w->allow, path))
		return;
	json_t *pid = json_object_get(e, "tgid");
	json_t *comm = json_object_get(e, "comm");
	json_t *a = json_pack("{s:O,s:I,s:s,s:s,s:O,s:O,s:{s:s,s:s}}", "icount",
			      json_object_get(e, "icount"), "guest_ns",
			      (json_int_t)taps_now_ns(w->m), "policy", "exec_allow", "response",
			      "alert", "pid", pid ? pid : json_null(), "comm",
			      comm ? comm : json_null(), "evidence", "what",
			      "exec of a program not on exec_allow", "path", path);
	if (!a)
		return;
	if (json_dumpf(a, w->out, JSON_COMPACT) == 0)
		fputc('\n', w->out);
	fflush(w->out);
	json_decref(a);
	w->alerts++;
}

struct shield_watch *shield_watch_start(struct machine *m, const struct glob_list *allow,
					struct vmi *vmi, FILE *out, char *err, size_t errlen)
{
	struct shield_watch *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*w = (struct shield_watch){.m = m, .allow = allow, .out = out};
	struct vmi_options vo = {.attached = vmi};
	w->ev = vmi_events_start_sink(m, on_event, w, &vo, err, errlen);
	if (!w->ev) {
		free(w);
		return NULL;
	}
	return w;
}

void shield_watch_stop(struct shield_watch *w)
{
	if (!w)
		return;
	vmi_events_stop(w->ev);
	free(w);
}
