/* Console formatting on top of the platform's out_char(). */
#include "bench.h"

void out_str(const char *s)
{
	while (*s)
		out_char(*s++);
}

void out_u64(uint64_t v)
{
	char digits[20];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		out_char(digits[--n]);
}

void out_hex(uint64_t v)
{
	out_str("0x");
	for (int shift = 60; shift >= 0; shift -= 4)
		out_char("0123456789abcdef"[(v >> shift) & 0xf]);
}
