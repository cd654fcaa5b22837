/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Boot 2: VFIO device DMA logging on the real kernel, with our edu variant
 * driver (edu-vfio-pci/) and the mtty sample (ktest_dmalog.c), plus the
 * helpers library-level tests on them reuse (ktest_dmalog_lib.c).
 *
 * Helpers return 0 or a negative value with `why` (kedu.h) set, unless
 * said otherwise. None keeps a file descriptor open.
 */
#ifndef IOMMUDIRTY_TESTS_KDMALOG_H
#define IOMMUDIRTY_TESTS_KDMALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KDL_DRV_VARIANT "edu-vfio-pci" /* DMA logging + STOP_COPY */
#define KDL_DRV_VFIO_PCI "vfio-pci"    /* stock: neither */
#define KDL_MTTY_UUID "b5e7c3a1-4d2f-4e8a-9c61-0a1b2c3d4e5f"

/* A DMA-logging range, as the uAPI lays it out. */
struct kdl_range {
	uint64_t iova;
	uint64_t length;
};

/* The n-th (from 0) edu device (PCI 1234:11e8) in BDF order. */
int kdl_find_edu(int n, char *bdf, size_t len);
/* Bind a PCI device to driver (KDL_DRV_VARIANT or KDL_DRV_VFIO_PCI):
 * unbind it from another driver first, then driver_override +
 * drivers_probe; checks the result. No fd of the device may be open. */
int kdl_bind(const char *bdf, const char *driver);
/* The VFIO cdev (/dev/vfio/devices/vfioN) of a device bound to a VFIO
 * driver: a PCI BDF or an mdev uuid. */
int kdl_cdev_path(const char *dev, char *path, size_t len);
/* The IOMMU group number of a PCI device, or -1 with why. */
int kdl_pci_group(const char *bdf);

/* On a device fd that is open and attached (cdev bound + attached, or a
 * group's device fd in a container): edu's id checked, memory space and
 * bus master on; *bar0_off: the BAR0 region's offset in the fd. */
int kdl_edu_setup(int fd, uint64_t *bar0_off);
/* One edu DMA (to_ram: device buffer 0x40000 -> IOVA dst, else IOVA src ->
 * device buffer), polled to completion (~100 ms). cnt <= 4096. */
int kdl_edu_dma(int fd, uint64_t bar0_off, uint64_t src, uint64_t dst,
		uint64_t cnt, bool to_ram);
/* The same in two halves: the command written, then polled. */
int kdl_edu_dma_start(int fd, uint64_t bar0_off, uint64_t src, uint64_t dst,
		      uint64_t cnt, bool to_ram);
int kdl_edu_dma_wait(int fd, uint64_t bar0_off);
/* edu's command register has RUN set: 1, 0, or -1 with why. */
int kdl_edu_running(int fd, uint64_t bar0_off);

/* The raw DMA-logging features through the kernel's own code (a cdev
 * bound to an iommufd, or a group's device fd): 0 or -errno, why not set.
 * page_size is in/out for start (the driver may pick another). */
int kdl_log_start(int fd, uint64_t *page_size, const struct kdl_range *r,
		  uint32_t n);
int kdl_log_stop(int fd);
int kdl_log_report(int fd, uint64_t iova, uint64_t length, uint64_t page_size,
		   uint64_t *bitmap);
/* VFIO_DEVICE_FEATURE_MIGRATION GET: 0 and *flags, or -errno. */
int kdl_mig_flags(int fd, uint64_t *flags);

/* An mtty mdev (type mtty-1, uuid KDL_MTTY_UUID; reused if it exists)
 * and its VFIO cdev path. */
int kdl_mtty_create(char *cdev, size_t len);
int kdl_mtty_remove(void);

/* ktest_dmalog.c: the dmalog_* tests. Binds the second edu to
 * edu-vfio-pci (the first stays on vfio-pci); leaves every fd closed. */
void run_dmalog_tests(void);
/* FAIL if the kernel log has a WARNING, BUG, Oops or Call Trace (the
 * console shows only errors); boot 2 runs it last. */
void dmalog_kernel_log_check(void);
/* ktest_dmalog_lib.c: the library on these devices. */
void dmalog_lib_tests(void);
/* ktest_devlink.c: the devlink_* tests on the second edu's devlink ports
 * (binds it to edu-vfio-pci if needed; leaves it bound there). */
void run_devlink_tests(void);

#endif
