//! Record-layer constructors for the fuzz targets in `fuzz/` (feature
//! `fuzzing`, which only that crate enables).
//!
//! Owns: building a sealer and an opener from a raw 64-byte key, without a
//! handshake, so a fuzzer can reach the record parser at full speed. Must
//! never be enabled in a normal build: real keys only come from handshakes.

use super::{Cipher, Opener, Sealer, Version};

/// A sealer for `key` (as `k0`/`k1` of a session).
pub fn sealer(version: Version, cipher: Cipher, key: &[u8; 64]) -> Sealer {
    Sealer::new(version, cipher, key)
}

/// An opener for `key` (as `k0`/`k1` of a session).
pub fn opener(version: Version, cipher: Cipher, key: &[u8; 64]) -> Opener {
    Opener::new(version, cipher, key, Vec::new())
}
