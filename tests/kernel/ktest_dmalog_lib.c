// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Boot 2, part four: the library's per-device dirty sources on the real
 * kernel. Two edu devices under the emulated VT-d (which cannot track):
 * the second on our edu-vfio-pci driver (its source: the device log), the
 * first on stock vfio-pci (no source: an untracked writer). The library
 * must pick the log for the first, report the second conservatively with
 * its reasons (or refuse it when precise data is required), and report
 * exactly the pages edu's DMA wrote, through the kernel's own START/REPORT
 * code and iova_bitmap. Over iommufd and over a type1 container. Then the
 * mtty sample: an emulated-IOMMU device attached to the IOAS itself.
 *
 * Runs after run_dmalog_tests(), which leaves the second edu bound to
 * edu-vfio-pci and the first to vfio-pci, every fd closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iommudirty.h"
#include "kdmalog.h"
#include "kedu.h"
#include "kutil.h"

#define BOOT "boot2"
#define R(name, rc) kresult(BOOT, name, rc, why)
#define FAILF(...) (snprintf(why, sizeof(why), __VA_ARGS__), -1)

#define PG 4096ull
#define IOVA 0x400000ull  /* < 256 MiB: edu's DMA mask */
#define LEN (64 * 1024ull) /* 16 pages */

static char bdf_log[32], bdf_plain[32];

static bool has_reason(const struct iommudirty_source_info *si, uint32_t r)
{
	for (uint32_t i = 0; i < si->nr_reasons; i++)
		if (si->reasons[i] == r)
			return true;
	return false;
}

static void print_source(const char *what, const struct iommudirty_source_info *si)
{
	char line[600];
	int n = snprintf(line, sizeof(line), "%s: source %s, precise %d, reasons:", what,
			 iommudirty_source_str(si->source), si->precise);

	for (uint32_t i = 0; i < si->nr_reasons && n < (int)sizeof(line) - 8; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " %u", si->reasons[i]);
	kinfo("%s", line);
}

struct lib {
	struct iommudirty_ctx *ctx;
	struct iommudirty_tracker *t;
	struct iommudirty_tracker_info info;
	uint8_t *mem;
};

static void lib_free(struct lib *l)
{
	iommudirty_tracker_free(l->t);
	iommudirty_ctx_free(l->ctx);
	if (l->mem)
		kmem_free(l->mem, LEN, false);
	memset(l, 0, sizeof(*l));
}

/* A tracker over the given PCI devices; mapped and started unless
 * new_ret says creation must fail. */
static int lib_new(struct lib *l, const char *const *bdfs, uint32_t n, uint32_t backend,
		   unsigned int flags, int new_ret)
{
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co, .flags = IOMMUDIRTY_CTX_IOMMUFD_OPTIONAL);
	int ret;

	memset(l, 0, sizeof(*l));
	l->info.sz = sizeof(l->info);
	l->ctx = iommudirty_ctx_new(&co);
	if (!l->ctx)
		return FAILF("ctx_new: %s", strerror(errno));
	{
		IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .backend = backend, .flags = flags,
				.pci_devices = bdfs, .nr_pci_devices = n, .info = &l->info);

		ret = iommudirty_tracker_new(l->ctx, &o, &l->t);
	}
	if (ret != new_ret)
		return FAILF("tracker_new = %d, want %d", ret, new_ret);
	if (ret)
		return 0;
	l->mem = kmem_alloc(LEN, false);
	if (!l->mem)
		return FAILF("no memory");
	memset(l->mem, 0, LEN);
	ret = iommudirty_tracker_map(l->t, l->mem, LEN, IOVA,
				     IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE);
	if (!ret)
		ret = iommudirty_tracker_start(l->t);
	if (ret)
		return FAILF("map/start: %d", ret);
	return iommudirty_tracker_info(l->t, &l->info) ? FAILF("tracker_info") : 0;
}

/* edu's DMA from its buffer into page `page` of the mapping, through the
 * tracker's own fd of device `index`. */
static int edu_write_page(struct lib *l, unsigned int index, unsigned int page)
{
	int fd = iommudirty_tracker_device_fd(l->t, index);
	uint64_t bar0;

	if (fd < 0)
		return FAILF("device_fd(%u) = %d", index, fd);
	if (kdl_edu_setup(fd, &bar0))
		return -1;
	return kdl_edu_dma(fd, bar0, 0x40000, IOVA + page * PG, 64, true);
}

static int read16(struct lib *l, uint64_t *m, unsigned int flags)
{
	int ret = iommudirty_tracker_read(l->t, IOVA, LEN, PG, m, 8, flags);

	return ret ? FAILF("read = %d", ret) : 0;
}

/* The logging edu alone, over iommufd: its log is chosen and exact. */
static int t_log_exact(uint32_t backend)
{
	const char *bdfs[] = { bdf_log };
	IOMMUDIRTY_OPTS(iommudirty_source_info, si);
	struct lib l;
	uint64_t m = 0;
	int rc = -1;

	if (lib_new(&l, bdfs, 1, backend, IOMMUDIRTY_TRACKER_PRECISE_ONLY, 0))
		goto out;
	if (iommudirty_tracker_source_info(l.t, 0, &si) != 1) {
		(void)FAILF("source_info");
		goto out;
	}
	print_source(backend == IOMMUDIRTY_BACKEND_TYPE1 ? "type1: logging edu" :
		     "iommufd: logging edu", &si);
	if (si.source != IOMMUDIRTY_SOURCE_DEVICE_LOG || !si.precise || !l.info.precise ||
	    si.log_nr_ranges != 1 || si.log_page_size != PG || !(si.migration_flags & 1)) {
		(void)FAILF("source %u precise %d/%d ranges %u page %#llx mig %#llx", si.source,
		      si.precise, l.info.precise, si.log_nr_ranges,
		      (unsigned long long)si.log_page_size,
		      (unsigned long long)si.migration_flags);
		goto out;
	}
	if (backend == IOMMUDIRTY_BACKEND_TYPE1 && l.info.backend != IOMMUDIRTY_BACKEND_TYPE1) {
		(void)FAILF("backend %u", l.info.backend);
		goto out;
	}
	if (edu_write_page(&l, 0, 3) || read16(&l, &m, IOMMUDIRTY_READ_NO_CLEAR))
		goto out;
	if (m != 1u << 3) {
		(void)FAILF("NO_CLEAR read after a DMA to page 3: %#llx", (unsigned long long)m);
		goto out;
	}
	if (read16(&l, &m, 0))
		goto out;
	if (m != 1u << 3) {
		(void)FAILF("read after NO_CLEAR: %#llx, want page 3 again", (unsigned long long)m);
		goto out;
	}
	if (read16(&l, &m, 0))
		goto out;
	if (m) {
		(void)FAILF("second clearing read: %#llx, want clean", (unsigned long long)m);
		goto out;
	}
	/* unmap_dirty: unmap, then REPORT; the page written before is there. */
	if (edu_write_page(&l, 0, 9))
		goto out;
	rc = iommudirty_tracker_unmap_dirty(l.t, IOVA, LEN, PG, &m, 8, 0);
	if (rc || m != 1u << 9) {
		rc = FAILF("unmap_dirty = %d, bits %#llx, want page 9", rc, (unsigned long long)m);
		goto out;
	}
	rc = 0;
out:
	lib_free(&l);
	return rc;
}

/* A DMA still running when the library reads: reported, not lost. */
static int t_in_flight(void)
{
	const char *bdfs[] = { bdf_log };
	struct lib l;
	uint64_t m = 0, bar0;
	int fd, rc = -1;

	if (lib_new(&l, bdfs, 1, IOMMUDIRTY_BACKEND_IOMMUFD, 0, 0))
		goto out;
	fd = iommudirty_tracker_device_fd(l.t, 0);
	if (kdl_edu_setup(fd, &bar0) ||
	    kdl_edu_dma_start(fd, bar0, 0x40000, IOVA + 5 * PG, 64, true))
		goto out;
	if (read16(&l, &m, 0))
		goto out;
	if (kdl_edu_running(fd, bar0) != 1)
		kinfo("in-flight: the DMA finished before the read (slow host)");
	if (!(m & (1u << 5))) {
		(void)FAILF("read while the DMA runs: %#llx, page 5 missing", (unsigned long long)m);
		goto out;
	}
	if (kdl_edu_dma_wait(fd, bar0) || read16(&l, &m, 0) || read16(&l, &m, 0))
		goto out;
	if (m) {
		(void)FAILF("after completion and two reads: %#llx, want clean", (unsigned long long)m);
		goto out;
	}
	rc = 0;
out:
	lib_free(&l);
	return rc;
}

/* Both edus: the log for one, the other an untracked writer with every
 * reason; the union reports every writable page; precise-only refuses. */
static int t_two_edus(uint32_t backend)
{
	const char *bdfs[] = { bdf_log, bdf_plain };
	IOMMUDIRTY_OPTS(iommudirty_source_info, s0);
	IOMMUDIRTY_OPTS(iommudirty_source_info, s1);
	uint32_t want_plain = backend == IOMMUDIRTY_BACKEND_TYPE1 ? IOMMUDIRTY_SOURCE_TYPE1 :
				IOMMUDIRTY_SOURCE_NONE;
	struct lib l;
	uint64_t m = 0;
	int rc = -1;

	if (lib_new(&l, bdfs, 2, backend, 0, 0))
		goto out;
	if (iommudirty_tracker_source_info(l.t, 0, &s0) != 2 ||
	    iommudirty_tracker_source_info(l.t, 1, &s1) != 2) {
		(void)FAILF("source_info");
		goto out;
	}
	print_source("two edus: edu-vfio-pci", &s0);
	print_source("two edus: vfio-pci", &s1);
	if (s0.source != IOMMUDIRTY_SOURCE_DEVICE_LOG || s1.source != want_plain ||
	    s1.precise || l.info.precise || l.info.nr_conservative != 1 ||
	    !has_reason(&s1, IOMMUDIRTY_REASON_NO_DMA_LOGGING) ||
	    (backend != IOMMUDIRTY_BACKEND_TYPE1 &&
	     (!has_reason(&s1, IOMMUDIRTY_REASON_DEVICE_CANNOT_TRACK) ||
	      !has_reason(&s1, IOMMUDIRTY_REASON_VTD_NO_SLADS) ||
	      !has_reason(&s1, IOMMUDIRTY_REASON_UNTRACKED_WRITER)))) {
		(void)FAILF("sources %u/%u, precise %d, conservative %u", s0.source, s1.source,
		      l.info.precise, l.info.nr_conservative);
		goto out;
	}
	if (backend != IOMMUDIRTY_BACKEND_TYPE1 && l.info.backend != IOMMUDIRTY_BACKEND_IOMMUFD) {
		(void)FAILF("auto chose backend %u, want iommufd", l.info.backend);
		goto out;
	}
	/* The plain edu writes: every writable page must be reported. */
	if (edu_write_page(&l, 1, 6) || read16(&l, &m, 0))
		goto out;
	if (m != 0xffff) {
		(void)FAILF("union with an untracked writer: %#llx, want every page",
		      (unsigned long long)m);
		goto out;
	}
	lib_free(&l);
	/* Precise data only: refused at creation, with the reasons. */
	if (lib_new(&l, bdfs, 2, backend, IOMMUDIRTY_TRACKER_PRECISE_ONLY, -EOPNOTSUPP))
		goto out;
	{
		bool precise_only = false;

		for (uint32_t i = 0; i < l.info.nr_reasons; i++)
			precise_only |= l.info.reasons[i] == IOMMUDIRTY_REASON_PRECISE_ONLY;
		if (!precise_only) {
			(void)FAILF("precise-only refusal without PRECISE_ONLY among %u reasons",
			      l.info.nr_reasons);
			goto out;
		}
	}
	rc = 0;
out:
	lib_free(&l);
	return rc;
}

/* mtty: an emulated-IOMMU device, attached to the IOAS, its log the only
 * source (a stub that reports nothing), its migration flags. */
static int t_mtty(void)
{
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co);
	IOMMUDIRTY_OPTS(iommudirty_caps, caps);
	IOMMUDIRTY_OPTS(iommudirty_source_info, si);
	struct iommudirty_ctx *ctx = NULL;
	struct iommudirty_device *dev = NULL;
	struct iommudirty_tracker *t = NULL;
	char cdev[64];
	uint8_t *mem = NULL;
	uint64_t m = 1;
	int fd = -1, rc = -1, ret;

	if (kdl_mtty_create(cdev, sizeof(cdev)))
		return -1;
	fd = open(cdev, O_RDWR);
	ctx = iommudirty_ctx_new(&co);
	if (fd < 0 || !ctx) {
		(void)FAILF("open %s / ctx: %s", cdev, strerror(errno));
		goto out;
	}
	ret = iommudirty_device_bind(ctx, fd, &dev);
	if (ret || iommudirty_device_caps(dev, &caps)) {
		(void)FAILF("bind = %d", ret);
		goto out;
	}
	kinfo("mtty caps: emulated_iommu %d, dma_logging %d, migration %#llx",
	      caps.emulated_iommu, caps.dma_logging, (unsigned long long)caps.migration_flags);
	if (caps.emulated_iommu != 1 || caps.dma_logging != 1 || caps.migration_flags != 7) {
		(void)FAILF("mtty caps: emulated %d logging %d migration %#llx", caps.emulated_iommu,
		      caps.dma_logging, (unsigned long long)caps.migration_flags);
		goto out;
	}
	if (iommudirty_tracker_new(ctx, NULL, &t) || iommudirty_tracker_attach(t, dev)) {
		(void)FAILF("tracker_new/attach: %s", strerror(errno));
		goto out;
	}
	if (iommudirty_tracker_source_info(t, 0, &si) != 1) {
		(void)FAILF("source_info");
		goto out;
	}
	print_source("mtty", &si);
	if (si.source != IOMMUDIRTY_SOURCE_DEVICE_LOG ||
	    !has_reason(&si, IOMMUDIRTY_REASON_EMULATED_IOMMU) ||
	    iommudirty_tracker_hwpt_ids(t, NULL, 0) != 0) {
		(void)FAILF("mtty source %u, hwpts %d", si.source, iommudirty_tracker_hwpt_ids(t, NULL, 0));
		goto out;
	}
	mem = kmem_alloc(LEN, false);
	if (!mem || iommudirty_tracker_map(t, mem, LEN, IOVA, IOMMUDIRTY_MAP_READ |
					   IOMMUDIRTY_MAP_WRITE) ||
	    iommudirty_tracker_start(t)) {
		(void)FAILF("map/start: %s", strerror(errno));
		goto out;
	}
	ret = iommudirty_tracker_read(t, IOVA, LEN, PG, &m, 8, 0);
	if (ret || m) {
		(void)FAILF("read = %d, bits %#llx (the stub logs nothing)", ret, (unsigned long long)m);
		goto out;
	}
	if (iommudirty_tracker_stop(t)) {
		(void)FAILF("stop: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	iommudirty_tracker_free(t);
	iommudirty_device_free(dev);
	iommudirty_ctx_free(ctx);
	if (fd >= 0)
		close(fd);
	if (mem)
		kmem_free(mem, LEN, false);
	kdl_mtty_remove();
	return rc;
}

void dmalog_lib_tests(void)
{
	if (kdl_find_edu(0, bdf_plain, sizeof(bdf_plain)) ||
	    kdl_find_edu(1, bdf_log, sizeof(bdf_log))) {
		R("dmalog_lib_setup", -1);
		return;
	}
	R("dmalog_lib_log_exact_iommufd", t_log_exact(IOMMUDIRTY_BACKEND_IOMMUFD));
	R("dmalog_lib_log_exact_type1", t_log_exact(IOMMUDIRTY_BACKEND_TYPE1));
	R("dmalog_lib_in_flight", t_in_flight());
	R("dmalog_lib_two_edus_iommufd", t_two_edus(IOMMUDIRTY_BACKEND_AUTO));
	R("dmalog_lib_two_edus_type1", t_two_edus(IOMMUDIRTY_BACKEND_TYPE1));
	R("dmalog_lib_mtty", t_mtty());
}
