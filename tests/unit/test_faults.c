/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Failure injection at the kernel seam: for each public operation, fail its
 * 1st, 2nd, ... Nth kernel call in turn. Each time the injected errno must
 * surface unchanged (or the call must succeed when that kernel call was
 * optional), nothing may leak (fx_fini checks fds and objects; ASan checks
 * memory), the objects must stay usable, and no dirty page may be lost.
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

#include "sweep.h"

/* Two IOMMUs (one with 2 MiB IOPTEs), a device on each, attached, three
 * runs of mappings, started, pages written. */
static void setup_full(struct fx *f)
{
	uint8_t *mem;

	memset(written, 0, sizeof(written));
	memset(seen, 0, sizeof(seen));
	assert_int_equal(fx_add_iommu(f, 0, 0), 0);
	assert_int_equal(fx_add_iommu(f, PG | 2 * MiB, 0), 1);
	assert_int_equal(fx_add_device(f, 0), 0);
	assert_int_equal(fx_add_device(f, 1), 1);
	assert_int_equal(fx_tracker(f), 0);
	assert_int_equal(iommudirty_tracker_attach(f->t, f->dev[0]), 0);
	assert_int_equal(iommudirty_tracker_attach(f->t, f->dev[1]), 0);
	mem = fx_mem(f, SPAN, 2 * MiB);
	assert_int_equal(iommudirty_tracker_map(f->t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f->t, mem + 64 * KiB, 64 * KiB, 64 * KiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f->t, mem + 2 * MiB, 4 * MiB, 2 * MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	/* Device 1's IOMMU maps [2M,4M) and [4M,6M) with 2 MiB IOPTEs, and a
	 * dirty one reports all 512 pages: keep it out of [2M,4M) so that a
	 * lost bit of device 0 there cannot hide behind it. */
	dev_write(f, 0, 1);
	dev_write(f, 1, 17);
	dev_write(f, 0, 512 + 3);
	dev_write(f, 0, 1024 + 50);
	dev_write(f, 1, 1024 + 300); /* inside a 2 MiB IOPTE */
	objs_before = objects(f);
}

/* After any outcome: a new write is seen, and nothing written is lost. */
static void check_tracking_works(struct fx *f)
{
	assert_int_equal(iommudirty_tracker_started(f->t), 1);
	dev_write(f, 0, 530);
	dev_write(f, 1, 1324);
	read_into_seen(f, 0, SPAN);
	expect_no_loss();
}

/* --- ctx_new ----------------------------------------------------------- */
static void setup_nothing(struct fx *f)
{
	iommudirty_ctx_free(f->ctx); /* the op makes its own */
	f->ctx = NULL;
}

static int op_ctx_new(struct fx *f)
{
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o, .sim = f->sim);

	f->ctx = iommudirty_ctx_new(&o);
	return f->ctx ? 0 : -errno;
}

static void post_ctx_new(struct fx *f, int ret)
{
	if (ret)
		assert_int_equal(op_ctx_new(f), 0);
}

/* --- bind --------------------------------------------------------------- */
static void setup_bind(struct fx *f)
{
	assert_int_equal(fx_add_iommu(f, 0, 0), 0);
	f->sdev[0] = iommudirty_sim_add_device(f->sim, f->iommu[0]);
	f->fd[0] = iommudirty_sim_open_device(f->sim, f->sdev[0]);
	assert_true(f->fd[0] >= 0);
	f->ndev = 1;
}

static int op_bind(struct fx *f)
{
	return iommudirty_device_bind(f->ctx, f->fd[0], &f->dev[0]);
}

static void post_bind(struct fx *f, int ret)
{
	if (!ret)
		return;
	if (op_bind(f)) {
		/* GET_HW_INFO failed after a good bind: documented to stay bound;
		 * closing the fd is the way out. */
		assert_int_equal(iommudirty_sim_close(f->sim, f->fd[0]), 0);
		f->fd[0] = iommudirty_sim_open_device(f->sim, f->sdev[0]);
		assert_int_equal(op_bind(f), 0);
	}
}

/* --- tracker_new ------------------------------------------------------- */
static void setup_iommu_dev(struct fx *f)
{
	assert_int_equal(fx_add_iommu(f, 0, 0), 0);
	assert_int_equal(fx_add_device(f, 0), 0);
	objs_before = objects(f);
}

static int op_tracker_new(struct fx *f)
{
	return iommudirty_tracker_new(f->ctx, NULL, &f->t);
}

static void post_tracker_new(struct fx *f, int ret)
{
	if (ret) {
		assert_null(f->t);
		assert_int_equal(objects(f), objs_before);
		assert_int_equal(op_tracker_new(f), 0);
	}
}

/* --- attach, started, a second IOMMU instance --------------------------- */
static void setup_attach(struct fx *f)
{
	uint8_t *mem;

	memset(written, 0, sizeof(written));
	memset(seen, 0, sizeof(seen));
	assert_int_equal(fx_add_iommu(f, 0, 0), 0);
	assert_int_equal(fx_add_iommu(f, 0, 0), 1);
	assert_int_equal(fx_add_device(f, 0), 0);
	assert_int_equal(fx_add_device(f, 1), 1);
	assert_int_equal(fx_tracker(f), 0);
	assert_int_equal(iommudirty_tracker_attach(f->t, f->dev[0]), 0);
	mem = fx_mem(f, SPAN, PG);
	assert_int_equal(iommudirty_tracker_map(f->t, mem, SPAN, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	dev_write(f, 0, 5);
	objs_before = objects(f);
}

static int op_attach(struct fx *f)
{
	return iommudirty_tracker_attach(f->t, f->dev[1]);
}

static void post_attach(struct fx *f, int ret)
{
	if (ret) {
		/* No HWPT left behind, the device cannot DMA, retry works. */
		assert_int_equal(objects(f), objs_before);
		assert_int_equal(fx_write(f, 1, 0, 1), -ENODEV);
		assert_int_equal(op_attach(f), 0);
	}
	check_tracking_works(f);
}

/* --- alloc_hwpt ---------------------------------------------------------- */
static int op_alloc_hwpt(struct fx *f)
{
	uint32_t id;

	return iommudirty_tracker_alloc_hwpt(f->t, f->dev[1], &id);
}

static void post_alloc_hwpt(struct fx *f, int ret)
{
	if (ret)
		assert_int_equal(objects(f), objs_before);
	/* Device 1 is not attached by alloc_hwpt: only device 0 writes. */
	dev_write(f, 0, 530);
	read_into_seen(f, 0, SPAN);
	expect_no_loss();
}

/* --- map / unmap ----------------------------------------------------------- */

static int op_map(struct fx *f)
{
	static uint8_t extra[64 * 1024] __attribute__((aligned(4096)));

	return iommudirty_tracker_map(f->t, extra, sizeof(extra), 1 * MiB,
				      IOMMUDIRTY_MAP_WRITE);
}

static void post_map(struct fx *f, int ret)
{
	if (ret) {
		assert_int_equal(fx_write(f, 0, 1 * MiB, 1), -EFAULT);
		assert_int_equal(op_map(f), 0);
	}
	dev_write(f, 0, 256);
	check_tracking_works(f);
}

static int op_unmap(struct fx *f)
{
	return iommudirty_tracker_unmap(f->t, 0, 128 * KiB);
}

static void post_unmap(struct fx *f, int ret)
{
	if (ret) {
		dev_write(f, 0, 2); /* still mapped */
		read_into_seen(f, 0, SPAN);
		assert_int_equal(op_unmap(f), 0);
	}
	/* The unmapped pages' bits were discarded, as documented. */
	written[0] &= ~0xffffffffull;
	assert_int_equal(fx_write(f, 0, 0, 1), -EFAULT);
	check_tracking_works(f);
}

/* --- start / stop ---------------------------------------------------------- */
static void setup_stopped(struct fx *f)
{
	setup_full(f);
	assert_int_equal(iommudirty_tracker_stop(f->t), 0);
	memset(written, 0, sizeof(written));
}

static int op_start(struct fx *f)
{
	return iommudirty_tracker_start(f->t);
}

static void post_start(struct fx *f, int ret)
{
	if (ret) {
		assert_int_equal(iommudirty_tracker_started(f->t), 0);
		assert_int_equal(op_start(f), 0);
	}
	check_tracking_works(f);
}

static int op_stop(struct fx *f)
{
	return iommudirty_tracker_stop(f->t);
}

static void post_stop(struct fx *f, int ret)
{
	assert_int_equal(iommudirty_tracker_started(f->t), 0);
	memset(written, 0, sizeof(written));
	memset(seen, 0, sizeof(seen));
	assert_int_equal(op_start(f), 0);
	check_tracking_works(f);
}

/* --- reads ------------------------------------------------------------------ */
static uint64_t partial[NPAGES / 64];

static int op_read(struct fx *f)
{
	return iommudirty_tracker_read(f->t, 0, SPAN, PG, partial, sizeof(partial), 0);
}

static void post_read(struct fx *f, int ret)
{
	/* Whatever a failed read returned counts: the caller was told to
	 * treat the range as dirty, and the bits it did get are real. */
	iommudirty_bitmap_or(seen, partial, NPAGES);
	check_tracking_works(f);
}

/* A clearing read of part of a 2 MiB IOPTE: the widened, pending path. */
static int op_read_partial_huge(struct fx *f)
{
	memset(partial, 0, sizeof(partial));
	return iommudirty_tracker_read(f->t, 2 * MiB, 256 * PG, PG, partial + 512 / 64,
				       256 / 8, 0);
}

static void post_read_partial_huge(struct fx *f, int ret)
{
	iommudirty_bitmap_or(seen, partial, NPAGES);
	check_tracking_works(f);
}

static uint64_t unmapped_bits[2];

static int op_unmap_dirty(struct fx *f)
{
	return iommudirty_tracker_unmap_dirty(f->t, 0, 128 * KiB, PG, unmapped_bits,
					      sizeof(unmapped_bits), 0);
}

static void post_unmap_dirty(struct fx *f, int ret)
{
	if (ret) {
		assert_int_equal(fx_write(f, 0, 3 * PG, 1), 0); /* still mapped */
		fx_set_bit(written, 3);
		assert_int_equal(op_unmap_dirty(f), 0);
	}
	iommudirty_bitmap_or(seen, unmapped_bits, 32);
	assert_int_equal(fx_write(f, 0, 0, 1), -EFAULT);
	check_tracking_works(f);
}

/* --- detach ----------------------------------------------------------------- */
static int op_detach(struct fx *f)
{
	return iommudirty_tracker_detach(f->t, f->dev[1]);
}

static void post_detach(struct fx *f, int ret)
{
	if (ret) {
		dev_write(f, 1, 1400); /* still attached and tracked */
		assert_int_equal(op_detach(f), 0);
	}
	assert_int_equal(fx_write(f, 1, 0, 1), -ENODEV);
	/* Bits its HWPT gathered before the detach are still reported. */
	read_into_seen(f, 0, SPAN);
	expect_no_loss();
	dev_write(f, 0, 531);
	read_into_seen(f, 0, SPAN);
	expect_no_loss();
}

/* --- adopting a HWPT into a started tracker, and the IOVA ranges ------- */
static uint32_t vmm_hwpt;

static void setup_vmm_hwpt(struct fx *f)
{
	struct uapi_hwpt_alloc ha = { .size = sizeof(ha),
				      .flags = UAPI_HWPT_ALLOC_DIRTY_TRACKING };

	setup_attach(f);
	ha.dev_id = iommudirty_device_id(f->dev[1]);
	ha.pt_id = iommudirty_tracker_ioas_id(f->t);
	assert_int_equal(iommudirty_sim_ioctl(f->sim, iommudirty_ctx_fd(f->ctx),
					      IOMMU_HWPT_ALLOC, &ha), 0);
	vmm_hwpt = ha.out_hwpt_id;
	objs_before = objects(f);
}

static int op_adopt_hwpt(struct fx *f)
{
	return iommudirty_tracker_adopt_hwpt(f->t, vmm_hwpt, 0);
}

static void post_adopt_hwpt(struct fx *f, int ret)
{
	struct uapi_destroy d = { .size = sizeof(d), .id = vmm_hwpt };

	struct uapi_vfio_attach_pt at = { .argsz = sizeof(at), .pt_id = vmm_hwpt };
	struct uapi_vfio_detach_pt dt = { .argsz = sizeof(dt) };

	if (ret)
		assert_int_equal(op_adopt_hwpt(f), 0);
	assert_int_equal(op_adopt_hwpt(f), -EEXIST);
	/* The VMM attaches its device itself; the tracker reads its HWPT. */
	assert_int_equal(iommudirty_sim_ioctl(f->sim, f->fd[1],
					      VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at), 0);
	check_tracking_works(f);
	/* The VMM's HWPT sits on the tracker's IOAS: the VMM takes it down
	 * first (the library never destroys an adopted HWPT). */
	assert_int_equal(iommudirty_sim_ioctl(f->sim, f->fd[1],
					      VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt), 0);
	assert_int_equal(iommudirty_sim_ioctl(f->sim, iommudirty_ctx_fd(f->ctx),
					      IOMMU_DESTROY, &d), 0);
	iommudirty_tracker_free(f->t);
	f->t = NULL;
}

static int op_iova_ranges(struct fx *f)
{
	struct iommudirty_iova_range r[1];
	uint64_t align;
	int n = iommudirty_tracker_iova_ranges(f->t, r, 0, &align);

	return n < 0 ? n : 0;
}

static void post_iova_ranges(struct fx *f, int ret)
{
	assert_true(iommudirty_tracker_iova_ranges(f->t, NULL, 0, NULL) >= 1);
	check_tracking_works(f);
}

/* --- atomic unmap: write-protect by moving every device ------------------ */
static uint64_t wp_bits[1024 / 64];

static int op_write_protect(struct fx *f)
{
	return iommudirty_tracker_write_protect(f->t, 2 * MiB, 4 * MiB, PG, wp_bits,
						sizeof(wp_bits), 0);
}

static void post_write_protect(struct fx *f, int ret)
{
	if (ret) {
		/* Nothing changed: the devices still write the range, and it
		 * is still tracked. */
		dev_write(f, 0, 512 + 7);
		dev_write(f, 1, 1024 + 9);
		assert_int_equal(op_write_protect(f), 0);
	}
	iommudirty_bitmap_or(seen + 512 / 64, wp_bits, 1024);
	assert_int_equal(fx_write(f, 0, 2 * MiB, 1), -EFAULT);
	assert_int_equal(fx_write(f, 1, 4 * MiB, 1), -EFAULT);
	/* Outside the range everything still works and nothing was lost. */
	dev_write(f, 0, 2);
	dev_write(f, 1, 16);
	read_into_seen(f, 0, SPAN);
	expect_no_loss();
}

/* --- type1: the library opens the device through its group ---------- */
static char t1_bdf[16];
static const char *t1_bdfs[] = { t1_bdf };

static void setup_type1_host(struct fx *f)
{
	memset(written, 0, sizeof(written));
	memset(seen, 0, sizeof(seen));
	/* Its IOMMU cannot track: a type1 tracker (forced: auto mode would
	 * take iommufd with the device as an untracked writer). */
	assert_int_equal(fx_add_iommu(f, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY), 0);
	f->sdev[0] = iommudirty_sim_add_device(f->sim, f->iommu[0]);
	assert_int_equal(iommudirty_sim_device_bdf(f->sim, f->sdev[0], t1_bdf,
						   sizeof(t1_bdf)), 0);
	objs_before = objects(f);
}

static int op_type1_new(struct fx *f)
{
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .pci_devices = t1_bdfs,
			.nr_pci_devices = 1, .backend = IOMMUDIRTY_BACKEND_TYPE1);

	return iommudirty_tracker_new(f->ctx, &o, &f->t);
}

/* Type1 reports every mapped page: writes are seen, trivially; what is
 * checked is that the tracker works after any failure. */
static void type1_works(struct fx *f)
{
	uint64_t m[2];
	static uint8_t ram[64 * 1024] __attribute__((aligned(4096)));

	if (!iommudirty_tracker_started(f->t)) {
		assert_int_equal(iommudirty_tracker_map(f->t, ram, sizeof(ram), 0,
							IOMMUDIRTY_MAP_WRITE), 0);
		assert_int_equal(iommudirty_tracker_start(f->t), 0);
	}
	assert_int_equal(fx_write(f, 0, PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f->t, 0, 64 * KiB, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0xffff);
}

static void post_type1_new(struct fx *f, int ret)
{
	if (ret) {
		assert_null(f->t);
		assert_int_equal(objects(f), objs_before);
		assert_int_equal(op_type1_new(f), 0);
	}
	type1_works(f);
}

static void setup_type1(struct fx *f)
{
	setup_type1_host(f);
	assert_int_equal(op_type1_new(f), 0);
	type1_works(f);
}

static int op_type1_read(struct fx *f)
{
	uint64_t m[2];

	/* 2 KiB pages: through a scratch bitmap. */
	return iommudirty_tracker_read(f->t, 0, 64 * KiB, PG / 2, m, sizeof(m), 0);
}

static void post_type1(struct fx *f, int ret)
{
	type1_works(f);
}

static int op_type1_unmap_dirty(struct fx *f)
{
	uint64_t m[1];

	return iommudirty_tracker_unmap_dirty(f->t, 0, 64 * KiB, PG, m, sizeof(m), 0);
}

static void post_type1_unmap_dirty(struct fx *f, int ret)
{
	if (ret) {
		assert_int_equal(fx_write(f, 0, 0, 1), 0); /* still mapped */
		assert_int_equal(op_type1_unmap_dirty(f), 0);
	}
	assert_int_equal(fx_write(f, 0, 0, 1), -EFAULT);
}

static int op_type1_restart(struct fx *f)
{
	int ret = iommudirty_tracker_stop(f->t);

	return ret ? ret : iommudirty_tracker_start(f->t);
}

static void post_type1_restart(struct fx *f, int ret)
{
	if (!iommudirty_tracker_started(f->t))
		assert_int_equal(iommudirty_tracker_start(f->t), 0);
	type1_works(f);
}

static void setup_empty(struct fx *f)
{
}

static const struct scenario scenarios[] = {
	{ "ctx_new", setup_nothing, op_ctx_new, post_ctx_new },
	{ "device_bind", setup_bind, op_bind, post_bind },
	{ "tracker_new", setup_iommu_dev, op_tracker_new, post_tracker_new },
	{ "attach", setup_attach, op_attach, post_attach },
	{ "alloc_hwpt", setup_attach, op_alloc_hwpt, post_alloc_hwpt },
	{ "map", setup_full, op_map, post_map },
	{ "unmap", setup_full, op_unmap, post_unmap },
	{ "start", setup_stopped, op_start, post_start },
	{ "stop", setup_full, op_stop, post_stop },
	{ "read", setup_full, op_read, post_read },
	{ "read_partial_huge", setup_full, op_read_partial_huge, post_read_partial_huge },
	{ "unmap_dirty", setup_full, op_unmap_dirty, post_unmap_dirty },
	{ "detach", setup_full, op_detach, post_detach },
	{ "write_protect", setup_full, op_write_protect, post_write_protect },
	{ "adopt_hwpt", setup_vmm_hwpt, op_adopt_hwpt, post_adopt_hwpt },
	{ "iova_ranges", setup_full, op_iova_ranges, post_iova_ranges },
	{ "type1_new", setup_type1_host, op_type1_new, post_type1_new },
	{ "type1_read", setup_type1, op_type1_read, post_type1 },
	{ "type1_unmap_dirty", setup_type1, op_type1_unmap_dirty, post_type1_unmap_dirty },
	{ "type1_restart", setup_type1, op_type1_restart, post_type1_restart },
};

static void test_sweep(void **state)
{
	(void)setup_empty;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		sweep(&scenarios[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sweep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
