//! Tessera's unikernel layer: what the hypervisor runs on. Boot and CPU bring-up,
//! the console and logger, the heap, the physical frame allocator, and the hardware
//! abstraction (`hal`) with one folder per architecture.
#![no_std]

extern crate alloc;

#[cfg(not(target_arch = "x86_64"))]
mod boot_dtb;
pub mod console;
#[cfg(feature = "disk")]
pub mod disk;
pub mod frames;
pub mod hal;
mod heap;
pub mod logger;
pub mod platform;

/// Declares the hypervisor's entry points: `$main` runs on the boot CPU once the OS
/// layer is up, `$secondary` on every other CPU after it is started. Both take the
/// CPU index and never return.
#[macro_export]
macro_rules! entry {
    ($main:path, $secondary:path) => {
        /// Called by the OS layer's boot code on the boot CPU.
        #[unsafe(no_mangle)]
        extern "C" fn __tessera_main(cpu: usize) -> ! {
            $crate::init_boot_cpu();
            let main: fn(usize) -> ! = $main;
            main(cpu)
        }

        /// Called by the OS layer's boot code on each secondary CPU.
        #[unsafe(no_mangle)]
        extern "C" fn __tessera_secondary(cpu: usize) -> ! {
            $crate::hal::init_secondary_cpu(cpu);
            let secondary: fn(usize) -> ! = $secondary;
            secondary(cpu)
        }
    };
}

/// Brings up the OS layer on the boot CPU: console, logger, heap, frames, interrupt controller.
pub fn init_boot_cpu() {
    logger::init();
    heap::init();
    hal::init_boot_cpu();
    frames::init();
}
