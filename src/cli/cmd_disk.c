/* keel disk: make, inspect, check and flatten copy-on-write overlays
 * (docs/disk-overlay.md). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "dev/disk_image.h"
#include "dev/disk_overlay.h"

static void disk_usage(FILE *out)
{
	fputs("usage: keel disk <command> [options]\n"
	      "\n"
	      "Copy-on-write disk overlays (docs/disk-overlay.md): a read-only base image\n"
	      "and an append-only file of the blocks the guest wrote since.\n"
	      "\n"
	      "commands:\n"
	      "  create --base BASE OVERLAY  make an empty overlay over BASE\n"
	      "  info OVERLAY                show its header and what its records hold\n"
	      "  check OVERLAY               re-hash the base and verify every record\n"
	      "  convert OVERLAY RAW         write the disk it describes as a raw image\n"
	      "\n"
	      "Use one with 'keel run --disk OVERLAY' or '--disk BASE,overlay=OVERLAY'.\n"
	      "Each command takes -h/--help.\n",
	      out);
}

/* -h/--help anywhere in argv: print `help` and return true. */
static bool wants_help(int argc, char **argv, const char *help)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(help, stdout);
			return true;
		}
	}
	return false;
}

static int usage_error(const char *help)
{
	fputs(help, stderr);
	return 2;
}

/* --- create --------------------------------------------------------------- */

static const char create_help[] =
	"usage: keel disk create --base BASE OVERLAY\n"
	"\n"
	"Make OVERLAY, an empty overlay over the raw image BASE.  The overlay\n"
	"records BASE's path (as given and absolute), size and BLAKE2b-256, and\n"
	"is refused later over any other base.  OVERLAY must not exist.\n";

static int disk_create(int argc, char **argv)
{
	if (wants_help(argc, argv, create_help))
		return 0;
	if (argc != 4 || strcmp(argv[1], "--base"))
		return usage_error(create_help);
	char err[PATH_MAX + 256];
	if (disk_image_create(argv[3], argv[2], err, sizeof(err))) {
		fprintf(stderr, "keel disk: %s\n", err);
		return 1;
	}
	printf("%s: overlay over %s\n", argv[3], argv[2]);
	return 0;
}

/* --- info and check: the file as it is -------------------------------------- */

struct survey {
	struct overlay_header h;
	uint64_t file_len, valid_end, records, distinct;
	uint8_t *seen; /* a bit per block */
};

static void count_record(void *opaque, uint64_t block, uint64_t offset)
{
	struct survey *s = opaque;
	(void)offset;
	s->records++;
	if (!(s->seen[block / 8] & (1u << (block % 8)))) {
		s->seen[block / 8] |= (uint8_t)(1u << (block % 8));
		s->distinct++;
	}
}

/* Read the header and walk the records without the base. */
static int survey(const char *path, struct survey *s)
{
	char err[256];
	memset(s, 0, sizeof(*s));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t hdr[OVERLAY_HEADER_BYTES];
	int rc = -1;
	if (fd < 0 || fstat(fd, &st) != 0)
		snprintf(err, sizeof(err), "%s", strerror(errno));
	else if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		snprintf(err, sizeof(err), "not a keel disk overlay (shorter than its header)");
	else if (overlay_header_decode(hdr, &s->h, err, sizeof(err)) == 0)
		rc = 0;
	uint64_t nblocks = (s->h.virtual_size + OVERLAY_BLOCK - 1) / OVERLAY_BLOCK;
	if (rc == 0 && !(s->seen = calloc(nblocks / 8 + 1, 1))) {
		snprintf(err, sizeof(err), "out of memory");
		rc = -1;
	}
	if (rc == 0) {
		s->file_len = (uint64_t)st.st_size;
		rc = overlay_scan(fd, s->file_len, nblocks, count_record, s, &s->valid_end, err,
				  sizeof(err));
	}
	if (fd >= 0)
		close(fd);
	free(s->seen);
	s->seen = NULL;
	if (rc)
		fprintf(stderr, "keel disk: %s: %s\n", path, err);
	return rc;
}

static void print_survey(const char *path, const struct survey *s)
{
	char hex[2 * OVERLAY_HASH_BYTES + 1];
	overlay_hash_hex(s->h.base_hash, hex);
	printf("overlay:       %s\n", path);
	printf("version:       %u, %u-byte blocks\n", OVERLAY_VERSION, OVERLAY_BLOCK);
	printf("virtual size:  %" PRIu64 " bytes (%.1f MiB)\n", s->h.virtual_size,
	       (double)s->h.virtual_size / (1 << 20));
	printf("base:          %s\n", s->h.base_given);
	printf("base absolute: %s\n", s->h.base_abs);
	printf("base size:     %" PRIu64 " bytes\n", s->h.base_size);
	printf("base BLAKE2b:  %s\n", hex);
	printf("length:        %" PRIu64 " bytes\n", s->file_len);
	printf("records:       %" PRIu64 " (%" PRIu64 " distinct blocks, %" PRIu64
	       " superseded copies a compaction would drop)\n",
	       s->records, s->distinct, s->records - s->distinct);
	if (s->valid_end < s->file_len)
		printf("torn tail:     %" PRIu64 " bytes at offset %" PRIu64
		       " (dropped at the next read-write open)\n",
		       s->file_len - s->valid_end, s->valid_end);
	else
		printf("torn tail:     none\n");
}

static const char info_help[] =
	"usage: keel disk info OVERLAY\n"
	"\n"
	"Show OVERLAY's header (size, base path, size and hash) and a summary of\n"
	"its records.  Reads only the overlay; the base need not be present.\n";

/* What info and check both do first: help, usage, survey, print.  Returns
 * true when the command is over, with its exit status in *status. */
static bool survey_command(int argc, char **argv, const char *help, struct survey *s,
			   int *status)
{
	*status = 0;
	if (wants_help(argc, argv, help))
		return true;
	if (argc != 2) {
		*status = usage_error(help);
		return true;
	}
	if (survey(argv[1], s)) {
		*status = 1;
		return true;
	}
	print_survey(argv[1], s);
	return false;
}

static int disk_info(int argc, char **argv)
{
	struct survey s;
	int status;
	survey_command(argc, argv, info_help, &s, &status);
	return status;
}

static const char check_help[] =
	"usage: keel disk check OVERLAY\n"
	"\n"
	"Verify OVERLAY: its header checksum, every record's checksum, and that\n"
	"its base is still the image it was made over (re-hashing all of it).\n"
	"Exit status 0 if all is well, 1 if anything is wrong (a torn tail from\n"
	"a crash included).\n";

static int disk_check(int argc, char **argv)
{
	struct survey s;
	int status;
	if (survey_command(argc, argv, check_help, &s, &status))
		return status;
	char err[PATH_MAX + 256];
	struct disk_image *d;
	status = s.valid_end < s.file_len ? 1 : 0;
	if (disk_image_open_overlay_readonly(&d, argv[1], err, sizeof(err))) {
		printf("base check:    BAD: %s\n", err);
		return 1;
	}
	disk_image_close(d);
	printf("base check:    matches\n%s\n", status ? "check: FAILED (torn tail)" : "check: ok");
	return status;
}

/* --- convert ------------------------------------------------------------------ */

static const char convert_help[] =
	"usage: keel disk convert OVERLAY RAW\n"
	"\n"
	"Write the disk OVERLAY describes (its base with every block it holds\n"
	"applied) to the new raw image RAW, which must not exist.  The overlay\n"
	"and its base are only read.  Progress goes to stderr.\n";

static int copy_out(struct disk_image *d, int out, const char *tmp)
{
	enum { CHUNK = 1 << 20 };
	uint8_t *buf = malloc(CHUNK);
	uint64_t size = disk_image_size(d), done = 0;
	int last_tenth = -1;
	while (buf && done < size) {
		size_t n = size - done < CHUNK ? (size_t)(size - done) : CHUNK;
		if (disk_image_read(d, done, buf, n) || write(out, buf, n) != (ssize_t)n) {
			fprintf(stderr, "keel disk: %s: %s\n", tmp, strerror(errno));
			free(buf);
			return -1;
		}
		done += n;
		int tenth = (int)(done * 10 / size);
		if (tenth != last_tenth) {
			fprintf(stderr, "keel disk: convert: %3d%% (%" PRIu64 " of %" PRIu64 " MiB)\n",
				tenth * 10, done >> 20, size >> 20);
			last_tenth = tenth;
		}
	}
	free(buf);
	return buf ? 0 : -1;
}

static int disk_convert(int argc, char **argv)
{
	if (wants_help(argc, argv, convert_help))
		return 0;
	if (argc != 3)
		return usage_error(convert_help);
	const char *raw = argv[2];
	char err[PATH_MAX + 256], tmp[PATH_MAX + 8];
	if (access(raw, F_OK) == 0) {
		fprintf(stderr, "keel disk: %s: already exists (remove it first)\n", raw);
		return 1;
	}
	struct disk_image *d;
	if (disk_image_open_overlay_readonly(&d, argv[1], err, sizeof(err))) {
		fprintf(stderr, "keel disk: %s\n", err);
		return 1;
	}
	if (disk_image_note(d)[0])
		fprintf(stderr, "keel disk: %s\n", disk_image_note(d));
	snprintf(tmp, sizeof(tmp), "%s.tmp", raw);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = out < 0 ? -1 : copy_out(d, out, tmp);
	if (out < 0)
		fprintf(stderr, "keel disk: %s: %s\n", tmp, strerror(errno));
	if (rc == 0 && (fsync(out) || rename(tmp, raw))) {
		fprintf(stderr, "keel disk: %s: %s\n", raw, strerror(errno));
		rc = -1;
	}
	if (out >= 0)
		close(out);
	if (rc)
		unlink(tmp);
	disk_image_close(d);
	return rc ? 1 : 0;
}

int cmd_disk(int argc, char **argv)
{
	if (argc < 2) {
		disk_usage(stderr);
		return 2;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		disk_usage(stdout);
		return 0;
	}
	if (!strcmp(sub, "create"))
		return disk_create(argc - 1, argv + 1);
	if (!strcmp(sub, "info"))
		return disk_info(argc - 1, argv + 1);
	if (!strcmp(sub, "check"))
		return disk_check(argc - 1, argv + 1);
	if (!strcmp(sub, "convert"))
		return disk_convert(argc - 1, argv + 1);
	fprintf(stderr, "keel disk: unknown command '%s' (try 'keel disk --help')\n", sub);
	return 2;
}
