/* A replay with an analysis attached: what `keel analyze` runs
 * (cmd_replay.c, replay_observed). */
#ifndef KEEL_CLI_REPLAY_OBSERVED_H
#define KEEL_CLI_REPLAY_OBSERVED_H

#include <stddef.h>

#include "svc/log/log_verify.h"

struct machine;

struct replay_observer {
	/* On the machine restored from the first checkpoint, before any
	 * instruction: subscribe.  0, or -1 with a reason in err. */
	int (*start)(void *opaque, struct machine *m, char *err, size_t errlen);
	/* After the replay ended with keel replay's exit status: unsubscribe
	 * (the machine is still there). */
	void (*stop)(void *opaque, struct machine *m, int status);
	void *opaque;
};

/* Verify the log in dir as keel replay does (a tampered log is refused
 * before anything runs), then replay it to its verified end without the
 * console and without decoded blocks, with obs attached.  Returns keel
 * replay's exit status (0: the whole log replayed and matched). */
int replay_observed(const char *dir, const struct log_verify_options *verify,
		    const struct replay_observer *obs);

#endif
