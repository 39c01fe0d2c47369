//! A test frame allocator backed by heap frames behind made-up physical addresses.

use std::cell::UnsafeCell;
use std::collections::HashMap;

use tessera_addr::HostPhysAddr;

use crate::{Descriptor, FRAME_SIZE, FrameAllocator, PageTableFormat};

/// Frames live on the heap; their "physical" addresses start at 0x1000_0000.
pub struct FakeAllocator {
    frames: HashMap<u64, Box<UnsafeCell<[u64; 512]>>>,
    allocations: HashMap<u64, usize>,
    next: u64,
    /// Frames that may still be handed out.
    pub budget: usize,
    /// Frames handed out in total.
    pub allocated_total: usize,
}

impl FakeAllocator {
    pub fn new() -> Self {
        Self::with_budget(usize::MAX)
    }

    pub fn with_budget(budget: usize) -> Self {
        Self {
            frames: HashMap::new(),
            allocations: HashMap::new(),
            next: 0x1000_0000,
            budget,
            allocated_total: 0,
        }
    }

    /// Frames currently allocated.
    pub fn live(&self) -> usize {
        self.frames.len()
    }

    /// Reads entry `index` of the frame at `frame`.
    pub fn entry(&self, frame: u64, index: usize) -> u64 {
        let cell = self
            .frames
            .get(&(frame & !(FRAME_SIZE - 1)))
            .expect("no such frame");
        // SAFETY: test-only, single-threaded; no table method runs concurrently.
        unsafe { (*cell.get())[index] }
    }
}

// SAFETY: `frame_ptr` returns a pointer into a live heap array of 512 u64s for every
// frame handed out and not freed, null otherwise.
unsafe impl FrameAllocator for FakeAllocator {
    fn alloc_zeroed(&mut self, frames: usize) -> Option<HostPhysAddr> {
        if frames == 0 || frames > self.budget {
            return None;
        }
        let align = FRAME_SIZE * frames as u64;
        let base = self.next.next_multiple_of(align);
        self.next = base + align;
        for i in 0..frames as u64 {
            let cell = Box::new(UnsafeCell::new([0u64; 512]));
            self.frames.insert(base + i * FRAME_SIZE, cell);
        }
        self.allocations.insert(base, frames);
        self.budget -= frames;
        self.allocated_total += frames;
        Some(HostPhysAddr::new(base))
    }

    fn free(&mut self, base: HostPhysAddr, frames: usize) {
        let recorded = self.allocations.remove(&base.raw());
        assert_eq!(
            recorded,
            Some(frames),
            "free of {base:?} does not match an allocation"
        );
        for i in 0..frames as u64 {
            self.frames.remove(&(base.raw() + i * FRAME_SIZE));
        }
        self.budget = self.budget.saturating_add(frames);
    }

    fn frame_ptr(&self, frame: HostPhysAddr) -> *mut u64 {
        self.frames
            .get(&frame.raw())
            .map_or(core::ptr::null_mut(), |cell| cell.get().cast::<u64>())
    }
}

/// Leaves found at each depth, walking every table from the root.
pub fn leaves_by_depth<F: PageTableFormat>(
    alloc: &FakeAllocator,
    root: HostPhysAddr,
) -> Vec<usize> {
    fn walk<F: PageTableFormat>(a: &FakeAllocator, table: u64, depth: usize, out: &mut Vec<usize>) {
        for index in 0..1usize << F::index_bits(depth) {
            let frame = table + (index / 512) as u64 * 0x1000;
            match F::decode(a.entry(frame, index % 512), depth) {
                Descriptor::Invalid => {}
                Descriptor::Leaf { .. } => out[depth] += 1,
                Descriptor::Table(next) => walk::<F>(a, next.raw(), depth + 1, out),
            }
        }
    }
    let mut out = vec![0; F::LEVELS];
    walk::<F>(alloc, root.raw(), 0, &mut out);
    out
}
