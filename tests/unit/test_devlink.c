/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * devlink's `migratable` (src/devlink.c) on the sim's devlink
 * (src/sim/devlink.c): query, set, the kernel's refusals with their extack
 * text, the lookups that fail (no switchdev, no family, no VF, no port),
 * bad input rejected before any netlink traffic, the caps fields, no
 * socket left open. Built without libnl, only the no-libnl answers run.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "iommudirty.h"
#include "devlink_nl.h"

#ifdef IOMMUDIRTY_HAVE_LIBNL
#include <linux/devlink.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#endif

/* Sim devices: a PF with a PHYSICAL port 0 (op), VF0 on port 1 (op, off),
 * VF1 on port 2 (no op); a plain device; a legacy-mode PF with a VF and
 * no port; a switchdev PF with a VF and no port. */
enum { PF, VF0, VF1, PLAIN, PF_LEGACY, VF_LEGACY, PF2, VF_NOPORT, NDEV };

struct env {
	struct iommudirty_sim *sim;
	struct iommudirty_ctx *ctx;
	char bdf[NDEV][16];
};

static void add_port(struct env *e, unsigned int flags, int pf, int vf,
		     uint32_t index, uint32_t flavour, uint32_t vf_number)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_devlink_port_opts, o, .flags = flags,
			.pf = pf, .vf = vf, .index = index, .flavour = flavour,
			.vf_number = vf_number);

	assert_int_equal(iommudirty_sim_add_devlink_port(e->sim, &o), 0);
}

static int env_new(struct env *e, unsigned int sim_flags)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_opts, so, .flags = sim_flags);
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, io);
	int iommu;

	memset(e, 0, sizeof(*e));
	e->sim = iommudirty_sim_new(&so);
	assert_non_null(e->sim);
	iommu = iommudirty_sim_add_iommu(e->sim, &io);
	assert_true(iommu >= 0);
	for (int i = 0; i < NDEV; i++) {
		assert_int_equal(iommudirty_sim_add_device(e->sim, iommu), i);
		assert_int_equal(iommudirty_sim_device_bdf(e->sim, i, e->bdf[i],
							   sizeof(e->bdf[i])), 0);
	}
	add_port(e, IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE_OP, PF, -1, 0,
		 IOMMUDIRTY_SIM_DEVLINK_PHYSICAL, 0);
	add_port(e, IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE_OP, PF, VF0, 1,
		 IOMMUDIRTY_SIM_DEVLINK_PCI_VF, 0);
	add_port(e, 0, PF, VF1, 2, IOMMUDIRTY_SIM_DEVLINK_PCI_VF, 1);
	add_port(e, IOMMUDIRTY_SIM_DEVLINK_NO_PORT | IOMMUDIRTY_SIM_DEVLINK_LEGACY,
		 PF_LEGACY, VF_LEGACY, 0, IOMMUDIRTY_SIM_DEVLINK_PCI_VF, 0);
	add_port(e, IOMMUDIRTY_SIM_DEVLINK_NO_PORT, PF2, VF_NOPORT, 0,
		 IOMMUDIRTY_SIM_DEVLINK_PCI_VF, 3);
	{
		IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co, .sim = e->sim);

		e->ctx = iommudirty_ctx_new(&co);
	}
	assert_non_null(e->ctx);
	return 0;
}

static void env_free(struct env *e)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_stats, st);

	iommudirty_ctx_free(e->ctx);
	assert_int_equal(iommudirty_sim_get_stats(e->sim, &st), 0);
	assert_int_equal(st.nl_socks, 0); /* every socket closed */
	assert_int_equal(st.open_fds, 0);
	iommudirty_sim_free(e->sim);
}

static uint64_t nl_requests(struct env *e)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_stats, st);

	assert_int_equal(iommudirty_sim_get_stats(e->sim, &st), 0);
	assert_int_equal(st.nl_socks, 0);
	return st.nl_requests;
}

static inline struct iommudirty_devlink_port port_of(const char *dev, uint32_t index)
{
	struct iommudirty_devlink_port p = { .sz = sizeof(p), .index = index };

	snprintf(p.bus, sizeof(p.bus), "pci");
	snprintf(p.dev, sizeof(p.dev), "%s", dev);
	return p;
}

#define MIG(name) IOMMUDIRTY_OPTS(iommudirty_migratable, name)

static void test_sim_opts(void **state)
{
	struct env e;
	IOMMUDIRTY_OPTS(iommudirty_sim_devlink_port_opts, o, .pf = PF, .vf = -1,
			.index = 0, .flavour = IOMMUDIRTY_SIM_DEVLINK_PCI_PF);

	(void)state;
	env_new(&e, 0);
	/* port index 0 already used on PF */
	assert_int_equal(iommudirty_sim_add_devlink_port(e.sim, &o), -EINVAL);
	o.index = 9;
	o.flags = IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE; /* state without the op */
	assert_int_equal(iommudirty_sim_add_devlink_port(e.sim, &o), -EINVAL);
	o.flags = 1u << 9;
	assert_int_equal(iommudirty_sim_add_devlink_port(e.sim, &o), -EINVAL);
	o.flags = 0;
	o.flavour = 7;
	assert_int_equal(iommudirty_sim_add_devlink_port(e.sim, &o), -EINVAL);
	o.flavour = IOMMUDIRTY_SIM_DEVLINK_PCI_VF;
	o.vf = VF0; /* VF0 is already a VF of PF */
	assert_int_equal(iommudirty_sim_add_devlink_port(e.sim, &o), -EINVAL);
	o.vf = PF;
	assert_int_equal(iommudirty_sim_add_devlink_port(e.sim, &o), -EINVAL);
	o.vf = -1;
	o.pf = NDEV;
	assert_int_equal(iommudirty_sim_add_devlink_port(e.sim, &o), -EINVAL);
	assert_int_equal(iommudirty_sim_add_devlink_port(NULL, &o), -EINVAL);
	env_free(&e);
}

static void test_reason_texts(void **state)
{
	(void)state;
	for (uint32_t r = IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF;
	     r <= IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_ON; r++) {
		assert_string_not_equal(iommudirty_reason_str(r), "unknown reason");
		assert_non_null(strstr(iommudirty_reason_str(r), "devlink"));
	}
}

#ifdef IOMMUDIRTY_HAVE_LIBNL

/* Our numbers against the build machine's uAPI headers, where they have
 * them (Debian 12's 6.1 headers lack the CAPS attribute: 6.12's value
 * 4 is pinned by the sim round trip and DEVICE-LOGGING.md §4c). */
static void test_pinned_numbers(void **state)
{
	(void)state;
	assert_int_equal(DL_CMD_PORT_GET, DEVLINK_CMD_PORT_GET);
	assert_int_equal(DL_CMD_PORT_SET, DEVLINK_CMD_PORT_SET);
	assert_int_equal(DL_CMD_PORT_NEW, DEVLINK_CMD_PORT_NEW);
	assert_int_equal(DL_CMD_ESWITCH_GET, DEVLINK_CMD_ESWITCH_GET);
	assert_int_equal(DL_ATTR_BUS_NAME, DEVLINK_ATTR_BUS_NAME);
	assert_int_equal(DL_ATTR_DEV_NAME, DEVLINK_ATTR_DEV_NAME);
	assert_int_equal(DL_ATTR_PORT_INDEX, DEVLINK_ATTR_PORT_INDEX);
	assert_int_equal(DL_ATTR_PORT_TYPE, DEVLINK_ATTR_PORT_TYPE);
	assert_int_equal(DL_ATTR_ESWITCH_MODE, DEVLINK_ATTR_ESWITCH_MODE);
	assert_int_equal(DL_ATTR_PORT_FLAVOUR, DEVLINK_ATTR_PORT_FLAVOUR);
	assert_int_equal(DL_ATTR_PORT_NUMBER, DEVLINK_ATTR_PORT_NUMBER);
	assert_int_equal(DL_ATTR_PORT_PCI_PF_NUMBER, DEVLINK_ATTR_PORT_PCI_PF_NUMBER);
	assert_int_equal(DL_ATTR_PORT_PCI_VF_NUMBER, DEVLINK_ATTR_PORT_PCI_VF_NUMBER);
	assert_int_equal(DL_ATTR_PORT_FUNCTION, DEVLINK_ATTR_PORT_FUNCTION);
	assert_int_equal(DL_ATTR_PORT_SPLITTABLE, DEVLINK_ATTR_PORT_SPLITTABLE);
	assert_int_equal(DL_ATTR_PORT_EXTERNAL, DEVLINK_ATTR_PORT_EXTERNAL);
	assert_int_equal(DL_ATTR_PORT_CONTROLLER_NUMBER, DEVLINK_ATTR_PORT_CONTROLLER_NUMBER);
	assert_int_equal(DL_PORT_FLAVOUR_PHYSICAL, DEVLINK_PORT_FLAVOUR_PHYSICAL);
	assert_int_equal(DL_PORT_FLAVOUR_PCI_PF, DEVLINK_PORT_FLAVOUR_PCI_PF);
	assert_int_equal(DL_PORT_FLAVOUR_PCI_VF, DEVLINK_PORT_FLAVOUR_PCI_VF);
	assert_int_equal(DL_ESWITCH_MODE_SWITCHDEV, DEVLINK_ESWITCH_MODE_SWITCHDEV);
	assert_string_equal(DL_GENL_NAME, DEVLINK_GENL_NAME);
	assert_int_equal(DL_GENL_VERSION, DEVLINK_GENL_VERSION);
	assert_int_equal(DL_GENL_ID_CTRL, GENL_ID_CTRL);
	assert_int_equal(DL_CTRL_CMD_GETFAMILY, CTRL_CMD_GETFAMILY);
	assert_int_equal(DL_CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_ID);
	assert_int_equal(DL_CTRL_ATTR_FAMILY_NAME, CTRL_ATTR_FAMILY_NAME);
	assert_int_equal(DL_NLM_F_CAPPED, NLM_F_CAPPED);
	assert_int_equal(DL_NLM_F_ACK_TLVS, NLM_F_ACK_TLVS);
	assert_int_equal(DL_NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_MSG);
	assert_int_equal(DL_NETLINK_EXT_ACK, NETLINK_EXT_ACK);
}

static void test_query_off(void **state)
{
	struct env e;
	char hint[256];
	MIG(m);

	(void)state;
	env_new(&e, 0);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[VF0], NULL, &m), 0);
	assert_int_equal(m.state, 0);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF);
	assert_string_equal(m.port.bus, "pci");
	assert_string_equal(m.port.dev, e.bdf[PF]);
	assert_int_equal(m.port.index, 1);
	snprintf(hint, sizeof(hint),
		 "devlink port function set pci/%s/1 migratable enable", e.bdf[PF]);
	assert_string_equal(m.hint, hint);
	assert_string_equal(m.message, "");
	assert_true(nl_requests(&e) >= 2); /* family + PORT_GET dump */
	env_free(&e);
}

static void test_set_on_then_query(void **state)
{
	struct iommudirty_devlink_port p;
	struct env e;
	MIG(m);
	MIG(q);

	(void)state;
	env_new(&e, 0);
	assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, e.bdf[VF0], NULL, 1, &m), 0);
	assert_int_equal(m.state, 1);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_ON);
	assert_string_equal(m.hint, "");
	/* The sim's port changed: a fresh query through the explicit port. */
	p = port_of(e.bdf[PF], 1);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, NULL, &p, &q), 0);
	assert_int_equal(q.state, 1);
	/* VF1's port (another port) untouched. */
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[VF1], NULL, &q), 0);
	assert_int_equal(q.state, -1);
	/* And off again. */
	assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, NULL, &p, 0, &m), 0);
	assert_int_equal(m.state, 0);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[VF0], NULL, &q), 0);
	assert_int_equal(q.state, 0);
	assert_int_equal(q.reason, IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF);
	env_free(&e);
}

static void test_refusal_no_op(void **state)
{
	struct env e;
	MIG(m);

	(void)state;
	env_new(&e, 0);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[VF1], NULL, &m), 0);
	assert_int_equal(m.state, -1);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_NO_MIGRATABLE_OP);
	assert_int_equal(m.port.index, 2);
	errno = 0;
	assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, e.bdf[VF1], NULL, 1, &m),
			 -EOPNOTSUPP);
	assert_int_equal(errno, EOPNOTSUPP);
	assert_string_equal(m.message, "Port doesn't support migratable function attribute");
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_NO_MIGRATABLE_OP);
	assert_int_equal(m.state, -1);
	env_free(&e);
}

static void test_refusal_not_vf_port(void **state)
{
	struct iommudirty_devlink_port p;
	struct env e;
	MIG(m);

	(void)state;
	env_new(&e, 0);
	p = port_of(e.bdf[PF], 0); /* PHYSICAL, driver has the op */
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, NULL, &p, &m), 0);
	assert_int_equal(m.state, -1);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF);
	assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, NULL, &p, 1, &m),
			 -EOPNOTSUPP);
	assert_string_equal(m.message, "migratable function attribute supported for VFs only");
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF);
	assert_string_equal(m.port.dev, e.bdf[PF]);
	assert_int_equal(m.port.index, 0);
	env_free(&e);
}

static void test_not_switchdev_and_no_port(void **state)
{
	struct env e;
	MIG(m);

	(void)state;
	env_new(&e, 0);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[VF_LEGACY], NULL, &m), 0);
	assert_int_equal(m.state, -1);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_NOT_SWITCHDEV);
	assert_string_equal(m.port.dev, e.bdf[PF_LEGACY]);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[VF_NOPORT], NULL, &m), 0);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_NO_PORT);
	assert_int_equal(m.state, -1);
	assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, e.bdf[VF_NOPORT], NULL, 1, &m),
			 -ENODEV);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_NO_PORT);
	env_free(&e);
}

/* A caller without CAP_NET_ADMIN: the query works (PORT_GET is not an
 * admin command), the set is refused -EPERM with the state as it was,
 * nothing changes, and where the eswitch mode would tell why a VF has no
 * port (ESWITCH_GET is an admin command) the reason stays NO_PORT. */
static void test_no_net_admin(void **state)
{
	struct env e;
	MIG(m);

	(void)state;
	env_new(&e, IOMMUDIRTY_SIM_NO_NET_ADMIN);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[VF0], NULL, &m), 0);
	assert_int_equal(m.state, 0);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF);
	memset(m.message, 'x', sizeof(m.message) - 1);
	assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, e.bdf[VF0], NULL, 1, &m),
			 -EPERM);
	assert_int_equal(m.state, 0);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF);
	assert_string_equal(m.message, ""); /* genetlink's refusal has no extack */
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[VF0], NULL, &m), 0);
	assert_int_equal(m.state, 0);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[VF_LEGACY], NULL, &m), 0);
	assert_int_equal(m.state, -1);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_NO_PORT);
	env_free(&e);
	/* The same sim with the capability: the set goes through. */
	env_new(&e, 0);
	assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, e.bdf[VF0], NULL, 1, &m), 0);
	assert_int_equal(m.state, 1);
	env_free(&e);
}

static void test_no_devlink_family(void **state)
{
	struct env e;
	MIG(m);

	(void)state;
	env_new(&e, IOMMUDIRTY_SIM_NO_DEVLINK);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[VF0], NULL, &m), 0);
	assert_int_equal(m.state, -1);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_UNAVAILABLE);
	assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, e.bdf[VF0], NULL, 1, &m),
			 -ENOENT);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_UNAVAILABLE);
	env_free(&e);
}

static void test_non_vf_no_traffic(void **state)
{
	struct env e;
	uint64_t before;
	MIG(m);

	(void)state;
	env_new(&e, 0);
	before = nl_requests(&e);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[PLAIN], NULL, &m), 0);
	assert_int_equal(m.state, -1);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF);
	/* The PF itself is no VF either. */
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[PF], NULL, &m), 0);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF);
	/* An address with no device behind it. */
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, "0000:7f:1f.7", NULL, &m), 0);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF);
	assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, e.bdf[PLAIN], NULL, 1, &m),
			 -ENODEV);
	assert_int_equal(nl_requests(&e), before); /* sysfs said it all */
	env_free(&e);
}

static void test_explicit_port(void **state)
{
	struct iommudirty_devlink_port p;
	struct env e;
	MIG(m);

	(void)state;
	env_new(&e, 0);
	p = port_of(e.bdf[PF], 1);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, NULL, &p, &m), 0);
	assert_int_equal(m.state, 0);
	assert_int_equal(m.port.index, 1);
	/* The port wins over a BDF given too. */
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[PLAIN], &p, &m), 0);
	assert_int_equal(m.state, 0);
	/* No such port / instance: the kernel's -ENODEV, a fact. */
	p.index = 99;
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, NULL, &p, &m), 0);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_UNAVAILABLE);
	assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, NULL, &p, 1, &m), -ENODEV);
	p = port_of(e.bdf[PLAIN], 0);
	assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, NULL, &p, 1, &m), -ENODEV);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_UNAVAILABLE);
	env_free(&e);
}

static void test_bad_input(void **state)
{
	struct iommudirty_devlink_port p;
	struct env e;
	uint64_t before;
	MIG(m);
	struct iommudirty_migratable small = { .sz = sizeof(size_t) };
	static const char *const bad_bdf[] = {
		"", "0000:00:02", "0000:00:02.8", "000:00:02.0", "0000:00:02.0/",
		"../0000:00:02.0", "0000:00:02.0 ", "zzzz:00:02.0",
	};

	(void)state;
	env_new(&e, 0);
	before = nl_requests(&e);
	assert_int_equal(iommudirty_devlink_migratable(NULL, e.bdf[VF0], NULL, &m), -EINVAL);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[VF0], NULL, NULL), -EINVAL);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, NULL, NULL, &m), -EINVAL);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[VF0], NULL, &small), -EINVAL);
	for (size_t i = 0; i < sizeof(bad_bdf) / sizeof(bad_bdf[0]); i++) {
		errno = 0;
		assert_int_equal(iommudirty_devlink_migratable(e.ctx, bad_bdf[i], NULL, &m),
				 -EINVAL);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, bad_bdf[i], NULL, 1, &m),
				 -EINVAL);
	}
	assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, e.bdf[VF0], NULL, 2, &m),
			 -EINVAL);
	assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, e.bdf[VF0], NULL, -1, &m),
			 -EINVAL);
	p = port_of(e.bdf[PF], 1);
	p.sz = 0;
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, NULL, &p, &m), -EINVAL);
	p = port_of("", 1);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, NULL, &p, &m), -EINVAL);
	p = port_of("a/b", 1);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, NULL, &p, &m), -EINVAL);
	p = port_of(e.bdf[PF], 1);
	p.bus[0] = 0;
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, NULL, &p, &m), -EINVAL);
	p = port_of(e.bdf[PF], 1);
	memset(p.dev, 'a', sizeof(p.dev)); /* not NUL-terminated */
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, NULL, &p, &m), -EINVAL);
	p = port_of(e.bdf[PF], 1);
	p.__reserved = 1;
	assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, NULL, &p, 1, &m), -EINVAL);
	assert_int_equal(nl_requests(&e), before);
	env_free(&e);
}

/* An older caller's struct, cut after reason: nothing written past it. */
static void test_short_out(void **state)
{
	struct env e;
	union {
		struct iommudirty_migratable m;
		unsigned char raw[sizeof(struct iommudirty_migratable)];
	} u;
	size_t sz = offsetof(struct iommudirty_migratable, reason) + sizeof(uint32_t);

	(void)state;
	env_new(&e, 0);
	memset(&u, 0xa5, sizeof(u));
	u.m.sz = sz;
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[VF0], NULL, &u.m), 0);
	assert_int_equal(u.m.state, 0);
	assert_int_equal(u.m.reason, IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF);
	for (size_t i = sz; i < sizeof(u); i++)
		assert_int_equal(u.raw[i], 0xa5);
	env_free(&e);
}

static void test_device_caps(void **state)
{
	struct iommudirty_device *dev;
	struct env e;
	int fd;
	IOMMUDIRTY_OPTS(iommudirty_caps, c);

	(void)state;
	env_new(&e, 0);
	/* VF0 bound: off, at bind. */
	fd = iommudirty_sim_open_device(e.sim, VF0);
	assert_true(fd >= 0);
	assert_int_equal(iommudirty_device_bind(e.ctx, fd, &dev), 0);
	assert_int_equal(iommudirty_device_caps(dev, &c), 0);
	assert_int_equal(c.devlink_migratable, 0);
	assert_int_equal(c.devlink_reason, IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF);
	iommudirty_device_free(dev);
	assert_int_equal(iommudirty_sim_close(e.sim, fd), 0);
	/* Turned on: the next bind sees it. */
	{
		MIG(m);

		assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, e.bdf[VF0], NULL, 1, &m), 0);
	}
	fd = iommudirty_sim_open_device(e.sim, VF0);
	assert_int_equal(iommudirty_device_bind(e.ctx, fd, &dev), 0);
	assert_int_equal(iommudirty_device_caps(dev, &c), 0);
	assert_int_equal(c.devlink_migratable, 1);
	assert_int_equal(c.devlink_reason, IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_ON);
	iommudirty_device_free(dev);
	assert_int_equal(iommudirty_sim_close(e.sim, fd), 0);
	/* A plain device. */
	fd = iommudirty_sim_open_device(e.sim, PLAIN);
	assert_int_equal(iommudirty_device_bind(e.ctx, fd, &dev), 0);
	assert_int_equal(iommudirty_device_caps(dev, &c), 0);
	assert_int_equal(c.devlink_migratable, -1);
	assert_int_equal(c.devlink_reason, IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF);
	iommudirty_device_free(dev);
	assert_int_equal(iommudirty_sim_close(e.sim, fd), 0);
	/* The decoder alone cannot tell. */
	assert_int_equal(iommudirty_decode_hw_info(0, NULL, 0, 0, &c), 0);
	assert_int_equal(c.devlink_migratable, -1);
	assert_int_equal(c.devlink_reason, 0);
	env_free(&e);
}

#else /* !IOMMUDIRTY_HAVE_LIBNL */

static void test_no_libnl(void **state)
{
	struct env e;
	MIG(m);

	(void)state;
	env_new(&e, 0);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[VF0], NULL, &m), 0);
	assert_int_equal(m.state, -1);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_NO_LIBNL);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, e.bdf[PLAIN], NULL, &m), 0);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF);
	assert_int_equal(iommudirty_devlink_set_migratable(e.ctx, e.bdf[VF0], NULL, 1, &m),
			 -EOPNOTSUPP);
	assert_int_equal(m.reason, IOMMUDIRTY_REASON_DEVLINK_NO_LIBNL);
	assert_int_equal(iommudirty_devlink_migratable(e.ctx, "bad", NULL, &m), -EINVAL);
	assert_int_equal(nl_requests(&e), 0);
	env_free(&e);
}

#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_opts),
		cmocka_unit_test(test_reason_texts),
#ifdef IOMMUDIRTY_HAVE_LIBNL
		cmocka_unit_test(test_pinned_numbers),
		cmocka_unit_test(test_query_off),
		cmocka_unit_test(test_set_on_then_query),
		cmocka_unit_test(test_refusal_no_op),
		cmocka_unit_test(test_refusal_not_vf_port),
		cmocka_unit_test(test_not_switchdev_and_no_port),
		cmocka_unit_test(test_no_devlink_family),
		cmocka_unit_test(test_no_net_admin),
		cmocka_unit_test(test_non_vf_no_traffic),
		cmocka_unit_test(test_explicit_port),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_short_out),
		cmocka_unit_test(test_device_caps),
#else
		cmocka_unit_test(test_no_libnl),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
