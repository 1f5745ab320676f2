/* The migration channel (docs/migrate.md, "The channel"): a TCP
 * connection between two keels that share a 32-byte key, authenticated
 * and encrypted with libsodium.
 *
 * Both sides send fresh random nonces; the session's two keys (one per
 * direction) are BLAKE2b keyed by the shared key over both nonces, so a
 * stream recorded from an earlier session never decrypts in a new one.
 * Each direction is a crypto_secretstream_xchacha20poly1305 stream of
 * length-prefixed chunks; the last chunk carries the FINAL tag, so a
 * stream cut short is told from one that ended.  Any chunk that fails to
 * authenticate ends the session with a message saying so.
 *
 * Everything here blocks, bounded by the socket timeouts the caller sets
 * (chan_set_timeout); nothing here knows what the messages mean. */
#ifndef KEEL_SVC_MIGRATE_CHANNEL_H
#define KEEL_SVC_MIGRATE_CHANNEL_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIG_KEY_BYTES 32
#define MIG_NONCE_BYTES 32
#define MIG_PROTOCOL_VERSION 1u
#define MIG_MAGIC "KEELMIGR"
#define MIG_MAGIC_BYTES 8
/* The largest plaintext in one chunk (a message type byte and its body). */
#define MIG_MAX_CHUNK (8u << 20)

struct mig_channel {
	int fd;
	crypto_secretstream_xchacha20poly1305_state tx, rx;
	bool rx_final; /* the peer's FINAL chunk has arrived */
	uint64_t chunks_in, chunks_out;
	uint64_t bytes_in, bytes_out; /* on the wire */
	uint8_t *buf; /* ciphertext scratch */
	size_t cap;
	uint8_t *msg; /* the last message received, plaintext */
	size_t msg_cap;
	char err[256]; /* why the last call failed */
};

/* Read a key file (64 hex digits and a newline, mode 0600).  Returns 0,
 * or -1 with "FILE: why" in err. */
int mig_key_load(const char *path, uint8_t key[MIG_KEY_BYTES], char *err, size_t errlen);
/* Make a new key file (refused if it exists).  0 or -1 with a reason. */
int mig_key_generate(const char *path, char *err, size_t errlen);

/* Set the socket's send and receive timeouts (a silent peer is a cut
 * link after this long). */
void chan_set_timeout(int fd, unsigned ms);

/* Run the handshake on a connected socket: the source is the initiator.
 * On success the channel owns nothing but scratch memory (the caller
 * keeps the fd); on failure c->err says why (wrong key, replay, not a
 * keel, cut). */
int chan_handshake(struct mig_channel *c, int fd, const uint8_t key[MIG_KEY_BYTES],
		   bool initiator);

/* Send one message: a type byte and `len` bytes of body in one chunk
 * (len < MIG_MAX_CHUNK).  `final`: the last chunk of this direction. */
int chan_send(struct mig_channel *c, uint8_t type, const void *body, size_t len, bool final);

/* Receive one message.  Returns 1 with *type, *body (valid until the next
 * call) and *len; -1 with c->err (cut, forged, edited, too long, or a
 * message after the FINAL one). */
int chan_recv(struct mig_channel *c, uint8_t *type, const uint8_t **body, size_t *len);

/* Wipe the session keys and free the scratch buffers (not the fd). */
void chan_free(struct mig_channel *c);

#endif
