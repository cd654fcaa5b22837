// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kprobe.h"

int kprobe_run(const char *const argv[], char *out, size_t len)
{
	char *args[16];
	size_t n = 0, i;
	int pfd[2], st;
	pid_t pid;
	ssize_t r;

	args[0] = (char *)KPROBE_BIN;
	for (i = 1; argv[i] && i < 15; i++)
		args[i] = (char *)argv[i];
	args[i] = NULL;
	if (pipe(pfd))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		execv(KPROBE_BIN, args);
		_exit(127);
	}
	close(pfd[1]);
	while (len && (r = read(pfd[0], out + n, len - 1 - n)) > 0)
		n += (size_t)r;
	if (len)
		out[n] = 0;
	close(pfd[0]);
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	/* Echo it, a line at a time, so the host log shows the real output. */
	for (char *l = out, *e; len && *l; l = e + 1) {
		e = strchr(l, '\n');
		if (!e) {
			printf("INFO probe: %s\n", l);
			break;
		}
		printf("INFO probe: %.*s\n", (int)(e - l), l);
	}
	if (!WIFEXITED(st))
		return -EINTR;
	return WEXITSTATUS(st);
}
