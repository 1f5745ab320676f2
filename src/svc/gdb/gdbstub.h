/* A gdb remote-serial-protocol stub over TCP, for gdb-multiarch. */
#ifndef KEEL_SVC_GDB_GDBSTUB_H
#define KEEL_SVC_GDB_GDBSTUB_H

#include <stdint.h>

struct machine;

/* Listen on 127.0.0.1:port, wait for one gdb connection, and drive the
 * machine from gdb's commands until gdb detaches/kills or the guest exits.
 * Returns 0, or -1 with a message on stderr (socket errors). */
int gdbstub_serve(struct machine *m, int port);

#endif
