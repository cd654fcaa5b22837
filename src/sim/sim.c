/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated kernel: an in-process peer of iommufd + VFIO cdev behind the
 * sys seam. This file holds its lifetime, its file descriptors, the public
 * iommudirty_sim_* calls, the sys table and the ioctl dispatch; objects,
 * IOAS and dirty state live in obj.c, ioas.c and dirty.c.
 */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sim_internal.h"

/*
 * Grow the array *arrp points at (elements of elem bytes, *cap of them) to
 * hold at least need. arrp is the address of any T *; memcpy keeps that
 * free of aliasing games.
 */
int sim_grow(void *arrp, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *arr, *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	while (ncap < need)
		ncap *= 2;
	if (ncap > SIZE_MAX / elem)
		return -ENOMEM;
	memcpy(&arr, arrp, sizeof(arr));
	p = realloc(arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	memcpy(arrp, &p, sizeof(p));
	*cap = ncap;
	return 0;
}

/* ---- file descriptors ---- */

struct sim_fd *sim_fd_find(struct iommudirty_sim *sim, int fd)
{
	for (size_t i = 0; i < sim->nr_fds; i++)
		if (sim->fds[i].fd == fd)
			return &sim->fds[i];
	return NULL;
}

/* A real fd, so numbers are genuine and a leak shows up as an open fd. */
int sim_fd_new(struct iommudirty_sim *sim, enum sim_fd_kind kind, void *p)
{
	int fd, ret;

	ret = sim_grow(&sim->fds, &sim->cap_fds, sim->nr_fds + 1,
		       sizeof(*sim->fds));
	if (ret)
		return ret;
	fd = eventfd(0, EFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	sim->fds[sim->nr_fds++] = (struct sim_fd){ .fd = fd, .kind = kind, .p = p };
	sim->stats.open_fds++;
	return fd;
}

static int open_iommufd(struct iommudirty_sim *sim)
{
	struct sim_ictx *ictx;
	int fd;

	if (sim->flags & IOMMUDIRTY_SIM_NO_IOMMUFD)
		return -ENOENT;
	ictx = calloc(1, sizeof(*ictx));
	if (!ictx)
		return -ENOMEM;
	fd = sim_fd_new(sim, SIM_FD_IOMMUFD, ictx);
	if (fd < 0) {
		free(ictx);
		return fd;
	}
	ictx->fd = fd;
	return fd;
}

static int open_device(struct iommudirty_sim *sim, int device)
{
	struct sim_dev *dev;
	int fd;

	if (device < 0 || device >= sim->nr_devs)
		return -EINVAL;
	/* No /dev/vfio/devices without CONFIG_VFIO_DEVICE_CDEV. */
	if (sim->flags & IOMMUDIRTY_SIM_NO_CDEV)
		return -ENOENT;
	dev = sim->devs[device];
	/* One open at a time, as VFIO allows a single cdev user. The group
	 * does not block the open: BIND does, as in the kernel. */
	if (dev->fd >= 0)
		return -EBUSY;
	fd = sim_fd_new(sim, SIM_FD_DEVICE, dev);
	if (fd >= 0)
		dev->fd = fd;
	return fd;
}

static int close_fd(struct iommudirty_sim *sim, int fd)
{
	struct sim_fd *f = sim_fd_find(sim, fd);
	struct sim_fd copy;

	if (!f)
		return -EBADF;
	copy = *f;
	*f = sim->fds[--sim->nr_fds];
	sim->stats.open_fds--;
	switch (copy.kind) {
	case SIM_FD_DEVICE: {
		struct sim_dev *dev = copy.p;

		/* Closing the cdev unbinds (and so detaches) the device. */
		sim_dev_unbind(sim, dev);
		dev->fd = -1;
		break;
	}
	case SIM_FD_IOMMUFD:
		sim_ictx_destroy(sim, copy.p);
		break;
	case SIM_FD_CONTAINER:
		sim_container_close(sim, copy.p);
		break;
	case SIM_FD_GROUP:
		sim_group_close(sim, copy.p);
		break;
	case SIM_FD_GROUP_DEVICE:
		sim_group_dev_close(sim, copy.p);
		break;
	}
	close(copy.fd);
	return 0;
}

/* ---- failure injection and accounting ---- */

/* Count one kernel call; return the injected error if this is the one. */
static int call_begin(struct iommudirty_sim *sim, bool is_ioctl)
{
	sim->stats.calls++;
	if (is_ioctl)
		sim->stats.ioctls++;
	if (sim->fail_nth && --sim->fail_nth == 0)
		return sim->fail_err;
	return 0;
}

/* ---- ioctl dispatch ---- */

typedef int (*sim_ioctl_fn)(struct iommudirty_sim *sim, struct sim_ictx *ictx,
			    void *cmd);

struct sim_ioctl_def {
	unsigned long req;
	uint32_t min_size;       /* offsetofend of the last field at introduction */
	uint32_t size;           /* our struct */
	sim_ioctl_fn fn;
};

static const struct sim_ioctl_def sim_ioctls[] = {
	{ IOMMU_DESTROY, 8, sizeof(struct uapi_destroy), sim_ioctl_destroy },
	{ IOMMU_IOAS_ALLOC, 12, sizeof(struct uapi_ioas_alloc), sim_ioctl_ioas_alloc },
	{ IOMMU_IOAS_IOVA_RANGES, 32, sizeof(struct uapi_ioas_iova_ranges),
	  sim_ioctl_iova_ranges },
	{ IOMMU_IOAS_MAP, 40, sizeof(struct uapi_ioas_map), sim_ioctl_ioas_map },
	{ IOMMU_IOAS_UNMAP, 24, sizeof(struct uapi_ioas_unmap), sim_ioctl_ioas_unmap },
	{ IOMMU_IOAS_COPY, 40, sizeof(struct uapi_ioas_copy), sim_ioctl_ioas_copy },
	{ IOMMU_HWPT_ALLOC, UAPI_HWPT_ALLOC_MIN_SIZE, sizeof(struct uapi_hwpt_alloc),
	  sim_ioctl_hwpt_alloc },
	{ IOMMU_GET_HW_INFO, UAPI_HW_INFO_MIN_SIZE, sizeof(struct uapi_hw_info),
	  sim_ioctl_get_hw_info },
	{ IOMMU_HWPT_SET_DIRTY_TRACKING, 16,
	  sizeof(struct uapi_hwpt_set_dirty_tracking), sim_ioctl_set_dirty },
	{ IOMMU_HWPT_GET_DIRTY_BITMAP, 48,
	  sizeof(struct uapi_hwpt_get_dirty_bitmap), sim_ioctl_get_dirty },
	{ IOMMU_OPTION, 24, sizeof(struct uapi_option), sim_ioctl_option },
};

union sim_cmd {
	struct uapi_destroy destroy;
	struct uapi_ioas_alloc ioas_alloc;
	struct uapi_ioas_iova_ranges ranges;
	struct uapi_ioas_map map;
	struct uapi_ioas_unmap unmap;
	struct uapi_ioas_copy copy;
	struct uapi_hwpt_alloc hwpt_alloc;
	struct uapi_hw_info hw_info;
	struct uapi_hwpt_set_dirty_tracking set_dirty;
	struct uapi_hwpt_get_dirty_bitmap get_dirty;
	struct uapi_option option;
};

/*
 * As the kernel: the caller's size must cover the struct as first released;
 * a larger struct is fine if the bytes we do not know are zero; the answer
 * is copied back up to the smaller of the two sizes.
 */
static int iommufd_ioctl(struct iommudirty_sim *sim, struct sim_ictx *ictx,
			 unsigned long req, void *arg)
{
	const struct sim_ioctl_def *def = NULL;
	union sim_cmd cmd;
	uint32_t usz;
	int ret;

	for (size_t i = 0; i < ARRAY_SIZE(sim_ioctls); i++)
		if (sim_ioctls[i].req == req)
			def = &sim_ioctls[i];
	if (!def)
		return -ENOTTY;
	if (!arg)
		return -EFAULT;
	memcpy(&usz, arg, sizeof(usz));
	if (usz < def->min_size)
		return -EINVAL;
	for (uint32_t i = def->size; i < usz; i++)
		if (((const uint8_t *)arg)[i])
			return -E2BIG;
	memset(&cmd, 0, sizeof(cmd));
	memcpy(&cmd, arg, MIN(usz, def->size));
	ret = def->fn(sim, ictx, &cmd);
	/* IOVA_RANGES answers num_iovas together with -EMSGSIZE. */
	if (ret == 0 || ret == -EMSGSIZE)
		memcpy(arg, &cmd, MIN(usz, def->size));
	return ret;
}

/* Type1 reads are a flag of two container ioctls. */
static bool is_type1_read(const struct sim_fd *f, unsigned long req,
			  const void *arg)
{
	uint32_t flags;

	/* Only these two take a pointer: SET_IOMMU and CHECK_EXTENSION pass
	 * values. */
	if (!f || f->kind != SIM_FD_CONTAINER || !arg ||
	    (req != VFIO_IOMMU_DIRTY_PAGES && req != VFIO_IOMMU_UNMAP_DMA))
		return false;
	memcpy(&flags, (const uint8_t *)arg + 4, sizeof(flags));
	if (req == VFIO_IOMMU_DIRTY_PAGES)
		return flags & UAPI_VFIO_DIRTY_PAGES_FLAG_GET_BITMAP;
	if (req == VFIO_IOMMU_UNMAP_DMA)
		return flags & UAPI_VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
	return false;
}

static int do_ioctl(struct iommudirty_sim *sim, int fd, unsigned long req,
		    void *arg)
{
	struct sim_fd *f = sim_fd_find(sim, fd);
	int ret;

	if (req == IOMMU_HWPT_GET_DIRTY_BITMAP || is_type1_read(f, req, arg))
		sim->stats.dirty_reads++;
	ret = call_begin(sim, true);
	if (ret)
		return ret;
	if (!f)
		return -EBADF;
	switch (f->kind) {
	case SIM_FD_IOMMUFD:
		return iommufd_ioctl(sim, f->p, req, arg);
	case SIM_FD_DEVICE:
		return sim_vfio_ioctl(sim, f->p, req, arg);
	case SIM_FD_CONTAINER:
		return sim_container_ioctl(sim, f->p, req, arg);
	case SIM_FD_GROUP:
		return sim_group_ioctl(sim, f->p, req, arg);
	case SIM_FD_GROUP_DEVICE:
		return sim_group_dev_ioctl(sim, f->p, req, arg);
	}
	return -EBADF;
}

/* Parse "<prefix>N" strictly: digits only, no sign, no leading zeros. */
static int parse_num_path(const char *path, const char *prefix)
{
	size_t plen = strlen(prefix);
	const char *p;
	long n = 0;

	if (strncmp(path, prefix, plen))
		return -1;
	p = path + plen;
	if (!*p || (p[0] == '0' && p[1]))
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || n > 100000000)
			return -1;
		n = n * 10 + (*p - '0');
	}
	return (int)n;
}

/* ---- the sys table: never touches the caller's errno ---- */

static int sys_sim_open(void *priv, const char *path, int flags)
{
	struct iommudirty_sim *sim = priv;
	int saved = errno, ret, n;

	(void)flags;
	pthread_mutex_lock(&sim->lock);
	ret = call_begin(sim, false);
	if (ret)
		goto out;
	if (!path) {
		ret = -EFAULT;
	} else if (!strcmp(path, "/dev/iommu")) {
		ret = open_iommufd(sim);
	} else if (!strcmp(path, "/dev/vfio/vfio")) {
		ret = sim_open_container(sim);
	} else if ((n = parse_num_path(path, "/dev/vfio/devices/vfio")) >= 0) {
		ret = n >= sim->nr_devs ? -ENOENT : open_device(sim, n);
	} else if ((n = parse_num_path(path, "/dev/vfio/")) >= 0) {
		/* Group g is device g - 1's; there is no group 0, and an
		 * emulated device has none here (cdev only). */
		ret = n < 1 || n > sim->nr_devs || sim->devs[n - 1]->emulated ?
		      -ENOENT : sim_open_group(sim, n - 1);
	} else {
		ret = -ENOENT;
	}
out:
	pthread_mutex_unlock(&sim->lock);
	errno = saved;
	return ret;
}

static int sys_sim_close(void *priv, int fd)
{
	struct iommudirty_sim *sim = priv;
	int saved = errno, ret;

	pthread_mutex_lock(&sim->lock);
	ret = close_fd(sim, fd);
	pthread_mutex_unlock(&sim->lock);
	errno = saved;
	return ret;
}

static int sys_sim_ioctl(void *priv, int fd, unsigned long request, void *arg)
{
	struct iommudirty_sim *sim = priv;
	iommudirty_sim_hook_fn hook;
	void *user;
	int saved = errno, ret;

	/* Outside the lock: the hook may act as a device (dma_write). */
	pthread_mutex_lock(&sim->lock);
	hook = sim->hook;
	user = sim->hook_user;
	pthread_mutex_unlock(&sim->lock);
	if (hook)
		hook(user, fd, request);
	pthread_mutex_lock(&sim->lock);
	ret = do_ioctl(sim, fd, request, arg);
	pthread_mutex_unlock(&sim->lock);
	errno = saved;
	return ret;
}

const struct iommudirty_sys_ops iommudirty_sys_sim = {
	.open = sys_sim_open,
	.close = sys_sim_close,
	.ioctl = sys_sim_ioctl,
	.readlink = sim_sys_readlink,
	.dir_entry = sim_sys_dir_entry,
	.nl_open = sim_sys_nl_open,
	.nl_close = sim_sys_nl_close,
	.fd_pci_address = sim_sys_fd_pci_address,
};

/* ---- public API ---- */

IOMMUDIRTY_API struct iommudirty_sim *
iommudirty_sim_new(const struct iommudirty_sim_opts *opts)
{
	const unsigned int known = IOMMUDIRTY_SIM_NO_IOMMUFD |
				   IOMMUDIRTY_SIM_NO_TYPE1 |
				   IOMMUDIRTY_SIM_NO_CDEV |
				   IOMMUDIRTY_SIM_TYPE1_COMPAT |
				   IOMMUDIRTY_SIM_NO_DEVLINK |
				   IOMMUDIRTY_SIM_NO_NET_ADMIN;
	struct iommudirty_sim *sim;
	unsigned int flags;

	if (!OPTS_VALID(opts, iommudirty_sim_opts)) {
		errno = EINVAL;
		return NULL;
	}
	flags = OPTS_GET(opts, iommudirty_sim_opts, flags, 0);
	/* The compat container is iommufd's /dev/vfio/vfio: it needs both. */
	if ((flags & ~known) ||
	    OPTS_GET(opts, iommudirty_sim_opts, __reserved, 0) ||
	    ((flags & IOMMUDIRTY_SIM_TYPE1_COMPAT) &&
	     (flags & (IOMMUDIRTY_SIM_NO_IOMMUFD | IOMMUDIRTY_SIM_NO_TYPE1)))) {
		errno = EINVAL;
		return NULL;
	}
	sim = calloc(1, sizeof(*sim));
	if (!sim) {
		errno = ENOMEM;
		return NULL;
	}
	if (pthread_mutex_init(&sim->lock, NULL)) {
		free(sim);
		errno = ENOMEM;
		return NULL;
	}
	sim->flags = flags;
	sim->type1_max_bitmap = OPTS_GET(opts, iommudirty_sim_opts,
					 type1_max_bitmap, 0);
	if (!sim->type1_max_bitmap)
		sim->type1_max_bitmap = SIM_TYPE1_MAX_BITMAP;
	return sim;
}

IOMMUDIRTY_API void iommudirty_sim_free(struct iommudirty_sim *sim)
{
	if (!sim)
		return;
	pthread_mutex_lock(&sim->lock);
	/* Any order works: closing an iommufd unbinds its devices. */
	while (sim->nr_fds)
		close_fd(sim, sim->fds[0].fd);
	pthread_mutex_unlock(&sim->lock);
	for (int i = 0; i < sim->nr_devs; i++) {
		sim_devlog_free(sim->devs[i]);
		free(sim->devs[i]);
	}
	for (int i = 0; i < sim->nr_iommus; i++) {
		free(sim->iommus[i]->hw_info_data);
		free(sim->iommus[i]);
	}
	free(sim->devs);
	free(sim->iommus);
	free(sim->fds);
	sim_devlink_free(sim);
	pthread_mutex_destroy(&sim->lock);
	free(sim);
}

IOMMUDIRTY_API int iommudirty_sim_add_iommu(struct iommudirty_sim *sim,
					    const struct iommudirty_sim_iommu_opts *opts)
{
	struct sim_iommu *iommu;
	const void *data;
	int ret;

	if (!sim || !OPTS_VALID(opts, iommudirty_sim_iommu_opts))
		return ret_err(-EINVAL);
	iommu = calloc(1, sizeof(*iommu));
	if (!iommu)
		return ret_err(-ENOMEM);
	iommu->flags = OPTS_GET(opts, iommudirty_sim_iommu_opts, flags, 0);
	iommu->hw_info_type = OPTS_GET(opts, iommudirty_sim_iommu_opts, hw_info_type, 0);
	iommu->pgsize_bitmap = OPTS_GET(opts, iommudirty_sim_iommu_opts, pgsize_bitmap, 0);
	data = OPTS_GET(opts, iommudirty_sim_iommu_opts, hw_info_data, NULL);
	iommu->hw_info_len = OPTS_GET(opts, iommudirty_sim_iommu_opts, hw_info_len, 0);
	iommu->aperture_start = OPTS_GET(opts, iommudirty_sim_iommu_opts, aperture_start, 0);
	iommu->aperture_last = OPTS_GET(opts, iommudirty_sim_iommu_opts, aperture_last, 0);
	ret = -EINVAL;
	if (iommu->flags & ~IOMMUDIRTY_SIM_IOMMU_NO_DIRTY)
		goto err;
	if (OPTS_GET(opts, iommudirty_sim_iommu_opts, __reserved, 0))
		goto err;
	if (iommu->hw_info_len && !data)
		goto err;
	if (iommu->hw_info_len > 4096)
		goto err;
	if (!iommu->hw_info_type && !iommu->hw_info_len) {
		/* What the kernel's selftest mock reports: {flags, test_reg}. */
		static const uint32_t mock_info[2] = { 0, 0xdeadbeef };

		data = mock_info;
		iommu->hw_info_len = sizeof(mock_info);
	}
	if (!iommu->hw_info_type)
		iommu->hw_info_type = IOMMUDIRTY_HW_INFO_SELFTEST;
	if (!iommu->pgsize_bitmap)
		iommu->pgsize_bitmap = 4096;
	if (!iommu->aperture_start && !iommu->aperture_last)
		iommu->aperture_last = UINT64_MAX;
	if (iommu->aperture_start > iommu->aperture_last)
		goto err;
	ret = -ENOMEM;
	if (iommu->hw_info_len) {
		iommu->hw_info_data = malloc(iommu->hw_info_len);
		if (!iommu->hw_info_data)
			goto err;
		memcpy(iommu->hw_info_data, data, iommu->hw_info_len);
	}

	pthread_mutex_lock(&sim->lock);
	ret = sim->nr_iommus >= 1 << 20 ? -ENOMEM :
	      sim_grow(&sim->iommus, &sim->cap_iommus,
		       sim->nr_iommus + 1, sizeof(*sim->iommus));
	if (!ret) {
		ret = sim->nr_iommus;
		sim->iommus[sim->nr_iommus++] = iommu;
	}
	pthread_mutex_unlock(&sim->lock);
	if (ret >= 0)
		return ret;
err:
	free(iommu->hw_info_data);
	free(iommu);
	return ret_err(ret);
}

/* Add a filled-in device (its IOMMU checked unless emulated): its index,
 * or -EINVAL, -ENOMEM. Takes the lock. */
int sim_dev_register(struct iommudirty_sim *sim, struct sim_dev *dev)
{
	int ret;

	pthread_mutex_lock(&sim->lock);
	if (!dev->emulated && (dev->iommu < 0 || dev->iommu >= sim->nr_iommus))
		ret = -EINVAL;
	else if (sim->nr_devs >= 1 << 20)
		ret = -ENOMEM;
	else
		ret = sim_grow(&sim->devs, &sim->cap_devs,
			       sim->nr_devs + 1, sizeof(*sim->devs));
	if (!ret) {
		ret = sim->nr_devs;
		sim->devs[sim->nr_devs++] = dev;
	}
	pthread_mutex_unlock(&sim->lock);
	return ret;
}

IOMMUDIRTY_API int iommudirty_sim_add_device(struct iommudirty_sim *sim, int iommu)
{
	struct sim_dev *dev;
	int ret;

	if (!sim)
		return ret_err(-EINVAL);
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return ret_err(-ENOMEM);
	dev->iommu = iommu;
	dev->fd = -1;
	dev->group_fd = -1;
	ret = sim_dev_register(sim, dev);
	if (ret < 0) {
		free(dev);
		return ret_err(ret);
	}
	return ret;
}

IOMMUDIRTY_API int iommudirty_sim_open_device(struct iommudirty_sim *sim, int device)
{
	int ret;

	if (!sim)
		return ret_err(-EINVAL);
	pthread_mutex_lock(&sim->lock);
	ret = open_device(sim, device);
	pthread_mutex_unlock(&sim->lock);
	return ret < 0 ? ret_err(ret) : ret;
}

IOMMUDIRTY_API int iommudirty_sim_open_iommufd(struct iommudirty_sim *sim)
{
	int ret;

	if (!sim)
		return ret_err(-EINVAL);
	pthread_mutex_lock(&sim->lock);
	ret = open_iommufd(sim);
	pthread_mutex_unlock(&sim->lock);
	return ret < 0 ? ret_err(ret) : ret;
}

IOMMUDIRTY_API int iommudirty_sim_close(struct iommudirty_sim *sim, int fd)
{
	int ret;

	if (!sim)
		return ret_err(-EINVAL);
	pthread_mutex_lock(&sim->lock);
	ret = close_fd(sim, fd);
	pthread_mutex_unlock(&sim->lock);
	return ret_err(ret);
}

IOMMUDIRTY_API int iommudirty_sim_ioctl(struct iommudirty_sim *sim, int fd,
					unsigned long request, void *arg)
{
	int ret;

	if (!sim)
		return ret_err(-EINVAL);
	pthread_mutex_lock(&sim->lock);
	ret = do_ioctl(sim, fd, request, arg);
	pthread_mutex_unlock(&sim->lock);
	return ret < 0 ? ret_err(ret) : ret;
}

IOMMUDIRTY_API int iommudirty_sim_dma_write(struct iommudirty_sim *sim,
					    int device, uint64_t iova,
					    uint64_t length, const void *data)
{
	int ret;

	if (!sim || !length)
		return ret_err(-EINVAL);
	pthread_mutex_lock(&sim->lock);
	if (device < 0 || device >= sim->nr_devs)
		ret = -EINVAL;
	else if (sim->devs[device]->emulated)
		ret = sim_access_write(sim, sim->devs[device], iova, length, data);
	else if (sim->devs[device]->group_dev_fds)
		ret = sim_type1_dma_write(sim, sim->devs[device], iova, length,
					  data);
	else
		ret = sim_dma_write(sim, sim->devs[device], iova, length, data);
	pthread_mutex_unlock(&sim->lock);
	return ret_err(ret);
}

IOMMUDIRTY_API int iommudirty_sim_set_hook(struct iommudirty_sim *sim,
					    iommudirty_sim_hook_fn fn, void *user)
{
	if (!sim)
		return ret_err(-EINVAL);
	pthread_mutex_lock(&sim->lock);
	sim->hook = fn;
	sim->hook_user = user;
	pthread_mutex_unlock(&sim->lock);
	return 0;
}

IOMMUDIRTY_API int iommudirty_sim_fail_call(struct iommudirty_sim *sim,
					    unsigned long nth, int err)
{
	if (!sim || (nth && (err >= 0 || err < -4095)))
		return ret_err(-EINVAL);
	pthread_mutex_lock(&sim->lock);
	sim->fail_nth = nth;
	sim->fail_err = err;
	pthread_mutex_unlock(&sim->lock);
	return 0;
}

/* The IO page tables a kernel would hold: 8 bytes per smallest IO page of
 * every area, per HWPT on its IOAS (a model: huge IOPTEs not counted). */
static uint64_t pt_bytes(struct iommudirty_sim *sim)
{
	uint64_t total = 0;

	for (size_t f = 0; f < sim->nr_fds; f++) {
		const struct sim_ictx *ictx;

		if (sim->fds[f].kind != SIM_FD_IOMMUFD)
			continue;
		ictx = sim->fds[f].p;
		for (size_t i = 0; i < ictx->nr_slots; i++) {
			const struct sim_hwpt *h = (const void *)ictx->objs[i];
			uint64_t page;

			if (!ictx->objs[i] || ictx->objs[i]->type != SIM_OBJ_HWPT || !h->ioas)
				continue;
			page = sim_iommu_min_page(sim->iommus[h->iommu]);
			for (size_t a = 0; a < h->ioas->nr_areas; a++) {
				const struct sim_area *ar = h->ioas->areas[a];

				total += ((ar->last - ar->iova) / page + 1) * 8;
			}
		}
	}
	return total;
}

IOMMUDIRTY_API int iommudirty_sim_get_stats(struct iommudirty_sim *sim,
					    struct iommudirty_sim_stats *stats)
{
	struct iommudirty_sim_stats s;
	size_t sz;

	if (!sim || !stats || stats->sz < sizeof(stats->sz))
		return ret_err(-EINVAL);
	sz = stats->sz;
	pthread_mutex_lock(&sim->lock);
	s = sim->stats;
	s.pt_bytes = pt_bytes(sim);
	pthread_mutex_unlock(&sim->lock);
	s.sz = sz;
	/* An older caller's struct gets the fields it knows. */
	memcpy(stats, &s, MIN(sz, sizeof(s)));
	return 0;
}
