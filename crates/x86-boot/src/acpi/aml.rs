//! The few AML encodings the DSDT needs, from the ACPI Specification 6.5 chapter 20
//! ("ACPI Machine Language (AML) Specification"): package lengths (20.2.4), integer
//! constants (20.2.3), and the `Name` (20.2.5.1) and `Package` (20.2.5.4) terms.
//! The ASL each stands for is in chapter 19.

use alloc::vec;
use alloc::vec::Vec;

/// ZeroOp: the integer 0.
pub(super) const ZERO_OP: u8 = 0x00;
/// OneOp: the integer 1.
pub(super) const ONE_OP: u8 = 0x01;
/// NameOp: `Name (NameString, DataRefObject)`.
pub(super) const NAME_OP: u8 = 0x08;
/// BytePrefix: a one-byte integer follows.
pub(super) const BYTE_PREFIX: u8 = 0x0a;
/// WordPrefix: a two-byte integer follows.
pub(super) const WORD_PREFIX: u8 = 0x0b;
/// DWordPrefix: a four-byte integer follows.
pub(super) const DWORD_PREFIX: u8 = 0x0c;
/// QWordPrefix: an eight-byte integer follows.
pub(super) const QWORD_PREFIX: u8 = 0x0e;
/// PackageOp: `PkgLength NumElements PackageElementList`.
pub(super) const PACKAGE_OP: u8 = 0x12;

/// The largest PkgLength: four bytes hold 4 + 8 + 8 + 8 = 28 bits.
pub(super) const MAX_PKG_LENGTH: usize = (1 << 28) - 1;
/// The most elements a Package holds: NumElements is one byte.
pub(super) const MAX_PACKAGE_ELEMENTS: usize = 0xff;

/// The PkgLength encoding of `length`, or `None` past [`MAX_PKG_LENGTH`]. One byte
/// holds up to 63 in its bits 5-0; otherwise bits 7-6 of the lead byte count the
/// bytes that follow (1 to 3), its bits 3-0 hold the length's low four bits and
/// each following byte the next eight.
pub(super) fn pkg_length(length: usize) -> Option<Vec<u8>> {
    let follow: u8 = match length {
        0..=0x3f => return Some(vec![length as u8]),
        0x40..=0xfff => 1,
        0x1000..=0xf_ffff => 2,
        0x10_0000..=MAX_PKG_LENGTH => 3,
        _ => return None,
    };
    let mut bytes = vec![(follow << 6) | (length & 0xf) as u8];
    for i in 0..follow {
        bytes.push((length >> (4 + 8 * u32::from(i))) as u8);
    }
    Some(bytes)
}

/// `body` preceded by its PkgLength, which counts its own bytes as well as the
/// body's: the shortest encoding that holds the total. `None` if it does not fit.
pub(super) fn with_pkg_length(body: &[u8]) -> Option<Vec<u8>> {
    (1..=4).find_map(|own| {
        let length = pkg_length(body.len().checked_add(own)?)?;
        (length.len() == own).then(|| {
            let mut bytes = length;
            bytes.extend_from_slice(body);
            bytes
        })
    })
}

/// The integer `value` in its shortest form: ZeroOp, OneOp, or the smallest of the
/// byte, word, double word and quad word constants that holds it.
pub(super) fn integer(value: u64) -> Vec<u8> {
    let le = value.to_le_bytes();
    let (prefix, size) = match value {
        0 => return vec![ZERO_OP],
        1 => return vec![ONE_OP],
        0x2..=0xff => (BYTE_PREFIX, 1),
        0x100..=0xffff => (WORD_PREFIX, 2),
        0x1_0000..=0xffff_ffff => (DWORD_PREFIX, 4),
        _ => (QWORD_PREFIX, 8),
    };
    let mut bytes = vec![prefix];
    bytes.extend(le.iter().take(size));
    bytes
}

/// `Name (name, object)`: `name` is one NameSeg (four characters, `A`-`Z`, `0`-`9`
/// or `_`, not starting with a digit; shorter names are padded with `_`), relative
/// to the scope it is declared in (the root for the DSDT's top level).
pub(super) fn name(name: [u8; 4], object: &[u8]) -> Vec<u8> {
    let mut bytes = vec![NAME_OP];
    bytes.extend_from_slice(&name);
    bytes.extend_from_slice(object);
    bytes
}

/// `Package () { elements }`, each element already encoded; `None` for more than
/// [`MAX_PACKAGE_ELEMENTS`] elements or more bytes than a PkgLength counts.
pub(super) fn package(elements: &[Vec<u8>]) -> Option<Vec<u8>> {
    if elements.len() > MAX_PACKAGE_ELEMENTS {
        return None;
    }
    let mut body = vec![elements.len() as u8];
    for element in elements {
        body.extend_from_slice(element);
    }
    let mut bytes = vec![PACKAGE_OP];
    bytes.extend(with_pkg_length(&body)?);
    Some(bytes)
}
