/* keel inspect SNAPSHOT VIEW: introspect a saved VM without running it.
 * The snapshot is loaded into a machine built to its CONF section (its
 * disk opened read-only), and the machine is never run: the views read
 * its RAM through the memory view (docs/vmi.md). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/inspect_cli.h"
#include "dev/disk_image.h"
#include "svc/vmi/vmi.h"
#include "vm/machine.h"
#include "vm/restore.h"
#include "vm/sealed_snapshot.h"
#include "vm/snapshot.h"
#include "vm/taps.h"

static void usage(FILE *out)
{
	fputs("usage: keel inspect SNAPSHOT VIEW [ARG] [options]\n"
	      "\n"
	      "Introspect the guest Linux kernel of a saved VM without running it: symbols\n"
	      "from the kernel's own kallsyms in RAM, types from its BTF (docs/vmi.md).\n"
	      "\n"
	      "views:\n" INSPECT_VIEWS_HELP
	      "\n"
	      "options:\n" INSPECT_OPTIONS_HELP
	      "  --passphrase-fd N  an encrypted snapshot's passphrase from fd N\n"
	      "  -h, --help         this text\n",
	      out);
}

int inspect_parse(int argc, char **argv, struct inspect_args *a)
{
	enum { OPT_JSON = 1000, OPT_VMLINUX, OPT_MAP, OPT_PASS };
	static const struct option opts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"vmlinux", required_argument, NULL, OPT_VMLINUX},
		{"system-map", required_argument, NULL, OPT_MAP},
		{"passphrase-fd", required_argument, NULL, OPT_PASS},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	memset(a, 0, sizeof(*a));
	a->passphrase_fd = -1;
	int c;
	optind = 0; /* 0: glibc starts afresh (keel ctl has run getopt already) */
	/* GNU getopt moves the positionals after the options */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON: a->json = true; break;
		case OPT_VMLINUX: a->o.vmlinux = optarg; break;
		case OPT_MAP: a->o.system_map = optarg; break;
		case OPT_PASS: a->passphrase_fd = atoi(optarg); break;
		case 'h': return 1;
		default: return -1;
		}
	}
	for (int i = optind; i < argc && a->npos < 4; i++)
		a->pos[a->npos++] = argv[i];
	return 0;
}

/* Print a result as the user asked; returns the exit status. */
int inspect_print(const json_t *res, bool json)
{
	if (json) {
		char *s = json_dumps(res, JSON_INDENT(1));
		if (s)
			puts(s);
		free(s);
	} else {
		vmi_print_table(stdout, res);
	}
	return 0;
}

int inspect_run(struct vmi *v, const char *view, const char *arg, bool json)
{
	char err[512];
	json_t *res;
	if (!strcmp(view, "info"))
		res = vmi_info(v);
	else
		res = vmi_view(v, view, arg, err, sizeof(err));
	if (!res) {
		fprintf(stderr, "keel inspect: %s\n", err);
		return 1;
	}
	if (!strcmp(view, "info") && !json) {
		char *s = json_dumps(res, JSON_INDENT(1));
		puts(s ? s : "?");
		free(s);
	} else {
		inspect_print(res, json);
	}
	json_decref(res);
	return 0;
}

static void discard(void *opaque, const uint8_t *buf, size_t len)
{
}

/* A sealed snapshot's passphrase, from --passphrase-fd or the terminal. */
static int ask_passphrase(void *opaque, const char *path, char *buf, size_t cap, size_t *len,
			  char *err, size_t errlen)
{
	char prompt[PATH_MAX + 32];
	snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", path);
	return sealed_read_passphrase(*(const int *)opaque, prompt, buf, cap, len, err, errlen);
}

/* A machine holding the snapshot, never run.  NULL after a message. */
static struct machine *load_snapshot(const char *path, int passphrase_fd)
{
	const struct restore_request req = {.disk_mode = RESTORE_DISK_REPLAY,
					    .passphrase = ask_passphrase,
					    .passphrase_opaque = &passphrase_fd};
	struct snapshot_bytes snap = {0};
	char err[PATH_MAX + 512];
	struct snapshot_conf conf;
	struct disk_identity id;
	struct disk_image *disk = NULL;
	if (snapshot_bytes_read(path, 64ull << 30, &req, &snap, err, sizeof(err))) {
		fprintf(stderr, "keel inspect: %s\n", err);
		return NULL;
	}
	if (snapshot_peek_conf(snap.p, snap.len, &conf, err, sizeof(err)) ||
	    (conf.has_blk && snapshot_peek_disk(snap.p, snap.len, &id, err, sizeof(err))))
		goto fail;
	/* The disk is opened so the machine matches; nothing reads or writes it. */
	if (conf.has_blk && id.kind == DISK_OVERLAY &&
	    disk_image_open_replay(&disk, &id, err, sizeof(err)))
		goto fail;
	if (conf.has_blk && id.kind == DISK_RAW &&
	    disk_image_open_raw(&disk, id.path, true, err, sizeof(err)))
		goto fail;
	struct machine_config cfg = {
		.board = (enum board_kind)conf.board,
		.ram_size = conf.ram_size,
		.idle_skip = true,
		.disk_image = disk,
		.net = conf.has_net ? "none" : NULL,
		.console_write = discard,
	};
	struct machine *m = calloc(1, sizeof(*m));
	if (!m) {
		disk_image_close(disk);
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	if (machine_init(m, &cfg, err, sizeof(err)) ||
	    snapshot_load_buffer(m, snap.p, snap.len, err, sizeof(err))) {
		machine_free(m);
		free(m);
		goto fail;
	}
	snapshot_bytes_free(&snap);
	return m;
fail:
	fprintf(stderr, "keel inspect: %s: %s\n", path, err);
	snapshot_bytes_free(&snap);
	return NULL;
}

int cmd_inspect(int argc, char **argv)
{
	struct inspect_args a;
	int rc = inspect_parse(argc, argv, &a);
	if (rc > 0) {
		usage(stdout);
		return 0;
	}
	if (rc < 0 || a.npos < 2 || a.npos > 3) {
		fprintf(stderr, "keel inspect: %s (try 'keel inspect --help')\n",
			rc < 0 ? "bad option" : "usage: keel inspect SNAPSHOT VIEW [ARG] [options]");
		return 2;
	}
	struct machine *m = load_snapshot(a.pos[0], a.passphrase_fd);
	if (!m)
		return 1;
	struct memview mv;
	struct tap_regs regs;
	taps_memview(m, &mv);
	taps_regs(m, &regs);
	a.o.satp = regs.satp;
	char err[512];
	struct vmi *v = vmi_attach(&mv, &a.o, err, sizeof(err));
	int status = 1;
	if (!v)
		fprintf(stderr, "keel inspect: %s: %s\n", a.pos[0], err);
	else
		status = inspect_run(v, a.pos[1], a.npos > 2 ? a.pos[2] : NULL, a.json);
	vmi_free(v);
	machine_free(m);
	free(m);
	return status;
}
