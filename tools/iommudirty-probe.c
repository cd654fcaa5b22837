/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommudirty-probe: can this host live-migrate its VFIO devices, and with
 * which dirty tracking? See usage() for the output and exit status.
 *
 * For each PCI device bound to vfio-pci or a variant driver: its IOMMU
 * group, VFIO cdev, /dev/iommu; through the cdev bound to an iommufd, VFIO
 * migration and device DMA logging support and the IOMMU's dirty-tracking
 * report (the library's iommudirty_device_caps()); then the type1
 * container as the fallback; and devlink's `migratable` port function of
 * the device's VF port (the library's iommudirty_devlink_migratable()),
 * which --set-migratable turns on or off. Every kernel call the tool makes
 * itself goes through the sys_* wrappers below, which refuse anything but a
 * character device, so fixture trees (plain files, no nodes) are probed
 * safely.
 *
 * Built with PROBE_SIM_SEAM (the test binary iommudirty-probe-sim, never
 * installed), the devlink questions go to a simulated kernel declared on
 * the command line (--sim-port): the only seam, see sim_setup().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iommudirty.h"
#include "uapi.h"

#define EXIT_PRECISE 0   /* a device can migrate with precise tracking */
#define EXIT_NONE_CAN 1  /* devices found, none can */
#define EXIT_NO_DEVICES 2
#define EXIT_USAGE 3     /* usage, permission or environment error */

#define MAX_DEVICES 256
#define MAX_NOTES 24

/* ---- the tool's only kernel calls --------------------------------------- */

/* open(2) of a device node; anything but a character device is refused
 * with -ENODEV before any ioctl can reach it. */
static int sys_open_node(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISCHR(st.st_mode)) {
		close(fd);
		return -ENODEV;
	}
	return fd;
}

static int sys_ioctl(int fd, unsigned long req, void *arg)
{
	int ret = ioctl(fd, req, arg);

	return ret < 0 ? -errno : ret;
}

static void sys_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* 1 if path is a character device, 0 if it is something else, -errno if
 * it cannot be looked at. */
static int sys_is_chr(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	return S_ISCHR(st.st_mode) ? 1 : 0;
}

/* Copy a name; false (dst empty) if it does not fit: never a cut name. */
static bool set_name(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	dst[0] = 0;
	if (n >= len)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

static int sys_readlink_base(const char *path, char *buf, size_t len)
{
	char tmp[PATH_MAX];
	ssize_t n = readlink(path, tmp, sizeof(tmp) - 1);
	const char *b;

	if (n < 0)
		return -errno;
	tmp[n] = 0;
	b = strrchr(tmp, '/');
	return set_name(buf, len, b ? b + 1 : tmp) ? 0 : -ENAMETOOLONG;
}

/* ---- what we learn per device ------------------------------------------- */

enum verdict { V_PRECISE, V_TYPE1, V_NO };

struct report {
	char bdf[64];
	char driver[64];
	char group[32];         /* "" if none */
	char cdev[32];          /* "vfio0", "" if none */
	char cdev_path[PATH_MAX];
	int iommu_node;         /* 1 char device, 0 not, <0 -errno */
	int cdev_err;           /* opening the cdev; 1: not tried */
	int ctx_err;            /* opening /dev/iommu through the library */
	int bind_err;
	int mig;                /* 1 yes, 0 no, -1 unknown */
	int mig_err;
	uint64_t mig_flags;
	int dma_log;            /* 1 yes, 0 no, -1 unknown */
	int dma_log_err;
	bool have_caps;
	struct iommudirty_caps caps;
	uint32_t hw_type;
	/* type1 */
	char container_path[PATH_MAX];
	char group_path[PATH_MAX];
	int container_err;      /* 0 opened; 1: not tried */
	int type1v2;            /* 1 yes, 0 no, -1 unknown */
	int group_err;
	int viable;             /* -1 unknown */
	int type1_dirty;        /* CAP_MIGRATION: 1 yes, 0 no, -1 unknown */
	int type1_err;
	uint64_t type1_pgsize;
	bool perm_denied;
	/* devlink `migratable` */
	bool dl_asked;
	bool dl_port_given;     /* --devlink-port, not the sysfs VF lookup */
	int dl_err;             /* the library could not ask: -errno; else 0 */
	struct iommudirty_migratable dl;
	enum verdict verdict;
	char notes[MAX_NOTES][200];
	int nnotes;
};

static struct report reports[MAX_DEVICES];
static int nreports;

static const char *sysfs_root = "/sys";
static const char *dev_root = "/dev";
static bool json;

/* devlink: --device, --devlink-port, and the context that asks. */
static const char *only_device;
static bool have_port;
static struct iommudirty_devlink_port dl_port = { .sz = sizeof(dl_port) };
static struct iommudirty_ctx *dl_ctx;
static int dl_ctx_err = -ENODEV;

__attribute__((format(printf, 2, 3)))
static void note(struct report *r, const char *fmt, ...)
{
	va_list ap;

	if (r->nnotes >= MAX_NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(r->notes[r->nnotes++], sizeof(r->notes[0]), fmt, ap);
	va_end(ap);
}

static void note_err(struct report *r, const char *what, const char *path, int err)
{
	if (err == -EACCES || err == -EPERM)
		r->perm_denied = true;
	if (err == -ENODEV)
		note(r, "cannot open %s %s: not a character device", what, path);
	else
		note(r, "cannot open %s %s: %s", what, path, strerror(-err));
}

/* ---- sysfs ---------------------------------------------------------------- */

static bool is_vfio_driver(const char *drv)
{
	return !strcmp(drv, "vfio-pci") || strstr(drv, "vfio_pci") ||
	       strstr(drv, "vfio-pci");
}

static int cmp_report(const void *a, const void *b)
{
	return strcmp(((const struct report *)a)->bdf, ((const struct report *)b)->bdf);
}

/* Fill reports[] from <sysfs>/bus/pci/devices. Returns 0 or -errno when
 * the directory cannot be read. */
static int scan_sysfs(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 300], drv[64];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/bus/pci/devices", sysfs_root);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d)) && nreports < MAX_DEVICES) {
		struct report *r;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/driver", dir, e->d_name);
		if (sys_readlink_base(path, drv, sizeof(drv)) || !is_vfio_driver(drv))
			continue;
		if (only_device && strcmp(e->d_name, only_device))
			continue;
		r = &reports[nreports];
		memset(r, 0, sizeof(*r));
		if (!set_name(r->bdf, sizeof(r->bdf), e->d_name))
			continue;
		set_name(r->driver, sizeof(r->driver), drv);
		nreports++;
	}
	closedir(d);
	qsort(reports, nreports, sizeof(reports[0]), cmp_report);
	return 0;
}

static void find_nodes(struct report *r)
{
	char path[PATH_MAX + 300];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu_group",
		 sysfs_root, r->bdf);
	if (sys_readlink_base(path, r->group, sizeof(r->group)))
		r->group[0] = 0;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/vfio-dev",
		 sysfs_root, r->bdf);
	d = opendir(path);
	if (d) {
		while ((e = readdir(d)))
			if (!strncmp(e->d_name, "vfio", 4) &&
			    set_name(r->cdev, sizeof(r->cdev), e->d_name))
				break;
		closedir(d);
	}
	if (r->cdev[0])
		snprintf(r->cdev_path, sizeof(r->cdev_path), "%s/vfio/devices/%s",
			 dev_root, r->cdev);
	snprintf(path, sizeof(path), "%s/iommu", dev_root);
	r->iommu_node = sys_is_chr(path);
}

/* ---- VFIO device features ----------------------------------------------- */

static int feature(int fd, uint32_t flags)
{
	struct uapi_vfio_device_feature f = { .argsz = sizeof(f), .flags = flags };

	return sys_ioctl(fd, VFIO_DEVICE_FEATURE, &f);
}

/* Migration (GET) and DMA logging (SET) on a device fd the kernel lets us
 * use: a bound cdev or a group's device fd. */
static void probe_features(struct report *r, int fd)
{
	int ret;

	ret = feature(fd, UAPI_VFIO_DEVICE_FEATURE_MIGRATION |
			  UAPI_VFIO_DEVICE_FEATURE_GET | UAPI_VFIO_DEVICE_FEATURE_PROBE);
	r->mig = ret == 0;
	r->mig_err = ret;
	if (!ret) {
		struct uapi_vfio_feature_migration_get g = {
			.hdr.argsz = sizeof(g),
			.hdr.flags = UAPI_VFIO_DEVICE_FEATURE_MIGRATION |
				     UAPI_VFIO_DEVICE_FEATURE_GET,
		};

		if (!sys_ioctl(fd, VFIO_DEVICE_FEATURE, &g))
			r->mig_flags = g.mig.flags;
	}
	ret = feature(fd, UAPI_VFIO_DEVICE_FEATURE_DMA_LOGGING_START |
			  UAPI_VFIO_DEVICE_FEATURE_SET | UAPI_VFIO_DEVICE_FEATURE_PROBE);
	r->dma_log = ret == 0;
	r->dma_log_err = ret;
}

/* ---- iommufd: the cdev bound through the library ------------------------ */

static void probe_iommufd(struct report *r)
{
	char iommu_path[PATH_MAX];
	struct iommudirty_ctx *ctx;
	struct iommudirty_device *dev = NULL;
	struct iommudirty_hw_info hw = { .sz = sizeof(hw) };
	int fd, ret;

	r->mig = r->dma_log = -1;
	r->cdev_err = r->ctx_err = r->bind_err = 1;
	if (!r->cdev[0]) {
		note(r, "no VFIO cdev (kernel without CONFIG_VFIO_DEVICE_CDEV?)");
		return;
	}
	snprintf(iommu_path, sizeof(iommu_path), "%s/iommu", dev_root);
	if (r->iommu_node != 1) {
		if (r->iommu_node == 0)
			note(r, "%s is not a character device", iommu_path);
		else
			note(r, "no %s (kernel without CONFIG_IOMMUFD?)", iommu_path);
		return;
	}
	fd = sys_open_node(r->cdev_path);
	r->cdev_err = fd < 0 ? fd : 0;
	if (fd < 0) {
		note_err(r, "VFIO cdev", r->cdev_path, fd);
		return;
	}
	{
		IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o, .path = iommu_path);

		ctx = iommudirty_ctx_new(&o);
	}
	r->ctx_err = ctx ? 0 : -errno;
	if (!ctx) {
		note_err(r, "iommufd", iommu_path, r->ctx_err);
		sys_close(fd);
		return;
	}
	ret = iommudirty_device_bind(ctx, fd, &dev);
	r->bind_err = ret;
	if (ret) {
		if (ret == -EACCES || ret == -EPERM)
			r->perm_denied = true;
		note(r, "VFIO_DEVICE_BIND_IOMMUFD / IOMMU_GET_HW_INFO: %s",
		     strerror(-ret));
	} else {
		/* The kernel grants feature ioctls on a cdev once it is bound. */
		probe_features(r, fd);
		if (!iommudirty_device_hw_info(dev, &hw))
			r->hw_type = hw.type;
		r->caps.sz = sizeof(r->caps);
		r->have_caps = !iommudirty_device_caps(dev, &r->caps);
	}
	iommudirty_device_free(dev);
	iommudirty_ctx_free(ctx);
	/* Closing unbinds, and frees the group for the type1 probe. */
	sys_close(fd);
}

/* ---- type1: the container and the device's group ------------------------ */

/* Look for CAP_MIGRATION in VFIO_IOMMU_GET_INFO's capability chain. */
static void type1_info(struct report *r, int container)
{
	uint64_t buf[128] = { 0 };
	struct uapi_vfio_iommu_type1_info *info = (void *)buf;
	uint32_t off;
	int ret;

	info->argsz = sizeof(buf);
	ret = sys_ioctl(container, VFIO_IOMMU_GET_INFO, info);
	if (ret) {
		r->type1_err = ret;
		note(r, "type1: VFIO_IOMMU_GET_INFO: %s", strerror(-ret));
		return;
	}
	r->type1_dirty = 0;
	if (!(info->flags & UAPI_VFIO_IOMMU_INFO_CAPS))
		return;
	for (off = info->cap_offset; off && off + sizeof(struct uapi_vfio_cap_migration) <=
	     sizeof(buf) && off >= sizeof(*info);) {
		struct uapi_vfio_info_cap_header h;

		memcpy(&h, (uint8_t *)buf + off, sizeof(h));
		if (h.id == UAPI_VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) {
			struct uapi_vfio_cap_migration m;

			memcpy(&m, (uint8_t *)buf + off, sizeof(m));
			r->type1_dirty = 1;
			r->type1_pgsize = m.pgsize_bitmap;
			return;
		}
		if (h.next <= off)
			break;
		off = h.next;
	}
}

static void probe_type1(struct report *r)
{
	struct uapi_vfio_group_status st = { .argsz = sizeof(st) };
	int container, group = -1, ret;

	r->type1v2 = r->viable = r->type1_dirty = -1;
	r->group_err = 1;
	snprintf(r->container_path, sizeof(r->container_path), "%s/vfio/vfio", dev_root);
	container = sys_open_node(r->container_path);
	r->container_err = container < 0 ? container : 0;
	if (container < 0) {
		note_err(r, "type1 container", r->container_path, container);
		return;
	}
	ret = sys_ioctl(container, VFIO_GET_API_VERSION, NULL);
	if (ret < 0) {
		note(r, "type1: VFIO_GET_API_VERSION: %s", strerror(-ret));
		goto out;
	}
	if (ret != VFIO_API_VERSION) {
		note(r, "type1: VFIO API version %d, this tool knows %d", ret,
		     VFIO_API_VERSION);
		goto out;
	}
	ret = sys_ioctl(container, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
	r->type1v2 = ret > 0;
	if (ret <= 0) {
		note(r, "type1: the container has no TYPE1v2 IOMMU");
		goto out;
	}
	if (!r->group[0]) {
		note(r, "type1: the device has no IOMMU group");
		goto out;
	}
	/* Whether type1 can track dirty pages shows only once a group is in
	 * the container (CAP_MIGRATION of VFIO_IOMMU_GET_INFO). */
	snprintf(r->group_path, sizeof(r->group_path), "%s/vfio/%s", dev_root, r->group);
	group = sys_open_node(r->group_path);
	r->group_err = group < 0 ? group : 0;
	if (group < 0) {
		note_err(r, "VFIO group", r->group_path, group);
		goto out;
	}
	ret = sys_ioctl(group, VFIO_GROUP_GET_STATUS, &st);
	if (ret) {
		note(r, "type1: VFIO_GROUP_GET_STATUS: %s", strerror(-ret));
		goto out;
	}
	r->viable = !!(st.flags & UAPI_VFIO_GROUP_FLAGS_VIABLE);
	if (!r->viable) {
		note(r, "type1: group %s is not viable (a device in it is bound to a host driver)",
		     r->group);
		goto out;
	}
	ret = sys_ioctl(group, VFIO_GROUP_SET_CONTAINER, &container);
	if (!ret)
		ret = sys_ioctl(container, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
	if (ret) {
		r->type1_err = ret;
		if (ret == -EACCES || ret == -EPERM)
			r->perm_denied = true;
		note(r, "type1: attaching group %s: %s", r->group, strerror(-ret));
		goto out;
	}
	type1_info(r, container);
	if (r->type1_dirty == 0)
		note(r, "type1: no dirty tracking (no CAP_MIGRATION: iommufd's compat container?)");
	if (r->mig < 0) {
		/* No cdev path: ask the device through its group. */
		int dfd = sys_ioctl(group, VFIO_GROUP_GET_DEVICE_FD, r->bdf);

		if (dfd >= 0) {
			probe_features(r, dfd);
			sys_close(dfd);
		}
	}
out:
	sys_close(group);
	sys_close(container);
}

/* ---- devlink: the VF's `migratable` port function ------------------------ */

/* The library's own warnings would repeat what the devlink line says. */
static void dl_log_quiet(enum iommudirty_log_level level, const char *msg, void *user)
{
	(void)level;
	(void)msg;
	(void)user;
}

#ifdef PROBE_SIM_SEAM
/*
 * The test seam: --sim-port declares a devlink port on a simulated kernel
 * of SIM_DEVICES devices (device i is PCI 0000:00:<i+1>.0), --sim-no-devlink
 * a kernel without the devlink family; dl_ctx is then a context on that sim.
 * Everything else (sysfs tree, /dev nodes) is still read from
 * --sysfs-root/--dev-root, so a test mirrors the sim's VFs in its tree.
 */
#define SIM_DEVICES 16
#define SIM_MAX_PORTS 16
static struct iommudirty_sim_devlink_port_opts sim_ports[SIM_MAX_PORTS];
static int nsim_ports;
static bool sim_no_devlink;
static struct iommudirty_sim *sim;

/* "pf=N,vf=N,index=N,flavour=vf|pf|physical,vfnum=N[,op][,on][,noport][,legacy]" */
static bool sim_parse_port(const char *arg)
{
	struct iommudirty_sim_devlink_port_opts *o;
	char buf[256], *tok, *save = NULL;

	if (nsim_ports >= SIM_MAX_PORTS || strlen(arg) >= sizeof(buf))
		return false;
	o = &sim_ports[nsim_ports];
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->vf = -1;
	o->flavour = IOMMUDIRTY_SIM_DEVLINK_PCI_VF;
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		long v = eq ? strtol(eq + 1, NULL, 10) : 0;

		if (!strcmp(tok, "op"))
			o->flags |= IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE_OP;
		else if (!strcmp(tok, "on"))
			o->flags |= IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE;
		else if (!strcmp(tok, "noport"))
			o->flags |= IOMMUDIRTY_SIM_DEVLINK_NO_PORT;
		else if (!strcmp(tok, "legacy"))
			o->flags |= IOMMUDIRTY_SIM_DEVLINK_LEGACY;
		else if (!strncmp(tok, "pf=", 3))
			o->pf = (int)v;
		else if (!strncmp(tok, "vf=", 3))
			o->vf = (int)v;
		else if (!strncmp(tok, "index=", 6))
			o->index = (uint32_t)v;
		else if (!strncmp(tok, "vfnum=", 6))
			o->vf_number = (uint32_t)v;
		else if (!strcmp(tok, "flavour=vf"))
			o->flavour = IOMMUDIRTY_SIM_DEVLINK_PCI_VF;
		else if (!strcmp(tok, "flavour=pf"))
			o->flavour = IOMMUDIRTY_SIM_DEVLINK_PCI_PF;
		else if (!strcmp(tok, "flavour=physical"))
			o->flavour = IOMMUDIRTY_SIM_DEVLINK_PHYSICAL;
		else
			return false;
	}
	nsim_ports++;
	return true;
}

/* The sim, its devices and ports: 0, or -errno. */
static int sim_setup(void)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_opts, so,
			.flags = sim_no_devlink ? IOMMUDIRTY_SIM_NO_DEVLINK : 0);
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, io);
	int iommu, ret;

	sim = iommudirty_sim_new(&so);
	if (!sim)
		return -errno;
	iommu = iommudirty_sim_add_iommu(sim, &io);
	if (iommu < 0)
		return iommu;
	for (int i = 0; i < SIM_DEVICES; i++)
		if ((ret = iommudirty_sim_add_device(sim, iommu)) < 0)
			return ret;
	for (int i = 0; i < nsim_ports; i++)
		if ((ret = iommudirty_sim_add_devlink_port(sim, &sim_ports[i])))
			return ret;
	return 0;
}
#endif /* PROBE_SIM_SEAM */

/* The context devlink questions go through. It needs no iommufd: open ""
 * fails with ENOENT, which IOMMUFD_OPTIONAL accepts, so an unprivileged
 * user (devlink's GET needs no privilege) still gets one. */
static void open_dl_ctx(void)
{
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o, .flags = IOMMUDIRTY_CTX_IOMMUFD_OPTIONAL,
			.path = "", .log_fn = dl_log_quiet);

#ifdef PROBE_SIM_SEAM
	if (sim || nsim_ports || sim_no_devlink) {
		int ret = sim ? 0 : sim_setup();

		if (ret) {
			dl_ctx_err = ret;
			return;
		}
		o.sim = sim;
		o.path = NULL;
	}
#endif
	dl_ctx = iommudirty_ctx_new(&o);
	dl_ctx_err = dl_ctx ? 0 : -errno;
}

static void close_dl_ctx(void)
{
	iommudirty_ctx_free(dl_ctx);
	dl_ctx = NULL;
#ifdef PROBE_SIM_SEAM
	iommudirty_sim_free(sim);
	sim = NULL;
#endif
}

/* Does the tree at --sysfs-root show bdf as a VF (a physfn link)? */
static bool tree_has_physfn(const char *bdf)
{
	char path[PATH_MAX + 300], pf[64];

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/physfn", sysfs_root, bdf);
	return !sys_readlink_base(path, pf, sizeof(pf));
}

/* Ask devlink about r's VF port (or the --devlink-port one). */
static void probe_devlink(struct report *r, const struct iommudirty_devlink_port *port)
{
	int ret;

	memset(&r->dl, 0, sizeof(r->dl));
	r->dl.sz = sizeof(r->dl);
	r->dl.state = -1;
	r->dl_asked = true;
	r->dl_port_given = port != NULL;
	r->dl_err = 0;
	/* The library looks a VF up in /sys; a tree elsewhere (--sysfs-root)
	 * is read here: no physfn there, no VF, whatever /sys says. */
	if (!port && strcmp(sysfs_root, "/sys") && !tree_has_physfn(r->bdf)) {
		r->dl.reason = IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF;
		return;
	}
	if (!dl_ctx) {
		r->dl_err = dl_ctx_err;
		return;
	}
	ret = iommudirty_devlink_migratable(dl_ctx, port ? NULL : r->bdf, port, &r->dl);
	if (ret)
		r->dl_err = ret;
}

static void port_str(const struct iommudirty_devlink_port *p, bool with_index,
		     char *buf, size_t len)
{
	if (with_index)
		snprintf(buf, len, "%s/%s/%u", p->bus, p->dev, p->index);
	else
		snprintf(buf, len, "%s/%s", p->bus, p->dev);
}

/* Where the answer is about: the port ("pci/0000:03:00.0/1"), the PF's
 * devlink instance when no port was found ("pci/0000:03:00.0"), or "". */
static void dl_where(const struct report *r, char *buf, size_t len)
{
	const struct iommudirty_migratable *m = &r->dl;
	bool port_known = r->dl_port_given ||
			  m->reason == IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_ON ||
			  m->reason == IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF ||
			  m->reason == IOMMUDIRTY_REASON_DEVLINK_NO_MIGRATABLE_OP;

	buf[0] = 0;
	if (m->port.dev[0])
		port_str(&m->port, port_known, buf, len);
}

/* The reason's text without iommudirty_reason_str()'s "devlink: ". */
static const char *dl_reason_text(uint32_t reason)
{
	const char *t = iommudirty_reason_str(reason);

	return strncmp(t, "devlink: ", 9) ? t : t + 9;
}

/* The devlink line (without "devlink: " and newline). */
static void devlink_text(const struct report *r, char *buf, size_t len)
{
	const struct iommudirty_migratable *m = &r->dl;
	char where[160];
	size_t n = 0;

#define ADD(...) (n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__))
	buf[0] = 0;
	if (r->dl_err) {
		ADD("cannot ask: %s", strerror(-r->dl_err));
		return;
	}
	dl_where(r, where, sizeof(where));
	switch (m->reason) {
	case IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_ON:
		ADD("migratable on (%s)", where);
		break;
	case IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF:
		ADD("migratable off (%s); enable with: %s", where, m->hint);
		break;
	case IOMMUDIRTY_REASON_DEVLINK_NO_LIBNL:
		ADD("not built with libnl");
		break;
	case IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF:
		if (r->dl_port_given)
			ADD("%s is not a VF port (migratable does not apply)", where);
		else
			ADD("not a VF (migratable does not apply)");
		break;
	default:
		ADD("%s", dl_reason_text(m->reason));
		if (where[0])
			ADD(" (%s)", where);
		ADD(" [%u]", m->reason);
		break;
	}
	if (m->message[0])
		ADD("; the kernel says: %s", m->message);
#undef ADD
}

/* ---- verdict -------------------------------------------------------------- */

static void decide(struct report *r)
{
	bool iommu_ok = r->have_caps && r->caps.dirty == 1;
	bool type1_ok = r->type1v2 == 1 && r->viable == 1 && r->type1_dirty == 1;

	if (iommu_ok || r->dma_log == 1)
		r->verdict = V_PRECISE;
	else if (type1_ok)
		r->verdict = V_TYPE1;
	else
		r->verdict = V_NO;
}

static bool can_migrate_precise(const struct report *r)
{
	return r->verdict == V_PRECISE && r->mig == 1;
}

static const char *yes_no(int v)
{
	return v > 0 ? "yes" : v == 0 ? "no" : "unknown";
}

static void verdict_text(const struct report *r, char *buf, size_t len)
{
	size_t n = 0;

#define ADD(...) (n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__))
	switch (r->verdict) {
	case V_PRECISE:
		if (r->have_caps && r->caps.dirty == 1)
			ADD("live migration with precise IOMMU dirty tracking");
		else
			ADD("live migration with precise dirty tracking by the device's DMA logging");
		if (r->dma_log == 1 && r->have_caps && r->caps.dirty == 1)
			ADD(" (device DMA logging also available)");
		break;
	case V_TYPE1:
		ADD("only via type1: every mapped page always reported dirty");
		break;
	case V_NO:
		ADD("no: ");
		if (r->have_caps)
			for (uint32_t i = 0; i < r->caps.nr_reasons; i++)
				ADD("%s; ", iommudirty_reason_str(r->caps.reasons[i]));
		for (int i = 0; i < r->nnotes; i++)
			ADD("%s; ", r->notes[i]);
		if (n >= 2 && n < len && !strcmp(buf + n - 2, "; "))
			buf[n -= 2] = 0;
		break;
	}
	if (r->verdict != V_NO && r->mig == 0)
		ADD("; but the device itself has no VFIO migration support");
	else if (r->verdict != V_NO && r->mig < 0)
		ADD("; the device's VFIO migration support is unknown");
	/* An mlx5 VF shows no VFIO migration until its port function allows
	 * it, and the driver reads that at bind. */
	if (r->dl_asked && !r->dl_err && r->dl.state == 0 && r->mig != 1)
		ADD("%sdevlink migratable is off: enable devlink migratable, then rebind",
		    n >= 2 && n < len && !strcmp(buf + n - 2, ": ") ? "" : "; ");
#undef ADD
}

/* ---- output --------------------------------------------------------------- */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_tri(int v)
{
	fputs(v > 0 ? "true" : v == 0 ? "false" : "null", stdout);
}

static const char *verdict_key(enum verdict v)
{
	return v == V_PRECISE ? "precise" : v == V_TYPE1 ? "type1" : "no";
}

static void print_caps_json(const struct iommudirty_caps *c, uint32_t hw_type)
{
	printf("{\"vendor\": ");
	json_str(iommudirty_vendor_str(c->vendor));
	printf(", \"hw_info_type\": %u, \"dirty_tracking\": ", hw_type);
	json_tri(c->dirty);
	printf(", \"registers_say\": ");
	json_tri(c->decoded_dirty);
	printf(", \"pgsize_bitmap\": %llu, \"constraints\": %u, \"reasons\": [",
	       (unsigned long long)c->pgsize_bitmap, c->constraints);
	for (uint32_t i = 0; i < c->nr_reasons; i++) {
		printf("%s{\"code\": %u, \"text\": ", i ? ", " : "", c->reasons[i]);
		json_str(iommudirty_reason_str(c->reasons[i]));
		putchar('}');
	}
	printf("]}");
}

/* {"migratable": true|false|null, "code": reason, "text": its text,
 *  "line": the human line, "port", "hint", "message": string or null} */
static void print_devlink_json(const struct report *r)
{
	char line[1024], where[160];

	devlink_text(r, line, sizeof(line));
	dl_where(r, where, sizeof(where));
	printf("{\"migratable\": ");
	json_tri(r->dl_err ? -1 : r->dl.state);
	printf(", \"code\": %u, \"text\": ", r->dl_err ? 0 : r->dl.reason);
	json_str(r->dl_err ? "" : iommudirty_reason_str(r->dl.reason));
	printf(", \"line\": ");
	json_str(line);
	printf(", \"port\": ");
	where[0] && !r->dl_err ? json_str(where) : (void)fputs("null", stdout);
	printf(", \"hint\": ");
	r->dl.hint[0] ? json_str(r->dl.hint) : (void)fputs("null", stdout);
	printf(", \"message\": ");
	r->dl.message[0] ? json_str(r->dl.message) : (void)fputs("null", stdout);
	putchar('}');
}

static void print_json_report(const struct report *r, bool pci)
{
	char v[2048];

	verdict_text(r, v, sizeof(v));
	printf("    {\"device\": ");
	json_str(r->bdf);
	if (pci) {
		printf(", \"driver\": ");
		json_str(r->driver);
		printf(", \"iommu_group\": ");
		r->group[0] ? json_str(r->group) : (void)fputs("null", stdout);
		printf(", \"cdev\": ");
		r->cdev_path[0] ? json_str(r->cdev_path) : (void)fputs("null", stdout);
		printf(", \"dev_iommu\": %s", r->iommu_node == 1 ? "true" : "false");
		printf(", \"migration\": ");
		json_tri(r->mig);
		printf(", \"migration_flags\": %llu, \"dma_logging\": ",
		       (unsigned long long)r->mig_flags);
		json_tri(r->dma_log);
	}
	printf(", \"iommu\": ");
	if (r->have_caps)
		print_caps_json(&r->caps, r->hw_type);
	else
		fputs("null", stdout);
	if (pci) {
		printf(", \"type1\": {\"container\": %s, \"type1v2\": ",
		       r->container_err == 0 ? "true" : "false");
		json_tri(r->type1v2);
		printf(", \"group_viable\": ");
		json_tri(r->viable);
		printf(", \"dirty_tracking\": ");
		json_tri(r->type1_dirty);
		printf(", \"pgsize_bitmap\": %llu}", (unsigned long long)r->type1_pgsize);
	}
	if (r->dl_asked) {
		printf(", \"devlink\": ");
		print_devlink_json(r);
	}
	printf(", \"notes\": [");
	for (int i = 0; i < r->nnotes; i++) {
		printf("%s", i ? ", " : "");
		json_str(r->notes[i]);
	}
	printf("], \"verdict\": ");
	json_str(verdict_key(r->verdict));
	printf(", \"verdict_text\": ");
	json_str(v);
	printf("}");
}

static void print_caps_human(const struct report *r)
{
	const struct iommudirty_caps *c = &r->caps;

	printf("  IOMMU:              %s (hw_info type %#x), dirty tracking %s",
	       iommudirty_vendor_str(c->vendor), r->hw_type, yes_no(c->dirty));
	if (c->decoded_dirty >= 0)
		printf(" (registers say %s)", yes_no(c->decoded_dirty));
	putchar('\n');
	for (uint32_t i = 0; i < c->nr_reasons; i++)
		printf("    - [%u] %s\n", c->reasons[i], iommudirty_reason_str(c->reasons[i]));
	if (c->pgsize_bitmap)
		printf("    IO page sizes %#llx\n", (unsigned long long)c->pgsize_bitmap);
	if (c->constraints & IOMMUDIRTY_CONSTRAINT_SECOND_STAGE_ONLY)
		printf("    constraint: second-stage page tables only\n");
	if (c->constraints & IOMMUDIRTY_CONSTRAINT_STAGE1_ONLY)
		printf("    constraint: stage-1 only (a nesting parent cannot track)\n");
	if (c->constraints & IOMMUDIRTY_CONSTRAINT_NO_PASID)
		printf("    constraint: no PASID on a tracked domain\n");
	if (c->constraints & IOMMUDIRTY_CONSTRAINT_V1_TABLES)
		printf("    constraint: v1 page tables only\n");
	if (c->constraints & IOMMUDIRTY_CONSTRAINT_NO_RO_NEST_PARENT)
		printf("    constraint: no read-only mappings on a nesting parent (erratum 772415)\n");
}

static void print_human_report(const struct report *r, bool pci)
{
	char v[2048];

	verdict_text(r, v, sizeof(v));
	if (pci) {
		printf("%s: driver %s, IOMMU group %s\n", r->bdf, r->driver,
		       r->group[0] ? r->group : "none");
		printf("  VFIO cdev:          %s\n", r->cdev_path[0] ? r->cdev_path : "none");
		printf("  iommufd:            %s (%s/iommu)\n",
		       r->iommu_node == 1 ? "yes" : "no", dev_root);
		printf("  migration:          %s", yes_no(r->mig));
		if (r->mig == 1)
			printf(" (STOP_COPY%s%s)",
			       r->mig_flags & UAPI_VFIO_MIGRATION_P2P ? " P2P" : "",
			       r->mig_flags & UAPI_VFIO_MIGRATION_PRE_COPY ? " PRE_COPY" : "");
		putchar('\n');
		printf("  device DMA logging: %s\n", yes_no(r->dma_log));
	} else {
		printf("iommufd device %s\n", r->bdf);
	}
	if (r->have_caps)
		print_caps_human(r);
	else
		printf("  IOMMU:              unknown\n");
	if (pci) {
		printf("  type1 container:    %s", r->container_err ? "no" : "yes");
		if (!r->container_err)
			printf(", TYPE1v2 %s, group viable %s, dirty tracking %s",
			       yes_no(r->type1v2), yes_no(r->viable), yes_no(r->type1_dirty));
		putchar('\n');
	}
	if (r->dl_asked) {
		char line[1024];

		devlink_text(r, line, sizeof(line));
		printf("  devlink: %s\n", line);
	}
	for (int i = 0; i < r->nnotes; i++)
		printf("  note: %s\n", r->notes[i]);
	printf("  verdict: %s\n", v);
}

/* ---- modes ---------------------------------------------------------------- */

static int run_adopted(int iommufd, uint32_t dev_id)
{
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o, .flags = IOMMUDIRTY_CTX_ADOPT_FD,
			.iommufd = iommufd);
	struct iommudirty_hw_info hw = { .sz = sizeof(hw) };
	struct report *r = &reports[0];
	struct iommudirty_device *dev = NULL;
	struct iommudirty_ctx *ctx;
	int ret;

	memset(r, 0, sizeof(*r));
	nreports = 1;
	snprintf(r->bdf, sizeof(r->bdf), "%u", dev_id);
	r->mig = r->dma_log = -1;
	ctx = iommudirty_ctx_new(&o);
	if (!ctx) {
		fprintf(stderr, "iommudirty-probe: fd %d: %s\n", iommufd, strerror(errno));
		return EXIT_USAGE;
	}
	ret = iommudirty_device_adopt(ctx, -1, dev_id, &dev);
	if (ret) {
		fprintf(stderr, "iommudirty-probe: IOMMU_GET_HW_INFO(dev %u) on fd %d: %s\n",
			dev_id, iommufd, strerror(-ret));
		iommudirty_ctx_free(ctx);
		return EXIT_USAGE;
	}
	if (!iommudirty_device_hw_info(dev, &hw))
		r->hw_type = hw.type;
	r->caps.sz = sizeof(r->caps);
	r->have_caps = !iommudirty_device_caps(dev, &r->caps);
	iommudirty_device_free(dev);
	iommudirty_ctx_free(ctx);
	/* No PCI address here: devlink only for an explicit port. */
	if (have_port) {
		open_dl_ctx();
		probe_devlink(r, &dl_port);
		close_dl_ctx();
	}
	/* Only the IOMMU is known here: no cdev, no type1. */
	r->verdict = r->have_caps && r->caps.dirty == 1 ? V_PRECISE : V_NO;
	if (json) {
		printf("{\n  \"tool\": \"iommudirty-probe\", \"library\": ");
		json_str(iommudirty_version());
		printf(", \"mode\": \"iommufd-fd\",\n  \"devices\": [\n");
		print_json_report(r, false);
		printf("\n  ],\n  \"exit\": %d\n}\n",
		       r->verdict == V_PRECISE ? EXIT_PRECISE : EXIT_NONE_CAN);
	} else {
		print_human_report(r, false);
	}
	return r->verdict == V_PRECISE ? EXIT_PRECISE : EXIT_NONE_CAN;
}

static int run_pci(void)
{
	int ret = scan_sysfs(), status, nprecise = 0;
	bool perm = false;

	if (ret) {
		fprintf(stderr, "iommudirty-probe: cannot read %s/bus/pci/devices: %s\n",
			sysfs_root, strerror(-ret));
		return EXIT_USAGE;
	}
	if (have_port && nreports > 1) {
		fprintf(stderr, "iommudirty-probe: --devlink-port is one device's port, and %d "
			"devices are bound to VFIO drivers: name it with --device BDF\n", nreports);
		return EXIT_USAGE;
	}
	if (nreports)
		open_dl_ctx();
	for (int i = 0; i < nreports; i++) {
		struct report *r = &reports[i];

		find_nodes(r);
		probe_iommufd(r);
		probe_type1(r);
		probe_devlink(r, have_port ? &dl_port : NULL);
		decide(r);
		nprecise += can_migrate_precise(r);
		perm |= r->perm_denied;
	}
	close_dl_ctx();
	if (!nreports)
		status = EXIT_NO_DEVICES;
	else if (nprecise)
		status = EXIT_PRECISE;
	else if (perm)
		status = EXIT_USAGE;
	else
		status = EXIT_NONE_CAN;

	if (json) {
		printf("{\n  \"tool\": \"iommudirty-probe\", \"library\": ");
		json_str(iommudirty_version());
		printf(", \"mode\": \"pci\", \"sysfs\": ");
		json_str(sysfs_root);
		printf(", \"dev\": ");
		json_str(dev_root);
		printf(",\n  \"devices\": [\n");
		for (int i = 0; i < nreports; i++) {
			print_json_report(&reports[i], true);
			printf("%s\n", i + 1 < nreports ? "," : "");
		}
		printf("  ],\n  \"permission_denied\": %s,\n  \"exit\": %d\n}\n",
		       perm ? "true" : "false", status);
	} else {
		for (int i = 0; i < nreports; i++)
			print_human_report(&reports[i], true);
		if (!nreports && only_device)
			printf("%s is not bound to vfio-pci or a vfio-pci variant driver "
			       "(under %s/bus/pci/devices)\n", only_device, sysfs_root);
		else if (!nreports)
			printf("no PCI device is bound to vfio-pci or a vfio-pci variant driver "
			       "(under %s/bus/pci/devices)\n", sysfs_root);
		if (perm)
			printf("permission denied on some VFIO or iommufd nodes: run as root "
			       "or grant access to %s/vfio and %s/iommu\n", dev_root, dev_root);
	}
	return status;
}

/* --set-migratable: set, then say what devlink says now. Exit 0 done, 1
 * refused or failed, 3 permission denied. */
static int run_set(int enable)
{
	struct report *r = &reports[0];
	const char *what = enable ? "on" : "off";
	char line[1024], where[160], err[200] = "";
	int ret, status;

	memset(r, 0, sizeof(*r));
	nreports = 1;
	if (only_device)
		set_name(r->bdf, sizeof(r->bdf), only_device);
	r->dl.sz = sizeof(r->dl);
	r->dl.state = -1;
	r->dl_asked = true;
	r->dl_port_given = have_port;
	open_dl_ctx();
	if (!dl_ctx)
		ret = r->dl_err = dl_ctx_err;
	else
		ret = iommudirty_devlink_set_migratable(dl_ctx, have_port ? NULL : only_device,
							have_port ? &dl_port : NULL, enable,
							&r->dl);
	close_dl_ctx();
	status = !ret ? 0 : ret == -EPERM || ret == -EACCES ? EXIT_USAGE : EXIT_NONE_CAN;
	devlink_text(r, line, sizeof(line));
	dl_where(r, where, sizeof(where));
	if (ret)
		snprintf(err, sizeof(err), "%s (errno %d)", strerror(-ret), -ret);
	if (json) {
		printf("{\n  \"tool\": \"iommudirty-probe\", \"library\": ");
		json_str(iommudirty_version());
		printf(", \"mode\": \"set-migratable\", \"request\": \"%s\",\n  \"device\": ", what);
		only_device ? json_str(only_device) : (void)fputs("null", stdout);
		printf(", \"ok\": %s, \"errno\": %d, \"error\": ", ret ? "false" : "true", -ret);
		ret ? json_str(strerror(-ret)) : (void)fputs("null", stdout);
		printf(",\n  \"devlink\": ");
		print_devlink_json(r);
		printf(",\n  \"exit\": %d\n}\n", status);
		return status;
	}
	if (ret)
		printf("devlink: set migratable %s%s%s%s: failed: %s\n", what,
		       where[0] ? " (" : "", where, where[0] ? ")" : "", err);
	else
		printf("devlink: set migratable %s (%s): done\n", what, where);
	printf("devlink: %s\n", line);
	return status;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: iommudirty-probe [--json] [--sysfs-root DIR] [--dev-root DIR]\n"
"                        [--device BDF] [--devlink-port BUS/DEV/INDEX]\n"
"       iommudirty-probe [--json] --iommufd-fd N --dev-id ID [--devlink-port P]\n"
"       iommudirty-probe [--json] --set-migratable on|off\n"
"                        (--device BDF | --devlink-port BUS/DEV/INDEX)\n"
"\n"
"Tell whether the VFIO devices of this host can be live-migrated, and with\n"
"which dirty-page tracking. For every PCI device bound to vfio-pci or a\n"
"variant driver (mlx5_vfio_pci, pds_vfio_pci, hisi_acc_vfio_pci, ...) it\n"
"reports the IOMMU group, the VFIO cdev, /dev/iommu, VFIO migration and\n"
"device DMA-logging support, the IOMMU's dirty tracking with every reason\n"
"when it cannot, the legacy type1 container, devlink's `migratable` port\n"
"function of a VF (mlx5 VFs have no VFIO migration until it is on when\n"
"they are bound), then one verdict:\n"
"  live migration with precise IOMMU dirty tracking\n"
"  only via type1: every mapped page always reported dirty\n"
"  no: <reasons>\n"
"The devlink line, e.g.:\n"
"  devlink: migratable off (pci/0000:03:00.0/1); enable with: devlink port\n"
"           function set pci/0000:03:00.0/1 migratable enable\n"
"  devlink: migratable on (pci/0000:03:00.0/1)\n"
"  devlink: not a VF (migratable does not apply)\n"
"  devlink: not built with libnl\n"
"  devlink: <why it cannot tell> [reason code]\n"
"Probing binds each device to a fresh iommufd and attaches its group to a\n"
"type1 container for a moment; a device in use by a VMM shows as busy.\n"
"\n"
"  --json            machine-readable output\n"
"  --sysfs-root DIR  sysfs mount (default /sys; devlink's VF lookup reads\n"
"                    /sys: a device without physfn under DIR is no VF)\n"
"  --dev-root DIR    device node directory (default /dev)\n"
"  --device BDF      only this device (DDDD:BB:DD.F)\n"
"  --devlink-port BUS/DEV/INDEX\n"
"                    the device's devlink port as devlink(8) names it, e.g.\n"
"                    pci/0000:03:00.0/1, instead of the VF lookup through\n"
"                    sysfs physfn (one device: with several, add --device)\n"
"  --set-migratable on|off\n"
"                    set the port function `migratable` of --devlink-port or\n"
"                    of the VF --device (bound to any driver or none: mlx5\n"
"                    reads it when the VF is bound), then show it; on refusal\n"
"                    the kernel's message and errno. Needs CAP_NET_ADMIN\n"
"  --iommufd-fd N    probe a device already bound to iommufd N (an inherited\n"
"  --dev-id ID       fd), e.g. the kernel's selftest mock devices: only the\n"
"                    IOMMU's dirty tracking is reported (and devlink with\n"
"                    --devlink-port)\n"
"  --help            this text\n"
"\n"
"Exit status:\n"
"  0  at least one device can migrate with precise dirty tracking (with\n"
"     --iommufd-fd: the device's IOMMU can track dirty pages; with\n"
"     --set-migratable: done)\n"
"  1  devices found, none can (--set-migratable: refused or failed)\n"
"  2  no device bound to a vfio-pci driver\n"
"  3  usage error, unreadable sysfs, permission denied (and no device\n"
"     could be shown to migrate), or the --iommufd-fd device not found\n");
}

static bool parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || !*s || *end || v > UINT32_MAX || s[0] == '-')
		return false;
	*out = (uint32_t)v;
	return true;
}

/* devlink(8)'s handle characters, as the library accepts them. */
static bool handle_part_ok(const char *s, size_t n, size_t max)
{
	if (!n || n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("_.:-", s[i])))
			return false;
	return true;
}

/* "bus/dev/index", e.g. "pci/0000:03:00.0/1"; index decimal. */
static bool parse_devlink_port(const char *s, struct iommudirty_devlink_port *p)
{
	const char *a = strchr(s, '/'), *b = strrchr(s, '/');
	unsigned long long v = 0;

	if (!a || a == b || !handle_part_ok(s, (size_t)(a - s), sizeof(p->bus)) ||
	    !handle_part_ok(a + 1, (size_t)(b - a - 1), sizeof(p->dev)) || !b[1])
		return false;
	for (const char *c = b + 1; *c; c++) {
		if (*c < '0' || *c > '9' || (v = v * 10 + (unsigned)(*c - '0')) > UINT32_MAX)
			return false;
	}
	memset(p, 0, sizeof(*p));
	p->sz = sizeof(*p);
	memcpy(p->bus, s, (size_t)(a - s));
	memcpy(p->dev, a + 1, (size_t)(b - a - 1));
	p->index = (uint32_t)v;
	return true;
}

/* "DDDD:BB:DD.F" (a domain of 4 to 8 hex digits), as sysfs names it. */
static bool bdf_ok(const char *s)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF");

	if (n < 4 || n > 8 || s[n] != ':')
		return false;
	s += n + 1;
	return strspn(s, "0123456789abcdefABCDEF") == 2 && s[2] == ':' &&
	       strspn(s + 3, "0123456789abcdefABCDEF") == 2 && s[5] == '.' &&
	       s[6] >= '0' && s[6] <= '7' && !s[7];
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "sysfs-root", required_argument, NULL, 's' },
		{ "dev-root", required_argument, NULL, 'd' },
		{ "iommufd-fd", required_argument, NULL, 'f' },
		{ "dev-id", required_argument, NULL, 'i' },
		{ "device", required_argument, NULL, 'D' },
		{ "devlink-port", required_argument, NULL, 'p' },
		{ "set-migratable", required_argument, NULL, 'm' },
#ifdef PROBE_SIM_SEAM
		{ "sim-port", required_argument, NULL, 'S' },
		{ "sim-no-devlink", no_argument, NULL, 'N' },
#endif
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t fd = 0, dev_id = 0;
	bool have_fd = false, have_id = false;
	int c, set = -1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			sysfs_root = optarg;
			break;
		case 'd':
			dev_root = optarg;
			break;
		case 'f':
			if (!parse_u32(optarg, &fd) || fd > INT_MAX) {
				fprintf(stderr, "iommudirty-probe: bad --iommufd-fd %s\n", optarg);
				return EXIT_USAGE;
			}
			have_fd = true;
			break;
		case 'i':
			if (!parse_u32(optarg, &dev_id)) {
				fprintf(stderr, "iommudirty-probe: bad --dev-id %s\n", optarg);
				return EXIT_USAGE;
			}
			have_id = true;
			break;
		case 'D':
			if (!bdf_ok(optarg)) {
				fprintf(stderr, "iommudirty-probe: bad --device %s: want a PCI "
					"address DDDD:BB:DD.F, e.g. 0000:03:00.2\n", optarg);
				return EXIT_USAGE;
			}
			only_device = optarg;
			break;
		case 'p':
			if (!parse_devlink_port(optarg, &dl_port)) {
				fprintf(stderr, "iommudirty-probe: bad --devlink-port %s: want "
					"BUS/DEV/INDEX, e.g. pci/0000:03:00.0/1\n", optarg);
				return EXIT_USAGE;
			}
			have_port = true;
			break;
		case 'm':
			if (!strcmp(optarg, "on") || !strcmp(optarg, "enable")) {
				set = 1;
			} else if (!strcmp(optarg, "off") || !strcmp(optarg, "disable")) {
				set = 0;
			} else {
				fprintf(stderr, "iommudirty-probe: bad --set-migratable %s: "
					"want on or off\n", optarg);
				return EXIT_USAGE;
			}
			break;
#ifdef PROBE_SIM_SEAM
		case 'S':
			if (!sim_parse_port(optarg)) {
				fprintf(stderr, "iommudirty-probe: bad --sim-port %s\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'N':
			sim_no_devlink = true;
			break;
#endif
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc || have_fd != have_id) {
		if (have_fd != have_id)
			fprintf(stderr, "iommudirty-probe: --iommufd-fd and --dev-id go together\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (set >= 0 && (have_fd || (!only_device && !have_port))) {
		fprintf(stderr, "iommudirty-probe: --set-migratable needs --device BDF or "
			"--devlink-port BUS/DEV/INDEX (and no --iommufd-fd)\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (have_fd && only_device) {
		fprintf(stderr, "iommudirty-probe: --device and --iommufd-fd do not go together\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (set >= 0)
		return run_set(set);
	if (have_fd)
		return run_adopted((int)fd, dev_id);
	return run_pci();
}
