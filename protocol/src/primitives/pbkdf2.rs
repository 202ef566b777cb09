//! The reference's PBKDF2-HMAC-SHA256 variant (`lib/pbkdf2.ml`).
//!
//! Owns: the one deviation from RFC 8018, a little-endian block index
//! (`salt || u32le(i)`), which the wire protocol depends on. Must never be
//! called with an iteration count that was not bounded by the caller.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

type HmacSha256 = Hmac<Sha256>;

/// Fills `out` with the reference's PBKDF2 of `password` and `salt` over
/// `count` iterations. A `count` of 0 is treated as 1 (callers refuse it
/// before this point; the reference raised an exception).
pub(crate) fn pbkdf2_le(password: &[u8], salt: &[u8], count: u32, out: &mut [u8]) {
    let keyed = HmacSha256::new_from_slice(password).expect("HMAC takes keys of any length");
    for (i, block) in out.chunks_mut(32).enumerate() {
        let index = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let mut mac = keyed.clone();
        mac.update(salt);
        mac.update(&index.to_le_bytes());
        let mut u: [u8; 32] = mac.finalize().into_bytes().into();
        let mut acc = u;
        for _ in 1..count {
            let mut mac = keyed.clone();
            mac.update(&u);
            u = mac.finalize().into_bytes().into();
            for (a, b) in acc.iter_mut().zip(u.iter()) {
                *a ^= b;
            }
        }
        block.copy_from_slice(&acc[..block.len()]);
        u.zeroize();
        acc.zeroize();
    }
}
