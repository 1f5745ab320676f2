/* The overlay disk reader: the input is an overlay file over a fixed base
 * image (fuzz_make_base).  Opening it parses the header and scans every
 * record (cutting a torn tail); then the harness reads the whole disk and
 * writes one block, as a guest would. */
#include "dev/disk_image.h"
#include "fuzz_common.h"

static char base[256], ov[256];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	snprintf(base, sizeof(base), "%s/base.img", fuzz_scratch_dir());
	snprintf(ov, sizeof(ov), "%s/overlay", fuzz_scratch_dir());
	fuzz_make_base(base);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_write_file(ov, data, size);
	struct disk_image *d;
	char err[8192];
	if (disk_image_open_overlay(&d, ov, base, err, sizeof(err)))
		return 0;
	static uint8_t buf[OVERLAY_BLOCK];
	uint64_t end = disk_image_size(d);
	for (uint64_t off = 0; off < end && off < (64u << 20); off += sizeof(buf)) {
		size_t n = end - off < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
		disk_image_read(d, off, buf, n);
	}
	if (end >= 1000) {
		memset(buf, 0xa5, sizeof(buf));
		disk_image_write(d, end / 2 - 300, buf, 600); /* straddles blocks */
		disk_image_read(d, end / 2 - 300, buf, 600);
	}
	disk_image_close(d);
	return 0;
}
