/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The only file that calls the real kernel. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sys.h"
#include "devlink_nl.h"

#ifdef IOMMUDIRTY_HAVE_LIBNL
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#endif

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

static int real_nl_open(void *priv, void **sock)
{
#ifdef IOMMUDIRTY_HAVE_LIBNL
	struct nl_sock *sk = nl_socket_alloc();
	int one = 1;

	(void)priv;
	if (!sk)
		return -ENOMEM;
	if (genl_connect(sk)) {
		int err = errno ? -errno : -EIO;

		nl_socket_free(sk);
		return err;
	}
	/* The kernel's extack text with each refusal (4.12+; an older kernel
	 * refuses the option and sends bare errors). */
	(void)setsockopt(nl_socket_get_fd(sk), DL_SOL_NETLINK, DL_NETLINK_EXT_ACK,
			 &one, sizeof(one));
	*sock = sk;
	return 0;
#else
	(void)priv;
	(void)sock;
	return -EOPNOTSUPP;
#endif
}

static void real_nl_close(void *priv, void *sock)
{
	(void)priv;
#ifdef IOMMUDIRTY_HAVE_LIBNL
	nl_socket_free(sock);
#else
	(void)sock;
#endif
}

/* A VFIO cdev is a character device whose sysfs node's parent is the PCI
 * device: /sys/dev/char/M:m/device -> .../0000:03:00.1 */
static int real_fd_pci_address(void *priv, int fd, char *buf, size_t len)
{
	char path[64], target[256];
	const char *b;
	struct stat st;
	ssize_t n;

	(void)priv;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISCHR(st.st_mode))
		return -ENODEV;
	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/device",
		 major(st.st_rdev), minor(st.st_rdev));
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	target[n] = 0;
	b = strrchr(target, '/');
	b = b ? b + 1 : target;
	if (!*b || snprintf(buf, len, "%s", b) >= (int)len)
		return -ENODEV;
	return 0;
}

const struct iommudirty_sys_ops iommudirty_sys_real = {
	.open = real_open,
	.close = real_close,
	.ioctl = real_ioctl,
	.readlink = real_readlink,
	.dir_entry = real_dir_entry,
	.nl_open = real_nl_open,
	.nl_close = real_nl_close,
	.fd_pci_address = real_fd_pci_address,
};
