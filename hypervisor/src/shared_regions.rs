//! Regions of memory VMs share (`devices.shared_regions`): each is one block of host
//! frames, taken when the first VM that declares it is created, mapped into every VM
//! that declares it (at that VM's address, with that VM's access) and never into
//! another, and given back when the last VM holding it is gone. Beside it each VM
//! gets a doorbell page on its bus ([`DoorbellWindow`]): a ring raises the doorbell
//! interrupt of the peers, through their own interrupt controllers.

use crate::arch;
use crate::irq;
use crate::vmm::{DeviceLayout, OsFrames};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use spin::Mutex;
use tessera_addr::{GuestPhysAddr, GuestRange, HostPhysAddr};
use tessera_config::{RegionAccess, SHARED_PAGE, SharedRegion, VmConfig};
use tessera_dtb::SharedRegionNode;
use tessera_os::frames;
use tessera_stage2::{MappingFlags, Stage2Table};
use tessera_vdev::{DoorbellEnd, DoorbellGroup, DoorbellSignal, DoorbellWindow};
use tessera_vm::InterruptController;

/// One region's host frames and the doorbells of the VMs that share it.
struct Region {
    host: HostPhysAddr,
    frames: usize,
    /// How many VMs it was set up for (each has its member index).
    members: u32,
    group: Arc<DoorbellGroup>,
}

impl Drop for Region {
    fn drop(&mut self) {
        frames::free(self.host, self.frames);
    }
}

/// The regions by name, for as long as a VM holds them.
static REGIONS: Mutex<BTreeMap<String, Weak<Region>>> = Mutex::new(BTreeMap::new());

/// Who shares what among the VMs of this boot: for each region, the ids of the VMs
/// that declare it, in id order. A VM's place there is its member index (the
/// doorbell's MEMBER register), the same in every VM's view.
pub struct Plan(BTreeMap<String, Vec<u64>>);

impl Plan {
    /// The plan of the VMs that are to be created.
    pub fn of<'a>(configs: impl Iterator<Item = &'a VmConfig>) -> Self {
        let mut members: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for config in configs {
            for region in &config.devices.shared_regions {
                members
                    .entry(region.name.clone())
                    .or_default()
                    .push(config.base.id);
            }
        }
        members.values_mut().for_each(|ids| ids.sort_unstable());
        Self(members)
    }

    /// VM `id`'s member index in region `name`, and how many VMs share it.
    fn member(&self, name: &str, id: u64) -> Option<(u32, u32)> {
        let ids = self.0.get(name)?;
        let index = ids.iter().position(|&other| other == id)?;
        Some((u32::try_from(index).ok()?, u32::try_from(ids.len()).ok()?))
    }
}

/// A VM's part of one shared region: the memory mapped into it, and what it declared.
pub struct SharedMapping {
    region: Arc<Region>,
    declared: SharedRegion,
    member: u32,
    field: String,
}

/// Maps each shared region `config` declares into its `stage2` table, taking the
/// region's frames if no VM holds it yet.
pub fn map(
    config: &VmConfig,
    plan: &Plan,
    stage2: &mut Stage2Table<arch::Stage2Format>,
) -> Result<Vec<SharedMapping>, String> {
    let mut mappings = Vec::new();
    for (i, declared) in config.devices.shared_regions.iter().enumerate() {
        let field = format!("devices.shared_regions[{i}] ({})", declared.name);
        let (member, members) = plan
            .member(&declared.name, config.base.id)
            .ok_or_else(|| format!("{field}: the region is not in this boot's plan"))?;
        let region = region(declared, members, &field)?;
        let flags = match declared.access {
            RegionAccess::ReadWrite => MappingFlags::READ | MappingFlags::WRITE,
            RegionAccess::ReadOnly => MappingFlags::READ,
        };
        stage2
            .map(
                &mut OsFrames,
                GuestPhysAddr::new(declared.gpa),
                region.host,
                declared.size,
                flags,
            )
            .map_err(|e| format!("{field}: stage-2 mapping failed: {e}"))?;
        mappings.push(SharedMapping {
            region,
            declared: declared.clone(),
            member,
            field,
        });
    }
    Ok(mappings)
}

/// The region `declared` names: the one a VM already holds, or a new one of its size
/// for `members` VMs.
fn region(declared: &SharedRegion, members: u32, field: &str) -> Result<Arc<Region>, String> {
    let mut regions = REGIONS.lock();
    if let Some(region) = regions.get(&declared.name).and_then(Weak::upgrade) {
        // A VM created later (`vm create`) takes back the place it had among them.
        if region.members != members {
            return Err(format!(
                "{field}: the region is held by VMs that share it {} ways, and this VM \
                 would make it {members}: a VM can join a region only in the place it \
                 had when the region was set up",
                region.members
            ));
        }
        return Ok(region);
    }
    let count = declared.size.div_ceil(frames::FRAME_SIZE) as usize;
    let host = frames::alloc_zeroed(count).ok_or_else(|| {
        format!(
            "{field}: no {} KiB of host memory left for the region",
            declared.size >> 10
        )
    })?;
    let region = Arc::new(Region {
        host,
        frames: count,
        members,
        group: Arc::new(DoorbellGroup::new(declared.size, members)),
    });
    regions.insert(declared.name.clone(), Arc::downgrade(&region));
    Ok(region)
}

/// A VM's doorbell of one region, kept for its resets and its report; dropped with
/// the VM, when its peers' rings stop reaching it.
pub struct Doorbell {
    declared: SharedRegion,
    end: Arc<DoorbellEnd>,
    /// The interrupt its page raises here, as the config numbers it (none without an
    /// interrupt controller).
    interrupt: Option<u32>,
    /// Held while the VM exists: the region's frames stay while a VM maps them.
    region: Arc<Region>,
}

impl Doorbell {
    /// Back to the state of a started VM (on its reset).
    pub fn reset(&self) {
        self.end.reset();
    }

    /// One line on the rings this VM got and gave.
    pub fn report(&self) -> String {
        let (received, sent) = self.end.counts();
        format!(
            "shared region `{}`: {received} rings received, {sent} sent",
            self.declared.name
        )
    }

    /// The region's node in the VM's device tree (its interrupt as the config
    /// numbers it; the architecture writes it as its binding does).
    pub fn node(&self) -> SharedRegionNode<'_> {
        let declared = &self.declared;
        SharedRegionNode {
            name: &declared.name,
            region: GuestRange::new(GuestPhysAddr::new(declared.gpa), declared.size),
            doorbell: doorbell_page(declared),
            read_only: declared.access == RegionAccess::ReadOnly,
            interrupt: self.interrupt,
        }
    }
}

impl Drop for Doorbell {
    fn drop(&mut self) {
        self.region.group.leave(&self.end);
    }
}

/// Where `declared`'s doorbell page is.
fn doorbell_page(declared: &SharedRegion) -> GuestRange {
    GuestRange::new(GuestPhysAddr::new(declared.doorbell_gpa), SHARED_PAGE)
}

/// The interrupt a doorbell raises in its VM: a line of the VM's interrupt
/// controller; when it rises, the physical CPUs of the vCPUs it concerns are woken.
struct DoorbellLine {
    line: Option<arch::IrqLine>,
    irqchip: arch::IrqChip,
    pcpus: Vec<usize>,
}

impl DoorbellSignal for DoorbellLine {
    fn set_level(&self, high: bool) {
        let Some(line) = &self.line else { return };
        line.set_level(high);
        if high {
            irq::kick_pcpus(self.pcpus.iter().copied(), self.irqchip.take_kicks());
        }
    }
}

/// Puts the doorbell page of each of a VM's `mappings` on its bus, wired to its
/// interrupt controller `irqchip` (whose vCPUs run on `pcpus`); a VM without one
/// polls its doorbells.
pub fn attach_doorbells(
    mappings: Vec<SharedMapping>,
    irqchip: &arch::IrqChip,
    pcpus: &[usize],
    layout: &mut DeviceLayout,
) -> Result<Vec<Doorbell>, String> {
    let mut doorbells = Vec::new();
    for mapping in mappings {
        let declared = mapping.declared;
        let field = &mapping.field;
        let line = if irqchip.is_present() {
            let line = u32::try_from(declared.irq)
                .ok()
                .and_then(|irq| irqchip.line(irq))
                .ok_or_else(|| {
                    format!(
                        "{field}: interrupt {} is not a device interrupt of this VM's {}",
                        declared.irq,
                        arch::interrupt_controller()
                    )
                })?;
            Some(line)
        } else {
            None
        };
        let interrupt = line.as_ref().map(|_| declared.irq as u32);
        let signal = DoorbellLine {
            line,
            irqchip: irqchip.clone(),
            pcpus: pcpus.to_vec(),
        };
        let end = Arc::new(DoorbellEnd::new(mapping.member, Box::new(signal)));
        let group = mapping.region.group.clone();
        layout.insert_window(
            field,
            doorbell_page(&declared),
            Box::new(DoorbellWindow::new(group.clone(), end.clone())),
        )?;
        group.join(end.clone());
        doorbells.push(Doorbell {
            declared,
            end,
            interrupt,
            region: mapping.region,
        });
    }
    Ok(doorbells)
}
