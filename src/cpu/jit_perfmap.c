/* --jit-perfmap: a map of translated code for perf (jit.h).
 *
 * perf names addresses in anonymous executable memory through
 * /tmp/perf-<pid>.map, a text file of lines "START SIZE NAME" (hex
 * START and SIZE) that it reads when it reports, so a process that is
 * still running can be profiled (`perf record -p PID`).  Each line is
 * written with one write(2), unbuffered, so the file is complete at any
 * moment; a line costs one system call per translation, and nothing
 * when the map is off.  docs/cpu.md, "Profiling translated code". */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "cpu/jit.h"

int jit_perfmap_open(struct jit *j)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/perf-%ld.map", (long)getpid());
	/* O_TRUNC: an earlier process with this pid may have left its map;
	 * O_NOFOLLOW: /tmp is everyone's, and a link planted there must not
	 * send the map over a file of ours */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	if (j->perfmap >= 0)
		close(j->perfmap);
	j->perfmap = fd;
	/* the enter and leave stubs at the cache's start, which every
	 * translation's stay in the JIT passes through */
	char line[64];
	int n = snprintf(line, sizeof(line), "%lx %zx keel:stubs\n", (unsigned long)(uintptr_t)j->code,
			 j->stubs);
	ssize_t w = write(fd, line, (size_t)n);
	(void)w;
	return 0;
}

void jit_perfmap_note(struct jit *j, const void *code, size_t len, uint64_t pc, unsigned priv)
{
	if (j->perfmap < 0)
		return;
	static const char level[4] = {'U', 'S', '?', 'M'};
	char line[96];
	int n = snprintf(line, sizeof(line), "%lx %zx keel:%llx:%c\n", (unsigned long)(uintptr_t)code,
			 len, (unsigned long long)pc, level[priv & 3]);
	/* a failed write loses a name in a profile, nothing else */
	ssize_t w = write(j->perfmap, line, (size_t)n);
	(void)w;
}

void jit_perfmap_forget(struct jit *j) { j->perfmap = -1; }
