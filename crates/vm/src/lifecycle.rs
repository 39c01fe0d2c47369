//! A VM's life cycle: its states, what its guest moves it through (power-off, a
//! fault, a reset) and what the operator asks of it (the hypervisor shell's `vm
//! start`, `stop`, `restart`, `delete`), with the reason a command is refused.

use core::fmt;

/// Life cycle of a VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum VmStatus {
    /// Created and not started yet: nothing of it runs until a start.
    Created = 0,
    /// Its vCPUs run.
    Running = 1,
    /// A reset was asked for (by its guest, or by a start or restart): the VMM loads
    /// its images again and runs it from its entry point.
    Resetting = 2,
    /// Stopped: its guest powered it off, a fault or a reset loop stopped it, or the
    /// operator did. A start or restart runs it again.
    Stopped = 3,
}

impl VmStatus {
    /// The status stored as `code` (see the `repr`); anything else is `Stopped`.
    pub(crate) fn from_code(code: u8) -> Self {
        match code {
            0 => Self::Created,
            1 => Self::Running,
            2 => Self::Resetting,
            _ => Self::Stopped,
        }
    }

    /// The status `command` moves a VM in this status to (`None`: the VM is gone,
    /// deleted), or why the command is refused.
    pub fn after(self, command: Command) -> Result<Option<Self>, Refusal> {
        use Command::*;
        use VmStatus::*;
        match (self, command) {
            (Created | Stopped, Start) => Ok(Some(Resetting)),
            (Running | Resetting, Start) => Err(Refusal::AlreadyRunning),
            (Running | Resetting, Stop) => Ok(Some(Stopped)),
            (Created | Stopped, Stop) => Err(Refusal::NotRunning),
            (Running | Resetting | Stopped, Restart) => Ok(Some(Resetting)),
            (Created, Restart) => Err(Refusal::NeverStarted),
            (Created | Stopped, Delete) => Ok(None),
            (Running | Resetting, Delete) => Err(Refusal::StillRunning),
        }
    }

    /// A word for the state, as `vm list` shows it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Resetting => "resetting",
            Self::Stopped => "stopped",
        }
    }
}

/// What the operator asks of a VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Run a created or stopped VM from its entry point.
    Start,
    /// Take a running VM's vCPUs off their CPUs at once, whatever its guest does.
    Stop,
    /// Reset a VM and run it again from its entry point (a stopped one too).
    Restart,
    /// Remove a VM that does not run; its resources go back.
    Delete,
}

impl Command {
    /// The command's word, as the shell takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
            Self::Delete => "delete",
        }
    }
}

/// Why the operator's command is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Start of a VM that runs.
    AlreadyRunning,
    /// Stop of a VM that does not run.
    NotRunning,
    /// Restart of a VM never started.
    NeverStarted,
    /// Delete of a VM that runs.
    StillRunning,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AlreadyRunning => "it is already running",
            Self::NotRunning => "it is not running",
            Self::NeverStarted => "it was never started: start it",
            Self::StillRunning => "it is running: stop it first",
        })
    }
}
