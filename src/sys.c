/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The only file that calls the real kernel. */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sys.h"

static int real_open(void *priv, const char *path, int flags)
{
	(void)priv;
	int fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int real_close(void *priv, int fd)
{
	(void)priv;
	/* Linux releases the fd even when close() fails; never retry. */
	return close(fd) < 0 ? -errno : 0;
}

static int real_ioctl(void *priv, int fd, unsigned long request, void *arg)
{
	(void)priv;
	int ret = ioctl(fd, request, arg);
	return ret < 0 ? -errno : ret;
}

const struct iommudirty_sys_ops iommudirty_sys_real = {
	.open = real_open,
	.close = real_close,
	.ioctl = real_ioctl,
};
