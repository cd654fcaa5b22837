/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers for the guest test programs (real kernel only). */
#ifndef IOMMUDIRTY_TESTS_KUTIL_H
#define IOMMUDIRTY_TESTS_KUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kbed.h"

/* Raw ioctl: 0 / the ioctl's result, or a negative errno. */
int kioctl(int fd, unsigned long req, void *arg);

/* IOMMU_TEST_OP_MOCK_DOMAIN(_FLAGS): a mock device attached to @pt_id. */
int mock_domain(int iommufd, uint32_t pt_id, uint32_t dev_flags,
		uint32_t *stdev_id, uint32_t *hwpt_id, uint32_t *idev_id);
/* IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: move the mock device to @pt_id. */
int mock_replace(int iommufd, uint32_t stdev_id, uint32_t pt_id,
		 uint32_t *out_hwpt);
/* IOMMU_TEST_OP_DIRTY: mark [iova, iova+length) written in HWPT @hwpt_id
 * (a multiple of the mock IO page); *nr (may be NULL): pages marked. */
int mock_dirty(int iommufd, uint32_t hwpt_id, uint64_t iova, uint64_t length,
	       uint64_t *nr);

/* Memory for mappings: normal 4 KiB pages (no THP) or 2 MiB hugetlb pages
 * (NULL if none are reserved). */
void *kmem_alloc(size_t length, bool huge);
void kmem_free(void *p, size_t length, bool huge);

/* The real kernel's bed: a fresh /dev/iommu per call. */
struct kbed *kbed_kernel_new(void);

/* Result lines on the console: "PASS boot1/name", "FAIL boot1/name: why",
 * "SKIP boot1/name: why". */
void kresult(const char *boot, const char *name, int rc, const char *why);
void kinfo(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run the trap tests on the real kernel, printing a line per test. */
void run_traps(const char *boot);

/* Write s to the file at path (sysfs: bind, unbind, new_id ...): 0 or
 * -errno. */
int kwrite_str(const char *path, const char *s);

#endif
