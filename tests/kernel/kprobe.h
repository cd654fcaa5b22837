/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Run the iommudirty-probe binary in the guest and echo its output. */
#ifndef IOMMUDIRTY_TESTS_KPROBE_H
#define IOMMUDIRTY_TESTS_KPROBE_H

#include <stddef.h>

#define KPROBE_BIN "/tests/iommudirty-probe"

/* Run KPROBE_BIN with argv[1..] (NULL-terminated, argv[0] ignored); its
 * stdout and stderr in out (NUL-terminated, truncated to len), each line
 * also printed to the console as "INFO probe: <line>". Returns its exit
 * status (0..255), or a negative errno if it could not be run or died. */
int kprobe_run(const char *const argv[], char *out, size_t len);

#endif
