//! Devices handed to a VM whole ("passthrough"): their nodes are found in the host's
//! device tree by path, their register windows and interrupts are read from it, and
//! the nodes are copied into the guest's tree.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use fdt::Fdt;
use fdt::node::FdtNode;

/// Interrupt specifier type cell (GIC binding): a shared peripheral interrupt.
const GIC_SPI: u32 = 0;
/// First INTID of a shared peripheral interrupt.
const SPI_BASE: u32 = 32;
/// Properties not copied: the guest's tree has its own phandles and interrupt parent.
const DROPPED_PROPERTIES: &[&str] = &["phandle", "linux,phandle", "interrupt-parent"];

/// A node copied from the host tree: name, properties (raw values) and children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopiedNode {
    /// Node name with unit address, such as `pl031@9010000`.
    pub name: String,
    /// Properties as (name, big-endian value bytes), `clocks` included as found.
    pub properties: Vec<(String, Vec<u8>)>,
    /// Child nodes.
    pub children: Vec<CopiedNode>,
}

/// A passthrough device: what the VM gets mapped, routed and described.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostDevice {
    /// The path in the host tree, as the config gave it.
    pub path: String,
    /// Register windows (physical base, size), mapped at the same guest address.
    pub regs: Vec<(u64, u64)>,
    /// Its interrupts as GIC INTIDs (shared peripheral interrupts only), or why they
    /// cannot be passed through (a private interrupt, a format not read here); a
    /// device the hypervisor gives in emulated form never needs them.
    pub spis: Result<Vec<u32>, String>,
    /// The node (and its children) for the guest's tree.
    pub node: CopiedNode,
}

/// Top-level nodes that describe the machine rather than a device: never passed
/// through as part of the whole tree.
const NOT_DEVICES: &[&str] = &["aliases", "chosen", "cpus", "memory", "reserved-memory"];

/// The path of every device node of the host tree, in tree order: each enabled node
/// with a `reg`, at the root or inside a bus that maps addresses one to one (an
/// empty `ranges`), whose children go with it. Machine-description nodes (memory,
/// CPUs, `chosen`, aliases, reserved memory) are left out, as are nodes under a bus
/// that translates addresses. This is what a whole-tree passthrough row (`["/"]`)
/// asks for.
pub fn device_paths(host_dtb: &[u8]) -> Result<Vec<String>, String> {
    let fdt = parse(host_dtb)?;
    let root = fdt
        .find_node("/")
        .ok_or("the host device tree has no root node")?;
    let mut paths = Vec::new();
    for node in root.children() {
        let base = node.name.split('@').next().unwrap_or(node.name);
        if !NOT_DEVICES.contains(&base) {
            collect_devices(node, String::new(), &mut paths);
        }
    }
    Ok(paths)
}

/// Adds `node` (whose parent's path is `parent`) or, for a one-to-one bus, its
/// device children.
fn collect_devices(node: FdtNode, parent: String, paths: &mut Vec<String>) {
    if !is_enabled(&node) {
        return;
    }
    let path = format!("{parent}/{}", node.name);
    if node.property("reg").is_some() {
        paths.push(path);
    } else if node.property("ranges").is_some_and(|r| r.value.is_empty()) {
        for child in node.children() {
            collect_devices(child, path.clone(), paths);
        }
    }
}

/// Whether a node's `status` is absent, "okay" or "ok".
fn is_enabled(node: &FdtNode) -> bool {
    node.property("status")
        .and_then(|status| status.as_str())
        .is_none_or(|status| status == "okay" || status == "ok")
}

/// The host tree, checked.
fn parse(host_dtb: &[u8]) -> Result<Fdt<'_>, String> {
    if !crate::is_well_formed(host_dtb) {
        return Err("the host device tree is invalid (its structure does not check out)".into());
    }
    Fdt::new(host_dtb).map_err(|e| format!("the host device tree is invalid: {e:?}"))
}

/// Finds the device at `path` in the host device tree `host_dtb`.
pub fn find_host_device(host_dtb: &[u8], path: &str) -> Result<HostDevice, String> {
    let fdt = parse(host_dtb)?;
    if path == "/" || !path.starts_with('/') {
        return Err(format!(
            "`{path}`: name one device node by its full path (such as /pl031@9010000)"
        ));
    }
    let node = fdt
        .find_node(path)
        .filter(|node| path.rsplit('/').next() == Some(node.name))
        .ok_or_else(|| format!("`{path}`: no such node in the host device tree"))?;
    check_ancestors(&fdt, path)?;
    let regs = node
        .reg()
        .ok_or_else(|| format!("`{path}`: the node has no `reg` the hypervisor can read"))?
        .map(|region| {
            let size = region.size.unwrap_or(0) as u64;
            (region.starting_address as u64, size)
        })
        .collect::<Vec<_>>();
    if regs.is_empty() || regs.iter().any(|&(_, size)| size == 0) {
        return Err(format!("`{path}`: the node has no register window"));
    }
    Ok(HostDevice {
        path: path.to_string(),
        regs,
        spis: spis_of(node, path),
        node: copy(node),
    })
}

/// Every ancestor must map child addresses one to one (root, or an empty `ranges`).
fn check_ancestors(fdt: &Fdt, path: &str) -> Result<(), String> {
    let mut ancestor = String::new();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for part in parts.iter().take(parts.len().saturating_sub(1)) {
        ancestor.push('/');
        ancestor.push_str(part);
        let identity = fdt
            .find_node(&ancestor)
            .and_then(|node| node.property("ranges"))
            .is_some_and(|ranges| ranges.value.is_empty());
        if !identity {
            return Err(format!(
                "`{path}`: {ancestor} translates addresses (`ranges`), which passthrough does not follow"
            ));
        }
    }
    Ok(())
}

/// The node's interrupts as INTIDs: three-cell GIC specifiers, SPIs only.
fn spis_of(node: FdtNode, path: &str) -> Result<Vec<u32>, String> {
    let Some(prop) = node.property("interrupts") else {
        return Ok(Vec::new());
    };
    let cells: Vec<u32> = prop
        .value
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap_or([0; 4])))
        .collect();
    if !cells.len().is_multiple_of(3) || !prop.value.len().is_multiple_of(4) {
        return Err(format!(
            "`{path}`: `interrupts` is not in the three-cell GIC format"
        ));
    }
    cells
        .chunks_exact(3)
        .map(|spec| match spec {
            [GIC_SPI, number, _] if *number < 988 => Ok(number + SPI_BASE),
            _ => Err(format!(
                "`{path}`: only shared peripheral interrupts can be passed through"
            )),
        })
        .collect()
}

/// The node and its children, without the properties the guest tree redefines.
fn copy(node: FdtNode) -> CopiedNode {
    CopiedNode {
        name: node.name.to_string(),
        properties: node
            .properties()
            .filter(|p| !DROPPED_PROPERTIES.contains(&p.name))
            .map(|p| (p.name.to_string(), p.value.to_vec()))
            .collect(),
        children: node.children().map(copy).collect(),
    }
}

/// The register windows (physical base, size) of the host's enabled nodes that are
/// `compatible` with `compatible` and sit in one-to-one mapped buses (such as the
/// `virtio,mmio` transports of QEMU's `virt` board), in tree order; the first window
/// of each node.
pub fn find_compatible(host_dtb: &[u8], compatible: &str) -> Result<Vec<(u64, u64)>, String> {
    let fdt = parse(host_dtb)?;
    let windows = fdt
        .all_nodes()
        .filter(|node| {
            node.compatible()
                .is_some_and(|c| c.all().any(|name| name == compatible))
        })
        .filter(is_enabled)
        .filter_map(|node| {
            let region = node.reg()?.next()?;
            let size = region.size.unwrap_or(0) as u64;
            (size > 0).then_some((region.starting_address as u64, size))
        })
        .collect();
    Ok(windows)
}
