//! VMSAv8-64 stage-2 tables: 4 KiB granule, 40-bit IPA, walk starting at level 0.
//!
//! Bit positions are those of the Arm Architecture Reference Manual (DDI 0487),
//! "VMSAv8-64 translation table format descriptors" and the register description
//! of VTCR_EL2. Depth `n` of the generic walker is lookup level `n` here.

use tessera_addr::HostPhysAddr;

use crate::{Descriptor, MappingFlags, PageTableFormat};

/// Bit 0: the descriptor is valid.
const VALID: u64 = 1 << 0;
/// Bit 1: a table (levels 0-2) or page (level 3) descriptor, clear for a block.
const TABLE_OR_PAGE: u64 = 1 << 1;
/// Bits 5:2, MemAttr[3:0] (stage-2 memory type, with HCR_EL2.FWB = 0).
const MEMATTR_SHIFT: u32 = 2;
/// MemAttr 0b1111: Normal memory, outer and inner write-back cacheable.
const MEMATTR_NORMAL_WB: u64 = 0b1111;
/// MemAttr 0b0001: Device-nGnRE.
const MEMATTR_DEVICE_NGNRE: u64 = 0b0001;
/// Bit 6, S2AP[0]: stage-2 read access allowed.
const S2AP_READ: u64 = 1 << 6;
/// Bit 7, S2AP[1]: stage-2 write access allowed.
const S2AP_WRITE: u64 = 1 << 7;
/// Bits 9:8, SH[1:0] = 0b11: inner shareable.
const SH_INNER: u64 = 0b11 << 8;
/// Bit 10: access flag, set so that the first access does not fault.
const AF: u64 = 1 << 10;
/// Bits 54:53, XN[1:0] = 0b10: not executable at EL1 or EL0.
const XN_NEVER: u64 = 0b10 << 53;
/// Mask of the XN[1:0] field.
const XN_MASK: u64 = 0b11 << 53;
/// Output (or next-table) address bits 47:12.
const ADDRESS_MASK: u64 = 0x0000_ffff_ffff_f000;

/// VMSAv8-64 stage 2 with a 4 KiB granule and a 40-bit IPA space.
///
/// The walk starts at level 0, whose table uses only 2 of its entries (IPA bit 39);
/// levels 1 and 2 may hold 1 GiB and 2 MiB blocks, level 3 holds 4 KiB pages.
///
/// Starting at level 0 with a 4 KiB granule is only allowed when the CPU's
/// physical address size (ID_AA64MMFR0_EL1.PARange) is at least 44 bits; on
/// smaller CPUs (e.g. Cortex-A53) every stage-2 walk faults at level 0.
#[derive(Clone, Copy, Debug, Default)]
pub struct Aarch64Stage2;

impl Aarch64Stage2 {
    /// Width of the guest-physical (intermediate physical) address space.
    pub const IPA_BITS: u32 = 40;

    /// The VTCR_EL2 value that makes the MMU walk tables of this format.
    ///
    /// `pa_range` is ID_AA64MMFR0_EL1.PARange (bits 3:0 of that register; other
    /// bits are ignored). Fields set:
    /// - T0SZ, bits 5:0 = 24: a 64 - 24 = 40-bit IPA space.
    /// - SL0, bits 7:6 = 0b10: with TG0 = 4 KiB, the walk starts at level 0.
    /// - IRGN0, bits 9:8 = 0b01: table walks are inner write-back, read- and write-allocate.
    /// - ORGN0, bits 11:10 = 0b01: table walks are outer write-back, read- and write-allocate.
    /// - SH0, bits 13:12 = 0b11: table walks are inner shareable.
    /// - TG0, bits 15:14 = 0b00: 4 KiB granule.
    /// - PS, bits 18:16: physical address size, PARange clamped to 0b010 (40 bits,
    ///   the IPA size) at least and 0b101 (48 bits, what descriptors here hold) at most.
    /// - bit 31: RES1.
    ///
    /// VS (bit 19, 8-bit VMIDs), HA/HD (bits 21, 22) and the rest are left 0.
    pub const fn vtcr_el2(pa_range: u64) -> u64 {
        const T0SZ: u64 = 64 - Aarch64Stage2::IPA_BITS as u64;
        const SL0_LEVEL0: u64 = 0b10 << 6;
        const IRGN0_WBRAWA: u64 = 0b01 << 8;
        const ORGN0_WBRAWA: u64 = 0b01 << 10;
        const SH0_INNER: u64 = 0b11 << 12;
        const TG0_4K: u64 = 0b00 << 14;
        const PS_SHIFT: u32 = 16;
        const RES1: u64 = 1 << 31;
        let mut ps = pa_range & 0xf;
        if ps < 0b010 {
            ps = 0b010;
        }
        if ps > 0b101 {
            ps = 0b101;
        }
        T0SZ | SL0_LEVEL0
            | IRGN0_WBRAWA
            | ORGN0_WBRAWA
            | SH0_INNER
            | TG0_4K
            | (ps << PS_SHIFT)
            | RES1
    }
}

impl PageTableFormat for Aarch64Stage2 {
    const LEVELS: usize = 4;
    const ROOT_FRAMES: usize = 1;
    const INPUT_BITS: u32 = Self::IPA_BITS;
    const OUTPUT_BITS: u32 = 48;

    fn index_bits(depth: usize) -> u32 {
        // Level 0 resolves IPA bit 39 only; levels 1-3 resolve 9 bits each.
        if depth == 0 { 1 } else { 9 }
    }

    fn block_allowed(depth: usize) -> bool {
        depth == 1 || depth == 2
    }

    fn table_descriptor(next: HostPhysAddr, _depth: usize) -> u64 {
        // Stage-2 table descriptors carry no attributes (bits 63:59 are RES0).
        (next.raw() & ADDRESS_MASK) | TABLE_OR_PAGE | VALID
    }

    fn leaf_descriptor(hpa: HostPhysAddr, flags: MappingFlags, depth: usize) -> u64 {
        let kind = if depth == 3 {
            TABLE_OR_PAGE | VALID
        } else {
            VALID
        };
        let (memattr, shareability) = if flags.contains(MappingFlags::DEVICE) {
            // Shareability is ignored for Device memory; leave SH at 0.
            (MEMATTR_DEVICE_NGNRE, 0)
        } else {
            (MEMATTR_NORMAL_WB, SH_INNER)
        };
        let mut raw = (hpa.raw() & ADDRESS_MASK) | kind | (memattr << MEMATTR_SHIFT);
        raw |= shareability | AF;
        if flags.contains(MappingFlags::READ) {
            raw |= S2AP_READ;
        }
        if flags.contains(MappingFlags::WRITE) {
            raw |= S2AP_WRITE;
        }
        if !flags.contains(MappingFlags::EXECUTE) {
            raw |= XN_NEVER;
        }
        raw
    }

    fn decode(raw: u64, depth: usize) -> Descriptor {
        if raw & VALID == 0 {
            return Descriptor::Invalid;
        }
        let is_table_or_page = raw & TABLE_OR_PAGE != 0;
        match depth {
            0..=2 if is_table_or_page => Descriptor::Table(HostPhysAddr::new(raw & ADDRESS_MASK)),
            1 | 2 => leaf(raw, if depth == 1 { 30 } else { 21 }),
            3 if is_table_or_page => leaf(raw, 12),
            // A block at level 0 or a 0b01 descriptor at level 3 is a translation fault.
            _ => Descriptor::Invalid,
        }
    }
}

/// Decodes a block or page descriptor whose output address starts at bit `shift`.
fn leaf(raw: u64, shift: u32) -> Descriptor {
    let hpa = HostPhysAddr::new(raw & ADDRESS_MASK & !((1u64 << shift) - 1));
    let mut flags = MappingFlags::NONE;
    if raw & S2AP_READ != 0 {
        flags = flags | MappingFlags::READ;
    }
    if raw & S2AP_WRITE != 0 {
        flags = flags | MappingFlags::WRITE;
    }
    if raw & XN_MASK == 0 {
        flags = flags | MappingFlags::EXECUTE;
    }
    // MemAttr[3:2] = 0b00 selects Device memory.
    if (raw >> MEMATTR_SHIFT) & 0b1100 == 0 {
        flags = flags | MappingFlags::DEVICE;
    }
    Descriptor::Leaf { hpa, flags }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RW: MappingFlags = MappingFlags::READ.union(MappingFlags::WRITE);

    #[test]
    fn vtcr_fields() {
        // T0SZ 24 | SL0 0b10 | IRGN0 01 | ORGN0 01 | SH0 11 | TG0 00 | PS | RES1.
        assert_eq!(Aarch64Stage2::vtcr_el2(2), 0x8002_3598);
        assert_eq!(
            Aarch64Stage2::vtcr_el2(0),
            0x8002_3598,
            "clamped up to 40 bits"
        );
        assert_eq!(Aarch64Stage2::vtcr_el2(1), 0x8002_3598);
        assert_eq!(Aarch64Stage2::vtcr_el2(4), 0x8004_3598, "44 bits");
        assert_eq!(Aarch64Stage2::vtcr_el2(5), 0x8005_3598, "48 bits");
        assert_eq!(
            Aarch64Stage2::vtcr_el2(6),
            0x8005_3598,
            "52 bits clamped to 48"
        );
        assert_eq!(
            Aarch64Stage2::vtcr_el2(0x1234_5674),
            0x8004_3598,
            "upper bits ignored"
        );
        assert_eq!(Aarch64Stage2::vtcr_el2(5) & 0x3f, 24);
        assert_eq!((Aarch64Stage2::vtcr_el2(5) >> 6) & 0b11, 0b10);
    }

    #[test]
    fn block_descriptor_bits() {
        let raw = Aarch64Stage2::leaf_descriptor(HostPhysAddr::new(0x4020_0000), RW, 2);
        // XN=0b10 | AF | SH=11 | S2AP=11 | MemAttr=1111 | block.
        assert_eq!(raw, 0x0040_0000_4020_07fd);
        let raw = Aarch64Stage2::leaf_descriptor(
            HostPhysAddr::new(0x8000_0000),
            RW | MappingFlags::EXECUTE,
            1,
        );
        assert_eq!(raw, 0x0000_0000_8000_07fd);
    }

    #[test]
    fn page_descriptor_bits() {
        let ro_device = MappingFlags::READ | MappingFlags::DEVICE;
        let raw = Aarch64Stage2::leaf_descriptor(HostPhysAddr::new(0x0900_0000), ro_device, 3);
        // XN=0b10 | AF | SH=00 | S2AP=01 | MemAttr=0001 | page.
        assert_eq!(raw, 0x0040_0000_0900_0447);
        let wo = Aarch64Stage2::leaf_descriptor(HostPhysAddr::new(0x1000), MappingFlags::WRITE, 3);
        assert_eq!(wo, 0x0040_0000_0000_17bf);
        let none = Aarch64Stage2::leaf_descriptor(HostPhysAddr::new(0x2000), MappingFlags::NONE, 3);
        assert_eq!(none, 0x0040_0000_0000_273f);
    }

    #[test]
    fn table_descriptor_bits() {
        let raw = Aarch64Stage2::table_descriptor(HostPhysAddr::new(0x1234_5000), 0);
        assert_eq!(raw, 0x1234_5003);
        assert_eq!(
            Aarch64Stage2::decode(raw, 0),
            Descriptor::Table(HostPhysAddr::new(0x1234_5000))
        );
    }

    #[test]
    fn decode_round_trips_every_flag_combination() {
        for bits in 0..16 {
            let flags = MappingFlags::from_bits_truncate(bits);
            for (depth, hpa) in [(1, 0x4000_0000u64), (2, 0x20_0000), (3, 0xfff_f000)] {
                let hpa = HostPhysAddr::new(hpa);
                let raw = Aarch64Stage2::leaf_descriptor(hpa, flags, depth);
                assert_eq!(
                    Aarch64Stage2::decode(raw, depth),
                    Descriptor::Leaf { hpa, flags }
                );
            }
        }
    }

    #[test]
    fn decode_rejects_reserved_encodings() {
        assert_eq!(Aarch64Stage2::decode(0, 2), Descriptor::Invalid);
        assert_eq!(
            Aarch64Stage2::decode(0x4000_0000 | 0x7fc, 1),
            Descriptor::Invalid
        );
        // A block descriptor at level 0 and a 0b01 descriptor at level 3 fault.
        assert_eq!(Aarch64Stage2::decode(0x7fd, 0), Descriptor::Invalid);
        assert_eq!(
            Aarch64Stage2::decode(0x1000 | 0x7fd, 3),
            Descriptor::Invalid
        );
        assert_eq!(Aarch64Stage2::decode(0x7ff, 4), Descriptor::Invalid);
    }

    #[test]
    fn xnx_encodings_decode_as_not_executable() {
        let base = Aarch64Stage2::leaf_descriptor(HostPhysAddr::new(0x1000), RW, 3) & !XN_MASK;
        for xn in [0b01u64, 0b10, 0b11] {
            let raw = base | (xn << 53);
            let Descriptor::Leaf { flags, .. } = Aarch64Stage2::decode(raw, 3) else {
                panic!("not a leaf");
            };
            assert!(!flags.contains(MappingFlags::EXECUTE));
        }
    }
}
