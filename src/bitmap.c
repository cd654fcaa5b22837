/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bitmap helpers: u64 words, bit i is bit i%64 of word i/64 (the kernel's
 * GET_DIRTY_BITMAP layout on a 64-bit little-endian host).
 *
 * Everything works a word at a time: a 1 TiB guest at 4 KiB pages is a
 * 32 MiB bitmap, and a VMM walks it every pre-copy round, so a per-bit loop
 * (2^28 iterations) is not an option.
 */
#include "internal.h"

#define WORD_BITS 64u

/* Bits [0, n) set; n in 1..64. */
static inline uint64_t low_mask(unsigned int n)
{
	return ~0ull >> (WORD_BITS - n);
}

size_t iommudirty_bitmap_size(uint64_t length, uint64_t page_size)
{
	uint64_t pages, words;

	if (!length || !is_pow2(page_size)) {
		errno = EINVAL;
		return 0;
	}
	/* A partial last page still needs its bit. Written so that nothing
	 * overflows even for length near 2^64 at page_size 1. */
	pages = (length >> __builtin_ctzll(page_size)) +
		!!(length & (page_size - 1));
	words = pages / WORD_BITS + !!(pages % WORD_BITS);
	if (words > SIZE_MAX / sizeof(uint64_t)) {
		/* Only reachable where size_t is 32 bits. */
		errno = EOVERFLOW;
		return 0;
	}
	return (size_t)words * sizeof(uint64_t);
}

int iommudirty_bitmap_for_each_run(const uint64_t *bitmap, uint64_t nbits,
				   iommudirty_run_fn fn, void *user)
{
	uint64_t nfull, nwords, w, start = 0;
	uint64_t fill = 0; /* what a word holds if nothing changes in it */
	int ret;

	if ((!bitmap && nbits) || !fn)
		return ret_err(-EINVAL);

	nfull = nbits / WORD_BITS;
	nwords = nfull + !!(nbits % WORD_BITS);

	for (w = 0; w < nwords; w++) {
		uint64_t word, edges, base;

		/* One compare per word in the common cases: nothing dirty
		 * outside a run (fill 0), everything dirty inside one (~0). */
		while (w < nfull && bitmap[w] == fill)
			w++;
		if (w == nwords)
			break;

		word = bitmap[w];
		if (w == nfull) /* partial last word: ignore bits past nbits */
			word &= low_mask(nbits % WORD_BITS);
		/* Bit p of edges is set where bit p differs from bit p-1 (bit
		 * -1 being the previous word's top bit): the run edges. They
		 * alternate start, end, start, ... so no per-bit state. */
		edges = word ^ ((word << 1) | (fill & 1));
		base = w * WORD_BITS;
		while (edges) {
			uint64_t pos = (uint64_t)__builtin_ctzll(edges);

			edges &= edges - 1;
			if (!fill) {
				start = base + pos;
				fill = ~0ull;
				continue;
			}
			fill = 0;
			ret = fn(start, base + pos - start, user);
			if (ret)
				return ret;
		}
	}
	if (fill)
		return fn(start, nbits - start, user);
	return 0;
}

int iommudirty_bitmap_or(uint64_t *dst, const uint64_t *src, uint64_t nbits)
{
	uint64_t nfull, i;

	if ((!dst || !src) && nbits)
		return ret_err(-EINVAL);

	/* A plain loop the compiler vectorises. */
	nfull = nbits / WORD_BITS;
	for (i = 0; i < nfull; i++)
		dst[i] |= src[i];
	if (nbits % WORD_BITS)
		dst[nfull] |= src[nfull] & low_mask(nbits % WORD_BITS);
	return 0;
}

/* Whole words only. Built twice on x86-64: the baseline ISA has no popcnt
 * instruction, and the generic bit-twiddling fallback is ~3x slower. */
#define DEFINE_COUNT_WORDS(name, attr)                                        \
	attr static uint64_t name(const uint64_t *map, uint64_t nwords)       \
	{                                                                     \
		uint64_t i, count = 0;                                        \
									      \
		for (i = 0; i < nwords; i++)                                  \
			count += (uint64_t)__builtin_popcountll(map[i]);      \
		return count;                                                 \
	}

DEFINE_COUNT_WORDS(count_words, )
#if defined(__x86_64__) && !defined(__POPCNT__)
DEFINE_COUNT_WORDS(count_words_popcnt, __attribute__((target("popcnt"))))
#endif

int64_t iommudirty_bitmap_count(const uint64_t *bitmap, uint64_t nbits)
{
	uint64_t nfull, count;

	if (!bitmap && nbits)
		return ret_err(-EINVAL);

	nfull = nbits / WORD_BITS;
#if defined(__x86_64__) && !defined(__POPCNT__)
	if (__builtin_cpu_supports("popcnt"))
		count = count_words_popcnt(bitmap, nfull);
	else
#endif
		count = count_words(bitmap, nfull);
	if (nbits % WORD_BITS)
		count += (uint64_t)__builtin_popcountll(bitmap[nfull] &
						       low_mask(nbits % WORD_BITS));
	/* nbits < 2^64, so count fits unless all 2^63+ bits are set, which
	 * no addressable bitmap can hold. */
	return (int64_t)count;
}

void bitmap_or_shifted(uint64_t *dst, uint64_t dst_bit, const uint64_t *src,
		       uint64_t nbits)
{
	unsigned int off = dst_bit % WORD_BITS;
	unsigned int tail = nbits % WORD_BITS;
	uint64_t nfull = nbits / WORD_BITS;
	uint64_t carry = 0, s, i;
	uint64_t *d;

	if (!nbits)
		return;
	d = dst + dst_bit / WORD_BITS;

	if (!off) {
		iommudirty_bitmap_or(d, src, nbits);
		return;
	}

	/* Source word i lands in the top of d[i] and the bottom of d[i+1];
	 * carry holds the part for d[i+1]. */
	for (i = 0; i < nfull; i++) {
		s = src[i];
		d[i] |= (s << off) | carry;
		carry = s >> (WORD_BITS - off);
	}
	if (!tail) {
		/* The range ends inside d[nfull] (off > 0). */
		d[nfull] |= carry;
		return;
	}
	s = src[nfull] & low_mask(tail);
	d[nfull] |= (s << off) | carry;
	/* Touch d[nfull+1] only if the range reaches into it: it may be past
	 * the end of the caller's buffer otherwise. */
	if (off + tail > WORD_BITS)
		d[nfull + 1] |= s >> (WORD_BITS - off);
}

/* Apply op to bits [start, start+n): set (true) or clear (false). */
static void bitmap_fill_range(uint64_t *map, uint64_t start, uint64_t n,
			      bool set)
{
	unsigned int off = start % WORD_BITS;
	uint64_t *p = map + start / WORD_BITS;
	uint64_t mask, words;

	if (!n)
		return;
	if (n <= WORD_BITS - off) {
		mask = low_mask((unsigned int)n) << off;
		*p = set ? *p | mask : *p & ~mask;
		return;
	}
	if (off) {
		mask = ~0ull << off;
		*p = set ? *p | mask : *p & ~mask;
		p++;
		n -= WORD_BITS - off;
	}
	words = n / WORD_BITS;
	memset(p, set ? 0xff : 0, words * sizeof(uint64_t));
	p += words;
	n %= WORD_BITS;
	if (n) {
		mask = low_mask((unsigned int)n);
		*p = set ? *p | mask : *p & ~mask;
	}
}

void bitmap_set_range(uint64_t *map, uint64_t start, uint64_t n)
{
	bitmap_fill_range(map, start, n, true);
}

void bitmap_clear_range(uint64_t *map, uint64_t start, uint64_t n)
{
	bitmap_fill_range(map, start, n, false);
}

void bitmap_shift_up(uint64_t *map, uint64_t start, uint64_t n, unsigned by)
{
	uint64_t lo, hi, w, wlo, whi;

	if (!by)
		return;
	if (n) {
		/* Destination bits [lo, hi) come from source bits [lo-by,
		 * hi-by). Going from the top word down, word w's new value
		 * needs the old words w and w-1, neither written yet. */
		lo = start + by;
		hi = start + n + by;
		wlo = lo / WORD_BITS;
		whi = (hi - 1) / WORD_BITS;
		for (w = whi + 1; w-- > wlo;) {
			uint64_t v, mask = ~0ull;

			v = map[w] << by;
			/* Word w-1 holds wanted source bits only if start is
			 * below this word; it may not exist otherwise. */
			if (start < w * WORD_BITS)
				v |= map[w - 1] >> (WORD_BITS - by);
			if (w == whi && hi % WORD_BITS)
				mask &= low_mask(hi % WORD_BITS);
			if (w == wlo)
				mask &= ~0ull << (lo % WORD_BITS);
			map[w] = (map[w] & ~mask) | (v & mask);
		}
	}
	bitmap_clear_range(map, start, by);
}

IOMMUDIRTY_API int iommudirty_bitmap_or_at(uint64_t *dst, uint64_t dst_bit,
					   const uint64_t *src, uint64_t nbits)
{
	if ((!dst || !src) && nbits)
		return ret_err(-EINVAL);
	if (dst_bit + nbits < dst_bit)
		return ret_err(-EOVERFLOW);
	bitmap_or_shifted(dst, dst_bit, src, nbits);
	return 0;
}

/* One run at or after p, the slow way (a search for each end); false if
 * none. */
static bool next_run(const uint64_t *bitmap, uint64_t nbits, uint64_t p,
		     uint64_t *first, uint64_t *end)
{
	uint64_t nwords = nbits / WORD_BITS + !!(nbits % WORD_BITS);
	uint64_t w = p / WORD_BITS, word;

	word = bitmap[w] & (~0ull << (p % WORD_BITS));
	while (!word) {
		if (++w == nwords)
			return false;
		word = bitmap[w];
	}
	*first = w * WORD_BITS + (uint64_t)__builtin_ctzll(word);
	if (*first >= nbits)
		return false;
	word = ~bitmap[w] & (~0ull << (*first % WORD_BITS));
	while (!word) {
		if (++w == nwords)
			break;
		word = ~bitmap[w];
	}
	*end = word ? MIN(w * WORD_BITS + (uint64_t)__builtin_ctzll(word), nbits) : nbits;
	return true;
}

_Static_assert(sizeof(struct iommudirty_run) == 2 * sizeof(uint64_t) &&
	       offsetof(struct iommudirty_run, count) == sizeof(uint64_t),
	       "runs are written as pairs of edges first");

IOMMUDIRTY_API int iommudirty_bitmap_runs(const uint64_t *bitmap, uint64_t nbits,
					  uint64_t *pos, struct iommudirty_run *runs,
					  size_t n)
{
	uint64_t *edge = (uint64_t *)runs, p, w, carry = 0;
	size_t k = 0, cap;

	if (!pos || (!bitmap && nbits) || (!runs && n))
		return ret_err(-EINVAL);
	p = MIN(*pos, nbits);
	n = MIN(n, (size_t)INT32_MAX);
	cap = 2 * n;
	/* Whole words while a word's worth of edges (at most 64) still fits:
	 * the edges of a word are where a bit differs from the one below
	 * it, taken lowest first, alternately a run's first bit and its end.
	 * Bits below p and from nbits on count as clear. */
	for (w = p / WORD_BITS; p < nbits && k + WORD_BITS + 4 <= cap; w++) {
		uint64_t word, edges, base;

		/* Blocks of four words the same as the bit before them have
		 * no edge (a four-word test mispredicts rarely on dense maps,
		 * where single uniform words come at random). */
		if (w * WORD_BITS == p) {
			uint64_t fill = carry ? ~0ull : 0, last = nbits / WORD_BITS;

			while (w + 4 <= last &&
			       !((bitmap[w] ^ fill) | (bitmap[w + 1] ^ fill) |
				 (bitmap[w + 2] ^ fill) | (bitmap[w + 3] ^ fill)))
				w += 4;
			if (w * WORD_BITS >= nbits) {
				p = nbits;
				break;
			}
		}
		word = bitmap[w];
		base = w * WORD_BITS;
		if (base < p)
			word &= ~0ull << (p - base);
		if (nbits - base < WORD_BITS)
			word &= low_mask((unsigned int)(nbits - base));
		edges = word ^ ((word << 1) | carry);
		carry = word >> 63;
		p = MIN(base + WORD_BITS, nbits);
		/* Two slots per turn, written whether or not an edge is left
		 * (k moves only for real ones; the 4 spare in cap take the
		 * rest): words with 0 to 2 edges, the usual dense case, take
		 * no mispredicted branch. */
		for (;;) {
			edge[k] = base + (uint64_t)__builtin_ctzll(edges | (1ull << 63));
			k += edges != 0;
			edges &= edges - 1;
			edge[k] = base + (uint64_t)__builtin_ctzll(edges | (1ull << 63));
			k += edges != 0;
			edges &= edges - 1;
			if (!edges)
				break;
		}
	}
	if (k % 2) {
		/* Inside a run at a word boundary: find where it ends. */
		uint64_t first, end;

		if (p >= nbits || !next_run(bitmap, nbits, p, &first, &end) || first != p)
			end = p;
		edge[k++] = end;
		p = end;
	}
	k /= 2;
	for (size_t i = 0; i < k; i++)
		runs[i].count -= runs[i].first;
	/* The rest one run at a time, until n. */
	for (; k < n && p < nbits; k++) {
		uint64_t first, end;

		if (!next_run(bitmap, nbits, p, &first, &end)) {
			p = nbits;
			break;
		}
		runs[k] = (struct iommudirty_run){ .first = first, .count = end - first };
		p = end;
	}
	*pos = p;
	return (int)k;
}
