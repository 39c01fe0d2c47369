//! Bits of the hypervisor-extension CSRs and trap causes the riscv64 vCPU uses (RISC-V
//! privileged specification: "Hypervisor Extension" and the scause register of the
//! supervisor chapter).

use tessera_addr::GuestPhysAddr;

/// hstatus.GVA (bit 6): stval holds a guest virtual address after the trap.
pub const HSTATUS_GVA: u64 = 1 << 6;
/// hstatus.SPV (bit 7): the trap came from a virtual mode (VS or VU); sret returns
/// to it when set.
pub const HSTATUS_SPV: u64 = 1 << 7;
/// hstatus.SPVP (bit 8): privilege of the virtual mode trapped from (1 = VS,
/// 0 = VU); also the privilege of HLV/HSV accesses.
pub const HSTATUS_SPVP: u64 = 1 << 8;
/// hstatus.VTW (bit 21): WFI in VS-mode raises a virtual-instruction exception
/// instead of waiting (when it does not complete within an implementation-specific
/// time).
pub const HSTATUS_VTW: u64 = 1 << 21;
/// Shift of hstatus.VSXL (bits 33:32), the XLEN of VS-mode.
pub const HSTATUS_VSXL_SHIFT: u32 = 32;
/// Mask of hstatus.VSXL.
pub const HSTATUS_VSXL_MASK: u64 = 0b11 << HSTATUS_VSXL_SHIFT;
/// hstatus.VSXL = 2: VS-mode is 64-bit.
pub const HSTATUS_VSXL_64: u64 = 2 << HSTATUS_VSXL_SHIFT;

/// VSSIP (bit 2 of hvip, hip, hie and hideleg): VS-level software interrupt.
pub const HVIP_VSSIP: u64 = 1 << 2;
/// VSTIP (bit 6 of hvip, hip, hie and hideleg): VS-level timer interrupt.
pub const HVIP_VSTIP: u64 = 1 << 6;
/// VSEIP (bit 10 of hvip, hip, hie and hideleg): VS-level external interrupt.
pub const HVIP_VSEIP: u64 = 1 << 10;

/// hedeleg: the exceptions taken in the guest that go straight to its own VS-mode
/// handler: instruction address misaligned, breakpoint, environment call from
/// VU-mode, and instruction, load and store/AMO page faults (the guest's own
/// VS-stage translation). Guest-page faults, ecalls from VS-mode and
/// virtual-instruction exceptions stay with the hypervisor (their hedeleg bits are
/// read-only zero anyway).
pub const HEDELEG_GUEST: u64 = 1 << CAUSE_INSTRUCTION_MISALIGNED
    | 1 << CAUSE_BREAKPOINT
    | 1 << CAUSE_USER_ECALL
    | 1 << CAUSE_INSTRUCTION_PAGE_FAULT
    | 1 << CAUSE_LOAD_PAGE_FAULT
    | 1 << CAUSE_STORE_PAGE_FAULT;

/// hideleg: the VS-level software, timer and external interrupts go to VS-mode,
/// where the guest sees them as its supervisor interrupts.
pub const HIDELEG_GUEST: u64 = HVIP_VSSIP | HVIP_VSTIP | HVIP_VSEIP;

/// henvcfg.STCE (bit 63): the guest may use the Sstc timer (its stimecmp is
/// vstimecmp).
pub const HENVCFG_STCE: u64 = 1 << 63;

/// scause exception code 0: instruction address misaligned.
pub const CAUSE_INSTRUCTION_MISALIGNED: u64 = 0;
/// scause exception code 1: instruction access fault.
pub const CAUSE_INSTRUCTION_ACCESS_FAULT: u64 = 1;
/// scause exception code 2: illegal instruction.
pub const CAUSE_ILLEGAL_INSTRUCTION: u64 = 2;
/// scause exception code 3: breakpoint.
pub const CAUSE_BREAKPOINT: u64 = 3;
/// scause exception code 5: load access fault.
pub const CAUSE_LOAD_ACCESS_FAULT: u64 = 5;
/// scause exception code 7: store/AMO access fault.
pub const CAUSE_STORE_ACCESS_FAULT: u64 = 7;
/// scause exception code 8: environment call from U-mode or VU-mode.
pub const CAUSE_USER_ECALL: u64 = 8;
/// scause exception code 10: environment call from VS-mode, an SBI call of the guest.
pub const CAUSE_VIRTUAL_SUPERVISOR_ECALL: u64 = 10;
/// scause exception code 12: instruction page fault.
pub const CAUSE_INSTRUCTION_PAGE_FAULT: u64 = 12;
/// scause exception code 13: load page fault.
pub const CAUSE_LOAD_PAGE_FAULT: u64 = 13;
/// scause exception code 15: store/AMO page fault.
pub const CAUSE_STORE_PAGE_FAULT: u64 = 15;
/// scause exception code 20: instruction guest-page fault (G-stage translation).
pub const CAUSE_INSTRUCTION_GUEST_PAGE_FAULT: u64 = 20;
/// scause exception code 21: load guest-page fault (G-stage translation).
pub const CAUSE_LOAD_GUEST_PAGE_FAULT: u64 = 21;
/// scause exception code 22: virtual instruction, an instruction the guest may not
/// run in VS-mode (WFI with hstatus.VTW, some CSR accesses).
pub const CAUSE_VIRTUAL_INSTRUCTION: u64 = 22;
/// scause exception code 23: store/AMO guest-page fault (G-stage translation).
pub const CAUSE_STORE_GUEST_PAGE_FAULT: u64 = 23;

/// scause interrupt code 1: supervisor software interrupt.
pub const IRQ_SUPERVISOR_SOFTWARE: u64 = 1;
/// scause interrupt code 5: supervisor timer interrupt.
pub const IRQ_SUPERVISOR_TIMER: u64 = 5;
/// scause interrupt code 9: supervisor external interrupt.
pub const IRQ_SUPERVISOR_EXTERNAL: u64 = 9;

/// The interrupt bit of scause (bit XLEN-1).
const INTERRUPT_BIT: u64 = 1 << 63;

/// Whether `scause` reports an interrupt rather than an exception.
pub fn is_interrupt(scause: u64) -> bool {
    scause & INTERRUPT_BIT != 0
}

/// The exception or interrupt code of `scause`.
pub fn cause_code(scause: u64) -> u64 {
    scause & !INTERRUPT_BIT
}

/// The guest-physical address of a guest-page fault.
///
/// htval holds that address shifted right by 2 bits; the two low bits are those of
/// the guest virtual address in stval (translation keeps the page offset). htval may
/// also be zero, meaning no address was recorded. For a fault on a VS-stage
/// page-table access (htinst holds a pseudoinstruction) the address is that of the
/// page-table entry and stval's low bits do not belong to it.
pub fn fault_gpa(htval: u64, stval: u64) -> GuestPhysAddr {
    GuestPhysAddr::new((htval << 2) | (stval & 0b11))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scause_helpers() {
        // A supervisor timer interrupt, an ecall from VS-mode.
        assert!(is_interrupt(0x8000_0000_0000_0005));
        assert_eq!(cause_code(0x8000_0000_0000_0005), IRQ_SUPERVISOR_TIMER);
        assert!(!is_interrupt(10));
        assert_eq!(cause_code(10), CAUSE_VIRTUAL_SUPERVISOR_ECALL);
        assert_eq!(cause_code(u64::MAX), u64::MAX >> 1);
        assert!(is_interrupt(u64::MAX));
        assert!(!is_interrupt(0) && cause_code(0) == 0);
    }

    #[test]
    fn delegation_masks() {
        // Bits 0, 3, 8, 12, 13, 15.
        assert_eq!(HEDELEG_GUEST, 0xb109);
        // Bits 2, 6, 10.
        assert_eq!(HIDELEG_GUEST, 0x444);
        // Nothing the hypervisor must handle is delegated.
        for code in [2, 10, 20, 21, 22, 23] {
            assert_eq!(HEDELEG_GUEST >> code & 1, 0, "{code}");
        }
    }

    #[test]
    fn register_bits() {
        assert_eq!(HSTATUS_SPV, 0x80);
        assert_eq!(HSTATUS_SPVP, 0x100);
        assert_eq!(HSTATUS_VTW, 0x20_0000);
        assert_eq!(HSTATUS_VSXL_64, 0x2_0000_0000);
        assert_eq!(HSTATUS_VSXL_64 & !HSTATUS_VSXL_MASK, 0);
        assert_eq!(HENVCFG_STCE, 0x8000_0000_0000_0000);
        let codes = [
            IRQ_SUPERVISOR_SOFTWARE,
            IRQ_SUPERVISOR_TIMER,
            IRQ_SUPERVISOR_EXTERNAL,
        ];
        assert_eq!(codes, [1, 5, 9]);
    }

    #[test]
    fn fault_address() {
        // 0x1000_0005 faulted: htval = 0x1000_0005 >> 2, stval ends in 0b01.
        assert_eq!(
            fault_gpa(0x0400_0001, 0xffff_ffc0_0000_0005),
            GuestPhysAddr::new(0x1000_0005)
        );
        assert_eq!(
            fault_gpa(0x7f_ffff_fffe, 0x3),
            GuestPhysAddr::new(0x1ff_ffff_fffb)
        );
    }
}
