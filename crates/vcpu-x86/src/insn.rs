//! Decoding the x86-64 instruction that took a nested page fault on an MMIO address,
//! so that the access can be emulated.
//!
//! The fault gives the guest-physical address; what is left to learn from the
//! instruction bytes (which the VMCB provides, up to 15, with decode assists) is the
//! direction, the width, the register or immediate, and the length to step RIP by.
//! Encodings from the Intel SDM volume 2 and the AMD APM volume 3 (general-purpose
//! instruction reference, "Instruction Encoding").
//!
//! Only 64-bit mode is decoded (CS.L set: a guest in long mode), and only the forms
//! compilers and drivers use for device registers:
//! - `88 /r` and `89 /r`: `mov r/m, reg` (store);
//! - `8A /r` and `8B /r`: `mov reg, r/m` (load);
//! - `C6 /0 ib` and `C7 /0 iw/id`: `mov r/m, imm` (store; imm32 sign-extended with REX.W);
//! - `0F B6 /r`, `0F B7 /r`: `movzx`; `0F BE /r`, `0F BF /r`: `movsx` (loads).
//!
//! Prefixes: 0x66 (16-bit operands), REX (W, R, X, B; only when it is the last
//! prefix, as the processor ignores it otherwise), segment overrides and 0x67 (which
//! changes neither the length nor the operands). LOCK, REP/REPNE, other opcodes,
//! register-only ModRM forms (no memory operand) and truncated or over-long (more
//! than 15 bytes) encodings give `None`.

use tessera_vcpu::AccessWidth;

/// The architectural limit on the length of an instruction.
pub const MAX_LEN: usize = 15;

/// How a load puts a narrow value in a wider register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extend {
    /// A plain `mov`: the register is as wide as the access.
    None,
    /// `movzx`: zero-extended.
    Zero,
    /// `movsx`: sign-extended.
    Sign,
}

/// The non-memory operand of the access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A general register.
    Register {
        /// The 64-bit register holding the operand, in encoding order: 0 RAX, 1 RCX,
        /// 2 RDX, 3 RBX, 4 RSP, 5 RBP, 6 RSI, 7 RDI, 8-15 R8-R15.
        reg: u8,
        /// The operand is bits 15:8 of `reg` (AH, CH, DH or BH: a byte register 4-7
        /// named without a REX prefix).
        high_byte: bool,
    },
    /// An immediate stored to memory, already sign-extended for 64-bit stores and cut
    /// to the access width.
    Immediate(u64),
}

/// A decoded MMIO access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmioInsn {
    /// A store rather than a load.
    pub write: bool,
    /// Bytes of memory accessed: 1, 2, 4 or 8.
    pub width: u8,
    /// The register read (stores) or written (loads), or the immediate stored.
    pub kind: Operand,
    /// How a load widens the value (always [`Extend::None`] for stores).
    pub extend: Extend,
    /// Size in bytes of the register operand: `width`, except for `movzx` and `movsx`
    /// where it is the destination's size (2, 4 or 8).
    pub reg_width: u8,
    /// Length of the instruction in bytes: how far to step RIP.
    pub len: u8,
}

impl MmioInsn {
    /// The access width as the device bus names it.
    pub fn access_width(&self) -> Option<AccessWidth> {
        AccessWidth::from_bytes(u64::from(self.width))
    }

    /// The value a store writes, given the current value of the 64-bit register
    /// named by [`Operand::Register`] (ignored for an immediate).
    pub fn store_value(&self, reg_value: u64) -> u64 {
        match self.kind {
            Operand::Immediate(value) => value & mask(self.width),
            Operand::Register { high_byte, .. } => {
                let value = if high_byte { reg_value >> 8 } else { reg_value };
                value & mask(self.width)
            }
        }
    }

    /// The new value of the 64-bit register after a load of `value` (the device's
    /// answer, low `width` bytes used), given its value `old` before.
    ///
    /// Follows the x86-64 rules: a 32-bit destination clears bits 63:32, 8- and
    /// 16-bit destinations leave the other bits alone. Returns `old` for an
    /// immediate (a store has nothing to load).
    pub fn load_result(&self, old: u64, value: u64) -> u64 {
        let Operand::Register { high_byte, .. } = self.kind else {
            return old;
        };
        let value = value & mask(self.width);
        let value = match self.extend {
            Extend::Sign => sign_extend(value, self.width),
            Extend::None | Extend::Zero => value,
        };
        match self.reg_width {
            8 => value,
            4 => value & mask(4),
            1 if high_byte => (old & !0xff00) | ((value & 0xff) << 8),
            width => (old & !mask(width)) | (value & mask(width)),
        }
    }
}

/// The bits an access of `width` bytes carries.
const fn mask(width: u8) -> u64 {
    match width {
        1 => 0xff,
        2 => 0xffff,
        4 => 0xffff_ffff,
        _ => u64::MAX,
    }
}

/// `value`, `width` bytes wide, sign-extended to 64 bits.
const fn sign_extend(value: u64, width: u8) -> u64 {
    match width {
        1 => value as u8 as i8 as i64 as u64,
        2 => value as u16 as i16 as i64 as u64,
        4 => value as u32 as i32 as i64 as u64,
        _ => value,
    }
}

/// The operation an opcode stands for.
#[derive(Clone, Copy)]
enum Form {
    /// `mov r/m, reg`: a store of the register.
    StoreReg,
    /// `mov reg, r/m`: a load into the register.
    Load,
    /// `mov r/m, imm`.
    StoreImm,
    /// `movzx` or `movsx` from a memory operand of this many bytes.
    LoadExtend(u8, Extend),
}

/// REX bits.
const REX_W: u8 = 1 << 3;
/// REX.R: extends ModRM.reg.
const REX_R: u8 = 1 << 2;

/// Decodes the instruction at the start of `bytes` (extra bytes after it are ignored).
pub fn decode(bytes: &[u8]) -> Option<MmioInsn> {
    let mut pos = 0;
    let mut operand_16 = false;
    let mut rex: Option<u8> = None;
    let opcode = loop {
        let byte = *bytes.get(pos)?;
        pos += 1;
        match byte {
            0x66 => operand_16 = true,
            // Segment overrides and the address-size prefix.
            0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 | 0x67 => {}
            0x40..=0x4f => {
                rex = Some(byte);
                continue;
            }
            _ => break byte,
        }
        // A REX prefix followed by another prefix is ignored.
        rex = None;
    };
    let (form, byte_op) = match opcode {
        0x88 => (Form::StoreReg, true),
        0x89 => (Form::StoreReg, false),
        0x8a => (Form::Load, true),
        0x8b => (Form::Load, false),
        0xc6 => (Form::StoreImm, true),
        0xc7 => (Form::StoreImm, false),
        0x0f => {
            let second = *bytes.get(pos)?;
            pos += 1;
            let form = match second {
                0xb6 => Form::LoadExtend(1, Extend::Zero),
                0xb7 => Form::LoadExtend(2, Extend::Zero),
                0xbe => Form::LoadExtend(1, Extend::Sign),
                0xbf => Form::LoadExtend(2, Extend::Sign),
                _ => return None,
            };
            (form, false)
        }
        _ => return None,
    };
    let rex_bits = rex.unwrap_or(0);
    let full_width = if rex_bits & REX_W != 0 {
        8
    } else if operand_16 {
        2
    } else {
        4
    };
    let width = if byte_op { 1 } else { full_width };
    let modrm = *bytes.get(pos)?;
    pos += 1;
    pos += memory_operand_len(modrm, bytes.get(pos).copied())?;
    let reg_field = (modrm >> 3) & 0b111;
    let reg = reg_field | if rex_bits & REX_R != 0 { 8 } else { 0 };
    let register = if byte_op && rex.is_none() && reg_field >= 4 {
        Operand::Register {
            reg: reg_field - 4,
            high_byte: true,
        }
    } else {
        Operand::Register {
            reg,
            high_byte: false,
        }
    };
    let (write, kind, extend, reg_width, width) = match form {
        Form::StoreReg => (true, register, Extend::None, width, width),
        Form::Load => (false, register, Extend::None, width, width),
        Form::LoadExtend(from, extend) => (false, register, extend, full_width, from),
        Form::StoreImm => {
            // C6 and C7 are `mov` only with ModRM.reg = 0.
            if reg_field != 0 {
                return None;
            }
            let imm_len = width.min(4);
            let imm = read_le(bytes.get(pos..pos + usize::from(imm_len))?);
            pos += usize::from(imm_len);
            let imm = sign_extend(imm, imm_len) & mask(width);
            (true, Operand::Immediate(imm), Extend::None, width, width)
        }
    };
    if pos > MAX_LEN || pos > bytes.len() {
        return None;
    }
    Some(MmioInsn {
        write,
        width,
        kind,
        extend,
        reg_width,
        len: pos as u8,
    })
}

/// Bytes after the ModRM byte that the memory operand takes (SIB and displacement),
/// or `None` for a register operand (mod = 3) or a missing SIB byte. `next` is the
/// byte after ModRM, the SIB byte if there is one.
fn memory_operand_len(modrm: u8, next: Option<u8>) -> Option<usize> {
    let mode = modrm >> 6;
    let rm = modrm & 0b111;
    if mode == 0b11 {
        return None;
    }
    // rm = 4 (whatever REX.B says) brings a SIB byte.
    let sib = if rm == 0b100 { 1 } else { 0 };
    let displacement = match mode {
        0b01 => 1,
        0b10 => 4,
        // mod = 0: rm = 5 is RIP-relative with disp32; with a SIB, base = 5 means
        // no base register and a disp32 (REX.B does not matter for either).
        _ if rm == 0b101 => 4,
        _ if sib == 1 && next? & 0b111 == 0b101 => 4,
        _ => 0,
    };
    Some(sib + displacement)
}

/// The little-endian value of up to 8 bytes.
fn read_le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0, |value, &byte| (value << 8) | u64::from(byte))
}
