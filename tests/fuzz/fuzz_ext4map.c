/* The intrusion detector's disk-block-to-path map (svc/ids/ext4map.h):
 * the input is the guest's disk, an ext4 image as hostile as it likes.
 * The map is built over it and every block looked up.  The seed is a
 * 128 KiB image mke2fs made from a small tree with protected files, a
 * hard link and a nested directory (docs/fuzzing.md). */
#include <string.h>

#include "fuzz_common.h"
#include "svc/ids/ext4map.h"

struct disk {
	const uint8_t *data;
	size_t size;
};

static int read_disk(void *opaque, uint64_t off, void *buf, size_t len)
{
	const struct disk *d = opaque;
	if (off > d->size || len > d->size - off)
		return -1;
	memcpy(buf, d->data + off, len);
	return 0;
}

static bool count(void *opaque, enum ext4map_kind kind, const char *path, uint32_t ino,
		  uint64_t block)
{
	(*(unsigned *)opaque)++;
	return path == NULL || path[0] == '/';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const globs[] = {"/etc/passwd", "/etc/shadow", "/bin/*", "/usr/lib/*"};
	struct disk d = {data, size};
	struct ext4map_limits lim = EXT4MAP_DEFAULT_LIMITS;
	lim.max_reads = 4096; /* bounded time per input */
	char err[256];
	struct ext4map *x = ext4map_build(read_disk, &d, size, globs, 4, &lim, err, sizeof(err));
	if (!x)
		return 0;
	unsigned n = 0;
	ext4map_hits(x, 0, size, count, &n);
	for (uint64_t b = 0; b < 256; b++)
		ext4map_path_of(x, b);
	ext4map_free(x);
	return 0;
}
