/* BackTracker's dependency graph (King and Chen, SOSP 2003) over the
 * collected events, and the walk backward from a write.
 *
 * Nodes are processes and objects (files, pipes, connection directions,
 * the console).  An edge is a data flow at a time: an object read by a
 * process, a process writing an object, a parent forking a child, a file
 * exec'd by a process.  The walk starts at the process that made the
 * write, with the write's icount as its threshold: only what flowed into
 * a node before its threshold can have affected it then.  Following an
 * edge sets its source's threshold to the latest moment of that flow
 * below the threshold, so later activity of the source is pruned (time
 * order), as BackTracker does.  A threshold only grows, so the walk ends. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "svc/analyze/analyze_int.h"

#define O_ACCMODE_ 3
#define O_TRUNC_ 01000

enum edge_kind { E_READ, E_WRITE, E_FORK, E_EXEC, E_TRUNC };
static const char *const edge_names[] = {"read", "write", "fork", "exec", "truncate"};

struct edge {
	uint32_t src, dst; /* node: a process index, or nprocs + object index */
	uint64_t t0, t1;
	enum edge_kind kind;
	uint64_t bytes;
	uint32_t calls; /* system calls merged into it */
};

struct graph {
	const struct analyze_data *d;
	uint32_t np, nn; /* processes, nodes */
	struct an_buf e; /* struct edge */
	uint32_t *in_start, *in; /* edges into node n: in[in_start[n] .. in_start[n+1]) */
	uint64_t *thr; /* 0: not reached */
	bool *reached;
};

static struct edge *edge_at(const struct graph *g, uint32_t i)
{
	return (struct edge *)g->e.p + i;
}

static const char *const obj_kind_names[] = {"file", "pipe", "connection", "console", "device",
					     "other"};

bool an_obj_carries(const struct an_obj *o)
{
	return o->kind == OBJ_FILE || o->kind == OBJ_PIPE || o->kind == OBJ_CONN;
}

static int add_edge(struct graph *g, enum edge_kind k, uint32_t src, uint32_t dst, uint64_t t0,
		    uint64_t t1, uint64_t bytes, uint32_t calls)
{
	struct edge *e = an_push(&g->e, sizeof(*e));
	if (!e)
		return -1;
	*e = (struct edge){src, dst, t0, t1, k, bytes, calls};
	return 0;
}

static int event_edge(struct graph *g, const struct an_event *ev)
{
	const struct analyze_data *d = g->d;
	const struct an_obj *o = ev->obj != AN_NONE ? an_obj(&d->objs, ev->obj) : NULL;
	uint32_t on = g->np + ev->obj, p = ev->proc;
	if (!o)
		return 0;
	switch (ev->kind) {
	case AN_READ: /* the console is a source: what is typed, not what was printed */
		if (an_obj_carries(o) || o->kind == OBJ_CONSOLE)
			return add_edge(g, E_READ, on, p, ev->icount, ev->last, (uint64_t)ev->num,
					ev->count);
		return 0;
	case AN_WRITE:
		return an_obj_carries(o) ? add_edge(g, E_WRITE, p, on, ev->icount, ev->last,
						    (uint64_t)ev->num, ev->count)
					 : 0;
	case AN_OPEN:
		if (o->kind == OBJ_FILE && (ev->num & O_TRUNC_) && (ev->num & O_ACCMODE_))
			return add_edge(g, E_TRUNC, p, on, ev->icount, ev->icount, 0, 1);
		return 0;
	case AN_EXEC:
		return add_edge(g, E_EXEC, on, p, ev->icount, ev->icount, 0, 1);
	default:
		return 0;
	}
}

static void graph_free(struct graph *g)
{
	free(g->e.p);
	free(g->in_start);
	free(g->in);
	free(g->thr);
	free(g->reached);
}

static int graph_build(struct graph *g, const struct analyze_data *d)
{
	memset(g, 0, sizeof(*g));
	g->d = d;
	g->np = (uint32_t)d->procs.n;
	g->nn = g->np + (uint32_t)d->objs.v.n;
	for (uint32_t p = 0; p < g->np; p++) {
		const struct an_proc *pr = an_proc(d, p);
		if (pr->parent != AN_NONE &&
		    add_edge(g, E_FORK, pr->parent, p, pr->fork_icount, pr->fork_icount, 0, 1))
			return -1;
	}
	for (size_t i = 0; i < d->ev.n; i++)
		if (event_edge(g, an_ev(d, i)))
			return -1;
	g->in_start = calloc(g->nn + 1, sizeof(uint32_t));
	g->in = malloc((g->e.n + 1) * sizeof(uint32_t));
	g->thr = calloc(g->nn + 1, sizeof(uint64_t));
	g->reached = calloc(g->nn + 1, sizeof(bool));
	if (!g->in_start || !g->in || !g->thr || !g->reached)
		return -1;
	for (uint32_t i = 0; i < g->e.n; i++) /* counting sort by destination */
		g->in_start[edge_at(g, i)->dst + 1]++;
	for (uint32_t n = 0; n < g->nn; n++)
		g->in_start[n + 1] += g->in_start[n];
	uint32_t *fill = calloc(g->nn + 1, sizeof(uint32_t));
	if (!fill)
		return -1;
	for (uint32_t i = 0; i < g->e.n; i++) {
		uint32_t dst = edge_at(g, i)->dst;
		g->in[g->in_start[dst] + fill[dst]++] = i;
	}
	free(fill);
	return 0;
}

/* BackTracker's walk from node start with threshold t. */
static int walk_back(struct graph *g, uint32_t start, uint64_t t)
{
	uint32_t *queue = malloc((size_t)(g->nn + 1) * sizeof(uint32_t));
	bool *queued = calloc(g->nn + 1, sizeof(bool));
	if (!queue || !queued) {
		free(queue);
		free(queued);
		return -1;
	}
	size_t head = 0, n = 0, cap = g->nn + 1;
	g->thr[start] = t;
	g->reached[start] = queued[start] = true;
	queue[n++ % cap] = start;
	while (head != n) {
		uint32_t node = queue[head++ % cap];
		queued[node] = false;
		for (uint32_t k = g->in_start[node]; k < g->in_start[node + 1]; k++) {
			const struct edge *e = edge_at(g, g->in[k]);
			if (e->t0 >= g->thr[node])
				continue; /* after the moment that matters: pruned */
			/* thresholds are exclusive: what the source did up to and
			 * including the flow's last instant counts */
			uint64_t nt = e->t1 < g->thr[node] ? e->t1 + 1 : g->thr[node];
			if (g->reached[e->src] && g->thr[e->src] >= nt)
				continue;
			g->thr[e->src] = nt;
			g->reached[e->src] = true;
			if (!queued[e->src]) {
				queued[e->src] = true;
				queue[n++ % cap] = e->src;
			}
		}
	}
	free(queue);
	free(queued);
	return 0;
}

static bool edge_used(const struct graph *g, const struct edge *e)
{
	return g->reached[e->dst] && e->t0 < g->thr[e->dst];
}

json_t *an_proc_json(const struct analyze_data *d, uint32_t p)
{
	const struct an_proc *pr = an_proc(d, p);
	char id[24];
	snprintf(id, sizeof(id), "p%u", p);
	json_t *j = json_pack("{s:s,s:s,s:i,s:s,s:i,s:I}", "node", id, "type", "process", "pid",
			      pr->tgid, "comm", pr->comm, "uid", (int)pr->uid, "start_icount",
			      (json_int_t)pr->fork_icount);
	if (pr->exe != AN_NONE)
		json_object_set_new(j, "exe", json_string(an_obj(&d->objs, pr->exe)->name));
	if (pr->uid0 != pr->uid)
		json_object_set_new(j, "uid_at_start", json_integer(pr->uid0));
	json_object_set_new(j, "forked", json_boolean(pr->forked));
	if (pr->exec_icount)
		json_object_set_new(j, "exec_icount", json_integer((json_int_t)pr->exec_icount));
	if (pr->exited)
		json_object_set_new(j, "exit_icount", json_integer((json_int_t)pr->end));
	if (pr->parent != AN_NONE)
		json_object_set_new(j, "parent_pid", json_integer(an_proc(d, pr->parent)->tgid));
	return j;
}

static unsigned port_of(const char *addr)
{
	const char *c = strrchr(addr, ':');
	return c ? (unsigned)strtoul(c + 1, NULL, 10) : 0;
}

json_t *an_obj_json(const struct analyze_data *d, uint32_t o)
{
	const struct an_obj *ob = an_obj(&d->objs, o);
	char id[24];
	snprintf(id, sizeof(id), "o%u", o);
	json_t *j = json_pack("{s:s,s:s,s:s}", "node", id, "type", obj_kind_names[ob->kind], "name",
			      ob->name);
	if (ob->kind == OBJ_CONN) {
		/* the client: the peer of a connection a guest process accepted */
		const char *client = ob->accepted ? ob->from : ob->to;
		json_object_set_new(j, "from", json_string(ob->from));
		json_object_set_new(j, "to", json_string(ob->to));
		json_object_set_new(j, "accepted", json_boolean(ob->accepted));
		json_object_set_new(j, "client_port", json_integer(port_of(client)));
		json_object_set_new(j, "frames", json_integer((json_int_t)ob->frames));
		json_object_set_new(j, "frame_bytes", json_integer((json_int_t)ob->frame_bytes));
		if (ob->frames)
			json_object_set_new(j, "first_frame_icount",
					    json_integer((json_int_t)ob->first_frame));
	}
	return j;
}

static json_t *node_json(const struct graph *g, uint32_t n)
{
	return n < g->np ? an_proc_json(g->d, n) : an_obj_json(g->d, n - g->np);
}

static json_t *edge_json(const struct graph *g, const struct edge *e)
{
	char s[24], t[24];
	snprintf(s, sizeof(s), "%c%u", e->src < g->np ? 'p' : 'o',
		 e->src < g->np ? e->src : e->src - g->np);
	snprintf(t, sizeof(t), "%c%u", e->dst < g->np ? 'p' : 'o',
		 e->dst < g->np ? e->dst : e->dst - g->np);
	json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:I}", "src", s, "dst", t, "kind",
			      edge_names[e->kind], "icount", (json_int_t)e->t0, "last_icount",
			      (json_int_t)e->t1);
	if (e->bytes)
		json_object_set_new(j, "bytes", json_integer((json_int_t)e->bytes));
	if (e->calls > 1)
		json_object_set_new(j, "calls", json_integer(e->calls));
	return j;
}

/* The last write (or truncation) of object o at or before `at`. */
static const struct edge *last_write(const struct graph *g, uint32_t o, uint64_t at)
{
	const struct edge *best = NULL;
	uint32_t n = g->np + o;
	for (uint32_t k = g->in_start[n]; k < g->in_start[n + 1]; k++) {
		const struct edge *e = edge_at(g, g->in[k]);
		if (e->t0 <= at && (!best || e->t0 > best->t0 || (e->t0 == best->t0 && e->t1 > best->t1)))
			best = e;
	}
	return best;
}

/* The writer's ancestry, the writer first. */
static json_t *chain_json(const struct analyze_data *d, uint32_t p)
{
	json_t *chain = json_array();
	for (int i = 0; i < 64 && p != AN_NONE; i++, p = an_proc(d, p)->parent)
		json_array_append_new(chain, an_proc_json(d, p));
	return chain;
}

/* One path of used edges from node src to node dst (breadth first, edge
 * by edge in the graph's order), as node ids; an empty array if none. */
static json_t *flow_json(const struct graph *g, uint32_t src, uint32_t dst)
{
	uint32_t *prev = malloc((size_t)g->nn * sizeof(uint32_t)), *queue = malloc((size_t)g->nn * sizeof(uint32_t));
	json_t *path = json_array();
	if (!prev || !queue)
		goto out;
	for (uint32_t i = 0; i < g->nn; i++)
		prev[i] = AN_NONE;
	size_t head = 0, n = 0;
	queue[n++] = src;
	prev[src] = src;
	while (head < n && prev[dst] == AN_NONE) {
		uint32_t node = queue[head++];
		for (uint32_t i = 0; i < g->e.n; i++) {
			const struct edge *e = edge_at(g, i);
			if (e->src == node && prev[e->dst] == AN_NONE && edge_used(g, e)) {
				prev[e->dst] = node;
				queue[n++] = e->dst;
			}
		}
	}
	if (prev[dst] == AN_NONE)
		goto out;
	for (uint32_t node = dst;; node = prev[node]) {
		json_t *nj = node_json(g, node);
		json_array_insert_new(path, 0, json_string(json_string_value(json_object_get(nj, "node"))));
		json_decref(nj);
		if (node == src)
			break;
	}
out:
	free(prev);
	free(queue);
	return path;
}

/* The reads of a source node that the walk kept, one entry per process:
 * [{pid, comm, icount (the first), last_icount, reads (system calls),
 * bytes}]. */
static json_t *readers_json(const struct graph *g, uint32_t src)
{
	json_t *r = json_array(), *by_node = json_object();
	char key[24];
	for (uint32_t i = 0; i < g->e.n; i++) {
		const struct edge *e = edge_at(g, i);
		if (e->src != src || !edge_used(g, e) || e->dst >= g->np)
			continue;
		snprintf(key, sizeof(key), "%u", e->dst);
		json_t *row = json_object_get(by_node, key);
		if (!row) {
			const struct an_proc *p = an_proc(g->d, e->dst);
			row = json_pack("{s:i,s:s,s:I,s:I,s:i,s:I}", "pid", p->tgid, "comm", p->comm,
					"icount", (json_int_t)e->t0, "last_icount", (json_int_t)e->t1,
					"reads", 0, "bytes", (json_int_t)0);
			json_object_set_new(by_node, key, row);
			json_array_append(r, row);
		}
		json_int_t last = json_integer_value(json_object_get(row, "last_icount"));
		if ((json_int_t)e->t1 > last)
			json_object_set_new(row, "last_icount", json_integer((json_int_t)e->t1));
		json_int_t calls = json_integer_value(json_object_get(row, "reads")) + e->calls;
		json_int_t bytes = json_integer_value(json_object_get(row, "bytes")) + (json_int_t)e->bytes;
		json_object_set_new(row, "reads", json_integer(calls));
		json_object_set_new(row, "bytes", json_integer(bytes));
	}
	json_decref(by_node);
	return r;
}

static json_t *answer_json(const struct graph *g, const struct edge *w, const char *path)
{
	const struct analyze_data *d = g->d;
	const struct an_proc *wp = an_proc(d, w->src);
	json_t *ans = json_pack("{s:s,s:{s:s,s:I,s:I,s:i,s:s,s:I}}", "path", path, "write", "kind",
				edge_names[w->kind], "icount", (json_int_t)w->t0, "last_icount",
				(json_int_t)w->t1, "pid", wp->tgid, "comm", wp->comm, "bytes",
				(json_int_t)w->bytes);
	json_t *conns = json_array(), *others = json_array(), *nodes = json_array(),
	       *edges = json_array();
	unsigned long pruned = 0;
	for (uint32_t n = 0; n < g->nn; n++) {
		if (!g->reached[n])
			continue;
		json_t *nj = node_json(g, n);
		json_object_set_new(nj, "threshold", json_integer((json_int_t)g->thr[n]));
		json_array_append(nodes, nj);
		const struct an_obj *o = n >= g->np ? an_obj(&d->objs, n - g->np) : NULL;
		if (o && (o->kind == OBJ_CONN || o->kind == OBJ_CONSOLE)) {
			json_t *src = json_deep_copy(nj);
			json_object_del(src, "threshold");
			json_object_set_new(src, "read_by", readers_json(g, n));
			json_object_set_new(src, "flow", flow_json(g, n, w->src));
			json_array_append_new(o->kind == OBJ_CONN ? conns : others, src);
		}
		json_decref(nj);
		for (uint32_t k = g->in_start[n]; k < g->in_start[n + 1]; k++) {
			const struct edge *e = edge_at(g, g->in[k]);
			if (edge_used(g, e))
				json_array_append_new(edges, edge_json(g, e));
			else
				pruned++;
		}
	}
	json_object_set_new(ans, "connections", conns);
	json_object_set_new(ans, "other_sources", others);
	json_object_set_new(ans, "chain", chain_json(d, w->src));
	json_object_set_new(ans, "graph", json_pack("{s:o,s:o,s:I}", "nodes", nodes, "edges", edges,
						    "pruned_edges", (json_int_t)pruned));
	return ans;
}

json_t *analyze_why(struct analyze *a, const char *path, uint64_t at, char *err, size_t errlen)
{
	const struct analyze_data *d = &a->d;
	uint32_t o = an_obj_find(&d->objs, path);
	if (o == AN_NONE || an_obj(&d->objs, o)->kind != OBJ_FILE) {
		snprintf(err, errlen, "%s: no process opened, read or wrote it in this replay", path);
		return NULL;
	}
	struct graph g;
	json_t *ans = NULL;
	if (graph_build(&g, d)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	const struct edge *w = last_write(&g, o, at ? at : UINT64_MAX);
	if (!w) {
		if (at)
			snprintf(err, errlen, "%s: not written at or before icount %" PRIu64, path, at);
		else
			snprintf(err, errlen, "%s: not written in this replay", path);
		goto out;
	}
	uint64_t t = w->t1 < (at ? at : UINT64_MAX) ? w->t1 : at;
	if (walk_back(&g, w->src, t + 1)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	ans = answer_json(&g, w, path);
out:
	graph_free(&g);
	return ans;
}

json_t *analyze_graph(struct analyze *a)
{
	struct graph g;
	json_t *j = NULL;
	if (graph_build(&g, &a->d) == 0) {
		json_t *nodes = json_array(), *edges = json_array();
		for (uint32_t n = 0; n < g.nn; n++)
			json_array_append_new(nodes, node_json(&g, n));
		for (uint32_t i = 0; i < g.e.n; i++)
			json_array_append_new(edges, edge_json(&g, edge_at(&g, i)));
		j = json_pack("{s:o,s:o,s:I,s:I}", "nodes", nodes, "edges", edges, "events",
			      (json_int_t)a->d.ev.n, "frames", (json_int_t)a->d.frames);
	}
	graph_free(&g);
	return j;
}
