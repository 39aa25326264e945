//! `AggregatingState<IN, OUT>`: values are added to a stored accumulator with an
//! [`AggregateFunction`](crate::AggregateFunction); reads return the aggregate's result.

use super::KeyedStateAccess;
use super::backend::{KeyedTable, ValueTable};
use super::slot::AggregatingSlot;
use crate::descriptor::SharedAggregate;
use crate::error::StateError;
use crate::handle::define_handle;
use crate::names::short_type_name;

define_handle!(
    /// A handle to keyed aggregating state: the current key's values, added into
    /// an accumulator. Obtained from
    /// [`KeyedStateStore::get_aggregating_state`](crate::KeyedStateStore::get_aggregating_state).
    AggregatingState<IN, OUT>
);

/// The aggregating operations, with the accumulator type hidden from the handle.
pub(crate) trait AggregatingTable<K, IN, OUT> {
    fn add(&mut self, group: usize, key: &K, value: IN, now: i64) -> Result<(), StateError>;
    fn get(&mut self, group: usize, key: &K, now: i64) -> Result<Option<OUT>, StateError>;
    fn clear(&mut self, group: usize, key: &K) -> Result<(), StateError>;
    fn table(&self) -> &dyn KeyedTable<K>;
    fn table_mut(&mut self) -> &mut dyn KeyedTable<K>;
}

/// An accumulator table and its aggregate function.
pub(crate) struct AggregatingImpl<K, IN, ACC, OUT> {
    table: Box<dyn ValueTable<K, ACC>>,
    aggregate: SharedAggregate<IN, ACC, OUT>,
}

impl<K, IN, ACC, OUT> AggregatingImpl<K, IN, ACC, OUT> {
    pub(crate) fn new(
        table: Box<dyn ValueTable<K, ACC>>,
        aggregate: SharedAggregate<IN, ACC, OUT>,
    ) -> Self {
        AggregatingImpl { table, aggregate }
    }
}

impl<K: 'static, IN, ACC: 'static, OUT> AggregatingTable<K, IN, OUT>
    for AggregatingImpl<K, IN, ACC, OUT>
{
    fn add(&mut self, group: usize, key: &K, value: IN, now: i64) -> Result<(), StateError> {
        let aggregate = &self.aggregate;
        let mut value = Some(value);
        self.table.update_in_place(group, key, now, &mut |acc| {
            if let Some(value) = value.take() {
                let current = acc.take().unwrap_or_else(|| aggregate.create_accumulator());
                *acc = Some(aggregate.add(value, current));
            }
        })
    }

    fn get(&mut self, group: usize, key: &K, now: i64) -> Result<Option<OUT>, StateError> {
        let aggregate = &self.aggregate;
        let mut out = None;
        self.table.read(group, key, now, &mut |acc| {
            out = Some(aggregate.get_result(acc));
        })?;
        Ok(out)
    }

    fn clear(&mut self, group: usize, key: &K) -> Result<(), StateError> {
        self.table.remove(group, key)
    }

    fn table(&self) -> &dyn KeyedTable<K> {
        self.table.as_ref()
    }

    fn table_mut(&mut self) -> &mut dyn KeyedTable<K> {
        self.table.as_mut()
    }
}

impl<IN: 'static, OUT: 'static> AggregatingState<IN, OUT> {
    fn describe() -> String {
        format!(
            "aggregating state of {} -> {}",
            short_type_name::<IN>(),
            short_type_name::<OUT>()
        )
    }

    /// Adds `value` to the current key's accumulator (creating it if unset).
    pub fn add<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        value: IN,
    ) -> Result<(), StateError> {
        let a = ctx
            .keyed_state()
            .access::<AggregatingSlot<C::Key, IN, OUT>>(self.index, Self::describe)?;
        a.slot.0.add(a.group, a.key, value, a.now)
    }

    /// The result for the current key's accumulator, `None` if nothing was added.
    pub fn get<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
    ) -> Result<Option<OUT>, StateError> {
        let a = ctx
            .keyed_state()
            .access::<AggregatingSlot<C::Key, IN, OUT>>(self.index, Self::describe)?;
        a.slot.0.get(a.group, a.key, a.now)
    }

    /// Removes the current key's accumulator.
    pub fn clear<C: KeyedStateAccess + ?Sized>(&self, ctx: &mut C) -> Result<(), StateError> {
        let a = ctx
            .keyed_state()
            .access::<AggregatingSlot<C::Key, IN, OUT>>(self.index, Self::describe)?;
        a.slot.0.clear(a.group, a.key)
    }
}

#[cfg(test)]
mod tests {
    use crate::{AggregateFunction, AggregatingStateDescriptor, KeyedStateStore, StateBackendKind};
    use runnel_types::KeyGroupRange;
    use std::rc::Rc;

    struct Average;

    impl AggregateFunction<i64, (i64, u64), f64> for Average {
        fn create_accumulator(&self) -> (i64, u64) {
            (0, 0)
        }
        fn add(&self, value: i64, (sum, n): (i64, u64)) -> (i64, u64) {
            (sum + value, n + 1)
        }
        fn get_result(&self, &(sum, n): &(i64, u64)) -> f64 {
            sum as f64 / n as f64
        }
        fn merge(&self, a: (i64, u64), b: (i64, u64)) -> (i64, u64) {
            (a.0 + b.0, a.1 + b.1)
        }
    }

    #[test]
    fn averages_per_key() {
        let range = KeyGroupRange { start: 0, end: 127 };
        let mut s =
            KeyedStateStore::<String>::new(StateBackendKind::Heap, range, 128, Rc::new(|| 0));
        let avg = s
            .get_aggregating_state(&AggregatingStateDescriptor::new("avg", Average))
            .unwrap();
        // (key, value added, average after)
        let steps = [("a", 2, 2.0), ("b", 10, 10.0), ("a", 4, 3.0), ("a", 9, 5.0)];
        for (key, value, expected) in steps {
            s.set_current_key(key.to_string()).unwrap();
            avg.add(&mut s, value).unwrap();
            assert_eq!(
                avg.get(&mut s).unwrap(),
                Some(expected),
                "{key} after {value}"
            );
        }
        avg.clear(&mut s).unwrap();
        assert_eq!(avg.get(&mut s).unwrap(), None);
        s.set_current_key("b".to_string()).unwrap();
        assert_eq!(avg.get(&mut s).unwrap(), Some(10.0));
        assert_eq!(s.entry_count("avg"), Some(1));
    }
}
