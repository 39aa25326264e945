//! User functions are values cloned once per parallel instance, on that
//! instance's thread. The prototype sits behind a mutex so a function only needs
//! to be `Send` (not `Sync`); the lock is taken once per instance, never per record.

use std::sync::Mutex;

pub(crate) struct Prototype<F>(Mutex<F>);

impl<F: Clone> Prototype<F> {
    pub(crate) fn new(f: F) -> Self {
        Prototype(Mutex::new(f))
    }

    pub(crate) fn instance(&self) -> F {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
