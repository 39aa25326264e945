//! The operator state store of one operator instance, and its list handles.

use super::OperatorStateAccess;
use super::snapshot::{DistributionMode, NamedOperatorState, OperatorStateSnapshot};
use crate::descriptor::ListStateDescriptor;
use crate::error::StateError;
use crate::handle::define_handle;
use crate::names::short_type_name;
use runnel_types::{Data, RecordCodec};
use std::any::{Any, TypeId};
use std::fmt;

/// The operator list states of one operator instance.
///
/// Restore may run before the states are registered: restored states whose name
/// is not registered yet are kept encoded (and included in snapshots) until a
/// registration of the same mode decodes them.
#[derive(Default)]
pub struct OperatorStateStore {
    states: Vec<Registered>,
    pending: Vec<NamedOperatorState>,
}

struct Registered {
    name: String,
    mode: DistributionMode,
    types: TypeId,
    describe_type: fn() -> String,
    elements: Box<dyn Elements>,
}

impl Registered {
    fn describe(&self) -> String {
        format!("{} state of {}", self.mode, (self.describe_type)())
    }
}

/// A state's elements, typed underneath (a `Vec<T>`).
trait Elements: Any + Send {
    fn encode(&self, state: &str) -> Result<Vec<Vec<u8>>, StateError>;
    fn decode_extend(&mut self, state: &str, encoded: &[Vec<u8>]) -> Result<(), StateError>;
    fn len(&self) -> usize;
}

impl<T: Data> Elements for Vec<T> {
    fn encode(&self, state: &str) -> Result<Vec<Vec<u8>>, StateError> {
        self.iter()
            .map(|e| RecordCodec::encode(e).map_err(|err| StateError::codec(state, err)))
            .collect()
    }

    fn decode_extend(&mut self, state: &str, encoded: &[Vec<u8>]) -> Result<(), StateError> {
        decode_into(self, state, encoded)
    }

    fn len(&self) -> usize {
        Vec::len(self)
    }
}

define_handle!(
    /// A handle to an operator list state of `T`. Obtained from
    /// [`OperatorStateStore::get_list_state`] or
    /// [`OperatorStateStore::get_union_list_state`].
    ///
    /// ```
    /// use runnel_state::{ListStateDescriptor, OperatorStateStore, repartition};
    ///
    /// # fn main() -> Result<(), runnel_state::StateError> {
    /// let mut store = OperatorStateStore::new();
    /// let offsets = store.get_list_state(&ListStateDescriptor::<u64>::new("offsets"))?;
    /// offsets.update(&mut store, vec![10, 20, 30])?;
    /// // Rescale 1 -> 2: a contiguous chunk each, the first subtask one more.
    /// let parts = repartition(&[store.snapshot()?], 2);
    /// let mut second = OperatorStateStore::new();
    /// second.restore(parts[1].clone())?;
    /// let offsets = second.get_list_state(&ListStateDescriptor::<u64>::new("offsets"))?;
    /// assert_eq!(offsets.get(&mut second)?, [30]);
    /// # Ok(())
    /// # }
    /// ```
    OperatorListState<T>
);

impl OperatorStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or finds) a split-distribute list state: on rescale, the
    /// elements of all subtasks are cut into even contiguous chunks.
    pub fn get_list_state<T: Data>(
        &mut self,
        descriptor: &ListStateDescriptor<T>,
    ) -> Result<OperatorListState<T>, StateError> {
        self.register(descriptor, DistributionMode::SplitDistribute)
    }

    /// Registers (or finds) a union list state: on restore, every subtask gets the
    /// elements of all subtasks.
    pub fn get_union_list_state<T: Data>(
        &mut self,
        descriptor: &ListStateDescriptor<T>,
    ) -> Result<OperatorListState<T>, StateError> {
        self.register(descriptor, DistributionMode::Union)
    }

    /// The names of the registered states, in registration order.
    pub fn state_names(&self) -> Vec<&str> {
        self.states.iter().map(|s| s.name.as_str()).collect()
    }

    /// The names of restored states waiting to be registered.
    pub fn pending_state_names(&self) -> Vec<&str> {
        self.pending.iter().map(|s| s.name.as_str()).collect()
    }

    /// The number of elements of state `name`, if registered.
    pub fn len_of(&self, name: &str) -> Option<usize> {
        self.states
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.elements.len())
    }

    /// Encodes every state, registered or pending.
    pub fn snapshot(&self) -> Result<OperatorStateSnapshot, StateError> {
        let mut states = Vec::with_capacity(self.states.len() + self.pending.len());
        for s in &self.states {
            states.push(NamedOperatorState {
                name: s.name.clone(),
                mode: s.mode,
                elements: s.elements.encode(&s.name)?,
            });
        }
        states.extend(self.pending.iter().cloned());
        Ok(OperatorStateSnapshot { states })
    }

    /// Adds a snapshot's elements (usually one produced by [`super::repartition`])
    /// to this store. Registered states decode them now (their mode must match);
    /// others keep them until registered. Broadcast states are rejected: they
    /// belong in a [`crate::BroadcastStateStore`].
    pub fn restore(&mut self, snapshot: OperatorStateSnapshot) -> Result<(), StateError> {
        for state in snapshot.states {
            if state.mode == DistributionMode::Broadcast {
                return Err(StateError::Unsupported {
                    state: state.name,
                    what: "broadcast state is restored into a BroadcastStateStore, not an \
                           OperatorStateStore"
                        .to_string(),
                });
            }
            if let Some(index) = self.states.iter().position(|s| s.name == state.name) {
                let registered = &mut self.states[index];
                if registered.mode != state.mode {
                    return Err(StateError::RestoredIncompatible {
                        name: state.name,
                        restored: format!("{} state", state.mode),
                        requested: registered.describe(),
                    });
                }
                registered
                    .elements
                    .decode_extend(&state.name, &state.elements)?;
            } else if let Some(pending) = self.pending.iter_mut().find(|p| p.name == state.name) {
                if pending.mode != state.mode {
                    return Err(StateError::corrupt(format!(
                        "operator state `{}` is restored both as {} and as {} state",
                        state.name, pending.mode, state.mode
                    )));
                }
                pending.elements.extend(state.elements);
            } else {
                self.pending.push(state);
            }
        }
        Ok(())
    }

    fn register<T: Data>(
        &mut self,
        descriptor: &ListStateDescriptor<T>,
        mode: DistributionMode,
    ) -> Result<OperatorListState<T>, StateError> {
        let name = descriptor.name();
        let describe = || format!("{mode} state of {}", short_type_name::<T>());
        if descriptor.ttl().is_some() {
            return Err(StateError::Unsupported {
                state: name.to_string(),
                what: "TTL is only supported for keyed state".to_string(),
            });
        }
        if let Some(index) = self.states.iter().position(|s| s.name == name) {
            let s = &self.states[index];
            if s.mode == mode && s.types == TypeId::of::<T>() {
                return Ok(OperatorListState::new(index));
            }
            return Err(StateError::Incompatible {
                name: name.to_string(),
                registered: s.describe(),
                requested: describe(),
            });
        }
        let mut elements: Vec<T> = Vec::new();
        if let Some(p) = self.pending.iter().position(|p| p.name == name) {
            let pending = &self.pending[p];
            if pending.mode != mode {
                return Err(StateError::RestoredIncompatible {
                    name: name.to_string(),
                    restored: format!("{} state", pending.mode),
                    requested: describe(),
                });
            }
            decode_into(&mut elements, name, &pending.elements)?;
            self.pending.remove(p);
        }
        self.states.push(Registered {
            name: name.to_string(),
            mode,
            types: TypeId::of::<T>(),
            describe_type: short_type_name::<T>,
            elements: Box::new(elements),
        });
        Ok(OperatorListState::new(self.states.len() - 1))
    }

    /// The elements of state `index`, which must be a `Vec<T>`.
    fn elements<T: Data>(
        &mut self,
        index: usize,
        describe: fn() -> String,
    ) -> Result<&mut Vec<T>, StateError> {
        let state = self.states.get_mut(index);
        let elements = state.and_then(|s| {
            let any: &mut dyn Any = s.elements.as_mut();
            any.downcast_mut::<Vec<T>>()
        });
        elements.ok_or_else(|| StateError::ForeignHandle {
            index,
            handle: describe(),
        })
    }
}

/// Decodes encoded elements onto `out`.
fn decode_into<T: Data>(
    out: &mut Vec<T>,
    name: &str,
    encoded: &[Vec<u8>],
) -> Result<(), StateError> {
    out.reserve(encoded.len());
    for bytes in encoded {
        out.push(RecordCodec::decode(bytes).map_err(|e| StateError::codec(name, e))?);
    }
    Ok(())
}

impl fmt::Debug for OperatorStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorStateStore")
            .field("states", &self.state_names())
            .field("pending", &self.pending_state_names())
            .finish()
    }
}

impl<T: Data> OperatorListState<T> {
    fn describe() -> String {
        format!("operator list state of {}", short_type_name::<T>())
    }

    /// A copy of the elements.
    pub fn get<C: OperatorStateAccess + ?Sized>(&self, ctx: &mut C) -> Result<Vec<T>, StateError> {
        Ok(self.elements(ctx)?.clone())
    }

    /// Calls `f` with the elements in place and returns its result: read them,
    /// or change them in any way.
    pub fn with_elements<C: OperatorStateAccess + ?Sized, R>(
        &self,
        ctx: &mut C,
        f: impl FnOnce(&mut Vec<T>) -> R,
    ) -> Result<R, StateError> {
        Ok(f(self.elements(ctx)?))
    }

    /// Appends `value`.
    pub fn add<C: OperatorStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        value: T,
    ) -> Result<(), StateError> {
        self.elements(ctx)?.push(value);
        Ok(())
    }

    /// Appends `values`.
    pub fn add_all<C: OperatorStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        values: Vec<T>,
    ) -> Result<(), StateError> {
        self.elements(ctx)?.extend(values);
        Ok(())
    }

    /// Replaces the elements with `values`.
    pub fn update<C: OperatorStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        values: Vec<T>,
    ) -> Result<(), StateError> {
        *self.elements(ctx)? = values;
        Ok(())
    }

    /// Removes every element.
    pub fn clear<C: OperatorStateAccess + ?Sized>(&self, ctx: &mut C) -> Result<(), StateError> {
        self.elements(ctx)?.clear();
        Ok(())
    }

    fn elements<'a, C: OperatorStateAccess + ?Sized>(
        &self,
        ctx: &'a mut C,
    ) -> Result<&'a mut Vec<T>, StateError> {
        ctx.operator_state().elements(self.index, Self::describe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StateTtlConfig;
    use std::time::Duration;

    #[test]
    fn list_operations_and_registration() {
        let mut s = OperatorStateStore::new();
        let d = ListStateDescriptor::<u64>::new("offsets");
        let l = s.get_list_state(&d).unwrap();
        assert_eq!(s.get_list_state(&d).unwrap(), l);
        assert_eq!(l.get(&mut s).unwrap(), Vec::<u64>::new());
        l.add(&mut s, 1).unwrap();
        l.add_all(&mut s, vec![2, 3]).unwrap();
        assert_eq!(l.get(&mut s).unwrap(), [1, 2, 3]);
        assert_eq!(
            l.with_elements(&mut s, |e| e.iter().sum::<u64>()).unwrap(),
            6
        );
        l.update(&mut s, vec![7]).unwrap();
        assert_eq!(
            (l.get(&mut s).unwrap(), s.len_of("offsets")),
            (vec![7], Some(1))
        );
        l.clear(&mut s).unwrap();
        assert_eq!(s.len_of("offsets"), Some(0));

        // (second registration, expected message)
        let cases = [
            (
                s.get_union_list_state(&d).map(drop),
                "state `offsets` is registered as list state of u64, not union list state of u64",
            ),
            (
                s.get_list_state(&ListStateDescriptor::<String>::new("offsets"))
                    .map(drop),
                "not list state of String",
            ),
            (
                s.get_list_state(
                    &ListStateDescriptor::<u64>::new("t")
                        .with_ttl(StateTtlConfig::new(Duration::from_secs(1))),
                )
                .map(drop),
                "state `t`: TTL is only supported for keyed state",
            ),
        ];
        for (result, message) in cases {
            let err = result.unwrap_err();
            assert!(err.to_string().contains(message), "{err}");
        }
    }

    #[test]
    fn snapshot_and_restore_before_and_after_registration() {
        let mut a = OperatorStateStore::new();
        let split = a
            .get_list_state(&ListStateDescriptor::<String>::new("split"))
            .unwrap();
        let union = a
            .get_union_list_state(&ListStateDescriptor::<u32>::new("union"))
            .unwrap();
        split.update(&mut a, vec!["x".into(), "y".into()]).unwrap();
        union.add(&mut a, 5).unwrap();
        let snapshot = a.snapshot().unwrap();
        assert_eq!(snapshot.states.len(), 2);
        assert_eq!(snapshot.get("union").unwrap().mode, DistributionMode::Union);

        // Restore first, register later (the usual order); and the reverse.
        let mut b = OperatorStateStore::new();
        let union_b = b
            .get_union_list_state(&ListStateDescriptor::<u32>::new("union"))
            .unwrap();
        b.restore(snapshot.clone()).unwrap();
        assert_eq!(b.pending_state_names(), ["split"]);
        assert_eq!(union_b.get(&mut b).unwrap(), [5]);
        // A pending state is kept in snapshots.
        let again = b.snapshot().unwrap();
        assert_eq!(again.get("split"), snapshot.get("split"));
        let split_b = b
            .get_list_state(&ListStateDescriptor::<String>::new("split"))
            .unwrap();
        assert_eq!(split_b.get(&mut b).unwrap(), ["x", "y"]);
        assert!(b.pending_state_names().is_empty());

        // Mode mismatches are reported, in either order.
        let mut c = OperatorStateStore::new();
        c.restore(snapshot.clone()).unwrap();
        let err = c
            .get_list_state(&ListStateDescriptor::<u32>::new("union"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "state `union` was restored as union list state, not as list state of u32"
        );
        let mut d = OperatorStateStore::new();
        d.get_union_list_state(&ListStateDescriptor::<String>::new("split"))
            .unwrap();
        assert!(d.restore(snapshot).is_err());
    }
}
