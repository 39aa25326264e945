//! Helpers shared by the integration tests.

#![allow(dead_code)]

use runnel::prelude::*;
use std::sync::{Arc, Mutex};

/// A sink that collects every record it receives, from every subtask, with the
/// subtask that received it.
pub struct Collected<T> {
    records: Arc<Mutex<Vec<(u32, T)>>>,
}

impl<T> Clone for Collected<T> {
    fn clone(&self) -> Self {
        Collected {
            records: self.records.clone(),
        }
    }
}

impl<T: Clone> Collected<T> {
    pub fn new() -> Self {
        Collected {
            records: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The sink function to attach to a stream.
    pub fn sink(&self) -> CollectSink<T> {
        CollectSink {
            records: self.records.clone(),
            subtask: 0,
        }
    }

    /// All records, in arrival order.
    pub fn values(&self) -> Vec<T> {
        self.records
            .lock()
            .unwrap()
            .iter()
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// All records with the sink subtask that received them.
    pub fn with_subtasks(&self) -> Vec<(u32, T)> {
        self.records.lock().unwrap().clone()
    }

    /// Records sorted.
    pub fn sorted(&self) -> Vec<T>
    where
        T: Ord,
    {
        let mut v = self.values();
        v.sort();
        v
    }
}

/// See [`Collected`].
pub struct CollectSink<T> {
    records: Arc<Mutex<Vec<(u32, T)>>>,
    subtask: u32,
}

impl<T> Clone for CollectSink<T> {
    fn clone(&self) -> Self {
        CollectSink {
            records: self.records.clone(),
            subtask: self.subtask,
        }
    }
}

impl<T: Send + 'static> SinkFunction<T> for CollectSink<T> {
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.subtask = ctx.subtask_index();
        Ok(())
    }

    fn invoke(&mut self, value: T, _ctx: &SinkContext) -> Result<(), BoxError> {
        self.records.lock().unwrap().push((self.subtask, value));
        Ok(())
    }
}

/// A fresh empty directory under the system temp dir.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "runnel-test-{}-{}-{}",
        name,
        std::process::id(),
        unique()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// What an operator saw, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen<T> {
    Record(Option<i64>, T),
    Watermark(i64),
    Status(runnel::types::WatermarkStatus),
}

/// An operator that logs every element it receives and forwards it.
pub struct Probe<T> {
    log: Arc<Mutex<Vec<Seen<T>>>>,
}

impl<T: runnel::types::Data> runnel::runtime::OneInputOperator for Probe<T> {
    type In = T;
    type Out = T;

    fn process_element(
        &mut self,
        record: runnel::types::StreamRecord<T>,
        out: &mut runnel::runtime::Output<T>,
    ) -> Result<(), BoxError> {
        self.log.lock().unwrap().push(Seen::Record(
            record.timestamp.map(|t| t.millis()),
            record.value.clone(),
        ));
        out.collect(record);
        Ok(())
    }

    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut runnel::runtime::Output<T>,
    ) -> Result<(), BoxError> {
        self.log.lock().unwrap().push(Seen::Watermark(watermark.0));
        out.emit_watermark(watermark);
        Ok(())
    }

    fn process_watermark_status(
        &mut self,
        status: runnel::types::WatermarkStatus,
        out: &mut runnel::runtime::Output<T>,
    ) -> Result<(), BoxError> {
        self.log.lock().unwrap().push(Seen::Status(status));
        out.emit_watermark_status(status);
        Ok(())
    }
}

/// The shared log of a [`Probe`].
pub struct ProbeLog<T> {
    log: Arc<Mutex<Vec<Seen<T>>>>,
}

impl<T: runnel::types::Data> ProbeLog<T> {
    pub fn new() -> Self {
        ProbeLog {
            log: Arc::default(),
        }
    }

    /// Attaches a probe after `stream` (at the stream's parallelism 1 by default).
    pub fn attach(&self, stream: &DataStream<T>) -> SingleOutputStreamOperator<T> {
        let log = self.log.clone();
        stream.transform("probe", "Probe", move |_| Ok(Probe { log: log.clone() }))
    }

    pub fn seen(&self) -> Vec<Seen<T>> {
        self.log.lock().unwrap().clone()
    }

    pub fn watermarks(&self) -> Vec<i64> {
        self.seen()
            .into_iter()
            .filter_map(|s| {
                if let Seen::Watermark(w) = s {
                    Some(w)
                } else {
                    None
                }
            })
            .collect()
    }

    pub fn records(&self) -> Vec<T> {
        self.seen()
            .into_iter()
            .filter_map(|s| {
                if let Seen::Record(_, v) = s {
                    Some(v)
                } else {
                    None
                }
            })
            .collect()
    }

    /// The largest watermark seen so far.
    pub fn max_watermark(&self) -> Option<i64> {
        self.watermarks().into_iter().max()
    }
}

/// Waits until `done` holds, failing the test after `secs` seconds.
pub fn wait_until(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A watermark generator emitting `timestamp − lag` after every event (punctuated).
#[derive(Clone, Copy)]
pub struct EveryEvent {
    pub lag: i64,
}

impl<T> runnel::runtime::watermark::WatermarkGenerator<T> for EveryEvent {
    fn on_event(
        &mut self,
        _event: &T,
        timestamp: EventTime,
        output: &mut dyn runnel::runtime::watermark::WatermarkOutput,
    ) {
        output.emit_watermark(Watermark(timestamp.millis() - self.lag));
    }
    fn on_periodic_emit(&mut self, _output: &mut dyn runnel::runtime::watermark::WatermarkOutput) {}
}

/// What the exactly-once file sink of `examples/checkpointing` committed under
/// `out`: orders counted in its lines, lines, and in-progress (hidden) files
/// left behind.
pub struct CommittedOrders {
    /// The sum of the lines' `count=` fields.
    pub orders: u64,
    /// Committed lines (one per user and window).
    pub lines: usize,
    /// Hidden (in-progress or pending) files still there.
    pub in_progress: usize,
}

/// Reads the part files under `out` (see [`CommittedOrders`]).
pub fn committed_orders(out: &std::path::Path) -> CommittedOrders {
    let mut c = CommittedOrders {
        orders: 0,
        lines: 0,
        in_progress: 0,
    };
    for entry in std::fs::read_dir(out).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            c.in_progress += 1;
            continue;
        }
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            c.lines += 1;
            c.orders += line
                .split_whitespace()
                .find_map(|f| f.strip_prefix("count="))
                .unwrap()
                .parse::<u64>()
                .unwrap();
        }
    }
    c
}

/// The lines of the committed (visible) files under `base` and its
/// subdirectories, sorted: what a file sink's readers see.
pub fn committed_lines(base: &std::path::Path) -> Vec<String> {
    let mut lines = Vec::new();
    let mut dirs = vec![base.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if !entry.file_name().to_string_lossy().starts_with('.') {
                let text = std::fs::read_to_string(&path).unwrap();
                lines.extend(text.lines().map(str::to_string));
            }
        }
    }
    lines.sort();
    lines
}

/// A job whose sink takes 200 µs a record behind a fast chained source and a
/// rebalance: the upstream task is backpressured, the sink busy. Started;
/// cancel it when done.
pub fn start_slow_sink_job(name: &str) -> runnel::runtime::JobClient {
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(1);
    env.from_sequence(1, u64::MAX)
        .map(|x: u64| x)
        .name("Fast")
        .rebalance()
        .add_sink(|_: u64| std::thread::sleep(std::time::Duration::from_micros(200)))
        .name("Slow Sink");
    env.execute_async(name).unwrap()
}
