/* See default_guest.h. */
#include "cli/default_guest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ${VAR:-$HOME/fallback}/suffix into out. */
static int xdg_path(char *out, size_t len, const char *var, const char *fallback,
		    const char *suffix)
{
	const char *base = getenv(var);
	const char *home = getenv("HOME");
	int n;
	if (base && *base)
		n = snprintf(out, len, "%s/%s", base, suffix);
	else if (home && *home)
		n = snprintf(out, len, "%s/%s/%s", home, fallback, suffix);
	else
		return -1;
	return n >= (int)len ? -1 : 0;
}

static int guest_dir(char *out, size_t len)
{
	const char *env = getenv("KEEL_GUEST_DIR");
	if (env && *env)
		return snprintf(out, len, "%s", env) >= (int)len ? -1 : 0;
	return xdg_path(out, len, "XDG_CACHE_HOME", ".cache", "keel/guest/default");
}

static int mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		int rc = mkdir(path, 0755);
		*p = '/';
		if (rc && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* The guest's disk: the cached rootfs, never written, under an overlay in
 * the state directory, so snapshots and clones can freeze it cheaply.
 * An older keel's writable copy (disk.ext4) is kept in use if present, so
 * nobody's files vanish. */
static int prepare_disk(struct default_guest *g)
{
	char overlay[PATH_MAX], legacy[PATH_MAX];
	if (xdg_path(overlay, sizeof(overlay), "XDG_STATE_HOME", ".local/state", "keel/disk.kov") ||
	    xdg_path(legacy, sizeof(legacy), "XDG_STATE_HOME", ".local/state", "keel/disk.ext4"))
		return -1;
	if (access(overlay, F_OK) != 0 && access(legacy, F_OK) == 0) {
		fprintf(stderr, "keel run: using %s, a writable copy made by an older keel; move it "
				"away to switch to an overlay (%s) that snapshots can capture\n",
			legacy, overlay);
		snprintf(g->disk, sizeof(g->disk), "%s", legacy);
		return 0;
	}
	if (access(overlay, F_OK) != 0) {
		if (mkdirs(overlay)) {
			fprintf(stderr, "keel run: %s: cannot create its directory: %s\n", overlay,
				strerror(errno));
			return -1;
		}
		fprintf(stderr, "keel run: the guest's disk is %s, a new overlay over %s\n", overlay,
			g->rootfs);
	}
	snprintf(g->disk, sizeof(g->disk), "%s,overlay=%s", g->rootfs, overlay);
	return 0;
}

int default_guest_find(struct default_guest *g)
{
	if (guest_dir(g->dir, sizeof(g->dir))) {
		fprintf(stderr, "keel run: no --kernel given and no default guest directory "
				"(set KEEL_GUEST_DIR or HOME)\n");
		return -1;
	}
	snprintf(g->kernel, sizeof(g->kernel), "%s/Image", g->dir);
	snprintf(g->initrd, sizeof(g->initrd), "%s/initramfs.cpio.gz", g->dir);
	snprintf(g->rootfs, sizeof(g->rootfs), "%s/rootfs.ext4", g->dir);
	if (access(g->kernel, R_OK) || access(g->initrd, R_OK)) {
		fprintf(stderr, "keel run: no --kernel given and the default guest is not built "
				"(%s: missing); run guest/build or 'make run'\n", g->kernel);
		return -1;
	}
	return access(g->rootfs, R_OK) == 0 ? prepare_disk(g) : 0;
}
