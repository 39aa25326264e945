//! A moto S3 server (`pip install 'moto[server]'`) on a free loopback port, for
//! the tests of the `s3` feature. Shared by the checkpoint crate's tests and
//! the workspace's end-to-end test (`#[path]`).
//!
//! Without `RUNNEL_S3_TESTS` set, a machine without moto skips these tests
//! (with a message); with `RUNNEL_S3_TESTS=1` a missing server fails them.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server, stopped on drop.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts moto, or returns `None` (after printing why) when it is not
    /// installed and the tests are not required.
    pub fn start(test: &str) -> Option<Moto> {
        let required = std::env::var_os("RUNNEL_S3_TESTS").is_some_and(|v| v != "0");
        let mut tried = Vec::new();
        for command in [&["moto_server"][..], &["python3", "-m", "moto.server"][..]] {
            match Moto::try_start(command) {
                Ok(moto) => return Some(moto),
                Err(why) => tried.push(format!("`{}`: {why}", command.join(" "))),
            }
        }
        let why = tried.join("; ");
        assert!(
            !required,
            "RUNNEL_S3_TESTS is set but no moto S3 server starts ({why}); \
             install it with `pip install 'moto[server]'`"
        );
        eprintln!(
            "skipping {test}: no moto S3 server ({why}); `pip install 'moto[server]'` \
             or set RUNNEL_S3_TESTS=1 to require it"
        );
        None
    }

    fn try_start(command: &[&str]) -> Result<Moto, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = Command::new(command[0])
            .args(&command[1..])
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!("exited with {status}"));
            }
            if moto
                .request("GET", "/", "")
                .is_ok_and(|r| r.starts_with("HTTP/1.1 200"))
            {
                return Ok(moto);
            }
            if Instant::now() > deadline {
                return Err("did not answer within 30 s".to_string());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket.
    pub fn create_bucket(&self, bucket: &str) {
        let response = self.request("PUT", &format!("/{bucket}"), "").unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }

    /// The keys in `bucket` starting with `prefix` (at most 1000).
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let response = self
            .request("GET", &format!("/{bucket}?list-type=2&prefix={prefix}"), "")
            .unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        response
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_string()))
            .collect()
    }

    /// One plain HTTP/1.1 request (moto does not check signatures); the whole
    /// response.
    pub fn request(&self, method: &str, target: &str, body: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
