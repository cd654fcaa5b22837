// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer over the public API on the simulated kernel: the input decodes
 * into a host (IOMMUs that can or cannot track, some with 2 MiB pages,
 * devices with or without DMA logging), a tracker (options struct
 * allocated at exactly its sz, flags, backend) and a sequence of calls:
 * map, unmap, start, stop, reads at odd ranges and page sizes with short
 * bitmaps, unmap_dirty, write_protect, guest addresses, device writes,
 * attach/detach, injected kernel failures.
 * Invariants: the errno convention on every failing call; no sanitizer
 * report; no sim fd or object left after teardown; and a shadow check: a
 * page a device wrote while tracking is reported by the next successful
 * clearing read of it (until an injected failure makes the kernel state
 * unknown to the shadow).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iommudirty.h"

#define PG 4096ull
#define SLOTS 16
#define SLOT (256 * 1024ull)             /* IOVA space per slot */
#define NPAGES (SLOTS * SLOT / PG)       /* 1024 pages of IOVA */

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static void check_errno(int ret)
{
	if (ret < 0 && errno != -ret) {
		fprintf(stderr, "returned %d with errno %d\n", ret, errno);
		abort();
	}
}

struct state {
	struct iommudirty_sim *sim;
	struct iommudirty_ctx *ctx;
	struct iommudirty_device *dev[2];
	int sdev[2], fd[2], ndev;
	bool attached[2];
	struct iommudirty_tracker *t;
	uint8_t *mem;
	bool mapped[SLOTS];
	uint64_t maplen[SLOTS];
	bool started, tainted;
	uint8_t owed[NPAGES]; /* written while started, not yet reported */
};

static void report(struct state *s, uint64_t iova, uint64_t len, uint64_t ps,
		   const uint64_t *bm, bool clear, const char *what)
{
	for (uint64_t p = iova / PG; p < (iova + len) / PG && p < NPAGES; p++) {
		uint64_t bit = (p * PG - iova) / ps;

		if (!s->owed[p])
			continue;
		if (!s->tainted && !((bm[bit / 64] >> (bit % 64)) & 1)) {
			fprintf(stderr, "%s: page %llu written, not reported\n", what,
				(unsigned long long)p);
			abort();
		}
		if (clear)
			s->owed[p] = 0;
	}
}

static void forget(struct state *s, uint64_t iova, uint64_t len)
{
	for (uint64_t p = iova / PG; p < (iova + len) / PG && p < NPAGES; p++)
		s->owed[p] = 0;
}

static void setup(struct state *s, struct in *in)
{
	uint8_t hw = u8(in), tf = u8(in);
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co);
	struct iommudirty_tracker_opts full = {
		.sz = sizeof(full),
		.flags = tf & (IOMMUDIRTY_TRACKER_STANDBY | IOMMUDIRTY_TRACKER_PRECISE_ONLY |
			       IOMMUDIRTY_TRACKER_SMALL_IO_PAGES),
		.policy = (tf >> 4) % 4, /* 3 is invalid: refused */
		.max_io_page = (tf & 0x40) ? 4096 : 0,
	};
	struct iommudirty_tracker_opts *o;
	size_t sz = (hw & 0x80) ? offsetof(struct iommudirty_tracker_opts, policy) : sizeof(full);

	s->sim = iommudirty_sim_new(NULL);
	if (!s->sim)
		abort();
	s->ndev = 1 + (hw & 1);
	for (int i = 0; i < s->ndev; i++) {
		IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, io,
				.flags = (hw >> (1 + i)) & 1 ? IOMMUDIRTY_SIM_IOMMU_NO_DIRTY : 0,
				.pgsize_bitmap = (hw >> (3 + i)) & 1 ? PG | (2ull << 20) : 0);
		IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, d,
				.flags = (hw >> (5 + i)) & 1 ? IOMMUDIRTY_SIM_DEV_DMA_LOGGING : 0);

		d.iommu = iommudirty_sim_add_iommu(s->sim, &io);
		s->sdev[i] = iommudirty_sim_add_vfio_device(s->sim, &d);
		s->fd[i] = iommudirty_sim_open_device(s->sim, s->sdev[i]);
	}
	co.sim = s->sim;
	s->ctx = iommudirty_ctx_new(&co);
	if (!s->ctx)
		abort();
	for (int i = 0; i < s->ndev; i++)
		check_errno(iommudirty_device_bind(s->ctx, s->fd[i], &s->dev[i]));
	o = malloc(sz);
	memcpy(o, &full, sz);
	o->sz = sz;
	check_errno(iommudirty_tracker_new(s->ctx, o, &s->t));
	free(o);
	for (int i = 0; s->t && i < s->ndev; i++)
		if (s->dev[i]) {
			int ret = iommudirty_tracker_attach(s->t, s->dev[i]);

			check_errno(ret);
			s->attached[i] = !ret;
		}
	s->mem = aligned_alloc(2ull << 20, 4ull << 20);
	if (!s->mem)
		abort();
}

static void teardown(struct state *s)
{
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };

	iommudirty_tracker_free(s->t);
	for (int i = 0; i < s->ndev; i++)
		iommudirty_device_free(s->dev[i]);
	iommudirty_ctx_free(s->ctx);
	for (int i = 0; i < s->ndev; i++)
		if (s->fd[i] >= 0)
			iommudirty_sim_close(s->sim, s->fd[i]);
	iommudirty_sim_get_stats(s->sim, &st);
	if (st.open_fds || st.objects) {
		fprintf(stderr, "left behind: %llu fds, %llu objects\n",
			(unsigned long long)st.open_fds, (unsigned long long)st.objects);
		abort();
	}
	iommudirty_sim_free(s->sim);
	free(s->mem);
}

static void op(struct state *s, struct in *in)
{
	uint8_t a = u8(in), b = u8(in), c = u8(in);
	unsigned int slot = b % SLOTS;
	uint64_t iova = slot * SLOT, len = ((c % 64) + 1) * PG, ps = PG << (a >> 5 & 3);
	uint64_t bm[NPAGES / 64 + 1];
	int ret = 0;

	if (c & 0x80)
		len = SLOT; /* whole slots, often */
	switch (a % 12) {
	case 0: /* map */
		if (s->mapped[slot])
			break;
		if (c & 0x20) /* with a guest address (a multiple of a slot, or odd) */
			ret = iommudirty_tracker_map_guest(s->t, s->mem + (slot % 4) * SLOT * 2, len,
							   iova, (uint64_t)(b >> 4) * SLOT +
							   (a & 0x10 ? PG / 2 : 0),
							   (c & 0x40) ? IOMMUDIRTY_MAP_READ
								      : IOMMUDIRTY_MAP_WRITE);
		else
			ret = iommudirty_tracker_map(s->t, s->mem + (slot % 4) * SLOT * 2, len, iova,
						     (c & 0x40) ? IOMMUDIRTY_MAP_READ
								: IOMMUDIRTY_MAP_WRITE);
		if (!ret) {
			s->mapped[slot] = true;
			s->maplen[slot] = len;
		}
		break;
	case 1: /* plain unmap: its bits are discarded */
		ret = iommudirty_tracker_unmap(s->t, iova, s->mapped[slot] ? s->maplen[slot] : len);
		if (!ret) {
			forget(s, iova, s->maplen[slot]);
			s->mapped[slot] = false;
		}
		break;
	case 2:
		ret = iommudirty_tracker_start(s->t);
		if (!ret && !s->started) {
			memset(s->owed, 0, sizeof(s->owed));
			s->started = true;
		}
		break;
	case 3:
		ret = iommudirty_tracker_stop(s->t);
		s->started = false;
		memset(s->owed, 0, sizeof(s->owed));
		break;
	case 4: /* read, sometimes of an odd range or with a short bitmap */
	case 5: {
		uint64_t rl = (c & 1) ? 4 * SLOT : len;
		size_t bytes = iommudirty_bitmap_size(rl, ps);
		unsigned int fl = (c & 2) ? IOMMUDIRTY_READ_NO_CLEAR : 0;

		if (c & 4)
			bytes = bytes ? bytes - 1 : 0;
		if (c & 8)
			fl |= 1u << (a & 7);
		if (bytes > sizeof(bm))
			break;
		if (c & 16) { /* counted: the count is the bitmap's */
			uint64_t n = UINT64_MAX;

			ret = iommudirty_tracker_read_counted(s->t, iova, rl, ps, bm, bytes, fl, &n);
			if (!ret && (int64_t)n != iommudirty_bitmap_count(bm, rl / ps)) {
				fprintf(stderr, "read_counted: %llu, the bitmap has %lld\n",
					(unsigned long long)n,
					(long long)iommudirty_bitmap_count(bm, rl / ps));
				abort();
			}
		} else {
			ret = iommudirty_tracker_read(s->t, iova, rl, ps, bm, bytes, fl);
		}
		if (!ret)
			report(s, iova, rl, ps, bm, !(fl & IOMMUDIRTY_READ_NO_CLEAR), "read");
		break;
	}
	case 6: /* unmap_dirty, cheap or atomic */
	case 7: {
		uint64_t ul = s->mapped[slot] ? s->maplen[slot] : len;
		size_t bytes = iommudirty_bitmap_size(ul, ps);

		if (bytes > sizeof(bm))
			break;
		ret = a % 12 == 6 ?
		      iommudirty_tracker_unmap_dirty(s->t, iova, ul, ps, bm, bytes,
						     (c & 1) ? IOMMUDIRTY_UNMAP_ATOMIC : 0) :
		      iommudirty_tracker_write_protect(s->t, iova, ul, ps, bm, bytes, 0);
		if (!ret) {
			report(s, iova, ul, ps, bm, true, "unmap_dirty/write_protect");
			if (a % 12 == 6) {
				s->mapped[slot] = false;
			} else {
				/* Taken away: unmap forgets it later. */
				check_errno(iommudirty_tracker_unmap(s->t, iova, ul));
				s->mapped[slot] = false;
			}
		}
		break;
	}
	case 8: { /* a device writes */
		int d = c & 1;
		uint64_t at = iova + (b % 64) * PG;

		if (d >= s->ndev)
			break;
		if (iommudirty_sim_dma_write(s->sim, s->sdev[d], at, 1, NULL) == 0 && s->started &&
		    at / PG < NPAGES)
			s->owed[at / PG] = 1;
		break;
	}
	case 9: /* a kernel call fails */
		iommudirty_sim_fail_call(s->sim, 1 + c % 4, -(int)(1 + b % 40));
		s->tainted = true;
		break;
	case 10: { /* detach or attach */
		int d = c & 1;

		if (d >= s->ndev || !s->dev[d])
			break;
		if (s->attached[d]) {
			ret = iommudirty_tracker_detach(s->t, s->dev[d]);
			s->attached[d] = ret != 0;
		} else {
			ret = iommudirty_tracker_attach(s->t, s->dev[d]);
			s->attached[d] = ret == 0;
		}
		break;
	}
	default: { /* guest addresses and guest reads */
		size_t bytes = iommudirty_bitmap_size(4 * SLOT, ps);

		if (c & 1) {
			ret = iommudirty_tracker_set_guest(s->t, iova, s->maplen[slot] ? s->maplen[slot]
										   : len,
							   (uint64_t)(b >> 4) * SLOT);
		} else if (bytes <= sizeof(bm)) {
			ret = iommudirty_tracker_read_guest(s->t, (uint64_t)(b >> 4) * SLOT, 4 * SLOT,
							    ps, bm, bytes,
							    (c & 2) ? IOMMUDIRTY_READ_NO_CLEAR : 0);
			/* Guest reads move bits the shadow tracks by IOVA. */
			if (!ret && !(c & 2))
				s->tainted = true;
		}
		break;
	}
	}
	check_errno(ret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	struct state s;

	memset(&s, 0, sizeof(s));
	setup(&s, &in);
	for (int i = 0; s.t && i < 64 && in.n; i++)
		op(&s, &in);
	iommudirty_sim_fail_call(s.sim, 0, 0);
	teardown(&s);
	return 0;
}
