/* sifive,test0: a 16- or 32-bit write to offset 0 whose low 16 bits are
 *   0x5555 FINISHER_PASS  -> power off, exit status 0
 *   0x3333 FINISHER_FAIL  -> power off, exit status = value >> 16 (1 if 0)
 *   0x7777 FINISHER_RESET -> reset the machine
 * Anything else is ignored.  OpenSBI writes 16 bits, Linux 32. */
#include "dev/syscon.h"

#include <string.h>

#include "cpu/hart.h"
#include "lib/state_io.h"

void syscon_init(struct syscon *s, struct hart *hart)
{
	memset(s, 0, sizeof(*s));
	s->hart = hart;
}

static int syscon_read(void *opaque, uint64_t off, unsigned size, uint64_t *val)
{
	*val = 0;
	return 0;
}

static int syscon_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct syscon *s = opaque;
	if (off != 0 || size < 2)
		return 0;
	switch (val & 0xffff) {
	case 0x5555:
		s->request = SYSCON_POWEROFF;
		s->exit_code = 0;
		break;
	case 0x3333:
		s->request = SYSCON_POWEROFF;
		s->exit_code = (int)((val >> 16) & 0xffff);
		if (s->exit_code == 0)
			s->exit_code = 1;
		break;
	case 0x7777:
		s->request = SYSCON_RESET;
		break;
	default:
		return 0;
	}
	s->hart->slice_end = true;
	return 0;
}

const struct mmio_ops syscon_mmio_ops = {.read = syscon_read, .write = syscon_write};

/* --- State -------------------------------------------------------------- */

void syscon_save(const struct syscon *s, struct state_writer *w)
{
	sw_put_u32(w, (uint32_t)s->request);
	sw_put_u32(w, (uint32_t)s->exit_code);
}

int syscon_load(struct syscon *s, struct state_reader *r)
{
	uint32_t req = sr_u32(r);
	s->exit_code = (int)sr_u32(r);
	if (!sr_failed(r) && req > SYSCON_RESET)
		return sr_fail(r, "SYSCON: invalid request %u", req);
	s->request = (enum syscon_request)req;
	return sr_failed(r) ? -1 : 0;
}
