/* Introspection over hostile guest memory (src/svc/vmi/, docs/vmi.md):
 * the full fake kernel of the unit tests (tests/unit/vmi_fake.h), built
 * once, then overwritten by the input (fuzz_vmi.h: its task list, strings,
 * page-table entries, dentries, sockets, kallsyms, BTF, anything), and
 * every view run over it, and the one-task API services call.  Each view
 * must end with a result or an error naming why; a crash, a sanitizer
 * report, a view that returns neither, or an input that runs past
 * libFuzzer's -timeout is a finding.
 *
 * Reset is cheap: only the bytes the input stored are put back from a
 * clean copy, so an input costs its stores and the walks, not 8 MiB. */
#include "fuzz_common.h"
#include "fuzz_vmi.h"

#define MAX_STORES 512

struct harness {
	struct fake *f;
	uint8_t *clean; /* the fake kernel's RAM as built */
	struct vmi *attached; /* over the clean RAM */
	uint32_t dirty_off[MAX_STORES], dirty_len[MAX_STORES];
	size_t ndirty;
};

/* libFuzzer's entry points take no context: this is the one harness. */
static struct harness h;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char err[512];
	h.f = fake_make(true);
	h.clean = malloc(RAM_SIZE);
	if (!h.clean)
		fuzz_die("vmi", "out of memory");
	memcpy(h.clean, h.f->ram, RAM_SIZE);
	struct vmi_options o = {0};
	h.attached = vmi_attach(&h.f->mv, &o, err, sizeof(err));
	if (!h.attached)
		fuzz_die("vmi_attach over the clean fake kernel", err);
	return 0;
}

static void store(uint32_t off, const void *p, uint32_t len)
{
	if (off > RAM_SIZE || len > RAM_SIZE - off || h.ndirty == MAX_STORES)
		return;
	memcpy(h.f->ram + off, p, len);
	h.dirty_off[h.ndirty] = off;
	h.dirty_len[h.ndirty++] = len;
}

struct reader {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct reader *r, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes && r->left; i++, r->left--)
		v |= (uint64_t)*r->p++ << (8 * i);
	return v;
}

/* A place in RAM: a region and an offset into it (ptr: 8-aligned). */
static uint32_t place(struct reader *r, bool ptr)
{
	const struct vmi_region *g = &vmi_regions[take(r, 1) % VMI_REGIONS];
	uint32_t at = (uint32_t)take(r, 2);
	if (g->size > 0x10000) /* all of RAM: at 128-byte steps */
		at *= g->size >> 16;
	uint32_t off = g->off + at % g->size;
	return ptr ? off & ~7u : off;
}

static void run_stores(struct reader *r)
{
	while (r->left) {
		uint8_t op = (uint8_t)take(r, 1);
		uint32_t at = place(r, (op & 3) == VMI_PTR || (op & 3) == VMI_VAL);
		uint64_t v;
		switch (op & 3) {
		case VMI_RAW: {
			size_t n = take(r, 1);
			n = n < r->left ? n : r->left;
			store(at, r->p, (uint32_t)n);
			r->p += n, r->left -= n;
			break;
		}
		case VMI_PTR:
			v = KVA(h.f, place(r, false));
			store(at, &v, 8);
			break;
		case VMI_VAL:
			v = vmi_fuzz_value(h.f, (uint8_t)take(r, 1));
			store(at, &v, 8);
			break;
		default: {
			uint32_t u = (uint32_t)take(r, 4);
			store(at, &u, 4);
		}
		}
	}
}

/* The one-task API the detector and the shield call (task.c): each of a
 * few listed tasks read, its credentials, executable, descriptors 0 to 3
 * and ancestry; whatever they return, they must return. */
static void task_api(struct vmi *v)
{
	struct vmi_task tasks[8];
	long n = vmi_task_list(v, tasks, 8);
	uint64_t found = vmi_task_find(v, 42);
	for (long i = 0; i <= n && i < 8; i++) {
		uint64_t task = i < n ? tasks[i].task : found;
		struct vmi_task t;
		struct vmi_creds c;
		char path[256];
		vmi_task_read(v, task, &t);
		vmi_task_creds(v, task, &c);
		vmi_task_exe(v, task, path, sizeof(path));
		for (int fd = 0; fd < 4; fd++)
			vmi_task_fd_path(v, task, fd, path, sizeof(path));
		json_decref(vmi_task_chain(v, task, 16));
	}
}

static void views(struct vmi *v, const char *arg)
{
	for (const char *const *name = vmi_view_names; *name; name++) {
		char err[512] = "";
		json_t *res = vmi_view(v, *name, arg, err, sizeof(err));
		if (!res && !err[0]) {
			fprintf(stderr, "fuzz_vmi: view %s returned no result and no reason\n", *name);
			abort();
		}
		json_decref(res);
	}
	json_decref(vmi_info(v));
	task_api(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const args[] = {"1", "42", "2", "0", "-1", "99999999999", "x", ""};
	struct reader r = {data, size};
	bool fresh = take(&r, 1) & 1;
	const char *arg = args[take(&r, 1) % (sizeof(args) / sizeof(args[0]))];
	run_stores(&r);
	if (fresh) {
		char err[512] = "";
		struct vmi_options o = {0};
		struct vmi *v = vmi_attach(&h.f->mv, &o, err, sizeof(err));
		if (!v && !err[0]) {
			fprintf(stderr, "fuzz_vmi: attach failed with no reason\n");
			abort();
		}
		if (v) {
			views(v, arg);
			vmi_free(v);
		}
	} else {
		views(h.attached, arg);
	}
	/* back to the clean kernel */
	for (size_t i = 0; i < h.ndirty; i++)
		memcpy(h.f->ram + h.dirty_off[i], h.clean + h.dirty_off[i], h.dirty_len[i]);
	h.ndirty = 0;
	return 0;
}
