//! The three graphs of a job (A3), as plain data with no user code in them.
//!
//! * [`StreamGraph`]: one node per operator as the program wrote it, with resolved
//!   parallelism (A5), partitioners and slot sharing groups.
//! * [`JobGraph`]: the StreamGraph after operator chaining; one vertex per chain.
//! * [`ExecutionGraph`]: the JobGraph expanded into parallel subtasks and the
//!   channels between them.
//!
//! All three serialize to JSON and print as text ([`Plan`]). Because a Rust closure
//! cannot be shipped, a graph here only *names* operators; every process that runs
//! part of a job rebuilds the same graph from the same program and looks operator
//! code up by node id (see `docs/design/shipping-user-code.md`). This crate is pure:
//! no threads, no I/O, no dependency on the runtime.

mod error;
mod execution_graph;
mod explain;
mod job_graph;
mod partitioner;
mod stream_graph;

pub use error::PlanError;
pub use execution_graph::{
    ChannelConnection, ExecutionEdge, ExecutionGraph, ExecutionJobVertex, ExecutionVertex,
};
pub use explain::{Plan, plan};
pub use job_graph::{DistributionPattern, JobEdge, JobGraph, JobVertex};
pub use partitioner::Partitioner;
pub use stream_graph::{
    ChainingStrategy, DEFAULT_SLOT_SHARING_GROUP, EdgeSpec, NodeKind, NodeSpec,
    ParallelismDefaults, ParallelismSource, SideOutputRef, StreamEdge, StreamGraph, StreamNode,
};
