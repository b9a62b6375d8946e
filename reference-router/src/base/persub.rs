//! Per-subscriber state that stays cheap for `[[subscriber_range]]`s: a dense
//! vector for the `[[subscriber]]` entries (each has its own TUN: few, and all
//! configured), and a hash map for range subscribers holding only those whose
//! state differs from the empty value. A /16 range costs nothing until its
//! subscribers send.

use crate::iface::SubscriberId;
use foldhash::fast::RandomState;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A `T` per subscriber, `empty` for those never touched.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct PerSubscriber<T> {
    dense: Vec<T>,
    sparse: HashMap<SubscriberId, T, RandomState>,
    empty: T,
}

impl<T: Clone + PartialEq> PerSubscriber<T> {
    /// `empty` for every subscriber; ids below `dense` are kept in a vector.
    pub(crate) fn new(dense: usize, empty: T) -> PerSubscriber<T> {
        PerSubscriber {
            dense: vec![empty.clone(); dense],
            sparse: HashMap::default(),
            empty,
        }
    }

    /// Subscriber `id`'s value.
    pub(crate) fn get(&self, id: SubscriberId) -> &T {
        match self.dense.get(id as usize) {
            Some(v) => v,
            None => self.sparse.get(&id).unwrap_or(&self.empty),
        }
    }

    /// Changes subscriber `id`'s value with `f`; a range subscriber whose value
    /// is empty again is forgotten.
    pub(crate) fn update<R>(&mut self, id: SubscriberId, f: impl FnOnce(&mut T) -> R) -> R {
        if let Some(v) = self.dense.get_mut(id as usize) {
            return f(v);
        }
        let v = self.sparse.entry(id).or_insert_with(|| self.empty.clone());
        let r = f(v);
        if *v == self.empty {
            self.sparse.remove(&id);
        }
        r
    }

    /// Empties the value of every subscriber `gone` says is gone (a reload
    /// removed it; ids are never given again).
    pub(crate) fn forget(&mut self, gone: &dyn Fn(SubscriberId) -> bool) {
        for (id, v) in self.dense.iter_mut().enumerate() {
            if gone(id as SubscriberId) {
                *v = self.empty.clone();
            }
        }
        self.sparse.retain(|&id, _| !gone(id));
    }

    /// Range subscribers with a value other than the empty one.
    pub(crate) fn sparse_ids(&self) -> impl Iterator<Item = SubscriberId> + '_ {
        self.sparse.keys().copied()
    }

    /// Subscribers kept in the vector (the `[[subscriber]]` entries).
    pub(crate) fn dense_len(&self) -> usize {
        self.dense.len()
    }

    /// Range subscribers held.
    #[cfg(test)]
    pub(crate) fn sparse_len(&self) -> usize {
        self.sparse.len()
    }
}

impl<T: Clone + PartialEq + Default> Default for PerSubscriber<T> {
    fn default() -> PerSubscriber<T> {
        PerSubscriber::new(0, T::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_ids_keep_their_slot_and_sparse_ones_are_forgotten_when_empty() {
        let mut p = PerSubscriber::new(2, 0u32);
        assert_eq!((*p.get(1), *p.get(70_000)), (0, 0));
        p.update(1, |v| *v += 3);
        p.update(70_000, |v| *v += 5);
        assert_eq!((*p.get(1), *p.get(70_000), p.sparse_len()), (3, 5, 1));
        p.update(70_000, |v| *v -= 5);
        p.update(1, |v| *v -= 3);
        assert_eq!((*p.get(70_000), p.sparse_len()), (0, 0));
        assert_eq!(p.sparse_ids().count(), 0);
        // Looking at an untouched id allocates nothing.
        assert_eq!(*p.get(1 << 20), 0);
        assert_eq!(p.sparse_len(), 0);
    }
}
