/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-device dirty sources (issue 9) on the simulated kernel. Prints
 * figures and ratios from the same run, never pass/fail:
 *  1. a device-log read (DMA_LOGGING_REPORT) per GiB against an IOMMU
 *     read (GET_DIRTY_BITMAP) of the same mappings and dirt;
 *  2. how many START ranges N scattered mappings take at a device limit
 *     of 4, 32 and 256, how many STARTs that costs, and how much unmapped
 *     IOVA the merging puts inside the logged ranges (pages no device can
 *     write; they read clean, but a mapping made there later is logged).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "iommudirty.h"

#define PAGE 4096ull
#define GIB (1ull << 30)
#define SAMPLES 5

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_sources: %s: %d\n", what, err);
	exit(1);
}

struct host {
	struct iommudirty_sim *sim;
	struct iommudirty_ctx *ctx;
	struct iommudirty_device *dev;
	struct iommudirty_tracker *t;
	int sdev, fd;
};

/* One device: a log behind an IOMMU that cannot track, or an IOMMU that
 * can and no log. */
static void host_new(struct host *h, bool log, uint32_t max_ranges)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, io,
			.flags = log ? IOMMUDIRTY_SIM_IOMMU_NO_DIRTY : 0);
	IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, d,
			.flags = log ? IOMMUDIRTY_SIM_DEV_DMA_LOGGING : 0,
			.log_max_ranges = max_ranges);
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co);

	h->sim = iommudirty_sim_new(NULL);
	if (!h->sim || (d.iommu = iommudirty_sim_add_iommu(h->sim, &io)) < 0)
		die("sim", -1);
	h->sdev = iommudirty_sim_add_vfio_device(h->sim, &d);
	co.sim = h->sim;
	h->ctx = iommudirty_ctx_new(&co);
	h->fd = iommudirty_sim_open_device(h->sim, h->sdev);
	if (!h->ctx || h->fd < 0 || iommudirty_device_bind(h->ctx, h->fd, &h->dev) ||
	    iommudirty_tracker_new(h->ctx, NULL, &h->t) ||
	    iommudirty_tracker_attach(h->t, h->dev))
		die("setup", -1);
}

static void host_free(struct host *h)
{
	iommudirty_tracker_free(h->t);
	iommudirty_device_free(h->dev);
	iommudirty_ctx_free(h->ctx);
	iommudirty_sim_close(h->sim, h->fd);
	iommudirty_sim_free(h->sim);
}

/* Median microseconds per GiB of a clearing read of `gib` GiB at 4 KiB,
 * with one dirty page per MiB written between reads. */
static double read_per_gib(bool log, unsigned int gib, uint64_t *ioctls)
{
	struct iommudirty_sim_stats s0 = { .sz = sizeof(s0) }, s1 = { .sz = sizeof(s1) };
	uint64_t len = (uint64_t)gib * GIB;
	size_t bytes = iommudirty_bitmap_size(len, PAGE);
	uint64_t *bm = malloc(bytes);
	double us[SAMPLES];
	struct host h;
	uint8_t *mem;

	host_new(&h, log, 0);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!bm || mem == MAP_FAILED)
		die("memory", -1);
	if (iommudirty_tracker_map(h.t, mem, len, 0, IOMMUDIRTY_MAP_WRITE) ||
	    iommudirty_tracker_start(h.t))
		die("map/start", -1);
	for (int s = 0; s < SAMPLES; s++) {
		double t0;
		int ret;

		for (uint64_t x = 0; x < len; x += 1ull << 20)
			iommudirty_sim_dma_write(h.sim, h.sdev, x + (s + 1) * PAGE, 1, NULL);
		iommudirty_sim_get_stats(h.sim, &s0);
		t0 = now_us();
		ret = iommudirty_tracker_read(h.t, 0, len, PAGE, bm, bytes, 0);
		us[s] = (now_us() - t0) / gib;
		iommudirty_sim_get_stats(h.sim, &s1);
		if (ret)
			die("read", ret);
		if (iommudirty_bitmap_count(bm, len / PAGE) != (int64_t)(len >> 20))
			die("read: wrong number of dirty pages", -1);
	}
	*ioctls = s1.ioctls - s0.ioctls;
	host_free(&h);
	munmap(mem, len);
	free(bm);
	qsort(us, SAMPLES, sizeof(us[0]), cmp_double);
	return us[SAMPLES / 2];
}

/* n mappings of 2 MiB at pseudo-random gaps (4 KiB to 64 MiB) in front of
 * each; START under a device limit. */
static void ranges(unsigned int n, uint32_t limit)
{
	IOMMUDIRTY_OPTS(iommudirty_source_info, si);
	struct iommudirty_sim_stats s0 = { .sz = sizeof(s0) }, s1 = { .sz = sizeof(s1) };
	uint64_t iova = 0, mapped = 0, seed = 12345;
	uint8_t *mem;
	struct host h;

	host_new(&h, true, limit);
	mem = mmap(NULL, 2ull << 20, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap", -1);
	for (unsigned int i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		iova += PAGE << ((seed >> 33) % 15); /* 4 KiB .. 64 MiB gap */
		if (iommudirty_tracker_map(h.t, mem, 2ull << 20, iova, IOMMUDIRTY_MAP_WRITE))
			die("map", -1);
		iova += 2ull << 20;
		mapped += 2ull << 20;
	}
	iommudirty_sim_get_stats(h.sim, &s0);
	if (iommudirty_tracker_start(h.t))
		die("start", -1);
	iommudirty_sim_get_stats(h.sim, &s1);
	if (iommudirty_tracker_source_info(h.t, 0, &si) < 1)
		die("source_info", -1);
	printf("  %6u %6u %8u %12llu %14llu %10.1f%%\n", n, limit, si.log_nr_ranges,
	       (unsigned long long)(s1.ioctls - s0.ioctls),
	       (unsigned long long)((si.log_tracked_bytes - mapped) / PAGE),
	       100.0 * (double)(si.log_tracked_bytes - mapped) / (double)si.log_tracked_bytes);
	host_free(&h);
	munmap(mem, 2ull << 20);
}

int main(void)
{
	static const unsigned int gibs[] = { 1, 16 };
	static const unsigned int counts[] = { 10, 100, 1000 };
	static const uint32_t limits[] = { 4, 32, 256 };

	printf("bench_sources: clearing read at 4 KiB pages, 1 dirty page per MiB, "
	       "simulated kernel; median of %d\n", SAMPLES);
	printf("  %6s %16s %16s %9s %10s %10s\n", "GiB", "IOMMU us/GiB", "log us/GiB",
	       "log/IOMMU", "ioctls(I)", "ioctls(L)");
	for (size_t i = 0; i < sizeof(gibs) / sizeof(gibs[0]); i++) {
		uint64_t ci, cl;
		double io = read_per_gib(false, gibs[i], &ci);
		double lg = read_per_gib(true, gibs[i], &cl);

		printf("  %6u %16.1f %16.1f %8.2fx %10llu %10llu\n", gibs[i], io, lg, lg / io,
		       (unsigned long long)ci, (unsigned long long)cl);
	}
	printf("bench_sources: DMA_LOGGING_START ranges for N scattered 2 MiB mappings "
	       "under a device limit\n");
	printf("  %6s %6s %8s %12s %14s %11s\n", "N", "limit", "ranges", "START ioctls",
	       "gap pages", "gap/logged");
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		for (size_t j = 0; j < sizeof(limits) / sizeof(limits[0]); j++)
			ranges(counts[i], limits[j]);
	return 0;
}
