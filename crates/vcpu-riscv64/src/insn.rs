//! Decoding the guest load or store that took a guest-page fault, so that the access
//! can be emulated as MMIO.
//!
//! Two sources: the transformed instruction the hardware may write to htinst (RISC-V
//! privileged specification, hypervisor extension, "Transformed Instruction or
//! Pseudoinstruction for mtinst or htinst"), or else the instruction itself, read
//! from guest memory at sepc. Only the integer loads and stores of RV64I and their
//! compressed forms (RVC) are decoded; anything else (floating-point loads and
//! stores, atomics, Zcb's compressed byte and halfword accesses, ...) is `None`.

use tessera_vcpu::AccessWidth;

/// A decoded load or store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemAccess {
    /// A store rather than a load.
    pub write: bool,
    /// Bytes accessed: 1, 2, 4 or 8.
    pub width: u8,
    /// The load sign-extends its value to 64 bits (LB, LH, LW and C.LW, C.LWSP);
    /// false for unsigned loads, 64-bit loads and stores.
    pub sign_extend: bool,
    /// The register x0..x31: rd for a load (x0 discards the value), rs2 for a store.
    pub reg: u8,
    /// Length of the instruction in bytes, 2 (compressed) or 4: how far to step sepc.
    pub len: u8,
}

impl MemAccess {
    /// The access width as the device bus names it.
    pub fn access_width(&self) -> Option<AccessWidth> {
        AccessWidth::from_bytes(u64::from(self.width))
    }
}

/// Major opcode LOAD.
const OP_LOAD: u32 = 0b000_0011;
/// Major opcode STORE.
const OP_STORE: u32 = 0b010_0011;
/// Bits a transformed load has zero: imm[11:0] (31:20).
const TRANSFORMED_LOAD_ZERO: u32 = 0xfff0_0000;
/// Bits a transformed store has zero: imm[11:5] (31:25) and imm[4:0] (11:7).
const TRANSFORMED_STORE_ZERO: u32 = 0xfe00_0f80;

/// Decodes the value of htinst after a guest-page fault.
///
/// A standard transformed instruction has bit 0 set; its bit 1 is 1 when the
/// trapping instruction was 32 bits long and 0 when it was compressed (the
/// transformation expands it first). A load keeps funct3, rd and the opcode, a store
/// rs2, funct3 and the opcode; rs1 holds the address offset and the immediate is
/// zero. Zero (no information), pseudoinstructions (such as 0x0000_2000 or
/// 0x0000_3000 for a VS-stage page-table read: bit 0 clear), custom values, and
/// transformed instructions that are not integer loads or stores give `None`: the
/// instruction must then be read from guest memory and given to [`decode`].
pub fn decode_transformed(htinst: u64) -> Option<MemAccess> {
    if htinst & 1 == 0 || htinst >> 32 != 0 {
        return None;
    }
    let raw = htinst as u32;
    let len = if raw & 0b10 != 0 { 4 } else { 2 };
    let expanded = raw | 0b10;
    let must_be_zero = match expanded & 0x7f {
        OP_LOAD => TRANSFORMED_LOAD_ZERO,
        OP_STORE => TRANSFORMED_STORE_ZERO,
        _ => return None,
    };
    if expanded & must_be_zero != 0 {
        return None;
    }
    let access = decode_32(expanded)?;
    Some(MemAccess { len, ..access })
}

/// Decodes an instruction read from guest memory.
///
/// `raw` holds the 32 bits at the instruction's address, low halfword first. When
/// bits 1:0 are not 0b11 the instruction is compressed and only the low 16 bits are
/// looked at (the high ones belong to the next instruction).
pub fn decode(raw: u32) -> Option<MemAccess> {
    if raw & 0b11 == 0b11 {
        decode_32(raw)
    } else {
        decode_16(raw as u16)
    }
}

/// A 32-bit LOAD or STORE of RV64I.
fn decode_32(raw: u32) -> Option<MemAccess> {
    let funct3 = (raw >> 12) & 0b111;
    match raw & 0x7f {
        OP_LOAD => {
            let (width, sign_extend) = match funct3 {
                0b000 => (1, true),  // LB
                0b001 => (2, true),  // LH
                0b010 => (4, true),  // LW
                0b011 => (8, false), // LD
                0b100 => (1, false), // LBU
                0b101 => (2, false), // LHU
                0b110 => (4, false), // LWU
                _ => return None,
            };
            Some(load(width, sign_extend, field(raw, 7), 4))
        }
        OP_STORE => {
            let width = match funct3 {
                0b000 => 1, // SB
                0b001 => 2, // SH
                0b010 => 4, // SW
                0b011 => 8, // SD
                _ => return None,
            };
            Some(store(width, field(raw, 20), 4))
        }
        _ => None,
    }
}

/// A compressed load or store of RV64C.
fn decode_16(raw: u16) -> Option<MemAccess> {
    let raw = u32::from(raw);
    // rd' / rs2' in bits 4:2 name x8..x15.
    let short_reg = 8 + ((raw >> 2) & 0b111) as u8;
    // rd in bits 11:7 (loads from the stack), rs2 in bits 6:2 (stores to it).
    let rd = field(raw, 7);
    let rs2 = field(raw, 2);
    match (raw & 0b11, raw >> 13) {
        (0b00, 0b010) => Some(load(4, true, short_reg, 2)), // C.LW
        (0b00, 0b011) => Some(load(8, false, short_reg, 2)), // C.LD
        (0b00, 0b110) => Some(store(4, short_reg, 2)),      // C.SW
        (0b00, 0b111) => Some(store(8, short_reg, 2)),      // C.SD
        // C.LWSP and C.LDSP with rd = x0 are reserved.
        (0b10, 0b010) if rd != 0 => Some(load(4, true, rd, 2)), // C.LWSP
        (0b10, 0b011) if rd != 0 => Some(load(8, false, rd, 2)), // C.LDSP
        (0b10, 0b110) => Some(store(4, rs2, 2)),                // C.SWSP
        (0b10, 0b111) => Some(store(8, rs2, 2)),                // C.SDSP
        _ => None,
    }
}

/// The 5-bit register field starting at bit `low`.
fn field(raw: u32, low: u32) -> u8 {
    ((raw >> low) & 0b1_1111) as u8
}

/// A load of `width` bytes into `reg`.
fn load(width: u8, sign_extend: bool, reg: u8, len: u8) -> MemAccess {
    MemAccess {
        write: false,
        width,
        sign_extend,
        reg,
        len,
    }
}

/// A store of `width` bytes from `reg`.
fn store(width: u8, reg: u8, len: u8) -> MemAccess {
    MemAccess {
        write: true,
        width,
        sign_extend: false,
        reg,
        len,
    }
}
