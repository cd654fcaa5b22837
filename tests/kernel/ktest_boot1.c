// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Boot 1 (no vIOMMU): the selftest mock IOMMU of a 6.12 kernel. The trap
 * tests on raw ioctls (tests/common/traps.c), then the library on real
 * kernel code (ktest_lib.c).
 */
#include <stdio.h>
#include <unistd.h>

#include "kutil.h"

void run_lib_tests(const char *boot);

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	kresult("boot1", "dev_iommu_present", access("/dev/iommu", R_OK | W_OK) ? -1 : 0,
		"no /dev/iommu");
	run_traps("boot1");
	run_lib_tests("boot1");
	return 0;
}
