//! Key-group snapshots (D6): the unit of keyed state in checkpoints and rescaling.
//!
//! A key group's snapshot holds every state's entries of that key group, so the
//! key groups of one subtask can be restored into the stores of any parallelism:
//! each new store restores the key groups of its range, from whichever old subtask
//! held them.
//!
//! # Format (version 1)
//!
//! ```text
//! "RKGS" 0x01 | key group: u16 LE | states: u32 LE | state*
//! state = name length: u32 LE | name: UTF-8 | kind: u8 | entries length: u64 LE | entries
//! ```
//!
//! `entries` are written by the state's table (a count, then the entries encoded
//! with `RecordCodec`; see `encoding.rs`). States with no entry in the key group
//! are left out.
//!
//! # Restoring states that are not registered yet
//!
//! Restore usually runs before the operator's `open` registers its states. A
//! restored state whose name is not registered is kept as its snapshot bytes
//! (*pending*), included unchanged in later snapshots, and restored into the state
//! when its name is registered, which must then be of the same kind. If it never
//! is, its entries survive in every checkpoint (see
//! [`KeyedStateStore::pending_state_names`]).

use super::StateKind;
use super::backend::DetachedTable;
use super::store::{KeyedStateStore, Pending};
use crate::error::StateError;
use runnel_types::{Key, KeyGroup};

const MAGIC: &[u8; 4] = b"RKGS";
const VERSION: u8 = 1;

impl<K: Key> KeyedStateStore<K> {
    /// Serializes every state's entries of key group `group`, with their TTL
    /// timestamps. States with no entry in the group are left out, and so are
    /// entries that can never be returned again (expired, in a state that never
    /// returns expired values).
    ///
    /// Format (version 1), integers little-endian:
    ///
    /// ```text
    /// "RKGS" 0x01 | key group: u16 | states: u32 | state*
    /// state = name length: u32 | name: UTF-8 | kind: u8 | entries length: u64 | entries
    /// entries = count: u64 | entry*, each encoded with RecordCodec:
    ///   value, reducing, aggregating: (K, V, Option<i64>)
    ///   list: (K, Vec<(V, Option<i64>)>)    map: (K, Vec<(UK, UV, Option<i64>)>)
    ///   namespaced value: (K, N, V), one entry per (key, namespace)
    /// ```
    ///
    /// The `Option<i64>` is an entry's last refresh time in a TTL state, `None`
    /// otherwise.
    pub fn snapshot_key_group(&self, group: KeyGroup) -> Result<Vec<u8>, StateError> {
        self.snapshot_group(group).map(|(bytes, _)| bytes)
    }

    /// Snapshots every key group of the range that holds state, in key-group order.
    pub fn snapshot_key_groups(&self) -> Result<Vec<(KeyGroup, Vec<u8>)>, StateError> {
        #[cfg(feature = "rocksdb")]
        self.check_canonical()?;
        let mut out = Vec::new();
        for g in self.range.start..=self.range.end {
            let group = KeyGroup(g as u16);
            let (bytes, states) = self.snapshot_group(group)?;
            if states > 0 {
                out.push((group, bytes));
            }
        }
        Ok(out)
    }

    /// Adds the entries of a key-group snapshot to this store; `group` must be in
    /// its range. States are matched by name and must be of the kind they were
    /// snapshotted as. Restore usually runs before the operator registers its
    /// states: a state that is not registered yet is kept as snapshot bytes
    /// (*pending*, see [`KeyedStateStore::pending_state_names`]), included
    /// unchanged in later snapshots, and restored into the state when its name is
    /// registered. Entries restored into a TTL state from a state without TTL are
    /// stamped with the current time. On error the store is partially restored and
    /// should be discarded.
    pub fn restore_key_group(&mut self, group: KeyGroup, bytes: &[u8]) -> Result<(), StateError> {
        let index = self.group_index(group)?;
        let records = parse(bytes, group)?;
        let now = (self.time)();
        for (name, kind, entries) in records {
            if let Some(state) = self.states.iter_mut().find(|s| s.name == name) {
                if state.signature.kind != kind {
                    return Err(StateError::RestoredIncompatible {
                        name: name.to_string(),
                        restored: format!("{kind} state"),
                        requested: state.describe(),
                    });
                }
                state
                    .slot
                    .table_mut()
                    .restore_key_group(index, entries, now)?;
            } else if let Some(pending) = self.pending.iter_mut().find(|p| p.name == name) {
                if pending.kind != kind {
                    return Err(StateError::CorruptSnapshot {
                        message: format!(
                            "state `{name}` is restored both as {} and as {kind} state",
                            pending.kind
                        ),
                    });
                }
                pending.chunks.push((index, entries.to_vec()));
            } else {
                self.pending.push(Pending {
                    name: name.to_string(),
                    kind,
                    chunks: vec![(index, entries.to_vec())],
                });
            }
        }
        Ok(())
    }

    fn group_index(&self, group: KeyGroup) -> Result<usize, StateError> {
        if !self.range.contains(group) {
            return Err(StateError::KeyGroupNotInRange {
                key_group: group,
                range: self.range,
            });
        }
        Ok((u32::from(group.0) - self.range.start) as usize)
    }

    /// The snapshot of `group` and the number of states in it.
    /// Every state as of now, for an asynchronous snapshot, or `None` if some
    /// table cannot detach (then [`Self::snapshot_key_groups`] is the way). The
    /// heap tables share their key groups copy-on-write, so this copies no
    /// entries; the store may change at once, and
    /// [`DetachedKeyedSnapshot::write`] serializes, on any thread, exactly what
    /// `snapshot_key_groups` would have returned now.
    pub fn detach_snapshot(&mut self) -> Option<DetachedKeyedSnapshot> {
        #[cfg(feature = "rocksdb")]
        if self.check_canonical().is_err() {
            return None;
        }
        let mut states = Vec::with_capacity(self.states.len());
        for state in &mut self.states {
            states.push((
                state.name.clone(),
                state.signature.kind,
                state.slot.table_mut().detach()?,
            ));
        }
        let pending = self.pending.clone();
        Some(DetachedKeyedSnapshot {
            start: self.range.start,
            end: self.range.end,
            now: (self.time)(),
            states,
            pending,
        })
    }

    fn snapshot_group(&self, group: KeyGroup) -> Result<(Vec<u8>, u32), StateError> {
        #[cfg(feature = "rocksdb")]
        self.check_canonical()?;
        let index = self.group_index(group)?;
        let now = (self.time)();
        let mut out = SnapshotWriter::new(group);
        for state in &self.states {
            out.state(&state.name, state.signature.kind, |buf| {
                state.slot.table().snapshot_key_group(index, now, buf)
            })?;
        }
        for pending in &self.pending {
            for (_, entries) in pending.chunks.iter().filter(|(g, _)| *g == index) {
                out.state(&pending.name, pending.kind, |buf| {
                    buf.extend_from_slice(entries);
                    Ok(1)
                })?;
            }
        }
        Ok(out.finish())
    }
}

/// A store's states as of [`KeyedStateStore::detach_snapshot`].
pub struct DetachedKeyedSnapshot {
    start: u32,
    end: u32,
    now: i64,
    states: Vec<(String, StateKind, Box<dyn DetachedTable>)>,
    pending: Vec<Pending>,
}

impl std::fmt::Debug for DetachedKeyedSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetachedKeyedSnapshot")
            .field("key_groups", &(self.start..=self.end))
            .field("states", &self.states.len())
            .finish()
    }
}

impl DetachedKeyedSnapshot {
    /// Serializes every key group of the range that holds state, in key-group
    /// order (the result of [`KeyedStateStore::snapshot_key_groups`] at the time
    /// of the copy).
    pub fn write(&self) -> Result<Vec<(KeyGroup, Vec<u8>)>, StateError> {
        let mut out = Vec::new();
        for g in self.start..=self.end {
            let group = KeyGroup(g as u16);
            let index = (g - self.start) as usize;
            let mut writer = SnapshotWriter::new(group);
            for (name, kind, table) in &self.states {
                writer.state(name, *kind, |buf| {
                    table.snapshot_key_group(index, self.now, buf)
                })?;
            }
            for p in &self.pending {
                for (_, entries) in p.chunks.iter().filter(|(i, _)| *i == index) {
                    writer.state(&p.name, p.kind, |buf| {
                        buf.extend_from_slice(entries);
                        Ok(1)
                    })?;
                }
            }
            let (bytes, states) = writer.finish();
            if states > 0 {
                out.push((group, bytes));
            }
        }
        Ok(out)
    }
}

/// Builds a key-group snapshot.
struct SnapshotWriter {
    buf: Vec<u8>,
    states: u32,
    states_at: usize,
}

impl SnapshotWriter {
    fn new(group: KeyGroup) -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(MAGIC);
        buf.push(VERSION);
        buf.extend_from_slice(&group.0.to_le_bytes());
        let states_at = buf.len();
        buf.extend_from_slice(&0u32.to_le_bytes());
        SnapshotWriter {
            buf,
            states: 0,
            states_at,
        }
    }

    /// Adds a state; `write` appends its entries and returns how many it wrote (a
    /// state without entries is left out).
    fn state(
        &mut self,
        name: &str,
        kind: StateKind,
        write: impl FnOnce(&mut Vec<u8>) -> Result<usize, StateError>,
    ) -> Result<(), StateError> {
        let start = self.buf.len();
        let name_len = u32::try_from(name.len())
            .map_err(|_| StateError::corrupt(format!("state name of {} bytes", name.len())))?;
        self.buf.extend_from_slice(&name_len.to_le_bytes());
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(kind.code());
        let len_at = self.buf.len();
        self.buf.extend_from_slice(&0u64.to_le_bytes());
        if write(&mut self.buf)? == 0 {
            self.buf.truncate(start);
            return Ok(());
        }
        let len = (self.buf.len() - len_at - 8) as u64;
        self.buf[len_at..len_at + 8].copy_from_slice(&len.to_le_bytes());
        self.states += 1;
        Ok(())
    }

    fn finish(mut self) -> (Vec<u8>, u32) {
        self.buf[self.states_at..self.states_at + 4].copy_from_slice(&self.states.to_le_bytes());
        (self.buf, self.states)
    }
}

/// Reads the byte fields of a snapshot.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], StateError> {
        if self.0.len() < n {
            return Err(StateError::corrupt(format!(
                "key-group snapshot truncated in {what}"
            )));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], StateError> {
        let bytes = self.take(N, what)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }
}

/// One state in a key-group snapshot: name, kind and entries.
type Record<'a> = (&'a str, StateKind, &'a [u8]);

/// The states of a key-group snapshot.
fn parse(bytes: &[u8], group: KeyGroup) -> Result<Vec<Record<'_>>, StateError> {
    let mut c = Cursor(bytes);
    if c.take(4, "the header")? != MAGIC {
        return Err(StateError::corrupt("not a key-group snapshot"));
    }
    let version = c.array::<1>("the header")?[0];
    if version != VERSION {
        return Err(StateError::corrupt(format!(
            "key-group snapshot version {version} is not supported (expected {VERSION})"
        )));
    }
    let written = KeyGroup(u16::from_le_bytes(c.array("the header")?));
    if written != group {
        return Err(StateError::corrupt(format!(
            "the snapshot of key group {written} cannot be restored as key group {group}"
        )));
    }
    let count = u32::from_le_bytes(c.array("the header")?);
    let mut states = Vec::new();
    for _ in 0..count {
        let name_len = u32::from_le_bytes(c.array("a state name")?) as usize;
        let name = std::str::from_utf8(c.take(name_len, "a state name")?)
            .map_err(|_| StateError::corrupt("a state name is not UTF-8"))?;
        let code = c.array::<1>("a state kind")?[0];
        let kind = StateKind::from_code(code).ok_or_else(|| {
            StateError::corrupt(format!("state `{name}` has unknown kind {code}"))
        })?;
        let len = u64::from_le_bytes(c.array("an entries length")?);
        let len =
            usize::try_from(len).map_err(|_| StateError::corrupt("an entries length overflows"))?;
        states.push((name, kind, c.take(len, "the entries")?));
    }
    if !c.0.is_empty() {
        return Err(StateError::corrupt(format!(
            "{} trailing bytes after the key-group snapshot",
            c.0.len()
        )));
    }
    Ok(states)
}

#[cfg(test)]
mod tests;
