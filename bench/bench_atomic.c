/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Atomic against non-atomic unmap-with-dirty on the simulated kernel, for
 * trackers holding N mappings: through the standby
 * (IOMMUDIRTY_TRACKER_STANDBY) and, for comparison, the copy of every
 * mapping without it. Then a 1 MiB atomic unmap beside one huge mapping,
 * and what the standby costs maps and page-table memory. Prints times and
 * their ratios from the same run, never pass/fail. Absolute times are the
 * sim's; the real-kernel figures come from the guest (tests/kernel, boot 1).
 *
 * Each sample unmaps one mapping in the middle of the tracker (a few pages
 * dirty everywhere), then maps it back for the next sample.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "iommudirty.h"

#define PAGE 4096ull
#define MAP_SIZE (64ull << 10)
#define SAMPLES 5
#define HUGE_IOVA (1ull << 50)

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
	fprintf(stderr, "bench_atomic: %s: %d\n", what, err);
	exit(1);
}

/* Median time of one unmap-with-dirty of a mapping among n (and, with
 * huge != 0, one more mapping of that many bytes in front of them). */
static double run(unsigned int n, unsigned int flags, unsigned int tflags, uint64_t huge,
		  uint64_t *calls)
{
	struct iommudirty_sim *sim = iommudirty_sim_new(NULL);
	struct iommudirty_sim_stats st0 = { .sz = sizeof(st0) }, st1 = { .sz = sizeof(st1) };
	struct iommudirty_ctx *ctx;
	struct iommudirty_device *dev;
	struct iommudirty_tracker *t;
	uint64_t bitmap[MAP_SIZE / PAGE / 64 + 1];
	double us[SAMPLES];
	uint8_t *mem;
	int sdev, fd, ret;

	if (!sim || iommudirty_sim_add_iommu(sim, NULL) < 0)
		die("sim", -1);
	sdev = iommudirty_sim_add_device(sim, 0);
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co, .sim = sim);
	ctx = iommudirty_ctx_new(&co);
	fd = iommudirty_sim_open_device(sim, sdev);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, to, .flags = tflags);
	if (!ctx || fd < 0 || iommudirty_device_bind(ctx, fd, &dev) ||
	    iommudirty_tracker_new(ctx, &to, &t) || iommudirty_tracker_attach(t, dev))
		die("setup", -1);
	mem = mmap(NULL, (uint64_t)n * MAP_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap", -1);
	for (unsigned int i = 0; i < n; i++) {
		ret = iommudirty_tracker_map(t, mem + (uint64_t)i * MAP_SIZE, MAP_SIZE,
					     (uint64_t)i * MAP_SIZE, IOMMUDIRTY_MAP_WRITE);
		if (ret)
			die("map", ret);
	}
	/* The simulated kernel never touches a mapping's memory unless a
	 * device writes data: the huge mapping names user addresses from
	 * 1 GiB up that this process need not have. */
	if (huge && iommudirty_tracker_map(t, (void *)(uintptr_t)(1ull << 30), huge, HUGE_IOVA,
					   IOMMUDIRTY_MAP_WRITE))
		die("huge map", -1);
	if (iommudirty_tracker_start(t))
		die("start", -1);
	for (int s = 0; s < SAMPLES; s++) {
		uint64_t victim = (uint64_t)(n / 2) * MAP_SIZE;
		double t0;

		/* Some dirt everywhere, as between two pre-copy rounds. */
		for (unsigned int i = 0; i < n; i += 1 + n / 64)
			iommudirty_sim_dma_write(sim, sdev, (uint64_t)i * MAP_SIZE + PAGE, 1, NULL);
		iommudirty_sim_get_stats(sim, &st0);
		t0 = now_us();
		ret = iommudirty_tracker_unmap_dirty(t, victim, MAP_SIZE, PAGE, bitmap,
						     sizeof(bitmap), flags);
		us[s] = now_us() - t0;
		iommudirty_sim_get_stats(sim, &st1);
		if (ret)
			die("unmap_dirty", ret);
		ret = iommudirty_tracker_map(t, mem + victim, MAP_SIZE, victim,
					     IOMMUDIRTY_MAP_WRITE);
		if (ret)
			die("map back", ret);
	}
	*calls = st1.ioctls - st0.ioctls;
	iommudirty_tracker_free(t);
	iommudirty_device_free(dev);
	iommudirty_ctx_free(ctx);
	iommudirty_sim_close(sim, fd);
	iommudirty_sim_free(sim);
	munmap(mem, (uint64_t)n * MAP_SIZE);
	qsort(us, SAMPLES, sizeof(us[0]), cmp_double);
	return us[SAMPLES / 2];
}

/* Median microseconds to map n 64 KiB mappings while started. */
static double map_cost(unsigned int n, unsigned int tflags, uint64_t *pt_bytes)
{
	struct iommudirty_sim *sim = iommudirty_sim_new(NULL);
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };
	struct iommudirty_ctx *ctx;
	struct iommudirty_device *dev;
	struct iommudirty_tracker *t;
	double us[SAMPLES];
	uint8_t *mem;
	int sdev, fd;

	if (!sim || iommudirty_sim_add_iommu(sim, NULL) < 0)
		die("sim", -1);
	sdev = iommudirty_sim_add_device(sim, 0);
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co, .sim = sim);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, to, .flags = tflags);
	ctx = iommudirty_ctx_new(&co);
	fd = iommudirty_sim_open_device(sim, sdev);
	if (!ctx || fd < 0 || iommudirty_device_bind(ctx, fd, &dev) ||
	    iommudirty_tracker_new(ctx, &to, &t) || iommudirty_tracker_attach(t, dev) ||
	    iommudirty_tracker_start(t))
		die("setup", -1);
	mem = mmap(NULL, (uint64_t)n * MAP_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap", -1);
	for (int s = 0; s < SAMPLES; s++) {
		double t0 = now_us();

		for (unsigned int i = 0; i < n; i++)
			if (iommudirty_tracker_map(t, mem + (uint64_t)i * MAP_SIZE, MAP_SIZE,
						   (uint64_t)i * MAP_SIZE, IOMMUDIRTY_MAP_WRITE))
				die("map", -1);
		us[s] = now_us() - t0;
		iommudirty_sim_get_stats(sim, &st);
		*pt_bytes = st.pt_bytes;
		if (iommudirty_tracker_unmap(t, 0, (uint64_t)n * MAP_SIZE))
			die("unmap", -1);
	}
	iommudirty_tracker_free(t);
	iommudirty_device_free(dev);
	iommudirty_ctx_free(ctx);
	iommudirty_sim_close(sim, fd);
	iommudirty_sim_free(sim);
	munmap(mem, (uint64_t)n * MAP_SIZE);
	qsort(us, SAMPLES, sizeof(us[0]), cmp_double);
	return us[SAMPLES / 2];
}

int main(void)
{
	static const unsigned int sizes[] = { 10, 100, 1000, 10000 };
	/* 64 TiB: half of what x86-64 user space can hold, the sim refusing
	 * what no kernel could pin. */
	static const uint64_t huge[] = { 1ull << 20, 1ull << 40, 64ull << 40 };
	static const char *const huge_name[] = { "1 MiB", "1 TiB", "64 TiB" };
	double base = 0;

	printf("bench_atomic: unmap-with-dirty of one 64 KiB mapping among N, on the "
	       "simulated kernel, 1 device; median of %d\n", SAMPLES);
	printf("  with the standby (IOMMUDIRTY_TRACKER_STANDBY):\n");
	printf("  %8s %14s %14s %9s %12s %12s\n", "N", "non-atomic us", "atomic us",
	       "ratio", "ioctls (na)", "ioctls (at)");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t c_na, c_at;
		double na = run(sizes[i], 0, IOMMUDIRTY_TRACKER_STANDBY, 0, &c_na);
		double at = run(sizes[i], IOMMUDIRTY_UNMAP_ATOMIC, IOMMUDIRTY_TRACKER_STANDBY, 0,
				&c_at);

		printf("  %8u %14.1f %14.1f %8.1fx %12llu %12llu\n", sizes[i], na, at,
		       at / na, (unsigned long long)c_na, (unsigned long long)c_at);
	}
	printf("  without it (every other mapping copied to a new IOAS):\n");
	printf("  %8s %14s %14s %9s %12s %12s\n", "N", "non-atomic us", "atomic us",
	       "ratio", "ioctls (na)", "ioctls (at)");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t c_na, c_at;
		double na = run(sizes[i], 0, 0, 0, &c_na);
		double at = run(sizes[i], IOMMUDIRTY_UNMAP_ATOMIC, 0, 0, &c_at);

		printf("  %8u %14.1f %14.1f %8.1fx %12llu %12llu\n", sizes[i], na, at,
		       at / na, (unsigned long long)c_na, (unsigned long long)c_at);
	}
	printf("bench_atomic: atomic unmap of 64 KiB among 10 beside one more mapping, "
	       "with the standby\n");
	printf("  %10s %12s %16s\n", "beside", "atomic us", "vs beside 1 MiB");
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		uint64_t c;
		double at = run(10, IOMMUDIRTY_UNMAP_ATOMIC, IOMMUDIRTY_TRACKER_STANDBY, huge[i], &c);

		if (!i)
			base = at;
		printf("  %10s %12.1f %15.2fx\n", huge_name[i], at, at / base);
	}
	printf("bench_atomic: mapping 1000 x 64 KiB while started; page tables as the "
	       "sim models them\n");
	{
		uint64_t pt0, pt1;
		double m0 = map_cost(1000, 0, &pt0);
		double m1 = map_cost(1000, IOMMUDIRTY_TRACKER_STANDBY, &pt1);

		printf("  %-16s %12s %16s\n", "", "map us", "page tables");
		printf("  %-16s %12.1f %13llu KiB\n", "without standby", m0,
		       (unsigned long long)(pt0 >> 10));
		printf("  %-16s %12.1f %13llu KiB\n", "with standby", m1,
		       (unsigned long long)(pt1 >> 10));
		printf("  %-16s %11.2fx %15.2fx\n", "ratio", m1 / m0, (double)pt1 / (double)pt0);
	}
	return 0;
}
