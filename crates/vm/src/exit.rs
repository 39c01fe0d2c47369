//! Guest exits, answered in one match for every architecture.

use crate::ExitReason;
use crate::end::{EndReason, GuestError};
use crate::{Arch, Vm};
use tessera_addr::GuestPhysAddr;
use tessera_vcpu::{ArchVcpu, CallAnswer, VcpuError, VcpuExit};
use tessera_vdev::{BusError, FirmwareConsole, PowerRequest};

/// Most bytes one firmware console call moves; the call reports how many it did, and
/// the guest calls again for the rest (as the SBI debug console allows).
pub const CONSOLE_CHUNK: usize = 256;

/// What the physical CPU does after an exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Run the same vCPU again.
    Resume,
    /// The vCPU waits for an interrupt: run something else or wait.
    Idle,
    /// The vCPU suspended itself ([`crate::VcpuState::Suspended`]): as [`Self::Idle`],
    /// and it is marked on again when an interrupt lets it run.
    Suspended,
    /// Another vCPU of this VM may have been started: wake the other physical CPUs.
    WakeOthers,
    /// The vCPU asked for inter-processor interrupts (`VcpuExit::SendIpi`): the
    /// architecture's interrupt controller routes them, then the vCPU resumes.
    SendIpi(u64),
    /// The vCPU turned itself off.
    VcpuOff,
    /// The VM asked for a reset.
    Reset,
    /// The VM ended (its reason is in [`Vm::end_reason`]).
    Ended,
}

impl<A: Arch> Vm<A> {
    /// Handles `exit` (or the error) of vCPU `index`, answering the vCPU where needed.
    pub fn handle_exit<V: ArchVcpu>(
        &self,
        index: usize,
        vcpu: &mut V,
        exit: Result<VcpuExit, VcpuError>,
    ) -> Action {
        let exit = match exit {
            Ok(exit) => exit,
            Err(error) => return self.fault(index, GuestError::Vcpu(error)),
        };
        self.exits.record(ExitReason::of(&exit));
        match exit {
            VcpuExit::MmioRead { addr, width } => match self.bus.read(addr, width) {
                Ok(value) => {
                    vcpu.complete_mmio_read(value);
                    Action::Resume
                }
                Err(error) => self.failed_access(index, vcpu, addr, false, error),
            },
            VcpuExit::MmioWrite { addr, width, value } => {
                match self.bus.write(addr, width, value) {
                    Ok(()) => Action::Resume,
                    Err(error) => self.failed_access(index, vcpu, addr, true, error),
                }
            }
            // I/O ports behave as on a PC: a port no device claims reads as all ones
            // and drops writes; a device's own refusal is ignored the same way.
            VcpuExit::PortRead { port, width } => {
                let value = self.ports.read_or_open(port, width);
                vcpu.complete_mmio_read(u64::from(value));
                Action::Resume
            }
            VcpuExit::PortWrite { port, width, value } => {
                self.ports.write_or_drop(port, width, value);
                match self.power.take() {
                    Some(PowerRequest::Off) => self.power_off(),
                    Some(PowerRequest::Reset) => self.reset_request(),
                    None => Action::Resume,
                }
            }
            VcpuExit::Idle => Action::Idle,
            VcpuExit::HostInterrupt | VcpuExit::Handled => Action::Resume,
            VcpuExit::CpuOn { target, entry, arg } => {
                let answer = self
                    .vcpus
                    .start(target, entry, arg, self.memory.is_executable(entry));
                log::debug!(
                    "VM {} vCPU {index}: CPU_ON {target:#x} at {entry:?}: {answer:?}",
                    self.id
                );
                vcpu.answer(answer);
                Action::WakeOthers
            }
            VcpuExit::CpuStatus { target } => {
                vcpu.answer(self.vcpus.status_of(target));
                Action::Resume
            }
            VcpuExit::SendIpi { value } => Action::SendIpi(value),
            VcpuExit::CpuSuspend { resume } => {
                if let Some((entry, _)) = resume
                    && !self.memory.is_executable(entry)
                {
                    vcpu.answer(CallAnswer::BadAddress);
                    return Action::Resume;
                }
                self.vcpus.suspend(index, resume);
                Action::Suspended
            }
            VcpuExit::CpuOff => {
                self.vcpus.set_off(index);
                if self.vcpus.all_off() {
                    // Nothing can start a vCPU again: the VM is off.
                    self.power_off()
                } else {
                    Action::VcpuOff
                }
            }
            VcpuExit::SystemOff => self.power_off(),
            VcpuExit::SystemFailure => {
                self.end(EndReason::SystemFailure);
                Action::Ended
            }
            VcpuExit::SystemReset => self.reset_request(),
            VcpuExit::ConsoleWrite { addr, len } => {
                vcpu.answer(self.console_write(addr, len));
                Action::Resume
            }
            VcpuExit::ConsoleRead { addr, len } => {
                vcpu.answer(self.console_read(addr, len));
                Action::Resume
            }
            VcpuExit::ConsoleWriteByte(byte) => {
                vcpu.answer(match &self.console {
                    Some(console) => {
                        console.write(&[byte]);
                        CallAnswer::Bytes(1)
                    }
                    None => CallAnswer::NoConsole,
                });
                Action::Resume
            }
            VcpuExit::ConsoleReadByte => {
                vcpu.answer(match &self.console {
                    Some(console) => {
                        let mut byte = [0];
                        let read = console.read(&mut byte) == 1;
                        CallAnswer::Byte(read.then_some(byte[0]))
                    }
                    None => CallAnswer::NoConsole,
                });
                Action::Resume
            }
        }
    }

    /// A firmware console write of the `len` guest bytes at `addr`: up to
    /// [`CONSOLE_CHUNK`] bytes of the buffer are written.
    fn console_write(&self, addr: GuestPhysAddr, len: u64) -> CallAnswer {
        let (console, count) = match self.console_buffer(addr, len) {
            Ok(found) => found,
            Err(answer) => return answer,
        };
        let mut chunk = [0u8; CONSOLE_CHUNK];
        let Some(bytes) = chunk.get_mut(..count) else {
            return CallAnswer::BadBuffer;
        };
        // SAFETY: `Vm::new`'s caller promised the VM's RAM is accessible at its host
        // addresses; `read` checks the span lies inside it.
        if unsafe { self.memory.read(addr, bytes) }.is_err() {
            return CallAnswer::BadBuffer;
        }
        console.write(bytes);
        CallAnswer::Bytes(count as u64)
    }

    /// A firmware console read into the `len`-byte guest buffer at `addr`: up to
    /// [`CONSOLE_CHUNK`] typed bytes go in.
    fn console_read(&self, addr: GuestPhysAddr, len: u64) -> CallAnswer {
        let (console, room) = match self.console_buffer(addr, len) {
            Ok(found) => found,
            Err(answer) => return answer,
        };
        let mut chunk = [0u8; CONSOLE_CHUNK];
        let Some(buf) = chunk.get_mut(..room) else {
            return CallAnswer::BadBuffer;
        };
        let count = console.read(buf).min(room);
        let Some(typed) = buf.get(..count) else {
            return CallAnswer::BadBuffer;
        };
        // SAFETY: as in `console_write`, for writing.
        if unsafe { self.memory.write(addr, typed) }.is_err() {
            return CallAnswer::BadBuffer;
        }
        CallAnswer::Bytes(count as u64)
    }

    /// The console and the bytes (at most [`CONSOLE_CHUNK`]) one call moves for the
    /// `len`-byte guest buffer at `addr`, or the answer when there is nothing to
    /// move: no console, an empty buffer, or one not wholly in the VM's RAM.
    fn console_buffer(
        &self,
        addr: GuestPhysAddr,
        len: u64,
    ) -> Result<(&dyn FirmwareConsole, usize), CallAnswer> {
        let console = self.console.as_deref().ok_or(CallAnswer::NoConsole)?;
        if len == 0 {
            return Err(CallAnswer::Bytes(0));
        }
        if self.memory.host_span(addr, len).is_err() {
            return Err(CallAnswer::BadBuffer);
        }
        let count = usize::try_from(len).map_or(CONSOLE_CHUNK, |len| len.min(CONSOLE_CHUNK));
        Ok((console, count))
    }

    /// An emulated access the bus could not serve. One that reaches neither RAM nor a
    /// device gets what the hardware gives ([`ArchVcpu::fail_access`]) unless the
    /// guest keeps faulting there; any other (a device refusing the access, a
    /// read-only RAM write) stops the VM.
    fn failed_access<V: ArchVcpu>(
        &self,
        index: usize,
        vcpu: &mut V,
        addr: GuestPhysAddr,
        write: bool,
        error: BusError,
    ) -> Action {
        let unbacked =
            matches!(error, BusError::Unmapped { .. }) && self.memory.host_span(addr, 1).is_err();
        if !unbacked {
            let pc = vcpu.pc();
            return self.fault(
                index,
                GuestError::Mmio {
                    addr,
                    write,
                    error,
                    pc,
                },
            );
        }
        if vcpu.fail_access() {
            log::debug!(
                "VM {} vCPU {index}: {} at {addr:?}: no RAM or device there, fault given to the guest",
                self.id,
                if write { "write" } else { "read" }
            );
            return Action::Resume;
        }
        let pc = vcpu.pc();
        self.fault(index, GuestError::Vcpu(VcpuError::FaultLoop { addr, pc }))
    }

    /// The guest powered its VM off.
    fn power_off(&self) -> Action {
        self.end(EndReason::PoweredOff);
        Action::Ended
    }

    /// The guest asked for a reset; too many in a row stop the VM.
    fn reset_request(&self) -> Action {
        self.request_reset();
        if self.status() == crate::VmStatus::Stopped {
            log::warn!(
                "VM {} ({}): reset loop; stopping the VM",
                self.id,
                self.name
            );
            Action::Ended
        } else {
            Action::Reset
        }
    }

    fn fault(&self, vcpu: usize, error: GuestError) -> Action {
        log::warn!(
            "VM {} ({}) vCPU {vcpu}: {error}; stopping the VM",
            self.id,
            self.name
        );
        self.end(EndReason::Fault { vcpu, error });
        Action::Ended
    }
}
