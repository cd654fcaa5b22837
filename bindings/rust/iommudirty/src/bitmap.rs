// SPDX-License-Identifier: LGPL-2.1-or-later
//! Dirty bitmaps and their runs of dirty pages.

use iommudirty_sys as sys;

use crate::error::{check, Error, Result};

/// Bytes of bitmap for `length` at `page_size` (whole u64 words); 0 if
/// length is 0 or page_size is not a power of two.
pub fn bitmap_size(length: u64, page_size: u64) -> usize {
    // SAFETY: pure function.
    unsafe { sys::iommudirty_bitmap_size(length, page_size) }
}

/// A run of dirty pages: pages `first .. first + count` of the bitmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Run {
    /// The first dirty page (bit index).
    pub first: u64,
    /// How many pages.
    pub count: u64,
}

/// The dirty bitmap of a read: bit i (LSB-first in word i / 64) is the
/// page at `base + i * page_size`, in IOVA space or the VMM's guest space
/// depending on the read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirtyBitmap {
    base: u64,
    page_size: u64,
    nbits: u64,
    words: Vec<u64>,
}

impl DirtyBitmap {
    /// An all-clean bitmap for `[base, base + length)` at `page_size`
    /// (a power of two; `length` a non-zero multiple of it).
    pub fn new(base: u64, length: u64, page_size: u64) -> Result<DirtyBitmap> {
        let bytes = bitmap_size(length, page_size);
        if bytes == 0 || length % page_size != 0 {
            return Err(Error::from_errno(crate::errno::EINVAL));
        }
        Ok(DirtyBitmap { base, page_size, nbits: length / page_size, words: vec![0; bytes / 8] })
    }

    /// A bitmap over existing words (e.g. the VMM's own), `nbits` pages of
    /// `page_size` from `base`; `EINVAL` if the words hold fewer bits or
    /// page_size is not a power of two.
    pub fn from_words(base: u64, page_size: u64, nbits: u64, words: Vec<u64>) -> Result<DirtyBitmap> {
        if !page_size.is_power_of_two() || (words.len() as u64).saturating_mul(64) < nbits {
            return Err(Error::from_errno(crate::errno::EINVAL));
        }
        Ok(DirtyBitmap { base, page_size, nbits, words })
    }

    /// The address of page 0.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// The page size.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// The number of pages (bits) covered.
    pub fn pages(&self) -> u64 {
        self.nbits
    }

    /// The words, for the VMM's own bitmap code.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    pub(crate) fn words_mut(&mut self) -> &mut [u64] {
        &mut self.words
    }

    /// Whether page `i` is dirty (false past the end).
    pub fn is_dirty(&self, i: u64) -> bool {
        i < self.nbits && (self.words[(i / 64) as usize] >> (i % 64)) & 1 == 1
    }

    /// The number of dirty pages.
    pub fn count(&self) -> u64 {
        // SAFETY: words holds nbits bits.
        let n = unsafe { sys::iommudirty_bitmap_count(self.words.as_ptr(), self.nbits) };
        n.max(0) as u64
    }

    /// The runs of dirty pages, in order (maximal runs of set bits).
    pub fn runs(&self) -> Runs<'_> {
        Runs::new(&self.words, self.nbits)
    }

    /// The dirty ranges as `(address, bytes)`, in order.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let (base, ps) = (self.base, self.page_size);
        self.runs().map(move |r| (base + r.first * ps, r.count * ps))
    }

    /// OR `other` into this bitmap at page `at` (e.g. a tracker's bitmap
    /// into the VMM's at its RAM offset); bits past this one's end are an
    /// `ERANGE` error.
    pub fn or_at(&mut self, at: u64, other: &DirtyBitmap) -> Result<()> {
        match at.checked_add(other.nbits) {
            Some(end) if end <= self.nbits => {}
            _ => return Err(Error::from_errno(crate::errno::ERANGE)),
        }
        // SAFETY: dst holds nbits >= at + other.nbits bits, src other.nbits.
        check(unsafe {
            sys::iommudirty_bitmap_or_at(self.words.as_mut_ptr(), at, other.words.as_ptr(), other.nbits)
        })?;
        Ok(())
    }
}

const BATCH: usize = 32;

/// Iterator over the runs of set bits of a bitmap, fetched in batches with
/// `iommudirty_bitmap_runs()`.
pub struct Runs<'a> {
    words: &'a [u64],
    nbits: u64,
    pos: u64,
    buf: [sys::iommudirty_run; BATCH],
    next: usize,
    len: usize,
}

impl<'a> Runs<'a> {
    /// The runs of bits `[0, nbits)` of `words` (nbits is clamped to the
    /// words given).
    pub fn new(words: &'a [u64], nbits: u64) -> Runs<'a> {
        let nbits = nbits.min(words.len() as u64 * 64);
        Runs {
            words,
            nbits,
            pos: 0,
            buf: [sys::iommudirty_run { first: 0, count: 0 }; BATCH],
            next: 0,
            len: 0,
        }
    }
}

impl Iterator for Runs<'_> {
    type Item = Run;

    fn next(&mut self) -> Option<Run> {
        if self.next == self.len {
            if self.pos >= self.nbits {
                return None;
            }
            // SAFETY: words holds nbits bits; buf holds BATCH runs.
            let n = unsafe {
                sys::iommudirty_bitmap_runs(
                    self.words.as_ptr(),
                    self.nbits,
                    &mut self.pos,
                    self.buf.as_mut_ptr(),
                    BATCH,
                )
            };
            if n <= 0 {
                self.pos = self.nbits;
                return None;
            }
            self.next = 0;
            self.len = n as usize;
        }
        let r = self.buf[self.next];
        self.next += 1;
        Some(Run { first: r.first, count: r.count })
    }
}
