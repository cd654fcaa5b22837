// SPDX-License-Identifier: LGPL-2.1-or-later
//! Safe Rust API of libiommudirty: track the guest pages that passthrough
//! devices dirty during live migration (iommufd dirty tracking, VFIO type1,
//! VFIO device DMA logging).
//!
//! The shape follows the C header, `iommudirty.h`:
//! - a [`Context`] is an iommufd (opened or adopted), or one on the
//!   simulated kernel ([`Sim`]);
//! - a [`Device`] is a VFIO device bound to it;
//! - a [`Tracker`] is an IOAS (or a type1 container) with its mappings and
//!   devices; each device has its own dirty [`Source`];
//! - reads give a [`DirtyBitmap`], whose [`runs`](DirtyBitmap::runs) are the
//!   dirty pages.
//!
//! Handles free themselves on drop, in the order the C API needs: a device
//! or tracker keeps its context alive, a tracker keeps the devices attached
//! to it and the memory it maps, a context keeps its sim. Every failing
//! call returns an [`Error`] with the errno the header documents.
//!
//! ```no_run
//! use std::sync::Arc;
//! use iommudirty::{Context, Device, GuestMemory, Prot, ReadMode, Tracker};
//! # fn main() -> iommudirty::Result<()> {
//! let ctx = Context::new()?;                       // /dev/iommu
//! let fd = std::fs::File::open("/dev/vfio/devices/vfio0").unwrap();
//! let dev = Device::bind(&ctx, std::os::fd::OwnedFd::from(fd))?;
//! let tracker = Tracker::new(&ctx)?;
//! tracker.attach(&dev)?;
//! let ram = Arc::new(GuestMemory::new(1 << 30, 1 << 21)?);
//! tracker.map(&ram, 0, 1 << 30, 0, Prot::ReadWrite)?;
//! tracker.start()?;
//! let dirty = tracker.read(0, 1 << 30, 4096, ReadMode::Clear)?;
//! for (addr, len) in dirty.ranges() {
//!     println!("dirty: {addr:#x} +{len:#x}");
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod bitmap;
mod context;
mod devlink;
mod error;
mod mem;
#[cfg(feature = "sim")]
pub mod sim;
mod tracker;

use core::ffi::CStr;
use std::fmt;

use iommudirty_sys as sys;
/// The raw bindings this crate is built on.
pub use iommudirty_sys;

pub use bitmap::{bitmap_size, DirtyBitmap, Run, Runs};
pub use context::{Caps, Context, ContextBuilder, Device, DeviceFd, HwInfo, LogLevel};
pub use devlink::{DevlinkPort, DevlinkTarget, Migratable};
pub use error::{errno, Error, Result};
pub use mem::GuestMemory;
#[cfg(feature = "sim")]
pub use sim::{
    Sim, SimDevice, SimDeviceOptions, SimDevlinkFlavour, SimDevlinkPortOptions, SimFd, SimIommu, SimIommuOptions,
    SimOptions, SimStats,
};
pub use tracker::{
    AttachOptions, IovaRange, Prot, ReadMode, SourceInfo, Tracker, TrackerInfo, TrackerOptions,
};

fn static_str(p: *const core::ffi::c_char) -> &'static str {
    if p.is_null() {
        return "";
    }
    // SAFETY: the library's *_str and version calls return static strings.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("")
}

/// The runtime library's version, "MAJOR.MINOR.PATCH".
pub fn version() -> &'static str {
    // SAFETY: no arguments; a static string.
    static_str(unsafe { sys::iommudirty_version() })
}

/// A stable reason code (`enum iommudirty_reason`): why an IOMMU, backend
/// or source can or cannot track. `Display` gives the library's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reason(pub u32);

impl Reason {
    /// No reason.
    pub const NONE: Reason = Reason(sys::IOMMUDIRTY_REASON_NONE);
    /// The kernel's capability bit is 0.
    pub const KERNEL_NO_CAP: Reason = Reason(sys::IOMMUDIRTY_REASON_KERNEL_NO_CAP);
    /// The selftest mock IOMMU was made without dirty tracking.
    pub const MOCK_NO_DIRTY: Reason = Reason(sys::IOMMUDIRTY_REASON_MOCK_NO_DIRTY);
    /// A device's IOMMU cannot track.
    pub const DEVICE_CANNOT_TRACK: Reason = Reason(sys::IOMMUDIRTY_REASON_DEVICE_CANNOT_TRACK);
    /// The device offers no DMA logging.
    pub const NO_DMA_LOGGING: Reason = Reason(sys::IOMMUDIRTY_REASON_NO_DMA_LOGGING);
    /// Usable, but the policy prefers the chosen source.
    pub const POLICY: Reason = Reason(sys::IOMMUDIRTY_REASON_POLICY);
    /// No source: every page the device can write is reported dirty.
    pub const UNTRACKED_WRITER: Reason = Reason(sys::IOMMUDIRTY_REASON_UNTRACKED_WRITER);
    /// No device fd: the device's log (and its devlink port) cannot be
    /// reached.
    pub const NO_DEVICE_FD: Reason = Reason(sys::IOMMUDIRTY_REASON_NO_DEVICE_FD);
    /// Refused: the tracker takes precise sources only.
    pub const PRECISE_ONLY: Reason = Reason(sys::IOMMUDIRTY_REASON_PRECISE_ONLY);
    /// devlink `migratable` is off: the hint has the command that turns it on.
    pub const DEVLINK_MIGRATABLE_OFF: Reason = Reason(sys::IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF);
    /// The PF's eswitch is not in switchdev mode.
    pub const DEVLINK_NOT_SWITCHDEV: Reason = Reason(sys::IOMMUDIRTY_REASON_DEVLINK_NOT_SWITCHDEV);
    /// The port's driver has no migratable operation.
    pub const DEVLINK_NO_MIGRATABLE_OP: Reason = Reason(sys::IOMMUDIRTY_REASON_DEVLINK_NO_MIGRATABLE_OP);
    /// No devlink family, or no instance or port reachable.
    pub const DEVLINK_UNAVAILABLE: Reason = Reason(sys::IOMMUDIRTY_REASON_DEVLINK_UNAVAILABLE);
    /// The library was built without libnl: devlink cannot be asked.
    pub const DEVLINK_NO_LIBNL: Reason = Reason(sys::IOMMUDIRTY_REASON_DEVLINK_NO_LIBNL);
    /// Not a VF (no sysfs `physfn`), or a port that is no VF's.
    pub const DEVLINK_NOT_A_VF: Reason = Reason(sys::IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF);
    /// The PF has no PCI_VF port with this VF's number.
    pub const DEVLINK_NO_PORT: Reason = Reason(sys::IOMMUDIRTY_REASON_DEVLINK_NO_PORT);
    /// devlink `migratable` is on.
    pub const DEVLINK_MIGRATABLE_ON: Reason = Reason(sys::IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_ON);

    /// The library's one line of text for it.
    pub fn as_str(self) -> &'static str {
        // SAFETY: any value is accepted.
        static_str(unsafe { sys::iommudirty_reason_str(self.0) })
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An IOMMU vendor (`enum iommudirty_vendor`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vendor(pub u32);

impl Vendor {
    /// Not decoded.
    pub const UNKNOWN: Vendor = Vendor(sys::IOMMUDIRTY_VENDOR_UNKNOWN);
    /// Intel VT-d.
    pub const INTEL_VTD: Vendor = Vendor(sys::IOMMUDIRTY_VENDOR_INTEL_VTD);
    /// AMD-Vi.
    pub const AMD_VI: Vendor = Vendor(sys::IOMMUDIRTY_VENDOR_AMD_VI);
    /// ARM SMMUv3.
    pub const ARM_SMMUV3: Vendor = Vendor(sys::IOMMUDIRTY_VENDOR_ARM_SMMUV3);
    /// The kernel's selftest mock IOMMU (and the sim's default).
    pub const SELFTEST: Vendor = Vendor(sys::IOMMUDIRTY_VENDOR_SELFTEST);
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: any value is accepted.
        f.write_str(static_str(unsafe { sys::iommudirty_vendor_str(self.0) }))
    }
}

/// A device's dirty source (`enum iommudirty_source`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Source {
    /// In requests: choose by policy.
    #[default]
    Auto,
    /// Its IOMMU's dirty-tracking HWPT: precise.
    Iommu,
    /// The type1 container: conservative.
    Type1,
    /// The device's own DMA log: precise.
    DeviceLog,
    /// An untracked writer: conservative.
    None,
    /// A value this crate does not know.
    Other(u32),
}

impl Source {
    pub(crate) fn raw(self) -> u32 {
        match self {
            Source::Auto => sys::IOMMUDIRTY_SOURCE_AUTO,
            Source::Iommu => sys::IOMMUDIRTY_SOURCE_IOMMU,
            Source::Type1 => sys::IOMMUDIRTY_SOURCE_TYPE1,
            Source::DeviceLog => sys::IOMMUDIRTY_SOURCE_DEVICE_LOG,
            Source::None => sys::IOMMUDIRTY_SOURCE_NONE,
            Source::Other(v) => v,
        }
    }

    pub(crate) fn from_raw(v: u32) -> Source {
        match v {
            sys::IOMMUDIRTY_SOURCE_AUTO => Source::Auto,
            sys::IOMMUDIRTY_SOURCE_IOMMU => Source::Iommu,
            sys::IOMMUDIRTY_SOURCE_TYPE1 => Source::Type1,
            sys::IOMMUDIRTY_SOURCE_DEVICE_LOG => Source::DeviceLog,
            sys::IOMMUDIRTY_SOURCE_NONE => Source::None,
            v => Source::Other(v),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: any value is accepted.
        f.write_str(static_str(unsafe { sys::iommudirty_source_str(self.raw()) }))
    }
}

/// How automatic sources are chosen (`enum iommudirty_policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Policy {
    /// The device's log if it has one, else its IOMMU or the container.
    #[default]
    PreferDeviceLog,
    /// The IOMMU if it can track, else the device's log.
    PreferIommu,
    /// Device logs only if every device has one.
    AllOrNothing,
}

impl Policy {
    fn raw(self) -> u32 {
        match self {
            Policy::PreferDeviceLog => sys::IOMMUDIRTY_POLICY_PREFER_DEVICE_LOG,
            Policy::PreferIommu => sys::IOMMUDIRTY_POLICY_PREFER_IOMMU,
            Policy::AllOrNothing => sys::IOMMUDIRTY_POLICY_ALL_OR_NOTHING,
        }
    }
}

/// A tracker's backend (`enum iommudirty_backend`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Choose (see `iommudirty_tracker_new()`).
    #[default]
    Auto,
    /// iommufd HWPT dirty tracking: precise.
    Iommufd,
    /// Legacy VFIO type1: conservative.
    Type1,
    /// A value this crate does not know.
    Other(u32),
}

impl Backend {
    fn raw(self) -> u32 {
        match self {
            Backend::Auto => sys::IOMMUDIRTY_BACKEND_AUTO,
            Backend::Iommufd => sys::IOMMUDIRTY_BACKEND_IOMMUFD,
            Backend::Type1 => sys::IOMMUDIRTY_BACKEND_TYPE1,
            Backend::Other(v) => v,
        }
    }

    fn from_raw(v: u32) -> Backend {
        match v {
            sys::IOMMUDIRTY_BACKEND_AUTO => Backend::Auto,
            sys::IOMMUDIRTY_BACKEND_IOMMUFD => Backend::Iommufd,
            sys::IOMMUDIRTY_BACKEND_TYPE1 => Backend::Type1,
            v => Backend::Other(v),
        }
    }
}

/// Decode IOMMU_GET_HW_INFO output (`type`, vendor `data`, the kernel's
/// capability bits) into a capability report; no kernel call.
pub fn decode_hw_info(kind: u32, data: &[u8], kernel_caps: u64) -> Result<Caps> {
    let mut c = Caps::raw_out();
    let len = u32::try_from(data.len()).map_err(|_| Error::from_errno(errno::EINVAL))?;
    // SAFETY: data is valid for len bytes; c for writes of its sz.
    error::check(unsafe {
        sys::iommudirty_decode_hw_info(kind, data.as_ptr().cast(), len, kernel_caps, &mut c)
    })?;
    Ok(Caps::from_raw(&c))
}
