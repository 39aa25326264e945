//! Keyed timers (Flink's `InternalTimerService`).
//!
//! A timer is a (timestamp, key) pair in one of two domains. Registering the same
//! pair twice is a no-op; deleting removes it. Event-time timers fire when the
//! operator's watermark reaches their timestamp, in timestamp order (ties in
//! registration order), before the watermark is forwarded; a timer registered
//! while firing whose time has also been reached fires in the same pass. A timer
//! registered at or before the current watermark is kept and fires at the next
//! watermark (at the latest, the +∞ of the end of input). Processing-time timers
//! fire when the task's processing-time service calls back.

use runnel_types::{FxHashMap, Key, Watermark};
use std::collections::{BTreeMap, VecDeque};

/// In which time a timer is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeDomain {
    /// Fires on watermarks.
    EventTime,
    /// Fires on the processing-time clock.
    ProcessingTime,
}

/// The timers of one domain: ordered by time, deduplicated by (time, key).
#[derive(Debug)]
struct TimerQueue<K> {
    /// Registered timers; the value counts stale copies in `queue` (after delete
    /// and re-register) so a timer fires once.
    registered: FxHashMap<(i64, K), ()>,
    queue: BTreeMap<i64, VecDeque<K>>,
}

impl<K: Key> Default for TimerQueue<K> {
    fn default() -> Self {
        TimerQueue {
            registered: FxHashMap::default(),
            queue: BTreeMap::new(),
        }
    }
}

impl<K: Key> TimerQueue<K> {
    fn register(&mut self, time: i64, key: &K) -> bool {
        if self.registered.contains_key(&(time, key.clone())) {
            return false;
        }
        self.registered.insert((time, key.clone()), ());
        self.queue.entry(time).or_default().push_back(key.clone());
        true
    }

    fn delete(&mut self, time: i64, key: &K) {
        // The queued copy stays and is skipped when it comes up.
        self.registered.remove(&(time, key.clone()));
    }

    /// The earliest registered timer's time.
    fn earliest(&mut self) -> Option<i64> {
        loop {
            let (&time, keys) = self.queue.iter_mut().next()?;
            while let Some(k) = keys.front() {
                if self.registered.contains_key(&(time, k.clone())) {
                    return Some(time);
                }
                keys.pop_front();
            }
            self.queue.remove(&time);
        }
    }

    /// Removes and returns the earliest timer with time `<= up_to`.
    fn pop_due(&mut self, up_to: i64) -> Option<(i64, K)> {
        let time = self.earliest()?;
        if time > up_to {
            return None;
        }
        let keys = self.queue.get_mut(&time)?;
        let key = keys.pop_front()?;
        if keys.is_empty() {
            self.queue.remove(&time);
        }
        self.registered.remove(&(time, key.clone()));
        Some((time, key))
    }

    fn len(&self) -> usize {
        self.registered.len()
    }

    fn iter(&self) -> impl Iterator<Item = (i64, &K)> {
        self.registered.keys().map(|(t, k)| (*t, k))
    }
}

/// The event-time and processing-time timers of one keyed operator instance.
#[derive(Debug)]
pub struct InternalTimerService<K> {
    event_time: TimerQueue<K>,
    processing_time: TimerQueue<K>,
    current_watermark: Watermark,
}

impl<K: Key> Default for InternalTimerService<K> {
    fn default() -> Self {
        InternalTimerService {
            event_time: TimerQueue::default(),
            processing_time: TimerQueue::default(),
            current_watermark: Watermark::MIN,
        }
    }
}

impl<K: Key> InternalTimerService<K> {
    /// No timers; watermark at −∞.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last watermark the operator reached.
    pub fn current_watermark(&self) -> Watermark {
        self.current_watermark
    }

    /// Registers an event-time timer for `key` (a no-op if it exists).
    pub fn register_event_time_timer(&mut self, key: &K, time: i64) {
        self.event_time.register(time, key);
    }

    /// Deletes an event-time timer of `key`, if registered.
    pub fn delete_event_time_timer(&mut self, key: &K, time: i64) {
        self.event_time.delete(time, key);
    }

    /// Registers a processing-time timer for `key`; returns whether it is new.
    pub fn register_processing_time_timer(&mut self, key: &K, time: i64) -> bool {
        self.processing_time.register(time, key)
    }

    /// Deletes a processing-time timer of `key`, if registered.
    pub fn delete_processing_time_timer(&mut self, key: &K, time: i64) {
        self.processing_time.delete(time, key);
    }

    /// Moves the watermark forward (the caller then fires [`Self::next_event_timer`]
    /// until it returns `None`).
    pub fn advance_watermark(&mut self, watermark: Watermark) {
        self.current_watermark = self.current_watermark.max(watermark);
    }

    /// The next event-time timer due at the current watermark, removed.
    pub fn next_event_timer(&mut self) -> Option<(i64, K)> {
        self.event_time.pop_due(self.current_watermark.0)
    }

    /// The next processing-time timer due at `now`, removed.
    pub fn next_processing_timer(&mut self, now: i64) -> Option<(i64, K)> {
        self.processing_time.pop_due(now)
    }

    /// The earliest processing-time timer, if any.
    pub fn earliest_processing_timer(&mut self) -> Option<i64> {
        self.processing_time.earliest()
    }

    /// Number of registered event-time and processing-time timers.
    pub fn len(&self) -> (usize, usize) {
        (self.event_time.len(), self.processing_time.len())
    }

    /// Whether no timer is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }

    /// Every registered timer, for snapshots (unordered).
    pub fn timers(&self) -> impl Iterator<Item = (TimeDomain, i64, &K)> {
        self.event_time
            .iter()
            .map(|(t, k)| (TimeDomain::EventTime, t, k))
            .chain(
                self.processing_time
                    .iter()
                    .map(|(t, k)| (TimeDomain::ProcessingTime, t, k)),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fire_all(s: &mut InternalTimerService<String>, wm: i64) -> Vec<(i64, String)> {
        s.advance_watermark(Watermark(wm));
        std::iter::from_fn(|| s.next_event_timer()).collect()
    }

    #[test]
    fn timers_fire_in_time_order_and_once() {
        let mut s = InternalTimerService::new();
        s.register_event_time_timer(&"b".to_string(), 20);
        s.register_event_time_timer(&"a".to_string(), 10);
        s.register_event_time_timer(&"a".to_string(), 10); // duplicate: no-op
        s.register_event_time_timer(&"c".to_string(), 20);
        s.register_event_time_timer(&"a".to_string(), 30);
        assert_eq!(s.len(), (4, 0));
        assert!(fire_all(&mut s, 9).is_empty());
        assert_eq!(
            fire_all(&mut s, 20),
            [
                (10, "a".to_string()),
                (20, "b".to_string()),
                (20, "c".to_string())
            ]
        );
        assert_eq!(fire_all(&mut s, 100), [(30, "a".to_string())]);
        assert!(s.is_empty());
    }

    #[test]
    fn deleted_timers_do_not_fire_and_can_be_registered_again() {
        let mut s = InternalTimerService::new();
        s.register_event_time_timer(&"k".to_string(), 5);
        s.delete_event_time_timer(&"k".to_string(), 5);
        assert!(fire_all(&mut s, 10).is_empty());
        s.register_event_time_timer(&"k".to_string(), 50);
        s.delete_event_time_timer(&"k".to_string(), 50);
        s.register_event_time_timer(&"k".to_string(), 50);
        assert_eq!(
            fire_all(&mut s, 60),
            [(50, "k".to_string())],
            "fires once despite the stale copy"
        );
    }

    #[test]
    fn a_timer_at_or_before_the_watermark_fires_at_the_next_one() {
        let mut s = InternalTimerService::new();
        assert!(fire_all(&mut s, 100).is_empty());
        s.register_event_time_timer(&"late".to_string(), 50);
        s.register_event_time_timer(&"exact".to_string(), 100);
        assert_eq!(
            fire_all(&mut s, 101),
            [(50, "late".to_string()), (100, "exact".to_string())]
        );
    }

    #[test]
    fn processing_time_timers_are_separate() {
        let mut s = InternalTimerService::<u8>::new();
        assert!(s.register_processing_time_timer(&1, 1000));
        assert!(!s.register_processing_time_timer(&1, 1000));
        s.register_event_time_timer(&1, 1000);
        assert_eq!(s.earliest_processing_timer(), Some(1000));
        assert_eq!(s.next_processing_timer(999), None);
        assert_eq!(s.next_processing_timer(1000), Some((1000, 1)));
        assert_eq!(s.len(), (1, 0));
    }
}
