// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Boot 2: devlink's `migratable` port function through the kernel's own
 * devlink code (issue 14). The edu-vfio-pci driver (edu-vfio-pci/README.md)
 * registers a devlink instance pci/<edu BDF> with three ports:
 *   1  PCI_VF, VF 0, migratable get/set (the state starts off)
 *   2  PCI_VF, VF 1, no port ops        (refused: no operation)
 *   3  PCI_PF, PF 0, migratable get/set (refused: VFs only)
 * and eswitch mode get/set (starts in switchdev; in legacy the driver
 * refuses migratable changes).
 *
 * devlink_*: a minimal generic-netlink client of our own (raw AF_NETLINK
 * socket, extended acks on) checks what the kernel says. devlink_lib_*:
 * the library's iommudirty_devlink_* calls on the same ports, cross-checked
 * with the raw client; devlink_probe_*: iommudirty-probe's devlink line
 * and --set-migratable on them. Both are built when the library has the
 * calls (run passes -DKTEST_LIB_DEVLINK), else one SKIP line says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iommudirty.h"
#include "kdmalog.h"
#include "kedu.h"
#include "kprobe.h"
#include "kutil.h"

#define BOOT "boot2"
#define R(name, rc) kresult(BOOT, name, rc, why)
#define FAILF(...) (snprintf(why, sizeof(why), __VA_ARGS__), -1)

/* 6.12 include/uapi/linux/devlink.h, values of the enums we use (stable
 * uAPI; Debian 12's linux-libc-dev predates some of them). */
#define DL_GENL_NAME "devlink"
#define DL_GENL_VERSION 1
#define DL_CMD_GET 1
#define DL_CMD_PORT_GET 5
#define DL_CMD_PORT_SET 6
#define DL_CMD_ESWITCH_GET 29
#define DL_CMD_ESWITCH_SET 30
#define DL_ATTR_BUS_NAME 1
#define DL_ATTR_DEV_NAME 2
#define DL_ATTR_PORT_INDEX 3
#define DL_ATTR_ESWITCH_MODE 25
#define DL_ATTR_PORT_FLAVOUR 77
#define DL_ATTR_PORT_PCI_PF_NUMBER 127
#define DL_ATTR_PORT_PCI_VF_NUMBER 128
#define DL_ATTR_PORT_FUNCTION 145
#define DL_PORT_FN_ATTR_CAPS 4 /* NLA_BITFIELD32 */
#define DL_PORT_FN_CAP_MIGRATABLE (1u << 1)
#define DL_PORT_FLAVOUR_PCI_PF 3
#define DL_PORT_FLAVOUR_PCI_VF 4
#define DL_ESWITCH_MODE_LEGACY 0
#define DL_ESWITCH_MODE_SWITCHDEV 1

/* The kernel's refusals (net/devlink/port.c) and the driver's. */
#define MSG_NO_OP "Port doesn't support migratable function attribute"
#define MSG_VF_ONLY "migratable function attribute supported for VFs only"
#define MSG_LEGACY "edu-vfio-pci: eswitch is in legacy mode, migratable needs switchdev"

#define PORT_VF 1
#define PORT_VF_NO_OP 2
#define PORT_PF 3
#define PORT_NONE 4

/* ---- a minimal generic-netlink client ---- */

struct kmsg {
	union {
		struct nlmsghdr h;
		char buf[1024];
	};
	size_t caps_off; /* where the CAPS attribute starts, 0: none */
};

struct kans {
	int err;           /* the ack's error (0 or -errno) */
	char msg[256];     /* extack message */
	long offs;         /* extack bad-attribute offset, -1 none */
};

static int nl_fd = -1;
static uint32_t nl_seq;
static uint16_t dl_family;

static void *msg_put(struct kmsg *m, uint16_t type, const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + NLMSG_ALIGN(m->h.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	m->h.nlmsg_len = NLMSG_ALIGN(m->h.nlmsg_len) + NLA_ALIGN(a->nla_len);
	return a;
}

static void msg_init(struct kmsg *m, uint16_t family, uint8_t cmd, uint8_t version,
		     uint16_t flags)
{
	struct genlmsghdr *g;

	memset(m, 0, sizeof(*m));
	m->h.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	m->h.nlmsg_type = family;
	m->h.nlmsg_flags = NLM_F_REQUEST | flags;
	m->h.nlmsg_seq = ++nl_seq;
	g = NLMSG_DATA(&m->h);
	g->cmd = cmd;
	g->version = version;
}

/* A devlink request on pci/<dev>, with a port index if port >= 0. */
static void dl_msg(struct kmsg *m, uint8_t cmd, uint16_t flags, const char *dev, long port)
{
	msg_init(m, dl_family, cmd, DL_GENL_VERSION, flags);
	msg_put(m, DL_ATTR_BUS_NAME, "pci", 4);
	msg_put(m, DL_ATTR_DEV_NAME, dev, strlen(dev) + 1);
	if (port >= 0) {
		uint32_t idx = port;

		msg_put(m, DL_ATTR_PORT_INDEX, &idx, 4);
	}
}

/* Parse attributes [p, p + len) into tb[0..max]. */
static void attrs_parse(const struct nlattr **tb, int max, const void *p, size_t len)
{
	const struct nlattr *a = p;

	memset(tb, 0, sizeof(*tb) * (max + 1));
	while (len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len) {
		int t = a->nla_type & NLA_TYPE_MASK;
		size_t step = NLA_ALIGN((size_t)a->nla_len);

		if (t <= max)
			tb[t] = a;
		len -= step < len ? step : len;
		a = (const struct nlattr *)((const char *)a + step);
	}
}

static const void *nla_data(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}

static size_t nla_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

static int nla_u16(const struct nlattr *a)
{
	uint16_t v;

	if (!a || nla_len(a) < 2)
		return -1;
	memcpy(&v, nla_data(a), 2);
	return v;
}

static long nla_u32(const struct nlattr *a)
{
	uint32_t v;

	if (!a || nla_len(a) < 4)
		return -1;
	memcpy(&v, nla_data(a), 4);
	return v;
}

typedef void (*reply_fn)(const void *attrs, size_t len, void *arg);

/* Send m; every reply's attributes go to fn; the ack (or a dump's DONE)
 * ends it. 0 with ans filled, or -1 with why (a socket problem). */
static int transact(struct kmsg *m, reply_fn fn, void *arg, struct kans *ans)
{
	static char rbuf[65536];
	bool dump = m->h.nlmsg_flags & NLM_F_DUMP;

	memset(ans, 0, sizeof(*ans));
	ans->offs = -1;
	if (send(nl_fd, m->buf, m->h.nlmsg_len, 0) != (ssize_t)m->h.nlmsg_len)
		return FAILF("netlink send: %s", strerror(errno));
	for (;;) {
		ssize_t n = recv(nl_fd, rbuf, sizeof(rbuf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)rbuf;

		if (n < 0)
			return FAILF("netlink recv: %s", strerror(errno));
		for (; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != m->h.nlmsg_seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE) {
				const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
				const char *p = NLMSG_DATA(h);
				size_t skip;

				if (h->nlmsg_type == NLMSG_ERROR) {
					const struct nlmsgerr *e = (const void *)p;

					ans->err = e->error;
					skip = sizeof(*e);
					if (!(h->nlmsg_flags & NLM_F_CAPPED))
						skip += e->msg.nlmsg_len - NLMSG_HDRLEN;
				} else {
					memcpy(&ans->err, p, sizeof(int));
					skip = sizeof(int);
				}
				if ((h->nlmsg_flags & NLM_F_ACK_TLVS) &&
				    NLMSG_HDRLEN + skip < h->nlmsg_len) {
					attrs_parse(tb, NLMSGERR_ATTR_MAX, p + NLMSG_ALIGN(skip),
						    h->nlmsg_len - NLMSG_HDRLEN - NLMSG_ALIGN(skip));
					if (tb[NLMSGERR_ATTR_MSG])
						snprintf(ans->msg, sizeof(ans->msg), "%.*s",
							 (int)nla_len(tb[NLMSGERR_ATTR_MSG]),
							 (const char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
					if (tb[NLMSGERR_ATTR_OFFS])
						ans->offs = nla_u32(tb[NLMSGERR_ATTR_OFFS]);
				}
				/* A dump answers DONE, a request with ACK an
				 * error message (0: the ack). */
				if (h->nlmsg_type == NLMSG_DONE || !dump || ans->err)
					return 0;
				continue;
			}
			if (fn && h->nlmsg_len >= NLMSG_LENGTH(GENL_HDRLEN))
				fn((const char *)NLMSG_DATA(h) + GENL_HDRLEN,
				   h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN), arg);
		}
	}
}

static void on_family(const void *attrs, size_t len, void *arg)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1];

	attrs_parse(tb, CTRL_ATTR_MAX, attrs, len);
	if (tb[CTRL_ATTR_FAMILY_ID])
		*(int *)arg = nla_u16(tb[CTRL_ATTR_FAMILY_ID]);
}

static int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 5 };
	struct kmsg m;
	struct kans a;
	int one = 1, id = -1;

	nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl_fd < 0)
		return FAILF("socket(AF_NETLINK, NETLINK_GENERIC): %s", strerror(errno));
	if (bind(nl_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(nl_fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)) ||
	    setsockopt(nl_fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one)) ||
	    setsockopt(nl_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		return FAILF("netlink bind/setsockopt: %s", strerror(errno));
	msg_init(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, NLM_F_ACK);
	msg_put(&m, CTRL_ATTR_FAMILY_NAME, DL_GENL_NAME, sizeof(DL_GENL_NAME));
	if (transact(&m, on_family, &id, &a))
		return -1;
	if (a.err || id <= 0)
		return FAILF("CTRL_CMD_GETFAMILY \"devlink\": %s, id %d", strerror(-a.err), id);
	dl_family = id;
	return 0;
}

/* ---- devlink requests ---- */

struct kport {
	char dev[64];
	long index;
	int flavour, pf, vf;
	bool has_fn, has_caps;
	uint32_t caps_value, caps_sel;
};

struct kports {
	const char *dev; /* only this instance's ports */
	int n;
	struct kport p[8];
};

static void port_parse(const void *attrs, size_t len, struct kport *p)
{
	const struct nlattr *tb[DL_ATTR_PORT_FUNCTION + 1];

	memset(p, 0, sizeof(*p));
	attrs_parse(tb, DL_ATTR_PORT_FUNCTION, attrs, len);
	if (tb[DL_ATTR_DEV_NAME])
		snprintf(p->dev, sizeof(p->dev), "%.*s", (int)nla_len(tb[DL_ATTR_DEV_NAME]),
			 (const char *)nla_data(tb[DL_ATTR_DEV_NAME]));
	p->index = nla_u32(tb[DL_ATTR_PORT_INDEX]);
	p->flavour = nla_u16(tb[DL_ATTR_PORT_FLAVOUR]);
	p->pf = nla_u16(tb[DL_ATTR_PORT_PCI_PF_NUMBER]);
	p->vf = nla_u16(tb[DL_ATTR_PORT_PCI_VF_NUMBER]);
	if (tb[DL_ATTR_PORT_FUNCTION]) {
		const struct nlattr *fn[DL_PORT_FN_ATTR_CAPS + 1];

		p->has_fn = true;
		attrs_parse(fn, DL_PORT_FN_ATTR_CAPS, nla_data(tb[DL_ATTR_PORT_FUNCTION]),
			    nla_len(tb[DL_ATTR_PORT_FUNCTION]));
		if (fn[DL_PORT_FN_ATTR_CAPS] && nla_len(fn[DL_PORT_FN_ATTR_CAPS]) >= 8) {
			uint32_t bf[2];

			memcpy(bf, nla_data(fn[DL_PORT_FN_ATTR_CAPS]), 8);
			p->has_caps = true;
			p->caps_value = bf[0];
			p->caps_sel = bf[1];
		}
	}
}

static void on_port(const void *attrs, size_t len, void *arg)
{
	struct kports *ps = arg;
	struct kport p;

	port_parse(attrs, len, &p);
	if (strcmp(p.dev, ps->dev) || ps->n >= (int)(sizeof(ps->p) / sizeof(ps->p[0])))
		return;
	ps->p[ps->n++] = p;
}

static const char *flavour_name(int f)
{
	return f == DL_PORT_FLAVOUR_PCI_VF ? "pcivf" : f == DL_PORT_FLAVOUR_PCI_PF ? "pcipf" : "other";
}

/* "caps migratable off", "caps migratable on", "no migratable cap" */
static const char *caps_text(const struct kport *p)
{
	if (!p->has_caps || !(p->caps_sel & DL_PORT_FN_CAP_MIGRATABLE))
		return "no migratable cap";
	return p->caps_value & DL_PORT_FN_CAP_MIGRATABLE ? "migratable on" : "migratable off";
}

/* PORT_GET do: 0 / -errno (a.err), -1000 on a socket problem. */
static int port_get(const char *dev, long index, struct kport *p, struct kans *a)
{
	struct kports ps = { .dev = dev };
	struct kmsg m;

	dl_msg(&m, DL_CMD_PORT_GET, NLM_F_ACK, dev, index);
	if (transact(&m, on_port, &ps, a))
		return -1000;
	if (!a->err && ps.n != 1) {
		(void)FAILF("PORT_GET %s/%ld: %d replies", dev, index, ps.n);
		return -1000;
	}
	if (!a->err)
		*p = ps.p[0];
	return a->err;
}

/* Port's migratable bit: 1 on, 0 off, -1 (why set) no cap or error. */
static int port_migratable(const char *dev, long index)
{
	struct kport p;
	struct kans a;
	int rc = port_get(dev, index, &p, &a);

	if (rc == -1000)
		return -1;
	if (rc)
		return FAILF("PORT_GET %s/%ld: %s %s", dev, index, strerror(-rc), a.msg);
	if (!p.has_caps || !(p.caps_sel & DL_PORT_FN_CAP_MIGRATABLE))
		return FAILF("port %s/%ld has no migratable cap", dev, index);
	return !!(p.caps_value & DL_PORT_FN_CAP_MIGRATABLE);
}

/* PORT_SET with the function CAPS migratable bit; m->caps_off set. */
static int port_set_migratable(const char *dev, long index, bool on, struct kmsg *m,
			       struct kans *a)
{
	uint32_t bf[2] = { on ? DL_PORT_FN_CAP_MIGRATABLE : 0, DL_PORT_FN_CAP_MIGRATABLE };
	struct nlattr *nest;

	dl_msg(m, DL_CMD_PORT_SET, NLM_F_ACK, dev, index);
	nest = msg_put(m, DL_ATTR_PORT_FUNCTION | NLA_F_NESTED, NULL, 0);
	m->caps_off = (char *)msg_put(m, DL_PORT_FN_ATTR_CAPS, bf, sizeof(bf)) - m->buf;
	nest->nla_len = m->buf + m->h.nlmsg_len - (char *)nest;
	return transact(m, NULL, NULL, a) ? -1000 : a->err;
}

static void on_eswitch(const void *attrs, size_t len, void *arg)
{
	const struct nlattr *tb[DL_ATTR_ESWITCH_MODE + 1];

	attrs_parse(tb, DL_ATTR_ESWITCH_MODE, attrs, len);
	*(int *)arg = nla_u16(tb[DL_ATTR_ESWITCH_MODE]);
}

/* ESWITCH_GET: the mode, or -1 with why. */
static int eswitch_get(const char *dev)
{
	struct kmsg m;
	struct kans a;
	int mode = -1;

	dl_msg(&m, DL_CMD_ESWITCH_GET, NLM_F_ACK, dev, -1);
	if (transact(&m, on_eswitch, &mode, &a))
		return -1;
	if (a.err || mode < 0)
		return FAILF("ESWITCH_GET %s: %s %s, mode %d", dev, strerror(-a.err), a.msg, mode);
	return mode;
}

static int eswitch_set(const char *dev, int mode)
{
	uint16_t v = mode;
	struct kmsg m;
	struct kans a;

	dl_msg(&m, DL_CMD_ESWITCH_SET, NLM_F_ACK, dev, -1);
	msg_put(&m, DL_ATTR_ESWITCH_MODE, &v, 2);
	if (transact(&m, NULL, NULL, &a))
		return -1;
	return a.err ? FAILF("ESWITCH_SET %s %d: %s %s", dev, mode, strerror(-a.err), a.msg) : 0;
}

/* DEVLINK_CMD_GET on pci/<dev>: 0, -errno, -1000 socket problem. */
static int instance_get(const char *dev)
{
	struct kmsg m;
	struct kans a;

	dl_msg(&m, DL_CMD_GET, NLM_F_ACK, dev, -1);
	return transact(&m, NULL, NULL, &a) ? -1000 : a.err;
}

/* ---- the tests on the raw client ---- */

static char bdf[64], bdf0[64];

static int t_instance(void)
{
	int rc = instance_get(bdf), rc0;

	if (rc)
		return FAILF("GET pci/%s: %s", bdf, rc == -1000 ? why : strerror(-rc));
	rc0 = instance_get(bdf0);
	kinfo("devlink: GET pci/%s (edu-vfio-pci) 0, pci/%s (vfio-pci) %s", bdf, bdf0,
	      rc0 < 0 && rc0 != -1000 ? strerror(-rc0) : "0");
	return rc0 == -ENODEV ? 0 : FAILF("GET pci/%s (vfio-pci, no devlink) = %d, want -ENODEV",
					  bdf0, rc0);
}

static int t_port_dump(void)
{
	struct kports ps = { .dev = bdf };
	struct kmsg m;
	struct kans a;
	bool seen[4] = { false };

	dl_msg(&m, DL_CMD_PORT_GET, NLM_F_DUMP, bdf, -1);
	if (transact(&m, on_port, &ps, &a))
		return -1;
	if (a.err)
		return FAILF("PORT_GET dump: %s %s", strerror(-a.err), a.msg);
	for (int i = 0; i < ps.n; i++) {
		const struct kport *p = &ps.p[i];

		kinfo("devlink: pci/%s/%ld flavour %s pf %d vf %d, %s", p->dev, p->index,
		      flavour_name(p->flavour), p->pf, p->vf, caps_text(p));
		if (p->index < 1 || p->index > 3 || seen[p->index])
			return FAILF("dump: unexpected port index %ld", p->index);
		seen[p->index] = true;
	}
	return ps.n == 3 ? 0 : FAILF("dump: %d ports of pci/%s, want 3", ps.n, bdf);
}

/* One port's attributes: flavour, VF number (-1: none), cap present. */
static int check_port(long index, int flavour, int vf, bool cap)
{
	struct kport p;
	struct kans a;
	int rc = port_get(bdf, index, &p, &a);

	if (rc == -1000)
		return -1;
	if (rc)
		return FAILF("PORT_GET %ld: %s %s", index, strerror(-rc), a.msg);
	if (p.index != index || p.flavour != flavour || p.pf != 0 || p.vf != vf)
		return FAILF("port %ld: index %ld flavour %d pf %d vf %d, want flavour %d pf 0 vf %d",
			     index, p.index, p.flavour, p.pf, p.vf, flavour, vf);
	if (cap != (p.has_caps && (p.caps_sel & DL_PORT_FN_CAP_MIGRATABLE)))
		return FAILF("port %ld: %s (fn %d caps %d value %#x selector %#x)", index,
			     caps_text(&p), p.has_fn, p.has_caps, p.caps_value, p.caps_sel);
	if (cap && (p.caps_value & DL_PORT_FN_CAP_MIGRATABLE))
		return FAILF("port %ld: migratable on before any set", index);
	/* The only capability the driver has: no function nest elsewhere. */
	if (!cap && p.has_fn)
		return FAILF("port %ld: a port function nest without the cap", index);
	return 0;
}

static int t_port_missing(void)
{
	struct kport p;
	struct kans a;
	int rc = port_get(bdf, PORT_NONE, &p, &a);

	return rc == -ENODEV ? 0 : FAILF("PORT_GET %d = %d, want -ENODEV", PORT_NONE, rc);
}

static int t_set(bool on)
{
	struct kmsg m;
	struct kans a;
	int before = port_migratable(bdf, PORT_VF), rc, after;

	if (before < 0)
		return -1;
	rc = port_set_migratable(bdf, PORT_VF, on, &m, &a);
	if (rc == -1000)
		return -1;
	if (rc)
		return FAILF("PORT_SET %d migratable %d: %s %s", PORT_VF, on, strerror(-rc), a.msg);
	after = port_migratable(bdf, PORT_VF);
	if (after < 0)
		return -1;
	kinfo("devlink: pci/%s/%d migratable %s -> %s (PORT_SET, then PORT_GET)", bdf, PORT_VF,
	      before ? "on" : "off", after ? "on" : "off");
	return after == on ? 0 : FAILF("PORT_GET after set %d says %d", on, after);
}

/* A refused set: errno, the exact extack text, the offset of our CAPS
 * attribute (want_offs), port 1 untouched. */
static int refused(long index, bool on, int want_err, const char *want_msg, bool want_offs)
{
	struct kmsg m;
	struct kans a;
	int rc = port_set_migratable(bdf, index, on, &m, &a), now;

	if (rc == -1000)
		return -1;
	kinfo("devlink: pci/%s/%ld migratable %s refused: %s, extack \"%s\", offset %ld (CAPS at %zu)",
	      bdf, index, on ? "enable" : "disable", strerror(-rc), a.msg, a.offs, m.caps_off);
	if (rc != want_err)
		return FAILF("PORT_SET %ld = %d (%s), want %d", index, rc, a.msg, want_err);
	if (strcmp(a.msg, want_msg))
		return FAILF("extack \"%s\", want \"%s\"", a.msg, want_msg);
	if (want_offs && a.offs != (long)m.caps_off)
		return FAILF("extack offset %ld, want %zu (the CAPS attribute)", a.offs, m.caps_off);
	now = port_migratable(bdf, PORT_VF);
	return now == 0 ? 0 : now < 0 ? -1 : FAILF("port %d migratable on after a refusal", PORT_VF);
}

static int t_eswitch(void)
{
	int mode = eswitch_get(bdf), rc;

	if (mode < 0)
		return -1;
	if (mode != DL_ESWITCH_MODE_SWITCHDEV)
		return FAILF("eswitch mode %d, want switchdev", mode);
	if (eswitch_set(bdf, DL_ESWITCH_MODE_LEGACY))
		return -1;
	mode = eswitch_get(bdf);
	kinfo("devlink: pci/%s eswitch switchdev -> %s", bdf,
	      mode == DL_ESWITCH_MODE_LEGACY ? "legacy" : "?");
	if (mode != DL_ESWITCH_MODE_LEGACY)
		return mode < 0 ? -1 : FAILF("eswitch mode %d after set legacy", mode);
	rc = refused(PORT_VF, true, -EOPNOTSUPP, MSG_LEGACY, false);
	if (eswitch_set(bdf, DL_ESWITCH_MODE_SWITCHDEV))
		return -1;
	if (rc)
		return rc;
	mode = eswitch_get(bdf);
	return mode == DL_ESWITCH_MODE_SWITCHDEV ? 0 : mode < 0 ? -1 :
		FAILF("eswitch mode %d after set switchdev", mode);
}

/* Unbind: the instance is gone; bind again: back, its state fresh. */
static int t_rebind(void)
{
	char p[160];
	struct kmsg m;
	struct kans a;
	int rc;

	rc = port_set_migratable(bdf, PORT_VF, true, &m, &a);
	if (rc)
		return rc == -1000 ? -1 : FAILF("PORT_SET on: %s", strerror(-rc));
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	rc = kwrite_str(p, bdf);
	if (rc)
		return FAILF("unbind %s: %s", bdf, strerror(-rc));
	rc = instance_get(bdf);
	if (rc != -ENODEV)
		return FAILF("GET pci/%s after unbind = %d, want -ENODEV", bdf, rc);
	if (kdl_bind(bdf, KDL_DRV_VARIANT))
		return -1;
	rc = instance_get(bdf);
	if (rc)
		return FAILF("GET pci/%s after bind = %d", bdf, rc);
	rc = port_migratable(bdf, PORT_VF);
	kinfo("devlink: unbind: pci/%s gone (ENODEV); bind: back, port %d migratable %s", bdf,
	      PORT_VF, rc == 1 ? "on" : rc == 0 ? "off" : "?");
	return rc == 0 ? 0 : rc < 0 ? -1 : FAILF("port %d migratable on after rebind", PORT_VF);
}

/* ---- the library on the same ports ---- */

#ifdef KTEST_LIB_DEVLINK
static struct iommudirty_ctx *lctx;

static const char *reason_name(uint32_t r)
{
	switch (r) {
	case IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF: return "MIGRATABLE_OFF";
	case IOMMUDIRTY_REASON_DEVLINK_NOT_SWITCHDEV: return "NOT_SWITCHDEV";
	case IOMMUDIRTY_REASON_DEVLINK_NO_MIGRATABLE_OP: return "NO_MIGRATABLE_OP";
	case IOMMUDIRTY_REASON_DEVLINK_UNAVAILABLE: return "UNAVAILABLE";
	case IOMMUDIRTY_REASON_DEVLINK_NO_LIBNL: return "NO_LIBNL";
	case IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF: return "NOT_A_VF";
	case IOMMUDIRTY_REASON_DEVLINK_NO_PORT: return "NO_PORT";
	case IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_ON: return "MIGRATABLE_ON";
	default: return "?";
	}
}

static struct iommudirty_devlink_port lport(uint32_t index)
{
	IOMMUDIRTY_OPTS(iommudirty_devlink_port, p, .bus = "pci", .index = index);

	snprintf(p.dev, sizeof(p.dev), "%s", bdf);
	return p;
}

static void lib_info(const char *what, int rc, const struct iommudirty_migratable *m)
{
	kinfo("devlink lib: %s = %d%s%s: state %d, reason %s (%u), port %s/%s/%u%s%s%s%s%s", what,
	      rc, rc ? " " : "", rc ? strerror(-rc) : "", m->state, reason_name(m->reason),
	      m->reason, m->port.bus, m->port.dev, m->port.index, m->hint[0] ? ", hint \"" : "",
	      m->hint, m->hint[0] ? "\"" : "", m->message[0] ? ", message: " : "", m->message);
}

/* rc, state, reason as wanted. */
static int lib_want(const char *what, int rc, const struct iommudirty_migratable *m,
		    int want_rc, int want_state, uint32_t want_reason)
{
	lib_info(what, rc, m);
	if (rc != want_rc || m->state != want_state || m->reason != want_reason)
		return FAILF("%s = %d, state %d, reason %u; want %d, %d, %u", what, rc, m->state,
			     m->reason, want_rc, want_state, want_reason);
	return 0;
}

static int t_lib_not_a_vf(void)
{
	IOMMUDIRTY_OPTS(iommudirty_migratable, m);
	int rc = iommudirty_devlink_migratable(lctx, bdf, NULL, &m);
	char what[96];

	snprintf(what, sizeof(what), "migratable(%s, no port)", bdf);
	return lib_want(what, rc, &m, 0, -1, IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF);
}

static int t_lib_query_off(void)
{
	IOMMUDIRTY_OPTS(iommudirty_migratable, m);
	struct iommudirty_devlink_port p = lport(PORT_VF);
	int rc = iommudirty_devlink_migratable(lctx, NULL, &p, &m);
	char want_hint[160];

	if (lib_want("migratable(port 1)", rc, &m, 0, 0, IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF))
		return -1;
	snprintf(want_hint, sizeof(want_hint), "pci/%s/%d migratable enable", bdf, PORT_VF);
	if (!strstr(m.hint, want_hint) || m.message[0])
		return FAILF("hint \"%.150s\" (want it to name \"%.100s\"), message \"%.150s\"", m.hint,
			     want_hint, m.message);
	if (strcmp(m.port.bus, "pci") || strcmp(m.port.dev, bdf) || m.port.index != PORT_VF)
		return FAILF("out port %s/%s/%u", m.port.bus, m.port.dev, m.port.index);
	return 0;
}

static int t_lib_set(int on)
{
	IOMMUDIRTY_OPTS(iommudirty_migratable, m);
	IOMMUDIRTY_OPTS(iommudirty_migratable, q);
	struct iommudirty_devlink_port p = lport(PORT_VF);
	uint32_t reason = on ? IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_ON :
			       IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF;
	int before = port_migratable(bdf, PORT_VF), rc, raw;

	if (before < 0)
		return -1;
	rc = iommudirty_devlink_set_migratable(lctx, NULL, &p, on, &m);
	if (lib_want(on ? "set_migratable(port 1, 1)" : "set_migratable(port 1, 0)", rc, &m, 0,
		     on, reason))
		return -1;
	raw = port_migratable(bdf, PORT_VF);
	if (raw < 0)
		return -1;
	kinfo("devlink: pci/%s/%d migratable %s -> %s (library; the kernel says %s)", bdf, PORT_VF,
	      before ? "on" : "off", m.state ? "on" : "off", raw ? "on" : "off");
	if (raw != on)
		return FAILF("the kernel's PORT_GET says %d after the library set %d", raw, on);
	rc = iommudirty_devlink_migratable(lctx, NULL, &p, &q);
	return lib_want("migratable(port 1) again", rc, &q, 0, on, reason);
}

static int t_lib_refused(uint32_t index, const char *want_msg, uint32_t want_reason)
{
	IOMMUDIRTY_OPTS(iommudirty_migratable, m);
	IOMMUDIRTY_OPTS(iommudirty_migratable, q);
	struct iommudirty_devlink_port p = lport(index);
	char what[64];
	int rc = iommudirty_devlink_set_migratable(lctx, NULL, &p, 1, &m);

	snprintf(what, sizeof(what), "set_migratable(port %u, 1)", index);
	if (lib_want(what, rc, &m, -EOPNOTSUPP, -1, want_reason))
		return -1;
	if (strcmp(m.message, want_msg))
		return FAILF("message \"%s\", want the kernel's \"%s\"", m.message, want_msg);
	rc = iommudirty_devlink_migratable(lctx, NULL, &p, &q);
	snprintf(what, sizeof(what), "migratable(port %u)", index);
	return lib_want(what, rc, &q, 0, -1, want_reason);
}

/* The driver's own refusal in legacy mode: the errno and its extack text
 * come through; the state (off) is read before the set. */
static int t_lib_legacy(void)
{
	IOMMUDIRTY_OPTS(iommudirty_migratable, m);
	struct iommudirty_devlink_port p = lport(PORT_VF);
	int rc;

	if (eswitch_set(bdf, DL_ESWITCH_MODE_LEGACY))
		return -1;
	rc = iommudirty_devlink_set_migratable(lctx, NULL, &p, 1, &m);
	lib_info("set_migratable(port 1, 1), eswitch legacy", rc, &m);
	if (eswitch_set(bdf, DL_ESWITCH_MODE_SWITCHDEV))
		return -1;
	if (rc != -EOPNOTSUPP || strcmp(m.message, MSG_LEGACY) || m.state != 0)
		return FAILF("set in legacy = %d, state %d, message \"%s\"; want -EOPNOTSUPP, 0, \"%s\"",
			     rc, m.state, m.message, MSG_LEGACY);
	rc = port_migratable(bdf, PORT_VF);
	return rc == 0 ? 0 : rc < 0 ? -1 : FAILF("migratable on after a refused set");
}

static int t_lib_no_port(void)
{
	IOMMUDIRTY_OPTS(iommudirty_migratable, m);
	struct iommudirty_devlink_port p = lport(PORT_NONE);
	int rc = iommudirty_devlink_migratable(lctx, NULL, &p, &m);

	return lib_want("migratable(port 4, none)", rc, &m, 0, -1,
			IOMMUDIRTY_REASON_DEVLINK_UNAVAILABLE);
}

/* iommudirty_device_caps() of the edu's cdev: not a VF. */
static int t_lib_caps(void)
{
	IOMMUDIRTY_OPTS(iommudirty_caps, caps);
	struct iommudirty_device *dev = NULL;
	char cdev[64];
	int fd, rc = -1, ret;

	if (kdl_cdev_path(bdf, cdev, sizeof(cdev)))
		return -1;
	fd = open(cdev, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return FAILF("open %s: %s", cdev, strerror(errno));
	ret = iommudirty_device_bind(lctx, fd, &dev);
	if (ret || iommudirty_device_caps(dev, &caps)) {
		(void)FAILF("bind %s = %d / caps", cdev, ret);
		goto out;
	}
	kinfo("devlink lib: device_caps(%s): devlink_migratable %d, devlink_reason %s (%u)", bdf,
	      caps.devlink_migratable, reason_name(caps.devlink_reason), caps.devlink_reason);
	rc = caps.devlink_migratable == -1 &&
			     caps.devlink_reason == IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF ? 0 :
		FAILF("caps devlink %d reason %u, want -1 NOT_A_VF", caps.devlink_migratable,
		      caps.devlink_reason);
out:
	iommudirty_device_free(dev);
	close(fd);
	return rc;
}

static void lib_tests(void)
{
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co);

	lctx = iommudirty_ctx_new(&co);
	if (!lctx) {
		(void)FAILF("ctx_new: %s", strerror(errno));
		R("devlink_lib_ctx", -1);
		return;
	}
	R("devlink_lib_not_a_vf", t_lib_not_a_vf());
	R("devlink_lib_query_off", t_lib_query_off());
	R("devlink_lib_set_on", t_lib_set(1));
	R("devlink_lib_set_off", t_lib_set(0));
	R("devlink_lib_refuse_no_op", t_lib_refused(PORT_VF_NO_OP, MSG_NO_OP,
						    IOMMUDIRTY_REASON_DEVLINK_NO_MIGRATABLE_OP));
	R("devlink_lib_refuse_pf", t_lib_refused(PORT_PF, MSG_VF_ONLY,
						 IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF));
	R("devlink_lib_refuse_legacy", t_lib_legacy());
	R("devlink_lib_no_port", t_lib_no_port());
	R("devlink_lib_caps_not_a_vf", t_lib_caps());
	iommudirty_ctx_free(lctx);
	lctx = NULL;
}

/* ---- iommudirty-probe on the same ports ---- */

/* Run the probe with args; status wanted; each needle in its output. */
static int probe_want(const char *const argv[], int want_status, const char *const needles[])
{
	static char out[16384];
	int st = kprobe_run(argv, out, sizeof(out));

	if (st != want_status)
		return FAILF("probe %s %s %s: exit %d, want %d", argv[1], argv[2] ? argv[2] : "",
			     argv[2] && argv[3] ? argv[3] : "", st, want_status);
	for (int i = 0; needles[i]; i++)
		if (!strstr(out, needles[i]))
			return FAILF("probe %s %s: no \"%s\" in its output", argv[1],
				     argv[2] ? argv[2] : "", needles[i]);
	return 0;
}

static void probe_tests(void)
{
	char port1[96], port2[96], port3[96], off[200], on[200], enable[200];
	int rc;

	snprintf(port1, sizeof(port1), "pci/%s/%d", bdf, PORT_VF);
	snprintf(port2, sizeof(port2), "pci/%s/%d", bdf, PORT_VF_NO_OP);
	snprintf(port3, sizeof(port3), "pci/%s/%d", bdf, PORT_PF);
	snprintf(off, sizeof(off), "devlink: migratable off (%s)", port1);
	snprintf(enable, sizeof(enable), "enable with: devlink port function set %s migratable enable",
		 port1);
	snprintf(on, sizeof(on), "devlink: migratable on (%s)", port1);
	{
		const char *const a[] = { "", "--device", bdf, NULL };
		const char *const n[] = { "devlink: not a VF (migratable does not apply)", NULL };

		/* edu-vfio-pci: precise by its DMA log, exit 0. */
		R("devlink_probe_not_a_vf", probe_want(a, 0, n));
	}
	{
		const char *const a[] = { "", "--device", bdf, "--devlink-port", port1, NULL };
		const char *const n[] = { off, enable, NULL };

		R("devlink_probe_port_off", probe_want(a, 0, n));
	}
	{
		const char *const a[] = { "", "--set-migratable", "on", "--devlink-port", port1, NULL };
		const char *const n[] = { "devlink: set migratable on", ": done", on, NULL };

		rc = probe_want(a, 0, n);
		if (!rc && port_migratable(bdf, PORT_VF) != 1)
			rc = FAILF("the kernel says port %d is not on after the probe set it", PORT_VF);
		R("devlink_probe_set_on", rc);
	}
	{
		const char *const a[] = { "", "--device", bdf, "--devlink-port", port1, NULL };
		const char *const n[] = { on, NULL };

		R("devlink_probe_port_on", probe_want(a, 0, n));
	}
	{
		const char *const a[] = { "", "--set-migratable", "off", "--devlink-port", port1, NULL };
		const char *const n[] = { off, NULL };

		rc = probe_want(a, 0, n);
		if (!rc && port_migratable(bdf, PORT_VF) != 0)
			rc = FAILF("the kernel says port %d is not off after the probe cleared it", PORT_VF);
		R("devlink_probe_set_off", rc);
	}
	{
		const char *const a[] = { "", "--set-migratable", "on", "--devlink-port", port2, NULL };
		const char *const n[] = { "failed: Operation not supported (errno 95)",
					  "the kernel says: " MSG_NO_OP, NULL };

		R("devlink_probe_refuse_no_op", probe_want(a, 1, n));
	}
	{
		const char *const a[] = { "", "--set-migratable", "on", "--devlink-port", port3, NULL };
		const char *const n[] = { "failed: Operation not supported (errno 95)",
					  "the kernel says: " MSG_VF_ONLY, NULL };

		R("devlink_probe_refuse_pf", probe_want(a, 1, n));
	}
}
#endif

/* ---- a caller without CAP_NET_ADMIN (the sim's IOMMUDIRTY_SIM_NO_NET_ADMIN) ---- */

/* This process as an unprivileged VMM: CAP_NET_ADMIN out of its sets, and
 * out of its bounding set so that a program it runs as root does not get
 * it back. 0 or -errno. */
static int drop_net_admin(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	const uint32_t bit = 1u << (CAP_NET_ADMIN % 32);
	const int i = CAP_NET_ADMIN / 32;

	if (prctl(PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0) ||
	    syscall(SYS_capget, &h, d))
		return -errno;
	d[i].effective &= ~bit;
	d[i].permitted &= ~bit;
	d[i].inheritable &= ~bit;
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/* What genetlink does to devlink's admin commands (PORT_SET, ESWITCH_GET:
 * -EPERM, no message) and not to PORT_GET; then the library and the probe
 * on the same refusal. Runs in the child; 0, or -1 with why. */
static int no_admin_checks(void)
{
	struct kmsg m;
	struct kans a;
	int rc = port_set_migratable(bdf, PORT_VF, true, &m, &a);

	if (rc == -1000)
		return -1;
	kinfo("devlink: without CAP_NET_ADMIN: PORT_SET = %d (%s)%s%s", rc, strerror(-rc),
	      a.msg[0] ? ", extack " : "", a.msg);
	if (rc != -EPERM || a.msg[0])
		return FAILF("PORT_SET without CAP_NET_ADMIN = %d \"%s\", want -EPERM and no message",
			     rc, a.msg);
	dl_msg(&m, DL_CMD_ESWITCH_GET, NLM_F_ACK, bdf, -1);
	if (transact(&m, NULL, NULL, &a))
		return -1;
	if (a.err != -EPERM)
		return FAILF("ESWITCH_GET without CAP_NET_ADMIN = %d, want -EPERM", a.err);
	/* PORT_GET is no admin command: it answers (off, as left). */
	rc = port_migratable(bdf, PORT_VF);
	if (rc < 0)
		return -1;
	if (rc)
		return FAILF("PORT_GET without CAP_NET_ADMIN: port %d on, want off", PORT_VF);
#ifdef KTEST_LIB_DEVLINK
	{
		IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co);
		IOMMUDIRTY_OPTS(iommudirty_migratable, lm);
		struct iommudirty_devlink_port p = lport(PORT_VF);
		struct iommudirty_ctx *ctx = iommudirty_ctx_new(&co);
		const char *const needles[] = { "failed: Operation not permitted (errno 1)", NULL };
		char port1[96];
		const char *const args[] = { "", "--set-migratable", "on", "--devlink-port",
					     port1, NULL };

		if (!ctx)
			return FAILF("ctx_new: %s", strerror(errno));
		rc = iommudirty_devlink_set_migratable(ctx, NULL, &p, 1, &lm);
		iommudirty_ctx_free(ctx);
		if (lib_want("set_migratable(port 1, 1) without CAP_NET_ADMIN", rc, &lm, -EPERM, 0,
			     IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF))
			return -1;
		if (lm.message[0])
			return FAILF("message \"%s\" for genetlink's refusal, which has none",
				     lm.message);
		snprintf(port1, sizeof(port1), "pci/%s/%d", bdf, PORT_VF);
		/* exit 3: refused for lack of permission */
		if (probe_want(args, 3, needles))
			return -1;
	}
#endif
	return 0;
}

static int t_no_net_admin(void)
{
	pid_t pid;
	int st, rc;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return FAILF("fork: %s", strerror(errno));
	if (!pid) {
		rc = drop_net_admin();
		if (rc)
			(void)FAILF("dropping CAP_NET_ADMIN: %s", strerror(-rc));
		else
			rc = no_admin_checks();
		/* The parent cannot see why: say it here. */
		if (rc)
			kinfo("devlink: child without CAP_NET_ADMIN failed: %s", why);
		fflush(stdout);
		_exit(rc ? 1 : 0);
	}
	if (waitpid(pid, &st, 0) != pid)
		return FAILF("waitpid: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return FAILF("the child without CAP_NET_ADMIN failed (status %#x; its INFO line says why)",
			     st);
	/* Nothing was changed by the refused sets. */
	rc = port_migratable(bdf, PORT_VF);
	if (rc < 0)
		return -1;
	return rc ? FAILF("port %d is on after sets refused for lack of CAP_NET_ADMIN", PORT_VF) : 0;
}

void run_devlink_tests(void)
{
	int rc;

	why[0] = 0;
	rc = kdl_find_edu(1, bdf, sizeof(bdf));
	if (!rc)
		rc = kdl_find_edu(0, bdf0, sizeof(bdf0));
	if (!rc)
		rc = kdl_bind(bdf, KDL_DRV_VARIANT);
	if (!rc)
		rc = nl_open();
	if (!rc)
		kinfo("devlink: generic netlink family id %u; edu %s on %s", dl_family, bdf,
		      KDL_DRV_VARIANT);
	R("devlink_family", rc);
	if (rc)
		goto out;
	R("devlink_instance", t_instance());
	R("devlink_port_dump", t_port_dump());
	R("devlink_port_vf", check_port(PORT_VF, DL_PORT_FLAVOUR_PCI_VF, 0, true));
	R("devlink_port_vf_no_op", check_port(PORT_VF_NO_OP, DL_PORT_FLAVOUR_PCI_VF, 1, false));
	R("devlink_port_pf", check_port(PORT_PF, DL_PORT_FLAVOUR_PCI_PF, -1, false));
	R("devlink_port_missing", t_port_missing());
	R("devlink_set_on", t_set(true));
	R("devlink_set_off", t_set(false));
	R("devlink_refuse_no_op", refused(PORT_VF_NO_OP, true, -EOPNOTSUPP, MSG_NO_OP, true));
	R("devlink_refuse_vf_only", refused(PORT_PF, true, -EOPNOTSUPP, MSG_VF_ONLY, true));
	R("devlink_refuse_legacy", t_eswitch());
	R("devlink_rebind", t_rebind());
#ifdef KTEST_LIB_DEVLINK
	lib_tests();
	probe_tests();
#endif
	R("devlink_no_net_admin", t_no_net_admin());
#ifndef KTEST_LIB_DEVLINK
	snprintf(why, sizeof(why), "the library has no iommudirty_devlink_* (src/devlink.c)");
	R("devlink_lib", 1);
#endif
out:
	if (nl_fd >= 0)
		close(nl_fd);
	nl_fd = -1;
}
