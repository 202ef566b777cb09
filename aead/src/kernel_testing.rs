//! Test support shared by the AEAD kernels' tests and benchmarks
//! (`chacha`, `gcm`, `simd`): hex input, a replayable generator, a
//! throughput timer, and the differential test of an AEAD against its
//! RustCrypto reference. Compiled for tests only.

use std::hint::black_box;
use std::time::Instant;

use aes_gcm::aead as aead06;
use chacha20poly1305::aead as aead05;

/// The bytes of a hex string (whitespace ignored).
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    hex::decode(s).expect("valid hex")
}

/// A fixed-size array from a hex string.
pub(crate) fn arr<const N: usize>(s: &str) -> [u8; N] {
    unhex(s).try_into().expect("right length")
}

/// A small deterministic generator (splitmix64), so failures replay.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next 64 pseudo-random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `n` pseudo-random bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// `N` pseudo-random bytes.
    pub(crate) fn array<const N: usize>(&mut self) -> [u8; N] {
        core::array::from_fn(|_| self.next() as u8)
    }
}

/// Best MB/s (10^6 B/s) over 9 runs of `iters` calls of `f` on `len`-byte
/// buffers, after a warm-up (the best run is the one least disturbed by
/// other load on the machine).
pub(crate) fn best_mbps(len: usize, iters: usize, mut f: impl FnMut(&mut [u8])) -> f64 {
    let mut buf = vec![0x5au8; len];
    for _ in 0..iters / 8 + 1 {
        f(&mut buf);
    }
    let mut runs: Vec<f64> = (0..9)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f(black_box(&mut buf));
            }
            (iters * len) as f64 / t.elapsed().as_secs_f64() / 1e6
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[8]
}

/// An AEAD under test (ours or a RustCrypto reference), whichever `aead`
/// trait version it implements: a 32-byte key, a 12-byte nonce, in-place
/// sealing with a detached 16-byte tag.
pub(crate) trait DetachedAead: Sized {
    /// The AEAD under `key`.
    fn with_key(key: &[u8; 32]) -> Self;

    /// Encrypts `buf` in place and returns the tag.
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16];

    /// Decrypts `buf` in place if `tag` is right; whether it was.
    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8; 16]) -> bool;
}

/// An AEAD with the `aead` 0.5 traits (`ChaCha20Poly1305`, ours or the
/// `chacha20poly1305` crate's), under test. [`Aead06`] is the same for
/// the 0.6 traits: the trait versions differ in their in-place methods.
pub(crate) struct Aead05<T>(T);

impl<T> DetachedAead for Aead05<T>
where
    T: aead05::KeyInit<KeySize = aead05::consts::U32>
        + aead05::AeadInPlace<NonceSize = aead05::consts::U12, TagSize = aead05::consts::U16>,
{
    fn with_key(key: &[u8; 32]) -> Self {
        Self(T::new(key.into()))
    }

    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
        let tag = self.0.encrypt_in_place_detached(nonce.into(), aad, buf);
        tag.expect("seal").into()
    }

    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8; 16]) -> bool {
        let opened = (self.0).decrypt_in_place_detached(nonce.into(), aad, buf, tag.into());
        opened.is_ok()
    }
}

/// An AEAD with the `aead` 0.6 traits (`Aes256Gcm`, ours or the `aes-gcm`
/// crate's), under test; see [`Aead05`].
pub(crate) struct Aead06<T>(T);

impl<T> DetachedAead for Aead06<T>
where
    T: aead06::KeyInit<KeySize = aead06::consts::U32>
        + aead06::AeadInOut<NonceSize = aead06::consts::U12, TagSize = aead06::consts::U16>,
{
    fn with_key(key: &[u8; 32]) -> Self {
        Self(T::new(key.into()))
    }

    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
        let tag = self.0.encrypt_inout_detached(nonce.into(), aad, buf.into());
        tag.expect("seal").into()
    }

    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8; 16]) -> bool {
        let opened = (self.0).decrypt_inout_detached(nonce.into(), aad, buf.into(), tag.into());
        opened.is_ok()
    }
}

/// Seals with `Ours` and `Theirs`, checks they agree byte for byte, that
/// ours opens the result, and that every kind of tampering (tag,
/// ciphertext, associated data, nonce, or a byte moved between the
/// associated data and the ciphertext) is refused with the buffer left
/// untouched.
pub(crate) fn differential<Ours: DetachedAead, Theirs: DetachedAead>(
    rng: &mut Rng,
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    plain: &[u8],
) {
    let ours = Ours::with_key(key);
    let len = plain.len();

    let mut ct = plain.to_vec();
    let tag = ours.seal(nonce, aad, &mut ct);
    let mut ct_ref = plain.to_vec();
    let tag_ref = Theirs::with_key(key).seal(nonce, aad, &mut ct_ref);
    assert_eq!(ct, ct_ref, "ciphertext, len {len}, aad {}", aad.len());
    assert_eq!(tag, tag_ref, "tag, len {len}, aad {}", aad.len());

    let mut opened = ct.clone();
    assert!(ours.open(nonce, aad, &mut opened, &tag), "open, len {len}");
    assert_eq!(opened, plain, "open, len {len}");

    let refused = |nonce: &[u8; 12], aad: &[u8], mut buf: Vec<u8>, tag: &[u8; 16], what: &str| {
        let before = buf.clone();
        assert!(
            !ours.open(nonce, aad, &mut buf, tag),
            "{what} accepted, len {len}"
        );
        assert_eq!(buf, before, "buffer touched after a bad {what}, len {len}");
    };

    let mut bad_tag = tag;
    bad_tag[rng.below(16)] ^= 1 << rng.below(8);
    refused(nonce, aad, ct.clone(), &bad_tag, "tag");

    if len > 0 {
        let mut buf = ct.clone();
        buf[rng.below(len)] ^= 1 << rng.below(8);
        refused(nonce, aad, buf, &tag, "ciphertext");
    }
    if !aad.is_empty() {
        let mut bad_aad = aad.to_vec();
        let i = rng.below(aad.len());
        bad_aad[i] ^= 1 << rng.below(8);
        refused(nonce, &bad_aad, ct.clone(), &tag, "aad");
    }
    let mut bad_nonce = *nonce;
    bad_nonce[rng.below(12)] ^= 1 << rng.below(8);
    refused(&bad_nonce, aad, ct.clone(), &tag, "nonce");
    // Moving bytes between the aad and the ciphertext changes the tag.
    let mut longer_aad = aad.to_vec();
    longer_aad.push(0);
    refused(nonce, &longer_aad, ct, &tag, "aad length");
}

/// [`differential`] on a random key and nonce, `aad_len(rng)` random bytes
/// of associated data and `len` random bytes of message (drawn in that
/// order, so that a seed replays).
pub(crate) fn differential_random<Ours: DetachedAead, Theirs: DetachedAead>(
    rng: &mut Rng,
    len: usize,
    aad_len: impl FnOnce(&mut Rng) -> usize,
) {
    let key = rng.array();
    let nonce = rng.array();
    let aad_len = aad_len(rng);
    let aad = rng.bytes(aad_len);
    let plain = rng.bytes(len);
    differential::<Ours, Theirs>(rng, &key, &nonce, &aad, &plain);
}

/// The `Debug` text of `aead`, checked to be `expected` (the type's name
/// and `{ .. }`, which cannot show key bytes).
pub(crate) fn assert_debug_hides_key(aead: &impl core::fmt::Debug, expected: &str) {
    let shown = format!("{aead:?}");
    assert_eq!(shown, expected);
    assert!(shown.ends_with(" { .. }"), "{shown}");
}
