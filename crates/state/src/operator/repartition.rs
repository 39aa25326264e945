//! Redistributing operator state to a new parallelism (Flink's
//! `RoundRobinOperatorStateRepartitioner`).

use super::snapshot::{DistributionMode, NamedOperatorState, OperatorStateSnapshot};

/// The snapshots of `new_parallelism` subtasks, from those of the old subtasks
/// (`old[i]` is old subtask `i`'s), state by state according to its mode:
///
/// * [`DistributionMode::SplitDistribute`]: the elements of all old subtasks are
///   concatenated in subtask order; new subtask `i` gets the next contiguous chunk
///   of `total / p` elements, one more for the first `total % p` subtasks. When
///   the parallelism is unchanged, each subtask keeps its own elements (as Flink
///   does).
/// * [`DistributionMode::Union`]: every new subtask gets all elements of all old
///   subtasks, in subtask order.
/// * [`DistributionMode::Broadcast`]: every new subtask gets old subtask 0's copy
///   (the first old subtask that has the state); with unchanged parallelism each
///   keeps its own.
///
/// Every new snapshot lists every state name (possibly with no element), in order
/// of first appearance; a state's mode is the one of the first old subtask that
/// has it.
pub fn repartition(
    old: &[OperatorStateSnapshot],
    new_parallelism: u32,
) -> Vec<OperatorStateSnapshot> {
    let p = new_parallelism as usize;
    let mut out = vec![OperatorStateSnapshot::default(); p];
    if p == 0 {
        return out;
    }
    let unchanged = old.len() == p;
    let mut names: Vec<(&str, DistributionMode)> = Vec::new();
    for state in old.iter().flat_map(|s| &s.states) {
        if !names.iter().any(|(n, _)| *n == state.name) {
            names.push((&state.name, state.mode));
        }
    }
    for (name, mode) in names {
        // The state in each old subtask, if it has it.
        let parts: Vec<Option<&NamedOperatorState>> = old.iter().map(|s| s.get(name)).collect();
        let all = || -> Vec<Vec<u8>> {
            parts
                .iter()
                .flatten()
                .flat_map(|s| s.elements.iter().cloned())
                .collect()
        };
        let own = |i: usize| parts[i].map(|s| s.elements.clone()).unwrap_or_default();
        let assigned: Vec<Vec<Vec<u8>>> = match mode {
            DistributionMode::SplitDistribute if unchanged => (0..p).map(own).collect(),
            DistributionMode::SplitDistribute => split_evenly(all(), p),
            DistributionMode::Union => vec![all(); p],
            DistributionMode::Broadcast if unchanged => (0..p).map(own).collect(),
            DistributionMode::Broadcast => {
                let first = parts.iter().flatten().next().map(|s| s.elements.clone());
                vec![first.unwrap_or_default(); p]
            }
        };
        for (snapshot, elements) in out.iter_mut().zip(assigned) {
            snapshot.states.push(NamedOperatorState {
                name: name.to_string(),
                mode,
                elements,
            });
        }
    }
    out
}

/// Cuts `elements` into `p` contiguous chunks, the first `len % p` one longer.
fn split_evenly(elements: Vec<Vec<u8>>, p: usize) -> Vec<Vec<Vec<u8>>> {
    let (base, extra) = (elements.len() / p, elements.len() % p);
    let mut rest = elements.into_iter();
    (0..p)
        .map(|i| rest.by_ref().take(base + usize::from(i < extra)).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn snapshot(states: &[(&str, DistributionMode, &[u8])]) -> OperatorStateSnapshot {
        OperatorStateSnapshot {
            states: states
                .iter()
                .map(|(name, mode, elements)| NamedOperatorState {
                    name: name.to_string(),
                    mode: *mode,
                    elements: elements.iter().map(|e| vec![*e]).collect(),
                })
                .collect(),
        }
    }

    /// The one-byte elements of state `name` in each new subtask.
    fn elements_of(new: &[OperatorStateSnapshot], name: &str) -> Vec<Vec<u8>> {
        new.iter()
            .map(|s| s.get(name).unwrap().elements.iter().map(|e| e[0]).collect())
            .collect()
    }

    use DistributionMode::{Broadcast, SplitDistribute as Split, Union};

    #[test]
    fn flink_examples() {
        let old = [
            snapshot(&[
                ("s", Split, &[1, 2, 3]),
                ("u", Union, &[1]),
                ("b", Broadcast, &[7]),
            ]),
            snapshot(&[
                ("s", Split, &[4, 5]),
                ("u", Union, &[2]),
                ("b", Broadcast, &[7]),
            ]),
        ];
        // (new parallelism, split state, union state, broadcast state)
        type Case = (u32, Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<Vec<u8>>);
        let cases: [Case; 3] = [
            (
                1,
                vec![vec![1, 2, 3, 4, 5]],
                vec![vec![1, 2]],
                vec![vec![7]],
            ),
            (
                2,
                vec![vec![1, 2, 3], vec![4, 5]], // unchanged: kept
                vec![vec![1, 2], vec![1, 2]],
                vec![vec![7], vec![7]],
            ),
            (
                3,
                vec![vec![1, 2], vec![3, 4], vec![5]],
                vec![vec![1, 2]; 3],
                vec![vec![7]; 3],
            ),
        ];
        for (p, split, union, broadcast) in cases {
            let new = repartition(&old, p);
            assert_eq!(new.len(), p as usize);
            assert_eq!(elements_of(&new, "s"), split, "split, p = {p}");
            assert_eq!(elements_of(&new, "u"), union, "union, p = {p}");
            assert_eq!(elements_of(&new, "b"), broadcast, "broadcast, p = {p}");
        }
    }

    #[test]
    fn three_to_two_and_missing_states() {
        let old = [
            snapshot(&[("s", Split, &[1, 2])]),
            snapshot(&[]),
            snapshot(&[("s", Split, &[3, 4, 5]), ("only-2", Union, &[9])]),
        ];
        let new = repartition(&old, 2);
        assert_eq!(elements_of(&new, "s"), [vec![1, 2, 3], vec![4, 5]]);
        assert_eq!(elements_of(&new, "only-2"), [vec![9], vec![9]]);
        assert!(repartition(&old, 0).is_empty());
        assert_eq!(
            repartition(&[], 2),
            vec![OperatorStateSnapshot::default(); 2]
        );
    }

    proptest! {
        #[test]
        fn split_loses_and_duplicates_nothing_and_union_is_complete(
            sizes in proptest::collection::vec(0usize..20, 0..6),
            p in 1u32..8,
        ) {
            // Element j of old subtask i is the byte pair [i, j]: all distinct.
            let old: Vec<OperatorStateSnapshot> = sizes
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let elements: Vec<Vec<u8>> = (0..*n).map(|j| vec![i as u8, j as u8]).collect();
                    OperatorStateSnapshot {
                        states: vec![
                            NamedOperatorState { name: "s".into(), mode: Split, elements: elements.clone() },
                            NamedOperatorState { name: "u".into(), mode: Union, elements },
                        ],
                    }
                })
                .collect();
            let all: Vec<Vec<u8>> = old.iter().flat_map(|s| s.states[0].elements.clone()).collect();
            let new = repartition(&old, p);
            prop_assert_eq!(new.len(), p as usize);
            let split: Vec<Vec<Vec<u8>>> = new
                .iter()
                .map(|s| s.get("s").map(|s| s.elements.clone()).unwrap_or_default())
                .collect();
            let concatenated: Vec<Vec<u8>> = split.concat();
            prop_assert_eq!(&concatenated, &all, "split keeps order, loses and duplicates nothing");
            if old.len() != p as usize {
                let (base, extra) = (all.len() / p as usize, all.len() % p as usize);
                for (i, part) in split.iter().enumerate() {
                    prop_assert_eq!(part.len(), base + usize::from(i < extra));
                }
            }
            for s in &new {
                let union = s.get("u").map(|s| s.elements.clone()).unwrap_or_default();
                prop_assert_eq!(&union, &all, "union is complete");
            }
        }
    }
}
