//! AES-256-GCM (NIST SP 800-38D with 96-bit nonces and 128-bit tags)
//! written for wasm simd128.
//!
//! Owns: [`Aes256Gcm`], a drop-in for the `aes-gcm` crate's type (same
//! `aead` 0.6 traits, same results byte for byte) that is fast inside wasm
//! (about 3x the crate under wasmtime on x86-64: 300 MB/s sealing or
//! opening 64 KiB records). AES-256 is bitsliced ("fixsliced") over eight
//! blocks per batch, two batches at a time, with the key schedule sliced
//! once per key; GHASH is computed as POLYVAL from carry-less products
//! built of `i64x2.mul` ("multiplication with holes"), eight blocks per
//! reduction against precomputed powers of H. Sealing encrypts and hashes
//! 256 bytes at a time, while they are in cache; opening hashes the whole
//! ciphertext first and decrypts only once the tag has verified. On
//! `wasm32` + `simd128` the kernels use `core::arch::wasm32` (through the
//! crate's `simd::V128`); elsewhere the very same kernels run on that
//! type's portable back end (for testing; native production code keeps the
//! crate, which has AES-NI and CLMUL backends).
//! Must never: branch on or index by secrets, release plaintext before the
//! tag is verified, touch the buffer when a tag is wrong, or print the key.

mod aes;
mod ghash;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;

use aes_gcm::aead::consts::{U12, U16, U32};
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{
    AeadCore, AeadInOut, Error, Key, KeyInit, KeySizeUser, Nonce, Tag, TagPosition,
};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use self::aes::{Aes256, BATCH, BLOCK, Ctr, LANES};
use self::ghash::{Ghash, GhashKey};
use crate::simd::V128;

/// Longest plaintext, as in the `aes-gcm` crate: the 32-bit block counter
/// starts at 2 (block 1 masks the tag).
const P_MAX: u64 = (1 << 36) - 32;

/// Longest associated data, as in the `aes-gcm` crate.
const A_MAX: u64 = (1 << 61) - 1;

/// AES-256-GCM with a 32-byte key, 12-byte nonce and 16-byte tag. The key
/// schedule and the powers of H are zeroized on drop and never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Aes256Gcm {
    aes: Aes256,
    ghash: GhashKey,
}

debug_without_key!(Aes256Gcm);

impl KeySizeUser for Aes256Gcm {
    type KeySize = U32;
}

impl KeyInit for Aes256Gcm {
    fn new(key: &Key<Self>) -> Self {
        let aes = Aes256::new(key.as_ref());
        let mut h = [[0u8; BLOCK]; LANES];
        aes.encrypt_blocks(&mut h);
        let ghash = GhashKey::new(&h[0]);
        h.zeroize();
        Self { aes, ghash }
    }
}

impl AeadCore for Aes256Gcm {
    type NonceSize = U12;
    type TagSize = U16;
    const TAG_POSITION: TagPosition = TagPosition::Postfix;
}

/// Bytes of message under the first batch: its counters are 0..8, of which
/// 0 is unused, 1 masks the tag and 2..8 encrypt the first six blocks.
/// Later batches are whole (counters `8k .. 8k + 8`).
const FIRST: usize = BATCH - 2 * BLOCK;

/// Bytes of message under the first two batches (counters 0..16).
const HEAD: usize = FIRST + BATCH;

/// The keystream of the first two batches (one only for messages of up to
/// [`FIRST`] bytes), computed together and kept while the tag is computed.
/// Zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Head([[u8; BLOCK]; 2 * LANES]);

impl Head {
    /// The head of the keystream for a `len`-byte message.
    fn new(ctr: &Ctr<'_>, len: usize) -> Self {
        let mut head = Self([[0; BLOCK]; 2 * LANES]);
        if len > FIRST {
            let keystream = ctr.batches::<2>(0);
            for (block, v) in head.0.iter_mut().zip(keystream.as_flattened()) {
                v.store(block);
            }
        } else {
            for (block, v) in head.0.iter_mut().zip(ctr.batches::<1>(0)[0]) {
                v.store(block);
            }
        }
        head
    }

    /// The encryption of `nonce || 1`, which masks the tag.
    fn tag_mask(&self) -> &[u8; BLOCK] {
        &self.0[1]
    }

    /// Xors the keystream of message bytes `0..head.len()` (at most
    /// [`HEAD`]) into `head`.
    fn apply(&self, head: &mut [u8]) {
        for (b, k) in head.iter_mut().zip(self.0[2..].as_flattened()) {
            *b ^= k;
        }
    }
}

/// The first counter of the `k`-th batch after the first two
/// (`8 * (k + 2)`).
fn counter(k: usize) -> u32 {
    // Cannot truncate: lengths are bounded by P_MAX, under 2^32 blocks.
    (LANES * (k + 2)) as u32
}

/// Xors keystream batches into `data` (no longer than they are).
#[inline(always)]
fn xor_keystream(data: &mut [u8], keystream: &[[V128; LANES]]) {
    debug_assert!(data.len() <= keystream.len() * BATCH);
    let (blocks, tail) = data.as_chunks_mut::<BLOCK>();
    let mut keystream = keystream.iter().flatten();
    for (block, k) in blocks.iter_mut().zip(&mut keystream) {
        (V128::load(block) ^ *k).store(block);
    }
    if let Some(k) = keystream.next().filter(|_| !tail.is_empty()) {
        let mut tmp = [0u8; BLOCK];
        tmp[..tail.len()].copy_from_slice(tail);
        (V128::load(&tmp) ^ *k).store(&mut tmp);
        tail.copy_from_slice(&tmp[..tail.len()]);
        tmp.zeroize();
    }
}

/// Decrypts `rest`, the message after the first two batches, two batches
/// at a time.
fn decrypt_rest(ctr: &Ctr<'_>, rest: &mut [u8]) {
    let (pairs, tail) = rest.as_chunks_mut::<{ 2 * BATCH }>();
    for (i, pair) in pairs.iter_mut().enumerate() {
        xor_keystream(pair, &ctr.batches::<2>(counter(2 * i)));
    }
    xor_tail(ctr, 2 * pairs.len(), tail);
}

/// Encrypts or decrypts `tail` (under two batches), the last of the
/// message, with batches `k` and `k + 1`.
fn xor_tail(ctr: &Ctr<'_>, k: usize, tail: &mut [u8]) {
    if tail.len() > BATCH {
        xor_keystream(tail, &ctr.batches::<2>(counter(k)));
    } else if !tail.is_empty() {
        xor_keystream(tail, &ctr.batches::<1>(counter(k)));
    }
}

/// Encrypts `rest`, the message after the first two batches, two batches
/// at a time, and hashes each pair of batches while it is in cache.
fn seal_rest(ctr: &Ctr<'_>, ghash: &mut Ghash<'_>, rest: &mut [u8]) {
    let (pairs, tail) = rest.as_chunks_mut::<{ 2 * BATCH }>();
    for (i, pair) in pairs.iter_mut().enumerate() {
        xor_keystream(pair, &ctr.batches::<2>(counter(2 * i)));
        ghash.update_padded(pair);
    }
    xor_tail(ctr, 2 * pairs.len(), tail);
    ghash.update_padded(tail);
}

/// GHASH's last block: the bit lengths of the associated data and of the
/// ciphertext.
fn lengths(aad: usize, text: usize) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    block[..8].copy_from_slice(&(aad as u64 * 8).to_be_bytes());
    block[8..].copy_from_slice(&(text as u64 * 8).to_be_bytes());
    block
}

/// Whether an `aad`-byte associated data and `text`-byte message are within
/// GCM's limits (as the crate checks them).
fn lengths_ok(aad: usize, text: usize) -> bool {
    text as u64 <= P_MAX && aad as u64 <= A_MAX
}

impl Aes256Gcm {
    /// Encrypts `buf` in place and returns the tag.
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; BLOCK] {
        let ctr = Ctr::new(&self.aes, nonce);
        let len = buf.len();
        let first = Head::new(&ctr, len);
        let mut ghash = Ghash::new(&self.ghash);
        ghash.update_padded(aad);
        let (head, rest) = buf.split_at_mut(len.min(HEAD));
        first.apply(head);
        ghash.update_padded(head);
        seal_rest(&ctr, &mut ghash, rest);
        ghash.update_padded(&lengths(aad.len(), len));
        let mut tag = ghash.finalize();
        for (t, m) in tag.iter_mut().zip(first.tag_mask()) {
            *t ^= m;
        }
        tag
    }

    /// The expected tag of ciphertext `buf` (before decrypting it).
    fn expected_tag(&self, first: &Head, aad: &[u8], buf: &[u8]) -> [u8; BLOCK] {
        let mut ghash = Ghash::new(&self.ghash);
        ghash.update_padded(aad);
        ghash.update_padded(buf);
        ghash.update_padded(&lengths(aad.len(), buf.len()));
        let mut tag = ghash.finalize();
        for (t, m) in tag.iter_mut().zip(first.tag_mask()) {
            *t ^= m;
        }
        tag
    }

    /// Decrypts `buf` in place (its tag verified).
    fn decrypt(ctr: &Ctr<'_>, first: &Head, buf: &mut [u8]) {
        let len = buf.len();
        let (head, rest) = buf.split_at_mut(len.min(HEAD));
        first.apply(head);
        decrypt_rest(ctr, rest);
    }
}

impl AeadInOut for Aes256Gcm {
    fn encrypt_inout_detached(
        &self,
        nonce: &Nonce<Self>,
        associated_data: &[u8],
        buffer: InOutBuf<'_, '_, u8>,
    ) -> Result<Tag<Self>, Error> {
        if !lengths_ok(associated_data.len(), buffer.len()) {
            return Err(Error);
        }
        let buf = buffer.into_out_with_copied_in();
        Ok(self.seal(nonce.as_ref(), associated_data, buf).into())
    }

    fn decrypt_inout_detached(
        &self,
        nonce: &Nonce<Self>,
        associated_data: &[u8],
        buffer: InOutBuf<'_, '_, u8>,
        tag: &Tag<Self>,
    ) -> Result<(), Error> {
        if !lengths_ok(associated_data.len(), buffer.len()) {
            return Err(Error);
        }
        let ctr = Ctr::new(&self.aes, nonce.as_ref());
        let first = Head::new(&ctr, buffer.len());
        let expected = self.expected_tag(&first, associated_data, buffer.get_in());
        if bool::from(expected.ct_eq(tag.as_slice())) {
            Self::decrypt(&ctr, &first, buffer.into_out_with_copied_in());
            Ok(())
        } else {
            Err(Error)
        }
    }
}
