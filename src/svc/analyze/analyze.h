/* Replay analysis: which connection and which processes can have caused
 * a file's contents, answered from a replay of a secure log (docs/analyze.md).
 *
 * While a log is replayed, the collector (collect.c) follows the guest
 * through the trap hook and introspection: process creation, exec and
 * exit, opens, reads and writes resolved to the file, pipe or connection
 * behind the descriptor, uid changes, and the network frames the log
 * feeds the guest.  After the replay, graph.c builds BackTracker's
 * dependency graph (processes, files, connections; time-ordered data
 * flows) and walks it backward from a write.  Every input is one the
 * replay reproduces exactly, so the answer is the same on every run. */
#ifndef KEEL_SVC_ANALYZE_ANALYZE_H
#define KEEL_SVC_ANALYZE_ANALYZE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "svc/vmi/vmi.h"

struct machine;
struct analyze;

/* Subscribe to m (a replay machine, before it runs) and collect.  NULL
 * with a reason in err. */
struct analyze *analyze_start(struct machine *m, const struct vmi_options *o, char *err,
			      size_t errlen);
/* Unsubscribe; what was collected stays for the questions below. */
void analyze_stop(struct analyze *a);
void analyze_free(struct analyze *a);

/* Alerts of the intrusion detector that ran over the same replay (one
 * JSON object each, as docs/ids.md writes them), for the timeline. */
void analyze_add_alert(struct analyze *a, const json_t *alert);

/* Walk back from the last write of `path` at or before icount `at` (0:
 * the last write of the replay).  The answer (a new reference) holds the
 * write, the connections and other sources that can have caused it, the
 * process chains, and the backward graph; NULL with a reason in err (no
 * such write). */
json_t *analyze_why(struct analyze *a, const char *path, uint64_t at, char *err, size_t errlen);
/* The answer for a person. */
void analyze_print_why(FILE *out, const json_t *answer);

/* Everything collected, as a graph: {"nodes": [...], "edges": [...],
 * "events": N} (a new reference). */
json_t *analyze_graph(struct analyze *a);

/* The timeline page: one self-contained HTML file with the library at
 * d3_path (d3 v3, Debian's libjs-d3) inlined, the collected processes,
 * connections, file writes and alerts, and `answer` (may be NULL)
 * highlighted.  0, or -1 with a reason in err. */
int analyze_write_html(struct analyze *a, const json_t *answer, const char *d3_path,
		       const char *out, char *err, size_t errlen);

#endif
