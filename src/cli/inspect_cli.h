/* The parts of keel inspect that keel ctl inspect and keel replay
 * --inspect share: the arguments and the printing of a view. */
#ifndef KEEL_CLI_INSPECT_CLI_H
#define KEEL_CLI_INSPECT_CLI_H

#include <stdbool.h>

#include <jansson.h>

#include "svc/vmi/vmi.h"

#define INSPECT_VIEWS_HELP                                                                   \
	"  ps               processes: pid, ppid, uid/gid, comm, state, start, exe, page table\n" \
	"  threads PID      the threads of process PID: tid, comm, state\n"                  \
	"  files PID        the open files of process PID: fd, path, mode, flags, pos\n"       \
	"  net              sockets: proto, local and remote address, state, owner pid/fd\n"   \
	"  mounts           the mount table of init's namespace\n"                             \
	"  ifaces           network interfaces and their flags (PROMISC among them)\n"        \
	"  modules          kernel modules: the module list against /sys/module (hidden)\n"  \
	"  integrity        SHA-256 of kernel text, rodata and the syscall table\n"            \
	"  crossview        the task list against the PID allocator and the run queues\n"   \
	"  info             what was found: kernel base, page table, symbol and BTF sources\n"

#define INSPECT_OPTIONS_HELP                                                         \
	"  --json             the result as JSON (rows, notes, truncated)\n"           \
	"  --vmlinux FILE     types (BTF) and, if RAM has no kallsyms, symbols from FILE\n" \
	"  --system-map FILE  symbols from FILE instead of the kallsyms in RAM\n"

struct inspect_args {
	struct vmi_options o;
	bool json;
	int passphrase_fd;
	const char *pos[4];
	int npos;
};

/* Options anywhere; the rest in pos.  0, 1 (--help) or -1. */
int inspect_parse(int argc, char **argv, struct inspect_args *a);
/* A view's result, as JSON or a table. */
int inspect_print(const json_t *res, bool json);
/* Attach done: run one view (or "info") and print it; the exit status. */
int inspect_run(struct vmi *v, const char *view, const char *arg, bool json);

#endif
