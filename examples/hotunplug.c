/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Memory hot-unplug during migration while a device keeps writing: the
 * DIMM's mapping must go, and every page the device dirtied in it before
 * it went must still be sent. IOMMUDIRTY_UNMAP_ATOMIC takes the range away
 * from the device first and then reads its final dirty bits, so no write
 * can fall between the read and the unmap.
 *
 *   hotunplug                          on the simulated kernel
 *   hotunplug /dev/vfio/devices/vfio0  on the real kernel
 *
 * On the real kernel the example makes no device write itself: it prints
 * the device's source and the dirty counts, and checks that a conservative
 * source (none: an untracked writer) reports every page. Exit status: 0
 * done, 1 failed (the error on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <iommudirty.h>

#define PAGE 4096ull
#define SIZE (16ull << 20)     /* each */
#define NBITS (SIZE / PAGE)

static struct iommudirty_sim *sim;
static int sdev;
static uint64_t ram_iova = 4ull << 30;  /* boot RAM, stays */
static uint64_t dimm_iova = 8ull << 30; /* hot-plugged DIMM, unplugged below */
/* What the simulated device wrote while the unmap ran, page by page. */
static uint64_t dimm_written[NBITS / 64], ram_written[NBITS / 64];
static unsigned int writes, faults;

static int fail(const char *what, int err)
{
	fprintf(stderr, "hotunplug: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

/* The device keeps doing DMA: the sim calls this before each kernel call
 * the library makes, so writes land at every step of the unmap. A write
 * that succeeds completed before the fence; after it, DIMM writes fault. */
static void device_keeps_writing(void *user, int fd, unsigned long request)
{
	uint64_t p = writes++ % NBITS;

	(void)user, (void)fd, (void)request;
	if (iommudirty_sim_dma_write(sim, sdev, dimm_iova + p * PAGE, PAGE, NULL) == 0)
		dimm_written[p / 64] |= 1ull << (p % 64);
	else
		faults++;
	if (iommudirty_sim_dma_write(sim, sdev, ram_iova + p * PAGE, PAGE, NULL) == 0)
		ram_written[p / 64] |= 1ull << (p % 64);
}

/* Real hardware: keep both IOVAs if the IOMMU allows them (the ranges
 * narrow as devices attach: ask after attaching), else put RAM and DIMM
 * back to back in the first allowed range they fit in. */
static void place(struct iommudirty_tracker *t)
{
	struct iommudirty_iova_range r[16];
	int n = iommudirty_tracker_iova_ranges(t, r, 16, NULL), ram = 0, dimm = 0;

	for (int i = 0; i < n && i < 16; i++) {
		ram |= r[i].start <= ram_iova && ram_iova + SIZE - 1 <= r[i].last;
		dimm |= r[i].start <= dimm_iova && dimm_iova + SIZE - 1 <= r[i].last;
	}
	if (n <= 0 || (ram && dimm))
		return;
	for (int i = 0; i < n && i < 16; i++) {
		uint64_t a = (r[i].start + SIZE - 1) & ~(SIZE - 1);

		if (a >= r[i].start && a + 2 * SIZE - 1 <= r[i].last) {
			ram_iova = a;
			dimm_iova = a + SIZE;
			return;
		}
	}
}

/* Is every bit of want set in got? */
static int covers(const uint64_t *got, const uint64_t *want)
{
	for (uint64_t i = 0; i < NBITS / 64; i++)
		if (want[i] & ~got[i])
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	struct iommudirty_ctx *ctx;
	struct iommudirty_device *dev;
	struct iommudirty_tracker *t;
	struct iommudirty_tracker_info ti = { .sz = sizeof(ti) };
	uint64_t bm[NBITS / 64], n;
	int fd, ret;

	if (argc > 1) {
		printf("kernel: real, /dev/iommu and %s\n", argv[1]);
		fd = open(argv[1], O_RDWR | O_CLOEXEC);
	} else {
		printf("kernel: simulated (libiommudirty sim)\n");
		sim = iommudirty_sim_new(NULL);
		if (!sim || iommudirty_sim_add_iommu(sim, NULL) < 0)
			return fail("sim", ENOMEM);
		sdev = iommudirty_sim_add_device(sim, 0);
		fd = iommudirty_sim_open_device(sim, sdev);
	}
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co, .sim = sim);
	if (fd < 0 || !(ctx = iommudirty_ctx_new(&co)))
		return fail("open the device or /dev/iommu", errno);
	/* No IOMMUDIRTY_TRACKER_STANDBY: it makes each atomic unmap cost only
	 * the range's own kernel calls, but doubles the kernel work of every
	 * map and unmap and the IO page-table memory for the whole migration.
	 * A hot-unplug is a rare event: pay once for copying the other
	 * mappings instead. (A vIOMMU guest unmapping often is where it pays.) */
	if ((ret = iommudirty_device_bind(ctx, fd, &dev)) ||
	    (ret = iommudirty_tracker_new(ctx, NULL, &t)) || (ret = iommudirty_tracker_attach(t, dev)))
		return fail("bind and attach", ret);
	if (!sim)
		place(t);
	void *ram = mmap(NULL, 2 * SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		return fail("guest memory", ENOMEM);
	void *dimm = (char *)ram + SIZE;
	unsigned int rw = IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE;
	if ((ret = iommudirty_tracker_map(t, ram, SIZE, ram_iova, rw)) ||
	    (ret = iommudirty_tracker_map(t, dimm, SIZE, dimm_iova, rw)) ||
	    (ret = iommudirty_tracker_start(t)))
		return fail("map and start", ret);
	if ((ret = iommudirty_tracker_info(t, &ti)))
		return fail("tracker info", ret);
	if (!sim) {
		struct iommudirty_source_info si = { .sz = sizeof(si) };

		if (iommudirty_tracker_source_info(t, 0, &si) < 0)
			return fail("source info", errno);
		printf("%s: source %s, %s\n", argv[1], iommudirty_source_str(si.source),
		       si.precise ? "precise" : "conservative");
	}

	/* A pre-copy round over the DIMM, then the guest unplugs it while
	 * the device is still busy. Without ATOMIC unmap_dirty reads (without
	 * clearing) and then unmaps: a write between the two would land in
	 * memory with no dirty bit, and the destination would miss it. */
	if ((ret = iommudirty_tracker_read(t, dimm_iova, SIZE, PAGE, bm, sizeof(bm), 0)))
		return fail("pre-copy read", ret);
	if (sim)
		iommudirty_sim_set_hook(sim, device_keeps_writing, NULL);
	ret = iommudirty_tracker_unmap_dirty(t, dimm_iova, SIZE, PAGE, bm, sizeof(bm),
					     IOMMUDIRTY_UNMAP_ATOMIC);
	if (sim)
		iommudirty_sim_set_hook(sim, NULL, NULL);
	if (ret)
		return fail("atomic unmap", ret);
	n = (uint64_t)iommudirty_bitmap_count(bm, NBITS);
	printf("DIMM unplugged: %llu dirty pages in its last bitmap (send them now)\n",
	       (unsigned long long)n);
	/* On any kernel: an untracked writer may have written every page. */
	if (ti.nr_conservative && n != NBITS)
		return fail("a conservative source must report every DIMM page", EIO);
	if (sim) {
		printf("device: %u writes during the unmap, %lld reached the DIMM, %u faulted\n", writes,
		       (long long)iommudirty_bitmap_count(dimm_written, NBITS), faults);
		if (!writes || !iommudirty_bitmap_count(dimm_written, NBITS) || !covers(bm, dimm_written))
			return fail("a DIMM page the device wrote is missing", EIO);
		/* The range is gone from the device: further DMA faults. */
		if (iommudirty_sim_dma_write(sim, sdev, dimm_iova, PAGE, NULL) != -EFAULT)
			return fail("the device can still write the unplugged DIMM", EIO);
	}
	/* Only now may the VMM give the DIMM's memory back. */
	munmap(dimm, SIZE);

	/* The rest of RAM kept its dirty bits across the unmap (ids moved). */
	if ((ret = iommudirty_tracker_read(t, ram_iova, SIZE, PAGE, bm, sizeof(bm), 0)))
		return fail("read RAM", ret);
	n = (uint64_t)iommudirty_bitmap_count(bm, NBITS);
	printf("boot RAM: %lld dirty pages\n", (long long)n);
	if (ti.nr_conservative && n != NBITS)
		return fail("a conservative source must report every RAM page", EIO);
	if (sim && !covers(bm, ram_written))
		return fail("a RAM page written during the unmap is missing", EIO);

	iommudirty_tracker_free(t);
	iommudirty_device_free(dev);
	iommudirty_ctx_free(ctx);
	if (sim) {
		iommudirty_sim_close(sim, fd);
		iommudirty_sim_free(sim);
	} else {
		close(fd);
	}
	munmap(ram, SIZE);
	printf("ok\n");
	return 0;
}
