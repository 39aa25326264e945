//! The compact binary encoding of records (B6): serde + bincode, no reflection.
//!
//! Used for every value that leaves its task (network buffers, in-process channels
//! between tasks) and, later, for state snapshots. Integers use little-endian fixed
//! width: decoding is branch-light and the layout of a record is predictable.

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

type Config = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Fixint,
    bincode::config::NoLimit,
>;

const CONFIG: Config = bincode::config::standard().with_fixed_int_encoding();

/// A failure to encode or decode a value.
#[derive(Debug, Error)]
pub enum CodecError {
    /// The value's `Serialize` implementation failed.
    #[error("cannot encode {type_name}: {message}")]
    Encode {
        /// The Rust type being encoded.
        type_name: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The bytes do not decode as the expected type (corrupt data or a type
    /// mismatch between writer and reader).
    #[error("cannot decode {type_name}: {message}")]
    Decode {
        /// The Rust type being decoded.
        type_name: &'static str,
        /// What went wrong.
        message: String,
    },
}

/// Encodes and decodes values in Runnel's binary record format.
pub struct RecordCodec;

impl RecordCodec {
    /// Appends the encoding of `value` to `buf`.
    #[inline]
    pub fn encode_into<T: Serialize + ?Sized>(
        value: &T,
        buf: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        bincode::serde::encode_into_std_write(value, buf, CONFIG)
            .map(|_| ())
            .map_err(|e| CodecError::Encode {
                type_name: std::any::type_name::<T>(),
                message: e.to_string(),
            })
    }

    /// Encodes `value` into a fresh vector.
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
        let mut buf = Vec::new();
        Self::encode_into(value, &mut buf)?;
        Ok(buf)
    }

    /// Decodes one value from the front of `bytes`, returning it and the number of
    /// bytes consumed.
    #[inline]
    pub fn decode_prefix<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, usize), CodecError> {
        bincode::serde::decode_from_slice(bytes, CONFIG).map_err(|e| CodecError::Decode {
            type_name: std::any::type_name::<T>(),
            message: e.to_string(),
        })
    }

    /// Decodes a value that must occupy all of `bytes`.
    pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
        let (v, used) = Self::decode_prefix(bytes)?;
        if used != bytes.len() {
            return Err(CodecError::Decode {
                type_name: std::any::type_name::<T>(),
                message: format!("{} trailing bytes", bytes.len() - used),
            });
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Bid {
        auction: u64,
        bidder: u64,
        price: u64,
        channel: u8,
        ts: i64,
        note: Option<String>,
    }

    #[test]
    fn round_trips_records_back_to_back() {
        let a = Bid {
            auction: 1,
            bidder: 2,
            price: 3,
            channel: 0,
            ts: -5,
            note: None,
        };
        let b = Bid {
            note: Some("hi".into()),
            ..a.clone()
        };
        let mut buf = Vec::new();
        RecordCodec::encode_into(&a, &mut buf).unwrap();
        RecordCodec::encode_into(&b, &mut buf).unwrap();
        let (a2, n) = RecordCodec::decode_prefix::<Bid>(&buf).unwrap();
        let (b2, m) = RecordCodec::decode_prefix::<Bid>(&buf[n..]).unwrap();
        assert_eq!((a2, b2), (a, b));
        assert_eq!(n + m, buf.len());
    }

    #[test]
    fn decode_errors_name_the_type() {
        let err = RecordCodec::decode::<Bid>(&[1, 2, 3]).unwrap_err();
        assert!(err.to_string().contains("Bid"), "{err}");
        let err = RecordCodec::decode::<u8>(&[1, 2]).unwrap_err();
        assert!(err.to_string().contains("trailing"), "{err}");
    }
}
