//! The network side of a task's input: gates, watermark and barrier alignment,
//! and the processors that decode buffers into batches for the chain's head.

use crate::barriers::{AlignmentStep, BarrierAligner};
use crate::chain::{ChainNode, ChainedInput, TwoInputLink};
use crate::checkpointing::{SnapshotRequest, TaskCheckpointer, TaskSnapshotBuilder};
use crate::element::{Element, decode_element};
use crate::error::{OperatorInstance, TaskError};
use crate::operator::{InputSide, TwoInputOperator};
use crate::processor::{InputStatus, StreamInputProcessor};
use crate::watermark::WatermarkValve;
use runnel_checkpoint::DeclineReason;
use runnel_network::{ChannelMessage, InputChannel, NetworkError};
use runnel_types::{
    CheckpointBarrier, CheckpointId, Data, StreamRecord, Watermark, WatermarkStatus,
};

/// The channels of one logical input of a task, read round robin. A channel
/// may be blocked (not read) while a checkpoint's barriers are aligned.
pub struct InputGate {
    channels: Vec<Box<dyn InputChannel>>,
    finished: Vec<bool>,
    blocked: Vec<bool>,
    remaining: usize,
    next: usize,
}

impl InputGate {
    /// A gate over `channels` (one per producer subtask of every input edge).
    pub fn new(channels: Vec<Box<dyn InputChannel>>) -> Self {
        let n = channels.len();
        InputGate {
            channels,
            finished: vec![false; n],
            blocked: vec![false; n],
            remaining: n,
            next: 0,
        }
    }

    /// Stops reading `channel` until [`InputGate::unblock_all`].
    pub fn block(&mut self, channel: usize) {
        self.blocked[channel] = true;
    }

    /// Reads every channel again.
    pub fn unblock_all(&mut self) {
        self.blocked.iter_mut().for_each(|b| *b = false);
    }

    /// Number of channels.
    pub fn len(&self) -> usize {
        self.channels.len()
    }

    /// Whether the gate has no channels.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// Whether every channel has delivered `EndOfPartition`.
    pub fn is_finished(&self) -> bool {
        self.remaining == 0
    }

    /// The next message of any channel, fairly.
    pub fn poll(&mut self) -> Result<Option<(usize, ChannelMessage)>, NetworkError> {
        let n = self.channels.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            if self.finished[i] || self.blocked[i] {
                continue;
            }
            if let Some(msg) = self.channels[i].try_recv()? {
                self.next = (i + 1) % n;
                if msg == ChannelMessage::EndOfPartition {
                    self.finished[i] = true;
                    self.remaining -= 1;
                }
                return Ok(Some((i, msg)));
            }
        }
        Ok(None)
    }

    /// Returns a consumed buffer to its channel's producer.
    pub fn recycle(&mut self, channel: usize, buffer: Vec<u8>) {
        self.channels[channel].recycle(buffer);
    }
}

/// Receives what a buffer decodes to, in order.
trait ElementSink<T> {
    fn records(&mut self, batch: &mut Vec<StreamRecord<T>>) -> Result<(), TaskError>;
    fn watermark(&mut self, watermark: Watermark) -> Result<(), TaskError>;
    fn watermark_status(&mut self, status: WatermarkStatus) -> Result<(), TaskError>;
}

impl<T> ElementSink<T> for Box<dyn ChainedInput<T>> {
    fn records(&mut self, batch: &mut Vec<StreamRecord<T>>) -> Result<(), TaskError> {
        self.process_batch(batch)
    }
    fn watermark(&mut self, watermark: Watermark) -> Result<(), TaskError> {
        self.process_watermark(watermark)
    }
    fn watermark_status(&mut self, status: WatermarkStatus) -> Result<(), TaskError> {
        self.process_watermark_status(status)
    }
}

struct FirstInput<'a, Op: TwoInputOperator>(&'a mut TwoInputLink<Op>);
struct SecondInput<'a, Op: TwoInputOperator>(&'a mut TwoInputLink<Op>);

impl<Op: TwoInputOperator> ElementSink<Op::In1> for FirstInput<'_, Op> {
    fn records(&mut self, batch: &mut Vec<StreamRecord<Op::In1>>) -> Result<(), TaskError> {
        self.0.process_batch1(batch)
    }
    fn watermark(&mut self, watermark: Watermark) -> Result<(), TaskError> {
        self.0.process_watermark(InputSide::First, watermark)
    }
    fn watermark_status(&mut self, status: WatermarkStatus) -> Result<(), TaskError> {
        self.0.process_watermark_status(InputSide::First, status)
    }
}

impl<Op: TwoInputOperator> ElementSink<Op::In2> for SecondInput<'_, Op> {
    fn records(&mut self, batch: &mut Vec<StreamRecord<Op::In2>>) -> Result<(), TaskError> {
        self.0.process_batch2(batch)
    }
    fn watermark(&mut self, watermark: Watermark) -> Result<(), TaskError> {
        self.0.process_watermark(InputSide::Second, watermark)
    }
    fn watermark_status(&mut self, status: WatermarkStatus) -> Result<(), TaskError> {
        self.0.process_watermark_status(InputSide::Second, status)
    }
}

/// Hands what the valve decided to the sink: the watermark first, then the status.
fn emit<T>(
    out: crate::watermark::ValveOutput,
    sink: &mut impl ElementSink<T>,
) -> Result<(), TaskError> {
    if let Some(w) = out.watermark {
        sink.watermark(w)?;
    }
    if let Some(s) = out.status {
        sink.watermark_status(s)?;
    }
    Ok(())
}

/// Decodes one buffer of `channel` into `sink`: records in batches, and a
/// watermark whenever the input's watermark advances, each in stream order.
fn decode_buffer<T: Data>(
    buffer: &[u8],
    channel: usize,
    batch: &mut Vec<StreamRecord<T>>,
    batch_size: usize,
    valve: &mut WatermarkValve,
    at: &OperatorInstance,
    sink: &mut impl ElementSink<T>,
) -> Result<(), TaskError> {
    let mut pos = 0;
    while pos < buffer.len() {
        match decode_element::<T>(buffer, &mut pos) {
            Ok(Element::Record(r)) => {
                batch.push(r);
                if batch.len() >= batch_size {
                    sink.records(batch)?;
                    batch.clear();
                }
            }
            Ok(Element::Watermark(w)) => {
                if !batch.is_empty() {
                    sink.records(batch)?;
                    batch.clear();
                }
                emit(valve.input_watermark(channel, w), sink)?;
            }
            Ok(Element::WatermarkStatus(status)) => {
                if !batch.is_empty() {
                    sink.records(batch)?;
                    batch.clear();
                }
                emit(valve.input_watermark_status(channel, status), sink)?;
            }
            Err(source) => {
                batch.clear();
                return Err(TaskError::Codec {
                    at: at.clone(),
                    source,
                });
            }
        }
    }
    if !batch.is_empty() {
        sink.records(batch)?;
        batch.clear();
    }
    Ok(())
}

/// The checkpoint side of a task's input: barrier alignment and the snapshot
/// of the chain once aligned.
pub struct CheckpointInput {
    aligner: BarrierAligner,
    checkpointer: TaskCheckpointer,
    /// The newest checkpoint this task has snapshotted (it snapshots each once).
    last: Option<CheckpointId>,
}

impl CheckpointInput {
    /// For a task reading `channels` channels (over all its gates).
    pub fn new(channels: usize, checkpointer: TaskCheckpointer) -> Self {
        CheckpointInput {
            aligner: BarrierAligner::new(channels),
            checkpointer,
            last: None,
        }
    }

    /// A barrier arrived on `channel`: what to do with the channels.
    fn on_barrier(
        &mut self,
        channel: usize,
        barrier: CheckpointBarrier,
    ) -> Result<AlignmentStep, TaskError> {
        let (abandoned, step) = self.aligner.on_barrier(channel, barrier);
        if let Some(id) = abandoned {
            self.checkpointer.decline(id, DeclineReason::Subsumed)?;
        }
        Ok(step)
    }

    /// `channel` ended; a checkpoint to take if that completed an alignment.
    fn on_end_of_channel(&mut self, channel: usize) -> Option<CheckpointBarrier> {
        self.aligner.on_end_of_channel(channel)
    }

    /// Snapshots `chain` for `request` (once per checkpoint) and hands the state
    /// to the job master.
    fn snapshot(
        &mut self,
        chain: &mut dyn ChainNode,
        request: SnapshotRequest,
    ) -> Result<(), TaskError> {
        let id = request.barrier.id;
        if self.last.is_some_and(|l| id <= l) {
            return Ok(());
        }
        self.last = Some(id);
        let mut builder = TaskSnapshotBuilder::new(request);
        chain.snapshot_state(&mut builder)?;
        self.checkpointer.submit(&request.barrier, builder.finish())
    }

    /// Snapshots `chain` for an aligned barrier, passing the barrier on.
    fn aligned(
        &mut self,
        chain: &mut dyn ChainNode,
        barrier: CheckpointBarrier,
    ) -> Result<(), TaskError> {
        self.snapshot(
            chain,
            SnapshotRequest {
                barrier,
                forward_barrier: true,
            },
        )
    }
}

/// Feeds a one-input chain from its input gate.
pub struct OneInputProcessor<T: Data> {
    gate: InputGate,
    valve: WatermarkValve,
    batch: Vec<StreamRecord<T>>,
    batch_size: usize,
    head: Box<dyn ChainedInput<T>>,
    at: OperatorInstance,
    task: String,
    checkpoints: CheckpointInput,
}

impl<T: Data> OneInputProcessor<T> {
    /// A processor reading `gate` into `head`.
    pub fn new(
        gate: InputGate,
        head: Box<dyn ChainedInput<T>>,
        batch_size: usize,
        at: OperatorInstance,
        task: String,
        checkpointer: TaskCheckpointer,
    ) -> Self {
        let valve = WatermarkValve::new(gate.len());
        OneInputProcessor {
            checkpoints: CheckpointInput::new(gate.len(), checkpointer),
            gate,
            valve,
            batch: Vec::with_capacity(batch_size),
            batch_size,
            head,
            at,
            task,
        }
    }
}

impl<T: Data> StreamInputProcessor for OneInputProcessor<T> {
    fn open(&mut self) -> Result<(), TaskError> {
        self.head.open()
    }

    fn process_input(&mut self) -> Result<InputStatus, TaskError> {
        let polled = self.gate.poll().map_err(|source| TaskError::Network {
            task: self.task.clone(),
            source,
        })?;
        match polled {
            None if self.gate.is_finished() => Ok(InputStatus::EndOfInput),
            None => Ok(InputStatus::NothingAvailable),
            Some((channel, ChannelMessage::EndOfPartition)) => {
                if let Some(barrier) = self.checkpoints.on_end_of_channel(channel) {
                    self.gate.unblock_all();
                    self.checkpoints.aligned(self.head.as_mut(), barrier)?;
                }
                Ok(if self.gate.is_finished() {
                    InputStatus::EndOfInput
                } else {
                    InputStatus::MoreAvailable
                })
            }
            Some((channel, ChannelMessage::Barrier(barrier))) => {
                match self.checkpoints.on_barrier(channel, barrier)? {
                    AlignmentStep::Wait { block } => {
                        if block {
                            self.gate.block(channel);
                        }
                    }
                    AlignmentStep::Checkpoint(barrier) => {
                        self.gate.unblock_all();
                        self.checkpoints.aligned(self.head.as_mut(), barrier)?;
                    }
                }
                Ok(InputStatus::MoreAvailable)
            }
            Some((channel, ChannelMessage::Buffer(buffer))) => {
                decode_buffer(
                    &buffer,
                    channel,
                    &mut self.batch,
                    self.batch_size,
                    &mut self.valve,
                    &self.at,
                    &mut self.head,
                )?;
                self.gate.recycle(channel, buffer);
                Ok(InputStatus::MoreAvailable)
            }
        }
    }

    fn end_input(&mut self) -> Result<(), TaskError> {
        self.head.end_input()
    }

    fn close(&mut self) -> Result<(), TaskError> {
        self.head.close()
    }

    fn flush_buffers(&mut self) -> Result<(), TaskError> {
        self.head.flush_buffers()
    }

    fn is_output_available(&self) -> bool {
        self.head.is_output_available()
    }

    fn on_processing_time(&mut self, now: i64) -> Result<(), TaskError> {
        self.head.on_processing_time(now)
    }

    fn trigger_checkpoint(&mut self, request: SnapshotRequest) -> Result<(), TaskError> {
        self.checkpoints.snapshot(self.head.as_mut(), request)
    }

    fn notify_checkpoint(&mut self, id: CheckpointId, complete: bool) -> Result<(), TaskError> {
        self.head.notify_checkpoint(id, complete)
    }
}

/// Feeds a two-input operator from its two gates, alternating between them.
pub struct TwoInputProcessor<Op: TwoInputOperator> {
    gates: [InputGate; 2],
    valves: [WatermarkValve; 2],
    ended: [bool; 2],
    batch1: Vec<StreamRecord<Op::In1>>,
    batch2: Vec<StreamRecord<Op::In2>>,
    batch_size: usize,
    link: TwoInputLink<Op>,
    next: usize,
    at: OperatorInstance,
    task: String,
    checkpoints: CheckpointInput,
}

impl<Op: TwoInputOperator> TwoInputProcessor<Op> {
    /// A processor reading both gates into `link`.
    pub fn new(
        first: InputGate,
        second: InputGate,
        link: TwoInputLink<Op>,
        batch_size: usize,
        at: OperatorInstance,
        task: String,
        checkpointer: TaskCheckpointer,
    ) -> Self {
        let valves = [
            WatermarkValve::new(first.len()),
            WatermarkValve::new(second.len()),
        ];
        TwoInputProcessor {
            checkpoints: CheckpointInput::new(first.len() + second.len(), checkpointer),
            ended: [first.is_finished(), second.is_finished()],
            gates: [first, second],
            valves,
            batch1: Vec::new(),
            batch2: Vec::new(),
            batch_size,
            link,
            next: 0,
            at,
            task,
        }
    }

    /// The channel's number over both gates.
    fn global_channel(&self, side: usize, channel: usize) -> usize {
        if side == 0 {
            channel
        } else {
            self.gates[0].len() + channel
        }
    }

    fn process_buffer(
        &mut self,
        side: usize,
        channel: usize,
        buffer: &[u8],
    ) -> Result<(), TaskError> {
        if side == 0 {
            let sink = &mut FirstInput(&mut self.link);
            decode_buffer(
                buffer,
                channel,
                &mut self.batch1,
                self.batch_size,
                &mut self.valves[0],
                &self.at,
                sink,
            )
        } else {
            let sink = &mut SecondInput(&mut self.link);
            decode_buffer(
                buffer,
                channel,
                &mut self.batch2,
                self.batch_size,
                &mut self.valves[1],
                &self.at,
                sink,
            )
        }
    }
}

impl<Op: TwoInputOperator> StreamInputProcessor for TwoInputProcessor<Op> {
    fn open(&mut self) -> Result<(), TaskError> {
        self.link.open()
    }

    fn process_input(&mut self) -> Result<InputStatus, TaskError> {
        for k in 0..2 {
            let side = (self.next + k) % 2;
            if self.ended[side] {
                continue;
            }
            let polled = self.gates[side]
                .poll()
                .map_err(|source| TaskError::Network {
                    task: self.task.clone(),
                    source,
                })?;
            match polled {
                None => continue,
                Some((channel, ChannelMessage::Buffer(buffer))) => {
                    self.next = 1 - side;
                    self.process_buffer(side, channel, &buffer)?;
                    self.gates[side].recycle(channel, buffer);
                    return Ok(InputStatus::MoreAvailable);
                }
                Some((channel, ChannelMessage::Barrier(barrier))) => {
                    self.next = 1 - side;
                    let global = self.global_channel(side, channel);
                    match self.checkpoints.on_barrier(global, barrier)? {
                        AlignmentStep::Wait { block } => {
                            if block {
                                self.gates[side].block(channel);
                            }
                        }
                        AlignmentStep::Checkpoint(barrier) => {
                            self.gates.iter_mut().for_each(InputGate::unblock_all);
                            self.checkpoints.aligned(&mut self.link, barrier)?;
                        }
                    }
                    return Ok(InputStatus::MoreAvailable);
                }
                Some((channel, ChannelMessage::EndOfPartition)) => {
                    self.next = 1 - side;
                    let global = self.global_channel(side, channel);
                    if let Some(barrier) = self.checkpoints.on_end_of_channel(global) {
                        self.gates.iter_mut().for_each(InputGate::unblock_all);
                        self.checkpoints.aligned(&mut self.link, barrier)?;
                    }
                    if self.gates[side].is_finished() {
                        self.ended[side] = true;
                        self.link.end_input(if side == 0 {
                            InputSide::First
                        } else {
                            InputSide::Second
                        })?;
                    }
                    return Ok(InputStatus::MoreAvailable);
                }
            }
        }
        if self.ended[0] && self.ended[1] {
            Ok(InputStatus::EndOfInput)
        } else {
            Ok(InputStatus::NothingAvailable)
        }
    }

    fn end_input(&mut self) -> Result<(), TaskError> {
        self.link.finish()
    }

    fn close(&mut self) -> Result<(), TaskError> {
        self.link.close()
    }

    fn flush_buffers(&mut self) -> Result<(), TaskError> {
        self.link.flush_buffers()
    }

    fn is_output_available(&self) -> bool {
        self.link.is_output_available()
    }

    fn on_processing_time(&mut self, now: i64) -> Result<(), TaskError> {
        self.link.on_processing_time(now)
    }

    fn trigger_checkpoint(&mut self, request: SnapshotRequest) -> Result<(), TaskError> {
        self.checkpoints.snapshot(&mut self.link, request)
    }

    fn notify_checkpoint(&mut self, id: CheckpointId, complete: bool) -> Result<(), TaskError> {
        self.link.notify_checkpoint(id, complete)
    }
}
