/* The rules file and the decisions over it.  See rules.h, docs/shield.md. */
#include "svc/shield/rules.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/json_file.h"

#define MAX_REQUEST_BODY (1u << 30)

static int globs_set(struct glob_list *g, json_t *arr, const char *key, char *why, size_t wl)
{
	if (!json_is_array(arr)) {
		snprintf(why, wl, "%s must be an array of strings", key);
		return -1;
	}
	glob_list_free(g);
	g->v = calloc(json_array_size(arr) + 1, sizeof(char *));
	if (!g->v) {
		snprintf(why, wl, "out of memory");
		return -1;
	}
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		if (!json_is_string(e)) {
			snprintf(why, wl, "%s[%zu] is not a string", key, i);
			return -1;
		}
		g->v[g->n++] = strdup(json_string_value(e));
	}
	return 0;
}

static json_t *globs_json(const struct glob_list *g)
{
	json_t *a = json_array();
	for (size_t i = 0; i < g->n; i++)
		json_array_append_new(a, json_string(g->v[i]));
	return a;
}

static bool has_key(const char *const *keys, const char *k)
{
	for (; *keys; keys++)
		if (!strcmp(*keys, k))
			return true;
	return false;
}

static int check_keys(json_t *obj, const char *const *keys, const char *where, char *why, size_t wl)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v) {
		if (!has_key(keys, k)) {
			snprintf(why, wl, "%s%s: unknown key", where, k);
			return -1;
		}
	}
	return 0;
}

static int uint_in(json_t *obj, const char *key, unsigned *out, unsigned min, unsigned max,
		   char *why, size_t wl)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(why, wl, "%s must be an integer from %u to %u", key, min, max);
		return -1;
	}
	*out = (unsigned)json_integer_value(v);
	return 0;
}

static int string_in(json_t *obj, const char *key, char **out, char *why, size_t wl)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_string(v)) {
		snprintf(why, wl, "%s must be a string", key);
		return -1;
	}
	free(*out);
	*out = strdup(json_string_value(v));
	return 0;
}

static int parse_ports(struct shield_rules *r, json_t *arr, char *why, size_t wl)
{
	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > SHIELD_MAX_PORTS) {
		snprintf(why, wl, "ports must be an array of at most %d port numbers", SHIELD_MAX_PORTS);
		return -1;
	}
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		if (!json_is_integer(e) || json_integer_value(e) < 1 || json_integer_value(e) > 65535) {
			snprintf(why, wl, "ports[%zu] must be a port number (1-65535)", i);
			return -1;
		}
		r->ports[r->nports++] = (uint16_t)json_integer_value(e);
	}
	return 0;
}

static int parse_try(struct shield_rules *r, json_t *t, char *why, size_t wl)
{
	static const char *const keys[] = {"all", "from", "payload", "sample", "detector", NULL};
	static const char *const det_keys[] = {"max_bytes", "nonprintable", NULL};
	if (!json_is_object(t)) {
		snprintf(why, wl, "try must be an object");
		return -1;
	}
	if (check_keys(t, keys, "try.", why, wl))
		return -1;
	json_t *v;
	if ((v = json_object_get(t, "all")) && !json_is_boolean(v)) {
		snprintf(why, wl, "try.all must be true or false");
		return -1;
	}
	r->try_all = json_is_true(v);
	if ((v = json_object_get(t, "from")) && globs_set(&r->from, v, "try.from", why, wl))
		return -1;
	if ((v = json_object_get(t, "payload")) && globs_set(&r->payload, v, "try.payload", why, wl))
		return -1;
	if ((v = json_object_get(t, "sample"))) {
		if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1) {
			snprintf(why, wl, "try.sample must be a number from 0 to 1");
			return -1;
		}
		r->sample = json_number_value(v);
	}
	json_t *d = json_object_get(t, "detector");
	if (!d)
		return 0;
	if (!json_is_object(d) || check_keys(d, det_keys, "try.detector.", why, wl)) {
		if (!json_is_object(d))
			snprintf(why, wl, "try.detector must be an object");
		return -1;
	}
	unsigned max = 0;
	if (uint_in(d, "max_bytes", &max, 1, 1u << 30, why, wl))
		return -1;
	r->det_max_bytes = max;
	if ((v = json_object_get(d, "nonprintable")) && !json_is_boolean(v)) {
		snprintf(why, wl, "try.detector.nonprintable must be true or false");
		return -1;
	}
	r->det_nonprintable = json_is_true(v);
	return 0;
}

static int parse_choices(struct shield_rules *r, json_t *root, char *why, size_t wl)
{
	json_t *v = json_object_get(root, "protocol");
	if (v && !(json_is_string(v) && (!strcmp(json_string_value(v), "http") ||
					 !strcmp(json_string_value(v), "raw")))) {
		snprintf(why, wl, "protocol must be \"http\" or \"raw\"");
		return -1;
	}
	r->http = !v || !strcmp(json_string_value(v), "http");
	v = json_object_get(root, "on_timeout");
	if (v && !(json_is_string(v) && (!strcmp(json_string_value(v), "block") ||
					 !strcmp(json_string_value(v), "pass")))) {
		snprintf(why, wl, "on_timeout must be \"block\" or \"pass\"");
		return -1;
	}
	r->timeout_blocks = !v || !strcmp(json_string_value(v), "block");
	/* the order of enum shield_uid */
	static const char *const uids[] = {"gain", "any", "off", NULL};
	const char *u = json_string_value(v = json_object_get(root, "uid"));
	r->uid = SHIELD_UID_GAIN;
	for (unsigned i = 0; u && uids[i]; i++)
		if (!strcmp(u, uids[i]))
			r->uid = (enum shield_uid)i, u = NULL;
	if (v && (u || !json_is_string(v))) {
		snprintf(why, wl, "uid must be \"gain\", \"any\" or \"off\"");
		return -1;
	}
	return 0;
}

static int parse_root(struct shield_rules *r, json_t *root, char *why, size_t wl)
{
	static const char *const keys[] = {"ports", "protocol", "try", "verdict_ms", "settle_ms",
					   "idle_ms", "on_timeout", "exec_allow", "ids", "alerts",
					   "verdicts", "max_trials", "uid", "snapshot_dir",
					   "settle_until_idle", NULL};
	if (!json_is_object(root)) {
		snprintf(why, wl, "the rules must be a JSON object");
		return -1;
	}
	json_t *v;
	if (check_keys(root, keys, "", why, wl) || parse_ports(r, json_object_get(root, "ports"), why, wl) ||
	    parse_choices(r, root, why, wl) ||
	    uint_in(root, "verdict_ms", &r->verdict_ms, 10, 600000, why, wl) ||
	    uint_in(root, "settle_ms", &r->settle_ms, 0, 60000, why, wl) ||
	    uint_in(root, "idle_ms", &r->idle_ms, 10, 3600000, why, wl) ||
	    uint_in(root, "max_trials", &r->max_trials, 1, 256, why, wl) ||
	    string_in(root, "ids", &r->ids, why, wl) || string_in(root, "alerts", &r->alerts, why, wl) ||
	    string_in(root, "verdicts", &r->verdicts, why, wl) ||
	    string_in(root, "snapshot_dir", &r->snapshot_dir, why, wl))
		return -1;
	if ((v = json_object_get(root, "try")) && parse_try(r, v, why, wl))
		return -1;
	if ((v = json_object_get(root, "settle_until_idle")) && !json_is_boolean(v)) {
		snprintf(why, wl, "settle_until_idle must be true or false");
		return -1;
	}
	r->settle_until_idle = !v || json_is_true(v);
	if ((v = json_object_get(root, "exec_allow")) &&
	    globs_set(&r->exec_allow, v, "exec_allow", why, wl))
		return -1;
	if (r->settle_ms >= r->verdict_ms) {
		snprintf(why, wl, "settle_ms must be less than verdict_ms");
		return -1;
	}
	return 0;
}

struct shield_rules *shield_rules_load(const char *path, char *err, size_t errlen)
{
	json_t *root = json_file_load(path, err, errlen);
	if (!root)
		return NULL;
	struct shield_rules *r = calloc(1, sizeof(*r));
	char why[256] = "out of memory";
	int rc = -1;
	if (r) {
		r->path = strdup(path);
		r->verdict_ms = 2000;
		r->settle_ms = 20;
		r->idle_ms = 30000;
		r->max_trials = 16;
		rc = parse_root(r, root, why, sizeof(why));
	}
	json_decref(root);
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, why);
		shield_rules_free(r);
		return NULL;
	}
	return r;
}

void shield_rules_free(struct shield_rules *r)
{
	if (!r)
		return;
	glob_list_free(&r->from);
	glob_list_free(&r->payload);
	glob_list_free(&r->exec_allow);
	free(r->path);
	free(r->ids);
	free(r->alerts);
	free(r->verdicts);
	free(r->snapshot_dir);
	free(r);
}

json_t *shield_rules_json(const struct shield_rules *r)
{
	json_t *ports = json_array();
	for (unsigned i = 0; i < r->nports; i++)
		json_array_append_new(ports, json_integer(r->ports[i]));
	json_t *det = json_pack("{s:I,s:b}", "max_bytes", (json_int_t)r->det_max_bytes,
				"nonprintable", r->det_nonprintable);
	json_t *try = json_pack("{s:b,s:o,s:o,s:f,s:o}", "all", r->try_all, "from",
				globs_json(&r->from), "payload", globs_json(&r->payload), "sample",
				r->sample, "detector", det);
	static const char *const uids[] = {"gain", "any", "off"};
	return json_pack("{s:s,s:o,s:s,s:o,s:i,s:i,s:b,s:i,s:s,s:o,s:s,s:s?,s:s,s:s?,s:i,s:s?}",
			 "file", r->path,
			 "ports", ports, "protocol", r->http ? "http" : "raw", "try", try,
			 "verdict_ms", r->verdict_ms, "settle_ms", r->settle_ms,
			 "settle_until_idle", r->settle_until_idle, "idle_ms",
			 r->idle_ms, "on_timeout", r->timeout_blocks ? "block" : "pass",
			 "exec_allow", globs_json(&r->exec_allow), "uid", uids[r->uid], "ids",
			 r->ids, "alerts", r->alerts ? r->alerts : "stderr", "verdicts",
			 r->verdicts, "max_trials", r->max_trials, "snapshot_dir",
			 r->snapshot_dir);
}

bool shield_port_shielded(const struct shield_rules *r, uint16_t host_port)
{
	if (!r->nports)
		return true;
	for (unsigned i = 0; i < r->nports; i++)
		if (r->ports[i] == host_port)
			return true;
	return false;
}

bool shield_pick_conn(const struct shield_rules *r, const char *peer_ip, double dice,
		      const char **why)
{
	if (r->try_all)
		*why = "all";
	else if (glob_list_match(&r->from, peer_ip))
		*why = "from";
	else if (dice < r->sample)
		*why = "sample";
	else
		return false;
	return true;
}

static bool nonprintable(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((b[i] < 0x20 && b[i] != '\r' && b[i] != '\n' && b[i] != '\t') || b[i] >= 0x7f)
			return true;
	return false;
}

bool shield_pick_request(const struct shield_rules *r, const uint8_t *req, size_t len,
			 const char **why)
{
	if (r->det_max_bytes && len > r->det_max_bytes) {
		*why = "detector";
		return true;
	}
	if (r->det_nonprintable && nonprintable(req, len)) {
		*why = "detector";
		return true;
	}
	if (!r->payload.n)
		return false;
	char *s = malloc(len + 1);
	if (!s) {
		*why = "payload"; /* cannot look: try it */
		return true;
	}
	for (size_t i = 0; i < len; i++)
		s[i] = req[i] ? (char)req[i] : '.';
	s[len] = '\0';
	bool hit = glob_list_match(&r->payload, s);
	free(s);
	if (hit)
		*why = "payload";
	return hit;
}

/* ---- HTTP/1.1 framing ---- */

static const uint8_t *find(const uint8_t *b, size_t n, const char *pat)
{
	size_t pl = strlen(pat);
	for (size_t i = 0; i + pl <= n; i++)
		if (!memcmp(b + i, pat, pl))
			return b + i;
	return NULL;
}

/* The value of header `name` in the header block [b, end), or NULL. */
static const uint8_t *header(const uint8_t *b, const uint8_t *end, const char *name,
			     size_t *vlen)
{
	size_t nl = strlen(name);
	const uint8_t *line = find(b, (size_t)(end - b), "\r\n");
	while (line && line < end) {
		line += 2;
		const uint8_t *eol = find(line, (size_t)(end - line), "\r\n");
		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > nl && line[nl] == ':' &&
		    !strncasecmp((const char *)line, name, nl)) {
			const uint8_t *v = line + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = (size_t)(eol - v);
			while (*vlen && (v[*vlen - 1] == ' ' || v[*vlen - 1] == '\t'))
				(*vlen)--;
			return v;
		}
		line = eol;
	}
	return NULL;
}

/* A chunked body starting at b: its length, 0 while incomplete, -1 bad. */
static size_t chunked_len(const uint8_t *b, size_t n)
{
	size_t off = 0;
	for (;;) {
		const uint8_t *eol = find(b + off, n - off, "\r\n");
		if (!eol)
			return n - off > 32 ? (size_t)-1 : 0;
		size_t size = 0, digits = 0;
		for (const uint8_t *p = b + off; p < eol && isxdigit(*p); p++, digits++) {
			size = size * 16 + (size_t)(isdigit(*p) ? *p - '0' : (tolower(*p) - 'a' + 10));
			if (digits > 8)
				return (size_t)-1;
		}
		if (!digits)
			return (size_t)-1;
		off = (size_t)(eol - b) + 2;
		if (size == 0) { /* trailers, then an empty line */
			const uint8_t *end = find(b + off, n - off, "\r\n");
			while (end && end != b + off) {
				off = (size_t)(end - b) + 2;
				end = find(b + off, n - off, "\r\n");
			}
			return end ? off + 2 : 0;
		}
		if (n - off < size + 2)
			return 0;
		off += size + 2;
	}
}

/* The body's length after headers ending at hend (exclusive of CRLFCRLF):
 * 0 with *known false when it runs to the end of the connection. */
static size_t body_len(const uint8_t *b, size_t n, const uint8_t *hend, bool *known,
		       bool *bad)
{
	size_t vl;
	const uint8_t *body = hend + 4;
	*known = true;
	*bad = false;
	const uint8_t *te = header(b, hend + 2, "Transfer-Encoding", &vl);
	if (te && vl == 7 && !strncasecmp((const char *)te, "chunked", 7)) {
		size_t c = chunked_len(body, (size_t)(b + n - body));
		*bad = c == (size_t)-1;
		*known = c != 0 && !*bad;
		return *known ? c : 0;
	}
	const uint8_t *cl = header(b, hend + 2, "Content-Length", &vl);
	if (!cl) {
		*known = false;
		return 0;
	}
	size_t len = 0;
	for (size_t i = 0; i < vl; i++) {
		if (!isdigit(cl[i]) || len > MAX_REQUEST_BODY) {
			*bad = true;
			return 0;
		}
		len = len * 10 + (size_t)(cl[i] - '0');
	}
	if (!vl || len > MAX_REQUEST_BODY)
		*bad = true;
	return len;
}

size_t shield_http_request_len(const uint8_t *b, size_t n)
{
	const uint8_t *hend = find(b, n, "\r\n\r\n");
	if (!hend)
		return 0;
	bool known, bad;
	size_t head = (size_t)(hend - b) + 4;
	size_t body = body_len(b, n, hend, &known, &bad);
	if (bad)
		return (size_t)-1;
	const uint8_t *te;
	size_t vl;
	te = header(b, hend + 2, "Transfer-Encoding", &vl);
	if (te && !known)
		return 0; /* a chunked body still arriving */
	if (!known)
		return head; /* a request without a body */
	return n >= head + body ? head + body : 0;
}

bool shield_http_reply_done(const uint8_t *b, size_t n)
{
	const uint8_t *hend = find(b, n, "\r\n\r\n");
	if (!hend || n < 12 || memcmp(b, "HTTP/1.", 7))
		return false;
	int status = atoi((const char *)b + 9);
	if ((status >= 100 && status < 200) || status == 204 || status == 304)
		return true;
	bool known, bad;
	size_t head = (size_t)(hend - b) + 4;
	size_t body = body_len(b, n, hend, &known, &bad);
	return known && !bad && n >= head + body;
}
