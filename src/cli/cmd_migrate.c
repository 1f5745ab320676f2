/* keel migrate: the tools around live migration (docs/migrate.md).  The
 * migration itself is 'keel ctl migrate' on the source and 'keel run
 * --incoming' on the destination. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "svc/migrate/channel.h"

static void migrate_usage(FILE *out)
{
	fputs("usage: keel migrate keygen FILE\n"
	      "\n"
	      "Make a new migration key: 32 random bytes as 64 hex digits in FILE (mode\n"
	      "0600; an existing FILE is never overwritten).  Copy it to both hosts over a\n"
	      "channel you trust; a source and a destination only talk when they hold the\n"
	      "same key.\n"
	      "\n"
	      "To move a running VM (docs/migrate.md):\n"
	      "  destination: keel run --incoming tcp:HOST:PORT --key FILE [same -m, --net,\n"
	      "               --disk BASE,overlay=NEW.kov as the VM]\n"
	      "  source:      keel ctl --sock SOCK migrate tcp:HOST:PORT --key FILE\n",
	      out);
}

int cmd_migrate(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		migrate_usage(stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "keygen")) {
		migrate_usage(stderr);
		return 2;
	}
	char err[4096 + 256];
	if (mig_key_generate(argv[2], err, sizeof(err))) {
		fprintf(stderr, "keel migrate: %s\n", err);
		return 1;
	}
	fprintf(stderr, "keel migrate: wrote a new key to %s\n", argv[2]);
	return 0;
}
