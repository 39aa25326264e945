//! The ids the REST API shows: 32 lower-case hex digits, as Flink's.

use runnel_runtime::status::VertexStatus;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

/// The REST id of a job vertex: 32 hex digits derived from its index in the
/// job graph and its name, so the same job shows the same ids on every run (as
/// Flink's vertex ids, which hash the operators).
///
/// ```
/// # use runnel_runtime::status::VertexStatus;
/// # fn show(v: &VertexStatus) {
/// let id = runnel_jobmanager::vertex_id(v);
/// assert_eq!(id.len(), 32);
/// # }
/// ```
pub fn vertex_id(vertex: &VertexStatus) -> String {
    let index = vertex.id.index() as u64;
    let high = fnv1a(0xcbf2_9ce4_8422_2325, index, &vertex.name);
    let low = fnv1a(0x6c62_272e_07bb_0142, index, &vertex.name);
    format!("{high:016x}{low:016x}")
}

/// FNV-1a over the index's bytes and the name's, from `seed`.
fn fnv1a(seed: u64, index: u64, name: &str) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    index
        .to_le_bytes()
        .iter()
        .chain(name.as_bytes())
        .fold(seed, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

/// A fresh random id of 32 hex digits (savepoint request ids). Not for secrets:
/// it is unique and hard to guess, nothing more.
pub(crate) fn random_id() -> String {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let half = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u64(salt);
        h.finish()
    };
    format!("{:016x}{:016x}", half(1), half(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_and_random_ones_differ() {
        let a = random_id();
        let b = random_id();
        assert_ne!(a, b);
        for id in [a, b] {
            assert_eq!(id.len(), 32);
            assert!(
                id.bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
        }
        assert_ne!(fnv1a(1, 0, "Map"), fnv1a(1, 1, "Map"));
        assert_ne!(fnv1a(1, 0, "Map"), fnv1a(1, 0, "Sink"));
    }
}
