// SPDX-License-Identifier: LGPL-2.1-or-later
//! Trackers: an IOAS (or type1 container), its mappings, its devices and
//! their dirty sources.

use std::ffi::CString;
use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use iommudirty_sys as sys;

use crate::bitmap::DirtyBitmap;
use crate::context::{Context, CtxInner, Device};
use crate::error::{check, Error, Result};
use crate::mem::GuestMemory;
use crate::{errno, Backend, Policy, Reason, Source};

/// An IOVA range with an inclusive end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IovaRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive).
    pub last: u64,
}

/// Access a device has to a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prot {
    /// Devices may read it.
    Read,
    /// Devices may write it.
    Write,
    /// Both.
    ReadWrite,
}

impl Prot {
    fn raw(self) -> u32 {
        match self {
            Prot::Read => sys::IOMMUDIRTY_MAP_READ,
            Prot::Write => sys::IOMMUDIRTY_MAP_WRITE,
            Prot::ReadWrite => sys::IOMMUDIRTY_MAP_READ | sys::IOMMUDIRTY_MAP_WRITE,
        }
    }
}

/// Whether a read clears what it reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// Read and clear: the next read reports only newer writes.
    Clear,
    /// Read without clearing: the same pages are reported again.
    NoClear,
}

impl ReadMode {
    fn raw(self) -> u32 {
        match self {
            ReadMode::Clear => 0,
            ReadMode::NoClear => sys::IOMMUDIRTY_READ_NO_CLEAR,
        }
    }
}

/// Why the backend is what it is (the C `struct iommudirty_tracker_info`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackerInfo {
    /// The backend in use.
    pub backend: Backend,
    /// Every device's source is precise.
    pub precise: bool,
    /// Why the other backend was rejected, why creation failed, and why
    /// devices are conservative.
    pub reasons: Vec<Reason>,
    /// The page size type1 reads at.
    pub type1_pgsize: u64,
    /// Type1's per-call bitmap limit.
    pub type1_max_bitmap_bytes: u64,
    /// The tracker's devices.
    pub nr_devices: u32,
    /// How many of them are conservative (type1 or none).
    pub nr_conservative: u32,
}

impl TrackerInfo {
    fn from_raw(i: &sys::iommudirty_tracker_info) -> TrackerInfo {
        let n = (i.nr_reasons as usize).min(i.reasons.len());
        TrackerInfo {
            backend: Backend::from_raw(i.backend),
            precise: i.precise != 0,
            reasons: i.reasons[..n].iter().map(|&r| Reason(r)).collect(),
            type1_pgsize: i.type1_pgsize,
            type1_max_bitmap_bytes: i.type1_max_bitmap_bytes,
            nr_devices: i.nr_devices,
            nr_conservative: i.nr_conservative,
        }
    }
}

/// A device's dirty source (the C `struct iommudirty_source_info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceInfo {
    /// The iommufd device id (0 on type1).
    pub dev_id: u32,
    /// Its index in [`TrackerOptions::pci_devices`], if it came from there.
    pub pci_index: Option<u32>,
    /// The source in use.
    pub source: Source,
    /// Whether it is precise.
    pub precise: bool,
    /// Why each other source was rejected, and why this one is
    /// conservative if it is.
    pub reasons: Vec<Reason>,
    /// Device log, while started: ranges given at START.
    pub log_nr_ranges: u32,
    /// Device log: their total bytes.
    pub log_tracked_bytes: u64,
    /// Device log: the page size the device chose.
    pub log_page_size: u64,
    /// It was attached with [`AttachOptions::by_vmm`].
    pub by_vmm: bool,
    /// The device's VFIO migration flags.
    pub migration_flags: u64,
}

/// How to make a [`Tracker`] (the C `struct iommudirty_tracker_opts`).
#[derive(Clone, Debug, Default)]
pub struct TrackerOptions {
    backend: Backend,
    policy: Policy,
    flags: u32,
    ioas_id: u32,
    max_io_page: u64,
    pci_devices: Vec<String>,
    pci_sources: Vec<Source>,
    log_windows: Vec<IovaRange>,
}

impl TrackerOptions {
    /// Defaults: backend and sources chosen automatically.
    pub fn new() -> TrackerOptions {
        TrackerOptions::default()
    }

    /// Force a backend.
    pub fn backend(mut self, b: Backend) -> Self {
        self.backend = b;
        self
    }

    /// How automatic sources are chosen.
    pub fn policy(mut self, p: Policy) -> Self {
        self.policy = p;
        self
    }

    fn flag(mut self, bit: u32, on: bool) -> Self {
        if on {
            self.flags |= bit;
        } else {
            self.flags &= !bit;
        }
        self
    }

    /// Precise dirty data only: refuse conservative devices (`EOPNOTSUPP`).
    pub fn precise_only(self, on: bool) -> Self {
        self.flag(sys::IOMMUDIRTY_TRACKER_PRECISE_ONLY, on)
    }

    /// Keep a standby IOAS for cheap atomic unmaps.
    pub fn standby(self, on: bool) -> Self {
        self.flag(sys::IOMMUDIRTY_TRACKER_STANDBY, on)
    }

    /// Small IO pages only (no huge IOPTEs).
    pub fn small_io_pages(self, on: bool) -> Self {
        self.flag(sys::IOMMUDIRTY_TRACKER_SMALL_IO_PAGES, on)
    }

    /// Adopt the VMM's IOAS instead of allocating one.
    pub fn adopt_ioas(mut self, ioas_id: u32) -> Self {
        self.ioas_id = ioas_id;
        self.flag(sys::IOMMUDIRTY_TRACKER_ADOPT_IOAS, true)
    }

    /// Largest IO page size the IOMMU may use (0: 1 GiB).
    pub fn max_io_page(mut self, bytes: u64) -> Self {
        self.max_io_page = bytes;
        self
    }

    /// PCI devices ("0000:03:00.1") the library opens and attaches itself;
    /// [`Tracker::device_fd`] gives their fds.
    pub fn pci_devices<S: Into<String>>(mut self, bdfs: impl IntoIterator<Item = S>) -> Self {
        self.pci_devices = bdfs.into_iter().map(Into::into).collect();
        self
    }

    /// The source of each of `pci_devices`, in order (default: all AUTO).
    pub fn pci_sources(mut self, sources: impl IntoIterator<Item = Source>) -> Self {
        self.pci_sources = sources.into_iter().collect();
        self
    }

    /// Windows of IOVA that device logs cover, instead of the mappings.
    pub fn log_windows(mut self, windows: impl IntoIterator<Item = IovaRange>) -> Self {
        self.log_windows = windows.into_iter().collect();
        self
    }

    /// Make the tracker.
    pub fn build(&self, ctx: &Context) -> Result<Tracker> {
        self.build_with_info(ctx).0
    }

    /// Make the tracker, and say why the backend is what it is (also when
    /// creation fails).
    pub fn build_with_info(&self, ctx: &Context) -> (Result<Tracker>, TrackerInfo) {
        // SAFETY: an options-like struct with sz first.
        let mut info: sys::iommudirty_tracker_info = unsafe { sys::opts_zeroed() };
        let r = self.create(ctx, &mut info);
        (r, TrackerInfo::from_raw(&info))
    }

    fn create(&self, ctx: &Context, info: &mut sys::iommudirty_tracker_info) -> Result<Tracker> {
        let bdfs = self
            .pci_devices
            .iter()
            .map(|s| CString::new(s.as_str()).map_err(|_| Error::from_errno(errno::EINVAL)))
            .collect::<Result<Vec<_>>>()?;
        let ptrs: Vec<*const core::ffi::c_char> = bdfs.iter().map(|s| s.as_ptr()).collect();
        let sources: Vec<u32> = self.pci_sources.iter().map(|s| s.raw()).collect();
        if !sources.is_empty() && sources.len() != ptrs.len() {
            return Err(Error::from_errno(errno::EINVAL));
        }
        let windows: Vec<sys::iommudirty_iova_range> =
            self.log_windows.iter().map(|w| sys::iommudirty_iova_range { start: w.start, last: w.last }).collect();
        // SAFETY: an options struct.
        let mut o: sys::iommudirty_tracker_opts = unsafe { sys::opts_zeroed() };
        o.flags = self.flags;
        o.ioas_id = self.ioas_id;
        o.max_io_page = self.max_io_page;
        o.backend = self.backend.raw();
        o.policy = self.policy.raw();
        if !ptrs.is_empty() {
            o.pci_devices = ptrs.as_ptr();
            o.nr_pci_devices = ptrs.len() as u32;
        }
        if !sources.is_empty() {
            o.pci_sources = sources.as_ptr();
        }
        if !windows.is_empty() {
            o.log_windows = windows.as_ptr();
            o.nr_log_windows = windows.len() as u32;
        }
        o.info = info;
        let mut out = std::ptr::null_mut();
        // SAFETY: o and every array it points to live during the call (the
        // library copies what it keeps); info is valid for writes.
        check(unsafe { sys::iommudirty_tracker_new(ctx.inner.ptr.as_ptr(), &o, &mut out) })?;
        let ptr = NonNull::new(out).ok_or(Error::from_errno(errno::ENOMEM))?;
        Ok(Tracker {
            ptr,
            ctx: ctx.inner.clone(),
            devices: Mutex::new(Vec::new()),
            memory: Mutex::new(Vec::new()),
            gate: ReadGate::default(),
        })
    }
}

/// Options of [`Tracker::attach_with`] (the C `struct iommudirty_attach_opts`).
#[derive(Clone, Copy, Debug, Default)]
pub struct AttachOptions {
    /// The VMM attaches the device itself; the library only accounts for
    /// its writes.
    pub by_vmm: bool,
    /// Force a source (AUTO: by the tracker's policy).
    pub source: Source,
}

struct Mapping {
    start: u64,
    end: u64, // exclusive; u64 arithmetic checked at map time
    mem: Arc<GuestMemory>,
}

/// Which address space a read is in, for the read gate.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Space {
    Iova,
    Guest,
}

/// The header allows concurrent reads only on *disjoint* ranges (with
/// distinct bitmaps, which `&mut` guarantees). This gate holds a read until
/// no overlapping one runs. Guest-address reads may touch any IOVA, so they
/// run alone among reads.
#[derive(Default)]
struct ReadGate {
    busy: Mutex<Vec<(Space, u64, u64, u64)>>, // space, start, end, ticket
    cv: Condvar,
    ticket: Mutex<u64>,
}

struct GateGuard<'a> {
    gate: &'a ReadGate,
    ticket: u64,
}

impl ReadGate {
    fn conflicts(busy: &[(Space, u64, u64, u64)], space: Space, start: u64, end: u64) -> bool {
        busy.iter().any(|&(s, a, b, _)| {
            s == Space::Guest || space == Space::Guest || (start < b && a < end)
        })
    }

    fn enter(&self, space: Space, start: u64, end: u64) -> GateGuard<'_> {
        let ticket = {
            let mut t = lock(&self.ticket);
            *t += 1;
            *t
        };
        let mut busy = lock(&self.busy);
        while Self::conflicts(&busy, space, start, end) {
            busy = self.cv.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        busy.push((space, start, end, ticket));
        GateGuard { gate: self, ticket }
    }
}

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        let mut busy = lock(&self.gate.busy);
        busy.retain(|e| e.3 != self.ticket);
        drop(busy);
        self.gate.cv.notify_all();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing here panics while holding a lock; a poisoned one is usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A tracker: an IOAS (or type1 container) with its mappings, the devices
/// that write them, and each device's dirty source.
///
/// It keeps alive what the library needs while it lives: the context, the
/// devices attached to it (and their fds), and the memory it maps.
pub struct Tracker {
    ptr: NonNull<sys::iommudirty_tracker>,
    ctx: Arc<CtxInner>,
    devices: Mutex<Vec<Device>>,
    memory: Mutex<Vec<Mapping>>,
    gate: ReadGate,
}

// SAFETY: the header: "Each tracker serialises map/unmap/attach/start/stop
// with an internal lock"; every tracker call is documented thread-safe
// except iommudirty_tracker_free(), which runs only from Drop (no other
// call then), and iommudirty_tracker_read()/_read_guest(), which are safe
// concurrently only on disjoint ranges with distinct bitmaps: the read gate
// enforces the first, `&mut` bitmaps the second. The Rust-side lists are
// behind mutexes.
unsafe impl Send for Tracker {}
// SAFETY: as for Send.
unsafe impl Sync for Tracker {}

impl Drop for Tracker {
    fn drop(&mut self) {
        // SAFETY: Drop has the only access; no other call on the tracker.
        unsafe { sys::iommudirty_tracker_free(self.ptr.as_ptr()) };
        // An IOAS the kernel would not destroy yet is retried until the
        // context ends, its mappings still in place: their memory must
        // last as long as the context.
        let maps = std::mem::take(&mut *lock(&self.memory));
        if !maps.is_empty() {
            lock(&self.ctx.graveyard).extend(maps.into_iter().map(|m| m.mem));
        }
        // Then the devices (their fds) and the context reference go.
    }
}

impl Tracker {
    /// A tracker with default options.
    pub fn new(ctx: &Context) -> Result<Tracker> {
        TrackerOptions::new().build(ctx)
    }

    /// The raw C handle, valid as long as this `Tracker` lives.
    pub fn as_ptr(&self) -> *mut sys::iommudirty_tracker {
        self.ptr.as_ptr()
    }

    fn t(&self) -> *mut sys::iommudirty_tracker {
        self.ptr.as_ptr()
    }

    /// Attach `dev` with its source chosen by the tracker's policy.
    pub fn attach(&self, dev: &Device) -> Result<()> {
        self.attach_with(dev, AttachOptions::default())
    }

    /// Attach `dev` with options. The tracker keeps `dev` (and its fd)
    /// alive until [`detach`](Tracker::detach) or its own drop.
    pub fn attach_with(&self, dev: &Device, opts: AttachOptions) -> Result<()> {
        // SAFETY: an options struct.
        let mut o: sys::iommudirty_attach_opts = unsafe { sys::opts_zeroed() };
        if opts.by_vmm {
            o.flags |= sys::IOMMUDIRTY_ATTACH_BY_VMM;
        }
        o.source = opts.source.raw();
        let mut devs = lock(&self.devices);
        // SAFETY: live tracker and device; o is valid for the call.
        check(unsafe { sys::iommudirty_tracker_attach_device(self.t(), dev.as_ptr(), &o) })?;
        devs.push(dev.clone());
        Ok(())
    }

    /// Detach a device attached with [`attach`](Tracker::attach); what its
    /// source still owes is kept for the next reads.
    pub fn detach(&self, dev: &Device) -> Result<()> {
        let mut devs = lock(&self.devices);
        // SAFETY: live tracker and device.
        check(unsafe { sys::iommudirty_tracker_detach(self.t(), dev.as_ptr()) })?;
        if let Some(i) = devs.iter().position(|d| Arc::ptr_eq(&d.inner, &dev.inner)) {
            devs.swap_remove(i);
        }
        Ok(())
    }

    /// Map `mem[offset .. offset + length]` at `iova`. The tracker keeps
    /// `mem` alive until the mapping is unmapped (or the tracker and, if
    /// the kernel kept the IOAS, the context are gone).
    pub fn map(&self, mem: &Arc<GuestMemory>, offset: usize, length: u64, iova: u64, prot: Prot) -> Result<()> {
        let len = usize::try_from(length).map_err(|_| Error::from_errno(errno::EINVAL))?;
        mem.range(offset, len)?;
        let end = iova.checked_add(length).ok_or(Error::from_errno(errno::EOVERFLOW))?;
        let mut maps = lock(&self.memory);
        // SAFETY: the range is inside mem, which the tracker keeps alive
        // while the kernel may write it; GuestMemory is only accessed by
        // raw copies, so device writes alias no Rust reference.
        unsafe { self.map_raw(mem.as_ptr().add(offset), length, iova, prot)? };
        maps.push(Mapping { start: iova, end, mem: mem.clone() });
        Ok(())
    }

    /// Map `length` bytes at `va` to `iova`, for a VMM's own guest memory.
    ///
    /// # Safety
    /// `[va, va + length)` must stay allocated, and not be memory Rust
    /// code holds references into, until it is unmapped and, if the
    /// tracker is dropped first, until the context is gone: devices write
    /// it at any time.
    pub unsafe fn map_raw(&self, va: *mut u8, length: u64, iova: u64, prot: Prot) -> Result<()> {
        check(sys::iommudirty_tracker_map(self.t(), va.cast(), length, iova, prot.raw())).map(drop)
    }

    /// [`map`](Tracker::map) with the VMM's address for the mapping
    /// (guest-physical address or RAM offset, in the VMM's own dirty space)
    /// given in the same step: `mem[offset .. offset + length]` at `iova`,
    /// whose byte `iova + x` is guest address `gaddr + x` for
    /// [`read_guest`](Tracker::read_guest).
    ///
    /// This is the vIOMMU map path while tracking: unlike `map` followed by
    /// [`set_guest`](Tracker::set_guest), no read ever sees the new mapping
    /// without its guest address, so a device write right after the map is
    /// reported at `gaddr`, never at the IOVA. If the guest later unmaps it
    /// while tracking is started, what it collected stays owed to the next
    /// `read_guest` covering it.
    ///
    /// The tracker keeps `mem` alive as [`map`](Tracker::map) does.
    /// Errors: `ERANGE` (the range is not inside `mem`, before any C call),
    /// `EINVAL` (`gaddr` not a multiple of the IOAS alignment, and `map`'s
    /// own cases), `EOVERFLOW` (the IOVA or guest range wraps), `EEXIST`,
    /// `ENOMEM`, or `IOMMU_IOAS_MAP`'s error; on error nothing is mapped.
    pub fn map_guest(
        &self,
        mem: &Arc<GuestMemory>,
        offset: usize,
        length: u64,
        iova: u64,
        gaddr: u64,
        prot: Prot,
    ) -> Result<()> {
        let len = usize::try_from(length).map_err(|_| Error::from_errno(errno::EINVAL))?;
        mem.range(offset, len)?;
        let end = iova.checked_add(length).ok_or(Error::from_errno(errno::EOVERFLOW))?;
        let mut maps = lock(&self.memory);
        // SAFETY: as for map: the range is inside mem, which the tracker
        // keeps alive while the kernel may write it.
        unsafe { self.map_guest_raw(mem.as_ptr().add(offset), length, iova, gaddr, prot)? };
        maps.push(Mapping { start: iova, end, mem: mem.clone() });
        Ok(())
    }

    /// [`map_raw`](Tracker::map_raw) with the guest address `gaddr` given
    /// in the same step, as [`map_guest`](Tracker::map_guest) does, for a
    /// VMM's own guest memory.
    ///
    /// # Safety
    /// As for [`map_raw`](Tracker::map_raw): `[va, va + length)` must stay
    /// allocated, and not be memory Rust code holds references into, until
    /// it is unmapped and, if the tracker is dropped first, until the
    /// context is gone.
    pub unsafe fn map_guest_raw(&self, va: *mut u8, length: u64, iova: u64, gaddr: u64, prot: Prot) -> Result<()> {
        // A NULL va without ADOPT is the C call's EINVAL.
        check(sys::iommudirty_tracker_map_guest(self.t(), va.cast(), length, iova, gaddr, prot.raw())).map(drop)
    }

    /// [`adopt_mapping`](Tracker::adopt_mapping) with the guest address
    /// `gaddr` given in the same step (`IOMMUDIRTY_MAP_ADOPT`): declare
    /// `[iova, iova + length)`, a mapping the VMM made itself in the IOAS,
    /// as guest addresses `[gaddr, gaddr + length)` for
    /// [`read_guest`](Tracker::read_guest). No kernel call; the memory is
    /// the VMM's, so the tracker keeps nothing alive for it (the VMM must
    /// keep it mapped and allocated until it unmaps it and calls
    /// [`forget_mapping`](Tracker::forget_mapping)).
    /// Errors: `EINVAL` (`gaddr` not a multiple of the IOAS alignment, the
    /// adopt cases of `adopt_mapping`), `EOVERFLOW`, `EEXIST`, `ENOMEM`;
    /// on error nothing is declared.
    pub fn adopt_mapping_guest(&self, iova: u64, length: u64, gaddr: u64) -> Result<()> {
        // SAFETY: a live tracker; NULL va with ADOPT alone is the declare form.
        check(unsafe {
            sys::iommudirty_tracker_map_guest(self.t(), std::ptr::null_mut(), length, iova, gaddr, sys::IOMMUDIRTY_MAP_ADOPT)
        })
        .map(drop)
    }

    fn forget_memory(&self, iova: u64, length: u64) {
        let end = iova.saturating_add(length);
        lock(&self.memory).retain(|m| !(m.start >= iova && m.end <= end));
    }

    /// Unmap the tracker's whole mappings inside `[iova, iova + length)`;
    /// their dirty bits are discarded.
    pub fn unmap(&self, iova: u64, length: u64) -> Result<()> {
        // SAFETY: a live tracker.
        check(unsafe { sys::iommudirty_tracker_unmap(self.t(), iova, length) })?;
        self.forget_memory(iova, length);
        Ok(())
    }

    /// Declare a mapping the VMM made in an adopted IOAS (no kernel call).
    pub fn adopt_mapping(&self, iova: u64, length: u64) -> Result<()> {
        // SAFETY: a live tracker.
        check(unsafe { sys::iommudirty_tracker_adopt_mapping(self.t(), iova, length) }).map(drop)
    }

    /// Forget declared mappings the VMM removed itself (no kernel call).
    pub fn forget_mapping(&self, iova: u64, length: u64) -> Result<()> {
        // SAFETY: a live tracker.
        check(unsafe { sys::iommudirty_tracker_forget_mapping(self.t(), iova, length) }).map(drop)
    }

    /// Give the mappings inside `[iova, iova + length)` the VMM's address
    /// `gaddr` (guest-physical address or RAM offset) for
    /// [`read_guest`](Tracker::read_guest). Until then their guest
    /// address is their IOVA: for a mapping made while tracking, use
    /// [`map_guest`](Tracker::map_guest), which leaves no such window.
    pub fn set_guest(&self, iova: u64, length: u64, gaddr: u64) -> Result<()> {
        // SAFETY: a live tracker.
        check(unsafe { sys::iommudirty_tracker_set_guest(self.t(), iova, length, gaddr) }).map(drop)
    }

    /// Start every device's dirty source.
    pub fn start(&self) -> Result<()> {
        // SAFETY: a live tracker.
        check(unsafe { sys::iommudirty_tracker_start(self.t()) }).map(drop)
    }

    /// Stop dirty tracking; unread bits are lost.
    pub fn stop(&self) -> Result<()> {
        // SAFETY: a live tracker.
        check(unsafe { sys::iommudirty_tracker_stop(self.t()) }).map(drop)
    }

    /// Whether tracking is started.
    pub fn is_started(&self) -> bool {
        // SAFETY: a live tracker.
        unsafe { sys::iommudirty_tracker_started(self.t()) == 1 }
    }

    /// The dirty pages of `[iova, iova + length)` at `page_size`.
    pub fn read(&self, iova: u64, length: u64, page_size: u64, mode: ReadMode) -> Result<DirtyBitmap> {
        let mut bm = DirtyBitmap::new(iova, length, page_size)?;
        self.read_into(&mut bm, mode)?;
        Ok(bm)
    }

    /// Read into an existing bitmap (its base, size and page size say the
    /// range); returns the number of dirty pages.
    pub fn read_into(&self, bm: &mut DirtyBitmap, mode: ReadMode) -> Result<u64> {
        let (iova, length, ps) = (bm.base(), bm.pages() * bm.page_size(), bm.page_size());
        let words = bm.words_mut();
        let mut n = 0u64;
        let _g = self.gate.enter(Space::Iova, iova, iova.saturating_add(length));
        // SAFETY: words is a distinct bitmap of the size given; the gate
        // keeps concurrent reads on disjoint ranges.
        check(unsafe {
            sys::iommudirty_tracker_read_counted(
                self.t(),
                iova,
                length,
                ps,
                words.as_mut_ptr(),
                words.len() * 8,
                mode.raw(),
                &mut n,
            )
        })?;
        Ok(n)
    }

    /// The dirty pages of the VMM's `[gaddr, gaddr + length)` (guest
    /// space, see [`set_guest`](Tracker::set_guest)) at `page_size`.
    pub fn read_guest(&self, gaddr: u64, length: u64, page_size: u64, mode: ReadMode) -> Result<DirtyBitmap> {
        let mut bm = DirtyBitmap::new(gaddr, length, page_size)?;
        let words = bm.words_mut();
        let _g = self.gate.enter(Space::Guest, 0, u64::MAX);
        // SAFETY: as for read_into.
        check(unsafe {
            sys::iommudirty_tracker_read_guest(
                self.t(),
                gaddr,
                length,
                page_size,
                words.as_mut_ptr(),
                words.len() * 8,
                mode.raw(),
            )
        })?;
        Ok(bm)
    }

    /// Report the dirty pages of the whole mappings inside `[iova, iova +
    /// length)`, then unmap them. `atomic`: write-protect first, so that no
    /// write a device makes during the call is missed (costlier; see the
    /// header); otherwise quiesce the devices' DMA to the range first.
    pub fn unmap_dirty(&self, iova: u64, length: u64, page_size: u64, atomic: bool) -> Result<DirtyBitmap> {
        let mut bm = DirtyBitmap::new(iova, length, page_size)?;
        let words = bm.words_mut();
        let flags = if atomic { sys::IOMMUDIRTY_UNMAP_ATOMIC } else { 0 };
        // SAFETY: words is sized for the range; the call waits for reads.
        check(unsafe {
            sys::iommudirty_tracker_unmap_dirty(
                self.t(),
                iova,
                length,
                page_size,
                words.as_mut_ptr(),
                words.len() * 8,
                flags,
            )
        })?;
        self.forget_memory(iova, length);
        Ok(bm)
    }

    /// Take the whole mappings inside the range away from every device and
    /// report their final dirty pages (the first half of an atomic unmap);
    /// [`unmap`](Tracker::unmap) them after.
    pub fn write_protect(&self, iova: u64, length: u64, page_size: u64) -> Result<DirtyBitmap> {
        let mut bm = DirtyBitmap::new(iova, length, page_size)?;
        let words = bm.words_mut();
        // SAFETY: as for unmap_dirty.
        check(unsafe {
            sys::iommudirty_tracker_write_protect(
                self.t(),
                iova,
                length,
                page_size,
                words.as_mut_ptr(),
                words.len() * 8,
                0,
            )
        })?;
        Ok(bm)
    }

    /// The backend, whether it is precise, and why.
    pub fn info(&self) -> Result<TrackerInfo> {
        // SAFETY: an options-like struct with sz first.
        let mut i: sys::iommudirty_tracker_info = unsafe { sys::opts_zeroed() };
        // SAFETY: i is valid for writes of its sz.
        check(unsafe { sys::iommudirty_tracker_info(self.t(), &mut i) })?;
        Ok(TrackerInfo::from_raw(&i))
    }

    /// The dirty source of device number `index` (pci_devices first, then
    /// attached ones in attach order); `ENOENT` past the last.
    pub fn source_info(&self, index: u32) -> Result<SourceInfo> {
        // SAFETY: an options-like struct with sz first.
        let mut s: sys::iommudirty_source_info = unsafe { sys::opts_zeroed() };
        // SAFETY: s is valid for writes of its sz.
        check(unsafe { sys::iommudirty_tracker_source_info(self.t(), index, &mut s) })?;
        let n = (s.nr_reasons as usize).min(s.reasons.len());
        Ok(SourceInfo {
            dev_id: s.dev_id,
            pci_index: u32::try_from(s.pci_index).ok(),
            source: Source::from_raw(s.source),
            precise: s.precise != 0,
            reasons: s.reasons[..n].iter().map(|&r| Reason(r)).collect(),
            log_nr_ranges: s.log_nr_ranges,
            log_tracked_bytes: s.log_tracked_bytes,
            log_page_size: s.log_page_size,
            by_vmm: s.flags & sys::IOMMUDIRTY_ATTACH_BY_VMM != 0,
            migration_flags: s.migration_flags,
        })
    }

    /// The dirty sources of all the tracker's devices.
    pub fn sources(&self) -> Result<Vec<SourceInfo>> {
        let mut v = Vec::new();
        loop {
            match self.source_info(v.len() as u32) {
                Ok(s) => v.push(s),
                Err(e) if e.errno() == errno::ENOENT => return Ok(v),
                Err(e) => return Err(e),
            }
        }
    }

    /// The IOAS id (0 on type1).
    pub fn ioas_id(&self) -> u32 {
        // SAFETY: a live tracker.
        unsafe { sys::iommudirty_tracker_ioas_id(self.t()) }
    }

    /// The HWPT ids the tracker reads.
    pub fn hwpt_ids(&self) -> Result<Vec<u32>> {
        let mut ids = vec![0u32; 8];
        loop {
            // SAFETY: ids holds len entries.
            let n = check(unsafe { sys::iommudirty_tracker_hwpt_ids(self.t(), ids.as_mut_ptr(), ids.len()) })? as usize;
            if n <= ids.len() {
                ids.truncate(n);
                return Ok(ids);
            }
            ids.resize(n, 0);
        }
    }

    /// The IOVA ranges the IOAS allows, and the IOVA alignment map and read
    /// need.
    pub fn iova_ranges(&self) -> Result<(Vec<IovaRange>, u64)> {
        let mut r = vec![sys::iommudirty_iova_range { start: 0, last: 0 }; 4];
        let mut align = 0u64;
        loop {
            // SAFETY: r holds len entries; align is valid.
            let n = check(unsafe {
                sys::iommudirty_tracker_iova_ranges(self.t(), r.as_mut_ptr(), r.len(), &mut align)
            })? as usize;
            if n <= r.len() {
                let v = r[..n].iter().map(|x| IovaRange { start: x.start, last: x.last }).collect();
                return Ok((v, align));
            }
            r.resize(n, sys::iommudirty_iova_range { start: 0, last: 0 });
        }
    }

    /// The fd of `pci_devices[index]`, opened by the library; it stays the
    /// tracker's (do not close it).
    pub fn device_fd(&self, index: u32) -> Result<RawFd> {
        // SAFETY: a live tracker.
        check(unsafe { sys::iommudirty_tracker_device_fd(self.t(), index) })
    }

    /// Allocate a dirty-tracking HWPT for `dev`'s IOMMU, for a VMM that
    /// attaches its devices itself; the tracker owns it.
    pub fn alloc_hwpt(&self, dev: &Device) -> Result<u32> {
        let mut id = 0u32;
        // SAFETY: live tracker and device; id is valid.
        check(unsafe { sys::iommudirty_tracker_alloc_hwpt(self.t(), dev.as_ptr(), &mut id) })?;
        Ok(id)
    }

    /// Read dirty bits from a HWPT the VMM allocated on this tracker's
    /// IOAS. `tracking_on`: it already tracks (never send it ENABLE).
    pub fn adopt_hwpt(&self, hwpt_id: u32, tracking_on: bool) -> Result<()> {
        let flags = if tracking_on { sys::IOMMUDIRTY_HWPT_TRACKING_ON } else { 0 };
        // SAFETY: a live tracker.
        check(unsafe { sys::iommudirty_tracker_adopt_hwpt(self.t(), hwpt_id, flags) }).map(drop)
    }
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker").field("ioas_id", &self.ioas_id()).field("started", &self.is_started()).finish()
    }
}
