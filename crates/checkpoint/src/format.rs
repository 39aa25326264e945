//! The versioned binary envelope of checkpoint files.
//!
//! Every file starts with a 4-byte magic naming its kind and a version byte;
//! the body is the `bincode` encoding (fixed-width integers) of its struct. A
//! reader accepts every version up to its own and names the file when it
//! cannot: a new version only ever adds a decoder, so old checkpoints and
//! savepoints keep loading (see the fixture tests).
//!
//! Versions: 1, the first; 2 adds the in-flight data of unaligned checkpoints
//! to task state files and the job topology and task files to metadata; 3
//! adds keyed state as backend files (incremental checkpoints, `native.rs`).

use crate::error::CheckpointError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Magic of a task state file.
pub const TASK_STATE_MAGIC: &[u8; 4] = b"RNLT";
/// Magic of a metadata file.
pub const METADATA_MAGIC: &[u8; 4] = b"RNLM";
/// The version this build writes (and the newest it reads).
pub const VERSION: u8 = 3;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_fixed_int_encoding()
}

/// Encodes `value` with its magic and the current version.
pub fn encode<T: Serialize>(magic: &[u8; 4], value: &T) -> Result<Vec<u8>, CheckpointError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(magic);
    out.push(VERSION);
    bincode::serde::encode_into_std_write(value, &mut out, config()).map_err(|e| {
        CheckpointError::Corrupt {
            file: String::from_utf8_lossy(magic).into_owned(),
            message: format!("cannot encode: {e}"),
        }
    })?;
    Ok(out)
}

/// Checks the header of a file written by [`encode`] with `magic` and returns
/// its version and body; `file` names it in errors.
pub fn open<'a>(
    magic: &[u8; 4],
    bytes: &'a [u8],
    file: &str,
) -> Result<(u8, &'a [u8]), CheckpointError> {
    if bytes.len() < 5 || &bytes[..4] != magic {
        return Err(CheckpointError::Corrupt {
            file: file.to_string(),
            message: format!(
                "not a Runnel {} file",
                match magic {
                    TASK_STATE_MAGIC => "task state",
                    METADATA_MAGIC => "checkpoint metadata",
                    _ => "checkpoint",
                }
            ),
        });
    }
    let version = bytes[4];
    if version == 0 || version > VERSION {
        return Err(CheckpointError::UnsupportedVersion {
            file: file.to_string(),
            found: version,
            supported: VERSION,
        });
    }
    Ok((version, &bytes[5..]))
}

/// Decodes a body (all of it) as `T`.
pub fn decode_body<T: DeserializeOwned>(body: &[u8], file: &str) -> Result<T, CheckpointError> {
    let corrupt = |message: String| CheckpointError::Corrupt {
        file: file.to_string(),
        message,
    };
    let (value, used) = bincode::serde::decode_from_slice(body, config())
        .map_err(|e| corrupt(format!("cannot decode: {e}")))?;
    if used != body.len() {
        return Err(corrupt(format!(
            "{} bytes after the end of the content",
            body.len() - used
        )));
    }
    Ok(value)
}

/// Decodes a file of the current version written by [`encode`].
pub fn decode<T: DeserializeOwned>(
    magic: &[u8; 4],
    bytes: &[u8],
    file: &str,
) -> Result<T, CheckpointError> {
    let (_, body) = open(magic, bytes, file)?;
    decode_body(body, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_what_it_cannot_read() {
        let bytes = encode(TASK_STATE_MAGIC, &(1u32, "x".to_string())).unwrap();
        let back: (u32, String) = decode(TASK_STATE_MAGIC, &bytes, "f").unwrap();
        assert_eq!(back, (1, "x".to_string()));

        let err = decode::<(u32, String)>(METADATA_MAGIC, &bytes, "f").unwrap_err();
        assert!(
            err.to_string()
                .contains("not a Runnel checkpoint metadata file"),
            "{err}"
        );

        let mut newer = bytes.clone();
        newer[4] = VERSION + 1;
        let err = decode::<(u32, String)>(TASK_STATE_MAGIC, &newer, "f").unwrap_err();
        assert!(err.to_string().contains("newer than the newest"), "{err}");
        newer[4] = 0;
        let err = decode::<(u32, String)>(TASK_STATE_MAGIC, &newer, "f").unwrap_err();
        assert!(err.to_string().contains("newer than the newest"), "{err}");

        let err = decode::<(u32, String)>(TASK_STATE_MAGIC, &bytes[..7], "f").unwrap_err();
        assert!(err.to_string().starts_with("f: cannot decode"), "{err}");
    }
}
