// SPDX-License-Identifier: GPL-2.0
/*
 * keel_textpatch: what a rootkit does to kernel code, for keel's intrusion
 * detector (tests/integration/test_ids_debian.py, docs/ids.md).  Loaded
 * with
 *   insmod keel_textpatch.ko [func=NAME]
 * it rewrites one instruction in the kernel's text, as an inline hook
 * would, but with one no-op for another so the guest goes on unharmed: the
 * first `nop` (addi x0, x0, 0) or `c.nop` in the first 64 bytes of NAME
 * (default sys_ni_syscall) becomes `addi x0, x0, 1` or `c.nop 1`, both
 * HINTs that execute as no-ops.
 *
 * Kernel text is read-only (STRICT_KERNEL_RWX) and neither
 * kallsyms_lookup_name nor patch_text_nosync is exported to modules, so
 * it does what rootkits do: a kprobe on kallsyms_lookup_name gives that
 * function's address, which gives patch_text_nosync's (and text_mutex's,
 * which every text patcher holds), which writes the text through a
 * temporary writable mapping and flushes the icache.
 *
 * Debian's riscv64 kernel has dynamic ftrace without KPROBES_ON_FTRACE:
 * every traceable function begins with ftrace's patch site, and
 * register_kprobe refuses an address there (-EINVAL).  So when the
 * function's entry is refused, the probe goes just past the site
 * (MCOUNT_INSN_SIZE bytes in), and the entry is the probe's address less
 * its offset.  Each step that fails says which in the kernel log.
 */
#include <linux/ftrace.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/string.h>

static char *func = "sys_ni_syscall";
module_param(func, charp, 0444);
MODULE_PARM_DESC(func, "the kernel function whose entry gets a different no-op");

typedef unsigned long (*lookup_fn)(const char *name);
typedef int (*patch_fn)(void *addr, const void *insns, size_t len);

#ifdef MCOUNT_INSN_SIZE
#define FTRACE_SITE MCOUNT_INSN_SIZE
#else
#define FTRACE_SITE 0
#endif

static lookup_fn find_lookup(void)
{
	static const unsigned int offsets[] = {0, FTRACE_SITE};
	int rc = -ENOENT;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(offsets); i++) {
		struct kprobe kp = { .symbol_name = "kallsyms_lookup_name",
				     .offset = offsets[i] };

		if (i && !offsets[i])
			break;
		rc = register_kprobe(&kp);
		if (rc < 0)
			continue;
		unregister_kprobe(&kp);
		return (lookup_fn)((unsigned long)kp.addr - offsets[i]);
	}
	pr_err("keel_textpatch: no kprobe on kallsyms_lookup_name (%d)\n", rc);
	return NULL;
}

static int patch(patch_fn fn, struct mutex *lock, void *addr, const void *insn, size_t len)
{
	int rc;

	mutex_lock(lock);
	rc = fn(addr, insn, len);
	mutex_unlock(lock);
	return rc;
}

static int __init keel_textpatch_init(void)
{
	lookup_fn lookup = find_lookup();
	struct mutex *lock;
	patch_fn fn;
	u8 *text;
	int off;

	if (!lookup)
		return -ENOENT;
	fn = (patch_fn)lookup("patch_text_nosync");
	lock = (struct mutex *)lookup("text_mutex");
	text = (u8 *)lookup(func);
	if (!fn || !lock || !text) {
		pr_err("keel_textpatch: not found:%s%s %s\n", fn ? "" : " patch_text_nosync",
		       lock ? "" : " text_mutex", text ? "" : func);
		return -ENOENT;
	}
	for (off = 0; off < 64; off += 2) {
		u16 half;
		u32 word;

		memcpy(&half, text + off, 2);
		if ((half & 3) != 3) { /* compressed */
			if (half == 0x0001) {
				u16 hint = 0x0005; /* c.nop 1 */
				int rc = patch(fn, lock, text + off, &hint, 2);

				pr_info("keel_textpatch: %s+%d: c.nop -> c.nop 1 (%d)\n", func, off, rc);
				return rc;
			}
			continue;
		}
		memcpy(&word, text + off, 4);
		if (word == 0x00000013) {
			u32 hint = 0x00100013; /* addi x0, x0, 1 */
			int rc = patch(fn, lock, text + off, &hint, 4);

			pr_info("keel_textpatch: %s+%d: nop -> addi x0, x0, 1 (%d)\n", func, off, rc);
			return rc;
		}
		off += 2; /* a 32-bit instruction */
	}
	pr_info("keel_textpatch: no nop in the first 64 bytes of %s\n", func);
	return -ENOENT;
}

static void __exit keel_textpatch_exit(void)
{
}

module_init(keel_textpatch_init);
module_exit(keel_textpatch_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("keel test: one kernel-text instruction rewritten (a no-op for another)");
