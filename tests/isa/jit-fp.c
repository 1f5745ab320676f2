/* The F and D instructions keel's JIT translates (src/cpu/jit_fp.c), over
 * special operands, so that translated code can be compared with the
 * plain interpreter: run with --jit on --jit-threshold 0 (every block
 * translated at its first entry), with the default tiers and with
 * --no-decode-cache, each must reach the same checksums, which the plain
 * interpreter produced (the EXPECTED table).
 *
 * Each kernel is one straight-line block: three FLDs (raw 64-bit
 * patterns, so singles may be improperly NaN-boxed), one to six FP
 * instructions each storing its result, then FRFLAGS, which the JIT
 * leaves to the interpreter: so the instructions run translated, with
 * MXCSR switched from the host's and between rounding modes inside the
 * translation, and the flags they accrued are read once at the end.  The
 * driver runs each kernel for every operand combination with frm = RNE,
 * RTZ, RDN, RUP and RMM (the last resumes the interpreter for the dynamic
 * instructions, the conversions to integers included, at the block's
 * start or where MXCSR is loaded inside it) and hashes the results and
 * fflags of each kernel.  A last case runs translated FP instructions with
 * mstatus.FS off: each must raise the illegal instruction, as must the
 * dynamic-rounding ones with a reserved frm; and one with FS clean must
 * leave FS dirty. */
#include "ctest.h"

struct io {
	uint64_t a, b, c; /* f0, f1, f2 */
	uint64_t r[6]; /* the results */
	uint64_t flags; /* fflags after the kernel */
	uint64_t xin; /* t1, the integer source */
};

#define LOADS "fld f0,0(a0)\nfld f1,8(a0)\nfld f2,16(a0)\nld t1,80(a0)\n"
#define END "frflags t0\nsd t0,72(a0)\nret\n"
#define KERNEL(name, body)                                                            \
	__asm__(".text\n.balign 4\n.globl " #name "\n" #name ":\n" LOADS body END); \
	void name(struct io *)

/* f3 = op(args, rm) into r[k] */
#define F(op, args, rm, k) op " f3," args "," rm "\nfsd f3," #k "*8+24(a0)\n"
/* every static rounding mode, dyn, then RMM (which ends the translation) */
#define RMS(op, args) \
	F(op, args, "rne", 0) F(op, args, "rtz", 1) F(op, args, "rdn", 2) \
	F(op, args, "rup", 3) F(op, args, "dyn", 4) F(op, args, "rmm", 5)
#define ONE(op, args, k) F(op, args, "dyn", k)
/* t2 = op(f0, rm) into r[k], for the conversions to integers */
#define FX(op, rm, k) op " t2,f0," rm "\nsd t2," #k "*8+24(a0)\n"
#define RMSX(op) \
	FX(op, "rne", 0) FX(op, "rtz", 1) FX(op, "rdn", 2) FX(op, "rup", 3) FX(op, "dyn", 4) \
	FX(op, "rmm", 5)
/* Every conversion to an integer with the dynamic mode after an RTZ
 * addition (which raises nothing here: f1 is 0, or for S improperly
 * boxed, a quiet NaN), so that the translation loads frm's mode into
 * MXCSR at the first one, where RMM and a reserved frm resume the
 * interpreter; then a static one under that MXCSR.  (In RMSX the dynamic
 * one is the only one that loads MXCSR: there the block's start does.) */
#define DYNX(t) \
	"fadd." #t " f3,f1,f1,rtz\nfsd f3,24(a0)\n" FX("fcvt.w." #t, "dyn", 1) \
	FX("fcvt.wu." #t, "dyn", 2) FX("fcvt.l." #t, "dyn", 3) FX("fcvt.lu." #t, "dyn", 4) \
	FX("fcvt.w." #t, "rup", 5)
/* The same by encoding (.insn r OP-FP, rm, funct7, rd, rs1, rs2): the
 * assembler takes no rounding mode for conversions that never round */
#define FI(f7, src, rs2, rm, k) ".insn r 0x53," #rm "," #f7 ",f3," src "," rs2 "\nfsd f3," #k "*8+24(a0)\n"
#define RMSI(f7, src, rs2) \
	FI(f7, src, rs2, 0, 0) FI(f7, src, rs2, 1, 1) FI(f7, src, rs2, 2, 2) \
	FI(f7, src, rs2, 3, 3) FI(f7, src, rs2, 7, 4) FI(f7, src, rs2, 4, 5)
/* FCVT.S.D, .S.W, .S.WU, .D.S, .D.W, .D.WU and the FCVT of k_one_* */
#define CVT_s RMS("fcvt.s.d", "f0")
#define W_s RMS("fcvt.s.w", "t1")
#define WU_s RMS("fcvt.s.wu", "t1")
#define ONECVT_s FI(0x21, "f0", "x0", 7, 5)
#define CVT_d RMSI(0x21, "f0", "x0")
#define W_d RMSI(0x69, "t1", "x0")
#define WU_d RMSI(0x69, "t1", "x1")
#define ONECVT_d ONE("fcvt.s.d", "f0", 5)

#define FMT_KERNELS(t, o)                                                                     \
	KERNEL(k_add_##t, RMS("fadd." #t, "f0,f1"));                                          \
	KERNEL(k_sub_##t, RMS("fsub." #t, "f0,f1"));                                          \
	KERNEL(k_mul_##t, RMS("fmul." #t, "f0,f1"));                                          \
	KERNEL(k_div_##t, RMS("fdiv." #t, "f0,f1"));                                          \
	KERNEL(k_sqrt_##t, RMS("fsqrt." #t, "f0"));                                           \
	KERNEL(k_madd_##t, RMS("fmadd." #t, "f0,f1,f2"));                                     \
	KERNEL(k_msub_##t, RMS("fmsub." #t, "f0,f1,f2"));                                     \
	KERNEL(k_nmadd_##t, RMS("fnmadd." #t, "f0,f1,f2"));                                   \
	KERNEL(k_nmsub_##t, RMS("fnmsub." #t, "f0,f1,f2"));                                   \
	KERNEL(k_cvt_##t, CVT_##t);                                                           \
	KERNEL(k_w_##t, W_##t);                                                               \
	KERNEL(k_wu_##t, WU_##t);                                                             \
	KERNEL(k_l_##t, RMS("fcvt." #t ".l", "t1"));                                          \
	KERNEL(k_lu_##t, RMS("fcvt." #t ".lu", "t1"));                                        \
	KERNEL(k_one_##t, ONE("fadd." #t, "f0,f1", 0) ONE("fmul." #t, "f1,f0", 1)            \
			  ONE("fdiv." #t, "f0,f1", 2) ONE("fsqrt." #t, "f1", 3)               \
			  ONE("fnmsub." #t, "f0,f1,f2", 4) ONECVT_##t);        \
	KERNEL(k_sgnj_##t, "fsgnj." #t " f3,f0,f1\nfsd f3,24(a0)\n"                           \
			   "fsgnjn." #t " f3,f0,f1\nfsd f3,32(a0)\n"                          \
			   "fsgnjx." #t " f3,f0,f1\nfsd f3,40(a0)\n"                          \
			   "fmv." #t " f3,f0\nfsd f3,48(a0)\n"                                \
			   "fneg." #t " f3,f0\nfsd f3,56(a0)\n"                               \
			   "fabs." #t " f3,f0\nfsd f3,64(a0)\n");                             \
	KERNEL(k_minmax_##t, "fmin." #t " f3,f0,f1\nfsd f3,24(a0)\n"                          \
			     "fmax." #t " f3,f0,f1\nfsd f3,32(a0)\n"                        \
			     "fmin." #t " f3,f0,f0\nfsd f3,40(a0)\n");                      \
	KERNEL(k_cmp_##t, "feq." #t " t2,f0,f1\nsd t2,24(a0)\n"                               \
			  "flt." #t " t2,f0,f1\nsd t2,32(a0)\n"                               \
			  "fle." #t " t2,f0,f1\nsd t2,40(a0)\n"                               \
			  "fle." #t " t2,f1,f0\nsd t2,48(a0)\n");                             \
	KERNEL(k_lt_##t, "flt." #t " t2,f0,f1\nsd t2,24(a0)\n");                              \
	KERNEL(k_min_##t, "fmin." #t " f3,f1,f0\nfsd f3,24(a0)\n");                            \
	KERNEL(k_fma_##t, ONE("fmadd." #t, "f0,f1,f2", 0));                                   \
	KERNEL(k_fw_##t, RMSX("fcvt.w." #t));                                                 \
	KERNEL(k_fwu_##t, RMSX("fcvt.wu." #t));                                               \
	KERNEL(k_fl_##t, RMSX("fcvt.l." #t));                                                 \
	KERNEL(k_flu_##t, RMSX("fcvt.lu." #t));                                               \
	KERNEL(k_fx1_##t, FX("fcvt.l." #t, "rdn", 0));                                       \
	KERNEL(k_class_##t, "fclass." #t " t2,f0\nsd t2,24(a0)\n");                           \
	KERNEL(k_dynx_##t, DYNX(t));

FMT_KERNELS(s, d)
FMT_KERNELS(d, s)

/* A loop inside one translation with rounding modes mixed */
KERNEL(k_loop, "li t2,5\n1:\nfadd.d f0,f0,f1,dyn\nfmul.d f0,f0,f2,rtz\nfdiv.d f3,f1,f0,rup\n"
	       "addi t2,t2,-1\nbnez t2,1b\nfsd f0,24(a0)\nfsd f3,32(a0)\n");

KERNEL(k_mv, "fmv.x.w t2,f0\nsd t2,24(a0)\nfmv.x.d t2,f0\nsd t2,32(a0)\n"
	     "fmv.w.x f3,t1\nfsd f3,40(a0)\nfmv.d.x f3,t1\nfsd f3,48(a0)\n");

/* mstatus.FS off: every FP instruction here is illegal (after four
 * integer ones, so that the JIT translates the block) */
__asm__(".text\n.balign 4\n.globl k_fs_off\nk_fs_off:\n"
	"addi t1,zero,1\naddi t1,t1,1\naddi t1,t1,1\naddi t1,t1,1\n"
	"fadd.d f3,f0,f1\nfmv.x.d t2,f3\nfsgnj.d f3,f0,f1\nfcvt.d.l f3,t1\n"
	"fmadd.d f3,f0,f1,f2\nfeq.d t2,f0,f1\nret\n");
void k_fs_off(void);

/* FS clean: FMV.X.D, which writes no f register, still marks it dirty */
__asm__(".text\n.balign 4\n.globl k_fs_dirty\nk_fs_dirty:\n"
	"addi t1,zero,1\naddi t1,t1,1\naddi t1,t1,1\naddi t1,t1,1\n"
	"fmv.x.d t2,f0\nret\n");
void k_fs_dirty(void);

enum operands { TWO, THREE, INT, ONE_OP, TO_INT };

struct kernel {
	void (*run)(struct io *);
	enum operands ops;
	char fmt; /* 's' or 'd': which values (cvt's source is the other format) */
};

#define FMT_TABLE(t, tc, oc)                                                                      \
	{ k_add_##t, TWO, tc }, { k_sub_##t, TWO, tc }, { k_mul_##t, TWO, tc },       \
	{ k_div_##t, TWO, tc }, { k_sqrt_##t, ONE_OP, tc },                              \
	{ k_madd_##t, THREE, tc }, { k_msub_##t, THREE, tc },                            \
	{ k_nmadd_##t, THREE, tc }, { k_nmsub_##t, THREE, tc },                          \
	{ k_cvt_##t, ONE_OP, oc }, { k_w_##t, INT, tc }, { k_wu_##t, INT, tc },       \
	{ k_l_##t, INT, tc }, { k_lu_##t, INT, tc }, { k_one_##t, THREE, tc },        \
	{ k_sgnj_##t, TWO, tc }, { k_minmax_##t, TWO, tc }, { k_cmp_##t, TWO, tc },   \
	{ k_lt_##t, TWO, tc }, { k_min_##t, TWO, tc }, { k_fma_##t, THREE, tc },              \
	{ k_fw_##t, TO_INT, tc }, { k_fwu_##t, TO_INT, tc }, { k_fl_##t, TO_INT, tc },        \
	{ k_flu_##t, TO_INT, tc }, { k_fx1_##t, TO_INT, tc }, { k_class_##t, TO_INT, tc },    \
	{ k_dynx_##t, TO_INT, tc }

static const struct kernel kernels[] = {
	FMT_TABLE(s, 's', 'd'), FMT_TABLE(d, 'd', 's'), { k_mv, INT, 'd' }, { k_loop, THREE, 'd' },
};
#define NKERNELS (sizeof(kernels) / sizeof(kernels[0]))

#define BOX 0xffffffff00000000ull
/* Singles: NaN-boxed zeros, ones, subnormals, the normal and finite
 * extremes, infinities, quiet and signalling NaNs (with payloads), values
 * whose sums, products and quotients round, and improperly boxed ones */
static const uint64_t values_s[] = {
	BOX | 0x00000000, BOX | 0x80000000, BOX | 0x3f800000, BOX | 0xbfc00000,
	BOX | 0x00000001, BOX | 0x807fffff, BOX | 0x00800000, BOX | 0x7f7fffff,
	BOX | 0xff7fffff, BOX | 0x7f800000, BOX | 0xff800000, BOX | 0x7fc00000,
	BOX | 0xffc12345, BOX | 0x7f800001, BOX | 0xffa00000, BOX | 0x3eaaaaab,
	BOX | 0x4b800001, BOX | 0x1f800000, 0x000000003f800000ull, 0xfffffffe7f800000ull,
};
static const uint64_t values_d[] = {
	0x0000000000000000, 0x8000000000000000, 0x3ff0000000000000, 0xbff8000000000000,
	0x0000000000000001, 0x800fffffffffffff, 0x0010000000000000, 0x7fefffffffffffff,
	0xffefffffffffffff, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000,
	0xfff8000000012345, 0x7ff0000000000001, 0xfff4000000000000, 0x3fd5555555555555,
	0x4340000000000001, 0x1ff0000000000000, 0x36a0000000000000, 0xc7efffffe0000000,
};
#define NVALUES (sizeof(values_d) / sizeof(values_d[0]))
/* For the conversions to integers besides those: ties, values just
 * inside and outside each integer type's range, tiny ones */
static const uint64_t to_int_s[] = {
	BOX | 0x3f000000, BOX | 0xbf000000, BOX | 0x3fc00000, BOX | 0x40200000, BOX | 0xc0200000,
	BOX | 0xbe99999a, BOX | 0x3f333333, BOX | 0x4f000000, BOX | 0xcf000000, BOX | 0x4effffff,
	BOX | 0x4f800000, BOX | 0x4f7fffff, BOX | 0x5f000000, BOX | 0xdf000000, BOX | 0x5effffff,
	BOX | 0x5f800000, BOX | 0x501502f9, BOX | 0xd01502f9, BOX | 0xbf800000, BOX | 0x40400000,
	BOX | 0x0da24260, BOX | 0x8da24260, BOX | 0x4affffff, BOX | 0x4b7fffff,
};
static const uint64_t to_int_d[] = {
	0x3fe0000000000000, 0xbfe0000000000000, 0x3ff8000000000000, 0x4004000000000000,
	0xc004000000000000, 0xbfd3333333333333, 0x3fe6666666666666, 0x41dfffffffe00000,
	0x41dfffffffc00000, 0x41e0000000000000, 0xc1e0000000000000, 0xc1e0000000100000,
	0xc1e0000000200000, 0x41effffffff00000, 0x41f0000000000000, 0x41f0000000080000,
	0x4330000000000000, 0x43dfffffffffffff, 0x43e0000000000000, 0xc3e0000000000000,
	0xc3e0000000000001, 0x43f0000000000000, 0x4202a05f20000000, 0xc202a05f20000000,
	0xbff0000000000000, 0x4008000000000000, 0x01a56e1fc2f8f359, 0x81a56e1fc2f8f359,
};

/* FMA operands: a subset, all three ways */
static const uint8_t fma_pick[] = { 0, 1, 2, 4, 7, 9, 11, 13, 15, 18 };
#define NFMA (sizeof(fma_pick) / sizeof(fma_pick[0]))

static const uint64_t ints[] = {
	0, 1, 0xffffffffffffffff, 1u << 24, (1u << 24) + 1, 0x7fffffff, 0xffffffff80000000,
	0x00000000ffffffff, (1ull << 53) + 1, 1ull << 53, 0x8000000000000000, 0x7fffffffffffffff,
	0xfffffffffeffffff, 0x0000000087654321, 0xffffffff7fffffff, 12345,
};
#define NINTS (sizeof(ints) / sizeof(ints[0]))

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x100000001b3ull;
	return h ^ (h >> 29);
}

/* One call for every frm that is not reserved */
static uint64_t call(const struct kernel *k, struct io *io, uint64_t h)
{
	for (uint64_t frm = 0; frm <= 4; frm++) {
		for (int i = 0; i < 6; i++)
			io->r[i] = 0x5555;
		csr_write(frm, frm);
		csr_write(fflags, 0);
		k->run(io);
		for (int i = 0; i < 6; i++)
			h = mix(h, io->r[i]);
		h = mix(h, io->flags);
	}
	return h;
}

static uint64_t run_kernel(const struct kernel *k)
{
	const uint64_t *v = k->fmt == 's' ? values_s : values_d;
	struct io io = { 0 };
	uint64_t h = 0xcbf29ce484222325ull;

	switch (k->ops) {
	case ONE_OP:
		for (unsigned i = 0; i < NVALUES; i++) {
			io.a = v[i];
			h = call(k, &io, h);
		}
		break;
	case TWO:
		for (unsigned i = 0; i < NVALUES; i++)
			for (unsigned j = 0; j < NVALUES; j++) {
				io.a = v[i];
				io.b = v[j];
				h = call(k, &io, h);
			}
		break;
	case THREE:
		for (unsigned i = 0; i < NFMA; i++)
			for (unsigned j = 0; j < NFMA; j++)
				for (unsigned l = 0; l < NFMA; l++) {
					io.a = v[fma_pick[i]];
					io.b = v[fma_pick[j]];
					io.c = v[fma_pick[l]];
					h = call(k, &io, h);
				}
		break;
	case TO_INT: {
		const uint64_t *t = k->fmt == 's' ? to_int_s : to_int_d;
		unsigned nt = k->fmt == 's' ? sizeof(to_int_s) / 8 : sizeof(to_int_d) / 8;
		for (unsigned i = 0; i < NVALUES + nt; i++) {
			io.a = i < NVALUES ? v[i] : t[i - NVALUES];
			h = call(k, &io, h);
		}
		break;
	}
	case INT:
		for (unsigned i = 0; i < NINTS; i++) {
			io.xin = ints[i];
			io.a = v[i];
			h = call(k, &io, h);
		}
		break;
	}
	return h;
}

/* The plain interpreter's checksums (keel run --no-decode-cache) */
static const uint64_t expected[NKERNELS] = {
0x7e40cf2fe8e61bf7,
	0xfe0cb65b63d836de,
	0xe4cc5515a90145b2,
	0x27c4c37041d1afc9,
	0x123d8dc4393cdc3b,
	0x8d5bdf06c231d310,
	0xbdcf1429488f199f,
	0x061330f4cffaf80b,
	0x07d8e6a7b79325b0,
	0x3d8c3786565bbc24,
	0xbc2e1167a5055eeb,
	0x5ed77cc10984a466,
	0x80d5496a66f4be26,
	0x80ac1fcea6591348,
	0x0b01021546092e61,
	0x58f632dbffb036dc,
	0xaadff4e37358d3db,
	0x2f11d3013a08cc21,
	0xc3d8704502d6a1ca,
	0x00ab475aaeb3c661,
	0xb682632d7615a8f6,
	0x1481e52bf3992ef9,
	0x1062f21d7f781b69,
	0x52e415cb215e966b,
	0x3e98816d0adb0156,
	0x4db1d88fee6ae1b7,
	0x6312c6bb609be3fe,
	0xcd506d2bf259ed42,
	0x5d1b2a1f3afcd88c,
	0x288dbe9f96a4cd24,
	0x70c1330d1861acf4,
	0x179287ac69e7e4af,
	0xc5f2444c9b49620c,
	0x893783e77b1e3c16,
	0x5c7616e65c5dcb90,
	0xc2d2f7ead1464296,
	0xf02b5951c065c721,
	0xb743d025f87b1041,
	0x96a1f99fc5c69faa,
	0x36e80bf0fd101bb8,
	0xf18b0d309e59c06f,
	0xaddadd7560f80519,
	0x6df2d6394cf18e5a,
	0xe68db7833423b118,
	0xbf3db2bdf13dc54b,
	0x0c3130c751da07c6,
	0x322c4d27e6430aac,
	0xc58bdbfce23c31b4,
	0x4803739c6ac8e7ca,
	0x84a8a94081ffb65d,
	0x21a138417cf5e49b,
	0xd4658571aa39be7e,
	0xb2ae6a7a5e2c8b8e,
	0xbee36c09e03c609b,
	0x5364f598824f1ea1,
	0x01f6792248ea0374,
	0x79acbdba451fbaa0,
	0xd8900193755fad9e,
};

int test_main(void)
{
	for (unsigned k = 0; k < NKERNELS; k++) {
		set_case(k + 1);
		CHECK_EQ(run_kernel(&kernels[k]), expected[k]);
	}

	set_case(NKERNELS + 1);
	uint64_t before = trap_m.count;
	trap_m.mode = TRAP_SKIP;
	csr_clear(mstatus, MSTATUS_FS);
	k_fs_off();
	trap_m.mode = TRAP_FATAL;
	CHECK_EQ(trap_m.count - before, 6);
	CHECK_EQ(trap_m.cause, 2);
	/* a reserved frm: every dynamic-rounding instruction is illegal */
	set_case(NKERNELS + 2);
	csr_set(mstatus, MSTATUS_FS_INITIAL);
	before = trap_m.count;
	/* 1.5: no NaN check resumes the conversions first */
	struct io io = { .a = 0x3ff8000000000000 }, io_s = { .a = BOX | 0x3fc00000 };
	trap_m.mode = TRAP_SKIP;
	for (uint64_t frm = 5; frm <= 7; frm++) {
		csr_write(frm, frm);
		k_one_d(&io);
		k_w_s(&io);
		k_fw_d(&io);
		k_dynx_s(&io_s);
		k_dynx_d(&io);
	}
	trap_m.mode = TRAP_FATAL;
	csr_write(frm, 0);
	CHECK_EQ(trap_m.count - before, 3 * (6 + 1 + 1 + 4 + 4));
	CHECK_EQ(trap_m.cause, 2);

	set_case(NKERNELS + 3);
	csr_set(mstatus, MSTATUS_FS_CLEAN);
	k_fs_dirty();
	CHECK_EQ(csr_read(mstatus) & MSTATUS_FS, MSTATUS_FS);
	return 0;
}
