/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one seam between the library and a kernel. sys.c is the real kernel;
 * sim/sim.c is the simulated one. Every op returns >= 0 or a negative errno
 * and never touches errno visible to the caller.
 */
#ifndef IOMMUDIRTY_SYS_H
#define IOMMUDIRTY_SYS_H

#include <stddef.h>

struct iommudirty_sys_ops {
	int (*open)(void *priv, const char *path, int flags);
	int (*close)(void *priv, int fd);
	int (*ioctl)(void *priv, int fd, unsigned long request, void *arg);
	/* readlink(2): the target's length (NUL-terminated, truncated to
	 * len - 1), or -errno. */
	int (*readlink)(void *priv, const char *path, char *buf, size_t len);
	/* The index-th entry of a directory (no "." or ".."), NUL-terminated
	 * in buf: 0, -ENOENT past the last entry or no such directory. */
	int (*dir_entry)(void *priv, const char *path, unsigned int index,
			 char *buf, size_t len);
	/* A generic netlink socket (a libnl struct nl_sock *, as void * so
	 * this header needs no libnl) ready for nl_send/nl_recvmsgs: the real
	 * kernel's is connected with NETLINK_EXT_ACK on; the sim's has its
	 * send and receive replaced by the sim's devlink. 0 or -errno
	 * (-EOPNOTSUPP: built without libnl). Release with nl_close. */
	int (*nl_open)(void *priv, void **sock);
	void (*nl_close)(void *priv, void *sock);
	/* The PCI address ("0000:03:00.1") of the device behind a VFIO
	 * device fd: 0, or -ENODEV (not a cdev of a PCI device) / -errno. */
	int (*fd_pci_address)(void *priv, int fd, char *buf, size_t len);
};

extern const struct iommudirty_sys_ops iommudirty_sys_real;
/* The sim's table; priv is the struct iommudirty_sim *. */
extern const struct iommudirty_sys_ops iommudirty_sys_sim;

#endif
