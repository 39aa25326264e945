//! A store's state as its backend's own files (incremental checkpoints of the
//! LSM backend; see `lsm/native.rs`).
//!
//! Such a snapshot can only be restored into the LSM backend. Savepoints stay
//! canonical (key-group snapshots, portable across backends), so a state that
//! was restored from files but never registered cannot go into one: its
//! entries are in the database, but only a registered state knows how to
//! decode them.

use super::lsm::{LsmDb, NativeKeyedSnapshot, NativeRestore, NativeStateMeta};
use super::store::KeyedStateStore;
use crate::error::StateError;
use crate::keyed::StateBackendKind;
use runnel_types::Key;
use std::rc::Rc;

impl<K: Key> KeyedStateStore<K> {
    /// The store's RocksDB files as of now (the write-back caches flushed, the
    /// memtables flushed, the data files hard-linked), for an incremental
    /// checkpoint. `None` if the store cannot take one: not on the LSM
    /// backend, no database yet (no state registered or restored), or restored
    /// state not registered yet that is in the canonical format.
    pub fn native_snapshot(&mut self) -> Result<Option<NativeKeyedSnapshot>, StateError> {
        let Some(db) = self.lsm.clone() else {
            return Ok(None);
        };
        if !self.pending.is_empty() {
            return Ok(None);
        }
        let mut states = Vec::with_capacity(self.states.len());
        for state in &mut self.states {
            let table = state.slot.table_mut();
            table.flush()?;
            states.push(NativeStateMeta {
                name: state.name.clone(),
                kind: state.signature.kind,
                id: db.id_for(&state.name),
                entries: table.entry_count() as u64,
            });
        }
        states.extend(self.native_unregistered.iter().cloned());
        db.native_snapshot(self.range, states).map(Some)
    }

    /// Restores the store from native snapshots (their files downloaded),
    /// before any state is registered: one of exactly this store's key groups
    /// becomes its database; otherwise the entries of its key groups are
    /// copied out of each. States are matched by name when registered.
    pub fn restore_native(&mut self, restores: Vec<NativeRestore>) -> Result<(), StateError> {
        let StateBackendKind::Lsm(options) = self.backend else {
            let state = restores
                .iter()
                .flat_map(|r| r.states.first())
                .map(|s| s.name.clone())
                .next()
                .unwrap_or_default();
            return Err(StateError::Unsupported {
                state,
                what: "the snapshot holds the RocksDB backend's own files (an incremental \
                       checkpoint), which only `state.backend.type: rocksdb` restores; restore \
                       from a savepoint to change the backend"
                    .to_string(),
            });
        };
        if self.lsm.is_some() || !self.states.is_empty() {
            return Err(StateError::corrupt(
                "a store is restored from files before its states are registered",
            ));
        }
        let (db, states) = LsmDb::restore(&options, self.range, restores)?;
        self.lsm = Some(Rc::new(db));
        self.native_unregistered = states;
        Ok(())
    }

    /// Fails if a state restored from files is not registered: a canonical
    /// snapshot (a savepoint, or one taken without files) cannot hold it.
    pub(super) fn check_canonical(&self) -> Result<(), StateError> {
        match self.native_unregistered.first() {
            None => Ok(()),
            Some(s) => Err(StateError::Unsupported {
                state: s.name.clone(),
                what: "it was restored from an incremental checkpoint and is not registered \
                       yet, so a savepoint (which needs its entries decoded) cannot hold it; \
                       take the savepoint after the operator registered the state"
                    .to_string(),
            }),
        }
    }
}
