// SPDX-License-Identifier: LGPL-2.1-or-later
//! The bindings link against the installed library and agree with it.
use core::ffi::CStr;
use iommudirty_sys as sys;

#[test]
fn runtime_version_matches_header_version() {
    // SAFETY: returns a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(sys::iommudirty_version()) };
    let want = format!(
        "{}.{}.{}",
        sys::IOMMUDIRTY_VERSION_MAJOR,
        sys::IOMMUDIRTY_VERSION_MINOR,
        sys::IOMMUDIRTY_VERSION_PATCH
    );
    assert_eq!(v.to_str().unwrap(), want);
}

#[test]
fn negative_errno_convention() {
    let mut pos = 0u64;
    // SAFETY: pos is valid; the NULL bitmap with nbits > 0 must be refused.
    let r = unsafe {
        sys::iommudirty_bitmap_runs(core::ptr::null(), 64, &mut pos, core::ptr::null_mut(), 0)
    };
    assert_eq!(r, -22); // -EINVAL
    // SAFETY: NULL ctx is documented to give -EINVAL.
    assert_eq!(unsafe { sys::iommudirty_ctx_fd(core::ptr::null()) }, -22);
}

#[test]
fn bitmap_runs_over_a_real_map() {
    let map: [u64; 2] = [0b1110_0001, 1 << 63];
    let mut pos = 0u64;
    let mut runs = [sys::iommudirty_run { first: 0, count: 0 }; 8];
    // SAFETY: map holds 128 bits, runs holds 8 entries.
    let n = unsafe { sys::iommudirty_bitmap_runs(map.as_ptr(), 128, &mut pos, runs.as_mut_ptr(), 8) };
    assert_eq!(n, 3);
    assert_eq!((runs[0].first, runs[0].count), (0, 1));
    assert_eq!((runs[1].first, runs[1].count), (5, 3));
    assert_eq!((runs[2].first, runs[2].count), (127, 1));
    assert_eq!(pos, 128);
}

#[test]
fn caps_struct_size_is_accepted() {
    // The library checks sz against the fields it knows: a struct laid out
    // shorter than the C one is refused (EINVAL).
    // SAFETY: caps is an options-like struct with sz first.
    let mut caps: sys::iommudirty_caps = unsafe { sys::opts_zeroed() };
    assert_eq!(caps.sz, core::mem::size_of::<sys::iommudirty_caps>());
    // SAFETY: pure decoder; no data.
    let r = unsafe {
        sys::iommudirty_decode_hw_info(sys::IOMMUDIRTY_HW_INFO_SELFTEST, core::ptr::null(), 0, 1, &mut caps)
    };
    assert_eq!(r, 0);
    assert_eq!(caps.vendor, sys::IOMMUDIRTY_VENDOR_SELFTEST);
    assert_eq!(caps.dirty, 1);
    caps.sz = 8;
    // SAFETY: as above; sz too small must be refused.
    let r = unsafe {
        sys::iommudirty_decode_hw_info(sys::IOMMUDIRTY_HW_INFO_SELFTEST, core::ptr::null(), 0, 1, &mut caps)
    };
    assert_eq!(r, -22);
}

#[test]
fn sim_opts_size_is_accepted() {
    // SAFETY: iommudirty_sim_opts is an options struct.
    let o: sys::iommudirty_sim_opts = unsafe { sys::opts_zeroed() };
    assert_eq!(o.sz, core::mem::size_of::<sys::iommudirty_sim_opts>());
    // SAFETY: o is valid for the call; the result is freed below.
    let sim = unsafe { sys::iommudirty_sim_new(&o) };
    assert!(!sim.is_null());
    // SAFETY: sim came from iommudirty_sim_new and is unused elsewhere.
    unsafe { sys::iommudirty_sim_free(sim) };
}
