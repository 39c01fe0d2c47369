//! What differs per architecture. `Arch` implements `tessera_vm::Arch` (the vCPU
//! `Vcpu` and the interrupt controller `IrqChip`, which the VM layer's run loop
//! drives); the rest are still one set of names the VMM uses:
//! `Stage2Format` (the second-stage table layout), `IrqLine` (an emulated device's
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
