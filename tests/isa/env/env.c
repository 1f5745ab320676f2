/* The C half of the test environment: the trap handler both trap entries
 * call, the exit/report path, and the few libc functions the compiler may
 * emit calls to. */
#include "ctest.h"

struct trap_level trap_m, trap_s;
uint64_t irq_log[IRQ_LOG_LEN];
uint64_t irq_log_len;
uint64_t probe_u_offset;

extern volatile uint64_t tohost, fromhost;
extern const char env_exit_ecall[];

/* ---- HTIF ---- */

static void htif_send(uint64_t cmd)
{
	tohost = cmd;
	/* The host clears tohost once it has taken the command.  Bound the
	 * wait so a host that never answers cannot hang a failing test. */
	for (int i = 0; i < 100000 && tohost != 0; i++)
		;
	fromhost = 0;
}

static void put_char(char c)
{
	htif_send((1ULL << 56) | (1ULL << 48) | (uint8_t)c);
}

static void put_str(const char *s)
{
	while (*s)
		put_char(*s++);
}

static void put_hex(uint64_t v)
{
	put_str("0x");
	for (int shift = 60; shift >= 0; shift -= 4)
		put_char("0123456789abcdef"[(v >> shift) & 15]);
}

static void put_dec(uint64_t v)
{
	char buf[24];
	int n = 0;
	do {
		buf[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n)
		put_char(buf[--n]);
}

__attribute__((noreturn)) static void htif_exit(uint64_t code)
{
	for (;;)
		tohost = (code << 1) | 1;
}

/* Case 0 would look like a pass; report such failures as case 1023. */
static uint64_t fail_code(uint64_t casenum)
{
	return casenum ? casenum : 1023;
}

/* kind: 0 pass, 1 fail, 2 value check failed, 3 ecall did not trap */
__attribute__((noreturn)) void env_finish(uint64_t kind, uint64_t got, uint64_t expected,
					  uint64_t casenum)
{
	if (kind == 0)
		htif_exit(0);
	put_str("FAIL: case ");
	put_dec(casenum);
	if (kind == 2) {
		put_str(": got ");
		put_hex(got);
		put_str(", expected ");
		put_hex(expected);
	} else if (kind == 3) {
		put_str(": ecall did not trap");
	}
	put_str("\n");
	htif_exit(fail_code(casenum));
}

static uint64_t current_case(void)
{
	uint64_t n;
	__asm__ volatile("mv %0, gp" : "=r"(n));
	return n;
}

void fail_now(void)
{
	env_finish(1, 0, 0, current_case());
}

void fail_values(uint64_t got, uint64_t expected)
{
	env_finish(2, got, expected, current_case());
}

__attribute__((noreturn)) static void unexpected_trap(const struct trap_frame *f, unsigned level,
						     uint64_t from)
{
	put_str("FAIL: case ");
	put_dec(f->x[3]);
	put_str(level == PRIV_M ? ": unexpected trap to M: mcause=" : ": unexpected trap to S: scause=");
	put_hex(f->cause);
	put_str(" epc=");
	put_hex(f->epc);
	put_str(" tval=");
	put_hex(f->tval);
	put_str(" from priv ");
	put_dec(from);
	put_str("\n");
	htif_exit(fail_code(f->x[3]));
}

static uint64_t insn_length(uint64_t pc)
{
	return (*(volatile uint16_t *)pc & 3) == 3 ? 4 : 2;
}

static int is_ecall(uint64_t cause)
{
	return cause == CAUSE_ECALL_U || cause == CAUSE_ECALL_S || cause == CAUSE_ECALL_M;
}

/* Both trap entries end up here with the saved frame.  Whatever this leaves
 * in f->epc and f->status is written back before xRET. */
void env_trap(struct trap_frame *f, unsigned level)
{
	struct trap_level *t = level == PRIV_M ? &trap_m : &trap_s;
	int interrupt = (int64_t)f->cause < 0;
	uint64_t from = level == PRIV_M ? (f->status & MSTATUS_MPP) >> 11 : (f->status & MSTATUS_SPP) >> 8;

	if (!interrupt && is_ecall(f->cause) && f->epc == (uint64_t)env_exit_ecall)
		env_finish(f->x[10], f->x[11], f->x[12], f->x[3]);

	t->count++;
	t->cause = f->cause;
	t->epc = f->epc;
	t->tval = f->tval;
	t->status = f->status;
	t->slot = f->slot;
	t->priv = from;

	if (interrupt) {
		/* Disable the source so that returning does not re-enter at
		 * once; the test decides what else to clear. */
		uint64_t code = f->cause & 63;
		if (irq_log_len < IRQ_LOG_LEN)
			irq_log[irq_log_len++] = code;
		if (level == PRIV_M)
			csr_clear(mie, 1ULL << code);
		else
			csr_clear(sie, 1ULL << code);
		return;
	}

	switch (t->mode) {
	case TRAP_RESUME:
		t->mode = TRAP_FATAL;
		f->epc = t->resume;
		if (level == PRIV_M)
			f->status |= MSTATUS_MPP;
		else
			f->status |= MSTATUS_SPP;
		return;
	case TRAP_SKIP:
		f->epc += insn_length(f->epc);
		return;
	default:
		unexpected_trap(f, level, from);
	}
}

/* ---- probes ---- */

long probe(long priv, const char *stub, uint64_t addr, uint64_t val)
{
	uint64_t entry = (uint64_t)stub;
	if (priv == PRIV_U)
		entry += probe_u_offset;
	long cause = probe_run(priv, (const void *)entry, addr, val, 0);
	return cause == (long)ecall_cause(priv) ? NO_TRAP : cause;
}

long probe_mprv_ld(long mpp, uint64_t addr)
{
	long cause = probe_run(PRIV_M, stub_mprv_ld, addr, 0, (uint64_t)mpp << 11);
	return cause == CAUSE_ECALL_M ? NO_TRAP : cause;
}

long probe_mprv_sd(long mpp, uint64_t addr, uint64_t val)
{
	long cause = probe_run(PRIV_M, stub_mprv_sd, addr, val, (uint64_t)mpp << 11);
	return cause == CAUSE_ECALL_M ? NO_TRAP : cause;
}

void check_fault(long result, long cause, uint64_t tval)
{
	CHECK_EQ(result, cause);
	CHECK_EQ(trap_m.tval, tval);
}

void check_no_trap(long result)
{
	CHECK_EQ(result, NO_TRAP);
}

/* ---- what the compiler may call ---- */

void *memset(void *d, int c, size_t n)
{
	volatile unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	volatile unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}
