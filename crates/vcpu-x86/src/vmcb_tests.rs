//! Tests of the VMCB layout helpers (the offsets themselves are checked at compile time).

use crate::vmcb::{
    ControlArea, INTERRUPT_SHADOW, NP_ENABLE, Segment, Vmcb, attrib, event_inj, intercept_cr,
    intercept_misc1, intercept_misc2, tlb_control, vintr,
};

/// The bytes of `vmcb`.
fn bytes(vmcb: &Vmcb) -> &[u8] {
    // SAFETY: Vmcb is repr(C) and made of integers and byte arrays only, with every
    // field at the offset the compile-time checks name, so it has no padding: all
    // 4096 bytes are initialised, and the slice borrows `vmcb`.
    unsafe { core::slice::from_raw_parts((vmcb as *const Vmcb).cast::<u8>(), 4096) }
}

#[test]
fn new_vmcb_is_one_zeroed_aligned_page() {
    let vmcb = Box::new(Vmcb::new());
    assert_eq!(core::mem::size_of::<Vmcb>(), 4096);
    assert_eq!((&*vmcb as *const Vmcb as usize) % 4096, 0);
    assert!(bytes(&vmcb).iter().all(|&b| b == 0));
    assert!(Vmcb::default() == Vmcb::new());
}

#[test]
fn fields_land_at_their_offsets() {
    let mut vmcb = Box::new(Vmcb::new());
    vmcb.control.intercept_misc2 = intercept_misc2::VMRUN;
    vmcb.control.guest_asid = 0x1234_5678;
    vmcb.control.tlb_control = tlb_control::FLUSH_ASID;
    vmcb.control.n_cr3 = 0x1122_3344_5566_7788;
    vmcb.control.insn_bytes[14] = 0xab;
    vmcb.save.cpl = 3;
    vmcb.save.rip = 0xffff_ffff_8100_0000;
    vmcb.save.tr.limit = 0x67;
    vmcb.save.g_pat = 0x0007_0406_0007_0406;
    let b = bytes(&vmcb);
    assert_eq!(b[0x010], 1);
    assert_eq!(b[0x058..0x05c], [0x78, 0x56, 0x34, 0x12]);
    assert_eq!(b[0x05c], 3);
    assert_eq!(b[0x0b0], 0x88);
    assert_eq!(b[0x0b7], 0x11);
    assert_eq!(b[0x0df], 0xab);
    assert_eq!(b[0x4cb], 3);
    assert_eq!(b[0x578..0x580], 0xffff_ffff_8100_0000u64.to_le_bytes());
    assert_eq!(b[0x494], 0x67);
    assert_eq!(b[0x668..0x670], 0x0007_0406_0007_0406u64.to_le_bytes());
    assert_eq!(
        b.iter().filter(|&&x| x != 0).count(),
        1 + 4 + 1 + 8 + 1 + 1 + 5 + 1 + 6
    );
}

#[test]
fn guest_insn_bytes_are_clamped() {
    let mut control = ControlArea::new();
    assert!(control.guest_insn_bytes().is_empty());
    control.insn_bytes[..3].copy_from_slice(&[0x8b, 0x03, 0x90]);
    control.insn_len = 2;
    assert_eq!(control.guest_insn_bytes(), [0x8b, 0x03]);
    control.insn_len = 15;
    assert_eq!(control.guest_insn_bytes().len(), 15);
    control.insn_len = 0xff;
    assert_eq!(control.guest_insn_bytes().len(), 15);
}

#[test]
fn flat_segments() {
    let code = Segment::flat_code64(0x08);
    assert_eq!(code.selector, 0x08);
    assert_eq!(code.attrib, 0xa9b);
    assert_eq!((code.limit, code.base), (0xffff_ffff, 0));
    assert_eq!(
        code.attrib & attrib::TYPE_MASK,
        0xb,
        "execute/read, accessed"
    );
    assert_ne!(code.attrib & attrib::L, 0);
    assert_eq!(code.attrib & attrib::DB, 0, "D must be clear with L");
    assert_eq!((code.attrib >> attrib::DPL_SHIFT) & 0b11, 0);
    let code32 = Segment::flat_code32(0x10);
    assert_eq!(code32.attrib, 0xc9b, "execute/read, 32-bit (D/B), no L");
    assert_eq!(code32.attrib & attrib::L, 0);
    let data = Segment::flat_data(0x10);
    assert_eq!(data.selector, 0x10);
    assert_eq!(data.attrib, 0xc93);
    assert_eq!((data.limit, data.base), (0xffff_ffff, 0));
    assert_eq!(data.attrib & attrib::L, 0);
    for segment in [code, code32, data] {
        let bits = attrib::S | attrib::P | attrib::G;
        assert_eq!(segment.attrib & bits, bits);
        assert_eq!(segment.attrib >> 12, 0);
    }
}

#[test]
fn real_mode_segments_as_a_startup_leaves_them() {
    let code = Segment::real_mode(0x9a00, true);
    assert_eq!(
        (code.selector, code.base, code.limit),
        (0x9a00, 0x9_a000, 0xffff)
    );
    assert_eq!(
        code.attrib, 0x9b,
        "present, S, execute/read accessed, 16-bit"
    );
    let data = Segment::real_mode(0, false);
    assert_eq!((data.base, data.limit, data.attrib), (0, 0xffff, 0x93));
}

#[test]
fn intercept_bits() {
    assert_eq!(intercept_misc1::CPUID, 1 << 18);
    assert_eq!(intercept_misc1::HLT, 1 << 24);
    assert_eq!(intercept_misc1::IOIO_PROT, 1 << 27);
    assert_eq!(intercept_misc1::MSR_PROT, 1 << 28);
    assert_eq!(intercept_misc1::SHUTDOWN, 1 << 31);
    assert_eq!(intercept_misc2::VMRUN, 1);
    assert_eq!(intercept_misc2::VMMCALL, 2);
    assert_eq!(intercept_cr::read(0), 1);
    assert_eq!(intercept_cr::write(8), 1 << 24);
    assert_eq!(intercept_cr::read(16), 1, "register numbers cut to 4 bits");
    assert_eq!(NP_ENABLE, 1);
    assert_eq!(INTERRUPT_SHADOW, 1);
}

#[test]
fn virtual_interrupt_fields() {
    let value = vintr::V_IRQ
        | vintr::V_IGN_TPR
        | vintr::V_INTR_MASKING
        | (0xf << vintr::V_INTR_PRIO_SHIFT)
        | (0x30 << vintr::V_INTR_VECTOR_SHIFT);
    assert_eq!(value, 0x30_011f_0100);
    assert_eq!(value & vintr::V_INTR_VECTOR_MASK, 0x30 << 32);
    assert_eq!(value & vintr::V_INTR_PRIO_MASK, 0xf_0000);
    assert_eq!(value & vintr::V_TPR_MASK, 0);
}

#[test]
fn event_injection_encoding() {
    // External interrupt 0x20: vector | V.
    assert_eq!(
        event_inj::encode(0x20, event_inj::TYPE_INTR, None),
        0x8000_0020
    );
    // NMI: type 2.
    assert_eq!(event_inj::encode(2, event_inj::TYPE_NMI, None), 0x8000_0202);
    // #GP(0x18): type 3, EV, error code in 63:32.
    assert_eq!(
        event_inj::encode(13, event_inj::TYPE_EXCEPTION, Some(0x18)),
        0x0000_0018_8000_0b0d
    );
    // INT 0x80: type 4.
    assert_eq!(
        event_inj::encode(0x80, event_inj::TYPE_SOFT_INT, None),
        0x8000_0480
    );
    // The type is cut to its 3 bits.
    assert_eq!(event_inj::encode(0, 0xff, None), 0x8000_0700);
}
