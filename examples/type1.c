/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The legacy VFIO type1 fallback: on a kernel without iommufd (Debian 12's
 * 6.1 has CONFIG_IOMMUFD off) the library tracks through a type1 container
 * (/dev/vfio/vfio and the device's IOMMU group). Type1 has no hardware
 * dirty bits: every mapped page is reported dirty on every read, so
 * pre-copy cannot converge. The VMM learns that from the tracker's info
 * (precise = 0, reason TYPE1_CONSERVATIVE) and plans for it: go to
 * stop-and-copy at once, or refuse to migrate a large guest.
 *
 *   type1                on the simulated kernel (no /dev/iommu)
 *   type1 0000:03:00.1   on the real kernel: a PCI device bound to vfio-pci
 *                        (where iommufd works and the device has a VFIO
 *                        cdev, AUTO picks iommufd instead: the device's
 *                        source is then its IOMMU's dirty bits or its DMA
 *                        log, or none, an untracked writer, conservative too)
 *
 * On the real kernel nothing writes: the example checks the setup, the
 * source and that a conservative source reports every mapped page.
 * Exit status: 0 done, 1 failed (the error on stderr).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <iommudirty.h>

#define RAM_SIZE (16ull << 20)
#define RAM_IOVA (4ull << 30)
#define PAGE 4096ull
#define NBITS (RAM_SIZE / PAGE)

static int fail(const char *what, int err)
{
	fprintf(stderr, "type1: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

/* Real hardware: guest RAM at want if the IOMMU allows it there, else in
 * the first allowed range it fits in. iommufd only: a type1 tracker does
 * not list its ranges (-EOPNOTSUPP), and keeps want. */
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

int main(int argc, char **argv)
{
	struct iommudirty_sim *sim = NULL;
	struct iommudirty_tracker_info info = { .sz = sizeof(info) };
	struct iommudirty_source_info si = { .sz = sizeof(si) };
	struct iommudirty_ctx *ctx;
	struct iommudirty_tracker *t;
	char bdf[16];
	const char *devs[1] = { argc > 1 ? argv[1] : bdf };
	uint64_t bm[NBITS / 64], n, ram_iova = RAM_IOVA;
	int sdev = 0, ret;

	if (argc > 1) {
		printf("kernel: real, device %s\n", argv[1]);
	} else {
		printf("kernel: simulated (libiommudirty sim)\n");
		/* A kernel built without CONFIG_IOMMUFD: only /dev/vfio/vfio. */
		IOMMUDIRTY_OPTS(iommudirty_sim_opts, so, .flags = IOMMUDIRTY_SIM_NO_IOMMUFD);
		sim = iommudirty_sim_new(&so);
		if (!sim || iommudirty_sim_add_iommu(sim, NULL) < 0)
			return fail("sim", ENOMEM);
		sdev = iommudirty_sim_add_device(sim, 0);
		if ((ret = iommudirty_sim_device_bdf(sim, sdev, bdf, sizeof(bdf))))
			return fail("sim device", ret);
	}
	/* IOMMUFD_OPTIONAL: a context even where /dev/iommu does not exist. */
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co, .sim = sim,
			.flags = IOMMUDIRTY_CTX_IOMMUFD_OPTIONAL);
	/* The library opens the device itself (by PCI address), through its
	 * group on type1. AUTO: iommufd if it can, else type1; info says
	 * which and why, also when it fails. */
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, to, .backend = IOMMUDIRTY_BACKEND_AUTO,
			.pci_devices = devs, .nr_pci_devices = 1, .info = &info);
	if (!(ctx = iommudirty_ctx_new(&co)))
		return fail("context", errno);
	ret = iommudirty_tracker_new(ctx, &to, &t);
	printf("backend: %s, precise: %d\n",
	       info.backend == IOMMUDIRTY_BACKEND_TYPE1 ? "type1" : "iommufd", info.precise);
	for (uint32_t i = 0; i < info.nr_reasons; i++)
		printf("  reason %u: %s\n", info.reasons[i], iommudirty_reason_str(info.reasons[i]));
	if (ret)
		return fail("tracker", ret);
	if (iommudirty_tracker_source_info(t, 0, &si) < 0)
		return fail("source info", errno);
	printf("device %s: source %s\n", devs[0], iommudirty_source_str(si.source));
	if (info.backend == IOMMUDIRTY_BACKEND_TYPE1)
		printf("type1 reads at %llu KiB pages, %llu MiB of bitmap per call\n",
		       (unsigned long long)info.type1_pgsize >> 10,
		       (unsigned long long)info.type1_max_bitmap_bytes >> 20);

	if (!sim)
		ram_iova = place(t, RAM_IOVA, RAM_SIZE);
	void *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		return fail("guest RAM", ENOMEM);
	if ((ret = iommudirty_tracker_map(t, ram, RAM_SIZE, ram_iova,
					  IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE)) ||
	    (ret = iommudirty_tracker_start(t)))
		return fail("map and start", ret);
	/* Start chooses each source again (a device log may refuse START). */
	if (iommudirty_tracker_source_info(t, 0, &si) < 0)
		return fail("source info", errno);

	/* The device writes one page; two pre-copy rounds follow, at PAGE:
	 * type1 reads at its own page size only (info.type1_pgsize). */
	if (sim && (ret = iommudirty_sim_dma_write(sim, sdev, RAM_IOVA + 7 * PAGE, PAGE, NULL)))
		return fail("device write", ret);
	for (int round = 1; round <= 2; round++) {
		if ((ret = iommudirty_tracker_read_counted(t, ram_iova, RAM_SIZE, PAGE, bm,
							   sizeof(bm), 0, &n)))
			return fail("read", ret);
		printf("round %d: %llu of %llu pages dirty\n", round, (unsigned long long)n,
		       (unsigned long long)NBITS);
		/* Conservative, not wrong: the written page is in it, and so
		 * is every other page, every round. */
		if (sim && (!(bm[0] & (1ull << 7)) || n != NBITS))
			return fail("type1 must report every mapped page, the written one too", EIO);
		/* On any kernel: a conservative source (type1, or none) reports
		 * every mapped page, whatever the device did. */
		if (!si.precise && n != NBITS)
			return fail("a conservative source must report every mapped page", EIO);
	}
	if (sim && (info.precise || si.source != IOMMUDIRTY_SOURCE_TYPE1))
		return fail("expected the conservative type1 source", EIO);

	/* Stop-and-copy: on type1 the kernel reads and unmaps under one lock
	 * (VFIO_IOMMU_UNMAP_DMA with a bitmap), so the cheap unmap is atomic. */
	if ((ret = iommudirty_tracker_unmap_dirty(t, ram_iova, RAM_SIZE, PAGE, bm, sizeof(bm), 0)))
		return fail("unmap", ret);
	n = (uint64_t)iommudirty_bitmap_count(bm, NBITS);
	printf("unmap: %lld pages dirty\n", (long long)n);
	if (!si.precise && n != NBITS)
		return fail("a conservative source must report every page it unmaps", EIO);

	/* Free closes the device, group and container the library opened. */
	iommudirty_tracker_free(t);
	iommudirty_ctx_free(ctx);
	iommudirty_sim_free(sim);
	munmap(ram, RAM_SIZE);
	printf("ok\n");
	return 0;
}
