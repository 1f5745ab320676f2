/* Kernel symbols without a hand-entered address: the guest kernel's own
 * kallsyms tables, found in physical memory by their shape, or a
 * System.map / vmlinux file when one is given.
 *
 * scripts/kallsyms.c lays the tables out in .rodata, each 8-aligned, in
 * one of two orders.  Up to Linux 6.3 (the default guest's 6.1):
 *   kallsyms_offsets[N] (u32), kallsyms_relative_base (u64),
 *   kallsyms_num_syms (u32), kallsyms_names (length-prefixed token
 *   strings), kallsyms_markers[(N+255)/256] (u32),
 *   [kallsyms_seqs_of_names[N] (3 bytes), from 6.2],
 *   kallsyms_token_table (256 NUL-terminated strings),
 *   kallsyms_token_index[256] (u16).
 * From 6.4 (Debian's 6.12) the offsets follow the token index:
 *   num_syms, names, markers, token_table, token_index,
 *   offsets[N], relative_base, seqs_of_names[N].
 * Digits stand for themselves in the token table (every symbol set uses
 * them), so "0\0" .. "9\0" in a row marks entries 0x30..0x39; the table
 * start, the index after it and every table before it are then checked
 * against each other, so a chance match in other data is rejected. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "svc/vmi/vmi_int.h"

#define MAX_SYMS (1u << 22)
#define MAX_BACK (64u << 20) /* how far below the token table the other tables may start */

static uint64_t align8(uint64_t x)
{
	return (x + 7) & ~7ull;
}

struct ktab {
	const uint8_t *ram; /* the whole of RAM */
	uint64_t size;
	uint64_t tt, ti; /* offsets in RAM of token_table and token_index */
	uint64_t offs, names, rb_val;
	uint32_t n;
};

static uint32_t rd32(const struct ktab *k, uint64_t off)
{
	uint32_t v;
	memcpy(&v, k->ram + off, 4);
	return v;
}

static uint16_t rd16(const struct ktab *k, uint64_t off)
{
	uint16_t v;
	memcpy(&v, k->ram + off, 2);
	return v;
}

/* The token table whose entry '0' is at d, and its index: 0, or -1. */
static int check_tokens(struct ktab *k, uint64_t d)
{
	uint64_t p = d;
	for (int i = 0x30; i < 256; i++) { /* to the end of the last token */
		const uint8_t *nul = memchr(k->ram + p, 0, k->size - p < 256 ? k->size - p : 256);
		if (!nul || nul == k->ram + p)
			return -1;
		p = (uint64_t)(nul - k->ram) + 1;
	}
	uint64_t ti = align8(p);
	if (ti + 512 > k->size || rd16(k, ti) != 0 || rd16(k, ti + 2 * 0x30) > d)
		return -1;
	uint64_t tt = d - rd16(k, ti + 2 * 0x30);
	for (int i = 0; i < 256; i++) {
		uint64_t start = tt + rd16(k, ti + 2 * i);
		uint64_t end = i < 255 ? tt + rd16(k, ti + 2 * (i + 1)) : p;
		if (end <= start + 1 || end > p || k->ram[end - 1] != 0 ||
		    memchr(k->ram + start, 0, end - 1 - start))
			return -1;
	}
	k->tt = tt;
	k->ti = ti;
	return 0;
}

/* Symbols are sorted by address, so their offsets never go down: a
 * table of N u32 that does is not kallsyms_offsets. */
static bool offsets_sorted(const struct ktab *k, uint64_t offs, uint32_t n)
{
	if (offs + 4ull * n > k->size)
		return false;
	for (uint32_t i = 1; i < n; i++)
		if (rd32(k, offs + 4ull * i) < rd32(k, offs + 4ull * (i - 1)))
			return false;
	return true;
}

/* kallsyms_num_syms at p: do the tables from there on fit together up to
 * the token table, with the offsets and relative base before them (old
 * order) or after the token index (new order)? */
static int check_tables_at(struct ktab *k, uint64_t p)
{
	uint32_t n = rd32(k, p);
	if (n == 0 || n > MAX_SYMS)
		return -1;
	uint64_t names = p + 8, q = names, marker1 = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (i == 256)
			marker1 = q - names;
		if (q + 2 > k->tt)
			return -1;
		uint32_t len = k->ram[q];
		uint32_t hdr = 1;
		if (len & 0x80) {
			len = (len & 0x7f) | ((uint32_t)k->ram[q + 1] << 7);
			hdr = 2;
		}
		if (len == 0)
			return -1;
		q += hdr + len;
	}
	uint64_t markers = align8(q), nmark = (n + 255) / 256;
	if (markers + 4 * nmark > k->tt || rd32(k, markers) != 0 ||
	    (n > 256 && rd32(k, markers + 4) != marker1))
		return -1;
	uint64_t after = align8(markers + 4 * nmark), need = align8(4ull * n), rb;
	bool seqs_here = after != k->tt;
	if (seqs_here && align8(after + 3ull * n) != k->tt)
		return -1;
	/* old order: relative_base right below num_syms, offsets below it */
	if (p >= 8 + need) {
		memcpy(&rb, k->ram + p - 8, 8);
		if ((rb >> 48) == 0xffff && offsets_sorted(k, p - 8 - need, n)) {
			k->offs = p - 8 - need;
			goto found;
		}
	}
	/* new order: offsets after the token index (no sequence table here) */
	uint64_t offs = align8(k->ti + 512);
	if (seqs_here || offs + need + 8 > k->size)
		return -1;
	memcpy(&rb, k->ram + offs + need, 8);
	if ((rb >> 48) != 0xffff || !offsets_sorted(k, offs, n))
		return -1;
	k->offs = offs;
found:
	k->n = n;
	k->rb_val = rb;
	k->names = names;
	return 0;
}

static int find_tables(struct ktab *k)
{
	static const char digits[] = "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0" "8\0" "9";
	const uint8_t *p = k->ram, *end = k->ram + k->size;
	while (p < end) {
		const uint8_t *hit = memmem(p, (size_t)(end - p), digits, sizeof(digits));
		if (!hit)
			return -1;
		p = hit + 1;
		if (check_tokens(k, (uint64_t)(hit - k->ram)))
			continue;
		uint64_t lo = k->tt > MAX_BACK ? k->tt - MAX_BACK : 0;
		if (k->tt < 16)
			continue;
		for (uint64_t q = (k->tt & ~7ull) - 8; q >= lo + 8; q -= 8)
			if (check_tables_at(k, q) == 0)
				return 0;
	}
	return -1;
}

/* Expand one compressed name at *q into buf; advances *q. */
static void expand_name(const struct ktab *k, uint64_t *q, char *buf, size_t max, char *type)
{
	uint32_t len = k->ram[*q], hdr = 1;
	if (len & 0x80) {
		len = (len & 0x7f) | ((uint32_t)k->ram[*q + 1] << 7);
		hdr = 2;
	}
	const uint8_t *s = k->ram + *q + hdr;
	size_t o = 0;
	bool first = true;
	*type = '?';
	for (uint32_t i = 0; i < len; i++) {
		const char *tok = (const char *)k->ram + k->tt + rd16(k, k->ti + 2 * s[i]);
		for (; *tok; tok++) {
			if (first) {
				*type = *tok;
				first = false;
			} else if (o + 1 < max) {
				buf[o++] = *tok;
			}
		}
	}
	buf[o] = 0;
	*q += hdr + len;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct ksym *)a)->name, ((const struct ksym *)b)->name);
}

static int by_addr(const void *a, const void *b)
{
	uint64_t x = ((const struct ksym *)a)->addr, y = ((const struct ksym *)b)->addr;
	return x < y ? -1 : x > y;
}

/* A symbol with its name's first 8 bytes as a big-endian number (NUL
 * and what follows as zeros): comparing the numbers orders as strcmp
 * does, so only names that share 8 bytes need strcmp.  Sorting a
 * kernel's 20,000-odd names was most of the event stream's attach at
 * boot. */
struct keyed_sym {
	uint64_t key;
	struct ksym s;
};

static uint64_t name_key(const char *name)
{
	uint64_t k = 0;
	int i = 0;
	for (; i < 8 && name[i]; i++)
		k = k << 8 | (unsigned char)name[i];
	return i ? k << (8 * (8 - i)) : 0; /* a shift by 64 would be undefined */
}

static int by_key(const void *a, const void *b)
{
	const struct keyed_sym *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return strcmp(x->s.name, y->s.name);
}

/* Sort the table both ways (the address copy shares the names).  Both
 * sorts are stable (glibc's qsort is a merge sort), so the name order is
 * strcmp's with ties in loading order however it is computed.  Only
 * addresses are read from by_addr, so its ties need no particular
 * order, and kallsyms comes sorted by address already. */
static int ksyms_finish(struct ksyms *ks, char *err, size_t errlen)
{
	ks->by_addr = malloc(ks->n * sizeof(*ks->by_addr) + 1);
	struct keyed_sym *keyed = malloc(ks->n * sizeof(*keyed) + 1);
	if (!ks->by_addr || !keyed) {
		free(keyed);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(ks->by_addr, ks->by_name, ks->n * sizeof(*ks->by_addr));
	size_t i = 1;
	while (i < ks->n && ks->by_addr[i - 1].addr <= ks->by_addr[i].addr)
		i++;
	if (i < ks->n)
		qsort(ks->by_addr, ks->n, sizeof(*ks->by_addr), by_addr);
	for (i = 0; i < ks->n; i++)
		keyed[i] = (struct keyed_sym){name_key(ks->by_name[i].name), ks->by_name[i]};
	qsort(keyed, ks->n, sizeof(*keyed), by_key);
	for (i = 0; i < ks->n; i++)
		ks->by_name[i] = keyed[i].s;
	free(keyed);
	return 0;
}

int ksyms_from_ram(struct ksyms *ks, const struct memview *mv, char *err, size_t errlen)
{
	memset(ks, 0, sizeof(*ks));
	struct ktab k = {.ram = mv->ram, .size = mv->size};
	if (!mv->ram || find_tables(&k)) {
		snprintf(err, errlen, "no kallsyms tables in guest RAM (a kernel without "
				      "CONFIG_KALLSYMS, or not loaded yet): give --system-map or --vmlinux");
		return -1;
	}
	ks->by_name = calloc(k.n, sizeof(*ks->by_name));
	if (!ks->by_name) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	uint64_t q = k.names;
	char name[512];
	for (uint32_t i = 0; i < k.n; i++) {
		struct ksym *s = &ks->by_name[i];
		expand_name(&k, &q, name, sizeof(name), &s->type);
		s->addr = k.rb_val + rd32(&k, k.offs + 4ull * i);
		s->name = strdup(name);
		ks->n = i + 1;
		if (!s->name) {
			snprintf(err, errlen, "out of memory");
			ksyms_free(ks);
			return -1;
		}
	}
	snprintf(ks->source, sizeof(ks->source), "kallsyms in RAM at 0x%" PRIx64,
		 mv->base + k.offs);
	return ksyms_finish(ks, err, errlen);
}

static int add_sym(struct ksyms *ks, size_t *cap, uint64_t addr, char type, const char *name)
{
	if (ks->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4096;
		struct ksym *p = realloc(ks->by_name, ncap * sizeof(*p));
		if (!p)
			return -1;
		ks->by_name = p;
		*cap = ncap;
	}
	char *dup = strdup(name);
	if (!dup)
		return -1;
	ks->by_name[ks->n++] = (struct ksym){addr, type, dup};
	return 0;
}

int ksyms_from_system_map(struct ksyms *ks, const char *path, char *err, size_t errlen)
{
	memset(ks, 0, sizeof(*ks));
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[1024], name[512], type;
	uint64_t addr;
	size_t cap = 0, lineno = 0;
	int rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (sscanf(line, "%" SCNx64 " %c %511s", &addr, &type, name) != 3) {
			snprintf(err, errlen, "%s:%zu: not a System.map line", path, lineno);
			rc = -1;
			break;
		}
		if (add_sym(ks, &cap, addr, type, name)) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
			break;
		}
	}
	fclose(f);
	if (rc == 0 && ks->n == 0) {
		snprintf(err, errlen, "%s: no symbols", path);
		rc = -1;
	}
	if (rc == 0) {
		snprintf(ks->source, sizeof(ks->source), "System.map");
		rc = ksyms_finish(ks, err, errlen);
	}
	if (rc)
		ksyms_free(ks);
	return rc;
}

int ksyms_from_elf(struct ksyms *ks, const char *path, char *err, size_t errlen)
{
	memset(ks, 0, sizeof(*ks));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	Elf_Scn *scn = NULL;
	size_t cap = 0;
	int rc = -1;
	snprintf(err, errlen, "%s: no symbol table", path);
	while (e && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		size_t count = sh.sh_size / sh.sh_entsize;
		rc = 0;
		for (size_t i = 0; d && i < count; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(d, (int)i, &sym))
				break;
			const char *name = elf_strptr(e, sh.sh_link, sym.st_name);
			int t = GELF_ST_TYPE(sym.st_info);
			if (!name || !*name || t == STT_FILE || t == STT_SECTION || sym.st_shndx == SHN_UNDEF)
				continue;
			if (add_sym(ks, &cap, sym.st_value, t == STT_FUNC ? 't' : 'd', name)) {
				snprintf(err, errlen, "out of memory");
				rc = -1;
				break;
			}
		}
		break;
	}
	if (!e)
		snprintf(err, errlen, "%s: not an ELF file (%s)", path, elf_errmsg(-1));
	if (e)
		elf_end(e);
	close(fd);
	if (rc == 0 && ks->n == 0) {
		snprintf(err, errlen, "%s: no symbols", path);
		rc = -1;
	}
	if (rc == 0) {
		snprintf(ks->source, sizeof(ks->source), "vmlinux symbol table");
		rc = ksyms_finish(ks, err, errlen);
	}
	if (rc)
		ksyms_free(ks);
	return rc;
}

void ksyms_free(struct ksyms *ks)
{
	for (size_t i = 0; ks->by_name && i < ks->n; i++)
		free(ks->by_name[i].name);
	free(ks->by_name);
	free(ks->by_addr);
	memset(ks, 0, sizeof(*ks));
}

int ksyms_lookup(const struct ksyms *ks, const char *name, uint64_t *addr)
{
	struct ksym key = {.name = (char *)name};
	const struct ksym *s = ks->n ? bsearch(&key, ks->by_name, ks->n, sizeof(key), by_name) : NULL;
	if (!s)
		return -1;
	*addr = s->addr;
	return 0;
}

uint64_t ksyms_next_addr(const struct ksyms *ks, uint64_t addr)
{
	size_t lo = 0, hi = ks->n; /* the first symbol with an address above addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ks->by_addr[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ks->n ? ks->by_addr[lo].addr : 0;
}
