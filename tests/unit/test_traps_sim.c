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
#include <string.h>

#include <cmocka.h>

#include "kbed.h"

/*
 * Known differences between the sim and the real 6.12 kernel (each test
 * passes on the kernel, see tests/kernel/run). A test listed here is
 * expected to fail on the sim; the difference is printed either way, and
 * once the sim passes it a "SIM NOW MATCHES" line asks to drop the entry.
 */
static const struct {
	const char *test, *difference;
} known_sim_differences[] = {
	{ NULL, NULL }, /* none known today */
};

static const char *known_difference(const char *name)
{
	for (size_t i = 0; known_sim_differences[i].test; i++)
		if (!strcmp(known_sim_differences[i].test, name))
			return known_sim_differences[i].difference;
	return NULL;
}

static void run_trap(void **state)
{
	const struct kbed_test *t = *state;
	const char *known = known_difference(t->name);
	char why[512];
	int rc = kbed_run(kbed_sim_new, t, why, sizeof(why));

	if (rc > 0)
		skip();
	if (known) {
		/* Not fatal: the sim is fixed in parallel with this list. */
		if (!rc) {
			print_message("SIM NOW MATCHES THE KERNEL on %s: remove it "
				      "from known_sim_differences\n", t->name);
			return;
		}
		print_message("KNOWN SIM DIFFERENCE %s: %s\n  (%s)\n", t->name,
			      known, why);
		return;
	}
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
