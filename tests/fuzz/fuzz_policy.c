/* The intrusion detector's policy file (ids_policy_load, docs/ids.md):
 * the input is the file, written to the scratch directory and loaded as
 * `keel run --ids FILE` does.  A policy that loads is then used the way
 * the detector uses it: its answers about responses, and every pattern
 * list matched against a few paths, ports and addresses (the patterns
 * are the file's, so fnmatch runs on hostile globs too). */
#include "fuzz_common.h"
#include "lib/glob_list.h"
#include "svc/ids/ids.h"
#include "svc/ids/ids_int.h"

static char path[256];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	snprintf(path, sizeof(path), "%s/policy.json", fuzz_scratch_dir());
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const probes[] = {"/etc/shadow", "/usr/lib/x86_64/libc.so.6", "80",
					     "10.0.2.2:443", "/bin/busybox", "sh", ""};
	fuzz_write_file(path, data, size);
	char err[1024];
	struct ids_policy *p = ids_policy_load(path, err, sizeof(err));
	if (!p)
		return 0;
	ids_policy_changes_guest(p);
	ids_policy_clones(p);
	const struct glob_list *lists[] = {&p->write_paths, &p->raw_allow, &p->secret_paths,
					   &p->listen_allow, &p->connect_allow, &p->shells};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		for (size_t j = 0; j < sizeof(probes) / sizeof(probes[0]); j++)
			glob_list_match(lists[i], probes[j]);
	ids_policy_free(p);
	return 0;
}
