//! The core's table of dialogs, by dialog id.
//!
//! A hash table like `KeyedMap`, with one thing more: an entry can be
//! found from its key's hash and a test on its value. The core's timer
//! table of parked dialogs (one entry per held call with a session timer)
//! keeps that 8-byte hash instead of a copy of the 96-byte dialog id: a
//! held call then costs the timer table about 50 bytes instead of 190.

use crate::dialog::DialogId;
use crate::keyed::KeyedState;
use hashbrown::HashTable;

/// Dialogs by id, each with a value `V`.
pub(crate) struct DialogTable<V> {
    table: HashTable<(DialogId, V)>,
    state: KeyedState,
}

impl<V> Default for DialogTable<V> {
    fn default() -> Self {
        DialogTable {
            table: HashTable::new(),
            state: KeyedState::default(),
        }
    }
}

impl<V> DialogTable<V> {
    /// The hash `id` is stored under (keyed at random per table).
    pub(crate) fn hash_of(&self, id: &DialogId) -> u64 {
        self.state.hash_one(id)
    }

    /// The number of dialogs.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether dialog `id` is in the table.
    pub(crate) fn contains_key(&self, id: &DialogId) -> bool {
        self.get(id).is_some()
    }

    /// Dialog `id`'s value.
    pub(crate) fn get(&self, id: &DialogId) -> Option<&V> {
        self.table
            .find(self.hash_of(id), |(k, _)| k == id)
            .map(|(_, v)| v)
    }

    /// Dialog `id`'s value, to change.
    pub(crate) fn get_mut(&mut self, id: &DialogId) -> Option<&mut V> {
        self.get_mut_hashed(self.hash_of(id), id)
    }

    /// Dialog `id`'s value, to change, `hash` being `hash_of(id)`.
    pub(crate) fn get_mut_hashed(&mut self, hash: u64, id: &DialogId) -> Option<&mut V> {
        self.table.find_mut(hash, |(k, _)| k == id).map(|(_, v)| v)
    }

    /// The dialog stored under `hash` whose value passes `test`, with its
    /// id.
    pub(crate) fn find_by_hash(
        &mut self,
        hash: u64,
        test: impl Fn(&V) -> bool,
    ) -> Option<(&DialogId, &mut V)> {
        self.table
            .find_mut(hash, |(_, v)| test(v))
            .map(|(k, v)| (&*k, v))
    }

    /// Puts `value` under `id`, giving back the value it replaces.
    pub(crate) fn insert(&mut self, id: DialogId, value: V) -> Option<V> {
        let hash = self.hash_of(&id);
        let state = &self.state;
        match self
            .table
            .entry(hash, |(k, _)| *k == id, |(k, _)| state.hash_one(k))
        {
            hashbrown::hash_table::Entry::Occupied(mut e) => {
                Some(std::mem::replace(&mut e.get_mut().1, value))
            }
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert((id, value));
                None
            }
        }
    }

    /// Takes dialog `id` out of the table.
    pub(crate) fn remove(&mut self, id: &DialogId) -> Option<V> {
        let hash = self.hash_of(id);
        self.table
            .find_entry(hash, |(k, _)| k == id)
            .ok()
            .map(|e| e.remove().0.1)
    }

    /// Shrinks the table to twice its length when it is far below its
    /// capacity (as `memory::shrink_map` does for a map).
    pub(crate) fn shrink(&mut self) {
        if crate::memory::far_below(self.table.len(), self.table.capacity()) {
            let state = &self.state;
            self.table
                .shrink_to(self.table.len() * 2, |(k, _)| state.hash_one(k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> DialogId {
        DialogId::new(&format!("call-{n}"), "local", &format!("remote-{n}"))
    }

    #[test]
    fn entries_are_found_replaced_and_removed_by_id() {
        let mut t = DialogTable::default();
        for n in 0..100 {
            assert_eq!(t.insert(id(n), n), None);
        }
        assert_eq!(t.len(), 100);
        assert_eq!(t.insert(id(7), 70), Some(7));
        assert_eq!(t.get(&id(7)), Some(&70));
        *t.get_mut(&id(8)).expect("present") += 1;
        assert_eq!(t.get(&id(8)), Some(&9));
        assert_eq!(t.remove(&id(9)), Some(9));
        assert!(!t.contains_key(&id(9)));
        assert_eq!(t.remove(&id(9)), None);
        assert_eq!(t.len(), 99);
        assert!(t.contains_key(&id(99)));
        assert!(!t.contains_key(&id(100)));
    }

    #[test]
    fn an_entry_is_found_by_its_hash_and_a_test_on_its_value() {
        let mut t = DialogTable::default();
        for n in 0..50 {
            t.insert(id(n), n);
        }
        let hash = t.hash_of(&id(31));
        let (k, v) = t.find_by_hash(hash, |v| *v == 31).expect("found");
        assert_eq!(*k, id(31));
        *v = 131;
        assert_eq!(t.get(&id(31)), Some(&131));
        // The right hash with a value that fails the test finds nothing.
        assert!(t.find_by_hash(hash, |v| *v == 30).is_none());
    }

    /// One step of the model test: which dialog (of a few) and what to
    /// do with it.
    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16, u32),
        Remove(u16),
        Find(u16),
        Shrink,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        // Enough keys for the table to grow past the size where it
        // shrinks, and values that name their key (as a parked dialog's
        // unique timer key does), so that a test on the value picks one.
        prop_oneof![
            3 => (0u16..300, any::<u16>())
                .prop_map(|(k, v)| Op::Insert(k, u32::from(k) << 16 | u32::from(v))),
            3 => (0u16..300).prop_map(Op::Remove),
            2 => (0u16..300).prop_map(Op::Find),
            1 => Just(Op::Shrink),
        ]
    }

    proptest::proptest! {
        /// The table agrees with a `HashMap` under any sequence of
        /// inserts, removals and shrinks; an entry is found by its hash
        /// and its value exactly when the map has it.
        #[test]
        fn the_table_behaves_as_a_map(ops in proptest::collection::vec(op(), 0..1200)) {
            let mut t = DialogTable::default();
            let mut model = std::collections::HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        proptest::prop_assert_eq!(
                            t.insert(id(k.into()), v),
                            model.insert(k, v)
                        );
                    }
                    Op::Remove(k) => {
                        proptest::prop_assert_eq!(t.remove(&id(k.into())), model.remove(&k));
                    }
                    Op::Find(k) => {
                        let want = model.get(&k).copied();
                        let hash = t.hash_of(&id(k.into()));
                        let found = t
                            .find_by_hash(hash, |v| Some(*v) == want)
                            .map(|(key, v)| (key.clone(), *v));
                        proptest::prop_assert_eq!(found, want.map(|v| (id(k.into()), v)));
                    }
                    Op::Shrink => t.shrink(),
                }
                proptest::prop_assert_eq!(t.len(), model.len());
            }
            for (k, v) in &model {
                proptest::prop_assert_eq!(t.get(&id((*k).into())), Some(v));
            }
        }
    }

    #[test]
    fn a_table_far_below_its_capacity_shrinks() {
        let mut t = DialogTable::default();
        for n in 0..1000 {
            t.insert(id(n), n);
        }
        for n in 10..1000 {
            t.remove(&id(n));
        }
        let before = t.table.capacity();
        t.shrink();
        assert!(t.table.capacity() < before / 4);
        for n in 0..10 {
            assert_eq!(t.get(&id(n)), Some(&n));
        }
    }
}
