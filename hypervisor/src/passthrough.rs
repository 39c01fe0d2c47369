//! Devices a VM owns outright: their register windows are mapped into its stage-2
//! table at the host addresses, their interrupts are routed to it, and (for devices
//! named by host device tree path) their nodes are copied into its device tree.
//!
//! A row may name one node, an address range, or the whole tree (`["/"]`: every
//! device node of the host tree but those under `excluded_devices`). What the
//! hypervisor keeps cannot be given away: a VM asking for the interrupt controller
//! or the console UART gets the emulated equivalent at the same address instead
//! (one line at boot says so); RAM and the hypervisor's disk are refused for a row
//! that names them, and skipped with a line when they come with the whole tree.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use tessera_addr::{GuestPhysAddr, GuestRange, HostPhysAddr};
use tessera_config::{EmuType, EmulatedDevice, PassthroughDevice, VmConfig};
use tessera_dtb::{CopiedNode, HostDevice};
use tessera_os::{frames, hal, platform, println};
use tessera_stage2::{MappingFlags, Stage2Table};

use crate::arch;
use crate::vmm::OsFrames;

/// What a VM was given.
#[derive(Default)]
pub struct Passthrough {
    /// Device tree nodes for the guest.
    pub nodes: Vec<CopiedNode>,
    /// Physical device interrupts routed to the VM.
    pub irqs: Vec<u32>,
}

/// What the hypervisor keeps of a physical window.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kept {
    /// The interrupt controller: the VM gets the emulated one.
    InterruptController,
    /// The hypervisor's console UART: the VM gets an emulated console UART.
    Console,
    /// Not to be given in any form (RAM, the hypervisor's disk).
    Refused,
}

/// A physical window the hypervisor keeps for itself.
struct Reserved {
    what: &'static str,
    base: u64,
    size: u64,
    kept: Kept,
}

/// Windows no VM may own.
fn reserved() -> Vec<Reserved> {
    let mut windows = alloc::vec![
        Reserved {
            what: "RAM",
            base: platform::RAM_BASE,
            size: platform::RAM_SIZE,
            kept: Kept::Refused,
        },
        Reserved {
            what: "the console UART",
            base: platform::UART_BASE,
            size: frames::FRAME_SIZE,
            kept: Kept::Console,
        },
    ];
    windows.extend(
        arch::interrupt_controller_windows()
            .into_iter()
            .map(|(what, base, size)| Reserved {
                what,
                base,
                size,
                kept: Kept::InterruptController,
            }),
    );
    #[cfg(feature = "fs")]
    if let Some((base, size)) = crate::disk::window() {
        windows.push(Reserved {
            what: "the boot disk",
            base,
            size,
            kept: Kept::Refused,
        });
    }
    windows
}

/// One thing a config asks for.
struct Wanted {
    /// The config field, with the node path for whole-tree rows.
    field: String,
    /// Comes from a whole-tree row: what cannot be given is skipped, not refused.
    from_tree: bool,
    /// Windows (guest address, host address, size).
    windows: Vec<(u64, u64, u64)>,
    /// Physical interrupts to route, or why they cannot be.
    irqs: Result<Vec<u32>, String>,
    /// The node for the guest's tree, for a device found by path.
    node: Option<CopiedNode>,
}

/// Maps and collects every passthrough device and address range of `config`. A
/// request for the interrupt controller or the console UART adds the emulated
/// device to `config.devices.emu_devices` in its place.
pub fn assign(
    config: &mut VmConfig,
    stage2: &mut Stage2Table<arch::Stage2Format>,
) -> Result<Passthrough, String> {
    let mut given = Passthrough::default();
    let mut windows = Vec::new();
    let reserved = reserved();
    for wanted in wanted(config)? {
        let pages = (wanted.windows.iter())
            .map(|&(gpa, hpa, size)| page_window(&wanted.field, gpa, hpa, size))
            .collect::<Result<Vec<_>, _>>()?;
        let kept = reserved
            .iter()
            .filter(|r| {
                pages.iter().any(|w| {
                    w.hpa < r.base.saturating_add(r.size) && r.base < w.hpa.saturating_add(w.size)
                })
            })
            .collect::<Vec<_>>();
        if let Some(r) = kept.iter().find(|r| r.kept == Kept::Refused) {
            let why = format!(
                "overlaps {} ({:#x}), which the hypervisor keeps",
                r.what, r.base
            );
            skip_or_refuse(config, &wanted, &why)?;
            continue;
        }
        if !kept.is_empty() {
            // One substitute per kind: a GIC's distributor and redistributors are one.
            for kind in [Kept::InterruptController, Kept::Console] {
                if let Some(r) = kept.iter().find(|r| r.kept == kind) {
                    substitute(config, &wanted.field, r);
                }
            }
            continue;
        }
        let irqs = match clash_with_vm(config, &wanted).map_or(wanted.irqs.clone(), Err) {
            Ok(irqs) => irqs,
            Err(why) => {
                skip_or_refuse(config, &wanted, &why)?;
                continue;
            }
        };
        windows.extend(pages);
        given.irqs.extend(irqs);
        given.nodes.extend(wanted.node);
    }
    for window in merged(windows) {
        map(stage2, window)?;
    }
    if let Some(&irq) = given.irqs.iter().find(|&&i| i == platform::UART_IRQ) {
        return Err(format!(
            "devices.passthrough_devices: interrupt {irq} belongs to the hypervisor's console"
        ));
    }
    Ok(given)
}

/// Every device, range and address window `config` asks for, whole-tree rows
/// expanded into the host tree's device nodes less the excluded ones.
fn wanted(config: &VmConfig) -> Result<Vec<Wanted>, String> {
    let devices = &config.devices;
    let excluded = |path: &str| {
        devices.excluded_devices.iter().any(|excluded| {
            path == excluded
                || path
                    .strip_prefix(excluded.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    };
    let mut wanted = Vec::new();
    for (i, device) in devices.passthrough_devices.iter().enumerate() {
        let field = format!("devices.passthrough_devices[{i}]");
        match device {
            PassthroughDevice::Path(path) if path == "/" => {
                let dtb = host_dtb(&field)?;
                let paths = tessera_dtb::device_paths(dtb).map_err(|e| format!("{field}: {e}"))?;
                let (left_out, paths): (Vec<String>, Vec<String>) =
                    paths.into_iter().partition(|path| excluded(path));
                println!(
                    "tessera: VM {} ({}): {field} (\"/\"): {} host device nodes, {} excluded",
                    config.base.id,
                    config.base.name,
                    paths.len(),
                    left_out.len()
                );
                for path in paths {
                    let field = format!("{field} ({path})");
                    match tessera_dtb::find_host_device(dtb, &path) {
                        Ok(device) => wanted.push(from_node(field, true, device)),
                        Err(e) => say_skipped(config, &field, &e),
                    }
                }
            }
            PassthroughDevice::Path(path) => {
                if excluded(path) {
                    continue;
                }
                let device = tessera_dtb::find_host_device(host_dtb(&field)?, path)
                    .map_err(|e| format!("{field}: {e}"))?;
                wanted.push(from_node(format!("{field} ({path})"), false, device));
            }
            PassthroughDevice::Range {
                name,
                gpa,
                hpa,
                length,
                irq,
            } => wanted.push(Wanted {
                field: format!("{field} ({name})"),
                from_tree: false,
                windows: alloc::vec![(*gpa, *hpa, *length)],
                irqs: Ok(u32::try_from(*irq)
                    .ok()
                    .filter(|&irq| arch::is_device_irq(irq))
                    .into_iter()
                    .collect()),
                node: None,
            }),
        }
    }
    for (i, &(gpa, length)) in devices.passthrough_addresses.iter().enumerate() {
        wanted.push(Wanted {
            field: format!("devices.passthrough_addresses[{i}]"),
            from_tree: false,
            windows: alloc::vec![(gpa, gpa, length)],
            irqs: Ok(Vec::new()),
            node: None,
        });
    }
    Ok(wanted)
}

/// The host device tree, which path rows need.
fn host_dtb(field: &str) -> Result<&'static [u8], String> {
    hal::host_dtb().ok_or_else(|| format!("{field}: the boot loader passed no device tree"))
}

/// What a device found in the host tree asks for: its windows at the same address.
fn from_node(field: String, from_tree: bool, device: HostDevice) -> Wanted {
    Wanted {
        field,
        from_tree,
        windows: device
            .regs
            .iter()
            .map(|&(base, size)| (base, base, size))
            .collect(),
        irqs: device.spis,
        node: Some(device.node),
    }
}

/// A reason `wanted` cannot sit in the VM's own map: its windows overlap the VM's
/// RAM or one of its emulated devices.
fn clash_with_vm(config: &VmConfig, wanted: &Wanted) -> Option<String> {
    let overlaps = |base: u64, size: u64| {
        let other = GuestRange::new(GuestPhysAddr::new(base), size);
        (wanted.windows.iter()).any(|&(gpa, _, length)| {
            GuestRange::new(GuestPhysAddr::new(gpa), length).overlaps(&other)
        })
    };
    if let Some((i, _)) = (config.kernel.memory_regions.iter().enumerate())
        .find(|(_, region)| overlaps(region.gpa, region.size))
    {
        return Some(format!(
            "overlaps the VM's RAM (kernel.memory_regions[{i}])"
        ));
    }
    let on_addresses =
        |device: &&EmulatedDevice| !(arch::CONSOLE_ON_PORTS && device.emu_type == EmuType::Console);
    config
        .devices
        .emu_devices
        .iter()
        .filter(on_addresses)
        .find(|device| overlaps(device.gpa, device.length))
        .map(|device| format!("overlaps the VM's emulated device \"{}\"", device.name))
}

/// A whole-tree node that cannot be given is skipped with a line; a row that names
/// it is refused.
fn skip_or_refuse(config: &VmConfig, wanted: &Wanted, why: &str) -> Result<(), String> {
    if !wanted.from_tree {
        return Err(format!("{}: {why}", wanted.field));
    }
    say_skipped(config, &wanted.field, why);
    Ok(())
}

/// The line that says a whole-tree node was left out, and why.
fn say_skipped(config: &VmConfig, field: &str, why: &str) {
    println!(
        "tessera: VM {} ({}): {field}: skipped: {why}",
        config.base.id, config.base.name
    );
}

/// Gives the VM the emulated equivalent of what `reserved` keeps (the interrupt
/// controller, the console UART) unless its config already emulates one, and says so.
fn substitute(config: &mut VmConfig, field: &str, reserved: &Reserved) {
    let devices = &mut config.devices.emu_devices;
    let (has_one, rows, what) = match reserved.kept {
        Kept::InterruptController => (
            devices.iter().any(arch::is_arch_device),
            arch::emulated_interrupt_controller(config.base.cpu_num),
            format!("an emulated {}", arch::interrupt_controller()),
        ),
        Kept::Console => (
            devices.iter().any(|d| d.emu_type == EmuType::Console),
            Some(alloc::vec![EmulatedDevice {
                name: "console".into(),
                gpa: platform::UART_BASE,
                length: arch::CONSOLE_WINDOW,
                irq: platform::UART_IRQ.into(),
                emu_type: EmuType::Console,
                config: Vec::new(),
            }]),
            format!(
                "an emulated console UART (interrupt {})",
                platform::UART_IRQ
            ),
        ),
        Kept::Refused => return,
    };
    let (id, name) = (config.base.id, &config.base.name);
    let keeps = format!("{field}: the hypervisor keeps {}", reserved.what);
    match rows {
        _ if has_one => {
            println!("tessera: VM {id} ({name}): {keeps}; the VM's own emulated one serves")
        }
        Some(rows) => {
            println!(
                "tessera: VM {id} ({name}): {keeps}; the VM gets {what} at {:#x} instead",
                reserved.base
            );
            devices.extend(rows);
        }
        None => println!("tessera: VM {id} ({name}): {keeps}; the VM has none"),
    }
}

/// Whole pages of device memory to map: guest start, host start, size, and the field
/// that asked for them (for messages).
struct PageWindow {
    gpa: u64,
    hpa: u64,
    size: u64,
    field: String,
}

/// The whole pages holding host `[hpa, hpa + size)`, to be mapped at `gpa`.
fn page_window(field: &str, gpa: u64, hpa: u64, size: u64) -> Result<PageWindow, String> {
    let page = frames::FRAME_SIZE;
    if gpa % page != hpa % page {
        return Err(format!(
            "{field}: guest {gpa:#x} and host {hpa:#x} differ within a page"
        ));
    }
    let end = hpa
        .checked_add(size)
        .map(|end| end.div_ceil(page) * page)
        .ok_or_else(|| format!("{field}: {hpa:#x} + {size:#x} wraps around"))?;
    let start = hpa - hpa % page;
    Ok(PageWindow {
        gpa: gpa - gpa % page,
        hpa: start,
        size: end - start,
        field: field.into(),
    })
}

/// `windows` in guest address order, those that share pages at the same host
/// offset made one (devices whose registers sit in one page, such as QEMU's
/// virtio-mmio transports 0x200 apart).
fn merged(mut windows: Vec<PageWindow>) -> Vec<PageWindow> {
    windows.sort_by_key(|w| w.gpa);
    let mut out: Vec<PageWindow> = Vec::new();
    for window in windows {
        if let Some(last) = out.last_mut()
            && window.gpa <= last.gpa + last.size
            && window.hpa.wrapping_sub(window.gpa) == last.hpa.wrapping_sub(last.gpa)
        {
            last.size = last.size.max(window.gpa + window.size - last.gpa);
            continue;
        }
        out.push(window);
    }
    out
}

/// Maps host device window `[hpa, hpa + size)` (whole pages) at `gpa`, for `field`:
/// for a part of a host device the hypervisor itself chose to give the VM.
pub fn map_window(
    stage2: &mut Stage2Table<arch::Stage2Format>,
    field: &str,
    gpa: u64,
    hpa: u64,
    size: u64,
) -> Result<(), String> {
    map(stage2, page_window(field, gpa, hpa, size)?)
}

/// Maps a window as device memory.
fn map(stage2: &mut Stage2Table<arch::Stage2Format>, window: PageWindow) -> Result<(), String> {
    let flags = MappingFlags::READ | MappingFlags::WRITE | MappingFlags::DEVICE;
    stage2
        .map(
            &mut OsFrames,
            GuestPhysAddr::new(window.gpa),
            HostPhysAddr::new(window.hpa),
            window.size,
            flags,
        )
        .map_err(|e| {
            format!(
                "{}: stage-2 mapping of {:#x} failed: {e}",
                window.field, window.hpa
            )
        })
}
