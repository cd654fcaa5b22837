/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated kernel's internals, shared by the sim sources only.
 *
 * One mutex (sim->lock) guards everything; every function below expects it
 * held. Pointers between objects are plain: an object is freed only after
 * everything that points at it has let go (the destroy rules guarantee it).
 */
#ifndef IOMMUDIRTY_SIM_INTERNAL_H
#define IOMMUDIRTY_SIM_INTERNAL_H

#include <pthread.h>

#include "internal.h"
#include "uapi.h"

/* ---- IOMMUs and devices (the "hardware") ---- */

struct sim_iommu {
	unsigned int flags;      /* IOMMUDIRTY_SIM_IOMMU_* */
	uint32_t hw_info_type;
	uint64_t pgsize_bitmap;  /* never 0 here */
	uint8_t *hw_info_data;
	uint32_t hw_info_len;
	uint64_t aperture_start;
	uint64_t aperture_last;  /* inclusive */
};

struct sim_ictx;
struct sim_idev;
struct sim_hwpt;

struct sim_container;

struct sim_ioas;
struct sim_devlog;

/* Each device is alone in its IOMMU group (group number = index + 1). An
 * emulated-IOMMU device (an mdev) has no IOMMU, no group and no BDF: only
 * its cdev; bound, its object is an iommufd access, attached to an IOAS. */
struct sim_dev {
	int iommu;               /* index into sim->iommus; -1 when emulated */
	bool emulated;           /* IOMMUDIRTY_SIM_DEV_EMULATED_IOMMU */
	int fd;                  /* open cdev fd, or -1 */
	/* device (or, emulated, access) object while bound, else NULL */
	struct sim_idev *idev;
	struct sim_hwpt *hwpt;   /* current attachment, or NULL */
	struct sim_ioas *access_ioas; /* emulated: the access's IOAS, or NULL */
	uint64_t migration_flags; /* 0: no mig_ops */
	struct sim_devlog *log;  /* NULL: no log_ops */
	int group_fd;            /* open group fd, or -1 */
	/* Device fds from VFIO_GROUP_GET_DEVICE_FD. They hold the group file
	 * open, as in the kernel: the group is released when both are gone. */
	unsigned int group_dev_fds;
	struct sim_container *container; /* the group's type1 container */
};

/* ---- the type1 container (legacy VFIO) ---- */

struct sim_dma {             /* one VFIO_IOMMU_MAP_DMA (a vfio_dma) */
	uint64_t iova;
	uint64_t size;
	uint64_t vaddr;
	uint32_t prot;           /* UAPI_VFIO_DMA_MAP_FLAG_* */
	/* Reported before: the kernel's own bitmap of it then holds stale
	 * bits past its end, which later reports copy out (see type1.c). */
	bool reported;
};

/* Lives while its fd is open or a group holds it, as the kernel's kref. */
struct sim_container {
	int fd;                  /* -1 once the fd is closed */
	unsigned int groups;     /* groups attached */
	unsigned long type;      /* VFIO_SET_IOMMU type; 0: not set */
	bool tracking;           /* DIRTY_PAGES START */
	struct sim_dma *dmas;    /* sorted by iova, never overlapping */
	size_t nr_dmas, cap_dmas;
};

/* ---- iommufd objects ---- */

enum sim_obj_type {
	SIM_OBJ_IOAS,
	SIM_OBJ_HWPT,
	SIM_OBJ_DEVICE,
	SIM_OBJ_ACCESS,          /* an emulated device's iommufd_access */
};

struct sim_obj {
	enum sim_obj_type type;
	uint32_t id;
	struct sim_ictx *ictx;
};

/* Dirty state of one area as seen by one HWPT: one bit per IOPTE, at the
 * IOPTE's first smallest-page index. Kept as a sorted array of lazily
 * allocated chunks so a huge, clean area costs nothing. */
#define SIM_CHUNK_SHIFT 18
#define SIM_CHUNK_BITS (1ull << SIM_CHUNK_SHIFT)
#define SIM_CHUNK_WORDS (SIM_CHUNK_BITS / 64)

struct sim_chunk {
	uint64_t idx;            /* covers bits [idx << SHIFT, +CHUNK_BITS) */
	uint64_t *words;
};

struct sim_dmap {
	struct sim_hwpt *hwpt;
	struct sim_chunk *chunks;
	size_t nr, cap;
};

struct sim_area {
	uint64_t iova;
	uint64_t last;           /* inclusive: an area may end at 2^64-1 */
	uint64_t user_va;
	uint32_t prot;           /* UAPI_IOAS_MAP_WRITEABLE | _READABLE */
	struct sim_dmap *dmaps;
	size_t nr_dmaps;
};

struct sim_ioas {
	struct sim_obj obj;
	bool no_huge;            /* IOMMU_OPTION_HUGE_PAGES = 0 */
	struct sim_area **areas; /* sorted by iova, never overlapping */
	size_t nr_areas, cap_areas;
};

struct sim_hwpt {
	struct sim_obj obj;
	struct sim_ioas *ioas;
	int iommu;
	bool dirty_capable;      /* allocated with DIRTY_TRACKING */
	bool tracking;
	bool auto_domain;        /* made by ATTACH to an IOAS */
	unsigned int users;      /* devices attached */
};

/* A bound device: SIM_OBJ_DEVICE, or SIM_OBJ_ACCESS when emulated. */
struct sim_idev {
	struct sim_obj obj;
	struct sim_dev *dev;
};

/* ---- device DMA logging (a vfio_log_ops driver) ---- */

struct sim_span {            /* inclusive */
	uint64_t first;
	uint64_t last;
};

struct sim_devlog {
	/* what the device can do (add_vfio_device opts) */
	uint32_t max_ranges;     /* 1..256 */
	uint64_t fixed_page;     /* 0: the page size asked, rounded up */
	uint64_t max_span;       /* 0: no limit */
	/* state between START and STOP */
	bool started;
	unsigned int shift;      /* log page = 1 << shift */
	struct sim_span *ranges; /* bytes, copied at START, sorted */
	size_t nr_ranges;
	/* logged log pages: indices, sorted, disjoint, never adjacent */
	struct sim_span *ext;
	size_t nr_ext, cap_ext;
};

struct sim_ictx {
	int fd;
	bool account_mm;         /* IOMMU_OPTION_RLIMIT_MODE = 1 */
	struct sim_obj **objs;   /* objs[id - 1]; NULL slots are free ids */
	size_t nr_slots;
};

/* ---- the sim ---- */

enum sim_fd_kind {
	SIM_FD_IOMMUFD,
	SIM_FD_DEVICE,           /* a cdev */
	SIM_FD_CONTAINER,
	SIM_FD_GROUP,
	SIM_FD_GROUP_DEVICE,     /* from VFIO_GROUP_GET_DEVICE_FD */
};

struct sim_fd {
	int fd;
	enum sim_fd_kind kind;
	/* struct sim_ictx *, struct sim_container * or struct sim_dev * */
	void *p;
};

struct iommudirty_sim {
	pthread_mutex_t lock;
	struct sim_iommu **iommus;
	int nr_iommus;
	size_t cap_iommus;
	struct sim_dev **devs;
	int nr_devs;
	size_t cap_devs;
	struct sim_fd *fds;
	size_t nr_fds, cap_fds;
	unsigned int flags;      /* IOMMUDIRTY_SIM_* kernel config */
	uint64_t type1_max_bitmap; /* bytes, never 0 here */
	unsigned long fail_nth;  /* 0: no failure pending */
	int fail_err;
	iommudirty_sim_hook_fn hook; /* called before each ioctl, unlocked */
	void *hook_user;
	struct iommudirty_sim_stats stats;
	struct sim_devlink *devlink; /* devlink.c; NULL: no instance yet */
};

/* sim.c */
int sim_grow(void *arrp, size_t *cap, size_t need, size_t elem);
struct sim_fd *sim_fd_find(struct iommudirty_sim *sim, int fd);
int sim_fd_new(struct iommudirty_sim *sim, enum sim_fd_kind kind, void *p);
int sim_dev_register(struct iommudirty_sim *sim, struct sim_dev *dev);

/* type1.c: the type1 container, groups, and devices opened through them */
#define SIM_TYPE1_MAX_BITMAP (256ull << 20) /* DIRTY_BITMAP_SIZE_MAX */
bool sim_group_opened(const struct sim_dev *dev);
int sim_open_container(struct iommudirty_sim *sim);
int sim_open_group(struct iommudirty_sim *sim, int device);
void sim_container_close(struct iommudirty_sim *sim, struct sim_container *c);
void sim_group_close(struct iommudirty_sim *sim, struct sim_dev *dev);
void sim_group_dev_close(struct iommudirty_sim *sim, struct sim_dev *dev);
int sim_container_ioctl(struct iommudirty_sim *sim, struct sim_container *c,
			unsigned long req, void *arg);
int sim_group_ioctl(struct iommudirty_sim *sim, struct sim_dev *dev,
		    unsigned long req, void *arg);
int sim_group_dev_ioctl(struct iommudirty_sim *sim, struct sim_dev *dev,
			unsigned long req, void *arg);
int sim_type1_dma_write(struct iommudirty_sim *sim, struct sim_dev *dev,
			uint64_t iova, uint64_t length, const void *data);

/* sysfs.c: the devices' sysfs entries behind readlink / dir_entry */
int sim_dev_bdf(int device, char *buf, size_t len);
int sim_sys_readlink(void *priv, const char *path, char *buf, size_t len);
int sim_sys_dir_entry(void *priv, const char *path, unsigned int index,
		      char *buf, size_t len);

/* devlink.c: devlink instances and ports, VFs' sysfs links, netlink */
struct sim_devlink;
void sim_devlink_free(struct iommudirty_sim *sim);
int sim_devlink_readlink(struct iommudirty_sim *sim, const char *path,
			 char *buf, size_t len);
int sim_sys_fd_pci_address(void *priv, int fd, char *buf, size_t len);
int sim_sys_nl_open(void *priv, void **sock);
void sim_sys_nl_close(void *priv, void *sock);

/* obj.c: object ids, iommufd object ioctls, VFIO cdev ioctls */
void *sim_obj_get(struct sim_ictx *ictx, uint32_t id, enum sim_obj_type type);
int sim_obj_add(struct iommudirty_sim *sim, struct sim_ictx *ictx,
		struct sim_obj *obj, enum sim_obj_type type);
void sim_obj_remove(struct iommudirty_sim *sim, struct sim_obj *obj);
void sim_ictx_destroy(struct iommudirty_sim *sim, struct sim_ictx *ictx);
void sim_dev_unbind(struct iommudirty_sim *sim, struct sim_dev *dev);
uint64_t sim_iommu_min_page(const struct sim_iommu *iommu);
int sim_ioctl_destroy(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd);
int sim_ioctl_hwpt_alloc(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd);
int sim_ioctl_get_hw_info(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd);
int sim_vfio_ioctl(struct iommudirty_sim *sim, struct sim_dev *dev,
		   unsigned long req, void *arg);

/* ioas.c: IOAS, areas, IOVA allocation, DMA translation */
bool sim_ioas_has_hwpts(struct sim_ictx *ictx, const struct sim_ioas *ioas);
bool sim_ioas_has_access(const struct iommudirty_sim *sim, const struct sim_ioas *ioas);
int sim_ioas_check_access(const struct sim_ioas *ioas);
uint64_t sim_ioas_alignment(struct iommudirty_sim *sim, const struct sim_ioas *ioas);
int sim_ioas_check_domain(struct iommudirty_sim *sim, const struct sim_ioas *ioas,
			  const struct sim_iommu *iommu);
void sim_ioas_free(struct sim_ioas *ioas);
size_t sim_ioas_find(const struct sim_ioas *ioas, uint64_t iova);
int sim_ioctl_ioas_alloc(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd);
int sim_ioctl_option(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd);
int sim_ioctl_iova_ranges(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd);
int sim_ioctl_ioas_map(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd);
int sim_ioctl_ioas_unmap(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd);
int sim_ioctl_ioas_copy(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd);
int sim_dma_write(struct iommudirty_sim *sim, struct sim_dev *dev,
		  uint64_t iova, uint64_t length, const void *data);
int sim_access_write(struct iommudirty_sim *sim, struct sim_dev *dev,
		     uint64_t iova, uint64_t length, const void *data);

/* devlog.c: VFIO_DEVICE_FEATURE (migration, DMA logging), the device's log */
#define SIM_ACCESS_ALIGN 4096ull /* a pinning access's iova_alignment */
/* x86-64's user address space ends here (TASK_SIZE, 4-level tables): user
 * memory past it cannot be pinned, and the kernel's map fails -EFAULT. */
#define SIM_USER_VA_END 0x00007ffffffff000ull
int sim_devlog_feature(struct iommudirty_sim *sim, struct sim_dev *dev, void *arg);
void sim_devlog_stop(struct sim_dev *dev);
void sim_devlog_free(struct sim_dev *dev);
int sim_devlog_prepare(struct sim_dev *dev);
void sim_devlog_mark(struct sim_dev *dev, uint64_t first, uint64_t last);

/* dirty.c: IOPTE layout, dirty bits, the two dirty ioctls */
void sim_area_free(struct sim_area *area);
void sim_dirty_drop_hwpt(struct sim_ioas *ioas, const struct sim_hwpt *hwpt);
int sim_dirty_prepare(struct iommudirty_sim *sim, struct sim_area *area,
		      struct sim_hwpt *hwpt, uint64_t first, uint64_t last);
void sim_dirty_mark(struct iommudirty_sim *sim, struct sim_area *area,
		    struct sim_hwpt *hwpt, uint64_t first, uint64_t last);
int sim_ioctl_set_dirty(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd);
int sim_ioctl_get_dirty(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd);

#endif
