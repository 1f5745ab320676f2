/* See sealed_snapshot.h and docs/snapshot-format.md "Encrypted snapshots".
 *
 * Plaintext snapshot bytes only ever live in `struct wiped_buf` memory,
 * which is zeroed before it is freed or moved, and in a stdio buffer that
 * we supply (and zero) ourselves. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fopencookie */
#endif
#include "vm/sealed_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "vm/machine.h"
#include "vm/snapshot.h"

#define KEY_BYTES crypto_secretstream_xchacha20poly1305_KEYBYTES
#define HEADER_BYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define TAG_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL
#define SALT_BYTES 16
#define SALT_OFFSET (SEALED_PREFIX_BYTES - SALT_BYTES)
/* A file may ask for more Argon2id work than we write, but not so much
 * that opening a hostile file becomes a denial of service. */
#define MAX_OPSLIMIT crypto_pwhash_OPSLIMIT_SENSITIVE
#define MAX_MEMLIMIT crypto_pwhash_MEMLIMIT_MODERATE

_Static_assert(SALT_BYTES == crypto_pwhash_SALTBYTES, "Argon2id salt size");

/* A growable byte buffer that never leaves its old contents behind. */
struct wiped_buf {
	uint8_t *p;
	size_t len, cap;
};

static int wiped_buf_append(struct wiped_buf *b, const void *data, size_t n)
{
	if (n > SIZE_MAX / 2 - b->len)
		return -1;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : SEALED_CHUNK_BYTES;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = malloc(cap);
		if (!p)
			return -1;
		if (b->len)
			memcpy(p, b->p, b->len);
		if (b->p)
			sodium_memzero(b->p, b->cap);
		free(b->p);
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

static void wiped_buf_free(struct wiped_buf *b)
{
	if (b->p)
		sodium_memzero(b->p, b->cap);
	free(b->p);
	*b = (struct wiped_buf){0};
}

static ssize_t cookie_write(void *cookie, const char *data, size_t n)
{
	if (wiped_buf_append(cookie, data, n)) {
		errno = ENOMEM;
		return -1;
	}
	return (ssize_t)n;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int derive_key(uint8_t key[KEY_BYTES], const char *pass, size_t passlen,
		      const uint8_t *salt, uint64_t ops, uint64_t mem, char *err, size_t errlen)
{
	if (crypto_pwhash(key, KEY_BYTES, pass, passlen, salt, ops, (size_t)mem,
			  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		snprintf(err, errlen, "deriving the key from the passphrase failed (out of memory?)");
		return -1;
	}
	return 0;
}

/* The whole plaintext snapshot of `m`, in wiped memory. */
static int snapshot_to_memory(struct machine *m, struct wiped_buf *plain, char *err,
			      size_t errlen)
{
	static const cookie_io_functions_t io = {.write = cookie_write};
	char *iobuf = malloc(BUFSIZ);
	FILE *f = iobuf ? fopencookie(plain, "w", io) : NULL;
	if (!f) {
		free(iobuf);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	setvbuf(f, iobuf, _IOFBF, BUFSIZ);
	int rc = snapshot_save(m, f, err, errlen);
	if (fclose(f) != 0 && rc == 0) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	sodium_memzero(iobuf, BUFSIZ);
	free(iobuf);
	return rc;
}

/* Encrypt `plain` to `out`: the prefix, the stream header, the chunks. */
static int encrypt_to(FILE *out, const struct wiped_buf *plain, const char *pass,
		      size_t passlen, uint64_t ops, uint64_t mem, char *err, size_t errlen)
{
	uint8_t prefix[SEALED_PREFIX_BYTES], header[HEADER_BYTES], key[KEY_BYTES];
	memcpy(prefix, SEALED_MAGIC, SEALED_MAGIC_BYTES);
	put_le(prefix + 8, SEALED_VERSION, 4);
	put_le(prefix + 12, ops, 8);
	put_le(prefix + 20, mem, 8);
	randombytes_buf(prefix + SALT_OFFSET, SALT_BYTES);
	if (derive_key(key, pass, passlen, prefix + SALT_OFFSET, ops, mem, err, errlen))
		return -1;
	crypto_secretstream_xchacha20poly1305_state st;
	crypto_secretstream_xchacha20poly1305_init_push(&st, header, key);
	sodium_memzero(key, sizeof(key));
	uint8_t *cipher = malloc(SEALED_CHUNK_BYTES + ABYTES);
	int rc = cipher ? 0 : -1, saved_errno = cipher ? 0 : ENOMEM;
	if (rc == 0 && (fwrite(prefix, sizeof(prefix), 1, out) != 1 ||
			fwrite(header, sizeof(header), 1, out) != 1))
		rc = -1;
	/* At least one message, so even an empty plaintext ends in FINAL. */
	for (size_t off = 0; rc == 0 && (off < plain->len || off == 0);) {
		size_t n = plain->len - off < SEALED_CHUNK_BYTES ? plain->len - off
								  : SEALED_CHUNK_BYTES;
		bool last = off + n == plain->len;
		unsigned long long clen;
		/* The prefix rides as additional data of the first message, so
		 * changing the KDF parameters or the version is detected too. */
		crypto_secretstream_xchacha20poly1305_push(&st, cipher, &clen, plain->p + off, n,
							   off == 0 ? prefix : NULL,
							   off == 0 ? sizeof(prefix) : 0,
							   last ? TAG_FINAL : 0);
		if (fwrite(cipher, (size_t)clen, 1, out) != 1)
			rc = -1;
		off += n;
		if (last)
			break;
	}
	if (rc && !saved_errno)
		saved_errno = errno;
	sodium_memzero(&st, sizeof(st));
	free(cipher);
	if (rc)
		snprintf(err, errlen, "%s", strerror(saved_errno));
	return rc;
}

static int write_sealed_file(const char *path, const struct wiped_buf *plain,
			     const char *pass, size_t passlen, uint64_t ops, uint64_t mem,
			     char *err, size_t errlen)
{
	char tmp[4096], why[256] = "";
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
	if (!out) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int rc = encrypt_to(out, plain, pass, passlen, ops, mem, why, sizeof(why));
	if (rc == 0 && (fflush(out) != 0 || fsync(fileno(out)) != 0)) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		rc = -1;
	}
	if (fclose(out) != 0 && rc == 0) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		rc = -1;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rc) {
		snprintf(err, errlen, "%s: %s", tmp, why);
		unlink(tmp);
	}
	return rc;
}

int sealed_snapshot_save(struct machine *m, const char *path, const char *pass, size_t passlen,
			 char *err, size_t errlen)
{
	return sealed_snapshot_save_kdf(m, path, pass, passlen, crypto_pwhash_OPSLIMIT_INTERACTIVE,
					crypto_pwhash_MEMLIMIT_INTERACTIVE, err, errlen);
}

int sealed_snapshot_save_kdf(struct machine *m, const char *path, const char *pass,
			     size_t passlen, uint64_t ops, uint64_t mem, char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium could not be initialised");
		return -1;
	}
	if (passlen == 0) {
		snprintf(err, errlen, "the passphrase is empty");
		return -1;
	}
	struct wiped_buf plain = {0};
	int rc = snapshot_to_memory(m, &plain, err, errlen);
	if (rc == 0)
		rc = write_sealed_file(path, &plain, pass, passlen, ops, mem, err, errlen);
	wiped_buf_free(&plain);
	return rc;
}

/* Check the prefix read from a file; its KDF parameters go to ops/mem. */
static int check_prefix(const uint8_t *prefix, uint64_t *ops, uint64_t *mem, char *err,
			size_t errlen)
{
	if (memcmp(prefix, SEALED_MAGIC, SEALED_MAGIC_BYTES) != 0) {
		snprintf(err, errlen, "not an encrypted keel snapshot (no KEELSEAL magic)");
		return -1;
	}
	uint32_t version = (uint32_t)get_le(prefix + 8, 4);
	if (version != SEALED_VERSION) {
		snprintf(err, errlen, "encrypted snapshot version %u, this keel reads only %u",
			 version, SEALED_VERSION);
		return -1;
	}
	*ops = get_le(prefix + 12, 8);
	*mem = get_le(prefix + 20, 8);
	if (*ops < crypto_pwhash_OPSLIMIT_MIN || *ops > MAX_OPSLIMIT ||
	    *mem < crypto_pwhash_MEMLIMIT_MIN || *mem > MAX_MEMLIMIT) {
		snprintf(err, errlen, "corrupt encrypted snapshot: implausible key derivation "
				      "parameters");
		return -1;
	}
	return 0;
}

/* Decrypt and authenticate the chunks after the stream header into
 * `plain`.  Nothing here touches the machine. */
static int decrypt_chunks(FILE *in, crypto_secretstream_xchacha20poly1305_state *st,
			  const uint8_t *prefix, uint64_t limit, struct wiped_buf *plain,
			  char *err, size_t errlen)
{
	uint8_t *cipher = malloc(SEALED_CHUNK_BYTES + ABYTES);
	uint8_t *clear = malloc(SEALED_CHUNK_BYTES);
	int rc = -1;
	if (!cipher || !clear) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (bool first = true;; first = false) {
		size_t n = fread(cipher, 1, SEALED_CHUNK_BYTES + ABYTES, in);
		if (ferror(in)) {
			snprintf(err, errlen, "read error: %s", strerror(errno));
			goto out;
		}
		if (n < ABYTES) {
			snprintf(err, errlen, "encrypted snapshot is truncated (no final chunk)");
			goto out;
		}
		unsigned long long mlen;
		unsigned char tag;
		if (crypto_secretstream_xchacha20poly1305_pull(st, clear, &mlen, &tag, cipher, n,
							       first ? prefix : NULL,
							       first ? SEALED_PREFIX_BYTES : 0)) {
			snprintf(err, errlen, first ? "wrong passphrase, or the encrypted snapshot "
						      "is corrupt"
						    : "encrypted snapshot is corrupt (a chunk failed "
						      "authentication)");
			goto out;
		}
		bool final = tag == TAG_FINAL;
		if (plain->len + mlen > limit || wiped_buf_append(plain, clear, (size_t)mlen)) {
			snprintf(err, errlen, "encrypted snapshot is larger than this machine's "
					      "snapshots can be");
			goto out;
		}
		if (final) {
			if (fgetc(in) != EOF) {
				snprintf(err, errlen, "encrypted snapshot has data after its final chunk");
				goto out;
			}
			rc = 0;
			goto out;
		}
		if (n != SEALED_CHUNK_BYTES + ABYTES) {
			snprintf(err, errlen, "encrypted snapshot is truncated (no final chunk)");
			goto out;
		}
	}
out:
	if (clear)
		sodium_memzero(clear, SEALED_CHUNK_BYTES);
	free(clear);
	free(cipher);
	return rc;
}

/* All of `in` after its prefix, decrypted and authenticated, into plain. */
static int decrypt_file(FILE *in, const char *pass, size_t passlen, uint64_t limit,
			struct wiped_buf *plain, char *err, size_t errlen)
{
	uint8_t prefix[SEALED_PREFIX_BYTES], header[HEADER_BYTES], key[KEY_BYTES];
	uint64_t ops, mem;
	if (fread(prefix, sizeof(prefix), 1, in) != 1) {
		snprintf(err, errlen, "%s", ferror(in) ? strerror(errno)
						       : "encrypted snapshot is truncated (header)");
		return -1;
	}
	if (check_prefix(prefix, &ops, &mem, err, errlen))
		return -1;
	if (fread(header, sizeof(header), 1, in) != 1) {
		snprintf(err, errlen, "encrypted snapshot is truncated (header)");
		return -1;
	}
	if (derive_key(key, pass, passlen, prefix + SALT_OFFSET, ops, mem, err, errlen))
		return -1;
	crypto_secretstream_xchacha20poly1305_state st;
	int rc = crypto_secretstream_xchacha20poly1305_init_pull(&st, header, key);
	sodium_memzero(key, sizeof(key));
	if (rc)
		snprintf(err, errlen, "encrypted snapshot has a corrupt stream header");
	else
		rc = decrypt_chunks(in, &st, prefix, limit, plain, err, errlen);
	sodium_memzero(&st, sizeof(st));
	return rc;
}

int sealed_snapshot_decrypt(const char *path, const char *pass, size_t passlen, uint64_t limit,
			    uint8_t **plain, size_t *len, char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium could not be initialised");
		return -1;
	}
	FILE *in = fopen(path, "rb");
	if (!in) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	struct wiped_buf b = {0};
	int rc = decrypt_file(in, pass, passlen, limit, &b, err, errlen);
	fclose(in);
	if (rc) {
		wiped_buf_free(&b);
		return -1;
	}
	/* Bytes past b.len never held plaintext (every buffer is wiped
	 * before it is freed), so wiping len bytes later is enough. */
	*plain = b.p;
	*len = b.len;
	return 0;
}

void sealed_plaintext_free(uint8_t *plain, size_t len)
{
	if (plain)
		sodium_memzero(plain, len);
	free(plain);
}

int sealed_snapshot_load(struct machine *m, const char *path, const char *pass, size_t passlen,
			 char *err, size_t errlen)
{
	uint8_t *plain = NULL;
	size_t len = 0;
	int rc = sealed_snapshot_decrypt(path, pass, passlen, m->ram_size + SNAPSHOT_MAX_OVERHEAD,
					 &plain, &len, err, errlen);
	/* Only now, with every byte authenticated, is the machine touched. */
	if (rc == 0)
		rc = snapshot_load_buffer(m, plain, len, err, errlen);
	sealed_plaintext_free(plain, len);
	return rc;
}

bool sealed_snapshot_is_sealed(const char *path)
{
	char magic[SEALED_MAGIC_BYTES];
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	bool sealed = fread(magic, sizeof(magic), 1, f) == 1 &&
		      memcmp(magic, SEALED_MAGIC, SEALED_MAGIC_BYTES) == 0;
	fclose(f);
	return sealed;
}

/* One line from fd into buf (newline and a trailing CR dropped). */
static int read_line_fd(int fd, char *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "reading the passphrase: %s", strerror(errno));
			return -1;
		}
		if (r == 0 || c == '\n')
			break;
		if (n + 1 >= cap) {
			snprintf(err, errlen, "the passphrase is longer than %zu bytes", cap - 1);
			return -1;
		}
		buf[n++] = c;
	}
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return 0;
}

static int read_from_tty(const char *prompt, char *buf, size_t cap, size_t *len, char *err,
			 size_t errlen)
{
	int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty < 0) {
		snprintf(err, errlen, "no terminal to ask for the passphrase (/dev/tty: %s); "
				      "use --passphrase-fd", strerror(errno));
		return -1;
	}
	struct termios saved, quiet;
	bool restore = tcgetattr(tty, &saved) == 0;
	if (restore) {
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		quiet.c_lflag |= ICANON;
		tcsetattr(tty, TCSAFLUSH, &quiet);
	}
	ssize_t ignored = write(tty, prompt, strlen(prompt));
	int rc = read_line_fd(tty, buf, cap, len, err, errlen);
	if (restore)
		tcsetattr(tty, TCSAFLUSH, &saved);
	ignored = write(tty, "\n", 1);
	(void)ignored;
	close(tty);
	return rc;
}

int sealed_read_passphrase(int fd, const char *prompt, char *buf, size_t cap, size_t *len,
			   char *err, size_t errlen)
{
	int rc = fd >= 0 ? read_line_fd(fd, buf, cap, len, err, errlen)
			 : read_from_tty(prompt, buf, cap, len, err, errlen);
	if (rc == 0 && *len == 0) {
		snprintf(err, errlen, "the passphrase is empty");
		rc = -1;
	}
	if (rc)
		sodium_memzero(buf, cap);
	return rc;
}
