/* Encrypted ("sealed") snapshots (docs/snapshot-format.md, "Encrypted
 * snapshots").
 *
 * A sealed snapshot is an ordinary snapshot encrypted under a key derived
 * from a passphrase (Argon2id) with libsodium's secretstream
 * (XChaCha20-Poly1305).  The plaintext never touches the disk: it is built
 * in memory, encrypted to PATH.tmp and renamed into place.  Loading
 * authenticates every byte of the file before the machine is touched, so a
 * wrong passphrase, a flipped byte or a truncated file leaves the machine
 * exactly as it was. */
#ifndef KEEL_VM_SEALED_SNAPSHOT_H
#define KEEL_VM_SEALED_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;

#define SEALED_MAGIC "KEELSEAL"
#define SEALED_MAGIC_BYTES 8
#define SEALED_VERSION 1u
/* magic, u32 version, u64 opslimit, u64 memlimit, 16-byte salt */
#define SEALED_PREFIX_BYTES (8 + 4 + 8 + 8 + 16)
/* Plaintext bytes per secretstream message (the last may be shorter). */
#define SEALED_CHUNK_BYTES (64u * 1024u)
/* The longest passphrase the readers accept. */
#define SEALED_MAX_PASSPHRASE 1024

/* Save `m` encrypted under `pass` to `path` (via `path`.tmp and rename).
 * Returns 0, or -1 with a message in err (then `path` is untouched). */
int sealed_snapshot_save(struct machine *m, const char *path, const char *pass, size_t passlen,
			 char *err, size_t errlen);

/* The same with Argon2id costs of the caller's choosing (between
 * libsodium's minimum and what the loader accepts): the fuzz seeds use
 * the minimum so that each load takes microseconds, not a tenth of a
 * second. */
int sealed_snapshot_save_kdf(struct machine *m, const char *path, const char *pass,
			     size_t passlen, uint64_t ops, uint64_t mem, char *err, size_t errlen);

/* Decrypt and authenticate all of `path`, then restore it into `m` (a
 * machine fresh from machine_init, as for snapshot_load).  Returns 0, or
 * -1 with a message in err; a failure before the final snapshot_load_buffer
 * (wrong passphrase, altered or truncated file) leaves `m` untouched. */
int sealed_snapshot_load(struct machine *m, const char *path, const char *pass, size_t passlen,
			 char *err, size_t errlen);

/* Decrypt and authenticate all of `path` (at most `limit` bytes of
 * plaintext) into *plain, *len, without a machine: a restore must read the
 * snapshot's DISK section before it can build one.  Free the plaintext
 * with sealed_plaintext_free, which wipes it.  Returns 0, or -1 with a
 * message in err. */
int sealed_snapshot_decrypt(const char *path, const char *pass, size_t passlen, uint64_t limit,
			    uint8_t **plain, size_t *len, char *err, size_t errlen);
void sealed_plaintext_free(uint8_t *plain, size_t len);

/* Whether `path` starts with SEALED_MAGIC (false if it cannot be read). */
bool sealed_snapshot_is_sealed(const char *path);

/* Read a passphrase: from `fd` up to a newline or EOF when fd >= 0, else
 * from /dev/tty with echo off after printing `prompt` there.  The newline
 * is dropped; `buf` (cap bytes) gets a NUL-terminated passphrase and *len
 * its length.  An empty passphrase is an error.  Returns 0, or -1 with a
 * message in err. */
int sealed_read_passphrase(int fd, const char *prompt, char *buf, size_t cap, size_t *len,
			   char *err, size_t errlen);

#endif
