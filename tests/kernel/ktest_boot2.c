// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Boot 2: QEMU's emulated Intel VT-d (scalable mode, no second-stage dirty
 * support) and two edu PCI devices; the first is bound to vfio-pci here.
 * The real "this IOMMU cannot track" path: the library binds the cdev,
 * reports the registers it saw, refuses a dirty tracker, still maps and
 * unmaps; a real edu DMA through a library mapping is verified. Then the
 * type1 part (ktest_type1.c), device DMA logging with the second edu on
 * edu-vfio-pci (ktest_dmalog.c), the library on it (ktest_dmalog_lib.c),
 * its devlink ports (ktest_devlink.c) and the programs of examples/ on
 * both edus (ktest_examples.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "iommudirty.h"
#include "kdmalog.h"
#include "kedu.h"
#include "kprobe.h"
#include "kutil.h"
#include "uapi.h"

#define BOOT "boot2"

/* ktest_examples.c: the example_* tests (edu 1 on vfio-pci, edu 2 on
 * edu-vfio-pci, no fd of either open). */
void run_example_tests(void);

/* VFIO bits beyond src/uapi.h (stable since VFIO's first release). */
#define KVFIO_DEVICE_GET_REGION_INFO UAPI_IO(VFIO_TYPE, VFIO_BASE + 8)
#define KVFIO_PCI_BAR0_REGION_INDEX 0
#define KVFIO_PCI_CONFIG_REGION_INDEX 7
struct kvfio_region_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t cap_offset;
	uint64_t size;
	uint64_t offset;
};
UAPI_SIZE(kvfio_region_info, 32);
UAPI_PIN(kvfio_region_info, offset, 24);

#define IOVA 0x100000ull /* < 256 MiB for edu */
#define LEN 0x10000ull

char why[512];
#define R(name, rc) kresult(BOOT, name, rc, why)
#define FAILF(...) (snprintf(why, sizeof(why), __VA_ARGS__), -1)

static char bdf[256];
int devfd = -1;
static uint64_t bar0_off, cfg_off;

/* The first edu in BDF order (boot 2 has two; ktest_dmalog.c takes the
 * second). */
static int find_edu(void)
{
	return kdl_find_edu(0, bdf, sizeof(bdf));
}

/* driver_override + drivers_probe, then open its VFIO cdev. */
static int bind_vfio(void)
{
	char p[600], link[300];
	DIR *d;
	struct dirent *de;
	ssize_t n;
	int rc;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver_override", bdf);
	rc = kwrite_str(p, "vfio-pci");
	if (rc)
		return FAILF("driver_override: %s", strerror(-rc));
	rc = kwrite_str("/sys/bus/pci/drivers_probe", bdf);
	if (rc)
		return FAILF("drivers_probe: %s", strerror(-rc));
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(p, link, sizeof(link) - 1);
	if (n < 0)
		return FAILF("%s not bound to any driver", bdf);
	link[n] = 0;
	if (!strstr(link, "vfio-pci"))
		return FAILF("%.64s bound to %.200s", bdf, link);
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	d = opendir(p);
	if (!d)
		return FAILF("no %.300s (VFIO_DEVICE_CDEV?)", p);
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "vfio", 4))
			break;
	if (!de) {
		closedir(d);
		return FAILF("no vfioN under %.300s", p);
	}
	snprintf(p, sizeof(p), "/dev/vfio/devices/%s", de->d_name);
	closedir(d);
	devfd = open(p, O_RDWR | O_CLOEXEC);
	if (devfd < 0)
		return FAILF("open %.300s: %s", p, strerror(errno));
	kinfo("edu %s bound to vfio-pci, %s", bdf, p);
	return 0;
}

static int region(uint32_t index, uint64_t *off)
{
	struct kvfio_region_info ri = { .argsz = sizeof(ri), .index = index };
	int rc = kioctl(devfd, KVFIO_DEVICE_GET_REGION_INFO, &ri);

	if (rc)
		return rc;
	*off = ri.offset;
	return 0;
}

static int bar_rd64(uint32_t reg, uint64_t *v)
{
	return pread(devfd, v, 8, bar0_off + reg) == 8 ? 0 : -EIO;
}

static int bar_wr64(uint32_t reg, uint64_t v)
{
	return pwrite(devfd, &v, 8, bar0_off + reg) == 8 ? 0 : -EIO;
}

/* Only after the device is attached to an IOAS/HWPT or its group is in a
 * container (the regions need an open, bound device). */
int edu_setup(void)
{
	uint16_t cmd;
	uint32_t id;
	int rc;

	rc = region(KVFIO_PCI_BAR0_REGION_INDEX, &bar0_off);
	if (!rc)
		rc = region(KVFIO_PCI_CONFIG_REGION_INDEX, &cfg_off);
	if (rc)
		return FAILF("REGION_INFO: %s", strerror(-rc));
	if (pread(devfd, &id, 4, bar0_off + EDU_ID) != 4)
		return FAILF("reading the edu id: %s", strerror(errno));
	if ((id & 0xff) != 0xed)
		return FAILF("edu id register %#x", id);
	/* Memory space + bus master. */
	if (pread(devfd, &cmd, 2, cfg_off + 4) != 2)
		return FAILF("config read: %s", strerror(errno));
	cmd |= 0x6;
	if (pwrite(devfd, &cmd, 2, cfg_off + 4) != 2)
		return FAILF("config write: %s", strerror(errno));
	return 0;
}

/* One edu DMA; polls the command register (transfers run on a timer). */
int edu_dma(uint64_t src, uint64_t dst, uint64_t cnt, bool to_ram)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	uint64_t v;

	if (bar_wr64(EDU_DMA_SRC, src) || bar_wr64(EDU_DMA_DST, dst) ||
	    bar_wr64(EDU_DMA_CNT, cnt) ||
	    bar_wr64(EDU_DMA_CMD, EDU_CMD_RUN | (to_ram ? EDU_CMD_TO_RAM : 0)))
		return FAILF("edu register write failed");
	for (int i = 0; i < 400; i++) {
		if (bar_rd64(EDU_DMA_CMD, &v))
			return FAILF("edu register read failed");
		if (!(v & EDU_CMD_RUN))
			return 0;
		nanosleep(&ts, NULL);
	}
	return FAILF("edu DMA did not complete in 2 s");
}

/* The library's log: the refusal must say why. */
static char last_log[512];

static void log_cb(enum iommudirty_log_level level, const char *msg, void *user)
{
	if (level <= IOMMUDIRTY_LOG_WARN)
		snprintf(last_log, sizeof(last_log), "%s", msg);
}

/* edu through its cdev (devfd) and iommufd. Closes devfd when done. */
static void cdev_tests(void)
{
	struct iommudirty_ctx *ctx = NULL;
	struct iommudirty_device *dev = NULL;
	struct iommudirty_tracker *t = NULL;
	struct iommudirty_hw_info info = { .sz = sizeof(info) };
	uint8_t *buf = NULL;
	int rc, ok;

	{
		IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co, .log_fn = log_cb,
				.log_level = IOMMUDIRTY_LOG_WARN);

		ctx = iommudirty_ctx_new(&co);
	}
	R("lib_ctx_new", ctx ? 0 : FAILF("iommudirty_ctx_new: %s", strerror(errno)));
	if (!ctx)
		return;

	rc = iommudirty_device_bind(ctx, devfd, &dev);
	R("lib_device_bind", rc ? FAILF("iommudirty_device_bind = %d", rc) : 0);
	if (rc)
		return;

	/* What the library read with IOMMU_GET_HW_INFO. */
	rc = iommudirty_device_hw_info(dev, &info);
	ok = rc ? FAILF("hw_info = %d", rc) : 0;
	if (!ok && info.type != IOMMUDIRTY_HW_INFO_INTEL_VTD)
		ok = FAILF("hw_info type %#x, want 1 (VT-d)", info.type);
	if (!ok && (info.capabilities & IOMMUDIRTY_HW_CAP_DIRTY_TRACKING))
		ok = FAILF("capabilities %#llx claim dirty tracking",
			   (unsigned long long)info.capabilities);
	if (!ok && info.data_len < 24)
		ok = FAILF("VT-d data_len %u < 24", info.data_len);
	if (!ok) {
		uint64_t cap, ecap;

		memcpy(&cap, info.data + 8, 8);
		memcpy(&ecap, info.data + 16, 8);
		kinfo("VT-d cap_reg %#llx ecap_reg %#llx capabilities %#llx "
		      "(ECAP.SLADS bit 45 = %d, SMTS bit 43 = %d)",
		      (unsigned long long)cap, (unsigned long long)ecap,
		      (unsigned long long)info.capabilities,
		      (int)(ecap >> 45 & 1), (int)(ecap >> 43 & 1));
		if (!cap || !ecap)
			ok = FAILF("cap_reg/ecap_reg are 0");
		else if (ecap >> 45 & 1)
			ok = FAILF("ecap_reg %#llx has SLADS", (unsigned long long)ecap);
	}
	R("lib_hw_info_vtd_no_dirty", ok);

	rc = iommudirty_device_dirty_capable(dev);
	R("lib_dirty_capable_0", rc == 0 ? 0 : FAILF("dirty_capable = %d", rc));

	/* Why not, from the registers: scalable mode is on (SMTS, SLTS) but
	 * QEMU emulates neither SLADS nor SMPWC. */
	{
		IOMMUDIRTY_OPTS(iommudirty_caps, c);
		bool slads = false, smpwc = false, smts = false;

		rc = iommudirty_device_caps(dev, &c);
		ok = rc ? FAILF("device_caps = %d", rc) : 0;
		for (uint32_t i = 0; !ok && i < c.nr_reasons; i++) {
			kinfo("edu IOMMU reason %u: %s", c.reasons[i],
			      iommudirty_reason_str(c.reasons[i]));
			slads |= c.reasons[i] == IOMMUDIRTY_REASON_VTD_NO_SLADS;
			smpwc |= c.reasons[i] == IOMMUDIRTY_REASON_VTD_NO_SMPWC;
			smts |= c.reasons[i] == IOMMUDIRTY_REASON_VTD_NO_SMTS;
		}
		if (!ok && (c.vendor != IOMMUDIRTY_VENDOR_INTEL_VTD || c.dirty != 0))
			ok = FAILF("vendor %u dirty %d, want VT-d, 0", c.vendor, c.dirty);
		if (!ok && (!slads || !smpwc))
			ok = FAILF("reasons lack VTD_NO_SLADS (%d) or VTD_NO_SMPWC (%d)",
				   slads, smpwc);
		if (!ok && smts)
			ok = FAILF("VTD_NO_SMTS in scalable mode");
		if (!ok && c.decoded_dirty != 0)
			ok = FAILF("registers decoded as %d, want 0", c.decoded_dirty);
		R("lib_caps_vtd_no_slads_smpwc", ok);
	}

	/* Since 0.2 a device that cannot track is attached as a conservative
	 * (untracked) writer unless the tracker takes precise sources only. */
	{
		IOMMUDIRTY_OPTS(iommudirty_tracker_opts, to,
				.flags = IOMMUDIRTY_TRACKER_PRECISE_ONLY);

		rc = iommudirty_tracker_new(ctx, &to, &t);
	}
	R("lib_tracker_new", rc ? FAILF("tracker_new = %d", rc) : 0);
	if (rc)
		return;
	last_log[0] = 0;
	rc = iommudirty_tracker_attach(t, dev);
	R("lib_attach_refused", rc == -EOPNOTSUPP ? 0 :
	  FAILF("tracker_attach = %d, want -EOPNOTSUPP", rc));
	kinfo("library log: %s", last_log);
	R("lib_attach_refusal_logged", last_log[0] ? 0 :
	  FAILF("no error logged for the refusal"));
	{
		uint32_t h;

		rc = iommudirty_tracker_alloc_hwpt(t, dev, &h);
		R("lib_alloc_hwpt_refused", rc == -EOPNOTSUPP ? 0 :
		  FAILF("tracker_alloc_hwpt = %d, want -EOPNOTSUPP", rc));
		rc = iommudirty_tracker_hwpt_ids(t, NULL, 0);
		R("lib_no_hwpt_left", rc == 0 ? 0 :
		  FAILF("tracker has %d HWPTs after the refusals", rc));
	}

	/* Map through the library, attach with the raw VFIO call (the library
	 * refuses a non-tracking attach), let edu copy through the map. */
	buf = kmem_alloc(LEN, false);
	if (!buf) {
		R("lib_map_edu_dma", FAILF("no memory"));
		return;
	}
	rc = iommudirty_tracker_map(t, buf, LEN, IOVA,
				    IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE);
	R("lib_map", rc ? FAILF("tracker_map = %d", rc) : 0);
	if (rc)
		return;
	{
		struct uapi_vfio_attach_pt at = {
			.argsz = sizeof(at),
			.pt_id = iommudirty_tracker_ioas_id(t),
		};

		rc = kioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at);
		ok = rc ? FAILF("VFIO_DEVICE_ATTACH_IOMMUFD_PT(ioas) = %d", rc) : 0;
		if (!ok)
			ok = edu_setup();
		R("raw_attach_ioas", ok);
		if (ok)
			return;
	}
	for (size_t i = 0; i < 4096; i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	memset(buf + 0x8000, 0, 4096);
	ok = edu_dma(IOVA, EDU_BUF, 4096, false);
	if (!ok)
		ok = edu_dma(EDU_BUF, IOVA + 0x8000, 4096, true);
	if (!ok && memcmp(buf, buf + 0x8000, 4096))
		ok = FAILF("edu copy through the IOMMU: data differ");
	R("lib_map_edu_dma", ok);

	/* Unmapped: the device write must no longer reach memory. */
	rc = iommudirty_tracker_unmap(t, IOVA, LEN);
	R("lib_unmap", rc ? FAILF("tracker_unmap = %d", rc) : 0);
	if (!rc) {
		memset(buf + 0x8000, 0x5a, 4096);
		ok = edu_dma(EDU_BUF, IOVA + 0x8000, 4096, true);
		for (size_t i = 0; !ok && i < 4096; i++)
			if (buf[0x8000 + i] != 0x5a)
				ok = FAILF("edu wrote to unmapped IOVA (byte %zu)", i);
		R("edu_dma_after_unmap_blocked", ok);
	}

	/* Dirty ioctls on this IOMMU: a plain HWPT cannot track. */
	{
		struct uapi_hwpt_alloc a = {
			.size = sizeof(a), .dev_id = iommudirty_device_id(dev),
			.pt_id = iommudirty_tracker_ioas_id(t),
			.flags = UAPI_HWPT_ALLOC_DIRTY_TRACKING,
		};
		int fd = iommudirty_ctx_fd(ctx);

		rc = kioctl(fd, IOMMU_HWPT_ALLOC, &a);
		R("raw_hwpt_alloc_dirty_eopnotsupp", rc == -EOPNOTSUPP ? 0 :
		  FAILF("HWPT_ALLOC(DIRTY) = %d", rc));
	}
	{
		struct uapi_vfio_detach_pt dt = { .argsz = sizeof(dt) };

		rc = kioctl(devfd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt);
		R("raw_detach", rc ? FAILF("DETACH = %d", rc) : 0);
		/* Not attached any more: a no-op answering 0, as the sim. */
		rc = kioctl(devfd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt);
		R("raw_detach_twice", rc ? FAILF("second DETACH = %d", rc) : 0);
	}
	iommudirty_tracker_free(t);
	iommudirty_device_free(dev);
	iommudirty_ctx_free(ctx);
	close(devfd);
	devfd = -1;
	kmem_free(buf, LEN, false);

	/* The probe tool on the real host: edu's IOMMU cannot track, type1 can
	 * (every page dirty), edu has no VFIO migration: exit 1. Run after the
	 * cdev is closed, or the group would be busy. */
	{
		static char out[16384];
		const char *argv[] = { "", NULL };
		const char *jargv[] = { "", "--json", NULL };

		rc = kprobe_run(argv, out, sizeof(out));
		ok = rc == 1 ? 0 : FAILF("probe exit %d, want 1", rc);
		if (!ok && !strstr(out, "verdict: only via type1: every mapped page always reported dirty"))
			ok = FAILF("no \"only via type1\" verdict");
		if (!ok && !strstr(out, "ECAP.SLADS=0"))
			ok = FAILF("the probe does not name ECAP.SLADS");
		R("probe_edu_type1_only", ok);
		rc = kprobe_run(jargv, out, sizeof(out));
		ok = rc == 1 && strstr(out, "\"verdict\": \"type1\"") &&
		     strstr(out, "\"migration\": false") ? 0 :
		     FAILF("probe --json exit %d or fields missing", rc);
		R("probe_edu_json", ok);
	}
}

int main(void)
{
	int rc;

	setvbuf(stdout, NULL, _IONBF, 0);
	why[0] = 0;
	rc = find_edu();
	if (!rc)
		rc = bind_vfio();
	R("edu_bind_vfio_pci", rc);
	if (rc)
		return 0;
	cdev_tests();
	/* An open cdev keeps the group from being opened: a test that gave
	 * up early may have left it. */
	if (devfd >= 0) {
		close(devfd);
		devfd = -1;
	}
	run_type1_tests(bdf);
	run_dmalog_tests();
	dmalog_lib_tests();
	run_devlink_tests();
	run_example_tests();
	dmalog_kernel_log_check();
	return 0;
}
