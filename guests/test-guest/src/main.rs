//! Tessera's test guest: a bare-metal program that checks what its VM gives it
//! (console, privilege level, the memory its boot information describes, the
//! firmware interface), prints `tessera-guest: <check> ok` for each, then powers the
//! VM off. The boot information is a device tree on aarch64 and riscv64; on x86_64
//! (which has no hostile mode yet) it is the Linux boot
//! protocol's zero page, or the multiboot information when the VM enters the same
//! image as a multiboot kernel (its header and 32-bit entry are in `arch::x86_64`).
//! With `tessera.all-ram` it checks every RAM region its boot information names, not
//! only its own. With `tessera.reset` on its command line it first resets its VM
//! once, and checks that it starts again with its RAM kept (a warm reset). With
//! `tessera.gic` (aarch64, a VM with a GICv3) it checks that the timer PPI is the
//! timer's output, a level. Always: an access to nothing is an abort at its own
//! vector; on aarch64 a breakpoint, a watchpoint and a software step are taken as
//! the architecture defines; on riscv64 the Sstc timer interrupt is the comparison's
//! level. With `tessera.messages=<count>` it exchanges that many messages with the
//! other VMs of the shared region its device tree describes (`messages`); with
//! `tessera.probe=<address>` it checks that a read there aborts as one of nothing.
#![no_std]
#![no_main]

mod arch;
mod bench;
mod boot_info;
#[cfg(not(target_arch = "x86_64"))]
mod hostile;
mod irq;
#[cfg(not(target_arch = "x86_64"))]
mod messages;

use boot_info::BootInfo;
use core::fmt::Write;

/// Formats to the console.
pub(crate) struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        s.bytes().for_each(arch::putc);
        Ok(())
    }
}

/// Prints a line on the console.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{ let _ = writeln!(Console, $($arg)*); }};
}

/// What a multiboot loader leaves in `eax`.
#[cfg(target_arch = "x86_64")]
const MULTIBOOT_LOADER_MAGIC: u32 = 0x2bad_b002;

/// Bytes of RAM probed at the top of the memory region.
const PROBE_BYTES: u64 = 1 << 20;

/// Runs every check; `boot` is the address of the boot information the VM passed.
fn run_checks(boot: usize) -> Result<(), &'static str> {
    say!("tessera-guest: console ok");
    if !arch::runs_at_kernel_level() {
        return Err("privilege: not running at the guest kernel level");
    }
    say!("tessera-guest: {} ok", arch::PRIVILEGE_NAME);
    let info = boot_info::read(boot)?;
    #[cfg(target_arch = "x86_64")]
    if let Some(magic) = arch::multiboot_magic() {
        if magic != MULTIBOOT_LOADER_MAGIC {
            return Err("multiboot: eax at entry is not the loader magic 0x2badb002");
        }
        say!(
            "tessera-guest: multiboot ok (eax {magic:#x}, information at {boot:#x}, command line \"{}\")",
            info.cmdline.unwrap_or("")
        );
    }
    let ram = check_memory(&info)?;
    say!("tessera-guest: memory ok");
    #[cfg(not(target_arch = "x86_64"))]
    check_abort(ram)?;
    // Natively, the firmware's tables follow the RAM a PC's memory map gives: the
    // floating bus is checked under a hypervisor only (the benchmarks run both ways).
    #[cfg(target_arch = "x86_64")]
    if !info.has_word("tessera.bench") {
        check_open_bus(ram)?;
    }
    #[cfg(target_arch = "aarch64")]
    {
        arch::debug_check()?;
        say!("tessera-guest: debug ok (breakpoint, watchpoint, single step)");
        let counters = arch::pmu_check()?;
        say!(
            "tessera-guest: pmu ok (cycle counter rising, {counters} event counters, software increments counted)"
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    if let Some(case) = info.word_value("tessera.hostile=") {
        hostile::run(case, ram.0 + ram.1);
    }
    if info.has_word("tessera.reset") {
        check_reset(ram);
    }
    check_firmware_version()?;
    #[cfg(target_arch = "x86_64")]
    {
        arch::apic_check()?;
        say!(
            "tessera-guest: apic ok (timer interrupt, a self IPI held back by the task priority until it dropped)"
        );
    }
    #[cfg(target_arch = "riscv64")]
    {
        arch::firmware_checks()?;
        if arch::hsm_suspend_check()? {
            say!("tessera-guest: hsm suspend ok (retentive, non-retentive)");
        } else {
            say!("tessera-guest: hsm suspend ok (retentive; non-retentive not offered)");
        }
        match irq::suspended_status_check() {
            Some(result) => {
                result?;
                say!("tessera-guest: hsm status ok (a suspended hart is SUSPENDED to another)");
            }
            None => say!("tessera-guest: hsm status skipped (one hart)"),
        }
        arch::timer_level_check()?;
        say!("tessera-guest: timer level ok");
    }
    #[cfg(target_arch = "aarch64")]
    if let Some(rtc) = info.rtc {
        check_rtc(rtc)?;
    }
    #[cfg(target_arch = "aarch64")]
    if info.has_word("tessera.gic") {
        arch::timer_level_check()?;
        say!("tessera-guest: timer level ok");
        arch::pmu_interrupt_check()?;
        say!("tessera-guest: pmu interrupt ok (overflow raised it, clearing it lowered it)");
    }
    #[cfg(not(target_arch = "x86_64"))]
    if let Some(count) = info.word_value("tessera.messages=") {
        let count = count
            .parse()
            .map_err(|_| "messages: tessera.messages= wants a count")?;
        let region = info
            .shared
            .ok_or("messages: the device tree describes no shared region")?;
        messages::run(region, count)?;
    }
    #[cfg(not(target_arch = "x86_64"))]
    if info.has_word("tessera.bench-doorbell") {
        let hz = arch::counter_frequency()
            .or(info.timebase)
            .ok_or("bench: the counter frequency is unknown")?;
        let region = info
            .shared
            .ok_or("bench: the device tree describes no shared region")?;
        messages::bench(region, hz)?;
    }
    #[cfg(not(target_arch = "x86_64"))]
    if let Some(address) = info.word_value("tessera.probe=") {
        check_probe(address)?;
    }
    #[cfg(not(target_arch = "x86_64"))]
    if info.has_word("tessera.neighbour") {
        check_neighbour(ram)?;
    }
    if info.has_word("tessera.bench") {
        let hz = arch::counter_frequency()
            .or(info.timebase)
            .ok_or("bench: the counter frequency is unknown")?;
        // The lower half of RAM above the first 4 MiB (image, stack, device tree).
        let (base, size) = ram;
        bench::run((base + (4 << 20), (size / 2).saturating_sub(4 << 20)), hz);
    }
    Ok(())
}

/// The firmware interface's version must be 1.0 or later (on x86_64 only under
/// Tessera: a PC's firmware has no call interface).
fn check_firmware_version() -> Result<(), &'static str> {
    #[cfg(target_arch = "x86_64")]
    if !arch::under_tessera() {
        say!(
            "tessera-guest: {} skipped (not under Tessera)",
            arch::FIRMWARE_NAME
        );
        return Ok(());
    }
    let (major, minor) = arch::firmware_version();
    if major < 1 {
        return Err("firmware version: below 1.0");
    }
    say!(
        "tessera-guest: {} version ok ({major}.{minor})",
        arch::FIRMWARE_NAME
    );
    Ok(())
}

/// Ticks of the neighbour check and their spacing in counter ticks.
#[cfg(not(target_arch = "x86_64"))]
const NEIGHBOUR_TICKS: u64 = 20;
#[cfg(not(target_arch = "x86_64"))]
const NEIGHBOUR_TICK_SPACING: u64 = 50_000;

/// Beside a hostile VM: fills 1 MiB of RAM with a pattern, takes timer interrupts
/// while the other VM misbehaves, then checks the pattern is intact.
#[cfg(not(target_arch = "x86_64"))]
fn check_neighbour((base, size): (u64, u64)) -> Result<(), &'static str> {
    let area = base + size / 2;
    let words = (1u64 << 20) / 8;
    let pattern = |i: u64| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x7e55;
    for i in 0..words {
        // SAFETY: the upper half of this guest's RAM holds nothing else.
        unsafe { ((area + i * 8) as *mut u64).write_volatile(pattern(i)) };
    }
    arch::init_cpu();
    irq::take_ticks(NEIGHBOUR_TICKS, NEIGHBOUR_TICK_SPACING);
    for i in 0..words {
        // SAFETY: as above.
        if unsafe { ((area + i * 8) as *const u64).read_volatile() } != pattern(i) {
            return Err("neighbour: its memory changed");
        }
    }
    say!("tessera-guest: neighbour ok ({NEIGHBOUR_TICKS} timer ticks, memory intact)");
    Ok(())
}

/// A read of the first byte past RAM, where there is neither RAM nor a device, must
/// reach this guest's own vector as the architecture's abort (aarch64: a data abort,
/// riscv64: a load access fault), and the guest runs on after its handler.
#[cfg(not(target_arch = "x86_64"))]
fn check_abort((base, size): (u64, u64)) -> Result<(), &'static str> {
    let syndrome = hostile::fault_of(|| {
        hostile::read(base + size);
    })
    .ok_or("abort: a read past RAM raised no exception")?;
    if !arch::is_external_abort(syndrome) {
        return Err("abort: a read past RAM raised another exception than an abort");
    }
    say!("tessera-guest: abort ok (syndrome {syndrome:#x})");
    Ok(())
}

/// A read of the first bytes past RAM, where a PC has neither RAM nor a device, must
/// return all ones (the floating bus), and a write there must be dropped; the guest
/// runs on.
#[cfg(target_arch = "x86_64")]
fn check_open_bus((base, size): (u64, u64)) -> Result<(), &'static str> {
    let past = (base + size) as *mut u64;
    // SAFETY: the address past this guest's RAM (inside its identity map), where
    // nothing is: the access is the check.
    let first = unsafe { core::ptr::read_volatile(past) };
    if first != u64::MAX {
        return Err("open bus: a read past RAM did not return all ones");
    }
    // SAFETY: as above: the write must be dropped.
    unsafe { core::ptr::write_volatile(past, 0) };
    // SAFETY: as above.
    if unsafe { core::ptr::read_volatile(past) } != u64::MAX {
        return Err("open bus: a write past RAM was not dropped");
    }
    say!("tessera-guest: open bus ok (past RAM reads all ones, writes dropped)");
    Ok(())
}

/// A read of `address` (hexadecimal, `0x` first), memory this VM was not given (a
/// region other VMs share), must be the same abort as one of nothing at all.
#[cfg(not(target_arch = "x86_64"))]
fn check_probe(address: &str) -> Result<(), &'static str> {
    let address = address
        .strip_prefix("0x")
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .ok_or("probe: tessera.probe= wants a hexadecimal address")?;
    let syndrome = hostile::fault_of(|| {
        hostile::read(address);
    })
    .ok_or("probe: the read was answered: this VM reaches memory it was not given")?;
    if !arch::is_external_abort(syndrome) {
        return Err("probe: the read raised another exception than an abort");
    }
    say!("tessera-guest: probe ok ({address:#x} is not there: syndrome {syndrome:#x})");
    Ok(())
}

/// Seconds since 1970 at 2020-01-01: a running real-time clock reads more.
#[cfg(target_arch = "aarch64")]
const RTC_SANE_SECONDS: u32 = 1_577_836_800;

/// A PL031 the device tree describes (a device passed through to this VM, or the
/// board's own natively) must be reachable and tell the time: its data register
/// (RTCDR, offset 0) counts seconds since 1970.
#[cfg(target_arch = "aarch64")]
fn check_rtc(base: u64) -> Result<(), &'static str> {
    // SAFETY: the device tree gives this window to this program as a PL031, whose
    // data register is read-only and has no side effect.
    let seconds = unsafe { (base as *const u32).read_volatile() };
    if seconds < RTC_SANE_SECONDS {
        return Err("rtc: the PL031 does not tell the time");
    }
    say!("tessera-guest: rtc ok (pl031 at {base:#x})");
    Ok(())
}

/// Marks RAM across the one reset of the reset check.
const RESET_MAGIC: u64 = 0x7e55_e7a0_4e5e_7001;

/// First run: marks RAM and resets the VM. Second run: finds the mark, clears it.
fn check_reset((base, size): (u64, u64)) {
    let mark = (base + size - PROBE_BYTES - 8) as *mut u64;
    // SAFETY: the word just below the probed megabyte is ours and unused otherwise.
    if unsafe { mark.read_volatile() } == RESET_MAGIC {
        // SAFETY: as above.
        unsafe { mark.write_volatile(0) };
        say!("tessera-guest: reset ok");
    } else {
        // SAFETY: as above.
        unsafe { mark.write_volatile(RESET_MAGIC) };
        say!("tessera-guest: resetting the VM");
        arch::reset()
    }
}

/// The boot information must describe RAM holding this program, and its top
/// megabyte must keep what is written to it; with `tessera.all-ram` (aarch64 and
/// riscv64, whose device tree names only RAM beside ours) so must the top megabyte
/// of every other RAM region it describes, each writable. Returns the region
/// holding this program (base, size).
fn check_memory(info: &BootInfo) -> Result<(u64, u64), &'static str> {
    let here = run_checks as *const () as u64;
    let region = info
        .ram()
        .find(|&(base, size)| (base..base + size).contains(&here))
        .ok_or("memory: the boot information does not describe the RAM this program runs in")?;
    let (base, size) = region;
    say!(
        "tessera-guest: RAM {base:#x}..{:#x} ({} MiB)",
        base + size,
        size >> 20
    );
    // SAFETY: the top megabyte of our own RAM holds neither this image nor the device
    // tree (both sit at the bottom); nothing else uses it.
    unsafe { probe(base + size - PROBE_BYTES, PROBE_BYTES) }?;
    #[cfg(not(target_arch = "x86_64"))]
    let others = info
        .ram()
        .filter(|&other| other != region && info.has_word("tessera.all-ram"));
    #[cfg(not(target_arch = "x86_64"))]
    for (other, other_size) in others {
        let bytes = other_size.min(PROBE_BYTES);
        // SAFETY: RAM the boot information describes beside ours holds nothing of
        // this program's (image, stack and device tree are in its own region).
        unsafe { probe(other + other_size - bytes, bytes) }?;
        say!(
            "tessera-guest: RAM {other:#x}..{:#x} ({} MiB) ok",
            other + other_size,
            other_size >> 20
        );
    }
    Ok(region)
}

/// Writes a pattern over `[base, base + bytes)` and reads it back.
///
/// # Safety
/// The range is RAM nothing else uses.
unsafe fn probe(base: u64, bytes: u64) -> Result<(), &'static str> {
    let pattern = |step: u64| step ^ 0x5a5a_5a5a_0000_0000;
    for step in 0..bytes / 8 {
        // SAFETY: the caller gives us the range.
        unsafe { ((base + step * 8) as *mut u64).write_volatile(pattern(step)) };
    }
    for step in 0..bytes / 8 {
        // SAFETY: as above.
        if unsafe { ((base + step * 8) as *const u64).read_volatile() } != pattern(step) {
            return Err("memory: RAM did not keep what was written");
        }
    }
    Ok(())
}

/// Entry from the architecture's start code, with the boot information's address.
fn guest_main(boot: usize) -> ! {
    match run_checks(boot) {
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
