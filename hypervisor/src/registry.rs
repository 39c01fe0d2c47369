//! The VMs that exist now: those created at boot, joined by the shell's `vm create`
//! and left by `vm delete`. Each physical CPU runs from its own snapshot ([`Vms`])
//! and takes a new one when the generation changes (every change kicks every CPU);
//! a deleted VM's memory goes back when the last snapshot holding it is dropped,
//! which the VM's entry announces.

use crate::arch;
use crate::vmm::{self, VmEntry, Vms};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use spin::Mutex;

static ENTRIES: Mutex<Vec<Arc<VmEntry>>> = Mutex::new(Vec::new());
/// Configs given at boot that gave no VM (for the verdict).
static NOT_CREATED: AtomicUsize = AtomicUsize::new(0);
/// Changes with every VM added or removed.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Takes the VMs created at boot.
pub fn install(vms: Vms) {
    NOT_CREATED.store(vms.not_created, Ordering::Release);
    let mut entries = ENTRIES.lock();
    *entries = vms.entries;
    vmm::mark_lone_vcpus(&entries);
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// The VMs as they are now.
pub fn snapshot() -> Vms {
    Vms {
        entries: ENTRIES.lock().clone(),
        not_created: NOT_CREATED.load(Ordering::Acquire),
    }
}

/// Changes whenever a VM is added or removed: a CPU whose snapshot is of an older
/// generation takes a new one.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Creates a VM with `make` from the VMs that exist (under the registry's lock, so
/// no other change comes between), adds it and tells every CPU.
pub fn add(
    make: impl FnOnce(&[Arc<VmEntry>]) -> Result<VmEntry, alloc::string::String>,
) -> Result<Arc<VmEntry>, alloc::string::String> {
    let mut entries = ENTRIES.lock();
    let entry = Arc::new(make(&entries)?);
    entries.push(entry.clone());
    changed(&entries);
    Ok(entry)
}

/// Removes VM `id`; it is gone once every CPU has let go of it.
pub fn remove(id: u64) -> Option<Arc<VmEntry>> {
    let mut entries = ENTRIES.lock();
    let at = entries.iter().position(|entry| entry.vm.id == id)?;
    let entry = entries.remove(at);
    changed(&entries);
    Some(entry)
}

/// After a change: who has a CPU alone again, a new generation, every CPU told.
fn changed(entries: &[Arc<VmEntry>]) {
    vmm::mark_lone_vcpus(entries);
    GENERATION.fetch_add(1, Ordering::AcqRel);
    arch::kick(None);
}
