//! Physical frame allocator: every 4 KiB frame of RAM above the hypervisor image,
//! handed out in power-of-two blocks aligned to their size (guest memory, stage-2
//! tables). Physical addresses are identity-mapped, so a frame is usable at its address.

use buddy_system_allocator::FrameAllocator;
use core::sync::atomic::{AtomicUsize, Ordering};
use spin::Mutex;
use tessera_addr::{AlignedBlocks, HostPhysAddr};

/// Frame size.
pub const FRAME_SIZE: u64 = 4096;

static FRAMES: Mutex<FrameAllocator<32>> = Mutex::new(FrameAllocator::new());

/// Frames given to the allocator, and frames handed out (as the buddy allocator
/// hands them: a request for `n` takes `n.next_power_of_two()`).
static TOTAL: AtomicUsize = AtomicUsize::new(0);
static TAKEN: AtomicUsize = AtomicUsize::new(0);

/// Bytes of RAM the allocator could still hand out.
pub fn free_bytes() -> u64 {
    let free = TOTAL
        .load(Ordering::Acquire)
        .saturating_sub(TAKEN.load(Ordering::Acquire));
    free as u64 * FRAME_SIZE
}

/// Gives the allocator all RAM between the end of the image and the end of RAM.
pub fn init() {
    let start = crate::hal::image_end().div_ceil(FRAME_SIZE);
    let end = (crate::platform::RAM_BASE + crate::platform::RAM_SIZE) / FRAME_SIZE;
    FRAMES.lock().add_frame(start as usize, end as usize);
    TOTAL.store(end.saturating_sub(start) as usize, Ordering::Release);
    log::debug!(
        "frames: {:#x}..{:#x} free",
        start * FRAME_SIZE,
        end * FRAME_SIZE
    );
}

/// Allocates `count` contiguous frames aligned to `count.next_power_of_two()` frames,
/// zero-filled. `None` when memory is exhausted.
pub fn alloc_zeroed(count: usize) -> Option<HostPhysAddr> {
    let first = FRAMES.lock().alloc(count)?;
    TAKEN.fetch_add(count.next_power_of_two(), Ordering::AcqRel);
    let base = first as u64 * FRAME_SIZE;
    // SAFETY: the frames were just allocated to us, lie in identity-mapped RAM, and
    // nothing else refers to them.
    unsafe { core::ptr::write_bytes(base as *mut u8, 0, count * FRAME_SIZE as usize) };
    Some(HostPhysAddr::new(base))
}

/// Takes the `count` frames from `base` (a frame address) out of the free frames,
/// zero-filled, for memory that must sit at a fixed host address (a VM's
/// identity-mapped RAM). `false`, with nothing taken, when any of them is not free:
/// outside RAM, the hypervisor's own, or already given out.
pub fn claim_zeroed(base: HostPhysAddr, count: usize) -> bool {
    let first = base.raw() / FRAME_SIZE;
    let mut frames = FRAMES.lock();
    let blocks = AlignedBlocks::new(first, count as u64);
    let claimed = blocks
        .clone()
        .take_while(|&(start, size)| frames.alloc_at(start as usize, size as usize).is_some())
        .count();
    if claimed < blocks.clone().count() {
        for (start, size) in blocks.take(claimed) {
            frames.dealloc(start as usize, size as usize);
        }
        return false;
    }
    drop(frames);
    TAKEN.fetch_add(count, Ordering::AcqRel);
    // SAFETY: the frames were just taken for us, lie in identity-mapped RAM, and
    // nothing else refers to them.
    unsafe { core::ptr::write_bytes(base.raw() as *mut u8, 0, count * FRAME_SIZE as usize) };
    true
}

/// Gives back frames taken by [`claim_zeroed`] with the same `base` and `count`.
pub fn unclaim(base: HostPhysAddr, count: usize) {
    let mut frames = FRAMES.lock();
    for (start, size) in AlignedBlocks::new(base.raw() / FRAME_SIZE, count as u64) {
        frames.dealloc(start as usize, size as usize);
    }
    TAKEN.fetch_sub(count, Ordering::AcqRel);
}

/// Returns frames obtained from [`alloc_zeroed`] with the same `count`.
pub fn free(base: HostPhysAddr, count: usize) {
    FRAMES
        .lock()
        .dealloc((base.raw() / FRAME_SIZE) as usize, count);
    TAKEN.fetch_sub(count.next_power_of_two(), Ordering::AcqRel);
}
