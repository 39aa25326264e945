//! State time-to-live (D2), with Flink's `TtlUtils` semantics.
//!
//! # Expiry
//!
//! Every value, list element and map entry of a TTL state carries the processing
//! time (epoch ms, from the store's clock) of its last *refresh*: its creation and
//! every write, and with [`UpdateType::OnReadAndWrite`] also every read. It is
//! expired at `now` iff `last_refresh + ttl <= now` (saturating add): a value
//! written at 1000 with a TTL of 100 ms is readable at 1099 and expired at 1100.
//!
//! Reading an expired entry removes it. With [`StateVisibility::NeverReturnExpired`]
//! (the default) the read behaves as if the entry were absent; with
//! [`StateVisibility::ReturnExpiredIfNotCleanedUp`] that read still returns it, once.
//! Snapshots leave out entries that can never be returned again.
//!
//! # Cleanup keeps state bounded
//!
//! Hiding expired entries is not enough: keys that are never read again would stay
//! in memory forever. Two mechanisms remove them.
//!
//! * **Incremental cleanup** (on by default, [`StateTtlConfig::cleanup_incrementally`]):
//!   every access to a TTL state also pays for sweeping `entries_per_access`
//!   entries of that state. The heap backend keeps, per state, a cursor over the
//!   key groups of the store's range and a budget: each access adds
//!   `entries_per_access` to the budget; while the budget is positive the key group
//!   under the cursor is cleaned whole (`retain` over its map, removing expired
//!   values, list elements and map entries), its size (at least 1) is subtracted,
//!   and the cursor advances, wrapping around. Work is amortized to
//!   `entries_per_access` per access (plus at most one key group's worth of debt,
//!   paid back by later accesses), and under continued access the cursor passes
//!   every key group, so every expired entry is eventually removed: after about
//!   `(entries + key groups) / entries_per_access` accesses to the state.
//! * **Full cleanup** on demand: [`crate::KeyedStateStore::cleanup_expired`] removes
//!   everything expired now, in every TTL state. The runtime may call it, for
//!   example on a processing-time timer, for states that stop being accessed.

use std::fmt;
use std::time::Duration;

/// When the last-access timestamp of an entry is refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UpdateType {
    /// On creation and on every write (Flink's default).
    #[default]
    OnCreateAndWrite,
    /// Also on every read.
    OnReadAndWrite,
}

/// Whether an expired entry that has not been removed yet may still be returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StateVisibility {
    /// Expired entries are never returned (the default).
    #[default]
    NeverReturnExpired,
    /// An expired entry is returned by the read that removes it, as long as cleanup
    /// has not removed it before.
    ReturnExpiredIfNotCleanedUp,
}

/// The TTL of a state, set on its descriptor with `.with_ttl(config)`.
///
/// ```
/// use runnel_state::{StateTtlConfig, StateVisibility, UpdateType, ValueStateDescriptor};
/// use std::time::Duration;
///
/// let ttl = StateTtlConfig::new(Duration::from_secs(60))
///     .update_type(UpdateType::OnReadAndWrite)
///     .state_visibility(StateVisibility::NeverReturnExpired)
///     .cleanup_incrementally(10);
/// let last_seen = ValueStateDescriptor::<i64>::new("last-seen").with_ttl(ttl);
/// assert_eq!(last_seen.ttl(), Some(&ttl));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StateTtlConfig {
    ttl_ms: i64,
    update_type: UpdateType,
    visibility: StateVisibility,
    entries_per_access: usize,
}

impl StateTtlConfig {
    /// Entries swept per access by default (see [`StateTtlConfig::cleanup_incrementally`]).
    pub const DEFAULT_CLEANUP_ENTRIES_PER_ACCESS: usize = 5;

    /// Entries live for `ttl` after their last refresh; `ttl` is rounded up to
    /// whole milliseconds. Defaults: [`UpdateType::OnCreateAndWrite`],
    /// [`StateVisibility::NeverReturnExpired`], incremental cleanup of
    /// [`Self::DEFAULT_CLEANUP_ENTRIES_PER_ACCESS`] entries per access.
    pub fn new(ttl: Duration) -> Self {
        let ms = ttl.as_nanos().div_ceil(1_000_000);
        StateTtlConfig {
            ttl_ms: i64::try_from(ms).unwrap_or(i64::MAX),
            update_type: UpdateType::default(),
            visibility: StateVisibility::default(),
            entries_per_access: Self::DEFAULT_CLEANUP_ENTRIES_PER_ACCESS,
        }
    }

    /// Sets when timestamps are refreshed.
    pub fn update_type(mut self, update_type: UpdateType) -> Self {
        self.update_type = update_type;
        self
    }

    /// Sets whether expired entries may be returned before cleanup.
    pub fn state_visibility(mut self, visibility: StateVisibility) -> Self {
        self.visibility = visibility;
        self
    }

    /// Every access to the state also sweeps about `entries_per_access` entries
    /// (see the [module docs](self)); 0 disables incremental cleanup.
    pub fn cleanup_incrementally(mut self, entries_per_access: usize) -> Self {
        self.entries_per_access = entries_per_access;
        self
    }

    /// Disables incremental cleanup: expired entries are then removed only when read
    /// or by [`crate::KeyedStateStore::cleanup_expired`].
    pub fn disable_cleanup_in_background(self) -> Self {
        self.cleanup_incrementally(0)
    }

    /// The time to live.
    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms as u64)
    }

    /// The time to live in milliseconds.
    pub fn ttl_millis(&self) -> i64 {
        self.ttl_ms
    }

    /// When timestamps are refreshed.
    pub fn refresh(&self) -> UpdateType {
        self.update_type
    }

    /// Whether expired entries may be returned before cleanup.
    pub fn visibility(&self) -> StateVisibility {
        self.visibility
    }

    /// Entries swept per access, `None` when incremental cleanup is disabled.
    pub fn incremental_cleanup(&self) -> Option<usize> {
        (self.entries_per_access > 0).then_some(self.entries_per_access)
    }

    /// Whether an entry last refreshed at `last_refresh` is expired at `now` (both
    /// epoch ms): `last_refresh + ttl <= now`, saturating.
    #[inline]
    pub fn is_expired(&self, last_refresh: i64, now: i64) -> bool {
        last_refresh.saturating_add(self.ttl_ms) <= now
    }

    /// Whether reads refresh timestamps.
    #[inline]
    pub(crate) fn refreshes_on_read(&self) -> bool {
        self.update_type == UpdateType::OnReadAndWrite
    }

    /// Whether an expired entry is returned by the read that removes it.
    #[inline]
    pub(crate) fn returns_expired(&self) -> bool {
        self.visibility == StateVisibility::ReturnExpiredIfNotCleanedUp
    }
}

impl fmt::Display for StateTtlConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TTL {} ms", self.ttl_ms)?;
        if self.refreshes_on_read() {
            f.write_str(", refreshed on read")?;
        }
        if self.returns_expired() {
            f.write_str(", returning expired values")?;
        }
        match self.incremental_cleanup() {
            Some(n) => write!(f, ", cleaning {n} entries per access"),
            None => f.write_str(", no background cleanup"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_at_exactly_last_refresh_plus_ttl() {
        let ttl = StateTtlConfig::new(Duration::from_millis(100));
        // (last refresh, now, expired)
        let cases = [
            (1_000, 1_000, false),
            (1_000, 1_099, false),
            (1_000, 1_100, true),
            (1_000, 5_000, true),
            (i64::MAX - 10, i64::MAX - 1, false), // saturating: never overflows
            (i64::MAX - 10, i64::MAX, true),
            (i64::MIN, 0, true),
        ];
        for (last, now, expired) in cases {
            assert_eq!(ttl.is_expired(last, now), expired, "last {last}, now {now}");
        }
    }

    #[test]
    fn builder_and_rounding() {
        let c = StateTtlConfig::new(Duration::from_micros(1_500));
        assert_eq!(c.ttl_millis(), 2);
        assert_eq!(c.refresh(), UpdateType::OnCreateAndWrite);
        assert_eq!(c.visibility(), StateVisibility::NeverReturnExpired);
        assert_eq!(c.incremental_cleanup(), Some(5));
        let c = c
            .update_type(UpdateType::OnReadAndWrite)
            .state_visibility(StateVisibility::ReturnExpiredIfNotCleanedUp)
            .disable_cleanup_in_background();
        assert!(c.refreshes_on_read() && c.returns_expired());
        assert_eq!(c.incremental_cleanup(), None);
        assert_eq!(
            c.to_string(),
            "TTL 2 ms, refreshed on read, returning expired values, no background cleanup"
        );
        assert_eq!(
            StateTtlConfig::new(Duration::MAX).ttl_millis(),
            i64::MAX,
            "huge TTLs saturate"
        );
    }
}
