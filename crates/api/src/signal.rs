//! Ctrl-C for embedded jobs: the first interrupt cancels the running jobs cleanly,
//! a second one exits at once.

use runnel_runtime::JobCancelHandle;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

static RUNNING: Mutex<Vec<JobCancelHandle>> = Mutex::new(Vec::new());
static INSTALLED: OnceLock<bool> = OnceLock::new();
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Registers a job to cancel on Ctrl-C; returns a guard that unregisters it.
pub(crate) fn cancel_on_interrupt(handle: JobCancelHandle) -> InterruptGuard {
    INSTALLED.get_or_init(|| {
        ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, Ordering::AcqRel) {
                eprintln!("interrupted again; exiting");
                std::process::exit(130);
            }
            eprintln!("interrupted; cancelling the job (Ctrl-C again to exit at once)");
            for h in RUNNING.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                h.cancel();
            }
        })
        .is_ok()
    });
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(handle.clone());
    InterruptGuard(handle)
}

pub(crate) struct InterruptGuard(JobCancelHandle);

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = running.iter().position(|h| h.same_job(&self.0)) {
            running.swap_remove(i);
        }
    }
}
