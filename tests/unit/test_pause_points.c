/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Races between the library's own threads, made deterministic by holding
 * one thread at a test point inside the library's bookkeeping
 * (src/testpoint.h), as the sim's hook does at kernel calls.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fixture.h"
#include "testpoint.h"

#define PG (4 * KiB)

struct race {
	struct fx *f;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t held;      /* the thread the point holds */
	bool armed, in, release, b_done;
	uint64_t a_bits, b_bits;
	int a_ret, b_ret;
};

static void hold(enum testpoint point, void *user)
{
	struct race *r = user;

	if (point != TP_BOUNCE_RECORD)
		return;
	pthread_mutex_lock(&r->mu);
	if (r->armed && !r->in) {
		r->in = true;
		r->held = pthread_self();
		pthread_cond_broadcast(&r->cv);
		while (!r->release)
			pthread_cond_wait(&r->cv, &r->mu);
	}
	pthread_mutex_unlock(&r->mu);
}

static void *reader_a(void *arg)
{
	struct race *r = arg;

	r->a_ret = iommudirty_tracker_read(r->f->t, 0, PG, PG, &r->a_bits, 8, 0);
	return NULL;
}

static void *reader_b(void *arg)
{
	struct race *r = arg;

	r->b_ret = iommudirty_tracker_read(r->f->t, PG, PG, PG, &r->b_bits, 8, 0);
	pthread_mutex_lock(&r->mu);
	r->b_done = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* A's clearing read of page 0 is widened to the whole IO page and so takes
 * B's page 1 from the kernel. Hold A after its kernel read, before it
 * records B's bit as pending: B's read of page 1 must not finish with
 * nothing meanwhile (its kernel read finds the bit gone; its look at the
 * pending bits must wait for A's record), and must report the page. */
static void test_widened_read_held_before_recording(void **state)
{
	struct race r = { 0 };
	struct fx f;
	struct timespec until;
	pthread_t a, b;
	bool b_finished_early;
	uint8_t *mem;

	(void)state;
	r.f = &f;
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	mem = fx_mem(&f, 2 * MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 2 * MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, PG, 1), 0); /* B's page */

	atomic_store(&iommudirty_testpoint_user, &r);
	atomic_store(&iommudirty_testpoint, hold);
	r.armed = true;
	assert_int_equal(pthread_create(&a, NULL, reader_a, &r), 0);
	pthread_mutex_lock(&r.mu);
	while (!r.in)
		pthread_cond_wait(&r.cv, &r.mu);
	pthread_mutex_unlock(&r.mu);
	assert_true(pthread_equal(r.held, a)); /* the widened read is held */

	assert_int_equal(pthread_create(&b, NULL, reader_b, &r), 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 300 * 1000 * 1000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&r.mu);
	while (!r.b_done && pthread_cond_timedwait(&r.cv, &r.mu, &until) == 0)
		;
	b_finished_early = r.b_done;
	r.release = true;
	pthread_cond_broadcast(&r.cv);
	pthread_mutex_unlock(&r.mu);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	atomic_store(&iommudirty_testpoint, NULL);

	assert_false(b_finished_early);
	assert_int_equal(r.a_ret, 0);
	assert_int_equal(r.b_ret, 0);
	assert_int_equal(r.a_bits, 0);
	assert_int_equal(r.b_bits, 1); /* B's page, by B's read */
	/* And only once. */
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 2 * MiB, 2 * MiB, &r.b_bits, 8, 0), 0);
	assert_int_equal(r.b_bits, 0);
	pthread_mutex_destroy(&r.mu);
	pthread_cond_destroy(&r.cv);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_widened_read_held_before_recording),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
