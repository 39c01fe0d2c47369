//! The hypervisor heap: a buddy allocator over a region reserved in the image's BSS.

use buddy_system_allocator::LockedHeap;

/// Heap size.
const HEAP_SIZE: usize = 16 << 20;

/// Backing store of the heap, page aligned.
#[repr(C, align(4096))]
struct HeapSpace([u8; HEAP_SIZE]);

static mut HEAP_SPACE: HeapSpace = HeapSpace([0; HEAP_SIZE]);

#[global_allocator]
static HEAP: LockedHeap<32> = LockedHeap::empty();

/// Hands the heap region to the allocator; called once on the boot CPU.
pub fn init() {
    // SAFETY: called once, on the boot CPU, before any other CPU runs or any
    // allocation happens; the region is used by nothing else.
    unsafe {
        let start = core::ptr::addr_of_mut!(HEAP_SPACE) as usize;
        HEAP.lock().init(start, HEAP_SIZE);
    }
}
