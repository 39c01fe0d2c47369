//! What differs per architecture. `Arch` implements `tessera_vm::Arch` (the vCPU
//! `Vcpu` and the interrupt controller `IrqChip`, which the VM layer's run loop
//! drives); the rest are still one set of names the VMM uses:
//! `Stage2Format` (the second-stage table layout), `IrqLine` (an emulated device's
//! interrupt line into it), `init_cpu_for_guests`, `pcpu_of`, `new_vcpu`,
//! `create_devices`, `build_boot_data` (the device tree, or x86's boot block),
//! `new_console_port`, `CONSOLE_ON_PORTS`, `handle_host_interrupts` and (feature
//! `fs`) `find_disk`. `VcpuSetup` is what `new_vcpu` is given. No `cfg(target_arch)`
//! lies outside this folder and the HAL.

use tessera_addr::HostPhysAddr;
use tessera_vm::GuestMemory;

/// What a vCPU is created from.
pub struct VcpuSetup<'a> {
    /// The VM's number among those created (tags its TLB entries).
    pub vmid: u8,
    /// Root of its stage-2 table.
    pub root: HostPhysAddr,
    /// The vCPU's index in its VM.
    pub index: usize,
    /// The physical CPU of each of the VM's vCPUs, by vCPU index (x86 describes
    /// their count in CPUID; riscv64 checks hart masks and fences those CPUs).
    #[cfg_attr(target_arch = "aarch64", allow(dead_code))]
    pub pcpus: &'a [usize],
    /// Counter ticks when the VM was created (where the guest's counter starts; riscv64
    /// guests read the platform's time as it is).
    #[cfg_attr(target_arch = "riscv64", allow(dead_code))]
    pub created_at: u64,
    /// The VM's RAM (x86's vCPU reads the instruction behind an MMIO exit itself).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub memory: &'a GuestMemory,
    /// The VM's config (x86 enters a kernel as its boot protocol says).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub config: &'a tessera_config::VmConfig,
}

/// The board's virtio-blk disk among its virtio-mmio transports (boards with a
/// device tree).
#[cfg(all(feature = "fs", not(target_arch = "x86_64")))]
pub fn find_disk() -> Result<tessera_os::disk::Disk, alloc::string::String> {
    use alloc::string::ToString;
    let dtb =
        tessera_os::hal::host_dtb().ok_or("the boot loader passed no device tree to find it in")?;
    let windows = tessera_dtb::find_compatible(dtb, "virtio,mmio")?;
    // SAFETY: these are the board's virtio-mmio transports from its device tree, in
    // the identity-mapped device range; passthrough refuses to give a VM the one the
    // disk is found on (`disk::window`), and until then no VM exists.
    unsafe { tessera_os::disk::Disk::probe_mmio(&windows) }.map_err(|e| e.to_string())
}

/// Arms this CPU's wake-up at host counter value `at`, when a waiting vCPU that is
/// not loaded has its timer due (aarch64: the EL2 physical timer, riscv64: HS-mode
/// stimecmp), or disarms it.
#[cfg(not(target_arch = "x86_64"))]
pub fn wake_at(at: Option<u64>) {
    tessera_os::hal::wake_at(at);
}

/// Kernel images run where they are copied (aarch64, riscv64): nothing to lay out;
/// the vCPU starts at `entry_point`.
#[cfg(not(target_arch = "x86_64"))]
pub fn place_kernel(
    config: &tessera_config::VmConfig,
    _memory: &GuestMemory,
    _size: u64,
    _boot_data: tessera_addr::GuestRange,
) -> Result<tessera_addr::GuestPhysAddr, alloc::string::String> {
    Ok(tessera_addr::GuestPhysAddr::new(config.kernel.entry_point))
}

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
