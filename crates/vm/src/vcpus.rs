//! Power state of a VM's vCPUs (PSCI CPU_ON / CPU_OFF / AFFINITY_INFO and their
//! equivalents), shared by the physical CPUs that run them.

use alloc::vec::Vec;
use spin::Mutex;
use tessera_addr::GuestPhysAddr;
use tessera_vcpu::CallAnswer;

/// Power state of one vCPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcpuState {
    /// Not running; CPU_ON may start it.
    Off,
    /// CPU_ON was accepted; it starts at `entry` with `arg` when its physical CPU picks it up.
    Starting {
        /// Entry point.
        entry: GuestPhysAddr,
        /// First argument register value.
        arg: u64,
    },
    /// Running guest code.
    On,
    /// Suspended by its own request (SBI HSM suspend) until an interrupt resumes it;
    /// on as far as starting it is concerned.
    Suspended {
        /// Where it resumes (entry, argument) when its state was not kept
        /// (non-retentive suspend); none when it carries on where it was.
        resume: Option<(GuestPhysAddr, u64)>,
    },
}

/// The vCPUs of one VM, by index, with their architecture ids.
pub struct VcpuTable {
    ids: Vec<u64>,
    states: Mutex<Vec<VcpuState>>,
}

impl VcpuTable {
    /// vCPU 0 on, the others off.
    pub fn new(ids: Vec<u64>) -> Self {
        let states = Self::reset_states(ids.len());
        Self {
            ids,
            states: Mutex::new(states),
        }
    }

    fn reset_states(count: usize) -> Vec<VcpuState> {
        (0..count)
            .map(|i| {
                if i == 0 {
                    VcpuState::On
                } else {
                    VcpuState::Off
                }
            })
            .collect()
    }

    /// Back to vCPU 0 on, the others off.
    pub fn reset(&self) {
        *self.states.lock() = Self::reset_states(self.ids.len());
    }

    /// Whether every vCPU is off (none runs or is starting): the VM can never run again.
    pub fn all_off(&self) -> bool {
        self.states
            .lock()
            .iter()
            .all(|state| *state == VcpuState::Off)
    }

    /// Number of vCPUs.
    pub fn count(&self) -> usize {
        self.ids.len()
    }

    /// Architecture id (MPIDR, hart id, APIC id) of vCPU `index`.
    pub fn id(&self, index: usize) -> Option<u64> {
        self.ids.get(index).copied()
    }

    /// State of vCPU `index`.
    pub fn state(&self, index: usize) -> Option<VcpuState> {
        self.states.lock().get(index).copied()
    }

    /// Marks vCPU `index` off (CPU_OFF).
    pub fn set_off(&self, index: usize) {
        if let Some(state) = self.states.lock().get_mut(index) {
            *state = VcpuState::Off;
        }
    }

    /// Marks vCPU `index` suspended, if it is on, to resume at `resume` (entry,
    /// argument) or where it was.
    pub fn suspend(&self, index: usize, resume: Option<(GuestPhysAddr, u64)>) {
        if let Some(state @ VcpuState::On) = self.states.lock().get_mut(index) {
            *state = VcpuState::Suspended { resume };
        }
    }

    /// Marks suspended vCPU `index` on again (an interrupt resumed it); where it
    /// resumes (entry, argument) when it did not keep its state.
    pub fn resume(&self, index: usize) -> Option<(GuestPhysAddr, u64)> {
        let mut states = self.states.lock();
        let state = states.get_mut(index)?;
        let VcpuState::Suspended { resume } = *state else {
            return None;
        };
        *state = VcpuState::On;
        resume
    }

    /// Takes a pending start of vCPU `index`: it is on from now, at the returned entry.
    pub fn take_start(&self, index: usize) -> Option<(GuestPhysAddr, u64)> {
        let mut states = self.states.lock();
        let state = states.get_mut(index)?;
        match *state {
            VcpuState::Starting { entry, arg } => {
                *state = VcpuState::On;
                Some((entry, arg))
            }
            _ => None,
        }
    }

    /// CPU_ON of the vCPU with id `target`; `entry_ok` says whether `entry` is valid.
    pub fn start(&self, target: u64, entry: GuestPhysAddr, arg: u64, entry_ok: bool) -> CallAnswer {
        let Some(index) = self.ids.iter().position(|&id| id == target) else {
            return CallAnswer::NoSuchCpu;
        };
        if !entry_ok {
            return CallAnswer::BadAddress;
        }
        let mut states = self.states.lock();
        match states.get_mut(index) {
            Some(state @ VcpuState::Off) => {
                *state = VcpuState::Starting { entry, arg };
                CallAnswer::Done
            }
            Some(VcpuState::Starting { .. }) => CallAnswer::OnPending,
            Some(VcpuState::On | VcpuState::Suspended { .. }) => CallAnswer::AlreadyOn,
            None => CallAnswer::NoSuchCpu,
        }
    }

    /// AFFINITY_INFO (or hart_get_status) of the vCPU with id `target`.
    pub fn status_of(&self, target: u64) -> CallAnswer {
        let Some(index) = self.ids.iter().position(|&id| id == target) else {
            return CallAnswer::NoSuchCpu;
        };
        match self.states.lock().get(index) {
            Some(VcpuState::On) => CallAnswer::StatusOn,
            Some(VcpuState::Suspended { .. }) => CallAnswer::StatusSuspended,
            Some(VcpuState::Starting { .. }) => CallAnswer::StatusPending,
            Some(VcpuState::Off) => CallAnswer::StatusOff,
            None => CallAnswer::NoSuchCpu,
        }
    }
}
