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

    pub(super) fn remove(&mut self, slot: u32) -> Option<T> {
        let s = slot as usize;
        let value = self.chunks.get_mut(s / CHUNK)?.get_mut(s % CHUNK)?.take()?;
        self.len -= 1;
        self.free.push(slot);
        Some(value)
    }
}
