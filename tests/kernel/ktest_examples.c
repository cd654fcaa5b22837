// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Boot 2, last part: the programs of examples/ on the real kernel, each
 * run as its own process (built statically by `run`, in /tests/examples),
 * its exit status and key lines of its output checked; its output is
 * echoed as "INFO example <name>: ..." lines.
 *
 * The devices: the first edu on stock vfio-pci (no dirty source: its
 * VT-d cannot track, it has no DMA log) and the second on edu-vfio-pci
 * (its DMA log is a precise source). QEMU's VT-d cannot track, so no
 * example gets the IOMMU source here. Nothing writes by DMA while an
 * example runs (each holds its device fd; edu's DMA needs that fd): the
 * examples check setup, the source each device gets and reads, not
 * device writes. An idle device with a precise source must read clean, a
 * conservative source must report every page.
 *
 *   example_type1          type1 <edu 1 BDF> on a kernel without iommufd
 *                          (a mount namespace whose /dev has only
 *                          /dev/vfio): backend type1, reasons NO_IOMMUFD
 *                          and TYPE1_CONSERVATIVE, every page every read
 *   example_type1_iommufd  the same with /dev/iommu: AUTO stays on iommufd,
 *                          edu 1 an untracked writer (source none)
 *   example_mixed_devices  both cdevs: edu 2 device-log precise, edu 1 none
 *                          conservative, the read has every page
 *   example_mixed_devices_log  edu 2 alone: precise, the read is clean
 *   example_adopt          edu 2: the VMM's dirty HWPT refused, a plain one
 *                          instead; source device-log, clean read, the
 *                          VMM's objects intact after free
 *   example_hotunplug      edu 2: device-log, atomic unmap, clean bitmaps
 *   example_viommu         edu 2: device-log, no dirty guest page
 *   example_precopy        edu 2: device-log, five clean rounds
 *   example_precopy_refused  edu 1: exit 2, no precise source (PRECISE_ONLY)
 *
 * Runs after the devlink tests (edu 1 on vfio-pci, edu 2 on edu-vfio-pci,
 * every fd closed) and before dmalog_kernel_log_clean, which then also
 * covers what the examples made the kernel do.
 */
#define _GNU_SOURCE /* unshare() */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kdmalog.h"
#include "kedu.h"
#include "kutil.h"

#define BOOT "boot2"
#define R(name, rc) kresult(BOOT, name, rc, why)
#define FAILF(...) (snprintf(why, sizeof(why), __VA_ARGS__), -1)

#define EX_DIR "/tests/examples"
#define EX_TIMEOUT 120 /* seconds per example (precopy sleeps 5) */
#define EX_VFIO_SAVE "/tmp/ktest-examples-vfio"
#define EX_STATUS_SETUP 125 /* the child could not hide /dev/iommu */
#define EX_INFO_LINES 10    /* echoed per passing example */

static char out[32768];

/* The child, for a kernel "without iommufd": a private mount namespace
 * whose /dev is an empty ramfs holding only /dev/vfio (moved over from
 * the real one), so /dev/iommu does not exist. */
static int hide_iommufd(void)
{
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("/dev/vfio", EX_VFIO_SAVE, NULL, MS_BIND | MS_REC, NULL) ||
	    mount("ktest-dev", "/dev", "ramfs", 0, "mode=755") ||
	    mkdir("/dev/vfio", 0755) ||
	    mount(EX_VFIO_SAVE, "/dev/vfio", NULL, MS_MOVE, NULL)) {
		fprintf(stderr, "ktest: hiding /dev/iommu: %s\n", strerror(errno));
		return -1;
	}
	return access("/dev/iommu", F_OK) == 0 || access("/dev/vfio/vfio", F_OK) ? -1 : 0;
}

/* Run EX_DIR/prog with args (NULL-terminated); its stdout and stderr in
 * out. Returns its exit status (0..255), or -1 with why set (not run, or
 * killed: EX_TIMEOUT is an alarm). */
static int run(const char *prog, const char *const args[], bool no_iommufd)
{
	char path[128], *argv[8];
	size_t n = 0, i;
	int pfd[2], st;
	ssize_t r;
	pid_t pid;

	snprintf(path, sizeof(path), EX_DIR "/%s", prog);
	argv[0] = (char *)prog;
	for (i = 0; args[i] && i < 6; i++)
		argv[i + 1] = (char *)args[i];
	argv[i + 1] = NULL;
	out[0] = 0;
	if (pipe(pfd))
		return FAILF("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return FAILF("fork: %s", strerror(errno));
	if (!pid) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		if (no_iommufd && hide_iommufd())
			_exit(EX_STATUS_SETUP);
		alarm(EX_TIMEOUT); /* kept across exec */
		execv(path, argv);
		fprintf(stderr, "ktest: exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	while ((r = read(pfd[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = 0;
	close(pfd[0]);
	if (waitpid(pid, &st, 0) < 0)
		return FAILF("waitpid: %s", strerror(errno));
	if (WIFSIGNALED(st))
		return FAILF("%s killed by signal %d%s", prog, WTERMSIG(st),
			     WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
	if (WIFEXITED(st) && WEXITSTATUS(st) == EX_STATUS_SETUP && no_iommufd)
		return FAILF("could not hide /dev/iommu from %s", prog);
	return WIFEXITED(st) ? WEXITSTATUS(st) : FAILF("%s: wait status %#x", prog, st);
}

/* Echo out as INFO lines: all of them when the test failed, else the
 * first EX_INFO_LINES but the per-device reason lists (indented 6). */
static void echo(const char *name, bool all)
{
	int shown = 0, skipped = 0;

	for (const char *l = out, *e; *l; l = e + 1) {
		e = strchr(l, '\n');
		if (!e)
			e = l + strlen(l);
		if (!all && (!strncmp(l, "      reason ", 13) || shown >= EX_INFO_LINES)) {
			skipped++;
		} else {
			kinfo("example %s: %.*s", name, (int)(e - l), l);
			shown++;
		}
		if (!*e)
			break;
	}
	if (skipped)
		kinfo("example %s: (%d more lines)", name, skipped);
}

/* The first line of out that holds a (and b, if not NULL); a starting
 * with '=': the line that is the rest of a. */
static const char *line_with(const char *a, const char *b)
{
	for (const char *l = out, *e; *l; l = e + 1) {
		char line[512];
		size_t len;

		e = strchr(l, '\n');
		if (!e)
			e = l + strlen(l);
		len = (size_t)(e - l) < sizeof(line) - 1 ? (size_t)(e - l) : sizeof(line) - 1;
		memcpy(line, l, len);
		line[len] = 0;
		if ((a[0] == '=' ? !strcmp(line, a + 1) : !!strstr(line, a)) &&
		    (!b || strstr(line, b)))
			return l;
		if (!*e)
			break;
	}
	return NULL;
}

/* Each string of want (NULL-terminated) on a line of out, in any order
 * ("=line": a whole line). */
static int expect_lines(const char *const want[])
{
	for (int i = 0; want[i]; i++)
		if (!line_with(want[i], NULL))
			return FAILF("no line \"%s\" in the output", want[i]);
	return 0;
}

/* Run, check the exit status and the lines; echo; one result line. */
static void ex(const char *name, const char *prog, const char *const args[],
	       bool no_iommufd, int want_status, const char *const want[],
	       int (*more)(void))
{
	int rc, ok;

	why[0] = 0;
	rc = run(prog, args, no_iommufd);
	if (rc < 0)
		ok = -1;
	else if (rc != want_status)
		ok = FAILF("exit status %d, want %d", rc, want_status);
	else
		ok = expect_lines(want);
	if (!ok && more)
		ok = more();
	echo(name + 8, ok != 0);
	R(name, ok);
}

static char bdf0[32], bdf1[32], cdev0[64], cdev1[64];

/* mixed_devices: which iommufd id each cdev got, then that id's source. */
static int mixed_sources(bool both)
{
	char want[96];
	unsigned int id0 = 0, id1 = 0;
	const char *l;

	snprintf(want, sizeof(want), "%s: device ", cdev1);
	if (!(l = line_with(want, NULL)) || sscanf(l + strlen(want), "%u", &id1) != 1)
		return FAILF("no \"%s<id>\" line", want);
	snprintf(want, sizeof(want), "device %u: source device-log", id1);
	if (!line_with(want, "precise"))
		return FAILF("%s (device %u) is not \"device-log precise\"", cdev1, id1);
	if (!both)
		return 0;
	snprintf(want, sizeof(want), "%s: device ", cdev0);
	if (!(l = line_with(want, NULL)) || sscanf(l + strlen(want), "%u", &id0) != 1)
		return FAILF("no \"%s<id>\" line", want);
	snprintf(want, sizeof(want), "device %u: source none ", id0);
	if (!line_with(want, "conservative"))
		return FAILF("%s (device %u) is not \"none conservative\"", cdev0, id0);
	return 0;
}

static int mixed_both(void)
{
	return mixed_sources(true);
}

static int mixed_log(void)
{
	return mixed_sources(false);
}

/* viommu: the line of dirty guest pages names none. */
static int viommu_clean(void)
{
	return line_with("=dirty guest pages:", NULL) ? 0 :
	       FAILF("no line \"dirty guest pages:\" naming none");
}

/* precopy: five rounds, the final read and unmap_dirty, each clean. */
static int precopy_rounds(void)
{
	char r[16];

	for (int i = 1; i <= 5; i++) {
		snprintf(r, sizeof(r), "round %d: ", i);
		if (!line_with(r, " 0 dirty pages in "))
			return FAILF("round %d missing or not clean", i);
	}
	if (!line_with("final: ", " 0 dirty pages (read without clearing)") ||
	    !line_with("unmap: ", " 0 dirty pages reported by unmap_dirty"))
		return FAILF("final read or unmap_dirty missing or not clean");
	return 0;
}

void run_example_tests(void)
{
	char full[96], log_line[96];
	int ok;

	ok = kdl_find_edu(0, bdf0, sizeof(bdf0)) ?: kdl_find_edu(1, bdf1, sizeof(bdf1));
	ok = ok ?: kdl_bind(bdf0, KDL_DRV_VFIO_PCI) ?: kdl_bind(bdf1, KDL_DRV_VARIANT);
	ok = ok ?: kdl_cdev_path(bdf0, cdev0, sizeof(cdev0)) ?:
		   kdl_cdev_path(bdf1, cdev1, sizeof(cdev1));
	if (!ok && mkdir(EX_VFIO_SAVE, 0755) && errno != EEXIST)
		ok = FAILF("mkdir %s: %s", EX_VFIO_SAVE, strerror(errno));
	if (!ok)
		kinfo("examples: edu %s (%s) on vfio-pci, edu %s (%s) on %s", bdf0, cdev0,
		      bdf1, cdev1, KDL_DRV_VARIANT);
	R("example_setup", ok);
	if (ok)
		return;

	{
		const char *args[] = { bdf0, NULL };
		char dev[96];

		snprintf(dev, sizeof(dev), "device %s: source type1", bdf0);
		const char *want[] = {
			"backend: type1, precise: 0", "reason 500: ", "reason 515: ", dev,
			"round 1: 4096 of 4096 pages dirty", "round 2: 4096 of 4096 pages dirty",
			"unmap: 4096 pages dirty", "=ok", NULL,
		};
		ex("example_type1", "type1", args, true, 0, want, NULL);

		snprintf(dev, sizeof(dev), "device %s: source none", bdf0);
		const char *want2[] = {
			"backend: iommufd, precise: 0", "reason 524: ", dev,
			"round 1: 4096 of 4096 pages dirty", "unmap: 4096 pages dirty", "=ok", NULL,
		};
		ex("example_type1_iommufd", "type1", args, false, 0, want2, NULL);
	}
	{
		const char *args[] = { cdev0, cdev1, NULL };
		const char *want[] = {
			"kernel: real, /dev/iommu and 2 device(s)",
			"read: 4096 dirty pages (the union",
			"tracker precise=0, 1 of 2 devices conservative", "=ok", NULL,
		};
		ex("example_mixed_devices", "mixed_devices", args, false, 0, want, mixed_both);

		const char *args2[] = { cdev1, NULL };
		const char *want2[] = {
			"read: 0 dirty pages (the union",
			"tracker precise=1, 0 of 1 devices conservative", "=ok", NULL,
		};
		ex("example_mixed_devices_log", "mixed_devices", args2, false, 0, want2, mixed_log);
	}
	{
		const char *args[] = { cdev1, NULL };
		const char *want_adopt[] = {
			"this IOMMU cannot track dirty pages: a HWPT without dirty tracking",
			"(source device-log)", "read: 0 dirty pages",
			"=after free: VMM's fd, IOAS, HWPT, attachment and mapping intact", "=ok", NULL,
		};
		ex("example_adopt", "adopt", args, false, 0, want_adopt, NULL);

		snprintf(log_line, sizeof(log_line), "%s: source device-log, precise", cdev1);
		const char *want_hot[] = {
			log_line, "DIMM unplugged: 0 dirty pages", "=boot RAM: 0 dirty pages", "=ok",
			NULL,
		};
		ex("example_hotunplug", "hotunplug", args, false, 0, want_hot, NULL);

		const char *want_viommu[] = { log_line, "=ok", NULL };
		ex("example_viommu", "viommu", args, false, 0, want_viommu, viommu_clean);

		snprintf(full, sizeof(full), "%s: source device-log", cdev1);
		const char *want_pre[] = {
			full, "guest RAM 256 MiB at IOVA", NULL,
		};
		ex("example_precopy", "precopy", args, false, 0, want_pre, precopy_rounds);
	}
	{
		const char *args[] = { cdev0, NULL };
		const char *want[] = {
			"no precise dirty source for this device", "reason 533: ", NULL,
		};
		ex("example_precopy_refused", "precopy", args, false, 2, want, NULL);
	}
}
