/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommudirty-probe's parts, and what they share (not installed):
 *   iommudirty-probe.c  main(), the options, usage() and the modes (run_*)
 *   probe-scan.c        sysfs, the device nodes, iommufd, type1 and VFIO
 *                       features: every kernel call the tool makes itself
 *   probe-devlink.c     devlink's `migratable`, and the PROBE_SIM_SEAM sim
 *   probe-report.c      the verdict, the human and the JSON output
 */
#ifndef IOMMUDIRTY_PROBE_H
#define IOMMUDIRTY_PROBE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iommudirty.h"

#define EXIT_PRECISE 0   /* a device can migrate with precise tracking */
#define EXIT_NONE_CAN 1  /* devices found, none can */
#define EXIT_NO_DEVICES 2
#define EXIT_USAGE 3     /* usage, permission or environment error */

#define MAX_DEVICES 256
#define MAX_NOTES 24

/* ---- what we learn per device ------------------------------------------- */

enum verdict { V_PRECISE, V_TYPE1, V_NO };

struct report {
	char bdf[64];
	char driver[64];
	char group[32];         /* "" if none */
	char cdev[32];          /* "vfio0", "" if none */
	char cdev_path[PATH_MAX];
	int iommu_node;         /* 1 char device, 0 not, <0 -errno */
	int cdev_err;           /* opening the cdev; 1: not tried */
	int ctx_err;            /* opening /dev/iommu through the library */
	int bind_err;
	int mig;                /* 1 yes, 0 no, -1 unknown */
	int mig_err;
	uint64_t mig_flags;
	int dma_log;            /* 1 yes, 0 no, -1 unknown */
	int dma_log_err;
	bool have_caps;
	struct iommudirty_caps caps;
	uint32_t hw_type;
	/* type1 */
	char container_path[PATH_MAX];
	char group_path[PATH_MAX];
	int container_err;      /* 0 opened; 1: not tried */
	int type1v2;            /* 1 yes, 0 no, -1 unknown */
	int group_err;
	int viable;             /* -1 unknown */
	int type1_dirty;        /* CAP_MIGRATION: 1 yes, 0 no, -1 unknown */
	int type1_err;
	uint64_t type1_pgsize;
	bool perm_denied;
	/* devlink `migratable` */
	bool dl_asked;
	bool dl_port_given;     /* --devlink-port, not the sysfs VF lookup */
	int dl_err;             /* the library could not ask: -errno; else 0 */
	struct iommudirty_migratable dl;
	enum verdict verdict;
	char notes[MAX_NOTES][200];
	int nnotes;
};

/* ---- iommudirty-probe.c: the options, and this run's reports ------------ */

extern struct report reports[MAX_DEVICES];
extern int nreports;
extern const char *sysfs_root;
extern const char *dev_root;
extern const char *only_device;  /* --device */

/* ---- probe-scan.c ------------------------------------------------------- */

bool set_name(char *dst, size_t len, const char *src);
int sys_readlink_base(const char *path, char *buf, size_t len);
int scan_sysfs(void);
void find_nodes(struct report *r);
/* The IOMMU type and the capability report of a bound device. */
void report_device_caps(struct report *r, struct iommudirty_device *dev);
void probe_iommufd(struct report *r);
void probe_type1(struct report *r);

/* ---- probe-devlink.c ---------------------------------------------------- */

/* The context devlink questions go through, between open_dl_ctx() and
 * close_dl_ctx(); NULL with dl_ctx_err (-errno) when there is none. */
extern struct iommudirty_ctx *dl_ctx;
extern int dl_ctx_err;
#ifdef PROBE_SIM_SEAM
extern bool sim_no_devlink, sim_no_net_admin;
bool sim_parse_port(const char *arg);
#endif
void open_dl_ctx(void);
void close_dl_ctx(void);
void probe_devlink(struct report *r, const struct iommudirty_devlink_port *port);
void dl_where(const struct report *r, char *buf, size_t len);
void devlink_text(const struct report *r, char *buf, size_t len);

/* ---- probe-report.c ----------------------------------------------------- */

void decide(struct report *r);
bool can_migrate_precise(const struct report *r);
void json_str(const char *s);
void print_devlink_json(const struct report *r);
void print_json_report(const struct report *r, bool pci);
void print_human_report(const struct report *r, bool pci);

#endif /* IOMMUDIRTY_PROBE_H */
