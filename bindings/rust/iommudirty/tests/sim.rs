// SPDX-License-Identifier: LGPL-2.1-or-later
//! The safe crate on the simulated kernel: devices write through the sim
//! and the writes come back as dirty runs; errors carry the documented
//! errno; handles may be dropped in any order.

use std::sync::{Arc, Mutex};

use iommudirty::errno::*;
use iommudirty::*;

const PG: u64 = 4096;
const MIB: u64 = 1 << 20;

/// A sim with one IOMMU, a context on it, and `n` plain devices bound.
struct Host {
    sim: Sim,
    ctx: Context,
    sdev: Vec<SimDevice>,
    dev: Vec<Device>,
}

fn host(n: usize) -> Host {
    let sim = Sim::new().unwrap();
    let iommu = sim.add_iommu().unwrap();
    let ctx = Context::builder().sim(&sim).build().unwrap();
    let mut h = Host { sim, ctx, sdev: vec![], dev: vec![] };
    for _ in 0..n {
        let sd = h.sim.add_device(iommu).unwrap();
        let d = Device::bind(&h.ctx, h.sim.open_device(sd).unwrap()).unwrap();
        h.sdev.push(sd);
        h.dev.push(d);
    }
    h
}

fn runs(bm: &DirtyBitmap) -> Vec<(u64, u64)> {
    bm.runs().map(|r| (r.first, r.count)).collect()
}

#[test]
fn device_write_is_a_dirty_run() {
    let h = host(1);
    let t = Tracker::new(&h.ctx).unwrap();
    t.attach(&h.dev[0]).unwrap();
    let mem = Arc::new(GuestMemory::new(MIB as usize, PG as usize).unwrap());
    t.map(&mem, 0, MIB, MIB, Prot::ReadWrite).unwrap();
    assert!(!t.is_started());
    t.start().unwrap();
    assert!(t.is_started());

    h.sim.dma_write(h.sdev[0], MIB + 3 * PG + 10, b"abcd").unwrap();
    h.sim.dma_touch(h.sdev[0], MIB + 5 * PG, 3 * PG).unwrap();
    h.sim.dma_touch(h.sdev[0], MIB + 255 * PG, 8).unwrap();

    // The bytes really landed in the mapped memory.
    let mut buf = [0u8; 4];
    mem.read((3 * PG + 10) as usize, &mut buf).unwrap();
    assert_eq!(&buf, b"abcd");

    let bm = t.read(MIB, MIB, PG, ReadMode::NoClear).unwrap();
    assert_eq!(runs(&bm), vec![(3, 1), (5, 3), (255, 1)]);
    assert_eq!(bm.count(), 5);
    assert!(bm.is_dirty(6) && !bm.is_dirty(4) && !bm.is_dirty(256));
    assert_eq!(
        bm.ranges().collect::<Vec<_>>(),
        vec![(MIB + 3 * PG, PG), (MIB + 5 * PG, 3 * PG), (MIB + 255 * PG, PG)]
    );
    // Not cleared: the same again; then cleared.
    let mut again = DirtyBitmap::new(MIB, MIB, PG).unwrap();
    assert_eq!(t.read_into(&mut again, ReadMode::Clear).unwrap(), 5);
    assert_eq!(again, bm);
    assert_eq!(t.read(MIB, MIB, PG, ReadMode::Clear).unwrap().count(), 0);

    // A coarser page size folds the pages.
    h.sim.dma_touch(h.sdev[0], MIB + 17 * PG, 1).unwrap();
    let coarse = t.read(MIB, MIB, 64 * 1024, ReadMode::Clear).unwrap();
    assert_eq!(runs(&coarse), vec![(1, 1)]);

    t.stop().unwrap();
    assert!(!t.is_started());
}

#[test]
fn errors_carry_the_documented_errno() {
    let h = host(1);
    let t = Tracker::new(&h.ctx).unwrap();
    t.attach(&h.dev[0]).unwrap();
    let mem = Arc::new(GuestMemory::new(MIB as usize, PG as usize).unwrap());

    // Not started: EINVAL.
    t.map(&mem, 0, 64 * 1024, 0, Prot::ReadWrite).unwrap();
    let e = t.read(0, 64 * 1024, PG, ReadMode::Clear).unwrap_err();
    assert_eq!(e.errno(), EINVAL);
    let text = e.to_string();
    assert!(text.starts_with("EINVAL: ") && text.contains("nvalid argument"), "{text}");
    // Misaligned IOVA: EINVAL; overlap: EEXIST; attached twice: EALREADY.
    assert_eq!(t.map(&mem, 0, PG, 100, Prot::Write).unwrap_err().errno(), EINVAL);
    assert_eq!(t.map(&mem, 0, PG, 0, Prot::Write).unwrap_err().errno(), EEXIST);
    assert_eq!(t.attach(&h.dev[0]).unwrap_err().errno(), EALREADY);
    // An unmap that holds no mapping: ENOENT; one that ends past 2^64: EOVERFLOW.
    assert_eq!(t.unmap(10 * MIB, MIB).unwrap_err().errno(), ENOENT);
    assert_eq!(t.unmap(u64::MAX - PG + 1, 2 * PG).unwrap_err().errno(), EOVERFLOW);
    // Memory range outside the GuestMemory: ERANGE, before any C call.
    assert_eq!(t.map(&mem, MIB as usize, PG, 2 * MIB, Prot::Write).unwrap_err().errno(), ERANGE);
    // A device write where nothing is mapped faults.
    t.start().unwrap();
    assert_eq!(h.sim.dma_touch(h.sdev[0], 5 * MIB, 1).unwrap_err().errno(), EFAULT);
    // A kernel error comes back unchanged (injected: the next call fails).
    t.stop().unwrap();
    h.sim.fail_call(1, ENOMEM).unwrap();
    let e = t.start().unwrap_err();
    assert_eq!(e.errno(), ENOMEM);
    assert!(!t.is_started());
    t.start().unwrap();
    // An errno the crate has no name for still displays.
    let e = Error::from_errno(5);
    assert_eq!(e.name(), None);
    assert!(!e.to_string().is_empty());
    assert_eq!(std::io::Error::from(e).raw_os_error(), Some(5));
}

#[test]
fn context_errors() {
    let sim = Sim::with_options(&SimOptions { no_iommufd: true, ..Default::default() }).unwrap();
    let e = Context::builder().sim(&sim).build().unwrap_err();
    assert_eq!(e.errno(), ENOENT);
    let ctx = Context::builder().sim(&sim).iommufd_optional(true).build().unwrap();
    assert_eq!(ctx.iommufd().unwrap_err().errno(), ENODEV);
    // iommufd forced on a context without one.
    let r = TrackerOptions::new().backend(Backend::Iommufd).build(&ctx);
    assert_eq!(r.unwrap_err().errno(), ENODEV);
}

#[test]
fn guest_address_read() {
    let h = host(1);
    let t = Tracker::new(&h.ctx).unwrap();
    t.attach(&h.dev[0]).unwrap();
    let mem = Arc::new(GuestMemory::new(2 * MIB as usize, PG as usize).unwrap());
    // Two IOVA windows onto guest RAM at 16 MiB and 32 MiB.
    t.map(&mem, 0, MIB, 0, Prot::ReadWrite).unwrap();
    t.map(&mem, MIB as usize, MIB, 8 * MIB, Prot::ReadWrite).unwrap();
    t.set_guest(0, MIB, 16 * MIB).unwrap();
    t.set_guest(8 * MIB, MIB, 32 * MIB).unwrap();
    t.start().unwrap();
    h.sim.dma_touch(h.sdev[0], 2 * PG, 1).unwrap();
    h.sim.dma_touch(h.sdev[0], 8 * MIB + 7 * PG, 2 * PG).unwrap();

    let g = t.read_guest(32 * MIB, MIB, PG, ReadMode::NoClear).unwrap();
    assert_eq!(g.base(), 32 * MIB);
    assert_eq!(runs(&g), vec![(7, 2)]);
    let g = t.read_guest(16 * MIB, MIB, PG, ReadMode::Clear).unwrap();
    assert_eq!(runs(&g), vec![(2, 1)]);
    // The VMM's whole RAM bitmap, assembled at RAM offsets.
    let mut ram = DirtyBitmap::new(0, 64 * MIB, PG).unwrap();
    ram.or_at(32 * MIB / PG, &t.read_guest(32 * MIB, MIB, PG, ReadMode::Clear).unwrap()).unwrap();
    assert_eq!(runs(&ram), vec![(32 * MIB / PG + 7, 2)]);
    assert_eq!(ram.or_at(64 * MIB / PG - 1, &g).unwrap_err().errno(), ERANGE);
    // Cleared.
    assert_eq!(t.read_guest(16 * MIB, 32 * MIB, PG, ReadMode::Clear).unwrap().count(), 0);
}

#[test]
fn atomic_unmap_reports_and_releases_memory() {
    for atomic in [false, true] {
        let h = host(2);
        let t = Tracker::new(&h.ctx).unwrap();
        t.attach(&h.dev[0]).unwrap();
        t.attach(&h.dev[1]).unwrap();
        let mem = Arc::new(GuestMemory::new(MIB as usize, PG as usize).unwrap());
        t.map(&mem, 0, MIB / 2, 0, Prot::ReadWrite).unwrap();
        t.map(&mem, MIB as usize / 2, MIB / 2, MIB, Prot::ReadWrite).unwrap();
        assert_eq!(Arc::strong_count(&mem), 3);
        t.start().unwrap();
        h.sim.dma_touch(h.sdev[0], 4 * PG, 1).unwrap();
        h.sim.dma_touch(h.sdev[1], MIB + 9 * PG, 1).unwrap();

        let bm = t.unmap_dirty(0, MIB / 2, PG, atomic).unwrap();
        assert_eq!(runs(&bm), vec![(4, 1)], "atomic={atomic}");
        // Gone from the kernel: a device write faults, the memory is released.
        assert_eq!(h.sim.dma_touch(h.sdev[0], 4 * PG, 1).unwrap_err().errno(), EFAULT);
        assert_eq!(Arc::strong_count(&mem), 2);
        // The other mapping is untouched and still tracked.
        assert_eq!(runs(&t.read(MIB, MIB / 2, PG, ReadMode::Clear).unwrap()), vec![(9, 1)]);
        // write_protect then unmap: the two halves of the atomic unmap.
        h.sim.dma_touch(h.sdev[1], MIB + PG, 1).unwrap();
        let wp = t.write_protect(MIB, MIB / 2, PG).unwrap();
        assert_eq!(runs(&wp), vec![(1, 1)]);
        assert_eq!(h.sim.dma_touch(h.sdev[1], MIB + PG, 1).unwrap_err().errno(), EFAULT);
        assert_eq!(Arc::strong_count(&mem), 2); // still known to the tracker
        t.unmap(MIB, MIB / 2).unwrap();
        assert_eq!(Arc::strong_count(&mem), 1);
    }
}

#[test]
fn sources_per_device_and_device_log() {
    let sim = Sim::new().unwrap();
    let iommu = sim.add_iommu().unwrap();
    let ctx = Context::builder().sim(&sim).build().unwrap();
    let plain = sim.add_device(iommu).unwrap();
    let logger = sim
        .add_vfio_device(&SimDeviceOptions { iommu, dma_logging: true, migration_flags: 1, ..Default::default() })
        .unwrap();
    let d_plain = Device::bind(&ctx, sim.open_device(plain).unwrap()).unwrap();
    let d_log = Device::bind(&ctx, sim.open_device(logger).unwrap()).unwrap();
    assert_ne!(d_plain.id(), d_log.id());
    assert!(d_plain.dirty_capable().unwrap());
    let caps = d_log.caps().unwrap();
    assert_eq!(caps.dma_logging, Some(true));
    assert_eq!(caps.migration_flags, 1);
    assert_eq!(caps.vendor, Vendor::SELFTEST);
    assert_eq!(d_plain.caps().unwrap().dma_logging, Some(false));
    assert_eq!(d_plain.hw_info().unwrap().kind, iommudirty_sys::IOMMUDIRTY_HW_INFO_SELFTEST);

    let t = Tracker::new(&ctx).unwrap();
    t.attach(&d_plain).unwrap();
    t.attach(&d_log).unwrap();
    let mem = Arc::new(GuestMemory::new(MIB as usize, PG as usize).unwrap());
    t.map(&mem, 0, MIB, 0, Prot::ReadWrite).unwrap();
    t.start().unwrap();
    let s = t.sources().unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].dev_id, s[0].source, s[0].precise), (d_plain.id(), Source::Iommu, true));
    assert_eq!((s[1].dev_id, s[1].source, s[1].precise), (d_log.id(), Source::DeviceLog, true));
    assert!(s[1].log_nr_ranges >= 1 && s[1].log_page_size >= PG);
    assert_eq!(s[0].pci_index, None);
    assert_eq!(t.source_info(2).unwrap_err().errno(), ENOENT);
    assert_eq!(Source::DeviceLog.to_string(), "device-log");
    let info = t.info().unwrap();
    assert_eq!((info.backend, info.precise, info.nr_devices), (Backend::Iommufd, true, 2));

    // The logged device's write comes back through its DMA log.
    sim.dma_touch(logger, 40 * PG, 2 * PG).unwrap();
    sim.dma_touch(plain, 2 * PG, 1).unwrap();
    assert_eq!(runs(&t.read(0, MIB, PG, ReadMode::Clear).unwrap()), vec![(2, 1), (40, 2)]);

    // Detach keeps what the source owed.
    sim.dma_touch(logger, 60 * PG, 1).unwrap();
    t.detach(&d_log).unwrap();
    assert_eq!(t.detach(&d_log).unwrap_err().errno(), ENOENT);
    assert_eq!(runs(&t.read(0, MIB, PG, ReadMode::Clear).unwrap()), vec![(60, 1)]);
}

#[test]
fn precise_only_refuses_a_conservative_device() {
    let sim = Sim::new().unwrap();
    let no_dirty = sim.add_iommu_with(&SimIommuOptions { no_dirty: true, ..Default::default() }).unwrap();
    let ctx = Context::builder().sim(&sim).build().unwrap();
    let sd = sim.add_device(no_dirty).unwrap();
    let d = Device::bind(&ctx, sim.open_device(sd).unwrap()).unwrap();
    assert!(!d.dirty_capable().unwrap());
    assert!(d.caps().unwrap().reasons.contains(&Reason::MOCK_NO_DIRTY));
    let t = TrackerOptions::new().precise_only(true).build(&ctx).unwrap();
    assert_eq!(t.attach(&d).unwrap_err().errno(), EOPNOTSUPP);
    // Without PRECISE_ONLY it is an untracked writer: reported conservatively.
    let t = Tracker::new(&ctx).unwrap();
    t.attach(&d).unwrap();
    let s = t.source_info(0).unwrap();
    assert_eq!((s.source, s.precise), (Source::None, false));
    assert!(s.reasons.contains(&Reason::UNTRACKED_WRITER), "{:?}", s.reasons);
    assert!(!Reason::UNTRACKED_WRITER.to_string().is_empty());
}

#[test]
fn type1_tracker_from_pci_devices_is_conservative() {
    let sim = Sim::new().unwrap();
    let iommu = sim.add_iommu().unwrap();
    let sd = sim.add_device(iommu).unwrap();
    let bdf = sim.device_bdf(sd).unwrap();
    assert!(bdf.contains(':'), "{bdf}");
    let ctx = Context::builder().sim(&sim).build().unwrap();
    let (t, info) = TrackerOptions::new().backend(Backend::Type1).pci_devices([bdf.clone()]).build_with_info(&ctx);
    let t = t.unwrap();
    assert_eq!((info.backend, info.precise), (Backend::Type1, false));
    assert!(t.device_fd(0).unwrap() >= 0);
    assert_eq!(t.device_fd(1).unwrap_err().errno(), ENOENT);
    assert_eq!(t.ioas_id(), 0);
    let mem = Arc::new(GuestMemory::new((64 * PG) as usize, PG as usize).unwrap());
    t.map(&mem, 0, 64 * PG, 0, Prot::ReadWrite).unwrap();
    t.start().unwrap();
    // Type1 reports every mapped page dirty on every read.
    let bm = t.read(0, 128 * PG, PG, ReadMode::Clear).unwrap();
    assert_eq!(runs(&bm), vec![(0, 64)]);
    // A BDF that does not exist: no backend can take it (EOPNOTSUPP),
    // and the reasons say why.
    let (r, info) = TrackerOptions::new().pci_devices(["0000:7f:1f.7"]).build_with_info(&ctx);
    assert_eq!(r.unwrap_err().errno(), EOPNOTSUPP);
    assert!(!info.reasons.is_empty());
}

#[test]
fn handles_outlive_what_the_user_dropped() {
    let sim = Sim::new().unwrap();
    let watch = sim.clone();
    let iommu = sim.add_iommu().unwrap();
    let sd = sim.add_device(iommu).unwrap();
    let ctx = Context::builder().sim(&sim).build().unwrap();
    let dev = Device::bind(&ctx, sim.open_device(sd).unwrap()).unwrap();
    let t = Tracker::new(&ctx).unwrap();
    t.attach(&dev).unwrap();
    let mem = Arc::new(GuestMemory::new(MIB as usize, PG as usize).unwrap());
    t.map(&mem, 0, MIB, 0, Prot::ReadWrite).unwrap();
    // The user's handles go first: context, sim, device, memory.
    drop(ctx);
    drop(sim);
    drop(dev);
    drop(mem);
    // The tracker still works: it holds them.
    t.start().unwrap();
    watch.dma_touch(sd, 3 * PG, 1).unwrap();
    assert_eq!(runs(&t.read(0, MIB, PG, ReadMode::Clear).unwrap()), vec![(3, 1)]);
    let st = watch.stats().unwrap();
    assert!(st.open_fds >= 2 && st.objects >= 1, "{st:?}");
    // Dropping the tracker releases everything: no fd, no object left.
    drop(t);
    let st = watch.stats().unwrap();
    assert_eq!((st.open_fds, st.objects), (0, 0), "{st:?}");
}

#[test]
fn drop_in_creation_order_releases_everything() {
    let h = host(2);
    let watch = h.sim.clone();
    let t = Tracker::new(&h.ctx).unwrap();
    t.attach(&h.dev[0]).unwrap();
    t.attach(&h.dev[1]).unwrap();
    t.detach(&h.dev[1]).unwrap();
    let Host { sim, ctx, dev, .. } = h;
    drop(sim);
    drop(ctx);
    drop(dev);
    drop(t);
    let st = watch.stats().unwrap();
    assert_eq!((st.open_fds, st.objects), (0, 0), "{st:?}");
}

#[test]
fn concurrent_reads_of_disjoint_and_overlapping_ranges() {
    let h = host(1);
    let t = Tracker::new(&h.ctx).unwrap();
    t.attach(&h.dev[0]).unwrap();
    let mem = Arc::new(GuestMemory::new((8 * MIB) as usize, PG as usize).unwrap());
    t.map(&mem, 0, 8 * MIB, 0, Prot::ReadWrite).unwrap();
    t.start().unwrap();
    for i in 0..8u64 {
        h.sim.dma_touch(h.sdev[0], i * MIB + i * PG, 1).unwrap();
    }
    let got = Mutex::new(vec![]);
    std::thread::scope(|s| {
        for i in 0..8u64 {
            let (t, got) = (&t, &got);
            s.spawn(move || {
                let bm = t.read(i * MIB, MIB, PG, ReadMode::NoClear).unwrap();
                got.lock().unwrap().push((i, runs(&bm)));
                // Overlapping whole-range reads are serialised by the gate.
                let all = t.read(0, 8 * MIB, PG, ReadMode::NoClear).unwrap();
                assert_eq!(all.count(), 8);
            });
        }
    });
    let mut got = got.into_inner().unwrap();
    got.sort();
    for (i, r) in got {
        assert_eq!(r, vec![(i, 1)]);
    }
}

#[test]
fn runs_iterator_matches_a_plain_walk() {
    // A pseudo-random map with many more runs than one batch (32) holds,
    // and a last word only partly inside the map.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut words = vec![0u64; 64];
    for w in words.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *w = x & (x >> 3);
    }
    words[63] = u64::MAX; // bits past nbits must not show
    let nbits = 4096 - 20;
    let bm = DirtyBitmap::from_words(0x1000_0000, PG, nbits, words.clone()).unwrap();
    let bit = |i: u64| (words[(i / 64) as usize] >> (i % 64)) & 1 == 1;
    let mut want = vec![];
    let mut i = 0u64;
    while i < nbits {
        if bit(i) {
            let s = i;
            while i < nbits && bit(i) {
                i += 1;
            }
            want.push((s, i - s));
        } else {
            i += 1;
        }
    }
    assert!(want.len() > 100, "{}", want.len());
    assert_eq!(runs(&bm), want);
    assert_eq!(want.last().unwrap().0 + want.last().unwrap().1, nbits);
    assert_eq!(bm.count(), want.iter().map(|r| r.1).sum::<u64>());
    let first = bm.ranges().next().unwrap();
    assert_eq!(first, (0x1000_0000 + want[0].0 * PG, want[0].1 * PG));
    // OR at an offset into a larger map.
    let mut big = DirtyBitmap::new(0, 8192 * PG, PG).unwrap();
    big.or_at(100, &bm).unwrap();
    let shifted: Vec<_> = want.iter().map(|&(f, c)| (f + 100, c)).collect();
    assert_eq!(runs(&big), shifted);
    assert_eq!(bitmap_size(4096 * PG, PG), 512);
    assert_eq!(bitmap_size(PG, 3), 0);
    assert_eq!(DirtyBitmap::new(0, PG, 3).unwrap_err().errno(), EINVAL);
    assert_eq!(DirtyBitmap::from_words(0, PG, 65, vec![0]).unwrap_err().errno(), EINVAL);
}

#[test]
fn log_callback_receives_messages() {
    let sim = Sim::new().unwrap();
    let _iommu = sim.add_iommu().unwrap();
    let seen = Arc::new(Mutex::new(Vec::<(LogLevel, String)>::new()));
    let s2 = seen.clone();
    let ctx = Context::builder()
        .sim(&sim)
        .log(LogLevel::Debug, move |lvl, msg| s2.lock().unwrap().push((lvl, msg.to_string())))
        .build()
        .unwrap();
    // A tracker over a PCI device that does not exist fails and says why.
    let r = TrackerOptions::new().pci_devices(["0000:7f:1f.7"]).build(&ctx);
    assert!(r.is_err());
    let t = Tracker::new(&ctx).unwrap();
    t.start().unwrap();
    drop(t);
    drop(ctx);
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty(), "no log message");
    assert!(seen.iter().all(|(l, m)| *l <= LogLevel::Debug && !m.is_empty()));
}

#[test]
fn thread_safety_markers() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Context>();
    send_sync::<Device>();
    send_sync::<Tracker>();
    send_sync::<Sim>();
    send_sync::<SimFd>();
    send_sync::<GuestMemory>();
    send_sync::<Error>();
}

#[test]
fn version_and_decoder() {
    let v = version();
    assert_eq!(v.split('.').count(), 3, "{v}");
    assert!(v.starts_with(&format!("{}.", iommudirty_sys::IOMMUDIRTY_VERSION_MAJOR)));
    let c = decode_hw_info(iommudirty_sys::IOMMUDIRTY_HW_INFO_SELFTEST, &[], 0).unwrap();
    assert_eq!((c.vendor, c.dirty), (Vendor::SELFTEST, false));
    assert!(c.reasons.contains(&Reason::KERNEL_NO_CAP), "{:?}", c.reasons);
    assert_eq!(Vendor::INTEL_VTD.to_string(), "Intel VT-d");
}

// --- map_guest: the vIOMMU map path ---------------------------------------

#[test]
fn map_guest_reports_device_writes_at_the_guest_page() {
    let h = host(1);
    let t = Tracker::new(&h.ctx).unwrap();
    t.attach(&h.dev[0]).unwrap();
    t.start().unwrap();
    let mem = Arc::new(GuestMemory::new(MIB as usize, PG as usize).unwrap());
    // While tracking (a vIOMMU MAP): IOVA 8 MiB .. +256 KiB is guest RAM at
    // 40 MiB, backed by mem[64 KiB ..].
    let (iova, gaddr, off) = (8 * MIB, 40 * MIB, 64 * 1024usize);
    t.map_guest(&mem, off, 64 * PG, iova, gaddr, Prot::ReadWrite).unwrap();
    assert_eq!(Arc::strong_count(&mem), 2); // the tracker keeps it
    h.sim.dma_write(h.sdev[0], iova + 5 * PG + 7, b"vIOMMU").unwrap();
    // The bytes are in the memory backing that IOVA.
    let mut buf = [0u8; 6];
    mem.read(off + 5 * PG as usize + 7, &mut buf).unwrap();
    assert_eq!(&buf, b"vIOMMU");
    // Reported at guest page 5 of the window at gaddr, and nowhere else
    // in guest space: not at the IOVA taken as a guest address.
    let g = t.read_guest(gaddr, MIB, PG, ReadMode::NoClear).unwrap();
    assert_eq!(runs(&g), vec![(5, 1)]);
    assert_eq!(g.ranges().collect::<Vec<_>>(), vec![(gaddr + 5 * PG, PG)]);
    assert_eq!(t.read_guest(iova, MIB, PG, ReadMode::NoClear).unwrap().count(), 0);
    assert_eq!(t.read_guest(0, 64 * MIB, PG, ReadMode::NoClear).unwrap().count(), 1);
    // IOVA-space reads still see it at the IOVA.
    assert_eq!(runs(&t.read(iova, 64 * PG, PG, ReadMode::NoClear).unwrap()), vec![(5, 1)]);
    assert_eq!(runs(&t.read_guest(gaddr, MIB, PG, ReadMode::Clear).unwrap()), vec![(5, 1)]);
    assert_eq!(t.read_guest(gaddr, MIB, PG, ReadMode::Clear).unwrap().count(), 0);

    // The guest unmaps (a vIOMMU invalidation) after a write: what the
    // mapping collected is kept in guest space, and the memory released.
    h.sim.dma_touch(h.sdev[0], iova + 9 * PG, 1).unwrap();
    t.unmap(iova, 64 * PG).unwrap();
    assert_eq!(Arc::strong_count(&mem), 1);
    assert_eq!(h.sim.dma_touch(h.sdev[0], iova, 1).unwrap_err().errno(), EFAULT);
    assert_eq!(runs(&t.read_guest(gaddr, MIB, PG, ReadMode::Clear).unwrap()), vec![(9, 1)]);

    // And remaps the same IOVA onto other guest RAM (at 48 MiB + 16 pages).
    let g2 = 48 * MIB + 16 * PG;
    t.map_guest(&mem, 0, 16 * PG, iova, g2, Prot::Write).unwrap();
    h.sim.dma_touch(h.sdev[0], iova + 3 * PG, 1).unwrap();
    let g = t.read_guest(48 * MIB, MIB, PG, ReadMode::Clear).unwrap();
    assert_eq!(runs(&g), vec![(19, 1)]);
    assert_eq!(t.read_guest(gaddr, MIB, PG, ReadMode::Clear).unwrap().count(), 0);
}

#[test]
fn map_guest_bad_input_maps_nothing() {
    let h = host(1);
    let t = Tracker::new(&h.ctx).unwrap();
    t.attach(&h.dev[0]).unwrap();
    t.start().unwrap();
    let mem = Arc::new(GuestMemory::new(MIB as usize, PG as usize).unwrap());
    t.map_guest(&mem, 0, 16 * PG, 2 * MIB, 16 * MIB, Prot::ReadWrite).unwrap();
    let e = |r: Result<()>| r.unwrap_err().errno();
    // Guest address not a multiple of the IOAS alignment.
    assert_eq!(e(t.map_guest(&mem, 0, PG, 3 * MIB, 16 * MIB + 1, Prot::Write)), EINVAL);
    // Guest range past 2^64; IOVA range past 2^64.
    assert_eq!(e(t.map_guest(&mem, 0, 2 * PG, 3 * MIB, u64::MAX - PG + 1, Prot::Write)), EOVERFLOW);
    assert_eq!(e(t.map_guest(&mem, 0, 2 * PG, u64::MAX - PG + 1, 0, Prot::Write)), EOVERFLOW);
    // Overlapping IOVA; misaligned IOVA; outside the GuestMemory.
    assert_eq!(e(t.map_guest(&mem, 0, PG, 2 * MIB + PG, 20 * MIB, Prot::Write)), EEXIST);
    assert_eq!(e(t.map_guest(&mem, 0, PG, 3 * MIB + 8, 20 * MIB, Prot::Write)), EINVAL);
    assert_eq!(e(t.map_guest(&mem, MIB as usize - PG as usize, 2 * PG, 3 * MIB, 20 * MIB, Prot::Write)), ERANGE);
    // A NULL va without ADOPT.
    assert_eq!(e(unsafe { t.map_guest_raw(std::ptr::null_mut(), PG, 3 * MIB, 20 * MIB, Prot::Write) }), EINVAL);
    // The adopt form: misaligned guest address, empty, overlapping.
    assert_eq!(e(t.adopt_mapping_guest(3 * MIB, PG, 20 * MIB + 8)), EINVAL);
    assert_eq!(e(t.adopt_mapping_guest(3 * MIB, 0, 20 * MIB)), EINVAL);
    assert_eq!(e(t.adopt_mapping_guest(2 * MIB, PG, 20 * MIB)), EEXIST);
    // None of them mapped anything or kept the memory.
    assert_eq!(h.sim.dma_touch(h.sdev[0], 3 * MIB, 1).unwrap_err().errno(), EFAULT);
    assert_eq!(Arc::strong_count(&mem), 2);
    assert_eq!(t.forget_mapping(3 * MIB, PG).unwrap_err().errno(), ENOENT);
    // The good mapping is untouched.
    h.sim.dma_touch(h.sdev[0], 2 * MIB + PG, 1).unwrap();
    assert_eq!(runs(&t.read_guest(16 * MIB, MIB, PG, ReadMode::Clear).unwrap()), vec![(1, 1)]);
}

// The VMM's own raw iommufd calls (the kernel's uAPI: iommufd ioctls are
// _IO(';', nr) and the struct's first u32 is its size).
const IOMMU_IOAS_ALLOC: core::ffi::c_ulong = (b';' as core::ffi::c_ulong) << 8 | 0x81;
const IOMMU_IOAS_MAP: core::ffi::c_ulong = (b';' as core::ffi::c_ulong) << 8 | 0x85;

#[repr(C)]
#[derive(Default)]
struct IoasAlloc {
    size: u32,
    flags: u32,
    out_ioas_id: u32,
}

#[repr(C)]
#[derive(Default)]
struct IoasMap {
    size: u32,
    flags: u32,
    ioas_id: u32,
    reserved: u32,
    user_va: u64,
    length: u64,
    iova: u64,
}

#[test]
fn adopt_mapping_guest_declares_a_vmm_mapping() {
    let h = host(1);
    let fd = h.ctx.iommufd().unwrap();
    let ioctl = |req, arg: *mut core::ffi::c_void| unsafe {
        iommudirty_sys::iommudirty_sim_ioctl(h.sim.as_ptr(), fd, req, arg)
    };
    // The VMM's IOAS, adopted by the tracker.
    let mut a = IoasAlloc { size: std::mem::size_of::<IoasAlloc>() as u32, ..Default::default() };
    assert_eq!(ioctl(IOMMU_IOAS_ALLOC, &mut a as *mut IoasAlloc as *mut _), 0);
    let t = TrackerOptions::new().adopt_ioas(a.out_ioas_id).build(&h.ctx).unwrap();
    assert_eq!(t.ioas_id(), a.out_ioas_id);
    t.attach(&h.dev[0]).unwrap();
    t.start().unwrap();
    // The VMM maps its RAM itself (IOVA 4 MiB, 32 pages), then declares it
    // with its guest address, 1 GiB + 8 pages, in one step: no kernel call.
    let ram = GuestMemory::new((32 * PG) as usize, PG as usize).unwrap();
    let mut m = IoasMap {
        size: std::mem::size_of::<IoasMap>() as u32,
        flags: 1 | 2 | 4, // FIXED_IOVA | WRITEABLE | READABLE
        ioas_id: a.out_ioas_id,
        user_va: ram.as_ptr() as u64,
        length: 32 * PG,
        iova: 4 * MIB,
        ..Default::default()
    };
    assert_eq!(ioctl(IOMMU_IOAS_MAP, &mut m as *mut IoasMap as *mut _), 0);
    let before = h.sim.stats().unwrap().ioctls;
    let gaddr = (1 << 30) + 8 * PG;
    t.adopt_mapping_guest(4 * MIB, 32 * PG, gaddr).unwrap();
    assert_eq!(h.sim.stats().unwrap().ioctls, before);
    // A device write at IOVA page 2 is guest page 8 + 2 of the GiB.
    h.sim.dma_write(h.sdev[0], 4 * MIB + 2 * PG, b"x").unwrap();
    let mut b = [0u8; 1];
    ram.read(2 * PG as usize, &mut b).unwrap();
    assert_eq!(&b, b"x");
    let g = t.read_guest(1 << 30, MIB, PG, ReadMode::Clear).unwrap();
    assert_eq!(runs(&g), vec![(10, 1)]);
    assert_eq!(t.read_guest(4 * MIB, MIB, PG, ReadMode::Clear).unwrap().count(), 0);
    // Declared, so it cannot be declared twice; forgettable as adopted.
    assert_eq!(t.adopt_mapping_guest(4 * MIB, 32 * PG, gaddr).unwrap_err().errno(), EEXIST);
    t.forget_mapping(4 * MIB, 32 * PG).unwrap();
    // The IOAS and its mapping are the VMM's: they go with the iommufd,
    // and only then may the RAM go.
    drop(t);
    let Host { sim, ctx, dev, .. } = h;
    drop(dev);
    drop(ctx);
    assert_eq!(sim.stats().unwrap().open_fds, 0);
    drop(ram);
}

// --- devlink `migratable` -----------------------------------------------------

/// A sim with, as tests/unit/test_devlink.c: a PF with a PHYSICAL port 0
/// (op), VF0 on port 1 (op, off), VF1 on port 2 (no op), a plain device.
struct Devlink {
    sim: Sim,
    ctx: Context,
    pf: String,
    vf0: String,
    vf1: String,
    plain: String,
}

const PF: SimDevice = SimDevice(0);
const VF0: SimDevice = SimDevice(1);
const VF1: SimDevice = SimDevice(2);

fn devlink_sim(opts: &SimOptions) -> Devlink {
    let sim = Sim::with_options(opts).unwrap();
    let iommu = sim.add_iommu().unwrap();
    for i in 0..4 {
        assert_eq!(sim.add_device(iommu).unwrap(), SimDevice(i));
    }
    let port = |vf, index, flavour, vf_number, op| SimDevlinkPortOptions {
        pf: PF,
        vf,
        index,
        flavour,
        vf_number,
        migratable_op: op,
        ..Default::default()
    };
    sim.add_devlink_port(&port(None, 0, SimDevlinkFlavour::Physical, 0, true)).unwrap();
    sim.add_devlink_port(&port(Some(VF0), 1, SimDevlinkFlavour::PciVf, 0, true)).unwrap();
    sim.add_devlink_port(&port(Some(VF1), 2, SimDevlinkFlavour::PciVf, 1, false)).unwrap();
    let ctx = Context::builder().sim(&sim).build().unwrap();
    let bdf = |d| sim.device_bdf(d).unwrap();
    Devlink { pf: bdf(PF), vf0: bdf(VF0), vf1: bdf(VF1), plain: bdf(SimDevice(3)), sim, ctx }
}

/// A library built without libnl answers NO_LIBNL to everything: check
/// that answer and tell the caller to skip the rest.
fn no_libnl(d: &Devlink) -> bool {
    let m = d.ctx.devlink_migratable(&d.vf0).unwrap();
    if m.reason != Reason::DEVLINK_NO_LIBNL {
        return false;
    }
    assert_eq!(m.state, None);
    assert_eq!(d.ctx.set_devlink_migratable(&d.vf0, true).unwrap_err().errno(), EOPNOTSUPP);
    eprintln!("libiommudirty built without libnl: devlink answers checked, the rest skipped");
    true
}

#[test]
fn devlink_off_then_set_on_then_query_on() {
    let d = devlink_sim(&SimOptions::default());
    if no_libnl(&d) {
        return;
    }
    let port = DevlinkPort::pci(d.pf.clone(), 1);
    // Off, found by the VF's PCI name, with the command that turns it on.
    let m = d.ctx.devlink_migratable(&d.vf0).unwrap();
    assert_eq!(m.state, Some(false));
    assert_eq!(m.reason, Reason::DEVLINK_MIGRATABLE_OFF);
    assert_eq!(m.port.as_ref(), Some(&port));
    assert_eq!(m.hint, format!("devlink port function set pci/{}/1 migratable enable", d.pf));
    assert_eq!(m.message, "");
    assert_eq!(port.to_string(), format!("pci/{}/1", d.pf));
    // Set on: the report is a query made afterwards.
    let m = d.ctx.set_devlink_migratable(d.vf0.as_str(), true).unwrap();
    assert_eq!((m.state, m.reason), (Some(true), Reason::DEVLINK_MIGRATABLE_ON));
    assert_eq!(m.hint, "");
    // A fresh query says on, by name and by the explicit port.
    let m = d.ctx.devlink_migratable(&d.vf0).unwrap();
    assert_eq!((m.state, m.reason), (Some(true), Reason::DEVLINK_MIGRATABLE_ON));
    assert_eq!(d.ctx.devlink_migratable(&port).unwrap().state, Some(true));
    // The other VF's port is untouched.
    assert_eq!(d.ctx.devlink_migratable(&d.vf1).unwrap().state, None);
    // Off again, through the port.
    let (r, m) = d.ctx.set_devlink_migratable_with_info(&port, false);
    r.unwrap();
    assert_eq!((m.state, m.reason), (Some(false), Reason::DEVLINK_MIGRATABLE_OFF));
    assert_eq!(d.ctx.devlink_migratable(&d.vf0).unwrap().state, Some(false));
    // Every netlink socket closed.
    let st = d.sim.stats().unwrap();
    assert!(st.nl_requests >= 4, "{st:?}");
    assert_eq!(st.nl_socks, 0);
}

#[test]
fn devlink_refusals_carry_the_kernels_message() {
    let d = devlink_sim(&SimOptions::default());
    if no_libnl(&d) {
        return;
    }
    // VF1's port driver has no migratable operation.
    let m = d.ctx.devlink_migratable(&d.vf1).unwrap();
    assert_eq!((m.state, m.reason), (None, Reason::DEVLINK_NO_MIGRATABLE_OP));
    assert_eq!(m.port, Some(DevlinkPort::pci(d.pf.clone(), 2)));
    let e = d.ctx.set_devlink_migratable(&d.vf1, true).unwrap_err();
    assert_eq!(e.errno(), EOPNOTSUPP);
    let (r, m) = d.ctx.set_devlink_migratable_with_info(&d.vf1, true);
    assert_eq!(r.unwrap_err().errno(), EOPNOTSUPP);
    assert_eq!(m.message, "Port doesn't support migratable function attribute");
    assert_eq!((m.state, m.reason), (None, Reason::DEVLINK_NO_MIGRATABLE_OP));
    // A PHYSICAL port whose driver has the op: VFs only.
    let phys = DevlinkPort::pci(d.pf.clone(), 0);
    assert_eq!(d.ctx.devlink_migratable(&phys).unwrap().reason, Reason::DEVLINK_NOT_A_VF);
    let (r, m) = d.ctx.set_devlink_migratable_with_info(&phys, true);
    assert_eq!(r.unwrap_err().errno(), EOPNOTSUPP);
    assert_eq!(m.message, "migratable function attribute supported for VFs only");
    assert_eq!(m.port, Some(phys));
    // No such port: the kernel's ENODEV; the query says unavailable.
    let none = DevlinkPort::pci(d.pf.clone(), 99);
    assert_eq!(d.ctx.devlink_migratable(&none).unwrap().reason, Reason::DEVLINK_UNAVAILABLE);
    assert_eq!(d.ctx.set_devlink_migratable(&none, true).unwrap_err().errno(), ENODEV);
    // Not a VF: a fact, no error; setting it is ENODEV.
    let m = d.ctx.devlink_migratable(&d.plain).unwrap();
    assert_eq!((m.state, m.reason, m.port), (None, Reason::DEVLINK_NOT_A_VF, None));
    assert_eq!(d.ctx.set_devlink_migratable(&d.plain, true).unwrap_err().errno(), ENODEV);
    // VF0 was never changed by any of it.
    assert_eq!(d.ctx.devlink_migratable(&d.vf0).unwrap().state, Some(false));
    assert!(!Reason::DEVLINK_NO_MIGRATABLE_OP.to_string().is_empty());
}

#[test]
fn devlink_without_a_devlink_family() {
    let d = devlink_sim(&SimOptions { no_devlink: true, ..Default::default() });
    if no_libnl(&d) {
        return;
    }
    let m = d.ctx.devlink_migratable(&d.vf0).unwrap();
    assert_eq!((m.state, m.reason), (None, Reason::DEVLINK_UNAVAILABLE));
    let (r, m) = d.ctx.set_devlink_migratable_with_info(&d.vf0, true);
    assert_eq!(r.unwrap_err().errno(), ENOENT);
    assert_eq!(m.reason, Reason::DEVLINK_UNAVAILABLE);
}

#[test]
fn devlink_without_cap_net_admin() {
    // An unprivileged caller: the query answers, the set is refused with
    // EPERM and no message, the state is as before and stays so.
    let d = devlink_sim(&SimOptions { no_net_admin: true, ..Default::default() });
    if no_libnl(&d) {
        return;
    }
    let m = d.ctx.devlink_migratable(&d.vf0).unwrap();
    assert_eq!((m.state, m.reason), (Some(false), Reason::DEVLINK_MIGRATABLE_OFF));
    let (r, m) = d.ctx.set_devlink_migratable_with_info(&d.vf0, true);
    assert_eq!(r.unwrap_err().errno(), EPERM);
    assert_eq!((m.state, m.reason), (Some(false), Reason::DEVLINK_MIGRATABLE_OFF));
    assert!(m.message.is_empty(), "{:?}", m.message);
    assert_eq!(d.ctx.devlink_migratable(&d.vf0).unwrap().state, Some(false));
}

#[test]
fn devlink_bad_input_sends_nothing() {
    let d = devlink_sim(&SimOptions::default());
    let before = d.sim.stats().unwrap().nl_requests;
    for bdf in ["", "0000:00:02", "0000:00:02.8", "000:00:02.0", "../0000:00:02.0", "zzzz:00:02.0", "0000:00\0:02.0"] {
        assert_eq!(d.ctx.devlink_migratable(bdf).unwrap_err().errno(), EINVAL, "{bdf:?}");
        let (r, m) = d.ctx.set_devlink_migratable_with_info(bdf, true);
        assert_eq!(r.unwrap_err().errno(), EINVAL, "{bdf:?}");
        // Nothing asked: nothing known.
        assert_eq!((m.state, m.reason, m.port), (None, Reason::NONE, None));
    }
    let bad_ports = [
        DevlinkPort { bus: String::new(), ..DevlinkPort::pci(d.pf.clone(), 1) },
        DevlinkPort::pci("", 1),
        DevlinkPort::pci("a/b", 1),
        DevlinkPort::pci("a".repeat(64), 1),        // no room for the NUL
        DevlinkPort::pci(format!("{}\0", d.pf), 1), // a NUL inside
        DevlinkPort { bus: "p".repeat(16), ..DevlinkPort::pci(d.pf.clone(), 1) },
    ];
    for p in &bad_ports {
        assert_eq!(d.ctx.devlink_migratable(p).unwrap_err().errno(), EINVAL, "{p:?}");
        assert_eq!(d.ctx.set_devlink_migratable(p, false).unwrap_err().errno(), EINVAL, "{p:?}");
    }
    assert_eq!(d.sim.stats().unwrap().nl_requests, before);

    // The sim refuses bad ports too.
    let o = SimDevlinkPortOptions { pf: PF, index: 0, flavour: SimDevlinkFlavour::PciPf, ..Default::default() };
    let e = |o: &SimDevlinkPortOptions| d.sim.add_devlink_port(o).unwrap_err().errno();
    assert_eq!(e(&o), EINVAL); // index 0 already used on the PF
    assert_eq!(e(&SimDevlinkPortOptions { index: 9, migratable: true, ..o.clone() }), EINVAL); // state without op
    assert_eq!(e(&SimDevlinkPortOptions { index: 9, flavour: SimDevlinkFlavour::Other(7), ..o.clone() }), EINVAL);
    assert_eq!(e(&SimDevlinkPortOptions { index: 9, vf: Some(VF0), ..o.clone() }), EINVAL); // already a VF
    assert_eq!(e(&SimDevlinkPortOptions { index: 9, vf: Some(PF), ..o.clone() }), EINVAL); // pf == vf
    assert_eq!(e(&SimDevlinkPortOptions { index: 9, pf: SimDevice(4), ..o.clone() }), EINVAL); // no such device
    assert_eq!(e(&SimDevlinkPortOptions { index: 9, vf: Some(SimDevice(-2)), ..o.clone() }), EINVAL);
    // A good one still goes in after all that.
    d.sim.add_devlink_port(&SimDevlinkPortOptions { index: 9, ..o }).unwrap();
}

/// `Device::caps` of sim device `sd`, bound now: its devlink fields.
fn devlink_caps(d: &Devlink, sd: SimDevice) -> (Option<bool>, Reason) {
    let dev = Device::bind(&d.ctx, d.sim.open_device(sd).unwrap()).unwrap();
    let c = dev.caps().unwrap();
    (c.devlink_migratable, c.devlink_reason)
}

#[test]
fn device_caps_report_devlink_migratable() {
    let d = devlink_sim(&SimOptions::default());
    // A device that is no VF: cannot tell, NOT_A_VF (with or without libnl).
    assert_eq!(devlink_caps(&d, SimDevice(3)), (None, Reason::DEVLINK_NOT_A_VF));
    // The PF itself has a devlink instance but is no VF either.
    assert_eq!(devlink_caps(&d, PF), (None, Reason::DEVLINK_NOT_A_VF));
    // The decoder alone cannot tell, and gives no reason.
    let c = decode_hw_info(iommudirty_sys::IOMMUDIRTY_HW_INFO_SELFTEST, &[], 0).unwrap();
    assert_eq!((c.devlink_migratable, c.devlink_reason), (None, Reason::NONE));
    if no_libnl(&d) {
        assert_eq!(devlink_caps(&d, VF0), (None, Reason::DEVLINK_NO_LIBNL));
        return;
    }
    // VF0's port is off; VF1's port driver has no migratable operation.
    assert_eq!(devlink_caps(&d, VF0), (Some(false), Reason::DEVLINK_MIGRATABLE_OFF));
    assert_eq!(devlink_caps(&d, VF1), (None, Reason::DEVLINK_NO_MIGRATABLE_OP));
    // Turned on: a device bound afterwards says on.
    d.ctx.set_devlink_migratable(&d.vf0, true).unwrap();
    assert_eq!(devlink_caps(&d, VF0), (Some(true), Reason::DEVLINK_MIGRATABLE_ON));
    // The rest of the report is unchanged by devlink.
    let dev = Device::bind(&d.ctx, d.sim.open_device(VF0).unwrap()).unwrap();
    let c = dev.caps().unwrap();
    assert_eq!(c.vendor, Vendor::SELFTEST);
    assert!(c.dirty);
    drop(dev);
    // Every reason has the library's text, not "unknown reason".
    for r in [
        Reason::DEVLINK_MIGRATABLE_OFF,
        Reason::DEVLINK_NOT_SWITCHDEV,
        Reason::DEVLINK_NO_MIGRATABLE_OP,
        Reason::DEVLINK_UNAVAILABLE,
        Reason::DEVLINK_NO_LIBNL,
        Reason::DEVLINK_NOT_A_VF,
        Reason::DEVLINK_NO_PORT,
        Reason::DEVLINK_MIGRATABLE_ON,
        Reason::NO_DEVICE_FD,
    ] {
        assert_ne!(r.as_str(), Reason(9999).as_str(), "{r:?}");
        assert!(!r.as_str().is_empty(), "{r:?}");
    }
    assert_eq!(d.sim.stats().unwrap().nl_socks, 0);
}

#[test]
fn device_caps_devlink_reasons_of_unusual_vfs() {
    // No devlink family at all: the VF cannot be asked.
    let d = devlink_sim(&SimOptions { no_devlink: true, ..Default::default() });
    if no_libnl(&d) {
        return;
    }
    assert_eq!(devlink_caps(&d, VF0), (None, Reason::DEVLINK_UNAVAILABLE));
    assert_eq!(devlink_caps(&d, SimDevice(3)), (None, Reason::DEVLINK_NOT_A_VF));

    // As tests/unit/test_devlink.c: a VF whose PF shows no port for it,
    // the PF's eswitch in legacy mode (so no VF ports); and one whose PF
    // is in switchdev mode.
    let d = devlink_sim(&SimOptions::default());
    let iommu = d.sim.add_iommu().unwrap();
    let (pf2, vf_legacy, pf3, vf_noport) = (
        d.sim.add_device(iommu).unwrap(),
        d.sim.add_device(iommu).unwrap(),
        d.sim.add_device(iommu).unwrap(),
        d.sim.add_device(iommu).unwrap(),
    );
    d.sim
        .add_devlink_port(&SimDevlinkPortOptions {
            pf: pf2,
            vf: Some(vf_legacy),
            index: 1,
            flavour: SimDevlinkFlavour::PciVf,
            no_port: true,
            legacy: true,
            ..Default::default()
        })
        .unwrap();
    d.sim
        .add_devlink_port(&SimDevlinkPortOptions {
            pf: pf3,
            vf: Some(vf_noport),
            index: 1,
            flavour: SimDevlinkFlavour::PciVf,
            no_port: true,
            ..Default::default()
        })
        .unwrap();
    for (sd, want) in [
        (vf_legacy, (None, Reason::DEVLINK_NOT_SWITCHDEV)),
        (vf_noport, (None, Reason::DEVLINK_NO_PORT)),
    ] {
        assert_eq!(devlink_caps(&d, sd), want, "{sd:?}");
        // The same as asking devlink directly.
        let m = d.ctx.devlink_migratable(&d.sim.device_bdf(sd).unwrap()).unwrap();
        assert_eq!((m.state, m.reason), want, "{sd:?}");
    }
    assert_eq!(d.sim.stats().unwrap().nl_socks, 0);
}
