//! Stable content hashes (FNV-1a), the same in every process and build:
//! the blob key naming a job binary in the blob store (FNV-1a 128 as 32
//! lower-case hex digits; the JobManager stores blobs under it, TaskManagers
//! check what they fetched against it) and the 64-bit fingerprints of plans
//! and ids. Not cryptographic: they name and dedupe; the REST token
//! authenticates.

/// FNV-1a 64's offset basis: where [`fnv1a_64_extend`] starts.
pub const FNV64_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV64_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Continues the FNV-1a 64-bit hash `h` over `bytes` (start from
/// [`FNV64_OFFSET`], or another seed for an independent hash).
pub fn fnv1a_64_extend(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(FNV64_PRIME))
}

/// The FNV-1a 64-bit hash of `bytes`.
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    fnv1a_64_extend(FNV64_OFFSET, bytes)
}

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

    #[test]
    fn fnv1a_64_matches_the_reference_vectors_and_extends() {
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(
            fnv1a_64_extend(fnv1a_64(b"foo"), b"bar"),
            fnv1a_64(b"foobar")
        );
    }
}
