//! Interrupts between the local APICs of one VM's vCPUs. Each vCPU's APIC lives in
//! its vCPU, which only the physical CPU running it touches, so an IPI is posted to
//! the target's mailbox (a 256-bit set of vectors and an NMI flag, atomics) when it
//! is sent, and the target's CPU moves it into the APIC before the vCPU's next
//! entry ([`Mailbox::drain`]). Logical destinations are matched against each vCPU's
//! logical ID as its vCPU published it at its last entry ([`Mailbox::publish`]).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tessera_vcpu_x86::X86Vcpu;
use tessera_vdev::{Delivery, DeliveryMode, Destination, IcrMode, Ipi, LogicalId};

/// What other vCPUs sent one vCPU, not yet in its APIC.
pub struct Mailbox {
    /// Fixed interrupts by vector: bit n of word n / 64.
    vectors: [AtomicU64; 4],
    /// An NMI.
    nmi: AtomicBool,
    /// The vCPU's logical ID ([`LogicalId::to_bits`]).
    logical: AtomicU64,
}

impl Mailbox {
    /// An empty mailbox of a vCPU whose APIC answers no logical destination yet.
    pub fn new() -> Self {
        Self {
            vectors: [const { AtomicU64::new(0) }; 4],
            nmi: AtomicBool::new(false),
            logical: AtomicU64::new(LogicalId::NONE.to_bits()),
        }
    }

    /// Forgets everything posted (VM reset).
    pub fn clear(&self) {
        for word in &self.vectors {
            word.store(0, Ordering::Release);
        }
        self.nmi.store(false, Ordering::Release);
        self.logical
            .store(LogicalId::NONE.to_bits(), Ordering::Release);
    }

    /// Posts fixed interrupt `vector`.
    fn post(&self, vector: u8) {
        if let Some(word) = self.vectors.get(usize::from(vector / 64)) {
            word.fetch_or(1 << (vector % 64), Ordering::AcqRel);
        }
    }

    /// Whether something waits here.
    pub fn is_empty(&self) -> bool {
        !self.nmi.load(Ordering::Acquire)
            && self
                .vectors
                .iter()
                .all(|word| word.load(Ordering::Acquire) == 0)
    }

    /// Moves what waits into `vcpu`'s APIC, and publishes its logical ID.
    pub fn drain(&self, vcpu: &mut X86Vcpu) {
        self.publish(vcpu.logical_id());
        if self.nmi.swap(false, Ordering::AcqRel) {
            vcpu.accept_nmi();
        }
        for (index, word) in self.vectors.iter().enumerate() {
            let mut bits = word.swap(0, Ordering::AcqRel);
            while bits != 0 {
                let bit = bits.trailing_zeros();
                bits &= bits - 1;
                vcpu.accept_interrupt((index as u32 * 64 + bit) as u8);
            }
        }
    }

    /// Keeps `id` as the vCPU's logical ID for IPIs routed while it runs.
    fn publish(&self, id: LogicalId) {
        self.logical.store(id.to_bits(), Ordering::Release);
    }

    /// The vCPU's logical ID as last published.
    fn logical_id(&self) -> LogicalId {
        LogicalId::from_bits(self.logical.load(Ordering::Acquire))
    }
}

/// Posts the IPI of word `word` ([`Ipi::to_word`]) that vCPU `sender` sent to the
/// targets among `mailboxes` (one per vCPU, APIC id = index); returns them as a bit
/// mask. Fixed and lowest-priority IPIs post their vector, NMIs the NMI. A STARTUP
/// to one APIC id never comes here (its vCPU turns it into a CPU_ON); INIT, and a
/// STARTUP by shorthand or logical destination, are not offered, and SMIs and
/// reserved modes have nothing to reach: they are logged and dropped.
pub fn send(mailboxes: &[Mailbox], sender: usize, word: u64) -> u64 {
    let Some(ipi) = Ipi::from_word(word) else {
        return 0;
    };
    let targets = ipi.targets(sender, mailboxes.len(), |n| {
        mailboxes
            .get(n)
            .map_or(LogicalId::NONE, Mailbox::logical_id)
    });
    let mut reached = 0;
    for (index, mailbox) in mailboxes.iter().enumerate() {
        if targets & (1 << index) == 0 {
            continue;
        }
        match ipi.mode {
            IcrMode::Fixed | IcrMode::LowestPriority => mailbox.post(ipi.vector),
            IcrMode::Nmi => mailbox.nmi.store(true, Ordering::Release),
            IcrMode::InitDeassert => continue,
            IcrMode::Init | IcrMode::Startup | IcrMode::Smi | IcrMode::Reserved(_) => {
                log::debug!(
                    "vCPU {sender}: {:?} IPI to vCPU {index} dropped (not offered)",
                    ipi.mode
                );
                continue;
            }
        }
        reached |= 1 << index;
    }
    reached
}

/// Posts the I/O APIC's interrupt message `message` to its targets among
/// `mailboxes` (physical: the vCPU of that APIC id; logical: those whose logical ID
/// matches); returns them as a bit mask. An ExtINT message (the vector would come
/// from the PICs, which reach vCPU 0 on LINT0 instead) is dropped.
pub fn send_message(mailboxes: &[Mailbox], message: &Delivery) -> u64 {
    let mode = match message.mode {
        DeliveryMode::Fixed => IcrMode::Fixed,
        DeliveryMode::LowestPriority => IcrMode::LowestPriority,
        DeliveryMode::Smi => IcrMode::Smi,
        DeliveryMode::Nmi => IcrMode::Nmi,
        DeliveryMode::Init => IcrMode::Init,
        DeliveryMode::ExtInt | DeliveryMode::Reserved(_) => {
            log::debug!(
                "I/O APIC pin {}: {:?} message dropped",
                message.pin,
                message.mode
            );
            return 0;
        }
    };
    let destination = u32::from(message.destination);
    let ipi = Ipi {
        vector: message.vector,
        mode,
        destination: if message.logical {
            Destination::Logical(destination)
        } else {
            Destination::Physical(destination)
        },
    };
    send(mailboxes, 0, ipi.to_word())
}
