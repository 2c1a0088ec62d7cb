//! The flow table's hash index: open addressing with linear probing over 8-byte slots, each a
//! 32-bit hash tag and a 32-bit entry number. It maps a flow's hash to where its entry lives
//! in the table's slab, so the per-packet lookup touches one small slot and then one entry.
//!
//! Why not a general hash map: the per-packet cost on a table of ~10^5 flows is cache misses,
//! not instructions. Here the slot of a hash is known before the lookup (`home`), so the
//! worker can prefetch it several packets ahead, then prefetch the entry the slot names, and
//! find both in cache when the packet's turn comes. A slot's home position is part of its tag,
//! so deletion shifts the cluster back without reading any entry (no tombstones).

/// Slot value of an empty slot; occupied slots store `entry + 1` in the low half.
const EMPTY: u64 = 0;
/// Smallest slot array (slots are 8 bytes: 4 KiB).
const MIN_SLOTS: usize = 512;

/// The high half of a flow hash: the slot's tag, and (masked) its home position.
#[inline(always)]
fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32
}

pub(super) struct Index {
    slots: Vec<u64>,
    mask: usize,
    len: usize,
}

impl Index {
    pub(super) fn new() -> Index {
        Index {
            slots: vec![EMPTY; MIN_SLOTS],
            mask: MIN_SLOTS - 1,
            len: 0,
        }
    }

    #[inline(always)]
    fn home(&self, tag: u32) -> usize {
        tag as usize & self.mask
    }

    /// Hint: the slot where a lookup of `hash` starts is about to be read.
    #[inline(always)]
    pub(super) fn prefetch(&self, hash: u64) {
        if let Some(slot) = self.slots.get(self.home(tag_of(hash))) {
            prefetch((slot as *const u64).cast());
        }
    }

    /// Entries whose tag matches `hash`, in probe order, ending at the first empty slot.
    #[inline(always)]
    pub(super) fn candidates(&self, hash: u64) -> Candidates<'_> {
        let tag = tag_of(hash);
        Candidates {
            index: self,
            pos: self.home(tag),
            tag,
        }
    }

    /// Record `entry` under `hash`; the caller made sure the key is not present.
    pub(super) fn insert(&mut self, hash: u64, entry: u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        place(&mut self.slots, self.mask, tag_of(hash), entry);
        self.len += 1;
    }

    /// Forget `entry` (stored under `hash`). Returns false if it was not there.
    pub(super) fn remove(&mut self, hash: u64, entry: u32) -> bool {
        let want = u64::from(entry) + 1;
        let mut pos = self.home(tag_of(hash));
        loop {
            let Some(&slot) = self.slots.get(pos) else {
                return false;
            };
            if slot == EMPTY {
                return false;
            }
            if slot & 0xffff_ffff == want {
                self.close_gap(pos);
                self.len -= 1;
                return true;
            }
            pos = (pos + 1) & self.mask;
        }
    }

    /// Backward-shift deletion: later members of the cluster that may live at `hole` move up,
    /// so every probe sequence stays unbroken.
    fn close_gap(&mut self, mut hole: usize) {
        let mask = self.mask;
        let mut pos = hole;
        loop {
            pos = (pos + 1) & mask;
            let slot = self.slots.get(pos).copied().unwrap_or(EMPTY);
            if slot == EMPTY {
                break;
            }
            let home = (slot >> 32) as usize & mask;
            let from_home = pos.wrapping_sub(home) & mask;
            let from_hole = pos.wrapping_sub(hole) & mask;
            if from_home >= from_hole {
                if let Some(h) = self.slots.get_mut(hole) {
                    *h = slot;
                }
                hole = pos;
            }
        }
        if let Some(h) = self.slots.get_mut(hole) {
            *h = EMPTY;
        }
    }

    fn grow(&mut self) {
        let new_len = self.slots.len() * 2;
        let mask = new_len - 1;
        let mut slots = vec![EMPTY; new_len];
        huge_pages(&mut slots);
        for &slot in self.slots.iter().filter(|s| **s != EMPTY) {
            place(
                &mut slots,
                mask,
                (slot >> 32) as u32,
                (slot as u32).wrapping_sub(1),
            );
        }
        self.slots = slots;
        self.mask = mask;
    }

    /// Every stored entry number (in slot order: callers sort if order matters).
    pub(super) fn entries(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .filter(|s| **s != EMPTY)
            .map(|s| (*s as u32).wrapping_sub(1))
    }

    pub(super) fn clear(&mut self) {
        self.slots = vec![EMPTY; MIN_SLOTS];
        self.mask = MIN_SLOTS - 1;
        self.len = 0;
    }
}

fn place(slots: &mut [u64], mask: usize, tag: u32, entry: u32) {
    let value = (u64::from(tag) << 32) | (u64::from(entry) + 1);
    let mut pos = tag as usize & mask;
    // The load factor stays at most 1/2, so an empty slot always exists.
    while let Some(slot) = slots.get_mut(pos) {
        if *slot == EMPTY {
            *slot = value;
            return;
        }
        pos = (pos + 1) & mask;
    }
}

/// Probe sequence of one hash: yields entry numbers whose tag matches.
pub(super) struct Candidates<'a> {
    index: &'a Index,
    pos: usize,
    tag: u32,
}

impl Iterator for Candidates<'_> {
    type Item = u32;

    #[inline(always)]
    fn next(&mut self) -> Option<u32> {
        loop {
            let slot = *self.index.slots.get(self.pos)?;
            if slot == EMPTY {
                return None;
            }
            self.pos = (self.pos + 1) & self.index.mask;
            if (slot >> 32) as u32 == self.tag {
                return Some((slot as u32).wrapping_sub(1));
            }
        }
    }
}

/// Ask the CPU to bring the cache line of `at` in; a no-op elsewhere than x86-64.
#[inline(always)]
#[allow(unsafe_code)] // a CPU intrinsic; the block says why it is sound
pub(super) fn prefetch(at: *const u8) {
    // SAFETY: a prefetch is a hint: it never faults (whatever the address) and never
    // changes memory; nothing is dereferenced.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// Ask for transparent huge pages on a large table allocation (THP is often `madvise`-only):
/// the per-packet accesses are random over the whole table, and with 4 KiB pages nearly each
/// one also misses the TLB. Advisory: failure changes nothing but speed.
#[allow(unsafe_code)] // madvise has no std wrapper; the block says why it is sound
pub(super) fn huge_pages<T>(buf: &mut [T]) {
    const HUGE: usize = 2 << 20;
    let start = buf.as_mut_ptr() as usize;
    let end = start + std::mem::size_of_val(buf);
    let first = start.next_multiple_of(HUGE);
    let last = end - end % HUGE;
    #[cfg(target_os = "linux")]
    if last > first {
        // SAFETY: the range lies inside `buf`'s allocation, which this table owns; the advice
        // does not change its contents or validity.
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_HUGEPAGE,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (first, last);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(index: &Index, hash: u64) -> Vec<u32> {
        index.candidates(hash).collect()
    }

    #[test]
    fn colliding_homes_stay_findable_after_removals_and_growth() {
        let mut index = Index::new();
        // Same home (low bits of the tag), different tags: one long cluster.
        let hashes: Vec<u64> = (0..300u64).map(|i| ((i << 20) | 7) << 32).collect();
        for (entry, &h) in hashes.iter().enumerate() {
            index.insert(h, entry as u32);
        }
        assert_eq!(index.slots.len(), 1024, "grew at half load");
        for (entry, &h) in hashes.iter().enumerate().step_by(3) {
            assert!(index.remove(h, entry as u32));
        }
        for (entry, &h) in hashes.iter().enumerate() {
            let want: Vec<u32> = if entry % 3 == 0 {
                vec![]
            } else {
                vec![entry as u32]
            };
            assert_eq!(found(&index, h), want, "entry {entry}");
        }
        assert_eq!(index.entries().count(), 200);
        assert!(!index.remove(hashes[0], 0));
    }

    #[test]
    fn wrap_around_clusters_shift_back_correctly() {
        let mut index = Index::new();
        let last = (MIN_SLOTS as u64 - 1) << 32;
        index.insert(last, 1);
        index.insert(last | (1 << 52), 2); // same home, wraps to slot 0
        index.insert(0, 3); // home 0, pushed to slot 1
        assert!(index.remove(last, 1));
        assert_eq!(found(&index, last | (1 << 52)), vec![2]);
        assert_eq!(found(&index, 0), vec![3]);
        assert_eq!(index.slots.iter().filter(|s| **s != EMPTY).count(), 2);
    }
}
