//! Running vCPUs: each physical CPU runs the vCPUs pinned to it, switching when one
//! waits for an interrupt, and sleeps (WFI) when none can run. It works from its own
//! snapshot of the VMs ([`registry`]), taken again when a VM is created or deleted;
//! a deleted VM's vCPU loaded here is saved and let go then. When every VM has
//! stopped the boot CPU reports; then it powers the machine off (with the
//! `power-off-when-done` feature) or the machine stays up for the hypervisor shell,
//! whose `vm start` may run a VM again.

use crate::arch;
use crate::irq::{CpuHost, TaskId};
use crate::registry;
use crate::vmm::{VmEntry, Vms};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use spin::Once;
use tessera_os::{hal, println};
use tessera_vcpu::ArchVcpu;
use tessera_vm::{VcpuState, VmStatus};

/// The CPU that created the VMs; it reports the verdict and powers off.
static BOOT_CPU: Once<usize> = Once::new();

/// Hands the created VMs to the scheduler; called once by the boot CPU `cpu`.
pub fn install(vms: Vms, cpu: usize) {
    BOOT_CPU.call_once(|| cpu);
    registry::install(vms);
}

/// What one physical CPU runs: its snapshot of the VMs, of which generation, and
/// the vCPUs of them pinned to it, each with whether it waits.
struct Tasks {
    vms: Vms,
    generation: u64,
    mine: Vec<TaskId>,
    waiting: Vec<bool>,
}

impl Tasks {
    /// The VMs as they are now, and CPU `cpu`'s vCPUs of them.
    fn now(cpu: usize) -> Self {
        let generation = registry::generation();
        let vms = registry::snapshot();
        let mine: Vec<TaskId> = vms
            .entries
            .iter()
            .enumerate()
            .flat_map(|(v, entry)| {
                entry
                    .vm
                    .cpus
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.pcpu == cpu)
                    .map(move |(i, _)| (v, i))
            })
            .collect();
        let waiting = vec![false; mine.len()];
        Self {
            vms,
            generation,
            mine,
            waiting,
        }
    }

    /// Takes a new snapshot if VMs came or went since this one: the loaded vCPU keeps
    /// its place if its VM is still there, and is saved and let go if not (the old
    /// snapshot, dropped here, may hold the last reference to its VM).
    fn refresh(&mut self, cpu: usize, loaded: &mut Option<TaskId>) {
        if registry::generation() == self.generation {
            return;
        }
        let fresh = Self::now(cpu);
        if let Some((v, i)) = *loaded {
            let entry = self.vms.entries.get(v);
            let kept = entry.and_then(|entry| {
                fresh
                    .vms
                    .entries
                    .iter()
                    .position(|other| Arc::ptr_eq(other, entry))
            });
            *loaded = kept.map(|nv| (nv, i));
            if kept.is_none()
                && let Some(slot) = entry.and_then(|entry| entry.vm.cpus.get(i))
            {
                slot.vcpu.lock().put();
            }
        }
        *self = fresh;
    }
}

/// What happened when a physical CPU turned to one of its vCPUs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// It could not run (off, or its VM ended or is being reset by another CPU).
    NotRunnable,
    /// It ran and stopped for a reason other than waiting.
    Ran,
    /// It waits for an interrupt.
    Waiting,
}

/// The scheduling loop of physical CPU `cpu`.
pub fn run(cpu: usize) -> ! {
    let mut tasks = Tasks::now(cpu);
    let mut loaded: Option<TaskId> = None;
    let mut verdict_given = false;
    loop {
        tasks.refresh(cpu, &mut loaded);
        let Tasks {
            vms, mine, waiting, ..
        } = &mut tasks;
        let vms = &*vms;
        let mut ran = false;
        for (&task, waits) in mine.iter().zip(waiting.iter_mut()) {
            if *waits && !has_work(vms, task) {
                continue;
            }
            let turn = run_task(vms, task, cpu, &mut loaded);
            *waits = turn == Turn::Waiting;
            ran |= turn == Turn::Ran;
        }
        let all_stopped = vms
            .entries
            .iter()
            .all(|e| matches!(e.vm.status(), VmStatus::Stopped | VmStatus::Created));
        if !all_stopped {
            verdict_given = false;
        } else if BOOT_CPU.get() == Some(&cpu) && !verdict_given {
            // Every VM's end is on the console before the verdict: report those no
            // CPU has yet, and wait (the reporting CPU kicks) for those that another
            // CPU is printing right now.
            for entry in &vms.entries {
                entry.report_end();
            }
            while !vms.entries.iter().all(|e| e.end_reported()) {
                sleep(vms, loaded);
            }
            report_verdict(vms);
            verdict_given = true;
            when_all_stopped();
        }
        if !ran {
            arch::wake_at(earliest_timer(vms, mine, waiting, loaded));
            sleep(vms, loaded);
        }
    }
}

/// Every VM has stopped: the machine powers off.
#[cfg(feature = "power-off-when-done")]
fn when_all_stopped() {
    hal::power_off();
}

/// Every VM has stopped: the machine stays up for the shell.
#[cfg(not(feature = "power-off-when-done"))]
fn when_all_stopped() {
    println!(
        "tessera: every VM has stopped; the hypervisor shell stays (Ctrl+X s, then `poweroff`)"
    );
}

/// The earliest timer deadline of this CPU's waiting vCPUs that are not loaded (a
/// loaded vCPU's timer interrupts the CPU itself) and whose VM runs: the CPU must
/// wake for it while it sleeps.
fn earliest_timer(
    vms: &Vms,
    mine: &[TaskId],
    waiting: &[bool],
    loaded: Option<TaskId>,
) -> Option<u64> {
    mine.iter()
        .zip(waiting)
        .filter(|&(&task, &waits)| waits && Some(task) != loaded)
        .filter_map(|(&(v, i), _)| {
            let entry = vms.entries.get(v)?;
            if entry.vm.status() != VmStatus::Running {
                return None;
            }
            entry.vm.cpus.get(i)?.vcpu.lock().timer_deadline()
        })
        .min()
}

/// Waits for an interrupt, then takes every one pending; `loaded` is the vCPU whose
/// state is on this CPU.
fn sleep(vms: &Vms, loaded: Option<TaskId>) {
    hal::wait_for_interrupt();
    arch::handle_host_interrupts(vms, loaded);
}

/// Whether a waiting vCPU has an interrupt to take (or its VM changed state).
fn has_work(vms: &Vms, (v, i): TaskId) -> bool {
    vms.entries.get(v).is_some_and(|entry| entry.vm.has_work(i))
}

/// Runs one vCPU until it waits, stops, or its VM changes state: switches this CPU
/// to it, then hands it to the VM layer's loop ([`tessera_vm::Vm::run_vcpu`]).
fn run_task(vms: &Vms, (v, i): TaskId, cpu: usize, loaded: &mut Option<TaskId>) -> Turn {
    let Some(entry) = vms.entries.get(v) else {
        return Turn::NotRunnable;
    };
    match entry.vm.status() {
        VmStatus::Stopped | VmStatus::Created => return Turn::NotRunnable,
        VmStatus::Resetting if i == 0 => reset(entry),
        VmStatus::Resetting => return Turn::NotRunnable,
        VmStatus::Running => {}
    }
    let Some(slot) = entry.vm.cpus.get(i) else {
        return Turn::NotRunnable;
    };
    let switching = *loaded != Some((v, i));
    if switching
        && let Some(previous) = loaded.and_then(|(pv, pi)| vms.entries.get(pv)?.vm.cpus.get(pi))
    {
        previous.vcpu.lock().put();
        *loaded = None;
    }
    let mut vcpu = slot.vcpu.lock();
    match entry.vm.vcpus.state(i) {
        Some(VcpuState::On) => {}
        // It waited for an interrupt, which has come.
        Some(VcpuState::Suspended { .. }) => {
            if let Some((at, arg)) = entry.vm.vcpus.resume(i) {
                vcpu.reset(at, arg);
            }
        }
        Some(VcpuState::Starting { .. }) => match entry.vm.vcpus.take_start(i) {
            Some((at, arg)) => vcpu.reset(at, arg),
            None => return Turn::NotRunnable,
        },
        Some(VcpuState::Off) | None => return Turn::NotRunnable,
    }
    if switching {
        vcpu.load();
        *loaded = Some((v, i));
    }
    if i == 0 {
        entry.note_boot(cpu);
    }
    let host = CpuHost {
        vms,
        loaded: *loaded,
        cpu,
    };
    let turn = match entry.vm.run_vcpu(i, &mut vcpu, &host) {
        tessera_vm::Turn::Waiting => Turn::Waiting,
        tessera_vm::Turn::Ran => Turn::Ran,
    };
    if entry.vm.status() == VmStatus::Stopped {
        entry.report_end();
        arch::kick(None);
    }
    turn
}

/// Restarts a VM that asked for a reset: images reloaded, vCPU 0 at the entry point.
fn reset(entry: &VmEntry) {
    println!("tessera: VM {} ({}) resetting", entry.vm.id, entry.vm.name);
    match entry.load_and_reset() {
        Ok(()) => entry.vm.finish_reset(),
        Err(reason) => {
            println!(
                "tessera: VM {} ({}) could not be reset: {reason}",
                entry.vm.id, entry.vm.name
            );
            entry.vm.end(tessera_vm::EndReason::PoweredOff);
        }
    }
}

/// The last line before power-off: whether every VM ended cleanly.
pub fn report_verdict(vms: &Vms) {
    let total = vms.entries.len() + vms.not_created;
    let failed = vms.not_created
        + vms
            .entries
            .iter()
            .filter(|e| !e.vm.end_reason().is_some_and(|r| r.is_clean()))
            .count();
    if failed == 0 && total > 0 {
        println!("tessera: all VMs ended cleanly ({total} VMs)");
    } else {
        println!("tessera: {failed} of {total} VMs did not end cleanly");
    }
}
