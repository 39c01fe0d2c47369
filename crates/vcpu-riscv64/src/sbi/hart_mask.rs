//! The hart list of SBI calls that target several harts (SBI v2.0, "Hart list
//! parameter"): a bit vector `hart_mask` whose bit `i` names hart `hart_mask_base + i`.

/// Harts named by a `hart_mask` / `hart_mask_base` pair.
///
/// A base of `u64::MAX` (-1) names every hart and the mask is ignored. Bits whose
/// hart id would not fit in 64 bits name no hart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HartMask {
    /// Bit `i` names hart `base + i` (0 when `base` is `u64::MAX`).
    mask: u64,
    /// Hart id of bit 0, or `u64::MAX` for all harts.
    base: u64,
}

impl HartMask {
    /// The harts named by `mask` (a0) and `base` (a1).
    pub const fn new(mask: u64, base: u64) -> Self {
        if base == u64::MAX {
            Self::all()
        } else {
            Self { mask, base }
        }
    }

    /// Every hart.
    pub const fn all() -> Self {
        Self {
            mask: 0,
            base: u64::MAX,
        }
    }

    /// Whether every hart is named (the base was `u64::MAX`).
    pub const fn is_all(&self) -> bool {
        self.base == u64::MAX
    }

    /// The bit vector (0 for [`all`](Self::all)).
    pub const fn mask(&self) -> u64 {
        self.mask
    }

    /// The hart id of bit 0 (`u64::MAX` for [`all`](Self::all)).
    pub const fn base(&self) -> u64 {
        self.base
    }

    /// Whether hart `hart` is named.
    pub fn contains(&self, hart: u64) -> bool {
        if self.is_all() {
            return true;
        }
        match hart.checked_sub(self.base) {
            Some(bit) if bit < 64 => self.mask >> bit & 1 == 1,
            _ => false,
        }
    }

    /// The harts named whose ids are below `harts`, in ascending order.
    pub fn iter_up_to(&self, harts: u64) -> impl Iterator<Item = u64> + use<> {
        let every = self.is_all().then_some(0..harts);
        let (mask, base) = (self.mask, self.base);
        let named = (!self.is_all()).then(move || {
            (0..64u64)
                .filter(move |bit| mask >> bit & 1 == 1)
                .filter_map(move |bit| base.checked_add(bit))
                .filter(move |&hart| hart < harts)
        });
        every
            .into_iter()
            .flatten()
            .chain(named.into_iter().flatten())
    }

    /// Whether every hart named has an id below `harts`. SBI calls naming a hart
    /// that does not exist fail with INVALID_PARAM; [`all`](Self::all) always fits.
    pub fn fits(&self, harts: u64) -> bool {
        if self.is_all() {
            return true;
        }
        (0..64u64)
            .filter(|bit| self.mask >> bit & 1 == 1)
            .all(|bit| self.base.checked_add(bit).is_some_and(|hart| hart < harts))
    }

    /// The physical harts that the named harts run on, as a bit mask with base 0:
    /// hart `i` runs on physical hart `pinned[i]`; harts past `pinned` are not
    /// counted. `None` when one of them runs on a hart a mask cannot hold (id 64 or
    /// more).
    pub fn physical(&self, pinned: &[u64]) -> Option<u64> {
        self.iter_up_to(pinned.len() as u64)
            .try_fold(0u64, |mask, hart| {
                let physical = *pinned.get(usize::try_from(hart).ok()?)?;
                (physical < 64).then(|| mask | 1 << physical)
            })
    }
}
