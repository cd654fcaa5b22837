/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QEMU-style ownership: the VMM opens the iommufd, binds its device, makes
 * the IOAS and a dirty-capable HWPT, attaches the device and maps guest RAM
 * with its own ioctls. The library adopts all of it only to track, and on
 * free leaves every VMM object as it found it; the example checks that.
 *
 *   adopt                          on the simulated kernel
 *   adopt /dev/vfio/devices/vfio0  on the real kernel (a device whose IOMMU
 *                                  can track dirty pages, or one with VFIO
 *                                  device DMA logging)
 *
 * Where the IOMMU cannot track, the VMM does what QEMU does: a HWPT without
 * dirty tracking, and the device's own DMA log is its source (a device with
 * neither is reported conservatively: every page dirty on every read). On
 * the real kernel the example makes no device write itself. Exit status: 0
 * done, 1 failed (the error on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <iommudirty.h>
#include "vmm_uapi.h"

#define RAM_SIZE (16ull << 20)
#define RAM_IOVA (4ull << 30)
#define PAGE 4096ull

static struct iommudirty_sim *sim; /* NULL on the real kernel */

/* The VMM's raw ioctl: sim fds only mean something to the sim. */
static int vmm_ioctl(int fd, unsigned long req, void *arg)
{
	if (sim)
		return iommudirty_sim_ioctl(sim, fd, req, arg);
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "adopt: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

int main(int argc, char **argv)
{
	uint64_t bm[RAM_SIZE / PAGE / 64];
	struct iommudirty_ctx *ctx;
	struct iommudirty_device *dev;
	struct iommudirty_tracker *t;
	int sdev = 0, ifd, dfd, ret;

	if (argc > 1) {
		printf("kernel: real, /dev/iommu and %s\n", argv[1]);
		ifd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
		dfd = open(argv[1], O_RDWR | O_CLOEXEC);
	} else {
		printf("kernel: simulated (libiommudirty sim)\n");
		sim = iommudirty_sim_new(NULL);
		if (!sim || iommudirty_sim_add_iommu(sim, NULL) < 0)
			return fail("sim", -ENOMEM);
		sdev = iommudirty_sim_add_device(sim, 0);
		ifd = iommudirty_sim_open_iommufd(sim);
		dfd = iommudirty_sim_open_device(sim, sdev);
	}
	if (ifd < 0 || dfd < 0)
		return fail("open /dev/iommu or the device", sim ? (ifd < 0 ? ifd : dfd) : errno);

	/* 1. The VMM's own objects, made the way QEMU makes them. */
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = ifd };
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	if ((ret = vmm_ioctl(dfd, VFIO_DEVICE_BIND_IOMMUFD, &bind)) ||
	    (ret = vmm_ioctl(ifd, IOMMU_IOAS_ALLOC, &ioas)))
		return fail("bind / IOAS", ret);
	/* DIRTY_TRACKING at allocation: a HWPT cannot gain it later. An IOMMU
	 * that cannot track refuses it: then a plain HWPT, as QEMU makes. */
	struct iommu_hwpt_alloc hwpt = { .size = sizeof(hwpt), .dev_id = bind.out_devid,
		.pt_id = ioas.out_ioas_id, .flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING };
	int iommu_tracks = 1;
	if ((ret = vmm_ioctl(ifd, IOMMU_HWPT_ALLOC, &hwpt)) == -EOPNOTSUPP) {
		printf("this IOMMU cannot track dirty pages: a HWPT without dirty tracking\n");
		iommu_tracks = 0;
		hwpt.flags = 0;
		ret = vmm_ioctl(ifd, IOMMU_HWPT_ALLOC, &hwpt);
	}
	if (ret)
		return fail("HWPT_ALLOC", ret);
	struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at), .pt_id = hwpt.out_hwpt_id };
	if ((ret = vmm_ioctl(dfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at)))
		return fail("attach", ret);
	void *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct iommu_ioas_map map = { .size = sizeof(map), .ioas_id = ioas.out_ioas_id,
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.user_va = (uintptr_t)ram, .length = RAM_SIZE, .iova = RAM_IOVA };
	if (ram == MAP_FAILED || (ret = vmm_ioctl(ifd, IOMMU_IOAS_MAP, &map)))
		return fail("map guest RAM", ram == MAP_FAILED ? -ENOMEM : ret);

	/* 2. Migration starts: hand them to the library. ADOPT_FD: it never
	 * closes the fd. device_adopt: no second BIND; the fd lets it probe
	 * DMA logging. ADOPT_IOAS + adopt_mapping: it never destroys the IOAS
	 * and reads the VMM's mapping. adopt_hwpt without TRACKING_ON: start
	 * enables it, free disables it again (only a HWPT that can track).
	 * BY_VMM: it never (de)attaches; the device's source is its DMA log if
	 * it has one (the policy's preference), else the adopted HWPT. */
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co, .flags = IOMMUDIRTY_CTX_ADOPT_FD,
			.iommufd = ifd, .sim = sim);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, to, .flags = IOMMUDIRTY_TRACKER_ADOPT_IOAS,
			.ioas_id = ioas.out_ioas_id);
	IOMMUDIRTY_OPTS(iommudirty_attach_opts, ao, .flags = IOMMUDIRTY_ATTACH_BY_VMM);
	struct iommudirty_source_info si = { .sz = sizeof(si) };
	if (!(ctx = iommudirty_ctx_new(&co)))
		return fail("ctx", errno);
	if ((ret = iommudirty_device_adopt(ctx, dfd, bind.out_devid, &dev)) ||
	    (ret = iommudirty_tracker_new(ctx, &to, &t)) ||
	    (ret = iommudirty_tracker_adopt_mapping(t, RAM_IOVA, RAM_SIZE)) ||
	    (iommu_tracks && (ret = iommudirty_tracker_adopt_hwpt(t, hwpt.out_hwpt_id, 0))) ||
	    (ret = iommudirty_tracker_attach_device(t, dev, &ao)) ||
	    (ret = iommudirty_tracker_source_info(t, 0, &si)) < 0 ||
	    (ret = iommudirty_tracker_start(t)))
		return fail("adopt and start", ret);
	printf("adopted iommufd %d, IOAS %u, HWPT %u, device %u (source %s), %llu MiB at %#llx\n",
	       ifd, ioas.out_ioas_id, hwpt.out_hwpt_id, bind.out_devid,
	       iommudirty_source_str(si.source), RAM_SIZE >> 20, RAM_IOVA);

	/* 3. The device writes; a pre-copy read reports it. */
	if (sim && (iommudirty_sim_dma_write(sim, sdev, RAM_IOVA + 3 * PAGE, PAGE, NULL) ||
		    iommudirty_sim_dma_write(sim, sdev, RAM_IOVA + 100 * PAGE, 2 * PAGE, NULL)))
		return fail("device write", errno);
	if ((ret = iommudirty_tracker_read(t, RAM_IOVA, RAM_SIZE, PAGE, bm, sizeof(bm), 0)))
		return fail("read", ret);
	int64_t n = iommudirty_bitmap_count(bm, RAM_SIZE / PAGE);
	printf("read: %lld dirty pages\n", (long long)n);
	if (sim && (n != 3 || !(bm[0] & 8) || ((bm[1] >> 36) & 3) != 3))
		return fail("the device's writes were not all reported", EIO);
	/* On any kernel: a device with no source may have written anywhere. */
	struct iommudirty_tracker_info ti = { .sz = sizeof(ti) };
	if ((ret = iommudirty_tracker_info(t, &ti)))
		return fail("tracker info", ret);
	if (ti.nr_conservative && n != (int64_t)(RAM_SIZE / PAGE))
		return fail("a conservative source must report every page", EIO);

	/* 4. Migration ends: free the library's handles, in any order. */
	iommudirty_tracker_free(t);
	iommudirty_device_free(dev);
	iommudirty_ctx_free(ctx);

	/* 5. Everything is as the VMM left it: the fd works, the device still
	 * writes through its HWPT, whose tracking is off again (a read sets
	 * nothing), the mapping is whole, and each object is still there. */
	struct iommu_hwpt_get_dirty_bitmap gd = { .size = sizeof(gd), .hwpt_id = hwpt.out_hwpt_id,
		.iova = RAM_IOVA, .length = RAM_SIZE, .page_size = PAGE, .data = (uintptr_t)bm };
	struct iommu_ioas_unmap um = { .size = sizeof(um), .ioas_id = ioas.out_ioas_id,
		.iova = RAM_IOVA, .length = RAM_SIZE };
	struct vfio_device_detach_iommufd_pt dt = { .argsz = sizeof(dt) };
	struct iommu_destroy dh = { .size = sizeof(dh), .id = hwpt.out_hwpt_id };
	struct iommu_destroy di = { .size = sizeof(di), .id = ioas.out_ioas_id };
	memset(bm, 0, sizeof(bm));
	if (sim && (ret = iommudirty_sim_dma_write(sim, sdev, RAM_IOVA + 7 * PAGE, PAGE, NULL)))
		return fail("device no longer attached after free", ret);
	if (iommu_tracks && (ret = vmm_ioctl(ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gd)))
		return fail("HWPT gone or fd closed after free", ret);
	if (iommudirty_bitmap_count(bm, RAM_SIZE / PAGE))
		return fail("tracking left enabled on the VMM's HWPT", EBUSY);
	if ((ret = vmm_ioctl(ifd, IOMMU_IOAS_UNMAP, &um)) || um.length != RAM_SIZE)
		return fail("the VMM's mapping was not left whole", ret ? ret : EIO);
	if ((ret = vmm_ioctl(dfd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt)) ||
	    (ret = vmm_ioctl(ifd, IOMMU_DESTROY, &dh)) || (ret = vmm_ioctl(ifd, IOMMU_DESTROY, &di)))
		return fail("the VMM's teardown", ret);
	printf("after free: VMM's fd, IOAS, HWPT%s, attachment and mapping intact\n",
	       iommu_tracks ? " (tracking off)" : "");

	/* 6. The VMM's own teardown: closing the device fd unbinds it. */
	if (sim) {
		iommudirty_sim_close(sim, dfd);
		iommudirty_sim_close(sim, ifd);
		iommudirty_sim_free(sim);
	} else {
		close(dfd);
		close(ifd);
	}
	munmap(ram, RAM_SIZE);
	printf("ok\n");
	return 0;
}
