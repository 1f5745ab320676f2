/* Target platform: console and exit through HTIF, the counters through
 * CSRs, and the few libc routines that GCC may emit calls to even in
 * freestanding code. */
#include "bench.h"

/* Defined in crt0.S, in their own page. */
extern volatile uint64_t tohost;
extern volatile uint64_t fromhost;

#define HTIF_DEV_CONSOLE 1ULL
#define HTIF_CMD_PUTCHAR 1ULL

/* riscv-pk's protocol: a command is taken when the host clears tohost; the
 * host may answer in fromhost, which we acknowledge by clearing it. */
static void htif_send(uint64_t cmd)
{
	while (tohost != 0)
		;
	tohost = cmd;
	while (tohost != 0)
		;
	if (fromhost != 0)
		fromhost = 0;
}

void out_char(char c)
{
	htif_send((HTIF_DEV_CONSOLE << 56) | (HTIF_CMD_PUTCHAR << 48) | (uint8_t)c);
}

__attribute__((noreturn)) void htif_exit(int code)
{
	htif_send(((uint64_t)(unsigned)code << 1) | 1);
	for (;;)
		; /* a host that ignores the exit leaves us here */
}

/* Called from crt0's trap vector: nothing in the benchmark traps, so any
 * trap means an emulator (or benchmark) bug. */
__attribute__((noreturn)) void bench_trap(uint64_t mcause, uint64_t mepc, uint64_t mtval)
{
	out_str("\nTRAP mcause=");
	out_hex(mcause);
	out_str(" mepc=");
	out_hex(mepc);
	out_str(" mtval=");
	out_hex(mtval);
	out_str("\nFAIL\n");
	htif_exit(3);
}

uint64_t read_instret(void)
{
	uint64_t v;
	__asm__ volatile("rdinstret %0" : "=r"(v));
	return v;
}

uint64_t read_cycle(void)
{
	uint64_t v;
	__asm__ volatile("rdcycle %0" : "=r"(v));
	return v;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	if (d < s) {
		while (n--)
			*d++ = *s++;
	} else {
		while (n--)
			d[n] = s[n];
	}
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}
