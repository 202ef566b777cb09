//! BLAKE2b-512, unkeyed for the main key and keyed for subkeys (§5).
//!
//! Owns: the subkey message layout ("SPOKE" context, u64le id). Must never
//! use libsodium's `crypto_kdf` layout, which the reference does not.

use blake2::digest::{FixedOutput, Mac, Update};
use blake2::{Blake2b512, Blake2bMac512, Digest};

/// An unkeyed BLAKE2b-512 hasher, fed with the transcript.
pub(crate) struct Transcript(Blake2b512);

impl Transcript {
    pub(crate) fn new() -> Self {
        Transcript(Blake2b512::new())
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) {
        Digest::update(&mut self.0, bytes);
    }

    pub(crate) fn finish(self) -> [u8; 64] {
        self.0.finalize().into()
    }
}

/// `sub(i) = BLAKE2b-512(key = main, "SPOKE" || 11 zeros || u64le(i) || 8 zeros)`.
pub(crate) fn subkey(main: &[u8; 64], id: u64) -> [u8; 64] {
    let mut mac = Blake2bMac512::new_from_slice(main).expect("a 64-byte BLAKE2b key is valid");
    let mut msg = [0u8; 32];
    msg[..5].copy_from_slice(b"SPOKE");
    msg[16..24].copy_from_slice(&id.to_le_bytes());
    Update::update(&mut mac, &msg);
    mac.finalize_fixed().into()
}
