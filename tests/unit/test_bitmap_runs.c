/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The batch run walker and the OR at a bit offset, against per-bit
 * reference implementations over random maps of every density, lengths
 * that end inside a word, batch sizes from 1 up, and garbage past nbits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iommudirty.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_match_reference),
		cmocka_unit_test(test_runs_resume_and_args),
		cmocka_unit_test(test_or_at_matches_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
