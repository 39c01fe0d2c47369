//! Why a VM ended, and the guest errors that end one.

use core::fmt;
use tessera_addr::GuestPhysAddr;
use tessera_vcpu::VcpuError;
use tessera_vdev::BusError;

/// A guest action that ends its VM.
#[derive(Clone, Debug, PartialEq)]
pub enum GuestError {
    /// The vCPU could not handle an exit.
    Vcpu(VcpuError),
    /// An access to a guest-physical address no device or RAM answers.
    Mmio {
        /// Address accessed.
        addr: GuestPhysAddr,
        /// A write rather than a read.
        write: bool,
        /// What the bus said.
        error: BusError,
        /// Guest program counter.
        pc: u64,
    },
}

impl fmt::Display for GuestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Vcpu(error) => write!(f, "{error}"),
            Self::Mmio {
                addr,
                write,
                error,
                pc,
            } => {
                let kind = if *write { "write" } else { "read" };
                write!(f, "{kind} at {addr:?} failed: {error} (pc {pc:#x})")
            }
        }
    }
}

/// Why a VM ended.
#[derive(Clone, Debug, PartialEq)]
pub enum EndReason {
    /// The guest powered it off.
    PoweredOff,
    /// The guest powered it off reporting a system failure (SBI system reset with
    /// reason "system failure"): an end, but not a clean one.
    SystemFailure,
    /// A guest error on one of its vCPUs stopped it.
    Fault {
        /// Index of the vCPU.
        vcpu: usize,
        /// What the guest did.
        error: GuestError,
    },
    /// It asked for more resets than a VM gets ([`crate::MAX_RESETS`]): a guest that
    /// resets itself in a loop is stopped rather than restarted forever.
    ResetLoop {
        /// Resets carried out before it was stopped.
        resets: u32,
    },
    /// The operator stopped it (`vm stop` in the hypervisor shell).
    StoppedByOperator,
}

impl EndReason {
    /// Whether the VM ended the way it was meant to (its guest's power-off, or the
    /// operator's stop).
    pub fn is_clean(&self) -> bool {
        matches!(self, Self::PoweredOff | Self::StoppedByOperator)
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PoweredOff => write!(f, "powered off"),
            Self::SystemFailure => write!(f, "powered off, reporting a system failure"),
            Self::Fault { vcpu, error } => write!(f, "stopped: vCPU {vcpu}: {error}"),
            Self::ResetLoop { resets } => {
                write!(f, "stopped: it reset itself {resets} times (a reset loop)")
            }
            Self::StoppedByOperator => write!(f, "stopped from the hypervisor shell"),
        }
    }
}
