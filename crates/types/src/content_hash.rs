//! The content hash naming a job binary in the blob store: FNV-1a 128 as
//! 32 lower-case hex digits. Shared by the JobManager (which stores blobs
//! under it) and TaskManagers (which check what they fetched against it).
//! Not cryptographic: it names and dedupes binaries; the REST token
//! authenticates them.

const FNV128_OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const FNV128_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// The FNV-1a 128-bit hash of `bytes`.
pub fn fnv1a_128(bytes: &[u8]) -> u128 {
    bytes.iter().fold(FNV128_OFFSET, |h, b| {
        (h ^ u128::from(*b)).wrapping_mul(FNV128_PRIME)
    })
}

/// The blob key of `bytes`: [`fnv1a_128`] as 32 lower-case hex digits.
///
/// ```
/// use runnel_types::content_hash::blob_key;
///
/// assert_eq!(blob_key(b"a"), "d228cb696f1a8caf78912b704e4a8964");
/// ```
pub fn blob_key(bytes: &[u8]) -> String {
    format!("{:032x}", fnv1a_128(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_128_matches_the_reference_vectors() {
        let table: [(&[u8], &str); 3] = [
            (b"", "6c62272e07bb014262b821756295c58d"),
            (b"a", "d228cb696f1a8caf78912b704e4a8964"),
            (b"foobar", "343e1662793c64bf6f0d3597ba446f18"),
        ];
        for (bytes, hex) in table {
            assert_eq!(blob_key(bytes), hex, "{bytes:?}");
        }
    }
}
