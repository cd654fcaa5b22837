// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Boot 1 library tests: the public API on real 6.12 kernel code with the
 * selftest mock IOMMU. Mock devices come from IOMMU_TEST_OP_MOCK_DOMAIN on
 * the tracker's IOAS, are wrapped with iommudirty_device_adopt(), moved to
 * the tracker's HWPT with MOCK_DOMAIN_REPLACE, and "write" through
 * IOMMU_TEST_OP_DIRTY.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iommudirty.h"
#include "kutil.h"
#include "mock_abi.h"

#define B MOCK_APERTURE_START
#define KiB 1024ull
#define MiB (1024ull * 1024)

struct lenv {
	char why[512];
	struct iommudirty_ctx *ctx;
	struct iommudirty_tracker *t;
	int fd;
	struct {
		struct iommudirty_device *dev;
		uint32_t stdev, idev, hwpt;
	} d[2];
	int nd;
	struct {
		void *p;
		size_t len;
		bool huge;
	} mem[8];
	int nmem;
	uint64_t bm[1024]; /* 8 KiB */
};

static int lfail(struct lenv *e, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int lfail(struct lenv *e, int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(e->why, sizeof(e->why), "ktest_lib.c:%d: ", line);

	va_start(ap, fmt);
	vsnprintf(e->why + n, sizeof(e->why) - n, fmt, ap);
	va_end(ap);
	return -1;
}

#define FAIL(...) return lfail(e, __LINE__, __VA_ARGS__)
#define EXPECT_RC(call, want)                                                 \
	do {                                                                  \
		int rc_ = (call);                                             \
		if (rc_ != (want))                                            \
			FAIL("%s = %d (%s), want %d", #call, rc_,             \
			     strerror(rc_ < 0 ? -rc_ : 0), (int)(want));      \
	} while (0)
#define OK(call) EXPECT_RC(call, 0)
/* rd() that must succeed; keeps rd's own reason for an overrun. */
#define RD(...)                                                               \
	do {                                                                  \
		int r_ = rd(e, __VA_ARGS__);                                  \
		if (r_ == RD_OVERRUN)                                         \
			return -1;                                            \
		if (r_)                                                       \
			FAIL("rd(%s) = %d (%s)", #__VA_ARGS__, r_,            \
			     strerror(-r_));                                  \
	} while (0)
#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond))                                                  \
			FAIL(__VA_ARGS__);                                    \
	} while (0)

/* Bits [lo, hi) set, everything else in [0, nbits) clear. */
struct span {
	uint64_t lo, hi;
};

static int expect_spans_(struct lenv *e, int line, const char *what,
			 uint64_t nbits, const struct span *s, size_t ns)
{
	uint64_t wrong = 0, first = 0;
	int firstval = 0;

	for (uint64_t i = 0; i < nbits; i++) {
		int want = 0, got = (e->bm[i / 64] >> (i % 64)) & 1;

		for (size_t k = 0; k < ns; k++)
			if (i >= s[k].lo && i < s[k].hi)
				want = 1;
		if (got != want && !wrong++) {
			first = i;
			firstval = got;
		}
	}
	if (wrong)
		return lfail(e, line, "%s: %llu wrong bits of %llu, first: bit %llu is %d",
			     what, (unsigned long long)wrong,
			     (unsigned long long)nbits, (unsigned long long)first,
			     firstval);
	return 0;
}

#define SPANS(...) ((const struct span[]){ __VA_ARGS__ })
#define NSPANS(...) (sizeof(SPANS(__VA_ARGS__)) / sizeof(struct span))
#define EXPECT_SPANS(what, nbits, ...)                                        \
	do {                                                                  \
		if (expect_spans_(e, __LINE__, what, nbits, SPANS(__VA_ARGS__), \
				  NSPANS(__VA_ARGS__)))                       \
			return -1;                                            \
	} while (0)
#define EXPECT_CLEAN(what, nbits)                                             \
	do {                                                                  \
		if (expect_spans_(e, __LINE__, what, nbits, NULL, 0))         \
			return -1;                                            \
	} while (0)

#define RD_OVERRUN (-100000)

/* tracker_read into e->bm; the library zeroes the bitmap itself, so fill
 * it with garbage first to check that. */
static int rd(struct lenv *e, uint64_t iova, uint64_t len, uint64_t pgsz,
	      unsigned int flags)
{
	size_t sz = iommudirty_bitmap_size(len, pgsz);
	int rc;

	memset(e->bm, 0xa5, sizeof(e->bm));
	rc = iommudirty_tracker_read(e->t, iova, len, pgsz, e->bm, sz, flags);
	/* Nothing may be written past the bitmap_bytes we gave. */
	for (size_t i = sz; i < sizeof(e->bm); i++)
		if (((uint8_t *)e->bm)[i] != 0xa5) {
			lfail(e, __LINE__, "read [%#llx, +%#llx) at %#llx wrote byte %zu "
			      "of the buffer, past its %zu bytes",
			      (unsigned long long)iova, (unsigned long long)len,
			      (unsigned long long)pgsz, i, sz);
			return RD_OVERRUN;
		}
	return rc;
}

static int env_init(struct lenv *e)
{
	int rc;

	e->ctx = iommudirty_ctx_new(NULL);
	if (!e->ctx)
		FAIL("iommudirty_ctx_new: %s", strerror(errno));
	e->fd = iommudirty_ctx_fd(e->ctx);
	rc = iommudirty_tracker_new(e->ctx, NULL, &e->t);
	if (rc)
		FAIL("iommudirty_tracker_new = %d", rc);
	return 0;
}

/* A mock device on the tracker's IOAS, adopted, with a tracker HWPT of its
 * own that it is moved to. */
static int add_dev(struct lenv *e, uint32_t mock_flags)
{
	int i = e->nd;
	uint32_t auto_hwpt, got;

	CHECK(i < 2, "too many devices");
	OK(mock_domain(e->fd, iommudirty_tracker_ioas_id(e->t), mock_flags,
		       &e->d[i].stdev, &auto_hwpt, &e->d[i].idev));
	OK(iommudirty_device_adopt(e->ctx, -1, e->d[i].idev, &e->d[i].dev));
	e->nd++;
	OK(iommudirty_tracker_alloc_hwpt(e->t, e->d[i].dev, &e->d[i].hwpt));
	OK(mock_replace(e->fd, e->d[i].stdev, e->d[i].hwpt, &got));
	CHECK(got == e->d[i].hwpt, "replace attached to %u, not %u", got,
	      e->d[i].hwpt);
	return 0;
}

static int map(struct lenv *e, uint64_t iova, size_t len, bool huge)
{
	void *p;

	CHECK(e->nmem < 8, "too many mappings");
	p = kmem_alloc(len, huge);
	if (!p)
		FAIL("no %s memory for %zu bytes", huge ? "2 MiB hugetlb" : "", len);
	e->mem[e->nmem].p = p;
	e->mem[e->nmem].len = len;
	e->mem[e->nmem].huge = huge;
	e->nmem++;
	OK(iommudirty_tracker_map(e->t, p, len, iova,
				  IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE));
	return 0;
}

/* Device @i writes [iova, iova+len). */
static int wr(struct lenv *e, int i, uint64_t iova, uint64_t len)
{
	uint64_t nr = 0;
	int rc = mock_dirty(e->fd, e->d[i].hwpt, iova, len, &nr);

	if (rc)
		return rc;
	return nr == len / MOCK_IO_PAGE ? 0 : -ENXIO;
}

static void env_fini(struct lenv *e)
{
	iommudirty_tracker_free(e->t);
	for (int i = 0; i < e->nd; i++)
		iommudirty_device_free(e->d[i].dev);
	iommudirty_ctx_free(e->ctx);
	for (int i = 0; i < e->nmem; i++)
		kmem_free(e->mem[i].p, e->mem[i].len, e->mem[i].huge);
}

/* One device on one tracker HWPT, @len of 4 KiB pages at B, started. */
static int basic(struct lenv *e, uint64_t len)
{
	if (env_init(e) || add_dev(e, 0) || map(e, B, len, false))
		return -1;
	OK(iommudirty_tracker_start(e->t));
	return 0;
}

/* ---- tests ---- */

static int l_hw_info(struct lenv *e)
{
	struct iommudirty_hw_info hi = { .sz = sizeof(hi) };
	uint32_t reg;

	if (env_init(e) || add_dev(e, 0))
		return -1;
	OK(iommudirty_device_hw_info(e->d[0].dev, &hi));
	CHECK(hi.type == IOMMUDIRTY_HW_INFO_SELFTEST, "type %#x", hi.type);
	CHECK(hi.capabilities & IOMMUDIRTY_HW_CAP_DIRTY_TRACKING,
	      "capabilities %#llx", (unsigned long long)hi.capabilities);
	CHECK(hi.data_len >= 8, "data_len %u", hi.data_len);
	memcpy(&reg, hi.data + 4, 4);
	CHECK(reg == MOCK_HW_INFO_TEST_REG, "test_reg %#x", reg);
	EXPECT_RC(iommudirty_device_dirty_capable(e->d[0].dev), 1);
	CHECK(iommudirty_device_id(e->d[0].dev) == e->d[0].idev, "device id");
	/* Adopted without an fd: the library cannot attach it itself. */
	EXPECT_RC(iommudirty_tracker_attach(e->t, e->d[0].dev), -EBADF);
	return 0;
}

static int l_read_and_clear(struct lenv *e)
{
	if (basic(e, 256 * KiB))
		return -1;
	OK(wr(e, 0, B + 8 * KiB, 2 * KiB));
	OK(wr(e, 0, B + 200 * KiB, 8 * KiB));
	RD(B, 256 * KiB, 4 * KiB, 0);
	EXPECT_SPANS("first read", 64, { 2, 3 }, { 50, 52 });
	RD(B, 256 * KiB, 4 * KiB, 0);
	EXPECT_CLEAN("second read", 64);
	return 0;
}

static int l_no_clear(struct lenv *e)
{
	if (basic(e, 256 * KiB))
		return -1;
	OK(wr(e, 0, B + 64 * KiB, 4 * KiB));
	for (int i = 0; i < 2; i++) {
		RD(B, 256 * KiB, 4 * KiB, IOMMUDIRTY_READ_NO_CLEAR);
		EXPECT_SPANS("NO_CLEAR read", 64, { 16, 17 });
	}
	RD(B, 256 * KiB, 4 * KiB, 0);
	EXPECT_SPANS("clearing read", 64, { 16, 17 });
	RD(B, 256 * KiB, 4 * KiB, 0);
	EXPECT_CLEAN("after the clearing read", 64);
	return 0;
}

/* Bitmap pages smaller (1 KiB) and larger (64 KiB) than the 2 KiB IO page. */
static int l_page_sizes(struct lenv *e)
{
	if (basic(e, 256 * KiB))
		return -1;
	OK(wr(e, 0, B + 6 * KiB, 2 * KiB));
	OK(wr(e, 0, B + 130 * KiB, 4 * KiB));
	RD(B, 256 * KiB, 1 * KiB, IOMMUDIRTY_READ_NO_CLEAR);
	EXPECT_SPANS("1 KiB pages", 256, { 6, 8 }, { 130, 134 });
	RD(B, 256 * KiB, 64 * KiB, 0);
	EXPECT_SPANS("64 KiB pages", 4, { 0, 1 }, { 2, 3 });
	RD(B, 256 * KiB, 2 * KiB, 0);
	EXPECT_CLEAN("after clearing", 128);
	return 0;
}

/* Holes: every dirty page of the mapped parts is reported. */
static int l_holes(struct lenv *e)
{
	if (env_init(e) || add_dev(e, 0))
		return -1;
	if (map(e, B, 64 * KiB, false) || map(e, B + 128 * KiB, 64 * KiB, false) ||
	    map(e, B + 512 * KiB, 128 * KiB, false))
		return -1;
	OK(iommudirty_tracker_start(e->t));
	OK(wr(e, 0, B + 60 * KiB, 4 * KiB));
	OK(wr(e, 0, B + 128 * KiB, 2 * KiB));
	OK(wr(e, 0, B + 636 * KiB, 4 * KiB));
	RD(B, 1 * MiB, 4 * KiB, IOMMUDIRTY_READ_NO_CLEAR);
	EXPECT_SPANS("across holes", 256, { 15, 16 }, { 32, 33 }, { 159, 160 });
	/* Starting inside a hole. */
	RD(B + 64 * KiB, 960 * KiB, 4 * KiB, 0);
	EXPECT_SPANS("from a hole", 240, { 16, 17 }, { 143, 144 });
	RD(B, 1 * MiB, 4 * KiB, 0);
	EXPECT_SPANS("what the partial read left", 256, { 15, 16 });
	RD(B, 1 * MiB, 4 * KiB, 0);
	EXPECT_CLEAN("all read", 256);
	return 0;
}

/* 4 KiB pages and 2 MiB hugetlb pages side by side; huge IOPTE replication;
 * a partial clearing read must not lose the rest of a huge IOPTE. */
static int l_huge(struct lenv *e)
{
	if (env_init(e) || add_dev(e, MOCK_DEV_HUGE_IOVA))
		return -1;
	/* 64 KiB of 4 KiB pages cannot form a 1 MiB IOPTE by chance. */
	if (map(e, B, 64 * KiB, false) || map(e, B + 2 * MiB, 2 * MiB, true))
		return -1;
	OK(iommudirty_tracker_start(e->t));
	OK(wr(e, 0, B + 8 * KiB, 2 * KiB));
	OK(wr(e, 0, B + 2 * MiB + 4 * KiB, 2 * KiB));
	RD(B, 4 * MiB, 4 * KiB, IOMMUDIRTY_READ_NO_CLEAR);
	EXPECT_SPANS("4 KiB pages over 4 KiB and huge mappings", 1024,
		     { 2, 3 }, { 512, 768 });
	RD(B, 4 * MiB, 2 * MiB, IOMMUDIRTY_READ_NO_CLEAR);
	EXPECT_SPANS("2 MiB pages", 2, { 0, 2 });

	/* Clear only [B+2M, B+2M+64K): the rest of the dirty 1 MiB IOPTE must
	 * still be reported afterwards. */
	RD(B + 2 * MiB, 64 * KiB, 4 * KiB, 0);
	EXPECT_SPANS("partial read of a huge IOPTE", 16, { 0, 16 });
	RD(B + 2 * MiB, 2 * MiB, 4 * KiB, 0);
	EXPECT_SPANS("the rest of the huge IOPTE", 512, { 16, 256 });
	RD(B, 4 * MiB, 4 * KiB, 0);
	EXPECT_SPANS("the 4 KiB mapping", 1024, { 2, 3 });
	RD(B, 4 * MiB, 4 * KiB, 0);
	EXPECT_CLEAN("all read", 1024);
	return 0;
}

/* A NO_CLEAR read of part of a dirty huge IOPTE: the 6.12 kernel records
 * the whole IOPTE from the read's start (see trap_huge_iopte_partial_read),
 * so handing it the caller's bitmap lets it write past the caller's bytes. */
static int l_huge_no_clear_part(struct lenv *e)
{
	if (env_init(e) || add_dev(e, MOCK_DEV_HUGE_IOVA) ||
	    map(e, B, 2 * MiB, true))
		return -1;
	OK(iommudirty_tracker_start(e->t));
	OK(wr(e, 0, B + 4 * KiB, 2 * KiB));
	RD(B + 512 * KiB, 64 * KiB, 4 * KiB, IOMMUDIRTY_READ_NO_CLEAR);
	EXPECT_SPANS("NO_CLEAR read inside a huge IOPTE", 16, { 0, 16 });
	RD(B, 64 * KiB, 4 * KiB, IOMMUDIRTY_READ_NO_CLEAR);
	EXPECT_SPANS("NO_CLEAR read of a huge IOPTE's head", 16, { 0, 16 });
	RD(B, 2 * MiB, 4 * KiB, 0);
	EXPECT_SPANS("the whole mapping", 512, { 0, 256 });
	return 0;
}

/* start on a started tracker must not send ENABLE again (that would wipe). */
static int l_start_started(struct lenv *e)
{
	if (basic(e, 128 * KiB))
		return -1;
	OK(wr(e, 0, B + 4 * KiB, 4 * KiB));
	EXPECT_RC(iommudirty_tracker_started(e->t), 1);
	OK(iommudirty_tracker_start(e->t));
	RD(B, 128 * KiB, 4 * KiB, 0);
	EXPECT_SPANS("after a second start", 32, { 1, 2 });
	/* stop + start: a fresh start is clean. */
	OK(wr(e, 0, B + 8 * KiB, 4 * KiB));
	OK(iommudirty_tracker_stop(e->t));
	EXPECT_RC(iommudirty_tracker_started(e->t), 0);
	OK(iommudirty_tracker_start(e->t));
	RD(B, 128 * KiB, 4 * KiB, 0);
	EXPECT_CLEAN("after stop + start", 32);
	return 0;
}

static int l_unmap_dirty(struct lenv *e)
{
	if (env_init(e) || add_dev(e, 0))
		return -1;
	if (map(e, B, 64 * KiB, false) || map(e, B + 64 * KiB, 64 * KiB, false))
		return -1;
	OK(iommudirty_tracker_start(e->t));
	OK(wr(e, 0, B + 68 * KiB, 2 * KiB));
	OK(wr(e, 0, B + 4 * KiB, 2 * KiB));
	memset(e->bm, 0xa5, sizeof(e->bm));
	OK(iommudirty_tracker_unmap_dirty(e->t, B + 64 * KiB, 64 * KiB, 4 * KiB,
					  e->bm, iommudirty_bitmap_size(64 * KiB, 4 * KiB),
					  0));
	EXPECT_SPANS("unmap_dirty bitmap", 16, { 1, 2 });
	EXPECT_RC(iommudirty_tracker_unmap(e->t, B + 64 * KiB, 64 * KiB), -ENOENT);
	RD(B, 128 * KiB, 4 * KiB, 0);
	EXPECT_SPANS("after unmap_dirty", 32, { 1, 2 });
	/* The IOVA is free again. */
	if (map(e, B + 64 * KiB, 64 * KiB, false))
		return -1;
	RD(B, 128 * KiB, 4 * KiB, 0);
	EXPECT_CLEAN("remapped", 32);
	return 0;
}

/* Two devices on two HWPTs: the read is the union, and clears both. */
static int l_two_hwpts(struct lenv *e)
{
	if (env_init(e) || add_dev(e, 0) || add_dev(e, 0) ||
	    map(e, B, 256 * KiB, false))
		return -1;
	CHECK(e->d[0].hwpt != e->d[1].hwpt, "one HWPT for both");
	EXPECT_RC(iommudirty_tracker_hwpt_ids(e->t, NULL, 0), 2);
	OK(iommudirty_tracker_start(e->t));
	OK(wr(e, 0, B + 4 * KiB, 4 * KiB));
	OK(wr(e, 1, B + 20 * KiB, 4 * KiB));
	OK(wr(e, 1, B + 4 * KiB, 2 * KiB));
	RD(B, 256 * KiB, 4 * KiB, 0);
	EXPECT_SPANS("union", 64, { 1, 2 }, { 5, 6 });
	RD(B, 256 * KiB, 4 * KiB, 0);
	EXPECT_CLEAN("both cleared", 64);
	return 0;
}

static int l_no_dirty(struct lenv *e)
{
	uint32_t stdev, hwpt, idev, h = 0;
	struct iommudirty_device *dev = NULL;
	int rc;

	if (env_init(e))
		return -1;
	OK(mock_domain(e->fd, iommudirty_tracker_ioas_id(e->t), MOCK_DEV_NO_DIRTY,
		       &stdev, &hwpt, &idev));
	OK(iommudirty_device_adopt(e->ctx, -1, idev, &dev));
	rc = iommudirty_device_dirty_capable(dev);
	if (rc != 0) {
		iommudirty_device_free(dev);
		FAIL("dirty_capable = %d, want 0", rc);
	}
	rc = iommudirty_tracker_alloc_hwpt(e->t, dev, &h);
	iommudirty_device_free(dev);
	CHECK(rc == -EOPNOTSUPP, "alloc_hwpt = %d, want -EOPNOTSUPP", rc);
	EXPECT_RC(iommudirty_tracker_hwpt_ids(e->t, NULL, 0), 0);
	return 0;
}

struct ltest {
	const char *name;
	int (*fn)(struct lenv *e);
};

static const struct ltest ltests[] = {
	{ "lib_hw_info_mock", l_hw_info },
	{ "lib_read_and_clear", l_read_and_clear },
	{ "lib_no_clear", l_no_clear },
	{ "lib_bitmap_page_sizes", l_page_sizes },
	{ "lib_read_across_holes", l_holes },
	{ "lib_huge_and_4k_pages", l_huge },
	{ "lib_huge_no_clear_partial", l_huge_no_clear_part },
	{ "lib_start_when_started", l_start_started },
	{ "lib_unmap_dirty", l_unmap_dirty },
	{ "lib_two_hwpts_union", l_two_hwpts },
	{ "lib_no_dirty_device_refused", l_no_dirty },
	{ NULL, NULL },
};

void run_lib_tests(const char *boot);

void run_lib_tests(const char *boot)
{
	for (const struct ltest *t = ltests; t->name; t++) {
		struct lenv *e = calloc(1, sizeof(*e));
		int rc;

		if (!e) {
			kresult(boot, t->name, -1, "out of memory");
			continue;
		}
		rc = t->fn(e);
		env_fini(e);
		kresult(boot, t->name, rc, e->why);
		free(e);
	}
}
