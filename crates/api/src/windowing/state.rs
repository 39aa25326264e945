//! Per-window state: state scoped to the current key *and* one window.
//!
//! Triggers keep their bookkeeping in it ("partitioned state", such as the count
//! of a `CountTrigger`) and process window functions reach it through
//! `ProcessWindowContext::get_window_state`. Each is namespaced keyed state (a
//! value per key and window) under the descriptor's name, so it is organised by
//! key group like all keyed state and goes wherever the key's state goes. The window
//! operator clears a window's per-window state when the window is purged (triggers
//! in `clear`, process window functions in theirs).

use super::window::Window;
use runnel_state::{
    AggregatingStateDescriptor, KeyedStateAccess, KeyedStateStore, ListStateDescriptor,
    NamespacedValueState, ReduceFn, ReducingStateDescriptor, SharedAggregate, StateError,
    ValueStateDescriptor,
};
use runnel_types::{Data, Key};

/// A context whose state access is scoped to one window of the current key.
pub trait WindowStateAccess<W: Window>: KeyedStateAccess {
    /// The window the state belongs to.
    fn state_window(&self) -> W;
}

fn window_map<K: Key, W: Window, V: Data>(
    store: &mut KeyedStateStore<K>,
    name: &str,
    ttl: Option<&runnel_state::StateTtlConfig>,
) -> Result<NamespacedValueState<W, V>, StateError> {
    let mut descriptor = ValueStateDescriptor::<V>::new(name);
    if let Some(ttl) = ttl {
        descriptor = descriptor.with_ttl(*ttl);
    }
    store.get_namespaced_state(&descriptor)
}

/// A value per key and window.
pub struct WindowValueState<W, T> {
    map: NamespacedValueState<W, T>,
}

impl<W, T> Clone for WindowValueState<W, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<W, T> Copy for WindowValueState<W, T> {}

impl<W: Window, T: Data> WindowValueState<W, T> {
    pub(crate) fn register<K: Key>(
        store: &mut KeyedStateStore<K>,
        descriptor: &ValueStateDescriptor<T>,
    ) -> Result<Self, StateError> {
        Ok(WindowValueState {
            map: window_map(store, descriptor.name(), descriptor.ttl())?,
        })
    }

    /// The window's value.
    pub fn value<C: WindowStateAccess<W>>(&self, ctx: &mut C) -> Result<Option<T>, StateError> {
        let w = ctx.state_window();
        self.map.get(ctx, &w)
    }

    /// Sets the window's value.
    pub fn update<C: WindowStateAccess<W>>(&self, ctx: &mut C, value: T) -> Result<(), StateError> {
        let w = ctx.state_window();
        self.map.put(ctx, w, value)
    }

    /// Removes the window's value.
    pub fn clear<C: WindowStateAccess<W>>(&self, ctx: &mut C) -> Result<(), StateError> {
        let w = ctx.state_window();
        self.map.remove(ctx, &w)
    }
}

/// A list per key and window.
pub struct WindowListState<W, T> {
    map: NamespacedValueState<W, Vec<T>>,
}

impl<W, T> Clone for WindowListState<W, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<W, T> Copy for WindowListState<W, T> {}

impl<W: Window, T: Data> WindowListState<W, T> {
    pub(crate) fn register<K: Key>(
        store: &mut KeyedStateStore<K>,
        descriptor: &ListStateDescriptor<T>,
    ) -> Result<Self, StateError> {
        Ok(WindowListState {
            map: window_map(store, descriptor.name(), descriptor.ttl())?,
        })
    }

    /// Appends to the window's list.
    pub fn add<C: WindowStateAccess<W>>(&self, ctx: &mut C, value: T) -> Result<(), StateError> {
        let w = ctx.state_window();
        self.map
            .upsert(ctx, &w, Vec::new, |list| list.push(value))?;
        Ok(())
    }

    /// A copy of the window's list (empty when unset).
    pub fn get<C: WindowStateAccess<W>>(&self, ctx: &mut C) -> Result<Vec<T>, StateError> {
        let w = ctx.state_window();
        Ok(self.map.get(ctx, &w)?.unwrap_or_default())
    }

    /// Replaces the window's list.
    pub fn update<C: WindowStateAccess<W>>(
        &self,
        ctx: &mut C,
        values: Vec<T>,
    ) -> Result<(), StateError> {
        let w = ctx.state_window();
        if values.is_empty() {
            self.map.remove(ctx, &w)
        } else {
            self.map.put(ctx, w, values)
        }
    }

    /// Removes the window's list.
    pub fn clear<C: WindowStateAccess<W>>(&self, ctx: &mut C) -> Result<(), StateError> {
        let w = ctx.state_window();
        self.map.remove(ctx, &w)
    }
}

/// A value per key and window, folded with a reduce function on `add`.
pub struct WindowReducingState<W, T> {
    map: NamespacedValueState<W, T>,
    reduce: ReduceFn<T>,
}

impl<W, T> Clone for WindowReducingState<W, T> {
    fn clone(&self) -> Self {
        WindowReducingState {
            map: self.map,
            reduce: self.reduce.clone(),
        }
    }
}

impl<W: Window, T: Data> WindowReducingState<W, T> {
    pub(crate) fn register<K: Key>(
        store: &mut KeyedStateStore<K>,
        descriptor: &ReducingStateDescriptor<T>,
    ) -> Result<Self, StateError> {
        Ok(WindowReducingState {
            map: window_map(store, descriptor.name(), descriptor.ttl())?,
            reduce: descriptor.reduce_fn().clone(),
        })
    }

    /// Folds `value` into the window's value (or sets it).
    pub fn add<C: WindowStateAccess<W>>(&self, ctx: &mut C, value: T) -> Result<(), StateError> {
        let w = ctx.state_window();
        let reduce = &self.reduce;
        self.map.with_value(ctx, &w, |slot| {
            *slot = Some(match slot.take() {
                Some(acc) => reduce(acc, value),
                None => value,
            })
        })
    }

    /// The window's value.
    pub fn get<C: WindowStateAccess<W>>(&self, ctx: &mut C) -> Result<Option<T>, StateError> {
        let w = ctx.state_window();
        self.map.get(ctx, &w)
    }

    /// Removes the window's value.
    pub fn clear<C: WindowStateAccess<W>>(&self, ctx: &mut C) -> Result<(), StateError> {
        let w = ctx.state_window();
        self.map.remove(ctx, &w)
    }
}

/// An accumulator per key and window, fed by an aggregate function on `add`.
pub struct WindowAggregatingState<W, IN, ACC, OUT> {
    map: NamespacedValueState<W, ACC>,
    aggregate: SharedAggregate<IN, ACC, OUT>,
}

impl<W, IN, ACC, OUT> Clone for WindowAggregatingState<W, IN, ACC, OUT> {
    fn clone(&self) -> Self {
        WindowAggregatingState {
            map: self.map,
            aggregate: self.aggregate.clone(),
        }
    }
}

impl<W: Window, IN: Data, ACC: Data, OUT: Data> WindowAggregatingState<W, IN, ACC, OUT> {
    pub(crate) fn register<K: Key>(
        store: &mut KeyedStateStore<K>,
        descriptor: &AggregatingStateDescriptor<IN, ACC, OUT>,
    ) -> Result<Self, StateError> {
        Ok(WindowAggregatingState {
            map: window_map(store, descriptor.name(), descriptor.ttl())?,
            aggregate: descriptor.aggregate_fn().clone(),
        })
    }

    /// Adds `value` to the window's accumulator.
    pub fn add<C: WindowStateAccess<W>>(&self, ctx: &mut C, value: IN) -> Result<(), StateError> {
        let w = ctx.state_window();
        let aggregate = &self.aggregate;
        self.map.with_value(ctx, &w, |slot| {
            let acc = slot
                .take()
                .unwrap_or_else(|| aggregate.create_accumulator());
            *slot = Some(aggregate.add(value, acc));
        })
    }

    /// The window's result, if anything was added.
    pub fn get<C: WindowStateAccess<W>>(&self, ctx: &mut C) -> Result<Option<OUT>, StateError> {
        let w = ctx.state_window();
        Ok(self
            .map
            .get(ctx, &w)?
            .map(|acc| self.aggregate.get_result(&acc)))
    }

    /// Removes the window's accumulator.
    pub fn clear<C: WindowStateAccess<W>>(&self, ctx: &mut C) -> Result<(), StateError> {
        let w = ctx.state_window();
        self.map.remove(ctx, &w)
    }
}

/// Per-window state that can merge the values of several windows into one (for
/// merging windows: [`TriggerContext::merge_partitioned_state`](super::TriggerContext::merge_partitioned_state)).
pub trait MergeableWindowState<W: Window> {
    /// Merges the values of `sources` into `target`, removing them from `sources`.
    fn merge_windows<C: KeyedStateAccess>(
        &self,
        ctx: &mut C,
        target: &W,
        sources: &[W],
    ) -> Result<(), StateError>;
}

impl<W: Window, T: Data> MergeableWindowState<W> for WindowListState<W, T> {
    fn merge_windows<C: KeyedStateAccess>(
        &self,
        ctx: &mut C,
        target: &W,
        sources: &[W],
    ) -> Result<(), StateError> {
        let mut merged = self.map.take(ctx, target)?.unwrap_or_default();
        for s in sources.iter().filter(|s| *s != target) {
            if let Some(values) = self.map.take(ctx, s)? {
                merged.extend(values);
            }
        }
        if !merged.is_empty() {
            self.map.put(ctx, target.clone(), merged)?;
        }
        Ok(())
    }
}

impl<W: Window, T: Data> MergeableWindowState<W> for WindowReducingState<W, T> {
    fn merge_windows<C: KeyedStateAccess>(
        &self,
        ctx: &mut C,
        target: &W,
        sources: &[W],
    ) -> Result<(), StateError> {
        let mut merged = self.map.take(ctx, target)?;
        for s in sources.iter().filter(|s| *s != target) {
            if let Some(value) = self.map.take(ctx, s)? {
                merged = Some(match merged {
                    Some(acc) => (self.reduce)(acc, value),
                    None => value,
                });
            }
        }
        if let Some(value) = merged {
            self.map.put(ctx, target.clone(), value)?;
        }
        Ok(())
    }
}

impl<W: Window, IN: Data, ACC: Data, OUT: Data> MergeableWindowState<W>
    for WindowAggregatingState<W, IN, ACC, OUT>
{
    fn merge_windows<C: KeyedStateAccess>(
        &self,
        ctx: &mut C,
        target: &W,
        sources: &[W],
    ) -> Result<(), StateError> {
        let mut merged = self.map.take(ctx, target)?;
        for s in sources.iter().filter(|s| *s != target) {
            if let Some(acc) = self.map.take(ctx, s)? {
                merged = Some(match merged {
                    Some(m) => self.aggregate.merge(m, acc),
                    None => acc,
                });
            }
        }
        if let Some(acc) = merged {
            self.map.put(ctx, target.clone(), acc)?;
        }
        Ok(())
    }
}
