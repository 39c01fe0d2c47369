//! The life cycle: every transition the operator's commands make and every refused
//! one, and how they meet what the guest does.

use super::*;
use tessera_vcpu::ArchVcpu;

const ALL: [VmStatus; 4] = [
    VmStatus::Created,
    VmStatus::Running,
    VmStatus::Resetting,
    VmStatus::Stopped,
];

#[test]
fn every_command_from_every_status() {
    use Command::*;
    use VmStatus::*;
    let expected = |from: VmStatus, command: Command| match (from, command) {
        (Created, Start) | (Stopped, Start) => Ok(Some(Resetting)),
        (Running, Start) | (Resetting, Start) => Err(Refusal::AlreadyRunning),
        (Running, Stop) | (Resetting, Stop) => Ok(Some(Stopped)),
        (Created, Stop) | (Stopped, Stop) => Err(Refusal::NotRunning),
        (Created, Restart) => Err(Refusal::NeverStarted),
        (_, Restart) => Ok(Some(Resetting)),
        (Created, Delete) | (Stopped, Delete) => Ok(None),
        (Running, Delete) | (Resetting, Delete) => Err(Refusal::StillRunning),
    };
    for from in ALL {
        for command in [Start, Stop, Restart, Delete] {
            assert_eq!(
                from.after(command),
                expected(from, command),
                "{command:?} from {from:?}"
            );
        }
    }
}

#[test]
fn refusals_read_as_one_line() {
    assert_eq!(
        Refusal::StillRunning.to_string(),
        "it is running: stop it first"
    );
    assert_eq!(
        Refusal::NeverStarted.to_string(),
        "it was never started: start it"
    );
    let names: Vec<&str> = ALL.iter().map(|status| status.name()).collect();
    assert_eq!(names, ["created", "running", "resetting", "stopped"]);
}

#[test]
fn a_stop_is_at_once_and_a_start_runs_it_again() {
    let vm = test_vm(2);
    assert_eq!(vm.command(Command::Stop), Ok(Some(VmStatus::Stopped)));
    assert_eq!(vm.status(), VmStatus::Stopped);
    assert_eq!(vm.end_reason(), Some(EndReason::StoppedByOperator));
    assert!(EndReason::StoppedByOperator.is_clean());
    assert!(
        !vm.end(EndReason::PoweredOff),
        "a stopped VM does not end again"
    );
    assert_eq!(vm.command(Command::Stop), Err(Refusal::NotRunning));
    // A vCPU still in its loop leaves at its next exit.
    let mut vcpu = FakeVcpu::scripted([VcpuExit::Handled, VcpuExit::Handled]);
    vcpu.load();
    assert_eq!(vm.run_vcpu(0, &mut vcpu, &FakeHost::on(0)), Turn::Ran);
    assert_eq!(vcpu.script.len(), 1, "it left after one exit");
    assert_eq!(vm.command(Command::Start), Ok(Some(VmStatus::Resetting)));
    assert_eq!(vm.end_reason(), None, "running again: no end to report");
    assert_eq!(
        vm.last_end(),
        Some(EndReason::StoppedByOperator),
        "how it last ended stays for `vm show`"
    );
    vm.finish_reset();
    assert_eq!(vm.status(), VmStatus::Running);
    assert_eq!(vm.command(Command::Delete), Err(Refusal::StillRunning));
    assert!(vm.end(EndReason::PoweredOff));
    assert_eq!(vm.command(Command::Delete), Ok(None));
}

#[test]
fn an_operator_restart_clears_the_reset_count() {
    let vm = test_vm(1);
    let mut vcpu = FakeVcpu::default();
    for _ in 0..MAX_RESETS {
        assert_eq!(
            vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::SystemReset)),
            Action::Reset
        );
        vm.finish_reset();
    }
    assert_eq!(vm.command(Command::Restart), Ok(Some(VmStatus::Resetting)));
    vm.finish_reset();
    assert_eq!(
        vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::SystemReset)),
        Action::Reset,
        "the guest's own resets count from zero again"
    );
    assert_eq!(vm.status(), VmStatus::Resetting);
}
