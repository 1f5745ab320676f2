/* Translating decoded blocks to x86-64 (see jit.h).
 *
 * One guest instruction at a time, each written once in emit_insn: nine
 * guest registers live in host registers for the whole stay in
 * translated code (`fixed`), the rest stay in h->x as memory operands.
 * Loads and stores do the TLB hit inline; everything else exits
 * (leave_to, chain, resume).  A static exit within the page is linked
 * to its target's translation once found (chain, jit_link).
 * docs/cpu.md, "The JIT", says why each choice. */
#include "cpu/jit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cpu/block.h"
#include "cpu/decode.h"
#include "cpu/hart.h"
#include "cpu/jit_fp.h"
#include "cpu/x86.h"

/* Valgrind (how docs/cpu.md's host instruction counts are measured) keeps
 * its own translations of code, and does not see code rewritten through
 * the writable alias (a memfd under valgrind, which it takes for a
 * file): a linked site would keep running its old bytes.  Told, it drops
 * them; without valgrind this is a few instructions on the cold paths
 * that rewrite code. */
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CODE_REWRITTEN(p, n) VALGRIND_DISCARD_TRANSLATIONS(p, n)
#else
#define CODE_REWRITTEN(p, n) ((void)(p), (void)(n))
#endif

/* Register roles, the SysV arguments where they arrive: */
#define R_X RDI /* h->x, the guest registers */
/* the pc of the start of the block's page, h->jit_page, is the same for
 * every block a same-page link joins, so a link need not set it
 * (page_base) */
#define R_TLB RDX /* h->data_tlb: nothing in a block can change it */
#define R_LEFT R11 /* the steps left (moved from RCX, which shifts need; a loop may
		     * lend it to a guest register, plan_loop) */
/* RAX, RCX and R8 are scratch (RDX too, where an instruction loads
 * h->data_tlb into it again after, as MULH and DIV do).  The base, the pc
 * of the block's page, is h->jit_page: it is read far less often than
 * the data TLB (AUIPC, links, exits), and its register holds a guest
 * register instead.
 *
 * The register interface every emitter (and jit_fp.c) keeps: guest
 * register r lives in host register fixed_host[r] when that is not -1,
 * for the whole stay in translated code, chained blocks included, and
 * in h->x[r] otherwise.  The same mapping for every block is what lets a
 * chain jump straight from one translation into the next.  (A loop to a
 * translation's own start may have its own inside it, plan_loop; it
 * moves back before any exit.)  The enter
 * stub (emit_enter) pushes the callee-saved registers and loads the
 * mapped guest registers; every exit to the interpreter jumps to the
 * leave stub (emit_leave), which writes all of them back to h->x and
 * pops.  So code that reads h->x[r] directly must use get_x (or
 * op_x), and code that calls out of translated code must first save the
 * caller-saved ones it uses (RSI, R9, R10, R11, RDX, RDI).  Which guest
 * registers: the ones compiled RISC-V code uses most (sp, t1 and a0-a5,
 * counted over the bench workloads' hot blocks in the Linux guest, where
 * gcc's leaf functions use t1 twice as often as s0, then t3, the next in
 * sort's and sha256's loops), in the six callee-saved registers and RSI,
 * R9 and R10. */
static const struct {
	uint8_t guest;
	int8_t host;
} fixed[] = {
	{2, RBX}, {6, RBP}, {10, R12}, {11, R13}, {12, R14}, {13, R15}, {14, RSI}, {15, R9},
	{28, R10},
};
#define NFIXED (sizeof(fixed) / sizeof(fixed[0]))

_Static_assert(sizeof(struct tlb_entry) == 16, "the TLB index below scales by 16");

static bool callee_saved(int reg) { return reg != RSI && reg != R9 && reg != R10; }

/* Where struct hart's fields are from R_X (h->x) */
#define HART_OFF(field) ((int32_t)(offsetof(struct hart, field) - offsetof(struct hart, x)))

/* A block whose first untranslated instruction comes sooner is left to
 * the interpreter. */
#define JIT_MIN_PREFIX 4

/* The most instructions one translation covers: its block's, then, when
 * the straight-line code after them in the same page branches back to the
 * block's start, that code up to the branch (decode_run), so that a loop
 * longer than a block (BLOCK_MAX_INSNS) is one translation that loops in
 * itself. */
#define JIT_MAX_INSNS 128
_Static_assert(JIT_MAX_INSNS >= BLOCK_MAX_INSNS && JIT_MAX_INSNS <= 256,
	       "a translation covers its block, and a site's unrun fits a byte (chain)");

/* The emitter's buffers: JIT_MAX_INSNS instructions take at most about
 * 11 KiB (29 took 2.5) */
#define JIT_BUF_BYTES 32768

/* How a translation ends or goes on after an instruction. */
enum emitted { GOES_ON, LEFT_BLOCK, NOT_TRANSLATED };

struct emit {
	struct x86 a;
	const struct block *b;
	/* The instructions the translation covers: b's n, then those of
	 * its tail (decode_run), which are not entries of b.  pcoff[i] is
	 * instruction i's offset from b's start, pcoff[n] the end's. */
	unsigned n;
	const uint16_t *pcoff;
	struct block *table; /* the hart's block table */
	/* the block's code (its entry, b->jit), before its FP checks
	 * (jit_fp_preamble) */
	const uint8_t *start;
	const uint8_t *loop; /* a loop's target: past those checks */
	const uint8_t *run_at; /* where a.start will run (jumps out of the buffer) */
	const uint8_t *leave; /* the leave stub */
	int8_t host[33]; /* the host register guest register r lives in, or -1 */
	unsigned nmiss, nfix; /* in miss[] and fix[] */
	struct jit_fp fp; /* what its FP instructions have checked (jit_fp.h) */
	/* RAX holds x[rax_reg] (a register with no host register) at code
	 * position rax_at: the value just stored to or loaded from h->x, which
	 * the next read of that register takes from RAX (rax_holds). */
	unsigned rax_reg;
	const uint8_t *rax_at;
	/* RCX holds the TLB entry offset of the last load or store at
	 * rcx_at, which was at x[rcx_reg] + rcx_imm: the next access from
	 * the same register tries that entry first (tlb_lookup) */
	unsigned rcx_reg;
	int32_t rcx_imm;
	const uint8_t *rcx_at;
	/* RCX holds some TLB entry's offset at rcx_any_at (any access's, or
	 * the loop's start's, below) */
	const uint8_t *rcx_any_at;
	/* A block that loops to its own start with its first access from the
	 * register of its last (loop_guess_at): RCX is an entry offset at the
	 * loop's start on every way there, so that access tries the entry
	 * the last pass's left in RCX (emit_block, branch) */
	bool loop_guess;
	unsigned nslow, nahead; /* in slow[] and ahead[] */
	/* the block's instructions (emit_block; NULL in translated_prefix's
	 * dry run), the one being emitted, and how many are translated */
	const struct decoded_insn *dec;
	unsigned at, prefix;
	/* instructions translated with an earlier one (zext_at, lui_addi,
	 * AUIPC): emit_block passes over them */
	bool taken[JIT_MAX_INSNS];
	/* the instruction translated after this one, if any (sext_dead) */
	const struct decoded_insn *next;
	/* A loop's own mapping (plan_loop): its body keeps the guest
	 * registers come[k] in come_host[k], the host registers of the fixed
	 * ones gone[k], which stay in h->x meanwhile; every exit puts the
	 * fixed mapping back (to_fixed) */
	bool looped;
	unsigned ncome, ngone;
	uint8_t come[NFIXED], gone[NFIXED];
	int8_t come_host[NFIXED], gone_host[NFIXED];
	uint32_t written; /* bit r: the translation writes x[r] */
	/* and a tenth guest register in R_LEFT, the steps left being in
	 * h->jit_left meanwhile, or 0 */
	unsigned lent;
	uint8_t *short_at; /* take_tail_steps' jump when the steps are too few */
	/* Last, as new_emit leaves them as they are (20 KiB to zero for
	 * every translation otherwise): */
	struct {
		uint8_t *at;
		unsigned i;
	} miss[JIT_FP_RESUMES * JIT_MAX_INSNS]; /* TLB misses, FP off..., each resuming at its instruction */
	struct {
		uint8_t *at, *back;
		int32_t table;
		unsigned i;
	} fix[JIT_MAX_INSNS]; /* a tried entry that was not it (emit_fix) */
	/* the lookups of unlinked sites (chain), emitted after the block's
	 * code so that they do not sit between its hot instructions */
	struct {
		uint8_t *to_slow, *slow, *site;
		int64_t off;
		unsigned unrun;
	} slow[JIT_MAX_INSNS + 1];
	/* forward branches, whose taken path is emitted after the block's
	 * code (branch) */
	struct {
		uint8_t *at;
		int64_t off;
		unsigned unrun;
	} ahead[JIT_MAX_INSNS];
};

/* An emitter of b's translation into buf (len bytes), to run at run_at:
 * all zero but for these, up to its lists. */
static void new_emit(struct emit *e, const struct block *b, struct block *table, uint8_t *buf,
		     size_t len, const uint8_t *run_at, const uint8_t *leave)
{
	memset(e, 0, offsetof(struct emit, miss));
	e->a = (struct x86){buf, buf, buf + len, false};
	e->b = b;
	e->table = table;
	e->run_at = run_at;
	e->leave = leave;
}

/* The jump at `at` resumes the interpreter at instruction i (emitted
 * after the block's code: emit_block lands each on a resume(e, i, ...)). */
static void resume_later(struct emit *e, uint8_t *at, unsigned i)
{
	e->miss[e->nmiss].at = at;
	e->miss[e->nmiss++].i = i;
}

/* Whether RAX holds a guest register here (RCX an entry offset).  Only
 * code that leaves them alone moves rax_at and rcx_at on (kept), so any
 * other instruction emitted since ends it; no jump lands at them from
 * elsewhere (each emitter lands its jumps before its last instruction,
 * or, in branch, after a taken path that ends in a jump). */
static bool rax_valid(const struct emit *e) { return e->rax_reg && e->rax_at == e->a.p; }

static bool rcx_valid(const struct emit *e) { return e->rcx_at == e->a.p; }

static bool rcx_any(const struct emit *e) { return e->rcx_any_at == e->a.p; }

static bool rax_holds(const struct emit *e, unsigned r) { return r == e->rax_reg && rax_valid(e); }

/* What RAX and RCX held before some code (kept_now) */
struct kept {
	bool rax, rcx, rcx_any;
};

static struct kept kept_now(const struct emit *e)
{
	return (struct kept){rax_valid(e), rcx_valid(e), rcx_any(e)};
}

/* The code emitted since `was` wrote host register `host` (-1: none) and
 * guest register `wrote` (0: none), and left RAX and RCX alone otherwise:
 * what they held there they still hold, unless it is what was written. */
static void kept(struct emit *e, struct kept was, unsigned wrote, int host)
{
	if (was.rax && host != RAX && (!wrote || wrote != e->rax_reg))
		e->rax_at = e->a.p;
	if (was.rcx && host != RCX && (!wrote || wrote != e->rcx_reg))
		e->rcx_at = e->a.p;
	if (was.rcx_any && host != RCX)
		e->rcx_any_at = e->a.p;
}

static void rax_is(struct emit *e, unsigned r)
{
	e->rax_reg = r;
	e->rax_at = e->a.p;
}

/* An instruction whose ModRM rm operand is guest register r, which it
 * reads (or with opcode 0xc7, mov r/m imm32, writes): its host register,
 * RAX when that holds it, or [x + 8r] */
static void op_x(struct emit *e, unsigned flags, unsigned opcode, int reg, unsigned r)
{
	struct kept was = kept_now(e);
	bool writes = opcode == 0xc7;
	if (e->host[r] >= 0) {
		x86_op(&e->a, flags, opcode, reg, e->host[r], false, 0);
	} else if (!writes && rax_holds(e, r)) {
		if (opcode == 0x8b && reg == RAX && (flags & X86_W))
			return; /* RAX = RAX */
		x86_op(&e->a, flags, opcode, reg, RAX, false, 0);
	} else {
		x86_op(&e->a, flags, opcode, reg, R_X, true, (int32_t)(8 * r));
		if (opcode == 0x8b && reg == RAX && (flags & X86_W)) {
			kept(e, was, 0, RAX);
			rax_is(e, r);
			return;
		}
	}
	/* reg is written, except by a compare (0x3b) or mov imm32 (which
	 * writes r); MUL and IMUL (0xf7 /4, /5) write RDX:RAX.  An XMM reg
	 * (MOVQ 0x0f6e) is taken for the general register of its number:
	 * RAX or RCX lost for nothing, never one kept that was written. */
	kept(e, was, writes ? r : 0, writes || opcode == 0x3b ? -1 : opcode == 0xf7 ? RAX : reg);
}

/* reg = x[r], 64 bits (flags X86_W) or the low 32 zero-extended (0) */
static void get_x(struct emit *e, unsigned flags, int reg, unsigned r)
{
	op_x(e, flags, 0x8b, reg, r);
}

/* x[r] = reg; x0 is never written */
static void set_x(struct emit *e, int reg, unsigned r)
{
	struct kept was = kept_now(e);
	if (!r)
		return;
	if (e->host[r] >= 0) {
		x86_op(&e->a, X86_W, 0x89, reg, e->host[r], false, 0);
		kept(e, was, 0, e->host[r]);
		return;
	}
	x86_op(&e->a, X86_W, 0x89, reg, R_X, true, (int32_t)(8 * r));
	kept(e, was, r, -1);
	if (reg == RAX)
		rax_is(e, r);
}

/* An instruction with a 32-bit immediate (group 0x81 /ext: add, or,
 * and, sub, xor, cmp) on register rm. */
static void op_imm32(struct x86 *a, unsigned flags, unsigned ext, int rm, uint32_t imm)
{
	x86_op(a, flags, 0x81, (int)ext, rm, false, 0);
	x86_u32(a, imm);
}

/* A shift or rotate of reg by an immediate (group 0xc1 /ext). */
static void shift_imm(struct x86 *a, unsigned flags, unsigned ext, int reg, unsigned count)
{
	x86_op(a, flags, 0xc1, (int)ext, reg, false, 0);
	x86_u8(a, (uint8_t)count);
}

/* reg = its low 32 bits sign-extended */
static void sext_w(struct x86 *a, int reg) { x86_op(a, X86_W, 0x63, reg, reg, false, 0); }

/* Whether a W result for rd may keep whatever x86 left in its upper half
 * because the next instruction is a W form writing rd again: those read
 * only their operands' low halves (32-bit x86 operations, MOVSXD), and as
 * ALU operations they write rd without leaving the block first, so no
 * one sees the upper half.  (addw a5, a5, a4; addw a5, a5, a3: sha256's
 * sums.) */
static bool sext_dead(const struct emit *e, unsigned rd)
{
	const struct decoded_insn *n = e->next;
	if (!n || !rd || n->rd != rd)
		return false;
	switch ((enum op)n->op) {
	case OP_ADDW: case OP_SUBW: case OP_ADDIW: case OP_MULW:
	case OP_SLLIW: case OP_SRLIW: case OP_SRAIW: case OP_SLLW: case OP_SRLW: case OP_SRAW:
		return true;
	default:
		return false;
	}
}

/* The register an instruction writing rd builds its result in: rd's own
 * host register when it has one, unless the instruction still reads rs2
 * after writing it (rd == rs2 != rs1), else RAX.  The result is then
 * where it belongs without a move. */
static int work_reg(const struct emit *e, const struct decoded_insn *d, bool reads_rs2_after)
{
	int h = e->host[d->rd];
	if (!d->rd || h < 0 || (reads_rs2_after && d->rd == d->rs2 && d->rd != d->rs1))
		return RAX;
	return h;
}

/* w = x[rs1] (nothing when w already is its host register) */
static void get_into(struct emit *e, unsigned flags, int w, unsigned rs1)
{
	if (e->host[rs1] != w)
		get_x(e, flags, w, rs1);
}

/* x[rd] = w (nothing when w is rd's host register) */
static void set_from(struct emit *e, int w, unsigned rd)
{
	if (e->host[rd] != w || !rd)
		set_x(e, w, rd);
}

/* Before an exit from a loop with its own mapping (plan_loop): back to
 * the fixed one, which the code the exit goes to expects.  Moves only:
 * RAX, RCX and the flags are left as they are. */
static void to_fixed(struct emit *e)
{
	if (!e->looped)
		return;
	for (unsigned k = 0; k < e->ncome; k++)
		if (e->written >> e->come[k] & 1)
			x86_op(&e->a, X86_W, 0x89, e->come_host[k], R_X, true, 8 * e->come[k]);
	/* before the dropped ones are loaded: the lent one may be one */
	if (e->lent && e->written >> e->lent & 1)
		x86_op(&e->a, X86_W, 0x89, R_LEFT, R_X, true, 8 * e->lent);
	for (unsigned k = 0; k < e->ngone; k++)
		x86_op(&e->a, X86_W, 0x8b, e->gone_host[k], R_X, true, 8 * e->gone[k]);
	if (e->lent)
		x86_op(&e->a, X86_W, 0x8b, R_LEFT, R_X, true, HART_OFF(jit_left));
}

/* left -= k (ext 5) or left += k (ext 0): in R_LEFT, or in h->jit_left
 * while a loop lends R_LEFT */
static void left_op(struct emit *e, unsigned ext, uint32_t k)
{
	if (!e->lent) {
		op_imm32(&e->a, X86_W, ext, R_LEFT, k);
		return;
	}
	x86_op(&e->a, X86_W, 0x81, ext, R_X, true, HART_OFF(jit_left));
	x86_u32(&e->a, k);
}

/* RAX = the pc `off` bytes from the block's start.  A pc's offset in its
 * page is its host address's: RAM is mapped page-aligned, so the exec
 * TLB's addends are multiples of the page size, and jit_translate leaves
 * blocks elsewhere (a ROM in a host buffer) to the interpreter. */
static void pc_plus(struct emit *e, int64_t off)
{
	struct x86 *a = &e->a;
	off += (int64_t)(e->b->hpc & 0xfff);
	if (off == (int32_t)off) {
		x86_op(a, X86_W, 0x8b, RAX, R_X, true, HART_OFF(jit_page));
		if (off)
			op_imm32(a, X86_W, 0, RAX, (uint32_t)off);
		return;
	}
	x86_u8(a, 0x48); /* mov rax, imm64 */
	x86_u8(a, 0xb8);
	x86_bytes(a, &off, 8);
	x86_op(a, X86_W, 0x03, RAX, R_X, true, HART_OFF(jit_page));
}

/* x[rd] = the pc `off` bytes from the block's start: straight into rd's
 * host register when it has one */
static void set_pc_plus(struct emit *e, unsigned rd, int64_t off)
{
	int64_t in_page = off + (int64_t)(e->b->hpc & 0xfff);
	if (e->host[rd] >= 0 && in_page == (int32_t)in_page) {
		struct kept was = kept_now(e);
		x86_op(&e->a, X86_W, 0x8b, e->host[rd], R_X, true, HART_OFF(jit_page));
		if (in_page)
			op_imm32(&e->a, X86_W, 0, e->host[rd], (uint32_t)in_page);
		kept(e, was, 0, e->host[rd]);
		return;
	}
	struct kept was = kept_now(e);
	pc_plus(e, off);
	kept(e, was, 0, RAX);
	set_x(e, RAX, rd);
}

static void mov_imm64(struct x86 *a, int reg, uint64_t v)
{
	x86_u8(a, (uint8_t)(0x48 | (reg >> 3))); /* REX.W B8+r: mov reg, imm64 */
	x86_u8(a, (uint8_t)(0xb8 + (reg & 7)));
	x86_bytes(a, &v, 8);
}

/* Where code written at p in the buffer will run */
static const uint8_t *runs_at(const struct emit *e, const uint8_t *p)
{
	return e->run_at + (p - e->a.start);
}

/* jmp to `to`, outside the buffer being written */
static void jump_out(struct emit *e, const uint8_t *to)
{
	uint8_t *at = x86_jump(&e->a, -1);
	if (e->a.full)
		return;
	int32_t rel = (int32_t)(to - (runs_at(e, at) + 4));
	memcpy(at, &rel, 4);
}

/* Back to the interpreter, saying why: RAX is set; the leave stub writes
 * the guest registers back and returns RAX and the steps left. */
static void epilogue(struct emit *e, enum jit_exit_kind why)
{
	x86_op(&e->a, 0, 0xc6, 0, R_X, true, (int32_t)offsetof(struct hart, jit_exit_kind));
	x86_u8(&e->a, (uint8_t)why); /* mov byte [h + jit_exit_kind], why */
	jump_out(e, e->leave);
}

/* Back to the interpreter to have it link `site` to the block found (in
 * RCX) and run that: jit_link, or jit_link_far for a guarded site. */
static void exit_to_link(struct emit *e, const uint8_t *site, enum jit_exit_kind why)
{
	struct x86 *a = &e->a;
	mov_imm64(a, R8, (uintptr_t)runs_at(e, site));
	x86_op(a, X86_W, 0x89, R8, R_X, true, HART_OFF(jit_link_site));
	x86_op(a, X86_W, 0x89, RCX, R_X, true, HART_OFF(jit_link_to));
	epilogue(e, why);
}

_Static_assert(offsetof(struct hart, x) == 0, "a translation finds h at h->x");

/* Whether the pc `off` bytes from the block's start is outside its page,
 * or in its last two bytes (where a block needs the fetch slow path). */
static bool other_page(const struct emit *e, int64_t off)
{
	uintptr_t hpc = e->b->hpc + (uintptr_t)off;
	return (hpc & ~(uintptr_t)0xfff) != (e->b->hpc & ~(uintptr_t)0xfff) || (hpc & 0xfff) > 0xffc;
}

/* Find the block `off` bytes from this one's start, in the same page, as
 * the interpreter's JUMP would: either slot of its pair holds it (a
 * target built after this translation may be in the other), it is
 * current (its generation is this block's, which is the page's while this
 * one runs), the steps left cover it and it is translated.  Then RCX is
 * the block, RAX its n and R8 its translation; else it jumps to one of
 * the displacements it puts in fail[] (returns how many). */
static unsigned find_in_page(struct emit *e, int64_t off, uint8_t *fail[4])
{
	struct x86 *a = &e->a;
	uintptr_t hpc = e->b->hpc + (uintptr_t)off;
	struct block *first = block_find(e->table, hpc);
	mov_imm64(a, RCX, (uintptr_t)first);
	mov_imm64(a, R8, hpc);
	x86_op(a, X86_W, 0x3b, R8, RCX, true, (int32_t)offsetof(struct block, hpc));
	uint8_t *found = x86_jump(a, CC_E);
	mov_imm64(a, RCX, (uintptr_t)block_partner(e->table, first));
	x86_op(a, X86_W, 0x3b, R8, RCX, true, (int32_t)offsetof(struct block, hpc));
	fail[0] = x86_jump(a, CC_NE);
	x86_land(a, found, a->p);
	if (e->b->gen <= INT32_MAX) { /* cmp qword [rcx + gen], imm32 */
		x86_op(a, X86_W, 0x81, 7, RCX, true, (int32_t)offsetof(struct block, gen));
		x86_u32(a, (uint32_t)e->b->gen);
	} else {
		mov_imm64(a, R8, e->b->gen);
		x86_op(a, X86_W, 0x3b, R8, RCX, true, (int32_t)offsetof(struct block, gen));
	}
	fail[1] = x86_jump(a, CC_NE);
	x86_op(a, 0, 0x0fb7, RAX, RCX, true, (int32_t)offsetof(struct block, n));
	x86_op(a, X86_W, 0x3b, R_LEFT, RAX, false, 0);
	fail[2] = x86_jump(a, CC_B);
	x86_op(a, X86_W, 0x8b, R8, RCX, true, (int32_t)offsetof(struct block, jit));
	x86_op(a, X86_W, 0x85, R8, R8, false, 0);
	fail[3] = x86_jump(a, CC_E);
	return 4;
}

/* A link site (chain): its layout, which jit_link fills in.  Before
 * linking, the first instruction is a jmp to the lookup after the site,
 * and LINK_UNDO's immediate holds `unrun`, the steps the exit gives
 * back.  Linked, the site takes k = the target's n - unrun steps; a k of
 * 0 or less cannot borrow, so its site is add r11, -k and the jmp at
 * LINK_JB, or for k = 0 the jmp alone (jit_link). */
enum {
	LINK_SUB = 0, /* sub r11, k (7 bytes: 49 81 eb k32), or add r11, -k */
	LINK_JB = 7, /* jb LINK_UNDO (6) */
	LINK_JMP = 13, /* jmp to the target's translation (5); jit_page stays */
	LINK_UNDO = 18, /* add r11, k (7: 49 81 c3 k32) */
	LINK_SLOW = 25, /* jmp to the lookup (5) */
	LINK_BYTES = 30
};
#define SUB_R11 0x49, 0x81, 0xeb
#define ADD_R11 0x49, 0x81, 0xc3

/* Leave for the block `off` bytes from this one's start, in the same page
 * (a branch taken, JAL, the end), as the interpreter's JUMP would enter
 * it.  The site is emitted here; its lookup (chain_slow) after the
 * block's code, where it does not lengthen the hot path's code.  The
 * first time the lookup (find_in_page) finds it translated, the
 * translation returns to the interpreter to have this site linked
 * (JIT_EXIT_LINK, jit_link): from then on the site takes the block's
 * steps when the steps left cover it and jumps straight into its
 * translation, with no lookup.  A site stays right because of what a
 * link joins: two translations of the same page at the same generation,
 * so while this one runs the target's code is the page's too, and a
 * target dropped from the table is cut off (jit_kill).  Else return to
 * the interpreter. */
static void chain(struct emit *e, int64_t off, unsigned unrun)
{
	struct x86 *a = &e->a;
	uint8_t *site = a->p;
	uint8_t *to_slow = x86_jump(a, -1);
	x86_u8(a, 0xcc);
	x86_u8(a, 0xcc);
	x86_land(a, x86_jump(a, CC_B), site + LINK_UNDO);
	x86_land(a, x86_jump(a, -1), site + LINK_JMP + 5); /* a jmp to its own end until linked */
	uint8_t undo[] = {ADD_R11, (uint8_t)unrun, 0, 0, 0}; /* unrun < JIT_MAX_INSNS <= 256 */
	x86_bytes(a, undo, sizeof(undo));
	uint8_t *slow = x86_jump(a, -1);
	if (!a->full && a->p != site + LINK_BYTES)
		abort(); /* the layout above: a broken invariant */
	e->slow[e->nslow].to_slow = to_slow;
	e->slow[e->nslow].slow = slow;
	e->slow[e->nslow].site = site;
	e->slow[e->nslow].off = off;
	e->slow[e->nslow++].unrun = unrun;
}

/* The lookup of unlinked site k (chain): found, the interpreter links the
 * site (and runs the target); else it returns to the interpreter's JUMP. */
static void chain_slow(struct emit *e, unsigned k)
{
	struct x86 *a = &e->a;
	x86_land(a, e->slow[k].to_slow, a->p);
	x86_land(a, e->slow[k].slow, a->p);
	if (e->slow[k].unrun)
		op_imm32(a, X86_W, 0, R_LEFT, e->slow[k].unrun);
	uint8_t *fail[4];
	unsigned nfail = find_in_page(e, e->slow[k].off, fail);
	pc_plus(e, e->slow[k].off);
	exit_to_link(e, e->slow[k].site, JIT_EXIT_LINK);
	for (unsigned f = 0; f < nfail; f++)
		x86_land(a, fail[f], a->p);
	pc_plus(e, e->slow[k].off);
	epilogue(e, JIT_EXIT_SAME_PAGE);
}

/* What a translation's first bytes jump to once jit_kill has cut it off
 * (its entries were taken by a site linked to it, the steps taken, and
 * the base set): give the steps back and look the block up again as an
 * unlinked site would, going on into a current translation of it or else
 * returning to the interpreter. */
static void emit_dead(struct emit *e)
{
	struct x86 *a = &e->a;
	op_imm32(a, X86_W, 0, R_LEFT, e->b->n);
	uint8_t *fail[4];
	unsigned nfail = find_in_page(e, 0, fail);
	x86_op(a, X86_W, 0x2b, R_LEFT, RAX, false, 0);
	x86_op(a, 0, 0xff, 4, R8, false, 0); /* jmp r8 */
	for (unsigned k = 0; k < nfail; k++)
		x86_land(a, fail[k], a->p);
	pc_plus(e, 0);
	epilogue(e, JIT_EXIT_SAME_PAGE);
}

/* RCX = the offset of the TLB entry for the address in va:
 * (va >> 12) % 1024 * 16 */
static void entry_offset(struct x86 *a, int va)
{
	if (__builtin_cpu_supports("bmi2")) {
		x86_rorx(a, RCX, va, 8); /* the bits below 12 are masked off */
	} else {
		x86_op(a, X86_W, 0x89, va, RCX, false, 0);
		shift_imm(a, X86_W, 5, RCX, 8);
	}
	op_imm32(a, 0, 4, RCX, (TLB_ENTRIES - 1) << 4);
}

/* A guarded site (jit_link_far fills it in): room for the checks that
 * make entering a translation of another page (or a JALR's first target)
 * exact, placed before the lookup (chain_to_rax) with RAX the pc.
 * Unlinked, its first instruction jumps over it to the lookup. */
enum { FAR_BYTES = 144 };

static uint8_t *far_site(struct emit *e)
{
	struct x86 *a = &e->a;
	uint8_t *site = a->p;
	uint8_t *over = x86_jump(a, -1);
	while (!a->full && a->p < site + FAR_BYTES)
		x86_u8(a, 0xcc);
	x86_land(a, over, a->p);
	return site;
}

/* RCX the slot for the hpc in register hpc (in h->blocks, the table), R8
 * the generation it must have (or with hpc R8, this block's, which fits
 * an imm32): go on with RCX the block and R8 its n when that slot or its
 * partner holds it, current, and the steps left cover it; else jump to a
 * displacement added to fail[]. */
static void find_in_slot(struct emit *e, int hpc, uint8_t **fail, unsigned *nfail)
{
	struct x86 *a = &e->a;
	x86_op(a, X86_W, 0x3b, hpc, RCX, true, (int32_t)offsetof(struct block, hpc));
	uint8_t *found = x86_jump(a, CC_E);
	x86_op(a, X86_W, 0x2b, RCX, R_X, true, HART_OFF(blocks)); /* block_partner */
	op_imm32(a, X86_W, 6, RCX, BLOCK_WAY_BIT * sizeof(struct block));
	x86_op(a, X86_W, 0x03, RCX, R_X, true, HART_OFF(blocks));
	x86_op(a, X86_W, 0x3b, hpc, RCX, true, (int32_t)offsetof(struct block, hpc));
	fail[(*nfail)++] = x86_jump(a, CC_NE);
	x86_land(a, found, a->p);
	if (hpc == R8) { /* cmp qword [rcx + gen], imm32 */
		x86_op(a, X86_W, 0x81, 7, RCX, true, (int32_t)offsetof(struct block, gen));
		x86_u32(a, (uint32_t)e->b->gen);
	} else {
		x86_op(a, X86_W, 0x3b, R8, RCX, true, (int32_t)offsetof(struct block, gen));
	}
	fail[(*nfail)++] = x86_jump(a, CC_NE);
	x86_op(a, 0, 0x0fb7, R8, RCX, true, (int32_t)offsetof(struct block, n));
	x86_op(a, X86_W, 0x3b, R_LEFT, R8, false, 0);
	fail[(*nfail)++] = x86_jump(a, CC_B);
}

/* h->jit_page = the start of the page of the pc in reg (which it
 * changes) */
static void page_base(struct x86 *a, int reg)
{
	op_imm32(a, X86_W, 4, reg, ~0xfffu);
	x86_op(a, X86_W, 0x89, reg, R_X, true, HART_OFF(jit_page));
}

/* The block found (RCX, its n in R8, pc RAX): enter its translation,
 * when it has one, with h->jit_page the pc's page and RDX the data TLB
 * again (unless same_page: a block of this page, found with RDX left
 * alone). */
static void enter_found(struct emit *e, bool same_page, uint8_t **fail, unsigned *nfail)
{
	struct x86 *a = &e->a;
	x86_op(a, X86_W, 0x8b, RCX, RCX, true, (int32_t)offsetof(struct block, jit));
	x86_op(a, X86_W, 0x85, RCX, RCX, false, 0);
	fail[(*nfail)++] = x86_jump(a, CC_E);
	x86_op(a, X86_W, 0x2b, R_LEFT, R8, false, 0);
	if (!same_page) {
		page_base(a, RAX);
		x86_op(a, X86_W, 0x8b, R_TLB, R_X, true, HART_OFF(data_tlb));
	}
	x86_op(a, 0, 0xff, 4, RCX, false, 0); /* jmp rcx */
}

/* The block found (RCX) through the exec TLB: have the interpreter link
 * the guarded site before the lookup to it (jit_link_far) when it is
 * translated; a JALR's site only while unlinked (its first byte is still
 * the jmp), as its targets may differ from one run to the next. */
static void link_found(struct emit *e, const uint8_t *site, enum jit_exit_kind why,
		       uint8_t **fail, unsigned *nfail)
{
	struct x86 *a = &e->a;
	uint8_t *linked = NULL;
	if (why == JIT_EXIT_JALR) {
		uint8_t cmp[] = {0x80, 0x3d}; /* cmp byte [rip + rel], 0xe9 */
		x86_bytes(a, cmp, sizeof(cmp));
		x86_u32(a, (uint32_t)(int32_t)(site - (a->p + 5)));
		x86_u8(a, 0xe9);
		linked = x86_jump(a, CC_NE);
	}
	x86_op(a, X86_W, 0x83, 7, RCX, true, (int32_t)offsetof(struct block, jit));
	x86_u8(a, 0); /* cmp qword [rcx + jit], 0 */
	fail[(*nfail)++] = x86_jump(a, CC_E);
	exit_to_link(e, site, JIT_EXIT_LINK_FAR);
	if (linked)
		x86_land(a, linked, a->p);
}

/* Leave for the pc in RAX (even) when it is not a static exit in this
 * page: a jump through a register, or to another page.  Look it up as the
 * interpreter's dispatch would: its page in the exec TLB (the tag matches
 * and pc is not in the page's last two bytes), the block in either slot of
 * its pair, current (its generation is the page's), the steps left cover
 * it, translated; then take its steps and jump into its translation with
 * h->jit_page the pc's page.  Else the epilogue returns RAX to the interpreter.  RCX, RDX
 * and R8 are free here: the base is set again on the way in, and the data
 * TLB is read again on the way into the next translation. */
static void chain_to_rax(struct emit *e, enum jit_exit_kind why)
{
	struct x86 *a = &e->a;
	uint8_t *fail[12];
	unsigned nfail = 0;
	const int32_t exec = (int32_t)offsetof(struct tlb, exec);
	if (why == JIT_EXIT_JALR) {
		/* A target in this block's page (a jump table, a loop's call)
		 * needs no TLB: its offset in the page is pc - base, its host
		 * page and generation this block's.  The
		 * page's slots are consecutive (a page's first slot is a
		 * multiple of 2048), so its slot is the first one's plus the
		 * offset / 2 slots. */
		_Static_assert(BLOCK_TABLE_SIZE % 2048 == 0, "a page's slots do not wrap");
		uintptr_t page = e->b->hpc & ~(uintptr_t)0xfff;
		x86_op(a, X86_W, 0x89, RAX, RCX, false, 0);
		x86_op(a, X86_W, 0x2b, RCX, R_X, true, HART_OFF(jit_page));
		op_imm32(a, X86_W, 7, RCX, 0xffc);
		uint8_t *elsewhere = x86_jump(a, CC_A);
		/* hpc in R8 and the generation an imm32 leave RDX, the data
		 * TLB, and the page's base as they are */
		bool small_gen = e->b->gen <= INT32_MAX;
		int hpc = small_gen ? R8 : RDX;
		mov_imm64(a, hpc, page);
		x86_op(a, X86_W, 0x01, RCX, hpc, false, 0); /* hpc */
		shift_imm(a, X86_W, 4, RCX, 8); /* offset / 2 * 512 */
		op_imm32(a, X86_W, 0, RCX, (uint32_t)(block_index(page) * sizeof(struct block)));
		x86_op(a, X86_W, 0x03, RCX, R_X, true, HART_OFF(blocks));
		if (!small_gen)
			mov_imm64(a, R8, e->b->gen);
		find_in_slot(e, hpc, fail, &nfail);
		enter_found(e, small_gen, fail, &nfail);
		x86_land(a, elsewhere, a->p);
	}
	const uint8_t *site = far_site(e);
	x86_op(a, 0, 0x8b, RCX, RAX, false, 0); /* ecx = pc's low half */
	op_imm32(a, 0, 4, RCX, 0xfff);
	op_imm32(a, 0, 7, RCX, 0xffc);
	fail[nfail++] = x86_jump(a, CC_A);
	x86_op(a, X86_W, 0x8b, R8, R_X, true, (int32_t)offsetof(struct hart, fetch_tlb));
	entry_offset(a, RAX); /* RCX = i * 16, i = (pc >> 12) % 1024 */
	x86_op(a, X86_W, 0x89, RAX, RDX, false, 0); /* the tag: pc's page */
	op_imm32(a, X86_W, 4, RDX, ~0xfffu);
	x86_op_index(a, X86_W, 0x3b, RDX, R8, RCX, exec + (int32_t)offsetof(struct tlb_entry, tag));
	fail[nfail++] = x86_jump(a, CC_NE);
	x86_op_index(a, X86_W, 0x8b, RDX, R8, RCX,
		     exec + (int32_t)offsetof(struct tlb_entry, addend));
	x86_op(a, X86_W, 0x01, RAX, RDX, false, 0); /* RDX = hpc */
	_Static_assert(sizeof(((struct tlb *)0)->exec_gen[0]) == 8, "i * 8 is the offset / 2");
	shift_imm(a, 0, 5, RCX, 1);
	x86_op_index(a, X86_W, 0x8b, R8, R8, RCX, (int32_t)offsetof(struct tlb, exec_gen));
	x86_op(a, X86_W, 0x8b, R8, R8, true, 0); /* R8 = the page's generation */
	/* RCX = block_slot(table, hpc) (block_index: (hpc >> 1) % size), or
	 * its partner when that holds it */
	x86_op(a, X86_W, 0x89, RDX, RCX, false, 0);
	shift_imm(a, X86_W, 5, RCX, 1);
	op_imm32(a, 0, 4, RCX, BLOCK_TABLE_SIZE - 1);
	shift_imm(a, X86_W, 4, RCX, 9);
	_Static_assert(sizeof(struct block) == 1 << 9, "the slot index above scales by 512");
	x86_op(a, X86_W, 0x03, RCX, R_X, true, HART_OFF(blocks));
	find_in_slot(e, RDX, fail, &nfail);
	link_found(e, site, why, fail, &nfail);
	enter_found(e, false, fail, &nfail);
	for (unsigned k = 0; k < nfail; k++)
		x86_land(a, fail[k], a->p);
	epilogue(e, why);
}

/* Leave for the pc `off` bytes from the block's start, giving back the
 * `unrun` instructions of the block after the one leaving. */
static void leave_to(struct emit *e, int64_t off, unsigned unrun)
{
	to_fixed(e);
	if (!other_page(e, off)) {
		chain(e, off, unrun);
		return;
	}
	if (unrun)
		op_imm32(&e->a, X86_W, 0, R_LEFT, unrun);
	pc_plus(e, off);
	chain_to_rax(e, JIT_EXIT_OTHER_PAGE);
}

/* Return to the interpreter at instruction i.  An entry of the block
 * (jit.h) returns with the steps of the tail given back, saying which
 * block and base that is: chained translations may have moved on from the
 * one the interpreter called.  One of the tail, which is no entry, returns
 * its pc with the steps of it and after it given back, as a jump there
 * would: the interpreter finds or builds a block there. */
static void resume(struct emit *e, unsigned i, enum jit_exit_kind why)
{
	struct x86 *a = &e->a;
	to_fixed(e);
	if (i >= e->b->n) {
		op_imm32(a, X86_W, 0, R_LEFT, e->n - i);
		pc_plus(e, e->pcoff[i]);
		epilogue(e, why);
		return;
	}
	if (e->n > e->b->n)
		op_imm32(a, X86_W, 0, R_LEFT, e->n - e->b->n);
	mov_imm64(a, RCX, (uintptr_t)e->b);
	x86_op(a, X86_W, 0x89, RCX, R_X, true, (int32_t)offsetof(struct hart, jit_block));
	x86_op(a, X86_W, 0x8b, RCX, R_X, true, HART_OFF(jit_page));
	op_imm32(a, X86_W, 0, RCX, (uint32_t)(e->b->hpc & 0xfff)); /* its pc */
	x86_op(a, X86_W, 0x89, RCX, R_X, true, (int32_t)offsetof(struct hart, jit_base));
	x86_u8(a, 0xb8); /* mov eax, imm32 */
	x86_u32(a, 2 * i + 1);
	epilogue(e, why);
}

/* The TLB lookup of exec.c's tlb_hit for the `size` bytes at va = x[rs1]
 * + imm in the table at `table` in struct tlb, for entry i: a miss
 * resumes the interpreter there.  On a hit the host address is [RAX +
 * *index + imm]: va is built once, in R8, for the index and tag, and rs1
 * stays where it is, so the hit needs no copy of va.  With rs1 in a host
 * register RAX is the entry's addend and *index that register; else RAX
 * is rs1 plus the addend and *index -1.  RCX is then the entry's offset.
 * An access from the same register as the last one (an offset less than
 * 2 KiB away; not loaded into since, and mostly not written since: the
 * same page, mostly) tries that entry without computing the index, as
 * any entry whose tag is va's page is va's (index the page's); when it
 * is not, emit_fix computes it and comes back.  Which entry is tried is
 * only a guess: RCX being an entry's offset is all that must hold. */
static void tlb_lookup(struct emit *e, unsigned i, const struct decoded_insn *d, int32_t table,
		       unsigned size, int *index)
{
	struct x86 *a = &e->a;
	int h1 = e->host[d->rs1];
	int base = h1 >= 0 ? h1 : RAX; /* rs1's register */
	int64_t near = (int64_t)d->imm - e->rcx_imm;
	bool guess = rcx_valid(e) && e->rcx_reg == d->rs1 && near > -2048 && near < 2048;
	if (base == RAX)
		get_x(e, X86_W, RAX, d->rs1); /* leaves RCX alone */
	if (d->imm)
		x86_op(a, X86_W, 0x8d, R8, base, true, d->imm); /* lea r8, [rs1 + imm] */
	else
		x86_op(a, X86_W, 0x89, base, R8, false, 0);
	if (!guess)
		entry_offset(a, R8);
	op_imm32(a, X86_W, 4, R8, (uint32_t)~(0xfffu & ~(size - 1))); /* tag_of(va, size) */
	x86_op_index(a, X86_W, 0x3b, R8, R_TLB, RCX,
		     table + (int32_t)offsetof(struct tlb_entry, tag));
	uint8_t *ne = x86_jump(a, CC_NE);
	if (guess) {
		e->fix[e->nfix].at = ne;
		e->fix[e->nfix].back = a->p;
		e->fix[e->nfix].table = table;
		e->fix[e->nfix++].i = i;
	} else {
		resume_later(e, ne, i);
	}
	x86_op_index(a, X86_W, base == RAX ? 0x03 : 0x8b, RAX, R_TLB, RCX,
		     table + (int32_t)offsetof(struct tlb_entry, addend));
	*index = base == RAX ? -1 : h1;
}

/* Where a tried entry (tlb_lookup) was not va's: the index from the tag
 * in R8 (its page bits are va's), the tag compared again, a miss resuming
 * the interpreter; else back to the hit. */
static void emit_fix(struct emit *e, unsigned k)
{
	struct x86 *a = &e->a;
	x86_land(a, e->fix[k].at, a->p);
	entry_offset(a, R8);
	x86_op_index(a, X86_W, 0x3b, R8, R_TLB, RCX,
		     e->fix[k].table + (int32_t)offsetof(struct tlb_entry, tag));
	resume_later(e, x86_jump(a, CC_NE), e->fix[k].i);
	x86_land(a, x86_jump(a, -1), e->fix[k].back);
}

/* The x86 operations of the register-register and register-immediate
 * ALU instructions that map onto one: opcode of `op rax, r/m`, /ext of
 * `op rax, imm32`. */
struct alu {
	unsigned opcode, ext;
};
static const struct alu ALU_ADD = {0x03, 0}, ALU_OR = {0x0b, 1}, ALU_AND = {0x23, 4},
			ALU_SUB = {0x2b, 5}, ALU_XOR = {0x33, 6};

/* x[rd] = x[rs], 64 bits or (flags 0) the low 32 sign-extended: MV,
 * SEXT.W, C.MV */
static void copy_x(struct emit *e, unsigned flags, const struct decoded_insn *d, unsigned rs)
{
	int w = e->host[d->rd] >= 0 ? e->host[d->rd] : RAX;
	if (flags & X86_W) {
		if (d->rd == rs)
			return; /* MV to itself */
		if (w == RAX && e->host[rs] >= 0) {
			set_x(e, e->host[rs], d->rd);
			return;
		}
		get_into(e, X86_W, w, rs);
	} else {
		op_x(e, X86_W, 0x63, w, rs); /* movsxd */
	}
	set_from(e, w, d->rd);
}

static bool plain_alu(struct alu op)
{
	return op.opcode == ALU_ADD.opcode || op.opcode == ALU_OR.opcode ||
	       op.opcode == ALU_AND.opcode || op.opcode == ALU_SUB.opcode ||
	       op.opcode == ALU_XOR.opcode;
}

/* rd = rs1 op rs2, or with flags 0 the 32-bit op sign-extended */
static void alu_rr(struct emit *e, struct alu op, unsigned flags, const struct decoded_insn *d)
{
	if (!d->rd)
		return; /* a hint: no effect */
	if (!d->rs1 && (flags & X86_W) &&
	    (op.opcode == ALU_ADD.opcode || op.opcode == ALU_OR.opcode || op.opcode == ALU_XOR.opcode)) {
		copy_x(e, X86_W, d, d->rs2); /* C.MV */
		return;
	}
	if ((flags & X86_W) && plain_alu(op) && e->host[d->rd] < 0 && d->rd == d->rs1 &&
	    !rax_holds(e, d->rd)) {
		/* op [x + 8rd], rs2: the `op r/m, r` form is the opcode less 2
		 * (with rd in RAX already, the op there and a store take no
		 * more, and leave RAX holding rd for the next reader: add t6,
		 * t6, s9; lbu t6, 0(t6)) */
		int r2 = e->host[d->rs2];
		if (r2 < 0) {
			get_x(e, X86_W, RAX, d->rs2);
			r2 = RAX;
		}
		struct kept was = kept_now(e);
		x86_op(&e->a, X86_W, op.opcode - 2, r2, R_X, true, (int32_t)(8 * d->rd));
		kept(e, was, d->rd, -1);
		return;
	}
	int w = work_reg(e, d, true);
	int h1 = e->host[d->rs1], h2 = e->host[d->rs2];
	if ((flags & X86_W) && op.opcode == ALU_ADD.opcode && h1 >= 0 && h2 >= 0 && w != h1 &&
	    w != h2) {
		/* both operands in host registers, the sum elsewhere: one LEA
		 * in place of a move and an add */
		struct kept was = kept_now(e);
		x86_op_index(&e->a, X86_W, 0x8d, w, h1, h2, 0);
		kept(e, was, 0, w);
		set_from(e, w, d->rd);
		return;
	}
	get_into(e, flags, w, d->rs1);
	op_x(e, flags, op.opcode, w, d->rs2);
	if (!(flags & X86_W) && !sext_dead(e, d->rd)) {
		struct kept was = kept_now(e);
		sext_w(&e->a, w);
		kept(e, was, 0, w);
	}
	set_from(e, w, d->rd);
}

static void alu_ri(struct emit *e, struct alu op, unsigned flags, const struct decoded_insn *d)
{
	struct x86 *a = &e->a;
	int hd = e->host[d->rd], h1 = e->host[d->rs1];
	if (!d->rd)
		return; /* a hint: no effect */
	struct kept was = kept_now(e);
	if (!d->rs1) { /* LI: the immediate, sign-extended (AND: 0) */
		op_x(e, X86_W, 0xc7, 0, d->rd);
		x86_u32(a, op.opcode == ALU_AND.opcode ? 0 : (uint32_t)d->imm);
		kept(e, was, d->rd, -1);
		return;
	}
	if (op.opcode == ALU_ADD.opcode && !d->imm) {
		copy_x(e, flags, d, d->rs1); /* MV, SEXT.W */
		return;
	}
	if (op.opcode == ALU_ADD.opcode && hd >= 0 && h1 >= 0 && d->rd != d->rs1) {
		x86_op(a, flags, 0x8d, hd, h1, true, d->imm); /* lea */
		if (!(flags & X86_W) && !sext_dead(e, d->rd))
			sext_w(a, hd);
		kept(e, was, 0, hd);
		return;
	}
	if ((flags & X86_W) && hd < 0 && d->rd == d->rs1) { /* op qword [x + 8rd], imm */
		x86_op(a, X86_W, 0x81, (int)op.ext, R_X, true, (int32_t)(8 * d->rd));
		x86_u32(a, (uint32_t)d->imm);
		kept(e, was, d->rd, -1);
		return;
	}
	int w = work_reg(e, d, false);
	get_into(e, flags, w, d->rs1);
	was = kept_now(e);
	op_imm32(&e->a, flags, op.ext, w, (uint32_t)d->imm);
	if (!(flags & X86_W) && !sext_dead(e, d->rd))
		sext_w(&e->a, w);
	kept(e, was, 0, w);
	set_from(e, w, d->rd);
}

/* The entry of the srli rd, rd, k (k >= 32) that makes the slli rd, rs1,
 * 32 being emitted a zero-extension (shift), or -1: what comes between
 * (gcc interleaves two such pairs) must neither read nor write rd and
 * must be ALU operations, which cannot leave the translation, so nothing
 * sees rd's value in between. */
static int zext_at(const struct emit *e, unsigned rd)
{
	if (!e->dec || !rd)
		return -1;
	for (unsigned j = e->at + 1; j < e->prefix; j++) {
		const struct decoded_insn *n = &e->dec[j];
		if (n->op == OP_SRLI && n->rd == rd && n->rs1 == rd && (n->imm & 63) >= 32)
			return (int)j;
		if (n->op != OP_NOP && !decode_only_writes_rd((enum op)n->op))
			return -1;
		struct reg_use u;
		decode_reg_use(n, &u);
		if ((u.x_read | u.x_written) & (1u << rd))
			return -1;
	}
	return -1;
}

/* Shifts and rotates (group /ext): by rs2 (CL, loaded first, so rd may
 * be rs2) or the immediate; the 32-bit forms mask the count to 31 and
 * are sign-extended, as RV64's W forms want, the 64-bit ones to 63.
 * Two W forms by an immediate need no extension after: SRLIW by 1 or
 * more leaves bit 31 clear, so the zero-extension x86 gives is the
 * sign-extension; SRAIW shifts rs1 sign-extended first by the 64-bit
 * SAR, whose result is the sign-extended one. */
static void shift(struct emit *e, unsigned ext, unsigned flags, bool by_reg,
		  const struct decoded_insn *d)
{
	unsigned count = (unsigned)d->imm & ((flags & X86_W) ? 63 : 31);
	bool srliw = !by_reg && !(flags & X86_W) && ext == 5 && count;
	bool sraiw = !by_reg && !(flags & X86_W) && ext == 7;
	bool slliw = !by_reg && !(flags & X86_W) && ext == 4 && count;
	int w = work_reg(e, d, false), h1 = e->host[d->rs1];
	int j = !by_reg && (flags & X86_W) && ext == 4 && count == 32 ? zext_at(e, d->rd) : -1;
	if (j >= 0) {
		/* slli rd, rs1, 32; srli rd, rd, k (ZEXT.W, and k > 32 a
		 * field): rs1's low half zero-extended by a 32-bit move, then
		 * shifted right by k - 32; rd's value in between is never seen */
		const struct decoded_insn *n = &e->dec[j];
		struct kept was = kept_now(e);
		if (w == h1)
			x86_op(&e->a, 0, 0x8b, w, w, false, 0);
		else
			get_x(e, 0, w, d->rs1);
		kept(e, was, 0, w);
		was = kept_now(e);
		if ((n->imm & 63) > 32)
			shift_imm(&e->a, X86_W, 5, w, (unsigned)(n->imm & 63) - 32);
		kept(e, was, 0, w);
		set_from(e, w, d->rd);
		e->taken[j] = true;
		return;
	}
	if (!by_reg && (flags & X86_W) && ext == 4 && count >= 1 && count <= 3 && h1 >= 0 &&
	    w != h1) { /* SLLI into another register: lea w, [rs1 * 2^count] */
		struct kept was = kept_now(e);
		x86_lea_scaled(&e->a, w, h1, count);
		kept(e, was, 0, w);
		set_from(e, w, d->rd);
		return;
	}
	if (by_reg)
		get_x(e, 0, RCX, d->rs2);
	if (slliw) { /* imul w, rs1, 2^count: the copy and the shift in one */
		op_x(e, 0, 0x69, w, d->rs1);
		x86_u32(&e->a, 1u << count);
	} else if (sraiw) {
		op_x(e, X86_W, 0x63, w, d->rs1); /* movsxd */
	} else {
		get_into(e, flags, w, d->rs1);
	}
	struct kept was = kept_now(e);
	if (by_reg)
		x86_op(&e->a, flags, 0xd3, (int)ext, w, false, 0);
	else if (sraiw)
		shift_imm(&e->a, X86_W, ext, w, count);
	else if (!slliw)
		shift_imm(&e->a, flags, ext, w, count);
	if (!(flags & X86_W) && !srliw && !sraiw && !sext_dead(e, d->rd))
		sext_w(&e->a, w);
	kept(e, was, 0, w);
	set_from(e, w, d->rd);
}

/* rd = (rs1 cmp rs2 or imm) ? 1 : 0: compared where they are, the flag
 * zero-extended straight into rd's host register when it has one */
static void set_less(struct emit *e, enum x86_cc cc, bool imm, const struct decoded_insn *d)
{
	struct x86 *a = &e->a;
	int h1 = e->host[d->rs1];
	if (h1 < 0 && rax_holds(e, d->rs1))
		h1 = RAX;
	if (imm && h1 >= 0) {
		op_imm32(a, X86_W, 7, h1, (uint32_t)d->imm);
	} else if (imm && d->rs1) { /* cmp qword [x + 8rs1], imm */
		x86_op(a, X86_W, 0x81, 7, R_X, true, (int32_t)(8 * d->rs1));
		x86_u32(a, (uint32_t)d->imm);
	} else {
		int r1 = h1 >= 0 ? h1 : RAX;
		get_into(e, X86_W, r1, d->rs1);
		if (imm)
			op_imm32(a, X86_W, 7, r1, (uint32_t)d->imm);
		else
			op_x(e, X86_W, 0x3b, r1, d->rs2);
	}
	int w = d->rd && e->host[d->rd] >= 0 ? e->host[d->rd] : RAX;
	x86_op(a, 0, 0x0f90 | cc, 0, RAX, false, 0); /* setcc al */
	x86_op(a, 0, 0x0fb6, w, RAX, false, 0); /* movzx w, al */
	set_from(e, w, d->rd);
}

/* rd = rs1 unless (rs1 vs rs2 gives cc), then rs2: MIN, MAX and their
 * unsigned forms (CMOVcc) */
static void pick(struct emit *e, enum x86_cc cc, const struct decoded_insn *d)
{
	get_x(e, X86_W, RAX, d->rs1);
	get_x(e, X86_W, RCX, d->rs2);
	x86_op(&e->a, X86_W, 0x3b, RAX, RCX, false, 0);
	x86_op(&e->a, X86_W, 0x0f40 | cc, RAX, RCX, false, 0);
	set_x(e, RAX, d->rd);
}

/* rd = (rs1 << k) + rs2, rs1 zero-extended from 32 bits for the _UW forms */
static void shadd(struct emit *e, unsigned k, bool uw, const struct decoded_insn *d)
{
	get_x(e, uw ? 0 : X86_W, RAX, d->rs1);
	if (k)
		shift_imm(&e->a, X86_W, 4, RAX, k);
	op_x(e, X86_W, 0x03, RAX, d->rs2);
	set_x(e, RAX, d->rd);
}

/* rd = the high 64 bits of rs1 * rs2 (MUL /4 unsigned, IMUL /5 signed),
 * which x86 leaves in RDX: the data TLB is read into it again after */
static void mul_high(struct emit *e, unsigned ext, const struct decoded_insn *d)
{
	struct x86 *a = &e->a;
	get_x(e, X86_W, RAX, d->rs1);
	op_x(e, X86_W, 0xf7, (int)ext, d->rs2);
	x86_op(a, X86_W, 0x89, RDX, RCX, false, 0);
	x86_op(a, X86_W, 0x8b, R_TLB, R_X, true, HART_OFF(data_tlb));
	set_x(e, RCX, d->rd);
}

/* MULHSU: the unsigned high half, less rs2 when rs1 is negative (rs1 as
 * unsigned is rs1 + 2^64, which adds rs2 to the high half) */
static void mul_high_su(struct emit *e, const struct decoded_insn *d)
{
	struct x86 *a = &e->a;
	get_x(e, X86_W, RAX, d->rs1);
	op_x(e, X86_W, 0xf7, 4, d->rs2);
	get_x(e, X86_W, RCX, d->rs1);
	shift_imm(a, X86_W, 7, RCX, 63); /* all ones when negative */
	op_x(e, X86_W, 0x23, RCX, d->rs2);
	x86_op(a, X86_W, 0x2b, RDX, RCX, false, 0);
	x86_op(a, X86_W, 0x89, RDX, RCX, false, 0);
	x86_op(a, X86_W, 0x8b, R_TLB, R_X, true, HART_OFF(data_tlb));
	set_x(e, RCX, d->rd);
}

/* ANDN, ORN (invert rs2, then op rs1) and XNOR (op, then invert) */
static void logic_not(struct emit *e, struct alu op, const struct decoded_insn *d)
{
	bool xnor = op.opcode == ALU_XOR.opcode;
	get_x(e, X86_W, RAX, xnor ? d->rs1 : d->rs2);
	if (!xnor)
		x86_op(&e->a, X86_W, 0xf7, 2, RAX, false, 0); /* not */
	op_x(e, X86_W, op.opcode, RAX, xnor ? d->rs2 : d->rs1);
	if (xnor)
		x86_op(&e->a, X86_W, 0xf7, 2, RAX, false, 0);
	set_x(e, RAX, d->rd);
}

/* Zbs on bit rs2 & 63 (BTS 0x0fab, BTR 0x0fb3, BTC 0x0fbb take the bit
 * number modulo 64 from a register), or on bit imm: OR, AND with the
 * inverse, XOR with the bit.  ext 0 is BEXT: shift right and keep bit 0. */
static void bit_op(struct emit *e, unsigned bt_opcode, const struct alu *imm_op,
		   const struct decoded_insn *d)
{
	struct x86 *a = &e->a;
	get_x(e, X86_W, RAX, d->rs1);
	if (imm_op) {
		uint64_t bit = 1ULL << (d->imm & 63);
		if (!bt_opcode) {
			shift_imm(a, X86_W, 5, RAX, (unsigned)d->imm & 63);
		} else {
			mov_imm64(a, RCX, imm_op->opcode == ALU_AND.opcode ? ~bit : bit);
			x86_op(a, X86_W, imm_op->opcode, RAX, RCX, false, 0);
		}
	} else {
		get_x(e, 0, RCX, d->rs2);
		if (!bt_opcode)
			x86_op(a, X86_W, 0xd3, 5, RAX, false, 0); /* shr rax, cl */
		else
			x86_op(a, X86_W, bt_opcode, RCX, RAX, false, 0);
	}
	if (!bt_opcode)
		op_imm32(a, X86_W, ALU_AND.ext, RAX, 1);
	set_x(e, RAX, d->rd);
}

/* CZERO.EQZ / CZERO.NEZ: rd = 0 when rs2 is (not) zero, else rs1 */
static void czero(struct emit *e, enum x86_cc cc, const struct decoded_insn *d)
{
	struct x86 *a = &e->a;
	get_x(e, X86_W, RAX, d->rs1);
	get_x(e, X86_W, RCX, d->rs2);
	x86_op(a, X86_W, 0x85, RCX, RCX, false, 0); /* test */
	x86_op(a, 0, 0xc7, 0, RCX, false, 0); /* mov ecx, 0: flags stay */
	x86_u32(a, 0);
	x86_op(a, X86_W, 0x0f40 | cc, RAX, RCX, false, 0); /* cmov */
	set_x(e, RAX, d->rd);
}

/* CLZ[W] and CTZ[W] as BSR and BSF, which set ZF for a zero rs1, where
 * RISC-V wants the width; CPOP[W] as POPCNT, where the host has it.  The
 * 32-bit forms count the low half; their results are small, so the
 * zero-extension x86 gives them is the sign-extension RISC-V wants. */
static enum emitted count_bits(struct emit *e, unsigned opcode, unsigned flags,
			       const struct decoded_insn *d)
{
	struct x86 *a = &e->a;
	unsigned width = flags & X86_W ? 64 : 32;
	if (opcode == 0x0fb8) { /* popcnt */
		if (!__builtin_cpu_supports("popcnt"))
			return NOT_TRANSLATED;
		x86_u8(a, 0xf3);
		op_x(e, flags, opcode, RAX, d->rs1);
	} else if (opcode == 0x0fbd) { /* bsr: width - 1 - the top bit, or width */
		x86_op(a, flags, 0xc7, 0, RCX, false, 0); /* mov rcx, -1 */
		x86_u32(a, ~0u);
		op_x(e, flags, opcode, RAX, d->rs1);
		x86_op(a, flags, 0x0f44, RAX, RCX, false, 0); /* cmovz */
		x86_op(a, flags, 0xf7, 3, RAX, false, 0); /* neg */
		op_imm32(a, flags, ALU_ADD.ext, RAX, width - 1);
	} else { /* bsf: the bottom bit, or width */
		op_x(e, flags, opcode, RAX, d->rs1);
		x86_op(a, 0, 0xc7, 0, RCX, false, 0); /* mov ecx, width: flags stay */
		x86_u32(a, width);
		x86_op(a, flags, 0x0f44, RAX, RCX, false, 0); /* cmovz */
	}
	set_x(e, RAX, d->rd);
	return GOES_ON;
}

/* ORC.B: a byte 0xff where rs1's is not zero, else 0.  PCMPEQB against
 * zero gives the inverse of that (SSE2, on every x86-64 host; XMM0 and
 * XMM1 are scratch, and neither touches MXCSR). */
static void orc_b(struct emit *e, const struct decoded_insn *d)
{
	struct x86 *a = &e->a;
	int w = d->rd && e->host[d->rd] >= 0 ? e->host[d->rd] : RAX;
	op_x(e, X86_16 | X86_W, 0x0f6e, 0, d->rs1); /* movq xmm0, rs1 */
	x86_op(a, X86_16, 0x0fef, 1, 1, false, 0); /* pxor xmm1, xmm1 */
	x86_op(a, X86_16, 0x0f74, 1, 0, false, 0); /* pcmpeqb xmm1, xmm0: 0xff where 0 */
	x86_op(a, X86_16 | X86_W, 0x0f7e, 1, w, false, 0); /* movq w, xmm1 */
	x86_op(a, X86_W, 0xf7, 2, w, false, 0); /* not */
	if (w == RAX)
		set_x(e, RAX, d->rd);
}

/* CLMUL, CLMULH, CLMULR (Zbc): PCLMULQDQ's 128-bit carry-less product of
 * rs1 and rs2, where the host has it (else the interpreter), and of it
 * bits 63:0, 127:64, or 126:63 (SHLD of the high half by the low). */
static enum emitted clmul(struct emit *e, enum op op, const struct decoded_insn *d)
{
	struct x86 *a = &e->a;
	if (!__builtin_cpu_supports("pclmul"))
		return NOT_TRANSLATED;
	op_x(e, X86_16 | X86_W, 0x0f6e, 0, d->rs1); /* movq xmm0, rs1 */
	op_x(e, X86_16 | X86_W, 0x0f6e, 1, d->rs2); /* movq xmm1, rs2 */
	x86_op(a, X86_16, 0x0f3a44, 0, 1, false, 0); /* pclmulqdq xmm0, xmm1, 0 */
	x86_u8(a, 0);
	if (op == OP_CLMULR)
		x86_op(a, X86_16 | X86_W, 0x0f7e, 0, RCX, false, 0); /* movq rcx, xmm0 */
	if (op != OP_CLMUL) {
		x86_op(a, X86_16, 0x0f73, 3, 0, false, 0); /* psrldq xmm0, 8: the high half */
		x86_u8(a, 8);
	}
	x86_op(a, X86_16 | X86_W, 0x0f7e, 0, RAX, false, 0); /* movq rax, xmm0 */
	if (op == OP_CLMULR) {
		x86_op(a, X86_W, 0x0fa4, RCX, RAX, false, 0); /* shld rax, rcx, 1 */
		x86_u8(a, 1);
	}
	set_x(e, RAX, d->rd);
	return GOES_ON;
}

/* DIV[U][W] and REM[U][W] with RISC-V's results where x86 would trap: by
 * zero, all ones (DIV) or rs1 (REM); the signed overflow MIN / -1, MIN
 * (DIV) or 0 (REM).  Dividing by -1 is a negation, so it never reaches
 * IDIV.  RDX, which takes the high half, gets the data TLB back after. */
static void divide(struct emit *e, bool is_signed, bool rem, unsigned flags,
		   const struct decoded_insn *d)
{
	struct x86 *a = &e->a;
	get_x(e, flags, RCX, d->rs2);
	get_x(e, flags, RAX, d->rs1);
	x86_op(a, flags, 0x85, RCX, RCX, false, 0); /* test */
	uint8_t *by_zero = x86_jump(a, CC_E), *by_minus_one = NULL;
	if (is_signed) {
		op_imm32(a, flags, 7, RCX, ~0u);
		by_minus_one = x86_jump(a, CC_E);
		if (flags & X86_W)
			x86_u8(a, 0x48);
		x86_u8(a, 0x99); /* cqo or cdq: RDX = RAX's sign */
	} else {
		x86_op(a, 0, 0x33, RDX, RDX, false, 0);
	}
	x86_op(a, flags, 0xf7, is_signed ? 7 : 6, RCX, false, 0); /* idiv or div */
	if (rem)
		x86_op(a, X86_W, 0x89, RDX, RAX, false, 0);
	uint8_t *done = x86_jump(a, -1), *done2 = NULL;
	x86_land(a, by_zero, a->p);
	if (!rem) { /* REM by zero: rs1, already in RAX */
		x86_op(a, X86_W, 0xc7, 0, RAX, false, 0);
		x86_u32(a, ~0u);
	}
	if (is_signed) {
		done2 = x86_jump(a, -1);
		x86_land(a, by_minus_one, a->p);
		if (rem)
			x86_op(a, 0, 0x33, RAX, RAX, false, 0);
		else
			x86_op(a, flags, 0xf7, 3, RAX, false, 0); /* neg */
		x86_land(a, done2, a->p);
	}
	x86_land(a, done, a->p);
	x86_op(a, X86_W, 0x8b, R_TLB, R_X, true, HART_OFF(data_tlb));
	if (!(flags & X86_W))
		sext_w(a, RAX);
	set_x(e, RAX, d->rd);
}

/* rd = rs1 extended by the MOVSX/MOVZX `opcode` */
static void extend(struct emit *e, unsigned flags, unsigned opcode, const struct decoded_insn *d)
{
	op_x(e, flags, opcode, RAX, d->rs1);
	set_x(e, RAX, d->rd);
}

/* The load or store `opcode` of reg at [RAX + index + disp] (tlb_lookup) */
static void mem_access(struct x86 *a, unsigned flags, unsigned opcode, int reg, int index, int32_t disp)
{
	if (index < 0)
		x86_op(a, flags, opcode, reg, RAX, true, disp);
	else
		x86_op_index(a, flags, opcode, reg, RAX, index, disp);
}

/* A load or store through the data TLB; a miss resumes at its entry,
 * whose interpreter handler takes the slow path. */
static void memory(struct emit *e, unsigned i, const struct decoded_insn *d)
{
	static const struct {
		uint8_t size, flags;
		uint16_t opcode;
	} form[] = {
		[OP_LB] = {1, X86_W, 0x0fbe}, [OP_LH] = {2, X86_W, 0x0fbf},
		[OP_LW] = {4, X86_W, 0x63}, [OP_LD] = {8, X86_W, 0x8b},
		[OP_LBU] = {1, 0, 0x0fb6}, [OP_LHU] = {2, 0, 0x0fb7}, [OP_LWU] = {4, 0, 0x8b},
		[OP_SB] = {1, 0, 0x88}, [OP_SH] = {2, X86_16, 0x89}, [OP_SW] = {4, 0, 0x89},
		[OP_SD] = {8, X86_W, 0x89},
	};
	struct x86 *a = &e->a;
	bool store = d->op >= OP_SB;
	int32_t table = store ? (int32_t)offsetof(struct tlb, write) : (int32_t)offsetof(struct tlb, read);
	int index;
	tlb_lookup(e, i, d, table, form[d->op].size, &index);
	if (store) {
		/* from rs2's host register, except a byte of RSP-RDI, which
		 * would need a REX prefix x86_op leaves out (it names AH-BH);
		 * else from R8 (the tag is done with), as RCX is kept */
		int h = e->host[d->rs2];
		if (h < 0 || (form[d->op].size == 1 && h >= RSP && h <= RDI)) {
			get_x(e, X86_W, R8, d->rs2);
			h = R8;
		}
		mem_access(a, form[d->op].flags, form[d->op].opcode, h, index, d->imm);
	} else {
		int w = d->rd && e->host[d->rd] >= 0 ? e->host[d->rd] : RAX;
		mem_access(a, form[d->op].flags, form[d->op].opcode, w, index, d->imm);
		set_from(e, w, d->rd);
		e->rcx_any_at = a->p;
		if (d->rd == d->rs1)
			return; /* the next access from rs1 is elsewhere */
	}
	e->rcx_reg = d->rs1; /* for the next access (tlb_lookup) */
	e->rcx_imm = d->imm;
	e->rcx_at = e->rcx_any_at = a->p;
}

/* FLH, FLW, FLD and their stores, as exec.c's FP_LOAD and op_fsh, op_fsw, op_fsd: with
 * mstatus.FS off, resume at the entry (the interpreter raises the
 * illegal instruction); a load NaN-boxes and marks FS dirty.  Each only
 * where the translation has not done so yet (struct jit_fp). */
static void fp_memory(struct emit *e, unsigned i, const struct decoded_insn *d)
{
	struct x86 *a = &e->a;
	bool store = d->op == OP_FSH || d->op == OP_FSW || d->op == OP_FSD;
	unsigned size = d->op == OP_FLH || d->op == OP_FSH ? 2 : d->op == OP_FLW || d->op == OP_FSW ? 4 : 8;
	if (!e->fp.fs_on) {
		x86_op(a, X86_W, 0xf7, 0, R_X, true, HART_OFF(mstatus)); /* test mstatus, FS */
		x86_u32(a, (uint32_t)MSTATUS_FS);
		resume_later(e, x86_jump(a, CC_E), i);
		e->fp.fs_on = true;
	}
	int32_t table = store ? (int32_t)offsetof(struct tlb, write) : (int32_t)offsetof(struct tlb, read);
	int index;
	tlb_lookup(e, i, d, table, size, &index);
	unsigned flags = size == 8 ? X86_W : size == 2 ? X86_16 : 0;
	if (store) {
		x86_op(a, X86_W, 0x8b, RCX, R_X, true, HART_OFF(f) + 8 * d->rs2);
		mem_access(a, flags, 0x89, RCX, index, d->imm);
		return;
	}
	mem_access(a, size == 8 ? X86_W : 0, size == 2 ? 0x0fb7 : 0x8b, RAX, index, d->imm);
	if (size < 8) { /* NaN-box: the upper bits all ones */
		uint64_t box = ~0ull << (8 * size);
		x86_u8(a, 0x48); /* mov rcx, imm64 */
		x86_u8(a, 0xb9);
		x86_bytes(a, &box, 8);
		x86_op(a, X86_W, 0x0b, RAX, RCX, false, 0);
	}
	x86_op(a, X86_W, 0x89, RAX, R_X, true, HART_OFF(f) + 8 * d->rd);
	if (!e->fp.dirty) {
		x86_op(a, X86_W, 0x81, 1, R_X, true, HART_OFF(mstatus)); /* or mstatus, FS */
		x86_u32(a, (uint32_t)MSTATUS_FS);
		e->fp.dirty = true;
	}
}

/* A conditional branch at entry i, pcoff bytes into the block.  Taken
 * back to the block's start, it runs the block again while the steps
 * left cover it, as the interpreter's TAKEN does. */
static void branch(struct emit *e, enum x86_cc cc, unsigned i, unsigned pcoff,
		   const struct decoded_insn *d)
{
	struct x86 *a = &e->a;
	unsigned n = e->n;
	int h1 = e->host[d->rs1], h2 = e->host[d->rs2];
	struct kept was = kept_now(e);
	if (h1 < 0 && rax_holds(e, d->rs1))
		h1 = RAX; /* compare the copy there */
	if (!d->rs2 && h1 >= 0) { /* against zero: the flags of cmp r, 0 */
		x86_op(a, X86_W, 0x85, h1, h1, false, 0); /* test */
	} else if (!d->rs2 && d->rs1) {
		x86_op(a, X86_W, 0x83, 7, R_X, true, (int32_t)(8 * d->rs1)); /* cmp qword [m], 0 */
		x86_u8(a, 0);
	} else if (h1 < 0 && h2 >= 0 && d->rs1) {
		x86_op(a, X86_W, 0x39, h2, R_X, true, (int32_t)(8 * d->rs1)); /* cmp [m], rs2 */
	} else {
		int r1 = h1 >= 0 ? h1 : RAX;
		get_into(e, X86_W, r1, d->rs1);
		was = kept_now(e);
		op_x(e, X86_W, 0x3b, r1, d->rs2);
	}
	/* RAX and RCX are left alone on the way not taken */
	kept(e, was, 0, -1);
	was = kept_now(e);
	bool rcx_entry = rcx_any(e);
	int64_t off = (int64_t)pcoff + d->imm;
	if (off > 0) {
		/* Forward: mostly not taken in compiled code (a loop's exit,
		 * an if's skip), so the way on falls through, and the taken
		 * path's exit is emitted after the block's code (emit_block) */
		e->ahead[e->nahead].at = x86_jump(a, cc);
		e->ahead[e->nahead].off = off;
		e->ahead[e->nahead++].unrun = n - i - 1;
		kept(e, was, 0, -1);
		return;
	}
	unsigned held = e->rax_reg, held_rcx = e->rcx_reg;
	int32_t held_imm = e->rcx_imm;
	uint8_t *not_taken = x86_jump(a, cc ^ 1); /* x86 pairs each condition with its negation */
	if (off == 0) {
		if (e->loop_guess && !rcx_entry) /* any entry's offset */
			op_imm32(a, 0, 4, RCX, (TLB_ENTRIES - 1) << 4);
		/* left += n - i - 1, then if left >= n: left -= n; so
		 * left -= i + 1 unless that borrows (given back below) */
		left_op(e, 5, i + 1);
		x86_land(a, x86_jump(a, CC_AE), e->loop);
		left_op(e, 0, i + 1);
	}
	leave_to(e, off, n - i - 1);
	x86_land(a, not_taken, a->p);
	e->rax_reg = held;
	e->rcx_reg = held_rcx;
	e->rcx_imm = held_imm;
	kept(e, was, 0, -1);
}

/* Whether n is addi rd, rd, imm (or with w, addiw): what a LUI or AUIPC
 * of rd and the next instruction build together (LI of a 32-bit
 * constant, LA), which is then emitted as one (`taken`). */
static bool adds_to(const struct decoded_insn *n, unsigned rd, bool w)
{
	return n && n->rd == rd && n->rs1 == rd && (n->op == OP_ADDI || (w && n->op == OP_ADDIW));
}

/* The value LUI d writes, or with the ADDI[W] after it (adds_to) the
 * value of both when that fits a sign-extended 32-bit immediate */
static int64_t lui_addi(struct emit *e, const struct decoded_insn *d)
{
	const struct decoded_insn *n = e->next;
	if (!adds_to(n, d->rd, true))
		return d->imm;
	int64_t v = (int64_t)d->imm + n->imm; /* not in int: that can overflow */
	if (n->op == OP_ADDIW)
		v = (int32_t)(uint32_t)v;
	if (v != (int32_t)v)
		return d->imm;
	e->taken[n - e->dec] = true;
	return v;
}

/* Emit instruction d, entry i of the block, pcoff bytes into it. */
static enum emitted emit_insn(struct emit *e, unsigned i, unsigned pcoff,
			      const struct decoded_insn *d)
{
	struct x86 *a = &e->a;
	switch ((enum op)d->op) {
	case OP_NOP: break;
	case OP_LUI:
		if (d->rd) {
			struct kept was = kept_now(e);
			op_x(e, X86_W, 0xc7, 0, d->rd);
			x86_u32(a, (uint32_t)lui_addi(e, d));
			kept(e, was, d->rd, -1);
		}
		break;
	case OP_AUIPC:
		if (d->rd) {
			int64_t off = (int64_t)pcoff + d->imm;
			if (adds_to(e->next, d->rd, false)) { /* LA: the pc and the offset in one */
				off += e->next->imm;
				e->taken[e->next - e->dec] = true;
			}
			set_pc_plus(e, d->rd, off);
		}
		break;
	case OP_JAL:
		if (d->rd) /* not for J */
			set_pc_plus(e, d->rd, (int64_t)pcoff + d->len);
		leave_to(e, (int64_t)pcoff + d->imm, 0);
		return LEFT_BLOCK;
	case OP_JALR: {
		/* the target from rs1 before rd is written (rd may be rs1):
		 * straight from its host register when the link does not
		 * overwrite it (jr a5, a jump table's), else a copy in RCX */
		int base = e->host[d->rs1];
		if (base < 0 || (d->rd && d->rd == d->rs1)) {
			get_x(e, X86_W, RCX, d->rs1);
			base = RCX;
		}
		if (d->rd)
			set_pc_plus(e, d->rd, (int64_t)pcoff + d->len);
		x86_op(a, X86_W, 0x8d, RAX, base, true, d->imm); /* lea rax, [rs1 + imm] */
		op_imm32(a, X86_W, 4, RAX, ~1u);
		to_fixed(e);
		chain_to_rax(e, JIT_EXIT_JALR);
		return LEFT_BLOCK;
	}
	case OP_BEQ: branch(e, CC_E, i, pcoff, d); break;
	case OP_BNE: branch(e, CC_NE, i, pcoff, d); break;
	case OP_BLT: branch(e, CC_L, i, pcoff, d); break;
	case OP_BGE: branch(e, CC_GE, i, pcoff, d); break;
	case OP_BLTU: branch(e, CC_B, i, pcoff, d); break;
	case OP_BGEU: branch(e, CC_AE, i, pcoff, d); break;
	case OP_LB: case OP_LH: case OP_LW: case OP_LD: case OP_LBU: case OP_LHU: case OP_LWU:
	case OP_SB: case OP_SH: case OP_SW: case OP_SD:
		memory(e, i, d);
		break;
	case OP_FLH: case OP_FLW: case OP_FLD: case OP_FSH: case OP_FSW: case OP_FSD:
		fp_memory(e, i, d);
		break;
	case OP_FP_ROUNDING: case OP_FP: {
		uint8_t *out[JIT_FP_RESUMES];
		unsigned n;
		if (!jit_fp_emit(&e->fp, a, e->host, d, out, &n))
			return NOT_TRANSLATED;
		for (unsigned k = 0; k < n; k++)
			resume_later(e, out[k], i);
		break;
	}
	case OP_ADDI: alu_ri(e, ALU_ADD, X86_W, d); break;
	case OP_XORI: alu_ri(e, ALU_XOR, X86_W, d); break;
	case OP_ORI: alu_ri(e, ALU_OR, X86_W, d); break;
	case OP_ANDI: alu_ri(e, ALU_AND, X86_W, d); break;
	case OP_ADDIW: alu_ri(e, ALU_ADD, 0, d); break;
	case OP_SLTI: set_less(e, CC_L, true, d); break;
	case OP_SLTIU: set_less(e, CC_B, true, d); break;
	case OP_SLT: set_less(e, CC_L, false, d); break;
	case OP_SLTU: set_less(e, CC_B, false, d); break;
	case OP_ADD: alu_rr(e, ALU_ADD, X86_W, d); break;
	case OP_SUB: alu_rr(e, ALU_SUB, X86_W, d); break;
	case OP_XOR: alu_rr(e, ALU_XOR, X86_W, d); break;
	case OP_OR: alu_rr(e, ALU_OR, X86_W, d); break;
	case OP_AND: alu_rr(e, ALU_AND, X86_W, d); break;
	case OP_ADDW: alu_rr(e, ALU_ADD, 0, d); break;
	case OP_SUBW: alu_rr(e, ALU_SUB, 0, d); break;
	/* shifts: /4 shl, /5 shr, /7 sar; rotates: /0 rol, /1 ror */
	case OP_SLLI: shift(e, 4, X86_W, false, d); break;
	case OP_SRLI: shift(e, 5, X86_W, false, d); break;
	case OP_SRAI: shift(e, 7, X86_W, false, d); break;
	case OP_SLLIW: shift(e, 4, 0, false, d); break;
	case OP_SRLIW: shift(e, 5, 0, false, d); break;
	case OP_SRAIW: shift(e, 7, 0, false, d); break;
	case OP_SLL: shift(e, 4, X86_W, true, d); break;
	case OP_SRL: shift(e, 5, X86_W, true, d); break;
	case OP_SRA: shift(e, 7, X86_W, true, d); break;
	case OP_SLLW: shift(e, 4, 0, true, d); break;
	case OP_SRLW: shift(e, 5, 0, true, d); break;
	case OP_SRAW: shift(e, 7, 0, true, d); break;
	case OP_ROL: shift(e, 0, X86_W, true, d); break;
	case OP_ROR: shift(e, 1, X86_W, true, d); break;
	case OP_RORI: shift(e, 1, X86_W, false, d); break;
	case OP_ROLW: shift(e, 0, 0, true, d); break;
	case OP_RORW: shift(e, 1, 0, true, d); break;
	case OP_RORIW: shift(e, 1, 0, false, d); break;
	case OP_MUL: alu_rr(e, (struct alu){0x0faf, 0}, X86_W, d); break; /* imul */
	case OP_MULW: alu_rr(e, (struct alu){0x0faf, 0}, 0, d); break;
	case OP_MULHU: mul_high(e, 4, d); break;
	case OP_MULH: mul_high(e, 5, d); break;
	case OP_DIV: divide(e, true, false, X86_W, d); break;
	case OP_DIVU: divide(e, false, false, X86_W, d); break;
	case OP_REM: divide(e, true, true, X86_W, d); break;
	case OP_REMU: divide(e, false, true, X86_W, d); break;
	case OP_DIVW: divide(e, true, false, 0, d); break;
	case OP_DIVUW: divide(e, false, false, 0, d); break;
	case OP_REMW: divide(e, true, true, 0, d); break;
	case OP_REMUW: divide(e, false, true, 0, d); break;
	case OP_SH1ADD: shadd(e, 1, false, d); break;
	case OP_SH2ADD: shadd(e, 2, false, d); break;
	case OP_SH3ADD: shadd(e, 3, false, d); break;
	case OP_ADD_UW: shadd(e, 0, true, d); break;
	case OP_SH1ADD_UW: shadd(e, 1, true, d); break;
	case OP_SH2ADD_UW: shadd(e, 2, true, d); break;
	case OP_SH3ADD_UW: shadd(e, 3, true, d); break;
	case OP_MAX: pick(e, CC_L, d); break;
	case OP_MAXU: pick(e, CC_B, d); break;
	case OP_MIN: pick(e, CC_G, d); break;
	case OP_MINU: pick(e, CC_A, d); break;
	case OP_SEXT_B: extend(e, X86_W, 0x0fbe, d); break;
	case OP_SEXT_H: extend(e, X86_W, 0x0fbf, d); break;
	case OP_ZEXT_H: extend(e, 0, 0x0fb7, d); break;
	case OP_MULHSU: mul_high_su(e, d); break;
	case OP_ANDN: logic_not(e, ALU_AND, d); break;
	case OP_ORN: logic_not(e, ALU_OR, d); break;
	case OP_XNOR: logic_not(e, ALU_XOR, d); break;
	case OP_REV8:
		get_x(e, X86_W, RAX, d->rs1);
		x86_u8(a, 0x48); /* bswap rax */
		x86_u8(a, 0x0f);
		x86_u8(a, 0xc8);
		set_x(e, RAX, d->rd);
		break;
	case OP_CLZ: return count_bits(e, 0x0fbd, X86_W, d);
	case OP_CTZ: return count_bits(e, 0x0fbc, X86_W, d);
	case OP_CPOP: return count_bits(e, 0x0fb8, X86_W, d);
	case OP_CLZW: return count_bits(e, 0x0fbd, 0, d);
	case OP_CTZW: return count_bits(e, 0x0fbc, 0, d);
	case OP_CPOPW: return count_bits(e, 0x0fb8, 0, d);
	case OP_ORC_B: orc_b(e, d); break;
	case OP_CLMUL: case OP_CLMULH: case OP_CLMULR: return clmul(e, (enum op)d->op, d);
	case OP_BSET: bit_op(e, 0x0fab, NULL, d); break;
	case OP_BCLR: bit_op(e, 0x0fb3, NULL, d); break;
	case OP_BINV: bit_op(e, 0x0fbb, NULL, d); break;
	case OP_BEXT: bit_op(e, 0, NULL, d); break;
	case OP_BSETI: bit_op(e, 0x0fab, &ALU_OR, d); break;
	case OP_BCLRI: bit_op(e, 0x0fb3, &ALU_AND, d); break;
	case OP_BINVI: bit_op(e, 0x0fbb, &ALU_XOR, d); break;
	case OP_BEXTI: bit_op(e, 0, &ALU_ADD, d); break;
	case OP_CZERO_EQZ: czero(e, CC_E, d); break;
	case OP_CZERO_NEZ: czero(e, CC_NE, d); break;
	default:
		return NOT_TRANSLATED;
	}
	return GOES_ON;
}

/* The fixed mapping (above) as e->host */
static void map_fixed(struct emit *e)
{
	memset(e->host, -1, sizeof(e->host));
	for (unsigned k = 0; k < NFIXED; k++)
		e->host[fixed[k].guest] = fixed[k].host;
}

/* Whether d, `pcoff` bytes into the translation, is a conditional branch
 * back to its first instruction: a loop's back edge (decode_run,
 * plan_loop, loop_guess_at; branch emits one as the loop). */
static bool loops_back(const struct decoded_insn *d, unsigned pcoff)
{
	return d->op >= OP_BEQ && d->op <= OP_BGEU && (int64_t)pcoff + d->imm == 0;
}

/* Instructions after which a tail ends: none of them is translated past,
 * as none is a block's last but one (block.c, ends_block). */
static bool ends_tail(enum op op)
{
	return op == OP_JAL || op == OP_JALR || op == OP_AMO || op == OP_SYSTEM || op == OP_CBO ||
	       op == OP_ILLEGAL;
}

/* Decode what a translation of b covers into d and pcoff (struct emit):
 * b's instructions, and when the straight-line code after them in the
 * same page branches back to b's start within JIT_MAX_INSNS (a loop
 * longer than a block), that code up to the last such branch.  Returns
 * how many.  A tail that is no loop was measured a loss: translating
 * more of the code a Linux boot runs a few times cost more than the
 * chains it saved.  The tail is read from the page as b's own instructions
 * are: b is current, so the page still holds the bytes of b's
 * generation, and any later write to it (it is all one page) moves that
 * on and drops b with its translation. */
static unsigned decode_run(const struct block *b, struct decoded_insn *d, uint16_t *pcoff)
{
	const uint8_t *mem = (const uint8_t *)b->hpc;
	unsigned room = 0x1000 - (unsigned)(b->hpc & 0xfff), n = 0, off = 0, loop_end = 0;
	while (n < JIT_MAX_INSNS && (n < b->n || off + 2 <= room)) {
		if (n && ends_tail((enum op)d[n - 1].op))
			break;
		off = n < b->n ? b->insn[n].pcoff : off;
		unsigned len = insn_len_at(mem + off);
		if (n >= b->n && off + len > room)
			break;
		decode_insn(insn_at(mem + off), &d[n]);
		if (loops_back(&d[n], off) || (d[n].op == OP_JAL && (int64_t)off + d[n].imm == 0))
			loop_end = n + 1;
		pcoff[n++] = (uint16_t)off;
		off += len;
	}
	if (loop_end <= b->n) {
		pcoff[b->n] = b->bytes;
		return b->n;
	}
	pcoff[loop_end] = (uint16_t)(pcoff[loop_end - 1] + d[loop_end - 1].len);
	return loop_end;
}

/* How many of the first `count` instructions in d emit_insn translates
 * (a dry run into a scratch buffer: the switch there is the one list of
 * what is translated), and whether the last of those left. */
static unsigned translated_prefix(const struct emit *e, const struct decoded_insn *d,
				  unsigned count, bool *left)
{
	uint8_t scratch[JIT_BUF_BYTES];
	struct emit t;
	new_emit(&t, e->b, e->table, scratch, sizeof(scratch), scratch, scratch);
	t.n = count;
	t.pcoff = e->pcoff;
	t.start = t.loop = scratch;
	memset(t.host, -1, sizeof(t.host));
	*left = false;
	for (unsigned i = 0; i < count; i++) {
		enum emitted how = emit_insn(&t, i, e->pcoff[i], &d[i]);
		if (how != GOES_ON) {
			*left = how == LEFT_BLOCK;
			return *left ? i + 1 : i;
		}
	}
	return count;
}

/* At the translation's entry, which a chain or the interpreter enters
 * having taken b's steps only: take the tail's too, or when the steps
 * left do not cover them, run b in the interpreter (resume at entry 0,
 * which gives them back). */
static void take_tail_steps(struct emit *e)
{
	unsigned tail = e->n - e->b->n;
	if (!tail)
		return;
	op_imm32(&e->a, X86_W, 5, R_LEFT, tail);
	e->short_at = x86_jump(&e->a, CC_B); /* resumed before any loop_in */
}

/* A translation that loops to its own start (a branch back to its first
 * instruction), with no FP instruction, gets its own mapping for the
 * loop when that keeps at least LOOP_GAIN more of the loop's register
 * uses per pass in host registers than the fixed one: the nine host
 * registers go to its nine most used guest registers, a fixed one among
 * them keeping its own, and at least LOOP_PER_MOVE more per register it
 * moves (each costs moves on every entry and exit: with one per move,
 * bare-metal sort's short loops took 3% more host instructions; with 3,
 * sort 0.6% and compress 2.8% more than with 2).  The loop is the
 * translation's first instructions up to its last branch back to the
 * start (what a block has after that runs with the loop's mapping too).
 * e->host is then that mapping; the code before the loop (loop_in) moves
 * to it, and every exit moves back (to_fixed). */
#define LOOP_GAIN 3
#define LOOP_PER_MOVE 2

static void plan_loop(struct emit *e, const struct decoded_insn *d, unsigned count)
{
	unsigned uses[32] = {0}, body = 0;
	e->written = 0;
	for (unsigned i = 0; i < count; i++) {
		if ((d[i].op >= OP_FLW && d[i].op <= OP_FSH) || d[i].op == OP_FP ||
		    d[i].op == OP_FP_ROUNDING)
			return;
		if (loops_back(&d[i], e->pcoff[i]))
			body = i + 1;
		struct reg_use u;
		decode_reg_use(&d[i], &u);
		e->written |= u.x_written | (d[i].rd ? 1u << d[i].rd : 0);
	}
	if (!body)
		return;
	for (unsigned i = 0; i < body; i++) {
		struct reg_use u;
		decode_reg_use(&d[i], &u);
		for (unsigned r = 1; r < 32; r++)
			uses[r] += (u.x_read >> r & 1) + (u.x_written >> r & 1);
	}
	/* the nine most used, a fixed one first among equals */
	bool pick[32] = {false};
	unsigned gain = 0, moved = 0;
	for (unsigned k = 0; k < NFIXED; k++) {
		unsigned best = 0;
		for (unsigned r = 1; r < 32; r++)
			if (!pick[r] && uses[r] &&
			    (!best || uses[r] > uses[best] || (uses[r] == uses[best] && e->host[r] >= 0)))
				best = r;
		if (!best)
			break;
		pick[best] = true;
		gain += uses[best];
		moved += e->host[best] < 0;
	}
	for (unsigned k = 0; k < NFIXED; k++)
		gain -= uses[fixed[k].guest];
	if ((int)gain < LOOP_GAIN || (int)gain < LOOP_PER_MOVE * (int)moved)
		return;
	e->ncome = e->ngone = 0;
	for (unsigned k = 0; k < NFIXED; k++)
		if (!pick[fixed[k].guest]) {
			e->gone[e->ngone] = fixed[k].guest;
			e->gone_host[e->ngone++] = fixed[k].host;
		}
	for (unsigned r = 1; r < 32; r++)
		if (pick[r] && e->host[r] < 0) {
			e->come[e->ncome] = (uint8_t)r;
			e->come_host[e->ncome] = e->gone_host[e->ncome];
			e->ncome++;
		}
	e->ngone = e->ncome; /* a fixed one no other takes the place of stays */
	for (unsigned k = 0; k < e->ngone; k++)
		e->host[e->gone[k]] = -1;
	for (unsigned k = 0; k < e->ncome; k++)
		e->host[e->come[k]] = e->come_host[k];
	e->looped = true;
	/* and R_LEFT to the next most used, if used enough */
	unsigned best = 0;
	for (unsigned r = 1; r < 32; r++)
		if (!pick[r] && e->host[r] < 0 && uses[r] > uses[best])
			best = r;
	if (best && uses[best] >= LOOP_PER_MOVE) {
		e->lent = best;
		e->host[best] = R_LEFT;
	}
}

/* Into a loop's own mapping: the fixed registers it drops to h->x, the
 * ones it keeps in their place from there. */
static void loop_in(struct emit *e)
{
	for (unsigned k = 0; k < e->ngone; k++)
		x86_op(&e->a, X86_W, 0x89, e->gone_host[k], R_X, true, 8 * e->gone[k]);
	for (unsigned k = 0; k < e->ncome; k++)
		x86_op(&e->a, X86_W, 0x8b, e->come_host[k], R_X, true, 8 * e->come[k]);
	if (e->lent) {
		x86_op(&e->a, X86_W, 0x89, R_LEFT, R_X, true, HART_OFF(jit_left));
		x86_op(&e->a, X86_W, 0x8b, R_LEFT, R_X, true, 8 * e->lent);
	}
}

/* Whether the block's loop (a branch back to its start among its first
 * `prefix` instructions) should start with RCX the entry of the last
 * load or store before that branch: when the first one is from the same
 * register, at an offset near enough for tlb_lookup to try that entry (a
 * pointer walked a few bytes a pass: sort's partition scans).  Returns
 * that last one. */
static const struct decoded_insn *loop_guess_at(const struct emit *e,
						 const struct decoded_insn *d, unsigned prefix)
{
	const struct decoded_insn *first = NULL, *last = NULL;
	bool loops = false;
	for (unsigned i = 0; i < prefix && !loops; i++) {
		if (d[i].op >= OP_LB && d[i].op <= OP_SD) {
			if (!first)
				first = &d[i];
			last = &d[i];
		}
		loops = loops_back(&d[i], e->pcoff[i]);
	}
	if (!loops || !first || first->rs1 != last->rs1 || !first->rs1)
		return NULL;
	int64_t near = (int64_t)first->imm - last->imm;
	return near > -2048 && near < 2048 ? last : NULL;
}

/* The translation of e->b: false when it would resume the interpreter
 * within its first few instructions (JIT_MIN_PREFIX). */
static bool emit_block(struct emit *e)
{
	struct x86 *a = &e->a;
	const struct block *b = e->b;
	struct decoded_insn d[JIT_MAX_INSNS];
	uint16_t pcoff[JIT_MAX_INSNS + 1];
	unsigned count = decode_run(b, d, pcoff);
	e->pcoff = pcoff;
	bool left;
	unsigned prefix = translated_prefix(e, d, count, &left);
	/* a call, and the interpreter's dispatch to the rest, for a few
	 * instructions: a loss */
	if (prefix < b->n && prefix < JIT_MIN_PREFIX)
		return false;
	/* past b's end: what it translates, up to the first it does not */
	e->n = prefix < b->n ? b->n : prefix;
	map_fixed(e);
	uint8_t *to_dead = x86_jump(a, -1); /* never run: where jit_kill finds emit_dead */
	e->start = a->p;
	take_tail_steps(e);
	uint8_t *out[JIT_FP_RESUMES];
	unsigned nout;
	jit_fp_preamble(&e->fp, a, d, prefix, out, &nout);
	for (unsigned k = 0; k < nout; k++)
		resume_later(e, out[k], 0);
	plan_loop(e, d, prefix);
	if (e->looped)
		loop_in(e);
	const struct decoded_insn *last = loop_guess_at(e, d, prefix);
	e->loop_guess = last != NULL;
	if (e->loop_guess) /* RCX any entry's offset on the way in */
		op_imm32(a, 0, 4, RCX, (TLB_ENTRIES - 1) << 4);
	e->loop = a->p;
	if (e->loop_guess) { /* and the last pass's on the way round */
		e->rcx_reg = last->rs1;
		e->rcx_imm = last->imm;
		e->rcx_at = e->rcx_any_at = a->p;
	}
	e->dec = d;
	e->prefix = prefix;
	for (unsigned i = 0; i < prefix; i++) {
		if (e->taken[i])
			continue;
		unsigned after = i + 1;
		while (after < prefix && e->taken[after])
			after++;
		e->next = after < prefix ? &d[after] : NULL;
		e->at = i;
		emit_insn(e, i, pcoff[i], &d[i]);
	}
	if (prefix < b->n)
		resume(e, prefix, JIT_EXIT_UNTRANSLATED);
	else if (!left) /* the end, or one not translated: carry on there */
		leave_to(e, pcoff[prefix], 0);
	e->rax_at = e->rcx_at = NULL; /* what follows is reached by jumps */
	for (unsigned k = 0; k < e->nahead; k++) { /* forward branches taken */
		x86_land(a, e->ahead[k].at, a->p);
		leave_to(e, e->ahead[k].off, e->ahead[k].unrun);
	}
	for (unsigned k = 0; k < e->nslow; k++)
		chain_slow(e, k);
	for (unsigned k = 0; k < e->nfix; k++)
		emit_fix(e, k);
	for (unsigned k = 0; k < e->nmiss; k++) { /* one resume per instruction */
		x86_land(a, e->miss[k].at, a->p);
		if (k + 1 == e->nmiss || e->miss[k + 1].i != e->miss[k].i)
			resume(e, e->miss[k].i, JIT_EXIT_MISS);
	}
	if (e->short_at) { /* in the fixed mapping: nothing to move back */
		x86_land(a, e->short_at, a->p);
		e->looped = false;
		resume(e, 0, JIT_EXIT_SAME_PAGE);
	}
	x86_land(a, to_dead, a->p);
	emit_dead(e);
	return true;
}

static uint64_t now_ns(void)
{
	/* host time for the --stats report only; nothing the guest sees.
	 * CPU time: on a busy host the wall clock counts other processes'
	 * turns (a boot measured 3.2 s of "translating" that way, more CPU
	 * time than the whole run took). */
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

enum jit_result jit_translate(struct jit *j, struct block *table, struct block *b, uint64_t pc,
			      unsigned priv)
{
	if ((pc ^ b->hpc) & 0xfff)
		return JIT_NOT_TRANSLATED; /* jit_page would be wrong (pc_plus) */
	uint64_t t0 = now_ns();
	uint8_t buf[JIT_BUF_BYTES];
	size_t at = (j->used + 15) & ~(size_t)15;
	struct emit e;
	new_emit(&e, b, table, buf, sizeof(buf), j->code + at, j->leave);
	if (!emit_block(&e) || e.a.full)
		return JIT_NOT_TRANSLATED;
	size_t len = (size_t)(e.a.p - buf);
	if (at + len > j->size) {
		j->stats.flushes++;
		return JIT_FULL;
	}
	memcpy(j->code_w + at, buf, len);
	CODE_REWRITTEN(j->code + at, len); /* after a flush, old code was here */
	j->used = at + len;
	b->jit = j->code + at + (e.start - buf); /* past the jmp to emit_dead */
	j->stats.blocks++;
	j->stats.code_bytes += len;
	j->stats.translate_ns += now_ns() - t0;
	jit_perfmap_note(j, j->code + at, len, pc, priv);
	return JIT_DONE;
}

/* The writable alias of translated code at p */
static uint8_t *writable(struct jit *j, const uint8_t *p) { return j->code_w + (p - j->code); }

/* The steps a linked site takes before it jumps (take: sub r11, k, whose
 * borrow means too few steps) and gives back when it does not (undo: add
 * r11, k).  A negative k is taken as add r11, -k, which never carries, so
 * its undo is never run. */
static void step_pair(int32_t k, uint8_t take[7], uint8_t undo[7])
{
	const uint8_t sub[3] = {SUB_R11}, add[3] = {ADD_R11};
	memcpy(take, sub, 3);
	memcpy(undo, add, 3);
	if (k < 0) {
		take[2] = undo[2]; /* add r11, -k */
		undo[2] = 0xeb; /* never run */
		k = -k;
	}
	memcpy(take + 3, &k, 4);
	memcpy(undo + 3, &k, 4);
}

void jit_link(struct jit *j, uint8_t *site, const struct block *to)
{
	uint8_t *w = writable(j, site);
	int32_t unrun;
	memcpy(&unrun, w + LINK_UNDO + 3, 4);
	int32_t k = (int32_t)to->n - unrun;
	/* k <= 0 never borrows: the jmp takes the jb's place (the take is
	 * add r11, -k) or, for k = 0, the take's */
	unsigned at = k > 0 ? LINK_JMP : k < 0 ? LINK_JB : LINK_SUB;
	int32_t rel = (int32_t)((const uint8_t *)to->jit - (site + at + 5));
	uint8_t jmp[5] = {0xe9}, take[7], undo[7];
	memcpy(jmp + 1, &rel, 4);
	step_pair(k, take, undo);
	if (k > 0)
		memcpy(w + LINK_UNDO, undo, sizeof(undo));
	memcpy(w + at, jmp, sizeof(jmp));
	if (k)
		memcpy(w + LINK_SUB, take, sizeof(take));
	CODE_REWRITTEN(site, LINK_BYTES);
}

/* Fill in a guarded site (far_site): the interpreter has just run the
 * lookup after it, which found `to` for the pc, through entry i of the
 * exec TLB t.  The site enters to's translation only while that entry
 * still maps the pc's page to the same host page and that page's
 * generation is still to's, and the pc is this one (a static exit's too:
 * the block may run at another virtual address, its exit's page then
 * another page): the checks the lookup makes, less those that cannot change (the block's
 * own hpc and generation are constants of its translation, and a
 * translation dropped from the table is cut off by jit_kill). */
void jit_link_far(struct jit *j, uint8_t *site, const struct block *to, uint64_t pc,
		  const struct tlb *t)
{
	unsigned i = (unsigned)(pc >> 12) % TLB_ENTRIES;
	if (t->exec[i].tag != (pc & ~(uint64_t)0xfff) || (pc & 0xfff) > 0xffc ||
	    t->exec[i].addend + pc != to->hpc || *t->exec_gen[i] != to->gen || !to->jit)
		return; /* not what the lookup found: leave the site as it is */
	uint8_t *w = writable(j, site);
	struct x86 a = {.p = w, .start = w, .end = w + FAR_BYTES};
	uint8_t *miss[4];
	unsigned n = 0;
	mov_imm64(&a, RCX, pc);
	x86_op(&a, X86_W, 0x3b, RAX, RCX, false, 0);
	miss[n++] = x86_jump(&a, CC_NE);
	int32_t entry = (int32_t)(offsetof(struct tlb, exec) + i * sizeof(struct tlb_entry));
	x86_op(&a, X86_W, 0x8b, RCX, R_X, true, HART_OFF(fetch_tlb));
	mov_imm64(&a, R8, t->exec[i].tag);
	x86_op(&a, X86_W, 0x3b, R8, RCX, true, entry + (int32_t)offsetof(struct tlb_entry, tag));
	miss[n++] = x86_jump(&a, CC_NE);
	mov_imm64(&a, R8, t->exec[i].addend);
	x86_op(&a, X86_W, 0x3b, R8, RCX, true, entry + (int32_t)offsetof(struct tlb_entry, addend));
	miss[n++] = x86_jump(&a, CC_NE);
	x86_op(&a, X86_W, 0x8b, RCX, RCX, true,
	       (int32_t)(offsetof(struct tlb, exec_gen) + i * sizeof(t->exec_gen[0])));
	mov_imm64(&a, R8, to->gen);
	x86_op(&a, X86_W, 0x3b, R8, RCX, true, 0);
	miss[n++] = x86_jump(&a, CC_NE);
	uint8_t take[7], undo[7];
	step_pair((int32_t)to->n, take, undo);
	x86_bytes(&a, take, sizeof(take));
	uint8_t *few = x86_jump(&a, CC_B);
	page_base(&a, RAX);
	uint8_t *go = x86_jump(&a, -1);
	int32_t rel = (int32_t)((const uint8_t *)to->jit - (site + (go - w) + 4));
	memcpy(go, &rel, 4);
	while (!a.full && a.p < w + FAR_BYTES - sizeof(undo))
		x86_u8(&a, 0xcc);
	x86_land(&a, few, a.p);
	x86_bytes(&a, undo, sizeof(undo));
	if (a.full || a.p != w + FAR_BYTES)
		abort(); /* FAR_BYTES too small: a broken invariant */
	for (unsigned m = 0; m < n; m++)
		x86_land(&a, miss[m], a.p);
	CODE_REWRITTEN(site, FAR_BYTES);
}

void jit_kill(struct jit *j, const void *code)
{
	const uint8_t *p = code;
	int32_t rel; /* of the jmp to emit_dead just before the entry: to p + rel */
	memcpy(&rel, p - 4, 4);
	rel -= 5; /* the same target from a jmp at p */
	uint8_t jmp[5] = {0xe9};
	memcpy(jmp + 1, &rel, 4);
	memcpy(writable(j, p), jmp, sizeof(jmp));
	CODE_REWRITTEN(p, sizeof(jmp));
}

/* The enter stub, which op_jit_run calls (jit_run): save the
 * callee-saved registers, move the arguments where translations want
 * them (the base pc as its page's, h->jit_page; the data TLB in RDX), load the mapped guest
 * registers (RSI, h, last: x is h), and jump
 * to the translation (R8, the fifth argument). */
static void emit_enter(struct x86 *a)
{
	for (unsigned k = 0; k < NFIXED; k++)
		if (callee_saved(fixed[k].host))
			x86_push(a, fixed[k].host, false);
	x86_op(a, X86_W, 0x89, RCX, R_LEFT, false, 0);
	page_base(a, RDX); /* the block's pc: its page's */
	x86_op(a, X86_W, 0x8b, R_TLB, R_X, true, HART_OFF(data_tlb));
	for (unsigned k = NFIXED; k-- > 0;)
		x86_op(a, X86_W, 0x8b, fixed[k].host, R_X, true, 8 * fixed[k].guest);
	x86_op(a, 0, 0xff, 4, R8, false, 0); /* jmp r8 */
}

/* The leave stub, where every exit to the interpreter goes with the pc
 * (or 2i + 1) in RAX: write every mapped guest register back, restore
 * the callee-saved ones, return RAX and the steps left (RDX). */
static void emit_leave(struct x86 *a)
{
	for (unsigned k = 0; k < NFIXED; k++)
		x86_op(a, X86_W, 0x89, fixed[k].host, R_X, true, 8 * fixed[k].guest);
	for (unsigned k = NFIXED; k-- > 0;)
		if (callee_saved(fixed[k].host))
			x86_push(a, fixed[k].host, true);
	x86_op(a, X86_W, 0x89, R_LEFT, RDX, false, 0);
	x86_u8(a, 0xc3);
}

/* Write both stubs at the start of an empty code cache. */
static void emit_stubs(struct jit *j)
{
	struct x86 a = {j->code_w, j->code_w, j->code_w + 256, false};
	emit_enter(&a);
	size_t leave = ((size_t)(a.p - a.start) + 15) & ~(size_t)15;
	a.p = a.start + leave;
	emit_leave(&a);
	if (a.full)
		abort(); /* 256 bytes hold both: a broken invariant */
	j->leave = j->code + leave;
	j->stubs = (size_t)(a.p - a.start);
	j->used = j->stubs;
}

/* The second mapping of the shared memory at w: mremap of size 0 maps
 * the same pages again.  Valgrind does not know that form; a memfd
 * mapped twice, its fallback, needs memfd_create, which the sandbox does
 * not allow (a fork-clone maps its cache in the sandbox). */
static uint8_t *second_mapping(uint8_t **w)
{
	void *x = mremap(*w, 0, JIT_CACHE_BYTES, MREMAP_MAYMOVE);
	if (x != MAP_FAILED)
		return x;
	int fd = memfd_create("keel-jit", MFD_CLOEXEC);
	if (fd < 0)
		return MAP_FAILED;
	void *w2 = MAP_FAILED;
	if (ftruncate(fd, JIT_CACHE_BYTES) == 0)
		w2 = mmap(NULL, JIT_CACHE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w2 != MAP_FAILED)
		x = mmap(NULL, JIT_CACHE_BYTES, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	close(fd);
	if (x == MAP_FAILED) {
		if (w2 != MAP_FAILED)
			munmap(w2, JIT_CACHE_BYTES);
		return MAP_FAILED;
	}
	munmap(*w, JIT_CACHE_BYTES);
	*w = w2;
	return x;
}

/* Whether a fork()ed child inherits the code cache's two mappings at x
 * and w (jit_set_fork) */
static void advise_fork(uint8_t *x, uint8_t *w, bool inherit)
{
	int advice = inherit ? MADV_DOFORK : MADV_DONTFORK;
	madvise(w, JIT_CACHE_BYTES, advice);
	madvise(x, JIT_CACHE_BYTES, advice);
}

/* Map a code cache twice, shared memory both times: writable at *w,
 * executable at *x.  Whether a fork()ed child inherits the mappings is
 * jit_set_fork's choice. */
static int map_pair(uint8_t **x, uint8_t **w, bool inherit)
{
	*w = mmap(NULL, JIT_CACHE_BYTES, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (*w == MAP_FAILED)
		return -1;
	*x = second_mapping(w);
	if (*x == MAP_FAILED || mprotect(*x, JIT_CACHE_BYTES, PROT_READ | PROT_EXEC)) {
		if (*x != MAP_FAILED)
			munmap(*x, JIT_CACHE_BYTES);
		munmap(*w, JIT_CACHE_BYTES);
		return -1;
	}
	advise_fork(*x, *w, inherit);
	return 0;
}

/* Map an empty code cache (jit.h). */
static int map_cache(struct jit *j)
{
	if (map_pair(&j->code, &j->code_w, j->fork_inherits))
		return -1;
	j->size = JIT_CACHE_BYTES;
	emit_stubs(j);
	return 0;
}

struct jit *jit_new(unsigned threshold)
{
	struct jit *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	if (map_cache(j)) {
		free(j);
		return NULL;
	}
	j->threshold = threshold > JIT_THRESHOLD_MAX ? JIT_THRESHOLD_MAX : threshold;
	j->perfmap = -1;
	return j;
}

void jit_set_fork(struct jit *j, bool inherit)
{
	j->fork_inherits = inherit;
	advise_fork(j->code, j->code_w, inherit);
}

/* In the child: a code cache of its own with the parent's translations,
 * at the addresses they were written for.  A new pair of mappings gets
 * the bytes written so far (not the rest: it reads as zero, like an
 * empty cache's) and is then moved over the two inherited views, which
 * are the parent's shared memory: from then on neither side's writes
 * (new translations, jit_link, jit_kill, jit_reset) reach the other.
 * Nothing runs from the cache meanwhile: the child has not run yet. */
static int copy_cache(struct jit *j)
{
	uint8_t *x, *w;
	if (map_pair(&x, &w, true))
		return -1;
	/* One call that allocates the pages rather than a fault for each
	 * (advice only: without it memcpy faults them in). */
	madvise(w, (j->used + 4095) & ~(size_t)4095, MADV_POPULATE_WRITE);
	memcpy(w, j->code_w, j->used);
	if (mremap(x, JIT_CACHE_BYTES, JIT_CACHE_BYTES, MREMAP_MAYMOVE | MREMAP_FIXED, j->code) ==
	    MAP_FAILED) {
		munmap(x, JIT_CACHE_BYTES);
		munmap(w, JIT_CACHE_BYTES);
		return -1;
	}
	/* Past here a failure leaves the writable view the parent's: the
	 * child must not run (jit.h). */
	if (mremap(w, JIT_CACHE_BYTES, JIT_CACHE_BYTES, MREMAP_MAYMOVE | MREMAP_FIXED,
		   j->code_w) == MAP_FAILED) {
		munmap(w, JIT_CACHE_BYTES);
		return -1;
	}
	CODE_REWRITTEN(j->code, j->used);
	return 0;
}

int jit_after_fork(struct jit *j)
{
	/* No perf map in a clone: the parent's descriptor was closed with
	 * the others the clone does not keep (and writing to it would put
	 * the clone's addresses under the parent's pid), and a map of its
	 * own would leave a file in /tmp behind for every clone, which are
	 * many and short-lived. */
	jit_perfmap_forget(j);
	return j->fork_inherits ? copy_cache(j) : map_cache(j);
}

void jit_reset(struct jit *j)
{
	j->used = j->stubs; /* the stubs stay */
}

void jit_free(struct jit *j)
{
	if (!j)
		return;
	munmap(j->code, j->size);
	munmap(j->code_w, j->size);
	if (j->perfmap >= 0)
		close(j->perfmap);
	free(j);
}
