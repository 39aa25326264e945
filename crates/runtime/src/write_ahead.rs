//! The write-ahead-log sink (H4; Flink's `GenericWriteAheadSink`): at-least-once
//! output to any system.
//!
//! Records are not written as they arrive: they are kept in the sink's state,
//! grouped by the checkpoint that covers them, and written only when that
//! checkpoint completes. Output therefore never shows the effect of records that
//! a restore rolls back. A failure after some of a checkpoint's records were
//! written makes them be written again after the restore, unless the sink
//! remembers which checkpoints it wrote (see
//! [`WriteAheadSink::is_checkpoint_written`]), which makes it exactly-once.

use crate::checkpointing::StateSnapshotContext;
use crate::context::RuntimeContext;
use crate::error::BoxError;
use crate::operator::OneInputOperator;
use crate::output::Output;
use crate::parameters::OperatorParameters;
use runnel_state::{DistributionMode, NamedOperatorState, OperatorStateSnapshot};
use runnel_types::{CheckpointId, Data, RecordCodec, StreamRecord};
use std::marker::PhantomData;

/// Writes the records of completed checkpoints.
pub trait WriteAheadSink<T>: Send + 'static {
    /// Called once before anything else, also after a restore.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }

    /// Writes the records checkpoint `checkpoint` covers (in arrival order).
    fn send_values(
        &mut self,
        values: &[T],
        checkpoint: CheckpointId,
        timestamp: i64,
    ) -> Result<(), BoxError>;

    /// Whether this subtask already wrote `checkpoint`'s records (Flink's
    /// `CheckpointCommitter`). The default does not remember: at-least-once.
    fn is_checkpoint_written(&mut self, _checkpoint: CheckpointId) -> Result<bool, BoxError> {
        Ok(false)
    }

    /// Releases resources; called once, also after a failure.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

const STATE: &str = "write-ahead-log";

/// Runs a [`WriteAheadSink`].
pub struct WriteAheadSinkOperator<T, S> {
    sink: S,
    /// Records since the last checkpoint.
    buffer: Vec<T>,
    /// Checkpoints taken but not known complete: id, time, records.
    pending: Vec<(u64, i64, Vec<T>)>,
    checkpointing: bool,
    _records: PhantomData<fn(T)>,
}

impl<T: Data, S: WriteAheadSink<T>> WriteAheadSinkOperator<T, S> {
    /// The operator of one subtask, with the records of its restored state.
    pub fn new(sink: S, params: &OperatorParameters) -> Result<Self, BoxError> {
        let mut pending = Vec::new();
        if let Some(state) = params
            .restored_state()
            .and_then(|s| s.operator_state.get(STATE))
        {
            for element in &state.elements {
                pending.push(RecordCodec::decode::<(u64, i64, Vec<T>)>(element)?);
            }
            pending.sort_by_key(|(id, _, _)| *id);
        }
        Ok(WriteAheadSinkOperator {
            sink,
            buffer: Vec::new(),
            pending,
            checkpointing: params.is_checkpointing_enabled(),
            _records: PhantomData,
        })
    }

    /// Writes every pending checkpoint up to `up_to`.
    fn write_up_to(&mut self, up_to: u64) -> Result<(), BoxError> {
        let due = self
            .pending
            .iter()
            .take_while(|(id, _, _)| *id <= up_to)
            .count();
        for (id, timestamp, values) in self.pending.drain(..due) {
            let id = CheckpointId(id);
            if !self.sink.is_checkpoint_written(id)? {
                self.sink.send_values(&values, id, timestamp)?;
            }
        }
        Ok(())
    }
}

impl<T: Data, S: WriteAheadSink<T>> OneInputOperator for WriteAheadSinkOperator<T, S> {
    type In = T;
    type Out = ();

    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.sink.open(ctx)?;
        // Restored checkpoints completed (the job restored from them).
        self.write_up_to(u64::MAX)
    }

    fn process_element(
        &mut self,
        record: StreamRecord<T>,
        _out: &mut Output<()>,
    ) -> Result<(), BoxError> {
        self.buffer.push(record.value);
        Ok(())
    }

    fn snapshot_state(&mut self, ctx: &mut StateSnapshotContext<'_>) -> Result<(), BoxError> {
        let records = std::mem::take(&mut self.buffer);
        self.pending
            .push((ctx.checkpoint_id().0, ctx.checkpoint_timestamp(), records));
        let elements = self
            .pending
            .iter()
            .map(RecordCodec::encode)
            .collect::<Result<Vec<_>, _>>()?;
        ctx.state().operator_state = OperatorStateSnapshot {
            states: vec![NamedOperatorState {
                name: STATE.to_string(),
                mode: DistributionMode::SplitDistribute,
                elements,
            }],
        };
        Ok(())
    }

    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<(), BoxError> {
        self.write_up_to(id.0)
    }

    fn end_input(&mut self, _out: &mut Output<()>) -> Result<(), BoxError> {
        if !self.checkpointing {
            let records = std::mem::take(&mut self.buffer);
            self.sink.send_values(&records, CheckpointId(0), 0)?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.sink.close()
    }
}
