/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommudirty-probe: can this host live-migrate its VFIO devices, and with
 * which dirty tracking? See usage() for the output and exit status.
 *
 * For each PCI device bound to vfio-pci or a variant driver: its IOMMU
 * group, VFIO cdev, /dev/iommu; through the cdev bound to an iommufd, VFIO
 * migration and device DMA logging support and the IOMMU's dirty-tracking
 * report (the library's iommudirty_device_caps()); then the type1
 * container as the fallback (probe-scan.c: its sys_* wrappers are every
 * kernel call the tool makes itself); and devlink's `migratable` port
 * function of the device's VF port (the library's
 * iommudirty_devlink_migratable(), probe-devlink.c), which
 * --set-migratable turns on or off. probe-report.c decides and prints;
 * this file has the options and the modes.
 *
 * Built with PROBE_SIM_SEAM (the test binary iommudirty-probe-sim, never
 * installed), the devlink questions go to a simulated kernel declared on
 * the command line (--sim-port): the only seam, see sim_setup().
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iommudirty.h"
#include "probe.h"

struct report reports[MAX_DEVICES];
int nreports;

const char *sysfs_root = "/sys";
const char *dev_root = "/dev";
const char *only_device;
static bool json;

/* --devlink-port */
static bool have_port;
static struct iommudirty_devlink_port dl_port = { .sz = sizeof(dl_port) };

/* ---- modes -------------------------------------------------------------- */

static int run_adopted(int iommufd, uint32_t dev_id)
{
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o, .flags = IOMMUDIRTY_CTX_ADOPT_FD,
			.iommufd = iommufd);
	struct report *r = &reports[0];
	struct iommudirty_device *dev = NULL;
	struct iommudirty_ctx *ctx;
	int ret;

	memset(r, 0, sizeof(*r));
	nreports = 1;
	snprintf(r->bdf, sizeof(r->bdf), "%u", dev_id);
	r->mig = r->dma_log = -1;
	ctx = iommudirty_ctx_new(&o);
	if (!ctx) {
		fprintf(stderr, "iommudirty-probe: fd %d: %s\n", iommufd, strerror(errno));
		return EXIT_USAGE;
	}
	ret = iommudirty_device_adopt(ctx, -1, dev_id, &dev);
	if (ret) {
		fprintf(stderr, "iommudirty-probe: IOMMU_GET_HW_INFO(dev %u) on fd %d: %s\n",
			dev_id, iommufd, strerror(-ret));
		iommudirty_ctx_free(ctx);
		return EXIT_USAGE;
	}
	report_device_caps(r, dev);
	iommudirty_device_free(dev);
	iommudirty_ctx_free(ctx);
	/* No PCI address here: devlink only for an explicit port. */
	if (have_port) {
		open_dl_ctx();
		probe_devlink(r, &dl_port);
		close_dl_ctx();
	}
	/* Only the IOMMU is known here: no cdev, no type1. */
	r->verdict = r->have_caps && r->caps.dirty == 1 ? V_PRECISE : V_NO;
	if (json) {
		printf("{\n  \"tool\": \"iommudirty-probe\", \"library\": ");
		json_str(iommudirty_version());
		printf(", \"mode\": \"iommufd-fd\",\n  \"devices\": [\n");
		print_json_report(r, false);
		printf("\n  ],\n  \"exit\": %d\n}\n",
		       r->verdict == V_PRECISE ? EXIT_PRECISE : EXIT_NONE_CAN);
	} else {
		print_human_report(r, false);
	}
	return r->verdict == V_PRECISE ? EXIT_PRECISE : EXIT_NONE_CAN;
}

static int run_pci(void)
{
	int ret = scan_sysfs(), status, nprecise = 0;
	bool perm = false;

	if (ret) {
		fprintf(stderr, "iommudirty-probe: cannot read %s/bus/pci/devices: %s\n",
			sysfs_root, strerror(-ret));
		return EXIT_USAGE;
	}
	if (have_port && nreports > 1) {
		fprintf(stderr, "iommudirty-probe: --devlink-port is one device's port, and %d "
			"devices are bound to VFIO drivers: name it with --device BDF\n", nreports);
		return EXIT_USAGE;
	}
	if (nreports)
		open_dl_ctx();
	for (int i = 0; i < nreports; i++) {
		struct report *r = &reports[i];

		find_nodes(r);
		probe_iommufd(r);
		probe_type1(r);
		probe_devlink(r, have_port ? &dl_port : NULL);
		decide(r);
		nprecise += can_migrate_precise(r);
		perm |= r->perm_denied;
	}
	close_dl_ctx();
	if (!nreports)
		status = EXIT_NO_DEVICES;
	else if (nprecise)
		status = EXIT_PRECISE;
	else if (perm)
		status = EXIT_USAGE;
	else
		status = EXIT_NONE_CAN;

	if (json) {
		printf("{\n  \"tool\": \"iommudirty-probe\", \"library\": ");
		json_str(iommudirty_version());
		printf(", \"mode\": \"pci\", \"sysfs\": ");
		json_str(sysfs_root);
		printf(", \"dev\": ");
		json_str(dev_root);
		printf(",\n  \"devices\": [\n");
		for (int i = 0; i < nreports; i++) {
			print_json_report(&reports[i], true);
			printf("%s\n", i + 1 < nreports ? "," : "");
		}
		printf("  ],\n  \"permission_denied\": %s,\n  \"exit\": %d\n}\n",
		       perm ? "true" : "false", status);
	} else {
		for (int i = 0; i < nreports; i++)
			print_human_report(&reports[i], true);
		if (!nreports && only_device)
			printf("%s is not bound to vfio-pci or a vfio-pci variant driver "
			       "(under %s/bus/pci/devices)\n", only_device, sysfs_root);
		else if (!nreports)
			printf("no PCI device is bound to vfio-pci or a vfio-pci variant driver "
			       "(under %s/bus/pci/devices)\n", sysfs_root);
		if (perm)
			printf("permission denied on some VFIO or iommufd nodes: run as root "
			       "or grant access to %s/vfio and %s/iommu\n", dev_root, dev_root);
	}
	return status;
}

/* --set-migratable: set, then say what devlink says now. Exit 0 done, 3
 * refused for lack of permission (EPERM or EACCES), 1 any other refusal
 * or failure. */
static int run_set(int enable)
{
	struct report *r = &reports[0];
	const char *what = enable ? "on" : "off";
	char line[1024], where[160], err[200] = "";
	int ret, status;

	memset(r, 0, sizeof(*r));
	nreports = 1;
	if (only_device)
		set_name(r->bdf, sizeof(r->bdf), only_device);
	r->dl.sz = sizeof(r->dl);
	r->dl.state = -1;
	r->dl_asked = true;
	r->dl_port_given = have_port;
	open_dl_ctx();
	if (!dl_ctx)
		ret = r->dl_err = dl_ctx_err;
	else
		ret = iommudirty_devlink_set_migratable(dl_ctx, have_port ? NULL : only_device,
							have_port ? &dl_port : NULL, enable,
							&r->dl);
	close_dl_ctx();
	status = !ret ? 0 : ret == -EPERM || ret == -EACCES ? EXIT_USAGE : EXIT_NONE_CAN;
	devlink_text(r, line, sizeof(line));
	dl_where(r, where, sizeof(where));
	if (ret)
		snprintf(err, sizeof(err), "%s (errno %d)", strerror(-ret), -ret);
	if (json) {
		printf("{\n  \"tool\": \"iommudirty-probe\", \"library\": ");
		json_str(iommudirty_version());
		printf(", \"mode\": \"set-migratable\", \"request\": \"%s\",\n  \"device\": ", what);
		only_device ? json_str(only_device) : (void)fputs("null", stdout);
		printf(", \"ok\": %s, \"errno\": %d, \"error\": ", ret ? "false" : "true", -ret);
		ret ? json_str(strerror(-ret)) : (void)fputs("null", stdout);
		printf(",\n  \"devlink\": ");
		print_devlink_json(r);
		printf(",\n  \"exit\": %d\n}\n", status);
		return status;
	}
	if (ret)
		printf("devlink: set migratable %s%s%s%s: failed: %s\n", what,
		       where[0] ? " (" : "", where, where[0] ? ")" : "", err);
	else
		printf("devlink: set migratable %s (%s): done\n", what, where);
	printf("devlink: %s\n", line);
	return status;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: iommudirty-probe [--json] [--sysfs-root DIR] [--dev-root DIR]\n"
"                        [--device BDF] [--devlink-port BUS/DEV/INDEX]\n"
"       iommudirty-probe [--json] --iommufd-fd N --dev-id ID [--devlink-port P]\n"
"       iommudirty-probe [--json] --set-migratable on|off\n"
"                        (--device BDF | --devlink-port BUS/DEV/INDEX)\n"
"\n"
"Tell whether the VFIO devices of this host can be live-migrated, and with\n"
"which dirty-page tracking. For every PCI device bound to vfio-pci or a\n"
"variant driver (mlx5_vfio_pci, pds_vfio_pci, hisi_acc_vfio_pci, ...) it\n"
"reports the IOMMU group, the VFIO cdev, /dev/iommu, VFIO migration and\n"
"device DMA-logging support, the IOMMU's dirty tracking with every reason\n"
"when it cannot, the legacy type1 container, devlink's `migratable` port\n"
"function of a VF (mlx5 VFs have no VFIO migration until it is on when\n"
"they are bound), then one verdict:\n"
"  live migration with precise IOMMU dirty tracking\n"
"  only via type1: every mapped page always reported dirty\n"
"  no: <reasons>\n"
"The devlink line, e.g.:\n"
"  devlink: migratable off (pci/0000:03:00.0/1); enable with: devlink port\n"
"           function set pci/0000:03:00.0/1 migratable enable\n"
"  devlink: migratable on (pci/0000:03:00.0/1)\n"
"  devlink: not a VF (migratable does not apply)\n"
"  devlink: not built with libnl\n"
"  devlink: <why it cannot tell> [reason code]\n"
"Probing binds each device to a fresh iommufd and attaches its group to a\n"
"type1 container for a moment; a device in use by a VMM shows as busy.\n"
"\n"
"  --json            machine-readable output\n"
"  --sysfs-root DIR  sysfs mount (default /sys; devlink's VF lookup reads\n"
"                    /sys: a device without physfn under DIR is no VF)\n"
"  --dev-root DIR    device node directory (default /dev)\n"
"  --device BDF      only this device (DDDD:BB:DD.F)\n"
"  --devlink-port BUS/DEV/INDEX\n"
"                    the device's devlink port as devlink(8) names it, e.g.\n"
"                    pci/0000:03:00.0/1, instead of the VF lookup through\n"
"                    sysfs physfn (one device: with several, add --device)\n"
"  --set-migratable on|off\n"
"                    set the port function `migratable` of --devlink-port or\n"
"                    of the VF --device (bound to any driver or none: mlx5\n"
"                    reads it when the VF is bound), then show it; on refusal\n"
"                    the kernel's message and errno. Needs CAP_NET_ADMIN\n"
"  --iommufd-fd N    probe a device already bound to iommufd N (an inherited\n"
"  --dev-id ID       fd), e.g. the kernel's selftest mock devices: only the\n"
"                    IOMMU's dirty tracking is reported (and devlink with\n"
"                    --devlink-port)\n"
"  --help            this text\n"
"\n"
"Exit status:\n"
"  0  at least one device can migrate with precise dirty tracking (with\n"
"     --iommufd-fd: the device's IOMMU can track dirty pages; with\n"
"     --set-migratable: done)\n"
"  1  devices found, none can (--set-migratable: refused or failed, other\n"
"     than for lack of permission)\n"
"  2  no device bound to a vfio-pci driver\n"
"  3  usage error, unreadable sysfs, permission denied (and no device\n"
"     could be shown to migrate; --set-migratable: refused for lack of\n"
"     permission, EPERM or EACCES), or the --iommufd-fd device not found\n");
}

static bool parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || !*s || *end || v > UINT32_MAX || s[0] == '-')
		return false;
	*out = (uint32_t)v;
	return true;
}

/* devlink(8)'s handle characters, as the library accepts them. */
static bool handle_part_ok(const char *s, size_t n, size_t max)
{
	if (!n || n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("_.:-", s[i])))
			return false;
	return true;
}

/* "bus/dev/index", e.g. "pci/0000:03:00.0/1"; index decimal. */
static bool parse_devlink_port(const char *s, struct iommudirty_devlink_port *p)
{
	const char *a = strchr(s, '/'), *b = strrchr(s, '/');
	unsigned long long v = 0;

	if (!a || a == b || !handle_part_ok(s, (size_t)(a - s), sizeof(p->bus)) ||
	    !handle_part_ok(a + 1, (size_t)(b - a - 1), sizeof(p->dev)) || !b[1])
		return false;
	for (const char *c = b + 1; *c; c++) {
		if (*c < '0' || *c > '9' || (v = v * 10 + (unsigned)(*c - '0')) > UINT32_MAX)
			return false;
	}
	memset(p, 0, sizeof(*p));
	p->sz = sizeof(*p);
	memcpy(p->bus, s, (size_t)(a - s));
	memcpy(p->dev, a + 1, (size_t)(b - a - 1));
	p->index = (uint32_t)v;
	return true;
}

/* "DDDD:BB:DD.F" (a domain of 4 to 8 hex digits), as sysfs names it. */
static bool bdf_ok(const char *s)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF");

	if (n < 4 || n > 8 || s[n] != ':')
		return false;
	s += n + 1;
	return strspn(s, "0123456789abcdefABCDEF") == 2 && s[2] == ':' &&
	       strspn(s + 3, "0123456789abcdefABCDEF") == 2 && s[5] == '.' &&
	       s[6] >= '0' && s[6] <= '7' && !s[7];
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "sysfs-root", required_argument, NULL, 's' },
		{ "dev-root", required_argument, NULL, 'd' },
		{ "iommufd-fd", required_argument, NULL, 'f' },
		{ "dev-id", required_argument, NULL, 'i' },
		{ "device", required_argument, NULL, 'D' },
		{ "devlink-port", required_argument, NULL, 'p' },
		{ "set-migratable", required_argument, NULL, 'm' },
#ifdef PROBE_SIM_SEAM
		{ "sim-port", required_argument, NULL, 'S' },
		{ "sim-no-devlink", no_argument, NULL, 'N' },
		{ "sim-no-net-admin", no_argument, NULL, 'A' },
#endif
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t fd = 0, dev_id = 0;
	bool have_fd = false, have_id = false;
	int c, set = -1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			sysfs_root = optarg;
			break;
		case 'd':
			dev_root = optarg;
			break;
		case 'f':
			if (!parse_u32(optarg, &fd) || fd > INT_MAX) {
				fprintf(stderr, "iommudirty-probe: bad --iommufd-fd %s\n", optarg);
				return EXIT_USAGE;
			}
			have_fd = true;
			break;
		case 'i':
			if (!parse_u32(optarg, &dev_id)) {
				fprintf(stderr, "iommudirty-probe: bad --dev-id %s\n", optarg);
				return EXIT_USAGE;
			}
			have_id = true;
			break;
		case 'D':
			if (!bdf_ok(optarg)) {
				fprintf(stderr, "iommudirty-probe: bad --device %s: want a PCI "
					"address DDDD:BB:DD.F, e.g. 0000:03:00.2\n", optarg);
				return EXIT_USAGE;
			}
			only_device = optarg;
			break;
		case 'p':
			if (!parse_devlink_port(optarg, &dl_port)) {
				fprintf(stderr, "iommudirty-probe: bad --devlink-port %s: want "
					"BUS/DEV/INDEX, e.g. pci/0000:03:00.0/1\n", optarg);
				return EXIT_USAGE;
			}
			have_port = true;
			break;
		case 'm':
			if (!strcmp(optarg, "on") || !strcmp(optarg, "enable")) {
				set = 1;
			} else if (!strcmp(optarg, "off") || !strcmp(optarg, "disable")) {
				set = 0;
			} else {
				fprintf(stderr, "iommudirty-probe: bad --set-migratable %s: "
					"want on or off\n", optarg);
				return EXIT_USAGE;
			}
			break;
#ifdef PROBE_SIM_SEAM
		case 'S':
			if (!sim_parse_port(optarg)) {
				fprintf(stderr, "iommudirty-probe: bad --sim-port %s\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'N':
			sim_no_devlink = true;
			break;
		case 'A':
			sim_no_net_admin = true;
			break;
#endif
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc || have_fd != have_id) {
		if (have_fd != have_id)
			fprintf(stderr, "iommudirty-probe: --iommufd-fd and --dev-id go together\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (set >= 0 && (have_fd || (!only_device && !have_port))) {
		fprintf(stderr, "iommudirty-probe: --set-migratable needs --device BDF or "
			"--devlink-port BUS/DEV/INDEX (and no --iommufd-fd)\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (have_fd && only_device) {
		fprintf(stderr, "iommudirty-probe: --device and --iommufd-fd do not go together\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (set >= 0)
		return run_set(set);
	if (have_fd)
		return run_adopted((int)fd, dev_id);
	return run_pci();
}
