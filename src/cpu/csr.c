/* Control and status registers.
 *
 * csr_get/csr_set know what each CSR holds (WARL masks, views such as
 * sstatus over mstatus); csr_read/csr_write add the access rules of a CSR
 * instruction (privilege, read-only, TVM, counter enables, FS). */
#include <string.h>

#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "lib/vclock.h"

enum {
	CSR_FFLAGS = 0x001, CSR_FRM = 0x002, CSR_FCSR = 0x003,
	CSR_SSTATUS = 0x100, CSR_SIE = 0x104, CSR_STVEC = 0x105, CSR_SCOUNTEREN = 0x106,
	CSR_SENVCFG = 0x10a, CSR_SSCRATCH = 0x140, CSR_SEPC = 0x141, CSR_SCAUSE = 0x142,
	CSR_STVAL = 0x143, CSR_SIP = 0x144, CSR_STIMECMP = 0x14d, CSR_SATP = 0x180,
	CSR_MSTATUS = 0x300, CSR_MISA = 0x301, CSR_MEDELEG = 0x302, CSR_MIDELEG = 0x303,
	CSR_MIE = 0x304, CSR_MTVEC = 0x305, CSR_MCOUNTEREN = 0x306, CSR_MENVCFG = 0x30a,
	CSR_MCOUNTINHIBIT = 0x320, CSR_MHPMEVENT3 = 0x323, CSR_MHPMEVENT31 = 0x33f,
	CSR_MSCRATCH = 0x340, CSR_MEPC = 0x341, CSR_MCAUSE = 0x342, CSR_MTVAL = 0x343,
	CSR_MIP = 0x344, CSR_PMPCFG0 = 0x3a0, CSR_PMPCFG15 = 0x3af, CSR_PMPADDR0 = 0x3b0,
	CSR_PMPADDR63 = 0x3ef,
	CSR_TSELECT = 0x7a0, CSR_TDATA1 = 0x7a1, CSR_TDATA3 = 0x7a3,
	CSR_MCYCLE = 0xb00, CSR_MINSTRET = 0xb02, CSR_MHPMCOUNTER3 = 0xb03,
	CSR_MHPMCOUNTER31 = 0xb1f,
	CSR_CYCLE = 0xc00, CSR_TIME = 0xc01, CSR_INSTRET = 0xc02, CSR_HPMCOUNTER3 = 0xc03,
	CSR_HPMCOUNTER31 = 0xc1f,
	CSR_MVENDORID = 0xf11, CSR_MARCHID = 0xf12, CSR_MIMPID = 0xf13, CSR_MHARTID = 0xf14,
	CSR_MCONFIGPTR = 0xf15,
};

#define SSTATUS_MASK                                                                          \
	(MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_UBE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_XS |   \
	 (3ULL << MSTATUS_VS_SHIFT) | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_UXL | MSTATUS_SD)
/* What software may change in mstatus; the rest is read-only. */
#define MSTATUS_WRITABLE                                                                      \
	(MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP | \
	 MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW |    \
	 MSTATUS_TSR)

#define S_INTERRUPTS ((1ULL << IRQ_SSI) | (1ULL << IRQ_STI) | (1ULL << IRQ_SEI))
#define ALL_INTERRUPTS (S_INTERRUPTS | (1ULL << IRQ_MSI) | (1ULL << IRQ_MTI) | (1ULL << IRQ_MEI))
/* Exceptions S-mode may handle; ecall from M (11) cannot be delegated. */
#define DELEGABLE_EXCEPTIONS 0xb3ffULL
/* What menvcfg and senvcfg hold.  CBIE's reserved value 10 reads as 00. */
#define SENVCFG_WRITABLE (ENVCFG_FIOM | ENVCFG_CBIE | ENVCFG_CBCFE | ENVCFG_CBZE)
#define MENVCFG_WRITABLE (SENVCFG_WRITABLE | ENVCFG_PBMTE | ENVCFG_STCE)
#define PMPADDR_MASK ((1ULL << 54) - 1)
#define SATP_PPN_MASK ((1ULL << 44) - 1)
#define SATP_ASID_MASK (0xffffULL << 44)

#define PMP_L 0x80
#define PMP_A 0x18
#define PMP_A_TOR 0x08

/* The instruction count of the instruction executing now (exec.c keeps
 * h->icount current before any CSR access). */
static uint64_t counter_now(const struct hart *h)
{
	return h->icount;
}

static uint64_t read_mstatus(const struct hart *h)
{
	uint64_t s = h->mstatus;
	if (((s & MSTATUS_FS) >> MSTATUS_FS_SHIFT) == FS_DIRTY)
		s |= MSTATUS_SD;
	return s;
}

static uint64_t read_time(const struct hart *h)
{
	return hart_mtime(h);
}

static int get_pmpcfg(const struct hart *h, uint32_t csr, uint64_t *val)
{
	unsigned n = csr - CSR_PMPCFG0;
	if (n & 1)
		return -1; /* odd pmpcfg registers do not exist on RV64 */
	uint64_t v = 0;
	for (unsigned i = 0; i < 8 && n * 4 + i < PMP_ENTRIES; i++)
		v |= (uint64_t)h->pmpcfg[n * 4 + i] << (8 * i);
	*val = v;
	return 0;
}

static int csr_get(const struct hart *h, uint32_t csr, uint64_t *val)
{
	switch (csr) {
	case CSR_FFLAGS: *val = h->fflags; return 0;
	case CSR_FRM: *val = h->frm; return 0;
	case CSR_FCSR: *val = (uint64_t)h->frm << 5 | h->fflags; return 0;
	case CSR_SSTATUS: *val = read_mstatus(h) & SSTATUS_MASK; return 0;
	case CSR_SIE: *val = h->mie & h->mideleg; return 0;
	case CSR_STVEC: *val = h->stvec; return 0;
	case CSR_SCOUNTEREN: *val = h->scounteren; return 0;
	case CSR_SENVCFG: *val = h->senvcfg; return 0;
	case CSR_SSCRATCH: *val = h->sscratch; return 0;
	case CSR_SEPC: *val = h->sepc; return 0;
	case CSR_SCAUSE: *val = h->scause; return 0;
	case CSR_STVAL: *val = h->stval; return 0;
	case CSR_SIP: *val = (h->mip | h->mip_hw) & h->mideleg; return 0;
	case CSR_SATP: *val = h->satp; return 0;
	case CSR_STIMECMP: *val = h->stimecmp; return 0;
	case CSR_MSTATUS: *val = read_mstatus(h); return 0;
	case CSR_MISA: *val = h->misa; return 0;
	case CSR_MEDELEG: *val = h->medeleg; return 0;
	case CSR_MIDELEG: *val = h->mideleg; return 0;
	case CSR_MIE: *val = h->mie; return 0;
	case CSR_MTVEC: *val = h->mtvec; return 0;
	case CSR_MCOUNTEREN: *val = h->mcounteren; return 0;
	case CSR_MENVCFG: *val = h->menvcfg; return 0;
	case CSR_MCOUNTINHIBIT: *val = 0; return 0;
	case CSR_MSCRATCH: *val = h->mscratch; return 0;
	case CSR_MEPC: *val = h->mepc; return 0;
	case CSR_MCAUSE: *val = h->mcause; return 0;
	case CSR_MTVAL: *val = h->mtval; return 0;
	case CSR_MIP: *val = h->mip | h->mip_hw; return 0;
	case CSR_TSELECT:
	case CSR_TDATA1 ... CSR_TDATA3: *val = 0; return 0; /* no triggers */
	case CSR_MCYCLE:
	case CSR_CYCLE: *val = counter_now(h) + (uint64_t)h->mcycle_offset; return 0;
	case CSR_MINSTRET:
	case CSR_INSTRET: *val = counter_now(h) + (uint64_t)h->minstret_offset; return 0;
	case CSR_TIME: *val = read_time(h); return 0;
	case CSR_MVENDORID:
	case CSR_MARCHID:
	case CSR_MIMPID:
	case CSR_MCONFIGPTR: *val = 0; return 0;
	case CSR_MHARTID: *val = h->mhartid; return 0;
	}
	if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15)
		return get_pmpcfg(h, csr, val);
	if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) {
		unsigned i = csr - CSR_PMPADDR0;
		*val = i < PMP_ENTRIES ? h->pmpaddr[i] : 0;
		return 0;
	}
	if ((csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31) ||
	    (csr >= CSR_MHPMCOUNTER3 && csr <= CSR_MHPMCOUNTER31) ||
	    (csr >= CSR_HPMCOUNTER3 && csr <= CSR_HPMCOUNTER31)) {
		*val = 0; /* no hardware performance monitors: read-only zero */
		return 0;
	}
	return -1;
}

static void set_pmpcfg(struct hart *h, uint32_t csr, uint64_t val)
{
	unsigned n = csr - CSR_PMPCFG0;
	for (unsigned i = 0; i < 8 && n * 4 + i < PMP_ENTRIES; i++) {
		unsigned e = n * 4 + i;
		uint8_t cfg = (uint8_t)(val >> (8 * i));
		if (h->pmpcfg[e] & PMP_L)
			continue; /* locked until reset */
		cfg &= 0x9f; /* bits 6:5 are reserved */
		if ((cfg & 0x3) == 0x2)
			cfg &= (uint8_t)~0x2; /* R=0 W=1 is reserved: drop W */
		h->pmpcfg[e] = cfg;
	}
	pmp_update(h);
	hart_flush_tlb(h);
}

static void set_pmpaddr(struct hart *h, unsigned i, uint64_t val)
{
	if (i >= PMP_ENTRIES || (h->pmpcfg[i] & PMP_L))
		return;
	if (i + 1 < PMP_ENTRIES && (h->pmpcfg[i + 1] & PMP_L) &&
	    (h->pmpcfg[i + 1] & PMP_A) == PMP_A_TOR)
		return; /* it is the base of a locked TOR region */
	h->pmpaddr[i] = val & PMPADDR_MASK;
	pmp_update(h);
	hart_flush_tlb(h);
}

static void set_mstatus(struct hart *h, uint64_t val, uint64_t writable)
{
	uint64_t old = h->mstatus;
	uint64_t mpp = (val & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT;
	if (mpp == 2)
		val = (val & ~MSTATUS_MPP) | (old & MSTATUS_MPP); /* reserved: keep */
	h->mstatus = (old & ~writable) | (val & writable);
	/* SUM needs no flush: S-mode data accesses use a table of their own
	 * while it is set (struct tlb_space), and hart_update_mode picks it. */
	if ((old ^ h->mstatus) & MSTATUS_MXR)
		hart_flush_translations(h);
	hart_update_mode(h);
}

static uint64_t legal_tvec(uint64_t old, uint64_t val)
{
	return (val & 3) >= 2 ? old : val; /* reserved modes leave it unchanged */
}

static uint64_t legal_envcfg(uint64_t val, uint64_t writable)
{
	if ((val & ENVCFG_CBIE) == 2ULL << 4) /* reserved */
		val &= ~ENVCFG_CBIE;
	return val & writable;
}

static void set_satp(struct hart *h, uint64_t val)
{
	unsigned mode = (unsigned)(val >> 60);
	if (mode != 0 && mode != 8 && mode != 9)
		return; /* unsupported mode: the whole write has no effect */
	/* ASIDLEN is 16, the most Sv39 and Sv48 allow.  The write flushes
	 * nothing (the spec asks for SFENCE.VMA): the TLB switches to the
	 * space of the new value (docs/cpu.md, "ASIDs"). */
	h->satp = ((uint64_t)mode << 60) | (val & (SATP_ASID_MASK | SATP_PPN_MASK));
	hart_switch_space(h);
}

static void set_counter_offset(struct hart *h, int64_t *offset, uint64_t val)
{
	/* The write takes the place of this instruction's own increment, so
	 * the next instruction reads exactly `val`. */
	*offset = (int64_t)(val - (counter_now(h) + 1));
}

static void mark_fs_dirty(struct hart *h)
{
	h->mstatus |= MSTATUS_FS;
}

static int csr_set(struct hart *h, uint32_t csr, uint64_t val)
{
	switch (csr) {
	case CSR_FFLAGS: h->fflags = val & 0x1f; mark_fs_dirty(h); return 0;
	case CSR_FRM: h->frm = val & 7; mark_fs_dirty(h); return 0;
	case CSR_FCSR:
		h->fflags = val & 0x1f;
		h->frm = (val >> 5) & 7;
		mark_fs_dirty(h);
		return 0;
	case CSR_SSTATUS: set_mstatus(h, val, MSTATUS_WRITABLE & SSTATUS_MASK); return 0;
	case CSR_SIE: h->mie = (h->mie & ~h->mideleg) | (val & h->mideleg); return 0;
	case CSR_STVEC: h->stvec = legal_tvec(h->stvec, val); return 0;
	case CSR_SCOUNTEREN: h->scounteren = (uint32_t)val; return 0;
	case CSR_SENVCFG: h->senvcfg = legal_envcfg(val, SENVCFG_WRITABLE); return 0;
	case CSR_SSCRATCH: h->sscratch = val; return 0;
	case CSR_SEPC: h->sepc = val & ~1ULL; return 0;
	case CSR_SCAUSE: h->scause = val; return 0;
	case CSR_STVAL: h->stval = val; return 0;
	case CSR_SIP: {
		uint64_t m = h->mideleg & (1ULL << IRQ_SSI);
		h->mip = (h->mip & ~m) | (val & m);
		return 0;
	}
	case CSR_SATP: set_satp(h, val); return 0;
	case CSR_MSTATUS: set_mstatus(h, val, MSTATUS_WRITABLE); return 0;
	case CSR_MISA: return 0; /* extensions cannot be switched off */
	case CSR_MEDELEG: h->medeleg = val & DELEGABLE_EXCEPTIONS; return 0;
	case CSR_MIDELEG: h->mideleg = val & S_INTERRUPTS; return 0;
	case CSR_MIE: h->mie = val & ALL_INTERRUPTS; return 0;
	case CSR_MTVEC: h->mtvec = legal_tvec(h->mtvec, val); return 0;
	case CSR_MCOUNTEREN: h->mcounteren = (uint32_t)val; return 0;
	case CSR_MENVCFG:
		if ((h->menvcfg ^ val) & ENVCFG_PBMTE)
			hart_flush_translations(h); /* which PTEs are valid changed */
		h->menvcfg = legal_envcfg(val, MENVCFG_WRITABLE);
		h->slice_end = true; /* the timer comparison may have changed */
		return 0;
	case CSR_STIMECMP:
		h->stimecmp = val;
		h->slice_end = true; /* the machine re-evaluates STIP and the next deadline */
		return 0;
	case CSR_MSCRATCH: h->mscratch = val; return 0;
	case CSR_MEPC: h->mepc = val & ~1ULL; return 0;
	case CSR_MCAUSE: h->mcause = val; return 0;
	case CSR_MTVAL: h->mtval = val; return 0;
	case CSR_MIP: {
		/* With Sstc on, STIP is the stimecmp comparison, not a latch. */
		uint64_t writable = S_INTERRUPTS;
		if (h->menvcfg & ENVCFG_STCE)
			writable &= ~(1ULL << IRQ_STI);
		h->mip = (h->mip & ~writable) | (val & writable);
		return 0;
	}
	case CSR_MCYCLE: set_counter_offset(h, &h->mcycle_offset, val); return 0;
	case CSR_MINSTRET: set_counter_offset(h, &h->minstret_offset, val); return 0;
	}
	if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
		if ((csr - CSR_PMPCFG0) & 1)
			return -1;
		set_pmpcfg(h, csr, val);
		return 0;
	}
	if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) {
		set_pmpaddr(h, csr - CSR_PMPADDR0, val);
		return 0;
	}
	uint64_t ignored;
	return csr_get(h, csr, &ignored); /* read-only-zero or WARL-ignored CSRs */
}

/* Access rules shared by reads and writes of a CSR instruction. */
static bool accessible(const struct hart *h, uint32_t csr)
{
	if (h->priv < ((csr >> 8) & 3))
		return false;
	if (csr >= CSR_FFLAGS && csr <= CSR_FCSR)
		return (h->mstatus & MSTATUS_FS) != 0;
	if (csr == CSR_SATP && h->priv == PRIV_S && (h->mstatus & MSTATUS_TVM))
		return false;
	if (csr == CSR_STIMECMP && h->priv < PRIV_M &&
	    (!(h->menvcfg & ENVCFG_STCE) || !(h->mcounteren & 2)))
		return false;
	if (csr >= CSR_CYCLE && csr <= CSR_HPMCOUNTER31) {
		uint32_t bit = 1u << (csr - CSR_CYCLE);
		if (h->priv < PRIV_M && !(h->mcounteren & bit))
			return false;
		if (h->priv < PRIV_S && !(h->scounteren & bit))
			return false;
	}
	return true;
}

/* The value a CSRRS/CSRRC modifies.  For mip and sip that is the
 * software-written bits alone: the device-driven lines (e.g. SEIP from the
 * PLIC) must not be latched into the software bit by a read-modify-write. */
uint64_t csr_rmw_base(const struct hart *h, uint32_t csr, uint64_t read_value)
{
	if (csr == CSR_MIP)
		return h->mip;
	if (csr == CSR_SIP)
		return h->mip & h->mideleg;
	return read_value;
}

int csr_read(struct hart *h, uint32_t csr, uint64_t *val)
{
	if (!accessible(h, csr))
		return -1;
	return csr_get(h, csr, val);
}

int csr_write(struct hart *h, uint32_t csr, uint64_t val)
{
	if (!accessible(h, csr) || (csr >> 10) == 3)
		return -1;
	return csr_set(h, csr, val);
}

int csr_read_debug(struct hart *h, uint32_t csr, uint64_t *val)
{
	return csr_get(h, csr, val);
}

int csr_write_debug(struct hart *h, uint32_t csr, uint64_t val)
{
	return csr_set(h, csr, val);
}
