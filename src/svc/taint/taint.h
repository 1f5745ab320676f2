/* Byte taint over a replay: which network connection's bytes a process
 * wrote into a file (keel analyze LOG --taint PATH; docs/analyze.md,
 * "Byte taint").
 *
 * Sources: each inbound TCP or UDP flow (its 4-tuple) is one label, given
 * to the payload bytes of its frames as virtio-net writes them into guest
 * memory.  The machine's taint engine (vm/taps.h section 8) carries the
 * labels through every instruction, the kernel's copies included.  Sink:
 * each write(2), pwrite64(2), writev(2) or pwritev(2) that returns bytes
 * written to a descriptor whose path (read from the kernel's file table) is
 * PATH: the labels of the bytes it wrote, read from the user buffer. */
#ifndef KEEL_SVC_TAINT_TAINT_H
#define KEEL_SVC_TAINT_TAINT_H

#include <stddef.h>

#include <jansson.h>

struct machine;
struct taint_svc;

struct taint_options {
	const char *path; /* the sink file, as the kernel names it (absolute) */
	const char *vmlinux; /* symbols and types from here (NULL: from RAM) */
};

/* Turn the machine's byte taint on and watch it.  NULL with a reason. */
struct taint_svc *taint_start(struct machine *m, const struct taint_options *o, char *err,
			      size_t errlen);

/* What was found so far, as a new JSON object:
 * {"path", "writes": [{"icount","pid","comm","fd","bytes","labelled",
 *   "labels":[N..], "text"}],
 *  "connections": [{"label","proto","src","dst","client_port","server_port",
 *   "first_icount","payload_bytes"}],
 *  "answer": [{"label","src","dst","client_port","server_port","bytes",
 *   "first_icount"}],
 *  "bytes_written", "bytes_labelled", "notes": [...]}
 * `answer` is the connections whose bytes reached PATH, most bytes first. */
json_t *taint_result(const struct taint_svc *s);

/* The result for a person. */
void taint_print(FILE *out, const json_t *result);

/* Turn taint off and free. */
void taint_stop(struct taint_svc *s);

#endif
