/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test-only definitions of the Linux 6.12 IOMMU_TEST_CMD ABI (the selftest
 * mock IOMMU of a kernel built with CONFIG_IOMMUFD_TEST=y). It is a
 * kernel-internal interface, not installed UAPI, and changes between
 * releases: these values are facts of exactly 6.12 (checked against
 * drivers/iommu/iommufd/iommufd_test.h of linux-source-6.12 6.12.117) and
 * are pinned below. Only the operations our tests use are described.
 * Never include this outside tests/kernel/.
 */
#ifndef IOMMUDIRTY_TESTS_MOCK_ABI_H
#define IOMMUDIRTY_TESTS_MOCK_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "uapi.h"

/* _IO(';', 0x80 + 32) */
#define MOCK_IOMMU_TEST_CMD UAPI_IO(IOMMUFD_TYPE, 0xa0)
_Static_assert(MOCK_IOMMU_TEST_CMD == 0x3ba0, "IOMMU_TEST_CMD number");

/* Operation numbers (an append-only enum in 6.12, starting at 1). */
#define MOCK_OP_MOCK_DOMAIN 2u
#define MOCK_OP_MOCK_DOMAIN_REPLACE 10u
#define MOCK_OP_MOCK_DOMAIN_FLAGS 12u
#define MOCK_OP_DIRTY 13u

/* Mock device flags for MOCK_OP_MOCK_DOMAIN_FLAGS. */
#define MOCK_DEV_NO_DIRTY (1u << 0)  /* its IOMMU cannot track */
#define MOCK_DEV_HUGE_IOVA (1u << 1) /* its domains also map 1 MiB IOPTEs */

/* Mock IO page = PAGE_SIZE / 2; huge = 512 of them; the aperture. */
#define MOCK_IO_PAGE 2048ull
#define MOCK_HUGE_PAGE (512 * MOCK_IO_PAGE)
#define MOCK_APERTURE_START (1ull << 24)
#define MOCK_APERTURE_LAST ((1ull << 31) - 1)

#define MOCK_HW_INFO_TYPE 0xfeedbeefu
#define MOCK_HW_INFO_TEST_REG 0xdeadbeefu

struct mock_test_cmd {
	uint32_t size;
	uint32_t op;
	uint32_t id; /* IOAS/HWPT for MOCK_DOMAIN and DIRTY; stdev for REPLACE */
	uint32_t __reserved;
	union {
		struct {
			uint32_t out_stdev_id; /* the selftest object */
			uint32_t out_hwpt_id;  /* the HWPT attached to */
			uint32_t out_idev_id;  /* iommufd device id */
			uint32_t dev_flags;    /* MOCK_DOMAIN_FLAGS only */
		} mock_domain;
		struct {
			uint32_t pt_id; /* in: HWPT or IOAS; out: HWPT */
		} replace;
		struct {
			uint32_t flags;
			uint32_t __pad;
			UAPI_ALIGNED_U64 iova;
			UAPI_ALIGNED_U64 length;
			UAPI_ALIGNED_U64 page_size; /* the mock IO page */
			UAPI_ALIGNED_U64 uptr;	    /* bitmap: pages to dirty */
			UAPI_ALIGNED_U64 out_nr_dirty;
		} dirty;
		/* The largest member of 6.12's union is 48 bytes. */
		uint8_t __union_size[48];
	};
	uint32_t last; /* the kernel wants at least up to here */
};

UAPI_SIZE(mock_test_cmd, 72);
UAPI_PIN(mock_test_cmd, op, 4);
UAPI_PIN(mock_test_cmd, id, 8);
UAPI_PIN(mock_test_cmd, mock_domain.out_stdev_id, 16);
UAPI_PIN(mock_test_cmd, mock_domain.out_hwpt_id, 20);
UAPI_PIN(mock_test_cmd, mock_domain.out_idev_id, 24);
UAPI_PIN(mock_test_cmd, mock_domain.dev_flags, 28);
UAPI_PIN(mock_test_cmd, replace.pt_id, 16);
UAPI_PIN(mock_test_cmd, dirty.flags, 16);
UAPI_PIN(mock_test_cmd, dirty.iova, 24);
UAPI_PIN(mock_test_cmd, dirty.length, 32);
UAPI_PIN(mock_test_cmd, dirty.page_size, 40);
UAPI_PIN(mock_test_cmd, dirty.uptr, 48);
UAPI_PIN(mock_test_cmd, dirty.out_nr_dirty, 56);
UAPI_PIN(mock_test_cmd, last, 64);

#endif /* IOMMUDIRTY_TESTS_MOCK_ABI_H */
