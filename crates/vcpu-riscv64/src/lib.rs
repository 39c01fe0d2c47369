//! The riscv64 vCPU. Guests run in VS-mode under the hypervisor in HS-mode (the
//! hypervisor extension). Decoding (SBI calls, trapped loads and stores, trap causes
//! and CSR bits) is plain logic, tested on the host; the world switch and the VS-mode
//! register context run on the hardware only.
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

pub mod csr;
pub mod insn;
pub mod sbi;

#[cfg(all(target_arch = "riscv64", target_os = "none"))]
mod vcpu;
#[cfg(all(target_arch = "riscv64", target_os = "none"))]
pub use vcpu::{Riscv64Vcpu, init_cpu_for_guests};

#[cfg(test)]
mod insn_tests;
#[cfg(test)]
mod sbi_tests;
