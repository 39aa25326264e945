//! The byte format of one state's entries in one key group, shared by backends.
//!
//! `[number of entries: u64 LE]`, then the entries back to back, each encoded with
//! [`RecordCodec`]:
//!
//! | state                  | entry                                  |
//! |------------------------|----------------------------------------|
//! | value, reducing, aggr. | `(K, V, Option<i64>)`                  |
//! | list                   | `(K, Vec<(V, Option<i64>)>)`           |
//! | map                    | `(K, Vec<(UK, UV, Option<i64>)>)`      |
//! | namespaced value       | `(K, N, V)`, one entry per namespace   |
//!
//! The `Option<i64>` is the entry's last refresh time (epoch ms) in a TTL state and
//! `None` otherwise, so a state can gain or lose its TTL across a restore.
//! Namespaced state has no TTL, so its entries carry no time.

use crate::error::StateError;
use runnel_types::RecordCodec;
use serde::Serialize;
use serde::de::DeserializeOwned;

const COUNT_LEN: usize = 8;

/// Appends entries to a snapshot buffer, counting them.
pub(crate) struct EntryWriter<'a> {
    state: &'a str,
    out: &'a mut Vec<u8>,
    count_at: usize,
    count: u64,
}

impl<'a> EntryWriter<'a> {
    pub(crate) fn new(state: &'a str, out: &'a mut Vec<u8>) -> Self {
        let count_at = out.len();
        out.extend_from_slice(&[0; COUNT_LEN]);
        EntryWriter {
            state,
            out,
            count_at,
            count: 0,
        }
    }

    pub(crate) fn write<T: Serialize + ?Sized>(&mut self, entry: &T) -> Result<(), StateError> {
        RecordCodec::encode_into(entry, self.out).map_err(|e| StateError::codec(self.state, e))?;
        self.count += 1;
        Ok(())
    }

    /// Writes the count; returns it.
    pub(crate) fn finish(self) -> usize {
        self.out[self.count_at..self.count_at + COUNT_LEN]
            .copy_from_slice(&self.count.to_le_bytes());
        self.count as usize
    }
}

/// Reads the entries written by an [`EntryWriter`].
pub(crate) struct EntryReader<'a> {
    state: &'a str,
    bytes: &'a [u8],
    remaining: u64,
}

impl<'a> EntryReader<'a> {
    pub(crate) fn new(state: &'a str, bytes: &'a [u8]) -> Result<Self, StateError> {
        let (count, rest) = bytes.split_first_chunk::<COUNT_LEN>().ok_or_else(|| {
            StateError::corrupt(format!("entries of state `{state}` are truncated"))
        })?;
        Ok(EntryReader {
            state,
            bytes: rest,
            remaining: u64::from_le_bytes(*count),
        })
    }

    /// The next entry; `None` after the last, when all bytes must be consumed.
    pub(crate) fn next<T: DeserializeOwned>(&mut self) -> Result<Option<T>, StateError> {
        if self.remaining == 0 {
            if !self.bytes.is_empty() {
                return Err(StateError::corrupt(format!(
                    "{} trailing bytes after the entries of state `{}`",
                    self.bytes.len(),
                    self.state
                )));
            }
            return Ok(None);
        }
        let (entry, used) = RecordCodec::decode_prefix::<T>(self.bytes)
            .map_err(|e| StateError::codec(self.state, e))?;
        self.bytes = &self.bytes[used..];
        self.remaining -= 1;
        Ok(Some(entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_damage_is_reported() {
        let mut buf = vec![0xAA]; // something before, as in a key-group snapshot
        let mut w = EntryWriter::new("s", &mut buf);
        w.write(&(&1u64, "one", None::<i64>)).unwrap();
        w.write(&(&2u64, "two", Some(7i64))).unwrap();
        assert_eq!(w.finish(), 2);
        let mut r = EntryReader::new("s", &buf[1..]).unwrap();
        let mut got = Vec::new();
        while let Some(e) = r.next::<(u64, String, Option<i64>)>().unwrap() {
            got.push(e);
        }
        assert_eq!(got, [(1, "one".into(), None), (2, "two".into(), Some(7))]);

        let mut long = buf[1..].to_vec();
        long.push(0);
        let mut r = EntryReader::new("s", &long).unwrap();
        let err = loop {
            match r.next::<(u64, String, Option<i64>)>() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("trailing byte not seen"),
                Err(e) => break e,
            }
        };
        assert!(err.to_string().contains("1 trailing bytes"), "{err}");
        assert!(EntryReader::new("s", &[1, 2]).is_err());
    }
}
