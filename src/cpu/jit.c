/* Translating decoded blocks to x86-64 (see jit.h).
 *
 * A translation keeps guest registers in h->x and works on them through
 * RAX and a few scratch registers, one guest instruction at a time: it
 * removes the interpreter's dispatch and operand decoding, not yet the
 * register traffic. */
#include "cpu/jit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cpu/block.h"
#include "cpu/decode.h"
#include "cpu/hart.h"
#include "cpu/x86.h"

/* Register roles, the SysV arguments where they arrive: */
#define R_X RDI /* h->x, the guest registers */
#define R_BASE RDX /* the pc of the block's first instruction */
#define R_LEFT R11 /* the steps left (moved from RCX, which shifts need) */
#define R_TLB R10 /* h->data_tlb: nothing in a block can change it */
/* RAX, RCX, R8 and R9 are scratch; no callee-saved register is touched. */

_Static_assert(sizeof(struct tlb_entry) == 16, "the TLB index below scales by 16");

static int32_t xoff(unsigned r) { return (int32_t)(8 * r); }

/* reg = x[r], 64 bits (flags X86_W) or the low 32 zero-extended (0) */
static void get_x(struct x86 *a, unsigned flags, int reg, unsigned r)
{
	x86_op(a, flags, 0x8b, reg, R_X, true, xoff(r));
}

/* x[r] = reg; x0 is never written */
static void set_x(struct x86 *a, int reg, unsigned r)
{
	if (r)
		x86_op(a, X86_W, 0x89, reg, R_X, true, xoff(r));
}

/* An instruction with a 32-bit immediate (group 0x81 /ext: add, or,
 * and, sub, xor, cmp) on register rm. */
static void op_imm32(struct x86 *a, unsigned flags, unsigned ext, int rm, uint32_t imm)
{
	x86_op(a, flags, 0x81, (int)ext, rm, false, 0);
	x86_u32(a, imm);
}

/* A shift or rotate of RAX by an immediate (group 0xc1 /ext). */
static void shift_imm(struct x86 *a, unsigned flags, unsigned ext, unsigned count)
{
	x86_op(a, flags, 0xc1, (int)ext, RAX, false, 0);
	x86_u8(a, (uint8_t)count);
}

static void sext_w(struct x86 *a) { x86_op(a, X86_W, 0x63, RAX, RAX, false, 0); }

/* RAX = 0 or 1 from condition cc */
static void set_cc(struct x86 *a, enum x86_cc cc)
{
	x86_op(a, 0, 0x0f90 | cc, 0, RAX, false, 0);
	x86_op(a, 0, 0x0fb6, RAX, RAX, false, 0);
}

/* RAX = base + off */
static void pc_plus(struct x86 *a, int64_t off)
{
	if (off == (int32_t)off) {
		x86_op(a, X86_W, 0x8d, RAX, R_BASE, true, (int32_t)off);
		return;
	}
	x86_u8(a, 0x48); /* mov rax, imm64 */
	x86_u8(a, 0xb8);
	x86_bytes(a, &off, 8);
	x86_op(a, X86_W, 0x01, R_BASE, RAX, false, 0);
}

/* Return to the interpreter with the pc in RAX, giving back the `unrun`
 * instructions of the block after the one leaving. */
static void leave(struct x86 *a, unsigned unrun)
{
	if (unrun)
		op_imm32(a, X86_W, 0, R_LEFT, unrun);
	x86_op(a, X86_W, 0x89, R_LEFT, RDX, false, 0);
	x86_u8(a, 0xc3);
}

/* Return to the interpreter at entry i (jit.h). */
static void resume(struct x86 *a, unsigned i)
{
	x86_u8(a, 0xb8); /* mov eax, imm32 */
	x86_u32(a, 2 * i + 1);
	x86_op(a, X86_W, 0x89, R_LEFT, RDX, false, 0);
	x86_u8(a, 0xc3);
}

/* RAX = x[rs1] + imm, then the TLB lookup of exec.c's tlb_hit for `size`
 * bytes in the table at `table` in struct tlb: RAX becomes the host
 * address on a hit; a miss jumps to the displacement returned. */
static uint8_t *tlb_lookup(struct x86 *a, const struct decoded_insn *d, int32_t table,
			   unsigned size)
{
	get_x(a, X86_W, RAX, d->rs1);
	if (d->imm)
		op_imm32(a, X86_W, 0, RAX, (uint32_t)d->imm);
	x86_op(a, X86_W, 0x89, RAX, R9, false, 0); /* R9 = entry: (va >> 12) % 1024 * 16 */
	x86_op(a, X86_W, 0xc1, 5, R9, false, 0);
	x86_u8(a, 8);
	op_imm32(a, 0, 4, R9, (TLB_ENTRIES - 1) << 4);
	x86_op(a, X86_W, 0x01, R_TLB, R9, false, 0);
	x86_op(a, X86_W, 0x89, RAX, R8, false, 0); /* R8 = tag_of(va, size) */
	op_imm32(a, X86_W, 4, R8, (uint32_t)~(0xfffu & ~(size - 1)));
	x86_op(a, X86_W, 0x3b, R8, R9, true, table + (int32_t)offsetof(struct tlb_entry, tag));
	uint8_t *miss = x86_jump(a, CC_NE);
	x86_op(a, X86_W, 0x03, RAX, R9, true, table + (int32_t)offsetof(struct tlb_entry, addend));
	return miss;
}

/* How a translation ends or goes on after an instruction. */
enum emitted { GOES_ON, LEFT_BLOCK, NOT_TRANSLATED };

struct emit {
	struct x86 a;
	const struct block *b;
	const uint8_t *start; /* the first instruction's code (a loop's target) */
	struct {
		uint8_t *at;
		unsigned i;
	} miss[BLOCK_MAX_INSNS]; /* TLB misses, each resuming at its entry */
	unsigned nmiss;
};

/* The x86 operations of the register-register and register-immediate
 * ALU instructions that map onto one: opcode of `op rax, [mem]`, /ext of
 * `op rax, imm32`, and whether the result is sign-extended from 32 bits. */
struct alu {
	unsigned opcode, ext;
};
static const struct alu ALU_ADD = {0x03, 0}, ALU_OR = {0x0b, 1}, ALU_AND = {0x23, 4},
			ALU_SUB = {0x2b, 5}, ALU_XOR = {0x33, 6};

static void alu_rr(struct x86 *a, struct alu op, unsigned flags, const struct decoded_insn *d)
{
	get_x(a, flags, RAX, d->rs1);
	x86_op(a, flags, op.opcode, RAX, R_X, true, xoff(d->rs2));
	if (!(flags & X86_W))
		sext_w(a);
	set_x(a, RAX, d->rd);
}

static void alu_ri(struct x86 *a, struct alu op, unsigned flags, const struct decoded_insn *d)
{
	get_x(a, flags, RAX, d->rs1);
	op_imm32(a, flags, op.ext, RAX, (uint32_t)d->imm);
	if (!(flags & X86_W))
		sext_w(a);
	set_x(a, RAX, d->rd);
}

/* Shifts and rotates (group /ext): by rs2 (CL) or the immediate; the
 * 32-bit forms mask the count to 31 and are sign-extended, as RV64's W
 * forms want, the 64-bit ones to 63. */
static void shift(struct x86 *a, unsigned ext, unsigned flags, bool by_reg,
		  const struct decoded_insn *d)
{
	get_x(a, flags, RAX, d->rs1);
	if (by_reg) {
		get_x(a, 0, RCX, d->rs2);
		x86_op(a, flags, 0xd3, (int)ext, RAX, false, 0);
	} else {
		shift_imm(a, flags, ext, (unsigned)d->imm & ((flags & X86_W) ? 63 : 31));
	}
	if (!(flags & X86_W))
		sext_w(a);
	set_x(a, RAX, d->rd);
}

/* rd = (rs1 cmp rs2 or imm) ? 1 : 0 */
static void set_less(struct x86 *a, enum x86_cc cc, bool imm, const struct decoded_insn *d)
{
	get_x(a, X86_W, RAX, d->rs1);
	if (imm)
		op_imm32(a, X86_W, 7, RAX, (uint32_t)d->imm);
	else
		x86_op(a, X86_W, 0x3b, RAX, R_X, true, xoff(d->rs2));
	set_cc(a, cc);
	set_x(a, RAX, d->rd);
}

/* rd = rs1 unless (rs1 vs rs2 gives cc), then rs2: MIN, MAX and their
 * unsigned forms (CMOVcc) */
static void pick(struct x86 *a, enum x86_cc cc, const struct decoded_insn *d)
{
	get_x(a, X86_W, RAX, d->rs1);
	get_x(a, X86_W, RCX, d->rs2);
	x86_op(a, X86_W, 0x3b, RAX, RCX, false, 0);
	x86_op(a, X86_W, 0x0f40 | cc, RAX, RCX, false, 0);
	set_x(a, RAX, d->rd);
}

/* rd = (rs1 << k) + rs2, rs1 zero-extended from 32 bits for the _UW forms */
static void shadd(struct x86 *a, unsigned k, bool uw, const struct decoded_insn *d)
{
	get_x(a, uw ? 0 : X86_W, RAX, d->rs1);
	if (k)
		shift_imm(a, X86_W, 4, k);
	x86_op(a, X86_W, 0x03, RAX, R_X, true, xoff(d->rs2));
	set_x(a, RAX, d->rd);
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
	e->miss[e->nmiss].at = tlb_lookup(a, d, table, form[d->op].size);
	e->miss[e->nmiss++].i = i;
	if (store) {
		get_x(a, X86_W, RCX, d->rs2);
		x86_op(a, form[d->op].flags, form[d->op].opcode, RCX, RAX, true, 0);
	} else {
		x86_op(a, form[d->op].flags, form[d->op].opcode, RAX, RAX, true, 0);
		set_x(a, RAX, d->rd);
	}
}

/* A conditional branch at entry i, pcoff bytes into the block.  Taken
 * back to the block's start, it runs the block again while the steps
 * left cover it, as the interpreter's TAKEN does. */
static void branch(struct emit *e, enum x86_cc cc, unsigned i, unsigned pcoff,
		   const struct decoded_insn *d)
{
	struct x86 *a = &e->a;
	unsigned n = e->b->n;
	get_x(a, X86_W, RAX, d->rs1);
	x86_op(a, X86_W, 0x3b, RAX, R_X, true, xoff(d->rs2));
	uint8_t *not_taken = x86_jump(a, cc ^ 1); /* x86 pairs each condition with its negation */
	int64_t off = (int64_t)pcoff + d->imm;
	if (off == 0) {
		/* left += n - i - 1, then if left >= n: left -= n; so: */
		op_imm32(a, X86_W, 7, R_LEFT, i + 1);
		uint8_t *short_of_steps = x86_jump(a, CC_B);
		op_imm32(a, X86_W, 5, R_LEFT, i + 1);
		x86_land(a, x86_jump(a, -1), e->start);
		x86_land(a, short_of_steps, a->p);
	}
	pc_plus(a, off);
	leave(a, n - i - 1);
	x86_land(a, not_taken, a->p);
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
			x86_op(a, X86_W, 0xc7, 0, R_X, true, xoff(d->rd));
			x86_u32(a, (uint32_t)d->imm);
		}
		break;
	case OP_AUIPC:
		pc_plus(a, (int64_t)pcoff + d->imm);
		set_x(a, RAX, d->rd);
		break;
	case OP_JAL:
		pc_plus(a, (int64_t)pcoff + d->len);
		set_x(a, RAX, d->rd);
		pc_plus(a, (int64_t)pcoff + d->imm);
		leave(a, 0);
		return LEFT_BLOCK;
	case OP_JALR:
		get_x(a, X86_W, RCX, d->rs1); /* before rd is written: rd may be rs1 */
		pc_plus(a, (int64_t)pcoff + d->len);
		set_x(a, RAX, d->rd);
		x86_op(a, X86_W, 0x8d, RAX, RCX, true, d->imm); /* lea rax, [rcx + imm] */
		op_imm32(a, X86_W, 4, RAX, ~1u);
		leave(a, 0);
		return LEFT_BLOCK;
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
	case OP_ADDI: alu_ri(a, ALU_ADD, X86_W, d); break;
	case OP_XORI: alu_ri(a, ALU_XOR, X86_W, d); break;
	case OP_ORI: alu_ri(a, ALU_OR, X86_W, d); break;
	case OP_ANDI: alu_ri(a, ALU_AND, X86_W, d); break;
	case OP_ADDIW: alu_ri(a, ALU_ADD, 0, d); break;
	case OP_SLTI: set_less(a, CC_L, true, d); break;
	case OP_SLTIU: set_less(a, CC_B, true, d); break;
	case OP_SLT: set_less(a, CC_L, false, d); break;
	case OP_SLTU: set_less(a, CC_B, false, d); break;
	case OP_ADD: alu_rr(a, ALU_ADD, X86_W, d); break;
	case OP_SUB: alu_rr(a, ALU_SUB, X86_W, d); break;
	case OP_XOR: alu_rr(a, ALU_XOR, X86_W, d); break;
	case OP_OR: alu_rr(a, ALU_OR, X86_W, d); break;
	case OP_AND: alu_rr(a, ALU_AND, X86_W, d); break;
	case OP_ADDW: alu_rr(a, ALU_ADD, 0, d); break;
	case OP_SUBW: alu_rr(a, ALU_SUB, 0, d); break;
	/* shifts: /4 shl, /5 shr, /7 sar; rotates: /0 rol, /1 ror */
	case OP_SLLI: shift(a, 4, X86_W, false, d); break;
	case OP_SRLI: shift(a, 5, X86_W, false, d); break;
	case OP_SRAI: shift(a, 7, X86_W, false, d); break;
	case OP_SLLIW: shift(a, 4, 0, false, d); break;
	case OP_SRLIW: shift(a, 5, 0, false, d); break;
	case OP_SRAIW: shift(a, 7, 0, false, d); break;
	case OP_SLL: shift(a, 4, X86_W, true, d); break;
	case OP_SRL: shift(a, 5, X86_W, true, d); break;
	case OP_SRA: shift(a, 7, X86_W, true, d); break;
	case OP_SLLW: shift(a, 4, 0, true, d); break;
	case OP_SRLW: shift(a, 5, 0, true, d); break;
	case OP_SRAW: shift(a, 7, 0, true, d); break;
	case OP_ROL: shift(a, 0, X86_W, true, d); break;
	case OP_ROR: shift(a, 1, X86_W, true, d); break;
	case OP_RORI: shift(a, 1, X86_W, false, d); break;
	case OP_ROLW: shift(a, 0, 0, true, d); break;
	case OP_RORW: shift(a, 1, 0, true, d); break;
	case OP_RORIW: shift(a, 1, 0, false, d); break;
	case OP_MUL:
	case OP_MULW: {
		unsigned flags = d->op == OP_MUL ? X86_W : 0;
		get_x(a, flags, RAX, d->rs1);
		x86_op(a, flags, 0x0faf, RAX, R_X, true, xoff(d->rs2));
		if (!flags)
			sext_w(a);
		set_x(a, RAX, d->rd);
		break;
	}
	case OP_SH1ADD: shadd(a, 1, false, d); break;
	case OP_SH2ADD: shadd(a, 2, false, d); break;
	case OP_SH3ADD: shadd(a, 3, false, d); break;
	case OP_ADD_UW: shadd(a, 0, true, d); break;
	case OP_SH1ADD_UW: shadd(a, 1, true, d); break;
	case OP_SH2ADD_UW: shadd(a, 2, true, d); break;
	case OP_SH3ADD_UW: shadd(a, 3, true, d); break;
	case OP_MAX: pick(a, CC_L, d); break;
	case OP_MAXU: pick(a, CC_B, d); break;
	case OP_MIN: pick(a, CC_G, d); break;
	case OP_MINU: pick(a, CC_A, d); break;
	case OP_SEXT_B: x86_op(a, X86_W, 0x0fbe, RAX, R_X, true, xoff(d->rs1)); set_x(a, RAX, d->rd); break;
	case OP_SEXT_H: x86_op(a, X86_W, 0x0fbf, RAX, R_X, true, xoff(d->rs1)); set_x(a, RAX, d->rd); break;
	case OP_ZEXT_H: x86_op(a, 0, 0x0fb7, RAX, R_X, true, xoff(d->rs1)); set_x(a, RAX, d->rd); break;
	default:
		return NOT_TRANSLATED;
	}
	return GOES_ON;
}

/* The translation of b into a: false when not even its first
 * instruction is translated. */
static bool emit_block(struct emit *e)
{
	struct x86 *a = &e->a;
	const struct block *b = e->b;
	x86_op(a, X86_W, 0x89, RCX, R_LEFT, false, 0);
	x86_op(a, X86_W, 0x8b, R_TLB, RSI, true, (int32_t)offsetof(struct hart, data_tlb));
	e->start = a->p;
	enum emitted how = GOES_ON;
	unsigned i;
	for (i = 0; i < b->n && how == GOES_ON; i++) {
		const uint8_t *p = (const uint8_t *)b->hpc + b->insn[i].pcoff;
		uint16_t lo, hi = 0;
		memcpy(&lo, p, 2);
		if ((lo & 3) == 3)
			memcpy(&hi, p + 2, 2);
		struct decoded_insn d;
		decode_insn(lo | (uint32_t)hi << 16, &d);
		how = emit_insn(e, i, b->insn[i].pcoff, &d);
		if (how == NOT_TRANSLATED) {
			if (i == 0)
				return false;
			resume(a, i);
		}
	}
	if (how == GOES_ON) { /* the end entry: carry on at the next pc */
		pc_plus(a, b->bytes);
		leave(a, 0);
	}
	for (unsigned k = 0; k < e->nmiss; k++) {
		x86_land(a, e->miss[k].at, a->p);
		resume(a, e->miss[k].i);
	}
	return true;
}

static uint64_t now_ns(void)
{
	/* host time for the --stats report only; nothing the guest sees */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

enum jit_result jit_translate(struct jit *j, struct block *b)
{
	uint64_t t0 = now_ns();
	uint8_t buf[8192]; /* 29 instructions take at most about 2.5 KiB */
	struct emit e = {.a = {buf, buf, buf + sizeof(buf), false}, .b = b};
	if (!emit_block(&e) || e.a.full)
		return JIT_NOT_TRANSLATED;
	size_t len = (size_t)(e.a.p - buf), at = (j->used + 15) & ~(size_t)15;
	if (at + len > j->size) {
		j->stats.flushes++;
		return JIT_FULL;
	}
	memcpy(j->code_w + at, buf, len); /* relative jumps only: the code runs anywhere */
	j->used = at + len;
	b->jit = j->code + at;
	j->stats.blocks++;
	j->stats.code_bytes += len;
	j->stats.translate_ns += now_ns() - t0;
	return JIT_DONE;
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

/* Map the code cache twice (jit.h), shared memory both times.  Not
 * inherited by a fork()ed child (jit_after_fork). */
static int map_cache(struct jit *j)
{
	j->code_w = mmap(NULL, JIT_CACHE_BYTES, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (j->code_w == MAP_FAILED)
		return -1;
	j->code = second_mapping(&j->code_w);
	if (j->code == MAP_FAILED || mprotect(j->code, JIT_CACHE_BYTES, PROT_READ | PROT_EXEC)) {
		if (j->code != MAP_FAILED)
			munmap(j->code, JIT_CACHE_BYTES);
		munmap(j->code_w, JIT_CACHE_BYTES);
		return -1;
	}
	madvise(j->code_w, JIT_CACHE_BYTES, MADV_DONTFORK);
	madvise(j->code, JIT_CACHE_BYTES, MADV_DONTFORK);
	j->size = JIT_CACHE_BYTES;
	j->used = 0;
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
	return j;
}

int jit_after_fork(struct jit *j)
{
	return map_cache(j);
}

void jit_reset(struct jit *j)
{
	j->used = 0;
}

void jit_free(struct jit *j)
{
	if (!j)
		return;
	munmap(j->code, j->size);
	munmap(j->code_w, j->size);
	free(j);
}
