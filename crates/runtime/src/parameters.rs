//! What an operator instance is created with (Flink's `StreamOperatorParameters`).

use crate::context::RuntimeContext;
use crate::metrics::OperatorCounters;
use crate::time::ProcessingTimeService;
use runnel_checkpoint::{NativeFileSource, OperatorSubtaskState};
use runnel_config::StateBackendType;
use runnel_types::KeyGroupRange;
use std::sync::Arc;
use std::time::Duration;

/// The environment of one operator instance, handed to its constructor.
#[derive(Debug, Clone)]
pub struct OperatorParameters {
    pub(crate) runtime: RuntimeContext,
    pub(crate) time: ProcessingTimeService,
    pub(crate) key_groups: KeyGroupRange,
    pub(crate) auto_watermark_interval: Duration,
    pub(crate) state_backend: StateBackendType,
    pub(crate) counters: OperatorCounters,
    pub(crate) restored: Option<Arc<OperatorSubtaskState>>,
    pub(crate) native_files: Option<NativeFileSource>,
    pub(crate) checkpointing: bool,
    pub(crate) incremental: bool,
}

impl OperatorParameters {
    /// Parameters for an operator run outside a job (operator tests).
    pub fn standalone(runtime: RuntimeContext, time: ProcessingTimeService) -> Self {
        let key_groups = runnel_types::compute_key_group_range_for_operator_index(
            runtime.max_parallelism(),
            runtime.parallelism(),
            runtime.subtask_index(),
        );
        OperatorParameters {
            runtime,
            time,
            key_groups,
            auto_watermark_interval: Duration::from_millis(200),
            state_backend: StateBackendType::default(),
            counters: OperatorCounters::default(),
            restored: None,
            native_files: None,
            checkpointing: false,
            incremental: false,
        }
    }

    /// The state this instance continues from after a restore (its share of a
    /// checkpoint or savepoint), or `None` on a fresh start. Operators with state
    /// read it when they are created.
    pub fn restored_state(&self) -> Option<&OperatorSubtaskState> {
        self.restored.as_deref()
    }

    /// Where the files of restored native keyed state (incremental
    /// checkpoints) are to be downloaded from.
    pub fn restored_native_files(&self) -> Option<&NativeFileSource> {
        self.native_files.as_ref()
    }

    /// Whether keyed state on the LSM backend is checkpointed incrementally
    /// (`execution.checkpointing.incremental`).
    pub fn incremental_checkpoints(&self) -> bool {
        self.incremental
    }

    /// Checkpoints keyed state incrementally (operator tests).
    pub fn with_incremental_checkpoints(mut self, incremental: bool) -> Self {
        self.incremental = incremental;
        self
    }

    /// Whether the job takes checkpoints (a transactional sink then commits on
    /// checkpoint completion, otherwise at end of input).
    pub fn is_checkpointing_enabled(&self) -> bool {
        self.checkpointing
    }

    /// Restores this instance from `state` (operator tests).
    pub fn with_restored_state(mut self, state: OperatorSubtaskState) -> Self {
        self.restored = Some(Arc::new(state));
        self
    }

    /// The instance's runtime context.
    pub fn runtime(&self) -> &RuntimeContext {
        &self.runtime
    }

    /// The task's processing-time service.
    pub fn processing_time(&self) -> &ProcessingTimeService {
        &self.time
    }

    /// The key groups this instance owns (for keyed operators).
    pub fn key_group_range(&self) -> KeyGroupRange {
        self.key_groups
    }

    /// How often periodic watermark generators emit (`pipeline.auto-watermark-interval`;
    /// zero disables periodic emission).
    pub fn auto_watermark_interval(&self) -> Duration {
        self.auto_watermark_interval
    }

    /// The instance's built-in counters (for operators that count more than
    /// records in and out, such as late records dropped).
    pub fn counters(&self) -> &OperatorCounters {
        &self.counters
    }

    /// Where keyed operators keep their state (`state.backend.type`).
    pub fn state_backend(&self) -> StateBackendType {
        self.state_backend
    }

    /// Overrides the watermark interval (operator tests).
    pub fn with_auto_watermark_interval(mut self, interval: Duration) -> Self {
        self.auto_watermark_interval = interval;
        self
    }
}
