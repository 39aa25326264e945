//! The server: a listener, one I/O thread per connection and a fixed pool of
//! handler workers.
//!
//! Threads and who owns them:
//! - the *acceptor* owns the listener and every connection thread it spawned; it
//!   refuses connections beyond `max_connections` with `503`, and on shutdown
//!   closes every open socket and joins every connection thread;
//! - a *connection* thread parses requests, hands each complete one to the worker
//!   pool and writes the answer (see `connection.rs`); it blocks only on its own
//!   socket, so a slow client delays no one else;
//! - *workers* check the bearer token, route and run handlers. They stop when the
//!   last job sender (held by the acceptor and connection threads) is gone.
//!
//! [`RestServer::shutdown`] (also run on drop) stops accepting, closes open
//! connections, lets running handlers finish and joins every thread. A handler that
//! never returns therefore blocks shutdown: handlers must not wait unboundedly.

use crate::auth::BearerAuth;
use crate::connection;
use crate::parser::Limits;
use crate::{Request, Response, RestConfig, RestError, Router};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A request handed to the worker pool, with where to send the answer.
pub(crate) struct Job {
    pub(crate) request: Request,
    pub(crate) reply: SyncSender<Response>,
}

/// What every thread of one server shares.
pub(crate) struct Shared {
    pub(crate) config: RestConfig,
    pub(crate) limits: Limits,
    router: Router,
    auth: BearerAuth,
    stopping: AtomicBool,
    /// A handle on every open connection, to close them at shutdown.
    open: Mutex<HashMap<u64, TcpStream>>,
}

impl Shared {
    /// Whether shutdown has begun (connections then stop keeping alive).
    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Access control, then routing.
    fn dispatch(&self, request: Request) -> Response {
        match self.auth.check(&request) {
            Ok(()) => self.router.handle(request),
            Err(denied) => denied,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running HTTP/1.1 server. See the [crate docs](crate) for an example.
#[derive(Debug)]
pub struct RestServer {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("address", &self.config.address)
            .field("router", &self.router)
            .finish_non_exhaustive()
    }
}

impl RestServer {
    /// Validates `config`, binds its address and starts serving `router`.
    ///
    /// Fails with [`RestError::NonLoopbackAddress`] for an address other hosts can
    /// reach unless `allow_non_loopback` is set, [`RestError::InvalidConfig`] for an
    /// unusable setting and [`RestError::Bind`] if the address is taken.
    pub fn bind(config: RestConfig, router: Router) -> Result<RestServer, RestError> {
        let public = config.validate()?;
        let address = config.address;
        if !address.ip().is_loopback() && config.bearer_token.is_none() {
            log::warn!(
                "REST server on {address} is reachable from the network without a bearer token"
            );
        }
        let listener =
            TcpListener::bind(address).map_err(|source| RestError::Bind { address, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| RestError::io("cannot read the REST server's bound address", e))?;
        let shared = Arc::new(Shared {
            limits: Limits::from(&config),
            auth: BearerAuth::new(config.bearer_token.as_deref(), public),
            config,
            router,
            stopping: AtomicBool::new(false),
            open: Mutex::new(HashMap::new()),
        });
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let mut workers = Vec::with_capacity(shared.config.workers);
        for i in 0..shared.config.workers {
            let (shared, queue) = (Arc::clone(&shared), Arc::clone(&queue));
            let spawned = thread::Builder::new()
                .name(format!("rest-worker-{i}"))
                .spawn(move || work(&shared, &queue));
            match spawned {
                Ok(worker) => workers.push(worker),
                Err(e) => {
                    drop(jobs);
                    workers.into_iter().for_each(|w| drop(w.join()));
                    return Err(RestError::io("cannot start a REST worker thread", e));
                }
            }
        }
        let acceptor_shared = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("rest-accept-{}", local_addr.port()))
            .spawn(move || accept(&listener, &acceptor_shared, jobs));
        let acceptor = match spawned {
            Ok(acceptor) => acceptor,
            Err(e) => {
                // The closure, and with it the last job sender, is gone: workers stop.
                workers.into_iter().for_each(|w| drop(w.join()));
                return Err(RestError::io("cannot start the REST acceptor thread", e));
            }
        };
        log::info!("REST server listening on http://{local_addr}");
        Ok(RestServer {
            local_addr,
            shared,
            acceptor: Some(acceptor),
            workers,
        })
    }

    /// The bound address (with the actual port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, closes open connections, waits for running handlers and
    /// joins every thread. Idempotent; also run on drop.
    pub fn shutdown(&mut self) {
        if self.acceptor.is_none() && self.workers.is_empty() {
            return;
        }
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            // `accept` has no timeout: wake it with a connection of our own.
            let wake = SocketAddr::new(wake_ip(self.local_addr.ip()), self.local_addr.port());
            match TcpStream::connect_timeout(&wake, Duration::from_secs(1)) {
                Ok(_) => {
                    let _ = acceptor.join();
                }
                Err(e) => {
                    // Joining the workers would wait for the acceptor's job sender.
                    log::error!(
                        "cannot wake the REST acceptor on {wake} ({e}); leaving its threads behind"
                    );
                    self.workers.clear();
                    return;
                }
            }
        }
        // The acceptor held the last job senders; the workers now drain and stop.
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        log::info!("REST server on {} stopped", self.local_addr);
    }
}

impl Drop for RestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Where to connect to reach a listener bound to `ip` (a wildcard address is
/// reachable through loopback).
fn wake_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// A worker: runs jobs until every sender is gone.
fn work(shared: &Shared, queue: &Mutex<Receiver<Job>>) {
    loop {
        let job = lock(queue).recv();
        let Ok(Job { request, reply }) = job else {
            return;
        };
        // The connection may have gone; then nobody waits for the answer.
        let _ = reply.send(shared.dispatch(request));
    }
}

/// Removes a connection from the open set when its thread ends, however it ends.
struct Registration<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        lock(&self.shared.open).remove(&self.id);
    }
}

/// The acceptor loop; on shutdown closes and joins every connection.
fn accept(listener: &TcpListener, shared: &Arc<Shared>, jobs: Sender<Job>) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id = 0u64;
    for incoming in listener.incoming() {
        if shared.stopping() {
            break;
        }
        let stream = match incoming {
            Ok(stream) => stream,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                log::warn!("REST server cannot accept a connection: {e}");
                thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        threads.retain(|t| !t.is_finished());
        if lock(&shared.open).len() >= shared.config.max_connections {
            connection::refuse_busy(stream);
            continue;
        }
        next_id += 1;
        let id = next_id;
        match stream.try_clone() {
            Ok(handle) => lock(&shared.open).insert(id, handle),
            Err(e) => {
                log::warn!("REST server cannot register a connection: {e}");
                continue;
            }
        };
        let (thread_shared, jobs) = (Arc::clone(shared), jobs.clone());
        let spawned = thread::Builder::new()
            .name(format!("rest-conn-{id}"))
            .spawn(move || {
                let _registration = Registration {
                    shared: &thread_shared,
                    id,
                };
                connection::serve(stream, &thread_shared, &jobs);
            });
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(e) => {
                log::warn!("REST server cannot start a connection thread: {e}");
                lock(&shared.open).remove(&id);
            }
        }
    }
    drop(jobs);
    for stream in lock(&shared.open).values() {
        let _ = stream.shutdown(Shutdown::Both);
    }
    for thread in threads {
        let _ = thread.join();
    }
}
