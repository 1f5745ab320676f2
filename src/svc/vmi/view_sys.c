/* System-wide views: mounts, network interfaces, modules and the
 * integrity of the kernel's code and read-only data. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "svc/vmi/vmi_int.h"

/* Walk a kernel list_head at head whose entries embed their link at
 * link_off; fn(entry) for each, at most VMI_MAX_LIST, and each once: a
 * list that comes back to an entry other than its head is cut short
 * there. */
typedef void (*entry_fn)(struct vmi *v, struct view_out *o, uint64_t entry, void *opaque);

static void walk_list(struct vmi *v, struct view_out *o, uint64_t head, uint64_t link_off,
		      const char *what, entry_fn fn, void *opaque)
{
	uint64_t next;
	if (kread(v, head, &next, 8)) {
		note(o, "the %s list head is unreadable", what);
		return;
	}
	struct seen_set seen = {0};
	for (long n = 0; next != head; n++) {
		if (n >= VMI_MAX_LIST) {
			note(o, "the %s list did not end after %d entries: cut short", what,
			     VMI_MAX_LIST);
			break;
		}
		if (seen_before(&seen, next)) {
			note(o, "the %s list comes back to 0x%" PRIx64 " without passing its head "
				"(a cycle): cut short",
			     what, next);
			break;
		}
		uint64_t entry = next - link_off;
		if (kread(v, next, &next, 8)) {
			note(o, "the %s list is broken: cut short", what);
			break;
		}
		fn(v, o, entry, opaque);
	}
	seen_free(&seen);
}

static void mount_row(struct vmi *v, struct view_out *o, uint64_t mount, void *opaque)
{
	uint64_t vfsmnt = mount + v->f[F_MOUNT_MNT].off;
	char dev[256], type[64], path[VMI_MAX_PATH];
	if (kstr(v, kptr(v, mount, F_MOUNT_DEVNAME), dev, sizeof(dev)) < 0)
		snprintf(dev, sizeof(dev), "?");
	uint64_t sb = kptr(v, vfsmnt, F_VFSMOUNT_SB), fst = kptr(v, sb, F_SB_TYPE);
	if (kstr(v, kptr(v, fst, F_FSTYPE_NAME), type, sizeof(type)) < 0)
		snprintf(type, sizeof(type), "?");
	kpath(v, vfsmnt, kptr(v, vfsmnt, F_VFSMOUNT_ROOT), path, sizeof(path));
	json_array_append_new(o->rows, json_pack("{s:o,s:o,s:o}", "device", gstr(dev), "mountpoint",
						 gstr(path), "type", gstr(type)));
}

/* An in-order walk of the red-black tree rooted at root_va (a struct
 * rb_root) whose entries embed their rb_node at node_off: fn(entry) from
 * the smallest key up, as rb_first/rb_next go.  Bounded in entries and in
 * depth (a real tree of VMI_MAX_LIST nodes is at most 2*log2 deep). */
#define RB_MAX_DEPTH 64
static void walk_rbtree(struct vmi *v, struct view_out *o, uint64_t root_va, uint64_t node_off,
			const char *what, entry_fn fn, void *opaque)
{
	uint64_t stack[RB_MAX_DEPTH], node = kptr(v, root_va, F_RBROOT_NODE);
	int sp = 0;
	long n = 0;
	while (node || sp) {
		while (node) {
			if (sp == RB_MAX_DEPTH) {
				note(o, "the %s tree is deeper than %d (not a red-black tree): cut short",
				     what, RB_MAX_DEPTH);
				return;
			}
			stack[sp++] = node;
			node = kptr(v, node, F_RB_LEFT);
		}
		node = stack[--sp];
		if (n++ >= VMI_MAX_LIST) {
			note(o, "the %s tree has more than %d entries (a cycle?): cut short", what,
			     VMI_MAX_LIST);
			return;
		}
		fn(v, o, node - node_off, opaque);
		node = kptr(v, node, F_RB_RIGHT);
	}
}

int view_mounts(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen)
{
	bool list = v->f[F_MNTNS_LIST].ok && v->f[F_MOUNT_LIST].ok;
	bool tree = v->f[F_MNTNS_MOUNTS].ok && v->f[F_MOUNT_NODE].ok && v->f[F_RBROOT_NODE].ok &&
		    v->f[F_RB_LEFT].ok && v->f[F_RB_RIGHT].ok;
	if (!list && !tree) {
		snprintf(err, errlen, "view 'mounts' refused: this kernel's BTF lacks "
				      "mnt_namespace.list with mount.mnt_list (Linux up to 6.7) and "
				      "mnt_namespace.mounts with mount.mnt_node (6.8 on)");
		return -1;
	}
	uint64_t init = ksym(v, "init_task");
	uint64_t ns = kptr(v, kptr(v, init, F_TASK_NSPROXY), F_NSPROXY_MNT_NS);
	if (!ns) {
		snprintf(err, errlen, "init_task's mount namespace is unreadable");
		return -1;
	}
	if (list)
		walk_list(v, o, ns + v->f[F_MNTNS_LIST].off, v->f[F_MOUNT_LIST].off, "mount",
			  mount_row, NULL);
	else
		walk_rbtree(v, o, ns + v->f[F_MNTNS_MOUNTS].off, v->f[F_MOUNT_NODE].off, "mount",
			    mount_row, NULL);
	return 0;
}

static void iface_row(struct vmi *v, struct view_out *o, uint64_t dev, void *opaque)
{
	char name[17] = "";
	uint64_t flags = 0, ifindex = 0, mtu = 0, alen = 0;
	if (kread(v, dev + v->f[F_NETDEV_NAME].off, name, 16))
		snprintf(name, sizeof(name), "?");
	name[16] = 0;
	kfield(v, dev, F_NETDEV_FLAGS, &flags);
	kfield(v, dev, F_NETDEV_IFINDEX, &ifindex);
	kfield(v, dev, F_NETDEV_MTU, &mtu);
	kfield(v, dev, F_NETDEV_ADDR_LEN, &alen);
	uint8_t addr[32] = {0};
	char mac[3 * 32 + 1] = "";
	uint64_t ap = kptr(v, dev, F_NETDEV_ADDR);
	if (alen > sizeof(addr))
		alen = sizeof(addr);
	if (ap && alen && kread(v, ap, addr, alen) == 0)
		for (uint64_t i = 0; i < alen; i++)
			snprintf(mac + (i ? 3 * i - 1 : 0), 4, "%s%02x", i ? ":" : "", addr[i]);
	/* include/uapi/linux/if.h */
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{0x1, "UP"},	  {0x2, "BROADCAST"}, {0x8, "LOOPBACK"}, {0x10, "POINTOPOINT"},
		     {0x40, "RUNNING"}, {0x80, "NOARP"},	   {0x100, "PROMISC"}, {0x200, "ALLMULTI"},
		     {0x1000, "MULTICAST"}};
	char fl[160] = "";
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].bit)
			snprintf(fl + strlen(fl), sizeof(fl) - strlen(fl), "%s%s", fl[0] ? "," : "",
				 names[i].name);
	json_array_append_new(o->rows, json_pack("{s:I,s:o,s:s,s:b,s:I,s:s}", "ifindex",
						 (json_int_t)(int32_t)ifindex, "name", gstr(name), "flags",
						 fl, "promisc", (flags & 0x100) != 0, "mtu",
						 (json_int_t)mtu, "addr", mac));
}

int view_ifaces(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen)
{
	uint64_t net = ksym(v, "init_net");
	if (!net) {
		snprintf(err, errlen, "no init_net symbol");
		return -1;
	}
	walk_list(v, o, net + v->f[F_NET_DEV_BASE].off, v->f[F_NETDEV_LIST].off, "device",
		  iface_row, NULL);
	return 0;
}

/* The modules view: the module list (what lsmod and /proc/modules show)
 * and /sys/module's kobjects (module_kset), where a module that took
 * itself off the list to hide still is. */
#define MAX_MODULES 4096
struct mod_seen {
	uint64_t mod[MAX_MODULES];
	bool in_list[MAX_MODULES], in_sysfs[MAX_MODULES];
	size_t n;
	bool full;
};

static void mod_mark(struct mod_seen *m, uint64_t mod, bool list)
{
	size_t i = 0;
	while (i < m->n && m->mod[i] != mod)
		i++;
	if (i == m->n) {
		if (m->n == MAX_MODULES) {
			m->full = true;
			return;
		}
		m->mod[m->n++] = mod;
	}
	if (list)
		m->in_list[i] = true;
	else
		m->in_sysfs[i] = true;
}

static void module_entry(struct vmi *v, struct view_out *o, uint64_t mod, void *m)
{
	mod_mark(m, mod, true);
}

static void kobj_entry(struct vmi *v, struct view_out *o, uint64_t kobj, void *m)
{
	uint64_t mod = kptr(v, kobj - v->f[F_MKOBJ_KOBJ].off, F_MKOBJ_MOD);
	if (mod) /* built-in code has a /sys/module entry too, without a module */
		mod_mark(m, mod, false);
}

static void module_row(struct vmi *v, struct view_out *o, uint64_t mod, bool list, bool sysfs,
		       bool have_sysfs, json_t *hidden)
{
	char name[64] = "";
	uint64_t state = 0;
	uint32_t n = v->f[F_MODULE_NAME].size < 63 ? v->f[F_MODULE_NAME].size : 63;
	if (kread(v, mod + v->f[F_MODULE_NAME].off, name, n))
		snprintf(name, sizeof(name), "?");
	name[n] = 0;
	kfield(v, mod, F_MODULE_STATE, &state);
	static const char *const states[] = {"live", "coming", "going", "unformed"};
	json_array_append_new(o->rows, json_pack("{s:o,s:s,s:b,s:o}", "name", gstr(name), "state",
						 state < 4 ? states[state] : "?", "module_list",
						 list, "sysfs",
						 have_sysfs ? json_boolean(sysfs) : json_null()));
	if (!list)
		json_array_append_new(hidden, gstr(name));
}

int view_modules(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen)
{
	struct mod_seen *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	walk_list(v, o, ksym(v, "modules"), v->f[F_MODULE_LIST].off, "module", module_entry, m);
	uint64_t kset_p, kset = 0;
	bool have_sysfs = v->f[F_KSET_LIST].ok && v->f[F_KOBJ_ENTRY].ok && v->f[F_MKOBJ_KOBJ].ok &&
			  v->f[F_MKOBJ_MOD].ok && ksyms_lookup(&v->syms, "module_kset", &kset_p) == 0 &&
			  kread(v, kset_p, &kset, 8) == 0 && kset;
	if (have_sysfs)
		walk_list(v, o, kset + v->f[F_KSET_LIST].off, v->f[F_KOBJ_ENTRY].off,
			  "/sys/module", kobj_entry, m);
	else
		note(o, "/sys/module not read (no module_kset, or its types are missing)");
	if (m->full)
		note(o, "more than %d modules: cut short", MAX_MODULES);
	json_t *hidden = json_array();
	for (size_t i = 0; i < m->n; i++)
		module_row(v, o, m->mod[i], m->in_list[i], m->in_sysfs[i], have_sysfs, hidden);
	json_object_set_new(o->extra, "hidden", hidden);
	free(m);
	return 0;
}

/* ---- integrity ---- */

/* The kernel patches its own text at run time: each static key's sites
 * (listed in the jump table) hold a nop while the key is off and a jal to
 * the entry's target while it is on, flipped whenever a key is
 * (cgroup BPF for a login's session, timestamping for a socket...).  The
 * text hash counts a site in either of those two states as the nop, so
 * the kernel's own flips leave it alone while anything else written there,
 * or anywhere else in the text, changes it.  Sites are RISC-V's
 * (arch/riscv/kernel/jump_label.c): 4 bytes, 4-aligned; the entries are
 * the relative kind (struct jump_entry: s32 code, s32 target, long key,
 * each an offset from its own field). */
struct jump_site {
	uint64_t code, target;
};

#define JUMP_ENTRY 16
#define VMI_MAX_JUMP_SITES (1u << 20)
#define INSN_NOP 0x00000013u

static int site_cmp(const void *a, const void *b)
{
	const struct jump_site *x = a, *y = b;
	return x->code < y->code ? -1 : x->code > y->code;
}

/* The sites in [start, end), sorted; *n of them (0 and NULL: no jump
 * table, as in a kernel without CONFIG_JUMP_LABEL).  -1: unreadable. */
static int jump_sites(struct vmi *v, uint64_t start, uint64_t end, struct jump_site **out,
		      size_t *n)
{
	*out = NULL;
	*n = 0;
	uint64_t t0 = ksym(v, "__start___jump_table"), t1 = ksym(v, "__stop___jump_table");
	if (!t0 || !t1 || t1 <= t0)
		return 0;
	if ((t1 - t0) % JUMP_ENTRY || (t1 - t0) / JUMP_ENTRY > VMI_MAX_JUMP_SITES)
		return -1;
	size_t count = (t1 - t0) / JUMP_ENTRY;
	struct jump_site *s = malloc(count * sizeof(*s));
	uint8_t buf[4096];
	if (!s)
		return -1;
	for (uint64_t a = t0; a < t1; a += sizeof(buf)) {
		size_t len = t1 - a < sizeof(buf) ? t1 - a : sizeof(buf);
		if (kread(v, a, buf, len)) {
			free(s);
			return -1;
		}
		for (size_t off = 0; off < len; off += JUMP_ENTRY) {
			int32_t code, target;
			memcpy(&code, buf + off, 4);
			memcpy(&target, buf + off + 4, 4);
			uint64_t c = a + off + (uint64_t)(int64_t)code;
			if (c >= start && c + 4 <= end && !(c & 3))
				s[(*n)++] = (struct jump_site){c, a + off + 4 + (uint64_t)(int64_t)target};
		}
	}
	qsort(s, *n, sizeof(*s), site_cmp);
	*out = s;
	return 0;
}

/* jal x0, to (J-type immediate: bits 20 | 10:1 | 11 | 19:12). */
static uint32_t jal_to(uint64_t from, uint64_t to)
{
	uint32_t off = (uint32_t)(to - from);
	return 0x6fu | (off & 0xff000u) | (off >> 11 & 1) << 20 | (off >> 1 & 0x3ffu) << 21 |
	       (off >> 20 & 1) << 31;
}

/* SHA-256 of [start, end) of kernel memory, page by page, each of the
 * sorted sites in a kernel-made state counted as a nop.  Through OpenSSL,
 * which uses the host's SHA extensions: the kernel's text and read-only
 * data are megabytes, and libsodium's portable SHA-256 took 55 host
 * instructions a byte (259 million for the default guest's 4.6 MB, 3% of
 * a short benchmark under --ids), OpenSSL's a few.  The same digest either
 * way, so baselines do not change. */
static int hash_range(struct vmi *v, uint64_t start, uint64_t end, const struct jump_site *site,
		      size_t nsites, char hex[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	uint8_t page[4096];
	size_t k = 0;
	int rc = 0;
	for (uint64_t a = start; a < end && !rc;) {
		size_t n = 4096 - (a & 4095);
		if (n > end - a)
			n = end - a;
		if (kread(v, a, page, n)) {
			rc = -1;
			break;
		}
		for (; k < nsites && site[k].code + 4 <= a + n; k++) {
			uint32_t insn;
			memcpy(&insn, page + (site[k].code - a), 4);
			if (insn == INSN_NOP || insn == jal_to(site[k].code, site[k].target)) {
				insn = INSN_NOP;
				memcpy(page + (site[k].code - a), &insn, 4);
			}
		}
		if (!EVP_DigestUpdate(ctx, page, n))
			rc = -1;
		a += n;
	}
	uint8_t d[32];
	unsigned len = 0;
	if (!rc && (!EVP_DigestFinal_ex(ctx, d, &len) || len != sizeof(d)))
		rc = -1;
	EVP_MD_CTX_free(ctx);
	if (!rc)
		sodium_bin2hex(hex, 65, d, 32);
	return rc;
}

int view_integrity(struct vmi *v, struct view_out *o, const char *arg, char *err, size_t errlen)
{
	static const struct {
		const char *name, *start, *end;
	} ranges[] = {
		{"text", "_stext", "_etext"},
		{"rodata", "__start_rodata", "__end_rodata"},
		{"sys_call_table", "sys_call_table", NULL},
	};
	crypto_hash_sha256_state all;
	crypto_hash_sha256_init(&all);
	bool complete = true;
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		uint64_t s = ksym(v, ranges[i].start);
		uint64_t e = ranges[i].end ? ksym(v, ranges[i].end) : ksyms_next_addr(&v->syms, s);
		char hex[65] = "";
		if (!s || !e || e <= s || e - s > (256u << 20)) {
			note(o, "%s: no extent (symbols %s..%s)", ranges[i].name, ranges[i].start,
			     ranges[i].end ? ranges[i].end : "next");
			complete = false;
			continue;
		}
		struct jump_site *sites = NULL;
		size_t nsites = 0;
		if (!strcmp(ranges[i].name, "text") && jump_sites(v, s, e, &sites, &nsites))
			note(o, "text: the jump table is unreadable: static-key sites hashed as they are");
		int rc = hash_range(v, s, e, sites, nsites, hex);
		free(sites);
		if (rc) {
			note(o, "%s: not all of it is mapped", ranges[i].name);
			complete = false;
			continue;
		}
		crypto_hash_sha256_update(&all, (const uint8_t *)hex, 64);
		char a[24];
		snprintf(a, sizeof(a), "0x%" PRIx64, s);
		json_t *row = json_pack("{s:s,s:s,s:I,s:s}", "range", ranges[i].name, "start", a,
					"bytes", (json_int_t)(e - s), "sha256", hex);
		if (!strcmp(ranges[i].name, "text"))
			json_object_set_new(row, "jump_sites", json_integer((json_int_t)nsites));
		json_array_append_new(o->rows, row);
	}
	uint8_t d[32];
	char hex[65];
	crypto_hash_sha256_final(&all, d);
	sodium_bin2hex(hex, 65, d, 32);
	json_object_set_new(o->extra, "kernel_sha256", complete ? json_string(hex) : json_null());
	return 0;
}
