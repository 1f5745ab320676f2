/* keel analyze --html: one self-contained page.  The charting library
 * (d3 v3 from Debian's libjs-d3) is read from where the package puts it
 * and inlined as the page is written, then the collected data as JSON,
 * then the page's own script (timeline.js, embedded in keel at build
 * time), which draws it.  Nothing is fetched when the page is opened. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "svc/analyze/analyze_int.h"

/* The events a person looks for on a timeline: a process's life, its
 * connections, and what it wrote to files and read from the network. */
static bool on_timeline(const struct analyze_data *d, const struct an_event *e)
{
	const struct an_obj *o = e->obj != AN_NONE ? an_obj(&d->objs, e->obj) : NULL;
	switch (e->kind) {
	case AN_READ: return o && (o->kind == OBJ_CONN || o->kind == OBJ_CONSOLE);
	case AN_WRITE: return o && (o->kind == OBJ_FILE || o->kind == OBJ_CONN);
	case AN_OPEN: return false;
	default: return true;
	}
}

static char *id_of(char *buf, size_t max, char c, uint32_t i)
{
	snprintf(buf, max, "%c%u", c, i);
	return buf;
}

static json_t *procs_json(const struct analyze_data *d)
{
	json_t *a = json_array();
	char id[24], pid[24];
	for (uint32_t i = 0; i < d->procs.n; i++) {
		const struct an_proc *p = an_proc(d, i);
		json_t *j = json_pack("{s:s,s:i,s:s,s:i,s:I,s:I}", "id", id_of(id, sizeof(id), 'p', i),
				      "pid", p->tgid, "comm", p->comm, "uid", (int)p->uid,
				      "start_ns", (json_int_t)p->first_ns, "start_icount",
				      (json_int_t)p->fork_icount);
		json_object_set_new(j, "end_ns", p->exited ? json_integer((json_int_t)p->end_ns)
							   : json_null());
		json_object_set_new(j, "exe", p->exe != AN_NONE
						      ? json_string(an_obj(&d->objs, p->exe)->name)
						      : json_null());
		json_object_set_new(j, "parent", p->parent != AN_NONE
							 ? json_string(id_of(pid, sizeof(pid), 'p',
									     p->parent))
							 : json_null());
		json_array_append_new(a, j);
	}
	return a;
}

/* Events, compactly: [ns, icount, kind, process, object or null, last
 * icount, number]; and the objects they name, and the connections. */
static void events_json(const struct analyze_data *d, json_t *page)
{
	json_t *evs = json_array(), *objs = json_object(), *conns = json_array();
	uint64_t *first = calloc(d->objs.v.n + 1, sizeof(uint64_t));
	uint64_t *last = calloc(d->objs.v.n + 1, sizeof(uint64_t));
	char id[24], oid[24];
	for (size_t i = 0; first && last && i < d->ev.n; i++) {
		const struct an_event *e = an_ev(d, i);
		if (!on_timeline(d, e))
			continue;
		json_t *o = json_null();
		if (e->obj != AN_NONE) {
			const struct an_obj *ob = an_obj(&d->objs, e->obj);
			id_of(oid, sizeof(oid), 'o', e->obj);
			o = json_string(oid);
			if (!json_object_get(objs, oid))
				json_object_set_new(objs, oid, an_obj_json(d, e->obj));
			if (ob->kind == OBJ_CONN) {
				if (!first[e->obj])
					first[e->obj] = e->ns;
				last[e->obj] = e->ns;
			}
		}
		json_array_append_new(evs, json_pack("[I,I,i,s,o,I,I]", (json_int_t)e->ns,
						     (json_int_t)e->icount, (int)e->kind,
						     id_of(id, sizeof(id), 'p', e->proc), o,
						     (json_int_t)e->last, (json_int_t)e->num));
	}
	for (uint32_t i = 0; first && last && i < d->objs.v.n; i++) {
		const struct an_obj *ob = an_obj(&d->objs, i);
		if (ob->kind != OBJ_CONN || (!ob->frames && !first[i]))
			continue;
		json_t *c = an_obj_json(d, i);
		json_object_set_new(c, "id", json_string(id_of(oid, sizeof(oid), 'o', i)));
		uint64_t t0 = ob->frames ? ob->first_frame_ns : first[i];
		uint64_t t1 = ob->frames ? ob->last_frame_ns : last[i];
		if (first[i] && first[i] < t0)
			t0 = first[i];
		if (last[i] > t1)
			t1 = last[i];
		json_object_set_new(c, "first_ns", json_integer((json_int_t)t0));
		json_object_set_new(c, "last_ns", json_integer((json_int_t)t1));
		json_array_append_new(conns, c);
	}
	free(first);
	free(last);
	json_object_set_new(page, "events", evs);
	json_object_set_new(page, "objs", objs);
	json_object_set_new(page, "conns", conns);
}

static json_t *page_data(const struct analyze_data *d, const json_t *answer)
{
	json_t *kinds = json_array();
	for (int k = 0; k < AN_KINDS; k++)
		json_array_append_new(kinds, json_string(an_kind_names[k]));
	uint64_t start = d->procs.n ? an_proc(d, 0)->first_ns : 0;
	for (uint32_t i = 0; i < d->procs.n; i++)
		if (an_proc(d, i)->first_ns < start)
			start = an_proc(d, i)->first_ns;
	json_t *page = json_pack("{s:o,s:I,s:I,s:o,s:O}", "kinds", kinds, "start_ns",
				 (json_int_t)start, "end_ns", (json_int_t)d->last_ns, "procs",
				 procs_json(d), "alerts", d->alerts);
	events_json(d, page);
	json_t *jumps = json_array();
	for (size_t i = 0; i < d->jumps.n; i++) {
		const struct an_sample *s = (const struct an_sample *)d->jumps.p + i;
		json_array_append_new(jumps, json_pack("[I,I]", (json_int_t)s->ns, (json_int_t)s->icount));
	}
	json_object_set_new(page, "jumps", jumps);
	json_object_set_new(page, "end_icount", json_integer((json_int_t)d->last_icount));
	json_object_set_new(page, "answer", answer ? json_deep_copy(answer) : json_null());
	return page;
}

/* The library's text, with any "</script" made harmless inside the page's
 * <script> element (equivalent in a JavaScript string or regex). */
static int inline_script(FILE *out, const char *path, char *err, size_t errlen)
{
	FILE *in = fopen(path, "r");
	if (!in) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *text = NULL;
	size_t cap = 0, n = 0;
	ssize_t got = getdelim(&text, &cap, 0, in);
	fclose(in);
	if (got <= 0) {
		free(text);
		snprintf(err, errlen, "%s: empty or unreadable", path);
		return -1;
	}
	n = (size_t)got;
	for (size_t i = 0; i < n; i++) {
		if (text[i] == '<' && i + 7 < n && text[i + 1] == '/' &&
		    !strncasecmp(text + i + 2, "script", 6))
			fputs("<\\", out);
		else
			fputc(text[i], out);
	}
	free(text);
	return 0;
}

static const char page_head[] =
	"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<title>keel analyze</title>\n<style>\n"
	"body{font:13px sans-serif;margin:8px;color:#222}\n"
	"#bar{position:sticky;top:0;background:#fff;padding:4px 0;z-index:2}\n"
	"#search{width:24em;font-size:13px}\n#count{margin-left:1em;color:#555}\n"
	".lane .bg{fill:#fff}.lane:nth-child(odd) .bg{fill:#f6f6f6}\n"
	".lane .label{font:11px monospace;fill:#333}\n"
	".lane.proc .span{fill:#9ecae1}.lane.conn .span{fill:#fdd0a2}.lane.alerts .span{fill:#eee}\n"
	".lane.answer .span{fill:#e6550d}.lane.answer .label{font-weight:bold;fill:#a63603}\n"
	".lane.match .bg{fill:#ffffb2}.lane.dim{opacity:.25}.lane.focus .bg{fill:#fdae6b}\n"
	".ev{fill:#3182bd;stroke:#fff;stroke-width:.5}.ev.write{fill:#31a354}.ev.exec{fill:#756bb1}\n"
	".ev.read{fill:#fd8d3c}.ev.exit{fill:#636363}.ev.uid{fill:#de2d26}\n"
	".ev.answer-write{fill:#de2d26;stroke:#000;stroke-width:1.5}\n"
	".link{stroke:#fd8d3c;stroke-width:1;opacity:.5}.link.answer{stroke:#de2d26;opacity:1;stroke-width:2}\n"
	".cpu{fill:#74c476}.alert{fill:#de2d26}.axis path,.axis line{fill:none;stroke:#999}.axis text{font-size:10px}\n"
	"#answer li{margin:2px 0}#answer li:hover{background:#fdae6b}\n"
	"</style>\n<script>\n";

int analyze_write_html(struct analyze *a, const json_t *answer, const char *d3_path,
		       const char *out, char *err, size_t errlen)
{
	FILE *f = fopen(out, "w");
	if (!f) {
		snprintf(err, errlen, "%s: %s", out, strerror(errno));
		return -1;
	}
	fputs(page_head, f);
	int rc = inline_script(f, d3_path, err, errlen);
	fputs("\n</script>\n</head><body>\n<div id=\"bar\"><input id=\"search\" type=\"search\" "
	      "placeholder=\"search processes and connections\"><span id=\"count\"></span>"
	      " &nbsp; wheel: zoom, drag: pan</div>\n"
	      "<div id=\"answer\"></div>\n<svg id=\"timeline\"></svg>\n"
	      "<script id=\"data\" type=\"application/json\">",
	      f);
	json_t *data = page_data(&a->d, answer);
	/* JSON_ESCAPE_SLASH: no "</" can end the element early */
	if (!data || json_dumpf(data, f, JSON_COMPACT | JSON_ESCAPE_SLASH)) {
		if (!rc)
			snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	json_decref(data);
	fputs("</script>\n<script>\n", f);
	fputs(analyze_timeline_js, f);
	fputs("</script>\n</body></html>\n", f);
	if (fclose(f) && !rc) {
		snprintf(err, errlen, "%s: %s", out, strerror(errno));
		rc = -1;
	}
	return rc;
}
