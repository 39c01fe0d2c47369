//! Nodes of regions a VM shares with other VMs, alike on every architecture:
//!
//! ```text
//! shared-region@70000000 {
//!     compatible = "tessera,shared-region";
//!     reg = <region>, <doorbell page>;
//!     reg-names = "region", "doorbell";
//!     label = "logbook";
//!     read-only;                  // when this VM may only read it
//!     interrupts = <...>;         // the doorbell's, when the VM has a controller
//! };
//! ```

use alloc::format;
use alloc::vec::Vec;

use tessera_addr::GuestRange;
use vm_fdt::FdtWriter;

use crate::common::{reg, strings};
use crate::{DtbError, check_range};

/// The `compatible` of a shared region's node.
pub const SHARED_REGION_COMPATIBLE: &str = "tessera,shared-region";

/// A region of memory the VM shares with other VMs, and its doorbell page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SharedRegionNode<'a> {
    /// The name the VMs sharing it use (`label`).
    pub name: &'a str,
    /// Where the region is in this VM.
    pub region: GuestRange,
    /// Where this VM's doorbell registers are.
    pub doorbell: GuestRange,
    /// Whether this VM may only read the region (`read-only`).
    pub read_only: bool,
    /// The doorbell's interrupt: an SPI number (INTID minus 32) on aarch64, a PLIC
    /// source on riscv64; `None` when the VM has no interrupt controller (the guest
    /// polls the doorbell's PENDING register).
    pub interrupt: Option<u32>,
}

/// Refuses a node whose windows are empty or wrap.
pub(crate) fn check(node: &SharedRegionNode) -> Result<(), DtbError> {
    check_range("shared region", node.region)?;
    check_range("shared region doorbell", node.doorbell)
}

/// `/shared-region@<start>` for `node`, its interrupt (if any) as the specifier
/// `cells` gives it, from the interrupt controller `parent` when the root does not
/// name one.
pub(crate) fn write(
    fdt: &mut FdtWriter,
    node: &SharedRegionNode,
    cells: impl Fn(u32) -> Vec<u32>,
    parent: Option<u32>,
) -> Result<(), DtbError> {
    let handle = fdt.begin_node(&format!("shared-region@{:x}", node.region.start.raw()))?;
    fdt.property_string("compatible", SHARED_REGION_COMPATIBLE)?;
    fdt.property_array_u64("reg", &reg(&[node.region, node.doorbell]))?;
    fdt.property_string_list("reg-names", strings(&["region", "doorbell"]))?;
    fdt.property_string("label", node.name)?;
    if node.read_only {
        fdt.property_null("read-only")?;
    }
    if let Some(interrupt) = node.interrupt {
        fdt.property_array_u32("interrupts", &cells(interrupt))?;
        if let Some(parent) = parent {
            fdt.property_u32("interrupt-parent", parent)?;
        }
    }
    fdt.end_node(handle)?;
    Ok(())
}
