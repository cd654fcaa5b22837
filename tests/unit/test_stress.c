/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A threaded stress test (issue 12), meant for ThreadSanitizer: device
 * writers, clearing readers of disjoint ranges (each with its own bitmap)
 * and of overlapping ranges at caller page sizes above the IO page, a
 * mapper doing map, plain unmap, atomic unmap and write_protect of a churn
 * region, and a toggler doing stop/start and detach/attach, all at once on
 * one tracker; then a shadow check: no page a device wrote is lost, and
 * (on the precise iommufd tracker) no page is reported that no device ever
 * tried to write.
 *
 * Each thread runs a fixed number of operations from its own seed; the
 * interleaving is the scheduler's. Every thread but the toggler pauses at
 * its half-way point until the toggler is done, so that the second half
 * runs with no stop to forgive (see "What is owed" below) and is checked
 * exactly; the toggler toggles (at most TOGGLES times) until all the others
 * are waiting there, so that its toggles race their first halves. Readers
 * yield between reads: the tracker's rwlock lets readers in ahead of a
 * waiting writer, and five looping readers would starve the mapper and the
 * toggler of the write lock.
 *
 * The two small tests first reproduce alone what this test found: a device
 * detached while the tracker is started and attached again, then an atomic
 * unmap (fixed in src/backend_iommufd.c, attach_hwpt()).
 *
 * Run time under TSan on a loaded 2-core machine: a few seconds. The
 * operation counts can be raised at build time (-DWRITES=... -DREADS=...
 * -DMAPPER_OPS=... -DTOGGLES=...), the seeds at run time
 * (IOMMUDIRTY_STRESS_SEED=n).
 *
 * IOVA layout (IO page 4 KiB: the IOMMUs have no huge IOPTEs):
 *   [0, 4 MiB)            one static mapping, never unmapped.
 *                         D0 reads [0, 1 MiB), D1 [1 MiB, 2 MiB) at 4 KiB;
 *                         the tracker widens their kernel reads to the
 *                         whole run of adjacent mappings (max_io_page is
 *                         1 GiB), so they clear each other's (and everyone
 *                         else's) pages into the pending bits.
 *                         W0 reads [2 MiB, 4 MiB) at 16 KiB, W1 [2.5, 3.5)
 *                         MiB at 32 KiB or [3, 4) MiB at 64 KiB: these two
 *                         overlap, and the header allows concurrent reads of
 *                         *disjoint* ranges only, so the test serialises W0
 *                         and W1 with its own mutex (wmu); each runs
 *                         concurrently with everything else.
 *   [4 MiB, 6 MiB)        the churn region: 8 chunks of 256 KiB that the
 *                         mapper maps and unmaps; C reads [4 MiB, 6 MiB +
 *                         64 KiB) at 8 KiB with read_counted.
 *   [6 MiB, 6 MiB+64 KiB) never mapped: writes fault, reads report clean.
 *
 * Devices: 0 behind an IOMMU that tracks (source IOMMU), 1 with VFIO DMA
 * logging behind an IOMMU that cannot (source DEVICE_LOG, attached to the
 * IOAS itself), log windows covering the whole layout so that churn
 * mappings are logged precisely (no LOG_UNTRACKED_MAPPING conservatism).
 * The type1 variant opens both through their groups (opts.pci_devices):
 * device 0 then has the conservative TYPE1 source, device 1 its log.
 *
 * What is owed (a write must be reported): a write that returned 0 and
 *  - ran entirely while the tracker was started (no stop..start in
 *    progress), and no stop began after it began (stop loses unread bits,
 *    as the header says);
 *  - ran entirely while its device was attached and no attach/detach of
 *    that device was in progress (a write racing the device's detach is
 *    not covered by the header);
 *  - to a churn chunk: no plain unmap of the chunk began after it began
 *    (a plain unmap discards the dirty bits, as the header says).
 * It must then be reported by a clearing read, or by the bitmap of an
 * atomic unmap / write_protect, that *ended* after the write *began*: a
 * logical clock (a ticket counter) orders them. The final read of
 * everything, after every thread is joined, catches what the racing reads
 * left in the kernel, the device logs or the pending bits. Per page only
 * the latest owed write needs checking: whatever forgives an earlier one
 * forgives the later one too, and a report after the later one's start is
 * after the earlier one's.
 *
 * What may be reported: on iommufd every source is precise at 4 KiB, so a
 * reported caller page (4 KiB to 64 KiB) must hold at least one 4 KiB page
 * some device tried to write before the report (the flag is set before the
 * write is issued); widened reads' neighbours within the caller page are
 * allowed by that rule and nothing else is. On type1 every mapped page is
 * reported (conservative), so only "never a page that was never mapped" is
 * asserted there. A NO_CLEAR read is checked the same way but does not
 * count as reporting (the bits stay). After the final read a second one
 * must read clean.
 *
 * The test's own shared state is C11 atomics or under its mutexes: TSan
 * must see no race in the test, only (if any) in the library.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sched.h>
#include <time.h>

#include <cmocka.h>

#include "fixture.h"

#define PG (4 * KiB)
#define STATIC_LEN (4 * MiB)
#define CHURN_BASE STATIC_LEN
#define CHUNK (256 * KiB)
#define NCHUNKS 8
#define SPAN (CHURN_BASE + NCHUNKS * CHUNK) /* 6 MiB: what may be mapped */
#define TAIL (64 * KiB)                     /* never mapped */
#define NPG ((SPAN + TAIL) / PG)
#define BM_WORDS (NPG / 64 + 1)

/* Operations per thread (fixed; each thread's seed is fixed too). */
#ifndef WRITES
#define WRITES 12000    /* per writer */
#endif
#ifndef READS
#define READS 1000      /* per reader */
#endif
#ifndef MAPPER_OPS
#define MAPPER_OPS 1500
#endif
#ifndef TOGGLES
#define TOGGLES 1000    /* at most: see the toggler */
#endif

#ifndef PAUSE_US
#define PAUSE_US 200    /* the toggler's pause between steps */
#endif

enum { NWRITERS = 2 };
enum { R_D0, R_D1, R_W0, R_W1, R_C, R_MAP, R_FINAL, NREP };

struct stress {
	struct iommudirty_sim *sim;
	struct iommudirty_ctx *ctx;
	struct iommudirty_tracker *t;
	struct iommudirty_device *dev[2]; /* iommufd only */
	int sdev[2];                      /* sim device index */
	int fd[2];                        /* cdev fd (iommufd only) */
	uint8_t *mem;                     /* VA backing: IOVA x at mem + x */
	bool type1;
	bool standby;

	/* The logical clock: tickets order writes against reports. 0 is
	 * "never". */
	atomic_uint_fast64_t clock;
	atomic_uchar tried[NPG];       /* a device tried to write the page */
	/* Odd while stop..start runs. */
	atomic_uint trk_gen;
	/* +1 at the start and the end of each attach and detach: 0 mod 4
	 * attached and steady, 2 mod 4 detached. */
	atomic_uint dev_gen[2];
	atomic_uint_fast64_t last_stop;        /* ticket taken before a stop */
	atomic_uint_fast64_t plain_unmap[NCHUNKS]; /* ticket before a plain unmap */

	/* Per thread, written by that thread only, read after join. */
	uint64_t wlast[NWRITERS][NPG]; /* ticket of the latest owed write */
	uint64_t rep[NREP][NPG];       /* ticket after the latest report */

	/* The overlapping widened readers W0 and W1 take turns. */
	pthread_mutex_t wmu;

	/* The half-way gate: opened when the toggler is done. */
	pthread_mutex_t gmu;
	pthread_cond_t gcv;
	bool toggles_done;
	int arrived;           /* threads waiting at the gate */

	/* Failures seen in threads, reported by the main thread. */
	atomic_uint nbad;
	pthread_mutex_t msg_mu;
	char msg[512];

	/* Counters for the report. */
	atomic_uint n_write_ok, n_write_fault, n_write_nodev, n_write_toggled;
	atomic_uint n_read_ok, n_read_stopped, n_atomic, n_wp, n_plain, n_maps;
	atomic_uint n_atomic_stopped, n_toggles;
};

static uint64_t tick(struct stress *s)
{
	return atomic_fetch_add(&s->clock, 1) + 1;
}

static void bad(struct stress *s, const char *fmt, ...)
{
	va_list ap;

	char m[sizeof(s->msg)];
	unsigned int n;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&s->msg_mu);
	n = atomic_fetch_add(&s->nbad, 1);
	if (n == 0)
		memcpy(s->msg, m, sizeof(m));
	pthread_mutex_unlock(&s->msg_mu);
	/* The first few all, for the diagnosis. */
	if (n < 8)
		print_error("stress: %s\n", m);
}

static void gate(struct stress *s)
{
	pthread_mutex_lock(&s->gmu);
	s->arrived++;
	while (!s->toggles_done)
		pthread_cond_wait(&s->gcv, &s->gmu);
	pthread_mutex_unlock(&s->gmu);
}

static bool test_bit(const uint64_t *m, uint64_t i)
{
	return (m[i / 64] >> (i % 64)) & 1;
}

/* A bitmap of [iova, iova+len) at psz came back from a clearing read (or
 * an atomic unmap) of reporter `who` (NO_CLEAR: `clearing` false): check
 * what it may report and record what it did. Returns the bits set. */
static uint64_t record(struct stress *s, int who, uint64_t iova, uint64_t len,
		       uint64_t psz, const uint64_t *bm, bool clearing)
{
	uint64_t e = tick(s), nbits = len / psz, set = 0;

	for (uint64_t i = 0; i < nbits; i++) {
		uint64_t first = (iova + i * psz) / PG, n = psz / PG;
		bool any_tried = false;

		if (!test_bit(bm, i))
			continue;
		set++;
		for (uint64_t p = first; p < first + n; p++) {
			if (p * PG >= SPAN) {
				bad(s, "reporter %d: page %#llx reported, never mapped", who,
				    (unsigned long long)(p * PG));
				continue;
			}
			if (atomic_load(&s->tried[p]))
				any_tried = true;
			if (clearing)
				s->rep[who][p] = e;
		}
		if (!s->type1 && !any_tried)
			bad(s, "reporter %d: [%#llx, +%#llx) reported, no device tried to write it",
			    who, (unsigned long long)(iova + i * psz), (unsigned long long)psz);
	}
	/* Bits past the range's last page in the last word are zeroed. */
	if (nbits % 64 && (bm[nbits / 64] >> (nbits % 64)))
		bad(s, "reporter %d: bits set past the range", who);
	return set;
}

static bool steady(unsigned int g1, unsigned int g2, unsigned int mod)
{
	return g1 == g2 && g1 % mod == 0;
}

/* ---- device writers ------------------------------------------------------ */

struct warg {
	struct stress *s;
	int w;
	unsigned int seed;
};

static void *writer(void *arg)
{
	struct warg *a = arg;
	struct stress *s = a->s;
	int d = a->w; /* writer w drives device w */
	unsigned int seed = a->seed;

	for (int n = 0; n < WRITES; n++) {
		uint64_t p = (uint64_t)rand_r(&seed) % NPG, iova, len, np;
		unsigned int tg1, tg2, dg1, dg2;
		uint64_t b;
		bool churn = false;
		int rc;

		if (n == WRITES / 2)
			gate(s);
		/* One page in eight: a write across a page boundary. */
		np = (rand_r(&seed) % 8 == 0 && p + 1 < NPG) ? 2 : 1;
		iova = p * PG + (np == 2 ? PG / 2 : (uint64_t)(rand_r(&seed) % 64) * 8);
		len = np == 2 ? PG : 8;
		for (uint64_t q = p; q < p + np; q++) {
			atomic_store(&s->tried[q], 1);
			churn |= q * PG >= CHURN_BASE;
		}
		tg1 = atomic_load(&s->trk_gen);
		dg1 = atomic_load(&s->dev_gen[d]);
		b = tick(s);
		rc = iommudirty_sim_dma_write(s->sim, s->sdev[d], iova, len, NULL);
		tg2 = atomic_load(&s->trk_gen);
		dg2 = atomic_load(&s->dev_gen[d]);
		if (rc == 0) {
			atomic_fetch_add(&s->n_write_ok, 1);
			if (p * PG + np * PG > SPAN)
				bad(s, "device %d: write to never-mapped %#llx succeeded", d,
				    (unsigned long long)iova);
			if (steady(tg1, tg2, 2) && steady(dg1, dg2, 4))
				for (uint64_t q = p; q < p + np; q++)
					s->wlast[a->w][q] = b;
			else
				atomic_fetch_add(&s->n_write_toggled, 1);

		} else if (rc == -EFAULT) {
			/* Only where the mapper unmaps, or never mapped. */
			atomic_fetch_add(&s->n_write_fault, 1);
			if (!churn)
				bad(s, "device %d: write to static %#llx faulted", d,
				    (unsigned long long)iova);
		} else if (rc == -ENODEV) {
			atomic_fetch_add(&s->n_write_nodev, 1);
			if (steady(dg1, dg2, 4))
				bad(s, "device %d: attached, write -ENODEV", d);
		} else {
			bad(s, "device %d: write %#llx: %d", d, (unsigned long long)iova, rc);
		}
	}
	return NULL;
}

/* ---- readers ------------------------------------------------------------- */

struct rarg {
	struct stress *s;
	int who;
	unsigned int seed;
};

static void one_read(struct stress *s, int who, uint64_t iova, uint64_t len, uint64_t psz,
		     unsigned int flags, bool counted)
{
	uint64_t bm[BM_WORDS], nr = UINT64_MAX;
	size_t bytes = iommudirty_bitmap_size(len, psz);
	unsigned int tg1, tg2;
	int rc;

	assert_true(bytes <= sizeof(bm));
	memset(bm, 0xa5, sizeof(bm)); /* the library zeroes it */
	tg1 = atomic_load(&s->trk_gen);
	if (counted)
		rc = iommudirty_tracker_read_counted(s->t, iova, len, psz, bm, bytes, flags, &nr);
	else
		rc = iommudirty_tracker_read(s->t, iova, len, psz, bm, bytes, flags);
	tg2 = atomic_load(&s->trk_gen);
	if (rc == 0) {
		uint64_t set = record(s, who, iova, len, psz, bm, !(flags & IOMMUDIRTY_READ_NO_CLEAR));

		atomic_fetch_add(&s->n_read_ok, 1);
		if (counted && nr != set)
			bad(s, "reader %d: read_counted said %llu, bitmap has %llu", who,
			    (unsigned long long)nr, (unsigned long long)set);
	} else if (rc == -EINVAL && !steady(tg1, tg2, 2)) {
		atomic_fetch_add(&s->n_read_stopped, 1); /* not started: fine */
	} else {
		bad(s, "reader %d: read [%#llx, +%#llx) at %#llx: %d", who,
		    (unsigned long long)iova, (unsigned long long)len, (unsigned long long)psz, rc);
	}
}

static void *reader(void *arg)
{
	struct rarg *a = arg;
	struct stress *s = a->s;
	unsigned int seed = a->seed;

	for (int n = 0; n < READS; n++) {
		if (n == READS / 2)
			gate(s);
		switch (a->who) {
		case R_D0:
		case R_D1:
			/* Disjoint ranges, own bitmaps, concurrent. */
			one_read(s, a->who, (uint64_t)a->who * MiB, MiB, PG, 0, false);
			break;
		case R_W0:
		case R_W1: {
			/* Overlapping, widened: serialised by the test. */
			unsigned int flags = rand_r(&seed) % 4 == 0 ? IOMMUDIRTY_READ_NO_CLEAR : 0;

			pthread_mutex_lock(&s->wmu);
			if (a->who == R_W0)
				one_read(s, a->who, 2 * MiB, 2 * MiB, 16 * KiB, flags, false);
			else if (n % 2)
				one_read(s, a->who, 2 * MiB + 512 * KiB, MiB, 32 * KiB, flags, false);
			else
				one_read(s, a->who, 3 * MiB, MiB, 64 * KiB, flags, false);
			pthread_mutex_unlock(&s->wmu);
			break;
		}
		case R_C:
			/* The churn region, holes and all. */
			one_read(s, a->who, CHURN_BASE, SPAN + TAIL - CHURN_BASE, 8 * KiB, 0, true);
			break;
		}
		/* The tracker's rwlock lets readers in ahead of a waiting
		 * writer: leave the mapper and the toggler a gap. */
		sched_yield();
	}
	return NULL;
}

/* ---- the mapper: map, plain unmap, atomic unmap, write_protect ------------ */

static void plain_unmap(struct stress *s, uint64_t iova, uint64_t len)
{
	int rc;

	/* Writes begun before this may be lost: the dirty bits go. */
	for (uint64_t c = (iova - CHURN_BASE) / CHUNK; c < (iova + len - CHURN_BASE) / CHUNK; c++)
		atomic_store(&s->plain_unmap[c], tick(s));
	rc = iommudirty_tracker_unmap(s->t, iova, len);
	if (rc)
		bad(s, "mapper: unmap [%#llx, +%#llx): %d", (unsigned long long)iova,
		    (unsigned long long)len, rc);
	atomic_fetch_add(&s->n_plain, 1);
}

static void *mapper(void *arg)
{
	struct rarg *a = arg;
	struct stress *s = a->s;
	unsigned int seed = a->seed;
	bool mapped[NCHUNKS];
	uint64_t bm[BM_WORDS];

	for (int c = 0; c < NCHUNKS; c++)
		mapped[c] = c % 2 == 0; /* as set up */
	for (int n = 0; n < MAPPER_OPS; n++) {
		int c = rand_r(&seed) % NCHUNKS, op = rand_r(&seed) % 8;
		uint64_t iova = CHURN_BASE + (uint64_t)c * CHUNK, len = CHUNK;
		uint64_t psz = (rand_r(&seed) % 2) ? PG : 8 * KiB;
		int nch = 1, rc;
		unsigned int tg1, tg2;

		if (n == MAPPER_OPS / 2)
			gate(s);
		if (!mapped[c]) {
			rc = iommudirty_tracker_map(s->t, s->mem + iova, len, iova,
						    IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE);
			if (rc)
				bad(s, "mapper: map %#llx: %d", (unsigned long long)iova, rc);
			else
				mapped[c] = true;
			atomic_fetch_add(&s->n_maps, 1);
			continue;
		}
		/* Two adjacent mapped chunks in one call, sometimes. */
		if (c + 1 < NCHUNKS && mapped[c + 1] && op % 2) {
			nch = 2;
			len = 2 * CHUNK;
		}
		if (op == 0) {
			plain_unmap(s, iova, len);
		} else {
			bool wp = op >= 6;
			size_t bytes = iommudirty_bitmap_size(len, psz);

			memset(bm, 0xa5, sizeof(bm));
			tg1 = atomic_load(&s->trk_gen);
			if (wp)
				rc = iommudirty_tracker_write_protect(s->t, iova, len, psz, bm,
								      bytes, 0);
			else
				rc = iommudirty_tracker_unmap_dirty(s->t, iova, len, psz, bm, bytes,
								    IOMMUDIRTY_UNMAP_ATOMIC);
			tg2 = atomic_load(&s->trk_gen);
			if (rc == 0) {
				record(s, R_MAP, iova, len, psz, bm, true);
				atomic_fetch_add(wp ? &s->n_wp : &s->n_atomic, 1);
				/* Taken away: no device can write it now. */
				for (int d = 0; d < 2; d++) {
					int w = iommudirty_sim_dma_write(s->sim, s->sdev[d], iova, 8,
									 NULL);
					if (w != -EFAULT && w != -ENODEV)
						bad(s, "mapper: device %d wrote %#llx after the atomic unmap: %d",
						    d, (unsigned long long)iova, w);
				}
				if (wp) {
					/* Then the unmap, which needs no kernel call. */
					rc = iommudirty_tracker_unmap(s->t, iova, len);
					if (rc)
						bad(s, "mapper: unmap after write_protect: %d", rc);
				}
			} else if (rc == -EINVAL && !steady(tg1, tg2, 2)) {
				/* Stopped: unmap plainly instead. */
				atomic_fetch_add(&s->n_atomic_stopped, 1);
				plain_unmap(s, iova, len);
			} else {
				bad(s, "mapper: %s [%#llx, +%#llx) at %#llx: %d",
				    wp ? "write_protect" : "atomic unmap", (unsigned long long)iova,
				    (unsigned long long)len, (unsigned long long)psz, rc);
				continue;
			}
		}
		for (int k = 0; k < nch; k++)
			mapped[c + k] = false;
	}
	/* Leave the churn region mapped whole for the final read. */
	for (int c = 0; c < NCHUNKS; c++) {
		uint64_t iova = CHURN_BASE + (uint64_t)c * CHUNK;

		if (!mapped[c] && iommudirty_tracker_map(s->t, s->mem + iova, CHUNK, iova,
							 IOMMUDIRTY_MAP_WRITE))
			bad(s, "mapper: final map %#llx", (unsigned long long)iova);
	}
	return NULL;
}

/* ---- the toggler: stop/start, detach/attach ------------------------------ */

static void pause_a_little(void)
{
	struct timespec ts = { 0, PAUSE_US * 1000 };

	nanosleep(&ts, NULL);
}

static void expect_ok(struct stress *s, const char *what, int rc)
{
	if (rc)
		bad(s, "toggler: %s: %d", what, rc);
}

static void toggle_device(struct stress *s, int d, bool stop_between)
{
	atomic_fetch_add(&s->dev_gen[d], 1);
	expect_ok(s, "detach", iommudirty_tracker_detach(s->t, s->dev[d]));
	atomic_fetch_add(&s->dev_gen[d], 1);
	/* Detached: the device reaches no memory. */
	if (iommudirty_sim_dma_write(s->sim, s->sdev[d], 0, 8, NULL) != -ENODEV)
		bad(s, "toggler: device %d writes after its detach", d);
	if (stop_between) {
		/* Detached while stopped, attached while stopped, started. */
		atomic_fetch_add(&s->trk_gen, 1);
		atomic_store(&s->last_stop, tick(s));
		expect_ok(s, "stop", iommudirty_tracker_stop(s->t));
		atomic_fetch_add(&s->dev_gen[d], 1);
		expect_ok(s, "attach (stopped)", iommudirty_tracker_attach(s->t, s->dev[d]));
		atomic_fetch_add(&s->dev_gen[d], 1);
		expect_ok(s, "start", iommudirty_tracker_start(s->t));
		atomic_fetch_add(&s->trk_gen, 1);
		return;
	}
	pause_a_little();
	atomic_fetch_add(&s->dev_gen[d], 1);
	expect_ok(s, "attach", iommudirty_tracker_attach(s->t, s->dev[d]));
	atomic_fetch_add(&s->dev_gen[d], 1);
}

static void *toggler(void *arg)
{
	struct rarg *a = arg;
	struct stress *s = a->s;

	for (int n = 0; n < TOGGLES; n++) {
		int op = s->type1 ? 0 : n % 4;
		bool all_there;

		/* Toggle while the others are in their first half only. */
		pthread_mutex_lock(&s->gmu);
		all_there = s->arrived == NWRITERS + R_MAP + 1;
		pthread_mutex_unlock(&s->gmu);
		if (all_there)
			break;
		atomic_fetch_add(&s->n_toggles, 1);

		pause_a_little();
		if (op == 0) {
			atomic_fetch_add(&s->trk_gen, 1);
			atomic_store(&s->last_stop, tick(s));
			expect_ok(s, "stop", iommudirty_tracker_stop(s->t));
			if (iommudirty_tracker_started(s->t) != 0)
				bad(s, "toggler: stopped, started() != 0");
			pause_a_little();
			expect_ok(s, "start", iommudirty_tracker_start(s->t));
			atomic_fetch_add(&s->trk_gen, 1);
		} else {
			toggle_device(s, op == 1 ? 1 : 0, op == 3);
		}
	}
	pthread_mutex_lock(&s->gmu);
	s->toggles_done = true;
	pthread_cond_broadcast(&s->gcv);
	pthread_mutex_unlock(&s->gmu);
	return NULL;
}

/* ---- set-up, run, check --------------------------------------------------- */

static const struct iommudirty_iova_range log_window = { 0, SPAN + TAIL - 1 };

static void setup(struct stress *s, bool type1, bool standby)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, tracks);
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, blind, .flags = IOMMUDIRTY_SIM_IOMMU_NO_DIRTY);
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co);
	IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, lo, .flags = IOMMUDIRTY_SIM_DEV_DMA_LOGGING);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, to, .log_windows = &log_window,
			.nr_log_windows = 1);
	char bdf[2][16];
	const char *bdfs[2] = { bdf[0], bdf[1] };
	int i0, i1;

	memset(s, 0, sizeof(*s));
	s->type1 = type1;
	s->standby = standby;
	pthread_mutex_init(&s->wmu, NULL);
	pthread_mutex_init(&s->gmu, NULL);
	pthread_mutex_init(&s->msg_mu, NULL);
	pthread_cond_init(&s->gcv, NULL);
	s->sim = iommudirty_sim_new(NULL);
	assert_non_null(s->sim);
	i0 = iommudirty_sim_add_iommu(s->sim, &tracks);
	i1 = iommudirty_sim_add_iommu(s->sim, &blind);
	assert_true(i0 >= 0 && i1 >= 0);
	s->sdev[0] = iommudirty_sim_add_device(s->sim, i0);
	lo.iommu = i1;
	s->sdev[1] = iommudirty_sim_add_vfio_device(s->sim, &lo);
	assert_true(s->sdev[0] >= 0 && s->sdev[1] >= 0);
	co.sim = s->sim;
	s->ctx = iommudirty_ctx_new(&co);
	assert_non_null(s->ctx);
	s->mem = mmap(NULL, SPAN + TAIL, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(s->mem != MAP_FAILED);
	if (type1) {
		for (int d = 0; d < 2; d++)
			assert_int_equal(iommudirty_sim_device_bdf(s->sim, s->sdev[d], bdf[d],
								   sizeof(bdf[d])), 0);
		to.backend = IOMMUDIRTY_BACKEND_TYPE1;
		to.pci_devices = bdfs;
		to.nr_pci_devices = 2;
		s->fd[0] = s->fd[1] = -1;
	} else {
		to.backend = IOMMUDIRTY_BACKEND_IOMMUFD;
		to.flags = standby ? IOMMUDIRTY_TRACKER_STANDBY : 0;
		for (int d = 0; d < 2; d++) {
			s->fd[d] = iommudirty_sim_open_device(s->sim, s->sdev[d]);
			assert_true(s->fd[d] >= 0);
			assert_int_equal(iommudirty_device_bind(s->ctx, s->fd[d], &s->dev[d]), 0);
		}
	}
	assert_int_equal(iommudirty_tracker_new(s->ctx, &to, &s->t), 0);
	if (!type1)
		for (int d = 0; d < 2; d++)
			assert_int_equal(iommudirty_tracker_attach(s->t, s->dev[d]), 0);
	/* The sources are what the checks assume. */
	for (unsigned int d = 0; d < 2; d++) {
		IOMMUDIRTY_OPTS(iommudirty_source_info, si);

		assert_int_equal(iommudirty_tracker_source_info(s->t, d, &si), 2);
		assert_int_equal(si.source, d == 1 ? IOMMUDIRTY_SOURCE_DEVICE_LOG
				 : type1 ? IOMMUDIRTY_SOURCE_TYPE1 : IOMMUDIRTY_SOURCE_IOMMU);
	}
	assert_int_equal(iommudirty_tracker_map(s->t, s->mem, STATIC_LEN, 0,
						IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE), 0);
	for (int c = 0; c < NCHUNKS; c += 2)
		assert_int_equal(iommudirty_tracker_map(s->t, s->mem + CHURN_BASE + c * CHUNK,
							CHUNK, CHURN_BASE + c * CHUNK,
							IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(s->t), 0);
}

static void teardown_stress(struct stress *s)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_stats, st);

	iommudirty_tracker_free(s->t);
	for (int d = 0; d < 2; d++)
		iommudirty_device_free(s->dev[d]);
	iommudirty_ctx_free(s->ctx);
	for (int d = 0; d < 2; d++)
		if (s->fd[d] >= 0)
			assert_int_equal(iommudirty_sim_close(s->sim, s->fd[d]), 0);
	assert_int_equal(iommudirty_sim_get_stats(s->sim, &st), 0);
	assert_int_equal(st.open_fds, 0);
	assert_int_equal(st.objects, 0);
	iommudirty_sim_free(s->sim);
	munmap(s->mem, SPAN + TAIL);
	pthread_mutex_destroy(&s->wmu);
	pthread_mutex_destroy(&s->gmu);
	pthread_mutex_destroy(&s->msg_mu);
	pthread_cond_destroy(&s->gcv);
}

static void run(bool type1, bool standby, unsigned int seed)
{
	static struct stress st;
	struct stress *s = &st;
	struct warg wa[NWRITERS];
	struct rarg ra[R_MAP + 1], ta;
	pthread_t wt[NWRITERS], rt[R_MAP + 1], tt;
	uint64_t bm[BM_WORDS];
	size_t bytes = iommudirty_bitmap_size(SPAN + TAIL, PG);
	uint64_t owed = 0, lost = 0, forgiven = 0;
	char first_lost[256] = "";
	struct timespec t0, t1;

	setup(s, type1, standby);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int w = 0; w < NWRITERS; w++) {
		wa[w] = (struct warg){ s, w, seed * 101 + (unsigned int)w };
		assert_int_equal(pthread_create(&wt[w], NULL, writer, &wa[w]), 0);
	}
	for (int r = 0; r <= R_MAP; r++) {
		ra[r] = (struct rarg){ s, r, seed * 211 + (unsigned int)r };
		assert_int_equal(pthread_create(&rt[r], NULL, r == R_MAP ? mapper : reader,
						&ra[r]), 0);
	}
	ta = (struct rarg){ s, -1, seed };
	assert_int_equal(pthread_create(&tt, NULL, toggler, &ta), 0);
	assert_int_equal(pthread_join(tt, NULL), 0);
	for (int w = 0; w < NWRITERS; w++)
		assert_int_equal(pthread_join(wt[w], NULL), 0);
	for (int r = 0; r <= R_MAP; r++)
		assert_int_equal(pthread_join(rt[r], NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (atomic_load(&s->nbad))
		fail_msg("%u failure(s) in threads; first: %s", atomic_load(&s->nbad), s->msg);

	/* Everything settled: the tracker is started, both devices attached,
	 * the churn region mapped whole. The final read takes what is left. */
	assert_int_equal(iommudirty_tracker_started(s->t), 1);
	assert_int_equal(iommudirty_tracker_read(s->t, 0, SPAN + TAIL, PG, bm, bytes, 0), 0);
	record(s, R_FINAL, 0, SPAN + TAIL, PG, bm, true);
	if (atomic_load(&s->nbad))
		fail_msg("final read: %s", s->msg);
	/* Then nothing is left (type1 reports every mapped page again). */
	assert_int_equal(iommudirty_tracker_read(s->t, 0, SPAN + TAIL, PG, bm, bytes, 0), 0);
	if (!type1)
		for (uint64_t i = 0; i < NPG; i++)
			if (test_bit(bm, i))
				fail_msg("page %#llx dirty again with no write",
					 (unsigned long long)(i * PG));

	/* The shadow check. */
	for (uint64_t p = 0; p < SPAN / PG; p++) {
		uint64_t wl = 0, rep = 0, cut = atomic_load(&s->last_stop);

		for (int w = 0; w < NWRITERS; w++)
			wl = s->wlast[w][p] > wl ? s->wlast[w][p] : wl;
		if (!wl)
			continue;
		if (p * PG >= CHURN_BASE) {
			uint64_t u = atomic_load(&s->plain_unmap[(p * PG - CHURN_BASE) / CHUNK]);

			cut = u > cut ? u : cut;
		}
		if (cut > wl) {
			forgiven++;
			continue;
		}
		owed++;
		for (int r = 0; r < NREP; r++)
			rep = s->rep[r][p] > rep ? s->rep[r][p] : rep;
		if (rep > wl)
			continue;
		if (!lost++)
			snprintf(first_lost, sizeof(first_lost),
				 "page %#llx: last owed write at ticket %llu (devices %d%d), last report at %llu, last stop %llu",
				 (unsigned long long)(p * PG), (unsigned long long)wl,
				 s->wlast[0][p] == wl, s->wlast[1][p] == wl,
				 (unsigned long long)rep, (unsigned long long)atomic_load(&s->last_stop));
	}
	print_message("stress %s%s seed %u, %.2f s: toggles %u; writes ok %u (%u racing a toggle) fault %u "
		      "nodev %u; reads ok %u stopped %u; atomic unmaps %u write_protects %u "
		      "plain unmaps %u (%u when stopped) maps %u; pages owed %llu forgiven %llu "
		      "lost %llu\n",
		      type1 ? "type1" : "iommufd", standby ? "+standby" : "", seed,
		      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		      atomic_load(&s->n_toggles),
		      atomic_load(&s->n_write_ok), atomic_load(&s->n_write_toggled),
		      atomic_load(&s->n_write_fault),
		      atomic_load(&s->n_write_nodev), atomic_load(&s->n_read_ok),
		      atomic_load(&s->n_read_stopped), atomic_load(&s->n_atomic),
		      atomic_load(&s->n_wp), atomic_load(&s->n_plain),
		      atomic_load(&s->n_atomic_stopped), atomic_load(&s->n_maps),
		      (unsigned long long)owed, (unsigned long long)forgiven,
		      (unsigned long long)lost);
	if (lost)
		fail_msg("%llu written page(s) never reported; first: %s",
			 (unsigned long long)lost, first_lost);
	/* The check checked something. */
	assert_true(owed > 100);
	teardown_stress(s);
}

static unsigned int base_seed(void)
{
	const char *e = getenv("IOMMUDIRTY_STRESS_SEED");

	return e ? (unsigned int)strtoul(e, NULL, 0) : 1;
}

static void test_stress_iommufd(void **state)
{
	(void)state;
	run(false, false, base_seed());
}

static void test_stress_iommufd_standby(void **state)
{
	(void)state;
	run(false, true, base_seed() + 1);
}

static void test_stress_type1(void **state)
{
	(void)state;
	run(true, false, base_seed() + 2);
}

/* What the stress test found first, alone: a device detached while the
 * tracker is started leaves its HWPT behind (its bits are still owed) with
 * no device; attached again it goes back onto that HWPT, and from then on
 * every atomic unmap and write_protect fails (-EOPNOTSUPP; -EPROTO with the
 * standby): the HWPT has a device again but the tracker no longer knows
 * which. */
static void reattach_then_write_protect(unsigned int flags, bool stop_between)
{
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .flags = flags);
	struct fx f;
	uint8_t *mem;
	uint64_t m[4];

	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(iommudirty_tracker_new(f.ctx, &o, &f.t), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	mem = fx_mem(&f, 2 * MiB, PG);
	assert_non_null(mem);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + MiB, MiB, MiB, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(iommudirty_tracker_detach(f.t, f.dev[0]), 0);
	if (stop_between)
		assert_int_equal(iommudirty_tracker_stop(f.t), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	if (stop_between)
		assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, 3 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_write_protect(f.t, 0, MiB, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1ull << 3);
	assert_int_equal(fx_write(&f, 0, 3 * PG, 1), -EFAULT);
	assert_int_equal(iommudirty_tracker_unmap(f.t, 0, MiB), 0);
	assert_int_equal(fx_write(&f, 0, MiB + PG, 1), 0);
	assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, MiB, MiB, PG, m, sizeof(m),
							IOMMUDIRTY_UNMAP_ATOMIC), 0);
	assert_int_equal(m[0], 1ull << 1);
	fx_fini(&f);
}

static void test_reattach_while_started_then_atomic_unmap(void **state)
{
	(void)state;
	reattach_then_write_protect(0, false);
	reattach_then_write_protect(0, true);
}

static void test_reattach_while_started_then_atomic_unmap_standby(void **state)
{
	(void)state;
	reattach_then_write_protect(IOMMUDIRTY_TRACKER_STANDBY, false);
	reattach_then_write_protect(IOMMUDIRTY_TRACKER_STANDBY, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reattach_while_started_then_atomic_unmap),
		cmocka_unit_test(test_reattach_while_started_then_atomic_unmap_standby),
		cmocka_unit_test(test_stress_iommufd),
		cmocka_unit_test(test_stress_iommufd_standby),
		cmocka_unit_test(test_stress_type1),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
