/* The seccomp filter keel runs under once a VM is set up (docs/sandbox.md):
 * from then on only the system calls the run loop, the services and
 * fork-clones need are allowed.  Anything else traps (SIGSYS), and
 * src/host/fatal_signal.c names the call on stderr, restores the terminal
 * and lets keel die of SIGSYS.  The filter is inherited by clones and
 * cannot be lifted. */
#ifndef KEEL_VM_SANDBOX_H
#define KEEL_VM_SANDBOX_H

#include <stddef.h>

/* Install the filter for this process and every child it forks.  Returns
 * 0, or -1 with a reason in err (the filter is then not installed). */
int sandbox_enter(char *err, size_t errlen);

#endif
