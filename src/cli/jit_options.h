/* --jit on|off and --jit-threshold N, shared by keel run/record and keel
 * replay (docs/cpu.md, "The JIT"). */
#ifndef KEEL_CLI_JIT_OPTIONS_H
#define KEEL_CLI_JIT_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* On: it passes every exactness test (docs/cpu.md, "The JIT"). */
#define JIT_DEFAULT_ON true
#define JIT_DEFAULT_THRESHOLD 32 /* interpreted entries before a block is translated */
#define JIT_THRESHOLD_LIMIT 65535

#define JIT_OPTIONS_HELP                                                                 \
	"  --jit on|off         translate hot decoded blocks to x86-64 (default: on);\n" \
	"                       results are the same either way\n"                          \
	"  --jit-threshold N    entries in the interpreter before a block is translated\n"  \
	"                       (default 32; 0: every block at its first entry)\n"      \
	"  --jit-perfmap        name translated code for perf in /tmp/perf-PID.map\n"  \
	"                       (keel:GUEST_PC:PRIV per translation; docs/cpu.md)\n"

/* Parse the argument of --jit (threshold false) or --jit-threshold (true)
 * into *on or *threshold.  Returns 0, or -1 after saying what is wrong. */
static inline int jit_option(const char *cmd, bool is_threshold, const char *arg, bool *on,
			     unsigned *threshold)
{
	if (!is_threshold) {
		if (strcmp(arg, "on") && strcmp(arg, "off")) {
			fprintf(stderr, "%s: --jit wants on or off, not '%s'\n", cmd, arg);
			return -1;
		}
		*on = !strcmp(arg, "on");
		return 0;
	}
	char *end;
	unsigned long v = strtoul(arg, &end, 10);
	if (!*arg || *end || v > JIT_THRESHOLD_LIMIT) {
		fprintf(stderr, "%s: --jit-threshold wants a count from 0 to %d, not '%s'\n", cmd,
			JIT_THRESHOLD_LIMIT, arg);
		return -1;
	}
	*threshold = (unsigned)v;
	return 0;
}

#endif
