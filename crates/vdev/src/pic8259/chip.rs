//! One 8259A: its registers, the initialisation sequence, the operation
//! commands and the priority resolver.

/// ICW1 is a write to A0 = 0 with bit 4 set.
const ICW1: u8 = 1 << 4;
/// ICW1.IC4: an ICW4 follows.
const ICW1_IC4: u8 = 1 << 0;
/// ICW1.SNGL: a single 8259A, no ICW3.
const ICW1_SNGL: u8 = 1 << 1;
/// ICW1.LTIM: level triggered inputs.
const ICW1_LTIM: u8 = 1 << 3;
/// ICW4.AEOI: automatic end of interrupt.
const ICW4_AEOI: u8 = 1 << 1;
/// ICW4.SFNM: special fully nested mode.
const ICW4_SFNM: u8 = 1 << 4;
/// A write to A0 = 0 with bit 4 clear and bit 3 set is OCW3, with both clear OCW2.
const OCW3: u8 = 1 << 3;
/// OCW3.RIS: read the ISR (with RR set).
const OCW3_RIS: u8 = 1 << 0;
/// OCW3.RR: RIS selects the register read at A0 = 0.
const OCW3_RR: u8 = 1 << 1;
/// OCW3.P: poll command.
const OCW3_POLL: u8 = 1 << 2;
/// OCW3.SMM: special mask mode (with ESMM set).
const OCW3_SMM: u8 = 1 << 5;
/// OCW3.ESMM: SMM sets or clears special mask mode.
const OCW3_ESMM: u8 = 1 << 6;
/// Poll word bit 7: an interrupt was pending.
const POLL_INTERRUPT: u8 = 1 << 7;

/// Where a chip is in its initialisation sequence: the next write to A0 = 1.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Init {
    /// Initialised: A0 = 1 writes are OCW1.
    Ready,
    /// Waiting for ICW2.
    Icw2,
    /// Waiting for ICW3.
    Icw3,
    /// Waiting for ICW4.
    Icw4,
}

/// One 8259A.
#[derive(Clone, Debug)]
pub(super) struct Chip {
    /// Whether this is the master (special fully nested mode applies to it only).
    master: bool,
    /// Interrupt request register.
    pub(super) irr: u8,
    /// In-service register.
    pub(super) isr: u8,
    /// Interrupt mask register (OCW1).
    pub(super) imr: u8,
    /// The input lines, as last set.
    pub(super) lines: u8,
    /// ICW2 bits 7:3, the vector of IR0.
    vector_base: u8,
    /// ICW3: the inputs with a slave (master) or the slave's ID (slave).
    icw3: u8,
    /// The input with the lowest priority; the one after it has the highest.
    lowest: u8,
    init: Init,
    icw4_expected: bool,
    single: bool,
    level_triggered: bool,
    auto_eoi: bool,
    rotate_in_auto_eoi: bool,
    special_fully_nested: bool,
    special_mask: bool,
    read_isr: bool,
    poll: bool,
}

impl Chip {
    /// A chip at power-on: every input masked until the guest initialises it.
    pub(super) fn new(master: bool) -> Self {
        Self {
            master,
            irr: 0,
            isr: 0,
            imr: 0xff,
            lines: 0,
            vector_base: 0,
            icw3: 0,
            lowest: 7,
            init: Init::Ready,
            icw4_expected: false,
            single: false,
            level_triggered: false,
            auto_eoi: false,
            rotate_in_auto_eoi: false,
            special_fully_nested: false,
            special_mask: false,
            read_isr: false,
            poll: false,
        }
    }

    /// The inputs from highest to lowest priority.
    fn by_priority(&self) -> impl Iterator<Item = u8> + use<> {
        let lowest = self.lowest;
        (1..=8u8).map(move |step| lowest.wrapping_add(step) & 7)
    }

    /// Whether `irq` has a slave behind it (master in cascade mode only).
    pub(super) fn has_slave(&self, irq: u8) -> bool {
        self.master && !self.single && self.icw3 & bit(irq) != 0
    }

    /// The input the chip would interrupt for: the highest-priority unmasked
    /// request not blocked by an in-service input of higher or equal priority.
    pub(super) fn highest_request(&self) -> Option<u8> {
        let requests = self.irr & !self.imr;
        for irq in self.by_priority() {
            let mask = bit(irq);
            // In special mask mode a masked in-service input blocks nothing.
            let blocking = self.isr & mask != 0 && !(self.special_mask && self.imr & mask != 0);
            let nested = self.special_fully_nested && self.has_slave(irq);
            if requests & mask != 0 && (!blocking || nested) {
                return Some(irq);
            }
            if blocking {
                return None;
            }
        }
        None
    }

    /// The in-service input of highest priority.
    fn highest_in_service(&self) -> Option<u8> {
        self.by_priority().find(|&irq| self.isr & bit(irq) != 0)
    }

    /// The INT output.
    pub(super) fn interrupt_output(&self) -> bool {
        self.highest_request().is_some()
    }

    /// The vector of input `irq`.
    pub(super) fn vector(&self, irq: u8) -> u8 {
        self.vector_base | (irq & 7)
    }

    /// The INTA cycle for `irq`: the request goes in service (or, in auto-EOI
    /// mode, ends at once).
    pub(super) fn acknowledge(&mut self, irq: u8) {
        let mask = bit(irq);
        self.irr &= !mask;
        if self.level_triggered {
            self.irr |= self.lines & mask;
        }
        if !self.auto_eoi {
            self.isr |= mask;
        } else if self.rotate_in_auto_eoi {
            self.lowest = irq & 7;
        }
    }

    /// Sets input `irq`'s line.
    pub(super) fn set_line(&mut self, irq: u8, high: bool) {
        let mask = bit(irq);
        let rising = high && self.lines & mask == 0;
        if high {
            self.lines |= mask;
        } else {
            self.lines &= !mask;
        }
        if !high {
            self.irr &= !mask;
        } else if rising || self.level_triggered {
            self.irr |= mask;
        }
    }

    /// An edge on input `irq`: a request held until acknowledged.
    pub(super) fn pulse(&mut self, irq: u8) {
        self.irr |= bit(irq);
    }

    /// A write to A0 = 0: ICW1, OCW2 or OCW3.
    pub(super) fn write_command(&mut self, value: u8) {
        if value & ICW1 != 0 {
            self.icw1(value);
        } else if value & OCW3 != 0 {
            self.ocw3(value);
        } else {
            self.ocw2(value);
        }
    }

    /// ICW1: starts the initialisation sequence. The mask, the requests and the
    /// in-service bits are cleared (a request needs a new rising edge), IR7 gets
    /// the lowest priority, reads return the IRR, special mask mode ends, and
    /// without IC4 the ICW4 modes are cleared.
    fn icw1(&mut self, value: u8) {
        self.level_triggered = value & ICW1_LTIM != 0;
        self.single = value & ICW1_SNGL != 0;
        self.icw4_expected = value & ICW1_IC4 != 0;
        self.imr = 0;
        self.isr = 0;
        self.irr = if self.level_triggered { self.lines } else { 0 };
        self.lowest = 7;
        self.special_mask = false;
        self.read_isr = false;
        self.poll = false;
        self.rotate_in_auto_eoi = false;
        if !self.icw4_expected {
            self.auto_eoi = false;
            self.special_fully_nested = false;
        }
        self.init = Init::Icw2;
    }

    /// OCW2: the end of interrupt, rotation and priority commands.
    fn ocw2(&mut self, value: u8) {
        let level = value & 7;
        match value >> 5 {
            // Non-specific EOI; rotate on non-specific EOI.
            cmd @ (0b001 | 0b101) => {
                if let Some(irq) = self.highest_in_service() {
                    self.isr &= !bit(irq);
                    if cmd == 0b101 {
                        self.lowest = irq;
                    }
                }
            }
            // Specific EOI; rotate on specific EOI.
            cmd @ (0b011 | 0b111) => {
                self.isr &= !bit(level);
                if cmd == 0b111 {
                    self.lowest = level;
                }
            }
            // Set or clear rotate in automatic EOI mode.
            0b100 => self.rotate_in_auto_eoi = true,
            0b000 => self.rotate_in_auto_eoi = false,
            // Set priority command.
            0b110 => self.lowest = level,
            // 0b010: no operation.
            _ => {}
        }
    }

    /// OCW3: which register reads return, poll, special mask mode.
    fn ocw3(&mut self, value: u8) {
        if value & OCW3_POLL != 0 {
            self.poll = true;
        }
        if value & OCW3_RR != 0 {
            self.read_isr = value & OCW3_RIS != 0;
        }
        if value & OCW3_ESMM != 0 {
            self.special_mask = value & OCW3_SMM != 0;
        }
    }

    /// A write to A0 = 1: the next ICW, or OCW1 once initialised.
    pub(super) fn write_data(&mut self, value: u8) {
        self.init = match self.init {
            Init::Ready => {
                self.imr = value;
                Init::Ready
            }
            Init::Icw2 => {
                self.vector_base = value & 0xf8;
                if !self.single {
                    Init::Icw3
                } else if self.icw4_expected {
                    Init::Icw4
                } else {
                    Init::Ready
                }
            }
            Init::Icw3 => {
                self.icw3 = value;
                if self.icw4_expected {
                    Init::Icw4
                } else {
                    Init::Ready
                }
            }
            Init::Icw4 => {
                self.auto_eoi = value & ICW4_AEOI != 0;
                self.special_fully_nested = value & ICW4_SFNM != 0;
                Init::Ready
            }
        };
    }

    /// A read of A0 = 0: the poll word after a poll command, else IRR or ISR.
    pub(super) fn read_command(&mut self) -> u8 {
        if self.poll {
            self.poll = false;
            return match self.highest_request() {
                Some(irq) => {
                    self.acknowledge(irq);
                    POLL_INTERRUPT | irq
                }
                None => 0,
            };
        }
        if self.read_isr { self.isr } else { self.irr }
    }
}

/// The mask of input `irq` (0-7).
pub(super) fn bit(irq: u8) -> u8 {
    1 << (irq & 7)
}
