//! The vCPU boundary: every architecture decodes its guest exits once, into
//! [`VcpuExit`], and the generic VM layer handles them in one match.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

use core::fmt;
use tessera_addr::GuestPhysAddr;
pub use tessera_vdev::AccessWidth;

/// Why a vCPU stopped running guest code.
///
/// A word-sized tag keeps every field aligned, so an exit moves between `Option`
/// and `Result` wrappers with word loads and stores (on targets without unaligned
/// access a byte tag made each move a byte-by-byte copy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum VcpuExit {
    /// The guest read `width` bytes at `addr`, which is not RAM; answer with
    /// [`ArchVcpu::complete_mmio_read`] before running again.
    MmioRead {
        /// Guest-physical address read.
        addr: GuestPhysAddr,
        /// Access size.
        width: AccessWidth,
    },
    /// The guest wrote `value` (`width` bytes) at `addr`, which is not RAM.
    MmioWrite {
        /// Guest-physical address written.
        addr: GuestPhysAddr,
        /// Access size.
        width: AccessWidth,
        /// Value written (zero-extended).
        value: u64,
    },
    /// The guest read `width` bytes from I/O port `port` (x86 IN); answer with
    /// [`ArchVcpu::complete_mmio_read`] before running again.
    PortRead {
        /// The port.
        port: u16,
        /// Access size (1, 2 or 4 bytes).
        width: AccessWidth,
    },
    /// The guest wrote `value` (`width` bytes) to I/O port `port` (x86 OUT).
    PortWrite {
        /// The port.
        port: u16,
        /// Access size (1, 2 or 4 bytes).
        width: AccessWidth,
        /// Value written (zero-extended).
        value: u32,
    },
    /// The guest waits for an interrupt (aarch64 WFI/WFE, riscv WFI, x86 HLT).
    Idle,
    /// A physical interrupt arrived while the guest ran.
    HostInterrupt,
    /// The guest asks to start its vCPU `target` (an MPIDR, hart id or APIC id) at
    /// `entry` with `arg` in its first argument register; answer with [`ArchVcpu::answer`].
    CpuOn {
        /// Architecture id of the vCPU to start.
        target: u64,
        /// Where it starts.
        entry: GuestPhysAddr,
        /// Value for its first argument register.
        arg: u64,
    },
    /// The guest asks whether its vCPU `target` is on; answer with [`ArchVcpu::answer`].
    CpuStatus {
        /// Architecture id of the vCPU asked about.
        target: u64,
    },
    /// The guest asks for inter-processor interrupts to vCPUs of its VM; `value` is
    /// the architecture's request word, which its interrupt controller routes
    /// (aarch64: the ICC_SGI1R_EL1 value written; riscv64: the bit mask of target
    /// harts from SBI send_ipi).
    SendIpi {
        /// The request as the guest wrote it.
        value: u64,
    },
    /// The calling vCPU suspends itself until an interrupt resumes it; other vCPUs
    /// see it suspended meanwhile. With `resume` none, its state is kept and the call
    /// returns (SBI HSM retentive suspend; the vCPU has already set the call's return
    /// value). With `resume` (entry, argument), its state is lost and it resumes at the
    /// entry as a vCPU started there (non-retentive suspend), unless the entry is not
    /// in the VM's executable RAM: then the call is answered
    /// [`CallAnswer::BadAddress`] and nothing is suspended.
    CpuSuspend {
        /// Where a non-retentive suspend resumes, with the argument it passes.
        resume: Option<(GuestPhysAddr, u64)>,
    },
    /// The guest stopped the calling vCPU.
    CpuOff,
    /// The guest powered its VM off.
    SystemOff,
    /// The guest asked for its VM to be reset.
    SystemReset,
    /// The guest powered its VM off, reporting a system failure (SBI system reset
    /// reason 1): the VM ends, not cleanly.
    SystemFailure,
    /// The guest asks its firmware console to write `len` bytes from guest-physical
    /// `addr` (SBI debug console write); answer with [`ArchVcpu::answer`].
    ConsoleWrite {
        /// Guest-physical address of the first byte.
        addr: GuestPhysAddr,
        /// Number of bytes.
        len: u64,
    },
    /// The guest asks its firmware console for up to `len` typed bytes into
    /// guest-physical `addr` (SBI debug console read); answer with [`ArchVcpu::answer`].
    ConsoleRead {
        /// Guest-physical address of the buffer.
        addr: GuestPhysAddr,
        /// Size of the buffer.
        len: u64,
    },
    /// The guest writes one byte to its firmware console (SBI debug console
    /// write_byte, legacy console_putchar); answer with [`ArchVcpu::answer`].
    ConsoleWriteByte(u8),
    /// The guest asks its firmware console for one typed byte (legacy
    /// console_getchar); answer with [`ArchVcpu::answer`].
    ConsoleReadByte,
    /// The exit was dealt with inside the vCPU; resume the guest.
    Handled,
}

/// Answers the VM layer gives to a guest's firmware-style requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallAnswer {
    /// The request was carried out.
    Done,
    /// CPU_ON: the target is already on.
    AlreadyOn,
    /// CPU_ON: a start of the target is already pending.
    OnPending,
    /// No vCPU of this VM has the id given.
    NoSuchCpu,
    /// The entry address is not in the VM's memory.
    BadAddress,
    /// CPU status: the target is on.
    StatusOn,
    /// CPU status: the target is off.
    StatusOff,
    /// CPU status: the target is starting.
    StatusPending,
    /// CPU status: the target is suspended (it waits for an interrupt to resume).
    StatusSuspended,
    /// Console: this many bytes were written or read.
    Bytes(u64),
    /// Console: the byte read, or `None` when nothing was typed.
    Byte(Option<u8>),
    /// Console: the buffer named does not lie wholly in the VM's RAM.
    BadBuffer,
    /// Console: the VM has no console.
    NoConsole,
}

/// A guest action the vCPU cannot handle: the VM is stopped, with this as the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcpuError {
    /// An exception class or exit code the hypervisor does not handle (raw syndrome).
    UnknownExit {
        /// Architecture exit syndrome (ESR_EL2, scause, EXITCODE).
        syndrome: u64,
        /// Guest program counter.
        pc: u64,
    },
    /// An access to a non-RAM address that cannot be emulated (no decode information).
    UndecodableAccess {
        /// Guest-physical address accessed.
        addr: GuestPhysAddr,
        /// Guest program counter.
        pc: u64,
    },
    /// The guest kept faulting at one place on an address that is neither RAM nor a
    /// device ([`FAULT_STREAK_LIMIT`] injected faults in a row).
    FaultLoop {
        /// Guest-physical address accessed.
        addr: GuestPhysAddr,
        /// Guest program counter.
        pc: u64,
    },
    /// A fault on the guest's own memory that stage-2 should never raise.
    MemoryFault {
        /// Guest-physical address.
        addr: GuestPhysAddr,
        /// Architecture syndrome.
        syndrome: u64,
        /// Guest program counter.
        pc: u64,
    },
    /// A hardware error reported while the guest ran (SError and similar).
    HardwareError {
        /// Architecture syndrome.
        syndrome: u64,
    },
}

impl fmt::Display for VcpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownExit { syndrome, pc } => {
                write!(f, "unhandled exit (syndrome {syndrome:#x}) at pc {pc:#x}")
            }
            Self::UndecodableAccess { addr, pc } => {
                write!(
                    f,
                    "access to {addr:?} that cannot be emulated, at pc {pc:#x}"
                )
            }
            Self::FaultLoop { addr, pc } => {
                write!(
                    f,
                    "faulted {FAULT_STREAK_LIMIT} times in a row at pc {pc:#x} on {addr:?}, \
                     which is neither RAM nor a device: its exception handler cannot take the fault"
                )
            }
            Self::MemoryFault { addr, syndrome, pc } => {
                write!(
                    f,
                    "fault on guest memory {addr:?} (syndrome {syndrome:#x}) at pc {pc:#x}"
                )
            }
            Self::HardwareError { syndrome } => {
                write!(f, "hardware error (syndrome {syndrome:#x})")
            }
        }
    }
}

/// Faults injected in a row at one guest program counter before the VM is stopped
/// instead: a guest whose handler faults again, or whose vector table is itself
/// unmapped, would otherwise loop in the hypervisor forever.
pub const FAULT_STREAK_LIMIT: u32 = 64;

/// Counts faults injected in a row at one program counter on one address
/// ([`FAULT_STREAK_LIMIT`]). A guest probing many addresses from one instruction
/// (a loop over a range) starts a new streak with each address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStreak {
    pc: u64,
    addr: u64,
    count: u32,
}

impl FaultStreak {
    /// Notes a fault at `pc` on address `addr`; returns whether it may still be
    /// injected (the streak there is within [`FAULT_STREAK_LIMIT`]).
    pub fn note(&mut self, pc: u64, addr: u64) -> bool {
        if self.count > 0 && self.pc == pc && self.addr == addr {
            self.count = self.count.saturating_add(1);
        } else {
            *self = Self { pc, addr, count: 1 };
        }
        self.count <= FAULT_STREAK_LIMIT
    }
}

/// Log lines of one kind a vCPU prints in full before [`WarnLimit`] thins them out.
pub const WARN_BURST: u64 = 8;

/// Thins out log lines a guest can cause at will (an undefined register it reads in
/// a loop), so that it cannot flood the hypervisor's console: the first
/// [`WARN_BURST`] are printed, then only the 16th, 32nd, 64th and so on, each saying
/// how many were left out since the last one printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WarnLimit {
    seen: u64,
}

impl WarnLimit {
    /// Counts one more; `Some(dropped)` when this one is printed, with the number of
    /// lines left out since the last one printed.
    pub fn admit(&mut self) -> Option<u64> {
        self.seen = self.seen.saturating_add(1);
        let seen = self.seen;
        if seen <= WARN_BURST {
            Some(0)
        } else if seen.is_power_of_two() {
            Some(seen / 2 - 1)
        } else {
            None
        }
    }
}

/// What a log line adds for the lines [`WarnLimit::admit`] left out before it.
pub fn dropped_note(dropped: u64) -> alloc::string::String {
    if dropped == 0 {
        alloc::string::String::new()
    } else {
        alloc::format!(" ({dropped} more like it not shown)")
    }
}

/// One architecture's vCPU: runs guest code until the next exit that needs the VM layer.
pub trait ArchVcpu {
    /// Puts the vCPU's saved state on this physical CPU: it is about to run here.
    fn load(&mut self);
    /// Saves the vCPU's state from this physical CPU: another vCPU will run here.
    fn put(&mut self);
    /// Runs the guest until an exit the VM layer must see.
    fn run(&mut self) -> Result<VcpuExit, VcpuError>;
    /// Gives the value of the device register read by the last [`VcpuExit::MmioRead`]
    /// or [`VcpuExit::PortRead`].
    fn complete_mmio_read(&mut self, value: u64);
    /// The last [`VcpuExit::MmioRead`] or [`VcpuExit::MmioWrite`] reached neither RAM
    /// nor a device: gives the guest what the hardware gives for such an access
    /// (aarch64: a synchronous external abort to EL1; riscv64: a load or store access
    /// fault to VS-mode; x86: the read returns all ones, the write is dropped).
    /// Returns `false` when the guest cannot take it: it faulted at the same place
    /// [`FAULT_STREAK_LIMIT`] times in a row (its handler faults too, or returns to the
    /// access), and its VM is stopped instead.
    fn fail_access(&mut self) -> bool;
    /// Answers the last [`VcpuExit::CpuOn`], [`VcpuExit::CpuStatus`] or console exit.
    fn answer(&mut self, answer: CallAnswer);
    /// Puts the vCPU in its reset state, about to run at `entry` with `arg` in the first argument register.
    fn reset(&mut self, entry: GuestPhysAddr, arg: u64);
    /// The guest program counter (for log lines).
    fn pc(&self) -> u64;
    /// Whether the guest's wait for an interrupt (WFI) leaves it as a
    /// [`VcpuExit::Idle`] (`true`, how a vCPU starts) or waits in the guest until an
    /// interrupt comes, as without a hypervisor. The VM layer asks for the second
    /// when the vCPU has its physical CPU alone and nothing waits to be done when it
    /// waits. An architecture whose interrupt delivery needs the exit keeps it.
    fn set_wait_exits(&mut self, exits: bool) {
        let _ = exits;
    }
    /// While the vCPU is not loaded: the host counter value at which a timer of its
    /// own will interrupt it (so that a physical CPU that sleeps meanwhile wakes for
    /// it); `None` when it is loaded (its timer then interrupts the CPU itself), has
    /// no timer armed, or its architecture's guest timers are emulated devices.
    fn timer_deadline(&self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_a_guest_causes_thin_out_and_count_what_was_left_out() {
        let mut limit = WarnLimit::default();
        let printed: Vec<(u64, u64)> = (1..=1000u64)
            .filter_map(|n| limit.admit().map(|dropped| (n, dropped)))
            .collect();
        let burst: Vec<(u64, u64)> = (1..=WARN_BURST).map(|n| (n, 0)).collect();
        assert_eq!(printed[..WARN_BURST as usize], burst[..]);
        assert_eq!(
            printed[WARN_BURST as usize..],
            [
                (16, 7),
                (32, 15),
                (64, 31),
                (128, 63),
                (256, 127),
                (512, 255)
            ]
        );
        assert_eq!(dropped_note(0), "");
        assert_eq!(dropped_note(7), " (7 more like it not shown)");
    }

    #[test]
    fn a_fault_streak_is_bounded_at_one_place_and_ends_elsewhere() {
        let mut streak = FaultStreak::default();
        for _ in 0..FAULT_STREAK_LIMIT {
            assert!(streak.note(0x4000, 0x1000));
        }
        assert!(
            !streak.note(0x4000, 0x1000),
            "one more at the same place is a loop"
        );
        assert!(!streak.note(0x4000, 0x1000));
        // A fault elsewhere, or on another address, starts a new streak.
        assert!(streak.note(0x4004, 0x1000));
        assert!(streak.note(0x4000, 0x1000));
        for addr in 0..1000 {
            assert!(streak.note(0x4000, addr), "a probe of many addresses");
        }
    }
}
