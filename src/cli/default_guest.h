/* Finding the default guest that guest/build made. */
#ifndef KEEL_CLI_DEFAULT_GUEST_H
#define KEEL_CLI_DEFAULT_GUEST_H

#include <limits.h>

struct default_guest {
	char dir[PATH_MAX - 64]; /* room for the file names below */
	char kernel[PATH_MAX];
	char initrd[PATH_MAX];
	char rootfs[PATH_MAX];
	char disk[2 * PATH_MAX + 16]; /* a --disk argument: rootfs under an overlay */
};

/* The guest directory is $KEEL_GUEST_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/keel/guest/default
 * (a symlink guest/build keeps pointing at the newest build).  The cached
 * rootfs.ext4 stays pristine: the guest writes to a copy-on-write overlay
 * over it, ${XDG_STATE_HOME:-$HOME/.local/state}/keel/disk.kov, made when
 * missing (an older keel's writable copy, disk.ext4 there, is kept in use
 * if it exists).
 * Returns 0, or -1 after printing what is missing and how to build it. */
int default_guest_find(struct default_guest *g);

#endif
