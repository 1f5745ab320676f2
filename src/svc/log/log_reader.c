/* Records of a log in order (log_reader.h), on top of log_walk. */
#include "svc/log/log_reader.h"

#include <stdio.h>
#include <stdlib.h>

#include "svc/log/log_walk.h"

struct log_reader {
	struct log_walk walk;
	size_t cursor; /* in the current block's records */
	bool have_block;
	struct log_record rec;
	const char *note;
	bool broken;
	char error[700];
};

int log_reader_open(struct log_reader **out, const char *dir, char *err, size_t errlen)
{
	*out = NULL;
	struct log_reader *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (log_walk_open(&r->walk, dir, err, errlen)) {
		free(r);
		return -1;
	}
	r->note = "";
	*out = r;
	return 0;
}

int log_reader_next(struct log_reader *r, struct log_record *rec)
{
	for (;;) {
		if (r->broken)
			return -1;
		if (r->have_block && log_walk_record(&r->walk, &r->cursor, &r->rec)) {
			*rec = r->rec;
			return 1;
		}
		r->have_block = false;
		if (r->note[0])
			return 0;
		int rc = log_walk_next(&r->walk);
		if (rc == LOG_WALK_END)
			return 0;
		if (rc == LOG_WALK_TORN) {
			r->note = r->walk.reason;
			return 0;
		}
		if (rc == LOG_WALK_BAD) {
			r->broken = true;
			snprintf(r->error, sizeof(r->error), "%s offset %llu (entry %llu): %s",
				 r->walk.bad.segment, (unsigned long long)r->walk.bad.offset,
				 (unsigned long long)r->walk.bad.entry, r->walk.reason);
			return -1;
		}
		r->have_block = r->walk.h.kind == LOG_ENTRY_BLOCK;
		r->cursor = 0;
	}
}

const char *log_reader_error(const struct log_reader *r)
{
	return r->broken ? r->error : "";
}

const char *log_reader_note(const struct log_reader *r)
{
	return r->note;
}

void log_reader_close(struct log_reader *r)
{
	if (!r)
		return;
	log_walk_close(&r->walk);
	free(r);
}
