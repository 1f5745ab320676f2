/* CSR contents and access rules (src/cpu/csr.c), trap/interrupt entry and
 * xRET (src/cpu/hart.c, exec.c) and PMP matching (src/cpu/mmu.c).
 *
 * Most checks execute real CSR instructions in the mode under test, so the
 * decode path, the privilege rules and the WARL behaviour are exercised
 * together.  Expected values follow the privileged spec (20211203); where
 * the spec leaves a choice and keel documents one (docs/cpu.md) the check
 * says "keel:".
 */
#include "harness.h"

#define N_CASES(a) (sizeof(a) / sizeof((a)[0]))
#define INT(cause) (MCAUSE_INTERRUPT | (cause))
#define MIP(irq) (1ULL << (irq))

/* Execute one CSR instruction (or anything else) at CODE_BASE in the
 * current mode; true if it completed, false if it trapped (to M, whose
 * vector is a `j .`).  Trapping restores the previous privilege so a test
 * can carry on in the same mode. */
static bool try_exec(struct machine *m, uint32_t insn)
{
	int priv = m->hart.priv;
	poke(m, CODE_BASE, insn, 4);
	m->hart.pc = CODE_BASE;
	m->hart.mcause = 0;
	run(m, 1);
	if (m->hart.pc == MTRAP_BASE && m->hart.mcause == EXC_ILLEGAL_INSN) {
		assert_int_equal(m->hart.mepc, CODE_BASE);
		assert_int_equal(m->hart.mtval, insn);
		set_priv(m, priv);
		return false;
	}
	assert_int_not_equal(m->hart.pc, MTRAP_BASE);
	return true;
}

/* csrr via an instruction in the current mode; fails the test if it traps. */
static uint64_t guest_csrr(struct machine *m, unsigned csr)
{
	m->hart.x[T0] = 0xbad;
	if (!try_exec(m, csrr(T0, csr)))
		fail_msg("csrr 0x%x trapped", csr);
	return m->hart.x[T0];
}

static void guest_csrw(struct machine *m, unsigned csr, uint64_t val)
{
	m->hart.x[T1] = val;
	if (!try_exec(m, csrw(csr, T1)))
		fail_msg("csrw 0x%x trapped", csr);
}

/* ---- identification ---- */

static void test_misa(void **state)
{
	struct machine *m = *state;
	assert_int_equal(guest_csrr(m, CSR_MISA), 0x800000000014112d); /* RV64 IMAFDCSU */
	guest_csrw(m, CSR_MISA, 0x8000000000000100); /* keel: read-only, write ignored */
	assert_int_equal(guest_csrr(m, CSR_MISA), 0x800000000014112d);
}

static void test_mhartid(void **state)
{
	struct machine *m = *state;
	assert_int_equal(guest_csrr(m, CSR_MHARTID), 0);
	hart_init(&m->hart, &m->bus, &m->clock, 3, CODE_BASE);
	m->hart.mtvec = MTRAP_BASE;
	assert_int_equal(guest_csrr(m, CSR_MHARTID), 3);
	m->hart.x[T0] = 0x55;
	assert_false(try_exec(m, csrrw(T0, CSR_MHARTID, T1))); /* read-only */
	assert_int_equal(m->hart.x[T0], 0x55);
	assert_int_equal(guest_csrr(m, CSR_MHARTID), 3);
}

/* ---- mstatus / sstatus ---- */

static uint64_t mpp_of(uint64_t s) { return (s & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT; }

static void test_mstatus_warl(void **state)
{
	struct machine *m = *state;
	uint64_t s = guest_csrr(m, CSR_MSTATUS);
	assert_int_equal(s & (MSTATUS_UXL | MSTATUS_SXL), 2ULL << 32 | 2ULL << 34);

	guest_csrw(m, CSR_MSTATUS, 1ULL << MSTATUS_MPP_SHIFT); /* MPP = S */
	assert_int_equal(mpp_of(guest_csrr(m, CSR_MSTATUS)), PRIV_S);
	guest_csrw(m, CSR_MSTATUS, 2ULL << MSTATUS_MPP_SHIFT); /* reserved */
	assert_int_equal(mpp_of(guest_csrr(m, CSR_MSTATUS)), PRIV_S); /* keel: kept */
	guest_csrw(m, CSR_MSTATUS, 3ULL << MSTATUS_MPP_SHIFT);
	assert_int_equal(mpp_of(guest_csrr(m, CSR_MSTATUS)), PRIV_M);

	/* UXL/SXL are read-only 2 (64-bit); XS, VS, SD are not writable. */
	guest_csrw(m, CSR_MSTATUS, MSTATUS_SD | MSTATUS_XS | 3ULL << MSTATUS_VS_SHIFT);
	s = guest_csrr(m, CSR_MSTATUS);
	assert_int_equal(s & (MSTATUS_UXL | MSTATUS_SXL), 2ULL << 32 | 2ULL << 34);
	assert_int_equal(s & (MSTATUS_SD | MSTATUS_XS | 3ULL << MSTATUS_VS_SHIFT), 0);

	/* SD summarises FS == Dirty. */
	guest_csrw(m, CSR_MSTATUS, (uint64_t)FS_DIRTY << MSTATUS_FS_SHIFT);
	s = guest_csrr(m, CSR_MSTATUS);
	assert_int_equal(s & MSTATUS_FS, MSTATUS_FS);
	assert_true(s & MSTATUS_SD);
	guest_csrw(m, CSR_MSTATUS, (uint64_t)FS_INITIAL << MSTATUS_FS_SHIFT);
	s = guest_csrr(m, CSR_MSTATUS);
	assert_int_equal((s & MSTATUS_FS) >> MSTATUS_FS_SHIFT, FS_INITIAL);
	assert_false(s & MSTATUS_SD);

	/* The writable control bits round-trip. */
	uint64_t ctl = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_SUM |
		       MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR;
	guest_csrw(m, CSR_MSTATUS, ctl);
	assert_int_equal(guest_csrr(m, CSR_MSTATUS) & ~(MSTATUS_UXL | MSTATUS_SXL), ctl);
}

#define SSTATUS_VISIBLE                                                                       \
	(MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_UBE | MSTATUS_SPP | 3ULL << MSTATUS_VS_SHIFT |    \
	 MSTATUS_FS | MSTATUS_XS | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_UXL | MSTATUS_SD)

static void test_sstatus_is_a_view(void **state)
{
	struct machine *m = *state;
	uint64_t all = MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP |
		       MSTATUS_MPP | MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR |
		       MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR;
	guest_csrw(m, CSR_MSTATUS, all);
	uint64_t ms = guest_csrr(m, CSR_MSTATUS);
	uint64_t ss = guest_csrr(m, CSR_SSTATUS);
	assert_int_equal(ss, ms & SSTATUS_VISIBLE);
	assert_int_equal(ss & (MSTATUS_MIE | MSTATUS_MPP | MSTATUS_MPRV | MSTATUS_TVM), 0);
	assert_true(ss & MSTATUS_SD);

	/* Writing sstatus leaves the M-only bits alone, from S-mode too. */
	guest_csrw(m, CSR_MSTATUS, MSTATUS_MIE | 3ULL << MSTATUS_MPP_SHIFT | MSTATUS_TW);
	set_priv(m, PRIV_S);
	guest_csrw(m, CSR_SSTATUS, ~0ULL);
	ss = guest_csrr(m, CSR_SSTATUS);
	assert_int_equal(ss & (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR),
			 MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR);
	set_priv(m, PRIV_M);
	ms = guest_csrr(m, CSR_MSTATUS);
	assert_int_equal(ms & (MSTATUS_MIE | MSTATUS_MPP | MSTATUS_TW | MSTATUS_MPRV | MSTATUS_TSR),
			 MSTATUS_MIE | MSTATUS_MPP | MSTATUS_TW);
	assert_int_equal(ms & (MSTATUS_UXL | MSTATUS_SXL), 2ULL << 32 | 2ULL << 34);
	set_priv(m, PRIV_S);
	guest_csrw(m, CSR_SSTATUS, 0);
	set_priv(m, PRIV_M);
	ms = guest_csrr(m, CSR_MSTATUS);
	assert_int_equal(ms & (MSTATUS_SIE | MSTATUS_SUM | MSTATUS_FS), 0);
	assert_int_equal(ms & (MSTATUS_MIE | MSTATUS_MPP | MSTATUS_TW),
			 MSTATUS_MIE | MSTATUS_MPP | MSTATUS_TW);
}

/* ---- interrupt enables/pending, delegation registers ---- */

static void test_sie_sip_masked_by_mideleg(void **state)
{
	struct machine *m = *state;
	const uint64_t s_bits = MIP(IRQ_SSI) | MIP(IRQ_STI) | MIP(IRQ_SEI);
	const uint64_t all = s_bits | MIP(IRQ_MSI) | MIP(IRQ_MTI) | MIP(IRQ_MEI);
	guest_csrw(m, CSR_MIE, ~0ULL);
	assert_int_equal(guest_csrr(m, CSR_MIE), all);
	guest_csrw(m, CSR_MIDELEG, MIP(IRQ_STI));
	assert_int_equal(guest_csrr(m, CSR_SIE), MIP(IRQ_STI));

	/* Writes through sie only reach delegated bits. */
	guest_csrw(m, CSR_MIE, 0);
	guest_csrw(m, CSR_SIE, ~0ULL);
	assert_int_equal(guest_csrr(m, CSR_MIE), MIP(IRQ_STI));
	guest_csrw(m, CSR_MIDELEG, s_bits);
	guest_csrw(m, CSR_SIE, ~0ULL);
	assert_int_equal(guest_csrr(m, CSR_MIE), s_bits);
	guest_csrw(m, CSR_MIE, all);
	guest_csrw(m, CSR_SIE, 0);
	assert_int_equal(guest_csrr(m, CSR_MIE), all & ~s_bits);

	/* sip shows delegated pending bits; only SSIP is writable there. */
	guest_csrw(m, CSR_MIP, MIP(IRQ_SSI) | MIP(IRQ_STI));
	guest_csrw(m, CSR_MIDELEG, MIP(IRQ_SSI));
	assert_int_equal(guest_csrr(m, CSR_SIP), MIP(IRQ_SSI));
	guest_csrw(m, CSR_MIDELEG, s_bits);
	assert_int_equal(guest_csrr(m, CSR_SIP), MIP(IRQ_SSI) | MIP(IRQ_STI));
	set_priv(m, PRIV_S);
	guest_csrw(m, CSR_SIP, 0);
	set_priv(m, PRIV_M);
	assert_int_equal(guest_csrr(m, CSR_MIP), MIP(IRQ_STI)); /* STIP untouched */
	guest_csrw(m, CSR_MIDELEG, 0);
	set_priv(m, PRIV_S);
	guest_csrw(m, CSR_SIP, ~0ULL); /* SSIP not delegated: no effect */
	assert_int_equal(guest_csrr(m, CSR_SIP), 0);
	set_priv(m, PRIV_M);
	assert_int_equal(guest_csrr(m, CSR_MIP), MIP(IRQ_STI));
}

static void test_mip_m_bits_read_only(void **state)
{
	struct machine *m = *state;
	guest_csrw(m, CSR_MIP, ~0ULL);
	assert_int_equal(guest_csrr(m, CSR_MIP), MIP(IRQ_SSI) | MIP(IRQ_STI) | MIP(IRQ_SEI));
	hart_set_pending(&m->hart, MIP(IRQ_MTI), true);
	guest_csrw(m, CSR_MIP, 0);
	assert_int_equal(guest_csrr(m, CSR_MIP), MIP(IRQ_MTI));
}

/* Regression (found by this test, fixed in 6161b43): a CSRRS/CSRRC on mip
 * must not copy the device-driven SEIP line into the software SEIP bit.  Privileged spec,
 * mip: "the signal from the interrupt controller is not used to calculate
 * the value written to SEIP.  Only the software-writable SEIP bit
 * participates in the read-modify-write sequence of a CSRRS or CSRRC
 * instruction."  Otherwise an M-mode `csrs mip, SSIP` (OpenSBI's IPI path)
 * while the PLIC line is high leaves SEIP stuck at 1 for good. */
static void test_mip_rmw_does_not_latch_hw_seip(void **state)
{
	struct machine *m = *state;
	hart_set_pending(&m->hart, MIP(IRQ_SEI), true);
	m->hart.x[T1] = MIP(IRQ_SSI);
	m->hart.x[T0] = 0;
	assert_true(try_exec(m, csrrs(T0, CSR_MIP, T1)));
	assert_int_equal(m->hart.x[T0], MIP(IRQ_SEI)); /* the read sees the line */
	m->hart.x[T1] = MIP(IRQ_STI);
	assert_true(try_exec(m, csrrc(ZERO, CSR_MIP, T1)));
	hart_set_pending(&m->hart, MIP(IRQ_SEI), false);
	assert_int_equal(guest_csrr(m, CSR_MIP), MIP(IRQ_SSI));
}

/* Regression (found by this test, fixed in 6161b43): with Sstc enabled
 * (menvcfg.STCE = 1) STIP must be read-only in mip and reflect stimecmp alone.  Privileged
 * spec, mip: "If the stimecmp (supervisor-mode timer compare) register is
 * implemented, STIP is read-only in mip and reflects the supervisor-level
 * timer interrupt signal resulting from stimecmp"; the Sstc chapter says
 * STIP only "reverts to its defined behavior" when STCE = 0. */
static void test_stip_read_only_with_sstc(void **state)
{
	struct machine *m = *state;
	guest_csrw(m, 0x30a, 1ULL << 63); /* menvcfg.STCE */
	assert_int_equal(m->hart.stimecmp, UINT64_MAX); /* no timer due */
	guest_csrw(m, CSR_MIP, MIP(IRQ_STI) | MIP(IRQ_SSI));
	assert_int_equal(guest_csrr(m, CSR_MIP), MIP(IRQ_SSI));
	/* and a CSRRS must not latch the comparator's output either */
	guest_csrw(m, CSR_MIP, 0);
	hart_set_pending(&m->hart, MIP(IRQ_STI), true); /* what timers_update drives */
	m->hart.x[T1] = MIP(IRQ_SSI);
	assert_true(try_exec(m, csrrs(ZERO, CSR_MIP, T1)));
	hart_set_pending(&m->hart, MIP(IRQ_STI), false);
	assert_int_equal(guest_csrr(m, CSR_MIP), MIP(IRQ_SSI));
	/* STCE = 0: STIP is an ordinary software-writable bit again */
	guest_csrw(m, 0x30a, 0);
	guest_csrw(m, CSR_MIP, MIP(IRQ_STI));
	assert_int_equal(guest_csrr(m, CSR_MIP), MIP(IRQ_STI));
}

static void test_delegation_registers(void **state)
{
	struct machine *m = *state;
	guest_csrw(m, CSR_MEDELEG, ~0ULL);
	uint64_t e = guest_csrr(m, CSR_MEDELEG);
	assert_int_equal(e & (1ULL << EXC_ECALL_M), 0); /* spec: read-only zero */
	/* keel: everything else the spec defines is delegable */
	uint64_t want = 0;
	for (int c = 0; c <= 15; c++)
		if (c != 10 && c != 11 && c != 14)
			want |= 1ULL << c;
	assert_int_equal(e, want);
	guest_csrw(m, CSR_MIDELEG, ~0ULL);
	assert_int_equal(guest_csrr(m, CSR_MIDELEG), MIP(IRQ_SSI) | MIP(IRQ_STI) | MIP(IRQ_SEI));
}

static void test_tvec_modes(void **state)
{
	struct machine *m = *state;
	const unsigned regs[] = {CSR_MTVEC, CSR_STVEC};
	for (size_t i = 0; i < N_CASES(regs); i++) {
		guest_csrw(m, regs[i], DATA_BASE);
		assert_int_equal(guest_csrr(m, regs[i]), DATA_BASE);
		guest_csrw(m, regs[i], DATA_BASE + 0x100 + 1); /* vectored */
		assert_int_equal(guest_csrr(m, regs[i]), DATA_BASE + 0x101);
		guest_csrw(m, regs[i], DATA_BASE + 0x200 + 2); /* reserved mode */
		assert_int_equal(guest_csrr(m, regs[i]), DATA_BASE + 0x101);
		guest_csrw(m, regs[i], DATA_BASE + 0x300 + 3); /* reserved mode */
		assert_int_equal(guest_csrr(m, regs[i]), DATA_BASE + 0x101);
	}
}

static void test_epc_low_bit_clear(void **state)
{
	struct machine *m = *state;
	guest_csrw(m, CSR_MEPC, 0x1235);
	assert_int_equal(guest_csrr(m, CSR_MEPC), 0x1234); /* IALIGN = 16 */
	guest_csrw(m, CSR_SEPC, 0x4321);
	assert_int_equal(guest_csrr(m, CSR_SEPC), 0x4320);
}

static void test_satp_modes(void **state)
{
	struct machine *m = *state;
	uint64_t sv39 = SATP_SV39 | (PT_BASE >> 12);
	guest_csrw(m, CSR_SATP, sv39 | 0xffffULL << 44); /* keel: ASIDLEN 16 */
	assert_int_equal(guest_csrr(m, CSR_SATP), sv39 | 0xffffULL << 44);
	guest_csrw(m, CSR_SATP, sv39 | 0x1234ULL << 44);
	assert_int_equal(guest_csrr(m, CSR_SATP), sv39 | 0x1234ULL << 44);
	guest_csrw(m, CSR_SATP, sv39);
	assert_int_equal(guest_csrr(m, CSR_SATP), sv39);
	guest_csrw(m, CSR_SATP, 10ULL << 60 | 0x1234); /* Sv57: unsupported */
	assert_int_equal(guest_csrr(m, CSR_SATP), sv39);
	guest_csrw(m, CSR_SATP, 1ULL << 60 | 0x1234); /* Sv32's encoding: reserved on RV64 */
	assert_int_equal(guest_csrr(m, CSR_SATP), sv39);
	guest_csrw(m, CSR_SATP, SATP_SV48 | 0x777);
	assert_int_equal(guest_csrr(m, CSR_SATP), SATP_SV48 | 0x777);
	guest_csrw(m, CSR_SATP, 0);
	assert_int_equal(guest_csrr(m, CSR_SATP), 0);
}

/* ---- mstatus trap controls, exercised from S-mode ---- */

static void test_tvm(void **state)
{
	struct machine *m = *state;
	set_priv(m, PRIV_S);
	assert_true(try_exec(m, csrr(T0, CSR_SATP)));
	assert_true(try_exec(m, sfence_vma(ZERO, ZERO)));
	set_mstatus_bits(m, MSTATUS_TVM, 0);
	assert_false(try_exec(m, csrr(T0, CSR_SATP)));
	assert_false(try_exec(m, csrw(CSR_SATP, ZERO)));
	assert_false(try_exec(m, sfence_vma(ZERO, ZERO)));
	assert_false(try_exec(m, sfence_vma(A0, A1)));
	set_priv(m, PRIV_M); /* TVM does not restrict M */
	assert_true(try_exec(m, csrr(T0, CSR_SATP)));
	assert_true(try_exec(m, sfence_vma(ZERO, ZERO)));
	set_priv(m, PRIV_U); /* SFENCE.VMA is never legal in U */
	set_mstatus_bits(m, 0, MSTATUS_TVM);
	assert_false(try_exec(m, sfence_vma(ZERO, ZERO)));
}

static void test_tsr(void **state)
{
	struct machine *m = *state;
	set_priv(m, PRIV_S);
	set_mstatus_bits(m, MSTATUS_TSR, 0);
	assert_false(try_exec(m, sret()));
	set_priv(m, PRIV_U);
	set_mstatus_bits(m, 0, MSTATUS_TSR);
	assert_false(try_exec(m, sret())); /* never legal in U */
	set_priv(m, PRIV_M);
	set_mstatus_bits(m, MSTATUS_TSR, 0);
	m->hart.sepc = DATA_BASE;
	assert_true(try_exec(m, sret())); /* TSR does not restrict M */
	assert_int_equal(m->hart.pc, DATA_BASE);
	assert_int_equal(m->hart.priv, PRIV_U);
	set_priv(m, PRIV_S);
	set_mstatus_bits(m, MSTATUS_SPP, MSTATUS_TSR);
	m->hart.sepc = DATA_BASE + 8;
	assert_true(try_exec(m, sret()));
	assert_int_equal(m->hart.pc, DATA_BASE + 8);
	assert_int_equal(m->hart.priv, PRIV_S);
}

static void test_tw_and_wfi(void **state)
{
	struct machine *m = *state;
	set_priv(m, PRIV_S);
	set_mstatus_bits(m, MSTATUS_TW, 0);
	assert_false(try_exec(m, wfi()));
	set_priv(m, PRIV_U);
	set_mstatus_bits(m, 0, MSTATUS_TW);
	assert_false(try_exec(m, wfi())); /* keel: U-mode WFI traps at once */

	/* S-mode without TW: nothing pending, so the hart stalls after it. */
	set_priv(m, PRIV_S);
	assert_true(try_exec(m, wfi()));
	assert_true(m->hart.wfi);
	assert_int_equal(m->hart.pc, CODE_BASE + 4);
	assert_int_equal(run(m, 10), 0); /* still asleep */
	/* A pending M-level interrupt wakes it and is taken (below M, MIE
	 * does not mask M-level interrupts). */
	m->hart.mie = MIP(IRQ_MSI);
	hart_set_pending(&m->hart, MIP(IRQ_MSI), true);
	run(m, 1);
	assert_false(m->hart.wfi);
	assert_int_equal(m->hart.mcause, INT(IRQ_MSI));
	assert_int_equal(m->hart.mepc, CODE_BASE + 4);

	/* M-mode with TW: legal; with an interrupt pending in mie & mip but
	 * MIE clear it does not stall. */
	set_priv(m, PRIV_M);
	set_mstatus_bits(m, MSTATUS_TW, MSTATUS_MIE);
	assert_true(try_exec(m, wfi()));
	assert_false(m->hart.wfi);
	assert_int_equal(m->hart.pc, CODE_BASE + 4);
}

/* KEEL BUG (reported to the lead): WFI must wake up when an interrupt is
 * pending and enabled in mie even if the global enable (MIE/SIE) is off;
 * execution then simply continues after the WFI.  Privileged spec, WFI:
 * "The operation of WFI must be unaffected by the global interrupt bits in
 * mstatus (MIE and SIE) and the delegation register mideleg (i.e., the hart
 * must resume if a locally enabled interrupt becomes pending, even if it has
 * been delegated to a higher-privilege mode), but should honor the
 * individual interrupt enables (e.g, MTIE)."  keel's hart_run() returns 0
 * for as long as h->wfi is set and no trap is taken, so the hart never
 * resumes (and machine_run() spins without consuming budget).  This is how
 * Linux idles: wfi with SIE clear, then enable interrupts. */
static void test_wfi_wakes_with_interrupts_disabled(void **state)
{
	struct machine *m = *state;
	const struct {
		int priv;
		uint64_t mideleg, irq;
	} cases[] = {
		{PRIV_M, 0, IRQ_MSI},            /* M with MIE = 0 */
		{PRIV_S, MIP(IRQ_STI), IRQ_STI}, /* S with SIE = 0, delegated to S */
	};
	struct code c = code_at(m, CODE_BASE);
	emit(&c, wfi());
	emit(&c, addi(T0, T0, 1));
	uint64_t halt = emit_halt(&c);
	for (size_t i = 0; i < N_CASES(cases); i++) {
		set_priv(m, cases[i].priv);
		set_mstatus_bits(m, 0, MSTATUS_MIE | MSTATUS_SIE);
		m->hart.mideleg = cases[i].mideleg;
		m->hart.mie = MIP(cases[i].irq);
		m->hart.x[T0] = 0;
		m->hart.mcause = m->hart.scause = 0;
		run_from(m, CODE_BASE, 5);
		assert_true(m->hart.wfi);
		assert_int_equal(m->hart.pc, CODE_BASE + 4);
		/* an interrupt that is not enabled in mie does not wake it */
		hart_set_pending(&m->hart, MIP(IRQ_SEI), true);
		assert_int_equal(run(m, 5), 0);
		assert_true(m->hart.wfi);
		hart_set_pending(&m->hart, MIP(IRQ_SEI), false);
		/* a locally enabled one does, and no trap is taken */
		hart_set_pending(&m->hart, MIP(cases[i].irq), true);
		run(m, 2);
		hart_set_pending(&m->hart, MIP(cases[i].irq), false);
		assert_false(m->hart.wfi);
		assert_int_equal(m->hart.pc, halt);
		assert_int_equal(m->hart.x[T0], 1);
		assert_int_equal(m->hart.mcause, 0);
		assert_int_equal(m->hart.scause, 0);
		assert_int_equal(m->hart.priv, cases[i].priv);
	}
}

/* ---- counters ---- */

static void test_counter_enables(void **state)
{
	struct machine *m = *state;
	const unsigned counters[] = {CSR_CYCLE, CSR_TIME, CSR_INSTRET};
	for (size_t i = 0; i < N_CASES(counters); i++) {
		unsigned csr = counters[i];
		uint32_t bit = 1u << (csr - CSR_CYCLE);
		const struct {
			int priv;
			uint32_t mcounteren, scounteren;
			bool ok;
		} cases[] = {
			{PRIV_U, 0, 0, false},     {PRIV_U, bit, 0, false}, {PRIV_U, 0, bit, false},
			{PRIV_U, bit, bit, true},  {PRIV_S, 0, bit, false}, {PRIV_S, bit, 0, true},
			{PRIV_M, 0, 0, true},      {PRIV_U, ~bit, ~bit, false},
		};
		for (size_t k = 0; k < N_CASES(cases); k++) {
			set_priv(m, PRIV_M);
			guest_csrw(m, CSR_MCOUNTEREN, cases[k].mcounteren);
			guest_csrw(m, CSR_SCOUNTEREN, cases[k].scounteren);
			set_priv(m, cases[k].priv);
			m->hart.x[T0] = 0x1234;
			bool ok = try_exec(m, csrr(T0, csr));
			if (ok != cases[k].ok)
				fail_msg("csr 0x%x priv %d mcounteren %x scounteren %x: %s", csr,
					 cases[k].priv, cases[k].mcounteren, cases[k].scounteren,
					 ok ? "allowed" : "trapped");
			if (!ok)
				assert_int_equal(m->hart.x[T0], 0x1234);
		}
	}
}

/* keel: a write to minstret/mcycle replaces that instruction's own
 * increment, so the next instruction reads the value written; after that
 * they count retired instructions. */
static void test_counter_writes(void **state)
{
	struct machine *m = *state;
	m->hart.icount = 5000;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, csrrwi(ZERO, CSR_MINSTRET, 0));
	emit(&c, csrr(T1, CSR_MINSTRET));        /* 0 */
	emit(&c, addi(T0, ZERO, 100));
	emit(&c, csrw(CSR_MINSTRET, T0));
	emit(&c, nop());
	emit(&c, csrr(T2, CSR_INSTRET));         /* 101 */
	emit(&c, csrw(CSR_MCYCLE, T0));
	emit(&c, csrr(T3, CSR_MCYCLE));          /* 100 */
	emit(&c, csrr(T4, CSR_CYCLE));           /* 101 */
	emit(&c, csrr(T5, CSR_MINSTRET));        /* 100 + 5 = 105 */
	uint64_t halt = emit_halt(&c);
	run_from(m, CODE_BASE, 10);
	assert_int_equal(m->hart.pc, halt);
	assert_int_equal(m->hart.x[T1], 0);
	assert_int_equal(m->hart.x[T2], 101);
	assert_int_equal(m->hart.x[T3], 100);
	assert_int_equal(m->hart.x[T4], 101);
	assert_int_equal(m->hart.x[T5], 105);
}

/* Writes to the read-only 0xC00 space (and other read-only CSRs) trap and
 * leave rd unchanged; pure reads of them do not trap. */
static void test_read_only_csr_writes_trap(void **state)
{
	struct machine *m = *state;
	m->hart.mcounteren = m->hart.scounteren = ~0u;
	m->hart.x[T1] = 0;
	const uint32_t writes[] = {
		csrrw(T0, CSR_CYCLE, T1),  csrrw(ZERO, CSR_INSTRET, T1),
		csrrs(T0, CSR_TIME, T1),   /* rs1 != x0 is a write even if it holds 0 */
		csrrc(T0, CSR_CYCLE, T1),  csrrwi(T0, CSR_CYCLE, 0),
		csrrsi(T0, CSR_CYCLE, 1),  csrrw(T0, CSR_MHARTID, T1),
		csrrw(T0, 0xc03, T1),      /* hpmcounter3 */
		csrrw(T0, 0xf11, T1),      /* mvendorid */
	};
	for (size_t i = 0; i < N_CASES(writes); i++) {
		m->hart.x[T0] = 0x77;
		assert_false(try_exec(m, writes[i]));
		assert_int_equal(m->hart.x[T0], 0x77);
	}
	const uint32_t reads[] = {
		csrrs(T0, CSR_CYCLE, ZERO), csrrc(T0, CSR_INSTRET, ZERO), csrrsi(T0, CSR_TIME, 0),
		csrr(T0, 0xc03),
	};
	for (size_t i = 0; i < N_CASES(reads); i++) {
		set_priv(m, i & 1 ? PRIV_U : PRIV_S);
		m->hart.x[T0] = 0x77;
		assert_true(try_exec(m, reads[i]));
		assert_int_not_equal(m->hart.x[T0], 0x77);
	}
}

static void test_csr_privilege(void **state)
{
	struct machine *m = *state;
	const struct {
		int priv;
		uint32_t insn;
		bool ok;
	} cases[] = {
		{PRIV_S, csrr(T0, CSR_MSTATUS), false},  {PRIV_S, csrr(T0, CSR_MSCRATCH), false},
		{PRIV_S, csrw(CSR_MEPC, T1), false},     {PRIV_S, csrr(T0, CSR_MHARTID), false},
		{PRIV_S, csrr(T0, CSR_SSTATUS), true},   {PRIV_S, csrw(CSR_SSCRATCH, T1), true},
		{PRIV_U, csrr(T0, CSR_SSTATUS), false},  {PRIV_U, csrw(CSR_SSCRATCH, T1), false},
		{PRIV_U, csrr(T0, CSR_SATP), false},     {PRIV_M, csrr(T0, CSR_SSTATUS), true},
		{PRIV_M, csrw(CSR_MSCRATCH, T1), true},
	};
	for (size_t i = 0; i < N_CASES(cases); i++) {
		set_priv(m, cases[i].priv);
		m->hart.x[T0] = 0x99;
		bool ok = try_exec(m, cases[i].insn);
		if (ok != cases[i].ok)
			fail_msg("case %zu: %s", i, ok ? "allowed" : "trapped");
		if (!ok)
			assert_int_equal(m->hart.x[T0], 0x99);
	}
}

static void test_fp_csrs_need_fs(void **state)
{
	struct machine *m = *state;
	const unsigned regs[] = {CSR_FFLAGS, CSR_FRM, CSR_FCSR};
	assert_int_equal(m->hart.mstatus & MSTATUS_FS, 0);
	for (size_t i = 0; i < N_CASES(regs); i++) {
		assert_false(try_exec(m, csrr(T0, regs[i])));
		assert_false(try_exec(m, csrw(regs[i], ZERO)));
	}
	set_mstatus_bits(m, (uint64_t)FS_INITIAL << MSTATUS_FS_SHIFT, 0);
	guest_csrw(m, CSR_FCSR, 0xff); /* frm 7, fflags 0x1f */
	assert_int_equal(guest_csrr(m, CSR_FRM), 7);
	assert_int_equal(guest_csrr(m, CSR_FFLAGS), 0x1f);
	assert_int_equal(guest_csrr(m, CSR_FCSR), 0xff);
	guest_csrw(m, CSR_FFLAGS, 0x21);
	assert_int_equal(guest_csrr(m, CSR_FCSR), 0xe1);
	/* Writing FP state marks it dirty, and SD follows. */
	uint64_t s = guest_csrr(m, CSR_MSTATUS);
	assert_int_equal((s & MSTATUS_FS) >> MSTATUS_FS_SHIFT, FS_DIRTY);
	assert_true(s & MSTATUS_SD);
	set_priv(m, PRIV_U);
	assert_int_equal(guest_csrr(m, CSR_FRM), 7); /* user-level CSRs */
}

/* ---- xRET ---- */

static void test_mret(void **state)
{
	struct machine *m = *state;
	m->hart.mepc = DATA_BASE;
	set_mstatus_bits(m, MSTATUS_MPIE | 1ULL << MSTATUS_MPP_SHIFT | MSTATUS_MPRV, MSTATUS_MIE);
	assert_true(try_exec(m, mret()));
	assert_int_equal(m->hart.pc, DATA_BASE);
	assert_int_equal(m->hart.priv, PRIV_S);
	uint64_t s = m->hart.mstatus;
	assert_true(s & MSTATUS_MIE);
	assert_true(s & MSTATUS_MPIE);
	assert_int_equal(mpp_of(s), PRIV_U);
	assert_false(s & MSTATUS_MPRV); /* left M */
	/* mret is illegal below M */
	assert_false(try_exec(m, mret()));
	/* back to M keeps MPRV */
	set_priv(m, PRIV_M);
	set_mstatus_bits(m, 3ULL << MSTATUS_MPP_SHIFT | MSTATUS_MPRV, MSTATUS_MPIE);
	assert_true(try_exec(m, mret()));
	assert_int_equal(m->hart.priv, PRIV_M);
	assert_true(m->hart.mstatus & MSTATUS_MPRV);
	assert_false(m->hart.mstatus & MSTATUS_MIE);
}

static void test_sret(void **state)
{
	struct machine *m = *state;
	set_priv(m, PRIV_S);
	m->hart.sepc = DATA_BASE + 0x40;
	set_mstatus_bits(m, MSTATUS_SPIE, MSTATUS_SIE | MSTATUS_SPP);
	assert_true(try_exec(m, sret()));
	assert_int_equal(m->hart.pc, DATA_BASE + 0x40);
	assert_int_equal(m->hart.priv, PRIV_U);
	assert_true(m->hart.mstatus & MSTATUS_SIE);
	assert_true(m->hart.mstatus & MSTATUS_SPIE);
	assert_false(m->hart.mstatus & MSTATUS_SPP);
}

/* ---- interrupts ---- */

/* Put the hart in `priv` at a `j .` with the given global enables and run
 * one step; returns the pc afterwards (a trap vector if an interrupt was
 * taken on entry). */
static uint64_t step_idle(struct machine *m, int priv, uint64_t status_set)
{
	uint64_t idle = CODE_BASE + 0x200;
	poke(m, idle, jal(ZERO, 0), 4);
	set_priv(m, priv);
	set_mstatus_bits(m, status_set, MSTATUS_MIE | MSTATUS_SIE);
	m->hart.pc = idle;
	run(m, 1);
	return m->hart.pc;
}

/* Software makes S-level interrupts pending through mip; the first one is
 * taken right after the instruction that enables them globally. */
static void test_interrupt_from_csr_write(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, addi(T0, ZERO, 0x222));  /* SSIE | STIE | SEIE */
	emit(&c, csrw(CSR_MIE, T0));
	emit(&c, csrw(CSR_MIP, T0));      /* SSIP | STIP | SEIP */
	emit(&c, nop());
	emit(&c, csrrsi(ZERO, CSR_MSTATUS, 8)); /* MIE */
	uint64_t after = emit(&c, nop());
	run_from(m, CODE_BASE, 5);
	assert_mtrap(m, INT(IRQ_SEI), after, 0);
	assert_int_equal(m->hart.icount, 5);
	uint64_t s = m->hart.mstatus;
	assert_false(s & MSTATUS_MIE);
	assert_true(s & MSTATUS_MPIE);
	assert_int_equal(mpp_of(s), PRIV_M);
}

/* Priority MEI > MSI > MTI > SEI > SSI > STI. */
static void test_interrupt_priority(void **state)
{
	struct machine *m = *state;
	m->hart.mie = MIP(IRQ_SSI) | MIP(IRQ_STI) | MIP(IRQ_SEI) | MIP(IRQ_MSI) | MIP(IRQ_MTI) |
		      MIP(IRQ_MEI);
	hart_set_pending(&m->hart, MIP(IRQ_MEI) | MIP(IRQ_MSI) | MIP(IRQ_MTI), true);
	m->hart.mip = MIP(IRQ_SEI) | MIP(IRQ_SSI) | MIP(IRQ_STI);
	const int order[] = {IRQ_MEI, IRQ_MSI, IRQ_MTI, IRQ_SEI, IRQ_SSI, IRQ_STI};
	for (size_t i = 0; i < N_CASES(order); i++) {
		assert_int_equal(step_idle(m, PRIV_M, MSTATUS_MIE), MTRAP_BASE);
		assert_int_equal(m->hart.mcause, INT(order[i]));
		assert_int_equal(m->hart.mepc, CODE_BASE + 0x200);
		hart_set_pending(&m->hart, MIP(order[i]), false);
		m->hart.mip &= ~MIP(order[i]);
	}
	assert_int_equal(step_idle(m, PRIV_M, MSTATUS_MIE), CODE_BASE + 0x200);
}

/* mie gates each interrupt individually, MIE globally in M only. */
static void test_interrupt_enables(void **state)
{
	struct machine *m = *state;
	m->hart.mip = MIP(IRQ_SSI);
	m->hart.mie = 0;
	assert_int_equal(step_idle(m, PRIV_M, MSTATUS_MIE), CODE_BASE + 0x200);
	m->hart.mie = MIP(IRQ_SSI);
	assert_int_equal(step_idle(m, PRIV_M, 0), CODE_BASE + 0x200);
	/* Below M, M-level (non-delegated) interrupts ignore MIE. */
	assert_int_equal(step_idle(m, PRIV_S, 0), MTRAP_BASE);
	assert_int_equal(m->hart.mcause, INT(IRQ_SSI));
	assert_int_equal(mpp_of(m->hart.mstatus), PRIV_S);
	assert_int_equal(step_idle(m, PRIV_U, 0), MTRAP_BASE);
	assert_int_equal(mpp_of(m->hart.mstatus), PRIV_U);
}

static void test_interrupt_delegation(void **state)
{
	struct machine *m = *state;
	m->hart.mideleg = MIP(IRQ_STI);
	m->hart.mie = MIP(IRQ_STI) | MIP(IRQ_MTI);
	m->hart.mip = MIP(IRQ_STI);
	/* Delegated: never taken in M, in S only with SIE, in U always. */
	assert_int_equal(step_idle(m, PRIV_M, MSTATUS_MIE | MSTATUS_SIE), CODE_BASE + 0x200);
	assert_int_equal(step_idle(m, PRIV_S, MSTATUS_MIE), CODE_BASE + 0x200);
	assert_int_equal(step_idle(m, PRIV_S, MSTATUS_SIE), STRAP_BASE);
	assert_int_equal(m->hart.priv, PRIV_S);
	assert_int_equal(m->hart.scause, INT(IRQ_STI));
	assert_int_equal(m->hart.sepc, CODE_BASE + 0x200);
	assert_true(m->hart.mstatus & MSTATUS_SPP);
	assert_true(m->hart.mstatus & MSTATUS_SPIE);
	assert_false(m->hart.mstatus & MSTATUS_SIE);
	assert_int_equal(m->hart.mcause, 0); /* M saw nothing */
	assert_int_equal(step_idle(m, PRIV_U, 0), STRAP_BASE);
	assert_false(m->hart.mstatus & MSTATUS_SPP);
	/* A pending M-level interrupt wins over a delegated one below M. */
	hart_set_pending(&m->hart, MIP(IRQ_MTI), true);
	assert_int_equal(step_idle(m, PRIV_S, MSTATUS_SIE), MTRAP_BASE);
	assert_int_equal(m->hart.mcause, INT(IRQ_MTI));
}

/* xRET can enable a pending interrupt (by restoring MIE, or by dropping to
 * a mode where it is enabled); it is taken before the next instruction. */
static void test_interrupt_after_xret(void **state)
{
	struct machine *m = *state;
	uint64_t target = CODE_BASE + 0x100;
	poke(m, target, nop(), 4);
	m->hart.mie = MIP(IRQ_SSI);
	m->hart.mip = MIP(IRQ_SSI);
	m->hart.mepc = target;
	set_mstatus_bits(m, MSTATUS_MPIE | MSTATUS_MPP, MSTATUS_MIE);
	poke(m, CODE_BASE, mret(), 4);
	run_from(m, CODE_BASE, 1);
	assert_mtrap(m, INT(IRQ_SSI), target, 0);
	assert_int_equal(mpp_of(m->hart.mstatus), PRIV_M);

	/* sret to U with a delegated interrupt pending and SIE clear */
	m->hart.mideleg = MIP(IRQ_SSI);
	m->hart.sepc = target;
	set_priv(m, PRIV_S);
	set_mstatus_bits(m, 0, MSTATUS_SPP | MSTATUS_SIE | MSTATUS_SPIE);
	poke(m, CODE_BASE, sret(), 4);
	run_from(m, CODE_BASE, 1);
	assert_strap(m, INT(IRQ_SSI), target, 0);
	assert_false(m->hart.mstatus & MSTATUS_SPP); /* it came from U */
}

static void test_vectored_tvec(void **state)
{
	struct machine *m = *state;
	uint64_t base = CODE_BASE + 0x1000;
	for (int i = 0; i < 16; i++)
		poke(m, base + 4 * (uint64_t)i, jal(ZERO, 0), 4);
	m->hart.mtvec = base | 1;
	m->hart.mie = MIP(IRQ_MTI);
	hart_set_pending(&m->hart, MIP(IRQ_MTI), true);
	assert_int_equal(step_idle(m, PRIV_M, MSTATUS_MIE), base + 4 * IRQ_MTI);
	assert_int_equal(m->hart.mcause, INT(IRQ_MTI));
	hart_set_pending(&m->hart, MIP(IRQ_MTI), false);
	/* exceptions use the base */
	poke(m, CODE_BASE, ecall(), 4);
	run_from(m, CODE_BASE, 1);
	assert_int_equal(m->hart.pc, base);
	assert_int_equal(m->hart.mcause, EXC_ECALL_M);
	/* same for stvec */
	m->hart.stvec = base | 1;
	m->hart.mideleg = MIP(IRQ_SSI);
	m->hart.medeleg = 1u << EXC_ECALL_U;
	m->hart.mie = MIP(IRQ_SSI);
	m->hart.mip = MIP(IRQ_SSI);
	assert_int_equal(step_idle(m, PRIV_U, 0), base + 4 * IRQ_SSI);
	assert_int_equal(m->hart.scause, INT(IRQ_SSI));
	m->hart.mip = 0;
	set_priv(m, PRIV_U);
	run_from(m, CODE_BASE, 1);
	assert_int_equal(m->hart.pc, base);
	assert_int_equal(m->hart.scause, EXC_ECALL_U);
}

/* ---- PMP ---- */

#define PMP_R 0x01
#define PMP_W 0x02
#define PMP_X 0x04
#define PMP_TOR 0x08
#define PMP_NA4 0x10
#define PMP_NAPOT 0x18
#define PMP_L 0x80

static void pmp_set(struct machine *m, int i, uint8_t cfg, uint64_t addr)
{
	struct hart *h = &m->hart;
	unsigned reg = CSR_PMPCFG0 + (unsigned)(i / 8) * 2;
	uint64_t v;
	assert_int_equal(csr_read(h, reg, &v), 0);
	v &= ~(0xffULL << (8 * (i % 8)));
	v |= (uint64_t)cfg << (8 * (i % 8));
	assert_int_equal(csr_write(h, CSR_PMPADDR0 + (unsigned)i, addr), 0);
	assert_int_equal(csr_write(h, reg, v), 0);
}

static uint8_t pmp_cfg(struct machine *m, int i)
{
	uint64_t v;
	assert_int_equal(csr_read(&m->hart, CSR_PMPCFG0 + (unsigned)(i / 8) * 2, &v), 0);
	return (uint8_t)(v >> (8 * (i % 8)));
}

static bool allows(struct machine *m, uint64_t pa, uint64_t size, enum access_type t, int priv)
{
	return pmp_allows(&m->hart, pa, size, t, priv);
}

static void test_pmp_off(void **state)
{
	struct machine *m = *state;
	assert_true(allows(m, DATA_BASE, 8, ACCESS_WRITE, PRIV_U));
	assert_true(allows(m, 0, 8, ACCESS_EXEC, PRIV_S));
	/* An entry with A = OFF matches nothing and does not turn PMP on. */
	pmp_set(m, 0, PMP_R, ~0ULL);
	assert_true(allows(m, DATA_BASE, 8, ACCESS_WRITE, PRIV_U));
	/* RV64 has only the even pmpcfg registers; entries past 16 are zero */
	assert_false(try_exec(m, csrr(T0, CSR_PMPCFG0 + 1)));
	assert_false(try_exec(m, csrw(CSR_PMPCFG0 + 3, T1)));
	m->hart.x[T1] = ~0ULL;
	assert_true(try_exec(m, csrw(CSR_PMPADDR0 + 20, T1)));
	assert_int_equal(guest_csrr(m, CSR_PMPADDR0 + 20), 0);
	assert_int_equal(guest_csrr(m, CSR_PMPADDR0), 0x003fffffffffffff); /* 54 bits */
}

static void test_pmp_tor(void **state)
{
	struct machine *m = *state;
	uint64_t top = DATA_BASE + 0x1000;
	pmp_set(m, 0, PMP_TOR | PMP_R | PMP_X, top >> 2); /* [0, top) */
	assert_true(allows(m, DATA_BASE, 8, ACCESS_READ, PRIV_U));
	assert_true(allows(m, top - 8, 8, ACCESS_EXEC, PRIV_S));
	assert_false(allows(m, DATA_BASE, 8, ACCESS_WRITE, PRIV_U));
	assert_false(allows(m, top, 8, ACCESS_READ, PRIV_U)); /* no match below M */
	assert_true(allows(m, top, 8, ACCESS_READ, PRIV_M));  /* no match: M allowed */
	assert_true(allows(m, DATA_BASE, 8, ACCESS_WRITE, PRIV_M)); /* unlocked */
	assert_false(allows(m, top - 4, 8, ACCESS_READ, PRIV_U)); /* partial */
	assert_false(allows(m, top - 4, 8, ACCESS_READ, PRIV_M)); /* partial fails even M */

	/* Entry i > 0 takes its base from pmpaddr[i-1]. */
	pmp_set(m, 0, 0, DATA_BASE >> 2);
	pmp_set(m, 1, PMP_TOR | PMP_R | PMP_W, top >> 2); /* [DATA_BASE, top) */
	assert_true(allows(m, DATA_BASE, 8, ACCESS_WRITE, PRIV_U));
	assert_false(allows(m, DATA_BASE - 8, 8, ACCESS_READ, PRIV_U));
	assert_false(allows(m, DATA_BASE - 4, 8, ACCESS_READ, PRIV_M));
	assert_false(allows(m, DATA_BASE, 4, ACCESS_EXEC, PRIV_S));
}

static void test_pmp_na4_napot(void **state)
{
	struct machine *m = *state;
	uint64_t word = DATA_BASE + 0x40;
	pmp_set(m, 0, PMP_NA4 | PMP_R, word >> 2);
	assert_true(allows(m, word, 4, ACCESS_READ, PRIV_U));
	assert_false(allows(m, word + 4, 4, ACCESS_READ, PRIV_U));
	assert_false(allows(m, word - 4, 4, ACCESS_READ, PRIV_U));
	assert_false(allows(m, word, 8, ACCESS_READ, PRIV_U)); /* partial */

	uint64_t base = DATA_BASE + 0x10000, size = 0x1000;
	pmp_set(m, 1, PMP_NAPOT | PMP_R | PMP_W, (base >> 2) | (size / 8 - 1));
	assert_true(allows(m, base, 8, ACCESS_WRITE, PRIV_U));
	assert_true(allows(m, base + size - 8, 8, ACCESS_WRITE, PRIV_S));
	assert_false(allows(m, base + size, 8, ACCESS_READ, PRIV_U));
	assert_false(allows(m, base - 8, 8, ACCESS_READ, PRIV_U));
	assert_false(allows(m, base, 4, ACCESS_EXEC, PRIV_U));
	/* smallest NAPOT: 8 bytes */
	pmp_set(m, 2, PMP_NAPOT | PMP_X, (base + 2 * size) >> 2);
	assert_true(allows(m, base + 2 * size, 8, ACCESS_EXEC, PRIV_U));
	assert_false(allows(m, base + 2 * size + 8, 4, ACCESS_EXEC, PRIV_U));
}

/* The lowest-numbered matching entry decides. */
static void test_pmp_priority(void **state)
{
	struct machine *m = *state;
	uint64_t inner = DATA_BASE + 0x1000;
	pmp_set(m, 0, PMP_NAPOT | PMP_R, (inner >> 2) | (0x1000 / 8 - 1));
	pmp_set(m, 1, PMP_NAPOT | PMP_R | PMP_W, (DATA_BASE >> 2) | (0x10000 / 8 - 1));
	assert_false(allows(m, inner, 8, ACCESS_WRITE, PRIV_U));
	assert_true(allows(m, inner, 8, ACCESS_READ, PRIV_U));
	assert_true(allows(m, DATA_BASE, 8, ACCESS_WRITE, PRIV_U));
	assert_true(allows(m, inner + 0x1000, 8, ACCESS_WRITE, PRIV_U));
}

/* pmp_allows remembers the window its last decision holds for: an entry
 * that also covers a higher-priority entry's range decides only around it,
 * the gaps between entries decide "no match", and a CSR write forgets. */
static void test_pmp_window(void **state)
{
	struct machine *m = *state;
	uint64_t inner = DATA_BASE + 0x1000;
	pmp_set(m, 0, PMP_NAPOT | PMP_R, (inner >> 2) | (0x1000 / 8 - 1));
	pmp_set(m, 1, PMP_NAPOT | PMP_R | PMP_W, (DATA_BASE >> 2) | (0x10000 / 8 - 1));
	assert_true(allows(m, DATA_BASE, 8, ACCESS_WRITE, PRIV_U)); /* below entry 0 */
	assert_false(allows(m, inner, 8, ACCESS_WRITE, PRIV_U));    /* entry 0 decides */
	assert_true(allows(m, inner + 0x1000, 8, ACCESS_WRITE, PRIV_U)); /* above it */
	assert_false(allows(m, inner + 0xff8, 8, ACCESS_WRITE, PRIV_U));
	assert_false(allows(m, inner + 0xffc, 8, ACCESS_WRITE, PRIV_U)); /* partial */
	assert_true(allows(m, inner + 0x1000, 8, ACCESS_WRITE, PRIV_U));
	/* The gap above both: M alone, and a locked entry above it binds M. */
	uint64_t high = DATA_BASE + 0x20000;
	pmp_set(m, 2, PMP_L | PMP_NAPOT, (high >> 2) | (0x1000 / 8 - 1));
	assert_true(allows(m, DATA_BASE + 0x10000, 8, ACCESS_READ, PRIV_M));
	assert_false(allows(m, DATA_BASE + 0x10000, 8, ACCESS_READ, PRIV_S));
	assert_false(allows(m, high, 8, ACCESS_READ, PRIV_M));
	assert_true(allows(m, high - 8, 8, ACCESS_READ, PRIV_M));
	assert_false(allows(m, high - 4, 8, ACCESS_READ, PRIV_M)); /* partial */
	/* A write to an entry forgets what the last decision covered. */
	assert_true(allows(m, DATA_BASE, 8, ACCESS_WRITE, PRIV_U));
	pmp_set(m, 1, PMP_NAPOT | PMP_R, (DATA_BASE >> 2) | (0x10000 / 8 - 1));
	assert_false(allows(m, DATA_BASE, 8, ACCESS_WRITE, PRIV_U));
	assert_true(allows(m, DATA_BASE, 8, ACCESS_READ, PRIV_U));
	pmp_set(m, 1, PMP_NAPOT | PMP_R, (DATA_BASE >> 2) | (0x2000 / 8 - 1));
	assert_false(allows(m, DATA_BASE + 0x8000, 8, ACCESS_READ, PRIV_U));
	/* An access that wraps past the top of the space matches nothing whole. */
	pmp_set(m, 3, PMP_NAPOT | PMP_R, ~0ULL >> 10);
	assert_false(allows(m, ~0ULL - 3, 8, ACCESS_READ, PRIV_U));
	assert_true(allows(m, DATA_BASE + 0x8000, 8, ACCESS_READ, PRIV_U));
	assert_false(allows(m, ~0ULL - 3, 8, ACCESS_READ, PRIV_U));
}

static void test_pmp_locked(void **state)
{
	struct machine *m = *state;
	uint64_t base = DATA_BASE, size = 0x1000;
	uint64_t napot = (base >> 2) | (size / 8 - 1);
	pmp_set(m, 3, PMP_L | PMP_NAPOT | PMP_R, napot);
	assert_false(allows(m, base, 8, ACCESS_WRITE, PRIV_M)); /* L applies to M */
	assert_false(allows(m, base, 4, ACCESS_EXEC, PRIV_M));
	assert_true(allows(m, base, 8, ACCESS_READ, PRIV_M));
	/* locked: cfg and addr writes are ignored until reset */
	pmp_set(m, 3, PMP_NAPOT | PMP_R | PMP_W | PMP_X, 0);
	assert_int_equal(pmp_cfg(m, 3), PMP_L | PMP_NAPOT | PMP_R);
	assert_int_equal(m->hart.pmpaddr[3], napot);
	assert_false(allows(m, base, 8, ACCESS_WRITE, PRIV_M));
	/* its neighbours in the same pmpcfg register stay writable */
	pmp_set(m, 2, PMP_NA4 | PMP_R, 0x100);
	assert_int_equal(pmp_cfg(m, 2), PMP_NA4 | PMP_R);

	/* A locked TOR entry also locks the pmpaddr below it. */
	pmp_set(m, 8, 0, (base + 0x4000) >> 2);
	pmp_set(m, 9, PMP_L | PMP_TOR | PMP_R, (base + 0x5000) >> 2);
	assert_int_equal(csr_write(&m->hart, CSR_PMPADDR0 + 8, 0), 0);
	assert_int_equal(m->hart.pmpaddr[8], (base + 0x4000) >> 2);
	assert_false(allows(m, base + 0x4000, 4, ACCESS_WRITE, PRIV_M));
	assert_true(allows(m, base + 0x3ff8, 8, ACCESS_WRITE, PRIV_M));
}

/* Regression (found by this test, fixed in 6161b43): a TOR entry whose
 * pmpaddr[i-1] >= pmpaddr[i] is empty.  Privileged spec, PMP address matching: "If
 * pmpaddr(i-1) >= pmpaddr(i) and pmpcfg(i).A=TOR, then PMP entry i matches
 * no addresses."  The bug treated an access straddling the (empty) bound as
 * a partial match and denied it instead of moving on to entry i+1. */
static void test_pmp_empty_tor_matches_nothing(void **state)
{
	struct machine *m = *state;
	uint64_t bound = DATA_BASE + 4;
	pmp_set(m, 0, 0, bound >> 2);
	pmp_set(m, 1, PMP_TOR, bound >> 2);  /* [bound, bound): empty, no permissions */
	pmp_set(m, 2, PMP_NAPOT | PMP_R | PMP_W, (DATA_BASE >> 2) | (0x1000 / 8 - 1));
	assert_true(allows(m, DATA_BASE + 8, 8, ACCESS_READ, PRIV_U)); /* away from the bound */
	assert_true(allows(m, DATA_BASE, 8, ACCESS_READ, PRIV_U));     /* across it */
}

static void test_pmp_w_without_r(void **state)
{
	struct machine *m = *state;
	pmp_set(m, 0, PMP_NAPOT | PMP_W, (DATA_BASE >> 2) | 0x1ff);
	uint8_t cfg = pmp_cfg(m, 0);
	assert_false((cfg & (PMP_R | PMP_W)) == PMP_W); /* R=0 W=1 is reserved */
	assert_false(allows(m, DATA_BASE, 8, ACCESS_WRITE, PRIV_U));
}

/* PMP enforced on real accesses from U-mode, with the right causes. */
static void test_pmp_enforced_on_access(void **state)
{
	struct machine *m = *state;
	pmp_set(m, 0, PMP_NAPOT | PMP_R | PMP_X, (CODE_BASE >> 2) | (0x10000 / 8 - 1));
	pmp_set(m, 1, PMP_NAPOT | PMP_R, (DATA_BASE >> 2) | (0x1000 / 8 - 1));
	set_priv(m, PRIV_U);
	m->hart.x[A0] = DATA_BASE;
	m->hart.x[A1] = DATA_BASE + 0x1000;
	assert_true(try_exec(m, ld(T0, A0, 8)));
	poke(m, CODE_BASE, sd(T0, A0, 8), 4);
	run_from(m, CODE_BASE, 1);
	assert_mtrap(m, EXC_STORE_ACCESS, CODE_BASE, DATA_BASE + 8);
	set_priv(m, PRIV_U);
	poke(m, CODE_BASE, ld(T0, A1, 0), 4);
	run_from(m, CODE_BASE, 1);
	assert_mtrap(m, EXC_LOAD_ACCESS, CODE_BASE, DATA_BASE + 0x1000);
	/* straddling the region's end: part matches, so it fails */
	set_priv(m, PRIV_U);
	poke(m, CODE_BASE, ld(T0, A1, -4), 4);
	run_from(m, CODE_BASE, 1);
	assert_int_equal(m->hart.mcause, EXC_LOAD_ACCESS);
	/* fetch outside any X region */
	set_priv(m, PRIV_U);
	poke(m, DATA_BASE, nop(), 4);
	run_from(m, DATA_BASE, 1);
	assert_mtrap(m, EXC_INSN_ACCESS, DATA_BASE, DATA_BASE);
	/* M is not restricted by unlocked entries */
	assert_true(try_exec(m, sd(T0, A0, 8)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		VM_TEST(test_misa),
		VM_TEST(test_mhartid),
		VM_TEST(test_mstatus_warl),
		VM_TEST(test_sstatus_is_a_view),
		VM_TEST(test_sie_sip_masked_by_mideleg),
		VM_TEST(test_mip_m_bits_read_only),
		VM_TEST(test_mip_rmw_does_not_latch_hw_seip),
		VM_TEST(test_stip_read_only_with_sstc),
		VM_TEST(test_delegation_registers),
		VM_TEST(test_tvec_modes),
		VM_TEST(test_epc_low_bit_clear),
		VM_TEST(test_satp_modes),
		VM_TEST(test_tvm),
		VM_TEST(test_tsr),
		VM_TEST(test_tw_and_wfi),
		VM_TEST(test_wfi_wakes_with_interrupts_disabled),
		VM_TEST(test_counter_enables),
		VM_TEST(test_counter_writes),
		VM_TEST(test_read_only_csr_writes_trap),
		VM_TEST(test_csr_privilege),
		VM_TEST(test_fp_csrs_need_fs),
		VM_TEST(test_mret),
		VM_TEST(test_sret),
		VM_TEST(test_interrupt_from_csr_write),
		VM_TEST(test_interrupt_priority),
		VM_TEST(test_interrupt_enables),
		VM_TEST(test_interrupt_delegation),
		VM_TEST(test_interrupt_after_xret),
		VM_TEST(test_vectored_tvec),
		VM_TEST(test_pmp_off),
		VM_TEST(test_pmp_tor),
		VM_TEST(test_pmp_na4_napot),
		VM_TEST(test_pmp_priority),
		VM_TEST(test_pmp_window),
		VM_TEST(test_pmp_locked),
		VM_TEST(test_pmp_empty_tor_matches_nothing),
		VM_TEST(test_pmp_w_without_r),
		VM_TEST(test_pmp_enforced_on_access),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
