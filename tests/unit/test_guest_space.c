/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dirty data in the VMM's address space (vIOMMU guests): reads by guest
 * address, aliases, holes, kernel calls per read, unmaps and remaps while
 * tracking with writes in between (every unmap flavour), a device log as
 * the source, and a shadow model over random sequences.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

#define PG (4 * KiB)
#define G0 (64 * MiB) /* guest RAM starts here, IOVAs are elsewhere */

static uint64_t dirty_reads(struct fx *f)
{
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };

	assert_int_equal(iommudirty_sim_get_stats(f->sim, &st), 0);
	return st.dirty_reads;
}

static void setup(struct fx *f, unsigned int flags, bool log)
{
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .flags = flags);
	static const struct iommudirty_sim_device_opts logging = {
		.sz = sizeof(logging), .flags = IOMMUDIRTY_SIM_DEV_DMA_LOGGING,
	};
	const struct iommudirty_iova_range all[] = { { 0, 64 * MiB - 1 } };

	assert_int_equal(fx_init(f), 0);
	assert_int_equal(fx_add_iommu(f, 0, log ? IOMMUDIRTY_SIM_IOMMU_NO_DIRTY : 0), 0);
	if (log) {
		assert_int_equal(fx_add_vfio_device(f, 0, &logging), 0);
		o.log_windows = all;
		o.nr_log_windows = 1;
	} else {
		assert_int_equal(fx_add_device(f, 0), 0);
	}
	assert_int_equal(iommudirty_tracker_new(f->ctx, &o, &f->t), 0);
	assert_int_equal(iommudirty_tracker_attach(f->t, f->dev[0]), 0);
	assert_true(fx_mem(f, 16 * MiB, PG) != NULL);
}

/* Map guest page range [gp, gp+n) at IOVA iova. */
static void gmap(struct fx *f, uint64_t iova, uint64_t gp, uint64_t n)
{
	uint8_t *base = (uint8_t *)f->mem + PG - ((uintptr_t)f->mem % PG);

	assert_int_equal(iommudirty_tracker_map(f->t, base + (gp % 1024) * PG, n * PG, iova,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_set_guest(f->t, iova, n * PG, G0 + gp * PG), 0);
}

static void test_basic_aliases_holes(void **state)
{
	struct fx f;
	uint64_t m[2], c;

	(void)state;
	setup(&f, 0, false);
	/* Guest pages 0-15 at IOVA 1 MiB, 16-31 just below it (reversed),
	 * an alias of guest 4-7 at IOVA 8 MiB; guest 32-63 unbacked. */
	gmap(&f, MiB, 0, 16);
	gmap(&f, MiB - 16 * PG, 16, 16);
	gmap(&f, 8 * MiB, 4, 4);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, MiB + 2 * PG, 1), 0);     /* guest 2 */
	assert_int_equal(fx_write(&f, 0, MiB - 13 * PG, 1), 0);    /* guest 19 */
	assert_int_equal(fx_write(&f, 0, 8 * MiB + 2 * PG, 1), 0);  /* guest 6 via the alias */
	assert_int_equal(fx_write(&f, 0, MiB + 6 * PG, 1), 0);      /* guest 6 too */
	c = dirty_reads(&f);
	assert_int_equal(iommudirty_tracker_read_guest(f.t, G0, 64 * PG, PG, m, sizeof(m),
						       IOMMUDIRTY_READ_NO_CLEAR), 0);
	/* The two IOVA-adjacent mappings: one read; the alias another. */
	assert_int_equal(dirty_reads(&f) - c, 2);
	assert_int_equal(m[0], (1ull << 2) | (1ull << 6) | (1ull << 19));
	/* A window starting inside a mapping, at 2 KiB pages. */
	assert_int_equal(iommudirty_tracker_read_guest(f.t, G0 + 2 * PG, 4 * PG, PG / 2, m,
						       sizeof(m), 0), 0);
	assert_int_equal(m[0], 0x3ull); /* guest page 2 of pages 2-5 */
	assert_int_equal(iommudirty_tracker_read_guest(f.t, G0, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], (1ull << 6) | (1ull << 19));
	assert_int_equal(iommudirty_tracker_read_guest(f.t, G0, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0);
	/* Bad input. */
	assert_int_equal(iommudirty_tracker_read_guest(f.t, G0 + 1, PG, PG, m, sizeof(m), 0),
			 -EINVAL);
	assert_int_equal(iommudirty_tracker_read_guest(f.t, G0, 0, PG, m, sizeof(m), 0), -EINVAL);
	assert_int_equal(iommudirty_tracker_read_guest(f.t, G0, 64 * PG, PG, m, 4, 0), -ERANGE);
	assert_int_equal(iommudirty_tracker_read_guest(f.t, UINT64_MAX - PG + 1, 2 * PG, PG, m,
						       sizeof(m), 0), -EOVERFLOW);
	assert_int_equal(iommudirty_tracker_read_guest(f.t, G0, PG, PG, m, sizeof(m), 4), -EINVAL);
	assert_int_equal(iommudirty_tracker_set_guest(f.t, MiB + PG, PG, 0), -ENOENT);
	assert_int_equal(iommudirty_tracker_set_guest(f.t, MiB, 16 * PG, 1), -EINVAL);
	assert_int_equal(iommudirty_tracker_set_guest(f.t, MiB, 16 * PG, UINT64_MAX), -EOVERFLOW);
	fx_fini(&f);
}

/* The guest unmaps and remaps while the device writes: what the unmap
 * collected is reported in guest space by the next guest read, once;
 * plain, unmap_dirty and atomic (with and without the standby). */
static void remap_flavour(unsigned int flags, int how, bool log)
{
	struct fx f;
	uint64_t m[2], b[1];

	setup(&f, flags, log);
	gmap(&f, MiB, 0, 16);
	gmap(&f, 2 * MiB, 16, 16);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, MiB + 5 * PG, 1), 0);      /* guest 5 */
	assert_int_equal(fx_write(&f, 0, 2 * MiB + PG, 1), 0);      /* guest 17 */
	switch (how) {
	case 0:
		assert_int_equal(iommudirty_tracker_unmap(f.t, MiB, 16 * PG), 0);
		break;
	case 1:
		assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, MiB, 16 * PG, PG, b,
								sizeof(b), 0), 0);
		assert_int_equal(b[0], 1ull << 5);
		break;
	default:
		assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, MiB, 16 * PG, PG, b,
								sizeof(b),
								IOMMUDIRTY_UNMAP_ATOMIC), 0);
		assert_int_equal(b[0], 1ull << 5);
		break;
	}
	assert_int_equal(fx_write(&f, 0, MiB + 5 * PG, 1), -EFAULT);
	/* The guest maps the same guest pages at another IOVA; the device
	 * writes there. */
	gmap(&f, 4 * MiB, 0, 16);
	assert_int_equal(fx_write(&f, 0, 4 * MiB + 9 * PG, 1), 0);  /* guest 9 */
	assert_int_equal(iommudirty_tracker_read_guest(f.t, G0, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], (1ull << 5) | (1ull << 9) | (1ull << 17));
	assert_int_equal(iommudirty_tracker_read_guest(f.t, G0, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0);
	fx_fini(&f);
}

static void test_remap_every_flavour(void **state)
{
	(void)state;
	for (int how = 0; how < 3; how++) {
		remap_flavour(0, how, false);
		remap_flavour(IOMMUDIRTY_TRACKER_STANDBY, how, false);
		remap_flavour(0, how, true);
	}
}

/* A shadow model over random sequences: map (some guest pages aliased),
 * unmap (every flavour), write, read by guest address. Every written
 * guest page is reported by the next clearing guest read that covers it
 * (no loss), and nothing else is (the sim's IOMMU has 4 KiB pages only). */
static void test_shadow_model(void **state)
{
	enum { SLOTS = 16, SPAGES = 8, GPAGES = 64 };
	(void)state;
	for (unsigned int seed = 1; seed <= 20; seed++) {
		struct fx f;
		bool mapped[SLOTS] = { 0 };
		uint64_t gp[SLOTS], owed = 0, m[1], b[1];
		unsigned int r = seed;

		setup(&f, seed % 2 ? IOMMUDIRTY_TRACKER_STANDBY : 0, false);
		assert_int_equal(iommudirty_tracker_start(f.t), 0);
		for (int step = 0; step < 300; step++) {
			unsigned int s = (unsigned int)rand_r(&r) % SLOTS;
			uint64_t iova = (uint64_t)s * SPAGES * PG;

			switch (rand_r(&r) % 5) {
			case 0: /* map slot s to a random guest range */
				if (mapped[s])
					break;
				gp[s] = (uint64_t)(rand_r(&r) % (GPAGES / SPAGES)) * SPAGES;
				gmap(&f, iova, gp[s], SPAGES);
				mapped[s] = true;
				break;
			case 1: /* unmap, one of three ways */
				if (!mapped[s])
					break;
				if (rand_r(&r) % 3 == 0) {
					assert_int_equal(iommudirty_tracker_unmap(f.t, iova, SPAGES * PG), 0);
				} else {
					unsigned int fl = rand_r(&r) % 2 ? IOMMUDIRTY_UNMAP_ATOMIC : 0;

					assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, iova, SPAGES * PG,
											PG, b, sizeof(b), fl), 0);
				}
				mapped[s] = false;
				break;
			case 2:
			case 3: { /* a write through slot s */
				uint64_t p = (uint64_t)rand_r(&r) % SPAGES;

				if (!mapped[s])
					break;
				assert_int_equal(fx_write(&f, 0, iova + p * PG, 1), 0);
				owed |= 1ull << (gp[s] + p);
				break;
			}
			default: /* a clearing read of all guest RAM */
				assert_int_equal(iommudirty_tracker_read_guest(f.t, G0, GPAGES * PG, PG,
									       m, sizeof(m), 0), 0);
				if (m[0] != owed)
					fail_msg("seed %u step %d: read %#llx, owed %#llx", seed, step,
						 (unsigned long long)m[0], (unsigned long long)owed);
				owed = 0;
				break;
			}
		}
		assert_int_equal(iommudirty_tracker_read_guest(f.t, G0, GPAGES * PG, PG, m, sizeof(m),
							       0), 0);
		assert_int_equal(m[0], owed);
		fx_fini(&f);
	}
}

/* The vIOMMU map path while tracking: map then set_guest leaves a window
 * in which a clearing guest read reports the device's write at the IOVA
 * (and the guest page never); map_guest leaves none. */
static void test_map_guest_no_window(void **state)
{
	enum { NB = 128 * MiB / PG };
	uint64_t *m = calloc(NB / 64, sizeof(uint64_t));
	uint8_t *base;
	struct fx f;

	(void)state;
	assert_non_null(m);
	setup(&f, 0, false);
	base = (uint8_t *)f.mem + PG - ((uintptr_t)f.mem % PG);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);

	/* Two steps, with a clearing read between them. */
	assert_int_equal(iommudirty_tracker_map(f.t, base, 4 * PG, MiB, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(fx_write(&f, 0, MiB, 1), 0);
	assert_int_equal(iommudirty_tracker_read_guest(f.t, 0, NB * PG, PG, m, NB / 8, 0), 0);
	assert_true(m[(MiB / PG) / 64] & (1ull << ((MiB / PG) % 64)));
	assert_int_equal(iommudirty_tracker_set_guest(f.t, MiB, 4 * PG, G0 + 20 * PG), 0);
	assert_int_equal(iommudirty_tracker_read_guest(f.t, 0, NB * PG, PG, m, NB / 8, 0), 0);
	assert_int_equal(iommudirty_bitmap_count(m, NB), 0); /* guest page 20: lost */

	/* One step: the write is at its guest page, and only there. */
	assert_int_equal(iommudirty_tracker_map_guest(f.t, base + 4 * PG, 4 * PG, 2 * MiB,
						      G0 + 30 * PG, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(fx_write(&f, 0, 2 * MiB + PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read_guest(f.t, 0, NB * PG, PG, m, NB / 8, 0), 0);
	assert_int_equal(iommudirty_bitmap_count(m, NB), 1);
	assert_true(m[(G0 / PG + 31) / 64] & (1ull << ((G0 / PG + 31) % 64)));

	/* Bad input, each alone; nothing is mapped or declared. */
	assert_int_equal(iommudirty_tracker_map_guest(NULL, base, PG, 3 * MiB, G0, 2), -EINVAL);
	assert_int_equal(iommudirty_tracker_map_guest(f.t, NULL, PG, 3 * MiB, G0,
						      IOMMUDIRTY_MAP_WRITE), -EINVAL);
	assert_int_equal(iommudirty_tracker_map_guest(f.t, base, PG, 3 * MiB, G0,
						      IOMMUDIRTY_MAP_ADOPT), -EINVAL);
	assert_int_equal(iommudirty_tracker_map_guest(f.t, NULL, PG, 3 * MiB, G0,
						      IOMMUDIRTY_MAP_ADOPT | IOMMUDIRTY_MAP_WRITE),
			 -EINVAL);
	assert_int_equal(iommudirty_tracker_map_guest(f.t, base, PG, 3 * MiB, G0, 0), -EINVAL);
	assert_int_equal(iommudirty_tracker_map_guest(f.t, base, PG, 3 * MiB, G0 + 1,
						      IOMMUDIRTY_MAP_WRITE), -EINVAL);
	assert_int_equal(iommudirty_tracker_map_guest(f.t, base, 2 * PG, 3 * MiB,
						      UINT64_MAX - PG + 1, IOMMUDIRTY_MAP_WRITE),
			 -EOVERFLOW);
	assert_int_equal(iommudirty_tracker_map_guest(f.t, base, PG, 2 * MiB, G0,
						      IOMMUDIRTY_MAP_WRITE), -EEXIST);
	/* Not mapped by any of those: the IOVA is free and faults. */
	assert_int_equal(fx_write(&f, 0, 3 * MiB, 1), -EFAULT);

	/* ADOPT: declared with its guest address, no kernel call, and
	 * forgettable as an adopted mapping is. */
	{
		struct iommudirty_sim_stats a = { .sz = sizeof(a) }, b = { .sz = sizeof(b) };

		assert_int_equal(iommudirty_sim_get_stats(f.sim, &a), 0);
		assert_int_equal(iommudirty_tracker_map_guest(f.t, NULL, PG, 3 * MiB, G0 + 40 * PG,
							      IOMMUDIRTY_MAP_ADOPT), 0);
		assert_int_equal(iommudirty_sim_get_stats(f.sim, &b), 0);
		assert_int_equal(b.ioctls, a.ioctls);
		assert_int_equal(iommudirty_tracker_forget_mapping(f.t, 3 * MiB, PG), 0);
	}
	free(m);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_aliases_holes),
		cmocka_unit_test(test_remap_every_flavour),
		cmocka_unit_test(test_shadow_model),
		cmocka_unit_test(test_map_guest_no_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
