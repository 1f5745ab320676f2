/* Key files and the ratchet (log_keys.h, docs/log-format.md "Key files").
 *
 * Key files are short text so an auditor can read them:
 *     keel-log-seal-key 1
 *     epoch 0
 *     key 3f0a...(hex)
 * Secret bytes pass through stack buffers that are wiped before return. */
#include "svc/log/log_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RATCHET_DOMAIN "keel-log-ratchet-v1"
#define KEY_FILE_MAX 1024
#define MAX_KEY_BYTES 64

static const char KIND_SEAL[] = "keel-log-seal-key";
static const char KIND_VERIFY[] = "keel-log-verify-key";
static const char KIND_SIGN[] = "keel-log-sign-key";
static const char KIND_PUB[] = "keel-log-sign-pub";

void log_key_ratchet(uint8_t key[LOG_KEY_BYTES])
{
	uint8_t msg[sizeof(RATCHET_DOMAIN) - 1 + LOG_KEY_BYTES];
	memcpy(msg, RATCHET_DOMAIN, sizeof(RATCHET_DOMAIN) - 1);
	memcpy(msg + sizeof(RATCHET_DOMAIN) - 1, key, LOG_KEY_BYTES);
	crypto_generichash(key, LOG_KEY_BYTES, msg, sizeof(msg), NULL, 0);
	sodium_memzero(msg, sizeof(msg));
}

void log_key_at_epoch(const uint8_t key0[LOG_KEY_BYTES], uint64_t epoch,
		      uint8_t out[LOG_KEY_BYTES])
{
	memcpy(out, key0, LOG_KEY_BYTES);
	for (uint64_t i = 0; i < epoch; i++)
		log_key_ratchet(out);
}

/* The text of a key file (wiped by the caller). */
static int key_text(char *buf, size_t cap, const char *kind, const uint64_t *epoch,
		    const uint8_t *key, size_t len)
{
	char hex[2 * MAX_KEY_BYTES + 1];
	sodium_bin2hex(hex, sizeof(hex), key, len);
	int n = epoch ? snprintf(buf, cap, "%s 1\nepoch %llu\nkey %s\n", kind,
				 (unsigned long long)*epoch, hex)
		      : snprintf(buf, cap, "%s 1\nkey %s\n", kind, hex);
	sodium_memzero(hex, sizeof(hex));
	return n;
}

/* Write a key file at `path` (O_EXCL when `exclusive`), synced. */
static int key_file_write(const char *path, bool exclusive, mode_t mode, const char *kind,
			  const uint64_t *epoch, const uint8_t *key, size_t len, char *err,
			  size_t errlen)
{
	char text[KEY_FILE_MAX];
	int n = key_text(text, sizeof(text), kind, epoch, key, len);
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC);
	int fd = open(path, flags, mode);
	int rc = fd < 0 || log_write_all(fd, text, (size_t)n) || fsync(fd) ? -1 : 0;
	if (rc)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	if (fd >= 0 && close(fd) && !rc) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	sodium_memzero(text, sizeof(text));
	return rc;
}

static int sync_parent_dir(const char *path)
{
	char copy[4096];
	snprintf(copy, sizeof(copy), "%s", path);
	return log_sync_dir(dirname(copy));
}

/* Read a key file of `kind`; `epoch` NULL for kinds without one.  `key`
 * receives exactly `len` bytes. */
static int key_file_read(const char *path, const char *kind, uint64_t *epoch, uint8_t *key,
			 size_t len, char *err, size_t errlen)
{
	char text[KEY_FILE_MAX + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, text, KEY_FILE_MAX + 1);
	int saved = errno;
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(saved));
		return -1;
	}
	text[n > KEY_FILE_MAX ? KEY_FILE_MAX : n] = '\0';
	char head[64], hex[2 * MAX_KEY_BYTES + 2];
	unsigned long long e = 0;
	int fields = epoch ? sscanf(text, "%63s 1 epoch %llu key %129s", head, &e, hex)
			   : sscanf(text, "%63s 1 key %129s", head, hex);
	size_t hexlen = 0;
	int rc = -1;
	if (n > KEY_FILE_MAX)
		snprintf(err, errlen, "%s: too long for a key file", path);
	else if (fields < 1 || strcmp(head, kind))
		snprintf(err, errlen, "%s: not a %s file", path, kind);
	else if (fields != (epoch ? 3 : 2) ||
		 sodium_hex2bin(key, len, hex, strlen(hex), NULL, &hexlen, NULL) || hexlen != len ||
		 strlen(hex) != 2 * len)
		snprintf(err, errlen, "%s: corrupt %s file", path, kind);
	else
		rc = 0;
	if (rc == 0 && epoch)
		*epoch = e;
	sodium_memzero(text, sizeof(text));
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

int log_seal_key_load(const char *path, uint64_t *epoch, uint8_t key[LOG_KEY_BYTES], char *err,
		      size_t errlen)
{
	return key_file_read(path, KIND_SEAL, epoch, key, LOG_KEY_BYTES, err, errlen);
}

int log_seal_key_store(const char *path, uint64_t epoch, const uint8_t key[LOG_KEY_BYTES],
		       char *err, size_t errlen)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if (key_file_write(tmp, false, 0600, KIND_SEAL, &epoch, key, LOG_KEY_BYTES, err, errlen))
		return -1;
	if (rename(tmp, path) || sync_parent_dir(path)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int log_verify_key_create(const char *path, const uint8_t key0[LOG_KEY_BYTES], char *err,
			  size_t errlen)
{
	return key_file_write(path, true, 0600, KIND_VERIFY, NULL, key0, LOG_KEY_BYTES, err,
			      errlen);
}

int log_verify_key_load(const char *path, uint8_t key0[LOG_KEY_BYTES], char *err, size_t errlen)
{
	return key_file_read(path, KIND_VERIFY, NULL, key0, LOG_KEY_BYTES, err, errlen);
}

int log_sign_key_load(const char *path, uint8_t sk[LOG_SIGN_SECRET_BYTES], char *err,
		      size_t errlen)
{
	return key_file_read(path, KIND_SIGN, NULL, sk, LOG_SIGN_SECRET_BYTES, err, errlen);
}

int log_sign_pub_load(const char *path, uint8_t pk[LOG_SIGN_PUBLIC_BYTES], char *err,
		      size_t errlen)
{
	return key_file_read(path, KIND_PUB, NULL, pk, LOG_SIGN_PUBLIC_BYTES, err, errlen);
}

static int sign_pair_create(const char *sign_path, const char *pub_path, char *err,
			    size_t errlen)
{
	uint8_t pk[LOG_SIGN_PUBLIC_BYTES], sk[LOG_SIGN_SECRET_BYTES];
	crypto_sign_keypair(pk, sk);
	int rc = key_file_write(sign_path, true, 0600, KIND_SIGN, NULL, sk, sizeof(sk), err, errlen);
	if (rc == 0)
		rc = key_file_write(pub_path, true, 0644, KIND_PUB, NULL, pk, sizeof(pk), err,
				    errlen);
	if (rc)
		unlink(sign_path);
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

int log_keygen(const char *seal_path, const char *verify_path, const char *sign_path,
	       const char *pub_path, char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium could not be initialised");
		return -1;
	}
	if (!sign_path != !pub_path) {
		snprintf(err, errlen, "a signing key needs both its files (secret and public)");
		return -1;
	}
	uint8_t key0[LOG_KEY_BYTES];
	const uint64_t epoch0 = 0;
	randombytes_buf(key0, sizeof(key0));
	int rc = key_file_write(seal_path, true, 0600, KIND_SEAL, &epoch0, key0, sizeof(key0), err,
				errlen);
	if (rc == 0 && (rc = log_verify_key_create(verify_path, key0, err, errlen)) != 0)
		unlink(seal_path);
	if (rc == 0 && sign_path && (rc = sign_pair_create(sign_path, pub_path, err, errlen)) != 0) {
		unlink(seal_path);
		unlink(verify_path);
	}
	sodium_memzero(key0, sizeof(key0));
	return rc;
}
