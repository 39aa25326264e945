//! Runnel's benchmark harness: the anchor workloads of `WORKLOADS.md` (a
//! deterministic bid generator, fixed jobs and their expected checksums), run as
//! Runnel jobs or as single-threaded "physical limit" loops, each printing one
//! `RESULT` line that compares directly with Flink's reference figures.
//!
//! The binary `runnel-bench` is the command line; see `docs/benchmarks.md`.
//!
//! * [`bid`]: the bid generator and its parallel source.
//! * [`checksum`]: the record hash, the expected results and the checksum sink.
//! * [`timing`]: in-job time, measured inside the job.
//! * [`workloads`]: one module per workload.
//! * [`report`]: the `RESULT` line and the correctness check.
//! * [`spool`]: results of a job spread over several processes.

pub mod bid;
pub mod checksum;
pub mod cluster;
pub mod report;
pub mod spool;
pub mod timing;
pub mod workloads;
