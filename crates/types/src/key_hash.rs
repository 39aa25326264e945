//! A stable hash of a key's serialized form.
//!
//! Flink hashes keys with Java's `hashCode()`. Rust's `Hash` is neither guaranteed
//! stable across compiler versions nor across processes with random seeds, yet key
//! groups must be identical in every process of a job and across savepoint restores.
//! So keys are hashed by walking their serde representation with a fixed mixing
//! function: no allocation, and a `u64` key costs one mix.

use serde::ser::{self, Serialize};
use std::fmt;

const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// The odd multiplier of the combining step.
const MULTIPLIER: u64 = 0xF135_7AEA_2E62_A9C5;

/// The 32-bit hash of `key` used for key-group assignment.
///
/// Equal keys hash equally in every process and build; the value depends only on
/// the key's serde data model (field values, lengths and enum variant indices).
#[inline]
pub fn key_hash<K: Serialize + ?Sized>(key: &K) -> i32 {
    let mut h = KeyHasher { state: SEED };
    // Serializing into the hasher cannot fail except through a user `Serialize`
    // impl that reports an error; such a key still hashes deterministically by
    // what it wrote so far.
    let _ = key.serialize(&mut h);
    // Key groups scramble this further with murmur (as Flink does a key's
    // `hashCode`), so folding to 32 bits is enough here.
    let s = h.state;
    (s ^ (s >> 32)) as u32 as i32
}

struct KeyHasher {
    state: u64,
}

impl KeyHasher {
    #[inline]
    fn word(&mut self, w: u64) {
        // A bijection of `w` for a given state: distinct one-word keys never
        // collide, and every word moves all higher bits.
        self.state = (self.state.rotate_left(26) ^ w).wrapping_mul(MULTIPLIER);
    }

    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        self.word(b.len() as u64);
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(last));
        }
    }
}

/// The only error a hashing walk can see: one raised by a user `Serialize` impl.
#[derive(Debug)]
struct HashError;

impl fmt::Display for HashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("key serialization failed while hashing")
    }
}

impl std::error::Error for HashError {}

impl ser::Error for HashError {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        HashError
    }
}

type R = Result<(), HashError>;

impl ser::Serializer for &mut KeyHasher {
    type Ok = ();
    type Error = HashError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> R {
        self.word(v as u64);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> R {
        self.word(v as i64 as u64);
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> R {
        self.word(v as i64 as u64);
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> R {
        self.word(v as i64 as u64);
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> R {
        self.word(v as u64);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> R {
        self.word(v as u64);
        self.word((v >> 64) as u64);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> R {
        self.word(v as u64);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> R {
        self.word(v as u64);
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> R {
        self.word(v as u64);
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> R {
        self.word(v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> R {
        self.word(v as u64);
        self.word((v >> 64) as u64);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> R {
        self.word(v.to_bits() as u64);
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> R {
        self.word(v.to_bits());
        Ok(())
    }
    fn serialize_char(self, v: char) -> R {
        self.word(v as u64);
        Ok(())
    }
    fn serialize_str(self, v: &str) -> R {
        self.bytes(v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        self.bytes(v);
        Ok(())
    }
    fn serialize_none(self) -> R {
        self.word(0);
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> R {
        self.word(1);
        value.serialize(self)
    }
    fn serialize_unit(self) -> R {
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> R {
        Ok(())
    }
    fn serialize_unit_variant(self, _name: &'static str, idx: u32, _variant: &'static str) -> R {
        self.word(idx as u64);
        Ok(())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _name: &'static str, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        idx: u32,
        _variant: &'static str,
        value: &T,
    ) -> R {
        self.word(idx as u64);
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, HashError> {
        self.word(len.unwrap_or(usize::MAX) as u64);
        Ok(self)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self, HashError> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self, HashError> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        idx: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self, HashError> {
        self.word(idx as u64);
        Ok(self)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self, HashError> {
        self.word(len.unwrap_or(usize::MAX) as u64);
        Ok(self)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self, HashError> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        idx: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self, HashError> {
        self.word(idx as u64);
        Ok(self)
    }
}

macro_rules! compound {
    ($trait:ident, $method:ident) => {
        impl ser::$trait for &mut KeyHasher {
            type Ok = ();
            type Error = HashError;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> R {
                value.serialize(&mut **self)
            }
            fn end(self) -> R {
                Ok(())
            }
        }
    };
}

compound!(SerializeSeq, serialize_element);
compound!(SerializeTuple, serialize_element);
compound!(SerializeTupleStruct, serialize_field);
compound!(SerializeTupleVariant, serialize_field);

impl ser::SerializeMap for &mut KeyHasher {
    type Ok = ();
    type Error = HashError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> R {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> R {
        value.serialize(&mut **self)
    }
    fn end(self) -> R {
        Ok(())
    }
}

impl ser::SerializeStruct for &mut KeyHasher {
    type Ok = ();
    type Error = HashError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, _key: &'static str, value: &T) -> R {
        value.serialize(&mut **self)
    }
    fn end(self) -> R {
        Ok(())
    }
}

impl ser::SerializeStructVariant for &mut KeyHasher {
    type Ok = ();
    type Error = HashError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, _key: &'static str, value: &T) -> R {
        value.serialize(&mut **self)
    }
    fn end(self) -> R {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equally_and_owned_matches_borrowed() {
        assert_eq!(key_hash("hello"), key_hash(&"hello".to_string()));
        assert_eq!(key_hash(&(1u64, "a")), key_hash(&(1u64, "a".to_string())));
        assert_ne!(key_hash(&1u64), key_hash(&2u64));
        assert_ne!(key_hash("ab"), key_hash("ba"));
        // Length is part of the hash, so zero padding does not collide.
        assert_ne!(key_hash(&[0u8; 0][..]), key_hash(&[0u8][..]));
    }

    #[test]
    fn key_groups_of_sequential_keys_are_balanced() {
        for max_p in [128u32, 1000] {
            let mut counts = vec![0u32; max_p as usize];
            let n = 200 * max_p;
            for k in 0..u64::from(n) {
                counts[crate::assign_to_key_group(&k, max_p).index()] += 1;
            }
            let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(
                *min > 140 && *max < 260,
                "max parallelism {max_p}: groups hold {min}..{max} of 200 on average"
            );
        }
    }

    #[test]
    fn hash_is_pinned() {
        // Key-group assignment must never change between builds: state in a
        // savepoint lives in the key group computed here.
        assert_eq!(key_hash(&42u64), key_hash(&42u64));
        let pinned = [key_hash(&0u64), key_hash(&42u64), key_hash("flink")];
        assert_eq!(pinned, [PINNED_0, PINNED_42, PINNED_FLINK]);
    }

    const PINNED_0: i32 = -277_895_530;
    const PINNED_42: i32 = 284_421_219;
    const PINNED_FLINK: i32 = 526_323_687;
}
