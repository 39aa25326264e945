//! The ids the REST API shows: 32 lower-case hex digits, as Flink's.

use runnel_runtime::status::VertexStatus;
use runnel_types::content_hash::{FNV64_OFFSET, fnv1a_64_extend};
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
    // FNV-1a over the index's bytes and the name's, from two seeds.
    let hash = |seed| {
        let h = fnv1a_64_extend(seed, &index.to_le_bytes());
        fnv1a_64_extend(h, vertex.name.as_bytes())
    };
    let (high, low) = (hash(FNV64_OFFSET), hash(0x6c62_272e_07bb_0142));
    format!("{high:016x}{low:016x}")
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
    }

    #[test]
    fn vertex_ids_are_stable_and_tell_vertices_apart() {
        let job = crate::view::tests::status();
        let ids: Vec<String> = job.vertices.iter().map(vertex_id).collect();
        // FNV-1a of the index and the name: the same on every run and build.
        assert_eq!(ids[1], "0b7f53e270a20af83f74a9f47813d6fb");
        assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
        let mut renamed = job.vertices[1].clone();
        renamed.name.push('!');
        assert_ne!(vertex_id(&renamed), ids[1]);
    }
}
