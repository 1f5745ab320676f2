/* Memory effects (taps.h, section 6).  Not yet built: subscribing fails. */
#include "vm/machine.h"
#include "vm/taps.h"

int taps_effect_subscribe(struct machine *m, tap_effect_fn fn, void *opaque)
{
	(void)m, (void)fn, (void)opaque;
	return -1;
}

void taps_effect_unsubscribe(struct machine *m, int id)
{
	(void)m, (void)id;
}
