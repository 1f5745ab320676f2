/* keel: a virtual machine monitor for RV64GC guests.  Dispatches to the
 * subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *out)
{
	fputs("usage: keel <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  run      boot a guest (see 'keel run --help')\n"
	      "  ctl      talk to a running keel's control socket ('keel ctl --help')\n"
	      "  record   boot a guest and record it in a secure log ('keel record --help')\n"
	      "  replay   re-execute a recorded log ('keel replay --help')\n"
	      "  log      keys, verification and listing of secure logs ('keel log --help')\n"
	      "  disk     make, inspect, check and convert disk overlays ('keel disk --help')\n"
	      "  migrate  make a key for live migration ('keel migrate --help')\n"
	      "  inspect  introspect a saved VM's guest kernel ('keel inspect --help')\n"
	      "  analyze  which connection changed a file, from a recorded log ('keel analyze --help')\n"
	      "\n"
	      "options:\n"
	      "  -h, --help     show this help\n"
	      "  --version      print the version\n",
	      out);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		puts("keel " KEEL_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "ctl"))
		return cmd_ctl(argc - 1, argv + 1);
	if (!strcmp(cmd, "record"))
		return cmd_record(argc - 1, argv + 1);
	if (!strcmp(cmd, "replay"))
		return cmd_replay(argc - 1, argv + 1);
	if (!strcmp(cmd, "log"))
		return cmd_log(argc - 1, argv + 1);
	if (!strcmp(cmd, "disk"))
		return cmd_disk(argc - 1, argv + 1);
	if (!strcmp(cmd, "migrate"))
		return cmd_migrate(argc - 1, argv + 1);
	if (!strcmp(cmd, "inspect"))
		return cmd_inspect(argc - 1, argv + 1);
	if (!strcmp(cmd, "analyze"))
		return cmd_analyze(argc - 1, argv + 1);
	fprintf(stderr, "keel: unknown command '%s' (try 'keel --help')\n", cmd);
	return 2;
}
