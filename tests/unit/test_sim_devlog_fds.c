/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated VFIO device features on the other device fds: a group's
 * device fd over a type1 container, and an emulated-IOMMU device (an mdev
 * such as mtty) on iommufd, with its iommufd access object. Exact errnos
 * and exact bitmaps throughout.
 */
#include "simdev.h"

/* ---- the group path ------------------------------------------------------ */

static void test_group_device_fd(void **state)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, io);
	IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, o, .flags = LOG,
			.migration_flags = UAPI_VFIO_MIGRATION_STOP_COPY |
					   UAPI_VFIO_MIGRATION_PRE_COPY);
	struct iommudirty_sim *sim = iommudirty_sim_new(NULL);
	uint8_t *mem = aligned_alloc(SZ_4K, SZ_64K);
	uint64_t bm[1], mig;
	char bdf[16], gpath[32];
	int cfd, gfd, dfd, dfd2, plain, pfd, pgfd, dev;
	(void)state;

	assert_non_null(sim);
	assert_non_null(mem);
	memset(mem, 0, SZ_64K);
	assert_int_equal(iommudirty_sim_add_iommu(sim, &io), 0);
	dev = iommudirty_sim_add_vfio_device(sim, &o);
	assert_int_equal(dev, 0);
	plain = iommudirty_sim_add_device(sim, 0);
	cfd = iommudirty_sys_sim.open(sim, "/dev/vfio/vfio", O_RDWR);
	gfd = iommudirty_sys_sim.open(sim, "/dev/vfio/1", O_RDWR);
	assert_true(cfd >= 0 && gfd >= 0);
	assert_int_equal(sioctl(sim, gfd, VFIO_GROUP_SET_CONTAINER, &cfd), 0);
	assert_int_equal(sioctl(sim, cfd, VFIO_SET_IOMMU, (void *)(uintptr_t)T1), 0);
	assert_int_equal(iommudirty_sim_device_bdf(sim, dev, bdf, sizeof(bdf)), 0);
	dfd = sioctl(sim, gfd, VFIO_GROUP_GET_DEVICE_FD, bdf);
	dfd2 = sioctl(sim, gfd, VFIO_GROUP_GET_DEVICE_FD, bdf);
	assert_true(dfd >= 0 && dfd2 >= 0);
	{
		struct uapi_vfio_dma_map m = {
			.argsz = sizeof(m),
			.flags = UAPI_VFIO_DMA_MAP_FLAG_READ | UAPI_VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = (uint64_t)(uintptr_t)mem, .iova = BASE, .size = SZ_64K,
		};

		assert_int_equal(sioctl(sim, cfd, VFIO_IOMMU_MAP_DMA, &m), 0);
	}
	assert_int_equal(mig_get(sim, dfd, &mig), 0);
	assert_int_equal(mig, 5);
	assert_int_equal(feature(sim, dfd, PROBE | SET | F_START, NULL, 0), 0);
	assert_int_equal(start1(sim, dfd, SZ_4K, BASE, SZ_64K), 0);
	/* One device behind both fds: its log is shared. */
	assert_int_equal(start1(sim, dfd2, SZ_4K, BASE, SZ_64K), -EBUSY);
	assert_int_equal(iommudirty_sim_dma_write(sim, dev, BASE + 9 * SZ_4K, 2, "ab"), 0);
	assert_int_equal(memcmp(mem + 9 * SZ_4K, "ab", 2), 0);
	assert_int_equal(iommudirty_sim_dma_write(sim, dev, BASE + SZ_64K, 1, NULL), -EFAULT);
	report_into(sim, dfd2, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 1ull << 9);
	/* Not the last close: still started. */
	assert_int_equal(iommudirty_sys_sim.close(sim, dfd), 0);
	assert_int_equal(iommudirty_sim_dma_write(sim, dev, BASE + SZ_4K, 1, NULL), 0);
	report_into(sim, dfd2, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 1ull << 1);
	assert_int_equal(iommudirty_sim_dma_write(sim, dev, BASE + SZ_4K, 1, NULL), 0);
	/* The last close stops it. */
	assert_int_equal(iommudirty_sys_sim.close(sim, dfd2), 0);
	dfd = sioctl(sim, gfd, VFIO_GROUP_GET_DEVICE_FD, bdf);
	assert_true(dfd >= 0);
	assert_int_equal(report(sim, dfd, BASE, SZ_64K, SZ_4K, bm), -EINVAL);
	assert_int_equal(start1(sim, dfd, SZ_4K, BASE, SZ_64K), 0);
	report_into(sim, dfd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 0);
	/* No BIND on a group device fd; ATTACH is the driver's -ENOTTY. */
	{
		struct uapi_vfio_bind_iommufd b = { .argsz = sizeof(b), .iommufd = cfd };

		assert_int_equal(sioctl(sim, dfd, VFIO_DEVICE_BIND_IOMMUFD, &b), -EINVAL);
	}
	assert_int_equal(sioctl(sim, dfd, VFIO_DEVICE_FEATURE, NULL), -EFAULT);

	/* A plain device's group fd: no features. */
	snprintf(gpath, sizeof(gpath), "/dev/vfio/%d", plain + 1);
	pgfd = iommudirty_sys_sim.open(sim, gpath, O_RDWR);
	assert_true(pgfd >= 0);
	assert_int_equal(sioctl(sim, pgfd, VFIO_GROUP_SET_CONTAINER, &cfd), 0);
	assert_int_equal(iommudirty_sim_device_bdf(sim, plain, bdf, sizeof(bdf)), 0);
	pfd = sioctl(sim, pgfd, VFIO_GROUP_GET_DEVICE_FD, bdf);
	assert_true(pfd >= 0);
	assert_int_equal(mig_get(sim, pfd, &mig), -ENOTTY);
	assert_int_equal(start1(sim, pfd, SZ_4K, BASE, SZ_64K), -ENOTTY);
	assert_int_equal(feature(sim, pfd, GET | SET | F_MIG, &mig, 8), -EINVAL);

	assert_int_equal(iommudirty_sys_sim.close(sim, pfd), 0);
	assert_int_equal(iommudirty_sys_sim.close(sim, pgfd), 0);
	assert_int_equal(iommudirty_sys_sim.close(sim, dfd), 0);
	assert_int_equal(iommudirty_sys_sim.close(sim, gfd), 0);
	assert_int_equal(iommudirty_sys_sim.close(sim, cfd), 0);
	assert_int_equal(stats(sim).open_fds, 0);
	iommudirty_sim_free(sim);
	free(mem);
}

/* ---- emulated-IOMMU devices (mdev) --------------------------------------- */

static void test_emulated_iommufd(void **state)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, eo, .flags = EMU | LOG,
			.migration_flags = 7);
	struct uapi_iova_range range;
	struct uapi_ioas_iova_ranges ir = { .size = sizeof(ir), .num_iovas = 1,
					    .allowed_iovas = (uint64_t)(uintptr_t)&range };
	(void)state;
	struct host h;
	uint64_t mig, bm[1];
	uint32_t hwpt, pt, ioas2;
	char buf[16], path[32];
	int e, efd, p;

	host_init(&h);
	p = add_dev(&h, NULL, false);
	e = h.n++;
	h.dev[e] = iommudirty_sim_add_vfio_device(h.sim, &eo);
	assert_int_equal(h.dev[e], 1);
	/* No PCI address, no group: only its cdev. */
	assert_int_equal(iommudirty_sim_device_bdf(h.sim, h.dev[e], buf, sizeof(buf)),
			 -ENODEV);
	snprintf(path, sizeof(path), "/dev/vfio/%d", h.dev[e] + 1);
	assert_int_equal(iommudirty_sys_sim.open(h.sim, path, O_RDWR), -ENOENT);
	assert_int_equal(iommudirty_sys_sim.dir_entry(h.sim, "/sys/kernel/iommu_groups/2/devices",
						      0, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(iommudirty_sys_sim.dir_entry(h.sim, "/sys/kernel/iommu_groups/1/devices",
						      0, buf, sizeof(buf)), 0);
	snprintf(path, sizeof(path), "/dev/vfio/devices/vfio%d", h.dev[e]);
	efd = h.dfd[e] = iommudirty_sys_sim.open(h.sim, path, O_RDWR);
	assert_true(efd >= 0);
	/* BIND gives an access object's id (vfio_iommufd_emulated_bind()). */
	assert_int_equal(bind(&h, efd, &h.devid[e]), 0);
	assert_int_equal(h.devid[e], 3);
	assert_int_equal(mig_get(h.sim, efd, &mig), 0);
	assert_int_equal(mig, 7);

	/* It is no iommufd device: GET_HW_INFO and HWPT_ALLOC cannot find
	 * it (iommufd_get_device()); DESTROY is refused while bound. */
	{
		uint8_t data[64];
		struct uapi_hw_info hi = { .size = sizeof(hi), .dev_id = h.devid[e],
					   .data_len = sizeof(data),
					   .data_uptr = (uint64_t)(uintptr_t)data };
		struct uapi_hwpt_alloc ha = { .size = sizeof(ha), .dev_id = h.devid[e],
					      .pt_id = h.ioas };

		assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_GET_HW_INFO, &hi), -ENOENT);
		hi.dev_id = h.devid[p];
		assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_GET_HW_INFO, &hi), 0);
		assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_HWPT_ALLOC, &ha), -ENOENT);
		ha.dev_id = h.devid[p];
		ha.flags = UAPI_HWPT_ALLOC_DIRTY_TRACKING;
		assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_HWPT_ALLOC, &ha), 0);
		hwpt = ha.out_hwpt_id;
	}
	assert_int_equal(destroy(&h, h.devid[e]), -EBUSY);

	/* ATTACH: a HWPT (or any non-IOAS id) is -ENOENT; an IOAS works and
	 * pt_id stays the IOAS's (no domain). */
	assert_int_equal(attach(&h, efd, hwpt, NULL), -ENOENT);
	assert_int_equal(attach(&h, efd, h.devid[e], NULL), -ENOENT);
	assert_int_equal(attach(&h, efd, 999, NULL), -ENOENT);
	assert_int_equal(dev_write(&h, e, BASE, 1), -ENODEV);
	assert_int_equal(attach(&h, efd, h.ioas, &pt), 0);
	assert_int_equal(pt, h.ioas);
	assert_int_equal(attach(&h, efd, h.ioas, &pt), 0);
	assert_int_equal(attach(&h, efd, hwpt, NULL), -ENOENT);

	/* The physical device on the dirty-tracking HWPT of the same IOAS,
	 * tracking: the emulated device's writes set no IOMMU dirty bit,
	 * only its own log. */
	assert_int_equal(attach(&h, h.dfd[p], hwpt, NULL), 0);
	{
		struct uapi_hwpt_set_dirty_tracking sd = {
			.size = sizeof(sd), .flags = UAPI_HWPT_DIRTY_TRACKING_ENABLE,
			.hwpt_id = hwpt,
		};

		assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd), 0);
	}
	assert_int_equal(start1(h.sim, efd, SZ_4K, BASE, SZ_64K), 0);
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev[e], BASE + 2 * SZ_4K,
						  3, "xyz"), 0);
	assert_int_equal(memcmp(h.mem + 2 * SZ_4K, "xyz", 3), 0);
	assert_int_equal(dev_write(&h, p, BASE + 5 * SZ_4K, 1), 0);
	{
		struct uapi_hwpt_get_dirty_bitmap gd = {
			.size = sizeof(gd), .hwpt_id = hwpt, .iova = BASE,
			.length = SZ_64K, .page_size = SZ_4K,
			.data = (uint64_t)(uintptr_t)bm,
		};

		bm[0] = 0;
		assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gd), 0);
		assert_int_equal(bm[0], 1ull << 5);
	}
	report_into(h.sim, efd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 1ull << 2);

	/* The access pins: PAGE_SIZE alignment on its IOAS. */
	ir.ioas_id = h.ioas;
	assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_IOAS_IOVA_RANGES, &ir), 0);
	assert_int_equal(ir.out_iova_alignment, SZ_4K);
	ioas2 = ioas_alloc(&h);
	assert_int_equal(ioas2, 5);
	ir.ioas_id = ioas2;
	assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_IOAS_IOVA_RANGES, &ir), 0);
	assert_int_equal(ir.out_iova_alignment, 1);
	/* Joining an IOAS with unaligned areas: -EADDRINUSE, and it stays
	 * on the old IOAS. */
	assert_int_equal(map_va(&h, ioas2, (uint64_t)(uintptr_t)h.mem, 3, BASE, RW), 0);
	assert_int_equal(attach(&h, efd, ioas2, NULL), -EADDRINUSE);
	assert_int_equal(unmap(&h, ioas2, BASE, 3), 0);
	assert_int_equal(map_va(&h, ioas2, (uint64_t)(uintptr_t)h.mem + 0x800, SZ_4K,
				BASE, RW), 0);
	assert_int_equal(attach(&h, efd, ioas2, NULL), -EADDRINUSE);
	assert_int_equal(unmap(&h, ioas2, BASE, SZ_4K), 0);
	assert_int_equal(dev_write(&h, e, BASE + 4 * SZ_4K, 1), 0);
	/* Moved (iommufd_access_replace()): logging goes on. */
	assert_int_equal(map_va(&h, ioas2, (uint64_t)(uintptr_t)h.mem, 2 * SZ_4K,
				BASE, RW), 0);
	assert_int_equal(map_va(&h, ioas2, (uint64_t)(uintptr_t)h.mem + 3 * SZ_4K,
				SZ_4K, BASE + 3 * SZ_4K, UAPI_IOAS_MAP_READABLE), 0);
	assert_int_equal(attach(&h, efd, ioas2, &pt), 0);
	assert_int_equal(pt, ioas2);
	/* The old IOAS is free of it: with the HWPT gone, alignment 1. */
	assert_int_equal(detach(&h, h.dfd[p]), 0);
	assert_int_equal(destroy(&h, hwpt), 0);
	ir.ioas_id = h.ioas;
	assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_IOAS_IOVA_RANGES, &ir), 0);
	assert_int_equal(ir.out_iova_alignment, 1);
	assert_int_equal(destroy(&h, h.ioas), 0);
	h.ioas = 0;
	ir.ioas_id = ioas2;
	assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_IOAS_IOVA_RANGES, &ir), 0);
	assert_int_equal(ir.out_iova_alignment, SZ_4K);
	assert_int_equal(map_va(&h, ioas2, (uint64_t)(uintptr_t)h.mem, 0x800,
				BASE + 8 * SZ_4K, RW), -EINVAL);
	/* iommufd_access_rw(): area by area, so the part before a hole
	 * lands and is logged before the fault; a read-only area too. */
	memset(h.mem, 0, 4 * SZ_4K);
	{
		static uint8_t data[4 * SZ_4K];

		memset(data, 0xee, sizeof(data));
		assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev[e], BASE + 0x800,
							  3 * SZ_4K, data), -EFAULT);
		assert_int_equal(h.mem[0x7ff], 0);
		assert_int_equal(h.mem[0x800], 0xee);
		assert_int_equal(h.mem[2 * SZ_4K - 1], 0xee);
		assert_int_equal(h.mem[2 * SZ_4K], 0);
		report_into(h.sim, efd, BASE, SZ_64K, SZ_4K, bm, 1);
		/* Page 4 from the old IOAS, pages 0 and 1 from here. */
		assert_int_equal(bm[0], 0x13);
		assert_int_equal(unmap(&h, ioas2, BASE + 3 * SZ_4K, SZ_4K), 0);
		assert_int_equal(map_va(&h, ioas2, (uint64_t)(uintptr_t)h.mem + 2 * SZ_4K,
					SZ_4K, BASE + 2 * SZ_4K, RW), 0);
		assert_int_equal(map_va(&h, ioas2, (uint64_t)(uintptr_t)h.mem + 3 * SZ_4K,
					SZ_4K, BASE + 3 * SZ_4K,
					UAPI_IOAS_MAP_READABLE), 0);
		assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev[e], BASE + SZ_4K,
							  3 * SZ_4K, data), -EFAULT);
		report_into(h.sim, efd, BASE, SZ_64K, SZ_4K, bm, 1);
		assert_int_equal(bm[0], 0x6);
		/* Nothing mapped at all: nothing lands, nothing logged. */
		assert_int_equal(dev_write(&h, e, BASE + 9 * SZ_4K, 1), -EFAULT);
		report_into(h.sim, efd, BASE, SZ_64K, SZ_4K, bm, 1);
		assert_int_equal(bm[0], 0);
	}
	/* DETACH: off the IOAS; a second one is a no-op answering 0, as
	 * 6.12's emulated detach_ioas() and as for physical devices. */
	assert_int_equal(destroy(&h, ioas2), -EBUSY);
	assert_int_equal(detach(&h, efd), 0);
	assert_int_equal(detach(&h, efd), 0);
	assert_int_equal(dev_write(&h, e, BASE, 1), -ENODEV);
	assert_int_equal(destroy(&h, ioas2), 0);
	/* Still bound and started until the cdev closes. */
	report_into(h.sim, efd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 0);
	assert_int_equal(iommudirty_sim_close(h.sim, efd), 0);
	h.dfd[e] = -1;
	/* The access object went with it: its id is free again. */
	assert_int_equal(ioas_alloc(&h), 1);
	assert_int_equal(ioas_alloc(&h), 3);
	host_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_device_fd),
		cmocka_unit_test(test_emulated_iommufd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
