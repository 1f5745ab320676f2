/* The --why answer for a person: the write, the connections and other
 * sources with the reads that carried them, the flow from each to the
 * writer, and the writer's process chain, all with icounts. */
#include <inttypes.h>
#include <string.h>

#include "svc/analyze/analyze_int.h"

static json_int_t ival(const json_t *j, const char *key)
{
	return json_integer_value(json_object_get(j, key));
}

static const char *sval(const json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));
	return s ? s : "?";
}

/* A node id ("p3", "o7") as the graph names it. */
static const char *node_name(const json_t *nodes, const char *id, char *buf, size_t max)
{
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n) {
		if (strcmp(sval(n, "node"), id))
			continue;
		if (!strcmp(sval(n, "type"), "process"))
			snprintf(buf, max, "pid %d (%s)", (int)ival(n, "pid"), sval(n, "comm"));
		else
			snprintf(buf, max, "%s", sval(n, "name"));
		return buf;
	}
	return id;
}

static void print_readers(FILE *out, const json_t *src)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(src, "read_by"), i, r)
		fprintf(out, "      read by pid %d (%s) at icount %" PRId64 "..%" PRId64 ": %" PRId64
			     " reads, %" PRId64 " bytes\n",
			(int)ival(r, "pid"), sval(r, "comm"), (int64_t)ival(r, "icount"),
			(int64_t)ival(r, "last_icount"), (int64_t)ival(r, "reads"),
			(int64_t)ival(r, "bytes"));
}

static void print_flow(FILE *out, const json_t *src, const json_t *nodes, const char *path)
{
	size_t i;
	json_t *id;
	char buf[600];
	fputs("      flow: ", out);
	json_array_foreach(json_object_get(src, "flow"), i, id)
		fprintf(out, "%s -> ", node_name(nodes, json_string_value(id), buf, sizeof(buf)));
	fprintf(out, "%s\n", path);
}

static void print_sources(FILE *out, const json_t *ans, const json_t *nodes)
{
	size_t i;
	json_t *c;
	const char *path = sval(ans, "path");
	const json_t *conns = json_object_get(ans, "connections");
	fprintf(out, "connections that can have caused it: %zu\n", json_array_size(conns));
	json_array_foreach(conns, i, c) {
		fprintf(out, "  %s  client port %d%s, %" PRId64 " frames, %" PRId64
			     " payload bytes in the log",
			sval(c, "name"), (int)ival(c, "client_port"),
			json_is_true(json_object_get(c, "accepted")) ? " (accepted in the guest)" : "",
			(int64_t)ival(c, "frames"), (int64_t)ival(c, "frame_bytes"));
		if (json_object_get(c, "first_frame_icount"))
			fprintf(out, " from icount %" PRId64, (int64_t)ival(c, "first_frame_icount"));
		fputc('\n', out);
		print_readers(out, c);
		print_flow(out, c, nodes, path);
	}
	json_array_foreach(json_object_get(ans, "other_sources"), i, c) {
		fprintf(out, "other source: %s (%s)\n", sval(c, "name"), sval(c, "type"));
		print_readers(out, c);
		print_flow(out, c, nodes, path);
	}
}

static void print_chain(FILE *out, const json_t *ans)
{
	size_t i;
	json_t *p;
	fputs("process chain (the writer first):\n", out);
	json_array_foreach(json_object_get(ans, "chain"), i, p) {
		fprintf(out, "  pid %-5d %-16s uid %-5d", (int)ival(p, "pid"), sval(p, "comm"),
			(int)ival(p, "uid"));
		if (json_is_true(json_object_get(p, "forked")))
			fprintf(out, " forked by %d at icount %" PRId64, (int)ival(p, "parent_pid"),
				(int64_t)ival(p, "start_icount"));
		else
			fprintf(out, " running at icount %" PRId64, (int64_t)ival(p, "start_icount"));
		if (json_object_get(p, "exe"))
			fprintf(out, ", exec %s at icount %" PRId64, sval(p, "exe"),
				(int64_t)ival(p, "exec_icount"));
		fputc('\n', out);
	}
}

void analyze_print_why(FILE *out, const json_t *ans)
{
	const json_t *w = json_object_get(ans, "write"), *g = json_object_get(ans, "graph");
	const json_t *nodes = json_object_get(g, "nodes");
	fprintf(out, "%s: last %s at icount %" PRId64 " by pid %d (%s)\n", sval(ans, "path"),
		strcmp(sval(w, "kind"), "write") ? "truncated" : "written",
		(int64_t)ival(w, "last_icount"), (int)ival(w, "pid"), sval(w, "comm"));
	print_sources(out, ans, nodes);
	print_chain(out, ans);
	fprintf(out, "backward graph: %zu nodes, %zu edges (%" PRId64
		     " edges into them pruned by time order)\n",
		json_array_size(nodes), json_array_size(json_object_get(g, "edges")),
		(int64_t)ival(g, "pruned_edges"));
}
