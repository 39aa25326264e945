//! The slot table: every slot of every registered TaskManager, free or
//! allocated to one job (SPEC A2).
//!
//! Slot sharing, as Flink's default slot sharing group: the subtasks of
//! different operators of one job may share a slot, two subtasks of one
//! operator never do, so a job needs as many slots as its highest operator
//! parallelism ([`slots_needed`]) and subtask `i` of every operator runs in the
//! job's `i`-th slot.
//!
//! Invariants: each slot belongs to exactly one TaskManager and is allocated
//! to at most one job; an allocation either takes every slot it asked for or
//! none; TaskManagers are searched in registration order, slots by index, so
//! the same table always allocates the same slots.

use super::TaskManagerId;
use std::fmt;
use thiserror::Error;

/// One task slot: the TaskManager that offers it and its index there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId {
    /// The TaskManager offering the slot.
    pub task_manager: TaskManagerId,
    /// The slot's index on it, from 0.
    pub index: u32,
}

impl fmt::Display for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.task_manager, self.index)
    }
}

/// The slots a job needs given its operators' parallelisms: the highest (slot
/// sharing), `0` for a job without operators.
///
/// ```
/// use runnel_jobmanager::resource_manager::slots_needed;
///
/// // Source (1) -> Window (4) -> Sink (2): four slots; slot 0 holds one
/// // subtask of each operator.
/// assert_eq!(slots_needed([1, 4, 2]), 4);
/// ```
pub fn slots_needed(parallelisms: impl IntoIterator<Item = u32>) -> u32 {
    parallelisms.into_iter().max().unwrap_or(0)
}

/// An allocation the free slots cannot satisfy; nothing was allocated.
/// Whose fault: nobody's yet — more TaskManagers may register; a retry later
/// can help.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("job {job} needs {needed} more task slots but only {free} are free")]
pub struct NotEnoughSlots {
    /// The job.
    pub job: String,
    /// The slots it still lacked.
    pub needed: u32,
    /// The free slots of the cluster.
    pub free: u32,
}

/// How a job's slots are taken from the TaskManagers' free slots (Flink's
/// `cluster.evenly-spread-out-slots`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SlotSpread {
    /// Fill the first TaskManager (in registration order), then the next.
    #[default]
    Fill,
    /// Take each next slot from the TaskManager with the most free slots
    /// (the first registered among equals).
    Evenly,
}

/// The slots of one process of a job: the TaskManager it runs on and the
/// job's slot indices it runs there (consecutive; subtask `i` of every
/// operator runs in job slot `i`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSlots {
    /// The TaskManager.
    pub task_manager: TaskManagerId,
    /// The job's slot indices on it, ascending and consecutive.
    pub slot_indices: Vec<u32>,
}

/// The slots of one TaskManager: the job each one is allocated to.
#[derive(Debug)]
struct Offer {
    task_manager: TaskManagerId,
    slots: Vec<Option<String>>,
}

/// Every slot of every registered TaskManager.
#[derive(Debug, Default)]
pub(crate) struct SlotTable {
    offers: Vec<Offer>,
}

impl SlotTable {
    /// Gives `task_manager` `slots` free slots. A TaskManager already in the
    /// table keeps its place and loses its allocations; returns the jobs that
    /// held any of them.
    pub(crate) fn add(&mut self, task_manager: &TaskManagerId, slots: u32) -> Vec<String> {
        let fresh = vec![None; slots as usize];
        match self
            .offers
            .iter_mut()
            .find(|o| &o.task_manager == task_manager)
        {
            Some(offer) => jobs_of(std::mem::replace(&mut offer.slots, fresh)),
            None => {
                self.offers.push(Offer {
                    task_manager: task_manager.clone(),
                    slots: fresh,
                });
                Vec::new()
            }
        }
    }

    /// Removes every slot of `task_manager`; returns the jobs that held any.
    pub(crate) fn remove(&mut self, task_manager: &TaskManagerId) -> Vec<String> {
        match self
            .offers
            .iter()
            .position(|o| &o.task_manager == task_manager)
        {
            Some(i) => jobs_of(self.offers.remove(i).slots),
            None => Vec::new(),
        }
    }

    /// Free slots of `task_manager` (0 if unknown).
    pub(crate) fn free(&self, task_manager: &TaskManagerId) -> u32 {
        self.offer(task_manager)
            .map_or(0, |o| o.slots.iter().filter(|s| s.is_none()).count() as u32)
    }

    /// The allocated slots of `task_manager` with their jobs.
    pub(crate) fn allocated(&self, task_manager: &TaskManagerId) -> Vec<(SlotId, String)> {
        self.offer(task_manager)
            .map(|o| {
                o.slots
                    .iter()
                    .enumerate()
                    .filter_map(|(i, job)| Some((slot(o, i), job.clone()?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Free slots of the whole cluster.
    pub(crate) fn free_total(&self) -> u32 {
        self.offers.iter().map(|o| self.free(&o.task_manager)).sum()
    }

    /// Makes `job` hold `n` slots: the slots it already holds count, the rest
    /// are taken from the free ones (none if it holds `n` or more). Returns
    /// every slot the job holds. On [`NotEnoughSlots`] nothing changes.
    pub(crate) fn allocate(&mut self, job: &str, n: u32) -> Result<Vec<SlotId>, NotEnoughSlots> {
        let held = self.held(job).len() as u32;
        let needed = n.saturating_sub(held);
        let free = self.free_total();
        if needed > free {
            return Err(NotEnoughSlots {
                job: job.to_string(),
                needed,
                free,
            });
        }
        let mut left = needed;
        for offer in &mut self.offers {
            for s in offer.slots.iter_mut().filter(|s| s.is_none()) {
                if left == 0 {
                    break;
                }
                *s = Some(job.to_string());
                left -= 1;
            }
        }
        Ok(self.held(job))
    }

    /// Makes `job` (holding no slots; release them first) hold `n` slots
    /// taken from the free ones as `spread` says, lowest indices first on
    /// each TaskManager. Returns one [`ProcessSlots`] per TaskManager used:
    /// process `k` in the order the TaskManagers were first chosen, with the
    /// job's consecutive slot indices there (process 0 holds job slot 0). On
    /// [`NotEnoughSlots`] (`free`: the cluster's free slots) nothing changes.
    pub(crate) fn allocate_processes(
        &mut self,
        job: &str,
        n: u32,
        spread: SlotSpread,
    ) -> Result<Vec<ProcessSlots>, NotEnoughSlots> {
        let free: Vec<u32> = self
            .offers
            .iter()
            .map(|o| self.free(&o.task_manager))
            .collect();
        let total: u32 = free.iter().sum();
        if n > total {
            return Err(NotEnoughSlots {
                job: job.to_string(),
                needed: n,
                free: total,
            });
        }
        // How many slots each TaskManager gives, and which gave first.
        let mut take = vec![0u32; free.len()];
        let mut order = Vec::new();
        for _ in 0..n {
            let pick = match spread {
                SlotSpread::Fill => (0..free.len()).find(|&i| take[i] < free[i]),
                SlotSpread::Evenly => (0..free.len())
                    .filter(|&i| take[i] < free[i])
                    .min_by_key(|&i| std::cmp::Reverse(free[i] - take[i])),
            };
            let Some(i) = pick else { break };
            if take[i] == 0 {
                order.push(i);
            }
            take[i] += 1;
        }
        let mut next = 0u32;
        let mut processes = Vec::with_capacity(order.len());
        for i in order {
            let offer = &mut self.offers[i];
            for s in offer
                .slots
                .iter_mut()
                .filter(|s| s.is_none())
                .take(take[i] as usize)
            {
                *s = Some(job.to_string());
            }
            processes.push(ProcessSlots {
                task_manager: offer.task_manager.clone(),
                slot_indices: (next..next + take[i]).collect(),
            });
            next += take[i];
        }
        Ok(processes)
    }

    /// Frees every slot of `job`; returns them.
    pub(crate) fn release(&mut self, job: &str) -> Vec<SlotId> {
        let held = self.held(job);
        for offer in &mut self.offers {
            for s in &mut offer.slots {
                if s.as_deref() == Some(job) {
                    *s = None;
                }
            }
        }
        held
    }

    /// The slots `job` holds, in table order.
    fn held(&self, job: &str) -> Vec<SlotId> {
        self.offers
            .iter()
            .flat_map(|o| {
                o.slots
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.as_deref() == Some(job))
                    .map(move |(i, _)| slot(o, i))
            })
            .collect()
    }

    fn offer(&self, task_manager: &TaskManagerId) -> Option<&Offer> {
        self.offers.iter().find(|o| &o.task_manager == task_manager)
    }
}

/// The jobs of `slots`, each once, in slot order.
fn jobs_of(slots: Vec<Option<String>>) -> Vec<String> {
    let mut jobs: Vec<String> = Vec::new();
    for job in slots.into_iter().flatten() {
        if !jobs.contains(&job) {
            jobs.push(job);
        }
    }
    jobs
}

fn slot(offer: &Offer, index: usize) -> SlotId {
    SlotId {
        task_manager: offer.task_manager.clone(),
        index: index as u32,
    }
}

/// `tm:indices` of each process of a placement, for compact assertions.
#[cfg(test)]
pub(crate) fn placed(processes: &[ProcessSlots]) -> Vec<String> {
    processes
        .iter()
        .map(|p| format!("{}:{:?}", p.task_manager, p.slot_indices))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tm(id: &str) -> TaskManagerId {
        TaskManagerId::new(id).unwrap()
    }

    /// `tm#index` of every slot, for compact assertions.
    fn names(slots: &[SlotId]) -> Vec<String> {
        slots.iter().map(ToString::to_string).collect()
    }

    /// Two TaskManagers, `a` with 2 slots and `b` with 3.
    fn table() -> SlotTable {
        let mut t = SlotTable::default();
        t.add(&tm("a"), 2);
        t.add(&tm("b"), 3);
        t
    }

    #[test]
    fn a_job_takes_as_many_slots_as_its_highest_parallelism() {
        let mut t = table();
        // Source (1) -> Map (3) -> Sink (2) share three slots.
        let job = slots_needed([1, 3, 2]);
        assert_eq!(job, 3);
        assert_eq!(
            names(&t.allocate("j1", job).unwrap()),
            ["a#0", "a#1", "b#0"]
        );
        assert_eq!(
            (t.free(&tm("a")), t.free(&tm("b")), t.free_total()),
            (0, 2, 2)
        );
        assert_eq!(names(&t.allocate("j2", 2).unwrap()), ["b#1", "b#2"]);
        assert_eq!(
            t.allocated(&tm("b"))
                .into_iter()
                .map(|(s, job)| format!("{s}={job}"))
                .collect::<Vec<_>>(),
            ["b#0=j1", "b#1=j2", "b#2=j2"]
        );
    }

    #[test]
    fn not_enough_slots_allocates_nothing() {
        let mut t = table();
        t.allocate("j1", 4).unwrap();
        assert_eq!(
            t.allocate("j2", 2),
            Err(NotEnoughSlots {
                job: "j2".into(),
                needed: 2,
                free: 1
            })
        );
        assert_eq!(t.free_total(), 1, "the failed allocation took nothing");
        assert_eq!(
            t.allocate("j2", 2).unwrap_err().to_string(),
            "job j2 needs 2 more task slots but only 1 are free"
        );
        assert_eq!(slots_needed([]), 0);
        assert_eq!(t.allocate("empty", 0).unwrap(), []);
    }

    #[test]
    fn allocating_again_tops_up_and_release_frees_everything() {
        let mut t = table();
        assert_eq!(t.allocate("j1", 2).unwrap().len(), 2);
        assert_eq!(t.allocate("j1", 2).unwrap().len(), 2, "idempotent");
        assert_eq!(t.free_total(), 3);
        // Losing TaskManager `a` takes both slots of j1; allocating again
        // replaces them.
        assert_eq!(t.remove(&tm("a")), ["j1"]);
        assert_eq!(t.allocate("j1", 2).unwrap().len(), 2);
        assert_eq!(t.free_total(), 1);
        assert_eq!(names(&t.release("j1")), ["b#0", "b#1"]);
        assert_eq!(t.free_total(), 3);
        assert!(t.release("j1").is_empty());
        assert!(t.remove(&tm("gone")).is_empty());
    }

    #[test]
    fn processes_fill_one_task_manager_after_the_other() {
        let mut t = table();
        t.allocate("j0", 1).unwrap(); // a: 1 free, b: 3 free
        let p = t.allocate_processes("j1", 3, SlotSpread::Fill).unwrap();
        assert_eq!(placed(&p), ["a:[0]", "b:[1, 2]"]);
        assert_eq!(names(&t.held("j1")), ["a#1", "b#0", "b#1"]);
        let p = t.allocate_processes("j2", 1, SlotSpread::Fill).unwrap();
        assert_eq!(placed(&p), ["b:[0]"]);
        assert_eq!(
            t.allocate_processes("j3", 1, SlotSpread::Fill),
            Err(NotEnoughSlots {
                job: "j3".into(),
                needed: 1,
                free: 0
            })
        );
        t.release("j1");
        assert_eq!(
            placed(&t.allocate_processes("j3", 2, SlotSpread::Fill).unwrap()),
            ["a:[0]", "b:[1]"]
        );
    }

    #[test]
    fn processes_spread_evenly_over_the_task_managers_with_most_free_slots() {
        let mut t = table(); // a: 2 free, b: 3 free
        let p = t.allocate_processes("j1", 4, SlotSpread::Evenly).unwrap();
        // Picks b (3 free), a (2, first among equals), b (2), a (1): b is
        // chosen first, so it runs process 0.
        assert_eq!(placed(&p), ["b:[0, 1]", "a:[2, 3]"]);
        assert_eq!((t.free(&tm("a")), t.free(&tm("b"))), (0, 1));
        let mut t = table();
        let p = t.allocate_processes("j1", 2, SlotSpread::Evenly).unwrap();
        assert_eq!(placed(&p), ["b:[0]", "a:[1]"]);
        let p = t.allocate_processes("j2", 3, SlotSpread::Evenly).unwrap();
        assert_eq!(placed(&p), ["b:[0, 1]", "a:[2]"]);
        assert_eq!(t.free_total(), 0);
        assert_eq!(
            t.allocate_processes("j3", 1, SlotSpread::Evenly)
                .unwrap_err()
                .free,
            0,
            "the failed allocation took nothing"
        );
    }

    #[test]
    fn re_adding_a_task_manager_drops_its_allocations() {
        let mut t = table();
        t.allocate("j1", 5).unwrap();
        assert_eq!(t.add(&tm("a"), 4), ["j1"]);
        assert_eq!(t.free(&tm("a")), 4);
        assert_eq!(t.free_total(), 4);
    }
}
