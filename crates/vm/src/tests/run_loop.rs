//! The run loop (`Vm::run_vcpu`) driven through the fake architecture: what a
//! physical CPU sees when it runs a vCPU.

use super::fakes::*;
use crate::*;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use tessera_addr::GuestPhysAddr;
use tessera_vcpu::{AccessWidth, ArchVcpu, VcpuError, VcpuExit};

/// Runs vCPU `index` of `vm` once, loaded, as a physical CPU would.
fn run(vm: &Vm<FakeArch>, index: usize, host: &FakeHost) -> Turn {
    let mut vcpu = vm.cpus[index].vcpu.lock();
    vcpu.load();
    vm.run_vcpu(index, &mut vcpu, host)
}

/// Gives vCPU `index` the exits it returns next.
fn script(vm: &Vm<FakeArch>, index: usize, exits: impl IntoIterator<Item = VcpuExit>) {
    *vm.cpus[index].vcpu.lock() = FakeVcpu::scripted(exits);
}

#[test]
fn mmio_goes_to_the_device_and_back_inside_the_loop() {
    let vm = test_vm(1);
    let host = FakeHost::on(0);
    script(
        &vm,
        0,
        [
            VcpuExit::MmioWrite {
                addr: gpa(0x0900_0000),
                width: AccessWidth::Word,
                value: 42,
            },
            VcpuExit::MmioRead {
                addr: gpa(0x0900_0000),
                width: AccessWidth::Word,
            },
        ],
    );
    assert_eq!(run(&vm, 0, &host), Turn::Waiting);
    let vcpu = vm.cpus[0].vcpu.lock();
    assert_eq!(vcpu.read_value, Some(42));
    // Both accesses and the final wait were answered without leaving the loop.
    assert_eq!(vcpu.runs, 3);
    assert_eq!(vm.exits.get(ExitReason::Mmio), 2);
    assert!(host.kicks.borrow().is_empty());
}

#[test]
fn an_ipi_reaches_a_vcpu_on_another_cpu() {
    let vm = test_vm(2);
    let host = FakeHost::on(0);
    vm.vcpus.start(1, gpa(RAM_BASE), 0, true);
    vm.vcpus.take_start(1);
    script(&vm, 0, [VcpuExit::SendIpi { value: 0b10 }]);
    assert_eq!(run(&vm, 0, &host), Turn::Waiting);
    // vCPU 1 runs on physical CPU 1: that CPU is kicked, once.
    assert_eq!(host.kicks.borrow().as_slice(), &[Some(1)]);
    assert!(vm.has_work(1));
    assert!(!vm.has_work(0));
    let other = FakeHost::on(1);
    assert_eq!(run(&vm, 1, &other), Turn::Waiting);
    assert_eq!(vm.cpus[1].vcpu.lock().interrupts, 1);
    assert!(!vm.has_work(1), "taken");
}

#[test]
fn a_timer_interrupt_wakes_a_waiting_vcpu() {
    let vm = test_vm(1);
    let host = FakeHost::on(0);
    assert_eq!(run(&vm, 0, &host), Turn::Waiting);
    assert!(!vm.has_work(0));
    // The timer fires while the vCPU waits: it has work, runs, and takes it.
    vm.irqchip.raise(0b1);
    assert!(vm.has_work(0));
    assert_eq!(run(&vm, 0, &host), Turn::Waiting);
    assert_eq!(vm.cpus[0].vcpu.lock().interrupts, 1);
}

#[test]
fn a_device_interrupt_raised_while_running_kicks_its_target() {
    let vm = test_vm(2);
    let host = FakeHost::on(0);
    // vCPU 0 rings the doorbell for vCPU 1 (on CPU 1), then for itself.
    script(
        &vm,
        0,
        [
            VcpuExit::MmioWrite {
                addr: gpa(DOORBELL),
                width: AccessWidth::Word,
                value: 0b10,
            },
            VcpuExit::MmioWrite {
                addr: gpa(DOORBELL),
                width: AccessWidth::Word,
                value: 0b01,
            },
        ],
    );
    assert_eq!(run(&vm, 0, &host), Turn::Waiting);
    assert_eq!(host.kicks.borrow().as_slice(), &[Some(1)]);
    // Its own interrupt was delivered at the next entry, before it waited.
    assert_eq!(vm.cpus[0].vcpu.lock().interrupts, 1);
    assert!(vm.has_work(1));
}

#[test]
fn a_host_interrupt_is_taken_and_the_guest_resumes() {
    let vm = test_vm(1);
    let host = FakeHost::on(0);
    script(&vm, 0, [VcpuExit::HostInterrupt, VcpuExit::HostInterrupt]);
    assert_eq!(run(&vm, 0, &host), Turn::Waiting);
    assert_eq!(host.interrupts_taken.get(), 2);
    assert_eq!(vm.exits.get(ExitReason::HostInterrupt), 2);
}

#[test]
fn a_waiting_vcpu_with_work_goes_straight_back_in() {
    let vm = test_vm(1);
    let host = FakeHost::on(0);
    // Its timer comes due as it suspends itself: resumed at once, without giving the
    // CPU back, and it takes the timer at the next entry.
    script(&vm, 0, [VcpuExit::CpuSuspend { resume: None }]);
    vm.cpus[0].vcpu.lock().timer_fires_during_run = Some(1);
    assert_eq!(run(&vm, 0, &host), Turn::Waiting);
    assert_eq!(vm.cpus[0].vcpu.lock().runs, 2);
    assert_eq!(vm.vcpus.state(0), Some(VcpuState::On));
    assert_eq!(vm.cpus[0].vcpu.lock().interrupts, 1);
    assert_eq!(vm.cpus[0].vcpu.lock().started_at, None);
    assert!(!vm.has_work(0));
}

#[test]
fn a_non_retentive_suspend_woken_in_the_loop_restarts_at_its_entry() {
    let vm = test_vm(1);
    let host = FakeHost::on(0);
    let entry = GuestPhysAddr::new(0x4010_0000);
    script(
        &vm,
        0,
        [VcpuExit::CpuSuspend {
            resume: Some((entry, 42)),
        }],
    );
    vm.cpus[0].vcpu.lock().timer_fires_during_run = Some(1);
    assert_eq!(run(&vm, 0, &host), Turn::Waiting);
    assert_eq!(vm.cpus[0].vcpu.lock().started_at, Some((entry, 42)));
    assert_eq!(vm.vcpus.state(0), Some(VcpuState::On));
}

#[test]
fn waiting_shows_the_consoles_partial_line() {
    let (vm, console) = console_vm();
    let host = FakeHost::on(0);
    assert_eq!(run(&vm, 0, &host), Turn::Waiting);
    assert_eq!(console.flushes.load(Ordering::Relaxed), 1);
}

#[test]
fn waits_stay_in_the_guest_only_for_a_vcpu_alone_with_nothing_to_show() {
    let (vm, console) = console_vm();
    let host = FakeHost::on(0);
    // Sharing its physical CPU (how a slot starts): every wait exits.
    assert_eq!(run(&vm, 0, &host), Turn::Waiting);
    assert_eq!(vm.cpus[0].vcpu.lock().wait_exits, Some(true));
    vm.cpus[0]
        .alone
        .store(true, core::sync::atomic::Ordering::Relaxed);
    assert_eq!(run(&vm, 0, &host), Turn::Waiting);
    assert_eq!(vm.cpus[0].vcpu.lock().wait_exits, Some(false));
    // A prompt without its line end: the next wait exits, to show it.
    poke(&vm, RAM_BASE + 0x1000, b"login: ");
    script(
        &vm,
        0,
        [VcpuExit::ConsoleWrite {
            addr: gpa(RAM_BASE + 0x1000),
            len: 7,
        }],
    );
    let flushes = console.flushes.load(Ordering::Relaxed);
    assert_eq!(run(&vm, 0, &host), Turn::Waiting);
    assert_eq!(vm.cpus[0].vcpu.lock().wait_exits, Some(true));
    assert_eq!(console.flushes.load(Ordering::Relaxed), flushes + 1);
    // Shown: waits stay in the guest again.
    assert_eq!(run(&vm, 0, &host), Turn::Waiting);
    assert_eq!(vm.cpus[0].vcpu.lock().wait_exits, Some(false));
}

#[test]
fn a_reset_gives_the_cpu_back_and_stops_the_others() {
    let vm = test_vm(2);
    let host = FakeHost::on(0);
    script(&vm, 0, [VcpuExit::SystemReset]);
    assert_eq!(run(&vm, 0, &host), Turn::Ran);
    assert_eq!(vm.status(), VmStatus::Resetting);
    assert_eq!(host.kicks.borrow().as_slice(), &[None]);
    // A waiting vCPU of a resetting VM must run to see it.
    assert!(vm.has_work(1));
    vm.finish_reset();
    assert_eq!(vm.status(), VmStatus::Running);
}

#[test]
fn power_off_ends_the_vm() {
    let vm = test_vm(1);
    let host = FakeHost::on(0);
    script(&vm, 0, [VcpuExit::SystemOff]);
    assert_eq!(run(&vm, 0, &host), Turn::Ran);
    assert_eq!(vm.end_reason(), Some(EndReason::PoweredOff));
}

#[test]
fn starting_another_vcpu_wakes_the_other_cpus() {
    let vm = test_vm(2);
    let host = FakeHost::on(0);
    script(
        &vm,
        0,
        [VcpuExit::CpuOn {
            target: 1,
            entry: gpa(RAM_BASE),
            arg: 7,
        }],
    );
    assert_eq!(run(&vm, 0, &host), Turn::Waiting);
    assert_eq!(host.kicks.borrow().as_slice(), &[None]);
    assert!(matches!(
        vm.vcpus.state(1),
        Some(VcpuState::Starting { arg: 7, .. })
    ));
}

#[test]
fn a_guest_faulting_in_a_loop_is_stopped_not_spun() {
    let vm = test_vm(1);
    let other = test_vm(1);
    let host = FakeHost::on(0);
    let read = VcpuExit::MmioRead {
        addr: gpa(0x1234_0000),
        width: AccessWidth::Word,
    };
    script(&vm, 0, vec![read; 200]);
    assert_eq!(run(&vm, 0, &host), Turn::Ran);
    let vcpu = vm.cpus[0].vcpu.lock();
    assert_eq!(vcpu.faults_given, tessera_vcpu::FAULT_STREAK_LIMIT);
    assert_eq!(vcpu.runs, tessera_vcpu::FAULT_STREAK_LIMIT + 1);
    assert!(matches!(
        vm.end_reason(),
        Some(EndReason::Fault {
            error: GuestError::Vcpu(VcpuError::FaultLoop { .. }),
            ..
        })
    ));
    assert_eq!(other.status(), VmStatus::Running);
}

#[test]
fn hostile_exit_sequences_end_only_their_vm() {
    // An IPI storm to vCPUs that do not exist, a burst of CPU_ON for bad targets,
    // then an exit the vCPU could not decode.
    let vm = test_vm(2);
    let host = FakeHost::on(0);
    let mut exits: Vec<VcpuExit> = (0..100)
        .map(|_| VcpuExit::CpuOn {
            target: 99,
            entry: gpa(RAM_BASE),
            arg: 0,
        })
        .collect();
    exits.extend((0..100).map(|_| VcpuExit::SendIpi { value: 0 }));
    script(&vm, 0, exits);
    vm.cpus[0]
        .vcpu
        .lock()
        .script
        .push_back(Err(VcpuError::UnknownExit {
            syndrome: 0xdead,
            pc: 0,
        }));
    assert_eq!(run(&vm, 0, &host), Turn::Ran);
    assert!(matches!(
        vm.end_reason(),
        Some(EndReason::Fault {
            vcpu: 0,
            error: GuestError::Vcpu(VcpuError::UnknownExit { .. })
        })
    ));
    // IPIs to nobody kick nobody; bad CPU_ONs only wake the others to look.
    assert!(host.kicks.borrow().iter().all(|kick| kick.is_none()));
    assert_eq!(vm.vcpus.state(1), Some(VcpuState::Off));
}
