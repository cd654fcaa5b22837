/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kinds of bug seeded faults once slipped through the suite (issue
 * "Hardening"): each argument check alone (no kernel call), rollback of a
 * partly failed start checked by kernel state, pending bits after an
 * unmap and a re-map of the same IOVA, type1 reads at a caller page larger
 * than type1's over mappings that do not fill it, and a multi-run type1
 * unmap that fails half way.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "uapi.h"

#define PG (4 * KiB)

static uint64_t calls(struct fx *f)
{
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };

	assert_int_equal(iommudirty_sim_get_stats(f->sim, &st), 0);
	return st.calls;
}

static void setup(struct fx *f, int ndev)
{
	uint8_t *mem;

	assert_int_equal(fx_init(f), 0);
	for (int i = 0; i < ndev; i++) {
		assert_int_equal(fx_add_iommu(f, 0, 0), i);
		assert_int_equal(fx_add_device(f, i), i);
	}
	assert_int_equal(fx_tracker(f), 0);
	for (int i = 0; i < ndev; i++)
		assert_int_equal(iommudirty_tracker_attach(f->t, f->dev[i]), 0);
	mem = fx_mem(f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f->t, mem, 256 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
}

/* Each check alone, the others satisfied: -EINVAL (or the documented
 * errno) and not one kernel call. */
static void test_each_argument_check_alone(void **state)
{
	struct fx f;
	uint64_t m[4], c;

	(void)state;
	setup(&f, 1);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	c = calls(&f);
	/* A page size that is not a power of two, over a range it divides. */
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 48 * KiB, 12 * KiB, m, sizeof(m), 0),
			 -EINVAL);
	assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, 0, 48 * KiB, 12 * KiB, m, sizeof(m),
							0), -EINVAL);
	assert_int_equal(iommudirty_tracker_write_protect(f.t, 0, 48 * KiB, 12 * KiB, m, sizeof(m),
							  0), -EINVAL);
	assert_int_equal(iommudirty_tracker_read_guest(f.t, 0, 48 * KiB, 12 * KiB, m, sizeof(m), 0),
			 -EINVAL);
	/* Misaligned start, misaligned length, each alone. */
	assert_int_equal(iommudirty_tracker_read(f.t, PG / 2, 64 * KiB, PG, m, sizeof(m), 0),
			 -EINVAL);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * KiB + PG / 2, PG, m, sizeof(m), 0),
			 -EINVAL);
	/* Unknown flags alone; a bitmap one byte short alone. */
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * KiB, PG, m, sizeof(m), 2), -EINVAL);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * PG, PG, m, 7, 0), -ERANGE);
	assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, 0, 64 * KiB, PG, m, sizeof(m), 4),
			 -EINVAL);
	assert_int_equal(iommudirty_tracker_write_protect(f.t, 0, 64 * KiB, PG, m, sizeof(m), 1),
			 -EINVAL);
	/* A range that wraps alone. */
	assert_int_equal(iommudirty_tracker_read(f.t, UINT64_MAX - PG + 1, 2 * PG, PG, m,
						 sizeof(m), 0), -EOVERFLOW);
	/* A range cutting a mapping alone (the kernel's rule, checked first). */
	assert_int_equal(iommudirty_tracker_unmap(f.t, 0, 64 * KiB), -ENOENT);
	assert_int_equal(calls(&f), c);
	fx_fini(&f);
}

/* ENABLE fails on the second of two HWPTs: the first must be off in the
 * kernel afterwards, so a write before the retried start is not reported
 * (a fresh start begins clean). */
static void test_failed_start_rolls_back_in_the_kernel(void **state)
{
	struct fx f;
	uint64_t m[1];

	(void)state;
	setup(&f, 2);
	assert_int_equal(iommudirty_sim_fail_call(f.sim, 2, -EIO), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), -EIO);
	assert_int_equal(iommudirty_tracker_started(f.t), 0);
	/* Both HWPTs are off: these writes are before any start. */
	assert_int_equal(fx_write(&f, 0, 3 * PG, 1), 0);
	assert_int_equal(fx_write(&f, 1, 4 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, 9 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1ull << 9);
	fx_fini(&f);
}

/* Bits kept pending for an IOVA must not come back after the IOVA is
 * unmapped and mapped again (to other memory). */
static void test_pending_gone_after_remap(void **state)
{
	struct fx f;
	uint64_t m[1];
	uint8_t *mem2;

	(void)state;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, PG | 2 * MiB, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	assert_non_null(fx_mem(&f, 8 * MiB, 2 * MiB));
	mem2 = (uint8_t *)f.mem + (2 * MiB - (uintptr_t)f.mem % (2 * MiB)) % (2 * MiB);
	assert_int_equal(iommudirty_tracker_map(f.t, mem2, 2 * MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	/* A 2 MiB IOPTE: a read of its first 64 KiB keeps the rest pending. */
	assert_int_equal(fx_write(&f, 0, 100 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 16 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0xffff);
	assert_int_equal(iommudirty_tracker_unmap(f.t, 0, 2 * MiB), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem2 + 2 * MiB, 2 * MiB, 0,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 64 * PG, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0);
	fx_fini(&f);
}

struct t1 {
	struct iommudirty_sim *sim;
	struct iommudirty_ctx *ctx;
	struct iommudirty_tracker *t;
	int dev;
	char bdf[16];
	const char *bdfs[1];
	uint8_t *mem;
};

static void t1_setup(struct t1 *h)
{
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .backend = IOMMUDIRTY_BACKEND_TYPE1,
			.nr_pci_devices = 1);

	h->sim = iommudirty_sim_new(NULL);
	assert_non_null(h->sim);
	assert_true(iommudirty_sim_add_iommu(h->sim, NULL) >= 0);
	h->dev = iommudirty_sim_add_device(h->sim, 0);
	assert_int_equal(iommudirty_sim_device_bdf(h->sim, h->dev, h->bdf, sizeof(h->bdf)), 0);
	h->bdfs[0] = h->bdf;
	co.sim = h->sim;
	h->ctx = iommudirty_ctx_new(&co);
	assert_non_null(h->ctx);
	o.pci_devices = h->bdfs;
	assert_int_equal(iommudirty_tracker_new(h->ctx, &o, &h->t), 0);
	h->mem = aligned_alloc(64 * KiB, MiB);
	assert_non_null(h->mem);
}

static void t1_fini(struct t1 *h)
{
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };

	iommudirty_tracker_free(h->t);
	iommudirty_ctx_free(h->ctx);
	assert_int_equal(iommudirty_sim_get_stats(h->sim, &st), 0);
	assert_int_equal(st.open_fds, 0);
	iommudirty_sim_free(h->sim);
	free(h->mem);
}

/* Type1 at a caller page of 16 KiB over 4 KiB mappings that do not fill
 * whole caller pages: every caller page holding a mapped page is set (type1
 * reports every mapped page dirty), and none other. */
static void test_type1_large_caller_pages(void **state)
{
	struct t1 h;
	uint64_t m[1];

	(void)state;
	for (int op = 0; op < 2; op++) {
		t1_setup(&h);
		/* Pages 1-2 (caller page 0), 6 (caller page 1), 12-17 (3 and 4). */
		assert_int_equal(iommudirty_tracker_map(h.t, h.mem, 2 * PG, PG, IOMMUDIRTY_MAP_WRITE), 0);
		assert_int_equal(iommudirty_tracker_map(h.t, h.mem + 4 * PG, PG, 6 * PG,
							IOMMUDIRTY_MAP_WRITE), 0);
		assert_int_equal(iommudirty_tracker_map(h.t, h.mem + 8 * PG, 6 * PG, 12 * PG,
							IOMMUDIRTY_MAP_WRITE), 0);
		assert_int_equal(iommudirty_tracker_start(h.t), 0);
		if (op == 0)
			assert_int_equal(iommudirty_tracker_unmap_dirty(h.t, 0, 32 * PG, 4 * PG, m,
									sizeof(m), 0), 0);
		else
			assert_int_equal(iommudirty_tracker_write_protect(h.t, 0, 32 * PG, 4 * PG, m,
									  sizeof(m), 0), 0);
		assert_int_equal(m[0], 0x1b); /* caller pages 0, 1, 3, 4 */
		t1_fini(&h);
	}
}

/* A multi-run type1 unmap that fails on its second run: the first run is
 * gone in the kernel and from the tracker, the rest still there; a retry
 * touches only what is left. */
static void test_type1_unmap_fails_half_way(void **state)
{
	struct t1 h;
	uint64_t m[1];

	(void)state;
	t1_setup(&h);
	assert_int_equal(iommudirty_tracker_map(h.t, h.mem, 4 * PG, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(h.t, h.mem + 8 * PG, 4 * PG, 8 * PG,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(h.t), 0);
	assert_int_equal(iommudirty_sim_fail_call(h.sim, 2, -EIO), 0);
	assert_int_equal(iommudirty_tracker_unmap(h.t, 0, 16 * PG), -EIO);
	/* The first run is gone for the device, the second is not. */
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev, 0, 1, NULL), -EFAULT);
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev, 8 * PG, 1, NULL), 0);
	/* And the tracker reads only what is left. */
	assert_int_equal(iommudirty_tracker_read(h.t, 0, 16 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0xf00);
	assert_int_equal(iommudirty_tracker_unmap(h.t, 0, 16 * PG), 0);
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev, 8 * PG, 1, NULL), -EFAULT);
	assert_int_equal(iommudirty_tracker_unmap(h.t, 0, 16 * PG), -ENOENT);
	t1_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_argument_check_alone),
		cmocka_unit_test(test_failed_start_rolls_back_in_the_kernel),
		cmocka_unit_test(test_pending_gone_after_remap),
		cmocka_unit_test(test_type1_large_caller_pages),
		cmocka_unit_test(test_type1_unmap_fails_half_way),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
