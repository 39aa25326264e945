//! `assign_timestamps_and_watermarks`: the operator that gives every record a
//! timestamp and the stream its watermarks (Flink's `TimestampsAndWatermarksOperator`).
//!
//! It replaces the watermarks coming from upstream: only the final +∞ of a finished
//! input is passed through, so the end of a bounded job still fires every timer.
//! Upstream idle/active statuses are ignored too; the strategy decides idleness.

use crate::error::BoxError;
use crate::operator::OneInputOperator;
use crate::output::Output;
use crate::parameters::OperatorParameters;
use crate::time::ProcessingTimeService;
use crate::watermark::emitter::{EmitterState, OutputEmitter, Pending};
use crate::watermark::generator::{IdlenessTimer, WatermarkGenerator, WatermarkOutput};
use crate::watermark::strategy::{TimestampAssigner, WatermarkStrategyFor};
use runnel_types::{Data, StreamRecord, Watermark, WatermarkStatus};
use std::marker::PhantomData;

/// Assigns timestamps and generates watermarks with a strategy.
pub struct TimestampsAndWatermarksOperator<T, S: WatermarkStrategyFor<T>> {
    generator: S::Generator,
    assigner: S::Assigner,
    idleness: Option<IdlenessTimer>,
    idle_now: bool,
    emitter: EmitterState,
    time: ProcessingTimeService,
    interval_ms: i64,
    next_periodic: i64,
    _records: PhantomData<fn(T)>,
}

impl<T: Data, S: WatermarkStrategyFor<T>> TimestampsAndWatermarksOperator<T, S> {
    /// An instance of `strategy` for one subtask.
    pub fn new(strategy: &S, params: &OperatorParameters) -> Self {
        let (generator, mut assigner, idle_timeout) = strategy.instantiate();
        assigner.open(params.processing_time().clock());
        TimestampsAndWatermarksOperator {
            generator,
            assigner,
            idleness: idle_timeout.map(IdlenessTimer::new),
            idle_now: false,
            emitter: EmitterState::default(),
            time: params.processing_time().clone(),
            interval_ms: i64::try_from(params.auto_watermark_interval().as_millis())
                .unwrap_or(i64::MAX),
            next_periodic: i64::MAX,
            _records: PhantomData,
        }
    }

    fn periodic_emit(&mut self, out: &mut Output<T>) {
        let mut emitter = OutputEmitter {
            state: &mut self.emitter,
            out,
        };
        periodic(
            &mut self.generator,
            &mut self.idleness,
            &mut self.idle_now,
            self.time.now(),
            &mut emitter,
        );
    }
}

/// A periodic emission, through the idleness check (Flink's `WatermarksWithIdleness`).
pub(crate) fn periodic<T, G: WatermarkGenerator<T>>(
    generator: &mut G,
    idleness: &mut Option<IdlenessTimer>,
    idle_now: &mut bool,
    now: i64,
    output: &mut dyn WatermarkOutput,
) {
    if idleness
        .as_mut()
        .is_some_and(|timer| timer.check_if_idle(now))
    {
        if !*idle_now {
            output.mark_idle();
            *idle_now = true;
        }
    } else {
        generator.on_periodic_emit(output);
    }
}

impl<T: Data, S: WatermarkStrategyFor<T>> OneInputOperator
    for TimestampsAndWatermarksOperator<T, S>
{
    type In = T;
    type Out = T;

    fn open(&mut self, _ctx: &crate::context::RuntimeContext) -> Result<(), BoxError> {
        if self.interval_ms > 0 {
            self.next_periodic = self.time.now().saturating_add(self.interval_ms);
            self.time.request_callback_at(self.next_periodic);
        }
        Ok(())
    }

    #[inline]
    fn process_element(
        &mut self,
        mut record: StreamRecord<T>,
        out: &mut Output<T>,
    ) -> Result<(), BoxError> {
        let timestamp = self
            .assigner
            .extract_timestamp(&record.value, record.timestamp);
        record.timestamp = Some(timestamp);
        let mut pending = Pending::default();
        self.generator
            .on_event(&record.value, timestamp, &mut pending);
        if let Some(idleness) = &mut self.idleness {
            idleness.activity();
            self.idle_now = false;
        }
        out.collect(record);
        if !pending.is_empty() {
            pending.apply(&mut OutputEmitter {
                state: &mut self.emitter,
                out,
            });
        }
        Ok(())
    }

    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<T>,
    ) -> Result<(), BoxError> {
        if watermark == Watermark::MAX {
            OutputEmitter {
                state: &mut self.emitter,
                out,
            }
            .emit_watermark(Watermark::MAX);
        }
        Ok(())
    }

    fn process_watermark_status(
        &mut self,
        _status: WatermarkStatus,
        _out: &mut Output<T>,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    fn on_processing_time(&mut self, now: i64, out: &mut Output<T>) -> Result<(), BoxError> {
        if self.interval_ms > 0 {
            if now >= self.next_periodic {
                self.periodic_emit(out);
                self.next_periodic = now.saturating_add(self.interval_ms);
            }
            self.time.request_callback_at(self.next_periodic);
        }
        Ok(())
    }

    fn end_input(&mut self, out: &mut Output<T>) -> Result<(), BoxError> {
        // Flink's finish(): one last periodic emission.
        self.periodic_emit(out);
        Ok(())
    }
}
