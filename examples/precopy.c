/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A small pre-copy migration loop: map guest RAM, start dirty tracking, let
 * the device write between rounds, read-and-clear each round, then a final
 * read without clearing and the unmap.
 *
 *   precopy                          on the simulated kernel
 *   precopy /dev/vfio/devices/vfio0  on the real kernel (needs /dev/iommu
 *                                    and a device with a precise dirty
 *                                    source: its IOMMU can track, or it
 *                                    has VFIO device DMA logging)
 *
 * Exit status: 0 done; 1 failed (the error on stderr); 2 the device has no
 * precise dirty source (its IOMMU cannot track and it has no DMA log):
 * every page would be dirty every round, pre-copy could never converge.
 * On the real kernel the device works on its own between rounds (the
 * example makes no write itself).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <iommudirty.h>

#define RAM_SIZE (256ull << 20)
#define PAGE 4096ull
#define ROUNDS 5

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int count_run(uint64_t first, uint64_t count, void *user)
{
	(void)first;
	(void)count;
	(*(uint64_t *)user)++;
	return 0;
}

static void log_to_stderr(enum iommudirty_log_level level, const char *msg, void *user)
{
	(void)user;
	fprintf(stderr, "libiommudirty[%d]: %s\n", level, msg);
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "precopy: %s: %s\n", what, strerror(-err));
	return 1;
}

int main(int argc, char **argv)
{
	const char *devpath = argc > 1 ? argv[1] : NULL;
	bool real = devpath && access("/dev/iommu", F_OK) == 0;
	struct iommudirty_sim *sim = NULL;
	struct iommudirty_ctx *ctx;
	struct iommudirty_device *dev;
	struct iommudirty_tracker *t;
	uint64_t iova = 0, nbits = RAM_SIZE / PAGE, *bitmap, runs;
	size_t bsize = iommudirty_bitmap_size(RAM_SIZE, PAGE);
	int sdev = -1, fd, ret;
	uint8_t *ram;

	if (real) {
		printf("kernel: real, /dev/iommu and %s\n", devpath);
	} else {
		printf("kernel: simulated (libiommudirty sim)\n");
		if (devpath)
			printf("(%s given, but this host has no /dev/iommu)\n", devpath);
		sim = iommudirty_sim_new(NULL);
		if (!sim || iommudirty_sim_add_iommu(sim, NULL) < 0)
			return fail("simulated kernel", -ENOMEM);
		sdev = iommudirty_sim_add_device(sim, 0);
	}
	printf("libiommudirty %s\n", iommudirty_version());
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, copts, .sim = sim, .log_fn = log_to_stderr,
			.log_level = IOMMUDIRTY_LOG_ERR);
	ctx = iommudirty_ctx_new(&copts);
	if (!ctx)
		return fail("open /dev/iommu", -errno);
	fd = real ? open(devpath, O_RDWR | O_CLOEXEC) : iommudirty_sim_open_device(sim, sdev);
	if (fd < 0)
		return fail(devpath ? devpath : "sim device", real ? -errno : fd);
	ret = iommudirty_device_bind(ctx, fd, &dev);
	if (ret)
		return fail("bind the device", ret);
	/* PRECISE_ONLY: a device with no precise source (its IOMMU cannot
	 * track, it has no DMA log) is refused at attach instead of being
	 * reported conservatively: every page dirty every round. */
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, topts, .flags = IOMMUDIRTY_TRACKER_PRECISE_ONLY);
	ret = iommudirty_tracker_new(ctx, &topts, &t);
	if (ret)
		return fail("tracker", ret);
	ret = iommudirty_tracker_attach(t, dev);
	if (ret == -EOPNOTSUPP) {
		struct iommudirty_tracker_info ti = { .sz = sizeof(ti) };

		printf("no precise dirty source for this device (its IOMMU cannot track "
		       "and it has no DMA log): pre-copy would never converge\n");
		if (!iommudirty_tracker_info(t, &ti))
			for (uint32_t i = 0; i < ti.nr_reasons; i++)
				printf("  reason %u: %s\n", ti.reasons[i],
				       iommudirty_reason_str(ti.reasons[i]));
		iommudirty_tracker_free(t);
		iommudirty_device_free(dev);
		iommudirty_ctx_free(ctx);
		if (sim) {
			iommudirty_sim_close(sim, fd);
			iommudirty_sim_free(sim);
		} else {
			close(fd);
		}
		return 2;
	}
	if (ret)
		return fail("tracker", ret);
	if (real) {
		/* Real hardware: put guest RAM where the IOMMU allows it (the
		 * first aligned place that fits in an allowed range). */
		struct iommudirty_source_info si = { .sz = sizeof(si) };
		struct iommudirty_iova_range r[8];
		int n = iommudirty_tracker_iova_ranges(t, r, 8, NULL);

		for (int i = 0; i < n && i < 8; i++) {
			uint64_t a = (r[i].start + RAM_SIZE - 1) & ~(RAM_SIZE - 1);

			if (a >= r[i].start && a + RAM_SIZE - 1 <= r[i].last) {
				iova = a;
				break;
			}
		}
		if (iommudirty_tracker_source_info(t, 0, &si) < 0)
			return fail("source info", -errno);
		printf("%s: source %s\n", devpath, iommudirty_source_str(si.source));
	}
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bitmap = malloc(bsize);
	if (ram == MAP_FAILED || !bitmap)
		return fail("guest RAM", -ENOMEM);
	ret = iommudirty_tracker_map(t, ram, RAM_SIZE, iova,
				     IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE);
	if (ret)
		return fail("map guest RAM", ret);
	ret = iommudirty_tracker_start(t);
	if (ret)
		return fail("start tracking", ret);
	printf("guest RAM %llu MiB at IOVA %#llx, %llu pages of %llu KiB\n",
	       (unsigned long long)(RAM_SIZE >> 20), (unsigned long long)iova,
	       (unsigned long long)nbits, (unsigned long long)(PAGE >> 10));

	srandom(1);
	for (int round = 1; round <= ROUNDS; round++) {
		double t0, t1;
		int64_t dirty;

		if (sim) {
			/* The device dirties fewer pages each round: pre-copy
			 * converges. Some writes are runs, some single pages. */
			uint64_t writes = 20000 >> (2 * (round - 1));

			for (uint64_t i = 0; i < writes; i++) {
				uint64_t page = (uint64_t)random() % nbits;
				uint64_t len = (i % 8 ? 1 : 1 + random() % 16) * PAGE;

				if ((page + len / PAGE) > nbits)
					continue;
				iommudirty_sim_dma_write(sim, sdev, iova + page * PAGE, len, NULL);
			}
		} else {
			sleep(1); /* the real device works meanwhile */
		}
		t0 = now_us();
		ret = iommudirty_tracker_read(t, iova, RAM_SIZE, PAGE, bitmap, bsize, 0);
		t1 = now_us();
		if (ret)
			return fail("read dirty bitmap", ret);
		dirty = iommudirty_bitmap_count(bitmap, nbits);
		runs = 0;
		iommudirty_bitmap_for_each_run(bitmap, nbits, count_run, &runs);
		printf("round %d: %7lld dirty pages in %6llu runs, read took %8.1f us\n",
		       round, (long long)dirty, (unsigned long long)runs, t1 - t0);
	}

	/* Stop-and-copy: the last bits, then the cheap unmap-with-dirty (a read
	 * without clearing, then the unmap). The device must be quiesced by now:
	 * a write racing the unmap could be missed. */
	if (sim)
		iommudirty_sim_dma_write(sim, sdev, iova + 42 * PAGE, PAGE, NULL);
	ret = iommudirty_tracker_read(t, iova, RAM_SIZE, PAGE, bitmap, bsize,
				      IOMMUDIRTY_READ_NO_CLEAR);
	if (ret)
		return fail("final read", ret);
	printf("final:   %7lld dirty pages (read without clearing)\n",
	       (long long)iommudirty_bitmap_count(bitmap, nbits));
	/* The simulated device's last write must be in it. */
	if (sim && !(bitmap[42 / 64] & (1ull << (42 % 64))))
		return fail("the last device write was not reported", -EIO);
	ret = iommudirty_tracker_unmap_dirty(t, iova, RAM_SIZE, PAGE, bitmap, bsize, 0);
	if (ret)
		return fail("unmap with dirty", ret);
	printf("unmap:   %7lld dirty pages reported by unmap_dirty, RAM unmapped\n",
	       (long long)iommudirty_bitmap_count(bitmap, nbits));

	iommudirty_tracker_free(t);
	iommudirty_device_free(dev);
	iommudirty_ctx_free(ctx);
	if (sim) {
		iommudirty_sim_close(sim, fd);
		iommudirty_sim_free(sim);
	} else {
		close(fd);
	}
	munmap(ram, RAM_SIZE);
	free(bitmap);
	return 0;
}
