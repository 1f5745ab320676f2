/* A list of fnmatch(3) patterns that a service's policy file gives (the
 * intrusion detector's paths and ports, the shield's addresses and
 * programs): one definition, so that both match alike.  Filling it from
 * JSON stays with each service, whose files say different things. */
#ifndef KEEL_LIB_GLOB_LIST_H
#define KEEL_LIB_GLOB_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct glob_list {
	char **v; /* n patterns, malloc'd; v itself may be longer */
	size_t n;
};

/* true if any pattern matches s (fnmatch, no flags) */
bool glob_list_match(const struct glob_list *l, const char *s);
/* Free the patterns and leave the list empty. */
void glob_list_free(struct glob_list *l);

#endif
