/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bitmap helpers: u64 words, bit i is bit i%64 of word i/64 (the kernel's
 * GET_DIRTY_BITMAP layout on a 64-bit little-endian host).
 *
 * Everything works a word at a time: a 1 TiB guest at 4 KiB pages is a
 * 32 MiB bitmap, and a VMM walks it every pre-copy round, so a per-bit loop
 * (2^28 iterations) is not an option.
 */
#include "bitmap.h"
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
 * instruction, and the generic bit-twiddling fallback is ~3x slower.
 * Dirty maps are mostly sparse: a block of eight zero words (one cache
 * line) costs one test, so a map still in cache is counted at several
 * times memcpy's speed; dense blocks pay one predictable branch. */
#define DEFINE_COUNT_WORDS(name, attr)                                        \
	attr static uint64_t name(const uint64_t *map, uint64_t nwords)       \
	{                                                                     \
		uint64_t i, count = 0;                                        \
									      \
		for (i = 0; i + 8 <= nwords; i += 8) {                        \
			const uint64_t *w = map + i;                          \
									      \
			if (!(w[0] | w[1] | w[2] | w[3] | w[4] | w[5] |       \
			      w[6] | w[7]))                                   \
				continue;                                     \
			for (unsigned int k = 0; k < 8; k++)                  \
				count += (uint64_t)__builtin_popcountll(w[k]); \
		}                                                             \
		for (; i < nwords; i++)                                       \
			count += (uint64_t)__builtin_popcountll(map[i]);      \
		return count;                                                 \
	}

DEFINE_COUNT_WORDS(count_words, )
#if defined(__x86_64__) && !defined(__POPCNT__)
DEFINE_COUNT_WORDS(count_words_popcnt, __attribute__((target("popcnt"))))
#endif

#if defined(__x86_64__)
#include <immintrin.h>

/* popcnt does one word a cycle; a nibble table looked up with vpshufb,
 * summed per lane with vpsadbw, does a cache line in about three: what a
 * counted read needs to count its windows while they are in cache. */
__attribute__((target("avx512f,avx512bw,popcnt")))
static uint64_t count_words_avx512(const uint64_t *map, uint64_t nwords)
{
	const __m512i nibble = _mm512_set_epi8(
		4, 3, 3, 2, 3, 2, 2, 1, 3, 2, 2, 1, 2, 1, 1, 0,
		4, 3, 3, 2, 3, 2, 2, 1, 3, 2, 2, 1, 2, 1, 1, 0,
		4, 3, 3, 2, 3, 2, 2, 1, 3, 2, 2, 1, 2, 1, 1, 0,
		4, 3, 3, 2, 3, 2, 2, 1, 3, 2, 2, 1, 2, 1, 1, 0);
	const __m512i low = _mm512_set1_epi8(0x0f);
	__m512i acc = _mm512_setzero_si512();
	uint64_t i = 0, count;

	for (; i + 8 <= nwords; i += 8) {
		__m512i v = _mm512_loadu_si512((const void *)(map + i));
		__m512i lo = _mm512_and_si512(v, low);
		__m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
		__m512i c = _mm512_add_epi8(_mm512_shuffle_epi8(nibble, lo),
					    _mm512_shuffle_epi8(nibble, hi));

		acc = _mm512_add_epi64(acc, _mm512_sad_epu8(c, _mm512_setzero_si512()));
	}
	count = (uint64_t)_mm512_reduce_add_epi64(acc);
	for (; i < nwords; i++)
		count += (uint64_t)__builtin_popcountll(map[i]);
	return count;
}
/* With AVX-512 VPOPCNTDQ a cache line is one vpopcntq: about three times
 * the nibble table's speed, so counting a window in cache costs little
 * beside the read that filled it. Two accumulators: the adds of one line
 * do not wait for the previous line's. */
__attribute__((target("avx512f,avx512vpopcntdq,popcnt")))
static uint64_t count_words_vpopcntdq(const uint64_t *map, uint64_t nwords)
{
	__m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
	uint64_t i = 0, count;

	for (; i + 16 <= nwords; i += 16) {
		acc0 = _mm512_add_epi64(acc0, _mm512_popcnt_epi64(
				_mm512_loadu_si512((const void *)(map + i))));
		acc1 = _mm512_add_epi64(acc1, _mm512_popcnt_epi64(
				_mm512_loadu_si512((const void *)(map + i + 8))));
	}
	count = (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(acc0, acc1));
	for (; i < nwords; i++)
		count += (uint64_t)__builtin_popcountll(map[i]);
	return count;
}

static bool have_vpopcntdq(void)
{
	return __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("avx512vpopcntdq") &&
	       __builtin_cpu_supports("popcnt");
}
#endif

uint64_t bitmap_count_words_with(enum bitmap_count_impl impl, const uint64_t *map,
				 uint64_t nwords)
{
	switch (impl) {
	case BITMAP_COUNT_GENERIC:
		return count_words(map, nwords);
#if defined(__x86_64__)
	case BITMAP_COUNT_X86_POPCNT:
		if (!__builtin_cpu_supports("popcnt"))
			break;
#if !defined(__POPCNT__)
		return count_words_popcnt(map, nwords);
#else
		return count_words(map, nwords);
#endif
	case BITMAP_COUNT_X86_AVX512:
		if (!__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("popcnt"))
			break;
		return count_words_avx512(map, nwords);
	case BITMAP_COUNT_X86_VPOPCNTDQ:
		if (!have_vpopcntdq())
			break;
		return count_words_vpopcntdq(map, nwords);
#endif
	default:
		break;
	}
	return UINT64_MAX;
}

int64_t iommudirty_bitmap_count(const uint64_t *bitmap, uint64_t nbits)
{
	uint64_t nfull, count;

	if (!bitmap && nbits)
		return ret_err(-EINVAL);

	nfull = nbits / WORD_BITS;
#if defined(__x86_64__)
	if (have_vpopcntdq())
		count = count_words_vpopcntdq(bitmap, nfull);
	else if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("popcnt"))
		count = count_words_avx512(bitmap, nfull);
	else
#endif
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
