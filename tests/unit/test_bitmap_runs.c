/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The batch run walker and the OR at a bit offset, against per-bit
 * reference implementations over random maps of every density, lengths
 * that end inside a word, batch sizes from 1 up, and garbage past nbits.
 * Every build of the walker's word loop that this CPU runs is tested
 * (bitmap_runs_with()), and the public entry points.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bitmap.h"
#include "iommudirty.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static bool bit(const uint64_t *m, uint64_t i)
{
	return (m[i / 64] >> (i % 64)) & 1;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random map: runs of random lengths, dense or sparse by `bias`. */
static void fill(uint64_t *m, uint64_t words, uint64_t *seed, unsigned int bias)
{
	switch (bias) {
	case 0:
		for (uint64_t w = 0; w < words; w++)
			m[w] = rnd(seed);
		break;
	default:
		memset(m, 0, words * 8);
		for (uint64_t i = 0; i < words * 64;) {
			uint64_t len = rnd(seed) % (bias * 4) + 1;

			if (rnd(seed) % 2)
				for (uint64_t j = i; j < i + len && j < words * 64; j++)
					m[j / 64] |= 1ull << (j % 64);
			i += len;
		}
		break;
	}
}

static void check_runs(const uint64_t *m, uint64_t nbits, size_t batch)
{
	struct iommudirty_run runs[70];
	uint64_t pos = 0, expect = 0, total = 0;
	int got;

	while ((got = iommudirty_bitmap_runs(m, nbits, &pos, runs, batch)) > 0) {
		assert_true((size_t)got <= batch);
		for (int k = 0; k < got; k++) {
			/* Clear up to the run, set over it, clear just after. */
			for (; expect < runs[k].first; expect++)
				assert_false(bit(m, expect));
			assert_true(runs[k].count > 0);
			for (uint64_t j = 0; j < runs[k].count; j++)
				assert_true(bit(m, runs[k].first + j));
			expect = runs[k].first + runs[k].count;
			assert_true(expect <= nbits);
			if (expect < nbits)
				assert_false(bit(m, expect));
			total += runs[k].count;
		}
		/* Past the last run; a short batch means none is left. */
		assert_true(pos >= expect);
		for (uint64_t j = expect; j < pos; j++)
			assert_false(bit(m, j));
		if ((size_t)got < batch)
			assert_int_equal(pos, nbits);
	}
	assert_int_equal(got, 0);
	assert_int_equal(pos, nbits);
	for (; expect < nbits; expect++)
		assert_false(bit(m, expect));
	assert_int_equal(total, (uint64_t)iommudirty_bitmap_count(m, nbits));
}

static void test_runs_match_reference(void **state)
{
	static const uint64_t lens[] = { 1, 63, 64, 65, 127, 128, 1000, 4095 };
	static const size_t batches[] = { 1, 2, 3, 64, 70 };
	uint64_t m[64 + 1], seed = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (unsigned int bias = 0; bias <= 40; bias += 8) {
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			fill(m, 65, &seed, bias);
			for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++)
				check_runs(m, lens[l], batches[b]);
		}
	}
	/* All ones, all zeros, a run ending exactly at nbits inside a word
	 * with garbage after it. */
	memset(m, 0xff, sizeof(m));
	check_runs(m, 4095, 1);
	memset(m, 0, sizeof(m));
	check_runs(m, 4095, 3);
	m[0] = ~0ull;
	m[1] = ~0ull;
	check_runs(m, 100, 2);
}

static void test_runs_resume_and_args(void **state)
{
	uint64_t m[2] = { 0xf0f0ull, 1ull << 63 }, pos = 6;
	struct iommudirty_run r[70];

	(void)state;
	/* A run cut at *pos, the slow and the word-at-a-time way. */
	for (size_t n = 4; n <= 70; n += 66) {
		pos = 6;
		assert_int_equal(iommudirty_bitmap_runs(m, 128, &pos, r, n), 3);
		assert_int_equal(r[0].first, 6);
		assert_int_equal(r[0].count, 2);
		assert_int_equal(r[1].first, 12);
		assert_int_equal(r[1].count, 4);
		assert_int_equal(r[2].first, 127);
		assert_int_equal(r[2].count, 1);
		assert_int_equal(pos, 128);
	}
	assert_int_equal(iommudirty_bitmap_runs(m, 128, &pos, r, 4), 0);
	assert_int_equal(iommudirty_bitmap_runs(m, 128, NULL, r, 4), -EINVAL);
	pos = 0;
	assert_int_equal(iommudirty_bitmap_runs(NULL, 128, &pos, r, 4), -EINVAL);
	assert_int_equal(iommudirty_bitmap_runs(m, 128, &pos, NULL, 4), -EINVAL);
	assert_int_equal(iommudirty_bitmap_runs(NULL, 0, &pos, NULL, 0), 0);
}

static void test_or_at_matches_reference(void **state)
{
	uint64_t src[9], dst[20], ref[20], seed = 12345;

	(void)state;
	for (uint64_t off = 0; off < 200; off += 7) {
		for (uint64_t n = 0; n < 9 * 64; n += 37) {
			for (size_t w = 0; w < 9; w++)
				src[w] = rnd(&seed);
			for (size_t w = 0; w < 20; w++)
				dst[w] = ref[w] = rnd(&seed);
			for (uint64_t i = 0; i < n; i++)
				if (bit(src, i))
					ref[(off + i) / 64] |= 1ull << ((off + i) % 64);
			assert_int_equal(iommudirty_bitmap_or_at(dst, off, src, n), 0);
			assert_memory_equal(dst, ref, sizeof(dst));
		}
	}
	assert_int_equal(iommudirty_bitmap_or_at(NULL, 0, src, 1), -EINVAL);
	assert_int_equal(iommudirty_bitmap_or_at(dst, 0, NULL, 1), -EINVAL);
	assert_int_equal(iommudirty_bitmap_or_at(dst, UINT64_MAX, src, 2), -EOVERFLOW);
	assert_int_equal(iommudirty_bitmap_or_at(NULL, 5, NULL, 0), 0);
}

/* ---- every build against the per-bit reference ------------------------ */

/* The maximal runs of set bits in [from, nbits), a run that begins before
 * `from` cut there: the contract, bit by bit. */
static size_t ref_runs_from(const uint64_t *m, uint64_t nbits, uint64_t from,
			    struct iommudirty_run *out)
{
	size_t k = 0;

	for (uint64_t i = from; i < nbits;) {
		uint64_t j;

		if (!bit(m, i)) {
			i++;
			continue;
		}
		for (j = i; j < nbits && bit(m, j); j++)
			;
		out[k++] = (struct iommudirty_run){ .first = i, .count = j - i };
		i = j;
	}
	return k;
}

#define IMPL_PUBLIC BITMAP_RUNS_NR_IMPL /* iommudirty_bitmap_runs() itself */

static int call_runs(int impl, const uint64_t *m, uint64_t nbits, uint64_t *pos,
		     struct iommudirty_run *runs, size_t n)
{
	if (impl == IMPL_PUBLIC)
		return iommudirty_bitmap_runs(m, nbits, pos, runs, n);
	return bitmap_runs_with((enum bitmap_runs_impl)impl, m, nbits, pos, runs, n);
}

#define GUARD 24 /* slots past n that must stay untouched */
#define GUARD_BYTE 0xa5

/*
 * Walk [from, nbits) with batches of n into an array of exactly n runs on
 * the heap (ASan sees a write past it; without ASan, guard slots after it
 * must keep their bytes) and compare with the reference: the same runs, in
 * the same order, none split between calls, *pos past the last run over
 * clear bits only, nbits after a short batch.
 */
static void check_walk(int impl, const uint64_t *m, uint64_t nbits, uint64_t from,
		       size_t n, const struct iommudirty_run *want, size_t nwant)
{
	struct iommudirty_run *runs = malloc((n + GUARD) * sizeof(*runs));
	unsigned char *guard = (unsigned char *)(runs + n);
	uint64_t pos = from;
	size_t seen = 0;
	int got;

	assert_non_null(runs);
	for (;;) {
		memset(guard, GUARD_BYTE, GUARD * sizeof(*runs));
		got = call_runs(impl, m, nbits, &pos, runs, n);
		for (size_t i = 0; i < GUARD * sizeof(*runs); i++)
			assert_int_equal(guard[i], GUARD_BYTE);
		assert_true(got >= 0 && (size_t)got <= n);
		if (!got)
			break;
		for (int k = 0; k < got; k++, seen++) {
			assert_true(seen < nwant);
			assert_int_equal(runs[k].first, want[seen].first);
			assert_int_equal(runs[k].count, want[seen].count);
		}
		/* Past the last run, over clear bits only; a short batch
		 * means none is left. */
		assert_true(pos >= runs[got - 1].first + runs[got - 1].count);
		assert_true(pos <= nbits);
		for (uint64_t i = runs[got - 1].first + runs[got - 1].count; i < pos; i++)
			assert_false(bit(m, i));
		if ((size_t)got < n)
			assert_int_equal(pos, nbits);
	}
	assert_int_equal(seen, nwant);
	assert_int_equal(pos, nbits);
	/* Once done, it stays done. */
	assert_int_equal(call_runs(impl, m, nbits, &pos, runs, n), 0);
	assert_int_equal(pos, nbits);
	free(runs);
}

/* Map patterns: iid bits at a density, runs up to a length, and the
 * extremes. */
enum pattern {
	PAT_IID,        /* each bit set with probability num/64 */
	PAT_RUNS,       /* runs and gaps of 1..num bits */
	PAT_ONES,
	PAT_ZEROS,
	PAT_ALTERNATE,  /* 0101...: 64 edges a word */
	PAT_WORD_EDGES, /* bits 0 and 63 of every word: runs across edges */
	PAT_ONE_BIT,    /* bit num only */
	PAT_NR,
};

static void fill_pattern(uint64_t *m, uint64_t words, uint64_t *seed,
			 enum pattern pat, uint64_t num)
{
	switch (pat) {
	case PAT_IID:
		for (uint64_t w = 0; w < words; w++) {
			uint64_t v = 0;

			for (unsigned int b = 0; b < 64; b++)
				v |= (uint64_t)(rnd(seed) % 64 < num) << b;
			m[w] = v;
		}
		break;
	case PAT_RUNS:
		memset(m, 0, words * 8);
		for (uint64_t i = 0, on = rnd(seed) & 1; i < words * 64; on ^= 1) {
			uint64_t len = rnd(seed) % num + 1;

			for (uint64_t j = i; on && j < i + len && j < words * 64; j++)
				m[j / 64] |= 1ull << (j % 64);
			i += len;
		}
		break;
	case PAT_ONES:
		memset(m, 0xff, words * 8);
		break;
	case PAT_ZEROS:
		memset(m, 0, words * 8);
		break;
	case PAT_ALTERNATE:
		memset(m, 0x55, words * 8);
		break;
	case PAT_WORD_EDGES:
		for (uint64_t w = 0; w < words; w++)
			m[w] = 1ull | 1ull << 63;
		break;
	default:
		memset(m, 0, words * 8);
		if (num < words * 64)
			m[num / 64] |= 1ull << (num % 64);
		break;
	}
}

struct map_case {
	enum pattern pat;
	uint64_t num;
};

static const struct map_case map_cases[] = {
	{ PAT_IID, 1 }, { PAT_IID, 8 }, { PAT_IID, 32 }, { PAT_IID, 56 },
	{ PAT_IID, 63 }, { PAT_RUNS, 3 }, { PAT_RUNS, 40 }, { PAT_RUNS, 128 },
	{ PAT_RUNS, 700 }, { PAT_ONES, 0 }, { PAT_ZEROS, 0 },
	{ PAT_ALTERNATE, 0 }, { PAT_WORD_EDGES, 0 }, { PAT_ONE_BIT, 0 },
	{ PAT_ONE_BIT, 63 }, { PAT_ONE_BIT, 64 }, { PAT_ONE_BIT, 1087 },
	{ PAT_ONE_BIT, 1088 },
};

/* nbits: inside the first word, on and around word edges, long. */
static const uint64_t nbits_cases[] = { 1, 2, 63, 64, 65, 127, 128, 129, 320,
					1000, 1087, 1088, 1089, 64 * 37 + 13 };

#define MAX_WORDS 38

/* The map in a heap buffer of exactly its words (ASan sees a read past the
 * last one), the bits past nbits in the last word set: they must be
 * ignored. */
static uint64_t *map_copy(const uint64_t *src, uint64_t nbits)
{
	uint64_t words = (nbits + 63) / 64;
	uint64_t *m = malloc(words * 8);

	assert_non_null(m);
	memcpy(m, src, words * 8);
	if (nbits % 64)
		m[words - 1] |= ~0ull << (nbits % 64);
	return m;
}

static void test_runs_every_impl(void **state)
{
	static struct iommudirty_run want[MAX_WORDS * 64];
	uint64_t src[MAX_WORDS], seed = 0x5eed5eed5eedull;
	int tested = 0;

	(void)state;
	assert_int_equal(bitmap_runs_impl_available(BITMAP_RUNS_GENERIC), 1);
	for (int impl = 0; impl <= IMPL_PUBLIC; impl++) {
		if (impl != IMPL_PUBLIC &&
		    !bitmap_runs_impl_available((enum bitmap_runs_impl)impl)) {
			uint64_t pos = 0;

			assert_int_equal(bitmap_runs_with((enum bitmap_runs_impl)impl,
							  src, 64, &pos, want, 1),
					 -EOPNOTSUPP);
			continue;
		}
		tested++;
		for (size_t c = 0; c < ARRAY_SIZE(map_cases); c++) {
			fill_pattern(src, MAX_WORDS, &seed, map_cases[c].pat,
				     map_cases[c].num);
			for (size_t l = 0; l < ARRAY_SIZE(nbits_cases); l++) {
				uint64_t nbits = nbits_cases[l];
				uint64_t *m = map_copy(src, nbits);
				size_t nwant = ref_runs_from(m, nbits, 0, want);

				/* Every batch size 1..40, and large ones. */
				for (size_t n = 1; n <= 40; n++)
					check_walk(impl, m, nbits, 0, n, want, nwant);
				check_walk(impl, m, nbits, 0, 64, want, nwant);
				check_walk(impl, m, nbits, 0, 333, want, nwant);
				check_walk(impl, m, nbits, 0, nwant + 1, want, nwant);
				/* From arbitrary positions: a run under *pos
				 * is cut there. */
				for (unsigned int r = 0; r < 6; r++) {
					uint64_t from = rnd(&seed) % (nbits + 1);
					size_t nw = ref_runs_from(m, nbits, from, want);

					check_walk(impl, m, nbits, from, 1 + rnd(&seed) % 20,
						   want, nw);
					check_walk(impl, m, nbits, from, 300, want, nw);
				}
				free(m);
			}
		}
	}
	/* At least the generic build and the public entry point. */
	assert_true(tested >= 2);
}

/* for_each_run's runs, into a heap array; stops (42) after stop_at. */
struct heap_collected {
	struct iommudirty_run *r;
	size_t n, cap, stop_at;
};

static int heap_collect(uint64_t first, uint64_t count, void *user)
{
	struct heap_collected *c = user;

	assert_true(c->n < c->cap);
	c->r[c->n++] = (struct iommudirty_run){ .first = first, .count = count };
	return c->n == c->stop_at ? 42 : 0;
}

/* for_each_run against the reference, whole and stopped at a few runs
 * (it switches between batches and calling back as it walks on maps with
 * many runs a word: stops in either must come out). */
static void check_for_each(const uint64_t *m, uint64_t nbits,
			   const struct iommudirty_run *want, size_t nwant,
			   uint64_t *seed)
{
	struct heap_collected c = { .cap = nwant + 1 };

	c.r = malloc(c.cap * sizeof(*c.r));
	assert_non_null(c.r);
	assert_int_equal(iommudirty_bitmap_for_each_run(m, nbits, heap_collect, &c), 0);
	assert_int_equal(c.n, nwant);
	assert_memory_equal(c.r, want, nwant * sizeof(*want));
	for (unsigned int i = 0; i < 4 && nwant; i++) {
		c.n = 0;
		c.stop_at = 1 + rnd(seed) % nwant;
		assert_int_equal(iommudirty_bitmap_for_each_run(m, nbits, heap_collect,
								&c), 42);
		assert_int_equal(c.n, c.stop_at);
		assert_memory_equal(c.r, want, c.n * sizeof(*want));
	}
	free(c.r);
}

/* Long maps: runs spanning many words, blocks of uniform words skipped
 * whole, the array filling in the middle of a long run. */
static void test_runs_long(void **state)
{
	enum { WORDS = 4096 };
	static struct iommudirty_run want[WORDS * 32];
	uint64_t *m = malloc(WORDS * 8), seed = 77;

	(void)state;
	assert_non_null(m);
	for (unsigned int variant = 0; variant < 9; variant++) {
		memset(m, 0, WORDS * 8);
		switch (variant) {
		case 0: /* long runs at odd offsets */
			for (uint64_t i = 0; i < WORDS * 64;) {
				uint64_t len = rnd(&seed) % 3000 + 1, on = rnd(&seed) & 1;

				for (uint64_t j = i; on && j < i + len && j < WORDS * 64; j++)
					m[j / 64] |= 1ull << (j % 64);
				i += len;
			}
			break;
		case 1: /* all ones but one bit */
			memset(m, 0xff, WORDS * 8);
			m[2049] &= ~(1ull << 17);
			break;
		case 2: /* only the very last bit */
			m[WORDS - 1] = 1ull << 63;
			break;
		case 3: /* dense and sparse stretches */
			for (uint64_t w = 0; w < WORDS; w++)
				m[w] = (w / 100) % 2 ? rnd(&seed) : 0;
			break;
		case 4: /* runs and gaps of 1..48: 0 to 4 edges a word */
			for (uint64_t i = 0, on = 0; i < WORDS * 64; on ^= 1) {
				uint64_t len = rnd(&seed) % 48 + 1;

				for (uint64_t j = i; on && j < i + len && j < WORDS * 64; j++)
					m[j / 64] |= 1ull << (j % 64);
				i += len;
			}
			break;
		case 5: /* each word 0 to 3 edges anywhere, words at random */
			for (uint64_t w = 0; w < WORDS; w++) {
				uint64_t a = rnd(&seed) % 64, b = rnd(&seed) % 64;

				switch (rnd(&seed) % 4) {
				case 0: /* no edge: as the word below */
					m[w] = w && m[w - 1] >> 63 ? ~0ull : 0;
					break;
				case 1: /* one bit, or ones from a up */
					m[w] = rnd(&seed) % 2 ? 1ull << a : ~0ull << a;
					break;
				default: /* a run [min, max] */
					m[w] = (~0ull << MIN(a, b)) & (~0ull >> (63 - MAX(a, b)));
					break;
				}
			}
			break;
		case 6: /* independent bits, 50 %: 16 runs a word */
			for (uint64_t w = 0; w < WORDS; w++)
				m[w] = rnd(&seed);
			break;
		case 7: /* sparse single bits: 1 in 32 */
			for (uint64_t i = 0; i < WORDS * 64; i++)
				if (rnd(&seed) % 32 == 0)
					m[i / 64] |= 1ull << (i % 64);
			break;
		default: /* 2 to 5 edges a word, mostly 3 or 4: blocks of 8
			  * words with 16 to 32 edges, and blocks just over */
			for (uint64_t w = 0, carry = 0; w < WORDS; w++) {
				unsigned int r = (unsigned int)(rnd(&seed) % 16);
				unsigned int nedge = r < 6 ? 4 : r < 12 ? 3 : r < 15 ? 2 : 5;
				uint64_t e = 0, v = 0;

				while ((unsigned int)__builtin_popcountll(e) < nedge)
					e |= 1ull << (rnd(&seed) % 64);
				/* The word whose edges are e: bit i is the
				 * carry xor edges 0..i. */
				for (unsigned int b = 0; b < 64; b++) {
					carry ^= (e >> b) & 1;
					v |= carry << b;
				}
				m[w] = v;
			}
			break;
		}
		for (int impl = 0; impl <= IMPL_PUBLIC; impl++) {
			if (impl != IMPL_PUBLIC &&
			    !bitmap_runs_impl_available((enum bitmap_runs_impl)impl))
				continue;
			for (uint64_t nbits = WORDS * 64 - 5; nbits <= WORDS * 64; nbits += 5) {
				size_t nwant = ref_runs_from(m, nbits, 0, want);

				for (size_t n = 1; n <= 9; n++)
					check_walk(impl, m, nbits, 0, n, want, nwant);
				check_walk(impl, m, nbits, 0, 256, want, nwant);
				check_walk(impl, m, nbits, 0, 1000, want, nwant);
			}
		}
		for (uint64_t nbits = WORDS * 64 - 64; nbits <= WORDS * 64; nbits += 32) {
			size_t nwant = ref_runs_from(m, nbits, 0, want);

			check_for_each(m, nbits, want, nwant, &seed);
		}
	}
	free(m);
}

/* for_each_run over the batch walker: the same runs, fn's value stops it. */
struct collected {
	struct iommudirty_run r[MAX_WORDS * 64];
	size_t n, stop_at;
};

static int collect_run(uint64_t first, uint64_t count, void *user)
{
	struct collected *c = user;

	c->r[c->n++] = (struct iommudirty_run){ .first = first, .count = count };
	return c->n == c->stop_at ? 42 : 0;
}

static void test_for_each_run_matches(void **state)
{
	static struct iommudirty_run want[MAX_WORDS * 64];
	static struct collected got;
	uint64_t src[MAX_WORDS], seed = 99;

	(void)state;
	for (size_t c = 0; c < ARRAY_SIZE(map_cases); c++) {
		fill_pattern(src, MAX_WORDS, &seed, map_cases[c].pat, map_cases[c].num);
		for (size_t l = 0; l < ARRAY_SIZE(nbits_cases); l++) {
			uint64_t nbits = nbits_cases[l];
			uint64_t *m = map_copy(src, nbits);
			size_t nwant = ref_runs_from(m, nbits, 0, want);

			got.n = 0;
			got.stop_at = 0;
			assert_int_equal(iommudirty_bitmap_for_each_run(m, nbits, collect_run,
									&got), 0);
			assert_int_equal(got.n, nwant);
			assert_memory_equal(got.r, want, nwant * sizeof(want[0]));
			if (nwant > 1) {
				got.n = 0;
				got.stop_at = nwant / 2 + 1;
				assert_int_equal(iommudirty_bitmap_for_each_run(m, nbits,
										collect_run,
										&got), 42);
				assert_int_equal(got.n, got.stop_at);
			}
			free(m);
		}
	}
}

static void test_runs_edge_args(void **state)
{
	uint64_t m[2] = { ~0ull, ~0ull }, pos;
	struct iommudirty_run r[4];

	(void)state;
	/* *pos past nbits: clamped, nothing left. */
	pos = 500;
	assert_int_equal(iommudirty_bitmap_runs(m, 128, &pos, r, 4), 0);
	assert_int_equal(pos, 128);
	/* n == 0 writes nothing. */
	pos = 0;
	assert_int_equal(iommudirty_bitmap_runs(m, 128, &pos, NULL, 0), 0);
	/* nbits 0. */
	assert_int_equal(iommudirty_bitmap_runs(m, 0, &pos, r, 4), 0);
	assert_int_equal(pos, 0);
	/* An unknown build. */
	pos = 0;
	assert_int_equal(bitmap_runs_with(BITMAP_RUNS_NR_IMPL, m, 128, &pos, r, 4),
			 -EOPNOTSUPP);
	assert_int_equal(bitmap_runs_impl_available(BITMAP_RUNS_NR_IMPL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_match_reference),
		cmocka_unit_test(test_runs_resume_and_args),
		cmocka_unit_test(test_or_at_matches_reference),
		cmocka_unit_test(test_runs_every_impl),
		cmocka_unit_test(test_runs_long),
		cmocka_unit_test(test_for_each_run_matches),
		cmocka_unit_test(test_runs_edge_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
