/* Whole-file helpers for unit tests that read, alter and rewrite files
 * (include after cmocka.h or harness.h). */
#ifndef KEEL_TESTS_UNIT_TEST_FILES_H
#define KEEL_TESTS_UNIT_TEST_FILES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The file's bytes in a malloc'ed buffer with one spare byte at the end. */
static inline uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	uint8_t *buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* `mode` "wb" replaces the file, "ab" appends to it. */
static inline void write_mode(const char *path, const char *mode, const void *buf, size_t len)
{
	FILE *f = fopen(path, mode);
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static inline void write_all(const char *path, const void *buf, size_t len)
{
	write_mode(path, "wb", buf, len);
}

#endif
