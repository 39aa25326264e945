//! Key selectors, user partitioners and the channel selectors behind every
//! partitioner of B3.

use crate::error::BoxError;
use runnel_types::{
    Data, Key, KeyGroup, KeyGroupAssigner, StreamRecord, compute_operator_index_for_key_group,
};
use std::hash::{BuildHasher, Hasher};

/// Extracts the key of a record (`key_by`). Closures `Fn(&T) -> K` are key selectors.
pub trait KeySelector<T>: Clone + Send + 'static {
    /// The key type.
    type Key: Key;
    /// The key of `value`.
    fn get_key(&self, value: &T) -> Self::Key;
}

impl<T, K: Key, F> KeySelector<T> for F
where
    F: Fn(&T) -> K + Clone + Send + 'static,
{
    type Key = K;
    #[inline]
    fn get_key(&self, value: &T) -> K {
        self(value)
    }
}

/// A user partitioner (`partition_custom`): picks the downstream subtask of a key.
/// Closures `Fn(&K, usize) -> usize` are partitioners.
pub trait Partitioner<K>: Clone + Send + 'static {
    /// The partition (downstream subtask index, `< num_partitions`) for `key`.
    fn partition(&self, key: &K, num_partitions: usize) -> usize;
}

impl<K, F> Partitioner<K> for F
where
    F: Fn(&K, usize) -> usize + Clone + Send + 'static,
{
    #[inline]
    fn partition(&self, key: &K, num_partitions: usize) -> usize {
        self(key, num_partitions)
    }
}

/// Chooses the output channel of each record of an edge.
pub trait ChannelSelector<T>: 'static {
    /// The channel index for `record`. An index `>= num_channels` is an error.
    fn select(&mut self, record: &StreamRecord<T>) -> usize;
    /// Whether every record goes to every channel (then `select` is not called).
    fn is_broadcast(&self) -> bool {
        false
    }
    /// Describes a selection error for the user (custom partitioners).
    fn describe_invalid(&self, index: usize, num_channels: usize) -> BoxError {
        format!("partitioner chose channel {index} of {num_channels}").into()
    }
}

/// A small non-cryptographic generator for shuffle and rebalance.
pub(crate) struct FastRng(u64);

impl FastRng {
    pub(crate) fn from_entropy() -> Self {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x5eed);
        FastRng(h.finish() | 1)
    }

    #[inline]
    pub(crate) fn below(&mut self, n: usize) -> usize {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (((x >> 32) * n as u64) >> 32) as usize
    }
}

/// FORWARD and GLOBAL: always the first channel (forward has exactly one).
pub struct FirstChannel;

impl<T> ChannelSelector<T> for FirstChannel {
    #[inline]
    fn select(&mut self, _record: &StreamRecord<T>) -> usize {
        0
    }
}

/// REBALANCE (random start) and RESCALE (start at 0): round robin.
pub struct RoundRobin {
    next: usize,
    channels: usize,
}

impl RoundRobin {
    /// Round robin over `channels`, starting at `start`.
    pub fn new(start: usize, channels: usize) -> Self {
        RoundRobin {
            next: start % channels.max(1),
            channels: channels.max(1),
        }
    }
}

impl<T> ChannelSelector<T> for RoundRobin {
    #[inline]
    fn select(&mut self, _record: &StreamRecord<T>) -> usize {
        let c = self.next;
        self.next += 1;
        if self.next == self.channels {
            self.next = 0;
        }
        c
    }
}

/// SHUFFLE: a uniformly random channel per record.
pub struct Shuffle {
    rng: FastRng,
    channels: usize,
}

impl Shuffle {
    /// Random choice among `channels`.
    pub fn new(channels: usize) -> Self {
        Shuffle {
            rng: FastRng::from_entropy(),
            channels,
        }
    }
}

impl<T> ChannelSelector<T> for Shuffle {
    #[inline]
    fn select(&mut self, _record: &StreamRecord<T>) -> usize {
        self.rng.below(self.channels)
    }
}

/// BROADCAST: every channel.
pub struct Broadcast;

impl<T> ChannelSelector<T> for Broadcast {
    fn select(&mut self, _record: &StreamRecord<T>) -> usize {
        0
    }
    fn is_broadcast(&self) -> bool {
        true
    }
}

/// HASH (`key_by`): key → key group → downstream subtask, as Flink assigns them.
pub struct KeyGroupSelector<KS> {
    key_selector: KS,
    assigner: KeyGroupAssigner,
    /// The channel of each key group (Flink's `computeOperatorIndexForKeyGroup`,
    /// precomputed: no division per record).
    channel_of_group: Vec<u16>,
}

impl<KS> KeyGroupSelector<KS> {
    /// Routes by the key groups of a downstream operator with `max_parallelism`
    /// key groups and `channels` subtasks.
    pub fn new(key_selector: KS, max_parallelism: u32, channels: usize) -> Self {
        let channel_of_group = (0..max_parallelism)
            .map(|kg| {
                compute_operator_index_for_key_group(
                    max_parallelism,
                    channels as u32,
                    KeyGroup(kg as u16),
                ) as u16
            })
            .collect();
        KeyGroupSelector {
            key_selector,
            assigner: KeyGroupAssigner::new(max_parallelism),
            channel_of_group,
        }
    }
}

impl<T: Data, KS: KeySelector<T>> ChannelSelector<T> for KeyGroupSelector<KS> {
    #[inline]
    fn select(&mut self, record: &StreamRecord<T>) -> usize {
        let key = self.key_selector.get_key(&record.value);
        let kg = self.assigner.key_group(&key);
        usize::from(self.channel_of_group[kg.index()])
    }
}

/// CUSTOM: the user's partitioner over the user's key.
pub struct CustomSelector<P, KS> {
    partitioner: P,
    key_selector: KS,
    channels: usize,
}

impl<P, KS> CustomSelector<P, KS> {
    /// A custom selection over `channels`.
    pub fn new(partitioner: P, key_selector: KS, channels: usize) -> Self {
        CustomSelector {
            partitioner,
            key_selector,
            channels,
        }
    }
}

impl<T: Data, KS: KeySelector<T>, P: Partitioner<KS::Key>> ChannelSelector<T>
    for CustomSelector<P, KS>
{
    #[inline]
    fn select(&mut self, record: &StreamRecord<T>) -> usize {
        self.partitioner
            .partition(&self.key_selector.get_key(&record.value), self.channels)
    }
    fn describe_invalid(&self, index: usize, num_channels: usize) -> BoxError {
        format!("custom partitioner returned partition {index}, but there are only {num_channels} partitions").into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_types::assign_to_key_group;
    use runnel_types::compute_key_group_range_for_operator_index;

    #[test]
    fn round_robin_cycles() {
        let mut rr = RoundRobin::new(2, 3);
        let r = StreamRecord::new(0u8);
        let got: Vec<usize> = (0..6)
            .map(|_| ChannelSelector::<u8>::select(&mut rr, &r))
            .collect();
        assert_eq!(got, [2, 0, 1, 2, 0, 1]);
    }

    #[test]
    fn shuffle_stays_in_range_and_spreads() {
        let mut s = Shuffle::new(4);
        let r = StreamRecord::new(0u8);
        let mut seen = [0; 4];
        for _ in 0..4000 {
            seen[ChannelSelector::<u8>::select(&mut s, &r)] += 1;
        }
        assert!(seen.iter().all(|c| *c > 800), "{seen:?}");
    }

    #[test]
    fn key_group_selector_sends_a_key_to_the_subtask_owning_its_group() {
        let mut sel = KeyGroupSelector::new(|v: &u64| *v % 1000, 128, 3);
        for v in 0..5000u64 {
            let channel = sel.select(&StreamRecord::new(v)) as u32;
            let kg = assign_to_key_group(&(v % 1000), 128);
            assert!(compute_key_group_range_for_operator_index(128, 3, channel).contains(kg));
        }
    }
}
