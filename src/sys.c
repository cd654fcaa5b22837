/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The only file that calls the real kernel. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
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

static int real_readlink(void *priv, const char *path, char *buf, size_t len)
{
	ssize_t n;

	(void)priv;
	if (!len)
		return -EINVAL;
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return (int)n;
}

static int real_dir_entry(void *priv, const char *path, unsigned int index,
			  char *buf, size_t len)
{
	DIR *d = opendir(path);
	struct dirent *e;
	unsigned int i = 0;
	int ret = -ENOENT;

	(void)priv;
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (i++ == index) {
			snprintf(buf, len, "%s", e->d_name);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

const struct iommudirty_sys_ops iommudirty_sys_real = {
	.open = real_open,
	.close = real_close,
	.ioctl = real_ioctl,
	.readlink = real_readlink,
	.dir_entry = real_dir_entry,
};
