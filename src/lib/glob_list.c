/* See lib/glob_list.h. */
#include "lib/glob_list.h"

#include <fnmatch.h>
#include <stdlib.h>

bool glob_list_match(const struct glob_list *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (fnmatch(l->v[i], s, 0) == 0)
			return true;
	return false;
}

void glob_list_free(struct glob_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (struct glob_list){0};
}
