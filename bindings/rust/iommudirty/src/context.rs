// SPDX-License-Identifier: LGPL-2.1-or-later
//! Contexts (an iommufd) and devices bound to them.

use core::ffi::{c_char, c_void, CStr};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use iommudirty_sys as sys;

use crate::error::{check, Error, Result};
use crate::mem::GuestMemory;
#[cfg(feature = "sim")]
use crate::sim::{Sim, SimFd};

/// Severity of a log message (the header's `enum iommudirty_log_level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// An error.
    Err,
    /// A warning (the default maximum level).
    Warn,
    /// Information.
    Info,
    /// Debugging detail.
    Debug,
}

impl LogLevel {
    fn raw(self) -> i32 {
        (match self {
            LogLevel::Err => sys::IOMMUDIRTY_LOG_ERR,
            LogLevel::Warn => sys::IOMMUDIRTY_LOG_WARN,
            LogLevel::Info => sys::IOMMUDIRTY_LOG_INFO,
            LogLevel::Debug => sys::IOMMUDIRTY_LOG_DEBUG,
        }) as i32
    }

    fn from_raw(v: sys::iommudirty_log_level) -> LogLevel {
        match v {
            sys::IOMMUDIRTY_LOG_ERR => LogLevel::Err,
            sys::IOMMUDIRTY_LOG_WARN => LogLevel::Warn,
            sys::IOMMUDIRTY_LOG_INFO => LogLevel::Info,
            _ => LogLevel::Debug,
        }
    }
}

type LogFn = dyn Fn(LogLevel, &str) + Send + Sync;

unsafe extern "C" fn log_trampoline(
    level: sys::iommudirty_log_level,
    msg: *const c_char,
    user: *mut c_void,
) {
    if msg.is_null() || user.is_null() {
        return;
    }
    // SAFETY: user is the Box<LogFn> the context owns (see CtxInner::log),
    // alive until after iommudirty_ctx_free(); msg is valid during the call.
    let f = &*(user as *const Box<LogFn>);
    let text = CStr::from_ptr(msg).to_string_lossy();
    // A panic must not unwind into C.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        f(LogLevel::from_raw(level), &text)
    }));
}

/// The C context and what must outlive it. Devices and trackers hold an
/// `Arc` of it, so `iommudirty_ctx_free()` runs after the last of them is
/// freed, then the sim, the adopted fd and the log callback go.
pub(crate) struct CtxInner {
    pub(crate) ptr: NonNull<sys::iommudirty_ctx>,
    // Memory of trackers freed while the kernel may still hold their
    // mappings (an IOAS it would not destroy yet): kept until the context
    // ends, when the library destroys what is left.
    pub(crate) graveyard: Mutex<Vec<Arc<GuestMemory>>>,
    _log: Option<Box<Box<LogFn>>>,
    _adopted: Option<OwnedFd>,
    #[cfg(feature = "sim")]
    _sim: Option<Sim>,
}

impl Drop for CtxInner {
    fn drop(&mut self) {
        // SAFETY: ptr came from iommudirty_ctx_new and this is the only
        // reference left on the Rust side (every device and tracker holding
        // one has been freed). The fields dropped after this (sim, fd, log
        // callback, memory) are what the context needed to outlive it.
        unsafe { sys::iommudirty_ctx_free(self.ptr.as_ptr()) };
    }
}

// SAFETY: the header: "a context, its devices and its trackers may be used
// from several threads"; iommudirty_ctx_new is safe to call concurrently and
// iommudirty_ctx_free only drops the caller's own reference. The one call
// that must not run concurrently with others on the context,
// iommudirty_set_log_fn(), is not exposed (the callback is set at creation).
// The log callback is Send + Sync, the sim is Send + Sync.
unsafe impl Send for CtxInner {}
// SAFETY: as for Send: every call the Rust API makes through `&CtxInner`
// (ctx_fd, device bind/adopt, tracker_new) is documented thread-safe.
unsafe impl Sync for CtxInner {}

/// A context: an iommufd, opened by the library or adopted. Cheap to clone
/// (a reference). Devices and trackers made from it keep it alive.
#[derive(Clone)]
pub struct Context {
    pub(crate) inner: Arc<CtxInner>,
}

impl Context {
    /// Open `/dev/iommu` on the real kernel.
    pub fn new() -> Result<Context> {
        ContextBuilder::new().build()
    }

    /// A builder for the other ways to make a context.
    pub fn builder() -> ContextBuilder {
        ContextBuilder::new()
    }

    /// The iommufd, for the VMM's own raw ioctls. `ENODEV` if the context
    /// has none ([`ContextBuilder::iommufd_optional`]).
    pub fn iommufd(&self) -> Result<RawFd> {
        // SAFETY: ptr is a live context.
        check(unsafe { sys::iommudirty_ctx_fd(self.inner.ptr.as_ptr()) })
    }

    /// The raw C handle, for calls this crate does not wrap. It stays valid
    /// as long as this `Context` (or a clone) lives.
    pub fn as_ptr(&self) -> *mut sys::iommudirty_ctx {
        self.inner.ptr.as_ptr()
    }
}

/// How to make a [`Context`] (the C `struct iommudirty_ctx_opts`).
#[derive(Default)]
pub struct ContextBuilder {
    path: Option<CString>,
    optional: bool,
    adopt: Option<OwnedFd>,
    #[cfg(feature = "sim")]
    sim: Option<Sim>,
    log: Option<(LogLevel, Box<LogFn>)>,
}

impl ContextBuilder {
    /// Defaults: open `/dev/iommu`.
    pub fn new() -> ContextBuilder {
        ContextBuilder::default()
    }

    /// Open this node instead of `/dev/iommu`.
    pub fn path(mut self, path: &Path) -> ContextBuilder {
        // A path with a NUL byte cannot be opened: build() reports EINVAL.
        self.path = Some(CString::new(path.as_os_str().as_bytes()).unwrap_or_default());
        self
    }

    /// Make the context even without `/dev/iommu` (`ENOENT`): it can then
    /// only make type1 trackers.
    pub fn iommufd_optional(mut self, yes: bool) -> ContextBuilder {
        self.optional = yes;
        self
    }

    /// Adopt the VMM's own iommufd. The context keeps it open for as long
    /// as it (or a device or tracker made from it) lives, then closes it.
    pub fn adopt_iommufd(mut self, fd: OwnedFd) -> ContextBuilder {
        self.adopt = Some(fd);
        self
    }

    /// Run on a simulated kernel instead of the real one. The context keeps
    /// the sim alive.
    #[cfg(feature = "sim")]
    pub fn sim(mut self, sim: &Sim) -> ContextBuilder {
        self.sim = Some(sim.clone());
        self
    }

    /// Send the library's messages up to `max` to `f`. `f` may be called
    /// from any thread that uses the context, its devices or trackers.
    pub fn log<F>(mut self, max: LogLevel, f: F) -> ContextBuilder
    where
        F: Fn(LogLevel, &str) + Send + Sync + 'static,
    {
        self.log = Some((max, Box::new(f)));
        self
    }

    /// Make the context.
    pub fn build(self) -> Result<Context> {
        // SAFETY: an options struct.
        let mut o: sys::iommudirty_ctx_opts = unsafe { sys::opts_zeroed() };
        if let Some(p) = &self.path {
            if p.as_bytes().is_empty() {
                return Err(Error::from_errno(crate::errno::EINVAL));
            }
            o.path = p.as_ptr();
        }
        if self.optional {
            o.flags |= sys::IOMMUDIRTY_CTX_IOMMUFD_OPTIONAL;
        }
        if let Some(fd) = &self.adopt {
            o.flags |= sys::IOMMUDIRTY_CTX_ADOPT_FD;
            o.iommufd = fd.as_raw_fd();
        }
        #[cfg(feature = "sim")]
        if let Some(s) = &self.sim {
            o.sim = s.as_ptr();
        }
        let log = self.log.map(|(lvl, f)| (lvl, Box::new(f)));
        if let Some((lvl, f)) = &log {
            o.log_fn = Some(log_trampoline);
            o.log_user = &**f as *const Box<LogFn> as *mut c_void;
            o.log_level = lvl.raw();
        }
        // SAFETY: o is a valid options struct; the path lives until the
        // call returns, and the sim, the adopted fd and the callback are
        // moved into CtxInner, which frees the context before them.
        let ptr = unsafe { sys::iommudirty_ctx_new(&o) };
        let ptr = NonNull::new(ptr).ok_or_else(Error::last_os)?;
        Ok(Context {
            inner: Arc::new(CtxInner {
                ptr,
                graveyard: Mutex::new(Vec::new()),
                _log: log.map(|(_, f)| f),
                _adopted: self.adopt,
                #[cfg(feature = "sim")]
                _sim: self.sim,
            }),
        })
    }
}

/// A device's VFIO fd, owned by the [`Device`] handle so that it stays open
/// while the library may use it: a real cdev fd, or one the sim handed out.
#[derive(Debug)]
pub enum DeviceFd {
    /// A real file descriptor (e.g. `/dev/vfio/devices/vfio3`), closed
    /// after the device handle is freed.
    Owned(OwnedFd),
    /// An fd from [`Sim::open_device`], released with the sim.
    #[cfg(feature = "sim")]
    Sim(SimFd),
}

impl DeviceFd {
    fn raw(&self) -> RawFd {
        match self {
            DeviceFd::Owned(f) => f.as_raw_fd(),
            #[cfg(feature = "sim")]
            DeviceFd::Sim(f) => f.as_raw_fd(),
        }
    }
}

impl From<OwnedFd> for DeviceFd {
    fn from(f: OwnedFd) -> DeviceFd {
        DeviceFd::Owned(f)
    }
}

#[cfg(feature = "sim")]
impl From<SimFd> for DeviceFd {
    fn from(f: SimFd) -> DeviceFd {
        DeviceFd::Sim(f)
    }
}

pub(crate) struct DevInner {
    pub(crate) ptr: NonNull<sys::iommudirty_device>,
    fd: Option<DeviceFd>,
    // Keeps the context (and what it needs) alive past the device.
    _ctx: Arc<CtxInner>,
}

impl Drop for DevInner {
    fn drop(&mut self) {
        // SAFETY: the last reference: no other call on the device can run.
        // Trackers it is attached to hold a reference too, so it is not
        // attached anywhere the library still reads it through. Then the fd
        // closes (the kernel unbinds), then the context reference goes.
        unsafe { sys::iommudirty_device_free(self.ptr.as_ptr()) };
    }
}

// SAFETY: the header marks every device call thread-safe except
// iommudirty_device_free(), which only runs from Drop of the last
// reference (no other call can be running then).
unsafe impl Send for DevInner {}
// SAFETY: as for Send.
unsafe impl Sync for DevInner {}

/// A VFIO device bound to a context's iommufd. Cheap to clone (a
/// reference): a tracker the device is attached to keeps it (and its fd)
/// alive until it is detached or the tracker is freed.
#[derive(Clone)]
pub struct Device {
    pub(crate) inner: Arc<DevInner>,
}

/// A capability report (the C `struct iommudirty_caps`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caps {
    /// The IOMMU vendor.
    pub vendor: crate::Vendor,
    /// Whether the IOMMU can track dirty pages (the kernel's bit).
    pub dirty: bool,
    /// Why it cannot, or what to watch for.
    pub reasons: Vec<crate::Reason>,
    /// `IOMMUDIRTY_CONSTRAINT_*` bits.
    pub constraints: u32,
    /// IO page sizes the registers advertise (0: they do not say).
    pub pgsize_bitmap: u64,
    /// What the registers alone say: `None` when they cannot tell.
    pub decoded_dirty: Option<bool>,
    /// VFIO device DMA logging: `None` when unknown (no device fd).
    pub dma_logging: Option<bool>,
    /// An emulated-IOMMU device (an mdev).
    pub emulated_iommu: bool,
    /// VFIO migration flags (STOP_COPY 1, P2P 2, PRE_COPY 4).
    pub migration_flags: u64,
    /// devlink's port function `migratable` of the device's VF port, as
    /// [`Device::caps`] found it at bind: `Some(true)` on, `Some(false)`
    /// off, `None` when it cannot be told
    /// ([`devlink_reason`](Caps::devlink_reason) says why; always `None`
    /// from [`decode_hw_info`](crate::decode_hw_info)).
    pub devlink_migratable: Option<bool>,
    /// Why: one of the `Reason::DEVLINK_*` codes
    /// ([`DEVLINK_MIGRATABLE_ON`](crate::Reason::DEVLINK_MIGRATABLE_ON),
    /// [`DEVLINK_MIGRATABLE_OFF`](crate::Reason::DEVLINK_MIGRATABLE_OFF),
    /// [`DEVLINK_NOT_A_VF`](crate::Reason::DEVLINK_NOT_A_VF) for a device
    /// that is no VF, ...); [`NO_DEVICE_FD`](crate::Reason::NO_DEVICE_FD)
    /// for a device adopted without its fd; `Reason::NONE` from
    /// [`decode_hw_info`](crate::decode_hw_info).
    pub devlink_reason: crate::Reason,
}

impl Caps {
    pub(crate) fn from_raw(c: &sys::iommudirty_caps) -> Caps {
        let n = (c.nr_reasons as usize).min(c.reasons.len());
        let tri = |v: i32| if v < 0 { None } else { Some(v != 0) };
        Caps {
            vendor: crate::Vendor(c.vendor),
            dirty: c.dirty != 0,
            reasons: c.reasons[..n].iter().map(|&r| crate::Reason(r)).collect(),
            constraints: c.constraints,
            pgsize_bitmap: c.pgsize_bitmap,
            decoded_dirty: tri(c.decoded_dirty),
            dma_logging: tri(c.dma_logging),
            emulated_iommu: c.emulated_iommu == 1,
            migration_flags: c.migration_flags,
            devlink_migratable: tri(c.devlink_migratable),
            devlink_reason: crate::Reason(c.devlink_reason),
        }
    }

    /// The struct a call fills: zeroed with `sz` set, and the tri-states
    /// the library added later at "cannot tell" (-1), so that a library
    /// that does not fill them does not read as "no".
    pub(crate) fn raw_out() -> sys::iommudirty_caps {
        // SAFETY: an options-like struct with sz first.
        let mut c: sys::iommudirty_caps = unsafe { sys::opts_zeroed() };
        c.dma_logging = -1;
        c.devlink_migratable = -1;
        c
    }
}

/// The IOMMU hardware info read at bind (the C `struct iommudirty_hw_info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HwInfo {
    /// `IOMMUDIRTY_HW_INFO_*`.
    pub kind: u32,
    /// `IOMMUDIRTY_HW_CAP_*` as the kernel reports them.
    pub capabilities: u64,
    /// The vendor registers, as the kernel laid them out.
    pub data: Vec<u8>,
}

impl Device {
    fn wrap(ctx: &Context, fd: Option<DeviceFd>, f: impl FnOnce(*mut *mut sys::iommudirty_device) -> i32) -> Result<Device> {
        let mut out = std::ptr::null_mut();
        check(f(&mut out))?;
        let ptr = NonNull::new(out).ok_or(Error::from_errno(crate::errno::ENOMEM))?;
        Ok(Device { inner: Arc::new(DevInner { ptr, fd, _ctx: ctx.inner.clone() }) })
    }

    /// Bind a VFIO device cdev to the context's iommufd
    /// (`VFIO_DEVICE_BIND_IOMMUFD`) and read its IOMMU's hardware info.
    /// The handle owns the fd from now on. On failure the fd is closed
    /// (which unbinds whatever the call bound).
    pub fn bind(ctx: &Context, fd: impl Into<DeviceFd>) -> Result<Device> {
        let fd = fd.into();
        let raw = fd.raw();
        // SAFETY: ctx is live; raw stays open as long as the device (it is
        // moved into it); out is written on success only.
        Device::wrap(ctx, Some(fd), |out| unsafe {
            sys::iommudirty_device_bind(ctx.inner.ptr.as_ptr(), raw, out)
        })
    }

    /// Wrap a device the VMM bound itself (`dev_id` from its BIND). `fd`:
    /// its cdev fd, owned by the handle from now on, or `None` if the VMM
    /// attaches it itself.
    pub fn adopt(ctx: &Context, fd: Option<DeviceFd>, dev_id: u32) -> Result<Device> {
        let raw = fd.as_ref().map_or(-1, DeviceFd::raw);
        // SAFETY: as for bind.
        Device::wrap(ctx, fd, |out| unsafe {
            sys::iommudirty_device_adopt(ctx.inner.ptr.as_ptr(), raw, dev_id, out)
        })
    }

    /// The iommufd device id.
    pub fn id(&self) -> u32 {
        // SAFETY: a live device.
        unsafe { sys::iommudirty_device_id(self.inner.ptr.as_ptr()) }
    }

    /// The device's fd, if it has one. It stays the handle's: do not close it.
    pub fn fd(&self) -> Option<RawFd> {
        self.inner.fd.as_ref().map(DeviceFd::raw)
    }

    /// Whether the device's IOMMU can track dirty pages.
    pub fn dirty_capable(&self) -> Result<bool> {
        // SAFETY: a live device.
        check(unsafe { sys::iommudirty_device_dirty_capable(self.inner.ptr.as_ptr()) }).map(|v| v == 1)
    }

    /// The IOMMU hardware info read at bind or adopt.
    pub fn hw_info(&self) -> Result<HwInfo> {
        // SAFETY: an options-like struct with sz first.
        let mut i: sys::iommudirty_hw_info = unsafe { sys::opts_zeroed() };
        // SAFETY: i is valid for writes of its sz.
        check(unsafe { sys::iommudirty_device_hw_info(self.inner.ptr.as_ptr(), &mut i) })?;
        let n = (i.data_len as usize).min(i.data.len());
        Ok(HwInfo { kind: i.type_, capabilities: i.capabilities, data: i.data[..n].to_vec() })
    }

    /// The capability report: why the device's dirty source can be what it
    /// is (IOMMU, DMA logging, VFIO migration), and its VF's devlink
    /// `migratable` ([`Caps::devlink_migratable`]).
    pub fn caps(&self) -> Result<Caps> {
        let mut c = Caps::raw_out();
        // SAFETY: c is valid for writes of its sz.
        check(unsafe { sys::iommudirty_device_caps(self.inner.ptr.as_ptr(), &mut c) })?;
        Ok(Caps::from_raw(&c))
    }

    /// The raw C handle, valid as long as this `Device` (or a clone) lives.
    pub fn as_ptr(&self) -> *mut sys::iommudirty_device {
        self.inner.ptr.as_ptr()
    }
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device").field("id", &self.id()).field("fd", &self.fd()).finish()
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("iommufd", &self.iommufd().ok()).finish()
    }
}
