/* See sandbox.h.  An allow-list: a new system call keel needs after set-up
 * must be added here (a test run names it: "forbidden system call X").
 *
 * What the list leaves out is what an attacker who took over keel would
 * want next: running programs (execve), reading or steering other
 * processes (ptrace, process_vm_*), new namespaces, mounts, privileges,
 * kernel modules, BPF, io_uring, keyrings, userfaultfd. */
#include "host/sandbox.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <termios.h>

#include "host/fatal_signal.h"

/* Grouped by who needs them after set-up. */
static const char *const allowed[] = {
	/* files: disks, overlays, snapshots, the log and its key, consoles */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "lseek",
	"close", "close_range", "open", "openat", "creat", "fstat", "stat", "lstat", "newfstatat",
	"statx", "access", "faccessat", "faccessat2", "rename", "renameat", "renameat2", "unlink",
	"unlinkat", "mkdir", "mkdirat", "readlink", "readlinkat", "getcwd", "getdents64",
	"fsync", "fdatasync", "ftruncate", "fallocate", "fadvise64", "flock", "fcntl", "dup",
	"dup2", "dup3", "pipe", "pipe2", "copy_file_range", "sendfile", "fchmod", "chmod",
	"fchmodat", "umask", "statfs", "fstatfs",
	/* a migration's destination: a base image that arrived is linked into
	 * place; a failed attempt's overlay is cut back to empty */
	"link", "linkat", "truncate",
	/* waiting and time */
	"poll", "ppoll", "select", "pselect6", "clock_gettime", "clock_getres", "clock_nanosleep",
	"nanosleep", "gettimeofday", "time", "sched_yield", "futex", "restart_syscall",
	/* memory (mlock: libsodium keeps keys out of swap) */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "mlock", "munlock", "mlock2",
	/* entropy for the guest (fresh clones, --entropy host) and libsodium */
	"getrandom",
	/* signals, and dying */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "kill", "tgkill", "tkill",
	"exit", "exit_group",
	/* fork-clones: fork (glibc's is clone with SIGCHLD), the new session,
	 * reaping */
	"clone", "wait4", "waitid", "setsid", "set_robust_list", "rseq",
	/* identity, asked by libraries */
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "uname",
	"getrlimit", "prlimit64", "sysinfo",
	/* the control socket and user networking (slirp) */
	"socket", "bind", "listen", "accept", "accept4", "connect", "getsockname", "getpeername",
	"setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "shutdown",
	"socketpair",
};

/* A build with AddressSanitizer checks for leaks at exit, and its check
 * stops the world as a debugger would: a tracer thread that lists the
 * threads (the old getdents) and ptraces each, after prctl(PR_SET_PTRACER,
 * PR_SET_DUMPABLE).  Without them the tracer dies of the filter and keel
 * waits for it for ever.  Only those
 * builds allow them, so the tests can run the ASan keel under its filter;
 * a release build never does. */
#if defined(__SANITIZE_ADDRESS__)
#define LEAK_CHECK_AT_EXIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LEAK_CHECK_AT_EXIT 1
#endif
#endif

static int allow_leak_check(scmp_filter_ctx ctx, char *err, size_t errlen)
{
#ifdef LEAK_CHECK_AT_EXIT
	static const int calls[] = {SCMP_SYS(prctl), SCMP_SYS(ptrace), SCMP_SYS(getdents)};
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);
		if (rc < 0) {
			snprintf(err, errlen, "sandbox: the leak check's calls: %s", strerror(-rc));
			return -1;
		}
	}
#else
	(void)ctx, (void)err, (void)errlen;
#endif
	return 0;
}

/* ioctl only for the terminal (raw mode and back) and non-blocking
 * sockets. */
static const unsigned long allowed_ioctls[] = {
	TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, FIONBIO, FIONREAD,
};

static int add_rules(scmp_filter_ctx ctx, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture (e.g. open on arm64) */
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0) {
			snprintf(err, errlen, "sandbox: allowing %s: %s", allowed[i], strerror(-rc));
			return -1;
		}
	}
	int rc;
	for (size_t i = 0; i < sizeof(allowed_ioctls) / sizeof(allowed_ioctls[0]); i++) {
		struct scmp_arg_cmp request = {.arg = 1, .op = SCMP_CMP_EQ,
					       .datum_a = allowed_ioctls[i]};
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, request);
		if (rc < 0) {
			snprintf(err, errlen, "sandbox: allowing ioctl: %s", strerror(-rc));
			return -1;
		}
	}
	if (allow_leak_check(ctx, err, errlen))
		return -1;
	/* prctl only to tie a shield's trial clone to its parent's life
	 * (src/host/shield.c). */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
			      (struct scmp_arg_cmp){.arg = 0, .op = SCMP_CMP_EQ,
						    .datum_a = PR_SET_PDEATHSIG});
	if (rc < 0) {
		snprintf(err, errlen, "sandbox: prctl: %s", strerror(-rc));
		return -1;
	}
	/* clone3 (new threads in glibc) answers ENOSYS so a library that
	 * tries it falls back to clone, which the list allows. */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc < 0) {
		snprintf(err, errlen, "sandbox: clone3: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

int sandbox_enter(char *err, size_t errlen)
{
	/* The handler that names a forbidden call must be there first. */
	fatal_signal_install();
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		snprintf(err, errlen, "sandbox: seccomp_init failed");
		return -1;
	}
	int rc = add_rules(ctx, err, errlen);
	if (rc == 0) {
		rc = seccomp_load(ctx);
		if (rc < 0)
			snprintf(err, errlen, "sandbox: loading the seccomp filter: %s", strerror(-rc));
	}
	seccomp_release(ctx);
	return rc < 0 ? -1 : 0;
}
