/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test points: a unit test may hold a thread at a named place inside the
 * library's own bookkeeping (as the sim's hook does at kernel calls) and
 * so make a race between two of the library's threads deterministic.
 * Unset (always, outside tests), a point costs one relaxed atomic load.
 */
#ifndef IOMMUDIRTY_TESTPOINT_H
#define IOMMUDIRTY_TESTPOINT_H

#include <stdatomic.h>

enum testpoint {
	/* A clearing widened read has taken bits from the kernel and holds
	 * the pending lock, before it records the neighbours' bits. */
	TP_BOUNCE_RECORD = 1,
	/* A read is about to look at the pending bits of its range. */
	TP_PENDING_REPORT,
};

typedef void (*testpoint_fn)(enum testpoint point, void *user);

/* Set by tests before their threads start (tests link the objects). */
extern _Atomic(testpoint_fn) iommudirty_testpoint;
extern void *_Atomic iommudirty_testpoint_user;

static inline void testpoint(enum testpoint point)
{
	testpoint_fn fn = atomic_load_explicit(&iommudirty_testpoint, memory_order_acquire);

	if (__builtin_expect(fn != NULL, 0))
		fn(point, atomic_load_explicit(&iommudirty_testpoint_user,
					       memory_order_relaxed));
}

#endif
