// SPDX-License-Identifier: LGPL-2.1-or-later
//! The simulated kernel: iommufd, VFIO cdevs and type1 in process, for
//! testing a VMM's migration code on a machine without an IOMMU.

use core::ffi::c_char;
use std::os::fd::{AsRawFd, RawFd};
use std::ptr::NonNull;
use std::sync::Arc;

use iommudirty_sys as sys;

use crate::error::{check, Error, Result};

struct SimInner {
    ptr: NonNull<sys::iommudirty_sim>,
}

impl Drop for SimInner {
    fn drop(&mut self) {
        // SAFETY: the last reference: every context, device fd and SimFd
        // using the sim holds one, so they are all gone, and no other call
        // on the sim can run.
        unsafe { sys::iommudirty_sim_free(self.ptr.as_ptr()) };
    }
}

// SAFETY: the header: "All sim calls are thread-safe", except
// iommudirty_sim_free(), which runs only from Drop of the last reference.
unsafe impl Send for SimInner {}
// SAFETY: as for Send.
unsafe impl Sync for SimInner {}

/// A simulated kernel. Cheap to clone (a reference); contexts made on it
/// and fds it handed out keep it alive.
#[derive(Clone)]
pub struct Sim {
    inner: Arc<SimInner>,
}

/// Kernel configuration of a [`Sim`] (the C `struct iommudirty_sim_opts`).
#[derive(Clone, Debug, Default)]
pub struct SimOptions {
    /// No `/dev/iommu` (CONFIG_IOMMUFD=n).
    pub no_iommufd: bool,
    /// No `/dev/vfio/vfio`.
    pub no_type1: bool,
    /// No VFIO cdevs (CONFIG_VFIO_DEVICE_CDEV=n).
    pub no_cdev: bool,
    /// `/dev/vfio/vfio` is iommufd's compat container (no dirty ioctls).
    pub type1_compat: bool,
    /// Type1's per-call bitmap limit in bytes; 0: the kernel's 256 MiB.
    pub type1_max_bitmap: u64,
    /// No devlink generic-netlink family (CONFIG_NET_DEVLINK=n).
    pub no_devlink: bool,
    /// The caller lacks CAP_NET_ADMIN: devlink's port set and eswitch get
    /// fail with EPERM, port get still answers.
    pub no_net_admin: bool,
}

/// An IOMMU of the sim (the C `struct iommudirty_sim_iommu_opts`).
#[derive(Clone, Debug, Default)]
pub struct SimIommuOptions {
    /// The IOMMU cannot track dirty pages.
    pub no_dirty: bool,
    /// `IOMMUDIRTY_HW_INFO_*`; 0: the selftest type.
    pub hw_info_type: u32,
    /// IO page sizes; 0: 4 KiB only.
    pub pgsize_bitmap: u64,
    /// Vendor data GET_HW_INFO returns (copied).
    pub hw_info_data: Vec<u8>,
    /// Aperture `[start, last]`; `None`: the whole 64-bit space.
    pub aperture: Option<(u64, u64)>,
}

/// A VFIO device of the sim (the C `struct iommudirty_sim_device_opts`).
#[derive(Clone, Debug, Default)]
pub struct SimDeviceOptions {
    /// The IOMMU it sits behind (ignored when `emulated_iommu`).
    pub iommu: SimIommu,
    /// It implements VFIO device DMA logging.
    pub dma_logging: bool,
    /// An emulated-IOMMU device (an mdev): cdev only, no IOMMU.
    pub emulated_iommu: bool,
    /// VFIO migration flags (non-zero must hold STOP_COPY, 1).
    pub migration_flags: u64,
    /// DMA logging: the most ranges START takes; 0: 256.
    pub log_max_ranges: u32,
    /// DMA logging: the device's log page size; 0: what is asked.
    pub log_page_size: u64,
    /// DMA logging: the largest span START takes; 0: no limit.
    pub log_max_span: u64,
}

/// An IOMMU index of a sim.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimIommu(pub i32);

/// A device index of a sim.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimDevice(pub i32);

/// The sim's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Opens and ioctls so far.
    pub calls: u64,
    /// Ioctls so far.
    pub ioctls: u64,
    /// Dirty-bitmap reads so far (iommufd, type1, unmap with bitmap).
    pub dirty_reads: u64,
    /// Fds handed out and not closed.
    pub open_fds: u64,
    /// Live iommufd objects.
    pub objects: u64,
    /// IO page-table bytes a kernel would hold now.
    pub pt_bytes: u64,
    /// Netlink sockets open now (contexts' devlink calls).
    pub nl_socks: u64,
    /// Netlink requests sent so far.
    pub nl_requests: u64,
}

/// A devlink port flavour (the kernel's `DEVLINK_PORT_FLAVOUR_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SimDevlinkFlavour {
    /// A physical port.
    Physical,
    /// A PCI PF's port.
    PciPf,
    /// A PCI VF's port: the only flavour with a `migratable` function.
    #[default]
    PciVf,
    /// Another value, passed as is (the sim refuses unknown ones).
    Other(u32),
}

impl SimDevlinkFlavour {
    fn raw(self) -> u32 {
        match self {
            SimDevlinkFlavour::Physical => sys::IOMMUDIRTY_SIM_DEVLINK_PHYSICAL,
            SimDevlinkFlavour::PciPf => sys::IOMMUDIRTY_SIM_DEVLINK_PCI_PF,
            SimDevlinkFlavour::PciVf => sys::IOMMUDIRTY_SIM_DEVLINK_PCI_VF,
            SimDevlinkFlavour::Other(v) => v,
        }
    }
}

/// A devlink port of the sim (the C `struct iommudirty_sim_devlink_port_opts`).
#[derive(Clone, Debug, Default)]
pub struct SimDevlinkPortOptions {
    /// The PF: its devlink instance is `pci/<its BDF>`.
    pub pf: SimDevice,
    /// The VF the port is for: it becomes the PF's VF number `vf_number`
    /// (sysfs `physfn` and `virtfn<N>` links). `None`: no VF.
    pub vf: Option<SimDevice>,
    /// The port index (unique per PF).
    pub index: u32,
    /// The port flavour.
    pub flavour: SimDevlinkFlavour,
    /// The VF's number: the PF's `virtfn<N>`, the port's PCI_VF_NUMBER.
    pub vf_number: u32,
    /// The port's driver has `port_fn_migratable_get/set`.
    pub migratable_op: bool,
    /// Its initial state is on (needs `migratable_op`).
    pub migratable: bool,
    /// Register no port: only the PF's devlink instance and the VF's sysfs
    /// links (a VF whose PF shows no port for it).
    pub no_port: bool,
    /// The PF's eswitch is in legacy mode, not switchdev (the last call
    /// for a PF sets it).
    pub legacy: bool,
}

impl Sim {
    /// A sim with the default kernel configuration and no IOMMU yet.
    pub fn new() -> Result<Sim> {
        Sim::with_options(&SimOptions::default())
    }

    /// A sim with this kernel configuration.
    pub fn with_options(opts: &SimOptions) -> Result<Sim> {
        // SAFETY: an options struct.
        let mut o: sys::iommudirty_sim_opts = unsafe { sys::opts_zeroed() };
        for (on, bit) in [
            (opts.no_iommufd, sys::IOMMUDIRTY_SIM_NO_IOMMUFD),
            (opts.no_type1, sys::IOMMUDIRTY_SIM_NO_TYPE1),
            (opts.no_cdev, sys::IOMMUDIRTY_SIM_NO_CDEV),
            (opts.type1_compat, sys::IOMMUDIRTY_SIM_TYPE1_COMPAT),
            (opts.no_devlink, sys::IOMMUDIRTY_SIM_NO_DEVLINK),
            (opts.no_net_admin, sys::IOMMUDIRTY_SIM_NO_NET_ADMIN),
        ] {
            if on {
                o.flags |= bit;
            }
        }
        o.type1_max_bitmap = opts.type1_max_bitmap;
        // SAFETY: o is valid for the call.
        let ptr = unsafe { sys::iommudirty_sim_new(&o) };
        let ptr = NonNull::new(ptr).ok_or_else(Error::last_os)?;
        Ok(Sim { inner: Arc::new(SimInner { ptr }) })
    }

    /// The raw C handle, valid as long as this `Sim` (or a clone) lives.
    pub fn as_ptr(&self) -> *mut sys::iommudirty_sim {
        self.inner.ptr.as_ptr()
    }

    /// Add an IOMMU with 4 KiB pages that can track dirty pages.
    pub fn add_iommu(&self) -> Result<SimIommu> {
        self.add_iommu_with(&SimIommuOptions::default())
    }

    /// Add an IOMMU.
    pub fn add_iommu_with(&self, opts: &SimIommuOptions) -> Result<SimIommu> {
        // SAFETY: an options struct.
        let mut o: sys::iommudirty_sim_iommu_opts = unsafe { sys::opts_zeroed() };
        if opts.no_dirty {
            o.flags |= sys::IOMMUDIRTY_SIM_IOMMU_NO_DIRTY;
        }
        o.hw_info_type = opts.hw_info_type;
        o.pgsize_bitmap = opts.pgsize_bitmap;
        if !opts.hw_info_data.is_empty() {
            o.hw_info_data = opts.hw_info_data.as_ptr().cast();
            o.hw_info_len = u32::try_from(opts.hw_info_data.len())
                .map_err(|_| Error::from_errno(crate::errno::EINVAL))?;
        }
        if let Some((start, last)) = opts.aperture {
            o.aperture_start = start;
            o.aperture_last = last;
        }
        // SAFETY: o and the data it points to live during the call (the
        // sim copies the data).
        check(unsafe { sys::iommudirty_sim_add_iommu(self.as_ptr(), &o) }).map(SimIommu)
    }

    /// Add a plain PCI device behind `iommu` (no DMA logging, no VFIO
    /// migration).
    pub fn add_device(&self, iommu: SimIommu) -> Result<SimDevice> {
        // SAFETY: a live sim.
        check(unsafe { sys::iommudirty_sim_add_device(self.as_ptr(), iommu.0) }).map(SimDevice)
    }

    /// Add a VFIO device with DMA logging, VFIO migration or an emulated
    /// IOMMU.
    pub fn add_vfio_device(&self, opts: &SimDeviceOptions) -> Result<SimDevice> {
        // SAFETY: an options struct.
        let mut o: sys::iommudirty_sim_device_opts = unsafe { sys::opts_zeroed() };
        if opts.dma_logging {
            o.flags |= sys::IOMMUDIRTY_SIM_DEV_DMA_LOGGING;
        }
        if opts.emulated_iommu {
            o.flags |= sys::IOMMUDIRTY_SIM_DEV_EMULATED_IOMMU;
        }
        o.iommu = opts.iommu.0;
        o.migration_flags = opts.migration_flags;
        o.log_max_ranges = opts.log_max_ranges;
        o.log_page_size = opts.log_page_size;
        o.log_max_span = opts.log_max_span;
        // SAFETY: o is valid for the call.
        check(unsafe { sys::iommudirty_sim_add_vfio_device(self.as_ptr(), &o) }).map(SimDevice)
    }

    /// The device's PCI address ("0000:00:03.0"), as in the sim's sysfs;
    /// what [`TrackerOptions::pci_devices`](crate::TrackerOptions::pci_devices) takes.
    pub fn device_bdf(&self, dev: SimDevice) -> Result<String> {
        let mut buf = [0 as c_char; 64];
        // SAFETY: buf is valid for len bytes.
        check(unsafe { sys::iommudirty_sim_device_bdf(self.as_ptr(), dev.0, buf.as_mut_ptr(), buf.len()) })?;
        // SAFETY: filled with a NUL-terminated string on success.
        let s = unsafe { core::ffi::CStr::from_ptr(buf.as_ptr()) };
        Ok(s.to_string_lossy().into_owned())
    }

    /// Give device `opts.pf` a devlink instance (`pci/<its BDF>`) and a
    /// port on it, as a driver's `devl_port_register_with_ops()` would, and
    /// make `opts.vf` (if any) its VF. The sim's devlink then answers
    /// [`Context::devlink_migratable`](crate::Context::devlink_migratable)
    /// and [`Context::set_devlink_migratable`](crate::Context::set_devlink_migratable)
    /// with the kernel's (6.12) replies, errors and extack messages.
    /// Errors: `EINVAL` (no such device, `pf == vf`, an emulated device, a
    /// port index or VF number already used on the PF, `migratable`
    /// without `migratable_op`, an unknown flavour), `ENOMEM`.
    pub fn add_devlink_port(&self, opts: &SimDevlinkPortOptions) -> Result<()> {
        // SAFETY: an options struct.
        let mut o: sys::iommudirty_sim_devlink_port_opts = unsafe { sys::opts_zeroed() };
        for (on, bit) in [
            (opts.migratable_op, sys::IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE_OP),
            (opts.migratable, sys::IOMMUDIRTY_SIM_DEVLINK_MIGRATABLE),
            (opts.no_port, sys::IOMMUDIRTY_SIM_DEVLINK_NO_PORT),
            (opts.legacy, sys::IOMMUDIRTY_SIM_DEVLINK_LEGACY),
        ] {
            if on {
                o.flags |= bit;
            }
        }
        o.pf = opts.pf.0;
        o.vf = match opts.vf {
            Some(v) if v.0 < 0 => return Err(Error::from_errno(crate::errno::EINVAL)),
            Some(v) => v.0,
            None => -1,
        };
        o.index = opts.index;
        o.flavour = opts.flavour.raw();
        o.vf_number = opts.vf_number;
        // SAFETY: o is valid for the call.
        check(unsafe { sys::iommudirty_sim_add_devlink_port(self.as_ptr(), &o) }).map(drop)
    }

    /// Open the device's VFIO cdev (`/dev/vfio/devices/vfioN`).
    pub fn open_device(&self, dev: SimDevice) -> Result<SimFd> {
        // SAFETY: a live sim.
        let fd = check(unsafe { sys::iommudirty_sim_open_device(self.as_ptr(), dev.0) })?;
        Ok(SimFd { sim: self.clone(), fd })
    }

    /// Open a new iommufd (`/dev/iommu`), e.g. for a VMM that makes its
    /// own and adopts it.
    pub fn open_iommufd(&self) -> Result<SimFd> {
        // SAFETY: a live sim.
        let fd = check(unsafe { sys::iommudirty_sim_open_iommufd(self.as_ptr()) })?;
        Ok(SimFd { sim: self.clone(), fd })
    }

    /// Device `dev` writes `data` at `iova` through its attachment (sets
    /// dirty bits, logs, and copies into the mapped memory).
    pub fn dma_write(&self, dev: SimDevice, iova: u64, data: &[u8]) -> Result<()> {
        // SAFETY: data is valid for its length.
        check(unsafe {
            sys::iommudirty_sim_dma_write(self.as_ptr(), dev.0, iova, data.len() as u64, data.as_ptr().cast())
        })
        .map(drop)
    }

    /// Device `dev` writes `length` bytes at `iova` without touching the
    /// memory's contents (only dirty bits and logs).
    pub fn dma_touch(&self, dev: SimDevice, iova: u64, length: u64) -> Result<()> {
        // SAFETY: a NULL data pointer means "no contents".
        check(unsafe {
            sys::iommudirty_sim_dma_write(self.as_ptr(), dev.0, iova, length, std::ptr::null())
        })
        .map(drop)
    }

    /// Make the `nth` next kernel call (counted from 1) fail with `errno`
    /// (positive); `nth` 0 cancels.
    pub fn fail_call(&self, nth: u64, errno: i32) -> Result<()> {
        // SAFETY: a live sim.
        check(unsafe { sys::iommudirty_sim_fail_call(self.as_ptr(), nth as _, -errno) }).map(drop)
    }

    /// The counters.
    pub fn stats(&self) -> Result<SimStats> {
        // SAFETY: an options-like struct with sz first.
        let mut s: sys::iommudirty_sim_stats = unsafe { sys::opts_zeroed() };
        // SAFETY: s is valid for writes of its sz.
        check(unsafe { sys::iommudirty_sim_get_stats(self.as_ptr(), &mut s) })?;
        Ok(SimStats {
            calls: s.calls,
            ioctls: s.ioctls,
            dirty_reads: s.dirty_reads,
            open_fds: s.open_fds,
            objects: s.objects,
            pt_bytes: s.pt_bytes,
            nl_socks: s.nl_socks,
            nl_requests: s.nl_requests,
        })
    }
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim").field("ptr", &self.inner.ptr).finish()
    }
}

/// An fd the sim handed out; closed with `iommudirty_sim_close()` on drop.
/// It keeps the sim alive.
pub struct SimFd {
    sim: Sim,
    fd: RawFd,
}

impl SimFd {
    /// The sim it belongs to.
    pub fn sim(&self) -> &Sim {
        &self.sim
    }
}

impl AsRawFd for SimFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

impl Drop for SimFd {
    fn drop(&mut self) {
        // SAFETY: the fd came from this sim and is closed once. EBADF
        // cannot happen; nothing to report from Drop anyway.
        unsafe { sys::iommudirty_sim_close(self.sim.as_ptr(), self.fd) };
    }
}

impl std::fmt::Debug for SimFd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimFd").field("fd", &self.fd).finish()
    }
}
