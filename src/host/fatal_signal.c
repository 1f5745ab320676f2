/* See fatal_signal.h.  Everything a handler does is async-signal-safe
 * except naming a forbidden system call, which asks libseccomp (it
 * allocates); the process is dying and the sandbox forbids nothing that
 * malloc needs, so at worst the name is missing. */
#include "host/fatal_signal.h"

#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp trap (linux/signal.h); glibc may lack it */
#endif

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
				    SIGSYS,  SIGTERM, SIGHUP, SIGINT, SIGQUIT};

/* The process's terminal state (see the header for why it is static). */
static struct {
	volatile sig_atomic_t armed;
	int fd;
	struct termios saved;
	bool installed;
} tty_guard;

static void say(const char *s)
{
	ssize_t ignored = write(STDERR_FILENO, s, strlen(s));
	(void)ignored;
}

static void report_syscall(const siginfo_t *si)
{
	char line[160];
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, si->si_syscall);
	snprintf(line, sizeof(line),
		 "\r\nkeel: sandbox: forbidden system call %s (%d); keel stopped "
		 "(--no-sandbox runs without the filter)\r\n",
		 name ? name : "?", si->si_syscall);
	say(line);
}

static void on_fatal(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	if (tty_guard.armed)
		tcsetattr(tty_guard.fd, TCSANOW, &tty_guard.saved);
	if (sig == SIGSYS && si && si->si_code == SYS_SECCOMP)
		report_syscall(si);
	/* Die of the same signal, as keel would have without this handler. */
	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig);
}

void fatal_exit(int status)
{
	if (tty_guard.armed)
		tcsetattr(tty_guard.fd, TCSANOW, &tty_guard.saved);
	tty_guard.armed = 0;
	exit(status);
}

void fatal_signal_install(void)
{
	if (tty_guard.installed)
		return;
	tty_guard.installed = true;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fatal;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++) {
		struct sigaction old;
		/* A signal someone chose to ignore (nohup) stays ignored, and one
		 * that already has a handler (a sanitizer's SIGSEGV report) keeps
		 * it. */
		if (sigaction(fatal_signals[i], NULL, &old) == 0 &&
		    ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL))
			continue;
		sigaction(fatal_signals[i], &sa, NULL);
	}
}

void fatal_signal_guard_tty(int fd, const struct termios *saved)
{
	if (tty_guard.armed)
		return; /* another VM in this process saved the original mode */
	tty_guard.fd = fd;
	tty_guard.saved = *saved;
	tty_guard.armed = 1;
	fatal_signal_install();
}

void fatal_signal_release_tty(void)
{
	tty_guard.armed = 0;
}
