//! Running vCPUs: each physical CPU runs the vCPUs pinned to it, switching on idle
//! exits, until every VM has ended; then the boot CPU reports and powers off.

use crate::vmm::{VmEntry, Vms};
use alloc::vec::Vec;
use spin::Once;
use tessera_os::{hal, println};
use tessera_vcpu::ArchVcpu;
use tessera_vm::{Action, VcpuState, VmStatus};

static VMS: Once<Vms> = Once::new();

/// Hands the created VMs to the scheduler; called once by the boot CPU.
pub fn install(vms: Vms) {
    VMS.call_once(|| vms);
}

/// A vCPU by (VM index, vCPU index).
type TaskId = (usize, usize);

/// The scheduling loop of physical CPU `cpu`.
pub fn run(cpu: usize) -> ! {
    let Some(vms) = VMS.get() else { hal::halt() };
    let mine: Vec<TaskId> = vms
        .entries
        .iter()
        .enumerate()
        .flat_map(|(v, entry)| {
            entry
                .vcpus
                .iter()
                .enumerate()
                .filter(|(_, t)| t.pcpu == cpu)
                .map(move |(i, _)| (v, i))
        })
        .collect();
    let mut loaded: Option<TaskId> = None;
    loop {
        let mut ran = false;
        for &task in &mine {
            ran |= run_task(vms, task, cpu, &mut loaded);
        }
        if vms.entries.iter().all(|e| e.vm.status() == VmStatus::Ended) {
            if cpu == 0 {
                report_verdict(vms);
                hal::power_off();
            }
            hal::halt();
        }
        if !ran {
            hal::wait_for_event();
        }
    }
}

/// Runs one vCPU until it idles or its VM changes state; returns whether it ran.
fn run_task(vms: &Vms, (v, i): TaskId, cpu: usize, loaded: &mut Option<TaskId>) -> bool {
    let Some(entry) = vms.entries.get(v) else {
        return false;
    };
    match entry.vm.status() {
        VmStatus::Ended => return false,
        VmStatus::Resetting if i == 0 => reset(entry),
        VmStatus::Resetting => return false,
        VmStatus::Running => {}
    }
    let Some(task) = entry.vcpus.get(i) else {
        return false;
    };
    if *loaded != Some((v, i))
        && let Some(previous) = loaded.and_then(|(pv, pi)| vms.entries.get(pv)?.vcpus.get(pi))
    {
        previous.vcpu.lock().put();
    }
    let mut vcpu = task.vcpu.lock();
    match entry.vm.vcpus.state(i) {
        Some(VcpuState::On) => {}
        Some(VcpuState::Starting { .. }) => match entry.vm.vcpus.take_start(i) {
            Some((at, arg)) => vcpu.reset(at, arg),
            None => return false,
        },
        Some(VcpuState::Off) | None => return false,
    }
    if *loaded != Some((v, i)) {
        vcpu.load();
        *loaded = Some((v, i));
    }
    if i == 0 {
        entry.note_boot(cpu);
    }
    loop {
        let exit = vcpu.run();
        match entry.vm.handle_exit(i, &mut *vcpu, exit) {
            Action::Resume if entry.vm.status() == VmStatus::Running => {}
            Action::WakeOthers => hal::send_event(),
            Action::Resume | Action::Idle | Action::VcpuOff | Action::Reset | Action::Ended => {
                break;
            }
        }
    }
    if entry.vm.status() == VmStatus::Ended {
        entry.report_end();
        hal::send_event();
    }
    true
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
fn report_verdict(vms: &Vms) {
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
