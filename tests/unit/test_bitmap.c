/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bitmap helpers against a bit-by-bit reference, on fixed-seed random maps
 * and the edges (0/1/63/64/65 bits, runs on word edges, all-ones words,
 * garbage past nbits in the last word).
 *
 * Buffers end exactly at a PROT_NONE page, so touching a word past the one
 * holding the last bit faults even without ASan.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bitmap.h"

#include <cmocka.h>

#include "internal.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	rng_state = seed;
}

/* splitmix64: tiny and good enough to make test maps. */
static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t n)
{
	return n ? rng() % n : 0;
}

static uint64_t words_for(uint64_t nbits)
{
	return (nbits + 63) / 64;
}

static bool ref_get(const uint64_t *map, uint64_t i)
{
	return (map[i / 64] >> (i % 64)) & 1;
}

static void ref_put(uint64_t *map, uint64_t i, bool v)
{
	if (v)
		map[i / 64] |= 1ull << (i % 64);
	else
		map[i / 64] &= ~(1ull << (i % 64));
}

/* A buffer of nwords words whose end touches a PROT_NONE page. */
struct gbuf {
	void *base;
	size_t len;
	uint64_t *w;
	uint64_t nwords;
};

static void gbuf_alloc(struct gbuf *g, uint64_t nwords)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t bytes = nwords * sizeof(uint64_t);
	size_t data = (bytes + pg - 1) / pg * pg;
	char *p;

	g->len = data + pg;
	p = mmap(NULL, g->len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(mprotect(p + data, pg, PROT_NONE), 0);
	g->base = p;
	g->w = (uint64_t *)(p + data - bytes);
	g->nwords = nwords;
}

static void gbuf_free(struct gbuf *g)
{
	munmap(g->base, g->len);
}

enum pattern {
	PAT_ZERO,
	PAT_ONES,
	PAT_SPARSE,     /* ~0.1 % */
	PAT_IID_10,
	PAT_IID_50,
	PAT_IID_90,
	PAT_DENSE,      /* ~99.9 % */
	PAT_RUNS,       /* runs and gaps of 1..200 bits */
	PAT_WORDS,      /* whole words of 0, ~0 or random */
	PAT_NR,
};

static bool chance(uint64_t per_million)
{
	return rng_below(1000000) < per_million;
}

/* Fill all of map's words (including bits past nbits, which callers must
 * ignore: they get random garbage here). */
static void fill(uint64_t *map, uint64_t nwords, enum pattern pat)
{
	uint64_t i, nbits = nwords * 64;

	switch (pat) {
	case PAT_ZERO:
		memset(map, 0, nwords * 8);
		break;
	case PAT_ONES:
		memset(map, 0xff, nwords * 8);
		break;
	case PAT_SPARSE:
	case PAT_IID_10:
	case PAT_IID_50:
	case PAT_IID_90:
	case PAT_DENSE: {
		static const uint64_t ppm[] = {
			[PAT_SPARSE] = 1000, [PAT_IID_10] = 100000,
			[PAT_IID_50] = 500000, [PAT_IID_90] = 900000,
			[PAT_DENSE] = 999000,
		};
		for (i = 0; i < nbits; i++)
			ref_put(map, i, chance(ppm[pat]));
		break;
	}
	case PAT_RUNS: {
		bool v = rng() & 1;

		for (i = 0; i < nbits;) {
			uint64_t len = 1 + rng_below(200);

			for (; len && i < nbits; len--, i++)
				ref_put(map, i, v);
			v = !v;
		}
		break;
	}
	case PAT_WORDS:
		for (i = 0; i < nwords; i++) {
			uint64_t r = rng_below(3);

			map[i] = r == 0 ? 0 : r == 1 ? ~0ull : rng();
		}
		break;
	default:
		fail();
	}
}

/* Sizes every randomized test covers, plus a few random ones. */
static const uint64_t edge_nbits[] = {
	0, 1, 2, 63, 64, 65, 127, 128, 129, 191, 192, 193, 640, 1000, 4095,
	4096, 4097,
};

static uint64_t pick_nbits(unsigned int iter)
{
	if (iter < ARRAY_SIZE(edge_nbits))
		return edge_nbits[iter];
	return rng_below(5000);
}

/* ---- iommudirty_bitmap_size --------------------------------------------- */

static void test_size(void **state)
{
	(void)state;

	errno = 0;
	assert_int_equal(iommudirty_bitmap_size(0, 4096), 0);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(iommudirty_bitmap_size(4096, 0), 0);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(iommudirty_bitmap_size(4096, 3 * 4096), 0);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(iommudirty_bitmap_size(1ull << 40, 4097), 0);
	assert_int_equal(errno, EINVAL);

	assert_int_equal(iommudirty_bitmap_size(4096, 4096), 8);
	assert_int_equal(iommudirty_bitmap_size(1, 4096), 8);
	assert_int_equal(iommudirty_bitmap_size(4097, 4096), 8);
	assert_int_equal(iommudirty_bitmap_size(63 * 4096, 4096), 8);
	assert_int_equal(iommudirty_bitmap_size(64 * 4096, 4096), 8);
	assert_int_equal(iommudirty_bitmap_size(64 * 4096 + 1, 4096), 16);
	assert_int_equal(iommudirty_bitmap_size(65 * 4096, 4096), 16);
	assert_int_equal(iommudirty_bitmap_size(128 * 4096, 4096), 16);
	assert_int_equal(iommudirty_bitmap_size(1, 1), 8);
	assert_int_equal(iommudirty_bitmap_size(64, 1), 8);
	assert_int_equal(iommudirty_bitmap_size(65, 1), 16);
	/* 1 TiB at 4 KiB: 2^28 bits, 32 MiB */
	assert_int_equal(iommudirty_bitmap_size(1ull << 40, 4096), 32ull << 20);
	/* 1 TiB at 2 MiB: 2^19 bits */
	assert_int_equal(iommudirty_bitmap_size(1ull << 40, 2ull << 20), 64 << 10);
	/* extremes must not wrap */
	assert_int_equal(iommudirty_bitmap_size(UINT64_MAX, 1ull << 63), 8);
	assert_int_equal(iommudirty_bitmap_size(1ull << 63, 1ull << 63), 8);
	if (sizeof(size_t) == 8) {
		assert_int_equal(iommudirty_bitmap_size(UINT64_MAX, 1),
				 (uint64_t)1 << 61);
		assert_int_equal(iommudirty_bitmap_size(UINT64_MAX, 4096),
				 ((UINT64_MAX >> 12) + 1) / 64 * 8);
	}
}

/* ---- iommudirty_bitmap_for_each_run ------------------------------------- */

struct run {
	uint64_t first, count;
};

struct runs {
	struct run *r;
	size_t n, cap;
	size_t stop_at;  /* return stop_ret on this call (1-based), 0: never */
	int stop_ret;
};

static void runs_push(struct runs *rs, uint64_t first, uint64_t count)
{
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 64;
		rs->r = realloc(rs->r, rs->cap * sizeof(*rs->r));
		assert_non_null(rs->r);
	}
	rs->r[rs->n].first = first;
	rs->r[rs->n].count = count;
	rs->n++;
}

static int collect(uint64_t first, uint64_t count, void *user)
{
	struct runs *rs = user;

	runs_push(rs, first, count);
	if (rs->stop_at && rs->n == rs->stop_at)
		return rs->stop_ret;
	return 0;
}

static void ref_runs(const uint64_t *map, uint64_t nbits, struct runs *rs)
{
	uint64_t i = 0, start;

	while (i < nbits) {
		if (!ref_get(map, i)) {
			i++;
			continue;
		}
		start = i;
		while (i < nbits && ref_get(map, i))
			i++;
		runs_push(rs, start, i - start);
	}
}

static void check_runs(const uint64_t *map, uint64_t nbits)
{
	struct runs want = { 0 }, got = { 0 };
	size_t i;

	ref_runs(map, nbits, &want);
	assert_int_equal(iommudirty_bitmap_for_each_run(map, nbits, collect,
							&got), 0);
	assert_int_equal(got.n, want.n);
	for (i = 0; i < want.n; i++) {
		assert_int_equal(got.r[i].first, want.r[i].first);
		assert_int_equal(got.r[i].count, want.r[i].count);
	}

	/* Stopping early: exactly stop_at calls, the callback's value back. */
	if (want.n) {
		struct runs part = { 0 };

		part.stop_at = 1 + rng_below(want.n);
		part.stop_ret = (rng() & 1) ? -1234 : 7;
		assert_int_equal(iommudirty_bitmap_for_each_run(map, nbits,
								collect, &part),
				 part.stop_ret);
		assert_int_equal(part.n, part.stop_at);
		for (i = 0; i < part.n; i++) {
			assert_int_equal(part.r[i].first, want.r[i].first);
			assert_int_equal(part.r[i].count, want.r[i].count);
		}
		free(part.r);
	}
	free(want.r);
	free(got.r);
}

static void test_runs_random(void **state)
{
	unsigned int iter, pat;
	(void)state;

	rng_seed(0x5eed0001);
	for (iter = 0; iter < 120; iter++) {
		uint64_t nbits = pick_nbits(iter);

		for (pat = 0; pat < PAT_NR; pat++) {
			struct gbuf g;

			gbuf_alloc(&g, words_for(nbits));
			fill(g.w, g.nwords, pat);
			check_runs(g.w, nbits);
			gbuf_free(&g);
		}
	}
}

/* A map of nbits with exactly the runs given set; garbage past nbits. */
static void check_exact_runs(uint64_t nbits, const struct run *r, size_t n)
{
	struct runs got = { 0 };
	struct gbuf g;
	size_t i;
	uint64_t b;

	gbuf_alloc(&g, words_for(nbits));
	memset(g.w, 0, g.nwords * 8);
	for (i = 0; i < n; i++)
		for (b = r[i].first; b < r[i].first + r[i].count; b++)
			ref_put(g.w, b, true);
	for (b = nbits; b < g.nwords * 64; b++)
		ref_put(g.w, b, true);

	assert_int_equal(iommudirty_bitmap_for_each_run(g.w, nbits, collect,
							&got), 0);
	assert_int_equal(got.n, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(got.r[i].first, r[i].first);
		assert_int_equal(got.r[i].count, r[i].count);
	}
	free(got.r);
	gbuf_free(&g);
}

#define EXACT(nbits, ...)                                                      \
	do {                                                                   \
		const struct run r_[] = { __VA_ARGS__ };                       \
		check_exact_runs(nbits, r_, ARRAY_SIZE(r_));                   \
	} while (0)

static void test_runs_edges(void **state)
{
	(void)state;

	EXACT(1, { 0, 1 });
	EXACT(63, { 0, 63 });
	EXACT(63, { 62, 1 });
	EXACT(64, { 0, 64 });
	EXACT(64, { 63, 1 });
	EXACT(64, { 0, 1 }, { 63, 1 });
	EXACT(65, { 0, 65 });
	EXACT(65, { 64, 1 });
	EXACT(65, { 63, 2 });
	EXACT(65, { 0, 63 }, { 64, 1 });
	/* runs that end exactly on a word edge, start exactly on one */
	EXACT(256, { 0, 64 }, { 128, 64 });
	EXACT(256, { 64, 64 }, { 192, 64 });
	EXACT(256, { 1, 63 }, { 65, 63 }, { 129, 127 });
	/* one long run over many all-ones words, partial at both ends */
	EXACT(64 * 1000 + 13, { 5, 64 * 900 + 7 });
	EXACT(64 * 1000 + 13, { 5, 64 * 1000 + 8 });
	EXACT(64 * 1000 + 13, { 0, 64 * 1000 + 13 });
	/* runs separated by many zero words */
	EXACT(64 * 1000, { 3, 1 }, { 64 * 500, 1 }, { 64 * 1000 - 1, 1 });
	/* alternating bits inside one word, and across a word edge */
	EXACT(70, { 0, 1 }, { 2, 1 }, { 4, 1 }, { 62, 1 }, { 64, 1 },
	      { 66, 1 }, { 69, 1 });
	/* nbits 0: nothing, nothing read */
	check_exact_runs(0, NULL, 0);
}

/* Stopping on the run that is emitted after the loop (ends at nbits). */
static void test_runs_stop_last(void **state)
{
	uint64_t map[2] = { 1, ~0ull };
	struct runs rs = { 0 };
	(void)state;

	rs.stop_at = 2;
	rs.stop_ret = 99;
	assert_int_equal(iommudirty_bitmap_for_each_run(map, 128, collect, &rs),
			 99);
	assert_int_equal(rs.n, 2);
	assert_int_equal(rs.r[1].first, 64);
	assert_int_equal(rs.r[1].count, 64);
	free(rs.r);

	/* Stop at the first of several runs inside one word. */
	memset(&rs, 0, sizeof(rs));
	map[0] = 0x5;
	rs.stop_at = 1;
	rs.stop_ret = 1;
	assert_int_equal(iommudirty_bitmap_for_each_run(map, 64, collect, &rs),
			 1);
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.r[0].first, 0);
	assert_int_equal(rs.r[0].count, 1);
	free(rs.r);
}

static void test_runs_large(void **state)
{
	uint64_t nbits = (1ull << 20) + 37;
	unsigned int pat;
	struct gbuf g;
	(void)state;

	rng_seed(0x5eed0002);
	gbuf_alloc(&g, words_for(nbits));
	for (pat = 0; pat < PAT_NR; pat++) {
		fill(g.w, g.nwords, pat);
		check_runs(g.w, nbits);
	}
	gbuf_free(&g);
}

static int never(uint64_t first, uint64_t count, void *user)
{
	(void)first;
	(void)count;
	(*(int *)user)++;
	return 0;
}

static void test_runs_errors(void **state)
{
	uint64_t map[1] = { ~0ull };
	int calls = 0;
	(void)state;

	errno = 0;
	assert_int_equal(iommudirty_bitmap_for_each_run(NULL, 1, never, &calls),
			 -EINVAL);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(iommudirty_bitmap_for_each_run(map, 64, NULL, NULL),
			 -EINVAL);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(iommudirty_bitmap_for_each_run(NULL, 0, NULL, NULL),
			 -EINVAL);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(calls, 0);

	/* nbits 0 with a NULL map is fine and calls nothing */
	errno = 0;
	assert_int_equal(iommudirty_bitmap_for_each_run(NULL, 0, never, &calls),
			 0);
	assert_int_equal(iommudirty_bitmap_for_each_run(map, 0, never, &calls),
			 0);
	assert_int_equal(calls, 0);
	assert_int_equal(errno, 0);
}

/* ---- iommudirty_bitmap_or ----------------------------------------------- */

static void test_or_random(void **state)
{
	unsigned int iter;
	(void)state;

	rng_seed(0x5eed0003);
	for (iter = 0; iter < 400; iter++) {
		uint64_t nbits = pick_nbits(iter % 200), nw = words_for(nbits);
		struct gbuf d, s;
		uint64_t *want, i;

		gbuf_alloc(&d, nw);
		gbuf_alloc(&s, nw);
		fill(d.w, nw, rng_below(PAT_NR));
		fill(s.w, nw, rng_below(PAT_NR));
		want = malloc(nw * 8 + 8);
		assert_non_null(want);
		memcpy(want, d.w, nw * 8);
		for (i = 0; i < nbits; i++)
			if (ref_get(s.w, i))
				ref_put(want, i, true);

		errno = 0;
		assert_int_equal(iommudirty_bitmap_or(d.w, s.w, nbits), 0);
		assert_int_equal(errno, 0);
		/* includes dst's bits past nbits, which must be unchanged */
		assert_memory_equal(d.w, want, nw * 8);
		free(want);
		gbuf_free(&d);
		gbuf_free(&s);
	}
}

static void test_or_edges(void **state)
{
	uint64_t d[2], s[2];
	(void)state;

	/* src garbage past nbits is not OR-ed in */
	d[0] = 0;
	s[0] = ~0ull;
	assert_int_equal(iommudirty_bitmap_or(d, s, 1), 0);
	assert_int_equal(d[0], 1);
	d[0] = 0;
	assert_int_equal(iommudirty_bitmap_or(d, s, 63), 0);
	assert_int_equal(d[0], ~0ull >> 1);
	d[0] = 0;
	assert_int_equal(iommudirty_bitmap_or(d, s, 64), 0);
	assert_int_equal(d[0], ~0ull);
	d[0] = d[1] = 0;
	s[0] = s[1] = ~0ull;
	assert_int_equal(iommudirty_bitmap_or(d, s, 65), 0);
	assert_int_equal(d[0], ~0ull);
	assert_int_equal(d[1], 1);
	/* dst bits past nbits keep their value, set or clear */
	d[0] = 0x8000000000000000ull;
	s[0] = 0;
	assert_int_equal(iommudirty_bitmap_or(d, s, 10), 0);
	assert_int_equal(d[0], 0x8000000000000000ull);
	/* nbits 0 touches nothing */
	d[0] = 0;
	s[0] = ~0ull;
	assert_int_equal(iommudirty_bitmap_or(d, s, 0), 0);
	assert_int_equal(d[0], 0);
}

static void test_or_errors(void **state)
{
	uint64_t d = 0, s = 1;
	(void)state;

	errno = 0;
	assert_int_equal(iommudirty_bitmap_or(NULL, &s, 1), -EINVAL);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(iommudirty_bitmap_or(&d, NULL, 64), -EINVAL);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(d, 0);
	errno = 0;
	assert_int_equal(iommudirty_bitmap_or(NULL, NULL, 0), 0);
	assert_int_equal(errno, 0);
}

/* ---- iommudirty_bitmap_count -------------------------------------------- */

static void test_count_random(void **state)
{
	unsigned int iter, pat;
	(void)state;

	rng_seed(0x5eed0004);
	for (iter = 0; iter < 120; iter++) {
		uint64_t nbits = pick_nbits(iter);

		for (pat = 0; pat < PAT_NR; pat++) {
			struct gbuf g;
			int64_t want = 0;
			uint64_t i;

			gbuf_alloc(&g, words_for(nbits));
			fill(g.w, g.nwords, pat);
			for (i = 0; i < nbits; i++)
				want += ref_get(g.w, i);
			assert_int_equal(iommudirty_bitmap_count(g.w, nbits),
					 want);
			/* Each build of the word loop the CPU can run. */
			for (int impl = 0; impl < BITMAP_COUNT_NR_IMPL; impl++) {
				uint64_t w = 0, got;

				for (i = 0; i < nbits / 64 * 64; i++)
					w += ref_get(g.w, i);
				got = bitmap_count_words_with((enum bitmap_count_impl)impl,
							      g.w, nbits / 64);
				if (got != UINT64_MAX || impl == BITMAP_COUNT_GENERIC)
					assert_int_equal(got, w);
			}
			gbuf_free(&g);
		}
	}
}

static void test_count_edges(void **state)
{
	uint64_t m[2] = { ~0ull, ~0ull };
	(void)state;

	assert_int_equal(iommudirty_bitmap_count(m, 0), 0);
	assert_int_equal(iommudirty_bitmap_count(m, 1), 1);
	assert_int_equal(iommudirty_bitmap_count(m, 63), 63);
	assert_int_equal(iommudirty_bitmap_count(m, 64), 64);
	assert_int_equal(iommudirty_bitmap_count(m, 65), 65);
	assert_int_equal(iommudirty_bitmap_count(m, 128), 128);
	m[0] = 1ull << 63;
	m[1] = 1;
	assert_int_equal(iommudirty_bitmap_count(m, 63), 0);
	assert_int_equal(iommudirty_bitmap_count(m, 64), 1);
	assert_int_equal(iommudirty_bitmap_count(m, 65), 2);

	errno = 0;
	assert_int_equal(iommudirty_bitmap_count(NULL, 1), -EINVAL);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(iommudirty_bitmap_count(NULL, 0), 0);
	assert_int_equal(errno, 0);
}

/* ---- internal: bitmap_or_shifted ---------------------------------------- */

static void check_or_shifted(uint64_t dst_bit, uint64_t nbits)
{
	uint64_t dw = words_for(dst_bit + nbits), sw = words_for(nbits), i;
	struct gbuf d, s;
	uint64_t *want;

	gbuf_alloc(&d, dw ? dw : 1);
	gbuf_alloc(&s, sw);
	fill(d.w, d.nwords, rng_below(PAT_NR));
	fill(s.w, sw, rng_below(PAT_NR));
	want = malloc(d.nwords * 8);
	assert_non_null(want);
	memcpy(want, d.w, d.nwords * 8);
	for (i = 0; i < nbits; i++)
		if (ref_get(s.w, i))
			ref_put(want, dst_bit + i, true);

	bitmap_or_shifted(d.w, dst_bit, s.w, nbits);
	assert_memory_equal(d.w, want, d.nwords * 8);
	free(want);
	gbuf_free(&d);
	gbuf_free(&s);
}

static void test_or_shifted(void **state)
{
	unsigned int iter, off;
	(void)state;

	rng_seed(0x5eed0005);
	/* every in-word offset with the edge sizes */
	for (off = 0; off < 64; off++) {
		for (iter = 0; iter < ARRAY_SIZE(edge_nbits); iter++) {
			check_or_shifted(off, edge_nbits[iter]);
			check_or_shifted(64 * 3 + off, edge_nbits[iter]);
		}
	}
	for (iter = 0; iter < 500; iter++)
		check_or_shifted(rng_below(1000), rng_below(3000));
}

/* ---- internal: bitmap_set_range / bitmap_clear_range -------------------- */

static void check_fill(uint64_t start, uint64_t n, bool set)
{
	uint64_t nw = words_for(start + n), i;
	struct gbuf g;
	uint64_t *want;

	gbuf_alloc(&g, nw ? nw : 1);
	fill(g.w, g.nwords, rng_below(PAT_NR));
	want = malloc(g.nwords * 8);
	assert_non_null(want);
	memcpy(want, g.w, g.nwords * 8);
	for (i = start; i < start + n; i++)
		ref_put(want, i, set);

	if (set)
		bitmap_set_range(g.w, start, n);
	else
		bitmap_clear_range(g.w, start, n);
	assert_memory_equal(g.w, want, g.nwords * 8);
	free(want);
	gbuf_free(&g);
}

static void test_set_clear_range(void **state)
{
	static const uint64_t ns[] = { 0, 1, 2, 62, 63, 64, 65, 127, 128, 129,
				       191, 192, 700 };
	unsigned int i, off;
	(void)state;

	rng_seed(0x5eed0006);
	for (off = 0; off < 64; off++) {
		for (i = 0; i < ARRAY_SIZE(ns); i++) {
			check_fill(off, ns[i], true);
			check_fill(off, ns[i], false);
			check_fill(128 + off, ns[i], true);
			check_fill(128 + off, ns[i], false);
		}
	}
	for (i = 0; i < 1000; i++) {
		uint64_t start = rng_below(2000), n = rng_below(3000);

		check_fill(start, n, i & 1);
	}
}

/* ---- internal: bitmap_shift_up ------------------------------------------ */

static void check_shift_up(uint64_t start, uint64_t n, unsigned int by)
{
	uint64_t nw = words_for(start + n + by), i;
	struct gbuf g;
	uint64_t *old, *want;

	gbuf_alloc(&g, nw ? nw : 1);
	fill(g.w, g.nwords, rng_below(PAT_NR));
	old = malloc(g.nwords * 8);
	want = malloc(g.nwords * 8);
	assert_non_null(old);
	assert_non_null(want);
	memcpy(old, g.w, g.nwords * 8);
	memcpy(want, g.w, g.nwords * 8);
	for (i = 0; i < n; i++)
		ref_put(want, start + by + i, ref_get(old, start + i));
	for (i = 0; i < by; i++)
		ref_put(want, start + i, false);

	bitmap_shift_up(g.w, start, n, by);
	assert_memory_equal(g.w, want, g.nwords * 8);
	free(old);
	free(want);
	gbuf_free(&g);
}

static void test_shift_up(void **state)
{
	static const uint64_t ns[] = { 0, 1, 2, 63, 64, 65, 127, 128, 129, 500 };
	static const unsigned int bys[] = { 0, 1, 2, 31, 32, 62, 63 };
	unsigned int i, j, off;
	(void)state;

	rng_seed(0x5eed0007);
	for (off = 0; off < 64; off++)
		for (i = 0; i < ARRAY_SIZE(ns); i++)
			for (j = 0; j < ARRAY_SIZE(bys); j++) {
				check_shift_up(off, ns[i], bys[j]);
				check_shift_up(192 + off, ns[i], bys[j]);
			}
	for (i = 0; i < 2000; i++)
		check_shift_up(rng_below(1000), rng_below(3000),
			       (unsigned int)rng_below(64));
}

/* The reference itself must catch a wrong answer: a test that cannot fail
 * proves nothing. Flip one bit of a correct result and compare. */
static void test_reference_detects(void **state)
{
	uint64_t a[2] = { 0x00f0, 0 }, b[2] = { 0x00f0, 0 };
	struct runs want = { 0 };
	(void)state;

	ref_runs(a, 128, &want);
	assert_int_equal(want.n, 1);
	assert_int_equal(want.r[0].first, 4);
	assert_int_equal(want.r[0].count, 4);
	free(want.r);
	ref_put(b, 70, true);
	assert_memory_not_equal(a, b, sizeof(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_runs_random),
		cmocka_unit_test(test_runs_edges),
		cmocka_unit_test(test_runs_stop_last),
		cmocka_unit_test(test_runs_large),
		cmocka_unit_test(test_runs_errors),
		cmocka_unit_test(test_or_random),
		cmocka_unit_test(test_or_edges),
		cmocka_unit_test(test_or_errors),
		cmocka_unit_test(test_count_random),
		cmocka_unit_test(test_count_edges),
		cmocka_unit_test(test_or_shifted),
		cmocka_unit_test(test_set_clear_range),
		cmocka_unit_test(test_shift_up),
		cmocka_unit_test(test_reference_detects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
