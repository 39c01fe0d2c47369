//! Host tests of exit handling with a fake vCPU and a fake device.

use super::*;
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use tessera_addr::{GuestPhysAddr, GuestRange, HostPhysAddr};
use tessera_vcpu::{AccessWidth, ArchVcpu, CallAnswer, VcpuError, VcpuExit};
use tessera_vdev::{
    AcpiPmControl, DeviceError, MmioDevice, PortBus, PortDevice, PortRange, PowerLatch,
    ResetControl,
};

#[derive(Default)]
struct FakeVcpu {
    read_value: Option<u64>,
    answer: Option<CallAnswer>,
}

impl ArchVcpu for FakeVcpu {
    fn run(&mut self) -> Result<VcpuExit, VcpuError> {
        Ok(VcpuExit::Handled)
    }
    fn complete_mmio_read(&mut self, value: u64) {
        self.read_value = Some(value);
    }
    fn answer(&mut self, answer: CallAnswer) {
        self.answer = Some(answer);
    }
    fn reset(&mut self, _entry: GuestPhysAddr, _arg: u64) {}
    fn pc(&self) -> u64 {
        0x4008_0000
    }
}

struct Register(u64);

impl MmioDevice for Register {
    fn name(&self) -> &str {
        "register"
    }
    fn read(&mut self, offset: u64, _width: AccessWidth) -> Result<u64, DeviceError> {
        if offset == 0 {
            Ok(self.0)
        } else {
            Err(DeviceError::NoRegister { offset })
        }
    }
    fn write(&mut self, offset: u64, _width: AccessWidth, value: u64) -> Result<(), DeviceError> {
        if offset == 0 {
            self.0 = value;
            Ok(())
        } else {
            Err(DeviceError::NoRegister { offset })
        }
    }
}

/// One 8-bit register at port offset 0.
struct PortRegister(u8);

impl PortDevice for PortRegister {
    fn name(&self) -> &str {
        "port-register"
    }
    fn read(&mut self, offset: u16, _width: AccessWidth) -> Result<u32, DeviceError> {
        match offset {
            0 => Ok(u32::from(self.0)),
            _ => Err(DeviceError::NoRegister {
                offset: offset.into(),
            }),
        }
    }
    fn write(&mut self, offset: u16, _width: AccessWidth, value: u32) -> Result<(), DeviceError> {
        match offset {
            0 => {
                self.0 = value as u8;
                Ok(())
            }
            _ => Err(DeviceError::NoRegister {
                offset: offset.into(),
            }),
        }
    }
}

fn gpa(raw: u64) -> GuestPhysAddr {
    GuestPhysAddr::new(raw)
}

fn test_vm(vcpus: usize) -> Vm {
    let memory = GuestMemory::new(vec![RamRegion {
        guest: GuestRange::new(gpa(0x4000_0000), 0x100_0000),
        host: HostPhysAddr::new(0x8000_0000),
        executable: true,
    }]);
    let mut bus = MmioBus::new();
    bus.insert(
        GuestRange::new(gpa(0x0900_0000), 0x1000),
        Box::new(Register(7)),
    )
    .unwrap();
    let mut ports = PortBus::new();
    ports
        .insert(PortRange::new(0x70, 2), Box::new(PortRegister(5)))
        .unwrap();
    let power = Arc::new(PowerLatch::default());
    ports
        .insert(
            PortRange::new(0x604, 2),
            Box::new(AcpiPmControl::new(power.clone())),
        )
        .unwrap();
    ports
        .insert(
            PortRange::new(0xcf9, 1),
            Box::new(ResetControl::new(power.clone())),
        )
        .unwrap();
    let devices = VmDevices {
        mmio: bus,
        ports,
        power,
    };
    Vm::new(
        1,
        "test".into(),
        memory,
        devices,
        (0..vcpus as u64).collect(),
    )
}

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
fn unmapped_access_ends_only_that_vm() {
    let vm = test_vm(1);
    let other = test_vm(1);
    let mut vcpu = FakeVcpu::default();
    let read = VcpuExit::MmioRead {
        addr: gpa(0x1234_0000),
        width: AccessWidth::Word,
    };
    assert_eq!(vm.handle_exit(0, &mut vcpu, Ok(read)), Action::Ended);
    assert_eq!(vm.status(), VmStatus::Ended);
    assert!(matches!(
        vm.end_reason(),
        Some(EndReason::Fault { vcpu: 0, .. })
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
    assert_eq!(
        vm.memory.host_span(gpa(0x4000_1000), 0x10),
        Ok(HostPhysAddr::new(0x8000_1000))
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
