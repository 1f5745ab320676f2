/* See trace.h. */
#include "svc/trace/trace.h"

#include <inttypes.h>
#include <string.h>

#include "vm/taps.h"

static const char priv_letter[4] = {'U', 'S', '?', 'M'};

static uint32_t peek_insn(struct machine *m, uint64_t pc)
{
	struct memview mv;
	taps_memview(m, &mv);
	uint64_t satp = taps_current_satp(m);
	uint32_t insn = 0;
	if (memview_read_virt(&mv, satp, pc, &insn, 2) != 2)
		return 0;
	if ((insn & 3) == 3 && memview_read_virt(&mv, satp, pc + 2, (uint8_t *)&insn + 2, 2) != 2)
		return insn & 0xffff;
	return insn;
}

static void write_step(FILE *out, const struct tap_regs *before, const struct tap_regs *after,
		       uint64_t icount, uint32_t insn)
{
	fprintf(out, "%" PRIu64 " %c 0x%016" PRIx64 " (0x%0*" PRIx32 ")", icount,
		priv_letter[before->priv & 3], before->pc, (insn & 3) == 3 ? 8 : 4, insn);
	if (after->icount == before->icount) {
		bool to_s = after->priv == 1 && before->priv != 1; /* to S-mode */
		fprintf(out, " trap cause=0x%" PRIx64 " tval=0x%" PRIx64 "\n",
			to_s ? after->scause : after->mcause, to_s ? after->stval : after->mtval);
		return;
	}
	for (int r = 1; r < 32; r++)
		if (after->x[r] != before->x[r])
			fprintf(out, " x%d 0x%016" PRIx64, r, after->x[r]);
	for (int r = 0; r < 32; r++)
		if (after->f[r] != before->f[r])
			fprintf(out, " f%d 0x%016" PRIx64, r, after->f[r]);
	fputc('\n', out);
}

enum stop_reason trace_run(struct machine *m, FILE *out)
{
	struct tap_regs before, after;
	for (;;) {
		taps_regs(m, &before);
		uint32_t insn = peek_insn(m, before.pc);
		enum stop_reason why = machine_run(m, 1);
		taps_regs(m, &after);
		if (why != STOP_BUDGET && after.icount == before.icount && after.pc == before.pc)
			return why; /* nothing executed */
		write_step(out, &before, &after, before.icount, insn);
		if (why != STOP_BUDGET)
			return why;
	}
}
