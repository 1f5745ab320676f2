/* What the file-format fuzz targets and the seed generator share: the
 * machine a snapshot is loaded into, scratch files, fixed keys.  Header
 * only; each target is one translation unit. */
#ifndef KEEL_TESTS_FUZZ_COMMON_H
#define KEEL_TESTS_FUZZ_COMMON_H

#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm/machine.h"

#define FUZZ_RAM_SIZE (1u << 20)
#define FUZZ_PASSPHRASE "fuzz"
#define FUZZ_BASE_BYTES (64u * 1024u)

/* The board every snapshot seed is saved from and loaded into: small RAM
 * keeps a load fast. */
static inline struct machine_config fuzz_machine_config(void)
{
	return (struct machine_config){
		.board = BOARD_VIRT,
		.ram_size = FUZZ_RAM_SIZE,
		.entropy_seeded = true,
		.entropy_seed = 1,
		.rtc_epoch_ns = 1,
		.idle_skip = true,
		.net = "none",
	};
}

static inline void fuzz_die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz: %s: %s\n", what, why);
	exit(1);
}

static char fuzz_scratch[64]; /* fuzz_scratch_dir's, once made */

static inline int fuzz_remove_one(const char *path, const struct stat *st, int flag,
				  struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static inline void fuzz_remove_scratch(void)
{
	nftw(fuzz_scratch, fuzz_remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* A private scratch directory, made once per process and removed when it
 * exits.  In memory (/dev/shm) where there is one: the targets rewrite a
 * file per input, and on ext4 truncating and rewriting a file makes its
 * close wait for writeback, which was most of an input's time. */
static inline const char *fuzz_scratch_dir(void)
{
	if (!fuzz_scratch[0]) {
		bool shm = access("/dev/shm", W_OK) == 0;
		snprintf(fuzz_scratch, sizeof(fuzz_scratch), "%s/keel-fuzz-XXXXXX",
			 shm ? "/dev/shm" : "/tmp");
		if (!mkdtemp(fuzz_scratch))
			fuzz_die("mkdtemp", "cannot make a scratch directory");
		atexit(fuzz_remove_scratch);
	}
	return fuzz_scratch;
}

static inline void fuzz_write_file(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f || (size && fwrite(data, size, 1, f) != 1) || fclose(f) != 0)
		fuzz_die(path, "cannot write");
}

/* The base image under every overlay seed: the same bytes each time, so
 * its BLAKE2b matches the one the seeds' headers carry. */
static inline void fuzz_make_base(const char *path)
{
	static uint8_t buf[FUZZ_BASE_BYTES];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + (i >> 12));
	fuzz_write_file(path, buf, sizeof(buf));
}

/* The secure log's key at epoch 0, fixed so seeds verify with seals. */
static inline void fuzz_log_key0(uint8_t *key, size_t len)
{
	for (size_t i = 0; i < len; i++)
		key[i] = (uint8_t)(0x5a ^ i);
}

/* The migration key both ends of fuzz_migrate's channel hold. */
static inline void fuzz_mig_key(uint8_t *key, size_t len)
{
	for (size_t i = 0; i < len; i++)
		key[i] = (uint8_t)(0x33 ^ (i * 5));
}

/* fuzz_migrate's input after its first byte: messages, each a type byte,
 * a flags byte (FUZZ_MIG_FINAL: the chunk carries the FINAL tag) and a
 * 24-bit little-endian body length, then the body. */
#define FUZZ_MIG_HEADER 5
#define FUZZ_MIG_FINAL 1u
/* The first byte: the destination lacks the overlay's base (NEED_BASE). */
#define FUZZ_MIG_NO_BASE 1u

#endif
