//! The network side of a task's input: gates, watermark and barrier alignment,
//! and the processors that decode buffers into batches for the chain's head.

use crate::chain::{ChainNode, ChainedInput, TwoInputLink};
use crate::checkpoint_input::{CheckpointInput, GateAction};
use crate::checkpointing::{SnapshotRequest, TaskCheckpointer};
use crate::element::{Element, decode_element};
use crate::environment::RestoredChannel;
use crate::error::{OperatorInstance, TaskError};
use crate::operator::{InputSide, TwoInputOperator};
use crate::processor::{InputStatus, StreamInputProcessor};
use crate::watermark::WatermarkValve;
use runnel_checkpoint::ChannelKey;
use runnel_network::{ChannelMessage, InputChannel, NetworkError};
use runnel_types::{CheckpointId, Data, StreamRecord, Watermark, WatermarkStatus};
use std::collections::VecDeque;

/// The channels of one logical input of a task, read round robin. A channel
/// may be blocked (not read) while a checkpoint's barriers are aligned.
pub struct InputGate {
    channels: Vec<Box<dyn InputChannel>>,
    keys: Vec<ChannelKey>,
    /// In-flight data of a restored unaligned checkpoint, per channel.
    replay: Vec<Vec<Vec<u8>>>,
    /// Messages taken from a channel ahead of time (see
    /// [`InputGate::drain_queued`]), delivered before the channel is read again.
    taken: Vec<VecDeque<ChannelMessage>>,
    finished: Vec<bool>,
    blocked: Vec<bool>,
    remaining: usize,
    next: usize,
}

impl InputGate {
    /// A gate over `channels` (one per producer subtask of every input edge),
    /// each with its key and the in-flight data to replay first after a restore.
    pub fn new(channels: Vec<RestoredChannel<dyn InputChannel>>) -> Self {
        let n = channels.len();
        let mut keys = Vec::with_capacity(n);
        let mut replay = Vec::with_capacity(n);
        let channels = channels
            .into_iter()
            .map(|c| {
                keys.push(c.key);
                replay.push(c.replay);
                c.channel
            })
            .collect();
        InputGate {
            channels,
            keys,
            replay,
            taken: (0..n).map(|_| VecDeque::new()).collect(),
            finished: vec![false; n],
            blocked: vec![false; n],
            remaining: n,
            next: 0,
        }
    }

    /// The channels' keys, in order.
    pub fn keys(&self) -> &[ChannelKey] {
        &self.keys
    }

    /// Takes the restored in-flight data: (channel, buffers) in order.
    pub fn take_replay(&mut self) -> Vec<(usize, Vec<Vec<u8>>)> {
        std::mem::take(&mut self.replay)
            .into_iter()
            .enumerate()
            .filter(|(_, b)| !b.is_empty())
            .collect()
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
            let msg = match self.taken[i].pop_front() {
                Some(msg) => Some(msg),
                None => self.channels[i].try_recv()?,
            };
            if let Some(msg) = msg {
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

    /// Takes everything `channel` holds now (up to its end), to be delivered
    /// later as if it had not been taken, and returns copies of its buffers
    /// that come before checkpoint `id`'s barrier (all of them if the barrier
    /// is not there): the channel's in-flight data for an unaligned checkpoint
    /// triggered when its producer has finished.
    pub fn drain_queued(
        &mut self,
        channel: usize,
        id: CheckpointId,
    ) -> Result<Vec<Vec<u8>>, NetworkError> {
        let taken = &mut self.taken[channel];
        if !taken.iter().any(|m| *m == ChannelMessage::EndOfPartition) {
            while let Some(msg) = self.channels[channel].try_recv()? {
                let end = msg == ChannelMessage::EndOfPartition;
                taken.push_back(msg);
                if end {
                    break;
                }
            }
        }
        Ok(taken
            .iter()
            .take_while(|m| !matches!(m, ChannelMessage::Barrier(b) if b.id >= id))
            .filter_map(|m| match m {
                ChannelMessage::Buffer(b) => Some(b.clone()),
                _ => None,
            })
            .collect())
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
            checkpoints: CheckpointInput::new(gate.keys().to_vec(), checkpointer),
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

impl<T: Data> OneInputProcessor<T> {
    fn apply(&mut self, action: GateAction) {
        if action.unblock_all {
            self.gate.unblock_all();
        }
        if let Some(channel) = action.block {
            self.gate.block(channel);
        }
    }
}

impl<T: Data> StreamInputProcessor for OneInputProcessor<T> {
    fn open(&mut self) -> Result<(), TaskError> {
        self.head.open()?;
        // A restored unaligned checkpoint's in-flight data comes first.
        for (channel, buffers) in self.gate.take_replay() {
            for buffer in buffers {
                decode_buffer(
                    &buffer,
                    channel,
                    &mut self.batch,
                    self.batch_size,
                    &mut self.valve,
                    &self.at,
                    &mut self.head,
                )?;
            }
        }
        Ok(())
    }

    fn process_input(&mut self) -> Result<InputStatus, TaskError> {
        let polled = self.gate.poll().map_err(|source| TaskError::Network {
            task: self.task.clone(),
            source,
        })?;
        match polled {
            None if self.gate.is_finished() => Ok(InputStatus::EndOfInput),
            None => {
                let action = self
                    .checkpoints
                    .check_alignment_timeout(self.head.as_mut())?;
                self.apply(action);
                Ok(if action != GateAction::default() {
                    InputStatus::MoreAvailable
                } else if self.checkpoints.is_aligning_with_timeout() {
                    InputStatus::PollAfter(std::time::Duration::from_millis(1))
                } else {
                    InputStatus::NothingAvailable
                })
            }
            Some((channel, ChannelMessage::EndOfPartition)) => {
                let action = self
                    .checkpoints
                    .on_end_of_channel(channel, self.head.as_mut())?;
                self.apply(action);
                Ok(if self.gate.is_finished() {
                    InputStatus::EndOfInput
                } else {
                    InputStatus::MoreAvailable
                })
            }
            Some((channel, ChannelMessage::Barrier(barrier))) => {
                let action = self
                    .checkpoints
                    .on_barrier(channel, barrier, self.head.as_mut())?;
                self.apply(action);
                Ok(InputStatus::MoreAvailable)
            }
            Some((channel, ChannelMessage::Buffer(buffer))) => {
                if self.checkpoints.is_capturing() {
                    self.checkpoints.on_buffer(channel, &buffer);
                }
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
                let action = self
                    .checkpoints
                    .check_alignment_timeout(self.head.as_mut())?;
                self.apply(action);
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
        let (gate, task) = (&mut self.gate, &self.task);
        let mut drain = |channel: usize, id: CheckpointId| {
            gate.drain_queued(channel, id)
                .map_err(|source| TaskError::Network {
                    task: task.clone(),
                    source,
                })
        };
        let action = self
            .checkpoints
            .on_trigger(self.head.as_mut(), request, &mut drain)?;
        self.apply(action);
        Ok(())
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
        let keys = first.keys().iter().chain(second.keys()).copied().collect();
        TwoInputProcessor {
            checkpoints: CheckpointInput::new(keys, checkpointer),
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

    fn apply(&mut self, action: GateAction) {
        if action.unblock_all {
            self.gates.iter_mut().for_each(InputGate::unblock_all);
        }
        if let Some(global) = action.block {
            let first = self.gates[0].len();
            if global < first {
                self.gates[0].block(global);
            } else {
                self.gates[1].block(global - first);
            }
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
        self.link.open()?;
        // A restored unaligned checkpoint's in-flight data comes first.
        for side in 0..2 {
            for (channel, buffers) in self.gates[side].take_replay() {
                for buffer in buffers {
                    self.process_buffer(side, channel, &buffer)?;
                }
            }
        }
        Ok(())
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
                    if self.checkpoints.is_capturing() {
                        let global = self.global_channel(side, channel);
                        self.checkpoints.on_buffer(global, &buffer);
                    }
                    self.process_buffer(side, channel, &buffer)?;
                    self.gates[side].recycle(channel, buffer);
                    let action = self.checkpoints.check_alignment_timeout(&mut self.link)?;
                    self.apply(action);
                    return Ok(InputStatus::MoreAvailable);
                }
                Some((channel, ChannelMessage::Barrier(barrier))) => {
                    self.next = 1 - side;
                    let global = self.global_channel(side, channel);
                    let action = self
                        .checkpoints
                        .on_barrier(global, barrier, &mut self.link)?;
                    self.apply(action);
                    return Ok(InputStatus::MoreAvailable);
                }
                Some((channel, ChannelMessage::EndOfPartition)) => {
                    self.next = 1 - side;
                    let global = self.global_channel(side, channel);
                    let action = self.checkpoints.on_end_of_channel(global, &mut self.link)?;
                    self.apply(action);
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
            return Ok(InputStatus::EndOfInput);
        }
        let action = self.checkpoints.check_alignment_timeout(&mut self.link)?;
        self.apply(action);
        Ok(if action != GateAction::default() {
            InputStatus::MoreAvailable
        } else if self.checkpoints.is_aligning_with_timeout() {
            InputStatus::PollAfter(std::time::Duration::from_millis(1))
        } else {
            InputStatus::NothingAvailable
        })
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
        let (gates, task) = (&mut self.gates, &self.task);
        let first = gates[0].len();
        let mut drain = |channel: usize, id: CheckpointId| {
            let result = if channel < first {
                gates[0].drain_queued(channel, id)
            } else {
                gates[1].drain_queued(channel - first, id)
            };
            result.map_err(|source| TaskError::Network {
                task: task.clone(),
                source,
            })
        };
        let action = self
            .checkpoints
            .on_trigger(&mut self.link, request, &mut drain)?;
        self.apply(action);
        Ok(())
    }

    fn notify_checkpoint(&mut self, id: CheckpointId, complete: bool) -> Result<(), TaskError> {
        self.link.notify_checkpoint(id, complete)
    }
}
