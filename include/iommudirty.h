/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libiommudirty: IOMMU dirty-page tracking for VMMs that live-migrate guests
 * owning passthrough PCI devices.
 *
 * Conventions (every call):
 *  - int-returning calls return 0 (or a documented non-negative value) on
 *    success and a negative errno on failure; errno is set to the same
 *    positive value, so errno-style callers work too.
 *  - Pointer-returning constructors return NULL and set errno.
 *  - Bad input is rejected before any kernel call: -EINVAL (NULL, unknown
 *    flags, non-zero reserved/unknown option bytes, misalignment, page size
 *    not a power of two), -EOVERFLOW (the range does not end below 2^64),
 *    -ERANGE (caller's
 *    bitmap too small). Kernel errors are returned unchanged.
 *  - Options structs start with `size_t sz`; declare them with IOMMUDIRTY_OPTS
 *    so sz is set. Bytes past the fields this library version knows must be 0.
 *  - Nothing is printed unless a log callback is installed.
 *
 * Thread-safety: a context, its devices and its trackers may be used from
 * several threads. Each tracker serialises map/unmap/attach/start/stop with an
 * internal lock; iommudirty_tracker_read() calls on *disjoint* ranges with
 * *distinct* bitmaps may run concurrently with each other. Bitmap helpers are
 * pure functions over caller memory.
 *
 * Version: every declaration says "Since:" the library version that added it.
 */
#ifndef IOMMUDIRTY_H
#define IOMMUDIRTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOMMUDIRTY_API __attribute__((visibility("default")))

#define IOMMUDIRTY_VERSION_MAJOR 0
#define IOMMUDIRTY_VERSION_MINOR 2
#define IOMMUDIRTY_VERSION_PATCH 0
/* True when the headers are at least version maj.min. */
#define IOMMUDIRTY_CHECK_VERSION(maj, min)                                    \
	(IOMMUDIRTY_VERSION_MAJOR > (maj) ||                                  \
	 (IOMMUDIRTY_VERSION_MAJOR == (maj) && IOMMUDIRTY_VERSION_MINOR >= (min)))

/*
 * Declare an options struct, zeroed, with its size set. Clean under
 * -Wall -Wextra -pedantic in C99 and later and in C++11 and later.
 *   C:   IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o);
 *        IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o, .flags = X, .sim = s);
 *   C++: IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o); o.flags = X;
 * C++ before 20 has no designated initialisers, so in C++ fields are set
 * after the declaration; passing them to the macro there fails to compile
 * rather than being dropped. The trailing empty argument the macro adds
 * keeps strict C99 from seeing an empty "...".
 */
#define IOMMUDIRTY_OPTS(...) IOMMUDIRTY_OPTS_(__VA_ARGS__, )
#ifndef __cplusplus
#define IOMMUDIRTY_OPTS_(type, name, ...)                                     \
	struct type name = { .sz = sizeof(struct type), __VA_ARGS__ }
#else
#define IOMMUDIRTY_OPTS_(type, name, ...)                                     \
	struct type name = iommudirty_opts_init_<struct type>();              \
	static_assert(sizeof(#__VA_ARGS__) == 1,                              \
		      "C++: set option fields after IOMMUDIRTY_OPTS(type, name)")
#endif

struct iommudirty_ctx;     /* an iommufd file (owned or adopted) */
struct iommudirty_device;  /* a VFIO device bound to the context's iommufd */
struct iommudirty_tracker; /* an IOAS + dirty-tracking HWPTs + its mappings */
struct iommudirty_sim;     /* the simulated kernel */

/* ------------------------------------------------------------------------ */
/* Version and logging                                                      */

/**
 * iommudirty_version() - the runtime library version.
 * Return: "MAJOR.MINOR.PATCH", a static string; never fails.
 * Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API const char *iommudirty_version(void);

enum iommudirty_log_level {
	IOMMUDIRTY_LOG_ERR = 3,
	IOMMUDIRTY_LOG_WARN = 4,
	IOMMUDIRTY_LOG_INFO = 6,
	IOMMUDIRTY_LOG_DEBUG = 7,
};

/* Log callback: msg has no trailing newline and is valid during the call. */
typedef void (*iommudirty_log_fn)(enum iommudirty_log_level level,
				  const char *msg, void *user);

/**
 * iommudirty_set_log_fn() - install (fn != NULL) or remove a log callback.
 * @ctx: context. @fn: callback or NULL. @user: passed to fn.
 * @max_level: messages with level > max_level are dropped.
 * The environment variable IOMMUDIRTY_LOG=<level number> read at context
 * creation sets the initial max_level (callback still required).
 * Return: 0, or -EINVAL if ctx is NULL or max_level is out of 0..7.
 * Thread-safety: do not call concurrently with other calls on the same ctx.
 * Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_set_log_fn(struct iommudirty_ctx *ctx,
					 iommudirty_log_fn fn, void *user,
					 int max_level);

/* ------------------------------------------------------------------------ */
/* Context                                                                  */

/* Adopt opts.iommufd instead of opening a path. The fd stays the caller's:
 * the library never closes it. */
#define IOMMUDIRTY_CTX_ADOPT_FD (1u << 0)
/* Create the context even when /dev/iommu does not exist (ENOENT): it can
 * then only make type1 trackers, and iommufd calls fail with -ENODEV. */
#define IOMMUDIRTY_CTX_IOMMUFD_OPTIONAL (1u << 1)

struct iommudirty_ctx_opts {
	size_t sz;
	unsigned int flags;     /* IOMMUDIRTY_CTX_* */
	int iommufd;            /* with IOMMUDIRTY_CTX_ADOPT_FD */
	const char *path;       /* NULL: "/dev/iommu" */
	/* Run against this simulated kernel instead of the real one. The sim
	 * must outlive the context. */
	struct iommudirty_sim *sim;
	iommudirty_log_fn log_fn; /* optional, as iommudirty_set_log_fn() */
	void *log_user;
	int log_level;          /* 0: IOMMUDIRTY_LOG_WARN */
};

/**
 * iommudirty_ctx_new() - open (or adopt) an iommufd.
 * @opts: NULL for defaults (open /dev/iommu on the real kernel).
 * Return: a context, or NULL with errno set: EINVAL (bad opts, unknown
 * flags, ADOPT_FD with a negative fd), ENOMEM, or the open(2) error of the
 * device node (ENOENT: no /dev/iommu, the kernel lacks CONFIG_IOMMUFD;
 * EACCES: no permission); since 0.2, EOPNOTSUPP when opts->sim is set in a
 * library built without the simulated kernel (-DIOMMUDIRTY_SIM=OFF).
 * Thread-safety: safe to call concurrently. Since: 0.1
 */
IOMMUDIRTY_API struct iommudirty_ctx *
iommudirty_ctx_new(const struct iommudirty_ctx_opts *opts);

/**
 * iommudirty_ctx_free() - drop the caller's reference. The iommufd is closed
 * (unless adopted) once the last device and tracker made from it are freed.
 * NULL is a no-op. Thread-safety: the caller's own reference; other threads may still use devices and trackers made from it. Since: 0.1
 */
IOMMUDIRTY_API void iommudirty_ctx_free(struct iommudirty_ctx *ctx);

/**
 * iommudirty_ctx_fd() - the iommufd (owned or adopted); for raw ioctls the
 * VMM wants to issue itself. Return: fd >= 0, -EINVAL if ctx is NULL, or
 * -ENODEV if the context has no iommufd (IOMMUDIRTY_CTX_IOMMUFD_OPTIONAL).
 * Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_ctx_fd(const struct iommudirty_ctx *ctx);

/* ------------------------------------------------------------------------ */
/* Devices                                                                  */

/**
 * iommudirty_device_bind() - bind a VFIO device cdev fd
 * (/dev/vfio/devices/vfioN) to the context's iommufd and read its IOMMU
 * hardware info. The fd stays the caller's; the kernel unbinds when it is
 * closed.
 * Return: 0 and *out, or -EINVAL (NULL, fd < 0), -ENODEV (the context has
 * no iommufd), -ENOMEM, or the kernel's
 * error (VFIO_DEVICE_BIND_IOMMUFD: -EINVAL already bound, -EBADF not an
 * iommufd, -ENOTTY not a cdev) or IOMMU_GET_HW_INFO's error. If the bind
 * fails nothing is bound; if only GET_HW_INFO fails the device stays bound
 * (VFIO unbinds only when the fd is closed): close the fd.
 * Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_device_bind(struct iommudirty_ctx *ctx,
					  int vfio_cdev_fd,
					  struct iommudirty_device **out);

/**
 * iommudirty_device_adopt() - wrap a device the VMM already bound itself.
 * @vfio_cdev_fd: its cdev fd, or -1 if the VMM attaches it itself (the
 * library then cannot attach it; see iommudirty_tracker_attach()).
 * @dev_id: the iommufd device id from the VMM's BIND.
 * Return: 0 and *out; -EINVAL (NULL), -ENODEV (the context has no
 * iommufd), -ENOMEM, or IOMMU_GET_HW_INFO's error
 * (-ENOENT: no such device id). Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_device_adopt(struct iommudirty_ctx *ctx,
					   int vfio_cdev_fd, uint32_t dev_id,
					   struct iommudirty_device **out);

/**
 * iommudirty_device_free() - free the handle. Kernel state is untouched
 * (a tracker the device is attached to keeps the attachment). NULL is a
 * no-op. Thread-safety: no other call on dev may run concurrently. Since: 0.1
 */
IOMMUDIRTY_API void iommudirty_device_free(struct iommudirty_device *dev);

/** iommudirty_device_id() - the iommufd device id.
 * Return: the id, or 0 if dev is NULL. Thread-safe. Since: 0.1 */
IOMMUDIRTY_API uint32_t iommudirty_device_id(const struct iommudirty_device *dev);

/* IOMMU_GET_HW_INFO types (the kernel's values) */
#define IOMMUDIRTY_HW_INFO_NONE 0u
#define IOMMUDIRTY_HW_INFO_INTEL_VTD 1u
#define IOMMUDIRTY_HW_INFO_ARM_SMMUV3 2u
#define IOMMUDIRTY_HW_INFO_TEGRA241_CMDQV 3u
#define IOMMUDIRTY_HW_INFO_AMD 4u
#define IOMMUDIRTY_HW_INFO_SELFTEST 0xfeedbeefu

/* out_capabilities bits */
#define IOMMUDIRTY_HW_CAP_DIRTY_TRACKING (1ull << 0)

struct iommudirty_hw_info {
	size_t sz;
	uint32_t type;          /* IOMMUDIRTY_HW_INFO_* */
	uint32_t data_len;      /* valid bytes in data[] */
	uint64_t capabilities;  /* IOMMUDIRTY_HW_CAP_* as the kernel reports */
	uint8_t data[256];      /* vendor registers, as the kernel laid them */
};

/**
 * iommudirty_device_hw_info() - the IOMMU hardware info read at bind/adopt.
 * @info: caller's struct with sz set; filled up to min(sz, ours).
 * Return: 0, or -EINVAL (NULL, sz too small for type..capabilities).
 * Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_device_hw_info(const struct iommudirty_device *dev,
					     struct iommudirty_hw_info *info);

/**
 * iommudirty_device_dirty_capable() - whether the device's IOMMU can track
 * dirty pages (the kernel's IOMMU_HW_CAP_DIRTY_TRACKING bit).
 * Return: 1 yes, 0 no, -EINVAL if dev is NULL. Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_device_dirty_capable(const struct iommudirty_device *dev);

/* ------------------------------------------------------------------------ */
/* Capabilities: why an IOMMU can or cannot track dirty pages              */

enum iommudirty_vendor {
	IOMMUDIRTY_VENDOR_UNKNOWN = 0,
	IOMMUDIRTY_VENDOR_INTEL_VTD = 1,
	IOMMUDIRTY_VENDOR_AMD_VI = 2,
	IOMMUDIRTY_VENDOR_ARM_SMMUV3 = 3,
	IOMMUDIRTY_VENDOR_SELFTEST = 4, /* the kernel's selftest mock IOMMU */
};

/*
 * Stable reason codes: values never change meaning and are never reused.
 * iommudirty_reason_str() gives one line of human text for each.
 */
enum iommudirty_reason {
	IOMMUDIRTY_REASON_NONE = 0,
	/* generic */
	IOMMUDIRTY_REASON_KERNEL_NO_CAP = 1,     /* the kernel's capability bit is 0 */
	IOMMUDIRTY_REASON_UNKNOWN_VENDOR = 2,    /* hw_info type not decoded */
	IOMMUDIRTY_REASON_NO_VENDOR_DATA = 3,    /* the kernel reports no registers */
	IOMMUDIRTY_REASON_SHORT_VENDOR_DATA = 4, /* fewer bytes than the layout */
	IOMMUDIRTY_REASON_DECODE_DISAGREES = 5,  /* registers and kernel bit differ */
	/* Intel VT-d */
	IOMMUDIRTY_REASON_VTD_NO_SMTS = 100,     /* no scalable-mode translation */
	IOMMUDIRTY_REASON_VTD_NO_SLTS = 101,     /* no second-stage translation */
	IOMMUDIRTY_REASON_VTD_NO_SLADS = 102,    /* no second-stage A/D bits */
	IOMMUDIRTY_REASON_VTD_NO_SMPWC = 103,    /* no scalable-mode page-walk coherency */
	/* Inferred: every register allows tracking but the kernel says no;
	 * the kernel's test also needs scalable mode in use, which no
	 * register shows. */
	IOMMUDIRTY_REASON_VTD_LEGACY_MODE = 104, /* scalable mode not in use */
	/* Never reported as a reason: Linux 6.12 flags it on every VT-d and it
	 * does not stop tracking (see IOMMUDIRTY_CONSTRAINT_NO_RO_NEST_PARENT). */
	IOMMUDIRTY_REASON_VTD_ERRATUM_772415 = 105, /* SPR17 erratum flagged */
	/* AMD-Vi */
	IOMMUDIRTY_REASON_AMD_NO_HDSUP = 200,    /* EFR.HDSup = 0 */
	/* ARM SMMUv3 */
	IOMMUDIRTY_REASON_SMMUV3_NO_HTTU_DIRTY = 300, /* IDR0.HTTU lacks dirty */
	IOMMUDIRTY_REASON_SMMUV3_NOT_COHERENT = 301,  /* IDR0.COHACC = 0 */
	IOMMUDIRTY_REASON_SMMUV3_NO_STAGE1 = 302,     /* IDR0.S1P = 0 */
	/* Inferred: the registers allow tracking but the kernel says no;
	 * firmware decides coherency and (ACPI) HTTU. */
	IOMMUDIRTY_REASON_SMMUV3_FIRMWARE = 303,
	/* selftest mock */
	IOMMUDIRTY_REASON_MOCK_NO_DIRTY = 400,   /* device made with NO_DIRTY */
	/* backend choice (iommudirty_tracker_info) */
	IOMMUDIRTY_REASON_NO_IOMMUFD = 500,          /* no /dev/iommu */
	IOMMUDIRTY_REASON_NO_VFIO_CDEV = 501,        /* a device has no VFIO cdev */
	IOMMUDIRTY_REASON_DEVICE_CANNOT_TRACK = 502, /* a device's IOMMU cannot track */
	IOMMUDIRTY_REASON_IOMMUFD_FAILED = 503,      /* an iommufd call failed */
	IOMMUDIRTY_REASON_NO_TYPE1_CONTAINER = 510,  /* no /dev/vfio/vfio */
	IOMMUDIRTY_REASON_NO_TYPE1V2 = 511,          /* container lacks TYPE1v2 */
	IOMMUDIRTY_REASON_GROUP_NOT_VIABLE = 512,    /* a device's group is not viable */
	IOMMUDIRTY_REASON_TYPE1_NO_MIGRATION = 513,  /* no CAP_MIGRATION: no dirty ioctls */
	IOMMUDIRTY_REASON_TYPE1_FAILED = 514,        /* a type1 call failed */
	IOMMUDIRTY_REASON_TYPE1_CONSERVATIVE = 515,  /* type1 reports every mapped page dirty */
	/* per-device dirty sources (iommudirty_tracker_source_info) */
	IOMMUDIRTY_REASON_NO_DMA_LOGGING = 520,      /* the device offers no DMA logging */
	IOMMUDIRTY_REASON_EMULATED_IOMMU = 521,      /* an emulated-IOMMU device (mdev): no IOMMU of its own */
	IOMMUDIRTY_REASON_POLICY = 522,              /* usable, but the policy prefers the chosen one */
	IOMMUDIRTY_REASON_NOT_ALL_LOG = 523,         /* all-or-nothing: some device has no DMA logging */
	IOMMUDIRTY_REASON_UNTRACKED_WRITER = 524,    /* no source: every page it can write is reported dirty */
	IOMMUDIRTY_REASON_LOG_START_FAILED = 525,    /* the device refused DMA_LOGGING_START */
	IOMMUDIRTY_REASON_LOG_RANGES_MERGED = 526,   /* ranges merged to fit the device's limit */
	IOMMUDIRTY_REASON_LOG_UNTRACKED_MAPPING = 527, /* a mapping outside the logged ranges is reported dirty */
	IOMMUDIRTY_REASON_FORCED = 528,              /* the VMM forced another source */
	IOMMUDIRTY_REASON_NO_DEVICE_FD = 529,        /* no device fd: its log cannot be reached */
	IOMMUDIRTY_REASON_NEEDS_IOMMUFD = 530,       /* IOMMU dirty bits need an iommufd tracker */
	IOMMUDIRTY_REASON_LOG_REPORT_FAILED = 531,   /* a REPORT failed: its ranges were reported dirty */
	IOMMUDIRTY_REASON_NEEDS_TYPE1 = 532,         /* the type1 source needs a type1 tracker */
	IOMMUDIRTY_REASON_PRECISE_ONLY = 533,        /* refused: the tracker takes precise sources only */
	/* a device could not be moved back after a failed atomic unmap */
	IOMMUDIRTY_REASON_MOVE_BACK_FAILED = 534,
	/* IOMMUDIRTY_TRACKER_SMALL_IO_PAGES on an IOAS already mapped in a domain */
	IOMMUDIRTY_REASON_HUGE_PAGES_TOO_LATE = 535,
	/* Since 0.2: devlink's `migratable` port function of a VF (mlx5 VFs
	 * report no VFIO migration until it is on). */
	IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF = 540,   /* off: the hint has the command that turns it on */
	IOMMUDIRTY_REASON_DEVLINK_NOT_SWITCHDEV = 541,    /* the PF's eswitch is not in switchdev mode */
	IOMMUDIRTY_REASON_DEVLINK_NO_MIGRATABLE_OP = 542, /* the port's driver has no migratable operation */
	IOMMUDIRTY_REASON_DEVLINK_UNAVAILABLE = 543,      /* no devlink family, or no instance/port reachable */
	IOMMUDIRTY_REASON_DEVLINK_NO_LIBNL = 544,         /* built without libnl: devlink cannot be asked */
	IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF = 545,         /* no VF (no sysfs physfn) and no port given */
	IOMMUDIRTY_REASON_DEVLINK_NO_PORT = 546,          /* the PF has no PCI_VF port with this VF's number */
	IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_ON = 547,    /* on */
};

/* Constraints a tracker must respect even when dirty tracking works. */
#define IOMMUDIRTY_CONSTRAINT_SECOND_STAGE_ONLY (1u << 0) /* VT-d: not first-stage */
#define IOMMUDIRTY_CONSTRAINT_STAGE1_ONLY (1u << 1)  /* SMMUv3: a nesting parent (S2) cannot track */
#define IOMMUDIRTY_CONSTRAINT_NO_PASID (1u << 2)     /* AMD: PASID needs v2 tables, which cannot track; VT-d: no PASID attach of a dirty domain */
#define IOMMUDIRTY_CONSTRAINT_V1_TABLES (1u << 3)    /* AMD: v1 page tables only */
/* VT-d erratum 772415 (SPR17): a nesting-parent HWPT refuses read-only
 * mappings. Reported whenever the kernel flags it. */
#define IOMMUDIRTY_CONSTRAINT_NO_RO_NEST_PARENT (1u << 4)

#define IOMMUDIRTY_CAPS_MAX_REASONS 16

struct iommudirty_caps {
	size_t sz;
	uint32_t vendor;        /* enum iommudirty_vendor */
	int32_t dirty;          /* 1 yes, 0 no (the kernel's bit decides) */
	uint32_t nr_reasons;    /* valid entries in reasons[] */
	uint32_t reasons[IOMMUDIRTY_CAPS_MAX_REASONS]; /* enum iommudirty_reason */
	uint32_t constraints;   /* IOMMUDIRTY_CONSTRAINT_* */
	uint32_t __reserved;
	/* IO page sizes the registers advertise, 0 if they do not say. */
	uint64_t pgsize_bitmap;
	/* What the registers alone say: 1 yes, 0 no, -1 cannot tell. */
	int32_t decoded_dirty;
	uint32_t __reserved2;
	/* Since 0.2, from the device itself (iommudirty_device_caps() only;
	 * iommudirty_decode_hw_info() sets -1 and 0): VFIO device DMA logging
	 * (1 yes, 0 no, -1 unknown: no device fd), and the VFIO migration
	 * flags of VFIO_DEVICE_FEATURE_MIGRATION (STOP_COPY 1, P2P 2,
	 * PRE_COPY 4; 0: no VFIO migration). */
	int32_t dma_logging;
	/* 1: an emulated-IOMMU device (an mdev): no IOMMU of its own, its
	 * only dirty source is its DMA log. */
	int32_t emulated_iommu;
	uint64_t migration_flags;
	/* Since 0.2, iommudirty_device_caps() only, when sz covers them:
	 * devlink's `migratable` for the device's VF port as found when the
	 * device was bound (1 on, 0 off, -1 cannot tell; a later change is
	 * seen by iommudirty_devlink_migratable(), not here) and why
	 * (IOMMUDIRTY_REASON_DEVLINK_*; a non-VF is -1 with
	 * IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF, a device with no fd -1 with
	 * IOMMUDIRTY_REASON_NO_DEVICE_FD). */
	int32_t devlink_migratable;
	uint32_t devlink_reason;
};

/**
 * iommudirty_decode_hw_info() - decode IOMMU_GET_HW_INFO output into a
 * capability report. Pure: no kernel call, any input is safe.
 * @type: out_data_type. @data, @len: the vendor data. @kernel_caps: the
 * kernel's out_capabilities (authoritative for caps->dirty).
 * Return: 0, or -EINVAL (caps NULL or caps->sz too small, data NULL with
 * len > 0). Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_decode_hw_info(uint32_t type, const void *data,
					     uint32_t len, uint64_t kernel_caps,
					     struct iommudirty_caps *caps);

/**
 * iommudirty_device_caps() - the capability report of a bound device's
 * IOMMU, from the hardware info read at bind, and (since 0.2) the device's
 * own DMA logging and VFIO migration support, probed at bind through its
 * fd (VFIO_DEVICE_FEATURE with PROBE; no state changes). Use it to learn
 * why a device's dirty source is what it is.
 * Return: 0, or -EINVAL (NULL, caps->sz too small). Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_device_caps(const struct iommudirty_device *dev,
					  struct iommudirty_caps *caps);

/**
 * iommudirty_reason_str() - one line of human text for a reason code.
 * Return: a static string; "unknown reason" for codes this version does
 * not know. Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API const char *iommudirty_reason_str(uint32_t reason);

/**
 * iommudirty_vendor_str() - the vendor's name ("Intel VT-d", ...).
 * Return: a static string; "unknown" for unknown values. Thread-safe.
 * Since: 0.1
 */
IOMMUDIRTY_API const char *iommudirty_vendor_str(uint32_t vendor);

/* ------------------------------------------------------------------------ */
/* Trackers                                                                 */

/* Adopt opts.ioas_id (the VMM's IOAS, with its existing mappings) instead of
 * allocating one. The library never destroys an adopted IOAS. */
#define IOMMUDIRTY_TRACKER_ADOPT_IOAS (1u << 0)
/* Adopt opts.type1_container_fd: a VFIO type1 container the VMM set up
 * (groups added, VFIO_SET_IOMMU done). The library never closes it. Implies
 * IOMMUDIRTY_BACKEND_TYPE1. */
#define IOMMUDIRTY_TRACKER_ADOPT_CONTAINER (1u << 1)
/* Precise dirty data only: a device whose only source is conservative
 * (type1, or none: an untracked DMA writer) is refused at attach (and at
 * iommudirty_tracker_new() for opts.pci_devices) with -EOPNOTSUPP and
 * IOMMUDIRTY_REASON_PRECISE_ONLY, instead of being reported
 * conservatively. Since: 0.2 */
#define IOMMUDIRTY_TRACKER_PRECISE_ONLY (1u << 2)
/* Keep a standby for cheap atomic unmaps (iommufd): while started, a
 * second IOAS holds the same mappings (IOMMU_IOAS_COPY shares the pinned
 * pages) with a twin dirty-tracking HWPT per HWPT, so that
 * iommudirty_tracker_write_protect() costs kernel calls in the range's
 * runs and the devices only, not in the other mappings. Costs: map and
 * unmap do about twice the kernel work, the IO page tables take twice the
 * memory, and the IOAS and HWPT ids swap on each atomic unmap. Since: 0.2 */
#define IOMMUDIRTY_TRACKER_STANDBY (1u << 3)
/* Small IO pages only (iommufd): IOMMU_OPTION_HUGE_PAGES = 0 on the
 * tracker's IOAS (and its standby) before any mapping, so that a write
 * dirties one small IO page, not a 2 MiB or 1 GiB one (dirty amplification
 * against more IOTLB pressure). On an adopted IOAS whose mappings already
 * sit in a domain it is too late: iommudirty_tracker_new() fails with
 * -EINVAL and IOMMUDIRTY_REASON_HUGE_PAGES_TOO_LATE. Ignored by type1.
 * Since: 0.2 */
#define IOMMUDIRTY_TRACKER_SMALL_IO_PAGES (1u << 4)

/*
 * Dirty sources. A tracker's dirty data is the union over its devices of
 * each device's own source:
 *  - IOMMU: its IOMMU's dirty-tracking HWPT (iommufd). Precise at the IO
 *    page size (a dirty huge IOPTE reports all its pages).
 *  - TYPE1: the type1 container. Conservative: every mapped page is dirty
 *    on every read.
 *  - DEVICE_LOG: the device's own DMA log (VFIO device DMA logging, e.g.
 *    mlx5 or pds VFs). Precise at the device's log page size over the IOVA
 *    ranges given at START; a mapping outside them is reported dirty on
 *    every read (IOMMUDIRTY_REASON_LOG_UNTRACKED_MAPPING).
 *  - NONE: an untracked DMA writer. Conservative: every page of every
 *    writable mapping is dirty on every read, with no kernel call.
 * A read is the OR of the sources its devices use. Since: 0.2
 */
enum iommudirty_source {
	IOMMUDIRTY_SOURCE_AUTO = 0,       /* in requests: choose by policy */
	IOMMUDIRTY_SOURCE_IOMMU = 1,
	IOMMUDIRTY_SOURCE_TYPE1 = 2,
	IOMMUDIRTY_SOURCE_DEVICE_LOG = 3,
	IOMMUDIRTY_SOURCE_NONE = 4,
};

/* How AUTO picks each device's source. Since: 0.2 */
enum iommudirty_policy {
	/* The device's log if it has one, else its IOMMU (iommufd) or the
	 * container (type1), else NONE. QEMU's preference per device. */
	IOMMUDIRTY_POLICY_PREFER_DEVICE_LOG = 0,
	/* The IOMMU (iommufd) if it can track, else the device's log, else
	 * the container (type1) or NONE. */
	IOMMUDIRTY_POLICY_PREFER_IOMMU = 1,
	/* QEMU's container rule: device logs only if every device of the
	 * tracker has one, else no device log at all (decided at start and
	 * whenever devices change while stopped; a device attached while
	 * started follows the decision in force). */
	IOMMUDIRTY_POLICY_ALL_OR_NOTHING = 2,
};

enum iommudirty_backend {
	IOMMUDIRTY_BACKEND_AUTO = 0,    /* choose; see iommudirty_tracker_new() */
	IOMMUDIRTY_BACKEND_IOMMUFD = 1, /* iommufd HWPT dirty tracking: precise */
	IOMMUDIRTY_BACKEND_TYPE1 = 2,   /* legacy VFIO type1: conservative */
};

/* An IOVA range with an inclusive end (it may end at 2^64 - 1). */
struct iommudirty_iova_range {
	uint64_t start;
	uint64_t last; /* inclusive */
};

#define IOMMUDIRTY_INFO_MAX_REASONS 32

struct iommudirty_tracker_info {
	size_t sz;
	uint32_t backend;       /* enum iommudirty_backend in use */
	/* 1: hardware dirty bits. 0: conservative: every mapped page is
	 * reported dirty on every read (type1), so pre-copy cannot converge. */
	int32_t precise;
	uint32_t nr_reasons;
	/* Why the other backend was rejected (auto mode), or why creation
	 * failed; enum iommudirty_reason, device details included. */
	uint32_t reasons[IOMMUDIRTY_INFO_MAX_REASONS];
	uint32_t __reserved;
	uint64_t type1_pgsize;           /* the only page size type1 reads at */
	uint64_t type1_max_bitmap_bytes; /* per type1 call; larger reads are chunked */
	/* Since 0.2: the tracker's devices and how many of them have a
	 * conservative source (type1 or none); precise is 1 only when that
	 * is 0 (and the backend is precise). Per device:
	 * iommudirty_tracker_source_info(). */
	uint32_t nr_devices;
	uint32_t nr_conservative;
};

struct iommudirty_tracker_opts {
	size_t sz;
	unsigned int flags;     /* IOMMUDIRTY_TRACKER_* */
	uint32_t ioas_id;       /* with IOMMUDIRTY_TRACKER_ADOPT_IOAS */
	uint32_t __reserved;    /* must be 0 */
	/* Largest IO page size the IOMMU may use for these mappings (a power of
	 * two, >= 4096). 0: 1 GiB. No kernel read starts or ends inside a
	 * window of this size unless a mapping does: clearing part of a huge
	 * IOPTE would lose the rest of its dirty pages, and the kernel writes a
	 * partly read IOPTE's bits past the end of the bitmap. */
	uint64_t max_io_page;
	uint32_t backend;       /* enum iommudirty_backend; 0: AUTO */
	int type1_container_fd; /* with IOMMUDIRTY_TRACKER_ADOPT_CONTAINER */
	/* PCI devices ("0000:03:00.1") bound to vfio-pci (or a variant) that
	 * the library opens and attaches itself, through the chosen backend:
	 * as /dev/vfio/devices/vfioN (iommufd) or through their group
	 * (type1). iommudirty_tracker_device_fd() gives their fds. */
	const char *const *pci_devices;
	uint32_t nr_pci_devices;
	uint32_t __reserved2;   /* must be 0 */
	/* If not NULL (with its sz set), filled with the choice and the
	 * reasons, also when creation fails. */
	struct iommudirty_tracker_info *info;
	/* For HWPTs the VMM attaches devices to itself
	 * (iommudirty_tracker_alloc_hwpt()): the atomic unmap moves tracking
	 * to a new HWPT and calls this to have the VMM move every device on
	 * old_hwpt to new_hwpt (VFIO_DEVICE_ATTACH_IOMMUFD_PT on an attached
	 * device replaces its attachment). Return 0 or a negative errno; on
	 * failure it is called again with the ids swapped to move them back. */
	int (*replace_fn)(void *user, uint32_t old_hwpt, uint32_t new_hwpt);
	void *replace_user;
	/* Since 0.2. enum iommudirty_policy: how AUTO picks each device's
	 * dirty source. */
	uint32_t policy;
	/* Number of entries in log_windows. */
	uint32_t nr_log_windows;
	/* Windows of IOVA that device logs cover (e.g. all guest RAM, so that
	 * memory mapped later is logged too), instead of the tracker's
	 * mappings at START. Each must start and end (last + 1) on a 4 KiB
	 * boundary; overlapping or touching windows are merged. NULL: the
	 * mappings. */
	const struct iommudirty_iova_range *log_windows;
	/* Per opts.pci_devices entry, the source to use (enum
	 * iommudirty_source; AUTO: by policy). NULL: all AUTO. */
	const uint32_t *pci_sources;
};

/**
 * iommudirty_tracker_new() - make a tracker: an IOAS (allocated or adopted)
 * on iommufd, or a type1 container (opened or adopted).
 * Backend choice: IOMMUDIRTY_BACKEND_IOMMUFD and _TYPE1 force one.
 * AUTO picks iommufd when the context has an iommufd and every device in
 * opts.pci_devices has a VFIO cdev (and, with PRECISE_ONLY, a precise
 * source); otherwise type1 when a TYPE1v2 container with dirty tracking
 * (CAP_MIGRATION) can be set up for them; otherwise it fails with every
 * reason (opts.info, and the log). AUTO with no pci_devices means iommufd.
 * Each device then gets its own dirty source (enum iommudirty_source) by
 * opts.policy or opts.pci_sources: a device whose IOMMU cannot track no
 * longer sends the whole tracker to type1 (changed in 0.2); it uses its
 * DMA log, or is an untracked writer reported conservatively.
 * Mappings already present in an adopted IOAS or container are not known
 * to the tracker; declare them with iommudirty_tracker_adopt_mapping().
 * Return: 0 and *out; -EINVAL (NULL, unknown flags, backend or policy,
 * reserved != 0, bad max_io_page, ADOPT_CONTAINER with ADOPT_IOAS or a
 * negative fd, pci_devices NULL with nr > 0, an unknown pci_sources entry,
 * log_windows NULL with nr > 0, a window not 4 KiB aligned, backwards or
 * ending at 2^64 - 1), -ENODEV (iommufd forced, context has none),
 * -EOPNOTSUPP (no backend can track, a forced source a device lacks, or a
 * conservative device on a PRECISE_ONLY tracker: see opts.info), -ENOENT
 * (no such PCI device or node), -ENOMEM, or the kernel's error. On failure
 * nothing the call opened or created is left behind.
 * Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_new(struct iommudirty_ctx *ctx,
					  const struct iommudirty_tracker_opts *opts,
					  struct iommudirty_tracker **out);

/**
 * iommudirty_tracker_free() - stop tracking, detach the devices this
 * tracker attached, destroy the HWPTs and IOAS it allocated, close the
 * devices, groups and container it opened. Adopted objects are left as
 * found (since 0.2): a HWPT adopted with IOMMUDIRTY_HWPT_TRACKING_ON keeps
 * tracking (one the tracker enabled is turned off), and the mappings the
 * library made in an adopted IOAS are unmapped. Unread dirty bits are
 * discarded. An object the kernel will not
 * destroy yet (e.g. the IOAS while a VMM's HWPT still sits on it) is
 * retried at the context's next tracker call and at its end. NULL is a
 * no-op.
 * Thread-safety: no other call on t may run concurrently. Since: 0.1
 */
IOMMUDIRTY_API void iommudirty_tracker_free(struct iommudirty_tracker *t);

/** iommudirty_tracker_ioas_id() - the IOAS the tracker maps into.
 * Return: its id, or 0 if t is NULL or the tracker uses type1.
 * Thread-safe. Since: 0.1 */
IOMMUDIRTY_API uint32_t iommudirty_tracker_ioas_id(const struct iommudirty_tracker *t);

/**
 * iommudirty_tracker_info() - the backend in use, whether its dirty data is
 * precise (1 only when every device's source is precise), how many devices
 * are conservative, and why the other backend was rejected (plus, since
 * 0.2, the reasons of conservative devices: UNTRACKED_WRITER,
 * TYPE1_CONSERVATIVE). Per device: iommudirty_tracker_source_info().
 * @info: caller's struct with sz set; filled up to min(sz, ours).
 * Return: 0, or -EINVAL (NULL, sz too small). Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_info(struct iommudirty_tracker *t,
					   struct iommudirty_tracker_info *info);

/**
 * iommudirty_tracker_device_fd() - the VFIO device fd of
 * opts.pci_devices[index], opened by the library (a cdev fd on iommufd, a
 * group's device fd on type1), for the VMM's own VFIO calls (regions,
 * interrupts). The tracker owns it: do not close it.
 * Return: the fd, or -EINVAL (t NULL), -ENOENT (index out of range).
 * Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_device_fd(struct iommudirty_tracker *t,
						unsigned int index);

/**
 * iommudirty_tracker_hwpt_ids() - the HWPT ids the tracker reads (owned and
 * adopted), for a VMM that attaches devices itself.
 * Return: the total number of HWPTs (may exceed n; ids[0..min(n,total))
 * filled), or -EINVAL (t NULL, ids NULL with n > 0). Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_hwpt_ids(struct iommudirty_tracker *t,
					       uint32_t *ids, size_t n);

/**
 * iommudirty_tracker_attach() - iommudirty_tracker_attach_device() with
 * default options: the device's source chosen by the tracker's policy.
 * Changed in 0.2: a device whose IOMMU cannot track is no longer refused
 * unless the tracker is IOMMUDIRTY_TRACKER_PRECISE_ONLY; it gets its DMA
 * log or, failing that, the NONE source (reported conservatively).
 * Return: as iommudirty_tracker_attach_device(). Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_attach(struct iommudirty_tracker *t,
					     struct iommudirty_device *dev);

/* The VMM attached (or attaches) the device itself, to this tracker's IOAS
 * or to a HWPT the tracker reads: the library attaches and detaches
 * nothing, it only accounts for the device's writes through its source
 * (its DMA log, which needs the device's fd; IOMMU, if the VMM put it on a
 * HWPT from iommudirty_tracker_alloc_hwpt() or _adopt_hwpt(); else NONE). */
#define IOMMUDIRTY_ATTACH_BY_VMM (1u << 0)

struct iommudirty_attach_opts {
	size_t sz;
	unsigned int flags;  /* IOMMUDIRTY_ATTACH_* */
	uint32_t source;     /* enum iommudirty_source; AUTO: by policy */
};

/**
 * iommudirty_tracker_attach_device() - make @dev one of the tracker's DMA
 * writers and give it a dirty source (enum iommudirty_source): forced by
 * @opts->source, or chosen by the tracker's policy among those the device
 * has: its DMA log (probed at bind), its IOMMU (a HWPT that can track),
 * NONE. Placement on iommufd: a device whose IOMMU can track sits on a
 * dirty-tracking HWPT of this tracker (an existing one if the kernel
 * accepts the device, else a new one), whatever its source, so that its
 * source can change at start without moving it; any other device (and an
 * emulated-IOMMU one, an mdev) is attached to the IOAS directly. If the
 * tracker is started the source starts now (a device log gets START with
 * the tracker's ranges). iommudirty_tracker_source_info() tells the
 * choice and why each other source was rejected.
 * A device whose source is its DMA log is fenced by an unmap alone: the
 * log holds every write made before the unmap and none can follow, so for
 * trackers whose devices all log (or are NONE) iommudirty_tracker_unmap_dirty()
 * is atomic without IOMMUDIRTY_UNMAP_ATOMIC, and write_protect is an
 * unmap then a REPORT.
 * @opts: NULL for defaults.
 * Return: 0; -EINVAL (NULL, bad opts, unknown flags or source, a device
 * of another context), -EBADF (no device fd and not BY_VMM, or a forced
 * DEVICE_LOG without an fd), -EOPNOTSUPP (a type1 tracker: its devices come
 * from opts.pci_devices; a forced source the device does not have; a
 * conservative source on a PRECISE_ONLY tracker; the reasons are in
 * iommudirty_tracker_info() and the log), -EALREADY (already attached
 * here), -ENOMEM, or the kernel's error from HWPT_ALLOC /
 * SET_DIRTY_TRACKING / ATTACH / DMA_LOGGING_START. On failure the device
 * is not attached and no HWPT is left behind.
 * Thread-safe. Since: 0.2
 */
IOMMUDIRTY_API int iommudirty_tracker_attach_device(struct iommudirty_tracker *t,
						    struct iommudirty_device *dev,
						    const struct iommudirty_attach_opts *opts);

#define IOMMUDIRTY_SOURCE_MAX_REASONS 16

struct iommudirty_source_info {
	size_t sz;
	uint32_t dev_id;        /* iommufd device id; 0 on a type1 tracker */
	int32_t pci_index;      /* index in opts.pci_devices, or -1 */
	uint32_t source;        /* enum iommudirty_source */
	int32_t precise;        /* 1: precise, 0: conservative */
	uint32_t nr_reasons;
	/* Why each other source was rejected, and why this one is
	 * conservative if it is (enum iommudirty_reason). */
	uint32_t reasons[IOMMUDIRTY_SOURCE_MAX_REASONS];
	/* Device log, while started: ranges given at START, their total
	 * bytes, and the page size the device chose. */
	uint32_t log_nr_ranges;
	uint32_t flags;         /* IOMMUDIRTY_ATTACH_* it was attached with */
	uint64_t log_tracked_bytes;
	uint64_t log_page_size;
	uint64_t migration_flags; /* the device's VFIO migration flags */
};

/**
 * iommudirty_tracker_source_info() - the dirty source of the tracker's
 * device number @index (devices from opts.pci_devices first, in order,
 * then attached ones in attach order).
 * @info: caller's struct with sz set; filled up to min(sz, ours).
 * Return: the number of devices (> index); -EINVAL (NULL, sz too small),
 * -ENOENT (index >= the number of devices). Thread-safe. Since: 0.2
 */
IOMMUDIRTY_API int iommudirty_tracker_source_info(struct iommudirty_tracker *t,
						  unsigned int index,
						  struct iommudirty_source_info *info);

/**
 * iommudirty_source_str() - the name of a source ("iommu", "type1",
 * "device-log", "none", "auto").
 * Return: a static string; "unknown" otherwise. Thread-safe. Since: 0.2
 */
IOMMUDIRTY_API const char *iommudirty_source_str(uint32_t source);

/**
 * iommudirty_tracker_alloc_hwpt() - allocate a dirty-tracking HWPT on the
 * tracker's IOAS for @dev's IOMMU without attaching anything, for a VMM that
 * attaches its devices itself. The tracker owns, reads and destroys it.
 * Return: 0 and *hwpt_id; -EINVAL, -EOPNOTSUPP (cannot track, or a type1
 * tracker), -ENOMEM, or the kernel's error. Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_alloc_hwpt(struct iommudirty_tracker *t,
						 struct iommudirty_device *dev,
						 uint32_t *hwpt_id);

/* The adopted HWPT already has tracking enabled: never send ENABLE to it
 * (that would wipe the dirty bits it gathered). */
#define IOMMUDIRTY_HWPT_TRACKING_ON (1u << 0)

/**
 * iommudirty_tracker_adopt_hwpt() - read dirty bits from a HWPT the VMM
 * allocated (with IOMMU_HWPT_ALLOC_DIRTY_TRACKING) on this tracker's IOAS.
 * If the tracker is started and the flag is not given, tracking is enabled
 * on it now. The library never destroys it. An id the kernel does not know
 * is found out at the latest by the next start, which fails with -ENOENT
 * once and forgets it; with IOMMUDIRTY_HWPT_TRACKING_ON (which no start
 * touches) at once, by a dirty read of one page that clears nothing.
 * Return: 0; -EINVAL (NULL, id 0, unknown flags), -EEXIST (already known),
 * -EOPNOTSUPP (a type1 tracker), -ENOMEM, SET_DIRTY_TRACKING's error, or
 * with TRACKING_ON the read's (-ENOENT: no such HWPT). Thread-safe.
 * Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_adopt_hwpt(struct iommudirty_tracker *t,
						 uint32_t hwpt_id,
						 unsigned int flags);

/**
 * iommudirty_tracker_detach() - detach a device attached by
 * iommudirty_tracker_attach() or _attach_device(). What its source still
 * owes is kept first: its HWPT stays while the tracker is started, so the
 * dirty bits it gathered are still read (it is destroyed at the next start
 * or at free once it has no device); a device log is read (REPORT) into
 * the tracker's pending bits and stopped; a NONE device leaves every
 * writable mapped page pending. The kernel detach comes first (since 0.2),
 * so a log is read after the device's last write. A BY_VMM device is only
 * forgotten (no kernel detach): detach it yourself before this call, or
 * its writes after the log is read are not reported.
 * Return: 0; -EINVAL (NULL), -EOPNOTSUPP (a type1 tracker), -ENOENT (not
 * attached here), or the kernel's DETACH error (the device then stays
 * attached). Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_detach(struct iommudirty_tracker *t,
					     struct iommudirty_device *dev);

#define IOMMUDIRTY_MAP_READ (1u << 0)
#define IOMMUDIRTY_MAP_WRITE (1u << 1)

/**
 * iommudirty_tracker_map() - map [va, va+length) at [iova, iova+length).
 * @flags: IOMMUDIRTY_MAP_READ and/or _WRITE (at least one).
 * Return: 0; -EINVAL (NULL va, length 0, no or unknown flags, iova or length
 * not a multiple of the IOAS alignment), -EOVERFLOW (does not end below 2^64),
 * -EEXIST (overlaps a mapping), -ENOMEM, or IOMMU_IOAS_MAP's error.
 * Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_map(struct iommudirty_tracker *t,
					  void *va, uint64_t length,
					  uint64_t iova, unsigned int flags);

/**
 * iommudirty_tracker_adopt_mapping() - declare a mapping the VMM made in an
 * adopted IOAS, so reads cover it. No kernel call.
 * Return: 0; -EINVAL, -EOVERFLOW, -EEXIST, -ENOMEM as for map. Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_adopt_mapping(struct iommudirty_tracker *t,
						    uint64_t iova,
						    uint64_t length);

/**
 * iommudirty_tracker_unmap() - unmap the tracker's whole mappings inside
 * [iova, iova+length), one kernel call per run of adjacent ones: mappings
 * the VMM made itself in an adopted IOAS or container and did not declare
 * are left alone. Their dirty bits are discarded (use
 * iommudirty_tracker_unmap_dirty() to keep them). Mappings taken away by
 * iommudirty_tracker_write_protect() are only forgotten. Since 0.2, a run
 * of adopted mappings the kernel no longer has (its unmap says -ENOENT:
 * the VMM removed or replaced them itself) is forgotten, with a warning in
 * the log, and the kernel's mapping there now is left alone.
 * Return: 0; -EINVAL (NULL, length 0), -EOVERFLOW, -ENOENT (the range cuts a
 * mapping or holds none: nothing is unmapped), or the kernel's unmap error
 * (runs unmapped before it stay unmapped: they are no longer read).
 * Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_unmap(struct iommudirty_tracker *t,
					    uint64_t iova, uint64_t length);

/**
 * iommudirty_tracker_iova_ranges() - the IOVA ranges the IOAS allows (they
 * narrow as devices attach) and the alignment map/read need.
 * @ranges: filled with up to n ranges (may be NULL when n is 0).
 * @alignment: if not NULL, the required IOVA alignment in bytes.
 * Return: the total number of ranges (call again with a larger array if it
 * exceeds n), -EINVAL, -EOPNOTSUPP (a type1 tracker), -ENOMEM, or
 * IOMMU_IOAS_IOVA_RANGES's error.
 * Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_iova_ranges(struct iommudirty_tracker *t,
						  struct iommudirty_iova_range *ranges,
						  size_t n, uint64_t *alignment);

/**
 * iommudirty_tracker_start() - start every device's dirty source. Each
 * device's source is chosen again first (policy, force, what it has).
 * Device logs get DMA_LOGGING_START with the tracker's ranges (opts.log_windows,
 * else its mappings), merged to at most 256 and retried with fewer and
 * wider ranges while the device answers -E2BIG; a device that refuses
 * falls back to its next source by policy (reason LOG_START_FAILED)
 * unless its source was forced. HWPTs with a device on the IOMMU source
 * (and the VMM's) get ENABLE; ones already tracking are not sent it again
 * (the kernel would wipe their dirty bits), so starting a started tracker
 * is a no-op. The type1 container's tracking starts unless every device
 * logs on its own. A fresh start begins from a clean slate.
 * Return: 0; -EINVAL (NULL), -EOPNOTSUPP (a device has no source it may
 * use: see iommudirty_tracker_source_info()), or the kernel's error from
 * SET_DIRTY_TRACKING, DIRTY_PAGES or a forced device's DMA_LOGGING_START
 * (what this call started is stopped again). Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_start(struct iommudirty_tracker *t);

/**
 * iommudirty_tracker_stop() - stop dirty tracking (device logs get
 * DMA_LOGGING_STOP). Unread bits are lost: read before stopping. Stopping
 * a stopped tracker is a no-op.
 * Return: 0; -EINVAL (NULL), or the first SET_DIRTY_TRACKING error (the
 * other HWPTs are still turned off). Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_stop(struct iommudirty_tracker *t);

/**
 * iommudirty_tracker_started() - whether tracking is started.
 * Return: 1 if started, 0 if not, -EINVAL if t is NULL. Thread-safe.
 * Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_started(const struct iommudirty_tracker *t);

/* Read without clearing: the same bits are reported again next time. */
#define IOMMUDIRTY_READ_NO_CLEAR (1u << 0)

/**
 * iommudirty_tracker_read() - the dirty bitmap of [iova, iova+length) at
 * @page_size granularity: bit i (LSB-first in u64 word i/64) is page
 * [iova + i*page_size, +page_size). The library sets every bit of the range
 * (zeroing first); bits past the range's last page in the last word are
 * zeroed. Holes read clean; every mapped page dirtied since the previous
 * clearing read is reported (union over the tracker's HWPTs). Pages may be
 * reported dirty conservatively (a huge IO page reports all its pages).
 * No kernel read ever spans a hole; IOVA-adjacent mappings are read with one
 * call per HWPT. Since 0.2 the bitmap is the union of the sources of the
 * tracker's devices: HWPTs, the container, each device log (one REPORT per
 * logged range per 1 GiB at 4 KiB pages; REPORT reads and clears, so a
 * NO_CLEAR read keeps what it took for the next read), and every writable
 * mapped page if a device is an untracked writer.
 * @page_size: a power of two; iova and length must be multiples of it and
 * of the IOAS alignment.
 * @bitmap_bytes: at least iommudirty_bitmap_size(length, page_size).
 * @flags: 0 (read and clear) or IOMMUDIRTY_READ_NO_CLEAR.
 * Return: 0; -EINVAL (NULL, length 0, bad page_size or alignment, unknown
 * flags, tracker not started), -EOVERFLOW, -ERANGE (bitmap too small),
 * -E2BIG (type1: one mapping needs more bitmap than one kernel call may
 * take, type1_max_bitmap_bytes; the kernel cannot read part of a mapping),
 * -ENOMEM, or GET_DIRTY_BITMAP's or DMA_LOGGING_REPORT's error (bits read
 * before it are still in the bitmap; with read-and-clear, treat the whole
 * range as dirty). A failed REPORT means the device's log is corrupt: the
 * part of the range it covered is set in the bitmap, and the device's other
 * logged ranges are reported dirty by the next reads.
 * Thread-safety: concurrent reads of disjoint ranges into distinct bitmaps
 * are safe; map/unmap wait for reads. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_read(struct iommudirty_tracker *t,
					   uint64_t iova, uint64_t length,
					   uint64_t page_size, uint64_t *bitmap,
					   size_t bitmap_bytes,
					   unsigned int flags);

/**
 * iommudirty_tracker_read_counted() - iommudirty_tracker_read(), and the
 * number of dirty pages it reported in *nr_dirty (what a VMM decides
 * convergence from), without a pass of the caller's own over the bitmap.
 * Return: as iommudirty_tracker_read(), and -EINVAL if nr_dirty is NULL;
 * *nr_dirty is set only on success. Thread-safety: as
 * iommudirty_tracker_read(). Since: 0.2
 */
IOMMUDIRTY_API int iommudirty_tracker_read_counted(struct iommudirty_tracker *t,
						   uint64_t iova, uint64_t length,
						   uint64_t page_size, uint64_t *bitmap,
						   size_t bitmap_bytes, unsigned int flags,
						   uint64_t *nr_dirty);

/**
 * iommudirty_tracker_forget_mapping() - the opposite of
 * iommudirty_tracker_adopt_mapping(): forget the declared mappings inside
 * [iova, iova+length) that the VMM removed itself, with no kernel call, so
 * that the IOVA can be declared again (say, larger). Dirty bits already
 * harvested for the range stay owed to the next read.
 * Return: 0; -EINVAL (NULL, length 0, a mapping in the range that the
 * library mapped itself: unmap it instead), -EOVERFLOW, -ENOENT (the range
 * cuts a mapping or holds none). Thread-safe. Since: 0.2
 */
IOMMUDIRTY_API int iommudirty_tracker_forget_mapping(struct iommudirty_tracker *t,
						     uint64_t iova, uint64_t length);

/**
 * iommudirty_tracker_set_guest() - give the whole mappings inside [iova,
 * iova+length) the VMM's address for them (guest-physical address or RAM
 * offset, in the VMM's own dirty space): the mapping at iova + x gets
 * gaddr + x. Until then a mapping's guest address is its IOVA: a clearing
 * guest-space read between the map and this call reports the device's
 * writes at the IOVA. For a mapping made while tracking, use
 * iommudirty_tracker_map_guest(), which leaves no such window. From then on, while tracking is started, an
 * unmap of such a mapping (plain, unmap_dirty, or atomic: a vIOMMU
 * invalidation) keeps what it collected in guest space, and the next
 * iommudirty_tracker_read_guest() covering it reports it: in-flight dirty
 * state is not lost when the guest unmaps and remaps. (A plain unmap then
 * reads before unmapping, like unmap_dirty.)
 * Return: 0; -EINVAL (NULL, length 0, gaddr not a multiple of the IOAS
 * alignment), -EOVERFLOW, -ENOENT (the range cuts a mapping or holds
 * none). Thread-safe. Since: 0.2
 */
IOMMUDIRTY_API int iommudirty_tracker_set_guest(struct iommudirty_tracker *t,
						uint64_t iova, uint64_t length,
						uint64_t gaddr);

/* iommudirty_tracker_map_guest() flags: instead of READ/WRITE, declare a
 * mapping the VMM made itself (as iommudirty_tracker_adopt_mapping()).
 * Since: 0.2 */
#define IOMMUDIRTY_MAP_ADOPT (1u << 2)

/**
 * iommudirty_tracker_map_guest() - iommudirty_tracker_map() (or, with
 * @flags IOMMUDIRTY_MAP_ADOPT and @va NULL, _adopt_mapping()) and
 * iommudirty_tracker_set_guest(iova, length, gaddr) in one step: no read
 * sees the new mapping without its guest address, so a device write right
 * after the map is never reported at the IOVA instead of at @gaddr (the
 * vIOMMU map path while tracking).
 * Return: 0; -EINVAL (NULL t, va NULL without ADOPT or set with it, flags
 * neither READ/WRITE nor ADOPT alone, gaddr not a multiple of the IOAS
 * alignment, and map's own -EINVAL cases), -EOVERFLOW (iova or gaddr range
 * wraps), -EEXIST, -ENOMEM, or IOMMU_IOAS_MAP's error; on error nothing is
 * mapped or declared. Thread-safe. Since: 0.2
 */
IOMMUDIRTY_API int iommudirty_tracker_map_guest(struct iommudirty_tracker *t,
						void *va, uint64_t length,
						uint64_t iova, uint64_t gaddr,
						unsigned int flags);

/**
 * iommudirty_tracker_read_guest() - the dirty bitmap of the VMM's
 * [gaddr, gaddr+length) at @page_size: bit i is guest page gaddr +
 * i*page_size. Every mapping backing any part of the window contributes
 * (two IOVAs aliasing one guest page are OR-ed); IOVA-contiguous mappings
 * are read with one kernel call per source, then scattered; guest memory
 * no mapping backs reads clean, except what unmaps of guest-addressed
 * mappings kept (see iommudirty_tracker_set_guest()). Read-and-clear, or
 * IOMMUDIRTY_READ_NO_CLEAR, as iommudirty_tracker_read(), with every
 * source of the tracker's devices.
 * Return: 0; -EINVAL (NULL, length 0, bad page_size, gaddr or length not a
 * multiple of it, unknown flags, tracker not started, a mapping whose IOVA
 * and guest address differ by no multiple of page_size), -EOVERFLOW,
 * -ERANGE (bitmap too small), -ENOMEM, or a kernel read's error (as
 * iommudirty_tracker_read(): treat the window as dirty).
 * Thread-safety: as iommudirty_tracker_read(). Since: 0.2
 */
IOMMUDIRTY_API int iommudirty_tracker_read_guest(struct iommudirty_tracker *t,
						 uint64_t gaddr, uint64_t length,
						 uint64_t page_size, uint64_t *bitmap,
						 size_t bitmap_bytes, unsigned int flags);

/* The atomic variant: iommudirty_tracker_write_protect(), then the unmap. */
#define IOMMUDIRTY_UNMAP_ATOMIC (1u << 0)

/**
 * iommudirty_tracker_write_protect() - take whole mappings inside [iova,
 * iova+length) away from every device and report their final dirty bits:
 * "write-protect and clear dirties", the first half of an atomic unmap.
 * Guarantee, once it returns: (1) no attached device can write the range
 * (DMA to it faults; reads of it fault too); (2) every write a device
 * completed to the range before that moment is in the bitmap, or was
 * reported by an earlier read; (3) the mappings stay known to the tracker,
 * reading clean, until iommudirty_tracker_unmap() of them, which then needs
 * no kernel call: the kernel has already dropped them.
 * How, and what it costs: iommufd has no write-protect operation, but it
 * can move a device to another page table atomically. With
 * IOMMUDIRTY_TRACKER_STANDBY (0.2) the tracker keeps a standby IOAS with
 * the same mappings and a twin HWPT per HWPT: the range is unmapped from
 * the standby, every device moves onto the twins, the range is read from
 * the old HWPTs (their bits are final) and unmapped from the old IOAS,
 * which becomes the next standby; the old HWPTs' bits outside the range
 * are owed and every read consults them until a clearing read drains
 * them. Cost: kernel calls in the range's runs and the devices only
 * (bench_atomic: about the cost of the cheap path, at 10 to 10000
 * mappings). Without the standby, the library builds a second IOAS
 * holding every other mapping (one IOMMU_IOAS_COPY per mapping: the pinned
 * pages are shared, not copied), a dirty-tracking HWPT per IOMMU on it,
 * moves every device onto it and walks the old page tables: kernel calls
 * in proportion to the number of mappings. Either way the IOAS and HWPT
 * ids change (ask iommudirty_tracker_ioas_id()/_hwpt_ids() again).
 * Replacing an attachment is not hitless on every IOMMU (6.12 VT-d blocks
 * DMA briefly): devices may see transient faults on other mappings.
 * On type1 it is the kernel's unmap with a dirty bitmap (atomic there).
 * Device logs and untracked writers (0.2): when no HWPT tracks and the
 * container does not either (every device logs or is NONE), the fence is a
 * plain unmap, which the mappings then have gone through, and the logs are
 * read (REPORT) after it: cost independent of the other mappings. With
 * HWPTs tracking too, devices on the IOAS itself move with the others, and
 * the logs are read after the move.
 * Arguments and bitmap as iommudirty_tracker_read(); the tracker must be
 * started; @flags must be 0.
 * Return: 0; -EINVAL, -EOVERFLOW, -ERANGE, -E2BIG as for a read; -ENOENT
 * (the range cuts a mapping or holds none); -EOPNOTSUPP (adopted IOAS or HWPT, or a
 * VMM-attached HWPT without opts.replace_fn, or a BY_VMM device not on the
 * IOMMU source while HWPTs track); -ENOMEM; or the kernel's error, with
 * nothing changed (every device is still on its attachment), except on the
 * plain-unmap fence, where runs unmapped before the error stay unmapped
 * and what their logs hold is kept for the next reads.
 * Thread-safe (waits for reads). Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_write_protect(struct iommudirty_tracker *t,
						    uint64_t iova, uint64_t length,
						    uint64_t page_size,
						    uint64_t *bitmap,
						    size_t bitmap_bytes,
						    unsigned int flags);

/**
 * iommudirty_tracker_unmap_dirty() - report the dirty bits of whole
 * mappings inside [iova, iova+length), then unmap them. The cheap way, as
 * the kernel's designers chose: a read without clearing (no extra IOTLB
 * flush), then IOMMU_IOAS_UNMAP.
 * Guarantee: every device write that completed before the read began is in
 * the bitmap. NOT guaranteed: a write by a device still doing DMA into the
 * range after the read started and before the unmap finished may be missing
 * (it may also land in memory). Quiesce the device's DMA to the range first,
 * or pay for IOMMUDIRTY_UNMAP_ATOMIC: iommudirty_tracker_write_protect()
 * then the unmap, with that guarantee and that cost.
 * On type1 the kernel reads and unmaps under one lock (VFIO_IOMMU_UNMAP_DMA
 * with GET_DIRTY_BITMAP), so nothing is missed there, and as everywhere on
 * type1 every page is reported dirty.
 * Device logs (0.2) are read after the unmap, so for a device whose source
 * is its log nothing is missed either: the log holds every write made
 * before the unmap and none can follow it. Untracked writers report every
 * writable page of the range.
 * Arguments and bitmap as iommudirty_tracker_read(); the tracker must be
 * started.
 * Return: 0; the errors of read and unmap, and with IOMMUDIRTY_UNMAP_ATOMIC
 * those of iommudirty_tracker_write_protect(). If the read fails nothing is
 * unmapped; if the unmap fails the bitmap holds the bits and the mappings
 * stay. Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_tracker_unmap_dirty(struct iommudirty_tracker *t,
						  uint64_t iova, uint64_t length,
						  uint64_t page_size,
						  uint64_t *bitmap,
						  size_t bitmap_bytes,
						  unsigned int flags);

/* ------------------------------------------------------------------------ */
/* Bitmaps: u64 words, bit i of the map is bit i%64 of word i/64.           */

/**
 * iommudirty_bitmap_size() - bytes of bitmap for @length at @page_size,
 * rounded up to whole u64 words. Return: the size, or 0 if length is 0 or
 * page_size is not a power of two. Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API size_t iommudirty_bitmap_size(uint64_t length, uint64_t page_size);

/* Called per run of set bits [first, first+count); non-zero stops the walk
 * and is returned by the walker. */
typedef int (*iommudirty_run_fn)(uint64_t first, uint64_t count, void *user);

/**
 * iommudirty_bitmap_for_each_run() - call fn for each maximal run of set
 * bits in bits [0, nbits), in order, scanning a word at a time.
 * Return: 0, fn's non-zero return, or -EINVAL (NULL bitmap with nbits > 0,
 * NULL fn). Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_bitmap_for_each_run(const uint64_t *bitmap,
						  uint64_t nbits,
						  iommudirty_run_fn fn,
						  void *user);

/**
 * iommudirty_bitmap_or() - dst |= src over bits [0, nbits); bits of dst's
 * last word past nbits are left as they were.
 * Return: 0 or -EINVAL (NULL with nbits > 0). Thread-safe (dst must not be written concurrently). Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_bitmap_or(uint64_t *dst, const uint64_t *src,
					uint64_t nbits);

/**
 * iommudirty_bitmap_or_at() - dst |= src, with bit 0 of src going to bit
 * @dst_bit of dst, over nbits bits (e.g. a tracker's bitmap into a VMM's
 * at its RAM offset); dst bits outside [dst_bit, dst_bit+nbits) keep their
 * values, and no dst word past that range is touched.
 * Return: 0; -EINVAL (NULL with nbits > 0), -EOVERFLOW (dst_bit + nbits
 * wraps). Thread-safe (dst must not be written concurrently). Since: 0.2
 */
IOMMUDIRTY_API int iommudirty_bitmap_or_at(uint64_t *dst, uint64_t dst_bit,
					   const uint64_t *src, uint64_t nbits);

/* A run of set bits: [first, first + count). */
struct iommudirty_run {
	uint64_t first;
	uint64_t count;
};

/**
 * iommudirty_bitmap_runs() - the batch walker for dense maps: fill @runs
 * with up to @n maximal runs of set bits in [*pos, nbits), in order, and
 * move *pos past the last one (to nbits when none is left). Start with
 * *pos = 0 and call until it returns 0; no callback per run. A run that
 * begins before *pos is cut there.
 * Return: the number of runs written (0: none left); -EINVAL (pos NULL,
 * bitmap NULL with nbits > 0, runs NULL with n > 0).
 * Thread-safe (the bitmap must not change during the call). Since: 0.2
 */
IOMMUDIRTY_API int iommudirty_bitmap_runs(const uint64_t *bitmap, uint64_t nbits,
					  uint64_t *pos, struct iommudirty_run *runs,
					  size_t n);

/**
 * iommudirty_bitmap_count() - number of set bits in [0, nbits).
 * Return: the count, or -EINVAL (NULL with nbits > 0). Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int64_t iommudirty_bitmap_count(const uint64_t *bitmap,
					       uint64_t nbits);

/* ------------------------------------------------------------------------ */
/* devlink: the `migratable` port function of a VF (needs libnl-genl-3)     */

/** A devlink port, "bus/dev/index" as devlink(8) prints it. Since: 0.2 */
struct iommudirty_devlink_port {
	size_t sz;
	char bus[16];      /* "pci" */
	char dev[64];      /* the PF's device name, "0000:03:00.0" */
	uint32_t index;    /* the port index */
	uint32_t __reserved;
};

/** What devlink says of a VF's `migratable`. Since: 0.2 */
struct iommudirty_migratable {
	size_t sz;
	int32_t state;     /* 1 on, 0 off, -1 cannot tell: see reason */
	uint32_t reason;   /* IOMMUDIRTY_REASON_DEVLINK_* */
	struct iommudirty_devlink_port port; /* the port found, or the one given */
	char hint[256];    /* when off: the devlink command that turns it on */
	char message[256]; /* the kernel's extack message when it refused, else "" */
};

/**
 * iommudirty_devlink_migratable() - query a VF's devlink port function
 * `migratable`. @vf_bdf: the VF's PCI name ("0000:00:04.0"); its PF comes
 * from sysfs physfn, its port is the PF's PCI_VF-flavour port with the VF's
 * number. @port: an explicit devlink port instead (@vf_bdf may then be
 * NULL). @ctx routes the netlink traffic (a context on the simulated kernel
 * asks the sim's devlink).
 * Return: 0 with @out->state and @out->reason filled whenever the answer is
 * a fact about the system (on, off, unsupported, no devlink, no libnl, ...);
 * -EINVAL (NULLs, sz too small, malformed names; no netlink traffic),
 * -ENOMEM, or a socket error. Thread-safe (one netlink socket per call).
 * Since: 0.2
 */
IOMMUDIRTY_API int iommudirty_devlink_migratable(struct iommudirty_ctx *ctx,
						 const char *vf_bdf,
						 const struct iommudirty_devlink_port *port,
						 struct iommudirty_migratable *out);

/**
 * iommudirty_devlink_set_migratable() - turn a VF's `migratable` on
 * (@enable 1) or off (0); @vf_bdf, @port as iommudirty_devlink_migratable().
 * Return: 0, @out filled by a query afterwards; on refusal the kernel's
 * negative errno with @out->message its extack text and @out->reason set;
 * -EOPNOTSUPP with IOMMUDIRTY_REASON_DEVLINK_NO_LIBNL without libnl;
 * -EINVAL as for the query. Thread-safe. Since: 0.2
 */
IOMMUDIRTY_API int iommudirty_devlink_set_migratable(struct iommudirty_ctx *ctx,
						     const char *vf_bdf,
						     const struct iommudirty_devlink_port *port,
						     int enable,
						     struct iommudirty_migratable *out);

/* ------------------------------------------------------------------------ */
/* The simulated kernel                                                     */
/*
 * An in-process model of iommufd + VFIO cdev, struct for struct, including
 * the real kernel's traps (a dirty read across a hole succeeds with partial
 * data; ENABLE wipes gathered bits even when already enabled; the user
 * bitmap is only ever OR-ed into; page_size is not checked to be a power of
 * two; huge IOPTEs report all their pages). Pass it in
 * iommudirty_ctx_opts.sim to run the library on it, e.g. to test a VMM's
 * migration code on a machine without an IOMMU. All sim calls are
 * thread-safe. File descriptors it hands out are real (eventfds) but only
 * mean something to the sim: release them with iommudirty_sim_close().
 */

/* Kernel configurations the sim can pretend to have. */
#define IOMMUDIRTY_SIM_NO_IOMMUFD (1u << 0) /* no /dev/iommu (CONFIG_IOMMUFD=n) */
#define IOMMUDIRTY_SIM_NO_TYPE1 (1u << 1)   /* no /dev/vfio/vfio */
#define IOMMUDIRTY_SIM_NO_CDEV (1u << 2)    /* no VFIO cdevs (CONFIG_VFIO_DEVICE_CDEV=n) */
/* /dev/vfio/vfio is iommufd's compat container: TYPE1v2 but no
 * CAP_MIGRATION and no dirty ioctls. */
#define IOMMUDIRTY_SIM_TYPE1_COMPAT (1u << 3)
/* No devlink generic-netlink family (CONFIG_NET_DEVLINK=n): resolving
 * "devlink" fails with -ENOENT. Since: 0.2 */
#define IOMMUDIRTY_SIM_NO_DEVLINK (1u << 16)
/* The caller lacks CAP_NET_ADMIN (an unprivileged VMM): generic netlink
 * refuses devlink's admin commands (PORT_SET, ESWITCH_GET) with -EPERM
 * and no message before devlink sees them; PORT_GET still answers.
 * Since: 0.2 */
#define IOMMUDIRTY_SIM_NO_NET_ADMIN (1u << 17)

struct iommudirty_sim_opts {
	size_t sz;
	unsigned int flags;  /* IOMMUDIRTY_SIM_* */
	uint32_t __reserved; /* must be 0 */
	/* Type1's per-call bitmap limit (CAP_MIGRATION max_dirty_bitmap_size),
	 * bytes; 0: the kernel's 256 MiB. Small values test chunking. */
	uint64_t type1_max_bitmap;
};

/** iommudirty_sim_new() - a new simulated kernel, with no IOMMU yet.
 * Return: the sim, or NULL with errno EINVAL (bad opts) or ENOMEM.
 * Thread-safe. Since: 0.1 */
IOMMUDIRTY_API struct iommudirty_sim *
iommudirty_sim_new(const struct iommudirty_sim_opts *opts);

/** iommudirty_sim_free() - free the sim and close every fd it handed out.
 * Contexts using it must be freed first. NULL is a no-op. Thread-safety: no other call on the sim may run concurrently. Since: 0.1 */
IOMMUDIRTY_API void iommudirty_sim_free(struct iommudirty_sim *sim);

/* The IOMMU cannot track dirty pages (no IOMMU_HW_CAP_DIRTY_TRACKING). */
#define IOMMUDIRTY_SIM_IOMMU_NO_DIRTY (1u << 0)

struct iommudirty_sim_iommu_opts {
	size_t sz;
	unsigned int flags;      /* IOMMUDIRTY_SIM_IOMMU_* */
	uint32_t hw_info_type;   /* 0: IOMMUDIRTY_HW_INFO_SELFTEST */
	/* IO page sizes; the smallest is the IOAS alignment, larger ones are
	 * huge IOPTEs used where iova, va and length allow. 0: 4 KiB only. */
	uint64_t pgsize_bitmap;
	const void *hw_info_data; /* vendor data GET_HW_INFO returns */
	uint32_t hw_info_len;
	uint32_t __reserved;
	uint64_t aperture_start;  /* 0 and 0: the whole 64-bit space */
	uint64_t aperture_last;
};

/** iommudirty_sim_add_iommu() - add an IOMMU instance.
 * Return: its index (>= 0), or -EINVAL, -ENOMEM. Thread-safe. Since: 0.1 */
IOMMUDIRTY_API int iommudirty_sim_add_iommu(struct iommudirty_sim *sim,
					    const struct iommudirty_sim_iommu_opts *opts);

/** iommudirty_sim_add_device() - add a PCI device behind IOMMU @iommu,
 * without DMA logging or VFIO migration (VFIO_DEVICE_FEATURE: -ENOTTY).
 * Return: its index (>= 0), or -EINVAL (no such IOMMU), -ENOMEM.
 * Thread-safe. Since: 0.1 */
IOMMUDIRTY_API int iommudirty_sim_add_device(struct iommudirty_sim *sim,
					     int iommu);

/* The device implements VFIO device DMA logging (DMA_LOGGING_START / STOP /
 * REPORT), with the checks of Linux 6.12's vfio core and a well-behaved
 * driver behind them (see iommudirty_sim_add_vfio_device()). */
#define IOMMUDIRTY_SIM_DEV_DMA_LOGGING (1u << 0)
/* An emulated-IOMMU device (an mdev, such as the kernel's mtty sample): no
 * IOMMU, and in the sim no PCI address and no IOMMU group either: only its
 * cdev (iommudirty_sim_open_device(), /dev/vfio/devices/vfioN), on iommufd
 * only (the sim has no type1 path for it). As 6.12's
 * vfio_iommufd_emulated_bind(), BIND makes an iommufd access object and
 * returns its id as out_devid: IOMMU_GET_HW_INFO and IOMMU_HWPT_ALLOC with
 * that id fail with -ENOENT (it is no device object), IOMMU_DESTROY of it
 * with -EBUSY. VFIO_DEVICE_ATTACH_IOMMUFD_PT takes an IOAS only: pt_id
 * comes back unchanged (no domain is made), any other id, a HWPT's
 * included, is -ENOENT; a second ATTACH moves it to another IOAS. That IOAS
 * then needs 4 KiB alignment (IOVA_RANGES answers 4096; joining an IOAS
 * with an area not 4 KiB aligned in IOVA, length or VA is -EADDRINUSE) and
 * cannot be destroyed (-EBUSY). Its writes go through the IOAS, set no
 * IOMMU dirty bit anywhere, and land in its own DMA log. */
#define IOMMUDIRTY_SIM_DEV_EMULATED_IOMMU (1u << 1)

struct iommudirty_sim_device_opts {
	size_t sz;
	unsigned int flags;      /* IOMMUDIRTY_SIM_DEV_* */
	int iommu;               /* IOMMU index; ignored with EMULATED_IOMMU */
	/* VFIO_DEVICE_FEATURE_MIGRATION flags (VFIO_MIGRATION_STOP_COPY 1,
	 * P2P 2, PRE_COPY 4); non-zero must hold STOP_COPY, as 6.12's
	 * vfio_pci_core_register_device() demands. 0: no VFIO migration
	 * (the feature is -ENOTTY). MIG_DEVICE_STATE and MIG_DATA_SIZE are
	 * not modelled: -ENOTTY on every device. */
	uint64_t migration_flags;
	/* DMA logging: START with more ranges is -E2BIG; 0 (or above 256):
	 * the core's 256. (6.12's mlx5 and pds instead merge ranges past
	 * their limit with vfio_combine_iova_ranges(): the gaps get logged.) */
	uint32_t log_max_ranges;
	uint32_t __reserved;     /* must be 0 */
	/* DMA logging: the device's log page size (a power of two >= 4096),
	 * answered in page_size at START whatever was asked; 0: the size asked
	 * rounded up to a power of two >= 4096 (an ask above 2^63: -EINVAL).
	 * (mlx5 rounds down and clamps to its own range.) */
	uint64_t log_page_size;
	/* DMA logging: START fails with -E2BIG when the ranges' span (first
	 * iova to last end) exceeds this many bytes; 0: no limit. (mlx5
	 * limits the sum of the lengths, rounded up to a power of two, and
	 * answers -EOPNOTSUPP.) */
	uint64_t log_max_span;
};

/**
 * iommudirty_sim_add_vfio_device() - add a VFIO device with the features of
 * @opts: DMA logging, VFIO migration, an emulated IOMMU. With none it is
 * iommudirty_sim_add_device()'s plain PCI device.
 * VFIO_DEVICE_FEATURE, on a bound cdev or a group's device fd (an unbound
 * cdev answers every ioctl but BIND -EINVAL), checks as 6.12's core does:
 * argsz below 8, unknown flag bits, or GET with SET but no PROBE -EINVAL;
 * then a feature the device lacks -ENOTTY (before any GET/SET check); then
 * a GET or SET the feature does not take, or neither, -EINVAL; PROBE
 * answers 0 and does nothing; a payload short of the feature's struct
 * -EINVAL.
 * START (SET): num_ranges 0 -EINVAL, above 256 -E2BIG; then range by range
 * (ranges NULL -EFAULT): iova or length not aligned to page_size -EINVAL
 * (a mask test, so any page_size with the right zero bits passes, 1 or
 * 3000 too, and 0 passes only {0, 0}), iova + length carrying past 2^64
 * -EOVERFLOW, an overlap with an earlier range -EINVAL (the interval
 * tree's test taken literally: a zero-length range, whose last byte is
 * iova - 1, can collide too); __reserved is never checked. Then the sim's
 * driver: already started -EBUSY (6.12's mlx5 and pds answer -EINVAL,
 * mtty 0), a zero-length range -EINVAL, more than log_max_ranges or a span
 * over log_max_span -E2BIG. It copies the ranges (the caller's array may
 * change after) and answers its log page size in page_size (the control
 * struct is written back whole).
 * STOP (SET): 0, started or not; what was not reported is dropped.
 * REPORT (GET): page_size below 4096 or not a power of two -EINVAL, iova +
 * length carrying -EOVERFLOW; then not started -EINVAL, length 0 -EINVAL.
 * It only sets bits, never clears the caller's: one per report page
 * (counted from iova, which need not be aligned) holding any logged log
 * page, each log page clipped to [iova, iova+length) (a log page larger
 * than the report page sets all its report pages there). Every logged log
 * page touching the range is then cleared whole, also its part outside the
 * range: report ranges should be aligned to the log page size. A NULL
 * bitmap: 0, nothing written and the log cleared all the same (the kernel
 * pins the bitmap only to set a bit, and iova_bitmap_set() drops what it
 * cannot pin).
 * iommudirty_sim_dma_write() logs, at the log page size, the bytes that
 * reached memory inside a started range; writes while stopped are lost.
 * The last close of the device (its cdev closed or unbound, or its last
 * group device fd closed) stops logging, as the drivers' close_device does
 * (6.12's core itself does not).
 * Return: the device index (>= 0), or -EINVAL (bad opts: unknown flags,
 * __reserved set, no such IOMMU, migration_flags unknown or without
 * STOP_COPY, a log_* knob without DMA_LOGGING, a bad log_page_size),
 * -ENOMEM. Thread-safe. Since: 0.2
 */
IOMMUDIRTY_API int iommudirty_sim_add_vfio_device(struct iommudirty_sim *sim,
						  const struct iommudirty_sim_device_opts *opts);

/**
 * iommudirty_sim_device_bdf() - the PCI address of sim device @device, as
 * it appears in the sim's /sys/bus/pci/devices (bound to vfio-pci, its own
 * IOMMU group, its cdev under vfio-dev/).
 * Return: 0 with buf filled, -EINVAL (no such device), -ENODEV (an
 * emulated-IOMMU device: no PCI address), -ERANGE (len too small: 13 bytes
 * are enough). Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_sim_device_bdf(struct iommudirty_sim *sim,
					     int device, char *buf, size_t len);

/** iommudirty_sim_open_device() - open the device's VFIO cdev, as
 * open("/dev/vfio/devices/vfioN") would.
 * Return: an fd, or -EINVAL (no such device), -EBUSY (already open),
 * -ENOENT (the sim has IOMMUDIRTY_SIM_NO_CDEV), or the eventfd(2) error.
 * Thread-safe. Since: 0.1 */
IOMMUDIRTY_API int iommudirty_sim_open_device(struct iommudirty_sim *sim,
					      int device);

/** iommudirty_sim_open_iommufd() - open a new iommufd, as
 * open("/dev/iommu") would. Return: an fd, -ENOENT (the sim has
 * IOMMUDIRTY_SIM_NO_IOMMUFD), or another negative errno. Thread-safe. Since: 0.1 */
IOMMUDIRTY_API int iommudirty_sim_open_iommufd(struct iommudirty_sim *sim);

/** iommudirty_sim_close() - close an fd the sim handed out (releasing a
 * device binding or an iommufd and all its objects).
 * Return: 0, or -EBADF. Thread-safe. Since: 0.1 */
IOMMUDIRTY_API int iommudirty_sim_close(struct iommudirty_sim *sim, int fd);

/** iommudirty_sim_ioctl() - issue an iommufd or VFIO ioctl on a sim fd, as
 * ioctl(2) would on the real kernel (for a VMM's own raw calls).
 * Return: the ioctl's non-negative result, or a negative errno. Thread-safe. Since: 0.1 */
IOMMUDIRTY_API int iommudirty_sim_ioctl(struct iommudirty_sim *sim, int fd,
					unsigned long request, void *arg);

/**
 * iommudirty_sim_dma_write() - device @device writes [iova, iova+length)
 * through its current attachment: translate, set the dirty bit of each IO
 * page if its HWPT tracks, and copy @data (if not NULL) into the mapped
 * memory. A device opened through its IOMMU group writes through its type1
 * container instead (type1 has no dirty bits). A device with DMA logging
 * started also logs what reached memory (see
 * iommudirty_sim_add_vfio_device()). An emulated-IOMMU device writes
 * through its access's IOAS (no dirty bits) area by area, as
 * iommufd_access_rw() does: what precedes a hole or a read-only area lands,
 * and is logged, before the -EFAULT. Callable from any thread, during any
 * other call.
 * Return: 0; -EINVAL (no such device, length 0), -ENODEV (not attached),
 * -EFAULT (a page is unmapped or not writable: an IOMMU fault, nothing
 * written but by an emulated device). Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_sim_dma_write(struct iommudirty_sim *sim,
					    int device, uint64_t iova,
					    uint64_t length, const void *data);

/* Called before each ioctl that reaches the sim through a context. */
typedef void (*iommudirty_sim_hook_fn)(void *user, int fd, unsigned long request);

/**
 * iommudirty_sim_set_hook() - call @fn before every ioctl a context issues
 * (NULL removes it), without the sim's lock held: the hook may call
 * iommudirty_sim_dma_write() to make a device write land at an exact point
 * of a library operation (a race forced deterministically).
 * Return: 0, or -EINVAL if sim is NULL. Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_sim_set_hook(struct iommudirty_sim *sim,
					   iommudirty_sim_hook_fn fn, void *user);

/**
 * iommudirty_sim_fail_call() - make the @nth next kernel call (open or
 * ioctl, counted from 1) fail with @err (a negative errno) without any
 * effect. nth 0 cancels. Return: 0 or -EINVAL. Thread-safe. Since: 0.1
 */
IOMMUDIRTY_API int iommudirty_sim_fail_call(struct iommudirty_sim *sim,
					    unsigned long nth, int err);

struct iommudirty_sim_stats {
	size_t sz;
	uint64_t calls;        /* opens + ioctls so far */
	uint64_t ioctls;       /* ioctls so far */
	/* IOMMU_HWPT_GET_DIRTY_BITMAP, type1 GET_BITMAP and unmap-with-bitmap
	 * calls so far */
	uint64_t dirty_reads;
	uint64_t open_fds;     /* fds handed out and not closed */
	uint64_t objects;      /* live iommufd objects, all iommufds */
	/* Since 0.2: the IO page tables a kernel would hold now, modelled as
	 * 8 bytes per smallest IO page of every mapped area per HWPT (huge
	 * IOPTEs not counted). */
	uint64_t pt_bytes;
	/* Since 0.2: the sim's netlink sockets open now (contexts' devlink
	 * calls), and the netlink requests they sent so far. */
	uint64_t nl_socks;
	uint64_t nl_requests;
};

/* devlink port flavours (the kernel's DEVLINK_PORT_FLAVOUR_*). */
#define IOMMUDIRTY_SIM_DEVLINK_PHYSICAL 0u
#define IOMMUDIRTY_SIM_DEVLINK_PCI_PF 3u
#define IOMMUDIRTY_SIM_DEVLINK_PCI_VF 4u
/* The port's driver has port_fn_migratable_get/set. */
#define IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE_OP (1u << 0)
/* Its initial state is on (with MIGRATABLE_OP only). */
#define IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE (1u << 1)
/* Register no port: only the PF's devlink instance and, with vf >= 0, the
 * VF's sysfs links (a VF whose PF shows no port for it). */
#define IOMMUDIRTY_SIM_DEVLINK_NO_PORT (1u << 2)
/* The PF's eswitch is in legacy mode (ESWITCH_GET answers mode 0); without
 * it, switchdev (1). The last call for a PF sets it. */
#define IOMMUDIRTY_SIM_DEVLINK_LEGACY (1u << 3)

struct iommudirty_sim_devlink_port_opts {
	size_t sz;
	unsigned int flags;   /* IOMMUDIRTY_SIM_DEVLINK_* */
	int pf;               /* sim device of the PF: devlink instance pci/<its BDF> */
	int vf;               /* sim device of the VF, or -1: none */
	uint32_t index;       /* port index (unique per PF) */
	uint32_t flavour;     /* IOMMUDIRTY_SIM_DEVLINK_PHYSICAL / _PCI_PF / _PCI_VF */
	uint32_t vf_number;   /* the VF's number: the PF's virtfn<N>, the port's PCI_VF_NUMBER */
};

/**
 * iommudirty_sim_add_devlink_port() - give sim device @opts->pf a devlink
 * instance ("pci/<its BDF>") and a port on it, as a driver's
 * devl_port_register_with_ops() would, and (vf >= 0) make sim device
 * @opts->vf its VF number vf_number: sysfs <vf>/physfn and <pf>/virtfn<N>
 * links. The sim's devlink family answers CTRL_CMD_GETFAMILY,
 * DEVLINK_CMD_PORT_GET (do and dump, a dump filtered by bus/dev),
 * DEVLINK_CMD_PORT_SET with a port function CAPS bitfield and
 * DEVLINK_CMD_ESWITCH_GET, with 6.12's replies and errors: an unknown
 * instance or port -ENODEV; GET reports the MIGRATABLE cap only for a
 * PCI_VF port with the op; SET of MIGRATABLE without the op -EOPNOTSUPP
 * with extack "Port doesn't support migratable function attribute", on a
 * non-VF port -EOPNOTSUPP "migratable function attribute supported for VFs
 * only"; other requests -EOPNOTSUPP.
 * Return: 0; -EINVAL (bad opts: unknown flags, no such device, pf == vf,
 * an emulated device, a port index or VF number already used on the PF,
 * MIGRATABLE without MIGRATABLE_OP), -ENOMEM. Thread-safe. Since: 0.2
 */
IOMMUDIRTY_API int iommudirty_sim_add_devlink_port(struct iommudirty_sim *sim,
						   const struct iommudirty_sim_devlink_port_opts *opts);

/** iommudirty_sim_get_stats() - counters, for tests and benchmarks.
 * Return: 0 or -EINVAL. Thread-safe. Since: 0.1 */
IOMMUDIRTY_API int iommudirty_sim_get_stats(struct iommudirty_sim *sim,
					    struct iommudirty_sim_stats *stats);

#ifdef __cplusplus
}

/* IOMMUDIRTY_OPTS in C++: a value-initialised (all-zero) struct with sz set. */
template <typename T> inline T iommudirty_opts_init_()
{
	T o = T();
	o.sz = sizeof(T);
	return o;
}
#endif
#endif /* IOMMUDIRTY_H */
