/* The taps (vm/taps.h): the memory view, stop points, event observers and
 * the trap hook, each against a real hart and board. */
#include <inttypes.h>

#include "harness.h"
#include "vm/taps.h"

/* ---- the memory view ---- */

#define MV_VA_4K 0x0000000040001000ULL
#define MV_VA_2M 0x0000000040200000ULL
#define MV_VA_1G 0x0000000080000000ULL /* Sv39: the third 1 GiB page */
#define MV_VA_512G 0x0000008000000000ULL /* Sv48: the second 512 GiB page */

static struct memview view_of(struct machine *m)
{
	struct memview mv;
	taps_memview(m, &mv);
	return mv;
}

/* One table for each mode with a page of every size the mode has; the
 * memory view must find each leaf and report its size. */
static void test_memview_walks(void **state, int levels)
{
	struct machine *m = *state;
	struct pt pt;
	pt_init(&pt, m, levels);
	pt_map(&pt, MV_VA_4K, DATA_BASE, 0, PTE_R | PTE_W);
	pt_map(&pt, MV_VA_2M, DRAM_BASE + 0x200000, 1, PTE_R);
	pt_map(&pt, MV_VA_1G, DRAM_BASE, 2, PTE_R | PTE_X);
	if (levels == 4)
		pt_map(&pt, MV_VA_512G, 0, 3, PTE_R);
	poke64(m, DATA_BASE + 0x18, 0x1122334455667788ULL);
	poke64(m, DRAM_BASE + 0x200000 + 0x1230, 0xa5a5);
	struct memview mv = view_of(m);
	uint64_t satp = pt_satp(&pt), pa, size;

	assert_int_equal(memview_translate(&mv, satp, MV_VA_4K + 0x18, &pa, &size), MV_OK);
	assert_int_equal(pa, DATA_BASE + 0x18);
	assert_int_equal(size, 4096);
	uint64_t v = 0;
	assert_int_equal(memview_read_virt(&mv, satp, MV_VA_4K + 0x18, &v, 8), 8);
	assert_int_equal(v, 0x1122334455667788ULL);

	assert_int_equal(memview_translate(&mv, satp, MV_VA_2M + 0x1230, &pa, &size), MV_OK);
	assert_int_equal(pa, DRAM_BASE + 0x200000 + 0x1230);
	assert_int_equal(size, 2ULL << 20);
	v = 0;
	assert_int_equal(memview_read_virt(&mv, satp, MV_VA_2M + 0x1230, &v, 8), 8);
	assert_int_equal(v, 0xa5a5);

	assert_int_equal(memview_translate(&mv, satp, MV_VA_1G + 0x10018, &pa, &size), MV_OK);
	assert_int_equal(pa, DRAM_BASE + 0x10018);
	assert_int_equal(size, 1ULL << 30);

	if (levels == 4) {
		uint64_t va = MV_VA_512G + DRAM_BASE + 0x10018;
		assert_int_equal(memview_translate(&mv, satp, va, &pa, &size), MV_OK);
		assert_int_equal(pa, DRAM_BASE + 0x10018);
		assert_int_equal(size, 512ULL << 30);
		v = 0;
		assert_int_equal(memview_read_virt(&mv, satp, va, &v, 8), 8);
		assert_int_equal(v, 0x1122334455667788ULL);
	}

	/* The hart's own walk agrees on every page (the view is a second MMU
	 * and must not drift from the first). */
	assert_int_equal(csr_write_debug(&m->hart, CSR_SATP, satp), 0);
	set_priv(m, PRIV_S);
	uint64_t hart_pa;
	assert_int_equal(hart_translate_debug(&m->hart, MV_VA_2M + 0x1230, &hart_pa), 0);
	assert_int_equal(hart_pa, DRAM_BASE + 0x200000 + 0x1230);
	/* ... and the view took no A/D bits on the way. */
	assert_int_equal(peek64(m, pt_slot(&pt, MV_VA_4K, 0)) & (PTE_A | PTE_D), 0);
}

static void test_memview_sv39(void **state) { test_memview_walks(state, 3); }
static void test_memview_sv48(void **state) { test_memview_walks(state, 4); }

static void test_memview_faults(void **state)
{
	struct machine *m = *state;
	struct pt pt;
	pt_init(&pt, m, 3);
	pt_map(&pt, MV_VA_4K, DATA_BASE, 0, PTE_R);
	struct memview mv = view_of(m);
	uint64_t satp = pt_satp(&pt), pa;
	uint8_t buf[8192];

	/* unmapped, and not canonical */
	assert_int_equal(memview_translate(&mv, satp, MV_VA_4K + 0x1000, &pa, NULL), MV_FAULT);
	assert_int_equal(memview_translate(&mv, satp, 0x0000004000000000ULL, &pa, NULL), MV_FAULT);
	/* a read that runs off the mapped page stops there */
	assert_int_equal(memview_read_virt(&mv, satp, MV_VA_4K + 0xff0, buf, 64), 16);
	/* a misaligned superpage */
	pt_map(&pt, MV_VA_2M, DRAM_BASE + 0x1000, 1, PTE_R);
	assert_int_equal(memview_translate(&mv, satp, MV_VA_2M, &pa, NULL), MV_FAULT);
	/* a table outside RAM, and a table that points at itself: the walk
	 * ends (it has at most three levels) and finds no leaf */
	uint64_t root_slot = pt.root + ((0x0000000000600000ULL >> 30) & 0x1ff) * 8;
	poke64(m, root_slot, pte_make(0x10000000ULL, PTE_V)); /* the UART's page */
	assert_int_equal(memview_translate(&mv, satp, 0x0000000000600000ULL, &pa, NULL), MV_FAULT);
	poke64(m, root_slot, pte_make(pt.root, PTE_V));
	assert_int_equal(memview_translate(&mv, satp, 0x0000000000600000ULL, &pa, NULL), MV_FAULT);
	/* a mode the view does not walk */
	assert_int_equal(memview_translate(&mv, 10ULL << 60, 0, &pa, NULL), MV_BAD_SATP);
	/* physical reads: RAM's edges, and nothing past them */
	assert_int_equal(memview_read_phys(&mv, DRAM_BASE + RAM_SIZE - 8, buf, 8), MV_OK);
	assert_int_equal(memview_read_phys(&mv, DRAM_BASE + RAM_SIZE - 8, buf, 9), MV_NOT_RAM);
	assert_int_equal(memview_read_phys(&mv, UINT64_MAX - 3, buf, 8), MV_NOT_RAM);
	assert_int_equal(memview_read_phys(&mv, DRAM_BASE - 1, buf, 2), MV_NOT_RAM);
}

/* A byte waiting in the UART's receive buffer stays there whatever the
 * view is asked to read: MMIO is never touched. */
static void test_memview_never_touches_mmio(void **state)
{
	(void)state;
	struct machine *m = new_machine(BOARD_VIRT, 16ULL << 20);
	const uint8_t typed = 'k';
	assert_int_equal(machine_console_input(m, &typed, 1), 1);
	struct memview mv = view_of(m);
	uint8_t buf[8];
	assert_int_equal(memview_read_phys(&mv, VIRT_UART_BASE, buf, 1), MV_NOT_RAM);
	assert_int_equal(memview_read_virt(&mv, 0, VIRT_UART_BASE, buf, 1), 0);
	assert_int_equal(taps_write_phys(m, VIRT_UART_BASE, buf, 1), MV_NOT_RAM);
	/* the ROM reads, but cannot be written through the view */
	assert_int_equal(memview_read_phys(&mv, VIRT_MROM_BASE, buf, 4), MV_OK);
	assert_int_equal(taps_write_phys(m, VIRT_MROM_BASE, buf, 4), MV_NOT_RAM);
	/* the byte is still there for the guest: LSR data-ready, then RBR */
	uint64_t lsr = 0, rbr = 0;
	assert_int_equal(bus_read(&m->bus, VIRT_UART_BASE + 5, 1, &lsr), 0);
	assert_true(lsr & 1);
	assert_int_equal(bus_read(&m->bus, VIRT_UART_BASE, 1, &rbr), 0);
	assert_int_equal(rbr, 'k');
	free_machine(m);
}

/* A write through the view is a write the bus sees: decoded code of that
 * page goes stale, so the hart runs the new instruction. */
static void test_write_through_view_reaches_code(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, addi(A0, ZERO, 1));
	emit_halt(&c);
	run_from(m, CODE_BASE, 10);
	assert_int_equal(m->hart.x[A0], 1);
	uint32_t patched = addi(A0, ZERO, 2);
	assert_int_equal(taps_write_phys(m, CODE_BASE, &patched, 4), MV_OK);
	run_from(m, CODE_BASE, 10);
	assert_int_equal(m->hart.x[A0], 2);
}

/* ---- registers ---- */

/* The data access the next instruction would make, decoded without
 * running it; the compressed encoding is c.sd a1, 8(a0). */
static void test_next_access(void **state)
{
	struct machine *m = *state;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, sd(T0, A0, -8));
	emit(&c, lbu(T1, A1, 3));
	emit(&c, amo(AMO_ADD, 2, T2, A2, T0));
	emit(&c, lr_d(T2, A2));
	emit(&c, sc_w(T2, A2, T0));
	emit(&c, addi(T0, T0, 1));
	emit16(&c, 0xe50c);
	m->hart.x[A0] = DATA_BASE + 16;
	m->hart.x[A1] = DATA_BASE + 0x100;
	m->hart.x[A2] = DATA_BASE + 0x200;
	const struct tap_next_access want[] = {
		{DATA_BASE + 8, 8, false, true}, {DATA_BASE + 0x103, 1, true, false},
		{DATA_BASE + 0x200, 4, true, true}, {DATA_BASE + 0x200, 8, true, false},
		{DATA_BASE + 0x200, 4, false, true}, {0}, {DATA_BASE + 24, 8, false, true},
	};
	uint64_t pc = CODE_BASE;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct tap_next_access a;
		m->hart.pc = pc;
		pc += i == 6 ? 2 : 4;
		if (!want[i].size) {
			assert_int_equal(taps_next_access(m, &a), 1);
			continue;
		}
		assert_int_equal(taps_next_access(m, &a), 0);
		assert_int_equal(a.va, want[i].va);
		assert_int_equal(a.size, want[i].size);
		assert_int_equal(a.read, want[i].read);
		assert_int_equal(a.write, want[i].write);
	}
	m->hart.pc = 0x10; /* nothing there to fetch */
	struct tap_next_access a;
	assert_int_equal(taps_next_access(m, &a), -1);
	assert_int_equal(m->hart.icount, 0); /* nothing ran */
}

static void test_regs_snapshot(void **state)
{
	struct machine *m = *state;
	m->hart.x[A0] = 42;
	m->hart.pc = CODE_BASE + 8;
	m->hart.f[3] = 7;
	struct tap_regs r;
	taps_regs(m, &r);
	assert_int_equal(r.x[A0], 42);
	assert_int_equal(r.x[0], 0);
	assert_int_equal(r.pc, CODE_BASE + 8);
	assert_int_equal(r.f[3], 7);
	assert_int_equal(r.priv, PRIV_M);
	assert_int_equal(taps_set_xreg(m, 0, 5), 0);
	assert_int_equal(m->hart.x[0], 0);
	assert_int_equal(taps_set_xreg(m, 32, 5), -1);
	assert_int_equal(taps_set_priv(m, 2), -1);
	assert_int_equal(taps_set_priv(m, PRIV_S), 0);
	assert_int_equal(m->hart.priv, PRIV_S);
	assert_int_equal(taps_current_satp(m), m->hart.satp);
}

/* ---- stop points ---- */

/* A counting loop: a0 += 1 forever. */
static void emit_count_loop(struct machine *m)
{
	struct code c = code_at(m, CODE_BASE);
	emit(&c, addi(A0, A0, 1));
	emit(&c, jal(ZERO, -4));
	m->hart.pc = CODE_BASE;
}

struct stop_log {
	uint64_t at[8];
	unsigned n;
	bool again; /* add a point 100 further on from the callback */
};

static bool note_stop(void *opaque, struct machine *m, uint64_t icount)
{
	struct stop_log *l = opaque;
	assert_int_equal(icount, taps_icount(m));
	l->at[l->n++] = icount;
	if (l->again) {
		l->again = false;
		taps_stop_at(m, icount + 100, note_stop, l);
	}
	return false;
}

static void test_stop_points(void **state)
{
	struct machine *m = *state;
	emit_count_loop(m);
	struct stop_log l = {.again = true};
	/* added out of order, one of them twice, one with no callback */
	assert_int_equal(taps_stop_at(m, 5000, note_stop, &l), 0);
	assert_int_equal(taps_stop_at(m, 1234, note_stop, &l), 0);
	assert_int_equal(taps_stop_at(m, 70001, NULL, NULL), 0);
	assert_int_equal(taps_stop_at(m, 1234, note_stop, &l), 0);
	assert_int_equal(taps_stop_at(m, 90000, note_stop, &l), 0);
	assert_int_equal(taps_next_stop(m), 1234);
	/* callbacks that run on do not stop the run; the bare point does */
	assert_int_equal(machine_run(m, 0), STOP_AT);
	assert_int_equal(taps_icount(m), 70001);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.at[0], 1234);
	assert_int_equal(l.at[1], 1234);
	assert_int_equal(l.at[2], 1334); /* added by the first callback */
	assert_int_equal(l.at[3], 5000);
	/* cancel removes only the owner's points */
	taps_stop_cancel(m, &l);
	assert_int_equal(taps_next_stop(m), UINT64_MAX);
	assert_int_equal(machine_run(m, 50000), STOP_BUDGET);
	assert_int_equal(l.n, 4);
	/* a point in the past fires before any instruction */
	uint64_t now = taps_icount(m);
	assert_int_equal(taps_stop_at(m, 10, NULL, NULL), 0);
	assert_int_equal(machine_run(m, 0), STOP_AT);
	assert_int_equal(taps_icount(m), now);
	/* the set is bounded */
	for (unsigned i = 0; i < TAPS_MAX_STOPS; i++)
		assert_int_equal(taps_stop_at(m, now + 1000 + i, NULL, NULL), 0);
	assert_int_equal(taps_stop_at(m, now + 5, NULL, NULL), -1);
}

/* ---- input between runs lands where replay stops ---- */

/* A loop whose every other step traps (a load from address 0, skipped by
 * the handler), with the machine timer armed but far away.  The handler
 * logs each mcause at DATA_BASE, so the order of the load faults and the
 * one timer interrupt is in RAM. */
#define ORDER_HANDLER (CODE_BASE + 0x400)
#define ORDER_LOG_MAX 64

static void emit_fault_loop(struct machine *m)
{
	struct code c = code_at(m, ORDER_HANDLER);
	emit(&c, csrr(T3, CSR_MCAUSE));
	emit(&c, sd(T3, A0, 0));
	emit(&c, addi(A0, A0, 8));
	emit(&c, blt(T3, ZERO, 20)); /* an interrupt: to the two below */
	emit(&c, csrr(T6, CSR_MEPC));
	emit(&c, addi(T6, T6, 4));
	emit(&c, csrw(CSR_MEPC, T6));
	emit(&c, mret());
	emit(&c, sd(T5, T4, 0)); /* the timer: mtimecmp = never again */
	emit(&c, mret());
	c = code_at(m, CODE_BASE);
	emit_li(&c, A0, DATA_BASE);
	emit_li(&c, T4, VIRT_CLINT_BASE + 0x4000); /* mtimecmp */
	emit_li(&c, T5, UINT64_MAX);
	emit_li(&c, T0, ORDER_HANDLER);
	emit(&c, csrw(CSR_MTVEC, T0));
	emit(&c, addi(T0, ZERO, 1 << 7)); /* MTIE */
	emit(&c, csrw(CSR_MIE, T0));
	emit(&c, csrrsi(ZERO, CSR_MSTATUS, 8)); /* MIE */
	emit(&c, ld(T2, ZERO, 0)); /* the loop: a load that faults, */
	emit(&c, addi(S0, S0, 1));
	emit(&c, jal(ZERO, -8));
	m->clint.mtimecmp = 1000000; /* not before a time adjustment */
	m->hart.pc = CODE_BASE;
}

static struct machine *fault_loop_machine(void)
{
	void *state = NULL;
	assert_int_equal(vm_setup(&state), 0);
	emit_fault_loop(state);
	return state;
}

/* Run to instruction count `at` the way replay does: a stop point there. */
static void run_to_stop(struct machine *m, uint64_t at)
{
	assert_int_equal(taps_stop_at(m, at, NULL, NULL), 0);
	assert_int_equal(machine_run(m, 0), STOP_AT);
	assert_int_equal(taps_icount(m), at);
}

/* The same machine state and the same order of traps in RAM. */
static bool same_run(struct machine *a, struct machine *b)
{
	return a->hart.pc == b->hart.pc && a->hart.priv == b->hart.priv &&
	       a->hart.x[A0] == b->hart.x[A0] && a->hart.x[S0] == b->hart.x[S0] &&
	       !memcmp(ram_at(a, DATA_BASE, 8 * ORDER_LOG_MAX), ram_at(b, DATA_BASE, 8 * ORDER_LOG_MAX),
		       8 * ORDER_LOG_MAX);
}

/* Live: run `n` (steps, or instructions with `insns`), then the host's
 * input, a time adjustment that fires the timer, at whatever count that
 * was; replay: stop at that count, the same input.  Then both run on to
 * the same count.  True if they did the same. */
static bool input_replays(uint64_t n, bool insns)
{
	struct machine *live = fault_loop_machine(), *replay = fault_loop_machine();
	assert_int_equal(insns ? machine_run_insns(live, n) : machine_run(live, n), STOP_BUDGET);
	uint64_t at = taps_icount(live);
	machine_adjust_time(live, 2000000);
	run_to_stop(replay, at);
	machine_adjust_time(replay, 2000000);
	run_to_stop(live, at + 100);
	run_to_stop(replay, at + 100);
	bool same = same_run(live, replay);
	void *s = live;
	vm_teardown(&s);
	s = replay;
	vm_teardown(&s);
	return same;
}

/* The host loop delivers input between machine_run_insns calls, and the
 * log names only the instruction count.  A budget of steps can run out
 * just after a trap, at a count replay reaches before it: the timer
 * interrupt then came after a page fault live and before it in replay
 * (test_ids diverged about one run in six).  Whatever the budget,
 * machine_run_insns must stop where a stop point does. */
static void test_input_between_runs_replays(void **state)
{
	(void)state;
	unsigned step_budgets_that_differ = 0;
	for (uint64_t n = 1; n <= 60; n++) {
		if (!input_replays(n, true))
			fail_msg("machine_run_insns(%" PRIu64 ") stopped where replay cannot", n);
		step_budgets_that_differ += !input_replays(n, false);
	}
	/* What the test is about: with steps, each budget that ends just
	 * after a fault (one in the loop's eleven steps) does not replay. */
	assert_true(step_budgets_that_differ >= 3);
}

/* ---- event observers ---- */

struct event_copy {
	uint64_t icount[16];
	int kind[16];
	uint8_t first[16];
	unsigned n;
};

static void copy_event(void *opaque, uint64_t icount, enum event_kind kind, const void *payload,
		       size_t len)
{
	struct event_copy *c = opaque;
	if (c->n >= 16)
		return;
	c->icount[c->n] = icount;
	c->kind[c->n] = kind;
	c->first[c->n] = len ? *(const uint8_t *)payload : 0;
	c->n++;
}

static void test_event_observers(void **state)
{
	(void)state;
	struct machine *m = new_machine(BOARD_VIRT, 16ULL << 20);
	struct event_copy a = {0}, b = {0}, gone = {0};
	int ia = taps_event_subscribe(m, copy_event, &a);
	int ig = taps_event_subscribe(m, copy_event, &gone);
	int ib = taps_event_subscribe(m, copy_event, &b);
	assert_true(ia >= 0 && ig >= 0 && ib >= 0);
	taps_event_unsubscribe(m, ig);
	uint8_t typed[] = "ls\n";
	assert_int_equal(machine_console_input(m, typed, 3), 3);
	uint8_t rnd[4];
	assert_int_equal(events_entropy(&m->events, rnd, sizeof(rnd)), 0);
	machine_adjust_time(m, 5);
	for (struct event_copy *c = &a; c; c = c == &a ? &b : NULL) {
		assert_int_equal(c->n, 3);
		assert_int_equal(c->kind[0], EV_CONSOLE_INPUT);
		assert_int_equal(c->first[0], 'l');
		assert_int_equal(c->kind[1], EV_ENTROPY);
		assert_int_equal(c->first[1], rnd[0]);
		assert_int_equal(c->kind[2], EV_TIME_ADJUST);
	}
	assert_int_equal(gone.n, 0);
	/* every slot can be taken, and no more */
	taps_event_clear(m);
	for (unsigned i = 0; i < TAPS_MAX_SUBSCRIBERS; i++)
		assert_true(taps_event_subscribe(m, copy_event, &gone) >= 0);
	assert_int_equal(taps_event_subscribe(m, copy_event, &gone), -1);
	free_machine(m);
}

/* ---- the trap hook ---- */

struct trap_log {
	struct tap_trap traps[16];
	struct tap_trap_return rets[16];
	unsigned ntraps, nrets;
};

static void on_trap(void *opaque, const struct tap_trap *t)
{
	struct trap_log *l = opaque;
	if (l->ntraps < 16)
		l->traps[l->ntraps++] = *t;
}

static void on_return(void *opaque, const struct tap_trap_return *r)
{
	struct trap_log *l = opaque;
	if (l->nrets < 16)
		l->rets[l->nrets++] = *r;
}

static const struct tap_trap_ops trap_log_ops = {on_trap, on_return};

#define SYSCALL_HANDLER (DRAM_BASE + 0x8400)

/* A user program makes three syscalls; an M-mode "kernel" answers each
 * with a0 = nr * 1000 + a0 and returns past the ecall.  The hook must see
 * exactly those numbers, arguments and results, in order, at the exact
 * instruction counts. */
static void test_trap_hook_syscalls(void **state)
{
	struct machine *m = *state;
	struct code k = code_at(m, SYSCALL_HANDLER);
	emit(&k, csrr(T6, CSR_MEPC));
	emit(&k, addi(T6, T6, 4));
	emit(&k, csrw(CSR_MEPC, T6));
	emit(&k, addi(T5, ZERO, 1000));
	emit(&k, op(1, 0, T5, T5, A7)); /* mul t5, t5, a7 */
	emit(&k, add(A0, A0, T5));
	emit(&k, mret());
	m->hart.mtvec = SYSCALL_HANDLER;

	struct code c = code_at(m, CODE_BASE);
	static const uint64_t nrs[3] = {63, 64, 57}; /* read, write, close */
	for (unsigned i = 0; i < 3; i++) {
		emit(&c, addi(A7, ZERO, (int32_t)nrs[i]));
		for (unsigned a = 0; a < 6; a++)
			emit(&c, addi(A0 + a, ZERO, (int32_t)(10 * i + a + 1)));
		emit(&c, ecall());
	}
	emit(&c, ebreak()); /* a trap that is no syscall */
	set_priv(m, PRIV_U);
	m->hart.pc = CODE_BASE;
	m->hart.x[SP] = 0x12340;

	struct trap_log l = {0};
	int id = taps_trap_subscribe(m, &trap_log_ops, &l);
	assert_true(id >= 0);
	run(m, 3 * (8 + 7) + 1);
	taps_trap_unsubscribe(m, id);

	assert_int_equal(l.ntraps, 4);
	assert_int_equal(l.nrets, 3);
	for (unsigned i = 0; i < 3; i++) {
		const struct tap_trap *t = &l.traps[i];
		assert_true(t->syscall);
		assert_int_equal(t->cause, EXC_ECALL_U);
		assert_int_equal(t->from_priv, PRIV_U);
		assert_int_equal(t->to_priv, PRIV_M);
		assert_int_equal(t->nr, nrs[i]);
		for (unsigned a = 0; a < 6; a++)
			assert_int_equal(t->args[a], 10 * i + a + 1);
		/* 7 instructions before each ecall, 7 in the handler after it
		 * (the ecall itself retires nothing) */
		assert_int_equal(t->icount, 7 + i * 14);
		assert_int_equal(t->pc, CODE_BASE + 4 * (7 + 8 * i));
		const struct tap_trap_return *r = &l.rets[i];
		assert_true(r->syscall);
		assert_int_equal(r->nr, nrs[i]);
		assert_int_equal(r->args[0], 10 * i + 1);
		assert_int_equal(r->ret, nrs[i] * 1000 + 10 * i + 1);
		assert_int_equal(r->to_priv, PRIV_U);
		assert_int_equal(r->pc, t->pc + 4);
		assert_int_equal(r->icount, t->icount + 6); /* the mret is the 7th */
	}
	assert_false(l.traps[3].syscall);
	assert_int_equal(l.traps[3].cause, EXC_BREAKPOINT);
	/* unsubscribed: the hart has no hook and pays nothing */
	assert_null(m->hart.trap_hook);
}

/* A return that is not the syscall's own (another thread's stack) is
 * reported, but not as that syscall's result. */
static void test_trap_hook_matches_by_stack(void **state)
{
	struct machine *m = *state;
	struct code k = code_at(m, SYSCALL_HANDLER);
	emit(&k, csrr(T6, CSR_MEPC));
	emit(&k, addi(T6, T6, 4));
	emit(&k, csrw(CSR_MEPC, T6));
	emit(&k, addi(SP, SP, 16)); /* "switch" to another thread's stack */
	emit(&k, mret());
	m->hart.mtvec = SYSCALL_HANDLER;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, ecall());
	emit_halt(&c);
	set_priv(m, PRIV_U);
	m->hart.pc = CODE_BASE;
	struct trap_log l = {0};
	int id = taps_trap_subscribe(m, &trap_log_ops, &l);
	run(m, 7);
	assert_int_equal(l.ntraps, 1);
	assert_int_equal(l.nrets, 1);
	assert_false(l.rets[0].syscall);
	taps_trap_unsubscribe(m, id);
}

/* What the hook sees of one ecall from U-mode into S-mode, and of one
 * return to U-mode, with the hart in the state a kernel would leave. */
static void fake_ecall(struct machine *m, uint64_t satp, uint64_t sp, uint64_t pc, uint64_t nr)
{
	struct hart *h = &m->hart;
	h->satp = satp, h->x[SP] = sp, h->x[A7] = nr, h->sepc = pc, h->priv = PRIV_S;
	h->trap_hook->trap(h->trap_hook->opaque, h, EXC_ECALL_U, 0, false, PRIV_U);
}

static void fake_return(struct machine *m, uint64_t satp, uint64_t sp, uint64_t pc, uint64_t ret)
{
	struct hart *h = &m->hart;
	h->satp = satp, h->x[SP] = sp, h->pc = pc, h->x[A0] = ret, h->priv = PRIV_U;
	h->trap_hook->xret(h->trap_hook->opaque, h, PRIV_S);
}

/* A server blocked in accept keeps its call pending while other
 * processes exec (a successful execve never returns to its call), exit
 * and take signals.  Its return must still be matched to the accept
 * after many more of those than the table has slots: the calls that
 * never return are not kept, and stale execs go first. */
static void test_trap_hook_keeps_a_long_blocked_call(void **state)
{
	struct machine *m = *state;
	struct trap_log l = {0};
	int id = taps_trap_subscribe(m, &trap_log_ops, &l);
	assert_true(id >= 0);
	fake_ecall(m, 0x8000000000000001ull, 0x7000, 0x10000, 242); /* accept4 */
	for (uint64_t i = 0; i < 4 * TAPS_PENDING_SYSCALLS; i++) {
		uint64_t satp = 0x8000000000000100ull + i; /* a process each */
		fake_ecall(m, satp, 0x9000, 0x20000, 221); /* execve: succeeds */
		fake_return(m, satp + 0x1000, 0x5000, 0x30000, 0); /* the new image */
		fake_ecall(m, satp + 0x1000, 0x5000, 0x30100, 139); /* rt_sigreturn */
		fake_return(m, satp + 0x1000, 0x5200, 0x30200, 0);
		fake_ecall(m, satp + 0x1000, 0x5000, 0x30300, 94); /* exit_group */
	}
	l.nrets = 0;
	fake_return(m, 0x8000000000000001ull, 0x7000, 0x10004, 5);
	assert_int_equal(l.nrets, 1);
	assert_true(l.rets[0].syscall);
	assert_int_equal(l.rets[0].nr, 242);
	assert_int_equal(l.rets[0].ret, 5);
	taps_trap_unsubscribe(m, id);
}

/* A trap observer is host code and may compute in floating point.  When
 * the trap comes, the host FPU may still hold the guest's rounding mode
 * and accrue into the guest's flags (fpu_host_env): the observer must get
 * the host's own environment, and its inexact division must not show up
 * in the guest's fflags.  (Before this was fixed, an intrusion detector's
 * arithmetic on timer interrupts leaked into recordings.) */
static double observed_third;

static void divide_in_hook(void *opaque, const struct tap_trap *t)
{
	(void)opaque, (void)t;
	volatile double one = 1.0, three = 3.0;
	observed_third = one / three;
}

static void test_trap_hook_runs_in_host_fp_env(void **state)
{
	struct machine *m = *state;
	set_mstatus_bits(m, MSTATUS_FS, 0);
	m->hart.mtvec = SKIP_BASE;
	struct code c = code_at(m, CODE_BASE);
	emit(&c, csrw(CSR_FFLAGS, ZERO));
	emit(&c, addi(T0, ZERO, RM_RUP));
	emit(&c, csrw(CSR_FRM, T0));
	emit(&c, enc_r(0x01, 1, 1, 7, 2, 0x53)); /* fadd.d f2, f1, f1: exact, loads the guest's mode */
	emit(&c, 0xffffffff); /* illegal: a trap straight from the interpreter loop */
	emit(&c, csrr(A0, CSR_FFLAGS));
	emit_halt(&c);
	m->hart.f[1] = 0;
	static const struct tap_trap_ops ops = {.trap = divide_in_hook};
	int id = taps_trap_subscribe(m, &ops, NULL);
	run_from(m, CODE_BASE, 4 + 1 + 4 + 2);
	taps_trap_unsubscribe(m, id);
	double nearest = 1.0 / 3.0;
	assert_memory_equal(&observed_third, &nearest, sizeof(nearest));
	assert_int_equal(m->hart.x[A0], 0); /* no inexact flag from the host's division */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		VM_TEST(test_memview_sv39),
		VM_TEST(test_memview_sv48),
		VM_TEST(test_memview_faults),
		cmocka_unit_test(test_memview_never_touches_mmio),
		VM_TEST(test_write_through_view_reaches_code),
		VM_TEST(test_regs_snapshot),
		VM_TEST(test_next_access),
		VM_TEST(test_stop_points),
		cmocka_unit_test(test_input_between_runs_replays),
		cmocka_unit_test(test_event_observers),
		VM_TEST(test_trap_hook_syscalls),
		VM_TEST(test_trap_hook_keeps_a_long_blocked_call),
		VM_TEST(test_trap_hook_matches_by_stack),
		VM_TEST(test_trap_hook_runs_in_host_fp_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
