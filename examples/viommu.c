/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A guest with a vIOMMU: the device's IOVAs are what the guest programmed,
 * not guest-physical addresses, two IOVAs may alias one guest page, and
 * the guest unmaps and remaps while migration runs. The VMM's dirty log is
 * indexed by guest page; give each shadow mapping its guest address as it
 * is made (map_guest) and read in guest space (read_guest): aliases are
 * OR-ed and bits of a mapping the guest removed are kept for the next
 * read.
 *
 *   viommu                          on the simulated kernel
 *   viommu /dev/vfio/devices/vfio0  on the real kernel
 *
 * The IOVAs below are the guest's (under 2 GiB); a VMM reports the host
 * IOMMU's reserved ranges to the guest, which then never maps there. On the
 * real kernel the example makes no device write itself: it prints the
 * device's source and the dirty guest pages the read found. Exit status: 0
 * done, 1 failed (the error on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <iommudirty.h>

#define PAGE 4096ull
#define RAM_SIZE (16ull << 20) /* guest-physical [0, 16 MiB) */
#define NBITS (RAM_SIZE / PAGE)

static struct iommudirty_sim *sim;
static int sdev;
static struct iommudirty_tracker *t;
static char *ram; /* the VMM's mapping of guest RAM: gpa x is ram + x */

static int fail(const char *what, int err)
{
	fprintf(stderr, "viommu: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

/* The guest programmed iova -> gpa in its vIOMMU: the VMM shadows it in
 * the real IOMMU with its guest address in the same call, so no read can
 * see the device's first writes at the IOVA instead of the guest page. */
static int guest_map(uint64_t iova, uint64_t gpa, uint64_t len)
{
	return iommudirty_tracker_map_guest(t, ram + gpa, len, iova, gpa,
					    IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE);
}

static int device_writes(uint64_t iova)
{
	return sim ? iommudirty_sim_dma_write(sim, sdev, iova, 8, "dma data") : 0;
}

int main(int argc, char **argv)
{
	struct iommudirty_ctx *ctx;
	struct iommudirty_device *dev;
	uint64_t log[NBITS / 64]; /* the VMM's dirty log: bit i = guest page i */
	int fd, ret;

	if (argc > 1) {
		printf("kernel: real, /dev/iommu and %s\n", argv[1]);
		fd = open(argv[1], O_RDWR | O_CLOEXEC);
	} else {
		printf("kernel: simulated (libiommudirty sim)\n");
		sim = iommudirty_sim_new(NULL);
		if (!sim || iommudirty_sim_add_iommu(sim, NULL) < 0)
			return fail("sim", ENOMEM);
		sdev = iommudirty_sim_add_device(sim, 0);
		fd = iommudirty_sim_open_device(sim, sdev);
	}
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co, .sim = sim);
	if (fd < 0 || !(ctx = iommudirty_ctx_new(&co)))
		return fail("open the device or /dev/iommu", errno);
	if ((ret = iommudirty_device_bind(ctx, fd, &dev)) ||
	    (ret = iommudirty_tracker_new(ctx, NULL, &t)) || (ret = iommudirty_tracker_attach(t, dev)))
		return fail("bind and attach", ret);
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		return fail("guest RAM", ENOMEM);

	/* The guest's vIOMMU mappings (IOVA -> guest-physical):
	 *   0x10000000 + 16 pages -> 0x200000: a DMA buffer
	 *   0x30000000 + 1 page   -> 0x205000: aliases page 5 of that buffer
	 *   0x50000000 + 4 pages  -> 0x800000: a ring, remapped below */
	if ((ret = guest_map(0x10000000, 0x200000, 16 * PAGE)) ||
	    (ret = guest_map(0x30000000, 0x205000, PAGE)) ||
	    (ret = guest_map(0x50000000, 0x800000, 4 * PAGE)) || (ret = iommudirty_tracker_start(t)))
		return fail("map and start", ret);
	if (!sim) {
		struct iommudirty_source_info si = { .sz = sizeof(si) };

		if (iommudirty_tracker_source_info(t, 0, &si) < 0)
			return fail("source info", errno);
		printf("%s: source %s, %s\n", argv[1], iommudirty_source_str(si.source),
		       si.precise ? "precise" : "conservative");
	}

	/* The device writes guest page 0x205 through both aliases, and guest
	 * page 0x801 through the ring. */
	if (device_writes(0x10005000) || device_writes(0x30000000) || device_writes(0x50001000))
		return fail("device write", errno);
	/* The guest tears down the ring's mapping (a vIOMMU invalidation) and
	 * maps the same IOVA to another guest page. The unmap keeps the
	 * ring's dirty bit in guest space: page 0x801 is still reported. The
	 * device must be done with the old mapping (the guest's contract); if
	 * it might not be, use unmap_dirty with IOMMUDIRTY_UNMAP_ATOMIC (see
	 * hotunplug.c). */
	if ((ret = iommudirty_tracker_unmap(t, 0x50000000, 4 * PAGE)) ||
	    (ret = guest_map(0x50000000, 0x900000, 4 * PAGE)))
		return fail("guest unmap and remap", ret);
	if (device_writes(0x50000000))
		return fail("device write", errno);

	/* One read of the VMM's whole guest space, in guest pages. */
	if ((ret = iommudirty_tracker_read_guest(t, 0, RAM_SIZE, PAGE, log, sizeof(log), 0)))
		return fail("read_guest", ret);
	printf("dirty guest pages:");
	for (uint64_t i = 0; i < NBITS; i++)
		if (log[i / 64] & (1ull << (i % 64)))
			printf(" %#llx", (unsigned long long)(i * PAGE));
	printf("\n");
	if (sim) {
		const uint64_t want[] = { 0x205, 0x801, 0x900 };

		for (int i = 0; i < 3; i++)
			if (!(log[want[i] / 64] & (1ull << (want[i] % 64))))
				return fail("a guest page the device wrote is missing", EIO);
		if (iommudirty_bitmap_count(log, NBITS) != 3 || memcmp(ram + 0x900000, "dma data", 8))
			return fail("unexpected dirty pages or data", EIO);
		/* The read cleared them: nothing is reported twice. */
		if ((ret = iommudirty_tracker_read_guest(t, 0, RAM_SIZE, PAGE, log, sizeof(log), 0)) ||
		    iommudirty_bitmap_count(log, NBITS))
			return fail("second read", ret ? ret : EIO);
	}

	iommudirty_tracker_free(t);
	iommudirty_device_free(dev);
	iommudirty_ctx_free(ctx);
	if (sim) {
		iommudirty_sim_close(sim, fd);
		iommudirty_sim_free(sim);
	} else {
		close(fd);
	}
	munmap(ram, RAM_SIZE);
	printf("ok\n");
	return 0;
}
