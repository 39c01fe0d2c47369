//! Interrupts and time on x86_64. Each VM has the interrupt hardware of a PC: a
//! local APIC in each vCPU (`tessera_vcpu_x86`, which answers its registers and
//! injects what it holds), the two 8259 PICs, whose output goes to vCPU 0's LINT0
//! (taken when its LVT LINT0 is ExtINT, as the firmware leaves it, or its APIC is
//! disabled), the 8254 PIT on IRQ 0 and the CMOS clock, the last three emulated on
//! its port bus. Devices' lines (the console's 16550) go into the PICs; before
//! vCPU 0 runs, [`IrqChip::deliver`] injects the vector the PICs give, or asks for
//! an exit as soon as the guest can take it. IPIs between the vCPUs' APICs go
//! through their mailboxes (`ipi`). VM time is the host's time-stamp counter since
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
use core::sync::atomic::{AtomicBool, Ordering};
use spin::Mutex;
use tessera_os::hal::{self, io, timer};
use tessera_vcpu_x86::X86Vcpu;
use tessera_vdev::{
    AccessWidth, Cmos, DeviceError, Pic8259, Pit8254, PortDevice, PortRange, SharedPort,
    TimedPortDevice,
};
use tessera_vm::InterruptController;

/// The emulated PC interrupt and timer chips of one VM.
struct Pc {
    pic: Mutex<Pic8259>,
    pit: Mutex<Pit8254>,
    cmos: Mutex<Cmos>,
    /// The counter (TSC) value at VM time 0.
    origin: u64,
    /// A device line rose since vCPU 0's physical CPU last looked.
    raised: AtomicBool,
    /// Each vCPU's IPI mailbox.
    mailboxes: Vec<Mailbox>,
}

const NS_PER_SECOND: u128 = 1_000_000_000;

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

    /// Raises IRQ 0 if the PIT's channel 0 had an edge since the last look, and sets
    /// this CPU's wake-up timer for its next edge.
    fn catch_up(&self) {
        let now = self.now_ns();
        let next = {
            let mut pit = self.pit.lock();
            if pit.tick(now) > 0 {
                self.pic.lock().raise(Pit8254::IRQ);
            }
            pit.next_deadline_ns(now)
        };
        if let Some(at) = next {
            timer::wake_at(self.counter_at(at));
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
            origin: hal::counter_ticks(),
            raised: AtomicBool::new(false),
            mailboxes: (0..cpus).map(|_| Mailbox::new()).collect(),
        }));
        let windows: [(&str, &[PortRange], Chip); 3] = [
            ("8259 PICs", &Pic8259::WINDOWS, Chip::Pic),
            ("8254 PIT", &Pit8254::WINDOWS, Chip::Pit),
            ("CMOS clock", &[Cmos::PORTS], Chip::Cmos),
        ];
        for (what, ranges, chip_kind) in windows {
            let ports = PcPorts {
                pc: chip.0.clone(),
                chip: chip_kind,
            };
            layout.insert_port_windows(what, ranges, Box::new(ports))?;
        }
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
        pc.raised.store(false, Ordering::Release);
        for mailbox in &pc.mailboxes {
            mailbox.clear();
        }
    }

    /// The vCPUs (bit mask) whose interrupt state may have changed: vCPU 0 when a
    /// device line rose.
    fn take_kicks(&self) -> u64 {
        u64::from(self.0.raised.swap(false, Ordering::AcqRel))
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
    /// Follows the device's output level.
    pub fn set_level(&self, high: bool) {
        self.pc.pic.lock().set_level(self.irq, high);
        if high {
            self.pc.raised.store(true, Ordering::Release);
        }
    }
}

/// Which chip a [`PcPorts`] window reaches.
#[derive(Clone, Copy)]
enum Chip {
    Pic,
    Pit,
    Cmos,
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
        }
    }

    fn read(&self, port_offset: u16, width: AccessWidth) -> Result<u32, DeviceError> {
        let pc = &self.pc;
        match self.chip {
            Chip::Pic => PortDevice::read(&mut *pc.pic.lock(), port_offset, width),
            Chip::Pit => pc.pit.lock().read_at(port_offset, width, pc.now_ns()),
            Chip::Cmos => pc.cmos.lock().read_at(port_offset, width, pc.now_ns()),
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
