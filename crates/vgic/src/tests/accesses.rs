//! Bad guest accesses: out of the frames, misaligned, wrong widths; and a sweep of
//! every offset that must never panic.

use super::*;
use crate::AccessWidth::{Byte, Double, Half};

#[test]
fn outside_the_frames() {
    let mut gic = vgic(2, 32);
    for (offset, width) in [
        (DISTRIBUTOR_SIZE, Word),
        (DISTRIBUTOR_SIZE + 0x1000, Byte),
        (0xfffc, Double),
        (u64::MAX, Byte),
        (u64::MAX - 3, Word),
    ] {
        let err = DeviceError::NoRegister { offset };
        assert_eq!(gic.read_distributor(offset, width), Err(err));
        assert_eq!(gic.write_distributor(offset, width, 0), Err(err));
    }
    // Two vCPUs: the region ends after two strides.
    for offset in [
        2 * REDISTRIBUTOR_STRIDE,
        2 * REDISTRIBUTOR_STRIDE + 8,
        u64::MAX - 7,
    ] {
        let err = DeviceError::NoRegister { offset };
        assert_eq!(gic.read_redistributor(offset, Word), Err(err));
        assert_eq!(gic.write_redistributor(offset, Double, 0), Err(err));
    }
    assert!(
        gic.read_redistributor(2 * REDISTRIBUTOR_STRIDE - 4, Word)
            .is_ok()
    );
}

#[test]
fn misaligned() {
    let mut gic = vgic(2, 32);
    for (offset, width) in [(0x2, Word), (0x401, Word), (0x6104, Double), (0x6102, Word)] {
        let err = DeviceError::Unaligned { offset, width };
        assert_eq!(gic.read_distributor(offset, width), Err(err));
        assert_eq!(gic.write_distributor(offset, width, 0), Err(err));
    }
    let offset = rd(1, GICR_TYPER + 4);
    assert_eq!(
        gic.read_redistributor(offset, Double),
        Err(DeviceError::Unaligned {
            offset,
            width: Double
        })
    );
    let offset = sgi(0, IPRIORITYR + 2);
    assert_eq!(
        gic.write_redistributor(offset, Word, 0),
        Err(DeviceError::Unaligned {
            offset,
            width: Word
        })
    );
}

#[test]
fn widths_the_registers_do_not_take() {
    let mut gic = vgic(2, 64);
    let gicd_refused = [
        (GICD_CTLR, Byte),
        (GICD_CTLR, Half),
        (GICD_CTLR, Double),
        (GICD_TYPER, Byte),
        (ISENABLER + 4, Byte),
        (ISENABLER + 8, Double),
        (IPRIORITYR + 32, Half),
        (IPRIORITYR + 32, Double),
        (ICFGR + 8, Byte),
        (IROUTER + 8 * 32, Byte),
        (IROUTER + 8 * 32, Half),
        (0x0010, Double),
        (PIDR2, Byte),
    ];
    for (offset, width) in gicd_refused {
        let err = DeviceError::BadWidth { offset, width };
        assert_eq!(gic.read_distributor(offset, width), Err(err), "{offset:#x}");
        assert_eq!(gic.write_distributor(offset, width, 0), Err(err));
    }
    for (offset, width) in [
        (IPRIORITYR + 33, Byte),
        (ITARGETSR + 1, Byte),
        (IROUTER + 8 * 32, Double),
        (IROUTER + 8 * 32 + 4, Word),
    ] {
        assert!(gic.read_distributor(offset, width).is_ok(), "{offset:#x}");
        assert!(gic.write_distributor(offset, width, 0).is_ok());
    }
    let gicr_refused = [
        (rd(1, GICR_CTLR), Byte),
        (rd(1, GICR_WAKER), Half),
        (rd(1, GICR_CTLR), Double),
        (rd(1, 0x10), Double),
        (rd(1, GICR_TYPER), Byte),
        (sgi(1, ISENABLER), Double),
        (sgi(1, ICFGR), Byte),
        (sgi(1, IPRIORITYR + 4), Half),
    ];
    for (offset, width) in gicr_refused {
        let err = DeviceError::BadWidth { offset, width };
        assert_eq!(
            gic.read_redistributor(offset, width),
            Err(err),
            "{offset:#x}"
        );
        assert_eq!(gic.write_redistributor(offset, width, 0), Err(err));
    }
    for (offset, width) in [
        (rd(1, GICR_TYPER), Double),
        (rd(1, GICR_TYPER + 4), Word),
        (rd(1, 0x70), Double),
        (sgi(1, IPRIORITYR + 31), Byte),
    ] {
        assert!(gic.read_redistributor(offset, width).is_ok(), "{offset:#x}");
        assert!(gic.write_redistributor(offset, width, 0).is_ok());
    }
}

#[test]
fn bits_beyond_the_width_are_ignored() {
    let mut gic = vgic(1, 64);
    gic.write_distributor(ISENABLER + 4, Word, 0xffff_ffff_0000_0001)
        .unwrap();
    assert_eq!(gic.read_distributor(ISENABLER + 4, Word).unwrap(), 1);
    assert_eq!(gic.read_distributor(ISENABLER + 8, Word).unwrap(), 0);
    gic.write_distributor(IROUTER + 8 * 40, Word, 0xffff_ffff_0000_0001)
        .unwrap();
    assert_eq!(gic.read_distributor(IROUTER + 8 * 40, Double).unwrap(), 1);
}

const WIDTHS: [AccessWidth; 4] = [Byte, Half, Word, Double];
const VALUES: [u64; 5] = [
    0,
    u64::MAX,
    0xaaaa_aaaa_aaaa_aaaa,
    0x5555_5555_5555_5555,
    0x0000_0001_8000_0001,
];

/// Writes and reads every offset of `size` bytes from `base` with every width,
/// at aligned and misaligned offsets.
fn sweep(
    gic: &mut Vgic,
    size: u64,
    write: fn(&mut Vgic, u64, AccessWidth, u64) -> Result<(), DeviceError>,
    read: fn(&mut Vgic, u64, AccessWidth) -> Result<u64, DeviceError>,
) {
    for value in VALUES {
        for offset in (0..size + 8).step_by(4) {
            for delta in [0, 1, 2] {
                for width in WIDTHS {
                    let offset = offset + delta;
                    let wrote = write(gic, offset, width, value);
                    let read_back = read(gic, offset, width);
                    // A location takes writes exactly when it takes reads.
                    assert_eq!(wrote.is_ok(), read_back.is_ok(), "{offset:#x} {width}");
                    if let Ok(v) = read_back {
                        assert_eq!(v & !width.mask(), 0, "{offset:#x} {width}");
                    }
                }
            }
        }
    }
}

#[test]
fn every_offset_never_panics() {
    for (vcpus, spis) in [(1, 0), (2, 64), (3, MAX_SPIS)] {
        let mut gic = vgic(vcpus, spis);
        sweep(
            &mut gic,
            DISTRIBUTOR_SIZE,
            Vgic::write_distributor,
            Vgic::read_distributor,
        );
        sweep(
            &mut gic,
            vcpus as u64 * REDISTRIBUTOR_STRIDE,
            Vgic::write_redistributor,
            Vgic::read_redistributor,
        );
        // Whatever the guest did, the model still answers sanely.
        let _ = gic.take_kicks();
        for vcpu in 0..vcpus + 1 {
            let mut taken = 0;
            while gic.take_pending(vcpu, &[]).is_some() {
                taken += 1;
                assert!(taken <= 1024, "take_pending must run dry");
            }
            assert!(!gic.has_pending(vcpu));
            let _ = gic.send_sgi(vcpu, u64::MAX);
            let _ = gic.send_sgi(vcpu, 0);
            let _ = gic.raise(vcpu, 27);
            let _ = gic.is_enabled(vcpu, 27);
        }
        gic.reset();
        assert_eq!(gicd_read(&mut gic, GICD_CTLR), 0x50);
    }
}
