//! A structural check of a flattened device tree before the `fdt` crate reads it: that
//! crate trusts the blob and panics on some malformed ones (a property name offset
//! past the strings block, a name that is not UTF-8), and the hypervisor must not panic
//! on any input. The check walks the header and the whole structure block.

/// FDT header magic.
const MAGIC: u32 = 0xd00d_feed;
/// Structure block tokens.
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;
/// Properties that hold one cell.
const CELL_PROPERTIES: &[&[u8]] = &[
    b"#address-cells",
    b"#size-cells",
    b"#interrupt-cells",
    b"phandle",
    b"interrupt-parent",
];

fn be32(blob: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = blob.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// The NUL-terminated UTF-8 string at `at` of `block`; its length without the NUL.
fn c_str(block: &[u8], at: usize) -> Option<usize> {
    let rest = block.get(at..)?;
    let len = rest.iter().position(|&b| b == 0)?;
    core::str::from_utf8(rest.get(..len)?).ok()?;
    Some(len)
}

/// Whether `blob` is a device tree the `fdt` crate can read without panicking.
pub fn is_well_formed(blob: &[u8]) -> bool {
    walk(blob).is_some()
}

fn walk(blob: &[u8]) -> Option<()> {
    if be32(blob, 0)? != MAGIC {
        return None;
    }
    let total = be32(blob, 4)? as usize;
    let struct_off = be32(blob, 8)? as usize;
    let strings_off = be32(blob, 12)? as usize;
    let rsvmap_off = be32(blob, 16)? as usize;
    let strings_size = be32(blob, 32)? as usize;
    let struct_size = be32(blob, 36)? as usize;
    if total > blob.len() || rsvmap_off >= total {
        return None;
    }
    let structure = blob.get(struct_off..struct_off.checked_add(struct_size)?)?;
    let strings = blob.get(strings_off..strings_off.checked_add(strings_size)?)?;
    if struct_off.checked_add(struct_size)? > total
        || strings_off.checked_add(strings_size)? > total
    {
        return None;
    }
    let mut at = 0usize;
    let mut depth = 0usize;
    loop {
        let token = be32(structure, at)?;
        at = at.checked_add(4)?;
        match token {
            BEGIN_NODE => {
                let len = c_str(structure, at)?;
                at = at.checked_add(len + 1)?.checked_next_multiple_of(4)?;
                depth += 1;
            }
            END_NODE => depth = depth.checked_sub(1)?,
            PROP => {
                let len = be32(structure, at)? as usize;
                let name = be32(structure, at + 4)? as usize;
                let name_len = c_str(strings, name)?;
                // The `fdt` crate reads these as one cell without checking the length.
                let cell = strings.get(name..name + name_len)?;
                if CELL_PROPERTIES.contains(&cell) && len < 4 {
                    return None;
                }
                at = at.checked_add(8)?;
                structure.get(at..at.checked_add(len)?)?;
                at = at.checked_add(len)?.checked_next_multiple_of(4)?;
            }
            NOP => {}
            END => return (depth == 0).then_some(()),
            _ => return None,
        }
    }
}
