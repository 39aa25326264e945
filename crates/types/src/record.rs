//! The envelope every record travels in.

use crate::time::EventTime;

/// A record value together with its optional event-time timestamp
/// (Flink's `StreamRecord`). Records from sources without event time carry none.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecord<T> {
    /// The user's value.
    pub value: T,
    /// The event-time timestamp, if one was assigned.
    pub timestamp: Option<EventTime>,
}

impl<T> StreamRecord<T> {
    /// A record without a timestamp.
    #[inline]
    pub fn new(value: T) -> Self {
        StreamRecord {
            value,
            timestamp: None,
        }
    }

    /// A record with an event-time timestamp.
    #[inline]
    pub fn with_timestamp(value: T, timestamp: EventTime) -> Self {
        StreamRecord {
            value,
            timestamp: Some(timestamp),
        }
    }

    /// A new record with `value` and this record's timestamp.
    #[inline]
    pub fn replace<U>(&self, value: U) -> StreamRecord<U> {
        StreamRecord {
            value,
            timestamp: self.timestamp,
        }
    }
}
