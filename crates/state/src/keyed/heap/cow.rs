//! Copy-on-write key groups: how a heap table is snapshotted without stopping.
//!
//! A table keeps one map per key group. A snapshot takes a reference to every
//! map ([`CowGroups::share`]: one `Arc` clone per key group, no copy of data)
//! and serializes them on another thread. Until then, the first write to a
//! shared key group copies that group's map (or takes it back without a copy
//! if the snapshot is already done with it); reads and later writes go to the
//! table's own map directly. So a checkpoint pauses the task for the copy of
//! the references, plus, afterwards, one map copy per key group that is written
//! while its snapshot is still being serialized.

use std::ops::{Index, IndexMut};
use std::sync::Arc;

/// One key group's map: the table's alone, or shared with a snapshot.
enum Slot<M> {
    Owned(M),
    Shared(Arc<M>),
}

/// The maps of a table's key groups.
pub(crate) struct CowGroups<M> {
    slots: Vec<Slot<M>>,
}

impl<M: Default> CowGroups<M> {
    /// `n` empty key groups.
    pub(crate) fn new(n: usize) -> Self {
        CowGroups {
            slots: (0..n).map(|_| Slot::Owned(M::default())).collect(),
        }
    }
}

impl<M> CowGroups<M> {
    /// The number of key groups.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The maps, read-only.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &M> {
        (0..self.slots.len()).map(|g| &self[g])
    }

    /// References to every map as it is now, for a snapshot.
    pub(crate) fn share(&mut self) -> Vec<Arc<M>>
    where
        M: Default,
    {
        self.slots
            .iter_mut()
            .map(|slot| match slot {
                Slot::Shared(shared) => shared.clone(),
                Slot::Owned(map) => {
                    let shared = Arc::new(std::mem::take(map));
                    *slot = Slot::Shared(shared.clone());
                    shared
                }
            })
            .collect()
    }
}

impl<M> Index<usize> for CowGroups<M> {
    type Output = M;

    #[inline]
    fn index(&self, group: usize) -> &M {
        match &self.slots[group] {
            Slot::Owned(map) => map,
            Slot::Shared(shared) => shared,
        }
    }
}

impl<M: Clone + Default> IndexMut<usize> for CowGroups<M> {
    #[inline]
    fn index_mut(&mut self, group: usize) -> &mut M {
        let slot = &mut self.slots[group];
        if let Slot::Shared(shared) = slot {
            // The snapshot may be done with it already: then no copy is made.
            let shared = std::mem::replace(shared, Arc::new(M::default()));
            *slot = Slot::Owned(Arc::try_unwrap(shared).unwrap_or_else(|s| (*s).clone()));
        }
        match slot {
            Slot::Owned(map) => map,
            Slot::Shared(shared) => Arc::make_mut(shared),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_group_is_copied_on_its_first_write_only() {
        let mut groups: CowGroups<Vec<u32>> = CowGroups::new(3);
        groups[0].push(1);
        groups[1].push(2);
        let snapshot = groups.share();
        groups[0].push(10);
        assert_eq!(*snapshot[0], vec![1], "the snapshot keeps what it saw");
        assert_eq!(groups[0], vec![1, 10]);
        assert_eq!(groups[1], vec![2], "reads need no copy");
        // Reads of a shared group see the shared map itself.
        let shared: *const Vec<u32> = &*snapshot[1];
        let read: *const Vec<u32> = &groups[1];
        assert_eq!(shared, read);
        drop(snapshot);
        groups[1].push(3);
        assert_eq!(groups[1], vec![2, 3]);
        let again = groups.share();
        assert_eq!(*again[1], vec![2, 3]);
        assert_eq!(groups.len(), 3);
    }
}
