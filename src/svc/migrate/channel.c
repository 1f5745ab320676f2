/* See channel.h and docs/migrate.md. */
#include "svc/migrate/channel.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define HELLO_BYTES (MIG_MAGIC_BYTES + 4 + MIG_NONCE_BYTES)
#define KDF_LABEL "keel-migrate session keys v1"
#define MSG_AUTH 0 /* the first message each way: proves the key */
#define SS_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES

static int fail(struct mig_channel *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct mig_channel *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- key files ---- */

int mig_key_load(const char *path, uint8_t key[MIG_KEY_BYTES], char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char text[2 * MIG_KEY_BYTES + 3];
	ssize_t n = -1;
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: readable by others (mode %03o); chmod 600 it", path,
			 (unsigned)(st.st_mode & 0777));
		goto out;
	}
	n = read(fd, text, sizeof(text) - 1);
	size_t len = n > 0 ? (size_t)n : 0;
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	size_t got = 0;
	if (len != 2 * MIG_KEY_BYTES ||
	    sodium_hex2bin(key, MIG_KEY_BYTES, text, len, NULL, &got, NULL) || got != MIG_KEY_BYTES) {
		snprintf(err, errlen, "%s: not a migration key (64 hex digits; make one with "
				      "'keel migrate keygen FILE')", path);
		n = -1;
	}
	sodium_memzero(text, sizeof(text));
out:
	if (fd >= 0)
		close(fd);
	return n > 0 ? 0 : -1;
}

int mig_key_generate(const char *path, char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		return -1;
	}
	uint8_t key[MIG_KEY_BYTES];
	char text[2 * MIG_KEY_BYTES + 2];
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(text, sizeof(text), key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	strcat(text, "\n");
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t len = strlen(text);
	int rc = fd >= 0 && write(fd, text, len) == (ssize_t)len ? 0 : -1;
	if (rc)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	if (fd >= 0 && close(fd) != 0 && rc == 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc && fd >= 0)
		unlink(path);
	sodium_memzero(text, sizeof(text));
	return rc;
}

/* ---- the socket ---- */

void chan_set_timeout(int fd, unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int write_all(struct mig_channel *c, const void *p, size_t len)
{
	const uint8_t *b = p;
	while (len) {
		ssize_t n = send(c->fd, b, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail(c, "the link to the peer failed: %s",
				    n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
					    ? "timed out (the peer stopped reading)"
					    : strerror(errno));
		b += n;
		len -= (size_t)n;
		c->bytes_out += (uint64_t)n;
	}
	return 0;
}

/* Read exactly len bytes.  A clean EOF is reported as a cut stream. */
static int read_all(struct mig_channel *c, void *p, size_t len)
{
	uint8_t *b = p;
	while (len) {
		ssize_t n = recv(c->fd, b, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return fail(c, "the stream was cut short: the connection closed after %llu "
				       "bytes, before the end marker",
				    (unsigned long long)c->bytes_in);
		if (n < 0)
			return fail(c, "the link to the peer failed: %s",
				    errno == EAGAIN || errno == EWOULDBLOCK
					    ? "timed out (the peer went silent)"
					    : strerror(errno));
		b += n;
		len -= (size_t)n;
		c->bytes_in += (uint64_t)n;
	}
	return 0;
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	uint8_t *p = realloc(*buf, need);
	if (!p)
		return -1;
	*buf = p;
	*cap = need;
	return 0;
}

/* ---- messages ---- */

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int chan_send(struct mig_channel *c, uint8_t type, const void *body, size_t len, bool final)
{
	if (len >= MIG_MAX_CHUNK)
		return fail(c, "a %zu-byte message is too long for one chunk", len);
	size_t plain = 1 + len, wire = 4 + plain + SS_ABYTES;
	if (grow(&c->buf, &c->cap, wire) || grow(&c->msg, &c->msg_cap, plain))
		return fail(c, "out of memory");
	c->msg[0] = type;
	if (len)
		memcpy(c->msg + 1, body, len);
	/* The length prefix is the chunk's additional data: editing it fails
	 * the chunk's check like editing the ciphertext does. */
	put_le32(c->buf, (uint32_t)(plain + SS_ABYTES));
	crypto_secretstream_xchacha20poly1305_push(
		&c->tx, c->buf + 4, NULL, c->msg, plain, c->buf, 4,
		final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
	c->chunks_out++;
	return write_all(c, c->buf, wire);
}

int chan_recv(struct mig_channel *c, uint8_t *type, const uint8_t **body, size_t *len)
{
	uint8_t head[4];
	if (c->rx_final)
		return fail(c, "the peer's stream has already ended");
	if (read_all(c, head, 4))
		return -1;
	uint32_t n = get_le32(head);
	if (n < 1 + SS_ABYTES || n > MIG_MAX_CHUNK + SS_ABYTES)
		return fail(c, "chunk %llu claims %u bytes: the stream is corrupt or forged",
			    (unsigned long long)c->chunks_in, n);
	if (grow(&c->buf, &c->cap, n) || grow(&c->msg, &c->msg_cap, n))
		return fail(c, "out of memory");
	if (read_all(c, c->buf, n))
		return -1;
	unsigned long long plain;
	uint8_t tag;
	if (crypto_secretstream_xchacha20poly1305_pull(&c->rx, c->msg, &plain, &tag, c->buf, n,
						       head, 4) != 0)
		return fail(c, "chunk %llu failed authentication: the stream was edited, forged, "
			       "reordered or replayed",
			    (unsigned long long)c->chunks_in);
	c->chunks_in++;
	c->rx_final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	*type = c->msg[0];
	*body = c->msg + 1;
	*len = (size_t)plain - 1;
	return 1;
}

/* ---- the handshake ---- */

static void hello_encode(uint8_t out[HELLO_BYTES], const uint8_t nonce[MIG_NONCE_BYTES])
{
	memcpy(out, MIG_MAGIC, MIG_MAGIC_BYTES);
	put_le32(out + MIG_MAGIC_BYTES, MIG_PROTOCOL_VERSION);
	memcpy(out + MIG_MAGIC_BYTES + 4, nonce, MIG_NONCE_BYTES);
}

static int hello_read(struct mig_channel *c, uint8_t nonce[MIG_NONCE_BYTES])
{
	uint8_t in[HELLO_BYTES];
	if (read_all(c, in, sizeof(in)))
		return -1;
	if (memcmp(in, MIG_MAGIC, MIG_MAGIC_BYTES))
		return fail(c, "the peer is not a keel migration endpoint (bad greeting)");
	uint32_t v = get_le32(in + MIG_MAGIC_BYTES);
	if (v != MIG_PROTOCOL_VERSION)
		return fail(c, "the peer speaks migration protocol %u, this keel %u", v,
			    MIG_PROTOCOL_VERSION);
	memcpy(nonce, in + MIG_MAGIC_BYTES + 4, MIG_NONCE_BYTES);
	return 0;
}

/* The session's two keys: source-to-destination first. */
static void derive(const uint8_t key[MIG_KEY_BYTES], const uint8_t ns[MIG_NONCE_BYTES],
		   const uint8_t nd[MIG_NONCE_BYTES], uint8_t out[2 * MIG_KEY_BYTES])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, MIG_KEY_BYTES, 2 * MIG_KEY_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)KDF_LABEL, sizeof(KDF_LABEL));
	crypto_generichash_update(&st, ns, MIG_NONCE_BYTES);
	crypto_generichash_update(&st, nd, MIG_NONCE_BYTES);
	crypto_generichash_final(&st, out, 2 * MIG_KEY_BYTES);
	sodium_memzero(&st, sizeof(st));
}

static int start_tx(struct mig_channel *c, const uint8_t *k)
{
	uint8_t header[SS_HEADER];
	crypto_secretstream_xchacha20poly1305_init_push(&c->tx, header, k);
	if (write_all(c, header, sizeof(header)))
		return -1;
	return chan_send(c, MSG_AUTH, NULL, 0, false);
}

static int start_rx(struct mig_channel *c, const uint8_t *k, const char *who)
{
	uint8_t header[SS_HEADER], type;
	const uint8_t *body;
	size_t len;
	if (read_all(c, header, sizeof(header)))
		return -1;
	if (crypto_secretstream_xchacha20poly1305_init_pull(&c->rx, header, k) != 0)
		return fail(c, "bad stream header from the %s", who);
	if (chan_recv(c, &type, &body, &len) < 0 || type != MSG_AUTH || len != 0)
		return fail(c, "authentication failed: the %s does not hold this key, or the "
			       "stream is a replay or a forgery",
			    who);
	return 0;
}

int chan_handshake(struct mig_channel *c, int fd, const uint8_t key[MIG_KEY_BYTES],
		   bool initiator)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	/* Every chunk is one write, and a small one (a page request, an
	 * acknowledgement, GO) is awaited at once: Nagle's algorithm would
	 * hold it until the peer's delayed ACK, tens of milliseconds. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (sodium_init() < 0)
		return fail(c, "libsodium failed to initialise");
	uint8_t mine[MIG_NONCE_BYTES], theirs[MIG_NONCE_BYTES], hello[HELLO_BYTES];
	uint8_t keys[2 * MIG_KEY_BYTES];
	randombytes_buf(mine, sizeof(mine));
	hello_encode(hello, mine);
	int rc;
	if (initiator) {
		/* Both sides send their header and proof before they check the
		 * other's, so with a wrong key each one finds out for itself
		 * (instead of one seeing the other hang up). */
		rc = write_all(c, hello, sizeof(hello)) || hello_read(c, theirs) ? -1 : 0;
		if (rc == 0) {
			derive(key, mine, theirs, keys);
			rc = start_tx(c, keys) || start_rx(c, keys + MIG_KEY_BYTES, "destination") ? -1
												  : 0;
		}
	} else {
		rc = hello_read(c, theirs) || write_all(c, hello, sizeof(hello)) ? -1 : 0;
		if (rc == 0) {
			derive(key, theirs, mine, keys);
			rc = start_tx(c, keys + MIG_KEY_BYTES) || start_rx(c, keys, "source") ? -1 : 0;
		}
	}
	sodium_memzero(keys, sizeof(keys));
	return rc;
}

void chan_free(struct mig_channel *c)
{
	sodium_memzero(&c->tx, sizeof(c->tx));
	sodium_memzero(&c->rx, sizeof(c->rx));
	if (c->msg)
		sodium_memzero(c->msg, c->msg_cap);
	free(c->buf);
	free(c->msg);
	c->buf = c->msg = NULL;
	c->cap = c->msg_cap = 0;
}
