/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one seam between the library and a kernel. sys.c is the real kernel;
 * sim/sim.c is the simulated one. Every op returns >= 0 or a negative errno
 * and never touches errno visible to the caller.
 */
#ifndef IOMMUDIRTY_SYS_H
#define IOMMUDIRTY_SYS_H

struct iommudirty_sys_ops {
	int (*open)(void *priv, const char *path, int flags);
	int (*close)(void *priv, int fd);
	int (*ioctl)(void *priv, int fd, unsigned long request, void *arg);
};

extern const struct iommudirty_sys_ops iommudirty_sys_real;
/* The sim's table; priv is the struct iommudirty_sim *. */
extern const struct iommudirty_sys_ops iommudirty_sys_sim;

#endif
