/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel trap tests of tests/common/traps.c on the simulated kernel.
 * The same tests run on a real 6.12 kernel in tests/kernel/run (boot 1,
 * "trap_*"), so a difference between the sim and the kernel fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "kbed.h"

static void run_trap(void **state)
{
	const struct kbed_test *t = *state;
	char why[512];
	int rc = kbed_run(kbed_sim_new, t, why, sizeof(why));

	if (rc > 0)
		skip();
	if (rc)
		fail_msg("%s on the sim: %s", t->name, why);
}

int main(void)
{
	size_t n = 0;
	struct CMUnitTest *tests;
	int rc;

	while (kbed_traps[n].name)
		n++;
	tests = calloc(n, sizeof(*tests));
	if (!tests)
		return 1;
	for (size_t i = 0; i < n; i++) {
		tests[i].name = kbed_traps[i].name;
		tests[i].test_func = run_trap;
		tests[i].initial_state = (void *)&kbed_traps[i];
	}
	rc = _cmocka_run_group_tests("traps_sim", tests, n, NULL, NULL);
	free(tests);
	return rc;
}
