/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The vendor layer: each decoder against register fixtures (every reason,
 * every constraint, the real emulated VT-d values of ../shared/TESTBED.md),
 * the kernel's bit winning over the registers, and the capability report of
 * a bound device on the sim, down to the tracker's refusal.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "vendor/vendor.h"

#define K_DIRTY IOMMUDIRTY_HW_CAP_DIRTY_TRACKING
#define SZ_4K (1ull << 12)
#define SZ_16K (1ull << 14)
#define SZ_64K (1ull << 16)
#define SZ_2M (1ull << 21)
#define SZ_32M (1ull << 25)
#define SZ_512M (1ull << 29)
#define SZ_1G (1ull << 30)

/* QEMU's intel-iommu as the 6.12 guest read it (TESTBED.md). */
#define QEMU_CAP 0x00d2008c222f0606ull
#define QEMU_ECAP_LEGACY 0xf00f4aull
#define QEMU_ECAP_SCALABLE 0x480080f00f4aull

#define E_SMTS (1ull << 43)
#define E_SLADS (1ull << 45)
#define E_SLTS (1ull << 46)
#define E_SMPWC (1ull << 48)
#define E_ALL (E_SMTS | E_SLTS | E_SLADS | E_SMPWC)

struct vtd_regs {
	uint32_t flags;
	uint32_t __reserved;
	uint64_t cap;
	uint64_t ecap;
};
_Static_assert(sizeof(struct vtd_regs) == 24, "iommu_hw_info_vtd");

struct smmu_regs {
	uint32_t flags;
	uint32_t __reserved;
	uint32_t idr[6];
	uint32_t iidr;
	uint32_t aidr;
};
_Static_assert(sizeof(struct smmu_regs) == 40, "iommu_hw_info_arm_smmuv3");

struct amd_regs {
	uint64_t efr;
	uint64_t efr2;
};

struct mock_regs {
	uint32_t flags;
	uint32_t test_reg;
};

#define IDR0_S1P (1u << 1)
#define IDR0_COHACC (1u << 4)
#define IDR0_HTTU(v) ((uint32_t)(v) << 6)
#define IDR0_GOOD (IDR0_S1P | IDR0_COHACC | IDR0_HTTU(2) | 1u /* S2P */)
#define IDR5_GRAN4K (1u << 4)
#define IDR5_GRAN16K (1u << 5)
#define IDR5_GRAN64K (1u << 6)

#define EFR_HDSUP (1ull << 52)

static struct iommudirty_caps decode(uint32_t type, const void *data,
				     uint32_t len, uint64_t kcaps)
{
	IOMMUDIRTY_OPTS(iommudirty_caps, c);

	assert_int_equal(iommudirty_decode_hw_info(type, data, len, kcaps, &c), 0);
	assert_true(c.nr_reasons <= IOMMUDIRTY_CAPS_MAX_REASONS);
	assert_int_equal(c.dirty, !!(kcaps & K_DIRTY));
	return c;
}

static bool has(const struct iommudirty_caps *c, uint32_t r)
{
	for (uint32_t i = 0; i < c->nr_reasons; i++)
		if (c->reasons[i] == r)
			return true;
	return false;
}

/* Exactly these reasons, in any order (0-terminated list). */
static void want_reasons(const struct iommudirty_caps *c, ...)
{
	va_list ap;
	uint32_t n = 0;
	int r;

	va_start(ap, c);
	while ((r = va_arg(ap, int)) != 0) {
		if (!has(c, (uint32_t)r))
			fail_msg("reason %d missing", r);
		n++;
	}
	va_end(ap);
	if (n != c->nr_reasons) {
		for (uint32_t i = 0; i < c->nr_reasons; i++)
			print_message("  got reason %u: %s\n", c->reasons[i],
				      iommudirty_reason_str(c->reasons[i]));
		fail_msg("%u reasons, want %u", c->nr_reasons, n);
	}
}

static struct vtd_regs vtd(uint32_t flags, uint64_t cap, uint64_t ecap)
{
	return (struct vtd_regs){ .flags = flags, .cap = cap, .ecap = ecap };
}

/* ---- Intel VT-d ---------------------------------------------------------- */

static void test_vtd_qemu_legacy(void **state)
{
	struct vtd_regs r = vtd(1, QEMU_CAP, QEMU_ECAP_LEGACY);
	struct iommudirty_caps c = decode(IOMMUDIRTY_HW_INFO_INTEL_VTD, &r, sizeof(r), 0);

	assert_int_equal(c.vendor, IOMMUDIRTY_VENDOR_INTEL_VTD);
	assert_int_equal(c.dirty, 0);
	assert_int_equal(c.decoded_dirty, 0);
	want_reasons(&c, IOMMUDIRTY_REASON_VTD_NO_SMTS, IOMMUDIRTY_REASON_VTD_NO_SLTS,
		     IOMMUDIRTY_REASON_VTD_NO_SLADS, IOMMUDIRTY_REASON_VTD_NO_SMPWC,
		     IOMMUDIRTY_REASON_KERNEL_NO_CAP, 0);
	/* The erratum flag is a constraint, never a reason. */
	assert_int_equal(c.constraints, IOMMUDIRTY_CONSTRAINT_NO_RO_NEST_PARENT);
	/* SLLPS = 0b0011: 2 MiB and 1 GiB. */
	assert_int_equal(c.pgsize_bitmap, SZ_4K | SZ_2M | SZ_1G);
}

static void test_vtd_qemu_scalable(void **state)
{
	struct vtd_regs r = vtd(1, QEMU_CAP, QEMU_ECAP_SCALABLE);
	struct iommudirty_caps c = decode(IOMMUDIRTY_HW_INFO_INTEL_VTD, &r, sizeof(r), 0);

	assert_int_equal(c.decoded_dirty, 0);
	want_reasons(&c, IOMMUDIRTY_REASON_VTD_NO_SLADS, IOMMUDIRTY_REASON_VTD_NO_SMPWC,
		     IOMMUDIRTY_REASON_KERNEL_NO_CAP, 0);
	assert_int_equal(c.constraints, IOMMUDIRTY_CONSTRAINT_NO_RO_NEST_PARENT);
}

static void test_vtd_capable(void **state)
{
	struct vtd_regs r = vtd(0, QEMU_CAP, QEMU_ECAP_SCALABLE | E_ALL);
	struct iommudirty_caps c = decode(IOMMUDIRTY_HW_INFO_INTEL_VTD, &r, sizeof(r),
					  K_DIRTY);

	assert_int_equal(c.dirty, 1);
	assert_int_equal(c.decoded_dirty, 1);
	want_reasons(&c, 0);
	assert_int_equal(c.constraints, IOMMUDIRTY_CONSTRAINT_SECOND_STAGE_ONLY |
					IOMMUDIRTY_CONSTRAINT_NO_PASID);
	r.flags = 1;
	c = decode(IOMMUDIRTY_HW_INFO_INTEL_VTD, &r, sizeof(r), K_DIRTY);
	assert_int_equal(c.constraints, IOMMUDIRTY_CONSTRAINT_SECOND_STAGE_ONLY |
					IOMMUDIRTY_CONSTRAINT_NO_PASID |
					IOMMUDIRTY_CONSTRAINT_NO_RO_NEST_PARENT);
}

/* Each of the four bits missing alone gives exactly its reason. */
static void test_vtd_each_bit(void **state)
{
	static const struct {
		uint64_t bit;
		int reason;
	} t[] = {
		{ E_SMTS, IOMMUDIRTY_REASON_VTD_NO_SMTS },
		{ E_SLTS, IOMMUDIRTY_REASON_VTD_NO_SLTS },
		{ E_SLADS, IOMMUDIRTY_REASON_VTD_NO_SLADS },
		{ E_SMPWC, IOMMUDIRTY_REASON_VTD_NO_SMPWC },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct vtd_regs r = vtd(0, 0, ~0ull & ~t[i].bit);
		struct iommudirty_caps c =
			decode(IOMMUDIRTY_HW_INFO_INTEL_VTD, &r, sizeof(r), 0);

		assert_int_equal(c.decoded_dirty, 0);
		want_reasons(&c, t[i].reason, IOMMUDIRTY_REASON_KERNEL_NO_CAP, 0);
		assert_int_equal(c.constraints, 0);
	}
}

/* Registers say yes, the kernel says no: scalable mode is off (inferred),
 * and the report says they disagree. */
static void test_vtd_legacy_mode_inferred(void **state)
{
	struct vtd_regs r = vtd(1, QEMU_CAP, E_ALL);
	struct iommudirty_caps c = decode(IOMMUDIRTY_HW_INFO_INTEL_VTD, &r, sizeof(r), 0);

	assert_int_equal(c.dirty, 0);
	assert_int_equal(c.decoded_dirty, 1);
	want_reasons(&c, IOMMUDIRTY_REASON_VTD_LEGACY_MODE,
		     IOMMUDIRTY_REASON_KERNEL_NO_CAP,
		     IOMMUDIRTY_REASON_DECODE_DISAGREES, 0);
	/* It cannot track: no tracking constraints, only the erratum's. */
	assert_int_equal(c.constraints, IOMMUDIRTY_CONSTRAINT_NO_RO_NEST_PARENT);
}

/* Registers say no, the kernel says yes: the kernel wins. */
static void test_vtd_kernel_wins(void **state)
{
	struct vtd_regs r = vtd(0, QEMU_CAP, QEMU_ECAP_SCALABLE);
	struct iommudirty_caps c = decode(IOMMUDIRTY_HW_INFO_INTEL_VTD, &r, sizeof(r),
					  K_DIRTY);

	assert_int_equal(c.dirty, 1);
	assert_int_equal(c.decoded_dirty, 0);
	assert_true(has(&c, IOMMUDIRTY_REASON_DECODE_DISAGREES));
	assert_false(has(&c, IOMMUDIRTY_REASON_KERNEL_NO_CAP));
	assert_int_equal(c.constraints, IOMMUDIRTY_CONSTRAINT_SECOND_STAGE_ONLY |
					IOMMUDIRTY_CONSTRAINT_NO_PASID);
}

static void test_vtd_pgsize(void **state)
{
	static const struct {
		uint64_t sllps;
		uint64_t want;
	} t[] = {
		{ 0, SZ_4K },
		{ 1, SZ_4K | SZ_2M },
		{ 3, SZ_4K | SZ_2M | SZ_1G },
		{ 2, SZ_4K | SZ_2M | SZ_1G }, /* as the kernel: highest bit */
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct vtd_regs r = vtd(0, t[i].sllps << 34, E_ALL);
		struct iommudirty_caps c =
			decode(IOMMUDIRTY_HW_INFO_INTEL_VTD, &r, sizeof(r), K_DIRTY);

		assert_int_equal(c.pgsize_bitmap, t[i].want);
	}
}

static void test_vtd_short(void **state)
{
	struct vtd_regs r = vtd(1, QEMU_CAP, E_ALL);
	struct iommudirty_caps c = decode(IOMMUDIRTY_HW_INFO_INTEL_VTD, &r, 23, 0);

	assert_int_equal(c.vendor, IOMMUDIRTY_VENDOR_INTEL_VTD);
	assert_int_equal(c.decoded_dirty, -1);
	want_reasons(&c, IOMMUDIRTY_REASON_SHORT_VENDOR_DATA,
		     IOMMUDIRTY_REASON_KERNEL_NO_CAP, 0);
	assert_int_equal(c.pgsize_bitmap, 0);
	assert_int_equal(c.constraints, 0);
	c = decode(IOMMUDIRTY_HW_INFO_INTEL_VTD, NULL, 0, K_DIRTY);
	want_reasons(&c, IOMMUDIRTY_REASON_SHORT_VENDOR_DATA, 0);
	/* Longer data (a newer kernel's struct): the known prefix decodes. */
	{
		uint8_t big[64] = { 0 };

		memcpy(big, &r, sizeof(r));
		c = decode(IOMMUDIRTY_HW_INFO_INTEL_VTD, big, sizeof(big), K_DIRTY);
		want_reasons(&c, 0);
		assert_int_equal(c.decoded_dirty, 1);
	}
}

/* The kernel lays registers at any alignment; so may a caller. */
static void test_vtd_unaligned(void **state)
{
	uint8_t buf[32];
	struct vtd_regs r = vtd(0, QEMU_CAP, QEMU_ECAP_SCALABLE);
	struct iommudirty_caps c;

	memcpy(buf + 1, &r, sizeof(r));
	c = decode(IOMMUDIRTY_HW_INFO_INTEL_VTD, buf + 1, sizeof(r), 0);
	want_reasons(&c, IOMMUDIRTY_REASON_VTD_NO_SLADS, IOMMUDIRTY_REASON_VTD_NO_SMPWC,
		     IOMMUDIRTY_REASON_KERNEL_NO_CAP, 0);
}

/* ---- ARM SMMUv3 ---------------------------------------------------------- */

static struct smmu_regs smmu(uint32_t idr0, uint32_t idr5)
{
	struct smmu_regs r = { .idr = { idr0, 0, 0, 0, 0, idr5 } };

	r.iidr = 0x4b;
	r.aidr = 0x2; /* SMMUv3.2 */
	return r;
}

static void test_smmuv3_capable(void **state)
{
	struct smmu_regs r = smmu(IDR0_GOOD, IDR5_GRAN4K | IDR5_GRAN64K | 5);
	struct iommudirty_caps c = decode(IOMMUDIRTY_HW_INFO_ARM_SMMUV3, &r, sizeof(r),
					  K_DIRTY);

	assert_int_equal(c.vendor, IOMMUDIRTY_VENDOR_ARM_SMMUV3);
	assert_int_equal(c.decoded_dirty, 1);
	want_reasons(&c, 0);
	assert_int_equal(c.constraints, IOMMUDIRTY_CONSTRAINT_STAGE1_ONLY);
	assert_int_equal(c.pgsize_bitmap, SZ_4K | SZ_2M | SZ_1G | SZ_64K | SZ_512M);
	/* 16K granule; 64K with a 52-bit OAS adds 4 TiB blocks. */
	r = smmu(IDR0_GOOD, IDR5_GRAN16K | IDR5_GRAN64K | 6);
	c = decode(IOMMUDIRTY_HW_INFO_ARM_SMMUV3, &r, sizeof(r), K_DIRTY);
	assert_int_equal(c.pgsize_bitmap, SZ_16K | SZ_32M | SZ_64K | SZ_512M | (1ull << 42));
}

static void test_smmuv3_reasons(void **state)
{
	static const struct {
		uint32_t idr0;
		int reason;
	} t[] = {
		{ IDR0_GOOD & ~IDR0_HTTU(3), IOMMUDIRTY_REASON_SMMUV3_NO_HTTU_DIRTY },
		{ (IDR0_GOOD & ~IDR0_HTTU(3)) | IDR0_HTTU(1), IOMMUDIRTY_REASON_SMMUV3_NO_HTTU_DIRTY },
		{ IDR0_GOOD | IDR0_HTTU(3), IOMMUDIRTY_REASON_SMMUV3_NO_HTTU_DIRTY }, /* reserved */
		{ IDR0_GOOD & ~IDR0_COHACC, IOMMUDIRTY_REASON_SMMUV3_NOT_COHERENT },
		{ IDR0_GOOD & ~IDR0_S1P, IOMMUDIRTY_REASON_SMMUV3_NO_STAGE1 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct smmu_regs r = smmu(t[i].idr0, IDR5_GRAN4K);
		struct iommudirty_caps c =
			decode(IOMMUDIRTY_HW_INFO_ARM_SMMUV3, &r, sizeof(r), 0);

		assert_int_equal(c.decoded_dirty, 0);
		want_reasons(&c, t[i].reason, IOMMUDIRTY_REASON_KERNEL_NO_CAP, 0);
		assert_int_equal(c.constraints, 0);
	}
	{
		struct smmu_regs r = smmu(0, 0);
		struct iommudirty_caps c =
			decode(IOMMUDIRTY_HW_INFO_ARM_SMMUV3, &r, sizeof(r), 0);

		want_reasons(&c, IOMMUDIRTY_REASON_SMMUV3_NO_HTTU_DIRTY,
			     IOMMUDIRTY_REASON_SMMUV3_NOT_COHERENT,
			     IOMMUDIRTY_REASON_SMMUV3_NO_STAGE1,
			     IOMMUDIRTY_REASON_KERNEL_NO_CAP, 0);
		assert_int_equal(c.pgsize_bitmap, 0);
	}
}

/* Firmware decides: registers yes + kernel no -> FIRMWARE (inferred);
 * registers no + kernel yes (IORT override) -> the kernel wins. */
static void test_smmuv3_disagreements(void **state)
{
	struct smmu_regs r = smmu(IDR0_GOOD, IDR5_GRAN4K);
	struct iommudirty_caps c = decode(IOMMUDIRTY_HW_INFO_ARM_SMMUV3, &r, sizeof(r), 0);

	want_reasons(&c, IOMMUDIRTY_REASON_SMMUV3_FIRMWARE,
		     IOMMUDIRTY_REASON_KERNEL_NO_CAP,
		     IOMMUDIRTY_REASON_DECODE_DISAGREES, 0);
	assert_int_equal(c.constraints, 0);

	r = smmu(IDR0_GOOD & ~IDR0_COHACC, IDR5_GRAN4K);
	c = decode(IOMMUDIRTY_HW_INFO_ARM_SMMUV3, &r, sizeof(r), K_DIRTY);
	assert_int_equal(c.dirty, 1);
	want_reasons(&c, IOMMUDIRTY_REASON_SMMUV3_NOT_COHERENT,
		     IOMMUDIRTY_REASON_DECODE_DISAGREES, 0);
	assert_int_equal(c.constraints, IOMMUDIRTY_CONSTRAINT_STAGE1_ONLY);
}

static void test_smmuv3_short(void **state)
{
	struct smmu_regs r = smmu(IDR0_GOOD, IDR5_GRAN4K);
	struct iommudirty_caps c = decode(IOMMUDIRTY_HW_INFO_ARM_SMMUV3, &r, 39, K_DIRTY);

	assert_int_equal(c.decoded_dirty, -1);
	want_reasons(&c, IOMMUDIRTY_REASON_SHORT_VENDOR_DATA, 0);
	assert_int_equal(c.constraints, 0);
}

/* ---- AMD-Vi -------------------------------------------------------------- */

static void test_amd(void **state)
{
	struct amd_regs r = { .efr = EFR_HDSUP | 0x1f, .efr2 = 0 };
	struct iommudirty_caps c = decode(IOMMUDIRTY_HW_INFO_AMD, &r, sizeof(r), K_DIRTY);

	assert_int_equal(c.vendor, IOMMUDIRTY_VENDOR_AMD_VI);
	assert_int_equal(c.decoded_dirty, 1);
	want_reasons(&c, 0);
	assert_int_equal(c.constraints, IOMMUDIRTY_CONSTRAINT_V1_TABLES |
					IOMMUDIRTY_CONSTRAINT_NO_PASID);
	assert_int_equal(c.pgsize_bitmap, 0);

	r.efr &= ~EFR_HDSUP;
	c = decode(IOMMUDIRTY_HW_INFO_AMD, &r, sizeof(r), 0);
	assert_int_equal(c.decoded_dirty, 0);
	want_reasons(&c, IOMMUDIRTY_REASON_AMD_NO_HDSUP, IOMMUDIRTY_REASON_KERNEL_NO_CAP, 0);
	assert_int_equal(c.constraints, 0);

	/* Kernel wins both ways. */
	c = decode(IOMMUDIRTY_HW_INFO_AMD, &r, sizeof(r), K_DIRTY);
	want_reasons(&c, IOMMUDIRTY_REASON_AMD_NO_HDSUP,
		     IOMMUDIRTY_REASON_DECODE_DISAGREES, 0);
	r.efr |= EFR_HDSUP;
	c = decode(IOMMUDIRTY_HW_INFO_AMD, &r, sizeof(r), 0);
	want_reasons(&c, IOMMUDIRTY_REASON_KERNEL_NO_CAP,
		     IOMMUDIRTY_REASON_DECODE_DISAGREES, 0);

	c = decode(IOMMUDIRTY_HW_INFO_AMD, &r, 8, 0);
	assert_int_equal(c.decoded_dirty, -1);
	want_reasons(&c, IOMMUDIRTY_REASON_SHORT_VENDOR_DATA,
		     IOMMUDIRTY_REASON_KERNEL_NO_CAP, 0);
}

/* 6.12's AMD driver reports type NONE and no data: no register story, the
 * kernel's bit decides. */
static void test_none(void **state)
{
	struct iommudirty_caps c = decode(IOMMUDIRTY_HW_INFO_NONE, NULL, 0, K_DIRTY);

	assert_int_equal(c.vendor, IOMMUDIRTY_VENDOR_UNKNOWN);
	assert_int_equal(c.decoded_dirty, -1);
	want_reasons(&c, IOMMUDIRTY_REASON_NO_VENDOR_DATA, 0);
	c = decode(IOMMUDIRTY_HW_INFO_NONE, NULL, 0, 0);
	want_reasons(&c, IOMMUDIRTY_REASON_NO_VENDOR_DATA,
		     IOMMUDIRTY_REASON_KERNEL_NO_CAP, 0);
}

/* ---- selftest mock --------------------------------------------------------- */

static void test_mock(void **state)
{
	struct mock_regs r = { .flags = 0, .test_reg = 0xdeadbeef };
	struct iommudirty_caps c = decode(IOMMUDIRTY_HW_INFO_SELFTEST, &r, sizeof(r),
					  K_DIRTY);

	assert_int_equal(c.vendor, IOMMUDIRTY_VENDOR_SELFTEST);
	assert_int_equal(c.decoded_dirty, -1);
	want_reasons(&c, 0);
	assert_int_equal(c.constraints, 0);

	c = decode(IOMMUDIRTY_HW_INFO_SELFTEST, &r, sizeof(r), 0);
	want_reasons(&c, IOMMUDIRTY_REASON_MOCK_NO_DIRTY,
		     IOMMUDIRTY_REASON_KERNEL_NO_CAP, 0);

	c = decode(IOMMUDIRTY_HW_INFO_SELFTEST, &r, 4, 0);
	want_reasons(&c, IOMMUDIRTY_REASON_MOCK_NO_DIRTY,
		     IOMMUDIRTY_REASON_SHORT_VENDOR_DATA,
		     IOMMUDIRTY_REASON_KERNEL_NO_CAP, 0);
}

/* ---- dispatch, arguments, strings ---------------------------------------- */

static void test_unknown_type(void **state)
{
	static const uint32_t types[] = { IOMMUDIRTY_HW_INFO_TEGRA241_CMDQV, 7,
					  0xfeedbeee, 0xffffffff };
	uint8_t junk[40];

	memset(junk, 0xff, sizeof(junk));
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		struct iommudirty_caps c = decode(types[i], junk, sizeof(junk), 0);

		assert_int_equal(c.vendor, IOMMUDIRTY_VENDOR_UNKNOWN);
		assert_int_equal(c.decoded_dirty, -1);
		want_reasons(&c, IOMMUDIRTY_REASON_UNKNOWN_VENDOR,
			     IOMMUDIRTY_REASON_KERNEL_NO_CAP, 0);
		c = decode(types[i], junk, sizeof(junk), K_DIRTY);
		assert_int_equal(c.dirty, 1);
		want_reasons(&c, IOMMUDIRTY_REASON_UNKNOWN_VENDOR, 0);
		assert_int_equal(c.constraints, 0);
	}
}

static void test_args(void **state)
{
	/* 0.1's struct ended at __reserved2: shorter is refused, that size
	 * is filled and nothing past it is written. */
	size_t v01 = offsetof(struct iommudirty_caps, __reserved2) + sizeof(uint32_t);
	struct iommudirty_caps c;
	struct vtd_regs r = vtd(0, 0, 0);

	memset(&c, 0xa5, sizeof(c));
	c.sz = v01 - 1;
	assert_int_equal(iommudirty_decode_hw_info(1, &r, sizeof(r), 0, NULL), -EINVAL);
	assert_int_equal(iommudirty_decode_hw_info(1, &r, sizeof(r), 0, &c), -EINVAL);
	assert_int_equal(errno, EINVAL);
	c.sz = v01;
	assert_int_equal(iommudirty_decode_hw_info(1, &r, sizeof(r), 0, &c), 0);
	assert_int_equal(c.vendor, IOMMUDIRTY_VENDOR_INTEL_VTD);
	assert_int_equal(c.dma_logging, (int32_t)0xa5a5a5a5);
	assert_int_equal(c.migration_flags, 0xa5a5a5a5a5a5a5a5ull);
	c.sz = sizeof(c);
	assert_int_equal(iommudirty_decode_hw_info(1, &r, sizeof(r), 0, &c), 0);
	assert_int_equal(c.dma_logging, -1); /* not a device: unknown */
	assert_int_equal(c.migration_flags, 0);
	assert_int_equal(iommudirty_decode_hw_info(1, NULL, 4, 0, &c), -EINVAL);
	/* Unknown capability bits are ignored; only DIRTY_TRACKING counts. */
	assert_int_equal(iommudirty_decode_hw_info(1, &r, sizeof(r), ~K_DIRTY, &c), 0);
	assert_int_equal(c.dirty, 0);
	assert_int_equal(iommudirty_device_caps(NULL, &c), -EINVAL);
}

/* The reason list never overflows and never repeats a code. */
static void test_reason_list(void **state)
{
	IOMMUDIRTY_OPTS(iommudirty_caps, c);

	for (uint32_t i = 0; i < 3 * IOMMUDIRTY_CAPS_MAX_REASONS; i++) {
		caps_add_reason(&c, 1000 + i % 20);
		caps_add_reason(&c, 1000 + i % 20);
	}
	assert_int_equal(c.nr_reasons, IOMMUDIRTY_CAPS_MAX_REASONS);
	for (uint32_t i = 0; i < c.nr_reasons; i++)
		for (uint32_t j = i + 1; j < c.nr_reasons; j++)
			assert_int_not_equal(c.reasons[i], c.reasons[j]);
}

static void test_strings(void **state)
{
	static const uint32_t codes[] = {
		IOMMUDIRTY_REASON_KERNEL_NO_CAP, IOMMUDIRTY_REASON_UNKNOWN_VENDOR,
		IOMMUDIRTY_REASON_NO_VENDOR_DATA, IOMMUDIRTY_REASON_SHORT_VENDOR_DATA,
		IOMMUDIRTY_REASON_DECODE_DISAGREES, IOMMUDIRTY_REASON_VTD_NO_SMTS,
		IOMMUDIRTY_REASON_VTD_NO_SLTS, IOMMUDIRTY_REASON_VTD_NO_SLADS,
		IOMMUDIRTY_REASON_VTD_NO_SMPWC, IOMMUDIRTY_REASON_VTD_LEGACY_MODE,
		IOMMUDIRTY_REASON_VTD_ERRATUM_772415, IOMMUDIRTY_REASON_AMD_NO_HDSUP,
		IOMMUDIRTY_REASON_SMMUV3_NO_HTTU_DIRTY,
		IOMMUDIRTY_REASON_SMMUV3_NOT_COHERENT,
		IOMMUDIRTY_REASON_SMMUV3_NO_STAGE1, IOMMUDIRTY_REASON_SMMUV3_FIRMWARE,
		IOMMUDIRTY_REASON_MOCK_NO_DIRTY,
	};

	for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
		const char *s = iommudirty_reason_str(codes[i]);

		assert_non_null(s);
		assert_string_not_equal(s, "unknown reason");
		assert_null(strchr(s, '\n'));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(s, iommudirty_reason_str(codes[j]));
	}
	assert_string_equal(iommudirty_reason_str(9999), "unknown reason");
	assert_string_equal(strstr(iommudirty_reason_str(IOMMUDIRTY_REASON_VTD_NO_SLADS),
				   "ECAP.SLADS=0") ? "ok" : "no", "ok");
	assert_string_equal(iommudirty_vendor_str(IOMMUDIRTY_VENDOR_INTEL_VTD), "Intel VT-d");
	assert_string_equal(iommudirty_vendor_str(IOMMUDIRTY_VENDOR_AMD_VI), "AMD-Vi");
	assert_string_equal(iommudirty_vendor_str(IOMMUDIRTY_VENDOR_ARM_SMMUV3), "ARM SMMUv3");
	assert_string_equal(iommudirty_vendor_str(IOMMUDIRTY_VENDOR_SELFTEST),
			    "selftest mock IOMMU");
	assert_string_equal(iommudirty_vendor_str(77), "unknown");
}

/* ---- a bound device on the sim ------------------------------------------ */

static char logbuf[4096];

static void log_cb(enum iommudirty_log_level level, const char *msg, void *user)
{
	(void)user;
	if (level <= IOMMUDIRTY_LOG_ERR)
		snprintf(logbuf + strlen(logbuf), sizeof(logbuf) - strlen(logbuf),
			 "%s\n", msg);
}

static int add_vtd_iommu(struct fx *f, const struct vtd_regs *r, unsigned int flags)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, o, .flags = flags,
			.hw_info_type = IOMMUDIRTY_HW_INFO_INTEL_VTD,
			.hw_info_data = r, .hw_info_len = sizeof(*r));
	int ret = iommudirty_sim_add_iommu(f->sim, &o);

	if (ret < 0)
		return ret;
	f->iommu[f->niommu] = ret;
	return f->niommu++;
}

/* Emulated VT-d in scalable mode: the device's report names SLADS and
 * SMPWC, and the tracker refuses it with every reason in its log. */
static void test_sim_vtd_refused(void **state)
{
	struct vtd_regs r = vtd(1, QEMU_CAP, QEMU_ECAP_SCALABLE);
	IOMMUDIRTY_OPTS(iommudirty_caps, c);
	struct fx f;
	int i, d;

	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(iommudirty_set_log_fn(f.ctx, log_cb, NULL, IOMMUDIRTY_LOG_ERR), 0);
	i = add_vtd_iommu(&f, &r, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY);
	assert_true(i >= 0);
	d = fx_add_device(&f, i);
	assert_true(d >= 0);

	assert_int_equal(iommudirty_device_caps(f.dev[d], &c), 0);
	assert_int_equal(c.vendor, IOMMUDIRTY_VENDOR_INTEL_VTD);
	assert_int_equal(c.dirty, 0);
	want_reasons(&c, IOMMUDIRTY_REASON_VTD_NO_SLADS, IOMMUDIRTY_REASON_VTD_NO_SMPWC,
		     IOMMUDIRTY_REASON_KERNEL_NO_CAP, 0);
	assert_int_equal(c.pgsize_bitmap, SZ_4K | SZ_2M | SZ_1G);

	{
		IOMMUDIRTY_OPTS(iommudirty_tracker_opts, po,
				.flags = IOMMUDIRTY_TRACKER_PRECISE_ONLY);

		assert_int_equal(iommudirty_tracker_new(f.ctx, &po, &f.t), 0);
	}
	logbuf[0] = 0;
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[d]), -EOPNOTSUPP);
	assert_int_equal(iommudirty_tracker_hwpt_ids(f.t, NULL, 0), 0);
	/* One line, every reason on it. */
	assert_non_null(strstr(logbuf, "Intel VT-d"));
	for (uint32_t k = 0; k < c.nr_reasons; k++)
		if (!strstr(logbuf, iommudirty_reason_str(c.reasons[k])))
			fail_msg("log lacks \"%s\": %s",
				 iommudirty_reason_str(c.reasons[k]), logbuf);
	assert_ptr_equal(strchr(logbuf, '\n'), logbuf + strlen(logbuf) - 1);
	fx_fini(&f);
}

/* A sim VT-d whose registers allow tracking and whose kernel bit agrees:
 * the report is clean and the tracker attaches. */
static void test_sim_vtd_capable(void **state)
{
	struct vtd_regs r = vtd(1, QEMU_CAP, E_ALL);
	IOMMUDIRTY_OPTS(iommudirty_caps, c);
	struct fx f;
	int i, d;

	assert_int_equal(fx_init(&f), 0);
	i = add_vtd_iommu(&f, &r, 0);
	d = fx_add_device(&f, i);
	assert_true(d >= 0);
	assert_int_equal(iommudirty_device_caps(f.dev[d], &c), 0);
	assert_int_equal(c.dirty, 1);
	assert_int_equal(c.decoded_dirty, 1);
	want_reasons(&c, 0);
	assert_true(c.constraints & IOMMUDIRTY_CONSTRAINT_SECOND_STAGE_ONLY);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[d]), 0);
	assert_int_equal(iommudirty_tracker_detach(f.t, f.dev[d]), 0);
	fx_fini(&f);
}

/* The default sim IOMMU is the mock; NO_DIRTY gives the mock's reason. */
static void test_sim_mock_no_dirty(void **state)
{
	IOMMUDIRTY_OPTS(iommudirty_caps, c);
	struct fx f;
	int i, d;

	assert_int_equal(fx_init(&f), 0);
	i = fx_add_iommu(&f, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY);
	d = fx_add_device(&f, i);
	assert_true(d >= 0);
	assert_int_equal(iommudirty_device_caps(f.dev[d], &c), 0);
	assert_int_equal(c.vendor, IOMMUDIRTY_VENDOR_SELFTEST);
	assert_true(has(&c, IOMMUDIRTY_REASON_MOCK_NO_DIRTY));
	assert_true(has(&c, IOMMUDIRTY_REASON_KERNEL_NO_CAP));
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vtd_qemu_legacy),
		cmocka_unit_test(test_vtd_qemu_scalable),
		cmocka_unit_test(test_vtd_capable),
		cmocka_unit_test(test_vtd_each_bit),
		cmocka_unit_test(test_vtd_legacy_mode_inferred),
		cmocka_unit_test(test_vtd_kernel_wins),
		cmocka_unit_test(test_vtd_pgsize),
		cmocka_unit_test(test_vtd_short),
		cmocka_unit_test(test_vtd_unaligned),
		cmocka_unit_test(test_smmuv3_capable),
		cmocka_unit_test(test_smmuv3_reasons),
		cmocka_unit_test(test_smmuv3_disagreements),
		cmocka_unit_test(test_smmuv3_short),
		cmocka_unit_test(test_amd),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_mock),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_reason_list),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_sim_vtd_refused),
		cmocka_unit_test(test_sim_vtd_capable),
		cmocka_unit_test(test_sim_mock_no_dirty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
