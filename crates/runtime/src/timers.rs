//! Keyed timers (Flink's `InternalTimerService`).
//!
//! A timer is a (timestamp, key, namespace) triple in one of two domains; the
//! namespace tells apart timers of one key that mean different things (a window,
//! a join side) and is `()` for process functions. Registering the same triple
//! twice is a no-op; deleting removes it. Event-time timers fire when the
//! operator's watermark reaches their timestamp, in timestamp order (ties in
//! registration order), before the watermark is forwarded; a timer registered
//! while firing whose time has also been reached fires in the same pass. A timer
//! registered at or before the current watermark is kept and fires at the next
//! watermark (at the latest, the +∞ of the end of input). Processing-time timers
//! fire when the task's processing-time service calls back.
//!
//! Lookups go by key first, so checking whether a timer exists clones nothing; a
//! key's timers are few (one per open window, say) and scanned linearly. The
//! order is a B-tree of times, each with its registrations in order (one kept
//! inline); a deleted timer's copy stays until its time comes and is skipped.

use runnel_types::{
    CodecError, FxHashMap, Key, KeyGroup, KeyGroupAssigner, RecordCodec, Watermark,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A timer as a snapshot stores it.
#[derive(Serialize, Deserialize)]
struct StoredTimer<K, N> {
    processing_time: bool,
    time: i64,
    pushed: bool,
    key: K,
    namespace: N,
}

/// In which time a timer is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeDomain {
    /// Fires on watermarks.
    EventTime,
    /// Fires on the processing-time clock.
    ProcessingTime,
}

/// A timer that came due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer<K, N = ()> {
    /// Its time (epoch ms).
    pub time: i64,
    /// The key it was registered for.
    pub key: K,
    /// Its namespace.
    pub namespace: N,
}

/// The timers registered for one key: usually one, so no allocation for it.
#[derive(Debug)]
enum KeyTimers<N> {
    One(i64, N),
    Many(Vec<(i64, N)>),
}

impl<N: PartialEq> KeyTimers<N> {
    #[inline]
    fn contains(&self, time: i64, namespace: &N) -> bool {
        match self {
            KeyTimers::One(t, n) => *t == time && n == namespace,
            KeyTimers::Many(v) => v.iter().any(|(t, n)| *t == time && n == namespace),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (i64, &N)> {
        let (one, many) = match self {
            KeyTimers::One(t, n) => (Some((*t, n)), None),
            KeyTimers::Many(v) => (None, Some(v.iter().map(|(t, n)| (*t, n)))),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

/// A registration waiting for its time. A `pushed` one (see
/// [`InternalTimerService::push_event_time_timer`]) always fires; another fires
/// only if it is still registered (not deleted, not fired by an earlier copy).
#[derive(Debug)]
struct Queued<K, N> {
    key: K,
    namespace: N,
    pushed: bool,
}

/// The registrations of one time, in registration order; entries before `head`
/// were taken already. One registration is kept inline (no allocation).
#[derive(Debug)]
struct TimeBucket<K, N> {
    head: usize,
    entries: BucketEntries<K, N>,
}

#[derive(Debug)]
enum BucketEntries<K, N> {
    One(Queued<K, N>),
    Many(Vec<Queued<K, N>>),
}

impl<K, N> TimeBucket<K, N> {
    fn new(entry: Queued<K, N>) -> Self {
        TimeBucket {
            head: 0,
            entries: BucketEntries::One(entry),
        }
    }

    fn push(&mut self, entry: Queued<K, N>) {
        match &mut self.entries {
            BucketEntries::Many(v) => v.push(entry),
            BucketEntries::One(_) => {
                let BucketEntries::One(first) = std::mem::replace(
                    &mut self.entries,
                    BucketEntries::Many(Vec::with_capacity(4)),
                ) else {
                    unreachable!("matched above")
                };
                if let BucketEntries::Many(v) = &mut self.entries {
                    v.push(first);
                    v.push(entry);
                }
            }
        }
    }

    /// The next registration not taken yet.
    fn peek(&self) -> Option<&Queued<K, N>> {
        match &self.entries {
            BucketEntries::One(e) if self.head == 0 => Some(e),
            BucketEntries::One(_) => None,
            BucketEntries::Many(v) => v.get(self.head),
        }
    }

    /// The registrations not taken yet.
    fn pending(&self) -> impl Iterator<Item = &Queued<K, N>> {
        let (one, many) = match &self.entries {
            BucketEntries::One(e) => (Some(e).filter(|_| self.head == 0), None),
            BucketEntries::Many(v) => (None, Some(v[self.head.min(v.len())..].iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

/// The timers of one domain: ordered by time, deduplicated by (time, key,
/// namespace) unless pushed.
#[derive(Debug)]
struct TimerQueue<K, N> {
    /// Registered (deduplicated) timers by key.
    registered: FxHashMap<K, KeyTimers<N>>,
    /// Every registration by time; deleted timers stay here and are skipped when
    /// they come up (a copy is live only while `registered` holds it).
    queue: BTreeMap<i64, TimeBucket<K, N>>,
    len: usize,
    pushed: usize,
}

impl<K: Key, N: Clone + PartialEq> Default for TimerQueue<K, N> {
    fn default() -> Self {
        TimerQueue {
            registered: FxHashMap::default(),
            queue: BTreeMap::new(),
            len: 0,
            pushed: 0,
        }
    }
}

impl<K: Key, N: Clone + PartialEq> TimerQueue<K, N> {
    #[inline]
    fn contains(&self, time: i64, key: &K, namespace: &N) -> bool {
        self.registered
            .get(key)
            .is_some_and(|ts| ts.contains(time, namespace))
    }

    #[inline]
    fn enqueue(&mut self, time: i64, entry: Queued<K, N>) {
        match self.queue.entry(time) {
            std::collections::btree_map::Entry::Occupied(mut bucket) => {
                bucket.get_mut().push(entry)
            }
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(TimeBucket::new(entry));
            }
        }
    }

    #[inline]
    fn register(&mut self, time: i64, key: &K, namespace: &N) -> bool {
        match self.registered.get_mut(key) {
            Some(ts) if ts.contains(time, namespace) => return false,
            Some(ts) => {
                if let KeyTimers::One(t, n) = ts {
                    *ts = KeyTimers::Many(vec![(*t, n.clone())]);
                }
                if let KeyTimers::Many(v) = ts {
                    v.push((time, namespace.clone()));
                }
            }
            None => {
                self.registered
                    .insert(key.clone(), KeyTimers::One(time, namespace.clone()));
            }
        }
        self.len += 1;
        self.enqueue(
            time,
            Queued {
                key: key.clone(),
                namespace: namespace.clone(),
                pushed: false,
            },
        );
        true
    }

    #[inline]
    fn push(&mut self, time: i64, key: &K, namespace: &N) {
        self.pushed += 1;
        self.enqueue(
            time,
            Queued {
                key: key.clone(),
                namespace: namespace.clone(),
                pushed: true,
            },
        );
    }

    /// Forgets a timer; returns whether it was registered.
    fn delete(&mut self, time: i64, key: &K, namespace: &N) -> bool {
        let Some(ts) = self.registered.get_mut(key) else {
            return false;
        };
        let now_empty = match ts {
            KeyTimers::One(t, n) if *t == time && n == namespace => true,
            KeyTimers::One(..) => return false,
            KeyTimers::Many(v) => {
                let Some(i) = v.iter().position(|(t, n)| *t == time && n == namespace) else {
                    return false;
                };
                v.swap_remove(i);
                v.is_empty()
            }
        };
        if now_empty {
            self.registered.remove(key);
        }
        self.len -= 1;
        true
    }

    /// The earliest live timer's time (dropping deleted copies on the way).
    fn earliest(&mut self) -> Option<i64> {
        loop {
            let mut first = self.queue.first_entry()?;
            let time = *first.key();
            let bucket = first.get_mut();
            while let Some(entry) = bucket.peek() {
                if entry.pushed
                    || self
                        .registered
                        .get(&entry.key)
                        .is_some_and(|ts| ts.contains(time, &entry.namespace))
                {
                    return Some(time);
                }
                bucket.head += 1;
            }
            first.remove();
        }
    }

    /// Removes and returns the earliest timer with time `<= up_to`.
    fn pop_due(&mut self, up_to: i64) -> Option<Timer<K, N>> {
        let time = self.earliest()?;
        if time > up_to {
            return None;
        }
        let mut first = self.queue.first_entry()?;
        let bucket = first.get_mut();
        let head = bucket.head;
        bucket.head += 1;
        let taken = match &mut bucket.entries {
            BucketEntries::One(_) => None,
            BucketEntries::Many(v) => Some(Queued {
                key: v[head].key.clone(),
                namespace: v[head].namespace.clone(),
                pushed: v[head].pushed,
            }),
        };
        let entry = match taken {
            Some(e) => {
                if bucket.peek().is_none() {
                    first.remove();
                }
                e
            }
            None => match first.remove().entries {
                BucketEntries::One(e) => e,
                BucketEntries::Many(_) => unreachable!("matched above"),
            },
        };
        if entry.pushed {
            self.pushed -= 1;
        } else {
            self.delete(time, &entry.key, &entry.namespace);
        }
        Some(Timer {
            time,
            key: entry.key,
            namespace: entry.namespace,
        })
    }

    /// Every live timer, unordered: the registered ones, then the pushed ones.
    fn iter(&self) -> impl Iterator<Item = (i64, &K, &N)> {
        self.iter_with_kind().map(|(t, k, n, _)| (t, k, n))
    }

    /// Every live timer with whether it was pushed.
    fn iter_with_kind(&self) -> impl Iterator<Item = (i64, &K, &N, bool)> {
        let registered = self
            .registered
            .iter()
            .flat_map(|(k, ts)| ts.iter().map(move |(t, n)| (t, k, n, false)));
        let pushed = self.queue.iter().flat_map(|(&time, bucket)| {
            bucket
                .pending()
                .filter(|e| e.pushed)
                .map(move |e| (time, &e.key, &e.namespace, true))
        });
        registered.chain(pushed)
    }
}

/// The event-time and processing-time timers of one keyed operator instance.
#[derive(Debug)]
pub struct InternalTimerService<K, N = ()> {
    event_time: TimerQueue<K, N>,
    processing_time: TimerQueue<K, N>,
    current_watermark: Watermark,
}

impl<K: Key, N: Clone + PartialEq> Default for InternalTimerService<K, N> {
    fn default() -> Self {
        InternalTimerService {
            event_time: TimerQueue::default(),
            processing_time: TimerQueue::default(),
            current_watermark: Watermark::MIN,
        }
    }
}

impl<K: Key, N: Clone + PartialEq> InternalTimerService<K, N> {
    /// No timers; watermark at −∞.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last watermark the operator reached.
    pub fn current_watermark(&self) -> Watermark {
        self.current_watermark
    }

    /// Registers an event-time timer (a no-op if it exists); returns whether it is
    /// new.
    pub fn register_event_time_timer(&mut self, key: &K, namespace: &N, time: i64) -> bool {
        self.event_time.register(time, key, namespace)
    }

    /// Adds an event-time timer without deduplication: each push fires once,
    /// and it cannot be deleted. For operators that decide when it fires whether
    /// the timer still applies (a window that was merged away, state already
    /// cleaned): cheaper than [`Self::register_event_time_timer`], which looks up
    /// the key's timers.
    pub fn push_event_time_timer(&mut self, key: &K, namespace: &N, time: i64) {
        self.event_time.push(time, key, namespace);
    }

    /// Deletes an event-time timer, if registered.
    pub fn delete_event_time_timer(&mut self, key: &K, namespace: &N, time: i64) {
        self.event_time.delete(time, key, namespace);
    }

    /// Whether an event-time timer is registered.
    pub fn has_event_time_timer(&self, key: &K, namespace: &N, time: i64) -> bool {
        self.event_time.contains(time, key, namespace)
    }

    /// Registers a processing-time timer; returns whether it is new.
    pub fn register_processing_time_timer(&mut self, key: &K, namespace: &N, time: i64) -> bool {
        self.processing_time.register(time, key, namespace)
    }

    /// Deletes a processing-time timer, if registered.
    pub fn delete_processing_time_timer(&mut self, key: &K, namespace: &N, time: i64) {
        self.processing_time.delete(time, key, namespace);
    }

    /// Moves the watermark forward (the caller then fires [`Self::next_event_timer`]
    /// until it returns `None`).
    pub fn advance_watermark(&mut self, watermark: Watermark) {
        self.current_watermark = self.current_watermark.max(watermark);
    }

    /// The next event-time timer due at the current watermark, removed.
    pub fn next_event_timer(&mut self) -> Option<Timer<K, N>> {
        self.event_time.pop_due(self.current_watermark.0)
    }

    /// The next processing-time timer due at `now`, removed.
    pub fn next_processing_timer(&mut self, now: i64) -> Option<Timer<K, N>> {
        self.processing_time.pop_due(now)
    }

    /// The earliest processing-time timer, if any.
    pub fn earliest_processing_timer(&mut self) -> Option<i64> {
        self.processing_time.earliest()
    }

    /// Number of registered or pushed event-time and processing-time timers
    /// that have not fired.
    pub fn len(&self) -> (usize, usize) {
        (
            self.event_time.len + self.event_time.pushed,
            self.processing_time.len + self.processing_time.pushed,
        )
    }

    /// Whether no timer is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }

    /// Every live timer, by key group, encoded for a checkpoint (in key-group
    /// order; groups without timers are left out). The watermark is not part of
    /// it: after a restore it starts at −∞ again, as in Flink.
    pub fn snapshot_key_groups(
        &self,
        assigner: &KeyGroupAssigner,
    ) -> Result<Vec<(KeyGroup, Vec<u8>)>, CodecError>
    where
        N: Serialize,
    {
        let mut groups: BTreeMap<KeyGroup, Vec<StoredTimer<&K, &N>>> = BTreeMap::new();
        let domains = [(false, &self.event_time), (true, &self.processing_time)];
        for (processing_time, queue) in domains {
            for (time, key, namespace, pushed) in queue.iter_with_kind() {
                groups
                    .entry(assigner.key_group(key))
                    .or_default()
                    .push(StoredTimer {
                        processing_time,
                        time,
                        pushed,
                        key,
                        namespace,
                    });
            }
        }
        groups
            .into_iter()
            .map(|(g, timers)| Ok((g, RecordCodec::encode(&timers)?)))
            .collect()
    }

    /// Adds the timers of one key group's snapshot.
    pub fn restore_key_group(&mut self, bytes: &[u8]) -> Result<(), CodecError>
    where
        N: DeserializeOwned,
    {
        let timers: Vec<StoredTimer<K, N>> = RecordCodec::decode(bytes)?;
        for t in timers {
            let queue = if t.processing_time {
                &mut self.processing_time
            } else {
                &mut self.event_time
            };
            if t.pushed {
                queue.push(t.time, &t.key, &t.namespace);
            } else {
                queue.register(t.time, &t.key, &t.namespace);
            }
        }
        Ok(())
    }

    /// Every registered timer, for snapshots (unordered).
    pub fn timers(&self) -> impl Iterator<Item = (TimeDomain, i64, &K, &N)> {
        self.event_time
            .iter()
            .map(|(t, k, n)| (TimeDomain::EventTime, t, k, n))
            .chain(
                self.processing_time
                    .iter()
                    .map(|(t, k, n)| (TimeDomain::ProcessingTime, t, k, n)),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fire_all(s: &mut InternalTimerService<String>, wm: i64) -> Vec<(i64, String)> {
        s.advance_watermark(Watermark(wm));
        std::iter::from_fn(|| s.next_event_timer().map(|t| (t.time, t.key))).collect()
    }

    fn k(s: &str) -> String {
        s.to_string()
    }

    #[test]
    fn timers_survive_a_snapshot_by_key_group() {
        let assigner = KeyGroupAssigner::new(8);
        let mut s: InternalTimerService<String, u8> = InternalTimerService::new();
        s.register_event_time_timer(&k("a"), &1, 10);
        s.register_event_time_timer(&k("b"), &2, 20);
        s.push_event_time_timer(&k("a"), &3, 15);
        s.push_event_time_timer(&k("a"), &3, 15);
        s.register_processing_time_timer(&k("c"), &4, 5);
        s.register_event_time_timer(&k("d"), &5, 7);
        s.delete_event_time_timer(&k("d"), &5, 7);
        let groups = s.snapshot_key_groups(&assigner).unwrap();
        assert!(
            groups.windows(2).all(|w| w[0].0 < w[1].0),
            "in key-group order"
        );
        let mut restored: InternalTimerService<String, u8> = InternalTimerService::new();
        for (_, bytes) in &groups {
            restored.restore_key_group(bytes).unwrap();
        }
        assert_eq!(restored.len(), s.len());
        restored.advance_watermark(Watermark(100));
        let fired: Vec<_> = std::iter::from_fn(|| restored.next_event_timer())
            .map(|t| (t.time, t.key, t.namespace))
            .collect();
        assert_eq!(
            fired,
            [
                (10, k("a"), 1),
                (15, k("a"), 3),
                (15, k("a"), 3),
                (20, k("b"), 2)
            ],
            "pushed timers fire once per push; the deleted one is gone"
        );
        assert_eq!(
            restored.next_processing_timer(5).map(|t| t.key),
            Some(k("c"))
        );
    }

    #[test]
    fn timers_fire_in_time_order_and_once() {
        let mut s = InternalTimerService::new();
        s.register_event_time_timer(&k("b"), &(), 20);
        s.register_event_time_timer(&k("a"), &(), 10);
        assert!(
            !s.register_event_time_timer(&k("a"), &(), 10),
            "duplicate: no-op"
        );
        s.register_event_time_timer(&k("c"), &(), 20);
        s.register_event_time_timer(&k("a"), &(), 30);
        assert_eq!(s.len(), (4, 0));
        assert!(fire_all(&mut s, 9).is_empty());
        assert_eq!(
            fire_all(&mut s, 20),
            [(10, k("a")), (20, k("b")), (20, k("c"))]
        );
        assert_eq!(fire_all(&mut s, 100), [(30, k("a"))]);
        assert!(s.is_empty());
    }

    #[test]
    fn deleted_timers_do_not_fire_and_can_be_registered_again() {
        let mut s = InternalTimerService::new();
        s.register_event_time_timer(&k("k"), &(), 5);
        s.delete_event_time_timer(&k("k"), &(), 5);
        assert!(fire_all(&mut s, 10).is_empty());
        s.register_event_time_timer(&k("k"), &(), 50);
        s.delete_event_time_timer(&k("k"), &(), 50);
        s.register_event_time_timer(&k("k"), &(), 50);
        assert_eq!(
            fire_all(&mut s, 60),
            [(50, k("k"))],
            "fires once despite the stale copy"
        );
        assert!(s.is_empty());
    }

    #[test]
    fn a_timer_at_or_before_the_watermark_fires_at_the_next_one() {
        let mut s = InternalTimerService::new();
        assert!(fire_all(&mut s, 100).is_empty());
        s.register_event_time_timer(&k("late"), &(), 50);
        s.register_event_time_timer(&k("exact"), &(), 100);
        assert_eq!(fire_all(&mut s, 101), [(50, k("late")), (100, k("exact"))]);
    }

    #[test]
    fn processing_time_timers_are_separate() {
        let mut s = InternalTimerService::<u8>::new();
        assert!(s.register_processing_time_timer(&1, &(), 1000));
        assert!(!s.register_processing_time_timer(&1, &(), 1000));
        s.register_event_time_timer(&1, &(), 1000);
        assert_eq!(s.earliest_processing_timer(), Some(1000));
        assert_eq!(s.next_processing_timer(999), None);
        assert_eq!(
            s.next_processing_timer(1000),
            Some(Timer {
                time: 1000,
                key: 1,
                namespace: ()
            })
        );
        assert_eq!(s.len(), (1, 0));
    }

    #[test]
    fn pushed_timers_fire_once_per_push_in_time_and_push_order() {
        let mut s = InternalTimerService::<u8, u8>::new();
        s.push_event_time_timer(&1, &0, 20);
        s.register_event_time_timer(&2, &0, 10);
        s.push_event_time_timer(&3, &0, 10);
        s.push_event_time_timer(&3, &0, 10); // no deduplication
        s.delete_event_time_timer(&3, &0, 10); // pushed timers cannot be deleted
        assert_eq!(s.len(), (4, 0));
        assert_eq!(s.timers().count(), 4);
        s.advance_watermark(Watermark(20));
        let fired: Vec<_> = std::iter::from_fn(|| s.next_event_timer())
            .map(|t| (t.time, t.key))
            .collect();
        assert_eq!(fired, [(10, 2), (10, 3), (10, 3), (20, 1)]);
        assert!(s.is_empty());
    }

    #[test]
    fn namespaces_tell_timers_of_one_key_apart() {
        let mut s = InternalTimerService::<u8, &'static str>::new();
        assert!(s.register_event_time_timer(&1, &"left", 10));
        assert!(s.register_event_time_timer(&1, &"right", 10));
        assert!(!s.register_event_time_timer(&1, &"left", 10));
        assert!(s.has_event_time_timer(&1, &"right", 10));
        s.delete_event_time_timer(&1, &"right", 10);
        assert!(!s.has_event_time_timer(&1, &"right", 10));
        s.advance_watermark(Watermark(10));
        let fired: Vec<_> = std::iter::from_fn(|| s.next_event_timer()).collect();
        assert_eq!(
            fired,
            [Timer {
                time: 10,
                key: 1,
                namespace: "left"
            }]
        );
        let mut snapshot: Vec<_> = s.timers().collect();
        snapshot.sort_by_key(|t| t.1);
        assert!(snapshot.is_empty());
    }
}
