//! Tests of the CPUID filter: one test per rule, and pass-through of the rest.

use crate::cpuid::{CpuidRegs, guest_cpuid, with_guest_cr4};

const ONES: CpuidRegs = (u32::MAX, u32::MAX, u32::MAX, u32::MAX);

#[test]
fn leaf1_hides_vmx_monitor_and_offers_the_emulated_apic() {
    let (_, _, ecx, _) = guest_cpuid(1, 0, ONES, 0, 1);
    assert_eq!(ecx & (1 << 5), 0, "VMX");
    assert_eq!(ecx & (1 << 3), 0, "MONITOR");
    assert_eq!(ecx | (1 << 5) | (1 << 3), u32::MAX, "the rest kept");
    let (_, _, ecx, edx) = guest_cpuid(1, 0, (0, 0, 0, 0), 0, 1);
    assert_eq!(
        ecx,
        (1 << 31) | (1 << 24) | (1 << 21),
        "hypervisor, TSC-deadline and x2APIC bits, whatever the host has"
    );
    assert_eq!(edx, 1 << 9, "an APIC, whatever the host has");
}

#[test]
fn leaf1_apic_id_and_processor_count() {
    // Host: APIC id 0x0a, 32 logical processors, CLFLUSH size 8, brand index 0x12.
    let host = (0x00a0_0f11, 0x0a20_0812, 0, 0);
    let (eax, ebx, _, edx) = guest_cpuid(1, 0, host, 3, 4);
    assert_eq!(eax, 0x00a0_0f11);
    assert_eq!(ebx, 0x0304_0812);
    assert_eq!(edx & (1 << 28), 1 << 28, "HTT with more than one vCPU");
    let (_, ebx, _, edx) = guest_cpuid(1, 0, (0, 0x0a20_0812, 0, u32::MAX), 0, 1);
    assert_eq!(ebx, 0x0001_0812);
    assert_eq!(edx, !(1 << 28), "no HTT for a single vCPU");
    // Counts beyond 8 bits are capped, APIC ids cut to 8 bits.
    let (_, ebx, _, _) = guest_cpuid(1, 0, (0, 0, 0, 0), 0x101, 1000);
    assert_eq!(ebx, 0x01ff_0000);
}

#[test]
fn monitor_and_svm_feature_leaves_are_zero() {
    for leaf in [0x5, 0x8000_000a, 0x8000_001e] {
        assert_eq!(guest_cpuid(leaf, 0, ONES, 1, 2), (0, 0, 0, 0), "{leaf:#x}");
    }
}

#[test]
fn leaf7_hides_sgx_pt_waitpkg() {
    let (eax, ebx, ecx, edx) = guest_cpuid(7, 0, ONES, 0, 1);
    assert_eq!(eax, u32::MAX);
    assert_eq!(ebx, !((1 << 2) | (1 << 25)));
    assert_eq!(ecx, !((1 << 5) | (1 << 30)));
    assert_eq!(edx, u32::MAX);
    // Other subleaves pass through.
    assert_eq!(guest_cpuid(7, 1, ONES, 0, 1), ONES);
}

#[test]
fn extended_topology_leaves() {
    for leaf in [0xb, 0x1f] {
        // Thread level: shift 0, one thread, level type 1, x2APIC id in EDX.
        assert_eq!(guest_cpuid(leaf, 0, ONES, 2, 3), (0, 1, 0x100, 2));
        // Core level: shift 2 for 3 cores, level type 2 at subleaf 1.
        assert_eq!(guest_cpuid(leaf, 1, ONES, 2, 3), (2, 3, 0x201, 2));
        // Nothing above: level type 0, the subleaf echoed in ECX[7:0].
        assert_eq!(guest_cpuid(leaf, 2, ONES, 2, 3), (0, 0, 2, 2));
        assert_eq!(guest_cpuid(leaf, 7, ONES, 0, 3), (0, 0, 7, 0));
    }
    let shifts = [
        (1, 0),
        (2, 1),
        (3, 2),
        (4, 2),
        (5, 3),
        (8, 3),
        (9, 4),
        (255, 8),
    ];
    for (count, shift) in shifts {
        assert_eq!(guest_cpuid(0xb, 1, ONES, 0, count).0, shift, "{count}");
    }
    // No vCPU count is treated as one.
    assert_eq!(guest_cpuid(0xb, 1, ONES, 0, 0), (0, 1, 0x201, 0));
}

#[test]
fn hypervisor_leaves() {
    let (eax, ebx, ecx, edx) = guest_cpuid(0x4000_0000, 0, ONES, 0, 1);
    assert_eq!(eax, 0x4000_0000);
    let mut vendor = Vec::new();
    for reg in [ebx, ecx, edx] {
        vendor.extend_from_slice(&reg.to_le_bytes());
    }
    assert_eq!(vendor, b"TesseraHV\0\0\0");
    // Other hypervisors' leaves (KVM's at 0x4000_0100, ...) never show through.
    for leaf in [0x4000_0001, 0x4000_0100, 0x4000_0101, 0x4fff_ffff] {
        assert_eq!(guest_cpuid(leaf, 0, ONES, 0, 1), (0, 0, 0, 0), "{leaf:#x}");
    }
}

#[test]
fn extended_leaf_hides_svm_and_topoext() {
    let (eax, ebx, ecx, edx) = guest_cpuid(0x8000_0001, 0, ONES, 0, 1);
    assert_eq!((eax, ebx, edx), (u32::MAX, u32::MAX, u32::MAX));
    assert_eq!(ecx, !((1 << 2) | (1 << 22)));
}

#[test]
fn extended_leaf_8_core_count() {
    // Host: 48-bit physical, 16 cores (NC 15), APIC id size 4, PerfTscSize in 17:16.
    let host = (0x3030, 0x1234, 0x0003_400f, 0);
    assert_eq!(
        guest_cpuid(0x8000_0008, 0, host, 0, 2),
        (0x3030, 0x1234, 0x0003_1001, 0)
    );
    assert_eq!(
        guest_cpuid(0x8000_0008, 0, host, 0, 1),
        (0x3030, 0x1234, 0x0003_0000, 0)
    );
    assert_eq!(
        guest_cpuid(0x8000_0008, 0, host, 0, 5),
        (0x3030, 0x1234, 0x0003_3004, 0)
    );
}

#[test]
fn other_leaves_pass_through() {
    let host = (0x1111_1111, 0x2222_2222, 0x3333_3333, 0x4444_4444);
    for leaf in [0, 2, 4, 6, 0xd, 0x14, 0x8000_0000, 0x8000_0002, 0x8000_001d] {
        for subleaf in [0, 1] {
            assert_eq!(guest_cpuid(leaf, subleaf, host, 1, 2), host, "{leaf:#x}");
        }
    }
}

#[test]
fn guest_cr4_bits() {
    const OSXSAVE: u64 = 1 << 18;
    const PKE: u64 = 1 << 22;
    let zero = (0, 0, 0, 0);
    assert_eq!(with_guest_cr4(1, 0, zero, OSXSAVE), (0, 0, 1 << 27, 0));
    assert_eq!(with_guest_cr4(1, 0, ONES, 0), (!0, !0, !(1 << 27), !0));
    assert_eq!(with_guest_cr4(7, 0, zero, PKE), (0, 0, 1 << 4, 0));
    assert_eq!(with_guest_cr4(7, 0, ONES, OSXSAVE), (!0, !0, !(1 << 4), !0));
    // Other leaves and subleaves are left alone.
    assert_eq!(with_guest_cr4(7, 1, zero, PKE), zero);
    assert_eq!(with_guest_cr4(0xd, 0, ONES, 0), ONES);
}

#[test]
fn xsave_avx_machine_checks_and_mtrrs_are_hidden() {
    use crate::cpuid::hide_unvirtualized;
    let all = (u32::MAX, u32::MAX, u32::MAX, u32::MAX);
    let (_, _, ecx, edx) = hide_unvirtualized(1, 0, all);
    assert_eq!(ecx & ((1 << 26) | (1 << 27) | (1 << 28)), 0);
    assert_ne!(edx & (1 << 9), 0, "the APIC is offered");
    assert_eq!(edx | (1 << 7) | (1 << 12) | (1 << 14), u32::MAX);
    assert_eq!(edx & ((1 << 7) | (1 << 12) | (1 << 14)), 0);
    let (eax, ebx, ecx, _) = hide_unvirtualized(7, 0, all);
    assert_eq!(ebx & ((1 << 5) | (1 << 16)), 0);
    assert_eq!((eax, ecx), (u32::MAX, u32::MAX));
    // Subleaf 1 of leaf 7 and other leaves pass through.
    assert_eq!(hide_unvirtualized(7, 1, all), all);
    assert_eq!(hide_unvirtualized(0xd, 1, all), (0, 0, 0, 0));
    // AMD's copy of the leaf 1 bits.
    let (eax, ebx, ecx, edx) = hide_unvirtualized(0x8000_0001, 0, all);
    assert_eq!((eax, ebx, ecx), (u32::MAX, u32::MAX, u32::MAX));
    assert_eq!(edx, !((1 << 7) | (1 << 12) | (1 << 14)));
    assert_eq!(hide_unvirtualized(0x8000_0002, 0, all), all);
}
