/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim's devlink: PFs with a devlink instance and ports
 * (iommudirty_sim_add_devlink_port()), their VFs' sysfs physfn / virtfnN
 * links, and a generic-netlink "devlink" family that answers a context's
 * libnl socket. The socket is libnl's own; the sim replaces its send and
 * receive (nl_cb_overwrite_send/_recv), decodes each request and queues the
 * replies 6.12 would send (net/devlink/port.c, dev.c, netlink.c; extack on
 * refusals). Messages are built and read here byte by byte, not with libnl.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sim_internal.h"
#include "devlink_nl.h"

#ifdef IOMMUDIRTY_HAVE_LIBNL
#include <linux/netlink.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#endif

#define SIM_DL_FAMILY 0x14 /* the id the sim's ctrl gives "devlink" */
#define SIM_DL_MAXATTR 179 /* DEVLINK_ATTR_MAX in 6.12 */

struct sim_dl_port {
	int pf, vf;              /* sim devices; vf -1: none */
	uint32_t index, flavour, vf_number;
	bool no_port;            /* only the instance and the VF's links */
	bool has_op, migratable;
};

struct sim_dl_inst {
	int pf;
	uint16_t eswitch_mode;
};

struct sim_devlink {
	struct sim_dl_port *ports;
	size_t nr_ports, cap_ports;
	struct sim_dl_inst *insts;
	size_t nr_insts, cap_insts;
};

static struct sim_dl_inst *inst_find(const struct sim_devlink *dl, int pf)
{
	for (size_t i = 0; dl && i < dl->nr_insts; i++)
		if (dl->insts[i].pf == pf)
			return &dl->insts[i];
	return NULL;
}

void sim_devlink_free(struct iommudirty_sim *sim)
{
	if (!sim->devlink)
		return;
	free(sim->devlink->ports);
	free(sim->devlink->insts);
	free(sim->devlink);
	sim->devlink = NULL;
}

IOMMUDIRTY_API int iommudirty_sim_add_devlink_port(struct iommudirty_sim *sim,
						   const struct iommudirty_sim_devlink_port_opts *opts)
{
	const unsigned int known = IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE_OP |
				   IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE |
				   IOMMUDIRTY_SIM_DEVLINK_NO_PORT |
				   IOMMUDIRTY_SIM_DEVLINK_LEGACY;
	struct sim_dl_port p;
	struct sim_dl_inst *in;
	struct sim_devlink *dl;
	int ret = 0;

	if (!sim || !opts || !OPTS_VALID(opts, iommudirty_sim_devlink_port_opts) ||
	    !OPTS_HAS(opts, iommudirty_sim_devlink_port_opts, vf_number) ||
	    (opts->flags & ~known) ||
	    ((opts->flags & IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE) &&
	     !(opts->flags & IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE_OP)) ||
	    (opts->flavour != IOMMUDIRTY_SIM_DEVLINK_PHYSICAL &&
	     opts->flavour != IOMMUDIRTY_SIM_DEVLINK_PCI_PF &&
	     opts->flavour != IOMMUDIRTY_SIM_DEVLINK_PCI_VF) ||
	    opts->pf == opts->vf || opts->vf < -1 || opts->vf_number > 0xffff)
		return ret_err(-EINVAL);
	p = (struct sim_dl_port){
		.pf = opts->pf, .vf = opts->vf, .index = opts->index,
		.flavour = opts->flavour, .vf_number = opts->vf_number,
		.no_port = opts->flags & IOMMUDIRTY_SIM_DEVLINK_NO_PORT,
		.has_op = opts->flags & IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE_OP,
		.migratable = opts->flags & IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE,
	};
	pthread_mutex_lock(&sim->lock);
	if (p.pf < 0 || p.pf >= sim->nr_devs || sim->devs[p.pf]->emulated ||
	    p.vf >= sim->nr_devs || (p.vf >= 0 && sim->devs[p.vf]->emulated)) {
		ret = -EINVAL;
		goto out;
	}
	if (!sim->devlink && !(sim->devlink = calloc(1, sizeof(*sim->devlink)))) {
		ret = -ENOMEM;
		goto out;
	}
	dl = sim->devlink;
	for (size_t i = 0; i < dl->nr_ports; i++) {
		const struct sim_dl_port *q = &dl->ports[i];

		if (q->pf != p.pf)
			continue;
		if ((!q->no_port && !p.no_port && q->index == p.index) ||
		    (q->vf >= 0 && p.vf >= 0 && q->vf_number == p.vf_number) ||
		    (p.vf >= 0 && q->vf == p.vf)) {
			ret = -EINVAL;
			goto out;
		}
	}
	in = inst_find(dl, p.pf);
	if (!in) {
		ret = sim_grow(&dl->insts, &dl->cap_insts, dl->nr_insts + 1,
			       sizeof(*dl->insts));
		if (ret)
			goto out;
		in = &dl->insts[dl->nr_insts++];
		in->pf = p.pf;
	}
	ret = sim_grow(&dl->ports, &dl->cap_ports, dl->nr_ports + 1, sizeof(p));
	if (ret)
		goto out;
	dl->ports[dl->nr_ports++] = p;
	in->eswitch_mode = (opts->flags & IOMMUDIRTY_SIM_DEVLINK_LEGACY) ?
			   DL_ESWITCH_MODE_LEGACY : DL_ESWITCH_MODE_SWITCHDEV;
out:
	pthread_mutex_unlock(&sim->lock);
	return ret_err(ret);
}

/* ---- sysfs: <vf>/physfn and <pf>/virtfn<N> (sim->lock held) ---- */

static int dev_by_bdf(const struct iommudirty_sim *sim, const char *bdf, size_t n)
{
	char b[16];

	for (int i = 0; i < sim->nr_devs; i++)
		if (!sim->devs[i]->emulated && !sim_dev_bdf(i, b, sizeof(b)) &&
		    strlen(b) == n && !strncmp(b, bdf, n))
			return i;
	return -1;
}

int sim_devlink_readlink(struct iommudirty_sim *sim, const char *path,
			 char *buf, size_t len)
{
	static const char prefix[] = "/sys/bus/pci/devices/";
	const struct sim_devlink *dl = sim->devlink;
	const char *p, *leaf;
	char target[32], bdf[16];
	int dev;

	if (!dl || strncmp(path, prefix, sizeof(prefix) - 1))
		return -ENOENT;
	p = path + sizeof(prefix) - 1;
	leaf = strchr(p, '/');
	if (!leaf || (dev = dev_by_bdf(sim, p, (size_t)(leaf - p))) < 0)
		return -ENOENT;
	leaf++;
	for (size_t i = 0; i < dl->nr_ports; i++) {
		const struct sim_dl_port *q = &dl->ports[i];
		char name[24];

		if (q->vf < 0)
			continue;
		snprintf(name, sizeof(name), "virtfn%u", q->vf_number);
		if (q->vf == dev && !strcmp(leaf, "physfn"))
			sim_dev_bdf(q->pf, bdf, sizeof(bdf));
		else if (q->pf == dev && !strcmp(leaf, name))
			sim_dev_bdf(q->vf, bdf, sizeof(bdf));
		else
			continue;
		snprintf(target, sizeof(target), "../%s", bdf);
		if (!len)
			return -EINVAL;
		snprintf(buf, len, "%s", target);
		return (int)MIN(strlen(target), len - 1);
	}
	return -ENOENT;
}

/* A cdev's PCI device; a group's device fd is an anonymous inode. */
int sim_sys_fd_pci_address(void *priv, int fd, char *buf, size_t len)
{
	struct iommudirty_sim *sim = priv;
	int saved = errno, ret = -ENODEV;
	struct sim_fd *f;

	pthread_mutex_lock(&sim->lock);
	f = sim_fd_find(sim, fd);
	if (!f)
		ret = -EBADF;
	else if (f->kind == SIM_FD_DEVICE)
		for (int i = 0; i < sim->nr_devs; i++)
			if (sim->devs[i] == f->p && !sim->devs[i]->emulated)
				ret = sim_dev_bdf(i, buf, len);
	pthread_mutex_unlock(&sim->lock);
	errno = saved;
	return ret;
}

#ifdef IOMMUDIRTY_HAVE_LIBNL

/* ---- replies, byte by byte ---- */

struct rbuf {
	unsigned char *p;
	size_t len, cap;
	bool oom;
};

static void *rb_put(struct rbuf *rb, const void *data, size_t n)
{
	size_t pad = NLA_ALIGN(n);
	void *at;

	if (rb->oom)
		return NULL;
	if (rb->len + pad > rb->cap) {
		size_t cap = MAX(rb->cap * 2, rb->len + pad + 256);
		unsigned char *p = realloc(rb->p, cap);

		if (!p) {
			rb->oom = true;
			return NULL;
		}
		rb->p = p;
		rb->cap = cap;
	}
	at = rb->p + rb->len;
	memset(at, 0, pad);
	if (data)
		memcpy(at, data, n);
	rb->len += pad;
	return at;
}

static size_t msg_begin(struct rbuf *rb, uint16_t type, uint16_t flags,
			const struct nlmsghdr *req)
{
	struct nlmsghdr h = {
		.nlmsg_type = type, .nlmsg_flags = flags,
		.nlmsg_seq = req->nlmsg_seq, .nlmsg_pid = req->nlmsg_pid,
	};
	size_t off = rb->len;

	rb_put(rb, &h, sizeof(h));
	return off;
}

static void msg_end(struct rbuf *rb, size_t off)
{
	if (!rb->oom)
		((struct nlmsghdr *)(rb->p + off))->nlmsg_len = (uint32_t)(rb->len - off);
}

static void put_genl(struct rbuf *rb, uint8_t cmd)
{
	struct genlmsghdr g = { .cmd = cmd, .version = DL_GENL_VERSION };

	rb_put(rb, &g, sizeof(g));
}

static void put_attr(struct rbuf *rb, uint16_t type, const void *data, size_t n)
{
	struct nlattr a = { .nla_len = (uint16_t)(NLA_HDRLEN + n), .nla_type = type };

	rb_put(rb, &a, sizeof(a));
	rb->len -= NLA_ALIGN(sizeof(a)) - sizeof(a);
	rb_put(rb, data, n);
}

static void put_u8(struct rbuf *rb, uint16_t t, uint8_t v) { put_attr(rb, t, &v, 1); }
static void put_u16(struct rbuf *rb, uint16_t t, uint16_t v) { put_attr(rb, t, &v, 2); }
static void put_u32(struct rbuf *rb, uint16_t t, uint32_t v) { put_attr(rb, t, &v, 4); }
static void put_str(struct rbuf *rb, uint16_t t, const char *s)
{
	put_attr(rb, t, s, strlen(s) + 1);
}

/* NLMSG_ERROR as 6.12's netlink_ack(): an ACK echoes the request's header
 * only (CAPPED); an error echoes it whole, then the extack TLVs. */
static void put_error(struct rbuf *rb, const struct nlmsghdr *req, int err,
		      const char *msg, uint32_t attr_off)
{
	uint16_t flags = err ? 0 : DL_NLM_F_CAPPED;
	size_t off;

	if (err && msg)
		flags |= DL_NLM_F_ACK_TLVS;
	off = msg_begin(rb, NLMSG_ERROR, flags, req);
	rb_put(rb, &err, sizeof(err));
	rb_put(rb, req, err ? req->nlmsg_len : sizeof(*req));
	if (err && msg) {
		put_str(rb, DL_NLMSGERR_ATTR_MSG, msg);
		if (attr_off)
			put_u32(rb, DL_NLMSGERR_ATTR_OFFS, attr_off);
	}
	msg_end(rb, off);
}

/* ---- requests ---- */

#define REQ_MAXATTR 160

struct req {
	const struct nlmsghdr *h;
	const struct genlmsghdr *g;
	const struct nlattr *tb[REQ_MAXATTR + 1];
};

static void parse_attrs(const void *data, size_t len, const struct nlattr **tb,
			unsigned int max)
{
	size_t off = 0;

	while (off + NLA_HDRLEN <= len) {
		const struct nlattr *a = (const void *)((const char *)data + off);
		unsigned int t = a->nla_type & NLA_TYPE_MASK;

		if (a->nla_len < NLA_HDRLEN || off + a->nla_len > len)
			break;
		if (t <= max)
			tb[t] = a;
		off += NLA_ALIGN(a->nla_len);
	}
}

static const char *attr_str(const struct nlattr *a)
{
	const char *s = (const char *)a + NLA_HDRLEN;
	size_t n = a->nla_len - NLA_HDRLEN;

	/* NLA_NUL_STRING: the NUL must be there. */
	return n && strnlen(s, n) < n ? s : NULL;
}

static bool attr_u32(const struct nlattr *a, uint32_t *v)
{
	if (!a || a->nla_len < NLA_HDRLEN + 4)
		return false;
	memcpy(v, (const char *)a + NLA_HDRLEN, 4);
	return true;
}

static void put_port(struct iommudirty_sim *sim, struct rbuf *rb,
		     const struct nlmsghdr *req, uint16_t flags,
		     const struct sim_dl_port *p)
{
	char bdf[16];
	size_t off = msg_begin(rb, SIM_DL_FAMILY, flags, req), nest;

	(void)sim;
	put_genl(rb, DL_CMD_PORT_NEW);
	sim_dev_bdf(p->pf, bdf, sizeof(bdf));
	put_str(rb, DL_ATTR_BUS_NAME, "pci");
	put_str(rb, DL_ATTR_DEV_NAME, bdf);
	put_u32(rb, DL_ATTR_PORT_INDEX, p->index);
	put_u16(rb, DL_ATTR_PORT_TYPE, 0);
	put_u8(rb, DL_ATTR_PORT_SPLITTABLE, 0);
	put_u16(rb, DL_ATTR_PORT_FLAVOUR, (uint16_t)p->flavour);
	if (p->flavour == DL_PORT_FLAVOUR_PCI_VF || p->flavour == DL_PORT_FLAVOUR_PCI_PF) {
		put_u32(rb, DL_ATTR_PORT_CONTROLLER_NUMBER, 0);
		put_u16(rb, DL_ATTR_PORT_PCI_PF_NUMBER, 0);
		if (p->flavour == DL_PORT_FLAVOUR_PCI_VF)
			put_u16(rb, DL_ATTR_PORT_PCI_VF_NUMBER, (uint16_t)p->vf_number);
		put_u8(rb, DL_ATTR_PORT_EXTERNAL, 0);
	} else {
		put_u32(rb, DL_ATTR_PORT_NUMBER, p->index);
	}
	/* The function nest only when it holds something: the CAPS, reported
	 * for a PCI_VF port whose driver has the get op. */
	if (p->has_op && p->flavour == DL_PORT_FLAVOUR_PCI_VF) {
		uint32_t bf[2] = { p->migratable ? DL_PORT_FN_CAP_MIGRATABLE : 0,
				   DL_PORT_FN_CAP_MIGRATABLE };

		nest = rb->len;
		put_attr(rb, DL_ATTR_PORT_FUNCTION | NLA_F_NESTED, NULL, 0);
		put_attr(rb, DL_PORT_FN_ATTR_CAPS, bf, sizeof(bf));
		if (!rb->oom)
			((struct nlattr *)(rb->p + nest))->nla_len = (uint16_t)(rb->len - nest);
	}
	msg_end(rb, off);
}

/* The instance named by BUS_NAME/DEV_NAME: its PF, -EINVAL (missing) or
 * -ENODEV (unknown), as devlink_get_from_attrs_lock(). */
static int req_inst(const struct iommudirty_sim *sim, const struct req *r)
{
	const char *bus, *dev;
	int pf;

	if (!r->tb[DL_ATTR_BUS_NAME] || !r->tb[DL_ATTR_DEV_NAME])
		return -EINVAL;
	bus = attr_str(r->tb[DL_ATTR_BUS_NAME]);
	dev = attr_str(r->tb[DL_ATTR_DEV_NAME]);
	if (!bus || !dev)
		return -EINVAL;
	if (strcmp(bus, "pci"))
		return -ENODEV;
	pf = dev_by_bdf(sim, dev, strlen(dev));
	return pf >= 0 && inst_find(sim->devlink, pf) ? pf : -ENODEV;
}

static struct sim_dl_port *req_port(struct iommudirty_sim *sim, const struct req *r,
				    int *err)
{
	int pf = req_inst(sim, r);
	uint32_t index;

	if (pf < 0) {
		*err = pf;
		return NULL;
	}
	if (!attr_u32(r->tb[DL_ATTR_PORT_INDEX], &index)) {
		*err = -EINVAL;
		return NULL;
	}
	for (size_t i = 0; i < sim->devlink->nr_ports; i++) {
		struct sim_dl_port *p = &sim->devlink->ports[i];

		if (p->pf == pf && !p->no_port && p->index == index)
			return p;
	}
	*err = -ENODEV;
	return NULL;
}

static void do_ctrl(struct iommudirty_sim *sim, const struct req *r, struct rbuf *rb)
{
	const char *name = r->tb[DL_CTRL_ATTR_FAMILY_NAME] ?
			   attr_str(r->tb[DL_CTRL_ATTR_FAMILY_NAME]) : NULL;
	size_t off;

	if (r->g->cmd != DL_CTRL_CMD_GETFAMILY || !name) {
		put_error(rb, r->h, r->g->cmd != DL_CTRL_CMD_GETFAMILY ? -EOPNOTSUPP : -EINVAL,
			  NULL, 0);
		return;
	}
	if (strcmp(name, DL_GENL_NAME) || (sim->flags & IOMMUDIRTY_SIM_NO_DEVLINK)) {
		put_error(rb, r->h, -ENOENT, NULL, 0);
		return;
	}
	off = msg_begin(rb, DL_GENL_ID_CTRL, 0, r->h);
	put_genl(rb, DL_CTRL_CMD_NEWFAMILY);
	put_str(rb, DL_CTRL_ATTR_FAMILY_NAME, DL_GENL_NAME);
	put_u16(rb, DL_CTRL_ATTR_FAMILY_ID, SIM_DL_FAMILY);
	put_u32(rb, DL_CTRL_ATTR_VERSION, DL_GENL_VERSION);
	put_u32(rb, DL_CTRL_ATTR_HDRSIZE, 0);
	put_u32(rb, DL_CTRL_ATTR_MAXATTR, SIM_DL_MAXATTR);
	msg_end(rb, off);
	if (r->h->nlmsg_flags & NLM_F_ACK)
		put_error(rb, r->h, 0, NULL, 0);
}

static void do_port_dump(struct iommudirty_sim *sim, const struct req *r,
			 struct rbuf *rb)
{
	uint16_t flags = NLM_F_MULTI;
	int pf = -1, err = 0;
	size_t off;

	if (r->tb[DL_ATTR_BUS_NAME] || r->tb[DL_ATTR_DEV_NAME]) {
		pf = req_inst(sim, r);
		if (pf < 0)
			err = pf;
		flags |= NLM_F_DUMP_FILTERED;
	}
	for (size_t i = 0; !err && sim->devlink && i < sim->devlink->nr_ports; i++) {
		const struct sim_dl_port *p = &sim->devlink->ports[i];

		if (!p->no_port && (pf < 0 || p->pf == pf))
			put_port(sim, rb, r->h, flags, p);
	}
	/* 6.12's netlink_dump_done(): DONE carries the dump's errno. */
	off = msg_begin(rb, NLMSG_DONE, NLM_F_MULTI, r->h);
	rb_put(rb, &err, sizeof(err));
	msg_end(rb, off);
}

static void do_port_set(struct iommudirty_sim *sim, const struct req *r,
			struct rbuf *rb, struct sim_dl_port *p)
{
	const struct nlattr *fn = r->tb[DL_ATTR_PORT_FUNCTION];
	const struct nlattr *ft[DL_PORT_FN_ATTR_CAPS + 1] = { 0 };
	const struct nlattr *caps;
	uint32_t bf[2], off;

	(void)sim;
	if (!fn) {
		put_error(rb, r->h, 0, NULL, 0);
		return;
	}
	parse_attrs((const char *)fn + NLA_HDRLEN, fn->nla_len - NLA_HDRLEN, ft,
		    DL_PORT_FN_ATTR_CAPS);
	caps = ft[DL_PORT_FN_ATTR_CAPS];
	if (!caps) {
		put_error(rb, r->h, 0, NULL, 0);
		return;
	}
	/* NLA_BITFIELD32: 8 bytes, no value bit outside the selector. */
	if (caps->nla_len != NLA_HDRLEN + sizeof(bf)) {
		put_error(rb, r->h, -EINVAL, NULL, 0);
		return;
	}
	memcpy(bf, (const char *)caps + NLA_HDRLEN, sizeof(bf));
	if (bf[0] & ~bf[1]) {
		put_error(rb, r->h, -EINVAL, NULL, 0);
		return;
	}
	off = (uint32_t)((const char *)caps - (const char *)r->h);
	if (bf[1] & DL_PORT_FN_CAP_MIGRATABLE) {
		if (!p->has_op) {
			put_error(rb, r->h, -EOPNOTSUPP, DL_MSG_NO_MIGRATABLE_OP, off);
			return;
		}
		if (p->flavour != DL_PORT_FLAVOUR_PCI_VF) {
			put_error(rb, r->h, -EOPNOTSUPP, DL_MSG_MIGRATABLE_VF_ONLY, off);
			return;
		}
		p->migratable = bf[0] & DL_PORT_FN_CAP_MIGRATABLE;
	}
	if (bf[1] & ~DL_PORT_FN_CAP_MIGRATABLE) {
		/* RoCE / IPsec: no sim driver has their ops. */
		put_error(rb, r->h, -EOPNOTSUPP, NULL, 0);
		return;
	}
	put_error(rb, r->h, 0, NULL, 0);
}

static void do_devlink(struct iommudirty_sim *sim, const struct req *r, struct rbuf *rb)
{
	struct sim_dl_port *p;
	int err = 0, pf;
	size_t off;

	/* genetlink's GENL_ADMIN_PERM check, before the family's handler. */
	if ((sim->flags & IOMMUDIRTY_SIM_NO_NET_ADMIN) &&
	    (r->g->cmd == DL_CMD_PORT_SET || r->g->cmd == DL_CMD_ESWITCH_GET)) {
		put_error(rb, r->h, -EPERM, NULL, 0);
		return;
	}
	switch (r->g->cmd) {
	case DL_CMD_PORT_GET:
		if (r->h->nlmsg_flags & NLM_F_DUMP) {
			do_port_dump(sim, r, rb);
			return;
		}
		if (!(p = req_port(sim, r, &err)))
			break;
		put_port(sim, rb, r->h, 0, p);
		if (r->h->nlmsg_flags & NLM_F_ACK)
			put_error(rb, r->h, 0, NULL, 0);
		return;
	case DL_CMD_PORT_SET:
		if (!(p = req_port(sim, r, &err)))
			break;
		do_port_set(sim, r, rb, p);
		return;
	case DL_CMD_ESWITCH_GET:
		if ((pf = req_inst(sim, r)) < 0) {
			err = pf;
			break;
		}
		off = msg_begin(rb, SIM_DL_FAMILY, 0, r->h);
		put_genl(rb, DL_CMD_ESWITCH_GET);
		put_attr(rb, DL_ATTR_BUS_NAME, "pci", 4);
		put_str(rb, DL_ATTR_DEV_NAME, attr_str(r->tb[DL_ATTR_DEV_NAME]));
		put_u16(rb, DL_ATTR_ESWITCH_MODE, inst_find(sim->devlink, pf)->eswitch_mode);
		msg_end(rb, off);
		if (r->h->nlmsg_flags & NLM_F_ACK)
			put_error(rb, r->h, 0, NULL, 0);
		return;
	default:
		err = -EOPNOTSUPP;
		break;
	}
	put_error(rb, r->h, err, NULL, 0);
}

/* ---- the sockets: libnl's, with send and receive taken over ---- */

struct sim_nl_reply {
	unsigned char *p;
	size_t len;
	struct sim_nl_reply *next;
};

struct sim_nl_sock {
	struct nl_sock *sk;
	struct iommudirty_sim *sim;
	struct sim_nl_reply *head, **tail;
	struct sim_nl_sock *next;
};

/* libnl's hooks carry no user pointer: sockets are found by address. */
static pthread_mutex_t socks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sim_nl_sock *socks;

static struct sim_nl_sock *sock_find(const struct nl_sock *sk)
{
	for (struct sim_nl_sock *s = socks; s; s = s->next)
		if (s->sk == sk)
			return s;
	return NULL;
}

/* Queue the replies as the kernel sends them: a reply and its ACK are
 * datagrams of their own, a dump's parts (NLM_F_MULTI, DONE included)
 * share one. */
static int queue(struct sim_nl_sock *s, const struct rbuf *rb)
{
	size_t off = 0;

	while (off < rb->len) {
		const struct nlmsghdr *h = (const void *)(rb->p + off);
		size_t end = off + NLMSG_ALIGN(h->nlmsg_len);
		struct sim_nl_reply *rep;

		if (h->nlmsg_flags & NLM_F_MULTI)
			while (end < rb->len &&
			       (((const struct nlmsghdr *)(rb->p + end))->nlmsg_flags &
				NLM_F_MULTI))
				end += NLMSG_ALIGN(((const struct nlmsghdr *)(rb->p + end))->nlmsg_len);
		rep = calloc(1, sizeof(*rep));
		if (!rep || !(rep->p = malloc(end - off))) {
			free(rep);
			return -ENOMEM;
		}
		memcpy(rep->p, rb->p + off, end - off);
		rep->len = end - off;
		*s->tail = rep;
		s->tail = &rep->next;
		off = end;
	}
	return 0;
}

static int sim_nl_send(struct nl_sock *sk, struct nl_msg *msg)
{
	const struct nlmsghdr *h = nlmsg_hdr(msg);
	struct rbuf rb = { 0 };
	struct sim_nl_sock *s;
	struct req r = { .h = h };
	int ret = (int)h->nlmsg_len;

	pthread_mutex_lock(&socks_lock);
	s = sock_find(sk);
	if (!s) {
		pthread_mutex_unlock(&socks_lock);
		return -NLE_BAD_SOCK;
	}
	pthread_mutex_lock(&s->sim->lock);
	s->sim->stats.nl_requests++;
	if (h->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN) {
		put_error(&rb, h, -EINVAL, NULL, 0);
	} else {
		r.g = (const void *)((const char *)h + NLMSG_HDRLEN);
		parse_attrs((const char *)h + NLMSG_HDRLEN + GENL_HDRLEN,
			    h->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN, r.tb, REQ_MAXATTR);
		if (h->nlmsg_type == DL_GENL_ID_CTRL)
			do_ctrl(s->sim, &r, &rb);
		else if (h->nlmsg_type == SIM_DL_FAMILY &&
			 !(s->sim->flags & IOMMUDIRTY_SIM_NO_DEVLINK))
			do_devlink(s->sim, &r, &rb);
		else
			put_error(&rb, h, -EOPNOTSUPP, NULL, 0);
	}
	pthread_mutex_unlock(&s->sim->lock);
	if (rb.oom || queue(s, &rb))
		ret = -NLE_NOMEM;
	free(rb.p);
	pthread_mutex_unlock(&socks_lock);
	return ret;
}

/* One queued reply per receive; nothing queued is an error, not a wait. */
static int sim_nl_recv(struct nl_sock *sk, struct sockaddr_nl *nla,
		       unsigned char **buf, struct ucred **creds)
{
	struct sim_nl_reply *rep = NULL;
	struct sim_nl_sock *s;
	int ret;

	(void)creds;
	pthread_mutex_lock(&socks_lock);
	s = sock_find(sk);
	if (s && (rep = s->head)) {
		s->head = rep->next;
		if (!s->head)
			s->tail = &s->head;
	}
	pthread_mutex_unlock(&socks_lock);
	if (!rep)
		return s ? -NLE_AGAIN : -NLE_BAD_SOCK;
	memset(nla, 0, sizeof(*nla));
	nla->nl_family = AF_NETLINK;
	*buf = rep->p;
	ret = (int)rep->len;
	free(rep);
	return ret;
}

int sim_sys_nl_open(void *priv, void **sock)
{
	struct iommudirty_sim *sim = priv;
	struct sim_nl_sock *s = calloc(1, sizeof(*s));
	struct nl_cb *cb;

	if (!s || !(s->sk = nl_socket_alloc())) {
		free(s);
		return -ENOMEM;
	}
	cb = nl_socket_get_cb(s->sk);
	nl_cb_overwrite_send(cb, sim_nl_send);
	nl_cb_overwrite_recv(cb, sim_nl_recv);
	nl_cb_put(cb);
	s->sim = sim;
	s->tail = &s->head;
	pthread_mutex_lock(&socks_lock);
	s->next = socks;
	socks = s;
	pthread_mutex_unlock(&socks_lock);
	pthread_mutex_lock(&sim->lock);
	sim->stats.nl_socks++;
	pthread_mutex_unlock(&sim->lock);
	*sock = s->sk;
	return 0;
}

void sim_sys_nl_close(void *priv, void *sock)
{
	struct iommudirty_sim *sim = priv;
	struct sim_nl_sock **pp, *s = NULL;

	pthread_mutex_lock(&socks_lock);
	for (pp = &socks; *pp; pp = &(*pp)->next)
		if ((*pp)->sk == sock) {
			s = *pp;
			*pp = s->next;
			break;
		}
	pthread_mutex_unlock(&socks_lock);
	if (!s)
		return;
	while (s->head) {
		struct sim_nl_reply *rep = s->head;

		s->head = rep->next;
		free(rep->p);
		free(rep);
	}
	nl_socket_free(s->sk);
	free(s);
	pthread_mutex_lock(&sim->lock);
	sim->stats.nl_socks--;
	pthread_mutex_unlock(&sim->lock);
}

#else /* !IOMMUDIRTY_HAVE_LIBNL */

int sim_sys_nl_open(void *priv, void **sock)
{
	(void)priv;
	(void)sock;
	return -EOPNOTSUPP;
}

void sim_sys_nl_close(void *priv, void *sock)
{
	(void)priv;
	(void)sock;
}

#endif
