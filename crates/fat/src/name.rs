//! File names: 8.3 short names, VFAT long names (assembled from their entries,
//! checksum checked, UTF-16 to UTF-8) and FAT's case-insensitive comparison.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// Characters of a long name in one long-name entry.
pub(crate) const CHARS_PER_ENTRY: usize = 13;
/// Most long-name entries one name may use (255 characters).
const MAX_ENTRIES: u8 = 20;
/// Set in the sequence byte of the entry holding the end of the name (stored first).
const LAST_ENTRY: u8 = 0x40;
/// Byte 12 of a short entry: the base name is shown in lower case.
const LOWER_BASE: u8 = 0x08;
/// Byte 12 of a short entry: the extension is shown in lower case.
const LOWER_EXTENSION: u8 = 0x10;

/// The checksum of an 11-byte short name that its long-name entries carry.
pub(crate) fn short_name_checksum(short: &[u8; 11]) -> u8 {
    short
        .iter()
        .fold(0u8, |sum, &byte| sum.rotate_right(1).wrapping_add(byte))
}

/// The short name as text: `NAME.EXT` (no dot without an extension), lower-cased
/// where the case flags say so. Bytes outside ASCII show as U+FFFD.
pub(crate) fn short_name_text(short: &[u8; 11], case_flags: u8) -> String {
    let (base, extension) = short.split_at(8);
    let mut text = String::new();
    push_part(&mut text, base, case_flags & LOWER_BASE != 0);
    if extension.iter().any(|&byte| byte != b' ') {
        text.push('.');
        push_part(&mut text, extension, case_flags & LOWER_EXTENSION != 0);
    }
    text
}

fn push_part(text: &mut String, part: &[u8], lower: bool) {
    let end = part
        .iter()
        .rposition(|&byte| byte != b' ')
        .map_or(0, |i| i + 1);
    for (i, &byte) in part.iter().take(end).enumerate() {
        // 0x05 in the first byte stands for 0xE5 (which marks a free entry).
        let byte = if i == 0 && byte == 0x05 { 0xE5 } else { byte };
        let c = if byte.is_ascii() {
            char::from(byte)
        } else {
            char::REPLACEMENT_CHARACTER
        };
        text.push(if lower { c.to_ascii_lowercase() } else { c });
    }
}

/// Whether two names are equal ignoring case, as FAT compares names.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_uppercase)
        .eq(b.chars().flat_map(char::to_uppercase))
}

/// A long name being assembled from its entries, which come last part first, each
/// numbered, right before the short entry they belong to.
#[derive(Default)]
pub(crate) struct LongName {
    units: Vec<u16>,
    /// Sequence number of the entry expected next (0: complete or none).
    expected: u8,
    checksum: u8,
    active: bool,
}

impl LongName {
    /// Takes one long-name entry: its sequence byte, checksum and 13 UTF-16 units.
    /// An entry out of order drops what was assembled.
    pub(crate) fn push(&mut self, sequence: u8, checksum: u8, chars: &[u16; CHARS_PER_ENTRY]) {
        let number = sequence & !LAST_ENTRY;
        if sequence & LAST_ENTRY != 0 {
            if number == 0 || number > MAX_ENTRIES {
                self.clear();
                return;
            }
            self.units = vec![0xFFFF; usize::from(number) * CHARS_PER_ENTRY];
            self.active = true;
            self.checksum = checksum;
        } else if !self.active
            || number == 0
            || number != self.expected
            || checksum != self.checksum
        {
            self.clear();
            return;
        }
        let start = usize::from(number - 1) * CHARS_PER_ENTRY;
        if let Some(slot) = self.units.get_mut(start..start + CHARS_PER_ENTRY) {
            slot.copy_from_slice(chars);
        }
        self.expected = number - 1;
    }

    /// The assembled name if it is complete and belongs to `short` (checksum),
    /// and the assembly is reset either way.
    pub(crate) fn finish(&mut self, short: &[u8; 11]) -> Option<String> {
        let complete =
            self.active && self.expected == 0 && self.checksum == short_name_checksum(short);
        let units = core::mem::take(&mut self.units);
        self.clear();
        if !complete {
            return None;
        }
        // The name ends at a NUL unit (then 0xFFFF padding), or fills its entries.
        let end = units
            .iter()
            .position(|&unit| unit == 0 || unit == 0xFFFF)
            .unwrap_or(units.len());
        let name: String = char::decode_utf16(units.into_iter().take(end))
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
        (!name.is_empty()).then_some(name)
    }

    /// Drops any partial name.
    pub(crate) fn clear(&mut self) {
        self.units.clear();
        self.expected = 0;
        self.active = false;
    }
}
