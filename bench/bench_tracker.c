/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tracker benchmarks on the simulated kernel (issue 2, benchmarks 1 and 3).
 * Prints figures and ratios from this run, never pass/fail.
 *
 *  1. GET_DIRTY_BITMAP ioctls per full-range read against the number of
 *     IOVA-adjacent mappings N, against a VMM that reads per mapping (N).
 *  3. The library's own heap per tracker against N, and the heap a 1 TiB
 *     read takes when the caller supplies the bitmap.
 *
 * Heap: malloc and friends are interposed here and every byte is charged to
 * whoever is running: the library, or the simulated kernel (its calls
 * through the context's kernel seam, and the sim calls this program makes).
 * The sim lives in the same process, and its memory is the kernel's, not
 * the library's, so a plain mallinfo2() delta would mix the two.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "iommudirty.h"
#include "internal.h" /* struct iommudirty_ctx: to wrap its kernel seam */

#define PAGE 4096ull
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define TiB (1ull << 40)

/* ---- heap accounting ---------------------------------------------------- */

/* ASan brings its own malloc; replacing it under ASan crashes at start-up.
 * A sanitizer build still runs the ioctl counts, without heap figures. */
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_ACCOUNTING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_ACCOUNTING 0
#endif
#endif
#ifndef HEAP_ACCOUNTING
#define HEAP_ACCOUNTING 1
#endif

enum dom { DOM_OTHER, DOM_LIB, DOM_KERNEL, DOM_NR };

struct heap {
	atomic_llong live;      /* bytes allocated and not freed */
	atomic_llong peak;      /* max of live since the last reset */
	atomic_llong allocated; /* bytes allocated since the last reset */
	atomic_llong nallocs;
};

static struct heap heap[DOM_NR];
static _Thread_local enum dom cur_dom = DOM_OTHER;

#if HEAP_ACCOUNTING
void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t align, size_t size);
void __libc_free(void *p);

static void charge(void *p)
{
	struct heap *h = &heap[cur_dom];
	long long sz, live, peak;

	if (!p)
		return;
	sz = (long long)malloc_usable_size(p);
	live = atomic_fetch_add(&h->live, sz) + sz;
	atomic_fetch_add(&h->allocated, sz);
	atomic_fetch_add(&h->nallocs, 1);
	peak = atomic_load(&h->peak);
	while (live > peak && !atomic_compare_exchange_weak(&h->peak, &peak, live))
		;
}

/* A free is credited to whoever frees: the library frees what it allocated
 * in its own calls, the sim in its own. */
static void credit(void *p)
{
	if (p)
		atomic_fetch_sub(&heap[cur_dom].live,
				 (long long)malloc_usable_size(p));
}

void *malloc(size_t size)
{
	void *p = __libc_malloc(size);

	charge(p);
	return p;
}

void *calloc(size_t n, size_t size)
{
	void *p = __libc_calloc(n, size);

	charge(p);
	return p;
}

void *realloc(void *old, size_t size)
{
	size_t old_sz = old ? malloc_usable_size(old) : 0;
	void *p = __libc_realloc(old, size);

	if (p || !size) {
		atomic_fetch_sub(&heap[cur_dom].live, (long long)old_sz);
		charge(p);
	}
	return p;
}

void free(void *p)
{
	credit(p);
	__libc_free(p);
}

void *memalign(size_t align, size_t size)
{
	void *p = __libc_memalign(align, size);

	charge(p);
	return p;
}

void *aligned_alloc(size_t align, size_t size)
{
	return memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p = memalign(align, size);

	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

#endif /* HEAP_ACCOUNTING */

static void heap_reset(void)
{
	for (int d = 0; d < DOM_NR; d++) {
		atomic_store(&heap[d].allocated, 0);
		atomic_store(&heap[d].nallocs, 0);
		atomic_store(&heap[d].peak, atomic_load(&heap[d].live));
	}
}

static long long live(enum dom d)
{
	return atomic_load(&heap[d].live);
}

/* Run a library call charged to the library. */
#define LIB(call)                                                              \
	({                                                                     \
		enum dom saved_ = cur_dom;                                     \
		cur_dom = DOM_LIB;                                             \
		__typeof__(call) r_ = (call);                                  \
		cur_dom = saved_;                                              \
		r_;                                                            \
	})
/* Run a sim call (the kernel) charged to the kernel. */
#define KERN(call)                                                             \
	({                                                                     \
		enum dom saved_ = cur_dom;                                     \
		cur_dom = DOM_KERNEL;                                          \
		__typeof__(call) r_ = (call);                                  \
		cur_dom = saved_;                                              \
		r_;                                                            \
	})

/* The kernel seam, wrapped: everything the sim does for the library is
 * kernel memory. */
static int seam_open(void *priv, const char *path, int flags)
{
	return KERN(iommudirty_sys_sim.open(priv, path, flags));
}

static int seam_close(void *priv, int fd)
{
	return KERN(iommudirty_sys_sim.close(priv, fd));
}

static int seam_ioctl(void *priv, int fd, unsigned long req, void *arg)
{
	return KERN(iommudirty_sys_sim.ioctl(priv, fd, req, arg));
}

static int seam_readlink(void *priv, const char *path, char *buf, size_t len)
{
	return KERN(iommudirty_sys_sim.readlink(priv, path, buf, len));
}

static int seam_dir_entry(void *priv, const char *path, unsigned int index, char *buf,
			  size_t len)
{
	return KERN(iommudirty_sys_sim.dir_entry(priv, path, index, buf, len));
}

static int seam_nl_open(void *priv, void **sock)
{
	return KERN(iommudirty_sys_sim.nl_open(priv, sock));
}

static void seam_nl_close(void *priv, void *sock)
{
	enum dom saved = cur_dom;

	cur_dom = DOM_KERNEL;
	iommudirty_sys_sim.nl_close(priv, sock);
	cur_dom = saved;
}

static int seam_fd_pci_address(void *priv, int fd, char *buf, size_t len)
{
	return KERN(iommudirty_sys_sim.fd_pci_address(priv, fd, buf, len));
}

/* Every op of the seam: the library may use any of them. */
static const struct iommudirty_sys_ops seam_ops = {
	.open = seam_open,
	.close = seam_close,
	.ioctl = seam_ioctl,
	.readlink = seam_readlink,
	.dir_entry = seam_dir_entry,
	.nl_open = seam_nl_open,
	.nl_close = seam_nl_close,
	.fd_pci_address = seam_fd_pci_address,
};

/* ---- setup -------------------------------------------------------------- */

static void die(const char *what, long err)
{
	fprintf(stderr, "bench_tracker: %s: %s\n", what,
		strerror(err < 0 ? (int)-err : (int)err));
	exit(1);
}

#define CHECK(what, expr)                                                      \
	do {                                                                   \
		long ret_ = (long)(expr);                                      \
		if (ret_ < 0)                                                  \
			die(what, ret_);                                       \
	} while (0)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct env {
	struct iommudirty_sim *sim;
	struct iommudirty_ctx *ctx;
	struct iommudirty_device *dev;
	int dev_idx, dev_fd;
};

/* A sim with one IOMMU of the given page sizes and one device, a context
 * on it whose seam charges the kernel, the device bound. */
static void env_new(struct env *e, uint64_t pgsizes)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, io, .pgsize_bitmap = pgsizes);
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co);
	int iommu;

	e->sim = KERN(iommudirty_sim_new(NULL));
	if (!e->sim)
		die("sim_new", errno);
	iommu = KERN(iommudirty_sim_add_iommu(e->sim, &io));
	CHECK("sim_add_iommu", iommu);
	e->dev_idx = KERN(iommudirty_sim_add_device(e->sim, iommu));
	CHECK("sim_add_device", e->dev_idx);
	e->dev_fd = KERN(iommudirty_sim_open_device(e->sim, e->dev_idx));
	CHECK("sim_open_device", e->dev_fd);

	co.sim = e->sim;
	e->ctx = LIB(iommudirty_ctx_new(&co));
	if (!e->ctx)
		die("ctx_new", errno);
	/* From here on the sim runs as the kernel (ctx_new's open was
	 * charged to the library: one fd, no heap in the sim's open path
	 * worth counting against a per-tracker figure). */
	e->ctx->sys = &seam_ops;
	CHECK("device_bind", LIB(iommudirty_device_bind(e->ctx, e->dev_fd,
							 &e->dev)));
}

static void env_free(struct env *e)
{
	LIB((iommudirty_device_free(e->dev), 0));
	LIB((iommudirty_ctx_free(e->ctx), 0));
	KERN((iommudirty_sim_close(e->sim, e->dev_fd), 0));
	KERN((iommudirty_sim_free(e->sim), 0));
}

static struct iommudirty_tracker *tracker_new(struct env *e)
{
	struct iommudirty_tracker *t;

	CHECK("tracker_new", LIB(iommudirty_tracker_new(e->ctx, NULL, &t)));
	CHECK("tracker_attach", LIB(iommudirty_tracker_attach(t, e->dev)));
	return t;
}

/* n adjacent mappings of size sz from iova over the reservation at va. */
static void map_n(struct iommudirty_tracker *t, char *va, uint64_t iova,
		  uint64_t n, uint64_t sz)
{
	for (uint64_t i = 0; i < n; i++)
		CHECK("tracker_map",
		      LIB(iommudirty_tracker_map(t, va + i * sz, sz,
						 iova + i * sz,
						 IOMMUDIRTY_MAP_READ |
							 IOMMUDIRTY_MAP_WRITE)));
}

/* Address space only: the sim never touches the memory of a mapping unless
 * a DMA write carries data. */
static char *reserve(uint64_t len, uint64_t align)
{
	char *p = mmap(NULL, len + align, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		die("mmap reservation", errno);
	return (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
}

/* Caller bitmaps come from mmap, outside the malloc accounting. */
static uint64_t *bitmap_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap bitmap", errno);
	return p;
}

static struct iommudirty_sim_stats stats(struct iommudirty_sim *sim)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_stats, st);

	CHECK("sim_get_stats", KERN(iommudirty_sim_get_stats(sim, &st)));
	return st;
}

/* ---- 1: ioctls per full-range read -------------------------------------- */

#define MAP_SZ (2 * MiB)
#define IOVA0 (1ull << 32)

/* Dirty a few pages of every mapping: its first page, a middle one, and
 * its last, so both edges of each mapping matter. */
static uint64_t dirty_pattern(struct env *e, uint64_t n)
{
	uint64_t pages = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t base = IOVA0 + i * MAP_SZ;
		uint64_t off[3] = { 0, (i % 200) * 2 * PAGE + PAGE,
				    MAP_SZ - PAGE };

		for (int k = 0; k < 3; k++, pages++)
			CHECK("sim_dma_write",
			      KERN(iommudirty_sim_dma_write(e->sim, e->dev_idx,
							    base + off[k], PAGE,
							    NULL)));
	}
	return pages;
}

static void bench_ioctls(void)
{
	static const uint64_t ns[] = { 1, 10, 100, 1000 };

	printf("1. GET_DIRTY_BITMAP ioctls per read of the whole range, N "
	       "IOVA-adjacent %llu MiB mappings,\n   one device (one HWPT), "
	       "read-and-clear at 4 KiB; baseline: a VMM that reads per "
	       "mapping\n\n", (unsigned long long)(MAP_SZ / MiB));
	printf("  %6s %10s %10s %10s %9s %11s %11s %s\n", "N", "library",
	       "per-map", "saving", "target", "lib read", "per-map", "bits");
	printf("  %6s %10s %10s %10s %9s %11s %11s %s\n", "", "ioctls",
	       "ioctls", "", "", "ms", "reads ms", "agree");

	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		uint64_t n = ns[k], len = n * MAP_SZ, npages = len / PAGE;
		size_t bytes = iommudirty_bitmap_size(len, PAGE);
		uint64_t *full = bitmap_alloc(bytes), *per = bitmap_alloc(bytes);
		struct iommudirty_sim_stats s0, s1, s2;
		struct iommudirty_tracker *t;
		uint64_t dirtied, lib_reads, vmm_reads;
		double t0, t_lib, t_vmm;
		char *va = reserve(len, MAP_SZ);
		struct env e;
		int64_t cnt;
		bool agree;

		env_new(&e, 0);
		t = tracker_new(&e);
		map_n(t, va, IOVA0, n, MAP_SZ);
		CHECK("tracker_start", LIB(iommudirty_tracker_start(t)));

		/* The library: one read of the whole range. */
		dirtied = dirty_pattern(&e, n);
		s0 = stats(e.sim);
		t0 = now();
		CHECK("tracker_read", LIB(iommudirty_tracker_read(t, IOVA0, len,
								   PAGE, full,
								   bytes, 0)));
		t_lib = now() - t0;
		s1 = stats(e.sim);

		/* The same dirt again, read per mapping as a VMM that walks
		 * its memory sections would. */
		dirty_pattern(&e, n);
		t0 = now();
		for (uint64_t i = 0; i < n; i++) {
			uint64_t bit = i * (MAP_SZ / PAGE);

			CHECK("tracker_read per mapping",
			      LIB(iommudirty_tracker_read(t, IOVA0 + i * MAP_SZ,
							  MAP_SZ, PAGE,
							  per + bit / 64,
							  MAP_SZ / PAGE / 8,
							  0)));
		}
		t_vmm = now() - t0;
		s2 = stats(e.sim);

		lib_reads = s1.dirty_reads - s0.dirty_reads;
		vmm_reads = s2.dirty_reads - s1.dirty_reads;
		cnt = iommudirty_bitmap_count(full, npages);
		agree = !memcmp(full, per, bytes) && cnt == (int64_t)dirtied;
		printf("  %6llu %10llu %10llu %9.0fx %9s %11.3f %11.3f %s\n",
		       (unsigned long long)n, (unsigned long long)lib_reads,
		       (unsigned long long)vmm_reads,
		       lib_reads ? (double)vmm_reads / lib_reads : 0.0,
		       lib_reads == 1 ? "1: met" : "1: NOT met", t_lib * 1e3,
		       t_vmm * 1e3, agree ? "yes" : "NO");
		if (s1.ioctls - s0.ioctls != lib_reads)
			printf("         (the full read made %llu ioctls in all)\n",
			       (unsigned long long)(s1.ioctls - s0.ioctls));

		LIB((iommudirty_tracker_free(t), 0));
		env_free(&e);
		munmap(full, bytes);
		munmap(per, bytes);
	}
	printf("\n");
}

/* ---- 3: heap -------------------------------------------------------------- */

static void bench_heap_per_tracker(void)
{
	static const uint64_t ns[] = { 0, 1, 10, 100, 1000, 10000 };
	uint64_t max_n = ns[sizeof(ns) / sizeof(ns[0]) - 1];
	char *va = reserve(max_n * MAP_SZ, MAP_SZ);
	long long base_lib = 0;

	printf("3a. Heap per tracker (tracker + 1 attached device + N "
	       "adjacent %llu MiB mappings, started)\n\n",
	       (unsigned long long)(MAP_SZ / MiB));
	printf("  %6s %14s %14s %16s %14s\n", "N", "library bytes",
	       "lib allocs", "lib bytes/map", "kernel(sim)");

	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		uint64_t n = ns[k];
		long long lib0, kern0, lib, kern;
		struct iommudirty_tracker *t;
		struct env e;
		char per_map[32] = "-";

		env_new(&e, 0);
		heap_reset();
		lib0 = live(DOM_LIB);
		kern0 = live(DOM_KERNEL);
		t = tracker_new(&e);
		map_n(t, va, IOVA0, n, MAP_SZ);
		CHECK("tracker_start", LIB(iommudirty_tracker_start(t)));
		lib = live(DOM_LIB) - lib0;
		kern = live(DOM_KERNEL) - kern0;
		if (!n)
			base_lib = lib;
		else
			snprintf(per_map, sizeof(per_map), "%.1f",
				 (double)(lib - base_lib) / n);
		printf("  %6llu %14lld %14lld %16s %14lld\n",
		       (unsigned long long)n, lib,
		       (long long)atomic_load(&heap[DOM_LIB].nallocs), per_map,
		       kern);
		LIB((iommudirty_tracker_free(t), 0));
		if (live(DOM_LIB) != lib0)
			printf("         (after tracker_free the library still "
			       "holds %lld bytes)\n", live(DOM_LIB) - lib0);
		env_free(&e);
	}
	munmap(va, max_n * MAP_SZ);
	printf("\n");
}

static void bench_heap_1tib_read(void)
{
	uint64_t len = TiB, n = len / GiB, iova = 1ull << 44;
	size_t bytes = iommudirty_bitmap_size(len, PAGE);
	uint64_t *bm = bitmap_alloc(bytes);
	char *va = reserve(len, GiB);
	struct iommudirty_sim_stats s0, s1;
	struct iommudirty_tracker *t;
	long long lib_alloc, lib_peak, kern_alloc, lib_live0;
	int64_t cnt, want;
	double t0, dt;
	struct env e;

	/* 4 KiB, 2 MiB and 1 GiB IO pages: 1 GiB mappings of 1 GiB-aligned
	 * memory get 1 GiB IOPTEs, as on a host backing the guest with 1 GiB
	 * huge pages. */
	env_new(&e, PAGE | 2 * MiB | GiB);
	t = tracker_new(&e);
	map_n(t, va, iova, n, GiB);
	CHECK("tracker_start", LIB(iommudirty_tracker_start(t)));
	/* One page in every 16th GiB: each dirties its whole 1 GiB IOPTE. */
	for (uint64_t i = 0; i < n; i += 16)
		CHECK("sim_dma_write",
		      KERN(iommudirty_sim_dma_write(e.sim, e.dev_idx,
						    iova + i * GiB + 12345 * PAGE,
						    PAGE, NULL)));
	want = (int64_t)((n + 15) / 16 * (GiB / PAGE));

	heap_reset();
	lib_live0 = live(DOM_LIB);
	s0 = stats(e.sim);
	t0 = now();
	CHECK("tracker_read 1 TiB", LIB(iommudirty_tracker_read(t, iova, len,
								 PAGE, bm, bytes,
								 0)));
	dt = now() - t0;
	s1 = stats(e.sim);
	lib_alloc = atomic_load(&heap[DOM_LIB].allocated);
	lib_peak = atomic_load(&heap[DOM_LIB].peak) - lib_live0;
	kern_alloc = atomic_load(&heap[DOM_KERNEL].allocated);
	cnt = iommudirty_bitmap_count(bm, len / PAGE);

	printf("3b. Heap taken by one read-and-clear of 1 TiB at 4 KiB into "
	       "the caller's bitmap\n    (%llu adjacent 1 GiB mappings, 1 GiB "
	       "IOPTEs, every 16th GiB dirty)\n\n", (unsigned long long)n);
	printf("  caller's bitmap                  %12zu bytes\n", bytes);
	printf("  library: allocated during read   %12lld bytes in %lld "
	       "allocations (peak above before: %lld)\n", lib_alloc,
	       (long long)atomic_load(&heap[DOM_LIB].nallocs), lib_peak);
	printf("  library allocation / bitmap      %12.6f  (target: nothing "
	       "proportional to the range: %s)\n", (double)lib_alloc / bytes,
	       (double)lib_alloc < bytes / 1024.0 ? "met" : "NOT met");
	printf("  kernel(sim): allocated           %12lld bytes\n", kern_alloc);
	printf("  GET_DIRTY_BITMAP ioctls          %12llu  (ioctls in all: "
	       "%llu)\n", (unsigned long long)(s1.dirty_reads - s0.dirty_reads),
	       (unsigned long long)(s1.ioctls - s0.ioctls));
	printf("  read time                        %12.1f ms\n", dt * 1e3);
	printf("  dirty pages reported             %12lld  (expected %lld: "
	       "%s)\n", (long long)cnt, (long long)want,
	       cnt == want ? "yes" : "NO");

	LIB((iommudirty_tracker_free(t), 0));
	env_free(&e);
	munmap(bm, bytes);
	printf("\n");
}

int main(void)
{
	double t0 = now();

	printf("bench_tracker: libiommudirty %s on the simulated kernel\n\n",
	       iommudirty_version());
	bench_ioctls();
	if (HEAP_ACCOUNTING) {
		bench_heap_per_tracker();
		bench_heap_1tib_read();
	} else {
		printf("3. Heap figures skipped: malloc cannot be counted under "
		       "AddressSanitizer.\n\n");
	}
	printf("  total %.1f s\n", now() - t0);
	return 0;
}
