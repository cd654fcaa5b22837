/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The run walkers: iommudirty_bitmap_runs() (a caller array of runs) and
 * iommudirty_bitmap_for_each_run() (a callback per run), in several builds
 * chosen once per process by what the CPU has (src/bitmap.h lists them;
 * the tests run each). Split from bitmap.c, which keeps the word-at-a-time
 * helpers (size, or, count, ranges).
 */
#include "bitmap.h"
#include "internal.h"

#define WORD_BITS 64u

/* Bits [0, n) set; n in 1..64. */
static inline uint64_t low_mask(unsigned int n)
{
	return ~0ull >> (WORD_BITS - n);
}

/*
 * The batch run walker.
 *
 * Runs are written as a flat array of edges, first, end, first, end, ...
 * (struct iommudirty_run is two u64s, first then count) and each end is
 * turned into a count at the end of the call. The edges of a word are the
 * bits that differ from the bit below them (bit -1 being the previous
 * word's top bit, the carry): word ^ (word << 1 | carry). Taken lowest
 * first they alternate, a run's first bit then its end, so no state is kept
 * per bit or per run, only the number of edges written (k): odd while a run
 * is open.
 *
 * Per word, no branch depends on where the edges are: popcount gives how
 * many there are, k moves by that much, and the stores are unconditional:
 * two slots always (most words of a map of long runs have 0 to 2 edges),
 * then slots in groups of eight while edges are left (with AVX-512F, words
 * of more than DENSE_EDGES edges take 8 compress-and-store steps instead).
 * Slots past the word's real edges hold garbage that the next word
 * overwrites. That needs up to EDGE_SLACK slots past the real edges, so a
 * word whose edges come near the end of the caller's array is stored
 * exactly instead, and the call stops when the array is full, at the end
 * of its last run: a run is never split between two calls.
 *
 * Blocks of four words equal to the carry (no edge in them: nothing dirty
 * outside a run, everything dirty inside one) are skipped with one test.
 * That test almost never succeeds on dense maps, so it is predicted.
 *
 * The word loop is built four times (walk_runs() is inlined with constant
 * flags): generic C for any architecture; on x86-64, with POPCNT and BMI1
 * (tzcnt, blsr), and with AVX-512 F and CD and BMI2 too (eight words at a
 * time, walk_runs_x86_avx512()), and that with AVX-512 BW, VBMI, VBMI2 and
 * VPOPCNTDQ (16-bit and byte compresses, exact masked stores:
 * put_block_vbmi2(), put_edges_vbmi2()), each taken only when cpuid says
 * the CPU has it. The unit tests run every build the CPU can run.
 */

_Static_assert(sizeof(struct iommudirty_run) == 2 * sizeof(uint64_t) &&
	       offsetof(struct iommudirty_run, count) == sizeof(uint64_t),
	       "runs are written as pairs of edges first");

#define TOP_BIT (1ull << 63)
/* Slots written past a word's last real edge, at most: 2 always, then
 * groups of 8 (2 + 8 * ceil((cnt - 2) / 8) - cnt <= 7); the AVX-512 build
 * stores 8 slots per byte of edges (8 - popcount(top byte) <= 8). */
#define EDGE_SLACK 8u

#define ALWAYS_INLINE inline __attribute__((always_inline))

struct edge_out {
	uint64_t *edge; /* the caller's runs, as edges */
	size_t k;       /* edges written */
	size_t cap;     /* 2 * n */
};

/* Position of the lowest set bit of e; for 0 any value (a garbage slot).
 * With BMI1 that is one tzcnt (64 for 0); the builtin is undefined for 0,
 * hence the top bit forced on otherwise. */
static ALWAYS_INLINE uint64_t low_edge(uint64_t e, bool bmi)
{
#if defined(__x86_64__)
	if (bmi) {
		uint64_t r;

		__asm__("tzcnt %1, %0" : "=r"(r) : "r"(e) : "cc");
		return r;
	}
#endif
	(void)bmi;
	return (uint64_t)__builtin_ctzll(e | TOP_BIT);
}

#if defined(__x86_64__)
#include <immintrin.h>

/* Dense words with AVX-512F: per byte of edges, one compress of the 8 bit
 * positions it covers and one 8-slot store; the pointer moves by the
 * byte's popcount. About half the instructions of a tzcnt/blsr pair per
 * edge. Out of line: its callers are built for other targets. */
__attribute__((target("avx512f,popcnt"), noinline))
static void put_edges_avx512(uint64_t *d, uint64_t e, uint64_t base)
{
	__m512i at = _mm512_add_epi64(_mm512_set1_epi64((long long)base),
				      _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0));
	const __m512i eight = _mm512_set1_epi64(8);

	for (unsigned int i = 0; i < 8; i++) {
		__mmask8 m = (__mmask8)(e >> (8 * i));

		_mm512_storeu_si512(d, _mm512_maskz_compress_epi64(m, at));
		d += __builtin_popcount(m);
		at = _mm512_add_epi64(at, eight);
	}
}

/* Dense words with AVX-512 VBMI2 as well: one byte compress gives the
 * word's edge positions (0..63) in order (a compress costs about five
 * cycles on the CPUs measured, one a word instead of eight), and each
 * group of eight is spread to u64 lanes with one vpermb, the base added
 * and stored under a mask: only the first lim edges are written, so this
 * needs no slack and runs up to the last slot of the caller's array. */
#define VBMI2_TARGET "popcnt,bmi2,avx512f,avx512bw,avx512vbmi,avx512vbmi2"

/* Byte 0 of u64 lane l takes byte 8 * j + l (the other bytes are zeroed). */
#define SPREAD_IDX(j) _mm512_set_epi64(8 * (j) + 7, 8 * (j) + 6, 8 * (j) + 5, \
				       8 * (j) + 4, 8 * (j) + 3, 8 * (j) + 2,  \
				       8 * (j) + 1, 8 * (j))

__attribute__((target(VBMI2_TARGET)))
static inline void put_edges_vbmi2(uint64_t *d, uint64_t e, uint64_t base, size_t lim)
{
	const __m512i iota = _mm512_set_epi64(
		0x3f3e3d3c3b3a3938ll, 0x3736353433323130ll, 0x2f2e2d2c2b2a2928ll,
		0x2726252423222120ll, 0x1f1e1d1c1b1a1918ll, 0x1716151413121110ll,
		0x0f0e0d0c0b0a0908ll, 0x0706050403020100ll);
	const __mmask64 low_bytes = 0x0101010101010101ull;
	const __m512i b = _mm512_set1_epi64((long long)base);
	const __m512i at = _mm512_maskz_compress_epi8(e, iota);
	/* lim is 1..64; bzhi keeps all 64 bits for 64. */
	const uint64_t valid = _bzhi_u64(~0ull, (unsigned int)lim);

#define SPREAD_STORE(j) _mm512_mask_storeu_epi64(d + 8 * (j),                \
		(__mmask8)(valid >> (8 * (j))), _mm512_add_epi64(b,           \
		_mm512_maskz_permutexvar_epi8(low_bytes, SPREAD_IDX(j), at)))
	SPREAD_STORE(0);
	SPREAD_STORE(1);
	SPREAD_STORE(2);
	SPREAD_STORE(3);
	SPREAD_STORE(4);
	SPREAD_STORE(5);
	if (lim > 48) {
		SPREAD_STORE(6);
		SPREAD_STORE(7);
	}
#undef SPREAD_STORE
}
#endif

/* Edges per word from which the AVX-512 build stores by bytes. */
#define DENSE_EDGES 12u

/* Store the edges e of the word whose bit 0 is bit base. False when the
 * array is full: then edge[cap - 1], a run's end, is the last edge stored
 * (possibly not the word's last). */
static ALWAYS_INLINE bool put_edges(struct edge_out *o, uint64_t e, uint64_t base,
				    bool bmi, bool avx512, bool vbmi2)
{
	size_t cnt = (size_t)__builtin_popcountll(e);
	uint64_t *d = o->edge + o->k;

#if defined(__x86_64__)
	if (vbmi2 && cnt > DENSE_EDGES) {
		/* Exact: the edges that fit, if not all (o->k < o->cap). */
		size_t lim = MIN(cnt, o->cap - o->k);

		put_edges_vbmi2(d, e, base, lim);
		o->k += lim;
		return o->k < o->cap;
	}
#endif
	if (__builtin_expect(o->k + cnt + EDGE_SLACK <= o->cap, 1)) {
		o->k += cnt;
#if defined(__x86_64__)
		if (avx512 && cnt > DENSE_EDGES) {
			put_edges_avx512(d, e, base);
			return true;
		}
#else
		(void)avx512;
		(void)vbmi2;
#endif
		d[0] = base + low_edge(e, bmi);
		e &= e - 1;
		d[1] = base + low_edge(e, bmi);
		if (__builtin_expect(cnt > 2, 0)) {
			e &= e - 1;
			d += 2;
			do {
				for (unsigned int i = 0; i < 8; i++) {
					d[i] = base + low_edge(e, bmi);
					e &= e - 1;
				}
				d += 8;
			} while (e);
		}
		return true;
	}
	/* Near the end of the array: only the slots that exist. */
	for (; e && o->k < o->cap; e &= e - 1)
		o->edge[o->k++] = base + low_edge(e, bmi);
	return o->k < o->cap;
}

/* One word: its edges (prev: the word below, masked as this one), into the
 * struct edge_out o; to the label full when it is full. */
#define WALK_WORD(word_, w_)                                                  \
	do {                                                                  \
		uint64_t v_ = (word_);                                        \
		e = v_ ^ ((v_ << 1) | (prev >> 63));                          \
		prev = v_;                                                    \
		if (!put_edges(&o, e, (w_) * WORD_BITS, bmi, avx512, vbmi2)) \
			goto full;                                            \
	} while (0)

/* The first word of a walk from bit p: bits below p count as clear, so a
 * run that began before p is cut there; bits from nbits on count as clear
 * too. */
static inline uint64_t first_word(const uint64_t *bitmap, uint64_t p, uint64_t nbits)
{
	uint64_t w0 = p / WORD_BITS, word = bitmap[w0] & (~0ull << (p % WORD_BITS));

	if (w0 == (nbits - 1) / WORD_BITS && nbits % WORD_BITS)
		word &= low_mask(nbits % WORD_BITS);
	return word;
}

/* The array is full: its last slot is a run's end; the next call starts
 * there. */
static inline size_t walk_full(const struct edge_out *o, uint64_t *pos)
{
	*pos = o->edge[o->cap - 1];
	return o->cap / 2;
}

/* The end of a walk from word w on (prev: the word below): the words left
 * one at a time, the last masked at nbits. A run still open then ends at
 * nbits (a multiple of 64: otherwise the masked bits gave its end); k is
 * odd, so its slot exists. */
static ALWAYS_INLINE size_t walk_end(struct edge_out *o, const uint64_t *bitmap,
				     uint64_t nbits, uint64_t *pos, uint64_t w,
				     uint64_t prev, bool bmi, bool avx512, bool vbmi2)
{
	const uint64_t last = (nbits - 1) / WORD_BITS;

	for (; w <= last; w++) {
		uint64_t v = bitmap[w], e;

		if (w == last && nbits % WORD_BITS)
			v &= low_mask(nbits % WORD_BITS);
		e = v ^ ((v << 1) | (prev >> 63));
		prev = v;
		if (!put_edges(o, e, w * WORD_BITS, bmi, avx512, vbmi2))
			return walk_full(o, pos);
	}
	if (o->k % 2)
		o->edge[o->k++] = nbits;
	*pos = nbits;
	return o->k / 2;
}

/* The whole walk; validated arguments, n in 1..INT32_MAX, p < nbits. */
static ALWAYS_INLINE size_t walk_runs(const uint64_t *restrict bitmap,
				      uint64_t nbits, uint64_t *pos,
				      uint64_t *restrict edge, size_t n,
				      bool bmi, bool avx512)
{
	const bool vbmi2 = false;
	struct edge_out o = { .edge = edge, .k = 0, .cap = 2 * n };
	uint64_t p = *pos, prev = 0, e, w, w0, last;

	w0 = p / WORD_BITS;
	last = (nbits - 1) / WORD_BITS;
	WALK_WORD(first_word(bitmap, p, nbits), w0);

	w = w0 + 1;
	while (w + 4 <= last) {
		uint64_t a = bitmap[w], b = bitmap[w + 1];
		uint64_t c = bitmap[w + 2], d = bitmap[w + 3];
		uint64_t fill = (uint64_t)((int64_t)prev >> 63);

		if (!((a ^ fill) | (b ^ fill) | (c ^ fill) | (d ^ fill))) {
			w += 4;
			continue;
		}
		WALK_WORD(a, w);
		WALK_WORD(b, w + 1);
		WALK_WORD(c, w + 2);
		WALK_WORD(d, w + 3);
		w += 4;
	}
	return walk_end(&o, bitmap, nbits, pos, w, prev, bmi, avx512, vbmi2);
full:
	return walk_full(&o, pos);
}

static size_t walk_runs_generic(const uint64_t *restrict bitmap, uint64_t nbits,
				uint64_t *pos, uint64_t *restrict edge, size_t n)
{
	return walk_runs(bitmap, nbits, pos, edge, n, false, false);
}

#if defined(__x86_64__)
/* popcnt and tzcnt/blsr instructions, where the baseline ISA calls libgcc
 * for the popcount and takes two instructions per blsr. */
__attribute__((target("popcnt,bmi")))
static size_t walk_runs_x86_bmi(const uint64_t *restrict bitmap, uint64_t nbits,
				uint64_t *pos, uint64_t *restrict edge, size_t n)
{
	return walk_runs(bitmap, nbits, pos, edge, n, true, false);
}

/*
 * The same with AVX-512 (F, CD) and BMI2 (pdep): eight words at a time.
 * A block with no edge is skipped (the uniform-block test); otherwise the
 * edges are computed in one vector, and a block whose words have at most three
 * edges each (maps of runs of some tens of pages and more) has them
 * extracted for all eight words at once: the lowest three of each word
 * (tz(x) = 63 - lzcnt(x & -x)), interleaved word by word into 24 slots
 * and compressed to the valid ones with three compress-and-stores. Other
 * blocks go a word at a time, dense words by bytes (put_edges_avx512()).
 */
#define AVX512_TARGET "popcnt,bmi,bmi2,avx512f,avx512cd"

/* Slot j of 24 holds edge j % 3 of word j / 3: which source (0, 1, 2) and
 * which lane each slot of the three output vectors takes. For
 * permutex2var, lanes 8..15 are the second source. */
#define SLOT_IDX(j) ((j) / 3 + ((j) % 3 == 1 ? 8 : 0))

/*
 * A block of eight words with VBMI2 (and VPOPCNTDQ), when each word has
 * at most four edges (on a map of runs of up to 128 pages, all but a few
 * blocks in a thousand): per word its two highest edges (lzcnt, then that
 * bit cleared) and its two lowest (lzcnt of the lowest bit, of ev and of
 * ev with it cleared), as 16-bit positions in the block plus one
 * (1..512), packed four to the word's u64 lane lowest first. Which of the
 * four exist follows from the word's edge count (with fewer than four,
 * some are the same edge twice). The u16 lanes are then in slot order,
 * word by word, and one 16-bit compress (not 64-bit ones: a compress is
 * the costly instruction here) of the slots holding an edge leaves the
 * block's edges in order. Each eight of them are spread to u64 lanes by a
 * vpermw, the block's base added, and stored under a mask of the slots
 * that exist (no slack: this runs up to the last slot of the caller's
 * array).
 *
 * The walk is bound by the latency of this chain, not by the number of
 * instructions: two edges from each end side by side, rather than four
 * from the top one after another (lzcnt, shift, andn, four times), walk
 * runs of up to 128 pages about a tenth faster for the same work.
 */
/* put_block_vbmi2()'s constants, made once per walk: made in the block,
 * the compiler rebuilds several of them in each (a broadcast each). */
struct vbmi2_k {
	__m512i top;      /* bit 63 */
	__m512i one, four;
	/* Position plus one of bit 63 of each word, from the block's bit 0,
	 * in all four u16 lanes of the word's u64 lane. */
	__m512i lane_top;
	/* vpshufb control: each u16 lane of a u64 lane gets its low byte */
	__m512i count16;
	/* edges a word needs for its u16 lanes lo0, lo1, hi1, hi0 to exist */
	__m512i needs;
};

__attribute__((target("avx512f")))
static inline void vbmi2_k_init(struct vbmi2_k *k)
{
#define TOP16(w) ((long long)(64 * (w) + 64) * 0x0001000100010001ll)
#define C0 ((long long)0x8000800080008000ull)
#define C1 ((long long)0x8008800880088008ull)
	k->top = _mm512_set1_epi64((long long)TOP_BIT);
	k->one = _mm512_set1_epi64(1);
	k->four = _mm512_set1_epi64(4);
	k->lane_top = _mm512_set_epi64(TOP16(7), TOP16(6), TOP16(5), TOP16(4),
				       TOP16(3), TOP16(2), TOP16(1), TOP16(0));
	k->count16 = _mm512_set_epi64(C1, C0, C1, C0, C1, C0, C1, C0);
	k->needs = _mm512_set1_epi64(0x0001000200040003ll);
#undef TOP16
#undef C0
#undef C1
	/* opaque: kept in registers, not rebuilt */
	__asm__("" : "+v"(k->top), "+v"(k->one), "+v"(k->four), "+v"(k->lane_top),
		"+v"(k->count16), "+v"(k->needs));
}

enum { BLOCK_BY_WORDS, BLOCK_DONE, BLOCK_FULL };

__attribute__((target(VBMI2_TARGET ",avx512cd,avx512vpopcntdq")))
static inline int put_block_vbmi2(struct edge_out *o, const uint64_t *q,
				  uint64_t base, const struct vbmi2_k *k)
{
	const __m512i lane_top = k->lane_top, top = k->top;
	/* The low u16 of each u64 lane. */
	const __mmask32 low_u16 = 0x11111111u;
	/* The word below each (q[-1] exists: the first word is walked alone,
	 * and masking it never clears its bit 63). A load, not a shuffle of
	 * the previous block: no dependency from block to block. */
	__m512i v = _mm512_loadu_si512(q), below = _mm512_loadu_si512(q - 1);
	__m512i ev = _mm512_xor_si512(v, _mm512_or_si512(_mm512_slli_epi64(v, 1),
							 _mm512_srli_epi64(below, 63)));
	/* The two highest edges and the two lowest, side by side (short
	 * dependency chains): lz of the highest, of the next, and of the
	 * lowest two (lz(x & -x): 63 minus the lowest bit's position). */
	const __m512i zero = _mm512_setzero_si512(), one = k->one;
	__m512i nev = _mm512_popcnt_epi64(ev);
	__m512i hi0 = _mm512_lzcnt_epi64(ev);
	__m512i hi1 = _mm512_lzcnt_epi64(_mm512_andnot_si512(_mm512_srlv_epi64(top, hi0), ev));
	__m512i y1 = _mm512_and_si512(ev, _mm512_sub_epi64(ev, one));
	__m512i lo0 = _mm512_lzcnt_epi64(_mm512_and_si512(ev, _mm512_sub_epi64(zero, ev)));
	__m512i lo1 = _mm512_lzcnt_epi64(_mm512_and_si512(y1, _mm512_sub_epi64(zero, y1)));
	__m512i packed, at, b;
	uint32_t valid, m;
	size_t cnt, lim;
	uint64_t *d;

	if (_mm512_cmpgt_epu64_mask(nev, k->four))
		return BLOCK_BY_WORDS;
	/* u16 lanes of word w's lane, lowest first: lo0, lo1, hi1, hi0,
	 * valid from 3, 4, 2 and 1 edges (fewer edges repeat some). */
	packed = _mm512_ternarylogic_epi64(lo0, _mm512_slli_epi64(lo1, 16),
					   _mm512_slli_epi64(hi1, 32), 0xfe);
	packed = _mm512_or_si512(packed, _mm512_slli_epi64(hi0, 48));
	valid = _mm512_cmpge_epu16_mask(_mm512_shuffle_epi8(nev, k->count16), k->needs);
	packed = _mm512_sub_epi16(lane_top, packed);
	cnt = (size_t)__builtin_popcount(valid);
	at = _mm512_maskz_compress_epi16(valid, packed);

	lim = MIN(cnt, o->cap - o->k);
	m = _bzhi_u32(~0u, (unsigned int)lim);
	/* minus one: the positions are plus one */
	b = _mm512_set1_epi64((long long)base - 1);
	d = o->edge + o->k;
#define SPREAD_STORE(j) _mm512_mask_storeu_epi64(d + 8 * (j),                \
		(__mmask8)(m >> (8 * (j))), _mm512_add_epi64(b,               \
		_mm512_maskz_permutexvar_epi16(low_u16, SPREAD_IDX(j), at)))
	SPREAD_STORE(0);
	SPREAD_STORE(1);
	if (lim > 16) {
		SPREAD_STORE(2);
		if (lim > 24)
			SPREAD_STORE(3);
	}
#undef SPREAD_STORE
	o->k += lim;
	return o->k < o->cap ? BLOCK_DONE : BLOCK_FULL;
}

__attribute__((target(AVX512_TARGET)))
static ALWAYS_INLINE size_t walk_avx512(const uint64_t *restrict bitmap,
					uint64_t nbits, uint64_t *pos,
					uint64_t *restrict edge, size_t n, bool vbmi2)
{
	const bool bmi = true, avx512 = true;
	struct edge_out o = { .edge = edge, .k = 0, .cap = 2 * n };
	uint64_t p = *pos, prev = 0, e, w, w0, last;
	struct vbmi2_k k = { 0 };
	/* Per output vector: the permutex2var indices picking edges 0 and 1,
	 * and the lanes and mask for edge 2 on top. */
	const __m512i idx01[3] = {
		_mm512_set_epi64(SLOT_IDX(7), SLOT_IDX(6), SLOT_IDX(5), SLOT_IDX(4),
				 SLOT_IDX(3), SLOT_IDX(2), SLOT_IDX(1), SLOT_IDX(0)),
		_mm512_set_epi64(SLOT_IDX(15), SLOT_IDX(14), SLOT_IDX(13), SLOT_IDX(12),
				 SLOT_IDX(11), SLOT_IDX(10), SLOT_IDX(9), SLOT_IDX(8)),
		_mm512_set_epi64(SLOT_IDX(23), SLOT_IDX(22), SLOT_IDX(21), SLOT_IDX(20),
				 SLOT_IDX(19), SLOT_IDX(18), SLOT_IDX(17), SLOT_IDX(16)),
	};
	/* Slots j % 3 == 2 of each vector: j = 2, 5 (vector 0), 8, 11, 14
	 * (vector 1), 17, 20, 23 (vector 2). */
	const __mmask8 third[3] = { 0x24, 0x49, 0x92 };
	const __m512i one = _mm512_set1_epi64(1);
	const __m512i lane_base = _mm512_set_epi64(7 * 64 + 63, 6 * 64 + 63, 5 * 64 + 63,
						   4 * 64 + 63, 3 * 64 + 63, 2 * 64 + 63,
						   64 + 63, 63);

	w0 = p / WORD_BITS;
	last = (nbits - 1) / WORD_BITS;
	WALK_WORD(first_word(bitmap, p, nbits), w0);

	if (vbmi2)
		vbmi2_k_init(&k);
	w = w0 + 1;
	while (w + 8 <= last) {
		const uint64_t *q = bitmap + w;
		uint64_t fill = (uint64_t)((int64_t)prev >> 63);
		__m512i v;

		/* The uniform-block test in scalar code: it resolves sooner
		 * than the vector's, and mispredicts on maps of big runs. */
		if (vbmi2 ? !(q[0] | q[1] | q[2] | q[3] | q[4] | q[5] | q[6] | q[7] | (prev >> 63)) :
		    !((q[0] ^ fill) | (q[1] ^ fill) | (q[2] ^ fill) | (q[3] ^ fill) |
		      (q[4] ^ fill) | (q[5] ^ fill) | (q[6] ^ fill) | (q[7] ^ fill))) {
			w += 8;
			continue;
		}
		if (vbmi2) {
			int r = put_block_vbmi2(&o, q, w * WORD_BITS, &k);

			if (r == BLOCK_FULL)
				goto full;
			if (r == BLOCK_DONE) {
				prev = q[7];
				w += 8;
				continue;
			}
			goto by_words;
		}
		v = _mm512_loadu_si512(q);
		__m512i below = _mm512_alignr_epi64(v, _mm512_set1_epi64((long long)prev), 7);
		__m512i ev = _mm512_xor_si512(v, _mm512_or_si512(_mm512_slli_epi64(v, 1),
								 _mm512_srli_epi64(below, 63)));
		__m512i e1 = _mm512_and_si512(ev, _mm512_sub_epi64(ev, one));
		__m512i e2 = _mm512_and_si512(e1, _mm512_sub_epi64(e1, one));
		__m512i e3 = _mm512_and_si512(e2, _mm512_sub_epi64(e2, one));
		unsigned int has1 = _mm512_test_epi64_mask(ev, ev);
		unsigned int has2 = _mm512_test_epi64_mask(e1, e1);
		unsigned int has3 = _mm512_test_epi64_mask(e2, e2);
		uint64_t valid;
		size_t cnt;

		valid = _pdep_u64(has1, 0x249249) | _pdep_u64(has2, 0x492492) |
			_pdep_u64(has3, 0x924924);
		cnt = (size_t)__builtin_popcountll(valid);
		if (__builtin_expect(!_mm512_test_epi64_mask(e3, e3) &&
				     o.k + cnt + EDGE_SLACK <= o.cap, 1)) {
			__m512i base = _mm512_add_epi64(_mm512_set1_epi64((long long)(w * WORD_BITS)),
							lane_base);
			/* Edge i of each word: base + 63 - lzcnt(lowest bit). */
#define LOWEST_AT(x) _mm512_sub_epi64(base, _mm512_lzcnt_epi64(_mm512_and_si512( \
		(x), _mm512_sub_epi64(_mm512_setzero_si512(), (x)))))
			__m512i p0 = LOWEST_AT(ev), p1 = LOWEST_AT(e1), p2 = LOWEST_AT(e2);
#undef LOWEST_AT
			uint64_t *d = edge + o.k;

			for (unsigned int i = 0; i < 3; i++) {
				__m512i slots = _mm512_permutex2var_epi64(p0, idx01[i], p1);
				__mmask8 m = (__mmask8)(valid >> (8 * i));

				slots = _mm512_mask_permutexvar_epi64(slots, third[i],
								      idx01[i], p2);
				_mm512_storeu_si512(d, _mm512_maskz_compress_epi64(m, slots));
				d += __builtin_popcount(m);
			}
			o.k += cnt;
			prev = bitmap[w + 7];
			w += 8;
			continue;
		}
by_words:
		for (unsigned int i = 0; i < 8; i++)
			WALK_WORD(bitmap[w + i], w + i);
		w += 8;
	}
	return walk_end(&o, bitmap, nbits, pos, w, prev, bmi, avx512, vbmi2);
full:
	return walk_full(&o, pos);
}

__attribute__((target(AVX512_TARGET)))
static size_t walk_runs_x86_avx512(const uint64_t *restrict bitmap,
				   uint64_t nbits, uint64_t *pos,
				   uint64_t *restrict edge, size_t n)
{
	return walk_avx512(bitmap, nbits, pos, edge, n, false);
}

/* The same, dense words by byte compress (put_edges_vbmi2()). */
__attribute__((target(AVX512_TARGET ",avx512bw,avx512vbmi,avx512vbmi2,avx512vpopcntdq")))
static size_t walk_runs_x86_vbmi2(const uint64_t *restrict bitmap,
				  uint64_t nbits, uint64_t *pos,
				  uint64_t *restrict edge, size_t n)
{
	return walk_avx512(bitmap, nbits, pos, edge, n, true);
}
#endif

#if defined(__x86_64__)
/* The ends of k runs to counts, four runs a step: the generic loop does
 * two (SSE2), and on maps of short runs it costs a fifth of the walk. */
__attribute__((target("avx512f,bmi2")))
static void ends_to_counts_avx512(struct iommudirty_run *runs, size_t k)
{
	uint64_t *q = (uint64_t *)runs;
	size_t i = 0;

	for (; i + 4 <= k; i += 4) {
		__m512i v = _mm512_loadu_si512(q + 2 * i);

		/* Odd lanes (counts) minus the even lane below (first). */
		_mm512_storeu_si512(q + 2 * i, _mm512_mask_sub_epi64(v, 0xaa, v,
						_mm512_unpacklo_epi64(v, v)));
	}
	if (i < k) {
		__mmask8 m = (__mmask8)_bzhi_u32(0xff, (unsigned int)(2 * (k - i)));
		__m512i v = _mm512_maskz_loadu_epi64(m, q + 2 * i);

		_mm512_mask_storeu_epi64(q + 2 * i, m, _mm512_mask_sub_epi64(v, 0xaa, v,
						_mm512_unpacklo_epi64(v, v)));
	}
}
#endif

int bitmap_runs_impl_available(enum bitmap_runs_impl impl)
{
	switch (impl) {
	case BITMAP_RUNS_GENERIC:
		return 1;
#if defined(__x86_64__)
	case BITMAP_RUNS_X86_BMI:
		return __builtin_cpu_supports("popcnt") &&
		       __builtin_cpu_supports("bmi");
	case BITMAP_RUNS_X86_AVX512:
		/* The OS saving the AVX-512 state is part of the check. */
		return bitmap_runs_impl_available(BITMAP_RUNS_X86_BMI) &&
		       __builtin_cpu_supports("bmi2") &&
		       __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512cd");
	case BITMAP_RUNS_X86_VBMI2:
		return bitmap_runs_impl_available(BITMAP_RUNS_X86_AVX512) &&
		       __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512vbmi") &&
		       __builtin_cpu_supports("avx512vbmi2") &&
		       __builtin_cpu_supports("avx512vpopcntdq");
#endif
	default:
		return 0;
	}
}

int bitmap_runs_with(enum bitmap_runs_impl impl, const uint64_t *bitmap,
		     uint64_t nbits, uint64_t *pos, struct iommudirty_run *runs,
		     size_t n)
{
	uint64_t *edge = (uint64_t *)runs;
	size_t k, i;

	if (!pos || (!bitmap && nbits) || (!runs && n))
		return ret_err(-EINVAL);
	if (!bitmap_runs_impl_available(impl))
		return ret_err(-EOPNOTSUPP);
	if (*pos > nbits)
		*pos = nbits;
	if (*pos == nbits || !n)
		return 0;
	n = MIN(n, (size_t)INT32_MAX);
	switch (impl) {
#if defined(__x86_64__)
	case BITMAP_RUNS_X86_VBMI2:
		k = walk_runs_x86_vbmi2(bitmap, nbits, pos, edge, n);
		ends_to_counts_avx512(runs, k);
		return (int)k;
	case BITMAP_RUNS_X86_AVX512:
		k = walk_runs_x86_avx512(bitmap, nbits, pos, edge, n);
		ends_to_counts_avx512(runs, k);
		return (int)k;
	case BITMAP_RUNS_X86_BMI:
		k = walk_runs_x86_bmi(bitmap, nbits, pos, edge, n);
		break;
#endif
	default:
		k = walk_runs_generic(bitmap, nbits, pos, edge, n);
		break;
	}
	/* Ends to counts; a loop the compiler vectorises. */
	for (i = 0; i < k; i++)
		runs[i].count -= runs[i].first;
	return (int)k;
}

/* The best build this CPU runs, found once (the answer cannot change). */
static enum bitmap_runs_impl best_runs_impl(void)
{
	static _Atomic int best = -1;
	int b = atomic_load_explicit(&best, memory_order_relaxed);

	if (b < 0) {
		b = BITMAP_RUNS_NR_IMPL;
		while (--b > BITMAP_RUNS_GENERIC &&
		       !bitmap_runs_impl_available((enum bitmap_runs_impl)b))
			;
		atomic_store_explicit(&best, b, memory_order_relaxed);
	}
	return (enum bitmap_runs_impl)b;
}

IOMMUDIRTY_API int iommudirty_bitmap_runs(const uint64_t *bitmap, uint64_t nbits,
					  uint64_t *pos, struct iommudirty_run *runs,
					  size_t n)
{
	return bitmap_runs_with(best_runs_impl(), bitmap, nbits, pos, runs, n);
}

/* Runs per batch in for_each_run: 2 KiB of stack. */
#define RUN_BATCH 128
/* Words walked calling back as it goes, once a batch showed a map with
 * more than RUNS_PER_WORD_DIRECT runs a word. */
#define DIRECT_WORDS 512
#define RUNS_PER_WORD_DIRECT 4

/*
 * for_each_run's walk for maps with many runs a word: call fn at each run's
 * end, from the words on, starting at *pos (not inside a run) and going on
 * for about `words` words, stopping at a word boundary with no run open.
 * Where the callbacks themselves are the cost (a map of independent bits,
 * a callback that adds up memory), this keeps the CPU walking words while
 * they run, which a batch and then its callbacks does not. *pos is moved
 * to where it stopped (nbits at the end).
 */
static int walk_calling_back(const uint64_t *bitmap, uint64_t nbits, uint64_t *pos,
			     uint64_t words, iommudirty_run_fn fn, void *user)
{
	uint64_t p = *pos, w = p / WORD_BITS, last = (nbits - 1) / WORD_BITS;
	uint64_t stop = w + words, prev = 0, first = 0;
	bool open = false;
	int ret;

	for (; w <= last && (w < stop || open); w++) {
		uint64_t v = bitmap[w], e;

		if (w == p / WORD_BITS)
			v &= ~0ull << (p % WORD_BITS);
		if (w == last && nbits % WORD_BITS)
			v &= low_mask(nbits % WORD_BITS);
		e = v ^ ((v << 1) | (prev >> 63));
		prev = v;
		for (; e; e &= e - 1) {
			uint64_t at = w * WORD_BITS + (uint64_t)__builtin_ctzll(e);

			if (!open) {
				first = at;
				open = true;
				continue;
			}
			open = false;
			ret = fn(first, at - first, user);
			if (ret)
				return ret;
		}
	}
	if (open) {
		/* The last word's run, to nbits (a multiple of 64 then). */
		ret = fn(first, nbits - first, user);
		if (ret)
			return ret;
	}
	*pos = MIN(w * WORD_BITS, nbits);
	return 0;
}

int iommudirty_bitmap_for_each_run(const uint64_t *bitmap, uint64_t nbits,
				   iommudirty_run_fn fn, void *user)
{
	enum bitmap_runs_impl impl = best_runs_impl();
	struct iommudirty_run runs[RUN_BATCH];
	uint64_t pos = 0, from;
	int got, i, ret;

	if ((!bitmap && nbits) || !fn)
		return ret_err(-EINVAL);
	for (;;) {
		from = pos;
		got = bitmap_runs_with(impl, bitmap, nbits, &pos, runs, RUN_BATCH);
		if (got <= 0)
			return got;
		for (i = 0; i < got; i++) {
			ret = fn(runs[i].first, runs[i].count, user);
			if (ret)
				return ret;
		}
		if (got == RUN_BATCH &&
		    pos - from < RUN_BATCH * WORD_BITS / RUNS_PER_WORD_DIRECT &&
		    pos < nbits) {
			ret = walk_calling_back(bitmap, nbits, &pos, DIRECT_WORDS, fn, user);
			if (ret)
				return ret;
		}
	}
}
