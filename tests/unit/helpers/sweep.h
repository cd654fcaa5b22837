/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Failure injection sweeps: fail each kernel call of an operation in turn
 * (see test_faults.c), and the written/seen page sets that check that no
 * dirty page is ever lost. */
#ifndef IOMMUDIRTY_TEST_SWEEP_H
#define IOMMUDIRTY_TEST_SWEEP_H

#include <stdint.h>

#include "fixture.h"

#define PG (4 * KiB)
#define INJECTED (-EIO)
#define SPAN (8 * MiB)
#define NPAGES (SPAN / PG)

struct scenario {
	const char *name;
	void (*setup)(struct fx *f);
	int (*op)(struct fx *f);
	void (*post)(struct fx *f, int ret);
};

/* Written pages, and pages reads reported: none written may be lost. */
extern uint64_t written[NPAGES / 64];
extern uint64_t seen[NPAGES / 64];
extern uint64_t objs_before;

uint64_t calls(struct fx *f);
uint64_t objects(struct fx *f);
void dev_write(struct fx *f, int dev, uint64_t page);
void read_into_seen(struct fx *f, uint64_t iova, uint64_t len);
void expect_no_loss(void);
/* A clean run counts the op's kernel calls; then each is failed in turn:
 * the op returns the injected error or succeeds, then post checks. */
void sweep(const struct scenario *s);

#endif
