//! State descriptors: a state's name and type, and optionally its TTL.
//!
//! A descriptor is a recipe, not the state: registering it with a store returns a
//! handle. Descriptors are `Clone + Send + Sync` so they can live in user functions
//! that are built on one thread and run on another.

use crate::aggregate::AggregateFunction;
use crate::ttl::StateTtlConfig;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// The reduce function of a [`ReducingStateDescriptor`]: accumulator first.
pub type ReduceFn<T> = Arc<dyn Fn(T, T) -> T + Send + Sync>;

/// The aggregate function of an [`AggregatingStateDescriptor`].
pub type SharedAggregate<IN, ACC, OUT> = Arc<dyn AggregateFunction<IN, ACC, OUT> + Send + Sync>;

/// Defines the builder methods and trait impls shared by every descriptor.
macro_rules! descriptor_common {
    ($name:ident < $($p:ident),* >) => {
        impl<$($p),*> $name<$($p),*> {
            /// Expires the state's entries as `ttl` says (D2).
            pub fn with_ttl(mut self, ttl: StateTtlConfig) -> Self {
                self.ttl = Some(ttl);
                self
            }

            /// The state's name, unique within its store.
            pub fn name(&self) -> &str {
                &self.name
            }

            /// The TTL, if any.
            pub fn ttl(&self) -> Option<&StateTtlConfig> {
                self.ttl.as_ref()
            }
        }

        impl<$($p),*> fmt::Debug for $name<$($p),*> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("name", &self.name)
                    .field("ttl", &self.ttl)
                    .finish_non_exhaustive()
            }
        }
    };
}

/// Describes a `ValueState<T>`: one value per key.
pub struct ValueStateDescriptor<T> {
    name: String,
    ttl: Option<StateTtlConfig>,
    _type: PhantomData<fn() -> T>,
}

impl<T> ValueStateDescriptor<T> {
    /// A value state called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        ValueStateDescriptor {
            name: name.into(),
            ttl: None,
            _type: PhantomData,
        }
    }
}

impl<T> Clone for ValueStateDescriptor<T> {
    fn clone(&self) -> Self {
        ValueStateDescriptor {
            name: self.name.clone(),
            ttl: self.ttl,
            _type: PhantomData,
        }
    }
}

descriptor_common!(ValueStateDescriptor<T>);

/// Describes a list state of `T`: keyed `ListState<T>`, or operator list state.
pub struct ListStateDescriptor<T> {
    name: String,
    ttl: Option<StateTtlConfig>,
    _type: PhantomData<fn() -> T>,
}

impl<T> ListStateDescriptor<T> {
    /// A list state called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        ListStateDescriptor {
            name: name.into(),
            ttl: None,
            _type: PhantomData,
        }
    }
}

impl<T> Clone for ListStateDescriptor<T> {
    fn clone(&self) -> Self {
        ListStateDescriptor {
            name: self.name.clone(),
            ttl: self.ttl,
            _type: PhantomData,
        }
    }
}

descriptor_common!(ListStateDescriptor<T>);

/// Describes a map from `UK` to `UV`: keyed `MapState<UK, UV>`, or broadcast state.
pub struct MapStateDescriptor<UK, UV> {
    name: String,
    ttl: Option<StateTtlConfig>,
    _type: PhantomData<fn() -> (UK, UV)>,
}

impl<UK, UV> MapStateDescriptor<UK, UV> {
    /// A map state called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        MapStateDescriptor {
            name: name.into(),
            ttl: None,
            _type: PhantomData,
        }
    }
}

impl<UK, UV> Clone for MapStateDescriptor<UK, UV> {
    fn clone(&self) -> Self {
        MapStateDescriptor {
            name: self.name.clone(),
            ttl: self.ttl,
            _type: PhantomData,
        }
    }
}

descriptor_common!(MapStateDescriptor<UK, UV>);

/// Describes a `ReducingState<T>`: one value per key, folded with a reduce
/// function as values are added.
pub struct ReducingStateDescriptor<T> {
    name: String,
    ttl: Option<StateTtlConfig>,
    reduce: ReduceFn<T>,
}

impl<T> ReducingStateDescriptor<T> {
    /// A reducing state called `name`; `reduce(accumulator, value)` folds a new
    /// value into the current one.
    pub fn new(
        name: impl Into<String>,
        reduce: impl Fn(T, T) -> T + Send + Sync + 'static,
    ) -> Self {
        ReducingStateDescriptor {
            name: name.into(),
            ttl: None,
            reduce: Arc::new(reduce),
        }
    }

    /// The reduce function.
    pub fn reduce_fn(&self) -> &ReduceFn<T> {
        &self.reduce
    }
}

impl<T> Clone for ReducingStateDescriptor<T> {
    fn clone(&self) -> Self {
        ReducingStateDescriptor {
            name: self.name.clone(),
            ttl: self.ttl,
            reduce: Arc::clone(&self.reduce),
        }
    }
}

descriptor_common!(ReducingStateDescriptor<T>);

/// Describes an `AggregatingState<IN, OUT>` whose accumulator `ACC` is stored.
pub struct AggregatingStateDescriptor<IN, ACC, OUT> {
    name: String,
    ttl: Option<StateTtlConfig>,
    aggregate: SharedAggregate<IN, ACC, OUT>,
}

impl<IN, ACC, OUT> AggregatingStateDescriptor<IN, ACC, OUT> {
    /// An aggregating state called `name`, aggregating with `aggregate`.
    pub fn new(
        name: impl Into<String>,
        aggregate: impl AggregateFunction<IN, ACC, OUT> + Send + Sync + 'static,
    ) -> Self {
        AggregatingStateDescriptor {
            name: name.into(),
            ttl: None,
            aggregate: Arc::new(aggregate),
        }
    }

    /// The aggregate function.
    pub fn aggregate_fn(&self) -> &SharedAggregate<IN, ACC, OUT> {
        &self.aggregate
    }
}

impl<IN, ACC, OUT> Clone for AggregatingStateDescriptor<IN, ACC, OUT> {
    fn clone(&self) -> Self {
        AggregatingStateDescriptor {
            name: self.name.clone(),
            ttl: self.ttl,
            aggregate: Arc::clone(&self.aggregate),
        }
    }
}

descriptor_common!(AggregatingStateDescriptor<IN, ACC, OUT>);

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn assert_send_sync_clone<T: Send + Sync + Clone>(_: &T) {}

    #[test]
    fn descriptors_are_send_sync_clone_and_carry_ttl() {
        let ttl = StateTtlConfig::new(Duration::from_secs(1));
        // Rc is neither Send nor Sync: descriptors must not depend on their types'.
        let v = ValueStateDescriptor::<std::rc::Rc<u8>>::new("v").with_ttl(ttl);
        assert_send_sync_clone(&v);
        assert_eq!((v.name(), v.ttl()), ("v", Some(&ttl)));
        let r = ReducingStateDescriptor::new("sum", |a: u64, b| a + b);
        assert_send_sync_clone(&r);
        assert_eq!((r.reduce_fn())(2, 3), 5);
        assert_eq!(r.clone().name(), "sum");
        let l = ListStateDescriptor::<String>::new("l");
        assert_send_sync_clone(&l);
        assert!(format!("{l:?}").contains("\"l\""));
        assert_send_sync_clone(&MapStateDescriptor::<String, u64>::new("m"));
    }
}
