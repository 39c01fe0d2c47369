//! The x86_64 vCPU on AMD SVM (Secure Virtual Machine) with nested paging. Guests
//! run under VMRUN with their state in a VMCB; the layout of the VMCB, the decoding
//! of its exit codes, of the instruction behind an MMIO nested page fault and the
//! CPUID values a guest sees are plain logic, tested on the host. The world switch
//! comes with the hardware part.
//!
//! Everything here follows the AMD64 Architecture Programmer's Manual, volume 2,
//! chapter 15 ("Secure Virtual Machine") and appendix B ("Layout of VMCB").
#![cfg_attr(not(test), no_std)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unimplemented,
    clippy::todo,
    clippy::indexing_slicing
)]

#[cfg(all(target_arch = "x86_64", target_os = "none"))]
extern crate alloc;

pub mod cpuid;
pub mod exit;
pub mod insn;
pub mod vmcb;
pub mod walk;

#[cfg(all(target_arch = "x86_64", target_os = "none"))]
mod vcpu;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub use vcpu::{EntryMode, X86Vcpu, X86VcpuConfig, hypercall};

#[cfg(test)]
mod cpuid_tests;
#[cfg(test)]
mod exit_tests;
#[cfg(test)]
mod insn_tests;
#[cfg(test)]
mod vmcb_tests;
#[cfg(test)]
mod walk_tests;
