/* `keel log verify`'s path (log_verify) over a crafted log: the input is
 * segment 0 of a log directory whose verification key is fixed
 * (fuzz_log_key0), so the seeds' seals check and the fuzzer can reach
 * everything after them. */
#include "fuzz_common.h"
#include "svc/log/log_keys.h"
#include "svc/log/log_verify.h"

static char dir[256], seg[300], key[300];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	snprintf(dir, sizeof(dir), "%s/log", fuzz_scratch_dir());
	snprintf(seg, sizeof(seg), "%s/seg-000000.klog", dir);
	snprintf(key, sizeof(key), "%s/audit.key", fuzz_scratch_dir());
	if (mkdir(dir, 0700) != 0)
		fuzz_die(dir, "mkdir");
	uint8_t key0[LOG_KEY_BYTES];
	char err[512];
	fuzz_log_key0(key0, sizeof(key0));
	if (log_verify_key_create(key, key0, err, sizeof(err)))
		fuzz_die(key, err);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_write_file(seg, data, size);
	struct log_verify_options o = {.verify_key_path = key, .no_dir_key = true};
	struct log_verify_report rep;
	log_verify(dir, &o, &rep);
	log_verify_exit_code(&rep);
	return 0;
}
