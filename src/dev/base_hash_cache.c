/* Base-image hash cache.  See base_hash_cache.h. */
#include "dev/base_hash_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool cache_dir(char out[PATH_MAX])
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;
	if (xdg && xdg[0] == '/')
		n = snprintf(out, PATH_MAX, "%s/keel/base-hash", xdg);
	else if (home && home[0] == '/')
		n = snprintf(out, PATH_MAX, "%s/.cache/keel/base-hash", home);
	else
		return false;
	return n > 0 && n < PATH_MAX;
}

/* The entry's path for the file open on `fd`, or false. */
static bool entry_path(int fd, uint64_t size, char out[PATH_MAX])
{
	struct stat st;
	char dir[PATH_MAX];
	if (fstat(fd, &st) || (uint64_t)st.st_size != size || !cache_dir(dir))
		return false;
	int n = snprintf(out, PATH_MAX, "%s/%llx-%llx-%llx-%lld.%09ld-%lld.%09ld", dir,
			 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
			 (unsigned long long)size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			 (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	return n > 0 && n < PATH_MAX;
}

bool base_hash_cache_get(int fd, uint64_t size, uint8_t out[BASE_HASH_BYTES])
{
	char path[PATH_MAX];
	if (!entry_path(fd, size, path))
		return false;
	int in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return false;
	uint8_t buf[BASE_HASH_BYTES + 1];
	ssize_t got = read(in, buf, sizeof(buf));
	close(in);
	if (got != BASE_HASH_BYTES)
		return false;
	memcpy(out, buf, BASE_HASH_BYTES);
	return true;
}

static void make_dirs(const char *dir)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0700);
			*p = '/';
		}
	}
	mkdir(tmp, 0700);
}

/* A file changed within the last few seconds may change again without
 * its timestamps moving (they tick at the kernel's coarse clock): the
 * "racy git" problem.  Such a file is not cached yet. */
static bool settled(int fd)
{
	struct stat st;
	struct timespec now;
	if (fstat(fd, &st) || clock_gettime(CLOCK_REALTIME, &now))
		return false;
	return now.tv_sec - st.st_ctim.tv_sec > 2 && now.tv_sec - st.st_mtim.tv_sec > 2;
}

void base_hash_cache_put(int fd, uint64_t size, const uint8_t hash[BASE_HASH_BYTES])
{
	char path[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX + 16];
	if (!settled(fd) || !entry_path(fd, size, path) || !cache_dir(dir))
		return;
	make_dirs(dir);
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		return;
	bool ok = write(out, hash, BASE_HASH_BYTES) == BASE_HASH_BYTES;
	close(out);
	/* rename: a reader sees the whole entry or none */
	if (!ok || rename(tmp, path))
		unlink(tmp);
}
