//! Interrupts and time on x86_64. Each VM has the interrupt hardware of a PC: a
//! local APIC in each vCPU (`tessera_vcpu_x86`, which answers its registers and
//! injects what it holds), the two 8259 PICs, whose output goes to vCPU 0's LINT0
//! (taken when its LVT LINT0 is ExtINT, as the firmware leaves it, or its APIC is
//! disabled), the 8254 PIT on IRQ 0 and the CMOS clock, the last three emulated on
//! its port bus, and an I/O APIC (MMIO at 0xFEC00000) wired as a PC wires it: ISA
//! line n to pin n, but the PIT's IRQ 0 to pin 2. Devices' lines (the console's
//! 16550) go into the PICs and the I/O APIC; before vCPU 0 runs,
//! [`IrqChip::deliver`] injects the vector the PICs give, or asks for an exit as
//! soon as the guest can take it. The I/O APIC's messages and the IPIs between the
//! vCPUs' APICs go through the vCPUs' mailboxes (`ipi`); a vCPU's EOI of a
//! level-triggered vector reaches the I/O APIC at its next entry. The ACPI PM
//! timer and PM1 event block sit on ports too. VM time is the host's time-stamp counter since
//! the VM was created; the PIT's next IRQ 0 edge sets the physical CPU's wake-up
//! timer, so a guest waiting in HLT is woken for its tick.
//!
//! The hypervisor's own interrupts (console input, kicks, its timer) arrive through
//! its interrupt table and are noted by the OS layer.

use super::ipi::{self, Mailbox};
use crate::irq::{self, TaskId};
use crate::vmm::{DeviceLayout, Vms};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;
use tessera_addr::{GuestPhysAddr, GuestRange};
use tessera_os::hal::{self, io, timer};
use tessera_vcpu_x86::X86Vcpu;
use tessera_vdev::{
    AccessWidth, Cmos, DeviceError, IoApic, Locked, MmioDevice, Pic8259, Pit8254, PmEvent, PmTimer,
    PortDevice, PortRange, SharedMmio, SharedPort, TimedPortDevice,
};
use tessera_vm::InterruptController;

/// The emulated PC interrupt and timer chips of one VM.
struct Pc {
    pic: Mutex<Pic8259>,
    pit: Mutex<Pit8254>,
    cmos: Mutex<Cmos>,
    ioapic: Mutex<IoApic>,
    /// The counter (TSC) value at VM time 0.
    origin: u64,
    /// The vCPUs (bit mask) a device line or an I/O APIC message concerned since
    /// the last look.
    kicks: AtomicU64,
    /// Each vCPU's IPI mailbox.
    mailboxes: Vec<Mailbox>,
}

const NS_PER_SECOND: u128 = 1_000_000_000;
/// The I/O APIC pin of the PIT's IRQ 0 on a PC (the ACPI tables' override says so).
const PIT_IOAPIC_PIN: u8 = 2;

impl Pc {
    /// VM time: nanoseconds since `origin`.
    fn now_ns(&self) -> u64 {
        let ticks = hal::counter_ticks().saturating_sub(self.origin);
        let ns = u128::from(ticks) * NS_PER_SECOND / u128::from(timer::counter_frequency());
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// The counter value at VM time `ns`.
    fn counter_at(&self, ns: u64) -> u64 {
        let ticks = u128::from(ns) * u128::from(timer::counter_frequency()) / NS_PER_SECOND;
        self.origin
            .saturating_add(u64::try_from(ticks).unwrap_or(u64::MAX))
    }

    /// Raises IRQ 0 (I/O APIC pin 2) if the PIT's channel 0 had an edge since the
    /// last look, and sets this CPU's wake-up timer for its next edge.
    fn catch_up(&self) {
        let now = self.now_ns();
        let (edge, next) = {
            let mut pit = self.pit.lock();
            (pit.tick(now) > 0, pit.next_deadline_ns(now))
        };
        if edge {
            self.pic.lock().raise(Pit8254::IRQ);
            self.ioapic.lock().raise(PIT_IOAPIC_PIN);
            self.route_ioapic();
        }
        if let Some(at) = next {
            timer::wake_at(self.counter_at(at));
        }
    }

    /// Sends every message the I/O APIC has to send to its targets' mailboxes and
    /// notes them for a kick.
    fn route_ioapic(&self) {
        let mut ioapic = self.ioapic.lock();
        while let Some(message) = ioapic.accept() {
            let targets = ipi::send_message(&self.mailboxes, &message);
            self.kicks.fetch_or(targets, Ordering::AcqRel);
        }
    }
}

/// A VM's interrupt state: its PICs, PIT and CMOS clock.
#[derive(Clone)]
pub struct IrqChip(Arc<Pc>);

impl IrqChip {
    /// The chips of a new VM of `cpus` vCPUs, put on its port bus; its clock starts
    /// now, showing the host's wall-clock time.
    pub fn new(layout: &mut DeviceLayout, cpus: usize) -> Result<Self, String> {
        let chip = Self(Arc::new(Pc {
            pic: Mutex::new(Pic8259::new()),
            pit: Mutex::new(Pit8254::new()),
            cmos: Mutex::new(Cmos::new(host_unix_time())),
            ioapic: Mutex::new(IoApic::new()),
            origin: hal::counter_ticks(),
            kicks: AtomicU64::new(0),
            mailboxes: (0..cpus).map(|_| Mailbox::new()).collect(),
        }));
        let windows: [(&str, &[PortRange], Chip); 4] = [
            ("8259 PICs", &Pic8259::WINDOWS, Chip::Pic),
            ("8254 PIT", &Pit8254::WINDOWS, Chip::Pit),
            ("CMOS clock", &[Cmos::PORTS], Chip::Cmos),
            ("ACPI PM timer", &[PmTimer::PORTS], Chip::PmTimer),
        ];
        for (what, ranges, chip_kind) in windows {
            let ports = PcPorts {
                pc: chip.0.clone(),
                chip: chip_kind,
            };
            layout.insert_port_windows(what, ranges, Box::new(ports))?;
        }
        layout.insert_port_windows(
            "ACPI PM1 event block",
            &[PmEvent::PORTS],
            Box::new(Locked::port(PmEvent::new())),
        )?;
        layout.insert_window(
            "the I/O APIC",
            GuestRange::new(GuestPhysAddr::new(IoApic::BASE), IoApic::SIZE),
            Box::new(IoApicWindow(chip.0.clone())),
        )?;
        Ok(chip)
    }

    /// Whether the VM has an interrupt controller for devices: the PICs.
    pub fn is_present(&self) -> bool {
        true
    }

    /// The line of ISA interrupt `irq` (0-15 but the cascade, 2) into the PICs.
    pub fn line(&self, irq: u32) -> Option<IrqLine> {
        let irq = u8::try_from(irq).ok().filter(|&irq| irq < 16 && irq != 2)?;
        Some(IrqLine {
            pc: self.0.clone(),
            irq,
        })
    }
}

impl InterruptController<X86Vcpu> for IrqChip {
    /// Back to the power-on state (VM reset). The CMOS clock and RAM, battery-backed
    /// on a PC, keep running and keep their contents.
    fn reset(&self) {
        let pc = &self.0;
        *pc.pic.lock() = Pic8259::new();
        *pc.pit.lock() = Pit8254::new();
        *pc.ioapic.lock() = IoApic::new();
        pc.kicks.store(0, Ordering::Release);
        for mailbox in &pc.mailboxes {
            mailbox.clear();
        }
    }

    /// The vCPUs (bit mask) whose interrupt state may have changed: vCPU 0 when a
    /// device line rose (the PICs), the targets of the I/O APIC's messages.
    fn take_kicks(&self) -> u64 {
        self.0.kicks.swap(0, Ordering::AcqRel)
    }

    /// Posts the IPI vCPU `sender`'s APIC sent (an `Ipi::to_word` word) to its
    /// targets' mailboxes; the vCPUs that got it.
    fn send_ipi(&self, sender: usize, value: u64) -> u64 {
        ipi::send(&self.0.mailboxes, sender, value)
    }

    /// Whether vCPU `index` has an interrupt to take (so it stops waiting): one in
    /// its mailbox or its APIC, or, for vCPU 0, the PICs' when LINT0 takes them;
    /// this CPU is set to wake at the PIT's next tick.
    fn has_work(&self, index: usize, vcpu: &X86Vcpu) -> bool {
        let pc = &self.0;
        if pc.mailboxes.get(index).is_some_and(|m| !m.is_empty()) || vcpu.has_apic_interrupt() {
            return true;
        }
        if index != 0 {
            return false;
        }
        pc.catch_up();
        vcpu.takes_pic_output() && pc.pic.lock().interrupt_output()
    }

    /// Before vCPU `index` runs: moves what other vCPUs sent it into its APIC (the
    /// vCPU injects that itself); injects the PICs' interrupt into vCPU 0 if its
    /// LINT0 takes them and it can take one now, else asks for an exit when it can;
    /// sets this CPU's timer for the PIT's next tick.
    fn deliver(&self, index: usize, vcpu: &mut X86Vcpu, _linked: &[u32]) {
        let pc = &self.0;
        if vcpu.has_level_eois() {
            let mut ioapic = pc.ioapic.lock();
            while let Some(vector) = vcpu.take_level_eoi() {
                ioapic.eoi(vector);
            }
            drop(ioapic);
            pc.route_ioapic();
        }
        if let Some(mailbox) = pc.mailboxes.get(index) {
            mailbox.drain(vcpu);
        }
        if index != 0 {
            return;
        }
        pc.catch_up();
        if !vcpu.takes_pic_output() {
            return;
        }
        let mut pic = pc.pic.lock();
        if !pic.interrupt_output() {
            return;
        }
        if vcpu.interruptible() && !vcpu.event_pending() {
            if let Some(vector) = pic.acknowledge() {
                vcpu.inject_interrupt(vector);
            }
        } else {
            vcpu.request_interrupt_window(true);
        }
    }
}

/// An emulated device's interrupt line into its VM's PICs.
#[derive(Clone)]
pub struct IrqLine {
    pc: Arc<Pc>,
    irq: u8,
}

impl IrqLine {
    /// Follows the device's output level, into the PICs and the I/O APIC.
    pub fn set_level(&self, high: bool) {
        let pc = &self.pc;
        pc.pic.lock().set_level(self.irq, high);
        pc.ioapic.lock().set_level(self.irq, high);
        if high {
            pc.kicks.fetch_or(1, Ordering::AcqRel);
            pc.route_ioapic();
        }
    }
}

/// The I/O APIC's MMIO window: a register write may unmask a pin whose message is
/// then sent.
struct IoApicWindow(Arc<Pc>);

impl SharedMmio for IoApicWindow {
    fn name(&self) -> &'static str {
        "ioapic"
    }

    fn read(&self, offset: u64, width: AccessWidth) -> Result<u64, DeviceError> {
        MmioDevice::read(&mut *self.0.ioapic.lock(), offset, width)
    }

    fn write(&self, offset: u64, width: AccessWidth, value: u64) -> Result<(), DeviceError> {
        MmioDevice::write(&mut *self.0.ioapic.lock(), offset, width, value)?;
        self.0.route_ioapic();
        Ok(())
    }
}

/// Which chip a [`PcPorts`] window reaches.
#[derive(Clone, Copy)]
enum Chip {
    Pic,
    Pit,
    Cmos,
    PmTimer,
}

/// The port windows of one of a VM's PC chips.
struct PcPorts {
    pc: Arc<Pc>,
    chip: Chip,
}

impl SharedPort for PcPorts {
    fn name(&self) -> &'static str {
        match self.chip {
            Chip::Pic => "pic8259",
            Chip::Pit => "pit8254",
            Chip::Cmos => "cmos",
            Chip::PmTimer => "acpi-pm-timer",
        }
    }

    fn read(&self, port_offset: u16, width: AccessWidth) -> Result<u32, DeviceError> {
        let pc = &self.pc;
        match self.chip {
            Chip::Pic => PortDevice::read(&mut *pc.pic.lock(), port_offset, width),
            Chip::Pit => pc.pit.lock().read_at(port_offset, width, pc.now_ns()),
            Chip::Cmos => pc.cmos.lock().read_at(port_offset, width, pc.now_ns()),
            Chip::PmTimer => PmTimer.read_at(port_offset, width, pc.now_ns()),
        }
    }

    fn write(&self, port_offset: u16, width: AccessWidth, value: u32) -> Result<(), DeviceError> {
        let pc = &self.pc;
        match self.chip {
            Chip::Pic => PortDevice::write(&mut *pc.pic.lock(), port_offset, width, value),
            Chip::Pit => pc
                .pit
                .lock()
                .write_at(port_offset, width, value, pc.now_ns()),
            Chip::Cmos => pc
                .cmos
                .lock()
                .write_at(port_offset, width, value, pc.now_ns()),
            Chip::PmTimer => PmTimer.write_at(port_offset, width, value, pc.now_ns()),
        }
    }
}

/// The wall-clock time of the machine's own CMOS clock (0, the epoch, if it shows
/// no valid time).
fn host_unix_time() -> u64 {
    const INDEX: u16 = 0x70;
    const DATA: u16 = 0x71;
    const REG_A: u8 = 0x0a;
    const UPDATE_IN_PROGRESS: u8 = 1 << 7;
    let read = |index: u8| {
        io::outb(INDEX, index);
        io::inb(DATA)
    };
    // An update takes under 2 ms; the registers are stable when UIP is clear.
    for _ in 0..100_000 {
        if read(REG_A) & UPDATE_IN_PROGRESS == 0 {
            break;
        }
    }
    Cmos::time_of_registers(read).unwrap_or(0)
}

/// Takes this CPU's pending interrupts: console input goes to its VM; a kick or the
/// timer only had to wake the CPU (the scheduler then looks at its vCPUs again).
pub fn handle_host_interrupts(vms: &Vms, _loaded: Option<TaskId>) {
    hal::take_pending_interrupts();
    if hal::take_interrupts() & hal::PENDING_UART != 0 {
        irq::console_input(vms);
    }
}
