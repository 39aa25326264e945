//! Errors in a job's structure, found before anything runs. Always the user's to fix.

use thiserror::Error;

/// A job graph that cannot be executed as written.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum PlanError {
    /// The program defined no operators.
    #[error("no operators defined in the streaming topology; cannot execute job `{job}`")]
    EmptyGraph {
        /// The job's name.
        job: String,
    },
    /// A parallelism of zero was requested.
    #[error("invalid parallelism {value} for {what}: parallelism must be at least 1")]
    InvalidParallelism {
        /// The operator or setting concerned.
        what: String,
        /// The requested value.
        value: u32,
    },
    /// A max parallelism outside `1..=32768`.
    #[error("invalid max parallelism {value} for {what}: it must be between 1 and 32768")]
    InvalidMaxParallelism {
        /// The operator or setting concerned.
        what: String,
        /// The requested value.
        value: u32,
    },
    /// An operator's parallelism exceeds its max parallelism (its number of key groups).
    #[error(
        "the parallelism ({parallelism}) of operator `{operator}` is higher than its max parallelism ({max_parallelism})"
    )]
    ParallelismExceedsMax {
        /// The operator.
        operator: String,
        /// Its parallelism.
        parallelism: u32,
        /// Its max parallelism.
        max_parallelism: u32,
    },
    /// A non-parallel source (socket, collection, non-parallel user source) was asked to run in parallel.
    #[error("source `{operator}` is not parallel: its parallelism must be 1, got {requested}")]
    NonParallelSource {
        /// The source.
        operator: String,
        /// The requested parallelism.
        requested: u32,
    },
    /// `forward()` between operators of different parallelism.
    #[error(
        "forward partitioning does not allow a change of parallelism: upstream `{upstream}` has parallelism {upstream_parallelism}, downstream `{downstream}` has {downstream_parallelism}; use rebalance, rescale, shuffle, broadcast or global instead"
    )]
    ForwardParallelismMismatch {
        /// Upstream operator.
        upstream: String,
        /// Its parallelism.
        upstream_parallelism: u32,
        /// Downstream operator.
        downstream: String,
        /// Its parallelism.
        downstream_parallelism: u32,
    },
    /// Two operators were given the same uid.
    #[error(
        "operator uid `{uid}` is used by both `{first}` and `{second}`; uids must be unique within a job"
    )]
    DuplicateUid {
        /// The uid.
        uid: String,
        /// The first operator with it.
        first: String,
        /// The second operator with it.
        second: String,
    },
    /// The program used the API in a way that cannot run.
    #[error("{message}")]
    InvalidProgram {
        /// What is wrong.
        message: String,
    },
    /// An edge refers to a node that does not exist (a bug in the program builder).
    #[error("edge refers to unknown node {node}")]
    UnknownNode {
        /// The missing node's index.
        node: u32,
    },
}
