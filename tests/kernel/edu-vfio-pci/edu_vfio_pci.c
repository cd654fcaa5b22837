// SPDX-License-Identifier: GPL-2.0-only
/*
 * edu-vfio-pci: a vfio-pci variant driver for QEMU's "edu" device
 * (1234:11e8), for libiommudirty's guest tests only. It gives the emulated
 * device what real migration-capable VFIO devices have:
 *
 *  - device DMA logging (struct vfio_log_ops): the driver sees every
 *    command that makes edu write to RAM (BAR0 writes go through it: BAR0
 *    mmap and ioeventfds are refused) and logs the IOVA extent;
 *  - VFIO migration with STOP_COPY only: STOP refuses new DMA commands,
 *    the saved state is edu's DMA registers;
 *  - a devlink instance on the PCI device (pci/<BDF>) with three ports for
 *    the port-function capability "migratable" (see struct edu_dl).
 *
 * Bind with driver_override (the id table is override-only). Parameters:
 * edu_vfio_pci.dma_mask= (edu's "dma_mask" property, 28 bits by default),
 * edu_vfio_pci.trace=1 (what the core hands the driver, to the kernel log).
 */
#include <linux/anon_inodes.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/interval_tree.h>
#include <linux/io-64-nonatomic-lo-hi.h> /* before vfio_pci_core.h: ioread64 */
#include <linux/iova_bitmap.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>
#include <net/devlink.h>

/* edu's BAR0 registers (QEMU hw/misc/edu.c). */
#define EDU_REG_ID	0x00
#define EDU_REG_SRC	0x80
#define EDU_REG_DST	0x88
#define EDU_REG_CNT	0x90
#define EDU_REG_CMD	0x98
#define EDU_CMD_RUN	0x1
#define EDU_CMD_TO_RAM	0x2
/* More extents than this between two reports: merge them into one. */
#define EDU_MAX_EXTENTS	1024

static ulong dma_mask = (1UL << 28) - 1;
module_param(dma_mask, ulong, 0644);
MODULE_PARM_DESC(dma_mask, "edu's DMA address mask (QEMU property dma_mask)");
static bool trace_on;
module_param_named(trace, trace_on, bool, 0644);
MODULE_PARM_DESC(trace, "log the ranges, commands and reports to the kernel log");

struct edu_extent {			/* inclusive: no overflow at 2^64 */
	struct list_head node;
	u64 first, last;
};

struct edu_mig_data {
	u32 magic;
	u32 id;
	u64 regs[3];			/* src, dst, cnt */
};
#define EDU_MIG_MAGIC 0x4d554445	/* "EDUM" */

struct edu_migf {
	struct file *filp;
	struct mutex lock;
	bool disabled;
	size_t len;			/* bytes filled (resume) */
	struct edu_mig_data data;
};

struct edu_vdev {
	struct vfio_pci_core_device core;	/* first: vfio_alloc_device */
	struct mutex lock;		/* BAR0 writes, the log, migration */
	/* The log. */
	bool logging;
	u64 page_size;
	u32 nranges;
	struct interval_tree_node *ranges;	/* copies: the core frees its own */
	struct list_head dirty;		/* sorted, disjoint extents */
	unsigned int nextents;
	/* The last device->RAM DMA, kept even with logging off. */
	bool inflight;
	u64 fl_first, fl_last;
	/* Migration. */
	enum vfio_device_mig_state mig_state;
	struct edu_migf *migf;
	struct devlink *devlink;	/* priv: struct edu_dl */
};

#define edu_trace(e, fmt, ...) do { if (trace_on) \
	pci_info((e)->core.pdev, fmt, ##__VA_ARGS__); } while (0)

static struct edu_vdev *to_edu(struct vfio_device *vdev)
{
	return container_of(vdev, struct edu_vdev, core.vdev);
}

static int edu_rd32(struct edu_vdev *e, u32 reg, u32 *v)
{
	int ret = vfio_pci_core_setup_barmap(&e->core, 0);

	return ret ?: vfio_pci_core_ioread32(&e->core, true, v, e->core.barmap[0] + reg);
}

static int edu_rd64(struct edu_vdev *e, u32 reg, u64 *v)
{
	int ret = vfio_pci_core_setup_barmap(&e->core, 0);

	return ret ?: vfio_pci_core_ioread64(&e->core, true, v, e->core.barmap[0] + reg);
}

/* ---- the dirty extents ---- */

static void edu_free_extents(struct edu_vdev *e)
{
	struct edu_extent *x, *n;

	list_for_each_entry_safe(x, n, &e->dirty, node)
		kfree(x);
	INIT_LIST_HEAD(&e->dirty);
	e->nextents = 0;
}

/* Add [first, last], merging what it overlaps or touches. */
static int edu_add_extent(struct edu_vdev *e, u64 first, u64 last)
{
	struct edu_extent *x, *n, *new = kmalloc(sizeof(*new), GFP_KERNEL);
	struct list_head *pos = &e->dirty;

	if (!new)
		return -ENOMEM;
	if (e->nextents >= EDU_MAX_EXTENTS) {	/* over-report, stay bounded */
		x = list_first_entry(&e->dirty, struct edu_extent, node);
		first = min(first, x->first);
		last = max(last, list_last_entry(&e->dirty, struct edu_extent, node)->last);
	}
	list_for_each_entry_safe(x, n, &e->dirty, node) {
		if (x->last < first && x->last + 1 != first) {
			pos = &x->node;
			continue;
		}
		if (x->first > last && x->first - 1 != last)
			break;
		first = min(first, x->first);
		last = max(last, x->last);
		list_del(&x->node);
		kfree(x);
		e->nextents--;
	}
	new->first = first;
	new->last = last;
	list_add(&new->node, pos);
	e->nextents++;
	return 0;
}

/* Log what a DMA to [first, last] touches of the tracked ranges, in whole
 * log pages. */
static int edu_mark(struct edu_vdev *e, u64 first, u64 last)
{
	int ret = 0;

	for (u32 i = 0; i < e->nranges && !ret; i++) {
		u64 s = max_t(u64, first, e->ranges[i].start);
		u64 l = min_t(u64, last, e->ranges[i].last);

		if (s <= l)
			ret = edu_add_extent(e, s & ~(e->page_size - 1),
					     l | (e->page_size - 1));
	}
	return ret;
}

/* edu writes RAM up to 100 ms after the command: each report re-marks
 * the extent while RUN is set and once more after (a report between the
 * command and the copy must not clear it for good). At log_start, only a
 * DMA still running counts. */
static int edu_mark_inflight(struct edu_vdev *e, bool at_start)
{
	bool running = true;	/* unreadable (memory space off): assume so */
	u32 cmd;

	if (!e->inflight)
		return 0;
	if (!edu_rd32(e, EDU_REG_CMD, &cmd))
		running = cmd & EDU_CMD_RUN;
	e->inflight = running;
	if (!e->logging || (at_start && !running))
		return 0;
	return edu_mark(e, e->fl_first, e->fl_last);
}

/* ---- vfio_log_ops ---- */

static void edu_log_reset(struct edu_vdev *e)
{
	edu_free_extents(e);
	kfree(e->ranges);
	e->ranges = NULL;
	e->nranges = 0;
	e->logging = false;
}

static int edu_log_start(struct vfio_device *vdev, struct rb_root_cached *ranges,
			 u32 nnodes, u64 *page_size)
{
	struct edu_vdev *e = to_edu(vdev);
	struct interval_tree_node *node;
	u64 ps = clamp_t(u64, *page_size, SZ_4K, SZ_1G);
	u32 i = 0;
	int ret = 0;

	mutex_lock(&e->lock);
	if (e->logging) {		/* the core does not track this */
		mutex_unlock(&e->lock);
		return -EBUSY;
	}
	e->ranges = kcalloc(nnodes, sizeof(*e->ranges), GFP_KERNEL);
	ret = e->ranges ? 0 : -ENOMEM;
	for (node = ret ? NULL : interval_tree_iter_first(ranges, 0, ULONG_MAX); node;
	     node = interval_tree_iter_next(node, 0, ULONG_MAX)) {
		edu_trace(e, "log_start: range %#lx-%#lx\n", node->start, node->last);
		/* A zero-length range passes the core as [iova, iova - 1],
		 * and {0, 0} as [0, ULONG_MAX]; no real range ends there. */
		if (i == nnodes || node->last < node->start || node->last == ULONG_MAX) {
			ret = -EINVAL;
			break;
		}
		e->ranges[i].start = node->start;
		e->ranges[i++].last = node->last;
	}
	if (!ret && i != nnodes)
		ret = -EINVAL;
	if (!ret) {
		e->nranges = nnodes;
		e->page_size = roundup_pow_of_two(ps);
		e->logging = true;
		*page_size = e->page_size;
		edu_trace(e, "log_start: %u ranges, page size %#llx\n", nnodes, e->page_size);
		/* A DMA started before logging and still running counts. */
		ret = edu_mark_inflight(e, true);
	}
	if (ret)
		edu_log_reset(e);
	mutex_unlock(&e->lock);
	return ret;
}

static int edu_log_stop(struct vfio_device *vdev)
{
	struct edu_vdev *e = to_edu(vdev);

	mutex_lock(&e->lock);
	edu_log_reset(e);
	mutex_unlock(&e->lock);
	return 0;
}

static int edu_log_read_and_clear(struct vfio_device *vdev, unsigned long iova,
				  unsigned long length, struct iova_bitmap *dirty)
{
	struct edu_vdev *e = to_edu(vdev);
	u64 last = iova + length - 1;	/* the core refused an overflow */
	struct edu_extent *x, *n;
	int ret;

	mutex_lock(&e->lock);
	edu_trace(e, "read_and_clear: %#lx+%#lx\n", iova, length);
	ret = e->logging ? edu_mark_inflight(e, false) : -EINVAL;
	if (ret || !length)	/* the core lets length 0 through */
		goto out;
	list_for_each_entry_safe(x, n, &e->dirty, node) {
		u64 s = max_t(u64, x->first, iova), l = min_t(u64, x->last, last);

		if (x->last < iova)
			continue;
		if (x->first > last)
			break;
		iova_bitmap_set(dirty, s, l - s + 1);
		/* Clear only what was reported: the rest stays for the
		 * report of its own range. */
		if (x->first < s && x->last > l) {
			struct edu_extent *right = kmalloc(sizeof(*right), GFP_KERNEL);

			if (!right)
				continue;	/* keep it whole: reported again */
			right->first = l + 1;
			right->last = x->last;
			list_add(&right->node, &x->node);
			e->nextents++;
			x->last = s - 1;
		} else if (x->first < s) {
			x->last = s - 1;
		} else if (x->last > l) {
			x->first = l + 1;
		} else {
			list_del(&x->node);
			kfree(x);
			e->nextents--;
		}
	}
out:
	mutex_unlock(&e->lock);
	return ret;
}

static const struct vfio_log_ops edu_log_ops = {
	.log_start = edu_log_start,
	.log_stop = edu_log_stop,
	.log_read_and_clear = edu_log_read_and_clear,
};

/* ---- BAR0 writes ---- */

/*
 * A write starting at the command register with 4 or 8 bytes (edu ignores
 * narrower ones there). Called under e->lock with every earlier byte of
 * the user's write already forwarded, so dst/cnt are what edu will use.
 */
static int edu_command(struct edu_vdev *e, const char __user *buf)
{
	u32 val, cmd;
	u64 dst, cnt;
	int ret;

	if (copy_from_user(&val, buf, sizeof(val)))
		return -EFAULT;
	if (!(val & EDU_CMD_RUN))
		return 0;
	ret = edu_rd32(e, EDU_REG_CMD, &cmd);
	if (ret)
		return ret;
	if (cmd & EDU_CMD_RUN)		/* edu ignores it while running */
		return 0;
	if (e->mig_state != VFIO_DEVICE_STATE_RUNNING)
		return -EBUSY;
	ret = edu_rd64(e, EDU_REG_DST, &dst);
	if (!ret)
		ret = edu_rd64(e, EDU_REG_CNT, &cnt);
	/* The previous DMA has ended: its last re-mark, as a report would. */
	if (!ret && e->inflight && e->logging)
		ret = edu_mark(e, e->fl_first, e->fl_last);
	if (ret)
		return ret;
	e->inflight = (val & EDU_CMD_TO_RAM) && cnt;
	if (!e->inflight)
		return 0;
	e->fl_first = dst & dma_mask;	/* edu keeps 64 bits, masks at DMA */
	e->fl_last = e->fl_first + min_t(u64, cnt - 1, U64_MAX - e->fl_first);
	edu_trace(e, "DMA to RAM %#llx-%#llx%s\n", e->fl_first, e->fl_last,
		  e->logging ? "" : " (not logging)");
	/* Logged before edu sees the command: no report can miss it. */
	return e->logging ? edu_mark(e, e->fl_first, e->fl_last) : 0;
}

static ssize_t edu_write(struct vfio_device *vdev, const char __user *buf,
			 size_t count, loff_t *ppos)
{
	struct edu_vdev *e = to_edu(vdev);
	u64 pos = *ppos & VFIO_PCI_OFFSET_MASK;
	ssize_t done = 0, ret;

	if (VFIO_PCI_OFFSET_TO_INDEX(*ppos) != VFIO_PCI_BAR0_REGION_INDEX)
		return vfio_pci_core_write(vdev, buf, count, ppos);
	/* Every BAR0 write: dst/cnt cannot change between read and command. */
	mutex_lock(&e->lock);
	if (pos < EDU_REG_CMD && pos + count > EDU_REG_CMD) {
		/* e.g. cnt + cmd in one 16-byte write: cnt first. */
		done = vfio_pci_core_write(vdev, buf, EDU_REG_CMD - pos, ppos);
		if (done != EDU_REG_CMD - pos)
			goto out;
		buf += done;
		count -= done;
		pos = EDU_REG_CMD;
	}
	if (pos == EDU_REG_CMD && count >= 4) {
		ret = edu_command(e, buf);
		if (ret) {
			done = done ?: ret;
			goto out;
		}
	}
	ret = vfio_pci_core_write(vdev, buf, count, ppos);
	done = ret < 0 ? (done ?: ret) : done + ret;
out:
	mutex_unlock(&e->lock);
	return done;
}

/* ---- migration: STOP_COPY only ---- */

#define ST(x) VFIO_DEVICE_STATE_##x
static const u32 edu_mig_regs[3] = { EDU_REG_SRC, EDU_REG_DST, EDU_REG_CNT };

static ssize_t edu_save_read(struct file *filp, char __user *buf, size_t len,
			     loff_t *pos)
{
	struct edu_migf *m = filp->private_data;
	ssize_t ret;

	if (pos)			/* stream_open(): no pread */
		return -ESPIPE;
	mutex_lock(&m->lock);
	ret = m->disabled ? -ENODEV :
	      simple_read_from_buffer(buf, len, &filp->f_pos, &m->data, sizeof(m->data));
	mutex_unlock(&m->lock);
	return ret;
}

static ssize_t edu_resume_write(struct file *filp, const char __user *buf,
				size_t len, loff_t *pos)
{
	struct edu_migf *m = filp->private_data;
	ssize_t ret;

	if (pos)
		return -ESPIPE;
	mutex_lock(&m->lock);
	if (m->disabled)
		ret = -ENODEV;
	else if (filp->f_pos + len > sizeof(m->data))
		ret = -EFBIG;
	else
		ret = simple_write_to_buffer(&m->data, sizeof(m->data), &filp->f_pos, buf, len);
	if (ret > 0)
		m->len = max_t(size_t, m->len, filp->f_pos);
	mutex_unlock(&m->lock);
	return ret;
}

static int edu_migf_release(struct inode *inode, struct file *filp)
{
	struct edu_migf *m = filp->private_data;

	mutex_destroy(&m->lock);
	kfree(m);
	return 0;
}

static const struct file_operations edu_save_fops = {
	.owner = THIS_MODULE,
	.read = edu_save_read,
	.release = edu_migf_release,
};

static const struct file_operations edu_resume_fops = {
	.owner = THIS_MODULE,
	.write = edu_resume_write,
	.release = edu_migf_release,
};

static struct edu_migf *edu_migf_new(bool save)
{
	struct edu_migf *m = kzalloc(sizeof(*m), GFP_KERNEL);
	struct file *f;

	if (!m)
		return ERR_PTR(-ENOMEM);
	f = anon_inode_getfile("edu_mig", save ? &edu_save_fops : &edu_resume_fops,
			       m, save ? O_RDONLY : O_WRONLY);
	if (IS_ERR(f)) {
		kfree(m);
		return ERR_CAST(f);
	}
	stream_open(f->f_inode, f);
	mutex_init(&m->lock);
	m->filp = f;
	return m;
}

/* Leaving a data state: the user's fd reads/writes nothing more. */
static void edu_migf_put(struct edu_vdev *e)
{
	if (!e->migf)
		return;
	mutex_lock(&e->migf->lock);
	e->migf->disabled = true;
	mutex_unlock(&e->migf->lock);
	fput(e->migf->filp);
	e->migf = NULL;
}

/* One arc of the FSM (vfio_mig_get_next_state() picks them). */
static struct file *edu_mig_step(struct edu_vdev *e, enum vfio_device_mig_state next)
{
	enum vfio_device_mig_state cur = e->mig_state;
	struct edu_migf *m = e->migf;
	int i, ret = 0;
	u32 v;

	if (cur == ST(RUNNING) && next == ST(STOP)) {
		/* Let a running DMA end (~100 ms); commands then get -EBUSY. */
		for (i = 0; i < 100; i++) {
			if (edu_rd32(e, EDU_REG_CMD, &v) || !(v & EDU_CMD_RUN))
				return NULL;
			msleep(5);
		}
		return ERR_PTR(-EBUSY);
	}
	if (cur == ST(STOP) && next == ST(RUNNING))
		return NULL;
	if (cur == ST(STOP) && (next == ST(STOP_COPY) || next == ST(RESUMING))) {
		m = edu_migf_new(next == ST(STOP_COPY));
		if (IS_ERR(m))
			return ERR_CAST(m);
		/* edu's id and DMA registers; its 4 KiB buffer is not
		 * readable over MMIO and is not migrated. */
		if (next == ST(STOP_COPY)) {
			m->data.magic = EDU_MIG_MAGIC;
			ret = edu_rd32(e, EDU_REG_ID, &m->data.id);
			for (i = 0; i < 3 && !ret; i++)
				ret = edu_rd64(e, edu_mig_regs[i], &m->data.regs[i]);
		}
		if (ret) {
			fput(m->filp);
			return ERR_PTR(ret);
		}
		e->migf = m;
		return get_file(m->filp);	/* ours stays in e->migf */
	}
	if (cur == ST(RESUMING) && next == ST(STOP)) {
		mutex_lock(&m->lock);
		ret = edu_rd32(e, EDU_REG_ID, &v);
		if (!ret && (m->len != sizeof(m->data) || m->data.magic != EDU_MIG_MAGIC ||
			     m->data.id != v))
			ret = -EINVAL;
		for (i = 0; i < 3 && !ret; i++)
			ret = vfio_pci_core_iowrite64(&e->core, true, m->data.regs[i],
						      e->core.barmap[0] + edu_mig_regs[i]);
		mutex_unlock(&m->lock);
		if (ret)
			return ERR_PTR(ret);
	}
	if (next == ST(STOP) && (cur == ST(STOP_COPY) || cur == ST(RESUMING))) {
		edu_migf_put(e);
		return NULL;
	}
	return ERR_PTR(-EINVAL);	/* an arc a STOP_COPY-only device lacks */
}

static struct file *edu_mig_set_state(struct vfio_device *vdev,
				      enum vfio_device_mig_state new)
{
	struct edu_vdev *e = to_edu(vdev);
	enum vfio_device_mig_state next;
	struct file *res = NULL;
	int ret;

	mutex_lock(&e->lock);
	while (e->mig_state != new) {
		ret = vfio_mig_get_next_state(vdev, e->mig_state, new, &next);
		if (ret) {
			res = ERR_PTR(ret);
			break;
		}
		res = edu_mig_step(e, next);
		if (IS_ERR(res))
			break;
		e->mig_state = next;
		if (WARN_ON(res && next != new)) {
			fput(res);
			res = ERR_PTR(-EINVAL);
			break;
		}
	}
	mutex_unlock(&e->lock);
	return res;
}

static int edu_mig_get_state(struct vfio_device *vdev, enum vfio_device_mig_state *state)
{
	struct edu_vdev *e = to_edu(vdev);

	mutex_lock(&e->lock);
	*state = e->mig_state;
	mutex_unlock(&e->lock);
	return 0;
}

static int edu_mig_data_size(struct vfio_device *vdev, unsigned long *len)
{
	*len = sizeof(struct edu_mig_data);
	return 0;
}

static const struct vfio_migration_ops edu_mig_ops = {
	.migration_set_state = edu_mig_set_state,
	.migration_get_state = edu_mig_get_state,
	.migration_get_data_size = edu_mig_data_size,
};

/* ---- devlink ----
 *
 * What mlx5 offers on a PF's eswitch for the VFIO migration of its VFs,
 * on an emulated device with no VFs: an instance pci/<edu's BDF> and three
 * ports with fixed indexes, so that devlink's own checks and netlink code
 * run for each case:
 *   1: flavour PCI_VF (pf 0, vf 0), migratable get/set: the success path;
 *   2: flavour PCI_VF (pf 0, vf 1), no port ops: the kernel refuses
 *      "Port doesn't support migratable function attribute";
 *   3: flavour PCI_PF (pf 0), migratable get/set: the kernel refuses
 *      "migratable function attribute supported for VFs only" and never
 *      calls the driver (nor reports the capability).
 * The eswitch mode starts in switchdev and can be set to legacy; in legacy
 * mode the driver refuses to change migratable (-EOPNOTSUPP, see
 * EDU_DL_MSG_LEGACY). The state lives here, initially off; every op runs
 * under the devlink instance lock. Nothing of it touches the device.
 */
#define EDU_DL_PORT_VF		1
#define EDU_DL_PORT_VF_NO_OP	2
#define EDU_DL_PORT_PF		3
#define EDU_DL_NPORTS		3
#define EDU_DL_MSG_LEGACY	"edu-vfio-pci: eswitch is in legacy mode, migratable needs switchdev"

struct edu_dl {
	struct devlink_port ports[EDU_DL_NPORTS];	/* index - 1 */
	bool migratable[EDU_DL_NPORTS];
	u16 eswitch_mode;
};

static bool *edu_dl_state(struct devlink_port *port)
{
	struct edu_dl *dl = devlink_priv(port->devlink);

	return &dl->migratable[port->index - 1];
}

static int edu_dl_migratable_get(struct devlink_port *port, bool *is_enable,
				 struct netlink_ext_ack *extack)
{
	*is_enable = *edu_dl_state(port);
	return 0;
}

static int edu_dl_migratable_set(struct devlink_port *port, bool enable,
				 struct netlink_ext_ack *extack)
{
	struct edu_dl *dl = devlink_priv(port->devlink);

	if (dl->eswitch_mode != DEVLINK_ESWITCH_MODE_SWITCHDEV) {
		NL_SET_ERR_MSG(extack, EDU_DL_MSG_LEGACY);
		return -EOPNOTSUPP;
	}
	*edu_dl_state(port) = enable;
	if (trace_on)
		dev_info(devlink_to_dev(port->devlink), "devlink port %u: migratable %s\n",
			 port->index, enable ? "on" : "off");
	return 0;
}

static const struct devlink_port_ops edu_dl_port_ops = {
	.port_fn_migratable_get = edu_dl_migratable_get,
	.port_fn_migratable_set = edu_dl_migratable_set,
};

static int edu_dl_eswitch_mode_get(struct devlink *devlink, u16 *mode)
{
	*mode = ((struct edu_dl *)devlink_priv(devlink))->eswitch_mode;
	return 0;
}

static int edu_dl_eswitch_mode_set(struct devlink *devlink, u16 mode,
				   struct netlink_ext_ack *extack)
{
	if (mode != DEVLINK_ESWITCH_MODE_LEGACY && mode != DEVLINK_ESWITCH_MODE_SWITCHDEV) {
		NL_SET_ERR_MSG(extack, "edu-vfio-pci: eswitch modes: legacy, switchdev");
		return -EINVAL;
	}
	((struct edu_dl *)devlink_priv(devlink))->eswitch_mode = mode;
	return 0;
}

static const struct devlink_ops edu_dl_ops = {
	.eswitch_mode_get = edu_dl_eswitch_mode_get,
	.eswitch_mode_set = edu_dl_eswitch_mode_set,
};

static void edu_dl_ports_unregister(struct edu_dl *dl, int n)
{
	while (n-- > 0)
		devl_port_unregister(&dl->ports[n]);
}

/* Published last in probe (the VFIO device already works), withdrawn first
 * in remove: no devlink request reaches a half-built or half-gone device. */
static struct devlink *edu_dl_create(struct device *dev)
{
	static const struct {
		unsigned int index;
		enum devlink_port_flavour flavour;
		u16 vf;
		const struct devlink_port_ops *ops;
	} spec[EDU_DL_NPORTS] = {
		{ EDU_DL_PORT_VF, DEVLINK_PORT_FLAVOUR_PCI_VF, 0, &edu_dl_port_ops },
		{ EDU_DL_PORT_VF_NO_OP, DEVLINK_PORT_FLAVOUR_PCI_VF, 1, NULL },
		{ EDU_DL_PORT_PF, DEVLINK_PORT_FLAVOUR_PCI_PF, 0, &edu_dl_port_ops },
	};
	struct devlink *devlink;
	struct edu_dl *dl;
	int i, ret = 0;

	devlink = devlink_alloc(&edu_dl_ops, sizeof(*dl), dev);
	if (!devlink)
		return ERR_PTR(-ENOMEM);
	dl = devlink_priv(devlink);
	dl->eswitch_mode = DEVLINK_ESWITCH_MODE_SWITCHDEV;
	devl_lock(devlink);
	for (i = 0; i < EDU_DL_NPORTS; i++) {
		struct devlink_port *port = &dl->ports[spec[i].index - 1];

		if (spec[i].flavour == DEVLINK_PORT_FLAVOUR_PCI_VF)
			devlink_port_attrs_pci_vf_set(port, 0, 0, spec[i].vf, false);
		else
			devlink_port_attrs_pci_pf_set(port, 0, 0, false);
		ret = devl_port_register_with_ops(devlink, port, spec[i].index, spec[i].ops);
		if (ret)
			break;
	}
	if (!ret)
		ret = devl_register(devlink);
	if (ret)
		edu_dl_ports_unregister(dl, i);
	devl_unlock(devlink);
	if (ret) {
		devlink_free(devlink);
		return ERR_PTR(ret);
	}
	return devlink;
}

static void edu_dl_destroy(struct devlink *devlink)
{
	devl_lock(devlink);
	devl_unregister(devlink);
	edu_dl_ports_unregister(devlink_priv(devlink), EDU_DL_NPORTS);
	devl_unlock(devlink);
	devlink_free(devlink);
}

/* ---- vfio_device_ops ---- */

static int edu_init(struct vfio_device *vdev)
{
	struct edu_vdev *e = to_edu(vdev);

	mutex_init(&e->lock);
	INIT_LIST_HEAD(&e->dirty);
	return vfio_pci_core_init_dev(vdev);
}

static void edu_release(struct vfio_device *vdev)
{
	mutex_destroy(&to_edu(vdev)->lock);
	vfio_pci_core_release_dev(vdev);
}

static int edu_open_device(struct vfio_device *vdev)
{
	struct edu_vdev *e = to_edu(vdev);
	int ret = vfio_pci_core_enable(&e->core);

	if (ret)
		return ret;
	vfio_pci_core_finish_enable(&e->core);
	/* After finish_enable, which recomputes it: a BAR0 mapping would
	 * let the user start DMA the driver never sees. */
	e->core.bar_mmap_supported[0] = false;
	e->mig_state = VFIO_DEVICE_STATE_RUNNING;
	return 0;
}

static void edu_close_device(struct vfio_device *vdev)
{
	struct edu_vdev *e = to_edu(vdev);

	mutex_lock(&e->lock);
	edu_log_reset(e);
	edu_migf_put(e);
	e->mig_state = VFIO_DEVICE_STATE_RUNNING;
	mutex_unlock(&e->lock);
	vfio_pci_core_close_device(vdev);
}

static long edu_ioctl(struct vfio_device *vdev, unsigned int cmd, unsigned long arg)
{
	struct edu_vdev *e = to_edu(vdev);
	long ret;

	/* An ioeventfd writes BAR0 behind the driver's back. Refused
	 * outright: checking its offset here and letting the core re-read
	 * the user's struct would race. */
	if (cmd == VFIO_DEVICE_IOEVENTFD)
		return -EOPNOTSUPP;
	ret = vfio_pci_core_ioctl(vdev, cmd, arg);
	if (cmd == VFIO_DEVICE_RESET && !ret) {	/* uAPI: back to RUNNING */
		mutex_lock(&e->lock);
		edu_migf_put(e);
		e->mig_state = VFIO_DEVICE_STATE_RUNNING;
		mutex_unlock(&e->lock);
	}
	return ret;
}

static const struct vfio_device_ops edu_ops = {
	.name = "edu-vfio-pci",
	.init = edu_init,
	.release = edu_release,
	.open_device = edu_open_device,
	.close_device = edu_close_device,
	.ioctl = edu_ioctl,
	.device_feature = vfio_pci_core_ioctl_feature,
	.read = vfio_pci_core_read,
	.write = edu_write,
	.mmap = vfio_pci_core_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
	.bind_iommufd = vfio_iommufd_physical_bind,
	.unbind_iommufd = vfio_iommufd_physical_unbind,
	.attach_ioas = vfio_iommufd_physical_attach_ioas,
	.detach_ioas = vfio_iommufd_physical_detach_ioas,
};

static int edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct edu_vdev *e;
	int ret;

	e = vfio_alloc_device(edu_vdev, core.vdev, &pdev->dev, &edu_ops);
	if (IS_ERR(e))
		return PTR_ERR(e);
	/* Static properties: set before registering. */
	e->core.vdev.log_ops = &edu_log_ops;
	e->core.vdev.mig_ops = &edu_mig_ops;
	e->core.vdev.migration_flags = VFIO_MIGRATION_STOP_COPY;
	dev_set_drvdata(&pdev->dev, &e->core);
	ret = vfio_pci_core_register_device(&e->core);
	if (ret)
		goto put;
	e->devlink = edu_dl_create(&pdev->dev);
	if (!IS_ERR(e->devlink))
		return 0;
	ret = PTR_ERR(e->devlink);
	vfio_pci_core_unregister_device(&e->core);
put:
	vfio_put_device(&e->core.vdev);
	return ret;
}

static void edu_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *core = dev_get_drvdata(&pdev->dev);

	edu_dl_destroy(container_of(core, struct edu_vdev, core)->devlink);
	vfio_pci_core_unregister_device(core);
	vfio_put_device(&core->vdev);
}

/* Override-only: nothing binds edu unless driver_override asks. */
static const struct pci_device_id edu_ids[] = {
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(0x1234, 0x11e8) },
	{}
};
MODULE_DEVICE_TABLE(pci, edu_ids);

static struct pci_driver edu_driver = {
	.name = "edu-vfio-pci",
	.id_table = edu_ids,
	.probe = edu_probe,
	.remove = edu_remove,
	.err_handler = &vfio_pci_core_err_handlers,
	.driver_managed_dma = true,
};
module_pci_driver(edu_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-pci variant driver for QEMU's edu device: DMA logging, STOP_COPY (test only)");
MODULE_IMPORT_NS(IOMMUFD);
