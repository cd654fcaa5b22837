/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A "kernel bed": the few things the trap tests need from a kernel that has
 * iommufd and a dirty-tracking IOMMU, behind one small interface, so the
 * same assertions run against the real Linux kernel (tests/kernel/, the
 * selftest mock IOMMU in a QEMU guest) and the library's simulated kernel
 * (tests/common/kbed_sim.c, run on the host by tests/unit/test_traps_sim.c).
 *
 * The bed mirrors the 6.12 mock IOMMU: IO page 2 KiB; devices created with
 * KBED_DEV_HUGE also map 1 MiB IOPTEs; aperture [1 << 24, (1 << 31) - 1].
 * Every call returns 0 or a negative errno.
 */
#ifndef IOMMUDIRTY_TESTS_KBED_H
#define IOMMUDIRTY_TESTS_KBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KBED_IO_PAGE 2048ull
#define KBED_HUGE_IO_PAGE (1ull << 20)
#define KBED_APERTURE_START (1ull << 24)
#define KBED_APERTURE_LAST ((1ull << 31) - 1)

/* The device's IOMMU may use 1 MiB IOPTEs (mock: MOCK_FLAGS_DEVICE_HUGE_IOVA) */
#define KBED_DEV_HUGE (1u << 0)
/* The device's IOMMU cannot track dirty pages (mock: MOCK_FLAGS_DEVICE_NO_DIRTY) */
#define KBED_DEV_NO_DIRTY (1u << 1)

struct kbed;

struct kbed_dev {
	uint32_t dev_id;  /* iommufd device id: HWPT_ALLOC's dev_id */
	uint32_t pt_id;   /* the HWPT it is attached to now */
	uint32_t priv_id; /* bed-private: mock selftest object id */
	int priv_fd;      /* bed-private: sim device fd / sim index */
	int priv_idx;
};

struct kbed_ops {
	/* A raw iommufd ioctl on the bed's iommufd. */
	int (*ioctl)(struct kbed *b, unsigned long req, void *arg);
	/* A device attached to @ioas_id (through a HWPT without dirty tracking,
	 * as the kernel makes when attaching to an IOAS). */
	int (*dev_new)(struct kbed *b, uint32_t ioas_id, unsigned int flags,
		       struct kbed_dev *out);
	/* Move the device to HWPT @pt_id (replace, no detach in between). */
	int (*dev_replace)(struct kbed *b, struct kbed_dev *d, uint32_t pt_id);
	/* The device writes [iova, iova+length) (multiples of KBED_IO_PAGE)
	 * through its HWPT, which must be tracking. */
	int (*dma_write)(struct kbed *b, struct kbed_dev *d, uint64_t iova,
			 uint64_t length);
	/* Zeroed page-aligned memory to map, freed by destroy (after the
	 * iommufd is gone); @huge: backed by 2 MiB pages, 2 MiB aligned, so
	 * the IOMMU can use huge IOPTEs (NULL if the bed cannot). */
	void *(*mem_alloc)(struct kbed *b, size_t length, bool huge);
	void (*destroy)(struct kbed *b);
};

struct kbed {
	const char *name;
	const struct kbed_ops *ops;
	void *priv;
};

/* Makes a fresh bed (a new iommufd, no objects) per test; NULL on error
 * with errno set. */
typedef struct kbed *(*kbed_factory_fn)(void);

struct kbed_env; /* a test's state: the bed, the reason buffer (traps.c) */

/* A trap test: 0 pass, 1 skip, -1 fail; the reason goes to kbed_run's why. */
typedef int (*kbed_test_fn)(struct kbed_env *e);

struct kbed_test {
	const char *name;
	kbed_test_fn fn;
};

/* The trap tests (tests/common/traps.c), terminated by a NULL name. */
extern const struct kbed_test kbed_traps[];

/* Run one test on a fresh bed from @factory; same return as kbed_test_fn. */
int kbed_run(kbed_factory_fn factory, const struct kbed_test *t, char *why,
	     size_t whylen);

/* The simulated kernel's bed (tests/common/kbed_sim.c). */
struct kbed *kbed_sim_new(void);

#endif /* IOMMUDIRTY_TESTS_KBED_H */
