// SPDX-License-Identifier: LGPL-2.1-or-later
//! Guest memory that devices may write at any time.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

use crate::error::{Error, Result};

/// Zeroed, page-aligned memory for [`Tracker::map`](crate::Tracker::map):
/// the guest RAM a device writes by DMA.
///
/// Once mapped, a device may write it at any moment (on the sim, another
/// thread does), so Rust never hands out a reference into it: it is read
/// and written by copies through raw pointers. A tracker that maps it keeps
/// it alive until the mapping is gone from the kernel.
pub struct GuestMemory {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the memory is plain bytes with no Rust references into it; every
// access is a raw copy, as DMA memory shared with a device must be.
unsafe impl Send for GuestMemory {}
// SAFETY: as for Send.
unsafe impl Sync for GuestMemory {}

impl GuestMemory {
    /// `len` zeroed bytes aligned to `align` (a power of two, at least the
    /// IOAS alignment of the mappings it will back, usually 4096).
    pub fn new(len: usize, align: usize) -> Result<GuestMemory> {
        let layout = Layout::from_size_align(len, align)
            .map_err(|_| Error::from_errno(crate::errno::EINVAL))?;
        if len == 0 {
            return Err(Error::from_errno(crate::errno::EINVAL));
        }
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(ptr).ok_or(Error::from_errno(crate::errno::ENOMEM))?;
        Ok(GuestMemory { ptr, layout })
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.layout.size()
    }

    /// Never empty; for the convention.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Its address, for the VMM's own bookkeeping.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Copy `buf.len()` bytes from `offset` out (what devices wrote).
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.range(offset, buf.len())?;
        // SAFETY: in bounds; raw copy, no reference into the memory.
        unsafe { std::ptr::copy(self.ptr.as_ptr().add(offset), buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copy `data` in at `offset` (as the guest's CPU would write).
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.range(offset, data.len())?;
        // SAFETY: in bounds; raw copy.
        unsafe { std::ptr::copy(data.as_ptr(), self.ptr.as_ptr().add(offset), data.len()) };
        Ok(())
    }

    pub(crate) fn range(&self, offset: usize, len: usize) -> Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len() => Ok(()),
            _ => Err(Error::from_errno(crate::errno::ERANGE)),
        }
    }
}

impl Drop for GuestMemory {
    fn drop(&mut self) {
        // SAFETY: allocated in new() with this layout.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

impl std::fmt::Debug for GuestMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestMemory").field("ptr", &self.ptr).field("len", &self.len()).finish()
    }
}
