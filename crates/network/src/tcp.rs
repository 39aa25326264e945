//! The TCP transport: channels between subtasks in different processes.
//!
//! Each process ("TaskManager") owns one [`TcpTransport`] listening on an address
//! its peers know. A channel whose other end lives in another process travels over
//! **one multiplexed TCP connection per pair of processes**, however many channels
//! the pair shares; channels with both ends in this process use a [`LocalTransport`].
//! One connection per peer pair keeps sockets, threads and kernel buffers
//! proportional to the number of processes, not to the number of channels.
//!
//! **Frames.** Every frame is `len: u32` (bytes that follow), `kind: u8`, the
//! channel id (`job_edge`, `producer`, `consumer`: three `u32`), then a payload;
//! integers are big-endian. Kinds: `HELLO` / `HELLO_ACK` / `REJECT` (handshake),
//! `BUFFER` (payload: sender backlog `u32`, then the bytes), `BARRIER`,
//! `END_OF_PARTITION`, `CREDIT` (payload: `u32` credits granted) and `CLOSED` (the
//! consumer dropped its end). The dialing side sends `HELLO` (magic, protocol
//! version, its listen address); the accepting side answers `HELLO_ACK` or `REJECT`
//! with a reason, so an incompatible peer yields an error, never garbage. When two
//! processes dial each other at the same time, the dial from the lower listen
//! address wins and the other is rejected as a duplicate, so the pair still shares
//! one connection.
//!
//! **Credits** (Flink's credit-based flow control). The receiver announces
//! `buffers_per_channel` credits when the consumer opens its end and one more each
//! time the consumer takes a buffer (credits still waiting to be written are
//! coalesced into one frame). The sender puts a buffer on the connection only when
//! it holds a credit; [`OutputChannel::send`] blocks (parking on the producer's
//! [`TaskSignal`], woken by credit arrival or cancellation) otherwise. Each buffer
//! frame announces the sender's backlog (1 when that buffer used its last credit),
//! for information. So at most `buffers_per_channel` buffers per channel are in
//! flight or queued at the receiver, and a slow consumer slows its producer with
//! bounded memory on both sides; one blocked channel never stalls the others on the
//! shared connection. Barriers and end-of-partition need no credit and travel in
//! order with the data.
//!
//! **Priority messages.** [`OutputChannel::send_priority`] puts the message ahead
//! of this channel's frames still queued in the sender's outgoing queue (not yet
//! written to the socket), and returns copies of the buffers among them; what was
//! already written arrives before it. It needs no credit.
//!
//! **Failures.** A connection that is refused, reset or closed fails every channel
//! it carries: the next `send` / `try_recv` returns an error instead of hanging
//! (messages that arrived before the failure are delivered first, and a channel that
//! already delivered end-of-partition is not affected). The detailed reason, naming
//! the peer, is available from [`TcpTransport::peer_error`].

use crate::{
    ChannelId, ChannelMessage, ChannelUsage, InputChannel, LocalTransport, NetworkError,
    OutputChannel, TaskSignal, Transport,
};
use runnel_types::{BarrierAlignment, CheckpointBarrier, CheckpointId, SnapshotKind};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The wire protocol version this build speaks; peers must speak the same.
pub const PROTOCOL_VERSION: u16 = 1;

const MAGIC: u32 = 0x524E_4E4C; // "RNNL"
const MAX_FRAME: usize = 256 << 20;
const HEADER: usize = 1 + 12;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

const K_HELLO: u8 = 0;
const K_HELLO_ACK: u8 = 1;
const K_REJECT: u8 = 2;
const K_BUFFER: u8 = 3;
const K_BARRIER: u8 = 4;
const K_END_OF_PARTITION: u8 = 5;
const K_CREDIT: u8 = 6;
const K_CLOSED: u8 = 7;

const DUPLICATE: &str = "duplicate connection";

/// Where the other end of a channel lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelLocation {
    /// Both ends are in this process.
    Local,
    /// The other end is in the process whose [`TcpTransport`] listens at this
    /// address.
    Remote(SocketAddr),
}

/// Channels between subtasks of different processes, over TCP.
pub struct TcpTransport {
    inner: Arc<Inner>,
    acceptor: Option<JoinHandle<()>>,
}

struct Inner {
    listen_addr: SocketAddr,
    version: u16,
    capacity: usize,
    routes: Mutex<HashMap<ChannelId, SocketAddr>>,
    local: LocalTransport,
    conns: Mutex<Conns>,
    conns_changed: Condvar,
    outputs: Mutex<HashMap<ChannelId, Arc<OutChan>>>,
    inputs: Mutex<HashMap<ChannelId, Arc<InChan>>>,
    peer_errors: Mutex<HashMap<SocketAddr, String>>,
    connections: AtomicUsize,
    hold_writes: AtomicBool,
    shutdown: AtomicBool,
}

#[derive(Default)]
struct Conns {
    live: HashMap<SocketAddr, Arc<Conn>>,
    dialing: HashSet<SocketAddr>,
}

impl TcpTransport {
    /// Listens at `listen` (the address peers route to; port 0 picks a free one, see
    /// [`TcpTransport::local_addr`]) and serves `channels`, each with the location of
    /// its other end. Every channel holds at most `buffers_per_channel` (at least
    /// one) buffers in flight.
    pub fn bind(
        listen: SocketAddr,
        buffers_per_channel: usize,
        channels: impl IntoIterator<Item = (ChannelId, ChannelLocation)>,
    ) -> io::Result<Self> {
        Self::bind_with_version(listen, buffers_per_channel, channels, PROTOCOL_VERSION)
    }

    /// [`TcpTransport::bind`] speaking another protocol version: only for testing
    /// the handshake's compatibility check.
    #[doc(hidden)]
    pub fn bind_with_version(
        listen: SocketAddr,
        buffers_per_channel: usize,
        channels: impl IntoIterator<Item = (ChannelId, ChannelLocation)>,
        version: u16,
    ) -> io::Result<Self> {
        let capacity = buffers_per_channel.max(1);
        let listener = TcpListener::bind(listen)?;
        let listen_addr = listener.local_addr()?;
        let mut local = Vec::new();
        let mut routes = HashMap::new();
        for (id, loc) in channels {
            match loc {
                ChannelLocation::Local => local.push((id, capacity)),
                ChannelLocation::Remote(addr) => {
                    routes.insert(id, addr);
                }
            }
        }
        let inner = Arc::new(Inner {
            listen_addr,
            version,
            capacity,
            routes: Mutex::new(routes),
            local: LocalTransport::new(local),
            conns: Mutex::new(Conns::default()),
            conns_changed: Condvar::new(),
            outputs: Mutex::new(HashMap::new()),
            inputs: Mutex::new(HashMap::new()),
            peer_errors: Mutex::new(HashMap::new()),
            connections: AtomicUsize::new(0),
            hold_writes: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
        });
        let acc = inner.clone();
        let acceptor = std::thread::Builder::new()
            .name(format!("runnel-tcp-accept-{listen_addr}"))
            .spawn(move || accept_loop(acc, listener))?;
        Ok(TcpTransport {
            inner,
            acceptor: Some(acceptor),
        })
    }

    /// Declares (or moves) a channel whose other end lives in the process whose
    /// transport listens at `peer`, for channels not known at [`TcpTransport::bind`]
    /// (for instance when the peer's port was only known once it was bound).
    pub fn add_remote_channel(&self, id: ChannelId, peer: SocketAddr) {
        lock(&self.inner.routes).insert(id, peer);
    }

    /// The address this transport listens at.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.listen_addr
    }

    /// How many TCP connections this transport has established (dialed or
    /// accepted) since it started.
    pub fn connections_established(&self) -> usize {
        self.inner.connections.load(Ordering::Acquire)
    }

    /// Why the connection to the peer listening at `peer` failed or could not be
    /// established, if it did.
    pub fn peer_error(&self, peer: SocketAddr) -> Option<String> {
        lock(&self.inner.peer_errors).get(&peer).cloned()
    }

    /// While `true`, frames queue up instead of being written (test hook for
    /// [`OutputChannel::send_priority`]).
    #[doc(hidden)]
    pub fn hold_writes(&self, hold: bool) {
        self.inner.hold_writes.store(hold, Ordering::Release);
        for c in lock(&self.inner.conns).live.values() {
            let _q = lock(&c.out);
            c.out_cv.notify_all();
        }
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        self.inner.shutdown.store(true, Ordering::Release);
        let conns: Vec<_> = lock(&self.inner.conns).live.values().cloned().collect();
        for c in conns {
            self.inner.fail(&c, "the local transport shut down".into());
        }
        // Unblock the acceptor.
        if TcpStream::connect_timeout(&self.inner.listen_addr, CONNECT_TIMEOUT).is_ok()
            && let Some(h) = self.acceptor.take()
        {
            let _ = h.join();
        }
    }
}

impl Transport for TcpTransport {
    fn open_output(
        &self,
        id: ChannelId,
        producer: Arc<TaskSignal>,
    ) -> Result<Box<dyn OutputChannel>, NetworkError> {
        let Some(peer) = lock(&self.inner.routes).get(&id).copied() else {
            return self.inner.local.open_output(id, producer);
        };
        let conn = self
            .inner
            .connect(peer)
            .map_err(|e| link_error(id, peer, &e))?;
        let chan = self.inner.output_chan(id, &conn);
        chan.producer
            .set(producer)
            .map_err(|_| NetworkError::AlreadyOpen(id))?;
        Ok(Box::new(TcpOutput { chan }))
    }

    fn open_input(
        &self,
        id: ChannelId,
        consumer: Arc<TaskSignal>,
    ) -> Result<Box<dyn InputChannel>, NetworkError> {
        let Some(peer) = lock(&self.inner.routes).get(&id).copied() else {
            return self.inner.local.open_input(id, consumer);
        };
        let conn = self
            .inner
            .connect(peer)
            .map_err(|e| link_error(id, peer, &e))?;
        let chan = self.inner.input_chan(id, &conn);
        chan.consumer
            .set(consumer)
            .map_err(|_| NetworkError::AlreadyOpen(id))?;
        conn.grant(id, self.inner.capacity as u32);
        Ok(Box::new(TcpInput { chan }))
    }

    fn buffer_usage(&self) -> Vec<ChannelUsage> {
        let capacity = self.inner.capacity;
        let mut usage = self.inner.local.buffer_usage();
        for chan in lock(&self.inner.inputs).values() {
            usage.push(ChannelUsage {
                id: chan.id,
                input: Some((chan.queued.load(Ordering::Relaxed), chan.capacity)),
                output: None,
            });
        }
        for chan in lock(&self.inner.outputs).values() {
            let credits = lock(&chan.state).credits;
            usage.push(ChannelUsage {
                id: chan.id,
                input: None,
                output: Some((capacity.saturating_sub(credits), capacity)),
            });
        }
        usage
    }
}

/// The error a channel reports when its connection failed. The detailed reason,
/// naming the peer, is kept by the transport ([`TcpTransport::peer_error`]).
fn link_error(id: ChannelId, peer: SocketAddr, reason: &str) -> NetworkError {
    NetworkError::Link {
        channel: id,
        peer: peer.to_string(),
        reason: reason.to_string(),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections leave their state consistent; poisoning is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    fn output_chan(&self, id: ChannelId, conn: &Arc<Conn>) -> Arc<OutChan> {
        lock(&self.outputs)
            .entry(id)
            .or_insert_with(|| {
                Arc::new(OutChan {
                    id,
                    conn: conn.clone(),
                    state: Mutex::new(OutState::default()),
                    producer: OnceLock::new(),
                })
            })
            .clone()
    }

    fn input_chan(&self, id: ChannelId, conn: &Arc<Conn>) -> Arc<InChan> {
        lock(&self.inputs)
            .entry(id)
            .or_insert_with(|| {
                Arc::new(InChan {
                    id,
                    capacity: self.capacity,
                    conn: conn.clone(),
                    state: Mutex::new(InState::default()),
                    queued: AtomicUsize::new(0),
                    backlog: AtomicUsize::new(0),
                    consumer: OnceLock::new(),
                })
            })
            .clone()
    }

    fn record_error(&self, peer: SocketAddr, reason: &str) {
        lock(&self.peer_errors).insert(peer, reason.to_string());
    }

    /// The live connection to `peer`, dialing it if there is none.
    fn connect(self: &Arc<Self>, peer: SocketAddr) -> Result<Arc<Conn>, String> {
        let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
        let mut conns = lock(&self.conns);
        loop {
            if let Some(c) = conns.live.get(&peer) {
                return Ok(c.clone());
            }
            if self.shutdown.load(Ordering::Acquire) {
                return Err("the local transport shut down".into());
            }
            if !conns.dialing.contains(&peer) {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("timed out connecting to {peer}"));
            }
            conns = self
                .conns_changed
                .wait_timeout(conns, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        conns.dialing.insert(peer);
        drop(conns);
        let result = self.dial(peer);
        let mut conns = lock(&self.conns);
        conns.dialing.remove(&peer);
        self.conns_changed.notify_all();
        match result {
            Ok(stream) => match conns.live.get(&peer) {
                // Cannot happen with the tie-break, but never keep two.
                Some(c) => {
                    let _ = stream.shutdown(Shutdown::Both);
                    Ok(c.clone())
                }
                None => Ok(self.register(&mut conns, peer, stream)),
            },
            Err(e) if e == DUPLICATE => {
                // The peer's own dial to us won: wait for it to be registered.
                loop {
                    if let Some(c) = conns.live.get(&peer) {
                        return Ok(c.clone());
                    }
                    let now = Instant::now();
                    if now >= deadline {
                        let e = format!("timed out waiting for the connection from {peer}");
                        self.record_error(peer, &e);
                        return Err(e);
                    }
                    conns = self
                        .conns_changed
                        .wait_timeout(conns, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
            Err(e) => {
                self.record_error(peer, &e);
                Err(e)
            }
        }
    }

    fn dial(&self, peer: SocketAddr) -> Result<TcpStream, String> {
        let fail = |what: &str, e: io::Error| format!("{what} peer {peer}: {e}");
        let mut s = TcpStream::connect_timeout(&peer, CONNECT_TIMEOUT)
            .map_err(|e| fail("cannot connect to", e))?;
        let _ = s.set_nodelay(true);
        s.set_read_timeout(Some(HANDSHAKE_TIMEOUT))
            .map_err(|e| fail("cannot configure connection to", e))?;
        let mut hello = Vec::new();
        hello.extend_from_slice(&MAGIC.to_be_bytes());
        hello.extend_from_slice(&self.version.to_be_bytes());
        hello.extend_from_slice(self.listen_addr.to_string().as_bytes());
        write_frame(&mut s, K_HELLO, ZERO_ID, &[&hello])
            .and_then(|()| s.flush())
            .map_err(|e| fail("handshake with", e))?;
        let (kind, _, payload) = read_frame(&mut s, None).map_err(|e| fail("handshake with", e))?;
        match kind {
            K_HELLO_ACK if payload.len() >= 6 && payload[..4] == MAGIC.to_be_bytes() => {
                let v = u16::from_be_bytes([payload[4], payload[5]]);
                if v != self.version {
                    return Err(format!(
                        "peer {peer} speaks protocol version {v}, this TaskManager speaks {}",
                        self.version
                    ));
                }
            }
            K_REJECT => {
                let reason = String::from_utf8_lossy(&payload).into_owned();
                if reason == DUPLICATE {
                    return Err(DUPLICATE.into());
                }
                return Err(format!("peer {peer} rejected the connection: {reason}"));
            }
            _ => {
                return Err(format!(
                    "peer {peer} is not a Runnel TaskManager (bad handshake reply)"
                ));
            }
        }
        s.set_read_timeout(None)
            .map_err(|e| fail("cannot configure connection to", e))?;
        Ok(s)
    }

    /// Answers a dial from a peer and, if accepted, registers the connection.
    fn handshake_incoming(self: &Arc<Self>, mut s: TcpStream) -> Result<(), String> {
        let from = s
            .peer_addr()
            .map_or_else(|_| "?".to_string(), |a| a.to_string());
        s.set_read_timeout(Some(HANDSHAKE_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let (kind, _, payload) = read_frame(&mut s, None)
            .map_err(|e| format!("handshake with connection from {from}: {e}"))?;
        let reject = |s: &mut TcpStream, reason: String| {
            let _ = write_frame(s, K_REJECT, ZERO_ID, &[reason.as_bytes()]);
            let _ = s.flush();
            reason
        };
        if kind != K_HELLO || payload.len() < 6 || payload[..4] != MAGIC.to_be_bytes() {
            return Err(reject(
                &mut s,
                format!("connection from {from} is not a Runnel TaskManager (bad handshake)"),
            ));
        }
        let v = u16::from_be_bytes([payload[4], payload[5]]);
        if v != self.version {
            return Err(reject(
                &mut s,
                format!(
                    "protocol version mismatch: peer {from} speaks version {v}, \
                     this TaskManager speaks {}",
                    self.version
                ),
            ));
        }
        let Some(peer) = std::str::from_utf8(&payload[6..])
            .ok()
            .and_then(|a| a.parse::<SocketAddr>().ok())
        else {
            return Err(reject(
                &mut s,
                format!("connection from {from} sent no valid listen address"),
            ));
        };
        // Decided and registered under one lock, so a concurrent dial sees it.
        let mut conns = lock(&self.conns);
        let duplicate = conns.live.contains_key(&peer)
            || (conns.dialing.contains(&peer) && self.listen_addr < peer)
            || self.shutdown.load(Ordering::Acquire);
        if duplicate {
            drop(conns);
            reject(&mut s, DUPLICATE.into());
            return Ok(());
        }
        let mut ack = Vec::new();
        ack.extend_from_slice(&MAGIC.to_be_bytes());
        ack.extend_from_slice(&self.version.to_be_bytes());
        write_frame(&mut s, K_HELLO_ACK, ZERO_ID, &[&ack])
            .and_then(|()| s.flush())
            .and_then(|()| s.set_read_timeout(None))
            .map_err(|e| format!("handshake with peer {peer}: {e}"))?;
        self.register(&mut conns, peer, s);
        Ok(())
    }

    fn register(
        self: &Arc<Self>,
        conns: &mut Conns,
        peer: SocketAddr,
        stream: TcpStream,
    ) -> Arc<Conn> {
        let conn = Arc::new(Conn {
            peer,
            stream,
            out: Mutex::new(OutQueue::default()),
            out_cv: Condvar::new(),
            failed: OnceLock::new(),
        });
        conns.live.insert(peer, conn.clone());
        self.connections.fetch_add(1, Ordering::AcqRel);
        self.conns_changed.notify_all();
        let spawn = |name: String, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new().name(name).spawn(f).is_ok()
        };
        let (i, c) = (self.clone(), conn.clone());
        let w = spawn(
            format!("runnel-tcp-write-{peer}"),
            Box::new(move || i.write_loop(&c)),
        );
        let (i, c) = (self.clone(), conn.clone());
        let r = spawn(
            format!("runnel-tcp-read-{peer}"),
            Box::new(move || i.read_loop(&c)),
        );
        if !(w && r) {
            conn.fail_only("cannot start connection threads".into());
        }
        conn
    }

    /// Fails `conn` and every channel it carries, waking their tasks.
    fn fail(&self, conn: &Arc<Conn>, reason: String) {
        if conn.failed.get().is_some() {
            return;
        }
        // Recorded before the failure is published: whoever sees the channel
        // fail finds the reason in `peer_error`.
        if !self.shutdown.load(Ordering::Acquire) {
            self.record_error(conn.peer, &reason);
        }
        if !conn.fail_only(reason) {
            return;
        }
        {
            let mut conns = lock(&self.conns);
            if conns
                .live
                .get(&conn.peer)
                .is_some_and(|c| Arc::ptr_eq(c, conn))
            {
                conns.live.remove(&conn.peer);
            }
        }
        for o in lock(&self.outputs).values() {
            if Arc::ptr_eq(&o.conn, conn)
                && let Some(p) = o.producer.get()
            {
                p.wake();
            }
        }
        for i in lock(&self.inputs).values() {
            if Arc::ptr_eq(&i.conn, conn)
                && let Some(c) = i.consumer.get()
            {
                c.wake();
            }
        }
    }

    fn write_loop(&self, conn: &Arc<Conn>) {
        let Ok(s) = conn.stream.try_clone() else {
            self.fail(conn, format!("cannot write to peer {}", conn.peer));
            return;
        };
        let mut w = BufWriter::with_capacity(64 << 10, s);
        let result = (|| -> io::Result<()> {
            loop {
                let (credits, frame) = {
                    let mut q = lock(&conn.out);
                    loop {
                        if q.closed {
                            return Ok(());
                        }
                        let held = self.hold_writes.load(Ordering::Acquire);
                        if !held && (!q.credits.is_empty() || !q.frames.is_empty()) {
                            break;
                        }
                        if !held && w.buffer().is_empty() {
                            q = conn.out_cv.wait(q).unwrap_or_else(|e| e.into_inner());
                        } else if held {
                            q = conn
                                .out_cv
                                .wait_timeout(q, Duration::from_millis(100))
                                .unwrap_or_else(|e| e.into_inner())
                                .0;
                        } else {
                            // Queue drained: flush before waiting.
                            drop(q);
                            w.flush()?;
                            q = lock(&conn.out);
                        }
                    }
                    (std::mem::take(&mut q.credits), q.frames.pop_front())
                };
                for (id, n) in credits {
                    write_frame(&mut w, K_CREDIT, id, &[&n.to_be_bytes()])?;
                }
                match frame {
                    Some(Frame::Buffer {
                        id,
                        backlog,
                        data,
                        from,
                    }) => {
                        write_frame(&mut w, K_BUFFER, id, &[&backlog.to_be_bytes(), &data])?;
                        from.recycle(data);
                    }
                    Some(Frame::Event { id, kind, payload }) => {
                        write_frame(&mut w, kind, id, &[&payload])?;
                    }
                    None => {}
                }
            }
        })();
        if let Err(e) = result {
            self.fail(
                conn,
                format!("connection to peer {} failed while writing: {e}", conn.peer),
            );
        }
    }

    fn read_loop(&self, conn: &Arc<Conn>) {
        let Ok(s) = conn.stream.try_clone() else {
            self.fail(conn, format!("cannot read from peer {}", conn.peer));
            return;
        };
        let mut r = BufReader::with_capacity(64 << 10, s);
        let result = (|| -> Result<(), String> {
            loop {
                let (kind, id, payload) =
                    read_frame(&mut r, Some((self, conn))).map_err(|e| match e.kind() {
                        io::ErrorKind::UnexpectedEof => {
                            format!("peer {} closed the connection", conn.peer)
                        }
                        _ => format!("connection to peer {} failed: {e}", conn.peer),
                    })?;
                match kind {
                    K_BUFFER | K_BARRIER | K_END_OF_PARTITION => {
                        let msg = match kind {
                            K_BUFFER => ChannelMessage::Buffer(payload),
                            K_BARRIER => ChannelMessage::Barrier(
                                decode_barrier(&payload).ok_or_else(|| {
                                    format!(
                                        "peer {} sent a malformed barrier on channel {id}",
                                        conn.peer
                                    )
                                })?,
                            ),
                            _ => ChannelMessage::EndOfPartition,
                        };
                        let chan = self.input_chan(id, conn);
                        chan.push(msg);
                    }
                    K_CREDIT if payload.len() == 4 => {
                        let n = u32::from_be_bytes(payload[..4].try_into().expect("4 bytes"));
                        self.output_chan(id, conn).add_credits(n as usize);
                    }
                    K_CLOSED => self.output_chan(id, conn).close_receiver(),
                    _ => {
                        return Err(format!(
                            "peer {} sent an unexpected frame (kind {kind}) on channel {id}",
                            conn.peer
                        ));
                    }
                }
            }
        })();
        if let Err(e) = result {
            self.fail(conn, e);
        }
    }
}

fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    for stream in listener.incoming() {
        if inner.shutdown.load(Ordering::Acquire) {
            return;
        }
        let Ok(s) = stream else { continue };
        let _ = s.set_nodelay(true);
        let inner = inner.clone();
        let _ = std::thread::Builder::new()
            .name("runnel-tcp-handshake".into())
            .spawn(move || {
                let from = s.peer_addr();
                if let (Err(e), Ok(a)) = (inner.handshake_incoming(s), from) {
                    inner.record_error(a, &e);
                }
            });
    }
}

const ZERO_ID: ChannelId = ChannelId {
    job_edge: 0,
    producer: 0,
    consumer: 0,
};

fn write_frame(w: &mut impl Write, kind: u8, id: ChannelId, parts: &[&[u8]]) -> io::Result<()> {
    let len = HEADER + parts.iter().map(|p| p.len()).sum::<usize>();
    let len = u32::try_from(len)
        .ok()
        .filter(|&l| l as usize <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    let mut head = [0u8; 4 + HEADER];
    head[..4].copy_from_slice(&len.to_be_bytes());
    head[4] = kind;
    head[5..9].copy_from_slice(&id.job_edge.to_be_bytes());
    head[9..13].copy_from_slice(&id.producer.to_be_bytes());
    head[13..17].copy_from_slice(&id.consumer.to_be_bytes());
    w.write_all(&head)?;
    for p in parts {
        w.write_all(p)?;
    }
    Ok(())
}

/// Reads one frame. With `recycle`, buffer payloads are read into buffers the
/// consumer recycled, and the backlog field is stripped.
fn read_frame(
    r: &mut impl Read,
    recycle: Option<(&Inner, &Arc<Conn>)>,
) -> io::Result<(u8, ChannelId, Vec<u8>)> {
    let mut head = [0u8; 4 + HEADER];
    r.read_exact(&mut head)?;
    let len = u32::from_be_bytes(head[..4].try_into().expect("4 bytes")) as usize;
    if !(HEADER..=MAX_FRAME).contains(&len) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad frame length {len}"),
        ));
    }
    let kind = head[4];
    let u = |i: usize| u32::from_be_bytes(head[i..i + 4].try_into().expect("4 bytes"));
    let id = ChannelId {
        job_edge: u(5),
        producer: u(9),
        consumer: u(13),
    };
    let mut n = len - HEADER;
    if let (K_BUFFER, Some((inner, conn))) = (kind, recycle) {
        if n < 4 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "short buffer"));
        }
        let mut backlog = [0u8; 4];
        r.read_exact(&mut backlog)?;
        n -= 4;
        let chan = inner.input_chan(id, conn);
        chan.backlog
            .store(u32::from_be_bytes(backlog) as usize, Ordering::Relaxed);
        let mut buf = chan.take_free(n);
        buf.resize(n, 0);
        r.read_exact(&mut buf)?;
        return Ok((kind, id, buf));
    }
    let mut payload = vec![0u8; n];
    r.read_exact(&mut payload)?;
    Ok((kind, id, payload))
}

fn encode_barrier(b: &CheckpointBarrier) -> Vec<u8> {
    let mut v = Vec::with_capacity(27);
    v.extend_from_slice(&b.id.0.to_be_bytes());
    v.extend_from_slice(&b.timestamp.to_be_bytes());
    v.push(match b.kind {
        SnapshotKind::Checkpoint => 0,
        SnapshotKind::Savepoint => 1,
        SnapshotKind::SavepointTerminate => 2,
    });
    v.push(match b.alignment {
        BarrierAlignment::Aligned => 0,
        BarrierAlignment::AtLeastOnce => 1,
        BarrierAlignment::Unaligned => 2,
    });
    match b.aligned_timeout_ms {
        Some(t) => {
            v.push(1);
            v.extend_from_slice(&t.to_be_bytes());
        }
        None => v.push(0),
    }
    v
}

fn decode_barrier(p: &[u8]) -> Option<CheckpointBarrier> {
    let u64_at = |i: usize| Some(u64::from_be_bytes(p.get(i..i + 8)?.try_into().ok()?));
    let kind = match p.get(16)? {
        0 => SnapshotKind::Checkpoint,
        1 => SnapshotKind::Savepoint,
        2 => SnapshotKind::SavepointTerminate,
        _ => return None,
    };
    let alignment = match p.get(17)? {
        0 => BarrierAlignment::Aligned,
        1 => BarrierAlignment::AtLeastOnce,
        2 => BarrierAlignment::Unaligned,
        _ => return None,
    };
    let aligned_timeout_ms = match p.get(18)? {
        0 => None,
        1 => Some(u64_at(19)?),
        _ => return None,
    };
    Some(CheckpointBarrier {
        id: CheckpointId(u64_at(0)?),
        timestamp: u64_at(8)? as i64,
        kind,
        alignment,
        aligned_timeout_ms,
    })
}

/// One TCP connection to a peer process, shared by all channels to it.
struct Conn {
    /// The peer's listen address.
    peer: SocketAddr,
    stream: TcpStream,
    out: Mutex<OutQueue>,
    out_cv: Condvar,
    failed: OnceLock<String>,
}

#[derive(Default)]
struct OutQueue {
    frames: VecDeque<Frame>,
    /// Credits to announce, coalesced per channel.
    credits: BTreeMap<ChannelId, u32>,
    closed: bool,
}

enum Frame {
    Buffer {
        id: ChannelId,
        backlog: u32,
        data: Vec<u8>,
        from: Arc<OutChan>,
    },
    Event {
        id: ChannelId,
        kind: u8,
        payload: Vec<u8>,
    },
}

impl Frame {
    fn channel(&self) -> ChannelId {
        match self {
            Frame::Buffer { id, .. } | Frame::Event { id, .. } => *id,
        }
    }
}

impl Conn {
    /// Marks the connection failed; `false` if it already was.
    fn fail_only(&self, reason: String) -> bool {
        if self.failed.set(reason).is_err() {
            return false;
        }
        {
            let mut q = lock(&self.out);
            q.closed = true;
            // Nothing queued will be written; dropping it also breaks the
            // frame -> channel -> connection reference cycle.
            q.frames.clear();
        }
        self.out_cv.notify_all();
        let _ = self.stream.shutdown(Shutdown::Both);
        true
    }

    fn failure(&self) -> Option<&str> {
        self.failed.get().map(String::as_str)
    }

    fn push(&self, frame: Frame) {
        lock(&self.out).frames.push_back(frame);
        self.out_cv.notify_one();
    }

    fn grant(&self, id: ChannelId, n: u32) {
        *lock(&self.out).credits.entry(id).or_default() += n;
        self.out_cv.notify_one();
    }
}

struct OutChan {
    id: ChannelId,
    conn: Arc<Conn>,
    state: Mutex<OutState>,
    producer: OnceLock<Arc<TaskSignal>>,
}

#[derive(Default)]
struct OutState {
    credits: usize,
    free: Vec<Vec<u8>>,
    receiver_closed: bool,
}

impl OutChan {
    fn add_credits(&self, n: usize) {
        lock(&self.state).credits += n;
        if let Some(p) = self.producer.get() {
            p.wake();
        }
    }

    fn close_receiver(&self) {
        lock(&self.state).receiver_closed = true;
        if let Some(p) = self.producer.get() {
            p.wake();
        }
    }

    fn recycle(&self, buffer: Vec<u8>) {
        let mut st = lock(&self.state);
        if st.free.len() < 4 {
            st.free.push(buffer);
        }
    }

    fn check(&self, st: &OutState) -> Result<(), NetworkError> {
        if st.receiver_closed {
            return Err(NetworkError::ReceiverClosed(self.id));
        }
        if let Some(e) = self.conn.failure() {
            return Err(link_error(self.id, self.conn.peer, e));
        }
        Ok(())
    }
}

struct TcpOutput {
    chan: Arc<OutChan>,
}

impl OutputChannel for TcpOutput {
    fn take_buffer(&mut self, capacity: usize) -> Vec<u8> {
        match lock(&self.chan.state).free.pop() {
            Some(mut b) => {
                b.clear();
                b.reserve(capacity);
                b
            }
            None => Vec::with_capacity(capacity),
        }
    }

    fn is_available(&self) -> bool {
        let st = lock(&self.chan.state);
        st.credits > 0 || st.receiver_closed || self.chan.conn.failure().is_some()
    }

    fn send(&mut self, message: ChannelMessage) -> Result<(), NetworkError> {
        let ch = &self.chan;
        let producer = ch.producer.get().expect("an opened output has a producer");
        let (kind, payload) = match message {
            ChannelMessage::Buffer(data) => loop {
                {
                    let mut st = lock(&ch.state);
                    ch.check(&st)?;
                    if st.credits > 0 {
                        st.credits -= 1;
                        let backlog = u32::from(st.credits == 0);
                        drop(st);
                        ch.conn.push(Frame::Buffer {
                            id: ch.id,
                            backlog,
                            data,
                            from: ch.clone(),
                        });
                        return Ok(());
                    }
                }
                if producer.is_cancelled() {
                    return Err(NetworkError::Cancelled(ch.id));
                }
                producer.park_backpressured_until(None);
            },
            ChannelMessage::Barrier(b) => (K_BARRIER, encode_barrier(&b)),
            ChannelMessage::EndOfPartition => (K_END_OF_PARTITION, Vec::new()),
        };
        ch.check(&lock(&ch.state))?;
        ch.conn.push(Frame::Event {
            id: ch.id,
            kind,
            payload,
        });
        Ok(())
    }

    fn send_priority(&mut self, message: ChannelMessage) -> Result<Vec<Vec<u8>>, NetworkError> {
        let ch = &self.chan;
        ch.check(&lock(&ch.state))?;
        let frame = match message {
            ChannelMessage::Buffer(data) => Frame::Buffer {
                id: ch.id,
                backlog: 0,
                data,
                from: ch.clone(),
            },
            ChannelMessage::Barrier(b) => Frame::Event {
                id: ch.id,
                kind: K_BARRIER,
                payload: encode_barrier(&b),
            },
            ChannelMessage::EndOfPartition => Frame::Event {
                id: ch.id,
                kind: K_END_OF_PARTITION,
                payload: Vec::new(),
            },
        };
        let mut q = lock(&ch.conn.out);
        let first = q.frames.iter().position(|f| f.channel() == ch.id);
        let overtaken = q
            .frames
            .iter()
            .filter_map(|f| match f {
                Frame::Buffer { id, data, .. } if *id == ch.id => Some(data.clone()),
                _ => None,
            })
            .collect();
        match first {
            Some(i) => q.frames.insert(i, frame),
            None => q.frames.push_back(frame),
        }
        drop(q);
        ch.conn.out_cv.notify_one();
        Ok(overtaken)
    }
}

struct InChan {
    id: ChannelId,
    capacity: usize,
    conn: Arc<Conn>,
    state: Mutex<InState>,
    /// Messages queued; lets the consumer poll empty channels without locking.
    queued: AtomicUsize,
    /// The sender's last announced backlog (informational).
    backlog: AtomicUsize,
    consumer: OnceLock<Arc<TaskSignal>>,
}

#[derive(Default)]
struct InState {
    queue: VecDeque<ChannelMessage>,
    free: Vec<Vec<u8>>,
    /// End of partition was delivered to the consumer: nothing more can fail.
    finished: bool,
}

impl InChan {
    fn push(&self, msg: ChannelMessage) {
        let mut st = lock(&self.state);
        st.queue.push_back(msg);
        self.queued.store(st.queue.len(), Ordering::Release);
        drop(st);
        if let Some(c) = self.consumer.get() {
            c.wake();
        }
    }

    fn take_free(&self, n: usize) -> Vec<u8> {
        match lock(&self.state).free.pop() {
            Some(mut b) => {
                b.clear();
                b.reserve(n);
                b
            }
            None => Vec::with_capacity(n),
        }
    }
}

struct TcpInput {
    chan: Arc<InChan>,
}

impl InputChannel for TcpInput {
    fn try_recv(&mut self) -> Result<Option<ChannelMessage>, NetworkError> {
        let ch = &*self.chan;
        if ch.queued.load(Ordering::Acquire) == 0 {
            if let Some(e) = ch.conn.failure()
                && !lock(&ch.state).finished
                && ch.queued.load(Ordering::Acquire) == 0
            {
                return Err(link_error(ch.id, ch.conn.peer, e));
            }
            return Ok(None);
        }
        let mut st = lock(&ch.state);
        let msg = st.queue.pop_front();
        ch.queued.store(st.queue.len(), Ordering::Release);
        if matches!(msg, Some(ChannelMessage::EndOfPartition)) {
            st.finished = true;
        }
        drop(st);
        if matches!(msg, Some(ChannelMessage::Buffer(_))) {
            ch.conn.grant(ch.id, 1);
        }
        Ok(msg)
    }

    fn recycle(&mut self, buffer: Vec<u8>) {
        let mut st = lock(&self.chan.state);
        if st.free.len() < self.chan.capacity + 1 {
            st.free.push(buffer);
        }
    }
}

impl Drop for TcpInput {
    fn drop(&mut self) {
        if !lock(&self.chan.state).finished {
            self.chan.conn.push(Frame::Event {
                id: self.chan.id,
                kind: K_CLOSED,
                payload: Vec::new(),
            });
        }
    }
}
