//! What every keyed operator instance holds: its keyed state, its timers and the
//! task's processing time, plus the loops that fire timers.

use crate::functions::Collector;
use crate::keyed_functions::{KeyedContext, KeyedOpenContext};
use runnel_checkpoint::{KeyGroupState, OperatorSubtaskState};
use runnel_config::StateBackendType;
use runnel_runtime::checkpointing::StateSnapshotContext;
use runnel_runtime::output::SideOutputs;
use runnel_runtime::time::ProcessingTimeService;
use runnel_runtime::timers::{InternalTimerService, TimeDomain, Timer};
use runnel_runtime::{BoxError, OperatorParameters, Output, RuntimeContext};
use runnel_state::{KeyedStateStore, StateBackendKind};
use runnel_types::{Data, EventTime, Key, KeyGroup, KeyGroupAssigner, StreamRecord, Watermark};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Keyed state and timers of one operator instance; `N` is the timers'
/// namespace (`()` for process functions, the window for window operators).
pub struct KeyedRuntime<K: Key, N = ()> {
    pub(crate) store: KeyedStateStore<K>,
    pub(crate) timers: InternalTimerService<K, N>,
    pub(crate) time: ProcessingTimeService,
    pub(crate) runtime: RuntimeContext,
    /// Checkpoints (not savepoints) take the LSM backend's files.
    incremental: bool,
}

impl<K: Key, N: Clone + PartialEq + Serialize + DeserializeOwned> KeyedRuntime<K, N> {
    /// State for the key groups this instance owns, with the job's clock for TTL;
    /// restored from the instance's share of a snapshot, if it has one.
    pub fn new(params: &OperatorParameters) -> Result<Self, BoxError> {
        let time = params.processing_time().clone();
        let clock = time.clock().clone();
        let backend = match params.state_backend() {
            StateBackendType::HashMap => StateBackendKind::Heap,
            #[cfg(feature = "rocksdb")]
            StateBackendType::RocksDb(o) => {
                StateBackendKind::Lsm(runnel_state::keyed::LsmOptions {
                    local_dir: o.local_dir,
                    memory_budget: o.memory_budget,
                })
            }
            #[cfg(not(feature = "rocksdb"))]
            StateBackendType::RocksDb(_) => {
                return Err(
                    "state.backend.type `rocksdb` is not available: Runnel was built \
                            without the `rocksdb` feature (rebuild with `--features rocksdb`)"
                        .into(),
                );
            }
        };
        let store = KeyedStateStore::new(
            backend,
            params.key_group_range(),
            params.runtime().max_parallelism(),
            Rc::new(move || clock.now_millis()),
        );
        let mut keyed = KeyedRuntime {
            store,
            timers: InternalTimerService::new(),
            time,
            runtime: params.runtime().clone(),
            incremental: params.incremental_checkpoints() && backend != StateBackendKind::Heap,
        };
        if let Some(restored) = params.restored_state() {
            if !restored.native.is_empty() {
                keyed.restore_native(restored, params, backend)?;
            }
            keyed.restore(restored)?;
        }
        Ok(keyed)
    }

    /// Restores keyed state kept as RocksDB files (an incremental checkpoint).
    fn restore_native(
        &mut self,
        restored: &OperatorSubtaskState,
        params: &OperatorParameters,
        backend: StateBackendKind,
    ) -> Result<(), BoxError> {
        match backend {
            #[cfg(feature = "rocksdb")]
            StateBackendKind::Lsm(options) => super::native_state::restore(
                &mut self.store,
                restored,
                params.restored_native_files(),
                &options,
            ),
            _ => {
                let _ = (params, restored);
                Err(
                    "the snapshot holds this operator's keyed state as RocksDB files (an \
                     incremental checkpoint), which only `state.backend.type: rocksdb` restores; \
                     restore from a savepoint to change the backend"
                        .into(),
                )
            }
        }
    }

    /// Adds the key groups of `restored` (state registered later picks up its
    /// entries; see `KeyedStateStore::restore_key_group`).
    fn restore(&mut self, restored: &OperatorSubtaskState) -> Result<(), BoxError> {
        for g in &restored.key_groups {
            if !g.state.is_empty() {
                self.store.restore_key_group(g.group, &g.state)?;
            }
            if !g.timers.is_empty() {
                self.timers.restore_key_group(&g.timers)?;
            }
        }
        Ok(())
    }

    /// Writes the keyed state and timers of every key group into `ctx`. Heap
    /// state is detached here (its key groups shared copy-on-write) and
    /// serialized on the checkpoint writer's thread; other state (RocksDB) is
    /// serialized here. Timers are serialized here.
    pub fn snapshot_state(&mut self, ctx: &mut StateSnapshotContext<'_>) -> Result<(), BoxError> {
        let assigner = KeyGroupAssigner::new(self.runtime.max_parallelism());
        let mut groups: BTreeMap<KeyGroup, KeyGroupState> = BTreeMap::new();
        let native = self.incremental && !ctx.kind().is_savepoint() && self.defer_native(ctx)?;
        let now = match self.store.detach_snapshot() {
            _ if native => Vec::new(),
            Some(detached) => {
                ctx.defer_key_groups(Box::new(move || {
                    detached.write().map_err(|e| e.to_string())
                }));
                Vec::new()
            }
            None => self.store.snapshot_key_groups()?,
        };
        for (group, state) in now {
            groups.insert(
                group,
                KeyGroupState {
                    group,
                    state,
                    timers: Vec::new(),
                },
            );
        }
        for (group, timers) in self.timers.snapshot_key_groups(&assigner)? {
            groups
                .entry(group)
                .or_insert_with(|| KeyGroupState {
                    group,
                    state: Vec::new(),
                    timers: Vec::new(),
                })
                .timers = timers;
        }
        ctx.state().key_groups = groups.into_values().collect();
        Ok(())
    }

    /// Hands the store's files to an incremental checkpoint; `false` if it
    /// takes a canonical one.
    #[cfg(feature = "rocksdb")]
    fn defer_native(&mut self, ctx: &mut StateSnapshotContext<'_>) -> Result<bool, BoxError> {
        super::native_state::defer_snapshot(&mut self.store, ctx)
    }

    #[cfg(not(feature = "rocksdb"))]
    fn defer_native(&mut self, _ctx: &mut StateSnapshotContext<'_>) -> Result<bool, BoxError> {
        Ok(false)
    }

    /// Makes `key` the current key of state and timers.
    #[inline]
    pub fn set_current_key(&mut self, key: K) -> Result<(), BoxError> {
        Ok(self.store.set_current_key(key)?)
    }

    /// The context of `open`: runtime context and state registration.
    pub(crate) fn open_context(&mut self) -> KeyedOpenContext<'_, K> {
        KeyedOpenContext {
            runtime: &self.runtime,
            store: &mut self.store,
        }
    }
}

impl<K: Key> KeyedRuntime<K> {
    /// The context handed to a keyed function.
    pub(crate) fn context<'a>(
        &'a mut self,
        timestamp: Option<EventTime>,
        time_domain: Option<TimeDomain>,
        side: &'a mut SideOutputs,
    ) -> KeyedContext<'a, K> {
        KeyedContext {
            timestamp,
            time_domain,
            store: &mut self.store,
            timers: &mut self.timers,
            time: &self.time,
            side,
            runtime: &self.runtime,
        }
    }

    /// Sets `key` as the current key and calls `f` with the record's value, a
    /// context for it and a collector stamping its timestamp.
    #[inline]
    pub(crate) fn process<I, O: Data>(
        &mut self,
        key: K,
        record: StreamRecord<I>,
        out: &mut Output<O>,
        f: impl FnOnce(I, &mut KeyedContext<'_, K>, &mut Collector<'_, O>) -> Result<(), BoxError>,
    ) -> Result<(), BoxError> {
        self.set_current_key(key)?;
        let Output { main, side } = out;
        let mut ctx = self.context(record.timestamp, None, side);
        f(
            record.value,
            &mut ctx,
            &mut Collector::new(main, record.timestamp),
        )
    }

    /// Fires, in time order, every event-time timer the watermark reached,
    /// including timers registered meanwhile, calling `on_timer` for each with the
    /// key set and a collector stamping the timer's time; then forwards the
    /// watermark, after what the timers emitted.
    pub(crate) fn advance_watermark<O: Data>(
        &mut self,
        watermark: Watermark,
        out: &mut Output<O>,
        mut on_timer: impl FnMut(
            i64,
            &mut KeyedContext<'_, K>,
            &mut Collector<'_, O>,
        ) -> Result<(), BoxError>,
    ) -> Result<(), BoxError> {
        self.timers.advance_watermark(watermark);
        let Output { main, side } = out;
        while let Some(Timer { time, key, .. }) = self.timers.next_event_timer() {
            self.store.set_current_key(key)?;
            let ts = Some(EventTime::from_millis(time));
            let mut ctx = self.context(ts, Some(TimeDomain::EventTime), side);
            on_timer(time, &mut ctx, &mut Collector::new(main, ts))?;
        }
        out.emit_watermark(watermark);
        Ok(())
    }

    /// Fires every processing-time timer due at `now` (records they emit carry no
    /// timestamp), then asks to be called for the next one.
    pub(crate) fn fire_processing_timers<O: Data>(
        &mut self,
        now: i64,
        out: &mut Output<O>,
        mut on_timer: impl FnMut(
            i64,
            &mut KeyedContext<'_, K>,
            &mut Collector<'_, O>,
        ) -> Result<(), BoxError>,
    ) -> Result<(), BoxError> {
        let Output { main, side } = out;
        while let Some(Timer { time, key, .. }) = self.timers.next_processing_timer(now) {
            self.store.set_current_key(key)?;
            let mut ctx = self.context(None, Some(TimeDomain::ProcessingTime), side);
            on_timer(time, &mut ctx, &mut Collector::new(main, None))?;
        }
        if let Some(next) = self.timers.earliest_processing_timer() {
            self.time.request_callback_at(next);
        }
        Ok(())
    }
}
