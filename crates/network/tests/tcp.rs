//! The TCP transport between two transports ("TaskManagers") of one test process.

use runnel_network::{
    ChannelId, ChannelLocation, ChannelMessage, InputChannel, NetworkError, TaskSignal,
    TcpTransport, Transport,
};
use runnel_types::{CheckpointBarrier, CheckpointId};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(10);

fn ch(edge: u32, producer: u32, consumer: u32) -> ChannelId {
    ChannelId {
        job_edge: edge,
        producer,
        consumer,
    }
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Two transports; `a_to_b` channels are produced in A and consumed in B,
/// `b_to_a` the other way round.
fn pair(
    capacity: usize,
    a_to_b: &[ChannelId],
    b_to_a: &[ChannelId],
) -> (TcpTransport, TcpTransport) {
    let a = TcpTransport::bind(loopback(), capacity, []).unwrap();
    let b = TcpTransport::bind(loopback(), capacity, []).unwrap();
    for &id in a_to_b.iter().chain(b_to_a) {
        a.add_remote_channel(id, b.local_addr());
        b.add_remote_channel(id, a.local_addr());
    }
    (a, b)
}

fn signal() -> Arc<TaskSignal> {
    let s = Arc::new(TaskSignal::new());
    s.bind_current_thread();
    s
}

/// The next message on `input`, parking on `signal` (bound to this thread).
fn recv(input: &mut dyn InputChannel, signal: &TaskSignal) -> ChannelMessage {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(m) = input.try_recv().unwrap() {
            return m;
        }
        assert!(Instant::now() < deadline, "no message within {TIMEOUT:?}");
        signal.park_until(Some(deadline));
    }
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

fn barrier(id: u64) -> CheckpointBarrier {
    CheckpointBarrier::aligned(CheckpointId(id), 1_700_000_000_000 + id as i64)
}

#[test]
fn many_channels_share_one_connection_and_stay_in_order() {
    const N: u32 = 8;
    const BUFFERS: u32 = 200;
    let forward: Vec<_> = (0..N).map(|i| ch(0, i, i)).collect();
    let backward = [ch(1, 0, 0)];
    let (a, b) = pair(4, &forward, &backward);
    let (a, b) = (Arc::new(a), Arc::new(b));

    // Producers in A (one thread each) and one in B, all opening concurrently.
    let mut producers = Vec::new();
    for &id in &forward {
        let a = a.clone();
        producers.push(thread::spawn(move || {
            let mut out = a.open_output(id, signal()).unwrap();
            for n in 0..BUFFERS {
                let mut buf = out.take_buffer(8);
                buf.extend_from_slice(&id.producer.to_be_bytes());
                buf.extend_from_slice(&n.to_be_bytes());
                out.send(ChannelMessage::Buffer(buf)).unwrap();
                if n == BUFFERS / 2 {
                    out.send(ChannelMessage::Barrier(barrier(7))).unwrap();
                }
            }
            out.send(ChannelMessage::EndOfPartition).unwrap();
        }));
    }
    let b2 = b.clone();
    producers.push(thread::spawn(move || {
        let mut out = b2.open_output(backward[0], signal()).unwrap();
        out.send(ChannelMessage::Buffer(vec![42])).unwrap();
        out.send(ChannelMessage::EndOfPartition).unwrap();
    }));

    let a2 = a.clone();
    let backward_consumer = thread::spawn(move || {
        let s = signal();
        let mut inp = a2.open_input(backward[0], s.clone()).unwrap();
        assert_eq!(recv(&mut *inp, &s), ChannelMessage::Buffer(vec![42]));
        assert_eq!(recv(&mut *inp, &s), ChannelMessage::EndOfPartition);
    });

    // One consumer task in B reads all forward channels, round robin.
    let s = signal();
    let mut inputs: Vec<_> = forward
        .iter()
        .map(|&id| b.open_input(id, s.clone()).unwrap())
        .collect();
    let mut next = vec![0u32; N as usize];
    let mut barrier_seen = vec![false; N as usize];
    let mut done = vec![false; N as usize];
    let deadline = Instant::now() + TIMEOUT;
    while done.iter().any(|d| !d) {
        let mut progress = false;
        for (i, inp) in inputs.iter_mut().enumerate() {
            while let Some(m) = inp.try_recv().unwrap() {
                progress = true;
                match m {
                    ChannelMessage::Buffer(buf) => {
                        assert!(!done[i]);
                        assert_eq!(buf[..4], (i as u32).to_be_bytes());
                        assert_eq!(buf[4..], next[i].to_be_bytes(), "channel {i} out of order");
                        assert_eq!(barrier_seen[i], next[i] > BUFFERS / 2);
                        next[i] += 1;
                        inp.recycle(buf);
                    }
                    ChannelMessage::Barrier(bar) => {
                        assert_eq!(bar, barrier(7));
                        assert_eq!(next[i], BUFFERS / 2 + 1);
                        barrier_seen[i] = true;
                    }
                    ChannelMessage::EndOfPartition => {
                        assert_eq!(next[i], BUFFERS);
                        done[i] = true;
                    }
                }
            }
        }
        if !progress {
            assert!(Instant::now() < deadline, "timed out; got {next:?}");
            s.park_until(Some(deadline));
        }
    }
    for p in producers {
        p.join().unwrap();
    }
    backward_consumer.join().unwrap();
    assert_eq!(
        a.connections_established(),
        1,
        "one connection per peer pair"
    );
    assert_eq!(
        b.connections_established(),
        1,
        "one connection per peer pair"
    );
}

#[test]
fn a_consumer_that_does_not_read_blocks_the_producer_after_capacity_buffers() {
    const CAPACITY: usize = 3;
    let id = ch(0, 0, 0);
    let (a, b) = pair(CAPACITY, &[id], &[]);
    let s = signal();
    let mut inp = b.open_input(id, s.clone()).unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let sent2 = sent.clone();
    let a = Arc::new(a);
    let a2 = a.clone();
    let producer = thread::spawn(move || {
        let mut out = a2.open_output(id, signal()).unwrap();
        for i in 0..20u8 {
            out.send(ChannelMessage::Buffer(vec![i])).unwrap();
            sent2.fetch_add(1, Ordering::SeqCst);
        }
        out.send(ChannelMessage::EndOfPartition).unwrap();
    });
    wait_for("the credited buffers", || {
        sent.load(Ordering::SeqCst) >= CAPACITY
    });
    // No credit is left: the producer stays blocked while nobody reads.
    thread::sleep(Duration::from_millis(200));
    assert_eq!(sent.load(Ordering::SeqCst), CAPACITY);
    assert!(!producer.is_finished());

    let mut got = Vec::new();
    loop {
        match recv(&mut *inp, &s) {
            ChannelMessage::Buffer(b) => got.push(b[0]),
            ChannelMessage::EndOfPartition => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    producer.join().unwrap();
    assert_eq!(got, (0..20).collect::<Vec<u8>>());
}

#[test]
fn cancellation_unblocks_a_producer_waiting_for_credit() {
    let id = ch(0, 0, 0);
    let (a, b) = pair(1, &[id], &[]);
    let _inp = b.open_input(id, Arc::new(TaskSignal::new())).unwrap();
    let ps = Arc::new(TaskSignal::new());
    let ps2 = ps.clone();
    let a = Arc::new(a);
    let a2 = a.clone();
    let blocked = Arc::new(AtomicUsize::new(0));
    let blocked2 = blocked.clone();
    let producer = thread::spawn(move || {
        ps2.bind_current_thread();
        let mut out = a2.open_output(id, ps2).unwrap();
        out.send(ChannelMessage::Buffer(vec![1])).unwrap();
        blocked2.store(1, Ordering::SeqCst);
        out.send(ChannelMessage::Buffer(vec![2]))
    });
    wait_for("the first send", || blocked.load(Ordering::SeqCst) == 1);
    ps.cancel();
    assert!(matches!(
        producer.join().unwrap(),
        Err(NetworkError::Cancelled(_))
    ));
}

#[test]
fn barriers_and_end_of_partition_arrive_in_order_with_the_data() {
    let id = ch(3, 1, 2);
    let (a, b) = pair(2, &[id], &[]);
    let s = signal();
    let mut inp = b.open_input(id, s.clone()).unwrap();
    let mut out = a.open_output(id, signal()).unwrap();
    let unaligned = CheckpointBarrier {
        alignment: runnel_types::BarrierAlignment::Unaligned,
        aligned_timeout_ms: Some(250),
        ..barrier(2)
    };
    // Events need no credit: more events than the capacity go through at once.
    out.send(ChannelMessage::Buffer(vec![1])).unwrap();
    out.send(ChannelMessage::Barrier(barrier(1))).unwrap();
    out.send(ChannelMessage::Barrier(barrier(3))).unwrap();
    out.send(ChannelMessage::Buffer(vec![2])).unwrap();
    out.send(ChannelMessage::Barrier(unaligned)).unwrap();
    out.send(ChannelMessage::EndOfPartition).unwrap();
    let want = [
        ChannelMessage::Buffer(vec![1]),
        ChannelMessage::Barrier(barrier(1)),
        ChannelMessage::Barrier(barrier(3)),
        ChannelMessage::Buffer(vec![2]),
        ChannelMessage::Barrier(unaligned),
        ChannelMessage::EndOfPartition,
    ];
    for w in want {
        assert_eq!(recv(&mut *inp, &s), w);
    }
    // A finished channel is not failed by its peer going away.
    drop(out);
    drop(a);
    thread::sleep(Duration::from_millis(50));
    assert_eq!(inp.try_recv().unwrap(), None);
}

#[test]
fn a_priority_barrier_overtakes_buffers_queued_on_the_sender() {
    let id = ch(0, 0, 0);
    let (a, b) = pair(4, &[id], &[]);
    let s = signal();
    let mut inp = b.open_input(id, s.clone()).unwrap();
    let mut out = a.open_output(id, signal()).unwrap();
    // Something written before the writes are held arrives first.
    out.send(ChannelMessage::Buffer(vec![0])).unwrap();
    assert_eq!(recv(&mut *inp, &s), ChannelMessage::Buffer(vec![0]));
    wait_for("the credits", || out.is_available());
    a.hold_writes(true);
    out.send(ChannelMessage::Buffer(vec![1])).unwrap();
    out.send(ChannelMessage::Buffer(vec![2])).unwrap();
    let overtaken = out
        .send_priority(ChannelMessage::Barrier(barrier(9)))
        .unwrap();
    assert_eq!(overtaken, [vec![1], vec![2]]);
    a.hold_writes(false);
    assert_eq!(recv(&mut *inp, &s), ChannelMessage::Barrier(barrier(9)));
    assert_eq!(recv(&mut *inp, &s), ChannelMessage::Buffer(vec![1]));
    assert_eq!(recv(&mut *inp, &s), ChannelMessage::Buffer(vec![2]));
}

#[test]
fn a_dropped_peer_fails_the_producer_with_a_clear_error() {
    let id = ch(0, 0, 0);
    let (a, b) = pair(2, &[id], &[]);
    let b_addr = b.local_addr();
    let inp = b.open_input(id, Arc::new(TaskSignal::new())).unwrap();
    let s = signal();
    let mut out = a.open_output(id, s.clone()).unwrap();
    out.send(ChannelMessage::Buffer(vec![1])).unwrap();
    drop(b); // the whole peer process goes away, its input still "open"
    let deadline = Instant::now() + TIMEOUT;
    let err = loop {
        match out.send(ChannelMessage::Buffer(vec![2])) {
            Err(e) => break e,
            Ok(()) => assert!(Instant::now() < deadline, "send never failed"),
        }
    };
    assert!(matches!(err, NetworkError::Link { .. }), "{err}");
    assert!(err.to_string().contains(&id.to_string()), "{err}");
    assert!(err.to_string().contains(&b_addr.to_string()), "{err}");
    let why = a.peer_error(b_addr).expect("the failure is recorded");
    assert!(why.contains(&b_addr.to_string()), "{why}");
    drop(inp);
}

#[test]
fn a_dropped_peer_fails_the_consumer_instead_of_hanging() {
    let id = ch(0, 0, 0);
    let (a, b) = pair(2, &[id], &[]);
    let a_addr = a.local_addr();
    let s = signal();
    let mut inp = b.open_input(id, s.clone()).unwrap();
    let mut out = a.open_output(id, signal()).unwrap();
    out.send(ChannelMessage::Buffer(vec![1])).unwrap();
    assert_eq!(recv(&mut *inp, &s), ChannelMessage::Buffer(vec![1]));
    drop(a);
    let deadline = Instant::now() + TIMEOUT;
    let err = loop {
        match inp.try_recv() {
            Err(e) => break e,
            Ok(None) => {
                assert!(Instant::now() < deadline, "try_recv never failed");
                s.park_until(Some(deadline));
            }
            Ok(Some(m)) => panic!("unexpected {m:?}"),
        }
    };
    assert!(err.to_string().contains(&id.to_string()), "{err}");
    assert!(err.to_string().contains(&a_addr.to_string()), "{err}");
    let why = b.peer_error(a_addr).expect("the failure is recorded");
    assert!(why.contains(&a_addr.to_string()), "{why}");
    drop(out);
}

#[test]
fn a_refused_connection_is_an_error() {
    let id = ch(0, 0, 0);
    // A port nobody listens on (bound, then released).
    let dead = TcpListener::bind(loopback()).unwrap().local_addr().unwrap();
    let a = TcpTransport::bind(loopback(), 2, []).unwrap();
    a.add_remote_channel(id, dead);
    assert!(a.open_output(id, Arc::new(TaskSignal::new())).is_err());
    let why = a.peer_error(dead).expect("the failure is recorded");
    assert!(why.contains(&dead.to_string()), "{why}");
}

#[test]
fn a_peer_speaking_another_protocol_version_is_rejected_clearly() {
    let id = ch(0, 0, 0);
    let a = TcpTransport::bind(loopback(), 2, []).unwrap();
    let b =
        TcpTransport::bind_with_version(loopback(), 2, [], runnel_network::PROTOCOL_VERSION + 1)
            .unwrap();
    a.add_remote_channel(id, b.local_addr());
    b.add_remote_channel(id, a.local_addr());
    assert!(a.open_output(id, Arc::new(TaskSignal::new())).is_err());
    let why = a
        .peer_error(b.local_addr())
        .expect("the failure is recorded");
    assert!(why.contains("version"), "{why}");
    assert!(why.contains(&b.local_addr().to_string()), "{why}");
    assert_eq!(a.connections_established(), 0);
    assert_eq!(b.connections_established(), 0);
}

#[test]
fn in_process_channels_still_work() {
    let id = ch(5, 0, 0);
    let t = TcpTransport::bind(loopback(), 2, [(id, ChannelLocation::Local)]).unwrap();
    let s = signal();
    let mut inp = t.open_input(id, s.clone()).unwrap();
    let mut out = t.open_output(id, signal()).unwrap();
    out.send(ChannelMessage::Buffer(vec![1])).unwrap();
    out.send(ChannelMessage::EndOfPartition).unwrap();
    assert_eq!(recv(&mut *inp, &s), ChannelMessage::Buffer(vec![1]));
    assert_eq!(recv(&mut *inp, &s), ChannelMessage::EndOfPartition);
    assert_eq!(t.connections_established(), 0);
    assert!(matches!(
        t.open_input(ch(9, 9, 9), Arc::new(TaskSignal::new())),
        Err(NetworkError::UnknownChannel(_))
    ));
}
