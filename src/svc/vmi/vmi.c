/* Attaching to a guest kernel: symbols, the kernel's page table, BTF and
 * the field table; then the views by name. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/btf.h>

#include "svc/vmi/vmi_int.h"

#define SATP_SV39 (8ull << 60)
#define SATP_SV48 (9ull << 60)
#define KERNEL_ALIGN (2u << 20) /* RV64 kernels load at 2 MiB boundaries */

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Does this satp map the kernel image's start to pa0 and the table itself
 * to where it is?  Both must hold: one alone can happen by chance. */
static bool satp_maps_kernel(const struct memview *mv, uint64_t satp, uint64_t start_va,
			     uint64_t start_pa, uint64_t pgd_va, uint64_t pgd_pa)
{
	uint64_t pa;
	if (memview_translate(mv, satp, start_va, &pa, NULL) || pa != start_pa)
		return false;
	if (!pgd_va)
		return true;
	return memview_translate(mv, satp, pgd_va, &pa, NULL) == 0 && pa == pgd_pa;
}

/* swapper_pg_dir is in the kernel image, which is mapped linearly: for
 * each place the image could have been loaded, the table it implies must
 * map the image there. */
static int find_page_table(struct vmi *v, uint64_t hart_satp, char *err, size_t errlen)
{
	uint64_t start = ksym(v, "_start"), pgd = ksym(v, "swapper_pg_dir");
	if (!start)
		start = ksym(v, "_stext");
	if (!start) {
		snprintf(err, errlen, "no _start or _stext symbol: cannot place the kernel image");
		return -1;
	}
	const struct memview *mv = &v->mv;
	for (uint64_t c = mv->base; pgd && c < mv->base + mv->size; c += KERNEL_ALIGN) {
		uint64_t pgd_pa = pgd - start + c;
		if (pgd < start || pgd_pa < mv->base || pgd_pa >= mv->base + mv->size)
			continue;
		const uint64_t modes[] = {SATP_SV48, SATP_SV39};
		for (int i = 0; i < 2; i++) {
			uint64_t satp = modes[i] | (pgd_pa >> 12);
			if (satp_maps_kernel(mv, satp, start, c, pgd, pgd_pa)) {
				v->satp = satp;
				v->kimage_va = start;
				v->kimage_pa = c;
				snprintf(v->pgd_source, sizeof(v->pgd_source),
					 "swapper_pg_dir at 0x%" PRIx64 " (%s)", pgd_pa,
					 i == 0 ? "Sv48" : "Sv39");
				return 0;
			}
		}
	}
	/* Before paging_init, or a kernel without swapper_pg_dir: the hart's
	 * own table maps the kernel half in every address space. */
	uint64_t pa;
	if ((hart_satp >> 60) && memview_translate(mv, hart_satp, start, &pa, NULL) == 0) {
		v->satp = hart_satp;
		v->kimage_va = start;
		v->kimage_pa = pa;
		snprintf(v->pgd_source, sizeof(v->pgd_source), "the hart's satp 0x%" PRIx64, hart_satp);
		return 0;
	}
	snprintf(err, errlen, "no page table maps the kernel (swapper_pg_dir %s; the hart's satp "
			      "%s): the kernel has not set up paging yet?",
		 pgd ? "does not check out" : "not found",
		 (hart_satp >> 60) ? "does not map it" : "is Bare");
	return -1;
}

static int load_symbols(struct vmi *v, const struct vmi_options *o, char *err, size_t errlen)
{
	if (o->system_map)
		return ksyms_from_system_map(&v->syms, o->system_map, err, errlen);
	if (ksyms_from_ram(&v->syms, &v->mv, err, errlen) == 0)
		return 0;
	if (o->vmlinux)
		return ksyms_from_elf(&v->syms, o->vmlinux, err, errlen);
	return -1;
}

struct vmi *vmi_attach(const struct memview *mv, const struct vmi_options *o, char *err,
		       size_t errlen)
{
	double t0 = now_ms();
	struct vmi *v = calloc(1, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	v->mv = *mv;
	if (load_symbols(v, o, err, errlen) || find_page_table(v, o->satp, err, errlen) ||
	    ktypes_load(v, o->vmlinux, err, errlen)) {
		vmi_free(v);
		return NULL;
	}
	v->attach_ms = now_ms() - t0;
	return v;
}

void vmi_set_memview(struct vmi *v, const struct memview *mv)
{
	v->mv = *mv;
}

bool vmi_check(struct vmi *v, const struct memview *mv)
{
	v->mv = *mv;
	uint64_t pa;
	return memview_translate(mv, v->satp, v->kimage_va, &pa, NULL) == 0 && pa == v->kimage_pa;
}

void vmi_free(struct vmi *v)
{
	if (!v)
		return;
	ksyms_free(&v->syms);
	btf__free(v->btf);
	json_decref(v->missing);
	free(v);
}

json_t *vmi_info(const struct vmi *v)
{
	char satp[32], kva[32], kpa[32];
	snprintf(satp, sizeof(satp), "0x%" PRIx64, v->satp);
	snprintf(kva, sizeof(kva), "0x%" PRIx64, v->kimage_va);
	snprintf(kpa, sizeof(kpa), "0x%" PRIx64, v->kimage_pa);
	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:O,s:o,s:f,s:f}", "kernel_va", kva,
			 "kernel_pa", kpa, "satp", satp, "page_table", v->pgd_source, "symbols",
			 (json_int_t)v->syms.n, "symbol_source", v->syms.source, "btf_source",
			 v->btf_source, "missing_fields", v->missing, "refused_views",
			 views_of_mask(v->refused), "attach_ms", v->attach_ms, "btf_ms", v->btf_ms);
}

const char *const vmi_view_names[] = {"ps", "threads", "files", "net", "modules", "mounts",
				      "ifaces", "integrity", "crossview", NULL};

static const struct {
	const char *name;
	view_fn fn;
	unsigned mask;
	bool needs_arg;
	const char *needs_sym, *why; /* a symbol only some kernels have */
} views[] = {
	{"ps", view_ps, V_PS, false, NULL, NULL},
	{"threads", view_threads, V_THREADS | V_PS, true, NULL, NULL},
	{"files", view_files, V_FILES, true, NULL, NULL},
	{"net", view_net, V_NET, false, NULL, NULL},
	{"modules", view_modules, V_MODULES, false, "modules",
	 "this kernel has no loadable modules (no 'modules' symbol: built without "
	 "CONFIG_MODULES)"},
	{"mounts", view_mounts, V_MOUNTS, false, NULL, NULL},
	{"ifaces", view_ifaces, V_IFACES, false, NULL, NULL},
	{"integrity", view_integrity, V_INTEGRITY, false, NULL, NULL},
	{"crossview", view_crossview, V_CROSS, false, NULL, NULL},
};

/* The fields the view needs that this kernel lacks, joined. */
static void missing_for(const struct vmi *v, unsigned mask, char *buf, size_t len)
{
	size_t i, o = 0;
	json_t *m;
	buf[0] = 0;
	json_array_foreach(v->missing, i, m) {
		size_t j;
		json_t *name;
		bool needed = false;
		json_array_foreach(json_object_get(m, "views"), j, name)
			for (size_t k = 0; k < sizeof(views) / sizeof(views[0]); k++)
				if ((views[k].mask & mask) && !strcmp(views[k].name, json_string_value(name)))
					needed = true;
		if (needed && o < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "",
					      json_string_value(json_object_get(m, "field")));
	}
}

json_t *vmi_view(struct vmi *v, const char *view, const char *arg, char *err, size_t errlen)
{
	for (size_t k = 0; k < sizeof(views) / sizeof(views[0]); k++) {
		if (strcmp(views[k].name, view))
			continue;
		if (views[k].needs_sym && !ksym(v, views[k].needs_sym)) {
			snprintf(err, errlen, "view '%s' refused: %s", view, views[k].why);
			return NULL;
		}
		if (v->refused & views[k].mask) {
			char fields[400];
			missing_for(v, views[k].mask, fields, sizeof(fields));
			snprintf(err, errlen, "view '%s' refused: this kernel's BTF lacks %s", view,
				 fields);
			return NULL;
		}
		if (views[k].needs_arg && !arg) {
			snprintf(err, errlen, "view '%s' needs an argument (a pid)", view);
			return NULL;
		}
		double t0 = now_ms();
		v->fd_slots_left = VMI_MAX_FD_SLOTS;
		struct view_out o = {json_array(), json_array(), json_object()};
		if (views[k].fn(v, &o, arg, err, errlen)) {
			json_decref(o.rows);
			json_decref(o.notes);
			json_decref(o.extra);
			return NULL;
		}
		json_t *res = json_pack("{s:s,s:o,s:o,s:b,s:f}", "view", view, "rows", o.rows, "notes",
					o.notes, "truncated", json_array_size(o.notes) > 0, "ms",
					now_ms() - t0);
		json_object_update(res, o.extra);
		json_decref(o.extra);
		return res;
	}
	snprintf(err, errlen, "no view '%s' (ps, threads PID, files PID, net, modules, mounts, "
			      "ifaces, integrity, crossview)", view);
	return NULL;
}
