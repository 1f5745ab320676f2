/* The C side of keel's ISA test environment: trap records, CSR access,
 * case numbering, checks and privilege probes.  See README.md. */
#ifndef KEEL_ISA_CTEST_H
#define KEEL_ISA_CTEST_H

#include <stdint.h>
#include <stddef.h>

#include "encoding.h"

/* What the trap handler of one level (M or S) does and last saw.  The
 * layout is mirrored by the TL_* offsets in encoding.h. */
struct trap_level {
	uint64_t mode; /* TRAP_FATAL, TRAP_RESUME or TRAP_SKIP */
	uint64_t resume; /* TRAP_RESUME: where to continue, in this level's mode */
	uint64_t count; /* traps taken at this level so far */
	uint64_t cause, epc, tval, status; /* of the last one */
	uint64_t slot; /* vector slot it came through, or -1 (direct entry) */
	uint64_t priv; /* privilege it came from */
};

struct trap_frame {
	uint64_t x[32];
	uint64_t cause, epc, tval, status, slot, pad;
};

extern struct trap_level trap_m, trap_s;
/* Interrupt causes (without the top bit), in the order they were taken. */
#define IRQ_LOG_LEN 16
extern uint64_t irq_log[IRQ_LOG_LEN];
extern uint64_t irq_log_len;
extern uint64_t env_reset_mstatus;

#define csr_read(csr) ({ uint64_t v_; __asm__ volatile("csrr %0, " #csr : "=r"(v_)); v_; })
#define csr_write(csr, val) __asm__ volatile("csrw " #csr ", %0" ::"r"((uint64_t)(val)) : "memory")
#define csr_set(csr, val) __asm__ volatile("csrs " #csr ", %0" ::"r"((uint64_t)(val)) : "memory")
#define csr_clear(csr, val) __asm__ volatile("csrc " #csr ", %0" ::"r"((uint64_t)(val)) : "memory")

/* The case number lives in gp, as in the assembly tests, so that a trap
 * anywhere reports the case it happened in. */
static inline void set_case(uint64_t n)
{
	__asm__ volatile("mv gp, %0" ::"r"(n));
}

static inline void fence_i(void)
{
	__asm__ volatile("fence.i" ::: "memory");
}

static inline void sfence_vma(void)
{
	__asm__ volatile("sfence.vma" ::: "memory");
}

/* Report and stop. */
__attribute__((noreturn)) void fail_now(void);
__attribute__((noreturn)) void fail_values(uint64_t got, uint64_t expected);

#define CHECK_EQ(got, expected)                                         \
	do {                                                            \
		uint64_t g_ = (uint64_t)(got), e_ = (uint64_t)(expected); \
		if (g_ != e_)                                           \
			fail_values(g_, e_);                            \
	} while (0)

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

/* --- probes (crt.S) --- */
extern uint64_t probe_value;
long probe_run(long priv, const void *stub, uint64_t a1, uint64_t a2, uint64_t a3);
extern const char stub_lb[], stub_lbu[], stub_lh[], stub_lw[], stub_ld[];
extern const char stub_sb[], stub_sw[], stub_sd[], stub_amoadd_d[], stub_lr_d[];
extern const char stub_jump[], stub_mprv_ld[], stub_mprv_sd[], stub_nop[];

/* Where U-mode finds the stubs: the address of the code plus this offset.
 * Translation-on tests that map the image a second time with U=1 set it. */
extern uint64_t probe_u_offset;

static inline uint64_t ecall_cause(long priv)
{
	return priv == PRIV_U ? CAUSE_ECALL_U : priv == PRIV_S ? CAUSE_ECALL_S : CAUSE_ECALL_M;
}

/* Each returns NO_TRAP when the access completed, else the exception cause
 * (trap_m has the details, probe_value the loaded value). */
long probe(long priv, const char *stub, uint64_t addr, uint64_t val);
static inline long probe_ld(long priv, uint64_t addr)
{
	return probe(priv, stub_ld, addr, 0);
}
static inline long probe_sd(long priv, uint64_t addr, uint64_t val)
{
	return probe(priv, stub_sd, addr, val);
}
/* Jump to addr at priv; the code there must end with ecall. */
static inline long probe_exec(long priv, uint64_t addr)
{
	return probe(priv, stub_jump, addr, 0);
}
/* M-mode load/store with MPRV=1 and MPP=mpp. */
long probe_mprv_ld(long mpp, uint64_t addr);
long probe_mprv_sd(long mpp, uint64_t addr, uint64_t val);

/* Check that the last probe faulted with `cause` and tval `tval`. */
void check_fault(long result, long cause, uint64_t tval);
void check_no_trap(long result);

/* For a whole function written in top-level asm that uses s0-s11 freely
 * (the JIT tests' loops, which want many registers live at once): the
 * prologue that saves them, and the epilogue that restores them and
 * returns. */
#define ASM_SAVE_S                                                                              \
	"addi sp,sp,-96\nsd s0,0(sp)\nsd s1,8(sp)\nsd s2,16(sp)\nsd s3,24(sp)\nsd s4,32(sp)\n"      \
	"sd s5,40(sp)\nsd s6,48(sp)\nsd s7,56(sp)\nsd s8,64(sp)\nsd s9,72(sp)\nsd s10,80(sp)\n"    \
	"sd s11,88(sp)\n"
#define ASM_RESTORE_S_RET                                                                       \
	"ld s0,0(sp)\nld s1,8(sp)\nld s2,16(sp)\nld s3,24(sp)\nld s4,32(sp)\nld s5,40(sp)\n"        \
	"ld s6,48(sp)\nld s7,56(sp)\nld s8,64(sp)\nld s9,72(sp)\nld s10,80(sp)\nld s11,88(sp)\n"   \
	"addi sp,sp,96\nret\n"

#endif
