//! `socket_text_stream`: lines (or other delimited records) read from a TCP
//! server, as Flink's `SocketTextStreamFunction`.
//!
//! Non-parallel. When the server closes the connection the source reconnects up to
//! `max_retries` times (−1: forever), 500 ms apart, then ends. Cancellation shuts
//! the socket down, unblocking the read.
//!
//! A checkpoint keeps the number of records read; after a restore the source
//! reconnects and skips that many, so a server that replays its stream to each
//! connection gives exactly-once results (see `FunctionSource::with_replay_offsets`).

use crate::error::ConnectorError;
use runnel_runtime::BoxError;
use runnel_runtime::source_function::{SourceContext, SourceFunction};
use std::io::{BufRead, BufReader};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

const RETRY_DELAY: Duration = Duration::from_millis(500);

/// Reads delimited text from `host:port`.
#[derive(Debug, Clone)]
pub struct SocketTextSource {
    host: String,
    port: u16,
    delimiter: u8,
    max_retries: i64,
}

impl SocketTextSource {
    /// Lines from `host:port`, no reconnection.
    pub fn new(host: &str, port: u16) -> Self {
        SocketTextSource {
            host: host.to_string(),
            port,
            delimiter: b'\n',
            max_retries: 0,
        }
    }

    /// Splits records at `delimiter` instead of newline.
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Reconnects up to `max_retries` times after the server closes (−1: forever).
    pub fn with_max_retries(mut self, max_retries: i64) -> Self {
        self.max_retries = max_retries;
        self
    }

    fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    fn read_connection(
        &self,
        stream: TcpStream,
        ctx: &mut SourceContext<String>,
    ) -> Result<(), BoxError> {
        let address = self.address();
        let mut reader = BufReader::new(stream);
        let mut record = Vec::new();
        while ctx.is_running() {
            record.clear();
            let n = match reader.read_until(self.delimiter, &mut record) {
                Ok(n) => n,
                Err(_) if !ctx.is_running() => return Ok(()),
                Err(source) => return Err(ConnectorError::Socket { address, source }.into()),
            };
            if n == 0 {
                return Ok(());
            }
            if record.last() == Some(&self.delimiter) {
                record.pop();
            }
            if self.delimiter == b'\n' && record.last() == Some(&b'\r') {
                record.pop();
            }
            ctx.collect(String::from_utf8_lossy(&record).into_owned());
        }
        Ok(())
    }
}

impl SourceFunction<String> for SocketTextSource {
    fn run(&mut self, ctx: &mut SourceContext<String>) -> Result<(), BoxError> {
        let address = self.address();
        let mut attempt = 0i64;
        while ctx.is_running() {
            let stream = TcpStream::connect(&address).map_err(|source| ConnectorError::Socket {
                address: address.clone(),
                source,
            })?;
            let closer = stream
                .try_clone()
                .map_err(|source| ConnectorError::Socket {
                    address: address.clone(),
                    source,
                })?;
            ctx.on_cancel(move || {
                let _ = closer.shutdown(Shutdown::Both);
            });
            self.read_connection(stream, ctx)?;
            attempt += 1;
            if !ctx.is_running() || (self.max_retries >= 0 && attempt > self.max_retries) {
                break;
            }
            log::info!("socket {address} closed; reconnecting (attempt {attempt})");
            std::thread::sleep(RETRY_DELAY);
        }
        Ok(())
    }
}
