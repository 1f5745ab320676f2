/* A gdb remote-serial-protocol stub over TCP, for gdb-multiarch. */
#ifndef KEEL_SVC_GDB_GDBSTUB_H
#define KEEL_SVC_GDB_GDBSTUB_H

#include <stdbool.h>
#include <stdint.h>

#include "vm/machine.h"

/* What the stub debugs: the machine, how it runs forward and, for a
 * replay, how it moves backward (svc/replay/timetravel.h).  gdbstub_serve
 * wraps a live machine in a target with no reverse execution. */
struct gdb_target {
	/* The machine now; a backward move may replace it. */
	struct machine *(*machine)(void *opaque);
	/* Run forward up to `steps` instructions (machine_run's meaning of a
	 * step).  Returns why it stopped; STOP_BUDGET when the steps ran
	 * out. */
	enum stop_reason (*run)(void *opaque, uint64_t steps);
	/* The end of recorded history was reached (a replay): the last run
	 * stopped there.  NULL: never. */
	bool (*at_history_end)(void *opaque);
	/* Move to exactly `icount`, which may be behind.  Returns 0, or -1
	 * when icount is before the start of history (the machine is then
	 * at the start).  NULL: no reverse execution. */
	int (*seek)(void *opaque, uint64_t icount);
	/* The first icount of history (seek's lower bound). */
	uint64_t (*history_start)(void *opaque);
	void *opaque;
};

/* Listen on 127.0.0.1:port, wait for one gdb connection, and drive the
 * machine from gdb's commands until gdb detaches/kills or the guest exits.
 * Port 0 picks a free port; the one used is in the "waiting for gdb" line
 * on stderr.
 *
 * How it ends: when the guest exits, gdb is told (W) and m->exited is set;
 * after a detach the guest runs on to its end (or --max-insns / WFI idle)
 * before this returns; after a kill it returns with the guest stopped
 * where it was (m->exited false).
 *
 * Returns 0, or -1 with a message on stderr (socket errors, or the
 * connection dropped without a kill or detach). */
int gdbstub_serve(struct machine *m, int port);

/* The same for any target.  With t->seek, gdb's reverse-stepi,
 * reverse-continue (and so reverse-step and reverse-finish) work, and
 * breakpoints are found in both directions.  `monitor icount` prints the
 * instruction count wherever the target is. */
int gdbstub_serve_target(const struct gdb_target *t, int port);

#endif
