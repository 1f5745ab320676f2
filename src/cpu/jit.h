/* The JIT: decoded blocks (cpu/block.h) that run often translated to
 * x86-64.  The translation of a block is a function that runs its
 * instructions from the first and leaves at one of them:
 *
 *   - to another pc (a branch taken, a jump, the end of the block): it
 *     returns that pc, even as every pc is (IALIGN 16), and `left`, the
 *     steps the interpreter has left, with the block's instructions that
 *     did not run given back exactly as the interpreter would;
 *   - to the interpreter at entry i of the same block, for anything it
 *     does not translate and every TLB miss: it returns the odd value
 *     2i + 1 and `left` unchanged.  The interpreter then runs entry i and
 *     on, with the accounting it does for any block it has entered.
 *
 * A translation may cover more than its block: a loop longer than a
 * block goes on past the block's end to its branch back (jit.c,
 * decode_run).  It takes those steps itself when entered, and gives them
 * back on any exit from the block's own instructions; an exit from the
 * instructions past the block, which are no entries of it, returns their
 * pc, as a jump there would, and the interpreter finds or builds a block
 * there.
 *
 * So translated code never traps, calls out or reads anything but guest
 * registers (with fflags, mstatus.FS and MXCSR as fpu.c keeps them:
 * jit_fp.h), the data TLB and RAM through it; every slow path, trap and
 * MMIO access happens in the interpreter at the exact instruction count
 * it has there.  A branch back to its block's own start
 * loops inside the translation while the steps left cover the block,
 * which is the test the interpreter makes before entering a block.
 *
 * Translations are a cache: none is ever saved or compared, a block's
 * translation goes with the block when it is rebuilt (code generations),
 * and a full code cache is emptied at once.  See docs/cpu.md, "The JIT". */
#ifndef KEEL_CPU_JIT_H
#define KEEL_CPU_JIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct block;
struct hart;

struct jit_exit {
	uint64_t pc; /* the next pc, or 2i + 1: the interpreter goes on at entry i */
	uint64_t left;
};

/* The enter stub at the start of the code cache, which runs translation
 * `code` (a block's jit): x is h->x, base the pc of the block's first
 * instruction, left the steps the interpreter has left after taking the
 * block's.  Translations themselves are entered only through it or by a
 * chain from another (jit.c says what they keep in which register). */
typedef struct jit_exit jit_entry(uint64_t *x, struct hart *h, uint64_t base, uint64_t left,
				  const void *code);

/* Why a translation returned to the interpreter (jit_stats.exits): the
 * translation notes it in h->jit_exit_kind on its way out. */
enum jit_exit_kind {
	JIT_EXIT_JALR, /* an indirect jump its lookup did not chain */
	JIT_EXIT_SAME_PAGE, /* a static exit within the page: target not current, translated or covered */
	JIT_EXIT_OTHER_PAGE, /* a static exit to another page its lookup did not chain */
	JIT_EXIT_UNTRANSLATED, /* an instruction the JIT leaves to the interpreter */
	JIT_EXIT_MISS, /* a TLB miss, FP off, an FP case jit_fp.c leaves to the interpreter */
	JIT_EXIT_LINK, /* a static exit in the page found its target: link the site (jit_link) */
	JIT_EXIT_LINK_FAR, /* a JALR or an exit to another page found its target (jit_link_far) */
	JIT_EXIT_KINDS
};

struct jit_stats {
	uint64_t blocks; /* translated */
	uint64_t exits[JIT_EXIT_KINDS]; /* returns to the interpreter, by enum jit_exit_kind */
	uint64_t code_bytes; /* emitted in all */
	uint64_t translate_ns; /* host CPU time translating */
	uint64_t flushes; /* times the code cache filled and was emptied */
};

struct jit {
	/* The code cache, mapped twice: executable at `code`, writable at
	 * `code_w`; no mapping is both (docs/cpu.md, "W^X"). */
	uint8_t *code, *code_w;
	size_t size, used;
	/* The enter stub is at `code`, the leave stub at `leave`: the first
	 * `stubs` bytes, written once per mapping and kept by jit_reset. */
	const uint8_t *leave;
	size_t stubs;
	unsigned threshold; /* interpreted entries before a block is translated */
	bool fork_inherits; /* jit_set_fork */
	struct jit_stats stats;
	/* --jit-perfmap: the descriptor of /tmp/perf-<pid>.map, or -1 (off;
	 * jit_perfmap.c) */
	int perfmap;
};

#define JIT_CACHE_BYTES (32u << 20)
#define JIT_THRESHOLD_MAX 65535 /* struct block's use count is 16 bits */

/* Run the translation `code` (jit_entry). */
static inline struct jit_exit jit_run(const struct jit *j, uint64_t *x, struct hart *h,
				      uint64_t base, uint64_t left, const void *code)
{
	return ((jit_entry *)(void *)j->code)(x, h, base, left, code);
}

/* A JIT with an empty code cache, or NULL when it cannot be mapped. */
struct jit *jit_new(unsigned threshold);
void jit_free(struct jit *j);

enum jit_result { JIT_DONE, JIT_NOT_TRANSLATED, JIT_FULL };

/* Translate block b of the hart's block table, whose bytes memory still
 * holds, and set b->jit.  It was entered at guest pc `pc` in privilege
 * `priv` (for --jit-perfmap; the translation depends on neither, but is
 * only made when pc is as far into its page as the block's host address
 * is into its host page, which the base, h->jit_page, in jit.c needs).
 * JIT_NOT_TRANSLATED: one of its first few instructions is one the JIT
 * leaves to the interpreter, or that offset differs (memory not mapped
 * page-aligned).  JIT_FULL: the code cache has no room; empty it
 * (jit_reset) and try again. */
enum jit_result jit_translate(struct jit *j, struct block *table, struct block *b, uint64_t pc,
			      unsigned priv);

/* --jit-perfmap (jit_perfmap.c, docs/cpu.md "Profiling translated code"):
 * from now on write a line to /tmp/perf-<pid>.map for every translation,
 * naming it by the guest pc and privilege the block was entered at when
 * it was translated, so perf names translated code.  Returns 0, or -1
 * with errno when the file cannot be opened. */
int jit_perfmap_open(struct jit *j);
/* The line for a translation at code, len bytes (jit_translate's caller);
 * nothing when the map is off. */
void jit_perfmap_note(struct jit *j, const void *code, size_t len, uint64_t pc, unsigned priv);
/* Stop writing the map and forget its descriptor without closing it (a
 * clone's, which clone.c has closed already: jit_after_fork). */
void jit_perfmap_forget(struct jit *j);

/* Link the site h->jit_link_site of a translation that returned
 * JIT_EXIT_LINK to block `to` (h->jit_link_to), which it found current
 * and translated: from then on it jumps straight into to's translation
 * (jit.c, chain).  Call it before anything else runs. */
void jit_link(struct jit *j, uint8_t *site, const struct block *to);

/* Link the guarded site h->jit_link_site of a translation that returned
 * JIT_EXIT_LINK_FAR and the pc to block `to`, which its lookup found
 * through the exec TLB t (h->fetch_tlb), unless t no longer says so. */
struct tlb;
void jit_link_far(struct jit *j, uint8_t *site, const struct block *to, uint64_t pc,
		  const struct tlb *t);

/* Cut off the translation `code` (a block's jit) that its block drops,
 * when the block is rebuilt: sites linked to it look its pc up again
 * instead of running it. */
void jit_kill(struct jit *j, const void *code);

/* Empty the code cache.  The caller has cleared every block's jit. */
void jit_reset(struct jit *j);

/* What a fork()ed child (a fork-clone, host/clone.c) starts with.
 * inherit false (the default): an empty code cache, the parent's not
 * mapped in the child at all (MADV_DONTFORK: it is shared memory, which
 * the child would otherwise write under the parent's running code).
 * inherit true: a copy of the parent's, at the same addresses, made by
 * jit_after_fork; the block table that refers to it must be inherited
 * too (hart_set_clone_cache).  docs/cpu.md, "A cache, never state". */
void jit_set_fork(struct jit *j, bool inherit);

/* In a fork()ed child, before anything runs from the cache: give it a
 * code cache of its own, empty or a copy of the parent's (jit_set_fork).
 * Returns 0, or -1 when it cannot; then the child must not run guest
 * code (its cache may still be the parent's). */
int jit_after_fork(struct jit *j);

#endif
