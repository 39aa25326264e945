//! Window joins (G1) and co-groups (G3) of two streams.
//!
//! As in Flink, both are windows over the union of the two inputs: each element is
//! tagged with its side, the union is keyed by the side's key selector, cut into
//! windows, and when a window fires its elements are split back into the two
//! sides. `co_group` hands both sides to the function; `join` calls the join
//! function for every pair (an inner join: a window with elements on one side only
//! produces nothing). Results carry the window's max timestamp.
//!
//! ```
//! # use runnel_api::StreamExecutionEnvironment;
//! # use runnel_api::windowing::TumblingEventTimeWindows;
//! # use std::time::Duration;
//! # let env = StreamExecutionEnvironment::local();
//! # let orders = env.from_elements(vec![(1u32, "book".to_string())]);
//! # let payments = env.from_elements(vec![(1u32, 25u64)]);
//! let paid = orders
//!     .join(&payments)
//!     .where_(|o: &(u32, String)| o.0)
//!     .equal_to(|p: &(u32, u64)| p.0)
//!     .window(TumblingEventTimeWindows::of(Duration::from_secs(60)))
//!     .apply(|o: (u32, String), p: (u32, u64)| (o.0, o.1, p.1));
//! ```

use crate::datastream::{DataStream, SingleOutputStreamOperator};
use crate::functions::Collector;
use crate::windowed_stream::WindowedStream;
use crate::windowing::{Trigger, WindowAssigner};
use runnel_runtime::partitioning::KeySelector;
use runnel_types::{Data, Key};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// An element of either input of a join or co-group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TaggedUnion<L, R> {
    /// From the first input.
    One(L),
    /// From the second input.
    Two(R),
}

/// The key selector of the tagged union: each side's own.
pub struct UnionKey<L, R, K> {
    first: KeyFn<L, K>,
    second: KeyFn<R, K>,
}

type KeyFn<T, K> = std::sync::Arc<dyn Fn(&T) -> K + Send + Sync>;

impl<L, R, K> Clone for UnionKey<L, R, K> {
    fn clone(&self) -> Self {
        UnionKey {
            first: self.first.clone(),
            second: self.second.clone(),
        }
    }
}

impl<L, R, K> UnionKey<L, R, K> {
    fn key(&self, element: &TaggedUnion<L, R>) -> K {
        match element {
            TaggedUnion::One(l) => (self.first)(l),
            TaggedUnion::Two(r) => (self.second)(r),
        }
    }
}

fn union_stream<L: Data, R: Data>(
    first: &DataStream<L>,
    second: &DataStream<R>,
) -> DataStream<TaggedUnion<L, R>> {
    let one = first
        .map(TaggedUnion::<L, R>::One)
        .name("Map (tag first input)");
    let two = second
        .map(TaggedUnion::<L, R>::Two)
        .name("Map (tag second input)");
    one.union([&*two])
}

macro_rules! two_stream_builder {
    ($(#[$doc:meta])* $name:ident, $where_ty:ident, $equal_ty:ident, $windowed:ident) => {
        $(#[$doc])*
        pub struct $name<L, R> {
            first: DataStream<L>,
            second: DataStream<R>,
        }

        /// The first input's key is chosen; choose the second's with `equal_to`.
        pub struct $where_ty<L, R, K> {
            first: DataStream<L>,
            second: DataStream<R>,
            key1: KeyFn<L, K>,
        }

        /// Both keys are chosen; choose the windows with `window`.
        pub struct $equal_ty<L, R, K> {
            first: DataStream<L>,
            second: DataStream<R>,
            key1: KeyFn<L, K>,
            key2: KeyFn<R, K>,
        }

        impl<L: Data, R: Data> $name<L, R> {
            /// The key of the first input.
            pub fn where_<K: Key, F>(self, key: F) -> $where_ty<L, R, K>
            where
                F: Fn(&L) -> K + Send + Sync + 'static,
            {
                $where_ty {
                    first: self.first,
                    second: self.second,
                    key1: std::sync::Arc::new(key),
                }
            }
        }

        impl<L: Data, R: Data, K: Key> $where_ty<L, R, K> {
            /// The key of the second input; elements with equal keys meet.
            pub fn equal_to<F>(self, key: F) -> $equal_ty<L, R, K>
            where
                F: Fn(&R) -> K + Send + Sync + 'static,
            {
                $equal_ty {
                    first: self.first,
                    second: self.second,
                    key1: self.key1,
                    key2: std::sync::Arc::new(key),
                }
            }
        }

        impl<L: Data, R: Data, K: Key> $equal_ty<L, R, K> {
            /// Cuts the union of both inputs into the windows of `assigner`.
            pub fn window<A: WindowAssigner<TaggedUnion<L, R>>>(
                self,
                assigner: A,
            ) -> $windowed<L, R, impl KeySelector<TaggedUnion<L, R>, Key = K> + Sync, A, A::DefaultTrigger> {
                let keys = UnionKey {
                    first: self.key1,
                    second: self.key2,
                };
                let keyed = union_stream(&self.first, &self.second)
                    .key_by(move |e: &TaggedUnion<L, R>| keys.key(e));
                $windowed {
                    windowed: keyed.window(assigner),
                }
            }
        }
    };
}

two_stream_builder!(
    /// Two streams to join in windows (`first.join(&second)`).
    JoinedStreams,
    JoinWhere,
    JoinEqualTo,
    WindowedJoin
);

two_stream_builder!(
    /// Two streams to co-group in windows (`first.co_group(&second)`).
    CoGroupedStreams,
    CoGroupWhere,
    CoGroupEqualTo,
    WindowedCoGroup
);

/// A join whose windows are chosen: finish it with `apply` or `flat_apply`.
pub struct WindowedJoin<L, R, KS, A: WindowAssigner<TaggedUnion<L, R>>, Tr> {
    windowed: WindowedStream<TaggedUnion<L, R>, KS, A, Tr>,
}

/// A co-group whose windows are chosen: finish it with `apply`.
pub struct WindowedCoGroup<L, R, KS, A: WindowAssigner<TaggedUnion<L, R>>, Tr> {
    windowed: WindowedStream<TaggedUnion<L, R>, KS, A, Tr>,
}

fn split<L: Clone, R: Clone>(elements: &[TaggedUnion<L, R>]) -> (Vec<L>, Vec<R>) {
    let mut first = Vec::new();
    let mut second = Vec::new();
    for e in elements {
        match e {
            TaggedUnion::One(l) => first.push(l.clone()),
            TaggedUnion::Two(r) => second.push(r.clone()),
        }
    }
    (first, second)
}

macro_rules! window_settings {
    ($windowed:ident) => {
        impl<L: Data, R: Data, KS, A, Tr> $windowed<L, R, KS, A, Tr>
        where
            KS: KeySelector<TaggedUnion<L, R>> + Sync,
            A: WindowAssigner<TaggedUnion<L, R>>,
            Tr: Trigger<TaggedUnion<L, R>, A::W>,
        {
            /// Replaces the default trigger of the windows.
            pub fn trigger<Tr2: Trigger<TaggedUnion<L, R>, A::W>>(
                self,
                trigger: Tr2,
            ) -> $windowed<L, R, KS, A, Tr2> {
                $windowed {
                    windowed: self.windowed.trigger(trigger),
                }
            }

            /// Keeps windows for `lateness` after their end (late elements re-fire them).
            pub fn allowed_lateness(self, lateness: Duration) -> Self {
                $windowed {
                    windowed: self.windowed.allowed_lateness(lateness),
                }
            }
        }
    };
}

window_settings!(WindowedJoin);
window_settings!(WindowedCoGroup);

impl<L: Data, R: Data, KS, A, Tr> WindowedJoin<L, R, KS, A, Tr>
where
    KS: KeySelector<TaggedUnion<L, R>> + Sync,
    A: WindowAssigner<TaggedUnion<L, R>>,
    Tr: Trigger<TaggedUnion<L, R>, A::W>,
{
    /// Emits `join(l, r)` for every pair of a window with equal keys.
    pub fn apply<O: Data, F>(self, mut join: F) -> SingleOutputStreamOperator<O>
    where
        F: FnMut(L, R) -> O + Clone + Send + 'static,
    {
        self.flat_apply(move |l: L, r: R, out: &mut Collector<'_, O>| out.collect(join(l, r)))
    }

    /// Calls `join(l, r, out)` for every pair of a window with equal keys; it may
    /// emit any number of records.
    pub fn flat_apply<O: Data, F>(self, join: F) -> SingleOutputStreamOperator<O>
    where
        F: FnMut(L, R, &mut Collector<'_, O>) + Clone + Send + 'static,
    {
        let mut join = join;
        self.windowed
            .apply(
                move |_k: &KS::Key,
                      _w: &A::W,
                      elements: &[TaggedUnion<L, R>],
                      out: &mut Collector<'_, O>| {
                    let (first, second) = split(elements);
                    for l in &first {
                        for r in &second {
                            join(l.clone(), r.clone(), out);
                        }
                    }
                },
            )
            .name("Window Join")
    }
}

impl<L: Data, R: Data, KS, A, Tr> WindowedCoGroup<L, R, KS, A, Tr>
where
    KS: KeySelector<TaggedUnion<L, R>> + Sync,
    A: WindowAssigner<TaggedUnion<L, R>>,
    Tr: Trigger<TaggedUnion<L, R>, A::W>,
{
    /// Calls `co_group(first, second, out)` once per key and fired window with the
    /// elements of each input (either may be empty).
    pub fn apply<O: Data, F>(self, co_group: F) -> SingleOutputStreamOperator<O>
    where
        F: FnMut(&[L], &[R], &mut Collector<'_, O>) + Clone + Send + 'static,
    {
        let mut co_group = co_group;
        self.windowed
            .apply(
                move |_k: &KS::Key,
                      _w: &A::W,
                      elements: &[TaggedUnion<L, R>],
                      out: &mut Collector<'_, O>| {
                    let (first, second) = split(elements);
                    co_group(&first, &second, out);
                },
            )
            .name("Window CoGroup")
    }
}

impl<L: Data> DataStream<L> {
    /// Joins this stream with `other` in windows (Flink's `join`): choose the keys
    /// with `where_` and `equal_to`, then the windows.
    pub fn join<R: Data>(&self, other: &DataStream<R>) -> JoinedStreams<L, R> {
        JoinedStreams {
            first: self.clone(),
            second: other.clone(),
        }
    }

    /// Co-groups this stream with `other` in windows (Flink's `coGroup`).
    pub fn co_group<R: Data>(&self, other: &DataStream<R>) -> CoGroupedStreams<L, R> {
        CoGroupedStreams {
            first: self.clone(),
            second: other.clone(),
        }
    }
}
