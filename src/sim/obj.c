/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Simulated iommufd objects: ids, HWPTs (allocated and auto domains),
 * device objects, DESTROY / HWPT_ALLOC / GET_HW_INFO, and the VFIO cdev
 * ioctls that bind and attach devices.
 */
#include <stdlib.h>

#include "sim_internal.h"

uint64_t sim_iommu_min_page(const struct sim_iommu *iommu)
{
	return iommu->pgsize_bitmap & -iommu->pgsize_bitmap;
}

void *sim_obj_get(struct sim_ictx *ictx, uint32_t id, enum sim_obj_type type)
{
	struct sim_obj *obj;

	if (!id || id > ictx->nr_slots)
		return NULL;
	obj = ictx->objs[id - 1];
	return obj && obj->type == type ? obj : NULL;
}

/* Ids start at 1 and the lowest free one is reused, as the kernel's xarray. */
int sim_obj_add(struct iommudirty_sim *sim, struct sim_ictx *ictx,
		struct sim_obj *obj, enum sim_obj_type type)
{
	size_t i, cap = ictx->nr_slots;

	for (i = 0; i < ictx->nr_slots; i++)
		if (!ictx->objs[i])
			break;
	if (i == ictx->nr_slots) {
		if (i >= INT32_MAX ||
		    sim_grow(&ictx->objs, &cap, i + 1, sizeof(*ictx->objs)))
			return -ENOMEM;
		memset(&ictx->objs[i], 0, (cap - i) * sizeof(*ictx->objs));
		ictx->nr_slots = cap;
	}
	obj->type = type;
	obj->id = (uint32_t)i + 1;
	obj->ictx = ictx;
	ictx->objs[i] = obj;
	sim->stats.objects++;
	return 0;
}

void sim_obj_remove(struct iommudirty_sim *sim, struct sim_obj *obj)
{
	obj->ictx->objs[obj->id - 1] = NULL;
	sim->stats.objects--;
}

/* ---- HWPTs ---- */

static void hwpt_destroy(struct iommudirty_sim *sim, struct sim_hwpt *hwpt)
{
	sim_dirty_drop_hwpt(hwpt->ioas, hwpt);
	sim_obj_remove(sim, &hwpt->obj);
	free(hwpt);
}

static int hwpt_create(struct iommudirty_sim *sim, struct sim_ictx *ictx,
		       struct sim_ioas *ioas, int iommu, bool dirty,
		       bool auto_domain, struct sim_hwpt **out)
{
	struct sim_hwpt *hwpt;
	int ret;

	/* The new page table must be able to hold every existing mapping. */
	ret = sim_ioas_check_domain(sim, ioas, sim->iommus[iommu]);
	if (ret)
		return ret;
	hwpt = calloc(1, sizeof(*hwpt));
	if (!hwpt)
		return -ENOMEM;
	hwpt->ioas = ioas;
	hwpt->iommu = iommu;
	hwpt->dirty_capable = dirty;
	hwpt->auto_domain = auto_domain;
	ret = sim_obj_add(sim, ictx, &hwpt->obj, SIM_OBJ_HWPT);
	if (ret) {
		free(hwpt);
		return ret;
	}
	*out = hwpt;
	return 0;
}

/* A device left: an auto domain dies with its last device. */
static void hwpt_put(struct iommudirty_sim *sim, struct sim_hwpt *hwpt)
{
	if (!--hwpt->users && hwpt->auto_domain)
		hwpt_destroy(sim, hwpt);
}

/* Switch in one step, so a concurrent DMA sees the old or the new table,
 * never none. (The sim lock makes it atomic; the order keeps an auto
 * domain that is both old and new alive.) */
static void dev_set_hwpt(struct iommudirty_sim *sim, struct sim_dev *dev,
			 struct sim_hwpt *hwpt)
{
	struct sim_hwpt *old = dev->hwpt;

	if (hwpt)
		hwpt->users++;
	dev->hwpt = hwpt;
	if (old)
		hwpt_put(sim, old);
}

/* The last close of the device: the driver's close_device (which stops
 * DMA logging, as mlx5 and pds do), then the iommufd unbind. */
void sim_dev_unbind(struct iommudirty_sim *sim, struct sim_dev *dev)
{
	sim_devlog_stop(dev);
	dev_set_hwpt(sim, dev, NULL);
	dev->access_ioas = NULL;
	if (dev->idev) {
		sim_obj_remove(sim, &dev->idev->obj);
		free(dev->idev);
		dev->idev = NULL;
	}
}

void sim_ictx_destroy(struct iommudirty_sim *sim, struct sim_ictx *ictx)
{
	/* Devices first (they hold HWPTs), then HWPTs (they hold IOASes). */
	for (int i = 0; i < sim->nr_devs; i++) {
		struct sim_dev *dev = sim->devs[i];

		if (dev->idev && dev->idev->obj.ictx == ictx)
			sim_dev_unbind(sim, dev);
	}
	for (size_t i = 0; i < ictx->nr_slots; i++) {
		struct sim_obj *obj = ictx->objs[i];

		if (obj && obj->type == SIM_OBJ_HWPT)
			hwpt_destroy(sim, (struct sim_hwpt *)obj);
	}
	for (size_t i = 0; i < ictx->nr_slots; i++) {
		struct sim_obj *obj = ictx->objs[i];

		if (obj) {
			sim_obj_remove(sim, obj);
			sim_ioas_free((struct sim_ioas *)obj);
		}
	}
	free(ictx->objs);
	free(ictx);
}

/* ---- iommufd ioctls on objects ---- */

int sim_ioctl_destroy(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd)
{
	struct uapi_destroy *c = cmd;
	struct sim_obj *obj;

	if (!c->id || c->id > ictx->nr_slots || !ictx->objs[c->id - 1])
		return -ENOENT;
	obj = ictx->objs[c->id - 1];
	switch (obj->type) {
	case SIM_OBJ_IOAS:
		if (sim_ioas_has_hwpts(ictx, (struct sim_ioas *)obj) ||
		    sim_ioas_has_access(sim, (struct sim_ioas *)obj))
			return -EBUSY;
		sim_obj_remove(sim, obj);
		sim_ioas_free((struct sim_ioas *)obj);
		return 0;
	case SIM_OBJ_HWPT:
		if (((struct sim_hwpt *)obj)->users)
			return -EBUSY;
		hwpt_destroy(sim, (struct sim_hwpt *)obj);
		return 0;
	case SIM_OBJ_DEVICE:
	case SIM_OBJ_ACCESS:
		/* Device and access objects go away when the cdev is closed
		 * (the driver holds a reference: -EBUSY). */
		return -EBUSY;
	}
	return -ENOENT;
}

int sim_ioctl_hwpt_alloc(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd)
{
	struct uapi_hwpt_alloc *c = cmd;
	const uint32_t known = UAPI_HWPT_ALLOC_NEST_PARENT |
			       UAPI_HWPT_ALLOC_DIRTY_TRACKING;
	bool dirty = c->flags & UAPI_HWPT_ALLOC_DIRTY_TRACKING;
	struct sim_hwpt *hwpt;
	struct sim_idev *idev;
	struct sim_ioas *ioas;
	int ret;

	if ((c->flags & ~known) || c->__reserved)
		return -EOPNOTSUPP;
	if (c->data_type)
		return -EOPNOTSUPP;
	if (c->data_len || c->data_uptr)
		return -EINVAL;
	idev = sim_obj_get(ictx, c->dev_id, SIM_OBJ_DEVICE);
	ioas = sim_obj_get(ictx, c->pt_id, SIM_OBJ_IOAS);
	if (!idev || !ioas)
		return -ENOENT;
	if (dirty && (sim->iommus[idev->dev->iommu]->flags &
		      IOMMUDIRTY_SIM_IOMMU_NO_DIRTY))
		return -EOPNOTSUPP;
	ret = hwpt_create(sim, ictx, ioas, idev->dev->iommu, dirty, false, &hwpt);
	if (ret)
		return ret;
	c->out_hwpt_id = hwpt->obj.id;
	return 0;
}

int sim_ioctl_get_hw_info(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd)
{
	struct uapi_hw_info *c = cmd;
	const struct sim_iommu *iommu;
	struct sim_idev *idev;
	uint8_t *buf;
	uint32_t n;

	if (c->flags || c->__reserved[0] || c->__reserved[1] || c->__reserved[2])
		return -EOPNOTSUPP;
	idev = sim_obj_get(ictx, c->dev_id, SIM_OBJ_DEVICE);
	if (!idev)
		return -ENOENT;
	iommu = sim->iommus[idev->dev->iommu];
	buf = (uint8_t *)(uintptr_t)c->data_uptr;
	if (c->data_len && !buf)
		return -EFAULT;
	/* Copy what fits and zero the rest of the caller's buffer, so a
	 * larger, newer vendor struct reads as zeros past our data. */
	n = MIN(c->data_len, iommu->hw_info_len);
	if (n)
		memcpy(buf, iommu->hw_info_data, n);
	if (c->data_len > n)
		memset(buf + n, 0, c->data_len - n);
	c->data_len = iommu->hw_info_len;
	c->out_data_type = iommu->hw_info_type;
	c->out_max_pasid_log2 = 0;
	/* Written back only if the caller's struct is large enough. */
	c->out_capabilities = (iommu->flags & IOMMUDIRTY_SIM_IOMMU_NO_DIRTY) ?
			      0 : UAPI_HW_CAP_DIRTY_TRACKING;
	return 0;
}

/* ---- VFIO cdev ioctls ---- */

static int vfio_bind(struct iommudirty_sim *sim, struct sim_dev *dev, void *arg)
{
	struct uapi_vfio_bind_iommufd b;
	struct sim_idev *idev;
	struct sim_fd *f;
	int ret;

	memcpy(&b, arg, sizeof(b));
	/* vfio_device_block_group(): cdev and group exclude each other. */
	if (sim_group_opened(dev))
		return -EBUSY;
	f = sim_fd_find(sim, b.iommufd);
	if (!f || f->kind != SIM_FD_IOMMUFD)
		return -EBADF;
	if (dev->idev)
		return -EINVAL;
	idev = calloc(1, sizeof(*idev));
	if (!idev)
		return -ENOMEM;
	idev->dev = dev;
	/* vfio_iommufd_emulated_bind(): an access object, whose id is the
	 * dev_id the caller gets. */
	ret = sim_obj_add(sim, f->p, &idev->obj,
			  dev->emulated ? SIM_OBJ_ACCESS : SIM_OBJ_DEVICE);
	if (ret) {
		free(idev);
		return ret;
	}
	dev->idev = idev;
	memcpy((uint8_t *)arg + offsetof(struct uapi_vfio_bind_iommufd, out_devid),
	       &idev->obj.id, sizeof(idev->obj.id));
	return 0;
}

static struct sim_hwpt *find_auto_domain(struct sim_ictx *ictx,
					 const struct sim_ioas *ioas, int iommu)
{
	for (size_t i = 0; i < ictx->nr_slots; i++) {
		struct sim_hwpt *h = (struct sim_hwpt *)ictx->objs[i];

		if (h && h->obj.type == SIM_OBJ_HWPT && h->auto_domain &&
		    h->ioas == ioas && h->iommu == iommu)
			return h;
	}
	return NULL;
}

/*
 * vfio_iommufd_emulated_attach_ioas(): the access attaches to (or moves to)
 * an IOAS and nothing else: any other id, a HWPT's included, is -ENOENT
 * (iommufd_get_ioas()). pt_id comes back as given: no domain is made. A
 * pinning access needs PAGE_SIZE alignment of the IOAS.
 */
static int access_attach(struct iommudirty_sim *sim, struct sim_dev *dev,
			 const struct uapi_vfio_attach_pt *a)
{
	struct sim_ioas *ioas = sim_obj_get(dev->idev->obj.ictx, a->pt_id,
					    SIM_OBJ_IOAS);
	int ret;

	(void)sim;
	if (!ioas)
		return -ENOENT;
	if (ioas == dev->access_ioas)
		return 0;
	ret = sim_ioas_check_access(ioas);
	if (ret)
		return ret;
	dev->access_ioas = ioas;
	return 0;
}

static int vfio_attach(struct iommudirty_sim *sim, struct sim_dev *dev, void *arg)
{
	struct sim_ictx *ictx = dev->idev->obj.ictx;
	const struct sim_iommu *iommu;
	struct uapi_vfio_attach_pt a;
	struct sim_hwpt *hwpt;
	struct sim_ioas *ioas;
	int ret;

	memcpy(&a, arg, sizeof(a));
	if (dev->emulated)
		return access_attach(sim, dev, &a);
	iommu = sim->iommus[dev->iommu];
	hwpt = sim_obj_get(ictx, a.pt_id, SIM_OBJ_HWPT);
	ioas = sim_obj_get(ictx, a.pt_id, SIM_OBJ_IOAS);
	if (ioas) {
		/* An IOAS gets an auto domain: no dirty tracking, ever. */
		hwpt = find_auto_domain(ictx, ioas, dev->iommu);
		if (!hwpt) {
			ret = hwpt_create(sim, ictx, ioas, dev->iommu, false,
					  true, &hwpt);
			if (ret)
				return ret;
		}
	} else if (!hwpt) {
		return -ENOENT;
	} else if (hwpt->iommu != dev->iommu) {
		return -EINVAL;
	} else if (hwpt->dirty_capable &&
		   (iommu->flags & IOMMUDIRTY_SIM_IOMMU_NO_DIRTY)) {
		return -EINVAL;
	}
	dev_set_hwpt(sim, dev, hwpt);
	memcpy((uint8_t *)arg + offsetof(struct uapi_vfio_attach_pt, pt_id),
	       &hwpt->obj.id, sizeof(hwpt->obj.id));
	return 0;
}

/* VFIO style: argsz covers at least minsz (extra bytes are ignored), and
 * flags must be 0. */
static int vfio_check_hdr(const void *arg, uint32_t minsz)
{
	uint32_t hdr[2];

	if (!arg)
		return -EFAULT;
	memcpy(hdr, arg, sizeof(hdr));
	if (hdr[0] < minsz || hdr[1])
		return -EINVAL;
	return 0;
}

/* vfio_device_fops_unl_ioctl() on a cdev. */
int sim_vfio_ioctl(struct iommudirty_sim *sim, struct sim_dev *dev,
		   unsigned long req, void *arg)
{
	int ret;

	if (req == VFIO_DEVICE_BIND_IOMMUFD) {
		ret = vfio_check_hdr(arg, sizeof(struct uapi_vfio_bind_iommufd));
		return ret ? ret : vfio_bind(sim, dev, arg);
	}
	/* Not bound: no access to the device, whatever the ioctl. */
	if (!dev->idev)
		return -EINVAL;
	switch (req) {
	case VFIO_DEVICE_ATTACH_IOMMUFD_PT:
		ret = vfio_check_hdr(arg, sizeof(struct uapi_vfio_attach_pt));
		return ret ? ret : vfio_attach(sim, dev, arg);
	case VFIO_DEVICE_DETACH_IOMMUFD_PT:
		ret = vfio_check_hdr(arg, sizeof(struct uapi_vfio_detach_pt));
		if (ret)
			return ret;
		/* A bound device not attached: nothing to do, and 6.12's
		 * detach_ioas() ops return quietly, so the ioctl answers 0. */
		if (dev->emulated) {
			dev->access_ioas = NULL;
			return 0;
		}
		if (dev->hwpt)
			dev_set_hwpt(sim, dev, NULL);
		return 0;
	case VFIO_DEVICE_FEATURE:
		return sim_devlog_feature(sim, dev, arg);
	}
	return -ENOTTY;
}
