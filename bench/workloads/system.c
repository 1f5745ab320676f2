/* System workloads: the kernel's process and IPC paths (fork, exec, exit,
 * wait, pipes, context switches, page-table copies and faults) and a
 * shell interpreting a loop.  A failing system call ends kbench with a
 * message and status 1, so it can never look like a fast result. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "kbench.h"

static void die(const char *what)
{
	fprintf(stderr, "kbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int wait_status(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	if (!WIFEXITED(status)) {
		fprintf(stderr, "kbench: child %d did not exit normally\n", (int)pid);
		exit(1);
	}
	return WEXITSTATUS(status);
}

/* /proc/self/exe rather than argv[0]: works whatever PATH found us by. */
uint64_t workload_spawn(uint64_t count)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < count; i++) {
		char code[8];
		snprintf(code, sizeof code, "%u", (unsigned)(i % 251));
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			char *argv[] = { "kbench", KBENCH_EXIT_CMD, code, NULL };
			execv("/proc/self/exe", argv);
			_exit(127);
		}
		sum = mix(sum, (uint64_t)wait_status(pid));
	}
	return sum;
}

static int read_u64(int fd, uint64_t *v)
{
	size_t got = 0;

	while (got < sizeof *v) {
		ssize_t r = read(fd, (char *)v + got, sizeof *v - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -1 : 0;
		got += (size_t)r;
	}
	return 1;
}

static void write_u64(int fd, uint64_t v)
{
	/* 8 bytes is below PIPE_BUF, so the write is atomic: all or error. */
	if (write(fd, &v, sizeof v) != (ssize_t)sizeof v)
		die("write to pipe");
}

/* A value bounces between two processes; the child transforms it, so
 * the parent's checksum proves every message made the trip. */
uint64_t workload_pipe(uint64_t round_trips)
{
	int ping[2], pong[2];
	uint64_t v = 1, sum = 0;

	if (pipe(ping) || pipe(pong))
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(ping[1]);
		close(pong[0]);
		while (read_u64(ping[0], &v) > 0)
			write_u64(pong[1], v * 3 + 1);
		_exit(0);
	}
	close(ping[0]);
	close(pong[1]);
	for (uint64_t i = 0; i < round_trips; i++) {
		write_u64(ping[1], v);
		if (read_u64(pong[0], &v) <= 0)
			die("read from pipe");
		sum = mix(sum, v);
		v += i;
	}
	close(ping[1]); /* the child sees EOF and exits */
	close(pong[0]);
	if (wait_status(pid) != 0) {
		fprintf(stderr, "kbench: pipe partner failed\n");
		exit(1);
	}
	return sum;
}

/* Only shell builtins inside the loop: this measures the shell's
 * interpreter, not fork. */
static const char shell_loop[] =
	"i=0; s=0; while [ $i -lt $1 ]; do s=$(( (s * 31 + i) % 1000003 )); i=$((i + 1)); done; echo $s";

uint64_t workload_shell(uint64_t iterations)
{
	int out[2];
	char count[24], buf[64];
	size_t len = 0;

	snprintf(count, sizeof count, "%llu", (unsigned long long)iterations);
	if (pipe(out))
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execl("/bin/sh", "sh", "-c", shell_loop, "sh", count, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	for (;;) {
		ssize_t r = read(out[0], buf + len, sizeof buf - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read from the shell");
		if (r == 0 || (len += (size_t)r) == sizeof buf - 1)
			break;
	}
	close(out[0]);
	buf[len] = '\0';
	if (wait_status(pid) != 0) {
		fprintf(stderr, "kbench: the shell loop failed: %s\n", buf);
		exit(1);
	}
	return mix(0, strtoull(buf, NULL, 10));
}
