/* The shield's rules file (docs/shield.md): which forwarded connections
 * are tried on a fork-clone first, how requests are framed, how long a
 * trial may take and what the clone is watched for.  Also the pure
 * decisions over them (which connection or request to try, where an HTTP
 * request or reply ends), kept here so the unit tests reach them without
 * sockets or a guest. */
#ifndef KEEL_SVC_SHIELD_RULES_H
#define KEEL_SVC_SHIELD_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/glob_list.h"

#define SHIELD_MAX_PORTS 16

/* "uid": a process's uid or euid changing during a trial.  GAIN (the
 * default): only a change to 0 from another uid (a dropped privilege
 * regained, a kernel exploit's commit_creds); ANY: every change (a
 * service that drops privileges per request is then an attack); OFF. */
enum shield_uid { SHIELD_UID_GAIN, SHIELD_UID_ANY, SHIELD_UID_OFF };

struct shield_rules {
	char *path;
	uint16_t ports[SHIELD_MAX_PORTS]; /* host ports of --net forwards; none: every TCP one */
	unsigned nports;
	bool http; /* "protocol": "http" (requests framed) or "raw" (bursts) */
	/* "try": which are tried on a clone (any one that matches) */
	bool try_all;
	struct glob_list from; /* peer addresses */
	struct glob_list payload; /* request bytes (NULs read as '.') */
	double sample; /* 0..1 of connections */
	size_t det_max_bytes; /* cheap detector: a request longer than this (0: off) */
	bool det_nonprintable; /* ...or one with bytes outside printable ASCII, \r\n\t */
	unsigned verdict_ms; /* the whole trial, fork to verdict */
	unsigned settle_ms; /* watching the clone on after its reply, at most */
	bool settle_until_idle; /* ...or until its guest first idles after the reply */
	unsigned idle_ms; /* a connection with nothing to judge this long is closed */
	bool timeout_blocks; /* "on_timeout": "block" (default) or "pass" */
	struct glob_list exec_allow; /* programs the guest may exec during a trial */
	enum shield_uid uid; /* which uid changes in a trial are evidence */
	/* Where a blocked trial's clone is saved as a snapshot before it is
	 * killed (NULL: discarded). */
	char *snapshot_dir;
	char *ids; /* the intrusion-detection policy each clone runs (NULL: none) */
	char *alerts; /* "stderr" (default), "-" stdout, or a file */
	char *verdicts; /* the verdict log file (NULL: only in memory) */
	unsigned max_trials; /* clones at once; further trials wait */
};

/* Read and check the whole file.  NULL with "FILE[:LINE:COL]: why". */
struct shield_rules *shield_rules_load(const char *path, char *err, size_t errlen);
void shield_rules_free(struct shield_rules *r);
/* The rules as JSON ('keel ctl shield rules'). */
json_t *shield_rules_json(const struct shield_rules *r);

bool shield_port_shielded(const struct shield_rules *r, uint16_t host_port);

/* At accept: the connection is tried ("all", "from", "sample": `why` set,
 * true), or its requests are judged one by one (false). `dice` is a
 * number in [0,1) for the sample. */
bool shield_pick_conn(const struct shield_rules *r, const char *peer_ip, double dice,
		      const char **why);
/* One request of a connection not tried as a whole: true (with `why`:
 * "payload", "detector") when it is tried. */
bool shield_pick_request(const struct shield_rules *r, const uint8_t *req, size_t len,
			 const char **why);

/* HTTP/1.1 framing.  The length of the first request in b[0..n) (headers
 * and a Content-Length or chunked body), 0 while incomplete, or
 * (size_t)-1 when it can never be framed (a bad length). */
size_t shield_http_request_len(const uint8_t *b, size_t n);
/* Whether b[0..n) holds at least one complete response. */
bool shield_http_reply_done(const uint8_t *b, size_t n);

#endif
