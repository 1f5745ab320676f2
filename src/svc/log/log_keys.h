/* Keys of the secure log (docs/log-format.md "Keys"): the forward-secure
 * seal key the recorder holds and ratchets, the verification key the
 * auditor keeps offline (key_0), and an optional Ed25519 key pair.
 *
 * key_{i+1} = BLAKE2b-256("keel-log-ratchet-v1" || key_i); seal i is a
 * BLAKE2b MAC keyed with key_i.  Whoever holds key_j can compute every
 * later key but no earlier one. */
#ifndef KEEL_SVC_LOG_LOG_KEYS_H
#define KEEL_SVC_LOG_LOG_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "svc/log/log_format.h"

/* Replace `key` (key_i) by key_{i+1}, leaving no copy of key_i behind. */
void log_key_ratchet(uint8_t key[LOG_KEY_BYTES]);
/* key_epoch, derived from key_0. */
void log_key_at_epoch(const uint8_t key0[LOG_KEY_BYTES], uint64_t epoch,
		      uint8_t out[LOG_KEY_BYTES]);

/* `keel log keygen`: a random key_0 into a new seal-key file (mode 0600,
 * epoch 0) and a new verify-key file; an Ed25519 pair too when both sign
 * paths are given.  Existing files are never overwritten. */
int log_keygen(const char *seal_path, const char *verify_path, const char *sign_path,
	       const char *pub_path, char *err, size_t errlen);

int log_seal_key_load(const char *path, uint64_t *epoch, uint8_t key[LOG_KEY_BYTES], char *err,
		      size_t errlen);
/* Atomically replace the seal-key file by one holding (epoch, key): temp
 * file, fsync, rename, fsync of the directory. */
int log_seal_key_store(const char *path, uint64_t epoch, const uint8_t key[LOG_KEY_BYTES],
		       char *err, size_t errlen);

/* A new verify-key file holding key_0 (refuses to overwrite). */
int log_verify_key_create(const char *path, const uint8_t key0[LOG_KEY_BYTES], char *err,
			  size_t errlen);
int log_verify_key_load(const char *path, uint8_t key0[LOG_KEY_BYTES], char *err, size_t errlen);

int log_sign_key_load(const char *path, uint8_t sk[LOG_SIGN_SECRET_BYTES], char *err,
		      size_t errlen);
int log_sign_pub_load(const char *path, uint8_t pk[LOG_SIGN_PUBLIC_BYTES], char *err,
		      size_t errlen);

#endif
