//! The aarch64 vCPU. Guests run at EL1 under the hypervisor at EL2. Decoding (ESR_EL2
//! syndromes, PSCI calls, trapped system registers) is plain logic, tested on the
//! host; the world switch and the EL1 register context run on the hardware only.
#![cfg_attr(not(test), no_std)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unimplemented,
    clippy::todo,
    clippy::indexing_slicing
)]

pub mod esr;
pub mod lr;
pub mod pmu;
pub mod psci;
pub mod sysreg;
pub mod timer;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod context;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod debug;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod gic_cpu;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod pmu_context;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod vcpu;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use gic_cpu::{Injection, LR_BUFFER, in_list_registers};
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use vcpu::{Aarch64Vcpu, init_cpu_for_guests, loaded_ppi_output, mask_ppi_source, pmu_offered};
