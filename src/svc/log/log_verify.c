/* Verification of a secure log (log_verify.h, docs/log-format.md
 * "Verification").
 *
 * The walk (log_walk.c) checks structure, sequence numbers and the hash
 * chain.  Here each seal i must carry epoch i, the walk's totals, a MAC
 * under key_i derived from the auditor's key_0, and a signature when a
 * public key is given; and every checkpoint file must still hash to what
 * the log recorded.  A seal vouches for every entry before it through the
 * chain, so "verified" advances seal by seal. */
#include "svc/log/log_verify.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "svc/log/log_keys.h"
#include "svc/log/log_walk.h"
#include "svc/log/log_writer.h"

struct verifier {
	struct log_walk walk;
	struct log_verify_report *rep;
	bool have_key, have_pub;
	uint8_t key[LOG_KEY_BYTES]; /* key for the next seal's epoch */
	uint8_t pub[LOG_SIGN_PUBLIC_BYTES];
	uint64_t epoch; /* of the next seal */
	bool closed;
	bool last_was_good_seal;
	bool pending; /* entries since the last good seal */
	struct log_position first_pending;
};

const char *log_status_name(enum log_status s)
{
	switch (s) {
	case LOG_STATUS_VALID: return "VALID";
	case LOG_STATUS_UNSEALED_TAIL: return "UNSEALED_TAIL";
	case LOG_STATUS_NO_CLOSE: return "NO_CLOSE";
	default: return "TAMPERED";
	}
}

int log_verify_exit_code(const struct log_verify_report *rep)
{
	if (rep->status == LOG_STATUS_TAMPERED)
		return 1;
	if (!rep->seals_checked)
		return 3;
	return rep->status == LOG_STATUS_VALID ? 0 : 2;
}

static int judge(struct verifier *v, enum log_status status, const struct log_position *at,
		 const char *fmt, ...)
{
	v->rep->status = status;
	if (at)
		v->rep->bad = *at;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->rep->reason, sizeof(v->rep->reason), fmt, ap);
	va_end(ap);
	return status == LOG_STATUS_TAMPERED ? -1 : 0;
}

static int load_keys(struct verifier *v, const char *dir, const struct log_verify_options *o)
{
	char path[4200], why[512];
	const char *key_path = o->verify_key_path;
	if (!key_path && !o->no_dir_key) {
		snprintf(path, sizeof(path), "%s/%s", dir, LOG_DIR_VERIFY_KEY);
		if (access(path, F_OK) == 0) {
			key_path = path;
			v->rep->key_from_dir = true;
		}
	}
	if (key_path) {
		if (log_verify_key_load(key_path, v->key, why, sizeof(why)))
			return judge(v, LOG_STATUS_TAMPERED, NULL, "%s", why);
		v->have_key = true;
	}
	if (o->sign_pub_path) {
		if (log_sign_pub_load(o->sign_pub_path, v->pub, why, sizeof(why)))
			return judge(v, LOG_STATUS_TAMPERED, NULL, "%s", why);
		v->have_pub = true;
	}
	v->rep->seals_checked = v->have_key;
	v->rep->signatures_checked = v->have_pub;
	return 0;
}

static int check_seal_values(struct verifier *v, const struct log_seal_body *s)
{
	const struct log_walk *w = &v->walk;
	const struct log_position *at = &w->pos;
	if (s->epoch != v->epoch)
		return judge(v, LOG_STATUS_TAMPERED, at, "seal claims epoch %llu where seal %llu "
			     "belongs (seals removed, or one made with a later epoch's key)",
			     (unsigned long long)s->epoch, (unsigned long long)v->epoch);
	uint64_t bytes_before = w->log_bytes - LOG_ENTRY_HEADER_BYTES - LOG_SEAL_BODY_BYTES;
	if (s->records != w->records || s->log_bytes != bytes_before || s->icount != w->icount)
		return judge(v, LOG_STATUS_TAMPERED, at, "seal %llu's totals (%llu records, %llu "
			     "bytes) disagree with the log before it (%llu records, %llu bytes)",
			     (unsigned long long)s->epoch, (unsigned long long)s->records,
			     (unsigned long long)s->log_bytes, (unsigned long long)w->records,
			     (unsigned long long)bytes_before);
	return 0;
}

static int check_seal(struct verifier *v)
{
	const struct log_walk *w = &v->walk;
	struct log_seal_body s;
	log_seal_body_decode(w->body, &s);
	if (check_seal_values(v, &s))
		return -1;
	if (v->have_key) {
		uint8_t mac[LOG_HASH_BYTES];
		log_seal_mac(mac, v->key, w->header, w->body);
		if (sodium_memcmp(mac, s.mac, LOG_HASH_BYTES) != 0)
			return judge(v, LOG_STATUS_TAMPERED, &w->pos, "seal %llu's MAC does not "
				     "verify with epoch %llu's key (forged or altered seal, or "
				     "the wrong verification key)", (unsigned long long)v->epoch,
				     (unsigned long long)v->epoch);
		log_key_ratchet(v->key);
	}
	if (v->have_pub && !(w->h.flags & LOG_SEAL_SIGNED))
		return judge(v, LOG_STATUS_TAMPERED, &w->pos, "seal %llu is not signed",
			     (unsigned long long)v->epoch);
	if (v->have_pub && !log_seal_signature_ok(s.sig, v->pub, w->header, w->body))
		return judge(v, LOG_STATUS_TAMPERED, &w->pos, "seal %llu's Ed25519 signature "
			     "does not verify", (unsigned long long)v->epoch);
	v->epoch++;
	v->rep->seals++;
	v->closed = w->h.flags & LOG_SEAL_CLOSE;
	v->pending = false;
	v->rep->verified = w->pos;
	v->rep->verified.record = w->records;
	v->rep->verified.icount = w->icount;
	return 0;
}

/* Every checkpoint the block names must still hash to what it recorded. */
static int check_checkpoints(struct verifier *v)
{
	size_t cursor = 0;
	struct log_record rec;
	while (log_walk_record(&v->walk, &cursor, &rec)) {
		if (rec.type != LOG_REC_SNAPSHOT)
			continue;
		const char *name = (const char *)rec.payload + LOG_SNAPSHOT_HASH_BYTES;
		size_t len = rec.len - LOG_SNAPSHOT_HASH_BYTES;
		uint8_t hash[LOG_HASH_BYTES];
		char why[512];
		if (rec.len <= LOG_SNAPSHOT_HASH_BYTES || !log_snapshot_name_ok(name, len))
			return judge(v, LOG_STATUS_TAMPERED, &rec.pos, "checkpoint record with a "
				     "malformed file name");
		if (log_hash_file(v->walk.dir, name, len, hash, why, sizeof(why)))
			return judge(v, LOG_STATUS_TAMPERED, &rec.pos, "checkpoint %s", why);
		if (memcmp(hash, rec.payload, LOG_HASH_BYTES) != 0)
			return judge(v, LOG_STATUS_TAMPERED, &rec.pos, "checkpoint %.*s does not "
				     "match the hash the log recorded (swapped or altered)",
				     (int)len, name);
	}
	return 0;
}

static int check_entry(struct verifier *v)
{
	const struct log_walk *w = &v->walk;
	if (v->closed)
		return judge(v, LOG_STATUS_TAMPERED, &w->pos, "entry after the close seal");
	if (!v->pending)
		v->first_pending = w->pos;
	v->pending = true;
	v->last_was_good_seal = false;
	if (w->h.kind == LOG_ENTRY_SEAL) {
		if (check_seal(v))
			return -1;
		v->last_was_good_seal = true;
		return 0;
	}
	return check_checkpoints(v);
}

/* The walk stopped at a bad spot.  When entry k+1 disagrees with entry
 * k's hash, blame k unless k is a seal that verified. */
static void judge_bad_walk(struct verifier *v)
{
	const struct log_walk *w = &v->walk;
	const struct log_position *at = w->chain_break && !v->last_was_good_seal ? &w->pos : &w->bad;
	judge(v, LOG_STATUS_TAMPERED, at, "%s", w->reason);
}

static void judge_end(struct verifier *v, int walk_rc)
{
	const struct log_walk *w = &v->walk;
	uint64_t unsealed = w->records - v->rep->verified.record;
	if (walk_rc == LOG_WALK_TORN)
		judge(v, LOG_STATUS_UNSEALED_TAIL, v->pending ? &v->first_pending : &w->bad,
		      "unsealed tail: %llu records after seal %llu are not sealed, then %s",
		      (unsigned long long)unsealed, (unsigned long long)v->rep->seals, w->reason);
	else if (v->pending)
		judge(v, LOG_STATUS_UNSEALED_TAIL, &v->first_pending, "unsealed tail: %llu records "
		      "in %llu entries after the last seal are not sealed (the recorder crashed, "
		      "or entries were appended)", (unsigned long long)unsealed,
		      (unsigned long long)(w->next_seq - v->first_pending.entry));
	else if (!v->closed) {
		struct log_position end = w->pos;
		end.offset = w->off;
		end.entry = w->next_seq;
		end.record = w->records;
		end.icount = w->icount;
		judge(v, LOG_STATUS_NO_CLOSE, &end, v->rep->seals
			     ? "the log ends at a seal that is not the close seal (truncated, or "
			       "the recorder crashed)"
			     : "the log has no seal at all (truncated, or the recorder crashed)");
	} else
		judge(v, LOG_STATUS_VALID, NULL, "sealed to the end and closed");
}

static void run(struct verifier *v)
{
	int rc;
	while ((rc = log_walk_next(&v->walk)) == LOG_WALK_ENTRY) {
		v->rep->records = v->walk.records;
		v->rep->log_bytes = v->walk.log_bytes;
		v->rep->last_wall_ns = v->walk.h.wall_ns;
		if (check_entry(v))
			return;
	}
	if (rc == LOG_WALK_BAD)
		judge_bad_walk(v);
	else
		judge_end(v, rc);
}

int log_verify(const char *dir, const struct log_verify_options *o, struct log_verify_report *rep)
{
	static const struct log_verify_options none = {0};
	*rep = (struct log_verify_report){.status = LOG_STATUS_TAMPERED};
	if (sodium_init() < 0) {
		snprintf(rep->reason, sizeof(rep->reason), "libsodium could not be initialised");
		return -1;
	}
	struct verifier v = {.rep = rep};
	log_segment_name(rep->verified.segment, 0);
	rep->verified.offset = LOG_SEG_HEADER_BYTES;
	int rc = load_keys(&v, dir, o ? o : &none);
	if (rc == 0 && log_walk_open(&v.walk, dir, rep->reason, sizeof(rep->reason)))
		rc = -1;
	if (rc == 0) {
		run(&v);
		rep->first_wall_ns = v.walk.created_ns;
		log_walk_close(&v.walk);
	}
	sodium_memzero(v.key, sizeof(v.key));
	return rc;
}
