//! One counter of the 8254: its modes, count register, latches and gate, worked
//! out from the time of each access.

/// Counter input clock, in Hz.
pub(super) const FREQUENCY_HZ: u64 = 1_193_182;
/// Status byte bit 7: the OUT pin.
const STATUS_OUT: u8 = 1 << 7;
/// Status byte bit 6: null count, a count written but not yet loaded.
const STATUS_NULL_COUNT: u8 = 1 << 6;
/// One counter's range of counts: 0 written means 0x10000.
const COUNTS: u64 = 0x1_0000;
/// Nanoseconds per second.
const NS_PER_SECOND: u128 = 1_000_000_000;

/// Ticks of the counter clock from `from_ns` to `to_ns` (none if time went back).
fn ticks_between(from_ns: u64, to_ns: u64) -> u64 {
    let ns = u128::from(to_ns.saturating_sub(from_ns));
    (ns * u128::from(FREQUENCY_HZ) / NS_PER_SECOND) as u64
}

/// The fewest nanoseconds in which `ticks` counter clocks pass.
pub(super) fn ns_for_ticks(ticks: u64) -> u64 {
    let hz = u128::from(FREQUENCY_HZ);
    let ns = (u128::from(ticks) * NS_PER_SECOND).div_ceil(hz);
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// How the counter's port reads and writes the 16-bit count (control word RW).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Access {
    /// Least significant byte only.
    Lsb,
    /// Most significant byte only.
    Msb,
    /// Least significant byte, then most significant byte.
    Word,
}

/// A count in progress: the counter counts down from `count` from `start_ns`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Run {
    /// The initial count, 1 to 0x10000.
    pub(super) count: u64,
    /// When counting (re)started.
    pub(super) start_ns: u64,
    /// Ticks counted before `start_ns` (across a pause of the gate).
    pub(super) base_ticks: u64,
    /// The gate stopped counting.
    pub(super) paused: bool,
    /// OUT rising edges of this run already counted.
    pub(super) edges_counted: u64,
}

impl Run {
    /// A run of `count` from `now_ns`, counting unless `paused`.
    pub(super) fn new(count: u64, now_ns: u64, paused: bool) -> Self {
        Self {
            count,
            start_ns: now_ns,
            base_ticks: 0,
            paused,
            edges_counted: 0,
        }
    }

    /// Counter clocks counted up to `now_ns`.
    fn ticks(&self, now_ns: u64) -> u64 {
        if self.paused {
            self.base_ticks
        } else {
            self.base_ticks
                .saturating_add(ticks_between(self.start_ns, now_ns))
        }
    }

    /// Stops counting.
    fn pause(&mut self, now_ns: u64) {
        self.base_ticks = self.ticks(now_ns);
        self.paused = true;
    }

    /// Counts on from where the pause left off.
    fn resume(&mut self, now_ns: u64) {
        if self.paused {
            self.start_ns = now_ns;
            self.paused = false;
        }
    }
}

/// One of the three counters.
#[derive(Clone, Debug)]
pub(super) struct Channel {
    /// Bits 5:0 of the last control word (RW, mode, BCD): the status byte's.
    control: u8,
    /// The counting mode, 0 to 5.
    mode: u8,
    access: Access,
    /// The count register: the last initial count written, 1 to 0x10000 (0: none).
    count: u64,
    /// In [`Access::Word`], the next count byte written is the MSB.
    write_msb_next: bool,
    /// The LSB of a count whose MSB is still to come.
    low_byte: u8,
    /// In [`Access::Word`], the next count byte read is the MSB.
    read_msb_next: bool,
    /// A latched count, held until read.
    latched: Option<u16>,
    /// A latched status byte, read before anything else.
    status: Option<u8>,
    /// A count written and not yet loaded.
    null_count: bool,
    /// Modes 1 and 5: a count waits for a rising gate edge.
    armed: bool,
    pub(super) run: Option<Run>,
    pub(super) gate: bool,
    /// OUT rising edges not yet reported by [`Pit8254::tick`].
    pub(super) pending_edges: u64,
}

impl Channel {
    /// A counter at power-on (which the datasheet leaves undefined): mode 3, LSB
    /// then MSB, no count, OUT high, gate high.
    pub(super) fn new() -> Self {
        Self {
            control: 0x36,
            mode: 3,
            access: Access::Word,
            count: 0,
            write_msb_next: false,
            low_byte: 0,
            read_msb_next: false,
            latched: None,
            status: None,
            null_count: true,
            armed: false,
            run: None,
            gate: true,
            pending_edges: 0,
        }
    }

    /// The count a run uses: modes 2 and 3 need at least 2.
    fn effective_count(&self) -> u64 {
        match self.mode {
            2 | 3 => self.count.max(2),
            _ => self.count.max(1),
        }
    }

    /// Whether the gate being low stops counting (modes 0, 2, 3, 4).
    fn gate_stops_counting(&self) -> bool {
        matches!(self.mode, 0 | 2 | 3 | 4)
    }

    /// The OUT pin at `now_ns`.
    pub(super) fn out(&self, now_ns: u64) -> bool {
        let Some(run) = &self.run else {
            // Waiting for a count (or a trigger): low in mode 0, high otherwise.
            return self.mode != 0;
        };
        let t = run.ticks(now_ns);
        let n = run.count;
        match self.mode {
            0 | 1 => t >= n,
            2 => !self.gate || t % n != n - 1,
            3 => !self.gate || t % n < n.div_ceil(2),
            _ => t != n,
        }
    }

    /// OUT rising edges of the current run up to `now_ns`.
    pub(super) fn edges(&self, run: &Run, now_ns: u64) -> u64 {
        let t = run.ticks(now_ns);
        match self.mode {
            0 | 1 => u64::from(t >= run.count),
            2 | 3 => t / run.count,
            _ => u64::from(t > run.count),
        }
    }

    /// Adds the run's rising edges up to `now_ns` to the pending ones.
    pub(super) fn catch_up(&mut self, now_ns: u64) {
        let Some(run) = self.run else { return };
        let edges = self.edges(&run, now_ns);
        if edges > run.edges_counted {
            self.pending_edges = self.pending_edges.saturating_add(edges - run.edges_counted);
            if let Some(run) = &mut self.run {
                run.edges_counted = edges;
            }
        }
    }

    /// The counting element at `now_ns`, as a read would see it.
    fn value(&self, now_ns: u64) -> u16 {
        let Some(run) = &self.run else {
            return self.count as u16;
        };
        let t = run.ticks(now_ns);
        let n = run.count;
        let value = match self.mode {
            2 => n - t % n,
            3 => {
                let high = n.div_ceil(2);
                let phase = t % n;
                let step = if phase < high { phase } else { phase - high };
                (n & !1).saturating_sub(2 * step)
            }
            // Modes 0, 1, 4, 5 count on through 0 to 0xFFFF.
            _ => (n + COUNTS - t % COUNTS) % COUNTS,
        };
        value as u16
    }

    /// The next OUT rising edge after `now_ns` and after the edges already
    /// counted (time may have gone back), in counter clocks of the run.
    pub(super) fn next_edge_tick(&self, now_ns: u64) -> Option<u64> {
        let run = self.run.as_ref().filter(|run| !run.paused)?;
        let n = run.count;
        let counted = run.edges_counted;
        let last_counted_tick = match self.mode {
            2 | 3 => counted.saturating_mul(n),
            _ if counted == 0 => 0,
            0 | 1 => n,
            _ => n + 1,
        };
        let t = run.ticks(now_ns).max(last_counted_tick);
        match self.mode {
            0 | 1 => (t < n).then_some(n),
            2 | 3 => Some((t / n + 1) * n),
            _ => (t <= n).then_some(n + 1),
        }
    }

    /// Starts a state change at `now_ns`: settles the edges so far and returns OUT.
    fn begin(&mut self, now_ns: u64) -> bool {
        self.catch_up(now_ns);
        self.out(now_ns)
    }

    /// Ends a state change: a change that raised OUT is a rising edge too.
    fn end(&mut self, now_ns: u64, out_before: bool) {
        if !out_before && self.out(now_ns) {
            self.pending_edges = self.pending_edges.saturating_add(1);
        }
    }

    /// A control word selecting this counter (RW not 00): new mode and access, and
    /// the counter waits for a count with OUT at the mode's initial level.
    pub(super) fn program(&mut self, value: u8, now_ns: u64) {
        let before = self.begin(now_ns);
        let mode = (value >> 1) & 7;
        self.control = value & 0x3f;
        self.mode = if mode >= 6 { mode - 4 } else { mode };
        self.access = match (value >> 4) & 3 {
            1 => Access::Lsb,
            2 => Access::Msb,
            _ => Access::Word,
        };
        self.write_msb_next = false;
        self.read_msb_next = false;
        self.latched = None;
        self.status = None;
        self.null_count = true;
        self.armed = false;
        self.run = None;
        self.end(now_ns, before);
    }

    /// A byte written to the counter's port.
    pub(super) fn write_count_byte(&mut self, byte: u8, now_ns: u64) {
        self.null_count = true;
        let count = match self.access {
            Access::Lsb => u64::from(byte),
            Access::Msb => u64::from(byte) << 8,
            Access::Word if !self.write_msb_next => {
                self.low_byte = byte;
                self.write_msb_next = true;
                if self.mode == 0 {
                    // Mode 0: the first byte stops counting and drops OUT.
                    self.catch_up(now_ns);
                    self.run = None;
                }
                return;
            }
            Access::Word => {
                self.write_msb_next = false;
                u64::from(self.low_byte) | u64::from(byte) << 8
            }
        };
        self.load(if count == 0 { COUNTS } else { count }, now_ns);
    }

    /// A complete count written: counting starts, or waits for the gate in modes 1
    /// and 5.
    fn load(&mut self, count: u64, now_ns: u64) {
        let before = self.begin(now_ns);
        self.count = count;
        if matches!(self.mode, 1 | 5) {
            self.armed = true;
        } else {
            let paused = !self.gate;
            self.run = Some(Run::new(self.effective_count(), now_ns, paused));
            self.null_count = false;
        }
        self.end(now_ns, before);
    }

    /// The gate input changes to `high`.
    pub(super) fn set_gate(&mut self, high: bool, now_ns: u64) {
        if high == self.gate {
            return;
        }
        let before = self.begin(now_ns);
        self.gate = high;
        let counting = self.run.is_some() || self.armed;
        match (self.mode, high) {
            // A rising gate triggers modes 1 and 5 and reloads modes 2 and 3.
            (1 | 2 | 3 | 5, true) if counting => {
                self.run = Some(Run::new(self.effective_count(), now_ns, false));
                self.null_count = false;
            }
            (0 | 4, true) => {
                if let Some(run) = &mut self.run {
                    run.resume(now_ns);
                }
            }
            (_, false) if self.gate_stops_counting() => {
                if let Some(run) = &mut self.run {
                    run.pause(now_ns);
                }
            }
            _ => {}
        }
        self.end(now_ns, before);
    }

    /// Latches the count, unless one is latched and unread.
    pub(super) fn latch_count(&mut self, now_ns: u64) {
        if self.latched.is_none() {
            self.latched = Some(self.value(now_ns));
        }
    }

    /// Latches the status byte, unless one is latched and unread.
    pub(super) fn latch_status(&mut self, now_ns: u64) {
        if self.status.is_none() {
            let out = if self.out(now_ns) { STATUS_OUT } else { 0 };
            let null = if self.null_count {
                STATUS_NULL_COUNT
            } else {
                0
            };
            self.status = Some(out | null | self.control);
        }
    }

    /// A byte read from the counter's port: a latched status, then a latched count
    /// (released once read), else the live count.
    pub(super) fn read_byte(&mut self, now_ns: u64) -> u8 {
        if let Some(status) = self.status.take() {
            return status;
        }
        let value = self.latched.unwrap_or_else(|| self.value(now_ns));
        let msb = match self.access {
            Access::Lsb => false,
            Access::Msb => true,
            Access::Word => {
                self.read_msb_next = !self.read_msb_next;
                !self.read_msb_next
            }
        };
        if msb || self.access == Access::Lsb {
            self.latched = None;
        }
        if msb { (value >> 8) as u8 } else { value as u8 }
    }
}
