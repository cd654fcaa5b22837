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
#include <time.h>

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
	/* The VMM's side of the atomic unmap (vmm_replace): its calls, and a
	 * failure to inject at call number fail_at (1-based; 0: none). */
	struct {
		int calls, fail_at, fail_err;
		/* A last write of device i through its old HWPT right before
		 * the VMM moves it (len 0: none): DMA up to the last moment. */
		struct {
			uint64_t iova, len;
		} dma[2];
		struct {
			uint32_t from, to;
			int moved, rc;
		} log[16];
	} rp;
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

static int env_init_opts(struct lenv *e, const struct iommudirty_tracker_opts *o)
{
	int rc;

	e->ctx = iommudirty_ctx_new(NULL);
	if (!e->ctx)
		FAIL("iommudirty_ctx_new: %s", strerror(errno));
	e->fd = iommudirty_ctx_fd(e->ctx);
	rc = iommudirty_tracker_new(e->ctx, o, &e->t);
	if (rc)
		FAIL("iommudirty_tracker_new = %d", rc);
	return 0;
}

static int env_init(struct lenv *e)
{
	return env_init_opts(e, NULL);
}

/* A mock device on the tracker's IOAS, adopted, moved to tracker HWPT
 * @hwpt, or (0) to one of its own allocated for it. */
static int add_dev_on(struct lenv *e, uint32_t mock_flags, uint32_t hwpt)
{
	int i = e->nd;
	uint32_t auto_hwpt, got;

	CHECK(i < 2, "too many devices");
	OK(mock_domain(e->fd, iommudirty_tracker_ioas_id(e->t), mock_flags,
		       &e->d[i].stdev, &auto_hwpt, &e->d[i].idev));
	OK(iommudirty_device_adopt(e->ctx, -1, e->d[i].idev, &e->d[i].dev));
	e->nd++;
	if (hwpt)
		e->d[i].hwpt = hwpt;
	else
		OK(iommudirty_tracker_alloc_hwpt(e->t, e->d[i].dev, &e->d[i].hwpt));
	OK(mock_replace(e->fd, e->d[i].stdev, e->d[i].hwpt, &got));
	CHECK(got == e->d[i].hwpt, "replace attached to %u, not %u", got,
	      e->d[i].hwpt);
	return 0;
}

static int add_dev(struct lenv *e, uint32_t mock_flags)
{
	return add_dev_on(e, mock_flags, 0);
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

/* ---- the atomic unmap (issue 6) on real kernel code ----
 * The VMM attaches the mock devices itself (MOCK_DOMAIN_REPLACE), so the
 * tracker moves them through opts.replace_fn: vmm_replace() below, which
 * keeps e->d[].hwpt (stdev <-> current HWPT) up to date. wr() writes through
 * that current HWPT, as a device would: the mock IOMMU has no DMA, and
 * IOMMU_TEST_OP_DIRTY marks a page table, attached or not. rp.dma[] has a
 * device write through its old HWPT inside replace_fn, right before it is
 * moved: the last moment a write can still land there, which the library
 * must harvest (it reads the old HWPTs only after every move). */

static int vmm_replace(void *user, uint32_t old_hwpt, uint32_t new_hwpt)
{
	struct lenv *e = user;
	int call = e->rp.calls++, moved[2], nm = 0, rc = 0;

	if (e->rp.fail_at && call + 1 == e->rp.fail_at) {
		rc = e->rp.fail_err;
	} else {
		for (int i = 0; i < e->nd && !rc; i++) {
			uint32_t got = 0;

			if (e->d[i].hwpt != old_hwpt)
				continue;
			if (e->rp.dma[i].len) {
				rc = wr(e, i, e->rp.dma[i].iova, e->rp.dma[i].len);
				e->rp.dma[i].len = 0;
				if (rc)
					break;
			}
			rc = mock_replace(e->fd, e->d[i].stdev, new_hwpt, &got);
			if (!rc && got != new_hwpt)
				rc = -EPROTO;
			if (!rc) {
				e->d[i].hwpt = new_hwpt;
				moved[nm++] = i;
			}
		}
		/* All or nothing, as the library expects of us. */
		if (rc)
			while (nm-- > 0)
				if (!mock_replace(e->fd, e->d[moved[nm]].stdev, old_hwpt,
						  NULL))
					e->d[moved[nm]].hwpt = old_hwpt;
	}
	if (call < (int)(sizeof(e->rp.log) / sizeof(e->rp.log[0]))) {
		e->rp.log[call].from = old_hwpt;
		e->rp.log[call].to = new_hwpt;
		e->rp.log[call].moved = rc ? 0 : nm;
		e->rp.log[call].rc = rc;
	}
	return rc;
}

static int env_atomic(struct lenv *e)
{
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .replace_fn = vmm_replace,
			.replace_user = e);

	return env_init_opts(e, &o);
}

/* IOMMU_DESTROY of an id that must be gone already. */
static int gone_(struct lenv *e, int line, const char *what, uint32_t id)
{
	struct uapi_destroy d = { .size = sizeof(d), .id = id };
	int rc = kioctl(e->fd, IOMMU_DESTROY, &d);

	if (rc != -ENOENT)
		return lfail(e, line, "%s %u: IOMMU_DESTROY = %d (%s), want -ENOENT",
			     what, id, rc, strerror(rc < 0 ? -rc : 0));
	return 0;
}
#define GONE(what, id)                                                        \
	do {                                                                  \
		if (gone_(e, __LINE__, what, id))                             \
			return -1;                                            \
	} while (0)

/* The next @n object ids the kernel hands out: iommufd allocates the lowest
 * free id (xa_alloc), so equal lists before and after an operation mean it
 * left no object behind. Allocates @n IOASes and destroys them again. */
static int next_ids_(struct lenv *e, int line, uint32_t *ids, int n)
{
	int rc = 0, k;

	for (k = 0; k < n && !rc; k++) {
		struct uapi_ioas_alloc a = { .size = sizeof(a) };

		rc = kioctl(e->fd, IOMMU_IOAS_ALLOC, &a);
		ids[k] = a.out_ioas_id;
	}
	if (rc)
		k--;
	while (k-- > 0) {
		struct uapi_destroy d = { .size = sizeof(d), .id = ids[k] };

		if (kioctl(e->fd, IOMMU_DESTROY, &d) && !rc)
			rc = -EBUSY;
	}
	return rc ? lfail(e, line, "probing free object ids: %d", rc) : 0;
}
#define NEXT_IDS(ids)                                                         \
	do {                                                                  \
		if (next_ids_(e, __LINE__, ids, 4))                           \
			return -1;                                            \
	} while (0)

/* Whether the two id lists hold the same ids (order aside). */
static bool same_ids(const uint32_t *a, int na, const uint32_t *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++) {
		int ca = 0, cb = 0;

		for (int j = 0; j < na; j++) {
			ca += a[j] == a[i];
			cb += b[j] == a[i];
		}
		if (ca != cb)
			return false;
	}
	return true;
}

/* Nothing past @sz bytes of e->bm was written (it was filled with 0xa5). */
static int untouched_(struct lenv *e, int line, size_t sz)
{
	for (size_t i = sz; i < sizeof(e->bm); i++)
		if (((uint8_t *)e->bm)[i] != 0xa5)
			return lfail(e, line, "byte %zu past the %zu-byte bitmap written",
				     i, sz);
	return 0;
}
#define UNTOUCHED(sz)                                                         \
	do {                                                                  \
		if (untouched_(e, __LINE__, sz))                              \
			return -1;                                            \
	} while (0)

/* Two devices on two HWPTs (one with 1 MiB IOPTEs), 4 KiB and 2 MiB
 * hugetlb mappings; write_protect of the huge one, then unmap and map
 * again. */
static int l_atomic_write_protect(struct lenv *e)
{
	const uint64_t A = B, H = B + 2 * MiB, C = B + 4 * MiB;
	const uint64_t END = C + 128 * KiB, NB = (END - A) / (4 * KiB);
	const size_t sz = iommudirty_bitmap_size(2 * MiB, 4 * KiB);
	uint32_t old_ioas, ioas, oh[2], nh[4], cur[2];
	uint64_t nr;

	if (env_atomic(e) || add_dev(e, MOCK_DEV_HUGE_IOVA) || add_dev(e, 0))
		return -1;
	if (map(e, A, 64 * KiB, false) || map(e, H, 2 * MiB, true) ||
	    map(e, C, 128 * KiB, false))
		return -1;
	OK(iommudirty_tracker_start(e->t));
	old_ioas = iommudirty_tracker_ioas_id(e->t);
	EXPECT_RC(iommudirty_tracker_hwpt_ids(e->t, oh, 2), 2);
	cur[0] = e->d[0].hwpt;
	cur[1] = e->d[1].hwpt;
	CHECK(cur[0] != cur[1] && same_ids(oh, 2, cur, 2), "hwpt_ids %u %u, devices on %u %u",
	      oh[0], oh[1], cur[0], cur[1]);

	OK(wr(e, 0, A + 4 * KiB, 2 * KiB));           /* A: page 1 */
	OK(wr(e, 1, C + 8 * KiB, 4 * KiB));           /* C: page 2 */
	OK(wr(e, 0, H + 6 * KiB, 2 * KiB));           /* 1 MiB IOPTE: 0..255 */
	OK(wr(e, 1, H + 1 * MiB + 4 * KiB, 4 * KiB)); /* page 257 */
	/* Both devices write once more just before the VMM moves them: d0
	 * outside the range (A: page 8), d1 inside (page 272). */
	e->rp.dma[0].iova = A + 32 * KiB;
	e->rp.dma[0].len = 4 * KiB;
	e->rp.dma[1].iova = H + 1 * MiB + 64 * KiB;
	e->rp.dma[1].len = 4 * KiB;
	memset(e->bm, 0xa5, sizeof(e->bm));
	OK(iommudirty_tracker_write_protect(e->t, H, 2 * MiB, 4 * KiB, e->bm, sz, 0));
	EXPECT_SPANS("write_protect bitmap", 512, { 0, 256 }, { 257, 258 }, { 272, 273 });
	UNTOUCHED(sz);

	/* The VMM was asked once per HWPT and moved its device each time. */
	CHECK(e->rp.calls == 2, "replace_fn called %d times, want 2", e->rp.calls);
	for (int i = 0; i < 2; i++)
		CHECK(e->rp.log[i].rc == 0 && e->rp.log[i].moved == 1,
		      "replace_fn call %d (%u -> %u): rc %d, moved %d", i,
		      e->rp.log[i].from, e->rp.log[i].to, e->rp.log[i].rc,
		      e->rp.log[i].moved);
	ioas = iommudirty_tracker_ioas_id(e->t);
	CHECK(ioas && ioas != old_ioas, "IOAS %u after, %u before", ioas, old_ioas);
	EXPECT_RC(iommudirty_tracker_hwpt_ids(e->t, nh, 4), 2);
	cur[0] = e->d[0].hwpt;
	cur[1] = e->d[1].hwpt;
	CHECK(same_ids(nh, 2, cur, 2), "hwpt_ids %u %u, devices on %u %u", nh[0], nh[1],
	      cur[0], cur[1]);
	for (int i = 0; i < 2; i++)
		CHECK(nh[i] != oh[0] && nh[i] != oh[1], "HWPT %u kept", nh[i]);
	GONE("old HWPT", oh[0]);
	GONE("old HWPT", oh[1]);
	GONE("old IOAS", old_ioas);

	/* The range is in no device's page table any more: the 6.12 mock
	 * marks nothing (rc 0, 0 pages), as it does for any unmapped IOVA. */
	for (int i = 0; i < 2; i++) {
		nr = 99;
		OK(mock_dirty(e->fd, e->d[i].hwpt, H, 2 * MiB, &nr));
		CHECK(nr == 0, "device %d marked %llu pages of the write-protected range",
		      i, (unsigned long long)nr);
	}
	/* Bits from before the move outside the range: reported by the next
	 * read, once; the range reads clean. */
	RD(A, END - A, 4 * KiB, 0);
	EXPECT_SPANS("carried over", NB, { 1, 2 }, { 8, 9 }, { 1026, 1027 });
	RD(A, END - A, 4 * KiB, 0);
	EXPECT_CLEAN("carried-over bits reported once", NB);
	/* The new HWPTs track the rest. */
	OK(wr(e, 1, A + 8 * KiB, 4 * KiB));
	OK(wr(e, 0, C, 2 * KiB));
	RD(A, END - A, 4 * KiB, 0);
	EXPECT_SPANS("written through the new HWPTs", NB, { 2, 3 }, { 1024, 1025 });

	/* unmap forgets the range, once; the IOVA maps again and is tracked. */
	OK(iommudirty_tracker_unmap(e->t, H, 2 * MiB));
	EXPECT_RC(iommudirty_tracker_unmap(e->t, H, 2 * MiB), -ENOENT);
	if (map(e, H, 2 * MiB, true))
		return -1;
	OK(wr(e, 0, H + 1 * MiB + 2 * KiB, 2 * KiB)); /* 1 MiB IOPTE: 256..511 */
	OK(wr(e, 1, H + 8 * KiB, 2 * KiB));
	RD(A, END - A, 4 * KiB, 0);
	EXPECT_SPANS("remapped", NB, { 512 + 2, 512 + 3 }, { 512 + 256, 512 + 512 });
	return 0;
}

/* The same through the standby (IOMMUDIRTY_TRACKER_STANDBY): no copy, the
 * devices move to the standby's HWPTs, the old ones become the standby
 * (not destroyed), their bits outside the range are owed and reported by
 * the next read, once; the second atomic unmap moves everyone back. */
static int l_atomic_standby(struct lenv *e)
{
	const uint64_t A = B, H = B + 2 * MiB, C = B + 4 * MiB;
	const uint64_t END = C + 128 * KiB, NB = (END - A) / (4 * KiB);
	const size_t sz = iommudirty_bitmap_size(2 * MiB, 4 * KiB);
	uint32_t ioas0, ioas1, oh[2], nh[2], cur[2];
	uint64_t nr;

	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .replace_fn = vmm_replace,
			.replace_user = e, .flags = IOMMUDIRTY_TRACKER_STANDBY);
	if (env_init_opts(e, &o) || add_dev(e, MOCK_DEV_HUGE_IOVA) || add_dev(e, 0))
		return -1;
	if (map(e, A, 64 * KiB, false) || map(e, H, 2 * MiB, true) ||
	    map(e, C, 128 * KiB, false))
		return -1;
	OK(iommudirty_tracker_start(e->t));
	ioas0 = iommudirty_tracker_ioas_id(e->t);
	EXPECT_RC(iommudirty_tracker_hwpt_ids(e->t, oh, 2), 2);
	OK(wr(e, 0, A + 4 * KiB, 2 * KiB));           /* A: page 1 */
	OK(wr(e, 1, C + 8 * KiB, 4 * KiB));           /* C: page 2 */
	OK(wr(e, 0, H + 6 * KiB, 2 * KiB));           /* 1 MiB IOPTE: 0..255 */
	OK(wr(e, 1, H + 1 * MiB + 4 * KiB, 4 * KiB)); /* page 257 */
	e->rp.dma[0].iova = A + 32 * KiB;             /* last-moment writes */
	e->rp.dma[0].len = 4 * KiB;
	e->rp.dma[1].iova = H + 1 * MiB + 64 * KiB;
	e->rp.dma[1].len = 4 * KiB;
	memset(e->bm, 0xa5, sizeof(e->bm));
	OK(iommudirty_tracker_write_protect(e->t, H, 2 * MiB, 4 * KiB, e->bm, sz, 0));
	EXPECT_SPANS("write_protect bitmap", 512, { 0, 256 }, { 257, 258 }, { 272, 273 });
	UNTOUCHED(sz);
	CHECK(e->rp.calls == 2, "replace_fn called %d times, want 2", e->rp.calls);
	ioas1 = iommudirty_tracker_ioas_id(e->t);
	CHECK(ioas1 && ioas1 != ioas0, "IOAS %u after, %u before", ioas1, ioas0);
	EXPECT_RC(iommudirty_tracker_hwpt_ids(e->t, nh, 2), 2);
	cur[0] = e->d[0].hwpt;
	cur[1] = e->d[1].hwpt;
	CHECK(same_ids(nh, 2, cur, 2), "hwpt_ids %u %u, devices on %u %u", nh[0], nh[1],
	      cur[0], cur[1]);
	for (int i = 0; i < 2; i++) {
		CHECK(nh[i] != oh[0] && nh[i] != oh[1], "HWPT %u kept", nh[i]);
		nr = 99;
		OK(mock_dirty(e->fd, e->d[i].hwpt, H, 2 * MiB, &nr));
		CHECK(nr == 0, "device %d marked %llu pages of the range", i,
		      (unsigned long long)nr);
	}
	/* Owed by the old HWPTs (the standby now): reported once. */
	RD(A, END - A, 4 * KiB, 0);
	EXPECT_SPANS("owed", NB, { 1, 2 }, { 8, 9 }, { 1026, 1027 });
	RD(A, END - A, 4 * KiB, 0);
	EXPECT_CLEAN("owed bits reported once", NB);
	OK(wr(e, 1, A + 8 * KiB, 4 * KiB));
	OK(wr(e, 0, C, 2 * KiB));
	/* The second atomic unmap moves everyone back onto the first IOAS. */
	e->rp.dma[0].len = 0;
	e->rp.dma[1].len = 0;
	memset(e->bm, 0, sizeof(e->bm));
	OK(iommudirty_tracker_write_protect(e->t, C, 128 * KiB, 4 * KiB, e->bm,
					    iommudirty_bitmap_size(128 * KiB, 4 * KiB), 0));
	EXPECT_SPANS("second write_protect", 32, { 0, 1 });
	CHECK(iommudirty_tracker_ioas_id(e->t) == ioas0, "IOAS %u, want %u back",
	      iommudirty_tracker_ioas_id(e->t), ioas0);
	RD(A, 64 * KiB, 4 * KiB, 0);
	EXPECT_SPANS("owed after the second swap", 16, { 2, 3 });
	OK(iommudirty_tracker_unmap(e->t, H, 2 * MiB));
	OK(iommudirty_tracker_unmap(e->t, C, 128 * KiB));
	return 0;
}

/* IOMMUDIRTY_TRACKER_SMALL_IO_PAGES on real kernel code: the mock device
 * with HUGE_IOVA maps a 2 MiB hugetlb mapping with 1 MiB IOPTEs, so a
 * 2 KiB write dirties 256 pages of 4 KiB; with the knob (the kernel's
 * IOMMU_OPTION_HUGE_PAGES = 0 on the IOAS) the same write dirties one. */
static int l_small_io_pages(struct lenv *e)
{
	const uint64_t H = B + 2 * MiB;

	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .flags = IOMMUDIRTY_TRACKER_SMALL_IO_PAGES);
	if (env_init_opts(e, &o) || add_dev(e, MOCK_DEV_HUGE_IOVA))
		return -1;
	if (map(e, H, 2 * MiB, true))
		return -1;
	OK(iommudirty_tracker_start(e->t));
	OK(wr(e, 0, H + 6 * KiB, 2 * KiB));
	RD(H, 2 * MiB, 4 * KiB, 0);
	EXPECT_SPANS("small IO pages: one write", 512, { 1, 2 });
	return 0;
}

/* The same without the knob, for the amplification it removes. */
static int l_huge_io_pages(struct lenv *e)
{
	const uint64_t H = B + 2 * MiB;

	if (env_init(e) || add_dev(e, MOCK_DEV_HUGE_IOVA))
		return -1;
	if (map(e, H, 2 * MiB, true))
		return -1;
	OK(iommudirty_tracker_start(e->t));
	OK(wr(e, 0, H + 6 * KiB, 2 * KiB));
	RD(H, 2 * MiB, 4 * KiB, 0);
	EXPECT_SPANS("huge IO pages: one write", 512, { 0, 256 });
	return 0;
}

/* A vIOMMU guest on real kernel code: IOVA is not the guest address, two
 * IOVAs alias one guest page, the guest unmaps and remaps while the device
 * writes. Reads by guest address report each written guest page once,
 * nothing is lost across the unmaps. */
static int l_viommu(struct lenv *e)
{
	const uint64_t G = 0x40000000ull; /* guest RAM, far from any IOVA */
	const uint64_t A = B, C = B + 1 * MiB, D = B + 4 * MiB;
	const size_t sz = iommudirty_bitmap_size(64 * KiB, 4 * KiB);
	uint64_t bm[1];

	if (env_init(e) || add_dev(e, 0))
		return -1;
	/* Guest pages 0-15 at IOVA A, 16-31 at A + 64 KiB (IOVA-adjacent),
	 * and an alias of guest 0-15 at C. */
	if (map(e, A, 64 * KiB, false) || map(e, A + 64 * KiB, 64 * KiB, false) ||
	    map(e, C, 64 * KiB, false))
		return -1;
	OK(iommudirty_tracker_set_guest(e->t, A, 128 * KiB, G));
	OK(iommudirty_tracker_set_guest(e->t, C, 64 * KiB, G));
	OK(iommudirty_tracker_start(e->t));
	OK(wr(e, 0, A + 4 * KiB, 4 * KiB));           /* guest 1 */
	OK(wr(e, 0, C + 8 * KiB, 4 * KiB));           /* guest 2, through the alias */
	OK(wr(e, 0, A + 64 * KiB + 12 * KiB, 4 * KiB)); /* guest 19 */
	memset(e->bm, 0, sizeof(e->bm));
	OK(iommudirty_tracker_read_guest(e->t, G, 128 * KiB, 4 * KiB, e->bm, 8,
					 IOMMUDIRTY_READ_NO_CLEAR));
	EXPECT_SPANS("guest read", 32, { 1, 3 }, { 19, 20 });
	/* The guest unmaps its alias (plain unmap: a vIOMMU invalidation),
	 * after a write through it, then maps guest 0-15 at D instead. */
	OK(wr(e, 0, C + 20 * KiB, 4 * KiB));           /* guest 5 */
	OK(iommudirty_tracker_unmap(e->t, C, 64 * KiB));
	if (map(e, D, 64 * KiB, false))
		return -1;
	OK(iommudirty_tracker_set_guest(e->t, D, 64 * KiB, G));
	OK(wr(e, 0, D + 36 * KiB, 4 * KiB));           /* guest 9 */
	/* And takes the second half away atomically-cheap: unmap_dirty. */
	OK(wr(e, 0, A + 64 * KiB + 60 * KiB, 4 * KiB)); /* guest 31 */
	OK(iommudirty_tracker_unmap_dirty(e->t, A + 64 * KiB, 64 * KiB, 4 * KiB, bm,
					  sizeof(bm), 0));
	CHECK(bm[0] == ((1ull << 3) | (1ull << 15)), "unmap_dirty: %#llx",
	      (unsigned long long)bm[0]);
	memset(e->bm, 0, sizeof(e->bm));
	OK(iommudirty_tracker_read_guest(e->t, G, 128 * KiB, 4 * KiB, e->bm, 8, 0));
	EXPECT_SPANS("after the unmaps and the remap", 32, { 1, 3 }, { 5, 6 }, { 9, 10 },
		     { 19, 20 }, { 31, 32 });
	memset(e->bm, 0, sizeof(e->bm));
	OK(iommudirty_tracker_read_guest(e->t, G, 128 * KiB, 4 * KiB, e->bm, 8, 0));
	EXPECT_CLEAN("each reported once", 32);
	(void)sz;
	return 0;
}

/* IOMMUDIRTY_UNMAP_ATOMIC; two devices sharing one HWPT: one replace_fn
 * call moves both. */
static int l_atomic_unmap_dirty(struct lenv *e)
{
	const uint64_t X = B, Y = B + 64 * KiB, Z = B + 1 * MiB;
	const size_t sz = iommudirty_bitmap_size(64 * KiB, 4 * KiB);
	uint32_t h, old_ioas, nh[2];
	uint64_t nr;

	if (env_atomic(e) || add_dev(e, 0))
		return -1;
	h = e->d[0].hwpt;
	if (add_dev_on(e, 0, h))
		return -1;
	if (map(e, X, 64 * KiB, false) || map(e, Y, 64 * KiB, false) ||
	    map(e, Z, 64 * KiB, false))
		return -1;
	EXPECT_RC(iommudirty_tracker_hwpt_ids(e->t, NULL, 0), 1);
	OK(iommudirty_tracker_start(e->t));
	old_ioas = iommudirty_tracker_ioas_id(e->t);
	OK(wr(e, 0, Y + 4 * KiB, 4 * KiB));
	OK(wr(e, 1, Y + 12 * KiB, 2 * KiB));
	OK(wr(e, 1, X, 2 * KiB));
	OK(wr(e, 0, Z + 60 * KiB, 4 * KiB));
	memset(e->bm, 0xa5, sizeof(e->bm));
	OK(iommudirty_tracker_unmap_dirty(e->t, Y, 64 * KiB, 4 * KiB, e->bm, sz,
					  IOMMUDIRTY_UNMAP_ATOMIC));
	EXPECT_SPANS("atomic unmap_dirty bitmap", 16, { 1, 2 }, { 3, 4 });
	UNTOUCHED(sz);
	CHECK(e->rp.calls == 1 && e->rp.log[0].rc == 0 && e->rp.log[0].moved == 2,
	      "replace_fn: %d calls, first moved %d (rc %d); want 1 call moving 2",
	      e->rp.calls, e->rp.log[0].moved, e->rp.log[0].rc);
	CHECK(e->d[0].hwpt == e->d[1].hwpt && e->d[0].hwpt != h,
	      "devices on %u and %u (old %u)", e->d[0].hwpt, e->d[1].hwpt, h);
	EXPECT_RC(iommudirty_tracker_hwpt_ids(e->t, nh, 2), 1);
	CHECK(nh[0] == e->d[0].hwpt, "hwpt_ids %u, devices on %u", nh[0], e->d[0].hwpt);
	CHECK(iommudirty_tracker_ioas_id(e->t) != old_ioas, "IOAS unchanged");
	GONE("old HWPT", h);
	GONE("old IOAS", old_ioas);
	/* Unmapped and forgotten. */
	EXPECT_RC(iommudirty_tracker_unmap(e->t, Y, 64 * KiB), -ENOENT);
	nr = 99;
	OK(mock_dirty(e->fd, e->d[0].hwpt, Y, 64 * KiB, &nr));
	CHECK(nr == 0, "%llu pages of the unmapped range marked", (unsigned long long)nr);
	RD(X, 1 * MiB + 64 * KiB, 4 * KiB, 0);
	EXPECT_SPANS("carried over", 272, { 0, 1 }, { 256 + 15, 256 + 16 });
	RD(X, 1 * MiB + 64 * KiB, 4 * KiB, 0);
	EXPECT_CLEAN("reported once", 272);
	if (map(e, Y, 64 * KiB, false))
		return -1;
	OK(wr(e, 1, Y + 32 * KiB, 4 * KiB));
	RD(X, 1 * MiB + 64 * KiB, 4 * KiB, 0);
	EXPECT_SPANS("remapped", 272, { 24, 25 });
	return 0;
}

/* The VMM fails the move: at once (nothing moved), then after moving the
 * first HWPT's device (the library must have it moved back). Each time:
 * -errno, the same IOAS and HWPTs, the devices on them, no object left
 * behind, no dirty bit lost. Then it cooperates and the operation works. */
static int l_atomic_replace_fails(struct lenv *e)
{
	const uint64_t P = B, Q = B + 64 * KiB;
	const size_t sz = iommudirty_bitmap_size(64 * KiB, 4 * KiB);
	uint32_t ioas, oh[2], h[4], cur[2], before[4], after[4];
	const int err[2] = { -EIO, -EBUSY };

	if (env_atomic(e) || add_dev(e, 0) || add_dev(e, 0) ||
	    map(e, P, 64 * KiB, false) || map(e, Q, 64 * KiB, false))
		return -1;
	OK(iommudirty_tracker_start(e->t));
	ioas = iommudirty_tracker_ioas_id(e->t);
	EXPECT_RC(iommudirty_tracker_hwpt_ids(e->t, oh, 2), 2);
	OK(wr(e, 0, Q, 4 * KiB)); /* Q: page 0 */

	for (int phase = 0; phase < 2; phase++) {
		e->rp.calls = 0;
		e->rp.fail_at = phase + 1;
		e->rp.fail_err = err[phase];
		NEXT_IDS(before);
		memset(e->bm, 0xa5, sizeof(e->bm));
		EXPECT_RC(iommudirty_tracker_write_protect(e->t, Q, 64 * KiB, 4 * KiB,
							   e->bm, sz, 0), err[phase]);
		UNTOUCHED(sz);
		if (phase == 0) {
			CHECK(e->rp.calls == 1, "phase 0: %d replace_fn calls", e->rp.calls);
		} else {
			/* Moved, refused, moved back. */
			CHECK(e->rp.calls == 3, "phase 1: %d replace_fn calls", e->rp.calls);
			CHECK(e->rp.log[0].rc == 0 && e->rp.log[0].moved == 1 &&
			      e->rp.log[2].rc == 0 && e->rp.log[2].moved == 1 &&
			      e->rp.log[2].from == e->rp.log[0].to &&
			      e->rp.log[2].to == e->rp.log[0].from,
			      "phase 1: calls %u->%u (rc %d, %d moved), then %u->%u "
			      "(rc %d, %d moved): not a move back",
			      e->rp.log[0].from, e->rp.log[0].to, e->rp.log[0].rc,
			      e->rp.log[0].moved, e->rp.log[2].from, e->rp.log[2].to,
			      e->rp.log[2].rc, e->rp.log[2].moved);
		}
		CHECK(iommudirty_tracker_ioas_id(e->t) == ioas, "phase %d: IOAS changed",
		      phase);
		EXPECT_RC(iommudirty_tracker_hwpt_ids(e->t, h, 4), 2);
		CHECK(same_ids(h, 2, oh, 2), "phase %d: HWPTs %u %u, were %u %u", phase,
		      h[0], h[1], oh[0], oh[1]);
		cur[0] = e->d[0].hwpt;
		cur[1] = e->d[1].hwpt;
		CHECK(same_ids(cur, 2, oh, 2), "phase %d: devices on %u %u, not %u %u",
		      phase, cur[0], cur[1], oh[0], oh[1]);
		/* The twin HWPTs and IOAS were destroyed. */
		for (int c = 0; c < e->rp.calls && c < 3; c++)
			if (e->rp.log[c].to != oh[0] && e->rp.log[c].to != oh[1])
				GONE("twin HWPT", e->rp.log[c].to);
		NEXT_IDS(after);
		CHECK(!memcmp(before, after, sizeof(before)),
		      "phase %d: objects left behind: free ids %u %u %u %u before, "
		      "%u %u %u %u after", phase, before[0], before[1], before[2],
		      before[3], after[0], after[1], after[2], after[3]);
		/* The devices still write through their old HWPTs... */
		OK(wr(e, 0, P + (4 + 8 * phase) * KiB, 4 * KiB));
		OK(wr(e, 1, Q + (8 + 8 * phase) * KiB, 2 * KiB));
		/* ...and nothing was lost: the bits from before the failed call
		 * and those after it. */
		RD(P, 128 * KiB, 4 * KiB, 0);
		if (phase == 0)
			EXPECT_SPANS("after a refused move", 32, { 1, 2 }, { 16, 17 },
				     { 18, 19 });
		else
			EXPECT_SPANS("after a move back", 32, { 3, 4 }, { 20, 21 });
	}
	/* The VMM cooperates now. */
	e->rp.calls = 0;
	e->rp.fail_at = 0;
	OK(wr(e, 0, Q + 4 * KiB, 4 * KiB));
	OK(wr(e, 1, P, 4 * KiB));
	memset(e->bm, 0xa5, sizeof(e->bm));
	OK(iommudirty_tracker_write_protect(e->t, Q, 64 * KiB, 4 * KiB, e->bm, sz, 0));
	EXPECT_SPANS("write_protect after the failures", 16, { 1, 2 });
	CHECK(e->rp.calls == 2, "%d replace_fn calls", e->rp.calls);
	GONE("old HWPT", oh[0]);
	GONE("old HWPT", oh[1]);
	GONE("old IOAS", ioas);
	RD(P, 128 * KiB, 4 * KiB, 0);
	EXPECT_SPANS("carried over", 32, { 0, 1 });
	OK(iommudirty_tracker_unmap(e->t, Q, 64 * KiB));
	return 0;
}

/* ---- benchmark: atomic (write_protect + unmap) against unmap_dirty ---- */

#define BENCH_MAP (64 * KiB)
#define BENCH_POOL 1000 /* distinct 64 KiB buffers: 64 MiB of the 1 GiB guest */
#define BENCH_RUNS 5
#define BENCH_BUDGET_S 100.0 /* for the whole benchmark */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A tracker of @n mappings, one device on a VMM-attached HWPT. The middle
 * mapping goes away and comes back BENCH_RUNS times each way, alternating;
 * the medians in microseconds. */
static int bench_one(struct lenv *e, uint8_t *pool, int n, uint64_t max_io_page,
		     unsigned int flags, double *atomic_us, double *plain_us)
{
	const uint64_t k = B + (uint64_t)(n / 2) * BENCH_MAP;
	const uint64_t other = B + (uint64_t)((n / 2 + 1) % n) * BENCH_MAP;
	uint8_t *kva = pool + (size_t)((n / 2) % BENCH_POOL) * BENCH_MAP;
	const unsigned int rw = IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE;
	double ta[BENCH_RUNS], tp[BENCH_RUNS];

	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .replace_fn = vmm_replace,
			.replace_user = e, .max_io_page = max_io_page, .flags = flags);

	if (env_init_opts(e, &o) || add_dev(e, 0))
		return -1;
	for (int i = 0; i < n; i++)
		OK(iommudirty_tracker_map(e->t, pool + (size_t)(i % BENCH_POOL) * BENCH_MAP,
					  BENCH_MAP, B + (uint64_t)i * BENCH_MAP, rw));
	OK(iommudirty_tracker_start(e->t));
	for (int r = 0; r < 2 * BENCH_RUNS; r++) {
		bool atomic = !(r & 1);
		double t0, t1;

		OK(wr(e, 0, k + 4 * KiB, 4 * KiB));
		OK(wr(e, 0, other, 2 * KiB));
		e->bm[0] = ~0ull;
		t0 = now_s();
		if (atomic) {
			OK(iommudirty_tracker_write_protect(e->t, k, BENCH_MAP, 4 * KiB,
							    e->bm, 8, 0));
			OK(iommudirty_tracker_unmap(e->t, k, BENCH_MAP));
		} else {
			OK(iommudirty_tracker_unmap_dirty(e->t, k, BENCH_MAP, 4 * KiB,
							  e->bm, 8, 0));
		}
		t1 = now_s();
		CHECK(e->bm[0] == 0x2, "n %d, %s: bitmap %#llx, want 0x2", n,
		      atomic ? "atomic" : "non-atomic", (unsigned long long)e->bm[0]);
		(atomic ? ta : tp)[r / 2] = (t1 - t0) * 1e6;
		OK(iommudirty_tracker_map(e->t, kva, BENCH_MAP, k, rw));
	}
	/* The other mapping's page: carried over (atomic) or still in the
	 * HWPT (non-atomic); reported either way. */
	RD(other, BENCH_MAP, 4 * KiB, 0);
	EXPECT_SPANS("the other mapping", 16, { 0, 1 });
	qsort(ta, BENCH_RUNS, sizeof(double), cmp_double);
	qsort(tp, BENCH_RUNS, sizeof(double), cmp_double);
	*atomic_us = ta[BENCH_RUNS / 2];
	*plain_us = tp[BENCH_RUNS / 2];
	return 0;
}

/* Two settings of opts.max_io_page: the default (1 GiB) and 4 KiB (the
 * least allowed; the mock device, without HUGE_IOVA, maps 2 KiB IOPTEs).
 * The mappings are IOVA-adjacent, so with the default every read of one
 * mapping widens to the whole run (up to a 1 GiB window): see
 * iommufd_read_run(). */
static int l_atomic_bench(struct lenv *e)
{
	static const int sizes[] = { 10, 100, 1000, 10000 };
	static const struct {
		uint64_t max_io_page;
		unsigned int flags;
		const char *name;
	} cfg[] = {
		{ 0, IOMMUDIRTY_TRACKER_STANDBY, "standby, max_io_page default (1 GiB)" },
		{ 4 * KiB, IOMMUDIRTY_TRACKER_STANDBY, "standby, max_io_page 4 KiB" },
		{ 0, 0, "no standby, max_io_page default (1 GiB)" },
	};
	const size_t pool_len = (size_t)BENCH_POOL * BENCH_MAP;
	const int ncfg = sizeof(cfg) / sizeof(cfg[0]);
	double t_start = now_s(), t_last[3] = { 0, 0, 0 };
	uint8_t *pool;
	int ret = 0;

	pool = kmem_alloc(pool_len, false);
	CHECK(pool, "no memory for the %zu-byte pool", pool_len);
	memset(pool, 1, pool_len);
	kinfo("atomic bench: mock IOMMU under TCG, 1 device on a VMM-attached HWPT "
	      "(replace_fn), IOVA-adjacent %llu KiB mappings (4 KiB pages; beyond %d "
	      "mappings the same %d buffers back them again), the middle one taken "
	      "away; median of %d, alternating",
	      BENCH_MAP / KiB, BENCH_POOL, BENCH_POOL, BENCH_RUNS);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]) && !ret; s++) {
		int n = sizes[s];

		for (int c = 0; c < ncfg && !ret; c++) {
			double a = 0, p = 0, t0 = now_s(), spent = t0 - t_start;
			struct lenv *be;

			/* Each size costs about 10x the previous one. */
			if (t_last[c] && spent + 15 * t_last[c] > BENCH_BUDGET_S) {
				kinfo("mappings %d: skipped (%s): %.1f s spent, %d mappings "
				      "took %.1f s, about %.0f s more would pass the %.0f s "
				      "budget", n, cfg[c].name, spent, sizes[s - 1], t_last[c],
				      15 * t_last[c], BENCH_BUDGET_S);
				continue;
			}
			be = calloc(1, sizeof(*be));
			if (!be) {
				ret = lfail(e, __LINE__, "out of memory");
				break;
			}
			ret = bench_one(be, pool, n, cfg[c].max_io_page, cfg[c].flags, &a, &p);
			env_fini(be);
			if (ret)
				snprintf(e->why, sizeof(e->why), "mappings %d (%s): %.400s", n,
					 cfg[c].name, be->why);
			else
				kinfo("mappings %d: atomic %.0f us, non-atomic %.0f us, "
				      "ratio %.1fx (%s)", n, a, p, p > 0 ? a / p : 0.0,
				      cfg[c].name);
			free(be);
			t_last[c] = now_s() - t0;
		}
	}
	kinfo("atomic bench: %.1f s in all", now_s() - t_start);
	kmem_free(pool, pool_len, false);
	return ret;
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
	{ "lib_atomic_write_protect", l_atomic_write_protect },
	{ "lib_atomic_unmap_dirty", l_atomic_unmap_dirty },
	{ "lib_atomic_replace_fails", l_atomic_replace_fails },
	{ "lib_atomic_standby", l_atomic_standby },
	{ "lib_huge_io_pages_amplify", l_huge_io_pages },
	{ "lib_small_io_pages_knob", l_small_io_pages },
	{ "viommu_aliases_unmap_remap", l_viommu },
	{ "lib_atomic_bench", l_atomic_bench },
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
