//! Which physical CPU each vCPU runs on.

use alloc::vec::Vec;

use crate::model::BaseConfig;

/// See [`crate::VmConfig::vcpu_phys_ids`]. Lists longer than `cpu_num` are
/// cut to `cpu_num` entries.
pub(crate) fn vcpu_phys_ids(base: &BaseConfig) -> Vec<u64> {
    let count = base.cpu_num;
    if let Some(ids) = &base.phys_cpu_ids {
        return ids.iter().take(count).copied().collect();
    }
    if let Some(masks) = &base.phys_cpu_sets {
        return masks
            .iter()
            .take(count)
            .map(|mask| u64::from(mask.trailing_zeros()))
            .collect();
    }
    (0..count).map(|index| index as u64).collect()
}
