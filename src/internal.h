/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Library internals shared between src/ files; never installed. */
#ifndef IOMMUDIRTY_INTERNAL_H
#define IOMMUDIRTY_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "iommudirty.h"
#include "sys.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Every public error path goes through this: -errno returned, errno set. */
static inline int ret_err(int err)
{
	if (err < 0)
		errno = -err;
	return err;
}

static inline bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* Options structs: sz must reach past the sz field; bytes a newer, larger
 * caller struct has past ours must be zero (as the kernel's
 * copy_struct_from_user). Padding inside our struct is not checked: an
 * initializer need not zero it. */
bool opts_valid(const void *opts, size_t user_sz, size_t min_sz, size_t known_sz);
#define OPTS_VALID(opts, type)                                                 \
	(!(opts) || opts_valid((opts), (opts)->sz,                             \
			       offsetof(struct type, sz) + sizeof(size_t),     \
			       sizeof(struct type)))
/* A field, or its default when the caller's struct is older/shorter. */
#define OPTS_HAS(opts, type, field)                                            \
	((opts) && (opts)->sz >= offsetof(struct type, field) + sizeof((opts)->field))
#define OPTS_GET(opts, type, field, def)                                       \
	(OPTS_HAS(opts, type, field) ? (opts)->field : (def))

struct iommudirty_ctx {
	atomic_int refs;
	/* iommufd objects whose destroy failed during a cleanup: retried by
	 * ctx_reap() until it works (or the fd closes and takes them). */
	pthread_mutex_t orphans_lock;
	uint32_t *orphans;
	size_t norphans, cap_orphans;
	int fd;
	bool own_fd;
	const struct iommudirty_sys_ops *sys;
	void *sys_priv;
	iommudirty_log_fn log_fn;
	void *log_user;
	int log_level;
};

void ctx_get(struct iommudirty_ctx *ctx);
/* Destroy an iommufd object in a cleanup path that cannot fail: if the
 * kernel refuses now, the id is kept and retried by ctx_reap(). */
void ctx_destroy_or_defer(struct iommudirty_ctx *ctx, uint32_t id);
void ctx_reap(struct iommudirty_ctx *ctx);
void ctx_put(struct iommudirty_ctx *ctx);

__attribute__((format(printf, 3, 4)))
void ctx_log(const struct iommudirty_ctx *ctx, enum iommudirty_log_level level,
	     const char *fmt, ...);
#define log_err(ctx, ...) ctx_log(ctx, IOMMUDIRTY_LOG_ERR, __VA_ARGS__)
#define log_warn(ctx, ...) ctx_log(ctx, IOMMUDIRTY_LOG_WARN, __VA_ARGS__)
#define log_info(ctx, ...) ctx_log(ctx, IOMMUDIRTY_LOG_INFO, __VA_ARGS__)
#define log_dbg(ctx, ...) ctx_log(ctx, IOMMUDIRTY_LOG_DEBUG, __VA_ARGS__)

static inline int sys_ioctl(const struct iommudirty_ctx *ctx, int fd,
			    unsigned long req, void *arg)
{
	return ctx->sys->ioctl(ctx->sys_priv, fd, req, arg);
}

struct iommudirty_device {
	struct iommudirty_ctx *ctx;
	int fd;          /* the caller's cdev fd, or -1 */
	uint32_t dev_id;
	struct iommudirty_hw_info hw;
	/* Probed at bind through fd: 1/0, -1 unknown (no fd). */
	int dma_logging;
	uint64_t migration_flags;
	/* An emulated-IOMMU device (mdev): BIND gave an access id, which
	 * GET_HW_INFO does not know. */
	bool emulated;
	/* devlink `migratable` of its VF port at bind (src/devlink.c):
	 * 1/0/-1, and the IOMMUDIRTY_REASON_DEVLINK_* (or NO_DEVICE_FD). */
	int32_t devlink_migratable;
	uint32_t devlink_reason;
};

/* DMA logging and migration support of a device fd (src/device.c). */
void device_probe_features(struct iommudirty_ctx *ctx, int fd, int *dma_logging,
			   uint64_t *migration_flags);

/* devlink `migratable` of the VF behind a device fd (src/devlink.c). */
void device_probe_devlink(struct iommudirty_ctx *ctx, int fd, int32_t *state,
			  uint32_t *reason);

/* Bitmap internals used by the tracker's read path (src/bitmap.c). */
/* OR nbits bits of src (from bit 0) into dst starting at bit dst_bit. */
void bitmap_or_shifted(uint64_t *dst, uint64_t dst_bit, const uint64_t *src,
		       uint64_t nbits);
/* Set / clear bits [start, start+n). */
void bitmap_set_range(uint64_t *map, uint64_t start, uint64_t n);
void bitmap_clear_range(uint64_t *map, uint64_t start, uint64_t n);
/* Shift bits [start, start+n) up by `by` (< 64) bits, in place; the `by`
 * bits at start become zero. Bits past start+n+by are untouched. */
void bitmap_shift_up(uint64_t *map, uint64_t start, uint64_t n, unsigned by);

/* The base name of the target of the sysfs link at path, through the
 * seam's readlink (src/pci.c): 0, -EINVAL if empty or longer than len, or
 * -errno. */
int sysfs_link_base(struct iommudirty_ctx *ctx, const char *path, char *buf,
		    size_t len);

#endif
