/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Precision and counting on the simulated kernel. Prints figures and
 * ratios from the same run, never pass/fail:
 *  1. dirty amplification: the same device writes (1000 of 8 bytes at
 *     random into 1 GiB of 2 MiB-aligned memory, an IOMMU with 2 MiB
 *     pages), reported pages with and without IOMMUDIRTY_TRACKER_SMALL_IO_PAGES;
 *  2. what counting adds: a clearing read of 1 TiB with 0.1 % of its
 *     pages dirty, iommudirty_tracker_read() against _read_counted();
 *  3. a vIOMMU guest: 64 mappings of 2 MiB in 4 IOVA-contiguous runs at
 *     scattered guest addresses: kernel reads per guest-space read of all
 *     RAM, against one read per guest mapping (a VMM's own translation).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "iommudirty.h"

#define PAGE 4096ull

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_precision: %s\n", what);
	exit(1);
}

struct host {
	struct iommudirty_sim *sim;
	struct iommudirty_ctx *ctx;
	struct iommudirty_device *dev;
	struct iommudirty_tracker *t;
	int sdev, fd;
};

static void host_new(struct host *h, unsigned int flags)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, io, .pgsize_bitmap = PAGE | (2ull << 20));
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, to, .flags = flags);

	h->sim = iommudirty_sim_new(NULL);
	if (!h->sim || iommudirty_sim_add_iommu(h->sim, &io) < 0)
		die("sim");
	h->sdev = iommudirty_sim_add_device(h->sim, 0);
	co.sim = h->sim;
	h->ctx = iommudirty_ctx_new(&co);
	h->fd = iommudirty_sim_open_device(h->sim, h->sdev);
	if (!h->ctx || h->fd < 0 || iommudirty_device_bind(h->ctx, h->fd, &h->dev) ||
	    iommudirty_tracker_new(h->ctx, &to, &h->t) || iommudirty_tracker_attach(h->t, h->dev))
		die("setup");
}

static void host_free(struct host *h)
{
	iommudirty_tracker_free(h->t);
	iommudirty_device_free(h->dev);
	iommudirty_ctx_free(h->ctx);
	iommudirty_sim_close(h->sim, h->fd);
	iommudirty_sim_free(h->sim);
}

static uint64_t amplification(unsigned int flags)
{
	const uint64_t len = 1ull << 30;
	size_t bytes = iommudirty_bitmap_size(len, PAGE);
	uint64_t *bm = malloc(bytes), n = 0, seed = 42;
	uint8_t *mem = mmap(NULL, len + (2ull << 20), PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint8_t *al = (uint8_t *)(((uintptr_t)mem + (2ull << 20) - 1) & ~((2ull << 20) - 1));
	struct host h;

	if (!bm || mem == MAP_FAILED)
		die("memory");
	host_new(&h, flags);
	if (iommudirty_tracker_map(h.t, al, len, 0, IOMMUDIRTY_MAP_WRITE) ||
	    iommudirty_tracker_start(h.t))
		die("map/start");
	for (int i = 0; i < 1000; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		iommudirty_sim_dma_write(h.sim, h.sdev, (seed >> 20) % len & ~7ull, 8, NULL);
	}
	if (iommudirty_tracker_read_counted(h.t, 0, len, PAGE, bm, bytes, 0, &n))
		die("read");
	host_free(&h);
	munmap(mem, len + (2ull << 20));
	free(bm);
	return n;
}

/* A clearing read of 1 TiB and the counted one, in PAIRS adjacent pairs on
 * one tracker and one (already touched) bitmap, the same dirt each, in
 * alternating order. What counting adds is the median of the pairs' own
 * differences: the neighbours of a shared host slow both reads of a pair
 * alike, where they move the two medians apart. Times are this thread's
 * CPU time (the sim runs in it). */
#define PAIRS 21

static double cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void read_1t(double *plain_us, double *counted_us, double *adds_pct, uint64_t *dirty)
{
	const uint64_t len = 1ull << 40;
	size_t bytes = iommudirty_bitmap_size(len, PAGE);
	uint64_t *bm = malloc(bytes), n;
	/* Address space only: the sim never touches a mapping's memory
	 * without data, but (as a kernel) wants addresses a process has. */
	uint8_t *mem = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			    -1, 0);
	double us[2][PAIRS], pct[PAIRS];
	struct host h;

	if (!bm || mem == MAP_FAILED)
		die("memory");
	memset(bm, 0, bytes);
	/* 4 KiB IO pages: with 2 MiB ones each write below would dirty a
	 * whole 2 MiB page, half the map, not 0.1 % of it. */
	host_new(&h, IOMMUDIRTY_TRACKER_SMALL_IO_PAGES);
	if (iommudirty_tracker_map(h.t, mem, len, 0, IOMMUDIRTY_MAP_WRITE) ||
	    iommudirty_tracker_start(h.t))
		die("map/start");
	for (int s = -2; s < 2 * PAIRS; s++) {
		/* pair p: plain then counted, or the other way for odd p */
		bool counted = (s & 1) ^ ((s >> 1) & 1);
		double t0, t;
		int ret;

		for (uint64_t x = 0; x < len; x += 1000 * PAGE)
			iommudirty_sim_dma_write(h.sim, h.sdev, x, 1, NULL);
		t0 = cpu_us();
		ret = counted ? iommudirty_tracker_read_counted(h.t, 0, len, PAGE, bm, bytes, 0, &n)
			      : iommudirty_tracker_read(h.t, 0, len, PAGE, bm, bytes, 0);
		t = cpu_us() - t0;
		if (ret)
			die("read");
		/* The count is the bitmap's, or the time means nothing. */
		if (counted && (int64_t)n != iommudirty_bitmap_count(bm, len / PAGE))
			die("read_counted's count");
		if (s >= 0) /* the first pair warms up */
			us[counted][s / 2] = t;
	}
	host_free(&h);
	munmap(mem, len);
	free(bm);
	for (int p = 0; p < PAIRS; p++)
		pct[p] = 100.0 * (us[1][p] - us[0][p]) / us[0][p];
	qsort(pct, PAIRS, sizeof(pct[0]), cmp_double);
	qsort(us[0], PAIRS, sizeof(us[0][0]), cmp_double);
	qsort(us[1], PAIRS, sizeof(us[1][0]), cmp_double);
	*plain_us = us[0][PAIRS / 2];
	*counted_us = us[1][PAIRS / 2];
	*adds_pct = pct[PAIRS / 2];
	*dirty = n;
}

static uint64_t dirty_reads(struct iommudirty_sim *sim)
{
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };

	iommudirty_sim_get_stats(sim, &st);
	return st.dirty_reads;
}

static void guest_reads(uint64_t *by_guest, uint64_t *per_mapping)
{
	const uint64_t msz = 2ull << 20, ram = 64 * msz;
	size_t bytes = iommudirty_bitmap_size(ram, PAGE);
	uint64_t *bm = malloc(bytes), c;
	uint8_t *mem = mmap(NULL, msz, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct host h;

	if (!bm || mem == MAP_FAILED)
		die("memory");
	host_new(&h, 0);
	for (unsigned int i = 0; i < 64; i++) {
		/* Runs of 21, 21, 21 and 1 adjacent IOVAs; guest slots shuffled. */
		uint64_t iova = (uint64_t)(i / 21) * (1ull << 32) + (i % 21) * msz;
		uint64_t g = ((uint64_t)(i * 37) % 64) * msz;

		if (iommudirty_tracker_map(h.t, mem, msz, iova, IOMMUDIRTY_MAP_WRITE) ||
		    iommudirty_tracker_set_guest(h.t, iova, msz, g))
			die("map");
	}
	if (iommudirty_tracker_start(h.t))
		die("start");
	c = dirty_reads(h.sim);
	if (iommudirty_tracker_read_guest(h.t, 0, ram, PAGE, bm, bytes, 0))
		die("read_guest");
	*by_guest = dirty_reads(h.sim) - c;
	c = dirty_reads(h.sim);
	for (unsigned int i = 0; i < 64; i++) {
		uint64_t iova = (uint64_t)(i / 21) * (1ull << 32) + (i % 21) * msz;

		if (iommudirty_tracker_read(h.t, iova, msz, PAGE, bm, bytes, 0))
			die("read");
	}
	*per_mapping = dirty_reads(h.sim) - c;
	host_free(&h);
	munmap(mem, msz);
	free(bm);
}

int main(void)
{
	uint64_t by_guest, per_mapping;
	uint64_t big = amplification(0), small = amplification(IOMMUDIRTY_TRACKER_SMALL_IO_PAGES);
	double plain, counted, adds;
	uint64_t dirty;

	read_1t(&plain, &counted, &adds, &dirty);

	printf("bench_precision: 1000 writes of 8 bytes into 1 GiB, IOMMU with 2 MiB pages, "
	       "read at 4 KiB\n");
	printf("  %-24s %12s %14s\n", "", "dirty pages", "amplification");
	printf("  %-24s %12llu %13.1fx\n", "huge IO pages (default)", (unsigned long long)big,
	       big / 1000.0);
	printf("  %-24s %12llu %13.1fx\n", "SMALL_IO_PAGES", (unsigned long long)small,
	       small / 1000.0);
	printf("bench_precision: clearing read of 1 TiB at 4 KiB, %llu pages (%.2f %%) dirty, "
	       "4 KiB IO pages; %d pairs of reads, CPU time\n", (unsigned long long)dirty,
	       100.0 * (double)dirty / (double)((1ull << 40) / PAGE), PAIRS);
	printf("  read %.0f us, read_counted %.0f us (medians): counting adds %.1f %% "
	       "(median of the pairs; target <= 10 %%)\n", plain, counted, adds);
	guest_reads(&by_guest, &per_mapping);
	printf("bench_precision: vIOMMU guest, 64 x 2 MiB mappings in 4 IOVA runs, scattered "
	       "guest addresses\n");
	printf("  kernel reads for all guest RAM: %llu by guest address, %llu reading each "
	       "mapping (%.1fx fewer)\n", (unsigned long long)by_guest,
	       (unsigned long long)per_mapping, (double)per_mapping / (double)by_guest);
	return 0;
}
