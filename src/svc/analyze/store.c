/* The collector's storage: growable arrays and interned object names
 * (one index per file, pipe or connection direction, however often it is
 * read or written). */
#include <stdlib.h>
#include <string.h>

#include "svc/analyze/analyze_int.h"

void *an_push(struct an_buf *b, size_t sz)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 256;
		void *p = realloc(b->p, cap * sz);
		if (!p)
			return NULL;
		b->p = p;
		b->cap = cap;
	}
	void *e = (char *)b->p + b->n++ * sz;
	memset(e, 0, sz);
	return e;
}

static uint64_t hash_name(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

/* The slot where name is, or the empty one where it would go. */
static size_t slot_of(const struct an_objs *o, const char *name)
{
	size_t mask = o->nslot - 1, i = hash_name(name) & mask;
	while (o->slot[i] && strcmp(an_obj(o, o->slot[i] - 1)->name, name))
		i = (i + 1) & mask;
	return i;
}

static int grow(struct an_objs *o)
{
	size_t n = o->nslot ? 2 * o->nslot : 1024;
	uint32_t *old = o->slot;
	size_t oldn = o->nslot;
	if (!(o->slot = calloc(n, sizeof(*o->slot)))) {
		o->slot = old;
		return -1;
	}
	o->nslot = n;
	for (size_t i = 0; i < oldn; i++)
		if (old[i])
			o->slot[slot_of(o, an_obj(o, old[i] - 1)->name)] = old[i];
	free(old);
	return 0;
}

uint32_t an_obj_find(const struct an_objs *o, const char *name)
{
	if (!o->nslot)
		return AN_NONE;
	size_t i = slot_of(o, name);
	return o->slot[i] ? o->slot[i] - 1 : AN_NONE;
}

uint32_t an_obj_intern(struct an_objs *o, enum an_obj_kind kind, const char *name)
{
	uint32_t found = an_obj_find(o, name);
	if (found != AN_NONE)
		return found;
	if (2 * (o->v.n + 1) > o->nslot && grow(o))
		return AN_NONE;
	char *copy = strdup(name);
	struct an_obj *ob = copy ? an_push(&o->v, sizeof(*ob)) : NULL;
	if (!ob) {
		free(copy);
		return AN_NONE;
	}
	ob->kind = kind;
	ob->name = copy;
	o->slot[slot_of(o, name)] = (uint32_t)o->v.n;
	return (uint32_t)o->v.n - 1;
}
