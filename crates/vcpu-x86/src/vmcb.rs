//! The virtual machine control block (VMCB): the 4 KiB page VMRUN takes the guest's
//! state and the intercept settings from, and #VMEXIT writes them back to.
//!
//! Layout from the AMD64 Architecture Programmer's Manual, volume 2, appendix B
//! ("Layout of VMCB"): the control area (table B-1) at offset 0x000, the state save
//! area (table B-2) at 0x400. Reserved ranges are explicit byte arrays, so that every
//! field sits where the manual puts it; the `const` assertions below check every
//! offset at compile time. Reserved bytes must stay zero (VMRUN checks some of them).

use core::mem::{offset_of, size_of};

mod bits;

pub use bits::{
    INTERRUPT_SHADOW, NP_ENABLE, attrib, clean, efer, event_inj, intercept_cr, intercept_misc1,
    intercept_misc2, lbr_virt, tlb_control, vintr,
};

/// One segment register as the VMCB holds it: 16 bytes.
///
/// `attrib` packs the attribute bits of the segment descriptor: attrib[7:0] are
/// descriptor bits 47:40 (type in 3:0, S in 4, DPL in 6:5, P in 7) and attrib[11:8]
/// are descriptor bits 55:52 (AVL in 8, L in 9, D/B in 10, G in 11); attrib[15:12] are
/// zero. See [`attrib`] for the bits. For GDTR and IDTR only `limit` and `base` are used.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// Selector.
    pub selector: u16,
    /// Attributes, packed as described on [`Segment`].
    pub attrib: u16,
    /// Limit in bytes (already scaled by G: 0xFFFF_FFFF for a flat 4 GiB segment).
    pub limit: u32,
    /// Base address.
    pub base: u64,
}

impl Segment {
    /// A segment over the whole 4 GiB from base 0 with attributes `attrib`.
    const fn flat(selector: u16, attrib: u16) -> Self {
        Self {
            selector,
            attrib,
            limit: 0xffff_ffff,
            base: 0,
        }
    }

    /// A flat 64-bit ring-0 code segment for a guest entered directly in long mode:
    /// base 0, limit 4 GiB, type execute/read accessed, S, DPL 0, P, L, G (attrib
    /// 0xA9B). D/B is clear, as it must be with L.
    pub const fn flat_code64(selector: u16) -> Self {
        Self::flat(
            selector,
            attrib::TYPE_CODE_EXEC_READ_ACCESSED | attrib::S | attrib::P | attrib::L | attrib::G,
        )
    }

    /// A flat 32-bit ring-0 code segment, for a guest entered in protected mode with
    /// paging off (multiboot): base 0, limit 4 GiB, type execute/read accessed, S,
    /// DPL 0, P, D/B, G (attrib 0xC9B).
    pub const fn flat_code32(selector: u16) -> Self {
        Self::flat(
            selector,
            attrib::TYPE_CODE_EXEC_READ_ACCESSED | attrib::S | attrib::P | attrib::DB | attrib::G,
        )
    }

    /// A real-mode segment as INIT and STARTUP leave one: base `selector` * 16,
    /// limit 64 KiB, present, S, accessed, execute/read for code (`code`) else
    /// read/write data (attrib 0x9B or 0x93).
    pub const fn real_mode(selector: u16, code: bool) -> Self {
        let kind = if code {
            attrib::TYPE_CODE_EXEC_READ_ACCESSED
        } else {
            attrib::TYPE_DATA_READ_WRITE_ACCESSED
        };
        Self {
            selector,
            attrib: kind | attrib::S | attrib::P,
            limit: 0xffff,
            base: (selector as u64) << 4,
        }
    }

    /// A flat ring-0 data segment: base 0, limit 4 GiB, type read/write accessed, S,
    /// DPL 0, P, D/B, G (attrib 0xC93). Suits SS, DS, ES, FS and GS.
    pub const fn flat_data(selector: u16) -> Self {
        Self::flat(
            selector,
            attrib::TYPE_DATA_READ_WRITE_ACCESSED | attrib::S | attrib::P | attrib::DB | attrib::G,
        )
    }
}

/// The VMCB control area (offsets 0x000-0x3FF): intercepts, exit information,
/// event injection, nested paging.
#[repr(C)]
#[derive(Clone, PartialEq, Eq)]
pub struct ControlArea {
    /// 0x000: intercepts of CR reads (bits 15:0, one per CR) and writes (bits 31:16).
    pub intercept_cr: u32,
    /// 0x004: intercepts of DR reads (bits 15:0) and writes (bits 31:16).
    pub intercept_dr: u32,
    /// 0x008: intercepts of exceptions, one bit per vector.
    pub intercept_exceptions: u32,
    /// 0x00C: instruction and event intercepts, see [`intercept_misc1`].
    pub intercept_misc1: u32,
    /// 0x010: instruction intercepts, see [`intercept_misc2`]; VMRUN must be set.
    pub intercept_misc2: u32,
    _reserved_014: [u8; 0x28],
    /// 0x03C: PAUSE filter threshold (cycles between PAUSEs that reset the count).
    pub pause_filter_threshold: u16,
    /// 0x03E: PAUSE filter count (PAUSEs before the intercept fires).
    pub pause_filter_count: u16,
    /// 0x040: physical address of the I/O permission map (12 KiB, 4 KiB aligned).
    pub iopm_base_pa: u64,
    /// 0x048: physical address of the MSR permission map (8 KiB, 4 KiB aligned).
    pub msrpm_base_pa: u64,
    /// 0x050: added to the TSC the guest reads.
    pub tsc_offset: u64,
    /// 0x058: the guest's address space id (never 0, which is the host's).
    pub guest_asid: u32,
    /// 0x05C: TLB flush done by VMRUN, see [`tlb_control`].
    pub tlb_control: u8,
    _reserved_05d: [u8; 3],
    /// 0x060: virtual interrupt control, see [`vintr`].
    pub vintr: u64,
    /// 0x068: bit 0, the guest is in an interrupt shadow (see [`INTERRUPT_SHADOW`]).
    pub interrupt_shadow: u64,
    /// 0x070: why the guest exited, see [`crate::exit::code`].
    pub exitcode: u64,
    /// 0x078: exit information 1 (per exit code).
    pub exitinfo1: u64,
    /// 0x080: exit information 2 (per exit code).
    pub exitinfo2: u64,
    /// 0x088: the event being delivered when the exit happened, in the
    /// [`event_inj`] format.
    pub exitintinfo: u64,
    /// 0x090: bit 0 enables nested paging (see [`NP_ENABLE`]).
    pub np_enable: u64,
    _reserved_098: [u8; 0x10],
    /// 0x0A8: event injected at the next VMRUN, see [`event_inj`].
    pub event_inj: u64,
    /// 0x0B0: nested page table root (nCR3), for example `X86Npt::ncr3` of tessera-stage2.
    pub n_cr3: u64,
    /// 0x0B8: LBR virtualization and virtual VMLOAD/VMSAVE, see [`lbr_virt`].
    pub lbr_virt: u64,
    /// 0x0C0: VMCB clean bits, see [`clean`]: state that did not change since the last VMRUN.
    pub vmcb_clean: u32,
    _reserved_0c4: u32,
    /// 0x0C8: address of the instruction after the intercepted one (NRIP save).
    pub next_rip: u64,
    /// 0x0D0: how many guest instruction bytes follow (decode assists), 0 to 15.
    pub insn_len: u8,
    /// 0x0D1: the bytes of the instruction that caused a nested page fault or #PF.
    pub insn_bytes: [u8; 15],
    _reserved_0e0: [u8; 0x320],
}

/// The VMCB state save area (offsets 0x400-0xFFF): the guest's registers.
#[repr(C)]
#[derive(Clone, PartialEq, Eq)]
pub struct SaveArea {
    /// 0x400: ES.
    pub es: Segment,
    /// 0x410: CS.
    pub cs: Segment,
    /// 0x420: SS.
    pub ss: Segment,
    /// 0x430: DS.
    pub ds: Segment,
    /// 0x440: FS.
    pub fs: Segment,
    /// 0x450: GS.
    pub gs: Segment,
    /// 0x460: GDTR (limit and base only).
    pub gdtr: Segment,
    /// 0x470: LDTR.
    pub ldtr: Segment,
    /// 0x480: IDTR (limit and base only).
    pub idtr: Segment,
    /// 0x490: TR.
    pub tr: Segment,
    _reserved_4a0: [u8; 0x2b],
    /// 0x4CB: current privilege level (in long mode, equal to SS.DPL).
    pub cpl: u8,
    _reserved_4cc: [u8; 4],
    /// 0x4D0: EFER (SVME must be set), see [`efer`].
    pub efer: u64,
    _reserved_4d8: [u8; 0x70],
    /// 0x548: CR4.
    pub cr4: u64,
    /// 0x550: CR3.
    pub cr3: u64,
    /// 0x558: CR0.
    pub cr0: u64,
    /// 0x560: DR7.
    pub dr7: u64,
    /// 0x568: DR6.
    pub dr6: u64,
    /// 0x570: RFLAGS.
    pub rflags: u64,
    /// 0x578: RIP.
    pub rip: u64,
    _reserved_580: [u8; 0x58],
    /// 0x5D8: RSP.
    pub rsp: u64,
    _reserved_5e0: [u8; 0x18],
    /// 0x5F8: RAX (the other general registers are not in the VMCB).
    pub rax: u64,
    /// 0x600: STAR.
    pub star: u64,
    /// 0x608: LSTAR.
    pub lstar: u64,
    /// 0x610: CSTAR.
    pub cstar: u64,
    /// 0x618: SFMASK.
    pub sfmask: u64,
    /// 0x620: KernelGSBase.
    pub kernel_gs_base: u64,
    /// 0x628: SYSENTER_CS.
    pub sysenter_cs: u64,
    /// 0x630: SYSENTER_ESP.
    pub sysenter_esp: u64,
    /// 0x638: SYSENTER_EIP.
    pub sysenter_eip: u64,
    /// 0x640: CR2.
    pub cr2: u64,
    _reserved_648: [u8; 0x20],
    /// 0x668: the guest's PAT, used for its own page tables under nested paging.
    pub g_pat: u64,
    /// 0x670: DBGCTL MSR (with LBR virtualization).
    pub dbgctl: u64,
    /// 0x678: BR_FROM MSR (with LBR virtualization).
    pub br_from: u64,
    /// 0x680: BR_TO MSR (with LBR virtualization).
    pub br_to: u64,
    /// 0x688: LASTEXCPFROM MSR (with LBR virtualization).
    pub last_excp_from: u64,
    /// 0x690: LASTEXCPTO MSR (with LBR virtualization).
    pub last_excp_to: u64,
    _reserved_698: [u8; 0x968],
}

/// A whole VMCB: one 4 KiB-aligned page, control area then state save area.
#[repr(C, align(4096))]
#[derive(Clone, PartialEq, Eq)]
pub struct Vmcb {
    /// Offset 0x000.
    pub control: ControlArea,
    /// Offset 0x400.
    pub save: SaveArea,
}

impl ControlArea {
    /// A control area with every field zero.
    pub const fn new() -> Self {
        Self {
            intercept_cr: 0,
            intercept_dr: 0,
            intercept_exceptions: 0,
            intercept_misc1: 0,
            intercept_misc2: 0,
            _reserved_014: [0; 0x28],
            pause_filter_threshold: 0,
            pause_filter_count: 0,
            iopm_base_pa: 0,
            msrpm_base_pa: 0,
            tsc_offset: 0,
            guest_asid: 0,
            tlb_control: 0,
            _reserved_05d: [0; 3],
            vintr: 0,
            interrupt_shadow: 0,
            exitcode: 0,
            exitinfo1: 0,
            exitinfo2: 0,
            exitintinfo: 0,
            np_enable: 0,
            _reserved_098: [0; 0x10],
            event_inj: 0,
            n_cr3: 0,
            lbr_virt: 0,
            vmcb_clean: 0,
            _reserved_0c4: 0,
            next_rip: 0,
            insn_len: 0,
            insn_bytes: [0; 15],
            _reserved_0e0: [0; 0x320],
        }
    }

    /// The guest instruction bytes the processor fetched (decode assists): the first
    /// [`insn_len`](Self::insn_len) of [`insn_bytes`](Self::insn_bytes), at most 15.
    pub fn guest_insn_bytes(&self) -> &[u8] {
        let len = usize::from(self.insn_len).min(self.insn_bytes.len());
        self.insn_bytes.get(..len).unwrap_or(&[])
    }
}

impl Default for ControlArea {
    fn default() -> Self {
        Self::new()
    }
}

impl SaveArea {
    /// A state save area with every field zero.
    pub const fn new() -> Self {
        const NULL: Segment = Segment {
            selector: 0,
            attrib: 0,
            limit: 0,
            base: 0,
        };
        Self {
            es: NULL,
            cs: NULL,
            ss: NULL,
            ds: NULL,
            fs: NULL,
            gs: NULL,
            gdtr: NULL,
            ldtr: NULL,
            idtr: NULL,
            tr: NULL,
            _reserved_4a0: [0; 0x2b],
            cpl: 0,
            _reserved_4cc: [0; 4],
            efer: 0,
            _reserved_4d8: [0; 0x70],
            cr4: 0,
            cr3: 0,
            cr0: 0,
            dr7: 0,
            dr6: 0,
            rflags: 0,
            rip: 0,
            _reserved_580: [0; 0x58],
            rsp: 0,
            _reserved_5e0: [0; 0x18],
            rax: 0,
            star: 0,
            lstar: 0,
            cstar: 0,
            sfmask: 0,
            kernel_gs_base: 0,
            sysenter_cs: 0,
            sysenter_esp: 0,
            sysenter_eip: 0,
            cr2: 0,
            _reserved_648: [0; 0x20],
            g_pat: 0,
            dbgctl: 0,
            br_from: 0,
            br_to: 0,
            last_excp_from: 0,
            last_excp_to: 0,
            _reserved_698: [0; 0x968],
        }
    }
}

impl Default for SaveArea {
    fn default() -> Self {
        Self::new()
    }
}

impl Vmcb {
    /// A VMCB with every field zero.
    pub const fn new() -> Self {
        Self {
            control: ControlArea::new(),
            save: SaveArea::new(),
        }
    }
}

impl Default for Vmcb {
    fn default() -> Self {
        Self::new()
    }
}

/// Checks that `$field` of `$ty` sits at `$offset`.
macro_rules! assert_offsets {
    ($ty:ty { $($field:ident).+ = $offset:expr $(, $($more:ident).+ = $more_offset:expr)* $(,)? }) => {
        const _: () = assert!(offset_of!($ty, $($field).+) == $offset);
        $(const _: () = assert!(offset_of!($ty, $($more).+) == $more_offset);)*
    };
}

const _: () = assert!(size_of::<Segment>() == 16);
const _: () = assert!(size_of::<ControlArea>() == 0x400);
const _: () = assert!(size_of::<SaveArea>() == 0xc00);
const _: () = assert!(size_of::<Vmcb>() == 4096);
const _: () = assert!(core::mem::align_of::<Vmcb>() == 4096);

assert_offsets!(Segment {
    selector = 0,
    attrib = 2,
    limit = 4,
    base = 8,
});

assert_offsets!(Vmcb {
    control = 0x000,
    control.intercept_cr = 0x000,
    control.intercept_dr = 0x004,
    control.intercept_exceptions = 0x008,
    control.intercept_misc1 = 0x00c,
    control.intercept_misc2 = 0x010,
    control.pause_filter_threshold = 0x03c,
    control.pause_filter_count = 0x03e,
    control.iopm_base_pa = 0x040,
    control.msrpm_base_pa = 0x048,
    control.tsc_offset = 0x050,
    control.guest_asid = 0x058,
    control.tlb_control = 0x05c,
    control.vintr = 0x060,
    control.interrupt_shadow = 0x068,
    control.exitcode = 0x070,
    control.exitinfo1 = 0x078,
    control.exitinfo2 = 0x080,
    control.exitintinfo = 0x088,
    control.np_enable = 0x090,
    control.event_inj = 0x0a8,
    control.n_cr3 = 0x0b0,
    control.lbr_virt = 0x0b8,
    control.vmcb_clean = 0x0c0,
    control.next_rip = 0x0c8,
    control.insn_len = 0x0d0,
    control.insn_bytes = 0x0d1,
    control._reserved_0e0 = 0x0e0,
    save = 0x400,
    save.es = 0x400,
    save.cs = 0x410,
    save.ss = 0x420,
    save.ds = 0x430,
    save.fs = 0x440,
    save.gs = 0x450,
    save.gdtr = 0x460,
    save.ldtr = 0x470,
    save.idtr = 0x480,
    save.tr = 0x490,
    save.cpl = 0x4cb,
    save.efer = 0x4d0,
    save.cr4 = 0x548,
    save.cr3 = 0x550,
    save.cr0 = 0x558,
    save.dr7 = 0x560,
    save.dr6 = 0x568,
    save.rflags = 0x570,
    save.rip = 0x578,
    save.rsp = 0x5d8,
    save.rax = 0x5f8,
    save.star = 0x600,
    save.lstar = 0x608,
    save.cstar = 0x610,
    save.sfmask = 0x618,
    save.kernel_gs_base = 0x620,
    save.sysenter_cs = 0x628,
    save.sysenter_esp = 0x630,
    save.sysenter_eip = 0x638,
    save.cr2 = 0x640,
    save.g_pat = 0x668,
    save.dbgctl = 0x670,
    save.br_from = 0x678,
    save.br_to = 0x680,
    save.last_excp_from = 0x688,
    save.last_excp_to = 0x690,
    save._reserved_698 = 0x698,
});
