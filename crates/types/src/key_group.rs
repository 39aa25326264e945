//! Key groups: the unit in which keyed state is partitioned and rescaled.
//!
//! This is Flink's `KeyGroupRangeAssignment`, function for function. A key is hashed,
//! the hash is scrambled with murmur and taken modulo the *max parallelism* to give a
//! key group; key groups are handed to parallel operator instances in contiguous
//! ranges. Because the number of key groups is fixed for the life of a job, state can
//! be restored at another parallelism by reassigning ranges.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest supported max parallelism (number of key groups), as in Flink.
pub const MAX_PARALLELISM_UPPER_BOUND: u32 = 1 << 15;

/// The lower bound of the default max parallelism.
const DEFAULT_LOWER_BOUND_MAX_PARALLELISM: u32 = 128;

/// A key group index in `0..max_parallelism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyGroup(pub u16);

impl KeyGroup {
    /// The key group as an index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for KeyGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An inclusive range of key groups `[start, end]` owned by one operator instance.
/// Empty when `end < start` (possible only if parallelism exceeds max parallelism,
/// which plan validation rejects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyGroupRange {
    /// First key group in the range.
    pub start: u32,
    /// Last key group in the range (inclusive).
    pub end: u32,
}

impl KeyGroupRange {
    /// Number of key groups in the range.
    pub fn len(&self) -> u32 {
        if self.end < self.start {
            0
        } else {
            self.end - self.start + 1
        }
    }

    /// Whether the range holds no key group.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `kg` falls into this range.
    pub fn contains(&self, kg: KeyGroup) -> bool {
        (kg.0 as u32) >= self.start && (kg.0 as u32) <= self.end
    }
}

impl fmt::Display for KeyGroupRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.start, self.end)
    }
}

/// Flink's `MathUtils.murmurHash(int)`: scrambles a 32-bit hash and returns a
/// non-negative value.
pub fn murmur_hash(code: i32) -> i32 {
    let mut code = code as u32;
    code = code.wrapping_mul(0xcc9e_2d51);
    code = code.rotate_left(15);
    code = code.wrapping_mul(0x1b87_3593);
    code = code.rotate_left(13);
    code = code.wrapping_mul(5).wrapping_add(0xe654_6b64);
    code ^= 4;
    code = bit_mix(code);
    let code = code as i32;
    if code >= 0 {
        code
    } else if code != i32::MIN {
        -code
    } else {
        0
    }
}

fn bit_mix(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x85eb_ca6b);
    x ^= x >> 13;
    x = x.wrapping_mul(0xc2b2_ae35);
    x ^= x >> 16;
    x
}

/// The key group of a key whose hash is `key_hash` (Flink's
/// `computeKeyGroupForKeyHash`).
#[inline]
pub fn compute_key_group_for_key_hash(key_hash: i32, max_parallelism: u32) -> KeyGroup {
    debug_assert!(max_parallelism > 0 && max_parallelism <= MAX_PARALLELISM_UPPER_BOUND);
    KeyGroup((murmur_hash(key_hash) as u32 % max_parallelism) as u16)
}

/// Assigns key groups for one max parallelism without a division per key: the
/// modulo is a multiply by a precomputed reciprocal (Lemire's "fastmod"), exact
/// for every 32-bit hash. Same results as [`assign_to_key_group`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyGroupAssigner {
    max_parallelism: u32,
    reciprocal: u64,
}

impl KeyGroupAssigner {
    /// The assigner for `max_parallelism` key groups.
    pub fn new(max_parallelism: u32) -> Self {
        debug_assert!(max_parallelism > 0 && max_parallelism <= MAX_PARALLELISM_UPPER_BOUND);
        let d = u64::from(max_parallelism.max(1));
        KeyGroupAssigner {
            max_parallelism: max_parallelism.max(1),
            reciprocal: (u64::MAX / d).wrapping_add(1),
        }
    }

    /// The number of key groups.
    pub fn max_parallelism(&self) -> u32 {
        self.max_parallelism
    }

    /// The key group of a key whose hash is `key_hash`.
    #[inline]
    pub fn key_group_for_hash(&self, key_hash: i32) -> KeyGroup {
        let a = murmur_hash(key_hash) as u32;
        let low = self.reciprocal.wrapping_mul(u64::from(a));
        let group = ((u128::from(low) * u128::from(self.max_parallelism)) >> 64) as u16;
        KeyGroup(group)
    }

    /// The key group of a serializable key.
    #[inline]
    pub fn key_group<K: serde::Serialize + ?Sized>(&self, key: &K) -> KeyGroup {
        self.key_group_for_hash(crate::key_hash(key))
    }
}

/// The key group of a serializable key (hash from [`crate::key_hash`]).
#[inline]
pub fn assign_to_key_group<K: serde::Serialize + ?Sized>(
    key: &K,
    max_parallelism: u32,
) -> KeyGroup {
    compute_key_group_for_key_hash(crate::key_hash(key), max_parallelism)
}

/// The operator instance that owns `key_group` (Flink's
/// `computeOperatorIndexForKeyGroup`).
#[inline]
pub fn compute_operator_index_for_key_group(
    max_parallelism: u32,
    parallelism: u32,
    key_group: KeyGroup,
) -> u32 {
    ((key_group.0 as u64 * parallelism as u64) / max_parallelism as u64) as u32
}

/// The operator instance a key is routed to by `key_by`.
#[inline]
pub fn assign_key_to_parallel_operator<K: serde::Serialize + ?Sized>(
    key: &K,
    max_parallelism: u32,
    parallelism: u32,
) -> u32 {
    compute_operator_index_for_key_group(
        max_parallelism,
        parallelism,
        assign_to_key_group(key, max_parallelism),
    )
}

/// The key groups owned by operator instance `operator_index` (Flink's
/// `computeKeyGroupRangeForOperatorIndex`).
pub fn compute_key_group_range_for_operator_index(
    max_parallelism: u32,
    parallelism: u32,
    operator_index: u32,
) -> KeyGroupRange {
    let (mp, p, i) = (
        max_parallelism as u64,
        parallelism as u64,
        operator_index as u64,
    );
    let start = (i * mp).div_ceil(p);
    let end = ((i + 1) * mp - 1) / p;
    KeyGroupRange {
        start: start as u32,
        end: end as u32,
    }
}

/// The max parallelism used when none is configured: 1.5 × parallelism rounded up
/// to a power of two, at least 128 and at most 32768 (Flink's
/// `computeDefaultMaxParallelism`).
pub fn compute_default_max_parallelism(parallelism: u32) -> u32 {
    let wanted = (parallelism as u64 + parallelism as u64 / 2).next_power_of_two();
    wanted.clamp(
        DEFAULT_LOWER_BOUND_MAX_PARALLELISM as u64,
        MAX_PARALLELISM_UPPER_BOUND as u64,
    ) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_assigner_agrees_with_the_modulo_for_every_max_parallelism() {
        let mut x = 0x1234_5678_9abc_def0u64;
        for max_p in [
            1u32, 2, 3, 7, 100, 127, 128, 129, 1000, 4096, 32_767, 32_768,
        ] {
            let assigner = KeyGroupAssigner::new(max_p);
            for code in [0i32, 1, -1, i32::MAX, i32::MIN, 12_345, -98_765] {
                assert_eq!(
                    assigner.key_group_for_hash(code),
                    compute_key_group_for_key_hash(code, max_p)
                );
            }
            for _ in 0..20_000 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let code = (x >> 32) as i32;
                assert_eq!(
                    assigner.key_group_for_hash(code),
                    compute_key_group_for_key_hash(code, max_p)
                );
            }
            assert_eq!(
                assigner.key_group(&42u64),
                assign_to_key_group(&42u64, max_p)
            );
        }
    }

    #[test]
    fn murmur_hash_matches_flink() {
        // Reference values from Flink's MathUtils.murmurHash, run on a JVM.
        let cases = [
            (0, 593_689_054),
            (1, 68_075_478),
            (-1, 1_982_413_648),
            (42, 1_134_849_565),
            (12_345, 638_799_361),
            (i32::MIN, 1_718_298_732),
            (i32::MAX, 1_653_689_534),
        ];
        for (input, expected) in cases {
            assert_eq!(murmur_hash(input), expected, "murmur_hash({input})");
        }
        // "hello".hashCode() lands in key group 35 of 128 in Flink.
        assert_eq!(
            compute_key_group_for_key_hash(99_162_322, 128),
            KeyGroup(35)
        );
    }

    #[test]
    fn default_max_parallelism_follows_flink() {
        assert_eq!(compute_default_max_parallelism(1), 128);
        assert_eq!(compute_default_max_parallelism(85), 128);
        assert_eq!(compute_default_max_parallelism(86), 256);
        assert_eq!(compute_default_max_parallelism(1_000), 2_048);
        assert_eq!(compute_default_max_parallelism(30_000), 32_768);
    }

    #[test]
    fn ranges_split_key_groups_contiguously() {
        assert_eq!(
            compute_key_group_range_for_operator_index(128, 2, 0),
            KeyGroupRange { start: 0, end: 63 }
        );
        assert_eq!(
            compute_key_group_range_for_operator_index(128, 2, 1),
            KeyGroupRange {
                start: 64,
                end: 127
            }
        );
        assert_eq!(
            compute_key_group_range_for_operator_index(128, 3, 0),
            KeyGroupRange { start: 0, end: 42 }
        );
        assert_eq!(
            compute_key_group_range_for_operator_index(128, 3, 1),
            KeyGroupRange { start: 43, end: 85 }
        );
        assert_eq!(
            compute_key_group_range_for_operator_index(128, 3, 2),
            KeyGroupRange {
                start: 86,
                end: 127
            }
        );
    }

    proptest! {
        #[test]
        fn operator_index_agrees_with_ranges(max_p in 1u32..=4096, p_seed in 1u32..=4096, kg_seed in 0u32..u32::MAX) {
            let p = 1 + p_seed % max_p;
            let kg = KeyGroup((kg_seed % max_p) as u16);
            let op = compute_operator_index_for_key_group(max_p, p, kg);
            prop_assert!(op < p);
            prop_assert!(compute_key_group_range_for_operator_index(max_p, p, op).contains(kg));
        }

        #[test]
        fn ranges_partition_all_key_groups(max_p in 1u32..=2048, p_seed in 1u32..=2048) {
            let p = 1 + p_seed % max_p;
            let mut next = 0u32;
            for i in 0..p {
                let r = compute_key_group_range_for_operator_index(max_p, p, i);
                prop_assert_eq!(r.start, next);
                next = r.end + 1;
            }
            prop_assert_eq!(next, max_p);
        }

        #[test]
        fn key_groups_are_in_range(hash in any::<i32>(), max_p in 1u32..=MAX_PARALLELISM_UPPER_BOUND) {
            prop_assert!((compute_key_group_for_key_hash(hash, max_p).0 as u32) < max_p);
        }
    }
}
