//! Host tests of the VM layer on the fake architecture (`fakes`): exit handling
//! here, the run loop in `run_loop`.

mod fakes;
mod lifecycle;
mod run_loop;

use super::*;
use fakes::*;
use tessera_addr::HostPhysAddr;
use tessera_vcpu::{AccessWidth, CallAnswer, VcpuError, VcpuExit};

#[test]
fn port_accesses_reach_the_device_and_unclaimed_ports_read_open() {
    let vm = test_vm(1);
    let mut vcpu = FakeVcpu::default();
    let write = VcpuExit::PortWrite {
        port: 0x70,
        width: AccessWidth::Byte,
        value: 9,
    };
    assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(write)), Action::Resume);
    let read = |port| VcpuExit::PortRead {
        port,
        width: AccessWidth::Byte,
    };
    assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(read(0x70))), Action::Resume);
    assert_eq!(vcpu.read_value, Some(9));
    // No device at 0x80, none at offset 1 of the register: all ones, the VM goes on.
    for port in [0x80, 0x71] {
        assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(read(port))), Action::Resume);
        assert_eq!(vcpu.read_value, Some(0xff));
    }
    let stray = VcpuExit::PortWrite {
        port: 0x80,
        width: AccessWidth::Word,
        value: 1,
    };
    assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(stray)), Action::Resume);
    assert_eq!(vm.status(), VmStatus::Running);
    assert_eq!(vm.exits.get(ExitReason::Port), 5);
    assert!(alloc::format!("{}", vm.exits).contains("port 5"));
}

#[test]
fn mmio_reads_and_writes_reach_the_device() {
    let vm = test_vm(1);
    let mut vcpu = FakeVcpu::default();
    let write = VcpuExit::MmioWrite {
        addr: gpa(0x0900_0000),
        width: AccessWidth::Word,
        value: 42,
    };
    assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(write)), Action::Resume);
    let read = VcpuExit::MmioRead {
        addr: gpa(0x0900_0000),
        width: AccessWidth::Word,
    };
    assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(read)), Action::Resume);
    assert_eq!(vcpu.read_value, Some(42));
}

#[test]
fn an_access_to_nothing_gives_the_guest_a_fault_until_it_loops() {
    let vm = test_vm(1);
    let other = test_vm(1);
    let mut vcpu = FakeVcpu::default();
    let read = VcpuExit::MmioRead {
        addr: gpa(0x1234_0000),
        width: AccessWidth::Word,
    };
    let write = VcpuExit::MmioWrite {
        addr: gpa(0x1234_0000),
        width: AccessWidth::Word,
        value: 1,
    };
    assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(read)), Action::Resume);
    assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(write)), Action::Resume);
    assert_eq!(vcpu.faults_given, 2);
    assert_eq!(vm.status(), VmStatus::Running);
    // The fake's pc never moves: the guest faults at one place, again and again.
    let mut action = Action::Resume;
    for _ in 0..tessera_vcpu::FAULT_STREAK_LIMIT {
        action = vm.handle_exit(0, &mut vcpu, Ok(read));
    }
    assert_eq!(action, Action::Ended);
    assert_eq!(vcpu.faults_given, tessera_vcpu::FAULT_STREAK_LIMIT);
    let reason = vm.end_reason().unwrap();
    assert!(matches!(
        reason,
        EndReason::Fault {
            vcpu: 0,
            error: GuestError::Vcpu(VcpuError::FaultLoop { .. })
        }
    ));
    assert!(alloc::format!("{reason}").contains("neither RAM nor a device"));
    assert_eq!(other.status(), VmStatus::Running);
}

#[test]
fn an_access_a_device_refuses_ends_only_that_vm() {
    let vm = test_vm(1);
    let other = test_vm(1);
    let mut vcpu = FakeVcpu::default();
    // The register device answers only offset 0.
    let read = VcpuExit::MmioRead {
        addr: gpa(0x0900_0008),
        width: AccessWidth::Word,
    };
    assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(read)), Action::Ended);
    assert_eq!(vcpu.faults_given, 0);
    assert!(matches!(
        vm.end_reason(),
        Some(EndReason::Fault {
            vcpu: 0,
            error: GuestError::Mmio { .. }
        })
    ));
    assert_eq!(other.status(), VmStatus::Running);
}

#[test]
fn vcpu_errors_end_the_vm_with_the_reason() {
    let vm = test_vm(1);
    let error = VcpuError::UnknownExit {
        syndrome: 0xfc00_0000,
        pc: 0x4008_0000,
    };
    assert_eq!(
        vm.handle_exit(0, &mut FakeVcpu::default(), Err(error)),
        Action::Ended
    );
    let reason = vm.end_reason().unwrap();
    assert!(!reason.is_clean());
    assert!(alloc::format!("{reason}").contains("syndrome 0xfc000000"));
}

#[test]
fn cpu_on_checks_target_entry_and_state() {
    let vm = test_vm(2);
    let mut vcpu = FakeVcpu::default();
    let on = |target, entry| VcpuExit::CpuOn {
        target,
        entry: gpa(entry),
        arg: 5,
    };
    vm.handle_exit(0, &mut vcpu, Ok(on(9, 0x4008_0000)));
    assert_eq!(vcpu.answer, Some(CallAnswer::NoSuchCpu));
    vm.handle_exit(0, &mut vcpu, Ok(on(1, 0x1000)));
    assert_eq!(vcpu.answer, Some(CallAnswer::BadAddress));
    vm.handle_exit(0, &mut vcpu, Ok(on(0, 0x4008_0000)));
    assert_eq!(vcpu.answer, Some(CallAnswer::AlreadyOn));
    assert_eq!(
        vm.handle_exit(0, &mut vcpu, Ok(on(1, 0x4008_0000))),
        Action::WakeOthers
    );
    assert_eq!(vcpu.answer, Some(CallAnswer::Done));
    vm.handle_exit(0, &mut vcpu, Ok(on(1, 0x4008_0000)));
    assert_eq!(vcpu.answer, Some(CallAnswer::OnPending));
    vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::CpuStatus { target: 1 }));
    assert_eq!(vcpu.answer, Some(CallAnswer::StatusPending));
    assert_eq!(vm.vcpus.take_start(1), Some((gpa(0x4008_0000), 5)));
    assert_eq!(vm.vcpus.take_start(1), None);
    assert_eq!(
        vm.handle_exit(1, &mut vcpu, Ok(VcpuExit::CpuOff)),
        Action::VcpuOff
    );
    vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::CpuStatus { target: 1 }));
    assert_eq!(vcpu.answer, Some(CallAnswer::StatusOff));
}

#[test]
fn power_off_and_reset() {
    let vm = test_vm(2);
    let mut vcpu = FakeVcpu::default();
    assert_eq!(
        vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::SystemReset)),
        Action::Reset
    );
    assert_eq!(vm.status(), VmStatus::Resetting);
    vm.finish_reset();
    assert_eq!(vm.status(), VmStatus::Running);
    assert_eq!(
        vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::SystemOff)),
        Action::Ended
    );
    assert_eq!(vm.end_reason(), Some(EndReason::PoweredOff));
    assert!(!vm.end(EndReason::PoweredOff), "the first reason is kept");
}

#[test]
fn memory_spans_stay_inside_one_region() {
    let vm = test_vm(1);
    let host = vm.memory.regions()[0].host;
    assert_eq!(
        vm.memory.host_span(gpa(0x4000_1000), 0x10),
        Ok(HostPhysAddr::new(host.raw() + 0x1000))
    );
    assert!(vm.memory.host_span(gpa(0x40ff_fff0), 0x20).is_err());
    assert!(vm.memory.host_span(gpa(0x3fff_ffff), 1).is_err());
    assert!(vm.memory.is_executable(gpa(0x4000_0000)));
    assert!(!vm.memory.is_executable(gpa(0x4100_0000)));
}

#[test]
fn ipi_requests_go_to_the_interrupt_controller() {
    let vm = test_vm(2);
    let mut vcpu = FakeVcpu::default();
    assert_eq!(
        vm.handle_exit(1, &mut vcpu, Ok(VcpuExit::SendIpi { value: 0x0100_0001 })),
        Action::SendIpi(0x0100_0001)
    );
    assert_eq!(vm.status(), VmStatus::Running);
}

#[test]
fn exits_are_counted_by_reason() {
    let vm = test_vm(2);
    let mut vcpu = FakeVcpu::default();
    vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::Idle));
    vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::Idle));
    vm.handle_exit(1, &mut vcpu, Ok(VcpuExit::SendIpi { value: 1 }));
    vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::HostInterrupt));
    assert_eq!(vm.exits.get(crate::ExitReason::Idle), 2);
    assert_eq!(vm.exits.get(crate::ExitReason::Ipi), 1);
    assert_eq!(vm.exits.total(), 4);
    assert_eq!(
        alloc::format!("{}", vm.exits),
        "4 exits (mmio 0, idle 2, host-interrupt 1, ipi 1, power 0, handled 0)"
    );
}

#[test]
fn a_reset_loop_stops_the_vm() {
    let vm = test_vm(1);
    let mut vcpu = FakeVcpu::default();
    for _ in 0..crate::MAX_RESETS {
        assert_eq!(
            vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::SystemReset)),
            Action::Reset
        );
        vm.finish_reset();
    }
    assert_eq!(
        vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::SystemReset)),
        Action::Ended
    );
    assert_eq!(
        vm.end_reason(),
        Some(EndReason::ResetLoop {
            resets: crate::MAX_RESETS
        })
    );
    assert!(!vm.end_reason().unwrap().is_clean());
}

#[test]
fn power_ports_end_or_reset_the_vm() {
    let vm = test_vm(1);
    let mut vcpu = FakeVcpu::default();
    let reset = VcpuExit::PortWrite {
        port: 0xcf9,
        width: AccessWidth::Byte,
        value: 0x06,
    };
    assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(reset)), Action::Reset);
    assert_eq!(vm.status(), VmStatus::Resetting);
    vm.finish_reset();
    let off = VcpuExit::PortWrite {
        port: 0x604,
        width: AccessWidth::Half,
        value: 0x2000,
    };
    assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(off)), Action::Ended);
    assert_eq!(vm.end_reason(), Some(EndReason::PoweredOff));
}

#[test]
fn the_last_vcpu_off_powers_the_vm_off() {
    let vm = test_vm(2);
    let mut vcpu = FakeVcpu::default();
    let on = VcpuExit::CpuOn {
        target: 1,
        entry: gpa(0x4000_0000),
        arg: 0,
    };
    vm.handle_exit(0, &mut vcpu, Ok(on));
    assert_eq!(vm.vcpus.take_start(1), Some((gpa(0x4000_0000), 0)));
    assert_eq!(
        vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::CpuOff)),
        Action::VcpuOff
    );
    assert_eq!(vm.status(), VmStatus::Running);
    assert_eq!(
        vm.handle_exit(1, &mut vcpu, Ok(VcpuExit::CpuOff)),
        Action::Ended
    );
    assert_eq!(vm.end_reason(), Some(EndReason::PoweredOff));
}

#[test]
fn console_write_copies_guest_bytes_to_the_console() {
    let (vm, console) = console_vm();
    let mut vcpu = FakeVcpu::default();
    poke(&vm, RAM_BASE + 0x1000, b"hello\n");
    let exit = VcpuExit::ConsoleWrite {
        addr: gpa(RAM_BASE + 0x1000),
        len: 6,
    };
    assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(exit)), Action::Resume);
    assert_eq!(vcpu.answer, Some(CallAnswer::Bytes(6)));
    assert_eq!(console.written.lock().as_slice(), b"hello\n");
    assert_eq!(vm.exits.get(ExitReason::Console), 1);
    // A long buffer is written a chunk at a time; the guest calls again for the rest.
    let long = VcpuExit::ConsoleWrite {
        addr: gpa(RAM_BASE),
        len: 10_000,
    };
    vm.handle_exit(0, &mut vcpu, Ok(long));
    assert_eq!(vcpu.answer, Some(CallAnswer::Bytes(CONSOLE_CHUNK as u64)));
}

#[test]
fn console_buffers_outside_ram_are_refused_whole() {
    let (vm, console) = console_vm();
    let mut vcpu = FakeVcpu::default();
    for (addr, len) in [
        (0xdead_0000, 64),
        // Starts in RAM, ends past it: refused although the first chunk would fit.
        (RAM_BASE + RAM_SIZE - 16, 64),
        (RAM_BASE, u64::MAX),
        (u64::MAX - 3, 8),
    ] {
        for exit in [
            VcpuExit::ConsoleWrite {
                addr: gpa(addr),
                len,
            },
            VcpuExit::ConsoleRead {
                addr: gpa(addr),
                len,
            },
        ] {
            assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(exit)), Action::Resume);
            assert_eq!(vcpu.answer, Some(CallAnswer::BadBuffer), "{exit:?}");
        }
    }
    assert!(console.written.lock().is_empty());
    assert_eq!(vm.status(), VmStatus::Running);
}

#[test]
fn console_read_puts_typed_bytes_into_guest_ram() {
    let (vm, console) = console_vm();
    let mut vcpu = FakeVcpu::default();
    console.typed.lock().extend(b"ls\r");
    let exit = VcpuExit::ConsoleRead {
        addr: gpa(RAM_BASE + 0x2000),
        len: 2,
    };
    vm.handle_exit(0, &mut vcpu, Ok(exit));
    assert_eq!(vcpu.answer, Some(CallAnswer::Bytes(2)));
    let mut got = [0u8; 2];
    // SAFETY: the test VM's RAM is a buffer of this process.
    unsafe { vm.memory.read(gpa(RAM_BASE + 0x2000), &mut got) }.unwrap();
    assert_eq!(&got, b"ls");
    vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::ConsoleReadByte));
    assert_eq!(vcpu.answer, Some(CallAnswer::Byte(Some(b'\r'))));
    vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::ConsoleReadByte));
    assert_eq!(vcpu.answer, Some(CallAnswer::Byte(None)));
    vm.handle_exit(0, &mut vcpu, Ok(exit));
    assert_eq!(vcpu.answer, Some(CallAnswer::Bytes(0)));
}

#[test]
fn console_calls_without_a_console_are_denied() {
    let vm = test_vm(1);
    let mut vcpu = FakeVcpu::default();
    for exit in [
        VcpuExit::ConsoleWriteByte(b'x'),
        VcpuExit::ConsoleReadByte,
        VcpuExit::ConsoleWrite {
            addr: gpa(RAM_BASE),
            len: 1,
        },
    ] {
        assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(exit)), Action::Resume);
        assert_eq!(vcpu.answer, Some(CallAnswer::NoConsole));
    }
}

#[test]
fn a_suspended_vcpu_is_reported_suspended_until_resumed() {
    let vm = test_vm(2);
    let mut vcpu = FakeVcpu::default();
    assert_eq!(
        vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::CpuSuspend { resume: None })),
        Action::Suspended
    );
    assert_eq!(
        vm.vcpus.state(0),
        Some(VcpuState::Suspended { resume: None })
    );
    let status = VcpuExit::CpuStatus { target: 0 };
    vm.handle_exit(1, &mut vcpu, Ok(status));
    assert_eq!(vcpu.answer, Some(CallAnswer::StatusSuspended));
    // Starting a suspended vCPU is starting one that is on.
    let start = VcpuExit::CpuOn {
        target: 0,
        entry: gpa(RAM_BASE),
        arg: 0,
    };
    vm.handle_exit(1, &mut vcpu, Ok(start));
    assert_eq!(vcpu.answer, Some(CallAnswer::AlreadyOn));
    assert_eq!(vm.vcpus.resume(0), None, "a retentive suspend carries on");
    vm.handle_exit(1, &mut vcpu, Ok(status));
    assert_eq!(vcpu.answer, Some(CallAnswer::StatusOn));
    // Only an on vCPU can be suspended.
    vm.vcpus.suspend(1, None);
    assert_eq!(vm.vcpus.state(1), Some(VcpuState::Off));
}

#[test]
fn a_non_retentive_suspend_resumes_at_its_entry_or_is_refused() {
    let vm = test_vm(1);
    let mut vcpu = FakeVcpu::default();
    let outside = VcpuExit::CpuSuspend {
        resume: Some((gpa(0x10), 1)),
    };
    assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(outside)), Action::Resume);
    assert_eq!(vcpu.answer, Some(CallAnswer::BadAddress));
    assert_eq!(vm.vcpus.state(0), Some(VcpuState::On), "nothing suspended");
    let entry = gpa(RAM_BASE + 0x1000);
    let inside = VcpuExit::CpuSuspend {
        resume: Some((entry, 0x5eed)),
    };
    assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(inside)), Action::Suspended);
    assert_eq!(
        vm.vcpus.state(0),
        Some(VcpuState::Suspended {
            resume: Some((entry, 0x5eed))
        })
    );
    assert_eq!(vm.vcpus.resume(0), Some((entry, 0x5eed)));
    assert_eq!(vm.vcpus.state(0), Some(VcpuState::On));
}

#[test]
fn a_reported_system_failure_ends_the_vm_not_cleanly() {
    let vm = test_vm(1);
    let mut vcpu = FakeVcpu::default();
    assert_eq!(
        vm.handle_exit(0, &mut vcpu, Ok(VcpuExit::SystemFailure)),
        Action::Ended
    );
    let reason = vm.end_reason().unwrap();
    assert_eq!(reason, EndReason::SystemFailure);
    assert!(!reason.is_clean());
}
