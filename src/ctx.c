/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The context: one iommufd, the kernel seam it talks through, logging. */
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "uapi.h"

#define STR_(x) #x
#define STR(x) STR_(x)

IOMMUDIRTY_API const char *iommudirty_version(void)
{
	return STR(IOMMUDIRTY_VERSION_MAJOR) "." STR(IOMMUDIRTY_VERSION_MINOR)
		"." STR(IOMMUDIRTY_VERSION_PATCH);
}

bool opts_valid(const void *opts, size_t user_sz, size_t min_sz, size_t known_sz)
{
	const unsigned char *p = opts;

	if (user_sz < min_sz)
		return false;
	/* A newer caller may pass a larger struct: fine if the extra is 0. */
	for (size_t i = known_sz; i < user_sz; i++)
		if (p[i])
			return false;
	return true;
}

void ctx_log(const struct iommudirty_ctx *ctx, enum iommudirty_log_level level,
	     const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!ctx || !ctx->log_fn || (int)level > ctx->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->log_fn(level, msg, ctx->log_user);
}

IOMMUDIRTY_API int iommudirty_set_log_fn(struct iommudirty_ctx *ctx,
					 iommudirty_log_fn fn, void *user,
					 int max_level)
{
	if (!ctx || max_level < 0 || max_level > 7)
		return ret_err(-EINVAL);
	ctx->log_fn = fn;
	ctx->log_user = user;
	ctx->log_level = max_level;
	return 0;
}

static int env_log_level(int def)
{
	const char *s = getenv("IOMMUDIRTY_LOG");
	char *end;
	long v;

	if (!s || !*s)
		return def;
	v = strtol(s, &end, 10);
	return (*end || v < 0 || v > 7) ? def : (int)v;
}

IOMMUDIRTY_API struct iommudirty_ctx *
iommudirty_ctx_new(const struct iommudirty_ctx_opts *opts)
{
	unsigned int flags = OPTS_GET(opts, iommudirty_ctx_opts, flags, 0);
	int log_level = OPTS_GET(opts, iommudirty_ctx_opts, log_level, 0);
	const char *path = OPTS_GET(opts, iommudirty_ctx_opts, path, NULL);
	struct iommudirty_sim *sim = OPTS_GET(opts, iommudirty_ctx_opts, sim, NULL);
	struct iommudirty_ctx *ctx;

	if (!OPTS_VALID(opts, iommudirty_ctx_opts) ||
	    (flags & ~(IOMMUDIRTY_CTX_ADOPT_FD | IOMMUDIRTY_CTX_IOMMUFD_OPTIONAL)) ||
	    log_level < 0 || log_level > 7 ||
	    ((flags & IOMMUDIRTY_CTX_ADOPT_FD) &&
	     (!OPTS_HAS(opts, iommudirty_ctx_opts, iommufd) || opts->iommufd < 0))) {
		errno = EINVAL;
		return NULL;
	}
#ifndef IOMMUDIRTY_HAVE_SIM
	/* Built without the simulated kernel: no sim can exist to name. */
	if (sim) {
		errno = EOPNOTSUPP;
		return NULL;
	}
#endif
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return NULL;
	atomic_init(&ctx->refs, 1);
	if (pthread_mutex_init(&ctx->orphans_lock, NULL)) {
		free(ctx);
		errno = ENOMEM;
		return NULL;
	}
#ifdef IOMMUDIRTY_HAVE_SIM
	ctx->sys = sim ? &iommudirty_sys_sim : &iommudirty_sys_real;
#else
	ctx->sys = &iommudirty_sys_real;
#endif
	ctx->sys_priv = sim;
	ctx->log_fn = OPTS_GET(opts, iommudirty_ctx_opts, log_fn, NULL);
	ctx->log_user = OPTS_GET(opts, iommudirty_ctx_opts, log_user, NULL);
	ctx->log_level = env_log_level(log_level ? log_level : IOMMUDIRTY_LOG_WARN);

	if (flags & IOMMUDIRTY_CTX_ADOPT_FD) {
		ctx->fd = opts->iommufd;
		ctx->own_fd = false;
	} else {
		int fd = ctx->sys->open(ctx->sys_priv, path ? path : "/dev/iommu",
					O_RDWR);
		if (fd == -ENOENT && (flags & IOMMUDIRTY_CTX_IOMMUFD_OPTIONAL)) {
			ctx->fd = -1; /* type1 only */
		} else if (fd < 0) {
			pthread_mutex_destroy(&ctx->orphans_lock);
			free(ctx);
			errno = -fd;
			return NULL;
		} else {
			ctx->fd = fd;
			ctx->own_fd = true;
		}
	}
	log_dbg(ctx, "context on iommufd %d (%s, %s)", ctx->fd,
		sim ? "simulated kernel" : "kernel",
		ctx->own_fd ? "owned" : "adopted");
	return ctx;
}

void ctx_get(struct iommudirty_ctx *ctx)
{
	atomic_fetch_add(&ctx->refs, 1);
}

void ctx_put(struct iommudirty_ctx *ctx)
{
	if (atomic_fetch_sub(&ctx->refs, 1) != 1)
		return;
	ctx_reap(ctx); /* ours, also in an adopted iommufd that stays open */
	if (ctx->own_fd)
		ctx->sys->close(ctx->sys_priv, ctx->fd);
	pthread_mutex_destroy(&ctx->orphans_lock);
	free(ctx->orphans);
	free(ctx);
}

void ctx_destroy_or_defer(struct iommudirty_ctx *ctx, uint32_t id)
{
	struct uapi_destroy cmd = { .size = sizeof(cmd), .id = id };
	int ret = sys_ioctl(ctx, ctx->fd, IOMMU_DESTROY, &cmd);
	uint32_t *p;

	if (!ret || ret == -ENOENT)
		return;
	log_warn(ctx, "iommufd object %u: destroy: %s; retrying later", id,
		 strerror(-ret));
	pthread_mutex_lock(&ctx->orphans_lock);
	if (ctx->norphans == ctx->cap_orphans) {
		size_t cap = ctx->cap_orphans ? ctx->cap_orphans * 2 : 8;

		p = realloc(ctx->orphans, cap * sizeof(*p));
		if (p) {
			ctx->orphans = p;
			ctx->cap_orphans = cap;
		}
	}
	/* Without memory it stays until the iommufd is closed. */
	if (ctx->norphans < ctx->cap_orphans)
		ctx->orphans[ctx->norphans++] = id;
	pthread_mutex_unlock(&ctx->orphans_lock);
}

void ctx_reap(struct iommudirty_ctx *ctx)
{
	pthread_mutex_lock(&ctx->orphans_lock);
	for (size_t i = 0; i < ctx->norphans;) {
		struct uapi_destroy cmd = { .size = sizeof(cmd), .id = ctx->orphans[i] };
		int ret = sys_ioctl(ctx, ctx->fd, IOMMU_DESTROY, &cmd);

		if (!ret || ret == -ENOENT)
			ctx->orphans[i] = ctx->orphans[--ctx->norphans];
		else
			i++;
	}
	pthread_mutex_unlock(&ctx->orphans_lock);
}

IOMMUDIRTY_API void iommudirty_ctx_free(struct iommudirty_ctx *ctx)
{
	if (ctx)
		ctx_put(ctx);
}

IOMMUDIRTY_API int iommudirty_ctx_fd(const struct iommudirty_ctx *ctx)
{
	if (!ctx)
		return ret_err(-EINVAL);
	return ctx->fd >= 0 ? ctx->fd : ret_err(-ENODEV);
}
