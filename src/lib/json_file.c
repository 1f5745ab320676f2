/* See lib/json_file.h. */
#include "lib/json_file.h"

#include <stdio.h>

json_t *json_file_load(const char *path, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (root)
		return root;
	if (je.line > 0)
		snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
	else
		snprintf(err, errlen, "%s: %s", path, je.text);
	return NULL;
}
