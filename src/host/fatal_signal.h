/* What keel does when it dies of a signal (a crash, a kill, a system call
 * the sandbox forbids): put the terminal back in the mode it was in, say
 * why on stderr when the cause is the sandbox, then die of the same signal
 * as before (the exit status a shell sees is unchanged).
 *
 * The terminal is the process's, not a machine's: the saved mode lives in
 * this file's one static, written before the handlers can run.  Two VMs in
 * one process share the terminal, so only the first save counts. */
#ifndef KEEL_VM_FATAL_SIGNAL_H
#define KEEL_VM_FATAL_SIGNAL_H

#include <termios.h>

/* Restore `saved` on `fd` if keel dies of SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE, SIGABRT, SIGSYS, SIGTERM, SIGHUP, SIGINT or SIGQUIT (installs
 * the handlers the first time; a signal that is ignored, or already has a
 * handler such as a sanitizer's, is left alone). */
void fatal_signal_guard_tty(int fd, const struct termios *saved);

/* The terminal was restored normally: nothing to do at death any more. */
void fatal_signal_release_tty(void);

/* keel cannot go on (a post-copy migration lost its source): restore the
 * terminal if it is guarded, then exit(status). */
void fatal_exit(int status);

/* Install the handlers without a terminal (the sandbox's SIGSYS report
 * needs them).  Idempotent. */
void fatal_signal_install(void);

#endif
