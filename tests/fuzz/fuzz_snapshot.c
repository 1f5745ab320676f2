/* The snapshot loader (snapshot_load_buffer) over any bytes: a crafted
 * file handed to `keel run --restore`.  Each input is loaded into a fresh
 * machine, as a restore does; an error is the expected outcome for nearly
 * every input, a crash or sanitizer report is a bug.
 *
 * An input that loads is also run a little, and then checked against the
 * integrity promise: with its checksum flag set, the same file with any
 * one bit flipped (four places picked from the input's own bytes) must be
 * refused.  A flipped bit that loads aborts the run as a finding. */
#include "fuzz_common.h"
#include "vm/snapshot.h"

static int load(const uint8_t *data, size_t size, bool run)
{
	struct machine m;
	struct machine_config cfg = fuzz_machine_config();
	char err[4096];
	if (machine_init(&m, &cfg, err, sizeof(err)))
		fuzz_die("machine_init", err);
	int rc = snapshot_load_buffer(&m, data, size, err, sizeof(err));
	if (rc == 0 && run)
		machine_run(&m, 1000); /* a state that loads must also run */
	machine_free(&m);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (load(data, size, true) != 0 || size < 16 || !(data[12] & SNAPSHOT_FLAG_SUM))
		return 0;
	uint8_t *copy = malloc(size);
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < size; i += 61)
		h = (h ^ data[i]) * 1099511628211ull;
	for (int k = 0; k < 4; k++) {
		h = h * 6364136223846793005ull + 1442695040888963407ull;
		size_t bit = (size_t)(h >> 11) % (size * 8);
		memcpy(copy, data, size);
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (load(copy, size, false) == 0) {
			fprintf(stderr, "fuzz_snapshot: flipping bit %zu still loads\n", bit);
			abort();
		}
	}
	free(copy);
	return 0;
}
