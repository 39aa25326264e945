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
