// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel's dirty-tracking traps, asserted with raw ioctls on a kernel
 * bed (kbed.h). The same source runs against the real 6.12 kernel in a QEMU
 * guest (tests/kernel/) and against the library's simulated kernel (host
 * unit test tests/unit/test_traps_sim.c): whatever the sim reproduces must
 * be what the real kernel does.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kbed.h"
#include "uapi.h"

#define B KBED_APERTURE_START
#define IOP KBED_IO_PAGE
#define KiB 1024ull
#define MiB (1024ull * 1024)

struct kbed_env {
	struct kbed *b;
	char *why;
	size_t whylen;
	uint32_t ioas;
	struct kbed_dev dev;
	uint32_t hwpt; /* dirty-tracking HWPT the device is attached to */
};

static int failf(struct kbed_env *e, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int failf(struct kbed_env *e, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(e->why, e->whylen, "traps.c:%d: ", line);
	if (n < 0 || (size_t)n >= e->whylen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(e->why + n, e->whylen - n, fmt, ap);
	va_end(ap);
	return -1;
}

#define FAIL(...) return failf(e, __LINE__, __VA_ARGS__)
/* A call that must return exactly @want (0 or a negative errno). */
#define EXPECT_RC(call, want)                                                 \
	do {                                                                  \
		int rc_ = (call);                                             \
		if (rc_ != (want))                                            \
			FAIL("%s = %d (%s), want %d", #call, rc_,             \
			     strerror(rc_ < 0 ? -rc_ : 0), (int)(want));      \
	} while (0)
#define OK(call) EXPECT_RC(call, 0)
#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond))                                                  \
			FAIL(__VA_ARGS__);                                    \
	} while (0)

/* ---- raw ioctl helpers ---- */

static int ioas_alloc(struct kbed_env *e, uint32_t *id)
{
	struct uapi_ioas_alloc a = { .size = sizeof(a) };
	int rc = e->b->ops->ioctl(e->b, IOMMU_IOAS_ALLOC, &a);

	if (!rc)
		*id = a.out_ioas_id;
	return rc;
}

static int map(struct kbed_env *e, void *va, uint64_t len, uint64_t iova)
{
	struct uapi_ioas_map m = {
		.size = sizeof(m),
		.flags = UAPI_IOAS_MAP_FIXED_IOVA | UAPI_IOAS_MAP_READABLE |
			 UAPI_IOAS_MAP_WRITEABLE,
		.ioas_id = e->ioas,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = iova,
	};
	return e->b->ops->ioctl(e->b, IOMMU_IOAS_MAP, &m);
}

static int unmap(struct kbed_env *e, uint64_t iova, uint64_t len)
{
	struct uapi_ioas_unmap u = {
		.size = sizeof(u), .ioas_id = e->ioas, .iova = iova, .length = len,
	};
	return e->b->ops->ioctl(e->b, IOMMU_IOAS_UNMAP, &u);
}

static int hwpt_alloc(struct kbed_env *e, uint32_t dev_id, uint32_t flags,
		      uint32_t *out)
{
	struct uapi_hwpt_alloc a = {
		.size = sizeof(a), .flags = flags, .dev_id = dev_id,
		.pt_id = e->ioas,
	};
	int rc = e->b->ops->ioctl(e->b, IOMMU_HWPT_ALLOC, &a);

	if (!rc)
		*out = a.out_hwpt_id;
	return rc;
}

static int tracking(struct kbed_env *e, uint32_t hwpt, uint32_t flags)
{
	struct uapi_hwpt_set_dirty_tracking s = {
		.size = sizeof(s), .flags = flags, .hwpt_id = hwpt,
	};
	return e->b->ops->ioctl(e->b, IOMMU_HWPT_SET_DIRTY_TRACKING, &s);
}

static int get_bitmap(struct kbed_env *e, uint32_t hwpt, uint64_t iova,
		      uint64_t len, uint64_t pgsz, void *data, uint32_t flags)
{
	struct uapi_hwpt_get_dirty_bitmap g = {
		.size = sizeof(g), .hwpt_id = hwpt, .flags = flags, .iova = iova,
		.length = len, .page_size = pgsz, .data = (uintptr_t)data,
	};
	return e->b->ops->ioctl(e->b, IOMMU_HWPT_GET_DIRTY_BITMAP, &g);
}

/* The device writes IO pages [first, first+n) counted from B. */
static int dirty(struct kbed_env *e, struct kbed_dev *d, uint64_t first, uint64_t n)
{
	return e->b->ops->dma_write(e->b, d, B + first * IOP, n * IOP);
}

static void *mem(struct kbed_env *e, size_t len, bool huge)
{
	return e->b->ops->mem_alloc(e->b, len, huge);
}

/* IOAS, one device (flags), a dirty HWPT it is moved to, optionally
 * tracking enabled. */
static int setup(struct kbed_env *e, unsigned int dev_flags, bool enable)
{
	int rc;

	rc = ioas_alloc(e, &e->ioas);
	if (rc)
		FAIL("IOAS_ALLOC = %d", rc);
	rc = e->b->ops->dev_new(e->b, e->ioas, dev_flags, &e->dev);
	if (rc)
		FAIL("creating a device = %d (%s)", rc, strerror(-rc));
	rc = hwpt_alloc(e, e->dev.dev_id, UAPI_HWPT_ALLOC_DIRTY_TRACKING,
			&e->hwpt);
	if (rc)
		FAIL("HWPT_ALLOC(DIRTY_TRACKING) = %d (%s)", rc, strerror(-rc));
	rc = e->b->ops->dev_replace(e->b, &e->dev, e->hwpt);
	if (rc)
		FAIL("moving the device to the dirty HWPT = %d (%s)", rc,
		     strerror(-rc));
	if (enable) {
		rc = tracking(e, e->hwpt, UAPI_HWPT_DIRTY_TRACKING_ENABLE);
		if (rc)
			FAIL("SET_DIRTY_TRACKING(ENABLE) = %d", rc);
	}
	return 0;
}

/* Setup plus @len bytes of normal memory mapped at B. */
static int setup_mapped(struct kbed_env *e, uint64_t len)
{
	void *p;

	if (setup(e, 0, true))
		return -1;
	p = mem(e, len, false);
	if (!p)
		FAIL("no memory");
	OK(map(e, p, len, B));
	return 0;
}

static int test_bit(const void *bm, uint64_t i)
{
	return (((const uint8_t *)bm)[i / 8] >> (i % 8)) & 1;
}

/* Compare nbits of a bitmap with the bits listed (sorted, < nbits). */
static int expect_bits_(struct kbed_env *e, int line, const char *what,
			const void *bm, uint64_t nbits, const uint64_t *set,
			size_t nset)
{
	size_t k = 0, wrong = 0;
	uint64_t first_bad = 0;
	int bad_val = 0;

	for (uint64_t i = 0; i < nbits; i++) {
		int want = k < nset && set[k] == i;

		if (want)
			k++;
		if (test_bit(bm, i) != want) {
			if (!wrong++) {
				first_bad = i;
				bad_val = !want;
			}
		}
	}
	if (wrong)
		return failf(e, line,
			     "%s: %zu wrong bits of %llu, first: bit %llu is %d",
			     what, wrong, (unsigned long long)nbits,
			     (unsigned long long)first_bad, bad_val);
	return 0;
}

#define BITS(...) ((const uint64_t[]){ __VA_ARGS__ })
#define NBITS(...) (sizeof(BITS(__VA_ARGS__)) / sizeof(uint64_t))
#define EXPECT_BITS(what, bm, nbits, ...)                                     \
	do {                                                                  \
		if (expect_bits_(e, __LINE__, what, bm, nbits,                \
				 BITS(__VA_ARGS__), NBITS(__VA_ARGS__)))      \
			return -1;                                            \
	} while (0)
#define EXPECT_NO_BITS(what, bm, nbits)                                       \
	do {                                                                  \
		if (expect_bits_(e, __LINE__, what, bm, nbits, NULL, 0))      \
			return -1;                                            \
	} while (0)

/* ---- the traps ---- */

/* A read across an unmapped hole succeeds but stops at the hole: the bits
 * after it are neither reported nor cleared. A read that starts in a hole
 * reports nothing at all. */
static int t_hole(struct kbed_env *e)
{
	uint64_t bm[4];
	void *p;

	if (setup(e, 0, true))
		return -1;
	p = mem(e, 256 * KiB, false);
	CHECK(p, "no memory");
	OK(map(e, p, 64 * KiB, B));
	OK(map(e, (char *)p + 128 * KiB, 64 * KiB, B + 128 * KiB));
	OK(dirty(e, &e->dev, 0, 1));
	OK(dirty(e, &e->dev, 4, 1));
	OK(dirty(e, &e->dev, 64, 2)); /* B + 128 KiB: after the hole */

	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 192 * KiB, IOP, bm, 0));
	EXPECT_BITS("read across the hole", bm, 96, 0, 4);

	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B + 128 * KiB, 64 * KiB, IOP, bm, 0));
	EXPECT_BITS("mapping after the hole, read alone", bm, 32, 0, 1);

	OK(dirty(e, &e->dev, 65, 1));
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B + 64 * KiB, 128 * KiB, IOP, bm, 0));
	EXPECT_NO_BITS("read starting in the hole", bm, 64);
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B + 128 * KiB, 64 * KiB, IOP, bm, 0));
	EXPECT_BITS("mapping after the hole, read alone again", bm, 32, 1);
	return 0;
}

/* ENABLE clears the dirty bits gathered so far, even when tracking is
 * already on. */
static int t_enable_wipes(struct kbed_env *e)
{
	uint64_t bm[1];

	if (setup_mapped(e, 128 * KiB))
		return -1;
	OK(dirty(e, &e->dev, 0, 1));
	OK(dirty(e, &e->dev, 3, 1));
	OK(tracking(e, e->hwpt, UAPI_HWPT_DIRTY_TRACKING_ENABLE));
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm, 0));
	EXPECT_NO_BITS("after a second ENABLE", bm, 64);

	/* Still tracking after it. */
	OK(dirty(e, &e->dev, 5, 1));
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm,
		      UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	EXPECT_BITS("written after the second ENABLE", bm, 64, 5);

	/* DISABLE keeps the bits, the next ENABLE drops them. */
	OK(tracking(e, e->hwpt, 0));
	OK(tracking(e, e->hwpt, UAPI_HWPT_DIRTY_TRACKING_ENABLE));
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm, 0));
	EXPECT_NO_BITS("after DISABLE + ENABLE", bm, 64);
	return 0;
}

/* With tracking disabled, GET_DIRTY_BITMAP succeeds and reports nothing,
 * even though dirty bits are held (the driver's error is dropped). */
static int t_read_disabled(struct kbed_env *e)
{
	uint64_t bm[1];

	if (setup_mapped(e, 128 * KiB))
		return -1;
	OK(dirty(e, &e->dev, 2, 1));
	OK(tracking(e, e->hwpt, 0));
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm, 0));
	EXPECT_NO_BITS("read with tracking disabled", bm, 64);
	return 0;
}

/* The kernel only sets bits in the user bitmap; it never clears any, and
 * it writes nothing past the range. */
static int t_bits_only_set(struct kbed_env *e)
{
	const uint64_t pat = 0xa5a5a5a5a5a5a5a5ull;
	uint64_t bm[3];

	if (setup_mapped(e, 128 * KiB))
		return -1;
	OK(dirty(e, &e->dev, 1, 2));
	OK(dirty(e, &e->dev, 40, 1));
	bm[0] = bm[1] = bm[2] = pat;
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm, 0));
	CHECK(bm[0] == (pat | 1ull << 1 | 1ull << 2 | 1ull << 40),
	      "word 0 = %#llx, want %#llx", (unsigned long long)bm[0],
	      (unsigned long long)(pat | 1ull << 1 | 1ull << 2 | 1ull << 40));
	CHECK(bm[1] == pat && bm[2] == pat, "words past the range changed");

	/* Nothing dirty: the buffer is left exactly as it was. */
	bm[0] = pat;
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm, 0));
	CHECK(bm[0] == pat, "clean read changed the buffer: %#llx",
	      (unsigned long long)bm[0]);
	return 0;
}

/* NO_CLEAR reports the same bits again; a clearing read clears them. */
static int t_no_clear(struct kbed_env *e)
{
	uint64_t bm[1];

	if (setup_mapped(e, 128 * KiB))
		return -1;
	OK(dirty(e, &e->dev, 3, 1));
	OK(dirty(e, &e->dev, 7, 1));
	for (int i = 0; i < 2; i++) {
		memset(bm, 0, sizeof(bm));
		OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm,
			      UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
		EXPECT_BITS("NO_CLEAR read", bm, 64, 3, 7);
	}
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm, 0));
	EXPECT_BITS("clearing read", bm, 64, 3, 7);
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm, 0));
	EXPECT_NO_BITS("read after the clearing read", bm, 64);
	return 0;
}

/* Bitmap pages smaller than the IO page replicate its bit; larger ones OR
 * the IO pages they cover. */
static int t_page_sizes(struct kbed_env *e)
{
	uint64_t bm[8];

	if (setup_mapped(e, 256 * KiB))
		return -1;
	OK(dirty(e, &e->dev, 3, 2)); /* [6 KiB, 10 KiB) */
	OK(dirty(e, &e->dev, 64, 1)); /* [128 KiB, 130 KiB) */

	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 256 * KiB, 1 * KiB, bm,
		      UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	EXPECT_BITS("1 KiB bitmap pages", bm, 256, 6, 7, 8, 9, 128, 129);
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 256 * KiB, 4 * KiB, bm,
		      UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	EXPECT_BITS("4 KiB bitmap pages", bm, 64, 1, 2, 32);
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 256 * KiB, 64 * KiB, bm, 0));
	EXPECT_BITS("64 KiB bitmap pages", bm, 4, 0, 2);
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 256 * KiB, 2 * KiB, bm, 0));
	EXPECT_NO_BITS("after the clearing 64 KiB read", bm, 128);
	return 0;
}

/* A dirty huge IOPTE reports every bitmap page it covers. */
static int t_huge(struct kbed_env *e)
{
	static uint64_t bm[16];
	void *p;

	if (setup(e, KBED_DEV_HUGE, true))
		return -1;
	p = mem(e, 2 * MiB, true);
	if (!p) {
		snprintf(e->why, e->whylen, "no 2 MiB huge pages");
		return 1;
	}
	OK(map(e, p, 2 * MiB, B));
	OK(dirty(e, &e->dev, 2, 1)); /* one 2 KiB write at B + 4 KiB */

	uint64_t want[256];
	for (int i = 0; i < 256; i++)
		want[i] = i;
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 2 * MiB, 4 * KiB, bm,
		      UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	if (expect_bits_(e, __LINE__, "4 KiB bitmap pages over a dirty 1 MiB IOPTE",
			 bm, 512, want, 256))
		return -1;
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 2 * MiB, 1 * MiB, bm,
		      UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	EXPECT_BITS("1 MiB bitmap pages", bm, 2, 0);
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 2 * MiB, 2 * MiB, bm, 0));
	EXPECT_BITS("2 MiB bitmap page", bm, 1, 0);
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 2 * MiB, 4 * KiB, bm, 0));
	EXPECT_NO_BITS("after the clearing read", bm, 512);
	return 0;
}

/* A clearing read of part of a dirty huge IOPTE clears all of it: the rest
 * of its pages are never reported again. And the kernel writes past the
 * end of the bitmap the range needs. */
static int t_huge_partial(struct kbed_env *e)
{
	static uint64_t bm[16];
	const uint64_t pat = 0x5a5a5a5a5a5a5a5aull;
	void *p;

	if (setup(e, KBED_DEV_HUGE, true))
		return -1;
	p = mem(e, 2 * MiB, true);
	if (!p) {
		snprintf(e->why, e->whylen, "no 2 MiB huge pages");
		return 1;
	}
	OK(map(e, p, 2 * MiB, B));
	OK(dirty(e, &e->dev, 2, 1)); /* B + 4 KiB: IOPTE [B, B + 1 MiB) */

	/* Read 64 KiB from the middle of the IOPTE, guard words after it. The
	 * driver records the whole IOPTE size from the read's start (6.12
	 * mock and VT-d alike): 256 bits at 4 KiB where 16 were asked, so
	 * the kernel writes 24 bytes past the 8-byte bitmap. */
	for (int i = 0; i < 16; i++)
		bm[i] = i ? pat : 0;
	OK(get_bitmap(e, e->hwpt, B + 512 * KiB, 64 * KiB, 4 * KiB, bm, 0));
	CHECK((bm[0] & 0xffff) == 0xffff, "in-range bits %#llx, want 0xffff",
	      (unsigned long long)(bm[0] & 0xffff));
	{
		char got[200];
		int n = 0;

		for (int i = 0; i < 6; i++)
			n += snprintf(got + n, sizeof(got) - n, " %llx",
				      (unsigned long long)bm[i]);
		CHECK(bm[0] == ~0ull && bm[1] == ~0ull && bm[2] == ~0ull &&
		      bm[3] == ~0ull && bm[4] == pat,
		      "bitmap words after the read:%s; want 4 words of ones "
		      "(1 MiB from the read's start) then the guard", got);
	}
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 2 * MiB, 4 * KiB, bm, 0));
	EXPECT_NO_BITS("the rest of the IOPTE after a partial clearing read", bm,
		       512);
	return 0;
}

/* A bitmap the kernel cannot write (NULL) is no error: the bits are
 * silently lost, and a clearing read clears them in the IOMMU anyway. */
static int t_null_bitmap(struct kbed_env *e)
{
	uint64_t bm[1];

	if (setup_mapped(e, 128 * KiB))
		return -1;
	OK(dirty(e, &e->dev, 3, 1));
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, NULL,
		      UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm,
		      UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	EXPECT_BITS("after a NO_CLEAR read into NULL", bm, 64, 3);
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, NULL, 0));
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm, 0));
	EXPECT_NO_BITS("after a clearing read into NULL", bm, 64);
	return 0;
}

/* The user bitmap needs no alignment: it is a byte array. */
static int t_unaligned_bitmap(struct kbed_env *e)
{
	uint8_t buf[32];

	if (setup_mapped(e, 128 * KiB))
		return -1;
	OK(dirty(e, &e->dev, 0, 1));
	OK(dirty(e, &e->dev, 9, 1));
	memset(buf, 0, sizeof(buf));
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, buf + 3, 0));
	CHECK(buf[3] == 0x01 && buf[4] == 0x02, "bytes %#x %#x, want 0x1 0x2",
	      buf[3], buf[4]);
	for (size_t i = 0; i < sizeof(buf); i++)
		CHECK(i == 3 || i == 4 || !buf[i], "byte %zu = %#x", i, buf[i]);
	return 0;
}

/* Unmapping drops the dirty bits; reading unmapped IOVA succeeds, empty. */
static int t_unmapped(struct kbed_env *e)
{
	uint64_t bm[2];

	if (setup_mapped(e, 128 * KiB))
		return -1;
	OK(dirty(e, &e->dev, 1, 1));
	OK(unmap(e, B, 128 * KiB));
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm, 0));
	EXPECT_NO_BITS("read of an unmapped range", bm, 64);
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B + 1 * MiB, 128 * KiB, IOP, bm, 0));
	EXPECT_NO_BITS("read of a never-mapped range", bm, 64);
	return 0;
}

/* Argument checks, in the order the kernel makes them. */
static int t_errno(struct kbed_env *e)
{
	uint64_t bm[4] = { 0 };
	uint32_t plain_hwpt;

	if (setup_mapped(e, 128 * KiB))
		return -1;
	/* The HWPT the device was attached to first has no dirty tracking. */
	OK(hwpt_alloc(e, e->dev.dev_id, 0, &plain_hwpt));

	EXPECT_RC(get_bitmap(e, e->hwpt, B, 0, IOP, bm, 0), -EINVAL);
	EXPECT_RC(get_bitmap(e, e->hwpt, ~0ull - 4095, 8192, IOP, bm, 0),
		  -EOVERFLOW);
	/* iova and length must be multiples of the IOAS alignment (2 KiB)... */
	EXPECT_RC(get_bitmap(e, e->hwpt, B + 1 * KiB, 4 * KiB, 1 * KiB, bm, 0),
		  -EINVAL);
	EXPECT_RC(get_bitmap(e, e->hwpt, B, 5 * KiB, 1 * KiB, bm, 0), -EINVAL);
	/* ...and of page_size, which must not be 0 */
	EXPECT_RC(get_bitmap(e, e->hwpt, B, 4 * KiB, 0, bm, 0), -EINVAL);
	EXPECT_RC(get_bitmap(e, e->hwpt, B + IOP, 8 * KiB, 4 * KiB, bm, 0),
		  -EINVAL);
	EXPECT_RC(get_bitmap(e, e->hwpt, B, 6 * KiB, 4 * KiB, bm, 0), -EINVAL);
	/* page_size is not checked to be a power of two */
	EXPECT_RC(get_bitmap(e, e->hwpt, B, 64 * KiB, 6 * KiB, bm, 0), 0);
	/* unknown flags, reserved field */
	EXPECT_RC(get_bitmap(e, e->hwpt, B, 4 * KiB, IOP, bm, 2), -EOPNOTSUPP);
	{
		struct uapi_hwpt_get_dirty_bitmap g = {
			.size = sizeof(g), .hwpt_id = e->hwpt, .__reserved = 1,
			.iova = B, .length = 4 * KiB, .page_size = IOP,
			.data = (uintptr_t)bm,
		};
		EXPECT_RC(e->b->ops->ioctl(e->b, IOMMU_HWPT_GET_DIRTY_BITMAP, &g),
			  -EOPNOTSUPP);
	}
	/* struct size: too small, larger with zero tail, non-zero tail */
	{
		struct {
			struct uapi_hwpt_get_dirty_bitmap g;
			uint64_t tail;
		} x = {
			.g = { .size = 40, .hwpt_id = e->hwpt, .iova = B,
			       .length = 4 * KiB, .page_size = IOP,
			       .data = (uintptr_t)bm },
		};
		EXPECT_RC(e->b->ops->ioctl(e->b, IOMMU_HWPT_GET_DIRTY_BITMAP, &x),
			  -EINVAL);
		x.g.size = sizeof(x);
		EXPECT_RC(e->b->ops->ioctl(e->b, IOMMU_HWPT_GET_DIRTY_BITMAP, &x),
			  0);
		x.tail = 1;
		EXPECT_RC(e->b->ops->ioctl(e->b, IOMMU_HWPT_GET_DIRTY_BITMAP, &x),
			  -E2BIG);
	}
	/* wrong object kinds */
	EXPECT_RC(get_bitmap(e, e->ioas, B, 4 * KiB, IOP, bm, 0), -ENOENT);
	EXPECT_RC(get_bitmap(e, 0xfffff, B, 4 * KiB, IOP, bm, 0), -ENOENT);
	EXPECT_RC(get_bitmap(e, plain_hwpt, B, 4 * KiB, IOP, bm, 0),
		  -EOPNOTSUPP);

	EXPECT_RC(tracking(e, e->hwpt, 2), -EOPNOTSUPP);
	EXPECT_RC(tracking(e, plain_hwpt, UAPI_HWPT_DIRTY_TRACKING_ENABLE),
		  -EOPNOTSUPP);
	EXPECT_RC(tracking(e, e->ioas, UAPI_HWPT_DIRTY_TRACKING_ENABLE),
		  -ENOENT);
	{
		struct uapi_hwpt_set_dirty_tracking s = {
			.size = 12, .flags = UAPI_HWPT_DIRTY_TRACKING_ENABLE,
			.hwpt_id = e->hwpt,
		};
		EXPECT_RC(e->b->ops->ioctl(e->b, IOMMU_HWPT_SET_DIRTY_TRACKING, &s),
			  -EINVAL);
	}
	/* unknown HWPT_ALLOC flag */
	EXPECT_RC(hwpt_alloc(e, e->dev.dev_id, 1u << 7, &plain_hwpt),
		  -EOPNOTSUPP);
	return 0;
}

/* GET_DIRTY_BITMAP checks the range before the HWPT's dirty support. */
static int t_errno_order(struct kbed_env *e)
{
	uint64_t bm[4] = { 0 };
	uint32_t plain_hwpt;

	if (setup_mapped(e, 128 * KiB))
		return -1;
	OK(hwpt_alloc(e, e->dev.dev_id, 0, &plain_hwpt));
	EXPECT_RC(get_bitmap(e, plain_hwpt, B, 0, IOP, bm, 0), -EINVAL);
	EXPECT_RC(get_bitmap(e, plain_hwpt, B + IOP, 8 * KiB, 4 * KiB, bm, 0),
		  -EINVAL);
	EXPECT_RC(get_bitmap(e, plain_hwpt, B, 4 * KiB, 0, bm, 0), -EINVAL);
	return 0;
}

/* A device whose IOMMU cannot track: no dirty HWPT for it, and it cannot
 * join one. */
static int t_no_dirty_device(struct kbed_env *e)
{
	struct kbed_dev nd;
	uint32_t h;
	uint64_t bm[1] = { 0 };

	if (setup_mapped(e, 64 * KiB))
		return -1;
	OK(e->b->ops->dev_new(e->b, e->ioas, KBED_DEV_NO_DIRTY, &nd));
	EXPECT_RC(hwpt_alloc(e, nd.dev_id, UAPI_HWPT_ALLOC_DIRTY_TRACKING, &h),
		  -EOPNOTSUPP);
	EXPECT_RC(e->b->ops->dev_replace(e->b, &nd, e->hwpt), -EINVAL);
	/* Its own HWPT (made at attach) tracks nothing. */
	EXPECT_RC(tracking(e, nd.pt_id, UAPI_HWPT_DIRTY_TRACKING_ENABLE),
		  -EOPNOTSUPP);
	EXPECT_RC(get_bitmap(e, nd.pt_id, B, 64 * KiB, IOP, bm, 0),
		  -EOPNOTSUPP);
	return 0;
}

/* Two HWPTs on one IOAS track separately; a device moved from one to the
 * other leaves the bits it made in the first. */
static int t_two_hwpts(struct kbed_env *e)
{
	struct kbed_dev d2;
	uint32_t h2;
	uint64_t bm[1];

	if (setup_mapped(e, 128 * KiB))
		return -1;
	OK(e->b->ops->dev_new(e->b, e->ioas, 0, &d2));
	OK(hwpt_alloc(e, d2.dev_id, UAPI_HWPT_ALLOC_DIRTY_TRACKING, &h2));
	OK(e->b->ops->dev_replace(e->b, &d2, h2));
	OK(tracking(e, h2, UAPI_HWPT_DIRTY_TRACKING_ENABLE));
	OK(dirty(e, &e->dev, 0, 1));
	OK(dirty(e, &d2, 1, 1));
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm, 0));
	EXPECT_BITS("first HWPT", bm, 64, 0);
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, h2, B, 128 * KiB, IOP, bm, 0));
	EXPECT_BITS("second HWPT", bm, 64, 1);

	/* Move the first device to the second HWPT. */
	OK(dirty(e, &e->dev, 2, 1));
	OK(e->b->ops->dev_replace(e->b, &e->dev, h2));
	OK(dirty(e, &e->dev, 3, 1));
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm, 0));
	EXPECT_BITS("first HWPT after the move", bm, 64, 2);
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, h2, B, 128 * KiB, IOP, bm, 0));
	EXPECT_BITS("second HWPT after the move", bm, 64, 3);
	return 0;
}

/* The IOAS takes the device's aperture and IO page: IOVA_RANGES, maps
 * outside it, overlapping maps, unmaps that cut a mapping. */
static int t_ioas_rules(struct kbed_env *e)
{
	struct uapi_iova_range r[4];
	struct uapi_ioas_iova_ranges q = { .size = sizeof(q) };
	void *p;

	if (setup_mapped(e, 128 * KiB))
		return -1;
	q.ioas_id = e->ioas;
	q.num_iovas = 4;
	q.allowed_iovas = (uintptr_t)r;
	OK(e->b->ops->ioctl(e->b, IOMMU_IOAS_IOVA_RANGES, &q));
	CHECK(q.num_iovas == 1 && r[0].start == KBED_APERTURE_START &&
	      r[0].last == KBED_APERTURE_LAST,
	      "%u ranges, first [%#llx, %#llx]", q.num_iovas,
	      (unsigned long long)r[0].start, (unsigned long long)r[0].last);
	CHECK(q.out_iova_alignment == IOP, "alignment %llu",
	      (unsigned long long)q.out_iova_alignment);
	q.num_iovas = 0;
	EXPECT_RC(e->b->ops->ioctl(e->b, IOMMU_IOAS_IOVA_RANGES, &q), -EMSGSIZE);
	CHECK(q.num_iovas == 1, "num_iovas %u after EMSGSIZE", q.num_iovas);

	p = mem(e, 128 * KiB, false);
	CHECK(p, "no memory");
	EXPECT_RC(map(e, p, 64 * KiB, B + 64 * KiB), -EEXIST);
	EXPECT_RC(map(e, p, 64 * KiB, B + IOP / 2), -EINVAL);
	EXPECT_RC(unmap(e, B, 64 * KiB), -ENOENT);
	EXPECT_RC(unmap(e, B + 1 * MiB, 64 * KiB), -ENOENT);
	{
		struct uapi_ioas_unmap u = {
			.size = sizeof(u), .ioas_id = e->ioas, .iova = B - 64 * KiB,
			.length = 1 * MiB,
		};
		OK(e->b->ops->ioctl(e->b, IOMMU_IOAS_UNMAP, &u));
		CHECK(u.length == 128 * KiB, "unmapped %llu bytes",
		      (unsigned long long)u.length);
	}
	return 0;
}

/* IOVA outside the attached domain's aperture is reserved: -EINVAL. */
static int t_map_outside_aperture(struct kbed_env *e)
{
	void *p;

	if (setup_mapped(e, 64 * KiB))
		return -1;
	p = mem(e, 64 * KiB, false);
	CHECK(p, "no memory");
	EXPECT_RC(map(e, p, 64 * KiB, B - 64 * KiB), -EINVAL);
	EXPECT_RC(map(e, p, 64 * KiB, KBED_APERTURE_LAST + 1 - 32 * KiB), -EINVAL);
	return 0;
}

/* Mapping into a dirty HWPT that is tracking starts clean. */
static int t_map_clean(struct kbed_env *e)
{
	uint64_t bm[1];
	void *p;

	if (setup_mapped(e, 64 * KiB))
		return -1;
	p = mem(e, 64 * KiB, false);
	CHECK(p, "no memory");
	OK(map(e, p, 64 * KiB, B + 64 * KiB));
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm, 0));
	EXPECT_NO_BITS("fresh mappings", bm, 64);
	OK(dirty(e, &e->dev, 33, 1));
	memset(bm, 0, sizeof(bm));
	OK(get_bitmap(e, e->hwpt, B, 128 * KiB, IOP, bm, 0));
	EXPECT_BITS("IOVA-adjacent mappings read in one call", bm, 64, 33);
	return 0;
}

const struct kbed_test kbed_traps[] = {
	{ "get_dirty_bitmap_hole", t_hole },
	{ "enable_wipes_bits", t_enable_wipes },
	{ "read_while_disabled", t_read_disabled },
	{ "bitmap_bits_only_set", t_bits_only_set },
	{ "no_clear", t_no_clear },
	{ "bitmap_page_sizes", t_page_sizes },
	{ "huge_iopte_replication", t_huge },
	{ "huge_iopte_partial_read", t_huge_partial },
	{ "unaligned_bitmap", t_unaligned_bitmap },
	{ "null_bitmap_loses_bits", t_null_bitmap },
	{ "unmapped_range", t_unmapped },
	{ "errno_rules", t_errno },
	{ "errno_check_order", t_errno_order },
	{ "no_dirty_device", t_no_dirty_device },
	{ "two_hwpts_and_move", t_two_hwpts },
	{ "adjacent_maps_clean", t_map_clean },
	{ "ioas_rules", t_ioas_rules },
	{ "map_outside_aperture", t_map_outside_aperture },
	{ NULL, NULL },
};

int kbed_run(kbed_factory_fn factory, const struct kbed_test *t, char *why,
	     size_t whylen)
{
	struct kbed_env env = { .why = why, .whylen = whylen };
	struct kbed_env *e = &env;
	int rc;

	why[0] = 0;
	e->b = factory();
	if (!e->b)
		FAIL("cannot make a kernel bed: %s", strerror(errno));
	rc = t->fn(e);
	e->b->ops->destroy(e->b);
	return rc;
}
