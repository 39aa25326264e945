//! The two-phase-commit sink framework (H4; Flink's
//! `TwoPhaseCommitSinkFunction`): end-to-end exactly-once for systems with
//! transactions.
//!
//! Records go into the current transaction. When a checkpoint's barrier
//! arrives, the transaction is *pre-committed* (made durable but invisible) and
//! kept, under the checkpoint's id, in the sink's state; a new one begins. When
//! the checkpoint completes, every pre-committed transaction up to it is
//! *committed* (made visible). So output becomes visible exactly when the state
//! that produced it is durable. After a failure, the restored state names the
//! transactions pre-committed in the checkpoint restored from, which are
//! committed (again, if they were: commit must be idempotent), and the
//! transaction that was open, which is aborted (its records are replayed).
//!
//! In a job without checkpoints the sink commits at the end of its input. In a
//! bounded job with checkpoints the last records are committed by the job's
//! final checkpoint.

use crate::checkpointing::StateSnapshotContext;
use crate::context::RuntimeContext;
use crate::error::BoxError;
use crate::operator::OneInputOperator;
use crate::output::Output;
use crate::parameters::OperatorParameters;
use crate::sink::SinkContext;
use runnel_state::{DistributionMode, NamedOperatorState, OperatorStateSnapshot};
use runnel_types::{CheckpointId, Data, RecordCodec, StreamRecord, Watermark};
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;

/// A sink whose writes are grouped into transactions that can be prepared and
/// then committed or aborted.
///
/// `commit` and `abort` may be called again for a transaction they already
/// handled (after a failure between the external system's commit and the
/// checkpoint that recorded it): they must be idempotent.
pub trait TwoPhaseCommitSink<T>: Send + 'static {
    /// What identifies a transaction (serializable: it is kept in checkpoints).
    type Transaction: Data;

    /// Called once before anything else, also after a restore.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }

    /// Starts a transaction.
    fn begin_transaction(&mut self) -> Result<Self::Transaction, BoxError>;

    /// Writes a record into `transaction`.
    fn invoke(
        &mut self,
        transaction: &mut Self::Transaction,
        value: T,
        ctx: &SinkContext,
    ) -> Result<(), BoxError>;

    /// Makes `transaction` durable without making it visible; no record joins it
    /// afterwards.
    fn pre_commit(&mut self, transaction: &mut Self::Transaction) -> Result<(), BoxError>;

    /// Makes a pre-committed transaction visible. Idempotent.
    fn commit(&mut self, transaction: Self::Transaction) -> Result<(), BoxError>;

    /// Discards a transaction. Idempotent.
    fn abort(&mut self, transaction: Self::Transaction) -> Result<(), BoxError>;

    /// After a restore: commits a transaction pre-committed in the checkpoint
    /// restored from. The default commits.
    fn recover_and_commit(&mut self, transaction: Self::Transaction) -> Result<(), BoxError> {
        self.commit(transaction)
    }

    /// After a restore: aborts the transaction that was open at the checkpoint.
    /// The default aborts.
    fn recover_and_abort(&mut self, transaction: Self::Transaction) -> Result<(), BoxError> {
        self.abort(transaction)
    }

    /// Releases resources; called once, also after a failure.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// The operator state name of a two-phase-commit sink.
const STATE: &str = "two-phase-commit-transactions";

/// What a checkpoint keeps of the sink: the open transaction and the
/// pre-committed ones not yet known to be committed.
#[derive(Serialize, Deserialize)]
struct Transactions<X> {
    open: X,
    pre_committed: Vec<(u64, X)>,
}

/// Runs a [`TwoPhaseCommitSink`].
pub struct TwoPhaseCommitSinkOperator<T, S: TwoPhaseCommitSink<T>> {
    sink: S,
    ctx: SinkContext,
    current: Option<S::Transaction>,
    /// Pre-committed, by checkpoint id, oldest first.
    pending: Vec<(u64, S::Transaction)>,
    /// Restored transactions to settle in `open`.
    restored: Vec<Transactions<S::Transaction>>,
    checkpointing: bool,
    _records: PhantomData<fn(T)>,
}

impl<T: Data, S: TwoPhaseCommitSink<T>> TwoPhaseCommitSinkOperator<T, S> {
    /// The operator of one subtask; picks up its transactions from the restored
    /// state, if any.
    pub fn new(sink: S, params: &OperatorParameters) -> Result<Self, BoxError> {
        let mut restored = Vec::new();
        if let Some(state) = params
            .restored_state()
            .and_then(|s| s.operator_state.get(STATE))
        {
            for element in &state.elements {
                restored.push(RecordCodec::decode(element)?);
            }
        }
        Ok(TwoPhaseCommitSinkOperator {
            sink,
            ctx: SinkContext::new(None),
            current: None,
            pending: Vec::new(),
            restored,
            checkpointing: params.is_checkpointing_enabled(),
            _records: PhantomData,
        })
    }
}

impl<T: Data, S: TwoPhaseCommitSink<T>> OneInputOperator for TwoPhaseCommitSinkOperator<T, S> {
    type In = T;
    type Out = ();

    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.ctx = SinkContext::new(Some(ctx.clock().clone()));
        self.sink.open(ctx)?;
        for state in std::mem::take(&mut self.restored) {
            for (_, transaction) in state.pre_committed {
                self.sink.recover_and_commit(transaction)?;
            }
            self.sink.recover_and_abort(state.open)?;
        }
        Ok(())
    }

    fn process_element(
        &mut self,
        record: StreamRecord<T>,
        _out: &mut Output<()>,
    ) -> Result<(), BoxError> {
        self.ctx.set_timestamp(record.timestamp);
        if self.current.is_none() {
            self.current = Some(self.sink.begin_transaction()?);
        }
        let transaction = self.current.as_mut().expect("begun above");
        self.sink.invoke(transaction, record.value, &self.ctx)
    }

    fn process_watermark(
        &mut self,
        watermark: Watermark,
        _out: &mut Output<()>,
    ) -> Result<(), BoxError> {
        self.ctx.set_watermark(watermark);
        Ok(())
    }

    fn snapshot_state(&mut self, ctx: &mut StateSnapshotContext<'_>) -> Result<(), BoxError> {
        let mut transaction = match self.current.take() {
            Some(t) => t,
            None => self.sink.begin_transaction()?,
        };
        self.sink.pre_commit(&mut transaction)?;
        self.pending.push((ctx.checkpoint_id().0, transaction));
        let open = self.sink.begin_transaction()?;
        let state = Transactions {
            open: open.clone(),
            pre_committed: self.pending.clone(),
        };
        self.current = Some(open);
        ctx.state().operator_state = OperatorStateSnapshot {
            states: vec![NamedOperatorState {
                name: STATE.to_string(),
                mode: DistributionMode::SplitDistribute,
                elements: vec![RecordCodec::encode(&state)?],
            }],
        };
        Ok(())
    }

    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<(), BoxError> {
        let due = self.pending.iter().take_while(|(c, _)| *c <= id.0).count();
        for (_, transaction) in self.pending.drain(..due) {
            self.sink.commit(transaction)?;
        }
        Ok(())
    }

    fn end_input(&mut self, _out: &mut Output<()>) -> Result<(), BoxError> {
        if self.checkpointing {
            // The job's final checkpoint pre-commits and commits the rest.
            return Ok(());
        }
        if let Some(mut transaction) = self.current.take() {
            self.sink.pre_commit(&mut transaction)?;
            self.sink.commit(transaction)?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        // The open transaction holds only records after the last checkpoint,
        // which a restart replays: abort it. Pre-committed ones are left to the
        // recovery of the next run, which commits them if their checkpoint
        // completed.
        if let Some(transaction) = self.current.take()
            && let Err(e) = self.sink.abort(transaction)
        {
            log::warn!("aborting the open transaction on close failed: {e}");
        }
        self.sink.close()
    }
}
