/* Finding a guest that guest/build made (the default one, or another by
 * name: keel run --guest NAME). */
#ifndef KEEL_CLI_DEFAULT_GUEST_H
#define KEEL_CLI_DEFAULT_GUEST_H

#include <limits.h>

struct default_guest {
	char dir[PATH_MAX - 64]; /* room for the file names below */
	char kernel[PATH_MAX];
	char initrd[PATH_MAX];
	char rootfs[PATH_MAX];
	char disk[2 * PATH_MAX + 16]; /* a --disk argument: rootfs under an overlay */
	char append[1024]; /* the directory's cmdline file, or "" */
};

#define DEFAULT_GUEST_NAME "default"

/* Find guest `name` (NULL: the default guest).  Its directory is
 * ${XDG_CACHE_HOME:-$HOME/.cache}/keel/guest/NAME, a symlink guest/build
 * points at its last build of that flavor; for the default guest
 * $KEEL_GUEST_DIR, when set, comes first.  The directory holds Image,
 * initramfs.cpio.gz, optionally rootfs.ext4 and optionally `cmdline` (the
 * kernel command line to use when --append is not given).  The cached
 * rootfs.ext4 stays pristine: the guest writes to a copy-on-write overlay
 * over it in ${XDG_STATE_HOME:-$HOME/.local/state}/keel/, disk.kov for the
 * default guest and disk-NAME.kov for another, made when missing (an older
 * keel's writable copy of the default guest's disk, disk.ext4 there, is
 * kept in use if it exists).  The directory is resolved (realpath), so an
 * overlay names the build as its base; an overlay made over another build
 * is renamed disk[-NAME]-<that build>.kov and a new one made.
 * Returns 0, or -1 after printing what is missing and how to build it. */
int default_guest_find(struct default_guest *g, const char *name);

#endif
