/* keel analyze: questions asked of a secure log by replaying it
 * (docs/analyze.md).  Dispatches on the question. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cmd_analyze(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--taint") || !strncmp(argv[i], "--taint=", 8))
			return cmd_analyze_taint(argc, argv);
	bool help = argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));
	fputs("usage: keel analyze LOG --taint PATH [--json]   (see 'keel analyze --taint x "
	      "--help')\n",
	      help ? stdout : stderr);
	return help ? 0 : 2;
}
