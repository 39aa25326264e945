//! The LSM backend: keyed state in an embedded RocksDB instance on local disk, so
//! keyed state can exceed memory (feature `rocksdb`).
//!
//! One RocksDB instance ([`LsmDb`]) belongs to one [`KeyedStateStore`](crate::KeyedStateStore)
//! (one keyed operator subtask), in a fresh directory under the configured working
//! directory that is deleted when the store is dropped. Its memory is bounded by a
//! budget split between the memtables, the block cache (which also holds index
//! and filter blocks) and the write-back cache of decoded value and namespaced
//! entries in front of RocksDB (`cache.rs`). Nothing is written to RocksDB's WAL: durability comes from
//! checkpoints, which hold the canonical per-key-group format of `encoding.rs`.
//!
//! # Key layout
//!
//! Every entry of every state lives in the one default column family under
//!
//! ```text
//! [key group: u16 BE][state id: u32 BE][RecordCodec(K)][RecordCodec(UK or N)]
//! ```
//!
//! Key group first, so that the entries of one key group (and, with the state id,
//! of one state in one key group) are one contiguous prefix range: a snapshot of a
//! key group is a prefix iteration, a restore is a batch write, and a rescale never
//! has to scan other groups. The state id is assigned per registered state. Keys
//! and user keys are encoded with the self-delimiting `RecordCodec`, so the
//! encoding of one key is never a prefix of another's: the entries of one key's
//! map (or namespaces) are the prefix range of `[group][id][K]`.
//!
//! Values: `RecordCodec((Option<i64>, V))` for value state and map entries (the
//! `Option<i64>` is the TTL stamp, `None` without TTL), `[u32 LE element
//! count]` then `RecordCodec((V, Option<i64>))` per element for lists (so an append
//! does not decode the list), and `RecordCodec(V)` for namespaced state.
//!
//! TTL follows [`crate::ttl`] on every read and in snapshots; expired entries that
//! are not read are removed by [`KeyedStateStore::cleanup_expired`](crate::KeyedStateStore::cleanup_expired).
//! The incremental per-access cleanup is not run on this backend.

mod cache;
mod native;
mod tables;
#[cfg(test)]
mod tests;

use super::backend::{
    DetachedTable, KeyedTable, ListTable, MapTable, NamespacedValueTable, TableSpec, ValueTable,
};
use super::encoding::{EntryReader, EntryWriter};
use crate::error::StateError;
use crate::ttl::StateTtlConfig;
use rocksdb::{
    BlockBasedOptions, Cache, DB, DBPinnableSlice, Options, ReadOptions, SnapshotWithThreadMode,
    WriteBatch, WriteOptions,
};
use runnel_types::{Data, Key, RecordCodec};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

/// How the LSM backend is set up: where its files go and how much memory it may
/// use. `Copy`, like [`StateBackendKind`](crate::StateBackendKind) that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LsmOptions {
    /// The working directory the stores' directories are created in (default:
    /// [`std::env::temp_dir`]).
    pub local_dir: Option<&'static Path>,
    /// The memory budget of one store in bytes: a quarter for the memtables, half
    /// for the block cache, and a quarter for the decoded entries cached by the
    /// tables (see `cache.rs`).
    pub memory_budget: usize,
}

impl Default for LsmOptions {
    fn default() -> Self {
        LsmOptions {
            local_dir: None,
            memory_budget: 64 * 1024 * 1024,
        }
    }
}

/// Deletes the store's directory once the database is closed (declared after the
/// database in [`Shared`], so dropped after it).
#[derive(Debug)]
struct OwnedDir(PathBuf);

impl Drop for OwnedDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The database and its directory, shared by the store and the readers of the
/// snapshots detached from its tables ([`DetachedLsmTable`]), which may outlive
/// the store: the database is closed and its directory deleted when the last
/// of them is dropped.
///
/// `Send + Sync` (so `Arc<Shared>` is `Send`): `rocksdb::DB` is both (RocksDB
/// is thread-safe), and so are a path and a block cache handle.
struct Shared {
    // Field order matters: the database is closed before its directory is
    // deleted.
    db: DB,
    _cache: Cache,
    dir: OwnedDir,
}

pub use native::{NativeKeyedSnapshot, NativeRestore, NativeSnapshotFile, NativeStateMeta};

/// The RocksDB instance of one store.
pub(crate) struct LsmDb {
    shared: Arc<Shared>,
    write: WriteOptions,
    /// Names this instance in the names of its files kept by checkpoints.
    uid: String,
    /// The key prefix of each state, by name: kept across a restore from the
    /// database's own files, so their entries are found again.
    ids: RefCell<BTreeMap<String, u32>>,
    /// Entries of each state restored from files, until it is registered.
    restored_counts: RefCell<HashMap<String, usize>>,
    /// Where each restored data file was downloaded from (so a checkpoint can
    /// reference the copy instead of uploading it again).
    restored_from: HashMap<String, String>,
    /// The budget of the tables' write-back caches.
    budget: Rc<cache::Budget>,
}

impl std::fmt::Debug for LsmDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LsmDb")
            .field("dir", &self.shared.dir.0)
            .finish()
    }
}

impl LsmDb {
    fn db(&self) -> &DB {
        &self.shared.db
    }
}

fn backend_error(state: &str, e: impl std::fmt::Display) -> StateError {
    StateError::Backend {
        state: state.to_string(),
        message: e.to_string(),
    }
}

/// A fresh directory `runnel-lsm-<what>-<pid>-<n>` under the options' working
/// directory, deleted when dropped.
fn fresh_dir(options: &LsmOptions, what: &str) -> Result<OwnedDir, StateError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = options
        .local_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let fail = |what: &str, e: &dyn std::fmt::Display| StateError::Backend {
        state: "(lsm store)".to_string(),
        message: format!("{what} in {}: {e}", base.display()),
    };
    std::fs::create_dir_all(&base).map_err(|e| fail("cannot create the working directory", &e))?;
    // pid and a counter name the directory; one left by an earlier process of
    // the same pid is skipped.
    loop {
        let path = base.join(format!(
            "runnel-lsm-{what}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(OwnedDir(path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(fail("cannot create a store directory", &e)),
        }
    }
}

/// A name for a database instance, unique across processes and runs: the
/// standard library's per-process random hash keys, the pid and a counter.
fn instance_uid() -> String {
    use std::hash::{BuildHasher, Hasher};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
    format!("{:016x}", h.finish())
}

impl LsmDb {
    /// Opens a database in a fresh directory under the options' working directory.
    pub(crate) fn open(options: &LsmOptions) -> Result<LsmDb, StateError> {
        Self::open_in(options, fresh_dir(options, "")?, BTreeMap::new())
    }

    /// Opens the database in `dir` (empty, or restored files), with the state
    /// ids its files use.
    fn open_in(
        options: &LsmOptions,
        dir: OwnedDir,
        ids: BTreeMap<String, u32>,
    ) -> Result<LsmDb, StateError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| StateError::Backend {
            state: "(lsm store)".to_string(),
            message: format!("{what} in {}: {e}", dir.0.display()),
        };
        let budget = options.memory_budget.max(1024 * 1024);
        let cache = Cache::new_lru_cache(budget / 2)
            .map_err(|e| fail("cannot create the block cache", &e))?;
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_cache_index_and_filter_blocks(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        // Most misses of the tables' caches are reads of entries that do not
        // exist yet (a new key or window): bloom filters answer them.
        table.set_bloom_filter(10.0, false);
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_block_based_table_factory(&table);
        opts.set_write_buffer_size(budget / 8);
        opts.set_max_write_buffer_number(2);
        opts.set_db_write_buffer_size(budget / 4);
        opts.set_max_open_files(256);
        // The same for the memtables: after a checkpoint flushed the cached
        // entries (and their removals) into them, a miss would otherwise walk
        // the skip list.
        opts.set_memtable_whole_key_filtering(true);
        opts.set_memtable_prefix_bloom_ratio(0.05);
        let db = DB::open(&opts, &dir.0).map_err(|e| fail("cannot open RocksDB", &e))?;
        let mut write = WriteOptions::default();
        write.disable_wal(true);
        Ok(LsmDb {
            shared: Arc::new(Shared {
                db,
                _cache: cache,
                dir,
            }),
            write,
            uid: instance_uid(),
            ids: RefCell::new(ids),
            restored_counts: RefCell::new(HashMap::new()),
            restored_from: HashMap::new(),
            budget: cache::Budget::new(budget / 4),
        })
    }

    /// The directory of the database.
    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.shared.dir.0
    }

    /// Changes the bytes the tables' caches may hold.
    #[cfg(test)]
    pub(crate) fn set_cache_budget(&self, bytes: usize) {
        self.budget.set_limit(bytes);
    }

    /// The key prefix of state `name`: the one its restored entries have, or
    /// the next unused one.
    pub(crate) fn id_for(&self, name: &str) -> u32 {
        let mut ids = self.ids.borrow_mut();
        if let Some(id) = ids.get(name) {
            return *id;
        }
        let id = ids.values().max().map_or(0, |m| m + 1);
        ids.insert(name.to_string(), id);
        id
    }

    /// The number of entries restored from files for state `name`.
    fn take_restored_count(&self, name: &str) -> usize {
        self.restored_counts.borrow_mut().remove(name).unwrap_or(0)
    }
}

/// The end of the range of keys starting with `prefix`, if there is one.
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A table's TTL rules, as the heap backend applies them (see [`crate::ttl`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expiry {
    ttl: Option<StateTtlConfig>,
}

/// What a read finds in a stamped entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Not expired; `refreshed` if the read moved its stamp to now.
    Live { refreshed: bool },
    /// Expired: the read removes it, and returns it only if `visible`.
    Expired { visible: bool },
}

impl Expiry {
    fn stamp(&self, now: i64) -> Option<i64> {
        self.ttl.map(|_| now)
    }

    fn restored(&self, time: Option<i64>, now: i64) -> Option<i64> {
        self.ttl.map(|_| time.unwrap_or(now))
    }

    fn is_expired(&self, stamp: Option<i64>, now: i64) -> bool {
        match (stamp, &self.ttl) {
            (Some(t), Some(ttl)) => ttl.is_expired(t, now),
            _ => false,
        }
    }

    fn returns_expired(&self) -> bool {
        self.ttl.is_some_and(|t| t.returns_expired())
    }

    fn on_read(&self, stamp: &mut Option<i64>, now: i64) -> Seen {
        match (*stamp, &self.ttl) {
            (Some(t), Some(ttl)) if ttl.is_expired(t, now) => Seen::Expired {
                visible: ttl.returns_expired(),
            },
            (Some(t), Some(ttl)) if ttl.refreshes_on_read() && t != now => {
                *stamp = Some(now);
                Seen::Live { refreshed: true }
            }
            _ => Seen::Live { refreshed: false },
        }
    }

    fn snapshot_keeps(&self, stamp: Option<i64>, now: i64) -> bool {
        self.returns_expired() || !self.is_expired(stamp, now)
    }
}

/// What a table's entries are: its name, id, key groups and TTL rules (`Send`,
/// and shared with the snapshots detached from the table).
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    name: String,
    id: u32,
    /// The first key group of the store's range.
    start: u32,
    groups: usize,
    expiry: Expiry,
}

/// What every LSM table has: its database, [`Meta`] (through `Deref`), and its
/// entry count.
pub(crate) struct Base {
    db: Rc<LsmDb>,
    meta: Meta,
    count: usize,
}

impl Deref for Base {
    type Target = Meta;

    fn deref(&self) -> &Meta {
        &self.meta
    }
}

impl Base {
    fn new(spec: &TableSpec<'_>, db: &Rc<LsmDb>) -> Base {
        Base {
            db: Rc::clone(db),
            meta: Meta {
                name: spec.name.to_string(),
                id: db.id_for(spec.name),
                start: spec.range.start,
                groups: spec.range.len() as usize,
                expiry: Expiry {
                    ttl: spec.ttl.copied(),
                },
            },
            count: db.take_restored_count(spec.name),
        }
    }

    /// A reader of the table's entries in the database as it is.
    fn reader(&self) -> Reader<'_> {
        Reader {
            meta: &self.meta,
            db: self.db.db(),
            snapshot: None,
        }
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.db.db().get(key).map_err(|e| self.error(e))
    }

    fn get_pinned(&self, key: &[u8]) -> Result<Option<DBPinnableSlice<'_>>, StateError> {
        self.db.db().get_pinned(key).map_err(|e| self.error(e))
    }

    fn exists(&self, key: &[u8]) -> Result<bool, StateError> {
        Ok(self
            .db
            .db()
            .get_pinned(key)
            .map_err(|e| self.error(e))?
            .is_some())
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.db
            .db()
            .put_opt(key, value, &self.db.write)
            .map_err(|e| self.error(e))
    }

    fn delete(&self, key: &[u8]) -> Result<(), StateError> {
        self.db
            .db()
            .delete_opt(key, &self.db.write)
            .map_err(|e| self.error(e))
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StateError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.db
            .db()
            .write_opt(batch, &self.db.write)
            .map_err(|e| self.error(e))
    }

    /// Calls `f` with every (key, value) whose key starts with `prefix`, in key
    /// order, until it returns `false`.
    fn scan(
        &self,
        prefix: &[u8],
        f: impl FnMut(&[u8], &[u8]) -> Result<bool, StateError>,
    ) -> Result<(), StateError> {
        self.reader().scan(prefix, f)
    }
}

/// Reads a table's entries: from the database as it is, or from a snapshot of
/// it. Derefs to the table's [`Meta`].
pub(crate) struct Reader<'a> {
    meta: &'a Meta,
    db: &'a DB,
    snapshot: Option<&'a SnapshotWithThreadMode<'a, DB>>,
}

impl Deref for Reader<'_> {
    type Target = Meta;

    fn deref(&self) -> &Meta {
        self.meta
    }
}

impl Reader<'_> {
    /// Calls `f` with every (key, value) whose key starts with `prefix`, in key
    /// order, until it returns `false`.
    fn scan(
        &self,
        prefix: &[u8],
        mut f: impl FnMut(&[u8], &[u8]) -> Result<bool, StateError>,
    ) -> Result<(), StateError> {
        let mut read = ReadOptions::default();
        if let Some(end) = successor(prefix) {
            read.set_iterate_upper_bound(end);
        }
        if let Some(snapshot) = self.snapshot {
            read.set_snapshot(snapshot);
        }
        let mut it = self.db.raw_iterator_opt(read);
        it.seek(prefix);
        while it.valid() {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            if !k.starts_with(prefix) || !f(k, v)? {
                break;
            }
            it.next();
        }
        it.status().map_err(|e| self.error(e))
    }
}

impl Meta {
    fn error(&self, e: impl std::fmt::Display) -> StateError {
        backend_error(&self.name, e)
    }

    /// `[group][id]` of key group index `group`.
    fn prefix(&self, group: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        self.write_prefix(&mut out, group);
        out
    }

    /// Appends `[group][id]` of key group index `group` to `out`.
    fn write_prefix(&self, out: &mut Vec<u8>, group: usize) {
        let absolute = self.start as usize + group;
        out.extend_from_slice(&(absolute as u16).to_be_bytes());
        out.extend_from_slice(&self.id.to_be_bytes());
    }

    fn append<T: Serialize + ?Sized>(
        &self,
        out: &mut Vec<u8>,
        value: &T,
    ) -> Result<(), StateError> {
        RecordCodec::encode_into(value, out).map_err(|e| StateError::codec(&self.name, e))
    }

    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, StateError> {
        let mut out = Vec::new();
        self.append(&mut out, value)?;
        Ok(out)
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<(T, usize), StateError> {
        RecordCodec::decode_prefix(bytes).map_err(|e| StateError::codec(&self.name, e))
    }

    /// `[group][id][K]`.
    fn key<K: Serialize>(&self, group: usize, key: &K) -> Result<Vec<u8>, StateError> {
        let mut out = self.prefix(group);
        self.append(&mut out, key)?;
        Ok(out)
    }

    /// `[group][id][K][sub]`.
    fn sub_key<K: Serialize, S: Serialize>(
        &self,
        group: usize,
        key: &K,
        sub: &S,
    ) -> Result<Vec<u8>, StateError> {
        let mut out = self.key(group, key)?;
        self.append(&mut out, sub)?;
        Ok(out)
    }
}

/// A table's write-back cache (see `cache.rs`), if it has one.
pub(crate) trait TableCache: 'static {
    fn new(budget: &Rc<cache::Budget>) -> Self;

    /// Writes the dirty entries to RocksDB.
    fn flush(&mut self, base: &Base) -> Result<(), StateError>;

    /// Writes the dirty entries to RocksDB and forgets every entry.
    fn clear(&mut self, base: &Base) -> Result<(), StateError>;
}

/// The cache of tables that have none.
pub(crate) struct NoCache;

impl TableCache for NoCache {
    fn new(_budget: &Rc<cache::Budget>) -> Self {
        NoCache
    }

    fn flush(&mut self, _base: &Base) -> Result<(), StateError> {
        Ok(())
    }

    fn clear(&mut self, _base: &Base) -> Result<(), StateError> {
        Ok(())
    }
}

/// How one kind of table lays out its entries; the untyped operations.
pub(crate) trait Layout<K>: 'static {
    /// The table's cache.
    type Cache: TableCache;

    /// Writes the entries of key group `group` in the format of `encoding.rs`,
    /// read through `base` (the database as it is, or a detached snapshot).
    fn snapshot(
        base: &Reader<'_>,
        group: usize,
        now: i64,
        out: &mut EntryWriter<'_>,
    ) -> Result<(), StateError>;

    /// Adds the entries read from a snapshot to key group `group`.
    fn restore(
        base: &mut Base,
        group: usize,
        input: &mut EntryReader<'_>,
        now: i64,
    ) -> Result<(), StateError>;

    /// Removes the expired entries of key group `group`; returns how many.
    fn clean(base: &mut Base, group: usize, now: i64) -> Result<usize, StateError>;
}

/// An LSM table of layout `L` (one of the markers in `tables`).
///
/// RocksDB holds every entry except those in the cache that are dirty; the
/// operations that read RocksDB beyond one key flush the cache first (a snapshot
/// takes `&self`, hence the `RefCell`), and those that change RocksDB behind the
/// cache's back empty it.
pub(crate) struct LsmTable<K: 'static, L: Layout<K>> {
    base: Base,
    cache: RefCell<L::Cache>,
    _types: PhantomData<fn() -> (K, L)>,
}

impl<K: 'static, L: Layout<K>> LsmTable<K, L> {
    fn new(spec: &TableSpec<'_>, db: &Rc<LsmDb>) -> Self {
        LsmTable {
            base: Base::new(spec, db),
            cache: RefCell::new(L::Cache::new(&db.budget)),
            _types: PhantomData,
        }
    }

    /// The table's cache and base, split.
    fn parts(&mut self) -> (&mut L::Cache, &mut Base) {
        (self.cache.get_mut(), &mut self.base)
    }
}

impl<K: Key, L: Layout<K>> KeyedTable<K> for LsmTable<K, L> {
    /// Flushes the cache and takes a RocksDB snapshot (O(1)); the entries are
    /// read from it later, off the task thread (see [`DetachedLsmTable`]).
    /// `None` if the flush fails or no reader thread can be started: the
    /// synchronous snapshot then runs (and reports the error).
    fn detach(&mut self) -> Option<Box<dyn DetachedTable>> {
        let (cache, base) = self.parts();
        cache.flush(base).ok()?;
        let detached =
            DetachedLsmTable::<K, L>::start(&self.base.db.shared, self.base.meta.clone())?;
        Some(Box::new(detached))
    }

    fn entry_count(&self) -> usize {
        self.base.count
    }

    fn cleanup_expired(&mut self, now: i64) -> usize {
        if self.base.expiry.ttl.is_none() {
            return 0;
        }
        let (cache, base) = self.parts();
        if cache.clear(base).is_err() {
            // Expired entries stay until a later cleanup, and reads expire them.
            return 0;
        }
        let mut removed = 0;
        for group in 0..self.base.groups {
            // A failing cleanup leaves entries that reads still expire.
            removed += L::clean(&mut self.base, group, now).unwrap_or(0);
        }
        removed
    }

    fn cleanup_incrementally(&mut self, _now: i64) {}

    fn flush(&mut self) -> Result<(), StateError> {
        let (cache, base) = self.parts();
        cache.flush(base)
    }

    fn snapshot_key_group(
        &self,
        group: usize,
        now: i64,
        out: &mut Vec<u8>,
    ) -> Result<usize, StateError> {
        self.cache.borrow_mut().flush(&self.base)?;
        let mut writer = EntryWriter::new(&self.base.name, out);
        L::snapshot(&self.base.reader(), group, now, &mut writer)?;
        Ok(writer.finish())
    }

    fn restore_key_group(
        &mut self,
        group: usize,
        bytes: &[u8],
        now: i64,
    ) -> Result<(), StateError> {
        let (cache, base) = self.parts();
        cache.clear(base)?;
        let name = self.base.name.clone();
        let mut reader = EntryReader::new(&name, bytes)?;
        L::restore(&mut self.base, group, &mut reader, now)
    }
}

/// A request to a detached table's reader: key group, `now`, and the buffer
/// to append the entries to.
type ReadRequest = (usize, i64, Vec<u8>);
/// The reader's answer: the buffer, and the keys written or the error.
type ReadReply = (Vec<u8>, Result<usize, StateError>);

/// An LSM table's entries as of [`KeyedTable::detach`]: a RocksDB snapshot,
/// held by a reader thread of its own.
///
/// A RocksDB snapshot borrows its database, and the crate forbids `unsafe`, so
/// the snapshot cannot be stored next to an `Arc` of the database here.
/// Instead [`DetachedLsmTable::start`] spawns a thread that owns an
/// `Arc<Shared>` and takes the snapshot on its stack (an ordinary borrow of
/// the `Arc`), then serves each [`DetachedTable::snapshot_key_group`] call
/// (one round trip over channels; the buffer is moved, not copied) until the
/// detached table is dropped, which closes the channel: the thread then
/// releases the snapshot and its `Arc`. The database stays open, and its
/// directory in place, until both the store and every detached table are gone.
///
/// `Send` with no `unsafe impl`: it holds only the two channel ends (`Send`
/// for `Send` messages: buffers, key group indexes and `StateError`s) and a
/// `PhantomData` of a function pointer type. Nothing of the store's
/// non-`Send` parts (its `Rc`s and caches) leaves the task thread; the reader
/// thread uses only `Arc<Shared>`, which is `Send` because `rocksdb::DB` is
/// `Send + Sync` (RocksDB is thread-safe, and so are its snapshots).
struct DetachedLsmTable<K, L> {
    requests: mpsc::Sender<ReadRequest>,
    replies: mpsc::Receiver<ReadReply>,
    _types: PhantomData<fn() -> (K, L)>,
}

impl<K: Key, L: Layout<K>> DetachedLsmTable<K, L> {
    /// Starts the reader of a snapshot of `shared` taken now, and waits until
    /// the snapshot is taken (so later writes are not in it). `None` if the
    /// thread cannot be started.
    fn start(shared: &Arc<Shared>, meta: Meta) -> Option<Self> {
        let shared = Arc::clone(shared);
        let (requests, requests_rx) = mpsc::channel::<ReadRequest>();
        let (replies_tx, replies) = mpsc::channel::<ReadReply>();
        let (taken_tx, taken) = mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("runnel-lsm-snapshot".to_string())
            .spawn(move || {
                let snapshot = shared.db.snapshot();
                if taken_tx.send(()).is_err() {
                    return;
                }
                let reader = Reader {
                    meta: &meta,
                    db: &shared.db,
                    snapshot: Some(&snapshot),
                };
                // Ends when the detached table is dropped; `snapshot` (a
                // local) is released before the captured `shared` drops.
                for (group, now, mut out) in requests_rx {
                    let mut writer = EntryWriter::new(&meta.name, &mut out);
                    let result =
                        L::snapshot(&reader, group, now, &mut writer).map(|()| writer.finish());
                    if replies_tx.send((out, result)).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        taken.recv().ok()?;
        Some(DetachedLsmTable {
            requests,
            replies,
            _types: PhantomData,
        })
    }
}

impl<K: Key, L: Layout<K>> DetachedTable for DetachedLsmTable<K, L> {
    fn snapshot_key_group(
        &self,
        group: usize,
        now: i64,
        out: &mut Vec<u8>,
    ) -> Result<usize, StateError> {
        let stopped = || StateError::Backend {
            state: "(lsm snapshot)".to_string(),
            message: "the snapshot's reader thread stopped".to_string(),
        };
        self.requests
            .send((group, now, std::mem::take(out)))
            .map_err(|_| stopped())?;
        let (buffer, result) = self.replies.recv().map_err(|_| stopped())?;
        *out = buffer;
        result
    }
}

/// An LSM value table for `spec`.
pub(crate) fn value_table<K: Key, V: Data>(
    spec: &TableSpec<'_>,
    db: &Rc<LsmDb>,
) -> Box<dyn ValueTable<K, V>> {
    Box::new(LsmTable::<K, tables::Values<V>>::new(spec, db))
}

/// An LSM list table for `spec`.
pub(crate) fn list_table<K: Key, V: Data>(
    spec: &TableSpec<'_>,
    db: &Rc<LsmDb>,
) -> Box<dyn ListTable<K, V>> {
    Box::new(LsmTable::<K, tables::Lists<V>>::new(spec, db))
}

/// An LSM map table for `spec`.
pub(crate) fn map_table<K: Key, UK: Key, UV: Data>(
    spec: &TableSpec<'_>,
    db: &Rc<LsmDb>,
) -> Box<dyn MapTable<K, UK, UV>> {
    Box::new(LsmTable::<K, tables::Maps<UK, UV>>::new(spec, db))
}

/// An LSM namespaced value table for `spec` (which has no TTL).
pub(crate) fn namespaced_value_table<K: Key, N: Key, V: Data>(
    spec: &TableSpec<'_>,
    db: &Rc<LsmDb>,
) -> Box<dyn NamespacedValueTable<K, N, V>> {
    Box::new(LsmTable::<K, tables::Namespaced<N, V>>::new(spec, db))
}
