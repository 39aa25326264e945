//! The in-process transport: bounded queues between threads of one process.
//!
//! Each channel holds at most `capacity` messages (its credit, in buffers). A
//! producer that finds the queue full parks until the consumer takes a message, so
//! a slow consumer slows its producers down and memory stays bounded at
//! `capacity × segment size` per channel. Consumed buffers flow back to the
//! producer for reuse.

use crate::{
    ChannelId, ChannelMessage, ChannelUsage, InputChannel, NetworkError, OutputChannel, TaskSignal,
    Transport,
};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Channels between subtasks of one process.
pub struct LocalTransport {
    channels: HashMap<ChannelId, Arc<LocalChannel>>,
}

impl LocalTransport {
    /// Creates every channel of a job up front, each with its capacity in buffers
    /// (at least one).
    pub fn new(channels: impl IntoIterator<Item = (ChannelId, usize)>) -> Self {
        let channels = channels
            .into_iter()
            .map(|(id, capacity)| (id, Arc::new(LocalChannel::new(id, capacity.max(1)))))
            .collect();
        LocalTransport { channels }
    }

    fn channel(&self, id: ChannelId) -> Result<&Arc<LocalChannel>, NetworkError> {
        self.channels
            .get(&id)
            .ok_or(NetworkError::UnknownChannel(id))
    }
}

impl Transport for LocalTransport {
    fn open_output(
        &self,
        id: ChannelId,
        producer: Arc<TaskSignal>,
    ) -> Result<Box<dyn OutputChannel>, NetworkError> {
        let ch = self.channel(id)?;
        ch.producer
            .set(producer)
            .map_err(|_| NetworkError::AlreadyOpen(id))?;
        Ok(Box::new(LocalOutput {
            channel: ch.clone(),
        }))
    }

    fn open_input(
        &self,
        id: ChannelId,
        consumer: Arc<TaskSignal>,
    ) -> Result<Box<dyn InputChannel>, NetworkError> {
        let ch = self.channel(id)?;
        ch.consumer
            .set(consumer)
            .map_err(|_| NetworkError::AlreadyOpen(id))?;
        Ok(Box::new(LocalInput {
            channel: ch.clone(),
        }))
    }

    fn buffer_usage(&self) -> Vec<ChannelUsage> {
        self.channels
            .values()
            .map(|ch| {
                let fill = (ch.queued.load(Ordering::Relaxed), ch.capacity);
                ChannelUsage {
                    id: ch.id,
                    input: Some(fill),
                    output: Some(fill),
                }
            })
            .collect()
    }
}

struct LocalChannel {
    id: ChannelId,
    capacity: usize,
    state: Mutex<ChannelState>,
    /// Messages queued; lets the consumer poll empty channels without locking.
    queued: AtomicUsize,
    receiver_closed: AtomicBool,
    producer: OnceLock<Arc<TaskSignal>>,
    consumer: OnceLock<Arc<TaskSignal>>,
}

#[derive(Default)]
struct ChannelState {
    queue: VecDeque<ChannelMessage>,
    free: Vec<Vec<u8>>,
}

impl LocalChannel {
    fn new(id: ChannelId, capacity: usize) -> Self {
        LocalChannel {
            id,
            capacity,
            state: Mutex::new(ChannelState::default()),
            queued: AtomicUsize::new(0),
            receiver_closed: AtomicBool::new(false),
            producer: OnceLock::new(),
            consumer: OnceLock::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ChannelState> {
        // A panic while holding this lock cannot leave the queue half-updated
        // (each critical section is a single push or pop), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake_producer(&self) {
        if let Some(p) = self.producer.get() {
            p.wake();
        }
    }

    fn wake_consumer(&self) {
        if let Some(c) = self.consumer.get() {
            c.wake();
        }
    }
}

struct LocalOutput {
    channel: Arc<LocalChannel>,
}

impl OutputChannel for LocalOutput {
    fn take_buffer(&mut self, capacity: usize) -> Vec<u8> {
        match self.channel.lock().free.pop() {
            Some(mut b) => {
                b.clear();
                b.reserve(capacity);
                b
            }
            None => Vec::with_capacity(capacity),
        }
    }

    fn is_available(&self) -> bool {
        self.channel.queued.load(Ordering::Acquire) < self.channel.capacity
            || self.channel.receiver_closed.load(Ordering::Acquire)
    }

    fn send(&mut self, message: ChannelMessage) -> Result<(), NetworkError> {
        let ch = &*self.channel;
        let producer = ch.producer.get().expect("an opened output has a producer");
        loop {
            if ch.receiver_closed.load(Ordering::Acquire) {
                return Err(NetworkError::ReceiverClosed(ch.id));
            }
            {
                let mut st = ch.lock();
                if st.queue.len() < ch.capacity {
                    st.queue.push_back(message);
                    ch.queued.store(st.queue.len(), Ordering::Release);
                    drop(st);
                    ch.wake_consumer();
                    return Ok(());
                }
            }
            if producer.is_cancelled() {
                return Err(NetworkError::Cancelled(ch.id));
            }
            producer.park_backpressured_until(None);
        }
    }

    fn send_priority(&mut self, message: ChannelMessage) -> Result<Vec<Vec<u8>>, NetworkError> {
        self.overtake(message)
    }
}

impl LocalOutput {
    fn overtake(&self, message: ChannelMessage) -> Result<Vec<Vec<u8>>, NetworkError> {
        let ch = &*self.channel;
        if ch.receiver_closed.load(Ordering::Acquire) {
            return Err(NetworkError::ReceiverClosed(ch.id));
        }
        let mut st = ch.lock();
        let overtaken = st
            .queue
            .iter()
            .filter_map(|m| match m {
                ChannelMessage::Buffer(b) => Some(b.clone()),
                _ => None,
            })
            .collect();
        st.queue.push_front(message);
        ch.queued.store(st.queue.len(), Ordering::Release);
        drop(st);
        ch.wake_consumer();
        Ok(overtaken)
    }
}

struct LocalInput {
    channel: Arc<LocalChannel>,
}

impl InputChannel for LocalInput {
    fn try_recv(&mut self) -> Result<Option<ChannelMessage>, NetworkError> {
        let ch = &*self.channel;
        if ch.queued.load(Ordering::Acquire) == 0 {
            return Ok(None);
        }
        let mut st = ch.lock();
        let msg = st.queue.pop_front();
        let left = st.queue.len();
        ch.queued.store(left, Ordering::Release);
        drop(st);
        // A producer waits only on a full channel. Waking it once the channel is
        // half empty (not at the first free slot) lets it fill several buffers
        // per wake-up instead of one, sparing a park/unpark pair per buffer.
        if msg.is_some() && left == ch.capacity / 2 {
            ch.wake_producer();
        }
        Ok(msg)
    }

    fn recycle(&mut self, buffer: Vec<u8>) {
        let mut st = self.channel.lock();
        if st.free.len() < self.channel.capacity + 1 {
            st.free.push(buffer);
        }
    }
}

impl Drop for LocalInput {
    fn drop(&mut self) {
        self.channel.receiver_closed.store(true, Ordering::Release);
        self.channel.wake_producer();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;
    use std::time::Duration;

    fn id() -> ChannelId {
        ChannelId {
            job_edge: 0,
            producer: 0,
            consumer: 0,
        }
    }

    #[test]
    fn buffer_usage_is_the_queue_over_the_capacity_at_both_ends() {
        let t = LocalTransport::new([(id(), 4)]);
        let (ps, cs) = (Arc::new(TaskSignal::new()), Arc::new(TaskSignal::new()));
        let mut out = t.open_output(id(), ps).unwrap();
        let mut inp = t.open_input(id(), cs).unwrap();
        for _ in 0..3 {
            let b = out.take_buffer(8);
            out.send(ChannelMessage::Buffer(b)).unwrap();
        }
        let usage = |t: &LocalTransport| t.buffer_usage()[0];
        assert_eq!(
            usage(&t),
            ChannelUsage {
                id: id(),
                input: Some((3, 4)),
                output: Some((3, 4))
            }
        );
        inp.try_recv().unwrap();
        assert_eq!(usage(&t).input, Some((2, 4)));
    }

    #[test]
    fn messages_arrive_in_order_and_buffers_are_recycled() {
        let t = LocalTransport::new([(id(), 4)]);
        let (ps, cs) = (Arc::new(TaskSignal::new()), Arc::new(TaskSignal::new()));
        let mut out = t.open_output(id(), ps).unwrap();
        let mut inp = t.open_input(id(), cs).unwrap();
        let mut b = out.take_buffer(16);
        b.extend_from_slice(b"abc");
        out.send(ChannelMessage::Buffer(b)).unwrap();
        out.send(ChannelMessage::EndOfPartition).unwrap();
        let Some(ChannelMessage::Buffer(got)) = inp.try_recv().unwrap() else {
            panic!("expected a buffer")
        };
        assert_eq!(got, b"abc");
        let ptr = got.as_ptr();
        inp.recycle(got);
        assert_eq!(
            inp.try_recv().unwrap(),
            Some(ChannelMessage::EndOfPartition)
        );
        assert_eq!(inp.try_recv().unwrap(), None);
        let reused = out.take_buffer(16);
        assert_eq!(reused.as_ptr(), ptr, "the recycled buffer is reused");
    }

    #[test]
    fn a_priority_message_overtakes_the_queue_and_reports_what_it_overtook() {
        let t = LocalTransport::new([(id(), 2)]);
        let (ps, cs) = (Arc::new(TaskSignal::new()), Arc::new(TaskSignal::new()));
        let mut out = t.open_output(id(), ps).unwrap();
        let mut inp = t.open_input(id(), cs).unwrap();
        out.send(ChannelMessage::Buffer(vec![1])).unwrap();
        out.send(ChannelMessage::Buffer(vec![2])).unwrap();
        // The channel is full; a priority message is queued anyway, first.
        let overtaken = out.send_priority(ChannelMessage::EndOfPartition).unwrap();
        assert_eq!(overtaken, [vec![1], vec![2]]);
        assert_eq!(
            inp.try_recv().unwrap(),
            Some(ChannelMessage::EndOfPartition)
        );
        assert_eq!(
            inp.try_recv().unwrap(),
            Some(ChannelMessage::Buffer(vec![1]))
        );
        assert_eq!(
            inp.try_recv().unwrap(),
            Some(ChannelMessage::Buffer(vec![2]))
        );
    }

    #[test]
    fn a_full_channel_blocks_the_producer_until_the_consumer_reads() {
        let t = Arc::new(LocalTransport::new([(id(), 2)]));
        let cs = Arc::new(TaskSignal::new());
        let mut inp = t.open_input(id(), cs).unwrap();
        let t2 = t.clone();
        let producer = thread::spawn(move || {
            let ps = Arc::new(TaskSignal::new());
            ps.bind_current_thread();
            let mut out = t2.open_output(id(), ps).unwrap();
            for i in 0..10u8 {
                out.send(ChannelMessage::Buffer(vec![i])).unwrap();
            }
        });
        thread::sleep(Duration::from_millis(50));
        assert!(
            !producer.is_finished(),
            "producer must be blocked by backpressure"
        );
        let mut got = Vec::new();
        while got.len() < 10 {
            match inp.try_recv().unwrap() {
                Some(ChannelMessage::Buffer(b)) => got.push(b[0]),
                Some(other) => panic!("unexpected {other:?}"),
                None => thread::sleep(Duration::from_millis(1)),
            }
        }
        producer.join().unwrap();
        assert_eq!(got, (0..10).collect::<Vec<u8>>());
    }

    #[test]
    fn cancellation_unblocks_a_waiting_producer() {
        let t = Arc::new(LocalTransport::new([(id(), 1)]));
        let _inp = t.open_input(id(), Arc::new(TaskSignal::new())).unwrap();
        let ps = Arc::new(TaskSignal::new());
        let ps2 = ps.clone();
        let t2 = t.clone();
        let producer = thread::spawn(move || {
            ps2.bind_current_thread();
            let mut out = t2.open_output(id(), ps2).unwrap();
            out.send(ChannelMessage::Buffer(vec![1])).unwrap();
            out.send(ChannelMessage::Buffer(vec![2]))
        });
        thread::sleep(Duration::from_millis(30));
        ps.cancel();
        assert!(matches!(
            producer.join().unwrap(),
            Err(NetworkError::Cancelled(_))
        ));
    }

    #[test]
    fn a_dropped_consumer_fails_the_producer_instead_of_hanging() {
        let t = LocalTransport::new([(id(), 1)]);
        let mut out = t.open_output(id(), Arc::new(TaskSignal::new())).unwrap();
        drop(t.open_input(id(), Arc::new(TaskSignal::new())).unwrap());
        assert!(matches!(
            out.send(ChannelMessage::EndOfPartition),
            Err(NetworkError::ReceiverClosed(_))
        ));
    }

    #[test]
    fn unknown_and_reopened_channels_are_errors() {
        let t = LocalTransport::new([(id(), 1)]);
        let other = ChannelId {
            job_edge: 9,
            ..id()
        };
        assert!(matches!(
            t.open_input(other, Arc::new(TaskSignal::new())),
            Err(NetworkError::UnknownChannel(_))
        ));
        let _a = t.open_input(id(), Arc::new(TaskSignal::new())).unwrap();
        assert!(matches!(
            t.open_input(id(), Arc::new(TaskSignal::new())),
            Err(NetworkError::AlreadyOpen(_))
        ));
    }
}
