//! Little-endian fields of on-disk structures, read without indexing panics.

/// The byte at `offset`, or 0 past the end.
pub(crate) fn u8_at(bytes: &[u8], offset: usize) -> u8 {
    bytes.get(offset).copied().unwrap_or(0)
}

/// The little-endian `u16` at `offset`, or 0 past the end.
pub(crate) fn u16_at(bytes: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes([u8_at(bytes, offset), u8_at(bytes, offset + 1)])
}

/// The little-endian `u32` at `offset`, or 0 past the end.
pub(crate) fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes([
        u8_at(bytes, offset),
        u8_at(bytes, offset + 1),
        u8_at(bytes, offset + 2),
        u8_at(bytes, offset + 3),
    ])
}
