/* A view's JSON result printed as an aligned table, for people. */
#include <stdlib.h>
#include <string.h>

#include "svc/vmi/vmi.h"

static char *cell(const json_t *x)
{
	if (json_is_string(x))
		return strdup(json_string_value(x));
	if (json_is_null(x) || !x)
		return strdup("-");
	if (json_is_true(x))
		return strdup("yes");
	if (json_is_false(x))
		return strdup("no");
	return json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void print_rows(FILE *out, const json_t *rows)
{
	const json_t *first = json_array_get(rows, 0);
	size_t ncol = json_object_size(first), nrow = json_array_size(rows);
	if (!ncol)
		return;
	const char **key = calloc(ncol, sizeof(*key));
	size_t *w = calloc(ncol, sizeof(*w)), c = 0;
	const char *k;
	json_t *val;
	json_object_foreach((json_t *)first, k, val) {
		key[c] = k;
		w[c] = strlen(k);
		c++;
	}
	char **cells = calloc(nrow * ncol, sizeof(*cells));
	for (size_t r = 0; r < nrow; r++)
		for (c = 0; c < ncol; c++) {
			char *s = cell(json_object_get(json_array_get(rows, r), key[c]));
			cells[r * ncol + c] = s;
			if (s && strlen(s) > w[c])
				w[c] = strlen(s);
		}
	for (c = 0; c < ncol; c++) {
		for (const char *p = key[c]; *p; p++)
			fputc(*p >= 'a' && *p <= 'z' ? *p - 32 : *p, out);
		fprintf(out, "%*s", c + 1 < ncol ? (int)(w[c] - strlen(key[c]) + 2) : 0, "");
	}
	fputc('\n', out);
	for (size_t r = 0; r < nrow; r++) {
		for (c = 0; c < ncol; c++) {
			const char *s = cells[r * ncol + c] ? cells[r * ncol + c] : "?";
			fprintf(out, c + 1 < ncol ? "%-*s  " : "%-*s", c + 1 < ncol ? (int)w[c] : 0, s);
			free(cells[r * ncol + c]);
		}
		fputc('\n', out);
	}
	free(cells);
	free(w);
	free(key);
}

void vmi_print_table(FILE *out, const json_t *result)
{
	print_rows(out, json_object_get(result, "rows"));
	const char *k;
	json_t *val;
	json_object_foreach((json_t *)result, k, val) {
		if (!strcmp(k, "rows") || !strcmp(k, "notes") || !strcmp(k, "view") ||
		    !strcmp(k, "truncated") || !strcmp(k, "ms"))
			continue;
		char *s = cell(val);
		fprintf(out, "%s: %s\n", k, s ? s : "?");
		free(s);
	}
	size_t i;
	json_array_foreach(json_object_get(result, "notes"), i, val)
		fprintf(out, "note: %s\n", json_string_value(val));
}
