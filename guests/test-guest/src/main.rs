//! Tessera's test guest: a bare-metal program that checks what its VM gives it
//! (console, privilege level, the memory the device tree describes, the firmware
//! interface), prints `tessera-guest: <check> ok` for each, then powers the VM off.
#![no_std]
#![no_main]

mod arch;

use core::fmt::Write;

/// Formats to the console.
struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        s.bytes().for_each(arch::putc);
        Ok(())
    }
}

macro_rules! say {
    ($($arg:tt)*) => {{ let _ = writeln!(Console, $($arg)*); }};
}

/// Bytes of RAM probed at the top of the largest memory region.
const PROBE_BYTES: u64 = 1 << 20;

/// Runs every check; `dtb` is the device tree address the VM passed.
fn run_checks(dtb: usize) -> Result<(), &'static str> {
    say!("tessera-guest: console ok");
    if arch::privilege_level() != arch::EXPECTED_PRIVILEGE {
        return Err("el1: running at the wrong privilege level");
    }
    say!("tessera-guest: el1 ok");
    check_memory(dtb)?;
    say!("tessera-guest: memory ok");
    let (major, minor) = arch::firmware_version();
    if major < 1 {
        return Err("psci version: below 1.0");
    }
    say!("tessera-guest: psci version ok ({major}.{minor})");
    Ok(())
}

/// The device tree must describe RAM holding this program; its top megabyte must keep
/// what is written to it.
fn check_memory(dtb: usize) -> Result<(), &'static str> {
    // SAFETY: the VM passes the address of a device tree blob in its RAM.
    let fdt = unsafe { fdt::Fdt::from_ptr(dtb as *const u8) }
        .map_err(|_| "memory: no valid device tree")?;
    let here = run_checks as *const () as u64;
    let region = fdt
        .memory()
        .regions()
        .filter_map(|r| Some((r.starting_address as u64, r.size? as u64)))
        .find(|&(base, size)| (base..base + size).contains(&here))
        .ok_or("memory: the device tree does not describe the RAM this program runs in")?;
    let (base, size) = region;
    say!(
        "tessera-guest: RAM {base:#x}..{:#x} ({} MiB)",
        base + size,
        size >> 20
    );
    let probe = base + size - PROBE_BYTES;
    for step in 0..PROBE_BYTES / 8 {
        let addr = (probe + step * 8) as *mut u64;
        // SAFETY: the top megabyte of our own RAM holds neither this image nor the
        // device tree (both sit at the bottom); nothing else uses it.
        unsafe { addr.write_volatile(step ^ 0x5a5a_5a5a_0000_0000) };
    }
    for step in 0..PROBE_BYTES / 8 {
        let addr = (probe + step * 8) as *const u64;
        // SAFETY: as above.
        if unsafe { addr.read_volatile() } != step ^ 0x5a5a_5a5a_0000_0000 {
            return Err("memory: RAM did not keep what was written");
        }
    }
    Ok(())
}

/// Entry from the architecture's start code.
fn guest_main(dtb: usize) -> ! {
    match run_checks(dtb) {
        Ok(()) => say!("tessera-guest: all checks passed"),
        Err(why) => say!("tessera-guest: FAILED: {why}"),
    }
    arch::power_off()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    say!("tessera-guest: FAILED: panic: {info}");
    arch::power_off()
}
