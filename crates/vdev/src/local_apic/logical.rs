//! Logical destinations (Intel SDM vol. 3A section 11.6.2.2): the logical ID an
//! APIC answers to, kept apart from the APIC so that IPI routing can match against
//! it.

/// How an APIC matches logical destinations.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum LogicalModel {
    /// No APIC (disabled): nothing matches.
    None,
    /// xAPIC flat model: 8 member bits.
    Flat,
    /// xAPIC cluster model: a cluster nibble and 4 member bits.
    Cluster,
    /// x2APIC: a 16-bit cluster and 16 member bits.
    X2Apic,
}

/// The logical destinations an APIC answers to (its logical ID and model), as a
/// value that whatever routes IPIs can keep beside the APIC and match against
/// without it ([`LogicalId::to_bits`] fits an atomic word).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LogicalId {
    model: LogicalModel,
    /// The logical ID: the xAPIC LDR's bits 31:24, or the whole x2APIC LDR.
    id: u32,
}

impl LogicalId {
    /// The logical ID of a disabled APIC: no logical destination names it.
    pub const NONE: Self = Self {
        model: LogicalModel::None,
        id: 0,
    };

    pub(super) fn new(model: LogicalModel, id: u32) -> Self {
        Self { model, id }
    }

    /// This ID as one word (the model in bits 1:0, the ID in bits 63:32).
    pub fn to_bits(self) -> u64 {
        let model = match self.model {
            LogicalModel::None => 0,
            LogicalModel::Flat => 1,
            LogicalModel::Cluster => 2,
            LogicalModel::X2Apic => 3,
        };
        model | (u64::from(self.id) << 32)
    }

    /// The ID [`LogicalId::to_bits`] gave `bits`.
    pub fn from_bits(bits: u64) -> Self {
        let model = match bits & 0b11 {
            1 => LogicalModel::Flat,
            2 => LogicalModel::Cluster,
            3 => LogicalModel::X2Apic,
            _ => LogicalModel::None,
        };
        Self::new(model, (bits >> 32) as u32)
    }

    /// Whether logical destination `destination` names this APIC. x2APIC: the
    /// cluster (bits 31:16) is the LDR's and the member bits (15:0) meet the
    /// LDR's. xAPIC, flat model (DFR bits 31:28 = 0xF): bits 7:0 meet the logical
    /// ID; any other DFR model is the cluster model: the high nibbles are equal
    /// and the low nibbles meet. All ones (0xFF, 0xFFFF_FFFF) is a broadcast.
    pub fn matches(self, destination: u32) -> bool {
        let ldr = self.id;
        match self.model {
            LogicalModel::None => false,
            LogicalModel::X2Apic => {
                destination == u32::MAX
                    || (destination >> 16 == ldr >> 16 && destination & ldr & 0xffff != 0)
            }
            LogicalModel::Flat | LogicalModel::Cluster => {
                let destination = destination as u8;
                let logical_id = ldr as u8;
                if destination == u8::MAX {
                    true
                } else if self.model == LogicalModel::Flat {
                    destination & logical_id != 0
                } else {
                    destination >> 4 == logical_id >> 4 && destination & logical_id & 0xf != 0
                }
            }
        }
    }
}
