//! Where an operator's records go.
//!
//! An operator writes to its [`Output`]: a main output plus zero or more side
//! outputs ([`OutputTag`]). Each one buffers records into a batch and hands full
//! batches, in one call, to its targets: the next operator of the chain (a direct
//! call) or a record writer that serializes into network buffers. Anything that is
//! not a record (watermarks, end of input) first flushes the batch, so control
//! messages never overtake the records before them.
//!
//! Operators never see downstream failures: `collect` stashes the first error and
//! the operator's chain link reports it after the operator returns, attributed to
//! the operator that failed.

use crate::chain::ChainedInput;
use crate::checkpointing::TaskSnapshotBuilder;
use crate::error::TaskError;
use crate::metrics::{Counter, WatermarkGauge};
use runnel_types::{CheckpointId, Data, OutputTagId, StreamRecord, Watermark, WatermarkStatus};
use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

/// Names a side output of type `T` (Flink's `OutputTag`). Tags are identified by
/// name: two tags with the same name are the same side output.
#[derive(Debug)]
pub struct OutputTag<T> {
    name: Arc<str>,
    id: OutputTagId,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for OutputTag<T> {
    fn clone(&self) -> Self {
        OutputTag {
            name: self.name.clone(),
            id: self.id,
            _type: PhantomData,
        }
    }
}

impl<T> OutputTag<T> {
    /// A side output named `name`.
    pub fn new(name: &str) -> Self {
        let id = OutputTagId(runnel_types::key_hash(name) as u32);
        OutputTag {
            name: Arc::from(name),
            id,
            _type: PhantomData,
        }
    }

    /// The tag's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tag's id (derived from its name).
    pub fn id(&self) -> OutputTagId {
        self.id
    }
}

/// One output stream of an operator: a batch buffer and the targets it feeds.
pub struct MainOutput<T> {
    buffer: Vec<StreamRecord<T>>,
    batch_size: usize,
    targets: Vec<Box<dyn ChainedInput<T>>>,
    scratch: Vec<StreamRecord<T>>,
    records_out: Counter,
    watermark: Option<WatermarkGauge>,
    failure: Option<TaskError>,
}

impl<T: Data> MainOutput<T> {
    /// Records each emitted watermark in `gauge` (`currentOutputWatermark`).
    pub fn with_watermark_gauge(mut self, gauge: WatermarkGauge) -> Self {
        self.watermark = Some(gauge);
        self
    }

    /// An output feeding `targets`; counts emitted records in `records_out`.
    pub fn new(
        targets: Vec<Box<dyn ChainedInput<T>>>,
        batch_size: usize,
        records_out: Counter,
    ) -> Self {
        MainOutput {
            buffer: Vec::with_capacity(batch_size),
            batch_size: batch_size.max(1),
            targets,
            scratch: Vec::new(),
            records_out,
            watermark: None,
            failure: None,
        }
    }

    /// Emits a record. Always inlined, so that the caller builds the record in
    /// place in the batch (through a call, the record goes via the stack and its
    /// reload stalls on store forwarding).
    #[inline(always)]
    pub fn collect(&mut self, record: StreamRecord<T>) {
        self.buffer.push(record);
        if self.buffer.len() >= self.batch_size {
            self.flush_stashing();
        }
    }

    /// Emits a whole batch, leaving `batch` empty. When nothing is buffered the
    /// vectors are swapped, so passing a batch on costs no copy.
    #[inline]
    pub fn collect_batch(&mut self, batch: &mut Vec<StreamRecord<T>>) {
        if self.buffer.is_empty() {
            std::mem::swap(&mut self.buffer, batch);
        } else {
            self.buffer.append(batch);
        }
        if self.buffer.len() >= self.batch_size {
            self.flush_stashing();
        }
    }

    /// Emits every record of an iterator, checking for a full batch once at the end.
    #[inline]
    pub fn collect_all(&mut self, records: impl Iterator<Item = StreamRecord<T>>) {
        self.buffer.extend(records);
        if self.buffer.len() >= self.batch_size {
            self.flush_stashing();
        }
    }

    /// Emits a watermark after the records before it.
    pub fn emit_watermark(&mut self, watermark: Watermark) {
        if let Err(e) = self.forward_watermark(watermark) {
            self.stash(e);
        }
    }

    /// Whether the output has targets (records to an output without any are dropped).
    pub fn is_connected(&self) -> bool {
        !self.targets.is_empty()
    }

    fn stash(&mut self, e: TaskError) {
        if self.failure.is_none() {
            self.failure = Some(e);
        }
    }

    #[inline(never)]
    fn flush_stashing(&mut self) {
        if let Err(e) = self.flush() {
            self.stash(e);
            self.buffer.clear();
        }
    }

    /// The first error a downstream target raised since the last call, if any.
    pub fn take_failure(&mut self) -> Option<TaskError> {
        self.failure.take()
    }

    /// Hands the buffered batch to the targets.
    pub fn flush(&mut self) -> Result<(), TaskError> {
        if let Some(e) = self.failure.take() {
            return Err(e);
        }
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.records_out.inc_by(self.buffer.len() as u64);
        let result = match self.targets.len() {
            0 => Ok(()),
            1 => self.targets[0].process_batch(&mut self.buffer),
            n => {
                let mut result = Ok(());
                for t in &mut self.targets[..n - 1] {
                    self.scratch.clear();
                    self.scratch.extend(self.buffer.iter().cloned());
                    result = t.process_batch(&mut self.scratch);
                    if result.is_err() {
                        break;
                    }
                }
                result.and_then(|()| self.targets[n - 1].process_batch(&mut self.buffer))
            }
        };
        self.buffer.clear();
        result
    }

    /// Flushes and passes a watermark to every target.
    pub fn forward_watermark(&mut self, watermark: Watermark) -> Result<(), TaskError> {
        if let Some(gauge) = &self.watermark {
            gauge.set(watermark.millis());
        }
        self.flush()?;
        for t in &mut self.targets {
            t.process_watermark(watermark)?;
        }
        Ok(())
    }

    /// Emits a watermark status after the records before it.
    pub fn emit_watermark_status(&mut self, status: WatermarkStatus) {
        if let Err(e) = self.forward_watermark_status(status) {
            self.stash(e);
        }
    }

    /// Flushes and passes a watermark status to every target.
    pub fn forward_watermark_status(&mut self, status: WatermarkStatus) -> Result<(), TaskError> {
        self.flush()?;
        for t in &mut self.targets {
            t.process_watermark_status(status)?;
        }
        Ok(())
    }

    /// Flushes and tells every target that this input has ended.
    pub fn end_input(&mut self) -> Result<(), TaskError> {
        self.flush()?;
        for t in &mut self.targets {
            t.end_input()?;
        }
        Ok(())
    }

    pub(crate) fn targets_on_processing_time(&mut self, now: i64) -> Result<(), TaskError> {
        self.targets
            .iter_mut()
            .try_for_each(|t| t.on_processing_time(now))
    }

    pub(crate) fn open_targets(&mut self) -> Result<(), TaskError> {
        self.targets.iter_mut().try_for_each(|t| t.open())
    }

    pub(crate) fn close_targets(&mut self) -> Result<(), TaskError> {
        let mut first = Ok(());
        for t in &mut self.targets {
            let r = t.close();
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    pub(crate) fn flush_targets(&mut self) -> Result<(), TaskError> {
        self.targets.iter_mut().try_for_each(|t| t.flush_buffers())
    }

    pub(crate) fn targets_available(&self) -> bool {
        self.targets.iter().all(|t| t.is_output_available())
    }

    pub(crate) fn snapshot_targets(
        &mut self,
        snapshot: &mut TaskSnapshotBuilder,
    ) -> Result<(), TaskError> {
        self.flush()?;
        self.targets
            .iter_mut()
            .try_for_each(|t| t.snapshot_state(snapshot))
    }

    pub(crate) fn notify_targets(
        &mut self,
        id: CheckpointId,
        complete: bool,
    ) -> Result<(), TaskError> {
        self.targets
            .iter_mut()
            .try_for_each(|t| t.notify_checkpoint(id, complete))
    }
}

/// A side output of unknown record type, as the operator's [`Output`] holds it.
pub(crate) trait ErasedOutput {
    fn as_any(&mut self) -> &mut dyn Any;
    fn type_name(&self) -> &'static str;
    fn flush(&mut self) -> Result<(), TaskError>;
    fn forward_watermark(&mut self, watermark: Watermark) -> Result<(), TaskError>;
    fn forward_watermark_status(&mut self, status: WatermarkStatus) -> Result<(), TaskError>;
    fn end_input(&mut self) -> Result<(), TaskError>;
    fn targets_on_processing_time(&mut self, now: i64) -> Result<(), TaskError>;
    fn take_failure(&mut self) -> Option<TaskError>;
    fn open_targets(&mut self) -> Result<(), TaskError>;
    fn close_targets(&mut self) -> Result<(), TaskError>;
    fn flush_targets(&mut self) -> Result<(), TaskError>;
    fn targets_available(&self) -> bool;
    fn snapshot_targets(&mut self, snapshot: &mut TaskSnapshotBuilder) -> Result<(), TaskError>;
    fn notify_targets(&mut self, id: CheckpointId, complete: bool) -> Result<(), TaskError>;
}

impl<T: Data> ErasedOutput for MainOutput<T> {
    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
    fn flush(&mut self) -> Result<(), TaskError> {
        MainOutput::flush(self)
    }
    fn forward_watermark(&mut self, watermark: Watermark) -> Result<(), TaskError> {
        MainOutput::forward_watermark(self, watermark)
    }
    fn forward_watermark_status(&mut self, status: WatermarkStatus) -> Result<(), TaskError> {
        MainOutput::forward_watermark_status(self, status)
    }
    fn end_input(&mut self) -> Result<(), TaskError> {
        MainOutput::end_input(self)
    }
    fn targets_on_processing_time(&mut self, now: i64) -> Result<(), TaskError> {
        MainOutput::targets_on_processing_time(self, now)
    }
    fn take_failure(&mut self) -> Option<TaskError> {
        MainOutput::take_failure(self)
    }
    fn open_targets(&mut self) -> Result<(), TaskError> {
        MainOutput::open_targets(self)
    }
    fn close_targets(&mut self) -> Result<(), TaskError> {
        MainOutput::close_targets(self)
    }
    fn flush_targets(&mut self) -> Result<(), TaskError> {
        MainOutput::flush_targets(self)
    }
    fn targets_available(&self) -> bool {
        MainOutput::targets_available(self)
    }
    fn snapshot_targets(&mut self, snapshot: &mut TaskSnapshotBuilder) -> Result<(), TaskError> {
        MainOutput::snapshot_targets(self, snapshot)
    }
    fn notify_targets(&mut self, id: CheckpointId, complete: bool) -> Result<(), TaskError> {
        MainOutput::notify_targets(self, id, complete)
    }
}

/// The side outputs of an operator that have consumers.
#[derive(Default)]
pub struct SideOutputs {
    outputs: Vec<(OutputTagId, Arc<str>, Box<dyn ErasedOutput>)>,
    failure: Option<String>,
}

impl SideOutputs {
    pub(crate) fn push(&mut self, id: OutputTagId, name: Arc<str>, output: Box<dyn ErasedOutput>) {
        self.outputs.push((id, name, output));
    }

    /// Emits `record` to the side output `tag`. Dropped if nothing consumes the tag.
    #[inline]
    pub fn collect<X: Data>(&mut self, tag: &OutputTag<X>, record: StreamRecord<X>) {
        for (id, name, out) in &mut self.outputs {
            if *id != tag.id() {
                continue;
            }
            let expected = out.type_name();
            match out.as_any().downcast_mut::<MainOutput<X>>() {
                Some(o) => o.collect(record),
                None if self.failure.is_none() => {
                    self.failure = Some(format!(
                        "side output `{name}` is consumed as `{expected}` but the operator emits `{}` to it",
                        std::any::type_name::<X>()
                    ));
                }
                None => {}
            }
            return;
        }
    }

    fn each(
        &mut self,
        mut f: impl FnMut(&mut dyn ErasedOutput) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        self.outputs
            .iter_mut()
            .try_for_each(|(_, _, o)| f(o.as_mut()))
    }
}

/// Everything an operator emits to: the main output and its side outputs.
pub struct Output<T> {
    /// The main output.
    pub main: MainOutput<T>,
    /// Side outputs by tag.
    pub side: SideOutputs,
}

impl<T: Data> Output<T> {
    /// An output with the given main output and no side outputs.
    pub fn new(main: MainOutput<T>) -> Self {
        Output {
            main,
            side: SideOutputs::default(),
        }
    }

    /// Emits a record to the main output.
    #[inline(always)]
    pub fn collect(&mut self, record: StreamRecord<T>) {
        self.main.collect(record);
    }

    /// Emits a record to a side output.
    #[inline]
    pub fn collect_side<X: Data>(&mut self, tag: &OutputTag<X>, record: StreamRecord<X>) {
        self.side.collect(tag, record);
    }

    /// Emits a watermark to the main and all side outputs.
    pub fn emit_watermark(&mut self, watermark: Watermark) {
        self.main.emit_watermark(watermark);
        if let Err(e) = self.side.each(|o| o.forward_watermark(watermark)) {
            self.main.stash(e);
        }
    }

    /// Emits a watermark status to the main and all side outputs.
    pub fn emit_watermark_status(&mut self, status: WatermarkStatus) {
        self.main.emit_watermark_status(status);
        if let Err(e) = self.side.each(|o| o.forward_watermark_status(status)) {
            self.main.stash(e);
        }
    }

    /// The first failure since the last call: a downstream error or a misuse of a
    /// side output (reported as `side_output_error`).
    pub(crate) fn take_failure(&mut self) -> Result<(), OutputFailure> {
        if let Some(e) = self.main.take_failure() {
            return Err(OutputFailure::Downstream(e));
        }
        for (_, _, o) in &mut self.side.outputs {
            if let Some(e) = o.take_failure() {
                return Err(OutputFailure::Downstream(e));
            }
        }
        if let Some(msg) = self.side.failure.take() {
            return Err(OutputFailure::Misuse(msg));
        }
        Ok(())
    }

    /// Flushes main and side outputs.
    pub fn flush(&mut self) -> Result<(), TaskError> {
        self.main.flush()?;
        self.side.each(|o| o.flush())
    }

    /// Passes a watermark on (after flushing), reporting downstream errors.
    pub fn forward_watermark(&mut self, watermark: Watermark) -> Result<(), TaskError> {
        self.main.forward_watermark(watermark)?;
        self.side.each(|o| o.forward_watermark(watermark))
    }

    /// Passes a watermark status on (after flushing), reporting downstream errors.
    pub fn forward_watermark_status(&mut self, status: WatermarkStatus) -> Result<(), TaskError> {
        self.main.forward_watermark_status(status)?;
        self.side.each(|o| o.forward_watermark_status(status))
    }

    pub(crate) fn targets_on_processing_time(&mut self, now: i64) -> Result<(), TaskError> {
        self.main.targets_on_processing_time(now)?;
        self.side.each(|o| o.targets_on_processing_time(now))
    }

    /// Ends every output: flushes and propagates end of input.
    pub fn end_input(&mut self) -> Result<(), TaskError> {
        self.main.end_input()?;
        self.side.each(|o| o.end_input())
    }

    pub(crate) fn open_targets(&mut self) -> Result<(), TaskError> {
        self.main.open_targets()?;
        self.side.each(|o| o.open_targets())
    }

    pub(crate) fn close_targets(&mut self) -> Result<(), TaskError> {
        let main = self.main.close_targets();
        let side = self.side.each(|o| o.close_targets());
        main.and(side)
    }

    pub(crate) fn flush_targets(&mut self) -> Result<(), TaskError> {
        self.main.flush_targets()?;
        self.side.each(|o| o.flush_targets())
    }

    pub(crate) fn targets_available(&self) -> bool {
        self.main.targets_available()
            && self
                .side
                .outputs
                .iter()
                .all(|(_, _, o)| o.targets_available())
    }

    /// Passes a snapshot walk to every target of the main and side outputs
    /// (after flushing them).
    pub(crate) fn snapshot_targets(
        &mut self,
        snapshot: &mut TaskSnapshotBuilder,
    ) -> Result<(), TaskError> {
        self.main.snapshot_targets(snapshot)?;
        self.side.each(|o| o.snapshot_targets(snapshot))
    }

    /// Passes a checkpoint notification to every target.
    pub(crate) fn notify_targets(
        &mut self,
        id: CheckpointId,
        complete: bool,
    ) -> Result<(), TaskError> {
        self.main.notify_targets(id, complete)?;
        self.side.each(|o| o.notify_targets(id, complete))
    }
}

/// Why an output could not take records.
pub(crate) enum OutputFailure {
    /// A downstream operator or writer failed (already attributed).
    Downstream(TaskError),
    /// The operator misused a side output.
    Misuse(String),
}
