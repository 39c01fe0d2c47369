//! The architecture-specific pieces of the test guest.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
mod aarch64_debug;
#[cfg(target_arch = "aarch64")]
mod aarch64_irq;
#[cfg(target_arch = "aarch64")]
mod aarch64_pmu;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;
#[cfg(target_arch = "aarch64")]
pub use aarch64_debug::*;
#[cfg(target_arch = "aarch64")]
pub use aarch64_irq::*;
#[cfg(target_arch = "aarch64")]
pub use aarch64_pmu::*;

#[cfg(target_arch = "riscv64")]
mod riscv64;
#[cfg(target_arch = "riscv64")]
mod riscv64_irq;
#[cfg(target_arch = "riscv64")]
pub use riscv64::*;
#[cfg(target_arch = "riscv64")]
pub use riscv64_irq::*;

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
mod x86_64_irq;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;
#[cfg(target_arch = "x86_64")]
pub use x86_64_irq::*;
