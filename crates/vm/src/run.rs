//! The loop that runs one vCPU: deliver what is pending, enter the guest, answer the
//! exit ([`Vm::handle_exit`]), wake the vCPUs that exit concerns, and enter again,
//! until the vCPU waits, stops, or its VM changes state.

use crate::arch::{Arch, Host, InterruptController};
use crate::exit::Action;
use crate::{Vm, VmStatus};
use core::sync::atomic::Ordering;
use tessera_vcpu::{ArchVcpu, VcpuExit};

/// Why [`Vm::run_vcpu`] gave the physical CPU back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    /// The vCPU waits for an interrupt.
    Waiting,
    /// It stopped for another reason (off, reset, VM ended or changed state).
    Ran,
}

impl<A: Arch> Vm<A> {
    /// Runs vCPU `index`, whose state is loaded on this CPU (`vcpu`, its lock held),
    /// until it waits, stops, or the VM leaves the running state.
    pub fn run_vcpu(&self, index: usize, vcpu: &mut A::Vcpu, host: &impl Host) -> Turn {
        let mut alone = self.alone(index);
        self.steer_waits(alone, vcpu);
        loop {
            self.irqchip.deliver(index, vcpu, &self.passthrough_irqs);
            let exit = vcpu.run();
            let host_interrupt = matches!(exit, Ok(VcpuExit::HostInterrupt));
            // A device register accessed may have raised an interrupt for another
            // vCPU (an I/O APIC message, a UART's line): kick it after the answer.
            let device_access = matches!(
                exit,
                Ok(VcpuExit::MmioRead { .. }
                    | VcpuExit::MmioWrite { .. }
                    | VcpuExit::PortRead { .. }
                    | VcpuExit::PortWrite { .. })
            );
            // What may leave a partial line on the console: a device register
            // written (the console UART's, perhaps) or a firmware console write.
            let output = matches!(
                exit,
                Ok(VcpuExit::MmioWrite { .. }
                    | VcpuExit::ConsoleWrite { .. }
                    | VcpuExit::ConsoleWriteByte(_))
            );
            if host_interrupt {
                host.take_interrupts();
                // A VM created or deleted meanwhile may have changed who shares
                // this CPU (the kick that said so is this interrupt).
                let now = self.alone(index);
                if now != alone {
                    alone = now;
                    self.steer_waits(alone, vcpu);
                }
            }
            let action = self.handle_exit(index, vcpu, exit);
            if device_access {
                self.kick_vcpus(self.irqchip.take_kicks(), host);
            }
            if output {
                self.steer_waits(alone, vcpu);
            }
            match action {
                Action::Resume if self.status() == VmStatus::Running => {}
                Action::SendIpi(value) => {
                    let targets = self.irqchip.send_ipi(index, value);
                    self.kick_vcpus(targets, host);
                }
                Action::WakeOthers => host.kick(None),
                Action::Idle if self.irqchip.has_work(index, vcpu) => {}
                Action::Suspended if self.irqchip.has_work(index, vcpu) => {
                    if let Some((entry, arg)) = self.vcpus.resume(index) {
                        vcpu.reset(entry, arg);
                    }
                }
                Action::Idle | Action::Suspended => {
                    self.flush_console();
                    return Turn::Waiting;
                }
                Action::Reset => {
                    // The VM's other vCPUs stop at their next exit.
                    host.kick(None);
                    return Turn::Ran;
                }
                Action::Resume | Action::VcpuOff | Action::Ended => return Turn::Ran,
            }
        }
    }

    /// Whether vCPU `index` has its physical CPU to itself ([`crate::VcpuSlot::alone`]).
    fn alone(&self, index: usize) -> bool {
        self.cpus
            .get(index)
            .is_some_and(|slot| slot.alone.load(Ordering::Relaxed))
    }

    /// Lets the vCPU's waits stay in the guest when it has its physical CPU alone
    /// and its VM's console holds no partial line (which the exit of a wait shows).
    fn steer_waits(&self, alone: bool, vcpu: &mut A::Vcpu) {
        vcpu.set_wait_exits(!alone || self.console_holds_partial_line());
    }

    /// Whether waiting vCPU `index` should run again: an interrupt waits for it, or
    /// its VM is no longer simply running (it must see the reset or the end).
    pub fn has_work(&self, index: usize) -> bool {
        self.status() != VmStatus::Running
            || self
                .cpus
                .get(index)
                .is_some_and(|slot| self.irqchip.has_work(index, &slot.vcpu.lock()))
    }

    /// Kicks the physical CPU of each vCPU in `targets` (a bit mask) other than this
    /// one, each CPU once.
    pub fn kick_vcpus(&self, targets: u64, host: &impl Host) {
        kick_cpus_of(
            self.cpus.iter().map(|slot| slot.pcpu),
            targets,
            host.cpu(),
            |cpu| host.kick(Some(cpu)),
        );
    }
}

/// Calls `kick` once for each physical CPU other than `this` that runs a vCPU in
/// `targets` (a bit mask of vCPU indices; `pcpus` gives each vCPU's physical CPU, in
/// vCPU order).
pub fn kick_cpus_of(
    pcpus: impl IntoIterator<Item = usize>,
    targets: u64,
    this: usize,
    mut kick: impl FnMut(usize),
) {
    let mut kicked = 0u64;
    for (index, pcpu) in pcpus.into_iter().enumerate() {
        if index < 64 && targets & (1 << index) != 0 && pcpu != this {
            let bit = 1u64 << (pcpu % 64);
            if kicked & bit == 0 {
                kick(pcpu);
                kicked |= bit;
            }
        }
    }
}
