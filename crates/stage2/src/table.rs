//! The generic stage-2 table walker: map, unmap, translate and destroy.

use core::marker::PhantomData;

use tessera_addr::{GuestPhysAddr, HostPhysAddr};

use crate::format::{ENTRIES_PER_FRAME, Geometry};
use crate::{Descriptor, FRAME_SIZE, FrameAllocator, MappingFlags, PageTableFormat, Stage2Error};

/// The stage-2 translation tables of one VM, in format `F`.
///
/// The table owns its frames but not the allocator: every method takes the
/// allocator the table was created with. Dropping the table without calling
/// [`destroy`](Self::destroy) leaks its frames.
///
/// Nothing here maintains TLBs. After [`unmap`](Self::unmap) the caller must
/// invalidate the VM's stage-2 TLB entries before the guest runs again; after
/// [`map`](Self::map) a barrier (DSB) suffices, as only invalid entries change.
pub struct Stage2Table<F: PageTableFormat> {
    root: HostPhysAddr,
    format: PhantomData<fn() -> F>,
}

/// Guest-physical range being changed, with the host address matching its start.
#[derive(Clone, Copy)]
struct Span {
    gpa: u64,
    end: u64,
    hpa: u64,
}

impl<F: PageTableFormat> Stage2Table<F> {
    /// Empty tables: a zeroed root table.
    pub fn new(alloc: &mut dyn FrameAllocator) -> Result<Self, Stage2Error> {
        if !Geometry::<F>::is_consistent() {
            return Err(Stage2Error::BadFormat);
        }
        let root = alloc_table(alloc, F::ROOT_FRAMES)?;
        Ok(Self {
            root,
            format: PhantomData,
        })
    }

    /// Host-physical address of the root table (what VTTBR_EL2, hgatp or nCR3 point at).
    pub fn root(&self) -> HostPhysAddr {
        self.root
    }

    /// Maps `[gpa, gpa + size)` to `[hpa, hpa + size)` with `flags`.
    ///
    /// Addresses and size must be 4 KiB aligned. Each piece uses the largest block
    /// that the alignment of both addresses and the remaining size allow. A size of
    /// zero maps nothing. If any page of the range is already mapped, nothing is
    /// changed and [`Stage2Error::AlreadyMapped`] names the first one; if the
    /// allocator runs dry, what was mapped so far is removed again.
    pub fn map(
        &mut self,
        alloc: &mut dyn FrameAllocator,
        gpa: GuestPhysAddr,
        hpa: HostPhysAddr,
        size: u64,
        flags: MappingFlags,
    ) -> Result<(), Stage2Error> {
        let end = checked_range::<F>(gpa, size)?;
        if !hpa.is_aligned(FRAME_SIZE) {
            return Err(Stage2Error::Unaligned);
        }
        let hpa_end = hpa.raw().checked_add(size).ok_or(Stage2Error::OutOfRange)?;
        if hpa_end > 1u64 << F::OUTPUT_BITS {
            return Err(Stage2Error::OutOfRange);
        }
        if let Some(mapped) = self.first_mapped(alloc, gpa.raw(), end)? {
            return Err(Stage2Error::AlreadyMapped {
                gpa: GuestPhysAddr::new(mapped),
            });
        }
        let span = Span {
            gpa: gpa.raw(),
            end,
            hpa: hpa.raw(),
        };
        let result = map_in::<F>(alloc, self.root, 0, span, flags);
        if let Err(error) = result
            && !matches!(error, Stage2Error::AlreadyMapped { .. })
        {
            // The range was empty before, so unmapping it removes exactly what was
            // added; it needs no block split, hence no allocation.
            let _ = unmap_in::<F>(alloc, self.root, 0, gpa.raw(), end);
        }
        result
    }

    /// Removes every mapping in `[gpa, gpa + size)` (4 KiB aligned).
    ///
    /// Holes in the range are skipped. A block that the range covers only in part
    /// is split into next-level entries first, which needs a frame (and can fail
    /// with [`Stage2Error::OutOfMemory`], leaving the part before it unmapped).
    /// Table frames left empty are freed. Splitting replaces a live block without
    /// break-before-make: the guest must not run while a partial block is unmapped.
    pub fn unmap(
        &mut self,
        alloc: &mut dyn FrameAllocator,
        gpa: GuestPhysAddr,
        size: u64,
    ) -> Result<(), Stage2Error> {
        let end = checked_range::<F>(gpa, size)?;
        unmap_in::<F>(alloc, self.root, 0, gpa.raw(), end).map(|_| ())
    }

    /// The host address `gpa` maps to and the flags of its mapping, if mapped.
    pub fn translate(
        &self,
        alloc: &dyn FrameAllocator,
        gpa: GuestPhysAddr,
    ) -> Option<(HostPhysAddr, MappingFlags)> {
        if gpa.raw() >> F::INPUT_BITS != 0 {
            return None;
        }
        let mut table = self.root;
        for depth in 0..F::LEVELS {
            let raw = read_entry(alloc, table, Geometry::<F>::index(gpa.raw(), depth)).ok()?;
            match F::decode(raw, depth) {
                Descriptor::Invalid => return None,
                Descriptor::Table(next) => table = next,
                Descriptor::Leaf { hpa, flags } => {
                    let offset = gpa.raw() & (Geometry::<F>::span(depth) - 1);
                    return Some((hpa.checked_add(offset)?, flags));
                }
            }
        }
        None
    }

    /// Frees every table frame, root included.
    pub fn destroy(self, alloc: &mut dyn FrameAllocator) {
        free_tables::<F>(alloc, self.root, 0);
    }

    /// The first mapped address in `[gpa, end)`, if any.
    fn first_mapped(
        &self,
        alloc: &dyn FrameAllocator,
        gpa: u64,
        end: u64,
    ) -> Result<Option<u64>, Stage2Error> {
        let mut addr = gpa;
        'next: while addr < end {
            let mut table = self.root;
            for depth in 0..F::LEVELS {
                let raw = read_entry(alloc, table, Geometry::<F>::index(addr, depth))?;
                match F::decode(raw, depth) {
                    Descriptor::Table(next) => table = next,
                    Descriptor::Leaf { .. } => return Ok(Some(addr)),
                    Descriptor::Invalid => {
                        addr = entry_end::<F>(addr, depth);
                        continue 'next;
                    }
                }
            }
            // A table descriptor at the last level: the format decoded nonsense.
            return Err(Stage2Error::BadFormat);
        }
        Ok(None)
    }
}

/// Checks a guest range for alignment and size; returns its end.
fn checked_range<F: PageTableFormat>(gpa: GuestPhysAddr, size: u64) -> Result<u64, Stage2Error> {
    if !gpa.is_aligned(FRAME_SIZE) || !size.is_multiple_of(FRAME_SIZE) {
        return Err(Stage2Error::Unaligned);
    }
    let end = gpa.raw().checked_add(size).ok_or(Stage2Error::OutOfRange)?;
    if end > 1u64 << F::INPUT_BITS {
        return Err(Stage2Error::OutOfRange);
    }
    Ok(end)
}

/// One past the span of the entry at `depth` that holds `addr`.
fn entry_end<F: PageTableFormat>(addr: u64, depth: usize) -> u64 {
    let span = Geometry::<F>::span(depth);
    (addr & !(span - 1)) + span
}

/// Maps `span` inside the table at `table`, of depth `depth`.
fn map_in<F: PageTableFormat>(
    alloc: &mut dyn FrameAllocator,
    table: HostPhysAddr,
    depth: usize,
    span: Span,
    flags: MappingFlags,
) -> Result<(), Stage2Error> {
    let size = Geometry::<F>::span(depth);
    let (mut gpa, mut hpa) = (span.gpa, span.hpa);
    while gpa < span.end {
        let index = Geometry::<F>::index(gpa, depth);
        let piece_end = entry_end::<F>(gpa, depth).min(span.end);
        let raw = read_entry(alloc, table, index)?;
        let whole_entry = piece_end - gpa == size && hpa.is_multiple_of(size);
        if whole_entry && Geometry::<F>::leaf_allowed(depth) {
            if F::decode(raw, depth) != Descriptor::Invalid {
                return Err(Stage2Error::AlreadyMapped {
                    gpa: GuestPhysAddr::new(gpa),
                });
            }
            write_entry(
                alloc,
                table,
                index,
                F::leaf_descriptor(HostPhysAddr::new(hpa), flags, depth),
            )?;
        } else {
            let next = match F::decode(raw, depth) {
                Descriptor::Table(next) if depth + 1 < F::LEVELS => next,
                Descriptor::Invalid if depth + 1 < F::LEVELS => {
                    let next = alloc_table(alloc, 1)?;
                    write_entry(alloc, table, index, F::table_descriptor(next, depth))
                        .inspect_err(|_| alloc.free(next, 1))?;
                    next
                }
                Descriptor::Leaf { .. } => {
                    return Err(Stage2Error::AlreadyMapped {
                        gpa: GuestPhysAddr::new(gpa),
                    });
                }
                _ => return Err(Stage2Error::BadFormat),
            };
            let inner = Span {
                gpa,
                end: piece_end,
                hpa,
            };
            map_in::<F>(alloc, next, depth + 1, inner, flags)?;
        }
        hpa += piece_end - gpa;
        gpa = piece_end;
    }
    Ok(())
}

/// Unmaps `[gpa, end)` inside the table at `table`; returns whether the table is now empty.
fn unmap_in<F: PageTableFormat>(
    alloc: &mut dyn FrameAllocator,
    table: HostPhysAddr,
    depth: usize,
    gpa: u64,
    end: u64,
) -> Result<bool, Stage2Error> {
    let size = Geometry::<F>::span(depth);
    let mut addr = gpa;
    while addr < end {
        let index = Geometry::<F>::index(addr, depth);
        let piece_end = entry_end::<F>(addr, depth).min(end);
        let raw = read_entry(alloc, table, index)?;
        let whole_entry = piece_end - addr == size;
        match F::decode(raw, depth) {
            Descriptor::Invalid => {}
            Descriptor::Leaf { .. } if whole_entry => write_entry(alloc, table, index, 0)?,
            Descriptor::Leaf { hpa, flags } => {
                let next = split_block::<F>(alloc, hpa, flags, depth)?;
                write_entry(alloc, table, index, F::table_descriptor(next, depth))
                    .inspect_err(|_| alloc.free(next, 1))?;
                if unmap_in::<F>(alloc, next, depth + 1, addr, piece_end)? {
                    write_entry(alloc, table, index, 0)?;
                    alloc.free(next, 1);
                }
            }
            Descriptor::Table(next) if depth + 1 < F::LEVELS => {
                if unmap_in::<F>(alloc, next, depth + 1, addr, piece_end)? {
                    write_entry(alloc, table, index, 0)?;
                    alloc.free(next, 1);
                }
            }
            Descriptor::Table(_) => return Err(Stage2Error::BadFormat),
        }
        addr = piece_end;
    }
    is_empty::<F>(alloc, table, depth)
}

/// A new table at `depth + 1` whose entries map the block `hpa` maps at `depth`.
fn split_block<F: PageTableFormat>(
    alloc: &mut dyn FrameAllocator,
    hpa: HostPhysAddr,
    flags: MappingFlags,
    depth: usize,
) -> Result<HostPhysAddr, Stage2Error> {
    let child = depth + 1;
    if child >= F::LEVELS || !Geometry::<F>::leaf_allowed(child) {
        return Err(Stage2Error::BadFormat);
    }
    let next = alloc_table(alloc, 1)?;
    let child_span = Geometry::<F>::span(child);
    let mut child_hpa = hpa.raw();
    for index in 0..Geometry::<F>::entries(child) {
        let raw = F::leaf_descriptor(HostPhysAddr::new(child_hpa), flags, child);
        write_entry(alloc, next, index, raw).inspect_err(|_| alloc.free(next, 1))?;
        child_hpa += child_span;
    }
    Ok(next)
}

/// Whether no entry of the table at `table` (of depth `depth`) is valid.
fn is_empty<F: PageTableFormat>(
    alloc: &dyn FrameAllocator,
    table: HostPhysAddr,
    depth: usize,
) -> Result<bool, Stage2Error> {
    for index in 0..Geometry::<F>::entries(depth) {
        if F::decode(read_entry(alloc, table, index)?, depth) != Descriptor::Invalid {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Frees the table at `table` (of depth `depth`) and every table below it.
fn free_tables<F: PageTableFormat>(
    alloc: &mut dyn FrameAllocator,
    table: HostPhysAddr,
    depth: usize,
) {
    if depth + 1 < F::LEVELS {
        for index in 0..Geometry::<F>::entries(depth) {
            // An inaccessible frame cannot hold children we could find; skip it.
            if let Ok(raw) = read_entry(alloc, table, index)
                && let Descriptor::Table(next) = F::decode(raw, depth)
            {
                free_tables::<F>(alloc, next, depth + 1);
            }
        }
    }
    alloc.free(table, Geometry::<F>::frames(depth));
}

/// Allocates a zeroed table of `frames` frames, checking the allocator kept its word on alignment.
fn alloc_table(alloc: &mut dyn FrameAllocator, frames: usize) -> Result<HostPhysAddr, Stage2Error> {
    let base = alloc.alloc_zeroed(frames).ok_or(Stage2Error::OutOfMemory)?;
    let align = FRAME_SIZE * frames as u64;
    if !align.is_power_of_two() || !base.raw().is_multiple_of(align) {
        alloc.free(base, frames);
        return Err(Stage2Error::OutOfMemory);
    }
    Ok(base)
}

/// Pointer to entry `index` of the table starting at `table`.
fn entry_ptr(
    alloc: &dyn FrameAllocator,
    table: HostPhysAddr,
    index: usize,
) -> Result<*mut u64, Stage2Error> {
    let frame_offset = (index / ENTRIES_PER_FRAME) as u64 * FRAME_SIZE;
    let frame = table
        .checked_add(frame_offset)
        .ok_or(Stage2Error::OutOfRange)?;
    let base = alloc.frame_ptr(frame);
    if base.is_null() {
        return Err(Stage2Error::FrameAccess { frame });
    }
    // SAFETY: `base` points to a whole 4 KiB frame (the FrameAllocator contract) and
    // `index % 512` entries of 8 bytes stay inside it.
    Ok(unsafe { base.add(index % ENTRIES_PER_FRAME) })
}

/// Reads entry `index` of the table at `table`.
fn read_entry(
    alloc: &dyn FrameAllocator,
    table: HostPhysAddr,
    index: usize,
) -> Result<u64, Stage2Error> {
    let ptr = entry_ptr(alloc, table, index)?;
    // SAFETY: `ptr` is an aligned entry inside a live table frame (see `entry_ptr`).
    // Volatile, because the MMU reads these words behind the compiler's back.
    Ok(unsafe { ptr.read_volatile() })
}

/// Writes `raw` to entry `index` of the table at `table`.
fn write_entry(
    alloc: &dyn FrameAllocator,
    table: HostPhysAddr,
    index: usize,
    raw: u64,
) -> Result<(), Stage2Error> {
    let ptr = entry_ptr(alloc, table, index)?;
    // SAFETY: `ptr` is an aligned entry inside a live table frame (see `entry_ptr`),
    // which only this table's owner (holding `&mut Stage2Table`) writes.
    unsafe { ptr.write_volatile(raw) };
    Ok(())
}
