/* See default_guest.h. */
#include "cli/default_guest.h"

#include <errno.h>
#include <fcntl.h>
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

/* Copy src to dst through a temporary file, so an interrupted copy never
 * leaves a half disk behind. */
static int copy_file(const char *src, const char *dst)
{
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	int in = open(src, O_RDONLY | O_CLOEXEC);
	int out = in < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = in < 0 || out < 0 ? -1 : 0;
	char buf[1 << 16];
	ssize_t n;
	while (rc == 0 && (n = read(in, buf, sizeof(buf))) != 0)
		rc = n < 0 || write(out, buf, (size_t)n) != n ? -1 : 0;
	if (out >= 0 && (close(out) || rc))
		rc = -1;
	if (in >= 0)
		close(in);
	if (rc == 0)
		rc = rename(tmp, dst);
	if (rc)
		unlink(tmp);
	return rc;
}

static int prepare_disk(struct default_guest *g)
{
	if (xdg_path(g->disk, sizeof(g->disk), "XDG_STATE_HOME", ".local/state", "keel/disk.ext4"))
		return -1;
	if (access(g->disk, F_OK) == 0)
		return 0;
	if (mkdirs(g->disk) || copy_file(g->rootfs, g->disk)) {
		fprintf(stderr, "keel run: %s: cannot create the guest's disk: %s\n", g->disk,
			strerror(errno));
		return -1;
	}
	fprintf(stderr, "keel run: created %s from %s\n", g->disk, g->rootfs);
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
