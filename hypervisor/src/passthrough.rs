//! Devices a VM owns outright: their register windows are mapped into its stage-2
//! table at the host addresses, their interrupts are routed to it, and (for devices
//! named by host device tree path) their nodes are copied into its device tree.
//! Nothing the hypervisor itself uses (RAM, its console, the interrupt controller)
//! can be given away.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use tessera_addr::{GuestPhysAddr, HostPhysAddr};
use tessera_config::{PassthroughDevice, VmConfig};
use tessera_dtb::CopiedNode;
use tessera_os::{frames, hal, platform};
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

/// A physical window the hypervisor keeps for itself.
struct Reserved {
    what: &'static str,
    base: u64,
    size: u64,
}

/// Windows no VM may own.
fn reserved() -> Vec<Reserved> {
    let mut windows = alloc::vec![
        Reserved {
            what: "RAM",
            base: platform::RAM_BASE,
            size: platform::RAM_SIZE,
        },
        Reserved {
            what: "the hypervisor's console UART",
            base: platform::UART_BASE,
            size: frames::FRAME_SIZE,
        },
    ];
    windows.extend(
        arch::reserved_windows()
            .into_iter()
            .map(|(what, base, size)| Reserved { what, base, size }),
    );
    #[cfg(feature = "fs")]
    if let Some((base, size)) = crate::disk::window() {
        windows.push(Reserved {
            what: "the hypervisor's disk",
            base,
            size,
        });
    }
    windows
}

/// Maps and collects every passthrough device and address range of `config`.
pub fn assign(
    config: &VmConfig,
    stage2: &mut Stage2Table<arch::Stage2Format>,
) -> Result<Passthrough, String> {
    let mut given = Passthrough::default();
    let devices = &config.devices;
    for (i, device) in devices.passthrough_devices.iter().enumerate() {
        let field = format!("devices.passthrough_devices[{i}]");
        match device {
            PassthroughDevice::Path(path) => {
                if devices
                    .excluded_devices
                    .iter()
                    .any(|excluded| path == excluded)
                {
                    continue;
                }
                let dtb = hal::host_dtb()
                    .ok_or_else(|| format!("{field}: the boot loader passed no device tree"))?;
                let device = tessera_dtb::find_host_device(dtb, path)
                    .map_err(|e| format!("{field}: {e}"))?;
                for &(base, size) in &device.regs {
                    map(stage2, &field, base, base, size)?;
                }
                given.irqs.extend(&device.spis);
                given.nodes.push(device.node);
            }
            PassthroughDevice::Range {
                gpa,
                hpa,
                length,
                irq,
                ..
            } => {
                map(stage2, &field, *gpa, *hpa, *length)?;
                if let Ok(irq) = u32::try_from(*irq)
                    && arch::is_device_irq(irq)
                {
                    given.irqs.push(irq);
                }
            }
        }
    }
    for (i, &(gpa, length)) in devices.passthrough_addresses.iter().enumerate() {
        map(
            stage2,
            &format!("devices.passthrough_addresses[{i}]"),
            gpa,
            gpa,
            length,
        )?;
    }
    if let Some(&irq) = given.irqs.iter().find(|&&i| i == platform::UART_IRQ) {
        return Err(format!(
            "devices.passthrough_devices: interrupt {irq} belongs to the hypervisor's console"
        ));
    }
    Ok(given)
}

/// Maps host `[hpa, hpa + size)` at `gpa` as device memory, whole pages.
fn map(
    stage2: &mut Stage2Table<arch::Stage2Format>,
    field: &str,
    gpa: u64,
    hpa: u64,
    size: u64,
) -> Result<(), String> {
    let page = frames::FRAME_SIZE;
    if gpa % page != hpa % page {
        return Err(format!(
            "{field}: guest {gpa:#x} and host {hpa:#x} differ within a page"
        ));
    }
    let start = hpa - hpa % page;
    let end = hpa
        .checked_add(size)
        .map(|end| end.div_ceil(page) * page)
        .ok_or_else(|| format!("{field}: {hpa:#x} + {size:#x} wraps around"))?;
    if let Some(r) = reserved()
        .iter()
        .find(|r| start < r.base.saturating_add(r.size) && r.base < end)
    {
        return Err(format!(
            "{field}: {hpa:#x}..{end:#x} overlaps {} ({:#x}), which the hypervisor keeps",
            r.what, r.base
        ));
    }
    let flags = MappingFlags::READ | MappingFlags::WRITE | MappingFlags::DEVICE;
    stage2
        .map(
            &mut OsFrames,
            GuestPhysAddr::new(gpa - gpa % page),
            HostPhysAddr::new(start),
            end - start,
            flags,
        )
        .map_err(|e| format!("{field}: stage-2 mapping of {hpa:#x} failed: {e}"))
}
