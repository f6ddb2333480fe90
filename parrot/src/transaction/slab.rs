//! A slab that grows one fixed-size chunk at a time and fills its lowest
//! slots first.
//!
//! A `Vec`-backed slab (the `slab` crate's, say) doubles its storage as it
//! grows: with entries the size of a transaction that means copying every
//! live entry and, just past a power of two, holding almost twice the
//! memory the entries need. Chunks never move an entry, and each is
//! allocated only as far as it has been used.
//!
//! The slab never moves an entry on its own, so after a peak only a chunk
//! with no entry left, or the vacant end of one, can go; its owner may
//! move entries nobody else names down ([`Slab::lowest_vacant`], then
//! remove and insert). New entries always take the
//! lowest vacant slot: a trickle of work going on after a peak (probes, a
//! few calls) then settles in the first slots while the peak's entries
//! end, instead of reusing the slots the peak freed last, high up, and
//! keeping its chunks alive for ever.

use crate::memory::far_below;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Bytes per chunk. Above half a megabyte, so that a full chunk is an
/// allocation of its own in the common allocators (mimalloc's largest
/// shared-page size class is 512 KiB; glibc maps blocks this size on their
/// own until its threshold adapts, and trims them otherwise): a chunk that
/// empties after a peak goes back whole, and a live one never keeps a page
/// of the peak's other blocks in memory.
const CHUNK_BYTES: usize = 1 << 20;

/// Chunks of [`Self::CHUNK`] slots and the vacant slots among them.
pub(super) struct Slab<T> {
    /// Each chunk is allocated as far as it has been used, growing slot by
    /// slot (an empty `Vec` for a chunk [`shrink`](Self::shrink) released).
    pub(super) chunks: Vec<Vec<Option<T>>>,
    /// Entries in each chunk.
    live: Vec<u32>,
    /// The vacant slots, lowest first: freed slots below their chunk's
    /// length, and for each chunk not grown to its full size, the slot
    /// just past its end.
    free: BinaryHeap<Reverse<u32>>,
    len: usize,
}

impl<T> Slab<T> {
    /// Slots per chunk.
    pub(super) const CHUNK: usize = {
        // An `Option` is never zero-sized.
        let slots = CHUNK_BYTES / size_of::<Option<T>>();
        assert!(slots > 0, "an entry smaller than a chunk");
        slots
    };

    pub(super) const fn new() -> Self {
        Slab {
            chunks: Vec::new(),
            live: Vec::new(),
            free: BinaryHeap::new(),
            len: 0,
        }
    }

    /// Number of occupied slots.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn get(&self, slot: u32) -> Option<&T> {
        let slot = slot as usize;
        self.chunks
            .get(slot / Self::CHUNK)?
            .get(slot % Self::CHUNK)?
            .as_ref()
    }

    pub(super) fn get_mut(&mut self, slot: u32) -> Option<&mut T> {
        let slot = slot as usize;
        self.chunks
            .get_mut(slot / Self::CHUNK)?
            .get_mut(slot % Self::CHUNK)?
            .as_mut()
    }

    /// Stores `value` in the lowest vacant slot and returns the slot.
    pub(super) fn insert(&mut self, value: T) -> u32 {
        self.len += 1;
        let slot = match self.free.pop() {
            Some(Reverse(slot)) => slot as usize,
            None => {
                // Every chunk is full.
                self.chunks.push(Vec::new());
                self.live.push(0);
                (self.chunks.len() - 1) * Self::CHUNK
            }
        };
        let (c, i) = (slot / Self::CHUNK, slot % Self::CHUNK);
        let chunk = &mut self.chunks[c];
        if i < chunk.len() {
            chunk[i] = Some(value);
        } else {
            if chunk.len() == chunk.capacity() {
                // Double, but never past one chunk.
                let more = chunk.len().max(4).min(Self::CHUNK - chunk.len());
                chunk.reserve_exact(more);
            }
            chunk.push(Some(value));
            if i + 1 < Self::CHUNK {
                self.free.push(Reverse(slot as u32 + 1));
            }
        }
        self.live[c] += 1;
        u32::try_from(slot).expect("fewer than 2^32 slots")
    }

    /// The slot the next [`insert`](Self::insert) takes, if one is vacant
    /// (`None`: it would start a new chunk).
    pub(super) fn lowest_vacant(&self) -> Option<u32> {
        self.free.peek().map(|slot| slot.0)
    }

    /// One past the highest slot that may be occupied.
    pub(super) fn end(&self) -> u32 {
        let Some(last) = self.chunks.len().checked_sub(1) else {
            return 0;
        };
        u32::try_from(last * Self::CHUNK + self.chunks[last].len()).expect("fewer than 2^32 slots")
    }

    /// Slots allocated (live or vacant).
    pub(super) fn capacity(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum()
    }

    /// Gives memory back after a peak: when the slab is under a quarter
    /// full, every chunk with no entry left is freed (the trailing ones
    /// for good, the others until the slots below them are all taken); and
    /// the vacant tail of any chunk when it is more than half of it.
    /// O(slots + vacant slots): for a periodic sweep.
    pub(super) fn shrink(&mut self) {
        let mut changed = false;
        if far_below(self.len, self.capacity()) {
            for (c, chunk) in self.chunks.iter_mut().enumerate() {
                if self.live[c] == 0 && chunk.capacity() > 0 {
                    *chunk = Vec::new();
                    changed = true;
                }
            }
            while self.chunks.last().is_some_and(|c| c.capacity() == 0) {
                self.chunks.pop();
                self.live.pop();
                changed = true;
            }
        }
        // The vacant tail of a chunk goes when it is most of the chunk:
        // new entries take the lowest slots, so once a peak has passed the
        // tails stay vacant (each chunk's grows again if needed); a chunk
        // kept by a few entries of the recovery costs only its used part.
        for chunk in &mut self.chunks {
            if chunk.len() > 64 {
                let used = chunk.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
                if used < chunk.len() / 2 {
                    chunk.truncate(used);
                    chunk.shrink_to_fit();
                    changed = true;
                }
            }
        }
        if !changed {
            return;
        }
        let chunks = &self.chunks;
        self.free.retain(|s| {
            let s = s.0 as usize;
            chunks
                .get(s / Self::CHUNK)
                .is_some_and(|c| s % Self::CHUNK < c.len())
        });
        for (c, chunk) in self.chunks.iter().enumerate() {
            if chunk.len() < Self::CHUNK {
                self.free
                    .push(Reverse((c * Self::CHUNK + chunk.len()) as u32));
            }
        }
        self.free.shrink_to(self.free.len() * 2);
        self.chunks.shrink_to_fit();
        self.live.shrink_to_fit();
    }

    pub(super) fn remove(&mut self, slot: u32) -> Option<T> {
        let s = slot as usize;
        let value = self
            .chunks
            .get_mut(s / Self::CHUNK)?
            .get_mut(s % Self::CHUNK)?
            .take()?;
        self.len -= 1;
        self.live[s / Self::CHUNK] -= 1;
        self.free.push(Reverse(slot));
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::Slab;

    const CHUNK: usize = Slab::<usize>::CHUNK;

    #[test]
    fn takes_the_lowest_vacant_slot() {
        let mut slab = Slab::new();
        let slots: Vec<u32> = (0..10).map(|i| slab.insert(i)).collect();
        assert_eq!(slots, (0..10).collect::<Vec<_>>());
        slab.remove(7);
        slab.remove(2);
        slab.remove(5);
        assert_eq!(slab.insert(20), 2);
        assert_eq!(slab.insert(21), 5);
        assert_eq!(slab.insert(22), 7);
        assert_eq!(slab.insert(23), 10);
        assert_eq!(slab.get(5), Some(&21));
        assert_eq!(slab.len(), 11);
    }

    #[test]
    fn the_lowest_vacant_slot_and_the_end_are_known_before_an_insert() {
        let mut slab = Slab::new();
        assert_eq!((slab.lowest_vacant(), slab.end()), (None, 0));
        for i in 0..10 {
            slab.insert(i);
        }
        assert_eq!((slab.lowest_vacant(), slab.end()), (Some(10), 10));
        slab.remove(9);
        slab.remove(4);
        assert_eq!((slab.lowest_vacant(), slab.end()), (Some(4), 10));
        // An entry moved down: removed, then inserted where it said.
        let v = slab.remove(8).unwrap();
        assert_eq!(slab.insert(v), 4);
        assert_eq!(slab.get(4), Some(&8));
        assert_eq!(slab.lowest_vacant(), Some(8));
    }

    #[test]
    fn a_trickle_after_a_peak_settles_low_and_frees_the_peak_chunks() {
        let mut slab = Slab::new();
        let peak = 10 * CHUNK;
        // A peak of entries, each living for `life` insertions, then a
        // trickle of the same lifetime while the peak's entries end, with
        // a shrink now and then as the layer's sweep does.
        let life = 300;
        let mut live = std::collections::VecDeque::new();
        for i in 0..peak + 20 * life {
            if i < peak {
                live.push_back(slab.insert(i));
            } else {
                // The peak ends a little at a time; the trickle goes on.
                for _ in 0..CHUNK / 2 {
                    if live.len() > life {
                        let s = live.pop_front().unwrap();
                        slab.remove(s);
                    }
                }
                live.push_back(slab.insert(i));
                if live.len() > life {
                    slab.remove(live.pop_front().unwrap());
                }
            }
            if i % 100 == 0 {
                slab.shrink();
            }
        }
        slab.shrink();
        assert_eq!(slab.len(), life);
        assert_eq!(slab.chunks.len(), 1, "the trickle fits in the first chunk");
        assert!(slab.capacity() <= CHUNK);
    }

    #[test]
    fn the_vacant_tail_of_the_last_chunk_is_freed() {
        let mut slab = Slab::new();
        let slots: Vec<u32> = (0..1000).map(|i| slab.insert(i)).collect();
        for &s in &slots[10..] {
            slab.remove(s);
        }
        slab.shrink();
        assert_eq!(slab.capacity(), 10);
        assert_eq!(slab.insert(10), 10);
        assert_eq!(slab.get(9), Some(&9));
    }

    #[test]
    fn the_vacant_tail_of_a_chunk_below_the_last_is_freed_and_grows_again() {
        let mut slab = Slab::new();
        let slots: Vec<u32> = (0..2 * CHUNK).map(|i| slab.insert(i)).collect();
        // The first chunk keeps its lowest ten entries, the second its top one.
        for &s in &slots[10..2 * CHUNK - 1] {
            slab.remove(s);
        }
        slab.shrink();
        assert_eq!(slab.capacity(), 10 + CHUNK);
        // The first chunk fills again from its end, slot by slot.
        assert_eq!(slab.insert(7), 10);
        assert_eq!(slab.insert(8), 11);
        assert_eq!(slab.get(10), Some(&7));
        assert_eq!(slab.get(2 * CHUNK as u32 - 1), Some(&(2 * CHUNK - 1)));
        assert!(slab.capacity() < 40 + CHUNK);
    }

    #[test]
    fn an_empty_chunk_below_a_live_one_is_freed_and_reused() {
        let mut slab = Slab::new();
        let slots: Vec<u32> = (0..3 * CHUNK).map(|i| slab.insert(i)).collect();
        // Only one entry at the top stays.
        for &s in &slots[..3 * CHUNK - 1] {
            slab.remove(s);
        }
        slab.shrink();
        assert_eq!(slab.capacity(), CHUNK, "the two empty chunks are freed");
        assert_eq!(slab.get(slots[3 * CHUNK - 1]), Some(&(3 * CHUNK - 1)));
        // New entries go to the lowest slots, allocating chunk 0 again, as
        // far as it is used.
        assert_eq!(slab.insert(1), 0);
        assert_eq!(slab.insert(2), 1);
        assert_eq!(slab.capacity(), CHUNK + 4);
        assert_eq!(slab.get(0), Some(&1));
        assert_eq!(slab.get(CHUNK as u32), None);
        slab.remove(slots[3 * CHUNK - 1]);
        slab.remove(0);
        slab.remove(1);
        slab.shrink();
        assert_eq!(slab.len(), 0);
        assert!(slab.capacity() <= CHUNK);
    }
}
