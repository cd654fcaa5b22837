// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Boot 2, part two: the legacy VFIO type1 backend on the real kernel, with
 * QEMU's VT-d (which cannot track) and edu. Runs after ktest_boot2.c has
 * closed edu's cdev (an open cdev keeps the group from being opened).
 *
 *  - auto mode picks type1 and says why (the VT-d reasons, conservative);
 *  - the whole type1 path through the public API with edu DMA into the
 *    mappings: reads at 4 KiB, 64 KiB, 2 KiB, a read cutting mappings, a
 *    hole, unmap with dirty bitmap, DMA after unmap blocked, no fd left;
 *  - forced IOMMUFD refused with the reasons, forced TYPE1 works, auto with
 *    no /dev/iommu;
 *  - type1's traps asserted with raw ioctls on a container of our own
 *    (the behaviour src/sim/type1.c models).
 *
 * IOVA layout (edu: IOVA < 256 MiB), the same for the library and the raw
 * tests:
 *   A1 [0x100000, +32 KiB)  A2 [0x108000, +32 KiB)  (IOVA-adjacent)
 *   hole [0x110000, +64 KiB)
 *   B  [0x120000, +64 KiB)
 * so the range RANGE = [0x100000, +192 KiB) reads, at 4 KiB, as bits 0-15
 * (A1, A2) and 32-47 (B): word 0x0000ffff0000ffff.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iommudirty.h"
#include "kedu.h"
#include "kutil.h"
#include "uapi.h"

#define BOOT "boot2"
#define R(name, rc) kresult(BOOT, name, rc, why)
#define FAILF(...) (snprintf(why, sizeof(why), __VA_ARGS__), -1)

#define A1 0x100000ull
#define A2 0x108000ull
#define HOLE 0x110000ull
#define B 0x120000ull
#define RANGE_LEN 0x30000ull
#define MEM_LEN 0x20000ull /* A1, A2, B back to back */
#define PG 4096ull
#define ALL_4K 0x0000ffff0000ffffull

static const char *edu_bdf;

/* ---- helpers ---- */

/* Open fds of this process; *vfio_cdevs: how many are VFIO cdevs. */
static int count_fds(int *vfio_cdevs)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char p[300], link[300];
	int n = 0, cdevs = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		ssize_t l;

		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
			continue;
		n++;
		snprintf(p, sizeof(p), "/proc/self/fd/%s", de->d_name);
		l = readlink(p, link, sizeof(link) - 1);
		if (l > 0) {
			link[l] = 0;
			cdevs += !strncmp(link, "/dev/vfio/devices/", 18);
		}
	}
	closedir(d);
	if (vfio_cdevs)
		*vfio_cdevs = cdevs;
	return n;
}

static bool has_reason(const struct iommudirty_tracker_info *info, uint32_t r)
{
	for (uint32_t i = 0; i < info->nr_reasons && i < IOMMUDIRTY_INFO_MAX_REASONS; i++)
		if (info->reasons[i] == r)
			return true;
	return false;
}

static void print_reasons(const char *what, const struct iommudirty_tracker_info *info)
{
	kinfo("%s: backend %u precise %d, %u reasons, type1_pgsize %#llx "
	      "type1_max_bitmap_bytes %#llx", what, info->backend, info->precise,
	      info->nr_reasons, (unsigned long long)info->type1_pgsize,
	      (unsigned long long)info->type1_max_bitmap_bytes);
	for (uint32_t i = 0; i < info->nr_reasons && i < IOMMUDIRTY_INFO_MAX_REASONS; i++)
		kinfo("%s reason %u: %s", what, info->reasons[i],
		      iommudirty_reason_str(info->reasons[i]));
}

/* The library's messages up to WARN, echoed for the console log. */
static void log_cb(enum iommudirty_log_level level, const char *msg, void *user)
{
	(void)user;
	if (level <= IOMMUDIRTY_LOG_WARN)
		kinfo("lib log: %s", msg);
}

static struct iommudirty_ctx *new_ctx(const char *path)
{
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co,
			.flags = IOMMUDIRTY_CTX_IOMMUFD_OPTIONAL, .path = path,
			.log_fn = log_cb, .log_level = IOMMUDIRTY_LOG_WARN);

	return iommudirty_ctx_new(&co);
}

static int new_tracker(struct iommudirty_ctx *ctx, uint32_t backend, unsigned int flags,
		       struct iommudirty_tracker_info *info,
		       struct iommudirty_tracker **t)
{
	const char *devs[] = { edu_bdf };
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .backend = backend, .flags = flags,
			.pci_devices = devs, .nr_pci_devices = 1, .info = info);

	*info = (struct iommudirty_tracker_info){ .sz = sizeof(*info) };
	return iommudirty_tracker_new(ctx, &o, t);
}

/* words[0..n) == want[0..n)? Else -1 with why. */
static int bm_is(const char *what, const uint64_t *bm, const uint64_t *want, int n)
{
	for (int i = 0; i < n; i++)
		if (bm[i] != want[i])
			return FAILF("%s: word %d = %#018llx, want %#018llx", what, i,
				     (unsigned long long)bm[i],
				     (unsigned long long)want[i]);
	return 0;
}

/* A library read into a bitmap prefilled with ones (the library must zero
 * it), compared with want. */
static int lib_read(struct iommudirty_tracker *t, const char *what, uint64_t iova,
		    uint64_t len, uint64_t ps, unsigned int flags,
		    const uint64_t *want, int nwords)
{
	uint64_t bm[8];
	int rc;

	memset(bm, 0xff, sizeof(bm));
	rc = iommudirty_tracker_read(t, iova, len, ps, bm, (size_t)nwords * 8, flags);
	if (rc)
		return FAILF("%s: tracker_read = %d", what, rc);
	return bm_is(what, bm, want, nwords);
}

/* ---- 1, 2: auto mode and the whole type1 path through the library ---- */

static void library_path(int fds0)
{
	struct iommudirty_tracker_info info, q = { .sz = sizeof(q) };
	struct iommudirty_tracker *t = NULL;
	struct iommudirty_ctx *ctx;
	uint8_t *mem = NULL;
	int rc, ok, n, cdevs, fd;

	ctx = new_ctx(NULL);
	R("type1_ctx_new_optional", ctx ? 0 : FAILF("ctx_new: %s", strerror(errno)));
	if (!ctx)
		return;

	/* Since 0.2 AUTO keeps iommufd when the device has a cdev: edu's
	 * IOMMU cannot track and stock vfio-pci has no DMA log, so it is an
	 * untracked writer, reported conservatively. The type1 path is
	 * forced below. */
	rc = new_tracker(ctx, IOMMUDIRTY_BACKEND_AUTO, 0, &info, &t);
	print_reasons("auto", &info);
	ok = rc ? FAILF("tracker_new(AUTO, edu) = %d", rc) : 0;
	if (!ok && (info.backend != IOMMUDIRTY_BACKEND_IOMMUFD || info.precise != 0 ||
		    info.nr_devices != 1 || info.nr_conservative != 1 ||
		    !has_reason(&info, IOMMUDIRTY_REASON_UNTRACKED_WRITER)))
		ok = FAILF("backend %u precise %d devices %u conservative %u "
			   "UNTRACKED_WRITER %d, want IOMMUFD (1), 0, 1, 1, 1",
			   info.backend, info.precise, info.nr_devices,
			   info.nr_conservative,
			   has_reason(&info, IOMMUDIRTY_REASON_UNTRACKED_WRITER));
	R("type1_auto_iommufd_untracked_writer", ok);
	iommudirty_tracker_free(t);
	t = NULL;

	rc = new_tracker(ctx, IOMMUDIRTY_BACKEND_TYPE1, 0, &info, &t);
	print_reasons("type1 forced", &info);
	ok = rc ? FAILF("tracker_new(TYPE1, edu) = %d", rc) : 0;
	if (!ok && (info.backend != IOMMUDIRTY_BACKEND_TYPE1 || info.precise != 0))
		ok = FAILF("backend %u precise %d, want TYPE1 (2), 0", info.backend,
			   info.precise);
	R("type1_forced_picks_type1", ok);
	if (rc)
		goto out;

	ok = 0;
	if (!has_reason(&info, IOMMUDIRTY_REASON_TYPE1_CONSERVATIVE))
		ok = FAILF("reasons lack TYPE1_CONSERVATIVE");
	if (!ok && has_reason(&info, IOMMUDIRTY_REASON_VTD_NO_SMTS))
		ok = FAILF("VTD_NO_SMTS in scalable mode");
	R("type1_forced_reasons", ok);

	ok = 0;
	if (info.type1_pgsize != 4096 || info.type1_max_bitmap_bytes != 256ull << 20)
		ok = FAILF("type1_pgsize %#llx max_bitmap_bytes %#llx, want 4 KiB, 256 MiB",
			   (unsigned long long)info.type1_pgsize,
			   (unsigned long long)info.type1_max_bitmap_bytes);
	rc = iommudirty_tracker_info(t, &q);
	if (!ok && rc)
		ok = FAILF("tracker_info = %d", rc);
	if (!ok && (q.backend != info.backend || q.precise != info.precise ||
		    q.nr_reasons != info.nr_reasons ||
		    memcmp(q.reasons, info.reasons, sizeof(q.reasons)) ||
		    q.type1_pgsize != info.type1_pgsize ||
		    q.type1_max_bitmap_bytes != info.type1_max_bitmap_bytes))
		ok = FAILF("iommudirty_tracker_info differs from opts.info");
	if (!ok && iommudirty_tracker_ioas_id(t) != 0)
		ok = FAILF("a type1 tracker has IOAS id %u", iommudirty_tracker_ioas_id(t));
	R("type1_info", ok);

	/* The AUTO tracker's cdev is closed; the tracker holds the iommufd
	 * (ctx), container, group and device fd. */
	n = count_fds(&cdevs);
	kinfo("type1: %d fds before the context, %d with the tracker", fds0, n);
	R("type1_no_cdev_left", cdevs == 0 && n == fds0 + 4 ? 0 :
	  FAILF("%d fds (%d before), %d VFIO cdevs open, want +4 and none", n,
		fds0, cdevs));

	/* The group's device fd the library opened drives edu. */
	fd = iommudirty_tracker_device_fd(t, 0);
	ok = fd < 0 ? FAILF("tracker_device_fd(0) = %d", fd) : 0;
	if (!ok && (rc = iommudirty_tracker_device_fd(t, 1)) != -ENOENT)
		ok = FAILF("tracker_device_fd(1) = %d, want -ENOENT", rc);
	if (!ok) {
		devfd = fd;
		ok = edu_setup();
	}
	R("type1_device_fd_edu", ok);
	if (ok)
		goto out;

	mem = kmem_alloc(MEM_LEN, false);
	if (!mem) {
		R("type1_map", FAILF("no memory"));
		goto out;
	}
	rc = iommudirty_tracker_map(t, mem, 0x8000, A1, IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE);
	if (!rc)
		rc = iommudirty_tracker_map(t, mem + 0x8000, 0x8000, A2,
					    IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE);
	if (!rc)
		rc = iommudirty_tracker_map(t, mem + 0x10000, 0x10000, B,
					    IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE);
	R("type1_map", rc ? FAILF("tracker_map = %d", rc) : 0);
	if (rc)
		goto out;
	{
		uint64_t bm = 0;

		rc = iommudirty_tracker_read(t, A1, RANGE_LEN, PG, &bm, 8, 0);
		R("type1_read_before_start_einval", rc == -EINVAL ? 0 :
		  FAILF("read before start = %d, want -EINVAL", rc));
	}
	rc = iommudirty_tracker_start(t);
	R("type1_start", rc ? FAILF("tracker_start = %d", rc) :
	  iommudirty_tracker_started(t) == 1 ? 0 : FAILF("started() != 1"));
	if (rc)
		goto out;

	/* edu copies a page of A1 into B and into A2, through the container. */
	for (size_t i = 0; i < 4096; i++)
		mem[i] = (uint8_t)(i * 13 + 5);
	memset(mem + 0x13000, 0, 4096);
	memset(mem + 0xa000, 0, 4096);
	ok = edu_dma(A1, EDU_BUF, 4096, false);
	if (!ok)
		ok = edu_dma(EDU_BUF, B + 0x3000, 4096, true);
	if (!ok)
		ok = edu_dma(EDU_BUF, A2 + 0x2000, 4096, true);
	if (!ok && memcmp(mem, mem + 0x13000, 4096))
		ok = FAILF("edu copy A1 -> B+0x3000: data differ");
	if (!ok && memcmp(mem, mem + 0xa000, 4096))
		ok = FAILF("edu copy A1 -> A2+0x2000: data differ");
	R("type1_edu_dma", ok);

	/* Conservative: every mapped page, every read; the hole is clean. */
	{
		const uint64_t w4k[1] = { ALL_4K };
		const uint64_t w64k[1] = { 0x5 };
		const uint64_t w2k[2] = { 0xffffffffull, 0xffffffffull };
		const uint64_t zero[1] = { 0 };
		const uint64_t cut[1] = { 0xff };
		const uint64_t one_pg[1] = { 0x1 };

		R("type1_read_4k_every_mapped_page",
		  lib_read(t, "read 4K", A1, RANGE_LEN, PG, 0, w4k, 1));
		R("type1_read_4k_again_same",
		  lib_read(t, "second read 4K", A1, RANGE_LEN, PG, 0, w4k, 1));
		R("type1_read_no_clear",
		  lib_read(t, "NO_CLEAR read", A1, RANGE_LEN, PG,
			   IOMMUDIRTY_READ_NO_CLEAR, w4k, 1));
		R("type1_read_hole_clean",
		  lib_read(t, "hole", HOLE, 0x10000, PG, 0, zero, 1));
		R("type1_read_64k",
		  lib_read(t, "read 64K", A1, RANGE_LEN, 0x10000, 0, w64k, 1));
		R("type1_read_2k",
		  lib_read(t, "read 2K", A1, RANGE_LEN, 0x800, 0, w2k, 2));
		/* Cuts A1 and A2: the library must read them whole (the
		 * kernel refuses a bisecting range). */
		R("type1_read_cutting_mappings",
		  lib_read(t, "read [A1+16K, +32K)", A1 + 0x4000, 0x8000, PG, 0, cut, 1));
		R("type1_read_4k_after_cut",
		  lib_read(t, "read 4K after the cut", A1, RANGE_LEN, PG, 0, w4k, 1));

		/* A mapping made while tracking is tracked too. */
		rc = iommudirty_tracker_map(t, mem + 0x13000, 0x1000, 0x140000,
					    IOMMUDIRTY_MAP_READ);
		ok = rc ? FAILF("map while started = %d", rc) :
		     lib_read(t, "page mapped while started", 0x140000, 0x1000, PG,
			      0, one_pg, 1);
		if (!ok) {
			rc = iommudirty_tracker_unmap(t, 0x140000, 0x1000);
			ok = rc ? FAILF("tracker_unmap = %d", rc) :
			     lib_read(t, "page unmapped", 0x140000, 0x1000, PG, 0, zero, 1);
		}
		R("type1_map_unmap_while_started", ok);
	}

	/* Issue 6 on type1: write-protect (the kernel's atomic unmap with a
	 * bitmap), then the unmap only forgets; edu can no longer write. */
	{
		const uint64_t C = 0x140000ull;
		uint8_t *cmem = kmem_alloc(0x10000, false);
		uint64_t bm[1];

		ok = cmem ? 0 : FAILF("no memory");
		if (!ok && (rc = iommudirty_tracker_map(t, cmem, 0x10000, C,
							IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE)))
			ok = FAILF("map C = %d", rc);
		if (!ok)
			ok = edu_dma(EDU_BUF, C + 0x1000, 4096, true);
		if (!ok) {
			memset(bm, 0, sizeof(bm));
			rc = iommudirty_tracker_write_protect(t, C, 0x10000, PG, bm, 8, 0);
			ok = rc ? FAILF("write_protect(C) = %d", rc) :
			     bm[0] != 0xffff ? FAILF("write_protect(C) bits %#llx, want 0xffff",
						     (unsigned long long)bm[0]) : 0;
		}
		R("type1_write_protect", ok);
		if (!ok) {
			memset(cmem + 0x2000, 0x5a, 4096);
			ok = edu_dma(EDU_BUF, C + 0x2000, 4096, true);
			for (size_t i = 0; !ok && i < 4096; i++)
				if (cmem[0x2000 + i] != 0x5a)
					ok = FAILF("edu wrote to a write-protected range (byte %zu)", i);
			R("type1_write_protect_blocks_dma", ok);
			rc = iommudirty_tracker_unmap(t, C, 0x10000);
			ok = rc ? FAILF("unmap after write_protect = %d", rc) : 0;
			if (!ok && (rc = iommudirty_tracker_map(t, cmem, 0x10000, C,
								IOMMUDIRTY_MAP_WRITE)))
				ok = FAILF("map again = %d", rc);
			if (!ok && (rc = iommudirty_tracker_unmap_dirty(t, C, 0x10000, PG, bm, 8,
									  IOMMUDIRTY_UNMAP_ATOMIC)))
				ok = FAILF("unmap_dirty(ATOMIC) = %d", rc);
			R("type1_unmap_after_write_protect", ok);
		}
		if (cmem)
			kmem_free(cmem, 0x10000, false);
	}

	/* The kernel's unmap with bitmap: all pages, then DMA blocked. */
	{
		uint64_t bm[2];
		const uint64_t b4k[1] = { 0xffff };
		const uint64_t a2k[2] = { 0xffffffffull, 0 };
		const uint64_t zero[1] = { 0 };

		memset(bm, 0xff, sizeof(bm));
		rc = iommudirty_tracker_unmap_dirty(t, B, 0x10000, PG, bm, 8, 0);
		ok = rc ? FAILF("unmap_dirty(B, 4K) = %d", rc) :
		     bm_is("unmap_dirty(B, 4K)", bm, b4k, 1);
		R("type1_unmap_dirty_4k", ok);
		if (!rc) {
			memset(mem + 0x13000, 0x5a, 4096);
			ok = edu_dma(EDU_BUF, B + 0x3000, 4096, true);
			for (size_t i = 0; !ok && i < 4096; i++)
				if (mem[0x13000 + i] != 0x5a)
					ok = FAILF("edu wrote to unmapped IOVA (byte %zu)", i);
			R("type1_edu_dma_after_unmap_blocked", ok);
		}
		/* A1, A2, the hole and where B was, at 2 KiB: the hole must
		 * read clean (the kernel's stale bits land there). */
		memset(bm, 0xff, sizeof(bm));
		rc = iommudirty_tracker_unmap_dirty(t, A1, RANGE_LEN, 0x800, bm, 16, 0);
		ok = rc ? FAILF("unmap_dirty(A1..B end, 2K) = %d", rc) :
		     bm_is("unmap_dirty(A1..B end, 2K)", bm, a2k, 2);
		R("type1_unmap_dirty_2k_hole_clean", ok);
		R("type1_read_after_unmap_clean",
		  lib_read(t, "read after unmap", A1, RANGE_LEN, PG, 0, zero, 1));
	}

	rc = iommudirty_tracker_stop(t);
	ok = rc ? FAILF("tracker_stop = %d", rc) : 0;
	if (!ok && iommudirty_tracker_started(t) != 0)
		ok = FAILF("started() != 0 after stop");
	if (!ok) {
		uint64_t bm = 0;

		rc = iommudirty_tracker_read(t, A1, RANGE_LEN, PG, &bm, 8, 0);
		if (rc != -EINVAL)
			ok = FAILF("read after stop = %d, want -EINVAL", rc);
	}
	R("type1_stop", ok);
out:
	devfd = -1;
	iommudirty_tracker_free(t);
	iommudirty_ctx_free(ctx);
	kmem_free(mem, MEM_LEN, false);
	n = count_fds(&cdevs);
	R("type1_no_fd_left", n == fds0 ? 0 :
	  FAILF("%d fds open after free, %d before", n, fds0));
}

/* ---- 3: forced backends, auto without /dev/iommu ---- */

static void forced_backends(int fds0)
{
	struct iommudirty_tracker_info info;
	struct iommudirty_tracker *t = NULL;
	struct iommudirty_ctx *ctx;
	int rc, ok, n;

	ctx = new_ctx(NULL);
	if (!ctx) {
		R("type1_forced_iommufd_refused", FAILF("ctx_new: %s", strerror(errno)));
		return;
	}
	/* Refused only when precise data is required (since 0.2). */
	rc = new_tracker(ctx, IOMMUDIRTY_BACKEND_IOMMUFD, IOMMUDIRTY_TRACKER_PRECISE_ONLY,
			 &info, &t);
	print_reasons("forced iommufd, precise only", &info);
	ok = rc == -EOPNOTSUPP ? 0 : FAILF("tracker_new(IOMMUFD) = %d, want -EOPNOTSUPP", rc);
	if (!ok && (!has_reason(&info, IOMMUDIRTY_REASON_DEVICE_CANNOT_TRACK) ||
		    !has_reason(&info, IOMMUDIRTY_REASON_VTD_NO_SLADS) ||
		    !has_reason(&info, IOMMUDIRTY_REASON_VTD_NO_SMPWC)))
		ok = FAILF("opts.info lacks DEVICE_CANNOT_TRACK / VTD_NO_SLADS / VTD_NO_SMPWC");
	if (!ok && has_reason(&info, IOMMUDIRTY_REASON_TYPE1_CONSERVATIVE))
		ok = FAILF("forced iommufd reports TYPE1_CONSERVATIVE");
	n = count_fds(NULL);
	if (!ok && n != fds0 + 1)
		ok = FAILF("%d fds after the refusal, want %d (the iommufd)", n, fds0 + 1);
	R("type1_forced_iommufd_refused", ok);
	if (!rc)
		iommudirty_tracker_free(t);
	t = NULL;

	rc = new_tracker(ctx, IOMMUDIRTY_BACKEND_TYPE1, 0, &info, &t);
	print_reasons("forced type1", &info);
	ok = rc ? FAILF("tracker_new(TYPE1) = %d", rc) : 0;
	if (!ok && (info.backend != IOMMUDIRTY_BACKEND_TYPE1 || info.precise != 0 ||
		    !has_reason(&info, IOMMUDIRTY_REASON_TYPE1_CONSERVATIVE)))
		ok = FAILF("backend %u precise %d conservative %d", info.backend,
			   info.precise,
			   has_reason(&info, IOMMUDIRTY_REASON_TYPE1_CONSERVATIVE));
	if (!ok) {
		uint8_t *mem = kmem_alloc(0x10000, false);
		const uint64_t all[1] = { 0xffff };
		uint64_t bm[1];

		rc = mem ? iommudirty_tracker_map(t, mem, 0x10000, A1, IOMMUDIRTY_MAP_READ) : -ENOMEM;
		if (!rc)
			rc = iommudirty_tracker_start(t);
		ok = rc ? FAILF("map/start = %d", rc) :
		     lib_read(t, "forced type1 read", A1, 0x10000, PG, 0, all, 1);
		if (!ok) {
			memset(bm, 0, sizeof(bm));
			rc = iommudirty_tracker_unmap_dirty(t, A1, 0x10000, PG, bm, 8, 0);
			ok = rc ? FAILF("unmap_dirty = %d", rc) :
			     bm_is("forced type1 unmap_dirty", bm, all, 1);
		}
		iommudirty_tracker_free(t);
		t = NULL;
		kmem_free(mem, 0x10000, false);
	}
	R("type1_forced_type1_works", ok);
	iommudirty_tracker_free(t);
	iommudirty_ctx_free(ctx);

	/* A kernel without /dev/iommu (here: a path that does not exist). */
	ctx = new_ctx("/dev/iommu-absent");
	ok = ctx ? 0 : FAILF("ctx_new(IOMMUFD_OPTIONAL, no node): %s", strerror(errno));
	if (!ok && iommudirty_ctx_fd(ctx) >= 0)
		ok = FAILF("ctx has an iommufd");
	t = NULL;
	if (!ok) {
		rc = new_tracker(ctx, IOMMUDIRTY_BACKEND_AUTO, 0, &info, &t);
		print_reasons("auto without /dev/iommu", &info);
		ok = rc ? FAILF("tracker_new(AUTO) = %d", rc) : 0;
		if (!ok && (info.backend != IOMMUDIRTY_BACKEND_TYPE1 ||
			    !has_reason(&info, IOMMUDIRTY_REASON_NO_IOMMUFD) ||
			    !has_reason(&info, IOMMUDIRTY_REASON_TYPE1_CONSERVATIVE)))
			ok = FAILF("backend %u, NO_IOMMUFD %d, TYPE1_CONSERVATIVE %d",
				   info.backend,
				   has_reason(&info, IOMMUDIRTY_REASON_NO_IOMMUFD),
				   has_reason(&info, IOMMUDIRTY_REASON_TYPE1_CONSERVATIVE));
	}
	R("type1_auto_without_iommufd", ok);
	iommudirty_tracker_free(t);
	iommudirty_ctx_free(ctx);
	n = count_fds(NULL);
	R("type1_forced_no_fd_left", n == fds0 ? 0 :
	  FAILF("%d fds open, %d before", n, fds0));
}

/* ---- 4: type1's traps with raw ioctls on a container of our own ---- */

static int raw_get(int c, uint64_t iova, uint64_t size, uint64_t pgsize,
		   uint64_t *bm, uint64_t bm_bytes)
{
	struct uapi_vfio_dirty_pages_get g = {
		.hdr = { .argsz = sizeof(g), .flags = UAPI_VFIO_DIRTY_PAGES_FLAG_GET_BITMAP },
		.get = { .iova = iova, .size = size,
			 .bitmap = { .pgsize = pgsize, .size = bm_bytes,
				     .data = (uintptr_t)bm } },
	};

	return kioctl(c, VFIO_IOMMU_DIRTY_PAGES, &g);
}

static int raw_dirty(int c, uint32_t flags)
{
	struct uapi_vfio_dirty_bitmap d = { .argsz = sizeof(d), .flags = flags };

	return kioctl(c, VFIO_IOMMU_DIRTY_PAGES, &d);
}

static int raw_map(int c, void *va, uint64_t len, uint64_t iova)
{
	struct uapi_vfio_dma_map m = {
		.argsz = sizeof(m),
		.flags = UAPI_VFIO_DMA_MAP_FLAG_READ | UAPI_VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)va, .iova = iova, .size = len,
	};

	return kioctl(c, VFIO_IOMMU_MAP_DMA, &m);
}

/* Unmap, with a bitmap when pgsize != 0; *unmapped: the size the kernel
 * wrote back. */
static int raw_unmap(int c, uint64_t iova, uint64_t len, uint64_t pgsize,
		     uint64_t *bm, uint64_t bm_bytes, uint64_t *unmapped)
{
	struct uapi_vfio_dma_unmap_bitmap u = {
		.unmap = { .argsz = pgsize ? sizeof(u) : sizeof(u.unmap),
			   .flags = pgsize ? UAPI_VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP : 0,
			   .iova = iova, .size = len },
		.bitmap = { .pgsize = pgsize, .size = bm_bytes, .data = (uintptr_t)bm },
	};
	int rc = kioctl(c, VFIO_IOMMU_UNMAP_DMA, &u);

	if (unmapped)
		*unmapped = u.unmap.size;
	return rc;
}

/* GET_BITMAP into a bitmap prefilled with @fill; rc must be want_rc and,
 * when want is not NULL, the words as given. */
static int raw_get_is(int c, const char *what, uint64_t iova, uint64_t size,
		      uint64_t pgsize, uint64_t fill, int want_rc,
		      const uint64_t *want, int nwords)
{
	uint64_t bm[4];
	int rc;

	for (int i = 0; i < 4; i++)
		bm[i] = fill;
	rc = raw_get(c, iova, size, pgsize, bm, (size_t)nwords * 8);
	if (rc != want_rc)
		return FAILF("%s: GET_BITMAP = %d, want %d", what, rc, want_rc);
	return want ? bm_is(what, bm, want, nwords) : 0;
}

/* Container + group + TYPE1v2; CAP_MIGRATION printed. */
static int raw_setup(int *cont, int *grp)
{
	struct uapi_vfio_group_status st = { .argsz = sizeof(st) };
	char p[300], link[300], *base;
	union {
		struct uapi_vfio_iommu_type1_info info;
		uint8_t raw[1024];
	} u;
	ssize_t l;
	int rc, c, g;

	*cont = *grp = -1;
	c = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (c < 0)
		return FAILF("open /dev/vfio/vfio: %s", strerror(errno));
	*cont = c;
	rc = kioctl(c, VFIO_GET_API_VERSION, NULL);
	if (rc != VFIO_API_VERSION)
		return FAILF("GET_API_VERSION = %d", rc);
	rc = kioctl(c, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
	if (rc != 1)
		return FAILF("CHECK_EXTENSION(TYPE1v2) = %d", rc);
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/iommu_group", edu_bdf);
	l = readlink(p, link, sizeof(link) - 1);
	if (l <= 0)
		return FAILF("readlink %s: %s", p, strerror(errno));
	link[l] = 0;
	base = strrchr(link, '/');
	snprintf(p, sizeof(p), "/dev/vfio/%.200s", base ? base + 1 : link);
	g = open(p, O_RDWR | O_CLOEXEC);
	if (g < 0)
		return FAILF("open %s: %s", p, strerror(errno));
	*grp = g;
	rc = kioctl(g, VFIO_GROUP_GET_STATUS, &st);
	if (rc || !(st.flags & UAPI_VFIO_GROUP_FLAGS_VIABLE))
		return FAILF("GROUP_GET_STATUS = %d flags %#x", rc, st.flags);
	rc = kioctl(g, VFIO_GROUP_SET_CONTAINER, &c);
	if (rc)
		return FAILF("GROUP_SET_CONTAINER = %d", rc);
	rc = kioctl(c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
	if (rc)
		return FAILF("SET_IOMMU(TYPE1v2) = %d", rc);
	memset(&u, 0, sizeof(u));
	u.info.argsz = sizeof(u);
	rc = kioctl(c, VFIO_IOMMU_GET_INFO, &u.info);
	if (rc)
		return FAILF("IOMMU_GET_INFO = %d", rc);
	kinfo("type1 raw: iova_pgsizes %#llx flags %#x argsz %u",
	      (unsigned long long)u.info.iova_pgsizes, u.info.flags, u.info.argsz);
	for (uint32_t off = u.info.cap_offset; off && off + 8 <= sizeof(u);) {
		const struct uapi_vfio_info_cap_header *h = (const void *)(u.raw + off);

		if (h->id == UAPI_VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) {
			const struct uapi_vfio_cap_migration *m = (const void *)h;

			kinfo("type1 raw: CAP_MIGRATION v%u flags %#x pgsize_bitmap %#llx "
			      "max_dirty_bitmap_size %#llx", h->version, m->flags,
			      (unsigned long long)m->pgsize_bitmap,
			      (unsigned long long)m->max_dirty_bitmap_size);
		}
		if (h->next <= off)
			break;
		off = h->next;
	}
	return 0;
}

/* The A1, A2, hole, B layout at IOVA base (offsets as at A1), all backed by
 * mem (type1 pins the same pages once per mapping). */
static int raw_map_set(int c, uint8_t *mem, uint64_t base)
{
	int rc = raw_map(c, mem, 0x8000, base);

	if (!rc)
		rc = raw_map(c, mem + 0x8000, 0x8000, base + (A2 - A1));
	if (!rc)
		rc = raw_map(c, mem + 0x10000, 0x10000, base + (B - A1));
	return rc;
}

/*
 * The kernel keeps one bitmap per mapping (vfio_dma.bitmap). A report
 * (update_user_bitmap(): GET_BITMAP and unmap with bitmap alike) sets its
 * nbits and, when the mapping starts at bit `shift` != 0 of a u64 word of
 * the caller's bitmap, shifts it left by shift and ORs the caller's whole
 * first word into it, then copies whole words out; afterwards only bits
 * [0, nbits) are cleared. Bits [nbits, ...) stay: every later report of the
 * mapping, at any shift, writes them past its end (up to the end of the
 * last word written), growing by shift bits per mid-word report. So holes
 * and pages past the requested range read dirty, and bits of an earlier
 * caller bitmap come back. src/sim/type1.c writes exactly the mapping's
 * bits. Pinned here on mappings of their own.
 */
static int stale_bits(int c, uint8_t *mem, uint64_t base)
{
	/* A1+A2: A2 starts at bit 8. */
	const uint64_t grow[3] = { 0xffff, 0xffffff, 0xffffffff };
	const uint64_t p = 0x5a5a5a5a5a5a5a50ull;
	const uint64_t b_first = p | 0xffff0;
	const uint64_t b_later = 0xffff | (p & ~0xffffull) | 0xf0000;
	char what[64];
	int ok = raw_map_set(c, mem, base) ? FAILF("MAP_DMA failed") : 0;

	for (int i = 0; !ok && i < 3; i++) {
		snprintf(what, sizeof(what), "A1+A2 read %d", i + 1);
		ok = raw_get_is(c, what, base, 0x10000, PG, 0, 0, &grow[i], 1);
	}
	/* A2 alone (at bit 0 now): the stale bits stay, read after read. */
	for (int i = 0; !ok && i < 2; i++)
		ok = raw_get_is(c, "A2 alone", base + (A2 - A1), 0x8000, PG, 0, 0,
				&grow[2], 1);
	/* B from bit 4 of a caller word holding p, then alone at bit 0: p's
	 * bits above B's 16 come back (and those B was shifted through). */
	if (!ok)
		ok = raw_get_is(c, "B at bit 4 into p", base + (B - A1) - 4 * PG, 20 * PG,
				PG, p, 0, &b_first, 1);
	for (int i = 0; !ok && i < 2; i++)
		ok = raw_get_is(c, "B alone after", base + (B - A1), 0x10000, PG, 0, 0,
				&b_later, 1);
	/* Unmap with bitmap writes them too: A2's (bits 16-31, the hole)
	 * and B's (from bit 32 on, its 16 pages and p's bits above them). */
	if (!ok) {
		uint64_t bm[1] = { 0 }, unmapped;
		const uint64_t want = 0xffffffffull | b_later << 32;
		int rc = raw_unmap(c, base, RANGE_LEN, PG, bm, 8, &unmapped);

		ok = rc ? FAILF("UNMAP_DMA(GET_DIRTY_BITMAP) = %d", rc) :
		     bm_is("unmap with bitmap", bm, &want, 1);
		if (!ok && unmapped != 0x20000)
			ok = FAILF("unmapped %#llx bytes, want 0x20000",
				   (unsigned long long)unmapped);
	}
	return ok;
}

/* Each test on a fresh set of mappings (see stale_bits()): S1 rules,
 * S2 bitmap words, S3 unmap, S4 stale bits. */
#define S1 A1
#define S2 0x200000ull
#define S3 0x300000ull
#define S4 0x400000ull

static void raw_traps(void)
{
	const uint64_t w4k[1] = { ALL_4K };
	const uint64_t zero[1] = { 0 };
	const uint64_t a1[1] = { 0xff }, b[1] = { 0xffff };
	uint8_t *mem = kmem_alloc(MEM_LEN, false);
	int c = -1, g = -1, rc, ok;
	uint64_t bm[4], unmapped;

	ok = mem ? raw_setup(&c, &g) : FAILF("no memory");
	if (!ok) {
		rc = raw_map_set(c, mem, S1);
		if (!rc)
			rc = raw_map_set(c, mem, S2);
		if (!rc)
			rc = raw_map_set(c, mem, S3);
		if (rc)
			ok = FAILF("MAP_DMA = %d", rc);
	}
	R("type1_kernel_setup", ok);
	if (ok)
		goto out;

	R("type1_kernel_get_bitmap_before_start_einval",
	  raw_get_is(c, "before START", S1, RANGE_LEN, PG, 0, -EINVAL, NULL, 1));
	rc = raw_unmap(c, S3 + (B - A1), 0x10000, PG, bm, 8, NULL);
	R("type1_kernel_unmap_bitmap_before_start_einval", rc == -EINVAL ? 0 :
	  FAILF("UNMAP_DMA(GET_DIRTY_BITMAP) before START = %d, want -EINVAL", rc));
	rc = raw_dirty(c, UAPI_VFIO_DIRTY_PAGES_FLAG_START | UAPI_VFIO_DIRTY_PAGES_FLAG_STOP);
	R("type1_kernel_two_ops_einval", rc == -EINVAL ? 0 :
	  FAILF("DIRTY_PAGES(START|STOP) = %d, want -EINVAL", rc));

	rc = raw_dirty(c, UAPI_VFIO_DIRTY_PAGES_FLAG_START);
	if (!rc)
		rc = raw_dirty(c, UAPI_VFIO_DIRTY_PAGES_FLAG_START);
	R("type1_kernel_start_twice", rc ? FAILF("START, START = %d", rc) : 0);
	if (rc)
		goto out;

	/* Perpetually dirty: every mapped page, every read, nothing DMA'd.
	 * Mappings at bit 0 first (see stale_bits()), then the whole range. */
	ok = 0;
	for (int i = 0; !ok && i < 3; i++) {
		ok = raw_get_is(c, "A1 alone", S1, 0x8000, PG, 0, 0, a1, 1);
		if (!ok)
			ok = raw_get_is(c, "B alone", S1 + (B - A1), 0x10000, PG, 0, 0, b, 1);
	}
	if (!ok)
		ok = raw_get_is(c, "A1, A2, hole, B", S1, RANGE_LEN, PG, 0, 0, w4k, 1);
	R("type1_kernel_every_mapped_page_every_read", ok);

	/* Only the smallest IOMMU page size. */
	ok = raw_get_is(c, "pgsize 8K", S1, RANGE_LEN, 0x2000, 0, -EINVAL, NULL, 1);
	if (!ok)
		ok = raw_get_is(c, "pgsize 2K", S1, RANGE_LEN, 0x800, 0, -EINVAL, NULL, 2);
	if (!ok)
		ok = raw_get_is(c, "pgsize 64K", S1, RANGE_LEN, 0x10000, 0, -EINVAL, NULL, 1);
	R("type1_kernel_pgsize_not_4k_einval", ok);

	/* A range must not bisect a mapping, at either end. */
	ok = raw_get_is(c, "starts inside A1", S1 + PG, 0x8000 - PG, PG, 0, -EINVAL, NULL, 1);
	if (!ok)
		ok = raw_get_is(c, "ends inside A1", S1, PG, PG, 0, -EINVAL, NULL, 1);
	if (!ok)
		ok = raw_get_is(c, "ends inside A2", S1, 0xc000, PG, 0, -EINVAL, NULL, 1);
	if (!ok)
		ok = raw_get_is(c, "hole into B", S1 + (HOLE - A1), 0x14000, PG, 0,
				-EINVAL, NULL, 1);
	R("type1_kernel_bisecting_range_einval", ok);

	/* An unmapped range succeeds, writing nothing: zeros in a zeroed
	 * bitmap, the caller's bits left as they were otherwise; with no
	 * mapping in range even a NULL bitmap is never touched. */
	{
		const uint64_t pat[1] = { 0xa5a5a5a5a5a5a5a5ull };
		uint64_t hole = S1 + (HOLE - A1);

		ok = raw_get_is(c, "hole", hole, 0x10000, PG, 0, 0, zero, 1);
		if (!ok)
			ok = raw_get_is(c, "hole, pattern", hole, 0x10000, PG, pat[0], 0, pat, 1);
		if (!ok)
			ok = raw_get_is(c, "past every mapping", 0x500000, 0x10000, PG,
					0, 0, zero, 1);
		if (!ok && (rc = raw_get(c, hole, 0x10000, PG, NULL, 8)) != 0)
			ok = FAILF("hole, NULL bitmap: GET_BITMAP = %d, want 0", rc);
		if (!ok && (rc = raw_get(c, S1, 0x10000, PG, NULL, 8)) != -EFAULT)
			ok = FAILF("A1+A2, NULL bitmap: GET_BITMAP = %d, want -EFAULT", rc);
		R("type1_kernel_unmapped_range_zeros", ok);
	}

	/* The bitmap's size is checked against the range. */
	ok = raw_get_is(c, "bitmap size 0", S1, RANGE_LEN, PG, 0, -EINVAL, NULL, 0);
	if (!ok) {
		rc = raw_get(c, S1, 1088 * PG, PG, bm, 8);
		if (rc != -EINVAL)
			ok = FAILF("bitmap 8 bytes for 1088 pages: GET_BITMAP = %d, want -EINVAL", rc);
	}
	R("type1_kernel_bitmap_too_small_einval", ok);

	/* Bitmap words, on mappings never reported before: a mapping's words
	 * are replaced (bits past it in its last word read 0), except a first
	 * word it starts inside, which is OR-ed with the caller's. */
	{
		const uint64_t a_words[1] = { 0xffff };
		const uint64_t ored[1] = { ~0ull };
		/* [B - 240 KiB, B + 64 KiB): A1 at bit 28, A2 at 36 (word 0,
		 * OR-ed), B at bit 60: its bits 0-3 in word 0 (OR-ed: all
		 * ones), 4-15 in word 1, replaced: 0xfff. */
		const uint64_t b_want[2] = { ~0ull, 0xfff };

		ok = raw_get_is(c, "A1+A2 into ones", S2, 0x10000, PG, ~0ull, 0, a_words, 1);
		if (!ok)
			ok = raw_get_is(c, "hole+A1+A2 into ones", S2 - 0x4000, 0x14000, PG,
					~0ull, 0, ored, 1);
		if (!ok)
			ok = raw_get_is(c, "B at bit 60 into ones", S2 + (B - A1) - 60 * PG,
					76 * PG, PG, ~0ull, 0, b_want, 2);
		R("type1_kernel_bitmap_words", ok);
	}

	/* Unmap: bisecting refused (v2), GET_DIRTY_BITMAP at 8K refused, then
	 * the unmap with bitmap (atomic in the kernel) reports every page of
	 * every mapping, on mappings never reported before. */
	rc = raw_unmap(c, S3 + PG, PG, 0, NULL, 0, NULL);
	ok = rc == -EINVAL ? 0 : FAILF("UNMAP_DMA bisecting A1 = %d, want -EINVAL", rc);
	if (!ok) {
		rc = raw_unmap(c, S3 + (B - A1), 0x10000, 0x2000, bm, 8, NULL);
		if (rc != -EINVAL)
			ok = FAILF("UNMAP_DMA(GET_DIRTY_BITMAP, pgsize 8K) = %d, want -EINVAL", rc);
	}
	R("type1_kernel_unmap_refusals", ok);

	memset(bm, 0, sizeof(bm));
	rc = raw_unmap(c, S3, RANGE_LEN, PG, bm, 8, &unmapped);
	ok = rc ? FAILF("UNMAP_DMA(GET_DIRTY_BITMAP) = %d", rc) : 0;
	if (!ok && unmapped != 0x20000)
		ok = FAILF("unmapped %#llx bytes, want 0x20000", (unsigned long long)unmapped);
	if (!ok)
		ok = bm_is("unmap with bitmap", bm, w4k, 1);
	if (!ok)
		ok = raw_get_is(c, "after unmap", S3, RANGE_LEN, PG, 0, 0, zero, 1);
	R("type1_kernel_unmap_with_bitmap_all_pages", ok);

	R("type1_kernel_stale_bits_past_mapping", stale_bits(c, mem, S4));

	rc = raw_dirty(c, UAPI_VFIO_DIRTY_PAGES_FLAG_STOP);
	ok = rc ? FAILF("STOP = %d", rc) : 0;
	if (!ok)
		ok = raw_get_is(c, "after STOP", S1, RANGE_LEN, PG, 0, -EINVAL, NULL, 1);
	R("type1_kernel_get_bitmap_after_stop_einval", ok);
out:
	if (g >= 0)
		close(g);
	if (c >= 0)
		close(c);
	kmem_free(mem, MEM_LEN, false);
}

void run_type1_tests(const char *bdf)
{
	int fds0 = count_fds(NULL);

	edu_bdf = bdf;
	why[0] = 0;
	library_path(fds0);
	forced_backends(fds0);
	raw_traps();
}
