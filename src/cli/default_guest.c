/* See default_guest.h. */
#include "cli/default_guest.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev/disk_overlay.h"

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

static bool is_default(const char *name)
{
	return !strcmp(name, DEFAULT_GUEST_NAME);
}

static int guest_dir(char *out, size_t len, const char *name)
{
	const char *env = getenv("KEEL_GUEST_DIR");
	char suffix[128];
	if (is_default(name) && env && *env)
		return snprintf(out, len, "%s", env) >= (int)len ? -1 : 0;
	snprintf(suffix, sizeof(suffix), "keel/guest/%s", name);
	return xdg_path(out, len, "XDG_CACHE_HOME", ".cache", suffix);
}

/* A guest name is one path component of letters, digits, '-' and '_'. */
static bool valid_name(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n < 64 && strspn(name, "abcdefghijklmnopqrstuvwxyz"
					       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

/* The directory's `cmdline` file, first line, into g->append (or ""). */
static int read_cmdline(struct default_guest *g)
{
	char path[PATH_MAX];
	g->append[0] = 0;
	snprintf(path, sizeof(path), "%s/cmdline", g->dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "keel run: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!fgets(g->append, sizeof(g->append), f))
		g->append[0] = 0;
	fclose(f);
	g->append[strcspn(g->append, "\n")] = 0;
	return 0;
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

/* The absolute path of the base an existing overlay file was made over,
 * or "" when it cannot be read as an overlay. */
static void overlay_base(const char *overlay, char *out, size_t len)
{
	static uint8_t raw[OVERLAY_HEADER_BYTES];
	static struct overlay_header h; /* 8 KiB: not on the stack */
	char err[256];
	out[0] = 0;
	int fd = open(overlay, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (pread(fd, raw, sizeof(raw), 0) == (ssize_t)sizeof(raw) &&
	    !overlay_header_decode(raw, &h, err, sizeof(err)))
		snprintf(out, len, "%s", h.base_abs);
	close(fd);
}

/* A rebuilt guest has a new rootfs, and the overlay made over the old one
 * would be refused.  Keep it (the user's changes to the old disk) beside,
 * named after the old build, and let a new one be made. */
static int set_aside_stale_overlay(const char *overlay, const char *rootfs)
{
	char base[PATH_MAX + 1], dir[PATH_MAX + 1], kept[PATH_MAX + 64];
	overlay_base(overlay, base, sizeof(base));
	if (!base[0] || !strcmp(base, rootfs))
		return 0;
	snprintf(dir, sizeof(dir), "%s", base);
	const char *build = basename(dirname(dir)); /* the old build's directory name */
	size_t stem = strlen(overlay) - (strlen(overlay) > 4 ? 4 : 0); /* without ".kov" */
	snprintf(kept, sizeof(kept), "%.*s-%s.kov", (int)stem, overlay, build);
	if (access(kept, F_OK) == 0 || rename(overlay, kept)) {
		fprintf(stderr, "keel run: %s was made over %s, not this guest's %s, and cannot be "
				"moved aside to %s; move it away or pass --disk\n",
			overlay, base, rootfs, kept);
		return -1;
	}
	fprintf(stderr, "keel run: the guest was rebuilt; its old disk overlay (made over %s) is "
			"now %s, and a new one starts\n", base, kept);
	return 0;
}

/* The guest's disk: the cached rootfs, never written, under an overlay in
 * the state directory, so snapshots and clones can freeze it cheaply.
 * An older keel's writable copy (disk.ext4) is kept in use if present, so
 * nobody's files vanish. */
static int prepare_disk(struct default_guest *g, const char *name)
{
	char overlay[PATH_MAX], legacy[PATH_MAX], file[128];
	if (is_default(name))
		snprintf(file, sizeof(file), "keel/disk.kov");
	else
		snprintf(file, sizeof(file), "keel/disk-%s.kov", name);
	if (xdg_path(overlay, sizeof(overlay), "XDG_STATE_HOME", ".local/state", file) ||
	    xdg_path(legacy, sizeof(legacy), "XDG_STATE_HOME", ".local/state", "keel/disk.ext4"))
		return -1;
	if (is_default(name) && access(overlay, F_OK) != 0 && access(legacy, F_OK) == 0) {
		fprintf(stderr, "keel run: using %s, a writable copy made by an older keel; move it "
				"away to switch to an overlay (%s) that snapshots can capture\n",
			legacy, overlay);
		snprintf(g->disk, sizeof(g->disk), "%s", legacy);
		return 0;
	}
	if (access(overlay, F_OK) == 0 && set_aside_stale_overlay(overlay, g->rootfs))
		return -1;
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

int default_guest_find(struct default_guest *g, const char *name)
{
	g->disk[0] = 0;
	if (!name)
		name = DEFAULT_GUEST_NAME;
	if (!valid_name(name)) {
		fprintf(stderr, "keel run: --guest %s: not a guest name (letters, digits, - and _; "
				"e.g. default or debian)\n", name);
		return -1;
	}
	char dir[PATH_MAX];
	if (guest_dir(dir, sizeof(dir), name)) {
		fprintf(stderr, "keel run: no --kernel given and no guest directory for '%s' "
				"(set XDG_CACHE_HOME or HOME%s)\n", name,
			is_default(name) ? ", or KEEL_GUEST_DIR" : "");
		return -1;
	}
	/* through guest/build's link to the build itself, so that what the
	 * overlay records as its base does not move when the link does */
	char real[PATH_MAX];
	if (!realpath(dir, real) || strlen(real) >= sizeof(g->dir))
		snprintf(real, sizeof(real), "%s", dir);
	snprintf(g->dir, sizeof(g->dir), "%s", real);
	snprintf(g->kernel, sizeof(g->kernel), "%s/Image", g->dir);
	snprintf(g->initrd, sizeof(g->initrd), "%s/initramfs.cpio.gz", g->dir);
	snprintf(g->rootfs, sizeof(g->rootfs), "%s/rootfs.ext4", g->dir);
	if (access(g->kernel, R_OK) || access(g->initrd, R_OK)) {
		if (is_default(name))
			fprintf(stderr, "keel run: no --kernel given and the default guest is not "
					"built (%s: missing); run guest/build or 'make run'\n",
				g->kernel);
		else
			fprintf(stderr, "keel run: the guest '%s' is not built (%s: missing); run "
					"guest/build --%s\n", name, g->kernel, name);
		return -1;
	}
	if (read_cmdline(g))
		return -1;
	return access(g->rootfs, R_OK) == 0 ? prepare_disk(g, name) : 0;
}
