/* The host loop's look at its descriptors between slices
 * (src/host/host_loop.c, host_loop_poll_due): a busy guest's slices poll
 * the console every 200 us of wall time, not after every slice (docs/cpu.md,
 * "The Linux guest against bare metal"). */
#include "harness.h"
#include "host/host_loop.h"

static void test_busy_slices_poll_every_200us(void **state)
{
	struct machine *m = *state;
	struct host_loop l = {.m = m};
	double t = 1000.0;
	assert_true(host_loop_poll_due(&l, STOP_BUDGET, t));
	assert_false(host_loop_poll_due(&l, STOP_BUDGET, t + 50e-6));
	assert_false(host_loop_poll_due(&l, STOP_BUDGET, t + 199e-6));
	assert_true(host_loop_poll_due(&l, STOP_BUDGET, t + 201e-6));
	assert_false(host_loop_poll_due(&l, STOP_BUDGET, t + 300e-6));
	/* the hart waits: the loop looks at once (and then sleeps in idle()) */
	assert_true(host_loop_poll_due(&l, STOP_IDLE, t + 310e-6));
	assert_false(host_loop_poll_due(&l, STOP_BUDGET, t + 320e-6));
}

/* Slirp's timers and the shield's trials are served by the poll: they
 * keep one after every slice. */
static void test_network_polls_every_slice(void **state)
{
	struct machine *m = *state;
	struct host_loop l = {.m = m};
	m->has_slirp = true;
	for (int i = 0; i < 4; i++)
		assert_true(host_loop_poll_due(&l, STOP_BUDGET, 1000.0 + i * 10e-6));
	m->has_slirp = false;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		VM_TEST(test_busy_slices_poll_every_200us),
		VM_TEST(test_network_polls_every_slice),
	};
	return cmocka_run_group_tests_name("host_loop", tests, NULL, NULL);
}
