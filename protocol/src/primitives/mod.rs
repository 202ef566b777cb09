//! Cryptographic primitives exactly as the reference composes them.
//!
//! Owns: the reference's PBKDF2 variant, the edwards25519 operations with
//! libsodium semantics, BLAKE2b hashing and subkeys, and the shaping of
//! random scalars. Must never do I/O (randomness comes from the caller,
//! see [`crate::randomness`]), and never keep secrets in memory longer than
//! the caller asks.

pub(crate) mod blake2;
pub(crate) mod ed25519;
#[cfg(test)]
mod from_uniform_matches_libsodium;
pub(crate) mod pbkdf2;
#[cfg(test)]
mod reference_vectors;

use zeroize::Zeroizing;

/// `Spoke.random_scalar`'s shaping of 32 random bytes: `b[0] &= 248`,
/// `b[31] &= 127` (no bit 254). `None` if the result is all zero (draw again).
pub(crate) fn shape_scalar(raw: &[u8; 32]) -> Option<Zeroizing<[u8; 32]>> {
    let mut b = Zeroizing::new(*raw);
    b[0] &= 248;
    b[31] &= 127;
    if b.iter().all(|&x| x == 0) {
        None
    } else {
        Some(b)
    }
}
