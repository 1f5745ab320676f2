/* A gdb remote-serial-protocol stub over TCP, for gdb-multiarch. */
#ifndef KEEL_SVC_GDB_GDBSTUB_H
#define KEEL_SVC_GDB_GDBSTUB_H

#include <stdint.h>

struct machine;

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

#endif
