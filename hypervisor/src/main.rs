//! Tessera, a type-1 hypervisor: the VMM application. It creates every VM compiled
//! into the image, starts the other physical CPUs, and runs each vCPU on the CPU its
//! config pins it to until every VM has ended.
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod console;
#[cfg(feature = "fs")]
mod disk;
mod guest_ram;
mod images;
mod irq;
mod passthrough;
mod registry;
mod scheduler;
mod shared_regions;
mod shell;
mod vmm;

use tessera_os::{hal, platform, println};

tessera_os::entry!(main, secondary);

/// Boot CPU: create the VMs, start the other CPUs, run.
fn main(cpu: usize) -> ! {
    println!(
        "tessera: Tessera hypervisor {} ({}), {} CPUs, log level {}",
        env!("CARGO_PKG_VERSION"),
        arch::NAME,
        platform::CPU_COUNT,
        option_env!("TESSERA_LOG").unwrap_or("info")
    );
    arch::init_cpu_for_guests();
    let vms = vmm::create_all();
    scheduler::install(vms, cpu);
    for other in (0..platform::CPU_COUNT).filter(|&other| other != cpu) {
        if let Err(error) = hal::start_cpu(other) {
            println!("tessera: CPU {other} did not start: {error:?}");
        }
    }
    scheduler::run(cpu)
}

/// Other CPUs: run their vCPUs.
fn secondary(cpu: usize) -> ! {
    arch::init_cpu_for_guests();
    log::debug!("CPU {cpu} up");
    scheduler::run(cpu)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!(
        "tessera: hypervisor panic on CPU {}: {info}",
        hal::cpu_index()
    );
    hal::halt()
}
