//! An incremental decoder for `Transfer-Encoding: chunked` bodies (RFC 9112 §7.1),
//! used by the server for request bodies and by the client for responses.
//!
//! It consumes what it can from the bytes it is given and reports how many it
//! took; the caller keeps the rest (the start of a pipelined message). Chunk
//! extensions and trailer fields are read and dropped. The decoded size is
//! checked against a limit *before* a chunk's data is read.

/// Longest chunk-size line or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Largest trailer section accepted.
const MAX_TRAILERS: usize = 16 * 1024;

/// Why a chunked body cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChunkError {
    /// The decoded body would exceed the limit.
    TooLarge,
    /// The framing is broken.
    Malformed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Data(u64),
    DataEnd,
    Trailers(usize),
    Done,
}

/// Decoder state between reads.
#[derive(Debug, Clone)]
pub(crate) struct ChunkedDecoder {
    state: State,
    limit: u64,
    decoded: u64,
}

impl ChunkedDecoder {
    /// A decoder for a body of at most `limit` decoded bytes.
    pub(crate) fn new(limit: u64) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size,
            limit,
            decoded: 0,
        }
    }

    /// Whether the last chunk and the trailers have been read.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input`, appending data to `out`; returns the bytes consumed.
    /// Stops at the end of the body, leaving what follows unconsumed.
    pub(crate) fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ChunkError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            match self.state {
                State::Done => return Ok(pos),
                State::Size => {
                    let Some((line, used)) = take_line(rest)? else {
                        return Ok(pos);
                    };
                    let size = parse_size(line)?;
                    if self.decoded.saturating_add(size) > self.limit {
                        return Err(ChunkError::TooLarge);
                    }
                    self.decoded += size;
                    self.state = if size == 0 {
                        State::Trailers(0)
                    } else {
                        State::Data(size)
                    };
                    pos += used;
                }
                State::Data(remaining) => {
                    if rest.is_empty() {
                        return Ok(pos);
                    }
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(rest.len());
                    out.extend_from_slice(&rest[..n]);
                    pos += n;
                    let left = remaining - n as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                }
                State::DataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        pos += 2;
                        self.state = State::Size;
                    }
                    [b'\n', ..] => {
                        pos += 1;
                        self.state = State::Size;
                    }
                    [] | [b'\r'] => return Ok(pos),
                    _ => return Err(malformed("chunk data is not followed by CRLF")),
                },
                State::Trailers(seen) => {
                    let Some((line, used)) = take_line(rest)? else {
                        return Ok(pos);
                    };
                    pos += used;
                    if line.is_empty() {
                        self.state = State::Done;
                    } else if seen + used > MAX_TRAILERS {
                        return Err(malformed("trailer section too large"));
                    } else {
                        self.state = State::Trailers(seen + used);
                    }
                }
            }
        }
    }
}

fn malformed(reason: &str) -> ChunkError {
    ChunkError::Malformed(reason.to_owned())
}

/// The next line (without CRLF or LF) and the bytes it used, if complete.
fn take_line(input: &[u8]) -> Result<Option<(&[u8], usize)>, ChunkError> {
    match input.iter().position(|&b| b == b'\n') {
        Some(nl) if nl <= MAX_LINE => {
            let line = &input[..nl];
            Ok(Some((line.strip_suffix(b"\r").unwrap_or(line), nl + 1)))
        }
        Some(_) => Err(malformed("chunk line too long")),
        None if input.len() > MAX_LINE => Err(malformed("chunk line too long")),
        None => Ok(None),
    }
}

/// `1a;name=value` → 26. Only hex digits, at most 16 of them.
fn parse_size(line: &[u8]) -> Result<u64, ChunkError> {
    let size = line.split(|&b| b == b';').next().unwrap_or_default();
    let size = size.trim_ascii_end();
    if size.is_empty() || size.len() > 16 || !size.iter().all(u8::is_ascii_hexdigit) {
        return Err(malformed("invalid chunk size"));
    }
    let text = std::str::from_utf8(size).map_err(|_| malformed("invalid chunk size"))?;
    u64::from_str_radix(text, 16).map_err(|_| malformed("invalid chunk size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], limit: u64) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut d = ChunkedDecoder::new(limit);
        let mut out = Vec::new();
        let used = d.decode(input, &mut out)?;
        assert!(d.is_done(), "not done after {used} bytes");
        Ok((out, used))
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers() {
        let wire = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let (body, used) = decode_all(wire, 100).unwrap();
        assert_eq!(body, b"Wikipedia");
        assert_eq!(&wire[used..], b"NEXT");
    }

    #[test]
    fn byte_by_byte_equals_all_at_once() {
        let wire = b"a\r\n0123456789\r\n1\n!\n0\n\n";
        let mut d = ChunkedDecoder::new(100);
        let mut out = Vec::new();
        let mut pending = Vec::new();
        for &b in wire.iter() {
            pending.push(b);
            let used = d.decode(&pending, &mut out).unwrap();
            pending.drain(..used);
        }
        assert!(d.is_done());
        assert!(pending.is_empty());
        assert_eq!(out, b"0123456789!");
    }

    #[test]
    fn limit_is_checked_before_the_data_arrives() {
        let mut d = ChunkedDecoder::new(10);
        let mut out = Vec::new();
        assert_eq!(d.decode(b"8\r\n12345678\r\n", &mut out), Ok(13));
        assert_eq!(d.decode(b"ffff\r\n", &mut out), Err(ChunkError::TooLarge));
        let mut d = ChunkedDecoder::new(u64::MAX);
        assert_eq!(d.decode(b"ffffffffffffffff\r\n", &mut out), Ok(18));
    }

    #[test]
    fn rejects_broken_framing() {
        for bad in [
            &b"zz\r\n"[..],
            b"+5\r\n",
            b"\r\n",
            b"1\r\nab",
            b"11111111111111111\r\n",
        ] {
            let mut d = ChunkedDecoder::new(u64::MAX);
            let mut out = Vec::new();
            assert!(
                matches!(d.decode(bad, &mut out), Err(ChunkError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut d = ChunkedDecoder::new(u64::MAX);
        let long = vec![b'1'; MAX_LINE + 2];
        assert!(d.decode(&long, &mut Vec::new()).is_err());
    }
}
