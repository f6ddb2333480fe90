//! A slab that grows one fixed-size chunk at a time.
//!
//! A `Vec`-backed slab (the `slab` crate's, say) doubles its storage as it
//! grows: with entries the size of a transaction that means copying every
//! live entry and, just past a power of two, holding almost twice the
//! memory the entries need. Chunks never move an entry, and at most one
//! partly used chunk is allocated ahead.

/// Slots per chunk.
pub(super) const CHUNK: usize = 1024;

/// Chunks of `CHUNK` slots (only the last one partly allocated) and a free
/// list of vacant slots.
pub(super) struct Slab<T> {
    pub(super) chunks: Vec<Vec<Option<T>>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Slab<T> {
    pub(super) const fn new() -> Self {
        Slab {
            chunks: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    /// Number of occupied slots.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn get(&self, slot: u32) -> Option<&T> {
        let slot = slot as usize;
        self.chunks.get(slot / CHUNK)?.get(slot % CHUNK)?.as_ref()
    }

    pub(super) fn get_mut(&mut self, slot: u32) -> Option<&mut T> {
        let slot = slot as usize;
        self.chunks
            .get_mut(slot / CHUNK)?
            .get_mut(slot % CHUNK)?
            .as_mut()
    }

    /// Stores `value` in a vacant slot (the most recently freed one first)
    /// and returns the slot.
    pub(super) fn insert(&mut self, value: T) -> u32 {
        self.len += 1;
        if let Some(slot) = self.free.pop() {
            let s = slot as usize;
            self.chunks[s / CHUNK][s % CHUNK] = Some(value);
            return slot;
        }
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::new());
        }
        let n = self.chunks.len() - 1;
        let chunk = &mut self.chunks[n];
        if chunk.len() == chunk.capacity() {
            // Double, but never past one chunk.
            let more = chunk.len().max(4).min(CHUNK - chunk.len());
            chunk.reserve_exact(more);
        }
        chunk.push(Some(value));
        let slot = n * CHUNK + chunk.len() - 1;
        u32::try_from(slot).expect("fewer than 2^32 slots")
    }

    /// Slots allocated (live or vacant).
    pub(super) fn capacity(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum()
    }

    /// Gives memory back after a peak. Entries never move, so a chunk can
    /// go only once it is empty: trailing empty chunks are freed, and the
    /// free list is sorted so that the lowest slots are reused first,
    /// which empties the high chunks as their short-lived entries end.
    /// O(slots) when the slab is under a quarter full, O(1) otherwise.
    pub(super) fn shrink(&mut self) {
        let slots = self.chunks.len() * CHUNK;
        if self.chunks.len() <= 1 || self.len >= slots / 4 {
            return;
        }
        while let Some(last) = self.chunks.last()
            && last.iter().all(Option::is_none)
        {
            self.chunks.pop();
        }
        let end = (self.chunks.len() * CHUNK) as u32;
        self.free.retain(|&s| s < end);
        // Popped from the back: the lowest slot first.
        self.free.sort_unstable_by(|a, b| b.cmp(a));
        self.chunks.shrink_to_fit();
        if self.free.len() < self.free.capacity() / 4 {
            self.free.shrink_to(self.free.len() * 2);
        }
    }

    pub(super) fn remove(&mut self, slot: u32) -> Option<T> {
        let s = slot as usize;
        let value = self.chunks.get_mut(s / CHUNK)?.get_mut(s % CHUNK)?.take()?;
        self.len -= 1;
        self.free.push(slot);
        Some(value)
    }
}
