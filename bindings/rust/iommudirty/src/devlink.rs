// SPDX-License-Identifier: LGPL-2.1-or-later
//! devlink: the `migratable` port function of a VF (mlx5 VFs report no
//! VFIO migration until it is on). Needs a library built with libnl-genl-3;
//! without it every answer is [`Reason::DEVLINK_NO_LIBNL`].

use core::ffi::c_char;
use std::ffi::CString;
use std::fmt;

use iommudirty_sys as sys;

use crate::context::Context;
use crate::error::{check, Error, Result};
use crate::{errno, Reason};

/// A devlink port, `bus/dev/index` as devlink(8) prints it (the C
/// `struct iommudirty_devlink_port`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DevlinkPort {
    /// The bus name: `"pci"`. At most 15 bytes.
    pub bus: String,
    /// The PF's device name, `"0000:03:00.0"`. At most 63 bytes.
    pub dev: String,
    /// The port index.
    pub index: u32,
}

impl DevlinkPort {
    /// Port `index` of the devlink instance `pci/<pf_bdf>`.
    pub fn pci(pf_bdf: impl Into<String>, index: u32) -> DevlinkPort {
        DevlinkPort { bus: "pci".into(), dev: pf_bdf.into(), index }
    }

    fn to_raw(&self) -> Result<sys::iommudirty_devlink_port> {
        // SAFETY: an options-like struct with sz first.
        let mut p: sys::iommudirty_devlink_port = unsafe { sys::opts_zeroed() };
        fill(&mut p.bus, &self.bus)?;
        fill(&mut p.dev, &self.dev)?;
        p.index = self.index;
        Ok(p)
    }

    fn from_raw(p: &sys::iommudirty_devlink_port) -> Option<DevlinkPort> {
        let bus = text(&p.bus);
        if bus.is_empty() {
            return None;
        }
        Some(DevlinkPort { bus, dev: text(&p.dev), index: p.index })
    }
}

impl fmt::Display for DevlinkPort {
    /// `bus/dev/index`, as devlink(8) names the port.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.bus, self.dev, self.index)
    }
}

/// Which VF port a devlink call is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevlinkTarget<'a> {
    /// The VF's PCI name (`"0000:00:04.0"`): its PF comes from sysfs
    /// `physfn`, its port is the PF's PCI_VF-flavour port with the VF's
    /// number.
    Vf(&'a str),
    /// An explicit devlink port.
    Port(&'a DevlinkPort),
}

impl<'a> From<&'a str> for DevlinkTarget<'a> {
    fn from(bdf: &'a str) -> Self {
        DevlinkTarget::Vf(bdf)
    }
}

impl<'a> From<&'a String> for DevlinkTarget<'a> {
    fn from(bdf: &'a String) -> Self {
        DevlinkTarget::Vf(bdf)
    }
}

impl<'a> From<&'a DevlinkPort> for DevlinkTarget<'a> {
    fn from(p: &'a DevlinkPort) -> Self {
        DevlinkTarget::Port(p)
    }
}

/// What devlink says of a VF's `migratable` (the C
/// `struct iommudirty_migratable`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migratable {
    /// `Some(true)` on, `Some(false)` off, `None` when it cannot be told
    /// ([`reason`](Migratable::reason) says why).
    pub state: Option<bool>,
    /// Why: one of the `Reason::DEVLINK_*` codes (`Reason::NONE` when the
    /// call failed before asking anything).
    pub reason: Reason,
    /// The port found, or the one given; `None` when there is none (not a
    /// VF, no port for it).
    pub port: Option<DevlinkPort>,
    /// When off: the devlink(8) command that turns it on; else empty.
    pub hint: String,
    /// The kernel's extack message when it refused a set; else empty.
    pub message: String,
}

impl Migratable {
    /// The report of a call that wrote nothing: cannot tell, no reason.
    fn unknown() -> sys::iommudirty_migratable {
        // SAFETY: an options-like struct with sz first.
        let mut m: sys::iommudirty_migratable = unsafe { sys::opts_zeroed() };
        m.state = -1;
        m
    }

    fn from_raw(m: &sys::iommudirty_migratable) -> Migratable {
        Migratable {
            state: if m.state < 0 { None } else { Some(m.state != 0) },
            reason: Reason(m.reason),
            port: DevlinkPort::from_raw(&m.port),
            hint: text(&m.hint),
            message: text(&m.message),
        }
    }
}

/// Copy `s` into a NUL-terminated C buffer: `EINVAL` if it does not fit or
/// holds a NUL (the C call could not see it whole).
fn fill(buf: &mut [c_char], s: &str) -> Result<()> {
    let b = s.as_bytes();
    if b.len() >= buf.len() || b.contains(&0) {
        return Err(Error::from_errno(errno::EINVAL));
    }
    for (d, &c) in buf.iter_mut().zip(b) {
        *d = c as c_char;
    }
    Ok(())
}

/// A C string buffer's text, up to its NUL (or its end, if it has none).
fn text(buf: &[c_char]) -> String {
    let n = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    // SAFETY: c_char and u8 have the same size and alignment.
    let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
    String::from_utf8_lossy(bytes).into_owned()
}

/// The C arguments of a target: a BDF string or a port, kept alive while
/// the call runs.
enum RawTarget {
    Vf(CString),
    Port(sys::iommudirty_devlink_port),
}

impl RawTarget {
    fn new(t: DevlinkTarget<'_>) -> Result<RawTarget> {
        Ok(match t {
            DevlinkTarget::Vf(bdf) => {
                RawTarget::Vf(CString::new(bdf).map_err(|_| Error::from_errno(errno::EINVAL))?)
            }
            DevlinkTarget::Port(p) => RawTarget::Port(p.to_raw()?),
        })
    }

    fn args(&self) -> (*const c_char, *const sys::iommudirty_devlink_port) {
        match self {
            RawTarget::Vf(s) => (s.as_ptr(), std::ptr::null()),
            RawTarget::Port(p) => (std::ptr::null(), p),
        }
    }
}

impl Context {
    /// Query devlink's port function `migratable` of a VF, by its PCI name
    /// (`ctx.devlink_migratable("0000:00:04.0")`) or an explicit port
    /// (`ctx.devlink_migratable(&DevlinkPort::pci(pf, 1))`). A context on
    /// the simulated kernel asks the sim's devlink.
    ///
    /// `Ok` whenever the answer is a fact about the system: on, off, or
    /// `state: None` with the reason (no migratable operation, not a VF,
    /// eswitch not in switchdev mode, no devlink, built without libnl,
    /// ...). Errors: `EINVAL` (a malformed PCI name or port: nothing is
    /// sent), `ENOMEM`, or a netlink socket's error.
    pub fn devlink_migratable<'a>(&self, target: impl Into<DevlinkTarget<'a>>) -> Result<Migratable> {
        let t = RawTarget::new(target.into())?;
        let (bdf, port) = t.args();
        let mut m = Migratable::unknown();
        // SAFETY: a live context; bdf and port (one of them NULL) live
        // during the call; m is valid for writes of its sz.
        check(unsafe { sys::iommudirty_devlink_migratable(self.as_ptr(), bdf, port, &mut m) })?;
        Ok(Migratable::from_raw(&m))
    }

    /// Turn a VF's `migratable` on (`enable`) or off; the target as for
    /// [`devlink_migratable`](Context::devlink_migratable). `Ok` holds a
    /// query made afterwards.
    ///
    /// A refusal is the kernel's errno, e.g. `EOPNOTSUPP` (the port's
    /// driver has no migratable operation, or the port is no VF's),
    /// `ENODEV` (no such port or instance, not a VF), `ENOENT` (no devlink
    /// family); `EOPNOTSUPP` too when the library was built without libnl;
    /// `EINVAL` for malformed input. The kernel's message and the reason
    /// code of a refusal are in the report of
    /// [`set_devlink_migratable_with_info`](Context::set_devlink_migratable_with_info).
    pub fn set_devlink_migratable<'a>(&self, target: impl Into<DevlinkTarget<'a>>, enable: bool) -> Result<Migratable> {
        let (r, m) = self.set_devlink_migratable_with_info(target, enable);
        r.map(|()| m)
    }

    /// [`set_devlink_migratable`](Context::set_devlink_migratable), and
    /// the report also when it fails: on a refusal, its
    /// [`message`](Migratable::message) is the kernel's extack text (say
    /// "Port doesn't support migratable function attribute") and its
    /// [`reason`](Migratable::reason) says why; when the call failed
    /// before asking anything (`EINVAL`), `state` is `None` and the reason
    /// `Reason::NONE`.
    pub fn set_devlink_migratable_with_info<'a>(
        &self,
        target: impl Into<DevlinkTarget<'a>>,
        enable: bool,
    ) -> (Result<()>, Migratable) {
        let mut m = Migratable::unknown();
        let r = RawTarget::new(target.into()).and_then(|t| {
            let (bdf, port) = t.args();
            // SAFETY: as for devlink_migratable.
            check(unsafe {
                sys::iommudirty_devlink_set_migratable(self.as_ptr(), bdf, port, i32::from(enable), &mut m)
            })
            .map(drop)
        });
        (r, Migratable::from_raw(&m))
    }
}
