//! The leader's side of the control connections: it takes the task
//! executors' connections, checks that they built the same job, and turns
//! what they send into job master events.

use super::wire::{self, CONTROL_VERSION, ToExecutor, ToMaster};
use super::{LeaderRole, Placement, RENDEZVOUS_TIMEOUT};
use crate::environment::ExecutableJob;
use crate::job_master::MasterEvent;
use std::io::{BufReader, BufWriter};
use std::net::{IpAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The leader's connections to its task executors.
pub(crate) struct Followers {
    pub(crate) placement: Placement,
    pub(crate) host: IpAddr,
    /// By process index (`None` for the leader itself).
    links: Vec<Option<Link>>,
    /// Set once the job is over: connections closing then are expected.
    closing: Arc<AtomicBool>,
}

struct Link {
    out: Mutex<BufWriter<TcpStream>>,
    alive: Arc<AtomicBool>,
}

impl Followers {
    /// Waits for the `role.processes - 1` task executors, checks their
    /// hellos against `job`, answers each with the placement and starts a
    /// reader per connection posting to `events`.
    pub(crate) fn accept(
        role: LeaderRole,
        job: &ExecutableJob,
        events: Sender<MasterEvent>,
    ) -> Result<Followers, String> {
        let n = role.processes as usize;
        let plan = super::plan_fingerprint(job);
        let deadline = Instant::now() + RENDEZVOUS_TIMEOUT;
        role.control
            .set_nonblocking(true)
            .map_err(|e| format!("cannot poll the control listener: {e}"))?;
        let mut slots: Vec<Option<Vec<u32>>> = vec![None; n];
        slots[0] = Some(role.slots.clone());
        let mut streams: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
        while slots.iter().any(Option::is_none) {
            let stream = match role.control.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        let missing: Vec<usize> = (0..n).filter(|p| slots[*p].is_none()).collect();
                        return Err(format!(
                            "the job's processes {missing:?} did not connect within {RENDEZVOUS_TIMEOUT:?}"
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                Err(e) => return Err(format!("cannot accept a task executor: {e}")),
            };
            let peer = stream
                .peer_addr()
                .map_or_else(|_| "?".to_string(), |a| a.to_string());
            match hello(&stream) {
                Ok((process, own, their_plan)) => {
                    let p = process as usize;
                    if p == 0 || p >= n {
                        log::warn!(
                            "a task executor at {peer} claims to be process {process} of {n}; ignored"
                        );
                        continue;
                    }
                    if their_plan != plan {
                        return Err(format!(
                            "process {process} built a different job graph than process 0 \
                             (plan fingerprint {their_plan:016x}, not {plan:016x}): the job's \
                             graph must not depend on anything but its arguments and configuration"
                        ));
                    }
                    slots[p] = Some(own);
                    streams[p] = Some(stream);
                }
                Err(e) => {
                    log::warn!("a connection from {peer} is not a task executor of this job: {e}")
                }
            }
        }
        let placement = Placement {
            process: 0,
            slots: slots.into_iter().map(Option::unwrap_or_default).collect(),
        };
        placement.validate(job)?;
        let closing = Arc::new(AtomicBool::new(false));
        let mut links = vec![None];
        for (p, stream) in streams.into_iter().enumerate().skip(1) {
            let Some(stream) = stream else { continue };
            let failed = |e: std::io::Error| format!("process {p}: {e}");
            stream.set_nonblocking(false).map_err(failed)?;
            stream.set_read_timeout(None).map_err(failed)?;
            let _ = stream.set_nodelay(true);
            let reader = stream.try_clone().map_err(failed)?;
            let mut out = BufWriter::new(stream);
            wire::write_frame(
                &mut out,
                &ToExecutor::Welcome {
                    slots: placement.slots.clone(),
                },
            )
            .map_err(failed)?;
            let alive = Arc::new(AtomicBool::new(true));
            spawn_reader(
                p as u32,
                reader,
                events.clone(),
                alive.clone(),
                closing.clone(),
            )
            .map_err(failed)?;
            links.push(Some(Link {
                out: Mutex::new(out),
                alive,
            }));
        }
        Ok(Followers {
            placement,
            host: role.host,
            links,
            closing,
        })
    }

    /// The task executors' process indices.
    pub(crate) fn processes(&self) -> impl Iterator<Item = u32> + '_ {
        (1..self.links.len() as u32).filter(|p| self.links[*p as usize].is_some())
    }

    /// Sends `message` to process `process`; a broken connection is
    /// reported by its reader.
    pub(crate) fn send(&self, process: u32, message: &ToExecutor) {
        let Some(Some(link)) = self.links.get(process as usize) else {
            return;
        };
        if !link.alive.load(Ordering::Acquire) {
            return;
        }
        let mut out = link.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = wire::write_frame(&mut *out, message) {
            log::warn!("cannot send to process {process} of the job: {e}");
        }
    }

    /// Sends `message` to every task executor.
    pub(crate) fn broadcast(&self, message: &ToExecutor) {
        for p in self.processes() {
            self.send(p, message);
        }
    }

    /// Tells every task executor the job is over.
    pub(crate) fn shut_down(&self) {
        self.closing.store(true, Ordering::Release);
        self.broadcast(&ToExecutor::Shutdown);
    }
}

/// Reads the first message of a connection: (process, slots, plan fingerprint).
fn hello(stream: &TcpStream) -> Result<(u32, Vec<u32>, u64), String> {
    stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(Duration::from_secs(10))))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    match wire::read_frame::<ToMaster>(&mut reader) {
        Ok(Some(ToMaster::Hello {
            version,
            process,
            slots,
            plan,
        })) => {
            if version != CONTROL_VERSION {
                return Err(format!(
                    "it speaks control protocol version {version}, this process {CONTROL_VERSION}"
                ));
            }
            Ok((process, slots, plan))
        }
        Ok(Some(other)) => Err(format!("it began with {other:?} instead of a hello")),
        Ok(None) => Err("it closed the connection".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn spawn_reader(
    process: u32,
    stream: TcpStream,
    events: Sender<MasterEvent>,
    alive: Arc<AtomicBool>,
    closing: Arc<AtomicBool>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(format!("job master [process {process}]"))
        .spawn(move || {
            let mut input = BufReader::new(stream);
            let reason = loop {
                match wire::read_frame::<ToMaster>(&mut input) {
                    Ok(Some(message)) => {
                        if events
                            .send(MasterEvent::Executor { process, message })
                            .is_err()
                        {
                            return;
                        }
                    }
                    Ok(None) => break "it closed its connection".to_string(),
                    Err(e) => break format!("its connection failed: {e}"),
                };
            };
            alive.store(false, Ordering::Release);
            if !closing.load(Ordering::Acquire) {
                let _ = events.send(MasterEvent::ExecutorLost { process, reason });
            }
        })
        .map(drop)
}
