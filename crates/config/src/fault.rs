//! Fault injection (`execution.fault-injection.*`): a documented way to make a
//! chosen operator fail, for testing recovery without editing the job.

use crate::values::{parse_non_negative, parse_positive};

/// Makes one subtask of one operator fail after a number of records, in the
/// first `failures` attempts of the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultInjection {
    /// `execution.fault-injection.operator`: the operator's name (as given by
    /// `name(..)`, or its default name).
    pub operator: String,
    /// `execution.fault-injection.subtask`: which of its subtasks (0).
    pub subtask: u32,
    /// `execution.fault-injection.after-records`: the subtask fails when it has
    /// received this many records in an attempt (1000). With a seed, the upper
    /// bound of a random count instead.
    pub after_records: u64,
    /// `execution.fault-injection.failures`: attempts that fail (1); the attempt
    /// after the last one runs clean.
    pub failures: u32,
    /// `execution.fault-injection.seed`: when set, each failing attempt fails
    /// after a count drawn from 1..=`after_records` with this seed.
    pub seed: Option<u64>,
}

impl FaultInjection {
    /// Fail `operator` subtask 0 after `after_records` records, once.
    pub fn new(operator: impl Into<String>, after_records: u64) -> Self {
        FaultInjection {
            operator: operator.into(),
            subtask: 0,
            after_records: after_records.max(1),
            failures: 1,
            seed: None,
        }
    }

    /// After how many records attempt `attempt` fails, if it does.
    pub fn failure_point(&self, attempt: u32) -> Option<u64> {
        if attempt >= self.failures {
            return None;
        }
        Some(match self.seed {
            None => self.after_records,
            Some(seed) => {
                let r = splitmix64(seed ^ u64::from(attempt).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                1 + r % self.after_records.max(1)
            }
        })
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Parses a key of this module; see [`crate::checkpointing`] for the contract.
pub(crate) fn parse(
    key: &str,
    v: &str,
    fault: &mut Option<FaultInjection>,
) -> Option<Result<(), &'static str>> {
    if !key.starts_with("execution.fault-injection.") {
        return None;
    }
    let f = fault.get_or_insert_with(|| FaultInjection::new("", 1000));
    Some(match key {
        "execution.fault-injection.operator" => {
            let name = v.trim();
            if name.is_empty() {
                Err("an operator name")
            } else {
                f.operator = name.to_string();
                Ok(())
            }
        }
        "execution.fault-injection.subtask" => parse_non_negative(v)
            .ok_or("a non-negative integer")
            .map(|s| f.subtask = s),
        "execution.fault-injection.after-records" => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or("a positive integer")
            .map(|n| f.after_records = n),
        "execution.fault-injection.failures" => parse_positive(v)
            .ok_or("a positive integer")
            .map(|n| f.failures = n),
        "execution.fault-injection.seed" => v
            .trim()
            .parse::<u64>()
            .ok()
            .ok_or("a non-negative integer")
            .map(|s| f.seed = Some(s)),
        _ => return None,
    })
}
