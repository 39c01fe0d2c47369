//! The flattened device tree (DTB) that tells a guest what machine it runs on.
//!
//! The tree describes the memory map of the QEMU `virt` board the VM imitates, so
//! that kernels built for that board (Linux's `linux,dummy-virt` on aarch64, its
//! `riscv-virtio` tree on riscv64) boot unchanged.
//! The blob is written with `vm-fdt`; node and property names follow the
//! Devicetree Specification v0.4 and the Linux bindings they name.
#![cfg_attr(not(test), no_std)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unimplemented,
    clippy::todo,
    clippy::indexing_slicing
)]

extern crate alloc;

mod aarch64;
mod common;
mod host_gic;
mod passthrough;
mod riscv64;
mod shared;
mod validate;

#[cfg(test)]
mod aarch64_tests;
#[cfg(test)]
mod host_gic_tests;
#[cfg(test)]
mod passthrough_tests;
#[cfg(test)]
mod riscv64_tests;

use core::fmt;

pub use aarch64::{
    Aarch64Machine, GicLayout, GicV2Layout, GicV3Layout, QEMU_VIRT_PMU_PPI, QEMU_VIRT_TIMER_PPIS,
    UART_CLOCK_HZ, UartNode, build_aarch64,
};
pub use host_gic::{Frame, HostGic, host_gic};
pub use passthrough::{CopiedNode, HostDevice, device_paths, find_compatible, find_host_device};
pub use riscv64::{
    PlicNode, QEMU_VIRT_TIMEBASE_HZ, Riscv64Machine, UART16550_CLOCK_HZ, Uart16550Node,
    build_riscv64,
};
pub use shared::{SHARED_REGION_COMPATIBLE, SharedRegionNode};
use tessera_addr::GuestRange;
pub use validate::is_well_formed;

/// Why a device tree could not be built.
#[derive(Debug, PartialEq, Eq)]
pub enum DtbError {
    /// The machine has no memory region.
    NoMemory,
    /// The machine has no CPU.
    NoCpus,
    /// Two CPUs have the same MPIDR affinity.
    DuplicateCpu {
        /// The repeated affinity value.
        mpidr: u64,
    },
    /// Two harts have the same hart ID.
    DuplicateHart {
        /// The repeated hart ID.
        hart_id: u64,
    },
    /// A PLIC's source count is outside 1 to 1023.
    BadPlicSources {
        /// The refused count.
        sources: u32,
    },
    /// A device's interrupt is not one of the PLIC's sources.
    BadIrq {
        /// What the interrupt belongs to (`"uart"`).
        what: &'static str,
        /// The refused interrupt number.
        irq: u32,
        /// The PLIC's source count.
        sources: u32,
    },
    /// A range is empty or wraps around the address space.
    BadRange {
        /// What the range describes (`"memory"`, `"uart"`, ...).
        what: &'static str,
        /// The refused range.
        range: GuestRange,
    },
    /// Two memory regions overlap.
    MemoryOverlap {
        /// The first region.
        first: GuestRange,
        /// The region overlapping it.
        second: GuestRange,
    },
    /// Timer interrupts were requested without an interrupt controller to deliver them.
    NoInterruptController,
    /// The FDT writer refused the tree (for example a NUL byte in the bootargs).
    Fdt(vm_fdt::Error),
}

impl From<vm_fdt::Error> for DtbError {
    fn from(error: vm_fdt::Error) -> Self {
        Self::Fdt(error)
    }
}

impl fmt::Display for DtbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoMemory => write!(f, "the machine has no memory"),
            Self::NoCpus => write!(f, "the machine has no CPU"),
            Self::DuplicateCpu { mpidr } => write!(f, "two CPUs have MPIDR affinity {mpidr:#x}"),
            Self::DuplicateHart { hart_id } => write!(f, "two harts have hart ID {hart_id}"),
            Self::BadPlicSources { sources } => {
                write!(f, "a PLIC has 1 to 1023 interrupt sources, not {sources}")
            }
            Self::BadIrq { what, irq, sources } => write!(
                f,
                "{what} interrupt {irq} is not a PLIC source (1 to {sources})"
            ),
            Self::BadRange { what, range } => write!(
                f,
                "{what} range {}+{:#x} is empty or wraps around",
                range.start, range.size
            ),
            Self::MemoryOverlap { first, second } => write!(
                f,
                "memory regions {}+{:#x} and {}+{:#x} overlap",
                first.start, first.size, second.start, second.size
            ),
            Self::NoInterruptController => {
                write!(
                    f,
                    "interrupts (the timer's, a doorbell's) need an interrupt controller"
                )
            }
            Self::Fdt(error) => write!(f, "device tree writer: {error}"),
        }
    }
}

impl core::error::Error for DtbError {}

/// Checks that `range` is neither empty nor wrapping.
fn check_range(what: &'static str, range: GuestRange) -> Result<(), DtbError> {
    if range.size == 0 || range.end().is_none() {
        return Err(DtbError::BadRange { what, range });
    }
    Ok(())
}
