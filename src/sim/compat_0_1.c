/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Until 0.2 the simulated kernel's calls were in the IOMMUDIRTY_0.1 version
 * node; 0.2 moved them to IOMMUDIRTY_SIM_0.2 so a build can leave the sim
 * out. A binary linked against 0.1 asks for name@IOMMUDIRTY_0.1: these
 * forwarders answer it. Built into the shared library only: a versioned
 * symbol in a static archive would break the consumer's link.
 */
#include "iommudirty.h"

#define COMPAT_0_1(name) __asm__(".symver " #name "_v0_1, " #name "@IOMMUDIRTY_0.1")

/* Prototypes only to keep -Wmissing-prototypes quiet: nobody calls these
 * by their own names. */
struct iommudirty_sim *iommudirty_sim_new_v0_1(const struct iommudirty_sim_opts *opts);
void iommudirty_sim_free_v0_1(struct iommudirty_sim *sim);
int iommudirty_sim_add_iommu_v0_1(struct iommudirty_sim *sim,
				  const struct iommudirty_sim_iommu_opts *opts);
int iommudirty_sim_add_device_v0_1(struct iommudirty_sim *sim, int iommu);
int iommudirty_sim_device_bdf_v0_1(struct iommudirty_sim *sim, int device, char *buf,
				   size_t len);
int iommudirty_sim_open_device_v0_1(struct iommudirty_sim *sim, int device);
int iommudirty_sim_open_iommufd_v0_1(struct iommudirty_sim *sim);
int iommudirty_sim_close_v0_1(struct iommudirty_sim *sim, int fd);
int iommudirty_sim_ioctl_v0_1(struct iommudirty_sim *sim, int fd, unsigned long request,
			      void *arg);
int iommudirty_sim_dma_write_v0_1(struct iommudirty_sim *sim, int device, uint64_t iova,
				  uint64_t length, const void *data);
int iommudirty_sim_set_hook_v0_1(struct iommudirty_sim *sim, iommudirty_sim_hook_fn fn,
				 void *user);
int iommudirty_sim_fail_call_v0_1(struct iommudirty_sim *sim, unsigned long nth, int err);
int iommudirty_sim_get_stats_v0_1(struct iommudirty_sim *sim,
				  struct iommudirty_sim_stats *stats);

IOMMUDIRTY_API struct iommudirty_sim *iommudirty_sim_new_v0_1(const struct iommudirty_sim_opts *opts)
{
	return iommudirty_sim_new(opts);
}
COMPAT_0_1(iommudirty_sim_new);

IOMMUDIRTY_API void iommudirty_sim_free_v0_1(struct iommudirty_sim *sim)
{
	iommudirty_sim_free(sim);
}
COMPAT_0_1(iommudirty_sim_free);

IOMMUDIRTY_API int iommudirty_sim_add_iommu_v0_1(struct iommudirty_sim *sim,
						 const struct iommudirty_sim_iommu_opts *opts)
{
	return iommudirty_sim_add_iommu(sim, opts);
}
COMPAT_0_1(iommudirty_sim_add_iommu);

IOMMUDIRTY_API int iommudirty_sim_add_device_v0_1(struct iommudirty_sim *sim, int iommu)
{
	return iommudirty_sim_add_device(sim, iommu);
}
COMPAT_0_1(iommudirty_sim_add_device);

IOMMUDIRTY_API int iommudirty_sim_device_bdf_v0_1(struct iommudirty_sim *sim, int device,
						  char *buf, size_t len)
{
	return iommudirty_sim_device_bdf(sim, device, buf, len);
}
COMPAT_0_1(iommudirty_sim_device_bdf);

IOMMUDIRTY_API int iommudirty_sim_open_device_v0_1(struct iommudirty_sim *sim, int device)
{
	return iommudirty_sim_open_device(sim, device);
}
COMPAT_0_1(iommudirty_sim_open_device);

IOMMUDIRTY_API int iommudirty_sim_open_iommufd_v0_1(struct iommudirty_sim *sim)
{
	return iommudirty_sim_open_iommufd(sim);
}
COMPAT_0_1(iommudirty_sim_open_iommufd);

IOMMUDIRTY_API int iommudirty_sim_close_v0_1(struct iommudirty_sim *sim, int fd)
{
	return iommudirty_sim_close(sim, fd);
}
COMPAT_0_1(iommudirty_sim_close);

IOMMUDIRTY_API int iommudirty_sim_ioctl_v0_1(struct iommudirty_sim *sim, int fd,
					     unsigned long request, void *arg)
{
	return iommudirty_sim_ioctl(sim, fd, request, arg);
}
COMPAT_0_1(iommudirty_sim_ioctl);

IOMMUDIRTY_API int iommudirty_sim_dma_write_v0_1(struct iommudirty_sim *sim, int device,
						 uint64_t iova, uint64_t length,
						 const void *data)
{
	return iommudirty_sim_dma_write(sim, device, iova, length, data);
}
COMPAT_0_1(iommudirty_sim_dma_write);

IOMMUDIRTY_API int iommudirty_sim_set_hook_v0_1(struct iommudirty_sim *sim,
						iommudirty_sim_hook_fn fn, void *user)
{
	return iommudirty_sim_set_hook(sim, fn, user);
}
COMPAT_0_1(iommudirty_sim_set_hook);

IOMMUDIRTY_API int iommudirty_sim_fail_call_v0_1(struct iommudirty_sim *sim,
						 unsigned long nth, int err)
{
	return iommudirty_sim_fail_call(sim, nth, err);
}
COMPAT_0_1(iommudirty_sim_fail_call);

IOMMUDIRTY_API int iommudirty_sim_get_stats_v0_1(struct iommudirty_sim *sim,
						 struct iommudirty_sim_stats *stats)
{
	return iommudirty_sim_get_stats(sim, stats);
}
COMPAT_0_1(iommudirty_sim_get_stats);
