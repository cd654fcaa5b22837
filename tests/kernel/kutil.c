// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Guest-side helpers: raw ioctls, the 6.12 mock IOMMU test commands, memory,
 * result lines, and the kernel bed on the real kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kutil.h"
#include "mock_abi.h"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)
#endif

int kioctl(int fd, unsigned long req, void *arg)
{
	int rc = ioctl(fd, req, arg);

	return rc < 0 ? -errno : rc;
}

int mock_domain(int iommufd, uint32_t pt_id, uint32_t dev_flags,
		uint32_t *stdev_id, uint32_t *hwpt_id, uint32_t *idev_id)
{
	struct mock_test_cmd c = {
		.size = sizeof(c),
		.op = dev_flags ? MOCK_OP_MOCK_DOMAIN_FLAGS : MOCK_OP_MOCK_DOMAIN,
		.id = pt_id,
		.mock_domain.dev_flags = dev_flags,
	};
	int rc = kioctl(iommufd, MOCK_IOMMU_TEST_CMD, &c);

	if (rc)
		return rc;
	if (stdev_id)
		*stdev_id = c.mock_domain.out_stdev_id;
	if (hwpt_id)
		*hwpt_id = c.mock_domain.out_hwpt_id;
	if (idev_id)
		*idev_id = c.mock_domain.out_idev_id;
	return 0;
}

int mock_replace(int iommufd, uint32_t stdev_id, uint32_t pt_id,
		 uint32_t *out_hwpt)
{
	struct mock_test_cmd c = {
		.size = sizeof(c),
		.op = MOCK_OP_MOCK_DOMAIN_REPLACE,
		.id = stdev_id,
		.replace.pt_id = pt_id,
	};
	int rc = kioctl(iommufd, MOCK_IOMMU_TEST_CMD, &c);

	if (!rc && out_hwpt)
		*out_hwpt = c.replace.pt_id;
	return rc;
}

int mock_dirty(int iommufd, uint32_t hwpt_id, uint64_t iova, uint64_t length,
	       uint64_t *nr)
{
	uint64_t pages = length / MOCK_IO_PAGE;
	size_t bytes = (pages + 63) / 64 * 8;
	struct mock_test_cmd c = {
		.size = sizeof(c),
		.op = MOCK_OP_DIRTY,
		.id = hwpt_id,
		.dirty.iova = iova,
		.dirty.length = length,
		.dirty.page_size = MOCK_IO_PAGE,
	};
	uint8_t *bm;
	int rc;

	/* Every page of the range is written. */
	bm = malloc(bytes ? bytes : 8);
	if (!bm)
		return -ENOMEM;
	memset(bm, 0, bytes ? bytes : 8);
	for (uint64_t i = 0; i < pages; i++)
		bm[i / 8] |= 1u << (i % 8);
	c.dirty.uptr = (uintptr_t)bm;
	rc = kioctl(iommufd, MOCK_IOMMU_TEST_CMD, &c);
	free(bm);
	if (!rc && nr)
		*nr = c.dirty.out_nr_dirty;
	return rc;
}

void *kmem_alloc(size_t length, bool huge)
{
	void *p;

	if (huge) {
		length = (length + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
		p = mmap(NULL, length, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB,
			 -1, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	p = mmap(NULL, length, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Keep "4 KiB pages" honest: no THP behind the mapping. */
	madvise(p, length, MADV_NOHUGEPAGE);
	return p;
}

void kmem_free(void *p, size_t length, bool huge)
{
	if (!p)
		return;
	if (huge)
		length = (length + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
	munmap(p, length);
}

/* ---- the kernel bed ---- */

struct kmem_rec {
	void *p;
	size_t len;
	bool huge;
};

struct kernel_bed {
	struct kbed b;
	int fd;
	struct kmem_rec mem[16];
	int nr_mem;
};

#define KB(b) ((struct kernel_bed *)(b)->priv)

static int kb_ioctl(struct kbed *b, unsigned long req, void *arg)
{
	return kioctl(KB(b)->fd, req, arg);
}

static int kb_dev_new(struct kbed *b, uint32_t ioas_id, unsigned int flags,
		      struct kbed_dev *out)
{
	uint32_t mflags = 0, stdev, hwpt, idev;
	int rc;

	if (flags & ~(KBED_DEV_HUGE | KBED_DEV_NO_DIRTY))
		return -EINVAL;
	if (flags & KBED_DEV_HUGE)
		mflags |= MOCK_DEV_HUGE_IOVA;
	if (flags & KBED_DEV_NO_DIRTY)
		mflags |= MOCK_DEV_NO_DIRTY;
	rc = mock_domain(KB(b)->fd, ioas_id, mflags, &stdev, &hwpt, &idev);
	if (rc)
		return rc;
	*out = (struct kbed_dev){ .dev_id = idev, .pt_id = hwpt,
				  .priv_id = stdev };
	return 0;
}

static int kb_dev_replace(struct kbed *b, struct kbed_dev *d, uint32_t pt_id)
{
	uint32_t out;
	int rc = mock_replace(KB(b)->fd, d->priv_id, pt_id, &out);

	if (!rc)
		d->pt_id = out;
	return rc;
}

static int kb_dma_write(struct kbed *b, struct kbed_dev *d, uint64_t iova,
			uint64_t length)
{
	return mock_dirty(KB(b)->fd, d->pt_id, iova, length, NULL);
}

static void *kb_mem_alloc(struct kbed *b, size_t length, bool huge)
{
	struct kernel_bed *k = KB(b);
	void *p;

	if (k->nr_mem == (int)(sizeof(k->mem) / sizeof(k->mem[0])))
		return NULL;
	p = kmem_alloc(length, huge);
	if (p)
		k->mem[k->nr_mem++] = (struct kmem_rec){ p, length, huge };
	return p;
}

static void kb_destroy(struct kbed *b)
{
	struct kernel_bed *k = KB(b);

	close(k->fd); /* destroys every object, mock devices included */
	for (int i = 0; i < k->nr_mem; i++)
		kmem_free(k->mem[i].p, k->mem[i].len, k->mem[i].huge);
	free(k);
}

static const struct kbed_ops kernel_bed_ops = {
	.ioctl = kb_ioctl,
	.dev_new = kb_dev_new,
	.dev_replace = kb_dev_replace,
	.dma_write = kb_dma_write,
	.mem_alloc = kb_mem_alloc,
	.destroy = kb_destroy,
};

struct kbed *kbed_kernel_new(void)
{
	struct kernel_bed *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (k->fd < 0) {
		int err = errno;

		free(k);
		errno = err;
		return NULL;
	}
	k->b.name = "kernel";
	k->b.ops = &kernel_bed_ops;
	k->b.priv = k;
	return &k->b;
}

/* ---- output ---- */

/* One write(2) per line so kernel messages do not cut it in two. */
static void kline(const char *s)
{
	size_t n = strlen(s);

	fflush(stdout);
	while (n) {
		ssize_t w = write(1, s, n);

		if (w <= 0)
			break;
		s += w;
		n -= w;
	}
}

void kresult(const char *boot, const char *name, int rc, const char *why)
{
	char line[1024];

	if (rc == 0)
		snprintf(line, sizeof(line), "PASS %s/%s\n", boot, name);
	else if (rc > 0)
		snprintf(line, sizeof(line), "SKIP %s/%s: %s\n", boot, name, why);
	else
		snprintf(line, sizeof(line), "FAIL %s/%s: %s\n", boot, name,
			 why && *why ? why : "(no reason given)");
	kline(line);
}

void kinfo(const char *fmt, ...)
{
	char line[1024] = "INFO ";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line + 5, sizeof(line) - 6, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	kline(line);
}

void run_traps(const char *boot)
{
	char why[512], name[128];

	for (const struct kbed_test *t = kbed_traps; t->name; t++) {
		int rc = kbed_run(kbed_kernel_new, t, why, sizeof(why));

		snprintf(name, sizeof(name), "trap_%s", t->name);
		kresult(boot, name, rc, why);
	}
}

int kwrite_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}
