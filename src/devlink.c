/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * devlink's `migratable` port function of a VF, over generic netlink with
 * libnl-genl-3: find the VF's port (sysfs physfn and virtfnN, then the
 * PF's PCI_VF port with that VF number), read its function CAPS, set the
 * MIGRATABLE bit on request. The socket comes from the kernel seam
 * (ctx->sys->nl_open): a real one, or one whose traffic the sim answers.
 * Without libnl every answer is IOMMUDIRTY_REASON_DEVLINK_NO_LIBNL.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "devlink_nl.h"

#ifdef IOMMUDIRTY_HAVE_LIBNL
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#endif

/* The smallest struct iommudirty_migratable / _devlink_port we accept. */
#define MIG_MIN_SZ (offsetof(struct iommudirty_migratable, reason) + sizeof(uint32_t))
#define PORT_MIN_SZ (offsetof(struct iommudirty_devlink_port, index) + sizeof(uint32_t))

/* "DDDD:BB:SS.F": a domain of 4 to 8 hex digits. */
static bool bdf_valid(const char *s)
{
	size_t n = 0;

	while (s[n] && isxdigit((unsigned char)s[n]))
		n++;
	if (n < 4 || n > 8 || s[n] != ':')
		return false;
	s += n + 1;
	return isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1]) &&
	       s[2] == ':' && isxdigit((unsigned char)s[3]) &&
	       isxdigit((unsigned char)s[4]) && s[5] == '.' && s[6] >= '0' &&
	       s[6] <= '7' && !s[7];
}

/* A devlink handle part: non-empty, NUL-terminated in its field, and only
 * the characters bus and device names use. */
static bool name_valid(const char *s, size_t len)
{
	size_t n = strnlen(s, len);

	if (!n || n == len)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.:-", s[i]))
			return false;
	return true;
}

static bool port_valid(const struct iommudirty_devlink_port *p)
{
	if (p->sz < PORT_MIN_SZ || p->sz > sizeof(*p) + 4096)
		return false;
	if (!opts_valid(p, p->sz, PORT_MIN_SZ, sizeof(*p)))
		return false;
	if (OPTS_GET(p, iommudirty_devlink_port, __reserved, 0))
		return false;
	return name_valid(p->bus, sizeof(p->bus)) && name_valid(p->dev, sizeof(p->dev));
}

/* Fill the caller's struct up to its size. */
static void out_copy(const struct iommudirty_migratable *from,
		     struct iommudirty_migratable *to)
{
	size_t sz = MIN(to->sz, sizeof(*to));

	memcpy((char *)to + sizeof(to->sz), (const char *)from + sizeof(to->sz),
	       sz - sizeof(to->sz));
}

static void out_init(struct iommudirty_migratable *m)
{
	memset(m, 0, sizeof(*m));
	m->sz = sizeof(*m);
	m->state = -1;
	m->port.sz = sizeof(m->port);
}

/* The PF and VF number of a VF: 0; -ENOENT not a VF (no physfn). */
static int vf_lookup(struct iommudirty_ctx *ctx, const char *vf, char *pf,
		     size_t len, int *number)
{
	char path[128], name[64];
	int ret;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/physfn", vf);
	ret = sysfs_link_base(ctx, path, pf, len);
	if (ret)
		return ret == -ENOENT ? -ENOENT : ret;
	for (int n = 0; n < 65536; n++) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/virtfn%d", pf, n);
		ret = sysfs_link_base(ctx, path, name, sizeof(name));
		if (ret == -ENOENT)
			break;
		if (!ret && !strcmp(name, vf)) {
			*number = n;
			return 0;
		}
	}
	*number = -1;
	return 0;
}

#ifdef IOMMUDIRTY_HAVE_LIBNL

/* What one request's replies said. */
struct dl_reply {
	bool done;        /* ACK, error or DONE seen */
	int err;          /* the kernel's negative errno, or 0 */
	char msg[256];    /* its extack message */
	/* a parsed port (PORT_GET / PORT_NEW replies) */
	int (*on_port)(struct dl_reply *r, const struct iommudirty_devlink_port *p,
		       int flavour, int vf_number, uint32_t caps_value,
		       uint32_t caps_selector);
	void *arg;
	int eswitch_mode; /* ESWITCH_GET: -1 not reported */
};

struct port_pick {
	int vf_number;    /* the one wanted, or -1: the first reply */
	bool found;
	struct iommudirty_devlink_port port;
	int flavour;
	uint32_t caps_value, caps_selector;
};

static int nle_to_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_NOMEM: return -ENOMEM;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_PERM: return -EPERM;
	case NLE_NOACCESS: return -EACCES;
	case NLE_NODEV: return -ENODEV;
	case NLE_INVAL: return -EINVAL;
	case NLE_AGAIN: return -EAGAIN;
	default: return -EIO;
	}
}

/* The extack of an NLMSG_ERROR: its TLVs follow the echoed request (or
 * only its header when the kernel capped it). */
static void extack_msg(const struct nlmsghdr *h, const struct nlmsgerr *e,
		       char *buf, size_t len)
{
	size_t total = h->nlmsg_len, off;

	if (!(h->nlmsg_flags & DL_NLM_F_ACK_TLVS) ||
	    total < NLMSG_HDRLEN + sizeof(*e))
		return;
	off = sizeof(*e);
	if (!(h->nlmsg_flags & DL_NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < NLMSG_HDRLEN)
			return;
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	}
	off = NLMSG_HDRLEN + NLMSG_ALIGN(off);
	while (off + NLA_HDRLEN <= total) {
		const struct nlattr *a = (const void *)((const char *)h + off);

		if (a->nla_len < NLA_HDRLEN || off + a->nla_len > total)
			return;
		if ((a->nla_type & NLA_TYPE_MASK) == DL_NLMSGERR_ATTR_MSG) {
			size_t n = strnlen((const char *)a + NLA_HDRLEN,
					   a->nla_len - NLA_HDRLEN);

			n = MIN(n, len - 1);
			memcpy(buf, (const char *)a + NLA_HDRLEN, n);
			buf[n] = 0;
			return;
		}
		off += NLA_ALIGN(a->nla_len);
	}
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct dl_reply *r = arg;
	const struct nlmsghdr *h = (const void *)((const char *)e - NLMSG_HDRLEN);

	(void)who;
	r->done = true;
	r->err = e->error;
	extack_msg(h, e, r->msg, sizeof(r->msg));
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	(void)msg;
	((struct dl_reply *)arg)->done = true;
	return NL_STOP;
}

/* NLMSG_DONE carries the dump's errno (0, or why it stopped). */
static int on_finish(struct nl_msg *msg, void *arg)
{
	struct dl_reply *r = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	int err;

	r->done = true;
	if (nlmsg_datalen(h) >= (int)sizeof(int)) {
		memcpy(&err, nlmsg_data(h), sizeof(err));
		if (err < 0)
			r->err = err;
	}
	return NL_STOP;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct dl_reply *r = arg;
	struct nlattr *tb[DL_ATTR_PORT_CONTROLLER_NUMBER + 1];
	struct nlattr *fn[DL_PORT_FN_ATTR_CAPS + 1];
	struct genlmsghdr *g = nlmsg_data(nlmsg_hdr(msg));
	struct iommudirty_devlink_port p = { .sz = sizeof(p) };
	uint32_t bf[2] = { 0, 0 };
	int flavour = -1, vf = -1;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, DL_ATTR_PORT_CONTROLLER_NUMBER, NULL))
		return NL_SKIP;
	if (g->cmd == DL_CMD_ESWITCH_GET) {
		if (tb[DL_ATTR_ESWITCH_MODE] && nla_len(tb[DL_ATTR_ESWITCH_MODE]) >= 2)
			r->eswitch_mode = nla_get_u16(tb[DL_ATTR_ESWITCH_MODE]);
		return NL_OK;
	}
	if (g->cmd != DL_CMD_PORT_NEW || !r->on_port || !tb[DL_ATTR_BUS_NAME] ||
	    !tb[DL_ATTR_DEV_NAME] || !tb[DL_ATTR_PORT_INDEX] ||
	    nla_len(tb[DL_ATTR_PORT_INDEX]) < 4)
		return NL_SKIP;
	nla_strlcpy(p.bus, tb[DL_ATTR_BUS_NAME], sizeof(p.bus));
	nla_strlcpy(p.dev, tb[DL_ATTR_DEV_NAME], sizeof(p.dev));
	p.index = nla_get_u32(tb[DL_ATTR_PORT_INDEX]);
	if (tb[DL_ATTR_PORT_FLAVOUR] && nla_len(tb[DL_ATTR_PORT_FLAVOUR]) >= 2)
		flavour = nla_get_u16(tb[DL_ATTR_PORT_FLAVOUR]);
	if (tb[DL_ATTR_PORT_PCI_VF_NUMBER] && nla_len(tb[DL_ATTR_PORT_PCI_VF_NUMBER]) >= 2)
		vf = nla_get_u16(tb[DL_ATTR_PORT_PCI_VF_NUMBER]);
	if (tb[DL_ATTR_PORT_FUNCTION] &&
	    !nla_parse_nested(fn, DL_PORT_FN_ATTR_CAPS, tb[DL_ATTR_PORT_FUNCTION], NULL) &&
	    fn[DL_PORT_FN_ATTR_CAPS] && nla_len(fn[DL_PORT_FN_ATTR_CAPS]) >= 8)
		memcpy(bf, nla_data(fn[DL_PORT_FN_ATTR_CAPS]), sizeof(bf));
	r->on_port(r, &p, flavour, vf, bf[0], bf[1]);
	return NL_OK;
}

static int pick_port(struct dl_reply *r, const struct iommudirty_devlink_port *p,
		     int flavour, int vf_number, uint32_t value, uint32_t selector)
{
	struct port_pick *pk = r->arg;

	if (pk->found)
		return 0;
	if (pk->vf_number >= 0 &&
	    (flavour != DL_PORT_FLAVOUR_PCI_VF || vf_number != pk->vf_number))
		return 0;
	pk->found = true;
	pk->port = *p;
	pk->flavour = flavour;
	pk->caps_value = value;
	pk->caps_selector = selector;
	return 0;
}

/* Send msg (freed here) and read replies until the request is answered.
 * Return: 0 with r filled (r->err the kernel's answer), or a socket error. */
static int transact(struct nl_sock *sk, struct nl_msg *msg, struct dl_reply *r)
{
	struct nl_cb *scb, *cb;
	int ret;

	ret = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	if (ret < 0)
		return nle_to_errno(ret);
	/* A clone: the sim's receive hook lives in the socket's callbacks. */
	scb = nl_socket_get_cb(sk);
	cb = scb ? nl_cb_clone(scb) : NULL;
	nl_cb_put(scb);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, r);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, r);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, r);
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, r);
	ret = 0;
	while (!r->done) {
		ret = nl_recvmsgs(sk, cb);
		if (ret < 0)
			break;
	}
	nl_cb_put(cb);
	if (r->done)
		return 0;
	return ret < 0 ? nle_to_errno(ret) : -EIO;
}

static struct nl_msg *dl_msg(int family, uint8_t cmd, int flags, const char *bus,
			     const char *dev, const uint32_t *index)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags, cmd,
			 DL_GENL_VERSION) ||
	    nla_put_string(msg, DL_ATTR_BUS_NAME, bus) ||
	    nla_put_string(msg, DL_ATTR_DEV_NAME, dev) ||
	    (index && nla_put_u32(msg, DL_ATTR_PORT_INDEX, *index))) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

struct dl_session {
	struct iommudirty_ctx *ctx;
	struct nl_sock *sk;
	int family;
};

static void session_close(struct dl_session *s)
{
	if (s->sk)
		s->ctx->sys->nl_close(s->ctx->sys_priv, s->sk);
	s->sk = NULL;
}

/* Open the socket and resolve the family: 0, or -errno with the reason. */
static int session_open(struct dl_session *s, struct iommudirty_migratable *m)
{
	void *sk = NULL;
	int ret = s->ctx->sys->nl_open(s->ctx->sys_priv, &sk);

	if (ret) {
		log_warn(s->ctx, "devlink: no netlink socket: %s", strerror(-ret));
		m->reason = IOMMUDIRTY_REASON_DEVLINK_UNAVAILABLE;
		return ret;
	}
	s->sk = sk;
	s->family = genl_ctrl_resolve(s->sk, DL_GENL_NAME);
	if (s->family < 0) {
		ret = s->family == -NLE_OBJ_NOTFOUND ? -ENOENT : nle_to_errno(s->family);
		log_info(s->ctx, "devlink: generic netlink family \"%s\": %s",
			 DL_GENL_NAME, strerror(-ret));
		m->reason = IOMMUDIRTY_REASON_DEVLINK_UNAVAILABLE;
		session_close(s);
		return ret;
	}
	return 0;
}

/* The state of a port from its GET reply. */
static void port_state(const struct port_pick *pk, struct iommudirty_migratable *m)
{
	m->port = pk->port;
	if (pk->flavour != DL_PORT_FLAVOUR_PCI_VF) {
		m->state = -1;
		m->reason = IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF;
	} else if (!(pk->caps_selector & DL_PORT_FN_CAP_MIGRATABLE)) {
		/* 6.12 reports the cap only when the driver has the op. */
		m->state = -1;
		m->reason = IOMMUDIRTY_REASON_DEVLINK_NO_MIGRATABLE_OP;
	} else if (pk->caps_value & DL_PORT_FN_CAP_MIGRATABLE) {
		m->state = 1;
		m->reason = IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_ON;
	} else {
		m->state = 0;
		m->reason = IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF;
		snprintf(m->hint, sizeof(m->hint),
			 "devlink port function set %s/%s/%u migratable enable",
			 pk->port.bus, pk->port.dev, pk->port.index);
	}
}

/* Find the port (the explicit one, or the VF's) and read it. On success
 * pk->found; else m->reason says why and the return is the errno. */
static int find_port(struct dl_session *s, const char *vf_bdf,
		     const struct iommudirty_devlink_port *given,
		     struct port_pick *pk, struct iommudirty_migratable *m)
{
	struct dl_reply r = { .on_port = pick_port, .arg = pk, .eswitch_mode = -1 };
	char pf[64];
	struct nl_msg *msg;
	int vf_number = -1, ret;

	memset(pk, 0, sizeof(*pk));
	pk->vf_number = -1;
	if (!given) {
		ret = vf_lookup(s->ctx, vf_bdf, pf, sizeof(pf), &vf_number);
		if (ret == -ENOENT) {
			m->reason = IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF;
			return -ENODEV;
		}
		if (ret)
			return ret;
		snprintf(m->port.bus, sizeof(m->port.bus), "pci");
		snprintf(m->port.dev, sizeof(m->port.dev), "%s", pf);
		if (vf_number < 0) {
			m->reason = IOMMUDIRTY_REASON_DEVLINK_NO_PORT;
			return -ENODEV;
		}
		pk->vf_number = vf_number;
	}
	ret = session_open(s, m);
	if (ret)
		return ret;
	if (given)
		msg = dl_msg(s->family, DL_CMD_PORT_GET, 0, given->bus, given->dev,
			     &given->index);
	else
		msg = dl_msg(s->family, DL_CMD_PORT_GET, NLM_F_DUMP, "pci", pf, NULL);
	if (!msg)
		return -ENOMEM;
	ret = transact(s->sk, msg, &r);
	if (ret)
		return ret;
	if (r.err) {
		/* -ENODEV: no such instance or port. */
		log_info(s->ctx, "devlink: PORT_GET %s: %s%s%s",
			 given ? given->dev : pf, strerror(-r.err),
			 r.msg[0] ? ": " : "", r.msg);
		snprintf(m->message, sizeof(m->message), "%s", r.msg);
		m->reason = IOMMUDIRTY_REASON_DEVLINK_UNAVAILABLE;
		return r.err;
	}
	if (pk->found)
		return 0;
	/* No port for the VF: is the PF's eswitch in switchdev mode? */
	memset(&r, 0, sizeof(r));
	r.eswitch_mode = -1;
	msg = dl_msg(s->family, DL_CMD_ESWITCH_GET, 0, "pci", pf, NULL);
	if (!msg)
		return -ENOMEM;
	ret = transact(s->sk, msg, &r);
	if (ret)
		return ret;
	if (!r.err && r.eswitch_mode >= 0 && r.eswitch_mode != DL_ESWITCH_MODE_SWITCHDEV)
		m->reason = IOMMUDIRTY_REASON_DEVLINK_NOT_SWITCHDEV;
	else
		m->reason = IOMMUDIRTY_REASON_DEVLINK_NO_PORT;
	return -ENODEV;
}

static int query(struct iommudirty_ctx *ctx, const char *vf_bdf,
		 const struct iommudirty_devlink_port *port,
		 struct iommudirty_migratable *m)
{
	struct dl_session s = { .ctx = ctx };
	struct port_pick pk;
	int ret;

	if (port)
		m->port = *port;
	m->port.sz = sizeof(m->port);
	ret = find_port(&s, vf_bdf, port, &pk, m);
	session_close(&s);
	if (!ret)
		port_state(&pk, m);
	return ret;
}

static int set(struct iommudirty_ctx *ctx, const char *vf_bdf,
	       const struct iommudirty_devlink_port *port, bool enable,
	       struct iommudirty_migratable *m)
{
	struct dl_session s = { .ctx = ctx };
	struct dl_reply r = { .eswitch_mode = -1 };
	struct port_pick pk;
	struct nl_msg *msg;
	struct nlattr *nest;
	uint32_t bf[2] = { enable ? DL_PORT_FN_CAP_MIGRATABLE : 0,
			   DL_PORT_FN_CAP_MIGRATABLE };
	int ret;

	if (port)
		m->port = *port;
	m->port.sz = sizeof(m->port);
	ret = find_port(&s, vf_bdf, port, &pk, m);
	if (ret) {
		session_close(&s);
		return ret;
	}
	msg = dl_msg(s.family, DL_CMD_PORT_SET, 0, pk.port.bus, pk.port.dev,
		     &pk.port.index);
	if (!msg || !(nest = nla_nest_start(msg, DL_ATTR_PORT_FUNCTION)) ||
	    nla_put(msg, DL_PORT_FN_ATTR_CAPS, sizeof(bf), bf)) {
		nlmsg_free(msg);
		session_close(&s);
		return -ENOMEM;
	}
	nla_nest_end(msg, nest);
	ret = transact(s.sk, msg, &r);
	session_close(&s);
	if (ret)
		return ret;
	if (r.err) {
		log_warn(ctx, "devlink: port %s/%s/%u: migratable %s: %s%s%s",
			 pk.port.bus, pk.port.dev, pk.port.index,
			 enable ? "enable" : "disable", strerror(-r.err),
			 r.msg[0] ? ": " : "", r.msg);
		port_state(&pk, m);
		snprintf(m->message, sizeof(m->message), "%s", r.msg);
		if (!strcmp(r.msg, DL_MSG_MIGRATABLE_VF_ONLY))
			m->reason = IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF;
		else if (!strcmp(r.msg, DL_MSG_NO_MIGRATABLE_OP))
			m->reason = IOMMUDIRTY_REASON_DEVLINK_NO_MIGRATABLE_OP;
		return r.err;
	}
	/* What the kernel says now. */
	memset(m->hint, 0, sizeof(m->hint));
	return query(ctx, vf_bdf, port ? port : &pk.port, m);
}

#else /* !IOMMUDIRTY_HAVE_LIBNL */

static int query(struct iommudirty_ctx *ctx, const char *vf_bdf,
		 const struct iommudirty_devlink_port *port,
		 struct iommudirty_migratable *m)
{
	char pf[64];
	int number;

	if (port)
		m->port = *port;
	m->port.sz = sizeof(m->port);
	/* sysfs needs no netlink: a non-VF is still told so. */
	if (!port && vf_lookup(ctx, vf_bdf, pf, sizeof(pf), &number) == -ENOENT) {
		m->reason = IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF;
		return -ENODEV;
	}
	m->reason = IOMMUDIRTY_REASON_DEVLINK_NO_LIBNL;
	return -EOPNOTSUPP;
}

static int set(struct iommudirty_ctx *ctx, const char *vf_bdf,
	       const struct iommudirty_devlink_port *port, bool enable,
	       struct iommudirty_migratable *m)
{
	(void)enable;
	query(ctx, vf_bdf, port, m);
	/* Nothing can be set without libnl, VF or not. */
	m->reason = IOMMUDIRTY_REASON_DEVLINK_NO_LIBNL;
	return -EOPNOTSUPP;
}

#endif

static bool args_valid(struct iommudirty_ctx *ctx, const char *vf_bdf,
		       const struct iommudirty_devlink_port *port,
		       const struct iommudirty_migratable *out)
{
	if (!ctx || !out || out->sz < MIG_MIN_SZ || (!vf_bdf && !port))
		return false;
	if (port && !port_valid(port))
		return false;
	return port || bdf_valid(vf_bdf);
}

/* A query error that is a fact about the system is answered with 0. */
static bool is_fact(const struct iommudirty_migratable *m)
{
	return m->reason != IOMMUDIRTY_REASON_NONE;
}

IOMMUDIRTY_API int iommudirty_devlink_migratable(struct iommudirty_ctx *ctx,
						 const char *vf_bdf,
						 const struct iommudirty_devlink_port *port,
						 struct iommudirty_migratable *out)
{
	struct iommudirty_migratable m;
	int ret;

	if (!args_valid(ctx, vf_bdf, port, out))
		return ret_err(-EINVAL);
	out_init(&m);
	ret = query(ctx, vf_bdf, port, &m);
	if (ret && !is_fact(&m))
		return ret_err(ret);
	out_copy(&m, out);
	return 0;
}

IOMMUDIRTY_API int iommudirty_devlink_set_migratable(struct iommudirty_ctx *ctx,
						     const char *vf_bdf,
						     const struct iommudirty_devlink_port *port,
						     int enable,
						     struct iommudirty_migratable *out)
{
	struct iommudirty_migratable m;
	int ret;

	if (!args_valid(ctx, vf_bdf, port, out) || (enable != 0 && enable != 1))
		return ret_err(-EINVAL);
	out_init(&m);
	ret = set(ctx, vf_bdf, port, enable, &m);
	out_copy(&m, out);
	return ret_err(ret);
}

/* For iommudirty_device_caps(): the state of the VF behind a device fd, at
 * bind. Never fails: -1 with a reason when it cannot tell. */
void device_probe_devlink(struct iommudirty_ctx *ctx, int fd, int32_t *state,
			  uint32_t *reason)
{
	struct iommudirty_migratable m;
	char bdf[64];
	int ret;

	*state = -1;
	*reason = IOMMUDIRTY_REASON_NO_DEVICE_FD;
	if (fd < 0)
		return;
	ret = ctx->sys->fd_pci_address(ctx->sys_priv, fd, bdf, sizeof(bdf));
	if (ret || !bdf_valid(bdf)) {
		*reason = IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF;
		return;
	}
	out_init(&m);
	ret = query(ctx, bdf, NULL, &m);
	if (ret && !is_fact(&m)) {
		log_warn(ctx, "devlink: %s: %s", bdf, strerror(-ret));
		*reason = IOMMUDIRTY_REASON_DEVLINK_UNAVAILABLE;
		return;
	}
	*state = m.state;
	*reason = m.reason;
}
