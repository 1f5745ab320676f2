/* See default_guest.h. */
#include "cli/default_guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int guest_dir(char *out, size_t len)
{
	const char *env = getenv("KEEL_GUEST_DIR");
	if (env && *env)
		return snprintf(out, len, "%s", env) >= (int)len ? -1 : 0;
	const char *cache = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int n;
	if (cache && *cache)
		n = snprintf(out, len, "%s/keel/guest/default", cache);
	else if (home && *home)
		n = snprintf(out, len, "%s/.cache/keel/guest/default", home);
	else
		return -1;
	return n >= (int)len ? -1 : 0;
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
	return 0;
}
