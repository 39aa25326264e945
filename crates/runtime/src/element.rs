//! The wire format of stream elements inside network buffers.
//!
//! Each element starts with a tag byte: a record without timestamp, a record with
//! an 8-byte little-endian timestamp, or a watermark. Records follow as
//! [`RecordCodec`] bytes. Elements never span buffers.

use runnel_types::{CodecError, EventTime, RecordCodec, StreamRecord, Watermark, WatermarkStatus};
use serde::Serialize;
use serde::de::DeserializeOwned;

const TAG_RECORD: u8 = 0;
const TAG_RECORD_WITH_TIMESTAMP: u8 = 1;
const TAG_WATERMARK: u8 = 2;
const TAG_WATERMARK_STATUS: u8 = 3;

/// A decoded element.
#[derive(Debug, PartialEq)]
pub(crate) enum Element<T> {
    Record(StreamRecord<T>),
    Watermark(Watermark),
    WatermarkStatus(WatermarkStatus),
}

/// Appends a record; on failure `buf` is left as it was.
#[inline]
pub(crate) fn encode_record<T: Serialize>(
    record: &StreamRecord<T>,
    buf: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let start = buf.len();
    match record.timestamp {
        None => buf.push(TAG_RECORD),
        Some(ts) => {
            buf.push(TAG_RECORD_WITH_TIMESTAMP);
            buf.extend_from_slice(&ts.millis().to_le_bytes());
        }
    }
    RecordCodec::encode_into(&record.value, buf).inspect_err(|_| buf.truncate(start))
}

/// Appends a watermark.
pub(crate) fn encode_watermark(watermark: Watermark, buf: &mut Vec<u8>) {
    buf.push(TAG_WATERMARK);
    buf.extend_from_slice(&watermark.0.to_le_bytes());
}

/// Appends a watermark status.
pub(crate) fn encode_watermark_status(status: WatermarkStatus, buf: &mut Vec<u8>) {
    buf.push(TAG_WATERMARK_STATUS);
    buf.push(u8::from(status.is_idle()));
}

fn read_i64(buf: &[u8], pos: &mut usize) -> Result<i64, CodecError> {
    let bytes = buf.get(*pos..*pos + 8).ok_or_else(|| CodecError::Decode {
        type_name: "timestamp",
        message: "buffer ends inside an element".to_string(),
    })?;
    *pos += 8;
    Ok(i64::from_le_bytes(bytes.try_into().expect("8 bytes")))
}

/// Decodes the element at `*pos` and advances `pos` past it. Always inlined:
/// returned through memory, the record's reload would wait on store forwarding.
#[inline(always)]
pub(crate) fn decode_element<T: DeserializeOwned>(
    buf: &[u8],
    pos: &mut usize,
) -> Result<Element<T>, CodecError> {
    let tag = buf[*pos];
    *pos += 1;
    let timestamp = match tag {
        TAG_RECORD => None,
        TAG_RECORD_WITH_TIMESTAMP => Some(EventTime::from_millis(read_i64(buf, pos)?)),
        TAG_WATERMARK => return Ok(Element::Watermark(Watermark(read_i64(buf, pos)?))),
        TAG_WATERMARK_STATUS => {
            let idle = *buf.get(*pos).ok_or_else(|| CodecError::Decode {
                type_name: "watermark status",
                message: "buffer ends inside an element".to_string(),
            })?;
            *pos += 1;
            let status = if idle == 1 {
                WatermarkStatus::Idle
            } else {
                WatermarkStatus::Active
            };
            return Ok(Element::WatermarkStatus(status));
        }
        other => {
            return Err(CodecError::Decode {
                type_name: std::any::type_name::<T>(),
                message: format!("unknown element tag {other}"),
            });
        }
    };
    let (value, used) = RecordCodec::decode_prefix::<T>(&buf[*pos..])?;
    *pos += used;
    Ok(Element::Record(StreamRecord { value, timestamp }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_round_trip_in_order() {
        let mut buf = Vec::new();
        encode_record(&StreamRecord::new("a".to_string()), &mut buf).unwrap();
        encode_watermark(Watermark(-5), &mut buf);
        encode_watermark_status(WatermarkStatus::Idle, &mut buf);
        encode_record(
            &StreamRecord::with_timestamp("b".to_string(), EventTime::from_millis(7)),
            &mut buf,
        )
        .unwrap();
        let mut pos = 0;
        let mut got = Vec::new();
        while pos < buf.len() {
            got.push(decode_element::<String>(&buf, &mut pos).unwrap());
        }
        assert_eq!(
            got,
            vec![
                Element::Record(StreamRecord::new("a".to_string())),
                Element::Watermark(Watermark(-5)),
                Element::WatermarkStatus(WatermarkStatus::Idle),
                Element::Record(StreamRecord::with_timestamp(
                    "b".to_string(),
                    EventTime::from_millis(7)
                )),
            ]
        );
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        let mut pos = 0;
        assert!(decode_element::<u64>(&[9, 0, 0], &mut pos).is_err());
        let mut pos = 0;
        assert!(decode_element::<u64>(&[1, 0, 0], &mut pos).is_err());
        let mut pos = 0;
        assert!(decode_element::<u64>(&[0, 1], &mut pos).is_err());
    }
}
