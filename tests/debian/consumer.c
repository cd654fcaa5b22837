/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A consumer of the Debian packages: built by tests/debian/check.sh against
 * the unpacked libiommudirty0 + libiommudirty-dev, once through the shared
 * library and once through the static archive.
 *
 * On the simulated kernel: a context and a tracker over 64 pages of "guest
 * RAM", tracking started, the device writes two pages; a read must report
 * exactly those two pages dirty, and a second read (the first one cleared)
 * none.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <iommudirty.h>

#define PAGE 4096ull
#define NPAGES 64ull
#define IOVA (1ull << 30)

static int fail(const char *what, int err)
{
	fprintf(stderr, "debian consumer: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

int main(void)
{
	struct iommudirty_ctx_opts copts;
	struct iommudirty_sim *sim;
	struct iommudirty_ctx *ctx;
	struct iommudirty_device *dev;
	struct iommudirty_tracker *t;
	uint64_t bitmap[NPAGES / 64];
	int sdev, fd, ret;
	void *ram;

	if (!IOMMUDIRTY_CHECK_VERSION(0, 2))
		return fail("library older than 0.2", EINVAL);
	sim = iommudirty_sim_new(NULL);
	if (!sim)
		return fail("iommudirty_sim_new", errno);
	if ((ret = iommudirty_sim_add_iommu(sim, NULL)) < 0)
		return fail("iommudirty_sim_add_iommu", ret);
	if ((sdev = iommudirty_sim_add_device(sim, 0)) < 0)
		return fail("iommudirty_sim_add_device", sdev);

	/* Filled field by field: no designated initialisers needed. */
	memset(&copts, 0, sizeof(copts));
	copts.sz = sizeof(copts);
	copts.sim = sim;
	ctx = iommudirty_ctx_new(&copts);
	if (!ctx)
		return fail("iommudirty_ctx_new", errno);
	if ((fd = iommudirty_sim_open_device(sim, sdev)) < 0)
		return fail("iommudirty_sim_open_device", fd);
	if ((ret = iommudirty_device_bind(ctx, fd, &dev)))
		return fail("iommudirty_device_bind", ret);
	if (iommudirty_device_dirty_capable(dev) != 1)
		return fail("the sim's IOMMU cannot track", ENOTSUP);
	if ((ret = iommudirty_tracker_new(ctx, NULL, &t)) || (ret = iommudirty_tracker_attach(t, dev)))
		return fail("tracker", ret);

	ram = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		return fail("mmap", errno);
	if ((ret = iommudirty_tracker_map(t, ram, NPAGES * PAGE, IOVA,
					  IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE)))
		return fail("iommudirty_tracker_map", ret);
	if ((ret = iommudirty_tracker_start(t)))
		return fail("iommudirty_tracker_start", ret);

	/* The device writes page 5 and, 100 bytes long, page 40. */
	if ((ret = iommudirty_sim_dma_write(sim, sdev, IOVA + 5 * PAGE, PAGE, NULL)) ||
	    (ret = iommudirty_sim_dma_write(sim, sdev, IOVA + 40 * PAGE + 8, 100, NULL)))
		return fail("iommudirty_sim_dma_write", ret);

	memset(bitmap, 0xff, sizeof(bitmap));
	if (iommudirty_bitmap_size(NPAGES * PAGE, PAGE) != sizeof(bitmap))
		return fail("iommudirty_bitmap_size", EINVAL);
	if ((ret = iommudirty_tracker_read(t, IOVA, NPAGES * PAGE, PAGE, bitmap, sizeof(bitmap), 0)))
		return fail("iommudirty_tracker_read", ret);
	if (bitmap[0] != ((1ull << 5) | (1ull << 40)) ||
	    iommudirty_bitmap_count(bitmap, NPAGES) != 2) {
		fprintf(stderr, "debian consumer: dirty bitmap %#llx, expected pages 5 and 40\n",
			(unsigned long long)bitmap[0]);
		return 1;
	}
	if ((ret = iommudirty_tracker_read(t, IOVA, NPAGES * PAGE, PAGE, bitmap, sizeof(bitmap), 0)))
		return fail("second iommudirty_tracker_read", ret);
	if (iommudirty_bitmap_count(bitmap, NPAGES) != 0)
		return fail("the first read did not clear", EINVAL);

	if ((ret = iommudirty_tracker_unmap(t, IOVA, NPAGES * PAGE)))
		return fail("iommudirty_tracker_unmap", ret);
	iommudirty_tracker_free(t);
	iommudirty_device_free(dev);
	iommudirty_ctx_free(ctx);
	iommudirty_sim_close(sim, fd);
	iommudirty_sim_free(sim);
	munmap(ram, NPAGES * PAGE);
	printf("debian consumer: libiommudirty %s, pages 5 and 40 read back dirty on the sim\n",
	       iommudirty_version());
	return 0;
}
