// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Boot 2, part three: VFIO device DMA logging on the real kernel, with raw
 * ioctls through the kernel's own DMA_LOGGING_START/STOP/REPORT code and
 * iova_bitmap. The device is the second edu bound to our variant driver
 * (tests/kernel/edu-vfio-pci/), which logs what edu's DMA engine writes;
 * the same tests run over a VFIO cdev bound to an iommufd and over a type1
 * container. Then: the first edu on stock vfio-pci (no logging), the mtty
 * sample (stub logging, migration flags 0x7), and iommudirty-probe.
 *
 * IOVA layout (edu: IOVA < 256 MiB), backed by one buffer:
 *   T [0x200000, +16 pages)  mapped, tracked (the START range)
 *   U [0x300000, +4 pages)   mapped, never tracked
 * edu DMA costs ~100 ms each: a handful per path.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kdmalog.h"
#include "kedu.h"
#include "kprobe.h"
#include "kutil.h"
#include "uapi.h"

#define BOOT "boot2"
#define R(name, rc) kresult(BOOT, name, rc, why)
#define FAILF(...) (snprintf(why, sizeof(why), __VA_ARGS__), -1)

/* VFIO uAPI (6.12 include/uapi/linux/vfio.h), test-only copies. */
#define KDL_REGION_INFO UAPI_IO(VFIO_TYPE, VFIO_BASE + 8)
#define KDL_IOEVENTFD UAPI_IO(VFIO_TYPE, VFIO_BASE + 16)
#define KDL_REGION_FLAG_MMAP (1u << 2)
#define KDL_IOEVENTFD_32 (1u << 2)
#define KDL_FEAT_MIG_STATE 2u
#define KDL_FEAT_LOG_START 6u
#define KDL_FEAT_LOG_STOP 7u
#define KDL_FEAT_LOG_REPORT 8u
#define KDL_FEAT_MIG_DATA_SIZE 9u
#define KDL_GET UAPI_VFIO_DEVICE_FEATURE_GET
#define KDL_SET UAPI_VFIO_DEVICE_FEATURE_SET
#define KDL_PROBE UAPI_VFIO_DEVICE_FEATURE_PROBE
enum { MIG_STOP = 1, MIG_RUNNING = 2, MIG_STOP_COPY = 3, MIG_RESUMING = 4 };

struct kdl_region_info {
	uint32_t argsz, flags, index, cap_offset;
	uint64_t size, offset;
};
struct kdl_ioeventfd {
	uint32_t argsz, flags;
	uint64_t offset, data;
	int32_t fd;
	uint32_t reserved;
};
struct kdl_feat_log_control {
	struct uapi_vfio_device_feature hdr;
	uint64_t page_size;
	uint32_t num_ranges, reserved;
	uint64_t ranges;
};
struct kdl_feat_log_report {
	struct uapi_vfio_device_feature hdr;
	uint64_t iova, length, page_size, bitmap;
};
struct kdl_feat_mig_state {
	struct uapi_vfio_device_feature hdr;
	uint32_t device_state;
	int32_t data_fd;
};
struct kdl_feat_u64 { /* MIGRATION flags, MIG_DATA_SIZE */
	struct uapi_vfio_device_feature hdr;
	uint64_t v;
};
UAPI_SIZE(kdl_range, 16);
UAPI_SIZE(kdl_region_info, 32);
UAPI_SIZE(kdl_ioeventfd, 32);
UAPI_PIN(kdl_ioeventfd, fd, 24);
UAPI_SIZE(kdl_feat_log_control, 32);
UAPI_PIN(kdl_feat_log_control, ranges, 24);
UAPI_SIZE(kdl_feat_log_report, 40);
UAPI_SIZE(kdl_feat_mig_state, 16);
UAPI_SIZE(kdl_feat_u64, 16);

/* The driver's saved state (edu-vfio-pci: struct edu_mig_data). */
struct edu_mig_data {
	uint32_t magic, id;
	uint64_t src, dst, cnt;
};
#define EDU_MIG_MAGIC 0x4d554445u

#define PG 4096ull
#define IOVA_T 0x200000ull
#define T_PAGES 16
#define IOVA_U 0x300000ull
#define U_PAGES 4
#define MEM_LEN ((T_PAGES + U_PAGES) * PG)

/* ---- sysfs ---- */

static unsigned long read_hex(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	return n > 0 ? strtoul(buf, NULL, 16) : 0;
}

/* The basename of a sysfs link, "" if none. */
static void link_base(const char *path, char *out, size_t len)
{
	char l[512];
	ssize_t n = readlink(path, l, sizeof(l) - 1);
	const char *b;

	out[0] = 0;
	if (n <= 0)
		return;
	l[n] = 0;
	b = strrchr(l, '/');
	b = b ? b + 1 : l;
	if (strlen(b) < len)
		memcpy(out, b, strlen(b) + 1);
}

static int is_edu(const struct dirent *de)
{
	char p[300];

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%.200s/vendor", de->d_name);
	if (read_hex(p) != 0x1234)
		return 0;
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%.200s/device", de->d_name);
	return read_hex(p) == 0x11e8;
}

int kdl_find_edu(int n, char *bdf, size_t len)
{
	struct dirent **list;
	int nr = scandir("/sys/bus/pci/devices", &list, is_edu, alphasort), rc;

	if (nr < 0)
		return FAILF("scandir /sys/bus/pci/devices: %s", strerror(errno));
	rc = n < nr ? 0 : FAILF("edu #%d not found (%d edu devices)", n, nr);
	if (!rc)
		snprintf(bdf, len, "%s", list[n]->d_name);
	for (int i = 0; i < nr; i++)
		free(list[i]);
	free(list);
	return rc;
}

int kdl_bind(const char *bdf, const char *driver)
{
	char p[300], cur[128];
	int rc;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%.200s/driver", bdf);
	link_base(p, cur, sizeof(cur));
	if (!strcmp(cur, driver))
		return 0;
	if (cur[0]) {
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%.200s/driver/unbind", bdf);
		rc = kwrite_str(p, bdf);
		if (rc)
			return FAILF("unbind %s from %s: %s", bdf, cur, strerror(-rc));
	}
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%.200s/driver_override", bdf);
	rc = kwrite_str(p, driver);
	if (!rc)
		rc = kwrite_str("/sys/bus/pci/drivers_probe", bdf);
	if (rc)
		return FAILF("driver_override/drivers_probe %s: %s", bdf, strerror(-rc));
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%.200s/driver", bdf);
	link_base(p, cur, sizeof(cur));
	return strcmp(cur, driver) ? FAILF("%s bound to \"%s\", want %s", bdf, cur, driver) : 0;
}

int kdl_cdev_path(const char *dev, char *path, size_t len)
{
	char p[300];
	struct dirent *de;
	DIR *d;

	/* An mdev uuid has 4 dashes, a BDF none. */
	snprintf(p, sizeof(p), "/sys/bus/%s/devices/%.200s/vfio-dev",
		 strchr(dev, '-') ? "mdev" : "pci", dev);
	d = opendir(p);
	if (!d)
		return FAILF("no %s (not bound to a VFIO driver?)", p);
	while ((de = readdir(d)) && strncmp(de->d_name, "vfio", 4))
		;
	if (de)
		snprintf(path, len, "/dev/vfio/devices/%.64s", de->d_name);
	closedir(d);
	return de ? 0 : FAILF("no vfioN under %s", p);
}

int kdl_pci_group(const char *bdf)
{
	char p[300], g[64];

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%.200s/iommu_group", bdf);
	link_base(p, g, sizeof(g));
	return g[0] ? atoi(g) : FAILF("%s has no IOMMU group", bdf);
}

/* ---- edu ---- */

static int region(int fd, uint32_t index, struct kdl_region_info *ri)
{
	*ri = (struct kdl_region_info){ .argsz = sizeof(*ri), .index = index };
	return kioctl(fd, KDL_REGION_INFO, ri);
}

int kdl_edu_setup(int fd, uint64_t *bar0_off)
{
	struct kdl_region_info bar, cfg;
	uint32_t id;
	uint16_t cmd;
	int rc = region(fd, 0, &bar);

	if (!rc)
		rc = region(fd, 7, &cfg);
	if (rc)
		return FAILF("REGION_INFO: %s", strerror(-rc));
	if (pread(fd, &id, 4, bar.offset + EDU_ID) != 4 || (id & 0xff) != 0xed)
		return FAILF("edu id register unreadable or wrong");
	if (pread(fd, &cmd, 2, cfg.offset + 4) != 2)
		return FAILF("config read: %s", strerror(errno));
	cmd |= 0x6; /* memory space, bus master */
	if (pwrite(fd, &cmd, 2, cfg.offset + 4) != 2)
		return FAILF("config write: %s", strerror(errno));
	*bar0_off = bar.offset;
	return 0;
}

static int wr64(int fd, uint64_t bar0, uint32_t reg, uint64_t v)
{
	return pwrite(fd, &v, 8, bar0 + reg) == 8 ? 0 : -errno;
}

int kdl_edu_running(int fd, uint64_t bar0_off)
{
	uint32_t v;

	if (pread(fd, &v, 4, bar0_off + EDU_DMA_CMD) != 4)
		return FAILF("edu command read: %s", strerror(errno));
	return v & EDU_CMD_RUN ? 1 : 0;
}

int kdl_edu_dma_start(int fd, uint64_t bar0_off, uint64_t src, uint64_t dst,
		      uint64_t cnt, bool to_ram)
{
	int rc = wr64(fd, bar0_off, EDU_DMA_SRC, src);

	if (!rc)
		rc = wr64(fd, bar0_off, EDU_DMA_DST, dst);
	if (!rc)
		rc = wr64(fd, bar0_off, EDU_DMA_CNT, cnt);
	if (!rc)
		rc = wr64(fd, bar0_off, EDU_DMA_CMD, EDU_CMD_RUN | (to_ram ? EDU_CMD_TO_RAM : 0));
	return rc ? FAILF("edu register write: %s", strerror(-rc)) : 0;
}

int kdl_edu_dma_wait(int fd, uint64_t bar0_off)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };

	for (int i = 0; i < 1000; i++) {
		int r = kdl_edu_running(fd, bar0_off);

		if (r <= 0)
			return r;
		nanosleep(&ts, NULL);
	}
	return FAILF("edu DMA did not complete in 2 s");
}

int kdl_edu_dma(int fd, uint64_t bar0_off, uint64_t src, uint64_t dst,
		uint64_t cnt, bool to_ram)
{
	int rc = kdl_edu_dma_start(fd, bar0_off, src, dst, cnt, to_ram);

	return rc ? rc : kdl_edu_dma_wait(fd, bar0_off);
}

/* ---- raw features ---- */

static int feature(int fd, uint32_t flags)
{
	struct uapi_vfio_device_feature f = { .argsz = sizeof(f), .flags = flags };

	return kioctl(fd, VFIO_DEVICE_FEATURE, &f);
}

int kdl_log_start(int fd, uint64_t *page_size, const struct kdl_range *r, uint32_t n)
{
	struct kdl_feat_log_control c = {
		.hdr = { sizeof(c), KDL_SET | KDL_FEAT_LOG_START },
		.page_size = *page_size, .num_ranges = n, .ranges = (uintptr_t)r,
	};
	int rc = kioctl(fd, VFIO_DEVICE_FEATURE, &c);

	if (!rc)
		*page_size = c.page_size;
	return rc;
}

int kdl_log_stop(int fd)
{
	return feature(fd, KDL_SET | KDL_FEAT_LOG_STOP);
}

int kdl_log_report(int fd, uint64_t iova, uint64_t length, uint64_t page_size,
		   uint64_t *bitmap)
{
	struct kdl_feat_log_report r = {
		.hdr = { sizeof(r), KDL_GET | KDL_FEAT_LOG_REPORT },
		.iova = iova, .length = length, .page_size = page_size,
		.bitmap = (uintptr_t)bitmap,
	};

	return kioctl(fd, VFIO_DEVICE_FEATURE, &r);
}

int kdl_mig_flags(int fd, uint64_t *flags)
{
	struct kdl_feat_u64 g = { .hdr = { sizeof(g), KDL_GET | UAPI_VFIO_DEVICE_FEATURE_MIGRATION } };
	int rc = kioctl(fd, VFIO_DEVICE_FEATURE, &g);

	if (!rc)
		*flags = g.v;
	return rc;
}

static int mig_set(int fd, uint32_t state, int *data_fd)
{
	struct kdl_feat_mig_state s = {
		.hdr = { sizeof(s), KDL_SET | KDL_FEAT_MIG_STATE }, .device_state = state,
	};
	int rc = kioctl(fd, VFIO_DEVICE_FEATURE, &s);

	if (data_fd)
		*data_fd = rc ? -1 : s.data_fd;
	return rc;
}

/* ---- mtty ---- */

int kdl_mtty_create(char *cdev, size_t len)
{
	char p[300];
	int rc;

	snprintf(p, sizeof(p), "/sys/bus/mdev/devices/%s", KDL_MTTY_UUID);
	if (access(p, F_OK)) {
		rc = kwrite_str("/sys/class/mtty/mtty/mdev_supported_types/mtty-1/create",
			       KDL_MTTY_UUID);
		if (rc)
			return FAILF("creating the mtty mdev: %s", strerror(-rc));
	}
	return kdl_cdev_path(KDL_MTTY_UUID, cdev, len);
}

int kdl_mtty_remove(void)
{
	int rc = kwrite_str("/sys/bus/mdev/devices/" KDL_MTTY_UUID "/remove", "1");

	return rc ? FAILF("removing the mtty mdev: %s", strerror(-rc)) : 0;
}

/* ---- one device path: cdev + iommufd, or type1 ---- */

struct dpath {
	const char *name;
	int fd, iommufd, container, group;
	uint64_t bar0;
	uint8_t *mem;
};

static struct dpath *P;

static void RP(const char *test, int rc)
{
	char n[160];

	snprintf(n, sizeof(n), "dmalog_%s_%s", P->name, test);
	kresult(BOOT, n, rc, why);
}

static int expect(const char *what, int got, int want)
{
	return got == want ? 0 : FAILF("%s = %d, want %d", what, got, want);
}

/* cdev bound to a fresh iommufd; attached to a new IOAS with T and U
 * mapped, if mem. */
static int open_cdev(const char *dev, struct dpath *p)
{
	char path[128];
	struct uapi_ioas_alloc a = { .size = sizeof(a) };
	int rc;

	p->fd = p->iommufd = p->container = p->group = -1;
	if (kdl_cdev_path(dev, path, sizeof(path)))
		return -1;
	p->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	p->fd = open(path, O_RDWR | O_CLOEXEC);
	if (p->iommufd < 0 || p->fd < 0)
		return FAILF("open /dev/iommu or %s: %s", path, strerror(errno));
	{
		struct uapi_vfio_bind_iommufd b = { .argsz = sizeof(b), .iommufd = p->iommufd };

		rc = kioctl(p->fd, VFIO_DEVICE_BIND_IOMMUFD, &b);
		if (rc)
			return FAILF("BIND_IOMMUFD = %d", rc);
	}
	if (!p->mem)
		return 0;
	rc = kioctl(p->iommufd, IOMMU_IOAS_ALLOC, &a);
	if (rc)
		return FAILF("IOAS_ALLOC = %d", rc);
	{
		struct uapi_vfio_attach_pt at = { .argsz = sizeof(at), .pt_id = a.out_ioas_id };

		rc = kioctl(p->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at);
		if (rc)
			return FAILF("ATTACH_IOMMUFD_PT(ioas) = %d", rc);
	}
	for (int i = 0; i < 2; i++) {
		struct uapi_ioas_map m = {
			.size = sizeof(m), .ioas_id = a.out_ioas_id,
			.flags = UAPI_IOAS_MAP_FIXED_IOVA | UAPI_IOAS_MAP_READABLE |
				 UAPI_IOAS_MAP_WRITEABLE,
			.user_va = (uintptr_t)(p->mem + (i ? T_PAGES * PG : 0)),
			.length = (i ? U_PAGES : T_PAGES) * PG, .iova = i ? IOVA_U : IOVA_T,
		};

		rc = kioctl(p->iommufd, IOMMU_IOAS_MAP, &m);
		if (rc)
			return FAILF("IOAS_MAP = %d", rc);
	}
	return 0;
}

/* The group in a type1 container with T and U mapped; its device fd. */
static int open_type1(const char *bdf, struct dpath *p)
{
	char path[64];
	int rc, grp = kdl_pci_group(bdf);

	p->fd = p->iommufd = p->container = p->group = -1;
	if (grp < 0)
		return -1;
	snprintf(path, sizeof(path), "/dev/vfio/%d", grp);
	p->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	p->group = open(path, O_RDWR | O_CLOEXEC);
	if (p->container < 0 || p->group < 0)
		return FAILF("open /dev/vfio/vfio or %s: %s", path, strerror(errno));
	rc = kioctl(p->group, VFIO_GROUP_SET_CONTAINER, &p->container);
	if (!rc)
		rc = kioctl(p->container, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
	if (rc)
		return FAILF("SET_CONTAINER / SET_IOMMU(TYPE1v2) = %d", rc);
	for (int i = 0; i < 2; i++) {
		struct uapi_vfio_dma_map m = {
			.argsz = sizeof(m),
			.flags = UAPI_VFIO_DMA_MAP_FLAG_READ | UAPI_VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = (uintptr_t)(p->mem + (i ? T_PAGES * PG : 0)),
			.iova = i ? IOVA_U : IOVA_T, .size = (i ? U_PAGES : T_PAGES) * PG,
		};

		rc = kioctl(p->container, VFIO_IOMMU_MAP_DMA, &m);
		if (rc)
			return FAILF("MAP_DMA = %d", rc);
	}
	p->fd = kioctl(p->group, VFIO_GROUP_GET_DEVICE_FD, (void *)bdf);
	return p->fd < 0 ? FAILF("GROUP_GET_DEVICE_FD = %d", p->fd) : 0;
}

/* Device first: an open device keeps its group and iommufd busy. */
static void close_path(struct dpath *p)
{
	int *fds[] = { &p->fd, &p->group, &p->container, &p->iommufd };

	for (int i = 0; i < 4; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* ---- the logging tests, on P ---- */

static const struct kdl_range T_RANGE = { IOVA_T, T_PAGES * PG };

/* REPORT [iova, +npages * ps) into a zeroed bitmap: word 0 must be want,
 * every other word 0. npages <= 512. */
static int report_is(const char *what, uint64_t iova, uint64_t npages, uint64_t ps,
		     uint64_t want)
{
	uint64_t bm[8] = { 0 };
	int rc = kdl_log_report(P->fd, iova, npages * ps, ps, bm);

	if (rc)
		return FAILF("%s: REPORT = %d", what, rc);
	for (unsigned int i = 0; i < 8; i++)
		if (bm[i] != (i ? 0 : want))
			return FAILF("%s: word %u = %#llx, want %#llx", what, i,
				     (unsigned long long)bm[i],
				     (unsigned long long)(i ? 0 : want));
	return 0;
}

#define REPORT_T(what, want) report_is(what, IOVA_T, T_PAGES, PG, want)

static int dma_to(uint64_t iova)
{
	return kdl_edu_dma(P->fd, P->bar0, EDU_BUF, iova, PG, true);
}

static void start_rules(void)
{
	static struct kdl_range many[257];
	struct kdl_range two[2] = { { IOVA_T, 4 * PG }, { IOVA_T + 2 * PG, 4 * PG } };
	struct kdl_range r;
	uint64_t ps = PG;
	int ok;

	for (int i = 0; i < 257; i++)
		many[i] = (struct kdl_range){ 0x1000000 + i * 2 * PG, PG };
	ok = expect("257 ranges", kdl_log_start(P->fd, &ps, many, 257), -E2BIG);
	if (!ok)
		ok = expect("256 ranges", kdl_log_start(P->fd, &ps, many, 256), 0);
	if (!ok)
		ok = expect("STOP", kdl_log_stop(P->fd), 0);
	if (!ok)
		ok = expect("0 ranges", kdl_log_start(P->fd, &ps, many, 0), -EINVAL);
	if (!ok)
		ok = expect("overlapping", kdl_log_start(P->fd, &ps, two, 2), -EINVAL);
	r = (struct kdl_range){ IOVA_T + 0x800, 4 * PG };
	if (!ok)
		ok = expect("unaligned iova", kdl_log_start(P->fd, &ps, &r, 1), -EINVAL);
	r = (struct kdl_range){ IOVA_T, 0x1800 };
	if (!ok)
		ok = expect("unaligned length", kdl_log_start(P->fd, &ps, &r, 1), -EINVAL);
	r = (struct kdl_range){ ~0ull - PG + 1, 2 * PG };
	if (!ok)
		ok = expect("wrapping range", kdl_log_start(P->fd, &ps, &r, 1), -EOVERFLOW);
	kdl_log_stop(P->fd);
	RP("kernel_start_rules", ok);
}

static void driver_rules(void)
{
	struct kdl_range zero = { IOVA_T, 0 }, all = { 0, 0 };
	uint64_t bm[8], ps = PG;
	int ok;

	ok = expect("REPORT before START", kdl_log_report(P->fd, IOVA_T, PG, PG, bm), -EINVAL);
	if (!ok)
		ok = expect("zero-length range", kdl_log_start(P->fd, &ps, &zero, 1), -EINVAL);
	if (!ok) /* arrives as [0, ULONG_MAX] */
		ok = expect("range {0, 0}", kdl_log_start(P->fd, &ps, &all, 1), -EINVAL);
	if (!ok)
		ok = expect("START", kdl_log_start(P->fd, &ps, &T_RANGE, 1), 0);
	if (!ok)
		ok = expect("second START", kdl_log_start(P->fd, &ps, &T_RANGE, 1), -EBUSY);
	if (!ok) {
		RP("kernel_report_rules",
		   expect("REPORT page 2048", kdl_log_report(P->fd, IOVA_T, 4 * PG, 2048, bm), -EINVAL) ?:
		   expect("REPORT page 12288", kdl_log_report(P->fd, IOVA_T, 3 * 12288, 12288, bm), -EINVAL) ?:
		   expect("REPORT wrapping", kdl_log_report(P->fd, ~0ull - PG + 1, 2 * PG, PG, bm), -EOVERFLOW));
		ok = expect("STOP", kdl_log_stop(P->fd), 0);
	}
	if (!ok)
		ok = expect("second STOP", kdl_log_stop(P->fd), 0);
	if (!ok)
		ok = expect("REPORT after STOP", kdl_log_report(P->fd, IOVA_T, PG, PG, bm), -EINVAL);
	kdl_log_stop(P->fd);
	RP("driver_rules", ok);
}

static void page_size_rounded(void)
{
	/* The core only checks alignment with mask arithmetic: both pass. */
	const uint64_t ask[2] = { 3000, 12288 }, want[2] = { 4096, 16384 };
	int ok = 0;

	for (int i = 0; !ok && i < 2; i++) {
		uint64_t ps = ask[i];
		int rc = kdl_log_start(P->fd, &ps, &T_RANGE, 1);

		if (rc || ps != want[i])
			ok = FAILF("START page_size %llu = %d, page_size %llu, want 0, %llu",
				   (unsigned long long)ask[i], rc, (unsigned long long)ps,
				   (unsigned long long)want[i]);
		kdl_log_stop(P->fd);
	}
	RP("page_size_rounded", ok);
}

static void mmap_ioeventfd_refused(void)
{
	struct kdl_region_info ri;
	struct kdl_ioeventfd ie = {
		.argsz = sizeof(ie), .flags = KDL_IOEVENTFD_32,
		.offset = P->bar0 + EDU_DMA_CMD, .data = EDU_CMD_RUN | EDU_CMD_TO_RAM,
	};
	void *m;
	int ok = region(P->fd, 0, &ri) ? FAILF("REGION_INFO failed") : 0;

	if (!ok && (ri.flags & KDL_REGION_FLAG_MMAP))
		ok = FAILF("BAR0 region flags %#x offer mmap", ri.flags);
	if (!ok) {
		m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, P->fd, (off_t)P->bar0);
		if (m != MAP_FAILED) {
			munmap(m, PG); /* a live mapping holds the device open */
			ok = FAILF("mmap of BAR0 succeeded");
		} else if (errno != EINVAL) {
			ok = FAILF("mmap of BAR0: %s, want EINVAL", strerror(errno));
		}
	}
	RP("bar0_mmap_refused", ok);
	ie.fd = eventfd(0, EFD_CLOEXEC);
	ok = expect("IOEVENTFD on BAR0", kioctl(P->fd, KDL_IOEVENTFD, &ie), -EOPNOTSUPP);
	close(ie.fd);
	RP("ioeventfd_refused", ok);
}

/* The DMA tests; logging started on T at 4 KiB. */
static void dma_tests(void)
{
	uint8_t *mem = P->mem;
	int ok, r0, r1;

	for (size_t i = 0; i < PG; i++)
		mem[i] = (uint8_t)(i * 13 + 5);
	ok = kdl_edu_dma(P->fd, P->bar0, IOVA_T, EDU_BUF, PG, false) ?:
	     REPORT_T("RAM->device", 0);
	RP("dma_from_ram_not_logged", ok);

	memset(mem + 3 * PG, 0, PG);
	ok = dma_to(IOVA_T + 3 * PG);
	if (!ok && memcmp(mem, mem + 3 * PG, PG))
		ok = FAILF("edu's copy to page 3: data differ");
	ok = ok ?: REPORT_T("first REPORT", 1ull << 3) ?: REPORT_T("second REPORT", 0);
	RP("dma_to_ram_exact_then_clean", ok);

	/* In flight: reported while RUN is set and once after. */
	ok = kdl_edu_dma_start(P->fd, P->bar0, EDU_BUF, IOVA_T + 5 * PG, PG, true);
	r0 = ok ? -1 : kdl_edu_running(P->fd, P->bar0);
	if (!ok && r0 != 1)
		ok = FAILF("the DMA ended before the first REPORT (inconclusive)");
	ok = ok ?: REPORT_T("REPORT while running", 1ull << 5);
	r1 = ok ? -1 : kdl_edu_running(P->fd, P->bar0);
	if (!ok && r1 == 1)
		ok = REPORT_T("second REPORT while running", 1ull << 5);
	ok = ok ?: kdl_edu_dma_wait(P->fd, P->bar0) ?:
	     REPORT_T("first REPORT after completion", 1ull << 5) ?:
	     REPORT_T("next REPORT", 0);
	if (!ok)
		kinfo("dmalog %s: in flight: RUN before/after the first REPORT %d/%d",
		      P->name, r0, r1);
	RP("dma_in_flight_until_seen_done", ok);

	ok = kdl_edu_dma(P->fd, P->bar0, EDU_BUF, IOVA_T + 7 * PG + 0x800, PG, true) ?:
	     REPORT_T("REPORT", 3ull << 7) ?: REPORT_T("next REPORT", 0);
	RP("dma_straddling_two_pages", ok);

	/* Pages 10 and 11; a REPORT ending after page 10 leaves page 11. */
	ok = kdl_edu_dma(P->fd, P->bar0, EDU_BUF, IOVA_T + 10 * PG + 0x800, PG, true) ?:
	     report_is("REPORT pages 0-10", IOVA_T, 11, PG, 1ull << 10) ?:
	     report_is("REPORT pages 11-15", IOVA_T + 11 * PG, 5, PG, 1) ?:
	     REPORT_T("REPORT all", 0);
	RP("sub_range_report", ok);

	memset(mem + (T_PAGES + 1) * PG, 0x5a, PG);
	ok = kdl_edu_dma(P->fd, P->bar0, EDU_BUF, IOVA_U + PG, PG, true);
	if (!ok && memcmp(mem, mem + (T_PAGES + 1) * PG, PG))
		ok = FAILF("edu's copy to U: data differ");
	ok = ok ?: report_is("REPORT T..U", IOVA_T, (IOVA_U - IOVA_T) / PG + U_PAGES, PG, 0);
	RP("dma_untracked_not_reported", ok);

	ok = dma_to(IOVA_T + 3 * PG) ?:
	     report_is("REPORT at 8 KiB", IOVA_T, T_PAGES / 2, 2 * PG, 1ull << 1) ?:
	     REPORT_T("REPORT at 4 KiB", 0);
	RP("report_8k_pages", ok);
}

/* How the driver sees commands (cdev path only). */
static void command_tests(void)
{
	uint64_t v[2] = { PG, EDU_CMD_RUN | EDU_CMD_TO_RAM };
	uint16_t cmd16 = EDU_CMD_RUN | EDU_CMD_TO_RAM;
	int ok;

	/* edu keeps dst's 64 bits and masks them at DMA time. */
	ok = dma_to((IOVA_T + 9 * PG) | (1ull << 40)) ?: REPORT_T("REPORT", 1ull << 9);
	RP("dst_high_bits_masked_like_edu", ok);

	/* cnt and cmd in one 16-byte write. */
	ok = wr64(P->fd, P->bar0, EDU_DMA_SRC, EDU_BUF) ?:
	     wr64(P->fd, P->bar0, EDU_DMA_DST, IOVA_T + 12 * PG);
	if (!ok && pwrite(P->fd, v, 16, P->bar0 + EDU_DMA_CNT) != 16)
		ok = FAILF("16-byte write at 0x90: %s", strerror(errno));
	ok = ok ?: kdl_edu_dma_wait(P->fd, P->bar0) ?: REPORT_T("REPORT", 1ull << 12);
	RP("cnt_and_cmd_in_one_write", ok);

	/* edu ignores 2-byte accesses there: no DMA, nothing logged. */
	ok = wr64(P->fd, P->bar0, EDU_DMA_DST, IOVA_T + 13 * PG);
	if (!ok && pwrite(P->fd, &cmd16, 2, P->bar0 + EDU_DMA_CMD) != 2)
		ok = FAILF("2-byte write at 0x98: %s", strerror(errno));
	if (!ok && kdl_edu_running(P->fd, P->bar0) != 0)
		ok = FAILF("a 2-byte command started a DMA");
	ok = ok ?: REPORT_T("REPORT", 0);
	RP("narrow_command_ignored", ok);
}

/* STOP_COPY: STOP refuses DMA, the saved state round-trips. Logging on. */
static void migration_tests(void)
{
	struct kdl_feat_u64 sz = { .hdr = { sizeof(sz), KDL_GET | KDL_FEAT_MIG_DATA_SIZE } };
	struct edu_mig_data d = { 0 };
	uint32_t run = EDU_CMD_RUN | EDU_CMD_TO_RAM;
	uint64_t cnt = 0;
	int ok, dfd = -1;

	ok = wr64(P->fd, P->bar0, EDU_DMA_DST, IOVA_T + 14 * PG) ?:
	     wr64(P->fd, P->bar0, EDU_DMA_CNT, PG) ?:
	     expect("SET STOP", mig_set(P->fd, MIG_STOP, NULL), 0);
	if (!ok && (pwrite(P->fd, &run, 4, P->bar0 + EDU_DMA_CMD) != -1 || errno != EBUSY))
		ok = FAILF("a DMA command in STOP: not refused with EBUSY (%s)", strerror(errno));
	if (!ok && kdl_edu_running(P->fd, P->bar0) != 0)
		ok = FAILF("edu runs in STOP");
	ok = ok ?: REPORT_T("REPORT", 0);
	RP("migration_stop_refuses_dma", ok);

	ok = ok ?: expect("MIG_DATA_SIZE", kioctl(P->fd, VFIO_DEVICE_FEATURE, &sz), 0);
	if (!ok && sz.v != sizeof(d))
		ok = FAILF("MIG_DATA_SIZE %llu, want %zu", (unsigned long long)sz.v, sizeof(d));
	ok = ok ?: expect("SET STOP_COPY", mig_set(P->fd, MIG_STOP_COPY, &dfd), 0);
	if (!ok && (read(dfd, &d, sizeof(d)) != sizeof(d) || read(dfd, &cnt, 8) != 0))
		ok = FAILF("STOP_COPY data: not %zu bytes then EOF", sizeof(d));
	if (!ok && (d.magic != EDU_MIG_MAGIC || (d.id & 0xff) != 0xed ||
		    d.dst != IOVA_T + 14 * PG || d.cnt != PG))
		ok = FAILF("saved state magic %#x id %#x dst %#llx cnt %#llx", d.magic, d.id,
			   (unsigned long long)d.dst, (unsigned long long)d.cnt);
	ok = ok ?: expect("SET STOP", mig_set(P->fd, MIG_STOP, NULL), 0);
	if (!ok && (read(dfd, &cnt, 8) != -1 || errno != ENODEV))
		ok = FAILF("the data fd still reads after STOP_COPY -> STOP");
	if (dfd >= 0)
		close(dfd);
	RP("migration_stop_copy_data", ok);

	/* Resume with another cnt: the registers take it. */
	d.cnt = 0x800;
	ok = ok ?: expect("SET RESUMING", mig_set(P->fd, MIG_RESUMING, &dfd), 0);
	if (!ok && write(dfd, &d, sizeof(d)) != sizeof(d))
		ok = FAILF("RESUMING write: %s", strerror(errno));
	ok = ok ?: expect("SET RUNNING", mig_set(P->fd, MIG_RUNNING, NULL), 0);
	if (dfd >= 0)
		close(dfd);
	if (!ok && (pread(P->fd, &cnt, 8, P->bar0 + EDU_DMA_CNT) != 8 || cnt != 0x800))
		ok = FAILF("cnt after resume %#llx, want 0x800", (unsigned long long)cnt);
	RP("migration_resume_restores_registers", ok);

	ok = ok ?: dma_to(IOVA_T + 14 * PG) ?: REPORT_T("REPORT", 1ull << 14);
	RP("migration_running_logs_again", ok);
}

static void logging_tests(void)
{
	uint64_t ps = PG;
	int ok;

	{
		uint64_t fl = 0;
		int rc = feature(P->fd, KDL_SET | KDL_PROBE | KDL_FEAT_LOG_START);

		RP("feature_probe", expect("PROBE|SET DMA_LOGGING_START", rc, 0));
		rc = kdl_mig_flags(P->fd, &fl);
		RP("migration_flags_stop_copy", rc ? FAILF("MIGRATION GET = %d", rc) :
		   fl != UAPI_VFIO_MIGRATION_STOP_COPY ?
		   FAILF("flags %#llx, want 0x1", (unsigned long long)fl) : 0);
	}
	start_rules();
	driver_rules();
	page_size_rounded();
	mmap_ioeventfd_refused();
	ok = expect("START", kdl_log_start(P->fd, &ps, &T_RANGE, 1), 0);
	if (!ok && ps != PG)
		ok = FAILF("page_size %llu, want 4096", (unsigned long long)ps);
	RP("start", ok);
	if (ok)
		return;
	dma_tests();
	if (!strcmp(P->name, "cdev")) {
		command_tests();
		migration_tests();
	}
	RP("stop", expect("STOP", kdl_log_stop(P->fd), 0));
}

/* ---- the other devices ---- */

/* Stock vfio-pci has no log_ops and no mig_ops; BAR0 mmap and ioeventfds
 * work there (the holes the variant closes). */
static void stock_tests(const char *bdf)
{
	struct dpath d = { .name = "stock" };
	struct kdl_region_info ri;
	struct kdl_ioeventfd ie = { .argsz = sizeof(ie), .flags = KDL_IOEVENTFD_32 };
	uint64_t bm[1], fl, ps = PG;
	void *m;
	int ok;

	ok = kdl_bind(bdf, KDL_DRV_VFIO_PCI) ?: open_cdev(bdf, &d);
	ok = ok ?: expect("PROBE DMA_LOGGING_START",
			  feature(d.fd, KDL_SET | KDL_PROBE | KDL_FEAT_LOG_START), -ENOTTY) ?:
	     expect("START", kdl_log_start(d.fd, &ps, &T_RANGE, 1), -ENOTTY) ?:
	     expect("REPORT", kdl_log_report(d.fd, IOVA_T, PG, PG, bm), -ENOTTY) ?:
	     expect("MIGRATION GET", kdl_mig_flags(d.fd, &fl), -ENOTTY);
	R("dmalog_stock_vfio_pci_enotty", ok);

	ok = ok ?: region(d.fd, 0, &ri) ? FAILF("REGION_INFO failed") : 0;
	if (!ok && !(ri.flags & KDL_REGION_FLAG_MMAP))
		ok = FAILF("stock BAR0 flags %#x: no mmap", ri.flags);
	if (!ok) {
		m = mmap(NULL, PG, PROT_READ, MAP_SHARED, d.fd, (off_t)ri.offset);
		if (m == MAP_FAILED)
			ok = FAILF("stock BAR0 mmap: %s", strerror(errno));
		else
			munmap(m, PG);
	}
	ie.offset = ri.offset + EDU_DMA_CMD;
	ie.fd = eventfd(0, EFD_CLOEXEC);
	ok = ok ?: expect("stock IOEVENTFD", kioctl(d.fd, KDL_IOEVENTFD, &ie), 0);
	close(ie.fd);
	ie.fd = -1; /* unassign */
	ok = ok ?: expect("stock IOEVENTFD unassign", kioctl(d.fd, KDL_IOEVENTFD, &ie), 0);
	R("dmalog_stock_bar0_mmap_ioeventfd_allowed", ok);
	close_path(&d);
}

/* mtty: an emulated-IOMMU mdev with stub log ops (P7). */
static void mtty_tests(void)
{
	struct dpath d = { .name = "mtty" };
	char cdev[128];
	uint64_t bm[4], fl = 0, ps = PG;
	int ok;

	ok = kdl_mtty_create(cdev, sizeof(cdev));
	R("dmalog_mtty_create", ok);
	if (ok)
		return;
	kinfo("mtty mdev %s: %s", KDL_MTTY_UUID, cdev);
	/* Attached to the IOAS directly, as QEMU does (no HWPT for an mdev). */
	d.mem = kmem_alloc(MEM_LEN, false);
	ok = d.mem ? open_cdev(KDL_MTTY_UUID, &d) : FAILF("no memory");
	R("dmalog_mtty_bind_attach_ioas", ok);
	ok = ok ?: kdl_mig_flags(d.fd, &fl) ? FAILF("MIGRATION GET failed") :
	     fl != 0x7 ? FAILF("flags %#llx, want 0x7", (unsigned long long)fl) : 0;
	R("dmalog_mtty_migration_flags", ok);
	memset(bm, 0xa5, sizeof(bm));
	ok = ok ?: expect("START", kdl_log_start(d.fd, &ps, &T_RANGE, 1), 0) ?:
	     expect("REPORT", kdl_log_report(d.fd, IOVA_T, T_PAGES * PG, PG, bm), 0) ?:
	     expect("STOP", kdl_log_stop(d.fd), 0);
	for (int i = 0; !ok && i < 4; i++)
		if (bm[i] != 0xa5a5a5a5a5a5a5a5ull)
			ok = FAILF("REPORT wrote the bitmap");
	R("dmalog_mtty_start_report_stop", ok);
	close_path(&d);
	kmem_free(d.mem, MEM_LEN, false);
	R("dmalog_mtty_remove", kdl_mtty_remove());
}

/* The lines of the probe's text report about bdf. */
static const char *section(const char *out, const char *bdf, char *buf, size_t len)
{
	char head[80];
	const char *s, *e;

	snprintf(head, sizeof(head), "%s: driver ", bdf);
	s = strstr(out, head);
	if (!s)
		return "";
	for (e = strchr(s, '\n'); e && e[1] == ' '; e = strchr(e + 1, '\n'))
		;
	snprintf(buf, len, "%.*s", (int)(e ? e - s : (long)strlen(s)), s);
	return buf;
}

/* iommudirty-probe with edu0 on vfio-pci and edu1 on the variant. */
static void probe_tests(const char *bdf0, const char *bdf1)
{
	static char out[16384], s0[4096], s1[4096];
	const char *argv[] = { "", NULL }, *jargv[] = { "", "--json", NULL };
	const char *want1[] = {
		"driver " KDL_DRV_VARIANT, "migration:          yes (STOP_COPY)",
		"device DMA logging: yes",
		"verdict: live migration with precise dirty tracking by the device's DMA logging",
	};
	const char *want0[] = {
		"driver " KDL_DRV_VFIO_PCI, "migration:          no", "device DMA logging: no",
		"verdict: only via type1",
	};
	char line[256];
	int rc = kprobe_run(argv, out, sizeof(out)), ok;

	ok = rc == 0 ? 0 : FAILF("probe exit %d, want 0", rc);
	section(out, bdf1, s1, sizeof(s1));
	section(out, bdf0, s0, sizeof(s0));
	for (size_t i = 0; !ok && i < 4; i++) {
		if (!strstr(s1, want1[i]))
			ok = FAILF("%s: no \"%s\"", bdf1, want1[i]);
		else if (!strstr(s0, want0[i]))
			ok = FAILF("%s: no \"%s\"", bdf0, want0[i]);
	}
	R("dmalog_probe", ok);

	rc = kprobe_run(jargv, out, sizeof(out));
	ok = rc == 0 ? 0 : FAILF("probe --json exit %d, want 0", rc);
	snprintf(line, sizeof(line), "{\"device\": \"%s\"", bdf1);
	{
		const char *s = strstr(out, line), *e = s ? strchr(s, '\n') : NULL;
		const char *jw[] = { "\"driver\": \"" KDL_DRV_VARIANT "\"", "\"migration\": true",
				     "\"migration_flags\": 1,", "\"dma_logging\": true",
				     "\"verdict\": \"precise\"" };

		if (!ok && !e)
			ok = FAILF("no JSON entry for %s", bdf1);
		for (size_t i = 0; !ok && i < 5; i++) {
			const char *f = strstr(s, jw[i]);

			if (!f || f > e)
				ok = FAILF("%s: no %s in its JSON entry", bdf1, jw[i]);
		}
	}
	R("dmalog_probe_json", ok);
}

void run_dmalog_tests(void)
{
	char bdf0[64], bdf1[64];
	struct dpath cdev = { .name = "cdev" }, type1 = { .name = "type1" };
	int ok, g0, g1;

	ok = kdl_find_edu(0, bdf0, sizeof(bdf0)) ?: kdl_find_edu(1, bdf1, sizeof(bdf1));
	g0 = ok ? -1 : kdl_pci_group(bdf0);
	g1 = ok ? -1 : kdl_pci_group(bdf1);
	if (!ok && (g0 < 0 || g1 < 0 || g0 == g1))
		ok = FAILF("IOMMU groups %d, %d: want two", g0, g1);
	if (!ok)
		kinfo("dmalog: edu %s (group %d) on vfio-pci, edu %s (group %d) on %s",
		      bdf0, g0, bdf1, g1, KDL_DRV_VARIANT);
	R("dmalog_two_edus", ok);
	if (ok)
		return;
	ok = kdl_bind(bdf1, KDL_DRV_VARIANT);
	R("dmalog_bind_variant", ok);
	if (ok)
		return;
	R("dmalog_driver_params",
	  access("/sys/module/edu_vfio_pci/parameters/trace", F_OK) ||
	  access("/sys/module/edu_vfio_pci/parameters/dma_mask", F_OK) ?
	  FAILF("no /sys/module/edu_vfio_pci/parameters/{trace,dma_mask}") : 0);

	cdev.mem = kmem_alloc(MEM_LEN, false);
	ok = cdev.mem ? open_cdev(bdf1, &cdev) : FAILF("no memory");
	ok = ok ?: kdl_edu_setup(cdev.fd, &cdev.bar0);
	R("dmalog_cdev_open", ok);
	P = &cdev;
	if (!ok)
		logging_tests();
	close_path(&cdev);

	type1.mem = cdev.mem;
	ok = type1.mem ? open_type1(bdf1, &type1) : FAILF("no memory");
	ok = ok ?: kdl_edu_setup(type1.fd, &type1.bar0);
	R("dmalog_type1_open", ok);
	P = &type1;
	if (!ok)
		logging_tests();
	close_path(&type1);
	kmem_free(cdev.mem, MEM_LEN, false);

	stock_tests(bdf0);
	mtty_tests();
	probe_tests(bdf0, bdf1);
}

void dmalog_kernel_log_check(void)
{
	static const char *const bad[] = { "WARNING:", "BUG:", "Oops", "Call Trace" };
	int n = klogctl(10 /* SIZE_BUFFER */, NULL, 0), ok = 0;
	char *buf = n > 0 ? calloc(1, (size_t)n + 1) : NULL;

	if (!buf || (n = klogctl(3 /* READ_ALL */, buf, n)) < 0)
		ok = FAILF("reading the kernel log failed");
	for (size_t i = 0; !ok && i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *hit = strstr(buf, bad[i]);

		if (hit)
			ok = FAILF("kernel log: \"%.200s\"", hit);
	}
	free(buf);
	R("dmalog_kernel_log_clean", ok);
}
