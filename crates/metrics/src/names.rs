//! The names of Runnel's built-in metrics (Flink's `MetricNames`), so the
//! runtime, the REST API and the web UI agree on them.

/// Records an operator or task received.
pub const NUM_RECORDS_IN: &str = "numRecordsIn";
/// Records an operator or task emitted.
pub const NUM_RECORDS_OUT: &str = "numRecordsOut";
/// The meter over [`NUM_RECORDS_IN`].
pub const NUM_RECORDS_IN_PER_SECOND: &str = "numRecordsInPerSecond";
/// The meter over [`NUM_RECORDS_OUT`].
pub const NUM_RECORDS_OUT_PER_SECOND: &str = "numRecordsOutPerSecond";
/// Bytes a task received.
pub const NUM_BYTES_IN: &str = "numBytesIn";
/// Bytes a task emitted.
pub const NUM_BYTES_OUT: &str = "numBytesOut";
/// The last watermark an operator or task received (ms).
pub const CURRENT_INPUT_WATERMARK: &str = "currentInputWatermark";
/// The last watermark an operator or task emitted (ms).
pub const CURRENT_OUTPUT_WATERMARK: &str = "currentOutputWatermark";
/// Records dropped by a window operator because they arrived too late.
pub const NUM_LATE_RECORDS_DROPPED: &str = "numLateRecordsDropped";
/// Milliseconds per second a task was busy.
pub const BUSY_TIME_MS_PER_SECOND: &str = "busyTimeMsPerSecond";
/// Milliseconds per second a task waited for input.
pub const IDLE_TIME_MS_PER_SECOND: &str = "idleTimeMsPerSecond";
/// Milliseconds per second a task waited for output buffers.
pub const BACK_PRESSURED_TIME_MS_PER_SECOND: &str = "backPressuredTimeMsPerSecond";
/// Completed checkpoints of a job.
pub const NUMBER_OF_COMPLETED_CHECKPOINTS: &str = "numberOfCompletedCheckpoints";
/// Failed checkpoints of a job.
pub const NUMBER_OF_FAILED_CHECKPOINTS: &str = "numberOfFailedCheckpoints";
/// Duration of the last completed checkpoint (ms).
pub const LAST_CHECKPOINT_DURATION: &str = "lastCheckpointDuration";
/// Size of the last completed checkpoint (bytes).
pub const LAST_CHECKPOINT_SIZE: &str = "lastCheckpointSize";
/// How many times a job restarted.
pub const NUM_RESTARTS: &str = "numRestarts";
/// Buffers in use over the capacity of a task's input channels (0 to 1).
pub const IN_POOL_USAGE: &str = "buffers.inPoolUsage";
/// Buffers in use over the capacity of a task's output channels (0 to 1).
pub const OUT_POOL_USAGE: &str = "buffers.outPoolUsage";
