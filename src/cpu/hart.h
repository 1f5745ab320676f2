/* One RV64GC hart: architectural state, its soft-TLB, and the entry points
 * the machine uses to run it.
 *
 * The hart never touches the host clock or any host state.  Everything it
 * needs from outside comes through `struct bus` (physical memory and MMIO)
 * and `struct vclock` (virtual time as a function of the instruction count).
 */
#ifndef KEEL_CPU_HART_H
#define KEEL_CPU_HART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;
struct jit_stats;
struct vclock;

/* What the decoded-block table (cpu/block.h) did, for --stats
 * (hart_block_stats): counted where a block is built, never on the
 * lookups' path. */
struct block_stats {
	uint64_t built; /* blocks decoded into the table */
	uint64_t stale; /* ... into the slot that held the same block, from old bytes */
	uint64_t evicted; /* ... over another block: a conflict in the pair */
	uint64_t evicted_jit; /* ... of those, over a translated block */
};

enum priv { PRIV_U = 0, PRIV_S = 1, PRIV_M = 3 };

/* Exception causes (mcause with the interrupt bit clear). */
enum exc_cause {
	EXC_INSN_MISALIGNED = 0,
	EXC_INSN_ACCESS = 1,
	EXC_ILLEGAL_INSN = 2,
	EXC_BREAKPOINT = 3,
	EXC_LOAD_MISALIGNED = 4,
	EXC_LOAD_ACCESS = 5,
	EXC_STORE_MISALIGNED = 6,
	EXC_STORE_ACCESS = 7,
	EXC_ECALL_U = 8,
	EXC_ECALL_S = 9,
	EXC_ECALL_M = 11,
	EXC_INSN_PAGE_FAULT = 12,
	EXC_LOAD_PAGE_FAULT = 13,
	EXC_STORE_PAGE_FAULT = 15,
};

/* Interrupt numbers (bit positions in mip/mie). */
enum irq {
	IRQ_SSI = 1,
	IRQ_MSI = 3,
	IRQ_STI = 5,
	IRQ_MTI = 7,
	IRQ_SEI = 9,
	IRQ_MEI = 11,
};

enum access_type { ACCESS_READ = 0, ACCESS_WRITE = 1, ACCESS_EXEC = 2 };

/* A soft-TLB entry.  `tag` is the virtual page address (low 12 bits zero) or
 * TLB_INVALID.  A hit yields host = vaddr + addend, so the fast path is one
 * compare and one add (the TinyEMU scheme).  Only RAM pages whose whole 4 KiB
 * has uniform PMP permission are ever entered; everything else (MMIO, ROM
 * writes, watched pages, fine-grained PMP) stays on the slow path. */
#define TLB_ENTRIES 1024
#define TLB_INVALID UINT64_MAX
#define TLB_FILL_LOG 64
struct tlb_entry {
	uint64_t tag;
	uintptr_t addend;
};

/* One TLB per access type.  A hart keeps several (struct tlb_space) so
 * that U<->S transitions (every syscall), sstatus.SUM toggles (every user
 * copy) and satp writes (every context switch) switch a pointer instead of
 * flushing. */
struct tlb {
	struct tlb_entry read[TLB_ENTRIES];
	struct tlb_entry write[TLB_ENTRIES];
	struct tlb_entry exec[TLB_ENTRIES];
	/* the code generation (bus/bus.h) of exec[i]'s page, valid while
	 * exec[i] is */
	uint64_t *exec_gen[TLB_ENTRIES];
	/* The virtual range [super_lo, super_hi] that the entries filled from
	 * superpages (and 64 KiB NAPOT pages) came from since the last flush,
	 * or lo > hi: none.  A superpage is entered 4 KiB at a time, so
	 * SFENCE.VMA of one address in it must drop the whole table. */
	uint64_t super_lo, super_hi;
	/* The entries filled since the last flush (access type << 12 | index),
	 * while there are at most TLB_FILL_LOG of them: a space reused for a
	 * new address space, or flushed by SFENCE.VMA, often filled only a
	 * few entries, so a flush clears those instead of all 3072. */
	uint16_t filled[TLB_FILL_LOG];
	uint16_t nfilled; /* TLB_FILL_LOG + 1: too many, clear them all */
};

/* t's table for one access type. */
static inline struct tlb_entry *tlb_table(struct tlb *t, enum access_type type)
{
	return type == ACCESS_READ ? t->read : type == ACCESS_WRITE ? t->write : t->exec;
}

/* The translated TLBs of one address space, keyed by the whole satp value
 * (mode, ASID and root), so a return to a recent address space finds its
 * entries again (docs/cpu.md, "ASIDs").  tlbs[PRIV_U] and tlbs[PRIV_S]
 * serve U- and S-mode; tlbs[SPACE_S_SUM] serves S-mode data accesses while
 * sstatus.SUM is set, the only ones that may reach U pages, so turning SUM
 * off needs no flush. */
#define TLB_SPACES 8
#define SPACE_S_SUM 2
#define TLB_SPACE_FREE UINT64_MAX /* no satp has mode 15 */
struct tlb_space {
	uint64_t satp; /* whose translations the tables hold, or TLB_SPACE_FREE */
	uint64_t used; /* hart.tlb_clock when last chosen: the least recent is reused */
	struct tlb tlbs[3];
};

/* The walks that ended at a global leaf (PTE G), which every address
 * space shares (docs/cpu.md, "Global walks"): Linux's kernel mappings,
 * walked once instead of once in each new address space.  Entry i holds
 * the va page with (va >> 12) % GLOBAL_WALKS == i; valid while gen equals
 * the hart's global_gen. */
#define GLOBAL_WALKS 1024
struct global_walk {
	uint64_t tag; /* the virtual page address */
	uint64_t pte; /* the leaf as the walk left it (A and D set as needed) */
	uint64_t pa; /* the physical address of the 4 KiB page */
	uint64_t page_bytes; /* the leaf's page size, for tlb_fill */
	uint64_t gen;
	uint64_t mode; /* satp's MODE field when walked */
};

#define PMP_ENTRIES 16

/* A decoded instruction (cpu/decode.h): `word` holds the bits decoded (a
 * compressed instruction in the low 16). */
struct decoded_insn {
	uint32_t word;
	int32_t imm;
	uint8_t op, rd, rs1, rs2;
	uint8_t len; /* 2 or 4 */
};

struct block;
struct hart;

/* Who is told about traps (vm/taps.c).  Called at the end of hart_trap,
 * with the hart already in the handler's mode, and at the end of an xRET
 * that succeeded, with the hart already back in the returned-to mode.
 * h->icount is exact in both: the number of instructions retired before
 * the trapping instruction or the xRET. */
struct hart_trap_hook {
	void (*trap)(void *opaque, const struct hart *h, uint64_t cause, uint64_t tval,
		     bool interrupt, unsigned from_priv);
	void (*xret)(void *opaque, const struct hart *h, unsigned from_priv);
	void *opaque;
};

/* Who is told about each instruction and its memory accesses
 * (vm/taps_effect.c).  Only exact, not fast: while a hook is set the
 * caller runs the hart one step at a time without decoded blocks, and
 * data_tlb names tlb_none, which is never filled, so every
 * load, store and AMO takes a slow path in mmu.c or exec.c that reports
 * it.  Those paths still look in the real TLB (hart_tlb) first, as the
 * fast path would have, so an observed run walks page tables, and sets
 * A/D bits, exactly when an unobserved one does. */
struct hart_effect_hook {
	/* The instruction at pc is about to run (d: its decode; d->word its
	 * bits).  May be called again for the same step: the later call
	 * describes what runs. */
	void (*insn)(void *opaque, const struct hart *h, uint64_t pc,
		     const struct decoded_insn *d);
	/* It accessed `size` bytes at va (physical pa): `value` is the bytes
	 * read or written, zero-extended.  Page-table walks are not
	 * reported. */
	void (*access)(void *opaque, uint64_t va, uint64_t pa, unsigned size, uint64_t value,
		       bool write);
	void *opaque;
};

struct hart {
	/* --- hot state, touched by the interpreter loop --- */
	/* x[32] is not a register: decoded blocks send the writes of loads
	 * and jumps whose rd is x0 there (cpu/block.h), so x[0] stays 0 */
	uint64_t x[33];
	uint64_t pc;
	uint64_t f[32]; /* NaN-boxed: a single is held in the low 32 bits with the upper 32 all ones */
	struct tlb *data_tlb; /* TLB for the effective data privilege (MPRV-aware) */
	struct tlb *fetch_tlb; /* TLB for the current privilege */
	uint8_t priv;
	uint8_t fflags; /* accrued exception flags NV DZ OF UF NX (bits 4..0) */
	uint8_t frm; /* dynamic rounding mode */
	/* The host FPU holds the guest's rounding mode and accrued flags
	 * between FP instructions (see fpu_host_env). */
	bool fpenv_guest;
	uint8_t fpenv_rm; /* rounding mode loaded while fpenv_guest */
	uint32_t fpenv_host_mxcsr; /* the host's own, restored by fpu_host_env */

	/* Retired-instruction count.  Only brought up to date when the
	 * interpreter leaves its inner loop or calls out of it (slow paths,
	 * MMIO, CSRs, traps), which is every place a callback can read it. */
	uint64_t icount;
	/* Set by anything (MMIO side effects, a device) that needs the current
	 * slice to end after the instruction in progress. */
	bool slice_end;
	bool wfi; /* the hart is stalled in WFI waiting for an interrupt */

	/* --- machine-level CSRs --- */
	uint64_t mstatus; /* sstatus is a view of this */
	uint64_t misa;
	uint64_t medeleg, mideleg;
	uint64_t mie;
	uint64_t mip; /* the bits software writes: SSIP, STIP, SEIP */
	uint64_t mip_hw; /* lines driven by devices: MSIP, MTIP, MEIP, SEIP */
	uint64_t mtvec, mepc, mcause, mtval, mscratch;
	uint64_t stvec, sepc, scause, stval, sscratch;
	uint64_t satp;
	uint32_t mcounteren, scounteren, mcountinhibit;
	uint64_t menvcfg, senvcfg;
	uint64_t mhartid;
	uint64_t stimecmp; /* Sstc */
	int64_t mcycle_offset, minstret_offset; /* written value minus icount */

	uint8_t pmpcfg[PMP_ENTRIES];
	uint64_t pmpaddr[PMP_ENTRIES];
	bool pmp_active; /* any pmp entry has A != OFF; lets the fast path skip PMP */
	/* Entry i matches [pmp_lo[i], pmp_hi[i]); lo >= hi matches nothing.
	 * Derived from pmpcfg/pmpaddr by pmp_update(), never saved. */
	uint64_t pmp_lo[PMP_ENTRIES], pmp_hi[PMP_ENTRIES];
	/* The entries that match anything, in priority order: every walk
	 * checks each PTE read, and firmware leaves most entries off. */
	uint8_t pmp_used[PMP_ENTRIES], pmp_nused;
	/* The last PMP decision's window (mmu.c, pmp_allows): every access
	 * inside [pmp_win_lo, pmp_win_hi) is decided by the same entry,
	 * pmp_win_cfg's (or by none when it is -1), since no entry before it
	 * touches the window.  A page walk checks each PTE read, nearly all
	 * in one window.  Emptied (lo > hi) by pmp_update, never saved. */
	uint64_t pmp_win_lo, pmp_win_hi;
	int pmp_win_cfg;

	/* LR/SC: one reservation, set by LR on an aligned address and cleared by
	 * SC (success or failure), by any trap entry and by xRET.  A store by the
	 * same hart to the reservation does NOT clear it (the spec allows either;
	 * we pick the cheap, deterministic one). */
	uint64_t reservation; /* physical address, or UINT64_MAX */

	/* Exception being raised by a memory helper, filled before it returns
	 * non-zero. */
	uint64_t exc_cause, exc_tval;

	struct bus *bus;
	const struct vclock *clock;

	struct tlb tlb_m; /* M-mode's, untranslated: kept across satp writes */
	struct tlb tlb_none; /* never filled: a table that always misses */
	struct tlb_space spaces[TLB_SPACES];
	struct tlb_space *space; /* the one for satp */
	uint64_t tlb_clock; /* satp writes so far, for choosing a space to reuse */
	struct global_walk global_walks[GLOBAL_WALKS];
	/* the generation of valid global_walks, >= 1; a flush adds one.
	 * [global_super_lo, global_super_hi]: the virtual range of the
	 * superpages among them (lo > hi: none) */
	uint64_t global_gen, global_super_lo, global_super_hi;

	/* Decoded blocks (cpu/block.h), BLOCK_TABLE_SIZE of them, or NULL:
	 * then every instruction is decoded where it runs and executed alone
	 * (keel run --no-decode-cache), the reference blocks are tested
	 * against.  Set through hart_set_block_cache; hart_init keeps it.
	 * Never saved, never needs invalidating. */
	struct block *blocks;
	struct block_stats block_stats; /* for --stats; kept by hart_init */
	/* Hot blocks translated to x86-64 (cpu/jit.h), or NULL: the JIT is
	 * off.  Set through hart_set_jit; kept by hart_init, never saved:
	 * translations are a cache like the blocks. */
	struct jit *jit;
	/* Where a translation returned to the interpreter at an entry: its
	 * block and that block's base pc (cpu/jit.h).  Never saved. */
	const struct block *jit_block;
	uint64_t jit_base;
	/* While translated code runs: the pc of the start of the running
	 * block's page (jit.c, page_base).  Never saved. */
	uint64_t jit_page;
	/* While a loop's translation lends the register of the steps left to
	 * a guest register: the steps left (jit.c, plan_loop).  Never saved. */
	uint64_t jit_left;
	uint8_t jit_exit_kind; /* why it returned (enum jit_exit_kind), for --stats */
	/* With JIT_EXIT_LINK: the site to link and the block it found. */
	uint8_t *jit_link_site;
	const struct block *jit_link_to;
	/* A fork-clone keeps the block table and translations (a copy)
	 * rather than starting with empty ones: hart_set_clone_cache.  Kept
	 * by hart_init. */
	bool clone_keeps_cache;
	/* The code generation (bus.h) of the page fetched from when no page
	 * is open (exec.c: NO_FETCH_PAGE); it never changes. */
	uint64_t no_fetch_gen;
	/* Told about every trap and trap return, or NULL.  Like `blocks`,
	 * kept by hart_init and never saved. */
	const struct hart_trap_hook *trap_hook;
	/* Told about every instruction's memory effects, or NULL.  Set
	 * through hart_set_effect_hook; kept by hart_init, never saved. */
	const struct hart_effect_hook *effect_hook;
};

/* mstatus fields */
#define MSTATUS_SIE (1ULL << 1)
#define MSTATUS_MIE (1ULL << 3)
#define MSTATUS_SPIE (1ULL << 5)
#define MSTATUS_UBE (1ULL << 6)
#define MSTATUS_MPIE (1ULL << 7)
#define MSTATUS_SPP (1ULL << 8)
#define MSTATUS_VS_SHIFT 9
#define MSTATUS_MPP_SHIFT 11
#define MSTATUS_MPP (3ULL << 11)
#define MSTATUS_FS_SHIFT 13
#define MSTATUS_FS (3ULL << 13)
#define MSTATUS_XS (3ULL << 15)
#define MSTATUS_MPRV (1ULL << 17)
#define MSTATUS_SUM (1ULL << 18)
#define MSTATUS_MXR (1ULL << 19)
#define MSTATUS_TVM (1ULL << 20)
#define MSTATUS_TW (1ULL << 21)
#define MSTATUS_TSR (1ULL << 22)
#define MSTATUS_UXL (3ULL << 32)
#define MSTATUS_SXL (3ULL << 34)
#define MSTATUS_SD (1ULL << 63)

/* menvcfg/senvcfg fields (senvcfg has FIOM and the CB* ones) */
#define ENVCFG_FIOM 1ULL
#define ENVCFG_CBIE (3ULL << 4) /* cbo.inval: 00 illegal, 01 as flush, 11 inval */
#define ENVCFG_CBIE_FLUSH (1ULL << 4)
#define ENVCFG_CBCFE (1ULL << 6) /* cbo.clean, cbo.flush allowed */
#define ENVCFG_CBZE (1ULL << 7) /* cbo.zero allowed */
#define ENVCFG_PBMTE (1ULL << 62) /* Svpbmt: PTE bits 62:61 allowed */
#define ENVCFG_STCE (1ULL << 63) /* Sstc: stimecmp enabled */

/* Zicbom/Zicbop/Zicboz cache-block size in bytes (docs/cpu.md) */
#define CBO_BLOCK_SIZE 64

#define FS_OFF 0
#define FS_INITIAL 1
#define FS_CLEAN 2
#define FS_DIRTY 3

/* fflags bits */
#define FFLAG_NX 0x01
#define FFLAG_UF 0x02
#define FFLAG_OF 0x04
#define FFLAG_DZ 0x08
#define FFLAG_NV 0x10

/* rounding modes */
enum rounding_mode { RM_RNE = 0, RM_RTZ = 1, RM_RDN = 2, RM_RUP = 3, RM_RMM = 4, RM_DYN = 7 };

/* Reset the hart to the state the privileged spec defines at reset:
 * M-mode, pc = reset_pc, mstatus with MIE/MPRV clear, PMP off, TLBs empty.
 * The block cache (h->blocks) is kept, so a new hart must start zeroed. */
void hart_init(struct hart *h, struct bus *bus, const struct vclock *clock, uint64_t hartid,
	       uint64_t reset_pc);

/* Turn the block cache on (the default) or off.  Off, every instruction
 * is decoded where it runs and executed on its own.  Returns 0, or -1 when
 * the table cannot be allocated (the hart then runs without it). */
int hart_set_block_cache(struct hart *h, bool on);

/* Turn the JIT (cpu/jit.h) on or off; on, a block is translated after
 * `threshold` entries in the interpreter (0: at its first).  Drops every
 * block and translation.  The JIT works on decoded blocks: with the block
 * cache off it does nothing.  Returns 0, or -1 when the code cache cannot
 * be mapped (the JIT then stays off). */
int hart_set_jit(struct hart *h, bool on, unsigned threshold);

/* --jit-perfmap: name every translation from now on in /tmp/perf-<pid>.map
 * (cpu/jit.h, jit_perfmap_open).  Returns 0 (also with the JIT off: there
 * is nothing to name), or -1 with errno. */
int hart_jit_perfmap(struct hart *h);
/* What a fork()ed child (a fork-clone) starts with: empty caches (inherit
 * false, the default), or the parent's decoded blocks copy-on-write and
 * a copy of its translations (true).  The same results either way; which
 * is faster is docs/cpu.md's "A cache, never state". */
void hart_set_clone_cache(struct hart *h, bool inherit);

/* In a fork()ed child, before it runs: give the JIT a code cache of its
 * own, empty or a copy (cpu/jit.h, jit_after_fork).  Returns 0, or -1
 * when it cannot; the child must then not run. */
int hart_after_fork(struct hart *h);

/* The block table's counts for --stats, or NULL when it is off. */
const struct block_stats *hart_block_stats(const struct hart *h);

/* The JIT's counts for --stats, or NULL when it is off. */
const struct jit_stats *hart_jit_stats(const struct hart *h);

/* Free what the hart allocated (the block table, the JIT). */
void hart_free(struct hart *h);

/* The current mtime: the virtual clock at this hart's instruction count.
 * The one place it is computed; the CLINT, the RTC, the time CSR and the
 * run loop all read it here.  0 for a hart with no clock (unit tests). */
uint64_t hart_mtime(const struct hart *h);

/* Snapshot section CPU (docs/snapshot-format.md): the architectural state
 * and icount, in the documented order (src/cpu/hart_state.c).  Load
 * refuses values the interpreter assumes never occur, then rebuilds what
 * is derived from the state (PMP ranges, TLBs, the mode's TLB pointers).
 * Change the two and the document together, and bump the version. */
struct state_reader;
struct state_writer;
#define CPU_STATE_VERSION 1u
void hart_save(const struct hart *h, struct state_writer *w);
int hart_load(struct hart *h, struct state_reader *r);

/* The page at host address host_page now has decoded blocks: drop every
 * TLB write entry that reaches it, so that stores to it take the slow
 * path, which tells the bus (bus.h, code generations). */
void hart_protect_code_page(struct hart *h, const void *host_page);

/* Drop every TLB write entry (all privileges), so that the next store to
 * any page takes the slow path, which tells the bus: after dirty tracking
 * starts or clears its bits (bus.h, dirty pages). */
void hart_drop_write_entries(struct hart *h);

/* Run at most `budget` steps; a step is a retired instruction or a trap
 * taken by an instruction (which does not retire).  Returns the steps
 * taken; h->icount counts only retired instructions.  Returns early when
 * the hart executes WFI with nothing pending (h->wfi set), or when
 * something sets h->slice_end.  Pending, enabled interrupts are taken on
 * entry. */
uint64_t hart_run(struct hart *h, uint64_t budget);

/* Set or clear interrupt-pending bits driven by devices (MEIP, SEIP, MTIP,
 * MSIP).  Ends the current slice so the change is seen promptly. */
void hart_set_pending(struct hart *h, uint64_t mask, bool level);

/* The TLBs cache translations and permissions; drop them after anything
 * that changes either (PMP).  Every space keeps its satp. */
void hart_flush_tlb(struct hart *h);

/* Drop what SFENCE.VMA with rs1 = rs2 = x0, MXR and menvcfg.PBMTE affect:
 * every space's tables.  The M TLB (untranslated: M-mode without MPRV) is
 * kept. */
void hart_flush_translations(struct hart *h);

/* SFENCE.VMA: one_va says rs1 was not x0 (then va is its value), one_asid
 * that rs2 was not x0 (asid its value).  Drops at least what the
 * privileged spec says the fence invalidates, and never the M TLB. */
void hart_sfence_vma(struct hart *h, bool one_va, uint64_t va, bool one_asid, uint64_t asid);

/* h->satp changed: make h->space the space for it, reusing the least
 * recently chosen one (emptied first) when none has it.  Then re-derive
 * the TLB pointers (hart_update_mode). */
void hart_switch_space(struct hart *h);

/* The TLBs that may hold entries: M's and every space's in use.  Fills
 * out[] (room for HART_MAX_TLBS) and returns how many. */
#define HART_MAX_TLBS (1 + 3 * TLB_SPACES)
size_t hart_live_tlbs(const struct hart *h, const struct tlb **out);

/* For the TLB fill (mmu.c): entry `index` of t's `type` table is valid
 * now, so the next flush must clear it. */
void hart_note_tlb_fill(struct tlb *t, enum access_type type, unsigned index);

/* The table a fast-path access of `type` at privilege `priv` uses (M
 * untranslated; U, S and S with SUM from the current space), whatever an
 * observer does to data_tlb.  The one place that choice is made. */
static inline struct tlb *hart_tlb(struct hart *h, int priv, enum access_type type)
{
	if (priv == PRIV_M)
		return &h->tlb_m;
	if (priv == PRIV_S && type != ACCESS_EXEC && (h->mstatus & MSTATUS_SUM))
		return &h->space->tlbs[SPACE_S_SUM];
	return &h->space->tlbs[priv];
}

/* Re-derive data_tlb/fetch_tlb after a change of priv, MPRV or MPP. */
void hart_update_mode(struct hart *h);

/* Set (or with NULL clear) the effect hook.  The caller turns decoded
 * blocks off first and runs the hart one step at a time while it is set
 * (struct hart_effect_hook). */
void hart_set_effect_hook(struct hart *h, const struct hart_effect_hook *hook);

/* Take a trap (exception or interrupt) now: update xepc/xcause/xtval/status,
 * switch privilege and set pc to the vector. */
void hart_trap(struct hart *h, uint64_t cause, uint64_t tval, bool interrupt);

/* If an interrupt is pending and enabled, take it and return true. */
bool hart_take_interrupt(struct hart *h);

/* The interrupt that would be taken now, or -1. */
int hart_pending_interrupt(const struct hart *h);

/* CSR access with full privilege checks.  Return 0, or -1 for an illegal
 * instruction.  `csr_write` has the side effects of a CSR instruction
 * (TLB flush, slice end, ...).  Debuggers use csr_read/csr_write_debug,
 * which skip privilege checks. */
int csr_read(struct hart *h, uint32_t csr, uint64_t *val);
int csr_write(struct hart *h, uint32_t csr, uint64_t val);
int csr_read_debug(struct hart *h, uint32_t csr, uint64_t *val);
/* The value CSRRS/CSRRC modify (differs from the read value for mip/sip). */
uint64_t csr_rmw_base(const struct hart *h, uint32_t csr, uint64_t read_value);
int csr_write_debug(struct hart *h, uint32_t csr, uint64_t val);

/* Address translation for debuggers and introspection: virtual to physical
 * using the current satp, without side effects (no A/D updates, no TLB
 * fill).  Returns 0 or -1 if unmapped. */
int hart_translate_debug(struct hart *h, uint64_t vaddr, uint64_t *paddr);

/* Execute one OP-FP / FMADD / FMSUB / FNMSUB / FNMADD instruction (not the
 * FP loads and stores).  The caller has checked mstatus.FS != Off and marks
 * FS dirty afterwards.  Returns 0, or -1 for an illegal instruction (bad
 * rounding mode, unknown encoding).  Lives in fpu.c. */
int fpu_execute(struct hart *h, uint32_t insn);

/* The rounding FP arithmetic (OP-FP add/sub/mul/div/sqrt, the fused
 * multiply-adds) for the decode cache: fpu_pack_arith says whether insn is
 * one (with legal fixed fields) and packs its operation, format, rounding
 * mode field and rs3 into *packed; fpu_execute_packed then executes it like
 * fpu_execute would.  Lives in fpu.c. */
bool fpu_pack_arith(uint32_t insn, int32_t *packed);
int fpu_execute_packed(struct hart *h, int32_t packed, unsigned rd, unsigned rs1, unsigned rs2);

/* fpu_execute may leave the guest's rounding mode in the host FPU and
 * accrue the guest's flags there (loading the host's control register per
 * instruction would cost more than the arithmetic).  fpu_host_env folds
 * those flags into h->fflags and gives the host its own environment back.
 * Call it before reading h->fflags and before anything that may run host
 * floating-point code; hart_run does so before every call out of the
 * interpreter (MMIO, CSRs, traps) and when it returns. */
void fpu_host_env_slow(struct hart *h);
static inline void fpu_host_env(struct hart *h)
{
	if (h->fpenv_guest)
		fpu_host_env_slow(h);
}

/* Expand a 16-bit compressed instruction to its 32-bit equivalent, or
 * return 0 if the encoding is illegal/reserved.  Lives in rvc.c. */
uint32_t rvc_expand(uint16_t insn);

/* rvc_expand() of every 16-bit value (0 where the low bits are 11),
 * generated at build time (tools/gen_rvc_table.c). */
extern const uint32_t rvc_table[1 << 16];

#endif
