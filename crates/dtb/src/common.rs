//! Checks and nodes every architecture's tree has alike: memory, CPU `reg`s,
//! `/chosen` and `/aliases`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use tessera_addr::GuestRange;
use vm_fdt::FdtWriter;

use crate::{DtbError, check_range};

/// Refuses an empty memory map, empty or wrapping regions and overlapping regions.
pub(crate) fn check_memory(memory: &[GuestRange]) -> Result<(), DtbError> {
    if memory.is_empty() {
        return Err(DtbError::NoMemory);
    }
    for (i, region) in memory.iter().enumerate() {
        check_range("memory", *region)?;
        if let Some(other) = memory.iter().skip(i + 1).find(|o| o.overlaps(region)) {
            return Err(DtbError::MemoryOverlap {
                first: *region,
                second: *other,
            });
        }
    }
    Ok(())
}

/// The first value that `ids` yields twice.
pub(crate) fn first_duplicate(ids: impl Iterator<Item = u64> + Clone) -> Option<u64> {
    ids.clone().enumerate().find_map(|(i, id)| {
        ids.clone()
            .skip(i + 1)
            .any(|other| other == id)
            .then_some(id)
    })
}

/// A string-list property value.
pub(crate) fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

/// `reg` cells (two address, two size cells each) for `ranges`.
pub(crate) fn reg(ranges: &[GuestRange]) -> Vec<u64> {
    ranges
        .iter()
        .flat_map(|r| [r.start.raw(), r.size])
        .collect()
}

/// `/memory@<start>` for one RAM region.
pub(crate) fn write_memory(fdt: &mut FdtWriter, region: GuestRange) -> Result<(), DtbError> {
    let node = fdt.begin_node(&format!("memory@{:x}", region.start.raw()))?;
    fdt.property_string("device_type", "memory")?;
    fdt.property_array_u64("reg", &reg(&[region]))?;
    fdt.end_node(node)?;
    Ok(())
}

/// `#address-cells` of `/cpus` for CPUs with these `reg` values: two if one does
/// not fit in 32 bits, else one.
pub(crate) fn cpu_address_cells(ids: impl Iterator<Item = u64>) -> u32 {
    let mut ids = ids;
    if ids.any(|id| id > u64::from(u32::MAX)) {
        2
    } else {
        1
    }
}

/// The `reg` of a `cpu@` node in `cells` address cells.
pub(crate) fn write_cpu_reg(fdt: &mut FdtWriter, cells: u32, id: u64) -> Result<(), DtbError> {
    if cells == 2 {
        fdt.property_u64("reg", id)?;
    } else {
        fdt.property_u32("reg", id as u32)?;
    }
    Ok(())
}

/// What `/chosen` says.
pub(crate) struct Chosen<'a> {
    /// The kernel command line.
    pub bootargs: Option<&'a str>,
    /// The console's path.
    pub stdout_path: Option<&'a str>,
    /// Where the initial ramdisk was loaded (checked not to wrap).
    pub initrd: Option<GuestRange>,
}

/// `/chosen`: command line, console and initial ramdisk.
pub(crate) fn write_chosen(fdt: &mut FdtWriter, chosen: &Chosen) -> Result<(), DtbError> {
    let node = fdt.begin_node("chosen")?;
    if let Some(bootargs) = chosen.bootargs {
        fdt.property_string("bootargs", bootargs)?;
    }
    if let Some(path) = chosen.stdout_path {
        fdt.property_string("stdout-path", path)?;
    }
    if let Some(initrd) = chosen.initrd {
        fdt.property_u64("linux,initrd-start", initrd.start.raw())?;
        let end = initrd.end().map_or(u64::MAX, |end| end.raw());
        fdt.property_u64("linux,initrd-end", end)?;
    }
    fdt.end_node(node)?;
    Ok(())
}

/// `/aliases` naming the console `serial0`.
pub(crate) fn write_aliases(fdt: &mut FdtWriter, serial0: &str) -> Result<(), DtbError> {
    let aliases = fdt.begin_node("aliases")?;
    fdt.property_string("serial0", serial0)?;
    fdt.end_node(aliases)?;
    Ok(())
}
