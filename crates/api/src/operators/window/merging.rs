//! Merging (session) windows: the windows in flight for a key, each with its
//! contents, and how a new window merges with those it overlaps or touches
//! (Flink's `MergingWindowSet`).

use super::WindowOperator;
use super::contents::WindowContents;
use super::functions::InternalWindowFunction;
use crate::windowing::WindowAssigner;
use crate::windowing::{Trigger, TriggerResult, Window};
use runnel_runtime::BoxError;
use runnel_runtime::Output;
use runnel_runtime::partitioning::KeySelector;
use runnel_types::{Data, EventTime, StreamRecord};
use serde::{Deserialize, Serialize};

/// A window in flight for a key of merging windows, with its contents. (Flink
/// keeps a "state window" per window instead, so that a merge moves no state in
/// RocksDB; on the heap moving an accumulator is cheap, and one state lookup
/// then finds a key's windows and their contents together.)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InFlight<W, A> {
    pub(super) window: W,
    pub(super) acc: A,
    /// With lazily armed timers: the time of the one pending timer of this
    /// window or of a window merged into it (see `WindowOperator::lazy_timers`).
    pub(super) armed: i64,
}

/// The windows in flight for one key of merging windows: usually one, kept
/// inline so that finding it costs no second memory access.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum InFlightWindows<W, A> {
    /// One window.
    One(InFlight<W, A>),
    /// Several.
    Many(Vec<InFlight<W, A>>),
}

impl<W: PartialEq, A> InFlightWindows<W, A> {
    pub(super) fn as_slice(&self) -> &[InFlight<W, A>] {
        match self {
            InFlightWindows::One(f) => std::slice::from_ref(f),
            InFlightWindows::Many(v) => v,
        }
    }

    pub(super) fn as_mut_slice(&mut self) -> &mut [InFlight<W, A>] {
        match self {
            InFlightWindows::One(f) => std::slice::from_mut(f),
            InFlightWindows::Many(v) => v,
        }
    }

    pub(super) fn find_mut(&mut self, window: &W) -> Option<&mut InFlight<W, A>> {
        self.as_mut_slice().iter_mut().find(|f| f.window == *window)
    }

    pub(super) fn contains(&self, window: &W) -> bool {
        self.as_slice().iter().any(|f| f.window == *window)
    }

    /// Adds a window (`slot` is `None` when the key has none).
    pub(super) fn push(slot: &mut Option<Self>, f: InFlight<W, A>) {
        match slot.take() {
            None => *slot = Some(InFlightWindows::One(f)),
            Some(InFlightWindows::One(first)) => {
                *slot = Some(InFlightWindows::Many(vec![first, f]))
            }
            Some(InFlightWindows::Many(mut v)) => {
                v.push(f);
                *slot = Some(InFlightWindows::Many(v));
            }
        }
    }

    /// Removes and returns the window at `index` (order is not kept); leaves
    /// `None` when it was the last.
    pub(super) fn remove(slot: &mut Option<Self>, index: usize) -> Option<InFlight<W, A>> {
        match slot.take()? {
            InFlightWindows::One(f) if index == 0 => Some(f),
            one @ InFlightWindows::One(_) => {
                *slot = Some(one);
                None
            }
            InFlightWindows::Many(mut v) => {
                let f = (index < v.len()).then(|| v.swap_remove(index));
                *slot = match v.len() {
                    0 => None,
                    1 => v.pop().map(InFlightWindows::One),
                    _ => Some(InFlightWindows::Many(v)),
                };
                f
            }
        }
    }
}

/// A group of windows that merge: `members` (without the new window) index
/// `MergeScratch::members`.
pub(super) struct MergeGroup<W> {
    pub(super) result: W,
    pub(super) members: std::ops::Range<usize>,
    pub(super) has_new_window: bool,
}

/// Buffers reused by every merge of windows.
pub(super) struct MergeScratch<W> {
    pub(super) candidates: Vec<W>,
    pub(super) members: Vec<W>,
    pub(super) groups: Vec<MergeGroup<W>>,
    /// The groups whose merge the trigger and timers must hear about.
    pub(super) merges: Vec<usize>,
}

impl<W> Default for MergeScratch<W> {
    fn default() -> Self {
        MergeScratch {
            candidates: Vec::new(),
            members: Vec::new(),
            groups: Vec::new(),
            merges: Vec::new(),
        }
    }
}

impl<W> MergeScratch<W> {
    pub(super) fn clear(&mut self) {
        self.candidates.clear();
        self.members.clear();
        self.groups.clear();
        self.merges.clear();
    }
}

/// What a timer of a merging window finds.
pub(super) enum Seen<W> {
    /// Its window is in flight.
    InFlight,
    /// Its window was merged into this one, and the timer moves there.
    Rearm(W),
    /// Nothing to do.
    Gone,
}

/// Where an element's window ended up among the in-flight windows.
pub(super) struct AddedWindow<W> {
    /// The in-flight window (the merge result, or the new window).
    pub(super) window: W,
    /// Whether it is new (neither merged nor already in flight).
    pub(super) created: bool,
}

/// Flink's `MergingWindowSet.addWindow`: adds `new_window` to a key's in-flight
/// windows, merging as the assigner says. The contents of merged windows are
/// merged (in window order); the merges are recorded in `scratch.merges` for the
/// trigger and timers, which touch other state.
pub(super) fn add_in_flight<T, A, C>(
    assigner: &A,
    contents: &mut C,
    slot: &mut Option<InFlightWindows<A::W, C::Acc>>,
    new_window: &A::W,
    scratch: &mut MergeScratch<A::W>,
) -> Result<AddedWindow<A::W>, BoxError>
where
    A: WindowAssigner<T>,
    C: WindowContents<T, A::W>,
{
    if let Some(flights) = slot.as_ref() {
        scratch
            .candidates
            .extend(flights.as_slice().iter().map(|f| f.window.clone()));
    }
    scratch.candidates.push(new_window.clone());
    {
        let MergeScratch {
            candidates,
            members,
            groups,
            ..
        } = &mut *scratch;
        assigner.merge_windows(candidates, &mut |group, result| {
            let start = members.len();
            members.extend(group.iter().filter(|w| *w != new_window).cloned());
            groups.push(MergeGroup {
                result: result.clone(),
                members: start..members.len(),
                has_new_window: members.len() - start < group.len(),
            });
        });
    }
    let mut result_window = new_window.clone();
    let mut merged_new_window = false;
    for (g, group) in scratch.groups.iter().enumerate() {
        if group.has_new_window {
            merged_new_window = true;
            result_window = group.result.clone();
        }
        let merged = &scratch.members[group.members.clone()];
        if merged.is_empty() {
            continue;
        }
        // The merged windows' contents, merged into the first one's; the
        // earliest of their pending timers stays armed for the result.
        let mut acc: Option<C::Acc> = None;
        let mut armed = i64::MAX;
        for w in merged {
            let pos = slot
                .as_ref()
                .and_then(|fs| fs.as_slice().iter().position(|f| f.window == *w));
            if let Some(f) = pos.and_then(|pos| InFlightWindows::remove(slot, pos)) {
                armed = armed.min(f.armed);
                acc = Some(match acc {
                    None => f.acc,
                    Some(mut a) => {
                        contents.merge(&mut a, f.acc)?;
                        a
                    }
                });
            }
        }
        InFlightWindows::push(
            slot,
            InFlight {
                window: group.result.clone(),
                acc: acc.unwrap_or_else(C::create),
                armed: if armed == i64::MAX { i64::MIN } else { armed },
            },
        );
        // Merging one window into itself (the new one lies inside it) is no merge.
        if !(merged.len() == 1 && merged[0] == group.result) {
            scratch.merges.push(g);
        }
    }
    let mut created = false;
    if (scratch.groups.is_empty() || (result_window == *new_window && !merged_new_window))
        && !slot.as_ref().is_some_and(|fs| fs.contains(&result_window))
    {
        InFlightWindows::push(
            slot,
            InFlight {
                window: result_window.clone(),
                acc: C::create(),
                armed: i64::MIN,
            },
        );
        created = true;
    }
    Ok(AddedWindow {
        window: result_window,
        created,
    })
}

/// The operator's side of merging windows.
impl<IN, OUT, KS, A, Tr, C, F> WindowOperator<IN, OUT, KS, A, Tr, C, F>
where
    IN: Data,
    OUT: Data,
    KS: KeySelector<IN>,
    A: WindowAssigner<IN>,
    Tr: Trigger<IN, A::W>,
    C: WindowContents<IN, A::W>,
    F: InternalWindowFunction<KS::Key, C::Acc, OUT, A::W>,
{
    pub(super) fn process_merging(
        &mut self,
        record: StreamRecord<IN>,
        windows: &[A::W],
        out: &mut Output<OUT>,
    ) -> Result<Option<IN>, BoxError> {
        let Output { main, side } = out;
        let timestamp = record.timestamp;
        let mut value = Some(record.value);
        let mut skipped = true;
        for (i, window) in windows.iter().enumerate() {
            let last = i + 1 == windows.len();
            // With the event-time trigger the element goes into the contents in
            // the same state access that places the window.
            let mut pending = if self.trigger_fast_path {
                if last { value.take() } else { value.clone() }
            } else {
                None
            };
            let Some(added) = self.add_window(window, &mut pending, timestamp)? else {
                if let Some(v) = pending {
                    value = Some(v);
                }
                continue; // the window it ended up in is late
            };
            skipped = false;
            self.run_merges()?;
            let actual = &added.window;
            let result = if self.trigger_fast_path {
                if added.created {
                    self.push_window_timers(actual);
                }
                if actual.max_timestamp() <= self.watermark() {
                    TriggerResult::Fire
                } else {
                    TriggerResult::Continue
                }
            } else {
                let element = if last {
                    value
                        .take()
                        .expect("the element goes to its last window once")
                } else {
                    value
                        .clone()
                        .expect("the element is kept until its last window")
                };
                let mut tctx = Self::trigger_context(&mut self.keyed, actual, &[]);
                let result = self
                    .trigger
                    .on_element(&element, timestamp, actual, &mut tctx)?;
                let set = self.in_flight.expect("merging windows");
                let contents = &mut self.contents;
                set.with_value(&mut self.keyed.store, |slot| {
                    match slot.as_mut().and_then(|fs| fs.find_mut(actual)) {
                        Some(f) => contents.add(&mut f.acc, element, timestamp),
                        None => Err(format!("window {actual:?} is not in flight").into()),
                    }
                })??;
                self.register_cleanup_timer(actual);
                result
            };
            if result.is_fire() {
                self.emit(actual, !result.is_purge(), main, side)?;
            }
            if result.is_purge() {
                self.purge(actual)?;
            }
        }
        Ok(if skipped { value } else { None })
    }

    /// Places `window` among the key's in-flight windows (one state access):
    /// merges, retires the result if it is late (`None`), and adds `pending` to
    /// its contents if given (taking it). The merges found wait in the scratch
    /// buffers for [`Self::run_merges`].
    fn add_window(
        &mut self,
        window: &A::W,
        pending: &mut Option<IN>,
        timestamp: Option<EventTime>,
    ) -> Result<Option<AddedWindow<A::W>>, BoxError> {
        let set = self.in_flight.expect("merging windows");
        let late_after = if self.event_time {
            Some(self.watermark())
        } else {
            None
        };
        let lateness = self.allowed_lateness;
        let self_lazy = self.lazy_timers;
        let WindowOperator {
            assigner,
            contents,
            merge_scratch: scratch,
            keyed,
            ..
        } = self;
        scratch.clear();
        let lazy = self_lazy;
        set.with_value(&mut keyed.store, |slot| {
            let added = add_in_flight(assigner, contents, slot, window, scratch)?;
            let late = late_after.is_some_and(|watermark| {
                added
                    .window
                    .max_timestamp()
                    .checked_add(lateness)
                    .is_some_and(|cleanup| cleanup <= watermark)
            });
            if late {
                let pos = slot
                    .as_ref()
                    .and_then(|fs| fs.as_slice().iter().position(|f| f.window == added.window));
                if let Some(pos) = pos {
                    InFlightWindows::remove(slot, pos);
                }
                return Ok(None);
            }
            let f = slot
                .as_mut()
                .and_then(|fs| fs.find_mut(&added.window))
                .expect("the window was just placed");
            if lazy && added.created {
                f.armed = added.window.max_timestamp();
            }
            if let Some(element) = pending.take() {
                contents.add(&mut f.acc, element, timestamp)?;
            }
            Ok(Some(added))
        })?
    }

    /// What the merges found by [`Self::add_window`] mean for the trigger and
    /// timers (Flink's merge function of `WindowOperator`): a merged window may
    /// not end before the current time; the trigger merges its state and
    /// timers, and the merged windows' triggers and cleanup timers are cleared.
    fn run_merges(&mut self) -> Result<(), BoxError> {
        let scratch = std::mem::take(&mut self.merge_scratch);
        let result = scratch.merges.iter().try_for_each(|&g| {
            let group = &scratch.groups[g];
            self.merge(&group.result, &scratch.members[group.members.clone()])
        });
        self.merge_scratch = scratch;
        result
    }

    fn merge(&mut self, merge_result: &A::W, merged_windows: &[A::W]) -> Result<(), BoxError> {
        let max = merge_result.max_timestamp();
        if self.event_time {
            let watermark = self.watermark();
            if max.saturating_add(self.allowed_lateness) <= watermark {
                return Err(format!(
                    "the end timestamp of an event-time window cannot become earlier than the current \
                     watermark by merging: current watermark {watermark}, window {merge_result:?}"
                )
                .into());
            }
        } else {
            let now = self.keyed.time.now();
            if max <= now {
                return Err(format!(
                    "the end timestamp of a processing-time window cannot become earlier than the \
                     current processing time by merging: current processing time {now}, window {merge_result:?}"
                )
                .into());
            }
        }
        if self.lazy_timers {
            // The earliest timer of the merged windows stays armed and moves to
            // the merged window's end when it fires.
        } else if self.trigger_fast_path {
            // The event-time trigger's `on_merge`, with pushed timers: those of
            // the merged windows fire later for windows no longer in flight and
            // are skipped then.
            self.push_window_timers(merge_result);
        } else {
            let mut tctx = Self::trigger_context(&mut self.keyed, merge_result, merged_windows);
            self.trigger.on_merge(merge_result, &mut tctx)?;
            for m in merged_windows {
                let mut tctx = Self::trigger_context(&mut self.keyed, m, &[]);
                self.trigger.clear(m, &mut tctx)?;
                self.delete_cleanup_timer(m);
            }
        }
        Ok(())
    }
}
