/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommudirty-probe: devlink's `migratable` port function of a VF (the
 * library's iommudirty_devlink_migratable()), and the devlink line of the
 * report. Built with PROBE_SIM_SEAM, the questions go to a simulated
 * kernel declared on the command line: the tool's only seam, see
 * sim_setup().
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iommudirty.h"
#include "probe.h"

struct iommudirty_ctx *dl_ctx;
int dl_ctx_err = -ENODEV;

/* The library's own warnings would repeat what the devlink line says. */
static void dl_log_quiet(enum iommudirty_log_level level, const char *msg, void *user)
{
	(void)level;
	(void)msg;
	(void)user;
}

#ifdef PROBE_SIM_SEAM
/*
 * The test seam: --sim-port declares a devlink port on a simulated kernel
 * of SIM_DEVICES devices (device i is PCI 0000:00:<i+1>.0), --sim-no-devlink
 * a kernel without the devlink family, --sim-no-net-admin a caller without
 * CAP_NET_ADMIN; dl_ctx is then a context on that sim.
 * Everything else (sysfs tree, /dev nodes) is still read from
 * --sysfs-root/--dev-root, so a test mirrors the sim's VFs in its tree.
 */
#define SIM_DEVICES 16
#define SIM_MAX_PORTS 16
static struct iommudirty_sim_devlink_port_opts sim_ports[SIM_MAX_PORTS];
static int nsim_ports;
bool sim_no_devlink, sim_no_net_admin;
static struct iommudirty_sim *sim;

/* "pf=N,vf=N,index=N,flavour=vf|pf|physical,vfnum=N[,op][,on][,noport][,legacy]" */
bool sim_parse_port(const char *arg)
{
	struct iommudirty_sim_devlink_port_opts *o;
	char buf[256], *tok, *save = NULL;

	if (nsim_ports >= SIM_MAX_PORTS || strlen(arg) >= sizeof(buf))
		return false;
	o = &sim_ports[nsim_ports];
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->vf = -1;
	o->flavour = IOMMUDIRTY_SIM_DEVLINK_PCI_VF;
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		long v = eq ? strtol(eq + 1, NULL, 10) : 0;

		if (!strcmp(tok, "op"))
			o->flags |= IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE_OP;
		else if (!strcmp(tok, "on"))
			o->flags |= IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE;
		else if (!strcmp(tok, "noport"))
			o->flags |= IOMMUDIRTY_SIM_DEVLINK_NO_PORT;
		else if (!strcmp(tok, "legacy"))
			o->flags |= IOMMUDIRTY_SIM_DEVLINK_LEGACY;
		else if (!strncmp(tok, "pf=", 3))
			o->pf = (int)v;
		else if (!strncmp(tok, "vf=", 3))
			o->vf = (int)v;
		else if (!strncmp(tok, "index=", 6))
			o->index = (uint32_t)v;
		else if (!strncmp(tok, "vfnum=", 6))
			o->vf_number = (uint32_t)v;
		else if (!strcmp(tok, "flavour=vf"))
			o->flavour = IOMMUDIRTY_SIM_DEVLINK_PCI_VF;
		else if (!strcmp(tok, "flavour=pf"))
			o->flavour = IOMMUDIRTY_SIM_DEVLINK_PCI_PF;
		else if (!strcmp(tok, "flavour=physical"))
			o->flavour = IOMMUDIRTY_SIM_DEVLINK_PHYSICAL;
		else
			return false;
	}
	nsim_ports++;
	return true;
}

/* The sim, its devices and ports: 0, or -errno. */
static int sim_setup(void)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_opts, so,
			.flags = (sim_no_devlink ? IOMMUDIRTY_SIM_NO_DEVLINK : 0) |
				 (sim_no_net_admin ? IOMMUDIRTY_SIM_NO_NET_ADMIN : 0));
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, io);
	int iommu, ret;

	sim = iommudirty_sim_new(&so);
	if (!sim)
		return -errno;
	iommu = iommudirty_sim_add_iommu(sim, &io);
	if (iommu < 0)
		return iommu;
	for (int i = 0; i < SIM_DEVICES; i++)
		if ((ret = iommudirty_sim_add_device(sim, iommu)) < 0)
			return ret;
	for (int i = 0; i < nsim_ports; i++)
		if ((ret = iommudirty_sim_add_devlink_port(sim, &sim_ports[i])))
			return ret;
	return 0;
}
#endif /* PROBE_SIM_SEAM */

/* The context devlink questions go through. It needs no iommufd: open ""
 * fails with ENOENT, which IOMMUFD_OPTIONAL accepts, so an unprivileged
 * user (devlink's GET needs no privilege) still gets one. */
void open_dl_ctx(void)
{
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o, .flags = IOMMUDIRTY_CTX_IOMMUFD_OPTIONAL,
			.path = "", .log_fn = dl_log_quiet);

#ifdef PROBE_SIM_SEAM
	if (sim || nsim_ports || sim_no_devlink || sim_no_net_admin) {
		int ret = sim ? 0 : sim_setup();

		if (ret) {
			dl_ctx_err = ret;
			return;
		}
		o.sim = sim;
		o.path = NULL;
	}
#endif
	dl_ctx = iommudirty_ctx_new(&o);
	dl_ctx_err = dl_ctx ? 0 : -errno;
}

void close_dl_ctx(void)
{
	iommudirty_ctx_free(dl_ctx);
	dl_ctx = NULL;
#ifdef PROBE_SIM_SEAM
	iommudirty_sim_free(sim);
	sim = NULL;
#endif
}

/* Does the tree at --sysfs-root show bdf as a VF (a physfn link)? */
static bool tree_has_physfn(const char *bdf)
{
	char path[PATH_MAX + 300], pf[64];

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/physfn", sysfs_root, bdf);
	return !sys_readlink_base(path, pf, sizeof(pf));
}

/* Ask devlink about r's VF port (or the --devlink-port one). */
void probe_devlink(struct report *r, const struct iommudirty_devlink_port *port)
{
	int ret;

	memset(&r->dl, 0, sizeof(r->dl));
	r->dl.sz = sizeof(r->dl);
	r->dl.state = -1;
	r->dl_asked = true;
	r->dl_port_given = port != NULL;
	r->dl_err = 0;
	/* The library looks a VF up in /sys; a tree elsewhere (--sysfs-root)
	 * is read here: no physfn there, no VF, whatever /sys says. */
	if (!port && strcmp(sysfs_root, "/sys") && !tree_has_physfn(r->bdf)) {
		r->dl.reason = IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF;
		return;
	}
	if (!dl_ctx) {
		r->dl_err = dl_ctx_err;
		return;
	}
	ret = iommudirty_devlink_migratable(dl_ctx, port ? NULL : r->bdf, port, &r->dl);
	if (ret)
		r->dl_err = ret;
}

static void port_str(const struct iommudirty_devlink_port *p, bool with_index,
		     char *buf, size_t len)
{
	if (with_index)
		snprintf(buf, len, "%s/%s/%u", p->bus, p->dev, p->index);
	else
		snprintf(buf, len, "%s/%s", p->bus, p->dev);
}

/* Where the answer is about: the port ("pci/0000:03:00.0/1"), the PF's
 * devlink instance when no port was found ("pci/0000:03:00.0"), or "". */
void dl_where(const struct report *r, char *buf, size_t len)
{
	const struct iommudirty_migratable *m = &r->dl;
	bool port_known = r->dl_port_given ||
			  m->reason == IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_ON ||
			  m->reason == IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF ||
			  m->reason == IOMMUDIRTY_REASON_DEVLINK_NO_MIGRATABLE_OP;

	buf[0] = 0;
	if (m->port.dev[0])
		port_str(&m->port, port_known, buf, len);
}

/* The reason's text without iommudirty_reason_str()'s "devlink: ". */
static const char *dl_reason_text(uint32_t reason)
{
	const char *t = iommudirty_reason_str(reason);

	return strncmp(t, "devlink: ", 9) ? t : t + 9;
}

/* The devlink line (without "devlink: " and newline). */
void devlink_text(const struct report *r, char *buf, size_t len)
{
	const struct iommudirty_migratable *m = &r->dl;
	char where[160];
	size_t n = 0;

#define ADD(...) (n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__))
	buf[0] = 0;
	if (r->dl_err) {
		ADD("cannot ask: %s", strerror(-r->dl_err));
		return;
	}
	dl_where(r, where, sizeof(where));
	switch (m->reason) {
	case IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_ON:
		ADD("migratable on (%s)", where);
		break;
	case IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF:
		ADD("migratable off (%s); enable with: %s", where, m->hint);
		break;
	case IOMMUDIRTY_REASON_DEVLINK_NO_LIBNL:
		ADD("not built with libnl");
		break;
	case IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF:
		if (r->dl_port_given)
			ADD("%s is not a VF port (migratable does not apply)", where);
		else
			ADD("not a VF (migratable does not apply)");
		break;
	default:
		ADD("%s", dl_reason_text(m->reason));
		if (where[0])
			ADD(" (%s)", where);
		ADD(" [%u]", m->reason);
		break;
	}
	if (m->message[0])
		ADD("; the kernel says: %s", m->message);
#undef ADD
}
