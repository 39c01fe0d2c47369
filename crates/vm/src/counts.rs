//! Exits of a VM counted by reason: what a guest costs, printed when the VM ends.

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};
use tessera_vcpu::VcpuExit;

/// Why a vCPU left the guest, as counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// An emulated device access.
    Mmio,
    /// An emulated I/O port access (x86).
    Port,
    /// The guest waited for an interrupt.
    Idle,
    /// A physical interrupt arrived while the guest ran.
    HostInterrupt,
    /// The guest sent inter-processor interrupts.
    Ipi,
    /// A power call: CPU on/off/status/suspend, system off/reset.
    Power,
    /// A firmware console call (SBI debug console, legacy putchar/getchar).
    Console,
    /// An exit the vCPU dealt with itself and reported.
    Handled,
}

/// Counters of exits by [`ExitReason`].
#[derive(Debug, Default)]
pub struct ExitCounts {
    counts: [AtomicU64; 8],
}

impl ExitReason {
    /// The reason an exit is counted under.
    pub fn of(exit: &VcpuExit) -> Self {
        match exit {
            VcpuExit::MmioRead { .. } | VcpuExit::MmioWrite { .. } => Self::Mmio,
            VcpuExit::PortRead { .. } | VcpuExit::PortWrite { .. } => Self::Port,
            VcpuExit::Idle => Self::Idle,
            VcpuExit::HostInterrupt => Self::HostInterrupt,
            VcpuExit::SendIpi { .. } => Self::Ipi,
            VcpuExit::CpuOn { .. }
            | VcpuExit::CpuStatus { .. }
            | VcpuExit::CpuSuspend { .. }
            | VcpuExit::CpuOff
            | VcpuExit::SystemOff
            | VcpuExit::SystemFailure
            | VcpuExit::SystemReset => Self::Power,
            VcpuExit::ConsoleWrite { .. }
            | VcpuExit::ConsoleRead { .. }
            | VcpuExit::ConsoleWriteByte(_)
            | VcpuExit::ConsoleReadByte => Self::Console,
            VcpuExit::Handled => Self::Handled,
        }
    }

    const ALL: [Self; 8] = [
        Self::Mmio,
        Self::Port,
        Self::Idle,
        Self::HostInterrupt,
        Self::Ipi,
        Self::Power,
        Self::Console,
        Self::Handled,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Mmio => "mmio",
            Self::Port => "port",
            Self::Idle => "idle",
            Self::HostInterrupt => "host-interrupt",
            Self::Ipi => "ipi",
            Self::Power => "power",
            Self::Console => "console",
            Self::Handled => "handled",
        }
    }
}

impl ExitCounts {
    /// Counts one exit.
    pub fn record(&self, reason: ExitReason) {
        if let Some(counter) = self.counts.get(reason as usize) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The count of `reason`.
    pub fn get(&self, reason: ExitReason) -> u64 {
        self.counts
            .get(reason as usize)
            .map_or(0, |counter| counter.load(Ordering::Relaxed))
    }

    /// The total of every reason.
    pub fn total(&self) -> u64 {
        ExitReason::ALL.iter().map(|&r| self.get(r)).sum()
    }
}

/// `total N (mmio N, idle N, ...)`; port and console exits only where there were
/// some (x86 ports, riscv64 firmware consoles).
impl fmt::Display for ExitCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} exits (", self.total())?;
        let shown = ExitReason::ALL.iter().filter(|&&reason| {
            !matches!(reason, ExitReason::Port | ExitReason::Console) || self.get(reason) != 0
        });
        for (i, reason) in shown.enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{} {}", reason.name(), self.get(*reason))?;
        }
        write!(f, ")")
    }
}
