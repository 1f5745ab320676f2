/* Reads of kernel memory through the kernel's page table, by field.
 * Every read goes through the memory view: a pointer into MMIO, outside
 * RAM or into an unmapped page is an error the caller sees, never a host
 * access. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc/vmi/vmi_int.h"

int kread(const struct vmi *v, uint64_t va, void *buf, size_t len)
{
	return memview_read_virt(&v->mv, v->satp, va, buf, len) == len ? 0 : -1;
}

int kphys(const struct vmi *v, uint64_t va, uint64_t *pa)
{
	return memview_translate(&v->mv, v->satp, va, pa, NULL) == MV_OK ? 0 : -1;
}

int kfield(const struct vmi *v, uint64_t base, enum field_id id, uint64_t *out)
{
	const struct field *f = &v->f[id];
	*out = 0;
	if (!f->ok || f->size > 8 || !base)
		return -1;
	uint64_t val = 0;
	if (kread(v, base + f->off, &val, f->size))
		return -1;
	if (f->bit_size)
		val = (val >> f->bit_off) & ((1ull << f->bit_size) - 1);
	*out = val;
	return 0;
}

uint64_t kptr(const struct vmi *v, uint64_t base, enum field_id id)
{
	uint64_t p;
	return kfield(v, base, id, &p) == 0 ? p : 0;
}

int kstr(const struct vmi *v, uint64_t va, char *buf, size_t max)
{
	size_t done = 0;
	buf[0] = 0;
	if (!va)
		return -1;
	while (done + 1 < max) {
		size_t chunk = 4096 - ((va + done) & 4095);
		if (chunk > max - 1 - done)
			chunk = max - 1 - done;
		size_t got = memview_read_virt(&v->mv, v->satp, va + done, buf + done, chunk);
		char *nul = memchr(buf + done, 0, got);
		if (nul)
			return 0;
		done += got;
		if (got < chunk) {
			buf[done] = 0;
			return done ? 1 : -1;
		}
	}
	buf[done] = 0;
	return 1;
}

uint64_t ksym(const struct vmi *v, const char *name)
{
	uint64_t a;
	return ksyms_lookup(&v->syms, name, &a) == 0 ? a : 0;
}

/* The length of the valid UTF-8 sequence at s (0: not one). */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
		 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (n == 2 && s[0] < 0xc2)
		return 0; /* overlong */
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

json_t *gstr(const char *s)
{
	size_t len = strlen(s);
	char *c = malloc(len + 1);
	if (!c)
		return json_null();
	for (size_t i = 0; i <= len;) {
		size_t n = s[i] ? utf8_len((const unsigned char *)s + i) : 1;
		if (n == 0) {
			c[i++] = '?';
			continue;
		}
		memcpy(c + i, s + i, n);
		i += n;
	}
	json_t *j = json_string(c); /* still refused (overlong 3/4-byte forms): say so */
	free(c);
	return j ? j : json_string("?");
}

void note(struct view_out *o, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* the same note once, however many objects it applies to */
	size_t i;
	json_t *n;
	json_array_foreach(o->notes, i, n)
		if (!strcmp(json_string_value(n), buf))
			return;
	json_array_append_new(o->notes, json_string(buf));
}
