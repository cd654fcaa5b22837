/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The precision knob: IOMMU_OPTION_HUGE_PAGES on the sim (the kernel's
 * rules, with RLIMIT_MODE beside it) and IOMMUDIRTY_TRACKER_SMALL_IO_PAGES
 * (a write dirties one small IO page, not a 2 MiB one; too late on an
 * adopted IOAS already mapped in a domain).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "uapi.h"

#define PG (4 * KiB)

static int option(struct fx *f, uint32_t id, uint16_t op, uint32_t obj, uint64_t *val)
{
	struct uapi_option c = { .size = sizeof(c), .option_id = id, .op = op,
				 .object_id = obj, .val64 = *val };
	int ret = iommudirty_sim_ioctl(f->sim, iommudirty_ctx_fd(f->ctx), IOMMU_OPTION, &c);

	*val = c.val64;
	return ret;
}

static void test_sim_option_rules(void **state)
{
	struct fx f;
	struct uapi_ioas_alloc a = { .size = sizeof(a) };
	struct uapi_option bad = { .size = sizeof(bad), .__reserved = 1 };
	uint64_t v = 0;
	uint8_t *mem;

	(void)state;
	assert_int_equal(fx_init(&f), 0);
	/* RLIMIT_MODE: settable only while the iommufd holds no object. */
	assert_int_equal(option(&f, UAPI_OPTION_RLIMIT_MODE, UAPI_OPTION_OP_GET, 0, &v), 0);
	assert_int_equal(v, 0);
	v = 1;
	assert_int_equal(option(&f, UAPI_OPTION_RLIMIT_MODE, UAPI_OPTION_OP_SET, 0, &v), 0);
	assert_int_equal(option(&f, UAPI_OPTION_RLIMIT_MODE, UAPI_OPTION_OP_GET, 0, &v), 0);
	assert_int_equal(v, 1);
	v = 2;
	assert_int_equal(option(&f, UAPI_OPTION_RLIMIT_MODE, UAPI_OPTION_OP_SET, 0, &v), -EINVAL);
	v = 0;
	assert_int_equal(option(&f, UAPI_OPTION_RLIMIT_MODE, UAPI_OPTION_OP_GET, 7, &v),
			 -EOPNOTSUPP);
	assert_int_equal(option(&f, 9, UAPI_OPTION_OP_GET, 0, &v), -EOPNOTSUPP);
	assert_int_equal(iommudirty_sim_ioctl(f.sim, iommudirty_ctx_fd(f.ctx), IOMMU_OPTION, &bad),
			 -EOPNOTSUPP);
	assert_int_equal(iommudirty_sim_ioctl(f.sim, iommudirty_ctx_fd(f.ctx), IOMMU_IOAS_ALLOC,
					      &a), 0);
	v = 0;
	assert_int_equal(option(&f, UAPI_OPTION_RLIMIT_MODE, UAPI_OPTION_OP_SET, 0, &v), -EBUSY);
	/* HUGE_PAGES on an IOAS: on by default, off while nothing is mapped
	 * in a domain, back on at any time. */
	assert_int_equal(option(&f, UAPI_OPTION_HUGE_PAGES, UAPI_OPTION_OP_GET, 99, &v), -ENOENT);
	assert_int_equal(option(&f, UAPI_OPTION_HUGE_PAGES, UAPI_OPTION_OP_GET, a.out_ioas_id,
				&v), 0);
	assert_int_equal(v, 1);
	v = 3;
	assert_int_equal(option(&f, UAPI_OPTION_HUGE_PAGES, UAPI_OPTION_OP_SET, a.out_ioas_id,
				&v), -EINVAL);
	assert_int_equal(option(&f, UAPI_OPTION_HUGE_PAGES, 2, a.out_ioas_id, &v), -EOPNOTSUPP);
	v = 0;
	assert_int_equal(option(&f, UAPI_OPTION_HUGE_PAGES, UAPI_OPTION_OP_SET, a.out_ioas_id,
				&v), 0);
	assert_int_equal(option(&f, UAPI_OPTION_HUGE_PAGES, UAPI_OPTION_OP_GET, a.out_ioas_id,
				&v), 0);
	assert_int_equal(v, 0);
	v = 1;
	assert_int_equal(option(&f, UAPI_OPTION_HUGE_PAGES, UAPI_OPTION_OP_SET, a.out_ioas_id,
				&v), 0);
	/* Mapped in a domain: too late. */
	assert_int_equal(fx_add_iommu(&f, PG | 2 * MiB, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	{
		IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .flags = IOMMUDIRTY_TRACKER_ADOPT_IOAS,
				.ioas_id = a.out_ioas_id);

		assert_int_equal(iommudirty_tracker_new(f.ctx, &o, &f.t), 0);
	}
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	mem = fx_mem(&f, 4 * MiB, 2 * MiB);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 2 * MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	v = 0;
	assert_int_equal(option(&f, UAPI_OPTION_HUGE_PAGES, UAPI_OPTION_OP_SET, a.out_ioas_id,
				&v), -EINVAL);
	{
		struct iommudirty_tracker *t2 = NULL;
		struct iommudirty_tracker_info info = { .sz = sizeof(info) };
		IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o,
				.flags = IOMMUDIRTY_TRACKER_ADOPT_IOAS |
					 IOMMUDIRTY_TRACKER_SMALL_IO_PAGES,
				.ioas_id = a.out_ioas_id, .info = &info);
		bool too_late = false;

		assert_int_equal(iommudirty_tracker_new(f.ctx, &o, &t2), -EINVAL);
		assert_null(t2);
		for (uint32_t i = 0; i < info.nr_reasons; i++)
			too_late |= info.reasons[i] == IOMMUDIRTY_REASON_HUGE_PAGES_TOO_LATE;
		assert_true(too_late);
	}
	assert_int_equal(iommudirty_tracker_unmap(f.t, 0, 2 * MiB), 0);
	iommudirty_tracker_free(f.t);
	f.t = NULL;
	{
		struct uapi_destroy d = { .size = sizeof(d), .id = a.out_ioas_id };

		assert_int_equal(iommudirty_sim_ioctl(f.sim, iommudirty_ctx_fd(f.ctx),
						      IOMMU_DESTROY, &d), 0);
	}
	fx_fini(&f);
}

/* The same write, with and without the knob, through a 2 MiB mapping an
 * IOMMU with 2 MiB pages would map with one IOPTE; also after an atomic
 * unmap through the standby (its IOAS has the option too). */
static uint64_t dirty_pages_after_one_write(unsigned int flags)
{
	struct fx f;
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .flags = flags);
	uint64_t m[2 * MiB / PG / 64], n;
	uint8_t *mem;

	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, PG | 2 * MiB, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(iommudirty_tracker_new(f.ctx, &o, &f.t), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	mem = fx_mem(&f, 8 * MiB, 2 * MiB);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 2 * MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + 2 * MiB, 2 * MiB, 2 * MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	if (flags & IOMMUDIRTY_TRACKER_STANDBY) {
		assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, 2 * MiB, 2 * MiB, PG, m,
								sizeof(m), IOMMUDIRTY_UNMAP_ATOMIC), 0);
		assert_int_equal(iommudirty_tracker_map(f.t, mem + 2 * MiB, 2 * MiB, 2 * MiB,
							IOMMUDIRTY_MAP_WRITE), 0);
	}
	assert_int_equal(fx_write(&f, 0, 3 * PG, 8), 0);
	assert_int_equal(fx_write(&f, 0, 2 * MiB + 5 * PG, 8), 0);
	assert_int_equal(iommudirty_tracker_read_counted(f.t, 0, 2 * MiB, PG, m, sizeof(m), 0,
							 &n), 0);
	if (n == 1)
		assert_true(fx_test_bit(m, 3));
	{
		uint64_t n2;

		assert_int_equal(iommudirty_tracker_read_counted(f.t, 2 * MiB, 2 * MiB, PG, m,
								 sizeof(m), 0, &n2), 0);
		assert_int_equal(n2, n);
	}
	fx_fini(&f);
	return n;
}

static void test_small_io_pages(void **state)
{
	(void)state;
	assert_int_equal(dirty_pages_after_one_write(0), 512);
	assert_int_equal(dirty_pages_after_one_write(IOMMUDIRTY_TRACKER_SMALL_IO_PAGES), 1);
	assert_int_equal(dirty_pages_after_one_write(IOMMUDIRTY_TRACKER_SMALL_IO_PAGES |
						     IOMMUDIRTY_TRACKER_STANDBY), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_option_rules),
		cmocka_unit_test(test_small_io_pages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
