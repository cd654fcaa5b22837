// SPDX-License-Identifier: LGPL-2.1-or-later
//! Errors: every failing call gives the errno the C library returned.

use core::ffi::c_int;
use std::fmt;
use std::io;

/// Errno values the library documents, as Linux defines them
/// (asm-generic: x86, arm, arm64, riscv, powerpc, s390).
pub mod errno {
    #![allow(missing_docs)]
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const E2BIG: i32 = 7;
    pub const EBADF: i32 = 9;
    pub const ENOMEM: i32 = 12;
    pub const EACCES: i32 = 13;
    pub const EFAULT: i32 = 14;
    pub const EBUSY: i32 = 16;
    pub const EEXIST: i32 = 17;
    pub const ENODEV: i32 = 19;
    pub const EINVAL: i32 = 22;
    pub const ENOTTY: i32 = 25;
    pub const ERANGE: i32 = 34;
    pub const EOVERFLOW: i32 = 75;
    pub const EOPNOTSUPP: i32 = 95;
    pub const EALREADY: i32 = 114;
}

/// A failed call: the (positive) errno the library returned.
///
/// The header documents, per call, which errno means what; `Display` gives
/// the symbolic name (when it is one the library documents) and the C
/// library's text for it, e.g. `EINVAL: Invalid argument (os error 22)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Error {
    errno: i32,
}

impl Error {
    /// An error with this positive errno.
    pub fn from_errno(errno: i32) -> Error {
        Error { errno }
    }

    /// The positive errno, e.g. [`errno::EINVAL`].
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// The symbolic name of the errno if the library documents it
    /// ("EINVAL", "ENOENT", ...).
    pub fn name(&self) -> Option<&'static str> {
        use errno::*;
        Some(match self.errno {
            EPERM => "EPERM",
            ENOENT => "ENOENT",
            E2BIG => "E2BIG",
            EBADF => "EBADF",
            ENOMEM => "ENOMEM",
            EACCES => "EACCES",
            EFAULT => "EFAULT",
            EBUSY => "EBUSY",
            EEXIST => "EEXIST",
            ENODEV => "ENODEV",
            EINVAL => "EINVAL",
            ENOTTY => "ENOTTY",
            ERANGE => "ERANGE",
            EOVERFLOW => "EOVERFLOW",
            EOPNOTSUPP => "EOPNOTSUPP",
            EALREADY => "EALREADY",
            _ => return None,
        })
    }

    /// The error of a NULL-returning constructor: the thread's errno.
    pub(crate) fn last_os() -> Error {
        let e = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        // The header promises errno is set; never report success.
        Error::from_errno(if e > 0 { e } else { errno::ENOMEM })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = io::Error::from_raw_os_error(self.errno);
        match self.name() {
            Some(n) => write!(f, "{n}: {text}"),
            None => write!(f, "{text}"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({}, errno {})", self.name().unwrap_or("?"), self.errno)
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::from_raw_os_error(e.errno)
    }
}

/// The library's results.
pub type Result<T> = std::result::Result<T, Error>;

/// A C int return: `>= 0` is success (the value), `< 0` is `-errno`.
pub(crate) fn check(ret: c_int) -> Result<c_int> {
    if ret < 0 {
        Err(Error::from_errno(-ret))
    } else {
        Ok(ret)
    }
}
