/* vmi_hide SNAPSHOT PID OUT: hide process PID the way a rootkit module
 * would — unlink its task from the kernel's task list, leaving it in the
 * PID allocator — in a saved VM, and save the result as OUT.  The default
 * guest has no loadable modules, so test_vmi.py does this from below to
 * check that `keel inspect OUT crossview` finds the process hidden.
 *
 * A test tool: it uses the introspection internals to find the task and
 * the list field's offset (from the kernel's BTF) and writes through the
 * machine's taps.  The snapshot must have no disk (test_vmi.py boots with
 * --disk none). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc/vmi/vmi_int.h"
#include "vm/machine.h"
#include "vm/snapshot.h"
#include "lib/state_io.h"

static void discard(void *opaque, const uint8_t *buf, size_t len)
{
}

static struct machine *load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0;
	struct snapshot_conf conf;
	if (!f || state_read_file(f, 16ull << 30, &buf, &len, err, errlen) ||
	    snapshot_peek_conf(buf, len, &conf, err, errlen)) {
		if (!f)
			snprintf(err, errlen, "cannot open");
		if (f)
			fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	struct machine_config cfg = {.board = (enum board_kind)conf.board,
				     .ram_size = conf.ram_size,
				     .idle_skip = true,
				     .net = conf.has_net ? "none" : NULL,
				     .console_write = discard};
	struct machine *m = calloc(1, sizeof(*m));
	if (conf.has_blk)
		snprintf(err, errlen, "the snapshot has a disk");
	if (conf.has_blk || !m || machine_init(m, &cfg, err, errlen) ||
	    snapshot_load_buffer(m, buf, len, err, errlen)) {
		if (m)
			machine_free(m);
		free(m);
		m = NULL;
	}
	free(buf);
	return m;
}

int main(int argc, char **argv)
{
	char err[1024];
	if (argc != 4) {
		fprintf(stderr, "usage: vmi_hide SNAPSHOT PID OUT\n");
		return 2;
	}
	struct machine *m = load(argv[1], err, sizeof(err));
	if (!m) {
		fprintf(stderr, "vmi_hide: %s: %s\n", argv[1], err);
		return 1;
	}
	struct memview mv;
	struct tap_regs regs;
	taps_memview(m, &mv);
	taps_regs(m, &regs);
	struct vmi_options o = {.satp = regs.satp};
	struct vmi *v = vmi_attach(&mv, &o, err, sizeof(err));
	uint64_t task = v ? find_task(v, atol(argv[2])) : 0;
	int rc = 1;
	if (!v) {
		fprintf(stderr, "vmi_hide: %s\n", err);
	} else if (!task) {
		fprintf(stderr, "vmi_hide: no process %s\n", argv[2]);
	} else {
		/* list_del: prev->next = next; next->prev = prev */
		uint64_t link = task + v->f[F_TASK_TASKS].off, np[2];
		if (kread(v, link, np, sizeof(np)) ||
		    taps_write_virt(m, v->satp, np[1], &np[0], 8) != 8 ||
		    taps_write_virt(m, v->satp, np[0] + 8, &np[1], 8) != 8)
			fprintf(stderr, "vmi_hide: cannot unlink the task\n");
		else if (snapshot_save_file(m, argv[3], err, sizeof(err)))
			fprintf(stderr, "vmi_hide: %s\n", err);
		else
			rc = 0;
	}
	vmi_free(v);
	machine_free(m);
	free(m);
	return rc;
}
