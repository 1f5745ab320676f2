/* The interpreter's hot loop.
 *
 * Shape (after TinyEMU): fetch straight from a host pointer into the current
 * code page, decode with one switch, and do loads and stores through the
 * soft-TLB whose entries hold a host addend.  The instruction budget is a
 * local counter; h->icount is brought up to date only when we leave the
 * loop or call out to code that may read it (CSRs, MMIO, traps).
 *
 * Each instruction's semantics are written out plainly, Spike style.
 * Compressed instructions are expanded to their 32-bit twins first and
 * then take the same path.
 */
#include <string.h>

#include "bus/bus.h"
#include "cpu/bitmanip.h"
#include "cpu/block.h"
#include "cpu/decode.h"
#include "cpu/hart.h"
#include "cpu/jit.h"
#include "cpu/mmu.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

static inline uint64_t sext32(uint64_t v) { return (uint64_t)(int64_t)(int32_t)v; }

/* ---- memory fast paths ----
 * A TLB hit compares the page tag against the address with its low bits
 * kept up to the access size, so a misaligned access misses and takes the
 * slow path, which emulates it.  Integer loads and stores do their hit
 * inline in hart_run and jump to a shared miss path there, so that
 * nothing the slow path needs (the instruction count, above all) is
 * computed on a hit. */

static inline uint64_t tag_of(uint64_t va, unsigned size)
{
	return va & ~(uint64_t)(0xfff & ~(size - 1));
}

/* The entry of `table` that maps va for `size` bytes, or NULL. */
static inline const struct tlb_entry *tlb_hit(const struct tlb_entry *table, uint64_t va,
					      unsigned size)
{
	const struct tlb_entry *e = &table[(va >> 12) % TLB_ENTRIES];
	return likely(e->tag == tag_of(va, size)) ? e : NULL;
}

static inline uint64_t read_host(uint64_t va, const struct tlb_entry *e, unsigned size)
{
	const void *p = (const void *)(uintptr_t)(va + e->addend);
	switch (size) {
	case 1: return *(const uint8_t *)p;
	case 2: return *(const uint16_t *)p;
	case 4: return *(const uint32_t *)p;
	default: return *(const uint64_t *)p;
	}
}

static inline void write_host(uint64_t va, const struct tlb_entry *e, unsigned size,
			      uint64_t val)
{
	void *p = (void *)(uintptr_t)(va + e->addend);
	switch (size) {
	case 1: *(uint8_t *)p = (uint8_t)val; break;
	case 2: *(uint16_t *)p = (uint16_t)val; break;
	case 4: *(uint32_t *)p = (uint32_t)val; break;
	default: *(uint64_t *)p = val; break;
	}
}

static const uint8_t load_size[] = {[OP_LB] = 1, [OP_LH] = 2, [OP_LW] = 4, [OP_LD] = 8,
				    [OP_LBU] = 1, [OP_LHU] = 2, [OP_LWU] = 4};

/* An integer load's (OP_LB..OP_LWU) sign or zero extension of v. */
static inline uint64_t extend(enum op op, uint64_t v)
{
	switch (op) {
	case OP_LB: return (uint64_t)(int64_t)(int8_t)v;
	case OP_LH: return (uint64_t)(int64_t)(int16_t)v;
	case OP_LW: return sext32(v);
	default: return v;
	}
}

/* What a load gives: rc 0 for a TLB hit, 1 after a successful slow path
 * (which may have run device code), -1 for an exception.  Returned by
 * value, so the loaded value stays in a register. */
struct loaded {
	uint64_t val;
	int rc;
};

/* The slow paths, out of line and cold.  `icount` is the count before
 * this instruction, for a device that reads it. */
static __attribute__((noinline, cold)) struct loaded load_miss(struct hart *h, uint64_t va,
							    unsigned size, uint64_t icount)
{
	struct loaded r = {0, 1};
	h->icount = icount;
	fpu_host_env(h); /* the slow path may reach a device */
	if (mmu_load_slow(h, va, size, &r.val))
		r.rc = -1;
	return r;
}

/* Returns 1 after a successful slow path (which may have set slice_end:
 * an MMIO side effect, and may have written anything, code included), -1
 * for an exception.  A hit never writes code and never needs counting as
 * a page's first write: the TLB holds no write entry for a page with
 * decoded blocks (block.h) or a clean page while dirty pages are tracked
 * (bus/bus.h), so those stores come here. */
static __attribute__((noinline, cold)) int store_miss(struct hart *h, uint64_t va,
						     unsigned size, uint64_t val, uint64_t icount)
{
	h->icount = icount;
	fpu_host_env(h);
	return mmu_store_slow(h, va, size, val) ? -1 : 1;
}

/* A load whole, for the FP loads. */
static inline struct loaded load(struct hart *h, uint64_t va, unsigned size, uint64_t icount)
{
	const struct tlb_entry *e = tlb_hit(h->data_tlb->read, va, size);
	if (likely(e))
		return (struct loaded){read_host(va, e, size), 0};
	return load_miss(h, va, size, icount);
}

/* ---- M extension ---- */

static uint64_t mulh(int64_t a, int64_t b) { return (uint64_t)(((__int128)a * b) >> 64); }
static uint64_t mulhu(uint64_t a, uint64_t b)
{
	return (uint64_t)(((unsigned __int128)a * b) >> 64);
}
static uint64_t mulhsu(int64_t a, uint64_t b)
{
	return (uint64_t)(((__int128)a * (__int128)(unsigned __int128)b) >> 64);
}

static uint64_t div64(int64_t a, int64_t b)
{
	if (b == 0)
		return UINT64_MAX;
	if (a == INT64_MIN && b == -1)
		return (uint64_t)a;
	return (uint64_t)(a / b);
}
static uint64_t divu64(uint64_t a, uint64_t b) { return b ? a / b : UINT64_MAX; }
static uint64_t rem64(int64_t a, int64_t b)
{
	if (b == 0)
		return (uint64_t)a;
	if (a == INT64_MIN && b == -1)
		return 0;
	return (uint64_t)(a % b);
}
static uint64_t remu64(uint64_t a, uint64_t b) { return b ? a % b : a; }
static uint64_t div32(int32_t a, int32_t b)
{
	if (b == 0)
		return UINT64_MAX;
	if (a == INT32_MIN && b == -1)
		return sext32((uint32_t)a);
	return sext32((uint32_t)(a / b));
}
static uint64_t divu32(uint32_t a, uint32_t b) { return sext32(b ? a / b : UINT32_MAX); }
static uint64_t rem32(int32_t a, int32_t b)
{
	if (b == 0)
		return sext32((uint32_t)a);
	if (a == INT32_MIN && b == -1)
		return 0;
	return sext32((uint32_t)(a % b));
}
static uint64_t remu32(uint32_t a, uint32_t b) { return sext32(b ? a % b : a); }

/* ---- A extension ---- */

enum { AMO_ADD = 0x00, AMO_SWAP = 0x01, AMO_LR = 0x02, AMO_SC = 0x03, AMO_XOR = 0x04,
       AMO_OR = 0x08, AMO_AND = 0x0c, AMO_MIN = 0x10, AMO_MAX = 0x14, AMO_MINU = 0x18,
       AMO_MAXU = 0x1c };

static bool amo_compute(unsigned op, unsigned size, uint64_t old, uint64_t src, uint64_t *out)
{
	if (size == 4) {
		old = sext32(old);
		src = sext32(src);
	}
	switch (op) {
	case AMO_ADD: *out = old + src; break;
	case AMO_SWAP: *out = src; break;
	case AMO_XOR: *out = old ^ src; break;
	case AMO_OR: *out = old | src; break;
	case AMO_AND: *out = old & src; break;
	case AMO_MIN: *out = (int64_t)old < (int64_t)src ? old : src; break;
	case AMO_MAX: *out = (int64_t)old > (int64_t)src ? old : src; break;
	case AMO_MINU: *out = old < src ? old : src; break;
	case AMO_MAXU: *out = old > src ? old : src; break;
	default: return false;
	}
	return true;
}

static int raise_exc(struct hart *h, uint64_t cause, uint64_t tval)
{
	h->exc_cause = cause;
	h->exc_tval = tval;
	return -1;
}

/* Tell the effect hook (hart.h) what an AMO that completed accessed: LR
 * reads `old`, a successful SC writes `result`, the others read `old`
 * and write `result`.  Out of line: the loop inlines exec_amo. */
static __attribute__((noinline)) void note_amo(struct hart *h, unsigned op, uint64_t va,
					       uint64_t pa, unsigned size, uint64_t old,
					       uint64_t result)
{
	if (op != AMO_SC)
		mmu_note_access(h, va, pa, size, old, false);
	if (op != AMO_LR)
		mmu_note_access(h, va, pa, size, result, true);
}

/* Returns 1 for an illegal encoding, -1 for a raised exception, 0 done.
 * Atomics work on the translated physical address, so any fault during the
 * read-modify-write is reported as a store/AMO fault, as the spec says.
 * LR/SC reservation rule (deterministic, single hart): LR records the
 * physical address; SC succeeds iff the reservation is for the same
 * physical address; SC and every trap entry clear it. */
static int exec_amo(struct hart *h, uint32_t insn)
{
	unsigned f3 = funct3_of(insn), op = insn >> 27;
	if (f3 != 2 && f3 != 3)
		return 1;
	unsigned size = f3 == 2 ? 4 : 8;
	uint64_t va = h->x[rs1_of(insn)], src = h->x[rs2_of(insn)];
	int priv = mmu_data_priv(h);
	uint64_t pa = 0, old = 0, result = 0;
	uint8_t *host; /* the TLB's host address for va, when it has the page */
	if (op == AMO_LR) {
		if (rs2_of(insn) != 0)
			return 1;
		if (va & (size - 1))
			return raise_exc(h, EXC_LOAD_MISALIGNED, va);
		host = mmu_tlb_hit(h, va, ACCESS_READ, priv, &pa);
		if (!host && mmu_translate_fill(h, va, size, ACCESS_READ, priv, &pa, &host))
			return -1;
		if (host)
			memcpy(&old, host, size);
		else if (bus_read(h->bus, pa, size, &old))
			return raise_exc(h, EXC_LOAD_ACCESS, va);
		h->reservation = pa;
		h->x[rd_of(insn)] = size == 4 ? sext32(old) : old;
		goto done;
	}
	if (op != AMO_SC && !amo_compute(op, size, 0, 0, &result))
		return 1;
	if (va & (size - 1))
		return raise_exc(h, EXC_STORE_MISALIGNED, va);
	/* Linux takes a lock or changes a count with one every few hundred
	 * instructions: a walk each time cost more than the rest of them. */
	bool need_pa = op == AMO_SC || h->effect_hook; /* the reservation, note_amo */
	host = mmu_tlb_hit(h, va, ACCESS_WRITE, priv, need_pa ? &pa : NULL);
	if (op == AMO_SC) {
		/* no fill: a failed SC writes nothing, so must not make the
		 * page dirty or its blocks stale */
		if (!host && mmu_translate(h, va, size, ACCESS_WRITE, priv, &pa))
			return -1;
		bool ok = h->reservation == pa;
		h->reservation = UINT64_MAX;
		if (ok && host)
			memcpy(host, &src, size);
		else if (ok && bus_write(h->bus, pa, size, src))
			return raise_exc(h, EXC_STORE_ACCESS, va);
		h->x[rd_of(insn)] = !ok;
		if (!ok)
			return 0; /* a failed SC accesses no memory */
		result = src;
		goto done;
	}
	if (!host && mmu_translate_fill(h, va, size, ACCESS_WRITE, priv, &pa, &host))
		return -1;
	if (host) {
		memcpy(&old, host, size);
		amo_compute(op, size, old, src, &result);
		memcpy(host, &result, size);
	} else {
		if (!pmp_allows(h, pa, size, ACCESS_READ, priv) || bus_read(h->bus, pa, size, &old))
			return raise_exc(h, EXC_STORE_ACCESS, va);
		amo_compute(op, size, old, src, &result);
		if (bus_write(h->bus, pa, size, result))
			return raise_exc(h, EXC_STORE_ACCESS, va);
	}
	h->x[rd_of(insn)] = size == 4 ? sext32(old) : old;
done:
	if (unlikely(h->effect_hook))
		note_amo(h, op, va, pa, size, old, result);
	return 0;
}

/* ---- Zicbom, Zicboz: cache-block operations ---- */

/* Keel has no cache: memory is always coherent with every device.  A
 * cache block is CBO_BLOCK_SIZE bytes (the device tree says so).
 * cbo.clean, cbo.flush and cbo.inval do nothing but check that the block
 * may be accessed; cbo.zero writes the block's bytes as zeros. */
enum { CBO_INVAL = 0, CBO_CLEAN = 1, CBO_FLUSH = 2, CBO_ZERO = 4 };

/* Whether the envcfg field `bits` (nonzero = enabled) lets the current
 * privilege run a CBO: M always, S if menvcfg allows, U if both do. */
static bool cbo_enabled(const struct hart *h, uint64_t bits)
{
	if (h->priv != PRIV_M && !(h->menvcfg & bits))
		return false;
	return h->priv != PRIV_U || (h->senvcfg & bits);
}

/* Returns 1 for an illegal instruction, -1 for a raised exception, 0 done.
 * Faults are reported as store faults (the CMO spec's rule), as Spike
 * does: with xtval the address in rs1 for clean/flush/inval, the block's
 * first byte for zero. */
static int exec_cbo(struct hart *h, uint32_t insn)
{
	unsigned which = insn >> 20;
	uint64_t va = h->x[rs1_of(insn)], pa;
	int priv = mmu_data_priv(h);
	if (!cbo_enabled(h, which == CBO_ZERO ? ENVCFG_CBZE
			 : which == CBO_INVAL ? ENVCFG_CBIE : ENVCFG_CBCFE))
		return 1;
	if (which == CBO_ZERO) {
		uint64_t base = va & ~(uint64_t)(CBO_BLOCK_SIZE - 1);
		if (mmu_translate(h, base, CBO_BLOCK_SIZE, ACCESS_WRITE, priv, &pa))
			return -1;
		/* bus_ram_ptr for writing counts as a write (code generations) */
		uint8_t *p = bus_ram_ptr(h->bus, pa, CBO_BLOCK_SIZE, true);
		if (!p) /* MMIO or ROM */
			return raise_exc(h, EXC_STORE_ACCESS, base);
		memset(p, 0, CBO_BLOCK_SIZE);
		return 0;
	}
	/* A load's permission is enough: a writable page is always readable. */
	if (mmu_translate(h, va, 1, ACCESS_READ, priv, &pa)) {
		if (h->exc_cause == EXC_LOAD_PAGE_FAULT)
			h->exc_cause = EXC_STORE_PAGE_FAULT;
		else if (h->exc_cause == EXC_LOAD_ACCESS)
			h->exc_cause = EXC_STORE_ACCESS;
		return -1;
	}
	if (!bus_ram_ptr(h->bus, pa, 1, false))
		return raise_exc(h, EXC_STORE_ACCESS, va);
	return 0;
}

/* ---- SYSTEM ---- */

/* What the loop must do after a SYSTEM instruction.  SYS_READ is a CSR
 * read with no write: nothing the fetch pointer depends on changed. */
enum sys_result { SYS_NEXT, SYS_READ, SYS_JUMPED, SYS_EXCEPTION, SYS_WFI };

static enum sys_result illegal(struct hart *h, uint32_t insn)
{
	h->exc_cause = EXC_ILLEGAL_INSN;
	h->exc_tval = insn;
	return SYS_EXCEPTION;
}

static enum sys_result exec_csr(struct hart *h, uint32_t insn)
{
	unsigned f3 = funct3_of(insn), rd = rd_of(insn), rs1 = rs1_of(insn);
	uint32_t csr = insn >> 20;
	uint64_t operand = (f3 & 4) ? rs1 : h->x[rs1];
	unsigned op = f3 & 3; /* 1 = RW, 2 = RS, 3 = RC */
	bool do_read = op != 1 || rd != 0;
	bool do_write = op == 1 || rs1 != 0;
	uint64_t old = 0;
	if (do_read && csr_read(h, csr, &old))
		return illegal(h, insn);
	if (do_write) {
		uint64_t base = csr_rmw_base(h, csr, old);
		uint64_t val = op == 1 ? operand : op == 2 ? base | operand : base & ~operand;
		if (csr_write(h, csr, val))
			return illegal(h, insn);
	}
	h->x[rd] = old;
	return do_write ? SYS_NEXT : SYS_READ;
}

static enum sys_result exec_mret(struct hart *h, uint32_t insn)
{
	if (h->priv != PRIV_M)
		return illegal(h, insn);
	unsigned from_priv = h->priv;
	uint64_t s = h->mstatus;
	uint8_t mpp = (uint8_t)((s & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
	s = (s & ~MSTATUS_MIE) | ((s & MSTATUS_MPIE) ? MSTATUS_MIE : 0);
	s |= MSTATUS_MPIE;
	s &= ~MSTATUS_MPP; /* U, the least-privileged mode */
	if (mpp != PRIV_M)
		s &= ~MSTATUS_MPRV;
	h->mstatus = s;
	h->priv = mpp;
	h->pc = h->mepc;
	h->reservation = UINT64_MAX;
	hart_update_mode(h);
	if (h->trap_hook && h->trap_hook->xret) {
		fpu_host_env(h); /* host code: see hart_trap */
		h->trap_hook->xret(h->trap_hook->opaque, h, from_priv);
	}
	return SYS_JUMPED;
}

static enum sys_result exec_sret(struct hart *h, uint32_t insn)
{
	if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TSR)))
		return illegal(h, insn);
	unsigned from_priv = h->priv;
	uint64_t s = h->mstatus;
	uint8_t spp = (s & MSTATUS_SPP) ? PRIV_S : PRIV_U;
	s = (s & ~MSTATUS_SIE) | ((s & MSTATUS_SPIE) ? MSTATUS_SIE : 0);
	s |= MSTATUS_SPIE;
	s &= ~MSTATUS_SPP;
	s &= ~MSTATUS_MPRV; /* the new mode is never M */
	h->mstatus = s;
	h->priv = spp;
	h->pc = h->sepc;
	h->reservation = UINT64_MAX;
	hart_update_mode(h);
	if (h->trap_hook && h->trap_hook->xret) {
		fpu_host_env(h); /* host code: see hart_trap */
		h->trap_hook->xret(h->trap_hook->opaque, h, from_priv);
	}
	return SYS_JUMPED;
}

static enum sys_result exec_system(struct hart *h, uint32_t insn)
{
	if (funct3_of(insn) != 0) {
		if (funct3_of(insn) == 4)
			return illegal(h, insn);
		return exec_csr(h, insn);
	}
	if (rd_of(insn) != 0)
		return illegal(h, insn);
	if (funct7_of(insn) == 0x09 || funct7_of(insn) == 0x0b) { /* SFENCE.VMA, SINVAL.VMA */
		if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TVM)))
			return illegal(h, insn);
		/* x0 in rs1 or rs2 means every address or every ASID, whatever
		 * the register's value */
		unsigned rs1 = rs1_of(insn), rs2 = rs2_of(insn);
		hart_sfence_vma(h, rs1 != 0, h->x[rs1], rs2 != 0, h->x[rs2]);
		return SYS_NEXT;
	}
	if (rs1_of(insn) != 0)
		return illegal(h, insn);
	switch (insn >> 20) {
	case 0x000: /* ECALL */
		h->exc_cause = EXC_ECALL_U + h->priv;
		h->exc_tval = 0;
		return SYS_EXCEPTION;
	case 0x001: /* EBREAK */
		h->exc_cause = EXC_BREAKPOINT;
		h->exc_tval = h->pc;
		return SYS_EXCEPTION;
	case 0x302: return exec_mret(h, insn);
	case 0x102: return exec_sret(h, insn);
	case 0x180: /* SFENCE.W.INVAL (Svinval): SINVAL.VMA already took effect */
	case 0x181: /* SFENCE.INVAL.IR */
		return h->priv == PRIV_U ? illegal(h, insn) : SYS_NEXT;
	case 0x105: /* WFI */
		if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TW)))
			return illegal(h, insn);
		return ((h->mip | h->mip_hw) & h->mie) ? SYS_NEXT : SYS_WFI;
	default:
		return illegal(h, insn);
	}
}

/* ---- FP loads, stores and dispatch ---- */

static bool fp_enabled(const struct hart *h) { return (h->mstatus & MSTATUS_FS) != 0; }

static void mark_fp_dirty(struct hart *h) { h->mstatus |= MSTATUS_FS; }

/* ---- the loop ---- */

/* The fetch window when no page is open for direct fetch.  The window
 * check is then a single compare (pc - fetch_page <= 0xffc): any pc
 * outside this page fails it, and a pc inside it finds zeros in
 * no_fetch_zeros, an illegal instruction, whose handler sends it to the
 * slow path.  No fetch there can succeed: it is above every physical
 * address (the bus holds nothing at or above 2^56) and not canonical in
 * any paging mode. */
#define NO_FETCH_PAGE 0x4000000000000000ULL
static const uint8_t no_fetch_zeros[4096];

static inline bool in_fetch_window(uint64_t pc, uint64_t page)
{
	return pc - page <= 0xffc; /* the last two bytes need the slow path */
}

/* A macro, not a function: taking the address of the loop's fetch window
 * would keep it out of registers. */
#define close_fetch_window()                                                              \
	(fetch_page = NO_FETCH_PAGE, fetch_addend = (uintptr_t)no_fetch_zeros - NO_FETCH_PAGE, \
	 window_gen = &h->no_fetch_gen)

/* The bits of the instruction at d that xtval gets when it is illegal: 16
 * for a compressed one.  They are still in memory: the block is current. */
static uint32_t raw_insn(const struct block *b, const struct block_insn *d)
{
	return insn_at((const uint8_t *)b->hpc + d->pcoff);
}

/* The handlers that take the place of a block's first entry's (cpu/jit.h,
 * struct block's op0): counting entries, then running the translation. */
enum { OP_JIT_COUNT = OP_COUNT, OP_JIT_RUN, OP_HANDLERS };

/* Decode the block at hpc into b, `room` bytes before the end of its page,
 * whose code generation is *gen. */
static __attribute__((noinline)) bool rebuild(struct hart *h, struct block *b, uintptr_t hpc,
					      unsigned room, uint64_t *gen,
					      const void *const *handlers)
{
	if (b->jit) /* sites linked to its translation must not run it */
		jit_kill(h->jit, b->jit);
	if (!(*gen & 1)) { /* the page's first block since it was written */
		*gen |= 1;
		hart_protect_code_page(h, (const void *)(hpc & ~(uintptr_t)0xfff));
	}
	if (!block_build(b, hpc, room, handlers))
		return false;
	b->gen = *gen;
	if (h->jit) /* count its entries until it is hot (op_jit_count) */
		b->insn[0].run = handlers[OP_JIT_COUNT];
	return true;
}

/* Which slot of a pair, both holding other blocks, a new block takes (b:
 * the one lookups look in first).  A translated block is kept from an
 * untranslated one, the hot code from the cold, but not for ever: its
 * `idle` counts the new blocks it was kept from since op_jit_run last
 * entered it, and at BLOCK_IDLE_MAX it goes.  Kept for good, the
 * translations of a boot filled the table and later code's blocks took
 * the other slots from one another, too soon to become hot (docs/cpu.md,
 * "Replacement").  Of two translated blocks the idler goes; of two
 * untranslated ones the one with fewer entries counted (`uses`), so the
 * other comes nearer the JIT's threshold, again for BLOCK_IDLE_MAX new
 * blocks at most; b when they are level. */
static struct block *victim(struct block *b, struct block *p)
{
	struct block *keep;
	if (!b->jit && !p->jit) {
		keep = p->uses > b->uses ? p : b->uses > p->uses ? b : NULL;
		if (!keep)
			return b;
		if (keep->idle >= BLOCK_IDLE_MAX)
			return keep;
	} else if (b->jit && p->jit) {
		keep = p->idle > b->idle ? b : p;
	} else {
		keep = b->jit ? b : p;
		if (keep->idle >= BLOCK_IDLE_MAX)
			return keep;
	}
	if (keep->idle < UINT8_MAX)
		keep->idle++;
	return keep == b ? p : b;
}

/* The block at hpc, which neither slot of its pair (b is block_slot's)
 * holds current: one of the two, rebuilt for it (NULL when even its first
 * instruction does not fit in the page).  A block is never moved, as
 * translations name it. */
static __attribute__((noinline)) struct block *find_block(struct hart *h, struct block *table,
							   struct block *b, uintptr_t hpc,
							   unsigned room, uint64_t *gen,
							   const void *const *handlers)
{
	struct block *p = block_partner(table, b);
	/* else rebuild where it was; an empty slot before a taken one, and
	 * the first before its partner, where every lookup looks first */
	if (b->hpc != hpc)
		b = p->hpc == hpc ? p : !b->hpc ? b : !p->hpc ? p : victim(b, p);
	h->block_stats.built++;
	if (b->hpc == hpc)
		h->block_stats.stale++;
	else if (b->hpc) {
		h->block_stats.evicted++;
		h->block_stats.evicted_jit += b->jit != NULL;
	}
	return rebuild(h, b, hpc, room, gen, handlers) ? b : NULL;
}

/* Translate block b (op_jit_count).  A full code cache is emptied, and
 * every block that had a translation counts its entries again. */
static __attribute__((noinline, cold)) bool translate(struct hart *h, struct block *table,
						       struct block *b, uint64_t pc, const void *count)
{
	fpu_host_env(h); /* host code */
	b->idle = 0; /* a new translation starts afresh (it may count from before a flush) */
	enum jit_result r = jit_translate(h->jit, table, b, pc, h->priv);
	if (r == JIT_FULL) {
		for (size_t i = 0; i < BLOCK_TABLE_SIZE; i++) {
			if (table[i].jit) {
				table[i].jit = NULL;
				table[i].uses = 0;
				table[i].insn[0].run = count;
			}
		}
		jit_reset(h->jit);
		r = jit_translate(h->jit, table, b, pc, h->priv);
	}
	return r == JIT_DONE;
}

/* Tell the effect hook (hart.h) which instruction runs next.  Out of
 * line: run_single is on the loop's path, if not its hot one. */
static __attribute__((noinline)) void note_insn(struct hart *h, uint64_t pc,
						    const struct decoded_insn *d)
{
	fpu_host_env(h); /* the hook is host code */
	h->effect_hook->insn(h->effect_hook->opaque, h, pc, d);
}

/* no-crossjumping: GCC would otherwise merge the handlers' copies of the
 * dispatch back into one indirect jump. */
__attribute__((optimize("no-crossjumping")))
uint64_t hart_run(struct hart *h, uint64_t budget)
{
	/* Steps left: an instruction, or a trap taken.  A block's steps are
	 * taken from `left` when it is entered; before entry d of the block
	 * being run, h->icount would be `counted - left - (end - d)` (ICOUNT),
	 * where counted drops by one for every step that trapped (and so
	 * retired nothing). */
	uint64_t left = budget;
	uint64_t counted = h->icount + budget;
	/* the virtual page we fetch from directly, and host - virtual for it */
	uint64_t fetch_page;
	uintptr_t fetch_addend;
	uint64_t *window_gen; /* the code generation of its page */
	uint64_t *x = h->x;
	uint64_t pc; /* between blocks: the next instruction's */
	struct block *const table = h->blocks;
	/* One instruction run on its own: with no block cache, or when it
	 * crosses a page or sits outside RAM. */
	struct block single; /* only its header is set here: entries are written
				 before they run, and zeroing 512 bytes on every
				 call would be wasted */
	single.hpc = 0;
	single.gen = 0;
	single.n = 1;
	single.bytes = 0;
	uint32_t single_bits; /* what it was decoded from: single.hpc points here */
	struct block head; /* the first instructions of a block (block_head), set when used */
	const struct block *blk = &single; /* the block being run */
	const struct block_insn *d = single.insn, *end = single.insn;
	uint64_t base = 0; /* the pc of blk's first instruction */
	uint32_t word;
	/* one entry per enum op (decode.h); decode_insn produces no other */
	static const void *const handlers[OP_HANDLERS] = {
		[OP_ILLEGAL] = &&op_illegal,
		[OP_NOP] = &&op_nop,
		[OP_LUI] = &&op_lui,
		[OP_AUIPC] = &&op_auipc,
		[OP_JAL] = &&op_jal,
		[OP_JALR] = &&op_jalr,
		[OP_BEQ] = &&op_beq,
		[OP_BNE] = &&op_bne,
		[OP_BLT] = &&op_blt,
		[OP_BGE] = &&op_bge,
		[OP_BLTU] = &&op_bltu,
		[OP_BGEU] = &&op_bgeu,
		[OP_LB] = &&op_lb,
		[OP_LH] = &&op_lh,
		[OP_LW] = &&op_lw,
		[OP_LD] = &&op_ld,
		[OP_LBU] = &&op_lbu,
		[OP_LHU] = &&op_lhu,
		[OP_LWU] = &&op_lwu,
		[OP_SB] = &&op_sb,
		[OP_SH] = &&op_sh,
		[OP_SW] = &&op_sw,
		[OP_SD] = &&op_sd,
		[OP_ADDI] = &&op_addi,
		[OP_SLTI] = &&op_slti,
		[OP_SLTIU] = &&op_sltiu,
		[OP_XORI] = &&op_xori,
		[OP_ORI] = &&op_ori,
		[OP_ANDI] = &&op_andi,
		[OP_SLLI] = &&op_slli,
		[OP_SRLI] = &&op_srli,
		[OP_SRAI] = &&op_srai,
		[OP_ADDIW] = &&op_addiw,
		[OP_SLLIW] = &&op_slliw,
		[OP_SRLIW] = &&op_srliw,
		[OP_SRAIW] = &&op_sraiw,
		[OP_ADD] = &&op_add,
		[OP_SUB] = &&op_sub,
		[OP_SLL] = &&op_sll,
		[OP_SLT] = &&op_slt,
		[OP_SLTU] = &&op_sltu,
		[OP_XOR] = &&op_xor,
		[OP_SRL] = &&op_srl,
		[OP_SRA] = &&op_sra,
		[OP_OR] = &&op_or,
		[OP_AND] = &&op_and,
		[OP_MUL] = &&op_mul,
		[OP_MULH] = &&op_mulh,
		[OP_MULHSU] = &&op_mulhsu,
		[OP_MULHU] = &&op_mulhu,
		[OP_DIV] = &&op_div,
		[OP_DIVU] = &&op_divu,
		[OP_REM] = &&op_rem,
		[OP_REMU] = &&op_remu,
		[OP_ADDW] = &&op_addw,
		[OP_SUBW] = &&op_subw,
		[OP_SLLW] = &&op_sllw,
		[OP_SRLW] = &&op_srlw,
		[OP_SRAW] = &&op_sraw,
		[OP_MULW] = &&op_mulw,
		[OP_DIVW] = &&op_divw,
		[OP_DIVUW] = &&op_divuw,
		[OP_REMW] = &&op_remw,
		[OP_REMUW] = &&op_remuw,
		[OP_ADD_UW] = &&op_add_uw,
		[OP_SH1ADD] = &&op_sh1add,
		[OP_SH2ADD] = &&op_sh2add,
		[OP_SH3ADD] = &&op_sh3add,
		[OP_SH1ADD_UW] = &&op_sh1add_uw,
		[OP_SH2ADD_UW] = &&op_sh2add_uw,
		[OP_SH3ADD_UW] = &&op_sh3add_uw,
		[OP_SLLI_UW] = &&op_slli_uw,
		[OP_ANDN] = &&op_andn,
		[OP_ORN] = &&op_orn,
		[OP_XNOR] = &&op_xnor,
		[OP_CLZ] = &&op_clz,
		[OP_CTZ] = &&op_ctz,
		[OP_CPOP] = &&op_cpop,
		[OP_CLZW] = &&op_clzw,
		[OP_CTZW] = &&op_ctzw,
		[OP_CPOPW] = &&op_cpopw,
		[OP_MAX] = &&op_max,
		[OP_MAXU] = &&op_maxu,
		[OP_MIN] = &&op_min,
		[OP_MINU] = &&op_minu,
		[OP_SEXT_B] = &&op_sext_b,
		[OP_SEXT_H] = &&op_sext_h,
		[OP_ZEXT_H] = &&op_zext_h,
		[OP_ROL] = &&op_rol,
		[OP_ROR] = &&op_ror,
		[OP_RORI] = &&op_rori,
		[OP_ROLW] = &&op_rolw,
		[OP_RORW] = &&op_rorw,
		[OP_RORIW] = &&op_roriw,
		[OP_ORC_B] = &&op_orc_b,
		[OP_REV8] = &&op_rev8,
		[OP_CLMUL] = &&op_clmul,
		[OP_CLMULR] = &&op_clmulr,
		[OP_CLMULH] = &&op_clmulh,
		[OP_BCLR] = &&op_bclr,
		[OP_BCLRI] = &&op_bclri,
		[OP_BEXT] = &&op_bext,
		[OP_BEXTI] = &&op_bexti,
		[OP_BINV] = &&op_binv,
		[OP_BINVI] = &&op_binvi,
		[OP_BSET] = &&op_bset,
		[OP_BSETI] = &&op_bseti,
		[OP_CZERO_EQZ] = &&op_czero_eqz,
		[OP_CZERO_NEZ] = &&op_czero_nez,
		[OP_FLW] = &&op_flw,
		[OP_FLD] = &&op_fld,
		[OP_FSW] = &&op_fsw,
		[OP_FSD] = &&op_fsd,
		[OP_FLH] = &&op_flh,
		[OP_FSH] = &&op_fsh,
		[OP_FP_ROUNDING] = &&op_fp_rounding,
		[OP_FP] = &&op_fp,
		[OP_AMO] = &&op_amo,
		[OP_SYSTEM] = &&op_system,
		[OP_CBO] = &&op_cbo,
		[OP_BLOCK_END] = &&op_block_end,
		[OP_ADDI_BEQ] = &&op_addi_beq,
		[OP_ADDI_BNE] = &&op_addi_bne,
		[OP_ADDI_BLT] = &&op_addi_blt,
		[OP_ADDI_BGE] = &&op_addi_bge,
		[OP_ADDI_BLTU] = &&op_addi_bltu,
		[OP_ADDI_BGEU] = &&op_addi_bgeu,
		[OP_ADDIW_BEQ] = &&op_addiw_beq,
		[OP_ADDIW_BNE] = &&op_addiw_bne,
		[OP_ADDIW_BLT] = &&op_addiw_blt,
		[OP_ADDIW_BGE] = &&op_addiw_bge,
		[OP_ADDIW_BLTU] = &&op_addiw_bltu,
		[OP_ADDIW_BGEU] = &&op_addiw_bgeu,
		[OP_ADD_BEQ] = &&op_add_beq,
		[OP_ADD_BNE] = &&op_add_bne,
		[OP_ADD_BLT] = &&op_add_blt,
		[OP_ADD_BGE] = &&op_add_bge,
		[OP_ADD_BLTU] = &&op_add_bltu,
		[OP_ADD_BGEU] = &&op_add_bgeu,
		[OP_ADDI_JAL] = &&op_addi_jal,
		[OP_ADD_JAL] = &&op_add_jal,
		[OP_LD_LD] = &&op_ld_ld,
		[OP_SD_SD] = &&op_sd_sd,
		[OP_LW_LW] = &&op_lw_lw,
		[OP_ADD_ADD] = &&op_add_add,
		[OP_ADDI_ADDI] = &&op_addi_addi,
		[OP_ADDIW_ADDIW] = &&op_addiw_addiw,
		[OP_ADDI_ADD] = &&op_addi_add,
		[OP_SLLI_SRLI] = &&op_slli_srli,
		[OP_OR_OR] = &&op_or_or,
		[OP_SRLIW_SLLIW] = &&op_srliw_slliw,
		[OP_SLLIW_SRLIW] = &&op_slliw_srliw,
		[OP_ADDW_XOR] = &&op_addw_xor,
		[OP_JIT_COUNT] = &&op_jit_count,
		[OP_JIT_RUN] = &&op_jit_run,
	};
	uint64_t v;
	struct loaded l;
	int rc;
	/* Operands are read where they are used, so that the compiler does not
	 * load every one for every instruction before dispatching. */
#define RS1 (x[d->rs1])
#define RS2 (x[d->rs2])
#define RD (x[d->rd])
#define IMM ((uint64_t)(int64_t)d->imm)
#define PC (base + d->pcoff)
#define ICOUNT (counted - left - (uint64_t)(end - d))
	/* Each handler ends in its own copy of this indirect jump, so the host
	 * predicts each from the handler it leaves. */
#define NEXT()                                                                          \
	do {                                                                            \
		d++;                                                                    \
		goto *d->run;                                                           \
	} while (0)
/* Go on at pc.  The common case, a current block in the open fetch
 * window that the steps left cover, is copied into every handler that
 * leaves a block, so each predicts its own jump into the next; the rest is
 * `dispatch`. */
/* Run block b, which starts at pc, taking all its steps. */
#define ENTER(b)                                                                        \
	do {                                                                            \
		blk = (b);                                                              \
		left -= blk->n;                                                         \
		base = pc;                                                              \
		d = blk->insn;                                                          \
		end = d + blk->n;                                                       \
		goto *d->run;                                                           \
	} while (0)
#define JUMP()                                                                          \
	do {                                                                            \
		uintptr_t hpc_ = (uintptr_t)(pc + fetch_addend);                        \
		struct block *b_;                                                       \
		if (likely(in_fetch_window(pc, fetch_page) && table) &&                 \
		    (b_ = block_slot(table, hpc_), b_->hpc == hpc_) &&                  \
		    likely(b_->gen == *window_gen && b_->n <= left))                    \
			ENTER(b_);                                                      \
		goto dispatch;                                                          \
	} while (0)
/* A branch taken leaves its block, whose later instructions do not run.
 * Back to the block's own start (a loop) it needs no lookup: the block is
 * still current, as anything that could have written its page ended it. */
#define TAKEN()                                                                         \
	do {                                                                            \
		left += (uint64_t)(end - d) - 1;                                        \
		pc = PC + IMM;                                                          \
		if (pc == base && likely(blk->n <= left)) {                             \
			left -= blk->n;                                                 \
			d = blk->insn;                                                  \
			goto *d->run;                                                   \
		}                                                                       \
		JUMP();                                                                 \
	} while (0)
/* A load or store at d on its fast path; a miss leaves for the shared miss
 * path, which carries on with the next entry.  LOAD and STORE then go on. */
#define LOAD_HIT(op)                                                                    \
	do {                                                                            \
		uint64_t va_ = RS1 + IMM;                                               \
		const struct tlb_entry *e_ = tlb_hit(h->data_tlb->read, va_, load_size[op]); \
		if (unlikely(!e_))                                                      \
			goto load_miss;                                                 \
		RD = extend(op, read_host(va_, e_, load_size[op]));                     \
	} while (0)
#define LOAD(op)                                                                        \
	do {                                                                            \
		LOAD_HIT(op);                                                           \
		NEXT();                                                                 \
	} while (0)
#define FP_LOAD(size, box)                                                              \
	do {                                                                            \
		if (!fp_enabled(h))                                                     \
			goto illegal_insn;                                              \
		l = load(h, RS1 + IMM, size, ICOUNT);                                   \
		rc = l.rc;                                                              \
		if (unlikely(rc < 0))                                                   \
			goto exception;                                                 \
		h->f[d->rd] = l.val | (box);                                            \
		mark_fp_dirty(h);                                                       \
		if (unlikely(rc))                                                       \
			goto after_slow_access;                                         \
		NEXT();                                                                 \
	} while (0)
#define STORE_HIT(size, val)                                                            \
	do {                                                                            \
		uint64_t va_ = RS1 + IMM;                                               \
		const struct tlb_entry *e_ = tlb_hit(h->data_tlb->write, va_, size);    \
		if (unlikely(!e_))                                                      \
			goto store_miss;                                                \
		write_host(va_, e_, size, val);                                         \
	} while (0)
#define STORE(size, val)                                                                \
	do {                                                                            \
		STORE_HIT(size, val);                                                   \
		NEXT();                                                                 \
	} while (0)

	h->slice_end = false;
	/* WFI ends when an interrupt is pending in mie, whatever the global
	 * enables and mideleg say (privileged spec, WFI); it is taken only if
	 * enabled.  Linux idles with SIE clear and relies on this. */
	if ((h->mip | h->mip_hw) & h->mie)
		h->wfi = false;
	hart_take_interrupt(h);
	if (h->wfi)
		return 0;
	pc = h->pc;
	close_fetch_window();

	{
	/* Find the block at pc, (re)decoding it if memory no longer holds
	 * its bytes, and run it. */
	dispatch:
		if (unlikely(!left))
			goto out;
		if (unlikely(!in_fetch_window(pc, fetch_page))) {
			/* a new page: open it straight from the exec TLB if it can */
			const struct tlb *t = h->fetch_tlb;
			size_t i = (pc >> 12) % TLB_ENTRIES;
			if (t->exec[i].tag != (pc & ~0xfffULL) || (pc & 0xfff) > 0xffc)
				goto fetch_slow;
			fetch_page = pc & ~0xfffULL;
			fetch_addend = t->exec[i].addend;
			window_gen = t->exec_gen[i];
		}
		if (likely(table)) {
			uintptr_t hpc = (uintptr_t)(pc + fetch_addend);
			struct block *b = block_slot(table, hpc);
			if (unlikely(b->hpc != hpc || b->gen != *window_gen)) {
				struct block *p = block_partner(table, b);
				if (p->hpc == hpc && p->gen == *window_gen)
					b = p; /* the other way of the pair */
				else if (!(b = find_block(h, table, b, hpc,
							  0x1000 - (unsigned)(pc - fetch_page),
							  window_gen, handlers)))
					goto fetch_slow;
			}
			if (likely(b->n <= left))
				ENTER(b);
			/* A slice or a deadline ends inside b: run its first `left`
			 * instructions.  One at a time (run_single), each step
			 * decoded its instruction and found or built a block at the
			 * next pc, about 150 host instructions a step: 1.5% of
			 * sha256's host instructions, in Linux or not (docs/cpu.md). */
			ENTER(block_head(&head, b, (unsigned)left, handlers));
		}
		memcpy(&word, (const void *)(uintptr_t)(pc + fetch_addend), 4);
		goto run_single;

	fetch_slow: {
		/* copies, so that the loop's own variables never have their
		 * address taken and can stay in registers */
		uint64_t page = NO_FETCH_PAGE;
		uintptr_t addend = (uintptr_t)no_fetch_zeros - NO_FETCH_PAGE;
		uint32_t fetched;
		fpu_host_env(h);
		h->icount = counted - left;
		int fault = mmu_fetch_slow(h, pc, &fetched, &page, &addend);
		fetch_page = page;
		fetch_addend = addend;
		word = fetched;
		if (page != NO_FETCH_PAGE) /* the exec TLB has the page (maybe pc + 2's) */
			window_gen = h->fetch_tlb->exec_gen[(page >> 12) % TLB_ENTRIES];
		if (fault) {
			left--; /* the fetch trapped: a step that retired nothing */
			counted--;
			goto trap;
		}
		if (table && in_fetch_window(pc, fetch_page))
			goto dispatch;
	}
	run_single: {
		struct decoded_insn dec;
		decode_insn(word, &dec);
		if (unlikely(h->effect_hook)) /* only ever set without blocks */
			note_insn(h, pc, &dec);
		block_insn_from(&single.insn[0], &dec, handlers);
		block_end_entry(&single.insn[1], dec.len, handlers);
		single_bits = word;
		single.hpc = (uintptr_t)&single_bits;
		ENTER(&single);
	}

		/* The first entry of a block built with the JIT on: count the
		 * block's entries, translate it when it is hot, and run it as it
		 * is now (op0: the first entry's own handler). */
		op_jit_count: {
			struct block *b = (struct block *)blk;
			if (b->uses < h->jit->threshold) {
				b->uses++;
				goto *handlers[b->op0];
			}
			b->insn[0].run = translate(h, table, b, base, &&op_jit_count) ? &&op_jit_run
										: handlers[b->op0];
			goto *b->insn[0].run;
		}
		/* Run the translation from the first entry; it leaves to a pc, or
		 * back here at entry (pc >> 1) of h->jit_block when pc is odd
		 * (cpu/jit.h). */
		op_jit_run: {
			/* in use (find_block's victim); tested first, so that a
			 * fork-clone sharing the table does not copy its page */
			if (unlikely(blk->idle))
				((struct block *)blk)->idle = 0;
			struct jit_exit r = jit_run(h->jit, x, h, base, left, blk->jit);
			left = r.left;
			h->jit->stats.exits[h->jit_exit_kind]++;
			if (likely(!(r.pc & 1))) {
				if (unlikely(h->jit_exit_kind == JIT_EXIT_LINK))
					jit_link(h->jit, h->jit_link_site, h->jit_link_to);
				else if (unlikely(h->jit_exit_kind == JIT_EXIT_LINK_FAR))
					jit_link_far(h->jit, h->jit_link_site, h->jit_link_to,
						     r.pc, h->fetch_tlb);
				pc = r.pc;
				JUMP();
			}
			/* chained: maybe not the block called, maybe in another
			 * page, whose generation the fetch window does not give:
			 * closed, it ends the block after any slow access */
			if (unlikely((h->jit_block->hpc ^ blk->hpc) >> 12))
				close_fetch_window();
			blk = h->jit_block;
			base = h->jit_base;
			end = blk->insn + blk->n;
			d = blk->insn + (r.pc >> 1);
			goto *(d == blk->insn ? handlers[blk->op0] : d->run);
		}
		op_illegal:
			if (fetch_page == NO_FETCH_PAGE && in_fetch_window(PC, NO_FETCH_PAGE)) {
				/* not an instruction: the fetch has yet to fault */
				left += (uint64_t)(end - d);
				pc = PC;
				goto fetch_slow;
			}
			goto illegal_insn;
		op_nop: NEXT();
		op_block_end: pc = PC; JUMP();
		op_lui: RD = IMM; NEXT();
		op_auipc: RD = PC + IMM; NEXT();
		op_jal:
			RD = PC + d->rs2;
			pc = PC + IMM;
			JUMP();
		op_jalr:
			v = (RS1 + IMM) & ~1ULL; /* before rd is written: rd may be rs1 */
			RD = PC + d->rs2;
			pc = v;
			JUMP();
		/* a block runs on past a branch not taken */
		op_beq: if (RS1 == RS2) TAKEN(); NEXT();
		op_bne: if (RS1 != RS2) TAKEN(); NEXT();
		op_blt: if ((int64_t)RS1 < (int64_t)RS2) TAKEN(); NEXT();
		op_bge: if ((int64_t)RS1 >= (int64_t)RS2) TAKEN(); NEXT();
		op_bltu: if (RS1 < RS2) TAKEN(); NEXT();
		op_bgeu: if (RS1 >= RS2) TAKEN(); NEXT();
		/* ADDI, ADDIW or ADD and the branch or JAL after it (block.c, fused) */
		op_addi_beq: RD = RS1 + IMM; d++; goto op_beq;
		op_addi_bne: RD = RS1 + IMM; d++; goto op_bne;
		op_addi_blt: RD = RS1 + IMM; d++; goto op_blt;
		op_addi_bge: RD = RS1 + IMM; d++; goto op_bge;
		op_addi_bltu: RD = RS1 + IMM; d++; goto op_bltu;
		op_addi_bgeu: RD = RS1 + IMM; d++; goto op_bgeu;
		op_addiw_beq: RD = sext32(RS1 + IMM); d++; goto op_beq;
		op_addiw_bne: RD = sext32(RS1 + IMM); d++; goto op_bne;
		op_addiw_blt: RD = sext32(RS1 + IMM); d++; goto op_blt;
		op_addiw_bge: RD = sext32(RS1 + IMM); d++; goto op_bge;
		op_addiw_bltu: RD = sext32(RS1 + IMM); d++; goto op_bltu;
		op_addiw_bgeu: RD = sext32(RS1 + IMM); d++; goto op_bgeu;
		op_add_beq: RD = RS1 + RS2; d++; goto op_beq;
		op_add_bne: RD = RS1 + RS2; d++; goto op_bne;
		op_add_blt: RD = RS1 + RS2; d++; goto op_blt;
		op_add_bge: RD = RS1 + RS2; d++; goto op_bge;
		op_add_bltu: RD = RS1 + RS2; d++; goto op_bltu;
		op_add_bgeu: RD = RS1 + RS2; d++; goto op_bgeu;
		op_addi_jal: RD = RS1 + IMM; d++; goto op_jal;
		op_add_jal: RD = RS1 + RS2; d++; goto op_jal;
		/* the pairs of decode.h: the first entry's work, then the second's */
		op_ld_ld: LOAD_HIT(OP_LD); d++; LOAD(OP_LD);
		op_sd_sd: STORE_HIT(8, RS2); d++; STORE(8, RS2);
		op_lw_lw: LOAD_HIT(OP_LW); d++; LOAD(OP_LW);
		op_add_add: RD = RS1 + RS2; d++; RD = RS1 + RS2; NEXT();
		op_addi_addi: RD = RS1 + IMM; d++; RD = RS1 + IMM; NEXT();
		op_addiw_addiw: RD = sext32(RS1 + IMM); d++; RD = sext32(RS1 + IMM); NEXT();
		op_addi_add: RD = RS1 + IMM; d++; RD = RS1 + RS2; NEXT();
		op_slli_srli: RD = RS1 << (IMM & 63); d++; RD = RS1 >> (IMM & 63); NEXT();
		op_or_or: RD = RS1 | RS2; d++; RD = RS1 | RS2; NEXT();
		op_srliw_slliw:
			RD = sext32((uint32_t)RS1 >> (IMM & 31));
			d++;
			RD = sext32((uint32_t)RS1 << (IMM & 31));
			NEXT();
		op_slliw_srliw:
			RD = sext32((uint32_t)RS1 << (IMM & 31));
			d++;
			RD = sext32((uint32_t)RS1 >> (IMM & 31));
			NEXT();
		op_addw_xor: RD = sext32(RS1 + RS2); d++; RD = RS1 ^ RS2; NEXT();
		op_lb: LOAD(OP_LB);
		op_lh: LOAD(OP_LH);
		op_lw: LOAD(OP_LW);
		op_ld: LOAD(OP_LD);
		op_lbu: LOAD(OP_LBU);
		op_lhu: LOAD(OP_LHU);
		op_lwu: LOAD(OP_LWU);
		op_sb: STORE(1, RS2);
		op_sh: STORE(2, RS2);
		op_sw: STORE(4, RS2);
		op_sd: STORE(8, RS2);
		op_addi: RD = RS1 + IMM; NEXT();
		op_slti: RD = (int64_t)RS1 < (int64_t)IMM; NEXT();
		op_sltiu: RD = RS1 < IMM; NEXT();
		op_xori: RD = RS1 ^ IMM; NEXT();
		op_ori: RD = RS1 | IMM; NEXT();
		op_andi: RD = RS1 & IMM; NEXT();
		op_slli: RD = RS1 << (IMM & 63); NEXT();
		op_srli: RD = RS1 >> (IMM & 63); NEXT();
		op_srai: RD = (uint64_t)((int64_t)RS1 >> (IMM & 63)); NEXT();
		op_addiw: RD = sext32(RS1 + IMM); NEXT();
		op_slliw: RD = sext32((uint32_t)RS1 << (IMM & 31)); NEXT();
		op_srliw: RD = sext32((uint32_t)RS1 >> (IMM & 31)); NEXT();
		op_sraiw: RD = sext32((uint32_t)((int32_t)RS1 >> (IMM & 31))); NEXT();
		op_add: RD = RS1 + RS2; NEXT();
		op_sub: RD = RS1 - RS2; NEXT();
		op_sll: RD = RS1 << (RS2 & 63); NEXT();
		op_slt: RD = (int64_t)RS1 < (int64_t)RS2; NEXT();
		op_sltu: RD = RS1 < RS2; NEXT();
		op_xor: RD = RS1 ^ RS2; NEXT();
		op_srl: RD = RS1 >> (RS2 & 63); NEXT();
		op_sra: RD = (uint64_t)((int64_t)RS1 >> (RS2 & 63)); NEXT();
		op_or: RD = RS1 | RS2; NEXT();
		op_and: RD = RS1 & RS2; NEXT();
		op_mul: RD = RS1 * RS2; NEXT();
		op_mulh: RD = mulh((int64_t)RS1, (int64_t)RS2); NEXT();
		op_mulhsu: RD = mulhsu((int64_t)RS1, RS2); NEXT();
		op_mulhu: RD = mulhu(RS1, RS2); NEXT();
		op_div: RD = div64((int64_t)RS1, (int64_t)RS2); NEXT();
		op_divu: RD = divu64(RS1, RS2); NEXT();
		op_rem: RD = rem64((int64_t)RS1, (int64_t)RS2); NEXT();
		op_remu: RD = remu64(RS1, RS2); NEXT();
		op_addw: RD = sext32(RS1 + RS2); NEXT();
		op_subw: RD = sext32(RS1 - RS2); NEXT();
		op_sllw: RD = sext32((uint32_t)RS1 << (RS2 & 31)); NEXT();
		op_srlw: RD = sext32((uint32_t)RS1 >> (RS2 & 31)); NEXT();
		op_sraw: RD = sext32((uint32_t)((int32_t)RS1 >> (RS2 & 31))); NEXT();
		op_mulw: RD = sext32((uint32_t)RS1 * (uint32_t)RS2); NEXT();
		op_divw: RD = div32((int32_t)RS1, (int32_t)RS2); NEXT();
		op_divuw: RD = divu32((uint32_t)RS1, (uint32_t)RS2); NEXT();
		op_remw: RD = rem32((int32_t)RS1, (int32_t)RS2); NEXT();
		op_remuw: RD = remu32((uint32_t)RS1, (uint32_t)RS2); NEXT();
		/* Zba */
		op_add_uw: RD = (uint64_t)(uint32_t)RS1 + RS2; NEXT();
		op_sh1add: RD = (RS1 << 1) + RS2; NEXT();
		op_sh2add: RD = (RS1 << 2) + RS2; NEXT();
		op_sh3add: RD = (RS1 << 3) + RS2; NEXT();
		op_sh1add_uw: RD = ((uint64_t)(uint32_t)RS1 << 1) + RS2; NEXT();
		op_sh2add_uw: RD = ((uint64_t)(uint32_t)RS1 << 2) + RS2; NEXT();
		op_sh3add_uw: RD = ((uint64_t)(uint32_t)RS1 << 3) + RS2; NEXT();
		op_slli_uw: RD = (uint64_t)(uint32_t)RS1 << (IMM & 63); NEXT();
		/* Zbb */
		op_andn: RD = RS1 & ~RS2; NEXT();
		op_orn: RD = RS1 | ~RS2; NEXT();
		op_xnor: RD = ~(RS1 ^ RS2); NEXT();
		op_clz: RD = bm_clz64(RS1); NEXT();
		op_ctz: RD = bm_ctz64(RS1); NEXT();
		op_cpop: RD = bm_cpop(RS1); NEXT();
		op_clzw: RD = bm_clz32((uint32_t)RS1); NEXT();
		op_ctzw: RD = bm_ctz32((uint32_t)RS1); NEXT();
		op_cpopw: RD = bm_cpop((uint32_t)RS1); NEXT();
		op_max: RD = (int64_t)RS1 > (int64_t)RS2 ? RS1 : RS2; NEXT();
		op_maxu: RD = RS1 > RS2 ? RS1 : RS2; NEXT();
		op_min: RD = (int64_t)RS1 < (int64_t)RS2 ? RS1 : RS2; NEXT();
		op_minu: RD = RS1 < RS2 ? RS1 : RS2; NEXT();
		op_sext_b: RD = (uint64_t)(int64_t)(int8_t)RS1; NEXT();
		op_sext_h: RD = (uint64_t)(int64_t)(int16_t)RS1; NEXT();
		op_zext_h: RD = (uint16_t)RS1; NEXT();
		op_rol: RD = bm_rol64(RS1, (unsigned)RS2); NEXT();
		op_ror: RD = bm_ror64(RS1, (unsigned)RS2); NEXT();
		op_rori: RD = bm_ror64(RS1, (unsigned)IMM); NEXT();
		op_rolw: RD = bm_rol32(RS1, (unsigned)RS2); NEXT();
		op_rorw: RD = bm_ror32(RS1, (unsigned)RS2); NEXT();
		op_roriw: RD = bm_ror32(RS1, (unsigned)IMM); NEXT();
		op_orc_b: RD = bm_orc_b(RS1); NEXT();
		op_rev8: RD = __builtin_bswap64(RS1); NEXT();
		/* Zbc */
		op_clmul: RD = bm_clmul(RS1, RS2); NEXT();
		op_clmulr: RD = bm_clmulr(RS1, RS2); NEXT();
		op_clmulh: RD = bm_clmulh(RS1, RS2); NEXT();
		/* Zbs */
		op_bclr: RD = RS1 & ~(1ULL << (RS2 & 63)); NEXT();
		op_bclri: RD = RS1 & ~(1ULL << (IMM & 63)); NEXT();
		op_bext: RD = (RS1 >> (RS2 & 63)) & 1; NEXT();
		op_bexti: RD = (RS1 >> (IMM & 63)) & 1; NEXT();
		op_binv: RD = RS1 ^ (1ULL << (RS2 & 63)); NEXT();
		op_binvi: RD = RS1 ^ (1ULL << (IMM & 63)); NEXT();
		op_bset: RD = RS1 | (1ULL << (RS2 & 63)); NEXT();
		op_bseti: RD = RS1 | (1ULL << (IMM & 63)); NEXT();
		/* Zicond */
		op_czero_eqz: RD = RS2 == 0 ? 0 : RS1; NEXT();
		op_czero_nez: RD = RS2 != 0 ? 0 : RS1; NEXT();
		op_flw: FP_LOAD(4, 0xffffffff00000000ULL); /* NaN-boxed */
		op_fld: FP_LOAD(8, 0);
		op_flh: FP_LOAD(2, 0xffffffffffff0000ULL); /* NaN-boxed */
		op_fsh:
			if (!fp_enabled(h))
				goto illegal_insn;
			STORE(2, h->f[d->rs2]);
		op_fsw:
			if (!fp_enabled(h))
				goto illegal_insn;
			STORE(4, h->f[d->rs2]);
		op_fsd:
			if (!fp_enabled(h))
				goto illegal_insn;
			STORE(8, h->f[d->rs2]);
		op_fp_rounding:
			if (!fp_enabled(h) || fpu_execute_packed(h, d->imm, d->rd, d->rs1, d->rs2))
				goto illegal_insn;
			mark_fp_dirty(h);
			NEXT();
		op_fp:
			if (!fp_enabled(h) || fpu_execute(h, (uint32_t)d->imm))
				goto illegal_insn;
			mark_fp_dirty(h);
			NEXT();
		op_amo: /* ends its block: the slow path may write anything */
			fpu_host_env(h);
			h->icount = ICOUNT;
			rc = exec_amo(h, (uint32_t)d->imm);
			x[0] = 0;
			if (rc > 0)
				goto illegal_insn;
			if (rc < 0)
				goto exception;
			NEXT();
		op_cbo: /* ends its block: cbo.zero writes memory */
			fpu_host_env(h);
			h->icount = ICOUNT;
			rc = exec_cbo(h, (uint32_t)d->imm);
			if (rc > 0)
				goto illegal_insn;
			if (rc < 0)
				goto exception;
			NEXT();
		op_system: { /* ends its block */
			fpu_host_env(h); /* fflags may be read */
			h->icount = ICOUNT;
			h->pc = PC;
			enum sys_result r = exec_system(h, (uint32_t)d->imm);
			x[0] = 0;
			if (r == SYS_EXCEPTION)
				goto exception;
			if (r == SYS_READ) /* e.g. rdtime in a delay loop: stay on the fast path */
				NEXT();
			close_fetch_window(); /* priv, satp or mappings may have changed */
			pc = r == SYS_JUMPED ? h->pc : base + d[1].pcoff;
			if (r == SYS_WFI) {
				h->wfi = true;
				goto out;
			}
			goto check_interrupts;
		}

	/* An integer load whose TLB lookup missed; its op is in rs2 (block.h). */
	load_miss: {
		enum op op = (enum op)d->rs2;
		l = load_miss(h, RS1 + IMM, load_size[op], ICOUNT);
		rc = l.rc;
		v = extend(op, l.val);
	}
		if (rc < 0)
			goto exception;
		RD = v;
	/* The instruction at d took a memory slow path, which may have run
	 * device code: if that wrote this block's page (DMA), the block ends
	 * here, so the next instruction is decoded from the new bytes. */
	after_slow_access:
		if (likely(blk->gen == *window_gen))
			NEXT();
		goto block_ends_after_d;
	/* A store whose TLB lookup missed; its size is in rd (block.h). */
	store_miss:
		rc = store_miss(h, RS1 + IMM, d->rd & BLOCK_STORE_SIZE,
				(d->rd & BLOCK_STORE_FP) ? h->f[d->rs2] : RS2, ICOUNT);
		/* the block ends after a store on the slow path: it may have
		 * written the block's bytes */
		if (rc < 0)
			goto exception;
	block_ends_after_d:
		left += (uint64_t)(end - d) - 1; /* the block's later instructions did not run */
		pc = base + d[1].pcoff;
		if (unlikely(h->slice_end)) /* an MMIO side effect wants the slice to end */
			goto out;
		goto dispatch;

	illegal_insn:
		h->exc_cause = EXC_ILLEGAL_INSN;
		h->exc_tval = raw_insn(blk, d);
	/* The instruction at d raises h->exc_cause. */
	exception:
		left += (uint64_t)(end - d) - 1; /* the block's later instructions did not run */
		counted--; /* a trapping instruction does not retire */
		pc = PC;
	trap:
		h->pc = pc;
		h->icount = counted - left; /* for the trap hook */
		hart_trap(h, h->exc_cause, h->exc_tval, false);
		pc = h->pc;
		close_fetch_window();
		if (h->slice_end)
			goto out;
		goto dispatch;
	check_interrupts:
		h->icount = counted - left;
		h->pc = pc;
		if (hart_take_interrupt(h))
			close_fetch_window();
		pc = h->pc;
		if (h->slice_end)
			goto out;
		goto dispatch;
	}
out:
	fpu_host_env(h);
	h->pc = pc;
	h->x[0] = 0; /* the last instruction may have written it */
	h->icount = counted - left;
	return budget - left;
#undef RS1
#undef RS2
#undef RD
#undef IMM
#undef PC
#undef ICOUNT
#undef NEXT
#undef ENTER
#undef JUMP
#undef TAKEN
#undef LOAD_HIT
#undef LOAD
#undef STORE_HIT
#undef FP_LOAD
#undef STORE
}
