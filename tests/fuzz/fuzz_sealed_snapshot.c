/* The encrypted-snapshot loader (sealed_snapshot_load) over any file.
 * The seeds are sealed under FUZZ_PASSPHRASE with the cheapest Argon2id
 * parameters; inputs asking for costlier ones are skipped, since what they
 * exercise is libsodium's KDF, not keel's parsing, and each would take a
 * large fraction of a second. */
#include <sodium.h>

#include "fuzz_common.h"
#include "vm/sealed_snapshot.h"

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= SEALED_PREFIX_BYTES &&
	    (le64(data + 12) > 2 * crypto_pwhash_OPSLIMIT_MIN ||
	     le64(data + 20) > 8 * crypto_pwhash_MEMLIMIT_MIN))
		return -1;
	char path[256];
	snprintf(path, sizeof(path), "%s/sealed", fuzz_scratch_dir());
	fuzz_write_file(path, data, size);
	struct machine m;
	struct machine_config cfg = fuzz_machine_config();
	char err[4096];
	if (machine_init(&m, &cfg, err, sizeof(err)))
		fuzz_die("machine_init", err);
	sealed_snapshot_load(&m, path, FUZZ_PASSPHRASE, strlen(FUZZ_PASSPHRASE), err, sizeof(err));
	machine_free(&m);
	return 0;
}
