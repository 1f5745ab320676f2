/* The policy file: one JSON document (docs/ids.md) naming the modules to
 * run and their settings.  It is parsed and checked whole before the
 * detector starts, so a bad file changes nothing: a syntax error names
 * its line and column (jansson's), an unknown module, key or response
 * is refused by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json_file.h"
#include "svc/ids/ids_int.h"

const char *const ids_module_names[M_COUNT] = {
	[M_LIE_DETECTOR] = "lie_detector",     [M_SYSTEM_FILES] = "system_files",
	[M_KERNEL_INTEGRITY] = "kernel_integrity", [M_RAW_SOCKETS] = "raw_sockets",
	[M_SHADOW_BURST] = "shadow_burst",     [M_CPU_NO_PERSON] = "cpu_no_person",
	[M_NETWORK] = "network",               [M_SERVICE_SHELL] = "service_shell",
	[M_PROCESS_FLOOD] = "process_flood",
};

const char *const ids_response_names[] = {"alert", "pause", "snapshot", "kill", "clone", NULL};

/* The keys each module takes besides "response". */
static const char *const module_keys[M_COUNT][6] = {
	[M_LIE_DETECTOR] = {"every_s"},
	[M_SYSTEM_FILES] = {"paths", "disk", "explain_s"},
	[M_KERNEL_INTEGRITY] = {"every_s", "text", "settle_s", "settle_insns"},
	[M_RAW_SOCKETS] = {"every_s", "allow"},
	[M_SHADOW_BURST] = {"paths", "within_s", "burst_s", "busy_mips", "exempt"},
	[M_CPU_NO_PERSON] = {"burst_s", "grace_s", "busy_mips"},
	[M_NETWORK] = {"listen_allow", "connect_allow", "max_out_bytes"},
	[M_SERVICE_SHELL] = {"shells"},
	[M_PROCESS_FLOOD] = {"every_s", "max_descendants", "max_new"},
};

static int globs_or_defaults(struct glob_list *l, const char *const *defaults, json_t *arr,
			     char *why, size_t whylen)
{
	glob_list_free(l);
	size_t n = 0;
	if (arr && !json_is_array(arr)) {
		snprintf(why, whylen, "must be an array of strings");
		return -1;
	}
	if (arr)
		n = json_array_size(arr);
	else
		while (defaults[n])
			n++;
	l->v = calloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; l->v && i < n; i++) {
		json_t *e = arr ? json_array_get(arr, i) : NULL;
		if (arr && !json_is_string(e) && !json_is_integer(e)) {
			snprintf(why, whylen, "element %zu is not a string", i);
			return -1;
		}
		char num[32];
		if (arr && json_is_integer(e))
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(e));
		l->v[i] = strdup(!arr ? defaults[i] : json_is_string(e) ? json_string_value(e) : num);
		l->n = i + 1;
	}
	return l->v ? 0 : -1;
}

static int number(json_t *obj, const char *key, double *out, double min, double max, char *why,
		  size_t whylen)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_number(v) || json_number_value(v) < min || json_number_value(v) > max) {
		snprintf(why, whylen, "%s must be a number from %g to %g", key, min, max);
		return -1;
	}
	*out = json_number_value(v);
	return 0;
}

static void defaults(struct ids_policy *p)
{
	static const char *const write_paths[] = {
		"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/sudoers",
		"/etc/ld.so.preload", "/etc/pam.d/*", "/bin/*", "/sbin/*", "/usr/bin/*", "/usr/sbin/*", "/lib/*", "/usr/lib/*", NULL};
	static const char *const secrets[] = {"/etc/shadow", "/etc/gshadow", NULL};
	/* The programs that read the password files to authenticate and
	 * then work hard on purpose (a slow hash, a key exchange), at their
	 * Debian paths (merged /usr, and the older split ones).  By the
	 * executable the kernel resolved, so the busybox guest's applets
	 * (/bin/login -> /bin/busybox) are never among them. */
	static const char *const exempt[] = {
		"/usr/sbin/sshd", "/usr/lib/openssh/sshd-session", "/usr/lib/openssh/sshd-auth",
		"/usr/bin/login", "/bin/login", "/usr/bin/su", "/bin/su", "/usr/bin/sudo",
		"/usr/bin/passwd", "/usr/bin/chage", "/usr/bin/chfn", "/usr/bin/chsh",
		"/usr/bin/gpasswd", "/usr/bin/newgrp", "/usr/sbin/unix_chkpwd", "/sbin/unix_chkpwd",
		"/usr/sbin/unix_update", "/sbin/unix_update", NULL};
	static const char *const raw_allow[] = {"udhcpc", "dhclient", "systemd-network", NULL};
	static const char *const listen_allow[] = {"80", NULL};
	static const char *const connect_allow[] = {"127.0.0.1:*", "10.0.2.*:*", NULL};
	static const char *const shells[] = {"*/sh", "*/ash", "*/bash", "*/dash", "*/zsh",
					     "*/ksh", "sh", "bash", NULL};
	char why[8];
	globs_or_defaults(&p->write_paths, write_paths, NULL, why, sizeof(why));
	globs_or_defaults(&p->secret_paths, secrets, NULL, why, sizeof(why));
	globs_or_defaults(&p->shadow_exempt, exempt, NULL, why, sizeof(why));
	globs_or_defaults(&p->raw_allow, raw_allow, NULL, why, sizeof(why));
	globs_or_defaults(&p->listen_allow, listen_allow, NULL, why, sizeof(why));
	globs_or_defaults(&p->connect_allow, connect_allow, NULL, why, sizeof(why));
	globs_or_defaults(&p->shells, shells, NULL, why, sizeof(why));
	p->every_s[M_LIE_DETECTOR] = 5;
	p->every_s[M_KERNEL_INTEGRITY] = 10;
	/* Debian's boot loads modules up to 2.3 G instructions apart; 140
	 * guest seconds apart on a loaded host, 40 on a quiet one */
	p->settle_insns = 6e9;
	p->settle_s = 600;
	p->every_s[M_RAW_SOCKETS] = 1;
	p->shadow_within_s = 120;
	p->shadow_burst_s = 2;
	p->cpu_burst_s = 30; /* a boot's busy helpers burn for seconds; a miner for ever */
	p->busy_mips[M_SHADOW_BURST] = p->busy_mips[M_CPU_NO_PERSON] = 20;
	p->grace_s = 3;
	p->max_out_bytes = 100u << 20;
	p->every_s[M_PROCESS_FLOOD] = 1;
	p->flood_descendants = 256;
	p->flood_new = 256;
	p->disk_writes = true;
	p->explain_s = 120;
}

/* One module's object: every key known, every value of its type. */
static int module(struct ids_policy *p, enum ids_module m, json_t *obj, char *why, size_t whylen)
{
	if (!json_is_object(obj)) {
		snprintf(why, whylen, "must be an object");
		return -1;
	}
	const char *key;
	json_t *val;
	json_object_foreach(obj, key, val) {
		bool known = !strcmp(key, "response");
		for (int i = 0; i < 6 && module_keys[m][i]; i++)
			known |= !strcmp(key, module_keys[m][i]);
		if (!known) {
			snprintf(why, whylen, "%s: unknown key", key);
			return -1;
		}
	}
	json_t *r = json_object_get(obj, "response");
	if (r) {
		int i = 0;
		while (ids_response_names[i] && !(json_is_string(r) &&
						  !strcmp(json_string_value(r), ids_response_names[i])))
			i++;
		if (!ids_response_names[i]) {
			snprintf(why, whylen, "response must be alert, pause, snapshot, kill or clone");
			return -1;
		}
		p->response[m] = (enum ids_response)i;
	}
	double d;
	int rc = number(obj, "every_s", &p->every_s[m], 0.1, 86400, why, whylen);
	rc = rc ? rc : number(obj, "within_s", &p->shadow_within_s, 0, 86400, why, whylen);
	rc = rc ? rc : number(obj, "grace_s", &p->grace_s, 0, 86400, why, whylen);
	rc = rc ? rc : number(obj, "explain_s", &p->explain_s, 0, 86400, why, whylen);
	rc = rc ? rc : number(obj, "settle_s", &p->settle_s, 0, 86400, why, whylen);
	rc = rc ? rc : number(obj, "settle_insns", &p->settle_insns, 0, 1e15, why, whylen);
	rc = rc ? rc : number(obj, "busy_mips", &p->busy_mips[m], 0.001, 1e6, why, whylen);
	d = m == M_SHADOW_BURST ? p->shadow_burst_s : p->cpu_burst_s;
	rc = rc ? rc : number(obj, "burst_s", &d, 1, 3600, why, whylen);
	if (m == M_SHADOW_BURST)
		p->shadow_burst_s = (unsigned)d;
	else
		p->cpu_burst_s = (unsigned)d;
	d = p->flood_descendants;
	rc = rc ? rc : number(obj, "max_descendants", &d, 2, 1e6, why, whylen);
	p->flood_descendants = (uint32_t)d;
	d = p->flood_new;
	rc = rc ? rc : number(obj, "max_new", &d, 2, 1e6, why, whylen);
	p->flood_new = (uint32_t)d;
	d = (double)p->max_out_bytes;
	rc = rc ? rc : number(obj, "max_out_bytes", &d, 1, 1e15, why, whylen);
	p->max_out_bytes = (uint64_t)d;
	json_t *t = json_object_get(obj, "text");
	if (!rc && t && !json_is_boolean(t)) {
		snprintf(why, whylen, "text must be true or false");
		rc = -1;
	}
	if (m == M_KERNEL_INTEGRITY)
		p->kernel_text = t && json_is_true(t);
	json_t *disk = json_object_get(obj, "disk");
	if (!rc && disk && !json_is_boolean(disk)) {
		snprintf(why, whylen, "disk must be true or false");
		rc = -1;
	}
	if (disk)
		p->disk_writes = json_is_true(disk);
	struct {
		const char *key;
		struct glob_list *l;
	} lists[] = {
		{"paths", m == M_SYSTEM_FILES ? &p->write_paths : &p->secret_paths},
		{"allow", &p->raw_allow},
		{"exempt", &p->shadow_exempt},
		{"listen_allow", &p->listen_allow},
		{"connect_allow", &p->connect_allow},
		{"shells", &p->shells},
	};
	for (size_t i = 0; !rc && i < sizeof(lists) / sizeof(lists[0]); i++) {
		json_t *arr = json_object_get(obj, lists[i].key);
		char inner[64] = "out of memory";
		if (arr && globs_or_defaults(lists[i].l, NULL, arr, inner, sizeof(inner))) {
			snprintf(why, whylen, "%s: %s", lists[i].key, inner);
			rc = -1;
		}
	}
	if (!rc && p->response[m] == R_KILL && (m == M_KERNEL_INTEGRITY || m == M_LIE_DETECTOR)) {
		snprintf(why, whylen, "response kill: this module names no process to kill");
		rc = -1;
	}
	return rc;
}

static int top_level(struct ids_policy *p, json_t *root, char *err, size_t errlen)
{
	const char *key;
	json_t *val;
	char why[256];
	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: the policy must be a JSON object", p->path);
		return -1;
	}
	json_object_foreach(root, key, val) {
		if (!strcmp(key, "output") || !strcmp(key, "snapshot_dir")) {
			if (!json_is_string(val)) {
				snprintf(err, errlen, "%s: %s must be a string", p->path, key);
				return -1;
			}
			*(key[0] == 'o' ? &p->output : &p->snapshot_dir) = strdup(json_string_value(val));
		} else if (strcmp(key, "policies")) {
			snprintf(err, errlen, "%s: %s: unknown key (output, snapshot_dir, policies)",
				 p->path, key);
			return -1;
		}
	}
	json_t *pol = json_object_get(root, "policies");
	if (!json_is_object(pol)) {
		snprintf(err, errlen, "%s: policies: missing, or not an object", p->path);
		return -1;
	}
	json_object_foreach(pol, key, val) {
		int m = 0;
		while (m < M_COUNT && strcmp(key, ids_module_names[m]))
			m++;
		if (m == M_COUNT) {
			size_t n = (size_t)snprintf(err, errlen, "%s: policies.%s: unknown policy (known:",
						    p->path, key);
			for (int i = 0; i < M_COUNT && n < errlen; i++)
				n += (size_t)snprintf(err + n, errlen - n, " %s", ids_module_names[i]);
			if (n < errlen)
				snprintf(err + n, errlen - n, ")");
			return -1;
		}
		p->on[m] = true;
		if (module(p, (enum ids_module)m, val, why, sizeof(why))) {
			snprintf(err, errlen, "%s: policies.%s: %s", p->path, key, why);
			return -1;
		}
	}
	return 0;
}

struct ids_policy *ids_policy_load(const char *path, char *err, size_t errlen)
{
	json_t *root = json_file_load(path, err, errlen);
	if (!root)
		return NULL;
	struct ids_policy *p = calloc(1, sizeof(*p));
	if (!p) {
		json_decref(root);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->path = strdup(path);
	defaults(p);
	int rc = top_level(p, root, err, errlen);
	json_decref(root);
	if (rc) {
		ids_policy_free(p);
		return NULL;
	}
	return p;
}

void ids_policy_free(struct ids_policy *p)
{
	if (!p)
		return;
	struct glob_list *lists[] = {&p->write_paths, &p->raw_allow, &p->secret_paths,
				   &p->shadow_exempt, &p->listen_allow, &p->connect_allow,
				   &p->shells};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		glob_list_free(lists[i]);
	free(p->path);
	free(p->output);
	free(p->snapshot_dir);
	free(p);
}

bool ids_policy_exempt(const struct ids_policy *p, const char *exe)
{
	return exe[0] && glob_list_match(&p->shadow_exempt, exe);
}

bool ids_policy_changes_guest(const struct ids_policy *p)
{
	for (int m = 0; m < M_COUNT; m++)
		if (p->on[m] && p->response[m] == R_KILL)
			return true;
	return false;
}

bool ids_policy_clones(const struct ids_policy *p)
{
	for (int m = 0; m < M_COUNT; m++)
		if (p->on[m] && p->response[m] == R_CLONE)
			return true;
	return false;
}
