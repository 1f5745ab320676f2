/* Reading a JSON file a person wrote (an intrusion-detection policy, the
 * shield's rules): duplicate keys refused, and a syntax error named as
 * FILE:LINE:COLUMN so the person can find it. */
#ifndef KEEL_LIB_JSON_FILE_H
#define KEEL_LIB_JSON_FILE_H

#include <stddef.h>

#include <jansson.h>

/* The parsed document (the caller json_decref's it), or NULL with the
 * reason in err ("FILE:LINE:COLUMN: what", or "FILE: what" when jansson
 * gives no position, e.g. the file cannot be opened). */
json_t *json_file_load(const char *path, char *err, size_t errlen);

#endif
