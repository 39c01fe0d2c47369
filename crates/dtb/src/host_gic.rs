//! The host's interrupt controller as its device tree describes it: which GIC
//! architecture the board has and where its frames are, so that the hypervisor
//! drives a GICv2 or a GICv3 chosen at boot, not at build time.
//!
//! Bindings: `arm,gic-v3` (Linux `arm,gic-v3.yaml`: `reg` is the distributor, the
//! redistributor regions, then optionally the GICv2-compatible CPU interface, its
//! hypervisor control and virtual CPU interface frames) and `arm,cortex-a15-gic`,
//! `arm,gic-400` and kin (Linux `arm,gic.yaml`: distributor, CPU interface, then
//! for virtualization the hypervisor control frame GICH and the virtual CPU
//! interface GICV).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use fdt::Fdt;

/// Compatible strings of GICv2-architecture controllers with a memory-mapped CPU
/// interface (GIC-400 and the Cortex-A cores' integrated GICs).
const GICV2_COMPATIBLE: &[&str] = &[
    "arm,gic-400",
    "arm,cortex-a15-gic",
    "arm,cortex-a7-gic",
    "arm,cortex-a9-gic",
];
/// Compatible string of a GICv3 (or GICv4) controller.
const GICV3_COMPATIBLE: &str = "arm,gic-v3";

/// One register frame: physical base and size.
pub type Frame = (u64, u64);

/// The host's GIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostGic {
    /// A GICv3: distributor, the first redistributor region, and the virtual CPU
    /// interface frame a GICv3 with legacy (GICv2-compatible) support lists.
    V3 {
        /// GICD.
        distributor: Frame,
        /// The first GICR region (the redistributors of consecutive CPUs).
        redistributors: Frame,
        /// GICV, present only when the GIC can give guests a memory-mapped CPU interface.
        legacy_vcpu_interface: Option<Frame>,
    },
    /// A GICv2: distributor, CPU interface and, with the virtualization extensions,
    /// the hypervisor control interface and the virtual CPU interface.
    V2 {
        /// GICD.
        distributor: Frame,
        /// GICC.
        cpu_interface: Frame,
        /// GICH and GICV, when the GIC has the virtualization extensions.
        virtualization: Option<(Frame, Frame)>,
    },
}

/// The enabled interrupt controller of the host tree `host_dtb` that is a GICv2 or
/// GICv3, or why there is none.
pub fn host_gic(host_dtb: &[u8]) -> Result<HostGic, String> {
    let fdt = Fdt::new(host_dtb).map_err(|e| format!("the host device tree is invalid: {e:?}"))?;
    for node in fdt.all_nodes() {
        let Some(compatible) = node.compatible() else {
            continue;
        };
        let is_v3 = compatible.all().any(|c| c == GICV3_COMPATIBLE);
        let is_v2 = compatible.all().any(|c| GICV2_COMPATIBLE.contains(&c));
        if !(is_v2 || is_v3) || node.property("interrupt-controller").is_none() {
            continue;
        }
        let frames: Vec<Frame> = node
            .reg()
            .into_iter()
            .flatten()
            .map(|r| (r.starting_address as u64, r.size.unwrap_or(0) as u64))
            .collect();
        let frame = |n: usize| frames.get(n).copied().filter(|&(_, size)| size > 0);
        let missing =
            |what: &str| format!("the host GIC node {} has no {what} in `reg`", node.name);
        let distributor = frame(0).ok_or_else(|| missing("distributor"))?;
        return Ok(if is_v3 {
            let regions = node
                .property("#redistributor-regions")
                .and_then(|p| p.as_usize())
                .unwrap_or(1);
            HostGic::V3 {
                distributor,
                redistributors: frame(1).ok_or_else(|| missing("redistributor region"))?,
                // After the distributor and the redistributor regions: GICC, GICH, GICV.
                legacy_vcpu_interface: frame(1 + regions + 2),
            }
        } else {
            HostGic::V2 {
                distributor,
                cpu_interface: frame(1).ok_or_else(|| missing("CPU interface"))?,
                virtualization: frame(2).zip(frame(3)),
            }
        });
    }
    Err("the host device tree has no GICv2 or GICv3 interrupt controller".into())
}
