//! ACPI tables for an x86 guest, as the ACPI Specification 6.5 lays them out:
//! chapter 5.2 ("ACPI System Description Tables") for the RSDP, XSDT, RSDT, FADT,
//! FACS, DSDT and MADT, and chapters 19 and 20 (ASL and AML) for the one object
//! the DSDT declares, `\_S5`, which tells the guest how to power the VM off.
//!
//! [`build_acpi_tables`] returns one blob for the hypervisor to copy to
//! guest-physical [`AcpiConfig::base`]: every address inside it is `base` plus an
//! offset. Each table starts 16-byte aligned, the FACS 64-byte aligned:
//!
//! | offset         | table                                                     |
//! |----------------|-----------------------------------------------------------|
//! | 0x000          | RSDP (36 bytes, revision 2)                               |
//! | 0x030          | XSDT: the FADT and the MADT, 64-bit addresses             |
//! | 0x070          | RSDT: the same, 32-bit addresses                          |
//! | 0x0a0          | FADT (276 bytes, version 6.5)                             |
//! | 0x1c0 to 0x1f0 | FACS (64 bytes), at the next 64-byte-aligned address      |
//! | FACS + 0x40    | DSDT: `\_S5` only                                         |
//! | DSDT + 0x40    | MADT: local APICs, I/O APIC, overrides, LINT1 NMI         |
//!
//! The RSDP is the blob's first byte, so the guest finds it at `base`, which must
//! be 16-byte aligned. A guest that scans for it looks at the 16-byte boundaries of
//! 0xE0000..0xFFFFF (and the EBDA's first KiB); Linux also takes its address from
//! the zero page's `acpi_rsdp_addr` (boot protocol 2.14). The builder checks the
//! alignment and that the tables end at or below 4 GiB (the RSDT holds 32-bit
//! addresses) and nothing else about the placement: choosing it, and keeping the
//! range out of the guest's RAM in the e820 map, is the caller's part
//! (0xE0000..0x100000 is in [`pc_memory_map`](crate::pc_memory_map)'s reserved
//! legacy hole).
//!
//! The platform the tables describe: a PC in ACPI mode from the start (no SMI
//! command port, so the PM1a control register should read SCI_EN, bit 0, set;
//! Linux does not check it), with a PM1a event block, a PM1a control block and a PM timer in
//! I/O space and no PM1b, PM2 or GPE blocks; dual 8259s; xAPIC local APICs only (no
//! x2APIC structures, so at most 255 CPUs); an optional I/O APIC.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::bytes::put;

mod aml;
#[cfg(test)]
mod tests;

/// The I/O APIC, as the MADT's I/O APIC structure describes it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IoApicEntry {
    /// Its I/O APIC ID.
    pub id: u8,
    /// The physical address of its registers (0xFEC00000 on PCs).
    pub address: u32,
    /// The global system interrupt of its first input.
    pub gsi_base: u32,
}

/// An ISA interrupt that reaches the I/O APIC on another input than its IRQ number,
/// or with another polarity or trigger than ISA's (active high, edge): the MADT's
/// Interrupt Source Override structure.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IsaOverride {
    /// The ISA IRQ, 0 to 15.
    pub irq: u8,
    /// The global system interrupt it is wired to.
    pub gsi: u32,
    /// MPS INTI flags: polarity in bits 1-0, trigger mode in bits 3-2.
    pub flags: u16,
}

impl IsaOverride {
    /// MPS INTI flags: polarity and trigger mode those of the bus (for ISA, active
    /// high and edge).
    pub const CONFORMING: u16 = 0;
    /// MPS INTI flags: active high.
    pub const ACTIVE_HIGH: u16 = 0b01;
    /// MPS INTI flags: active low.
    pub const ACTIVE_LOW: u16 = 0b11;
    /// MPS INTI flags: edge triggered.
    pub const EDGE: u16 = 0b01 << 2;
    /// MPS INTI flags: level triggered.
    pub const LEVEL: u16 = 0b11 << 2;
}

/// The I/O ports of the fixed ACPI registers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PmPorts {
    /// PM1a_EVT_BLK: four ports, PM1 status (two) then PM1 enable (two).
    pub pm1a_event: u16,
    /// PM1a_CNT_BLK: two ports, PM1 control.
    pub pm1a_control: u16,
    /// PM_TMR_BLK: four ports, the PM timer (3.579545 MHz).
    pub pm_timer: u16,
}

/// The reset register: an I/O port the guest writes a value to, to reset the VM.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ResetRegister {
    /// The port (0xCF9 on PCs).
    pub port: u16,
    /// The byte that resets (6 at 0xCF9: a hard reset).
    pub value: u8,
}

/// What the tables describe: the VM's CPUs, interrupt controllers and ACPI
/// registers, and the names the tables carry.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AcpiConfig {
    /// Guest-physical address of the blob and of the RSDP, its first byte: 16-byte
    /// aligned.
    pub base: u64,
    /// Number of CPUs, 1 to 255: local APIC IDs and ACPI processor UIDs 0 to
    /// `cpus - 1`.
    pub cpus: u32,
    /// The I/O APIC, if the VM has one.
    pub io_apic: Option<IoApicEntry>,
    /// ISA interrupts wired otherwise than identity to the I/O APIC (on PCs the
    /// PIT's IRQ 0 reaches GSI 2), each IRQ at most once; none without an I/O APIC.
    pub isa_overrides: Vec<IsaOverride>,
    /// The ports of the fixed ACPI registers.
    pub pm: PmPorts,
    /// Whether the PM timer counts 32 bits (the FADT's TMR_VAL_EXT) rather than 24.
    pub pm_timer_32bit: bool,
    /// The SCI's ISA IRQ (9 on PCs). The guest takes it as level triggered and
    /// active low, as the specification has it, unless an override for this IRQ
    /// says otherwise.
    pub sci_irq: u16,
    /// The reset register, if the VM has one.
    pub reset: Option<ResetRegister>,
    /// Whether the power button is the fixed-feature one (PWRBTN_STS and PWRBTN_EN
    /// in PM1); without it the FADT says there is no power button.
    pub power_button: bool,
    /// IA-PC boot flag LEGACY_DEVICES: ISA devices the guest does not find through
    /// ACPI (serial ports, the RTC, the PIT) are present.
    pub legacy_devices: bool,
    /// IA-PC boot flag 8042: an 8042 keyboard controller is present.
    pub i8042: bool,
    /// The CMOS RAM index of the RTC's century byte, or 0 for none.
    pub rtc_century: u8,
    /// SLP_TYP that PM1a_CNT takes for S5, soft off (0 to 7; 5 is usual).
    pub s5_sleep_type: u8,
    /// OEM ID, in the RSDP and every table's header.
    pub oem_id: [u8; 6],
    /// OEM table ID, in every table's header.
    pub oem_table_id: [u8; 8],
}

/// Why the tables cannot be built.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AcpiError {
    /// No CPUs.
    NoCpus,
    /// More CPUs than the 255 the MADT's local APIC structures number.
    TooManyCpus {
        /// The number given.
        cpus: u32,
    },
    /// The address is not 16-byte aligned, as the RSDP's must be.
    Unaligned {
        /// The address given.
        base: u64,
    },
    /// The tables would not end at or below 4 GiB, where the RSDT's addresses reach.
    Above4G {
        /// The address given.
        base: u64,
        /// Bytes of the tables.
        size: u64,
    },
    /// The S5 sleep type does not fit SLP_TYP's three bits.
    SleepType {
        /// The value given.
        value: u8,
    },
    /// An override's ISA IRQ is above 15.
    IsaIrq {
        /// The IRQ given.
        irq: u8,
    },
    /// Two overrides for the same ISA IRQ.
    DuplicateOverride {
        /// The IRQ.
        irq: u8,
    },
    /// Overrides without an I/O APIC, whose inputs they name.
    OverridesWithoutIoApic,
    /// The DSDT's AML does not encode (never for the AML built today).
    Aml,
}

impl fmt::Display for AcpiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCpus => f.write_str("ACPI tables need at least one CPU"),
            Self::TooManyCpus { cpus } => write!(
                f,
                "{cpus} CPUs: the MADT's local APIC structures hold APIC IDs 0 to 254 \
                 (x2APIC structures are not built)"
            ),
            Self::Unaligned { base } => write!(
                f,
                "ACPI tables at {base:#x}: the RSDP must be 16-byte aligned"
            ),
            Self::Above4G { base, size } => write!(
                f,
                "ACPI tables at {base:#x} ({size:#x} bytes) must end at or below 4 GiB: \
                 the RSDT holds 32-bit addresses"
            ),
            Self::SleepType { value } => write!(
                f,
                "S5 sleep type {value} does not fit SLP_TYP's three bits (0 to 7)"
            ),
            Self::IsaIrq { irq } => write!(
                f,
                "interrupt source override for ISA IRQ {irq}: ISA IRQs are 0 to 15"
            ),
            Self::DuplicateOverride { irq } => {
                write!(f, "two interrupt source overrides for ISA IRQ {irq}")
            }
            Self::OverridesWithoutIoApic => {
                f.write_str("interrupt source overrides without an I/O APIC to wire them to")
            }
            Self::Aml => f.write_str("the DSDT's AML does not encode"),
        }
    }
}

impl core::error::Error for AcpiError {}

/// The first address past the RSDT's reach.
const FOUR_GIB: u64 = 1 << 32;
/// Tables start at multiples of this.
const TABLE_ALIGN: u64 = 16;
/// The FACS starts at a multiple of this (ACPI 6.5 table 5.9, FIRMWARE_CTRL).
const FACS_ALIGN: u64 = 64;

/// Bytes of the standard table header (ACPI 6.5 table 5.4).
const HEADER_SIZE: usize = 36;
/// Offset of the header's checksum.
const CHECKSUM: usize = 9;
/// OEM revision, creator ID and creator revision in every header.
const OEM_REVISION: u32 = 1;
const CREATOR_ID: &[u8; 4] = b"TSRA";
const CREATOR_REVISION: u32 = 1;

/// Table revisions of ACPI 6.5: RSDP 2, RSDT and XSDT 1, FADT 6 (minor 5), FACS 2,
/// DSDT 2 (integers are 64 bits), MADT 6.
const RSDP_REVISION: u8 = 2;
const RSDT_REVISION: u8 = 1;
const XSDT_REVISION: u8 = 1;
const FADT_REVISION: u8 = 6;
const FADT_MINOR_VERSION: u8 = 5;
const FACS_VERSION: u8 = 2;
const DSDT_REVISION: u8 = 2;
const MADT_REVISION: u8 = 6;

/// Bytes of the RSDP, and of its part that ACPI 1.0 defined (the first checksum's).
const RSDP_SIZE: usize = 36;
const RSDP_V1_SIZE: usize = 20;
/// Bytes of the FACS.
const FACS_SIZE: usize = 64;

/// Offsets of the FADT's fields (ACPI 6.5 table 5.9).
mod fadt_field {
    /// FIRMWARE_CTRL (4 bytes): the FACS's 32-bit address.
    pub const FIRMWARE_CTRL: usize = 36;
    /// DSDT (4): the DSDT's 32-bit address.
    pub const DSDT: usize = 40;
    /// Preferred_PM_Profile (1).
    pub const PREFERRED_PM_PROFILE: usize = 45;
    /// SCI_INT (2).
    pub const SCI_INT: usize = 46;
    /// PM1a_EVT_BLK (4).
    pub const PM1A_EVT_BLK: usize = 56;
    /// PM1a_CNT_BLK (4).
    pub const PM1A_CNT_BLK: usize = 64;
    /// PM_TMR_BLK (4).
    pub const PM_TMR_BLK: usize = 76;
    /// PM1_EVT_LEN (1).
    pub const PM1_EVT_LEN: usize = 88;
    /// PM1_CNT_LEN (1).
    pub const PM1_CNT_LEN: usize = 89;
    /// PM_TMR_LEN (1).
    pub const PM_TMR_LEN: usize = 91;
    /// P_LVL2_LAT (2).
    pub const P_LVL2_LAT: usize = 96;
    /// P_LVL3_LAT (2).
    pub const P_LVL3_LAT: usize = 98;
    /// CENTURY (1).
    pub const CENTURY: usize = 108;
    /// IAPC_BOOT_ARCH (2).
    pub const IAPC_BOOT_ARCH: usize = 109;
    /// Flags (4).
    pub const FLAGS: usize = 112;
    /// RESET_REG (12, a generic address).
    pub const RESET_REG: usize = 116;
    /// RESET_VALUE (1).
    pub const RESET_VALUE: usize = 128;
    /// FADT Minor Version (1).
    pub const MINOR_VERSION: usize = 131;
    /// X_FIRMWARE_CTRL (8).
    pub const X_FIRMWARE_CTRL: usize = 132;
    /// X_DSDT (8).
    pub const X_DSDT: usize = 140;
    /// X_PM1a_EVT_BLK (12).
    pub const X_PM1A_EVT_BLK: usize = 148;
    /// X_PM1a_CNT_BLK (12).
    pub const X_PM1A_CNT_BLK: usize = 172;
    /// X_PM_TMR_BLK (12).
    pub const X_PM_TMR_BLK: usize = 208;
    /// Hypervisor Vendor Identity (8).
    pub const HYPERVISOR_VENDOR: usize = 268;
    /// Bytes of the table.
    pub const LENGTH: usize = 276;
}

/// Preferred_PM_Profile 0, unspecified: a VM is none of the profiles' machines.
const PM_PROFILE_UNSPECIFIED: u8 = 0;
/// Bytes of the PM1 event block (status and enable, two each), the PM1 control
/// block and the PM timer.
const PM1_EVT_BYTES: u8 = 4;
const PM1_CNT_BYTES: u8 = 2;
const PM_TMR_BYTES: u8 = 4;
/// Worst-case C2 and C3 latencies above 100 and 1000 microseconds: no C2, no C3.
const P_LVL2_NONE: u16 = 101;
const P_LVL3_NONE: u16 = 1001;
/// FADT flags (ACPI 6.5 table 5.10).
const WBINVD: u32 = 1 << 0;
const PROC_C1: u32 = 1 << 2;
const PWR_BUTTON: u32 = 1 << 4;
const SLP_BUTTON: u32 = 1 << 5;
const TMR_VAL_EXT: u32 = 1 << 8;
const RESET_REG_SUP: u32 = 1 << 10;
/// IA-PC boot architecture flags (ACPI 6.5 table 5.11).
const LEGACY_DEVICES: u16 = 1 << 0;
const I8042: u16 = 1 << 1;
/// The FADT's Hypervisor Vendor Identity: who made these tables.
const HYPERVISOR_ID: &[u8; 8] = b"Tessera\0";

/// Generic Address Structure (ACPI 6.5 5.2.3.2): bytes, the I/O address space, and
/// access sizes byte, word and double word.
const GAS_SIZE: usize = 12;
const SYSTEM_IO: u8 = 1;
const ACCESS_BYTE: u8 = 1;
const ACCESS_WORD: u8 = 2;
const ACCESS_DWORD: u8 = 3;

/// Bytes of the MADT before its structures: header, local APIC address, flags.
const MADT_HEADER_SIZE: usize = HEADER_SIZE + 8;
/// The local APICs' address, and MADT flag PCAT_COMPAT: dual 8259s are present.
const LOCAL_APIC_ADDRESS: u32 = 0xfee0_0000;
const PCAT_COMPAT: u32 = 1 << 0;
/// MADT structure types and lengths (ACPI 6.5 5.2.12.2, .3, .5, .7).
const LOCAL_APIC: [u8; 2] = [0, 8];
const IO_APIC: [u8; 2] = [1, 12];
const SOURCE_OVERRIDE: [u8; 2] = [2, 10];
const LOCAL_APIC_NMI: [u8; 2] = [4, 6];
/// Local APIC flag Enabled: the CPU is usable now.
const LOCAL_APIC_ENABLED: u32 = 1 << 0;
/// Interrupt source overrides' bus: ISA.
const ISA_BUS: u8 = 0;
/// Highest ISA IRQ.
const ISA_IRQ_MAX: u8 = 15;
/// Processor UID 0xFF in a local APIC NMI structure: all processors.
const ALL_PROCESSORS: u8 = 0xff;
/// The local APIC input the NMI is wired to.
const LINT1: u8 = 1;
/// CPUs the MADT's local APIC structures number: APIC IDs 0 to 254 (0xFF is the
/// broadcast ID, and UID 0xFF means all processors).
const MAX_CPUS: u32 = 255;
/// Highest SLP_TYP: three bits of PM1_CNT.
const SLEEP_TYPE_MAX: u8 = 7;

/// Where the tables lie in the blob: offsets from `base`.
struct Layout {
    xsdt: u64,
    rsdt: u64,
    fadt: u64,
    facs: u64,
    dsdt: u64,
    madt: u64,
    size: u64,
}

impl Layout {
    /// The layout at `base` of a DSDT and a MADT of the lengths given, if it ends
    /// at or below 4 GiB.
    fn new(base: u64, dsdt_len: usize, madt_len: usize) -> Result<Self, AcpiError> {
        // Only the MADT can be large: every offset before its end is a few hundred.
        let next = |offset: u64, len: usize| {
            offset
                .saturating_add(len as u64)
                .checked_next_multiple_of(TABLE_ALIGN)
                .unwrap_or(u64::MAX)
        };
        let xsdt = next(0, RSDP_SIZE);
        let rsdt = next(xsdt, table_list_len(8));
        let fadt = next(rsdt, table_list_len(4));
        let fadt_end = fadt + fadt_field::LENGTH as u64;
        // The FACS's address, not its offset, is 64-byte aligned.
        let misalign = base % FACS_ALIGN;
        let facs = (misalign + fadt_end).next_multiple_of(FACS_ALIGN) - misalign;
        let dsdt = next(facs, FACS_SIZE);
        let madt = next(dsdt, dsdt_len);
        let size = madt.saturating_add(madt_len as u64);
        if base.checked_add(size).is_none_or(|end| end > FOUR_GIB) {
            return Err(AcpiError::Above4G { base, size });
        }
        Ok(Self {
            xsdt,
            rsdt,
            fadt,
            facs,
            dsdt,
            madt,
            size,
        })
    }
}

/// Bytes of an XSDT or RSDT listing the FADT and the MADT in `entry_size`-byte
/// entries.
const fn table_list_len(entry_size: usize) -> usize {
    HEADER_SIZE + 2 * entry_size
}

/// The ACPI tables `config` describes, as one blob to be copied to `config.base`;
/// the RSDP is its first byte. Refuses configurations the tables cannot describe
/// (see [`AcpiError`]).
pub fn build_acpi_tables(config: &AcpiConfig) -> Result<Vec<u8>, AcpiError> {
    check(config)?;
    let aml = s5_aml(config.s5_sleep_type).ok_or(AcpiError::Aml)?;
    let entries = madt_entries(config);
    let layout = Layout::new(
        config.base,
        HEADER_SIZE + aml.len(),
        MADT_HEADER_SIZE + entries.len(),
    )?;
    // No overflow, and every address fits 32 bits: Layout::new checked the end.
    let address = |offset: u64| config.base + offset;
    let tables = [address(layout.fadt), address(layout.madt)];
    let mut blob = vec![0u8; layout.size as usize];
    let mut place = |offset: u64, bytes: &[u8]| put(&mut blob, offset as usize, bytes);
    place(0, &rsdp(config, address(layout.xsdt), address(layout.rsdt)));
    place(layout.xsdt, &xsdt(config, &tables));
    place(layout.rsdt, &rsdt(config, &tables));
    place(
        layout.fadt,
        &fadt(config, address(layout.facs), address(layout.dsdt)),
    );
    place(layout.facs, &facs());
    place(layout.dsdt, &dsdt(config, &aml));
    place(layout.madt, &madt(config, &entries));
    Ok(blob)
}

/// Refuses what the tables cannot describe; the size is checked by [`Layout::new`].
fn check(config: &AcpiConfig) -> Result<(), AcpiError> {
    match config.cpus {
        0 => return Err(AcpiError::NoCpus),
        cpus if cpus > MAX_CPUS => return Err(AcpiError::TooManyCpus { cpus }),
        _ => {}
    }
    if !config.base.is_multiple_of(TABLE_ALIGN) {
        return Err(AcpiError::Unaligned { base: config.base });
    }
    if config.s5_sleep_type > SLEEP_TYPE_MAX {
        return Err(AcpiError::SleepType {
            value: config.s5_sleep_type,
        });
    }
    let overrides = &config.isa_overrides;
    if !overrides.is_empty() && config.io_apic.is_none() {
        return Err(AcpiError::OverridesWithoutIoApic);
    }
    for (i, entry) in overrides.iter().enumerate() {
        if entry.irq > ISA_IRQ_MAX {
            return Err(AcpiError::IsaIrq { irq: entry.irq });
        }
        if overrides.iter().take(i).any(|other| other.irq == entry.irq) {
            return Err(AcpiError::DuplicateOverride { irq: entry.irq });
        }
    }
    Ok(())
}

/// Sets the checksum byte at `at` so that all of `bytes` sum to 0 modulo 256.
fn seal(bytes: &mut [u8], at: usize) {
    put(bytes, at, &[0]);
    let sum = bytes.iter().fold(0u8, |sum, &byte| sum.wrapping_add(byte));
    put(bytes, at, &[sum.wrapping_neg()]);
}

/// A zeroed table of `length` bytes with the standard header filled in but for the
/// checksum ([`seal`] sets it once the fields are in).
fn table(signature: &[u8; 4], revision: u8, length: usize, config: &AcpiConfig) -> Vec<u8> {
    let mut table = vec![0u8; length];
    put(&mut table, 0, signature);
    // Fits: Layout::new has checked that every table ends below 4 GiB.
    put(&mut table, 4, &(length as u32).to_le_bytes());
    put(&mut table, 8, &[revision]);
    put(&mut table, 10, &config.oem_id);
    put(&mut table, 16, &config.oem_table_id);
    put(&mut table, 24, &OEM_REVISION.to_le_bytes());
    put(&mut table, 28, CREATOR_ID);
    put(&mut table, 32, &CREATOR_REVISION.to_le_bytes());
    table
}

/// The RSDP (ACPI 6.5 5.2.5.3), pointing at the XSDT and the RSDT.
fn rsdp(config: &AcpiConfig, xsdt: u64, rsdt: u64) -> [u8; RSDP_SIZE] {
    let mut rsdp = [0u8; RSDP_SIZE];
    put(&mut rsdp, 0, b"RSD PTR ");
    put(&mut rsdp, 9, &config.oem_id);
    put(&mut rsdp, 15, &[RSDP_REVISION]);
    put(&mut rsdp, 16, &(rsdt as u32).to_le_bytes());
    put(&mut rsdp, 20, &(RSDP_SIZE as u32).to_le_bytes());
    put(&mut rsdp, 24, &xsdt.to_le_bytes());
    // The first checksum covers the ACPI 1.0 part; the extended one all of it,
    // the first checksum included.
    if let Some(v1) = rsdp.get_mut(..RSDP_V1_SIZE) {
        seal(v1, 8);
    }
    seal(&mut rsdp, 32);
    rsdp
}

/// The XSDT (ACPI 6.5 5.2.8): the 64-bit addresses of `tables`.
fn xsdt(config: &AcpiConfig, tables: &[u64]) -> Vec<u8> {
    let mut xsdt = table(b"XSDT", XSDT_REVISION, table_list_len(8), config);
    for (i, &address) in tables.iter().enumerate() {
        put(&mut xsdt, HEADER_SIZE + 8 * i, &address.to_le_bytes());
    }
    seal(&mut xsdt, CHECKSUM);
    xsdt
}

/// The RSDT (ACPI 6.5 5.2.7): the 32-bit addresses of `tables`, which lie below
/// 4 GiB.
fn rsdt(config: &AcpiConfig, tables: &[u64]) -> Vec<u8> {
    let mut rsdt = table(b"RSDT", RSDT_REVISION, table_list_len(4), config);
    for (i, &address) in tables.iter().enumerate() {
        put(
            &mut rsdt,
            HEADER_SIZE + 4 * i,
            &(address as u32).to_le_bytes(),
        );
    }
    seal(&mut rsdt, CHECKSUM);
    rsdt
}

/// A Generic Address Structure for a `bits`-bit register at I/O `port`, accessed
/// `access` (one of the `ACCESS_` sizes) at a time.
fn io_register(port: u16, bits: u8, access: u8) -> [u8; GAS_SIZE] {
    let mut gas = [0u8; GAS_SIZE];
    // Address space, bit width, bit offset 0, access size, address.
    put(&mut gas, 0, &[SYSTEM_IO, bits, 0, access]);
    put(&mut gas, 4, &u64::from(port).to_le_bytes());
    gas
}

/// The FADT (ACPI 6.5 5.2.9), pointing at the FACS and the DSDT.
fn fadt(config: &AcpiConfig, facs: u64, dsdt: u64) -> Vec<u8> {
    use fadt_field as at;
    let mut fadt = table(b"FACP", FADT_REVISION, at::LENGTH, config);
    // Both the 32-bit and the 64-bit pointers: an ACPI 1.0 guest reads only the
    // former, a later one prefers the latter, and they agree.
    put(&mut fadt, at::FIRMWARE_CTRL, &(facs as u32).to_le_bytes());
    put(&mut fadt, at::DSDT, &(dsdt as u32).to_le_bytes());
    put(&mut fadt, at::X_FIRMWARE_CTRL, &facs.to_le_bytes());
    put(&mut fadt, at::X_DSDT, &dsdt.to_le_bytes());
    put(
        &mut fadt,
        at::PREFERRED_PM_PROFILE,
        &[PM_PROFILE_UNSPECIFIED],
    );
    put(&mut fadt, at::SCI_INT, &config.sci_irq.to_le_bytes());
    // SMI_CMD, ACPI_ENABLE and ACPI_DISABLE stay 0: there is no SMM to take the
    // hardware from, which tells the guest that ACPI mode is already on.
    let pm = &config.pm;
    // Each block: its 32-bit port field, its generic address, its length field,
    // bytes, port and access size (the PM1 registers are 16 bits each).
    let blocks = [
        (
            at::PM1A_EVT_BLK,
            at::X_PM1A_EVT_BLK,
            at::PM1_EVT_LEN,
            PM1_EVT_BYTES,
            pm.pm1a_event,
            ACCESS_WORD,
        ),
        (
            at::PM1A_CNT_BLK,
            at::X_PM1A_CNT_BLK,
            at::PM1_CNT_LEN,
            PM1_CNT_BYTES,
            pm.pm1a_control,
            ACCESS_WORD,
        ),
        (
            at::PM_TMR_BLK,
            at::X_PM_TMR_BLK,
            at::PM_TMR_LEN,
            PM_TMR_BYTES,
            pm.pm_timer,
            ACCESS_DWORD,
        ),
    ];
    for (legacy, extended, length_at, bytes, port, access) in blocks {
        put(&mut fadt, legacy, &u32::from(port).to_le_bytes());
        put(&mut fadt, extended, &io_register(port, 8 * bytes, access));
        put(&mut fadt, length_at, &[bytes]);
    }
    put(&mut fadt, at::P_LVL2_LAT, &P_LVL2_NONE.to_le_bytes());
    put(&mut fadt, at::P_LVL3_LAT, &P_LVL3_NONE.to_le_bytes());
    put(&mut fadt, at::CENTURY, &[config.rtc_century]);
    let mut boot_arch = 0;
    if config.legacy_devices {
        boot_arch |= LEGACY_DEVICES;
    }
    if config.i8042 {
        boot_arch |= I8042;
    }
    put(&mut fadt, at::IAPC_BOOT_ARCH, &boot_arch.to_le_bytes());
    // SLP_BUTTON: a sleep button, if any, would be a control method device, and
    // the DSDT declares none.
    let mut flags = WBINVD | PROC_C1 | SLP_BUTTON;
    if !config.power_button {
        flags |= PWR_BUTTON;
    }
    if config.pm_timer_32bit {
        flags |= TMR_VAL_EXT;
    }
    if let Some(reset) = config.reset {
        flags |= RESET_REG_SUP;
        put(
            &mut fadt,
            at::RESET_REG,
            &io_register(reset.port, 8, ACCESS_BYTE),
        );
        put(&mut fadt, at::RESET_VALUE, &[reset.value]);
    }
    put(&mut fadt, at::FLAGS, &flags.to_le_bytes());
    put(&mut fadt, at::MINOR_VERSION, &[FADT_MINOR_VERSION]);
    put(&mut fadt, at::HYPERVISOR_VENDOR, HYPERVISOR_ID);
    seal(&mut fadt, CHECKSUM);
    fadt
}

/// The FACS (ACPI 6.5 5.2.10): no hardware signature, no waking vector, no
/// S4BIOS and no 64-bit waking; it has no checksum.
fn facs() -> [u8; FACS_SIZE] {
    let mut facs = [0u8; FACS_SIZE];
    put(&mut facs, 0, b"FACS");
    put(&mut facs, 4, &(FACS_SIZE as u32).to_le_bytes());
    put(&mut facs, 32, &[FACS_VERSION]);
    facs
}

/// The DSDT's AML: `Name (_S5, Package () { sleep_type, sleep_type, 0, 0 })`,
/// the values for PM1a_CNT.SLP_TYP and PM1b_CNT.SLP_TYP (ACPI 6.5 7.4.2) and two
/// reserved ones.
fn s5_aml(sleep_type: u8) -> Option<Vec<u8>> {
    let value = aml::integer(u64::from(sleep_type));
    let reserved = aml::integer(0);
    let package = aml::package(&[value.clone(), value, reserved.clone(), reserved])?;
    Some(aml::name(*b"_S5_", &package))
}

/// The DSDT (ACPI 6.5 5.2.11.1): the header, then the definition block `aml`.
fn dsdt(config: &AcpiConfig, aml: &[u8]) -> Vec<u8> {
    let mut dsdt = table(b"DSDT", DSDT_REVISION, HEADER_SIZE + aml.len(), config);
    put(&mut dsdt, HEADER_SIZE, aml);
    seal(&mut dsdt, CHECKSUM);
    dsdt
}

/// The MADT's interrupt controller structures: a local APIC per CPU, the I/O APIC,
/// the overrides, and the NMI on every CPU's LINT1.
fn madt_entries(config: &AcpiConfig) -> Vec<u8> {
    let mut entries = Vec::new();
    for cpu in 0..config.cpus {
        // At most 255 CPUs (checked): the UID and the APIC ID fit a byte.
        let id = cpu as u8;
        entries.extend(LOCAL_APIC);
        entries.extend([id, id]);
        entries.extend(LOCAL_APIC_ENABLED.to_le_bytes());
    }
    if let Some(io_apic) = config.io_apic {
        entries.extend(IO_APIC);
        entries.extend([io_apic.id, 0]);
        entries.extend(io_apic.address.to_le_bytes());
        entries.extend(io_apic.gsi_base.to_le_bytes());
    }
    for entry in &config.isa_overrides {
        entries.extend(SOURCE_OVERRIDE);
        entries.extend([ISA_BUS, entry.irq]);
        entries.extend(entry.gsi.to_le_bytes());
        entries.extend(entry.flags.to_le_bytes());
    }
    // Flags 0: polarity and trigger mode those of the local APIC input.
    entries.extend(LOCAL_APIC_NMI);
    entries.push(ALL_PROCESSORS);
    entries.extend(0u16.to_le_bytes());
    entries.push(LINT1);
    entries
}

/// The MADT (ACPI 6.5 5.2.12) with its structures `entries`.
fn madt(config: &AcpiConfig, entries: &[u8]) -> Vec<u8> {
    let length = MADT_HEADER_SIZE + entries.len();
    let mut madt = table(b"APIC", MADT_REVISION, length, config);
    put(&mut madt, HEADER_SIZE, &LOCAL_APIC_ADDRESS.to_le_bytes());
    put(&mut madt, HEADER_SIZE + 4, &PCAT_COMPAT.to_le_bytes());
    put(&mut madt, MADT_HEADER_SIZE, entries);
    seal(&mut madt, CHECKSUM);
    madt
}
