/* Finding the default guest that guest/build made. */
#ifndef KEEL_CLI_DEFAULT_GUEST_H
#define KEEL_CLI_DEFAULT_GUEST_H

#include <limits.h>

struct default_guest {
	char dir[PATH_MAX - 64]; /* room for the file names below */
	char kernel[PATH_MAX];
	char initrd[PATH_MAX];
	char rootfs[PATH_MAX];
};

/* $KEEL_GUEST_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/keel/guest/default
 * (a symlink guest/build keeps pointing at the newest build).  Returns 0,
 * or -1 after printing what is missing and how to build it. */
int default_guest_find(struct default_guest *g);

#endif
