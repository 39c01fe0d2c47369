//! ACPI tables read back as a guest reads them: from the RSDP, through the XSDT and
//! the FADT, at the addresses the tables give. Offsets are written out as numbers
//! from the specification's tables, not taken from the module's constants.

use super::*;
use crate::bytes::{u8_at, u16_at, u32_at, u64_at};

/// A PC-like VM: two CPUs, an I/O APIC, the PIT's IRQ 0 on GSI 2, the reset
/// register at 0xCF9, tables in the BIOS area.
fn config() -> AcpiConfig {
    AcpiConfig {
        base: 0xe_0000,
        cpus: 2,
        io_apic: Some(IoApicEntry {
            id: 2,
            address: 0xfec0_0000,
            gsi_base: 0,
        }),
        isa_overrides: vec![IsaOverride {
            irq: 0,
            gsi: 2,
            flags: IsaOverride::CONFORMING,
        }],
        pm: PmPorts {
            pm1a_event: 0x600,
            pm1a_control: 0x604,
            pm_timer: 0x608,
        },
        pm_timer_32bit: false,
        sci_irq: 9,
        reset: Some(ResetRegister {
            port: 0xcf9,
            value: 6,
        }),
        power_button: true,
        legacy_devices: true,
        i8042: true,
        rtc_century: 0x32,
        s5_sleep_type: 5,
        oem_id: *b"TSRAOE",
        oem_table_id: *b"TESSERA1",
    }
}

fn u16(data: &[u8], offset: usize) -> u16 {
    u16_at(data, offset).unwrap()
}

fn u32(data: &[u8], offset: usize) -> u32 {
    u32_at(data, offset).unwrap()
}

fn u64(data: &[u8], offset: usize) -> u64 {
    u64_at(data, offset).unwrap()
}

/// The bytes sum modulo 256.
fn sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |sum, &byte| sum.wrapping_add(byte))
}

/// Guest memory holding the blob at `base`, read by physical address.
struct Guest {
    blob: Vec<u8>,
    base: u64,
}

impl Guest {
    fn new(config: &AcpiConfig) -> Self {
        Self {
            blob: build_acpi_tables(config).unwrap(),
            base: config.base,
        }
    }

    /// `len` bytes at guest-physical `addr`, which must be in the blob.
    fn bytes(&self, addr: u64, len: usize) -> &[u8] {
        let offset = usize::try_from(addr - self.base).unwrap();
        &self.blob[offset..offset + len]
    }

    /// The table with a standard header at `addr`, as long as its header says.
    fn table(&self, addr: u64) -> &[u8] {
        let len = u32(self.bytes(addr, 8), 4);
        self.bytes(addr, len as usize)
    }

    fn rsdp(&self) -> &[u8] {
        self.bytes(self.base, 36)
    }

    fn xsdt(&self) -> &[u8] {
        self.table(u64(self.rsdp(), 24))
    }

    fn rsdt(&self) -> &[u8] {
        self.table(u64::from(u32(self.rsdp(), 16)))
    }

    /// The addresses the XSDT lists.
    fn xsdt_entries(&self) -> Vec<u64> {
        let xsdt = self.xsdt();
        (36..xsdt.len())
            .step_by(8)
            .map(|at| u64(xsdt, at))
            .collect()
    }

    /// The address of the table with `signature` in the XSDT.
    fn find(&self, signature: &[u8; 4]) -> u64 {
        let found: Vec<u64> = self
            .xsdt_entries()
            .into_iter()
            .filter(|&addr| self.bytes(addr, 4) == signature)
            .collect();
        assert_eq!(found.len(), 1, "{:?}", core::str::from_utf8(signature));
        found[0]
    }

    fn fadt(&self) -> &[u8] {
        self.table(self.find(b"FACP"))
    }

    fn madt(&self) -> &[u8] {
        self.table(self.find(b"APIC"))
    }

    fn dsdt(&self) -> &[u8] {
        self.table(u64(self.fadt(), 140))
    }

    fn facs(&self) -> &[u8] {
        self.bytes(u64(self.fadt(), 132), 64)
    }
}

/// The MADT's interrupt controller structures, each whole.
fn madt_structures(madt: &[u8]) -> Vec<&[u8]> {
    let mut structures = Vec::new();
    let mut at = 44;
    while at < madt.len() {
        let len = usize::from(madt[at + 1]);
        assert!(len >= 2, "structure at {at} of length {len}");
        structures.push(&madt[at..at + len]);
        at += len;
    }
    assert_eq!(at, madt.len(), "structures overrun the table");
    structures
}

#[test]
fn every_table_found_from_the_rsdp_sums_to_zero() {
    let guest = Guest::new(&config());
    let rsdp = guest.rsdp();
    assert_eq!(sum(&rsdp[..20]), 0);
    assert_eq!(sum(rsdp), 0);
    let mut signatures = Vec::new();
    let tables = [
        u64(rsdp, 24),
        u64::from(u32(rsdp, 16)),
        guest.find(b"FACP"),
        guest.find(b"APIC"),
        u64(guest.fadt(), 140),
    ];
    for addr in tables {
        let table = guest.table(addr);
        assert!(table.len() >= 36);
        assert_eq!(sum(table), 0, "{:?}", &table[..4]);
        signatures.push(table[..4].to_vec());
    }
    assert_eq!(
        signatures,
        [b"XSDT", b"RSDT", b"FACP", b"APIC", b"DSDT"].map(|s| s.to_vec())
    );
    // The FACS has no checksum, only its signature and length.
    assert_eq!(&guest.facs()[..4], b"FACS");
    assert_eq!(u32(guest.facs(), 4), 64);
}

#[test]
fn rsdp_fields() {
    let guest = Guest::new(&config());
    let rsdp = guest.rsdp();
    assert_eq!(&rsdp[..8], b"RSD PTR ");
    assert_eq!(&rsdp[9..15], b"TSRAOE");
    assert_eq!(rsdp[15], 2, "revision");
    assert_eq!(u32(rsdp, 20), 36, "length");
    assert_eq!(u32(rsdp, 16), 0xe_0070, "RSDT");
    assert_eq!(u64(rsdp, 24), 0xe_0030, "XSDT");
    assert_eq!(&rsdp[33..36], &[0, 0, 0]);
    // Either checksum wrong is caught: the first covers only 20 bytes.
    let expected_first = 0u8.wrapping_sub(sum(&rsdp[..8]).wrapping_add(sum(&rsdp[9..20])));
    assert_eq!(rsdp[8], expected_first);
    let expected_extended = 0u8.wrapping_sub(sum(&rsdp[..32]).wrapping_add(sum(&rsdp[33..])));
    assert_eq!(rsdp[32], expected_extended);
}

#[test]
fn xsdt_and_rsdt_list_the_fadt_and_the_madt() {
    let guest = Guest::new(&config());
    let (xsdt, rsdt) = (guest.xsdt(), guest.rsdt());
    assert_eq!((xsdt.len(), rsdt.len()), (36 + 16, 36 + 8));
    assert_eq!((xsdt[8], rsdt[8]), (1, 1), "revisions");
    let from_rsdt: Vec<u64> = (36..rsdt.len())
        .step_by(4)
        .map(|at| u64::from(u32(rsdt, at)))
        .collect();
    assert_eq!(guest.xsdt_entries(), from_rsdt);
    assert_eq!(from_rsdt, [0xe_00a0, 0xe_0240]);
    assert_eq!(guest.bytes(from_rsdt[0], 4), b"FACP");
    assert_eq!(guest.bytes(from_rsdt[1], 4), b"APIC");
}

#[test]
fn fadt_fields_at_their_offsets() {
    let guest = Guest::new(&config());
    let fadt = guest.fadt();
    assert_eq!(fadt.len(), 276);
    assert_eq!(fadt[8], 6, "major version");
    assert_eq!(fadt[131], 5, "minor version");
    assert_eq!(fadt[45], 0, "Preferred_PM_Profile");
    assert_eq!(u16(fadt, 46), 9, "SCI_INT");
    assert_eq!(u32(fadt, 48), 0, "SMI_CMD");
    assert_eq!(&fadt[52..56], &[0, 0, 0, 0], "ACPI_ENABLE..PSTATE_CNT");
    assert_eq!(u32(fadt, 56), 0x600, "PM1a_EVT_BLK");
    assert_eq!(u32(fadt, 60), 0, "PM1b_EVT_BLK");
    assert_eq!(u32(fadt, 64), 0x604, "PM1a_CNT_BLK");
    assert_eq!(u32(fadt, 68), 0, "PM1b_CNT_BLK");
    assert_eq!(u32(fadt, 72), 0, "PM2_CNT_BLK");
    assert_eq!(u32(fadt, 76), 0x608, "PM_TMR_BLK");
    assert_eq!(u64(fadt, 80), 0, "GPE0_BLK, GPE1_BLK");
    assert_eq!(&fadt[88..96], &[4, 2, 0, 4, 0, 0, 0, 0], "lengths");
    assert_eq!((u16(fadt, 96), u16(fadt, 98)), (101, 1001), "C2, C3");
    assert_eq!(fadt[108], 0x32, "CENTURY");
    assert_eq!(u16(fadt, 109), 0b11, "IAPC_BOOT_ARCH");
    // WBINVD, PROC_C1, SLP_BUTTON, RESET_REG_SUP.
    assert_eq!(u32(fadt, 112), 1 << 0 | 1 << 2 | 1 << 5 | 1 << 10, "flags");
    assert_eq!(
        &fadt[116..128],
        &[1, 8, 0, 1, 0xf9, 0x0c, 0, 0, 0, 0, 0, 0],
        "RESET_REG"
    );
    assert_eq!(fadt[128], 6, "RESET_VALUE");
    assert_eq!(u16(fadt, 129), 0, "ARM_BOOT_ARCH");
    // X_PM1a_EVT_BLK, X_PM1a_CNT_BLK, X_PM_TMR_BLK: I/O, widths 32, 16, 32.
    assert_eq!(
        &fadt[148..160],
        &[1, 32, 0, 2, 0x00, 0x06, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        &fadt[172..184],
        &[1, 16, 0, 2, 0x04, 0x06, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        &fadt[208..220],
        &[1, 32, 0, 3, 0x08, 0x06, 0, 0, 0, 0, 0, 0]
    );
    for (at, name) in [
        (160, "X_PM1b_EVT_BLK"),
        (184, "X_PM1b_CNT_BLK"),
        (196, "X_PM2_CNT_BLK"),
        (220, "X_GPE0_BLK"),
        (232, "X_GPE1_BLK"),
        (244, "SLEEP_CONTROL_REG"),
        (256, "SLEEP_STATUS_REG"),
    ] {
        assert_eq!(&fadt[at..at + 12], &[0; 12], "{name}");
    }
    assert_eq!(&fadt[268..276], b"Tessera\0", "Hypervisor Vendor Identity");
}

#[test]
fn fadt_points_at_the_dsdt_and_a_64_byte_aligned_facs() {
    // Every 16-byte alignment the base can have modulo 64.
    for (base, facs_offset) in [
        (0xe_0000, 0x1c0),
        (0xe_0010, 0x1f0),
        (0xe_0020, 0x1e0),
        (0xe_0030, 0x1d0),
    ] {
        let guest = Guest::new(&AcpiConfig { base, ..config() });
        let fadt = guest.fadt();
        let facs = u64(fadt, 132);
        assert_eq!(u64::from(u32(fadt, 36)), facs, "FIRMWARE_CTRL");
        assert_eq!(facs % 64, 0);
        assert_eq!(facs, base + facs_offset);
        let dsdt = u64(fadt, 140);
        assert_eq!(u64::from(u32(fadt, 40)), dsdt, "DSDT");
        assert_eq!(dsdt, facs + 64);
        assert_eq!(&guest.table(dsdt)[..4], b"DSDT");
        let facs = guest.facs();
        assert_eq!(&facs[..4], b"FACS");
        assert_eq!(u32(facs, 4), 64, "length");
        assert_eq!(u32(facs, 8), 0, "hardware signature");
        assert_eq!(u32(facs, 20), 0, "flags");
        assert_eq!(facs[32], 2, "version");
        assert!(facs[33..].iter().all(|&byte| byte == 0));
    }
}

#[test]
fn fadt_flags_follow_the_config() {
    let plain = AcpiConfig {
        pm_timer_32bit: true,
        reset: None,
        power_button: false,
        legacy_devices: false,
        i8042: true,
        rtc_century: 0,
        ..config()
    };
    let guest = Guest::new(&plain);
    let fadt = guest.fadt();
    // WBINVD, PROC_C1, PWR_BUTTON (none), SLP_BUTTON, TMR_VAL_EXT.
    assert_eq!(u32(fadt, 112), 1 << 0 | 1 << 2 | 1 << 4 | 1 << 5 | 1 << 8);
    assert_eq!(&fadt[116..129], &[0; 13], "no RESET_REG, RESET_VALUE");
    assert_eq!(u16(fadt, 109), 0b10, "8042 only");
    assert_eq!(fadt[108], 0);
    // The PM timer's block stays four bytes wide whether it counts 24 or 32 bits.
    assert_eq!(fadt[91], 4);
    assert_eq!(fadt[209], 32);
}

#[test]
fn dsdt_holds_s5() {
    let guest = Guest::new(&config());
    let dsdt = guest.dsdt();
    assert_eq!(dsdt[8], 2, "revision");
    // Name (_S5, Package () { 5, 5, 0, 0 }): NameOp "_S5_" PackageOp PkgLength 8
    // NumElements 4, BytePrefix 5 twice, ZeroOp twice.
    let expected = [
        0x08, b'_', b'S', b'5', b'_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00,
    ];
    assert_eq!(&dsdt[36..], &expected);
    assert_eq!(dsdt.len(), 36 + 14);
    // Sleep types 0 and 1 are ZeroOp and OneOp, shortening the package.
    let zero = Guest::new(&AcpiConfig {
        s5_sleep_type: 0,
        ..config()
    });
    assert_eq!(
        &zero.dsdt()[36..],
        &[8, b'_', b'S', b'5', b'_', 0x12, 6, 4, 0, 0, 0, 0]
    );
    let one = Guest::new(&AcpiConfig {
        s5_sleep_type: 1,
        ..config()
    });
    assert_eq!(&one.dsdt()[41..], &[0x12, 6, 4, 1, 1, 0, 0]);
}

#[test]
fn pkg_length_at_its_boundaries() {
    let cases: [(usize, &[u8]); 10] = [
        (0, &[0x00]),
        (63, &[0x3f]),
        (64, &[0x40, 0x04]),
        (0x123, &[0x43, 0x12]),
        (4095, &[0x4f, 0xff]),
        (4096, &[0x80, 0x00, 0x01]),
        (0xf_ffff, &[0x8f, 0xff, 0xff]),
        (0x10_0000, &[0xc0, 0x00, 0x00, 0x01]),
        (0xabc_def1, &[0xc1, 0xef, 0xcd, 0xab]),
        (0xfff_ffff, &[0xcf, 0xff, 0xff, 0xff]),
    ];
    for (length, bytes) in cases {
        assert_eq!(aml::pkg_length(length).unwrap(), bytes, "{length:#x}");
    }
    assert_eq!(aml::pkg_length(0x1000_0000), None);
    assert_eq!(aml::pkg_length(usize::MAX), None);
}

#[test]
fn pkg_length_counts_its_own_bytes() {
    // (body bytes, PkgLength bytes, the value it encodes)
    for (body, own, total) in [
        (0, 1, 1),
        (62, 1, 63),
        (63, 2, 65),
        (4093, 2, 4095),
        (4094, 3, 4097),
        (0xf_ffff - 3, 3, 0xf_ffff),
        (0xf_ffff - 2, 4, 0x10_0001),
    ] {
        let encoded = aml::with_pkg_length(&vec![0xaa; body]).unwrap();
        assert_eq!(encoded.len(), own + body, "body {body}");
        assert_eq!(
            &encoded[..own],
            aml::pkg_length(total).unwrap(),
            "body {body}"
        );
        assert!(encoded[own..].iter().all(|&byte| byte == 0xaa));
    }
}

#[test]
fn aml_integers_take_their_shortest_form() {
    let cases: [(u64, &[u8]); 11] = [
        (0, &[0x00]),
        (1, &[0x01]),
        (2, &[0x0a, 0x02]),
        (0xff, &[0x0a, 0xff]),
        (0x100, &[0x0b, 0x00, 0x01]),
        (0xffff, &[0x0b, 0xff, 0xff]),
        (0x1_0000, &[0x0c, 0x00, 0x00, 0x01, 0x00]),
        (0xffff_ffff, &[0x0c, 0xff, 0xff, 0xff, 0xff]),
        (0x1_0000_0000, &[0x0e, 0, 0, 0, 0, 1, 0, 0, 0]),
        (
            0x0123_4567_89ab_cdef,
            &[0x0e, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01],
        ),
        (
            u64::MAX,
            &[0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
    ];
    for (value, bytes) in cases {
        assert_eq!(aml::integer(value), bytes, "{value:#x}");
    }
}

#[test]
fn aml_names_and_packages() {
    assert_eq!(
        aml::name(*b"ABC_", &[0x0a, 7]),
        [0x08, b'A', b'B', b'C', b'_', 0x0a, 7]
    );
    assert_eq!(aml::package(&[]).unwrap(), [0x12, 0x02, 0x00]);
    // 255 one-byte elements: 1 + 255 bytes of body, a two-byte PkgLength of 258.
    let elements = vec![aml::integer(0); 255];
    let package = aml::package(&elements).unwrap();
    assert_eq!(&package[..4], &[0x12, 0x42, 0x10, 0xff]);
    assert_eq!(package.len(), 1 + 2 + 1 + 255);
    let too_many = vec![aml::integer(0); 256];
    assert_eq!(aml::package(&too_many), None);
}

#[test]
fn madt_has_a_local_apic_per_cpu() {
    for cpus in [1u32, 2, 4] {
        let guest = Guest::new(&AcpiConfig { cpus, ..config() });
        let madt = guest.madt();
        assert_eq!(madt[8], 6, "revision");
        assert_eq!(u32(madt, 36), 0xfee0_0000, "local APIC address");
        assert_eq!(u32(madt, 40), 1, "PCAT_COMPAT");
        // Local APICs, the I/O APIC, one override, the NMI.
        let expected_len = 44 + 8 * cpus as usize + 12 + 10 + 6;
        assert_eq!(madt.len(), expected_len, "{cpus} CPUs");
        let structures = madt_structures(madt);
        let local: Vec<&[u8]> = structures.iter().copied().filter(|s| s[0] == 0).collect();
        assert_eq!(local.len(), cpus as usize);
        for (i, entry) in local.iter().enumerate() {
            // Type 0, length 8, UID i, APIC ID i, flags Enabled.
            assert_eq!(*entry, &[0, 8, i as u8, i as u8, 1, 0, 0, 0]);
        }
        // The processors come first, in order.
        assert!(structures[..cpus as usize].iter().all(|s| s[0] == 0));
    }
}

#[test]
fn madt_io_apic_override_and_nmi() {
    let with_level_sci = AcpiConfig {
        isa_overrides: vec![
            IsaOverride {
                irq: 0,
                gsi: 2,
                flags: IsaOverride::CONFORMING,
            },
            IsaOverride {
                irq: 9,
                gsi: 9,
                flags: IsaOverride::LEVEL | IsaOverride::ACTIVE_HIGH,
            },
        ],
        io_apic: Some(IoApicEntry {
            id: 7,
            address: 0xfec0_1000,
            gsi_base: 0x18,
        }),
        ..config()
    };
    let guest = Guest::new(&with_level_sci);
    let structures = madt_structures(guest.madt());
    assert_eq!(structures.len(), 2 + 1 + 2 + 1);
    assert_eq!(
        structures[2],
        &[1, 12, 7, 0, 0x00, 0x10, 0xc0, 0xfe, 0x18, 0, 0, 0],
        "I/O APIC"
    );
    // Bus 0 (ISA), IRQ 0 to GSI 2, conforming; IRQ 9 level, active high.
    assert_eq!(structures[3], &[2, 10, 0, 0, 2, 0, 0, 0, 0, 0]);
    assert_eq!(structures[4], &[2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0]);
    // All processors (UID 0xFF), flags 0, LINT1.
    assert_eq!(structures[5], &[4, 6, 0xff, 0, 0, 1]);
}

#[test]
fn madt_without_an_io_apic() {
    let guest = Guest::new(&AcpiConfig {
        io_apic: None,
        isa_overrides: Vec::new(),
        cpus: 1,
        ..config()
    });
    let structures = madt_structures(guest.madt());
    let types: Vec<u8> = structures.iter().map(|s| s[0]).collect();
    assert_eq!(types, [0, 4]);
    assert_eq!(u32(guest.madt(), 40), 1, "the 8259s are still there");
}

#[test]
fn cpu_counts_are_checked() {
    let build = |cpus| build_acpi_tables(&AcpiConfig { cpus, ..config() });
    assert_eq!(build(0), Err(AcpiError::NoCpus));
    assert_eq!(build(256), Err(AcpiError::TooManyCpus { cpus: 256 }));
    assert_eq!(
        build(u32::MAX),
        Err(AcpiError::TooManyCpus { cpus: u32::MAX })
    );
    let guest = Guest::new(&AcpiConfig {
        cpus: 255,
        ..config()
    });
    let structures = madt_structures(guest.madt());
    assert_eq!(structures[254], &[0, 8, 254, 254, 1, 0, 0, 0]);
    assert_eq!(structures[255][0], 1, "the I/O APIC follows");
}

#[test]
fn base_must_be_16_byte_aligned() {
    for base in [0xe_0008, 0xe_0001, 0xe_000f] {
        let err = build_acpi_tables(&AcpiConfig { base, ..config() });
        assert_eq!(err, Err(AcpiError::Unaligned { base }));
    }
    assert!(
        build_acpi_tables(&AcpiConfig {
            base: 0xe_0010,
            ..config()
        })
        .is_ok()
    );
}

#[test]
fn tables_must_end_below_4_gib() {
    let size = build_acpi_tables(&config()).unwrap().len() as u64;
    // A base 64-byte aligned, as config()'s, keeps the size.
    let highest = ((1 << 32) - size) & !63;
    let at = |base| build_acpi_tables(&AcpiConfig { base, ..config() });
    let guest = Guest::new(&AcpiConfig {
        base: highest,
        ..config()
    });
    assert_eq!(guest.blob.len() as u64, size);
    assert_eq!(
        u64::from(u32(guest.rsdp(), 16)),
        u64(guest.rsdp(), 24) + 0x40
    );
    assert_eq!(
        at(highest + 64),
        Err(AcpiError::Above4G {
            base: highest + 64,
            size
        })
    );
    assert!(matches!(at(1 << 32), Err(AcpiError::Above4G { .. })));
    assert!(matches!(at(u64::MAX - 15), Err(AcpiError::Above4G { .. })));
}

#[test]
fn overrides_and_sleep_type_are_checked() {
    let with = |isa_overrides: Vec<IsaOverride>| {
        build_acpi_tables(&AcpiConfig {
            isa_overrides,
            ..config()
        })
    };
    let entry = |irq| IsaOverride {
        irq,
        gsi: 20,
        flags: 0,
    };
    assert_eq!(with(vec![entry(16)]), Err(AcpiError::IsaIrq { irq: 16 }));
    assert!(with(vec![entry(15)]).is_ok());
    assert_eq!(
        with(vec![entry(0), entry(4), entry(0)]),
        Err(AcpiError::DuplicateOverride { irq: 0 })
    );
    let no_io_apic = AcpiConfig {
        io_apic: None,
        ..config()
    };
    assert_eq!(
        build_acpi_tables(&no_io_apic),
        Err(AcpiError::OverridesWithoutIoApic)
    );
    let sleep_type = |s5_sleep_type| {
        build_acpi_tables(&AcpiConfig {
            s5_sleep_type,
            ..config()
        })
    };
    assert_eq!(sleep_type(8), Err(AcpiError::SleepType { value: 8 }));
    assert!(sleep_type(7).is_ok());
}

#[test]
fn tables_are_16_byte_aligned_and_apart() {
    for base in [0xe_0000, 0xf_5a30, 0x7fff_0010] {
        let guest = Guest::new(&AcpiConfig {
            base,
            cpus: 4,
            ..config()
        });
        let fadt = guest.fadt();
        let mut spans: Vec<(u64, u64)> = [
            u64(guest.rsdp(), 24),
            u64::from(u32(guest.rsdp(), 16)),
            guest.find(b"FACP"),
            guest.find(b"APIC"),
            u64(fadt, 140),
        ]
        .iter()
        .map(|&addr| (addr, guest.table(addr).len() as u64))
        .collect();
        spans.push((base, 36));
        spans.push((u64(fadt, 132), 64));
        spans.sort();
        for &(addr, _) in &spans {
            assert_eq!(addr % 16, 0, "{addr:#x}");
        }
        for pair in spans.windows(2) {
            assert!(pair[0].0 + pair[0].1 <= pair[1].0, "{pair:x?}");
        }
        let (last, len) = spans[spans.len() - 1];
        assert_eq!(last + len, base + guest.blob.len() as u64);
    }
}

#[test]
fn headers_carry_the_config_names() {
    let guest = Guest::new(&config());
    let fadt = guest.fadt();
    for addr in [
        u64(guest.rsdp(), 24),
        u64::from(u32(guest.rsdp(), 16)),
        guest.find(b"FACP"),
        guest.find(b"APIC"),
        u64(fadt, 140),
    ] {
        let table = guest.table(addr);
        assert_eq!(&table[10..16], b"TSRAOE");
        assert_eq!(&table[16..24], b"TESSERA1");
        assert_eq!(u32(table, 24), 1, "OEM revision");
        assert_eq!(&table[28..32], b"TSRA", "creator ID");
        assert_eq!(u32(table, 32), 1, "creator revision");
    }
}

#[test]
fn the_blob_depends_only_on_the_config() {
    let first = build_acpi_tables(&config()).unwrap();
    assert_eq!(build_acpi_tables(&config()).unwrap(), first);
    assert_eq!(first.len(), 0x240 + 44 + 16 + 12 + 10 + 6);
    // And it does depend on it: another OEM table ID changes every header.
    let other = build_acpi_tables(&AcpiConfig {
        oem_table_id: *b"TESSERA2",
        ..config()
    })
    .unwrap();
    assert_eq!(other.len(), first.len());
    let differing = first.iter().zip(&other).filter(|(a, b)| a != b).count();
    // The last byte of the ID and the checksum, in each of five tables.
    assert_eq!(differing, 5 * 2);
    assert_eq!(u8_at(&other, 0x30 + 23), Some(b'2'));
}

#[test]
fn error_messages() {
    let messages = [
        (AcpiError::NoCpus, "ACPI tables need at least one CPU"),
        (
            AcpiError::TooManyCpus { cpus: 256 },
            "256 CPUs: the MADT's local APIC structures hold APIC IDs 0 to 254 \
             (x2APIC structures are not built)",
        ),
        (
            AcpiError::Unaligned { base: 0xe0008 },
            "ACPI tables at 0xe0008: the RSDP must be 16-byte aligned",
        ),
        (
            AcpiError::Above4G {
                base: 0xffff_ff00,
                size: 0x298,
            },
            "ACPI tables at 0xffffff00 (0x298 bytes) must end at or below 4 GiB: \
             the RSDT holds 32-bit addresses",
        ),
        (
            AcpiError::SleepType { value: 8 },
            "S5 sleep type 8 does not fit SLP_TYP's three bits (0 to 7)",
        ),
        (
            AcpiError::IsaIrq { irq: 16 },
            "interrupt source override for ISA IRQ 16: ISA IRQs are 0 to 15",
        ),
        (
            AcpiError::DuplicateOverride { irq: 0 },
            "two interrupt source overrides for ISA IRQ 0",
        ),
        (
            AcpiError::OverridesWithoutIoApic,
            "interrupt source overrides without an I/O APIC to wire them to",
        ),
        (AcpiError::Aml, "the DSDT's AML does not encode"),
    ];
    for (error, message) in messages {
        assert_eq!(error.to_string(), message);
    }
}
