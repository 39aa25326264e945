//! Throws deterministic garbage at a live server: every connection gets either no
//! answer or a well-formed HTTP response, no server thread panics, and the server
//! still serves afterwards. (Its own test binary: it installs a panic hook.)

mod common;

use common::{PATIENCE, echo_router, serve};
use runnel_rest::{Method, client};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};

static SERVER_PANICS: AtomicUsize = AtomicUsize::new(0);

/// A small deterministic generator (64-bit LCG), so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SEEDS: [&str; 4] = [
    "GET /jobs/j1?mode=cancel HTTP/1.1\r\nHost: t\r\nAccept: */*\r\n\r\n",
    "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "PATCH /jobs/%41 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
];

fn garbage(rng: &mut Lcg) -> Vec<u8> {
    const SPECIAL: &[u8] = b"\r\n: %/?&=;\t\x00\xff0123456789abcdef-";
    if rng.below(4) == 0 {
        let len = rng.below(3000);
        return (0..len).map(|_| rng.next() as u8).collect();
    }
    let mut bytes = SEEDS[rng.below(SEEDS.len())].as_bytes().to_vec();
    for _ in 0..=rng.below(6) {
        let at = rng.below(bytes.len() + 1);
        let byte = SPECIAL[rng.below(SPECIAL.len())];
        match rng.below(3) {
            0 if at < bytes.len() => bytes[at] = byte,
            1 if at < bytes.len() => drop(bytes.remove(at)),
            _ => bytes.insert(at, byte),
        }
    }
    bytes
}

#[test]
fn garbage_never_breaks_the_server() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("rest-"))
        {
            SERVER_PANICS.fetch_add(1, Ordering::SeqCst);
        }
        default_hook(info);
    }));
    let server = serve(echo_router());
    let addr = server.local_addr();
    let mut rng = Lcg(0x5eed);
    for case in 0..400 {
        let input = garbage(&mut rng);
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        // Split the input at a random point to exercise partial reads.
        let split = rng.below(input.len() + 1);
        let _ = stream.write_all(&input[..split]);
        let _ = stream.flush();
        let _ = stream.write_all(&input[split..]);
        let _ = stream.shutdown(Shutdown::Write);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 "),
            "case {case}: {:?} -> {:?}",
            String::from_utf8_lossy(&input),
            String::from_utf8_lossy(&answer)
        );
    }
    let (status, _, _) = client::request(addr, Method::Get, "/echo", None, None).unwrap();
    assert_eq!(status, 200);
    assert_eq!(SERVER_PANICS.load(Ordering::SeqCst), 0);
}
