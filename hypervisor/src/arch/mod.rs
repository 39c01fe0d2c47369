//! What differs per architecture, behind one set of names the generic VMM uses:
//! `Vcpu` and `Stage2Format` (the vCPU and its second-stage table layout),
//! `IrqChip` (a VM's emulated interrupt controller), `IrqLine` (an emulated device's
//! interrupt line into it), `init_cpu_for_guests`, `pcpu_of`, `new_vcpu`,
//! `create_devices`, `build_boot_data` (the device tree, or x86's boot block),
//! `new_console_port`, `CONSOLE_ON_PORTS` and `handle_host_interrupts`.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;
#[cfg(target_arch = "riscv64")]
mod riscv64;
#[cfg(target_arch = "riscv64")]
pub use riscv64::*;
#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;
