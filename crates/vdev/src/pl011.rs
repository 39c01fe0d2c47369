//! An Arm PrimeCell UART (PL011) revision r1p5, as a guest's driver sees it.
//!
//! Register offsets, bits and reset values follow the PL011 Technical Reference
//! Manual (ARM DDI 0183G). Transmission is instant: a byte written to UARTDR goes
//! straight to the [`CharSink`], so the transmit FIFO is always empty and the UART
//! never busy. Bytes go out whether or not the guest has enabled the UART, so that
//! programs that skip the enable sequence still print. Baud rate, line control and
//! DMA registers are stored and read back but change nothing.

use alloc::boxed::Box;
use alloc::collections::VecDeque;

use crate::{AccessWidth, CharSink, DeviceError, MmioDevice, SerialPort};

#[cfg(test)]
mod tests;

/// UARTDR: data register.
const DR: u64 = 0x000;
/// UARTRSR (read) / UARTECR (write): receive status, error clear.
const RSR_ECR: u64 = 0x004;
/// UARTFR: flag register (read-only).
const FR: u64 = 0x018;
/// UARTILPR: IrDA low-power counter.
const ILPR: u64 = 0x020;
/// UARTIBRD: integer baud rate divisor.
const IBRD: u64 = 0x024;
/// UARTFBRD: fractional baud rate divisor.
const FBRD: u64 = 0x028;
/// UARTLCR_H: line control.
const LCR_H: u64 = 0x02c;
/// UARTCR: control.
const CR: u64 = 0x030;
/// UARTIFLS: interrupt FIFO level select.
const IFLS: u64 = 0x034;
/// UARTIMSC: interrupt mask set/clear.
const IMSC: u64 = 0x038;
/// UARTRIS: raw interrupt status (read-only).
const RIS: u64 = 0x03c;
/// UARTMIS: masked interrupt status (read-only).
const MIS: u64 = 0x040;
/// UARTICR: interrupt clear (write-only).
const ICR: u64 = 0x044;
/// UARTDMACR: DMA control.
const DMACR: u64 = 0x048;

/// UARTPeriphID0-3 and UARTPCellID0-3 at 0xFE0-0xFFC: part 0x011, designer 0x41
/// (Arm), revision 3 (r1p5), then the PrimeCell signature 0xB105F00D.
const ID_REGISTERS: [(u64, u64); 8] = [
    (0xfe0, 0x11),
    (0xfe4, 0x10),
    (0xfe8, 0x34),
    (0xfec, 0x00),
    (0xff0, 0x0d),
    (0xff4, 0xf0),
    (0xff8, 0x05),
    (0xffc, 0xb1),
];

/// UARTFR.RXFE (bit 4): receive FIFO empty.
const FR_RXFE: u64 = 1 << 4;
/// UARTFR.RXFF (bit 6): receive FIFO full.
const FR_RXFF: u64 = 1 << 6;
/// UARTFR.TXFE (bit 7): transmit FIFO empty.
const FR_TXFE: u64 = 1 << 7;

/// UARTRSR.OE (bit 3): overrun error.
const RSR_OE: u64 = 1 << 3;

/// UARTLCR_H.FEN (bit 4): FIFOs enabled; otherwise 1-byte holding registers.
const LCR_H_FEN: u16 = 1 << 4;
/// UARTCR.LBE (bit 7): loopback, transmitted bytes are received.
const CR_LBE: u16 = 1 << 7;
/// UARTCR reset value: TXE (bit 8) and RXE (bit 9) set, UART disabled.
const CR_RESET: u16 = 0x0300;
/// UARTIFLS reset value: both trigger levels at half full.
const IFLS_RESET: u16 = 0x12;

/// Interrupt bit (RIS/MIS/IMSC/ICR) RXRIS, bit 4: receive FIFO at or above its trigger level.
const INT_RX: u16 = 1 << 4;
/// Interrupt bit TXRIS, bit 5: transmit FIFO at or below its trigger level.
const INT_TX: u16 = 1 << 5;
/// Interrupt bit RTRIS, bit 6: receive timeout.
const INT_RT: u16 = 1 << 6;
/// Interrupt bit OERIS, bit 10: overrun.
const INT_OE: u16 = 1 << 10;
/// All 11 interrupt bits.
const INT_ALL: u16 = 0x7ff;

/// Depth of the receive FIFO when FIFOs are enabled (32 in r1p5).
const FIFO_DEPTH: usize = 32;

/// The PL011 model: registers, a receive FIFO and the sink for transmitted bytes.
pub struct Pl011 {
    sink: Box<dyn CharSink>,
    rx: VecDeque<u8>,
    ilpr: u16,
    ibrd: u16,
    fbrd: u16,
    lcr_h: u16,
    cr: u16,
    ifls: u16,
    imsc: u16,
    dmacr: u16,
    /// TXRIS: set by each transmitted byte, cleared through UARTICR.
    tx_pending: bool,
    /// OERIS: set when a received byte was dropped, cleared through UARTICR.
    overrun_pending: bool,
    /// UARTRSR.OE: set with OERIS, cleared by a write to UARTECR.
    overrun_error: bool,
}

impl Pl011 {
    /// Size of the register window (one 4 KiB page).
    pub const SIZE: u64 = 0x1000;

    /// A UART in its reset state sending its output to `sink`.
    pub fn new(sink: Box<dyn CharSink>) -> Self {
        Self {
            sink,
            rx: VecDeque::with_capacity(FIFO_DEPTH),
            ilpr: 0,
            ibrd: 0,
            fbrd: 0,
            lcr_h: 0,
            cr: CR_RESET,
            ifls: IFLS_RESET,
            imsc: 0,
            dmacr: 0,
            tx_pending: false,
            overrun_pending: false,
            overrun_error: false,
        }
    }

    /// A byte typed on the console: queued for the guest, dropped (an overrun) when full.
    ///
    /// With FIFOs disabled (UARTLCR_H.FEN clear) only one byte can wait.
    fn queue_input(&mut self, byte: u8) {
        if self.rx.len() >= self.rx_capacity() {
            self.overrun_pending = true;
            self.overrun_error = true;
            return;
        }
        self.rx.push_back(byte);
    }

    /// Bytes the receive FIFO holds at most with the current UARTLCR_H.
    fn rx_capacity(&self) -> usize {
        if self.lcr_h & LCR_H_FEN != 0 {
            FIFO_DEPTH
        } else {
            1
        }
    }

    /// Fill level at which RXRIS rises, from UARTIFLS.RXIFLSEL (bits 5:3).
    fn rx_trigger(&self) -> usize {
        if self.lcr_h & LCR_H_FEN == 0 {
            return 1;
        }
        match (self.ifls >> 3) & 0b111 {
            0b000 => FIFO_DEPTH / 8,
            0b001 => FIFO_DEPTH / 4,
            0b011 => FIFO_DEPTH * 3 / 4,
            0b100 => FIFO_DEPTH * 7 / 8,
            // 0b010 is half full; the reserved encodings are treated alike.
            _ => FIFO_DEPTH / 2,
        }
    }

    /// UARTRIS. The receive timeout is taken to have expired as soon as data waits.
    fn raw_status(&self) -> u16 {
        let mut status = 0;
        if self.rx.len() >= self.rx_trigger() {
            status |= INT_RX;
        }
        if !self.rx.is_empty() {
            status |= INT_RT;
        }
        if self.tx_pending {
            status |= INT_TX;
        }
        if self.overrun_pending {
            status |= INT_OE;
        }
        status
    }

    /// UARTMIS: UARTRIS masked by UARTIMSC.
    fn masked_status(&self) -> u16 {
        self.raw_status() & self.imsc
    }

    /// UARTFR.
    fn flags(&self) -> u64 {
        let mut flags = FR_TXFE;
        if self.rx.is_empty() {
            flags |= FR_RXFE;
        }
        if self.rx.len() >= self.rx_capacity() {
            flags |= FR_RXFF;
        }
        flags
    }

    /// A write to UARTDR: send the byte (or loop it back) and raise TXRIS.
    fn transmit(&mut self, byte: u8) {
        if self.cr & CR_LBE != 0 {
            self.queue_input(byte);
        } else {
            self.sink.write_bytes(&[byte]);
        }
        self.tx_pending = true;
    }

    /// A write to UARTICR: clears the latched interrupts whose bits are set.
    fn clear_interrupts(&mut self, bits: u16) {
        if bits & INT_TX != 0 {
            self.tx_pending = false;
        }
        if bits & INT_OE != 0 {
            self.overrun_pending = false;
        }
    }

    /// Refuses 64-bit and misaligned accesses.
    fn check_access(offset: u64, width: AccessWidth) -> Result<(), DeviceError> {
        if width == AccessWidth::Double {
            return Err(DeviceError::BadWidth { offset, width });
        }
        if !offset.is_multiple_of(4) {
            return Err(DeviceError::Unaligned { offset, width });
        }
        Ok(())
    }

    /// The value of an ID register, if `offset` names one.
    fn id_register(offset: u64) -> Option<u64> {
        ID_REGISTERS
            .iter()
            .find(|(at, _)| *at == offset)
            .map(|(_, value)| *value)
    }
}

impl MmioDevice for Pl011 {
    fn name(&self) -> &'static str {
        "pl011"
    }

    fn read(&mut self, offset: u64, width: AccessWidth) -> Result<u64, DeviceError> {
        Self::check_access(offset, width)?;
        let value = match offset {
            // Reading an empty FIFO returns 0; the guest checks UARTFR.RXFE first.
            DR => self.rx.pop_front().map_or(0, u64::from),
            RSR_ECR => {
                if self.overrun_error {
                    RSR_OE
                } else {
                    0
                }
            }
            FR => self.flags(),
            ILPR => self.ilpr.into(),
            IBRD => self.ibrd.into(),
            FBRD => self.fbrd.into(),
            LCR_H => self.lcr_h.into(),
            CR => self.cr.into(),
            IFLS => self.ifls.into(),
            IMSC => self.imsc.into(),
            RIS => self.raw_status().into(),
            MIS => self.masked_status().into(),
            ICR => return Err(DeviceError::WriteOnly { offset }),
            DMACR => self.dmacr.into(),
            _ => Self::id_register(offset).ok_or(DeviceError::NoRegister { offset })?,
        };
        Ok(value & width.mask())
    }

    fn write(&mut self, offset: u64, width: AccessWidth, value: u64) -> Result<(), DeviceError> {
        Self::check_access(offset, width)?;
        // Registers are at most 16 bits wide; narrower writes replace the whole register.
        let value = (value & width.mask()) as u16;
        match offset {
            DR => self.transmit(value as u8),
            // Any write to UARTECR clears the error flags.
            RSR_ECR => self.overrun_error = false,
            FR | RIS | MIS => return Err(DeviceError::ReadOnly { offset }),
            ILPR => self.ilpr = value & 0xff,
            IBRD => self.ibrd = value,
            FBRD => self.fbrd = value & 0x3f,
            LCR_H => self.lcr_h = value & 0xff,
            CR => self.cr = value & 0xff87,
            IFLS => self.ifls = value & 0x3f,
            IMSC => self.imsc = value & INT_ALL,
            ICR => self.clear_interrupts(value),
            DMACR => self.dmacr = value & 0x7,
            _ if Self::id_register(offset).is_some() => {
                return Err(DeviceError::ReadOnly { offset });
            }
            _ => return Err(DeviceError::NoRegister { offset }),
        }
        Ok(())
    }
}

impl SerialPort for Pl011 {
    /// With FIFOs disabled (UARTLCR_H.FEN clear) only one byte can wait.
    fn push_input(&mut self, byte: u8) {
        self.queue_input(byte);
    }

    fn can_take_input(&self) -> bool {
        self.rx.len() < self.rx_capacity()
    }

    fn take_input(&mut self) -> Option<u8> {
        self.rx.pop_front()
    }

    /// UARTMIS is not zero.
    fn interrupt_pending(&self) -> bool {
        self.masked_status() != 0
    }
}
