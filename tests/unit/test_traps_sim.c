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
 * passes on the kernel, see tests/kernel/run). A test listed here must
 * FAIL on the sim: once the sim is fixed it passes, and this list must
 * lose its entry. Every entry is printed, so the difference stays visible.
 */
static const struct {
	const char *test, *difference;
} known_sim_differences[] = {
	{ "huge_iopte_partial_read",
	  "a read ending inside a dirty huge IOPTE: the kernel records the whole "
	  "IOPTE size from the read's start, writing past the range's bitmap "
	  "(256 bits for a 16-bit read); the sim clips to the range" },
	{ "null_bitmap_loses_bits",
	  "GET_DIRTY_BITMAP with data = NULL: the kernel returns 0 and drops "
	  "the bits (a clearing read still clears them); the sim returns -EFAULT" },
	{ "errno_check_order",
	  "GET_DIRTY_BITMAP on a HWPT without dirty tracking and a bad range "
	  "(length 0, misaligned): the kernel checks the range first (-EINVAL); "
	  "the sim answers -EOPNOTSUPP first" },
};

static const char *known_difference(const char *name)
{
	for (size_t i = 0; i < sizeof(known_sim_differences) /
			       sizeof(known_sim_differences[0]); i++)
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
		if (!rc)
			fail_msg("%s now matches the kernel: remove it from "
				 "known_sim_differences", t->name);
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
