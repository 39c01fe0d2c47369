//! Little-endian fields of byte buffers, bounds-checked.

/// The `N` bytes at `offset`, if they are all in `data`.
fn array<const N: usize>(data: &[u8], offset: usize) -> Option<[u8; N]> {
    let end = offset.checked_add(N)?;
    data.get(offset..end)?.try_into().ok()
}

/// The byte at `offset`.
pub(crate) fn u8_at(data: &[u8], offset: usize) -> Option<u8> {
    data.get(offset).copied()
}

/// The little-endian `u16` at `offset`.
pub(crate) fn u16_at(data: &[u8], offset: usize) -> Option<u16> {
    array(data, offset).map(u16::from_le_bytes)
}

/// The little-endian `u32` at `offset`.
pub(crate) fn u32_at(data: &[u8], offset: usize) -> Option<u32> {
    array(data, offset).map(u32::from_le_bytes)
}

/// The little-endian `u64` at `offset`.
pub(crate) fn u64_at(data: &[u8], offset: usize) -> Option<u64> {
    array(data, offset).map(u64::from_le_bytes)
}

/// Copies `bytes` to `offset`; nothing if they do not fit.
pub(crate) fn put(data: &mut [u8], offset: usize, bytes: &[u8]) {
    let Some(end) = offset.checked_add(bytes.len()) else {
        return;
    };
    if let Some(target) = data.get_mut(offset..end) {
        target.copy_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let data = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(u8_at(&data, 8), Some(9));
        assert_eq!(u16_at(&data, 0), Some(0x0201));
        assert_eq!(u32_at(&data, 1), Some(0x0504_0302));
        assert_eq!(u64_at(&data, 1), Some(0x0908_0706_0504_0302));
        assert_eq!(u8_at(&data, 9), None);
        assert_eq!(u16_at(&data, 8), None);
        assert_eq!(u64_at(&data, 2), None);
        assert_eq!(u32_at(&data, usize::MAX), None);
        let mut buffer = [0u8; 4];
        put(&mut buffer, 1, &[7, 8]);
        assert_eq!(buffer, [0, 7, 8, 0]);
        put(&mut buffer, 3, &[1, 2]);
        put(&mut buffer, usize::MAX, &[1]);
        assert_eq!(buffer, [0, 7, 8, 0]);
    }
}
