//! Bit and field values of the VMCB: intercept vectors, TLB control, virtual
//! interrupts, event injection, clean bits, segment attributes, EFER.

/// Bits of [`Segment::attrib`](crate::vmcb::Segment::attrib).
pub mod attrib {
    /// Type field (attrib[3:0]): bit 3 set for code, bit 0 the accessed bit.
    pub const TYPE_MASK: u16 = 0xf;
    /// Type 0xB: code, execute/read, accessed.
    pub const TYPE_CODE_EXEC_READ_ACCESSED: u16 = 0xb;
    /// Type 0x3: data, read/write, accessed.
    pub const TYPE_DATA_READ_WRITE_ACCESSED: u16 = 0x3;
    /// Type 0xB with S clear: busy 64-bit TSS.
    pub const TYPE_TSS64_BUSY: u16 = 0xb;
    /// Type 0x2 with S clear: LDT.
    pub const TYPE_LDT: u16 = 0x2;
    /// S (attrib bit 4): a code or data segment (clear for system segments).
    pub const S: u16 = 1 << 4;
    /// DPL (attrib bits 6:5) starts here.
    pub const DPL_SHIFT: u32 = 5;
    /// P (attrib bit 7): present.
    pub const P: u16 = 1 << 7;
    /// AVL (attrib bit 8): available to software.
    pub const AVL: u16 = 1 << 8;
    /// L (attrib bit 9): 64-bit code segment.
    pub const L: u16 = 1 << 9;
    /// D/B (attrib bit 10): 32-bit default operand size (must be clear when L is set).
    pub const DB: u16 = 1 << 10;
    /// G (attrib bit 11): limit counted in 4 KiB units.
    pub const G: u16 = 1 << 11;
}

/// Intercept bits of [`ControlArea::intercept_cr`](crate::vmcb::ControlArea::intercept_cr)
/// and [`ControlArea::intercept_dr`](crate::vmcb::ControlArea::intercept_dr).
pub mod intercept_cr {
    /// Intercepts reads of CR`n` (or DR`n` in the DR vector), `n` below 16.
    pub const fn read(n: u32) -> u32 {
        1 << (n & 0xf)
    }

    /// Intercepts writes of CR`n` (or DR`n` in the DR vector), `n` below 16.
    pub const fn write(n: u32) -> u32 {
        1 << (16 + (n & 0xf))
    }
}

/// Bits of [`ControlArea::intercept_misc1`](crate::vmcb::ControlArea::intercept_misc1)
/// (VMCB offset 0x00C).
pub mod intercept_misc1 {
    /// Physical maskable interrupt.
    pub const INTR: u32 = 1 << 0;
    /// Physical NMI.
    pub const NMI: u32 = 1 << 1;
    /// Physical SMI.
    pub const SMI: u32 = 1 << 2;
    /// Physical INIT.
    pub const INIT: u32 = 1 << 3;
    /// Virtual interrupt (the guest becomes able to take V_IRQ).
    pub const VINTR: u32 = 1 << 4;
    /// Writes of CR0 that change bits other than TS or MP.
    pub const CR0_SEL_WRITE: u32 = 1 << 5;
    /// Reads of IDTR.
    pub const IDTR_READ: u32 = 1 << 6;
    /// Reads of GDTR.
    pub const GDTR_READ: u32 = 1 << 7;
    /// Reads of LDTR.
    pub const LDTR_READ: u32 = 1 << 8;
    /// Reads of TR.
    pub const TR_READ: u32 = 1 << 9;
    /// Writes of IDTR.
    pub const IDTR_WRITE: u32 = 1 << 10;
    /// Writes of GDTR.
    pub const GDTR_WRITE: u32 = 1 << 11;
    /// Writes of LDTR.
    pub const LDTR_WRITE: u32 = 1 << 12;
    /// Writes of TR.
    pub const TR_WRITE: u32 = 1 << 13;
    /// RDTSC.
    pub const RDTSC: u32 = 1 << 14;
    /// RDPMC.
    pub const RDPMC: u32 = 1 << 15;
    /// PUSHF.
    pub const PUSHF: u32 = 1 << 16;
    /// POPF.
    pub const POPF: u32 = 1 << 17;
    /// CPUID.
    pub const CPUID: u32 = 1 << 18;
    /// RSM.
    pub const RSM: u32 = 1 << 19;
    /// IRET.
    pub const IRET: u32 = 1 << 20;
    /// Software interrupt (INTn).
    pub const INTN: u32 = 1 << 21;
    /// INVD.
    pub const INVD: u32 = 1 << 22;
    /// PAUSE (with the PAUSE filter, see [`crate::vmcb::ControlArea::pause_filter_count`]).
    pub const PAUSE: u32 = 1 << 23;
    /// HLT.
    pub const HLT: u32 = 1 << 24;
    /// INVLPG.
    pub const INVLPG: u32 = 1 << 25;
    /// INVLPGA.
    pub const INVLPGA: u32 = 1 << 26;
    /// IN/OUT and their string forms, as selected by the I/O permission map.
    pub const IOIO_PROT: u32 = 1 << 27;
    /// RDMSR/WRMSR, as selected by the MSR permission map.
    pub const MSR_PROT: u32 = 1 << 28;
    /// Task switches.
    pub const TASK_SWITCH: u32 = 1 << 29;
    /// FERR_FREEZE: the processor froze on an x87 error.
    pub const FERR_FREEZE: u32 = 1 << 30;
    /// Shutdown (a triple fault, for example).
    pub const SHUTDOWN: u32 = 1 << 31;
}

/// Bits of [`ControlArea::intercept_misc2`](crate::vmcb::ControlArea::intercept_misc2)
/// (VMCB offset 0x010).
pub mod intercept_misc2 {
    /// VMRUN. Must be set: VMRUN fails with VMEXIT_INVALID otherwise.
    pub const VMRUN: u32 = 1 << 0;
    /// VMMCALL (the hypercall instruction).
    pub const VMMCALL: u32 = 1 << 1;
    /// VMLOAD.
    pub const VMLOAD: u32 = 1 << 2;
    /// VMSAVE.
    pub const VMSAVE: u32 = 1 << 3;
    /// STGI.
    pub const STGI: u32 = 1 << 4;
    /// CLGI.
    pub const CLGI: u32 = 1 << 5;
    /// SKINIT.
    pub const SKINIT: u32 = 1 << 6;
    /// RDTSCP.
    pub const RDTSCP: u32 = 1 << 7;
    /// ICEBP (INT1).
    pub const ICEBP: u32 = 1 << 8;
    /// WBINVD and WBNOINVD.
    pub const WBINVD: u32 = 1 << 9;
    /// MONITOR and MONITORX.
    pub const MONITOR: u32 = 1 << 10;
    /// MWAIT and MWAITX, unconditionally.
    pub const MWAIT: u32 = 1 << 11;
    /// MWAIT and MWAITX, only when the monitor hardware is armed.
    pub const MWAIT_ARMED: u32 = 1 << 12;
    /// XSETBV.
    pub const XSETBV: u32 = 1 << 13;
    /// RDPRU.
    pub const RDPRU: u32 = 1 << 14;
    /// Writes of EFER, as a trap after the instruction completed.
    pub const EFER_WRITE_TRAP: u32 = 1 << 15;
}

/// Values of [`ControlArea::tlb_control`](crate::vmcb::ControlArea::tlb_control).
pub mod tlb_control {
    /// Flush nothing.
    pub const DO_NOTHING: u8 = 0x00;
    /// Flush the whole TLB, every ASID (meant for legacy hypervisors).
    pub const FLUSH_ALL: u8 = 0x01;
    /// Flush this guest's TLB entries (its ASID).
    pub const FLUSH_ASID: u8 = 0x03;
    /// Flush this guest's non-global TLB entries.
    pub const FLUSH_ASID_NON_GLOBAL: u8 = 0x07;
}

/// Fields of [`ControlArea::vintr`](crate::vmcb::ControlArea::vintr) (VMCB offset 0x060).
pub mod vintr {
    /// V_TPR (bits 7:0): the guest's virtual TPR (CR8), 4 bits used.
    pub const V_TPR_MASK: u64 = 0xff;
    /// V_IRQ (bit 8): a virtual interrupt is pending.
    pub const V_IRQ: u64 = 1 << 8;
    /// V_INTR_PRIO (bits 19:16): priority of the pending virtual interrupt.
    pub const V_INTR_PRIO_SHIFT: u32 = 16;
    /// Mask of V_INTR_PRIO.
    pub const V_INTR_PRIO_MASK: u64 = 0xf << V_INTR_PRIO_SHIFT;
    /// V_IGN_TPR (bit 20): the pending virtual interrupt ignores the TPR.
    pub const V_IGN_TPR: u64 = 1 << 20;
    /// V_INTR_MASKING (bit 24): the guest's RFLAGS.IF and TPR mask only virtual
    /// interrupts; physical ones are masked by the host's RFLAGS.IF.
    pub const V_INTR_MASKING: u64 = 1 << 24;
    /// V_INTR_VECTOR (bits 39:32): vector of the pending virtual interrupt.
    pub const V_INTR_VECTOR_SHIFT: u32 = 32;
    /// Mask of V_INTR_VECTOR.
    pub const V_INTR_VECTOR_MASK: u64 = 0xff << V_INTR_VECTOR_SHIFT;
}

/// Bit 0 of [`ControlArea::interrupt_shadow`](crate::vmcb::ControlArea::interrupt_shadow):
/// the guest is in an interrupt shadow (after STI or MOV SS), no interrupt may be
/// injected before the next instruction.
pub const INTERRUPT_SHADOW: u64 = 1 << 0;

/// Bit 0 of [`ControlArea::np_enable`](crate::vmcb::ControlArea::np_enable): nested paging
/// on, with [`ControlArea::n_cr3`](crate::vmcb::ControlArea::n_cr3).
pub const NP_ENABLE: u64 = 1 << 0;

/// Bits of [`ControlArea::lbr_virt`](crate::vmcb::ControlArea::lbr_virt) (VMCB offset
/// 0x0B8).
pub mod lbr_virt {
    /// Bit 0: LBR virtualization (the save area's DBGCTL and LBR fields are live).
    pub const LBR_VIRTUALIZATION: u64 = 1 << 0;
    /// Bit 1: VMSAVE and VMLOAD in the guest work on guest-physical addresses.
    pub const VIRTUAL_VMSAVE_VMLOAD: u64 = 1 << 1;
}

/// Bits of [`ControlArea::vmcb_clean`](crate::vmcb::ControlArea::vmcb_clean): each set bit
/// says that group of fields did not change since the last VMRUN of this VMCB on this
/// CPU, so the processor may keep its cached copy. Zero is always safe.
pub mod clean {
    /// Intercept vectors, TSC offset, PAUSE filter.
    pub const INTERCEPTS: u32 = 1 << 0;
    /// IOPM and MSRPM base addresses.
    pub const IOPM: u32 = 1 << 1;
    /// ASID.
    pub const ASID: u32 = 1 << 2;
    /// V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING, V_INTR_VECTOR.
    pub const TPR: u32 = 1 << 3;
    /// Nested paging: NP_ENABLE, N_CR3, G_PAT.
    pub const NP: u32 = 1 << 4;
    /// CR0, CR3, CR4, EFER.
    pub const CRX: u32 = 1 << 5;
    /// DR6, DR7.
    pub const DRX: u32 = 1 << 6;
    /// GDTR, IDTR.
    pub const DT: u32 = 1 << 7;
    /// CS, DS, SS, ES, CPL.
    pub const SEG: u32 = 1 << 8;
    /// CR2.
    pub const CR2: u32 = 1 << 9;
    /// DBGCTL, BR_FROM, BR_TO, LASTEXCPFROM, LASTEXCPTO.
    pub const LBR: u32 = 1 << 10;
    /// AVIC fields.
    pub const AVIC: u32 = 1 << 11;
}

/// The EVENTINJ format (VMCB offset 0x0A8; EXITINTINFO at 0x088 uses it too).
pub mod event_inj {
    /// Bits 7:0: vector.
    pub const VECTOR_MASK: u64 = 0xff;
    /// Bits 10:8: event type.
    pub const TYPE_SHIFT: u32 = 8;
    /// Mask of the event type.
    pub const TYPE_MASK: u64 = 0b111 << TYPE_SHIFT;
    /// Type 0: external or virtual interrupt (INTR).
    pub const TYPE_INTR: u64 = 0;
    /// Type 2: NMI (the vector is ignored).
    pub const TYPE_NMI: u64 = 2;
    /// Type 3: exception (fault or trap).
    pub const TYPE_EXCEPTION: u64 = 3;
    /// Type 4: software interrupt (INTn).
    pub const TYPE_SOFT_INT: u64 = 4;
    /// EV (bit 11): the error code in bits 63:32 is pushed.
    pub const EV: u64 = 1 << 11;
    /// V (bit 31): the event is valid (to be injected).
    pub const VALID: u64 = 1 << 31;
    /// Bits 63:32: error code.
    pub const ERROR_CODE_SHIFT: u32 = 32;

    /// An EVENTINJ value: `vector` of type `kind` (one of the `TYPE_` values, cut to
    /// 3 bits), valid, with `error_code` pushed when given.
    pub const fn encode(vector: u8, kind: u64, error_code: Option<u32>) -> u64 {
        let base = vector as u64 | ((kind << TYPE_SHIFT) & TYPE_MASK) | VALID;
        match error_code {
            Some(code) => base | EV | ((code as u64) << ERROR_CODE_SHIFT),
            None => base,
        }
    }
}

/// Bits of the guest's EFER ([`SaveArea::efer`](crate::vmcb::SaveArea::efer)).
pub mod efer {
    /// System call extensions (SYSCALL/SYSRET).
    pub const SCE: u64 = 1 << 0;
    /// Long mode enable.
    pub const LME: u64 = 1 << 8;
    /// Long mode active.
    pub const LMA: u64 = 1 << 10;
    /// No-execute enable.
    pub const NXE: u64 = 1 << 11;
    /// SVM enable: must be set in the guest's EFER, or VMRUN fails.
    pub const SVME: u64 = 1 << 12;
}
