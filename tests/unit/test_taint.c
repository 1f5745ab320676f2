/* Byte taint (vm/taps.h section 8, vm/taps_taint.c): small programs run
 * with labelled memory and registers, and the labels each instruction
 * leaves are checked against the rules in docs/analyze.md ("Byte taint"):
 * loads and stores carry the data's labels and never the address's, ALU
 * results take the union of their sources, constants and links are clean,
 * AMOs combine, FP moves carry labels across the register files, a trapped
 * instruction changes nothing, and writes no instruction makes (DMA,
 * debuggers) leave clean bytes.
 */
#include "cpu/decode.h"
#include "harness.h"
#include "vm/taps.h"

#define L1 0x1u
#define L2 0x2u
#define L4 0x4u

static uint32_t fld(unsigned rd, unsigned rs1, int32_t imm) { return enc_i(imm, rs1, 3, rd, 0x07); }
static uint32_t fsd(unsigned rs2, unsigned rs1, int32_t imm) { return enc_s(imm, rs2, rs1, 3, 0x27); }
static uint32_t fadd_d(unsigned rd, unsigned rs1, unsigned rs2)
{
	return enc_r(0x01, rs2, rs1, 7, rd, 0x53);
}
static uint32_t fmv_x_d(unsigned rd, unsigned rs1) { return enc_r(0x71, 0, rs1, 0, rd, 0x53); }
static uint32_t fmv_d_x(unsigned rd, unsigned rs1) { return enc_r(0x79, 0, rs1, 0, rd, 0x53); }
static uint32_t xor_(unsigned rd, unsigned rs1, unsigned rs2) { return op(0, 4, rd, rs1, rs2); }
static uint32_t slli(unsigned rd, unsigned rs1, unsigned sh) { return shift_imm(0, 1, rd, rs1, sh); }

static uint32_t q(struct machine *m, uint64_t pa, uint64_t len)
{
	return taps_taint_query(m, pa, len, NULL);
}

static void run_from_code(struct machine *m, uint64_t steps)
{
	m->hart.pc = CODE_BASE;
	assert_int_equal(machine_run(m, steps), STOP_BUDGET);
}

static void enable(struct machine *m)
{
	assert_int_equal(taps_taint_enable(m), 0);
	assert_true(taps_taint_enabled(m));
}

/* ---- loads, stores, ALU ---- */

static void test_load_alu_store(void **state)
{
	struct machine *m = *state;
	enable(m);
	assert_int_equal(taps_taint_label(m, DATA_BASE, 8, L1), 0);
	assert_int_equal(taps_taint_label(m, DATA_BASE + 9, 1, L2), 0);
	struct code c = code_at(m, CODE_BASE);
	emit(&c, ld(T0, A0, 0)); /* t0: L1 */
	emit(&c, lbu(T1, A0, 9)); /* t1: L2 */
	emit(&c, lbu(T2, A0, 8)); /* t2: clean (byte 8 is not labelled) */
	emit(&c, add(S0, T0, T1)); /* s0: L1|L2 */
	emit(&c, slli(S1, T1, 8)); /* s1: L2 */
	emit(&c, sd(S0, A0, 16)); /* bytes 16..23: L1|L2 */
	emit(&c, sb(S1, A0, 24)); /* byte 24: L2 */
	emit(&c, sh(T2, A0, 0)); /* a clean store cleans bytes 0..1 */
	emit_halt(&c);
	m->hart.x[A0] = DATA_BASE;
	run_from_code(m, 8);
	assert_int_equal(taps_taint_xreg(m, T0), L1);
	assert_int_equal(taps_taint_xreg(m, T1), L2);
	assert_int_equal(taps_taint_xreg(m, T2), 0);
	assert_int_equal(taps_taint_xreg(m, S0), L1 | L2);
	assert_int_equal(taps_taint_xreg(m, S1), L2);
	assert_int_equal(q(m, DATA_BASE + 16, 8), L1 | L2);
	assert_int_equal(q(m, DATA_BASE + 15, 1), 0);
	assert_int_equal(q(m, DATA_BASE + 24, 1), L2);
	assert_int_equal(q(m, DATA_BASE + 25, 1), 0);
	uint32_t per[8];
	assert_int_equal(taps_taint_query(m, DATA_BASE, 8, per), L1);
	assert_int_equal(per[0] | per[1], 0);
	for (int i = 2; i < 8; i++)
		assert_int_equal(per[i], L1);
}

/* The address a load or store uses carries nothing to the data. */
static void test_address_not_data(void **state)
{
	struct machine *m = *state;
	enable(m);
	struct code c = code_at(m, CODE_BASE);
	emit(&c, ld(T0, A0, 0));
	emit(&c, sd(T1, A0, 8));
	emit_halt(&c);
	m->hart.x[A0] = DATA_BASE;
	assert_int_equal(taps_taint_set_xreg(m, A0, L4), 0);
	run_from_code(m, 2);
	assert_int_equal(taps_taint_xreg(m, T0), 0);
	assert_int_equal(q(m, DATA_BASE, 16), 0);
	assert_int_equal(taps_taint_xreg(m, A0), L4);
}

/* Constants, links, CSR reads and the zeroing idioms are clean; a move
 * keeps its source's labels. */
static void test_clean_results(void **state)
{
	struct machine *m = *state;
	enable(m);
	struct code c = code_at(m, CODE_BASE);
	emit(&c, lui(T0, 0x12345));
	emit(&c, auipc(T1, 0));
	emit(&c, xor_(T2, A1, A1));
	emit(&c, csrrw(S0, CSR_MSCRATCH, A1)); /* s0: the old mscratch, clean */
	emit(&c, addi(S1, A1, 0)); /* mv s1, a1 */
	emit(&c, jal(A2, 4)); /* a2: the link */
	emit(&c, jalr(A3, A4, 0)); /* a3: the link, not a4's labels */
	emit_halt(&c);
	for (unsigned r = T0; r <= T2; r++)
		taps_taint_set_xreg(m, r, L4);
	taps_taint_set_xreg(m, S0, L4);
	taps_taint_set_xreg(m, A1, L1);
	taps_taint_set_xreg(m, A2, L4);
	taps_taint_set_xreg(m, A3, L4);
	taps_taint_set_xreg(m, A4, L2);
	m->hart.x[A4] = CODE_BASE + 7 * 4;
	run_from_code(m, 7);
	assert_int_equal(taps_taint_xreg(m, T0), 0);
	assert_int_equal(taps_taint_xreg(m, T1), 0);
	assert_int_equal(taps_taint_xreg(m, T2), 0);
	assert_int_equal(taps_taint_xreg(m, S0), 0);
	assert_int_equal(taps_taint_xreg(m, S1), L1);
	assert_int_equal(taps_taint_xreg(m, A2), 0);
	assert_int_equal(taps_taint_xreg(m, A3), 0);
	assert_int_equal(m->hart.pc, CODE_BASE + 7 * 4);
	/* x0 stays clean whatever is asked */
	taps_taint_set_xreg(m, ZERO, L1);
	assert_int_equal(taps_taint_xreg(m, ZERO), 0);
}

/* ---- AMOs ---- */

static void test_amo(void **state)
{
	struct machine *m = *state;
	enable(m);
	taps_taint_label(m, DATA_BASE, 8, L1);
	taps_taint_label(m, DATA_BASE + 8, 8, L1);
	struct code c = code_at(m, CODE_BASE);
	emit(&c, amo(AMO_ADD, 3, T0, A0, A1)); /* t0: old (L1); memory: L1|L2 */
	emit(&c, amo(AMO_SWAP, 3, T1, A2, A1)); /* t1: old (L1); memory: L2 */
	emit(&c, lr_d(T2, A3)); /* t2: clean bytes 16.. */
	emit(&c, sc_d(S0, A3, A4)); /* stores a4's L4; s0 (success) clean */
	emit(&c, sc_d(S1, A3, A1)); /* no reservation: stores nothing */
	emit_halt(&c);
	m->hart.x[A0] = DATA_BASE;
	m->hart.x[A2] = DATA_BASE + 8;
	m->hart.x[A3] = DATA_BASE + 16;
	taps_taint_set_xreg(m, A1, L2);
	taps_taint_set_xreg(m, A4, L4);
	taps_taint_set_xreg(m, S0, L1);
	run_from_code(m, 5);
	assert_int_equal(taps_taint_xreg(m, T0), L1);
	assert_int_equal(q(m, DATA_BASE, 8), L1 | L2);
	assert_int_equal(taps_taint_xreg(m, T1), L1);
	assert_int_equal(q(m, DATA_BASE + 8, 8), L2);
	assert_int_equal(taps_taint_xreg(m, T2), 0);
	assert_int_equal(m->hart.x[S0], 0); /* it did store */
	assert_int_equal(taps_taint_xreg(m, S0), 0);
	assert_int_equal(m->hart.x[S1], 1); /* it did not */
	assert_int_equal(q(m, DATA_BASE + 16, 8), L4);
}

/* ---- FP ---- */

static void test_fp(void **state)
{
	struct machine *m = *state;
	enable(m);
	set_mstatus_bits(m, MSTATUS_FS, 0);
	taps_taint_label(m, DATA_BASE, 8, L1);
	struct code c = code_at(m, CODE_BASE);
	emit(&c, fld(1, A0, 0)); /* f1: L1 */
	emit(&c, fmv_d_x(2, A1)); /* f2: L2 */
	emit(&c, fadd_d(3, 1, 2)); /* f3: L1|L2 */
	emit(&c, fsd(3, A0, 8)); /* bytes 8..15: L1|L2 */
	emit(&c, fmv_x_d(T0, 3)); /* t0: L1|L2 */
	emit(&c, fmv_d_x(1, ZERO)); /* f1: clean */
	emit_halt(&c);
	m->hart.x[A0] = DATA_BASE;
	taps_taint_set_xreg(m, A1, L2);
	run_from_code(m, 6);
	assert_int_equal(taps_taint_freg(m, 2), L2);
	assert_int_equal(taps_taint_freg(m, 3), L1 | L2);
	assert_int_equal(q(m, DATA_BASE + 8, 8), L1 | L2);
	assert_int_equal(taps_taint_xreg(m, T0), L1 | L2);
	assert_int_equal(taps_taint_freg(m, 1), 0);
}

/* ---- traps, DMA, on and off ---- */

/* A load that faults writes no register: its destination keeps its labels. */
static void test_trapped(void **state)
{
	struct machine *m = *state;
	enable(m);
	poke(m, CODE_BASE, ld(T1, A0, 0), 4); /* nothing at 0x10: access fault */
	m->hart.x[A0] = 0x10;
	taps_taint_set_xreg(m, T1, L2);
	run_from_code(m, 1);
	assert_int_equal(m->hart.pc, MTRAP_BASE);
	assert_int_equal(taps_taint_xreg(m, T1), L2);
}

/* A write no instruction makes (a debugger's, a device's DMA) leaves
 * clean bytes; bytes outside RAM are never labelled. */
static void test_external_write_cleans(void **state)
{
	struct machine *m = *state;
	enable(m);
	taps_taint_label(m, DATA_BASE, 16, L1);
	uint8_t zero[4] = {0};
	assert_int_equal(taps_write_phys(m, DATA_BASE + 4, zero, sizeof(zero)), MV_OK);
	assert_int_equal(q(m, DATA_BASE, 4), L1);
	assert_int_equal(q(m, DATA_BASE + 4, 4), 0);
	assert_int_equal(q(m, DATA_BASE + 8, 8), L1);
	assert_int_equal(taps_taint_label(m, 0x10, 4, L1), -1);
	assert_int_equal(taps_taint_label(m, DRAM_BASE + RAM_SIZE - 2, 4, L1), -1);
	assert_int_equal(q(m, 0x10, 4), 0);
}

/* Off: nothing is labelled, queries say clean, and the hart has its
 * decoded blocks back. */
static void test_off(void **state)
{
	struct machine *m = *state;
	assert_false(taps_taint_enabled(m));
	assert_int_equal(taps_taint_label(m, DATA_BASE, 1, L1), -1);
	enable(m);
	enable(m); /* twice: no change */
	taps_taint_label(m, DATA_BASE, 1, L1);
	poke(m, CODE_BASE, nop(), 4);
	run_from_code(m, 1);
	assert_null(m->hart.blocks);
	taps_taint_disable(m);
	assert_false(taps_taint_enabled(m));
	assert_int_equal(q(m, DATA_BASE, 1), 0);
	assert_non_null(m->hart.blocks);
	assert_null(m->hart.effect_hook);
	assert_null(m->bus.ram_write_hook);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		VM_TEST(test_load_alu_store),
		VM_TEST(test_address_not_data),
		VM_TEST(test_clean_results),
		VM_TEST(test_amo),
		VM_TEST(test_fp),
		VM_TEST(test_trapped),
		VM_TEST(test_external_write_cleans),
		VM_TEST(test_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
