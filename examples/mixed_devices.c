/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One tracker, devices with different dirty sources: each device gets its
 * own (its IOMMU's dirty bits, its VFIO DMA log, or none), and a read is
 * the union of them all. On the simulated kernel:
 *   A  a VF with VFIO DMA logging, behind an IOMMU that cannot track
 *   B  a plain device behind an IOMMU that can track
 *   C  a plain device behind the IOMMU that cannot track, hot-plugged later:
 *      an untracked writer, so every writable page is reported dirty
 *
 *   mixed_devices                          on the simulated kernel
 *   mixed_devices /dev/vfio/devices/vfio0 [/dev/vfio/devices/vfio1 ...]
 *                                          on the real kernel
 *
 * On the real kernel the example writes nothing itself: it prints each
 * device's iommufd id and source and checks that a read with an untracked
 * writer (a device with no source) reports every page. Exit status: 0
 * done, 1 failed (the error on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <iommudirty.h>

#define RAM_SIZE (16ull << 20)
#define RAM_IOVA (4ull << 30)
#define PAGE 4096ull
#define NBITS (RAM_SIZE / PAGE)
#define MAXDEV 8

static int fail(const char *what, int err)
{
	fprintf(stderr, "mixed_devices: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

/* Real hardware: guest RAM at want if the IOMMU allows it there (the
 * ranges narrow as devices attach: ask after attaching), else in the first
 * allowed range it fits in. */
static uint64_t place(struct iommudirty_tracker *t, uint64_t want, uint64_t len)
{
	struct iommudirty_iova_range r[16];
	int n = iommudirty_tracker_iova_ranges(t, r, 16, NULL);

	for (int i = 0; i < n && i < 16; i++)
		if (r[i].start <= want && want + len - 1 <= r[i].last)
			return want;
	for (int i = 0; i < n && i < 16; i++) {
		uint64_t a = (r[i].start + len - 1) & ~(len - 1); /* len: a power of two */

		if (a >= r[i].start && a + len - 1 <= r[i].last)
			return a;
	}
	return want;
}

/* What a VMM logs at migration start: each device's source and why. */
static void print_sources(struct iommudirty_tracker *t)
{
	struct iommudirty_source_info si = { .sz = sizeof(si) };

	for (unsigned int i = 0; iommudirty_tracker_source_info(t, i, &si) > (int)i; i++) {
		printf("  device %u: source %-10s %s", si.dev_id, iommudirty_source_str(si.source),
		       si.precise ? "precise" : "conservative");
		if (si.source == IOMMUDIRTY_SOURCE_DEVICE_LOG)
			printf(", log of %u range(s) at %llu KiB pages", si.log_nr_ranges,
			       (unsigned long long)si.log_page_size >> 10);
		printf("\n");
		for (uint32_t r = 0; r < si.nr_reasons; r++)
			printf("      reason %u: %s\n", si.reasons[r], iommudirty_reason_str(si.reasons[r]));
	}
}

int main(int argc, char **argv)
{
	struct iommudirty_sim *sim = NULL;
	struct iommudirty_device *dev[MAXDEV];
	struct iommudirty_tracker *t;
	struct iommudirty_ctx *ctx;
	int sdev[3], fd[MAXDEV], ndev = argc - 1, ret;
	uint64_t bm[NBITS / 64], got, ram_iova = RAM_IOVA;

	if (ndev > 0) {
		printf("kernel: real, /dev/iommu and %d device(s)\n", ndev);
		if (ndev > MAXDEV)
			return fail("too many devices", E2BIG);
	} else {
		printf("kernel: simulated (libiommudirty sim)\n");
		IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, nodirty, .flags = IOMMUDIRTY_SIM_IOMMU_NO_DIRTY);
		/* A: DMA logging, as an mlx5 VF with VFIO migration has it. */
		IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, vf, .flags = IOMMUDIRTY_SIM_DEV_DMA_LOGGING,
				.iommu = 1, .migration_flags = 1 /* STOP_COPY */);
		sim = iommudirty_sim_new(NULL);
		if (!sim || iommudirty_sim_add_iommu(sim, NULL) != 0 ||
		    iommudirty_sim_add_iommu(sim, &nodirty) != 1)
			return fail("sim", ENOMEM);
		sdev[0] = iommudirty_sim_add_vfio_device(sim, &vf);
		sdev[1] = iommudirty_sim_add_device(sim, 0);
		sdev[2] = iommudirty_sim_add_device(sim, 1);
		ndev = 3;
	}
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co, .sim = sim);
	if (!(ctx = iommudirty_ctx_new(&co)))
		return fail("open /dev/iommu", errno);
	/* Bind every device now; its source is probed at bind (DMA logging
	 * through the fd, dirty tracking through its IOMMU's hw_info). */
	for (int i = 0; i < ndev; i++) {
		fd[i] = sim ? iommudirty_sim_open_device(sim, sdev[i]) : open(argv[i + 1], O_RDWR | O_CLOEXEC);
		if (fd[i] < 0 || (ret = iommudirty_device_bind(ctx, fd[i], &dev[i])))
			return fail(sim ? "sim device" : argv[i + 1], fd[i] < 0 ? errno : ret);
		if (!sim)
			printf("%s: device %u\n", argv[i + 1], iommudirty_device_id(dev[i]));
	}
	/* Default policy PREFER_DEVICE_LOG: a device's log if it has one, else
	 * its IOMMU, else none (QEMU's per-device preference). Without a
	 * device in opts.pci_devices the backend is iommufd. */
	if ((ret = iommudirty_tracker_new(ctx, NULL, &t)))
		return fail("tracker", ret);
	/* On the sim C (the last) is hot-plugged after the start, below. */
	for (int i = 0; i < (sim ? ndev - 1 : ndev); i++)
		if ((ret = iommudirty_tracker_attach(t, dev[i])))
			return fail("attach", ret);
	if (!sim)
		ram_iova = place(t, RAM_IOVA, RAM_SIZE);
	void *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		return fail("guest RAM", ENOMEM);
	/* Map before start: a device log is STARTed over the mappings (or
	 * opts.log_windows) the tracker has then. */
	if ((ret = iommudirty_tracker_map(t, ram, RAM_SIZE, ram_iova,
					  IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE)) ||
	    (ret = iommudirty_tracker_start(t)))
		return fail("map and start", ret);
	printf("started; sources:\n");
	print_sources(t);

	/* A writes page 10, B pages 20-21: one read reports both. */
	if (sim && (iommudirty_sim_dma_write(sim, sdev[0], ram_iova + 10 * PAGE, PAGE, NULL) ||
		    iommudirty_sim_dma_write(sim, sdev[1], ram_iova + 20 * PAGE, 2 * PAGE, NULL)))
		return fail("device write", errno);
	if ((ret = iommudirty_tracker_read_counted(t, ram_iova, RAM_SIZE, PAGE, bm, sizeof(bm), 0, &got)))
		return fail("read", ret);
	printf("read: %llu dirty pages (the union of every device's source)\n",
	       (unsigned long long)got);
	if (sim && (got != 3 || bm[0] != ((1ull << 10) | (3ull << 20))))
		return fail("A's log and B's IOMMU bits are not both in the read", EIO);
	if (!sim) {
		/* Whatever the devices did: with an untracked writer among them
		 * every page is dirty. Precise sources report what they saw. */
		struct iommudirty_tracker_info ti = { .sz = sizeof(ti) };

		if ((ret = iommudirty_tracker_info(t, &ti)))
			return fail("tracker info", ret);
		printf("tracker precise=%d, %u of %u devices conservative\n", ti.precise,
		       ti.nr_conservative, ti.nr_devices);
		if (ti.nr_conservative && got != NBITS)
			return fail("an untracked writer must make every page dirty", EIO);
	}

	if (sim) {
		/* C is hot-plugged: nothing can see its writes, so from now on
		 * every page it can write is reported dirty, every read. */
		struct iommudirty_tracker_info ti = { .sz = sizeof(ti) };

		if ((ret = iommudirty_tracker_attach(t, dev[2])) || (ret = iommudirty_tracker_info(t, &ti)))
			return fail("attach C", ret);
		printf("C hot-plugged: tracker precise=%d, %u of %u devices conservative\n",
		       ti.precise, ti.nr_conservative, ti.nr_devices);
		print_sources(t);
		if ((ret = iommudirty_tracker_read_counted(t, ram_iova, RAM_SIZE, PAGE, bm, sizeof(bm), 0, &got)))
			return fail("read", ret);
		printf("read: %llu dirty pages (all of guest RAM)\n", (unsigned long long)got);
		if (ti.precise || ti.nr_conservative != 1 || got != NBITS)
			return fail("an untracked writer must make every page dirty", EIO);
	}

	/* Free: DMA logging stopped, HWPTs destroyed, devices detached. */
	iommudirty_tracker_free(t);
	for (int i = 0; i < ndev; i++) {
		iommudirty_device_free(dev[i]);
		if (sim)
			iommudirty_sim_close(sim, fd[i]);
		else
			close(fd[i]);
	}
	iommudirty_ctx_free(ctx);
	iommudirty_sim_free(sim);
	munmap(ram, RAM_SIZE);
	printf("ok\n");
	return 0;
}
