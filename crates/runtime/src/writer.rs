//! The record writer: the end of a chain where records leave the task.
//!
//! Records are serialized straight into the buffer of the channel their partitioner
//! picks. A buffer is sent when it reaches the segment size, when the buffer
//! timeout elapses (the task loop calls `flush_buffers`), after every record if the
//! timeout is zero, and at end of input, which also sends `EndOfPartition` on every
//! channel. Watermarks go to every channel, in line with the records; so do
//! checkpoint barriers, after the buffer of records before them is sent.

use crate::chain::{ChainNode, ChainedInput};
use crate::checkpointing::TaskSnapshotBuilder;
use crate::element::{encode_record, encode_watermark, encode_watermark_status};
use crate::environment::RestoredChannel;
use crate::error::{OperatorInstance, TaskError};
use crate::partitioning::ChannelSelector;
use runnel_checkpoint::{ChannelKey, ChannelSide};
use runnel_network::{ChannelMessage, OutputChannel};
use runnel_types::{CheckpointId, Data, StreamRecord, Watermark, WatermarkStatus};
use std::marker::PhantomData;

struct ChannelWriter {
    channel: Box<dyn OutputChannel>,
    buffer: Vec<u8>,
    key: ChannelKey,
    /// In-flight data of a restored unaligned checkpoint, sent first.
    replay: Vec<Vec<u8>>,
}

/// Serializes records into the channels of one edge.
pub struct RecordWriter<T, S> {
    selector: S,
    channels: Vec<ChannelWriter>,
    segment_size: usize,
    flush_always: bool,
    scratch: Vec<u8>,
    producer: OperatorInstance,
    task: String,
    _records: PhantomData<fn(T)>,
}

impl<T: Data, S: ChannelSelector<T>> RecordWriter<T, S> {
    /// A writer over `channels`, filling buffers of `segment_size` bytes;
    /// `flush_always` sends after every record (buffer timeout 0).
    pub fn new(
        selector: S,
        channels: Vec<RestoredChannel<dyn OutputChannel>>,
        segment_size: usize,
        flush_always: bool,
        producer: OperatorInstance,
        task: String,
    ) -> Self {
        let channels = channels
            .into_iter()
            .map(|c| {
                let mut channel = c.channel;
                let buffer = channel.take_buffer(segment_size);
                ChannelWriter {
                    channel,
                    buffer,
                    key: c.key,
                    replay: c.replay,
                }
            })
            .collect();
        RecordWriter {
            selector,
            channels,
            segment_size,
            flush_always,
            scratch: Vec::new(),
            producer,
            task,
            _records: PhantomData,
        }
    }

    fn network_error(&self, source: runnel_network::NetworkError) -> TaskError {
        TaskError::Network {
            task: self.task.clone(),
            source,
        }
    }

    fn send(&mut self, index: usize) -> Result<(), TaskError> {
        let ch = &mut self.channels[index];
        let fresh = ch.channel.take_buffer(self.segment_size);
        let full = std::mem::replace(&mut ch.buffer, fresh);
        let result = ch.channel.send(ChannelMessage::Buffer(full));
        result.map_err(|e| self.network_error(e))
    }

    fn send_if_due(&mut self, index: usize) -> Result<(), TaskError> {
        let len = self.channels[index].buffer.len();
        if len >= self.segment_size || (self.flush_always && len > 0) {
            self.send(index)?;
        }
        Ok(())
    }

    fn codec_error(&self, source: runnel_types::CodecError) -> TaskError {
        TaskError::Codec {
            at: self.producer.clone(),
            source,
        }
    }
}

impl<T: Data, S: ChannelSelector<T>> ChainNode for RecordWriter<T, S> {
    fn open(&mut self) -> Result<(), TaskError> {
        // A restored unaligned checkpoint's overtaken buffers go out first.
        for i in 0..self.channels.len() {
            for buffer in std::mem::take(&mut self.channels[i].replay) {
                let result = self.channels[i]
                    .channel
                    .send(ChannelMessage::Buffer(buffer));
                result.map_err(|e| self.network_error(e))?;
            }
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), TaskError> {
        Ok(())
    }

    fn flush_buffers(&mut self) -> Result<(), TaskError> {
        for i in 0..self.channels.len() {
            if !self.channels[i].buffer.is_empty() {
                self.send(i)?;
            }
        }
        Ok(())
    }

    fn is_output_available(&self) -> bool {
        self.channels.iter().all(|c| c.channel.is_available())
    }

    fn on_processing_time(&mut self, _now: i64) -> Result<(), TaskError> {
        Ok(())
    }

    fn snapshot_state(&mut self, snapshot: &mut TaskSnapshotBuilder) -> Result<(), TaskError> {
        // The records before the barrier leave first, then the barrier, on every
        // channel.
        self.flush_buffers()?;
        if !snapshot.request().forward_barrier {
            return Ok(());
        }
        let barrier = snapshot.request().barrier;
        let unaligned = snapshot.is_unaligned();
        for i in 0..self.channels.len() {
            if unaligned {
                // The barrier overtakes what is queued; that becomes part of
                // the checkpoint and is sent again first after a restore.
                let result = self.channels[i]
                    .channel
                    .send_priority(ChannelMessage::Barrier(barrier));
                let overtaken = result.map_err(|e| self.network_error(e))?;
                snapshot.add_channel_state(self.channels[i].key, ChannelSide::Output, overtaken);
            } else {
                let result = self.channels[i]
                    .channel
                    .send(ChannelMessage::Barrier(barrier));
                result.map_err(|e| self.network_error(e))?;
            }
        }
        Ok(())
    }

    fn notify_checkpoint(&mut self, _id: CheckpointId, _complete: bool) -> Result<(), TaskError> {
        Ok(())
    }
}

impl<T: Data, S: ChannelSelector<T>> ChainedInput<T> for RecordWriter<T, S> {
    fn process_batch(&mut self, batch: &mut Vec<StreamRecord<T>>) -> Result<(), TaskError> {
        let n = self.channels.len();
        if self.selector.is_broadcast() {
            for record in batch.iter() {
                self.scratch.clear();
                encode_record(record, &mut self.scratch).map_err(|e| self.codec_error(e))?;
                for i in 0..n {
                    self.channels[i].buffer.extend_from_slice(&self.scratch);
                    self.send_if_due(i)?;
                }
            }
            return Ok(());
        }
        for record in batch.iter() {
            let i = self.selector.select(record);
            if i >= n {
                return Err(TaskError::UserFunction {
                    at: self.producer.clone(),
                    source: self.selector.describe_invalid(i, n),
                });
            }
            let ch = &mut self.channels[i];
            if let Err(e) = encode_record(record, &mut ch.buffer) {
                return Err(self.codec_error(e));
            }
            if ch.buffer.len() >= self.segment_size || self.flush_always {
                self.send(i)?;
            }
        }
        Ok(())
    }

    fn process_watermark(&mut self, watermark: Watermark) -> Result<(), TaskError> {
        for i in 0..self.channels.len() {
            encode_watermark(watermark, &mut self.channels[i].buffer);
            self.send_if_due(i)?;
        }
        Ok(())
    }

    fn process_watermark_status(&mut self, status: WatermarkStatus) -> Result<(), TaskError> {
        for i in 0..self.channels.len() {
            encode_watermark_status(status, &mut self.channels[i].buffer);
            self.send_if_due(i)?;
        }
        Ok(())
    }

    fn end_input(&mut self) -> Result<(), TaskError> {
        self.flush_buffers()?;
        for i in 0..self.channels.len() {
            let result = self.channels[i]
                .channel
                .send(ChannelMessage::EndOfPartition);
            result.map_err(|e| self.network_error(e))?;
        }
        Ok(())
    }
}
