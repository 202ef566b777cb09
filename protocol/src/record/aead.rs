//! One direction's record protection: the AEAD, its key and nonce base.
//!
//! Owns: `nonce = nonce_base XOR (0^4 || u64be(seq))` and in-place,
//! detached-tag sealing and opening with the three AEADs. Must never copy
//! record bytes, and never outlive its keys (they are wiped on drop).
//!
//! AES-256-GCM implements the aead 0.6 traits (those of `aes-gcm` 0.11):
//! inside wasm it is the simd128 one of [`spoke_aead::gcm`], natively the
//! `aes-gcm` crate. AES-CCM and ChaCha20-Poly1305 implement the aead 0.5
//! traits.

use aes_gcm::aead::{AeadInOut, KeyInit as KeyInit06};
use chacha20poly1305::aead::consts::{U12, U16};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Cipher;
use crate::wire::TAG_LEN;

/// The ChaCha20-Poly1305 implementation used for records: inside wasm, the
/// simd128 one of [`spoke_aead::chacha`] (same aead 0.5 traits, same bytes);
/// natively, the `chacha20poly1305` crate (which has AVX2 backends).
#[cfg(target_arch = "wasm32")]
pub type ChaCha = spoke_aead::chacha::ChaCha20Poly1305;
/// The ChaCha20-Poly1305 implementation used for records: inside wasm, the
/// simd128 one of `spoke_aead::chacha` (same aead 0.5 traits, same bytes);
/// natively, the `chacha20poly1305` crate (which has AVX2 backends).
#[cfg(not(target_arch = "wasm32"))]
pub type ChaCha = chacha20poly1305::ChaCha20Poly1305;
/// The AES-256-GCM implementation used for records: inside wasm, the
/// simd128 one of [`spoke_aead::gcm`] (same aead 0.6 traits, same bytes);
/// natively, the `aes-gcm` crate (which has AES-NI, VAES and CLMUL
/// backends).
#[cfg(target_arch = "wasm32")]
type Gcm = spoke_aead::gcm::Aes256Gcm;
/// The AES-256-GCM implementation used for records: inside wasm, the
/// simd128 one of `spoke_aead::gcm` (same aead 0.6 traits, same bytes);
/// natively, the `aes-gcm` crate (which has AES-NI, VAES and CLMUL
/// backends).
#[cfg(not(target_arch = "wasm32"))]
type Gcm = aes_gcm::Aes256Gcm;
type Ccm16 = ccm::Ccm<aes::Aes256, ccm::consts::U16, ccm::consts::U12>;

enum Algorithm {
    Gcm(Box<Gcm>),
    Ccm(Box<Ccm16>),
    ChaCha(Box<ChaCha>),
}

/// The tag could not be verified.
pub(crate) struct BadTag;

/// The AEAD refused to seal (a length past its limit).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SealRefused;

/// Keyed AEAD plus nonce base for one direction.
pub(crate) struct Protection {
    algorithm: Algorithm,
    nonce_base: [u8; 12],
}

impl Zeroize for Protection {
    fn zeroize(&mut self) {
        self.nonce_base.zeroize();
    }
}

impl Drop for Protection {
    fn drop(&mut self) {
        // The AEAD types wipe their own key schedules on drop.
        self.zeroize();
    }
}

impl ZeroizeOnDrop for Protection {}

impl Protection {
    /// `key = k[0..32)`, `nonce_base = k[32..44)`; bytes 44..64 are unused.
    pub(crate) fn new(cipher: Cipher, k: &[u8; 64]) -> Self {
        // The first 32 bytes of a 64-byte block: cannot fail.
        let key: &[u8; 32] = k.first_chunk().expect("64-byte key block");
        let algorithm = match cipher {
            Cipher::Aes256Gcm => Algorithm::Gcm(Box::new(<Gcm as KeyInit06>::new(key.into()))),
            Cipher::Aes256Ccm => Algorithm::Ccm(Box::new(Ccm16::new(key.into()))),
            Cipher::ChaCha20Poly1305 => Algorithm::ChaCha(Box::new(ChaCha::new(key.into()))),
        };
        let mut nonce_base = [0u8; 12];
        nonce_base.copy_from_slice(&k[32..44]);
        Protection {
            algorithm,
            nonce_base,
        }
    }

    pub(crate) fn nonce(&self, seq: u64) -> [u8; 12] {
        let mut n = self.nonce_base;
        for (a, b) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
            *a ^= b;
        }
        n
    }

    /// Encrypts `buf` in place and returns the tag, or fails (leaving `buf`
    /// to be discarded) when the AEAD refuses the length.
    pub(crate) fn seal(
        &self,
        seq: u64,
        adata: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], SealRefused> {
        let nonce = self.nonce(seq);
        let tag: Option<[u8; TAG_LEN]> = match &self.algorithm {
            Algorithm::Gcm(a) => a
                .encrypt_inout_detached(&nonce.into(), adata, buf.into())
                .ok()
                .map(Into::into),
            Algorithm::Ccm(a) => seal_in_place(&**a, &nonce, adata, buf),
            Algorithm::ChaCha(a) => seal_in_place(&**a, &nonce, adata, buf),
        };
        // Only length limits (far above a record's 65517 bytes) can fail.
        tag.ok_or(SealRefused)
    }

    /// Decrypts `buf` in place if `tag` verifies.
    pub(crate) fn open(
        &self,
        seq: u64,
        adata: &[u8],
        buf: &mut [u8],
        tag: &[u8],
    ) -> Result<(), BadTag> {
        let nonce = self.nonce(seq);
        let Ok(tag) = <&[u8; TAG_LEN]>::try_from(tag) else {
            return Err(BadTag);
        };
        let ok = match &self.algorithm {
            Algorithm::Gcm(a) => a
                .decrypt_inout_detached(&nonce.into(), adata, buf.into(), tag.into())
                .is_ok(),
            Algorithm::Ccm(a) => open_in_place(&**a, &nonce, adata, buf, tag),
            Algorithm::ChaCha(a) => open_in_place(&**a, &nonce, adata, buf, tag),
        };
        if ok { Ok(()) } else { Err(BadTag) }
    }
}

/// Sealing with an aead 0.5 AEAD (AES-CCM, ChaCha20-Poly1305): the tag, or
/// `None` when it refuses the length.
fn seal_in_place<A: AeadInPlace<NonceSize = U12, TagSize = U16>>(
    aead: &A,
    nonce: &[u8; 12],
    adata: &[u8],
    buf: &mut [u8],
) -> Option<[u8; TAG_LEN]> {
    aead.encrypt_in_place_detached(nonce.into(), adata, buf)
        .ok()
        .map(Into::into)
}

/// Opening with an aead 0.5 AEAD: whether `tag` verified.
fn open_in_place<A: AeadInPlace<NonceSize = U12, TagSize = U16>>(
    aead: &A,
    nonce: &[u8; 12],
    adata: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> bool {
    aead.decrypt_in_place_detached(nonce.into(), adata, buf, tag.into())
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::wiped_on_drop;

    #[test]
    fn keys_are_wiped_on_drop() {
        wiped_on_drop::<Protection>();
        wiped_on_drop::<ChaCha>();
        wiped_on_drop::<aes::Aes256>();
        wiped_on_drop::<Gcm>();
        wiped_on_drop::<aes_gcm::Aes256Gcm>();
    }

    #[test]
    fn each_cipher_opens_what_it_sealed_and_refuses_a_bad_or_short_tag() {
        let k = [7u8; 64];
        for cipher in [
            Cipher::Aes256Gcm,
            Cipher::Aes256Ccm,
            Cipher::ChaCha20Poly1305,
        ] {
            let p = Protection::new(cipher, &k);
            let plain = b"attack at dawn, or a bit later".to_vec();
            let mut sealed = plain.clone();
            let tag = p.seal(9, b"ad", &mut sealed).unwrap();
            assert_ne!(sealed, plain, "{cipher:?}");
            let mut flipped = tag;
            flipped[15] ^= 1;
            let refusals: [(u64, &[u8], &[u8]); 4] = [
                (9, b"ad", &flipped),
                (9, b"ad", &tag[..15]),
                (9, b"ae", &tag),
                (10, b"ad", &tag),
            ];
            for (seq, adata, tag) in refusals {
                let mut buf = sealed.clone();
                assert!(p.open(seq, adata, &mut buf, tag).is_err(), "{cipher:?}");
                // The crates differ (CCM wipes, GCM leaves the ciphertext);
                // none hands out the plaintext of a refused record.
                assert_ne!(buf, plain, "{cipher:?}");
            }
            let mut buf = sealed;
            assert!(p.open(9, b"ad", &mut buf, &tag).is_ok(), "{cipher:?}");
            assert_eq!(buf, plain, "{cipher:?}");
        }
    }

    #[test]
    fn nonce_is_base_xor_big_endian_sequence() {
        let mut k = [0u8; 64];
        k[32..44].copy_from_slice(&[0xff; 12]);
        let p = Protection::new(Cipher::Aes256Gcm, &k);
        let n = p.nonce(0x0102_0304_0506_0708);
        assert_eq!(
            n,
            [
                0xff, 0xff, 0xff, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7
            ]
        );
    }

    #[test]
    fn a_length_the_aead_refuses_is_an_error_never_a_record() {
        // AES-CCM with a 12-byte nonce counts the length in 3 bytes: it
        // cannot seal 2^24 bytes or more.
        let p = Protection::new(Cipher::Aes256Ccm, &[7u8; 64]);
        let mut big = vec![0u8; 1 << 24];
        assert_eq!(p.seal(0, b"", &mut big), Err(SealRefused));
        let mut fits = vec![0u8; (1 << 24) - 1];
        assert!(p.seal(0, b"", &mut fits).is_ok());
    }
}
