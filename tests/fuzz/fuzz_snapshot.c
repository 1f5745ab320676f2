/* The snapshot loader (snapshot_load_buffer) over any bytes: a crafted
 * file handed to `keel run --restore`.  Each input is loaded into a fresh
 * machine, as a restore does; an error is the expected outcome for nearly
 * every input, a crash or sanitizer report is a bug. */
#include "fuzz_common.h"
#include "vm/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct machine m;
	struct machine_config cfg = fuzz_machine_config();
	char err[4096];
	if (machine_init(&m, &cfg, err, sizeof(err)))
		fuzz_die("machine_init", err);
	if (snapshot_load_buffer(&m, data, size, err, sizeof(err)) == 0)
		machine_run(&m, 1000); /* a state that loads must also run */
	machine_free(&m);
	return 0;
}
