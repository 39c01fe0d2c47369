//! A 16550A UART (National Semiconductor PC16550D), as a guest's driver sees it.
//!
//! Register offsets, bits and reset values follow the PC16550D datasheet. The
//! registers are bytes at consecutive offsets (register shift 0, I/O width 1, as
//! the `ns16550a` of QEMU's riscv `virt` board at 0x1000_0000), so only 8-bit
//! accesses are accepted. Transmission is instant: a byte written to the THR goes
//! straight to the [`CharSink`], so the transmitter is always empty (LSR.THRE and
//! LSR.TEMT stay set). The divisor latch, line control and scratch registers are
//! stored and read back but change nothing. No modem is attached: outside loopback
//! the modem status reads CTS, DSR and DCD asserted so drivers never wait for them.
//!
//! Received data raises the "received data available" interrupt as soon as one
//! byte waits, whatever the FIFO trigger level (FCR bits 7:6 are not modelled),
//! so the character timeout identification (IIR 0xC) is never reported.
//!
//! The same model serves x86 port I/O: wrapped in [`crate::OnPorts`] its eight
//! registers are eight consecutive ports, COM1 at [`Uart16550::COM1`] on IRQ 4.

use alloc::boxed::Box;
use alloc::collections::VecDeque;

use crate::{AccessWidth, CharSink, DeviceError, MmioDevice, PortRange, SerialPort};

#[cfg(test)]
mod tests;

/// RBR (read) / THR (write) with LCR.DLAB clear, DLL with it set.
const RBR_THR: u64 = 0;
/// IER with LCR.DLAB clear, DLM with it set.
const IER: u64 = 1;
/// IIR (read) / FCR (write).
const IIR_FCR: u64 = 2;
/// LCR: line control.
const LCR: u64 = 3;
/// MCR: modem control.
const MCR: u64 = 4;
/// LSR: line status.
const LSR: u64 = 5;
/// MSR: modem status.
const MSR: u64 = 6;
/// SCR: scratch.
const SCR: u64 = 7;

/// IER.ERBFI (bit 0): received data available interrupt enable.
const IER_ERBFI: u8 = 1 << 0;
/// IER.ETBEI (bit 1): transmitter holding register empty interrupt enable.
const IER_ETBEI: u8 = 1 << 1;
/// IER.ELSI (bit 2): receiver line status interrupt enable.
const IER_ELSI: u8 = 1 << 2;
/// IER.EDSSI (bit 3): modem status interrupt enable.
const IER_EDSSI: u8 = 1 << 3;
/// IER bits 7:4 are always zero.
const IER_MASK: u8 = 0x0f;

/// IIR bit 0: set when no interrupt is pending.
const IIR_NO_INT: u8 = 0x01;
/// IIR identification: receiver line status (highest priority).
const IIR_RLS: u8 = 0x06;
/// IIR identification: received data available.
const IIR_RDA: u8 = 0x04;
/// IIR identification: transmitter holding register empty.
const IIR_THRE: u8 = 0x02;
/// IIR identification: modem status (lowest priority).
const IIR_MSI: u8 = 0x00;
/// IIR bits 7:6: set when FCR.0 has enabled the FIFOs.
const IIR_FIFOS: u8 = 0xc0;

/// FCR bit 0: enable both FIFOs.
const FCR_ENABLE: u8 = 1 << 0;
/// FCR bit 1: clear the receive FIFO.
const FCR_CLEAR_RX: u8 = 1 << 1;

/// LCR.DLAB (bit 7): offsets 0 and 1 reach the divisor latch.
const LCR_DLAB: u8 = 1 << 7;

/// MCR.DTR (bit 0).
const MCR_DTR: u8 = 1 << 0;
/// MCR.RTS (bit 1).
const MCR_RTS: u8 = 1 << 1;
/// MCR.OUT1 (bit 2).
const MCR_OUT1: u8 = 1 << 2;
/// MCR.OUT2 (bit 3).
const MCR_OUT2: u8 = 1 << 3;
/// MCR.LOOP (bit 4): loopback, transmitted bytes are received.
const MCR_LOOP: u8 = 1 << 4;
/// MCR bits 7:5 are always zero.
const MCR_MASK: u8 = 0x1f;

/// LSR.DR (bit 0): data ready.
const LSR_DR: u8 = 1 << 0;
/// LSR.OE (bit 1): overrun error.
const LSR_OE: u8 = 1 << 1;
/// LSR.THRE (bit 5): transmitter holding register (or FIFO) empty.
const LSR_THRE: u8 = 1 << 5;
/// LSR.TEMT (bit 6): transmitter empty.
const LSR_TEMT: u8 = 1 << 6;

/// MSR.DCTS (bit 0): CTS changed.
const MSR_DCTS: u8 = 1 << 0;
/// MSR.DDSR (bit 1): DSR changed.
const MSR_DDSR: u8 = 1 << 1;
/// MSR.TERI (bit 2): RI went from asserted to deasserted.
const MSR_TERI: u8 = 1 << 2;
/// MSR.DDCD (bit 3): DCD changed.
const MSR_DDCD: u8 = 1 << 3;
/// MSR.CTS (bit 4): clear to send.
const MSR_CTS: u8 = 1 << 4;
/// MSR.DSR (bit 5): data set ready.
const MSR_DSR: u8 = 1 << 5;
/// MSR.RI (bit 6): ring indicator.
const MSR_RI: u8 = 1 << 6;
/// MSR.DCD (bit 7): data carrier detect.
const MSR_DCD: u8 = 1 << 7;
/// The modem inputs outside loopback: CTS, DSR and DCD asserted, RI not.
const MSR_IDLE_LINES: u8 = MSR_CTS | MSR_DSR | MSR_DCD;

/// Depth of the receive FIFO when FIFOs are enabled.
const FIFO_DEPTH: usize = 16;

/// The 16550A model: registers, a receive FIFO and the sink for transmitted bytes.
pub struct Uart16550 {
    sink: Box<dyn CharSink>,
    rx: VecDeque<u8>,
    ier: u8,
    lcr: u8,
    mcr: u8,
    scr: u8,
    dll: u8,
    dlm: u8,
    /// FCR.0: FIFOs enabled (16550 mode); otherwise 1-byte holding registers (16450 mode).
    fifos: bool,
    /// LSR.OE: a received byte was lost; cleared by reading the LSR.
    overrun: bool,
    /// The THRE interrupt: set when the THR empties, cleared by an IIR read that
    /// reports it or by the next THR write (which empties the THR again at once).
    thre_pending: bool,
    /// MSR bits 3:0, the modem input changes since the MSR was last read.
    msr_deltas: u8,
}

impl Uart16550 {
    /// Size of the register window, as QEMU `virt` describes it.
    pub const SIZE: u64 = 0x100;
    /// The ports of a PC's first serial port, COM1: 0x3F8 to 0x3FF.
    pub const COM1: PortRange = PortRange::new(0x3f8, 8);
    /// The ISA interrupt line of COM1.
    pub const COM1_IRQ: u8 = 4;

    /// A UART in its reset state sending its output to `sink`.
    pub fn new(sink: Box<dyn CharSink>) -> Self {
        Self {
            sink,
            rx: VecDeque::with_capacity(FIFO_DEPTH),
            ier: 0,
            lcr: 0,
            mcr: 0,
            scr: 0,
            dll: 0,
            dlm: 0,
            fifos: false,
            overrun: false,
            thre_pending: false,
            msr_deltas: 0,
        }
    }

    /// Bytes the receiver holds at most in the current mode.
    fn rx_capacity(&self) -> usize {
        if self.fifos { FIFO_DEPTH } else { 1 }
    }

    /// A received byte. When the receiver is full that is an overrun: in FIFO mode
    /// the new byte is lost, in 16450 mode it replaces the unread one.
    fn receive(&mut self, byte: u8) {
        if self.rx.len() >= self.rx_capacity() {
            self.overrun = true;
            if self.fifos {
                return;
            }
            self.rx.clear();
        }
        self.rx.push_back(byte);
    }

    /// A write to the THR: send the byte (or loop it back); the THR is empty again.
    fn transmit(&mut self, byte: u8) {
        if self.mcr & MCR_LOOP != 0 {
            self.receive(byte);
        } else {
            self.sink.write_bytes(&[byte]);
        }
        self.thre_pending = true;
    }

    /// The identification of the highest-priority pending enabled interrupt.
    fn interrupt_id(&self) -> Option<u8> {
        if self.ier & IER_ELSI != 0 && self.overrun {
            Some(IIR_RLS)
        } else if self.ier & IER_ERBFI != 0 && !self.rx.is_empty() {
            Some(IIR_RDA)
        } else if self.ier & IER_ETBEI != 0 && self.thre_pending {
            Some(IIR_THRE)
        } else if self.ier & IER_EDSSI != 0 && self.msr_deltas != 0 {
            Some(IIR_MSI)
        } else {
            None
        }
    }

    /// A read of the IIR; reporting the THRE interrupt clears it.
    fn read_iir(&mut self) -> u8 {
        let id = self.interrupt_id();
        if id == Some(IIR_THRE) {
            self.thre_pending = false;
        }
        let fifos = if self.fifos { IIR_FIFOS } else { 0 };
        id.unwrap_or(IIR_NO_INT) | fifos
    }

    /// A write to the IER. Enabling ETBEI raises the THRE interrupt, since the
    /// THR is always empty.
    fn write_ier(&mut self, value: u8) {
        let enabled = value & !self.ier;
        self.ier = value & IER_MASK;
        if enabled & IER_ETBEI != 0 {
            self.thre_pending = true;
        }
    }

    /// A write to the FCR. Changing FCR.0 empties the FIFOs; the other bits only
    /// act while FCR.0 is set.
    fn write_fcr(&mut self, value: u8) {
        let enable = value & FCR_ENABLE != 0;
        if enable != self.fifos {
            self.rx.clear();
            self.fifos = enable;
        }
        if enable && value & FCR_CLEAR_RX != 0 {
            self.rx.clear();
        }
    }

    /// The LSR; reading it clears LSR.OE.
    fn read_lsr(&mut self) -> u8 {
        let mut lsr = LSR_THRE | LSR_TEMT;
        if !self.rx.is_empty() {
            lsr |= LSR_DR;
        }
        if self.overrun {
            lsr |= LSR_OE;
        }
        self.overrun = false;
        lsr
    }

    /// MSR bits 7:4: the MCR outputs in loopback, the idle modem otherwise.
    fn modem_lines(&self) -> u8 {
        if self.mcr & MCR_LOOP == 0 {
            return MSR_IDLE_LINES;
        }
        let wired = [
            (MCR_RTS, MSR_CTS),
            (MCR_DTR, MSR_DSR),
            (MCR_OUT1, MSR_RI),
            (MCR_OUT2, MSR_DCD),
        ];
        wired
            .iter()
            .filter(|(output, _)| self.mcr & output != 0)
            .fold(0, |lines, (_, input)| lines | input)
    }

    /// A write to the MCR; changes of the modem inputs it causes set the MSR deltas.
    fn write_mcr(&mut self, value: u8) {
        let before = self.modem_lines();
        self.mcr = value & MCR_MASK;
        let after = self.modem_lines();
        let changed = before ^ after;
        for (line, delta) in [
            (MSR_CTS, MSR_DCTS),
            (MSR_DSR, MSR_DDSR),
            (MSR_DCD, MSR_DDCD),
        ] {
            if changed & line != 0 {
                self.msr_deltas |= delta;
            }
        }
        if before & MSR_RI != 0 && after & MSR_RI == 0 {
            self.msr_deltas |= MSR_TERI;
        }
    }

    /// The MSR; reading it clears the change bits.
    fn read_msr(&mut self) -> u8 {
        let msr = self.modem_lines() | self.msr_deltas;
        self.msr_deltas = 0;
        msr
    }

    /// Whether LCR.DLAB maps offsets 0 and 1 to the divisor latch.
    fn dlab(&self) -> bool {
        self.lcr & LCR_DLAB != 0
    }

    /// Refuses anything but a byte access to one of the eight registers.
    fn check_access(offset: u64, width: AccessWidth) -> Result<(), DeviceError> {
        if width != AccessWidth::Byte {
            return Err(DeviceError::BadWidth { offset, width });
        }
        if offset > SCR {
            return Err(DeviceError::NoRegister { offset });
        }
        Ok(())
    }
}

impl MmioDevice for Uart16550 {
    fn name(&self) -> &'static str {
        "uart16550"
    }

    fn read(&mut self, offset: u64, width: AccessWidth) -> Result<u64, DeviceError> {
        Self::check_access(offset, width)?;
        let value = match offset {
            RBR_THR if self.dlab() => self.dll,
            // Reading an empty receiver returns 0; the guest checks LSR.DR first.
            RBR_THR => self.rx.pop_front().unwrap_or(0),
            IER if self.dlab() => self.dlm,
            IER => self.ier,
            IIR_FCR => self.read_iir(),
            LCR => self.lcr,
            MCR => self.mcr,
            LSR => self.read_lsr(),
            MSR => self.read_msr(),
            _ => self.scr,
        };
        Ok(value.into())
    }

    fn write(&mut self, offset: u64, width: AccessWidth, value: u64) -> Result<(), DeviceError> {
        Self::check_access(offset, width)?;
        let value = value as u8;
        match offset {
            RBR_THR if self.dlab() => self.dll = value,
            RBR_THR => self.transmit(value),
            IER if self.dlab() => self.dlm = value,
            IER => self.write_ier(value),
            IIR_FCR => self.write_fcr(value),
            LCR => self.lcr = value,
            MCR => self.write_mcr(value),
            // The datasheet keeps LSR writes for factory tests and MSR is driven by the
            // modem inputs: both writes are accepted and change nothing.
            LSR | MSR => {}
            _ => self.scr = value,
        }
        Ok(())
    }
}

impl SerialPort for Uart16550 {
    /// In FIFO mode (FCR.0 set) 16 bytes can wait, otherwise one; when full the byte
    /// is an overrun (LSR.OE): lost in FIFO mode, replacing the unread one otherwise.
    fn push_input(&mut self, byte: u8) {
        self.receive(byte);
    }

    fn can_take_input(&self) -> bool {
        self.rx.len() < self.rx_capacity()
    }

    fn take_input(&mut self) -> Option<u8> {
        self.rx.pop_front()
    }

    /// IIR bit 0 is clear.
    fn interrupt_pending(&self) -> bool {
        self.interrupt_id().is_some()
    }
}
