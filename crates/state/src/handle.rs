//! The shape shared by every state handle: an index into the store that issued it.

/// Defines a handle type: `Copy + Send + Sync + 'static` whatever its type
/// parameters, holding only an index (the parameters live in a
/// `PhantomData<fn() -> _>`, so no bound on them is needed).
macro_rules! define_handle {
    ($(#[$doc:meta])* $name:ident < $($p:ident),+ >) => {
        $(#[$doc])*
        pub struct $name<$($p),+> {
            index: usize,
            _type: std::marker::PhantomData<fn() -> ($($p,)+)>,
        }

        impl<$($p),+> $name<$($p),+> {
            pub(crate) fn new(index: usize) -> Self {
                $name { index, _type: std::marker::PhantomData }
            }
        }

        impl<$($p),+> Clone for $name<$($p),+> {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl<$($p),+> Copy for $name<$($p),+> {}

        impl<$($p),+> PartialEq for $name<$($p),+> {
            fn eq(&self, other: &Self) -> bool {
                self.index == other.index
            }
        }

        impl<$($p),+> Eq for $name<$($p),+> {}

        impl<$($p),+> std::fmt::Debug for $name<$($p),+> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}#{}", stringify!($name), self.index)
            }
        }
    };
}

pub(crate) use define_handle;

#[cfg(test)]
mod tests {
    use crate::{
        AggregatingState, BroadcastStateHandle, BroadcastStateStore, ListState, MapState,
        NamespacedValueState, OperatorListState, OperatorStateStore, ReducingState, ValueState,
    };
    use std::rc::Rc;

    fn handle<T: Copy + Send + Sync + 'static>() {}
    fn sendable<T: Send>() {}

    #[test]
    fn handles_are_copy_send_sync_whatever_their_types() {
        // `Rc` is neither Send nor Sync; handles only hold an index.
        type R = Rc<u8>;
        handle::<ValueState<R>>();
        handle::<ListState<R>>();
        handle::<MapState<R, R>>();
        handle::<ReducingState<R>>();
        handle::<AggregatingState<R, R>>();
        handle::<NamespacedValueState<R, R>>();
        handle::<OperatorListState<R>>();
        handle::<BroadcastStateHandle<R, R>>();
        sendable::<OperatorStateStore>();
        sendable::<BroadcastStateStore>();
        assert_eq!(format!("{:?}", ValueState::<u8>::new(3)), "ValueState#3");
    }
}
